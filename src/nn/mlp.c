/* SPDX-License-Identifier: Apache-2.0 */
/* mlp.c - multi-layer perceptron built from the Linear/LayerNorm/activation kernels.
 *
 * Hidden layer l: lin[l] = Linear(x); [ln[l] = LayerNorm(lin[l])]; act[l] = act(ln or lin).
 * The output layer is Linear only. Invariant: the cache of a forward pass holds every tensor
 * its backward needs; the backward's scratch (g0,g1) is overwritten, never the saved tensors.
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "nn/nn_internal.h"

#define LN_EPS 1e-5f

sl_status sl_nn_mlp_declare(sl_nn_mlp *m, sl_nn_arena *a, const char *prefix, int n_layers,
                            const int *sizes, sl_nn_act act, int layernorm) {
    char name[SL_NN_NAME_MAX], sfx[32];
    if (n_layers < 1 || n_layers > SL_NN_MLP_MAX_LAYERS)
        return sl_set_error(SL_ERR_ARG, "sl_nn_mlp_declare(%s): %d layers (1..%d)", prefix,
                            n_layers, SL_NN_MLP_MAX_LAYERS);
    if ((unsigned)act >= SL_NN_ACT_COUNT)
        return sl_set_error(SL_ERR_ARG, "sl_nn_mlp_declare(%s): bad activation %d", prefix,
                            (int)act);
    memset(m, 0, sizeof *m);
    m->n_layers = n_layers;
    m->act = act;
    m->layernorm = layernorm ? 1 : 0;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] <= 0)
            return sl_set_error(SL_ERR_ARG, "sl_nn_mlp_declare(%s): sizes[%d] = %d", prefix, l,
                                sizes[l]);
        m->sizes[l] = sizes[l];
    }
    for (int l = 0; l < n_layers; l++) {
        size_t ws[2] = {(size_t)sizes[l + 1], (size_t)sizes[l]}, bs[1] = {(size_t)sizes[l + 1]};
        snprintf(sfx, sizeof sfx, "l%d.weight", l);
        SL_TRY(sl_nn_name(name, prefix, sfx));
        SL_TRY(sl_nn_arena_add(a, name, 2, ws, &m->w[l]));
        snprintf(sfx, sizeof sfx, "l%d.bias", l);
        SL_TRY(sl_nn_name(name, prefix, sfx));
        SL_TRY(sl_nn_arena_add(a, name, 1, bs, &m->b[l]));
        if (m->layernorm && l < n_layers - 1) {
            snprintf(sfx, sizeof sfx, "ln%d.weight", l);
            SL_TRY(sl_nn_name(name, prefix, sfx));
            SL_TRY(sl_nn_arena_add(a, name, 1, bs, &m->ln_w[l]));
            snprintf(sfx, sizeof sfx, "ln%d.bias", l);
            SL_TRY(sl_nn_name(name, prefix, sfx));
            SL_TRY(sl_nn_arena_add(a, name, 1, bs, &m->ln_b[l]));
        }
    }
    return SL_OK;
}

void sl_nn_mlp_init(const sl_nn_mlp *m, float *params, sl_rng *rng) {
    for (int l = 0; l < m->n_layers; l++) {
        sl_nn_init_linear(params + m->w[l], params + m->b[l], m->sizes[l], m->sizes[l + 1], rng);
        if (m->layernorm && l < m->n_layers - 1)
            for (int j = 0; j < m->sizes[l + 1]; j++) {
                params[m->ln_w[l] + (size_t)j] = 1.0f;
                params[m->ln_b[l] + (size_t)j] = 0.0f;
            }
    }
}

sl_status sl_nn_mlp_cache_alloc(sl_nn_mlp_cache *c, const sl_nn_mlp *m, int max_B) {
    memset(c, 0, sizeof *c);
    if (max_B <= 0) return sl_set_error(SL_ERR_ARG, "sl_nn_mlp_cache_alloc: max_B %d", max_B);
    size_t B = (size_t)max_B, total = 0, maxw = 0;
    for (int l = 0; l <= m->n_layers; l++)
        if ((size_t)m->sizes[l] > maxw) maxw = (size_t)m->sizes[l];
    for (int l = 0; l < m->n_layers - 1; l++) {
        size_t w = (size_t)m->sizes[l + 1];
        total += 2 * B * w + (m->layernorm ? B * w + 2 * B : 0);
    }
    total += 2 * B * maxw;
    float *mem = malloc(total * sizeof(float));
    if (!mem)
        return sl_set_error(SL_ERR_NOMEM, "sl_nn_mlp_cache_alloc: %zu floats", total);
    memset(mem, 0, total * sizeof(float));
    c->mem = mem;
    c->max_B = max_B;
    float *p = mem;
    for (int l = 0; l < m->n_layers - 1; l++) {
        size_t w = (size_t)m->sizes[l + 1];
        c->lin[l] = p, p += B * w;
        c->act[l] = p, p += B * w;
        if (m->layernorm) {
            c->ln[l] = p, p += B * w;
            c->mean[l] = p, p += B;
            c->rstd[l] = p, p += B;
        }
    }
    c->g0 = p, p += B * maxw;
    c->g1 = p;
    return SL_OK;
}

void sl_nn_mlp_cache_free(sl_nn_mlp_cache *c) {
    if (!c) return;
    free(c->mem);
    memset(c, 0, sizeof *c);
}

void sl_nn_mlp_forward(float *out, sl_nn_mlp_cache *c, const float *in, const sl_nn_mlp *m,
                       const float *params, int B) {
    SL_ASSERT(B <= c->max_B);
    const float *x = in;
    int L = m->n_layers;
    for (int l = 0; l < L - 1; l++) {
        int C = m->sizes[l], OC = m->sizes[l + 1];
        size_t n = (size_t)B * OC;
        if (m->act == SL_NN_ACT_RELU && !m->layernorm) { /* bias and ReLU fused in the sgemm */
            sl_nn_sgemm_ex(0, 1, B, OC, C, 1.0f, x, C, params + m->w[l], C, 0.0f, c->lin[l], OC,
                           params + m->b[l], c->act[l]);
            x = c->act[l];
            continue;
        }
        sl_nn_linear_forward(c->lin[l], x, params + m->w[l], params + m->b[l], B, C, OC);
        const float *pre = c->lin[l];
        if (m->layernorm) {
            sl_nn_layernorm_forward(c->ln[l], c->mean[l], c->rstd[l], c->lin[l],
                                    params + m->ln_w[l], params + m->ln_b[l], B, OC, LN_EPS);
            pre = c->ln[l];
        }
        sl_nn_act_forward(c->act[l], pre, n, m->act);
        x = c->act[l];
    }
    sl_nn_linear_forward(out, x, params + m->w[L - 1], params + m->b[L - 1], B, m->sizes[L - 1],
                         m->sizes[L]);
}

/* g[n] *= act'(pre) in place, using the saved pre/post activation. */
static void act_grad_inplace(float *g, const float *pre, const float *post, size_t n,
                             sl_nn_act act) {
    switch (act) {
    case SL_NN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) g[i] = post[i] > 0.0f ? g[i] : 0.0f;
        break;
    case SL_NN_ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < n; i++) g[i] *= 1.0f - post[i] * post[i];
        break;
    case SL_NN_ACT_SILU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float s = sl_nn_sigmoidf(pre[i]);
            g[i] *= s * (1.0f + pre[i] * (1.0f - s));
        }
        break;
    case SL_NN_ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < n; i++) g[i] *= post[i] * (1.0f - post[i]);
        break;
    default:
        break;
    }
}

void sl_nn_mlp_backward(float *din, float *grads, sl_nn_mlp_cache *c, const float *dout,
                        const float *in, const sl_nn_mlp *m, const float *params, int B) {
    SL_ASSERT(B <= c->max_B);
    int L = m->n_layers;
    const float *g = dout; /* gradient wrt the current layer's output */
    float *bufs[2] = {c->g0, c->g1};
    int which = 0;
    for (int l = L - 1; l >= 0; l--) {
        int C = m->sizes[l], OC = m->sizes[l + 1];
        const float *x = l ? c->act[l - 1] : in;
        const float *w = params + m->w[l];
        if (grads) {
            sl_nn_sgemm(1, 0, OC, C, B, 1.0f, g, OC, x, C, 1.0f, grads + m->w[l], C);
            sl_nn_bias_grad(grads + m->b[l], g, B, OC);
        }
        if (l == 0) {
            if (din)
                sl_nn_sgemm(0, 0, B, C, OC, 1.0f, g, OC, w, C, 1.0f, din, C);
            break;
        }
        /* dx = g @ W into a scratch buffer (overwrite), then back through act and LayerNorm */
        float *dx = bufs[which];
        which ^= 1;
        sl_nn_sgemm(0, 0, B, C, OC, 1.0f, g, OC, w, C, 0.0f, dx, C);
        size_t n = (size_t)B * C;
        int h = l - 1; /* hidden layer whose activation is x */
        act_grad_inplace(dx, m->layernorm ? c->ln[h] : c->lin[h], c->act[h], n, m->act);
        if (m->layernorm) {
            float *dl = bufs[which];
            which ^= 1;
            memset(dl, 0, n * sizeof(float));
            sl_nn_layernorm_backward(dl, grads ? grads + m->ln_w[h] : NULL,
                                     grads ? grads + m->ln_b[h] : NULL, dx, c->lin[h],
                                     c->mean[h], c->rstd[h], params + m->ln_w[h], B, C);
            dx = dl;
        }
        g = dx;
    }
}
