"""run.py: runs the charrnn Python package's pytest suite for `meson test`.

Exits 77 (SKIP) when pytest is missing, else with pytest's status (non-zero
on any failure, and when no test was collected). It does not build or find
the package: meson sets PYTHONPATH to the built one.
"""
import os
import sys

try:
    import pytest
except ImportError:
    print("python: skipped: pytest is not installed (python3-pytest)", file=sys.stderr)
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
# No cache directory in the source tree; -rs lists what was skipped and why.
sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", here] + sys.argv[1:]))
