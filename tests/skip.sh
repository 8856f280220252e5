#!/usr/bin/env bash
# Stands in for a test this build cannot run: says why and exits 77, which
# meson test reports as SKIP (rather than leaving the test out unseen).
# usage: tests/skip.sh NAME WHY
echo "$1: skipped: $2" >&2
exit 77
