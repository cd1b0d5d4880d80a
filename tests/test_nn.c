/* SPDX-License-Identifier: Apache-2.0 */
/* test_nn.c - the nn engine against itself: float64 finite-difference gradient checks of every
 * reference layer and loss, fast float32 kernels against the float32 reference kernels over
 * many shapes, the arena, optimisers, "backward adds / NULL skips" and bit determinism.
 * (PyTorch parity lives in test_nn_torch.c.)
 *
 * Gradient-check criterion: central differences with h = 1e-6 on the float64 reference
 * kernels; per tensor, relative error = ||analytic - numeric||_2 / max(||numeric||_2, 1e-12)
 * must be < 1e-6. Fast-vs-reference criterion: max|fast - ref| / max(max|ref|, 1e-30) < 2e-5.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "harness.h"
#include "nn/nn_internal.h"
#include "nn/nn_ref.h"
#include "synthloop/sl_nn.h"

/* --- helpers --- */

static sl_rng g_rng;

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) abort();
    return p;
}
static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}
static void dfill(double *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * sl_rng_uniform_range(&g_rng, -1.0, 1.0);
}
static void ffill(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * sl_rng_uniform_range(&g_rng, -1.0, 1.0));
}
static double ddot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* --- finite-difference gradient check --- */

typedef double (*loss_fn)(void *ctx);
typedef struct gc_var {
    const char *name;
    double *x;       /* variable (perturbed in place) */
    const double *g; /* analytic gradient */
    size_t n;
} gc_var;

#define GC_H 1e-6
#define GC_TOL 1e-6
static int gc_expect_fail = 0; /* self-test: a wrong gradient must be caught */
static double gc_worst = 0;

/* Returns the worst relative error; reports each tensor above GC_TOL. */
static double gradcheck(const char *what, loss_fn f, void *ctx, const gc_var *v, int nv) {
    double worst = 0;
    for (int k = 0; k < nv; k++) {
        double num2 = 0, diff2 = 0;
        for (size_t i = 0; i < v[k].n; i++) {
            double keep = v[k].x[i];
            v[k].x[i] = keep + GC_H;
            double fp = f(ctx);
            v[k].x[i] = keep - GC_H;
            double fm = f(ctx);
            v[k].x[i] = keep;
            double num = (fp - fm) / (2 * GC_H);
            num2 += num * num;
            diff2 += (num - v[k].g[i]) * (num - v[k].g[i]);
        }
        double rel = sqrt(diff2) / fmax(sqrt(num2), 1e-12);
        if (rel > worst) worst = rel;
        if (rel > gc_worst && !gc_expect_fail) gc_worst = rel;
        CHECK_MSG(rel < GC_TOL || gc_expect_fail, "gradcheck %s/%s: relative error %.3g (|num| %.3g)", what,
                  v[k].name, rel, sqrt(num2));
    }
    return worst;
}

/* relative max-abs error of fast vs reference */
static double relerr_f(const float *a, const float *ref, size_t n) {
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)ref[i]), d = fabs((double)a[i] - (double)ref[i]);
        if (r > mx) mx = r;
        if (d > md || d != d) md = d != d ? (double)INFINITY : d;
    }
    return md / fmax(mx, 1e-30);
}
#define FTOL 2e-5
#define CHECK_FAST(what, a, ref, n)                                                          \
    do {                                                                                     \
        double e_ = relerr_f(a, ref, n);                                                     \
        CHECK_MSG(e_ < FTOL, "%s: fast vs reference relative error %.3g", what, e_);         \
    } while (0)

/* ======================= float64 gradient checks ======================= */

/* linear */
typedef struct {
    int B, C, OC, bias;
    double *x, *w, *b, *R, *out;
} lin_ctx;
static double lin_loss(void *p) {
    lin_ctx *c = p;
    sl_nn_ref_linear_forward_f64(c->out, c->x, c->w, c->bias ? c->b : NULL, c->B, c->C, c->OC);
    return ddot(c->out, c->R, (size_t)c->B * c->OC);
}
TEST(gradcheck_linear) {
    int shapes[][3] = {{1, 1, 1}, {3, 4, 5}, {5, 7, 2}};
    for (int s = 0; s < 3; s++)
        for (int bias = 0; bias < 2; bias++) {
            lin_ctx c = {shapes[s][0], shapes[s][1], shapes[s][2], bias, 0, 0, 0, 0, 0};
            size_t nx = (size_t)c.B * c.C, nw = (size_t)c.OC * c.C, no = (size_t)c.B * c.OC;
            c.x = dalloc(nx), c.w = dalloc(nw), c.b = dalloc(c.OC), c.R = dalloc(no), c.out = dalloc(no);
            dfill(c.x, nx, 1), dfill(c.w, nw, 1), dfill(c.b, c.OC, 1), dfill(c.R, no, 1);
            double *dx = dalloc(nx), *dw = dalloc(nw), *db = dalloc(c.OC);
            sl_nn_ref_linear_backward_f64(dx, dw, bias ? db : NULL, c.R, c.x, c.w, c.B, c.C, c.OC);
            gc_var v[] = {{"x", c.x, dx, nx}, {"w", c.w, dw, nw}, {"b", c.b, db, (size_t)c.OC}};
            gradcheck("linear", lin_loss, &c, v, bias ? 3 : 2);
            free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(dx), free(dw), free(db);
        }
}

TEST(gradcheck_detects_wrong_gradient) {
    lin_ctx c = {3, 4, 5, 1, dalloc(12), dalloc(20), dalloc(5), dalloc(15), dalloc(15)};
    dfill(c.x, 12, 1), dfill(c.w, 20, 1), dfill(c.b, 5, 1), dfill(c.R, 15, 1);
    double *dx = dalloc(12), *dw = dalloc(20), *db = dalloc(5);
    sl_nn_ref_linear_backward_f64(dx, dw, db, c.R, c.x, c.w, 3, 4, 5);
    dw[7] *= 1.0001; /* a 1e-4 error in one element */
    gc_var v[] = {{"w", c.w, dw, 20}};
    gc_expect_fail = 1;
    double e = gradcheck("linear-broken", lin_loss, &c, v, 1);
    gc_expect_fail = 0;
    CHECK_MSG(e > GC_TOL, "gradcheck missed a wrong gradient (error %.3g)", e);
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(dx), free(dw), free(db);
}

/* activations */
typedef struct {
    size_t n;
    sl_nn_act act;
    double *x, *R, *out;
} act_ctx;
static double act_loss(void *p) {
    act_ctx *c = p;
    sl_nn_ref_act_forward_f64(c->out, c->x, c->n, c->act);
    return ddot(c->out, c->R, c->n);
}
TEST(gradcheck_activations) {
    for (int a = 0; a < SL_NN_ACT_COUNT; a++) {
        act_ctx c = {40, (sl_nn_act)a, dalloc(40), dalloc(40), dalloc(40)};
        dfill(c.x, c.n, 3), dfill(c.R, c.n, 1);
        for (size_t i = 0; i < c.n; i++) /* keep ReLU's kink out of the difference stencil */
            if (fabs(c.x[i]) < 1e-3) c.x[i] = 0.5;
        double *dx = dalloc(c.n);
        sl_nn_ref_act_forward_f64(c.out, c.x, c.n, c.act);
        sl_nn_ref_act_backward_f64(dx, c.R, c.x, c.out, c.n, c.act);
        gc_var v[] = {{sl_nn_act_name(c.act), c.x, dx, c.n}};
        gradcheck("act", act_loss, &c, v, 1);
        free(c.x), free(c.R), free(c.out), free(dx);
    }
}

/* layer norm */
typedef struct {
    int B, C;
    double *x, *w, *b, *R, *out, *mean, *rstd;
} ln_ctx;
static double ln_loss(void *p) {
    ln_ctx *c = p;
    sl_nn_ref_layernorm_forward_f64(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->B, c->C, 1e-5);
    return ddot(c->out, c->R, (size_t)c->B * c->C);
}
TEST(gradcheck_layernorm) {
    int shapes[][2] = {{1, 2}, {3, 6}, {4, 9}};
    for (int s = 0; s < 3; s++) {
        ln_ctx c = {shapes[s][0], shapes[s][1], 0, 0, 0, 0, 0, 0, 0};
        size_t n = (size_t)c.B * c.C;
        c.x = dalloc(n), c.w = dalloc(c.C), c.b = dalloc(c.C), c.R = dalloc(n), c.out = dalloc(n);
        c.mean = dalloc(c.B), c.rstd = dalloc(c.B);
        dfill(c.x, n, 2), dfill(c.w, c.C, 1), dfill(c.b, c.C, 1), dfill(c.R, n, 1);
        double *dx = dalloc(n), *dw = dalloc(c.C), *db = dalloc(c.C);
        ln_loss(&c);
        sl_nn_ref_layernorm_backward_f64(dx, dw, db, c.R, c.x, c.mean, c.rstd, c.w, c.B, c.C);
        gc_var v[] = {{"x", c.x, dx, n}, {"w", c.w, dw, (size_t)c.C}, {"b", c.b, db, (size_t)c.C}};
        gradcheck("layernorm", ln_loss, &c, v, 3);
        free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(c.mean), free(c.rstd);
        free(dx), free(dw), free(db);
    }
}

/* GRU (cell when T == 0, unrolled otherwise) */
typedef struct {
    int T, B, In, H;
    double *x, *h0, *wih, *whh, *bih, *bhh, *R, *hs, *cache, *ws;
} gru_ctx;
static double gru_loss(void *p) {
    gru_ctx *c = p;
    int T = c->T ? c->T : 1;
    if (c->T)
        sl_nn_ref_gru_forward_f64(c->hs, c->cache, c->x, c->h0, c->wih, c->whh, c->bih, c->bhh,
                                  c->T, c->B, c->In, c->H, c->ws);
    else
        sl_nn_ref_gru_cell_forward_f64(c->hs, c->cache, c->x, c->h0, c->wih, c->whh, c->bih,
                                       c->bhh, c->B, c->In, c->H, c->ws);
    return ddot(c->hs, c->R, (size_t)T * c->B * c->H);
}
static void gru_gradcheck(int T, int B, int In, int H) {
    gru_ctx c = {T, B, In, H, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int TT = T ? T : 1;
    size_t nx = (size_t)TT * B * In, nh = (size_t)B * H, nwi = (size_t)3 * H * In;
    size_t nwh = (size_t)3 * H * H, nb = (size_t)3 * H, nhs = (size_t)TT * B * H;
    c.x = dalloc(nx), c.h0 = dalloc(nh), c.wih = dalloc(nwi), c.whh = dalloc(nwh);
    c.bih = dalloc(nb), c.bhh = dalloc(nb), c.R = dalloc(nhs), c.hs = dalloc(nhs);
    c.cache = dalloc((size_t)TT * sl_nn_gru_cache_floats(B, H));
    c.ws = dalloc(sl_nn_gru_ws_floats(B, H));
    dfill(c.x, nx, 1), dfill(c.h0, nh, 1), dfill(c.wih, nwi, 0.8), dfill(c.whh, nwh, 0.8);
    dfill(c.bih, nb, 0.5), dfill(c.bhh, nb, 0.5), dfill(c.R, nhs, 1);
    double *dx = dalloc(nx), *dh = dalloc(nh), *dwi = dalloc(nwi), *dwh = dalloc(nwh);
    double *dbi = dalloc(nb), *dbh = dalloc(nb);
    gru_loss(&c);
    if (T)
        sl_nn_ref_gru_backward_f64(dx, dh, dwi, dwh, dbi, dbh, c.R, c.hs, c.cache, c.x, c.h0,
                                   c.wih, c.whh, T, B, In, H, c.ws);
    else
        sl_nn_ref_gru_cell_backward_f64(dx, dh, dwi, dwh, dbi, dbh, c.R, c.cache, c.x, c.h0,
                                        c.wih, c.whh, B, In, H, c.ws);
    gc_var v[] = {{"x", c.x, dx, nx},        {"h0", c.h0, dh, nh},     {"w_ih", c.wih, dwi, nwi},
                  {"w_hh", c.whh, dwh, nwh}, {"b_ih", c.bih, dbi, nb}, {"b_hh", c.bhh, dbh, nb}};
    gradcheck(T ? "gru_bptt" : "gru_cell", gru_loss, &c, v, 6);
    free(c.x), free(c.h0), free(c.wih), free(c.whh), free(c.bih), free(c.bhh), free(c.R);
    free(c.hs), free(c.cache), free(c.ws);
    free(dx), free(dh), free(dwi), free(dwh), free(dbi), free(dbh);
}
TEST(gradcheck_gru_cell) {
    gru_gradcheck(0, 1, 1, 1);
    gru_gradcheck(0, 2, 3, 4);
}
TEST(gradcheck_gru_bptt) {
    gru_gradcheck(6, 2, 3, 4);
    gru_gradcheck(12, 1, 2, 3);
}

/* tanh-Gaussian head */
typedef struct {
    int B, A;
    double *in, *eps, *Ra, *Rl, *act, *logp;
} tg_ctx;
static double tg_loss(void *p) {
    tg_ctx *c = p;
    sl_nn_ref_tanh_gaussian_forward_f64(c->act, c->logp, c->in, c->eps, c->B, c->A);
    return ddot(c->act, c->Ra, (size_t)c->B * c->A) + ddot(c->logp, c->Rl, (size_t)c->B);
}
TEST(gradcheck_tanh_gaussian) {
    tg_ctx c = {4, 3, 0, 0, 0, 0, 0, 0};
    size_t ni = (size_t)c.B * 2 * c.A, na = (size_t)c.B * c.A;
    c.in = dalloc(ni), c.eps = dalloc(na), c.Ra = dalloc(na), c.Rl = dalloc(c.B);
    c.act = dalloc(na), c.logp = dalloc(c.B);
    dfill(c.in, ni, 1.5), dfill(c.eps, na, 1.5), dfill(c.Ra, na, 1), dfill(c.Rl, c.B, 1);
    c.in[c.A] = -25.0; /* a clamped log_std: its gradient is 0 */
    c.in[2 * c.A + c.A + 1] = 3.0;
    double *din = dalloc(ni);
    tg_loss(&c);
    sl_nn_ref_tanh_gaussian_backward_f64(din, c.Ra, c.Rl, c.act, c.in, c.eps, c.B, c.A);
    CHECK(din[c.A] == 0.0);
    gc_var v[] = {{"in", c.in, din, ni}};
    gradcheck("tanh_gaussian", tg_loss, &c, v, 1);
    free(c.in), free(c.eps), free(c.Ra), free(c.Rl), free(c.act), free(c.logp), free(din);
}

/* losses */
typedef struct {
    int kind, B, D, flag;
    double *a, *b, *t, *w, *ws;
} loss_ctx;
static double loss_eval(void *p) {
    loss_ctx *c = p;
    size_t n = (size_t)c->B * c->D;
    switch (c->kind) {
    case 0: return sl_nn_ref_mse_loss_f64(NULL, c->a, c->t, c->flag ? c->w : NULL, c->B, c->D);
    case 1: return sl_nn_ref_gaussian_nll_loss_f64(NULL, NULL, c->a, c->b, c->t, n, c->flag);
    case 2: return sl_nn_ref_bce_logits_loss_f64(NULL, c->a, c->t, c->flag ? c->w : NULL, n);
    default: return sl_nn_ref_infonce_loss_f64(NULL, NULL, c->a, c->b, c->B, c->D, 0.3, c->ws);
    }
}
TEST(gradcheck_losses) {
    const char *names[] = {"mse", "gaussian_nll", "bce_logits", "infonce"};
    for (int kind = 0; kind < 4; kind++)
        for (int flag = 0; flag < 2; flag++) {
            loss_ctx c = {kind, 5, 3, flag, 0, 0, 0, 0, 0};
            size_t n = (size_t)c.B * c.D;
            c.a = dalloc(n), c.b = dalloc(n), c.t = dalloc(n), c.w = dalloc(n);
            c.ws = dalloc((size_t)c.B * c.B);
            dfill(c.a, n, 2), dfill(c.b, n, 1), dfill(c.t, n, 1);
            for (size_t i = 0; i < n; i++) c.w[i] = sl_rng_uniform(&g_rng) + 0.1;
            if (kind == 2) {
                for (size_t i = 0; i < n; i++) c.t[i] = sl_rng_uniform(&g_rng);
                c.a[0] = 40.0, c.a[1] = -40.0; /* far tails stay finite and exact */
            }
            double *ga = dalloc(n), *gb = dalloc(n);
            double L;
            switch (kind) {
            case 0: L = sl_nn_ref_mse_loss_f64(ga, c.a, c.t, flag ? c.w : NULL, c.B, c.D); break;
            case 1: L = sl_nn_ref_gaussian_nll_loss_f64(ga, gb, c.a, c.b, c.t, n, flag); break;
            case 2: L = sl_nn_ref_bce_logits_loss_f64(ga, c.a, c.t, flag ? c.w : NULL, n); break;
            default: L = sl_nn_ref_infonce_loss_f64(ga, gb, c.a, c.b, c.B, c.D, 0.3, c.ws); break;
            }
            CHECK(isfinite(L));
            CHECK_CLOSE(L, loss_eval(&c), 1e-15);
            gc_var v[] = {{"input", c.a, ga, n}, {"input2", c.b, gb, n}};
            gradcheck(names[kind], loss_eval, &c, v, kind == 1 || kind == 3 ? 2 : 1);
            free(c.a), free(c.b), free(c.t), free(c.w), free(c.ws), free(ga), free(gb);
        }
}

/* ======================= fast float32 vs reference float32 ======================= */

TEST(fast_linear_matches_ref) {
    int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 40, 256}, {256, 256, 1}, {33, 17, 65}};
    for (int s = 0; s < 5; s++) {
        int B = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        size_t nx = (size_t)B * C, nw = (size_t)OC * C, no = (size_t)B * OC;
        float *x = falloc(nx), *w = falloc(nw), *b = falloc(OC), *dout = falloc(no);
        float *y1 = falloc(no), *y2 = falloc(no);
        float *dx1 = falloc(nx), *dx2 = falloc(nx), *dw1 = falloc(nw), *dw2 = falloc(nw);
        float *db1 = falloc(OC), *db2 = falloc(OC);
        ffill(x, nx, 1), ffill(w, nw, 1), ffill(b, OC, 1), ffill(dout, no, 1);
        ffill(dx1, nx, 1), memcpy(dx2, dx1, nx * 4); /* backward must ADD */
        sl_nn_linear_forward(y1, x, w, b, B, C, OC);
        sl_nn_ref_linear_forward_f32(y2, x, w, b, B, C, OC);
        CHECK_FAST("linear fwd", y1, y2, no);
        sl_nn_linear_forward(y1, x, w, NULL, B, C, OC);
        sl_nn_ref_linear_forward_f32(y2, x, w, NULL, B, C, OC);
        CHECK_FAST("linear fwd nobias", y1, y2, no);
        sl_nn_linear_backward(dx1, dw1, db1, dout, x, w, B, C, OC);
        sl_nn_ref_linear_backward_f32(dx2, dw2, db2, dout, x, w, B, C, OC);
        CHECK_FAST("linear dx", dx1, dx2, nx);
        CHECK_FAST("linear dw", dw1, dw2, nw);
        CHECK_FAST("linear db", db1, db2, (size_t)OC);
        /* NULLs skip, and a second call doubles the weight gradient */
        sl_nn_linear_backward(NULL, dw1, NULL, dout, x, w, B, C, OC);
        for (size_t i = 0; i < nw; i++) dw2[i] *= 2;
        CHECK_FAST("linear dw accumulates", dw1, dw2, nw);
        free(x), free(w), free(b), free(dout), free(y1), free(y2), free(dx1), free(dx2);
        free(dw1), free(dw2), free(db1), free(db2);
    }
}

/* sl_nn_sgemm (the AVX-512 micro-kernel where built, else cblas) against a float64 product:
 * every transpose combination, row/column tails of the 8x32 blocks, K across the 256-deep
 * packing blocks, padded leading dimensions, alpha/beta, and bit-identical repeats. */
TEST(fast_sgemm_matches_float64) {
    int shapes[][3] = {{1, 1, 1},   {8, 32, 64},  {7, 33, 5},   {256, 64, 64}, {64, 64, 256},
                       {9, 17, 40}, {15, 48, 1},  {1, 64, 256}, {256, 1, 64},  {192, 64, 3840},
                       {13, 31, 257}, {40, 100, 513}, {72, 45, 600}, {64, 33, 257}};
    const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.3f, 0.5f}};
    printf("info: sgemm micro-kernel %s\n", sl_nn_gemm_fast_available() ? "AVX-512" : "off (cblas)");
    for (int th = 1; th <= 2; th++) /* 1 thread: every shape on the micro-kernel */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            sl_nn_set_threads(th);
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = falloc(na), *Bm = falloc(nb), *C0 = falloc(nc), *C1 = falloc(nc), *C2 = falloc(nc);
            double *ref = dalloc((size_t)M * N);
            ffill(A, na, 1), ffill(Bm, nb, 1), ffill(C0, nc, 1);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0.0;
                    for (int k = 0; k < K; k++)
                        acc += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                               (double)(tb ? Bm[(size_t)j * ldb + k] : Bm[(size_t)k * ldb + j]);
                    ref[(size_t)i * N + j] = acc;
                }
            for (int c = 0; c < 3; c++) {
                float al = ab[c][0], be = ab[c][1];
                memcpy(C1, C0, nc * 4), memcpy(C2, C0, nc * 4);
                sl_nn_sgemm(ta, tb, M, N, K, al, A, lda, Bm, ldb, be, C1, ldc);
                sl_nn_sgemm(ta, tb, M, N, K, al, A, lda, Bm, ldb, be, C2, ldc);
                CHECK(memcmp(C1, C2, nc * 4) == 0);
                double worst = 0.0, scale = 1e-30;
                int pad_ok = 1;
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < N; j++) {
                        size_t o = (size_t)i * ldc + j;
                        double want = (double)al * ref[(size_t)i * N + j] + (double)be * (double)C0[o];
                        double d = fabs((double)C1[o] - want);
                        worst = d > worst ? d : worst;
                        scale = fabs(want) > scale ? fabs(want) : scale;
                    }
                    for (int j = N; j < ldc; j++) pad_ok &= C1[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
                }
                CHECK_MSG(pad_ok, "sgemm wrote outside C (M %d N %d K %d ta %d tb %d)", M, N, K, ta, tb);
                CHECK_MSG(worst / scale < 2e-6, "sgemm M %d N %d K %d ta %d tb %d alpha %g beta %g: "
                          "max err %.3g (scale %.3g)", M, N, K, ta, tb, (double)al, (double)be,
                          worst, scale);
            }
            /* fused output stage: C = op(A) op(B) + bias, relu = max(C, 0) */
            float *bias = falloc((size_t)N), *R = falloc(nc);
            ffill(bias, (size_t)N, 1);
            memcpy(C1, C0, nc * 4), memcpy(R, C0, nc * 4);
            sl_nn_sgemm_ex(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C1, ldc, bias, R);
            double worst = 0.0, scale = 1e-30;
            int relu_ok = 1;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < ldc; j++) {
                    size_t o = (size_t)i * ldc + j;
                    if (j >= N) {
                        relu_ok &= C1[o] == C0[o] && R[o] == C0[o];
                        continue;
                    }
                    double want = ref[(size_t)i * N + j] + (double)bias[j];
                    worst = fmax(worst, fabs((double)C1[o] - want));
                    scale = fmax(scale, fabs(want));
                    relu_ok &= R[o] == (C1[o] > 0.0f ? C1[o] : 0.0f);
                }
            CHECK_MSG(relu_ok, "sgemm_ex relu/padding wrong (M %d N %d K %d ta %d tb %d)", M, N, K, ta, tb);
            CHECK_MSG(worst / scale < 2e-6, "sgemm_ex bias M %d N %d K %d ta %d tb %d: err %.3g",
                      M, N, K, ta, tb, worst / scale);
            free(bias), free(R);
            free(A), free(Bm), free(C0), free(C1), free(C2), free(ref);
        }
    sl_nn_set_threads(0);
}

TEST(fast_activations_match_ref) {
    size_t n = 3001;
    float *x = falloc(n), *y1 = falloc(n), *y2 = falloc(n), *d = falloc(n);
    float *g1 = falloc(n), *g2 = falloc(n);
    for (int a = 0; a < SL_NN_ACT_COUNT; a++) {
        ffill(x, n, 12), ffill(d, n, 1);
        x[0] = 100.0f, x[1] = -100.0f, x[2] = 0.0f, x[3] = 1e-6f, x[4] = -0.6f;
        memset(g1, 0, n * 4), memset(g2, 0, n * 4);
        sl_nn_act_forward(y1, x, n, (sl_nn_act)a);
        sl_nn_ref_act_forward_f32(y2, x, n, (sl_nn_act)a);
        CHECK_MSG(relerr_f(y1, y2, n) < FTOL, "act %s fwd", sl_nn_act_name((sl_nn_act)a));
        for (size_t i = 0; i < n; i++) /* element-wise too: small values keep their precision */
            CHECK_MSG(fabsf(y1[i] - y2[i]) <= 3e-7f * fmaxf(fabsf(y2[i]), 1e-3f),
                      "act %s x=%g: %g vs %g", sl_nn_act_name((sl_nn_act)a), (double)x[i],
                      (double)y1[i], (double)y2[i]);
        sl_nn_act_backward(g1, d, x, y1, n, (sl_nn_act)a);
        sl_nn_ref_act_backward_f32(g2, d, x, y2, n, (sl_nn_act)a);
        CHECK_MSG(relerr_f(g1, g2, n) < FTOL, "act %s bwd", sl_nn_act_name((sl_nn_act)a));
    }
    sl_nn_act parsed;
    CHECK_OK(sl_nn_act_parse("silu", &parsed));
    CHECK(parsed == SL_NN_ACT_SILU);
    CHECK_STATUS(sl_nn_act_parse("gelu", &parsed), SL_ERR_ARG);
    CHECK(sl_nn_act_name(SL_NN_ACT_COUNT) == NULL);
    free(x), free(y1), free(y2), free(d), free(g1), free(g2);
}

TEST(fast_layernorm_matches_ref) {
    int shapes[][2] = {{1, 3}, {5, 7}, {300, 256}};
    for (int s = 0; s < 3; s++) {
        int B = shapes[s][0], C = shapes[s][1];
        size_t n = (size_t)B * C;
        float *x = falloc(n), *w = falloc(C), *b = falloc(C), *d = falloc(n);
        float *y1 = falloc(n), *y2 = falloc(n), *m1 = falloc(B), *m2 = falloc(B);
        float *r1 = falloc(B), *r2 = falloc(B), *dx1 = falloc(n), *dx2 = falloc(n);
        float *dw1 = falloc(C), *dw2 = falloc(C), *db1 = falloc(C), *db2 = falloc(C);
        ffill(x, n, 3), ffill(w, C, 1), ffill(b, C, 1), ffill(d, n, 1);
        sl_nn_layernorm_forward(y1, m1, r1, x, w, b, B, C, 1e-5f);
        sl_nn_ref_layernorm_forward_f32(y2, m2, r2, x, w, b, B, C, 1e-5f);
        CHECK_FAST("ln fwd", y1, y2, n);
        CHECK_FAST("ln rstd", r1, r2, (size_t)B);
        sl_nn_layernorm_backward(dx1, dw1, db1, d, x, m1, r1, w, B, C);
        sl_nn_ref_layernorm_backward_f32(dx2, dw2, db2, d, x, m2, r2, w, B, C);
        CHECK_FAST("ln dx", dx1, dx2, n);
        CHECK_FAST("ln dw", dw1, dw2, (size_t)C);
        CHECK_FAST("ln db", db1, db2, (size_t)C);
        free(x), free(w), free(b), free(d), free(y1), free(y2), free(m1), free(m2), free(r1);
        free(r2), free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
    }
}

static void gru_fast_vs_ref(int T, int B, int In, int H) {
    int TT = T ? T : 1;
    size_t nx = (size_t)TT * B * In, nh = (size_t)B * H, nwi = (size_t)3 * H * In;
    size_t nwh = (size_t)3 * H * H, nb = (size_t)3 * H, nhs = (size_t)TT * B * H;
    size_t nc = (size_t)TT * sl_nn_gru_cache_floats(B, H), nws = sl_nn_gru_ws_floats(B, H);
    float *x = falloc(nx), *h0 = falloc(nh), *wi = falloc(nwi), *wh = falloc(nwh);
    float *bi = falloc(nb), *bh = falloc(nb), *R = falloc(nhs);
    float *hs[2], *cache[2], *ws[2], *g[2][6];
    size_t gn[6] = {nx, nh, nwi, nwh, nb, nb};
    const char *gname[6] = {"dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"};
    ffill(x, nx, 1), ffill(h0, nh, 1), ffill(wi, nwi, 1.0 / sqrt(H)), ffill(wh, nwh, 1.0 / sqrt(H));
    ffill(bi, nb, 0.3), ffill(bh, nb, 0.3), ffill(R, nhs, 1);
    for (int k = 0; k < 2; k++) {
        hs[k] = falloc(nhs), cache[k] = falloc(nc), ws[k] = falloc(nws);
        for (int j = 0; j < 6; j++) g[k][j] = falloc(gn[j]);
    }
    if (T) {
        sl_nn_gru_forward(hs[0], cache[0], x, h0, wi, wh, bi, bh, T, B, In, H, ws[0]);
        sl_nn_ref_gru_forward_f32(hs[1], cache[1], x, h0, wi, wh, bi, bh, T, B, In, H, ws[1]);
        sl_nn_gru_backward(g[0][0], g[0][1], g[0][2], g[0][3], g[0][4], g[0][5], R, hs[0],
                           cache[0], x, h0, wi, wh, T, B, In, H, ws[0]);
        sl_nn_ref_gru_backward_f32(g[1][0], g[1][1], g[1][2], g[1][3], g[1][4], g[1][5], R,
                                   hs[1], cache[1], x, h0, wi, wh, T, B, In, H, ws[1]);
    } else {
        sl_nn_gru_cell_forward(hs[0], cache[0], x, h0, wi, wh, bi, bh, B, In, H, ws[0]);
        sl_nn_ref_gru_cell_forward_f32(hs[1], cache[1], x, h0, wi, wh, bi, bh, B, In, H, ws[1]);
        sl_nn_gru_cell_backward(g[0][0], g[0][1], g[0][2], g[0][3], g[0][4], g[0][5], R,
                                cache[0], x, h0, wi, wh, B, In, H, ws[0]);
        sl_nn_ref_gru_cell_backward_f32(g[1][0], g[1][1], g[1][2], g[1][3], g[1][4], g[1][5], R,
                                        cache[1], x, h0, wi, wh, B, In, H, ws[1]);
    }
    CHECK_FAST("gru hs", hs[0], hs[1], nhs);
    CHECK_FAST("gru cache", cache[0], cache[1], nc);
    for (int j = 0; j < 6; j++) CHECK_FAST(gname[j], g[0][j], g[1][j], gn[j]);
    /* all-NULL gradients except dh0 still give the same dh0 */
    if (T) {
        float *dh = falloc(nh);
        sl_nn_gru_backward(NULL, dh, NULL, NULL, NULL, NULL, R, hs[0], cache[0], x, h0, wi, wh, T,
                           B, In, H, ws[0]);
        CHECK_FAST("gru dh0 alone", dh, g[1][1], nh);
        free(dh);
        /* deferred weight gradients: per-step gate gradients, then one sgemm over T*B rows */
        size_t g3 = (size_t)B * 3 * H;
        float *gih = falloc((size_t)T * g3), *ghh = falloc((size_t)T * g3);
        float *hprev = falloc((size_t)T * nh), *acc = falloc(nh), *carry = falloc(nh);
        float *d[6];
        for (int j = 0; j < 6; j++) d[j] = falloc(gn[j]);
        memcpy(hprev, h0, nh * sizeof(float));
        memcpy(hprev + nh, hs[0], (size_t)(T - 1) * nh * sizeof(float));
        for (int t = T - 1; t >= 0; t--) {
            for (size_t i = 0; i < nh; i++) acc[i] = R[(size_t)t * nh + i] + carry[i];
            memset(carry, 0, nh * sizeof(float));
            sl_nn_gru_cell_backward_gates(d[0] + (size_t)t * B * In, carry, gih + t * g3,
                                          ghh + t * g3, acc, cache[0] + t * sl_nn_gru_cache_floats(B, H),
                                          hprev + t * nh, wi, wh, B, In, H);
        }
        memcpy(d[1], carry, nh * sizeof(float));
        sl_nn_gru_weight_grads(d[2], d[3], d[4], d[5], gih, ghh, x, hprev, T * B, In, H);
        for (int j = 0; j < 6; j++) {
            char what[64];
            snprintf(what, sizeof what, "gru deferred %s", gname[j]);
            CHECK_FAST(what, d[j], g[1][j], gn[j]);
            free(d[j]);
        }
        free(gih), free(ghh), free(hprev), free(acc), free(carry);
    }
    free(x), free(h0), free(wi), free(wh), free(bi), free(bh), free(R);
    for (int k = 0; k < 2; k++) {
        free(hs[k]), free(cache[k]), free(ws[k]);
        for (int j = 0; j < 6; j++) free(g[k][j]);
    }
}
TEST(fast_gru_matches_ref) {
    gru_fast_vs_ref(0, 1, 1, 1);
    gru_fast_vs_ref(0, 3, 5, 7);
    gru_fast_vs_ref(0, 64, 40, 256);
    gru_fast_vs_ref(10, 4, 5, 8);
    gru_fast_vs_ref(20, 16, 40, 64);
}

/* The building blocks of a batch-split BPTT step (bench_nn's world-model step): weights
 * transposed once, the cell forward on blocks of rows inside a parallel region, the weight
 * gradients in shares. Each must give the same bits as the one-call kernels, and match the
 * float32 reference kernels. */
static void gru_split_vs_full(int T, int B, int In, int H, int nparts) {
    int H3 = 3 * H;
    size_t nx = (size_t)T * B * In, nh = (size_t)B * H, nwi = (size_t)H3 * In, nwh = (size_t)H3 * H;
    size_t CF = sl_nn_gru_cache_floats(B, H);
    float *x = falloc(nx), *hall = falloc((size_t)(T + 1) * nh), *wi = falloc(nwi);
    float *wh = falloc(nwh), *bi = falloc((size_t)H3), *bh = falloc((size_t)H3);
    float *wit = falloc(nwi), *wht = falloc(nwh), *hs1 = falloc((size_t)T * nh);
    float *cache0 = falloc((size_t)T * CF), *ws = falloc(sl_nn_gru_ws_floats(B, H));
    float *gih = falloc((size_t)T * B * H3), *ghh = falloc((size_t)T * B * H3);
    ffill(x, nx, 1), ffill(hall, nh, 1), ffill(wi, nwi, 1.0 / sqrt(H)), ffill(wh, nwh, 1.0 / sqrt(H));
    ffill(bi, (size_t)H3, 0.3), ffill(bh, (size_t)H3, 0.3);
    ffill(gih, (size_t)T * B * H3, 1), ffill(ghh, (size_t)T * B * H3, 1);
    /* transpose */
    sl_nn_transpose(wit, wi, H3, In);
    sl_nn_transpose(wht, wh, H3, H);
    int tr_ok = 1;
    for (int r = 0; r < H3; r++) {
        for (int c = 0; c < In; c++) tr_ok &= wit[(size_t)c * H3 + r] == wi[(size_t)r * In + c];
        for (int c = 0; c < H; c++) tr_ok &= wht[(size_t)c * H3 + r] == wh[(size_t)r * H + c];
    }
    CHECK_MSG(tr_ok, "sl_nn_transpose %dx%d / %dx%d", H3, In, H3, H);
    /* reference: the one-call forward over all rows, T steps */
    for (int t = 0; t < T; t++)
        sl_nn_gru_cell_forward(hall + (size_t)(t + 1) * nh, cache0 + t * CF, x + (size_t)t * B * In,
                               hall + (size_t)t * nh, wi, wh, bi, bh, B, In, H, ws);
    /* split: each thread its block of rows through all T steps (own cache and ws) */
    int ok_h = 1, ok_c = 1;
#pragma omp parallel num_threads(nparts)
    {
        int k = omp_get_thread_num(), n = omp_get_num_threads(), r0, r1;
        sl_nn_part_range(B, k, n, &r0, &r1);
        int Bt = r1 - r0;
        if (Bt > 0) {
            size_t CFt = sl_nn_gru_cache_floats(Bt, H);
            float *c1 = falloc((size_t)T * CFt), *w1 = falloc(sl_nn_gru_ws_floats(Bt, H));
            for (int t = 0; t < T; t++) {
                const float *hin = t ? hs1 + (size_t)(t - 1) * nh : hall;
                sl_nn_gru_cell_forward_t(hs1 + (size_t)t * nh + (size_t)r0 * H, c1 + t * CFt,
                                         x + ((size_t)t * B + r0) * In, hin + (size_t)r0 * H,
                                         wit, wht, bi, bh, Bt, In, H, w1);
                for (int q = 0; q < 4; q++) /* cache blocks r, z, n, hn: this thread's rows */
                    if (memcmp(c1 + t * CFt + (size_t)q * Bt * H,
                               cache0 + t * CF + (size_t)q * nh + (size_t)r0 * H,
                               (size_t)Bt * H * sizeof(float)) != 0) {
#pragma omp atomic write
                        ok_c = 0;
                    }
            }
            free(c1), free(w1);
        }
    }
    ok_h = memcmp(hs1, hall + nh, (size_t)T * nh * sizeof(float)) == 0;
    CHECK_MSG(ok_h && ok_c, "gru forward_t on %d row blocks (B %d In %d H %d): h %d cache %d",
              nparts, B, In, H, ok_h, ok_c);
    /* against the float32 reference too */
    float *href = falloc(nh), *cref = falloc(CF), *wsr = falloc(sl_nn_gru_ws_floats(B, H));
    sl_nn_ref_gru_cell_forward_f32(href, cref, x, hall, wi, wh, bi, bh, B, In, H, wsr);
    CHECK_FAST("gru forward_t vs ref", hs1, href, nh);
    /* linear forward with the transposed weight */
    float *y0 = falloc((size_t)B * H3), *y1 = falloc((size_t)B * H3);
    sl_nn_linear_forward(y0, x, wi, bi, B, In, H3);
    sl_nn_linear_forward_t(y1, x, wit, bi, B, In, H3);
    CHECK(memcmp(y0, y1, (size_t)B * H3 * sizeof(float)) == 0);
    sl_nn_ref_linear_forward_f32(y0, x, wi, bi, B, In, H3);
    CHECK_FAST("linear forward_t vs ref", y1, y0, (size_t)B * H3);
    /* weight gradients in shares == one call (bits) ~ reference */
    int N = T * B;
    float *d[2][4], *dr[4];
    size_t dn[4] = {nwi, nwh, (size_t)H3, (size_t)H3};
    for (int q = 0; q < 4; q++) {
        d[0][q] = falloc(dn[q]), d[1][q] = falloc(dn[q]), dr[q] = falloc(dn[q]);
        ffill(d[0][q], dn[q], 1);
        memcpy(d[1][q], d[0][q], dn[q] * sizeof(float));
        memcpy(dr[q], d[0][q], dn[q] * sizeof(float));
    }
    sl_nn_gru_weight_grads(d[0][0], d[0][1], d[0][2], d[0][3], gih, ghh, x, hall, N, In, H);
#pragma omp parallel num_threads(nparts)
    sl_nn_gru_weight_grads_part(d[1][0], d[1][1], d[1][2], d[1][3], gih, ghh, x, hall, N, In, H,
                                omp_get_thread_num(), omp_get_num_threads());
    sl_nn_ref_linear_backward_f32(NULL, dr[0], dr[2], gih, x, NULL, N, In, H3);
    sl_nn_ref_linear_backward_f32(NULL, dr[1], dr[3], ghh, hall, NULL, N, H, H3);
    const char *dname[4] = {"dw_ih", "dw_hh", "db_ih", "db_hh"};
    for (int q = 0; q < 4; q++) {
        CHECK_MSG(memcmp(d[0][q], d[1][q], dn[q] * sizeof(float)) == 0,
                  "gru weight grads in %d shares: %s differs from one call", nparts, dname[q]);
        CHECK_FAST(dname[q], d[1][q], dr[q], dn[q]);
    }
    /* sequential shares (no parallel region) also add up, any share count */
    for (int q = 0; q < 4; q++) memset(d[1][q], 0, dn[q] * sizeof(float));
    memset(dr[0], 0, nwi * sizeof(float)), memset(dr[2], 0, (size_t)H3 * sizeof(float));
    for (int k = 0; k < nparts + 1; k++)
        sl_nn_linear_weight_grads_part(d[1][0], d[1][2], gih, x, N, In, H3, k, nparts + 1);
    sl_nn_linear_backward(NULL, dr[0], dr[2], gih, x, NULL, N, In, H3);
    CHECK(memcmp(d[1][0], dr[0], nwi * sizeof(float)) == 0);
    CHECK(memcmp(d[1][2], dr[2], (size_t)H3 * sizeof(float)) == 0);
    for (int q = 0; q < 4; q++) free(d[0][q]), free(d[1][q]), free(dr[q]);
    free(x), free(hall), free(wi), free(wh), free(bi), free(bh), free(wit), free(wht), free(hs1);
    free(cache0), free(ws), free(gih), free(ghh), free(href), free(cref), free(wsr), free(y0), free(y1);
}
TEST(gru_batch_split_blocks) {
    /* part ranges tile [0, n) in order, in multiples of 8 except the last */
    for (int n = 0; n < 70; n++)
        for (int np = 1; np <= 5; np++) {
            int next = 0, ok = 1;
            for (int k = 0; k < np; k++) {
                int i0, i1;
                sl_nn_part_range(n, k, np, &i0, &i1);
                ok &= i0 == next && i1 >= i0 && (i1 == n || (i1 - i0) % 8 == 0);
                next = i1;
            }
            CHECK_MSG(ok && next == n, "sl_nn_part_range(%d, ., %d)", n, np);
        }
    for (int th = 1; th <= 2; th++) {
        sl_nn_set_threads(th);
        gru_split_vs_full(3, 64, 40, 64, 2);
        gru_split_vs_full(2, 20, 5, 7, 3);
        gru_split_vs_full(2, 64, 40, 256, 2);
        gru_split_vs_full(4, 9, 17, 33, 1);
    }
    sl_nn_set_threads(0);
}

TEST(fast_losses_and_head_match_ref) {
    int B = 37, D = 11;
    size_t n = (size_t)B * D;
    float *a = falloc(n), *b = falloc(n), *t = falloc(n), *w = falloc(n);
    float *g1 = falloc(n), *g2 = falloc(n), *h1 = falloc(n), *h2 = falloc(n), *ws = falloc((size_t)B * B);
    ffill(a, n, 3), ffill(b, n, 1), ffill(t, n, 1);
    for (size_t i = 0; i < n; i++) w[i] = (float)sl_rng_uniform(&g_rng);
    float L1 = sl_nn_mse_loss(g1, a, t, w, B, D), L2 = sl_nn_ref_mse_loss_f32(g2, a, t, w, B, D);
    CHECK_CLOSE(L1, L2, 1e-5);
    CHECK_FAST("mse grad", g1, g2, n);
    L1 = sl_nn_gaussian_nll_loss(g1, h1, a, b, t, n, 1);
    L2 = sl_nn_ref_gaussian_nll_loss_f32(g2, h2, a, b, t, n, 1);
    CHECK_CLOSE(L1, L2, 1e-5);
    CHECK_FAST("gnll dmean", g1, g2, n);
    CHECK_FAST("gnll dlogvar", h1, h2, n);
    a[0] = 90.0f, a[1] = -90.0f;
    L1 = sl_nn_bce_logits_loss(g1, a, t, w, n);
    L2 = sl_nn_ref_bce_logits_loss_f32(g2, a, t, w, n);
    CHECK(isfinite(L1));
    CHECK_CLOSE(L1, L2, 1e-5);
    CHECK_FAST("bce grad", g1, g2, n);
    ffill(a, n, 3);
    L1 = sl_nn_infonce_loss(g1, h1, a, b, B, D, 0.1f, ws);
    L2 = sl_nn_ref_infonce_loss_f32(g2, h2, a, b, B, D, 0.1f, ws);
    CHECK_CLOSE(L1, L2, 1e-5);
    CHECK_FAST("infonce da", g1, g2, n);
    CHECK_FAST("infonce dp", h1, h2, n);
    /* tanh-Gaussian head: in[B, 2A] with A = 5 */
    int A = 5;
    float *in = falloc((size_t)B * 2 * A), *eps = falloc((size_t)B * A), *da = falloc((size_t)B * A);
    float *act1 = falloc((size_t)B * A), *act2 = falloc((size_t)B * A), *lp1 = falloc(B), *lp2 = falloc(B);
    float *dl = falloc(B), *di1 = falloc((size_t)B * 2 * A), *di2 = falloc((size_t)B * 2 * A);
    ffill(in, (size_t)B * 2 * A, 4), ffill(eps, (size_t)B * A, 2), ffill(da, (size_t)B * A, 1), ffill(dl, B, 1);
    in[A] = -30.0f, in[A + 1] = 5.0f;
    sl_nn_tanh_gaussian_forward(act1, lp1, in, eps, B, A);
    sl_nn_ref_tanh_gaussian_forward_f32(act2, lp2, in, eps, B, A);
    CHECK_FAST("tanh_gaussian act", act1, act2, (size_t)B * A);
    CHECK_FAST("tanh_gaussian logp", lp1, lp2, (size_t)B);
    sl_nn_tanh_gaussian_backward(di1, da, dl, act1, in, eps, B, A);
    sl_nn_ref_tanh_gaussian_backward_f32(di2, da, dl, act2, in, eps, B, A);
    CHECK_FAST("tanh_gaussian din", di1, di2, (size_t)B * 2 * A);
    free(a), free(b), free(t), free(w), free(g1), free(g2), free(h1), free(h2), free(ws);
    free(in), free(eps), free(da), free(act1), free(act2), free(lp1), free(lp2), free(dl);
    free(di1), free(di2);
}

/* sl_nn_randn as the rollout noise uses it (one call per row of a few dims): moments,
 * independence within a pair, and the Kolmogorov-Smirnov distance to the normal CDF over 400k
 * values (critical value at alpha 0.001: 1.95/sqrt(n)). */
static int cmp_randn(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

TEST(randn_is_normal) {
    sl_rng r;
    sl_rng_seed(&r, 11, 2);
    enum { N = 400000 };
    float *v = malloc(N * sizeof(float));
    double s = 0, s2 = 0, sab = 0, s4 = 0;
    for (int i = 0; i < N; i += 32) sl_nn_randn(v + i, 32, &r);
    for (int i = 0; i < N; i += 2) sab += (double)v[i] * (double)v[i + 1];
    for (int i = 0; i < N; i++) {
        CHECK(isfinite(v[i]) && fabsf(v[i]) < 6.0f);
        double x = (double)v[i];
        s += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    CHECK(fabs(s / N) < 0.006);
    CHECK(fabs(s2 / N - 1.0) < 0.01);
    CHECK(fabs(s4 / N - 3.0) < 0.06);          /* kurtosis of a normal */
    CHECK(fabs(sab / (N / 2)) < 0.01);          /* the two of a pair are uncorrelated */
    qsort(v, N, sizeof(float), cmp_randn);
    double dmax = 0;
    for (int i = 0; i < N; i++) {
        double f = 0.5 * erfc(-(double)v[i] / sqrt(2.0));
        dmax = fmax(dmax, fmax(fabs(f - (double)i / N), fabs(f - (double)(i + 1) / N)));
    }
    printf("  KS distance %.5f (critical %.5f)\n", dmax, 1.95 / sqrt((double)N));
    CHECK(dmax < 1.95 / sqrt((double)N));
    free(v);
}

/* sl_nn_randn: each pair is the Box-Muller transform of one sl_rng_u64 draw (24-bit u1 in
 * (0,1], 24-bit angle), to float accuracy; moments of 2e5 draws; same rng state, same bits. */
TEST(randn_box_muller) {
    size_t n = 200001; /* odd: the last pair is half used */
    float *x = falloc(n), *y = falloc(n);
    sl_rng r1, r2, r3;
    sl_rng_seed(&r1, 99, 3), sl_rng_seed(&r2, 99, 3), sl_rng_seed(&r3, 99, 3);
    sl_nn_randn(x, n, &r1);
    sl_nn_randn(y, n, &r2);
    CHECK(memcmp(x, y, n * 4) == 0);
    CHECK(sl_rng_u64(&r1) == sl_rng_u64(&r2)); /* same number of draws consumed */
    double worst = 0.0, m1 = 0.0, m2 = 0.0, m4 = 0.0;
    for (size_t p = 0; p < (n + 1) / 2; p++) {
        uint64_t u = sl_rng_u64(&r3);
        double u1 = ((double)(u >> 40) + 1.0) / 16777216.0;
        double th = M_PI * ((double)((u >> 16) & 0xffffffu) / 8388608.0 - 1.0);
        double rad = sqrt(-2.0 * log(u1));
        double want[2] = {rad * cos(th), rad * sin(th)};
        for (int k = 0; k < 2 && 2 * p + (size_t)k < n; k++) {
            double d = fabs((double)x[2 * p + k] - want[k]);
            worst = d > worst ? d : worst;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        m1 += v, m2 += v * v, m4 += v * v * v * v;
    }
    m1 /= (double)n, m2 /= (double)n, m4 /= (double)n;
    printf("info: randn max |float - double Box-Muller| %.3g; mean %.4f var %.4f kurt %.3f\n", worst,
           m1, m2, m4 / (m2 * m2));
    CHECK(worst < 4e-6);
    CHECK(fabs(m1) < 0.01 && fabs(m2 - 1.0) < 0.02 && fabs(m4 / (m2 * m2) - 3.0) < 0.1);
    sl_nn_randn(x, 0, &r1); /* n = 0 is harmless */
    free(x), free(y);
}

TEST(adam_matches_ref_and_clip) {
    size_t n = 1000;
    float *p1 = falloc(n), *p2 = falloc(n), *m1 = falloc(n), *m2 = falloc(n), *v1 = falloc(n);
    float *v2 = falloc(n), *g = falloc(n);
    ffill(p1, n, 1);
    memcpy(p2, p1, n * 4);
    for (int kind = 0; kind < 2; kind++) {
        sl_nn_adam cfg = kind ? sl_nn_adamw_defaults(1e-3f) : sl_nn_adam_defaults(1e-3f);
        if (!kind) cfg.weight_decay = 0.05f;
        for (uint64_t t = 1; t <= 5; t++) {
            ffill(g, n, 1);
            sl_nn_adam_update(p1, m1, v1, g, n, &cfg, t);
            sl_nn_ref_adam_update_f32(p2, m2, v2, g, n, &cfg, t);
        }
        CHECK_FAST("adam params", p1, p2, n);
        CHECK_FAST("adam m", m1, m2, n);
        CHECK_FAST("adam v", v1, v2, n);
    }
    /* clip: norm of 3-4-0 = 5; clipped to 1 */
    float gg[3] = {3, 4, 0};
    float norm = sl_nn_clip_grad_norm(gg, 3, 1.0f);
    CHECK_CLOSE(norm, 5.0, 1e-7);
    CHECK_CLOSE(gg[0], 3.0 / (5.0 + 1e-6), 1e-6);
    CHECK_CLOSE(gg[1], 4.0 / (5.0 + 1e-6), 1e-6);
    norm = sl_nn_clip_grad_norm(gg, 3, 10.0f);
    CHECK_CLOSE(gg[0], 3.0 / (5.0 + 1e-6), 1e-6); /* below max: untouched */
    free(p1), free(p2), free(m1), free(m2), free(v1), free(v2), free(g);
}

/* ======================= arena, MLP plumbing, determinism ======================= */

TEST(arena_lifecycle) {
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    size_t s2[2] = {3, 5}, s1[1] = {7}, off = 99, idx = 99;
    CHECK_OK(sl_nn_arena_add(&a, "w", 2, s2, &off));
    CHECK(off == 0);
    CHECK_OK(sl_nn_arena_add(&a, "b", 1, s1, &off));
    CHECK(off == 16); /* 16-float aligned */
    CHECK_STATUS(sl_nn_arena_add(&a, "w", 1, s1, NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_nn_arena_add(&a, "x", 0, s1, NULL), SL_ERR_ARG);
    size_t zero[1] = {0};
    CHECK_STATUS(sl_nn_arena_add(&a, "z", 1, zero, NULL), SL_ERR_ARG);
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_STATUS(sl_nn_arena_add(&a, longname, 1, s1, NULL), SL_ERR_ARG);
    CHECK_OK(sl_nn_arena_alloc(&a));
    CHECK_STATUS(sl_nn_arena_add(&a, "late", 1, s1, NULL), SL_ERR_STATE);
    CHECK_STATUS(sl_nn_arena_alloc(&a), SL_ERR_STATE);
    CHECK(sl_nn_arena_num_params(&a) == 22);
    CHECK_OK(sl_nn_arena_find(&a, "b", &idx));
    CHECK(idx == 1);
    CHECK_STATUS(sl_nn_arena_find(&a, "nope", &idx), SL_ERR_NOTFOUND);
    CHECK(sl_nn_arena_param(&a, 1) == a.params + 16);
    CHECK(sl_nn_arena_grad(&a, 1) == a.grads + 16);
    CHECK(sl_nn_arena_adam_m(&a, 1) == a.m + 16 && sl_nn_arena_adam_v(&a, 1) == a.v + 16);
    CHECK(a.tensors[0].shape[0] == 3 && a.tensors[0].shape[1] == 5 && a.tensors[0].numel == 15);
    /* polyak / copy need identical layouts */
    sl_nn_arena t;
    sl_nn_arena_init(&t);
    CHECK_OK(sl_nn_arena_add(&t, "w", 2, s2, NULL));
    CHECK_OK(sl_nn_arena_add(&t, "b", 1, s1, NULL));
    CHECK_OK(sl_nn_arena_alloc(&t));
    for (size_t i = 0; i < a.numel; i++) a.params[i] = 1.0f;
    CHECK_OK(sl_nn_arena_polyak(&t, &a, 0.25f));
    CHECK(t.params[0] == 0.25f && t.params[16] == 0.25f);
    CHECK_OK(sl_nn_arena_copy_params(&t, &a));
    CHECK(t.params[20] == 1.0f);
    sl_nn_arena u;
    sl_nn_arena_init(&u);
    CHECK_OK(sl_nn_arena_add(&u, "w", 2, s2, NULL));
    CHECK_OK(sl_nn_arena_alloc(&u));
    CHECK_STATUS(sl_nn_arena_polyak(&u, &a, 0.5f), SL_ERR_SHAPE);
    /* Adam over the arena leaves padding at zero */
    for (size_t i = 0; i < a.numel; i++) a.grads[i] = 0.5f;
    for (size_t i = 15; i < 16; i++) a.grads[i] = 0.0f;
    a.params[15] = 0.0f;
    sl_nn_adam cfg = sl_nn_adamw_defaults(0.1f);
    sl_nn_arena_adam_step(&a, &cfg);
    CHECK(a.step == 1);
    CHECK(a.params[15] == 0.0f);
    sl_nn_arena_zero_grad(&a);
    CHECK(a.grads[0] == 0.0f);
    sl_nn_arena_free(&a), sl_nn_arena_free(&t), sl_nn_arena_free(&u);
    sl_nn_arena_free(NULL);
    sl_nn_mlp_cache_free(NULL);
    CHECK(a.mem == NULL && a.n_tensors == 0);
}

/* One training run of an MLP + GRU; returns a malloc'd copy of the final parameters. */
static float *train_run(uint64_t seed, size_t *n_out) {
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    sl_nn_mlp m;
    sl_nn_gru g;
    int sizes[4] = {12, 64, 64, 3};
    if (sl_nn_mlp_declare(&m, &a, "mlp", 3, sizes, SL_NN_ACT_SILU, 1) != SL_OK) abort();
    if (sl_nn_gru_declare(&g, &a, "gru", 5, 32) != SL_OK) abort();
    if (sl_nn_arena_alloc(&a) != SL_OK) abort();
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    sl_nn_mlp_init(&m, a.params, &r);
    sl_nn_gru_init(&g, a.params, &r);
    int B = 128, T = 8;
    sl_nn_mlp_cache c;
    if (sl_nn_mlp_cache_alloc(&c, &m, B) != SL_OK) abort();
    float *x = falloc((size_t)B * 12), *y = falloc((size_t)B * 3), *t = falloc((size_t)B * 3);
    float *dy = falloc((size_t)B * 3), *xs = falloc((size_t)T * 16 * 5), *h0 = falloc(16 * 32);
    float *hs = falloc((size_t)T * 16 * 32), *dhs = falloc((size_t)T * 16 * 32);
    float *cache = falloc(T * sl_nn_gru_cache_floats(16, 32)), *ws = falloc(sl_nn_gru_ws_floats(16, 32));
    sl_nn_adam cfg = sl_nn_adam_defaults(1e-3f);
    for (int step = 0; step < 5; step++) {
        for (size_t i = 0; i < (size_t)B * 12; i++) x[i] = (float)sl_rng_normal(&r);
        for (size_t i = 0; i < (size_t)B * 3; i++) t[i] = (float)sl_rng_normal(&r);
        for (size_t i = 0; i < (size_t)T * 16 * 5; i++) xs[i] = (float)sl_rng_normal(&r);
        sl_nn_arena_zero_grad(&a);
        sl_nn_mlp_forward(y, &c, x, &m, a.params, B);
        sl_nn_mse_loss(dy, y, t, NULL, B, 3);
        sl_nn_mlp_backward(NULL, a.grads, &c, dy, x, &m, a.params, B);
        sl_nn_gru_forward(hs, cache, xs, h0, a.params + g.w_ih, a.params + g.w_hh,
                          a.params + g.b_ih, a.params + g.b_hh, T, 16, 5, 32, ws);
        for (size_t i = 0; i < (size_t)T * 16 * 32; i++) dhs[i] = hs[i];
        sl_nn_gru_backward(NULL, NULL, a.grads + g.w_ih, a.grads + g.w_hh, a.grads + g.b_ih,
                           a.grads + g.b_hh, dhs, hs, cache, xs, h0, a.params + g.w_ih,
                           a.params + g.w_hh, T, 16, 5, 32, ws);
        sl_nn_arena_clip_grad_norm(&a, 1.0f);
        sl_nn_arena_adam_step(&a, &cfg);
    }
    float *out = falloc(a.numel);
    memcpy(out, a.params, a.numel * 4);
    *n_out = a.numel;
    sl_nn_mlp_cache_free(&c);
    sl_nn_arena_free(&a);
    free(x), free(y), free(t), free(dy), free(xs), free(h0), free(hs), free(dhs), free(cache), free(ws);
    return out;
}

TEST(determinism_same_seed_same_bits) {
    for (int threads = 1; threads <= 2; threads++) {
        sl_nn_set_threads(threads);
        CHECK(sl_nn_get_threads() == threads);
        size_t n1, n2, n3;
        float *a = train_run(42, &n1), *b = train_run(42, &n2), *c = train_run(43, &n3);
        CHECK(n1 == n2 && memcmp(a, b, n1 * 4) == 0);
        CHECK(memcmp(a, c, n1 * 4) != 0);
        CHECK(sl_all_finite_f32(a, n1));
        free(a), free(b), free(c);
    }
    sl_nn_set_threads(0);
}

/* --- sl_nn_expf on every kind of float --- */

/* sl_nn_expf as it was before non-finite inputs were made well-defined (NaN reached a float ->
 * int conversion, undefined behaviour): the bit reference for finite inputs. */
static float expf_v0(float x) {
    x = sl_nn_selectf(x > 88.3762626647949f, 88.3762626647949f, x);
    x = sl_nn_selectf(x < -87.3365447504f, -87.3365447504f, x);
    float t = x * 1.44269504088896341f + 0.5f;
    float fx = (float)(int32_t)t;
    fx = fx - (fx > t ? 1.0f : 0.0f);
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

static float f_of_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t bits_of_f(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#define EXPF_CHUNK 4096

/* The finite floats among the bit patterns first, first + step, ... (count of them): the
 * scalar function and the same function in an `omp simd` loop (the form every kernel uses)
 * must give the bits of expf_v0. Returns the number of mismatches. */
static size_t expf_sweep(uint64_t first, uint64_t step, uint64_t count, size_t *checked) {
    static float in[EXPF_CHUNK], vec[EXPF_CHUNK];
    size_t bad = 0;
    for (uint64_t k = 0; k < count;) {
        int m = 0;
        for (; m < EXPF_CHUNK && k < count; k++) {
            float x = f_of_bits((uint32_t)(first + k * step));
            if (isfinite(x)) in[m++] = x;
        }
#pragma omp simd
        for (int i = 0; i < m; i++) vec[i] = sl_nn_expf(in[i]);
        for (int i = 0; i < m; i++) {
            uint32_t want = bits_of_f(expf_v0(in[i]));
            uint32_t sc = bits_of_f(sl_nn_expf(in[i])), ve = bits_of_f(vec[i]);
            if (sc != want || ve != want) {
                if (bad++ < 3)
                    HARNESS_FAIL("expf(%a): scalar %08x simd %08x, previous %08x", (double)in[i],
                                 sc, ve, want);
            }
        }
        *checked += (size_t)m;
    }
    return bad;
}

TEST(expf_bits_and_nonfinite) {
    size_t checked = 0, bad = 0;
    /* every 61st bit pattern (all signs and exponents, 70 M floats) ... */
    bad += expf_sweep(0, 61, (1ull << 32) / 61, &checked);
    /* ... and every float with 64 <= |x| < 128 (both saturation clamps, 16.8 M floats) and
     * every float with 0.5 <= |x| < 1 (the rounding of t flips there, 16.8 M floats) */
    bad += expf_sweep(0x42800000u, 1, 1u << 23, &checked);
    bad += expf_sweep(0xc2800000u, 1, 1u << 23, &checked);
    bad += expf_sweep(0x3f000000u, 1, 1u << 23, &checked);
    bad += expf_sweep(0xbf000000u, 1, 1u << 23, &checked);
    CHECK_MSG(bad == 0, "%zu of %zu finite inputs changed bits", bad, checked);
    CHECK(checked > 100000000u);
    /* saturation of finite inputs: the values at the clamps, monotone up to them */
    CHECK(sl_nn_expf(FLT_MAX) == sl_nn_expf(88.3762626647949f));
    CHECK(sl_nn_expf(1e30f) == sl_nn_expf(89.0f) && isfinite(sl_nn_expf(FLT_MAX)));
    CHECK(sl_nn_expf(-FLT_MAX) == sl_nn_expf(-87.3365447504f) && sl_nn_expf(-FLT_MAX) > 0.0f);
    /* non-finite inputs, scalar and in an `omp simd` loop, and through the library kernels */
    float xs[8] = {NAN, -NAN, f_of_bits(0x7fc12345u), f_of_bits(0xff800001u), INFINITY,
                   -INFINITY, 1.0f, -1.0f};
    float ys[8];
#pragma omp simd
    for (int i = 0; i < 8; i++) ys[i] = sl_nn_expf(xs[i]);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(bits_of_f(sl_nn_expf(xs[i])) == bits_of_f(xs[i]) &&
                      bits_of_f(ys[i]) == bits_of_f(xs[i]),
                  "expf(NaN %08x) = %08x / %08x (the same NaN expected)", bits_of_f(xs[i]),
                  bits_of_f(sl_nn_expf(xs[i])), bits_of_f(ys[i]));
    CHECK(sl_nn_expf(INFINITY) == INFINITY && ys[4] == INFINITY);
    CHECK(bits_of_f(sl_nn_expf(-INFINITY)) == 0 && bits_of_f(ys[5]) == 0);
    CHECK(ys[6] == expf_v0(1.0f) && ys[7] == expf_v0(-1.0f));
    float out[8];
    sl_nn_act_forward(out, xs, 8, SL_NN_ACT_SIGMOID);
    CHECK(isnan(out[0]) && isnan(out[3]) && out[4] == 1.0f && out[5] == 0.0f);
    sl_nn_act_forward(out, xs, 8, SL_NN_ACT_TANH);
    CHECK(isnan(out[0]) && isnan(out[3]) && out[4] == 1.0f && out[5] == -1.0f);
    CHECK(isnan(sl_nn_softplusf(NAN)) && sl_nn_softplusf(INFINITY) == INFINITY &&
          sl_nn_softplusf(-INFINITY) == 0.0f);
}

TEST(mlp_declare_errors_and_names) {
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    sl_nn_mlp m;
    int sizes[3] = {4, 8, 2};
    CHECK_STATUS(sl_nn_mlp_declare(&m, &a, "m", 0, sizes, SL_NN_ACT_RELU, 0), SL_ERR_ARG);
    int bad[3] = {4, 0, 2};
    CHECK_STATUS(sl_nn_mlp_declare(&m, &a, "m", 2, bad, SL_NN_ACT_RELU, 0), SL_ERR_ARG);
    sl_nn_arena_free(&a);
    CHECK_OK(sl_nn_mlp_declare(&m, &a, "actor", 2, sizes, SL_NN_ACT_RELU, 1));
    size_t idx;
    CHECK_OK(sl_nn_arena_find(&a, "actor.l0.weight", &idx));
    CHECK_OK(sl_nn_arena_find(&a, "actor.ln0.bias", &idx));
    CHECK_OK(sl_nn_arena_find(&a, "actor.l1.bias", &idx));
    CHECK_STATUS(sl_nn_arena_find(&a, "actor.ln1.weight", &idx), SL_ERR_NOTFOUND);
    CHECK(sl_nn_arena_num_params(&a) == 4 * 8 + 8 + 8 + 8 + 8 * 2 + 2);
    sl_nn_mlp_cache c;
    CHECK_STATUS(sl_nn_mlp_cache_alloc(&c, &m, 0), SL_ERR_ARG);
    sl_nn_arena_free(&a);
}

int main(void) {
    sl_rng_seed(&g_rng, 1234, 0);
    RUN(gradcheck_linear);
    RUN(gradcheck_activations);
    RUN(gradcheck_layernorm);
    RUN(gradcheck_gru_cell);
    RUN(gradcheck_gru_bptt);
    RUN(gradcheck_tanh_gaussian);
    RUN(gradcheck_losses);
    RUN(gradcheck_detects_wrong_gradient);
    printf("info: worst float64 gradcheck relative error %.3g (tolerance %g)\n", gc_worst, GC_TOL);
    RUN(fast_linear_matches_ref);
    RUN(fast_sgemm_matches_float64);
    RUN(fast_activations_match_ref);
    RUN(fast_layernorm_matches_ref);
    RUN(fast_gru_matches_ref);
    RUN(gru_batch_split_blocks);
    RUN(fast_losses_and_head_match_ref);
    RUN(randn_box_muller);
    RUN(randn_is_normal);
    RUN(adam_matches_ref_and_clip);
    RUN(arena_lifecycle);
    RUN(mlp_declare_errors_and_names);
    RUN(determinism_same_seed_same_bits);
    RUN(expf_bits_and_nonfinite);
    return harness_done();
}
