# SPDX-License-Identifier: Apache-2.0
"""Files for tests/test_inputs.c, written with numpy/h5py into the directory argv[1].

  minari_big.h5     episodes episode_0 (T=3), episode_1 (T=4), episode_20000000000 (T=5)
                    (numbers whose first 9 digits exceed 1e8 were dropped without a message);
                    minari_big_ref.npz holds the rows numpy expects, in numeric order.
  minari_huge.h5    episode_0 and episode_1234567890123456789012 (22 digits): must be an error
  empty.npz         np.savez with no arrays (an empty zip archive, 22 bytes)
  zero.npz          0 bytes;  zero.csv  0 bytes
  text.npz          CSV text in a file named .npz
"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.RandomState(5)


def minari(path, names, lens):
    rows = {}
    with h5py.File(path, "w") as f:
        for name, T in zip(names, lens):
            g = f.create_group(name)
            g["observations"] = rng.normal(size=(T + 1, 2))
            g["actions"] = rng.normal(size=(T, 1))
            g["rewards"] = rng.normal(size=T)
            te = np.zeros(T, dtype=bool)
            te[-1] = True
            g["terminations"] = te
            g["truncations"] = np.zeros(T, dtype=bool)
            rows[name] = (g["observations"][()], g["actions"][()], g["rewards"][()])
    return rows


names = ["episode_20000000000", "episode_0", "episode_1"]  # created out of order
rows = minari(f"{out}/minari_big.h5", names, [5, 3, 4])
order = sorted(names, key=lambda n: int(n.split("_")[1]))
obs = np.concatenate([rows[n][0][:-1] for n in order]).astype(np.float32)
nobs = np.concatenate([rows[n][0][1:] for n in order]).astype(np.float32)
act = np.concatenate([rows[n][1] for n in order]).astype(np.float32)
rew = np.concatenate([rows[n][2] for n in order]).astype(np.float32)
eid = np.concatenate([np.full(len(rows[n][2]), i, np.int32) for i, n in enumerate(order)])
np.savez(f"{out}/minari_big_ref.npz", observations=obs, next_observations=nobs, actions=act,
         rewards=rew, episode_ids=eid)

minari(f"{out}/minari_huge.h5", ["episode_0", "episode_1234567890123456789012"], [3, 2])

np.savez(f"{out}/empty.npz")
open(f"{out}/zero.npz", "wb").close()
open(f"{out}/zero.csv", "wb").close()
with open(f"{out}/text.npz", "w") as f:
    f.write("obs_0,act_0,reward\n1,2,3\n")
