#!/usr/bin/env bash
# A charrnn model's validation and test loss read the way
# ../shared/bench/ref_torch_charrnn.py reads its splits (contiguous 90/5/5 of
# the corpus; each split as 50 streams of (n-1)/50 predictions, every stream
# from a zero state), so that its figures and charrnn's compare. Each piece
# becomes a file that charrnn eval reads as one stream from a zero state.
#   bench/torch-reading.sh MODEL.crnn [CORPUS] [STREAMS]
set -euo pipefail
model=$1
corpus=${2:-$(dirname "$0")/../../shared/corpora/tinyshakespeare.txt}
streams=${3:-50}
bin=${CHARRNN:-$(dirname "$0")/../build/charrnn}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$corpus" "$streams" "$work" <<'PY'
import os, sys
corpus, B, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(corpus, "rb").read()   # the script reads bytes (characters on ASCII text)
n = len(data)
ntr, nva = int(n * 0.90), int(n * 0.05)
for name, part in (("val", data[ntr:ntr + nva]), ("test", data[ntr + nva:])):
    Ls = (len(part) - 1) // B
    os.makedirs(os.path.join(work, name))
    for b in range(B):
        with open(os.path.join(work, name, "%03d.txt" % b), "wb") as f:
            f.write(part[b * Ls: b * Ls + Ls + 1])
PY
for split in val test; do
  printf '%s: ' "$split"
  "$bin" eval "$model" "$work/$split" --device cpu | tail -1
done
