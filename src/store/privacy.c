/* SPDX-License-Identifier: Apache-2.0 */
/* privacy.c - the privacy ledger's SQL: budgets, charges, anonymization logs, the training
 * data pool (tables of migration 1 -> 2, schema.c).
 *
 * Invariant: a release's log row, its charges and its pool row are inserted in the same
 * BEGIN IMMEDIATE transaction as the budget check that admits them, so two writers (threads
 * or processes) can never both pass a check against the same remaining budget: SQLite's
 * write lock serialises them and the second sees the first's charges.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

/* --- helpers ------------------------------------------------------------------------------ */

static sl_status xexec(sqlite3 *db, const char *sql, const char *what) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return sl_store_db_error(db, what);
    return SL_OK;
}

static sl_status xprep(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what) {
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sl_store_db_error(db, what);
    }
    return SL_OK;
}

static sl_status xdone(sqlite3 *db, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sl_status s = SL_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) s = sl_store_db_error(db, what);
    sqlite3_finalize(st);
    return s;
}

static sl_status tx_end(sqlite3 *db, sl_status s, const char *what) {
    if (s == SL_OK) {
        s = xexec(db, "COMMIT", what);
        if (s == SL_OK) return SL_OK;
    }
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static void btext(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static char *dupcol(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static int64_t to_nano(double eps) { return (int64_t)llround(eps * 1e9); }

static const char *const period_names[SL_PERIOD_COUNT] = {"daily", "weekly", "monthly",
                                                          "lifetime"};
_Static_assert(sizeof period_names / sizeof period_names[0] == SL_PERIOD_COUNT, "periods");

const char *sl_budget_period_name(sl_budget_period p) {
    return (unsigned)p < SL_PERIOD_COUNT ? period_names[p] : "unknown";
}

sl_status sl_budget_period_parse(const char *name, sl_budget_period *out) {
    for (int i = 0; i < SL_PERIOD_COUNT; i++)
        if (name && strcmp(name, period_names[i]) == 0) {
            *out = (sl_budget_period)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown budget period '%s' (daily, weekly, monthly, lifetime)",
                        name ? name : "(null)");
}

int64_t sl_budget_period_seconds(sl_budget_period p) {
    switch (p) {
    case SL_PERIOD_DAILY: return 86400;
    case SL_PERIOD_WEEKLY: return 7 * 86400;
    case SL_PERIOD_MONTHLY: return 30 * 86400;
    default: return 0;
    }
}

sl_status sl_budget_defaults_from_env(sl_budget_defaults *d) {
    d->max_epsilon = 1.0;
    d->period = SL_PERIOD_MONTHLY;
    const char *e = getenv("MAX_PRIVACY_EPSILON");
    if (e && *e) {
        char *end = NULL;
        errno = 0;
        double v = strtod(e, &end);
        if (errno || end == e || *end || !isfinite(v) || v <= 0 || v > 1e6)
            return sl_set_error(SL_ERR_ARG,
                                "MAX_PRIVACY_EPSILON='%s': must be a number in (0, 1e6]", e);
        d->max_epsilon = v;
    }
    const char *p = getenv("PRIVACY_BUDGET_PERIOD");
    if (p && *p && sl_budget_period_parse(p, &d->period) != SL_OK)
        return sl_set_error(SL_ERR_ARG,
                            "PRIVACY_BUDGET_PERIOD='%s': must be daily, weekly, monthly or "
                            "lifetime", p);
    return SL_OK;
}

static int valid_scope(const char *scope) {
    return scope && (strcmp(scope, "subject") == 0 || strcmp(scope, "dataset") == 0);
}

/* Limit in nano-epsilon for (scope, key, period); -1 = unlimited. */
static sl_status limit_nano(sqlite3 *db, const char *scope, const char *key, sl_budget_period p,
                            const sl_budget_defaults *def, int64_t *out) {
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(db,
                 "SELECT eps_nano FROM privacy_budgets WHERE scope=?1 AND period=?3 AND"
                 " key IN (?2, '*') ORDER BY key = '*' LIMIT 1",
                 &st, "read budget"));
    btext(st, 1, scope);
    btext(st, 2, key);
    btext(st, 3, period_names[p]);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        *out = (def && def->period == p) ? to_nano(def->max_epsilon) : -1;
    } else {
        sqlite3_finalize(st);
        return sl_store_db_error(db, "read budget");
    }
    sqlite3_finalize(st);
    return SL_OK;
}

/* Spent nano-epsilon (and rho) of (scope, key) in period p ending at now. */
static sl_status spent_nano(sqlite3 *db, const char *scope, const char *key, sl_budget_period p,
                            int64_t now, int64_t *nano, int64_t *formal_nano, double *rho) {
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(db,
                 "SELECT ifnull(sum(eps_nano),0), ifnull(sum(CASE WHEN formal THEN eps_nano"
                 " ELSE 0 END),0), ifnull(sum(rho),0) FROM privacy_charges"
                 " WHERE scope=?1 AND key=?2 AND created_unix > ?3",
                 &st, "read charges"));
    int64_t secs = sl_budget_period_seconds(p);
    btext(st, 1, scope);
    btext(st, 2, key);
    sqlite3_bind_int64(st, 3, secs ? now - secs : INT64_MIN);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return sl_store_db_error(db, "read charges");
    }
    *nano = sqlite3_column_int64(st, 0);
    if (formal_nano) *formal_nano = sqlite3_column_int64(st, 1);
    if (rho) *rho = sqlite3_column_double(st, 2);
    sqlite3_finalize(st);
    return SL_OK;
}

/* The budget rows of one scope, loaded once per release (the table is small: defaults plus
 * the subjects and datasets someone set a limit for). */
typedef struct budget_cache {
    size_t n;
    char **key;
    int *period;
    int64_t *nano;
} budget_cache;

static void cache_free(budget_cache *c) {
    for (size_t i = 0; i < c->n; i++) free(c->key[i]);
    free(c->key);
    free(c->period);
    free(c->nano);
    memset(c, 0, sizeof *c);
}

static sl_status cache_load(sqlite3 *db, const char *scope, budget_cache *c) {
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(db, "SELECT key, period, eps_nano FROM privacy_budgets WHERE scope=?1", &st,
                 "read budgets"));
    btext(st, 1, scope);
    size_t cap = 0;
    sl_status s = SL_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **k = realloc(c->key, nc * sizeof *k);
            if (k) c->key = k;
            int *p = realloc(c->period, nc * sizeof *p);
            if (p) c->period = p;
            int64_t *v = realloc(c->nano, nc * sizeof *v);
            if (v) c->nano = v;
            if (!k || !p || !v) {
                s = sl_set_error(SL_ERR_NOMEM, "read budgets: out of memory");
                break;
            }
            cap = nc;
        }
        sl_budget_period per = SL_PERIOD_LIFETIME;
        sl_budget_period_parse((const char *)sqlite3_column_text(st, 1), &per);
        c->key[c->n] = dupcol(st, 0);
        c->period[c->n] = (int)per;
        c->nano[c->n] = sqlite3_column_int64(st, 2);
        if (!c->key[c->n]) {
            s = sl_set_error(SL_ERR_NOMEM, "read budgets: out of memory");
            break;
        }
        c->n++;
    }
    if (s == SL_OK && rc != SQLITE_DONE) s = sl_store_db_error(db, "read budgets");
    sqlite3_finalize(st);
    if (s != SL_OK) cache_free(c);
    return s;
}

/* Limits of `key` per period from the cache: its own row, else '*', else the default; -1 for
 * unlimited. Returns 1 if any period is limited. */
static int cache_limits(const budget_cache *c, const char *key, const sl_budget_defaults *def,
                        int64_t lim[SL_PERIOD_COUNT]) {
    int any = 0;
    for (int p = 0; p < SL_PERIOD_COUNT; p++) {
        int64_t own = -2, star = -2;
        for (size_t i = 0; i < c->n; i++) {
            if (c->period[i] != p) continue;
            if (strcmp(c->key[i], key) == 0) own = c->nano[i];
            if (strcmp(c->key[i], "*") == 0) star = c->nano[i];
        }
        lim[p] = own != -2 ? own : star != -2 ? star
                                 : (def && (int)def->period == p) ? to_nano(def->max_epsilon) : -1;
        if (lim[p] >= 0) any = 1;
    }
    return any;
}

#define SPENT_SQL                                                                              \
    "SELECT ifnull(sum(CASE WHEN created_unix > ?3 THEN eps_nano END),0),"                     \
    " ifnull(sum(CASE WHEN created_unix > ?4 THEN eps_nano END),0),"                           \
    " ifnull(sum(CASE WHEN created_unix > ?5 THEN eps_nano END),0),"                           \
    " ifnull(sum(eps_nano),0) FROM privacy_charges WHERE scope=?1 AND key=?2"

/* Check one key against its limits with the prepared SPENT_SQL statement. */
static sl_status check_one(sqlite3 *db, sqlite3_stmt *st, const budget_cache *c,
                           const char *scope, const char *key, int64_t now, int64_t req,
                           const sl_budget_defaults *def) {
    int64_t lim[SL_PERIOD_COUNT];
    if (!cache_limits(c, key, def, lim)) return SL_OK;
    sqlite3_reset(st);
    btext(st, 1, scope);
    btext(st, 2, key);
    for (int p = 0; p < 3; p++)
        sqlite3_bind_int64(st, 3 + p, now - sl_budget_period_seconds((sl_budget_period)p));
    if (sqlite3_step(st) != SQLITE_ROW) return sl_store_db_error(db, "read charges");
    for (int p = 0; p < SL_PERIOD_COUNT; p++) {
        if (lim[p] < 0) continue;
        int64_t spent = sqlite3_column_int64(st, p);
        if (spent + req > lim[p]) {
            int64_t rem = lim[p] > spent ? lim[p] - spent : 0;
            return sl_set_error(SL_ERR_RANGE,
                                "budget exceeded: %s '%s', %s: spent %.9f of %.9f, remaining "
                                "%.9f, requested %.9f",
                                scope, key, period_names[p], (double)spent * 1e-9,
                                (double)lim[p] * 1e-9, (double)rem * 1e-9, (double)req * 1e-9);
        }
    }
    return SL_OK;
}

static sl_status json_ok(const char *txt, const char *what) {
    if (!txt) return SL_OK;
    cJSON *j = cJSON_Parse(txt);
    if (!j) return sl_set_error(SL_ERR_ARG, "%s: not valid JSON", what);
    cJSON_Delete(j);
    return SL_OK;
}

/* --- recording a release ------------------------------------------------------------------ */

static sl_status insert_log(sqlite3 *db, const sl_ledger_release *r, const char *status,
                            int64_t *id) {
    char iso[32];
    sl_utc_iso8601(iso, sizeof iso);
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(db,
                 "INSERT INTO anonymization_logs(run_id, created, created_unix, actor, technique,"
                 " dataset, input_path, input_sha256, output_path, output_sha256, tmp_path,"
                 " params, eps_nano, delta, rho, formal, n_rows, n_subjects, status, host, pid)"
                 " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,"
                 "?20,?21)",
                 &st, "insert anonymization log"));
    if (r->run_id > 0)
        sqlite3_bind_int64(st, 1, r->run_id);
    else
        sqlite3_bind_null(st, 1);
    btext(st, 2, iso);
    sqlite3_bind_int64(st, 3, r->now);
    btext(st, 4, r->actor);
    btext(st, 5, r->technique);
    btext(st, 6, r->dataset);
    btext(st, 7, r->input_path);
    btext(st, 8, r->input_sha256);
    btext(st, 9, r->output_path);
    btext(st, 10, r->output_sha256);
    btext(st, 11, r->tmp_path);
    btext(st, 12, r->params_json);
    sqlite3_bind_int64(st, 13, to_nano(r->epsilon));
    sqlite3_bind_double(st, 14, r->delta);
    sqlite3_bind_double(st, 15, r->rho);
    sqlite3_bind_int(st, 16, r->formal ? 1 : 0);
    sqlite3_bind_int64(st, 17, r->n_rows);
    sqlite3_bind_int64(st, 18, (int64_t)r->n_subjects);
    btext(st, 19, status);
    btext(st, 20, host);
    sqlite3_bind_int64(st, 21, (int64_t)getpid());
    SL_TRY(xdone(db, st, "insert anonymization log"));
    *id = sqlite3_last_insert_rowid(db);
    return SL_OK;
}

/* Charge of subject i (group privacy: epsilon per released record), or of the dataset (i < 0),
 * in nano-epsilon; rho scales the same way. */
static int64_t charge_nano(const sl_ledger_release *r, long i) {
    uint32_t m = (i >= 0 && r->subject_rows) ? r->subject_rows[i] : 1;
    return to_nano(r->epsilon) * (int64_t)m;
}

static sl_status insert_charge(sqlite3_stmt *st, sqlite3 *db, int64_t log_id, const char *scope,
                               const char *key, const sl_ledger_release *r, long i) {
    uint32_t m = (i >= 0 && r->subject_rows) ? r->subject_rows[i] : 1;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, log_id);
    btext(st, 2, scope);
    btext(st, 3, key);
    sqlite3_bind_int64(st, 4, charge_nano(r, i));
    sqlite3_bind_double(st, 5, r->rho * m);
    sqlite3_bind_int(st, 6, r->formal ? 1 : 0);
    sqlite3_bind_int64(st, 7, r->now);
    if (sqlite3_step(st) != SQLITE_DONE) return sl_store_db_error(db, "insert charge");
    return SL_OK;
}

sl_status sl_ledger_record(sl_registry *reg, const sl_ledger_release *r,
                           const sl_budget_defaults *def, int64_t *log_id) {
    if (log_id) *log_id = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "privacy ledger: a release needs a registry");
    if (!r->actor || !r->technique || !r->dataset || !*r->dataset)
        return sl_set_error(SL_ERR_ARG, "privacy ledger: actor, technique and dataset required");
    if (!isfinite(r->epsilon) || r->epsilon < 0 || r->epsilon > 1e6 || !isfinite(r->delta) ||
        r->delta < 0 || !isfinite(r->rho) || r->rho < 0)
        return sl_set_error(SL_ERR_ARG, "privacy ledger: epsilon %g / delta %g / rho %g invalid",
                            r->epsilon, r->delta, r->rho);
    if (r->now <= 0) return sl_set_error(SL_ERR_ARG, "privacy ledger: now must be > 0");
    if (r->n_subjects && !r->subjects)
        return sl_set_error(SL_ERR_ARG, "privacy ledger: subjects missing");
    for (size_t i = 0; r->subject_rows && i < r->n_subjects; i++)
        if (r->subject_rows[i] == 0 || (double)r->subject_rows[i] * r->epsilon > 1e6)
            return sl_set_error(SL_ERR_ARG, "privacy ledger: subject '%s': %u records x epsilon "
                                "%g out of range", r->subjects[i], r->subject_rows[i], r->epsilon);
    SL_TRY(json_ok(r->params_json, "privacy ledger: params"));
    sqlite3 *db = reg->db;
    int64_t req = to_nano(r->epsilon);
    SL_TRY(xexec(db, "BEGIN IMMEDIATE", "begin release"));
    budget_cache cd = {0}, cs = {0};
    sqlite3_stmt *spent = NULL;
    sl_status s = cache_load(db, "dataset", &cd);
    if (s == SL_OK) s = cache_load(db, "subject", &cs);
    if (s == SL_OK) s = xprep(db, SPENT_SQL, &spent, "read charges");
    if (s == SL_OK) s = check_one(db, spent, &cd, "dataset", r->dataset, r->now, req, def);
    for (size_t i = 0; s == SL_OK && i < r->n_subjects; i++)
        s = check_one(db, spent, &cs, "subject", r->subjects[i], r->now, charge_nano(r, (long)i),
                      def);
    sqlite3_finalize(spent);
    cache_free(&cd);
    cache_free(&cs);
    int64_t id = 0;
    if (s == SL_OK) s = insert_log(db, r, r->tmp_path ? "pending" : "placed", &id);
    sqlite3_stmt *st = NULL;
    if (s == SL_OK)
        s = xprep(db,
                  "INSERT INTO privacy_charges(log_id, scope, key, eps_nano, rho, formal,"
                  " created_unix) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                  &st, "insert charge");
    if (s == SL_OK) s = insert_charge(st, db, id, "dataset", r->dataset, r, -1);
    for (size_t i = 0; s == SL_OK && i < r->n_subjects; i++)
        s = insert_charge(st, db, id, "subject", r->subjects[i], r, (long)i);
    sqlite3_finalize(st);
    if (s == SL_OK && r->pool_source && r->output_path) {
        sqlite3_stmt *p = NULL;
        s = xprep(db,
                  "INSERT INTO training_data_pool(log_id, path, sha256, source, n_rows,"
                  " created_unix, expires_unix) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                  &p, "insert pool row");
        if (s == SL_OK) {
            sqlite3_bind_int64(p, 1, id);
            btext(p, 2, r->output_path);
            btext(p, 3, r->output_sha256);
            btext(p, 4, r->pool_source);
            sqlite3_bind_int64(p, 5, r->n_rows);
            sqlite3_bind_int64(p, 6, r->now);
            sqlite3_bind_int64(p, 7, r->now + (int64_t)(r->pool_days > 0 ? r->pool_days : 90) * 86400);
            s = xdone(db, p, "insert pool row");
        }
    }
    s = tx_end(db, s, "commit release");
    if (s == SL_OK && log_id) *log_id = id;
    return s;
}

sl_status sl_ledger_set_status(sl_registry *reg, int64_t log_id, const char *status) {
    if (!reg) return SL_OK;
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(reg->db, "UPDATE anonymization_logs SET status=?2 WHERE id=?1", &st,
                 "update release status"));
    sqlite3_bind_int64(st, 1, log_id);
    btext(st, 2, status);
    return xdone(reg->db, st, "update release status");
}

sl_status sl_ledger_list_pending(sl_registry *reg, sl_ledger_pending **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!reg) return SL_OK;
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(reg->db,
                 "SELECT id, ifnull(pid,0), host, tmp_path, output_path, output_sha256"
                 " FROM anonymization_logs WHERE status='pending' ORDER BY id",
                 &st, "list pending releases"));
    size_t cap = 0;
    sl_status s = SL_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            sl_ledger_pending *g = realloc(*out, nc * sizeof *g);
            if (!g) {
                s = sl_set_error(SL_ERR_NOMEM, "list pending releases: out of memory");
                break;
            }
            *out = g;
            cap = nc;
        }
        sl_ledger_pending *p = &(*out)[(*n)++];
        p->id = sqlite3_column_int64(st, 0);
        p->pid = sqlite3_column_int64(st, 1);
        p->host = dupcol(st, 2);
        p->tmp_path = dupcol(st, 3);
        p->output_path = dupcol(st, 4);
        p->output_sha256 = dupcol(st, 5);
        if (!p->host || !p->tmp_path || !p->output_path || !p->output_sha256)
            s = sl_set_error(SL_ERR_NOMEM, "list pending releases: out of memory");
    }
    if (s == SL_OK && rc != SQLITE_DONE) s = sl_store_db_error(reg->db, "list pending releases");
    sqlite3_finalize(st);
    if (s != SL_OK) {
        sl_ledger_pending_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return s;
}

void sl_ledger_pending_free(sl_ledger_pending *p, size_t n) {
    if (!p) return;
    for (size_t i = 0; i < n; i++) {
        free(p[i].host);
        free(p[i].tmp_path);
        free(p[i].output_path);
        free(p[i].output_sha256);
    }
    free(p);
}

/* --- budgets ------------------------------------------------------------------------------ */

sl_status sl_budget_set(sl_registry *reg, const char *scope, const char *key,
                        sl_budget_period period, double eps) {
    if (!reg) return sl_set_error(SL_ERR_ARG, "budget set: needs a registry");
    if (!valid_scope(scope))
        return sl_set_error(SL_ERR_ARG, "budget set: scope must be 'subject' or 'dataset'");
    if (!key || !*key) return sl_set_error(SL_ERR_ARG, "budget set: empty key");
    if ((unsigned)period >= SL_PERIOD_COUNT)
        return sl_set_error(SL_ERR_ARG, "budget set: bad period");
    if (!isfinite(eps) || eps > 1e6)
        return sl_set_error(SL_ERR_ARG, "budget set: epsilon %g not in [0, 1e6]", eps);
    sqlite3_stmt *st = NULL;
    char iso[32];
    sl_utc_iso8601(iso, sizeof iso);
    if (eps < 0) {
        SL_TRY(xprep(reg->db, "DELETE FROM privacy_budgets WHERE scope=?1 AND key=?2 AND period=?3",
                     &st, "clear budget"));
    } else {
        SL_TRY(xprep(reg->db,
                     "INSERT INTO privacy_budgets(scope, key, period, eps_nano, updated)"
                     " VALUES (?1,?2,?3,?4,?5) ON CONFLICT(scope, key, period) DO UPDATE SET"
                     " eps_nano=excluded.eps_nano, updated=excluded.updated",
                     &st, "set budget"));
        sqlite3_bind_int64(st, 4, to_nano(eps));
        btext(st, 5, iso);
    }
    btext(st, 1, scope);
    btext(st, 2, key);
    btext(st, 3, period_names[period]);
    return xdone(reg->db, st, "set budget");
}

sl_status sl_budget_show_json(sl_registry *reg, const char *scope, const char *key, int64_t now,
                              const sl_budget_defaults *def, char **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "budget show: needs a registry");
    if (!valid_scope(scope) || !key)
        return sl_set_error(SL_ERR_ARG, "budget show: scope must be 'subject' or 'dataset'");
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "periods");
    cJSON_AddStringToObject(j, "scope", scope);
    cJSON_AddStringToObject(j, "key", key);
    cJSON_AddNumberToObject(j, "now", (double)now);
    sl_status s = arr ? SL_OK : sl_set_error(SL_ERR_NOMEM, "budget show: out of memory");
    for (int p = 0; s == SL_OK && p < SL_PERIOD_COUNT; p++) {
        int64_t lim = 0, spent = 0, formal = 0;
        double rho = 0;
        s = limit_nano(reg->db, scope, key, (sl_budget_period)p, def, &lim);
        if (s == SL_OK) s = spent_nano(reg->db, scope, key, (sl_budget_period)p, now, &spent,
                                       &formal, &rho);
        if (s != SL_OK) break;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "period", period_names[p]);
        if (lim < 0) {
            cJSON_AddNullToObject(o, "limit");
            cJSON_AddNullToObject(o, "remaining");
        } else {
            cJSON_AddNumberToObject(o, "limit", (double)lim * 1e-9);
            cJSON_AddNumberToObject(o, "remaining", (double)(lim > spent ? lim - spent : 0) * 1e-9);
        }
        cJSON_AddNumberToObject(o, "spent", (double)spent * 1e-9);
        cJSON_AddNumberToObject(o, "formal_spent", (double)formal * 1e-9);
        cJSON_AddNumberToObject(o, "rho_spent", rho);
        cJSON_AddItemToArray(arr, o);
    }
    if (s == SL_OK) {
        *out = cJSON_PrintUnformatted(j);
        if (!*out) s = sl_set_error(SL_ERR_NOMEM, "budget show: out of memory");
    }
    cJSON_Delete(j);
    return s;
}

sl_status sl_budget_history_json(sl_registry *reg, const char *scope, const char *key, int limit,
                                 char **out) {
    *out = NULL;
    if (!reg) return sl_set_error(SL_ERR_ARG, "budget history: needs a registry");
    if (!valid_scope(scope) || !key)
        return sl_set_error(SL_ERR_ARG, "budget history: scope must be 'subject' or 'dataset'");
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(reg->db,
                 "SELECT c.id, c.log_id, c.eps_nano, c.rho, c.formal, c.created_unix,"
                 " l.technique, l.dataset, l.actor, l.output_path, l.status, l.created"
                 " FROM privacy_charges c JOIN anonymization_logs l ON l.id = c.log_id"
                 " WHERE c.scope=?1 AND c.key=?2 ORDER BY c.id DESC LIMIT ?3",
                 &st, "budget history"));
    btext(st, 1, scope);
    btext(st, 2, key);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "charge_id", (double)sqlite3_column_int64(st, 0));
        cJSON_AddNumberToObject(o, "log_id", (double)sqlite3_column_int64(st, 1));
        cJSON_AddNumberToObject(o, "epsilon", (double)sqlite3_column_int64(st, 2) * 1e-9);
        cJSON_AddNumberToObject(o, "rho", sqlite3_column_double(st, 3));
        cJSON_AddBoolToObject(o, "formal", sqlite3_column_int(st, 4));
        cJSON_AddNumberToObject(o, "created_unix", (double)sqlite3_column_int64(st, 5));
        const char *names[] = {"technique", "dataset", "actor", "output_path", "status", "created"};
        for (int i = 0; i < 6; i++) {
            const unsigned char *t = sqlite3_column_text(st, 6 + i);
            if (t)
                cJSON_AddStringToObject(o, names[i], (const char *)t);
            else
                cJSON_AddNullToObject(o, names[i]);
        }
        cJSON_AddItemToArray(arr, o);
    }
    sl_status s = rc == SQLITE_DONE ? SL_OK : sl_store_db_error(reg->db, "budget history");
    sqlite3_finalize(st);
    if (s == SL_OK) {
        *out = cJSON_PrintUnformatted(arr);
        if (!*out) s = sl_set_error(SL_ERR_NOMEM, "budget history: out of memory");
    }
    cJSON_Delete(arr);
    return s;
}

sl_status sl_ledger_spent_nano(sl_registry *reg, const char *scope, const char *key,
                               int64_t *nano) {
    *nano = 0;
    if (!reg) return SL_OK;
    return spent_nano(reg->db, scope, key, SL_PERIOD_LIFETIME, 0, nano, NULL, NULL);
}

/* --- retention ---------------------------------------------------------------------------- */

sl_status sl_pool_list_expired(sl_registry *reg, int64_t now, sl_pool_row **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!reg) return SL_OK;
    sqlite3_stmt *st = NULL;
    SL_TRY(xprep(reg->db,
                 "SELECT id, path, ifnull(sha256,''), source, expires_unix FROM training_data_pool"
                 " WHERE deleted_unix IS NULL AND expires_unix <= ?1 ORDER BY id",
                 &st, "list expired pool rows"));
    sqlite3_bind_int64(st, 1, now);
    size_t cap = 0;
    sl_status s = SL_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            sl_pool_row *g = realloc(*out, nc * sizeof *g);
            if (!g) {
                s = sl_set_error(SL_ERR_NOMEM, "list expired pool rows: out of memory");
                break;
            }
            *out = g;
            cap = nc;
        }
        sl_pool_row *p = &(*out)[(*n)++];
        p->id = sqlite3_column_int64(st, 0);
        p->path = dupcol(st, 1);
        p->sha256 = dupcol(st, 2);
        p->source = dupcol(st, 3);
        p->expires_unix = sqlite3_column_int64(st, 4);
        if (!p->path || !p->sha256 || !p->source)
            s = sl_set_error(SL_ERR_NOMEM, "list expired pool rows: out of memory");
    }
    if (s == SL_OK && rc != SQLITE_DONE) s = sl_store_db_error(reg->db, "list expired pool rows");
    sqlite3_finalize(st);
    if (s != SL_OK) {
        sl_pool_rows_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return s;
}

void sl_pool_rows_free(sl_pool_row *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].path);
        free(r[i].sha256);
        free(r[i].source);
    }
    free(r);
}

sl_status sl_pool_mark_deleted(sl_registry *reg, int64_t id, int64_t now, const char *actor) {
    if (!reg) return SL_OK;
    sqlite3 *db = reg->db;
    SL_TRY(xexec(db, "BEGIN IMMEDIATE", "retention"));
    sqlite3_stmt *st = NULL;
    char *path = NULL, *sha = NULL, *src = NULL;
    sl_status s = xprep(db, "SELECT path, sha256, source FROM training_data_pool WHERE id=?1"
                            " AND deleted_unix IS NULL", &st, "retention");
    if (s == SL_OK) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            path = dupcol(st, 0);
            sha = dupcol(st, 1);
            src = dupcol(st, 2);
        } else if (rc == SQLITE_DONE) {
            s = sl_set_error(SL_ERR_NOTFOUND, "retention: pool row %lld not found or deleted",
                             (long long)id);
        } else {
            s = sl_store_db_error(db, "retention");
        }
        sqlite3_finalize(st);
    }
    if (s == SL_OK) {
        s = xprep(db, "UPDATE training_data_pool SET deleted_unix=?2 WHERE id=?1", &st,
                  "retention");
        if (s == SL_OK) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, now);
            s = xdone(db, st, "retention");
        }
    }
    if (s == SL_OK) {
        char params[96];
        snprintf(params, sizeof params, "{\"pool_id\":%lld}", (long long)id);
        sl_ledger_release r = {0};
        r.now = now;
        r.actor = actor ? actor : "unknown";
        r.technique = "retention";
        r.dataset = src && *src ? src : "pool";
        r.input_path = path;
        r.input_sha256 = sha;
        r.params_json = params;
        int64_t lid = 0;
        s = insert_log(db, &r, "logged", &lid);
    }
    free(path);
    free(sha);
    free(src);
    return tx_end(db, s, "retention");
}
