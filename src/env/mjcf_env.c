/* mjcf_env.c - a generic environment over any MuJoCo model file: "move site X to a target".
 *
 * Observation: qpos, qvel, the site position, target - site. Actions: every actuator of the
 * model (bounds from ctrlrange, or [-1, 1] when unlimited). An episode succeeds (one unit,
 * terminal) when the site is within `tolerance` of the target and moving slower than
 * 0.1 m/s; otherwise the single attempt fails as a timeout at max_steps. Energy is
 * sum_i |actuator_force_i * actuator_velocity_i| dt over every physics step.
 *
 * Key invariant: the model is loaded once; reset restores qpos0 (+ seeded noise) and clears
 * MuJoCo's warning counters, so a divergence in one episode never leaks into the next.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

#define R_PROGRESS 1.0
#define R_UNIT 10.0
#define R_ERROR 5.0
#define R_ENERGY_PER_WH 200.0
#define SUCCESS_SPEED 0.1

typedef struct mjcf_env {
    sl_mjcf_task task;
    char site_name[128], target_site_name[128];
    mjModel *m;
    mjData *d;
    int site, target_site;
    double prev_dist;
    sl_tracker tr;
    mjtNum *jac; /* 3 x nv */
    mjtNum *tau;   /* 2 * nv: torques, then joint accelerations */
    mjtNum *fullm; /* nv x nv */
} mjcf_env;

sl_mjcf_task sl_mjcf_task_default(void) {
    sl_mjcf_task t = {.site = NULL,
                      .target_site = NULL,
                      .target = {0, 0, 0},
                      .tolerance = 0.02,
                      .max_steps = 60,
                      .frame_skip = 10,
                      .init_noise = 0.1,
                      .econ = sl_econ_default()};
    return t;
}

static void target_pos(const mjcf_env *e, double out[3]) {
    if (e->target_site >= 0)
        memcpy(out, e->d->site_xpos + 3 * e->target_site, 3 * sizeof(double));
    else
        memcpy(out, e->task.target, 3 * sizeof(double));
}

static double site_dist(const mjcf_env *e) {
    double t[3];
    target_pos(e, t);
    const double *p = e->d->site_xpos + 3 * e->site;
    return sqrt((t[0] - p[0]) * (t[0] - p[0]) + (t[1] - p[1]) * (t[1] - p[1]) +
                (t[2] - p[2]) * (t[2] - p[2]));
}

static void observe(const mjcf_env *e, float *obs) {
    const mjModel *m = e->m;
    const mjData *d = e->d;
    int k = 0;
    for (int i = 0; i < m->nq; i++) obs[k++] = (float)d->qpos[i];
    for (int i = 0; i < m->nv; i++) obs[k++] = (float)d->qvel[i];
    double t[3];
    target_pos(e, t);
    const double *p = d->site_xpos + 3 * e->site;
    for (int i = 0; i < 3; i++) obs[k++] = (float)p[i];
    for (int i = 0; i < 3; i++) obs[k++] = (float)(t[i] - p[i]);
}

static sl_status mj_reset_fn(sl_env *env, uint64_t seed, float *obs) {
    mjcf_env *e = env->ctx;
    const mjModel *m = e->m;
    mjData *d = e->d;
    mj_resetData(m, d); /* also clears the warning counters */
    sl_rng r;
    sl_rng_seed(&r, seed, 0x6d6a6366ULL);
    for (int j = 0; j < m->njnt; j++) {
        int t = m->jnt_type[j];
        if (t != mjJNT_HINGE && t != mjJNT_SLIDE) continue;
        double v = d->qpos[m->jnt_qposadr[j]] + sl_rng_uniform_range(&r, -e->task.init_noise, e->task.init_noise);
        if (m->jnt_limited[j]) {
            double lo = m->jnt_range[2 * j], hi = m->jnt_range[2 * j + 1];
            v = v < lo ? lo : v > hi ? hi : v;
        }
        d->qpos[m->jnt_qposadr[j]] = v;
    }
    mj_forward(m, d);
    SL_TRY(sl_mj_check(m, d, env->name, 0));
    e->prev_dist = site_dist(e);
    sl_tracker_reset(&e->tr, 0, 0);
    sl_env_out dummy;
    memset(&dummy, 0, sizeof dummy);
    sl_tracker_start(&e->tr, &dummy); /* the episode is one attempt, opened at reset */
    env->n_cond = 0;
    observe(e, obs);
    return SL_OK;
}

static sl_status mj_step_fn(sl_env *env, const float *a, int last, float *obs, sl_env_out *ev) {
    mjcf_env *e = env->ctx;
    const mjModel *m = e->m;
    mjData *d = e->d;
    for (int i = 0; i < m->nu; i++) d->ctrl[i] = a[i];
    double joules = 0;
    for (int k = 0; k < e->task.frame_skip; k++) {
        mj_step(m, d);
        /* actuator_force/velocity were computed for the state this step integrated from */
        for (int i = 0; i < m->nu; i++) joules += fabs(d->actuator_force[i] * d->actuator_velocity[i]);
        SL_TRY(sl_mj_check(m, d, env->name, env->t));
    }
    joules *= m->opt.timestep;
    mj_forward(m, d);
    SL_TRY(sl_mj_check(m, d, env->name, env->t));
    if (env->t == 0) ev->attempts = 1; /* the attempt opened at reset is reported at step 0 */
    double dist = site_dist(e);
    mjtNum v6[6];
    mj_objectVelocity(m, d, mjOBJ_SITE, e->site, v6, 0);
    double speed = sqrt(v6[3] * v6[3] + v6[4] * v6[4] + v6[5] * v6[5]);
    if (dist < e->task.tolerance && speed < SUCCESS_SPEED) {
        sl_tracker_success(&e->tr, ev);
        ev->terminal = 1;
    }
    sl_tracker_tick(&e->tr, ev, last && !ev->terminal);
    ev->energy_wh = joules / 3600.0;
    ev->reward = (float)(R_PROGRESS * (e->prev_dist - dist) + R_UNIT * ev->units -
                         R_ERROR * ev->failures - R_ENERGY_PER_WH * ev->energy_wh);
    e->prev_dist = dist;
    observe(e, obs);
    return SL_OK;
}

/* Inverse of a symmetric positive definite 3x3 matrix (Cramer's rule). */
static void inv3(const double a[9], double out[9]) {
    double c00 = a[4] * a[8] - a[5] * a[7], c01 = a[5] * a[6] - a[3] * a[8], c02 = a[3] * a[7] - a[4] * a[6];
    double det = a[0] * c00 + a[1] * c01 + a[2] * c02;
    double id = 1.0 / det;
    out[0] = c00 * id;
    out[1] = (a[2] * a[7] - a[1] * a[8]) * id;
    out[2] = (a[1] * a[5] - a[2] * a[4]) * id;
    out[3] = c01 * id;
    out[4] = (a[0] * a[8] - a[2] * a[6]) * id;
    out[5] = (a[2] * a[3] - a[0] * a[5]) * id;
    out[6] = c02 * id;
    out[7] = (a[1] * a[6] - a[0] * a[7]) * id;
    out[8] = (a[0] * a[4] - a[1] * a[3]) * id;
}

/* Scripted controller: a critically damped task-space acceleration (natural frequency
 * 1 / (2.5 control periods)) turned into joint accelerations by damped least squares, then into
 * torques with the mass matrix plus bias forces, then onto the actuators through their moment
 * arms. It reads the model (privileged), not only the observation. */
static sl_status mj_expert_fn(sl_env *env, const float *obs, float *action) {
    (void)obs;
    mjcf_env *e = env->ctx;
    const mjModel *m = e->m;
    const mjData *d = e->d;
    int nv = m->nv;
    double t[3];
    target_pos(e, t);
    const double *p = d->site_xpos + 3 * e->site;
    mj_jacSite(m, d, e->jac, NULL, e->site);
    double w = 1.0 / (2.5 * env->control_dt);
    double acc[3];
    for (int r = 0; r < 3; r++) {
        double v = 0;
        for (int c = 0; c < nv; c++) v += e->jac[r * nv + c] * d->qvel[c];
        acc[r] = w * w * (t[r] - p[r]) - 2.0 * w * v;
    }
    double jjt[9], inv[9], y[3];
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) {
            double v = r == s ? 1e-4 : 0.0;
            for (int c = 0; c < nv; c++) v += e->jac[r * nv + c] * e->jac[s * nv + c];
            jjt[r * 3 + s] = v;
        }
    inv3(jjt, inv);
    for (int r = 0; r < 3; r++) y[r] = inv[r * 3] * acc[0] + inv[r * 3 + 1] * acc[1] + inv[r * 3 + 2] * acc[2];
    double *qdd = e->tau + nv; /* scratch: second half of tau */
    for (int c = 0; c < nv; c++) qdd[c] = e->jac[c] * y[0] + e->jac[nv + c] * y[1] + e->jac[2 * nv + c] * y[2];
    mj_fullM(m, e->fullm, d->qM);
    for (int r = 0; r < nv; r++) {
        double f = d->qfrc_bias[r] - d->qfrc_passive[r]; /* M qacc = tau + passive - bias */
        for (int c = 0; c < nv; c++) f += e->fullm[r * nv + c] * qdd[c];
        e->tau[r] = f;
    }
    for (int i = 0; i < m->nu; i++) {
        const mjtNum *mom = d->actuator_moment + (size_t)i * (size_t)nv;
        double dot = 0, nrm = 0;
        for (int c = 0; c < nv; c++) {
            dot += mom[c] * e->tau[c];
            nrm += mom[c] * mom[c];
        }
        double gain = m->actuator_gainprm[(size_t)i * mjNGAIN];
        double u = (nrm > 1e-12 && fabs(gain) > 1e-12) ? dot / nrm / gain : 0.0;
        double lo = (double)env->act_lo[i], hi = (double)env->act_hi[i];
        action[i] = (float)(u < lo ? lo : u > hi ? hi : u);
    }
    return SL_OK;
}

static void mj_free_fn(void *ctx) {
    mjcf_env *e = ctx;
    if (!e) return;
    if (e->d) mj_deleteData(e->d);
    if (e->m) mj_deleteModel(e->m);
    free(e->jac);
    free(e->tau);
    free(e->fullm);
    free(e);
}

static const sl_env_type mjcf_type = {
    .name = "mjcf", .reset = mj_reset_fn, .step = mj_step_fn, .expert = mj_expert_fn, .free_ctx = mj_free_fn};

sl_status sl_env_mjcf_new(sl_env **out, const char *path, const sl_mjcf_task *task) {
    if (!out || !path || !task) return sl_set_error(SL_ERR_ARG, "sl_env_mjcf_new: NULL argument");
    *out = NULL;
    if (!task->site || !*task->site) return sl_set_error(SL_ERR_ARG, "%s: the task needs a site name", path);
    if (task->max_steps < 1 || task->max_steps > 100000 || task->frame_skip < 1 || task->frame_skip > 10000 ||
        !(task->tolerance > 0) || !(task->init_noise >= 0) || !isfinite(task->init_noise))
        return sl_set_error(SL_ERR_ARG, "%s: bad task (max_steps %d, frame_skip %d, tolerance %g)",
                            path, task->max_steps, task->frame_skip, task->tolerance);
    for (int i = 0; i < 3; i++)
        if (!isfinite(task->target[i])) return sl_set_error(SL_ERR_ARG, "%s: target is not finite", path);
    if (!(task->econ.human_wage > 0) || !(task->econ.value_per_unit >= 0))
        return sl_set_error(SL_ERR_ARG, "%s: wage must be > 0 and value per unit >= 0", path);
    sl_env *env = calloc(1, sizeof *env);
    mjcf_env *e = calloc(1, sizeof *e);
    if (!env || !e) {
        free(env);
        free(e);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    e->task = *task;
    snprintf(e->site_name, sizeof e->site_name, "%s", task->site);
    e->task.site = e->site_name;
    if (task->target_site) {
        snprintf(e->target_site_name, sizeof e->target_site_name, "%s", task->target_site);
        e->task.target_site = e->target_site_name;
    }
    env->type = &mjcf_type;
    env->ctx = e;
    sl_status st = sl_mj_load(&e->m, path, NULL);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    mjModel *m = e->m;
    e->site = mj_name2id(m, mjOBJ_SITE, task->site);
    e->target_site = task->target_site ? mj_name2id(m, mjOBJ_SITE, task->target_site) : -1;
    if (e->site < 0)
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: no site named '%s' in the model", path, task->site);
    else if (task->target_site && e->target_site < 0)
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: no target site named '%s' in the model", path, task->target_site);
    else if (m->nu < 1)
        st = sl_set_error(SL_ERR_ARG, "%s: the model has no actuators to control", path);
    else if (m->nu > 64)
        st = sl_set_error(SL_ERR_RANGE, "%s: %d actuators (at most 64 supported)", path, m->nu);
    if (st == SL_OK && !(e->d = mj_makeData(m))) st = sl_set_error(SL_ERR_NOMEM, "%s: mj_makeData failed", path);
    if (st == SL_OK) {
        e->jac = calloc((size_t)3 * (size_t)m->nv + 1, sizeof(mjtNum));
        e->tau = calloc((size_t)2 * (size_t)m->nv + 1, sizeof(mjtNum));
        e->fullm = calloc((size_t)m->nv * (size_t)m->nv + 1, sizeof(mjtNum));
        if (!e->jac || !e->tau || !e->fullm) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    const char *base = strrchr(path, '/');
    if (st == SL_OK) st = sl_env_init_common(env, &mjcf_type, e, base ? base + 1 : path, m->nq + m->nv + 6, m->nu);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    for (int i = 0; i < m->nu; i++) {
        if (m->actuator_ctrllimited[i]) {
            env->act_lo[i] = (float)m->actuator_ctrlrange[2 * i];
            env->act_hi[i] = (float)m->actuator_ctrlrange[2 * i + 1];
        } else {
            env->act_lo[i] = -1.0f;
            env->act_hi[i] = 1.0f;
        }
    }
    env->max_steps = task->max_steps;
    env->frame_skip = task->frame_skip;
    env->control_dt = task->frame_skip * m->opt.timestep;
    env->econ = task->econ;
    *out = env;
    return SL_OK;
}
