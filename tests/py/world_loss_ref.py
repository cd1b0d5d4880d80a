#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch (float64, autograd) re-implementation of one world-model training loss
(src/world/train.c member_step, docs/WORLD.md "Loss"), used by tests/test_world.c.

Reads CASE.npz written by the C test: standardised data (zs, zns, as, rs, es), the batch
(rows, mask [Hs, B], eps [Hs, B, Z]), the model's tensors (param.NAME) and the C results
(loss, grad.NAME). Recomputes the loss and its gradient and exits 1 if any differs.

Sigma's path through fed-back inputs is cut in C on purpose; here the fed-back input uses a
detached sigma, which gives exactly the same gradient.

usage: world_loss_ref.py CASE.npz [CASE.npz ...]
"""
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def gru(x, h, wih, whh, bih, bhh):
    gi = x @ wih.T + bih
    gh = h @ whh.T + bhh
    H = h.shape[1]
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def loss_of(f, P):
    cfg = f["cfg"]
    clip_c, w_rew, w_econ, w_dist, w_win, w_rough, w_var, w_nll, prefixes, eps_std, hetero = cfg
    zs, zns, as_ = (torch.tensor(f[k].astype(np.float64)) for k in ("zs", "zns", "as"))
    rs, es = torch.tensor(f["rs"].astype(np.float64)), torch.tensor(f["es"].astype(np.float64))
    rows = f["rows"].astype(np.int64)
    mask = f["mask"]
    eps = torch.tensor(f["eps"].astype(np.float64))
    dz_std = torch.tensor(f["dz_std"].astype(np.float64))
    ebin = f["e_binary"]
    Hs, B, Z = eps.shape
    E = es.shape[1]
    h = torch.zeros(B, P["gru.weight_hh_l0"].shape[1])
    ls = P["noise_logstd"]
    zp, zm, zr, sg = [], [], [], []
    loss = 0.0
    zfed = None
    for k in range(Hs):
        real_in = torch.stack([zs[r + k] for r in rows])
        if k == 0:
            zin = real_in
        else:
            tf = torch.tensor(mask[k] > 0.5).unsqueeze(1)
            zin = torch.where(tf, real_in, zfed)
        x = torch.cat([zin, torch.stack([as_[r + k] for r in rows])], 1)
        h = gru(x, h, P["gru.weight_ih_l0"], P["gru.weight_hh_l0"], P["gru.bias_ih_l0"], P["gru.bias_hh_l0"])
        out = h @ P["head.weight"].T + P["head.bias"]
        d = out[:, :Z]
        cl = clip_c * torch.tanh(d / clip_c)
        mean = zin + dz_std * cl
        lsig = ls + (h @ P["noise_head.weight"].T + P["noise_head.bias"] if hetero else 0.0)
        sig = torch.exp(lsig)
        sample = mean + sig * eps[k]
        zfed = mean + sig.detach() * eps[k]  # what is fed back (sigma's path cut)
        y = torch.stack([zns[r + k] for r in rows])
        zp.append(sample)
        zm.append(mean)
        zr.append(y)
        sg.append(sig)
        loss = loss + ((mean - y) ** 2).sum() / (B * Hs * Z)
        rr = torch.stack([rs[r + k] for r in rows])
        loss = loss + w_rew * ((out[:, Z] - rr) ** 2).sum() / (B * Hs)
        ee = torch.stack([es[r + k] for r in rows])
        for q in range(E):
            o = out[:, Z + 1 + q]
            if ebin[q]:
                l = torch.nn.functional.binary_cross_entropy_with_logits(o, ee[:, q], reduction="sum")
            else:
                l = ((o - ee[:, q]) ** 2).sum()
            loss = loss + w_econ * l / (B * Hs * E)
    S, M, R = torch.stack(zp), torch.stack(zm), torch.stack(zr)  # [Hs, B, Z]
    z0 = torch.stack([zs[r] for r in rows])
    if hetero and w_nll > 0:
        tfm = np.array([[k == 0 or mask[k, i] > 0.5 for i in range(B)] for k in range(Hs)])
        ntf = tfm.sum()
        sc = w_nll / (ntf * Z)
        sig = torch.stack(sg)
        r = (R - M) / sig
        nll = 0.5 * r ** 2 + torch.log(sig)
        loss = loss + sc * (nll * torch.tensor(tfm).unsqueeze(2)).sum()
    if w_dist > 0 and B >= 2:
        sc = w_dist / (Hs * Z)
        ms, mr = S.mean(1), R.mean(1)
        ss = torch.sqrt(((S - ms.unsqueeze(1)) ** 2).mean(1) + eps_std)
        sr = torch.sqrt(((R - mr.unsqueeze(1)) ** 2).mean(1) + eps_std)
        loss = loss + sc * (((ms - mr) ** 2) + ((ss - sr) ** 2)).sum()
    if w_win > 0 and Hs >= 2:
        hps = [p for p in (5, 10, 20, 40) if p < Hs] if prefixes else []
        hps.append(Hs)
        scw = w_win / (B * len(hps))
        for hp in hps:
            Ws = torch.cat([z0.unsqueeze(0), S[:hp]], 0)  # [hp+1, B, Z]
            Wr = torch.cat([z0.unsqueeze(0), R[:hp]], 0)
            Vs = Ws.var(0, unbiased=False).sum(1)
            Vr = Wr.var(0, unbiased=False).sum(1)
            for i in range(B):
                if not (Vr[i] > 1e-8 and Vs[i] > 1e-12):
                    continue
                loss = loss + scw * (0.5 * torch.log(Vs[i] / Vr[i])) ** 2
    if w_rough > 0:
        Sp = torch.cat([z0.unsqueeze(0), S], 0)
        Rp = torch.cat([z0.unsqueeze(0), R], 0)
        es_ = (torch.diff(Sp, dim=0) ** 2).mean((0, 1))
        er_ = (torch.diff(Rp, dim=0) ** 2).mean((0, 1))
        for j in range(Z):
            if er_[j] > 1e-12 and es_[j] > 1e-12:
                loss = loss + w_rough / Z * (0.5 * torch.log(es_[j] / er_[j])) ** 2
    if w_var > 0 and Z >= 2:
        for k in range(Hs):
            vs = S[k].var(1, unbiased=True).mean()
            vr = R[k].var(1, unbiased=True).mean()
            if vr > 1e-8:
                loss = loss + w_var / Hs * (vs / vr - 1) ** 2
    return loss


def run(path):
    f = np.load(path)
    names = [k[len("param."):] for k in f.files if k.startswith("param.")]
    P = {n: torch.tensor(f["param." + n].astype(np.float64), requires_grad=True) for n in names}
    loss = loss_of(f, P)
    loss.backward()
    ok = True
    c_loss = float(f["loss"])
    rl = abs(loss.item() - c_loss) / max(abs(c_loss), 1e-12)
    print("%s: loss C %.10g torch %.10g (rel %.2e)" % (path, c_loss, loss.item(), rl))
    ok &= rl < 1e-5
    for n in names:
        g_t = P[n].grad.numpy().ravel()
        g_c = f["grad." + n].astype(np.float64).ravel()
        rel = np.linalg.norm(g_c - g_t) / max(np.linalg.norm(g_t), 1e-12)
        print("  %-22s |grad| %.4g  rel err %.2e" % (n, np.linalg.norm(g_t), rel))
        ok &= rel < 2e-4
    return ok


if __name__ == "__main__":
    good = all([run(p) for p in sys.argv[1:]])
    sys.exit(0 if good else 1)
