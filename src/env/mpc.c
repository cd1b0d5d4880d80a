/* SPDX-License-Identifier: Apache-2.0 */
/* mpc.c - the expert of task-spec environments: MPPI (model-predictive path integral control)
 * over the true simulator, as MuJoCo's MJPC does. At every control step it samples K control
 * sequences around a warm-started nominal plan, rolls each out for H control steps with the
 * task's own reward (sl_mjcf_advance: the very step the env takes), and moves the plan to the
 * exp(return / temperature)-weighted mean of the samples; the first action is applied and the
 * plan shifts by one step for the next call.
 *
 * Key invariant: sample k's noise comes from a stream seeded by (episode seed, control step,
 * iteration, k) and each rollout starts from a copy of the same state, so returns do not depend
 * on which thread ran them; the weighted mean is summed serially in k order. Same seed => same
 * plan, whatever the thread count.
 *
 * Terminal steps inside a rollout are absorbing: the terminal step's reward is repeated for
 * the rest of the horizon, so that ending an episode early by failing is not a way to stop
 * paying a negative per-step reward. A diverged rollout gets weight 0.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

struct sl_mpc {
    const mjcf_env *e;
    sl_mpc_config cfg;
    int nu, nth;
    double *U;       /* nominal plan [H][nu] */
    double *S;       /* sampled sequences [K][H][nu] */
    double *R;       /* returns [K] */
    int *ok;         /* rollout finished without divergence [K] */
    mjData **d;      /* one per thread */
    uint64_t seed;
    int last_t;      /* control step of the previous plan (-1: none) */
};

sl_mpc_config sl_mpc_default(void) {
    sl_mpc_config c = {.samples = 32, .horizon = 15, .iterations = 2, .noise = 0.3, .temperature = 0.1, .knots = 0,
                       .threads = 0};
    return c;
}

void sl_mpc_free(sl_mpc *p) {
    if (!p) return;
    for (int i = 0; p->d && i < p->nth; i++)
        if (p->d[i]) mj_deleteData(p->d[i]);
    free(p->d);
    free(p->U);
    free(p->S);
    free(p->R);
    free(p->ok);
    free(p);
}

sl_status sl_mpc_new(sl_mpc **out, const mjcf_env *e, const sl_mpc_config *cfg) {
    *out = NULL;
    sl_mpc *p = calloc(1, sizeof *p);
    if (!p) return sl_set_error(SL_ERR_NOMEM, "mpc: out of memory");
    p->e = e;
    p->cfg = *cfg;
    p->nu = e->m->nu;
    p->nth = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    if (p->nth < 1) p->nth = 1;
    size_t hn = (size_t)cfg->horizon * (size_t)p->nu, k = (size_t)cfg->samples;
    p->U = calloc(hn, sizeof(double));
    p->S = calloc(hn * k, sizeof(double));
    p->R = calloc(k, sizeof(double));
    p->ok = calloc(k, sizeof(int));
    p->d = calloc((size_t)p->nth, sizeof(mjData *));
    int good = p->U && p->S && p->R && p->ok && p->d;
    for (int i = 0; good && i < p->nth; i++) good = (p->d[i] = mj_makeData(e->m)) != NULL;
    if (!good) {
        sl_mpc_free(p);
        return sl_set_error(SL_ERR_NOMEM, "mpc: out of memory (%d samples x %d steps)", cfg->samples, cfg->horizon);
    }
    p->last_t = -1;
    *out = p;
    return SL_OK;
}

void sl_mpc_reset(sl_mpc *p, uint64_t seed) {
    p->seed = seed;
    p->last_t = -1;
}

/* A fresh plan starts at the middle of each control range: no torque for symmetric motors,
 * half thrust / half activation for one-sided actuators (from which a one-iteration plan can
 * still reach either end). */
static double rest_ctrl(const mjcf_env *e, int i) {
    return 0.5 * ((double)e->act_lo[i] + (double)e->act_hi[i]);
}

static void copy_state(const mjModel *m, const mjData *src, mjData *dst) {
    dst->time = src->time;
    memcpy(dst->qpos, src->qpos, (size_t)m->nq * sizeof(mjtNum));
    memcpy(dst->qvel, src->qvel, (size_t)m->nv * sizeof(mjtNum));
    memcpy(dst->act, src->act, (size_t)m->na * sizeof(mjtNum));
    memcpy(dst->qacc_warmstart, src->qacc_warmstart, (size_t)m->nv * sizeof(mjtNum));
    memcpy(dst->ctrl, src->ctrl, (size_t)m->nu * sizeof(mjtNum));
    memcpy(dst->mocap_pos, src->mocap_pos, (size_t)m->nmocap * 3 * sizeof(mjtNum));
    memcpy(dst->mocap_quat, src->mocap_quat, (size_t)m->nmocap * 4 * sizeof(mjtNum));
    memset(dst->warning, 0, sizeof dst->warning);
}

sl_status sl_mpc_plan(sl_mpc *p, const mjData *d0, const sl_task_state *ts0, int t, float *action) {
    const mjcf_env *e = p->e;
    const mjModel *m = e->m;
    int nu = p->nu, H = p->cfg.horizon, K = p->cfg.samples;
    int Heff = e->task.max_steps - t;
    if (Heff > H) Heff = H;
    if (Heff < 1) Heff = 1;
    /* warm start: shift the previous plan by one step; a fresh plan sits mid-range */
    if (p->last_t >= 0 && t == p->last_t + 1) {
        memmove(p->U, p->U + nu, (size_t)(H - 1) * (size_t)nu * sizeof(double));
    } else {
        for (int h = 0; h < H; h++)
            for (int i = 0; i < nu; i++) p->U[h * nu + i] = rest_ctrl(e, i);
    }
    p->last_t = t;
    for (int it = 0; it < p->cfg.iterations; it++) {
#pragma omp parallel for num_threads(p->nth) schedule(dynamic)
        for (int k = 0; k < K; k++) {
            mjData *d = p->d[omp_get_thread_num()];
            double *s = p->S + (size_t)k * (size_t)H * (size_t)nu;
            sl_rng r;
            sl_rng_seed(&r, p->seed, ((uint64_t)t << 32) ^ ((uint64_t)it << 24) ^ (uint64_t)k ^ 0x6d707063ULL);
            /* smooth perturbations: noise drawn at P knots spread over the horizon, linearly
             * interpolated between them (P = 0: independent noise at every step) */
            int P = p->cfg.knots > 0 ? (p->cfg.knots < Heff ? p->cfg.knots : Heff) : Heff;
            double knot[2][64];
            int kn = 0;
            for (int i = 0; i < nu; i++) knot[0][i] = sl_rng_normal(&r);
            for (int i = 0; i < nu; i++) knot[1][i] = P > 1 ? sl_rng_normal(&r) : knot[0][i];
            for (int h = 0; h < Heff; h++) {
                double pos = P > 1 ? (double)h * (double)(P - 1) / (double)(Heff > 1 ? Heff - 1 : 1) : 0.0;
                while (kn + 1 < P && pos > (double)(kn + 1)) { /* advance to the knot interval holding pos */
                    kn++;
                    for (int i = 0; i < nu; i++) {
                        knot[0][i] = knot[1][i];
                        knot[1][i] = sl_rng_normal(&r);
                    }
                }
                double f = pos - (double)kn;
                for (int i = 0; i < nu; i++) {
                    double lo = (double)e->act_lo[i], hi = (double)e->act_hi[i];
                    double v = p->U[h * nu + i];
                    if (k > 0) v += p->cfg.noise * 0.5 * (hi - lo) * ((1.0 - f) * knot[0][i] + f * knot[1][i]);
                    s[h * nu + i] = v < lo ? lo : v > hi ? hi : v;
                }
            }
            copy_state(m, d0, d);
            sl_task_state ts = *ts0;
            double ret = 0;
            int ok = 1;
            for (int h = 0; h < Heff; h++) {
                double rw;
                int term;
                if (sl_mjcf_advance(e, d, &ts, s + h * nu, t + h, &rw, &term) != SL_OK) {
                    ok = 0;
                    break;
                }
                ret += rw;
                if (term) {
                    ret += rw * (double)(Heff - h - 1);
                    break;
                }
            }
            p->R[k] = ret;
            p->ok[k] = ok;
        }
        /* weights over the rollouts that did not diverge, summed in k order */
        double rmax = -INFINITY, mean = 0, var = 0;
        int n = 0;
        for (int k = 0; k < K; k++)
            if (p->ok[k]) {
                n++;
                mean += p->R[k];
                if (p->R[k] > rmax) rmax = p->R[k];
            }
        if (n == 0) break; /* every rollout diverged: keep the plan */
        mean /= n;
        for (int k = 0; k < K; k++)
            if (p->ok[k]) var += (p->R[k] - mean) * (p->R[k] - mean);
        double sd = sqrt(var / n), lam = p->cfg.temperature * (sd > 1e-12 ? sd : 1e-12);
        double wsum = 0;
        for (int k = 0; k < K; k++) {
            p->R[k] = p->ok[k] ? exp((p->R[k] - rmax) / lam) : 0.0; /* R now holds weights */
            wsum += p->R[k];
        }
        for (int h = 0; h < Heff; h++)
            for (int i = 0; i < nu; i++) {
                double v = 0;
                for (int k = 0; k < K; k++) v += p->R[k] * p->S[((size_t)k * (size_t)H + (size_t)h) * (size_t)nu + (size_t)i];
                p->U[h * nu + i] = v / wsum;
            }
    }
    for (int i = 0; i < nu; i++) action[i] = (float)p->U[i];
    return SL_OK;
}
