/* SPDX-License-Identifier: Apache-2.0 */
/* run_status.c - read one run's status (the job layer polls it to notice an operator's
 * mark-failed and cancel the job). Read-only; one prepared statement per call. */
#include <sqlite3.h>

#include "store/store_internal.h"

sl_status sl_run_get_status(sl_registry *reg, int64_t run_id, sl_run_status *out) {
    if (!reg) return sl_set_error(SL_ERR_ARG, "run status: no registry");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT status FROM runs WHERE id=?1", -1, &st, NULL) !=
        SQLITE_OK)
        return sl_store_db_error(reg->db, "run status");
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    sl_status s = SL_OK;
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        s = sl_run_status_parse(name ? name : "", out);
    } else if (rc == SQLITE_DONE) {
        s = sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist", reg->path,
                         (long long)run_id);
    } else {
        s = sl_store_db_error(reg->db, "run status");
    }
    sqlite3_finalize(st);
    return s;
}
