/* SPDX-License-Identifier: Apache-2.0 */
/* fastgru.c - inference-only GRU step and residual update for rollouts: two sgemm calls for
 * the gate pre-activations, then one fused, vectorised elementwise pass (no cache kept).
 *
 * Invariant: same formulas as sl_nn_gru_cell_forward (torch.nn.GRU); exp is a branch-free
 * Cephes-style polynomial (relative error ~1e-7 over the clamped range) so that the loops
 * vectorise; tests/test_world.c checks rollouts against an independent NumPy reference.
 */
/* -O3 and finite-math for this file only: they let the clamps become min/max and the gate loops
 * vectorise. Inputs are finite here (parameters are checked on load; explosions are caught by
 * the caller on the outputs, and the clamps keep every exp finite). */
#pragma GCC optimize("O3", "finite-math-only", "no-signed-zeros")

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "nn/nn_internal.h"
#include "world/world_internal.h"

#define fexp sl_world_fexp

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }
static inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }

/* One row of the gate math (torch.nn.GRU), in three simple loops (one transcendental each, so
 * that each vectorises); gib is scratch and is overwritten with r and z. */
static void gate_row(float *restrict ob, float *restrict gib, const float *restrict ghb,
                     const float *restrict hb, int H) {
    float *restrict r = gib, *restrict z = gib + H;
    const float *restrict in = gib + 2 * H;
    const float *restrict hr = ghb, *restrict hz = ghb + H, *restrict hn = ghb + 2 * H;
    for (int j = 0; j < H; j++) r[j] = fsigmoid(r[j] + hr[j]);
    for (int j = 0; j < H; j++) z[j] = fsigmoid(z[j] + hz[j]);
    for (int j = 0; j < H; j++) {
        float n = ftanh(in[j] + r[j] * hn[j]);
        ob[j] = (1.0f - z[j]) * n + z[j] * hb[j];
    }
}

size_t sl_world_gru_infer_ws_floats(int B, int H) { return (size_t)6 * B * H; }

/* Rows per block of the blocked path: small enough for the nn micro-kernel at any thread
 * count (64 x 384 x 128 multiply-adds at hidden 128), large enough to amortise packing w. */
#define INFER_ROWS 64

void sl_world_gru_infer(float *h_out, const float *x, const float *h, const float *w_ih,
                        const float *w_hh, const float *b_ih, const float *b_hh, int B, int In,
                        int H, float *ws) {
    const size_t H3 = (size_t)3 * H;
    float *gi = ws, *gh = ws + (size_t)B * H3;
    if (sl_nn_gemm_fast_available()) {
        /* Row blocks spread over the threads, each on the single-threaded AVX-512 kernel of
         * src/nn/gemm.c. Every row's sums run in the same k order whatever the blocking and
         * thread count, so the bits do not depend on either. */
        int nblk = (B + INFER_ROWS - 1) / INFER_ROWS, nth = sl_nn_get_threads();
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1 && nblk > 1)
        for (int k = 0; k < nblk; k++) {
            int r0 = k * INFER_ROWS, nb = B - r0 < INFER_ROWS ? B - r0 : INFER_ROWS;
            float *gik = gi + (size_t)r0 * H3, *ghk = gh + (size_t)r0 * H3;
            sl_nn_sgemm_ex(0, 1, nb, (int)H3, In, 1.0f, x + (size_t)r0 * In, In, w_ih, In, 0.0f,
                           gik, (int)H3, b_ih, NULL);
            sl_nn_sgemm_ex(0, 1, nb, (int)H3, H, 1.0f, h + (size_t)r0 * H, H, w_hh, H, 0.0f, ghk,
                           (int)H3, b_hh, NULL);
            for (int b = r0; b < r0 + nb; b++)
                gate_row(h_out + (size_t)b * H, gi + b * H3, gh + b * H3, h + (size_t)b * H, H);
        }
        return;
    }
    for (int b = 0; b < B; b++) {
        memcpy(gi + b * H3, b_ih, H3 * sizeof(float));
        memcpy(gh + b * H3, b_hh, H3 * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)H3, In, 1.0f, x, In, w_ih, In,
                1.0f, gi, (int)H3);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)H3, H, 1.0f, h, H, w_hh, H, 1.0f,
                gh, (int)H3);
#pragma omp parallel for schedule(static) if ((size_t)B * H > 65536)
    for (int b = 0; b < B; b++)
        gate_row(h_out + (size_t)b * H, gi + b * H3, gh + b * H3, h + (size_t)b * H, H);
}

void sl_world_residual_update(const sl_world *w, float *zc, const float *out, int B) {
    const int Z = w->Z, O = w->O;
    const float c = w->cfg.clip_value, ic = 1.0f / c;
    const float *dz = w->dz_std;
    for (int i = 0; i < B; i++) {
        float *zi = zc + (size_t)i * Z;
        const float *oi = out + (size_t)i * O;
        switch (w->cfg.clip) {
        case SL_WORLD_CLIP_TANH:
#pragma omp simd
            for (int j = 0; j < Z; j++) zi[j] += dz[j] * c * ftanh(oi[j] * ic);
            break;
        case SL_WORLD_CLIP_HARD:
#pragma omp simd
            for (int j = 0; j < Z; j++) {
                float d = oi[j] > c ? c : (oi[j] < -c ? -c : oi[j]);
                zi[j] += dz[j] * d;
            }
            break;
        default:
#pragma omp simd
            for (int j = 0; j < Z; j++) zi[j] += dz[j] * oi[j];
            break;
        }
    }
}
