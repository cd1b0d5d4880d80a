/* SPDX-License-Identifier: Apache-2.0 */
/* summary.c - compact views of runs built from the registry: a run summary (what
 * `runs show` and GET /api/runs/ID print) and a two-run comparison (`runs compare`).
 *
 * Invariant: these are pure reads returning new cJSON trees owned by the caller; the series
 * statistics (n, last, min, max) are computed in SQL over exactly the stored points.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "synthloop/sl_json.h"

sl_status sl_registry_run_summary(sl_registry *reg, int64_t run_id, cJSON **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "registry: no registry open");
    sqlite3 *db = reg->db;
    int64_t b[1] = {run_id};
    cJSON *run = NULL;
    sl_status s = sl_store_row_json(db,
                                    "SELECT id, command, status, seed, config, summary, version,"
                                    " git, started, ended, host, pid, note,"
                                    " CAST(round((julianday(ifnull(ended, strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
                                    "  - julianday(started)) * 86400) AS INTEGER) AS seconds"
                                    " FROM runs WHERE id=?1",
                                    b, 1, &run);
    if (s == SL_ERR_NOTFOUND)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: run %lld does not exist",
                            sqlite3_db_filename(db, "main"), (long long)run_id);
    SL_TRY(s);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "run", run);
    static const struct {
        const char *key, *sql;
    } parts[] = {
        {"series", "SELECT series, count(*) AS n, min(step) AS first_step, max(step) AS last_step,"
                   " (SELECT value FROM metrics m2 WHERE m2.run_id=m.run_id AND m2.series=m.series"
                   "  ORDER BY step DESC LIMIT 1) AS last, min(value) AS min, max(value) AS max"
                   " FROM metrics m WHERE run_id=?1 GROUP BY series ORDER BY series"},
        {"jobs", "SELECT id, kind, status, total, done, message, updated FROM jobs WHERE run_id=?1"
                 " ORDER BY id"},
        {"datasets", "SELECT id, kind, path, sha256, n_rows, n_episodes FROM datasets"
                     " WHERE run_id=?1 ORDER BY id"},
        {"models", "SELECT id, kind, path, sha256, parent_id, metrics FROM models WHERE run_id=?1"
                   " ORDER BY id"},
        {"artifacts", "SELECT id, kind, path, bytes FROM artifacts WHERE run_id=?1 ORDER BY id"},
        {"ab_experiments", "SELECT id, name, verdict FROM ab_experiments WHERE run_id=?1"
                           " ORDER BY id"},
        {"ladder", "SELECT level, horizon, passed, verdict FROM ladder_levels WHERE run_id=?1"
                   " ORDER BY level"},
        {"estimates", "SELECT name, arm, value, ci_lo, ci_hi, n FROM estimates WHERE run_id=?1"
                      " ORDER BY id"},
        {"world_eval", "SELECT horizon, mse, std_ratio, var_growth, trust, auc FROM world_eval"
                       " WHERE run_id=?1 ORDER BY horizon"},
        {"results", "SELECT id, kind, created FROM results WHERE run_id=?1 ORDER BY id"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        cJSON *rows = NULL;
        if ((s = sl_store_rows_json(db, parts[i].sql, b, 1, &rows)) != SL_OK) {
            cJSON_Delete(root);
            return s;
        }
        cJSON_AddItemToObject(root, parts[i].key, rows);
    }
    cJSON *counts = NULL;
    s = sl_store_row_json(db,
                          "SELECT (SELECT count(*) FROM branches WHERE run_id=?1) AS branches,"
                          " (SELECT count(*) FROM branches WHERE run_id=?1 AND passed=1)"
                          "   AS branches_passed,"
                          " (SELECT count(*) FROM weights WHERE run_id=?1) AS weights,"
                          " (SELECT count(*) FROM samples WHERE run_id=?1) AS sample_sets,"
                          " (SELECT count(*) FROM metrics WHERE run_id=?1) AS metric_points,"
                          " (SELECT count(*) FROM anonymization_logs WHERE run_id=?1)"
                          "   AS privacy_releases,"
                          " (SELECT count(*) FROM deployments WHERE run_id=?1) AS deployments",
                          b, 1, &counts);
    if (s != SL_OK) {
        cJSON_Delete(root);
        return s;
    }
    cJSON_AddItemToObject(root, "counts", counts);
    *out = root;
    return SL_OK;
}

/* [{key, a, b}] for keys whose flattened values differ (missing = null). */
static cJSON *diff_objects(const cJSON *fa, const cJSON *fb, int *n_same) {
    cJSON *diff = cJSON_CreateArray();
    *n_same = 0;
    for (const cJSON *c = fa->child; c; c = c->next) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(fb, c->string);
        if (o && strcmp(o->valuestring, c->valuestring) == 0) {
            (*n_same)++;
            continue;
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "key", c->string);
        cJSON_AddStringToObject(d, "a", c->valuestring);
        if (o)
            cJSON_AddStringToObject(d, "b", o->valuestring);
        else
            cJSON_AddNullToObject(d, "b");
        cJSON_AddItemToArray(diff, d);
    }
    for (const cJSON *c = fb->child; c; c = c->next) {
        if (cJSON_GetObjectItemCaseSensitive(fa, c->string)) continue;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "key", c->string);
        cJSON_AddNullToObject(d, "a");
        cJSON_AddStringToObject(d, "b", c->valuestring);
        cJSON_AddItemToArray(diff, d);
    }
    return diff;
}

static const cJSON *find_series(const cJSON *arr, const char *name) {
    for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next)
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "series")), name) == 0) return c;
    return NULL;
}

sl_status sl_registry_run_compare(sl_registry *reg, int64_t a, int64_t b, cJSON **out) {
    *out = NULL;
    cJSON *sa = NULL, *sb = NULL;
    SL_TRY(sl_registry_run_summary(reg, a, &sa));
    sl_status s = sl_registry_run_summary(reg, b, &sb);
    if (s != SL_OK) {
        cJSON_Delete(sa);
        return s;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *ra = cJSON_GetObjectItem(sa, "run"), *rb = cJSON_GetObjectItem(sb, "run");
    cJSON_AddObjectToObject(root, "a");
    cJSON_AddObjectToObject(root, "b");
    static const char *const fields[] = {"id", "command", "status", "seed", "git", "started",
                                         "seconds", "note"};
    for (int side = 0; side < 2; side++) {
        cJSON *dst = cJSON_GetObjectItem(root, side ? "b" : "a");
        const cJSON *src = side ? rb : ra;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            const cJSON *v = cJSON_GetObjectItem(src, fields[i]);
            if (v) cJSON_AddItemToObject(dst, fields[i], cJSON_Duplicate(v, 1));
        }
    }
    const char *blocks[2] = {"config", "summary"};
    for (int k = 0; k < 2; k++) {
        cJSON *fa = NULL, *fb = NULL;
        sl_json_flatten(cJSON_GetObjectItem(ra, blocks[k]), &fa);
        sl_json_flatten(cJSON_GetObjectItem(rb, blocks[k]), &fb);
        int same = 0;
        char key[32];
        snprintf(key, sizeof key, "%s_diff", blocks[k]);
        cJSON_AddItemToObject(root, key, diff_objects(fa, fb, &same));
        snprintf(key, sizeof key, "%s_same", blocks[k]);
        cJSON_AddNumberToObject(root, key, same);
        cJSON_Delete(fa);
        cJSON_Delete(fb);
    }
    /* metric series: union, last values side by side */
    cJSON *series = cJSON_AddArrayToObject(root, "series");
    const cJSON *la = cJSON_GetObjectItem(sa, "series"), *lb = cJSON_GetObjectItem(sb, "series");
    for (int side = 0; side < 2; side++) {
        const cJSON *mine = side ? lb : la, *other = side ? la : lb;
        for (const cJSON *c = mine->child; c; c = c->next) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "series"));
            const cJSON *o = find_series(other, name);
            if (side == 1 && o) continue; /* already emitted from side a */
            const cJSON *ca = side ? o : c, *cb = side ? c : o;
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "series", name);
            double va = ca ? sl_json_num(ca, "last", 0.0) : 0.0;
            double vb = cb ? sl_json_num(cb, "last", 0.0) : 0.0;
            if (ca) cJSON_AddNumberToObject(row, "a_last", va); else cJSON_AddNullToObject(row, "a_last");
            if (cb) cJSON_AddNumberToObject(row, "b_last", vb); else cJSON_AddNullToObject(row, "b_last");
            if (ca && cb) cJSON_AddNumberToObject(row, "diff", vb - va); else cJSON_AddNullToObject(row, "diff");
            cJSON_AddItemToArray(series, row);
        }
    }
    const char *carry[] = {"ab_experiments", "ladder", "estimates", "world_eval", "counts"};
    for (size_t i = 0; i < sizeof carry / sizeof carry[0]; i++) {
        cJSON *pair = cJSON_AddObjectToObject(root, carry[i]);
        cJSON_AddItemToObject(pair, "a", cJSON_DetachItemFromObject(sa, carry[i]));
        cJSON_AddItemToObject(pair, "b", cJSON_DetachItemFromObject(sb, carry[i]));
    }
    cJSON_Delete(sa);
    cJSON_Delete(sb);
    *out = root;
    return SL_OK;
}
