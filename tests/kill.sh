#!/usr/bin/env bash
# kill -9 at random moments of training that saves at every step, each after
# the run has saved at least once: after each kill the snapshot under the real
# name must load completely (checksums and all), be further on than the one
# the run resumed, and training must resume from it. A kill can leave a
# temporary file (NAME.tmp.PID) behind, never a damaged NAME.
# usage: tests/kill.sh path/to/charrnn [KILLS]
set -u
bin=$(realpath "${1:?usage: kill.sh path/to/charrnn [KILLS]}")
kills=${2:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/crnn-kill-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99
for i in $(seq 1 400); do echo "line $i: sphinx of black quartz, judge my vow; the five boxing wizards jump."; done >corpus.txt
"$bin" train corpus.txt -o m.crnn --layers 2 --hidden 48 --embed 16 --batch 4 --seq 16 \
  --max-iters 1 -q 2>/dev/null || { echo "FAIL: first run" >&2; exit 1; }
fail=0
RANDOM=42
last=1
for k in $(seq 1 "$kills"); do
  touch started # a snapshot newer than this was written by the run below
  "$bin" train --resume m.crnn --max-iters 100000000 --save-every 1 --eval-every 7 -q 2>/dev/null &
  pid=$!
  # Kill only once this run has trained and saved (a kill during start-up
  # would test nothing), then at a random moment of the saves that follow.
  saved=0
  for _ in $(seq 1 3000); do
    [ m.crnn -nt started ] && { saved=1; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
  done
  [ $saved = 1 ] && sleep "0.$(printf '%03d' $((RANDOM % 200)))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  if [ $saved = 0 ]; then
    echo "FAIL: kill $k: the resumed run saved no snapshot (it ended, or took over 30 s)" >&2
    fail=$((fail + 1))
    break
  fi
  if ! "$bin" info m.crnn >info.txt 2>&1; then
    echo "FAIL: kill $k left a snapshot that does not load: $(cat info.txt)" >&2
    fail=$((fail + 1))
    break
  fi
  step=$(sed -n 's/^step: *//p' info.txt)
  # Every run trained at least one step past the snapshot it resumed.
  [ "$step" -gt "$last" ] || { echo "FAIL: kill $k: step $step after resuming step $last" >&2; fail=$((fail + 1)); }
  last=$step
  rm -f m.crnn.tmp.* m.best.crnn.tmp.*
done
# The surviving snapshot resumes and trains on.
"$bin" train --resume m.crnn --max-iters $((last + 2)) -q 2>/dev/null ||
  { echo "FAIL: the final snapshot does not resume" >&2; fail=$((fail + 1)); }
echo "kill: $kills kill -9 during training; every snapshot loaded and resumed (reached step $last); $fail failures" >&2
[ $fail = 0 ]
