#!/usr/bin/env bash
# Downloads tiny-shakespeare into corpora/ and checks its sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
url=https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
sum=86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
out=corpora/tinyshakespeare.txt
curl -fsSL "$url" -o "$out.tmp"
echo "$sum  $out.tmp" | sha256sum -c --quiet - || { rm -f "$out.tmp"; echo "checksum mismatch" >&2; exit 1; }
mv "$out.tmp" "$out"
echo "$out: $(wc -c <"$out") bytes"
