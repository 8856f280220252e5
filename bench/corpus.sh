#!/usr/bin/env bash
# Scaling with the corpus (issue 5): tokenizing speed, start-up on a corpus
# whose token ids are cached, and peak resident memory, for corpora of 10 MB,
# 100 MB and 1 GB made by repeating tiny-shakespeare. A tiny model and 20 steps:
# what is measured is the corpus's cost, not the model's.
# usage: bench/corpus.sh [SIZES_MB]      (default "10 100 1000"; needs 2.2x the
#        largest size free in ${TMPDIR:-/var/tmp})
set -eu
cd "$(dirname "$0")/.."
sizes=${1:-10 100 1000}
src=../shared/corpora/tinyshakespeare.txt
bin=build/charrnn
work=$(mktemp -d "${TMPDIR:-/var/tmp}/crnn-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
export CHARRNN_CACHE_DIR=$work/cache
opts=(--layers 1 --hidden 64 --embed 16 --batch 32 --seq 32 --max-iters 20 --eval-every 1000000
  --val-fraction 0.0001 --test-fraction 0.0001 --threads 2)
# Runs charrnn train; prints "<peak RSS MB> <wall seconds>" and leaves stderr in $work/log.
run() {
  python3 -c 'import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"))
print(round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024), round(time.monotonic() - t, 2))' \
    "$work/log" "$bin" train "$@" -o "$work/m.crnn" "${opts[@]}"
}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); disk: $(df -h "$work" | awk 'NR==2{print $1}')"
printf "%8s | %10s %10s %9s %7s | %12s %9s %7s | %14s\n" corpus "tokenize s" "MB/s" "total s" "RSS MB" \
  "cached open" "total s" "RSS MB" "--no-cache RSS"
for mb in $sizes; do
  f=$work/corpus-$mb.txt
  : >"$f"
  while [ "$(stat -c %s "$f")" -lt $((mb * 1000000)) ]; do cat "$src" >>"$f"; done
  truncate -s $((mb * 1000000)) "$f"
  sync
  rm -rf "$CHARRNN_CACHE_DIR"
  read -r rss1 wall1 < <(run "$f")
  tok=$(sed -n 's/.*tokenized [0-9.]* MB in \([0-9.]*\) s (\([0-9]*\) MB\/s).*/\1 \2/p' "$work/log")
  read -r rss2 wall2 < <(run "$f")
  cached=$(sed -n 's/.*token ids read from .* in \([0-9.]*\) s.*/\1/p' "$work/log")
  read -r rss3 wall3 < <(run "$f" --no-cache)
  read -r toks rate <<<"$tok"
  printf "%6s MB | %10s %10s %9s %7s | %10s s %9s %7s | %14s\n" "$mb" "$toks" "$rate" "$wall1" "$rss1" \
    "$cached" "$wall2" "$rss2" "$rss3"
  rm -f "$f"
done
