#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""world_ref.py - PyTorch side of bench/bench_world.c (same shapes, same run).

Usage: world_ref.py [SECONDS]. Prints lines
  rollout <threads> <synthetic transitions per second>
      ensemble of 5 residual GRU members (GRUCell(36, 128) + Linear(128, 32 + 1 + 3)),
      latent 32, action 4, 4096 starts per member, 60 free-running steps, torch.no_grad
  train <hidden> <threads> <steps per second>
      one member, GRUCell(36, H) + Linear(H, 36), batch 64, 60 autoregressive steps fed back,
      MSE on the latent + reward + econ heads, backward through all 60 steps, Adam
"""
import sys
import time

import torch
import torch.nn as nn

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
Z, A, E = 32, 4, 3


class Member(nn.Module):
    def __init__(self, H):
        super().__init__()
        self.cell = nn.GRUCell(Z + A, H)
        self.head = nn.Linear(H, Z + 1 + E)

    def step(self, z, a, h):
        h = self.cell(torch.cat([z, a], 1), h)
        o = self.head(h)
        return z + 0.3 * torch.tanh(o[:, :Z] / 4.0) * 4.0, o, h


def rate(fn):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        n += fn()
    return n / (time.perf_counter() - t0)


def rollout_bench(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    members = [Member(128) for _ in range(5)]
    B, T = 4096, 60
    z0, acts = torch.randn(B, Z), torch.randn(T, B, A)

    def run():
        with torch.no_grad():
            for m in members:
                z, h = z0, torch.zeros(B, 128)
                for t in range(T):
                    z, _, h = m.step(z, acts[t], h)
        return 5 * B * T

    return rate(run)


def train_bench(H, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = Member(H)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    B, T = 64, 60
    zs, acts = torch.randn(T + 1, B, Z), torch.randn(T, B, A)
    tr = torch.randn(T, B, 1 + E)

    def run():
        opt.zero_grad()
        z, h, loss = zs[0], torch.zeros(B, H), 0.0
        for t in range(T):
            z, o, h = m.step(z, acts[t], h)
            loss = loss + ((z - zs[t + 1]) ** 2).mean() + ((o[:, Z:] - tr[t]) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return 1

    return rate(run)


if __name__ == "__main__":
    for th in (1, 2):
        print("rollout %d %.1f" % (th, rollout_bench(th)), flush=True)
    for H in (128, 64):
        print("train %d 1 %.2f" % (H, train_bench(H, 1)), flush=True)
