/* SPDX-License-Identifier: Apache-2.0 */
/* test_forecast.c - the forecast module: scores, calibration curve, isotonic, Platt and
 * temperature scaling against sklearn / scipy (tests/py/forecast_ref.py); the Murphy
 * decomposition summing back to Brier; one crafted bad file per validator rule; --fix; the
 * leakage-free split; matching and per-depth accuracy on a hand-checked case; the paired
 * bootstrap; the reward; prediction against a local HTTP fixture (tests/py/forecast_server.py)
 * and the command line.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_forecast.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_stats.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static const char *bin(void) {
    const char *b = getenv("SL_BIN");
    return b && *b ? b : "build/synthloop";
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

/* --- reference data ------------------------------------------------------------ */

#define NSETS 5
static const size_t set_n[NSETS] = {37, 200, 500, 1000, 64};
static double *g_p[NSETS], *g_w[NSETS];
static int *g_y[NSETS];
static size_t *g_case[NSETS];
static cJSON *g_ref;
#define NGRID 41

/* Forecasts with a known miscalibration: q ~ U(0,1), y ~ Bernoulli(q), p = sigmoid(k logit q);
 * set 1 rounds p to 0.05 (ties for isotonic), set 4 has p in {0, 1} at some items. */
static void make_sets(void) {
    sl_rng r;
    sl_rng_seed(&r, 1234, 0);
    for (int s = 0; s < NSETS; s++) {
        size_t n = set_n[s];
        g_p[s] = malloc(n * sizeof(double));
        g_w[s] = malloc(n * sizeof(double));
        g_y[s] = malloc(n * sizeof(int));
        g_case[s] = malloc(n * sizeof(size_t));
        double k = 0.5 + s * 0.6;
        for (size_t i = 0; i < n; i++) {
            double q = sl_rng_uniform(&r);
            g_y[s][i] = sl_rng_uniform(&r) < q;
            double z = k * log(q / (1 - q + 1e-300) + 1e-300);
            double p = 1.0 / (1.0 + exp(-z));
            if (s == 1) p = round(p * 20.0) / 20.0;
            if (s == 4 && i % 9 == 0) p = (double)(i % 2);
            g_p[s][i] = p < 0 ? 0 : p > 1 ? 1 : p;
            g_case[s][i] = sl_rng_below(&r, 3);
        }
        for (size_t i = 0; i < n; i++) g_w[s][i] = 1.0 + (double)g_case[s][i]; /* case weights 1,2,3 */
    }
}

static void run_reference(void) {
    make_sets();
    cJSON *in = cJSON_CreateObject();
    cJSON *sets = cJSON_AddArrayToObject(in, "sets");
    double grid[NGRID];
    for (int i = 0; i < NGRID; i++) grid[i] = -0.05 + 1.1 * i / (NGRID - 1);
    for (int s = 0; s < NSETS; s++) {
        cJSON *o = cJSON_CreateObject();
        sl_json_add_f64_array(o, "p", g_p[s], set_n[s]);
        sl_json_add_f64_array(o, "w", g_w[s], set_n[s]);
        cJSON *y = cJSON_AddArrayToObject(o, "y");
        for (size_t i = 0; i < set_n[s]; i++) cJSON_AddItemToArray(y, cJSON_CreateNumber(g_y[s][i]));
        sl_json_add_f64_array(o, "grid", grid, NGRID);
        cJSON_AddItemToArray(sets, o);
    }
    char inp[600], out[600], cmd[2048];
    snprintf(inp, sizeof inp, "%s/fc_in.json", harness_tmpdir());
    snprintf(out, sizeof out, "%s/fc_out.json", harness_tmpdir());
    if (sl_json_write_file(inp, in) != SL_OK) printf("  %s\n", sl_last_error());
    cJSON_Delete(in);
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/forecast_ref.py %s %s", SL_PYTHON, root(), inp, out);
    if (system(cmd) != 0) {
        printf("  reference script failed: %s\n", cmd);
        return;
    }
    if (sl_json_read_file(out, &g_ref) != SL_OK) printf("  %s\n", sl_last_error());
}

static const cJSON *ref_set(int s) {
    return g_ref ? cJSON_GetArrayItem(cJSON_GetObjectItem(g_ref, "sets"), s) : NULL;
}

static double refnum(const cJSON *o, const char *k) { return sl_json_num(o, k, NAN); }

#define NEED_REF()                                                                            \
    do {                                                                                      \
        if (!g_ref) {                                                                         \
            HARNESS_FAIL("no reference results (Python reference failed)");                   \
            return;                                                                           \
        }                                                                                     \
    } while (0)

/* An evaluation holding the raw items of set s (three cases). */
static sl_fc_eval *eval_of_set(int s) {
    sl_fc_eval *e = calloc(1, sizeof *e);
    e->n_items = set_n[s];
    e->items = calloc(set_n[s], sizeof *e->items);
    e->n_cases = 3;
    e->cases = calloc(3, sizeof *e->cases);
    for (int c = 0; c < 3; c++)
        for (int d = 0; d <= SL_FC_MAX_DEPTH; d++) e->cases[c].top_ok[d] = -1;
    for (size_t i = 0; i < set_n[s]; i++) {
        e->items[i].p = g_p[s][i];
        e->items[i].y = g_y[s][i];
        e->items[i].p_uniform = 0.5;
        e->items[i].depth = 1;
        e->items[i].case_index = g_case[s][i];
        e->cases[g_case[s][i]].has_pred = 1;
    }
    return e;
}

TEST(brier_log_ece_equal_sklearn) {
    NEED_REF();
    const double cw[3] = {1, 2, 3};
    for (int s = 0; s < NSETS; s++) {
        const cJSON *r = ref_set(s);
        sl_fc_eval *e = eval_of_set(s);
        sl_fc_scores sc, sw;
        CHECK_OK(sl_fc_score(e, NAN, NULL, &sc));
        CHECK_OK(sl_fc_score(e, NAN, cw, &sw));
        CHECK_CLOSE(sc.brier, refnum(r, "brier"), 1e-12);
        CHECK_CLOSE(sw.brier, refnum(r, "brier_w"), 1e-12);
        CHECK_CLOSE(sc.log_score, refnum(r, "log_loss"), 1e-12);
        CHECK_CLOSE(sw.log_score, refnum(r, "log_loss_w"), 1e-12);
        CHECK_CLOSE(sc.ece, refnum(r, "ece"), 1e-12);
        double ece2 = 0;
        CHECK_OK(sl_stats_ece(g_p[s], g_y[s], set_n[s], 10, &ece2));
        CHECK_CLOSE(sc.ece, ece2, 1e-12);
        /* base-rate reference at the in-sample rate is the uncertainty term */
        CHECK_CLOSE(sc.brier_base_rate, sc.murphy.uncertainty, 1e-12);
        sl_fc_eval_free(e);
    }
}

TEST(calibration_curve_equals_sklearn) {
    NEED_REF();
    for (int s = 0; s < NSETS; s++) {
        const cJSON *r = ref_set(s);
        double fp[10], mp[10];
        size_t cnt[10];
        CHECK_OK(sl_fc_calibration_curve(g_p[s], g_y[s], set_n[s], 10, fp, mp, cnt));
        const cJSON *rt = cJSON_GetObjectItem(r, "curve_true"), *rp = cJSON_GetObjectItem(r, "curve_pred");
        const cJSON *rc = cJSON_GetObjectItem(r, "curve_count");
        int k = 0;
        for (int b = 0; b < 10; b++) {
            if (!cnt[b]) {
                CHECK(isnan(fp[b]) && isnan(mp[b]));
                continue;
            }
            CHECK_CLOSE(fp[b], cJSON_GetArrayItem(rt, k)->valuedouble, 1e-12);
            CHECK_CLOSE(mp[b], cJSON_GetArrayItem(rp, k)->valuedouble, 1e-12);
            CHECK(cnt[b] == (size_t)cJSON_GetArrayItem(rc, k)->valuedouble);
            k++;
        }
        CHECK(k == cJSON_GetArraySize(rt));
    }
}

TEST(murphy_matches_numpy_and_sums_to_brier) {
    NEED_REF();
    for (int s = 0; s < NSETS; s++) {
        const cJSON *m = cJSON_GetObjectItem(ref_set(s), "murphy");
        double brier;
        CHECK_OK(sl_stats_brier(g_p[s], g_y[s], set_n[s], &brier));
        sl_fc_murphy d;
        CHECK_OK(sl_fc_murphy_decompose(g_p[s], g_y[s], set_n[s], 10, &d));
        CHECK_CLOSE(d.reliability, refnum(m, "rel"), 1e-12);
        CHECK_CLOSE(d.resolution, refnum(m, "res"), 1e-12);
        CHECK_CLOSE(d.uncertainty, refnum(m, "unc"), 1e-12);
        CHECK_CLOSE(d.within_var, refnum(m, "wv"), 1e-12);
        CHECK_CLOSE(d.within_cov, refnum(m, "wc"), 1e-12);
        /* sums back to Brier for every binning; exact grouping has no within terms */
        const int nb[4] = {0, 3, 10, 50};
        for (int k = 0; k < 4; k++) {
            CHECK_OK(sl_fc_murphy_decompose(g_p[s], g_y[s], set_n[s], nb[k], &d));
            double sum = d.reliability - d.resolution + d.uncertainty + d.within_var - d.within_cov;
            CHECK_CLOSE(sum, brier, 1e-12);
            CHECK_CLOSE(d.brier, brier, 1e-12);
            if (nb[k] == 0) CHECK(fabs(d.within_var) < 1e-15 && fabs(d.within_cov) < 1e-15);
        }
    }
}

TEST(isotonic_equals_sklearn) {
    NEED_REF();
    for (int s = 0; s < NSETS; s++) {
        const cJSON *r = ref_set(s);
        sl_fc_calib c;
        CHECK_OK(sl_fc_calib_fit(SL_FC_CAL_ISOTONIC, g_p[s], g_y[s], set_n[s], &c));
        const cJSON *rx = cJSON_GetObjectItem(r, "iso_x"), *ry = cJSON_GetObjectItem(r, "iso_y");
        CHECK_MSG(c.n == (size_t)cJSON_GetArraySize(rx), "set %d: %zu thresholds vs sklearn %d", s,
                  c.n, cJSON_GetArraySize(rx));
        for (size_t i = 0; i < c.n && i < (size_t)cJSON_GetArraySize(rx); i++) {
            CHECK_CLOSE(c.x[i], cJSON_GetArrayItem(rx, (int)i)->valuedouble, 1e-12);
            CHECK_CLOSE(c.y[i], cJSON_GetArrayItem(ry, (int)i)->valuedouble, 1e-12);
        }
        const cJSON *rp = cJSON_GetObjectItem(r, "iso_pred");
        for (int i = 0; i < NGRID; i++) {
            double g = -0.05 + 1.1 * i / (NGRID - 1);
            CHECK_CLOSE(sl_fc_calib_apply(&c, g), cJSON_GetArrayItem(rp, i)->valuedouble, 1e-12);
        }
        sl_fc_calib_clear(&c);
    }
}

TEST(platt_equals_sklearn_logistic_regression) {
    NEED_REF();
    for (int s = 0; s < NSETS; s++) {
        const cJSON *r = ref_set(s);
        double *x = malloc(set_n[s] * sizeof *x);
        for (size_t i = 0; i < set_n[s]; i++) x[i] = sl_fc_logit(g_p[s][i]);
        double a, b;
        CHECK_OK(sl_fc_fit_platt(x, g_y[s], set_n[s], INFINITY, &a, &b));
        const cJSON *pn = cJSON_GetObjectItem(r, "platt_none");
        /* unpenalised, sklearn's newton-cg line search stops near 1e-8 on the set with
         * forecasts of exactly 0 and 1 (logits of +-13.8) */
        CHECK_CLOSE(a, cJSON_GetArrayItem(pn, 0)->valuedouble, 1e-7);
        CHECK_CLOSE(b, cJSON_GetArrayItem(pn, 1)->valuedouble, 1e-7);
        CHECK_OK(sl_fc_fit_platt(x, g_y[s], set_n[s], 1.0, &a, &b));
        const cJSON *p1 = cJSON_GetObjectItem(r, "platt_c1");
        CHECK_CLOSE(a, cJSON_GetArrayItem(p1, 0)->valuedouble, 1e-9);
        CHECK_CLOSE(b, cJSON_GetArrayItem(p1, 1)->valuedouble, 1e-9);
        free(x);
    }
}

TEST(temperature_equals_scipy) {
    NEED_REF();
    for (int s = 0; s < NSETS; s++) {
        const cJSON *r = ref_set(s);
        sl_fc_calib c;
        CHECK_OK(sl_fc_calib_fit(SL_FC_CAL_TEMPERATURE, g_p[s], g_y[s], set_n[s], &c));
        CHECK_CLOSE(c.T, refnum(r, "temperature"), 1e-6);
        /* the set was made with p = sigmoid(k logit q): T recovers k on the larger sets */
        double k = 0.5 + s * 0.6;
        if (set_n[s] >= 500 && s != 4) CHECK_MSG(fabs(c.T - k) < 0.25 * k, "T %g vs k %g", c.T, k);
        /* applying it never reverses order */
        CHECK(sl_fc_calib_apply(&c, 0.2) <= sl_fc_calib_apply(&c, 0.3));
    }
}

/* --- validator ------------------------------------------------------------------ */

#define GOOD_CASE                                                                             \
    "{\"case_id\":\"c1\",\"seed_event\":\"Central bank raises rates\",\"seed_date\":"     \
    "\"2020-01-10\",\"context\":\"x\",\"domain\":\"Economics\",\"outcome_chain\":["         \
    "{\"depth\":1,\"event\":\"Bond yields rise\",\"date\":\"2020-02-10\","                \
    "\"timeframe_months\":1,\"probability\":0.6,\"alternatives\":[{\"event\":\"Yields "      \
    "fall\",\"probability\":0.4}]},{\"depth\":2,\"event\":\"Housing slows\",\"date\":"       \
    "\"2020-05-10\",\"timeframe_months\":4,\"probability\":0.5,\"alternatives\":[{\"event\":" \
    "\"Housing booms\",\"prob\":0.5}],\"sources\":[\"https://fred.stlouisfed.org/x\"]}]," \
    "\"sources\":[\"https://example.org/a\"]}\n"

/* Validate text; return the report (caller clears) and the set (freed). */
static int validate_text(const char *text, int fix, sl_fc_report *rep, sl_fc_set **keep) {
    sl_fc_set *s = NULL;
    memset(rep, 0, sizeof *rep);
    if (sl_fc_parse(text, strlen(text), "t.jsonl", &s) != SL_OK) return -1;
    sl_fc_validate_opts o;
    sl_fc_validate_opts_default(&o);
    o.fix = fix;
    sl_status st = sl_fc_validate(s, &o, rep);
    if (keep) *keep = s;
    else sl_fc_set_free(s);
    return st == SL_OK ? 0 : -1;
}

static int has_issue(const sl_fc_report *rep, sl_fc_rule rule, size_t line, const char *field) {
    for (size_t i = 0; i < rep->n; i++)
        if (rep->issues[i].rule == rule && !rep->issues[i].warning && rep->issues[i].line == line &&
            strcmp(rep->issues[i].field, field) == 0)
            return 1;
    return 0;
}

/* Replace the first occurrence of `from` in GOOD_CASE by `to`, put it on line 2 after a good
 * case with another id, and check that exactly the expected error is reported. */
static void check_rule(const char *from, const char *to, sl_fc_rule rule, const char *field) {
    const char *good = GOOD_CASE;
    const char *at = strstr(good, from);
    if (!at) {
        HARNESS_FAIL("test bug: '%s' not in the good case", from);
        return;
    }
    char other[4096], bad[4096], text[8192];
    /* line 1: the good case under another id and another seed event */
    snprintf(other, sizeof other, "%s", good);
    char *q = strstr(other, "\"c1\"");
    q[2] = '0';
    q = strstr(other, "raises rates");
    memcpy(q, "cuts rates  ", 12);
    snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    snprintf(text, sizeof text, "%s\n%s", other, bad); /* blank line 2: the bad case is line 3 */
    sl_fc_report rep;
    CHECK(validate_text(text, 0, &rep, NULL) == 0);
    CHECK_MSG(has_issue(&rep, rule, 3, field), "rule %s on line 3 field %s not reported (%zu issues)",
              sl_fc_rule_name(rule), field, rep.n);
    if (rep.n_errors < 1) HARNESS_FAIL("no error");
    for (size_t i = 0; i < rep.n; i++)
        if (!rep.issues[i].warning && rep.issues[i].line != 3)
            HARNESS_FAIL("unexpected error on line %zu: %s", rep.issues[i].line, rep.issues[i].message);
    sl_fc_report_clear(&rep);
}

TEST(validator_good_file_has_no_issue) {
    sl_fc_report rep;
    CHECK(validate_text(GOOD_CASE, 0, &rep, NULL) == 0);
    CHECK(rep.n == 0);
    sl_fc_report_clear(&rep);
    /* the shipped examples are clean */
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/forecast/cases.jsonl", root());
    sl_fc_set *s = NULL;
    CHECK_OK(sl_fc_read(path, &s));
    if (!s) return;
    memset(&rep, 0, sizeof rep);
    CHECK_OK(sl_fc_validate(s, NULL, &rep));
    CHECK(rep.n_errors == 0 && rep.n_warnings == 0);
    CHECK(s->n >= 7);
    sl_fc_report_clear(&rep);
    sl_fc_set_free(s);
}

TEST(rule_required) { check_rule("\"domain\":\"Economics\",", "", SL_FC_RULE_REQUIRED, "domain"); }
TEST(rule_prob_range) {
    check_rule("\"probability\":0.6", "\"probability\":1.6", SL_FC_RULE_PROB_RANGE,
               "outcome_chain[0].probability");
}
TEST(rule_prob_sum) {
    check_rule("\"probability\":0.6", "\"probability\":0.8", SL_FC_RULE_PROB_SUM, "outcome_chain[0]");
}
TEST(rule_date_format) {
    check_rule("\"2020-02-10\"", "\"2020-02-30\"", SL_FC_RULE_DATE_FORMAT, "outcome_chain[0].date");
}
TEST(rule_date_order) {
    check_rule("\"date\":\"2020-05-10\",\"timeframe_months\":4", "\"date\":\"2020-01-20\"",
               SL_FC_RULE_DATE_ORDER, "outcome_chain[1].date");
}
TEST(rule_timeframe) {
    check_rule("\"timeframe_months\":4", "\"timeframe_months\":9", SL_FC_RULE_TIMEFRAME,
               "outcome_chain[1].timeframe_months");
}
TEST(rule_depth) { check_rule("\"depth\":2", "\"depth\":3", SL_FC_RULE_DEPTH, "outcome_chain[1].depth"); }
TEST(rule_url) {
    check_rule("https://example.org/a", "htp://example.org/a", SL_FC_RULE_URL, "sources[0]");
    check_rule("https://fred.stlouisfed.org/x", "https://fred stlouisfed.org/x", SL_FC_RULE_URL,
               "outcome_chain[1].sources[0]");
}
TEST(rule_duplicate) {
    /* same seed event (different case, spacing) and date as line 1 */
    char text[8192];
    snprintf(text, sizeof text, "%s%s", GOOD_CASE, GOOD_CASE);
    char *second = strstr(text + 10, "\"c1\"");
    second[2] = '9';
    char *ev = strstr(second, "Central bank raises rates");
    memcpy(ev, "CENTRAL BANK", 12);
    sl_fc_report rep;
    CHECK(validate_text(text, 0, &rep, NULL) == 0);
    CHECK(has_issue(&rep, SL_FC_RULE_DUPLICATE, 2, "seed_event"));
    CHECK(rep.n_errors == 1);
    sl_fc_report_clear(&rep);
    /* same id */
    snprintf(text, sizeof text, "%s%s", GOOD_CASE, GOOD_CASE);
    ev = strstr(text + 10, "raises rates");
    ev = strstr(ev + 1, "raises rates");
    memcpy(ev, "cuts rates  ", 12);
    CHECK(validate_text(text, 0, &rep, NULL) == 0);
    CHECK(has_issue(&rep, SL_FC_RULE_DUPLICATE, 2, "case_id"));
    sl_fc_report_clear(&rep);
}

/* examples/forecast/bad/RULE.jsonl: a good case on line 1, a case breaking RULE on line 2 */
TEST(bad_example_files_one_per_rule) {
    for (int r = 0; r < SL_FC_RULE_COUNT; r++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/forecast/bad/%s.jsonl", root(),
                 sl_fc_rule_name((sl_fc_rule)r));
        sl_fc_set *s = NULL;
        CHECK_OK(sl_fc_read(path, &s));
        if (!s) continue;
        sl_fc_report rep = {0};
        CHECK_OK(sl_fc_validate(s, NULL, &rep));
        int found = 0;
        for (size_t i = 0; i < rep.n; i++) {
            if (rep.issues[i].warning) continue;
            CHECK_MSG(rep.issues[i].line == 2 && rep.issues[i].rule == (sl_fc_rule)r,
                      "%s: unexpected [%s] on line %zu", path, sl_fc_rule_name(rep.issues[i].rule),
                      rep.issues[i].line);
            found = 1;
        }
        CHECK_MSG(found, "%s: rule not reported", path);
        sl_fc_report_clear(&rep);
        sl_fc_set_free(s);
    }
}

TEST(parse_errors_name_file_line_field) {
    sl_fc_set *s = NULL;
    const char *t1 = GOOD_CASE "{\"case_id\": 3\n";
    CHECK_STATUS(sl_fc_parse(t1, strlen(t1), "x.jsonl", &s), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "x.jsonl:2:") != NULL);
    CHECK(s == NULL);
    const char *t2 = "\n\n{\"case_id\": 3}\n";
    CHECK_STATUS(sl_fc_parse(t2, strlen(t2), "x.jsonl", &s), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "x.jsonl:3: case_id: must be a string") != NULL);
    const char *t3 = "{\"case_id\":\"a\",\"outcome_chain\":[{\"probability\":\"high\"}]}";
    CHECK_STATUS(sl_fc_parse(t3, strlen(t3), "x.jsonl", &s), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "x.jsonl:1: outcome_chain[0]: 'probability' must be a number"));
    const char *t4 = "[1,2]";
    CHECK_STATUS(sl_fc_parse(t4, strlen(t4), "x.jsonl", &s), SL_ERR_FORMAT);
    const char *t5 = "{\"case_id\":\"a\"} {}";
    CHECK_STATUS(sl_fc_parse(t5, strlen(t5), "x.jsonl", &s), SL_ERR_FORMAT);
    const char *t6 = "{\"case_id\":\"a\",\"outcome_chain\":[{\"probability\":0.5,"
                     "\"probability_in_retrospect\":0.5}]}";
    CHECK_STATUS(sl_fc_parse(t6, strlen(t6), "x.jsonl", &s), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "both") != NULL);
}

TEST(fix_renormalises_only_within_tolerance) {
    char text[4096];
    snprintf(text, sizeof text, "%s", GOOD_CASE);
    char *p = strstr(text, "\"probability\":0.6");
    memcpy(p, "\"probability\":0.63", 18); /* sum 1.03: fixable (overwrites the comma) */
    /* restore the comma eaten by the longer number */
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s,%s", (int)(p + 18 - text), text, p + 18);
    sl_fc_report rep;
    sl_fc_set *s = NULL;
    CHECK(validate_text(buf, 0, &rep, NULL) == 0);
    CHECK(rep.n_errors == 1 && has_issue(&rep, SL_FC_RULE_PROB_SUM, 1, "outcome_chain[0]"));
    sl_fc_report_clear(&rep);
    CHECK(validate_text(buf, 1, &rep, &s) == 0);
    CHECK(rep.n_errors == 0 && rep.n_fixed == 1);
    if (s) {
        CHECK_CLOSE(s->cases[0].nodes[0].prob, 0.63 / 1.03, 1e-15);
        CHECK_CLOSE(s->cases[0].nodes[0].alts[0].prob, 0.4 / 1.03, 1e-15);
        /* the JSON was changed too: write, re-read, validate clean */
        char path[600];
        snprintf(path, sizeof path, "%s/fixed.jsonl", harness_tmpdir());
        const sl_fc_case *cs[1] = {&s->cases[0]};
        CHECK_OK(sl_fc_write(path, cs, 1));
        sl_fc_set *r = NULL;
        CHECK_OK(sl_fc_read(path, &r));
        sl_fc_report rep2 = {0};
        if (r) CHECK_OK(sl_fc_validate(r, NULL, &rep2));
        CHECK(rep2.n == 0);
        sl_fc_report_clear(&rep2);
        sl_fc_set_free(r);
    }
    sl_fc_set_free(s);
    sl_fc_report_clear(&rep);
    /* sum 1.2 is beyond --fix-tol: still an error, nothing changed */
    snprintf(text, sizeof text, "%s", GOOD_CASE);
    p = strstr(text, "\"probability\":0.6");
    p[16] = '8';
    CHECK(validate_text(text, 1, &rep, &s) == 0);
    CHECK(rep.n_errors == 1 && rep.n_fixed == 0);
    if (s) CHECK(s->cases[0].nodes[0].prob == 0.8);
    sl_fc_set_free(s);
    sl_fc_report_clear(&rep);
}

/* --- split ------------------------------------------------------------------------ */

TEST(split_no_test_case_before_cutoff) {
    /* templates over 2000-2019 plus the real examples; several cutoffs */
    cJSON *arr = NULL;
    CHECK_OK(sl_fc_templates(1000, 7, 0, 2000, &arr));
    if (!arr) return;
    char *text = NULL;
    size_t len = 0, cap = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr) {
        char *t = cJSON_PrintUnformatted(c);
        /* half of them not synthetic, to populate the test side */
        size_t tl = strlen(t);
        if (len + tl + 2 > cap) {
            cap = 2 * (len + tl + 2);
            text = realloc(text, cap);
        }
        memcpy(text + len, t, tl);
        len += tl;
        text[len++] = '\n';
        free(t);
    }
    cJSON_Delete(arr);
    /* flip every other case to real */
    for (char *q = text; (q = strstr(q, "\"synthetic\":true")) != NULL; q += 16) {
        static int k = 0;
        if (k++ % 2) memcpy(q, "\"synthetic\":0   ", 16);
    }
    for (char *q = text; (q = strstr(q, "\"synthetic\":0   ")) != NULL; q += 16)
        memcpy(q, "\"real_case\":1   ", 16);
    sl_fc_set *s = NULL;
    CHECK_OK(sl_fc_parse(text, len, "split.jsonl", &s));
    free(text);
    if (!s) return;
    sl_fc_report rep = {0};
    CHECK_OK(sl_fc_validate(s, NULL, &rep));
    CHECK(rep.n_errors == 0);
    sl_fc_report_clear(&rep);
    sl_fc_segment *seg = malloc(s->n * sizeof *seg);
    const char *cut[3] = {"2005-06-01", "2010-01-01", "2016-03-15"};
    for (int k = 0; k < 3; k++) {
        int64_t cd, cal;
        sl_fc_date_days(cut[k], &cd);
        sl_fc_date_days("2003-01-01", &cal);
        CHECK_OK(sl_fc_split_date(s, k == 1 ? "2003-01-01" : NULL, cut[k], seg, NULL));
        size_t nt = 0, ntr = 0, nx = 0;
        for (size_t i = 0; i < s->n; i++) {
            const sl_fc_case *cs = &s->cases[i];
            int64_t lo, hi, d;
            sl_fc_date_days(cs->seed_date, &lo);
            hi = lo;
            for (size_t j = 0; j < cs->n_nodes; j++) {
                sl_fc_date_days(cs->nodes[j].date, &d);
                if (d < lo) lo = d;
                if (d > hi) hi = d;
            }
            if (seg[i] == SL_FC_TEST) {
                nt++;
                CHECK_MSG(lo >= cd, "test case %s has a date before the cutoff %s", cs->case_id, cut[k]);
                CHECK(!cs->synthetic);
            } else if (seg[i] == SL_FC_TRAIN) {
                ntr++;
                CHECK(hi < (k == 1 ? cal : cd));
            } else if (seg[i] == SL_FC_CALIB) {
                CHECK(lo >= cal && hi < cd && !cs->synthetic);
            } else {
                nx++;
                CHECK((lo < cd && hi >= cd) || (k == 1 && lo < cal && hi >= cal) || cs->synthetic);
            }
        }
        CHECK_MSG(nt > 10 && ntr > 10 && nx > 0, "cutoff %s: %zu test, %zu train, %zu excluded",
                  cut[k], nt, ntr, nx);
    }
    /* domain split: synthetic never in test */
    CHECK_OK(sl_fc_split_domain(s, "technology, Energy", seg, NULL));
    size_t nt = 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *d = s->cases[i].domain;
        int listed = strcmp(d, "Technology") == 0 || strcmp(d, "Energy") == 0;
        if (seg[i] == SL_FC_TEST) {
            nt++;
            CHECK(listed && !s->cases[i].synthetic);
        } else if (seg[i] == SL_FC_TRAIN) {
            CHECK(!listed);
        } else {
            CHECK(listed && s->cases[i].synthetic);
        }
    }
    CHECK(nt > 0);
    free(seg);
    sl_fc_set_free(s);
}

/* --- matching, per-depth accuracy, coverage ------------------------------------------ */

TEST(evaluate_hand_checked_case) {
    const char *truth = GOOD_CASE;
    /* depth 1: top = "bond yields rise sharply" (Jaccard 3/4 >= 0.5, matched, top ok);
     * depth 2: "Housing booms" has 0.7 (top, wrong), the actual "Housing slows" is not named:
     *          candidates (0.7, 0), (0.2, 0), residual 0.1 -> y 1 */
    const char *pred =
        "{\"case_id\":\"c1\",\"outcome_chain\":[{\"depth\":1,\"event\":\"Bond yields rise "
        "sharply\",\"probability\":0.9,\"timeframe_months\":2,\"alternatives\":[{\"event\":"
        "\"yields fall\",\"probability\":0.1}]},{\"depth\":2,\"event\":\"Housing booms\","
        "\"probability\":0.7,\"alternatives\":[{\"event\":\"Stocks crash\",\"probability\":0.2}]}]}"
        "\n{\"case_id\":\"zz\",\"outcome_chain\":[]}\n";
    sl_fc_set *t = NULL, *p = NULL;
    CHECK_OK(sl_fc_parse(truth, strlen(truth), "t", &t));
    CHECK_OK(sl_fc_parse(pred, strlen(pred), "p", &p));
    sl_fc_eval *e = NULL;
    if (t && p) CHECK_OK(sl_fc_evaluate(p, t, 0, &e));
    if (!e) goto out;
    CHECK(e->n_items == 5);
    CHECK(e->n_pred_unmatched == 1);
    const double ep[5] = {0.9, 0.1, 0.7, 0.2, 0.1};
    const int ey[5] = {1, 0, 0, 0, 1};
    for (size_t i = 0; i < 5 && i < e->n_items; i++) {
        CHECK_CLOSE(e->items[i].p, ep[i], 1e-12);
        CHECK(e->items[i].y == ey[i]);
    }
    sl_fc_scores s;
    CHECK_OK(sl_fc_score(e, NAN, NULL, &s));
    double bs = (0.01 + 0.01 + 0.49 + 0.04 + 0.81) / 5.0;
    CHECK_CLOSE(s.brier, bs, 1e-12);
    /* uniform reference: 1/2 for each named candidate, 0 for the residual */
    CHECK_CLOSE(s.brier_uniform, (0.25 * 4 + 1.0) / 5.0, 1e-12);
    CHECK_CLOSE(s.acc[1], 1.0, 0);
    CHECK_CLOSE(s.acc[2], 0.0, 0);
    CHECK_CLOSE(s.coverage_fuzzy, 0.5, 1e-12);
    CHECK_CLOSE(s.coverage_exact, 0.0, 1e-12);
    CHECK_CLOSE(s.timeframe_mae, 1.0, 1e-12);
    CHECK(s.timeframe_n == 1);
    CHECK_CLOSE(sl_fc_similarity("Bond yields rise sharply", "Bond yields rise"), 0.75, 1e-15);
    CHECK(sl_fc_exact_match("The pound FALLS!", "pound falls"));
    char html[600];
    snprintf(html, sizeof html, "%s/r.html", harness_tmpdir());
    CHECK_OK(sl_fc_write_html(html, "t <x>", e, &s));
    char *txt = NULL;
    size_t len;
    CHECK_OK(sl_read_file(html, &txt, &len));
    CHECK(txt && strstr(txt, "<svg") && strstr(txt, "t &lt;x&gt;") && strstr(txt, "<circle"));
    free(txt);
out:
    sl_fc_eval_free(e);
    sl_fc_set_free(t);
    sl_fc_set_free(p);
}

TEST(compare_paired_bootstrap) {
    char path[600];
    snprintf(path, sizeof path, "%s/examples/forecast/cases.jsonl", root());
    sl_fc_set *t = NULL;
    CHECK_OK(sl_fc_read(path, &t));
    if (!t) return;
    /* A = the truth's own probabilities, B = the same sharpened */
    sl_fc_eval *a = NULL, *b = NULL, *b2 = NULL;
    CHECK_OK(sl_fc_evaluate(t, t, 0, &a));
    sl_fc_calib sharp = {.kind = SL_FC_CAL_TEMPERATURE, .T = 0.3};
    sl_fc_set *t2 = NULL;
    CHECK_OK(sl_fc_read(path, &t2));
    sl_fc_calib_apply_set(&sharp, t2);
    CHECK_OK(sl_fc_evaluate(t2, t, 0, &b));
    CHECK_OK(sl_fc_evaluate(t, t, 0, &b2));
    cJSON *r1 = NULL, *r2 = NULL, *r0 = NULL;
    CHECK_OK(sl_fc_compare(a, b, 500, 0.95, 3, &r1));
    CHECK_OK(sl_fc_compare(a, b, 500, 0.95, 3, &r2));
    CHECK_OK(sl_fc_compare(a, b2, 300, 0.9, 3, &r0));
    if (r1 && r2 && r0) {
        char *s1 = cJSON_PrintUnformatted(r1), *s2 = cJSON_PrintUnformatted(r2);
        CHECK(strcmp(s1, s2) == 0); /* same seed, same bits */
        free(s1);
        free(s2);
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(r0, "metrics")) {
            if (cJSON_IsNull(cJSON_GetObjectItem(m, "diff"))) continue;
            CHECK(sl_json_num(m, "diff", 1) == 0.0 && sl_json_num(m, "lo", 1) == 0.0 &&
                  sl_json_num(m, "hi", 1) == 0.0);
        }
        const cJSON *brier = cJSON_GetArrayItem(cJSON_GetObjectItem(r1, "metrics"), 0);
        double lo = sl_json_num(brier, "lo", NAN), hi = sl_json_num(brier, "hi", NAN),
               d = sl_json_num(brier, "diff", NAN);
        CHECK(lo <= d && d <= hi);
        CHECK(strcmp(sl_json_str(brier, "name", ""), "brier") == 0);
    }
    cJSON_Delete(r0);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    sl_fc_eval_free(a);
    sl_fc_eval_free(b);
    sl_fc_eval_free(b2);
    sl_fc_set_free(t);
    sl_fc_set_free(t2);
}

TEST(reward_components) {
    const char *truth = GOOD_CASE;
    /* perfect sharp prediction: p = 1 on what happened */
    const char *sharp =
        "{\"case_id\":\"c1\",\"outcome_chain\":[{\"depth\":1,\"event\":\"Bond yields rise\","
        "\"probability\":1,\"timeframe_months\":1,\"alternatives\":[{\"event\":\"Yields fall\","
        "\"probability\":0}]},{\"depth\":2,\"event\":\"Housing slows\",\"probability\":1,"
        "\"timeframe_months\":4,\"alternatives\":[]}]}";
    /* uniform over three distinct branches, timeframes decreasing at depth 2 */
    const char *flat =
        "{\"case_id\":\"c1\",\"outcome_chain\":[{\"depth\":1,\"event\":\"Bond yields rise\","
        "\"probability\":0.3333333333333333,\"timeframe_months\":5,\"alternatives\":[{\"event\":"
        "\"Yields fall\",\"probability\":0.3333333333333333},{\"event\":\"Currency weakens\","
        "\"probability\":0.3333333333333334}]},{\"depth\":2,\"event\":\"Housing slows\","
        "\"probability\":0.3333333333333333,\"timeframe_months\":4,\"alternatives\":[{\"event\":"
        "\"Stocks rally\",\"probability\":0.3333333333333333},{\"event\":\"Credit tightens\","
        "\"probability\":0.3333333333333334}]}]}";
    sl_fc_set *t = NULL, *ps = NULL, *pf = NULL;
    CHECK_OK(sl_fc_parse(truth, strlen(truth), "t", &t));
    CHECK_OK(sl_fc_parse(sharp, strlen(sharp), "s", &ps));
    CHECK_OK(sl_fc_parse(flat, strlen(flat), "f", &pf));
    if (!t || !ps || !pf) goto out;
    sl_fc_reward r;
    CHECK_OK(sl_fc_reward_case(&ps->cases[0], &t->cases[0], NULL, &r));
    CHECK_CLOSE(r.calibration, 1.0, 1e-12);
    CHECK_CLOSE(r.sharpness, 1.0, 1e-12);
    CHECK_CLOSE(r.diversity, 0.0, 1e-12);
    CHECK_CLOSE(r.coherence, 1.0, 1e-12);
    CHECK_CLOSE(r.total, (0.4 + 0.2 + 0.0 + 0.2) / 1.0, 1e-12);
    CHECK_OK(sl_fc_reward_case(&pf->cases[0], &t->cases[0], NULL, &r));
    /* items: 1/3 each, one positive per node -> Brier = (4/9 + 2 * 1/9) / 3 = 2/9 */
    CHECK_CLOSE(r.calibration, 1.0 - 2.0 / 9.0, 1e-12);
    CHECK(fabs(r.sharpness) < 1e-12);
    CHECK_CLOSE(r.diversity, 1.0, 1e-12);
    CHECK_CLOSE(r.coherence, 7.0 / 8.0, 1e-12); /* the timeframe check of depth 2 fails */
out:
    sl_fc_set_free(t);
    sl_fc_set_free(ps);
    sl_fc_set_free(pf);
}

TEST(export_and_templates) {
    sl_fc_set *t = NULL;
    CHECK_OK(sl_fc_parse(GOOD_CASE, strlen(GOOD_CASE), "t", &t));
    if (!t) return;
    cJSON *r = sl_fc_sft_record(&t->cases[0]);
    CHECK(r != NULL);
    const cJSON *m = cJSON_GetObjectItem(r, "messages");
    CHECK(cJSON_GetArraySize(m) == 3);
    const char *user = sl_json_str(cJSON_GetArrayItem(m, 1), "content", "");
    CHECK(strstr(user, "Given this historical event:\nEvent: Central bank raises rates\nDate: 2020-01-10\n"));
    CHECK(strstr(user, "Bond yields rise") == NULL); /* the answer is not in the prompt */
    const char *ans = sl_json_str(cJSON_GetArrayItem(m, 2), "content", "");
    cJSON *tree = NULL;
    sl_fc_outcome why;
    CHECK_OK(sl_fc_parse_answer(ans, "c1", &tree, &why));
    CHECK(tree && cJSON_GetArraySize(cJSON_GetObjectItem(tree, "outcome_chain")) == 2);
    cJSON_Delete(tree);
    cJSON_Delete(r);
    sl_fc_set_free(t);
    /* templates: synthetic, valid, deterministic */
    cJSON *a = NULL, *b = NULL;
    CHECK_OK(sl_fc_templates(25, 5, 0, 2010, &a));
    CHECK_OK(sl_fc_templates(25, 5, 0, 2010, &b));
    if (!a || !b) return;
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    CHECK(strcmp(sa, sb) == 0);
    const cJSON *c;
    cJSON_ArrayForEach(c, a) CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c, "synthetic")));
    /* uniform (seed 004): 0.25 each */
    CHECK(strstr(sa, "\"probability\":0.25") != NULL);
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* --- prediction against the local fixture ------------------------------------------- */

static int g_port;
static pid_t g_server;

static int start_server(void) {
    char pf[600], cmd[2048];
    snprintf(pf, sizeof pf, "%s/port.txt", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/forecast_server.py %s %d >/dev/null 2>&1 &", SL_PYTHON,
             root(), pf, (int)getpid());
    if (system(cmd) != 0) return 0;
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(pf, "r");
        if (f) {
            int port = 0, pid = 0;
            int ok = fscanf(f, "%d %d", &port, &pid) == 2;
            fclose(f);
            if (ok) {
                g_port = port;
                g_server = (pid_t)pid;
                return 1;
            }
        }
        usleep(50000);
    }
    return 0;
}

static int server_posts(void) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/count", g_port);
    int code = 0;
    char *resp = NULL;
    size_t len;
    if (sl_fc_http_post(url, "{}", 5, &code, &resp, &len) != SL_OK) return -1;
    cJSON *j = cJSON_Parse(resp);
    int n = sl_json_int(j, "posts", -1);
    cJSON_Delete(j);
    free(resp);
    return n;
}

static sl_fc_case mk_case(const char *id, const char *event) {
    sl_fc_case c;
    memset(&c, 0, sizeof c);
    c.case_id = (char *)id;
    c.seed_event = (char *)event;
    c.seed_date = (char *)"2023-01-15";
    c.context = (char *)"test";
    return c;
}

TEST(predict_against_fixture) {
    if (!g_port) {
        HARNESS_FAIL("fixture server did not start");
        return;
    }
    sl_fc_predict_opts o;
    sl_fc_predict_opts_default(&o);
    char ep[128], cache[600];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", g_port);
    snprintf(cache, sizeof cache, "%s/cache", harness_tmpdir());
    o.endpoint = ep;
    o.cache_dir = cache;
    o.timeout_s = 5;
    o.retries = 2;
    o.backoff_s = 0.01;
    static const struct {
        const char *event;
        sl_fc_outcome want;
        sl_status st;
    } cases[] = {{"OK layoffs", SL_FC_PRED_OK, SL_OK},
                 {"FENCED layoffs", SL_FC_PRED_OK, SL_OK},
                 {"BARE layoffs", SL_FC_PRED_OK, SL_OK},
                 {"CHUNKED layoffs", SL_FC_PRED_OK, SL_OK},
                 {"FLAKY layoffs", SL_FC_PRED_OK, SL_OK},
                 {"NOTJSON layoffs", SL_FC_PRED_NOT_JSON, SL_ERR_FORMAT},
                 {"BADTREE layoffs", SL_FC_PRED_BAD_TREE, SL_ERR_FORMAT},
                 {"NOTCHAT layoffs", SL_FC_PRED_BAD_RESPONSE, SL_ERR_FORMAT},
                 {"CLIENTERR layoffs", SL_FC_PRED_HTTP, SL_ERR_IO}};
    int before = server_posts();
    CHECK(before == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_fc_case c = mk_case("c", cases[i].event);
        cJSON *pred = NULL;
        sl_fc_outcome why;
        int cached = -1;
        CHECK_STATUS(sl_fc_predict_case(&c, &o, &pred, &why, &cached), cases[i].st);
        CHECK_MSG(why == cases[i].want, "%s: outcome %s, wanted %s", cases[i].event,
                  sl_fc_outcome_name(why), sl_fc_outcome_name(cases[i].want));
        CHECK(cached == 0);
        if (cases[i].st == SL_OK) {
            const cJSON *ch = cJSON_GetObjectItem(pred, "outcome_chain");
            CHECK(cJSON_GetArraySize(ch) == 2);
            CHECK(sl_json_int(cJSON_GetArrayItem(ch, 1), "depth", 0) == 2);
        } else {
            CHECK(pred == NULL && *sl_last_error());
        }
        cJSON_Delete(pred);
    }
    /* FLAKY took two requests, CLIENTERR one (a 4xx is not retried): 9 + 1 */
    CHECK_MSG(server_posts() == 10, "posts %d", server_posts());
    /* cached: the good answers come from the cache, the malformed ones are asked again */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_fc_case c = mk_case("c", cases[i].event);
        cJSON *pred = NULL;
        sl_fc_outcome why;
        int cached = -1;
        sl_status st = sl_fc_predict_case(&c, &o, &pred, &why, &cached);
        CHECK(st == cases[i].st && cached == (cases[i].st == SL_OK));
        cJSON_Delete(pred);
    }
    CHECK_MSG(server_posts() == 14, "posts %d", server_posts());
    /* timeout: SLOW sleeps 2 s, the client waits 0.3 s, one retry */
    o.timeout_s = 0.3;
    o.retries = 1;
    o.cache_dir = NULL;
    sl_fc_case c = mk_case("c", "SLOW layoffs");
    cJSON *pred = NULL;
    sl_fc_outcome why;
    int cached;
    double t0 = sl_now();
    CHECK_STATUS(sl_fc_predict_case(&c, &o, &pred, &why, &cached), SL_ERR_IO);
    CHECK(why == SL_FC_PRED_HTTP && strstr(sl_last_error(), "timed out"));
    CHECK(sl_now() - t0 < 1.9);
    /* https and a closed port are clear errors */
    o.endpoint = "https://example.org";
    CHECK_STATUS(sl_fc_predict_case(&c, &o, &pred, &why, &cached), SL_ERR_ARG);
    o.endpoint = "http://127.0.0.1:1";
    o.retries = 0;
    CHECK_STATUS(sl_fc_predict_case(&c, &o, &pred, &why, &cached), SL_ERR_IO);
    CHECK(why == SL_FC_PRED_HTTP && strstr(sl_last_error(), "connect") != NULL);
}

TEST(cli_predict_validate_split_score) {
    if (!g_port) {
        HARNESS_FAIL("fixture server did not start");
        return;
    }
    const char *d = harness_tmpdir();
    char cases[600], cmd[4096];
    snprintf(cases, sizeof cases, "%s/cli_cases.jsonl", d);
    /* three cases: one good answer, one malformed, one not a chat completion */
    char text[8192];
    snprintf(text, sizeof text, "%s", GOOD_CASE);
    size_t n = strlen(text);
    char c2[4096], c3[4096];
    snprintf(c2, sizeof c2, "%s", GOOD_CASE);
    memcpy(strstr(c2, "\"c1\""), "\"c2\"", 4);
    memcpy(strstr(c2, "Central bank"), "NOTJSON bank", 12);
    snprintf(c3, sizeof c3, "%s", GOOD_CASE);
    memcpy(strstr(c3, "\"c1\""), "\"c3\"", 4);
    memcpy(strstr(c3, "Central bank"), "NOTCHAT bank", 12);
    snprintf(text + n, sizeof text - n, "%s%s", c2, c3);
    write_text(cases, text);
    snprintf(cmd, sizeof cmd,
             "%s forecast predict --cases %s --output %s/p.jsonl --errors %s/e.jsonl "
             "--endpoint http://127.0.0.1:%d --retries 0 --json > %s/pred.json 2>%s/pred.err",
             bin(), cases, d, d, g_port, d, d);
    CHECK(system(cmd) == 0);
    char path[700];
    snprintf(path, sizeof path, "%s/pred.json", d);
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(path, &j));
    const cJSON *oc = cJSON_GetObjectItem(j, "outcomes");
    CHECK(sl_json_int(oc, "ok", -1) == 1 && sl_json_int(oc, "not_json", -1) == 1 &&
          sl_json_int(oc, "bad_response", -1) == 1);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/e.jsonl", d);
    sl_fc_set *e = NULL;
    char *et = NULL;
    size_t el;
    CHECK_OK(sl_read_file(path, &et, &el));
    CHECK(et && strstr(et, "\"case_id\":\"c2\"") && strstr(et, "\"case_id\":\"c3\""));
    free(et);
    (void)e;
    /* score the one prediction; c2/c3 count as missing */
    snprintf(cmd, sizeof cmd, "%s forecast score --pred %s/p.jsonl --truth %s --html %s/s.html "
             "--json > %s/score.json", bin(), d, cases, d, d);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/score.json", d);
    CHECK_OK(sl_json_read_file(path, &j));
    const cJSON *sc = cJSON_GetObjectItem(j, "scores");
    CHECK(sl_json_int(sc, "n_missing_cases", -1) == 2 && sl_json_int(sc, "n_cases", -1) == 3);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(sc, "reliability")) >= 1);
    cJSON_Delete(j);
    /* the API route and the dashboard page of that score run */
    {
        sl_registry *rg = NULL;
        int64_t score_run = 0;
        CHECK_OK(sl_registry_open_default(NULL, &rg));
        if (rg) CHECK_OK(sl_registry_last_run(rg, &score_run));
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)score_run);
        const char *seg_json[1] = {id}, *seg_page[2] = {id, "page"}, *seg_bad[2] = {id, "nope"};
        const char *seg_nan[1] = {"abc"}, *seg_missing[1] = {"999999"};
        char *body = NULL;
        size_t blen = 0;
        const char *type = NULL;
        CHECK_OK(sl_fc_api(rg, seg_json, 1, &body, &blen, &type));
        cJSON *aj = body ? cJSON_Parse(body) : NULL;
        CHECK(aj && strcmp(type, "application/json") == 0);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(aj, "scores")) == 12);
        CHECK(strcmp(sl_json_str(cJSON_GetObjectItem(aj, "run"), "command", ""), "forecast score") == 0);
        cJSON_Delete(aj);
        free(body);
        CHECK_OK(sl_fc_api(rg, seg_page, 2, &body, &blen, &type));
        CHECK(body && strstr(type, "text/html") && strstr(body, "<svg") && strstr(body, "<circle") &&
              strstr(body, "Per-depth accuracy") && strstr(body, "forecast score"));
        free(body);
        CHECK_STATUS(sl_fc_api(rg, seg_bad, 2, &body, &blen, &type), SL_ERR_NOTFOUND);
        CHECK_STATUS(sl_fc_api(rg, seg_nan, 1, &body, &blen, &type), SL_ERR_ARG);
        CHECK_STATUS(sl_fc_api(rg, seg_missing, 1, &body, &blen, &type), SL_ERR_NOTFOUND);
        CHECK(body == NULL);
        sl_registry_close(rg);
    }
    /* validate: exit 1 on the seed's verbatim file (its 28-month timeframe), 0 on the examples,
     * 2 on a usage error, 0 on --help */
    snprintf(cmd, sizeof cmd, "%s forecast validate %s/examples/forecast/seed004_verbatim.jsonl "
             ">/dev/null 2>&1", bin(), root());
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(cmd, sizeof cmd, "%s forecast validate %s/examples/forecast/cases.jsonl >/dev/null",
             bin(), root());
    CHECK(system(cmd) == 0);
    /* bad input: nothing is written (split refuses an invalid file, --fix with errors left) */
    snprintf(cmd, sizeof cmd, "%s forecast split %s/examples/forecast/seed004_verbatim.jsonl "
             "--cutoff 2020-01-01 --out %s/bad >/dev/null 2>&1", bin(), root(), d);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(path, sizeof path, "%s/bad.train.jsonl", d);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);
    snprintf(cmd, sizeof cmd, "%s forecast validate %s/examples/forecast/seed004_verbatim.jsonl "
             "--fix --output %s/fixed_cli.jsonl >/dev/null 2>&1", bin(), root(), d);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(path, sizeof path, "%s/fixed_cli.jsonl", d);
    CHECK(stat(path, &sb) != 0);
    snprintf(cmd, sizeof cmd, "%s forecast split %s >/dev/null 2>&1", bin(), cases);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s forecast calibrate --help | grep -q 'usage: synthloop forecast'", bin());
    CHECK(system(cmd) == 0);
    /* split writes the segments and records them */
    snprintf(cmd, sizeof cmd, "%s forecast split %s/examples/forecast/cases.jsonl --cutoff "
             "2016-01-01 --out %s/sp --json > %s/split.json", bin(), root(), d, d);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/split.json", d);
    CHECK_OK(sl_json_read_file(path, &j));
    CHECK(sl_json_int(j, "train", -1) == 1 && sl_json_int(j, "test", -1) == 5);
    cJSON_Delete(j);
    /* the rows of the split run, as a route would serve them */
    sl_registry *reg = NULL;
    int64_t last = 0;
    CHECK_OK(sl_registry_open_default(NULL, &reg));
    if (reg) CHECK_OK(sl_registry_last_run(reg, &last));
    cJSON *rows = NULL;
    if (reg) CHECK_OK(sl_fc_store_run_json(reg, last, &rows));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(rows, "cases")) == 7);
    CHECK(strcmp(sl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(rows, "cases"), 0), "segment", ""),
                 "test") == 0); /* brexit_2016, the first line */
    cJSON_Delete(rows);
    sl_registry_close(reg);
    char py[700];
    snprintf(py, sizeof py, "%s/check_db.py", d);
    write_text(py, "import os, sqlite3\n"
                   "c = sqlite3.connect(os.environ['SYNTHLOOP_DB'])\n"
                   "q = lambda s: c.execute(s).fetchone()[0]\n"
                   "assert q(\"select count(*) from forecast_cases where segment='test'\") == 5\n"
                   "assert q(\"select count(*) from forecast_cases where segment='excluded'\") == 1\n"
                   "assert q(\"select count(*) from forecast_predictions where status='ok'\") == 2\n"
                   "assert q(\"select count(*) from forecast_predictions where status!='ok'\") == 2\n"
                   "assert q('select count(*) from forecast_scores') >= 12\n");
    snprintf(cmd, sizeof cmd, "%s %s", SL_PYTHON, py);
    CHECK(system(cmd) == 0);
}

int main(void) {
    run_reference();
    int srv = start_server();
    RUN(brier_log_ece_equal_sklearn);
    RUN(calibration_curve_equals_sklearn);
    RUN(murphy_matches_numpy_and_sums_to_brier);
    RUN(isotonic_equals_sklearn);
    RUN(platt_equals_sklearn_logistic_regression);
    RUN(temperature_equals_scipy);
    RUN(validator_good_file_has_no_issue);
    RUN(rule_required);
    RUN(rule_prob_range);
    RUN(rule_prob_sum);
    RUN(rule_date_format);
    RUN(rule_date_order);
    RUN(rule_timeframe);
    RUN(rule_depth);
    RUN(rule_url);
    RUN(rule_duplicate);
    RUN(bad_example_files_one_per_rule);
    RUN(parse_errors_name_file_line_field);
    RUN(fix_renormalises_only_within_tolerance);
    RUN(split_no_test_case_before_cutoff);
    RUN(evaluate_hand_checked_case);
    RUN(compare_paired_bootstrap);
    RUN(reward_components);
    RUN(export_and_templates);
    RUN(predict_against_fixture);
    RUN(cli_predict_validate_split_score);
    if (srv && g_server > 0) kill(g_server, SIGTERM);
    cJSON_Delete(g_ref);
    for (int s = 0; s < NSETS; s++) {
        free(g_p[s]);
        free(g_w[s]);
        free(g_y[s]);
        free(g_case[s]);
    }
    return harness_done();
}
