#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""reg_png_check.py SHOT.png - fail (exit 1) if a dashboard screenshot is blank: it must be a
readable PNG with varied content (many colours, a real spread of intensities) and must show
chart strokes in the dashboard's series colours (#1f77b4 blue, #d62728 red)."""
import sys

from PIL import Image

img = Image.open(sys.argv[1]).convert("RGB")
w, h = img.size
px = list(img.getdata())
colors = len(set(px))
lum = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in px]
mean = sum(lum) / len(lum)
std = (sum((x - mean) ** 2 for x in lum) / len(lum)) ** 0.5


def near(p, q, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(p, q))


blue = sum(1 for p in px if near(p, (0x1F, 0x77, 0xB4)))
red = sum(1 for p in px if near(p, (0xD6, 0x27, 0x28)))
print(f"reg_png_check: {w}x{h} colours={colors} std={std:.1f} blue={blue} red={red}")
ok = w >= 400 and h >= 300 and colors >= 50 and std >= 8 and blue >= 100 and red >= 50
sys.exit(0 if ok else 1)
