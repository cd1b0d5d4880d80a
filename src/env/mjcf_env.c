/* SPDX-License-Identifier: Apache-2.0 */
/* mjcf_env.c - an environment over any MuJoCo model file, driven by a task spec (task.c,
 * docs/TASKS.md): the spec's reward, success and failure conditions, episode length and
 * initial-state noise. Its expert is the MPC planner (mpc.c) over this same simulator.
 *
 * Observation: qpos, qvel, then for every distance/progress reward term the point's position
 * and target - point. Actions: every actuator (bounds from ctrlrange, [-1, 1] when unlimited).
 * An episode is one attempt: success (one unit when the spec has units, terminal unless the
 * success is checked at the end), failure (terminal; a mistake if listed) or timeout (a mistake
 * if listed). Energy is sum_i |actuator_force_i * actuator_velocity_i| dt over physics steps.
 *
 * Key invariant: the model is loaded once; reset restores qpos0 (+ seeded noise) and clears
 * MuJoCo's warning counters, so a divergence in one episode never leaks into the next; the
 * step the env takes and the step a planner rollout takes are the same function
 * (sl_mjcf_advance), so the planner optimises exactly the reward the data records.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"


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

static void observe(const mjcf_env *e, float *obs) {
    const mjModel *m = e->m;
    const mjData *d = e->d;
    int k = 0;
    for (int i = 0; i < m->nq; i++) obs[k++] = (float)d->qpos[i];
    for (int i = 0; i < m->nv; i++) obs[k++] = (float)d->qvel[i];
    sl_task_observe_extra(&e->task, m, d, obs + k);
}

/* One control step on (d, ts): the events, reward and energy into ev (reward in double). */
static sl_status advance(const mjcf_env *e, mjData *d, sl_task_state *ts, const double *ctrl, int t,
                         sl_env_out *ev, double *reward) {
    const mjModel *m = e->m;
    const sl_task *tk = &e->task;
    double control = 0;
    for (int i = 0; i < m->nu; i++) {
        d->ctrl[i] = ctrl[i];
        control += ctrl[i] * ctrl[i];
    }
    double joules = 0;
    for (int k = 0; k < tk->frame_skip; k++) {
        mj_step(m, d);
        /* actuator_force/velocity were computed for the state this step integrated from */
        for (int i = 0; i < m->nu; i++) joules += fabs(d->actuator_force[i] * d->actuator_velocity[i]);
        SL_TRY(sl_mj_check(m, d, e->label, t));
    }
    joules *= m->opt.timestep;
    mj_forward(m, d);
    SL_TRY(sl_mj_check(m, d, e->label, t));
    int last = t + 1 >= tk->max_steps;
    sl_task_signals sg = {.energy_wh = joules / 3600.0, .control = control};
    sg.success = sl_task_success(tk, m, d, last);
    sg.failure = !sg.success && sl_task_failure(tk, m, d);
    if (tk->has_units) {
        if (t == 0) ev->attempts = 1; /* the episode's one attempt, reported at its first step */
        if (sg.success) ev->units = sg.units = 1;
        if (sg.failure && tk->mistake_failure) {
            sg.failures = 1;
            ev->errors[SL_ENV_ERR_MISS]++;
            ev->error_mask |= 1u << SL_ENV_ERR_MISS;
        } else if (last && !sg.success && !sg.failure && tk->mistake_timeout) {
            sg.failures = 1;
            ev->errors[SL_ENV_ERR_TIMEOUT]++;
            ev->error_mask |= 1u << SL_ENV_ERR_TIMEOUT;
        }
        ev->failures = sg.failures;
    }
    ev->terminal = sg.failure || (sg.success && !tk->success_at_end);
    ev->energy_wh = sg.energy_wh;
    *reward = sl_task_reward(tk, m, d, ts, &sg);
    sl_task_state_update(tk, m, d, ts);
    return SL_OK;
}

sl_status sl_mjcf_advance(const mjcf_env *e, mjData *d, sl_task_state *ts, const double *ctrl, int t,
                          double *reward, int *terminal) {
    sl_env_out ev;
    memset(&ev, 0, sizeof ev);
    SL_TRY(advance(e, d, ts, ctrl, t, &ev, reward));
    *terminal = ev.terminal;
    return SL_OK;
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
        double v = d->qpos[m->jnt_qposadr[j]] + sl_rng_uniform_range(&r, -e->task.qpos_noise, e->task.qpos_noise);
        if (m->jnt_limited[j]) {
            double lo = m->jnt_range[2 * j], hi = m->jnt_range[2 * j + 1];
            v = v < lo ? lo : v > hi ? hi : v;
        }
        d->qpos[m->jnt_qposadr[j]] = v;
    }
    if (e->task.qvel_noise > 0)
        for (int i = 0; i < m->nv; i++) d->qvel[i] = sl_rng_uniform_range(&r, -e->task.qvel_noise, e->task.qvel_noise);
    mj_forward(m, d);
    SL_TRY(sl_mj_check(m, d, env->name, 0));
    memset(&e->ts, 0, sizeof e->ts);
    sl_task_state_update(&e->task, m, d, &e->ts);
    e->ep_seed = seed;
    if (e->mpc) sl_mpc_reset(e->mpc, seed);
    env->n_cond = 0;
    observe(e, obs);
    return SL_OK;
}

static sl_status mj_step_fn(sl_env *env, const float *a, int last, float *obs, sl_env_out *ev) {
    (void)last;
    mjcf_env *e = env->ctx;
    double ctrl[64], r;
    for (int i = 0; i < e->m->nu; i++) ctrl[i] = (double)a[i];
    SL_TRY(advance(e, e->d, &e->ts, ctrl, env->t, ev, &r));
    ev->reward = (float)r;
    observe(e, obs);
    return SL_OK;
}

/* The expert: the MPC planner from the simulator's current state (privileged: it reads the
 * state, not only the observation). */
static sl_status mj_expert_fn(sl_env *env, const float *obs, float *action) {
    (void)obs;
    mjcf_env *e = env->ctx;
    if (!e->mpc) {
        SL_TRY(sl_mpc_new(&e->mpc, e, &e->mpc_cfg));
        sl_mpc_reset(e->mpc, e->ep_seed);
    }
    return sl_mpc_plan(e->mpc, e->d, &e->ts, env->t, action);
}

static void mj_free_fn(void *ctx) {
    mjcf_env *e = ctx;
    if (!e) return;
    sl_mpc_free(e->mpc);
    if (e->d) mj_deleteData(e->d);
    if (e->m) mj_deleteModel(e->m);
    sl_task_clear(&e->task);
    free(e);
}

static sl_status mj_record_fn(const sl_env *env, sl_env_record *rec) {
    const mjcf_env *e = env->ctx;
    snprintf(rec->kind, sizeof rec->kind, "mjcf");
    snprintf(rec->model_path, sizeof rec->model_path, "%s", e->path);
    memcpy(rec->model_sha256, e->model_sha, 65);
    memcpy(rec->task_sha256, e->task.sha256, 65);
    snprintf(rec->task_name, sizeof rec->task_name, "%s", e->task.name);
    rec->obs_dim = env->obs_dim;
    rec->act_dim = env->act_dim;
    rec->task_json = strdup(e->task.canon);
    return rec->task_json ? SL_OK : sl_set_error(SL_ERR_NOMEM, "env record: out of memory");
}

static const sl_env_type mjcf_type = {.name = "mjcf",
                                      .reset = mj_reset_fn,
                                      .step = mj_step_fn,
                                      .expert = mj_expert_fn,
                                      .free_ctx = mj_free_fn,
                                      .record = mj_record_fn,
                                      .expert_is_planner = 1};

/* Directory part of `path` + `rel` (rel as is when absolute or path has no directory). */
static void join_dir(const char *path, const char *rel, char *out, size_t n) {
    const char *slash = strrchr(path, '/');
    if (rel[0] == '/' || !slash) snprintf(out, n, "%s", rel);
    else snprintf(out, n, "%.*s/%s", (int)(slash - path), path, rel);
}

sl_status sl_env_task_new_json(sl_env **out, const cJSON *spec, const char *where, const char *model_path) {
    if (!out || !spec || !where) return sl_set_error(SL_ERR_ARG, "sl_env_task_new_json: NULL argument");
    *out = NULL;
    if (cJSON_HasObjectItem(spec, "workcell"))
        return sl_set_error(SL_ERR_ARG, "%s: a workcell spec: use the built-in workcell (--env workcell)", where);
    char mpath[PATH_MAX];
    if (model_path) snprintf(mpath, sizeof mpath, "%s", model_path);
    else {
        const char *rel = sl_json_str(spec, "model", NULL);
        if (!rel || !rel[0]) return sl_set_error(SL_ERR_ARG, "%s: model: the spec names no model file and none was given", where);
        join_dir(where, rel, mpath, sizeof mpath);
    }
    sl_env *env = calloc(1, sizeof *env);
    mjcf_env *e = calloc(1, sizeof *e);
    if (!env || !e) {
        free(env);
        free(e);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
    }
    env->type = &mjcf_type;
    env->ctx = e;
    e->mpc_cfg = sl_mpc_default();
    sl_status st = sl_mj_load(&e->m, mpath, NULL);
    if (st != SL_OK && strcmp(where, mpath) != 0) { /* name the spec too */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sl_last_error());
        st = sl_set_error(st, "%s: model: %s", where, msg);
    }
    if (st == SL_OK && !realpath(mpath, e->path)) st = sl_set_error(SL_ERR_IO, "%s: cannot resolve the path", mpath);
    if (st == SL_OK) st = sl_sha256_file(mpath, e->model_sha);
    if (st == SL_OK) st = sl_task_from_json(spec, where, e->m, &e->task);
    mjModel *m = e->m;
    if (st == SL_OK && m->nu < 1) st = sl_set_error(SL_ERR_ARG, "%s: the model has no actuators to control", mpath);
    else if (st == SL_OK && m->nu > 64) st = sl_set_error(SL_ERR_RANGE, "%s: %d actuators (at most 64 supported)", mpath, m->nu);
    if (st == SL_OK && !(e->d = mj_makeData(m))) st = sl_set_error(SL_ERR_NOMEM, "%s: mj_makeData failed", mpath);
    const char *base = strrchr(mpath, '/');
    if (st == SL_OK)
        st = sl_env_init_common(env, &mjcf_type, e, base ? base + 1 : mpath,
                                m->nq + m->nv + sl_task_obs_extra(&e->task), m->nu);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    snprintf(e->label, sizeof e->label, "%s (task %s)", env->name, e->task.name);
    for (int i = 0; i < m->nu; i++) {
        if (m->actuator_ctrllimited[i]) {
            env->act_lo[i] = (float)m->actuator_ctrlrange[2 * i];
            env->act_hi[i] = (float)m->actuator_ctrlrange[2 * i + 1];
        } else {
            env->act_lo[i] = -1.0f;
            env->act_hi[i] = 1.0f;
        }
    }
    env->max_steps = e->task.max_steps;
    env->frame_skip = e->task.frame_skip;
    env->control_dt = e->task.frame_skip * m->opt.timestep;
    env->econ = e->task.econ;
    env->task = &e->task;
    e->act_lo = env->act_lo;
    e->act_hi = env->act_hi;
    *out = env;
    return SL_OK;
}

sl_status sl_env_task_new(sl_env **out, const char *spec_path, const char *model_path, int max_steps,
                          int frame_skip) {
    if (!out || !spec_path) return sl_set_error(SL_ERR_ARG, "sl_env_task_new: NULL argument");
    *out = NULL;
    cJSON *j = NULL;
    SL_TRY(sl_json_read_file(spec_path, &j));
    sl_status st = SL_OK;
    if (!cJSON_IsObject(j)) st = sl_set_error(SL_ERR_FORMAT, "%s: a task spec is a JSON object", spec_path);
    if (st == SL_OK && max_steps > 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "max_steps");
        if (!cJSON_AddNumberToObject(j, "max_steps", max_steps)) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK && frame_skip > 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "frame_skip");
        if (!cJSON_AddNumberToObject(j, "frame_skip", frame_skip)) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK) st = sl_env_task_new_json(out, j, spec_path, model_path);
    cJSON_Delete(j);
    return st;
}

sl_status sl_env_set_mpc(sl_env *env, const sl_mpc_config *cfg) {
    if (!env || !cfg) return sl_set_error(SL_ERR_ARG, "sl_env_set_mpc: NULL argument");
    if (env->type != &mjcf_type)
        return sl_set_error(SL_ERR_ARG, "%s: no MPC planner (the workcell's expert is its scripted controller)", env->name);
    if (cfg->samples < 2 || cfg->samples > 4096 || cfg->horizon < 1 || cfg->horizon > 1000 || cfg->iterations < 1 ||
        cfg->iterations > 100 || !(cfg->noise > 0 && cfg->noise <= 10) ||
        !(cfg->temperature > 0 && cfg->temperature <= 100) || cfg->threads < 0 || cfg->threads > 256 ||
        cfg->knots < 0 || cfg->knots > 1000)
        return sl_set_error(SL_ERR_ARG,
                            "MPC config out of range (samples %d in [2, 4096], horizon %d in [1, 1000], iterations "
                            "%d in [1, 100], noise %g in (0, 10], temperature %g in (0, 100], knots %d in [0, 1000], "
                            "threads %d)",
                            cfg->samples, cfg->horizon, cfg->iterations, cfg->noise, cfg->temperature, cfg->knots,
                            cfg->threads);
    mjcf_env *e = env->ctx;
    e->mpc_cfg = *cfg;
    sl_mpc_free(e->mpc);
    e->mpc = NULL;
    return SL_OK;
}

/* The old "move site X to a target" task, now as a task spec. */
sl_status sl_env_mjcf_new(sl_env **out, const char *path, const sl_mjcf_task *task) {
    if (!out || !path || !task) return sl_set_error(SL_ERR_ARG, "sl_env_mjcf_new: NULL argument");
    *out = NULL;
    if (!task->site || !*task->site) return sl_set_error(SL_ERR_ARG, "%s: the task needs a site name", path);
    if (task->max_steps < 1 || task->max_steps > 100000 || task->frame_skip < 1 || task->frame_skip > 10000 ||
        !(task->tolerance > 0) || !(task->init_noise >= 0) || !isfinite(task->init_noise))
        return sl_set_error(SL_ERR_ARG, "%s: bad task (max_steps %d, frame_skip %d, tolerance %g)", path,
                            task->max_steps, task->frame_skip, task->tolerance);
    for (int i = 0; i < 3; i++)
        if (!isfinite(task->target[i])) return sl_set_error(SL_ERR_ARG, "%s: target is not finite", path);
    if (!(task->econ.human_wage > 0) || !(task->econ.value_per_unit >= 0))
        return sl_set_error(SL_ERR_ARG, "%s: wage must be > 0 and value per unit >= 0", path);
    cJSON *j = cJSON_CreateObject(), *rw, *o, *su, *all, *un, *mk, *ec, *nz;
    if (!j) return sl_set_error(SL_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(j, "name", "reach");
    cJSON_AddNumberToObject(j, "max_steps", task->max_steps);
    cJSON_AddNumberToObject(j, "frame_skip", task->frame_skip);
    if ((nz = cJSON_AddObjectToObject(j, "init_noise"))) cJSON_AddNumberToObject(nz, "qpos", task->init_noise);
    rw = cJSON_AddArrayToObject(j, "reward");
    su = cJSON_AddObjectToObject(j, "success");
    all = su ? cJSON_AddArrayToObject(su, "all") : NULL;
    for (int k = 0; k < 2; k++) { /* the progress term, then the distance condition */
        o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "quantity", k == 0 ? "progress" : "distance");
        cJSON_AddStringToObject(o, "site", task->site);
        if (task->target_site) cJSON_AddStringToObject(o, "target_site", task->target_site);
        else sl_json_add_f64_array(o, "target", task->target, 3);
        if (k == 0) cJSON_AddNumberToObject(o, "weight", 1.0);
        else cJSON_AddNumberToObject(o, "below", task->tolerance);
        cJSON_AddItemToArray(k == 0 ? rw : all, o);
    }
    if ((o = cJSON_CreateObject())) {
        cJSON_AddStringToObject(o, "quantity", "speed");
        cJSON_AddStringToObject(o, "site", task->site);
        cJSON_AddNumberToObject(o, "below", 0.1);
        cJSON_AddItemToArray(all, o);
    }
    static const struct { const char *q; double w; } ev[] = {{"units", 10.0}, {"failures", -5.0}, {"energy", -200.0}};
    for (size_t i = 0; i < 3; i++)
        if ((o = cJSON_CreateObject())) {
            cJSON_AddStringToObject(o, "quantity", ev[i].q);
            cJSON_AddNumberToObject(o, "weight", ev[i].w);
            cJSON_AddItemToArray(rw, o);
        }
    un = cJSON_AddObjectToObject(j, "units");
    if (un) cJSON_AddStringToObject(un, "unit", "success");
    mk = un ? cJSON_AddArrayToObject(un, "mistakes") : NULL;
    if (mk) cJSON_AddItemToArray(mk, cJSON_CreateString("timeout"));
    if ((ec = cJSON_AddObjectToObject(j, "econ"))) {
        cJSON_AddNumberToObject(ec, "value_per_unit", task->econ.value_per_unit);
        cJSON_AddNumberToObject(ec, "human_wage", task->econ.human_wage);
    }
    sl_status st = sl_env_task_new_json(out, j, path, path);
    cJSON_Delete(j);
    return st;
}
