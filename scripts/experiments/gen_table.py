#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A realistic mixed-type customer table for the record generators (docs/GEN.md, RESULTS.md).

usage: gen_table.py OUTDIR [--rows N] [--holdout M] [--seed S]

Writes OUTDIR/train.csv (N rows), OUTDIR/holdout.csv (M rows from the same distribution, never
shown to a generator) and OUTDIR/schema.json (column types, roles, public bounds and label
lists, as the privacy schema has them). Ten columns with skew, zero inflation, dependence
between numeric and categorical columns, integers and a date:
  age (int, right-skewed), education (5 labels, depends on age), region (5 labels),
  income (lognormal, depends on age and education), plan (4 labels, depends on income),
  monthly_spend (0 on the free plan, gamma otherwise, scales with plan and income),
  tenure_months (int, depends on age), signup_date (date = 2025-01-01 - tenure),
  satisfaction (1..10, continuous), churned (yes/no, logistic in tenure, satisfaction, plan).
"""
import argparse
import datetime as dt
import json
import os

import numpy as np

EDU = ["none", "high_school", "bachelor", "master", "phd"]
REGION = ["north", "south", "east", "west", "central"]
PLAN = ["free", "basic", "pro", "enterprise"]


def make(n, rng):
    age = np.clip(np.round(18 + rng.gamma(2.2, 9.0, n)), 18, 90).astype(int)
    # education: older people a bit more often with degrees, up to ~50
    young = age < 25
    p = np.where(young[:, None], [0.08, 0.55, 0.30, 0.06, 0.01], [0.06, 0.35, 0.35, 0.18, 0.06])
    u = rng.random(n)[:, None]
    edu = (u > np.cumsum(p, axis=1)).sum(axis=1)
    region = rng.choice(len(REGION), n, p=[0.22, 0.26, 0.18, 0.2, 0.14])
    log_inc = 9.6 + 0.22 * edu + 0.018 * np.minimum(age, 55) - 0.01 * np.maximum(age - 65, 0) \
        + 0.05 * (region == 4) + rng.normal(0, 0.45, n)
    income = np.round(np.exp(log_inc), 2)
    # plan: multinomial logit in log income
    z = (log_inc - 10.6) * 2.0
    logits = np.stack([0.8 - z, 0.3 + 0.0 * z, -0.4 + 0.9 * z, -2.2 + 1.6 * z], axis=1)
    pr = np.exp(logits - logits.max(axis=1, keepdims=True))
    pr /= pr.sum(axis=1, keepdims=True)
    plan = (rng.random(n)[:, None] > np.cumsum(pr, axis=1)).sum(axis=1)
    plan = np.minimum(plan, 3)
    base = np.array([0.0, 12.0, 45.0, 220.0])[plan]
    spend = np.where(plan == 0, 0.0,
                     np.round(base * rng.gamma(3.0, 1 / 3.0, n) * (income / 40000) ** 0.3, 2))
    tenure = np.clip(np.round(rng.exponential(14 + 0.5 * (age - 18), n)), 1, 240).astype(int)
    ref = dt.date(2025, 1, 1)
    signup = [ref - dt.timedelta(days=int(30.44 * t)) for t in tenure]
    sat = np.clip(6.5 + 0.6 * (plan >= 2) - 0.015 * (age - 40) + rng.normal(0, 1.6, n), 1, 10)
    sat = np.round(sat, 1)
    lz = -0.4 - 0.03 * tenure - 0.45 * (sat - 6.5) + 0.5 * (plan == 0)
    churn = rng.random(n) < 1 / (1 + np.exp(-lz))
    return {
        "age": age, "education": [EDU[i] for i in edu], "region": [REGION[i] for i in region],
        "income": income, "plan": [PLAN[i] for i in plan], "monthly_spend": spend,
        "tenure_months": tenure, "signup_date": [d.isoformat() for d in signup],
        "satisfaction": sat, "churned": ["yes" if c else "no" for c in churn],
    }


def write_csv(path, cols, n):
    names = list(cols)
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            f.write(",".join(str(cols[k][i]) for k in names) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--holdout", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    write_csv(os.path.join(a.outdir, "train.csv"), make(a.rows, rng), a.rows)
    write_csv(os.path.join(a.outdir, "holdout.csv"), make(a.holdout, rng), a.holdout)
    schema = {"columns": [
        {"name": "age", "role": "quasi_identifier", "type": "numeric", "integer": True,
         "min": 18, "max": 90},
        {"name": "education", "role": "quasi_identifier", "type": "categorical",
         "categories": EDU},
        {"name": "region", "role": "quasi_identifier", "type": "categorical",
         "categories": REGION},
        {"name": "income", "role": "sensitive", "type": "numeric", "min": 0, "max": 500000},
        {"name": "plan", "role": "attribute", "type": "categorical", "categories": PLAN},
        {"name": "monthly_spend", "role": "sensitive", "type": "numeric", "min": 0,
         "max": 2000},
        {"name": "tenure_months", "role": "attribute", "type": "numeric", "integer": True,
         "min": 1, "max": 240},
        {"name": "signup_date", "role": "quasi_identifier", "type": "date",
         "min": "2005-01-01", "max": "2025-01-01"},
        {"name": "satisfaction", "role": "attribute", "type": "numeric", "min": 1, "max": 10},
        {"name": "churned", "role": "attribute", "type": "categorical",
         "categories": ["no", "yes"]},
    ]}
    with open(os.path.join(a.outdir, "schema.json"), "w") as f:
        json.dump(schema, f, indent=1)


if __name__ == "__main__":
    main()
