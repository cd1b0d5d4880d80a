# SPDX-License-Identifier: Apache-2.0
"""What gives gated branches away, and whether added jitter hides it (docs/RESULTS.md,
"Trust level 1", item 4). Reads OUTDIR/n50/br_sphere_cert_h10.npz (stage `certificate`),
Z.npz, D.npz and trust.safetensors; scores windows with the synthloop binary.
usage: python3 scripts/experiments/jitter.py OUTDIR [SYNTHLOOP_BIN]   (numpy, scikit-learn)"""
import json, os, subprocess, sys, tempfile
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

d = os.path.join(sys.argv[1], "n50")
S_BIN = sys.argv[2] if len(sys.argv) > 2 else "build/synthloop"
b = np.load(os.path.join(d, "br_sphere_cert_h10.npz"))
S = b["branch_states"].astype(np.float64)  # [N, H+1, Z], step 0 = the real start
R = b["real_states"].astype(np.float64)


def kinds(W):
    return {"mean": W.mean(1), "std": W.std(1), "step": np.abs(np.diff(W, axis=1)).mean(1),
            "d2": (np.diff(W, 2, axis=1) ** 2).mean(1), "disp": W[:, -1] - W[:, 0]}


def detect(A, B):  # 5-fold logistic regression, out-of-fold ROC-AUC
    X = np.r_[A, B]
    y = np.r_[np.zeros(len(A)), np.ones(len(B))]
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    p = cross_val_predict(LogisticRegression(max_iter=3000), X, y, cv=5, method="predict_proba")[:, 1]
    return roc_auc_score(y, p)


def allf(W):
    k = kinds(W)
    return np.concatenate([k["mean"], k["std"], k["step"], k["d2"]], 1)


def trust_mean(W):
    with tempfile.TemporaryDirectory() as t:
        f = os.path.join(t, "w.npz")
        np.savez(f, windows=W.astype(np.float32))
        out = subprocess.run([S_BIN, "trust", "score", "--model", os.path.join(d, "trust.safetensors"),
                              "--windows", f, "--json", "--db", "none"], capture_output=True,
                             text=True, check=True).stdout
        return json.loads(out)["mean"]


KS, KR = kinds(S), kinds(R)
print("per-kind detection AUC:", {k: round(detect(KS[k], KR[k]), 3) for k in KS})
best = max(max(a, 1 - a) for a in (roc_auc_score(np.r_[np.zeros(len(S)), np.ones(len(R))],
                                                   np.r_[KS["d2"][:, j], KR["d2"][:, j]])
                                   for j in range(S.shape[2])))
print("best single second-difference dimension AUC:", round(best, 3))
print("synthetic / real: step size %.3f, second-difference energy %.3f, displacement spread %.3f"
      % (KS["step"].mean() / KR["step"].mean(), KS["d2"].mean() / KR["d2"].mean(),
         KS["disp"].std() / KR["disp"].std()))
print("all features: detection %.3f; mean trust synthetic %.3f, real %.3f"
      % (detect(allf(S), allf(R)), trust_mean(S), trust_mean(R)))

rng = np.random.default_rng(0)
d2S, d2R = (np.diff(S, 2, axis=1) ** 2).mean((0, 1)), (np.diff(R, 2, axis=1) ** 2).mean((0, 1))
sig = np.sqrt(np.maximum(d2R - d2S, 0) / 6)  # white noise adds 6 sigma^2 to the second difference
print("white emission noise, sigma per dim %.3f..%.3f:" % (sig.min(), sig.max()))
for scale in (0.5, 0.75, 1.0):
    E = rng.standard_normal(S.shape) * sig * scale
    E[:, 0] = 0
    S2 = S + E
    print("  scale %.2f: detection %.3f, mean trust %.3f" % (scale, detect(allf(S2), allf(R)), trust_mean(S2)))

z = np.load(os.path.join(d, "Z.npz"))["latents"].astype(np.float64)
ep = np.load(os.path.join(d, "D.npz"))["episode_ids"]
res = np.concatenate([w[1:-1] - 0.5 * (w[:-2] + w[2:]) for w in (z[ep == e] for e in np.unique(ep))
                      if len(w) >= 3])
print("resampled real jitter (high-pass residuals):")
for a in (0.3, 0.5, 0.7):
    E = res[rng.integers(0, len(res), size=S.shape[:2])] * a
    E[:, 0] = 0
    S2 = S + E
    print("  scale %.1f: detection %.3f, second-difference ratio %.3f, mean trust %.3f"
          % (a, detect(allf(S2), allf(R)), (np.diff(S2, 2, axis=1) ** 2).mean() / d2R.mean(),
             trust_mean(S2)))
