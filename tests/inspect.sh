#!/usr/bin/env bash
# charrnn inspect end to end: the report's data against charrnn eval (the
# same figure on the same text), its shape (one entry per character, every
# cell's activation, the properties, the weights, the log beside the
# snapshot), the cut, characters the model never saw marked and counted, and
# every error (a directory, an empty or one-character text, invalid UTF-8, a
# text as the model, a missing model, usage), none of which touches an
# existing report. The page in a browser is inspect_page's (report_page.sh).
# usage: tests/inspect.sh path/to/charrnn with|without   (jansson in the build)
set -u
bin=$(realpath "${1:?usage: inspect.sh path/to/charrnn with|without}")
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work inspect
if [ "${2:-with}" = without ]; then
  expect 2 "built without jansson" -- "$bin" inspect m.crnn corpus.txt -o r.html
  [ "$fail" = 0 ] || finish inspect
  skip inspect "this charrnn was built without jansson"
fi
command -v python3 >/dev/null || skip inspect "no python3 to read the report's data"

expect 0 "" -- "$bin" train corpus.txt -o m.crnn --layers 2 --hidden 24 --embed 8 --batch 4 \
  --seq 32 --max-iters 40 --eval-every 10 -q
head -c 1500 corpus.txt >text.txt
printf 'Ωmega (and "quoted [words]") é <!--<script> </script>\n' >>text.txt
expect 0 "cells that follow" -- "$bin" inspect m.crnn text.txt -o r.html
grep -q "never saw" err.txt && ok || bad "the summary does not mention the unseen characters"
expect 0 "" -- "$bin" eval m.crnn text.txt --device cpu
eval_figure=$(sed -n 's/.*: \([0-9.]*\) nats\/char.*over \([0-9]*\) characters.*/\1 \2/p' out.txt)

# The report's data, checked with python3's json.
check_report() { # REPORT EVAL_FIGURE CHARS CUT
  python3 - "$@" <<'PY'
import base64, json, math, re, sys
path, figure, chars, cut = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4] == "1"
html = open(path, encoding="utf-8").read()
m = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
if not m or m.group(1) == "{}":
    sys.exit("FAIL: no data in the report")
d = json.loads(m.group(1))
fail = []
n = len(d["text"]["chars"])
if n != chars: fail.append(f"{n} characters, expected {chars}")
if d["text"]["cut"] != cut: fail.append(f"cut is {d['text']['cut']}")
s = d["surprise"]
for k in ("bits", "prob", "top"):
    if len(s[k]) != n: fail.append(f"surprise.{k} has {len(s[k])} entries")
bits = [b for b in s["bits"] if b is not None]
if len(bits) != s["predicted"]: fail.append(f"{len(bits)} bits for {s['predicted']} predicted")
npc = sum(bits) * math.log(2) / len(bits)
if figure:
    want, over = float(figure[0]), int(figure[1])
    if abs(round(s["nats_per_char"], 4) - want) > 1e-9 or s["predicted"] != over:
        fail.append(f"{s['nats_per_char']} over {s['predicted']}, eval says {want} over {over}")
if abs(npc - s["nats_per_char"]) > 1e-6 * s["nats_per_char"]:
    fail.append(f"the bits sum to {npc}, not {s['nats_per_char']}")
c = d["cells"]
if len(base64.b64decode(c["data"])) != c["layers"] * c["hidden"] * n:
    fail.append("cells.data is not layers x hidden x positions bytes")
names = [p["name"] for p in c["properties"]]
for want in ("position in line", "start of a word", "space"):
    if want not in names: fail.append(f"no property {want}")
for p in c["properties"]:
    if len(p["values"]) != n or not p["best"] or not all(-1 <= b["r"] <= 1 for b in p["best"]):
        fail.append(f"property {p['name']} is malformed")
if len(d["weights"]) != 1 + 3 * d["model"]["layers"] + 2: fail.append("weights")
if d["model"]["cell"] == "lstm" and len(d["saturation"]) != 4 * d["model"]["layers"]:
    fail.append("saturation")
if not d["log"] or "step" not in d["log"]["columns"] or not d["log"]["rows"]:
    fail.append("no training log")
if sum(v["count"] for v in d["vocabulary"]) + d["text"]["unseen"] < n - 5:
    fail.append("vocabulary counts")
if "Ω" in d["text"]["chars"]:
    at = d["text"]["chars"].index("Ω")
    if at not in d["text"]["unseen_positions"] or d["text"]["unseen"] < 1 or "U+03A9" not in d["text"]["unseen_chars"]:
        fail.append("the unseen Ω is not marked")
if fail:
    sys.exit("FAIL: " + "; ".join(fail))
PY
}
total=$(python3 -c 'import sys; print(len(open(sys.argv[1], encoding="utf-8").read()))' text.txt)
check_report r.html "$eval_figure" "$total" 0 && ok || bad "report data (see above)"
grep -q '^<script id="data" type="application/json">{}</script>' r.html &&
  bad "the placeholder is still in the report" || ok

# The cut: the first 200 characters, the figure of those.
expect 0 "(cut)" -- "$bin" inspect m.crnn text.txt -o cut.html --chars 200
python3 -c 'import sys; open("first.txt", "w", encoding="utf-8").write(open(sys.argv[1], encoding="utf-8").read()[:200])' text.txt
expect 0 "" -- "$bin" eval m.crnn first.txt --device cpu
first_figure=$(sed -n 's/.*: \([0-9.]*\) nats\/char.*over \([0-9]*\) characters.*/\1 \2/p' out.txt)
check_report cut.html "$first_figure" 200 1 && ok || bad "cut report data (see above)"

# A model with U+FFFD reads unseen characters as it: all of them marked, not
# only the first few distinct ones the summary names.
expect 0 "" -- "$bin" train corpus.txt -o mv.crnn --layers 1 --hidden 16 --embed 8 --batch 4 \
  --seq 16 --max-iters 5 --max-vocab 20 -q
{ head -c 300 corpus.txt; printf 'αβγδεζηθικλ αβγδεζηθικλ\n'; } >greek.txt
expect 0 "" -- "$bin" inspect mv.crnn greek.txt -o g.html
python3 - g.html <<'PY' && ok || bad "not every unseen character is marked"
import json, re, sys
d = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>',
                         open(sys.argv[1], encoding="utf-8").read(), re.S).group(1))
t = d["text"]
marked = set(t["unseen_positions"])
greek = {i for i, c in enumerate(t["chars"]) if "α" <= c <= "λ"}
sys.exit(0 if greek <= marked and t["unseen"] >= len(greek) else f"{len(greek - marked)} unmarked")
PY

# Errors: each named, exit 1 (2 for usage), and r.html left as it was.
cp r.html before.html
mkdir adir
: >empty.txt
printf 'x' >one.txt
printf 'ab\xffcd' >bad.txt
expect 1 "is a directory" -- "$bin" inspect m.crnn adir -o r.html
expect 1 "empty.txt is empty" -- "$bin" inspect m.crnn empty.txt -o r.html
expect 1 "one.txt has fewer than 2" -- "$bin" inspect m.crnn one.txt -o r.html
expect 1 "bad.txt" -- "$bin" inspect m.crnn bad.txt -o r.html
expect 1 "not a charrnn snapshot" -- "$bin" inspect text.txt text.txt -o r.html
expect 1 "cannot open nothing.crnn" -- "$bin" inspect nothing.crnn text.txt -o r.html
expect 1 "cannot open missing.txt" -- "$bin" inspect m.crnn missing.txt -o r.html
expect 1 "cannot write" -- "$bin" inspect m.crnn text.txt -o no/such/dir/r.html
expect 2 "-o REPORT.html" -- "$bin" inspect m.crnn text.txt
expect 2 "give a model and a text" -- "$bin" inspect m.crnn
expect 2 "--chars must be" -- "$bin" inspect m.crnn text.txt -o r.html --chars 1
expect 2 "--chars must be" -- "$bin" inspect m.crnn text.txt -o r.html --chars 20001
expect 0 "" -- "$bin" inspect --help
cmp -s r.html before.html && ok || bad "a failed inspect changed the existing report"
ls r.html.tmp 2>/dev/null && bad "a temporary report was left behind" || ok
finish inspect
