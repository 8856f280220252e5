#!/usr/bin/env bash
# --json of charrnn eval and info: parsed (python3) and checked against the
# plain output and against itself (the total is the character-weighted mean
# of the files). Without jansson: --json is a usage error, then SKIP.
# usage: tests/json.sh path/to/charrnn with|without
set -u
bin=$(realpath "${1:?usage: json.sh path/to/charrnn with|without}")
have=${2:?with or without jansson}
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work json

if [ "$have" = without ]; then
  expect 2 "--json needs JSON support, which this charrnn was built without" -- \
    "$bin" eval m.crnn corpus.txt --json
  expect 2 "built without (install libjansson-dev" -- "$bin" info m.crnn --json
  [ "$fail" = 0 ] || finish json
  skip json "built without jansson (-Djson=disabled, or no libjansson-dev)"
fi
command -v python3 >/dev/null || skip json "no python3 to read the JSON"

tiny=(--layers 1 --hidden 16 --embed 8 --batch 4 --seq 16 --max-iters 5 -q)
expect 0 "" -- "$bin" train corpus.txt -o m.crnn "${tiny[@]}"
mkdir -p texts/sub
head -20 corpus.txt >texts/b.txt
sed -n 30,40p corpus.txt | sed '2s/^\(....\)/\1Ω/; 5s/$/€Ω/' >texts/sub/a.txt
printf 'x%.0s' $(seq 1 100) >texts/x.txt
: >texts/empty.txt

# --- eval --------------------------------------------------------------------------
expect 0 "" -- "$bin" eval m.crnn texts
cp out.txt plain.txt
expect 0 "" -- "$bin" eval m.crnn texts --json
cp out.txt eval.json
# Checks each file and the total against the plain lines ("P: X nats/char, Y
# bits/char over N characters[, K unseen characters ...]", "P: skipped (...)",
# "total: ...") and the total against the files.
cat >check_eval.py <<'EOF'
import json, math, re, sys
doc = json.load(open("eval.json"))
plain = open("plain.txt", encoding="utf-8").read().splitlines()
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)
need(doc["snapshot"] == "m.crnn" and doc["strict"] is False and doc["unseen_as_unknown"] is False,
     "header: %r" % {k: doc[k] for k in ("snapshot", "strict", "unseen_as_unknown")})
files, total = doc["files"], doc["total"]
lines = {l.split(": ")[0]: l for l in plain}
need([f["path"] for f in files] == [l.split(": ")[0] for l in plain if not l.startswith("total: ")],
     "file order: %r" % [f["path"] for f in files])
fig = re.compile(r": ([0-9.]+) nats/char, ([0-9.]+) bits/char over ([0-9]+) characters")
def agrees(report, line):
    m = fig.search(line)
    return (m and "%.4f" % report["nats_per_char"] == m.group(1)
            and "%.4f" % report["bits_per_char"] == m.group(2)
            and report["characters"] == int(m.group(3))
            and abs(report["bits_per_char"] - report["nats_per_char"] / math.log(2)) < 1e-12)
for f in files:
    line = lines.get(f["path"], "")
    if f["skipped"]:
        need(f["nats_per_char"] is None and f["bits_per_char"] is None and f["characters"] == 0
             and "skipped" in line, "skipped file: %r / %r" % (f, line))
    else:
        need(agrees(f, line), "file: %r / %r" % (f, line))
a = [f for f in files if f["path"] == "texts/sub/a.txt"]
need(a and a[0]["unseen"] == 3 and a[0]["unseen_distinct"] == 2
     and a[0]["unseen_examples"] == ["Ω", "€"], "unseen characters: %r" % a)
scored = [f for f in files if not f["skipped"]]
chars = sum(f["characters"] for f in scored)
mean = sum(f["nats_per_char"] * f["characters"] for f in scored) / chars
need(total["files"] == 4 and total["skipped"] == 1 and total["characters"] == chars
     and abs(total["nats_per_char"] - mean) < 1e-12 * mean, "total: %r, expected %r over %d"
     % (total, mean, chars))
need(total["unseen"] == 3 and total["unseen_examples"] == ["Ω", "€"], "total unseen: %r" % total)
need(agrees(total, lines.get("total", "")), "total: %r / %r" % (total, lines.get("total")))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
python3 check_eval.py >check.txt 2>&1 && ok || bad "eval --json: $(cat check.txt)"
# One file: a total too; --strict recorded.
expect 0 "" -- "$bin" eval m.crnn texts/b.txt --json --strict
python3 -c 'import json,sys; d=json.load(open("out.txt")); sys.exit(not (d["strict"] and len(d["files"]) == 1 and d["total"]["characters"] == d["files"][0]["characters"] > 0))' &&
  ok || bad "eval --json of one file: $(cat out.txt)"
# Failures print no JSON.
expect 1 "cannot open missing.txt" -- "$bin" eval m.crnn texts missing.txt --json
[ -s out.txt ] && bad "JSON printed for a failed eval: $(cat out.txt)" || ok
expect 1 "is not in the model's vocabulary" -- "$bin" eval m.crnn texts --json --strict
[ -s out.txt ] && bad "JSON printed for a failed eval: $(cat out.txt)" || ok

# --- info ----------------------------------------------------------------------------
check_info() { # SNAP: info --json against info
  expect 0 "" -- "$bin" info "$1"
  cp out.txt info.txt
  expect 0 "" -- "$bin" info "$1" --json
  python3 - "$1" >check.txt 2>&1 <<'EOF' && ok || bad "info --json of $1: $(cat check.txt)"
import json, math, sys
d = json.load(open("out.txt"))
text = {}
for line in open("info.txt", encoding="utf-8"):
    key, _, value = line.partition(":")
    text[key] = value.strip()
weights = "full snapshot" if d["resumable"] else "weights only, " + d["weights"]
cell = {"lstm": "LSTM", "gru": "GRU", "rnn-tanh": "RNN (tanh)", "rnn-relu": "RNN (ReLU)"}[d["cell"]]
want = {
    "file": d["file"],
    "format": d["format"],
    "size": "%d bytes (%d uncompressed)" % (d["file_bytes"], d["payload_bytes"]),
    "model": "%d x %d %s, embedding %d, vocabulary %d, %d weights"
             % (d["layers"], d["hidden"], cell, d["embed"], d["vocabulary"], d["parameters"]),
    "step": str(d["step"]),
    "corpus": "%s (%d bytes, CRC %08x)" % (d["corpus"], d["corpus_bytes"], d["corpus_crc"]),
}
bad = [k for k in want if text.get(k) != want[k]]
bad += [] if text["contents"].startswith(weights) else ["contents"]
training = "batch %d x seq %d, lr %g, clip %g, seed %d" % (d["batch"], d["seq"], d["learning_rate"],
                                                          d["clip"], d["seed"])
if d["forget_bias"] is not None:
    training += ", forget-gate bias %g" % d["forget_bias"]
bad += [] if text["training"].startswith(training) else ["training"]
if d["validation_loss"] is None:
    bad += ["validation"] if "validation" in text or d["best_validation_loss"] is not None else []
else:
    v = "%.4f nats/char (%.4f bits); best %.4f" % (d["validation_loss"], d["validation_bits"],
                                                   d["best_validation_loss"])
    bad += [] if text.get("validation") == v else ["validation"]
    bad += [] if abs(d["validation_bits"] * math.log(2) - d["validation_loss"]) < 1e-12 else ["bits"]
for k in bad:
    print("%s: text %r, JSON %r" % (k, text.get(k), {x: d[x] for x in d if x.startswith(k[:4])}))
sys.exit(1 if bad else 0)
EOF
}
check_info m.crnn
grep -q '"learning_rate": 0.002,' out.txt && ok || bad "learning rate not as given: $(grep rate out.txt)"
# No validation split: the losses are null.
expect 0 "" -- "$bin" train corpus.txt -o noval.crnn "${tiny[@]}" --val-fraction 0
check_info noval.crnn
grep -q '"validation_loss": null' out.txt && ok || bad "NaN loss not null: $(cat out.txt)"
expect 0 "" -- "$bin" train corpus.txt -o gru.crnn "${tiny[@]}" --cell gru
expect 0 "" -- "$bin" export gru.crnn -o gru16.crnn --dtype fp16
check_info gru16.crnn
grep -q '"forget_bias": null' out.txt && grep -q '"weights": "fp16"' out.txt && ok ||
  bad "info --json of a GRU export: $(cat out.txt)"
expect 1 "not a charrnn snapshot" -- "$bin" info corpus.txt --json
[ -s out.txt ] && bad "JSON printed for a failed info: $(cat out.txt)" || ok

finish json
