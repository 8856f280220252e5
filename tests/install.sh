#!/usr/bin/env bash
# Installs libcharrnn into a scratch directory (meson install --destdir) and
# builds the README's example against the installed header, pkg-config file and
# library, shared and static; both must generate text from a snapshot.
# usage: tests/install.sh BUILD_DIR path/to/charrnn path/to/examples/generate.c [SANITIZE]
set -u
build=$(realpath "$1")
bin=$(realpath "$2")
example=$(realpath "$3")
# A sanitized build's library needs the example built with the same runtime.
cflags=()
[ -n "${4:-}" ] && [ "${4:-}" != none ] && cflags=(-fsanitize="$4")
work=$(mktemp -d "${TMPDIR:-/tmp}/crnn-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99
meson install -C "$build" --destdir "$work/root" --no-rebuild >install.log 2>&1 ||
  { echo "FAIL: meson install: $(tail -5 install.log)" >&2; exit 1; }
pcdir=$(dirname "$(find "$work/root" -name charrnn.pc | head -1)")
[ -n "$pcdir" ] || { echo "FAIL: no charrnn.pc installed" >&2; exit 1; }
libdir=$(dirname "$(find "$work/root" -name 'libcharrnn.so*' | head -1)")
find "$work/root" -name charrnn.h | grep -q . || { echo "FAIL: no charrnn.h installed" >&2; exit 1; }
# The sysroot puts charrnn's own paths in the scratch directory; the static
# link's dependencies (CUDA's libraries by absolute path) stay where they are.
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$work/root"
fail=0
cc "${cflags[@]}" "$example" $(pkg-config --cflags --libs charrnn) -o shared 2>cc.log ||
  { echo "FAIL: building against the shared library: $(cat cc.log)" >&2; fail=1; }
cc "${cflags[@]}" "$example" $(pkg-config --cflags charrnn) "$libdir/libcharrnn.a" \
  $(PKG_CONFIG_SYSROOT_DIR= pkg-config --static --libs charrnn | sed 's/-lcharrnn//') -o static 2>cc.log ||
  { echo "FAIL: building against the static library: $(cat cc.log)" >&2; fail=1; }
for i in $(seq 1 200); do echo "line $i: the rain in spain stays mainly in the plain"; done >corpus.txt
"$bin" train corpus.txt -o m.crnn --layers 1 --hidden 16 --embed 8 --batch 4 --seq 16 --max-iters 20 -q 2>/dev/null
for kind in shared static; do
  [ -x $kind ] || continue
  if LD_LIBRARY_PATH="$libdir" ./$kind m.crnn "the " 50 >out.txt 2>err.txt && [ "$(head -c 4 out.txt)" = "the " ] &&
     [ "$(wc -m <out.txt)" -ge 50 ]; then
    echo "install: the example built against the $kind library generated text" >&2
  else
    echo "FAIL: the $kind example: $(cat err.txt out.txt)" >&2
    fail=1
  fi
done
exit $fail
