#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cli_reg_check.py - independent check (sqlite3 + hashlib) of what a synthloop command
recorded into the run registry. Used by tests/test_cli_registry.c.

usage: cli_reg_check.py DB RUN ASSERTION...
  RUN          a run id, or "last" (the largest id)
assertions:
  nruns=N                  the registry holds exactly N runs
  command=NAME             runs.command
  status=ok|failed         runs.status (ok also needs ended set; failed needs summary.error)
  seed=N                   runs.seed
  config.KEY=VALUE         runs.config[KEY] (numbers compared as floats, else as text)
  summary.KEY=VALUE        runs.summary[KEY], likewise
  error~TEXT               summary.error contains TEXT
  dataset=KIND:PATH        a datasets row of this run with that kind, the absolute path,
                           sha256 and size of the file (hashlib), and n_rows / n_episodes equal
                           to the NPZ's rows and distinct episode_ids (numpy)
  model=KIND:PATH          a models row, likewise (sha256 and path)
  artifact=KIND:PATH       an artifacts row, likewise (sha256, bytes, path)
  metric=SERIES:N          series SERIES has exactly N points, all finite
  metric_last=SERIES:VALUE last point of SERIES equals VALUE (relative 1e-9); VALUE may be
                           @FILE.json:a.b (that key of a JSON file)
  estimate=NAME            an estimates row named NAME with ci_lo <= value <= ci_hi
  samples_npz=NAME:LABEL:FILE  a samples row holding exactly the finite "trust" values of
                           FILE (an NPZ from `trust score`), sorted
  result=KIND              a results row whose json parses
  rows=TABLE:N             exactly N rows of this run in TABLE
  norows                   no result rows (datasets, models, artifacts, estimates, samples,
                           results); the progress recorded as the run went (jobs and
                           metric series, issue 12) may be there, but no job still running
  abspaths                 every datasets / models / artifacts path of the run, and every
                           "branches_file" in its ladder_levels details, is an absolute path
                           of an existing file (the registry reads the same from any cwd)
Prints nothing and exits 0, or prints every failed assertion and exits 1.
"""
import hashlib
import json
import math
import os
import sqlite3
import sys

import numpy as np

CHILD_TABLES = ["datasets", "models", "artifacts", "metrics", "estimates", "samples",
                "results", "jobs", "branches", "weights", "world_eval", "ab_experiments",
                "ladder_levels"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def npz_counts(path):
    z = np.load(path)
    for key in ("rewards", "latents", "brick_ids"):
        if key in z.files:
            n = z[key].shape[0]
            break
    else:
        raise KeyError("%s: no rows key" % path)
    ids = z["episode_ids"]
    return n, len(np.unique(ids))


def json_value(spec):
    path, keys = spec[1:].split(":", 1)
    v = json.load(open(path))
    for k in keys.split("."):
        v = v[k]
    return v


def same(a, b):
    try:
        x, y = float(a), float(b)
        return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))
    except (TypeError, ValueError):
        return str(a) == str(b)


def main():
    db, run_ref, asserts = sys.argv[1], sys.argv[2], sys.argv[3:]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    con.row_factory = sqlite3.Row
    q = lambda sql, *a: con.execute(sql, a).fetchall()
    fails = []
    run_id = q("SELECT max(id) AS m FROM runs")[0]["m"] if run_ref == "last" else int(run_ref)
    rows = q("SELECT * FROM runs WHERE id=?", run_id)
    if not rows:
        print("run %s not found in %s" % (run_ref, db))
        return 1
    run = rows[0]
    config = json.loads(run["config"]) if run["config"] else None
    summary = json.loads(run["summary"]) if run["summary"] else None

    def file_row(table, kind, path, extra=None):
        absp = os.path.realpath(path)
        rs = q("SELECT * FROM %s WHERE run_id=? AND kind=?" % table, run_id, kind)
        rs = [r for r in rs if r["path"] == absp]
        if len(rs) != 1:
            fails.append("%s: %d rows of kind %s with path %s" % (table, len(rs), kind, absp))
            return None
        r = rs[0]
        if not os.path.exists(absp):
            fails.append("%s: file %s missing" % (table, absp))
            return None
        if r["sha256"] != sha256(absp):
            fails.append("%s %s: sha256 %s != file's %s" % (table, kind, r["sha256"], sha256(absp)))
        if "bytes" in r.keys() and r["bytes"] != os.path.getsize(absp):
            fails.append("%s %s: bytes %s != %d" % (table, kind, r["bytes"], os.path.getsize(absp)))
        return r

    for a in asserts:
        if a == "abspaths":
            paths = []
            for t in ("datasets", "models", "artifacts"):
                paths += [(t, r["path"]) for r in q("SELECT path FROM %s WHERE run_id=?" % t, run_id)]
            for r in q("SELECT detail FROM ladder_levels WHERE run_id=?", run_id):
                d = json.loads(r["detail"]) if r["detail"] else {}
                if "branches_file" in d:
                    paths.append(("ladder_levels", d["branches_file"]))
            if not paths:
                fails.append("abspaths: the run has no file rows")
            for t, p in paths:
                if not (os.path.isabs(p) and os.path.isfile(p)):
                    fails.append("abspaths: %s path %r is not an absolute path of a file" % (t, p))
            continue
        if a == "norows":
            for t in CHILD_TABLES:
                if t in ("metrics", "jobs"):  # progress as it went (issue 12), not results
                    continue
                n = q("SELECT count(*) AS n FROM %s WHERE run_id=?" % t, run_id)[0]["n"]
                if n:
                    fails.append("norows: %d rows in %s" % (n, t))
            n = q("SELECT count(*) AS n FROM jobs WHERE run_id=? AND status='running'", run_id)[0]["n"]
            if n:
                fails.append("norows: %d jobs still running" % n)
            continue
        if "~" in a and "=" not in a.split("~")[0]:
            key, val = a.split("~", 1)
            err = (summary or {}).get("error", "") if isinstance(summary, dict) else ""
            if val not in str(err):
                fails.append("summary.error %r does not contain %r" % (err, val))
            continue
        key, val = a.split("=", 1)
        if key == "nruns":
            n = q("SELECT count(*) AS n FROM runs")[0]["n"]
            if n != int(val):
                fails.append("nruns: %d, expected %s" % (n, val))
        elif key == "command":
            if run["command"] != val:
                fails.append("command %r != %r" % (run["command"], val))
        elif key == "status":
            if run["status"] != val:
                fails.append("status %r != %r (summary %s)" % (run["status"], val, run["summary"]))
            if val == "ok" and not run["ended"]:
                fails.append("status ok but ended is NULL")
            if val == "failed" and not (isinstance(summary, dict) and summary.get("error")):
                fails.append("failed run without summary.error: %s" % run["summary"])
        elif key == "seed":
            if run["seed"] != int(val):
                fails.append("seed %s != %s" % (run["seed"], val))
        elif key.startswith("config.") or key.startswith("summary."):
            obj = config if key.startswith("config.") else summary
            k = key.split(".", 1)[1]
            if not isinstance(obj, dict) or k not in obj:
                fails.append("%s missing (%s)" % (key, json.dumps(obj)[:200]))
            elif not same(obj[k], val):
                fails.append("%s = %r, expected %r" % (key, obj[k], val))
        elif key in ("dataset", "model", "artifact"):
            kind, path = val.split(":", 1)
            r = file_row(key + "s", kind, path)
            if r is not None and key == "dataset":
                n, e = npz_counts(path)
                if r["n_rows"] != n or r["n_episodes"] != e:
                    fails.append("dataset %s: n_rows %s n_episodes %s, the file has %d %d" %
                                 (kind, r["n_rows"], r["n_episodes"], n, e))
        elif key == "metric":
            series, n = val.rsplit(":", 1)
            rs = q("SELECT value FROM metrics WHERE run_id=? AND series=?", run_id, series)
            if len(rs) != int(n):
                fails.append("metric %s: %d points, expected %s" % (series, len(rs), n))
            if any(r["value"] is None or not math.isfinite(r["value"]) for r in rs):
                fails.append("metric %s: non-finite value" % series)
        elif key == "metric_last":
            series, v = val.split(":", 1)
            if v.startswith("@"):
                v = json_value(v)
            rs = q("SELECT value FROM metrics WHERE run_id=? AND series=? ORDER BY step DESC "
                   "LIMIT 1", run_id, series)
            if not rs or not same(rs[0]["value"], v):
                fails.append("metric %s last %s, expected %s" %
                             (series, rs[0]["value"] if rs else None, v))
        elif key == "estimate":
            rs = q("SELECT * FROM estimates WHERE run_id=? AND name=?", run_id, val)
            if len(rs) != 1:
                fails.append("estimate %s: %d rows" % (val, len(rs)))
            elif not (rs[0]["ci_lo"] <= rs[0]["value"] <= rs[0]["ci_hi"]):
                fails.append("estimate %s: value outside its CI" % val)
        elif key == "samples_npz":
            name, label, path = val.split(":", 2)
            z = np.load(path)
            want = np.sort(z["trust"][z["finite"]])
            rs = q("SELECT * FROM samples WHERE run_id=? AND name=? AND label=?", run_id, name, label)
            if len(rs) != 1:
                fails.append("samples %s:%s: %d rows" % (name, label, len(rs)))
            else:
                got = np.frombuffer(rs[0]["data"], dtype="<f8")
                if rs[0]["n"] != len(want) or not np.array_equal(got, want):
                    fails.append("samples %s:%s: n %d (blob %d values) vs %d finite scores in %s"
                                 % (name, label, rs[0]["n"], len(got), len(want), path))
        elif key == "result":
            rs = q("SELECT json FROM results WHERE run_id=? AND kind=?", run_id, val)
            if len(rs) != 1:
                fails.append("result %s: %d rows" % (val, len(rs)))
            else:
                json.loads(rs[0]["json"])
        elif key == "rows":
            t, n = val.split(":")
            m = q("SELECT count(*) AS n FROM %s WHERE run_id=?" % t, run_id)[0]["n"]
            if m != int(n):
                fails.append("rows %s: %d, expected %s" % (t, m, n))
        else:
            fails.append("unknown assertion %r" % a)
    if fails:
        print("run %d (%s, %s):" % (run_id, run["command"], run["status"]))
        for f in fails:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
