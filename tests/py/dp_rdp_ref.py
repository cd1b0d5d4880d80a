#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Independent float64 reference for the subsampled Gaussian's Renyi DP (tests/test_dpsgd.c).

usage: dp_rdp_ref.py IN.json OUT.json

IN.json: {"cases": [[q, sigma, alpha], ...]}. OUT.json: {"rdp": [...]}, the RDP of one step,
    rdp = log(A_alpha) / (alpha - 1),
    A_alpha = integral N(z; 0, sigma^2) ((1 - q) + q exp((2 z - 1) / (2 sigma^2)))^alpha dz,
computed by numerical integration (not by the binomial/erfc series the C code uses): the log
integrand is evaluated on a grid to find its modes, then scipy.integrate.quad integrates
exp(log f - max log f) over windows around every mode and the tails between them.
"""
import json
import sys

import numpy as np
from scipy import integrate


def log_integrand(z, q, sigma, alpha):
    log_mu0 = -0.5 * (z / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
    t = (2 * z - 1) / (2 * sigma ** 2)
    # log((1-q) + q e^t) stably
    log_mix = np.logaddexp(np.log1p(-q), np.log(q) + t)
    return log_mu0 + alpha * log_mix


def rdp(q, sigma, alpha):
    if q == 1.0:
        return alpha / (2 * sigma ** 2)
    hi = alpha + 60 * sigma + 10
    lo = -60 * sigma - 10
    grid = np.linspace(lo, hi, 400001)
    lf = log_integrand(grid, q, sigma, alpha)
    m = lf.max()
    # quad over the whole range with the grid's breakpoints near the mass
    keep = grid[lf > m - 60]
    a, b = keep.min(), keep.max()
    pts = np.linspace(a, b, 41)
    total = 0.0
    for x0, x1 in zip(pts[:-1], pts[1:]):
        v, _ = integrate.quad(lambda z: np.exp(log_integrand(z, q, sigma, alpha) - m), x0, x1,
                              epsabs=0, epsrel=1e-13, limit=200)
        total += v
    log_a = m + np.log(total)
    return log_a / (alpha - 1)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    out = {"rdp": [float(rdp(float(q), float(s), float(a))) for q, s, a in cases]}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
