#!/usr/bin/env bash
# Evaluation sized to the work: a run of 30 steps with the default evaluation
# settings on a generated 50 MB corpus against the same run on a 1 MB one
# (same small model, a fresh token cache each, so tokenizing counts too).
# Usage: bench/eval-scale.sh [CHARRNN] [REPS]
# Prints each run's seconds and the ratio of the medians.
set -euo pipefail
bin=${1:-build/charrnn}
reps=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=../shared/corpora/tinyshakespeare.txt
[ -f "$src" ] || src=corpora/fortunes.txt
[ -f "$src" ] || { echo "no corpus to build from" >&2; exit 1; }
# 50 MB: the source repeated, each copy numbered so the text never repeats exactly.
i=0
while [ "$(stat -c %s "$work/big.txt" 2>/dev/null || echo 0)" -lt 50000000 ]; do
  i=$((i + 1)); { echo "== copy $i =="; cat "$src"; } >> "$work/big.txt"
done
head -c 1000000 "$work/big.txt" | iconv -f utf-8 -t utf-8 -c > "$work/small.txt"
model=(--layers 2 --hidden 128 --embed 64 --batch 50 --seq 50 --max-iters 30)
run() { # corpus -> seconds
  rm -rf "$work/cache" "$work/m."*
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" train "$1" -o "$work/m.crnn" "${model[@]}" --cache-dir "$work/cache" -q 2>"$work/log" \
    || { cat "$work/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
small=(); big=()
for r in $(seq 1 "$reps"); do
  small+=("$(run "$work/small.txt")")
  big+=("$(run "$work/big.txt")")
done
ms=$(printf '%s\n' "${small[@]}" | median)
mb=$(printf '%s\n' "${big[@]}" | median)
echo "1 MB: ${small[*]} s (median $ms)"
echo "$(($(stat -c %s "$work/big.txt") / 1000000)) MB: ${big[*]} s (median $mb)"
tail -2 "$work/log" | head -1
echo "ratio: $(echo "scale=2; $mb / $ms" | bc)"
