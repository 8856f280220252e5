#!/usr/bin/env bash
# Data-parallel throughput on one machine: 2 ranks x 1 thread against 1 process
# x 2 threads, on the 2x512 and 3x512 configurations of tiny-shakespeare, then
# the time of one gradient allreduce. Run on an otherwise idle machine.
# usage: bench/mpi.sh [CORPUS] [SECONDS]
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpora/tinyshakespeare.txt}
seconds=${2:-60}
bin=build/charrnn
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_hwloc_base_binding_policy=none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $($bin --version)"
run() { # name, command...
  local name=$1
  shift
  "$@" >"$work/log" 2>&1
  sed -n 's/^charrnn: done at \(.*\)$/\1/p' "$work/log" | sed "s/^/$name: /"
}
for cfg in "2x512:--layers 2 --hidden 512 --embed 64 --batch 50 --seq 50" \
           "3x512:--layers 3 --hidden 512 --embed 64 --batch 64 --seq 100"; do
  name=${cfg%%:*}
  opts=${cfg#*:}
  # shellcheck disable=SC2086
  run "$name 1 process x 2 threads" $bin train "$corpus" -o "$work/a.crnn" $opts --time "$seconds" --eval-every 100000 --threads 2 -q
  # shellcheck disable=SC2086
  run "$name 2 ranks x 1 thread  " mpirun --allow-run-as-root --oversubscribe -np 2 $bin train "$corpus" -o "$work/b.crnn" $opts --time "$seconds" --eval-every 100000 --threads 1 -q
done
mpirun --allow-run-as-root --oversubscribe -np 2 build/bench/bench_allreduce
