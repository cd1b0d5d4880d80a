/* bench_rl.c - offline-RL learner speed (sl_agent_update_batch) against PyTorch
 * (bench/rl_ref.py) in the same run.
 *
 * TD3+BC (policy_freq 2, so half the updates include an actor step, as in the paper) and SAC
 * (auto temperature) on latent 32, action 8, batch 256, importance weights lw, hidden 256 and
 * 64; C with 1 and 2 threads, PyTorch with 1 and 2 threads; prints updates/s and the ratio of
 * the best C setting to the best PyTorch setting. Goals: >= 2.5x at hidden 256, >= 5x at 64.
 * Invariant: nothing is asserted on wall time; a failing reference script fails the bench.
 */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"

#define BENCH_SECONDS 2.0
#define OBS 32
#define ACT 8
#define BATCH 256

static double rate(sl_agent *ag, const sl_batch *b) {
    sl_rl_stats st;
    for (int i = 0; i < 2; i++) /* warm up */
        if (sl_agent_update_batch(ag, b, &st) != SL_OK) abort();
    double t0 = sl_now(), t;
    long n = 0;
    do {
        if (sl_agent_update_batch(ag, b, &st) != SL_OK) {
            fprintf(stderr, "bench_rl: update failed: %s\n", sl_last_error());
            abort();
        }
        n++;
        t = sl_now() - t0;
    } while (t < BENCH_SECONDS);
    return (double)n / t;
}

static double torch_rates[SL_RL_ALGO_COUNT][2][3]; /* [algo][H 256/64][threads] */

static int run_torch(void) {
    const char *root = getenv("SL_BENCH_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/rl_ref.py %.1f", root ? root : ".",
             BENCH_SECONDS);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    char kind[16];
    int H, th, got = 0;
    double r;
    while (fscanf(f, "%15s %d %d %lf", kind, &H, &th, &r) == 4) {
        sl_rl_algo algo;
        if (sl_rl_algo_parse(kind, &algo) != SL_OK || (H != 256 && H != 64) || th < 1 || th > 2)
            continue;
        torch_rates[algo][H == 256 ? 0 : 1][th] = r;
        got++;
    }
    return pclose(f) == 0 && got == 8;
}

static double best2(const double *r) { return r[1] > r[2] ? r[1] : r[2]; }

int main(void) {
    printf("rl bench: sl_agent_update_batch vs PyTorch 1.13, latent %d, action %d, batch %d, "
           "%.0f s windows\n", OBS, ACT, BATCH, BENCH_SECONDS);
    if (!run_torch()) {
        fprintf(stderr, "bench_rl: bench/rl_ref.py failed\n");
        return 1;
    }
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
    for (int h = 0; h < 2; h++)
        for (int algo = 0; algo < SL_RL_ALGO_COUNT; algo++) {
            double cr[3] = {0, 0, 0};
            for (int th = 1; th <= 2; th++) {
                sl_nn_set_threads(th);
                sl_rl_config cfg = sl_rl_config_defaults((sl_rl_algo)algo, OBS, ACT);
                cfg.hidden = Hs[h];
                cfg.batch = BATCH;
                sl_agent *ag = NULL;
                if (sl_agent_new(&ag, &cfg, mean, std) != SL_OK) {
                    fprintf(stderr, "bench_rl: %s\n", sl_last_error());
                    return 1;
                }
                cr[th] = rate(ag, &b);
                sl_agent_free(ag);
            }
            const double *tr = torch_rates[algo][h];
            printf("%-5s hidden %3d: C %7.1f/s (1 thr) %7.1f/s (2 thr); PyTorch %7.1f/s (1 thr) "
                   "%7.1f/s (2 thr); ratio C best / PyTorch best = %.2fx (goal %.1fx)\n",
                   sl_rl_algo_name((sl_rl_algo)algo), Hs[h], cr[1], cr[2], tr[1], tr[2],
                   best2(cr) / best2(tr), goal[h]);
            fflush(stdout);
        }
    sl_batch_free(&b);
    sl_nn_set_threads(0);
    return 0;
}
