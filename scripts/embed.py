#!/usr/bin/env python3
"""embed.py: writes a C file holding a file's bytes (the pages charrnn serves and writes).

usage: embed.py INPUT OUTPUT NAME
defines `const char NAME[]` (the bytes and a NUL) and `const unsigned long
NAME_len` (their number, the NUL not counted). Run by Meson at build time, so
the page is edited as HTML and never as a C string.
"""
import sys

src, dst, name = sys.argv[1:4]
data = open(src, "rb").read()
lines = []
for i in range(0, len(data), 16):
    lines.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
with open(dst, "w") as out:
    out.write("/* Generated from %s by embed.py: edit that file, not this one. */\n" % src.split("/")[-1])
    out.write("const char %s[] = {\n%s\n    0x00,\n};\n" % (name, "\n".join(lines)))
    out.write("const unsigned long %s_len = %d;\n" % (name, len(data)))
