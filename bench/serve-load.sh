#!/usr/bin/env bash
# Load test of charrnn serve on loopback: CLIENTS streaming clients (default
# 64) send requests back to back for SECONDS (default 20); reports the
# aggregate characters per second, time to the first character (p50, p99),
# errors, and the server's resident memory growth from after a warm-up to the
# end. Not run by meson test; needs python3 (its standard library only).
# usage: bench/serve-load.sh [MODEL] [SECONDS] [CLIENTS]
#   env: BUILD (default build), MAX_CLIENTS (--max-clients, default CLIENTS),
#        MAX_TOKENS (characters per request, default 500), THREADS (--threads)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/fortunes.crnn}
seconds=${2:-20}
clients=${3:-64}
bin=${BUILD:-build}/charrnn
log=$(mktemp)
"$bin" serve "$model" --port 0 --max-clients "${MAX_CLIENTS:-$clients}" \
  ${THREADS:+--threads "$THREADS"} 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for i in $(seq 1 200); do
  url=$(grep -so 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1) && [ -n "$url" ] && break
  sleep 0.05
done
[ -n "${url:-}" ] || { cat "$log" >&2; exit 1; }
head -1 "$log" >&2
python3 - "$url" "$seconds" "$clients" "$pid" "${MAX_TOKENS:-500}" <<'PY'
import http.client, json, sys, threading, time, urllib.parse

url, seconds, clients, pid, max_tokens = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
host = urllib.parse.urlparse(url)

def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

lock = threading.Lock()
ttfc, chars, errors, requests = [], [0], [0], [0]
start = time.monotonic()
warm = start + min(2.0, seconds / 4)
end = start + seconds
rss_warm = [None]

def client(k):
    seed = k * 100000
    while time.monotonic() < end:
        seed += 1
        body = json.dumps({"prompt": "The ", "max_tokens": max_tokens, "stream": True, "seed": seed})
        t0 = time.monotonic()
        got, first, ok = 0, None, False
        try:
            c = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
            c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            if r.status != 200:
                raise RuntimeError("status %d" % r.status)
            buf = b""
            while True:
                part = r.read1(65536)
                if not part:
                    break
                buf += part
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    data = event[6:]
                    if data == b"[DONE]":
                        ok = True
                        continue
                    text = json.loads(data)["choices"][0]["text"]
                    if text and first is None:
                        first = time.monotonic() - t0
                    got += len(text)
            c.close()
        except Exception:
            ok = False
        with lock:
            requests[0] += 1
            # characters made inside the measured window count, whole requests or not
            chars[0] += got
            if first is not None:
                ttfc.append(first)
            if not ok and time.monotonic() < end:
                errors[0] += 1

def watch():
    time.sleep(max(0.0, warm - time.monotonic()))
    rss_warm[0] = rss_kb()

threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
threading.Thread(target=watch, daemon=True).start()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
rss_end = rss_kb()
ttfc.sort()
pct = lambda p: ttfc[min(len(ttfc) - 1, int(p * len(ttfc)))] * 1000 if ttfc else float("nan")
print("serve-load: %d clients for %.1f s: %d requests, %d errors" % (clients, elapsed, requests[0], errors[0]))
print("serve-load: aggregate %.0f chars/s" % (chars[0] / elapsed))
print("serve-load: time to first character p50 %.1f ms, p99 %.1f ms" % (pct(0.50), pct(0.99)))
print("serve-load: resident memory %.1f MB after warm-up, %.1f MB at the end (growth %+.1f MB)"
      % ((rss_warm[0] or 0) / 1024, rss_end / 1024, (rss_end - (rss_warm[0] or rss_end)) / 1024))
PY
