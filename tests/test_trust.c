/* SPDX-License-Identifier: Apache-2.0 */
/* test_trust.c - trust_net and the gates: features and std ratios against numpy, gate edges
 * and NaN, the seed-001 poison detection on workcell latents (MuJoCo env + encoder), metrics
 * against sklearn, calibration, determinism, checkpoints, the temporal variant, external
 * negatives, bad input and the CLI. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_stats.h"
#include "synthloop/sl_trust.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return (r && *r) ? r : ".";
}

/* --- fixture: workcell latents ------------------------------------------------ *
 * 50 training episodes and 20 held-out episodes (other seed) of the MuJoCo workcell,
 * encoded by one contrastive encoder; trust_net (MLP) trained on the training latents. */
#define ZD 16
static struct {
    int ready;
    sl_dataset *train, *held;
    float *ztr, *zho;
    sl_trust_model *mlp;
    sl_trust_report rep;
} fx;

static sl_status collect(sl_env *env, size_t eps, uint64_t seed, sl_dataset **out) {
    return sl_env_collect(env, SL_POLICY_MEDIUM_EXPERT, eps, seed, out, NULL);
}

/* the fixture reproduces seed 001's inflation poison without an external generator, so it
 * trains with the inflate and drift negatives (off by default since 2026-12-04) and the
 * earlier, smaller net */
static sl_trust_config test_cfg(uint64_t seed) {
    sl_trust_config c = sl_trust_config_default();
    c.use_inflate = c.use_drift = 1;
    c.hidden = 64;
    c.n_hidden = 1;
    c.steps = 1000;
    c.eval_windows = 200;
    c.seed = seed;
    return c;
}

static int fixture(void) {
    if (fx.ready) return fx.ready > 0;
    fx.ready = -1;
    sl_env *env = NULL;
    sl_latent_encoder *enc = NULL;
    sl_status st = sl_env_workcell_new(&env, NULL);
    if (st == SL_OK) st = collect(env, 50, 11, &fx.train);
    if (st == SL_OK) st = collect(env, 20, 12, &fx.held);
    sl_latent_config lc = sl_latent_config_default();
    lc.z_dim = ZD;
    lc.epochs = 10;
    lc.seed = 1;
    if (st == SL_OK) st = sl_latent_train(&enc, fx.train, &lc, NULL);
    if (st == SL_OK) {
        fx.ztr = malloc(fx.train->n * ZD * sizeof(float));
        fx.zho = malloc(fx.held->n * ZD * sizeof(float));
        st = (fx.ztr && fx.zho) ? SL_OK : SL_ERR_NOMEM;
    }
    if (st == SL_OK) st = sl_latent_encode_dataset(enc, fx.train, fx.ztr, NULL);
    if (st == SL_OK) st = sl_latent_encode_dataset(enc, fx.held, fx.zho, NULL);
    sl_trust_config tc = test_cfg(3);
    if (st == SL_OK)
        st = sl_trust_train(&fx.mlp, &tc, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL,
                            NULL, 0, &fx.rep);
    sl_latent_free(enc);
    sl_env_free(env);
    if (st != SL_OK) {
        printf("  fixture failed: %s: %s\n", sl_strerror(st), sl_last_error());
        return 0;
    }
    fx.ready = 1;
    return 1;
}

/* n windows of length T from the held-out episodes (every `stride` steps). Caller frees. */
static float *held_windows(int T, int stride, size_t *n_out) {
    size_t cap = fx.held->n, n = 0;
    float *w = malloc(cap * (size_t)T * ZD * sizeof(float));
    if (!w) return NULL;
    for (size_t e = 0; e < fx.held->n_episodes; e++) {
        size_t a, b;
        if (sl_dataset_episode_range(fx.held, e, &a, &b) != SL_OK) continue;
        for (size_t s = a; s + (size_t)T <= b; s += (size_t)stride)
            memcpy(w + (n++) * (size_t)T * ZD, fx.zho + s * ZD, (size_t)T * ZD * sizeof(float));
    }
    *n_out = n;
    return w;
}

/* deviations from each window's own mean scaled by f (seed 001's synthetic latents: 1.9x) */
static void inflate(float *w, size_t n, int T, double f) {
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < ZD; d++) {
            float *x = w + i * (size_t)T * ZD;
            double mu = 0;
            for (int t = 0; t < T; t++) mu += (double)x[t * ZD + d];
            mu /= T;
            for (int t = 0; t < T; t++) x[t * ZD + d] = (float)(mu + f * ((double)x[t * ZD + d] - mu));
        }
}

static double mean_of(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

/* --- features, std ratio: numpy; metrics: sklearn -------------------------------- */

TEST(features_ratios_metrics_vs_reference) {
    sl_rng r;
    sl_rng_seed(&r, 42, 0);
    const int Ts[5] = {2, 3, 5, 17, 60}, Ds[5] = {1, 4, 3, 8, 2};
    char in[600], out[600], cmd[2000];
    snprintf(in, sizeof in, "%s/tref_in.json", harness_tmpdir());
    snprintf(out, sizeof out, "%s/tref_out.json", harness_tmpdir());
    cJSON *j = cJSON_CreateObject();
    cJSON *wa = cJSON_AddArrayToObject(j, "windows"), *pa = cJSON_AddArrayToObject(j, "pairs");
    float *ws[5];
    double *feats[5];
    for (int k = 0; k < 5; k++) {
        int T = Ts[k], D = Ds[k];
        ws[k] = malloc((size_t)T * D * sizeof(float));
        feats[k] = malloc((size_t)sl_trust_n_features(D) * sizeof(double));
        cJSON *wj = cJSON_CreateArray();
        for (int t = 0; t < T; t++) {
            cJSON *row = cJSON_CreateArray();
            for (int d = 0; d < D; d++) {
                float v = (float)(0.3 * d + sl_rng_normal(&r) * (1 + d));
                ws[k][t * D + d] = v;
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)v));
            }
            cJSON_AddItemToArray(wj, row);
        }
        cJSON_AddItemToArray(wa, wj);
        CHECK_OK(sl_trust_features(ws[k], T, D, feats[k]));
    }
    /* std-ratio pairs: (window k, window k scaled by 1.7 around its mean + shift) */
    double ratios[5];
    for (int k = 0; k < 5; k++) {
        int T = Ts[k], D = Ds[k];
        float *b = malloc((size_t)T * D * sizeof(float));
        for (int i = 0; i < T * D; i++) b[i] = (float)(1.7 * (double)ws[k][i] + sl_rng_normal(&r) * 0.1 + 5);
        ratios[k] = sl_trust_std_ratio(b, ws[k], T, D);
        cJSON *pair = cJSON_CreateArray();
        for (int q = 0; q < 2; q++) {
            const float *src = q ? ws[k] : b;
            cJSON *wj = cJSON_CreateArray();
            for (int t = 0; t < T; t++) {
                cJSON *row = cJSON_CreateArray();
                for (int d = 0; d < D; d++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)src[t * D + d]));
                cJSON_AddItemToArray(wj, row);
            }
            cJSON_AddItemToArray(pair, wj);
        }
        cJSON_AddItemToArray(pa, pair);
        free(b);
    }
    /* predictions with ties and a spread of calibration */
    enum { NP = 300 };
    double p[NP];
    int y[NP];
    for (int i = 0; i < NP; i++) {
        y[i] = sl_rng_uniform(&r) < 0.4;
        double v = y[i] ? 0.65 + 0.3 * sl_rng_normal(&r) : 0.35 + 0.3 * sl_rng_normal(&r);
        if (i % 7 == 0) v = 0.5;
        p[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    sl_json_add_f64_array(j, "pred", p, NP);
    cJSON *la = cJSON_AddArrayToObject(j, "label");
    for (int i = 0; i < NP; i++) cJSON_AddItemToArray(la, cJSON_CreateNumber(y[i]));
    CHECK_OK(sl_json_write_file(in, j));
    cJSON_Delete(j);
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/trust_ref.py %s %s", SL_PYTHON, root(), in, out);
    CHECK_MSG(system(cmd) == 0, "trust_ref.py failed: %s", cmd);
    cJSON *ref = NULL;
    CHECK_OK(sl_json_read_file(out, &ref));
    if (ref) {
        const cJSON *fa = cJSON_GetObjectItem(ref, "features");
        for (int k = 0; k < 5; k++) {
            const cJSON *fk = cJSON_GetArrayItem(fa, k);
            int F = sl_trust_n_features(Ds[k]);
            CHECK(cJSON_GetArraySize(fk) == F);
            for (int i = 0; i < F; i++)
                CHECK_CLOSE(feats[k][i], cJSON_GetArrayItem(fk, i)->valuedouble, 1e-12);
            CHECK_CLOSE(ratios[k], cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "ratios"), k)->valuedouble, 1e-12);
        }
        double auc, brier, ece;
        CHECK_OK(sl_stats_roc_auc(p, y, NP, &auc));
        CHECK_OK(sl_stats_brier(p, y, NP, &brier));
        CHECK_OK(sl_stats_ece(p, y, NP, 0, &ece));
        CHECK_CLOSE(auc, sl_json_num(ref, "auc", NAN), 1e-12);
        CHECK_CLOSE(brier, sl_json_num(ref, "brier", NAN), 1e-12);
        CHECK_CLOSE(ece, sl_json_num(ref, "ece", NAN), 1e-12);
    }
    cJSON_Delete(ref);
    for (int k = 0; k < 5; k++) {
        free(ws[k]);
        free(feats[k]);
    }
    /* bad input */
    double f[16];
    float bad[6] = {1, 2, NAN, 4, 5, 6};
    CHECK_STATUS(sl_trust_features(bad, 3, 2, f), SL_ERR_NAN);
    CHECK_STATUS(sl_trust_features(bad, 1, 2, f), SL_ERR_ARG);
}

/* --- std ratio and gates ---------------------------------------------------------- */

TEST(std_ratio_rules) {
    float real[12] = {0, 1, 2, 3, 1, 0, 2, 2, 5, 1, 0, 4};
    float b[12];
    for (int i = 0; i < 12; i++) b[i] = real[i];
    CHECK(sl_trust_std_ratio(b, real, 4, 3) == 1.0);
    /* deviations from the window mean scaled by 1.9 (plus a shift) -> ratio 1.9 */
    for (int d = 0; d < 3; d++) {
        double mu = 0;
        for (int t = 0; t < 4; t++) mu += (double)real[t * 3 + d];
        mu /= 4;
        for (int t = 0; t < 4; t++) b[t * 3 + d] = (float)(mu + 1.9 * ((double)real[t * 3 + d] - mu) + 3.0);
    }
    CHECK_CLOSE(sl_trust_std_ratio(b, real, 4, 3), 1.9, 1e-6);
    float cst[12] = {0};
    CHECK(isinf(sl_trust_std_ratio(b, cst, 4, 3)));
    CHECK(sl_trust_std_ratio(cst, cst, 4, 3) == 1.0);
    b[5] = NAN;
    CHECK(isnan(sl_trust_std_ratio(b, real, 4, 3)));
    CHECK(isnan(sl_trust_std_ratio(real, b, 4, 3)));
    b[5] = INFINITY;
    CHECK(isnan(sl_trust_std_ratio(b, real, 4, 3)));
    CHECK(isnan(sl_trust_std_ratio(real, real, 1, 3)));
    /* pooled = sqrt(sum var / sum var); per-branch ratios filled */
    float bs[24], rs[24];
    for (int i = 0; i < 12; i++) {
        rs[i] = real[i];
        rs[12 + i] = 2 * real[i];
        bs[i] = 2 * real[i];
        bs[12 + i] = 2 * real[i];
    }
    double per[2];
    double pooled = sl_trust_std_ratio_pooled(bs, rs, 2, 4, 3, per);
    CHECK_CLOSE(per[0], 2.0, 1e-12);
    CHECK_CLOSE(per[1], 1.0, 1e-12);
    CHECK_CLOSE(pooled, sqrt(8.0 / 5.0), 1e-12); /* (4v + 4v) / (v + 4v) */
    bs[13] = NAN;
    CHECK(isnan(sl_trust_std_ratio_pooled(bs, rs, 2, 4, 3, per)));
    CHECK(per[0] == 2.0 && isnan(per[1]));
}

TEST(gates_presets_and_edges) {
    /* the seed 000 presets */
    sl_gate c = sl_gate_from_preset(SL_GATE_CONSERVATIVE), n = sl_gate_from_preset(SL_GATE_NORMAL),
            a = sl_gate_from_preset(SL_GATE_AGGRESSIVE);
    CHECK(c.trust_floor == 0.95 && c.ratio_lo == 0.9 && c.ratio_hi == 1.1);
    CHECK(n.trust_floor == 0.90 && n.ratio_lo == 0.8 && n.ratio_hi == 1.2);
    CHECK(a.trust_floor == 0.80 && a.ratio_lo == 0.7 && a.ratio_hi == 1.3);
    for (int i = 0; i < SL_GATE_PRESET_COUNT; i++) {
        sl_gate_preset p;
        CHECK_OK(sl_gate_preset_parse(sl_gate_preset_name((sl_gate_preset)i), &p));
        CHECK((int)p == i);
        sl_gate g = sl_gate_from_preset((sl_gate_preset)i);
        CHECK_OK(sl_gate_check_config(&g));
        /* exactly at every edge: pass */
        CHECK(sl_gate_check(&g, g.trust_floor, 1.0) == SL_GATE_PASS);
        CHECK(sl_gate_check(&g, 1.0, g.ratio_lo) == SL_GATE_PASS);
        CHECK(sl_gate_check(&g, 1.0, g.ratio_hi) == SL_GATE_PASS);
        CHECK(sl_gate_check(&g, g.trust_floor, g.ratio_hi) == SL_GATE_PASS);
        /* one ulp outside: fail with the right reason */
        CHECK(sl_gate_check(&g, nextafter(g.trust_floor, 0), 1.0) == SL_GATE_LOW_TRUST);
        CHECK(sl_gate_check(&g, 1.0, nextafter(g.ratio_lo, 0)) == SL_GATE_STD_LOW);
        CHECK(sl_gate_check(&g, 1.0, nextafter(g.ratio_hi, 2)) == SL_GATE_STD_HIGH);
    }
    sl_gate_preset p;
    CHECK_STATUS(sl_gate_preset_parse("reckless", &p), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "reckless") != NULL);
    CHECK(sl_gate_preset_name(SL_GATE_PRESET_COUNT) == NULL);
    CHECK(sl_gate_from_preset((sl_gate_preset)99).trust_floor == 0.90);
    /* NaN never passes, and wins over every other reason */
    CHECK(sl_gate_check(&n, NAN, 1.0) == SL_GATE_NONFINITE);
    CHECK(sl_gate_check(&n, 0.99, NAN) == SL_GATE_NONFINITE);
    CHECK(sl_gate_check(&n, 0.1, NAN) == SL_GATE_NONFINITE);
    CHECK(sl_gate_check(&n, 0.99, INFINITY) == SL_GATE_STD_HIGH);
    /* order: low trust before the band */
    CHECK(sl_gate_check(&n, 0.5, 3.0) == SL_GATE_LOW_TRUST);
    CHECK(strcmp(sl_gate_reason_name(SL_GATE_NONFINITE), "non-finite") == 0);
    CHECK(strcmp(sl_gate_reason_name(SL_GATE_PASS), "pass") == 0);
    CHECK(strcmp(sl_gate_reason_name(SL_GATE_STD_HIGH), "std-ratio-high") == 0);
    CHECK(sl_gate_reason_name(SL_GATE_REASON_COUNT) == NULL);
    /* many */
    double tr[5] = {0.95, 0.2, NAN, 0.99, 0.91}, ra[5] = {1.0, 1.0, 1.0, 1.25, 0.8};
    sl_gate_reason rs[5];
    size_t np = 0;
    sl_gate_check_many(&n, tr, ra, 5, rs, &np);
    CHECK(np == 2 && rs[0] == SL_GATE_PASS && rs[1] == SL_GATE_LOW_TRUST &&
          rs[2] == SL_GATE_NONFINITE && rs[3] == SL_GATE_STD_HIGH && rs[4] == SL_GATE_PASS);
    sl_gate bad = {1.5, 0.8, 1.2};
    CHECK_STATUS(sl_gate_check_config(&bad), SL_ERR_ARG);
    bad = (sl_gate){0.9, 1.3, 1.2};
    CHECK_STATUS(sl_gate_check_config(&bad), SL_ERR_ARG);
    bad = (sl_gate){NAN, 0.8, 1.2};
    CHECK_STATUS(sl_gate_check_config(&bad), SL_ERR_ARG);
    /* names */
    CHECK(strcmp(sl_trust_kind_name(SL_TRUST_KIND_INFLATE), "inflate") == 0);
    CHECK(sl_trust_kind_name(SL_TRUST_KIND_COUNT) == NULL);
    sl_trust_arch ar;
    CHECK_OK(sl_trust_arch_parse("temporal", &ar));
    CHECK(ar == SL_TRUST_ARCH_TEMPORAL);
    CHECK_STATUS(sl_trust_arch_parse("cnn", &ar), SL_ERR_ARG);
}

/* --- seed 001: the poison is detected ----------------------------------------------- */

TEST(poison_detection_on_workcell_latents) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    const sl_trust_report *r = &fx.rep;
    printf("  report: AUC %.4f Brier %.4f->%.4f ECE %.4f->%.4f; trust real %.3f noise %.3f "
           "inflate %.3f drift %.3f\n", r->auc, r->brier_raw, r->brier, r->ece_raw, r->ece,
           r->mean_trust[0], r->mean_trust[1], r->mean_trust[2], r->mean_trust[3]);
    CHECK(r->auc > 0.95);
    CHECK(r->mean_trust[SL_TRUST_KIND_REAL] > 0.8);
    CHECK(r->mean_trust[SL_TRUST_KIND_INFLATE] < 0.2);
    CHECK(r->brier < 0.1 && r->ece < 0.1);
    CHECK(r->n_kind[SL_TRUST_KIND_EXTERNAL] == 0 && r->n_kind[SL_TRUST_KIND_REAL] == 200);
    /* per-length pass rates: ascending lengths, counts add up, rates nested by floor */
    CHECK(r->n_len == 6 && r->len[0] == 5 && r->len[5] == 60);
    size_t nr = 0, nn = 0;
    for (int q = 0; q < r->n_len; q++) {
        if (q) CHECK(r->len[q] > r->len[q - 1]);
        nr += r->n_real_len[q];
        nn += r->n_neg_len[q];
        if (!r->n_real_len[q] || !r->n_neg_len[q]) continue;
        printf("  T=%d: real pass %.3f/%.3f/%.3f, negatives %.3f/%.3f/%.3f at 0.95/0.90/0.85\n",
               r->len[q], r->real_pass_len[q][0], r->real_pass_len[q][1], r->real_pass_len[q][2],
               r->neg_pass_len[q][0], r->neg_pass_len[q][1], r->neg_pass_len[q][2]);
        CHECK(r->real_pass_len[q][0] <= r->real_pass_len[q][1] && r->real_pass_len[q][1] <= r->real_pass_len[q][2]);
        CHECK(r->neg_pass_len[q][0] <= r->neg_pass_len[q][1] && r->neg_pass_len[q][1] <= r->neg_pass_len[q][2]);
        CHECK(r->real_pass_len[q][2] >= 0.0 && r->real_pass_len[q][2] <= 1.0);
        CHECK(r->real_pass_len[q][2] > r->neg_pass_len[q][2]);
    }
    CHECK(nr == r->n_kind[SL_TRUST_KIND_REAL] && nr + nn == r->n_test_windows);
    /* independent held-out episodes (other collection seed), several horizons */
    const int Ts[3] = {10, 20, 60};
    for (int k = 0; k < 3; k++) {
        size_t n = 0;
        float *w = held_windows(Ts[k], Ts[k] == 60 ? 60 : 5, &n);
        double *p = malloc(n * sizeof(double)), *q = malloc(n * sizeof(double));
        CHECK(w && p && q && n >= 20);
        if (!w || !p || !q || n < 20) {
            free(w);
            free(p);
            free(q);
            continue;
        }
        CHECK_OK(sl_trust_score_windows(fx.mlp, w, n, Ts[k], ZD, p));
        inflate(w, n, Ts[k], 1.9);
        CHECK_OK(sl_trust_score_windows(fx.mlp, w, n, Ts[k], ZD, q));
        size_t pass = 0, poison_pass = 0;
        for (size_t i = 0; i < n; i++) {
            pass += p[i] >= 0.5;
            poison_pass += q[i] >= 0.5;
        }
        double mr = mean_of(p, n), mp = mean_of(q, n);
        printf("  T=%d: %zu held-out windows, mean trust real %.4f (%.0f%% >= 0.5), 1.9x-inflated "
               "%.4f (%.0f%% >= 0.5)\n", Ts[k], n, mr, 100.0 * (double)pass / (double)n, mp,
               100.0 * (double)poison_pass / (double)n);
        CHECK(mr > 0.8);
        CHECK(mp < 0.1);
        CHECK((double)pass >= 0.8 * (double)n);
        CHECK((double)poison_pass <= 0.05 * (double)n);
        free(w);
        free(p);
        free(q);
    }
}

/* AUC/Brier/ECE of the model's own predictions on held-out windows, via sl_stats and via
 * sklearn on the same numbers. */
TEST(metrics_on_model_predictions_vs_sklearn) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    size_t n = 0;
    float *w = held_windows(20, 10, &n);
    float *w2 = malloc(n * 20 * ZD * sizeof(float));
    double *p = malloc(2 * n * sizeof(double));
    int *y = malloc(2 * n * sizeof(int));
    if (!w || !w2 || !p || !y) {
        CHECK(0);
        free(w);
        free(w2);
        free(p);
        free(y);
        return;
    }
    memcpy(w2, w, n * 20 * ZD * sizeof(float));
    inflate(w2, n, 20, 1.4); /* a harder negative than the poison: some overlap */
    CHECK_OK(sl_trust_score_windows(fx.mlp, w, n, 20, ZD, p));
    CHECK_OK(sl_trust_score_windows(fx.mlp, w2, n, 20, ZD, p + n));
    for (size_t i = 0; i < 2 * n; i++) y[i] = i < n;
    double auc, brier, ece;
    CHECK_OK(sl_stats_roc_auc(p, y, 2 * n, &auc));
    CHECK_OK(sl_stats_brier(p, y, 2 * n, &brier));
    CHECK_OK(sl_stats_ece(p, y, 2 * n, 0, &ece));
    char in[600], out[600], cmd[2000];
    snprintf(in, sizeof in, "%s/tm_in.json", harness_tmpdir());
    snprintf(out, sizeof out, "%s/tm_out.json", harness_tmpdir());
    cJSON *j = cJSON_CreateObject();
    cJSON_AddArrayToObject(j, "windows");
    cJSON_AddArrayToObject(j, "pairs");
    sl_json_add_f64_array(j, "pred", p, 2 * n);
    cJSON *la = cJSON_AddArrayToObject(j, "label");
    for (size_t i = 0; i < 2 * n; i++) cJSON_AddItemToArray(la, cJSON_CreateNumber(y[i]));
    CHECK_OK(sl_json_write_file(in, j));
    cJSON_Delete(j);
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/trust_ref.py %s %s", SL_PYTHON, root(), in, out);
    CHECK_MSG(system(cmd) == 0, "trust_ref.py failed");
    cJSON *ref = NULL;
    CHECK_OK(sl_json_read_file(out, &ref));
    if (ref) {
        CHECK_CLOSE(auc, sl_json_num(ref, "auc", NAN), 1e-12);
        CHECK_CLOSE(brier, sl_json_num(ref, "brier", NAN), 1e-12);
        CHECK_CLOSE(ece, sl_json_num(ref, "ece", NAN), 1e-12);
    }
    printf("  real vs 1.4x-inflated, T=20: AUC %.4f Brier %.4f ECE %.4f\n", auc, brier, ece);
    CHECK(auc > 0.8 && auc <= 1.0);
    cJSON_Delete(ref);
    free(w);
    free(w2);
    free(p);
    free(y);
}

/* --- non-finite windows, shapes ----------------------------------------------------- */

TEST(nonfinite_windows_are_never_scored) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    size_t n = 0;
    float *w = held_windows(10, 10, &n);
    if (!w || n < 4) {
        CHECK(0);
        free(w);
        return;
    }
    w[1 * 10 * ZD + 33] = NAN;
    w[2 * 10 * ZD + 0] = -INFINITY;
    for (int i = 0; i < 10 * ZD; i++) w[3 * 10 * ZD + i] = (i & 1) ? 1e30f : -1e30f; /* huge */
    double p[4], lg[4];
    CHECK_OK(sl_trust_score_windows(fx.mlp, w, 4, 10, ZD, p));
    CHECK_OK(sl_trust_logits(fx.mlp, w, 4, 10, ZD, lg));
    CHECK(isfinite(p[0]) && p[0] >= 0 && p[0] <= 1);
    CHECK(isnan(p[1]) && isnan(p[2]) && isnan(lg[1]));
    CHECK(isfinite(p[3]) && p[3] < 0.05); /* finite but absurd: scored, and not trusted */
    double ratio = sl_trust_std_ratio(w + 10 * ZD, w, 10, ZD);
    sl_gate g = sl_gate_from_preset(SL_GATE_AGGRESSIVE);
    CHECK(sl_gate_check(&g, p[1], ratio) == SL_GATE_NONFINITE);
    CHECK(sl_gate_check(&g, p[2], 1.0) == SL_GATE_NONFINITE);
    CHECK(sl_gate_check(&g, p[3], 1.0) == SL_GATE_LOW_TRUST);
    CHECK_STATUS(sl_trust_score_windows(fx.mlp, w, 4, 10, ZD - 1, p), SL_ERR_SHAPE);
    CHECK(strstr(sl_last_error(), "15") != NULL);
    CHECK_STATUS(sl_trust_score_windows(fx.mlp, w, 4, 1, ZD, p), SL_ERR_ARG);
    CHECK_OK(sl_trust_score_windows(fx.mlp, w, 0, 10, ZD, p));
    free(w);
}

/* --- determinism, checkpoints ------------------------------------------------------- */

static int files_equal(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int eq = sl_read_file(a, &x, &nx) == SL_OK && sl_read_file(b, &y, &ny) == SL_OK && nx == ny &&
             memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return eq;
}

TEST(determinism_and_checkpoint) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    sl_trust_config c = test_cfg(3);
    c.steps = 150;
    sl_trust_model *a = NULL, *b = NULL, *d = NULL, *l = NULL;
    CHECK_OK(sl_trust_train(&a, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL));
    CHECK_OK(sl_trust_train(&b, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL));
    c.seed = 4;
    CHECK_OK(sl_trust_train(&d, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL));
    char pa[600], pb[600], pd[600];
    snprintf(pa, sizeof pa, "%s/ta.safetensors", harness_tmpdir());
    snprintf(pb, sizeof pb, "%s/tb.safetensors", harness_tmpdir());
    snprintf(pd, sizeof pd, "%s/td.safetensors", harness_tmpdir());
    if (a && b && d) {
        CHECK_OK(sl_trust_save(a, pa, NULL));
        CHECK_OK(sl_trust_save(b, pb, NULL));
        CHECK_OK(sl_trust_save(d, pd, NULL));
        CHECK(files_equal(pa, pb));
        CHECK(!files_equal(pa, pd));
        CHECK_OK(sl_trust_load(&l, pa));
    }
    size_t n = 0;
    float *w = held_windows(20, 20, &n);
    double *p1 = malloc(n * sizeof(double)), *p2 = malloc(n * sizeof(double));
    if (l && w && p1 && p2) {
        CHECK(sl_trust_model_dim(l) == ZD && sl_trust_model_arch(l) == SL_TRUST_ARCH_MLP);
        sl_trust_config lc = sl_trust_model_config(l);
        CHECK(lc.seed == 3 && lc.steps == 150 && lc.n_lengths == 6 && lc.lengths[5] == 60);
        CHECK_OK(sl_trust_score_windows(a, w, n, 20, ZD, p1));
        CHECK_OK(sl_trust_score_windows(l, w, n, 20, ZD, p2));
        CHECK(memcmp(p1, p2, n * sizeof(double)) == 0);
    }
    /* position_features = 0: the score depends on a window's shape only, so shifting every
     * value of a window by a constant leaves it unchanged (the default model moves) */
    c.seed = 3;
    c.position_features = 0;
    sl_trust_model *np0 = NULL, *np1 = NULL;
    CHECK_OK(sl_trust_train(&np0, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL));
    char pn[600];
    snprintf(pn, sizeof pn, "%s/tnp.safetensors", harness_tmpdir());
    if (np0) CHECK_OK(sl_trust_save(np0, pn, NULL));
    if (np0) CHECK_OK(sl_trust_load(&np1, pn));
    if (np0 && np1 && a && w && p1 && p2 && n >= 4) {
        CHECK(sl_trust_model_config(np1).position_features == 0);
        CHECK(sl_trust_model_config(a).position_features == 1);
        size_t m4 = 4, len = m4 * 20 * ZD;
        float *sh = malloc(len * sizeof(float));
        double q0[4], q1[4], d0[4], d1[4];
        if (sh) {
            for (size_t i = 0; i < len; i++) sh[i] = w[i] + 0.75f;
            CHECK_OK(sl_trust_score_windows(np1, w, m4, 20, ZD, q0));
            CHECK_OK(sl_trust_score_windows(np1, sh, m4, 20, ZD, q1));
            CHECK_OK(sl_trust_score_windows(a, w, m4, 20, ZD, d0));
            CHECK_OK(sl_trust_score_windows(a, sh, m4, 20, ZD, d1));
            double moved = 0;
            for (size_t i = 0; i < m4; i++) {
                CHECK_CLOSE(q0[i], q1[i], 1e-5);
                moved += fabs(d0[i] - d1[i]);
            }
            CHECK(moved > 1e-3);
        }
        free(sh);
    }
    sl_trust_free(np0);
    sl_trust_free(np1);
    /* an encoder checkpoint is not a trust model */
    sl_trust_model *bad = NULL;
    char enc[600];
    snprintf(enc, sizeof enc, "%s/not_trust.safetensors", harness_tmpdir());
    FILE *f = fopen(enc, "wb");
    if (f) {
        fputs("garbage", f);
        fclose(f);
    }
    CHECK(sl_trust_load(&bad, enc) != SL_OK);
    CHECK(bad == NULL);
    free(w);
    free(p1);
    free(p2);
    sl_trust_free(a);
    sl_trust_free(b);
    sl_trust_free(d);
    sl_trust_free(l);
    sl_trust_free(NULL);
}

/* --- the temporal variant ------------------------------------------------------------ */

TEST(temporal_variant_trains_and_scores) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    sl_trust_config c = sl_trust_config_default_arch(SL_TRUST_ARCH_TEMPORAL);
    c.use_inflate = c.use_drift = 1;
    c.steps = 250;
    c.batch = 64;
    c.eval_windows = 100;
    c.n_lengths = 3;
    c.lengths[0] = 5;
    c.lengths[1] = 10;
    c.lengths[2] = 20;
    c.seed = 5;
    sl_trust_model *m = NULL, *l = NULL;
    sl_trust_report r;
    CHECK_OK(sl_trust_train(&m, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, &r));
    if (!m) return;
    printf("  temporal: BCE %.3f -> %.3f, AUC %.4f, trust real %.3f inflate %.3f\n",
           r.train_loss_first, r.train_loss_last, r.auc, r.mean_trust[0], r.mean_trust[2]);
    CHECK(r.train_loss_last < r.train_loss_first);
    CHECK(r.auc > 0.85);
    CHECK(r.mean_trust[SL_TRUST_KIND_REAL] > r.mean_trust[SL_TRUST_KIND_INFLATE] + 0.3);
    char path[600];
    snprintf(path, sizeof path, "%s/temporal.safetensors", harness_tmpdir());
    CHECK_OK(sl_trust_save(m, path, NULL));
    CHECK_OK(sl_trust_load(&l, path));
    size_t n = 0;
    float *w = held_windows(20, 10, &n);
    double *p = malloc(n * sizeof(double)), *q = malloc(n * sizeof(double));
    if (l && w && p && q) {
        CHECK(sl_trust_model_arch(l) == SL_TRUST_ARCH_TEMPORAL);
        w[7] = NAN;
        CHECK_OK(sl_trust_score_windows(m, w, n, 20, ZD, p));
        CHECK_OK(sl_trust_score_windows(l, w, n, 20, ZD, q));
        CHECK(isnan(p[0]) && isnan(q[0]));
        CHECK(memcmp(p + 1, q + 1, (n - 1) * sizeof(double)) == 0);
        /* a window length it never saw still scores (GRU) */
        CHECK_OK(sl_trust_score_windows(l, w + 20 * ZD, 1, 7, ZD, p));
        CHECK(isfinite(p[0]));
    }
    free(w);
    free(p);
    free(q);
    sl_trust_free(m);
    sl_trust_free(l);
}

/* --- external negatives: an unstable generator -------------------------------------- */

TEST(external_negatives_from_unstable_generator) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    /* "one-step model run free": start at a real state, z_{t+1} = z_t + 1.15 (z_t - z_{t-1})
     * + noise: the variance explodes with the horizon, as in seed 001 */
    const size_t nseq = 30, L = 40;
    float *neg = malloc(nseq * L * ZD * sizeof(float));
    size_t off[31];
    sl_rng r;
    sl_rng_seed(&r, 9, 0);
    for (size_t s = 0; s < nseq; s++) {
        off[s] = s * L;
        size_t start = (size_t)sl_rng_below(&r, fx.train->n - 2);
        float *x = neg + s * L * ZD;
        memcpy(x, fx.ztr + start * ZD, 2 * ZD * sizeof(float));
        for (size_t t = 2; t < L; t++)
            for (int d = 0; d < ZD; d++)
                x[t * ZD + d] = (float)((double)x[(t - 1) * ZD + d] +
                                        0.9 * ((double)x[(t - 1) * ZD + d] - (double)x[(t - 2) * ZD + d]) +
                                        0.15 * sl_rng_normal(&r));
    }
    off[nseq] = nseq * L;
    sl_trust_config c = test_cfg(6);
    c.steps = 400;
    c.use_noise = c.use_drift = 0;
    sl_trust_model *m = NULL;
    sl_trust_report rep;
    CHECK_OK(sl_trust_train(&m, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, neg, off, nseq, &rep));
    if (m) {
        printf("  external: AUC %.4f trust real %.3f inflate %.3f external %.3f (%zu windows)\n",
               rep.auc, rep.mean_trust[0], rep.mean_trust[2], rep.mean_trust[4], rep.n_kind[4]);
        CHECK(rep.n_kind[SL_TRUST_KIND_EXTERNAL] == 100 && rep.n_kind[SL_TRUST_KIND_NOISE] == 0);
        /* windows cut near the start of a run are still close to real, so the mean is not 0 */
        CHECK(rep.mean_trust[SL_TRUST_KIND_EXTERNAL] < 0.5);
        CHECK(rep.mean_trust[SL_TRUST_KIND_REAL] > 0.8);
        CHECK(rep.auc > 0.95);
    }
    /* the default (noise + the external generator, no inflate/drift, 2 x 128) on the same
     * negatives: fresh held-out 5-step real windows must reach level 1's floor far more often
     * than with the fixture's inflate/drift negatives, and the generator stays rejected */
    sl_trust_config dc = sl_trust_config_default();
    dc.eval_windows = 200;
    dc.seed = 6;
    sl_trust_model *dm = NULL;
    sl_trust_report drep;
    CHECK_OK(sl_trust_train(&dm, &dc, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, neg, off, nseq, &drep));
    size_t nw = 0;
    float *w5 = held_windows(5, 1, &nw);
    double *pd = malloc((nw ? nw : 1) * sizeof(double)), *po = malloc((nw ? nw : 1) * sizeof(double));
    CHECK(dm && w5 && pd && po && nw >= 100);
    if (dm && w5 && pd && po && nw >= 100) {
        CHECK(drep.n_kind[SL_TRUST_KIND_INFLATE] == 0 && drep.n_kind[SL_TRUST_KIND_DRIFT] == 0);
        CHECK(drep.n_kind[SL_TRUST_KIND_NOISE] > 0 && drep.n_kind[SL_TRUST_KIND_EXTERNAL] > 0);
        CHECK_OK(sl_trust_score_windows(dm, w5, nw, 5, ZD, pd));
        CHECK_OK(sl_trust_score_windows(fx.mlp, w5, nw, 5, ZD, po));
        size_t hd = 0, ho = 0;
        for (size_t i = 0; i < nw; i++) {
            hd += pd[i] >= 0.95;
            ho += po[i] >= 0.95;
        }
        double fd = (double)hd / (double)nw, fo = (double)ho / (double)nw;
        printf("  default negatives: AUC %.4f, external trust %.3f; fresh real T=5 windows >= 0.95: "
               "%.3f (inflate/drift fixture: %.3f), %zu windows\n", drep.auc,
               drep.mean_trust[SL_TRUST_KIND_EXTERNAL], fd, fo, nw);
        CHECK(drep.auc > 0.95);
        CHECK(drep.mean_trust[SL_TRUST_KIND_EXTERNAL] < 0.5);
        CHECK(fd >= 0.85);
        CHECK(fd > fo + 0.1);
    }
    free(w5);
    free(pd);
    free(po);
    sl_trust_free(dm);
    /* errors: no negatives at all; too few episodes; NaN real latents; bad offsets */
    sl_trust_model *x = NULL;
    sl_trust_config none = c;
    none.use_inflate = 0;
    CHECK_STATUS(sl_trust_train(&x, &none, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_trust_train(&x, &c, fx.ztr, fx.train->episode_ids, 120, ZD, NULL, NULL, 0, NULL), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), ">= 3 real episodes") != NULL);
    float keep = fx.ztr[77];
    fx.ztr[77] = NAN;
    CHECK_STATUS(sl_trust_train(&x, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "row 4 dim 13") != NULL);
    fx.ztr[77] = keep;
    size_t bad_off[3] = {0, 50, 40};
    CHECK_STATUS(sl_trust_train(&x, &c, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, neg, bad_off, 2, NULL), SL_ERR_ARG);
    sl_trust_config bc = c;
    bc.n_lengths = 1;
    bc.lengths[0] = 500;
    CHECK_STATUS(sl_trust_train(&x, &bc, fx.ztr, fx.train->episode_ids, fx.train->n, ZD, NULL, NULL, 0, NULL), SL_ERR_ARG);
    CHECK(x == NULL);
    free(neg);
    sl_trust_free(m);
}

/* --- CLI ------------------------------------------------------------------------------ */

TEST(cli_train_and_score) {
    CHECK(fixture());
    if (fx.ready <= 0) return;
    const char *bin = getenv("SL_BIN");
    char defbin[600];
    snprintf(defbin, sizeof defbin, "%s/build/synthloop", root());
    if (!bin || !*bin) bin = defbin;
    const char *t = harness_tmpdir();
    char zt[600], zh[600], dt[600], model[600], rep[600], wins[600], out[600], js[600], cmd[4000];
    snprintf(zt, sizeof zt, "%s/cli_zt.npz", t);
    snprintf(zh, sizeof zh, "%s/cli_zh.npz", t);
    snprintf(dt, sizeof dt, "%s/cli_dt.npz", t);
    snprintf(model, sizeof model, "%s/cli_trust.safetensors", t);
    snprintf(rep, sizeof rep, "%s/cli_trust.json", t);
    snprintf(wins, sizeof wins, "%s/cli_w.npz", t);
    snprintf(out, sizeof out, "%s/cli_s.npz", t);
    snprintf(js, sizeof js, "%s/cli_s.json", t);
    CHECK_OK(sl_dataset_save_npz(fx.train, dt));
    CHECK_OK(sl_latents_save_npz(zt, fx.ztr, NULL, NULL, fx.train->n, ZD));
    CHECK_OK(sl_latents_save_npz(zh, fx.zho, NULL, fx.held->episode_ids, fx.held->n, ZD));
    snprintf(cmd, sizeof cmd, "%s trust train --quiet --latents %s --data %s --output %s "
             "--steps 200 --eval-windows 100 --seed 2", bin, zt, dt, model);
    CHECK_MSG(system(cmd) == 0, "failed: %s", cmd);
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(rep, &j));
    if (j) {
        CHECK(sl_json_num(j, "seed", -1) == 2);
        const cJSON *r = cJSON_GetObjectItem(j, "report");
        CHECK(r && sl_json_num(r, "roc_auc", 0) > 0.9);
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "calibration"), "ece_before") != NULL);
        CHECK(cJSON_GetObjectItem(j, "git") && cJSON_GetObjectItem(j, "config"));
    }
    cJSON_Delete(j);
    /* latents without episode ids and without --data: a clear error, exit 1 */
    snprintf(cmd, sizeof cmd, "%s trust train --quiet --latents %s --output %s.x 2>/dev/null", bin,
             zt, model);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    /* score sliding windows of the held-out latents */
    snprintf(cmd, sizeof cmd, "%s trust score --quiet --model %s --latents %s --window 20 "
             "--stride 10 --output %s", bin, model, zh, out);
    CHECK_MSG(system(cmd) == 0, "failed: %s", cmd);
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, out));
    if (z) {
        const sl_array *tr = NULL, *ep = NULL;
        CHECK_OK(sl_npz_get(z, "trust", &tr));
        CHECK_OK(sl_npz_get(z, "episode", &ep));
        if (tr && ep) {
            CHECK(tr->dtype == SL_DTYPE_F64 && tr->shape[0] == 20 * 5);
            double m = mean_of(tr->data, tr->count);
            CHECK(m > 0.7);
        }
        sl_npz_close(z);
    }
    /* a windows file with a NaN window: reported as null in JSON, -1 + finite=0 in NPZ */
    size_t n = 0;
    float *w = held_windows(10, 30, &n);
    if (w && n >= 3) {
        w[10 * ZD + 5] = NAN;
        sl_npz_writer *wr = NULL;
        size_t shape[3] = {3, 10, ZD};
        CHECK_OK(sl_npz_writer_open(&wr, wins, SL_NPZ_STORED));
        if (wr) {
            /* the writer refuses NaN (as it should): write the NaN file with numpy instead */
            CHECK_STATUS(sl_npz_writer_add(wr, "windows", SL_DTYPE_F32, 3, shape, w), SL_ERR_NAN);
            sl_npz_writer_abort(wr);
        }
        char raw[600];
        snprintf(raw, sizeof raw, "%s/cli_w.f32", t);
        FILE *f = fopen(raw, "wb");
        if (f) {
            fwrite(w, sizeof(float), 3 * 10 * ZD, f);
            fclose(f);
        }
        snprintf(cmd, sizeof cmd, "%s -c \"import numpy as np; np.savez('%s', windows=np.fromfile("
                 "'%s', dtype='<f4').reshape(3, 10, %d))\"", SL_PYTHON, wins, raw, ZD);
        CHECK_MSG(system(cmd) == 0, "numpy failed: %s", cmd);
        snprintf(cmd, sizeof cmd, "%s trust score --model %s --windows %s --output %s --json > %s",
                 bin, model, wins, out, js);
        CHECK_MSG(system(cmd) == 0, "failed: %s", cmd);
        cJSON *s = NULL;
        CHECK_OK(sl_json_read_file(js, &s));
        if (s) {
            CHECK(sl_json_num(s, "n_non_finite", -1) == 1);
            const cJSON *arr = cJSON_GetObjectItem(s, "trust");
            CHECK(cJSON_GetArraySize(arr) == 3 && cJSON_IsNull(cJSON_GetArrayItem(arr, 1)));
            CHECK(cJSON_IsNumber(cJSON_GetArrayItem(arr, 0)));
        }
        cJSON_Delete(s);
        CHECK_OK(sl_npz_open(&z, out));
        if (z) {
            const sl_array *tr = NULL, *fi = NULL;
            CHECK_OK(sl_npz_get(z, "trust", &tr));
            CHECK_OK(sl_npz_get(z, "finite", &fi));
            if (tr && fi) {
                CHECK(((const double *)tr->data)[1] == -1.0);
                CHECK(((const uint8_t *)fi->data)[1] == 0 && ((const uint8_t *)fi->data)[0] == 1);
            }
            sl_npz_close(z);
        }
    }
    free(w);
    snprintf(cmd, sizeof cmd, "%s trust score --model %s 2>/dev/null", bin, model);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s trust --help > /dev/null", bin);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(features_ratios_metrics_vs_reference);
    RUN(std_ratio_rules);
    RUN(gates_presets_and_edges);
    RUN(poison_detection_on_workcell_latents);
    RUN(metrics_on_model_predictions_vs_sklearn);
    RUN(nonfinite_windows_are_never_scored);
    RUN(determinism_and_checkpoint);
    RUN(temporal_variant_trains_and_scores);
    RUN(external_negatives_from_unstable_generator);
    RUN(cli_train_and_score);
    sl_trust_free(fx.mlp);
    free(fx.ztr);
    free(fx.zho);
    sl_dataset_free(fx.train);
    sl_dataset_free(fx.held);
    return harness_done();
}
