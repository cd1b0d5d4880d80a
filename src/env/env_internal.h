/* env_internal.h - shared internals of the environment backends: MuJoCo loading and
 * divergence checks, and the attempt tracker that turns physics events into econ counts.
 *
 * Key invariant of the tracker: every failure closes exactly one attempt (or is its own
 * attempt), so per-step failure events summed over an episode equal the episode's failures,
 * and failures <= attempts always.
 */
#ifndef SL_ENV_INTERNAL_H
#define SL_ENV_INTERNAL_H

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

/* --- test hooks (workcell.c) -------------------------------------------- */

/* Put the workcell's item at rest at `pos` (world, item centre); if attach, the gripper holds
 * it at its current offset from the tip (grip must then be on in the next action to keep it).
 * For hand-built situations in tests only; call right after sl_env_reset. */
sl_status sl_workcell_debug_place_item(sl_env *env, const double pos[3], int attach);

#endif
