#!/usr/bin/env bash
# Installs the newest PyTorch from the Python package index into a virtual
# environment for the side-by-side benchmark (issue 5: quote the faster of
# Debian's python3-torch and the newest), and prints the interpreter to pass:
#   NEW_TORCH=$(bench/newest-torch.sh) bench/throughput.sh 15 "a b c"
# The wheel from the index brings CUDA's libraries (a few GB); it runs on the CPU.
set -euo pipefail
venv=${CHARRNN_BENCH_VENV:-$HOME/.cache/charrnn-bench/torch}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q torch numpy >&2
fi
echo "$venv/bin/python"
