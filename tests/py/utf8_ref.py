# SPDX-License-Identifier: Apache-2.0
"""utf8_ref.py IN OUT - reference for sl_utf8_valid / sl_utf8_sanitize: each line of IN is a
hex byte string; OUT gets "<valid 0|1> <hex of bytes.decode('utf-8', 'replace') re-encoded>"
per line. Python's UTF-8 codec is strict (no overlongs, surrogates or > U+10FFFF) and
replaces each maximal ill-formed subpart by one U+FFFD."""
import sys

with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        b = bytes.fromhex(line.strip())
        try:
            b.decode("utf-8")
            ok = 1
        except UnicodeDecodeError:
            ok = 0
        fixed = b.decode("utf-8", "replace").encode("utf-8")
        g.write("%d %s\n" % (ok, fixed.hex() or "-"))
