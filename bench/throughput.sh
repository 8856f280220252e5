#!/usr/bin/env bash
# Training and sampling throughput of charrnn against the PyTorch reference
# (../shared/bench/ref_torch_charrnn.py, Debian's python3-torch), side by side on
# the same machine, for the issue's three configurations on tiny-shakespeare:
#   (a) 2x128 E64 B50 T50   (b) 2x512 E64 B50 T50   (c) 3x512 E64 B64 T100
# Also the machine's measured sgemm peak (bench_peak) to put the GFLOP/s in
# proportion. OLD=path/to/charrnn adds a column for another build (before/after).
# usage: bench/throughput.sh [SECONDS] [CONFIGS]   e.g. bench/throughput.sh 30 "a b"
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-30}
configs=${2:-a b c}
corpus=../shared/corpora/tinyshakespeare.txt
ref=../shared/bench/ref_torch_charrnn.py
bin=build/charrnn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $($bin --version); $(date -u +%F)"
peak=$(build/bench/bench_peak 2>/dev/null | sed -n 's/^peak: \([0-9.]*\).*/\1/p')
echo "measured sgemm peak (4096^3, 2 threads): ${peak:-?} GFLOP/s"
flops() { # L H E V: training FLOPs per character
  local L=$1 H=$2 E=$3 V=$4 f=0 l in
  for ((l = 0; l < L; l++)); do in=$([ $l = 0 ] && echo "$E" || echo "$H"); f=$((f + 6 * (in + H) * 4 * H)); done
  echo $((f + 6 * H * V))
}
charrnn_cps() { # binary, options...
  local b=$1
  shift
  "$b" train "$corpus" -o "$work/m.crnn" "$@" --time "$seconds" --eval-every 1000000000 -q 2>"$work/log" >/dev/null
  sed -n 's/.* \([0-9.]*\)k chars\/s.*/\1/p' "$work/log" | head -1 | awk '{printf "%.0f", $1 * 1000}'
}
printf "%-6s %12s %12s %12s %7s %9s %7s | %14s %14s %7s\n" config charrnn "${OLD:+old}" pytorch ratio \
  GFLOP/s "%peak" "sample charrnn" "sample pytorch" ratio
for c in $configs; do
  case $c in
    a) L=2 H=128 B=50 T=50 ;;
    b) L=2 H=512 B=50 T=50 ;;
    c) L=3 H=512 B=64 T=100 ;;
  esac
  opts=(--layers $L --hidden $H --embed 64 --batch $B --seq $T --threads 2)
  mine=$(charrnn_cps "$bin" "${opts[@]}")
  old=""
  [ -n "${OLD:-}" ] && old=$(charrnn_cps "$OLD" "${opts[@]}")
  # Sampling, batch 1, temperature 1, from the model just trained.
  n=20000
  t0=$(date +%s.%N)
  "$bin" sample "$work/m.crnn" -n $n -t 1 --seed 1 >/dev/null
  t1=$(date +%s.%N)
  mysample=$(awk -v n=$n -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}')
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$ref" --data "$corpus" --layers $L --hidden $H \
    --embed 64 --batch $B --seq $T --threads 1 --seconds "$seconds" --no-test --sample-len 2000 \
    2>/dev/null | tail -1 >"$work/ref.json"
  theirs=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["train_chars_per_s"]))' "$work/ref.json")
  theirsample=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["sample_chars_per_s"]))' "$work/ref.json")
  f=$(flops $L $H 64 65)
  gf=$(awk -v c="$mine" -v f="$f" 'BEGIN{printf "%.1f", c * f / 1e9}')
  printf "%-6s %12s %12s %12s %7s %9s %7s | %14s %14s %7s\n" "($c)" "$mine" "$old" "$theirs" \
    "$(awk -v a="$mine" -v b="$theirs" 'BEGIN{printf "%.2fx", a / b}')" "$gf" \
    "$(awk -v g="$gf" -v p="${peak:-0}" 'BEGIN{if (p > 0) printf "%.0f%%", 100 * g / p; else print "?"}')" \
    "$mysample" "$theirsample" "$(awk -v a="$mysample" -v b="$theirsample" 'BEGIN{printf "%.1fx", a / b}')"
done
