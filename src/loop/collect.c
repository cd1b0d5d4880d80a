/* SPDX-License-Identifier: Apache-2.0 */
/* collect.c - the collect job: episodes of a policy in the workcell or an MJCF environment,
 * written as a dataset NPZ with its sidecar JSON.
 * Invariant: the dataset and the sidecar are published together (sl_outset) and the sidecar's
 * sha256 is the dataset's; the dataset is a pure function of the config (env, policy,
 * episodes, seed). */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_rl.h"
#include "synthloop/sl_stats.h"

void sl_loop_collect_result_free(sl_loop_collect_result *r) {
    if (!r) return;
    cJSON_Delete(r->json);
    free(r->sidecar);
    memset(r, 0, sizeof *r);
}

static sl_status make_env(const sl_loop_collect_config *c, sl_env **env) {
    if (c->task)
        return sl_env_task_new(env, c->task, strcmp(c->env, "workcell") == 0 ? NULL : c->env,
                               (int)c->max_steps, (int)c->frame_skip);
    if (strcmp(c->env, "workcell") == 0) {
        sl_workcell_config wc = sl_workcell_default();
        wc.max_steps = (int)c->max_steps;
        if (c->frame_skip > 0) wc.frame_skip = (int)c->frame_skip;
        wc.econ = c->econ;
        return sl_env_workcell_new(env, &wc);
    }
    sl_mjcf_task task = sl_mjcf_task_default();
    task.site = c->task_site;
    task.target_site = c->task_target_site;
    memcpy(task.target, c->task_target, sizeof task.target);
    task.tolerance = c->task_tolerance;
    task.max_steps = (int)c->max_steps;
    if (c->frame_skip > 0) task.frame_skip = (int)c->frame_skip;
    task.econ = c->econ;
    return sl_env_mjcf_new(env, c->env, &task);
}

static void add_mean_std(cJSON *o, const char *key, double mean, double sd) {
    cJSON *m = cJSON_AddObjectToObject(o, key);
    if (!m) return;
    cJSON_AddNumberToObject(m, "mean", mean);
    cJSON_AddNumberToObject(m, "std", sd);
}

/* The sidecar: file, sha256, config as resolved by the environment, provenance, summary. */
static cJSON *sidecar_json(const sl_loop_collect_config *c, const sl_env *env,
                           const sl_loop_collect_result *r) {
    const sl_collect_summary *sum = &r->summary;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "kind", "dataset");
    cJSON_AddStringToObject(j, "file", c->output);
    cJSON_AddStringToObject(j, "sha256", r->sha256);
    cJSON *cfg = cJSON_AddObjectToObject(j, "config");
    if (cfg) {
        cJSON_AddStringToObject(cfg, "env", env->name);
        if (c->task) cJSON_AddStringToObject(cfg, "task", c->task);
        if (strcmp(c->env, "workcell") != 0 && !c->task) {
            cJSON_AddStringToObject(cfg, "mjcf", c->env);
            cJSON_AddStringToObject(cfg, "task_site", c->task_site);
            if (c->task_target_site)
                cJSON_AddStringToObject(cfg, "task_target_site", c->task_target_site);
            else
                sl_json_add_f64_array(cfg, "task_target", c->task_target, 3);
            cJSON_AddNumberToObject(cfg, "task_tolerance", c->task_tolerance);
        }
        cJSON_AddStringToObject(cfg, "policy", c->agent ? c->agent : sl_policy_name(c->policy));
        cJSON_AddNumberToObject(cfg, "episodes", (double)c->episodes);
        cJSON_AddNumberToObject(cfg, "seed", (double)c->seed);
        cJSON_AddNumberToObject(cfg, "max_steps", env->max_steps);
        cJSON_AddNumberToObject(cfg, "frame_skip", env->frame_skip);
        cJSON_AddNumberToObject(cfg, "control_dt", env->control_dt);
        cJSON_AddNumberToObject(cfg, "value_per_unit", c->econ.value_per_unit);
        cJSON_AddNumberToObject(cfg, "human_wage", c->econ.human_wage);
    }
    /* the environment travels with the data (issue 13): model, hashes, task, dims */
    cJSON *envj = cJSON_AddObjectToObject(j, "environment");
    sl_env_record rec;
    if (envj && sl_env_get_record(env, &rec) == SL_OK) {
        (void)sl_env_record_to_json(&rec, envj);
        sl_env_record_clear(&rec);
    }
    cJSON *prov = cJSON_AddObjectToObject(j, "provenance");
    if (prov) sl_json_add_provenance(prov, c->seed);
    cJSON *s = cJSON_AddObjectToObject(j, "summary");
    if (s) {
        cJSON_AddNumberToObject(s, "episodes", (double)sum->episodes);
        cJSON_AddNumberToObject(s, "steps", (double)sum->steps);
        cJSON_AddNumberToObject(s, "obs_dim", env->obs_dim);
        cJSON_AddNumberToObject(s, "act_dim", env->act_dim);
        cJSON *pc = cJSON_AddObjectToObject(s, "policy_episodes");
        for (int k = 0; pc && k < SL_POLICY_KIND_COUNT; k++)
            if (k <= SL_POLICY_RANDOM || sum->policy_counts[k])
                cJSON_AddNumberToObject(pc, sl_policy_name((sl_policy_kind)k), sum->policy_counts[k]);
        cJSON_AddBoolToObject(s, "has_units", sum->has_units);
        if (sum->has_units) { /* no units in the task: these are absent, not zero */
            add_mean_std(s, "mpl", sum->mean_mpl, sum->std_mpl);
            add_mean_std(s, "error_rate", sum->mean_error_rate, sum->std_error_rate);
        }
        add_mean_std(s, "energy_wh", sum->mean_energy_wh, sum->std_energy_wh);
        if (sum->has_units) {
            add_mean_std(s, "ep", sum->mean_ep, sum->std_ep);
            add_mean_std(s, "wage_parity", sum->mean_wage_parity, sum->std_wage_parity);
            add_mean_std(s, "units", sum->mean_units, sum->std_units);
        }
        add_mean_std(s, "return", sum->mean_return, sum->std_return);
    }
    return j;
}

/* Rows of a finished collection: the dataset, its sidecar, per-episode return and MPL curves
 * and 95% t-intervals of the econ metrics over episodes. */
static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_dataset *ds,
                                const char *output, const char *side) {
    if (!reg) return SL_OK;
    char apath[4096];
    SL_TRY(sl_registry_add_dataset(reg, run, sl_loop_abs_path(output, apath), "real", (int64_t)ds->n,
                                   (int64_t)ds->n_episodes, NULL));
    SL_TRY(sl_registry_add_artifact(reg, run, "dataset.json", sl_loop_abs_path(side, apath)));
    static const char *curves[] = {"return", "mpl"};
    for (int i = 0; i < 2; i++) {
        const double *x = sl_dataset_ep_col(ds, curves[i]);
        char series[64];
        snprintf(series, sizeof series, "collect/episode_%s", curves[i]);
        if (x) SL_TRY(sl_registry_add_metrics(reg, run, series, NULL, x, ds->n_episodes));
    }
    static const char *econ[] = {"mpl", "error_rate", "energy_wh", "ep", "wage_parity", "units",
                                 "return"};
    for (size_t i = 0; ds->n_episodes >= 2 && i < sizeof econ / sizeof econ[0]; i++) {
        const double *x = sl_dataset_ep_col(ds, econ[i]);
        sl_ci ci;
        if (!x) continue;
        SL_TRY(sl_stats_ci_mean(x, ds->n_episodes, 0.95, &ci));
        SL_TRY(sl_registry_add_estimate(reg, run, econ[i], NULL, ci.mean, ci.lo, ci.hi,
                                        (int64_t)ci.n));
    }
    return SL_OK;
}

/* --agent FILE: a trained agent whose dims match the env */
static sl_status load_agent(const char *path, const sl_env *env, sl_agent **out) {
    SL_TRY(sl_agent_load(out, path));
    const sl_rl_config *c = sl_agent_config(*out);
    if (c->obs_dim != env->obs_dim || c->act_dim != env->act_dim) {
        sl_status st = sl_set_error(SL_ERR_SHAPE, "%s: agent has obs_dim %d / act_dim %d, environment %s has %d / %d",
                                    path, c->obs_dim, c->act_dim, env->name, env->obs_dim, env->act_dim);
        sl_agent_free(*out);
        *out = NULL;
        return st;
    }
    return SL_OK;
}

static sl_status agent_policy(void *ctx, sl_env *env, const float *obs, float *action) {
    (void)env;
    return sl_agent_act(ctx, obs, 1, action);
}

sl_status sl_loop_collect(const sl_loop_collect_config *c, sl_loop_ctx *ctx,
                          sl_loop_collect_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->output || !c->env) return sl_set_error(SL_ERR_ARG, "collect: output and env are required");
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL, *st_side = NULL;
    r->sidecar = sl_loop_sidecar_path(c->output, ".npz");
    sl_status st = r->sidecar ? SL_OK : sl_set_error(SL_ERR_NOMEM, "collect: out of memory");
    if (st == SL_OK) st = sl_outset_add(&os, c->output, &st_out);
    if (st == SL_OK) st = sl_outset_add(&os, r->sidecar, &st_side);
    sl_env *env = NULL;
    sl_dataset *ds = NULL;
    if (st == SL_OK) st = make_env(c, &env);
    if (st == SL_OK && (c->mpc_samples > 0 || c->mpc_horizon > 0)) {
        sl_mpc_config mc = sl_mpc_default();
        if (c->mpc_samples > 0) mc.samples = (int)c->mpc_samples;
        if (c->mpc_horizon > 0) mc.horizon = (int)c->mpc_horizon;
        st = sl_env_set_mpc(env, &mc);
    }
    sl_agent *agent = NULL;
    if (st == SL_OK && c->agent) st = load_agent(c->agent, env, &agent);
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    double t0 = sl_now();
    if (st == SL_OK && agent)
        st = sl_env_collect_fn(env, agent_policy, agent, (size_t)c->episodes, c->seed, &ds, &r->summary);
    else if (st == SL_OK)
        st = sl_env_collect(env, c->policy, (size_t)c->episodes, c->seed, &ds, &r->summary);
    sl_agent_free(agent);
    sl_loop_observe_end(&obs);
    r->seconds = sl_now() - t0;
    if (st == SL_OK) st = sl_loop_report(ctx, "collect", c->episodes, c->episodes, NULL, 0);
    if (st == SL_OK) st = sl_dataset_save_npz(ds, st_out);
    if (st == SL_OK) st = sl_sha256_file(st_out, r->sha256);
    if (st == SL_OK) {
        r->json = sidecar_json(c, env, r);
        st = r->json ? sl_json_write_file(st_side, r->json)
                     : sl_set_error(SL_ERR_NOMEM, "collect: out of memory");
    }
    if (st == SL_OK) st = sl_outset_commit(&os);
    sl_outset_free(&os);
    if (st == SL_OK && ctx) st = record_outputs(ctx->reg, ctx->run_id, ds, c->output, r->sidecar);
    sl_dataset_free(ds);
    sl_env_free(env);
    return st;
}
