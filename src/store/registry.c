/* SPDX-License-Identifier: Apache-2.0 */
/* registry.c - opening the registry, run liveness, and every recording call.
 *
 * Invariant: each public write is exactly one BEGIN IMMEDIATE ... COMMIT transaction (or a
 * single autocommit statement), validated before the transaction starts, so a process killed
 * at any instant leaves every batch fully written or absent. A run row carries its owner
 * (host, boot id, pid, pid start time) so that a later open can tell a dead owner from a live
 * one and mark only orphaned runs failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "synthloop/sl_json.h"

/* --- small helpers ------------------------------------------------------ */

const char *sl_registry_path(const sl_registry *reg) { return reg ? reg->path : ""; }

sl_status sl_store_db_error(sqlite3 *db, const char *what) {
    const char *file = db ? sqlite3_db_filename(db, "main") : NULL;
    int ext = db ? sqlite3_extended_errcode(db) : 0;
    if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: %s: referenced run/model does not exist",
                            file && *file ? file : "registry", what);
    if ((ext & 0xff) == SQLITE_BUSY || (ext & 0xff) == SQLITE_LOCKED)
        return sl_set_error(SL_ERR_BUSY, "%s: %s: registry locked by another process (busy timeout expired)",
                            file && *file ? file : "registry", what);
    return sl_set_error(SL_ERR_DB, "%s: %s: %s", file && *file ? file : "registry", what,
                        db ? sqlite3_errmsg(db) : "no connection");
}

static void now_iso(char buf[32]) { sl_utc_iso8601(buf, 32); }

static sl_status exec_sql(sl_registry *reg, const char *sql, const char *what) {
    if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sl_store_db_error(reg->db, what);
    return SL_OK;
}

static sl_status tx_begin(sl_registry *reg, const char *what) {
    return exec_sql(reg, "BEGIN IMMEDIATE", what);
}

/* Commit if s == SL_OK, else roll back. Returns the first failure. */
static sl_status tx_end(sl_registry *reg, sl_status s, const char *what) {
    if (s == SL_OK) {
        s = exec_sql(reg, "COMMIT", what);
        if (s == SL_OK) return SL_OK;
    }
    /* keep the original message; rollback failure cannot add information */
    sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static sl_status prepare(sl_registry *reg, const char *sql, sqlite3_stmt **st, const char *what) {
    if (sqlite3_prepare_v2(reg->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sl_store_db_error(reg->db, what);
    }
    return SL_OK;
}

/* Step a prepared non-query statement to completion; finalizes it. */
static sl_status step_done(sl_registry *reg, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sl_status s = SL_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) s = sl_store_db_error(reg->db, what);
    sqlite3_finalize(st);
    return s;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Text stored in the registry must be well-formed UTF-8: it is emitted as JSON by the API,
 * `runs --json` and `export`. */
static sl_status check_utf8(const char *s, const char *what) {
    if (s && !sl_utf8_valid(s, strlen(s)))
        return sl_set_error(SL_ERR_ARG, "registry: %s is not valid UTF-8", what);
    return SL_OK;
}

static sl_status check_json(const char *json, const char *what) {
    if (!json) return SL_OK;
    SL_TRY(check_utf8(json, what));
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        const char *e = cJSON_GetErrorPtr();
        size_t off = e && e >= json ? (size_t)(e - json) : 0;
        return sl_set_error(SL_ERR_ARG, "registry: %s is not valid JSON (near byte %zu)", what,
                            off);
    }
    cJSON_Delete(j);
    return SL_OK;
}

static sl_status check_name(const char *s, const char *what) {
    if (!s || !*s) return sl_set_error(SL_ERR_ARG, "registry: %s must be a non-empty string", what);
    return check_utf8(s, what);
}

/* File paths may hold any bytes the file system allows (readers sanitise them for JSON). */
static sl_status check_path(const char *s, const char *what) {
    if (!s || !*s) return sl_set_error(SL_ERR_ARG, "registry: %s must be a non-empty string", what);
    return SL_OK;
}

static sl_status check_finite(double x, const char *what) {
    if (!isfinite(x)) return sl_set_error(SL_ERR_NAN, "registry: %s is not finite", what);
    return SL_OK;
}

static sl_status check_run(int64_t run_id) {
    if (run_id <= 0) return sl_set_error(SL_ERR_ARG, "registry: invalid run id %lld", (long long)run_id);
    return SL_OK;
}

/* --- process identity --------------------------------------------------- */

void sl_store_read_boot_id(char *buf, size_t n) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    if (fgets(buf, (int)n, f)) buf[strcspn(buf, "\r\n")] = '\0';
    fclose(f);
}

void sl_store_read_host(char *buf, size_t n) {
    if (gethostname(buf, n) != 0) snprintf(buf, n, "unknown");
    buf[n - 1] = '\0';
}

/* Start time (clock ticks since boot, field 22 of /proc/PID/stat) of a process; -1 if the
 * process does not exist or is a zombie (i.e. has exited). */
long long sl_store_proc_start_time(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!p || p[1] != ' ') return -1;
    p += 2;
    char state = *p;
    if (state == 'Z' || state == 'X' || state == 'x') return -1;
    /* p is at field 3; advance to field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
    }
    return strtoll(p, NULL, 10);
}

/* Mark runs (and their jobs) left 'running' by dead processes of this host/boot as failed. */
static sl_status reap_orphans(sl_registry *reg) {
    char host[256], boot[64];
    sl_store_read_host(host, sizeof host);
    sl_store_read_boot_id(boot, sizeof boot);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "SELECT id, host, boot_id, pid, pid_start FROM runs WHERE status='running'",
                   &st, "list running runs"));
    int64_t dead[256];
    int ndead = 0;
    while (sqlite3_step(st) == SQLITE_ROW && ndead < 256) {
        const char *h = (const char *)sqlite3_column_text(st, 1);
        const char *b = (const char *)sqlite3_column_text(st, 2);
        long pid = (long)sqlite3_column_int64(st, 3);
        long long start = sqlite3_column_int64(st, 4);
        if (!h || strcmp(h, host) != 0) continue; /* another machine's run: not ours to judge */
        int is_dead;
        if (!b || strcmp(b, boot) != 0)
            is_dead = 1; /* this machine rebooted since the run began */
        else
            is_dead = sl_store_proc_start_time(pid) != start; /* gone, zombie, or pid reused */
        if (is_dead) dead[ndead++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (!ndead) return SL_OK;
    SL_TRY(tx_begin(reg, "reap orphaned runs"));
    char ts[32];
    now_iso(ts);
    sl_status s = SL_OK;
    for (int i = 0; i < ndead && s == SL_OK; i++) {
        int64_t b[1] = {dead[i]};
        s = prepare(reg,
                    "UPDATE runs SET status='failed', ended=?2, "
                    " summary=json_object('error','owner process died while running'),"
                    " rev=(SELECT ifnull(max(rev),0)+1 FROM runs) "
                    "WHERE id=?1 AND status='running'",
                    &st, "mark orphaned run failed");
        if (s != SL_OK) break;
        sqlite3_bind_int64(st, 1, b[0]);
        sqlite3_bind_text(st, 2, ts, -1, SQLITE_TRANSIENT);
        s = step_done(reg, st, "mark orphaned run failed");
        if (s != SL_OK) break;
        s = prepare(reg,
                    "UPDATE jobs SET status='failed', ended=?2, updated=?2,"
                    " rev=(SELECT ifnull(max(rev),0)+1 FROM jobs) "
                    "WHERE run_id=?1 AND status='running'",
                    &st, "mark orphaned jobs failed");
        if (s != SL_OK) break;
        sqlite3_bind_int64(st, 1, b[0]);
        sqlite3_bind_text(st, 2, ts, -1, SQLITE_TRANSIENT);
        s = step_done(reg, st, "mark orphaned jobs failed");
    }
    return tx_end(reg, s, "reap orphaned runs");
}

/* --- open / close ------------------------------------------------------- */

sl_status sl_registry_open(const char *path, sl_registry **out) {
    *out = NULL;
    if (!path || !*path) return sl_set_error(SL_ERR_ARG, "registry: empty database path");
    sl_registry *reg = calloc(1, sizeof *reg);
    if (!reg || !(reg->path = strdup(path))) {
        free(reg);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    int rc = sqlite3_open_v2(path, &reg->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    sl_status s = SL_OK;
    if (rc != SQLITE_OK) {
        s = sl_set_error(SL_ERR_DB, "%s: cannot open registry: %s", path,
                         reg->db ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(reg->db, SL_REGISTRY_BUSY_MS);
    sqlite3_extended_result_codes(reg->db, 1);
    /* journal_mode returns a row; exec ignores it. NOTADB surfaces here. */
    if (sqlite3_exec(reg->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        s = sl_set_error(SL_ERR_DB, "%s: not a registry database: %s", path,
                         sqlite3_errmsg(reg->db));
        goto fail;
    }
    if (sqlite3_exec(reg->db,
                     "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        s = sl_set_error(SL_ERR_DB, "%s: cannot configure: %s", path, sqlite3_errmsg(reg->db));
        goto fail;
    }
    if ((s = sl_store_migrate(reg->db, path)) != SL_OK) goto fail;
    if ((s = reap_orphans(reg)) != SL_OK) goto fail;
    *out = reg;
    return SL_OK;
fail:
    sl_registry_close(reg);
    return s;
}

const char *sl_registry_resolve_path(const char *db_opt) {
    if (db_opt && *db_opt) return db_opt;
    const char *e = getenv(SL_REGISTRY_ENV);
    if (e && *e) return e;
    return SL_REGISTRY_DEFAULT_PATH;
}

sl_status sl_registry_open_default(const char *db_opt, sl_registry **out) {
    const char *p = sl_registry_resolve_path(db_opt);
    if (strcmp(p, "none") == 0) {
        *out = NULL;
        return SL_OK;
    }
    return sl_registry_open(p, out);
}

void sl_registry_close(sl_registry *reg) {
    if (!reg) return;
    if (reg->db) sqlite3_close_v2(reg->db);
    free(reg->path);
    free(reg);
}

/* --- runs --------------------------------------------------------------- */

static const char *const run_status_names[SL_RUN_STATUS_COUNT] = {"running", "ok", "failed",
                                                                 "aborted"};
_Static_assert(sizeof run_status_names / sizeof run_status_names[0] == SL_RUN_STATUS_COUNT,
               "a name per run status");

const char *sl_run_status_name(sl_run_status s) {
    return (unsigned)s < SL_RUN_STATUS_COUNT ? run_status_names[s] : "unknown";
}

sl_status sl_run_status_parse(const char *name, sl_run_status *out) {
    for (int i = 0; i < SL_RUN_STATUS_COUNT; i++)
        if (name && strcmp(name, run_status_names[i]) == 0) {
            *out = (sl_run_status)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown run status '%s'", name ? name : "");
}

sl_status sl_run_begin(sl_registry *reg, const char *command, const char *config_json,
                       uint64_t seed, int64_t *run_id) {
    if (run_id) *run_id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_name(command, "command"));
    SL_TRY(check_json(config_json, "config"));
    char host[256], boot[64], ts[32];
    sl_store_read_host(host, sizeof host);
    sl_store_read_boot_id(boot, sizeof boot);
    now_iso(ts);
    long long start = sl_store_proc_start_time((long)getpid());
    sqlite3_stmt *st;
    SL_TRY(tx_begin(reg, "begin run"));
    sl_status s = prepare(reg,
                          "INSERT INTO runs(command, status, seed, config, version, git, started,"
                          " host, boot_id, pid, pid_start, rev) VALUES (?1,'running',?2,?3,?4,?5,"
                          "?6,?7,?8,?9,?10,(SELECT ifnull(max(rev),0)+1 FROM runs))",
                          &st, "begin run");
    if (s == SL_OK) {
        sqlite3_bind_text(st, 1, command, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)seed);
        bind_text(st, 3, config_json);
        bind_text(st, 4, sl_version());
        bind_text(st, 5, sl_git_describe());
        bind_text(st, 6, ts);
        bind_text(st, 7, host);
        bind_text(st, 8, boot);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)getpid());
        sqlite3_bind_int64(st, 10, start);
        s = step_done(reg, st, "begin run");
    }
    int64_t id = sqlite3_last_insert_rowid(reg->db);
    s = tx_end(reg, s, "begin run");
    if (s == SL_OK && run_id) *run_id = id;
    return s;
}

/* Update a running run to a final status; SL_ERR_NOTFOUND / SL_ERR_STATE as documented. */
static sl_status finish_run(sl_registry *reg, int64_t run_id, sl_run_status status,
                            const char *summary_json, int force) {
    SL_TRY(check_run(run_id));
    if (status <= SL_RUN_RUNNING || status >= SL_RUN_STATUS_COUNT)
        return sl_set_error(SL_ERR_ARG, "registry: run %lld: final status must not be '%s'",
                            (long long)run_id, sl_run_status_name(status));
    SL_TRY(check_json(summary_json, "summary"));
    char ts[32];
    now_iso(ts);
    SL_TRY(tx_begin(reg, "end run"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg, "SELECT status FROM runs WHERE id=?1", &st, "end run");
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            s = sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist", reg->path,
                             (long long)run_id);
        else if (rc != SQLITE_ROW)
            s = sl_store_db_error(reg->db, "end run");
        else if (strcmp((const char *)sqlite3_column_text(st, 0), "running") != 0)
            s = sl_set_error(SL_ERR_STATE, "%s: run %lld already ended (%s)", reg->path,
                             (long long)run_id, (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (s == SL_OK)
        s = prepare(reg,
                    "UPDATE runs SET status=?2, ended=?3, summary=?4,"
                    " rev=(SELECT ifnull(max(rev),0)+1 FROM runs) WHERE id=?1",
                    &st, "end run");
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, sl_run_status_name(status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ts, -1, SQLITE_TRANSIENT);
        bind_text(st, 4, summary_json);
        s = step_done(reg, st, "end run");
    }
    /* jobs still open in this run end with it */
    if (s == SL_OK)
        s = prepare(reg,
                    "UPDATE jobs SET status=?2, ended=?3, updated=?3,"
                    " rev=(SELECT ifnull(max(rev),0)+1 FROM jobs)"
                    " WHERE run_id=?1 AND status='running'",
                    &st, "end jobs of run");
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, force || status != SL_RUN_OK ? "failed" : "ok", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ts, -1, SQLITE_TRANSIENT);
        s = step_done(reg, st, "end jobs of run");
    }
    return tx_end(reg, s, "end run");
}

sl_status sl_run_end(sl_registry *reg, int64_t run_id, sl_run_status status,
                     const char *summary_json) {
    if (!reg) return SL_OK;
    return finish_run(reg, run_id, status, summary_json, 0);
}

sl_status sl_run_mark_failed(sl_registry *reg, int64_t run_id, const char *reason) {
    if (!reg) return SL_OK;
    cJSON *j = cJSON_CreateObject();
    if (!j) return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    cJSON_AddStringToObject(j, "error", reason && *reason ? reason : "marked failed by operator");
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt) return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    sl_status s = finish_run(reg, run_id, SL_RUN_FAILED, txt, 1);
    free(txt);
    return s;
}

sl_status sl_run_set_note(sl_registry *reg, int64_t run_id, const char *note) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_utf8(note, "note"));
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "UPDATE runs SET note=?2, rev=(SELECT ifnull(max(rev),0)+1 FROM runs)"
                   " WHERE id=?1",
                   &st, "set note"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, note);
    SL_TRY(step_done(reg, st, "set note"));
    if (sqlite3_changes(reg->db) == 0)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist", reg->path,
                            (long long)run_id);
    return SL_OK;
}

/* --- metrics ------------------------------------------------------------ */

sl_status sl_registry_add_metrics(sl_registry *reg, int64_t run_id, const char *series,
                                  const int64_t *steps, const double *values, size_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(series, "metric series name"));
    if (n && !values) return sl_set_error(SL_ERR_ARG, "registry: metric values are NULL");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return sl_set_error(SL_ERR_NAN, "registry: metric '%s' value %zu (step %lld) is not finite",
                                series, i, (long long)(steps ? steps[i] : (int64_t)i));
    SL_TRY(tx_begin(reg, "add metrics"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg,
                          "INSERT OR REPLACE INTO metrics(run_id, series, step, value)"
                          " VALUES (?1,?2,?3,?4)",
                          &st, "add metrics");
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, series, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, steps ? steps[i] : (int64_t)i);
        sqlite3_bind_double(st, 4, values[i]);
        if (sqlite3_step(st) != SQLITE_DONE) s = sl_store_db_error(reg->db, "add metrics");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return tx_end(reg, s, "add metrics");
}

sl_status sl_registry_add_metric(sl_registry *reg, int64_t run_id, const char *series,
                                 int64_t step, double value) {
    return sl_registry_add_metrics(reg, run_id, series, &step, &value, 1);
}

/* --- files ---------------------------------------------------------------- */

static long long file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

sl_status sl_registry_add_dataset(sl_registry *reg, int64_t run_id, const char *path,
                                  const char *kind, int64_t n_rows, int64_t n_episodes,
                                  int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_path(path, "dataset path"));
    SL_TRY(check_name(kind, "dataset kind"));
    char hex[65];
    SL_TRY(sl_sha256_file(path, hex));
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO datasets(run_id, path, kind, sha256, bytes, n_rows, n_episodes,"
                   " created) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                   &st, "add dataset"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, path);
    bind_text(st, 3, kind);
    bind_text(st, 4, hex);
    sqlite3_bind_int64(st, 5, file_bytes(path));
    sqlite3_bind_int64(st, 6, n_rows);
    sqlite3_bind_int64(st, 7, n_episodes);
    bind_text(st, 8, ts);
    SL_TRY(step_done(reg, st, "add dataset"));
    if (id) *id = sqlite3_last_insert_rowid(reg->db);
    return SL_OK;
}

sl_status sl_registry_add_model(sl_registry *reg, int64_t run_id, const char *kind,
                                const char *checkpoint_path, int64_t parent_id,
                                const char *metrics_json, int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(kind, "model kind"));
    SL_TRY(check_path(checkpoint_path, "checkpoint path"));
    SL_TRY(check_json(metrics_json, "model metrics"));
    if (parent_id < 0) return sl_set_error(SL_ERR_ARG, "registry: negative parent model id");
    char hex[65];
    int have_hash = file_bytes(checkpoint_path) >= 0 && sl_sha256_file(checkpoint_path, hex) == SL_OK;
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO models(run_id, kind, path, sha256, parent_id, metrics, created)"
                   " VALUES (?1,?2,?3,?4,?5,?6,?7)",
                   &st, "add model"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, kind);
    bind_text(st, 3, checkpoint_path);
    bind_text(st, 4, have_hash ? hex : NULL);
    if (parent_id > 0)
        sqlite3_bind_int64(st, 5, parent_id);
    else
        sqlite3_bind_null(st, 5);
    bind_text(st, 6, metrics_json);
    bind_text(st, 7, ts);
    SL_TRY(step_done(reg, st, "add model"));
    if (id) *id = sqlite3_last_insert_rowid(reg->db);
    return SL_OK;
}

sl_status sl_registry_add_artifact(sl_registry *reg, int64_t run_id, const char *kind,
                                   const char *path) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(kind, "artifact kind"));
    SL_TRY(check_path(path, "artifact path"));
    char hex[65];
    long long bytes = file_bytes(path);
    int have_hash = bytes >= 0 && sl_sha256_file(path, hex) == SL_OK;
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO artifacts(run_id, kind, path, sha256, bytes, created)"
                   " VALUES (?1,?2,?3,?4,?5,?6)",
                   &st, "add artifact"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, kind);
    bind_text(st, 3, path);
    bind_text(st, 4, have_hash ? hex : NULL);
    if (bytes >= 0)
        sqlite3_bind_int64(st, 5, bytes);
    else
        sqlite3_bind_null(st, 5);
    bind_text(st, 6, ts);
    return step_done(reg, st, "add artifact");
}

/* --- branches, weights, world eval --------------------------------------- */

sl_status sl_registry_add_branch_batch(sl_registry *reg, int64_t run_id,
                                       const sl_branch_row *rows, size_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    if (n && !rows) return sl_set_error(SL_ERR_ARG, "registry: branch rows are NULL");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(rows[i].trust) || !isfinite(rows[i].std_ratio))
            return sl_set_error(SL_ERR_NAN, "registry: branch row %zu: trust/std_ratio not finite", i);
        if (rows[i].passed != 0 && rows[i].passed != 1)
            return sl_set_error(SL_ERR_ARG, "registry: branch row %zu: passed must be 0 or 1", i);
    }
    SL_TRY(tx_begin(reg, "add branches"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg,
                          "INSERT INTO branches(run_id, episode, t, horizon, brick, trust,"
                          " std_ratio, passed) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                          &st, "add branches");
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        const sl_branch_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, r->episode);
        sqlite3_bind_int64(st, 3, r->t);
        sqlite3_bind_int(st, 4, r->horizon);
        sqlite3_bind_int(st, 5, r->brick);
        sqlite3_bind_double(st, 6, r->trust);
        sqlite3_bind_double(st, 7, r->std_ratio);
        sqlite3_bind_int(st, 8, r->passed);
        if (sqlite3_step(st) != SQLITE_DONE) s = sl_store_db_error(reg->db, "add branches");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return tx_end(reg, s, "add branches");
}

sl_status sl_registry_add_weight_log(sl_registry *reg, int64_t run_id,
                                     const sl_weight_row *rows, size_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    if (n && !rows) return sl_set_error(SL_ERR_ARG, "registry: weight rows are NULL");
    for (size_t i = 0; i < n; i++) {
        const sl_weight_row *r = &rows[i];
        if (!isfinite(r->trust) || !isfinite(r->econ) || !isfinite(r->lambda) ||
            !isfinite(r->w_final))
            return sl_set_error(SL_ERR_NAN, "registry: weight row %zu (step %lld) not finite", i,
                                (long long)r->step);
    }
    SL_TRY(tx_begin(reg, "add weights"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg,
                          "INSERT INTO weights(run_id, step, trust, econ, lambda, w_final, rails)"
                          " VALUES (?1,?2,?3,?4,?5,?6,?7)",
                          &st, "add weights");
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        const sl_weight_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, r->step);
        sqlite3_bind_double(st, 3, r->trust);
        sqlite3_bind_double(st, 4, r->econ);
        sqlite3_bind_double(st, 5, r->lambda);
        sqlite3_bind_double(st, 6, r->w_final);
        sqlite3_bind_int64(st, 7, r->rails);
        if (sqlite3_step(st) != SQLITE_DONE) s = sl_store_db_error(reg->db, "add weights");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return tx_end(reg, s, "add weights");
}

static void bind_measure(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i); /* not measured */
}

sl_status sl_registry_add_world_eval(sl_registry *reg, int64_t run_id,
                                     const sl_registry_world_row *rows, size_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    if (n && !rows) return sl_set_error(SL_ERR_ARG, "registry: world eval rows are NULL");
    SL_TRY(tx_begin(reg, "add world eval"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg,
                          "INSERT OR REPLACE INTO world_eval(run_id, horizon, mse, std_ratio,"
                          " var_growth, trust, auc) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                          &st, "add world eval");
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        const sl_registry_world_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int(st, 2, r->horizon);
        bind_measure(st, 3, r->mse);
        bind_measure(st, 4, r->std_ratio);
        bind_measure(st, 5, r->var_growth);
        bind_measure(st, 6, r->trust);
        bind_measure(st, 7, r->auc);
        if (sqlite3_step(st) != SQLITE_DONE) s = sl_store_db_error(reg->db, "add world eval");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return tx_end(reg, s, "add world eval");
}

/* --- evaluation results ----------------------------------------------------- */

sl_status sl_registry_add_ab(sl_registry *reg, int64_t run_id, const char *name,
                             const char *experiment_json, const char *verdict, int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(name, "A/B name"));
    SL_TRY(check_name(verdict, "A/B verdict"));
    SL_TRY(check_name(experiment_json, "A/B experiment JSON"));
    SL_TRY(check_json(experiment_json, "A/B experiment"));
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO ab_experiments(run_id, name, experiment, verdict, created)"
                   " VALUES (?1,?2,?3,?4,?5)",
                   &st, "add A/B"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, name);
    bind_text(st, 3, experiment_json);
    bind_text(st, 4, verdict);
    bind_text(st, 5, ts);
    SL_TRY(step_done(reg, st, "add A/B"));
    if (id) *id = sqlite3_last_insert_rowid(reg->db);
    return SL_OK;
}

sl_status sl_registry_add_ladder_level(sl_registry *reg, int64_t run_id, int level,
                                       int horizon, int passed, const char *verdict,
                                       const char *detail_json) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    if (level < 1 || horizon < 0 || (passed != 0 && passed != 1))
        return sl_set_error(SL_ERR_ARG, "registry: ladder level %d horizon %d passed %d invalid",
                            level, horizon, passed);
    SL_TRY(check_json(detail_json, "ladder detail"));
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT OR REPLACE INTO ladder_levels(run_id, level, horizon, passed, verdict,"
                   " detail, created) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                   &st, "add ladder level"));
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, level);
    sqlite3_bind_int(st, 3, horizon);
    sqlite3_bind_int(st, 4, passed);
    bind_text(st, 5, verdict);
    bind_text(st, 6, detail_json);
    bind_text(st, 7, ts);
    return step_done(reg, st, "add ladder level");
}

sl_status sl_registry_add_estimate(sl_registry *reg, int64_t run_id, const char *name,
                                   const char *arm, double value, double ci_lo, double ci_hi,
                                   int64_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(name, "estimate name"));
    SL_TRY(check_finite(value, "estimate value"));
    SL_TRY(check_finite(ci_lo, "estimate ci_lo"));
    SL_TRY(check_finite(ci_hi, "estimate ci_hi"));
    if (ci_lo > ci_hi)
        return sl_set_error(SL_ERR_ARG, "registry: estimate '%s': ci_lo > ci_hi", name);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO estimates(run_id, name, arm, value, ci_lo, ci_hi, n)"
                   " VALUES (?1,?2,?3,?4,?5,?6,?7)",
                   &st, "add estimate"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, name);
    bind_text(st, 3, arm);
    sqlite3_bind_double(st, 4, value);
    sqlite3_bind_double(st, 5, ci_lo);
    sqlite3_bind_double(st, 6, ci_hi);
    sqlite3_bind_int64(st, 7, n);
    return step_done(reg, st, "add estimate");
}

sl_status sl_registry_add_samples(sl_registry *reg, int64_t run_id, const char *name,
                                  const char *label, const double *values, size_t n) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(name, "sample set name"));
    SL_TRY(check_name(label, "sample set label"));
    if (n > 10000000)
        return sl_set_error(SL_ERR_RANGE, "registry: sample set '%s' too large (%zu)", name, n);
    if (n && !values) return sl_set_error(SL_ERR_ARG, "registry: sample values are NULL");
    if (!sl_all_finite_f64(values, n))
        return sl_set_error(SL_ERR_NAN, "registry: sample set '%s/%s' has non-finite values", name,
                            label);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO samples(run_id, name, label, n, data) VALUES (?1,?2,?3,?4,?5)",
                   &st, "add samples"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, name);
    bind_text(st, 3, label);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    /* Host byte order doubles; the reader runs on the same kind of machine (x86-64 LE). */
    sqlite3_bind_blob64(st, 5, n ? (const void *)values : (const void *)"", n * sizeof(double),
                        SQLITE_TRANSIENT);
    return step_done(reg, st, "add samples");
}

sl_status sl_registry_add_result(sl_registry *reg, int64_t run_id, const char *kind,
                                 const char *json) {
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(kind, "result kind"));
    SL_TRY(check_name(json, "result JSON"));
    SL_TRY(check_json(json, "result"));
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg, "INSERT INTO results(run_id, kind, json, created) VALUES (?1,?2,?3,?4)",
                   &st, "add result"));
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, kind);
    bind_text(st, 3, json);
    bind_text(st, 4, ts);
    return step_done(reg, st, "add result");
}

/* --- jobs ------------------------------------------------------------------- */

sl_status sl_job_begin(sl_registry *reg, int64_t run_id, const char *kind, int64_t total,
                       int64_t *job_id) {
    if (job_id) *job_id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_run(run_id));
    SL_TRY(check_name(kind, "job kind"));
    if (total < 0) return sl_set_error(SL_ERR_ARG, "registry: job total must be >= 0");
    char ts[32];
    now_iso(ts);
    SL_TRY(tx_begin(reg, "begin job"));
    sqlite3_stmt *st;
    sl_status s = prepare(reg,
                          "INSERT INTO jobs(run_id, kind, total, started, updated, rev)"
                          " VALUES (?1,?2,?3,?4,?4,(SELECT ifnull(max(rev),0)+1 FROM jobs))",
                          &st, "begin job");
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        bind_text(st, 2, kind);
        sqlite3_bind_int64(st, 3, total);
        bind_text(st, 4, ts);
        s = step_done(reg, st, "begin job");
    }
    int64_t id = sqlite3_last_insert_rowid(reg->db);
    s = tx_end(reg, s, "begin job");
    if (s == SL_OK && job_id) *job_id = id;
    return s;
}

static sl_status update_job(sl_registry *reg, int64_t job_id, int64_t done, const char *message,
                            const char *status, int final) {
    if (job_id <= 0) return sl_set_error(SL_ERR_ARG, "registry: invalid job id %lld", (long long)job_id);
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   final ? "UPDATE jobs SET status=?2, ended=?3, updated=?3, done=total,"
                           " rev=(SELECT ifnull(max(rev),0)+1 FROM jobs)"
                           " WHERE id=?1 AND status='running'"
                         : "UPDATE jobs SET done=?4, message=coalesce(?5, message), updated=?3,"
                           " rev=(SELECT ifnull(max(rev),0)+1 FROM jobs)"
                           " WHERE id=?1 AND status=?2",
                   &st, "update job"));
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ts, -1, SQLITE_TRANSIENT);
    if (!final) {
        sqlite3_bind_int64(st, 4, done);
        bind_text(st, 5, message);
    }
    SL_TRY(step_done(reg, st, "update job"));
    if (sqlite3_changes(reg->db) == 0)
        return sl_set_error(SL_ERR_STATE, "%s: job %lld does not exist or already ended",
                            reg->path, (long long)job_id);
    return SL_OK;
}

sl_status sl_job_progress(sl_registry *reg, int64_t job_id, int64_t done, const char *message) {
    if (!reg) return SL_OK;
    return update_job(reg, job_id, done, message, "running", 0);
}

sl_status sl_job_end(sl_registry *reg, int64_t job_id, sl_run_status status) {
    if (!reg) return SL_OK;
    if (status <= SL_RUN_RUNNING || status >= SL_RUN_STATUS_COUNT)
        return sl_set_error(SL_ERR_ARG, "registry: job final status must not be '%s'",
                            sl_run_status_name(status));
    return update_job(reg, job_id, 0, NULL, sl_run_status_name(status), 1);
}

/* --- privacy ledger and deployments --------------------------------------- */

sl_status sl_registry_add_privacy_spend(sl_registry *reg, int64_t run_id,
                                        const char *dataset_key, const char *mechanism,
                                        double epsilon, double delta) {
    if (!reg) return SL_OK;
    SL_TRY(check_name(dataset_key, "privacy dataset key"));
    SL_TRY(check_name(mechanism, "privacy mechanism"));
    if (!isfinite(epsilon) || !isfinite(delta) || epsilon < 0 || delta < 0)
        return sl_set_error(SL_ERR_ARG, "registry: privacy spend needs finite epsilon, delta >= 0");
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO privacy_ledger(run_id, dataset_key, mechanism, epsilon, delta,"
                   " created) VALUES (?1,?2,?3,?4,?5,?6)",
                   &st, "add privacy spend"));
    if (run_id > 0)
        sqlite3_bind_int64(st, 1, run_id);
    else
        sqlite3_bind_null(st, 1);
    bind_text(st, 2, dataset_key);
    bind_text(st, 3, mechanism);
    sqlite3_bind_double(st, 4, epsilon);
    sqlite3_bind_double(st, 5, delta);
    bind_text(st, 6, ts);
    return step_done(reg, st, "add privacy spend");
}

sl_status sl_registry_privacy_spent(sl_registry *reg, const char *dataset_key, double *eps) {
    *eps = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_name(dataset_key, "privacy dataset key"));
    sqlite3_stmt *st;
    SL_TRY(prepare(reg, "SELECT ifnull(sum(epsilon),0) FROM privacy_ledger WHERE dataset_key=?1",
                   &st, "sum privacy spend"));
    bind_text(st, 1, dataset_key);
    sl_status s = SL_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *eps = sqlite3_column_double(st, 0);
    else
        s = sl_store_db_error(reg->db, "sum privacy spend");
    sqlite3_finalize(st);
    return s;
}

sl_status sl_registry_add_deployment(sl_registry *reg, int64_t run_id, int64_t model_id,
                                     const char *strategy, double traffic, const char *reason,
                                     int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    SL_TRY(check_name(strategy, "deployment strategy"));
    if (!isfinite(traffic) || traffic < 0 || traffic > 1)
        return sl_set_error(SL_ERR_ARG, "registry: deployment traffic must be in [0, 1]");
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prepare(reg,
                   "INSERT INTO deployments(run_id, model_id, strategy, traffic, reason, created)"
                   " VALUES (?1,?2,?3,?4,?5,?6)",
                   &st, "add deployment"));
    if (run_id > 0)
        sqlite3_bind_int64(st, 1, run_id);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, model_id);
    bind_text(st, 3, strategy);
    sqlite3_bind_double(st, 4, traffic);
    bind_text(st, 5, reason);
    bind_text(st, 6, ts);
    SL_TRY(step_done(reg, st, "add deployment"));
    if (id) *id = sqlite3_last_insert_rowid(reg->db);
    return SL_OK;
}
