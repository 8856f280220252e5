# lib.sh: what the shell tests share (sourced, not run): pass and fail counts,
# `expect`, a small corpus, skipping and the closing summary.

pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect STATUS NEEDLE -- command...: exit status and a phrase on stderr
# (stdout goes to out.txt, stderr to err.txt in the current directory)
expect() {
  local want=$1 needle=$2
  shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" != "$want" ]; then
    bad "$* exited $got, expected $want: $(head -c 400 err.txt)"
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" err.txt; then
    bad "$*: stderr lacks '$needle': $(head -c 400 err.txt)"
  else
    ok
  fi
}

# enter_work NAME: a scratch directory, removed at exit, made current, with
# corpus.txt (english_corpus) in it.
enter_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/crnn-$1-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cd "$work" || exit 99
  english_corpus >corpus.txt
}

# A small corpus: repeated English sentences with some variety.
english_corpus() {
  local i
  for i in $(seq 1 300); do
    echo "line $i: the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs."
  done
}

# skip NAME WHY: what this test needs is absent; exit 77 makes meson say SKIP.
skip() {
  echo "$1: skipped: $2" >&2
  exit 77
}

# find_browser NAME: sets chromium, driver (chromedriver) and python (one that
# imports selenium), or skips test NAME saying what is missing.
find_browser() {
  chromium=$(command -v chromium || command -v chromium-browser) ||
    skip "$1" "no chromium (apt-get install chromium chromium-driver python3-selenium)"
  driver=$(command -v chromedriver) || skip "$1" "no chromedriver (apt-get install chromium-driver)"
  # Debian's python3-selenium is in the system's python, which another python3
  # on PATH (a virtual environment, pyenv) may hide.
  python=""
  local p
  for p in python3 /usr/bin/python3; do
    command -v "$p" >/dev/null && "$p" -c 'import selenium' 2>/dev/null && python=$p && break
  done
  [ -n "$python" ] || skip "$1" "no python3-selenium"
}

# finish NAME: the summary line, then exit: 0 if every check passed, else 1.
finish() {
  echo "$1: $pass passed, $fail failed" >&2
  [ "$fail" = 0 ] && exit 0
  exit 1
}
