/* SPDX-License-Identifier: Apache-2.0 */
/* sl_env.h - environments (pluggable: a table of functions + a context, like redis' dictType),
 * the built-in MuJoCo workcell, environments over any MJCF model driven by a task spec (JSON:
 * reward terms, success/failure, units; docs/TASKS.md) with an MPC expert, the environment
 * record that travels with the data, economic metrics computed from the physics, behaviour
 * policies of graded quality and the collector that turns episodes into an sl_dataset.
 *
 * An episode is max_steps control steps; each control step runs frame_skip physics steps.
 * The environment, not the caller, counts units, attempts, failures and energy; the episode
 * metrics (MPL, error rate, energy, EP, wage parity) are derived from those counts by
 * sl_econ_compute, so they come from the physics and never from a formula of the action.
 *
 * Ownership: sl_env_* constructors return an env owned by the caller (sl_env_free, NULL ok).
 * Observation/action buffers are always caller-owned. An sl_env_record owns its task_json
 * (sl_env_record_clear). The MPC planner of a task-spec env runs OpenMP threads inside a call
 * to the expert; its result does not depend on their number. Not thread-safe per env; separate envs
 * may run on separate threads, except that MuJoCo's warning hook is process-global (see
 * sl_env_mj_install_hooks).
 */
#ifndef SL_ENV_H
#define SL_ENV_H

#include "sl_core.h"
#include "sl_dataset.h"
#include "sl_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- economics ------------------------------------------------------------ */

/* Kinds of failed attempt. */
typedef enum sl_env_error_kind {
    SL_ENV_ERR_DROP = 0,  /* grasp broke (item too heavy / slippery for the acceleration) */
    SL_ENV_ERR_MISS,      /* item released or pushed and came to rest outside the bin */
    SL_ENV_ERR_COLLISION, /* tool (or held item) hit the cell hard */
    SL_ENV_ERR_TIMEOUT,   /* attempt took too long, or an episode did no work at all */
    SL_ENV_ERR_KIND_COUNT
} sl_env_error_kind;

/* Name of an error kind ("drop", "miss", "collision", "timeout"); "?" if out of range. */
const char *sl_env_error_kind_name(sl_env_error_kind k);

typedef struct sl_econ_params {
    double value_per_unit; /* currency per completed unit (default 0.03) */
    double human_wage;     /* currency per hour of human work (default 18.0) */
} sl_econ_params;

/* Defaults: value_per_unit 0.03, human_wage 18.0 (a human doing 600 units/h has parity 1). */
sl_econ_params sl_econ_default(void);

typedef struct sl_env_metrics {
    int steps;                               /* control steps taken */
    int units;                               /* completed units */
    int attempts;                            /* attempts (successful + failed) */
    int failures;                            /* failed attempts */
    int errors_by_kind[SL_ENV_ERR_KIND_COUNT];
    double sim_seconds;                      /* simulated time */
    double energy_wh;                        /* integral of sum_i |tau_i * qdot_i| dt, in Wh */
    double total_reward;
    /* derived by sl_econ_compute */
    double mpl;         /* units per simulated hour */
    double error_rate;  /* failures / attempts (0 if attempts == 0) */
    double ep;          /* units per Wh (0 if energy is 0) */
    double wage_parity; /* mpl * value_per_unit / human_wage */
} sl_env_metrics;

/* Fill the derived fields of m from its counts. SL_ERR_ARG for a non-positive wage or time,
 * or counts that cannot hold (failures > attempts, negative values). */
sl_status sl_econ_compute(sl_env_metrics *m, const sl_econ_params *p);

/* Per-step output of sl_env_step. */
typedef struct sl_env_out {
    float reward;
    int terminal;     /* the task ended (generic env: target reached) */
    int timeout;      /* max_steps reached */
    int units;        /* units completed during this step */
    int attempts;     /* attempts started during this step */
    int failures;     /* attempts that failed during this step */
    unsigned error_mask; /* bit k set if an error of kind k happened in this step */
    int errors[SL_ENV_ERR_KIND_COUNT]; /* failures of each kind in this step (sum = failures) */
    double energy_wh; /* actuator energy spent during this step */
    int holding;      /* 1 if an item is held at the end of the step (workcell) */
} sl_env_out;

/* --- the environment interface ------------------------------------------ */

#define SL_ENV_MAX_COND 8

/* Backend table. `ctx` is the backend's private state. All functions return SL_OK or set an
 * error. step() receives an action already checked finite and clipped to the bounds; `last`
 * is 1 on the final control step of the episode (max_steps reached), where the backend closes
 * its accounting. reset() also fills the per-episode conditions in env->cond. expert() is the
 * environment's expert: the workcell's scripted controller (a function of the observation
 * only) or, for task-spec envs, the MPC planner over the simulator's current state. */
typedef struct sl_env sl_env;
typedef struct sl_env_record sl_env_record;
typedef struct sl_env_type {
    const char *name;
    sl_status (*reset)(sl_env *env, uint64_t seed, float *obs);
    sl_status (*step)(sl_env *env, const float *action, int last, float *obs, sl_env_out *out);
    sl_status (*expert)(sl_env *env, const float *obs, float *action);
    void (*free_ctx)(void *ctx);
    /* the environment record (model + task identity); see sl_env_get_record */
    sl_status (*record)(const sl_env *env, sl_env_record *rec);
    int expert_is_planner; /* expert() is the MPC planner (reads the simulator state) */
} sl_env_type;

struct sl_env {
    const sl_env_type *type;
    void *ctx;
    char name[64];
    int obs_dim, act_dim;
    float *act_lo, *act_hi; /* [act_dim] each, owned */
    int max_steps;          /* control steps per episode */
    int frame_skip;         /* physics steps per control step */
    double control_dt;      /* seconds per control step */
    sl_econ_params econ;
    const struct sl_task *task; /* the task spec (internal, owned by the backend) */
    /* per-episode conditions (set by reset) */
    int n_cond;
    char cond_names[SL_ENV_MAX_COND][32];
    double cond[SL_ENV_MAX_COND];
    /* episode state kept by the wrapper */
    int t;        /* control steps taken this episode */
    int state;    /* 0 not reset, 1 running, 2 episode over, 3 broken (after an error) */
    sl_env_metrics metrics;
};

/* Start an episode; obs [obs_dim] receives the first observation. Same seed => same episode. */
sl_status sl_env_reset(sl_env *env, uint64_t seed, float *obs);
/* One control step. Rejects non-finite actions (SL_ERR_NAN, naming the index) and clips the
 * rest to the bounds; `applied` (may be NULL) receives the clipped action. A diverging
 * simulation returns SL_ERR_DIVERGED and leaves the env broken until the next reset; no
 * non-finite value is ever returned in obs or out. After the final step (out->timeout or
 * out->terminal) further steps return SL_ERR_STATE. */
sl_status sl_env_step(sl_env *env, const float *action, float *obs, float *applied,
                      sl_env_out *out);
/* Metrics of the current (or just finished) episode, derived fields filled. */
sl_status sl_env_episode_metrics(const sl_env *env, sl_env_metrics *m);
/* The environment's scripted controller. */
sl_status sl_env_expert(sl_env *env, const float *obs, float *action);
void sl_env_free(sl_env *env);

/* Install (once, process-wide) a MuJoCo warning hook that records warnings instead of
 * writing MUJOCO_LOG.TXT. Called by the constructors; exposed for tests and tools. */
void sl_env_mj_install_hooks(void);

/* --- built-in environments ---------------------------------------------- */

typedef struct sl_workcell_config {
    int max_steps;        /* control steps per episode (default 60) */
    int frame_skip;       /* physics steps (dt 0.004 s) per control step (default 25 -> 0.1 s) */
    double mass_lo, mass_hi;         /* item mass range, kg (default 0.2 .. 1.0) */
    double friction_lo, friction_hi; /* item friction range (default 0.3 .. 1.0) */
    double grip_normal_n;            /* gripper normal force, N (default 40): capacity = mu*N */
    sl_econ_params econ;
} sl_workcell_config;

sl_workcell_config sl_workcell_default(void);
/* The pick-and-place workcell (MJCF embedded). cfg may be NULL for defaults. */
sl_status sl_env_workcell_new(sl_env **out, const sl_workcell_config *cfg);

/* Workcell observation layout (obs_dim 24) and action layout (act_dim 4). */
enum {
    SL_WC_OBS_Q = 0,         /* shoulder, elbow (rad), lift (m)           [3] */
    SL_WC_OBS_QD = 3,        /* their velocities                          [3] */
    SL_WC_OBS_TIP = 6,       /* tool tip position, m                      [3] */
    SL_WC_OBS_ITEM = 9,      /* item centre position, m                   [3] */
    SL_WC_OBS_ITEM_VEL = 12, /* item linear velocity, m/s                 [3] */
    SL_WC_OBS_ITEM_REL = 15, /* item centre minus tip                     [3] */
    SL_WC_OBS_BIN_REL = 18,  /* bin drop point minus tip                  [3] */
    SL_WC_OBS_HOLDING = 21,  /* 1 while the item is held                  [1] */
    SL_WC_OBS_LOAD = 22,     /* grip force / grip capacity (0..1+)        [1] */
    SL_WC_OBS_PHASE = 23,    /* t / max_steps                             [1] */
    SL_WC_OBS_DIM = 24
};
enum { SL_WC_ACT_SHOULDER = 0, SL_WC_ACT_ELBOW, SL_WC_ACT_LIFT, SL_WC_ACT_GRIP, SL_WC_ACT_DIM };

/* The reach task of the older command-line flags, built as a task spec (docs/TASKS.md). */
typedef struct sl_mjcf_task {
    const char *site;        /* site to move (required) */
    const char *target_site; /* target site name, or NULL to use target[] */
    double target[3];        /* target position (world), if target_site is NULL */
    double tolerance;        /* success radius, m (default 0.02) */
    int max_steps;           /* default 60 */
    int frame_skip;          /* default 10 */
    double init_noise;       /* uniform +- noise on qpos0 at reset (default 0.1) */
    sl_econ_params econ;
} sl_mjcf_task;

sl_mjcf_task sl_mjcf_task_default(void);
/* Load an MJCF file. Errors (SL_ERR_PHYSICS / SL_ERR_NOTFOUND / SL_ERR_ARG) name the file and
 * carry MuJoCo's message. Observation: qpos, qvel, site position, target - site. Actions: all
 * actuators of the model, bounds from ctrlrange (or [-1, 1] when not limited). */
sl_status sl_env_mjcf_new(sl_env **out, const char *path, const sl_mjcf_task *task);

/* --- task specs (docs/TASKS.md) ----------------------------------------- */

/* Sampling-based MPC (MPPI) over the true simulator: the expert of every task-spec env. */
typedef struct sl_mpc_config {
    int samples;        /* rollouts per update (default 32; rollout 0 is the warm-started plan) */
    int horizon;        /* control steps per rollout (default 15) */
    int iterations;     /* MPPI updates per control step (default 2) */
    double noise;       /* sd of the perturbations, fraction of each action's half-range (0.3) */
    double temperature; /* MPPI temperature, fraction of the rollouts' return sd (default 0.1) */
    int knots;          /* noise drawn at this many knots, linearly interpolated (0: every step) */
    int threads;        /* 0: OpenMP's default. The plan does not depend on it (same bits). */
} sl_mpc_config;

sl_mpc_config sl_mpc_default(void);

/* An environment from a task spec file (JSON, docs/TASKS.md) over an MJCF model: `model_path`,
 * or the spec's "model" (relative to the spec's directory) when NULL. max_steps / frame_skip
 * > 0 override the spec's. Errors name the spec file and the place in it ("reward[2].site:
 * no site named 'x' in arm.xml"), or the model file and MuJoCo's message. */
sl_status sl_env_task_new(sl_env **out, const char *spec_path, const char *model_path,
                          int max_steps, int frame_skip);
/* Same from a spec already in memory; `where` names it in messages. */
sl_status sl_env_task_new_json(sl_env **out, const cJSON *spec, const char *where,
                               const char *model_path);
/* Planner settings of a task-spec env (SL_ERR_ARG for the workcell, which has none). */
sl_status sl_env_set_mpc(sl_env *env, const sl_mpc_config *cfg);
/* 1 if the env's task defines economic units (MPL, error rate, EP meaningful), else 0. */
int sl_env_has_units(const sl_env *env);

/* --- the environment record: what the data was collected in ------------- */

struct sl_env_record {
    char kind[16];          /* "workcell" or "mjcf" */
    char model_path[4096];  /* absolute MJCF path ("" for the workcell) */
    char model_sha256[65];  /* of the MJCF file's bytes (workcell: of its embedded XML) */
    char task_sha256[65];   /* of task_json */
    char task_name[64];
    int obs_dim, act_dim;
    char *task_json;        /* the effective task spec, compact JSON; owned (sl_env_record_clear) */
};

/* The record of a built env. rec->task_json is a new string (sl_env_record_clear frees it). */
sl_status sl_env_get_record(const sl_env *env, sl_env_record *rec);
void sl_env_record_clear(sl_env_record *rec);
/* Add the record's fields to obj ({"kind", "model", "model_sha256", "task", "task_sha256",
 * "obs_dim", "act_dim", "task_spec"}). */
sl_status sl_env_record_to_json(const sl_env_record *rec, cJSON *obj);
/* Read a record back (from the object written by sl_env_record_to_json); `where` names the
 * file in messages. rec is cleared first; the caller clears it. */
sl_status sl_env_record_from_json(const cJSON *obj, const char *where, sl_env_record *rec);
/* Read the "environment" object of a dataset sidecar (real.json). SL_ERR_NOTFOUND when the
 * sidecar has none (data without a simulator, e.g. imports). */
sl_status sl_env_record_read(const char *sidecar_path, sl_env_record *rec);
/* Rebuild the environment of a record. Refuses (SL_ERR_STATE) with a message naming both
 * sides when the model file's hash, the task spec's hash or the obs/action dims differ. */
sl_status sl_env_from_record(sl_env **out, const sl_env_record *rec);
/* Check that env matches rec (same kind, hashes and dims); the message names both. */
sl_status sl_env_check_record(const sl_env *env, const sl_env_record *rec);

/* --- behaviour policies ------------------------------------------------- */

typedef enum sl_policy_kind {
    SL_POLICY_EXPERT = 0,   /* scripted controller + small Gaussian noise (sd 0.05) */
    SL_POLICY_MEDIUM,       /* scripted + noise sd 0.1 + 5% uniformly random steps */
    SL_POLICY_RANDOM,       /* uniform in the action bounds */
    SL_POLICY_MEDIUM_EXPERT,/* per episode: expert or medium, 50/50 */
    SL_POLICY_MIXED,        /* per episode: expert 30%, medium 40%, random 30% */
    SL_POLICY_MPC,          /* the MPC planner without noise (task-spec envs only) */
    SL_POLICY_KIND_COUNT
} sl_policy_kind;

const char *sl_policy_name(sl_policy_kind k);
/* Parse "expert", "medium", "random", "medium-expert", "mixed". SL_ERR_ARG lists the names. */
sl_status sl_policy_parse(const char *name, sl_policy_kind *out);
/* Quality of a base policy as recorded in ep_policy_quality: expert 1, medium 0.5, random 0. */
double sl_policy_quality(sl_policy_kind base);

/* Behaviour action for one step. `base` must be expert, medium, random or mpc (mixtures are
 * resolved per episode by the collector; mpc needs a task-spec env). rng drives the noise. */
sl_status sl_policy_act(sl_env *env, sl_policy_kind base, sl_rng *rng, const float *obs,
                        float *action);

/* --- collection --------------------------------------------------------- */

typedef struct sl_collect_summary {
    size_t episodes, steps;
    int policy_counts[SL_POLICY_KIND_COUNT]; /* episodes per base policy */
    /* mean and std (population) over episodes */
    double mean_mpl, std_mpl, mean_error_rate, std_error_rate, mean_energy_wh, std_energy_wh;
    double mean_ep, std_ep, mean_wage_parity, std_wage_parity, mean_units, std_units;
    double mean_return, std_return;
    int has_units; /* 0: the task defines no units; the econ means above are NaN (absent) */
} sl_collect_summary;

/* Run `episodes` episodes with policy `kind` and return them as a dataset (owned by caller).
 * Episode e is reset with a seed derived from (seed, e); the policy's noise stream likewise, so
 * the dataset is a pure function of (env config, kind, episodes, seed). Step columns:
 * unit_done, error_event, attempt_event, energy_wh, holding. Episode columns: mpl, error_rate,
 * energy_wh, ep, wage_parity, units, attempts, failures, drops, misses, collisions, timeouts,
 * sim_seconds, return, policy_quality, plus the env's conditions (e.g. item_mass). When the
 * task defines no units, mpl, error_rate, ep, wage_parity and the counts are not written.
 * summary may be NULL. */
sl_status sl_env_collect(sl_env *env, sl_policy_kind kind, size_t episodes, uint64_t seed,
                         sl_dataset **out, sl_collect_summary *summary);

/* A policy given as a function (e.g. a trained agent loaded by the caller): writes act_dim
 * actions for obs. */
typedef sl_status (*sl_env_policy_fn)(void *ctx, sl_env *env, const float *obs, float *action);
/* Same as sl_env_collect with actions from fn; ep_policy_quality is -1 (an external policy). */
sl_status sl_env_collect_fn(sl_env *env, sl_env_policy_fn fn, void *ctx, size_t episodes, uint64_t seed,
                            sl_dataset **out, sl_collect_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
