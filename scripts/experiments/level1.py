# SPDX-License-Identifier: Apache-2.0
"""Issue 4's targets for the settings of results.sh stage `level1` (docs/RESULTS.md, "Trust
level 1"). Reads OUTDIR/n50/l1_*.
usage: python3 scripts/experiments/level1.py OUTDIR [CFG[=label] ...]   (numpy)"""
import json
import os
import sys

import numpy as np

d = os.path.join(sys.argv[1], "n50")
NAMES = {"old_old": "before: old world model, old trust_net",
         "old_new": "old world model, new trust_net",
         "new_new": "new world model (seed 1), new trust_net",
         "s2_new": "new world model (seed 2), new trust_net"}
if len(sys.argv) > 2:  # other settings: CFG or CFG=label
    NAMES = dict((a.split("=", 1) + [a])[:2] for a in sys.argv[2:])


def load(name):
    return np.load(os.path.join(d, name))


print("| setting | std ratio h5 / h10 / h20 / h40 / h60 | var growth syn/real − 1 (%) | "
      "detection AUC h5 / h10 / h20 |")
print("|---|---|---|---|")
for cfg, label in NAMES.items():
    rows = json.load(open(os.path.join(d, "l1_%s_eval.json" % cfg)))["horizons"]
    sr = " / ".join("%.3f" % r["std_ratio"] for r in rows)
    vg = " / ".join("%+.1f" % (100 * (r["var_growth"] / r["var_growth_real"] - 1)) for r in rows)
    det = " / ".join("%.3f" % r["detect_auc"] for r in rows[:3])
    print("| %s | %s | %s | %s |" % (label, sr, vg, det))

print()
print("| setting | h5 ≥ 0.95 (t0 < 20 / ≥ 20) | h10 ≥ 0.9 | h20 ≥ 0.85 | passed gates h5 / h10 / h20 "
      "| fresh real 5-step ≥ 0.95 / 0.9 / 0.85 |")
print("|---|---|---|---|---|---|")
for cfg, label in NAMES.items():
    b = {h: load("l1_%s_h%d.npz" % (cfg, h)) for h in (5, 10, 20)}
    t5, s5 = b[5]["trust"], b[5]["source_t"]
    fr = load("l1_%s_fresh.npz" % cfg)["trust"]
    print("| %s | %.1f %% (%.1f / %.1f) | %.1f %% | %.1f %% | %.1f / %.1f / %.1f %% | %.1f / %.1f / %.1f %% |" % (
        label, 100 * (t5 >= 0.95).mean(), 100 * (t5[s5 < 20] >= 0.95).mean(),
        100 * (t5[s5 >= 20] >= 0.95).mean(), 100 * (b[10]["trust"] >= 0.9).mean(),
        100 * (b[20]["trust"] >= 0.85).mean(),
        *(100 * b[h]["passed"].mean() for h in (5, 10, 20)),
        *(100 * (fr >= f).mean() for f in (0.95, 0.9, 0.85))))

print()
for t, label in (("trust_old", "old recipe's poison, old trust_net"), ("trust", "new recipe's poison, new trust_net")):
    if not os.path.exists(os.path.join(d, "l1_poison_%s_h10.npz" % t)):
        continue
    p10, p60 = load("l1_poison_%s_h10.npz" % t), load("l1_poison_%s_h60.npz" % t)
    ev = json.load(open(os.path.join(d, "l1_poison_%s_eval.json" % t)))["horizons"]
    print("%s (noise 3): std ratio %s; h10 trust ≥ 0.9 %.1f %% (mean %.3f), gates passed %.1f %%; "
          "h60 trust ≥ 0.85 %.1f %% (mean %.3f), gates passed %.1f %%" % (
              label, " / ".join("%.2f" % r["std_ratio"] for r in ev),
              100 * (p10["trust"] >= 0.9).mean(), p10["trust"].mean(), 100 * p10["passed"].mean(),
              100 * (p60["trust"] >= 0.85).mean(), p60["trust"].mean(), 100 * p60["passed"].mean()))
