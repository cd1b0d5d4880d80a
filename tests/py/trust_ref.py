#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference for tests/test_trust.c (numpy / sklearn, independent of synthloop).

usage: trust_ref.py IN.json OUT.json
IN:  {"windows": [[[...D]...T]...], "pairs": [[branch [T][D], real [T][D]], ...],
      "pred": [p...], "label": [0/1...]}
OUT: {"features": [[F]...], "ratios": [...], "auc": x, "brier": x, "ece": x}
Features per window: per dim mean, std, min, max, var (ddof 0), smoothness = mean |2nd diff|
(0 when T = 2), change = mean |1st diff|, laid out feature-major, then log(T).
Any exception exits non-zero, which fails the C test.
"""
import json
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score


def features(w):
    w = np.asarray(w, dtype=np.float64)
    T = w.shape[0]
    d1 = np.abs(np.diff(w, axis=0)).mean(axis=0)
    d2 = np.abs(np.diff(w, n=2, axis=0)).mean(axis=0) if T > 2 else np.zeros(w.shape[1])
    parts = [w.mean(0), w.std(0), w.min(0), w.max(0), w.var(0), d2, d1]
    return np.concatenate(parts + [[np.log(T)]]).tolist()


def ratio(b, r):
    b, r = np.asarray(b, np.float64), np.asarray(r, np.float64)
    return float(np.sqrt(b.var(axis=0).sum() / r.var(axis=0).sum()))


def ece(p, y, nbins=10):
    # the same bins as sklearn's calibration_curve(strategy="uniform"); ECE weights each
    # non-empty bin by its share of the samples
    prob_true, prob_pred = calibration_curve(y, p, n_bins=nbins, strategy="uniform")
    bins = np.linspace(0.0, 1.0, nbins + 1)
    ids = np.searchsorted(bins[1:-1], p)  # as calibration_curve (side="left")
    counts = np.bincount(ids, minlength=nbins)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    out = {
        "features": [features(w) for w in d["windows"]],
        "ratios": [ratio(b, r) for b, r in d["pairs"]],
    }
    p, y = np.asarray(d["pred"], np.float64), np.asarray(d["label"], int)
    out["auc"] = float(roc_auc_score(y, p))
    out["brier"] = float(brier_score_loss(y, p))
    out["ece"] = ece(p, y)
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
