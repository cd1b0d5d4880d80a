/* SPDX-License-Identifier: Apache-2.0 */
/* evaluate.c - the physics evaluation behind the "workcell" gate profile: a candidate policy
 * version against a reference (a version or the scripted expert) on the same start states,
 * with the latency of its action computation and the stability of its reward (sl_deploy.h).
 *
 * Invariant: candidate and reference episode e both start from sl_env_reset(env, seed + e), so
 * the MPL ratio compares the policies on identical conditions; everything but the latency is a
 * pure function of (versions, env config, episodes, seed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "deploy_internal.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_stats.h"

typedef struct ep_sum {
    double units, hours, attempts, failures, wh, ret;
} ep_sum;

/* One episode driven by `pol` (NULL: the env's scripted expert). lat (may be NULL) receives
 * each action computation's wall time in ms, *n_lat counts them. */
static sl_status run_episode(const dp_policy *pol, sl_env *env, uint64_t seed, double *lat, long *n_lat,
                             sl_env_metrics *m) {
    float obs[1024], act[64];
    if (env->obs_dim > 1024 || env->act_dim > 64)
        return sl_set_error(SL_ERR_SHAPE, "evaluate: environment %s is too large (%d obs, %d act dims)",
                            env->name, env->obs_dim, env->act_dim);
    SL_TRY(sl_env_reset(env, seed, obs));
    for (;;) {
        if (pol) {
            double t0 = sl_now();
            SL_TRY(dp_policy_act(pol, obs, act));
            if (lat) lat[(*n_lat)++] = (sl_now() - t0) * 1e3;
            for (int j = 0; j < env->act_dim; j++)
                act[j] = env->act_lo[j] + 0.5f * (act[j] + 1.0f) * (env->act_hi[j] - env->act_lo[j]);
        } else {
            SL_TRY(sl_env_expert(env, obs, act));
        }
        sl_env_out st;
        SL_TRY(sl_env_step(env, act, obs, NULL, &st));
        if (st.terminal || st.timeout) break;
    }
    return sl_env_episode_metrics(env, m);
}

static void add(ep_sum *s, const sl_env_metrics *m) {
    s->units += m->units;
    s->hours += m->sim_seconds / 3600.0;
    s->attempts += m->attempts;
    s->failures += m->failures;
    s->wh += m->energy_wh;
    s->ret += m->total_reward;
}

static sl_status check_dims(const dp_policy *p, const sl_env *env) {
    if (p->obs_dim != env->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "evaluate: version %lld takes %d observation dims, %s gives %d",
                            (long long)p->id, p->obs_dim, env->name, env->obs_dim);
    if (p->act_dim != env->act_dim)
        return sl_set_error(SL_ERR_SHAPE, "evaluate: version %lld gives %d action dims, %s takes %d",
                            (long long)p->id, p->act_dim, env->name, env->act_dim);
    return SL_OK;
}

sl_status sl_deploy_evaluate_physics(sl_registry *reg, int64_t candidate, int64_t against,
                                     const char *endpoint, sl_env *env, int episodes,
                                     uint64_t seed, sl_physics_eval *out) {
    memset(out, 0, sizeof *out);
    if (!reg || !env) return sl_set_error(SL_ERR_ARG, "evaluate: registry and environment needed");
    if (episodes < 4 || episodes > 100000)
        return sl_set_error(SL_ERR_ARG, "evaluate: episodes must be in 4..100000 (reward stability needs "
                            "quarters), got %d", episodes);
    if (against == candidate && against != 0)
        return sl_set_error(SL_ERR_ARG, "evaluate: version %lld against itself", (long long)candidate);
    int64_t ref = against;
    if (ref == 0 && endpoint && *endpoint) {
        int has = 0;
        sl_rollout ro;
        SL_TRY(sl_endpoint_state(reg, endpoint, &ref, &ro, &has));
        if (ref == candidate) ref = 0;
    }
    dp_policy cand, rp;
    memset(&rp, 0, sizeof rp);
    SL_TRY(dp_policy_load(reg, candidate, &cand));
    sl_status s = check_dims(&cand, env);
    if (s == SL_OK && ref > 0) s = dp_policy_load(reg, ref, &rp);
    if (s == SL_OK && ref > 0) s = check_dims(&rp, env);
    size_t cap = (size_t)episodes * (size_t)(env->max_steps + 1);
    double *lat = s == SL_OK ? malloc(cap * sizeof *lat) : NULL;
    sl_health_window win;
    memset(&win, 0, sizeof win);
    if (s == SL_OK && !lat) s = sl_set_error(SL_ERR_NOMEM, "evaluate: out of memory");
    if (s == SL_OK) s = sl_health_window_init(&win, episodes);
    ep_sum c = {0}, r = {0};
    double score = 0, fails = 0;
    long n_lat = 0;
    for (int e = 0; s == SL_OK && e < episodes; e++) {
        sl_env_metrics m;
        if ((size_t)n_lat + (size_t)env->max_steps + 1 > cap) {
            s = sl_set_error(SL_ERR_INTERNAL, "evaluate: more steps than max_steps");
            break;
        }
        s = run_episode(&cand, env, seed + (uint64_t)e, lat, &n_lat, &m);
        if (s != SL_OK) break;
        add(&c, &m);
        sl_outcome o = dp_episode_outcome(&m, 0.0);
        score += o.score;
        fails += o.failure;
        sl_health_window_add(&win, &o);
        s = run_episode(ref > 0 ? &rp : NULL, env, seed + (uint64_t)e, NULL, NULL, &m);
        if (s == SL_OK) add(&r, &m);
    }
    if (s == SL_OK) {
        sl_health_metrics hm;
        sl_health_compute(&win, &hm);
        out->episodes = episodes;
        out->candidate = candidate;
        out->reference = ref;
        out->mpl = c.hours > 0 ? c.units / c.hours : 0.0;
        out->error_rate = c.attempts > 0 ? c.failures / c.attempts : 0.0;
        out->ep = c.wh > 0 ? c.units / c.wh : 0.0;
        out->mean_return = c.ret / episodes;
        out->score = score / episodes;
        out->failure_rate = fails / episodes;
        out->ref_mpl = r.hours > 0 ? r.units / r.hours : 0.0;
        out->ref_error_rate = r.attempts > 0 ? r.failures / r.attempts : 0.0;
        out->mpl_ratio = out->ref_mpl > 0 ? fmin(out->mpl / out->ref_mpl, 100.0) : out->mpl > 0 ? 100.0 : 0.0;
        out->reward_stability = hm.reward_stability;
        out->act_calls = n_lat;
        double sum = 0;
        for (long i = 0; i < n_lat; i++) sum += lat[i];
        out->latency_mean_ms = n_lat ? sum / (double)n_lat : 0.0;
        if (n_lat) s = sl_stats_quantile(lat, (size_t)n_lat, 0.99, &out->latency_p99_ms);
        else out->latency_p99_ms = INFINITY;
    }
    free(lat);
    sl_health_window_free(&win);
    dp_policy_free(&cand);
    dp_policy_free(&rp);
    if (s != SL_OK) memset(out, 0, sizeof *out);
    return s;
}

char *sl_physics_eval_json(const sl_physics_eval *e) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "mpl_ratio", e->mpl_ratio);
    cJSON_AddNumberToObject(j, "error_rate", e->error_rate);
    if (isfinite(e->latency_p99_ms)) cJSON_AddNumberToObject(j, "latency_p99_ms", e->latency_p99_ms);
    cJSON_AddNumberToObject(j, "reward_stability", e->reward_stability);
    cJSON_AddNumberToObject(j, "mpl", e->mpl);
    cJSON_AddNumberToObject(j, "reference_mpl", e->ref_mpl);
    cJSON_AddNumberToObject(j, "reference_error_rate", e->ref_error_rate);
    cJSON_AddNumberToObject(j, "reference_version", (double)e->reference);
    cJSON_AddNumberToObject(j, "ep", e->ep);
    cJSON_AddNumberToObject(j, "mean_return", e->mean_return);
    cJSON_AddNumberToObject(j, "score", e->score);
    cJSON_AddNumberToObject(j, "failure_rate", e->failure_rate);
    cJSON_AddNumberToObject(j, "latency_mean_ms", e->latency_mean_ms);
    cJSON_AddNumberToObject(j, "episodes", e->episodes);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
