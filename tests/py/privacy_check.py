#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Independent checks for tests/test_privacy.c (numpy / scipy / hmac).

usage: privacy_check.py MODE IN.json OUT.json

dist   samples (int64 files) of each mechanism against its exact pmf: chi-square (expected
       counts >= 5, tails lumped) and Kolmogorov-Smirnov on the samples plus U(0,1) jitter
       against the exact piecewise-linear CDF of that continuous version. p-values out.
kanon  a released CSV against its original: group by the generalised QI tuple; every class
       has >= k rows and >= l distinct values of each sensitive column; each generalised cell
       covers its original value; NCP, risk and class counts recomputed.
hmac   HMAC-SHA256(key, column || 0 || value)[:16] hex for each case.
Any failure raises, which makes the script exit non-zero and the C test fail.
"""
import csv
import datetime
import hashlib
import hmac
import json
import sys

import numpy as np
from scipy import stats


def pmf_support(case, lo, hi):
    z = np.arange(lo, hi + 1, dtype=np.float64)
    kind = case["kind"]
    if kind == "laplace":
        a = case["s"] / case["t"]
        return np.tanh(a / 2.0) * np.exp(-np.abs(z) * a)
    if kind == "gauss":
        var = case["num"] / case["den"]
        m = int(60 * np.sqrt(var) + 60)
        allz = np.arange(-m, m + 1, dtype=np.float64)
        norm = np.sum(np.exp(-allz * allz / (2 * var)))
        return np.exp(-z * z / (2 * var)) / norm
    if kind == "rr":
        k, e = case["k"], case["eps"]
        p = np.where(z == case["truth"], np.exp(e), 1.0) / (np.exp(e) + k - 1)
        return p
    raise ValueError(kind)


def check_dist(case):
    x = np.fromfile(case["file"], dtype=np.int64)
    n = len(x)
    assert n == case["n"], (n, case["n"])
    if case["kind"] == "rr":
        k = case["k"]
        p = pmf_support(case, 0, k - 1)
        obs = np.bincount(x, minlength=k).astype(np.float64)
        assert len(obs) == k
        chi = stats.chisquare(obs, p * n)
        return {"chi2_p": float(chi.pvalue), "ks_p": None}
    # support wide enough for every sample and the tails
    lo, hi = int(x.min()) - 2, int(x.max()) + 2
    m = max(abs(lo), abs(hi)) + 50
    p = pmf_support(case, -m, m)
    exp = p * n
    keep = np.nonzero(exp >= 5)[0]
    a, b = keep[0], keep[-1]
    zs = np.arange(-m, m + 1)
    obs_all = np.zeros(len(zs))
    np.add.at(obs_all, x + m, 1)
    obs = np.concatenate([[obs_all[:a].sum()], obs_all[a:b + 1], [obs_all[b + 1:].sum()]])
    ex = np.concatenate([[exp[:a].sum()], exp[a:b + 1], [exp[b + 1:].sum()]])
    # the true tails beyond the support are < 1e-30 of n; fold them in for an exact total
    ex = ex * (n / ex.sum())
    chi = stats.chisquare(obs, ex)
    # KS on x + U(0,1): the CDF is linear between integers, F_cont(z) = F(z - 1) at integer z
    rng = np.random.default_rng(case.get("jitter_seed", 1))
    y = x + rng.random(n)
    cdf_int = np.cumsum(p)  # F(z) for z = -m..m
    xs = np.arange(-m, m + 2, dtype=np.float64)
    ys = np.concatenate([[0.0], cdf_int])
    ys = ys / ys[-1]
    ks = stats.kstest(y, lambda v: np.interp(v, xs, ys))
    return {"chi2_p": float(chi.pvalue), "ks_p": float(ks.pvalue)}


def days(s):
    return (datetime.date.fromisoformat(s) - datetime.date(1970, 1, 1)).days


def covers(kind, gen, orig, hier):
    if kind == "category":
        node = orig
        while node is not None:
            if node == gen:
                return True
            node = hier.get(node)
        return False
    if gen == "*":
        return True
    conv = days if kind == "date" else float
    if ".." in gen and not (kind == "numeric" and gen.startswith("..")):
        lo, hi = gen.split("..")
        return conv(lo) <= conv(orig) <= conv(hi)
    if kind == "date":
        return orig.startswith(gen)
    return float(gen) == float(orig)


def span(kind, gen, lo_dom, hi_dom):
    if gen == "*":
        return 1.0
    conv = days if kind == "date" else float
    w = hi_dom - lo_dom
    if ".." in gen:
        lo, hi = gen.split("..")
        return (conv(hi) - conv(lo)) / w if w > 0 else 0.0
    if kind == "date" and len(gen) < 10:
        if len(gen) == 7:
            y, m = map(int, gen.split("-"))
            a = datetime.date(y, m, 1)
            b = datetime.date(y + (m == 12), m % 12 + 1, 1) - datetime.timedelta(days=1)
        else:
            a, b = datetime.date(int(gen), 1, 1), datetime.date(int(gen), 12, 31)
        lo = max(days(a.isoformat()), lo_dom)
        hi = min(days(b.isoformat()), hi_dom)
        return (hi - lo) / w if w > 0 else 0.0
    return 0.0


def check_kanon(c):
    with open(c["original"]) as f:
        orig = {r[c["row_id"]]: r for r in csv.DictReader(f)}
    with open(c["released"]) as f:
        rel = list(csv.DictReader(f))
    k, l = c["k"], c["l"]
    qis = c["qi"]  # [{"name","type","hierarchy": {child: parent}}]
    parents = [q.get("parents", {}) for q in qis]
    leaves = []
    for q, par in zip(qis, parents):
        cnt = {}
        leaf_set = set(par) - set(par.values())
        for leaf in leaf_set:
            node = leaf
            while node is not None:
                cnt[node] = cnt.get(node, 0) + 1
                node = par.get(node)
        leaves.append(cnt)
    dom = []
    for q in qis:
        if q["type"] == "category":
            dom.append(None)
            continue
        conv = days if q["type"] == "date" else float
        vals = [conv(r[q["name"]]) for r in orig.values()]
        dom.append((min(vals), max(vals)))
    groups = {}
    ncp = 0.0
    for r in rel:
        o = orig[r[c["row_id"]]]
        key = tuple(r[q["name"]] for q in qis)
        groups.setdefault(key, []).append(r)
        for i, q in enumerate(qis):
            g = r[q["name"]]
            assert covers(q["type"], g, o[q["name"]], parents[i]), (q["name"], g, o[q["name"]])
            if q["type"] == "category":
                n_leaves = leaves[i].get(g, 1)
                ncp += 0.0 if n_leaves <= 1 and g != "*" else n_leaves / leaves[i]["*"]
            else:
                ncp += span(q["type"], g, *dom[i])
        # non-QI columns are copied unchanged
        for col in c["copied"]:
            assert r[col] == o[col], (col, r[col], o[col])
    sizes = np.array([len(v) for v in groups.values()])
    assert sizes.min() >= k, ("class smaller than k", int(sizes.min()), k)
    min_l = None
    for v in groups.values():
        for s in c["sensitive"]:
            d = len({r[s] for r in v})
            assert d >= l, ("class not l-diverse", d, l)
            min_l = d if min_l is None else min(min_l, d)
    n_orig, n_rel = len(orig), len(rel)
    supp = n_orig - n_rel
    ncp_total = (ncp + supp * len(qis)) / (n_orig * len(qis))
    return {"classes": int(len(sizes)), "min_class": int(sizes.min()),
            "min_l": int(min_l) if min_l is not None else 0,
            "risk_max": float(1.0 / sizes.min()), "risk_mean": float(len(sizes) / n_rel),
            "suppressed": int(supp), "ncp": float(ncp_total),
            "discernibility": float((sizes.astype(np.float64) ** 2).sum() + supp * n_orig)}


def main():
    mode, inp, outp = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(inp) as f:
        cases = json.load(f)
    if mode == "dist":
        out = {c["name"]: check_dist(c) for c in cases}
        for name, r in out.items():
            ks = "n/a" if r["ks_p"] is None else "%.3g" % r["ks_p"]
            print("  scipy %-18s chi2 p = %.3g   KS p = %s" % (name, r["chi2_p"], ks))
    elif mode == "kanon":
        out = [check_kanon(c) for c in cases]
    elif mode == "hmac":
        key = cases["key"].encode()
        out = [hmac.new(key, col.encode() + b"\0" + val.encode(), hashlib.sha256).hexdigest()[:32]
               for col, val in cases["items"]]
    else:
        raise ValueError(mode)
    with open(outp, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
