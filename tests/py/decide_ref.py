# SPDX-License-Identifier: Apache-2.0
"""Reference values for tests/test_decide.c (paired A/B decisions), from scipy.

usage: decide_ref.py IN.json OUT.json
Any exception exits non-zero, which fails the C test.
"""
import json
import sys
import warnings

import numpy as np
from scipy import stats


def decide(c):
    b = np.asarray(c["base"], dtype=np.float64)
    a = np.asarray(c["aug"], dtype=np.float64)
    sgn = 1.0 if c["higher"] else -1.0
    n = len(b)
    df = n - 1
    mb, ma = b.mean(), a.mean()
    R = ma / mb
    imp = sgn * (R - 1.0)
    u = a - R * b
    se = u.std(ddof=1) / (np.sqrt(n) * abs(mb))
    tq = stats.t.ppf(0.975, df)
    tt = stats.ttest_rel(a, b)  # two-sided paired t-test
    t = float(tt.statistic)
    p_harm = float(stats.t.cdf(sgn * t, df))
    delta = c["no_harm"]
    p_equiv = max(float(stats.t.sf((imp + delta) / se, df)), float(stats.t.cdf((imp - delta) / se, df)))
    sigma = se * np.sqrt(n)
    alpha = c["alpha"]
    # the documented shifted-t approximations
    tc2 = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(imp) * np.sqrt(n) / sigma
    # the exact power of the paired t-test from the noncentral t distribution
    pw_exact = float(stats.nct.sf(tc2, df, ncp) + stats.nct.cdf(-tc2, df, ncp))
    tc1 = stats.t.ppf(1 - alpha, df)
    pw_tost = max(0.0, float(stats.t.cdf((delta - imp) * np.sqrt(n) / sigma - tc1, df)
                             + stats.t.cdf((delta + imp) * np.sqrt(n) / sigma - tc1, df) - 1.0))
    return {"improvement": float(imp), "se": float(se), "ci_lo": float(imp - tq * se),
            "ci_hi": float(imp + tq * se), "t": t, "p": float(tt.pvalue), "p_harm": p_harm,
            "p_equiv": p_equiv, "sigma": float(sigma), "power_exact": pw_exact, "power_tost": pw_tost}


def exact_power(imp, sigma, n, alpha):
    df = n - 1
    tc2 = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(imp) * np.sqrt(n) / sigma
    return float(stats.nct.sf(tc2, df, ncp) + stats.nct.cdf(-tc2, df, ncp))


def main():
    warnings.simplefilter("ignore")  # scipy's nct warns near power 1
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = {"decide": [decide(c) for c in cases["decide"]],
           "norm_ppf": [float(stats.norm.ppf(p)) for p in cases["norm_ppf"]],
           "needed_exact_power": [exact_power(c["imp"], c["sigma"], c["n"], c["alpha"])
                                  for c in cases["needed"]]}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
