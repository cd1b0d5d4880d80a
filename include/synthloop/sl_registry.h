/* SPDX-License-Identifier: Apache-2.0 */
/* sl_registry.h - the run registry: one SQLite file recording every run, dataset, model,
 * metric, branch, weight, A/B verdict, ladder level, job and artifact of the pipeline.
 *
 * Schema and migration rules: docs/REGISTRY.md.
 *
 * Guarantees:
 *   - WAL journal, foreign keys on, busy timeout 10 s (then SL_ERR_BUSY); several processes
 *     may record into the same file at once (one writer at a time, readers never blocked).
 *   - Every sl_registry_add_* call (and each batch) is one transaction: after a crash a batch
 *     is either fully present or absent, never half-written.
 *   - sl_registry_open marks runs left 'running' by a process that is gone (same host and boot,
 *     pid dead or reused) as 'failed'. Runs of live processes and of other hosts are untouched.
 *   - Passing reg == NULL to any sl_run_* / sl_registry_add_* / sl_job_* function is a no-op
 *     returning SL_OK (ids written as 0), so a command can run without a registry (--db none).
 *   - JSON arguments (config_json, summary_json, metrics_json, ...) must be valid JSON text or
 *     NULL; invalid JSON is rejected with SL_ERR_ARG before anything is written.
 *   - Non-finite doubles are rejected with SL_ERR_NAN (nothing of the batch is written),
 *     except in world-eval rows where they mean "not measured" and are stored NULL.
 *
 * Threads: one sl_registry handle per thread. Open another handle for another thread.
 *
 * Typical use from a command (see docs/REGISTRY.md):
 *     sl_registry *reg = NULL; int64_t run = 0;
 *     SL_TRY(sl_registry_open_default(db_opt, &reg));        // db_opt from --db, may be NULL
 *     SL_TRY(sl_run_begin(reg, "train", config_json, seed, &run));
 *     ... sl_registry_add_metric(reg, run, "train/loss", step, loss); ...
 *     sl_run_end(reg, run, ok ? SL_RUN_OK : SL_RUN_FAILED, summary_json);
 *     sl_registry_close(reg);
 */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default database file (relative to the working directory) and the env var overriding it. */
#define SL_REGISTRY_DEFAULT_PATH "synthloop.db"
#define SL_REGISTRY_ENV "SYNTHLOOP_DB"
/* Schema version written to PRAGMA user_version by the newest migration. */
/* 2: model lifecycle (src/store/deploy.c); 3: forecast tables (src/store/forecast.c);
 * 4: privacy ledger, logs and pool (src/store/privacy.c); 5: synthetic_jobs (src/store/gen.c);
 * 6: synthetic_jobs' ledger charge (src/store/gen.c, genpriv) */
#define SL_REGISTRY_SCHEMA_VERSION 6

typedef struct sl_registry sl_registry;

/* --- open / close ------------------------------------------------------- */

/* Open (creating if needed) and migrate the registry at `path`. *out is owned by the caller
 * (sl_registry_close). Fails with SL_ERR_DB if the file is not a registry or is newer than
 * this build (user_version > SL_REGISTRY_SCHEMA_VERSION). */
sl_status sl_registry_open(const char *path, sl_registry **out);

/* The path a command should use: `db_opt` (its --db value) if non-NULL and non-empty, else
 * $SYNTHLOOP_DB if set and non-empty, else "synthloop.db". Never NULL; static or db_opt. */
const char *sl_registry_resolve_path(const char *db_opt);

/* sl_registry_open(sl_registry_resolve_path(db_opt)), except that the path "none" yields
 * *out = NULL and SL_OK (recording disabled; every recording call then is a no-op). */
sl_status sl_registry_open_default(const char *db_opt, sl_registry **out);

/* Close; accepts NULL. Runs still 'running' stay so (the owner may still end them). */
void sl_registry_close(sl_registry *reg);

/* Path the registry was opened with (owned by reg). */
const char *sl_registry_path(const sl_registry *reg);

/* --- runs --------------------------------------------------------------- */

typedef enum sl_run_status {
    SL_RUN_RUNNING = 0,
    SL_RUN_OK,
    SL_RUN_FAILED,
    SL_RUN_ABORTED,
    SL_RUN_STATUS_COUNT
} sl_run_status;

/* "running", "ok", "failed", "aborted"; "unknown" out of range. */
const char *sl_run_status_name(sl_run_status s);
/* Inverse of sl_run_status_name; SL_ERR_ARG for an unknown name. */
sl_status sl_run_status_parse(const char *name, sl_run_status *out);

/* Start a run: records command, config (JSON text or NULL), seed, start time (UTC),
 * sl_version(), sl_git_describe(), host name, boot id, pid and the process start time.
 * *run_id > 0 on success (0 when reg is NULL). */
sl_status sl_run_begin(sl_registry *reg, const char *command, const char *config_json,
                       uint64_t seed, int64_t *run_id);

/* Finish a run with a final status (not SL_RUN_RUNNING) and an optional summary JSON.
 * SL_ERR_NOTFOUND if the run does not exist, SL_ERR_STATE if it already ended. */
sl_status sl_run_end(sl_registry *reg, int64_t run_id, sl_run_status status,
                     const char *summary_json);

/* Set the free-text note of a run (replaces the previous one). */
sl_status sl_run_set_note(sl_registry *reg, int64_t run_id, const char *note);

/* Mark a run 'failed' regardless of its owner (operator action). SL_ERR_STATE if it is not
 * running. `reason` is stored in the summary as {"error": reason}. */
sl_status sl_run_mark_failed(sl_registry *reg, int64_t run_id, const char *reason);

/* --- metric series (learning curves) ------------------------------------ */

/* One point of series `series` (e.g. "train/loss", "eval/return"). (run, series, step) is
 * unique: recording the same step again replaces the value. */
sl_status sl_registry_add_metric(sl_registry *reg, int64_t run_id, const char *series,
                                 int64_t step, double value);
/* n points in one transaction; steps may be NULL (then 0..n-1). */
sl_status sl_registry_add_metrics(sl_registry *reg, int64_t run_id, const char *series,
                                  const int64_t *steps, const double *values, size_t n);

/* --- datasets, models, artifacts --------------------------------------- */

/* Record a dataset file with its sha256 (computed here, so the file must exist). `kind`
 * e.g. "real", "synthetic", "branches", "npz". *id may be NULL. */
sl_status sl_registry_add_dataset(sl_registry *reg, int64_t run_id, const char *path,
                                  const char *kind, int64_t n_rows, int64_t n_episodes,
                                  int64_t *id);

/* Record a model checkpoint (sha256 computed if the file exists, else NULL). `kind` e.g.
 * "encoder", "world", "trust", "policy". parent_id 0 = none, else an existing model id.
 * metrics_json may be NULL. *id may be NULL. */
sl_status sl_registry_add_model(sl_registry *reg, int64_t run_id, const char *kind,
                                const char *checkpoint_path, int64_t parent_id,
                                const char *metrics_json, int64_t *id);

/* Record an output file of a run (report, JSON result, plot). kind e.g. "report.html". */
sl_status sl_registry_add_artifact(sl_registry *reg, int64_t run_id, const char *kind,
                                   const char *path);

/* --- branches and weights ----------------------------------------------- */

/* One synthetic branch: started at real (episode, t), rolled `horizon` steps. */
typedef struct sl_branch_row {
    int64_t episode;  /* real episode the branch starts from */
    int64_t t;        /* start step inside that episode */
    int32_t horizon;  /* steps rolled */
    int32_t brick;    /* brick id of the start state, -1 if none */
    double trust;     /* trust_net p(real), mean over the branch */
    double std_ratio; /* std(synthetic) / std(real) */
    int passed;       /* 1 if it passed the gates */
} sl_branch_row;
sl_status sl_registry_add_branch_batch(sl_registry *reg, int64_t run_id,
                                       const sl_branch_row *rows, size_t n);

/* sl_weight_row.rails holds the SyntheticWeightController's rail bits, (1u << sl_weight_rail)
 * from sl_weight.h (one definition of the rails for the whole code base). */
/* One controller decision: weight components of a synthetic sample (or batch) at `step`. */
typedef struct sl_weight_row {
    int64_t step;    /* learner step (or sample index) */
    double trust;    /* trust component */
    double econ;     /* econ component */
    double lambda;   /* synthetic budget lambda in force */
    double w_final;  /* final weight after rescale and rails */
    uint32_t rails;  /* (1u << sl_weight_rail) bits fired */
} sl_weight_row;
sl_status sl_registry_add_weight_log(sl_registry *reg, int64_t run_id,
                                     const sl_weight_row *rows, size_t n);

/* --- evaluation results ------------------------------------------------- */

/* A/B experiment: the full experiment JSON (arms, seeds, per-seed values, statistics) and a
 * short verdict ("augmented_better", "no_difference", ...). name e.g. "baseline_vs_augmented". */
sl_status sl_registry_add_ab(sl_registry *reg, int64_t run_id, const char *name,
                             const char *experiment_json, const char *verdict, int64_t *id);

/* One horizon-ladder level (1..5): horizon, whether it passed, verdict text and details JSON. */
sl_status sl_registry_add_ladder_level(sl_registry *reg, int64_t run_id, int level,
                                       int horizon, int passed, const char *verdict,
                                       const char *detail_json);

/* World-model stability at one horizon (the "world eval" report row). Named apart from
 * sl_world.h's sl_world_eval_row (the evaluator's full row); copy the fields across.
 * A non-finite field means "not measured" (e.g. trust without a scorer) and is stored NULL. */
typedef struct sl_registry_world_row {
    int32_t horizon;
    double mse;        /* latent MSE vs real at this horizon */
    double std_ratio;  /* std(pred) / std(real) */
    double var_growth; /* variance growth factor vs horizon 1 */
    double trust;      /* mean trust_net p(real) of predictions */
    double auc;        /* real-vs-synthetic detection AUC (0.5 = indistinguishable) */
} sl_registry_world_row;
sl_status sl_registry_add_world_eval(sl_registry *reg, int64_t run_id,
                                     const sl_registry_world_row *rows, size_t n);

/* A point estimate with a confidence interval, e.g. econ metrics per A/B arm:
 * name "mpl", arm "augmented", value 1.9, [lo, hi] 95% CI, n samples. arm may be NULL. */
sl_status sl_registry_add_estimate(sl_registry *reg, int64_t run_id, const char *name,
                                   const char *arm, double value, double ci_lo, double ci_hi,
                                   int64_t n);

/* A sample set (raw doubles, stored as a float64 blob) for histograms, e.g. name "trust",
 * label "real" / "synthetic". n <= 10,000,000. */
sl_status sl_registry_add_samples(sl_registry *reg, int64_t run_id, const char *name,
                                  const char *label, const double *values, size_t n);

/* Any other JSON result of a run under a kind name (e.g. "world_eval_report", "trust_report").
 * Shown raw in reports and the API. */
sl_status sl_registry_add_result(sl_registry *reg, int64_t run_id, const char *kind,
                                 const char *json);

/* --- jobs (live progress) ----------------------------------------------- */

/* A long-running piece of work inside a run, shown live by `synthloop serve`. */
sl_status sl_job_begin(sl_registry *reg, int64_t run_id, const char *kind, int64_t total,
                       int64_t *job_id);
/* Update progress (done out of total) and an optional message; cheap enough per epoch. */
sl_status sl_job_progress(sl_registry *reg, int64_t job_id, int64_t done, const char *message);
/* Finish a job with a final status (not SL_RUN_RUNNING). */
sl_status sl_job_end(sl_registry *reg, int64_t job_id, sl_run_status status);

/* --- privacy ledger and deployments ------------------------------------- */

/* One differential-privacy spend against a data subject group / dataset key. */
sl_status sl_registry_add_privacy_spend(sl_registry *reg, int64_t run_id,
                                        const char *dataset_key, const char *mechanism,
                                        double epsilon, double delta);
/* Sum of epsilon spent so far on dataset_key (0 if none). */
sl_status sl_registry_privacy_spent(sl_registry *reg, const char *dataset_key, double *eps);

/* One deployment event of a model: strategy "full", "canary", "shadow", "ab", "rollback";
 * traffic share in [0, 1]; reason may be NULL. */
sl_status sl_registry_add_deployment(sl_registry *reg, int64_t run_id, int64_t model_id,
                                     const char *strategy, double traffic, const char *reason,
                                     int64_t *id);

/* --- reading ------------------------------------------------------------ */

/* The JSON text of a run and all its rows (the `synthloop export` format, docs/REGISTRY.md).
 * *out is malloc'd (caller frees). SL_ERR_NOTFOUND if there is no such run. */
sl_status sl_registry_export_run(sl_registry *reg, int64_t run_id, char **out);

/* JSON array text of the newest `limit` runs (all when limit <= 0), newest first, each with
 * id, command, status, seed, started, ended, git, note. *out malloc'd (caller frees). */
sl_status sl_registry_list_runs(sl_registry *reg, int limit, char **out);

/* Largest run id in the registry (0 if empty). */
sl_status sl_registry_last_run(sl_registry *reg, int64_t *run_id);

/* Resolve a run reference from the command line: a positive decimal id or "last" (the newest
 * run). SL_ERR_ARG for malformed text, SL_ERR_NOTFOUND if the run does not exist. */
sl_status sl_registry_parse_run(sl_registry *reg, const char *ref, int64_t *run_id);


/* === read API (store module): everything outside src/store reads the registry here ======
 *
 * No file outside src/store writes SQL or sees the SQLite handle. Three shapes:
 *   - sl_rows: a table of typed cells for one named query (sl_rows_kind); the caller never
 *     writes SQL, only picks the query and its parameters. Plain C, owned by the caller.
 *   - sl_metric_series: the learning curves of a run as arrays.
 *   - JSON documents (run summary, comparison, export): these are JSON by nature (the API
 *     and the CLI print them), so they come back as cJSON trees.
 * Every text cell and every string in a returned document is valid UTF-8: ill-formed bytes
 * stored by older builds are replaced by U+FFFD on the way out, so any output is valid JSON.
 * A registry locked by another writer beyond the busy timeout yields SL_ERR_BUSY. */

struct cJSON;

typedef enum sl_cell_type {
    SL_CELL_NULL = 0,
    SL_CELL_INT,  /* i */
    SL_CELL_UINT, /* i holds the bits of a uint64 (the runs.seed column) */
    SL_CELL_REAL, /* d (finite; a non-finite stored value reads as SL_CELL_NULL) */
    SL_CELL_TEXT, /* s, NUL-terminated UTF-8 */
    SL_CELL_JSON, /* s, JSON text from a JSON column (parse it; may be malformed if old) */
    SL_CELL_F64S, /* v[0..n): a float64 sample blob */
    SL_CELL_TYPE_COUNT
} sl_cell_type;

typedef struct sl_cell {
    sl_cell_type type;
    int64_t i;
    double d;
    const char *s;    /* owned by the sl_rows */
    const double *v;  /* owned by the sl_rows */
    size_t n;
} sl_cell;

typedef struct sl_rows {
    size_t ncol, nrow;
    const char *const *cols; /* column names (owned by the sl_rows) */
    const sl_cell *cells;    /* nrow * ncol, row-major (owned by the sl_rows) */
} sl_rows;

/* The named queries. Parameters come from sl_rows_query (unused fields are ignored).
 * "run" = rows of q.run; columns listed in docs/REGISTRY.md ("Read API"). */
typedef enum sl_rows_kind {
    SL_ROWS_RUNS = 0,       /* runs newest first: id, command, status, seed, started, ended, git,
                               note, seconds, metric_points; filters status, command, limit */
    SL_ROWS_RUN_EXISTS,     /* id of q.run (0 or 1 row) */
    SL_ROWS_WORLD_EVAL,     /* run: horizon, mse, std_ratio, var_growth, trust, auc */
    SL_ROWS_BRANCH_HORIZONS,/* run: horizon, branches, trust, std_ratio, pass_rate (means) */
    SL_ROWS_BRANCH_TRUST,   /* run: trust, passed of up to limit branches */
    SL_ROWS_SAMPLES,        /* run: name, label, n, data (F64S) ordered by name */
    SL_ROWS_WEIGHTS,        /* run: step, trust, econ, lambda, w_final, rails; limit */
    SL_ROWS_WEIGHT_CURVE,   /* run: step, trust, econ, lambda, w_final, n: means over <= ~1000
                               equal step buckets */
    SL_ROWS_WEIGHT_RAILS,   /* run: rails, n (rows per distinct rail bit set) */
    SL_ROWS_ESTIMATES,      /* run: name, arm, value, ci_lo, ci_hi, n ordered by name */
    SL_ROWS_AB,             /* run: id, name, verdict, experiment (JSON), created */
    SL_ROWS_LADDER,         /* run: level, horizon, passed, verdict, detail (JSON) */
    SL_ROWS_DATASETS,       /* run: id, kind, path, n_rows, n_episodes, bytes, sha256 */
    SL_ROWS_MODELS,         /* run: id, kind, path, parent_id, sha256, metrics (JSON) */
    SL_ROWS_JOBS,           /* run: id, kind, status, done, total, message, updated */
    SL_ROWS_ARTIFACTS,      /* run: id, kind, path, bytes, sha256 */
    SL_ROWS_PRIVACY,        /* run: the releases (anonymization_logs): id, technique, dataset,
                               epsilon, delta, rho, formal, n_rows, n_subjects, status,
                               output_path, output_sha256, created, charged_subjects */
    SL_ROWS_DEPLOYMENTS,    /* run: id, model_id, strategy, traffic, reason, created */
    SL_ROWS_RESULTS,        /* run: kind, json (JSON), created */
    SL_ROWS_ALL_EXPERIMENTS,/* all runs: id, run_id, command, name, verdict, created,
                               experiment (JSON), newest first; limit */
    SL_ROWS_ALL_MODELS,     /* all runs: id, run_id, kind, path, sha256, parent_id, metrics,
                               created, newest first; limit */
    SL_ROWS_ALL_JOBS,       /* all runs: id, run_id, kind, status, total, done, message,
                               started, updated, ended, newest first; status filter, limit */
    SL_ROWS_RUN_CHANGES,    /* id, command, status, started, ended, rev of runs changed after
                               q.after (rev), q.run filter (0 = all); limit */
    SL_ROWS_JOB_CHANGES,    /* id, run_id, kind, status, total, done, message, updated, rev */
    SL_ROWS_METRIC_CHANGES, /* rowid, run_id, series, step, value of points after q.after */
    SL_ROWS_KIND_COUNT
} sl_rows_kind;

typedef struct sl_rows_query {
    int64_t run;         /* run id (per-run kinds; a filter for *_CHANGES, 0 = all) */
    int64_t after;       /* cursor of the *_CHANGES kinds */
    int64_t limit;       /* max rows; <= 0 = no limit */
    int status;          /* sl_run_status filter of RUNS / ALL_JOBS; -1 = any */
    const char *command; /* command filter of RUNS; NULL = any */
} sl_rows_query;

/* Default query: run 0, after 0, no limit, any status, any command. */
sl_rows_query sl_rows_query_default(void);

/* Run one named query. *out owned by the caller (sl_rows_free). reg must not be NULL. */
sl_status sl_registry_rows(sl_registry *reg, sl_rows_kind kind, const sl_rows_query *q,
                           sl_rows **out);
void sl_rows_free(sl_rows *rows);
/* Cell (row, column name); NULL if the column does not exist or row >= nrow. */
const sl_cell *sl_rows_get(const sl_rows *rows, size_t row, const char *col);
/* The rows as a JSON array of objects (column -> value): integers exact (beyond 2^53 as raw
 * digits), JSON cells parsed (kept as a string if malformed), F64S as number arrays. *out
 * owned by the caller (cJSON_Delete). */
sl_status sl_rows_to_json(const sl_rows *rows, struct cJSON **out);

/* SL_OK if run_id exists, SL_ERR_NOTFOUND ("run N does not exist") if not. */
sl_status sl_registry_run_exists(sl_registry *reg, int64_t run_id);

/* Newest cursors of the event stream: max runs.rev, max jobs.rev, max metrics rowid. */
sl_status sl_registry_event_cursors(sl_registry *reg, int64_t *run_rev, int64_t *job_rev,
                                    int64_t *metric_rowid);

/* One metric series of a run: steps ascending. */
typedef struct sl_metric_series {
    char *name;
    int64_t *step;
    double *value;
    size_t n;
} sl_metric_series;

/* The series of run_id ordered by name (only the one named `only` when non-NULL). *out is an
 * array of *n series owned by the caller (sl_metric_series_free); *out NULL when *n == 0. */
sl_status sl_registry_metrics(sl_registry *reg, int64_t run_id, const char *only,
                              sl_metric_series **out, size_t *n);
void sl_metric_series_free(sl_metric_series *s, size_t n);

/* JSON documents. *out owned by the caller (cJSON_Delete); SL_ERR_NOTFOUND for a missing run.
 * Summary: {"run": {..., "seconds"}, "series": [{series, n, first_step, last_step, last, min,
 * max}], "jobs", "datasets", "models", "artifacts", "ab_experiments", "ladder", "estimates",
 * "world_eval", "results", "counts"}. Compare: {"a", "b", "config_diff", "config_same",
 * "summary_diff", "summary_same", "series", "ab_experiments"|"ladder"|"estimates"|
 * "world_eval"|"counts": {"a", "b"}}. Export: the `synthloop export` document. */
sl_status sl_registry_run_summary(sl_registry *reg, int64_t run_id, struct cJSON **out);
sl_status sl_registry_run_compare(sl_registry *reg, int64_t a, int64_t b, struct cJSON **out);
sl_status sl_registry_export_json(sl_registry *reg, int64_t run_id, struct cJSON **out);

/* The database file as SQLite resolved it (absolute; owned by reg). Servers use it to keep
 * the path out of messages sent to clients. */
const char *sl_registry_file(const sl_registry *reg);

/* Set how long a call waits for another process's write lock before failing with
 * SL_ERR_BUSY (default 10000 ms). ms >= 0. */
sl_status sl_registry_set_busy_timeout(sl_registry *reg, int ms);
/* === end of the read API ================================================================== */
/* --- model lifecycle (used by src/deploy; docs/DEPLOY.md) ---------------------------------------
 * The store keeps versions, endpoints, rollouts, the append-only deployment_history, reward
 * signals and live episodes. The lifecycle's rules live in src/deploy; the store applies a
 * change set atomically: every conditional status change, the endpoint's live version, the
 * rollout row and the history rows commit together or not at all (a failed condition leaves
 * everything as it was and returns SL_ERR_STATE naming it). */

typedef struct sl_mv_record {
    int64_t id, parent_id, run_id; /* 0 = none */
    char kind[16], status[16];
    char path[1024], sha256[65];
    int eval_passed;               /* -1 not evaluated, 0 failed, 1 passed */
    char created[32], updated[32];
    char *lineage_json, *metrics_json; /* owned (NULL = none); sl_mv_record_clear */
} sl_mv_record;
void sl_mv_record_clear(sl_mv_record *r);

typedef struct sl_rollout_record {
    int64_t id, candidate, live;   /* live 0 = none */
    char endpoint[64], strategy[16], state[16];
    int stage;
    double share;
    char plan_json[1024];
    char reason[256];
} sl_rollout_record;

/* One conditional change of a version: status must be `expect` (NULL: any), becomes `to`
 * (NULL: unchanged); eval_passed set when set_eval >= -1; metrics_json replaced when non-NULL. */
typedef struct sl_mv_change {
    int64_t id;
    const char *expect, *to;
    int set_eval; /* -2 = keep */
    const char *metrics_json;
} sl_mv_change;

typedef struct sl_history_event {
    const char *endpoint; /* may be NULL */
    int64_t version_id;
    const char *event;    /* registered, evaluated, rollout_started, stage, completed, ... */
    const char *from, *to;
    double share;         /* NAN = none */
    const char *reason;
} sl_history_event;

typedef struct sl_deploy_change {
    const sl_mv_change *mv;
    size_t n_mv;
    const char *endpoint;     /* NULL: no endpoint change */
    int64_t expect_live;      /* -1: no check; else the endpoint's live version must be this (0 none) */
    int64_t new_live;         /* -1: keep */
    sl_rollout_record *rollout; /* NULL: none; id 0 = insert (id written back), else update */
    const char *expect_rollout_state; /* update: the row's state must be this */
    const sl_history_event *ev;
    size_t n_ev;
    const char *actor;
} sl_deploy_change;
sl_status sl_registry_deploy_apply(sl_registry *reg, const sl_deploy_change *c);

sl_status sl_registry_mv_insert(sl_registry *reg, const char *kind, const char *path,
                                const char *sha256, int64_t parent_id, int64_t run_id,
                                const char *lineage_json, const char *actor, int64_t *id);
sl_status sl_registry_mv_fetch(sl_registry *reg, int64_t id, sl_mv_record *out);
/* Newest first; status NULL = all. *out owned (free each with sl_mv_record_clear, then free). */
sl_status sl_registry_mv_list(sl_registry *reg, const char *status, sl_mv_record **out, size_t *n);
/* live 0 = none; *has 0 = no active rollout. */
sl_status sl_registry_endpoint_get(sl_registry *reg, const char *endpoint, int64_t *live,
                                   sl_rollout_record *active, int *has);
/* Ids of all active rollouts (at most cap). */
sl_status sl_registry_rollouts_active(sl_registry *reg, int64_t *ids, size_t cap, size_t *n);
/* A policy server claims the active rollout `id` for this process (host, boot, pid). *orphaned
 * is set to 1 (and nothing claimed) when another process of this host had claimed it and is
 * gone: its live metrics died with it. A rollout claimed by a live process, or by another
 * host, is left alone (*claimed 0); an unclaimed one (started from the CLI or the API with no
 * server running) is claimed (*claimed 1). */
sl_status sl_registry_rollout_claim(sl_registry *reg, int64_t id, int *claimed, int *orphaned);
sl_status sl_registry_rollout_fetch(sl_registry *reg, int64_t id, sl_rollout_record *out);
/* The version that was live on `endpoint` before `live` (0 = none). */
sl_status sl_registry_endpoint_previous(sl_registry *reg, const char *endpoint, int64_t live,
                                        int64_t *prev);
/* History rows as a JSON array text, newest first; endpoint NULL = all. *out: free(). */
sl_status sl_registry_deploy_history(sl_registry *reg, const char *endpoint, int limit, char **out);
/* Reward components of one evaluated reward: n rows (component, raw, weight, value). */
sl_status sl_registry_reward_signals(sl_registry *reg, int64_t version_id, int64_t episode,
                                     int64_t t, const char *model, size_t n,
                                     const char *const *component, const double *raw,
                                     const double *weight, const double *value);
/* The newest `cap` live episodes of a version, oldest first, into the caller's arrays. */
sl_status sl_registry_recent_episodes(sl_registry *reg, int64_t version_id, size_t cap,
                                      double *score, int *failure, double *latency_ms,
                                      double *reward, size_t *n);
/* One live episode outcome reported through /v1/feedback or `traffic`. */
sl_status sl_registry_training_episode(sl_registry *reg, int64_t version_id, const char *endpoint,
                                       double score, int failure, double latency_ms,
                                       double reward, const char *source);
/* === privacy ledger (issue 15; src/store/privacy.c, used by src/privacy) ================ *
 * Budget periods are rolling windows ending at `now`: daily 86400 s, weekly 7 days, monthly
 * 30 days, lifetime everything. Epsilons are stored as integers of 1e-9 (llround), so sums
 * are exact and exactly budget/cost charges fit. A charge is checked against every period
 * of every subject it names and of its dataset, inside the transaction that inserts it. */
typedef enum sl_budget_period {
    SL_PERIOD_DAILY = 0,
    SL_PERIOD_WEEKLY,
    SL_PERIOD_MONTHLY,
    SL_PERIOD_LIFETIME,
    SL_PERIOD_COUNT
} sl_budget_period;
const char *sl_budget_period_name(sl_budget_period p); /* "daily", ...; "unknown" */
sl_status sl_budget_period_parse(const char *name, sl_budget_period *out);
/* Window length in seconds; 0 for lifetime. */
int64_t sl_budget_period_seconds(sl_budget_period p);

/* Limits that apply where privacy_budgets has no row: `max_epsilon` for `period`, the other
 * periods unlimited. From MAX_PRIVACY_EPSILON (default 1.0) and PRIVACY_BUDGET_PERIOD
 * (default monthly); SL_ERR_ARG names the variable when its value is invalid. */
typedef struct sl_budget_defaults {
    double max_epsilon;
    sl_budget_period period;
} sl_budget_defaults;
sl_status sl_budget_defaults_from_env(sl_budget_defaults *d);

/* One release to record. Strings may be NULL where marked. */
typedef struct sl_ledger_release {
    int64_t run_id;            /* 0 = none */
    int64_t now;               /* unix seconds (> 0) */
    const char *actor, *technique, *dataset;          /* required */
    const char *input_path, *input_sha256;            /* may be NULL */
    const char *output_path, *output_sha256;          /* may be NULL */
    const char *tmp_path;      /* non-NULL: status 'pending' until sl_ledger_mark_placed */
    const char *params_json;   /* may be NULL; valid JSON */
    double epsilon;            /* per subject (and once for the dataset), >= 0 */
    double delta, rho;
    int formal;                /* 1 if epsilon is a DP guarantee */
    int64_t n_rows;
    const char *const *subjects; /* distinct subject keys, may be NULL when n_subjects == 0 */
    const uint32_t *subject_rows; /* NULL: each subject is charged epsilon; else subject i is
                                     charged epsilon * subject_rows[i] (group privacy: one
                                     epsilon per released record of the subject) */
    size_t n_subjects;
    const char *pool_source;   /* non-NULL: add output_path to training_data_pool */
    int pool_days;             /* expiry for the pool row */
} sl_ledger_release;

/* Insert the release's log row, its charges (one per subject + one of epsilon for the
 * dataset) and the pool row in one BEGIN IMMEDIATE transaction, after checking every budget
 * of every subject with its own charge. Over budget:
 * SL_ERR_RANGE, nothing written, message "budget exceeded: subject 'u1', monthly: spent
 * 0.900000000 of 1.000000000, remaining 0.100000000, requested 0.300000000". */
sl_status sl_ledger_record(sl_registry *reg, const sl_ledger_release *rel,
                           const sl_budget_defaults *def, int64_t *log_id);
/* status 'pending' -> 'placed' or 'orphaned'. */
sl_status sl_ledger_set_status(sl_registry *reg, int64_t log_id, const char *status);

/* Pending releases (status 'pending'). Arrays malloc'd; free with sl_ledger_pending_free. */
typedef struct sl_ledger_pending {
    int64_t id, pid;
    char *host, *tmp_path, *output_path, *output_sha256;
} sl_ledger_pending;
sl_status sl_ledger_list_pending(sl_registry *reg, sl_ledger_pending **out, size_t *n);
void sl_ledger_pending_free(sl_ledger_pending *p, size_t n);

/* Budget limit for (scope "subject"|"dataset", key, period): an explicit row for key, else
 * for "*", else the default. eps < 0 clears the explicit row. */
sl_status sl_budget_set(sl_registry *reg, const char *scope, const char *key,
                        sl_budget_period period, double eps);
/* JSON text {"scope","key","now","periods":[{"period","limit"(null = unlimited),"spent",
 * "remaining","formal_spent","rho_spent"}]}; *out malloc'd. */
sl_status sl_budget_show_json(sl_registry *reg, const char *scope, const char *key,
                              int64_t now, const sl_budget_defaults *def, char **out);
/* JSON array of the newest `limit` charges of (scope, key) with their log rows; *out
 * malloc'd. */
sl_status sl_budget_history_json(sl_registry *reg, const char *scope, const char *key,
                                 int limit, char **out);
/* Sum of charges (eps_nano) of (scope, key) over all time, for tests and reports. */
sl_status sl_ledger_spent_nano(sl_registry *reg, const char *scope, const char *key,
                               int64_t *nano);

/* Pool rows whose expiry <= now and not yet deleted. */
typedef struct sl_pool_row {
    int64_t id;
    char *path, *sha256, *source;
    int64_t expires_unix;
} sl_pool_row;
sl_status sl_pool_list_expired(sl_registry *reg, int64_t now, sl_pool_row **out, size_t *n);
void sl_pool_rows_free(sl_pool_row *r, size_t n);
/* Mark a pool row deleted and log it (technique 'retention') in one transaction. */
sl_status sl_pool_mark_deleted(sl_registry *reg, int64_t id, int64_t now, const char *actor);
/* --- privapi (issue 15, HTTP/dashboard/report readers) --- */
/* JSON text: array of the newest `limit` (1..1000) anonymization_logs rows, newest first,
 * optionally only of `dataset` (NULL = all) and/or only of `technique` (NULL = all):
 * {"id","run_id"(null),"created","created_unix","actor","technique","dataset","output_path",
 *  "output_sha256","epsilon","delta","rho","formal","n_rows","n_subjects","status",
 *  "params"(parsed JSON or null)}. *out malloc'd. */
sl_status sl_privacy_releases_json(sl_registry *reg, const char *dataset, const char *technique,
                                   int limit, char **out);
/* Distinct (scope, key) pairs that have charges or budget rows, at most `limit` (1..1000),
 * most recently charged first: JSON array of {"scope","key","last_charge_unix"}. */
sl_status sl_privacy_keys_json(sl_registry *reg, int limit, char **out);
/* === end privacy ledger ================================================================ */
/* --- synthetic record jobs (gen module, issue 16; src/store/gen.c) ------ */

/* One `generate` release decision. NaN in a score = not computed (stored NULL); has_dp = 0
 * stores epsilon/delta NULL ("no DP guarantee"). params_json, scores_json, out_path may be
 * NULL. */
typedef struct sl_synthetic_job_row {
    const char *method;      /* "copula", "vae", "rules" */
    const char *params_json;
    int64_t n_rows;
    double quality, detection_auc, coverage, diversity, dcr_share, membership_auc;
    const char *scores_json;
    int has_dp;
    double epsilon, delta;
    double threshold;        /* NaN = none */
    int released;            /* 1: the file was written */
    const char *out_path;
    /* the privacy-ledger charge (set by sl_registry_gen_release; 0/NULL = no charge) */
    int64_t ledger_log_id;
    const char *ledger_dataset;
    double charged_epsilon;  /* the dataset's charge */
    int64_t charged_subjects;
} sl_synthetic_job_row;
sl_status sl_registry_add_synthetic_job(sl_registry *reg, int64_t run_id,
                                        const sl_synthetic_job_row *row, int64_t *id);
/* JSON array text of a run's synthetic_jobs rows (all runs when run_id <= 0), oldest first.
 * *out malloc'd (caller frees). */
sl_status sl_registry_synthetic_jobs_json(sl_registry *reg, int64_t run_id, char **out);
/* --- run status (src/store/run_status.c; the job layer's cancellation check) --- */

/* The current status of run run_id (e.g. SL_RUN_FAILED after sl_run_mark_failed, the
 * dashboard's POST /api/runs/ID/mark-failed). SL_ERR_NOTFOUND if there is no such run;
 * SL_ERR_ARG when reg is NULL. */
sl_status sl_run_get_status(sl_registry *reg, int64_t run_id, sl_run_status *out);
/* --- end run status --- */

/* === generate and the privacy ledger (genpriv, issue 16; src/store/privacy.c, gen.c) ===== */
/* The budget check of sl_ledger_record alone (dataset and every subject, every period), in a
 * read transaction that writes nothing: SL_ERR_RANGE with the same "budget exceeded: ...
 * remaining ..." message, SL_OK if the release could be paid now. */
sl_status sl_ledger_check(sl_registry *reg, const sl_ledger_release *rel,
                          const sl_budget_defaults *def);
/* One BEGIN IMMEDIATE transaction: when rel != NULL the ledger's budget check, its
 * anonymization_logs row (status `status`, NULL = 'pending' if rel->tmp_path else 'placed')
 * and charges (SL_ERR_RANGE over budget: nothing written), then the synthetic_jobs row, which
 * records the charge (ledger_log_id, ledger_dataset, charged_epsilon, charged_subjects are
 * filled in from rel). *log_id / *job_id may be NULL. */
sl_status sl_registry_gen_release(sl_registry *reg, int64_t run_id, const sl_ledger_release *rel,
                                  const sl_budget_defaults *def, const char *status,
                                  const sl_synthetic_job_row *row, int64_t *log_id,
                                  int64_t *job_id);
/* === end generate and the privacy ledger ================================================ */

#ifdef __cplusplus
}
#endif
#endif /* SL_REGISTRY_H */
