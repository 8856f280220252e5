#!/usr/bin/env bash
# Training and sampling throughput of charrnn against the PyTorch reference
# (../shared/bench/ref_torch_charrnn.py, Debian's python3-torch), side by side on
# the same machine, for the issue's three configurations on tiny-shakespeare:
#   (a) 2x128 E64 B50 T50   (b) 2x512 E64 B50 T50   (c) 3x512 E64 B64 T100
# Also the machine's measured sgemm peak (bench_peak) to put the GFLOP/s in
# proportion, charrnn on one thread (the 2-thread speed-up), the peak resident
# memory of both, and the OpenBLAS kernels each ran. When this OpenBLAS does not
# know the CPU (charrnn --version says so), the reference runs with the
# OPENBLAS_CORETYPE that charrnn itself would pick, so the ratio stays honest.
# "own" is charrnn on its own LSTM cells when the default engine is oneDNN;
# "bf16" its bf16 engine (--bf16) on CPUs with AVX512-BF16, with its peak memory.
# OLD=path/to/charrnn adds a column for another build (before/after).
# NEW_TORCH=path/to/python (bench/newest-torch.sh prints it) also runs the newest
# PyTorch from the package index; "pytorch", the ratios and "MB torch" are then
# the faster reference's (its memory is that of the faster trainer).
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
# The peak with the kernels charrnn itself runs: where this OpenBLAS does not
# know the CPU, the ones charrnn restarts with (else the peak is Prescott's).
faster=$("$bin" --version | sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p')
probe=$(env ${faster:+OPENBLAS_CORETYPE=$faster} build/bench/bench_peak 2>/dev/null)
peak=$(sed -n 's/^peak: \([0-9.]*\).*/\1/p' <<<"$probe")
bw_l2=$(sed -n 's/^bandwidth: L2 \([0-9.]*\).*/\1/p' <<<"$probe")
bw_l3=$(sed -n 's/.* L3 \([0-9.]*\) GB.*/\1/p' <<<"$probe")
bw_dram=$(sed -n 's/.* DRAM \([0-9.]*\) GB.*/\1/p' <<<"$probe")
echo "measured sgemm peak (4096^3, 2 threads): ${peak:-?} GFLOP/s; read bandwidth L2 $bw_l2, L3 $bw_l3, DRAM $bw_dram GB/s"
# Batch-1 sampling reads every weight but the embedding table once per character:
# its ceiling is bandwidth / weight bytes, from the level the weights fit in.
sample_limit() { # L H E V
  local L=$1 H=$2 E=$3 V=$4 w=0 l in
  for ((l = 0; l < L; l++)); do in=$([ $l = 0 ] && echo "$E" || echo "$H"); w=$((w + (in + H + 1) * 4 * H)); done
  w=$(( (w + H * V + V) * 4 ))
  awk -v w="$w" -v a="$bw_l2" -v b="$bw_l3" -v c="$bw_dram" \
    'BEGIN{bw = w <= 2e6 ? a : w <= 24e6 ? b : c; printf "%.0f", bw * 1e9 / w}'
}
flops() { # L H E V: training FLOPs per character
  local L=$1 H=$2 E=$3 V=$4 f=0 l in
  for ((l = 0; l < L; l++)); do in=$([ $l = 0 ] && echo "$E" || echo "$H"); f=$((f + 6 * (in + H) * 4 * H)); done
  echo $((f + 6 * H * V))
}
# peak_rss FILE command...: runs the command, writes its peak resident memory (MB) to FILE.
peak_rss() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], check=True)
open(sys.argv[1], "w").write("%d\n" % round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))' "$@"
}
charrnn_cps() { # binary, options... (the peak memory goes to $work/rss)
  local b=$1
  shift
  peak_rss "$work/rss" "$b" train "$corpus" -o "$work/m.crnn" "$@" --time "$seconds" \
    --eval-every 1000000000 -q 2>"$work/log" >/dev/null
  sed -n 's/.* \([0-9.]*\)k chars\/s.*/\1/p' "$work/log" | head -1 | awk '{printf "%.0f", $1 * 1000}'
}
refenv=(OPENBLAS_NUM_THREADS=2)
[ -n "$faster" ] && refenv+=(OPENBLAS_CORETYPE="$faster")
echo "reference: ${refenv[*]} /usr/bin/python3 $ref --threads 1"
printf "%-5s %8s %8s %8s %8s %8s %8s %6s %7s %5s %8s %6s %9s %9s %6s %7s | %8s %8s %6s %8s %5s | %s\n" \
  config charrnn "own" "bf16" "${OLD:+old}" "${NEW_TORCH:+torch-new}" pytorch ratio GFLOP/s %peak 1thread 2t/1t "MB mine" "MB torch" ratio "MB bf16" \
  "sample" "s.torch" ratio "s.limit" "%lim" "kernels (torch)"
for c in $configs; do
  case $c in
    a) L=2 H=128 B=50 T=50 ;;
    b) L=2 H=512 B=50 T=50 ;;
    c) L=3 H=512 B=64 T=100 ;;
  esac
  opts=(--layers $L --hidden $H --embed 64 --batch $B --seq $T)
  one=$(charrnn_cps "$bin" "${opts[@]}" --threads 1)
  opts+=(--threads 2)
  mine=$(charrnn_cps "$bin" "${opts[@]}")
  myrss=$(cat "$work/rss")
  # The other engine (charrnn's own cells) when the default is oneDNN.
  own=""
  "$bin" --version | grep -q "LSTM training on oneDNN" && own=$(charrnn_cps "$bin" "${opts[@]}" --engine own)
  # The bf16 stretch (AVX512-BF16 CPUs): speed and peak memory.
  bf16="" bf16rss=""
  if grep -q avx512_bf16 /proc/cpuinfo && "$bin" --version | grep -q "LSTM training on oneDNN"; then
    bf16=$(charrnn_cps "$bin" "${opts[@]}" --bf16)
    bf16rss=$(cat "$work/rss")
  fi
  old=""
  [ -n "${OLD:-}" ] && old=$(charrnn_cps "$OLD" "${opts[@]}")
  # Sampling, batch 1, temperature 1, from the model just trained.
  n=20000
  t0=$(date +%s.%N)
  "$bin" sample "$work/m.crnn" -n $n -t 1 --seed 1 >/dev/null
  t1=$(date +%s.%N)
  mysample=$(awk -v n=$n -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}')
  peak_rss "$work/rss" env "${refenv[@]}" /usr/bin/python3 "$ref" --data "$corpus" --layers $L --hidden $H \
    --embed 64 --batch $B --seq $T --threads 1 --seconds "$seconds" --no-test --sample-len 2000 \
    2>/dev/null | tail -1 >"$work/ref.json"
  theirrss=$(cat "$work/rss")
  theirs=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["train_chars_per_s"]))' "$work/ref.json")
  theirsample=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["sample_chars_per_s"]))' "$work/ref.json")
  theircore=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["openblas_core"])' "$work/ref.json")
  # The newest PyTorch (NEW_TORCH=python of a venv with it, bench/newest-torch.sh):
  # at its best setting here, --threads 2; the faster of the two is the reference,
  # for training and for sampling separately.
  new="" newsample="" newrss=""
  if [ -n "${NEW_TORCH:-}" ]; then
    peak_rss "$work/rss" "$NEW_TORCH" "$ref" --data "$corpus" --layers $L --hidden $H --embed 64 \
      --batch $B --seq $T --threads 2 --seconds "$seconds" --no-test --sample-len 2000 \
      2>/dev/null | tail -1 >"$work/new.json"
    newrss=$(cat "$work/rss")
    new=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["train_chars_per_s"]))' "$work/new.json")
    newsample=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["sample_chars_per_s"]))' "$work/new.json")
    if [ "$new" -gt "$theirs" ]; then theirs=$new theirrss=$newrss; fi
    [ "$newsample" -gt "$theirsample" ] && theirsample=$newsample
  fi
  mycore=$(sed -n 's/.*USE_OPENMP \([A-Za-z0-9]*\) .*/\1/p' <<<"$("$bin" --version)")
  f=$(flops $L $H 64 65)
  gf=$(awk -v c="$mine" -v f="$f" 'BEGIN{printf "%.1f", c * f / 1e9}')
  lim=$(sample_limit $L $H 64 65)
  printf "%-5s %8s %8s %8s %8s %8s %8s %6s %7s %5s %8s %6s %9s %9s %6s %7s | %8s %8s %6s %8s %5s | %s\n" "($c)" "$mine" \
    "$own" "$bf16" "$old" "$new" "$theirs" "$(awk -v a="$mine" -v b="$theirs" 'BEGIN{printf "%.2fx", a / b}')" "$gf" \
    "$(awk -v g="$gf" -v p="${peak:-0}" 'BEGIN{if (p > 0) printf "%.0f%%", 100 * g / p; else print "?"}')" \
    "$one" "$(awk -v a="$mine" -v b="$one" 'BEGIN{printf "%.2fx", a / b}')" \
    "$myrss" "$theirrss" "$(awk -v a="$myrss" -v b="$theirrss" 'BEGIN{printf "%.2f", a / b}')" \
    "$bf16rss" \
    "$mysample" "$theirsample" "$(awk -v a="$mysample" -v b="$theirsample" 'BEGIN{printf "%.1fx", a / b}')" \
    "$lim" "$(awk -v a="$mysample" -v b="$lim" 'BEGIN{printf "%.0f%%", 100 * a / b}')" \
    "$mycore ($theircore)"
done
