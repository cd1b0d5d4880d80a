/* SPDX-License-Identifier: Apache-2.0 */
/* mj_util.c - MuJoCo glue shared by the environment backends: loading MJCF from a file or an
 * in-memory string with MuJoCo's error message preserved, a quiet warning hook, and the
 * divergence check run after every control step.
 *
 * Key invariant: once sl_mj_check has passed, qpos, qvel, qacc and ctrl are finite and MuJoCo
 * has not reset the state behind our back (it does so on bad qacc, raising a warning).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env_internal.h"

/* --- warning hook --------------------------------------------------------- */

/* MuJoCo's default warning handler appends to MUJOCO_LOG.TXT in the working directory and
 * prints to stdout; a library must not do either. We keep the last text per thread instead;
 * the warning counters in mjData are what sl_mj_check acts on. */
static _Thread_local char mj_last_warning[256];

static void quiet_warning(const char *msg) {
    snprintf(mj_last_warning, sizeof mj_last_warning, "%s", msg ? msg : "");
    SL_DEBUG("mujoco warning: %s", mj_last_warning);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static void install_hooks(void) { mju_user_warning = quiet_warning; }
void sl_env_mj_install_hooks(void) { pthread_once(&hooks_once, install_hooks); }

/* --- loading -------------------------------------------------------------- */

sl_status sl_mj_load(mjModel **out, const char *path_or_name, const char *xml) {
    *out = NULL;
    sl_env_mj_install_hooks();
    char err[1024] = "";
    mjModel *m = NULL;
    if (xml) {
        /* mjVFS holds mjMAXVFS file slots inline (megabytes): never on the stack. */
        mjVFS *vfs = malloc(sizeof *vfs);
        if (!vfs) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for the MuJoCo VFS", path_or_name);
        mj_defaultVFS(vfs);
        size_t len = strlen(xml);
        if (mj_makeEmptyFileVFS(vfs, path_or_name, (int)len) != 0) {
            free(vfs);
            return sl_set_error(SL_ERR_PHYSICS, "%s: cannot create MuJoCo VFS file", path_or_name);
        }
        int idx = mj_findFileVFS(vfs, path_or_name);
        memcpy(vfs->filedata[idx], xml, len);
        m = mj_loadXML(path_or_name, vfs, err, sizeof err);
        mj_deleteVFS(vfs);
        free(vfs);
    } else {
        struct stat sb;
        if (stat(path_or_name, &sb) != 0)
            return sl_set_error(SL_ERR_NOTFOUND, "%s: cannot open MJCF file", path_or_name);
        /* a regular file (MuJoCo would block on a FIFO and read a device forever) */
        SL_TRY(sl_file_check_input(path_or_name, SL_INPUT_MAX_BYTES, NULL));
        m = mj_loadXML(path_or_name, NULL, err, sizeof err);
    }
    if (!m) {
        /* MuJoCo messages end with a newline and may span lines; keep them on one line. */
        for (char *p = err; *p; p++)
            if (*p == '\n') *p = ' ';
        size_t n = strlen(err);
        while (n && err[n - 1] == ' ') err[--n] = 0;
        return sl_set_error(SL_ERR_PHYSICS, "%s: MuJoCo could not load the model: %s",
                            path_or_name, err[0] ? err : "(no message)");
    }
    if (err[0]) SL_DEBUG("%s: MuJoCo load warning: %s", path_or_name, err);
    *out = m;
    return SL_OK;
}

/* --- divergence check ----------------------------------------------------- */

static int all_finite_mj(const mjtNum *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

sl_status sl_mj_check(const mjModel *m, const mjData *d, const char *what, int step) {
    static const int bad[] = {mjWARN_BADQPOS, mjWARN_BADQVEL, mjWARN_BADQACC, mjWARN_BADCTRL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const mjWarningStat *w = &d->warning[bad[i]];
        if (w->number > 0)
            return sl_set_error(SL_ERR_DIVERGED,
                                "%s: simulation diverged at control step %d (MuJoCo: %s)", what,
                                step, mju_warningText(bad[i], w->lastinfo));
    }
    if (!all_finite_mj(d->qpos, m->nq) || !all_finite_mj(d->qvel, m->nv) ||
        !all_finite_mj(d->qacc, m->nv) || !all_finite_mj(d->act, m->na))
        return sl_set_error(SL_ERR_DIVERGED,
                            "%s: simulation diverged at control step %d (non-finite state)", what,
                            step);
    return SL_OK;
}

/* --- common env fields -------------------------------------------------- */

sl_status sl_env_init_common(sl_env *env, const sl_env_type *type, void *ctx, const char *name,
                             int obs_dim, int act_dim) {
    env->type = type;
    env->ctx = ctx;
    snprintf(env->name, sizeof env->name, "%s", name);
    env->obs_dim = obs_dim;
    env->act_dim = act_dim;
    env->act_lo = calloc((size_t)act_dim, sizeof(float));
    env->act_hi = calloc((size_t)act_dim, sizeof(float));
    if (!env->act_lo || !env->act_hi) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", name);
    return SL_OK;
}
