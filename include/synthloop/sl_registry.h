/* sl_registry.h - the run registry: one SQLite file recording every run, dataset, model,
 * metric, branch, weight, A/B verdict, ladder level, job and artifact of the pipeline.
 *
 * Schema and migration rules: docs/REGISTRY.md.
 *
 * Guarantees:
 *   - WAL journal, foreign keys on, busy timeout 10 s; several processes may record into the
 *     same file at once (one writer at a time, readers never blocked).
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
#define SL_REGISTRY_SCHEMA_VERSION 1

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

/* --- run status (src/store/run_status.c; the job layer's cancellation check) --- */

/* The current status of run run_id (e.g. SL_RUN_FAILED after sl_run_mark_failed, the
 * dashboard's POST /api/runs/ID/mark-failed). SL_ERR_NOTFOUND if there is no such run;
 * SL_ERR_ARG when reg is NULL. */
sl_status sl_run_get_status(sl_registry *reg, int64_t run_id, sl_run_status *out);
/* --- end run status --- */

#ifdef __cplusplus
}
#endif
#endif /* SL_REGISTRY_H */
