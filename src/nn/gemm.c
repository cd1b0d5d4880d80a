/* SPDX-License-Identifier: Apache-2.0 */
/* gemm.c - small-matrix sgemm for the nn kernels: an AVX-512 register-blocked micro-kernel for
 * the shapes of small MLPs and GRUs (M, N, K of a few hundred at most), cblas_sgemm otherwise.
 *
 * Why: the distribution's OpenBLAS (0.3.21, DYNAMIC_ARCH) runs its AVX2 "Haswell" kernels on
 * this AVX-512 machine, and at hidden 64 its per-call packing overhead is a large share of a
 * 256x64x64 product. Here B is packed once per 32-column panel into a k-major buffer on the
 * stack (zero-padded), A is read in place (broadcast per element: row-major A streams MR rows,
 * transposed A is already k-major), and an MR x 32 block of C lives in 16 zmm accumulators.
 *
 * Invariant: single-threaded, fixed loop order (k ascending within a KC block, KC blocks in
 * order), no dependence on alignment or thread count, so the same inputs give the same bits.
 * Each C element is sum_k A[i,k] B[k,j] accumulated with FMA in k order, then
 * C = alpha * acc + beta * C. Without AVX-512 (e.g. the VALGRIND=1 build, which has no
 * -march=native) every call goes to cblas_sgemm.
 */
#include <string.h>

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include "nn/nn_internal.h"

/* Products up to this many multiply-adds use the micro-kernel at any thread count; larger ones
 * use it only at 1 thread (OpenBLAS can then split the work over the threads). */
#define SMALL_MACS (1L << 22)

#if defined(__AVX512F__)

#define MR 8   /* rows of C per micro-kernel call */
#define NR 32  /* columns of a packed B panel (two zmm) */
#define KC 256 /* k per packed block: KC * NR floats = 32 KB on the stack */

/* Output stage of one block: r = acc (+ C if beta1, else + bias if given), scaled by alpha
 * first; stored to C, and max(r, 0) to relu (same ldc) when given. */
typedef struct epi {
    float alpha;
    int beta1;         /* add the current C (beta 1, or a later K block) */
    const float *bias; /* [nr] at column n0, added when !beta1; NULL: none */
    float *relu;       /* block origin in the ReLU output, or NULL */
} epi;

/* acc[i][v] = sum_k A[i,k] * b[k*ldbp + 16v ...] (masked columns); then the epilogue.
 * mr, nv, ta are compile-time constants at every call site (always_inline + switch), so the
 * loops unroll and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void ukr(const int mr, const int nv, const int ta,
                                                      int kc, const float *a, int lda,
                                                      const float *bp, int ldbp, float *c,
                                                      int ldc, __mmask16 mask0,
                                                      __mmask16 mask1, const epi *ep) {
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(mask0, bp + (size_t)k * ldbp);
        __m512 b1 = nv > 1 ? _mm512_maskz_loadu_ps(mask1, bp + (size_t)k * ldbp + 16) : b0;
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (nv > 1) acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    const __m512 al = _mm512_set1_ps(ep->alpha), zero = _mm512_setzero_ps();
    __m512 bias[2] = {zero, zero};
    if (!ep->beta1 && ep->bias) {
        bias[0] = _mm512_maskz_loadu_ps(mask0, ep->bias);
        if (nv > 1) bias[1] = _mm512_maskz_loadu_ps(mask1, ep->bias + 16);
    }
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            __mmask16 mk = v ? mask1 : mask0;
            __m512 r = ep->alpha == 1.0f ? acc[i][v] : _mm512_mul_ps(al, acc[i][v]);
            if (ep->beta1) r = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, ci + 16 * v), r);
            else if (ep->bias) r = _mm512_add_ps(bias[v], r);
            _mm512_mask_storeu_ps(ci + 16 * v, mk, r);
            if (ep->relu)
                _mm512_mask_storeu_ps(ep->relu + (size_t)i * ldc + 16 * v, mk,
                                      _mm512_max_ps(r, zero));
        }
    }
}

#define UKR_CASES(NV, TA)                                                                     \
    switch (mr) {                                                                             \
    case 8: ukr(8, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 7: ukr(7, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 6: ukr(6, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 5: ukr(5, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 4: ukr(4, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 3: ukr(3, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    case 2: ukr(2, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                  \
    default: ukr(1, NV, TA, kc, a, lda, bp, ldbp, c, ldc, m0, m1, ep); break;                 \
    }

static void ukr_dispatch(int mr, int nr, int ta, int kc, const float *a, int lda,
                         const float *bp, int ldbp, float *c, int ldc, const epi *ep) {
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1u);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1u : 0u);
    if (nr > 16) {
        if (ta) {
            UKR_CASES(2, 1)
        } else {
            UKR_CASES(2, 0)
        }
    } else {
        if (ta) {
            UKR_CASES(1, 1)
        } else {
            UKR_CASES(1, 0)
        }
    }
}

/* dst[k*ldd + j] = src[j*lds + k] for a 16 x 16 block (in-register transpose). */
static inline __attribute__((always_inline)) void tr16(const float *src, int lds, float *dst, int ldd) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (size_t)i * lds);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 0]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 0]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (size_t)i * ldd, r[i]);
}

/* bp[k*NR + j] = B[n0+j, k0+k] (B stored [N,K]) for k < kc, j < nr; zero for j >= nr.
 * Full 16 x 16 blocks are transposed in registers, the rest element by element. */
static void pack_bt(float *bp, const float *B, int ldb, int k0, int kc, int n0, int nr) {
    int k16 = kc & ~15;
    for (int g = 0; g < 2; g++) {
        int j0 = 16 * g;
        if (j0 + 16 <= nr) {
            const float *src = B + (size_t)(n0 + j0) * ldb + k0;
            for (int k = 0; k < k16; k += 16) tr16(src + k, ldb, bp + (size_t)k * NR + j0, NR);
            for (int j = 0; j < 16; j++)
                for (int k = k16; k < kc; k++) bp[(size_t)k * NR + j0 + j] = src[(size_t)j * ldb + k];
        } else {
            for (int k = 0; k < kc; k++)
                for (int j = j0; j < j0 + 16; j++)
                    bp[(size_t)k * NR + j] = j < nr ? B[(size_t)(n0 + j) * ldb + k0 + k] : 0.0f;
        }
    }
}

/* bp[k*NR + j] = B[k0+k, n0+j] (B stored [K,N]) for k < kc, j < nr; zero for j >= nr. */
static void pack_b(float *bp, const float *B, int ldb, int k0, int kc, int n0, int nr) {
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1u);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1u : 0u);
    for (int k = 0; k < kc; k++) {
        const float *src = B + (size_t)(k0 + k) * ldb + n0;
        _mm512_store_ps(bp + (size_t)k * NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(bp + (size_t)k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
}

/* N = 1, A row-major: C[i] = dot(A[i,:], b) with b = B's only column, vectorised over k. */
static void gemv_rows(int M, int K, const float *A, int lda, const float *B, int ldb, int tb,
                      float *C, int ldc, const epi *ep0) {
    _Alignas(64) float bcol[KC * NR];
    for (int k0 = 0; k0 < K; k0 += KC * NR) {
        int kc = K - k0 < KC * NR ? K - k0 : KC * NR;
        for (int k = 0; k < kc; k++) bcol[k] = tb ? B[k0 + k] : B[(size_t)(k0 + k) * ldb];
        int beta1 = ep0->beta1 || k0 > 0, last = k0 + kc == K;
        for (int i = 0; i < M; i++) {
            const float *ai = A + (size_t)i * lda + k0;
            __m512 acc = _mm512_setzero_ps();
            int k = 0;
            for (; k + 16 <= kc; k += 16)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(ai + k), _mm512_load_ps(bcol + k), acc);
            if (k < kc) {
                __mmask16 mk = (__mmask16)((1u << (kc - k)) - 1u);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, ai + k),
                                      _mm512_maskz_loadu_ps(mk, bcol + k), acc);
            }
            float r = _mm512_reduce_add_ps(acc) * ep0->alpha;
            float *ci = C + (size_t)i * ldc;
            if (beta1) r = *ci + r;
            else if (ep0->bias) r = ep0->bias[0] + r;
            *ci = r;
            if (last && ep0->relu) ep0->relu[(size_t)i * ldc] = r > 0.0f ? r : 0.0f;
        }
    }
}

static void gemm_small(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc,
                       const float *bias, float *relu) {
    _Alignas(64) float bp[KC * NR];
    if (K == 0) { /* C = beta * C (+ bias) */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *cij = C + (size_t)i * ldc + j;
                *cij = beta == 0.0f ? (bias ? bias[j] : 0.0f) : beta * *cij;
                if (relu) relu[(size_t)i * ldc + j] = *cij > 0.0f ? *cij : 0.0f;
            }
        return;
    }
    if (beta != 0.0f && beta != 1.0f)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] *= beta;
    if (N == 1 && !ta) {
        epi ep = {alpha, beta != 0.0f, bias, relu};
        gemv_rows(M, K, A, lda, B, ldb, tb, C, ldc, &ep);
        return;
    }
    /* Long K with many rows (weight gradients over T*B rows): K blocks outermost, so each
     * block of A is read from memory once and then reused from L2 for every column panel,
     * and B's panel is packed (contiguous: no L1 set conflicts at power-of-two strides).
     * Otherwise column panels outermost (C's panel stays hot over the K blocks). Either way
     * every C element sums the same K blocks in the same order: same bits. */
    int kouter = K > KC && M >= 8 * MR;
    int nk = (K + KC - 1) / KC, np = (N + NR - 1) / NR;
    for (int o = 0; o < nk * np; o++) {
        int kb = kouter ? o / np : o % nk, nb = kouter ? o % np : o / nk;
        int k0 = kb * KC, n0 = nb * NR;
        int nr = N - n0 < NR ? N - n0 : NR, kc = K - k0 < KC ? K - k0 : KC;
        /* B stored [K,N] is read in place (rows of 32 columns, masked); [N,K] is packed */
        const float *b = B + (size_t)k0 * ldb + n0;
        int ldbp = ldb;
        if (tb) {
            pack_bt(bp, B, ldb, k0, kc, n0, nr);
            b = bp, ldbp = NR;
        } else if (kouter) {
            pack_b(bp, B, ldb, k0, kc, n0, nr);
            b = bp, ldbp = NR;
        }
        int last = k0 + kc == K;
        epi ep = {alpha, k0 > 0 || beta != 0.0f, bias ? bias + n0 : NULL, NULL};
        for (int m0 = 0; m0 < M; m0 += MR) {
            int mr = M - m0 < MR ? M - m0 : MR;
            const float *a = ta ? A + (size_t)k0 * lda + m0 : A + (size_t)m0 * lda + k0;
            ep.relu = last && relu ? relu + (size_t)m0 * ldc + n0 : NULL;
            ukr_dispatch(mr, nr, ta, kc, a, lda, b, ldbp, C + (size_t)m0 * ldc + n0, ldc, &ep);
        }
    }
}

#endif

void sl_nn_sgemm_ex(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                    float *relu) {
    if (M <= 0 || N <= 0) return;
#if defined(__AVX512F__)
    long macs = (long)M * N * K;
    int nth = sl_nn_get_threads();
    if (macs <= SMALL_MACS || nth <= 1 || omp_in_parallel()) {
        gemm_small(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu);
        return;
    }
    /* Large products at > 1 thread: blocks of C rows (or columns, whichever dimension is
     * larger) over the OpenMP threads, each on the single-threaded kernel. OpenBLAS's own
     * thread pool is never used here: its spinning threads and libgomp's fought over the two
     * cores (SAC-256 at 2 threads ran 3.5x slower than at 1). Every C element still sums its
     * k terms in the same order, so the bits do not depend on the thread count. */
    if (M >= N) {
        int rb = ((M + nth - 1) / nth + MR - 1) / MR * MR, nb = (M + rb - 1) / rb;
#pragma omp parallel for schedule(static) num_threads(nth)
        for (int b = 0; b < nb; b++) {
            int r0 = b * rb, m = M - r0 < rb ? M - r0 : rb;
            gemm_small(ta, tb, m, N, K, alpha, ta ? A + r0 : A + (size_t)r0 * lda, lda, B, ldb,
                       beta, C + (size_t)r0 * ldc, ldc, bias, relu ? relu + (size_t)r0 * ldc : NULL);
        }
    } else {
        int cb = ((N + nth - 1) / nth + NR - 1) / NR * NR, nb = (N + cb - 1) / cb;
#pragma omp parallel for schedule(static) num_threads(nth)
        for (int b = 0; b < nb; b++) {
            int c0 = b * cb, n = N - c0 < cb ? N - c0 : cb;
            gemm_small(ta, tb, M, n, K, alpha, A, lda, tb ? B + (size_t)c0 * ldb : B + c0, ldb,
                       beta, C + c0, ldc, bias ? bias + c0 : NULL, relu ? relu + c0 : NULL);
        }
    }
    return;
#endif
    if (bias && beta == 0.0f) {
        for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (relu)
        for (int i = 0; i < M; i++) {
            const float *ci = C + (size_t)i * ldc;
            float *ri = relu + (size_t)i * ldc;
#pragma omp simd
            for (int j = 0; j < N; j++) ri[j] = ci[j] > 0.0f ? ci[j] : 0.0f;
        }
}

void sl_nn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    sl_nn_sgemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, NULL);
}

void sl_nn_sgemm_ex_st(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc,
                       const float *bias, float *relu) {
    if (M <= 0 || N <= 0) return;
#if defined(__AVX512F__)
    gemm_small(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu);
#else
    if (bias && beta == 0.0f) {
        for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (relu)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float cij = C[(size_t)i * ldc + j];
                relu[(size_t)i * ldc + j] = cij > 0.0f ? cij : 0.0f;
            }
#endif
}

void sl_nn_transpose(float *dst, const float *src, int rows, int cols) {
    int r16 = 0, c16 = 0;
#if defined(__AVX512F__)
    r16 = rows & ~15, c16 = cols & ~15;
    for (int i = 0; i < r16; i += 16)
        for (int j = 0; j < c16; j += 16)
            tr16(src + (size_t)i * cols + j, cols, dst + (size_t)j * rows + i, rows);
#endif
    /* the rest (right and bottom strips) element by element */
    for (int i = 0; i < rows; i++)
        for (int j = i < r16 ? c16 : 0; j < cols; j++)
            dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
}

void sl_nn_part_range(int n, int part, int nparts, int *i0, int *i1) {
    int chunk = nparts > 1 ? ((n + nparts - 1) / nparts + 7) / 8 * 8 : n;
    int a = part * chunk < n ? part * chunk : n;
    *i0 = a;
    *i1 = a + chunk < n ? a + chunk : n;
}

void sl_nn_linear_weight_grads_part(float *dw, float *db, const float *dout, const float *in,
                                    int B, int C, int OC, int part, int nparts) {
    int o0, o1;
    sl_nn_part_range(OC, part, nparts, &o0, &o1);
    if (o1 <= o0) return;
    if (dw)
        sl_nn_sgemm_ex_st(1, 0, o1 - o0, C, B, 1.0f, dout + o0, OC, in, C, 1.0f,
                          dw + (size_t)o0 * C, C, NULL, NULL);
    if (db)
        for (int i = 0; i < B; i++) { /* as sl_nn_bias_grad: rows in order */
            const float *row = dout + (size_t)i * OC;
#pragma omp simd
            for (int o = o0; o < o1; o++) db[o] += row[o];
        }
}

void sl_nn_linear_forward_t(float *out, const float *in, const float *w_t, const float *b, int B,
                            int C, int OC) {
    sl_nn_sgemm_ex_st(0, 0, B, OC, C, 1.0f, in, C, w_t, OC, 0.0f, out, OC, b, NULL);
}
