#!/usr/bin/env bash
# Proves that the test suite has teeth: applies deliberate bugs (mutants) to a
# copy of the sources, one at a time, rebuilds and runs `meson test`, and
# prints a table: mutant, killed or survived, and by which tests. Every mutant
# must be killed; a survivor means a missing test. The working tree is never
# touched (the copy lives in a scratch directory). Takes about a minute per
# mutant on 2 cores; not part of `meson test`.
#
# A mutant is a line "name|file|text|replacement": the text must occur exactly
# once in the file (else the mutant is stale and the script fails: update it
# with the code). tests/README.md records the table.
#
# usage: scripts/mutate.sh [NAME...]   (no names: every mutant)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

mutants=(
  # a sign in a backward pass (the LSTM's gate gradients)
  "lstm-backward-sign|src/kernels.c|g[3 * hidden + j] = dhv * tc * out * (1.0f - out);|g[3 * hidden + j] = -dhv * tc * out * (1.0f - out);"
  # the GRU's backward
  "gru-backward-sign|src/gru.c|float dz = d * (hprev[o] - ng) * zg * (1.0f - zg);|float dz = d * (ng - hprev[o]) * zg * (1.0f - zg);"
  # the embedding's gradient lands on the wrong row
  "embedding-gradient-row|src/model.c|float *row = demb + (size_t)inputs[i] * c->embed;|float *row = demb + (size_t)inputs[n - 1 - i] * c->embed;"
  # an off-by-one in the stream cursor: targets are the inputs, not the next characters
  "stream-target-offset|src/data.c|uint32_t y = crnn_id_at(split->ids, split->width, at + (size_t)t + 1);|uint32_t y = crnn_id_at(split->ids, split->width, at + (size_t)t);"
  # Adam without its bias correction
  "adam-bias-correction|src/optim.c|float step_size = (float)(lr * sqrt(bc2) / bc1);|float step_size = (float)lr;"
  # clipping to the wrong norm
  "clip-norm|src/optim.c|float scale = (float)(max_norm / norm);|float scale = (float)(max_norm / norm / 2);"
  # the top-p cut keeps one character too many
  "top-p-cut|src/sample.c|                    keep = r + 1;|                    keep = r + 2 <= keep ? r + 2 : keep;"
  # the snapshot reader skips the CRC of the compressed bytes
  "skip-crc-check|src/snapshot.c|if (crc_of(z, (size_t)zlen) != zcrc)|if (0 && crc_of(z, (size_t)zlen) != zcrc)"
  # the tokenizer loses track of where a segment of the file starts
  "tokenizer-offset|src/utf8.c|s->offset += end;|s->offset += end + 1;"
  # the byte order mark is read as a character
  "bom-kept|src/utf8.c|from = 3; /* byte order mark */|from = 0;"
  # dropout stays on when evaluating
  "dropout-at-evaluation|src/evaluate.c|ws->dropout = 0; /* evaluation sees the whole network */|/* dropout left as training drew it */"
  # resume forgets the streams' positions
  "resume-cursor|src/train.c|memcpy(t->cursors, s.cursors, sizeof(uint64_t) * (size_t)s.n_cursors);|memset(t->cursors, 0, sizeof(uint64_t) * (size_t)s.n_cursors);"
  # the id cache is reused although the corpus changed size
  "id-cache-invalidation|src/corpus.c|h.file_bytes == id->bytes && |"
  # temperature ignored
  "temperature|src/sample.c|float inv_t = 1.0f / o->temperature, max = z[best];|float inv_t = 1.0f, max = z[best];"
  # oneDNN's row groups: the other groups' weight gradients are not added
  "row-group-gradients|src/lstm_dnnl.c|            g->wh[i] += p[nx + i];|            (void)0;"
  # the forget-gate bias is not written to snapshots
  "forget-bias-not-saved|src/snapshot.c|    put_f32(b, c->forget_bias); /* format 1.1 */|"
  # auto never falls back to an engine that fits in memory
  "engine-memory-fallback|src/train.c|need > have && automatic &&|need > have && 0 &&"
  # the sampler forgets its state between characters
  "sampler-state|src/sample.c|    crnn_model_final_state(&sm->model, &sm->ws, sm->state);|"
  # the softmax cross-entropy's gradient forgets the one-hot
  "softmax-gradient|src/kernels.c|        z[t] -= scale;|        z[t] -= 0.5f * scale;"
)

names=("$@")
selected() {
  [ ${#names[@]} -eq 0 ] && return 0
  local n
  for n in "${names[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

work=${TMPDIR:-/tmp}/charrnn-mutate
rm -rf "$work"
mkdir -p "$work/tree"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/tree"
[ -d ../shared ] && ln -s "$(realpath ../shared)" "$work/shared"
cd "$work/tree"
echo "mutate: building the unmutated copy in $work" >&2
meson setup build-mutate >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; exit 2; }
meson compile -C build-mutate >"$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; exit 2; }
# The unmutated tree must pass, or nothing below means anything.
if ! meson test -C build-mutate --no-rebuild >"$work/test.log" 2>&1; then
  echo "mutate: the unmutated tree fails its tests; fix that first" >&2
  tail -20 "$work/test.log" >&2
  exit 2
fi

# apply FILE TEXT REPLACEMENT: replace the one occurrence (python3: meson needs it anyway).
apply() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path, encoding="utf-8").read()
n = text.count(old)
if n != 1:
    sys.exit(f"{path}: the mutant's text occurs {n} times (must be once): {old!r}")
open(path, "w", encoding="utf-8").write(text.replace(old, new))
PY
}

# Tests that failed in the last run (meson's JSON log), comma-separated.
killers() {
  python3 - build-mutate/meson-logs/testlog.json <<'PY'
import json, sys
bad = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
        bad.append(r["name"])
print(",".join(bad))
PY
}

printf '%-24s %-9s %s\n' mutant result "killed by" >"$work/table"
survivors=0 stale=0
for m in "${mutants[@]}"; do
  IFS='|' read -r name file old new <<<"$m"
  selected "$name" || continue
  cp "$file" "$work/original"
  if ! apply "$file" "$old" "$new" 2>"$work/apply.log"; then
    cat "$work/apply.log" >&2
    printf '%-24s %-9s %s\n' "$name" stale "-" >>"$work/table"
    stale=$((stale + 1))
    continue
  fi
  if ! meson compile -C build-mutate >"$work/build.log" 2>&1; then
    printf '%-24s %-9s %s\n' "$name" stale "(does not compile)" >>"$work/table"
    stale=$((stale + 1))
  elif meson test -C build-mutate --no-rebuild --timeout-multiplier 0.3 >"$work/test.log" 2>&1; then
    printf '%-24s %-9s %s\n' "$name" SURVIVED "-" >>"$work/table"
    survivors=$((survivors + 1))
  else
    printf '%-24s %-9s %s\n' "$name" killed "$(killers)" >>"$work/table"
  fi
  tail -1 "$work/table" >&2
  cp "$work/original" "$file"
done
meson compile -C build-mutate >/dev/null 2>&1 || true
echo
cat "$work/table"
echo "mutate: $((${#mutants[@]})) mutants defined; $survivors survived, $stale stale"
[ $survivors = 0 ] && [ $stale = 0 ]
