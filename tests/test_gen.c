/* SPDX-License-Identifier: Apache-2.0 */
/* test_gen.c - record-level generators and their scores: every score against numpy / scipy /
 * sklearn (tests/py/gen_ref.py) on the same files, what each generator must reproduce, the
 * file round trips, DP statements, bad input (type mismatch, one row, schema/table
 * disagreement, DP without public bounds, a ledger that refuses), and the commands.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "synthloop/sl_gen.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

static const char *tmp_path(const char *name) {
    static char buf[8][PATH_MAX];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", harness_tmpdir(), name);
    return buf[k];
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int file_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

/* A mixed table of n rows: x (numeric, skewed, correlated with y), y (numeric), k (integer
 * with ties), d (date), c (3 labels depending on x), g (2 labels). `shift` moves the synth
 * version's distributions. */
static void make_table(const char *path, size_t n, uint64_t seed, double shift) {
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "x,y,k,d,c,g\n");
    for (size_t i = 0; i < n; i++) {
        double z1 = sl_rng_normal(&r), z2 = sl_rng_normal(&r);
        double x = exp(0.5 * z1 + shift), y = 3 * (0.8 * z1 + 0.6 * z2) + 10 + shift;
        int k = (int)floor(4 * sl_rng_uniform(&r) + 2 * shift);
        int d = 18000 + (int)(400 * sl_rng_uniform(&r)) + (int)(100 * shift);
        const char *c = z1 + shift > 0.5 ? "high" : z1 > -0.5 ? "mid" : "low";
        const char *g = sl_rng_uniform(&r) < 0.3 + 0.2 * shift ? "a" : "b";
        /* days -> date */
        long zz = d + 719468, era = zz / 146097;
        unsigned doe = (unsigned)(zz - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        unsigned dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
        long yy = (long)yoe + era * 400 + (mm <= 2);
        fprintf(f, "%.6f,%.6f,%d,%04ld-%02u-%02u,%s,%s\n", x, y, k, yy, mm, dd, c, g);
    }
    fclose(f);
}

/* --- scores against the Python reference ----------------------------------------- */

static cJSON *f64_array(const double *x, size_t n) { return cJSON_CreateDoubleArray(x, (int)n); }
static cJSON *int_array(const int *x, size_t n) { return cJSON_CreateIntArray(x, (int)n); }

TEST(scores_match_scipy_sklearn) {
    const char *rp = tmp_path("s_real.csv"), *sp = tmp_path("s_syn.csv"), *hp = tmp_path("s_hold.csv");
    make_table(rp, 300, 1, 0.0);
    make_table(sp, 250, 2, 0.3);
    make_table(hp, 300, 3, 0.0);
    sl_gen_table *real = NULL, *syn = NULL, *hold = NULL;
    CHECK_OK(sl_gen_table_read_csv(rp, NULL, &real));
    CHECK_OK(sl_gen_table_read_csv(sp, real, &syn));
    CHECK_OK(sl_gen_table_read_csv(hp, real, &hold));
    if (!real || !syn || !hold) return;
    CHECK(real->cols[0].type == SL_GEN_NUMERIC && real->cols[3].type == SL_GEN_DATE &&
          real->cols[4].type == SL_GEN_CATEGORICAL && real->cols[2].integer);
    sl_gen_eval_config ec = sl_gen_eval_defaults();
    ec.keep_raw = 1;
    sl_gen_scores s;
    CHECK_OK(sl_gen_evaluate(real, syn, hold, &ec, &s));
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "real", rp);
    cJSON_AddStringToObject(in, "synth", sp);
    cJSON_AddStringToObject(in, "holdout", hp);
    cJSON_AddItemToObject(in, "det_score", f64_array(s.det_score, s.n_det));
    cJSON_AddItemToObject(in, "det_score_lr", f64_array(s.det_score_lr, s.n_det));
    cJSON_AddItemToObject(in, "det_label", int_array(s.det_label, s.n_det));
    cJSON_AddItemToObject(in, "mia_score", f64_array(s.mia_score, s.n_mia));
    cJSON_AddItemToObject(in, "mia_label", int_array(s.mia_label, s.n_mia));
    const char *ip = tmp_path("gen_in.json"), *op = tmp_path("gen_out.json");
    CHECK_OK(sl_json_write_file(ip, in));
    cJSON_Delete(in);
    char cmd[3 * PATH_MAX];
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/gen_ref.py %s %s", SL_PYTHON,
             root && *root ? root : ".", ip, op);
    cJSON *ref = NULL;
    if (system(cmd) != 0) {
        HARNESS_FAIL("reference script failed: %s", cmd);
    } else {
        CHECK_OK(sl_json_read_file(op, &ref));
    }
    if (ref) {
        const cJSON *cf = cJSON_GetObjectItem(ref, "col_fidelity");
        double worst = 0;
        for (size_t c = 0; c < s.n_cols; c++) {
            double want = cJSON_GetArrayItem(cf, (int)c)->valuedouble;
            CHECK_CLOSE(s.col_fidelity[c], want, 1e-12);
            worst = fmax(worst, fabs(s.col_fidelity[c] - want));
        }
#define REF(name) sl_json_num(ref, name, NAN)
        CHECK_CLOSE(s.pair_similarity, REF("pair_similarity"), 1e-12);
        CHECK_CLOSE(s.coverage, REF("coverage"), 1e-12);
        CHECK_CLOSE(s.diversity, REF("diversity"), 1e-9);
        CHECK_CLOSE(s.dcr_synth, REF("dcr_synth"), 1e-9);
        CHECK_CLOSE(s.dcr_holdout, REF("dcr_holdout"), 1e-9);
        CHECK_CLOSE(s.dcr_share, REF("dcr_share"), 1e-12);
        CHECK_CLOSE(s.detection_auc_mlp, REF("det_auc"), 1e-12);
        CHECK_CLOSE(s.detection_auc_lr, REF("det_auc_lr"), 1e-12);
        CHECK_CLOSE(s.mia_auc, REF("mia_auc"), 1e-12);
        const cJSON *ms = cJSON_GetObjectItem(ref, "mia_score");
        CHECK((size_t)cJSON_GetArraySize(ms) == s.n_mia);
        for (size_t i = 0; i < s.n_mia && i < (size_t)cJSON_GetArraySize(ms); i++)
            CHECK_CLOSE(s.mia_score[i], cJSON_GetArrayItem(ms, (int)i)->valuedouble, 1e-9);
        printf("  %zu columns (KS/TVD worst diff %.1e), pairs %.4f, detection AUC %.4f (mlp) "
               "%.4f (logistic), membership AUC %.4f\n", s.n_cols, worst, s.pair_similarity,
               s.detection_auc_mlp, s.detection_auc_lr, s.mia_auc);
        /* the shift is visible: some column is not reproduced and the detector sees it */
        CHECK(s.detection_auc > 0.6);
        CHECK(fabs(s.quality - (s.fidelity + s.pair_similarity + s.detection + s.coverage) / 4) <
              1e-15);
    }
    cJSON_Delete(ref);
    sl_gen_scores_free(&s);
    /* a table scored against itself: every fidelity 1, detection close to chance */
    CHECK_OK(sl_gen_evaluate(real, real, NULL, NULL, &s));
    for (size_t c = 0; c < s.n_cols; c++) CHECK(s.col_fidelity[c] == 1.0);
    CHECK(s.pair_similarity == 1.0 && s.coverage == 1.0);
    CHECK(fabs(s.detection_auc - 0.5) < 0.12);
    CHECK(!s.has_privacy);
    sl_gen_scores_free(&s);
    sl_gen_table_free(real);
    sl_gen_table_free(syn);
    sl_gen_table_free(hold);
}

/* --- generators ------------------------------------------------------------------- */

/* The schema of make_table with public bounds and labels (what DP needs). */
static const char *write_schema(void) {
    const char *p = tmp_path("schema.json");
    write_text(p, "{\"columns\": ["
                  "{\"name\": \"x\", \"role\": \"sensitive\", \"type\": \"numeric\", \"min\": 0, \"max\": 40},"
                  "{\"name\": \"y\", \"type\": \"numeric\", \"min\": -10, \"max\": 30},"
                  "{\"name\": \"k\", \"type\": \"numeric\", \"integer\": true, \"min\": -2, \"max\": 8},"
                  "{\"name\": \"d\", \"type\": \"date\", \"min\": \"2019-01-01\", \"max\": \"2021-12-31\"},"
                  "{\"name\": \"c\", \"type\": \"categorical\", \"categories\": [\"low\", \"mid\", \"high\"]},"
                  "{\"name\": \"g\", \"type\": \"categorical\", \"categories\": [\"a\", \"b\"]}]}");
    return p;
}

static sl_gen_table *load_table(size_t n, uint64_t seed, const sl_gen_table *schema) {
    char name[64];
    snprintf(name, sizeof name, "t_%zu_%llu.csv", n, (unsigned long long)seed);
    const char *p = tmp_path(name);
    make_table(p, n, seed, 0.0);
    sl_gen_table *t = NULL;
    CHECK_OK(sl_gen_table_read_csv(p, schema, &t));
    return t;
}

static int tables_equal(const sl_gen_table *a, const sl_gen_table *b) {
    return a && b && a->n_rows == b->n_rows && a->n_cols == b->n_cols &&
           memcmp(a->data, b->data, a->n_rows * a->n_cols * sizeof(double)) == 0;
}

static double pearson(const double *x, const double *y, size_t n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) mx += x[i] / (double)n, my += y[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

TEST(copula_reproduces_marginals_and_correlation) {
    sl_gen_table *real = load_table(4000, 11, NULL);
    if (!real) return;
    sl_gen_config cfg = sl_gen_config_defaults(SL_GEN_COPULA);
    sl_gen_model *m = NULL;
    CHECK_OK(sl_gen_fit(&cfg, real, &m));
    sl_gen_table *syn = NULL;
    if (m) CHECK_OK(sl_gen_sample(m, 4000, 5, &syn));
    if (!syn) {
        sl_gen_free(m);
        sl_gen_table_free(real);
        return;
    }
    sl_gen_scores s;
    CHECK_OK(sl_gen_evaluate(real, syn, NULL, NULL, &s));
    for (size_t c = 0; c < s.n_cols; c++) CHECK_MSG(s.col_fidelity[c] > 0.96, "column %zu: %g", c, s.col_fidelity[c]);
    /* c is a deterministic step function of x in make_table, which a Gaussian copula can
     * only approximate (that is what the pairs and the detector see); the numeric pair's
     * correlation must come through */
    CHECK(s.pair_similarity > 0.9);
    double rr = pearson(sl_gen_col(real, 0), sl_gen_col(real, 1), real->n_rows);
    double rs = pearson(sl_gen_col(syn, 0), sl_gen_col(syn, 1), syn->n_rows);
    CHECK_MSG(fabs(rr - rs) < 0.05, "corr(x, y): real %.4f synth %.4f", rr, rs);
    CHECK(s.coverage > 0.9);
    /* integer and date columns come out as integers */
    for (size_t i = 0; i < syn->n_rows; i++)
        CHECK(sl_gen_col(syn, 2)[i] == floor(sl_gen_col(syn, 2)[i]) &&
              sl_gen_col(syn, 3)[i] == floor(sl_gen_col(syn, 3)[i]));
    CHECK(!sl_gen_model_dp(m)->has_dp && isinf(sl_gen_model_dp(m)->epsilon));
    printf("  copula on 4000 rows: quality %.4f, fidelity %.4f, pairs %.4f, detection AUC %.4f\n",
           s.quality, s.fidelity, s.pair_similarity, s.detection_auc);
    sl_gen_scores_free(&s);
    sl_gen_table_free(syn);
    sl_gen_free(m);
    sl_gen_table_free(real);
}

static void roundtrip(sl_gen_model *m, const char *name) {
    const char *p = tmp_path(name);
    CHECK_OK(sl_gen_save(m, p));
    sl_gen_model *m2 = NULL;
    CHECK_OK(sl_gen_load(p, &m2));
    if (!m2) return;
    sl_gen_table *a = NULL, *b = NULL;
    CHECK_OK(sl_gen_sample(m, 700, 99, &a));
    CHECK_OK(sl_gen_sample(m2, 700, 99, &b));
    CHECK_MSG(tables_equal(a, b), "%s: samples differ after save/load", name);
    const sl_dp_spent *d1 = sl_gen_model_dp(m), *d2 = sl_gen_model_dp(m2);
    CHECK(d1->has_dp == d2->has_dp && (d1->has_dp ? d1->epsilon == d2->epsilon : 1));
    CHECK(sl_gen_model_method(m) == sl_gen_model_method(m2));
    sl_gen_table_free(a);
    sl_gen_table_free(b);
    sl_gen_free(m2);
}

TEST(save_load_round_trip_and_determinism) {
    sl_gen_table *real = load_table(600, 12, NULL);
    if (!real) return;
    sl_gen_config cc = sl_gen_config_defaults(SL_GEN_COPULA);
    sl_gen_model *m = NULL;
    CHECK_OK(sl_gen_fit(&cc, real, &m));
    if (m) roundtrip(m, "cop.safetensors");
    sl_gen_free(m);
    sl_gen_config vc = sl_gen_config_defaults(SL_GEN_VAE);
    vc.epochs = 3;
    vc.hidden = 32;
    vc.latent = 4;
    vc.threads = 1;
    sl_gen_model *v1 = NULL, *v2 = NULL;
    CHECK_OK(sl_gen_fit(&vc, real, &v1));
    CHECK_OK(sl_gen_fit(&vc, real, &v2));
    if (v1 && v2) {
        sl_gen_table *a = NULL, *b = NULL;
        CHECK_OK(sl_gen_sample(v1, 300, 4, &a));
        CHECK_OK(sl_gen_sample(v2, 300, 4, &b));
        CHECK_MSG(tables_equal(a, b), "vae: same seed, different samples");
        sl_gen_table_free(a);
        sl_gen_table_free(b);
        roundtrip(v1, "vae.safetensors");
    }
    sl_gen_free(v1);
    sl_gen_free(v2);
    sl_gen_table_free(real);
}

static int g_charged;
static double g_charged_eps;
static sl_status charge_ok(void *ctx, double eps, double delta, const char *mech) {
    (void)ctx, (void)delta, (void)mech;
    g_charged++;
    g_charged_eps = eps;
    return SL_OK;
}
static sl_status charge_refuse(void *ctx, double eps, double delta, const char *mech) {
    (void)ctx, (void)eps, (void)delta, (void)mech;
    g_charged++;
    return sl_set_error(SL_ERR_RANGE, "budget exhausted");
}

TEST(dp_vae_converges_and_carries_its_epsilon) {
    sl_gen_table *schema = NULL;
    CHECK_OK(sl_gen_schema_read(write_schema(), &schema));
    if (!schema) return;
    sl_gen_table *real = load_table(3000, 13, schema);
    if (!real) {
        sl_gen_table_free(schema);
        return;
    }
    sl_gen_config vc = sl_gen_config_defaults(SL_GEN_VAE);
    vc.epochs = 15;
    vc.hidden = 64;
    vc.latent = 8;
    vc.batch = 128;
    vc.threads = 1;
    vc.dp_epsilon = 8.0;
    vc.dp_delta = 1e-5;
    vc.dp_reproducible = 1; /* a deterministic test; the secure default is checked below */
    vc.charge = charge_ok;
    g_charged = 0;
    sl_gen_model *m = NULL;
    CHECK_OK(sl_gen_fit(&vc, real, &m));
    CHECK(g_charged == 1);
    sl_gen_config untrained = vc;
    untrained.lr = 1e-9f;
    untrained.charge = NULL;
    sl_gen_model *m0 = NULL;
    CHECK_OK(sl_gen_fit(&untrained, real, &m0));
    if (m && m0) {
        const sl_dp_spent *dp = sl_gen_model_dp(m);
        CHECK(dp->has_dp && dp->epsilon <= 8.0 && dp->epsilon > 7.9 && dp->sigma > 0);
        CHECK(g_charged_eps == dp->epsilon);
        CHECK_CLOSE(dp->q, 128.0 / 3000.0, 1e-12);
        sl_gen_table *a = NULL, *b = NULL;
        CHECK_OK(sl_gen_sample(m, 3000, 3, &a));
        CHECK_OK(sl_gen_sample(m0, 3000, 3, &b));
        sl_gen_scores sa, sb;
        CHECK_OK(sl_gen_evaluate(real, a, NULL, NULL, &sa));
        CHECK_OK(sl_gen_evaluate(real, b, NULL, NULL, &sb));
        printf("  DP-SGD vae eps %.3f (sigma %.3f, %llu steps): fidelity %.4f pairs %.4f quality "
               "%.4f; untrained: fidelity %.4f quality %.4f\n", dp->epsilon, dp->sigma,
               (unsigned long long)dp->steps, sa.fidelity, sa.pair_similarity, sa.quality,
               sb.fidelity, sb.quality);
        CHECK(sa.fidelity > sb.fidelity + 0.05);
        CHECK(sa.quality > sb.quality);
        CHECK(sa.fidelity > 0.75);
        /* the CSV carries the statement */
        char line[256];
        sl_gen_dp_line(line, sizeof line, SL_GEN_VAE, dp);
        CHECK(strstr(line, "dp=yes epsilon=") != NULL);
        CHECK_OK(sl_gen_table_write_csv(tmp_path("dp.csv"), a, line));
        char *txt = NULL;
        size_t len;
        CHECK_OK(sl_read_file(tmp_path("dp.csv"), &txt, &len));
        CHECK(txt && strncmp(txt, "# synthloop-gen method=vae dp=yes epsilon=", 42) == 0);
        free(txt);
        sl_gen_table *back = NULL; /* and reads back, comment skipped */
        CHECK_OK(sl_gen_table_read_csv(tmp_path("dp.csv"), schema, &back));
        CHECK(back && back->n_rows == 3000);
        sl_gen_table_free(back);
        roundtrip(m, "dpvae.safetensors");
        sl_gen_scores_free(&sa);
        sl_gen_scores_free(&sb);
        sl_gen_table_free(a);
        sl_gen_table_free(b);
    }
    sl_gen_free(m);
    sl_gen_free(m0);
    /* DP noise: from the OS CSPRNG by default (two fits with one seed differ), from the seed
     * with dp_reproducible (they agree) */
    {
        sl_gen_config q = vc;
        q.epochs = 1;
        q.charge = NULL;
        sl_gen_model *p1 = NULL, *p2 = NULL;
        sl_gen_table *a = NULL, *b = NULL;
        for (int rep = 0; rep < 2; rep++) {
            q.dp_reproducible = rep;
            CHECK_OK(sl_gen_fit(&q, real, &p1));
            CHECK_OK(sl_gen_fit(&q, real, &p2));
            if (p1 && p2) {
                CHECK_OK(sl_gen_sample(p1, 200, 1, &a));
                CHECK_OK(sl_gen_sample(p2, 200, 1, &b));
                CHECK_MSG(tables_equal(a, b) == rep, "dp_reproducible %d: samples %s", rep,
                          rep ? "differ" : "agree");
            }
            sl_gen_table_free(a);
            sl_gen_table_free(b);
            sl_gen_free(p1);
            sl_gen_free(p2);
            a = b = NULL;
            p1 = p2 = NULL;
        }
    }
    /* a ledger that refuses stops the fit: nothing trained */
    vc.charge = charge_refuse;
    g_charged = 0;
    m = NULL;
    CHECK_STATUS(sl_gen_fit(&vc, real, &m), SL_ERR_RANGE);
    CHECK(m == NULL && g_charged == 1);
    /* DP without public bounds/labels (schema-less read): refused before any charge */
    sl_gen_table *raw = load_table(500, 14, NULL);
    vc.charge = charge_ok;
    g_charged = 0;
    if (raw) CHECK_STATUS(sl_gen_fit(&vc, raw, &m), SL_ERR_ARG);
    CHECK(g_charged == 0 && m == NULL);
    CHECK(strstr(sl_last_error(), "public") != NULL);
    /* delta must be below 1/n */
    vc.dp_delta = 0.01;
    CHECK_STATUS(sl_gen_fit(&vc, real, &m), SL_ERR_ARG);
    CHECK(g_charged == 0);
    /* DP on a method without DP training */
    sl_gen_config cc = sl_gen_config_defaults(SL_GEN_COPULA);
    cc.dp_epsilon = 1.0;
    CHECK_STATUS(sl_gen_fit(&cc, real, &m), SL_ERR_ARG);
    sl_gen_table_free(raw);
    sl_gen_table_free(real);
    sl_gen_table_free(schema);
}

TEST(rules_generator_follows_marginals_and_constraints) {
    const char *rp = tmp_path("rules.json");
    write_text(rp, "{\"columns\": ["
                   "{\"name\": \"age\", \"type\": \"numeric\", \"integer\": true, \"dist\": \"normal\", \"mean\": 40, \"sd\": 10, \"min\": 18, \"max\": 90},"
                   "{\"name\": \"income\", \"type\": \"numeric\", \"dist\": \"lognormal\", \"mu\": 10, \"sigma\": 0.5},"
                   "{\"name\": \"plan\", \"type\": \"categorical\", \"categories\": [\"free\", \"pro\"], \"probs\": [0.7, 0.3]},"
                   "{\"name\": \"spend\", \"type\": \"numeric\", \"dist\": \"uniform\", \"min\": 0, \"max\": 100},"
                   "{\"name\": \"limit\", \"type\": \"numeric\", \"dist\": \"uniform\", \"min\": 0, \"max\": 100}],"
                   "\"constraints\": ["
                   "{\"assign\": \"limit\", \"value\": 50, \"if\": {\"column\": \"plan\", \"op\": \"==\", \"value\": \"pro\"}},"
                   "{\"column\": \"spend\", \"op\": \"<=\", \"value\": 0.5, \"if\": {\"column\": \"plan\", \"op\": \"==\", \"value\": \"free\"}},"
                   "{\"column\": \"spend\", \"op\": \"<\", \"other\": \"limit\"}]}");
    sl_gen_config cfg = sl_gen_config_defaults(SL_GEN_RULES);
    cfg.rules_path = rp;
    sl_gen_model *m = NULL;
    CHECK_OK(sl_gen_fit(&cfg, NULL, &m));
    sl_gen_table *t = NULL;
    if (m) CHECK_OK(sl_gen_sample(m, 4000, 1, &t));
    if (t) {
        double agesum = 0;
        size_t pro = 0;
        int ok = 1;
        for (size_t i = 0; i < t->n_rows; i++) {
            double age = sl_gen_col(t, 0)[i], plan = sl_gen_col(t, 2)[i];
            double spend = sl_gen_col(t, 3)[i], lim = sl_gen_col(t, 4)[i];
            agesum += age;
            pro += plan == 1.0;
            ok &= age >= 18 && age <= 90 && age == floor(age);
            ok &= plan == 1.0 || spend <= 0.5;
            ok &= spend < lim;
            ok &= plan != 1.0 || lim == 50.0; /* the assignment */
        }
        CHECK(ok);
        /* accepted rows: P(pro) = 0.3 * 0.5 / (0.3 * 0.5 + 0.7 * 0.5 * 0.005 * ...): the free
         * plan's rows are mostly rejected, so pro dominates; only check the exact constraints
         * and the unconstrained marginal of age */
        CHECK_CLOSE(agesum / (double)t->n_rows, 40.0, 0.02);
        CHECK(pro > 0 && pro < t->n_rows);
        roundtrip(m, "rules.safetensors");
    }
    sl_gen_table_free(t);
    sl_gen_free(m);
    /* contradictory constraints: a clear error, nothing sampled */
    write_text(rp, "{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"dist\": \"uniform\", \"min\": 0, \"max\": 1}],"
                   "\"constraints\": [{\"column\": \"a\", \"op\": \">\", \"value\": 2}]}");
    m = NULL;
    CHECK_OK(sl_gen_fit(&cfg, NULL, &m));
    t = NULL;
    if (m) CHECK_STATUS(sl_gen_sample(m, 10, 1, &t), SL_ERR_RANGE);
    CHECK(t == NULL);
    sl_gen_free(m);
    write_text(rp, "{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"dist\": \"weird\"}]}");
    m = NULL;
    CHECK_STATUS(sl_gen_fit(&cfg, NULL, &m), SL_ERR_FORMAT);
}

/* --- bad input --------------------------------------------------------------------- */

TEST(bad_input_is_refused_with_clear_errors) {
    sl_gen_table *schema = NULL, *t = NULL;
    CHECK_OK(sl_gen_schema_read(write_schema(), &schema));
    if (!schema) return;
    /* type mismatch: a word in a numeric column */
    const char *p = tmp_path("bad_type.csv");
    write_text(p, "x,y,k,d,c,g\n1,2,3,2020-01-01,low,a\n1,oops,3,2020-01-02,mid,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "type mismatch") && strstr(sl_last_error(), "\"y\""));
    write_text(p, "x,y,k,d,c,g\n1,2,3,2020-02-30,low,a\n1,2,3,2020-01-02,mid,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_FORMAT);
    CHECK(t == NULL);
    /* a label outside the public list; a value outside the public bounds */
    write_text(p, "x,y,k,d,c,g\n1,2,3,2020-01-01,low,a\n1,2,3,2020-01-02,huge,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_FORMAT);
    write_text(p, "x,y,k,d,c,g\n1,2,3,2020-01-01,low,a\n100,2,3,2020-01-02,mid,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_RANGE);
    /* one row */
    write_text(p, "x,y,k,d,c,g\n1,2,3,2020-01-01,low,a\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "1 data row") != NULL);
    CHECK_STATUS(sl_gen_table_read_csv(p, NULL, &t), SL_ERR_ARG);
    /* schema/table disagreement: a column missing, a column too many */
    write_text(p, "x,y,k,d,c\n1,2,3,2020-01-01,low\n1,2,3,2020-01-02,mid\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_SHAPE);
    write_text(p, "x,y,k,d,c,zz\n1,2,3,2020-01-01,low,a\n1,2,3,2020-01-02,mid,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_SHAPE);
    CHECK(strstr(sl_last_error(), "\"g\"") != NULL);
    /* ragged rows, an unterminated quote, an empty cell */
    write_text(p, "x,y\n1,2\n1\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, NULL, &t), SL_ERR_FORMAT);
    write_text(p, "x,y\n1,\"2\n1,2\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, NULL, &t), SL_ERR_FORMAT);
    write_text(p, "x,y\n1,\n1,2\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, NULL, &t), SL_ERR_FORMAT);
    /* bad schemas */
    const char *sp = tmp_path("bad_schema.json");
    write_text(sp, "{\"columns\": [{\"name\": \"a\", \"type\": \"text\"}]}");
    sl_gen_table *s2 = NULL;
    CHECK_STATUS(sl_gen_schema_read(sp, &s2), SL_ERR_FORMAT);
    write_text(sp, "{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"min\": 3, \"max\": 1}]}");
    CHECK_STATUS(sl_gen_schema_read(sp, &s2), SL_ERR_FORMAT);
    write_text(sp, "{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"a\", \"type\": \"numeric\"}]}");
    CHECK_STATUS(sl_gen_schema_read(sp, &s2), SL_ERR_FORMAT);
    CHECK(s2 == NULL);
    /* evaluation: a type mismatch between real and synth, a missing column */
    const char *a = tmp_path("ev_a.csv"), *b = tmp_path("ev_b.csv");
    write_text(a, "u,v\n1,x\n2,y\n3,x\n");
    write_text(b, "u,v\n1,2\n2,3\n3,4\n");
    sl_gen_table *ta = NULL, *tb = NULL;
    CHECK_OK(sl_gen_table_read_csv(a, NULL, &ta));
    CHECK_OK(sl_gen_table_read_csv(b, NULL, &tb));
    sl_gen_scores sc;
    if (ta && tb) {
        CHECK_STATUS(sl_gen_evaluate(ta, tb, NULL, NULL, &sc), SL_ERR_SHAPE);
        CHECK(strstr(sl_last_error(), "type mismatch") != NULL);
    }
    sl_gen_table_free(tb);
    write_text(b, "u,w\n1,x\n2,y\n3,x\n");
    tb = NULL;
    CHECK_OK(sl_gen_table_read_csv(b, NULL, &tb));
    if (ta && tb) CHECK_STATUS(sl_gen_evaluate(ta, tb, NULL, NULL, &sc), SL_ERR_SHAPE);
    sl_gen_table_free(tb);
    write_text(b, "u,v\n1,x\n2,z\n3,x\n");
    tb = NULL;
    CHECK_OK(sl_gen_table_read_csv(b, NULL, &tb));
    if (ta && tb) CHECK_STATUS(sl_gen_evaluate(ta, tb, NULL, NULL, &sc), SL_ERR_FORMAT);
    sl_gen_table_free(tb);
    sl_gen_table_free(ta);
    /* an integer column inferred from the real table does not bind a synthetic table read
     * with its types (only a schema file's "integer" is enforced) */
    write_text(a, "u,v\n1,x\n2,y\n3,x\n");
    write_text(b, "u,v\n1.5,x\n2,y\n3,x\n");
    ta = tb = NULL;
    CHECK_OK(sl_gen_table_read_csv(a, NULL, &ta));
    if (ta) CHECK_OK(sl_gen_table_read_csv(b, ta, &tb));
    CHECK(ta && ta->cols[0].integer && tb && !tb->cols[0].integer);
    sl_gen_table_free(tb);
    sl_gen_table_free(ta);
    write_text(p, "x,y,k,d,c,g\n1,2,3.5,2020-01-01,low,a\n1,2,3,2020-01-02,mid,b\n");
    CHECK_STATUS(sl_gen_table_read_csv(p, schema, &t), SL_ERR_FORMAT); /* k declared integer */
    /* a fit on one row is refused too (tables built in code) */
    sl_gen_table *one = NULL;
    CHECK_OK(sl_gen_table_alloc_like(schema, 1, &one));
    sl_gen_config cfg = sl_gen_config_defaults(SL_GEN_COPULA);
    sl_gen_model *m = NULL;
    if (one) CHECK_STATUS(sl_gen_fit(&cfg, one, &m), SL_ERR_ARG);
    CHECK(m == NULL);
    sl_gen_table_free(one);
    sl_gen_table_free(schema);
}

/* --- the commands --------------------------------------------------------------------- */

static char g_bin[PATH_MAX + 64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", harness_tmpdir());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(commands_release_refuse_and_record) {
    const char *bin = getenv("SL_BIN"), *root = getenv("SL_TEST_ROOT");
    char tmp[PATH_MAX + 64], abs[PATH_MAX];
    if (bin && *bin) snprintf(tmp, sizeof tmp, "%s", bin);
    else snprintf(tmp, sizeof tmp, "%s/build/synthloop", root && *root ? root : ".");
    snprintf(g_bin, sizeof g_bin, "%s", realpath(tmp, abs) ? abs : tmp);
    make_table(tmp_path("c_real.csv"), 800, 21, 0.0);
    make_table(tmp_path("c_hold.csv"), 800, 22, 0.0);
    write_schema();
    const char *db = "--db reg.db --quiet";
    CHECK(sh("'%s' generate --help > /dev/null", g_bin) == 0);
    CHECK(sh("'%s' synth-eval --help > /dev/null", g_bin) == 0);
    CHECK(sh("'%s' generate --out x.csv 2> /dev/null", g_bin) == 2);
    CHECK(sh("'%s' generate --method copula --out x.csv 2> /dev/null", g_bin) == 2);
    CHECK(sh("'%s' generate --method copula --data c_real.csv --dp-epsilon 1 --out x.csv 2> /dev/null", g_bin) == 2);
    CHECK(sh("'%s' synth-eval c_real.csv 2> /dev/null", g_bin) == 2);
    /* released: quality above the threshold */
    CHECK(sh("'%s' generate %s --method copula --data c_real.csv --schema schema.json "
             "--holdout c_hold.csv --out cop.csv --save-model cop.st --quality-threshold 0.7 "
             "> gen.out", g_bin, db) == 0);
    CHECK(file_exists(tmp_path("cop.csv")) && file_exists(tmp_path("cop.st")));
    /* refused: an impossible threshold writes nothing, exit 1 */
    CHECK(sh("'%s' generate %s --method copula --data c_real.csv --out refused.csv "
             "--save-model refused.st --quality-threshold 1 > /dev/null 2> refuse.err", g_bin,
             db) == 1);
    CHECK(!file_exists(tmp_path("refused.csv")) && !file_exists(tmp_path("refused.st")));
    char *err = NULL;
    size_t len;
    CHECK_OK(sl_read_file(tmp_path("refuse.err"), &err, &len));
    CHECK(err && strstr(err, "below the threshold"));
    free(err);
    /* bad input: type mismatch fails before any run or file */
    write_text(tmp_path("bad.csv"), "x,y,k,d,c,g\n1,2,3,2020-01-01,low,a\n1,no,3,2020-01-02,mid,b\n");
    CHECK(sh("'%s' generate %s --method copula --data bad.csv --schema schema.json --out b.csv "
             "2> /dev/null", g_bin, db) == 1);
    CHECK(!file_exists(tmp_path("b.csv")));
    /* the saved model generates again; synth-eval scores the file */
    CHECK(sh("'%s' generate %s --model cop.st --rows 500 --out cop2.csv --data c_real.csv "
             "--quality-threshold 0 > /dev/null", g_bin, db) == 0);
    CHECK(sh("'%s' synth-eval c_real.csv cop.csv --holdout c_hold.csv --schema schema.json "
             "--json > eval.json", g_bin) == 0);
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(tmp_path("eval.json"), &j));
    if (j) {
        double q = sl_json_num(j, "quality", -1);
        CHECK(q > 0.7 && q <= 1.0);
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "privacy")));
    }
    cJSON_Delete(j);
    /* the registry: one released and one refused copula row, no row for the bad input */
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tmp_path("reg.db"), &reg));
    char *rows = NULL;
    if (reg) CHECK_OK(sl_registry_synthetic_jobs_json(reg, 0, &rows));
    cJSON *r = rows ? cJSON_Parse(rows) : NULL;
    CHECK(cJSON_GetArraySize(r) == 3);
    if (cJSON_GetArraySize(r) == 3) {
        const cJSON *a = cJSON_GetArrayItem(r, 0), *b = cJSON_GetArrayItem(r, 1);
        CHECK(sl_json_int(a, "released", -1) == 1 && sl_json_int(b, "released", -1) == 0);
        CHECK(strcmp(sl_json_str(a, "method", ""), "copula") == 0);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(a, "epsilon"))); /* no DP: NULL, not a number */
        CHECK(sl_json_num(a, "quality", 0) > 0.7 && sl_json_num(b, "threshold", 0) == 1.0);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(a, "membership_auc")));
    }
    cJSON_Delete(r);
    free(rows);
    sl_registry_close(reg);
}

int main(void) {
    RUN(scores_match_scipy_sklearn);
    RUN(copula_reproduces_marginals_and_correlation);
    RUN(save_load_round_trip_and_determinism);
    RUN(dp_vae_converges_and_carries_its_epsilon);
    RUN(rules_generator_follows_marginals_and_constraints);
    RUN(bad_input_is_refused_with_clear_errors);
    RUN(commands_release_refuse_and_record);
    return harness_done();
}
