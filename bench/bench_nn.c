/* SPDX-License-Identifier: Apache-2.0 */
/* bench_nn.c - nn engine speed against PyTorch (bench/nn_ref.py) in the same run.
 *
 * (a) SAC update: actor 32 -> H -> H -> 16 (tanh-Gaussian head, 8 actions), twin critics
 *     40 -> H -> H -> 1, target critics (polyak 0.005), batch 256, fixed alpha 0.2, policy
 *     noise from sl_nn_randn (PyTorch: torch.randn_like):
 *     critic loss fwd/bwd + Adam, actor loss fwd/bwd (critic input-grads only) + Adam.
 * (b) World-model step: 60-step autoregressive GRU (input = previous predicted latent 32 +
 *     action 8, hidden H, linear head to latent 32), batch 64, MSE over all steps, full BPTT,
 *     Adam. The backward keeps every step's gate gradients and computes the GRU and head
 *     weight gradients with one sgemm each over all 60*64 rows (sl_nn_gru_weight_grads).
 *     The weights are transposed once per step (sl_nn_transpose), so the per-step forward
 *     products read them in place. At n threads each thread runs the whole unroll for its
 *     block of batch rows (no per-step barrier), then its share of the weight-gradient rows
 *     (sl_nn_*_weight_grads_part); the gradients are bit-identical at any thread count.
 * Both at H = 256 and 64, C with 1 and 2 threads, PyTorch with 1 and 2 threads. Prints rates,
 * the ratio to PyTorch's best thread setting, and the fraction of this machine's sgemm ceiling
 * (1024^3 cblas_sgemm at 2 threads, measured here) that the C code reaches (GEMM FLOPs only).
 * Both sides also report updates per process-CPU second at 1 thread, which a shared machine's
 * load distorts much less than the wall-clock rates (the two sides run at different moments).
 * Invariant: rates are wall-clock medians-free best-of-window figures; nothing is asserted.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <omp.h>

#include "synthloop/sl_nn.h"
#include "nn/nn_internal.h"

#define BENCH_SECONDS 2.0

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}
static void randn(float *x, size_t n, sl_rng *r, double s) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(s * sl_rng_normal(r));
}

/* --- sgemm ceiling --- */
static double sgemm_gflops(int threads) {
    int N = 1024;
    float *a = falloc((size_t)N * N), *b = falloc((size_t)N * N), *c = falloc((size_t)N * N);
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    randn(a, (size_t)N * N, &r, 1), randn(b, (size_t)N * N, &r, 1);
    /* the machine's best sgemm at this thread count: OpenBLAS with its own threads, and the
     * nn kernel (src/nn/gemm.c) on OpenMP threads, which sl_nn_set_threads makes the default */
    double best = 1e9;
    for (int impl = 0; impl < 2; impl++) {
        sl_nn_set_threads(threads);
        if (impl == 0) openblas_set_num_threads(threads);
        for (int k = 0; k < 6; k++) {
            double t0 = sl_now();
            if (impl == 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N,
                            0.0f, c, N);
            else
                sl_nn_sgemm(0, 0, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
            double dt = sl_now() - t0;
            if (dt < best) best = dt;
        }
    }
    sl_nn_set_threads(threads);
    free(a), free(b), free(c);
    return 2.0 * N * N * (double)N / best / 1e9;
}

/* --- SAC --- */
typedef struct sac {
    int H, B, S, A;
    sl_nn_arena actor, critic, target;
    sl_nn_mlp pi, q1, q2, q1t, q2t;
    sl_nn_mlp_cache cpi, cq1, cq2, cq1t, cq2t;
    sl_nn_adam opt;
    float *s, *a, *r, *s2, *done, *eps;
    float *pi_out, *act, *logp, *sa, *q1o, *q2o, *y, *dq1, *dq2, *dsa1, *dsa2, *dpi, *dact, *dlogp;
    sl_rng rng;
} sac;

static size_t mlp_macs(const sl_nn_mlp *m) {
    size_t s = 0;
    for (int l = 0; l < m->n_layers; l++) s += (size_t)m->sizes[l] * m->sizes[l + 1];
    return s;
}

static void sac_init(sac *z, int H) {
    memset(z, 0, sizeof *z);
    z->H = H, z->B = 256, z->S = 32, z->A = 8;
    int B = z->B, S = z->S, A = z->A;
    int ps[4] = {S, H, H, 2 * A}, qs[4] = {S + A, H, H, 1};
    sl_nn_arena_init(&z->actor), sl_nn_arena_init(&z->critic), sl_nn_arena_init(&z->target);
    if (sl_nn_mlp_declare(&z->pi, &z->actor, "actor", 3, ps, SL_NN_ACT_RELU, 0) ||
        sl_nn_mlp_declare(&z->q1, &z->critic, "q1", 3, qs, SL_NN_ACT_RELU, 0) ||
        sl_nn_mlp_declare(&z->q2, &z->critic, "q2", 3, qs, SL_NN_ACT_RELU, 0) ||
        sl_nn_mlp_declare(&z->q1t, &z->target, "q1", 3, qs, SL_NN_ACT_RELU, 0) ||
        sl_nn_mlp_declare(&z->q2t, &z->target, "q2", 3, qs, SL_NN_ACT_RELU, 0) ||
        sl_nn_arena_alloc(&z->actor) || sl_nn_arena_alloc(&z->critic) ||
        sl_nn_arena_alloc(&z->target))
        abort();
    sl_rng_seed(&z->rng, 5, 0);
    sl_nn_mlp_init(&z->pi, z->actor.params, &z->rng);
    sl_nn_mlp_init(&z->q1, z->critic.params, &z->rng);
    sl_nn_mlp_init(&z->q2, z->critic.params, &z->rng);
    if (sl_nn_arena_copy_params(&z->target, &z->critic)) abort();
    if (sl_nn_mlp_cache_alloc(&z->cpi, &z->pi, B) || sl_nn_mlp_cache_alloc(&z->cq1, &z->q1, B) ||
        sl_nn_mlp_cache_alloc(&z->cq2, &z->q2, B) || sl_nn_mlp_cache_alloc(&z->cq1t, &z->q1t, B) ||
        sl_nn_mlp_cache_alloc(&z->cq2t, &z->q2t, B))
        abort();
    z->opt = sl_nn_adam_defaults(3e-4f);
    z->s = falloc((size_t)B * S), z->a = falloc((size_t)B * A), z->r = falloc(B);
    z->s2 = falloc((size_t)B * S), z->done = falloc(B), z->eps = falloc((size_t)B * A);
    randn(z->s, (size_t)B * S, &z->rng, 1), randn(z->s2, (size_t)B * S, &z->rng, 1);
    randn(z->r, B, &z->rng, 1);
    for (int i = 0; i < B * A; i++) z->a[i] = (float)sl_rng_uniform_range(&z->rng, -1, 1);
    for (int i = 0; i < B; i++) z->done[i] = sl_rng_uniform(&z->rng) < 0.05 ? 1.0f : 0.0f;
    z->pi_out = falloc((size_t)B * 2 * A), z->act = falloc((size_t)B * A), z->logp = falloc(B);
    z->sa = falloc((size_t)B * (S + A)), z->q1o = falloc(B), z->q2o = falloc(B), z->y = falloc(B);
    z->dq1 = falloc(B), z->dq2 = falloc(B), z->dsa1 = falloc((size_t)B * (S + A));
    z->dsa2 = falloc((size_t)B * (S + A)), z->dpi = falloc((size_t)B * 2 * A);
    z->dact = falloc((size_t)B * A), z->dlogp = falloc(B);
}

static void sac_free(sac *z) {
    sl_nn_arena_free(&z->actor), sl_nn_arena_free(&z->critic), sl_nn_arena_free(&z->target);
    sl_nn_mlp_cache_free(&z->cpi), sl_nn_mlp_cache_free(&z->cq1), sl_nn_mlp_cache_free(&z->cq2);
    sl_nn_mlp_cache_free(&z->cq1t), sl_nn_mlp_cache_free(&z->cq2t);
    float *bufs[] = {z->s, z->a, z->r, z->s2, z->done, z->eps, z->pi_out, z->act, z->logp, z->sa,
                     z->q1o, z->q2o, z->y, z->dq1, z->dq2, z->dsa1, z->dsa2, z->dpi, z->dact,
                     z->dlogp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

static void concat_sa(float *sa, const float *s, const float *a, int B, int S, int A) {
    for (int i = 0; i < B; i++) {
        memcpy(sa + (size_t)i * (S + A), s + (size_t)i * S, (size_t)S * sizeof(float));
        memcpy(sa + (size_t)i * (S + A) + S, a + (size_t)i * A, (size_t)A * sizeof(float));
    }
}

static void sac_update(sac *z) {
    const float alpha = 0.2f, gamma = 0.99f;
    int B = z->B, S = z->S, A = z->A;
    /* critic: y = r + gamma (1 - d) (min Q_targ(s2, a2) - alpha logp2) */
    sl_nn_randn(z->eps, (size_t)B * A, &z->rng);
    sl_nn_mlp_forward(z->pi_out, &z->cpi, z->s2, &z->pi, z->actor.params, B);
    sl_nn_tanh_gaussian_forward(z->act, z->logp, z->pi_out, z->eps, B, A);
    concat_sa(z->sa, z->s2, z->act, B, S, A);
    sl_nn_mlp_forward(z->q1o, &z->cq1t, z->sa, &z->q1t, z->target.params, B);
    sl_nn_mlp_forward(z->q2o, &z->cq2t, z->sa, &z->q2t, z->target.params, B);
    for (int i = 0; i < B; i++) {
        float mq = z->q1o[i] < z->q2o[i] ? z->q1o[i] : z->q2o[i];
        z->y[i] = z->r[i] + gamma * (1.0f - z->done[i]) * (mq - alpha * z->logp[i]);
    }
    concat_sa(z->sa, z->s, z->a, B, S, A);
    sl_nn_arena_zero_grad(&z->critic);
    sl_nn_mlp_forward(z->q1o, &z->cq1, z->sa, &z->q1, z->critic.params, B);
    sl_nn_mlp_forward(z->q2o, &z->cq2, z->sa, &z->q2, z->critic.params, B);
    sl_nn_mse_loss(z->dq1, z->q1o, z->y, NULL, B, 1);
    sl_nn_mse_loss(z->dq2, z->q2o, z->y, NULL, B, 1);
    sl_nn_mlp_backward(NULL, z->critic.grads, &z->cq1, z->dq1, z->sa, &z->q1, z->critic.params, B);
    sl_nn_mlp_backward(NULL, z->critic.grads, &z->cq2, z->dq2, z->sa, &z->q2, z->critic.params, B);
    sl_nn_arena_adam_step(&z->critic, &z->opt);
    /* actor: loss = mean(alpha logp - min Q(s, pi(s))) ; critics give input grads only */
    sl_nn_randn(z->eps, (size_t)B * A, &z->rng);
    sl_nn_arena_zero_grad(&z->actor);
    sl_nn_mlp_forward(z->pi_out, &z->cpi, z->s, &z->pi, z->actor.params, B);
    sl_nn_tanh_gaussian_forward(z->act, z->logp, z->pi_out, z->eps, B, A);
    concat_sa(z->sa, z->s, z->act, B, S, A);
    sl_nn_mlp_forward(z->q1o, &z->cq1, z->sa, &z->q1, z->critic.params, B);
    sl_nn_mlp_forward(z->q2o, &z->cq2, z->sa, &z->q2, z->critic.params, B);
    for (int i = 0; i < B; i++) {
        int first = z->q1o[i] <= z->q2o[i];
        z->dq1[i] = first ? -1.0f / (float)B : 0.0f;
        z->dq2[i] = first ? 0.0f : -1.0f / (float)B;
        z->dlogp[i] = alpha / (float)B;
    }
    memset(z->dsa1, 0, (size_t)B * (S + A) * sizeof(float));
    sl_nn_mlp_backward(z->dsa1, NULL, &z->cq1, z->dq1, z->sa, &z->q1, z->critic.params, B);
    sl_nn_mlp_backward(z->dsa1, NULL, &z->cq2, z->dq2, z->sa, &z->q2, z->critic.params, B);
    for (int i = 0; i < B; i++)
        memcpy(z->dact + (size_t)i * A, z->dsa1 + (size_t)i * (S + A) + S, (size_t)A * sizeof(float));
    memset(z->dpi, 0, (size_t)B * 2 * A * sizeof(float));
    sl_nn_tanh_gaussian_backward(z->dpi, z->dact, z->dlogp, z->act, z->pi_out, z->eps, B, A);
    sl_nn_mlp_backward(NULL, z->actor.grads, &z->cpi, z->dpi, z->s, &z->pi, z->actor.params, B);
    sl_nn_arena_adam_step(&z->actor, &z->opt);
    sl_nn_arena_polyak(&z->target, &z->critic, 0.005f);
}

static double sac_flops(const sac *z) {
    double Q = (double)mlp_macs(&z->q1), P = (double)mlp_macs(&z->pi);
    double Q0 = (double)z->q1.sizes[0] * z->q1.sizes[1], P0 = (double)z->pi.sizes[0] * z->pi.sizes[1];
    double macs = P + 2 * Q + 2 * Q + 2 * (2 * Q - Q0) /* critic update */
                  + P + 2 * Q + 2 * Q + (2 * P - P0); /* actor update */
    return 2.0 * macs * z->B;
}

/* --- autoregressive GRU world-model step --- */
#define WM_MAXTH 8

/* One thread's buffers: its rows' per-step cache and workspace, and the backward's dh carry. */
typedef struct wm_thr {
    float *cache, *ws, *dh, *dhn, *dx;
    double sse; /* its rows' share of the loss (sum of squared errors) */
} wm_thr;

typedef struct wm {
    int T, B, Z, A, H, In;
    sl_nn_arena ar;
    sl_nn_gru gru;
    sl_nn_linear head;
    sl_nn_adam opt;
    float *z0, *acts, *tgt, *xs, *hall, *hs, *h0, *pred, *dpred;
    float *gis, *ghs; /* [T,B,3H] gate gradients of every step (deferred weight gradients) */
    float *wt_ih, *wt_hh, *wt_head; /* transposed weights, refreshed every optimiser step */
    float loss;
    wm_thr thr[WM_MAXTH];
} wm;

static void wm_init(wm *w, int H) {
    memset(w, 0, sizeof *w);
    w->T = 60, w->B = 64, w->Z = 32, w->A = 8, w->H = H, w->In = 40;
    sl_nn_arena_init(&w->ar);
    if (sl_nn_gru_declare(&w->gru, &w->ar, "gru", w->In, H) ||
        sl_nn_linear_declare(&w->head, &w->ar, "head", H, w->Z) || sl_nn_arena_alloc(&w->ar))
        abort();
    sl_rng r;
    sl_rng_seed(&r, 9, 0);
    sl_nn_gru_init(&w->gru, w->ar.params, &r);
    sl_nn_linear_init(&w->head, w->ar.params, &r);
    w->opt = sl_nn_adam_defaults(1e-3f);
    size_t T = (size_t)w->T, B = (size_t)w->B, BH = B * H;
    w->z0 = falloc(B * w->Z), w->acts = falloc(T * B * w->A), w->tgt = falloc(T * B * w->Z);
    randn(w->z0, B * w->Z, &r, 1), randn(w->acts, T * B * w->A, &r, 1), randn(w->tgt, T * B * w->Z, &r, 1);
    /* hall = [h0 | hs[0..T-1]]: the h input of step t is hall + t*BH, so all T of them are
     * one [T*B, H] matrix for the deferred weight gradient */
    w->xs = falloc(T * B * w->In), w->hall = falloc((T + 1) * BH);
    w->h0 = w->hall, w->hs = w->hall + BH;
    w->gis = falloc(T * B * 3 * (size_t)H), w->ghs = falloc(T * B * 3 * (size_t)H);
    w->pred = falloc(T * B * w->Z), w->dpred = falloc(T * B * w->Z);
    w->wt_ih = falloc((size_t)3 * H * w->In), w->wt_hh = falloc((size_t)3 * H * H);
    w->wt_head = falloc((size_t)H * w->Z);
    for (int k = 0; k < WM_MAXTH; k++) { /* thread k's largest row share over team sizes */
        int rows = 0;
        for (int n = k + 1; n <= WM_MAXTH; n++) {
            int r0, r1;
            sl_nn_part_range(w->B, k, n, &r0, &r1);
            if (r1 - r0 > rows) rows = r1 - r0;
        }
        if (!rows) continue;
        wm_thr *s = &w->thr[k];
        s->cache = falloc(T * sl_nn_gru_cache_floats(rows, H));
        s->ws = falloc(sl_nn_gru_ws_floats(rows, H));
        s->dh = falloc((size_t)rows * H), s->dhn = falloc((size_t)rows * H);
        s->dx = falloc((size_t)rows * w->In);
    }
}

static void wm_free(wm *w) {
    sl_nn_arena_free(&w->ar);
    float *bufs[] = {w->z0, w->acts, w->tgt, w->xs, w->hall, w->pred, w->dpred, w->gis,
                     w->ghs, w->wt_ih, w->wt_hh, w->wt_head};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    for (int k = 0; k < WM_MAXTH; k++) {
        wm_thr *s = &w->thr[k];
        free(s->cache), free(s->ws), free(s->dh), free(s->dhn), free(s->dx);
    }
}

/* Forward, loss gradient and BPTT of batch rows [r0, r1) over all T steps (rows of a batch
 * never interact, so a thread can run its rows' whole unroll without waiting for the others).
 * Every row's arithmetic is the same as in a single-threaded step over all rows: the kernels
 * compute each row of a product, and each element of the gate math, independently. */
static void wm_rows(wm *w, wm_thr *s, int r0, int r1) {
    int T = w->T, B = w->B, Z = w->Z, A = w->A, H = w->H, In = w->In, Bt = r1 - r0;
    size_t BH = (size_t)B * H, BZ = (size_t)B * Z, G3 = (size_t)B * 3 * H;
    size_t CF = sl_nn_gru_cache_floats(Bt, H);
    const float *p = w->ar.params;
    const sl_nn_gru *G = &w->gru;
    for (int t = 0; t < T; t++) {
        float *x = w->xs + ((size_t)t * B + r0) * In;
        const float *zin = (t ? w->pred + (t - 1) * BZ : w->z0) + (size_t)r0 * Z;
        for (int i = 0; i < Bt; i++) {
            memcpy(x + (size_t)i * In, zin + (size_t)i * Z, (size_t)Z * sizeof(float));
            memcpy(x + (size_t)i * In + Z, w->acts + ((size_t)t * B + r0 + i) * A,
                   (size_t)A * sizeof(float));
        }
        float *h_out = w->hall + (t + 1) * BH + (size_t)r0 * H;
        sl_nn_gru_cell_forward_t(h_out, s->cache + t * CF, x, h_out - BH, w->wt_ih, w->wt_hh,
                                 p + G->b_ih, p + G->b_hh, Bt, In, H, s->ws);
        sl_nn_linear_forward_t(w->pred + t * BZ + (size_t)r0 * Z, h_out, w->wt_head,
                               p + w->head.b, Bt, H, Z);
    }
    /* MSE over all T*B*Z entries (sl_nn_mse_loss's formula; this thread's rows of it) */
    float inv = 1.0f / ((float)(T * B) * (float)Z);
    double sse = 0.0;
    for (int t = 0; t < T; t++)
        for (int i = r0; i < r1; i++) {
            size_t o = ((size_t)t * B + i) * Z;
            double sb = 0.0;
            for (int d = 0; d < Z; d++) {
                float e = w->pred[o + d] - w->tgt[o + d];
                sb += (double)(e * e);
                w->dpred[o + d] = 2.0f * e * inv;
            }
            sse += sb;
        }
    s->sse = sse;
    float *dh = s->dh, *dhn = s->dhn;
    memset(dh, 0, (size_t)Bt * H * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        /* dpred[t] already holds the loss gradient plus the next step's input gradient;
         * weight gradients are deferred to the sgemms over all T*B rows after the unroll */
        float *dpt = w->dpred + t * BZ + (size_t)r0 * Z;
        sl_nn_linear_backward(dh, NULL, NULL, dpt, NULL, p + w->head.w, Bt, H, Z);
        memset(dhn, 0, (size_t)Bt * H * sizeof(float));
        memset(s->dx, 0, (size_t)Bt * In * sizeof(float));
        sl_nn_gru_cell_backward_gates(t ? s->dx : NULL, dhn, w->gis + t * G3 + (size_t)r0 * 3 * H,
                                      w->ghs + t * G3 + (size_t)r0 * 3 * H, dh, s->cache + t * CF,
                                      w->hall + t * BH + (size_t)r0 * H, p + G->w_ih,
                                      p + G->w_hh, Bt, In, H);
        if (t) {
            float *dprev = dpt - BZ;
            for (int i = 0; i < Bt; i++)
                for (int k = 0; k < Z; k++) dprev[(size_t)i * Z + k] += s->dx[(size_t)i * In + k];
        }
        float *tmp = dh;
        dh = dhn, dhn = tmp;
    }
}

/* One optimiser step. With n threads, thread k runs the whole 60-step forward and backward of
 * its block of batch rows (sl_nn_part_range: 32 rows each at 2 threads) with no barrier per
 * step, then, after one barrier, its share of the gate rows of every weight gradient over all
 * T*B rows. Same loss and gradients as one thread up to the loss's double summation order
 * (the gradients are bit-identical at any thread count); same thread count => same bits. */
static void wm_step(wm *w) {
    int T = w->T, B = w->B, Z = w->Z, H = w->H, In = w->In;
    const float *p = w->ar.params;
    float *g = w->ar.grads;
    const sl_nn_gru *G = &w->gru;
    sl_nn_arena_zero_grad(&w->ar);
    sl_nn_transpose(w->wt_ih, p + G->w_ih, 3 * H, In);
    sl_nn_transpose(w->wt_hh, p + G->w_hh, 3 * H, H);
    sl_nn_transpose(w->wt_head, p + w->head.w, Z, H);
    int nth = sl_nn_get_threads();
    if (nth > WM_MAXTH) nth = WM_MAXTH;
    if (nth > B / 8) nth = B / 8 > 0 ? B / 8 : 1;
#pragma omp parallel num_threads(nth)
    {
        int k = omp_get_thread_num(), n = omp_get_num_threads(), r0, r1;
        sl_nn_part_range(B, k, n, &r0, &r1);
        w->thr[k].sse = 0.0;
        if (r1 > r0) wm_rows(w, &w->thr[k], r0, r1);
#pragma omp barrier
        sl_nn_linear_weight_grads_part(g + w->head.w, g + w->head.b, w->dpred, w->hs, T * B, H,
                                       Z, k, n);
        sl_nn_gru_weight_grads_part(g + G->w_ih, g + G->w_hh, g + G->b_ih, g + G->b_hh, w->gis,
                                    w->ghs, w->xs, w->hall, T * B, In, H, k, n);
    }
    double sse = 0.0;
    for (int k = 0; k < nth; k++) sse += w->thr[k].sse;
    w->loss = (float)(sse / ((double)T * B * Z));
    sl_nn_arena_adam_step(&w->ar, &w->opt);
}

static double wm_flops(const wm *w) {
    double per_step = (double)w->B * (3.0 * w->H * (w->In + w->H) + (double)w->Z * w->H);
    return 2.0 * 3.0 * per_step * w->T; /* forward + (din + dW) */
}

/* --- timing --- */
typedef void (*step_fn)(void *);
static void sac_step_v(void *z) { sac_update(z); }
static void wm_step_v(void *w) { wm_step(w); }

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* steps per wall second; *cpu_rate = steps per process-CPU second */
static double rate(step_fn f, void *ctx, double *cpu_rate) {
    f(ctx); /* warm up */
    double t0 = sl_now(), c0 = cpu_now(), t;
    long n = 0;
    do {
        f(ctx);
        n++;
        t = sl_now() - t0;
    } while (t < BENCH_SECONDS);
    double c = cpu_now() - c0;
    *cpu_rate = (double)n / (c > 1e-9 ? c : 1e-9);
    return (double)n / t;
}

/* PyTorch rates "<kind> <H> <threads> <rate>" from bench/nn_ref.py */
static double torch_rates[2][2][3], torch_cpu[2][2][3]; /* [kind sac/wm][H 256/64][threads] */

static int run_torch(void) {
    const char *root = getenv("SL_BENCH_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/nn_ref.py %.1f", root ? root : ".",
             BENCH_SECONDS);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    char kind[16];
    int H, th;
    double r, rc;
    int got = 0;
    while (fscanf(f, "%15s %d %d %lf %lf", kind, &H, &th, &r, &rc) == 5) {
        int k = strcmp(kind, "sac") == 0 ? 0 : 1, h = H == 256 ? 0 : 1;
        if (th >= 1 && th <= 2) torch_rates[k][h][th] = r, torch_cpu[k][h][th] = rc, got++;
    }
    return pclose(f) == 0 && got == 8;
}

int main(void) {
    printf("nn bench: C (OpenBLAS sgemm + OpenMP) vs PyTorch %s, %.0f s windows\n", "1.13",
           BENCH_SECONDS);
    double ceil1 = sgemm_gflops(1), ceil2 = sgemm_gflops(2);
    printf("sgemm 1024^3 ceiling: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", ceil1, ceil2);
    int Hs[2] = {256, 64};
    const double goal[2] = {2.5, 5.0};
    /* C first, PyTorch after (see bench_rl.c: forking the reference process re-creates
     * OpenBLAS's thread pool here, and it then spins against libgomp at 2 threads) */
    static double crs[2][3], wrs[2][3], ccs[2][3], wcs[2][3];
    for (int h = 0; h < 2; h++) {
        sac z;
        wm w;
        sac_init(&z, Hs[h]);
        wm_init(&w, Hs[h]);
        for (int th = 1; th <= 2; th++) {
            sl_nn_set_threads(th);
            crs[h][th] = rate(sac_step_v, &z, &ccs[h][th]);
            wrs[h][th] = rate(wm_step_v, &w, &wcs[h][th]);
        }
        sac_free(&z);
        wm_free(&w);
    }
    if (!run_torch()) {
        fprintf(stderr, "bench_nn: bench/nn_ref.py failed\n");
        return 1;
    }
    for (int h = 0; h < 2; h++) {
        const double *cr = crs[h], *wr = wrs[h], *cc = ccs[h], *wc = wcs[h];
        sac z;
        wm w;
        sac_init(&z, Hs[h]); /* for the FLOP counts */
        wm_init(&w, Hs[h]);
        double cb = cr[1] > cr[2] ? cr[1] : cr[2], wb = wr[1] > wr[2] ? wr[1] : wr[2];
        double tb = torch_rates[0][h][1] > torch_rates[0][h][2] ? torch_rates[0][h][1] : torch_rates[0][h][2];
        double tw = torch_rates[1][h][1] > torch_rates[1][h][2] ? torch_rates[1][h][1] : torch_rates[1][h][2];
        printf("SAC update, hidden %d, batch 256: C %.1f/s (1 thr) %.1f/s (2 thr); PyTorch %.1f/s "
               "(1 thr) %.1f/s (2 thr); ratio C best / PyTorch best = %.2fx (goal %.1fx); "
               "%.1f GFLOP/s = %.0f%% of sgemm ceiling\n",
               Hs[h], cr[1], cr[2], torch_rates[0][h][1], torch_rates[0][h][2], cb / tb, goal[h],
               sac_flops(&z) * cb / 1e9, 100.0 * sac_flops(&z) * cb / 1e9 / ceil2);
        printf("  1-thread per CPU-second: SAC C %.1f/s PyTorch %.1f/s ratio %.2fx; GRU C %.2f/s "
               "PyTorch %.2f/s ratio %.2fx\n",
               cc[1], torch_cpu[0][h][1], cc[1] / torch_cpu[0][h][1], wc[1], torch_cpu[1][h][1],
               wc[1] / torch_cpu[1][h][1]);
        printf("GRU BPTT 60 steps, batch 64, hidden %d: C %.2f/s (1 thr) %.2f/s (2 thr); PyTorch "
               "%.2f/s (1 thr) %.2f/s (2 thr); ratio C best / PyTorch best = %.2fx (goal %.1fx); "
               "%.1f GFLOP/s = %.0f%% of sgemm ceiling\n",
               Hs[h], wr[1], wr[2], torch_rates[1][h][1], torch_rates[1][h][2], wb / tw, goal[h],
               wm_flops(&w) * wb / 1e9, 100.0 * wm_flops(&w) * wb / 1e9 / ceil2);
        sac_free(&z);
        wm_free(&w);
    }
    sl_nn_set_threads(0);
    return 0;
}
