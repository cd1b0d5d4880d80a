/* SPDX-License-Identifier: Apache-2.0 */
/* sl_deploy.h - the model lifecycle (seed 003's model orchestrator): versions with checked
 * status transitions, evaluation gates, rollouts (full / canary / shadow / A-B) per endpoint,
 * request routing, live health, automatic rollback, and the reward model.
 *
 * Lifecycle of a version (docs/DEPLOY.md):
 *
 *     training -> evaluating -> deployed -> archived
 *         |            |            \-> rolled_back
 *         \-> failed   \-> failed (evaluation gates not passed)
 *
 *   - Only a version whose evaluation passed (eval_passed = 1) can start a rollout.
 *   - One rollout at a time per endpoint; one live version per endpoint.
 *   - A canary / A-B candidate serves traffic (status deployed) from the rollout's start; when
 *     the rollout completes it becomes the endpoint's live version and the previous live
 *     version is archived; when it is rolled back its status is rolled_back and the live
 *     version never stopped serving. A shadow candidate never serves (status evaluating).
 *   - Every change is one registry transaction together with its rows in deployment_history,
 *     which is append-only (SQL triggers refuse UPDATE and DELETE).
 *   - A policy server claims the rollouts it serves (host, boot, pid). After a crash, the next
 *     server's sl_deploy_recover rolls back every rollout whose server is gone (its live
 *     metrics died with it), so a restarted server serves exactly the live versions and the
 *     history says why; a rollout started from the CLI before any server ran is claimed, not
 *     rolled back.
 *
 * Ownership: plain structs owned by the caller; *_free releases what a call allocated.
 * Threads: the router and health monitors are not locked; the server holds one lock around
 * them. Registry calls follow sl_registry.h (one handle per thread).
 */
#ifndef SL_DEPLOY_H
#define SL_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- statuses and transitions ---------------------------------------------------------------- */

typedef enum sl_mv_status {
    SL_MV_TRAINING = 0,
    SL_MV_EVALUATING,
    SL_MV_DEPLOYED,
    SL_MV_ARCHIVED,
    SL_MV_ROLLED_BACK,
    SL_MV_FAILED,
    SL_MV_STATUS_COUNT
} sl_mv_status;

const char *sl_mv_status_name(sl_mv_status s); /* "training", ...; "unknown" out of range */
sl_status sl_mv_status_parse(const char *name, sl_mv_status *out);
/* 1 if the lifecycle allows from -> to (the diagram above). */
int sl_mv_transition_allowed(sl_mv_status from, sl_mv_status to);

typedef enum sl_strategy {
    SL_STRATEGY_FULL = 0, /* immediate switch, previous archived */
    SL_STRATEGY_CANARY,   /* stages of traffic share (10% -> 50% -> 100%), analysed at each */
    SL_STRATEGY_SHADOW,   /* candidate computes beside live, never answers */
    SL_STRATEGY_AB,       /* split, significance test, winner promoted */
    SL_STRATEGY_COUNT
} sl_strategy;
const char *sl_strategy_name(sl_strategy s); /* "full", "canary", "shadow", "ab" */
sl_status sl_strategy_parse(const char *name, sl_strategy *out);

/* --- versions ---------------------------------------------------------------------------------- */

/* A version as the registry holds it (sl_registry.h's sl_mv_record: kind, absolute path,
 * sha256, status text, eval_passed -1/0/1, parent, run, lineage and metrics JSON (owned)). */
typedef sl_mv_record sl_model_version;
/* Its status as an enum (SL_MV_STATUS_COUNT if the text is unknown). */
sl_mv_status sl_mv_status_of(const sl_model_version *v);
void sl_model_versions_free(sl_model_version *v, size_t n); /* clears each, frees the array */

/* Register a version (status training). `path` must be an existing regular file; its SHA-256 is
 * computed here. parent_id 0 = none (else must exist). lineage_json may be NULL. */
sl_status sl_mv_register(sl_registry *reg, const char *kind, const char *path, int64_t parent_id,
                         int64_t run_id, const char *lineage_json, const char *actor,
                         int64_t *id);
sl_status sl_mv_get(sl_registry *reg, int64_t id, sl_model_version *out);
/* All versions (filter < 0) or those with status `filter`, newest first. */
sl_status sl_mv_list(sl_registry *reg, int filter, sl_model_version **out, size_t *n);
/* Checked transition from the version's current status (SL_ERR_STATE with both names when the
 * lifecycle forbids it or another writer changed the status meanwhile). */
sl_status sl_mv_transition(sl_registry *reg, int64_t id, sl_mv_status to, const char *actor,
                           const char *reason);

/* --- evaluation gates -------------------------------------------------------------------------- */

typedef enum sl_evalgate_op { SL_EVALGATE_GE = 0, SL_EVALGATE_LE, SL_EVALGATE_ABS_LE, SL_EVALGATE_OP_COUNT } sl_evalgate_op;

typedef struct sl_evalgate {
    char metric[48]; /* a key of the metrics object */
    sl_evalgate_op op;
    double threshold;
    char seed_name[48]; /* the seed-003 name it stands for ("empathy score", ...) or "" */
} sl_evalgate;

#define SL_EVALGATES_MAX 16
typedef struct sl_evalgate_profile {
    char name[32];
    int n;
    sl_evalgate gates[SL_EVALGATES_MAX];
} sl_evalgate_profile;

/* Built-in profiles: "seed003" (score >= 0.75, false_intervention_rate <= 0.10,
 * latency_p99_ms <= 200, reward_stability <= 0.05 on the seed's own metric names) and
 * "workcell" (the same thresholds mapped to the task's metrics, docs/DEPLOY.md). */
sl_status sl_evalgate_profile_builtin(const char *name, sl_evalgate_profile *out);
/* A profile from JSON text {"name":..,"gates":[{"metric":..,"op":">="|"<="|"abs<=",
 * "threshold":..}]}; errors name the gate index and field. */
sl_status sl_evalgate_profile_parse(const char *json, sl_evalgate_profile *out);

typedef struct sl_evalgate_result {
    int passed;            /* all gates passed */
    int n_failed;
    int failed[SL_EVALGATES_MAX]; /* 1 per gate that failed (a missing metric fails) */
    double value[SL_EVALGATES_MAX];
} sl_evalgate_result;
/* Evaluate `metrics_json` (an object of numbers) against the profile. */
sl_status sl_evalgate_check(const sl_evalgate_profile *p, const char *metrics_json, sl_evalgate_result *out);

/* Record an evaluation: the version must be evaluating (a training version is moved to
 * evaluating first); passed -> stays evaluating with eval_passed 1; failed -> status failed.
 * The report (metrics + per-gate outcome) is stored as the version's metrics_json. */
sl_status sl_mv_record_evaluation(sl_registry *reg, int64_t id, const sl_evalgate_profile *p,
                                  const char *metrics_json, const char *actor,
                                  sl_evalgate_result *out);

/* --- rollouts ------------------------------------------------------------------------------------ */

#define SL_CANARY_STAGES_MAX 8
typedef struct sl_rollout_plan {
    sl_strategy strategy;
    int n_stages;                              /* canary: shares in (0, 1], increasing, last 1 */
    double stages[SL_CANARY_STAGES_MAX];       /* default 0.10, 0.50, 1.00 */
    double ab_share;                           /* A-B: candidate's share (0.5) */
    int min_episodes;                          /* candidate episodes before each analysis (20) */
    int ab_max_episodes;                       /* A-B: per arm before "no winner" (200) */
} sl_rollout_plan;
sl_rollout_plan sl_rollout_plan_default(sl_strategy s);

typedef enum sl_rollout_state {
    SL_ROLLOUT_ACTIVE = 0,
    SL_ROLLOUT_COMPLETED,
    SL_ROLLOUT_ROLLED_BACK,
    SL_ROLLOUT_STOPPED, /* shadow or A-B ended without promotion */
    SL_ROLLOUT_STATE_COUNT
} sl_rollout_state;
const char *sl_rollout_state_name(sl_rollout_state s);

typedef struct sl_rollout {
    int64_t id;
    char endpoint[64];
    int64_t candidate, live; /* live 0: first deployment of the endpoint */
    sl_rollout_plan plan;
    int stage;               /* canary stage index */
    double share;            /* candidate's current traffic share (shadow: 0) */
    sl_rollout_state state;
    char reason[256];
} sl_rollout;

/* The endpoint's live version (0 = none) and its active rollout (*has_rollout 0 = none). */
sl_status sl_endpoint_state(sl_registry *reg, const char *endpoint, int64_t *live,
                            sl_rollout *rollout, int *has_rollout);

/* Start a rollout of `candidate` on `endpoint`. Errors (nothing written): the candidate did not
 * pass evaluation or is not evaluating; another rollout is active on the endpoint; canary,
 * shadow or A-B without a live version to compare with; a bad plan. FULL completes at once. */
sl_status sl_rollout_start(sl_registry *reg, const char *endpoint, int64_t candidate,
                           const sl_rollout_plan *plan, const char *actor, const char *reason,
                           sl_rollout *out);
/* Move a canary to its next stage (completing it after the last). */
sl_status sl_rollout_advance(sl_registry *reg, sl_rollout *r, const char *actor,
                             const char *reason);
/* Promote the candidate now (canary's last stage, A-B winner, shadow promoted). */
sl_status sl_rollout_complete(sl_registry *reg, sl_rollout *r, const char *actor,
                              const char *reason);
/* Roll back: candidate -> rolled_back (shadow: back to evaluating is not done; it is
 * rolled_back too), live untouched. */
sl_status sl_rollout_rollback(sl_registry *reg, sl_rollout *r, const char *actor,
                              const char *reason);
/* Roll back the endpoint's live version to its predecessor (the last archived version that was
 * live before it): live -> rolled_back, predecessor -> deployed and live. */
sl_status sl_endpoint_rollback(sl_registry *reg, const char *endpoint, const char *actor,
                               const char *reason, int64_t *restored);
/* Called when a policy server starts: claims every active rollout nobody serves (e.g. one
 * started with `synthloop deploy` before the server) for this process, and rolls back every
 * rollout whose serving process is gone (its live metrics died with it); *n receives how many
 * were rolled back. A rollout served by another live process is left alone. */
sl_status sl_deploy_recover(sl_registry *reg, const char *actor, int *n);

/* The history as a JSON array text (newest first, at most `limit`; endpoint NULL = all).
 * *out owned by the caller (free). */
sl_status sl_deploy_history_json(sl_registry *reg, const char *endpoint, int limit, char **out);

/* --- routing ------------------------------------------------------------------------------------- */

typedef struct sl_route {
    int64_t serve;  /* the version whose action is returned */
    int64_t shadow; /* a version to compute and log beside it (0 = none) */
    int bucket;     /* 0..9999, from the request key */
} sl_route;

/* Route one request. Sticky: the bucket is a keyed hash of `key` (same key -> same bucket ->
 * same version while the share is unchanged; a larger share only moves keys from live to the
 * candidate). key NULL/empty: the bucket comes from `counter` (spread evenly). Candidate serves
 * when bucket < share * 10000 (canary, A-B); shadow always serves live. */
sl_route sl_route_pick(int64_t live, const sl_rollout *r, const char *key, uint64_t counter);

/* --- live health ----------------------------------------------------------------------------------- */

typedef struct sl_outcome {
    double score;      /* the task's episode score in [0, 1] (e.g. success) or a return */
    int failure;       /* 1 if the episode failed (false intervention, drop, timeout...) */
    double latency_ms; /* p99 (or mean) action latency of the episode */
    double reward;     /* the episode's mean reward */
} sl_outcome;

/* A sliding window of the last `cap` outcomes of one version. */
typedef struct sl_health_window {
    int cap, n, head;
    sl_outcome *buf; /* owned */
    long total;      /* outcomes ever added */
} sl_health_window;
sl_status sl_health_window_init(sl_health_window *w, int cap);
void sl_health_window_free(sl_health_window *w);
void sl_health_window_add(sl_health_window *w, const sl_outcome *o);

typedef struct sl_health_metrics {
    int n;
    double score, failure_rate, latency_p99_ms;
    double score_sd;         /* sample sd of the scores (0 when n < 2) */
    double reward_stability; /* max |window-quarter mean reward - overall mean| */
} sl_health_metrics;
void sl_health_compute(const sl_health_window *w, sl_health_metrics *out);

typedef enum sl_health_state {
    SL_HEALTHY = 0, /* all metrics within thresholds */
    SL_DEGRADED,    /* 1-2 outside */
    SL_CRITICAL,    /* 3 or more */
    SL_HEALTH_STATE_COUNT
} sl_health_state;
const char *sl_health_state_name(sl_health_state s);

typedef struct sl_health_thresholds {
    double min_score;        /* 0.75 */
    double max_failure_rate; /* 0.10 */
    double max_latency_ms;   /* 200 */
    double max_reward_instability; /* 0.05 */
} sl_health_thresholds;
sl_health_thresholds sl_health_thresholds_default(void);
/* The state and the names of the failing metrics (comma-separated into `failing`). */
sl_health_state sl_health_assess(const sl_health_metrics *m, const sl_health_thresholds *t,
                                 char *failing, size_t cap);

/* Seed 003's automatic rollback triggers, candidate against live on live traffic:
 * score drop > 10 % (relative to live), failure-rate rise > 50 % (relative, and at least
 * 2 failures more per 100 episodes), candidate latency p99 > 250 ms, or two or more of the
 * candidate's health metrics failing at once. A drop or rise only triggers when it is also
 * significant (one-sided z-test at alpha 0.05: Welch-style for the mean score, two-proportion
 * for the failure rate), so that one unlucky failure in 20 episodes does not roll back a good
 * candidate; the simultaneous-failure trigger needs one significant drop or rise too. */
typedef struct sl_rollback_triggers {
    double score_drop;      /* 0.10 */
    double failure_rise;    /* 0.50 */
    double latency_ms;      /* 250 */
    int simultaneous;       /* 2 */
} sl_rollback_triggers;
sl_rollback_triggers sl_rollback_triggers_default(void);

typedef enum sl_canary_action { SL_CANARY_WAIT = 0, SL_CANARY_ADVANCE, SL_CANARY_ROLLBACK } sl_canary_action;
/* Analysis at a canary step: WAIT until the candidate has min_episodes outcomes at this stage,
 * then ROLLBACK on any trigger (reason written) or ADVANCE. */
sl_canary_action sl_canary_analyse(const sl_health_metrics *cand, const sl_health_metrics *live,
                                   int episodes_at_stage, const sl_rollout_plan *plan,
                                   const sl_rollback_triggers *tr, const sl_health_thresholds *th,
                                   char *reason, size_t cap);

/* A-B analysis: Welch's t-test on the arms' episode scores (window contents) at alpha 0.05
 * once both have min_episodes: returns +1 candidate wins (significantly better), -1 live wins
 * (significantly worse: roll back), 0 undecided. */
int sl_ab_live_analyse(const sl_health_window *cand, const sl_health_window *live,
                       int min_episodes, double *p_value);

/* --- reward model ---------------------------------------------------------------------------------- */

typedef enum sl_reward_term_kind {
    SL_RT_VALUE = 0, /* weight * field */
    SL_RT_DELTA,     /* weight * (after - before) */
    SL_RT_ALL_TRUE,  /* weight * (1 if every field is true else 0) */
    SL_RT_GAUSSIAN,  /* weight * exp(-(field - target)^2 / (2 width^2)) */
    SL_RT_KIND_COUNT
} sl_reward_term_kind;

#define SL_REWARD_TERMS_MAX 16
#define SL_REWARD_FIELDS_MAX 4
typedef struct sl_reward_term {
    char name[48];
    sl_reward_term_kind kind;
    double weight;
    int n_fields;
    char fields[SL_REWARD_FIELDS_MAX][48]; /* value/gaussian: 1; delta: before, after; all_true: 1..4 */
    double target, width;                  /* gaussian */
} sl_reward_term;

typedef struct sl_reward_model {
    char name[32];
    int n;
    sl_reward_term terms[SL_REWARD_TERMS_MAX];
} sl_reward_model;

/* "seed003": 0.4 sentiment gain + 0.4 engagement delta + 0.2 compliance + empathy and timing
 * terms (weights 0 by default: the seed names them without values); "workcell": +10 per unit,
 * -5 per timeout, -200 per Wh (the workcell's economic reward). */
sl_status sl_reward_model_builtin(const char *name, sl_reward_model *out);
/* From JSON text {"name":..,"components":[{"name","type":"value|delta|all_true|gaussian",
 * "weight", "field"|"before"+"after"|"fields", "target", "width"}]}. */
sl_status sl_reward_model_parse(const char *json, sl_reward_model *out);

typedef struct sl_reward_value {
    double total;
    int n;
    double component[SL_REWARD_TERMS_MAX]; /* weighted contribution of each term */
    double raw[SL_REWARD_TERMS_MAX];       /* the term before its weight */
} sl_reward_value;
/* Evaluate on an input object (JSON text of named numbers / booleans). A missing field or a
 * non-finite number is an error naming the term and field. */
sl_status sl_reward_compute(const sl_reward_model *m, const char *input_json, sl_reward_value *out);
/* Record one evaluated reward (per component) as reward_signals rows of `episode` (0 = none). */
sl_status sl_reward_record(sl_registry *reg, int64_t version_id, int64_t episode, int64_t t,
                           const sl_reward_model *m, const sl_reward_value *v);


/* --- policy serving (POST /v1/act, /v1/feedback; docs/DEPLOY.md) -------------------------------
 * A policy server holds the endpoint's live version and the active rollout's candidate as
 * loaded agents (plus the encoder named by a version's lineage {"encoder": PATH}, which maps
 * observations to the policy's latent state), routes each request with sl_route_pick, keeps a
 * health window per version, and, with auto_manage, applies the canary / A-B analysis after
 * each feedback: advancing, completing or rolling back the rollout in the registry with the
 * reason. Actions are the policy's outputs in [-1, 1] (the client scales them to its
 * actuator bounds, as sl_ab_eval_policy does). One internal mutex: all calls are thread-safe. */
typedef struct sl_policy_server sl_policy_server;

typedef struct sl_ps_config {
    const char *db_path;  /* registry file */
    const char *endpoint; /* e.g. "default" */
    int window;           /* outcomes kept per version (200) */
    int auto_manage;      /* 1: apply canary / A-B decisions after feedback */
    sl_health_thresholds th;
    sl_rollback_triggers tr;
    const char *shadow_log; /* JSONL file for shadow comparisons, or NULL */
} sl_ps_config;
sl_ps_config sl_ps_config_default(const char *db_path, const char *endpoint);

/* Opens the registry, recovers rollouts a previous process left active, loads the live version
 * and the candidate. An endpoint without a live version is allowed (act answers SL_ERR_STATE
 * until one is deployed). */
sl_status sl_ps_open(const sl_ps_config *cfg, sl_policy_server **out);
void sl_ps_close(sl_policy_server *ps);
/* Re-read the endpoint's state (after `synthloop deploy` changed it). */
sl_status sl_ps_reload(sl_policy_server *ps);

typedef struct sl_ps_action {
    int64_t version;        /* the version whose action is returned */
    int64_t shadow_version; /* 0 = none */
    int act_dim;
    float act[64];
    double latency_ms;      /* of the serving version's computation */
} sl_ps_action;
/* One observation -> one action. Errors: obs_dim mismatch (SL_ERR_SHAPE naming both), a
 * non-finite observation (SL_ERR_NAN), no live version (SL_ERR_STATE). */
sl_status sl_ps_act(sl_policy_server *ps, const char *key, const float *obs, int obs_dim,
                    sl_ps_action *out);
/* An episode outcome for `version` (0 = the live version). decision (may be NULL) receives
 * what the analysis did: "" / "advanced to 50%" / "completed" / "rolled back: <reason>". */
sl_status sl_ps_feedback(sl_policy_server *ps, int64_t version, const sl_outcome *o,
                         char *decision, size_t cap);
/* Live state as JSON text: live, rollout, per-version health and metrics, shadow stats. */
sl_status sl_ps_status_json(sl_policy_server *ps, char **out);
/* The observation size the served policies expect (0 before a version is live). */
int sl_ps_obs_dim(sl_policy_server *ps);


/* --- physics evaluation and closed-loop traffic (src/deploy/evaluate.c, traffic.c) ------------ */

/* The candidate policy version in physics against a reference on the same start states
 * (paired: episode e of both is reset with seed + e). The reference is `against` (a policy
 * version), else the endpoint's live version when `endpoint` has one, else the environment's
 * scripted expert (noise-free). Observations go through the encoder a version's lineage names.
 * Per candidate episode: score = units / (units + failed attempts), the successful share of
 * the attempts that ended (0 when none ended), failure = any failed attempt (timeouts
 * included), reward = return / control steps. Metrics of the "workcell" gate
 * profile: mpl_ratio = candidate MPL / reference MPL (units per simulated hour summed over the
 * episodes; 0 when both are 0, capped at 100), error_rate = failed attempts / attempts,
 * latency_p99_ms = p99 of the candidate's action computation (encoder + policy, wall clock),
 * reward_stability = the largest deviation of a quarter of the episodes' mean reward from the
 * mean over all (as the live health windows compute it). Pure function of the versions, the
 * environment config, episodes and seed, except the latency. */
struct sl_env; /* sl_env.h */
typedef struct sl_physics_eval {
    int episodes;
    int64_t candidate;
    int64_t reference;       /* the version compared with; 0 = the scripted expert */
    double mpl, error_rate, ep, mean_return, score, failure_rate; /* candidate */
    double ref_mpl, ref_error_rate;                              /* reference */
    double mpl_ratio, latency_p99_ms, latency_mean_ms, reward_stability;
    long act_calls;
} sl_physics_eval;
sl_status sl_deploy_evaluate_physics(sl_registry *reg, int64_t candidate, int64_t against,
                                     const char *endpoint, struct sl_env *env, int episodes,
                                     uint64_t seed, sl_physics_eval *out);
/* The evaluation as a metrics JSON object (numbers only) for sl_mv_record_evaluation; owned
 * by the caller (free). */
char *sl_physics_eval_json(const sl_physics_eval *e);

/* Closed-loop traffic against a policy server (`synthloop traffic`): `clients` threads, each
 * with its own workcell, run episodes whose every action comes from POST URL/v1/act and report
 * each episode's outcome to POST URL/v1/feedback (score, failure as above, latency_ms = p99 of
 * the episode's act round trips, reward = return / steps). Episode e is reset with seed + e and
 * sends the request key "c<client>-e<e>", so that every act of an episode is routed to the
 * same version (sticky) while the candidate's share is observed over episodes. Actions in
 * [-1, 1] are scaled to the actuator bounds as sl_ab_eval_policy does. An episode is
 * attributed to the version that served its first action (episodes served by two versions,
 * when a canary share grows mid-episode, are counted in `mixed`). A failed request abandons
 * its episode (no feedback) and counts in `errors`; a client stops after 5 in a row. Feedback
 * answered 404 because its version stopped being served while the episode ran (a completed
 * or rolled-back rollout) is counted in `late_feedback`, not as an error. Each client keeps one
 * keep-alive connection (sl_http_conn). */
typedef struct sl_traffic_config {
    const char *url;    /* "http://127.0.0.1:8765" (the server's base URL) */
    const char *token;  /* bearer token of the server */
    int episodes;       /* in total, over all clients */
    int clients;        /* threads, 1..256 */
    uint64_t seed;
    double timeout_s;   /* per request (10) */
    int feedback;       /* 1: report outcomes (default) */
} sl_traffic_config;
sl_traffic_config sl_traffic_config_default(const char *url, const char *token);

#define SL_TRAFFIC_VERSIONS_MAX 8
#define SL_TRAFFIC_DECISIONS_MAX 16
typedef struct sl_traffic_version {
    int64_t version;
    long episodes, failures, acts;
    double score_sum, reward_sum;
} sl_traffic_version;
typedef struct sl_traffic_result {
    long episodes, acts, feedbacks, errors, mixed;
    long late_feedback; /* feedback answered 404: its version stopped being served meanwhile */
    double seconds, acts_per_s, act_p50_ms, act_p99_ms, act_max_ms;
    int n_versions;
    sl_traffic_version versions[SL_TRAFFIC_VERSIONS_MAX];
    int n_decisions; /* the non-empty decisions the server returned, in order (first 16) */
    char decisions[SL_TRAFFIC_DECISIONS_MAX][320];
    long decision_episode[SL_TRAFFIC_DECISIONS_MAX]; /* completed episodes when it came */
    char last_error[320];
} sl_traffic_result;
/* SL_ERR_IO when no episode completed (server down, wrong token: last_error says which). */
sl_status sl_traffic_run(const sl_traffic_config *cfg, sl_traffic_result *out);

#ifdef __cplusplus
}
#endif
#endif /* SL_DEPLOY_H */
