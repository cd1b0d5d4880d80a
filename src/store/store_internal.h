/* SPDX-License-Identifier: Apache-2.0 */
/* store_internal.h - internals of the registry shared by the files of src/store only (not
 * part of the public API; everything else reads through the read API in sl_registry.h). Invariant: every schema change is a new
 * entry appended to the migration list in schema.c; existing entries never change. */
#ifndef SL_STORE_INTERNAL_H
#define SL_STORE_INTERNAL_H

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "synthloop/sl_registry.h"

struct sl_registry {
    sqlite3 *db;
    char *path;
};

/* The registry's connection (owned by reg), for the store's own files. */
static inline sqlite3 *sl_registry_sqlite(sl_registry *reg) { return reg->db; }

/* SQLite busy timeout of every connection (docs/REGISTRY.md: 10 s, then SL_ERR_BUSY). */
#define SL_REGISTRY_BUSY_MS 10000

/* Process identity (registry.c): host name, boot id, and a process's start time (clock ticks
 * since boot; -1 if it does not exist or has exited), so that a (host, boot, pid, start) tuple
 * names one process even when pids are reused. */
void sl_store_read_host(char *buf, size_t n);
void sl_store_read_boot_id(char *buf, size_t n);
long long sl_store_proc_start_time(long pid);

/* Apply all migrations newer than the file's PRAGMA user_version (each in one transaction). */
sl_status sl_store_migrate(sqlite3 *db, const char *path);

/* Run `sql` with up to 4 int64 parameters bound to ?1..?n and return the rows as a JSON
 * array of objects (column name -> value). Columns declared JSON_TEXT are parsed into JSON
 * values; columns declared F64_BLOB become arrays of numbers; integers are exact.
 * *out is owned by the caller (cJSON_Delete). */
sl_status sl_store_rows_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                             cJSON **out);

/* Like sl_store_rows_json but for a query that returns exactly one row: the object, or
 * SL_ERR_NOTFOUND. */
sl_status sl_store_row_json(sqlite3 *db, const char *sql, const int64_t *binds, int nbind,
                            cJSON **out);

/* Run `sql` (int64 binds as above) into a table of typed cells (rows.c); single: stop after
 * the first row. *out owned by the caller (sl_rows_free). */
sl_status sl_store_rows(sqlite3 *db, const char *sql, const int64_t *binds, int nbind, int single,
                        sl_rows **out);

/* Row i of a table as a JSON object (the cell conversion of sl_rows_to_json). */
sl_status sl_store_row_object(const sl_rows *rows, size_t i, cJSON **out);

/* Set an sl error from the connection's last error: "<path>: <what>: <sqlite message>". */
sl_status sl_store_db_error(sqlite3 *db, const char *what);

/* The privacy ledger's check and inserts of one release (privacy.c) inside the CALLER's
 * transaction (BEGIN IMMEDIATE ... COMMIT around it), so that another table's row (gen.c:
 * the synthetic_jobs row) commits together with the charge. status NULL: 'pending' when
 * rel->tmp_path is set, else 'placed'. */
sl_status sl_store_ledger_insert(sqlite3 *db, const sl_ledger_release *rel,
                                 const sl_budget_defaults *def, const char *status,
                                 int64_t *log_id);

#endif
