#!/usr/bin/env bash
# Ctrl-C and SIGTERM in the middle of training, on the default engine: the run
# ends after its step with exit 130 and a snapshot that resumes, and the heap
# stays whole (checked by glibc's malloc checker where it is installed: while
# the signal handler ran on the computing thread, it caught a corrupted heap
# in about half of such runs). A signal during the set-up exits 130 at once.
# usage: tests/interrupt.sh path/to/charrnn
set -u
bin=$(realpath "${1:?usage: interrupt.sh path/to/charrnn}")
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
enter_work interrupt

checker=
for lib in /lib/x86_64-linux-gnu/libc_malloc_debug.so.0 /usr/lib64/libc_malloc_debug.so.0; do
  [ -e "$lib" ] && checker=$lib
done
# Under AddressSanitizer the checker cannot be preloaded: its own allocator checks.
ldd "$bin" 2>/dev/null | grep -q libasan && checker=

run() { # run SIGNAL NAME: trains NAME.crnn and interrupts it after 1-2 s
  if [ -n "$checker" ]; then
    LD_PRELOAD=$checker MALLOC_CHECK_=3 "$bin" train corpus.txt -o "$2.crnn" --hidden 64 \
      --embed 32 --batch 16 --seq 50 --max-iters 100000000 --threads 1 >out.txt 2>err.txt &
  else
    "$bin" train corpus.txt -o "$2.crnn" --hidden 64 --embed 32 --batch 16 --seq 50 \
      --max-iters 100000000 --threads 1 >out.txt 2>err.txt &
  fi
  local pid=$! i
  for i in $(seq 1 300); do grep -q "^step " err.txt && break; sleep 0.05; done
  sleep "1.$((RANDOM % 10))"
  kill "-$1" $pid
  wait $pid
}

RANDOM=7
for k in 1 2 3 4 5 6; do
  sig=INT
  [ $k -gt 4 ] && sig=TERM
  run $sig "r$k"
  rc=$?
  if [ $rc = 130 ] && grep -q "snapshot saved to r$k.crnn" err.txt; then
    ok
  else
    bad "SIG$sig mid-training, run $k: exit $rc: $(tail -c 300 err.txt)"
  fi
done
expect 0 "" -- "$bin" info r6.crnn
step=$(sed -n 's/^step: *//p' out.txt)
expect 0 "" -- "$bin" train --resume r6.crnn --max-iters $((step + 2)) -q

# During the set-up (here a plan's measuring) nothing is saved: exit at once.
"$bin" train corpus.txt -o s.crnn --time 600 >out.txt 2>err.txt &
pid=$!
for i in $(seq 1 200); do grep -q "planning" err.txt && break; sleep 0.05; done
start=$SECONDS
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] && ok || bad "SIGINT during the set-up: exit $rc: $(tail -c 300 err.txt)"
[ $((SECONDS - start)) -le 2 ] && ok || bad "SIGINT during the set-up took $((SECONDS - start)) s"
[ -e s.crnn ] && bad "an interrupted set-up left s.crnn" || ok

finish interrupt
