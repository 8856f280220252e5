#!/usr/bin/env bash
# A full disk during training: a small tmpfs holds one snapshot but not a second
# (a snapshot is written beside the old one, then renamed). Periodic saves must
# warn and go on, the final save must fail with a clear error, and the previous
# snapshot must stay valid and resumable, with no temporary file left behind.
# Needs root (mount); skipped (exit 77) where tmpfs cannot be mounted.
set -u
bin=$(realpath "${1:?usage: disk_full.sh path/to/charrnn}")
work=$(mktemp -d "${TMPDIR:-/tmp}/crnn-full-XXXXXX")
mnt="$work/small"
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work" || exit 99
for i in $(seq 1 300); do echo "line $i: the quick brown fox jumps over the lazy dog."; done >corpus.txt
opts=(--layers 1 --hidden 64 --embed 16 --batch 4 --seq 16 -q)

# How large is one snapshot of this model?
"$bin" train corpus.txt -o probe.crnn "${opts[@]}" --max-iters 1 || exit 1
size=$(stat -c %s probe.crnn)
kb=$(( (size * 3 / 2) / 1024 + 4 ))
if ! mount -t tmpfs -o size=${kb}k tmpfs "$mnt" 2>/dev/null; then
  echo "disk_full: cannot mount a tmpfs here (not root, or no permission): skipped" >&2
  exit 77
fi
fail=0
"$bin" train corpus.txt -o "$mnt/m.crnn" "${opts[@]}" --max-iters 6 --save-every 1 2>err.txt
st=$?
[ $st = 1 ] || { echo "FAIL: exit status $st, expected 1" >&2; fail=1; }
grep -q "warning: could not write the latest snapshot" err.txt ||
  { echo "FAIL: no warning for the failed periodic save: $(cat err.txt)" >&2; fail=1; }
grep -q "No space left on device" err.txt ||
  { echo "FAIL: the message does not say the disk is full: $(cat err.txt)" >&2; fail=1; }
"$bin" info "$mnt/m.crnn" >info.txt 2>&1 ||
  { echo "FAIL: the previous snapshot is not valid: $(cat info.txt)" >&2; fail=1; }
grep -q "^step:        1$" info.txt || { echo "FAIL: expected the step-1 snapshot: $(cat info.txt)" >&2; fail=1; }
ls "$mnt" | grep -q tmp && { echo "FAIL: a temporary file was left: $(ls "$mnt")" >&2; fail=1; }
cp "$mnt/m.crnn" resumed.crnn
"$bin" train --resume resumed.crnn --max-iters 3 -q ||
  { echo "FAIL: the surviving snapshot does not resume" >&2; fail=1; }
# The token id cache on a full disk: a warning, the ids in memory, training goes
# on, and no temporary id file is left behind.
umount "$mnt" && mount -t tmpfs -o size=4k tmpfs "$mnt" || exit 99
for i in $(seq 1 200); do cat corpus.txt; done >big.txt # 11 MB of ids: more than 4k
CHARRNN_CACHE_DIR="$mnt/ids" "$bin" train big.txt -o big.crnn "${opts[@]}" --max-iters 2 --val-fraction 0.001 \
  --test-fraction 0.001 2>err.txt ||
  { echo "FAIL: training stopped when the id cache could not be written: $(cat err.txt)" >&2; fail=1; }
grep -q "warning: no token cache (.*No space left on device" err.txt ||
  { echo "FAIL: no warning about the id cache: $(cat err.txt)" >&2; fail=1; }
[ -z "$(ls -A "$mnt/ids" 2>/dev/null)" ] || { echo "FAIL: id files left: $(ls "$mnt/ids")" >&2; fail=1; }
[ $fail = 0 ] && echo "disk_full: periodic saves warned, the final one failed cleanly, the previous snapshot resumed; a full disk for the id cache only warned" >&2
exit $fail
