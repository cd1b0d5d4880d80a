# SPDX-License-Identifier: Apache-2.0
"""Print the markdown tables of docs/RESULTS.md from the JSON/NPZ files that
scripts/experiments/results.sh writes (stability reports, branch files, A/B runs).
usage: python3 scripts/experiments/results_tables.py OUTDIR   (needs numpy)"""
import json, os, sys
import numpy as np

out = sys.argv[1]


def J(*p):
    f = os.path.join(out, *p)
    return json.load(open(f)) if os.path.exists(f) else None


def f3(x):
    return "—" if x is None else f"{x:.3f}"


def eval_table(n, name):
    e = J(f"n{n}", name)
    if e is None:
        return
    print(f"\n#### n{n} {name}\n")
    print("| h | starts | MSE | std ratio | var growth syn | var growth real | trust mean | trust min "
          "| trust pass (floor) | real windows' trust pass | disagreement | detection AUC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in e["horizons"]:
        print(f"| {r['h']} | {r['n_starts']} | {f3(r['mse'])} | {f3(r['std_ratio'])} | {f3(r['var_growth'])} | "
              f"{f3(r['var_growth_real'])} | {f3(r['trust_mean'])} | {f3(r['trust_min'])} | "
              f"{f3(r['trust_pass_rate'])} ({r['trust_floor']:.2f}) | {f3(r['trust_real_pass_rate'])} | "
              f"{f3(r['disagreement'])} | {f3(r['detect_auc'])} |")


def branch_table(n, files):
    print(f"\n#### n{n} branches\n")
    print("| file | h | branches | trust ≥ floor | trust > 0.95 | full gate pass | trust p50 | reasons (low-trust / ratio-low / ratio-high) | per brick pass |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        b = J(f"n{n}", f + ".json")
        if b is None:
            continue
        z = np.load(os.path.join(out, f"n{n}", f + ".npz"))
        t = z["trust"]
        fl = b["gate"]["min_trust"]
        br = " / ".join(f"{x['brick']}: {x['passed']}/{x['n']}" for x in b["bricks"])
        rs = b["reasons"]
        print(f"| {f} | {b['horizon']} | {b['n_branches']} | {np.mean(t >= fl)*100:.1f} % (≥ {fl:.2f}) | "
              f"{np.mean(t > 0.95)*100:.1f} % | {b['n_passed']} ({b['pass_rate']*100:.1f} %) | "
              f"{b['trust_quantiles']['p50']:.3f} | {rs['low-trust']} / {rs['std-ratio-low']} / {rs['std-ratio-high']} | {br} |")


def ab_rows(n):
    d = os.path.join(out, f"n{n}")
    if not os.path.isdir(d):
        return
    names = sorted(f[3:-5] for f in os.listdir(d) if f.startswith("ab_") and f.endswith(".json"))
    groups = {}
    for nm in names:
        groups.setdefault(J(f"n{n}", f"ab_{nm}.json")["n_seeds"], []).append(nm)
    for ns in sorted(groups):
        a = J(f"n{n}", f"ab_{groups[ns][0]}.json")
        m = a["metrics"]

        def base(k, fmt):
            g = m[k]["baseline"]
            return f"{g['mean']:{fmt}} [{g['ci_lo']:{fmt}}, {g['ci_hi']:{fmt}}]"
        print(f"\n#### n{n} A/B, {ns} seeds (baseline: MPL {base('mpl', '.0f')}, error {base('error_rate', '.3f')}, "
              f"action MSE {base('action_mse', '.4f')}; per seed MPL {[round(x) for x in m['mpl']['baseline']['per_seed']]})\n")
        print("| run | synth rows | realised share | MPL | ΔMPL (p) | error rate | Δerror (p) | action MSE | ΔMSE (p) | verdict |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for nm in groups[ns]:
            a = J(f"n{n}", f"ab_{nm}.json")
            m2 = a["metrics"]

            def cell(k, fmt):
                g = m2[k]["augmented"]
                return f"{g['mean']:{fmt}} [{g['ci_lo']:{fmt}}, {g['ci_hi']:{fmt}}]"

            def delta(k):
                rc = m2[k]["rel_change"]
                p = m2[k]["welch"]["p"]
                rcs = "—" if rc is None else f"{rc*100:+.1f} %"
                ps = "—" if p is None else f"{p:.3g}"
                return f"{rcs} ({ps})"
            # the baseline is the same in every run with the same seeds
            assert m2["mpl"]["baseline"]["per_seed"] == m["mpl"]["baseline"]["per_seed"]
            print(f"| {nm} | {a['n_synth']} | {a['synth_share']:.3f} | {cell('mpl', '.0f')} | {delta('mpl')} | "
                  f"{cell('error_rate', '.3f')} | {delta('error_rate')} | {cell('action_mse', '.4f')} | "
                  f"{delta('action_mse')} | {a['verdict']} |")


for n in (50, 25, 10):
    eval_table(n, "eval_wm.json")
    if n == 50:
        eval_table(n, "eval_poison.json")
    branch_table(n, ["br_h5", "br_h10", "br_h20", "br_h60", "br_poison_h10", "br_poison_h60"])
    for w in ("wm", "wm_tf", "wm_poison"):
        r = J(f"n{n}", w + ".json")
        if r:
            print(f"\nn{n} {w}: {json.dumps(r.get('report'))}")
for n in (50, 25, 10):
    ab_rows(n)
