#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""nn_ref.py - PyTorch side of bench/bench_nn.c (same networks, same updates).

Usage: nn_ref.py [SECONDS]. Prints lines
"<sac|wm> <hidden> <threads> <updates per wall second> <updates per process-CPU second>"
for hidden 256 and 64 and torch.set_num_threads(1) and (2).
SAC: actor 32-H-H-16 (tanh-Gaussian), twin critics 40-H-H-1 + polyak targets, batch 256,
alpha 0.2, Adam 3e-4, critics frozen during the actor loss (as Spinning Up does).
wm: GRUCell(40, H) + Linear(H, 32), 60 autoregressive steps, batch 64, MSE, Adam 1e-3.
"""
import copy
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


def make_sac(H, B=256, S=32, A=8):
    torch.manual_seed(0)
    actor, q1, q2 = mlp(S, H, 2 * A), mlp(S + A, H, 1), mlp(S + A, H, 1)
    q1t, q2t = copy.deepcopy(q1), copy.deepcopy(q2)
    for p in list(q1t.parameters()) + list(q2t.parameters()):
        p.requires_grad_(False)
    qparams = list(q1.parameters()) + list(q2.parameters())
    opt_a = torch.optim.Adam(actor.parameters(), lr=3e-4)
    opt_c = torch.optim.Adam(qparams, lr=3e-4)
    s, s2 = torch.randn(B, S), torch.randn(B, S)
    a = torch.rand(B, A) * 2 - 1
    r, d = torch.randn(B), (torch.rand(B) < 0.05).float()
    alpha, gamma, tau = 0.2, 0.99, 0.005

    def pi(obs):
        mu, ls = actor(obs).chunk(2, -1)
        ls = ls.clamp(-20, 2)
        u = mu + ls.exp() * torch.randn_like(mu)
        logp = (-0.5 * ((u - mu) / ls.exp()) ** 2 - ls - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), logp

    def update():
        with torch.no_grad():
            a2, logp2 = pi(s2)
            sa2 = torch.cat([s2, a2], -1)
            qt = torch.min(q1t(sa2), q2t(sa2)).squeeze(-1)
            y = r + gamma * (1 - d) * (qt - alpha * logp2)
        sa = torch.cat([s, a], -1)
        loss_q = F.mse_loss(q1(sa).squeeze(-1), y) + F.mse_loss(q2(sa).squeeze(-1), y)
        opt_c.zero_grad()
        loss_q.backward()
        opt_c.step()
        for p in qparams:
            p.requires_grad_(False)
        a_pi, logp = pi(s)
        sap = torch.cat([s, a_pi], -1)
        loss_pi = (alpha * logp - torch.min(q1(sap), q2(sap)).squeeze(-1)).mean()
        opt_a.zero_grad()
        loss_pi.backward()
        opt_a.step()
        for p in qparams:
            p.requires_grad_(True)
        with torch.no_grad():
            for net, tgt in ((q1, q1t), (q2, q2t)):
                for p, pt in zip(net.parameters(), tgt.parameters()):
                    pt.mul_(1 - tau).add_(p, alpha=tau)

    return update


def make_wm(H, T=60, B=64, Z=32, A=8):
    torch.manual_seed(0)
    gru, head = nn.GRUCell(Z + A, H), nn.Linear(H, Z)
    opt = torch.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=1e-3)
    z0, acts, tgt = torch.randn(B, Z), torch.randn(T, B, A), torch.randn(T, B, Z)

    def step():
        h, z, preds = torch.zeros(B, H), z0, []
        for t in range(T):
            h = gru(torch.cat([z, acts[t]], -1), h)
            z = head(h)
            preds.append(z)
        loss = F.mse_loss(torch.stack(preds), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def rate(fn):
    """'<updates per wall second> <updates per process-CPU second>' over one window."""
    fn()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= SECONDS:
            return f"{n / dt:.3f} {n / max(time.process_time() - c0, 1e-9):.3f}"


for H in (256, 64):
    for threads in (1, 2):
        torch.set_num_threads(threads)
        print(f"sac {H} {threads} {rate(make_sac(H))}", flush=True)
        print(f"wm {H} {threads} {rate(make_wm(H))}", flush=True)
