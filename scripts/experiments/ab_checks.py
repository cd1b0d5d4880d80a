# SPDX-License-Identifier: Apache-2.0
"""Checks and pooled statistics for the 30-seed A/B runs of docs/RESULTS.md ("A 30-seed value
test"): Welch's p recomputed with scipy, paired t and Wilcoxon on the shared seeds, seeds with a
higher augmented MPL, and the two 30-seed runs of each size pooled.
usage: python3 scripts/experiments/ab_checks.py OUTDIR   (numpy, scipy)"""
import json, os, sys
import numpy as np
from scipy import stats

out = sys.argv[1]


def load(n, name):
    return json.load(open(os.path.join(out, f"n{n}", f"ab_{name}.json")))


def arms(j, k):
    m = j["metrics"][k]
    return np.array(m["baseline"]["per_seed"], float), np.array(m["augmented"]["per_seed"], float)


test = load(25, "power25_sphere_controller_0.25_seeds30")
for k in ("mpl", "error_rate"):
    b, a = arms(test, k)
    print(f"25 episodes, the test, {k}: Welch ab {test['metrics'][k]['welch']['p']:.4g} "
          f"scipy {stats.ttest_ind(a, b, equal_var=False).pvalue:.4g}; paired t "
          f"{stats.ttest_rel(a, b).pvalue:.2g}; Wilcoxon {stats.wilcoxon(a, b).pvalue:.2g}; "
          f"augmented higher / lower on {int((a > b).sum())} / {int((a < b).sum())} seeds")
for n, names in ((25, ("power25_sphere_controller_0.25_seeds30", "power25rep_sphere_controller_0.25_seeds30")),
                 (50, ("power50_sphere_controller_0.25_seeds30", "power50rep_sphere_controller_0.25_seeds30"))):
    runs = [load(n, x) for x in names]
    for k in ("mpl", "error_rate"):
        b = np.concatenate([arms(j, k)[0] for j in runs])
        a = np.concatenate([arms(j, k)[1] for j in runs])
        print(f"{n} episodes pooled ({len(a)} seeds), {k}: {b.mean():.4g} -> {a.mean():.4g} "
              f"({100 * (a.mean() / b.mean() - 1):+.1f} %), Welch p "
              f"{stats.ttest_ind(a, b, equal_var=False).pvalue:.2g}, paired p {stats.ttest_rel(a, b).pvalue:.2g}")
