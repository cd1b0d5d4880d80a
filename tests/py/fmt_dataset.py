# SPDX-License-Identifier: Apache-2.0
"""fmt_dataset.py - numpy side of tests/test_dataset_npz.c.

  fmt_dataset.py d4rl OUT EXPECT     D4RL-style NPZ (np.savez_compressed, no episode_ids or
                                     timesteps, float64 rewards, an ignored 'infos/qpos' key,
                                     a float64 step column) and EXPECT.npz with what the loader
                                     must produce (float32 values, derived episode ids/timesteps)
  fmt_dataset.py nan OUT             same file with observations[17, 1] = NaN
  fmt_dataset.py badep OUT           episode_ids jumping from 0 to 2 at row 5
  fmt_dataset.py roundtrip IN OUT    np.load a dataset NPZ written by C, check every key's dtype
                                     and shape against the documented layout, and write it
                                     back with np.savez_compressed (exit 1 on any mismatch)
"""
import sys

import numpy as np

N, OBS, ACT = 40, 4, 2


def d4rl(nan=False):
    rng = np.random.default_rng(3)
    obs = rng.standard_normal((N, OBS)).astype(np.float32)
    if nan:
        obs[17, 1] = np.nan
    d = {
        "observations": obs,
        "next_observations": rng.standard_normal((N, OBS)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (N, ACT)).astype(np.float32),
        "rewards": rng.standard_normal(N),  # float64, as some exporters write
        "terminals": np.zeros(N, dtype=bool),
        "timeouts": np.zeros(N, dtype=bool),
        "infos/qpos": rng.standard_normal((N, 3)),
        "energy_wh": rng.uniform(0, 5, N),
    }
    d["terminals"][[9, 25]] = True
    d["timeouts"][17] = True
    return d


def expected(d):
    ends = d["terminals"] | d["timeouts"]
    ep = np.zeros(N, dtype=np.int32)
    ts = np.zeros(N, dtype=np.int32)
    e = t = 0
    for i in range(N):
        ep[i], ts[i] = e, t
        t += 1
        if ends[i] and i + 1 < N:
            e, t = e + 1, 0
    return {"observations": d["observations"], "rewards": d["rewards"].astype(np.float32),
            "energy_wh": d["energy_wh"].astype(np.float32), "episode_ids": ep, "timesteps": ts}


LAYOUT = {"observations": "<f4", "next_observations": "<f4", "actions": "<f4",
          "rewards": "<f4", "terminals": "|b1", "timeouts": "|b1", "episode_ids": "<i4",
          "timesteps": "<i4"}


def roundtrip(src, dst):
    bad = []
    with np.load(src) as z:
        d = {k: z[k] for k in z.files}
    n = d["observations"].shape[0]
    for k, dt in LAYOUT.items():
        if k not in d:
            bad.append("missing " + k)
        elif d[k].dtype.str != dt:
            bad.append("%s: dtype %s, want %s" % (k, d[k].dtype.str, dt))
        elif d[k].shape[0] != n:
            bad.append("%s: %d rows, want %d" % (k, d[k].shape[0], n))
    neps = int(d["episode_ids"][-1]) + 1 if n else 0
    for k, a in d.items():
        if k in LAYOUT:
            continue
        want = ("<f8", (neps,)) if k.startswith("ep_") else ("<f4", (n,))
        if (a.dtype.str, a.shape) != want:
            bad.append("%s: %s %s, want %s" % (k, a.dtype.str, a.shape, want))
    ids = d["episode_ids"]
    if n and (ids[0] != 0 or not np.all(np.isin(np.diff(ids), [0, 1]))):
        bad.append("episode_ids invariant broken")
    for b in bad:
        print("MISMATCH", b)
    np.savez_compressed(dst, **d)
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "d4rl":
        d = d4rl()
        np.savez_compressed(sys.argv[2], **d)
        np.savez(sys.argv[3], **expected(d))
    elif cmd == "nan":
        np.savez(sys.argv[2], **d4rl(nan=True))
    elif cmd == "badep":
        d = d4rl()
        ep = np.zeros(N, dtype=np.int64)
        ep[5:] = 2
        d["episode_ids"] = ep
        np.savez(sys.argv[2], **d)
    elif cmd == "roundtrip":
        sys.exit(roundtrip(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(2)
