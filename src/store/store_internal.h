/* store_internal.h - internals of the registry shared by src/store, src/serve and the
 * registry commands (not part of the public API). Invariant: every schema change is a new
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

/* The registry's connection (owned by reg). */
sqlite3 *sl_registry_sqlite(sl_registry *reg);

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

/* Metric series of a run as {"name": {"step": [...], "value": [...]}, ...}; only the series
 * named `only` when non-NULL. *out owned by the caller. */
sl_status sl_store_metrics_json(sqlite3 *db, int64_t run_id, const char *only, cJSON **out);

/* Export of one run as a cJSON object (what sl_registry_export_run prints). */
sl_status sl_store_export_run(sqlite3 *db, int64_t run_id, cJSON **out);

/* Flatten a JSON value into {"a.b[0]": "<leaf as JSON text>", ...} (arrays longer than 64
 * stay one leaf). *out owned by the caller. v may be NULL (empty object). */
sl_status sl_store_flatten_json(const cJSON *v, cJSON **out);

/* Run summary: {"run": {...,"seconds"}, "series": [{series,n,first_step,last_step,last,min,
 * max}], "jobs", "datasets", "models", "artifacts", "ab_experiments", "ladder", "estimates",
 * "world_eval", "results": [...], "counts": {...}}. SL_ERR_NOTFOUND for a missing run. */
sl_status sl_store_run_summary(sqlite3 *db, int64_t run_id, cJSON **out);

/* Comparison of runs a and b: {"a","b": run fields, "config_diff": [{key,a,b}],
 * "config_same": n, "summary_diff", "summary_same", "series": [{series,a_last,b_last,diff}],
 * "ab_experiments"|"ladder"|"estimates"|"world_eval"|"counts": {"a": ..., "b": ...}}. */
sl_status sl_store_run_compare(sqlite3 *db, int64_t a, int64_t b, cJSON **out);

/* Set an sl error from the connection's last error: "<path>: <what>: <sqlite message>". */
sl_status sl_store_db_error(sqlite3 *db, const char *what);

#endif
