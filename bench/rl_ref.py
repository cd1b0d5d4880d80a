#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rl_ref.py - PyTorch side of bench/bench_rl.c: TD3+BC and SAC updates per second.

Usage: rl_ref.py [SECONDS]. Prints lines
"<td3bc|sac> <hidden> <threads> <updates per wall second> <updates per process-CPU second>"
for hidden 256 and 64 with torch.set_num_threads(1) and (2).
Same algorithms and sizes as src/rl/agent.c (tests/py/rl_ref.py checks the maths): latent 32,
action 8, batch 256, two hidden layers, Adam 3e-4, importance-weighted losses (lw), observation
standardisation; TD3+BC with policy_freq 2, target smoothing noise 0.2 clipped at 0.5; SAC with
automatic temperature. The actor loss differentiates the actor only (critics give input
gradients, as in agent.c), written the efficient way (torch.autograd.grad on actor params).
"""
import copy
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
O, A, B = 32, 8, 256


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


def data():
    torch.manual_seed(0)
    obs, nobs = torch.randn(B, O), torch.randn(B, O)
    act = torch.rand(B, A) * 2 - 1
    rew, done = torch.randn(B), (torch.rand(B) < 0.05).float()
    lw = torch.rand(B) * 2
    lw = lw * (B / lw.sum())
    mean, std = torch.randn(O) * 0.1, torch.rand(O) + 0.5
    return obs, nobs, act, rew, done, lw, mean, std


def make_td3bc(H, gamma=0.99, tau=0.005, policy_noise=0.2, noise_clip=0.5, policy_freq=2,
               alpha_bc=2.5):
    obs, nobs, act, rew, done, lw, mean, std = data()
    actor, q1, q2 = mlp(O, H, A), mlp(O + A, H, 1), mlp(O + A, H, 1)
    actor_t, q1t, q2t = copy.deepcopy(actor), copy.deepcopy(q1), copy.deepcopy(q2)
    aparams, qparams = list(actor.parameters()), list(q1.parameters()) + list(q2.parameters())
    tparams = list(actor_t.parameters()) + list(q1t.parameters()) + list(q2t.parameters())
    oparams = aparams + qparams
    opt_a, opt_c = torch.optim.Adam(aparams, lr=3e-4), torch.optim.Adam(qparams, lr=3e-4)
    it = [0]

    def update():
        it[0] += 1
        s, s2 = (obs - mean) / std, (nobs - mean) / std
        with torch.no_grad():
            noise = (torch.randn_like(act) * policy_noise).clamp(-noise_clip, noise_clip)
            a2 = (torch.tanh(actor_t(s2)) + noise).clamp(-1, 1)
            sa2 = torch.cat([s2, a2], -1)
            y = rew + gamma * (1 - done) * torch.min(q1t(sa2), q2t(sa2)).squeeze(-1)
        sa = torch.cat([s, act], -1)
        loss = (lw * (q1(sa).squeeze(-1) - y) ** 2).mean() + (lw * (q2(sa).squeeze(-1) - y) ** 2).mean()
        opt_c.zero_grad()
        loss.backward()
        opt_c.step()
        if it[0] % policy_freq == 0:
            pi = torch.tanh(actor(s))
            q = q1(torch.cat([s, pi], -1)).squeeze(-1)
            lmbda = alpha_bc / ((lw * q.abs()).sum() / lw.sum() + 1e-8).detach()
            aloss = -lmbda * (lw * q).mean() + (lw[:, None] * (pi - act) ** 2).mean()
            grads = torch.autograd.grad(aloss, aparams)
            for p, g in zip(aparams, grads):
                p.grad = g
            opt_a.step()
            with torch.no_grad():
                torch._foreach_mul_(tparams, 1 - tau)
                torch._foreach_add_(tparams, oparams, alpha=tau)

    return update


def make_sac(H, gamma=0.99, tau=0.005):
    obs, nobs, act, rew, done, lw, mean, std = data()
    actor, q1, q2 = mlp(O, H, 2 * A), mlp(O + A, H, 1), mlp(O + A, H, 1)
    q1t, q2t = copy.deepcopy(q1), copy.deepcopy(q2)
    aparams, qparams = list(actor.parameters()), list(q1.parameters()) + list(q2.parameters())
    tparams = list(q1t.parameters()) + list(q2t.parameters())
    opt_a, opt_c = torch.optim.Adam(aparams, lr=3e-4), torch.optim.Adam(qparams, lr=3e-4)
    log_alpha = torch.tensor(math.log(0.2), requires_grad=True)
    opt_al = torch.optim.Adam([log_alpha], lr=3e-4)

    def pi(s):
        mu, ls = actor(s).chunk(2, -1)
        ls = ls.clamp(-20, 2)
        std_ = ls.exp()
        u = mu + std_ * torch.randn_like(mu)
        logp = torch.distributions.Normal(mu, std_).log_prob(u).sum(-1)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), logp

    def update():
        s, s2 = (obs - mean) / std, (nobs - mean) / std
        alpha = log_alpha.detach().exp()
        with torch.no_grad():
            a2, logp2 = pi(s2)
            sa2 = torch.cat([s2, a2], -1)
            y = rew + gamma * (1 - done) * (torch.min(q1t(sa2), q2t(sa2)).squeeze(-1) - alpha * logp2)
        sa = torch.cat([s, act], -1)
        loss = (lw * (q1(sa).squeeze(-1) - y) ** 2).mean() + (lw * (q2(sa).squeeze(-1) - y) ** 2).mean()
        opt_c.zero_grad()
        loss.backward()
        opt_c.step()
        a_pi, logp = pi(s)
        sap = torch.cat([s, a_pi], -1)
        aloss = (lw * (alpha * logp - torch.min(q1(sap), q2(sap)).squeeze(-1))).mean()
        grads = torch.autograd.grad(aloss, aparams)
        for p, g in zip(aparams, grads):
            p.grad = g
        opt_a.step()
        al = -(lw * log_alpha * (logp.detach() - A)).mean()
        opt_al.zero_grad()
        al.backward()
        opt_al.step()
        with torch.no_grad():
            torch._foreach_mul_(tparams, 1 - tau)
            torch._foreach_add_(tparams, qparams, alpha=tau)

    return update


def rate(fn):
    """(updates per wall second, updates per process-CPU second) over one window."""
    fn()
    fn()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= SECONDS:
            return n / dt, n / max(time.process_time() - c0, 1e-9)


for H in (256, 64):
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, make in (("td3bc", make_td3bc), ("sac", make_sac)):
            w, c = rate(make(H))
            print(f"{name} {H} {threads} {w:.3f} {c:.3f}", flush=True)
