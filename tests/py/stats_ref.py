#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference values for tests/test_stats.c, computed with numpy / scipy / sklearn.

usage: stats_ref.py IN.json OUT.json

IN.json holds the random cases the C test generated; OUT.json gets the same structure with
the reference results. Any exception makes the script exit non-zero, which fails the C test.
"""
import json
import sys

import numpy as np
from scipy import special, stats
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score


def t_ppf(p, df):
    """scipy's t.ppf (cephes stdtri, ~1e-9 relative) polished by Newton steps on scipy's
    t.cdf / t.pdf, which are accurate to ~1e-15; the raw scipy value is checked separately."""
    t = stats.t.ppf(p, df)
    for _ in range(3):
        if p < 0.5:
            t = t - (stats.t.cdf(t, df) - p) / stats.t.pdf(t, df)
        else:
            t = t + (stats.t.sf(t, df) - (1.0 - p)) / stats.t.pdf(t, df)
    return float(t)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = {}

    out["moments"] = []
    for x in cases["moments"]:
        x = np.asarray(x, dtype=np.float64)
        out["moments"].append({"mean": float(np.mean(x)), "var": float(np.var(x, ddof=1)),
                               "std": float(np.std(x, ddof=1))})

    out["quantile"] = []
    for c in cases["quantile"]:
        x = np.asarray(c["x"], dtype=np.float64)
        out["quantile"].append([float(np.quantile(x, q)) for q in c["q"]])

    out["betainc"] = [float(special.betainc(a, b, x)) for a, b, x in cases["betainc"]]
    out["tcdf"] = [float(stats.t.cdf(t, df)) for t, df in cases["tcdf"]]
    out["tsf"] = [float(stats.t.sf(t, df)) for t, df in cases["tcdf"]]
    out["tppf"] = [t_ppf(p, df) for p, df in cases["tppf"]]
    out["tppf_raw"] = [float(stats.t.ppf(p, df)) for p, df in cases["tppf"]]

    out["ci"] = []
    for x in cases["moments"]:
        x = np.asarray(x, dtype=np.float64)
        if len(x) < 2:
            out["ci"].append(None)
            continue
        hw = t_ppf(0.975, len(x) - 1) * stats.sem(x)
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
        out["ci"].append([float(np.mean(x) - hw), float(np.mean(x) + hw), float(lo), float(hi)])

    out["welch"] = []
    for c in cases["welch"]:
        a = np.asarray(c["a"], dtype=np.float64)
        b = np.asarray(c["b"], dtype=np.float64)
        r = stats.ttest_ind(a, b, equal_var=False)
        va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
        se = np.sqrt(va + vb)
        d = np.mean(a) - np.mean(b)
        tq = t_ppf(0.975, df)
        out["welch"].append({"t": float(r.statistic), "p": float(r.pvalue), "df": float(df),
                             "ci_lo": float(d - tq * se), "ci_hi": float(d + tq * se)})

    out["auc"] = [float(roc_auc_score(np.asarray(c["y"]), np.asarray(c["s"])))
                  for c in cases["auc"]]

    out["prob"] = []
    for c in cases["prob"]:
        p = np.asarray(c["p"], dtype=np.float64)
        y = np.asarray(c["y"], dtype=np.int64)
        eces = []
        for nb in c["bins"]:
            # bins exactly as sklearn.calibration.calibration_curve(strategy="uniform")
            edges = np.linspace(0.0, 1.0, nb + 1)
            ids = np.searchsorted(edges[1:-1], p)
            sp = np.bincount(ids, weights=p, minlength=nb)
            sy = np.bincount(ids, weights=y, minlength=nb)
            eces.append(float(np.sum(np.abs(sy - sp)) / len(p)))
        out["prob"].append({"brier": float(brier_score_loss(y, p)),
                            "log_loss": float(log_loss(y, p, labels=[0, 1])),
                            "ece": eces})

    out["std_ratio"] = []
    for c in cases["std_ratio"]:
        d = c["dim"]
        syn = np.asarray(c["syn"], dtype=np.float64).reshape(-1, d)
        real = np.asarray(c["real"], dtype=np.float64).reshape(-1, d)
        pooled = float(np.std(syn, ddof=1) / np.std(real, ddof=1))
        per = np.std(syn, axis=0, ddof=1) / np.std(real, axis=0, ddof=1)
        out["std_ratio"].append({"pooled": pooled, "per_dim": [float(v) for v in per],
                                 "mean": float(np.mean(per))})

    out["vargrowth"] = []
    for c in cases["vargrowth"]:
        z = np.asarray(c["z"], dtype=np.float64).reshape(c["R"], c["T"], c["D"])
        var_t = z.var(axis=2, ddof=1).mean(axis=0)
        out["vargrowth"].append({"var_t": [float(v) for v in var_t],
                                 "growth": float(var_t[-1] / (var_t[0] + c["eps"]))})

    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
