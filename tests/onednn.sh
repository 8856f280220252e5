#!/usr/bin/env bash
# The CLI on oneDNN's LSTM engine: the header names it; the own cells and
# oneDNN resume each other's snapshots; left to choose, charrnn trains on its
# own cells when oneDNN's engine would not fit in memory, and refuses when
# asked for oneDNN; --bf16 where the CPU has AVX512-BF16, refused elsewhere;
# --fp32 keeps fp32.
# A build without oneDNN must refuse --engine onednn by name; then the test is
# skipped (exit 77), so that meson test shows that the engine went unchecked.
# usage: tests/onednn.sh path/to/charrnn with|without (what meson found)
set -u
bin=$(realpath "${1:?usage: onednn.sh path/to/charrnn with|without}")
built=${2:?usage: onednn.sh path/to/charrnn with|without}
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work onednn
small=(--layers 1 --hidden 16 --embed 8 --batch 4 --seq 16)

expect 0 "" -- "$bin" --version
if [ "$built" = without ]; then
  grep -q "LSTM training on oneDNN" out.txt && bad "built without oneDNN, yet --version names it: $(cat out.txt)"
  expect 2 "built without oneDNN" -- "$bin" train corpus.txt -o e.crnn "${small[@]}" --engine onednn
  [ "$fail" = 0 ] || finish onednn
  skip onednn "built without oneDNN (-Donednn=disabled, or no libdnnl-dev): its engine is not checked"
fi
grep -q "LSTM training on oneDNN" out.txt && ok || bad "built with oneDNN, but --version does not name it: $(cat out.txt)"

expect 0 "layers on charrnn's own cells" -- "$bin" train corpus.txt -o e.crnn "${small[@]}" --max-iters 4 --engine own
expect 0 "layers on oneDNN" -- "$bin" train corpus.txt -o e2.crnn "${small[@]}" --max-iters 4 --engine onednn
expect 0 "layers on charrnn's own cells" -- "$bin" train corpus.txt -o e4.crnn "${small[@]}" --max-iters 2 --cell gru
# oneDNN's engine needs more memory (here about 66 MB against 44 MB, both with the
# 25 MB that evaluation reads with): left to
# choose, charrnn trains on its own cells rather than refuse; asked for oneDNN, it refuses.
big=(--layers 2 --hidden 256 --embed 8 --batch 16 --seq 16 --max-iters 2)
expect 0 "training on charrnn's own cells: oneDNN" -- env CHARRNN_MEMORY_BYTES=55000000 "$bin" train corpus.txt -o e5.crnn "${big[@]}"
grep -q "layers on charrnn's own cells" err.txt && ok || bad "the header does not name the own cells: $(cat err.txt)"
expect 1 "or --engine own" -- env CHARRNN_MEMORY_BYTES=55000000 "$bin" train corpus.txt -o e5.crnn "${big[@]}" --engine onednn
expect 1 "needs about" -- env CHARRNN_MEMORY_BYTES=12000000 "$bin" train corpus.txt -o e5.crnn "${big[@]}"
expect 0 "done at step 8" -- "$bin" train --resume e.crnn corpus.txt --max-iters 8 --engine onednn
expect 0 "done at step 8" -- "$bin" train --resume e2.crnn corpus.txt --max-iters 8 --engine own
if grep -q avx512_bf16 /proc/cpuinfo; then
  expect 0 "products in bf16" -- "$bin" train corpus.txt -o e3.crnn "${small[@]}" --max-iters 4 --bf16
else
  expect 2 "AVX512-BF16" -- "$bin" train corpus.txt -o e3.crnn "${small[@]}" --max-iters 4 --bf16
fi
# --fp32 keeps the products in fp32 on oneDNN, whatever came before it.
expect 0 "layers on oneDNN" -- "$bin" train corpus.txt -o e6.crnn "${small[@]}" --max-iters 2 --bf16 --fp32
grep -q "products in bf16" err.txt && bad "--fp32 trained in bf16: $(cat err.txt)" || ok

finish onednn
