# SPDX-License-Identifier: Apache-2.0
"""The roughness figures of docs/WORLD.md ("Why these terms exist"): how the real latents move
step to step, and how the branches of the old and the new world-model recipe compare.
Reads OUTDIR/n50 after `results.sh OUTDIR data models50 poison level1`.
usage: python3 scripts/experiments/roughness.py OUTDIR   (numpy, scikit-learn)"""
import os
import sys

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import cross_val_predict

d = os.path.join(sys.argv[1], "n50")
z = np.load(os.path.join(d, "Z.npz"))
D = np.load(os.path.join(d, "D.npz"))
ep = D["episode_ids"]
eps = np.unique(ep)

# real steps: lag-1 autocorrelation of the one-step changes, per dim, averaged
ac = []
for j in range(z["latents"].shape[1]):
    for e in eps:
        s = np.diff(z["latents"][ep == e][:, j].astype(np.float64))
        if len(s) > 2 and s.std() > 0:
            ac.append(np.corrcoef(s[:-1], s[1:])[0, 1])
print("real latents: lag-1 autocorrelation of one-step changes %.3f" % np.mean(ac))

# how predictable the size of a real step is: log step energy from (z_t, a_t, a_{t-1})
X, y = [], []
for e in eps:
    r = np.where(ep == e)[0]
    zt, zn, a = z["latents"][r], z["next_latents"][r], D["actions"][r]
    ap = np.vstack([np.zeros((1, a.shape[1])), a[:-1]])
    X.append(np.hstack([zt, a, ap]))
    y.append(np.log(((zn - zt) ** 2).sum(1) + 1e-3))
X, y = np.vstack(X), np.concatenate(y)
p = cross_val_predict(RandomForestRegressor(100, min_samples_leaf=10, random_state=0, n_jobs=1), X, y, cv=5)
print("real latents: log step energy, 5-fold R^2 from (z_t, a_t, a_t-1) %.2f" % (1 - ((y - p) ** 2).mean() / y.var()))

# per-window step energy of 5-step branches against their real continuations
for cfg, label in (("old_new", "old recipe"), ("new_new", "new recipe (seed 1)")):
    b = np.load(os.path.join(d, "l1_%s_h5.npz" % cfg))
    for name, W in (("branches", b["branch_states"]), ("real continuations", b["real_states"])):
        we = (np.diff(W.astype(np.float64), axis=1) ** 2).sum(2).mean(1)
        print("%s, %s: per-window step energy mean %.2f, coefficient of variation %.2f"
              % (label, name, we.mean(), we.std() / we.mean()))
    S, R = b["branch_states"].astype(np.float64), b["real_states"].astype(np.float64)
    d2 = lambda W: (np.diff(W, 2, axis=1) ** 2).mean()
    print("%s: second-difference energy, branches / real continuations %.2f" % (label, d2(S) / d2(R)))
