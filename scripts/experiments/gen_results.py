#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The generator table of docs/RESULTS.md (issue 16): every generator on the customer table of
gen_table.py, with and without DP-SGD, scored by `synthloop generate` (the same scores as
`synthloop synth-eval`).

usage: gen_results.py [--bin build/synthloop] [--dir /tmp/gen-results] [--rows 10000]
       [--epochs 60] [--seed 1]
Prints a markdown table; every number comes from the `--json` output of one command, and the
commands are printed above the table.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "synthloop"))
    ap.add_argument("--dir", default="/tmp/gen-results")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "gen_table.py"), a.dir, "--rows",
                    str(a.rows), "--holdout", str(a.rows // 2)], check=True)
    d = a.dir
    common = ["--db", "none", "--quiet", "--json", "--quality-threshold", "0", "--seed",
              str(a.seed), "--data", f"{d}/train.csv", "--schema", f"{d}/schema.json",
              "--holdout", f"{d}/holdout.csv"]
    vae = ["--method", "vae", "--epochs", str(a.epochs)]
    runs = [
        ("copula", "-", ["--method", "copula"]),
        ("vae", "inf", vae),
        # --dp-reproducible: noise from --seed so that the table can be re-made; a real
        # release leaves it off (noise from the OS's CSPRNG)
        ("vae + DP-SGD", "4", vae + ["--dp-epsilon", "4", "--dp-delta", "1e-5",
                                     "--dp-reproducible"]),
        ("vae + DP-SGD", "1", vae + ["--dp-epsilon", "1", "--dp-delta", "1e-5",
                                     "--dp-reproducible"]),
        ("rules (hand-written)", "-",
         ["--method", "rules", "--rules", os.path.join(HERE, "gen_rules_customers.json")]),
    ]
    rows = []
    for name, eps, extra in runs:
        out = f"{d}/{name.split()[0]}_{eps}.csv"
        cmd = [a.bin, "generate"] + common + extra + ["--out", out]
        print("$ " + " ".join(cmd))
        t0 = time.time()
        r = subprocess.run(cmd, check=True, capture_output=True, text=True)
        j = json.loads(r.stdout)
        p = j["privacy"]
        dp = j["dp_statement"]
        eps_txt = f"{dp['epsilon']:.3f} (sigma {dp['noise_multiplier']:.2f})" if dp["dp"] else "none"
        rows.append((name, eps_txt, j["quality"], j["fidelity"], j["pair_similarity"],
                     j["detection_auc"], j["detection_auc_logistic"], j["detection_auc_mlp"],
                     j["coverage"], j["diversity"], p["dcr_synth_median"], p["dcr_holdout_median"],
                     p["dcr_share"], p["membership_auc"], time.time() - t0))
    print()
    print("| generator | eps (delta 1e-5) | quality | fidelity | pairs | detection AUC (LR / MLP) "
          "| coverage | diversity | DCR synth / holdout | DCR share | membership AUC | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} "
              f"({r[6]:.3f} / {r[7]:.3f}) | {r[8]:.3f} | {r[9]:.3f} | {r[10]:.3f} / {r[11]:.3f} "
              f"| {r[12]:.3f} | {r[13]:.3f} | {r[14]:.0f} |")


if __name__ == "__main__":
    main()
