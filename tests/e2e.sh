#!/usr/bin/env bash
# End-to-end tests of the charrnn binary: train, snapshot, resume, sample, info,
# and every bad-input path with its exit status and message.
# usage: tests/e2e.sh path/to/charrnn
set -u
bin=$(realpath "${1:?usage: e2e.sh path/to/charrnn}")
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work e2e
small=(--layers 1 --hidden 16 --embed 8 --batch 4 --seq 16)

# --- train, sample, info -------------------------------------------------------
expect 0 "done at step 40" -- "$bin" train corpus.txt -o m.crnn "${small[@]}" --max-iters 40 --eval-every 20
[ -s m.crnn ] && ok || bad "no snapshot written"
[ -s m.best.crnn ] && ok || bad "no best snapshot written"
expect 0 "" -- "$bin" sample m.crnn -n 100 --seed 7
[ "$(wc -m <out.txt)" -ge 100 ] && ok || bad "sample too short: $(wc -m <out.txt)"
cp out.txt s1.txt
expect 0 "" -- "$bin" sample m.crnn -n 100 --seed 7
cmp -s out.txt s1.txt && ok || bad "same seed gave different samples"
expect 0 "" -- "$bin" sample m.crnn -n 100 --seed 8
cmp -s out.txt s1.txt && bad "different seeds gave the same sample" || ok
expect 0 "" -- "$bin" sample m.crnn -n 50 -t 0 --prime "the "
head -c 4 out.txt | grep -q "the " && ok || bad "prime text not printed first"
expect 0 "" -- "$bin" sample m.crnn -n 12 -t 0 --prime "the " --count 3
[ "$(grep -c '^the ' out.txt)" = 3 ] && [ "$(sed -n 1p out.txt)" = "$(sed -n 3p out.txt)" ] && ok ||
  bad "--count 3: $(cat out.txt)"
expect 0 "" -- "$bin" sample m.crnn -n 500 --seed 3 --stop "o"
[ "$(tr -d '\n' <out.txt | tail -c 1)" = "o" ] && [ "$(grep -o o out.txt | wc -l)" = 1 ] && ok ||
  bad "--stop o: $(cat out.txt)"
expect 2 "--stop needs" -- "$bin" sample m.crnn --stop ""

# --- corpora of several files and directories ---------------------------------
# Files and directories joined in order (a directory's entries by name, hidden
# ones skipped, empty files skipped with a notice): the same ids as the one file
# they make, so the same run gives the same losses; a changed file is named on
# resume; invalid UTF-8 names its file.
mkdir -p many/sub many/.hidden
head -n 100 corpus.txt >many/a.txt
sed -n 101,200p corpus.txt >many/sub/b.txt
tail -n 100 corpus.txt >c.txt
: >many/empty.txt
printf 'x\xffy\n' >many/.hidden/bad.txt
printf 'x\xffy\n' >many/.dot.txt
expect 0 "(3 files)" -- "$bin" train many c.txt -o mf.crnn "${small[@]}" --max-iters 4 --no-cache
grep -q "skipped 1 empty file (many/empty.txt)" err.txt && ok || bad "no notice of the empty file: $(cat err.txt)"
grep "validation" err.txt | tail -1 | grep -o "validation [0-9.]*" >many.loss
cat many/a.txt many/sub/b.txt c.txt >joined.txt
expect 0 "" -- "$bin" train joined.txt -o j.crnn "${small[@]}" --max-iters 4 --no-cache
grep "validation" err.txt | tail -1 | grep -o "validation [0-9.]*" >joined.loss
[ -s many.loss ] && cmp -s many.loss joined.loss && ok ||
  bad "files joined by charrnn and by cat trained differently: $(cat many.loss) vs $(cat joined.loss)"
expect 0 "" -- "$bin" info mf.crnn
grep -q "corpus:      many, c.txt (3 files" out.txt && ok || bad "info lacks the sources: $(cat out.txt)"
expect 0 "done at step 6" -- "$bin" train --resume mf.crnn --max-iters 6 --no-cache
echo "one more line" >>many/sub/b.txt
expect 1 "many/sub/b.txt changed since mf.crnn was written" -- "$bin" train --resume mf.crnn --max-iters 8 --no-cache
printf 'ok\n\xff\n' >many/sub/zz.txt
expect 1 "many/sub/zz.txt" -- "$bin" train many -o bad.crnn "${small[@]}" --max-iters 2 --no-cache
grep -q "line 2, column 1" err.txt && ok || bad "the invalid byte's place is not named: $(cat err.txt)"
expect 0 "done at step 2" -- "$bin" train many -o lossy.crnn "${small[@]}" --max-iters 2 --no-cache --lossy
expect 2 "give one path" -- "$bin" train --resume mf.crnn a.txt b.txt

# No validation split: no log, and the summary names none.
expect 0 "done at step 2" -- "$bin" train corpus.txt -o nv.crnn "${small[@]}" --max-iters 2 --val-fraction 0
grep -q "loss log nv.csv" err.txt && bad "the summary names a log that was not written: $(tail -2 err.txt)" || ok

# --- fine-tuning --------------------------------------------------------------
# A new text with two characters m.crnn never saw: they are added after its
# own (named in the header), the snapshot says where it came from, sizes come
# from m.crnn and one that contradicts it is a usage error.
sed 's/o/ö/g; s/e/é/g' corpus.txt >new.txt
expect 0 "fine-tuning m.crnn: its vocabulary of" -- "$bin" train new.txt --init-from m.crnn -o ft.crnn --max-iters 4
grep -qF "2 added: 'é' (U+00E9), 'ö' (U+00F6)" err.txt && ok || bad "the header does not name the added characters: $(cat err.txt)"
grep -q "1 x 16 LSTM, embedding 8" err.txt && ok || bad "fine-tuning did not keep m.crnn's shape: $(cat err.txt)"
expect 0 "" -- "$bin" info ft.crnn
grep -q "fine-tuned:  from m.crnn at step 40" out.txt && ok || bad "info lacks the origin: $(cat out.txt)"
if "$bin" info --json ft.crnn >ft.json 2>/dev/null && command -v python3 >/dev/null; then
  python3 -c 'import json,sys; f=json.load(open("ft.json"))["fine_tuned_from"]; sys.exit(not (f["path"] == "m.crnn" and f["step"] == 40))' &&
    ok || bad "info --json lacks the origin: $(cat ft.json)"
fi
expect 0 "" -- "$bin" sample ft.crnn -n 20 --prime "ö" --seed 1
expect 0 "done at step 6" -- "$bin" train --resume ft.crnn --max-iters 6
"$bin" export m.crnn -o m16.crnn --dtype fp16 >/dev/null 2>&1
expect 0 "covers the corpus" -- "$bin" train corpus.txt --init-from m16.crnn -o ft2.crnn --max-iters 2 --lr 0.001
expect 2 "--hidden 32 contradicts m.crnn, a 1 x 16 LSTM" -- "$bin" train new.txt --init-from m.crnn -o ft.crnn --hidden 32
expect 2 "--cell gru contradicts" -- "$bin" train new.txt --init-from m.crnn -o ft.crnn --cell gru
expect 2 "give one of them" -- "$bin" train --resume ft.crnn --init-from m.crnn
expect 1 "corpus.txt" -- "$bin" train new.txt --init-from corpus.txt -o ft.crnn
expect 1 "nothing.crnn" -- "$bin" train new.txt --init-from nothing.crnn -o ft.crnn
printf 'ab\xffcd\n%.0s' $(seq 1 200) >bad.txt
expect 1 "bad.txt" -- "$bin" train bad.txt --init-from m.crnn -o ft.crnn

# --- evaluation sized to the work ----------------------------------------------
# A bounded part at every evaluation (said in the header, kept on resume), the
# whole splits up to a larger bound for the final figures; --eval-chars 0 reads
# them whole.
expect 0 "each validation reads the same part, at most 300 of its" -- \
  "$bin" train corpus.txt -o ev.crnn "${small[@]}" --max-iters 4 --eval-every 2 --eval-chars 300
grep -q "on its part of [23][0-9][0-9] characters.*whole split [0-9.]* over [56][0-9][0-9] of [0-9]* characters" err.txt &&
  ok || bad "the summary lacks the part and the whole split: $(tail -2 err.txt)"
expect 0 "at most 300 of its" -- "$bin" train --resume ev.crnn --max-iters 6
expect 0 "done at step 8" -- "$bin" train --resume ev.crnn --max-iters 8 --eval-chars 0
grep -q "each validation reads" err.txt && bad "--eval-chars 0 still reads a part: $(cat err.txt)" || ok
grep -q "whole split" err.txt && bad "--eval-chars 0 read the validation split twice" || ok
expect 2 "--eval-chars" -- "$bin" train corpus.txt -o ev.crnn --eval-chars -5
expect 0 "" -- "$bin" info m.crnn
grep -q "step:        40" out.txt && ok || bad "info lacks the step: $(cat out.txt)"
grep -q "format:      1.5" out.txt && ok || bad "info lacks the format"
grep -q "forget-gate bias 1$" out.txt && ok || bad "info lacks the forget-gate bias: $(cat out.txt)"

# --- other cells ------------------------------------------------------------------------
for cell in "--cell gru" "--cell rnn" "--cell rnn --activation relu"; do
  # shellcheck disable=SC2086
  expect 0 "" -- "$bin" train corpus.txt -o cell.crnn "${small[@]}" $cell --max-iters 30 --eval-every 15 -q
  expect 0 "" -- "$bin" sample cell.crnn -n 30 --seed 1
  expect 0 "" -- "$bin" train --resume cell.crnn --max-iters 32 -q
done
expect 0 "" -- "$bin" info cell.crnn
grep -q "RNN (ReLU)" out.txt && ok || bad "info lacks the cell: $(cat out.txt)"
expect 2 "--activation applies to --cell rnn only" -- "$bin" train corpus.txt --activation relu
expect 2 "--cell takes" -- "$bin" train corpus.txt --cell transformer

# --- optimizers, schedules, regularization -------------------------------------------
for extra in "--optimizer rmsprop --lr 0.01" "--optimizer sgd --lr 0.5 --schedule step --lr-decay 0.5" \
             "--schedule cosine --warmup 5" "--dropout 0.3 --weight-decay 0.01" "--reset-state"; do
  # shellcheck disable=SC2086
  expect 0 "" -- "$bin" train corpus.txt -o opt.crnn "${small[@]}" $extra --max-iters 20 --eval-every 10 -q
done
# Resume stays exact with dropout, a cosine schedule and warm-up, after --time
# stopped the first run. 1000 steps of this model take about a second on one
# slow core, on either engine: --time 0.1 must stop the run well before
# --max-iters (if it did not, the comparison below would compare two
# uninterrupted runs).
reg=(--layers 1 --hidden 64 --embed 8 --batch 8 --seq 32 --dropout 0.25 --schedule cosine --warmup 10 --optimizer rmsprop)
expect 0 "" -- "$bin" train corpus.txt -o rfull.crnn "${reg[@]}" --max-iters 1000 --eval-every 500 -q
expect 0 "" -- "$bin" train corpus.txt -o rpart.crnn "${reg[@]}" --max-iters 1000 --eval-every 500 -q --time 0.1 --no-plan
expect 0 "" -- "$bin" info rpart.crnn
part=$(sed -n 's/^step: *//p' out.txt)
[ -n "$part" ] && [ "$part" -ge 1 ] && [ "$part" -le 500 ] && ok ||
  bad "--time 0.1 did not stop training early: step ${part:-?} of 1000 (on a much faster machine, raise --max-iters)"
expect 0 "" -- "$bin" train --resume rpart.crnn -q
cmp -s rfull.crnn rpart.crnn && ok || bad "resume with dropout and a cosine schedule differs"
expect 1 "cosine schedule needs" -- "$bin" train corpus.txt -o x.crnn "${small[@]}" --schedule cosine --time 1 --no-plan
# --time with units: a run of at most 0.05 minutes (3 s), and bad durations.
expect 0 "" -- "$bin" train corpus.txt -o tu.crnn "${small[@]}" --max-iters 100000 -q --time 0.05m
step=$(sed -n 's/.*done at step \([0-9]*\).*/\1/p' err.txt)
[ "${step:-100000}" -lt 100000 ] && ok || bad "--time 0.05m did not stop the run (step ${step:-?})"
expect 2 "--time takes a duration" -- "$bin" train corpus.txt -o x.crnn --time 30x
expect 2 "--time takes a duration" -- "$bin" train corpus.txt -o x.crnn --time m
expect 2 "--time takes a duration" -- "$bin" train corpus.txt -o x.crnn --time -5s
expect 2 "--time must be at most" -- "$bin" train corpus.txt -o x.crnn --time 100000d
expect 2 "--optimizer takes" -- "$bin" train corpus.txt --optimizer lbfgs
expect 2 "--dropout must be between" -- "$bin" train corpus.txt --dropout 1.5
# Early stopping: a learning rate far too large makes validation worse at once.
expect 0 "stopping early" -- "$bin" train corpus.txt -o es.crnn "${small[@]}" --lr 5 --eval-every 2 --patience 2 --max-iters 400
# The loss log and its curves.
[ -s es.csv ] && head -1 es.csv | grep -q "^step,epoch,train_loss,val_loss" && ok || bad "no CSV log"
grep -q "<svg" es.svg && grep -q "polyline" es.svg && ok || bad "no SVG curves"
expect 0 "wrote curve.svg" -- "$bin" plot es.csv -o curve.svg
expect 1 "cannot open" -- "$bin" plot missing.csv
expect 1 "not a charrnn training log" -- "$bin" plot corpus.txt
# eval: nats per character on any file.
expect 0 "" -- "$bin" eval m.crnn corpus.txt
grep -qE "corpus.txt: [0-9.]+ nats/char, [0-9.]+ bits/char over [0-9]+ characters" out.txt && ok || bad "eval output: $(cat out.txt)"
printf 'Ω unknown' >omega.txt
expect 1 "not in the model's vocabulary" -- "$bin" eval m.crnn omega.txt --strict
# (several files, directories, unseen characters, --json: tests/eval.sh, tests/json.sh)
expect 2 "usage: charrnn eval SNAP FILE" -- "$bin" eval m.crnn

# --- resume gives the same result as never stopping ------------------------------
expect 0 "" -- "$bin" train corpus.txt -o full.crnn "${small[@]}" --max-iters 60 --eval-every 1000 -q
expect 0 "" -- "$bin" train corpus.txt -o part.crnn "${small[@]}" --max-iters 30 --eval-every 1000 -q
expect 0 "" -- "$bin" train --resume part.crnn --max-iters 60 -q
cmp -s full.crnn part.crnn && ok || bad "resumed snapshot differs from the uninterrupted one"
expect 2 "keeps its model" -- "$bin" train --resume part.crnn --hidden 32

# --- Ctrl-C saves a resumable snapshot ---------------------------------------------
"$bin" train corpus.txt -o int.crnn "${small[@]}" --max-iters 100000000 --eval-every 100000 --save-every 50 -q 2>int.err &
pid=$!
# Interrupt once training is surely under way (the first snapshot exists).
for _ in $(seq 1 600); do [ -s int.crnn ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
st=$?
[ $st = 130 ] && ok || bad "Ctrl-C exit status $st, expected 130: $(cat int.err)"
grep -q "continue with: charrnn train --resume int.crnn" int.err && ok || bad "Ctrl-C message: $(cat int.err)"
expect 0 "" -- "$bin" info int.crnn
steps=$(sed -n 's/^step: *//p' out.txt)
expect 0 "" -- "$bin" train --resume int.crnn --max-iters $((steps + 5)) -q
expect 0 "" -- "$bin" info int.crnn
grep -q "step:        $((steps + 5))" out.txt && ok || bad "resume after Ctrl-C: $(cat out.txt)"

# --- bad corpora ----------------------------------------------------------------------
expect 1 "cannot open missing.txt" -- "$bin" train missing.txt -o x.crnn
: >empty.txt
expect 1 "empty.txt is empty" -- "$bin" train empty.txt -o x.crnn
printf 'ok text\n\xc3\x28 broken' >bad.txt
expect 1 "invalid UTF-8 at byte 8 (line 2, column 1)" -- "$bin" train bad.txt -o x.crnn
expect 1 "use --lossy" -- "$bin" train bad.txt -o x.crnn
printf 'abcabc' >tiny.txt
expect 1 "is too small for batch" -- "$bin" train tiny.txt -o x.crnn
expect 1 "too small for batch 50 x sequence 50" -- "$bin" train tiny.txt -o x.crnn --batch 50 --seq 50
head -c 500 corpus.txt >small.txt
expect 0 "8 streams instead of 16" -- "$bin" train small.txt -o small.crnn --max-iters 2
expect 0 "picked 2 x 64, embedding 32, batch 16 x 50 for a 0.03 MB corpus" -- "$bin" train corpus.txt -o auto.crnn --max-iters 1

[ -e x.crnn ] && bad "a snapshot was written for a bad corpus" || ok
mkdir adir
expect 1 "adir holds no text files" -- "$bin" train adir -o x.crnn
expect 1 "needs about" -- "$bin" train corpus.txt -o x.crnn --hidden 65536 --layers 16

# --- Unicode corpora ------------------------------------------------------------------------------
for i in $(seq 1 200); do echo "日本語のテキストです。ロシア語: привет, мир! ελληνικά $i"; done >uni.txt
expect 0 "" -- "$bin" train uni.txt -o uni.crnn "${small[@]}" --max-iters 10 -q
expect 0 "" -- "$bin" sample uni.crnn -n 30 --prime "日本" --seed 1
head -c 6 out.txt | grep -q "日本" && ok || bad "unicode prime"
printf '\xef\xbb\xbf' >bom.txt
cat corpus.txt >>bom.txt
expect 0 "" -- "$bin" train bom.txt -o bom.crnn "${small[@]}" --max-iters 2 -q
expect 0 "" -- "$bin" train bad.txt --lossy -o l.crnn --layers 1 --hidden 8 --batch 1 --seq 4 --val-fraction 0.2 --test-fraction 0 --max-iters 1 -q

# --- unusual but valid corpora ---------------------------------------------------------
tiny=(--layers 1 --hidden 8 --embed 4 --batch 2 --seq 8 --max-iters 3 -q)
for i in $(seq 1 100); do printf 'a\0b\0line %d\0\n' $i; done >nul.txt
expect 0 "" -- "$bin" train nul.txt -o nul.crnn "${tiny[@]}"
for i in $(seq 1 100); do printf 'windows line %d\r\n' $i; done >crlf.txt
expect 0 "" -- "$bin" train crlf.txt -o crlf.crnn "${tiny[@]}"
expect 0 "" -- "$bin" sample crlf.crnn -n 20 --prime $'line\r\n'
head -c 3000000 /dev/zero | tr '\0' 'x' >oneline.txt   # one 3 MB line, one character
expect 0 "" -- "$bin" train oneline.txt -o one.crnn "${tiny[@]}"
expect 0 "" -- "$bin" sample one.crnn -n 5 --seed 1
[ "$(head -c 5 out.txt)" = "xxxxx" ] && ok || bad "a one-character model must write that character"
expect 0 "the rarest are mapped to U+FFFD" -- "$bin" train uni.txt -o mv.crnn "${tiny[@]}" --max-vocab 10
expect 0 "" -- "$bin" info mv.crnn
grep -q "vocabulary 10," out.txt && ok || bad "--max-vocab 10: $(cat out.txt)"
expect 0 "" -- "$bin" train --resume mv.crnn --max-iters 5 -q
expect 2 "--max-vocab must be between 2" -- "$bin" train uni.txt --max-vocab 1

# --- bad options ------------------------------------------------------------------------
expect 2 "no corpus given" -- "$bin" train
expect 2 "unknown option '--bogus'" -- "$bin" train corpus.txt --bogus
expect 2 "--hidden must be between" -- "$bin" train corpus.txt --hidden 0
expect 2 "--batch expects a whole number" -- "$bin" train corpus.txt --batch lots
expect 2 "--lr must be between" -- "$bin" train corpus.txt --lr -1
expect 2 "--normalize takes" -- "$bin" train corpus.txt --normalize nfd
expect 2 "--temperature must be between" -- "$bin" sample m.crnn -t -1
expect 2 "unknown command" -- "$bin" fly
expect 2 "" -- "$bin"
expect 0 "" -- "$bin" --help
expect 0 "" -- "$bin" train --help
grep -q -- "--resume" out.txt && ok || bad "train --help lacks --resume"
expect 0 "" -- "$bin" sample --help
expect 0 "" -- "$bin" info --help

# --- bad snapshots ------------------------------------------------------------------------
expect 1 "cannot open nothing.crnn" -- "$bin" sample nothing.crnn
expect 1 "not a charrnn snapshot" -- "$bin" sample corpus.txt
head -c 1000 m.crnn >trunc.crnn
expect 1 "truncated" -- "$bin" sample trunc.crnn
expect 1 "truncated" -- "$bin" train --resume trunc.crnn
cp m.crnn flip.crnn
printf '\x55' | dd of=flip.crnn bs=1 seek=3000 conv=notrunc 2>/dev/null
expect 1 "damaged" -- "$bin" info flip.crnn
expect 1 "never saw" -- "$bin" sample m.crnn --prime "Ω"
# Resuming against a changed corpus is refused.
cp corpus.txt changed.txt
echo "one more line" >>changed.txt
expect 1 "not the corpus" -- "$bin" train --resume m.crnn --corpus changed.txt

# --- export: sample-only files, smaller, refused for resuming ---------------------------
for d in fp32 fp16 bf16; do
  expect 0 "" -- "$bin" export m.crnn -o m-$d.crnn --dtype $d
  expect 0 "" -- "$bin" sample m-$d.crnn -n 40 --seed 3
  expect 0 "" -- "$bin" info m-$d.crnn
  grep -q "weights only, $d" out.txt && ok || bad "info of the $d export: $(cat out.txt)"
done
[ $(stat -c %s m-fp16.crnn) -le $(( $(stat -c %s m.crnn) / 2 )) ] && ok || bad "fp16 export is not at most half the snapshot"
expect 1 "weights only" -- "$bin" train --resume m-fp16.crnn
expect 2 "--dtype takes" -- "$bin" export m.crnn -o x.crnn --dtype fp8
expect 2 "usage" -- "$bin" export m.crnn

# --- NaN loss stops training, the last good snapshot stays ----------------------------------
expect 0 "" -- "$bin" train corpus.txt -o nan.crnn "${small[@]}" --max-iters 10 -q
cp nan.crnn nan-before.crnn
expect 1 "the last good snapshot is nan.crnn" -- "$bin" train corpus.txt -o nan.crnn "${small[@]}" --lr 1e38 --max-iters 50 --eval-every 1000
grep -qE "became (NaN|infinite)" err.txt && ok || bad "NaN message: $(cat err.txt)"
cmp -s nan.crnn nan-before.crnn && ok || bad "the good snapshot was overwritten after NaN"

# --- unreadable output directory: clear error -------------------------------------------------
expect 1 "cannot create" -- "$bin" train corpus.txt -o no/such/dir/m.crnn "${small[@]}" --max-iters 2

# --- the token id cache ------------------------------------------------------------------------
export CHARRNN_CACHE_DIR=$work/ids
expect 0 "tokenized" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2
grep -qF "ids cached in $work/ids/" err.txt && ok || bad "no id cache written: $(cat err.txt)"
expect 0 "token ids read from $work/ids/" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2
expect 0 "" -- "$bin" train --resume c.crnn --max-iters 4
grep -qF "token ids read from" err.txt && ok || bad "resume did not use the id cache: $(cat err.txt)"
touch -d "2001-01-01" corpus.txt # same bytes, another modification time: tokenized again
expect 0 "tokenized" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2
expect 0 "tokenized" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2 --no-cache
grep -qF "ids cached" err.txt && bad "--no-cache wrote a cache" || ok
echo "not a directory" >blocker
expect 0 "warning: no token cache" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2 --cache-dir blocker/ids
# A damaged id file is rebuilt, never trusted.
for f in "$work"/ids/corpus.txt.*.ids; do printf 'garbage' | dd of="$f" bs=1 seek=16 conv=notrunc 2>/dev/null; done
expect 0 "tokenized" -- "$bin" train corpus.txt -o c.crnn "${small[@]}" --max-iters 2
unset CHARRNN_CACHE_DIR

# --- initialisation and kernels ----------------------------------------------------------------
expect 0 "done at step 3" -- "$bin" train corpus.txt -o fb.crnn "${small[@]}" --max-iters 3 --forget-bias 0.5
expect 0 "" -- "$bin" info fb.crnn
grep -q "forget-gate bias 0.5$" out.txt && ok || bad "info does not show --forget-bias 0.5: $(cat out.txt)"
expect 0 "" -- "$bin" train --resume fb.crnn --max-iters 5 -q
expect 0 "" -- "$bin" info fb.crnn
grep -q "forget-gate bias 0.5$" out.txt && ok || bad "resuming lost --forget-bias 0.5: $(cat out.txt)"
expect 2 "--forget-bias" -- "$bin" train corpus.txt -o fb.crnn "${small[@]}" --forget-bias 11
expect 0 "" -- "$bin" --version
grep -q "gate loops" out.txt && ok || bad "--version does not name the kernels: $(cat out.txt)"
# OpenBLAS's restart with better kernels: tests/openblas_restart.sh.

# The LSTM engine: the header names it. The oneDNN engine: tests/onednn.sh.
expect 2 "--engine takes" -- "$bin" train corpus.txt -o e.crnn "${small[@]}" --engine fast
expect 0 "charrnn's own cells" -- "$bin" train corpus.txt -o e.crnn "${small[@]}" --max-iters 4 --engine own

# With no model given, a charrnn outside build/ (meson setup elsewhere) still
# finds the shipped one: in the installed data directory or the source tree.
mkdir -p elsewhere && cp "$bin" elsewhere/charrnn
expect 0 "" -- env -u CHARRNN_MODEL elsewhere/charrnn sample -n 20 --seed 1
[ "$(wc -m <out.txt)" -ge 20 ] && ok || bad "no sample from the shipped model: $(cat err.txt)"

finish e2e
