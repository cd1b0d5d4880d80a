# SPDX-License-Identifier: Apache-2.0
"""PyTorch reference for bench_latent: the encoder's training step with synthloop's defaults
(MLP 24->128->128->32 with LayerNorm + ReLU, L2-normalised output u, symmetric InfoNCE at
temperature 0.5, plus 10 x the MSE of a decoder 32->128->128->24 (LayerNorm + ReLU) reading u
and reconstructing the standardised observations of the 2B rows; one Adam 1e-3 over both) on
batches of 128 anchors and 128 positives. Prints one line per thread count:
"torch threads=N steps_per_s=X"."""
import sys
import time

import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
B, OBS, H, Z = 128, 24, 128, 32
for threads in (1, 2):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(OBS, H), torch.nn.LayerNorm(H), torch.nn.ReLU(),
        torch.nn.Linear(H, H), torch.nn.LayerNorm(H), torch.nn.ReLU(),
        torch.nn.Linear(H, Z))
    dec = torch.nn.Sequential(
        torch.nn.Linear(Z, H), torch.nn.LayerNorm(H), torch.nn.ReLU(),
        torch.nn.Linear(H, H), torch.nn.LayerNorm(H), torch.nn.ReLU(),
        torch.nn.Linear(H, OBS))
    opt = torch.optim.Adam(list(net.parameters()) + list(dec.parameters()), lr=1e-3)
    a = torch.randn(B, OBS)
    p = a + 0.1 * torch.randn(B, OBS)
    labels = torch.arange(B)

    def step():
        opt.zero_grad(set_to_none=True)
        ua = torch.nn.functional.normalize(net(a), dim=1)
        up = torch.nn.functional.normalize(net(p), dim=1)
        logits = ua @ up.T / 0.5
        loss = 0.5 * (torch.nn.functional.cross_entropy(logits, labels)
                      + torch.nn.functional.cross_entropy(logits.T, labels))
        u = torch.cat([ua, up])
        loss = loss + 10.0 * torch.nn.functional.mse_loss(dec(u), torch.cat([a, p]))
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps / (time.perf_counter() - t0))
    print(f"torch threads={threads} steps_per_s={best:.1f}", flush=True)
