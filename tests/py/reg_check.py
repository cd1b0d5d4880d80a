#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""reg_check.py DB RUN EXPORT.json - independent check of a registry file and of the
`synthloop export` JSON of one run, using Python's own sqlite3 module and hashlib.
Exits 1 (printing what differs) on any disagreement."""
import hashlib
import json
import math
import sqlite3
import struct
import sys

db, run, exp_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
exp = json.load(open(exp_path))
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
con.row_factory = sqlite3.Row
errs = []


def same(a, b, what):
    if isinstance(a, float) or isinstance(b, float):
        ok = a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=0)
    else:
        ok = a == b
    if not ok:
        errs.append(f"{what}: db={a!r} export={b!r}")


assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
same(con.execute("PRAGMA user_version").fetchone()[0], exp["schema_version"], "schema_version")
same(con.execute("PRAGMA journal_mode").fetchone()[0], "wal", "journal_mode")

r = con.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
er = exp["run"]
for k in ("id", "command", "status", "git", "version", "started", "ended", "note"):
    same(r[k], er.get(k), f"run.{k}")
same(r["seed"] & 0xFFFFFFFFFFFFFFFF, er["seed"], "run.seed (u64)")
same(json.loads(r["config"]) if r["config"] else None, er.get("config"), "run.config")
same(json.loads(r["summary"]) if r["summary"] else None, er.get("summary"), "run.summary")

series = {}
for row in con.execute("SELECT series, step, value FROM metrics WHERE run_id=? ORDER BY series, step", (run,)):
    s = series.setdefault(row[0], {"step": [], "value": []})
    s["step"].append(row[1])
    s["value"].append(row[2])
same(series, exp["metrics"], "metrics")

tables = {"datasets": "datasets", "models": "models", "artifacts": "artifacts", "jobs": "jobs",
          "world_eval": "world_eval", "branches": "branches", "weights": "weights",
          "estimates": "estimates", "samples": "samples", "ab_experiments": "ab_experiments",
          "ladder": "ladder_levels", "results": "results", "privacy_ledger": "privacy_ledger",
          "deployments": "deployments", "anonymization_logs": "anonymization_logs"}
for key, table in tables.items():
    n = con.execute(f"SELECT count(*) FROM {table} WHERE run_id=?", (run,)).fetchone()[0]
    same(n, len(exp[key]), f"row count of {table}")

for d in exp["datasets"]:
    h = hashlib.sha256(open(d["path"], "rb").read()).hexdigest()
    same(h, d["sha256"], f"sha256 of {d['path']}")

for row, e in zip(con.execute("SELECT n, data FROM samples WHERE run_id=? ORDER BY id", (run,)), exp["samples"]):
    vals = list(struct.unpack(f"<{row[0]}d", row[1]))
    same(vals, e["data"], "samples blob")

for row, e in zip(con.execute("SELECT trust, std_ratio, passed FROM branches WHERE run_id=? ORDER BY id", (run,)), exp["branches"]):
    same(row[0], e["trust"], "branch trust")
    same(row[1], e["std_ratio"], "branch std_ratio")
    same(row[2], e["passed"], "branch passed")

fk = con.execute("PRAGMA foreign_key_check").fetchall()
if fk:
    errs.append(f"foreign key violations: {fk}")

if errs:
    print("reg_check: MISMATCH")
    for e in errs:
        print("  " + e)
    sys.exit(1)
print("reg_check: ok")
