#!/usr/bin/env bash
# charrnn serve end to end, with curl on loopback: plain, streamed (SSE) and
# n > 1 completions checked against `charrnn sample` (same seed, same text),
# stop texts, /v1/models, /health, the page, every refusal (status and JSON
# error), 429 beyond the queue, 401 without the API key, clients leaving
# mid-request, 16 clients at once, idle connections, and SIGTERM. Servers
# listen on a free port (--port 0; the startup line names it).
# Without the server built in: `charrnn serve` must say so, then SKIP.
# usage: tests/serve.sh path/to/charrnn with|without
set -u
bin=$(realpath "${1:?usage: serve.sh path/to/charrnn with|without}")
have=${2:?with or without the server}
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work serve

if [ "$have" = without ]; then
  expect 2 "built without the server" -- "$bin" serve m.crnn
  grep -q "libmicrohttpd-dev" err.txt && ok || bad "no package named: $(cat err.txt)"
  [ "$fail" = 0 ] || finish serve
  skip serve "built without the server (-Dserver=disabled, or no libmicrohttpd-dev)"
fi
command -v curl >/dev/null || skip serve "no curl"
command -v python3 >/dev/null || skip serve "no python3 to read the JSON"

servers=()
stop_servers() {
  local p
  for p in "${servers[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap stop_servers EXIT

# serve LOG ARGS...: starts charrnn serve on a free port; sets pid and url.
serve() {
  local log=$1 i
  shift
  "$bin" serve --port 0 --threads 1 "$@" 2>"$log" &
  pid=$!
  servers+=("$pid")
  for i in $(seq 1 200); do
    url=$(grep -so 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  bad "the server did not start: $(cat "$log")"
  finish serve
}

# post BODY [curl options...]: POSTs to /v1/completions; the status goes to
# $code, the body to out.json.
post() {
  local body=$1
  shift
  code=$(curl -s -o out.json -w '%{http_code}' "$@" -H 'Content-Type: application/json' \
    --data-binary "$body" "$url/v1/completions")
}

# check WHAT PYTHON: evaluates a Python condition on d, the JSON of out.json.
check() {
  if python3 -c 'import json,sys; d=json.load(open("out.json", encoding="utf-8")); sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" 2>py.err; then
    ok
  else
    bad "$1: $(head -c 600 out.json) $(tail -1 py.err)"
  fi
}

# refused STATUS PARAM NEEDLE BODY: a refusal with OpenAI's error object.
refused() {
  local want=$1 param=$2 needle=$3 body=$4
  post "$body"
  if [ "$code" != "$want" ]; then
    bad "$body: status $code, expected $want: $(head -c 300 out.json)"
    return
  fi
  check "$body: error object" "set(d) == {'error'} and set(d['error']) == {'message', 'type', 'param', 'code'} and d['error']['type'] == 'invalid_request_error' and d['error']['param'] == ($([ -n "$param" ] && echo "'$param'" || echo None)) and '''$needle''' in d['error']['message']"
}

# text_of FILE: the choices' texts of a completion, one per line (Python repr).
sample_text() { # SEED PRIME N [sample options]: what charrnn sample writes after the prime
  local seed=$1 prime=$2 n=$3
  shift 3
  "$bin" sample m.crnn --seed "$seed" --prime "$prime" -n "$n" "$@" | python3 -c '
import sys; t = sys.stdin.read(); p = sys.argv[1]
assert t.startswith(p) and t.endswith("\n"); sys.stdout.write(repr(t[len(p):-1]))' "$prime"
}

tiny=(--layers 1 --hidden 24 --embed 8 --batch 4 --seq 16 --max-iters 60 -q)
expect 0 "" -- "$bin" train corpus.txt -o m.crnn "${tiny[@]}"
cp m.crnn other.model

# --- the command line ----------------------------------------------------------------
expect 2 "are both named 'm'" -- "$bin" serve m.crnn sub/m.crnn
expect 2 "no model given" -- "$bin" serve
expect 2 "--api-key would show the key" -- "$bin" serve m.crnn --api-key secret
expect 2 "--port must be between 0 and 65535" -- "$bin" serve m.crnn --port 70000
expect 1 "missing.crnn" -- "$bin" serve missing.crnn --port 0
: >empty.key
expect 1 "has no key on its first line" -- "$bin" serve m.crnn --api-key-file empty.key --port 0
expect 0 "" -- "$bin" serve --help
grep -q "max-clients" out.txt && ok || bad "serve --help: $(cat out.txt)"

# --- one model: the API --------------------------------------------------------------
serve s1.log m.crnn --max-length 200 --max-clients 4
main_url=$url main_pid=$pid
grep -q "model m (m.crnn) on http://127.0.0.1:[0-9]*/ with 1 compute threads, 4 streams at once and a queue of 64 per model" s1.log &&
  ok || bad "startup line: $(cat s1.log)"

code=$(curl -s -o out.json -w '%{http_code}' "$url/health")
[ "$code" = 200 ] && ok || bad "/health: $code"
check "/health" "d == {'status': 'ok'}"
code=$(curl -s -o out.json -w '%{http_code}' "$url/v1/models")
check "/v1/models" "d['object'] == 'list' and [m['id'] for m in d['data']] == ['m'] and d['data'][0]['object'] == 'model' and d['data'][0]['owned_by'] == 'charrnn' and d['data'][0]['created'] > 0"
code=$(curl -s -o out.json -w '%{http_code}' "$url/v1/models/m")
check "/v1/models/m" "d['id'] == 'm'"
code=$(curl -s -o page.html -w '%{http_code} %{content_type}' "$url/")
[ "$code" = "200 text/html; charset=utf-8" ] && grep -q "/v1/completions" page.html && ok ||
  bad "the page: $code $(head -c 200 page.html)"

# A plain completion: OpenAI's shape, and the text `charrnn sample` writes
# with the same seed and prime (minus the prime and the final newline).
post '{"model":"m","prompt":"the ","max_tokens":40,"seed":5}'
[ "$code" = 200 ] && ok || bad "completion: status $code: $(cat out.json)"
cp out.json plain.json
want=$(sample_text 5 "the " 40)
check "completion" "d['object'] == 'text_completion' and d['id'].startswith('cmpl-') and d['model'] == 'm' and d['created'] > 0 and len(d['choices']) == 1 and d['choices'][0] == {'text': $want, 'index': 0, 'logprobs': None, 'finish_reason': 'length'} and d['usage'] == {'prompt_tokens': 4, 'completion_tokens': 40, 'total_tokens': 44}"
# Same seed, same text; the model may be left out when there is one.
post '{"prompt":"the ","max_tokens":40,"seed":5,"top_k":0,"top_p":1,"echo":false,"logprobs":null,"user":"x","presence_penalty":0}'
check "same seed" "d['choices'][0]['text'] == $want"
post '{"prompt":"the ","max_tokens":40,"seed":6}'
check "another seed" "d['choices'][0]['text'] != $want"
# No prompt: starts as after a line break, like charrnn sample without --prime.
post '{"max_tokens":30,"seed":9,"temperature":0.5}'
want=$("$bin" sample m.crnn --seed 9 -n 30 -t 0.5 | python3 -c 'import sys; sys.stdout.write(repr(sys.stdin.read()[:-1]))')
check "no prompt" "d['choices'][0]['text'] == $want and d['usage']['prompt_tokens'] == 0"
# max_tokens defaults to 16 (OpenAI's default) and may be 0.
post '{"prompt":"a"}'
check "default max_tokens" "d['usage']['completion_tokens'] == 16 and len(d['choices'][0]['text']) == 16"
post '{"prompt":"a","max_tokens":0}'
check "max_tokens 0" "d['choices'][0] == {'text': '', 'index': 0, 'logprobs': None, 'finish_reason': 'length'}"

# n choices: choice i is the sample of seed + i.
post '{"prompt":"the ","max_tokens":25,"seed":11,"n":3,"temperature":0.9}'
w0=$(sample_text 11 "the " 25 -t 0.9) w1=$(sample_text 12 "the " 25 -t 0.9) w2=$(sample_text 13 "the " 25 -t 0.9)
check "n 3" "[c['text'] for c in d['choices']] == [$w0, $w1, $w2] and [c['index'] for c in d['choices']] == [0, 1, 2] and d['usage']['completion_tokens'] == 75"
# A prompt array: n choices per prompt, prompt by prompt, seeds counting on.
post '{"prompt":["the ","fox "],"max_tokens":20,"seed":20,"n":2}'
w2=$(sample_text 22 "fox " 20)
check "prompt array" "len(d['choices']) == 4 and d['choices'][2]['text'] == $w2 and d['choices'][3]['index'] == 3 and d['usage']['prompt_tokens'] == 8"

# Stop texts: the text ends before the first one, which is left out.
post '{"prompt":"the ","max_tokens":200,"seed":3,"stop":"o"}'
want=$("$bin" sample m.crnn --seed 3 --prime "the " -n 200 --stop o | python3 -c '
import sys; t = sys.stdin.read(); assert t.startswith("the ") and t.endswith("o\n"); sys.stdout.write(repr(t[4:-2]))')
check "stop" "d['choices'][0]['text'] == $want and d['choices'][0]['finish_reason'] == 'stop' and 'o' not in d['choices'][0]['text']"
post '{"prompt":"the ","max_tokens":200,"seed":3,"stop":["zzzz","o","e"]}'
check "stop list" "d['choices'][0]['finish_reason'] == 'stop' and 'o' not in d['choices'][0]['text'] and 'e' not in d['choices'][0]['text']"

# Streamed: Server-Sent Events in OpenAI's format, the same text as plain.
for n in 1 2; do
  curl -sN -D headers.txt -o events.txt "$url/v1/completions" \
    -d "{\"prompt\":\"the \",\"max_tokens\":40,\"seed\":5,\"stream\":true,\"n\":$n}"
  grep -qi '^content-type: text/event-stream' headers.txt && ok || bad "stream: $(cat headers.txt)"
  python3 - "$n" >check.txt 2>&1 <<'EOF' && ok || bad "stream n=$n: $(cat check.txt) $(head -c 800 events.txt)"
import json, sys
n = int(sys.argv[1])
raw = open("events.txt", encoding="utf-8").read()
assert raw.endswith("data: [DONE]\n\n"), "no [DONE] at the end"
events = raw.split("\n\n")[:-1]
assert all(e.startswith("data: ") and "\n" not in e for e in events), "not one data line per event"
assert events.count("data: [DONE]") == 1
texts, reasons = [""] * n, [None] * n
ids = set()
for e in events[:-1]:
    d = json.loads(e[6:])
    assert d["object"] == "text_completion" and d["model"] == "m" and len(d["choices"]) == 1
    ids.add(d["id"])
    c = d["choices"][0]
    assert set(c) == {"text", "index", "logprobs", "finish_reason"} and c["logprobs"] is None
    i = c["index"]
    assert reasons[i] is None, "a chunk after the last one of choice %d" % i
    texts[i] += c["text"]
    reasons[i] = c["finish_reason"]
assert len(ids) == 1, ids
assert reasons == ["length"] * n, reasons
plain = json.load(open("plain.json"))["choices"][0]["text"]
assert texts[0] == plain, (texts[0], plain)
EOF
done

# --- refusals --------------------------------------------------------------------------
refused 400 "" "not valid JSON" '{"prompt": "x",'
refused 400 "" "not valid JSON" ''
refused 400 "" "must be a JSON object" '["prompt"]'
refused 400 "" "duplicate" '{"prompt":"a","prompt":"b"}'
refused 400 prompt "must be a string or an array of strings" '{"prompt":3}'
refused 400 prompt "token ids are not taken" '{"prompt":[[1,2]]}'
refused 400 prompt "empty array" '{"prompt":[]}'
refused 400 prompt "never saw" '{"prompt":"the Ω"}'
refused 400 prompt "'Ω' (U+03A9)" '{"prompt":["a","bΩ"]}'
refused 400 prompt "at most 200 (--max-length)" "{\"prompt\":\"$(printf 'a%.0s' $(seq 1 201))\"}"
refused 400 model "model 'nope' is not served here (models: m)" '{"model":"nope","prompt":"a"}'
refused 400 model "must be a string" '{"model":1}'
refused 400 max_tokens "between 0 and 200 (--max-length)" '{"max_tokens":201}'
refused 400 max_tokens "must be a whole number" '{"max_tokens":"10"}'
refused 400 max_tokens "must be a whole number" '{"max_tokens":1.5}'
refused 400 max_tokens "between 0" '{"max_tokens":-1}'
refused 400 temperature "at most 2" '{"temperature":2.5}'
refused 400 temperature "at least 0" '{"temperature":-0.1}'
refused 400 temperature "must be a number" '{"temperature":"hot"}'
refused 400 top_p "above 0" '{"top_p":0}'
refused 400 top_p "at most 1" '{"top_p":1.5}'
refused 400 top_k "between 0" '{"top_k":-1}'
refused 400 n "between 1 and 4 (--max-clients)" '{"n":0}'
refused 400 n "between 1 and 4 (--max-clients)" '{"n":5}'
refused 400 n "more than the 4 streams" '{"n":3,"prompt":["a","b"]}'
refused 400 stop "at most 4" '{"stop":["a","b","c","d","e"]}'
refused 400 stop "empty" '{"stop":""}'
refused 400 stop "must be a string or an array" '{"stop":5}'
refused 400 seed "between 0" '{"seed":-1}'
refused 400 stream "true or false" '{"stream":"yes"}'
# Invalid UTF-8 and a NUL in a string: refused by the JSON reader.
printf '{"prompt":"a\xffb"}' >bad.json
code=$(curl -s -o out.json -w '%{http_code}' --data-binary @bad.json "$url/v1/completions")
[ "$code" = 400 ] && ok || bad "invalid UTF-8: $code $(cat out.json)"
check "invalid UTF-8" "'not valid JSON' in d['error']['message']"
refused 400 "" "not valid JSON" '{"prompt":"a\u0000b"}'
# Bodies over 1 MB: refused from their Content-Length, and when sent in chunks.
head -c 1100000 /dev/zero | tr '\0' 'a' | sed 's/^/{"prompt":"/; s/$/"}/' >big.json
code=$(curl -s -o out.json -w '%{http_code}' --data-binary @big.json "$url/v1/completions")
[ "$code" = 413 ] && ok || bad "large body: $code $(head -c 300 out.json)"
check "large body" "'larger than 1048576 bytes' in d['error']['message']"
code=$(curl -s -o out.json -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @big.json "$url/v1/completions")
[ "$code" = 413 ] && ok || bad "large chunked body: $code $(head -c 300 out.json)"
# Paths and methods.
code=$(curl -s -o out.json -w '%{http_code}' "$url/v1/chat/completions")
[ "$code" = 404 ] && ok || bad "unknown path: $code"
check "unknown path" "'no such path' in d['error']['message']"
code=$(curl -s -o out.json -w '%{http_code}' "$url/v1/models/nope")
[ "$code" = 404 ] && ok || bad "unknown model path: $code"
code=$(curl -s -D headers.txt -o out.json -w '%{http_code}' "$url/v1/completions")
[ "$code" = 405 ] && grep -qi '^allow: POST' headers.txt && ok || bad "GET /v1/completions: $code $(cat headers.txt)"
check "wrong method" "'takes POST, not GET' in d['error']['message']"
code=$(curl -s -o out.json -w '%{http_code}' -X POST "$url/health")
[ "$code" = 405 ] && ok || bad "POST /health: $code"
code=$(curl -s -o out.json -w '%{http_code}' -X DELETE "$url/v1/models")
[ "$code" = 405 ] && ok || bad "DELETE /v1/models: $code"

# 16 streaming clients at once (4 run, the rest wait their turn): all finish.
clients=()
for i in $(seq 1 16); do
  curl -sN -o "c$i.txt" --max-time 60 "$url/v1/completions" \
    -d "{\"prompt\":\"the \",\"max_tokens\":200,\"seed\":$i,\"stream\":true}" &
  clients+=($!)
done
wait "${clients[@]}"
done_count=0
for i in $(seq 1 16); do
  python3 -c '
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
assert raw.endswith("data: [DONE]\n\n")
text = "".join(json.loads(e[6:])["choices"][0]["text"] for e in raw.split("\n\n")[:-2])
sys.exit(0 if len(text) == 200 else 1)' "c$i.txt" 2>/dev/null && done_count=$((done_count + 1))
done
[ "$done_count" = 16 ] && ok || bad "16 clients at once: $done_count of them finished"

# --- two models ------------------------------------------------------------------------
serve s2.log m.crnn other.model
code=$(curl -s -o out.json -w '%{http_code}' "$url/v1/models")
check "two models" "[m['id'] for m in d['data']] == ['m', 'other']"
refused 400 model "model is required: this server has several (m, other)" '{"prompt":"a"}'
post '{"model":"other","prompt":"the ","max_tokens":40,"seed":5}'
want=$(sample_text 5 "the " 40)
check "the second model" "d['choices'][0]['text'] == $want and d['model'] == 'other'"
kill -TERM "$pid"
wait "$pid"
[ $? = 0 ] && ok || bad "SIGTERM of an idle server: not exit 0"

# --- the API key -------------------------------------------------------------------------
CHARRNN_API_KEY=s3cret serve s3.log m.crnn
grep -q "API key required" s3.log && ok || bad "the startup line does not say a key is needed: $(cat s3.log)"
code=$(curl -s -D headers.txt -o out.json -w '%{http_code}' "$url/v1/models")
[ "$code" = 401 ] && grep -qi '^www-authenticate: Bearer' headers.txt && ok || bad "no key: $code"
check "no key" "d['error']['code'] == 'invalid_api_key' and 'Authorization: Bearer' in d['error']['message']"
post '{"prompt":"a"}' -H 'Authorization: Bearer wrong'
[ "$code" = 401 ] && ok || bad "wrong key: $code"
post '{"prompt":"a"}' -H 'Authorization: Bearer s3cre'
[ "$code" = 401 ] && ok || bad "a prefix of the key: $code"
post '{"prompt":"a"}' -H 'Authorization: Bearer s3cret'
[ "$code" = 200 ] && ok || bad "right key: $code $(cat out.json)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && ok || bad "/health needs no key"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/")" = 200 ] && ok || bad "the page needs no key"
kill -TERM "$pid"
wait "$pid"
echo 'fromfile  ' >api.key
CHARRNN_API_KEY=other serve s4.log m.crnn --api-key-file api.key
post '{"prompt":"a"}' -H 'Authorization: Bearer fromfile'
[ "$code" = 200 ] && ok || bad "key from --api-key-file: $code $(cat out.json)"
post '{"prompt":"a"}' -H 'Authorization: Bearer other'
[ "$code" = 401 ] && ok || bad "the file's key is used over CHARRNN_API_KEY: $code"
kill -TERM "$pid"
wait "$pid"

# --- one slot, a queue of one: 429, clients that leave, idle connections, SIGTERM ---------
serve s5.log m.crnn --max-clients 1 --max-queue 1 --max-length 100000000 --idle-timeout 1
long='{"prompt":"the ","max_tokens":100000000,"stream":true}'
curl -sN -o a.txt "$url/v1/completions" -d "$long" &
a=$!
for i in $(seq 1 100); do [ -s a.txt ] && break; sleep 0.05; done
[ -s a.txt ] && ok || bad "the first long request made no text"
curl -sN -o b.txt "$url/v1/completions" -d "$long" &
b=$!
sleep 0.5
post '{"prompt":"a","max_tokens":5}'
[ "$code" = 429 ] && ok || bad "a third request with one slot and a queue of one: $code $(cat out.json)"
check "429" "d['error']['type'] == 'rate_limit_error' and 'queue is full' in d['error']['message']"
[ -s b.txt ] && bad "the queued request ran while the slot was taken" || ok
kill "$a"
wait "$a" 2>/dev/null
for i in $(seq 1 100); do [ -s b.txt ] && break; sleep 0.05; done
[ -s b.txt ] && ok || bad "the queued request did not run when the first client left"
kill "$b"
wait "$b" 2>/dev/null
# A client that gives up mid-stream, and one that gives up waiting for a plain
# answer: both slots free at once, so a short request then runs at once.
curl -sN -o /dev/null --max-time 1 "$url/v1/completions" -d "$long"
post '{"prompt":"a","max_tokens":5}' --max-time 5
[ "$code" = 200 ] && ok || bad "after a streamed client left: $code $(cat out.json)"
curl -s -o /dev/null --max-time 1 "$url/v1/completions" -d '{"prompt":"a","max_tokens":100000000}'
post '{"prompt":"a","max_tokens":5}' --max-time 5
[ "$code" = 200 ] && ok || bad "after a plain client left: $code $(cat out.json)"
# An idle connection is closed after --idle-timeout (1 s here).
port=${url##*:}
if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  start=$SECONDS
  timeout 10 cat <&3 >/dev/null
  rc=$?
  exec 3<&-
  [ "$rc" = 0 ] && [ $((SECONDS - start)) -le 5 ] && ok || bad "an idle connection stayed open (cat: $rc)"
else
  bad "cannot connect to $port"
fi
# SIGTERM with a stream in flight: it gets up to 5 s, then an error event,
# and the server exits 0.
curl -sN -o c.txt "$url/v1/completions" -d "$long" &
c=$!
for i in $(seq 1 100); do [ -s c.txt ] && break; sleep 0.05; done
start=$SECONDS
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] && ok || bad "SIGTERM with a stream in flight: exit $rc"
[ $((SECONDS - start)) -le 9 ] && ok || bad "SIGTERM took $((SECONDS - start)) s"
wait "$c" # curl may still be writing the last event when the server has exited
grep -q "shutting down" c.txt && ok || bad "the stream in flight was not told: $(tail -c 300 c.txt)"
wait "$c" 2>/dev/null
grep -q "terminated: finishing the requests in flight" s5.log && ok || bad "no word of the stop: $(cat s5.log)"

# The first server is still well after all this; SIGINT stops it too.
url=$main_url
post '{"prompt":"the ","max_tokens":10}'
[ "$code" = 200 ] && ok || bad "the server after the refusals: $code"
kill -INT "$main_pid"
wait "$main_pid"
[ $? = 0 ] && ok || bad "SIGINT: not exit 0"
# The port is free again, and a port in use is named.
serve s6.log m.crnn
port=${url##*:}
expect 1 "cannot listen on 127.0.0.1 port $port" -- "$bin" serve m.crnn --port "$port"
kill -TERM "$pid"
wait "$pid"

finish serve
