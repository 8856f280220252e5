#!/usr/bin/env bash
# charrnn eval end to end: characters the model never saw (left out, or
# scored as U+FFFD), --strict, several files and directories (sorted, hidden
# skipped, empty files skipped), the weighted total, and the errors.
# usage: tests/eval.sh path/to/charrnn
set -u
bin=$(realpath "${1:?usage: eval.sh path/to/charrnn}")
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work eval
tiny=(--layers 1 --hidden 16 --embed 8 --batch 4 --seq 16 --max-iters 5 -q)

expect 0 "" -- "$bin" train corpus.txt -o m.crnn "${tiny[@]}"
# 11 characters and U+FFFD for the rest
expect 0 "" -- "$bin" train corpus.txt -o mv.crnn "${tiny[@]}" --max-vocab 12

# figures FILE: "X nats/char, Y bits/char over N characters" of FILE's line in out.txt
figures() { grep -F -- "$1: " out.txt | sed -n 's/^.*: \([0-9.]* nats\/char, [0-9.]* bits\/char over [0-9]* characters\).*/\1/p'; }

# --- characters the model never saw ----------------------------------------------------
head -20 corpus.txt >clean.txt
sed '2s/^\(....\)/\1Ω/; 5s/$/€Ω/' clean.txt >dirty.txt
expect 0 "" -- "$bin" eval m.crnn clean.txt
clean=$(figures clean.txt)
[ -n "$clean" ] && [ "$(wc -l <out.txt)" = 1 ] && ok || bad "eval of one file: $(cat out.txt)"
expect 0 "" -- "$bin" eval m.crnn dirty.txt
# Left out: the same figures as the text without them.
[ "$(figures dirty.txt)" = "$clean" ] && ok ||
  bad "unseen characters left out: '$(figures dirty.txt)', the text without them: '$clean'"
grep -qF "dirty.txt: $clean, 3 unseen characters (left out): 'Ω' (U+03A9), '€' (U+20AC)" out.txt && ok ||
  bad "the unseen characters are not reported: $(cat out.txt)"
expect 1 "dirty.txt: character 'Ω' (U+03A9) at line 2, column 5 is not in the model's vocabulary" -- \
  "$bin" eval m.crnn dirty.txt --strict
expect 0 "" -- "$bin" eval m.crnn clean.txt --strict
# More distinct ones than the report names.
printf 'αβγδεζηθικ the dog\n' >greek.txt
expect 0 "" -- "$bin" eval m.crnn greek.txt
grep -qF "10 unseen characters (left out): 'α' (U+03B1), 'β' (U+03B2), 'γ' (U+03B3), 'δ' (U+03B4), 'ε' (U+03B5), 'ζ' (U+03B6), 'η' (U+03B7), 'θ' (U+03B8) and 2 more" out.txt &&
  ok || bad "ten distinct unseen characters: $(cat out.txt)"

# A vocabulary with U+FFFD: they are scored as U+FFFD, the same figures as
# the text with U+FFFD written in their place.
sed 's/Ω/\xef\xbf\xbd/g; s/€/\xef\xbf\xbd/g' dirty.txt >replaced.txt
# unseen FILE: the count of unseen characters scored as U+FFFD on FILE's line
unseen() { grep -F -- "$1: " out.txt | sed -n 's/.*, \([0-9]*\) unseen characters (scored as U+FFFD).*/\1/p'; }
expect 0 "" -- "$bin" eval mv.crnn replaced.txt
replaced=$(figures replaced.txt) replaced_unseen=$(unseen replaced.txt)
expect 0 "" -- "$bin" eval mv.crnn dirty.txt
[ -n "$replaced" ] && [ "$(figures dirty.txt)" = "$replaced" ] && ok ||
  bad "unseen characters as U+FFFD: '$(figures dirty.txt)', with U+FFFD written: '$replaced'"
# (the rarer letters of the corpus are unseen for this model too)
[ -n "$replaced_unseen" ] && [ "$(unseen dirty.txt)" = $((replaced_unseen + 3)) ] && ok ||
  bad "scored as U+FFFD: $(cat out.txt); with U+FFFD written: $replaced_unseen unseen"
expect 1 "is not in the model's vocabulary" -- "$bin" eval mv.crnn dirty.txt --strict

# Invalid UTF-8 stays an error naming the place.
printf 'ok text\n\xc3\x28 broken' >bad.txt
expect 1 "bad.txt: invalid UTF-8 at byte 8 (line 2, column 1)" -- "$bin" eval m.crnn clean.txt bad.txt

# --- several files and directories ---------------------------------------------------------
mkdir -p texts/sub texts/.git
cp clean.txt texts/b.txt
cp dirty.txt texts/sub/a.txt
sed -n 30,40p corpus.txt >texts/A.txt
: >texts/empty.txt
printf 'x%.0s' $(seq 1 100) >texts/x.txt # scores far from the others: weights matter
printf '\xff' >texts/.hidden.txt # invalid UTF-8: read, it would fail
printf '\xff' >texts/.git/x.txt
expect 0 "" -- "$bin" eval m.crnn texts
[ "$(cut -d: -f1 out.txt | tr '\n' ' ')" = "texts/A.txt texts/b.txt texts/empty.txt texts/sub/a.txt texts/x.txt total " ] &&
  ok || bad "directory order: $(cat out.txt)"
[ "$(figures texts/b.txt)" = "$clean" ] && [ "$(figures texts/sub/a.txt)" = "$clean" ] && ok ||
  bad "a file's figures depend on the files before it: $(cat out.txt)"
grep -qxF "texts/empty.txt: skipped (empty)" out.txt && ok || bad "empty file not skipped: $(cat out.txt)"
grep -qF "in 5 files (1 skipped), 3 unseen characters (left out): 'Ω' (U+03A9), '€' (U+20AC)" out.txt &&
  ok || bad "total line: $(cat out.txt)"
# The total is the character-weighted mean of the files.
awk '/^texts\/.*nats\/char/ { s += $2 * $7; c += $7 }
     /^total:/ { t = $2; tc = $7 }
     END { d = s / c - t; if (d < 0) d = -d; exit !(d <= 0.00011 && c == tc) }' out.txt && ok ||
  bad "the total is not the weighted mean of the files: $(cat out.txt)"
# Files as given, in argument order, hidden or not, with directories in place.
expect 0 "" -- "$bin" eval m.crnn texts/b.txt texts/sub texts/A.txt
[ "$(cut -d: -f1 out.txt | tr '\n' ' ')" = "texts/b.txt texts/sub/a.txt texts/A.txt total " ] && ok ||
  bad "argument order: $(cat out.txt)"
cp clean.txt ./-dash.txt
expect 0 "" -- "$bin" eval m.crnn -- -dash.txt
[ "$(figures -dash.txt)" = "$clean" ] && ok || bad "a file after --: $(cat out.txt)"

# --- errors ----------------------------------------------------------------------------------
mkdir notext void
: >notext/.x
expect 1 "notext holds no text files" -- "$bin" eval m.crnn clean.txt notext
[ -s out.txt ] && bad "files were scored before the listing failed: $(cat out.txt)" || ok
expect 1 "void holds no text files" -- "$bin" eval m.crnn void
expect 1 "cannot open missing.txt" -- "$bin" eval m.crnn clean.txt missing.txt
expect 1 "corpus.txt is not a charrnn snapshot" -- "$bin" eval corpus.txt clean.txt
expect 1 "cannot open nothing.crnn" -- "$bin" eval nothing.crnn clean.txt
expect 1 "texts/empty.txt is empty" -- "$bin" eval m.crnn texts/empty.txt
printf 'a' >one.txt
expect 1 "one.txt is too short to evaluate" -- "$bin" eval m.crnn one.txt
expect 1 "nothing to evaluate: each of the 2 files is empty or too short" -- \
  "$bin" eval m.crnn texts/empty.txt one.txt
expect 2 "usage: charrnn eval SNAP FILE" -- "$bin" eval m.crnn
expect 2 "unknown option '--bogus'" -- "$bin" eval m.crnn clean.txt --bogus
expect 0 "" -- "$bin" eval --help
grep -q -- "--strict" out.txt && grep -q -- "--json" out.txt && ok || bad "eval --help: $(cat out.txt)"

finish eval
