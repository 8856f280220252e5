#!/usr/bin/env bash
# Two builds of charrnn side by side, for a change that must not alter what
# charrnn computes or how fast: the same seeded runs must give models that
# sample the same text and evaluate to the same loss (read by the new build, so
# a format change between the two does not count), and training time is
# measured interleaved (old, new, old, new, ...)
# with the median of REPS runs per configuration and engine.
#   (a) 2x128 E64 B50 T50   (c) 3x512 E64 B64 T100   on tiny-shakespeare
# Run nothing else meanwhile (2 cores).
# usage: bench/before-after.sh OLD_CHARRNN NEW_CHARRNN [REPS] [STEPS_A] [STEPS_C]
set -eu
old=$(realpath "$1")
new=$(realpath "$2")
reps=${3:-3}
steps_a=${4:-300}
steps_c=${5:-20}
corpus=$(realpath "$(dirname "$0")/../../shared/corpora/tinyshakespeare.txt")
[ -f "$corpus" ] || { echo "before-after: needs ../shared/corpora/tinyshakespeare.txt" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
echo "old: $old"
echo "new: $new"
config() { # a|c -> options
  case $1 in
    a) echo "--layers 2 --hidden 128 --embed 64 --batch 50 --seq 50 --max-iters $steps_a" ;;
    c) echo "--layers 3 --hidden 512 --embed 64 --batch 64 --seq 100 --max-iters $steps_c" ;;
  esac
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf '%-6s %-7s %10s %10s %8s %s\n' config engine "old s" "new s" new/old models
for c in a c; do
  for engine in own onednn; do
    : >"old.t" && : >"new.t"
    same=identical
    for r in $(seq 1 "$reps"); do
      for which in old new; do
        bin=$old && [ $which = new ] && bin=$new
        start=$(date +%s.%N)
        # shellcheck disable=SC2046
        "$bin" train "$corpus" -o "$which.crnn" $(config $c) --engine $engine --eval-every 1000000 \
          --seed 3 --cache-dir "$work" -q >/dev/null 2>"$which.log" || { cat "$which.log" >&2; exit 1; }
        echo "$(date +%s.%N) - $start" | bc >>"$which.t"
      done
      # The same model: the same sample and the same loss on a piece of text.
      head -c 20000 "$corpus" >piece.txt
      for w in old new; do
        "$new" sample "$w.crnn" -n 300 --seed 1 -t 0.8 >"$w.sample" 2>/dev/null
        "$new" eval "$w.crnn" piece.txt >>"$w.sample" 2>&1
      done
      cmp -s old.sample new.sample || same=DIFFERENT
    done
    o=$(median <old.t) n=$(median <new.t)
    printf '%-6s %-7s %10.2f %10.2f %8.3f %s\n' $c $engine "$o" "$n" "$(echo "$n / $o" | bc -l)" $same
  done
done
