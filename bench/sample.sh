#!/usr/bin/env bash
# Generation speed (bench_sample) for the issue's three shapes, against the
# machine's ceilings measured in the same run (bench_peak):
#   (a) 2x128 E64   (b) 2x512 E64   (c) 3x512 E64, vocabulary of tiny-shakespeare
# Batch 1: chars/s as a share of the bandwidth ceiling (read bandwidth of the
# level the weights fit in, over the bytes of weights a character reads), for
# fp32 and 16-bit weights. N streams: aggregate chars/s as a share of the sgemm
# peak (2 FLOPs per weight per character).
# usage: bench/sample.sh [SECONDS] [REPEATS] [CONFIGS]   (best of REPEATS; quote medians of runs)
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-2}
repeats=${2:-3}
configs=${3:-a b c}
corpus=../shared/corpora/tinyshakespeare.txt
[ -f "$corpus" ] || { echo "bench/sample.sh: needs $corpus" >&2; exit 1; }
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(build/charrnn --version | head -1); $(date -u +%F)"
# The peak with the kernels charrnn itself runs (as bench/throughput.sh): where
# this OpenBLAS does not know the CPU, the ones charrnn restarts with; else the
# peak would be AVX2's on a CPU with AVX-512 (half of it on this Zen 5).
faster=$(build/charrnn --version | sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p')
probe=$(env ${faster:+OPENBLAS_CORETYPE=$faster} build/bench/bench_peak 2>/dev/null)
peak=$(sed -n 's/^peak: \([0-9.]*\).*/\1/p' <<<"$probe")
bw_l2=$(sed -n 's/^bandwidth: L2 \([0-9.]*\).*/\1/p' <<<"$probe")
bw_l3=$(sed -n 's/.* L3 \([0-9.]*\) GB.*/\1/p' <<<"$probe")
bw_dram=$(sed -n 's/.* DRAM \([0-9.]*\) GB.*/\1/p' <<<"$probe")
echo "sgemm peak $peak GFLOP/s (OpenBLAS ${faster:-as loaded}); read bandwidth L2 $bw_l2, L3 $bw_l3, DRAM $bw_dram GB/s"
printf '%-6s %-5s %4s %10s %10s %9s %9s\n' config dtype N chars/s MB ceiling share
for c in $configs; do
  case $c in a) shape="2 128 64";; b) shape="2 512 64";; c) shape="3 512 64";; esac
  build/bench/bench_sample "$corpus" $shape "$seconds" "1 8 32" 0 "$repeats" |
  while read -r dtype n rate bytes flops; do
    if [ "$n" = 1 ]; then
      ceil=$(awk -v w="$bytes" -v a="$bw_l2" -v b="$bw_l3" -v d="$bw_dram" \
        'BEGIN{bw = w <= 2e6 ? a : w <= 24e6 ? b : d; printf "%.0f", bw * 1e9 / w}')
      share=$(awk -v r="$rate" -v c="$ceil" 'BEGIN{printf "%.0f%%", 100 * r / c}')
    else
      ceil=$(awk -v p="$peak" -v f="$flops" 'BEGIN{printf "%.0f", p * 1e9 / f}')
      share=$(awk -v r="$rate" -v p="$peak" -v f="$flops" 'BEGIN{printf "%.0f%%", 100 * r * f / (p * 1e9)}')
    fi
    printf '%-6s %-5s %4s %10s %10.1f %9s %9s\n' "$c" "$dtype" "$n" "$rate" \
      "$(awk -v b="$bytes" 'BEGIN{print b / 1e6}')" "$ceil" "$share"
  done
done
