# SPDX-License-Identifier: Apache-2.0
"""Reference novelty for tests/test_weight_dist.c: brute-force nearest neighbours in numpy.
usage: novelty_ref.py IN.npz OUT.json"""
import json
import sys

import numpy as np

d = np.load(sys.argv[1])
real = d["real"].astype(np.float64)
br = d["branches"].astype(np.float64)
D = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))
np.fill_diagonal(D, np.inf)
d_ref = float(np.median(D.min(1)))
out = []
for b in br:
    dist = np.sqrt(((b[:, None, :] - real[None, :, :]) ** 2).sum(-1)).min(1).mean()
    out.append(float(dist / (dist + d_ref)))
json.dump({"d_ref": d_ref, "novelty": out}, open(sys.argv[2], "w"))
