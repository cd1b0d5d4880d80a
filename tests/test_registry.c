/* SPDX-License-Identifier: Apache-2.0 */
/* test_registry.c - the SQLite registry: migrations, every recording call, validation,
 * crash safety under SIGKILL, orphan reaping vs live owners, concurrent writers, export, and
 * an independent read-back of the file with Python's sqlite3 module (tests/py/reg_check.py). */
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", harness_tmpdir(), name);
}

/* One integer from a query (or -1). Uses its own read connection. */
static long long q_int(const char *db, const char *sql) {
    sqlite3 *h;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void q_text(const char *db, const char *sql, char *out, size_t n) {
    sqlite3 *h;
    out[0] = '\0';
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
}

/* `sqlite3 FILE 'PRAGMA integrity_check'` through the real CLI; 1 if it printed "ok". */
static int integrity_ok(const char *db) {
    char cmd[1200], line[256] = "";
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA integrity_check' 2>&1", db);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    if (!fgets(line, sizeof line, p)) line[0] = '\0';
    int rc = pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, "ok") != 0) printf("  integrity_check said: '%s'\n", line);
    return rc == 0 && strcmp(line, "ok") == 0;
}

TEST(open_creates_and_migrates) {
    char db[600];
    tmp_path(db, sizeof db, "open.db");
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(db, &reg));
    CHECK(reg != NULL);
    CHECK(strcmp(sl_registry_path(reg), db) == 0);
    sl_registry_close(reg);
    CHECK(q_int(db, "PRAGMA user_version") == SL_REGISTRY_SCHEMA_VERSION);
    char mode[32];
    q_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    CHECK(strcmp(mode, "wal") == 0);
    CHECK(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
                    " ('runs','metrics','datasets','models','artifacts','branches','weights',"
                    "'ab_experiments','ladder_levels','world_eval','estimates','samples',"
                    "'results','jobs','privacy_ledger','deployments')") == 16);
    /* reopen: idempotent */
    CHECK_OK(sl_registry_open(db, &reg));
    sl_registry_close(reg);
    CHECK(integrity_ok(db));
    sl_registry_close(NULL);
}

TEST(open_rejects_bad_files) {
    char p[600];
    tmp_path(p, sizeof p, "garbage.db");
    FILE *f = fopen(p, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 7) & 0xff, f);
    fclose(f);
    sl_registry *reg = (sl_registry *)1;
    CHECK_STATUS(sl_registry_open(p, &reg), SL_ERR_DB);
    CHECK(reg == NULL);
    CHECK(strstr(sl_last_error(), p) != NULL);

    /* a registry from the future */
    tmp_path(p, sizeof p, "future.db");
    sqlite3 *h;
    CHECK(sqlite3_open(p, &h) == SQLITE_OK);
    sqlite3_exec(h, "PRAGMA user_version=99", NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK_STATUS(sl_registry_open(p, &reg), SL_ERR_DB);
    CHECK(strstr(sl_last_error(), "newer") != NULL);

    CHECK_STATUS(sl_registry_open("", &reg), SL_ERR_ARG);
    tmp_path(p, sizeof p, "no/such/dir/x.db");
    CHECK_STATUS(sl_registry_open(p, &reg), SL_ERR_DB);
}

TEST(resolve_path_and_none) {
    unsetenv(SL_REGISTRY_ENV);
    CHECK(strcmp(sl_registry_resolve_path(NULL), "synthloop.db") == 0);
    CHECK(strcmp(sl_registry_resolve_path("x.db"), "x.db") == 0);
    setenv(SL_REGISTRY_ENV, "/tmp/env.db", 1);
    CHECK(strcmp(sl_registry_resolve_path(NULL), "/tmp/env.db") == 0);
    CHECK(strcmp(sl_registry_resolve_path(""), "/tmp/env.db") == 0);
    CHECK(strcmp(sl_registry_resolve_path("y.db"), "y.db") == 0);
    unsetenv(SL_REGISTRY_ENV);
    sl_registry *reg = (sl_registry *)1;
    CHECK_OK(sl_registry_open_default("none", &reg));
    CHECK(reg == NULL);
    /* NULL registry: every recording call is a no-op */
    int64_t id = 7;
    CHECK_OK(sl_run_begin(NULL, "x", "{}", 1, &id));
    CHECK(id == 0);
    CHECK_OK(sl_registry_add_metric(NULL, 0, "a", 0, 1.0));
    CHECK_OK(sl_run_end(NULL, 0, SL_RUN_OK, NULL));
    CHECK_OK(sl_job_begin(NULL, 0, "k", 1, &id));
    CHECK_OK(sl_registry_add_model(NULL, 0, "k", "p", 0, NULL, &id));
    CHECK(id == 0);
}

TEST(run_lifecycle_and_export) {
    char db[600], file[600];
    tmp_path(db, sizeof db, "life.db");
    tmp_path(file, sizeof file, "data.bin");
    CHECK_OK(sl_write_file_atomic(file, "hello", 5));
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run = 0, run2 = 0;
    CHECK_OK(sl_run_begin(reg, "train", "{\"lr\":0.001,\"arm\":\"augmented\"}",
                          18446744073709551615ull, &run));
    CHECK(run > 0);
    CHECK_OK(sl_run_begin(reg, "ab", NULL, 3, &run2));
    CHECK(run2 == run + 1);
    double vals[5] = {1.0, 0.5, 0.25, 0.125, 0.0625};
    CHECK_OK(sl_registry_add_metrics(reg, run, "train/loss", NULL, vals, 5));
    CHECK_OK(sl_registry_add_metric(reg, run, "eval/return", 10, 3.5));
    CHECK_OK(sl_registry_add_metric(reg, run, "eval/return", 10, 4.5)); /* replaces */
    int64_t ds = 0, m1 = 0, m2 = 0, job = 0;
    CHECK_OK(sl_registry_add_dataset(reg, run, file, "real", 100, 4, &ds));
    CHECK(ds > 0);
    CHECK_OK(sl_registry_add_model(reg, run, "world", file, 0, "{\"mse\":0.01}", &m1));
    CHECK_OK(sl_registry_add_model(reg, run, "world", "/nonexistent/ckpt", m1, NULL, &m2));
    CHECK(m2 == m1 + 1);
    CHECK_OK(sl_registry_add_artifact(reg, run, "report.html", file));
    sl_branch_row br[3] = {{1, 5, 10, 2, 0.9, 1.05, 1}, {1, 6, 10, 2, 0.2, 2.1, 0},
                           {2, 0, 5, -1, 0.7, 0.95, 1}};
    CHECK_OK(sl_registry_add_branch_batch(reg, run, br, 3));
    sl_weight_row wr[2] = {{0, 0.9, 0.8, 0.1, 0.72, 0}, {1, 0.1, 0.5, 0.1, 0.0, 1u << 1 /* trust floor */}};
    CHECK_OK(sl_registry_add_weight_log(reg, run, wr, 2));
    sl_registry_world_row we[2] = {{1, 0.01, 0.98, 1.0, 0.8, 0.55}, {10, 0.2, 2.0, 4.1, 0.1, 0.93}};
    CHECK_OK(sl_registry_add_world_eval(reg, run, we, 2));
    CHECK_OK(sl_registry_add_ab(reg, run, "baseline_vs_augmented",
                                "{\"arms\":[\"baseline\",\"augmented\"],\"p\":0.01}",
                                "augmented_better", NULL));
    CHECK_OK(sl_registry_add_ladder_level(reg, run, 1, 1, 1, "pass", "{\"delta\":0.1}"));
    CHECK_OK(sl_registry_add_ladder_level(reg, run, 2, 5, 0, "fail", NULL));
    CHECK_OK(sl_registry_add_estimate(reg, run, "mpl", "augmented", 1.9, 1.7, 2.1, 10));
    double tr[4] = {0.1, 0.2, 0.9, 0.95};
    CHECK_OK(sl_registry_add_samples(reg, run, "trust", "real", tr, 4));
    CHECK_OK(sl_registry_add_result(reg, run, "trust_report", "{\"auc\":0.7}"));
    CHECK_OK(sl_job_begin(reg, run, "epochs", 10, &job));
    CHECK_OK(sl_job_progress(reg, job, 3, "epoch 3"));
    CHECK_OK(sl_registry_add_privacy_spend(reg, run, "users", "laplace", 0.5, 0));
    CHECK_OK(sl_registry_add_privacy_spend(reg, 0, "users", "gaussian", 0.25, 1e-6));
    double eps = 0;
    CHECK_OK(sl_registry_privacy_spent(reg, "users", &eps));
    CHECK_CLOSE(eps, 0.75, 1e-12);
    CHECK_OK(sl_registry_add_deployment(reg, run, m1, "canary", 0.1, "first canary", NULL));
    CHECK_OK(sl_run_set_note(reg, run, "hello note"));
    CHECK_OK(sl_run_end(reg, run, SL_RUN_OK, "{\"final_loss\":0.0625}"));
    CHECK_STATUS(sl_run_end(reg, run, SL_RUN_FAILED, NULL), SL_ERR_STATE);
    CHECK_STATUS(sl_run_end(reg, 9999, SL_RUN_OK, NULL), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_run_end(reg, run2, SL_RUN_RUNNING, NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_job_progress(reg, job, 4, NULL), SL_ERR_STATE); /* ended with the run */
    CHECK_STATUS(sl_run_set_note(reg, 9999, "x"), SL_ERR_NOTFOUND);

    char *txt = NULL;
    CHECK_OK(sl_registry_export_run(reg, run, &txt));
    cJSON *j = cJSON_Parse(txt);
    CHECK(j != NULL);
    const cJSON *r = cJSON_GetObjectItem(j, "run");
    CHECK(strcmp(sl_json_str(r, "status", ""), "ok") == 0);
    CHECK(strcmp(sl_json_str(r, "command", ""), "train") == 0);
    CHECK(strcmp(sl_json_str(r, "note", ""), "hello note") == 0);
    CHECK(strstr(txt, "\"seed\":18446744073709551615") != NULL); /* exact u64 */
    CHECK_CLOSE(sl_json_num(cJSON_GetObjectItem(r, "config"), "lr", 0), 0.001, 1e-15);
    CHECK_CLOSE(sl_json_num(cJSON_GetObjectItem(r, "summary"), "final_loss", 0), 0.0625, 0);
    const cJSON *loss = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "train/loss");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(loss, "value")) == 5);
    CHECK_CLOSE(cJSON_GetArrayItem(cJSON_GetObjectItem(loss, "value"), 4)->valuedouble, 0.0625, 0);
    const cJSON *ret = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "eval/return");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ret, "value")) == 1);
    CHECK_CLOSE(cJSON_GetArrayItem(cJSON_GetObjectItem(ret, "value"), 0)->valuedouble, 4.5, 0);
    char hex[65];
    CHECK_OK(sl_sha256_file(file, hex));
    CHECK(strcmp(sl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "datasets"), 0), "sha256", ""),
                 hex) == 0);
    CHECK(strcmp(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") == 0);
    const cJSON *models = cJSON_GetObjectItem(j, "models");
    CHECK(cJSON_GetArraySize(models) == 2);
    CHECK(sl_json_int(cJSON_GetArrayItem(models, 1), "parent_id", 0) == (int)m1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(models, 1), "sha256")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "branches")) == 3);
    CHECK(sl_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "weights"), 1), "rails", 0) == 2);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "world_eval")) == 2);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ladder")) == 2);
    const cJSON *smp = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(smp, "data")) == 4);
    CHECK_CLOSE(cJSON_GetArrayItem(cJSON_GetObjectItem(smp, "data"), 3)->valuedouble, 0.95, 0);
    const cJSON *ab = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ab_experiments"), 0);
    CHECK_CLOSE(sl_json_num(cJSON_GetObjectItem(ab, "experiment"), "p", 0), 0.01, 0);
    CHECK(strcmp(sl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "jobs"), 0), "status", ""),
                 "ok") == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "privacy_ledger")) == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "deployments")) == 1);
    cJSON_Delete(j);
    char exp_path[600];
    tmp_path(exp_path, sizeof exp_path, "export.json");
    CHECK_OK(sl_write_file_atomic(exp_path, txt, strlen(txt)));
    free(txt);

    CHECK_OK(sl_registry_list_runs(reg, 0, &txt));
    j = cJSON_Parse(txt);
    CHECK(cJSON_GetArraySize(j) == 2);
    CHECK(sl_json_int(cJSON_GetArrayItem(j, 0), "id", 0) == (int)run2); /* newest first */
    cJSON_Delete(j);
    free(txt);
    int64_t last = 0;
    CHECK_OK(sl_registry_last_run(reg, &last));
    CHECK(last == run2);
    CHECK_STATUS(sl_registry_export_run(reg, 4242, &txt), SL_ERR_NOTFOUND);
    CHECK_OK(sl_run_mark_failed(reg, run2, "operator"));
    CHECK_STATUS(sl_run_mark_failed(reg, run2, "again"), SL_ERR_STATE);
    sl_registry_close(reg);
    CHECK(integrity_ok(db));
    CHECK(q_int(db, "PRAGMA foreign_key_check") == -1); /* no violating rows */

    /* independent reader: Python's sqlite3 module re-derives the export and compares */
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/reg_check.py '%s' %lld '%s'", SL_PYTHON, root(),
             db, (long long)run, exp_path);
    CHECK_MSG(system(cmd) == 0, "reg_check.py disagreed with the registry (%s)", cmd);
}

TEST(validation_writes_nothing) {
    char db[600];
    tmp_path(db, sizeof db, "valid.db");
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run;
    CHECK_STATUS(sl_run_begin(reg, "x", "{bad json", 1, &run), SL_ERR_ARG);
    CHECK_STATUS(sl_run_begin(reg, "", NULL, 1, &run), SL_ERR_ARG);
    CHECK_OK(sl_run_begin(reg, "x", NULL, 1, &run));
    double v[4] = {1, 2, NAN, 4};
    CHECK_STATUS(sl_registry_add_metrics(reg, run, "m", NULL, v, 4), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "value 2") != NULL);
    CHECK_STATUS(sl_registry_add_metric(reg, run, "m", 0, INFINITY), SL_ERR_NAN);
    CHECK_STATUS(sl_registry_add_metric(reg, 777, "m", 0, 1.0), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_registry_add_metric(reg, 0, "m", 0, 1.0), SL_ERR_ARG);
    sl_branch_row br[2] = {{1, 5, 10, 2, 0.9, 1.05, 1}, {1, 6, 10, 2, NAN, 2.1, 0}};
    CHECK_STATUS(sl_registry_add_branch_batch(reg, run, br, 2), SL_ERR_NAN);
    br[1].trust = 0.5;
    br[1].passed = 2;
    CHECK_STATUS(sl_registry_add_branch_batch(reg, run, br, 2), SL_ERR_ARG);
    CHECK_STATUS(sl_registry_add_model(reg, run, "w", "p", 12345, NULL, NULL), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_registry_add_model(reg, run, "w", "p", 0, "[1,", NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_registry_add_dataset(reg, run, "/no/such/file", "real", 1, 1, NULL), SL_ERR_IO);
    CHECK_STATUS(sl_registry_add_estimate(reg, run, "m", NULL, 1, 2, 0, 1), SL_ERR_ARG);
    CHECK_STATUS(sl_registry_add_ab(reg, run, "n", "{}", "", NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_registry_add_deployment(reg, run, 1, "canary", 0.5, NULL, NULL), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_registry_add_deployment(reg, run, 1, "canary", 1.5, NULL, NULL), SL_ERR_ARG);
    CHECK_STATUS(sl_registry_add_privacy_spend(reg, run, "k", "laplace", -1, 0), SL_ERR_ARG);
    CHECK_STATUS(sl_job_progress(reg, 555, 1, NULL), SL_ERR_STATE);
    /* world eval: non-finite = not measured = NULL, the rest stored */
    sl_registry_world_row wn = {3, 0.1, 1.2, 1.0, NAN, 0.6};
    CHECK_OK(sl_registry_add_world_eval(reg, run, &wn, 1));
    sl_registry_close(reg);
    CHECK(q_int(db, "SELECT trust IS NULL AND std_ratio = 1.2 FROM world_eval WHERE horizon=3") == 1);
    CHECK(q_int(db, "SELECT count(*) FROM metrics") == 0);
    CHECK(q_int(db, "SELECT count(*) FROM branches") == 0);
    CHECK(q_int(db, "SELECT count(*) FROM models") == 0);
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 1);
}

/* Child body for the crash test: begin a run, then write metric batches of 50 and branch
 * batches of 10 forever. Never returns. */
static void crash_child(const char *db, int fd) {
    sl_registry *reg;
    if (sl_registry_open(db, &reg) != SL_OK) _exit(3);
    int64_t run, job;
    if (sl_run_begin(reg, "crashy", "{}", 5, &run) != SL_OK) _exit(4);
    if (sl_job_begin(reg, run, "loop", 1000000, &job) != SL_OK) _exit(5);
    if (write(fd, &run, sizeof run) != (ssize_t)sizeof run) _exit(6);
    close(fd);
    double v[50];
    int64_t steps[50];
    sl_branch_row br[10];
    for (int i = 0; i < 10; i++) br[i] = (sl_branch_row){i, i, 5, 0, 0.5, 1.0, 1};
    for (int64_t k = 0;; k++) {
        for (int i = 0; i < 50; i++) {
            steps[i] = k * 50 + i;
            v[i] = (double)steps[i];
        }
        if (sl_registry_add_metrics(reg, run, "loop/x", steps, v, 50) != SL_OK) _exit(7);
        if (sl_registry_add_branch_batch(reg, run, br, 10) != SL_OK) _exit(8);
        sl_job_progress(reg, job, k, NULL);
    }
}

TEST(sigkill_mid_recording) {
    char db[600];
    tmp_path(db, sizeof db, "crash.db");
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        crash_child(db, fds[1]);
    }
    close(fds[1]);
    int64_t run = 0;
    CHECK(read(fds[0], &run, sizeof run) == (ssize_t)sizeof run);
    close(fds[0]);
    /* let it write for a while: until at least 20 batches are in */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id=%lld", (long long)run);
    for (int i = 0; i < 2000 && q_int(db, sql) < 1000; i++) usleep(5000);
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(integrity_ok(db));
    long long nm = q_int(db, sql);
    CHECK_MSG(nm >= 1000, "child wrote only %lld metrics", nm);
    CHECK_MSG(nm % 50 == 0, "half-written metric batch: %lld rows", nm);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM branches WHERE run_id=%lld", (long long)run);
    long long nb = q_int(db, sql);
    CHECK_MSG(nb % 10 == 0, "half-written branch batch: %lld rows", nb);
    /* before reopening through the library the run still says running */
    snprintf(sql, sizeof sql, "SELECT status='running' FROM runs WHERE id=%lld", (long long)run);
    CHECK(q_int(db, sql) == 1);
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    sl_registry_close(reg);
    snprintf(sql, sizeof sql, "SELECT status='failed' AND ended IS NOT NULL FROM runs WHERE id=%lld",
             (long long)run);
    CHECK(q_int(db, sql) == 1);
    CHECK(q_int(db, "SELECT count(*) FROM jobs WHERE status='failed'") == 1);
    CHECK(integrity_ok(db));
}

TEST(live_owner_not_reaped) {
    char db[600];
    tmp_path(db, sizeof db, "live.db");
    int fds[2], go[2];
    CHECK(pipe(fds) == 0 && pipe(go) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        close(go[1]);
        sl_registry *reg;
        int64_t run = 0;
        if (sl_registry_open(db, &reg) != SL_OK || sl_run_begin(reg, "live", NULL, 1, &run) != SL_OK)
            _exit(3);
        if (write(fds[1], &run, sizeof run) != (ssize_t)sizeof run) _exit(4);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(5); /* wait until the parent has checked */
        sl_run_end(reg, run, SL_RUN_OK, NULL);
        sl_registry_close(reg);
        _exit(0);
    }
    close(fds[1]);
    close(go[0]);
    int64_t run = 0;
    CHECK(read(fds[0], &run, sizeof run) == (ssize_t)sizeof run);
    close(fds[0]);
    /* a run of another host, left running: must not be touched either */
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t other;
    CHECK_OK(sl_run_begin(reg, "elsewhere", NULL, 1, &other));
    sl_registry_close(reg);
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_busy_timeout(h, 10000);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE runs SET host='another-machine', pid=1 WHERE id=%lld",
             (long long)other);
    CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    CHECK_OK(sl_registry_open(db, &reg)); /* reaps nothing: child alive, other host foreign */
    sl_registry_close(reg);
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id=%lld", (long long)run);
    char status[32];
    q_text(db, sql, status, sizeof status);
    CHECK(strcmp(status, "running") == 0);
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id=%lld", (long long)other);
    q_text(db, sql, status, sizeof status);
    CHECK(strcmp(status, "running") == 0);
    CHECK(write(go[1], "x", 1) == 1);
    close(go[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id=%lld", (long long)run);
    q_text(db, sql, status, sizeof status);
    CHECK(strcmp(status, "ok") == 0);
    /* this process's own running run survives a reopen too */
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t mine;
    CHECK_OK(sl_run_begin(reg, "mine", NULL, 1, &mine));
    sl_registry *reg2;
    CHECK_OK(sl_registry_open(db, &reg2));
    sl_registry_close(reg2);
    CHECK_OK(sl_run_end(reg, mine, SL_RUN_OK, NULL));
    sl_registry_close(reg);
}

TEST(concurrent_writers) {
    char db[600];
    tmp_path(db, sizeof db, "conc.db");
    sl_registry *reg;
    CHECK_OK(sl_registry_open(db, &reg));
    int64_t run;
    CHECK_OK(sl_run_begin(reg, "conc", NULL, 1, &run));
    sl_registry_close(reg);
    fflush(stdout);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            sl_registry *r;
            if (sl_registry_open(db, &r) != SL_OK) _exit(3);
            char name[16];
            snprintf(name, sizeof name, "w%d", k);
            for (int i = 0; i < 150; i++)
                if (sl_registry_add_metric(r, run, name, i, i * 0.5) != SL_OK) _exit(4);
            sl_registry_close(r);
            _exit(0);
        }
    }
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(ok);
    CHECK(q_int(db, "SELECT count(*) FROM metrics") == 450);
    CHECK(integrity_ok(db));
}

int main(void) {
    RUN(open_creates_and_migrates);
    RUN(open_rejects_bad_files);
    RUN(resolve_path_and_none);
    RUN(run_lifecycle_and_export);
    RUN(validation_writes_nothing);
    RUN(sigkill_mid_recording);
    RUN(live_owner_not_reaped);
    RUN(concurrent_writers);
    return harness_done();
}
