#!/usr/bin/env bash
# --device (train, eval, sample): a word it does not know and a GPU that is
# not there are usage errors (exit 2) that name the problem before anything
# is read; --device cpu trains; where a GPU is present, --device cuda trains
# on it and the header line names it.
set -u
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
no() { echo "FAIL: $*" >&2; fail=1; }
head -c 20000 "$(dirname "$0")/../corpora/fortunes.txt" >"$work/c.txt"
run() { "$bin" train "$work/c.txt" -o "$work/m.crnn" --layers 1 --hidden 16 --batch 4 --seq 16 \
          --max-iters 3 --eval-every 100 --no-cache "$@" >"$work/out" 2>"$work/err"; }
run --device gpu
[ $? = 2 ] || no "--device gpu: exit not 2"
grep -q "auto, cpu, cuda or cuda:N" "$work/err" || no "--device gpu: $(cat "$work/err")"
run --device cuda:x
[ $? = 2 ] || no "--device cuda:x: exit not 2"
run --device cpu
[ $? = 0 ] || no "--device cpu failed: $(tail -3 "$work/err")"
grep -q "layers on cuda" "$work/err" && no "--device cpu trained on a GPU"
run --device cuda:999
[ $? = 2 ] || no "--device cuda:999: exit not 2"
grep -q "cuda:999" "$work/err" || no "--device cuda:999: $(cat "$work/err")"
# charrnn eval takes --device too: the same usage errors, and cpu scores.
"$bin" eval "$work/m.crnn" "$work/c.txt" --device gpu >"$work/out" 2>"$work/err"
[ $? = 2 ] || no "eval --device gpu: exit not 2"
grep -q "auto, cpu, cuda or cuda:N" "$work/err" || no "eval --device gpu: $(cat "$work/err")"
"$bin" eval "$work/m.crnn" "$work/c.txt" --device cuda:999 >"$work/out" 2>"$work/err"
[ $? = 2 ] || no "eval --device cuda:999: exit not 2"
"$bin" eval "$work/m.crnn" "$work/c.txt" --device cpu >"$work/cpu.eval" 2>&1 ||
  no "eval --device cpu failed: $(cat "$work/cpu.eval")"
if "$bin" eval "$work/m.crnn" "$work/c.txt" --device cuda >"$work/gpu.eval" 2>"$work/err"; then
  # On a GPU the figure agrees with the CPU's within the last printed digit.
  figure() { sed -n 's/.*: \([0-9.]*\) nats\/char.*/\1/p' "$1" | head -1; }
  awk -v a="$(figure "$work/gpu.eval")" -v b="$(figure "$work/cpu.eval")" \
    'BEGIN { exit !(a != "" && b != "" && a - b < 2e-4 && b - a < 2e-4) }' ||
    no "eval on the GPU: $(cat "$work/gpu.eval" "$work/cpu.eval")"
elif ! grep -q "no usable GPU\|built without CUDA" "$work/err"; then
  no "eval --device cuda failed: $(cat "$work/err")"
fi
# charrnn sample takes --device too: the same usage errors; cpu samples, and
# where a GPU is present argmax samples read the same on it.
"$bin" sample "$work/m.crnn" -n 10 --device gpu >"$work/out" 2>"$work/err"
[ $? = 2 ] || no "sample --device gpu: exit not 2"
grep -q "auto, cpu, cuda or cuda:N" "$work/err" || no "sample --device gpu: $(cat "$work/err")"
"$bin" sample "$work/m.crnn" -n 10 --device cuda:999 >"$work/out" 2>"$work/err"
[ $? = 2 ] || no "sample --device cuda:999: exit not 2"
"$bin" sample "$work/m.crnn" -n 200 -t 0 --count 3 --device cpu >"$work/cpu.txt" 2>"$work/err" ||
  no "sample --device cpu failed: $(cat "$work/err")"
[ -s "$work/cpu.txt" ] || no "sample --device cpu wrote nothing"
if "$bin" sample "$work/m.crnn" -n 200 -t 0 --count 3 --device cuda >"$work/gpu.txt" 2>"$work/err"; then
  cmp -s "$work/cpu.txt" "$work/gpu.txt" || no "argmax samples differ between the GPU and the CPU"
elif ! grep -q "no usable GPU\|built without CUDA" "$work/err"; then
  no "sample --device cuda failed: $(cat "$work/err")"
fi
run --device cuda
rc=$?
if grep -q "no usable GPU\|built without CUDA" "$work/err"; then
  [ $rc = 2 ] || no "--device cuda without a GPU: exit $rc, not 2"
  [ -e "$work/m.crnn" ] && [ "$work/m.crnn" -nt "$work/err" ] && no "a snapshot was written"
  [ $fail = 0 ] && { echo "device: no GPU here ($(cat "$work/err")); the GPU run skipped"; exit 77; }
else
  [ $rc = 0 ] || no "--device cuda failed: $(tail -3 "$work/err")"
  grep -q "layers on cuda:0" "$work/err" || no "the header does not name the GPU"
fi
exit $fail
