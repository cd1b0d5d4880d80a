/* SPDX-License-Identifier: Apache-2.0 */
/* forecast.c - registry rows of the forecast module: cases with their split segment,
 * predictions (one row per predicted node, one per malformed answer) and scores.
 *
 * Invariant: each call is one BEGIN IMMEDIATE ... COMMIT transaction, so a batch of rows is
 * either all written or absent; a NULL registry records nothing and succeeds (--db none).
 */
#include <math.h>
#include <string.h>

#include "store_internal.h"
#include "synthloop/sl_forecast.h"

static sl_status tx(sqlite3 *db, const char *sql, const char *what) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return sl_store_db_error(db, what);
    return SL_OK;
}

static sl_status finish(sqlite3 *db, sqlite3_stmt *st, sl_status s, const char *what) {
    sqlite3_finalize(st);
    if (s == SL_OK) return tx(db, "COMMIT", what);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_real_or_null(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

static sl_status step(sqlite3 *db, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SL_OK : sl_store_db_error(db, what);
}

static const char *seg_name(const sl_fc_segment *seg, size_t i) {
    if (!seg) return "all";
    switch (seg[i]) {
    case SL_FC_TRAIN: return "train";
    case SL_FC_CALIB: return "calib";
    case SL_FC_TEST: return "test";
    default: return "excluded";
    }
}

sl_status sl_fc_store_cases(struct sl_registry *reg, int64_t run_id, const sl_fc_set *s,
                            const sl_fc_segment *seg) {
    if (!reg) return SL_OK;
    sqlite3 *db = sl_registry_sqlite(reg);
    const char *what = "record forecast cases";
    SL_TRY(tx(db, "BEGIN IMMEDIATE", what));
    sqlite3_stmt *st = NULL;
    sl_status r = SL_OK;
    if (sqlite3_prepare_v2(db, "INSERT INTO forecast_cases(run_id, case_id, domain, seed_date, "
                           "synthetic, n_nodes, segment) VALUES (?1,?2,?3,?4,?5,?6,?7)", -1, &st,
                           NULL) != SQLITE_OK)
        r = sl_store_db_error(db, what);
    for (size_t i = 0; r == SL_OK && i < s->n; i++) {
        const sl_fc_case *c = &s->cases[i];
        sqlite3_bind_int64(st, 1, run_id);
        bind_text_or_null(st, 2, c->case_id ? c->case_id : "");
        bind_text_or_null(st, 3, c->domain);
        bind_text_or_null(st, 4, c->seed_date);
        sqlite3_bind_int(st, 5, c->synthetic ? 1 : 0);
        sqlite3_bind_int64(st, 6, (int64_t)c->n_nodes);
        bind_text_or_null(st, 7, seg_name(seg, i));
        r = step(db, st, what);
    }
    return finish(db, st, r, what);
}

sl_status sl_fc_store_prediction(struct sl_registry *reg, int64_t run_id, const char *model,
                                 const char *case_id, const cJSON *pred, const char *status,
                                 const char *error) {
    if (!reg) return SL_OK;
    sqlite3 *db = sl_registry_sqlite(reg);
    const char *what = "record forecast prediction";
    SL_TRY(tx(db, "BEGIN IMMEDIATE", what));
    sqlite3_stmt *st = NULL;
    sl_status r = SL_OK;
    if (sqlite3_prepare_v2(db, "INSERT INTO forecast_predictions(run_id, model, case_id, depth, "
                           "event, probability, timeframe_months, status, error) VALUES "
                           "(?1,?2,?3,?4,?5,?6,?7,?8,?9)", -1, &st, NULL) != SQLITE_OK)
        r = sl_store_db_error(db, what);
    const cJSON *chain = pred ? cJSON_GetObjectItemCaseSensitive(pred, "outcome_chain") : NULL;
    if (r == SL_OK && !cJSON_IsArray(chain)) {
        sqlite3_bind_int64(st, 1, run_id);
        bind_text_or_null(st, 2, model ? model : "");
        bind_text_or_null(st, 3, case_id ? case_id : "");
        bind_text_or_null(st, 8, status ? status : "unknown");
        bind_text_or_null(st, 9, error);
        r = step(db, st, what);
    }
    const cJSON *n;
    cJSON_ArrayForEach(n, chain) {
        if (r != SL_OK) break;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(n, "depth");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(n, "event");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "probability");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(n, "timeframe_months");
        sqlite3_bind_int64(st, 1, run_id);
        bind_text_or_null(st, 2, model ? model : "");
        bind_text_or_null(st, 3, case_id ? case_id : "");
        if (cJSON_IsNumber(d)) sqlite3_bind_int64(st, 4, (int64_t)d->valuedouble);
        bind_text_or_null(st, 5, cJSON_IsString(e) ? e->valuestring : NULL);
        bind_real_or_null(st, 6, cJSON_IsNumber(p) ? p->valuedouble : (double)NAN);
        bind_real_or_null(st, 7, cJSON_IsNumber(t) ? t->valuedouble : (double)NAN);
        bind_text_or_null(st, 8, status ? status : "ok");
        bind_text_or_null(st, 9, error);
        r = step(db, st, what);
    }
    return finish(db, st, r, what);
}

sl_status sl_fc_store_score(struct sl_registry *reg, int64_t run_id, const char *label,
                            const char *metric, double value, double lo, double hi) {
    if (!reg) return SL_OK;
    sqlite3 *db = sl_registry_sqlite(reg);
    const char *what = "record forecast score";
    SL_TRY(tx(db, "BEGIN IMMEDIATE", what));
    sqlite3_stmt *st = NULL;
    sl_status r = SL_OK;
    if (sqlite3_prepare_v2(db, "INSERT INTO forecast_scores(run_id, label, metric, value, lo, hi) "
                           "VALUES (?1,?2,?3,?4,?5,?6)", -1, &st, NULL) != SQLITE_OK)
        r = sl_store_db_error(db, what);
    if (r == SL_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        bind_text_or_null(st, 2, label ? label : "");
        bind_text_or_null(st, 3, metric ? metric : "");
        bind_real_or_null(st, 4, value);
        bind_real_or_null(st, 5, lo);
        bind_real_or_null(st, 6, hi);
        r = step(db, st, what);
    }
    return finish(db, st, r, what);
}

sl_status sl_fc_store_run_json(struct sl_registry *reg, int64_t run_id, cJSON **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "forecast rows: no registry");
    sqlite3 *db = sl_registry_sqlite(reg);
    static const struct {
        const char *key, *sql;
    } q[] = {{"cases", "SELECT case_id, domain, seed_date, synthetic, n_nodes, segment FROM "
                       "forecast_cases WHERE run_id = ?1 ORDER BY id"},
             {"predictions", "SELECT model, case_id, depth, event, probability, timeframe_months, "
                             "status, error FROM forecast_predictions WHERE run_id = ?1 ORDER BY id"},
             {"scores", "SELECT label, metric, value, lo, hi FROM forecast_scores WHERE run_id = ?1 "
                        "ORDER BY id"}};
    cJSON *run = NULL;
    SL_TRY(sl_store_row_json(db, "SELECT id, command, status, started, ended, summary FROM runs "
                             "WHERE id = ?1", &run_id, 1, &run));
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, "run", run)) {
        cJSON_Delete(o);
        cJSON_Delete(run);
        return sl_set_error(SL_ERR_NOMEM, "forecast rows: out of memory");
    }
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        cJSON *rows = NULL;
        sl_status st = sl_store_rows_json(db, q[i].sql, &run_id, 1, &rows);
        if (st != SL_OK) {
            cJSON_Delete(o);
            return st;
        }
        cJSON_AddItemToObject(o, q[i].key, rows);
    }
    *out = o;
    return SL_OK;
}
