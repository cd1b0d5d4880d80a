#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference values for tests/test_forecast.c, computed with numpy / scipy / sklearn.

usage: forecast_ref.py IN.json OUT.json

IN.json: {"sets": [{"p": [...], "y": [...], "w": [...]}, ...]} written by the C test.
OUT.json: per set the sklearn / scipy / numpy results. Any exception exits non-zero, which
fails the C test.
"""
import json
import sys
import warnings

import numpy as np
from scipy import optimize
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

LOG_EPS = 1e-3
LOGIT_EPS = 1e-6
NBINS = 10


def logit(p):
    q = np.clip(p, LOGIT_EPS, 1 - LOGIT_EPS)
    return np.log(q / (1 - q))


def murphy(p, y, nbins):
    """Binned Murphy decomposition with the two within-bin terms (Stephenson et al. 2008)."""
    bins = np.linspace(0.0, 1.0, nbins + 1)
    g = np.searchsorted(bins[1:-1], p)
    n = len(p)
    obar = y.mean()
    rel = res = wv = wc = 0.0
    for b in range(nbins):
        m = g == b
        if not m.any():
            continue
        fb, ob = p[m].mean(), y[m].mean()
        rel += m.sum() * (fb - ob) ** 2
        res += m.sum() * (ob - obar) ** 2
        wv += ((p[m] - fb) ** 2).sum()
        wc += 2 * ((p[m] - fb) * (y[m] - ob)).sum()
    return {"rel": rel / n, "res": res / n, "unc": obar * (1 - obar), "wv": wv / n, "wc": wc / n}


def main():
    # sklearn's convergence / line-search warnings would clutter the test log; the C test
    # compares the numbers with tolerances that say how far they are converged
    warnings.simplefilter("ignore")
    with open(sys.argv[1]) as f:
        inp = json.load(f)
    out = []
    for s in inp["sets"]:
        p = np.asarray(s["p"], dtype=np.float64)
        y = np.asarray(s["y"], dtype=np.int64)
        w = np.asarray(s["w"], dtype=np.float64)
        r = {}
        r["brier"] = float(brier_score_loss(y, p))
        r["brier_w"] = float(brier_score_loss(y, p, sample_weight=w))
        r["log_loss"] = float(log_loss(y, p, eps=LOG_EPS, labels=[0, 1]))
        r["log_loss_w"] = float(log_loss(y, p, eps=LOG_EPS, labels=[0, 1], sample_weight=w))
        pt, pp = calibration_curve(y, p, n_bins=NBINS, strategy="uniform")
        r["curve_true"] = pt.tolist()
        r["curve_pred"] = pp.tolist()
        bins = np.linspace(0.0, 1.0, NBINS + 1)
        g = np.searchsorted(bins[1:-1], p)
        cnt = np.bincount(g, minlength=NBINS)
        r["curve_count"] = cnt[cnt > 0].tolist()
        r["ece"] = float(np.sum(np.abs(np.bincount(g, weights=y, minlength=NBINS)
                                       - np.bincount(g, weights=p, minlength=NBINS))) / len(p))
        r["murphy"] = murphy(p, y.astype(np.float64), NBINS)
        iso = IsotonicRegression(out_of_bounds="clip").fit(p, y.astype(np.float64))
        r["iso_x"] = iso.X_thresholds_.tolist()
        r["iso_y"] = iso.y_thresholds_.tolist()
        grid = np.asarray(s["grid"], dtype=np.float64)
        r["iso_pred"] = iso.predict(grid).tolist()
        x = logit(p).reshape(-1, 1)
        for name, C in (("platt_none", 1e12), ("platt_c1", 1.0)):
            lr = LogisticRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=1000).fit(x, y)
            r[name] = [float(lr.coef_[0, 0]), float(lr.intercept_[0])]
        xv = x.ravel()

        def nll(beta):
            z = beta * xv
            return float(np.mean(np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z))))

        opt = optimize.minimize_scalar(nll, bounds=(1e-2, 1e2), method="bounded",
                                       options={"xatol": 1e-12, "maxiter": 10000})
        r["temperature"] = float(1.0 / opt.x)
        r["temperature_nll"] = float(opt.fun)
        out.append(r)
    with open(sys.argv[2], "w") as f:
        json.dump({"sets": out}, f)


if __name__ == "__main__":
    main()
