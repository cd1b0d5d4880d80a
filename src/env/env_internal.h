/* SPDX-License-Identifier: Apache-2.0 */
/* env_internal.h - shared internals of the environment backends: MuJoCo loading and
 * divergence checks, and the attempt tracker that turns physics events into econ counts.
 *
 * Key invariant of the tracker: every failure closes exactly one attempt (or is its own
 * attempt), so per-step failure events summed over an episode equal the episode's failures,
 * and failures <= attempts always.
 */
#ifndef SL_ENV_INTERNAL_H
#define SL_ENV_INTERNAL_H

#include <cjson/cJSON.h>
#include <mujoco/mujoco.h>

#include "synthloop/sl_env.h"

/* --- MuJoCo helpers (mj_util.c) ----------------------------------------- */

/* Load MJCF from a file (xml == NULL) or from an in-memory string (name used as the file name
 * in the VFS and in messages). Errors carry MuJoCo's message and the name. */
sl_status sl_mj_load(mjModel **out, const char *path_or_name, const char *xml);
/* SL_ERR_DIVERGED if MuJoCo flagged bad qpos/qvel/qacc/ctrl since the last reset or any
 * state value is non-finite; the message names `what`, the control step and MuJoCo's text. */
sl_status sl_mj_check(const mjModel *m, const mjData *d, const char *what, int step);
/* Allocate env->act_lo/act_hi and the wrapper fields common to every backend. */
sl_status sl_env_init_common(sl_env *env, const sl_env_type *type, void *ctx, const char *name,
                             int obs_dim, int act_dim);

/* --- attempt tracker ---------------------------------------------------- */

typedef struct sl_tracker {
    int open;          /* an attempt is in progress */
    int open_steps;    /* control steps it has been open */
    int timeout_steps; /* an attempt open this long fails as a timeout (0: never) */
    int end_grace;     /* at episode end an open attempt younger than this is not counted */
    int attempts_total;
} sl_tracker;

void sl_tracker_reset(sl_tracker *tr, int timeout_steps, int end_grace);
/* Open an attempt if none is open. */
void sl_tracker_start(sl_tracker *tr, sl_env_out *ev);
/* Close the open attempt as a success (opening one first if none was open) and count a unit. */
void sl_tracker_success(sl_tracker *tr, sl_env_out *ev);
/* Close the open attempt as a failure of kind k (a failure with no open attempt is an attempt
 * of its own). */
void sl_tracker_fail(sl_tracker *tr, sl_env_out *ev, sl_env_error_kind k);
/* Once per control step, after the step's events: ages the open attempt, fails it as a
 * timeout when too old; on the last step applies the end-of-episode rules (an open attempt
 * older than end_grace is a timeout; an episode with no attempt at all counts one timeout). */
void sl_tracker_tick(sl_tracker *tr, sl_env_out *ev, int last);

/* The workcell's MJCF text (static storage), for benchmarks that time raw mj_step on it. */
const char *sl_workcell_xml(void);
/* The workcell's built-in task spec (JSON text, static storage). */
const char *sl_workcell_spec(void);

/* --- test hooks (workcell.c) -------------------------------------------- */

/* Put the workcell's item at rest at `pos` (world, item centre); if attach, the gripper holds
 * it at its current offset from the tip (grip must then be on in the next action to keep it).
 * For hand-built situations in tests only; call right after sl_env_reset. */
sl_status sl_workcell_debug_place_item(sl_env *env, const double pos[3], int attach);

/* --- task specs (task.c) ------------------------------------------------ */

#define SL_TASK_MAX_TERMS 16
#define SL_TASK_MAX_CONDS 8

/* Quantities a reward term or a condition can read. Names in task.c (qty_names). */
typedef enum sl_qty_kind {
    SL_Q_POSITION = 0, /* site/body position along an axis (world), m */
    SL_Q_HEIGHT,       /* site/body z, m */
    SL_Q_DISTANCE,     /* |point - target|, target a position, site or body, m */
    SL_Q_PROGRESS,     /* previous distance - distance (MJCF); the backend's shaping (workcell) */
    SL_Q_VELOCITY,     /* site/body linear velocity along an axis (world), m/s */
    SL_Q_ANGVEL,       /* site/body angular velocity about an axis (world), rad/s */
    SL_Q_SPEED,        /* |linear velocity| of a site/body, m/s */
    SL_Q_UPRIGHT,      /* z component of a body's (or site's) z axis: 1 upright, -1 upside down */
    SL_Q_JOINT_POS,    /* joint position (|q - target| with "target"), rad or m */
    SL_Q_JOINT_VEL,    /* joint velocity, rad/s or m/s */
    SL_Q_CONTROL,      /* sum of squared controls applied in this step */
    SL_Q_ENERGY,       /* actuator energy spent in this step, Wh */
    SL_Q_CONTACT,      /* 1 if a geom touches another (a named one, or any), else 0 */
    SL_Q_ALIVE,        /* 1 unless the step failed */
    SL_Q_SUCCESS,      /* 1 on the step the success condition held */
    SL_Q_FAILURE,      /* 1 on the step the failure condition held */
    SL_Q_UNITS,        /* units completed in this step (0 without "units") */
    SL_Q_FAILURES,     /* mistakes in this step (0 without "units") */
    SL_Q_KIND_COUNT
} sl_qty_kind;

typedef struct sl_qty {
    sl_qty_kind kind;
    int obj_type, obj;          /* mjOBJ_SITE or mjOBJ_BODY and its id (-1: none) */
    int axis;                   /* 0..2 for x, y, z (-1: none) */
    int tgt_type, tgt;          /* target object (-1: the fixed position `target`) */
    double target[3];
    int jnt_qadr, jnt_dadr;     /* joint's qpos / dof address */
    int has_value_target;       /* joint_pos with "target" */
    double value_target;
    int geom, geom2;            /* contact: geom and the other geom (-1: any) */
} sl_qty;

typedef struct sl_task_term { sl_qty q; double weight; } sl_task_term;
typedef struct sl_task_cond { sl_qty q; int above; double value; } sl_task_cond;

/* A parsed, name-bound task specification (docs/TASKS.md). Plain data: copy freely, except
 * `canon`, which is owned (sl_task_clear). */
typedef struct sl_task {
    char name[64];
    int is_workcell;
    int max_steps, frame_skip;
    double qpos_noise, qvel_noise;
    int n_terms;
    sl_task_term terms[SL_TASK_MAX_TERMS];
    int n_success, success_at_end;
    sl_task_cond success[SL_TASK_MAX_CONDS];
    int n_failure;
    sl_task_cond failure[SL_TASK_MAX_CONDS];
    int has_units, mistake_failure, mistake_timeout;
    sl_econ_params econ;
    double wc_mass[2], wc_friction[2], wc_grip_n; /* workcell only */
    char *canon;       /* the effective spec as compact JSON (what the hash covers), owned */
    char sha256[65];   /* of canon */
} sl_task;

/* Per-episode state of a task: previous distances of progress terms. */
typedef struct sl_task_state {
    double prev[SL_TASK_MAX_TERMS];
} sl_task_state;

/* Values the backend supplies for a step; the task computes the rest from (m, d). */
typedef struct sl_task_signals {
    double progress;   /* workcell shaping (unused by MJCF tasks) */
    double energy_wh;
    double control;    /* sum of squared controls */
    int success, failure, units, failures;
} sl_task_signals;

/* Parse and bind a spec. `spec` is the effective JSON (read only; the caller keeps it);
 * `where` names the file in messages ("tasks/reach.json"); `m` (required) is the model whose
 * names are resolved. Errors name `where` and the place ("reward[1].site"); on success
 * out->canon is a new string (sl_task_clear). */
sl_status sl_task_from_json(const cJSON *spec, const char *where, const mjModel *m, sl_task *out);
void sl_task_clear(sl_task *t);
/* Value of one quantity in the current state (d after mj_forward). */
double sl_task_qty(const sl_qty *q, const mjModel *m, const mjData *d, const sl_task_state *ts,
                   int term, const sl_task_signals *sg);
/* Reward = sum_i weight_i * quantity_i, in spec order. */
double sl_task_reward(const sl_task *t, const mjModel *m, const mjData *d, const sl_task_state *ts,
                      const sl_task_signals *sg);
/* Success/failure conditions on the current state. `last`: final step of the episode. */
int sl_task_success(const sl_task *t, const mjModel *m, const mjData *d, int last);
int sl_task_failure(const sl_task *t, const mjModel *m, const mjData *d);
/* Store the current distances of progress terms (after reset and after every step). */
void sl_task_state_update(const sl_task *t, const mjModel *m, const mjData *d, sl_task_state *ts);
/* Observation extras: 6 per distance/progress term (point, target - point). */
int sl_task_obs_extra(const sl_task *t);
void sl_task_observe_extra(const sl_task *t, const mjModel *m, const mjData *d, float *out);
/* SHA-256 hex of a buffer. */
void sl_sha256_hex(const void *buf, size_t n, char hex[65]);

/* The env's task (NULL for none). */
const sl_task *sl_env_task(const sl_env *env);

/* --- MJCF task environment internals (mjcf_env.c) for the planner -------- */

typedef struct mjcf_env {
    sl_task task;
    char path[4096];   /* absolute model path */
    char model_sha[65];
    char label[160];   /* "arm.xml (task reach)", for messages */
    mjModel *m;
    mjData *d;
    sl_task_state ts;
    struct sl_mpc *mpc;
    sl_mpc_config mpc_cfg;
    uint64_t ep_seed;
    const float *act_lo, *act_hi; /* the env's bounds (owned by the env) */
} mjcf_env;
/* Advance a copy of the environment: ctrl applied for one control step on (m, d), task state
 * ts, control step index t of the episode. Fills the reward and whether the step ends the
 * episode. Returns SL_OK or SL_ERR_DIVERGED (the rollout is then scored as failed). */
sl_status sl_mjcf_advance(const mjcf_env *e, mjData *d, sl_task_state *ts, const double *ctrl, int t,
                          double *reward, int *terminal);

/* --- MPC planner (mpc.c) ------------------------------------------------ */

typedef struct sl_mpc sl_mpc;
sl_status sl_mpc_new(sl_mpc **out, const mjcf_env *e, const sl_mpc_config *cfg);
void sl_mpc_free(sl_mpc *p);
/* Start an episode (clears the warm start; the planner's noise streams derive from seed). */
void sl_mpc_reset(sl_mpc *p, uint64_t seed);
/* Plan from the state (d, ts) at control step t and write the first action. */
sl_status sl_mpc_plan(sl_mpc *p, const mjData *d, const sl_task_state *ts, int t, float *action);

#endif
