# SPDX-License-Identifier: Apache-2.0
"""task_check_npz.py - independent numpy check of a dataset collected in a task-spec environment
(docs/TASKS.md).

usage: task_check_npz.py FILE.npz SPEC.json MAX_STEPS [reach]

Checks the D4RL invariants (one episode end per episode, on its last row; episodes no longer
than MAX_STEPS; next_observations[t] == observations[t+1] inside an episode), the econ columns
against their definitions (an episode is one attempt; units = sum unit_done; failures = sum
error_event; MPL = units / simulated hours; error rate = failures / attempts; EP = units / Wh;
energy = sum of the step energies; return = sum of rewards), and that they are absent when the
spec has no "units". With `reach`, the reward of every step is recomputed from the spec's terms
(distance of a point to a target, read from the observation's target - point; control cost
from the action; success on the terminal step) and compared. Exits 1 on any mismatch.
"""
import json
import sys

import numpy as np


def main():
    path, spec_path, max_steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reach = len(sys.argv) > 4 and sys.argv[4] == "reach"
    z = np.load(path)
    spec = json.load(open(spec_path))
    errs = []

    def check(cond, msg):
        if not cond and len(errs) < 20:
            errs.append(msg)

    ids = z["episode_ids"]
    obs, nobs, act, rew = z["observations"], z["next_observations"], z["actions"], z["rewards"]
    term, tout = z["terminals"].astype(bool), z["timeouts"].astype(bool)
    episodes = np.unique(ids)
    has_units = "units" in spec
    for k in ("ep_mpl", "ep_error_rate", "ep_ep", "ep_units", "ep_attempts", "ep_failures"):
        check((k in z) == has_units, f"{k}: present {k in z}, spec has units {has_units}")
    for k in ("ep_return", "ep_energy_wh", "ep_sim_seconds"):
        check(k in z, f"{k} missing")
    if errs:
        print("\n".join(errs))
        return 1
    for e in episodes:
        rows = np.nonzero(ids == e)[0]
        check(np.all(np.diff(rows) == 1), f"episode {e}: rows not contiguous")
        n = len(rows)
        check(n <= max_steps, f"episode {e}: {n} steps > {max_steps}")
        ends = term[rows] | tout[rows]
        check(ends[-1] and not ends[:-1].any(), f"episode {e}: the end flag is not exactly on the last row")
        check(not (term[rows[-1]] and tout[rows[-1]]), f"episode {e}: both terminal and timeout")
        if tout[rows[-1]]:
            check(n == max_steps, f"episode {e}: timeout after {n} steps")
        check(np.array_equal(nobs[rows[:-1]], obs[rows[1:]]), f"episode {e}: next_observations != observations[t+1]")
        check(abs(z["ep_return"][e] - rew[rows].astype(np.float64).sum()) < 1e-4 * max(1, abs(z["ep_return"][e])),
              f"episode {e}: return {z['ep_return'][e]} != sum of rewards {rew[rows].sum()}")
        energy = z["energy_wh"][rows].astype(np.float64).sum()
        check(abs(z["ep_energy_wh"][e] - energy) <= 1e-6 * max(1e-9, energy) + 1e-12,
              f"episode {e}: energy {z['ep_energy_wh'][e]} != sum {energy}")
        if has_units:
            units = z["unit_done"][rows].sum()
            fails = z["error_event"][rows].sum()
            check(z["ep_units"][e] == units, f"episode {e}: units {z['ep_units'][e]} != {units}")
            check(z["ep_failures"][e] == fails, f"episode {e}: failures {z['ep_failures'][e]} != {fails}")
            check(z["ep_attempts"][e] == 1 and units + fails <= 1, f"episode {e}: not one attempt")
            hours = z["ep_sim_seconds"][e] / 3600.0
            check(np.isclose(z["ep_mpl"][e], units / hours, rtol=1e-9), f"episode {e}: mpl")
            check(np.isclose(z["ep_error_rate"][e], fails / 1.0, rtol=1e-12), f"episode {e}: error rate")
            want_ep = units / z["ep_energy_wh"][e] if z["ep_energy_wh"][e] > 0 else 0.0
            check(np.isclose(z["ep_ep"][e], want_ep, rtol=1e-9), f"episode {e}: ep {z['ep_ep'][e]} != {want_ep}")
            # a success checked every step ends the episode as a terminal; one checked at the end
            # is on the timeout row; a terminal without a unit is a failure (a mistake if listed)
            at_end = spec.get("success", {}).get("check", "every_step") == "end"
            if units:
                check(tout[rows[-1]] if at_end else term[rows[-1]], f"episode {e}: unit not on the episode's end row")
            if term[rows[-1]] and not units:
                mistakes = spec["units"].get("mistakes", [])
                check(fails == (1 if "failure" in mistakes else 0), f"episode {e}: failure counted {fails}")
    if reach:
        # reward = sum of weight * term, for the spec's distance / control / success terms
        col = 0
        pred = np.zeros(len(rew))
        nq_nv = obs.shape[1] - 6 * sum(1 for t in spec["reward"] if t["quantity"] in ("distance", "progress"))
        for t in spec["reward"]:
            q, w = t["quantity"], t["weight"]
            if q == "distance":
                rel = nobs[:, nq_nv + 6 * col + 3: nq_nv + 6 * col + 6].astype(np.float64)
                pred += w * np.sqrt((rel ** 2).sum(axis=1))
                col += 1
            elif q == "control":
                pred += w * (act.astype(np.float64) ** 2).sum(axis=1)
            elif q == "success":
                pred += w * term
            else:
                errs.append(f"reach check: term {q} not supported by this script")
        d = np.abs(pred - rew)
        check(d.max() < 1e-5, f"reward recomputed from the spec differs by up to {d.max():.3g} (row {d.argmax()})")
    if errs:
        print("\n".join(errs))
        return 1
    print(f"task_check_npz: {len(episodes)} episodes, {len(rew)} steps ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
