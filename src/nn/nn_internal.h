/* SPDX-License-Identifier: Apache-2.0 */
/* nn_internal.h - helpers shared between the nn source files (not public API).
 *
 * sl_nn_expf/sigmoidf/tanhf are branch-free float approximations (Cephes polynomials, within
 * 2 ulp of libm over the clamped range) written so that `#pragma omp simd` loops vectorise;
 * the reference kernels use libm in double, and the tests compare the two.
 */
#ifndef SL_NN_INTERNAL_H
#define SL_NN_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "synthloop/sl_nn.h"

/* "<prefix>.<suffix>" into buf[SL_NN_NAME_MAX]; SL_ERR_ARG if too long. */
sl_status sl_nn_name(char *buf, const char *prefix, const char *suffix);
/* db[OC] += column sums of dout[B,OC], rows in order. */
void sl_nn_bias_grad(float *db, const float *dout, int B, int OC);

/* Row-major C[M,N] = alpha * op(A) op(B) + beta * C, op(A) = A[M,K] (ta = 0) or A stored as
 * [K,M] (ta = 1), op(B) = B[K,N] (tb = 0) or B stored as [N,K] (tb = 1); same contract as
 * cblas_sgemm(CblasRowMajor, ...). Small products (and every product at 1 thread) run on the
 * AVX-512 micro-kernel of gemm.c (single-threaded, deterministic); the rest on OpenBLAS. */
void sl_nn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
/* sl_nn_sgemm with a fused output stage: bias[N] (may be NULL) is added to every row when
 * beta == 0 (C = op(A) op(B) + bias, C not read), and relu[M, ldc] (may be NULL; must not
 * alias C) receives max(C, 0) of the final C. */
void sl_nn_sgemm_ex(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                    float *relu);
/* sl_nn_sgemm_ex that never starts an OpenMP team, at any thread count (same bits as
 * sl_nn_sgemm_ex on the micro-kernel): for code that runs inside a caller's parallel region or
 * splits the work itself. */
void sl_nn_sgemm_ex_st(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc,
                       const float *bias, float *relu);
/* 1 if this build has the micro-kernel (AVX-512), else sl_nn_sgemm is cblas_sgemm. A property
 * of the build, so that thread control (threads.c) can read it without calling gemm.c. */
#if defined(__AVX512F__)
#define SL_NN_GEMM_FAST 1
#else
#define SL_NN_GEMM_FAST 0
#endif
static inline int sl_nn_gemm_fast_available(void) { return SL_NN_GEMM_FAST; }

/* Element counts above which elementwise loops go parallel. */
#define SL_NN_PAR_MIN 32768


/* c ? a : b on the bits, with both sides always evaluated: no control flow, so gcc if-converts
 * and vectorises loops over these helpers (a ternary over computed floats may be turned into a
 * branch, which blocks `omp simd`). */
static inline float sl_nn_selectf(int c, float a, float b) {
    uint32_t ua, ub, m = (uint32_t)0 - (uint32_t)(c != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* exp(x) for every float: finite x as the Cephes polynomial over the clamped range (so finite
 * inputs saturate at 2.406e38 above 88.376 and at 1.175e-38 below -87.337, never at inf or 0);
 * NaN -> the same NaN, +inf -> +inf, -inf -> 0. The clamps are written so that NaN fails both
 * comparisons and lands on the upper clamp: the float -> int conversion below only ever sees
 * t in [-125.5, 128] (a NaN there would be undefined behaviour), and non-finite inputs are
 * patched in by the last two selects. Finite inputs give the same bits as before that
 * patching existed (tests/test_nn.c: expf_bits_and_nonfinite). */
/* 2^fx * exp(x - fx ln 2) for an integer-valued fx in [-126, 127]: the Cephes two-constant
 * reduction, polynomial and exponent scaling shared by sl_nn_expf and the world module's
 * inference exp (which clamp and floor differently, so each keeps its own bits). */
static inline float sl_nn_expf_reduced(float x, float fx) {
    x = x - fx * 0.693359375f;
    x = x + fx * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * x * x + x + 1.0f;
    int32_t e = ((int32_t)fx + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return y * s;
}

static inline float sl_nn_expf(float x) {
    float x0 = x;
    x = sl_nn_selectf(x < 88.3762626647949f, x, 88.3762626647949f);
    x = sl_nn_selectf(x > -87.3365447504f, x, -87.3365447504f);
    float t = x * 1.44269504088896341f + 0.5f;
    float fx = (float)(int32_t)t; /* floor(t) without libm, so that loops vectorise */
    fx = fx - (fx > t ? 1.0f : 0.0f);
    float special = sl_nn_selectf(x0 < 0.0f, 0.0f, x0); /* -inf -> 0; NaN, +inf stay */
    return sl_nn_selectf(isfinite(x0), sl_nn_expf_reduced(x, fx), special);
}


static inline float sl_nn_sigmoidf(float x) { return 1.0f / (1.0f + sl_nn_expf(-x)); }


static inline float sl_nn_tanhf(float x) {
    float ax = sl_nn_selectf(x < 0.0f, -x, x);
    /* small |x|: odd polynomial (Cephes tanhf); else 1 - 2 / (exp(2|x|) + 1) */
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (sl_nn_expf(2.0f * ax) + 1.0f);
    big = sl_nn_selectf(x < 0.0f, -big, big);
    return sl_nn_selectf(ax < 0.625f, small, big);
}

/* Natural log for normal positive finite x (Cephes logf: mantissa in [sqrt(1/2), sqrt(2)),
 * degree-8 polynomial; within 2 ulp of libm there), branch-free so loops vectorise. */
static inline float sl_nn_logf(float x) {
    uint32_t ix;
    memcpy(&ix, &x, sizeof ix);
    int32_t e = (int32_t)(ix >> 23) - 126; /* x = m * 2^e, m in [0.5, 1) */
    uint32_t im = (ix & 0x007fffffu) | 0x3f000000u;
    float m;
    memcpy(&m, &im, sizeof m);
    int lo = m < 0.707106781186547524f;
    e -= lo;
    m = sl_nn_selectf(lo, m + m, m) - 1.0f;
    float fe = (float)e;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return m + y + 0.693359375f * fe;
}

/* log(1 + t) for t >= 0 (finite): log of s = 1 + t corrected by the rounding of s
 * (log1p(t) ~ log(s) - ((s - 1) - t) / s), accurate for tiny t too. */
static inline float sl_nn_log1pf_pos(float t) {
    float s = 1.0f + t;
    return sl_nn_logf(s) - ((s - 1.0f) - t) / s;
}

/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), branch-free. */
static inline float sl_nn_softplusf(float x) {
    float ax = sl_nn_selectf(x < 0.0f, -x, x);
    return sl_nn_selectf(x > 0.0f, x, 0.0f) + sl_nn_log1pf_pos(sl_nn_expf(-ax));
}

#endif
