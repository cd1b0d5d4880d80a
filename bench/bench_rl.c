/* SPDX-License-Identifier: Apache-2.0 */
/* bench_rl.c - offline-RL learner speed (sl_agent_update_batch) against PyTorch
 * (bench/rl_ref.py) in the same run.
 *
 * TD3+BC (policy_freq 2, so half the updates include an actor step, as in the paper) and SAC
 * (auto temperature) on latent 32, action 8, batch 256, importance weights lw, hidden 256 and
 * 64; C with 1 and 2 threads, PyTorch with 1 and 2 threads; prints updates/s and the ratio of
 * the best C setting to the best PyTorch setting. Goals: >= 2.5x at hidden 256, >= 5x at 64.
 * Both sides also report updates per process-CPU second at 1 thread: on a shared machine the
 * wall-clock ratio swings with the load (the two sides run at different moments), the
 * 1-thread CPU-time ratio much less.
 * Invariant: nothing is asserted on wall time; a failing reference script fails the bench.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"

#define BENCH_SECONDS 2.0
#define OBS 32
#define ACT 8
#define BATCH 256

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* updates per wall second; *cpu_rate = updates per process-CPU second */
static double rate(sl_agent *ag, const sl_batch *b, double *cpu_rate) {
    sl_rl_stats st;
    for (int i = 0; i < 2; i++) /* warm up */
        if (sl_agent_update_batch(ag, b, &st) != SL_OK) abort();
    double t0 = sl_now(), c0 = cpu_now(), t;
    long n = 0;
    do {
        if (sl_agent_update_batch(ag, b, &st) != SL_OK) {
            fprintf(stderr, "bench_rl: update failed: %s\n", sl_last_error());
            abort();
        }
        n++;
        t = sl_now() - t0;
    } while (t < BENCH_SECONDS);
    double c = cpu_now() - c0;
    *cpu_rate = (double)n / (c > 1e-9 ? c : 1e-9);
    return (double)n / t;
}

/* [algo td3bc/sac][H 256/64][threads]: wall rates and CPU-time rates */
static double torch_rates[2][2][3], torch_cpu[2][2][3];

static int run_torch(void) {
    const char *root = getenv("SL_BENCH_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/rl_ref.py %.1f", root ? root : ".",
             BENCH_SECONDS);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    char kind[16];
    int H, th, got = 0;
    double r, rc;
    while (fscanf(f, "%15s %d %d %lf %lf", kind, &H, &th, &r, &rc) == 5) {
        int algo = strcmp(kind, "td3bc") == 0 ? 0 : strcmp(kind, "sac") == 0 ? 1 : -1;
        if (algo < 0 || (H != 256 && H != 64) || th < 1 || th > 2) continue;
        torch_rates[algo][H == 256 ? 0 : 1][th] = r;
        torch_cpu[algo][H == 256 ? 0 : 1][th] = rc;
        got++;
    }
    return pclose(f) == 0 && got == 8;
}

static double best2(const double *r) { return r[1] > r[2] ? r[1] : r[2]; }

int main(void) {
    printf("rl bench: sl_agent_update_batch vs PyTorch 1.13, latent %d, action %d, batch %d, "
           "%.0f s windows\n", OBS, ACT, BATCH, BENCH_SECONDS);
    sl_batch b;
    if (sl_batch_alloc(&b, BATCH, OBS, ACT) != SL_OK) return 1;
    sl_rng r;
    sl_rng_seed(&r, 3, 0);
    double wsum = 0.0;
    for (int i = 0; i < BATCH * OBS; i++) {
        b.obs[i] = (float)sl_rng_normal(&r);
        b.next_obs[i] = (float)sl_rng_normal(&r);
    }
    for (int i = 0; i < BATCH * ACT; i++) b.act[i] = (float)sl_rng_uniform_range(&r, -1, 1);
    for (int i = 0; i < BATCH; i++) {
        b.rew[i] = (float)sl_rng_normal(&r);
        b.done[i] = sl_rng_uniform(&r) < 0.05 ? 1.0f : 0.0f;
        b.lw[i] = (float)sl_rng_uniform_range(&r, 0, 2);
        wsum += (double)b.lw[i];
        b.source[i] = 0;
        b.index[i] = (size_t)i;
    }
    for (int i = 0; i < BATCH; i++) b.lw[i] = (float)((double)b.lw[i] * BATCH / wsum);
    float mean[OBS], std[OBS];
    for (int i = 0; i < OBS; i++) {
        mean[i] = (float)(0.1 * sl_rng_normal(&r));
        std[i] = (float)sl_rng_uniform_range(&r, 0.5, 1.5);
    }
    const int Hs[2] = {256, 64};
    const double goal[2] = {2.5, 5.0};
    const sl_rl_algo algos[2] = {SL_RL_TD3BC, SL_RL_SAC};
    /* C first, PyTorch after: forking the reference process re-creates OpenBLAS's thread
     * pool in this process (its atfork handlers), and those threads then spin against
     * libgomp's at 2 threads (measured: 90 instead of 590 TD3+BC-256 updates/s) */
    static double c_rates[2][2][3], c_cpu[2][2][3];
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 2; k++) {
            sl_rl_algo algo = algos[k];
            double *cr = c_rates[k][h], *cc = c_cpu[k][h];
            for (int th = 1; th <= 2; th++) {
                sl_nn_set_threads(th);
                sl_rl_config cfg = sl_rl_config_defaults(algo, OBS, ACT);
                cfg.hidden = Hs[h];
                cfg.batch = BATCH;
                sl_agent *ag = NULL;
                if (sl_agent_new(&ag, &cfg, mean, std) != SL_OK) {
                    fprintf(stderr, "bench_rl: %s\n", sl_last_error());
                    return 1;
                }
                cr[th] = rate(ag, &b, &cc[th]);
                sl_agent_free(ag);
            }
        }
    if (!run_torch()) {
        fprintf(stderr, "bench_rl: bench/rl_ref.py failed\n");
        return 1;
    }
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 2; k++) {
            sl_rl_algo algo = algos[k];
            const double *cr = c_rates[k][h], *cc = c_cpu[k][h];
            const double *tr = torch_rates[k][h], *tc = torch_cpu[k][h];
            printf("%-5s hidden %3d: C %7.1f/s (1 thr) %7.1f/s (2 thr); PyTorch %7.1f/s (1 thr) "
                   "%7.1f/s (2 thr); ratio C best / PyTorch best = %.2fx (goal %.1fx); "
                   "1-thread per CPU-second: C %.1f/s PyTorch %.1f/s ratio %.2fx\n",
                   sl_rl_algo_name(algo), Hs[h], cr[1], cr[2], tr[1], tr[2],
                   best2(cr) / best2(tr), goal[h], cc[1], tc[1], cc[1] / tc[1]);
            fflush(stdout);
        }
    sl_batch_free(&b);
    sl_nn_set_threads(0);
    return 0;
}
