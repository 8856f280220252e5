#!/usr/bin/env bash
# Runs the libFuzzer targets for SECONDS each (default 60): builds them with
# clang, AddressSanitizer and UBSan into build-fuzz/, starts from the seed
# corpus in fuzz/seeds/, and prints executions and crashes per target. A crash
# input is saved under fuzz/crashes/; once fixed, copy it into
# fuzz/regressions/TARGET/ so `meson test` replays it forever.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: snapshot tokenizer options request)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(snapshot tokenizer options request)
if ! command -v clang >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq clang libclang-rt-dev >/dev/null || $sudo apt-get install -y -qq clang
fi
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized >/dev/null
fi
meson compile -C build-fuzz >/dev/null
mkdir -p fuzz/crashes
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp fuzz/seeds/"$t"/* "$work"/
  log=$(mktemp)
  UBSAN_OPTIONS=halt_on_error=1 build-fuzz/fuzz/fuzz_"$t" "$work" -max_total_time="$seconds" \
    -rss_limit_mb=4096 -max_len=65536 -artifact_prefix=fuzz/crashes/"$t"- -print_final_stats=1 \
    >"$log" 2>&1 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  crashes=$(find fuzz/crashes -name "$t-*" | wc -l)
  echo "fuzz $t: ${execs:-?} executions in ${seconds}s, $crashes crash inputs in fuzz/crashes/"
  grep -m1 -E "ERROR|SUMMARY" "$log" || true
  rm -rf "$work" "$log"
done
