/* layers.c - fast float32 kernels for Linear (cblas_sgemm), activations, LayerNorm and the
 * tanh-Gaussian policy head, plus the Linear declare/init helpers.
 *
 * Invariant: same formulas as nn_ref_impl.h (the tests compare them); backward adds into
 * gradients; parallel loops split rows statically, so results do not depend on scheduling.
 * `omp simd` loops are elementwise without reductions (and -std=c11 keeps -ffp-contract=off),
 * so their vector and scalar iterations round identically.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "nn/nn_internal.h"

/* --- names --- */

sl_status sl_nn_name(char *buf, const char *prefix, const char *suffix) {
    int n = snprintf(buf, SL_NN_NAME_MAX, "%s.%s", prefix, suffix);
    if (n < 0 || n >= SL_NN_NAME_MAX)
        return sl_set_error(SL_ERR_ARG, "nn: tensor name '%s.%s' longer than %d", prefix, suffix,
                            SL_NN_NAME_MAX - 1);
    return SL_OK;
}

/* --- linear --- */

void sl_nn_linear_forward(float *out, const float *in, const float *w, const float *b, int B,
                          int C, int OC) {
    if (b)
        for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OC, b, (size_t)OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f, in, C, w, C,
                b ? 1.0f : 0.0f, out, OC);
}

void sl_nn_bias_grad(float *db, const float *dout, int B, int OC) {
    for (int i = 0; i < B; i++) {
        const float *row = dout + (size_t)i * OC;
#pragma omp simd
        for (int o = 0; o < OC; o++) db[o] += row[o];
    }
}

void sl_nn_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int B, int C, int OC) {
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, din, C);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f, dout, OC, in, C,
                    1.0f, dw, C);
    if (db) sl_nn_bias_grad(db, dout, B, OC);
}

sl_status sl_nn_linear_declare(sl_nn_linear *l, sl_nn_arena *a, const char *prefix, int C,
                               int OC) {
    char name[SL_NN_NAME_MAX];
    if (C <= 0 || OC <= 0)
        return sl_set_error(SL_ERR_ARG, "sl_nn_linear_declare(%s): sizes %d -> %d", prefix, C, OC);
    size_t ws[2] = {(size_t)OC, (size_t)C}, bs[1] = {(size_t)OC};
    l->C = C;
    l->OC = OC;
    SL_TRY(sl_nn_name(name, prefix, "weight"));
    SL_TRY(sl_nn_arena_add(a, name, 2, ws, &l->w));
    SL_TRY(sl_nn_name(name, prefix, "bias"));
    SL_TRY(sl_nn_arena_add(a, name, 1, bs, &l->b));
    return SL_OK;
}

void sl_nn_linear_init(const sl_nn_linear *l, float *params, sl_rng *rng) {
    sl_nn_init_linear(params + l->w, params + l->b, l->C, l->OC, rng);
}

/* --- activations --- */

static const char *const act_names[SL_NN_ACT_COUNT] = {"none", "relu", "tanh", "silu",
                                                       "sigmoid"};
_Static_assert(sizeof act_names / sizeof act_names[0] == SL_NN_ACT_COUNT, "act name table");

const char *sl_nn_act_name(sl_nn_act act) {
    return (unsigned)act < SL_NN_ACT_COUNT ? act_names[act] : NULL;
}

sl_status sl_nn_act_parse(const char *name, sl_nn_act *out) {
    for (int i = 0; name && i < SL_NN_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (sl_nn_act)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown activation '%s' (none|relu|tanh|silu|sigmoid)",
                        name ? name : "(null)");
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void sl_nn_act_forward(float *out, const float *in, size_t n, sl_nn_act act) {
    switch (act) {
    case SL_NN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case SL_NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
        break;
    case SL_NN_ACT_SILU:
        for (size_t i = 0; i < n; i++) out[i] = in[i] * sigmoidf(in[i]);
        break;
    case SL_NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) out[i] = sigmoidf(in[i]);
        break;
    default:
        if (out != in) memmove(out, in, n * sizeof(float));
        break;
    }
}

void sl_nn_act_backward(float *din, const float *dout, const float *in, const float *out,
                        size_t n, sl_nn_act act) {
    switch (act) {
    case SL_NN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case SL_NN_ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * (1.0f - out[i] * out[i]);
        break;
    case SL_NN_ACT_SILU:
        for (size_t i = 0; i < n; i++) {
            float s = sigmoidf(in[i]);
            din[i] += dout[i] * s * (1.0f + in[i] * (1.0f - s));
        }
        break;
    case SL_NN_ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
        break;
    default:
#pragma omp simd
        for (size_t i = 0; i < n; i++) din[i] += dout[i];
        break;
    }
}

/* --- layer norm --- */

void sl_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                             const float *w, const float *b, int B, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)B * C > 65536)
    for (int i = 0; i < B; i++) {
        const float *x = in + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float m = 0.0f, v = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (float)C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (float)C;
        float rs = 1.0f / sqrtf(v + eps);
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * rs * w[c] + b[c];
        mean[i] = m;
        rstd[i] = rs;
    }
}

void sl_nn_layernorm_backward(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *mean, const float *rstd,
                              const float *w, int B, int C) {
    /* weight/bias grads sum over rows: keep them in row order (deterministic) */
    if (dw || db)
        for (int i = 0; i < B; i++) {
            const float *x = in + (size_t)i * C, *dy = dout + (size_t)i * C;
            float m = mean[i], rs = rstd[i];
            for (int c = 0; c < C; c++) {
                if (db) db[c] += dy[c];
                if (dw) dw[c] += dy[c] * (x[c] - m) * rs;
            }
        }
    if (!din) return;
#pragma omp parallel for schedule(static) if ((size_t)B * C > 65536)
    for (int i = 0; i < B; i++) {
        const float *x = in + (size_t)i * C, *dy = dout + (size_t)i * C;
        float m = mean[i], rs = rstd[i], m1 = 0.0f, m2 = 0.0f;
        for (int c = 0; c < C; c++) {
            float dn = dy[c] * w[c];
            m1 += dn;
            m2 += dn * (x[c] - m) * rs;
        }
        m1 /= (float)C;
        m2 /= (float)C;
        float *dx = din + (size_t)i * C;
        for (int c = 0; c < C; c++) dx[c] += rs * (dy[c] * w[c] - m1 - (x[c] - m) * rs * m2);
    }
}

/* --- tanh-Gaussian head --- */

static inline float softplusf(float x) {
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static inline float clamp_log_std(float ls) {
    return ls < SL_NN_LOG_STD_MIN ? SL_NN_LOG_STD_MIN : ls > SL_NN_LOG_STD_MAX ? SL_NN_LOG_STD_MAX : ls;
}

void sl_nn_tanh_gaussian_forward(float *act, float *logp, const float *in, const float *eps,
                                 int B, int A) {
    const float half_log_2pi = 0.918938533204672742f, log2f_ = 0.693147180559945309f;
    for (int b = 0; b < B; b++) {
        const float *mu = in + (size_t)b * 2 * A, *lsr = mu + A, *e = eps + (size_t)b * A;
        float *y = act + (size_t)b * A, lp = 0.0f;
        for (int a = 0; a < A; a++) {
            float ls = clamp_log_std(lsr[a]);
            float u = mu[a] + expf(ls) * e[a];
            y[a] = tanhf(u);
            lp += -0.5f * e[a] * e[a] - ls - half_log_2pi - 2.0f * (log2f_ - u - softplusf(-2.0f * u));
        }
        logp[b] = lp;
    }
}

void sl_nn_tanh_gaussian_backward(float *din, const float *dact, const float *dlogp,
                                  const float *act, const float *in, const float *eps, int B,
                                  int A) {
    for (int b = 0; b < B; b++) {
        const float *lsr = in + (size_t)b * 2 * A + A, *e = eps + (size_t)b * A;
        const float *y = act + (size_t)b * A;
        float *dmu = din + (size_t)b * 2 * A, *dls = dmu + A;
        float dl = dlogp ? dlogp[b] : 0.0f;
        for (int a = 0; a < A; a++) {
            float da = dact ? dact[(size_t)b * A + a] : 0.0f;
            float du = da * (1.0f - y[a] * y[a]) + 2.0f * dl * y[a];
            dmu[a] += du;
            if (lsr[a] >= SL_NN_LOG_STD_MIN && lsr[a] <= SL_NN_LOG_STD_MAX)
                dls[a] += du * expf(lsr[a]) * e[a] - dl;
        }
    }
}
