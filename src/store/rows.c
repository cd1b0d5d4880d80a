/* SPDX-License-Identifier: Apache-2.0 */
/* rows.c - the registry's read API: named queries returning tables of typed cells (sl_rows),
 * metric series as arrays, and the event-stream cursors.
 *
 * Invariant: reads never write, and every string handed out is well-formed UTF-8 (ill-formed
 * bytes from older builds become U+FFFD here), so whatever a caller prints as JSON is valid.
 * Integers keep all 64 bits; a non-finite REAL (which the writers refuse) reads as NULL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "synthloop/sl_json.h"

/* --- the named queries ------------------------------------------------------------------ */

/* Parameters: ?1 run, ?2 after, ?3 limit (-1 = none), ?4 status name or NULL, ?5 command. */
static const char *const kind_sql[SL_ROWS_KIND_COUNT] = {
    [SL_ROWS_RUNS] =
        "SELECT id, command, status, seed, started, ended, git, note,"
        " CAST(round((julianday(ifnull(ended, strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        "  - julianday(started)) * 86400) AS INTEGER) AS seconds,"
        " (SELECT count(*) FROM metrics m WHERE m.run_id = runs.id) AS metric_points"
        " FROM runs WHERE (?4 IS NULL OR status=?4) AND (?5 IS NULL OR command=?5)"
        " ORDER BY id DESC LIMIT ?3",
    [SL_ROWS_RUN_EXISTS] = "SELECT id FROM runs WHERE id=?1",
    [SL_ROWS_WORLD_EVAL] = "SELECT horizon, mse, std_ratio, var_growth, trust, auc FROM world_eval"
                           " WHERE run_id=?1 ORDER BY horizon",
    [SL_ROWS_BRANCH_HORIZONS] =
        "SELECT horizon, count(*) AS branches, avg(trust) AS trust,"
        " avg(std_ratio) AS std_ratio, avg(passed) AS pass_rate FROM branches"
        " WHERE run_id=?1 GROUP BY horizon ORDER BY horizon",
    [SL_ROWS_BRANCH_TRUST] = "SELECT trust, passed FROM branches WHERE run_id=?1 LIMIT ?3",
    [SL_ROWS_SAMPLES] = "SELECT name, label, n, data FROM samples WHERE run_id=?1"
                        " ORDER BY name, id LIMIT ?3",
    [SL_ROWS_WEIGHTS] = "SELECT step, trust, econ, lambda, w_final, rails FROM weights"
                        " WHERE run_id=?1 ORDER BY id LIMIT ?3",
    [SL_ROWS_WEIGHT_CURVE] =
        "WITH r AS (SELECT min(step) AS lo, max(step) AS hi FROM weights WHERE run_id=?1),"
        " k AS (SELECT max(1, (hi - lo) / 1000 + 1) AS width, lo FROM r)"
        " SELECT min(step) AS step, avg(trust) AS trust, avg(econ) AS econ,"
        " avg(lambda) AS lambda, avg(w_final) AS w_final, count(*) AS n"
        " FROM weights, k WHERE run_id=?1 GROUP BY (step - k.lo) / k.width ORDER BY 1",
    [SL_ROWS_WEIGHT_RAILS] = "SELECT rails, count(*) AS n FROM weights WHERE run_id=?1"
                             " GROUP BY rails",
    [SL_ROWS_ESTIMATES] = "SELECT name, arm, value, ci_lo, ci_hi, n FROM estimates WHERE run_id=?1"
                          " ORDER BY name, id",
    [SL_ROWS_AB] = "SELECT id, name, verdict, experiment, created FROM ab_experiments"
                   " WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_LADDER] = "SELECT level, horizon, passed, verdict, detail FROM ladder_levels"
                       " WHERE run_id=?1 ORDER BY level",
    [SL_ROWS_DATASETS] = "SELECT id, kind, path, n_rows, n_episodes, bytes, sha256 FROM datasets"
                         " WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_MODELS] = "SELECT id, kind, path, parent_id, sha256, metrics FROM models"
                       " WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_JOBS] = "SELECT id, kind, status, done, total, message, updated FROM jobs"
                     " WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_ARTIFACTS] = "SELECT id, kind, path, bytes, sha256 FROM artifacts WHERE run_id=?1"
                          " ORDER BY id",
    [SL_ROWS_PRIVACY] = "SELECT dataset_key, mechanism, epsilon, delta, created FROM privacy_ledger"
                        " WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_DEPLOYMENTS] = "SELECT id, model_id, strategy, traffic, reason, created FROM"
                            " deployments WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_RESULTS] = "SELECT kind, json, created FROM results WHERE run_id=?1 ORDER BY id",
    [SL_ROWS_ALL_EXPERIMENTS] =
        "SELECT e.id, e.run_id, r.command, e.name, e.verdict, e.created, e.experiment"
        " FROM ab_experiments e JOIN runs r ON r.id = e.run_id ORDER BY e.id DESC LIMIT ?3",
    [SL_ROWS_ALL_MODELS] = "SELECT id, run_id, kind, path, sha256, parent_id, metrics, created"
                           " FROM models ORDER BY id DESC LIMIT ?3",
    [SL_ROWS_ALL_JOBS] = "SELECT id, run_id, kind, status, total, done, message, started, updated,"
                         " ended FROM jobs WHERE (?4 IS NULL OR status=?4) ORDER BY id DESC"
                         " LIMIT ?3",
    [SL_ROWS_RUN_CHANGES] = "SELECT id, command, status, started, ended, rev FROM runs"
                            " WHERE rev > ?2 AND (?1 = 0 OR id = ?1) ORDER BY rev LIMIT ?3",
    [SL_ROWS_JOB_CHANGES] = "SELECT id, run_id, kind, status, total, done, message, updated, rev"
                            " FROM jobs WHERE rev > ?2 AND (?1 = 0 OR run_id = ?1) ORDER BY rev"
                            " LIMIT ?3",
    [SL_ROWS_METRIC_CHANGES] = "SELECT rowid AS rowid, run_id, series, step, value FROM metrics"
                               " WHERE rowid > ?2 AND (?1 = 0 OR run_id = ?1) ORDER BY rowid"
                               " LIMIT ?3",
};
_Static_assert(sizeof kind_sql / sizeof kind_sql[0] == SL_ROWS_KIND_COUNT, "a query per kind");

/* --- building tables from statements ------------------------------------------------------- */

typedef struct rows_impl {
    sl_rows pub; /* first: sl_rows * and rows_impl * convert */
    char **names;
    sl_cell *cells;
    size_t cap; /* rows allocated */
} rows_impl;

void sl_rows_free(sl_rows *rows) {
    if (!rows) return;
    rows_impl *r = (rows_impl *)rows;
    for (size_t i = 0; r->cells && i < r->pub.nrow * r->pub.ncol; i++) {
        free((char *)r->cells[i].s);
        free((double *)r->cells[i].v);
    }
    for (size_t c = 0; r->names && c < r->pub.ncol; c++) free(r->names[c]);
    free(r->names);
    free(r->cells);
    free(r);
}

const sl_cell *sl_rows_get(const sl_rows *rows, size_t row, const char *col) {
    if (!rows || row >= rows->nrow || !col) return NULL;
    for (size_t c = 0; c < rows->ncol; c++)
        if (strcmp(rows->cols[c], col) == 0) return &rows->cells[row * rows->ncol + c];
    return NULL;
}

/* Fill one cell from column i of the current row. 0 on OOM. */
static int fill_cell(sqlite3_stmt *st, int i, sl_cell *c) {
    const char *decl = sqlite3_column_decltype(st, i);
    const char *name = sqlite3_column_name(st, i);
    memset(c, 0, sizeof *c);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        c->type = name && strcmp(name, "seed") == 0 ? SL_CELL_UINT : SL_CELL_INT;
        c->i = sqlite3_column_int64(st, i);
        return 1;
    case SQLITE_FLOAT:
        c->d = sqlite3_column_double(st, i);
        c->type = isfinite(c->d) ? SL_CELL_REAL : SL_CELL_NULL;
        return 1;
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        c->type = decl && strcmp(decl, "JSON_TEXT") == 0 ? SL_CELL_JSON : SL_CELL_TEXT;
        c->s = sl_utf8_sanitize(t ? t : "");
        return c->s != NULL;
    }
    case SQLITE_BLOB: {
        if (!decl || strcmp(decl, "F64_BLOB") != 0) return 1; /* SL_CELL_NULL */
        int nb = sqlite3_column_bytes(st, i);
        const unsigned char *p = sqlite3_column_blob(st, i);
        size_t n = p && nb > 0 ? (size_t)nb / sizeof(double) : 0;
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v) return 0;
        if (n) memcpy(v, p, n * sizeof *v);
        c->type = SL_CELL_F64S;
        c->v = v;
        c->n = n;
        return 1;
    }
    default:
        return 1;
    }
}

/* Step `st` to the end (or one row when single) into a new table. Finalizes st. */
static sl_status rows_from_stmt(sqlite3 *db, sqlite3_stmt *st, int single, sl_rows **out) {
    *out = NULL;
    rows_impl *r = calloc(1, sizeof *r);
    int ncol = sqlite3_column_count(st);
    if (r) r->names = calloc((size_t)(ncol ? ncol : 1), sizeof *r->names);
    if (!r || !r->names) {
        sqlite3_finalize(st);
        sl_rows_free(r ? &r->pub : NULL);
        return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    }
    r->pub.ncol = (size_t)ncol;
    for (int i = 0; i < ncol; i++) {
        const char *nm = sqlite3_column_name(st, i);
        if (!(r->names[i] = strdup(nm ? nm : ""))) goto oom;
    }
    r->pub.cols = (const char *const *)r->names;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->pub.nrow == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            sl_cell *nc = realloc(r->cells, cap * (size_t)(ncol ? ncol : 1) * sizeof *nc);
            if (!nc) goto oom;
            r->cells = nc;
            r->cap = cap;
        }
        sl_cell *row = r->cells + r->pub.nrow * (size_t)ncol;
        memset(row, 0, (size_t)ncol * sizeof *row);
        r->pub.nrow++; /* counted first so that a partial row is freed */
        for (int i = 0; i < ncol; i++)
            if (!fill_cell(st, i, &row[i])) goto oom;
        if (single) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sl_status s = sl_store_db_error(db, "read rows");
        sqlite3_finalize(st);
        r->pub.cells = r->cells;
        sl_rows_free(&r->pub);
        return s;
    }
    sqlite3_finalize(st);
    r->pub.cells = r->cells;
    *out = &r->pub;
    return SL_OK;
oom:
    sqlite3_finalize(st);
    r->pub.cells = r->cells;
    sl_rows_free(&r->pub);
    return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
}

sl_status sl_store_rows(sqlite3 *db, const char *sql, const int64_t *binds, int nbind, int single,
                        sl_rows **out) {
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "prepare query");
    for (int i = 0; i < nbind; i++) sqlite3_bind_int64(st, i + 1, binds[i]);
    return rows_from_stmt(db, st, single, out);
}

sl_rows_query sl_rows_query_default(void) {
    sl_rows_query q = {0, 0, 0, -1, NULL};
    return q;
}

sl_status sl_registry_rows(sl_registry *reg, sl_rows_kind kind, const sl_rows_query *q,
                           sl_rows **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    if ((unsigned)kind >= SL_ROWS_KIND_COUNT)
        return sl_set_error(SL_ERR_ARG, "registry: unknown query kind %d", (int)kind);
    sl_rows_query d = sl_rows_query_default();
    if (!q) q = &d;
    if (q->status >= SL_RUN_STATUS_COUNT)
        return sl_set_error(SL_ERR_ARG, "registry: unknown status filter %d", q->status);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(reg->db, kind_sql[kind], -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(reg->db, "prepare query");
    int np = sqlite3_bind_parameter_count(st);
    if (np >= 1) sqlite3_bind_int64(st, 1, q->run);
    if (np >= 2) sqlite3_bind_int64(st, 2, q->after);
    if (np >= 3) sqlite3_bind_int64(st, 3, q->limit > 0 ? q->limit : -1);
    if (np >= 4) {
        if (q->status >= 0)
            sqlite3_bind_text(st, 4, sl_run_status_name((sl_run_status)q->status), -1,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
    }
    if (np >= 5) {
        if (q->command)
            sqlite3_bind_text(st, 5, q->command, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 5);
    }
    return rows_from_stmt(reg->db, st, 0, out);
}

/* --- rows as JSON -------------------------------------------------------------------------- */

static cJSON *int_item(int64_t v, int is_unsigned) {
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

static cJSON *cell_item(const sl_cell *c) {
    switch (c->type) {
    case SL_CELL_INT: return int_item(c->i, 0);
    case SL_CELL_UINT: return int_item(c->i, 1);
    case SL_CELL_REAL: return cJSON_CreateNumber(c->d);
    case SL_CELL_TEXT: return cJSON_CreateString(c->s);
    case SL_CELL_JSON: {
        cJSON *j = cJSON_Parse(c->s);
        return j ? j : cJSON_CreateString(c->s);
    }
    case SL_CELL_F64S: {
        cJSON *a = cJSON_CreateArray();
        for (size_t k = 0; a && k < c->n; k++)
            cJSON_AddItemToArray(a, isfinite(c->v[k]) ? cJSON_CreateNumber(c->v[k])
                                                      : cJSON_CreateNull());
        return a;
    }
    default: return cJSON_CreateNull();
    }
}

sl_status sl_store_row_object(const sl_rows *rows, size_t i, cJSON **out) {
    *out = cJSON_CreateObject();
    if (!*out) return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    for (size_t c = 0; c < rows->ncol; c++) {
        cJSON *it = cell_item(&rows->cells[i * rows->ncol + c]);
        if (!it || !cJSON_AddItemToObject(*out, rows->cols[c], it)) {
            cJSON_Delete(it);
            cJSON_Delete(*out);
            *out = NULL;
            return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
        }
    }
    return SL_OK;
}

sl_status sl_rows_to_json(const sl_rows *rows, cJSON **out) {
    *out = NULL;
    if (!rows) return sl_set_error(SL_ERR_ARG, "registry: no rows");
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
    for (size_t i = 0; i < rows->nrow; i++) {
        cJSON *row;
        sl_status s = sl_store_row_object(rows, i, &row);
        if (s != SL_OK) {
            cJSON_Delete(arr);
            return s;
        }
        cJSON_AddItemToArray(arr, row);
    }
    *out = arr;
    return SL_OK;
}

/* --- small reads ----------------------------------------------------------------------------- */

sl_status sl_registry_run_exists(sl_registry *reg, int64_t run_id) {
    sl_rows_query q = sl_rows_query_default();
    q.run = run_id;
    sl_rows *r;
    SL_TRY(sl_registry_rows(reg, SL_ROWS_RUN_EXISTS, &q, &r));
    size_t n = r->nrow;
    sl_rows_free(r);
    if (!n) return sl_set_error(SL_ERR_NOTFOUND, "run %lld does not exist", (long long)run_id);
    return SL_OK;
}

static sl_status max_of(sqlite3 *db, const char *sql, int64_t *v) {
    sqlite3_stmt *st;
    *v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "event cursors");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SL_OK : sl_store_db_error(db, "event cursors");
}

sl_status sl_registry_event_cursors(sl_registry *reg, int64_t *run_rev, int64_t *job_rev,
                                    int64_t *metric_rowid) {
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    SL_TRY(max_of(reg->db, "SELECT ifnull(max(rev),0) FROM runs", run_rev));
    SL_TRY(max_of(reg->db, "SELECT ifnull(max(rev),0) FROM jobs", job_rev));
    return max_of(reg->db, "SELECT ifnull(max(rowid),0) FROM metrics", metric_rowid);
}

const char *sl_registry_file(const sl_registry *reg) {
    const char *f = reg && reg->db ? sqlite3_db_filename(reg->db, "main") : NULL;
    return f ? f : "";
}

sl_status sl_registry_set_busy_timeout(sl_registry *reg, int ms) {
    if (!reg || ms < 0) return sl_set_error(SL_ERR_ARG, "registry: busy timeout needs a registry and ms >= 0");
    sqlite3_busy_timeout(reg->db, ms);
    return SL_OK;
}

/* --- metric series --------------------------------------------------------------------------- */

void sl_metric_series_free(sl_metric_series *s, size_t n) {
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].name);
        free(s[i].step);
        free(s[i].value);
    }
    free(s);
}

static int push_point(sl_metric_series *s, size_t *cap, int64_t step, double v) {
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int64_t *ns = realloc(s->step, nc * sizeof *ns);
        if (!ns) return 0;
        s->step = ns;
        double *nv = realloc(s->value, nc * sizeof *nv);
        if (!nv) return 0;
        s->value = nv;
        *cap = nc;
    }
    s->step[s->n] = step;
    s->value[s->n] = v;
    s->n++;
    return 1;
}

sl_status sl_registry_metrics(sl_registry *reg, int64_t run_id, const char *only,
                              sl_metric_series **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT series, step, value FROM metrics WHERE run_id=?1"
                           " AND (?2 IS NULL OR series=?2) ORDER BY series, step",
                           -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(reg->db, "read metrics");
    sqlite3_bind_int64(st, 1, run_id);
    if (only)
        sqlite3_bind_text(st, 2, only, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sl_metric_series *s = NULL;
    size_t n = 0, cap = 0, pcap = 0;
    char *last = NULL; /* raw name of the current series (s[n-1].name is the sanitised one) */
    sl_status status = SL_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name) name = "";
        if (!n || strcmp(last, name) != 0) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                sl_metric_series *ns = realloc(s, nc * sizeof *ns);
                if (!ns) goto oom;
                s = ns;
                cap = nc;
            }
            memset(&s[n], 0, sizeof s[n]);
            n++;
            pcap = 0;
            free(last);
            last = strdup(name);
            s[n - 1].name = sl_utf8_sanitize(name);
            if (!last || !s[n - 1].name) goto oom;
        }
        double v = sqlite3_column_double(st, 2);
        if (!push_point(&s[n - 1], &pcap, sqlite3_column_int64(st, 1), isfinite(v) ? v : (double)NAN))
            goto oom;
    }
    if (rc != SQLITE_DONE) status = sl_store_db_error(reg->db, "read metrics");
    sqlite3_finalize(st);
    free(last);
    if (status != SL_OK) {
        sl_metric_series_free(s, n);
        return status;
    }
    *out = s;
    *nout = n;
    return SL_OK;
oom:
    sqlite3_finalize(st);
    free(last);
    sl_metric_series_free(s, n);
    return sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
}
