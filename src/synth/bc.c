/* SPDX-License-Identifier: Apache-2.0 */
/* bc.c - the branch action sources: the behaviour-cloned policy (a small MLP latent -> action
 * fitted by MSE on the real (z_t, a_t) pairs) and a trained policy (sl_agent), both acting with
 * Gaussian exploration noise and clipped to the action range seen in the data.
 *
 * Invariant: sl_synth_bc_act and sl_synth_agent_policy_act only ever return finite actions
 * inside [a_min, a_max]; the clone works in standardised units (statistics of the data it was
 * trained on).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"
#include "synthloop/sl_synth.h"

#define BC_CHUNK 4096

struct sl_synth_bc {
    int Z, A;
    float noise;
    sl_nn_arena ar;
    sl_nn_mlp mlp;
    sl_nn_mlp_cache cache;
    float *z_mean, *z_std, *a_mean, *a_std, *a_min, *a_max; /* one allocation */
    float *in, *out;                                        /* [BC_CHUNK * Z], [BC_CHUNK * A] */
};

void sl_synth_bc_free(sl_synth_bc *bc) {
    if (!bc) return;
    sl_nn_arena_free(&bc->ar);
    sl_nn_mlp_cache_free(&bc->cache);
    free(bc->z_mean);
    free(bc->in);
    free(bc);
}

/* The last step of every branch action source: a non-finite action falls back to the data's
 * mean action, then the action is clipped to the range seen in the data. */
static inline float finish_action(float a, float mean, float lo, float hi) {
    if (!isfinite(a)) a = mean;
    return a < lo ? lo : (a > hi ? hi : a);
}

static void stats(const float *x, size_t n, int D, int j, float *mean, float *std, float *mn,
                  float *mx) {
    double s = 0, ss = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i * D + j];
        s += (double)v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    double m = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += ((double)x[i * D + j] - m) * ((double)x[i * D + j] - m);
    double sd = sqrt(ss / (double)n);
    *mean = (float)m;
    *std = sd > 1e-8 ? (float)sd : 1.0f;
    if (mn) *mn = lo;
    if (mx) *mx = hi;
}

sl_status sl_synth_bc_train(sl_synth_bc **out, const sl_world_data *d, int hidden, int iters,
                            float noise, uint64_t seed) {
    *out = NULL;
    if (hidden < 1 || iters < 0 || !(noise >= 0) || !isfinite(noise))
        return sl_set_error(SL_ERR_ARG, "bc: hidden %d >= 1, iters %d >= 0, noise >= 0 required",
                            hidden, iters);
    if (d->n == 0) return sl_set_error(SL_ERR_ARG, "bc: no data");
    const int Z = d->z_dim, A = d->a_dim;
    sl_synth_bc *bc = calloc(1, sizeof *bc);
    if (!bc) return sl_set_error(SL_ERR_NOMEM, "bc: out of memory");
    bc->Z = Z;
    bc->A = A;
    bc->noise = noise;
    sl_nn_arena_init(&bc->ar);
    bc->z_mean = malloc((size_t)(2 * Z + 4 * A) * sizeof(float));
    bc->in = malloc((size_t)BC_CHUNK * (Z + A) * sizeof(float));
    sl_status st = SL_OK;
    if (!bc->z_mean || !bc->in) st = sl_set_error(SL_ERR_NOMEM, "bc: out of memory");
    if (st != SL_OK) {
        sl_synth_bc_free(bc);
        return st;
    }
    bc->z_std = bc->z_mean + Z;
    bc->a_mean = bc->z_std + Z;
    bc->a_std = bc->a_mean + A;
    bc->a_min = bc->a_std + A;
    bc->a_max = bc->a_min + A;
    bc->out = bc->in + (size_t)BC_CHUNK * Z;
    for (int j = 0; j < Z; j++) stats(d->z, d->n, Z, j, &bc->z_mean[j], &bc->z_std[j], NULL, NULL);
    for (int j = 0; j < A; j++)
        stats(d->actions, d->n, A, j, &bc->a_mean[j], &bc->a_std[j], &bc->a_min[j], &bc->a_max[j]);
    int sizes[4] = {Z, hidden, hidden, A};
    st = sl_nn_mlp_declare(&bc->mlp, &bc->ar, "bc", 3, sizes, SL_NN_ACT_RELU, 0);
    if (st == SL_OK) st = sl_nn_arena_alloc(&bc->ar);
    if (st == SL_OK) st = sl_nn_mlp_cache_alloc(&bc->cache, &bc->mlp, BC_CHUNK);
    if (st != SL_OK) {
        sl_synth_bc_free(bc);
        return st;
    }
    sl_rng rng;
    sl_rng_seed(&rng, seed, 501);
    sl_nn_mlp_init(&bc->mlp, bc->ar.params, &rng);
    const int B = d->n < 256 ? (int)d->n : 256;
    float *x = malloc((size_t)B * Z * sizeof(float)), *y = malloc((size_t)B * A * sizeof(float));
    float *pred = malloc((size_t)B * A * sizeof(float)), *dp = malloc((size_t)B * A * sizeof(float));
    if (!x || !y || !pred || !dp) st = sl_set_error(SL_ERR_NOMEM, "bc: out of memory");
    sl_nn_adam adam = sl_nn_adam_defaults(1e-3f);
    for (int it = 0; it < iters && st == SL_OK; it++) {
        for (int i = 0; i < B; i++) {
            size_t r = sl_rng_below(&rng, d->n);
            for (int j = 0; j < Z; j++)
                x[(size_t)i * Z + j] = (d->z[r * Z + j] - bc->z_mean[j]) / bc->z_std[j];
            for (int j = 0; j < A; j++)
                y[(size_t)i * A + j] = (d->actions[r * A + j] - bc->a_mean[j]) / bc->a_std[j];
        }
        sl_nn_arena_zero_grad(&bc->ar);
        sl_nn_mlp_forward(pred, &bc->cache, x, &bc->mlp, bc->ar.params, B);
        float l = sl_nn_mse_loss(dp, pred, y, NULL, B, A);
        if (!isfinite(l)) {
            st = sl_set_error(SL_ERR_DIVERGED, "bc: loss became non-finite at step %d", it);
            break;
        }
        sl_nn_mlp_backward(NULL, bc->ar.grads, &bc->cache, dp, x, &bc->mlp, bc->ar.params, B);
        sl_nn_arena_clip_grad_norm(&bc->ar, 5.0f);
        sl_nn_arena_adam_step(&bc->ar, &adam);
    }
    free(x);
    free(y);
    free(pred);
    free(dp);
    if (st != SL_OK) {
        sl_synth_bc_free(bc);
        return st;
    }
    *out = bc;
    return SL_OK;
}

/* Noise-free standardised prediction of rows [0, n) (n <= BC_CHUNK) into bc->out. */
static void predict(sl_synth_bc *bc, const float *z, int n) {
    const int Z = bc->Z;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < Z; j++)
            bc->in[(size_t)i * Z + j] = (z[(size_t)i * Z + j] - bc->z_mean[j]) / bc->z_std[j];
    sl_nn_mlp_forward(bc->out, &bc->cache, bc->in, &bc->mlp, bc->ar.params, n);
}

sl_status sl_synth_bc_act(void *ctx, const float *z, int n, float *actions, sl_rng *rng) {
    sl_synth_bc *bc = ctx;
    const int A = bc->A;
    for (int c0 = 0; c0 < n; c0 += BC_CHUNK) {
        int B = n - c0 < BC_CHUNK ? n - c0 : BC_CHUNK;
        predict(bc, z + (size_t)c0 * bc->Z, B);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < A; j++) {
                float u = bc->out[(size_t)i * A + j];
                if (bc->noise > 0) u += bc->noise * (float)sl_rng_normal(rng);
                actions[((size_t)c0 + i) * A + j] = finish_action(
                    bc->a_mean[j] + bc->a_std[j] * u, bc->a_mean[j], bc->a_min[j], bc->a_max[j]);
            }
    }
    return SL_OK;
}

/* --- a trained policy as the action source (branches collect --policy) ----------------------
 * The agent's deterministic action, plus Gaussian exploration noise in units of the data's
 * per-dimension action std, through finish_action like the behaviour clone. A non-finite latent
 * (a diverging rollout, which the gates reject anyway) is fed to the agent as 0 in that entry. */
#define AP_CHUNK 1024

struct sl_synth_agent_policy {
    sl_agent *agent; /* borrowed */
    int Z, A;
    float noise;
    float *a_mean, *a_std, *a_min, *a_max; /* one allocation, 4 * A */
    float *out;                            /* [AP_CHUNK * A] */
    float *in;                             /* [AP_CHUNK * Z] sanitised latents */
};

void sl_synth_agent_policy_free(sl_synth_agent_policy *p) {
    if (!p) return;
    free(p->a_mean);
    free(p->out);
    free(p->in);
    free(p);
}

sl_status sl_synth_agent_policy_new(sl_synth_agent_policy **out, sl_agent *agent,
                                    const sl_world_data *d, float noise) {
    *out = NULL;
    if (!agent || !d) return sl_set_error(SL_ERR_ARG, "agent policy: NULL argument");
    if (!(noise >= 0.0f) || !isfinite(noise))
        return sl_set_error(SL_ERR_ARG, "agent policy: noise %g must be finite and >= 0",
                            (double)noise);
    if (d->n == 0) return sl_set_error(SL_ERR_ARG, "agent policy: no data for the action range");
    const sl_rl_config *c = sl_agent_config(agent);
    if (c->obs_dim != d->z_dim || c->act_dim != d->a_dim)
        return sl_set_error(SL_ERR_SHAPE,
                            "agent policy: the policy maps %d-dim observations to %d-dim actions, "
                            "the data has %d-dim latents and %d-dim actions (was it trained on "
                            "these latents?)",
                            c->obs_dim, c->act_dim, d->z_dim, d->a_dim);
    sl_synth_agent_policy *p = calloc(1, sizeof *p);
    if (!p) return sl_set_error(SL_ERR_NOMEM, "agent policy: out of memory");
    const int A = d->a_dim;
    p->agent = agent;
    p->Z = d->z_dim;
    p->A = A;
    p->noise = noise;
    p->a_mean = malloc((size_t)4 * A * sizeof(float));
    p->out = malloc((size_t)AP_CHUNK * A * sizeof(float));
    p->in = malloc((size_t)AP_CHUNK * d->z_dim * sizeof(float));
    if (!p->a_mean || !p->out || !p->in) {
        sl_synth_agent_policy_free(p);
        return sl_set_error(SL_ERR_NOMEM, "agent policy: out of memory");
    }
    p->a_std = p->a_mean + A;
    p->a_min = p->a_std + A;
    p->a_max = p->a_min + A;
    for (int j = 0; j < A; j++)
        stats(d->actions, d->n, A, j, &p->a_mean[j], &p->a_std[j], &p->a_min[j], &p->a_max[j]);
    *out = p;
    return SL_OK;
}

sl_status sl_synth_agent_policy_act(void *ctx, const float *z, int n, float *actions, sl_rng *rng) {
    sl_synth_agent_policy *p = ctx;
    const int A = p->A;
    for (int c0 = 0; c0 < n; c0 += AP_CHUNK) {
        int B = n - c0 < AP_CHUNK ? n - c0 : AP_CHUNK;
        const float *zc = z + (size_t)c0 * p->Z;
        const size_t nz = (size_t)B * p->Z;
        if (!sl_all_finite_f32(zc, nz)) {
            for (size_t k = 0; k < nz; k++) p->in[k] = isfinite(zc[k]) ? zc[k] : 0.0f;
            zc = p->in;
        }
        SL_TRY(sl_agent_act(p->agent, zc, B, p->out));
        for (int i = 0; i < B; i++)
            for (int j = 0; j < A; j++) {
                float a = p->out[(size_t)i * A + j];
                if (p->noise > 0) a += p->noise * p->a_std[j] * (float)sl_rng_normal(rng);
                actions[((size_t)c0 + i) * A + j] =
                    finish_action(a, p->a_mean[j], p->a_min[j], p->a_max[j]);
            }
    }
    return SL_OK;
}
