#!/usr/bin/env bash
# A real charrnn inspect report in a real browser: a small model trained
# here, a text with quotes, brackets, characters it never saw and markup
# ("<!--<script>", "</script>") that must not break the page, then the checks
# of report_page.sh on the report. SKIP (77) without jansson in the build, or
# without chromium, chromedriver or selenium (report_page.sh says which).
# usage: tests/inspect_page.sh path/to/charrnn with|without
set -u
bin=$(realpath "${1:?usage: inspect_page.sh path/to/charrnn with|without}")
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"
[ "${2:-with}" = with ] || skip inspect_page "this charrnn was built without jansson"
enter_work inspect_page
expect 0 "" -- "$bin" train corpus.txt -o m.crnn --layers 2 --hidden 16 --embed 8 --batch 4 \
  --seq 32 --max-iters 30 --eval-every 10 -q
{ head -c 1200 corpus.txt; printf '"Ωmega" (x [y]) <!--<script> </script> & done\n'; } >text.txt
expect 0 "" -- "$bin" inspect m.crnn text.txt -o report.html
[ "$fail" = 0 ] || finish inspect_page
bash "$here/report_page.sh" report.html
