/* SPDX-License-Identifier: Apache-2.0 */
/* gru.c - fast float32 GRU (torch.nn.GRU formulation): cell forward/backward with a per-step
 * cache, and the unrolled T-step forward and full backpropagation through time.
 *
 * Invariant: cache of one step = [r | z | n | W_hn h + b_hn], each [B,H]; workspace holds the
 * pre-activation / gate-gradient blocks gi,gh [B,3H] and, for the unrolled backward, the
 * running dh carry. Matrix products go through sl_nn_sgemm (gemm.c); the gate math is
 * elementwise over rows. Nothing here starts an OpenMP team from inside a running parallel
 * region, so a caller may split batch rows over its own threads.
 */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "nn/nn_internal.h"

size_t sl_nn_gru_cache_floats(int B, int H) { return (size_t)4 * B * H; }
size_t sl_nn_gru_ws_floats(int B, int H) { return (size_t)8 * B * H; }

/* out[B,3H] = in[B,K] @ w[3H,K]^T + bias */
static void gate_preact(float *out, const float *in, const float *w, const float *bias, int B,
                        int K, int H3) {
    sl_nn_linear_forward(out, in, w, bias, B, K, H3);
}

/* Gate math of rows [b0, b1): r, z, n, W_hn h + b_hn into the cache and h_out. */
static void gates_fwd_rows(float *h_out, float *cache, const float *gi, const float *gh,
                           const float *h, int B, int H, int b0, int b1) {
    size_t BH = (size_t)B * H;
    float *cr = cache, *cz = cache + BH, *cn = cache + 2 * BH, *chn = cache + 3 * BH;
    for (int b = b0; b < b1; b++) {
        const float *gib = gi + (size_t)b * 3 * H, *ghb = gh + (size_t)b * 3 * H;
        const float *hb = h + (size_t)b * H;
        float *rb = cr + (size_t)b * H, *zb = cz + (size_t)b * H, *nb = cn + (size_t)b * H;
        float *hnb = chn + (size_t)b * H, *ob = h_out + (size_t)b * H;
        /* two passes: the r and z chains (independent across j) first, so that more of the
         * exp/divide latency overlaps; n needs r. Same operations, same bits. */
#pragma omp simd
        for (int j = 0; j < H; j++) {
            rb[j] = sl_nn_sigmoidf(gib[j] + ghb[j]);
            zb[j] = sl_nn_sigmoidf(gib[H + j] + ghb[H + j]);
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float r = rb[j], z = zb[j];
            float hn = ghb[2 * H + j];
            float n = sl_nn_tanhf(gib[2 * H + j] + r * hn);
            nb[j] = n;
            hnb[j] = hn;
            ob[j] = (1.0f - z) * n + z * hb[j];
        }
    }
}

/* Large gate blocks go over the threads, but never from inside a running parallel region (no
 * nested teams: callers may split rows over threads themselves). Rows are independent, so the
 * bits do not depend on the split. */
static int gates_parallel(size_t BH) { return BH > SL_NN_PAR_MIN && !omp_in_parallel(); }

static void gates_fwd(float *h_out, float *cache, const float *gi, const float *gh,
                      const float *h, int B, int H) {
    if (gates_parallel((size_t)B * H)) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) gates_fwd_rows(h_out, cache, gi, gh, h, B, H, b, b + 1);
    } else {
        gates_fwd_rows(h_out, cache, gi, gh, h, B, H, 0, B);
    }
}

void sl_nn_gru_cell_forward(float *h_out, float *cache, const float *x, const float *h,
                            const float *w_ih, const float *w_hh, const float *b_ih,
                            const float *b_hh, int B, int In, int H, float *ws) {
    size_t BH = (size_t)B * H;
    float *gi = ws, *gh = ws + 3 * BH;
    gate_preact(gi, x, w_ih, b_ih, B, In, 3 * H);
    gate_preact(gh, h, w_hh, b_hh, B, H, 3 * H);
    gates_fwd(h_out, cache, gi, gh, h, B, H);
}

void sl_nn_gru_cell_forward_t(float *h_out, float *cache, const float *x, const float *h,
                              const float *w_ih_t, const float *w_hh_t, const float *b_ih,
                              const float *b_hh, int B, int In, int H, float *ws) {
    size_t BH = (size_t)B * H;
    float *gi = ws, *gh = ws + 3 * BH;
    sl_nn_sgemm_ex_st(0, 0, B, 3 * H, In, 1.0f, x, In, w_ih_t, 3 * H, 0.0f, gi, 3 * H, b_ih, NULL);
    sl_nn_sgemm_ex_st(0, 0, B, 3 * H, H, 1.0f, h, H, w_hh_t, 3 * H, 0.0f, gh, 3 * H, b_hh, NULL);
    gates_fwd_rows(h_out, cache, gi, gh, h, B, H, 0, B);
}

/* Gate gradients of rows [b0, b1): gi[B,3H] (wrt W_ih x + b_ih), gh[B,3H] (wrt W_hh h + b_hh);
 * dh += dh_out*z. */
static void gate_grads_rows(float *gi, float *gh, float *dh, const float *dh_out,
                            const float *cache, const float *h, int B, int H, int b0, int b1) {
    size_t BH = (size_t)B * H;
    const float *cr = cache, *cz = cache + BH, *cn = cache + 2 * BH, *chn = cache + 3 * BH;
    for (int b = b0; b < b1; b++) {
        size_t o = (size_t)b * H;
        float *gib = gi + 3 * o, *ghb = gh + 3 * o;
        if (dh) {
#pragma omp simd
            for (int j = 0; j < H; j++) dh[o + j] += dh_out[o + j] * cz[o + j];
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float d = dh_out[o + j], r = cr[o + j], z = cz[o + j], n = cn[o + j];
            float dn = d * (1.0f - z), dz = d * (h[o + j] - n);
            float dan = dn * (1.0f - n * n);
            float dar = dan * chn[o + j] * r * (1.0f - r);
            float daz = dz * z * (1.0f - z);
            gib[j] = dar;
            gib[H + j] = daz;
            gib[2 * H + j] = dan;
            ghb[j] = dar;
            ghb[H + j] = daz;
            ghb[2 * H + j] = dan * r;
        }
    }
}

static void gate_grads(float *gi, float *gh, float *dh, const float *dh_out, const float *cache,
                       const float *h, int B, int H) {
    if (gates_parallel((size_t)B * H)) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) gate_grads_rows(gi, gh, dh, dh_out, cache, h, B, H, b, b + 1);
    } else {
        gate_grads_rows(gi, gh, dh, dh_out, cache, h, B, H, 0, B);
    }
}

void sl_nn_gru_cell_backward(float *dx, float *dh, float *dw_ih, float *dw_hh, float *db_ih,
                             float *db_hh, const float *dh_out, const float *cache,
                             const float *x, const float *h, const float *w_ih,
                             const float *w_hh, int B, int In, int H, float *ws) {
    size_t BH = (size_t)B * H;
    float *gi = ws, *gh = ws + 3 * BH;
    gate_grads(gi, gh, dh, dh_out, cache, h, B, H);
    sl_nn_linear_backward(dx, dw_ih, db_ih, gi, x, w_ih, B, In, 3 * H);
    sl_nn_linear_backward(dh, dw_hh, db_hh, gh, h, w_hh, B, H, 3 * H);
}

void sl_nn_gru_cell_backward_gates(float *dx, float *dh, float *g_ih, float *g_hh,
                                   const float *dh_out, const float *cache, const float *h,
                                   const float *w_ih, const float *w_hh, int B, int In, int H) {
    gate_grads(g_ih, g_hh, dh, dh_out, cache, h, B, H);
    if (dx)
        sl_nn_sgemm(0, 0, B, In, 3 * H, 1.0f, g_ih, 3 * H, w_ih, In, 1.0f, dx, In);
    if (dh)
        sl_nn_sgemm(0, 0, B, H, 3 * H, 1.0f, g_hh, 3 * H, w_hh, H, 1.0f, dh, H);
}

void sl_nn_gru_weight_grads(float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                            const float *g_ih, const float *g_hh, const float *xs,
                            const float *hprev, int N, int In, int H) {
    sl_nn_linear_backward(NULL, dw_ih, db_ih, g_ih, xs, NULL, N, In, 3 * H);
    sl_nn_linear_backward(NULL, dw_hh, db_hh, g_hh, hprev, NULL, N, H, 3 * H);
}

void sl_nn_gru_weight_grads_part(float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                                 const float *g_ih, const float *g_hh, const float *xs,
                                 const float *hprev, int N, int In, int H, int part, int nparts) {
    sl_nn_linear_weight_grads_part(dw_ih, db_ih, g_ih, xs, N, In, 3 * H, part, nparts);
    sl_nn_linear_weight_grads_part(dw_hh, db_hh, g_hh, hprev, N, H, 3 * H, part, nparts);
}

void sl_nn_gru_forward(float *hs, float *cache, const float *xs, const float *h0,
                       const float *w_ih, const float *w_hh, const float *b_ih,
                       const float *b_hh, int T, int B, int In, int H, float *ws) {
    size_t BH = (size_t)B * H;
    for (int t = 0; t < T; t++)
        sl_nn_gru_cell_forward(hs + t * BH, cache + t * 4 * BH, xs + (size_t)t * B * In,
                               t ? hs + (t - 1) * BH : h0, w_ih, w_hh, b_ih, b_hh, B, In, H, ws);
}

void sl_nn_gru_backward(float *dxs, float *dh0, float *dw_ih, float *dw_hh, float *db_ih,
                        float *db_hh, const float *dhs, const float *hs, const float *cache,
                        const float *xs, const float *h0, const float *w_ih, const float *w_hh,
                        int T, int B, int In, int H, float *ws) {
    size_t BH = (size_t)B * H;
    float *acc = ws + 6 * BH, *carry = ws + 7 * BH;
    memset(carry, 0, BH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        for (size_t i = 0; i < BH; i++) acc[i] = dhs[t * BH + i] + carry[i];
        memset(carry, 0, BH * sizeof(float));
        sl_nn_gru_cell_backward(dxs ? dxs + (size_t)t * B * In : NULL, carry, dw_ih, dw_hh, db_ih,
                                db_hh, acc, cache + t * 4 * BH, xs + (size_t)t * B * In,
                                t ? hs + (t - 1) * BH : h0, w_ih, w_hh, B, In, H, ws);
    }
    if (dh0)
        for (size_t i = 0; i < BH; i++) dh0[i] += carry[i];
}

/* --- arena helpers --- */

sl_status sl_nn_gru_declare(sl_nn_gru *g, sl_nn_arena *a, const char *prefix, int In, int H) {
    char name[SL_NN_NAME_MAX];
    if (In <= 0 || H <= 0)
        return sl_set_error(SL_ERR_ARG, "sl_nn_gru_declare(%s): sizes In=%d H=%d", prefix, In, H);
    size_t s_ih[2] = {(size_t)3 * H, (size_t)In}, s_hh[2] = {(size_t)3 * H, (size_t)H};
    size_t s_b[1] = {(size_t)3 * H};
    g->In = In;
    g->H = H;
    SL_TRY(sl_nn_name(name, prefix, "weight_ih_l0"));
    SL_TRY(sl_nn_arena_add(a, name, 2, s_ih, &g->w_ih));
    SL_TRY(sl_nn_name(name, prefix, "weight_hh_l0"));
    SL_TRY(sl_nn_arena_add(a, name, 2, s_hh, &g->w_hh));
    SL_TRY(sl_nn_name(name, prefix, "bias_ih_l0"));
    SL_TRY(sl_nn_arena_add(a, name, 1, s_b, &g->b_ih));
    SL_TRY(sl_nn_name(name, prefix, "bias_hh_l0"));
    SL_TRY(sl_nn_arena_add(a, name, 1, s_b, &g->b_hh));
    return SL_OK;
}

void sl_nn_gru_init(const sl_nn_gru *g, float *params, sl_rng *rng) {
    sl_nn_init_gru(params + g->w_ih, params + g->w_hh, params + g->b_ih, params + g->b_hh, g->In,
                   g->H, rng);
}
