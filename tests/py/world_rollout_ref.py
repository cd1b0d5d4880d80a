#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Independent NumPy re-implementation of a world-model rollout (docs/WORLD.md), used by
tests/test_world.c. Reads the safetensors checkpoint directly (no synthloop code), replays the
teacher-forced burn-in and the free run with real actions, and writes z, reward, econ.

usage: world_rollout_ref.py CKPT.safetensors IN.npz OUT.npz HORIZON
IN.npz: z [n, Z], actions [n, A], episode_ids [n], rows [k] (start rows).
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = f.read()
    meta = header.pop("__metadata__", {})
    dt = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(buf[b:e], dtype=dt[info["dtype"]]).reshape(info["shape"])
    return out, meta


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru(x, h, wih, whh, bih, bhh):
    gi = x @ wih.T + bih
    gh = h @ whh.T + bhh
    H = h.shape[1]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def main():
    ck, inp, outp, horizon = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t, meta = read_safetensors(ck)
    cfg = json.loads(meta["config"])
    data = np.load(inp)
    Zs, acts, eids, rows = data["z"].astype(np.float64), data["actions"].astype(np.float64), \
        data["episode_ids"], data["rows"]
    zm, zsd, dzs = t["norm.z_mean"], t["norm.z_std"], t["norm.dz_std"]
    am, asd = t["norm.a_mean"], t["norm.a_std"]
    rm, rsd = t["norm.r"]
    E = len(cfg["econ"])
    ne = t["norm.econ"].reshape(3, E) if E else np.zeros((3, 0))
    M, burn, c = cfg["members"], cfg["burn_in"], cfg["clip_value"]
    clip = {"none": lambda d: d, "tanh": lambda d: c * np.tanh(d / c),
            "hard": lambda d: np.clip(d, -c, c)}[cfg["clip"]]
    Z = Zs.shape[1]
    starts = np.array([np.argmax(eids == eids[r]) for r in rows])
    n = len(rows)
    zo = np.zeros((M, n, horizon + 1, Z))
    ro = np.zeros((M, n, horizon))
    eo = np.zeros((M, n, horizon, E))
    for m in range(M):
        p = {k[len("m%d." % m):]: v.astype(np.float64) for k, v in t.items()
             if k.startswith("m%d." % m)}
        W = (p["gru.weight_ih_l0"], p["gru.weight_hh_l0"], p["gru.bias_ih_l0"], p["gru.bias_hh_l0"])
        Hd = W[1].shape[1]
        for i, r in enumerate(rows):
            b = min(burn, r - starts[i])
            h = np.zeros((1, Hd))
            for s in range(r - b, r):
                x = np.concatenate([(Zs[s] - zm) / zsd, (acts[s] - am) / asd])[None]
                h = gru(x, h, *W)
            zc = (Zs[r] - zm) / zsd
            zo[m, i, 0] = Zs[r]
            for k in range(horizon):
                x = np.concatenate([zc, (acts[r + k] - am) / asd])[None]
                h = gru(x, h, *W)
                o = (h @ p["head.weight"].T + p["head.bias"])[0]
                zc = zc + dzs * clip(o[:Z])
                zo[m, i, k + 1] = zc * zsd + zm
                ro[m, i, k] = rm + rsd * o[Z]
                for q in range(E):
                    v = o[Z + 1 + q]
                    eo[m, i, k, q] = sigmoid(v) if ne[2, q] > 0.5 else ne[0, q] + ne[1, q] * v
    np.savez(outp, z=zo.astype(np.float32), reward=ro.astype(np.float32),
             econ=eo.astype(np.float32))


if __name__ == "__main__":
    main()
