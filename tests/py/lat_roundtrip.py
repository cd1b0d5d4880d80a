#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference for tests/test_latent.c: read a latents NPZ written by synthloop with numpy,
check its keys/dtypes/shapes, recompute seed 001's latent statistics table, and write the
arrays back with np.savez (for the C side to read bit-exactly).

usage: lat_roundtrip.py Z.npz BACK.npz STATS.json   (non-zero exit = disagreement)
"""
import json
import sys

import numpy as np


def main():
    src, back, out = sys.argv[1:4]
    f = np.load(src)
    z, nz, ids = f["latents"], f["next_latents"], f["episode_ids"]
    assert z.dtype == np.dtype("<f4") and nz.dtype == np.dtype("<f4"), (z.dtype, nz.dtype)
    assert ids.dtype == np.dtype("<i4"), ids.dtype
    assert z.ndim == 2 and z.shape == nz.shape and ids.shape == (z.shape[0],)
    assert np.isfinite(z).all() and np.isfinite(nz).all()
    # standardised latents: per-dim mean ~0, std ~1 (exact on the training rows only)
    assert np.abs(z.mean(axis=0)).max() < 0.5 and np.abs(np.log(z.std(axis=0))).max() < 0.7
    assert ids[0] == 0 and np.all(np.diff(ids) >= 0) and np.all(np.diff(ids) <= 1)
    zd = z.astype(np.float64)
    eps = np.unique(ids)
    means = np.array([zd[ids == e].mean() for e in eps])
    stds = np.array([zd[ids == e].std() for e in eps])
    stats = {
        "ep_mean_mean": float(means.mean()), "ep_mean_std": float(means.std()),
        "ep_std_mean": float(stds.mean()), "ep_std_std": float(stds.std()),
        "min": float(zd.min()), "max": float(zd.max()),
        "dim_std_mean": float(zd.std(axis=0).mean()),
    }
    with open(out, "w") as fp:
        json.dump(stats, fp)
    np.savez(back, latents=z, next_latents=nz, episode_ids=ids)


if __name__ == "__main__":
    main()
