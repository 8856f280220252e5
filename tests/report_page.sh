#!/usr/bin/env bash
# The page charrnn inspect writes, in a real browser: Debian's chromium,
# headless, driven by python3-selenium through chromedriver. The report opens
# from file:// with no console errors; the surprise view has one element per
# character and its spans list; pointing at a character shows its probability;
# the cell view shows a cell, and choosing another layer or cell changes the
# title and the colours; the vocabulary and weights tables and the loss chart
# are there.
# With --sample, the report is made here from the template and a JSON file
# (tests/data/report-sample.json), and broken copies of it (a script error, a
# dead hover, no data) must fail, so the checks are seen to catch something.
# SKIP (77) without chromium, chromedriver or selenium.
# usage: tests/report_page.sh REPORT.html
#        tests/report_page.sh --sample src/cli/report.html tests/data/report-sample.json
set -u
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
usage="usage: report_page.sh REPORT.html | --sample TEMPLATE JSON"
sample=0
if [ "${1:-}" = --sample ]; then
  sample=1
  template=$(realpath "${2:?$usage}") json=$(realpath "${3:?$usage}")
else
  report=$(realpath "${1:?$usage}")
  [ -f "$report" ] || { echo "FAIL: no report at $1" >&2; exit 1; }
fi

find_browser report_page

work=$(mktemp -d "${TMPDIR:-/tmp}/crnn-report_page-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99

broken=()
if [ "$sample" = 1 ]; then
  # What charrnn inspect does: the placeholder line gets the JSON, with every
  # "<" written \u003c, so neither "</script>" nor "<!--<script" in the text
  # can end the tag or swallow the script after it.
  cat >fill.py <<'EOF'
import json, sys
template, data, out = sys.argv[1:4]
line = '<script id="data" type="application/json">{}</script>'
page = open(template, encoding="utf-8").read().split("\n")
if page.count(line) != 1:
    sys.exit("the template holds the placeholder line %d times, not once" % page.count(line))
payload = json.dumps(json.load(open(data, encoding="utf-8")), ensure_ascii=False).replace("<", "\\u003c")
page[page.index(line)] = line.replace("{}", payload)
open(out, "w", encoding="utf-8").write("\n".join(page))
EOF
  "$python" fill.py "$template" "$json" report.html || { bad "could not fill the template"; finish report_page; }
  report=$work/report.html
  # Broken copies, each of which the checks must reject.
  sed 's/^"use strict";$/"use strict"; null.planted;/' report.html >broken-script.html
  sed 's/addEventListener("mouseover"/addEventListener("planted"/' report.html >broken-hover.html
  cp "$template" broken-empty.html
  for b in broken-script.html broken-hover.html; do
    cmp -s report.html "$b" && bad "$b: the mutation did not apply (did the page change?)"
  done
  broken=("$work/broken-script.html" "$work/broken-hover.html" "$work/broken-empty.html")
fi

cat >page.py <<'EOF'
import json, re, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

chromium, chromedriver, profile = sys.argv[1:4]
pages = sys.argv[4:]

options = webdriver.ChromeOptions()
options.binary_location = chromium
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=" + profile, "--no-first-run", "--window-size=1280,1600"):
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
browser = webdriver.Chrome(service=Service(chromedriver), options=options)
browser.set_page_load_timeout(30)
js = browser.execute_script

def check(path, problems):
    def need(cond, what):
        if not cond:
            problems.append(what)
        return cond
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get("file://" + path)
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    need(not severe, "console errors: %s" % severe[:3])
    errors = js("return Array.from(document.querySelectorAll('.notice.error')).map(e => e.textContent)")
    need(not errors, "the page shows errors: %s" % errors[:3])
    try:
        d = json.loads(js("return document.getElementById('data').textContent"))
    except ValueError as e:
        return need(False, "#data is not JSON: %s" % e)
    if not need("model" in d and "text" in d, "#data holds no report"):
        return
    text = lambda id: js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null", id)
    count = lambda css: js("return document.querySelectorAll(arguments[0]).length", css)
    chars = d["text"]["chars"]
    s = d["surprise"]

    # Surprise: one element per character, the total, the spans.
    need(count("#surprise-text [data-i]") == len(chars),
         "surprise view: %d character elements for %d characters" % (count("#surprise-text [data-i]"), len(chars)))
    need(("%.3f" % s["bits_per_char"]) in (text("surprise-total") or ""),
         "the total %.3f bits/char is not shown: %r" % (s["bits_per_char"], text("surprise-total")))
    need(count("#spans li button") == len(s["spans"]),
         "spans list: %d entries for %d spans" % (count("#spans li button"), len(s["spans"])))

    # Pointing at a character shows its probability; a second one changes it.
    unseen = set(d["text"].get("unseen_positions") or [])
    picks = [i for i in range(1, len(chars)) if i not in unseen and chars[i] not in "\n\t"
             and s["prob"][i] is not None and s["prob"][i] >= 0.01]
    if need(len(picks) >= 2, "no two characters with a probability to point at"):
        shown = [text("surprise-info")]
        for i in (picks[len(picks) // 2], picks[-1]):
            span = browser.find_element(By.CSS_SELECTOR, '#surprise-text [data-i="%d"]' % i)
            js("arguments[0].scrollIntoView({block: 'center'})", span)
            ActionChains(browser).move_to_element(span).perform()
            info = text("surprise-info") or ""
            shown.append(info)
            percents = [float(x) for x in re.findall(r"(\d+(?:\.\d+)?)%", info)]
            need(info != shown[-2], "#surprise-info did not change on pointing at position %d" % i)
            need(any(abs(x - s["prob"][i] * 100) < 0.06 for x in percents),
                 "#surprise-info for position %d lacks its probability %.2f%%: %r" % (i, s["prob"][i] * 100, info[:200]))
            bits = [float(x) for x in re.findall(r"(\d+\.\d+) bits", info)]
            need(any(abs(x - s["bits"][i]) < 0.006 for x in bits),
                 "#surprise-info for position %d lacks its bits %.2f: %r" % (i, s["bits"][i], info[:200]))

    # A span from the list, clicked, is marked in the text.
    if s["spans"]:
        browser.find_element(By.CSS_SELECTOR, "#spans li button").click()
        need(count("#surprise-text .hl") >= 1, "clicking a span marked nothing in the text")

    # Cells: a cell is shown; another layer or cell changes the title and colours.
    c = d["cells"]
    colours = lambda: js("return Array.from(document.querySelectorAll('#cell-text [data-i]'))"
                         ".map(s => s.style.backgroundColor).join('|')")
    title = text("cell-title")
    need(bool(title), "no #cell-title")
    need(count("#cell-text [data-i]") == min(c["positions"], len(chars)),
         "cell view: %d character elements" % count("#cell-text [data-i]"))
    need(count("#cell-layer option") == c["layers"], "#cell-layer has %d layers" % count("#cell-layer option"))
    before = colours()
    need("rgb" in before, "#cell-text is not coloured")
    layer = Select(browser.find_element(By.ID, "cell-layer"))
    if c["layers"] > 1:
        now = int(layer.first_selected_option.get_attribute("value"))
        layer.select_by_value(str((now + 1) % c["layers"]))
        need(text("cell-title") != title, "choosing another layer left #cell-title at %r" % title)
        need(colours() != before, "choosing another layer left #cell-text's colours as they were")
        title, before = text("cell-title"), colours()
    box = browser.find_element(By.ID, "cell-index")
    now = int(box.get_attribute("value"))
    box.clear()
    box.send_keys(str((now + 1) % c["hidden"]))
    need(text("cell-title") != title, "another cell index left #cell-title at %r" % title)
    need(colours() != before, "another cell index left #cell-text's colours as they were")
    chips = browser.find_elements(By.CSS_SELECTOR, "#properties .chip")
    need(len(chips) == sum(len(p["best"]) for p in c["properties"]),
         "%d best-cell buttons for the properties" % len(chips))
    if chips:
        b = c["properties"][0]["best"][0]
        chips[0].click()
        want = "layer %d, cell %d" % (b["layer"] + 1, b["cell"])
        need(want in (text("cell-title") or ""), "the first property's best cell: title %r, expected %r"
             % (text("cell-title"), want))

    # Model and training.
    need(count("#vocabulary-table tr") == len(d["vocabulary"]) + 1,
         "vocabulary table: %d rows for %d characters" % (count("#vocabulary-table tr") - 1, len(d["vocabulary"])))
    need(count("#weights-table tr") == len(d["weights"]) + 1 and count("#weights-table svg") == len(d["weights"]),
         "weights table: %d rows, %d histograms for %d matrices"
         % (count("#weights-table tr") - 1, count("#weights-table svg"), len(d["weights"])))
    if d["log"]:
        need(count("svg#loss-chart path") >= 1, "no loss chart (svg#loss-chart with a line)")
    else:
        need("no training log" in (text("training") or "").lower(), "no note of the missing log")
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    need(not severe, "console errors while using the page: %s" % severe[:3])

failed = 0
try:
    for path in pages:
        problems = []
        try:
            check(path, problems)
        except Exception as e:  # a missing element is a failed check too
            problems.append("%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        print(("FAIL " + path + ": " + "; ".join(problems)) if problems else "PASS " + path)
        failed += bool(problems)
finally:
    browser.quit()
sys.exit(1 if failed else 0)
EOF

timeout 240 "$python" page.py "$chromium" "$driver" "$work/profile" "$report" "${broken[@]}" >check.txt 2>&1
if ! grep -q "^PASS $report\$" check.txt; then
  bad "the report in chromium: $(grep -m1 "^FAIL $report" check.txt || tail -c 1500 check.txt)"
else
  ok
fi
for b in "${broken[@]}"; do
  if grep -q "^FAIL $b" check.txt; then ok; else bad "a broken page passed the checks: $b ($(tail -c 600 check.txt))"; fi
done
finish report_page
