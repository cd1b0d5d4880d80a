#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference values for tests/test_gen.c: the synthetic-data scores recomputed with numpy,
scipy and sklearn from the CSV files and the raw classifier/attack scores the C code kept.

usage: gen_ref.py IN.json OUT.json

IN.json: {"real", "synth", "holdout": CSV paths, "det_score", "det_score_lr", "det_label",
"mia_score", "mia_label": arrays}. OUT.json: {"col_fidelity": [...], "pair_similarity",
"coverage", "diversity", "dcr_synth", "dcr_holdout", "dcr_share", "det_auc", "det_auc_lr",
"mia_auc"} with the definitions of docs/GEN.md (scipy.stats.ks_2samp's statistic,
sklearn.metrics.roc_auc_score). Any exception exits non-zero and fails the C test.
"""
import csv
import datetime as dt
import json
import sys

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score


def read(path):
    with open(path) as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    return rows[0], rows[1:]


def typed(col):
    try:
        return "numeric", np.array([float(v) for v in col])
    except ValueError:
        pass
    try:
        return "date", np.array([float((dt.date.fromisoformat(v) - dt.date(1970, 1, 1)).days)
                                 for v in col])
    except ValueError:
        return "categorical", np.array(col)


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    hdr, rr = read(cfg["real"])
    hs, sr = read(cfg["synth"])
    hh, hr = read(cfg["holdout"])
    assert hdr == hs == hh
    C = len(hdr)
    R, S, H, kinds = [], [], [], []
    for c in range(C):
        k, r = typed([row[c] for row in rr])
        kinds.append(k)
        if k == "categorical":
            R.append(r)
            S.append(np.array([row[c] for row in sr]))
            H.append(np.array([row[c] for row in hr]))
        else:
            R.append(r)
            S.append(typed([row[c] for row in sr])[1])
            H.append(typed([row[c] for row in hr])[1])
    out = {"col_fidelity": []}
    cov = []
    for c in range(C):
        if kinds[c] == "categorical":
            labels = sorted(set(R[c]))
            pr = np.array([np.mean(R[c] == l) for l in labels])
            ps = np.array([np.mean(S[c] == l) for l in labels])
            out["col_fidelity"].append(1 - 0.5 * np.abs(pr - ps).sum())
            cov.append(np.mean([l in set(S[c]) for l in labels]))
        else:
            out["col_fidelity"].append(1 - stats.ks_2samp(R[c], S[c]).statistic)
            lo, hi = R[c].min(), R[c].max()
            rc = 1 - (max(0, S[c].min() - lo) + max(0, hi - S[c].max())) / (hi - lo)
            cov.append(max(0.0, rc))
    out["coverage"] = float(np.mean(cov))

    def codes(c, x):
        if kinds[c] == "categorical":
            labels = sorted(set(R[c]))
            return np.array([labels.index(v) for v in x]), len(labels)
        edges = np.quantile(R[c], np.arange(1, 10) / 10)
        return np.searchsorted(edges, x, side="right"), 10

    pairs = []
    for a in range(C):
        for b in range(a + 1, C):
            if kinds[a] != "categorical" and kinds[b] != "categorical":
                rr_ = np.corrcoef(R[a], R[b])[0, 1]
                rs_ = np.corrcoef(S[a], S[b])[0, 1]
                pairs.append(1 - abs(rr_ - rs_) / 2)
            else:
                ca, la = codes(a, R[a])
                cb, lb = codes(b, R[b])
                jr = np.zeros((la, lb))
                np.add.at(jr, (ca, cb), 1 / len(ca))
                ca, _ = codes(a, S[a])
                cb, _ = codes(b, S[b])
                js = np.zeros((la, lb))
                np.add.at(js, (ca, cb), 1 / len(ca))
                pairs.append(1 - 0.5 * np.abs(jr - js).sum())
    out["pair_similarity"] = float(np.mean(pairs))

    def feats(tab):
        cols = []
        for c in range(C):
            if kinds[c] == "categorical":
                labels = sorted(set(R[c]))
                cols.append(np.stack([(tab[c] == l) * np.sqrt(0.5) for l in labels], axis=1))
            else:
                sd = R[c].std()
                cols.append(((tab[c] - R[c].mean()) / (sd if sd > 0 else 1))[:, None])
        return np.concatenate(cols, axis=1)

    FR, FS, FH = feats(R), feats(S), feats(H)

    def nn(A, B, self_=False):
        d = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
        if self_:
            np.fill_diagonal(d, np.inf)
        return np.sqrt(d.min(axis=1))

    out["diversity"] = float(min(1.0, nn(FS, FS, True).mean() / nn(FR, FR, True).mean()))
    ds_r, ds_h = nn(FS, FR), nn(FS, FH)
    out["dcr_synth"] = float(np.median(ds_r))
    out["dcr_holdout"] = float(np.median(nn(FH, FR)))
    out["dcr_share"] = float(np.mean(np.where(ds_r < ds_h, 1.0, np.where(ds_r == ds_h, 0.5, 0.0))))
    out["det_auc"] = roc_auc_score(cfg["det_label"], cfg["det_score"])
    out["det_auc_lr"] = roc_auc_score(cfg["det_label"], cfg["det_score_lr"])
    out["mia_auc"] = roc_auc_score(cfg["mia_label"], cfg["mia_score"])
    # the attack scores themselves: -distance to the closest synthetic row
    out["mia_score"] = list(-np.concatenate([nn(FR, FS), nn(FH, FS)]))
    out = {k: (float(v) if not isinstance(v, list) else [float(x) for x in v])
           for k, v in out.items()}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
