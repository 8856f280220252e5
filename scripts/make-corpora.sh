#!/usr/bin/env bash
# Builds corpora/fortunes.txt, the default corpus, from the text of Debian's
# fortunes packages (installed by scripts/setup.sh; no internet needed beyond
# the package archive). The files are concatenated in name order, so the corpus
# is the same on every machine with the same package version.
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/games/fortunes
out=corpora/fortunes.txt
if [ ! -d "$src" ]; then
  echo "make-corpora: $src is missing: install the fortunes package (scripts/setup.sh does)" >&2
  exit 1
fi
files=$(find "$src" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' | LC_ALL=C sort)
# shellcheck disable=SC2086
cat $files >"$out.tmp"
mv "$out.tmp" "$out"
echo "make-corpora: $out: $(wc -c <"$out") bytes from $(echo "$files" | wc -l) files" >&2
