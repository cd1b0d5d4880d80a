/* SPDX-License-Identifier: Apache-2.0 */
/* bench_latent.c - training speed of the contrastive encoder (issue: "make bench adds ... the
 * encoder's training speed"): InfoNCE updates per second on the default 50-episode workcell
 * dataset, against the same network, loss and optimiser in PyTorch (bench/latent_ref.py) on
 * the same machine in the same run. The C number includes batch sampling from real episodes;
 * the PyTorch loop reuses one batch, which favours PyTorch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_env.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"

int main(void) {
    sl_env *env = NULL;
    sl_dataset *ds = NULL;
    if (sl_env_workcell_new(&env, NULL) != SL_OK ||
        sl_env_collect(env, SL_POLICY_MIXED, 50, 1, &ds, NULL) != SL_OK) {
        fprintf(stderr, "bench_latent: %s\n", sl_last_error());
        return 1;
    }
    sl_env_free(env);
    printf("bench_latent: encoder training (MLP 24-128-128-32 + LayerNorm, InfoNCE + 10 x decoder MSE, batch 128)\n");
    double best[3] = {0, 0, 0};
    for (int threads = 1; threads <= 2; threads++) {
        sl_nn_set_threads(threads);
        for (int rep = 0; rep < 3; rep++) {
            sl_latent_config cfg = sl_latent_config_default();
            cfg.val_frac = 0.0;
            cfg.epochs = 20;
            sl_latent_encoder *enc = NULL;
            sl_latent_train_report r;
            double t0 = sl_now();
            if (sl_latent_train(&enc, ds, &cfg, &r) != SL_OK) {
                fprintf(stderr, "bench_latent: %s\n", sl_last_error());
                return 1;
            }
            double rate = r.steps / (sl_now() - t0);
            if (rate > best[threads]) best[threads] = rate;
            sl_latent_free(enc);
        }
        printf("  C       threads=%d  %8.1f steps/s\n", threads, best[threads]);
    }
    double cbest = best[1] > best[2] ? best[1] : best[2];
    FILE *p = popen("/usr/bin/python3 bench/latent_ref.py 300", "r");
    double tbest = 0;
    char line[256];
    while (p && fgets(line, sizeof line, p)) {
        int th;
        double v;
        if (sscanf(line, "torch threads=%d steps_per_s=%lf", &th, &v) == 2) {
            printf("  PyTorch threads=%d  %8.1f steps/s\n", th, v);
            if (v > tbest) tbest = v;
        }
    }
    if (!p || pclose(p) != 0 || tbest <= 0) {
        fprintf(stderr, "bench_latent: PyTorch reference failed\n");
        return 1;
    }
    printf("  encoder training: C best %.1f steps/s, PyTorch best %.1f steps/s, ratio %.2fx\n",
           cbest, tbest, cbest / tbest);
    sl_dataset_free(ds);
    return 0;
}
