/* SPDX-License-Identifier: Apache-2.0 */
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
    sl_nn_sgemm_ex(0, 1, B, OC, C, 1.0f, in, C, w, C, 0.0f, out, OC, b, NULL);
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
        sl_nn_sgemm(0, 0, B, C, OC, 1.0f, dout, OC, w, C, 1.0f, din, C);
    if (dw)
        sl_nn_sgemm(1, 0, OC, C, B, 1.0f, dout, OC, in, C, 1.0f, dw, C);
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

void sl_nn_act_forward(float *out, const float *in, size_t n, sl_nn_act act) {
    switch (act) {
    case SL_NN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case SL_NN_ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = sl_nn_tanhf(in[i]);
        break;
    case SL_NN_ACT_SILU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = in[i] * sl_nn_sigmoidf(in[i]);
        break;
    case SL_NN_ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = sl_nn_sigmoidf(in[i]);
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
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float s = sl_nn_sigmoidf(in[i]);
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
/* Vectorised with the branch-free sl_nn_expf/tanhf/softplusf (float, within a few ulp of libm;
 * test_nn compares against the reference kernels, test_nn_torch/test_rl_torch against PyTorch).
 * The per-element log-density terms go through a small stack buffer so that each row's sum
 * keeps the reference order (a = 0..A-1). */

#define TG_CHUNK 1024 /* elements per pass of the forward */

/* y = tanh(u) and the log-density term of one element, u = mu + exp(clamp(ls)) * e. */
static inline float tg_elem(float *y, float mu, float l, float e) {
    const float half_log_2pi = 0.918938533204672742f, log2f_ = 0.693147180559945309f;
    float ls = sl_nn_selectf(l < SL_NN_LOG_STD_MIN, SL_NN_LOG_STD_MIN, l);
    ls = sl_nn_selectf(ls > SL_NN_LOG_STD_MAX, SL_NN_LOG_STD_MAX, ls);
    float u = mu + sl_nn_expf(ls) * e;
    *y = sl_nn_tanhf(u);
    return -0.5f * e * e - ls - half_log_2pi - 2.0f * (log2f_ - u - sl_nn_softplusf(-2.0f * u));
}

void sl_nn_tanh_gaussian_forward(float *act, float *logp, const float *in, const float *eps,
                                 int B, int A) {
    if (A > TG_CHUNK) { /* huge A (never in practice): row by row */
        for (int b = 0; b < B; b++) {
            float lp = 0.0f;
            for (int a = 0; a < A; a++)
                lp += tg_elem(act + (size_t)b * A + a, in[(size_t)b * 2 * A + a],
                              in[(size_t)b * 2 * A + A + a], eps[(size_t)b * A + a]);
            logp[b] = lp;
        }
        return;
    }
    /* mu and log_std of a chunk of rows gathered contiguous, then one flat vector loop */
    float mu[TG_CHUNK], ls[TG_CHUNK], term[TG_CHUNK];
    int rows = TG_CHUNK / A;
    for (int b0 = 0; b0 < B; b0 += rows) {
        int nb = B - b0 < rows ? B - b0 : rows, n = nb * A;
        for (int b = 0; b < nb; b++) {
            memcpy(mu + (size_t)b * A, in + (size_t)(b0 + b) * 2 * A, (size_t)A * sizeof(float));
            memcpy(ls + (size_t)b * A, in + (size_t)(b0 + b) * 2 * A + A, (size_t)A * sizeof(float));
        }
        const float *e = eps + (size_t)b0 * A;
        float *y = act + (size_t)b0 * A;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float yi;
            term[i] = tg_elem(&yi, mu[i], ls[i], e[i]);
            y[i] = yi;
        }
        for (int b = 0; b < nb; b++) {
            float lp = 0.0f;
            for (int a = 0; a < A; a++) lp += term[(size_t)b * A + a];
            logp[b0 + b] = lp;
        }
    }
}

void sl_nn_tanh_gaussian_backward(float *din, const float *dact, const float *dlogp,
                                  const float *act, const float *in, const float *eps, int B,
                                  int A) {
    for (int b = 0; b < B; b++) {
        const float *lsr = in + (size_t)b * 2 * A + A, *e = eps + (size_t)b * A;
        const float *y = act + (size_t)b * A;
        const float *dab = dact ? dact + (size_t)b * A : NULL;
        float *dmu = din + (size_t)b * 2 * A, *dls = dmu + A;
        float dl = dlogp ? dlogp[b] : 0.0f;
#pragma omp simd
        for (int a = 0; a < A; a++) {
            float da = dab ? dab[a] : 0.0f;
            float du = da * (1.0f - y[a] * y[a]) + 2.0f * dl * y[a];
            dmu[a] += du;
            float l = lsr[a];
            int inside = (l >= SL_NN_LOG_STD_MIN) & (l <= SL_NN_LOG_STD_MAX);
            float lc = sl_nn_selectf(inside, l, 0.0f);
            dls[a] += sl_nn_selectf(inside, du * sl_nn_expf(lc) * e[a] - dl, 0.0f);
        }
    }
}

/* --- standard normals --- */

/* sin and cos of pi * x for x in [-1, 1]: fold to [0, pi/2], Taylor polynomials (absolute
 * error < 2e-7 in float), branch-free. */
static inline void sincospi_f(float x, float *s, float *c) {
    /* fold to [-0.5, 0.5]: sin(pi x) = sin(pi (1 - x)) for x > 0.5, cos flips sign */
    float ax = sl_nn_selectf(x < 0.0f, -x, x);
    int far = ax > 0.5f;
    float r = sl_nn_selectf(far, 1.0f - ax, ax); /* in [0, 0.5] */
    float t = r * 3.14159265358979f, t2 = t * t;
    float sp = -2.5052108e-8f; /* Taylor to t^11 / t^12: error < 6e-8 on [0, pi/2] */
    sp = sp * t2 + 2.7557319e-6f;
    sp = sp * t2 - 1.9841270e-4f;
    sp = sp * t2 + 8.3333333e-3f;
    sp = sp * t2 - 1.6666667e-1f;
    float sv = t + t * t2 * sp;
    float cp = 2.0876757e-9f;
    cp = cp * t2 - 2.7557319e-7f;
    cp = cp * t2 + 2.4801587e-5f;
    cp = cp * t2 - 1.3888889e-3f;
    cp = cp * t2 + 4.1666667e-2f;
    cp = cp * t2 - 0.5f;
    float cv = 1.0f + t2 * cp;
    *s = sl_nn_selectf(x < 0.0f, -sv, sv);
    *c = sl_nn_selectf(far, -cv, cv);
}

#define RANDN_CHUNK 256 /* pairs per pass */

/* sqrt(v) for v >= 0 as v * rsqrt(v): bit-trick estimate + 3 Newton steps (relative error
 * ~1e-7). libm's sqrtf would do, but its errno check is a branch that blocks vectorisation
 * (-fno-math-errno is not in the build flags). v = 0 gives 0. */
static inline float sqrtf_pos(float v) {
    uint32_t iv;
    memcpy(&iv, &v, sizeof iv);
    uint32_t iy = 0x5f375a86u - (iv >> 1);
    float y;
    memcpy(&y, &iy, sizeof y);
    float h = 0.5f * v;
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    return v * y;
}

void sl_nn_randn(float *out, size_t n, sl_rng *rng) {
    uint32_t bits[2 * RANDN_CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += 2 * RANDN_CHUNK) {
        size_t m = n - i0 < 2 * RANDN_CHUNK ? n - i0 : 2 * RANDN_CHUNK;
        size_t pairs = (m + 1) / 2;
        for (size_t p = 0; p < pairs; p++) {
            uint64_t u = sl_rng_u64(rng);
            bits[2 * p] = (uint32_t)(u >> 40);              /* 24 bits: u1 */
            bits[2 * p + 1] = (uint32_t)(u >> 16) & 0xffffffu; /* 24 bits: u2 */
        }
        float *o = out + i0;
        float tmp[2 * RANDN_CHUNK];
        float *dst = m == 2 * pairs ? o : tmp; /* odd tail: write the pair to scratch */
#pragma omp simd
        for (size_t p = 0; p < pairs; p++) {
            /* u1 in (0, 1] so that log(u1) is finite; x in [-1, 1) */
            float u1 = ((float)bits[2 * p] + 1.0f) * 0x1.0p-24f;
            float x = (float)bits[2 * p + 1] * 0x1.0p-23f - 1.0f;
            float rad = sqrtf_pos(-2.0f * sl_nn_logf(u1));
            float sv, cv;
            sincospi_f(x, &sv, &cv);
            dst[2 * p] = rad * cv;
            dst[2 * p + 1] = rad * sv;
        }
        if (dst == tmp) memcpy(o, tmp, m * sizeof(float));
    }
}
