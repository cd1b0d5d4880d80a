#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""compare.py A B: every file under A byte-identical to the same file under B after blanking the
wall-clock "time" stamps, "seconds" durations and the output directory name. Exit 1 if any differs."""
import os, re, sys
a, b = sys.argv[1], sys.argv[2]
pat = re.compile(rb'(\\?"time\\?":\s*\\?")[0-9T:\-Z]+')
secs = re.compile(rb'outputs in [^ ]+, \d+ s|"seconds":\s*[0-9.e+-]+')
bad = 0; n = 0
for root, _, files in os.walk(a):
    for f in files:
        pa = os.path.join(root, f); pb = os.path.join(b, os.path.relpath(pa, a))
        x = open(pa, 'rb').read(); y = open(pb, 'rb').read()
        n += 1
        if x == y: continue
        x2 = secs.sub(b'', pat.sub(rb'\1T', x)); y2 = secs.sub(b'', pat.sub(rb'\1T', y))
        x2 = x2.replace((a.rstrip('/') + '/').encode(), b'D/'); y2 = y2.replace((b.rstrip('/') + '/').encode(), b'D/')
        if x2 != y2:
            print('DIFF', pa); bad += 1
print(f'{n} files, {bad} differ beyond time stamps')
sys.exit(1 if bad else 0)
