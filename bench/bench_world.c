/* SPDX-License-Identifier: Apache-2.0 */
/* bench_world.c - world-model speed against PyTorch (bench/world_ref.py) in the same run:
 * rollout throughput (synthetic transitions per second; ensemble of 5, hidden 128, latent 32,
 * action 4, 4096 starts, 60 steps) on 1 and 2 threads, and training steps per second (one
 * member, batch 64, 60-step free-running BPTT with the reward/econ heads and regularisers).
 *
 * Invariant: both sides run the same shapes on the same machine in the same invocation; the
 * ratio printed is C / PyTorch (> 1 means C is faster).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_dataset.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_world.h"
#include "world/world_internal.h"

#define NEP 64
#define LEN 61
#define ZD 32
#define AD 4

static void die(const char *what) {
    fprintf(stderr, "bench_world: %s: %s\n", what, sl_last_error());
    exit(1);
}

/* Transitions per second of rollouts of H steps from n starts (ensemble of w->members, warm
 * run first), at th threads and the given noise scale, timed over at least `seconds`. */
static double rollout_rate(const sl_world *w, const sl_world_data *d, const size_t *rows, int n,
                           int H, int th, float noise, double seconds) {
    sl_nn_set_threads(th);
    sl_world_rollout_opts o = {H, 1, NULL, NULL, noise, 1};
    sl_world_rollout ro;
    if (sl_world_rollout_run(w, d, rows, n, &o, &ro) != SL_OK) die("rollout"); /* warm */
    const int members = ro.members;
    sl_world_rollout_free(&ro);
    double t0 = sl_now(), tr = 0;
    int reps = 0;
    while ((tr = sl_now() - t0) < seconds || reps == 0) {
        if (sl_world_rollout_run(w, d, rows, n, &o, &ro) != SL_OK) die("rollout");
        sl_world_rollout_free(&ro);
        reps++;
    }
    return (double)reps * members * n * H / tr;
}

int main(void) {
    const double SECONDS = 2.0;
    printf("bench_world (numbers under load if other jobs run)\n");
    /* data: 64 episodes of 61 steps, smooth random latents */
    sl_dataset *ds;
    size_t n = (size_t)NEP * LEN;
    if (sl_dataset_alloc(&ds, n, ZD, AD) != SL_OK) die("alloc");
    ds->n_episodes = NEP;
    float *z = malloc(n * ZD * sizeof(float)), *zn = malloc(n * ZD * sizeof(float));
    const char econ[3][SL_WORLD_NAME_MAX] = {"unit_done", "error_event", "energy_wh"};
    float *cols[3];
    for (int q = 0; q < 3; q++)
        if (sl_dataset_add_step_col(ds, econ[q], &cols[q]) != SL_OK) die("col");
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    for (size_t i = 0; i < n; i++) {
        ds->episode_ids[i] = (int32_t)(i / LEN);
        ds->timesteps[i] = (int32_t)(i % LEN);
        for (int j = 0; j < AD; j++) ds->actions[i * AD + j] = (float)sl_rng_normal(&r);
        for (int j = 0; j < ZD; j++) {
            float prev = i % LEN ? z[(i - 1) * ZD + j] : (float)sl_rng_normal(&r);
            z[i * ZD + j] = i % LEN ? zn[(i - 1) * ZD + j] : prev;
            zn[i * ZD + j] = 0.9f * z[i * ZD + j] + 0.3f * (float)sl_rng_normal(&r);
        }
        cols[0][i] = (float)(sl_rng_uniform(&r) < 0.05);
        cols[1][i] = (float)(sl_rng_uniform(&r) < 0.05);
        cols[2][i] = (float)sl_rng_uniform(&r);
        ds->rewards[i] = (float)sl_rng_normal(&r);
    }
    sl_world_data d;
    if (sl_world_data_init(&d, ds, z, zn, ZD, econ, 3) != SL_OK) die("data");

    /* --- rollout throughput --- */
    sl_world_config c;
    sl_world_config_default(&c);
    c.members = 5;
    c.hidden = 128;
    sl_world *w;
    if (sl_world_alloc(&w, &c, ZD, AD) != SL_OK) die("model");
    const int NS = 4096, H = 60;
    size_t *rows = malloc(NS * sizeof *rows);
    for (int i = 0; i < NS; i++) rows[i] = (size_t)(i % NEP) * LEN;
    double c_roll[2];
    for (int th = 1; th <= 2; th++) c_roll[th - 1] = rollout_rate(w, &d, rows, NS, H, th, 0.0f, SECONDS);
    /* the same with sampled noise (noise 1): the state-dependent sigma head runs every step */
    double c_noisy = rollout_rate(w, &d, rows, NS, H, 2, 1.0f, SECONDS);
    sl_world_free(w);

    /* --- training steps --- */
    double c_train[2];
    const int hid[2] = {128, 64};
    sl_nn_set_threads(1);
    for (int k = 0; k < 2; k++) {
        sl_world_config tc;
        sl_world_config_default(&tc);
        tc.members = 1;
        tc.hidden = hid[k];
        tc.batch = 64;
        tc.horizon = 60;
        tc.horizon_mix = 0.0f;
        tc.burn_in = 0;
        tc.holdout_frac = 0.1;
        tc.n_econ = 3;
        int iters = 5;
        double secs = 0;
        for (;;) { /* grow until the run takes SECONDS */
            tc.max_iters = iters;
            tc.eval_every = iters;
            sl_world *tw;
            double t0 = sl_now();
            if (sl_world_train(&tw, &d, &tc, NULL) != SL_OK) die("train");
            secs = sl_now() - t0;
            sl_world_free(tw);
            if (secs >= SECONDS || iters >= 5000) break;
            iters *= 2;
        }
        c_train[k] = iters / secs;
    }

    /* --- PyTorch --- */
    double py_roll[2] = {NAN, NAN}, py_train[2] = {NAN, NAN};
    const char *root = getenv("SL_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/world_ref.py %g", root ? root : ".",
             SECONDS);
    FILE *p = popen(cmd, "r");
    if (p) {
        char line[256];
        while (fgets(line, sizeof line, p)) {
            int a, b;
            double v;
            if (sscanf(line, "rollout %d %lf", &a, &v) == 2 && a >= 1 && a <= 2) py_roll[a - 1] = v;
            if (sscanf(line, "train %d %d %lf", &a, &b, &v) == 3) py_train[a == 128 ? 0 : 1] = v;
        }
        pclose(p);
    }
    printf("  rollout, ensemble 5, hidden 128, z 32, a 4, 4096 starts x 60 steps (transitions/s)\n");
    for (int th = 0; th < 2; th++)
        printf("    %d thread%s: C %12.0f   PyTorch %12.0f   ratio %.2f\n", th + 1, th ? "s" : " ",
               c_roll[th], py_roll[th], c_roll[th] / py_roll[th]);
    printf("    2 threads, sampled noise (state-dependent sigma, as branches are made): C %12.0f\n",
           c_noisy);
    printf("  training, 1 member, batch 64, 60-step BPTT, 1 thread (steps/s)\n");
    for (int k = 0; k < 2; k++)
        printf("    hidden %3d: C %8.2f   PyTorch %8.2f   ratio %.2f\n", hid[k], c_train[k],
               py_train[k], c_train[k] / py_train[k]);
    printf("  goal: >= 1,000,000 rollout transitions/s on both cores\n");
    free(rows);
    sl_world_data_clear(&d);
    sl_dataset_free(ds);
    free(z);
    free(zn);
    return 0;
}
