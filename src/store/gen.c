/* SPDX-License-Identifier: Apache-2.0 */
/* gen.c - registry rows of the record-level generators (synthetic_jobs, schema migration 2).
 * The only SQL of the gen module. Invariant: a NaN score or a missing DP statement is stored
 * as NULL, never as a number that could be mistaken for a measurement. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_opt_double(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* The INSERT alone (autocommit, or inside the caller's transaction). */
static sl_status insert_job(sqlite3 *db, int64_t run_id, const sl_synthetic_job_row *row,
                            int64_t *id) {
    if (!row->method || !*row->method || row->n_rows < 0)
        return sl_set_error(SL_ERR_ARG, "registry: synthetic job needs a method and n_rows >= 0");
    if (row->has_dp && (!(row->epsilon >= 0) || !isfinite(row->epsilon) || !(row->delta >= 0)))
        return sl_set_error(SL_ERR_ARG, "registry: synthetic job with DP needs finite epsilon, "
                            "delta >= 0");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO synthetic_jobs(run_id, method, params, n_rows, quality,"
                           " detection_auc, coverage, diversity, dcr_share, membership_auc,"
                           " scores, epsilon, delta, threshold, released, out_path, created,"
                           " ledger_log_id, ledger_dataset, charged_epsilon, charged_subjects)"
                           " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
                           "?18,?19,?20,?21)",
                           -1, &st, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "add synthetic job");
    char ts[32];
    sl_utc_iso8601(ts, sizeof ts);
    if (run_id > 0) sqlite3_bind_int64(st, 1, run_id);
    else sqlite3_bind_null(st, 1);
    sqlite3_bind_text(st, 2, row->method, -1, SQLITE_TRANSIENT);
    bind_opt_text(st, 3, row->params_json);
    sqlite3_bind_int64(st, 4, row->n_rows);
    bind_opt_double(st, 5, row->quality);
    bind_opt_double(st, 6, row->detection_auc);
    bind_opt_double(st, 7, row->coverage);
    bind_opt_double(st, 8, row->diversity);
    bind_opt_double(st, 9, row->dcr_share);
    bind_opt_double(st, 10, row->membership_auc);
    bind_opt_text(st, 11, row->scores_json);
    bind_opt_double(st, 12, row->has_dp ? row->epsilon : (double)NAN);
    bind_opt_double(st, 13, row->has_dp ? row->delta : (double)NAN);
    bind_opt_double(st, 14, row->threshold);
    sqlite3_bind_int(st, 15, row->released ? 1 : 0);
    bind_opt_text(st, 16, row->out_path);
    sqlite3_bind_text(st, 17, ts, -1, SQLITE_TRANSIENT);
    if (row->ledger_log_id > 0) {
        sqlite3_bind_int64(st, 18, row->ledger_log_id);
        bind_opt_text(st, 19, row->ledger_dataset);
        bind_opt_double(st, 20, row->charged_epsilon);
        sqlite3_bind_int64(st, 21, row->charged_subjects);
    } else {
        for (int i = 18; i <= 21; i++) sqlite3_bind_null(st, i);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sl_store_db_error(db, "add synthetic job");
    if (id) *id = sqlite3_last_insert_rowid(db);
    return SL_OK;
}

sl_status sl_registry_add_synthetic_job(sl_registry *reg, int64_t run_id,
                                        const sl_synthetic_job_row *row, int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    return insert_job(sl_registry_sqlite(reg), run_id, row, id);
}

sl_status sl_registry_gen_release(sl_registry *reg, int64_t run_id, const sl_ledger_release *rel,
                                  const sl_budget_defaults *def, const char *status,
                                  const sl_synthetic_job_row *row, int64_t *log_id,
                                  int64_t *job_id) {
    if (log_id) *log_id = 0;
    if (job_id) *job_id = 0;
    if (!reg) {
        if (rel) return sl_set_error(SL_ERR_ARG, "generate: a DP release must be charged to the "
                                     "privacy ledger, which needs a registry (not --db none)");
        return SL_OK;
    }
    sqlite3 *db = sl_registry_sqlite(reg);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sl_store_db_error(db, "begin synthetic release");
    sl_synthetic_job_row r = *row;
    int64_t lid = 0, jid = 0;
    sl_status s = SL_OK;
    if (rel) {
        s = sl_store_ledger_insert(db, rel, def, status, &lid);
        r.ledger_log_id = lid;
        r.ledger_dataset = rel->dataset;
        r.charged_epsilon = rel->epsilon;
        r.charged_subjects = (int64_t)rel->n_subjects;
    } else {
        r.ledger_log_id = 0;
    }
    if (s == SL_OK) s = insert_job(db, run_id, &r, &jid);
    if (s == SL_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        s = sl_store_db_error(db, "commit synthetic release");
    if (s != SL_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return s;
    }
    if (log_id) *log_id = lid;
    if (job_id) *job_id = jid;
    return SL_OK;
}

sl_status sl_registry_synthetic_jobs_json(sl_registry *reg, int64_t run_id, char **out) {
    *out = NULL;
    cJSON *rows = NULL;
    int64_t b[1] = {run_id};
    SL_TRY(sl_store_rows_json(sl_registry_sqlite(reg),
                              run_id > 0 ? "SELECT * FROM synthetic_jobs WHERE run_id = ?1 ORDER BY id"
                                         : "SELECT * FROM synthetic_jobs ORDER BY id",
                              b, run_id > 0 ? 1 : 0, &rows));
    *out = cJSON_PrintUnformatted(rows);
    cJSON_Delete(rows);
    return *out ? SL_OK : sl_set_error(SL_ERR_NOMEM, "registry: out of memory");
}
