#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""reg_html_check.py FILE.html - independent structural check of a synthloop HTML report.

Fails (exit 1) if the document is not well nested, references anything outside itself
(src=, href other than #fragment, url(), @import, <script>, <link>, <iframe>, <img>), or has an
SVG coordinate that is not a finite number. On success prints a JSON summary on stdout:
{"svgs": n, "polylines": [{"label", "n", "points", "chart"}], "hists": [...], "bars": n,
 "intervals": n, "nodata": ["..."], "sections": ["id", ...], "text": "<visible text>"}"""
import json
import math
import re
import sys
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source",
        "track", "wbr"}
SVG_NUM = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height"}
FORBIDDEN_TAGS = {"script", "link", "iframe", "img", "object", "embed"}
errors = []


class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.svgs = 0
        self.chart = -1
        self.polylines = []
        self.hists = []
        self.bars = 0
        self.intervals = 0
        self.nodata = []
        self.sections = []
        self.in_nodata = False
        self.text = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in FORBIDDEN_TAGS:
            errors.append(f"forbidden tag <{tag}>")
        for k, v in attrs:
            v = v or ""
            if k == "src":
                errors.append(f"external src on <{tag}>: {v}")
            if k == "href" and not v.startswith("#"):
                errors.append(f"non-fragment href: {v}")
            if k.startswith("on"):
                errors.append(f"event handler attribute {k}")
            if "url(" in v:
                errors.append(f"url() in attribute {k}")
            if self.svgs and k in SVG_NUM and tag != "svg":
                try:
                    if not math.isfinite(float(v)):
                        errors.append(f"non-finite {k}={v}")
                except ValueError:
                    errors.append(f"non-numeric {k}={v!r} on <{tag}>")
        if tag == "svg":
            self.svgs += 1
            self.chart = self.svgs
        if tag == "polyline" and "series" in (a.get("class") or ""):
            pts = (a.get("points") or "").split()
            for p in pts:
                for c in p.split(","):
                    if not math.isfinite(float(c)):
                        errors.append(f"bad polyline coordinate {p}")
            self.polylines.append({"label": a.get("data-label"), "n": int(a.get("data-n", -1)),
                                   "points": len(pts), "chart": self.chart})
        if tag == "path" and "hist" in (a.get("class") or ""):
            for c in re.findall(r"-?[0-9.]+(?:e-?[0-9]+)?", a.get("d") or ""):
                if not math.isfinite(float(c)):
                    errors.append("bad histogram coordinate")
            self.hists.append({"label": a.get("data-label"), "n": int(a.get("data-n", -1)),
                               "chart": self.chart})
        if tag == "rect" and "bar" == (a.get("class") or ""):
            self.bars += 1
        if tag == "g" and "interval" == (a.get("class") or ""):
            self.intervals += 1
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "p" and "nodata" in (a.get("class") or ""):
            self.in_nodata = True
            self.nodata.append("")
        if tag == "style":
            self.in_style = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            errors.append(f"mismatched </{tag}> (open: {self.stack[-3:]})")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "p":
            self.in_nodata = False
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_nodata:
            self.nodata[-1] += data
        if self.in_style:
            if "url(" in data or "@import" in data:
                errors.append("external reference in <style>")
        else:
            self.text.append(data)


html = open(sys.argv[1], encoding="utf-8").read()
if not html.startswith("<!DOCTYPE html>"):
    errors.append("missing doctype")
for pat in ("http://", "https://", "//cdn", "javascript:"):
    if pat in html:
        errors.append(f"external reference pattern {pat!r} in document")
p = P()
p.feed(html)
p.close()
if p.stack:
    errors.append(f"unclosed tags at end: {p.stack}")
if errors:
    print("reg_html_check: FAIL", file=sys.stderr)
    for e in errors[:20]:
        print("  " + e, file=sys.stderr)
    sys.exit(1)
json.dump({"svgs": p.svgs, "polylines": p.polylines, "hists": p.hists, "bars": p.bars,
           "intervals": p.intervals, "nodata": p.nodata, "sections": p.sections,
           "text": " ".join(" ".join(p.text).split())}, sys.stdout)
