#!/usr/bin/env bash
# Writes the snapshot seeds of fuzz/seeds/snapshot again in the current format
# (run after a format change; tests/test_snapshot.c checks that they load):
# "full" and "export16" are whole files behind a 0 byte; "payload_full" and
# "payload_export" are a 1 byte, the header's section count and the inflated
# payload, which the fuzz target frames with the current version.
# Usage: fuzz/make-seeds.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 40); do echo "the quick brown fox jumps over the lazy dog $i"; done > "$work/corpus.txt"
"$build/charrnn" train "$work/corpus.txt" -o "$work/full.crnn" --layers 1 --hidden 6 --embed 3 \
  --batch 2 --seq 5 --max-iters 3 --eval-every 3 --no-cache -q
"$build/charrnn" export "$work/full.crnn" -o "$work/export16.crnn" --dtype fp16 >/dev/null
python3 - "$work" fuzz/seeds/snapshot <<'PY'
import sys, zlib
work, out = sys.argv[1], sys.argv[2]
for name in ("full", "export16"):
    data = open(f"{work}/{name}.crnn", "rb").read()
    open(f"{out}/{name}", "wb").write(b"\0" + data)
    if name in ("full", "export16"):
        payload = zlib.decompress(data[48:])
        target = "payload_full" if name == "full" else "payload_export"
        open(f"{out}/{target}", "wb").write(b"\1" + data[16:20] + payload)
PY
echo "fuzz/seeds/snapshot: written"
