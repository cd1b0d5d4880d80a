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

sl_status sl_registry_add_synthetic_job(sl_registry *reg, int64_t run_id,
                                        const sl_synthetic_job_row *row, int64_t *id) {
    if (id) *id = 0;
    if (!reg) return SL_OK;
    if (!row->method || !*row->method || row->n_rows < 0)
        return sl_set_error(SL_ERR_ARG, "registry: synthetic job needs a method and n_rows >= 0");
    if (row->has_dp && (!(row->epsilon >= 0) || !isfinite(row->epsilon) || !(row->delta >= 0)))
        return sl_set_error(SL_ERR_ARG, "registry: synthetic job with DP needs finite epsilon, "
                            "delta >= 0");
    sqlite3 *db = sl_registry_sqlite(reg);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO synthetic_jobs(run_id, method, params, n_rows, quality,"
                           " detection_auc, coverage, diversity, dcr_share, membership_auc,"
                           " scores, epsilon, delta, threshold, released, out_path, created)"
                           " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
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
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sl_store_db_error(db, "add synthetic job");
    if (id) *id = sqlite3_last_insert_rowid(db);
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
