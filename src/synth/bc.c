/* bc.c - the behaviour-cloned branch policy: a small MLP latent -> action fitted by MSE on the
 * real (z_t, a_t) pairs, acting with Gaussian exploration noise and clipped to the action
 * range seen in the data.
 *
 * Invariant: sl_synth_bc_act only ever returns finite actions inside [a_min, a_max]; the model
 * works in standardised units (statistics of the data it was trained on).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_nn.h"
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
                float a = bc->a_mean[j] + bc->a_std[j] * u;
                if (!isfinite(a)) a = bc->a_mean[j];
                a = a < bc->a_min[j] ? bc->a_min[j] : (a > bc->a_max[j] ? bc->a_max[j] : a);
                actions[((size_t)c0 + i) * A + j] = a;
            }
    }
    return SL_OK;
}

double sl_synth_bc_mse(const sl_synth_bc *bc_c, const sl_world_data *d) {
    sl_synth_bc *bc = (sl_synth_bc *)bc_c; /* scratch only */
    const int A = bc->A;
    double se = 0;
    for (size_t c0 = 0; c0 < d->n; c0 += BC_CHUNK) {
        int B = d->n - c0 < BC_CHUNK ? (int)(d->n - c0) : BC_CHUNK;
        predict(bc, d->z + c0 * bc->Z, B);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < A; j++) {
                double y = ((double)d->actions[(c0 + i) * A + j] - (double)bc->a_mean[j]) /
                           (double)bc->a_std[j];
                double e = (double)bc->out[(size_t)i * A + j] - y;
                se += e * e;
            }
    }
    return se / ((double)d->n * A);
}
