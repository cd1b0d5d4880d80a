/* SPDX-License-Identifier: Apache-2.0 */
/* schema.c - the registry schema as a list of versioned migrations.
 *
 * Invariant: migrations[i] takes a database from user_version i to i+1 and is applied inside
 * one transaction together with the user_version bump, so a file is always at exactly one
 * schema version. Never edit a released migration; append a new one and bump
 * SL_REGISTRY_SCHEMA_VERSION. Plain SQL only (portable to PostgreSQL later): JSON_TEXT and
 * F64_BLOB are declared types that SQLite treats as TEXT and BLOB; the reader uses them to
 * render JSON. The schema is documented in docs/REGISTRY.md.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const char *const migrations[] = {
    /* 0 -> 1: initial schema */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  command TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (status IN ('running','ok','failed','aborted')),"
    "  seed INTEGER NOT NULL DEFAULT 0,"
    "  config JSON_TEXT,"
    "  summary JSON_TEXT,"
    "  version TEXT, git TEXT,"
    "  started TEXT NOT NULL, ended TEXT,"
    "  host TEXT, boot_id TEXT, pid INTEGER, pid_start INTEGER,"
    "  note TEXT,"
    "  rev INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE INDEX runs_rev ON runs(rev);"
    "CREATE TABLE metrics ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  series TEXT NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL,"
    "  UNIQUE (run_id, series, step));"
    "CREATE TABLE datasets ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,"
    "  path TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER,"
    "  n_rows INTEGER, n_episodes INTEGER, created TEXT NOT NULL);"
    "CREATE INDEX datasets_run ON datasets(run_id);"
    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT,"
    "  parent_id INTEGER REFERENCES models(id),"
    "  metrics JSON_TEXT, created TEXT NOT NULL);"
    "CREATE INDEX models_run ON models(run_id);"
    "CREATE TABLE artifacts ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, bytes INTEGER,"
    "  created TEXT NOT NULL);"
    "CREATE INDEX artifacts_run ON artifacts(run_id);"
    "CREATE TABLE branches ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  episode INTEGER NOT NULL, t INTEGER NOT NULL, horizon INTEGER NOT NULL,"
    "  brick INTEGER NOT NULL, trust REAL NOT NULL, std_ratio REAL NOT NULL,"
    "  passed INTEGER NOT NULL CHECK (passed IN (0,1)));"
    "CREATE INDEX branches_run ON branches(run_id);"
    "CREATE TABLE weights ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL, trust REAL NOT NULL, econ REAL NOT NULL,"
    "  lambda REAL NOT NULL, w_final REAL NOT NULL, rails INTEGER NOT NULL);"
    "CREATE INDEX weights_run ON weights(run_id);"
    "CREATE TABLE ab_experiments ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, experiment JSON_TEXT NOT NULL, verdict TEXT NOT NULL,"
    "  created TEXT NOT NULL);"
    "CREATE INDEX ab_run ON ab_experiments(run_id);"
    "CREATE TABLE ladder_levels ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  level INTEGER NOT NULL, horizon INTEGER NOT NULL,"
    "  passed INTEGER NOT NULL CHECK (passed IN (0,1)), verdict TEXT,"
    "  detail JSON_TEXT, created TEXT NOT NULL,"
    "  UNIQUE (run_id, level));"
    "CREATE TABLE world_eval ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  horizon INTEGER NOT NULL, mse REAL, std_ratio REAL, var_growth REAL,"
    "  trust REAL, auc REAL,"
    "  UNIQUE (run_id, horizon));"
    "CREATE TABLE estimates ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, arm TEXT, value REAL NOT NULL, ci_lo REAL NOT NULL,"
    "  ci_hi REAL NOT NULL, n INTEGER NOT NULL);"
    "CREATE INDEX estimates_run ON estimates(run_id);"
    "CREATE TABLE samples ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, label TEXT NOT NULL, n INTEGER NOT NULL, data F64_BLOB NOT NULL);"
    "CREATE INDEX samples_run ON samples(run_id);"
    "CREATE TABLE results ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, json JSON_TEXT NOT NULL, created TEXT NOT NULL);"
    "CREATE INDEX results_run ON results(run_id);"
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (status IN ('running','ok','failed','aborted')),"
    "  total INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, message TEXT,"
    "  started TEXT NOT NULL, updated TEXT NOT NULL, ended TEXT,"
    "  rev INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_run ON jobs(run_id);"
    "CREATE INDEX jobs_rev ON jobs(rev);"
    "CREATE TABLE privacy_ledger ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  dataset_key TEXT NOT NULL, mechanism TEXT NOT NULL,"
    "  epsilon REAL NOT NULL CHECK (epsilon >= 0), delta REAL NOT NULL CHECK (delta >= 0),"
    "  created TEXT NOT NULL);"
    "CREATE INDEX privacy_key ON privacy_ledger(dataset_key);"
    "CREATE TABLE deployments ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  model_id INTEGER NOT NULL REFERENCES models(id),"
    "  strategy TEXT NOT NULL"
    "    CHECK (strategy IN ('full','canary','shadow','ab','rollback')),"
    "  traffic REAL NOT NULL CHECK (traffic >= 0 AND traffic <= 1), reason TEXT,"
    "  created TEXT NOT NULL);"
    "CREATE INDEX deployments_model ON deployments(model_id);",
    /* 1 -> 2: model lifecycle (src/deploy, docs/DEPLOY.md). deployment_history is append-only:
     * the triggers refuse UPDATE and DELETE (PostgreSQL: the same as a rule or trigger). */
    "CREATE TABLE model_versions ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('policy','world','trust','generator','encoder')),"
    "  path TEXT NOT NULL, sha256 TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'training' CHECK (status IN"
    "    ('training','evaluating','deployed','archived','rolled_back','failed')),"
    "  eval_passed INTEGER NOT NULL DEFAULT -1 CHECK (eval_passed IN (-1,0,1)),"
    "  parent_id INTEGER REFERENCES model_versions(id),"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  lineage JSON_TEXT, metrics JSON_TEXT,"
    "  created TEXT NOT NULL, updated TEXT NOT NULL);"
    "CREATE INDEX model_versions_status ON model_versions(status);"
    "CREATE TABLE endpoints ("
    "  name TEXT PRIMARY KEY,"
    "  live_version INTEGER REFERENCES model_versions(id),"
    "  updated TEXT NOT NULL);"
    "CREATE TABLE rollouts ("
    "  id INTEGER PRIMARY KEY,"
    "  endpoint TEXT NOT NULL,"
    "  candidate INTEGER NOT NULL REFERENCES model_versions(id),"
    "  live INTEGER REFERENCES model_versions(id),"
    "  strategy TEXT NOT NULL CHECK (strategy IN ('full','canary','shadow','ab')),"
    "  plan JSON_TEXT NOT NULL, stage INTEGER NOT NULL DEFAULT 0,"
    "  share REAL NOT NULL CHECK (share >= 0 AND share <= 1),"
    "  state TEXT NOT NULL CHECK (state IN ('active','completed','rolled_back','stopped')),"
    "  reason TEXT, started TEXT NOT NULL, updated TEXT NOT NULL,"
    "  owner_host TEXT, owner_boot TEXT, owner_pid INTEGER, owner_start INTEGER);"
    "CREATE UNIQUE INDEX rollouts_one_active ON rollouts(endpoint) WHERE state = 'active';"
    "CREATE TABLE deployment_history ("
    "  id INTEGER PRIMARY KEY,"
    "  endpoint TEXT, version_id INTEGER NOT NULL, rollout_id INTEGER,"
    "  event TEXT NOT NULL, from_status TEXT, to_status TEXT, share REAL,"
    "  actor TEXT NOT NULL, reason TEXT, created TEXT NOT NULL);"
    "CREATE INDEX deployment_history_endpoint ON deployment_history(endpoint);"
    "CREATE TRIGGER deployment_history_no_update BEFORE UPDATE ON deployment_history"
    "  BEGIN SELECT RAISE(ABORT, 'deployment_history is append-only'); END;"
    "CREATE TRIGGER deployment_history_no_delete BEFORE DELETE ON deployment_history"
    "  BEGIN SELECT RAISE(ABORT, 'deployment_history is append-only'); END;"
    "CREATE TABLE reward_signals ("
    "  id INTEGER PRIMARY KEY,"
    "  version_id INTEGER REFERENCES model_versions(id),"
    "  episode INTEGER, t INTEGER, model TEXT NOT NULL, component TEXT NOT NULL,"
    "  raw REAL NOT NULL, weight REAL NOT NULL, value REAL NOT NULL, created TEXT NOT NULL);"
    "CREATE INDEX reward_signals_version ON reward_signals(version_id);"
    "CREATE TABLE training_episodes ("
    "  id INTEGER PRIMARY KEY,"
    "  version_id INTEGER REFERENCES model_versions(id), endpoint TEXT,"
    "  score REAL NOT NULL, failure INTEGER NOT NULL CHECK (failure IN (0,1)),"
    "  latency_ms REAL, reward REAL, source TEXT, created TEXT NOT NULL);"
    "CREATE INDEX training_episodes_version ON training_episodes(version_id);",
    /* 2 -> 3: forecast module (src/forecast, src/store/forecast.c): cases, predictions,
     * scores */
    "CREATE TABLE forecast_cases ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  case_id TEXT NOT NULL, domain TEXT, seed_date TEXT,"
    "  synthetic INTEGER NOT NULL CHECK (synthetic IN (0,1)),"
    "  n_nodes INTEGER NOT NULL,"
    "  segment TEXT NOT NULL CHECK (segment IN ('all','train','calib','test','excluded')));"
    "CREATE INDEX forecast_cases_run ON forecast_cases(run_id);"
    "CREATE TABLE forecast_predictions ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL, case_id TEXT NOT NULL, depth INTEGER, event TEXT,"
    "  probability REAL, timeframe_months REAL, status TEXT NOT NULL, error TEXT);"
    "CREATE INDEX forecast_predictions_run ON forecast_predictions(run_id);"
    "CREATE TABLE forecast_scores ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  label TEXT NOT NULL, metric TEXT NOT NULL, value REAL, lo REAL, hi REAL);"
    "CREATE INDEX forecast_scores_run ON forecast_scores(run_id);",
    /* 3 -> 4: privacy intake (issue 15, src/privacy + src/store/privacy.c). Supersedes the
     * unused privacy_ledger of migration 1 (left in place, never written). Epsilons are
     * integers in units of 1e-9 (eps_nano) so that sums and comparisons are exact. */
    "CREATE TABLE anonymization_logs ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  created TEXT NOT NULL, created_unix INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, technique TEXT NOT NULL, dataset TEXT NOT NULL,"
    "  input_path TEXT, input_sha256 TEXT, output_path TEXT, output_sha256 TEXT,"
    "  tmp_path TEXT, params JSON_TEXT,"
    "  eps_nano INTEGER NOT NULL DEFAULT 0 CHECK (eps_nano >= 0),"
    "  delta REAL NOT NULL DEFAULT 0, rho REAL NOT NULL DEFAULT 0,"
    "  formal INTEGER NOT NULL CHECK (formal IN (0,1)),"
    "  n_rows INTEGER, n_subjects INTEGER,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','placed','orphaned','logged')),"
    "  host TEXT, pid INTEGER);"
    "CREATE INDEX anonlog_status ON anonymization_logs(status);"
    "CREATE TABLE privacy_charges ("
    "  id INTEGER PRIMARY KEY,"
    "  log_id INTEGER NOT NULL REFERENCES anonymization_logs(id),"
    "  scope TEXT NOT NULL CHECK (scope IN ('subject','dataset')), key TEXT NOT NULL,"
    "  eps_nano INTEGER NOT NULL CHECK (eps_nano >= 0), rho REAL NOT NULL DEFAULT 0,"
    "  formal INTEGER NOT NULL CHECK (formal IN (0,1)), created_unix INTEGER NOT NULL);"
    "CREATE INDEX privacy_charges_key ON privacy_charges(scope, key, created_unix);"
    "CREATE TABLE privacy_budgets ("
    "  scope TEXT NOT NULL CHECK (scope IN ('subject','dataset')), key TEXT NOT NULL,"
    "  period TEXT NOT NULL CHECK (period IN ('daily','weekly','monthly','lifetime')),"
    "  eps_nano INTEGER NOT NULL CHECK (eps_nano >= 0), updated TEXT NOT NULL,"
    "  UNIQUE (scope, key, period));"
    "CREATE TABLE training_data_pool ("
    "  id INTEGER PRIMARY KEY,"
    "  log_id INTEGER REFERENCES anonymization_logs(id),"
    "  path TEXT NOT NULL, sha256 TEXT, source TEXT NOT NULL, n_rows INTEGER,"
    "  created_unix INTEGER NOT NULL, expires_unix INTEGER NOT NULL,"
    "  deleted_unix INTEGER);"
    "CREATE INDEX pool_expires ON training_data_pool(expires_unix);",
    /* 4 -> 5 (gen module, issue 16): one row per `synthloop generate` release decision.
     * epsilon/delta NULL = the generator has no DP guarantee; scores NULL = not computed. */
    "CREATE TABLE synthetic_jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,"
    "  method TEXT NOT NULL CHECK (method IN ('copula','vae','rules')),"
    "  params JSON_TEXT, n_rows INTEGER NOT NULL CHECK (n_rows >= 0),"
    "  quality REAL, detection_auc REAL, coverage REAL, diversity REAL,"
    "  dcr_share REAL, membership_auc REAL, scores JSON_TEXT,"
    "  epsilon REAL CHECK (epsilon IS NULL OR epsilon >= 0),"
    "  delta REAL CHECK (delta IS NULL OR delta >= 0),"
    "  threshold REAL, released INTEGER NOT NULL CHECK (released IN (0,1)),"
    "  out_path TEXT, created TEXT NOT NULL);"
    "CREATE INDEX synthetic_jobs_run ON synthetic_jobs(run_id);",
    /* 5 -> 6 (genpriv, issue 16: generate charges the privacy ledger; src/store/gen.c): the
     * charge a synthetic_jobs row paid (NULL = none) and its anonymization_logs row. */
    "ALTER TABLE synthetic_jobs ADD COLUMN ledger_log_id INTEGER"
    "  REFERENCES anonymization_logs(id);"
    "ALTER TABLE synthetic_jobs ADD COLUMN ledger_dataset TEXT;"
    "ALTER TABLE synthetic_jobs ADD COLUMN charged_epsilon REAL"
    "  CHECK (charged_epsilon IS NULL OR charged_epsilon >= 0);"
    "ALTER TABLE synthetic_jobs ADD COLUMN charged_subjects INTEGER;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == SL_REGISTRY_SCHEMA_VERSION,
               "one migration per schema version");

static sl_status user_version(sqlite3 *db, const char *path, int *v) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return sl_set_error(SL_ERR_DB, "%s: not a registry database: %s", path,
                            sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sl_status s = sl_set_error(SL_ERR_DB, "%s: cannot read schema version: %s", path,
                                   sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return s;
    }
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return SL_OK;
}

sl_status sl_store_migrate(sqlite3 *db, const char *path) {
    int v = 0;
    SL_TRY(user_version(db, path, &v));
    if (v > SL_REGISTRY_SCHEMA_VERSION)
        return sl_set_error(SL_ERR_DB,
                            "%s: registry schema version %d is newer than this build (%d)", path,
                            v, SL_REGISTRY_SCHEMA_VERSION);
    if (v == SL_REGISTRY_SCHEMA_VERSION) return SL_OK;
    /* Take the write lock first, then re-read: another process may have migrated meanwhile. */
    char *err = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK) {
        sl_status s = sl_set_error(SL_ERR_DB, "%s: cannot lock for migration: %s", path,
                                   err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return s;
    }
    sl_status s = user_version(db, path, &v);
    for (; s == SL_OK && v < SL_REGISTRY_SCHEMA_VERSION; v++) {
        if (sqlite3_exec(db, migrations[v], NULL, NULL, &err) != SQLITE_OK) {
            s = sl_set_error(SL_ERR_DB, "%s: migration %d -> %d failed: %s", path, v, v + 1,
                             err ? err : sqlite3_errmsg(db));
            sqlite3_free(err);
            err = NULL;
            break;
        }
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            s = sl_set_error(SL_ERR_DB, "%s: cannot set schema version: %s", path,
                             sqlite3_errmsg(db));
    }
    if (s == SL_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        s = sl_set_error(SL_ERR_DB, "%s: migration commit failed: %s", path, sqlite3_errmsg(db));
    if (s != SL_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}
