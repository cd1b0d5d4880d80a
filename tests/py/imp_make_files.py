#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the input files for tests/test_import.c with h5py / plain text, and the arrays the
importer must produce (computed independently here with numpy) as reference NPZ files.

usage: imp_make_files.py OUTDIR
Files written (OUTDIR/...):
  d4rl.h5 / d4rl_ref.npz           D4RL layout, f8 observations, bool flags, next_observations,
                                   timeouts, an ignored infos/ group and metadata attribute
  d4rl_min.h5 / d4rl_min_ref.npz   only the four required keys; f4 terminals 0/1; the importer
                                   derives next_observations (episode-final rows repeat obs)
  minari.h5 / minari_ref.npz       12 episodes episode_0..episode_11 of varying length, f8 obs
                                   [T+1, 3], int64 discrete actions [T], f8 rewards, bool flags
  data.csv / csv_ref.npz           header row in shuffled column order, episode_id, ep_mass,
                                   an extra step column "grip", CRLF line ends, a blank line
  bad_d4rl_missing.h5              no 'rewards'
  bad_d4rl_nan.h5                  observations[7, 2] = NaN
  bad_minari_inf.h5                episode_3/observations[2, 1] = +Inf
  bad_minari_shape.h5              episode_1/observations has T rows (should be T+1)
"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.RandomState(1234)


def ref(name, **arrays):
    np.savez(f"{out}/{name}", **arrays)


def ids_from_flags(flags):
    ep = np.zeros(len(flags), dtype=np.int32)
    cur = 0
    for i, f in enumerate(flags):
        ep[i] = cur
        if f:
            cur += 1
    return ep


def steps_of(ep):
    ts = np.zeros(len(ep), dtype=np.int32)
    for i in range(1, len(ep)):
        ts[i] = 0 if ep[i] != ep[i - 1] else ts[i - 1] + 1
    return ts


# --- D4RL ---------------------------------------------------------------------------------
N, OD, AD = 57, 5, 3
obs = rng.normal(size=(N, OD)) * 10.0  # float64 on purpose
act = rng.uniform(-1, 1, size=(N, AD)).astype(np.float32)
rew = rng.normal(size=N).astype(np.float32)
term = np.zeros(N, dtype=bool)
tout = np.zeros(N, dtype=bool)
term[[9, 30]] = True
tout[[19, 44]] = True  # last episode (45..56) ends with the file
nxt = rng.normal(size=(N, OD)).astype(np.float32)
with h5py.File(f"{out}/d4rl.h5", "w") as f:
    f["observations"] = obs
    f["actions"] = act
    f["rewards"] = rew
    f["terminals"] = term
    f["timeouts"] = tout
    f["next_observations"] = nxt
    f["infos/qpos"] = rng.normal(size=(N, 4))
    f["infos/goal"] = rng.normal(size=(N, 2))
    f.attrs["env"] = "hopper-medium-v2"
ep = ids_from_flags(term | tout)
ref("d4rl_ref.npz", observations=obs.astype(np.float32), next_observations=nxt, actions=act,
    rewards=rew, terminals=term.astype(np.uint8), timeouts=tout.astype(np.uint8),
    episode_ids=ep, timesteps=steps_of(ep))

# minimal D4RL: no timeouts, no next_observations, float terminals, [N,1] rewards
obs2 = rng.normal(size=(23, 2)).astype(np.float32)
act2 = rng.normal(size=(23, 1)).astype(np.float64)
rew2 = rng.normal(size=(23, 1)).astype(np.float32)
term2 = np.zeros(23, dtype=np.float32)
term2[[4, 15]] = 1.0
with h5py.File(f"{out}/d4rl_min.h5", "w") as f:
    f["observations"] = obs2
    f["actions"] = act2
    f["rewards"] = rew2
    f["terminals"] = term2
ep2 = ids_from_flags(term2 != 0)
nxt2 = obs2.copy()
for i in range(22):
    if ep2[i + 1] == ep2[i]:
        nxt2[i] = obs2[i + 1]
ref("d4rl_min_ref.npz", observations=obs2, next_observations=nxt2,
    actions=act2.astype(np.float32), rewards=rew2[:, 0], terminals=(term2 != 0).astype(np.uint8),
    timeouts=np.zeros(23, dtype=np.uint8), episode_ids=ep2, timesteps=steps_of(ep2))

# --- Minari -------------------------------------------------------------------------------
lens = [5, 7, 3, 8, 4, 6, 2, 9, 5, 3, 4, 6]
R = {k: [] for k in ["observations", "next_observations", "actions", "rewards", "terminals",
                     "timeouts", "episode_ids"]}
with h5py.File(f"{out}/minari.h5", "w") as f:
    # created in a scrambled order; the importer must sort episode_10 after episode_9
    for e in [3, 11, 0, 7, 1, 10, 2, 5, 9, 4, 6, 8]:
        T = lens[e]
        g = f.create_group(f"episode_{e}")
        g.attrs["id"] = e
        o = rng.normal(size=(T + 1, 3))
        a = rng.randint(0, 4, size=T).astype(np.int64)
        r = rng.normal(size=T)
        te = np.zeros(T, dtype=bool)
        tr = np.zeros(T, dtype=bool)
        if e % 2:
            te[-1] = True
        else:
            tr[-1] = True
        g["observations"] = o
        g["actions"] = a
        g["rewards"] = r
        g["terminations"] = te
        g["truncations"] = tr
        g["infos/success"] = te
    f.create_group("metadata").attrs["minari_version"] = "0.4"
    for e in range(12):
        g = f[f"episode_{e}"]
        o = g["observations"][()]
        T = lens[e]
        R["observations"].append(o[:-1].astype(np.float32))
        R["next_observations"].append(o[1:].astype(np.float32))
        R["actions"].append(g["actions"][()].astype(np.float32).reshape(T, 1))
        R["rewards"].append(g["rewards"][()].astype(np.float32))
        R["terminals"].append(g["terminations"][()].astype(np.uint8))
        R["timeouts"].append(g["truncations"][()].astype(np.uint8))
        R["episode_ids"].append(np.full(T, e, dtype=np.int32))
R = {k: np.concatenate(v) for k, v in R.items()}
R["timesteps"] = steps_of(R["episode_ids"])
ref("minari_ref.npz", **R)

# --- CSV ----------------------------------------------------------------------------------
n = 17
eid = np.array([4] * 6 + [9] * 5 + [2] * 6)  # arbitrary ids, contiguous runs
c_obs = rng.normal(size=(n, 3)).astype(np.float32) * np.float32(100)
c_act = rng.normal(size=(n, 2)).astype(np.float32)
c_rew = rng.normal(size=n).astype(np.float32)
c_term = np.zeros(n, dtype=np.uint8)
c_term[5] = 1
c_tout = np.zeros(n, dtype=np.uint8)
c_tout[10] = 1
grip = rng.uniform(size=n).astype(np.float32)
mass = {4: 0.25, 9: 1.5, 2: 0.75}


def fmt(x):
    return repr(float(x))


cols = ["act_1", "obs_2", "reward", "episode_id", "obs_0", "terminal", "grip", "act_0",
        "timeout", "ep_mass", "obs_1", "timestep"]
lines = [",".join(cols)]
for i in range(n):
    cell = {"act_1": fmt(c_act[i, 1]), "obs_2": fmt(c_obs[i, 2]), "reward": fmt(c_rew[i]),
            "episode_id": str(eid[i]), "obs_0": fmt(c_obs[i, 0]),
            "terminal": "true" if c_term[i] else "0", "grip": fmt(grip[i]),
            "act_0": fmt(c_act[i, 0]), "timeout": str(int(c_tout[i])),
            "ep_mass": fmt(mass[eid[i]]), "obs_1": " " + fmt(c_obs[i, 1]) + " ",
            "timestep": "99"}
    lines.append(",".join(cell[c] for c in cols))
    if i == 8:
        lines.append("")
with open(f"{out}/data.csv", "w", newline="") as f:
    f.write("\r\n".join(lines) + "\r\n")
ep3 = np.array([0] * 6 + [1] * 5 + [2] * 6, dtype=np.int32)
nxt3 = c_obs.copy()
for i in range(n - 1):
    if ep3[i + 1] == ep3[i]:
        nxt3[i] = c_obs[i + 1]
ref("csv_ref.npz", observations=c_obs, next_observations=nxt3, actions=c_act, rewards=c_rew,
    terminals=c_term, timeouts=c_tout, episode_ids=ep3, timesteps=steps_of(ep3), grip=grip,
    ep_mass=np.array([0.25, 1.5, 0.75]))

# --- bad files ----------------------------------------------------------------------------
with h5py.File(f"{out}/bad_d4rl_missing.h5", "w") as f:
    f["observations"] = obs
    f["actions"] = act
    f["terminals"] = term
with h5py.File(f"{out}/bad_d4rl_nan.h5", "w") as f:
    o = obs.copy()
    o[7, 2] = np.nan
    f["observations"] = o
    f["actions"] = act
    f["rewards"] = rew
    f["terminals"] = term
for name, e_bad in [("bad_minari_inf.h5", 3), ("bad_minari_shape.h5", 1)]:
    with h5py.File(f"{out}/{name}", "w") as f:
        for e in range(5):
            T = 4
            g = f.create_group(f"episode_{e}")
            o = rng.normal(size=(T + 1, 2))
            if name == "bad_minari_inf.h5" and e == e_bad:
                o[2, 1] = np.inf
            if name == "bad_minari_shape.h5" and e == e_bad:
                o = o[:T]
            g["observations"] = o
            g["actions"] = rng.normal(size=(T, 2))
            g["rewards"] = rng.normal(size=T)
            g["terminations"] = np.zeros(T, dtype=bool)
            g["truncations"] = np.ones(T, dtype=bool)
print("ok")
