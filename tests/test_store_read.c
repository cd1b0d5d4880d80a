/* SPDX-License-Identifier: Apache-2.0 */
/* test_store_read.c - the registry's read API: every named query runs and returns what was
 * recorded (filters, limits, cursors, cell types: uint64 seeds, JSON cells, float64 blobs,
 * "not measured" NULLs), metric series, the JSON conversion, argument errors, and the UTF-8
 * validator/sanitiser against Python's strict codec on 3000 random byte strings. */
#include <math.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

static char g_db[600];
static int64_t g_run, g_run2;

static void fixture(void) {
    snprintf(g_db, sizeof g_db, "%s/read.db", harness_tmpdir());
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK_OK(sl_run_begin(reg, "demo", "{\"h\":10}", UINT64_MAX, &g_run));
    int64_t steps[3] = {0, 5, 9007199254740993LL};
    double v[3] = {0.5, 0.25, 0.125};
    CHECK_OK(sl_registry_add_metrics(reg, g_run, "train/loss", steps, v, 3));
    CHECK_OK(sl_registry_add_metric(reg, g_run, "eval/return", 2, 1.5));
    sl_registry_world_row we[2] = {{1, 0.1, 1.0, 1.0, 0.9, 0.5}, {5, 0.2, 1.2, 1.5, NAN, 0.55}};
    CHECK_OK(sl_registry_add_world_eval(reg, g_run, we, 2));
    double s[4] = {0.1, 0.2, 0.3, 1e-300};
    CHECK_OK(sl_registry_add_samples(reg, g_run, "trust", "real", s, 4));
    sl_weight_row w[5];
    for (int i = 0; i < 5; i++) w[i] = (sl_weight_row){i, 0.5, 0.8, 0.1, 0.04 * i, i == 2 ? 3u : 0u};
    CHECK_OK(sl_registry_add_weight_log(reg, g_run, w, 5));
    CHECK_OK(sl_registry_add_ab(reg, g_run, "ab", "{\"p\":0.01}", "augmented_better", NULL));
    CHECK_OK(sl_registry_add_ladder_level(reg, g_run, 1, 1, 1, "pass", "{\"d\":1}"));
    sl_branch_row br[4] = {{0, 0, 5, 0, 0.8, 1.0, 1}, {1, 0, 5, 0, 0.4, 1.2, 0},
                           {2, 0, 10, 0, 0.6, 1.1, 1}, {3, 0, 10, 0, 0.2, 1.4, 0}};
    CHECK_OK(sl_registry_add_branch_batch(reg, g_run, br, 4));
    CHECK_OK(sl_registry_add_estimate(reg, g_run, "mpl", NULL, 1.0, 0.9, 1.1, 3));
    CHECK_OK(sl_registry_add_model(reg, g_run, "world", "/nonexistent/w.bin", 0, "{\"mse\":1}", NULL));
    CHECK_OK(sl_registry_add_result(reg, g_run, "r", "[1,2]"));
    CHECK_OK(sl_run_end(reg, g_run, SL_RUN_OK, NULL));
    CHECK_OK(sl_run_begin(reg, "train", NULL, 3, &g_run2));
    sl_registry_close(reg);
}

static sl_rows *query(sl_registry *reg, sl_rows_kind k, sl_rows_query q) {
    sl_rows *r = NULL;
    CHECK_OK(sl_registry_rows(reg, k, &q, &r));
    return r;
}

TEST(every_query_runs_and_reads_back) {
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_rows_query q = sl_rows_query_default();
    q.run = g_run;
    size_t want[SL_ROWS_KIND_COUNT];
    for (int k = 0; k < SL_ROWS_KIND_COUNT; k++) want[k] = (size_t)-1;
    want[SL_ROWS_RUNS] = 2;
    want[SL_ROWS_RUN_EXISTS] = 1;
    want[SL_ROWS_WORLD_EVAL] = 2;
    want[SL_ROWS_BRANCH_HORIZONS] = 2;
    want[SL_ROWS_BRANCH_TRUST] = 4;
    want[SL_ROWS_SAMPLES] = 1;
    want[SL_ROWS_WEIGHTS] = 5;
    want[SL_ROWS_WEIGHT_CURVE] = 5;
    want[SL_ROWS_WEIGHT_RAILS] = 2;
    want[SL_ROWS_ESTIMATES] = 1;
    want[SL_ROWS_AB] = 1;
    want[SL_ROWS_LADDER] = 1;
    want[SL_ROWS_MODELS] = 1;
    want[SL_ROWS_RESULTS] = 1;
    want[SL_ROWS_ALL_EXPERIMENTS] = 1;
    want[SL_ROWS_ALL_MODELS] = 1;
    want[SL_ROWS_METRIC_CHANGES] = 4;
    for (int k = 0; k < SL_ROWS_KIND_COUNT; k++) {
        sl_rows *r = query(reg, (sl_rows_kind)k, q);
        if (!r) continue;
        CHECK_MSG(r->ncol > 0, "kind %d has no columns", k);
        if (want[k] != (size_t)-1)
            CHECK_MSG(r->nrow == want[k], "kind %d: %zu rows, want %zu", k, r->nrow, want[k]);
        sl_rows_free(r);
    }
    /* runs: filters and limit */
    q = sl_rows_query_default();
    q.status = SL_RUN_RUNNING;
    sl_rows *r = query(reg, SL_ROWS_RUNS, q);
    CHECK(r && r->nrow == 1 && sl_rows_get(r, 0, "id")->i == g_run2);
    CHECK(r && sl_rows_get(r, 0, "ended")->type == SL_CELL_NULL);
    sl_rows_free(r);
    q = sl_rows_query_default();
    q.command = "demo";
    r = query(reg, SL_ROWS_RUNS, q);
    CHECK(r && r->nrow == 1);
    const sl_cell *seed = r ? sl_rows_get(r, 0, "seed") : NULL;
    CHECK(seed && seed->type == SL_CELL_UINT && (uint64_t)seed->i == UINT64_MAX);
    CHECK(r && sl_rows_get(r, 0, "metric_points")->i == 4);
    cJSON *j = NULL;
    CHECK_OK(sl_rows_to_json(r, &j));
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(txt && strstr(txt, "\"seed\":18446744073709551615") != NULL);
    free(txt);
    cJSON_Delete(j);
    sl_rows_free(r);
    q = sl_rows_query_default();
    q.limit = 1;
    r = query(reg, SL_ROWS_RUNS, q);
    CHECK(r && r->nrow == 1 && sl_rows_get(r, 0, "id")->i == g_run2); /* newest first */
    CHECK(r && sl_rows_get(r, 0, "nope") == NULL && sl_rows_get(r, 5, "id") == NULL);
    sl_rows_free(r);
    /* cells: NULL for "not measured", JSON, float64 blobs, limits */
    q = sl_rows_query_default();
    q.run = g_run;
    r = query(reg, SL_ROWS_WORLD_EVAL, q);
    CHECK(r && sl_rows_get(r, 1, "trust")->type == SL_CELL_NULL);
    CHECK(r && sl_rows_get(r, 1, "var_growth")->type == SL_CELL_REAL &&
          sl_rows_get(r, 1, "var_growth")->d == 1.5);
    sl_rows_free(r);
    r = query(reg, SL_ROWS_SAMPLES, q);
    const sl_cell *d = r ? sl_rows_get(r, 0, "data") : NULL;
    CHECK(d && d->type == SL_CELL_F64S && d->n == 4 && d->v[3] == 1e-300 && d->v[0] == 0.1);
    sl_rows_free(r);
    r = query(reg, SL_ROWS_AB, q);
    CHECK(r && sl_rows_get(r, 0, "experiment")->type == SL_CELL_JSON &&
          strcmp(sl_rows_get(r, 0, "experiment")->s, "{\"p\":0.01}") == 0);
    sl_rows_free(r);
    r = query(reg, SL_ROWS_BRANCH_HORIZONS, q);
    CHECK(r && sl_rows_get(r, 0, "horizon")->i == 5 && sl_rows_get(r, 0, "trust")->d == 0.5 * (0.8 + 0.4));
    CHECK(r && sl_rows_get(r, 1, "pass_rate")->d == 0.5);
    sl_rows_free(r);
    r = query(reg, SL_ROWS_WEIGHT_RAILS, q);
    CHECK(r && r->nrow == 2);
    sl_rows_free(r);
    q.limit = 2;
    r = query(reg, SL_ROWS_WEIGHTS, q);
    CHECK(r && r->nrow == 2 && sl_rows_get(r, 1, "w_final")->d == 0.04);
    sl_rows_free(r);
    /* change cursors: nothing after the newest, everything after 0 */
    int64_t rr, jr, mr;
    CHECK_OK(sl_registry_event_cursors(reg, &rr, &jr, &mr));
    CHECK(rr > 0 && mr == 4);
    q = sl_rows_query_default();
    q.after = mr;
    r = query(reg, SL_ROWS_METRIC_CHANGES, q);
    CHECK(r && r->nrow == 0);
    sl_rows_free(r);
    q.after = 0;
    q.run = g_run2;
    r = query(reg, SL_ROWS_RUN_CHANGES, q);
    CHECK(r && r->nrow == 1 && sl_rows_get(r, 0, "id")->i == g_run2);
    sl_rows_free(r);
    /* errors */
    sl_rows *bad = (sl_rows *)1;
    CHECK_STATUS(sl_registry_rows(reg, SL_ROWS_KIND_COUNT, NULL, &bad), SL_ERR_ARG);
    CHECK(bad == NULL);
    CHECK_STATUS(sl_registry_rows(NULL, SL_ROWS_RUNS, NULL, &bad), SL_ERR_ARG);
    q = sl_rows_query_default();
    q.status = SL_RUN_STATUS_COUNT;
    CHECK_STATUS(sl_registry_rows(reg, SL_ROWS_RUNS, &q, &bad), SL_ERR_ARG);
    CHECK_OK(sl_registry_run_exists(reg, g_run));
    CHECK_STATUS(sl_registry_run_exists(reg, 424242), SL_ERR_NOTFOUND);
    sl_rows_free(NULL);
    sl_metric_series_free(NULL, 0);
    sl_registry_close(reg);
}

TEST(metric_series_read_back_exactly) {
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_metric_series *ms = NULL;
    size_t n = 0;
    CHECK_OK(sl_registry_metrics(reg, g_run, NULL, &ms, &n));
    CHECK(n == 2);
    if (n == 2) {
        CHECK(strcmp(ms[0].name, "eval/return") == 0 && ms[0].n == 1 && ms[0].value[0] == 1.5);
        CHECK(strcmp(ms[1].name, "train/loss") == 0 && ms[1].n == 3);
        CHECK(ms[1].step[2] == 9007199254740993LL && ms[1].value[2] == 0.125);
    }
    sl_metric_series_free(ms, n);
    CHECK_OK(sl_registry_metrics(reg, g_run, "train/loss", &ms, &n));
    CHECK(n == 1 && ms && ms[0].n == 3);
    sl_metric_series_free(ms, n);
    CHECK_OK(sl_registry_metrics(reg, g_run2, NULL, &ms, &n));
    CHECK(n == 0 && ms == NULL);
    /* the export keeps the 2^53+1 step exact */
    cJSON *j = NULL;
    CHECK_OK(sl_registry_export_json(reg, g_run, &j));
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(txt && strstr(txt, "9007199254740993") != NULL);
    free(txt);
    cJSON_Delete(j);
    sl_registry_close(reg);
}

/* --- UTF-8 against Python ---------------------------------------------------------------- */

TEST(utf8_matches_python) {
    char in[700], out[700];
    snprintf(in, sizeof in, "%s/utf8_in.txt", harness_tmpdir());
    snprintf(out, sizeof out, "%s/utf8_out.txt", harness_tmpdir());
    enum { N = 3000, MAXLEN = 24 };
    static unsigned char strs[N][MAXLEN + 1];
    static size_t lens[N];
    sl_rng r;
    sl_rng_seed(&r, 12, 0);
    FILE *f = fopen(in, "w");
    CHECK(f != NULL);
    if (!f) return;
    /* bytes drawn to hit every boundary: ASCII, continuation bytes, every lead byte class
     * (C0/C1, E0, ED, F0, F4, F5+), and well-formed encodings of random code points */
    static const unsigned char pool[] = {'a', 'z', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                         0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
                                         0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(sl_rng_uniform(&r) * MAXLEN);
        size_t k = 0;
        while (k < len) {
            double u = sl_rng_uniform(&r);
            if (u < 0.7 && k + 4 <= (size_t)MAXLEN) { /* a valid encoding of a random scalar */
                uint32_t cp = (uint32_t)(sl_rng_uniform(&r) * 0x110000);
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                if (cp == 0) cp = 1;
                if (cp < 0x80) {
                    strs[i][k++] = (unsigned char)cp;
                } else if (cp < 0x800) {
                    strs[i][k++] = (unsigned char)(0xC0 | (cp >> 6));
                    strs[i][k++] = (unsigned char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    strs[i][k++] = (unsigned char)(0xE0 | (cp >> 12));
                    strs[i][k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    strs[i][k++] = (unsigned char)(0x80 | (cp & 0x3F));
                } else {
                    strs[i][k++] = (unsigned char)(0xF0 | (cp >> 18));
                    strs[i][k++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                    strs[i][k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    strs[i][k++] = (unsigned char)(0x80 | (cp & 0x3F));
                }
            } else {
                strs[i][k++] = pool[(size_t)(sl_rng_uniform(&r) * sizeof pool)];
            }
        }
        strs[i][k] = '\0';
        lens[i] = k;
        for (size_t b = 0; b < k; b++) fprintf(f, "%02x", strs[i][b]);
        fprintf(f, "\n");
    }
    fclose(f);
    char cmd[2000];
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/utf8_ref.py '%s' '%s'", SL_PYTHON,
             root && *root ? root : ".", in, out);
    CHECK(system(cmd) == 0);
    f = fopen(out, "r");
    CHECK(f != NULL);
    if (!f) return;
    int bad_valid = 0, bad_fix = 0, n_invalid = 0;
    char line[512];
    for (int i = 0; i < N && fgets(line, sizeof line, f); i++) {
        int ok = line[0] - '0';
        const char *hex = line + 2;
        int mine = sl_utf8_valid((const char *)strs[i], lens[i]);
        n_invalid += !ok;
        if (mine != ok) bad_valid++;
        char *fixed = sl_utf8_sanitize((const char *)strs[i]);
        char fhex[512] = "";
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)fixed; p && *p && o + 3 < sizeof fhex; p++)
            o += (size_t)snprintf(fhex + o, sizeof fhex - o, "%02x", *p);
        if (o == 0) snprintf(fhex, sizeof fhex, "-");
        if (strncmp(fhex, hex, strlen(fhex)) != 0 || (hex[strlen(fhex)] != '\n' && hex[strlen(fhex)] != '\0'))
            bad_fix++;
        if (fixed) CHECK(sl_utf8_valid(fixed, strlen(fixed)));
        free(fixed);
    }
    fclose(f);
    CHECK_MSG(bad_valid == 0, "%d of %d strings judged differently from Python", bad_valid, N);
    CHECK_MSG(bad_fix == 0, "%d of %d strings sanitised differently from Python", bad_fix, N);
    CHECK_MSG(n_invalid > N / 4 && n_invalid < N - N / 10, "sample not mixed: %d invalid", n_invalid);
    printf("  %d strings (%d ill-formed) agree with Python's codec\n", N, n_invalid);
}

int main(void) {
    fixture();
    RUN(every_query_runs_and_reads_back);
    RUN(metric_series_read_back_exactly);
    RUN(utf8_matches_python);
    return harness_done();
}
