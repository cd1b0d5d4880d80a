/* SPDX-License-Identifier: Apache-2.0 */
/* dpsgd.c - per-example gradient norms, clipping scales and Gaussian noise for DP-SGD.
 *
 * Per-example norms come from the per-layer identities in sl_nn_dp.h (no per-example gradient
 * is materialised); the clipped sum is then one ordinary backward pass over loss-gradient rows
 * scaled by the clip factors. Invariant: norms are accumulated in double, rows in order, so the
 * result does not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/dp_ref.h"
#include "synthloop/sl_nn_dp.h"

/* The two identities, instantiated for float (the engine) and double (the float64 test). */
#define DP_SQNORM_DEFINE(REAL, SFX)                                                            \
    void sl_nn_linear_per_example_sqnorm##SFX(double *sq, const REAL *dout, const REAL *in,    \
                                              int B, int C, int OC, int with_bias) {           \
        for (int b = 0; b < B; b++) {                                                          \
            double g = 0.0, x = with_bias ? 1.0 : 0.0;                                         \
            const REAL *d = dout + (size_t)b * OC, *xi = in + (size_t)b * C;                   \
            for (int o = 0; o < OC; o++) g += (double)d[o] * (double)d[o];                     \
            for (int c = 0; c < C; c++) x += (double)xi[c] * (double)xi[c];                    \
            sq[b] += g * x;                                                                    \
        }                                                                                      \
    }                                                                                          \
    void sl_nn_layernorm_per_example_sqnorm##SFX(double *sq, const REAL *dout, const REAL *in, \
                                                 const REAL *mean, const REAL *rstd, int B,    \
                                                 int C) {                                      \
        for (int b = 0; b < B; b++) {                                                          \
            double s = 0.0;                                                                    \
            const REAL *d = dout + (size_t)b * C, *x = in + (size_t)b * C;                     \
            for (int c = 0; c < C; c++) {                                                      \
                double xh = ((double)x[c] - (double)mean[b]) * (double)rstd[b];                \
                double gw = (double)d[c] * xh;                                                 \
                s += gw * gw + (double)d[c] * (double)d[c];                                    \
            }                                                                                  \
            sq[b] += s;                                                                        \
        }                                                                                      \
    }

DP_SQNORM_DEFINE(float, )
DP_SQNORM_DEFINE(double, _f64)

/* Same walk as sl_nn_mlp_backward (mlp.c), with the weight-gradient gemms replaced by the
 * per-example norm identities. The input gradient of layer l's linear is dout_l @ W_l. */
void sl_nn_mlp_per_example_sqnorm(double *sq, float *din, sl_nn_mlp_cache *c, const float *dout,
                                  const float *in, const sl_nn_mlp *m, const float *params,
                                  int B) {
    SL_ASSERT(B <= c->max_B);
    int L = m->n_layers;
    const float *g = dout;
    float *bufs[2] = {c->g0, c->g1};
    int which = 0;
    for (int l = L - 1; l >= 0; l--) {
        int C = m->sizes[l], OC = m->sizes[l + 1];
        const float *x = l ? c->act[l - 1] : in;
        const float *w = params + m->w[l];
        sl_nn_linear_per_example_sqnorm(sq, g, x, B, C, OC, 1);
        if (l == 0) {
            if (din) sl_nn_linear_backward(din, NULL, NULL, g, x, w, B, C, OC);
            break;
        }
        /* g lives in bufs[which ^ 1] (or is dout): it is free once dx = g @ W is formed */
        size_t n = (size_t)B * C;
        int h = l - 1;
        float *dx = bufs[which], *da = bufs[which ^ 1];
        memset(dx, 0, n * sizeof(float));
        sl_nn_linear_backward(dx, NULL, NULL, g, x, w, B, C, OC);
        memset(da, 0, n * sizeof(float));
        sl_nn_act_backward(da, dx, m->layernorm ? c->ln[h] : c->lin[h], c->act[h], n, m->act);
        dx = da;
        if (m->layernorm) {
            /* dx is now the gradient wrt the LayerNorm output: its w, b per-example norms */
            sl_nn_layernorm_per_example_sqnorm(sq, dx, c->lin[h], c->mean[h], c->rstd[h], B, C);
            float *dl = bufs[which];
            memset(dl, 0, n * sizeof(float));
            sl_nn_layernorm_backward(dl, NULL, NULL, dx, c->lin[h], c->mean[h], c->rstd[h],
                                     params + m->ln_w[h], B, C);
            dx = dl;
        }
        which = dx == bufs[0] ? 1 : 0; /* the next layer's dx goes to the other buffer */
        g = dx;
    }
}

int sl_dp_clip_scales(float *scale, const double *sq, int B, float clip) {
    int clipped = 0;
    for (int b = 0; b < B; b++) {
        double nrm = sqrt(sq[b]);
        if (nrm > (double)clip) {
            scale[b] = (float)((double)clip / nrm);
            clipped++;
        } else {
            scale[b] = 1.0f;
        }
    }
    return clipped;
}

void sl_dp_scale_rows(float *rows, const float *scale, int B, int D) {
    for (int b = 0; b < B; b++) {
        float s = scale[b];
        float *r = rows + (size_t)b * D;
        for (int d = 0; d < D; d++) r[d] *= s;
    }
}

void sl_nn_dp_noise_grads(float *grads, size_t n, float sigma, float clip, float expected_batch,
                          sl_rng *rng) {
    float inv = 1.0f / expected_batch, sd = sigma * clip;
    if (sigma > 0.0f) {
        /* in chunks so that no allocation is needed */
        float z[256];
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            sl_nn_randn(z, k, rng);
            for (size_t j = 0; j < k; j++) grads[i + j] = (grads[i + j] + sd * z[j]) * inv;
        }
    } else {
        for (size_t i = 0; i < n; i++) grads[i] *= inv;
    }
}

sl_status sl_nn_dp_noise_arena(sl_nn_arena *a, float sigma, float clip, float expected_batch,
                               sl_rng *rng) {
    if (!a->mem) return sl_set_error(SL_ERR_STATE, "dpsgd.c sl_nn_dp_noise_arena: not allocated");
    if (!(expected_batch > 0.0f) || !(clip > 0.0f) || !(sigma >= 0.0f))
        return sl_set_error(SL_ERR_ARG, "dpsgd.c sl_nn_dp_noise_arena: need clip > 0, sigma >= "
                            "0, expected batch > 0 (got %g, %g, %g)", (double)clip,
                            (double)sigma, (double)expected_batch);
    for (size_t t = 0; t < a->n_tensors; t++)
        sl_nn_dp_noise_grads(a->grads + a->tensors[t].offset, a->tensors[t].numel, sigma, clip,
                             expected_batch, rng);
    return SL_OK;
}
