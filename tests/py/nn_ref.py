#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""nn_ref.py - PyTorch reference for tests/test_nn_torch.c.

Usage: nn_ref.py DIR. Reads DIR/manifest.txt (one case per line: "<case> <kind> k=v ..."),
the case's float32 inputs "<case>.<array>.f32", computes outputs and gradients with torch in
float64 (from the float32 inputs), and writes "<case>.<array>.f64". Any exception exits 1.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
D = sys.argv[1]
DT = torch.float64


def load(case, name, shape=None):
    a = np.fromfile(os.path.join(D, f"{case}.{name}.f32"), dtype="<f4").astype(np.float64)
    t = torch.from_numpy(a)
    return t.reshape(shape) if shape is not None else t


def leaf(case, name, shape=None):
    return load(case, name, shape).clone().requires_grad_(True)


def save(case, name, t):
    a = t.detach().cpu().numpy().astype("<f8").reshape(-1) if torch.is_tensor(t) else np.array([t], "<f8")
    a.tofile(os.path.join(D, f"{case}.{name}.f64"))


def case_linear(c, p):
    B, C, OC = int(p["B"]), int(p["C"]), int(p["OC"])
    x, w, b = leaf(c, "x", (B, C)), leaf(c, "w", (OC, C)), leaf(c, "b", (OC,))
    y = F.linear(x, w, b)
    (y * load(c, "dout", (B, OC))).sum().backward()
    save(c, "y", y), save(c, "dx", x.grad), save(c, "dw", w.grad), save(c, "db", b.grad)


ACTS = {"relu": torch.relu, "tanh": torch.tanh, "silu": F.silu, "sigmoid": torch.sigmoid,
        "none": lambda v: v}


def case_act(c, p):
    x = leaf(c, "x")
    y = ACTS[p["name"]](x)
    (y * load(c, "dout")).sum().backward()
    save(c, "y", y), save(c, "dx", x.grad)


def case_layernorm(c, p):
    B, C, eps = int(p["B"]), int(p["C"]), float(p["eps"])
    ln = torch.nn.LayerNorm(C, eps=eps).to(DT)
    with torch.no_grad():
        ln.weight.copy_(load(c, "w")), ln.bias.copy_(load(c, "b"))
    x = leaf(c, "x", (B, C))
    y = ln(x)
    (y * load(c, "dout", (B, C))).sum().backward()
    save(c, "y", y), save(c, "dx", x.grad), save(c, "dw", ln.weight.grad), save(c, "db", ln.bias.grad)


def case_gru(c, p):
    T, B, I, H = (int(p[k]) for k in ("T", "B", "I", "H"))
    TT = max(T, 1)
    if T:
        net = torch.nn.GRU(I, H).to(DT)
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    else:
        net = torch.nn.GRUCell(I, H).to(DT)
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    srcs = ("w_ih", "w_hh", "b_ih", "b_hh")
    params = [getattr(net, n) for n in names]
    with torch.no_grad():
        for prm, s in zip(params, srcs):
            prm.copy_(load(c, s, prm.shape))
    h0 = leaf(c, "h0", (B, H))
    if T:
        x = leaf(c, "x", (T, B, I))
        hs, _ = net(x, h0.unsqueeze(0))
    else:
        x = leaf(c, "x", (B, I))
        hs = net(x, h0)
    (hs * load(c, "dout", hs.shape)).sum().backward()
    save(c, "h", hs), save(c, "dx", x.grad), save(c, "dh0", h0.grad)
    for prm, s in zip(params, srcs):
        save(c, "d" + s, prm.grad)


def case_mlp(c, p):
    B, act, ln = int(p["B"]), p["act"], int(p["ln"])
    sizes = [int(s) for s in p["sizes"].split(",")]
    L = len(sizes) - 1
    layers, named = [], []
    for l in range(L):
        lin = torch.nn.Linear(sizes[l], sizes[l + 1]).to(DT)
        with torch.no_grad():
            lin.weight.copy_(load(c, f"mlp.l{l}.weight", lin.weight.shape))
            lin.bias.copy_(load(c, f"mlp.l{l}.bias"))
        layers.append(lin)
        named += [(f"mlp.l{l}.weight", lin.weight), (f"mlp.l{l}.bias", lin.bias)]
        if l < L - 1:
            if ln:
                norm = torch.nn.LayerNorm(sizes[l + 1], eps=1e-5).to(DT)
                with torch.no_grad():
                    norm.weight.copy_(load(c, f"mlp.ln{l}.weight"))
                    norm.bias.copy_(load(c, f"mlp.ln{l}.bias"))
                layers.append(norm)
                named += [(f"mlp.ln{l}.weight", norm.weight), (f"mlp.ln{l}.bias", norm.bias)]
            layers.append({"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "silu": torch.nn.SiLU(),
                           "sigmoid": torch.nn.Sigmoid(), "none": torch.nn.Identity()}[act])
    net = torch.nn.Sequential(*layers)
    x = leaf(c, "x", (B, sizes[0]))
    y = net(x)
    (y * load(c, "dout", y.shape)).sum().backward()
    save(c, "y", y), save(c, "dx", x.grad)
    for name, prm in named:
        save(c, "grad." + name, prm.grad)


def case_tanh_gaussian(c, p):
    B, A = int(p["B"]), int(p["A"])
    inp = leaf(c, "in", (B, 2 * A))
    eps = load(c, "eps", (B, A))
    mu, log_std = inp[:, :A], inp[:, A:].clamp(-20.0, 2.0)
    std = log_std.exp()
    u = mu + std * eps
    act = torch.tanh(u)
    normal = torch.distributions.Normal(mu, std)
    logp = normal.log_prob(u).sum(-1) - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    ((act * load(c, "dact", (B, A))).sum() + (logp * load(c, "dlogp")).sum()).backward()
    save(c, "act", act), save(c, "logp", logp), save(c, "din", inp.grad)


def case_mse(c, p):
    B, Dd, weighted = int(p["B"]), int(p["D"]), int(p["weighted"])
    pred, t = leaf(c, "pred", (B, Dd)), load(c, "target", (B, Dd))
    if weighted:
        loss = (load(c, "w")[:, None] * (pred - t) ** 2).mean()
    else:
        loss = F.mse_loss(pred, t)
    loss.backward()
    save(c, "loss", loss.item()), save(c, "dpred", pred.grad)


def case_gnll(c, p):
    full = bool(int(p["full"]))
    mean, logvar, t = leaf(c, "mean"), leaf(c, "logvar"), load(c, "target")
    loss = torch.nn.GaussianNLLLoss(full=full)(mean, t, logvar.exp())
    loss.backward()
    save(c, "loss", loss.item()), save(c, "dmean", mean.grad), save(c, "dlogvar", logvar.grad)


def case_bce(c, p):
    x, y = leaf(c, "logits"), load(c, "targets")
    w = load(c, "w") if int(p["weighted"]) else None
    loss = torch.nn.BCEWithLogitsLoss(weight=w)(x, y)
    loss.backward()
    save(c, "loss", loss.item()), save(c, "dlogits", x.grad)


def case_infonce(c, p):
    B, Dd, tau = int(p["B"]), int(p["D"]), float(p["temperature"])
    a, q = leaf(c, "a", (B, Dd)), leaf(c, "p", (B, Dd))
    loss = F.cross_entropy(a @ q.T / tau, torch.arange(B))
    loss.backward()
    save(c, "loss", loss.item()), save(c, "da", a.grad), save(c, "dp", q.grad)


def case_adam(c, p):
    n, steps = int(p["n"]), int(p["steps"])
    prm = torch.nn.Parameter(load(c, "p0"))
    kw = dict(lr=float(p["lr"]), betas=(float(p["beta1"]), float(p["beta2"])), eps=float(p["eps"]),
              weight_decay=float(p["wd"]))
    opt = torch.optim.AdamW([prm], **kw) if int(p["decoupled"]) else torch.optim.Adam([prm], **kw)
    for s in range(1, steps + 1):
        prm.grad = load(c, f"g{s}")
        opt.step()
    st = opt.state[prm]
    save(c, "p", prm), save(c, "m", st["exp_avg"]), save(c, "v", st["exp_avg_sq"])


def case_clip(c, p):
    prm = torch.nn.Parameter(torch.zeros(int(p["n"]), dtype=DT))
    prm.grad = load(c, "g")
    norm = torch.nn.utils.clip_grad_norm_([prm], float(p["max_norm"]))
    save(c, "norm", norm.item()), save(c, "g_clipped", prm.grad)


KINDS = {"linear": case_linear, "act": case_act, "layernorm": case_layernorm, "gru": case_gru,
         "mlp": case_mlp, "tanh_gaussian": case_tanh_gaussian, "mse": case_mse, "gnll": case_gnll,
         "bce": case_bce, "infonce": case_infonce, "adam": case_adam, "clip": case_clip}

with open(os.path.join(D, "manifest.txt")) as f:
    for line in f:
        parts = line.split()
        if not parts:
            continue
        case, kind = parts[0], parts[1]
        params = dict(kv.split("=", 1) for kv in parts[2:])
        KINDS[kind](case, params)
