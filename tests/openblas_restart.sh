#!/usr/bin/env bash
# OpenBLAS held back by a preset OPENBLAS_CORETYPE: charrnn restarts itself
# with the kernels this CPU runs, and keeps the preset with
# CHARRNN_KEEP_CORETYPE=1. Skipped (exit 77) where nothing better than
# Prescott's kernels exists to restart with: a CPU without AVX2 and FMA, or an
# OpenBLAS built for one CPU (without DYNAMIC_ARCH it ignores OPENBLAS_CORETYPE).
# usage: tests/openblas_restart.sh path/to/charrnn
set -u
bin=$(realpath "${1:?usage: openblas_restart.sh path/to/charrnn}")
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work blas
small=(--layers 1 --hidden 16 --embed 8 --batch 4 --seq 16 --max-iters 2)

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
[[ " $flags " == *" avx2 "* && " $flags " == *" fma "* ]] ||
  skip openblas_restart "this CPU has no AVX2 and FMA: no kernels better than Prescott's"
"$bin" --version | grep -q "DYNAMIC_ARCH" ||
  skip openblas_restart "this OpenBLAS is built for one CPU (no DYNAMIC_ARCH): it ignores OPENBLAS_CORETYPE"

expect 0 "restarted with OPENBLAS_CORETYPE=" -- env OPENBLAS_CORETYPE=Prescott "$bin" train corpus.txt -o k.crnn "${small[@]}"
grep "weights; batch" err.txt | grep -q Prescott && bad "still on the Prescott kernels: $(cat err.txt)" || ok
expect 0 "" -- env OPENBLAS_CORETYPE=Prescott CHARRNN_KEEP_CORETYPE=1 "$bin" train corpus.txt -o k.crnn "${small[@]}"
grep -q "restarted" err.txt && bad "CHARRNN_KEEP_CORETYPE=1 was not respected" || ok
grep "weights; batch" err.txt | grep -q Prescott && ok || bad "CHARRNN_KEEP_CORETYPE=1: not on the preset kernels: $(cat err.txt)"

finish openblas_restart
