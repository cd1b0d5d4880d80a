#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rl_ref.py - PyTorch reference for tests/test_rl_torch.c: TD3+BC, SAC and IQL updates.

Usage: rl_ref.py DIR. Reads DIR/manifest.txt (one "case NAME algo ... key value ..." line per
case) and the float32 inputs "<case>.<array>.f32" written by the C test; replays the updates in
float64 and writes "<case>.<array>.f64" for every parameter tensor of actor, actor_t, critic,
critic_t, the Adam first moments of actor and critic, log_alpha and the last update's stats.

The algorithms are written from the papers / reference code (TD3+BC: Fujimoto & Gu 2021,
github.com/sfujim/TD3_BC; SAC: Haarnoja et al. 2018, Spinning Up's tanh-Gaussian policy) with
the weighting that src/rl/agent.c documents:
  critic loss  = mean(lw*(Q1-y)^2) + mean(lw*(Q2-y)^2)
  TD3+BC actor = -lambda*mean(lw*Q1(s,pi(s))) + mean over B*A of lw*(pi(s)-a)^2,
                 lambda = alpha_bc / (sum(lw*|Q1|)/sum(lw) + 1e-8), detached
  SAC actor    = mean(lw*(alpha*logp - min(Q1,Q2))) + sac_bc * mean over B*A of lw*(a_pi-a)^2
  SAC alpha    = -mean(lw * log_alpha * (logp + target_entropy)), target_entropy = -act_dim
Targets: TD3+BC actor/critic targets move only on actor steps (every policy_freq updates);
SAC's critic targets every update; SAC's next action comes from the current actor.
IQL (Kostrikov et al. 2022; CORL's iql.py order, deterministic tanh actor):
  u            = min(Q1_t, Q2_t)(s, a) - V(s)             (V before this update's value step)
  value loss   = mean(lw * |tau - 1(u < 0)| * u^2)
  critic loss  = mean(lw*(Q1-y)^2) + mean(lw*(Q2-y)^2),  y = scale*r + gamma*(1-d)*V(s'),
                 V(s') also before the value step
  actor loss   = mean(lw * min(exp(beta*u), max_w) * sum_j (tanh(pi(s))_j - a_j)^2)
  then the critic targets move by polyak; the actor target is never used.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
DIR = sys.argv[1]


def load(case, name, shape=None):
    a = np.fromfile(os.path.join(DIR, f"{case}.{name}.f32"), dtype="<f4").astype(np.float64)
    t = torch.from_numpy(a)
    return t.reshape(shape) if shape is not None else t


def save(case, name, t):
    a = t.detach().to(torch.float64).reshape(-1).numpy().astype("<f8")
    a.tofile(os.path.join(DIR, f"{case}.{name}.f64"))


class MLP:
    """Linear-ReLU-Linear-ReLU-Linear with tensors named like sl_nn_mlp ("<p>.l<i>.weight")."""

    def __init__(self, prefix, sizes):
        self.prefix, self.sizes = prefix, sizes

    def names(self):
        out = []
        for i in range(len(self.sizes) - 1):
            out += [(f"{self.prefix}.l{i}.weight", (self.sizes[i + 1], self.sizes[i])),
                    (f"{self.prefix}.l{i}.bias", (self.sizes[i + 1],))]
        return out

    def load(self, case, net):
        self.p = {n: load(case, f"init.{net}.{n}", s).clone().requires_grad_(True)
                  for n, s in self.names()}

    def params(self):
        return [self.p[n] for n, _ in self.names()]

    def __call__(self, x):
        L = len(self.sizes) - 1
        for i in range(L):
            x = F.linear(x, self.p[f"{self.prefix}.l{i}.weight"], self.p[f"{self.prefix}.l{i}.bias"])
            if i < L - 1:
                x = torch.relu(x)
        return x


def polyak(target, src, tau):
    with torch.no_grad():
        for pt, p in zip(target.params(), src.params()):
            pt.mul_(1 - tau).add_(tau * p)


def tanh_gaussian(out, eps, A):
    """Spinning Up's squashed Gaussian: u = mu + std*eps, a = tanh(u),
    logp = Normal(mu, std).log_prob(u).sum - sum 2*(log 2 - u - softplus(-2u))."""
    mu, log_std = out[:, :A], out[:, A:]
    log_std = torch.clamp(log_std, -20.0, 2.0)
    std = torch.exp(log_std)
    u = mu + std * eps
    logp = torch.distributions.Normal(mu, std).log_prob(u).sum(-1)
    logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    return torch.tanh(u), logp


def run_case(cfg):
    case, algo = cfg["case"], cfg["algo"]
    O, A, H, B = (int(cfg[k]) for k in ("O", "A", "H", "B"))
    gamma, tau = float(cfg["gamma"]), float(cfg["tau"])
    out_dim = 2 * A if algo == "sac" else A
    actor, actor_t = MLP("actor", [O, H, H, out_dim]), MLP("actor", [O, H, H, out_dim])
    q1, q2 = MLP("critic1", [O + A, H, H, 1]), MLP("critic2", [O + A, H, H, 1])
    q1t, q2t = MLP("critic1", [O + A, H, H, 1]), MLP("critic2", [O + A, H, H, 1])
    actor.load(case, "actor"), actor_t.load(case, "actor_t")
    for m in (q1, q2):
        m.load(case, "critic")
    for m in (q1t, q2t):
        m.load(case, "critic_t")
    critic_params = q1.params() + q2.params()
    opt_a = torch.optim.Adam(actor.params(), lr=float(cfg["lr_actor"]))
    opt_c = torch.optim.Adam(critic_params, lr=float(cfg["lr_critic"]))
    log_alpha = load(case, "log_alpha0").clone().reshape(()).requires_grad_(True)
    opt_alpha = torch.optim.Adam([log_alpha], lr=float(cfg["lr_actor"]))
    mean, std = load(case, "obs_mean"), load(case, "obs_std")
    pn, nc, pf = float(cfg["policy_noise"]), float(cfg["noise_clip"]), int(cfg["policy_freq"])
    alpha_bc, sac_bc = float(cfg["alpha_bc"]), float(cfg["sac_bc"])
    auto_alpha = int(cfg["auto_alpha"])
    stats = {}
    if algo == "iql":
        return run_iql(cfg, actor, actor_t, (q1, q2), (q1t, q2t), opt_a, opt_c, mean, std)
    for u in range(int(cfg["updates"])):
        it = u + 1
        s = (load(case, f"u{u}.obs", (B, O)) - mean) / std
        s2 = (load(case, f"u{u}.next_obs", (B, O)) - mean) / std
        act = load(case, f"u{u}.act", (B, A))
        r, d, lw = load(case, f"u{u}.rew"), load(case, f"u{u}.done"), load(case, f"u{u}.lw")
        n_t, n_a = load(case, f"u{u}.noise_target", (B, A)), load(case, f"u{u}.noise_actor", (B, A))
        alpha = log_alpha.detach().exp()
        # --- critic step ---
        with torch.no_grad():
            if algo == "td3bc":
                noise = (n_t * pn).clamp(-nc, nc)
                a2 = (torch.tanh(actor_t(s2)) + noise).clamp(-1.0, 1.0)
                sa2 = torch.cat([s2, a2], -1)
                q_next = torch.min(q1t(sa2), q2t(sa2)).squeeze(-1)
            else:
                a2, logp2 = tanh_gaussian(actor(s2), n_t, A)
                sa2 = torch.cat([s2, a2], -1)
                q_next = torch.min(q1t(sa2), q2t(sa2)).squeeze(-1) - alpha * logp2
            y = r + gamma * (1 - d) * q_next
        sa = torch.cat([s, act], -1)
        c1, c2 = q1(sa).squeeze(-1), q2(sa).squeeze(-1)
        critic_loss = (lw * (c1 - y) ** 2).mean() + (lw * (c2 - y) ** 2).mean()
        opt_c.zero_grad()
        critic_loss.backward()
        opt_c.step()
        stats = {"critic_loss": critic_loss.item(), "q_mean": c1.mean().item()}
        # --- actor step ---
        if algo == "sac" or it % pf == 0:
            if algo == "td3bc":
                pi = torch.tanh(actor(s))
                q = q1(torch.cat([s, pi], -1)).squeeze(-1)
                lmbda = alpha_bc / ((lw * q.abs()).sum() / lw.sum() + 1e-8)
                bc = (lw[:, None] * (pi - act) ** 2).mean()
                actor_loss = -lmbda.detach() * (lw * q).mean() + bc
            else:
                pi, logp = tanh_gaussian(actor(s), n_a, A)
                sap = torch.cat([s, pi], -1)
                qmin = torch.min(q1(sap), q2(sap)).squeeze(-1)
                bc = (lw[:, None] * (pi - act) ** 2).mean()
                actor_loss = (lw * (alpha * logp - qmin)).mean() + sac_bc * bc
            grads = torch.autograd.grad(actor_loss, actor.params())
            opt_a.zero_grad()
            for p, g in zip(actor.params(), grads):
                p.grad = g
            opt_a.step()
            stats["actor_loss"] = actor_loss.item()
            stats["bc_mse"] = (((pi - act) ** 2) * lw[:, None]).mean().item()
            if algo == "sac":
                stats["entropy"] = -logp.mean().item()
                if auto_alpha:
                    alpha_loss = -(lw * log_alpha * (logp.detach() - A)).mean()
                    opt_alpha.zero_grad()
                    alpha_loss.backward()
                    opt_alpha.step()
                polyak(q1t, q1, tau), polyak(q2t, q2, tau)
            else:
                polyak(actor_t, actor, tau)
                polyak(q1t, q1, tau), polyak(q2t, q2, tau)
    for net, mods, opt in (("actor", [actor], opt_a), ("critic", [q1, q2], opt_c)):
        for m in mods:
            for (n, _), p in zip(m.names(), m.params()):
                save(case, f"{net}.{n}", p)
                st = opt.state.get(p, {})
                save(case, f"{net}.adam_m.{n}", st["exp_avg"] if st else torch.zeros_like(p))
    for net, mods in (("actor_t", [actor_t]), ("critic_t", [q1t, q2t])):
        for m in mods:
            for (n, _), p in zip(m.names(), m.params()):
                save(case, f"{net}.{n}", p)
    save(case, "log_alpha", log_alpha)
    for k, v in stats.items():
        save(case, f"stat.{k}", torch.tensor([v]))


def run_iql(cfg, actor, actor_t, qs, qts, opt_a, opt_c, mean, std):
    case = cfg["case"]
    O, A, H, B = (int(cfg[k]) for k in ("O", "A", "H", "B"))
    gamma, tau = float(cfg["gamma"]), float(cfg["tau"])
    expectile, beta = float(cfg["iql_expectile"]), float(cfg["iql_beta"])
    max_w, scale = float(cfg["iql_max_weight"]), float(cfg["reward_scale"])
    (q1, q2), (q1t, q2t) = qs, qts
    value = MLP("value", [O, H, H, 1])
    value.load(case, "value")
    opt_v = torch.optim.Adam(value.params(), lr=float(cfg["lr_critic"]))
    stats = {}
    for u in range(int(cfg["updates"])):
        s = (load(case, f"u{u}.obs", (B, O)) - mean) / std
        s2 = (load(case, f"u{u}.next_obs", (B, O)) - mean) / std
        act = load(case, f"u{u}.act", (B, A))
        r, d, lw = load(case, f"u{u}.rew"), load(case, f"u{u}.done"), load(case, f"u{u}.lw")
        sa = torch.cat([s, act], -1)
        with torch.no_grad():
            y = scale * r + gamma * (1 - d) * value(s2).squeeze(-1)
            qt = torch.min(q1t(sa), q2t(sa)).squeeze(-1)
        # value step (expectile regression)
        v = value(s).squeeze(-1)
        adv = qt - v
        wt = torch.where(adv < 0, 1 - expectile, expectile)
        value_loss = (lw * wt * adv ** 2).mean()
        opt_v.zero_grad()
        value_loss.backward()
        opt_v.step()
        adv = adv.detach()
        # critic step
        c1, c2 = q1(sa).squeeze(-1), q2(sa).squeeze(-1)
        critic_loss = (lw * (c1 - y) ** 2).mean() + (lw * (c2 - y) ** 2).mean()
        opt_c.zero_grad()
        critic_loss.backward()
        opt_c.step()
        # actor step (advantage-weighted regression onto the data actions)
        w = torch.clamp(torch.exp(beta * adv), max=max_w)
        pi = torch.tanh(actor(s))
        se = ((pi - act) ** 2).sum(-1)
        actor_loss = (lw * w * se).mean()
        opt_a.zero_grad()
        actor_loss.backward()
        opt_a.step()
        polyak(q1t, q1, tau), polyak(q2t, q2, tau)
        stats = {"critic_loss": critic_loss.item(), "q_mean": qt.mean().item(),
                 "value_loss": value_loss.item(), "actor_loss": actor_loss.item(),
                 "bc_mse": (lw * se).sum().item() / (B * A), "weight_mean": w.mean().item()}
    for net, mods, opt in (("actor", [actor], opt_a), ("critic", [q1, q2], opt_c),
                           ("value", [value], opt_v)):
        for m in mods:
            for (n, _), p in zip(m.names(), m.params()):
                save(case, f"{net}.{n}", p)
                st = opt.state.get(p, {})
                save(case, f"{net}.adam_m.{n}", st["exp_avg"] if st else torch.zeros_like(p))
    for net, mods in (("actor_t", [actor_t]), ("critic_t", [q1t, q2t])):
        for m in mods:
            for (n, _), p in zip(m.names(), m.params()):
                save(case, f"{net}.{n}", p)
    save(case, "log_alpha", load(case, "log_alpha0"))
    for k, v in stats.items():
        save(case, f"stat.{k}", torch.tensor([v]))


def main():
    with open(os.path.join(DIR, "manifest.txt")) as f:
        for line in f:
            tok = line.split()
            if not tok or tok[0] != "case":
                continue
            cfg = dict(zip(tok[0::2], tok[1::2]))
            run_case(cfg)


if __name__ == "__main__":
    main()
