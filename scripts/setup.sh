#!/usr/bin/env bash
# Sets up charrnn on Debian or Ubuntu: installs the build dependencies that are
# missing (apt-get, as root or through sudo; oneDNN for the LSTM training
# engine, Open MPI for multi-process training, jansson for --json, libmicrohttpd
# for charrnn serve with curl, chromium and selenium for its tests, Python's
# headers and pytest for the Python package), builds the default corpus from
# Debian's fortunes package, and builds charrnn into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc pkg-config meson ninja-build libutf8proc-dev zlib1g-dev libopenblas-openmp-dev
          libdnnl-dev fortunes libopenmpi-dev openmpi-bin libjansson-dev
          python3-dev python3-pytest
          libmicrohttpd-dev curl chromium chromium-driver python3-selenium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/make-corpora.sh

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build
