/* read.c - reading the registry back as JSON: generic rows-to-JSON, run export, run lists.
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

static cJSON *int_item(sqlite3_int64 v, int is_unsigned) {
    char buf[32];
    if (is_unsigned) {
        uint64_t u = (uint64_t)v;
        if (u <= (1ull << 53)) return cJSON_CreateNumber((double)u);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
        return cJSON_CreateRaw(buf);
    }
    if (v <= (1ll << 53) && v >= -(1ll << 53)) return cJSON_CreateNumber((double)v);
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static cJSON *column_item(sqlite3_stmt *st, int i) {
    const char *decl = sqlite3_column_decltype(st, i);
    const char *name = sqlite3_column_name(st, i);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return int_item(sqlite3_column_int64(st, i), name && strcmp(name, "seed") == 0);
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, i);
        return isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
    }
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        if (decl && strcmp(decl, "JSON_TEXT") == 0) {
            cJSON *j = cJSON_Parse(t);
            if (j) return j;
        }
        return cJSON_CreateString(t ? t : "");
    }
    case SQLITE_BLOB: {
        if (decl && strcmp(decl, "F64_BLOB") == 0) {
            int nb = sqlite3_column_bytes(st, i);
            const unsigned char *p = sqlite3_column_blob(st, i);
            cJSON *a = cJSON_CreateArray();
            for (int k = 0; a && p && k + (int)sizeof(double) <= nb; k += (int)sizeof(double)) {
                double d;
                memcpy(&d, p + k, sizeof d);
                cJSON_AddItemToArray(a, isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull());
            }
            return a;
        }
        return cJSON_CreateNull();
    }
    default:
        return cJSON_CreateNull();
    }
}

static sl_status query(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                       int single, cJSON **out) {
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "prepare query");
    for (int i = 0; i < nbind; i++) sqlite3_bind_int64(st, i + 1, binds[i]);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        sqlite3_finalize(st);
        return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    }
    int rc, ncol = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *row = cJSON_CreateObject();
        if (!row) break;
        for (int i = 0; i < ncol; i++)
            cJSON_AddItemToObject(row, sqlite3_column_name(st, i), column_item(st, i));
        cJSON_AddItemToArray(arr, row);
        if (single) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sl_status s = sl_store_db_error(db, "read rows");
        sqlite3_finalize(st);
        cJSON_Delete(arr);
        return s;
    }
    sqlite3_finalize(st);
    if (single) {
        cJSON *row = cJSON_DetachItemFromArray(arr, 0);
        cJSON_Delete(arr);
        if (!row) return sl_set_error(SL_ERR_NOTFOUND, "registry: no such row");
        *out = row;
        return SL_OK;
    }
    *out = arr;
    return SL_OK;
}

sl_status sl_store_rows_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                             cJSON **out) {
    return query(db, sql, binds, nbind, 0, out);
}

sl_status sl_store_row_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                            cJSON **out) {
    return query(db, sql, binds, nbind, 1, out);
}

sl_status sl_store_metrics_json(sqlite3 *db, int64_t run_id, const char *only, cJSON **out) {
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT series, step, value FROM metrics WHERE run_id=?1"
                           " AND (?2 IS NULL OR series=?2) ORDER BY series, step",
                           -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "read metrics");
    sqlite3_bind_int64(st, 1, run_id);
    if (only)
        sqlite3_bind_text(st, 2, only, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    cJSON *obj = cJSON_CreateObject();
    cJSON *steps = NULL, *vals = NULL;
    const char *last = NULL; /* key of the current series (owned by obj) */
    int rc = SQLITE_DONE;
    while (obj && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *series = (const char *)sqlite3_column_text(st, 0);
        if (!steps || strcmp(series, last) != 0) {
            cJSON *s = cJSON_AddObjectToObject(obj, series);
            if (!s) {
                rc = SQLITE_NOMEM;
                break;
            }
            last = s->string;
            steps = cJSON_AddArrayToObject(s, "step");
            vals = cJSON_AddArrayToObject(s, "value");
        }
        cJSON_AddItemToArray(steps, int_item(sqlite3_column_int64(st, 1), 0));
        double v = sqlite3_column_double(st, 2);
        cJSON_AddItemToArray(vals, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
    }
    if (obj && rc != SQLITE_DONE) {
        sl_status e = rc == SQLITE_NOMEM ? sl_set_error(SL_ERR_NOMEM, "registry: out of memory")
                                         : sl_store_db_error(db, "read metrics");
        sqlite3_finalize(st);
        cJSON_Delete(obj);
        return e;
    }
    sqlite3_finalize(st);
    if (!obj) return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
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
    {"deployments", "SELECT id, model_id, strategy, traffic, reason, created FROM deployments"
                    " WHERE run_id=?1 ORDER BY id"},
};

sl_status sl_store_export_run(sqlite3 *db, int64_t run_id, cJSON **out) {
    *out = NULL;
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
    if ((s = sl_store_metrics_json(db, run_id, NULL, &m)) != SL_OK) goto fail;
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
    SL_TRY(sl_store_export_run(reg->db, run_id, &j));
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
