/* SPDX-License-Identifier: Apache-2.0 */
/* deploy.c - the registry side of the model lifecycle: versions, endpoints, rollouts, the
 * append-only deployment history, reward signals and live episodes.
 *
 * Invariant: sl_registry_deploy_apply is one IMMEDIATE transaction; every condition it was
 * given (a version's status, the endpoint's live version, the rollout's state, the single
 * active rollout per endpoint enforced by a unique index) is checked inside it, so two
 * writers can never both win, and a failure leaves nothing behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

static void now_iso(char buf[32]) { sl_utc_iso8601(buf, 32); }

static sl_status prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what) {
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sl_store_db_error(db, what);
    }
    return SL_OK;
}

static void bind_txt(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, int64_t id) {
    if (id > 0) sqlite3_bind_int64(st, i, id);
    else sqlite3_bind_null(st, i);
}

/* step a write; SQLITE_CONSTRAINT becomes SL_ERR_STATE (a rule of the lifecycle), others DB */
static sl_status step_write(sqlite3 *db, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sl_status s = SL_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            s = sl_set_error(SL_ERR_STATE, "registry: %s refused: %s", what, sqlite3_errmsg(db));
        else
            s = sl_store_db_error(db, what);
    }
    sqlite3_finalize(st);
    return s;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static char *dup_col(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

void sl_mv_record_clear(sl_mv_record *r) {
    if (!r) return;
    free(r->lineage_json);
    free(r->metrics_json);
    r->lineage_json = r->metrics_json = NULL;
}

/* --- versions ------------------------------------------------------------------------------ */

#define MV_COLS                                                                                \
    "id, kind, path, sha256, status, eval_passed, COALESCE(parent_id,0), COALESCE(run_id,0),"  \
    " created, updated, lineage, metrics"

static sl_status mv_from_row(sqlite3_stmt *st, sl_mv_record *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    copy_col(r->kind, sizeof r->kind, st, 1);
    copy_col(r->path, sizeof r->path, st, 2);
    copy_col(r->sha256, sizeof r->sha256, st, 3);
    copy_col(r->status, sizeof r->status, st, 4);
    r->eval_passed = sqlite3_column_int(st, 5);
    r->parent_id = sqlite3_column_int64(st, 6);
    r->run_id = sqlite3_column_int64(st, 7);
    copy_col(r->created, sizeof r->created, st, 8);
    copy_col(r->updated, sizeof r->updated, st, 9);
    r->lineage_json = dup_col(st, 10);
    r->metrics_json = dup_col(st, 11);
    if ((sqlite3_column_type(st, 10) != SQLITE_NULL && !r->lineage_json) ||
        (sqlite3_column_type(st, 11) != SQLITE_NULL && !r->metrics_json)) {
        sl_mv_record_clear(r);
        return sl_set_error(SL_ERR_NOMEM, "registry: out of memory reading a model version");
    }
    return SL_OK;
}

static sl_status history_row(sqlite3 *db, const sl_history_event *e, int64_t rollout,
                             const char *actor, const char *ts) {
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "INSERT INTO deployment_history(endpoint, version_id, rollout_id, event,"
                " from_status, to_status, share, actor, reason, created)"
                " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                &st, "deployment history"));
    bind_txt(st, 1, e->endpoint);
    sqlite3_bind_int64(st, 2, e->version_id);
    bind_id(st, 3, rollout);
    bind_txt(st, 4, e->event);
    bind_txt(st, 5, e->from);
    bind_txt(st, 6, e->to);
    if (isfinite(e->share)) sqlite3_bind_double(st, 7, e->share);
    else sqlite3_bind_null(st, 7);
    bind_txt(st, 8, actor && *actor ? actor : "unknown");
    bind_txt(st, 9, e->reason);
    bind_txt(st, 10, ts);
    return step_write(db, st, "deployment history");
}

static sl_status tx(sqlite3 *db, const char *sql) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return sl_store_db_error(db, sql);
    return SL_OK;
}

static sl_status tx_finish(sqlite3 *db, sl_status s) {
    if (s == SL_OK) {
        s = tx(db, "COMMIT");
        if (s == SL_OK) return SL_OK;
    }
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

sl_status sl_registry_mv_insert(sl_registry *reg, const char *kind, const char *path,
                                const char *sha256, int64_t parent_id, int64_t run_id,
                                const char *lineage_json, const char *actor, int64_t *id) {
    if (id) *id = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "model versions need a registry");
    if (!kind || !path || !sha256) return sl_set_error(SL_ERR_ARG, "registry: version needs kind, path and sha256");
    sqlite3 *db = reg->db;
    char ts[32];
    now_iso(ts);
    SL_TRY(tx(db, "BEGIN IMMEDIATE"));
    sqlite3_stmt *st;
    sl_status s = prep(db,
                       "INSERT INTO model_versions(kind, path, sha256, parent_id, run_id, lineage,"
                       " created, updated) VALUES (?1,?2,?3,?4,?5,?6,?7,?7)",
                       &st, "register version");
    if (s == SL_OK) {
        bind_txt(st, 1, kind);
        bind_txt(st, 2, path);
        bind_txt(st, 3, sha256);
        bind_id(st, 4, parent_id);
        bind_id(st, 5, run_id);
        bind_txt(st, 6, lineage_json);
        bind_txt(st, 7, ts);
        s = step_write(db, st, "register version");
    }
    int64_t vid = s == SL_OK ? sqlite3_last_insert_rowid(db) : 0;
    if (s == SL_OK) {
        sl_history_event e = {NULL, vid, "registered", NULL, "training", NAN, kind};
        s = history_row(db, &e, 0, actor, ts);
    }
    s = tx_finish(db, s);
    if (s == SL_OK && id) *id = vid;
    return s;
}

sl_status sl_registry_mv_fetch(sl_registry *reg, int64_t id, sl_mv_record *out) {
    memset(out, 0, sizeof *out);
    if (!reg) return sl_set_error(SL_ERR_ARG, "model versions need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db, "SELECT " MV_COLS " FROM model_versions WHERE id = ?1", &st, "read version"));
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sl_status s;
    if (rc == SQLITE_ROW) s = mv_from_row(st, out);
    else if (rc == SQLITE_DONE) s = sl_set_error(SL_ERR_NOTFOUND, "no model version %lld", (long long)id);
    else s = sl_store_db_error(db, "read version");
    sqlite3_finalize(st);
    return s;
}

sl_status sl_registry_mv_list(sl_registry *reg, const char *status, sl_mv_record **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "model versions need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "SELECT " MV_COLS " FROM model_versions WHERE ?1 IS NULL OR status = ?1"
                " ORDER BY id DESC",
                &st, "list versions"));
    bind_txt(st, 1, status);
    size_t cap = 0;
    sl_mv_record *v = NULL;
    sl_status s = SL_OK;
    int rc;
    while (s == SL_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            sl_mv_record *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                s = sl_set_error(SL_ERR_NOMEM, "registry: out of memory listing versions");
                break;
            }
            v = nv;
            cap = nc;
        }
        s = mv_from_row(st, &v[*n]);
        if (s == SL_OK) (*n)++;
    }
    if (s == SL_OK && rc != SQLITE_DONE) s = sl_store_db_error(db, "list versions");
    sqlite3_finalize(st);
    if (s != SL_OK) {
        for (size_t i = 0; i < *n; i++) sl_mv_record_clear(&v[i]);
        free(v);
        *n = 0;
        return s;
    }
    *out = v;
    return SL_OK;
}

/* --- the atomic change set ------------------------------------------------------------------- */

static sl_status apply_mv(sqlite3 *db, const sl_mv_change *c, const char *ts) {
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "UPDATE model_versions SET status = COALESCE(?2, status),"
                " eval_passed = CASE WHEN ?3 >= -1 THEN ?3 ELSE eval_passed END,"
                " metrics = COALESCE(?4, metrics), updated = ?5"
                " WHERE id = ?1 AND (?6 IS NULL OR status = ?6)",
                &st, "version status"));
    sqlite3_bind_int64(st, 1, c->id);
    bind_txt(st, 2, c->to);
    sqlite3_bind_int(st, 3, c->set_eval);
    bind_txt(st, 4, c->metrics_json);
    bind_txt(st, 5, ts);
    bind_txt(st, 6, c->expect);
    SL_TRY(step_write(db, st, "version status"));
    if (sqlite3_changes(db) != 1)
        return sl_set_error(SL_ERR_STATE, "model version %lld is not %s (changed meanwhile or missing)",
                            (long long)c->id, c->expect ? c->expect : "present");
    return SL_OK;
}

static sl_status apply_endpoint(sqlite3 *db, const sl_deploy_change *c, const char *ts) {
    sqlite3_stmt *st;
    if (c->expect_live >= 0) {
        SL_TRY(prep(db, "SELECT COALESCE(live_version, 0) FROM endpoints WHERE name = ?1", &st,
                    "endpoint"));
        bind_txt(st, 1, c->endpoint);
        int rc = sqlite3_step(st);
        int64_t live = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sl_store_db_error(db, "endpoint");
        if (live != c->expect_live)
            return sl_set_error(SL_ERR_STATE, "endpoint %s: live version is %lld, expected %lld",
                                c->endpoint, (long long)live, (long long)c->expect_live);
    }
    if (c->new_live < 0) return SL_OK;
    SL_TRY(prep(db,
                "INSERT INTO endpoints(name, live_version, updated) VALUES (?1,?2,?3)"
                " ON CONFLICT(name) DO UPDATE SET live_version = ?2, updated = ?3",
                &st, "endpoint"));
    bind_txt(st, 1, c->endpoint);
    bind_id(st, 2, c->new_live);
    bind_txt(st, 3, ts);
    return step_write(db, st, "endpoint");
}

static sl_status apply_rollout(sqlite3 *db, const sl_deploy_change *c, const char *ts) {
    sl_rollout_record *r = c->rollout;
    sqlite3_stmt *st;
    if (r->id == 0) {
        SL_TRY(prep(db,
                    "INSERT INTO rollouts(endpoint, candidate, live, strategy, plan, stage, share,"
                    " state, reason, started, updated) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10)",
                    &st, "start rollout"));
        bind_txt(st, 1, r->endpoint);
        sqlite3_bind_int64(st, 2, r->candidate);
        bind_id(st, 3, r->live);
        bind_txt(st, 4, r->strategy);
        bind_txt(st, 5, r->plan_json);
        sqlite3_bind_int(st, 6, r->stage);
        sqlite3_bind_double(st, 7, r->share);
        bind_txt(st, 8, r->state);
        bind_txt(st, 9, r->reason);
        bind_txt(st, 10, ts);
        sl_status s = step_write(db, st, "start rollout");
        if (s == SL_ERR_STATE)
            return sl_set_error(SL_ERR_STATE, "endpoint %s already has a rollout in progress",
                                r->endpoint);
        SL_TRY(s);
        r->id = sqlite3_last_insert_rowid(db);
        return SL_OK;
    }
    SL_TRY(prep(db,
                "UPDATE rollouts SET stage = ?2, share = ?3, state = ?4, reason = ?5, updated = ?6"
                " WHERE id = ?1 AND (?7 IS NULL OR state = ?7)",
                &st, "update rollout"));
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int(st, 2, r->stage);
    sqlite3_bind_double(st, 3, r->share);
    bind_txt(st, 4, r->state);
    bind_txt(st, 5, r->reason);
    bind_txt(st, 6, ts);
    bind_txt(st, 7, c->expect_rollout_state);
    SL_TRY(step_write(db, st, "update rollout"));
    if (sqlite3_changes(db) != 1)
        return sl_set_error(SL_ERR_STATE, "rollout %lld is no longer %s", (long long)r->id,
                            c->expect_rollout_state ? c->expect_rollout_state : "present");
    return SL_OK;
}

sl_status sl_registry_deploy_apply(sl_registry *reg, const sl_deploy_change *c) {
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    char ts[32];
    now_iso(ts);
    int64_t inserted_before = c->rollout ? c->rollout->id : -1;
    SL_TRY(tx(db, "BEGIN IMMEDIATE"));
    sl_status s = SL_OK;
    for (size_t i = 0; s == SL_OK && i < c->n_mv; i++) s = apply_mv(db, &c->mv[i], ts);
    if (s == SL_OK && c->endpoint) s = apply_endpoint(db, c, ts);
    if (s == SL_OK && c->rollout) s = apply_rollout(db, c, ts);
    int64_t rid = c->rollout ? c->rollout->id : 0;
    for (size_t i = 0; s == SL_OK && i < c->n_ev; i++) s = history_row(db, &c->ev[i], rid, c->actor, ts);
    s = tx_finish(db, s);
    if (s != SL_OK && c->rollout && inserted_before == 0) c->rollout->id = 0;
    return s;
}

/* --- endpoints and rollouts ---------------------------------------------------------------- */

static void rollout_from_row(sqlite3_stmt *st, sl_rollout_record *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    copy_col(r->endpoint, sizeof r->endpoint, st, 1);
    r->candidate = sqlite3_column_int64(st, 2);
    r->live = sqlite3_column_int64(st, 3);
    copy_col(r->strategy, sizeof r->strategy, st, 4);
    copy_col(r->plan_json, sizeof r->plan_json, st, 5);
    r->stage = sqlite3_column_int(st, 6);
    r->share = sqlite3_column_double(st, 7);
    copy_col(r->state, sizeof r->state, st, 8);
    copy_col(r->reason, sizeof r->reason, st, 9);
}

#define RO_COLS "id, endpoint, candidate, COALESCE(live,0), strategy, plan, stage, share, state, reason"

sl_status sl_registry_endpoint_get(sl_registry *reg, const char *endpoint, int64_t *live,
                                   sl_rollout_record *active, int *has) {
    *live = 0;
    *has = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db, "SELECT COALESCE(live_version,0) FROM endpoints WHERE name = ?1", &st, "endpoint"));
    bind_txt(st, 1, endpoint);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *live = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sl_store_db_error(db, "endpoint");
    SL_TRY(prep(db, "SELECT " RO_COLS " FROM rollouts WHERE endpoint = ?1 AND state = 'active'",
                &st, "active rollout"));
    bind_txt(st, 1, endpoint);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (active) rollout_from_row(st, active);
        *has = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sl_store_db_error(db, "active rollout");
    return SL_OK;
}

sl_status sl_registry_rollout_fetch(sl_registry *reg, int64_t id, sl_rollout_record *out) {
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db, "SELECT " RO_COLS " FROM rollouts WHERE id = ?1", &st, "rollout"));
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sl_status s = SL_OK;
    if (rc == SQLITE_ROW) rollout_from_row(st, out);
    else if (rc == SQLITE_DONE) s = sl_set_error(SL_ERR_NOTFOUND, "no rollout %lld", (long long)id);
    else s = sl_store_db_error(db, "rollout");
    sqlite3_finalize(st);
    return s;
}

sl_status sl_registry_rollouts_active(sl_registry *reg, int64_t *ids, size_t cap, size_t *n) {
    *n = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db, "SELECT id FROM rollouts WHERE state = 'active' ORDER BY id", &st, "rollouts"));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (*n < cap) ids[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sl_store_db_error(db, "rollouts");
    return SL_OK;
}

sl_status sl_registry_endpoint_previous(sl_registry *reg, const char *endpoint, int64_t live,
                                        int64_t *prev) {
    *prev = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    /* the newest 'live' event of another version that happened before live's own 'live' */
    SL_TRY(prep(db,
                "SELECT version_id FROM deployment_history WHERE endpoint = ?1 AND event = 'live'"
                " AND version_id != ?2 AND id < (SELECT COALESCE(MAX(id), 1e18) FROM"
                " deployment_history WHERE endpoint = ?1 AND event = 'live' AND version_id = ?2)"
                " ORDER BY id DESC LIMIT 1",
                &st, "previous live version"));
    bind_txt(st, 1, endpoint);
    sqlite3_bind_int64(st, 2, live);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *prev = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sl_store_db_error(db, "previous live version");
    return SL_OK;
}

sl_status sl_registry_deploy_history(sl_registry *reg, const char *endpoint, int limit, char **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "SELECT id, endpoint, version_id, rollout_id, event, from_status, to_status, share,"
                " actor, reason, created FROM deployment_history"
                " WHERE ?1 IS NULL OR endpoint = ?1 ORDER BY id DESC LIMIT ?2",
                &st, "history"));
    bind_txt(st, 1, endpoint);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : 1000000);
    cJSON *arr = cJSON_CreateArray();
    sl_status s = arr ? SL_OK : sl_set_error(SL_ERR_NOMEM, "history: out of memory");
    int rc = SQLITE_DONE;
    while (s == SL_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            s = sl_set_error(SL_ERR_NOMEM, "history: out of memory");
            break;
        }
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *name = sqlite3_column_name(st, c);
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL: cJSON_AddNullToObject(o, name); break;
            case SQLITE_INTEGER: cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, c)); break;
            default: cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, c)); break;
            }
        }
    }
    if (s == SL_OK && rc != SQLITE_DONE) s = sl_store_db_error(db, "history");
    sqlite3_finalize(st);
    if (s == SL_OK) {
        *out = cJSON_PrintUnformatted(arr);
        if (!*out) s = sl_set_error(SL_ERR_NOMEM, "history: out of memory");
    }
    cJSON_Delete(arr);
    return s;
}

/* --- reward signals and live episodes --------------------------------------------------------- */

sl_status sl_registry_reward_signals(sl_registry *reg, int64_t version_id, int64_t episode,
                                     int64_t t, const char *model, size_t n,
                                     const char *const *component, const double *raw,
                                     const double *weight, const double *value) {
    if (!reg) return SL_OK;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(raw[i]) || !isfinite(weight[i]) || !isfinite(value[i]))
            return sl_set_error(SL_ERR_NAN, "registry: reward component %s is not finite", component[i]);
    sqlite3 *db = reg->db;
    char ts[32];
    now_iso(ts);
    SL_TRY(tx(db, "BEGIN IMMEDIATE"));
    sl_status s = SL_OK;
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        sqlite3_stmt *st;
        s = prep(db,
                 "INSERT INTO reward_signals(version_id, episode, t, model, component, raw, weight,"
                 " value, created) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                 &st, "reward signal");
        if (s != SL_OK) break;
        bind_id(st, 1, version_id);
        sqlite3_bind_int64(st, 2, episode);
        sqlite3_bind_int64(st, 3, t);
        bind_txt(st, 4, model);
        bind_txt(st, 5, component[i]);
        sqlite3_bind_double(st, 6, raw[i]);
        sqlite3_bind_double(st, 7, weight[i]);
        sqlite3_bind_double(st, 8, value[i]);
        bind_txt(st, 9, ts);
        s = step_write(db, st, "reward signal");
    }
    return tx_finish(db, s);
}

sl_status sl_registry_training_episode(sl_registry *reg, int64_t version_id, const char *endpoint,
                                       double score, int failure, double latency_ms,
                                       double reward, const char *source) {
    if (!reg) return SL_OK;
    if (!isfinite(score) || !isfinite(latency_ms) || !isfinite(reward))
        return sl_set_error(SL_ERR_NAN, "registry: episode outcome is not finite");
    sqlite3 *db = reg->db;
    char ts[32];
    now_iso(ts);
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "INSERT INTO training_episodes(version_id, endpoint, score, failure, latency_ms,"
                " reward, source, created) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                &st, "episode"));
    bind_id(st, 1, version_id);
    bind_txt(st, 2, endpoint);
    sqlite3_bind_double(st, 3, score);
    sqlite3_bind_int(st, 4, failure ? 1 : 0);
    sqlite3_bind_double(st, 5, latency_ms);
    sqlite3_bind_double(st, 6, reward);
    bind_txt(st, 7, source);
    bind_txt(st, 8, ts);
    return step_write(db, st, "episode");
}

sl_status sl_registry_recent_episodes(sl_registry *reg, int64_t version_id, size_t cap,
                                      double *score, int *failure, double *latency_ms,
                                      double *reward, size_t *n) {
    *n = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "episodes need a registry");
    sqlite3 *db = reg->db;
    sqlite3_stmt *st;
    SL_TRY(prep(db,
                "SELECT score, failure, COALESCE(latency_ms, 0), COALESCE(reward, 0) FROM"
                " (SELECT * FROM training_episodes WHERE version_id = ?1 ORDER BY id DESC LIMIT ?2)"
                " ORDER BY id",
                &st, "recent episodes"));
    sqlite3_bind_int64(st, 1, version_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
        score[*n] = sqlite3_column_double(st, 0);
        failure[*n] = sqlite3_column_int(st, 1);
        latency_ms[*n] = sqlite3_column_double(st, 2);
        reward[*n] = sqlite3_column_double(st, 3);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sl_store_db_error(db, "recent episodes");
    return SL_OK;
}

sl_status sl_registry_rollout_claim(sl_registry *reg, int64_t id, int *claimed, int *orphaned) {
    *claimed = *orphaned = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "deployments need a registry");
    sqlite3 *db = reg->db;
    char host[256], boot[64];
    sl_store_read_host(host, sizeof host);
    sl_store_read_boot_id(boot, sizeof boot);
    long pid = (long)getpid();
    long long start = sl_store_proc_start_time(pid);
    SL_TRY(tx(db, "BEGIN IMMEDIATE"));
    sqlite3_stmt *st;
    sl_status s = prep(db, "SELECT owner_host, owner_boot, COALESCE(owner_pid, 0), COALESCE(owner_start, 0)"
                           " FROM rollouts WHERE id = ?1 AND state = 'active'", &st, "claim rollout");
    int rc = SQLITE_DONE, own = 0, dead = 0, other = 0;
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *h = (const char *)sqlite3_column_text(st, 0);
            const char *b = (const char *)sqlite3_column_text(st, 1);
            long opid = (long)sqlite3_column_int64(st, 2);
            long long ostart = sqlite3_column_int64(st, 3);
            if (!h) own = 1;                                          /* unclaimed */
            else if (strcmp(h, host) != 0) other = 1;                 /* another machine's */
            else if (!b || strcmp(b, boot) != 0) dead = 1;            /* rebooted since */
            else if (opid == pid && ostart == start) own = 1;         /* already ours */
            else if (sl_store_proc_start_time(opid) != ostart) dead = 1; /* owner gone */
            else other = 1;                                           /* a live server */
        } else if (rc != SQLITE_DONE) {
            s = sl_store_db_error(db, "claim rollout");
        }
        sqlite3_finalize(st);
    }
    if (s == SL_OK && own) {
        s = prep(db, "UPDATE rollouts SET owner_host = ?2, owner_boot = ?3, owner_pid = ?4, owner_start = ?5"
                     " WHERE id = ?1", &st, "claim rollout");
        if (s == SL_OK) {
            sqlite3_bind_int64(st, 1, id);
            bind_txt(st, 2, host);
            bind_txt(st, 3, boot);
            sqlite3_bind_int64(st, 4, pid);
            sqlite3_bind_int64(st, 5, start);
            s = step_write(db, st, "claim rollout");
        }
    }
    s = tx_finish(db, s);
    if (s == SL_OK) {
        *claimed = own;
        *orphaned = dead;
    }
    (void)other;
    return s;
}
