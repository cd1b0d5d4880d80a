/* SPDX-License-Identifier: Apache-2.0 */
/* test_nn_torch.c - parity of the fast float32 nn kernels with PyTorch (tests/py/nn_ref.py).
 *
 * The C side draws inputs and parameters, runs every layer/loss/optimiser case, writes the
 * inputs as raw little-endian float32 files "<case>.<array>.f32" plus manifest.txt under
 * harness_tmpdir(), runs ONE python process (importing torch is slow), and reads PyTorch's
 * float64 results "<case>.<array>.f64". Criterion, per array:
 *     max_i |c_i - t_i| / max(max_i |t_i|, 1e-30) <= 1e-5
 * (element-wise error with a floor at the array's largest magnitude). PyTorch computes in
 * float64 from the same float32 inputs, so the tolerance bounds our float32 error.
 * A disagreement, a missing file or a failing script is a FAIL, never a skip.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "synthloop/sl_nn.h"

#define PARITY_TOL 1e-5
#define MAX_RESULTS 512

static sl_rng g_rng;
static FILE *g_manifest;

typedef struct result {
    char case_name[64], name[96];
    float *data; /* owned */
    size_t n;
} result;
static result g_results[MAX_RESULTS];
static int g_nresults;

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}
static float *rnd(size_t n, double scale) {
    float *p = falloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * sl_rng_uniform_range(&g_rng, -1.0, 1.0));
    return p;
}

static void put(const char *cs, const char *name, const float *x, size_t n) {
    char path[1024];
    int k = snprintf(path, sizeof path, "%s/%s.%s.f32", harness_tmpdir(), cs, name);
    FILE *f = k > 0 && k < (int)sizeof path ? fopen(path, "wb") : NULL;
    if (!f || fwrite(x, sizeof(float), n, f) != n) {
        printf("  cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    fclose(f);
}

/* Record a C result (copied) to compare with "<case>.<name>.f64". */
static void expect(const char *cs, const char *name, const float *x, size_t n) {
    if (g_nresults == MAX_RESULTS) abort();
    result *r = &g_results[g_nresults++];
    snprintf(r->case_name, sizeof r->case_name, "%s", cs);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->data = falloc(n);
    memcpy(r->data, x, n * sizeof(float));
    r->n = n;
}
static void expect1(const char *cs, const char *name, float v) { expect(cs, name, &v, 1); }

/* --- cases --- */

static void case_linear(void) {
    int B = 33, C = 40, OC = 65;
    float *x = rnd((size_t)B * C, 1), *w = rnd((size_t)OC * C, 0.2), *b = rnd(OC, 0.2);
    float *dout = rnd((size_t)B * OC, 1), *y = falloc((size_t)B * OC), *dx = falloc((size_t)B * C);
    float *dw = falloc((size_t)OC * C), *db = falloc(OC);
    fprintf(g_manifest, "linear linear B=%d C=%d OC=%d\n", B, C, OC);
    put("linear", "x", x, (size_t)B * C), put("linear", "w", w, (size_t)OC * C);
    put("linear", "b", b, OC), put("linear", "dout", dout, (size_t)B * OC);
    sl_nn_linear_forward(y, x, w, b, B, C, OC);
    sl_nn_linear_backward(dx, dw, db, dout, x, w, B, C, OC);
    expect("linear", "y", y, (size_t)B * OC), expect("linear", "dx", dx, (size_t)B * C);
    expect("linear", "dw", dw, (size_t)OC * C), expect("linear", "db", db, OC);
    free(x), free(w), free(b), free(dout), free(y), free(dx), free(dw), free(db);
}

static void case_act(sl_nn_act a) {
    char cs[64];
    size_t n = 1000;
    snprintf(cs, sizeof cs, "act_%s", sl_nn_act_name(a));
    float *x = rnd(n, 6), *d = rnd(n, 1), *y = falloc(n), *dx = falloc(n);
    fprintf(g_manifest, "%s act name=%s n=%zu\n", cs, sl_nn_act_name(a), n);
    put(cs, "x", x, n), put(cs, "dout", d, n);
    sl_nn_act_forward(y, x, n, a);
    sl_nn_act_backward(dx, d, x, y, n, a);
    expect(cs, "y", y, n), expect(cs, "dx", dx, n);
    free(x), free(d), free(y), free(dx);
}

static void case_layernorm(void) {
    int B = 17, C = 64;
    size_t n = (size_t)B * C;
    float *x = rnd(n, 3), *w = rnd(C, 1), *b = rnd(C, 1), *d = rnd(n, 1), *y = falloc(n);
    float *mean = falloc(B), *rstd = falloc(B), *dx = falloc(n), *dw = falloc(C), *db = falloc(C);
    for (int c = 0; c < C; c++) x[c] += 5.0f; /* a row with a large mean */
    fprintf(g_manifest, "layernorm layernorm B=%d C=%d eps=1e-5\n", B, C);
    put("layernorm", "x", x, n), put("layernorm", "w", w, C), put("layernorm", "b", b, C);
    put("layernorm", "dout", d, n);
    sl_nn_layernorm_forward(y, mean, rstd, x, w, b, B, C, 1e-5f);
    sl_nn_layernorm_backward(dx, dw, db, d, x, mean, rstd, w, B, C);
    expect("layernorm", "y", y, n), expect("layernorm", "dx", dx, n);
    expect("layernorm", "dw", dw, C), expect("layernorm", "db", db, C);
    free(x), free(w), free(b), free(d), free(y), free(mean), free(rstd), free(dx), free(dw), free(db);
}

/* T == 0: one GRUCell step; else nn.GRU over T steps with loss sum(hs * dhs). */
static void case_gru(const char *cs, int T, int B, int In, int H) {
    int TT = T ? T : 1;
    size_t nx = (size_t)TT * B * In, nh = (size_t)B * H, nwi = (size_t)3 * H * In;
    size_t nwh = (size_t)3 * H * H, nb = (size_t)3 * H, nhs = (size_t)TT * B * H;
    float bound = 1.0f / sqrtf((float)H);
    float *x = rnd(nx, 1), *h0 = rnd(nh, 1), *wi = rnd(nwi, bound), *wh = rnd(nwh, bound);
    float *bi = rnd(nb, bound), *bh = rnd(nb, bound), *dhs = rnd(nhs, 1);
    float *hs = falloc(nhs), *cache = falloc(TT * sl_nn_gru_cache_floats(B, H));
    float *ws = falloc(sl_nn_gru_ws_floats(B, H));
    float *dx = falloc(nx), *dh0 = falloc(nh), *dwi = falloc(nwi), *dwh = falloc(nwh);
    float *dbi = falloc(nb), *dbh = falloc(nb);
    fprintf(g_manifest, "%s gru T=%d B=%d I=%d H=%d\n", cs, T, B, In, H);
    put(cs, "x", x, nx), put(cs, "h0", h0, nh), put(cs, "w_ih", wi, nwi), put(cs, "w_hh", wh, nwh);
    put(cs, "b_ih", bi, nb), put(cs, "b_hh", bh, nb), put(cs, "dout", dhs, nhs);
    if (T) {
        sl_nn_gru_forward(hs, cache, x, h0, wi, wh, bi, bh, T, B, In, H, ws);
        sl_nn_gru_backward(dx, dh0, dwi, dwh, dbi, dbh, dhs, hs, cache, x, h0, wi, wh, T, B, In,
                           H, ws);
    } else {
        sl_nn_gru_cell_forward(hs, cache, x, h0, wi, wh, bi, bh, B, In, H, ws);
        sl_nn_gru_cell_backward(dx, dh0, dwi, dwh, dbi, dbh, dhs, cache, x, h0, wi, wh, B, In, H,
                                ws);
    }
    expect(cs, "h", hs, nhs), expect(cs, "dx", dx, nx), expect(cs, "dh0", dh0, nh);
    expect(cs, "dw_ih", dwi, nwi), expect(cs, "dw_hh", dwh, nwh);
    expect(cs, "db_ih", dbi, nb), expect(cs, "db_hh", dbh, nb);
    free(x), free(h0), free(wi), free(wh), free(bi), free(bh), free(dhs), free(hs), free(cache);
    free(ws), free(dx), free(dh0), free(dwi), free(dwh), free(dbi), free(dbh);
}

static void case_mlp(const char *cs, int n_layers, const int *sizes, sl_nn_act act, int ln, int B) {
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    sl_nn_mlp m;
    if (sl_nn_mlp_declare(&m, &a, "mlp", n_layers, sizes, act, ln) != SL_OK ||
        sl_nn_arena_alloc(&a) != SL_OK)
        abort();
    sl_rng r;
    sl_rng_seed(&r, 7, 1);
    sl_nn_mlp_init(&m, a.params, &r);
    if (ln) /* non-trivial LayerNorm affine parameters */
        for (int l = 0; l < n_layers - 1; l++)
            for (int j = 0; j < sizes[l + 1]; j++) {
                a.params[m.ln_w[l] + (size_t)j] = 1.0f + 0.3f * (float)sl_rng_uniform_range(&r, -1, 1);
                a.params[m.ln_b[l] + (size_t)j] = 0.3f * (float)sl_rng_uniform_range(&r, -1, 1);
            }
    size_t nin = (size_t)B * sizes[0], nout = (size_t)B * sizes[n_layers];
    float *x = rnd(nin, 2), *d = rnd(nout, 1), *y = falloc(nout), *dx = falloc(nin);
    sl_nn_mlp_cache c;
    if (sl_nn_mlp_cache_alloc(&c, &m, B) != SL_OK) abort();
    fprintf(g_manifest, "%s mlp B=%d act=%s ln=%d sizes=", cs, B, sl_nn_act_name(act), ln);
    for (int l = 0; l <= n_layers; l++) fprintf(g_manifest, "%s%d", l ? "," : "", sizes[l]);
    fprintf(g_manifest, "\n");
    put(cs, "x", x, nin), put(cs, "dout", d, nout);
    for (size_t i = 0; i < a.n_tensors; i++)
        put(cs, a.tensors[i].name, sl_nn_arena_param(&a, i), a.tensors[i].numel);
    sl_nn_mlp_forward(y, &c, x, &m, a.params, B);
    sl_nn_mlp_backward(dx, a.grads, &c, d, x, &m, a.params, B);
    expect(cs, "y", y, nout), expect(cs, "dx", dx, nin);
    for (size_t i = 0; i < a.n_tensors; i++) {
        char gname[SL_NN_NAME_MAX + 8];
        snprintf(gname, sizeof gname, "grad.%s", a.tensors[i].name);
        expect(cs, gname, sl_nn_arena_grad(&a, i), a.tensors[i].numel);
    }
    /* input-only backward (grads NULL) gives the same dx */
    float *dx2 = falloc(nin);
    sl_nn_mlp_backward(dx2, NULL, &c, d, x, &m, a.params, B);
    expect(cs, "dx", dx2, nin);
    free(dx2);
    sl_nn_mlp_cache_free(&c);
    sl_nn_arena_free(&a);
    free(x), free(d), free(y), free(dx);
}

static void case_tanh_gaussian(void) {
    int B = 16, A = 8;
    size_t ni = (size_t)B * 2 * A, na = (size_t)B * A;
    float *in = rnd(ni, 2), *eps = rnd(na, 2), *da = rnd(na, 1), *dl = rnd(B, 1);
    in[A] = -25.0f, in[A + 1] = 4.0f; /* clamped log_std entries */
    float *act = falloc(na), *logp = falloc(B), *din = falloc(ni);
    fprintf(g_manifest, "tanh_gaussian tanh_gaussian B=%d A=%d\n", B, A);
    put("tanh_gaussian", "in", in, ni), put("tanh_gaussian", "eps", eps, na);
    put("tanh_gaussian", "dact", da, na), put("tanh_gaussian", "dlogp", dl, B);
    sl_nn_tanh_gaussian_forward(act, logp, in, eps, B, A);
    sl_nn_tanh_gaussian_backward(din, da, dl, act, in, eps, B, A);
    expect("tanh_gaussian", "act", act, na), expect("tanh_gaussian", "logp", logp, B);
    expect("tanh_gaussian", "din", din, ni);
    free(in), free(eps), free(da), free(dl), free(act), free(logp), free(din);
}

static void case_losses(void) {
    int B = 20, D = 7;
    size_t n = (size_t)B * D;
    float *p = rnd(n, 2), *t = rnd(n, 2), *w = falloc(n), *g = falloc(n), *g2 = falloc(n);
    for (size_t i = 0; i < n; i++) w[i] = (float)sl_rng_uniform(&g_rng) + 0.05f;
    for (int weighted = 0; weighted < 2; weighted++) {
        const char *cs = weighted ? "mse_w" : "mse";
        fprintf(g_manifest, "%s mse B=%d D=%d weighted=%d\n", cs, B, D, weighted);
        put(cs, "pred", p, n), put(cs, "target", t, n), put(cs, "w", w, (size_t)B);
        expect1(cs, "loss", sl_nn_mse_loss(g, p, t, weighted ? w : NULL, B, D));
        expect(cs, "dpred", g, n);
    }
    float *lv = rnd(n, 2);
    for (int full = 0; full < 2; full++) {
        const char *cs = full ? "gnll_full" : "gnll";
        fprintf(g_manifest, "%s gnll n=%zu full=%d\n", cs, n, full);
        put(cs, "mean", p, n), put(cs, "logvar", lv, n), put(cs, "target", t, n);
        expect1(cs, "loss", sl_nn_gaussian_nll_loss(g, g2, p, lv, t, n, full));
        expect(cs, "dmean", g, n), expect(cs, "dlogvar", g2, n);
    }
    float *x = rnd(n, 8), *y = falloc(n);
    x[0] = 60.0f, x[1] = -60.0f, x[2] = 0.0f;
    for (size_t i = 0; i < n; i++) y[i] = i % 3 ? (float)(i % 2) : (float)sl_rng_uniform(&g_rng);
    for (int weighted = 0; weighted < 2; weighted++) {
        const char *cs = weighted ? "bce_w" : "bce";
        fprintf(g_manifest, "%s bce n=%zu weighted=%d\n", cs, n, weighted);
        put(cs, "logits", x, n), put(cs, "targets", y, n), put(cs, "w", w, n);
        expect1(cs, "loss", sl_nn_bce_logits_loss(g, x, y, weighted ? w : NULL, n));
        expect(cs, "dlogits", g, n);
    }
    int Bn = 32, Dn = 16;
    float *a = rnd((size_t)Bn * Dn, 1), *q = rnd((size_t)Bn * Dn, 1);
    float *da = falloc((size_t)Bn * Dn), *dq = falloc((size_t)Bn * Dn);
    float *ws = falloc(sl_nn_infonce_ws_floats(Bn));
    fprintf(g_manifest, "infonce infonce B=%d D=%d temperature=0.1\n", Bn, Dn);
    put("infonce", "a", a, (size_t)Bn * Dn), put("infonce", "p", q, (size_t)Bn * Dn);
    expect1("infonce", "loss", sl_nn_infonce_loss(da, dq, a, q, Bn, Dn, 0.1f, ws));
    expect("infonce", "da", da, (size_t)Bn * Dn), expect("infonce", "dp", dq, (size_t)Bn * Dn);
    free(p), free(t), free(w), free(g), free(g2), free(lv), free(x), free(y), free(a), free(q);
    free(da), free(dq), free(ws);
}

static void case_optim(void) {
    size_t n = 500;
    for (int kind = 0; kind < 3; kind++) {
        const char *cs = kind == 0 ? "adam" : kind == 1 ? "adam_l2" : "adamw";
        sl_nn_adam cfg = kind == 2 ? sl_nn_adamw_defaults(1e-2f) : sl_nn_adam_defaults(1e-2f);
        if (kind == 1) cfg.weight_decay = 0.05f;
        if (kind == 2) cfg.weight_decay = 0.1f;
        float *p = rnd(n, 1), *m = falloc(n), *v = falloc(n);
        fprintf(g_manifest, "%s adam n=%zu steps=3 lr=%.9g beta1=%.9g beta2=%.9g eps=%.9g wd=%.9g "
                "decoupled=%d\n", cs, n, (double)cfg.lr, (double)cfg.beta1, (double)cfg.beta2,
                (double)cfg.eps, (double)cfg.weight_decay, cfg.decoupled);
        put(cs, "p0", p, n);
        for (int s = 1; s <= 3; s++) {
            char gname[16];
            float *g = rnd(n, s == 2 ? 0.01 : 1.0);
            snprintf(gname, sizeof gname, "g%d", s);
            put(cs, gname, g, n);
            sl_nn_adam_update(p, m, v, g, n, &cfg, (uint64_t)s);
            free(g);
        }
        expect(cs, "p", p, n), expect(cs, "m", m, n), expect(cs, "v", v, n);
        free(p), free(m), free(v);
    }
    float *g = rnd(n, 1);
    fprintf(g_manifest, "clip clip n=%zu max_norm=2\n", n);
    put("clip", "g", g, n);
    expect1("clip", "norm", sl_nn_clip_grad_norm(g, n, 2.0f));
    expect("clip", "g_clipped", g, n);
    free(g);
}

/* --- compare --- */

static int read_f64(const char *cs, const char *name, size_t n, double **out) {
    char path[1024];
    int k = snprintf(path, sizeof path, "%s/%s.%s.f64", harness_tmpdir(), cs, name);
    if (k < 0 || k >= (int)sizeof path) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    double *d = malloc((n + 1) * sizeof(double));
    size_t got = d ? fread(d, sizeof(double), n + 1, f) : 0;
    fclose(f);
    if (got != n) {
        free(d);
        return -1;
    }
    *out = d;
    return 1;
}

TEST(torch_parity) {
    char path[1024], cmd[4096];
    snprintf(path, sizeof path, "%s/manifest.txt", harness_tmpdir());
    g_manifest = fopen(path, "w");
    CHECK(g_manifest != NULL);
    if (!g_manifest) return;
    sl_nn_set_threads(2);
    case_linear();
    for (int a = SL_NN_ACT_RELU; a < SL_NN_ACT_COUNT; a++) case_act((sl_nn_act)a);
    case_layernorm();
    case_gru("gru_cell", 0, 8, 40, 64);
    case_gru("gru_bptt60", 60, 8, 40, 64);
    int s1[4] = {40, 64, 64, 1}, s2[4] = {32, 48, 48, 16}, s3[3] = {8, 16, 4};
    case_mlp("mlp_relu", 3, s1, SL_NN_ACT_RELU, 0, 64);
    case_mlp("mlp_silu_ln", 3, s2, SL_NN_ACT_SILU, 1, 32);
    case_mlp("mlp_tanh", 2, s3, SL_NN_ACT_TANH, 0, 5);
    case_tanh_gaussian();
    case_losses();
    case_optim();
    fclose(g_manifest);

    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/nn_ref.py %s", SL_PYTHON, root && *root ? root : ".",
             harness_tmpdir());
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "python reference failed (%d): %s", rc, cmd);
    int compared = 0;
    double worst = 0;
    for (int i = 0; i < g_nresults; i++) {
        result *r = &g_results[i];
        double *t = NULL;
        int ok = read_f64(r->case_name, r->name, r->n, &t);
        CHECK_MSG(ok == 1, "%s/%s: PyTorch result %s", r->case_name, r->name,
                  ok == 0 ? "missing" : "has the wrong length");
        if (ok != 1) continue;
        double mx = 0, md = 0;
        size_t at = 0;
        for (size_t k = 0; k < r->n; k++) {
            double d = fabs((double)r->data[k] - t[k]);
            if (fabs(t[k]) > mx) mx = fabs(t[k]);
            if (!(d <= md)) md = d, at = k;
        }
        double rel = md / fmax(mx, 1e-30);
        CHECK_MSG(rel <= PARITY_TOL, "%s/%s: relative error %.3g at [%zu]: C %.9g vs torch %.9g",
                  r->case_name, r->name, rel, at, (double)r->data[at], t[at]);
        if (rel > worst) worst = rel;
        compared++;
        free(t);
    }
    CHECK(compared == g_nresults && compared > 80);
    printf("info: compared %d arrays with PyTorch, worst relative error %.3g (tolerance %g)\n",
           compared, worst, PARITY_TOL);
    for (int i = 0; i < g_nresults; i++) free(g_results[i].data);
}

int main(void) {
    sl_rng_seed(&g_rng, 20261122, 0);
    RUN(torch_parity);
    return harness_done();
}
