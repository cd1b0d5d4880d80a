/* SPDX-License-Identifier: Apache-2.0 */
/* read.c - reading the registry back as JSON documents: run export, run lists, run ids.
 *
 * Invariant: reads never write. Integers are exact in the JSON text (values beyond 2^53 are
 * emitted as raw digits), JSON_TEXT columns come back as JSON values, F64_BLOB columns as
 * number arrays, and non-finite REALs (which the writers refuse) would come back as null.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static sl_status query(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                       int single, cJSON **out) {
    *out = NULL;
    sl_rows *rows;
    SL_TRY(sl_store_rows(db, sql, binds, nbind, single, &rows));
    sl_status s;
    if (single) {
        if (!rows->nrow)
            s = sl_set_error(SL_ERR_NOTFOUND, "registry: no such row");
        else
            s = sl_store_row_object(rows, 0, out);
    } else {
        s = sl_rows_to_json(rows, out);
    }
    sl_rows_free(rows);
    return s;
}

sl_status sl_store_rows_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                             cJSON **out) {
    return query(db, sql, binds, nbind, 0, out);
}

sl_status sl_store_row_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                            cJSON **out) {
    return query(db, sql, binds, nbind, 1, out);
}

/* {"name": {"step": [...], "value": [...]}, ...} of a run (steps exact, non-finite -> null). */
static sl_status metrics_json(sl_registry *reg, int64_t run_id, cJSON **out) {
    *out = NULL;
    sl_metric_series *ms;
    size_t n;
    SL_TRY(sl_registry_metrics(reg, run_id, NULL, &ms, &n));
    cJSON *obj = cJSON_CreateObject();
    int ok = obj != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *s = cJSON_AddObjectToObject(obj, ms[i].name);
        cJSON *steps = s ? cJSON_AddArrayToObject(s, "step") : NULL;
        cJSON *vals = s ? cJSON_AddArrayToObject(s, "value") : NULL;
        ok = steps && vals;
        for (size_t k = 0; ok && k < ms[i].n; k++) {
            char buf[32];
            int64_t st = ms[i].step[k];
            cJSON *it;
            if (st <= (1ll << 53) && st >= -(1ll << 53)) {
                it = cJSON_CreateNumber((double)st);
            } else {
                snprintf(buf, sizeof buf, "%lld", (long long)st);
                it = cJSON_CreateRaw(buf);
            }
            double v = ms[i].value[k];
            ok = cJSON_AddItemToArray(steps, it) &&
                 cJSON_AddItemToArray(vals, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
        }
    }
    sl_metric_series_free(ms, n);
    if (!ok) {
        cJSON_Delete(obj);
        return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    }
    *out = obj;
    return SL_OK;
}

/* Tables exported per run: output key, query. Order = order in the export. */
static const struct {
    const char *key, *sql;
} run_tables[] = {
    {"datasets", "SELECT * FROM datasets WHERE run_id=?1 ORDER BY id"},
    {"models", "SELECT * FROM models WHERE run_id=?1 ORDER BY id"},
    {"artifacts", "SELECT * FROM artifacts WHERE run_id=?1 ORDER BY id"},
    {"jobs", "SELECT id, kind, status, total, done, message, started, updated, ended FROM jobs"
             " WHERE run_id=?1 ORDER BY id"},
    {"world_eval", "SELECT horizon, mse, std_ratio, var_growth, trust, auc FROM world_eval"
                   " WHERE run_id=?1 ORDER BY horizon"},
    {"branches", "SELECT episode, t, horizon, brick, trust, std_ratio, passed FROM branches"
                 " WHERE run_id=?1 ORDER BY id"},
    {"weights", "SELECT step, trust, econ, lambda, w_final, rails FROM weights"
                " WHERE run_id=?1 ORDER BY id"},
    {"estimates", "SELECT name, arm, value, ci_lo, ci_hi, n FROM estimates WHERE run_id=?1"
                  " ORDER BY id"},
    {"samples", "SELECT name, label, n, data FROM samples WHERE run_id=?1 ORDER BY id"},
    {"ab_experiments", "SELECT id, name, verdict, experiment, created FROM ab_experiments"
                       " WHERE run_id=?1 ORDER BY id"},
    {"ladder", "SELECT level, horizon, passed, verdict, detail FROM ladder_levels"
               " WHERE run_id=?1 ORDER BY level"},
    {"results", "SELECT id, kind, json, created FROM results WHERE run_id=?1 ORDER BY id"},
    {"privacy_ledger", "SELECT id, dataset_key, mechanism, epsilon, delta, created"
                       " FROM privacy_ledger WHERE run_id=?1 ORDER BY id"},
    /* privapi: the run's releases and their charges (issue 15's tables; privacy_ledger above
     * is migration 1's table, superseded and written by nothing but the legacy
     * sl_registry_add_privacy_spend) */
    {"anonymization_logs", "SELECT id, created, created_unix, actor, technique, dataset,"
                           " input_path, input_sha256, output_path, output_sha256, params,"
                           " eps_nano, delta, rho, formal, n_rows, n_subjects, status"
                           " FROM anonymization_logs WHERE run_id=?1 ORDER BY id"},
    {"privacy_charges", "SELECT c.id, c.log_id, c.scope, c.key, c.eps_nano, c.rho, c.formal,"
                        " c.created_unix FROM privacy_charges c JOIN anonymization_logs l"
                        " ON l.id = c.log_id WHERE l.run_id=?1 ORDER BY c.id"},
    {"deployments", "SELECT id, model_id, strategy, traffic, reason, created FROM deployments"
                    " WHERE run_id=?1 ORDER BY id"},
    /* genpriv (issue 16): generate's release decisions and their ledger charges */
    {"synthetic_jobs", "SELECT * FROM synthetic_jobs WHERE run_id=?1 ORDER BY id"},
};

sl_status sl_registry_export_json(sl_registry *reg, int64_t run_id, cJSON **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    sqlite3 *db = reg->db;
    cJSON *run = NULL;
    int64_t b[1] = {run_id};
    sl_status s = sl_store_row_json(db,
                                    "SELECT id, command, status, seed, config, summary, version,"
                                    " git, started, ended, host, pid, note FROM runs WHERE id=?1",
                                    b, 1, &run);
    if (s == SL_ERR_NOTFOUND)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist",
                            sqlite3_db_filename(db, "main"), (long long)run_id);
    SL_TRY(s);
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        cJSON_Delete(run);
        return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    }
    cJSON_AddNumberToObject(root, "schema_version", SL_REGISTRY_SCHEMA_VERSION);
    cJSON_AddItemToObject(root, "run", run);
    cJSON *m = NULL;
    if ((s = metrics_json(reg, run_id, &m)) != SL_OK) goto fail;
    cJSON_AddItemToObject(root, "metrics", m);
    for (size_t i = 0; i < sizeof run_tables / sizeof run_tables[0]; i++) {
        cJSON *rows = NULL;
        if ((s = sl_store_rows_json(db, run_tables[i].sql, b, 1, &rows)) != SL_OK) goto fail;
        cJSON_AddItemToObject(root, run_tables[i].key, rows);
    }
    *out = root;
    return SL_OK;
fail:
    cJSON_Delete(root);
    return s;
}

static sl_status print_json(cJSON *j, char **out) {
    *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!*out) return sl_set_error(SL_ERR_NOMEM, "registry: cannot print JSON");
    return SL_OK;
}

sl_status sl_registry_export_run(sl_registry *reg, int64_t run_id, char **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    cJSON *j;
    SL_TRY(sl_registry_export_json(reg, run_id, &j));
    return print_json(j, out);
}

sl_status sl_registry_list_runs(sl_registry *reg, int limit, char **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    int64_t b[1] = {limit > 0 ? limit : -1};
    cJSON *j;
    SL_TRY(sl_store_rows_json(reg->db,
                              "SELECT id, command, status, seed, started, ended, git, note"
                              " FROM runs ORDER BY id DESC LIMIT ?1",
                              b, 1, &j));
    return print_json(j, out);
}

sl_status sl_registry_last_run(sl_registry *reg, int64_t *run_id) {
    *run_id = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(reg->db, "SELECT ifnull(max(id),0) FROM runs", -1, &st, NULL) !=
        SQLITE_OK)
        return sl_store_db_error(reg->db, "last run");
    sl_status s = SL_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *run_id = sqlite3_column_int64(st, 0);
    else
        s = sl_store_db_error(reg->db, "last run");
    sqlite3_finalize(st);
    return s;
}

sl_status sl_registry_parse_run(sl_registry *reg, const char *ref, int64_t *run_id) {
    *run_id = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    if (!ref || !*ref) return sl_set_error(SL_ERR_ARG, "empty run reference");
    int64_t id = 0;
    if (strcmp(ref, "last") == 0) {
        SL_TRY(sl_registry_last_run(reg, &id));
        if (id == 0) return sl_set_error(SL_ERR_NOTFOUND, "%s: no runs recorded", reg->path);
    } else {
        for (const char *p = ref; *p; p++) {
            if (*p < '0' || *p > '9' || id > (INT64_MAX - 9) / 10)
                return sl_set_error(SL_ERR_ARG, "bad run id '%s' (want a number or 'last')", ref);
            id = id * 10 + (*p - '0');
        }
        if (id <= 0) return sl_set_error(SL_ERR_ARG, "bad run id '%s'", ref);
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(reg->db, "SELECT 1 FROM runs WHERE id=?1", -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(reg->db, "find run");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist", reg->path, (long long)id);
    if (rc != SQLITE_ROW) return sl_store_db_error(reg->db, "find run");
    *run_id = id;
    return SL_OK;
}
