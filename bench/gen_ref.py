#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""gen_ref.py - PyTorch side of bench/bench_gen.c: the same tabular VAE training step.

usage: gen_ref.py SECONDS D NUM CATS
Prints lines "<nodp|dp> <threads> <examples per wall second>" for torch.set_num_threads(1)
and (2). VAE: encoder D-128-128-2*16, decoder 16-128-128-D (ReLU), NUM numeric outputs with a
learned log-sigma (Gaussian NLL), CATS categorical blocks of 5 logits (cross-entropy), KL
weight 1, Adam 1e-3, batch 256. DP: per-sample gradients with functorch (vmap over grad),
per-sample L2 clipping to 1 over all parameters, Gaussian noise (sigma 1), division by 256
(fixed batches here; the C side Poisson-samples with the same expected size).
"""
import sys
import time

import torch
import torch.nn as nn
from functorch import grad, make_functional, vmap

SECONDS, D, NUM, CATS = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
L, H, B = 16, 128, 256


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(),
                                 nn.Linear(H, 2 * L))
        self.dec = nn.Sequential(nn.Linear(L, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(),
                                 nn.Linear(H, D))
        self.logsigma = nn.Parameter(torch.full((NUM,), -2.3))

    def forward(self, x, eps):
        o = self.enc(x)
        mu, lv = o[..., :L], o[..., L:].clamp(-10, 10)
        z = mu + torch.exp(0.5 * lv) * eps
        y = self.dec(z)
        r = y[..., :NUM] - x[..., :NUM]
        loss = (0.5 * r * r * torch.exp(-2 * self.logsigma) + self.logsigma).sum(-1)
        lg = y[..., NUM:].reshape(*y.shape[:-1], CATS, 5)
        tg = x[..., NUM:].reshape(*x.shape[:-1], CATS, 5)
        loss = loss - (torch.log_softmax(lg, -1) * tg).sum((-1, -2))
        loss = loss + 0.5 * (mu * mu + torch.exp(lv) - 1 - lv).sum(-1)
        return loss


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, D, generator=g)
    lab = torch.randint(0, 5, (B, CATS), generator=g)
    x[:, NUM:] = torch.nn.functional.one_hot(lab, 5).float().reshape(B, CATS * 5)
    return x


def bench(dp, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = VAE()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = data()
    if dp:
        fmodel, params = make_functional(m)

        def one(p, xi, ei):
            return fmodel(p, xi[None], ei[None]).sum()
        ps_grad = vmap(grad(one), in_dims=(None, 0, 0))

    def step():
        eps = torch.randn(B, L)
        if not dp:
            opt.zero_grad()
            m(x, eps).mean().backward()
            opt.step()
            return
        ps = list(m.parameters())
        gs = ps_grad(tuple(p.detach() for p in ps), x, eps)
        norms = torch.sqrt(sum((g.reshape(B, -1) ** 2).sum(1) for g in gs))
        scale = (1.0 / torch.clamp(norms, min=1e-12)).clamp(max=1.0)
        for p, g in zip(ps, gs):
            s = (g * scale.view(-1, *([1] * (g.dim() - 1)))).sum(0)
            p.grad = (s + torch.randn_like(s)) / B
        opt.step()

    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        step()
        n += 1
    return n * B / (time.perf_counter() - t0)


for dp in (0, 1):
    for th in (1, 2):
        print("%s %d %.1f" % ("dp" if dp else "nodp", th, bench(dp, th)), flush=True)
