# SPDX-License-Identifier: Apache-2.0
"""env_check_npz.py - independent numpy check of a dataset written by the workcell collector.

usage: env_check_npz.py FILE.npz EPISODES STEPS
Recomputes the episode econ columns from the per-step event columns and the definitions in
docs/WORKCELL.md (MPL = units / simulated hours, error rate = failures / attempts, EP = units per
Wh, wage parity = MPL * 0.03 / 18) and checks the D4RL invariants. Exits 1 on any mismatch.
"""
import sys

import numpy as np


def main():
    path, n_ep, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    z = np.load(path)
    errs = []

    def check(cond, msg):
        if not cond:
            errs.append(msg)

    n = n_ep * steps
    for k, shape in [("observations", (n, 24)), ("next_observations", (n, 24)), ("actions", (n, 4)),
                     ("rewards", (n,)), ("terminals", (n,)), ("timeouts", (n,)),
                     ("episode_ids", (n,)), ("timesteps", (n,))]:
        check(k in z and z[k].shape == shape, f"{k}: shape {z[k].shape if k in z else None} != {shape}")
    if errs:
        print("\n".join(errs))
        return 1
    ids = z["episode_ids"]
    check(np.array_equal(ids, np.repeat(np.arange(n_ep), steps)), "episode_ids not 0..E-1 in blocks")
    check(np.array_equal(z["timesteps"], np.tile(np.arange(steps), n_ep)), "timesteps wrong")
    check(z["timeouts"].sum() == n_ep and z["timeouts"].reshape(n_ep, steps)[:, -1].all(),
          "one timeout at each episode end")
    check(z["terminals"].sum() == 0, "workcell episodes never terminate early")
    for k in z.files:
        if z[k].dtype.kind == "f":
            check(np.isfinite(z[k]).all(), f"{k} has non-finite values")
    o, no = z["observations"].reshape(n_ep, steps, 24), z["next_observations"].reshape(n_ep, steps, 24)
    check(np.array_equal(o[:, 1:], no[:, :-1]), "next_observations[t] != observations[t+1]")
    check(np.abs(z["actions"]).max() <= 1.0, "actions outside [-1, 1]")

    def per_ep(col):
        return z[col].astype(np.float64).reshape(n_ep, steps).sum(axis=1)

    units, fails, atts, energy = per_ep("unit_done"), per_ep("error_event"), per_ep("attempt_event"), per_ep("energy_wh")
    check(np.array_equal(units, z["ep_units"]), "ep_units != sum(unit_done)")
    check(np.array_equal(fails, z["ep_failures"]), "ep_failures != sum(error_event)")
    check(np.array_equal(atts, z["ep_attempts"]), "ep_attempts != sum(attempt_event)")
    check(np.allclose(energy, z["ep_energy_wh"], rtol=1e-5, atol=1e-9), "ep_energy_wh != sum(energy_wh)")
    check(np.allclose(z["ep_drops"] + z["ep_misses"] + z["ep_collisions"] + z["ep_timeouts"], z["ep_failures"]),
          "error kinds do not add up to failures")
    hours = z["ep_sim_seconds"] / 3600.0
    check(np.allclose(z["ep_sim_seconds"], steps * 0.1), "sim_seconds != steps * 0.1 s")
    mpl = z["ep_units"] / hours
    check(np.allclose(mpl, z["ep_mpl"], rtol=1e-12), "ep_mpl != units / hours")
    er = np.where(z["ep_attempts"] > 0, z["ep_failures"] / np.maximum(z["ep_attempts"], 1), 0.0)
    check(np.allclose(er, z["ep_error_rate"], rtol=1e-12), "ep_error_rate != failures / attempts")
    ep = np.where(z["ep_energy_wh"] > 0, z["ep_units"] / np.where(z["ep_energy_wh"] > 0, z["ep_energy_wh"], 1), 0.0)
    check(np.allclose(ep, z["ep_ep"], rtol=1e-12), "ep_ep != units / Wh")
    check(np.allclose(mpl * 0.03 / 18.0, z["ep_wage_parity"], rtol=1e-12), "ep_wage_parity wrong")
    check(np.allclose(per_ep("rewards"), z["ep_return"], rtol=1e-4, atol=1e-4), "ep_return != sum(rewards)")
    check(((z["ep_item_mass"] >= 0.2) & (z["ep_item_mass"] <= 1.0)).all(), "item mass out of range")
    check(((z["ep_item_friction"] >= 0.3) & (z["ep_item_friction"] <= 1.0)).all(), "friction out of range")
    if errs:
        print("env_check_npz: " + "; ".join(errs))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
