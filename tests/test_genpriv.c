/* SPDX-License-Identifier: Apache-2.0 */
/* test_genpriv.c - synthetic data and the privacy ledger (issue 16's missing parts): the
 * subject column split off as the ledger key, the DP fit's epsilon charged per dataset and per
 * subject (group privacy) in the transaction that records the release, a budget that cannot
 * pay refused before training and at release time with nothing written and nothing charged,
 * a quality refusal of a DP fit still charged, a kill after the commit completed by
 * sl_privacy_recover, and the same through `synthloop generate` and `synthloop export`.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "synthloop/sl_gen.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_privacy.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

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

/* n rows, subject "u<i % n_subj>" (so subject u0 has ceil(n / n_subj) rows), x uniform on
 * [0, 10], y = 2x + noise, c = a|b by x. */
static void make_people(const char *path, size_t n, size_t n_subj, uint64_t seed) {
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "user,x,y,c\n");
    for (size_t i = 0; i < n; i++) {
        double x = 10 * sl_rng_uniform(&r), y = 2 * x + sl_rng_normal(&r);
        if (y < -5) y = -5;
        if (y > 25) y = 25;
        fprintf(f, "u%zu,%.4f,%.4f,%s\n", i % n_subj, x, y, x > 5 ? "b" : "a");
    }
    fclose(f);
}

static const char *SCHEMA =
    "{\"dataset\": \"people\", \"columns\": ["
    "{\"name\": \"user\", \"role\": \"subject\", \"type\": \"categorical\"},"
    "{\"name\": \"x\", \"type\": \"numeric\", \"min\": 0, \"max\": 10},"
    "{\"name\": \"y\", \"type\": \"numeric\", \"min\": -5, \"max\": 25},"
    "{\"name\": \"c\", \"type\": \"categorical\", \"categories\": [\"a\", \"b\"]}]}";

static int64_t spent(sl_registry *reg, const char *scope, const char *key) {
    int64_t nano = -1;
    if (sl_ledger_spent_nano(reg, scope, key, &nano) != SL_OK) return -1;
    return nano;
}

static int64_t count_rows(sl_registry *reg, const char *what) {
    char *txt = NULL;
    int64_t n = -1;
    if (strcmp(what, "synthetic_jobs") == 0 && sl_registry_synthetic_jobs_json(reg, 0, &txt) == SL_OK) {
        cJSON *j = cJSON_Parse(txt);
        n = cJSON_GetArraySize(j);
        cJSON_Delete(j);
    }
    free(txt);
    return n;
}

/* The newest synthetic_jobs row. */
static cJSON *last_job(sl_registry *reg) {
    char *txt = NULL;
    if (sl_registry_synthetic_jobs_json(reg, 0, &txt) != SL_OK) return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    int n = cJSON_GetArraySize(j);
    cJSON *r = n > 0 ? cJSON_DetachItemFromArray(j, n - 1) : NULL;
    cJSON_Delete(j);
    return r;
}

typedef struct fixture {
    sl_gen_table *schema, *data, *features;
    sl_gen_ledger_keys keys;
    const char *schema_path, *data_path;
} fixture;

static int fixture_load(fixture *f, size_t n, size_t n_subj) {
    memset(f, 0, sizeof *f);
    f->schema_path = tmp_path("people.schema.json");
    write_text(f->schema_path, SCHEMA);
    char name[64];
    snprintf(name, sizeof name, "people_%zu_%zu.csv", n, n_subj);
    f->data_path = strdup(tmp_path(name));
    make_people(f->data_path, n, n_subj, 5);
    CHECK_OK(sl_gen_schema_read(f->schema_path, &f->schema));
    if (f->schema) CHECK_OK(sl_gen_table_read_csv(f->data_path, f->schema, &f->data));
    if (f->data)
        CHECK_OK(sl_gen_ledger_keys_get(f->data, f->schema_path, f->data_path, &f->features,
                                        &f->keys));
    return f->features != NULL;
}

static void fixture_free(fixture *f) {
    sl_gen_table_free(f->schema);
    sl_gen_table_free(f->data);
    sl_gen_table_free(f->features);
    sl_gen_ledger_keys_free(&f->keys);
    free((char *)f->data_path);
}

static sl_gen_config small_dp(double eps) {
    sl_gen_config c = sl_gen_config_defaults(SL_GEN_VAE);
    c.epochs = 2;
    c.hidden = 16;
    c.latent = 4;
    c.batch = 64;
    c.threads = 1;
    c.dp_epsilon = eps;
    c.dp_delta = 1e-4;
    c.dp_reproducible = 1;
    c.seed = 3;
    return c;
}

/* --- ledger keys ---------------------------------------------------------------------------- */

TEST(subject_column_is_split_off_as_the_ledger_key) {
    fixture f;
    if (!fixture_load(&f, 300, 40)) {
        fixture_free(&f);
        return;
    }
    CHECK(strcmp(f.keys.dataset, "people") == 0); /* the schema's "dataset" */
    CHECK(f.keys.subject_column && strcmp(f.keys.subject_column, "user") == 0);
    CHECK(f.keys.n == 40);
    uint64_t total = 0;
    for (size_t i = 0; i < f.keys.n; i++) {
        total += f.keys.rows[i];
        /* 300 rows over 40 subjects in turn: 20 subjects have 8 rows, 20 have 7 */
        CHECK(f.keys.rows[i] == 7 || f.keys.rows[i] == 8);
        if (i) CHECK(strcmp(f.keys.subject[i - 1], f.keys.subject[i]) < 0);
    }
    CHECK(total == 300);
    CHECK(f.features->n_cols == 3 && f.features->n_rows == 300);
    for (size_t c = 0; c < f.features->n_cols; c++) CHECK(strcmp(f.features->cols[c].name, "user") != 0);
    /* the features keep the data: column x of features == column x of data */
    CHECK(memcmp(sl_gen_col(f.features, 0), sl_gen_col(f.data, 1), 300 * sizeof(double)) == 0);
    /* without "dataset": the schema file's stem; without a schema: the data file's */
    sl_gen_ledger_keys k2;
    sl_gen_table *feat = NULL;
    write_text(tmp_path("clinic.v2.json"), "{\"columns\": []}");
    CHECK_OK(sl_gen_ledger_keys_get(f.data, tmp_path("clinic.v2.json"), NULL, &feat, &k2));
    CHECK(k2.dataset && strcmp(k2.dataset, "clinic") == 0);
    sl_gen_ledger_keys_free(&k2);
    sl_gen_table_free(feat);
    feat = NULL;
    CHECK_OK(sl_gen_ledger_keys_get(f.features, NULL, "/a/b/visits.csv", &feat, &k2));
    CHECK(k2.dataset && strcmp(k2.dataset, "visits") == 0 && k2.n == 0 && !k2.subject_column);
    sl_gen_ledger_keys_free(&k2);
    sl_gen_table_free(feat);
    fixture_free(&f);
}

/* --- the library: charge, refusals ---------------------------------------------------------- */

TEST(dp_release_charges_dataset_and_subjects_with_the_release) {
    fixture f;
    if (!fixture_load(&f, 300, 40)) {
        fixture_free(&f);
        return;
    }
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tmp_path("lib.db"), &reg));
    if (!reg) {
        fixture_free(&f);
        return;
    }
    sl_budget_defaults def = {.max_epsilon = 100.0, .period = SL_PERIOD_MONTHLY};
    sl_gen_ledger_ctx lc = {.reg = reg, .keys = &f.keys, .def = &def};
    sl_gen_config cfg = small_dp(2.0);
    cfg.charge = sl_gen_ledger_precheck;
    cfg.charge_ctx = &lc;
    sl_gen_model *m = NULL;
    CHECK_OK(sl_gen_fit(&cfg, f.features, &m));
    CHECK(lc.checked == 1 && lc.epsilon > 1.9 && lc.epsilon <= 2.0);
    CHECK(spent(reg, "dataset", "people") == 0); /* the check charges nothing */
    sl_gen_table *syn = NULL;
    if (m) CHECK_OK(sl_gen_sample(m, 200, 9, &syn));
    if (!m || !syn) {
        sl_gen_free(m);
        sl_registry_close(reg);
        fixture_free(&f);
        return;
    }
    const sl_dp_spent *dp = sl_gen_model_dp(m);
    CHECK(dp->has_dp && fabs(dp->epsilon - lc.epsilon) == 0);
    sl_synthetic_job_row job = {.method = "vae", .n_rows = 200, .has_dp = 1,
                                .epsilon = dp->epsilon, .delta = dp->delta,
                                .quality = NAN, .detection_auc = NAN, .coverage = NAN,
                                .diversity = NAN, .dcr_share = NAN, .membership_auc = NAN,
                                .threshold = NAN};
    sl_gen_release_opts ro = {.out_path = tmp_path("lib_out.csv"),
                              .model_path = tmp_path("lib_out.st"), .released = 1, .charge = 1,
                              .keys = &f.keys, .input_path = f.data_path, .def = &def};
    sl_gen_release_result rr;
    CHECK_OK(sl_gen_release(reg, m, syn, &ro, &job, &rr));
    CHECK(rr.log_id > 0 && rr.job_id > 0);
    CHECK(file_exists(tmp_path("lib_out.csv")) && file_exists(tmp_path("lib_out.st")));
    /* the exact nano charges: dataset eps once, subject u0 (8 rows) 8 eps, u39 (7 rows) 7 eps */
    int64_t e = (int64_t)llround(dp->epsilon * 1e9);
    CHECK(spent(reg, "dataset", "people") == e);
    CHECK(spent(reg, "subject", "u0") == 8 * e);
    CHECK(spent(reg, "subject", "u39") == 7 * e);
    CHECK(fabs(rr.max_subject_epsilon - 8 * dp->epsilon) < 1e-12);
    /* the job row records the charge */
    cJSON *j = last_job(reg);
    CHECK(sl_json_int(j, "ledger_log_id", -1) == rr.log_id);
    CHECK(strcmp(sl_json_str(j, "ledger_dataset", ""), "people") == 0);
    CHECK(sl_json_num(j, "charged_epsilon", -1) == dp->epsilon);
    CHECK(sl_json_int(j, "charged_subjects", -1) == 40);
    CHECK(sl_json_int(j, "released", -1) == 1);
    cJSON_Delete(j);
    /* the log row is placed, with the CSV's hash */
    char *hist = NULL;
    CHECK_OK(sl_budget_history_json(reg, "dataset", "people", 1, &hist));
    cJSON *h = hist ? cJSON_Parse(hist) : NULL;
    const cJSON *h0 = cJSON_GetArrayItem(h, 0);
    CHECK(h0 && strcmp(sl_json_str(h0, "status", ""), "placed") == 0);
    CHECK(h0 && strcmp(sl_json_str(h0, "technique", ""), "generate") == 0);
    cJSON_Delete(h);
    free(hist);
    char sha[65];
    CHECK_OK(sl_sha256_file(tmp_path("lib_out.csv"), sha));
    CHECK(strcmp(sha, rr.out_sha256) == 0);
    /* the CSV says its (eps, delta) */
    char *txt = NULL;
    size_t len = 0;
    CHECK_OK(sl_read_file(tmp_path("lib_out.csv"), &txt, &len));
    CHECK(txt && strncmp(txt, "# synthloop-gen method=vae dp=yes epsilon=", 42) == 0);
    free(txt);

    /* a quality refusal of a DP fit: nothing written, the fit still charged ('logged') */
    int64_t jobs = count_rows(reg, "synthetic_jobs");
    sl_gen_release_opts ref = ro;
    ref.out_path = tmp_path("lib_refused.csv");
    ref.model_path = tmp_path("lib_refused.st");
    ref.released = 0;
    CHECK_OK(sl_gen_release(reg, m, syn, &ref, &job, &rr));
    CHECK(!file_exists(tmp_path("lib_refused.csv")) && !file_exists(tmp_path("lib_refused.st")));
    CHECK(spent(reg, "dataset", "people") == 2 * e);
    CHECK(count_rows(reg, "synthetic_jobs") == jobs + 1);
    CHECK_OK(sl_budget_history_json(reg, "dataset", "people", 1, &hist));
    h = hist ? cJSON_Parse(hist) : NULL;
    h0 = cJSON_GetArrayItem(h, 0);
    CHECK(h0 && strcmp(sl_json_str(h0, "status", ""), "logged") == 0);
    cJSON_Delete(h);
    free(hist);

    /* the budget can no longer pay at release time (another release spent it after the
     * check): refused with the remaining budget, nothing written, nothing charged */
    int64_t before_d = spent(reg, "dataset", "people"), before_u = spent(reg, "subject", "u0");
    CHECK_OK(sl_budget_set(reg, "dataset", "people", SL_PERIOD_LIFETIME,
                           (double)before_d * 1e-9 + 0.5));
    jobs = count_rows(reg, "synthetic_jobs");
    sl_gen_release_opts over = ro;
    over.out_path = tmp_path("lib_over.csv");
    over.model_path = tmp_path("lib_over.st");
    sl_status s = sl_gen_release(reg, m, syn, &over, &job, &rr);
    CHECK(s == SL_ERR_RANGE);
    CHECK(strstr(sl_last_error(), "budget exceeded: dataset 'people', lifetime") != NULL);
    CHECK(strstr(sl_last_error(), "remaining 0.5") != NULL);
    CHECK(strstr(sl_last_error(), "nothing written, nothing charged") != NULL);
    CHECK(!file_exists(tmp_path("lib_over.csv")) && !file_exists(tmp_path("lib_over.st")));
    char tmpname[PATH_MAX + 32];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", tmp_path("lib_over.csv"), (long)getpid());
    CHECK(!file_exists(tmpname));
    CHECK(spent(reg, "dataset", "people") == before_d && spent(reg, "subject", "u0") == before_u);
    CHECK(count_rows(reg, "synthetic_jobs") == jobs);

    /* ... and before training: the fit is refused, nothing trained or charged */
    sl_gen_model *m2 = NULL;
    lc.checked = 0;
    s = sl_gen_fit(&cfg, f.features, &m2);
    CHECK(s == SL_ERR_RANGE && m2 == NULL && lc.checked == 0);
    CHECK(strstr(sl_last_error(), "remaining 0.5") && strstr(sl_last_error(), "nothing trained"));
    CHECK(spent(reg, "dataset", "people") == before_d);
    /* a subject's own budget refuses too (u0 has 8 rows: 8 eps) */
    CHECK_OK(sl_budget_set(reg, "dataset", "people", SL_PERIOD_LIFETIME, -1));
    CHECK_OK(sl_budget_set(reg, "subject", "u0", SL_PERIOD_LIFETIME,
                           (double)before_u * 1e-9 + 1.0));
    s = sl_gen_fit(&cfg, f.features, &m2);
    CHECK(s == SL_ERR_RANGE && m2 == NULL);
    CHECK(strstr(sl_last_error(), "subject 'u0'") != NULL);
    sl_gen_free(m2);

    /* a DP release without a registry is refused before anything is written */
    sl_gen_release_opts noreg = ro;
    noreg.out_path = tmp_path("lib_noreg.csv");
    noreg.model_path = NULL;
    CHECK_STATUS(sl_gen_release(NULL, m, syn, &noreg, &job, &rr), SL_ERR_ARG);
    CHECK(!file_exists(tmp_path("lib_noreg.csv")));
    sl_gen_table_free(syn);
    sl_gen_free(m);
    sl_registry_close(reg);
    fixture_free(&f);
}

TEST(non_dp_release_is_recorded_without_a_charge) {
    fixture f;
    if (!fixture_load(&f, 300, 40)) {
        fixture_free(&f);
        return;
    }
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tmp_path("nodp.db"), &reg));
    sl_gen_config cfg = sl_gen_config_defaults(SL_GEN_COPULA);
    sl_gen_model *m = NULL;
    sl_gen_table *syn = NULL;
    CHECK_OK(sl_gen_fit(&cfg, f.features, &m));
    if (m) CHECK_OK(sl_gen_sample(m, 100, 1, &syn));
    if (reg && m && syn) {
        sl_synthetic_job_row job = {.method = "copula", .n_rows = 100, .quality = NAN,
                                    .detection_auc = NAN, .coverage = NAN, .diversity = NAN,
                                    .dcr_share = NAN, .membership_auc = NAN, .threshold = NAN};
        sl_gen_release_opts ro = {.out_path = tmp_path("nodp.csv"), .released = 1, .charge = 1,
                                  .keys = &f.keys};
        sl_gen_release_result rr;
        CHECK_OK(sl_gen_release(reg, m, syn, &ro, &job, &rr));
        CHECK(rr.log_id == 0 && rr.job_id > 0 && file_exists(tmp_path("nodp.csv")));
        CHECK(spent(reg, "dataset", "people") == 0);
        cJSON *j = last_job(reg);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "ledger_log_id")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "charged_epsilon")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "epsilon")));
        cJSON_Delete(j);
        /* no registry at all: fine without DP */
        ro.out_path = tmp_path("nodp2.csv");
        CHECK_OK(sl_gen_release(NULL, m, syn, &ro, &job, &rr));
        CHECK(file_exists(tmp_path("nodp2.csv")));
    }
    sl_gen_table_free(syn);
    sl_gen_free(m);
    sl_registry_close(reg);
    fixture_free(&f);
}

/* --- a kill after the commit and before the rename ------------------------------------------ */

static void die_now(void *ctx) {
    (void)ctx;
    _exit(0); /* as kill -9: no cleanup, no rename */
}

TEST(kill_after_the_charge_is_completed_by_recovery) {
    fixture f;
    if (!fixture_load(&f, 300, 40)) {
        fixture_free(&f);
        return;
    }
    sl_gen_config cfg = small_dp(1.0);
    sl_gen_model *m = NULL;
    sl_gen_table *syn = NULL;
    CHECK_OK(sl_gen_fit(&cfg, f.features, &m));
    if (m) CHECK_OK(sl_gen_sample(m, 100, 2, &syn));
    const char *db = tmp_path("kill.db");
    const char *out = tmp_path("kill.csv");
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(db, &reg)); /* migrate before the fork */
    sl_registry_close(reg);
    fflush(NULL);
    pid_t pid = m && syn ? fork() : -1;
    if (pid == 0) {
        sl_registry *r = NULL;
        if (sl_registry_open(db, &r) != SL_OK) _exit(3);
        sl_budget_defaults def = {.max_epsilon = 100.0, .period = SL_PERIOD_MONTHLY};
        sl_synthetic_job_row job = {.method = "vae", .n_rows = 100, .has_dp = 1, .epsilon = 1,
                                    .delta = 1e-4, .quality = NAN, .detection_auc = NAN,
                                    .coverage = NAN, .diversity = NAN, .dcr_share = NAN,
                                    .membership_auc = NAN, .threshold = NAN};
        sl_gen_release_opts ro = {.out_path = out, .released = 1, .charge = 1, .keys = &f.keys,
                                  .def = &def, .after_charge = die_now};
        sl_gen_release_result rr;
        sl_gen_release(r, m, syn, &ro, &job, &rr);
        _exit(4); /* not reached when the hook ran */
    }
    int wst = 0;
    if (pid > 0) waitpid(pid, &wst, 0);
    CHECK(pid > 0 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    CHECK(!file_exists(out)); /* killed before the rename */
    CHECK_OK(sl_registry_open(db, &reg));
    if (reg) {
        CHECK(spent(reg, "dataset", "people") == llround(sl_gen_model_dp(m)->epsilon * 1e9));
        CHECK(count_rows(reg, "synthetic_jobs") == 1);
        int done = 0;
        CHECK_OK(sl_privacy_recover(reg, &done));
        CHECK(done == 1);
        CHECK(file_exists(out)); /* the committed release is placed, hash checked */
        char *hist = NULL;
        CHECK_OK(sl_budget_history_json(reg, "dataset", "people", 1, &hist));
        CHECK(hist && strstr(hist, "\"status\":\"placed\""));
        free(hist);
    }
    sl_registry_close(reg);
    sl_gen_table_free(syn);
    sl_gen_free(m);
    fixture_free(&f);
}

/* --- the commands --------------------------------------------------------------------------- */

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

TEST(generate_command_charges_refuses_and_exports) {
    const char *bin = getenv("SL_BIN"), *root = getenv("SL_TEST_ROOT");
    char tmp[PATH_MAX + 64], abs[PATH_MAX];
    if (bin && *bin) snprintf(tmp, sizeof tmp, "%s", bin);
    else snprintf(tmp, sizeof tmp, "%s/build/synthloop", root && *root ? root : ".");
    snprintf(g_bin, sizeof g_bin, "%s", realpath(tmp, abs) ? abs : tmp);
    write_text(tmp_path("people.schema.json"), SCHEMA);
    make_people(tmp_path("cmd.csv"), 300, 40, 7);
    /* subjects have 7 or 8 rows: 8 eps each under MAX_PRIVACY_EPSILON's monthly default;
     * the dataset gets 3 */
    CHECK(sh("'%s' budget set --db cmd.db --dataset people --period monthly --epsilon 3 "
             "> /dev/null", g_bin) == 0);
    const char *common = "--db cmd.db --quiet --method vae --data cmd.csv --schema "
                         "people.schema.json --dp-delta 1e-4 --epochs 2 --hidden 16 --latent 4 "
                         "--batch 64 --threads 1 --dp-reproducible --quality-threshold 0";
    /* released: charged; MAX_PRIVACY_EPSILON raises the default monthly limit */
    CHECK(sh("MAX_PRIVACY_EPSILON=20 '%s' generate %s --dp-epsilon 2 --out c1.csv --json "
             "> c1.json", g_bin, common) == 0);
    CHECK(file_exists(tmp_path("c1.csv")));
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(tmp_path("c1.json"), &j));
    const cJSON *pc = cJSON_GetObjectItem(j, "privacy_charge");
    double eps = sl_json_num(pc, "epsilon", -1);
    CHECK(eps > 1.9 && eps <= 2.0 && strcmp(sl_json_str(pc, "dataset", ""), "people") == 0);
    CHECK(sl_json_int(pc, "subjects", -1) == 40);
    CHECK(fabs(sl_json_num(pc, "max_subject_epsilon", -1) - 8 * eps) < 1e-9);
    cJSON_Delete(j);
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tmp_path("cmd.db"), &reg));
    int64_t d0 = reg ? spent(reg, "dataset", "people") : -1;
    CHECK(d0 == llround(eps * 1e9));
    sl_registry_close(reg);
    /* the budget cannot pay 2 more (3 - 2 = 1 left): exit 1, the remaining budget in the
     * message, nothing written, nothing charged, no synthetic_jobs row */
    CHECK(sh("MAX_PRIVACY_EPSILON=20 '%s' generate %s --dp-epsilon 2 --out c2.csv --save-model "
             "c2.st 2> c2.err", g_bin, common) == 1);
    CHECK(!file_exists(tmp_path("c2.csv")) && !file_exists(tmp_path("c2.st")));
    char *err = NULL;
    size_t len = 0;
    CHECK_OK(sl_read_file(tmp_path("c2.err"), &err, &len));
    CHECK(err && strstr(err, "budget exceeded: dataset 'people', monthly") &&
          strstr(err, "remaining 1.0") && strstr(err, "nothing charged"));
    free(err);
    CHECK_OK(sl_registry_open(tmp_path("cmd.db"), &reg));
    if (reg) {
        CHECK(spent(reg, "dataset", "people") == d0);
        CHECK(count_rows(reg, "synthetic_jobs") == 1);
    }
    /* DP without a registry is a clear error, nothing written */
    CHECK(sh("'%s' generate %s --db none --dp-epsilon 0.5 --out c3.csv 2> c3.err", g_bin,
             "--quiet --method vae --data cmd.csv --schema people.schema.json --dp-delta 1e-4 "
             "--epochs 1 --hidden 8 --threads 1") == 1);
    CHECK(!file_exists(tmp_path("c3.csv")));
    /* export carries the synthetic_jobs row with its charge */
    int64_t run = 0;
    if (reg) {
        cJSON *runs = NULL;
        char *txt = NULL;
        CHECK_OK(sl_registry_synthetic_jobs_json(reg, 0, &txt));
        runs = txt ? cJSON_Parse(txt) : NULL;
        run = sl_json_int(cJSON_GetArrayItem(runs, 0), "run_id", 0);
        cJSON_Delete(runs);
        free(txt);
    }
    sl_registry_close(reg);
    CHECK(run > 0);
    CHECK(sh("'%s' export %lld --db cmd.db > export.json", g_bin, (long long)run) == 0);
    CHECK_OK(sl_json_read_file(tmp_path("export.json"), &j));
    const cJSON *sj = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "synthetic_jobs"), 0);
    CHECK(sj != NULL);
    CHECK(sj && sl_json_num(sj, "charged_epsilon", -1) == eps);
    CHECK(sj && strcmp(sl_json_str(sj, "ledger_dataset", ""), "people") == 0);
    cJSON_Delete(j);
}

/* --- the API: POST /api/synthetic/generate, GET /api/synthetic/jobs ------------------------ */

static int route(sl_registry *reg, const sl_serve_config *c, const char *method,
                 const char *target, const char *auth, const char *body, cJSON **json) {
    sl_http_request rq = {method, target, auth, body, body ? strlen(body) : 0, NULL};
    sl_http_response rs;
    sl_http_route(c, reg, &rq, &rs);
    if (json) *json = rs.body ? cJSON_ParseWithLength(rs.body, rs.body_len) : NULL;
    int st = rs.status;
    if (st >= 400) {
        cJSON *e = rs.body ? cJSON_ParseWithLength(rs.body, rs.body_len) : NULL;
        CHECK_MSG(e && cJSON_IsString(cJSON_GetObjectItem(e, "error")), "%s %s: error not JSON",
                  method, target);
        cJSON_Delete(e);
    }
    sl_http_response_free(&rs);
    return st;
}

TEST(api_generate_charges_refuses_and_lists_jobs) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || chdir(harness_tmpdir()) != 0) {
        CHECK(0);
        return;
    }
    write_text("people.schema.json", SCHEMA);
    make_people("api.csv", 300, 40, 11);
    setenv("MAX_PRIVACY_EPSILON", "20", 1);
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open("api.db", &reg));
    if (reg) CHECK_OK(sl_budget_set(reg, "dataset", "people", SL_PERIOD_MONTHLY, 3.0));
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.token = "0123456789abcdef0123456789abcdef";
    const char *auth = "Bearer 0123456789abcdef0123456789abcdef";
    const char *fmt =
        "{\"method\": \"vae\", \"data\": \"api.csv\", \"schema\": \"people.schema.json\","
        " \"out\": \"%s\", \"dp_epsilon\": %g, \"dp_delta\": 1e-4, \"epochs\": 2,"
        " \"hidden\": 16, \"latent\": 4, \"batch\": 64, \"dp_reproducible\": true,"
        " \"quality_threshold\": 0}";
    char body1[1024], body2[1024];
    snprintf(body1, sizeof body1, fmt, "api1.csv", 1.0);
    snprintf(body2, sizeof body2, fmt, "api2.csv", 2.5);
    /* the token */
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", NULL, body1, NULL) == 401);
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", "Bearer nope", body1, NULL) == 401);
    sl_serve_config c0 = c;
    c0.token = NULL;
    CHECK(route(reg, &c0, "POST", "/api/synthetic/generate", auth, body1, NULL) == 403);
    CHECK(route(reg, &c, "GET", "/api/synthetic/generate", auth, NULL, NULL) == 405);
    CHECK(!file_exists("api1.csv"));
    /* paths outside the working directory, bad values, bad input */
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth,
                "{\"method\": \"copula\", \"data\": \"/etc/passwd\", \"out\": \"x.csv\"}", NULL) == 400);
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth,
                "{\"method\": \"copula\", \"data\": \"api.csv\", \"out\": \"a/../../x.csv\"}", NULL) == 400);
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth,
                "{\"method\": \"gan\", \"data\": \"api.csv\", \"out\": \"x.csv\"}", NULL) == 400);
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth,
                "{\"method\": \"copula\", \"data\": \"missing.csv\", \"out\": \"x.csv\"}", NULL) == 404);
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth, "[1]", NULL) == 400);
    CHECK(!file_exists("x.csv"));
    /* released and charged */
    cJSON *j = NULL;
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth, body1, &j) == 200);
    CHECK(file_exists("api1.csv"));
    const cJSON *pc = cJSON_GetObjectItem(j, "privacy_charge");
    double eps = sl_json_num(pc, "epsilon", -1);
    CHECK(eps > 0.9 && eps <= 1.0 && sl_json_int(pc, "subjects", 0) == 40);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "released")) && sl_json_int(j, "run_id", 0) > 0);
    int64_t d1 = reg ? spent(reg, "dataset", "people") : -1;
    CHECK(d1 == llround(eps * 1e9));
    cJSON_Delete(j);
    /* the budget cannot pay 2.5 more: 409 with the remaining budget, nothing written/charged */
    j = NULL;
    CHECK(route(reg, &c, "POST", "/api/synthetic/generate", auth, body2, &j) == 409);
    const char *err = sl_json_str(j, "error", "");
    CHECK(strstr(err, "budget exceeded: dataset 'people', monthly") && strstr(err, "remaining"));
    cJSON_Delete(j);
    CHECK(!file_exists("api2.csv"));
    CHECK(reg && spent(reg, "dataset", "people") == d1);
    /* the jobs list carries the charge */
    j = NULL;
    CHECK(route(reg, &c, "GET", "/api/synthetic/jobs", NULL, NULL, &j) == 200);
    CHECK(cJSON_GetArraySize(j) == 1);
    const cJSON *row = cJSON_GetArrayItem(j, 0);
    CHECK(sl_json_num(row, "charged_epsilon", -1) == eps && sl_json_int(row, "ledger_log_id", 0) > 0);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/synthetic/jobs?run=0", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "POST", "/api/synthetic/jobs", auth, "{}", NULL) == 405);
    sl_registry_close(reg);
    unsetenv("MAX_PRIVACY_EPSILON");
    CHECK(chdir(cwd) == 0);
}

int main(void) {
    RUN(subject_column_is_split_off_as_the_ledger_key);
    RUN(dp_release_charges_dataset_and_subjects_with_the_release);
    RUN(non_dp_release_is_recorded_without_a_charge);
    RUN(kill_after_the_charge_is_completed_by_recovery);
    RUN(generate_command_charges_refuses_and_exports);
    RUN(api_generate_charges_refuses_and_lists_jobs);
    return harness_done();
}
