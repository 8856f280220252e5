#!/usr/bin/env bash
# The page charrnn serve shows at /, in a real browser: Debian's chromium,
# headless, driven by python3-selenium through chromedriver. The page loads,
# lists the model, sends the prompt given in its URL (autorun=1) and shows the
# text as it streams in: the same text as charrnn sample with that seed, and a
# speed. A prompt the model cannot read shows the server's message; with an
# API key, the page's key box gets the models and a completion.
# SKIP (77) without the server, chromium, chromedriver or selenium.
# usage: tests/serve_page.sh path/to/charrnn with|without
set -u
bin=$(realpath "${1:?usage: serve_page.sh path/to/charrnn with|without}")
have=${2:?with or without the server}
. "$(dirname "$(realpath "$0")")/lib.sh"
enter_work serve_page

[ "$have" = with ] || skip serve_page "built without the server (-Dserver=disabled, or no libmicrohttpd-dev)"
find_browser serve_page

servers=()
trap 'for p in "${servers[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
serve() { # LOG ARGS...: charrnn serve on a free port; sets url
  local log=$1 i
  shift
  "$bin" serve --port 0 --threads 1 "$@" 2>"$log" &
  servers+=($!)
  for i in $(seq 1 200); do
    url=$(grep -so 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  bad "the server did not start: $(cat "$log")"
  finish serve_page
}

expect 0 "" -- "$bin" train corpus.txt -o m.crnn --layers 1 --hidden 24 --embed 8 --batch 4 --seq 16 --max-iters 60 -q
expect 0 "" -- "$bin" sample m.crnn --seed 5 --prime "the " -n 80 -t 0.8
cp out.txt want.txt
serve open.log m.crnn
open_url=$url
CHARRNN_API_KEY=pagekey serve key.log m.crnn
key_url=$url

cat >page.py <<'EOF'
import sys, urllib.parse
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

chromium, chromedriver, open_url, key_url, profile = sys.argv[1:6]
want = open("want.txt", encoding="utf-8").read()[:-1]  # prime + 80 characters
problems = []

def need(cond, what):
    if not cond:
        problems.append(what)

options = webdriver.ChromeOptions()
options.binary_location = chromium
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=" + profile, "--no-first-run"):
    options.add_argument(arg)
browser = webdriver.Chrome(service=Service(chromedriver), options=options)
browser.set_page_load_timeout(30)

def text(id):
    return browser.execute_script("return document.getElementById(arguments[0]).textContent", id)

def settled(browser):  # done, or an error shown
    s = text("status")
    return s.startswith("done") or s.startswith("Error") or s.startswith("Models")

try:
    query = urllib.parse.urlencode({"prompt": "the ", "max_tokens": 80, "seed": 5,
                                    "temperature": 0.8, "autorun": 1})
    browser.get(open_url + "/?" + query)
    WebDriverWait(browser, 60).until(settled)
    models = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    need(models == ["m"], "model list: %r" % models)
    need(text("status").startswith("done: 80 characters"), "status: %r" % text("status"))
    need("per second" in text("status"), "no speed shown: %r" % text("status"))
    need(text("output") == want, "text: %r, expected %r" % (text("output"), want))

    # A character the model never saw: the server's message is shown.
    browser.get(open_url + "/?" + urllib.parse.urlencode({"prompt": "the Ω", "autorun": 1}))
    WebDriverWait(browser, 60).until(settled)
    need(text("status").startswith("Error: 400") and "never saw" in text("status"),
         "bad prompt: %r" % text("status"))

    # With an API key: the models need it; typed in the key box, they come.
    browser.get(key_url + "/")
    WebDriverWait(browser, 60).until(settled)
    need("401" in text("status"), "no key: %r" % text("status"))
    box = browser.find_element(By.ID, "key")
    box.send_keys("pagekey")
    browser.find_element(By.ID, "prompt").send_keys("the ")
    browser.execute_script("document.getElementById('max_tokens').value = 30;"
                           "document.getElementById('status').textContent = '';")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 60).until(settled)
    need(text("status").startswith("done: 30 characters"), "with the key: %r" % text("status"))
finally:
    browser.quit()
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
timeout 240 "$python" page.py "$chromium" "$driver" "$open_url" "$key_url" "$work/profile" >check.txt 2>&1 &&
  ok || bad "the page in chromium: $(tail -c 1500 check.txt)"

finish serve_page
