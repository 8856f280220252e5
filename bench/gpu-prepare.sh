#!/usr/bin/env bash
# Prepares .gpu/, the folder bench/gpu.sh needs on the lent GPU machine (which
# has nvcc, meson, ninja and PyTorch with cuDNN, but no Debian -dev packages
# and no network): the .deb files of the build's dependencies (apt-get
# download, unpacked there with dpkg -x), the PyTorch reference
# ../shared/bench/gpu_ref.py and the tiny-shakespeare corpus. .gpu/ is kept
# out of git (.git/info/exclude) and travels as the device tool's carry:
#   bench/gpu-prepare.sh   then run  bash bench/gpu.sh  there with carry [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.gpu
mkdir -p "$dir/debs"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.gpu/' >>.git/info/exclude; }
# utf8proc, OpenBLAS (the OpenMP build and what it needs), zlib, pkg-config.
packages=(libutf8proc-dev libutf8proc2 libopenblas-openmp-dev libopenblas0-openmp libopenblas-dev
          libgfortran5 libquadmath0 zlib1g-dev pkgconf pkgconf-bin libpkgconf3)
(cd "$dir/debs" && rm -f ./*.deb && apt-get download "${packages[@]}" >/dev/null)
cp ../shared/bench/gpu_ref.py "$dir/"
cp ../shared/corpora/tinyshakespeare.txt "$dir/"
du -sh "$dir"
