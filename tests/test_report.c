/* SPDX-License-Identifier: Apache-2.0 */
/* test_report.c - the HTML report: every section drawn from recorded rows (checked by an
 * independent HTML parser, tests/py/reg_html_check.py: well nested, self-contained, finite
 * coordinates, what each chart plotted), "no data recorded" notes for an empty run, fallbacks
 * from branches, escaping of hostile strings, and the `report`, `runs`, `export` commands. */
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_weight.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", harness_tmpdir(), name);
}

/* Run the HTML checker; returns its JSON summary (caller deletes) or NULL if it failed. */
static cJSON *check_html(const char *path) {
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/reg_html_check.py '%s'", SL_PYTHON, root(), path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int rc = pclose(p);
    cJSON *j = rc == 0 ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

static const cJSON *find_labeled(const cJSON *arr, const char *label, int nth) {
    for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next)
        if (strcmp(sl_json_str(c, "label", ""), label) == 0 && nth-- == 0) return c;
    return NULL;
}

static void full_run(sl_registry *reg, int64_t *run_out, const char *file) {
    int64_t run, model, job;
    CHECK_OK(sl_run_begin(reg, "demo", "{\"horizon\":10,\"arms\":[\"baseline\",\"augmented\"]}", 42,
                          &run));
    double v[50];
    for (int i = 0; i < 20; i++) v[i] = 1.0 + 0.05 * i;
    CHECK_OK(sl_registry_add_metrics(reg, run, "baseline/eval/return", NULL, v, 20));
    for (int i = 0; i < 20; i++) v[i] = 1.0 + 0.08 * i;
    CHECK_OK(sl_registry_add_metrics(reg, run, "augmented/eval/return", NULL, v, 20));
    for (int i = 0; i < 50; i++) v[i] = exp(-0.1 * i);
    CHECK_OK(sl_registry_add_metrics(reg, run, "train/loss", NULL, v, 50));
    sl_registry_world_row we[5];
    int hz[5] = {1, 2, 5, 10, 20};
    for (int i = 0; i < 5; i++)
        we[i] = (sl_registry_world_row){hz[i], 0.01 * hz[i], 1.0 + 0.05 * hz[i], 1.0 + 0.1 * hz[i],
                                    0.9 - 0.03 * hz[i], 0.5 + 0.02 * hz[i]};
    CHECK_OK(sl_registry_add_world_eval(reg, run, we, 5));
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    double real[200], syn[150];
    for (int i = 0; i < 200; i++) real[i] = 0.6 + 0.4 * sl_rng_uniform(&r);
    for (int i = 0; i < 150; i++) syn[i] = 0.7 * sl_rng_uniform(&r);
    CHECK_OK(sl_registry_add_samples(reg, run, "trust", "real", real, 200));
    CHECK_OK(sl_registry_add_samples(reg, run, "trust", "synthetic", syn, 150));
    sl_weight_row w[100];
    for (int i = 0; i < 100; i++)
        w[i] = (sl_weight_row){i, 0.5 + 0.004 * i, 0.8, 0.1, 0.04 + 0.001 * i,
                               i % 10 == 0 ? 1u << SL_RAIL_TRUST_FLOOR : (i % 7 == 0 ? 1u << SL_RAIL_WEIGHT_CAP : 0u)};
    CHECK_OK(sl_registry_add_weight_log(reg, run, w, 100));
    CHECK_OK(sl_registry_add_estimate(reg, run, "mpl", "baseline", 1.5, 1.3, 1.7, 10));
    CHECK_OK(sl_registry_add_estimate(reg, run, "mpl", "augmented", 1.9, 1.7, 2.1, 10));
    CHECK_OK(sl_registry_add_estimate(reg, run, "error_rate", "baseline", 0.1, 0.08, 0.12, 10));
    CHECK_OK(sl_registry_add_estimate(reg, run, "error_rate", "augmented", 0.07, 0.05, 0.09, 10));
    CHECK_OK(sl_registry_add_ab(reg, run, "baseline_vs_augmented",
                                "{\"metric\":\"return\",\"p_value\":0.003,\"effect\":0.4,"
                                "\"per_seed\":{\"baseline\":[1,2],\"augmented\":[2,3]}}",
                                "augmented_better", NULL));
    CHECK_OK(sl_registry_add_ladder_level(reg, run, 1, 1, 1, "pass", "{\"delta\":0.2}"));
    CHECK_OK(sl_registry_add_ladder_level(reg, run, 2, 5, 1, "pass", NULL));
    CHECK_OK(sl_registry_add_ladder_level(reg, run, 3, 10, 0, "fail: std ratio 1.6", NULL));
    sl_branch_row br[30];
    for (int i = 0; i < 30; i++)
        br[i] = (sl_branch_row){i, i % 5, i < 15 ? 5 : 10, 0, 0.3 + 0.02 * i, 1.0 + 0.01 * i, i % 3 != 0};
    CHECK_OK(sl_registry_add_branch_batch(reg, run, br, 30));
    CHECK_OK(sl_registry_add_dataset(reg, run, file, "real", 1000, 10, NULL));
    CHECK_OK(sl_registry_add_model(reg, run, "world", file, 0, "{\"mse\":0.01}", &model));
    CHECK_OK(sl_registry_add_artifact(reg, run, "branches.npz", file));
    CHECK_OK(sl_job_begin(reg, run, "train", 10, &job));
    CHECK_OK(sl_job_progress(reg, job, 10, "done"));
    CHECK_OK(sl_registry_add_result(reg, run, "world_eval_report", "{\"horizons\":[1,2,5]}"));
    CHECK_OK(sl_registry_add_privacy_spend(reg, run, "workcell", "laplace", 0.5, 0));
    /* the report's privacy section shows the run's releases (anonymization_logs) */
    sl_ledger_release rel = {0};
    rel.run_id = run;
    rel.now = 1700000000;
    rel.actor = "test";
    rel.technique = "dp";
    rel.dataset = "workcell";
    rel.epsilon = 0.5;
    rel.formal = 1;
    rel.n_rows = 10;
    CHECK_OK(sl_ledger_record(reg, &rel, NULL, NULL));
    CHECK_OK(sl_registry_add_deployment(reg, run, model, "shadow", 0.0, NULL, NULL));
    CHECK_OK(sl_run_end(reg, run, SL_RUN_OK, "{\"verdict\":\"augmented_better\"}"));
    *run_out = run;
}

TEST(full_report_draws_every_section) {
    char db[600], file[600], html[600];
    tmp_path(db, sizeof db, "full.db");
    tmp_path(file, sizeof file, "blob.bin");
    tmp_path(html, sizeof html, "full.html");
    CHECK_OK(sl_write_file_atomic(file, "0123456789", 10));
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run = 0;
    full_run(reg, &run, file);
    CHECK_OK(sl_report_write(reg, run, html));
    sl_registry_close(reg);
    cJSON *j = check_html(html);
    CHECK_MSG(j != NULL, "reg_html_check.py rejected %s", html);
    if (!j) return;
    const cJSON *nodata = cJSON_GetObjectItem(j, "nodata");
    CHECK_MSG(cJSON_GetArraySize(nodata) == 0, "unexpected 'no data' notes: %d first '%s'",
              cJSON_GetArraySize(nodata),
              nodata->child ? nodata->child->valuestring : "");
    static const char *const secs[] = {"config", "curves", "world", "trust", "weights", "econ",
                                       "ab", "ladder", "datasets", "models", "jobs",
                                       "artifacts", "privacy", "deployments", "results"};
    const cJSON *sections = cJSON_GetObjectItem(j, "sections");
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        int found = 0;
        for (const cJSON *c = sections->child; c; c = c->next) found |= strcmp(c->valuestring, secs[i]) == 0;
        CHECK_MSG(found, "section %s missing", secs[i]);
    }
    const cJSON *pl = cJSON_GetObjectItem(j, "polylines");
    const cJSON *b = find_labeled(pl, "baseline", 0), *a = find_labeled(pl, "augmented", 0);
    CHECK(b && a);
    if (b && a) {
        CHECK(sl_json_int(b, "n", 0) == 20 && sl_json_int(b, "points", 0) == 20);
        CHECK(sl_json_int(a, "n", 0) == 20);
        CHECK(sl_json_int(a, "chart", -1) == sl_json_int(b, "chart", -2)); /* same chart */
    }
    const cJSON *loss = find_labeled(pl, "train/loss", 0);
    CHECK(loss && sl_json_int(loss, "n", 0) == 50);
    const cJSON *sr = find_labeled(pl, "std ratio", 0), *tr = find_labeled(pl, "trust", 0);
    CHECK(sr && sl_json_int(sr, "n", 0) == 5);
    CHECK(tr && sl_json_int(tr, "n", 0) == 5);
    const cJSON *wf = find_labeled(pl, "w_final", 0);
    CHECK(wf && sl_json_int(wf, "n", 0) == 100);
    const cJSON *hs = cJSON_GetObjectItem(j, "hists");
    const cJSON *hr = find_labeled(hs, "real", 0), *hsyn = find_labeled(hs, "synthetic", 0);
    CHECK(hr && sl_json_int(hr, "n", 0) == 200);
    CHECK(hsyn && sl_json_int(hsyn, "n", 0) == 150);
    CHECK(hr && hsyn && sl_json_int(hr, "chart", -1) == sl_json_int(hsyn, "chart", -2));
    CHECK(sl_json_int(j, "bars", 0) == SL_RAIL_COUNT + 3);
    CHECK(sl_json_int(j, "intervals", 0) == 4);
    const char *text = sl_json_str(j, "text", "");
    CHECK(strstr(text, "augmented_better") != NULL);
    CHECK(strstr(text, "fail: std ratio 1.6") != NULL);
    CHECK(strstr(text, "0.003") != NULL); /* A/B p-value in the scalar table */
    cJSON_Delete(j);

    /* the report was recorded as an artifact of its run */
    CHECK_OK(sl_registry_open(db, &reg));
    char *exp = NULL;
    CHECK_OK(sl_registry_export_run(reg, run, &exp));
    CHECK(exp && strstr(exp, "\"kind\":\"report.html\"") != NULL);
    free(exp);
    CHECK_STATUS(sl_report_write(reg, 999, html), SL_ERR_NOTFOUND);
    char *doc = NULL;
    CHECK_STATUS(sl_report_html(NULL, run, &doc, NULL), SL_ERR_ARG);
    sl_registry_close(reg);
}

TEST(empty_run_says_no_data) {
    char db[600], html[600];
    tmp_path(db, sizeof db, "empty.db");
    tmp_path(html, sizeof html, "empty.html");
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run;
    CHECK_OK(sl_run_begin(reg, "bare", NULL, 0, &run));
    CHECK_OK(sl_report_write(reg, run, html));
    sl_registry_close(reg);
    cJSON *j = check_html(html);
    CHECK(j != NULL);
    if (!j) return;
    const cJSON *nodata = cJSON_GetObjectItem(j, "nodata");
    static const char *const want[] = {"config", "summary", "metric series",
                                       "world-model evaluation", "trust samples",
                                       "weight-controller", "estimates", "A/B experiments",
                                       "ladder levels", "datasets", "models", "jobs", "artifacts",
                                       "privacy releases", "deployments", "other JSON results"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (const cJSON *c = nodata->child; c; c = c->next) found |= strstr(c->valuestring, want[i]) != NULL;
        CHECK_MSG(found, "no 'no data recorded' note for %s", want[i]);
    }
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "polylines")) == 0);
    CHECK(strstr(sl_json_str(j, "text", ""), "running") != NULL);
    cJSON_Delete(j);
}

TEST(branch_fallbacks_and_escaping) {
    char db[600], html[600];
    tmp_path(db, sizeof db, "fallback.db");
    tmp_path(html, sizeof html, "fallback.html");
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run;
    CHECK_OK(sl_run_begin(reg, "branches<script>alert(1)</script>",
                          "{\"name\":\"<img src=x onerror=alert(1)>\"}", 1, &run));
    CHECK_OK(sl_run_set_note(reg, run, "a & b <b>bold</b> \"q\""));
    sl_branch_row br[40];
    for (int i = 0; i < 40; i++)
        br[i] = (sl_branch_row){i, 0, 1 + (i % 4) * 5, -1, 0.25 * (i % 4) + 0.1, 1.0 + 0.1 * (i % 4),
                                i % 4 < 2};
    CHECK_OK(sl_registry_add_branch_batch(reg, run, br, 40));
    CHECK_OK(sl_registry_add_metric(reg, run, "<x>/\"y\"", 0, 1.0));
    char *doc = NULL;
    size_t len = 0;
    CHECK_OK(sl_report_html(reg, run, &doc, &len));
    CHECK(doc && strlen(doc) == len);
    CHECK(doc && strstr(doc, "<script") == NULL);
    CHECK(doc && strstr(doc, "<img") == NULL);
    CHECK(doc && strstr(doc, "&lt;script&gt;") != NULL);
    CHECK(doc && strstr(doc, "a &amp; b &lt;b&gt;bold&lt;/b&gt; &quot;q&quot;") != NULL);
    free(doc);
    CHECK_OK(sl_report_write(reg, run, html));
    sl_registry_close(reg);
    cJSON *j = check_html(html);
    CHECK(j != NULL);
    if (!j) return;
    const cJSON *pl = cJSON_GetObjectItem(j, "polylines");
    const cJSON *sr = find_labeled(pl, "std ratio", 0);
    CHECK(sr && sl_json_int(sr, "n", 0) == 4); /* 4 horizons from the branches */
    const cJSON *hs = cJSON_GetObjectItem(j, "hists");
    const cJSON *hp = find_labeled(hs, "passed gates", 0), *hr = find_labeled(hs, "rejected", 0);
    CHECK(hp && sl_json_int(hp, "n", 0) == 20);
    CHECK(hr && sl_json_int(hr, "n", 0) == 20);
    CHECK(strstr(sl_json_str(j, "text", ""), "From the recorded branches") != NULL);
    cJSON_Delete(j);
}

/* Run the CLI; returns its exit status, stdout into out (may be NULL). */
static int run_cli(const char *args, char *out, size_t n) {
    const char *bin = getenv("SL_BIN");
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", bin && *bin ? bin : "build/synthloop", args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = 0, k;
    char tmp[4096];
    while ((k = fread(tmp, 1, sizeof tmp, p)) > 0)
        if (out && got + k < n) {
            memcpy(out + got, tmp, k);
            got += k;
        }
    if (out) out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(commands_runs_export_report) {
    char db[600], file[600], html[600], args[2000];
    tmp_path(db, sizeof db, "cli.db");
    tmp_path(file, sizeof file, "cli.bin");
    tmp_path(html, sizeof html, "cli.html");
    CHECK_OK(sl_write_file_atomic(file, "x", 1));
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run, run2;
    full_run(reg, &run, file);
    CHECK_OK(sl_run_begin(reg, "demo", "{\"horizon\":5,\"arms\":[\"baseline\",\"augmented\"]}", 43,
                          &run2));
    CHECK_OK(sl_registry_add_metric(reg, run2, "train/loss", 0, 0.5));
    CHECK_OK(sl_run_end(reg, run2, SL_RUN_FAILED, NULL));
    sl_registry_close(reg);
    static char out[1 << 20];
    snprintf(args, sizeof args, "runs --db '%s' --json", db);
    CHECK(run_cli(args, out, sizeof out) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECK(cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "runs --db '%s' --status failed --json", db);
    CHECK(run_cli(args, out, sizeof out) == 0);
    j = cJSON_Parse(out);
    CHECK(cJSON_GetArraySize(j) == 1 && sl_json_int(j->child, "id", 0) == (int)run2);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "runs --db '%s'", db);
    CHECK(run_cli(args, out, sizeof out) == 0 && strstr(out, "demo") && strstr(out, "failed"));
    snprintf(args, sizeof args, "runs show %lld --db '%s'", (long long)run, db);
    CHECK(run_cli(args, out, sizeof out) == 0);
    CHECK(strstr(out, "baseline/eval/return") && strstr(out, "augmented_better"));
    snprintf(args, sizeof args, "runs compare %lld last --db '%s' --json", (long long)run, db);
    CHECK(run_cli(args, out, sizeof out) == 0);
    j = cJSON_Parse(out);
    CHECK(j != NULL);
    const cJSON *cd = cJSON_GetObjectItem(j, "config_diff");
    CHECK(cJSON_GetArraySize(cd) == 1 && strcmp(sl_json_str(cd->child, "key", ""), "horizon") == 0);
    int found = 0;
    for (const cJSON *c = cJSON_GetObjectItem(j, "series")->child; c; c = c->next)
        if (strcmp(sl_json_str(c, "series", ""), "train/loss") == 0) {
            found = 1;
            CHECK_CLOSE(sl_json_num(c, "diff", 0), 0.5 - exp(-0.1 * 49), 1e-12);
        }
    CHECK(found);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "runs compare %lld %lld --db '%s'", (long long)run, (long long)run2, db);
    CHECK(run_cli(args, out, sizeof out) == 0 && strstr(out, "horizon") != NULL);
    snprintf(args, sizeof args, "export %lld --db '%s' --compact", (long long)run, db);
    CHECK(run_cli(args, out, sizeof out) == 0);
    j = cJSON_Parse(out);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "branches")) == 30);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "report %lld --db '%s' --output '%s'", (long long)run, db, html);
    CHECK(run_cli(args, out, sizeof out) == 0 && strstr(out, html) != NULL);
    cJSON *h = check_html(html);
    CHECK(h != NULL);
    cJSON_Delete(h);
    /* errors: unknown run -> 1, malformed -> 2, --help -> 0 */
    snprintf(args, sizeof args, "report 999 --db '%s' --output '%s'", db, html);
    CHECK(run_cli(args, NULL, 0) == 1);
    snprintf(args, sizeof args, "runs show abc --db '%s'", db);
    CHECK(run_cli(args, NULL, 0) == 2);
    snprintf(args, sizeof args, "runs compare 1 --db '%s'", db);
    CHECK(run_cli(args, NULL, 0) == 2);
    snprintf(args, sizeof args, "export --db '%s'", db);
    CHECK(run_cli(args, NULL, 0) == 2);
    CHECK(run_cli("runs --help", out, sizeof out) == 0 && strstr(out, "usage:") != NULL);
    CHECK(run_cli("report --help", out, sizeof out) == 0 && strstr(out, "usage:") != NULL);
    CHECK(run_cli("export --help", out, sizeof out) == 0 && strstr(out, "usage:") != NULL);
}

int main(void) {
    RUN(full_report_draws_every_section);
    RUN(empty_run_says_no_data);
    RUN(branch_fallbacks_and_escaping);
    RUN(commands_runs_export_report);
    return harness_done();
}
