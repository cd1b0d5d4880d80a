/* SPDX-License-Identifier: Apache-2.0 */
/* serving.c - the policy server behind POST /v1/act and /v1/feedback: loaded versions, routing,
 * shadow comparison, health windows and the automatic canary / A-B / rollback decisions.
 *
 * Invariant: what is served always equals the registry's state as last read (live version plus
 * the active rollout's candidate); every decision is first committed to the registry and only
 * then applied in memory (by re-reading it), so a crash between the two can only leave the
 * server behind the registry, never ahead of it. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "deploy_internal.h"

typedef struct loaded {
    int64_t id;
    dp_policy pol;
    int obs_dim, act_dim; /* copies of pol's */
    sl_health_window win;
    long at_stage; /* outcomes since the current canary stage began */
    long served;
} loaded;

struct sl_policy_server {
    pthread_mutex_t mu;
    sl_ps_config cfg;
    char db[1024], endpoint[64];
    sl_registry *reg;
    int64_t live;
    int has_ro;
    sl_rollout ro;
    loaded slot[2]; /* [0] live, [1] candidate */
    uint64_t counter;
    long shadow_n;
    double shadow_absdiff, shadow_maxdiff;
    FILE *shadow_fp;
    char last_decision[320];
};

sl_ps_config sl_ps_config_default(const char *db_path, const char *endpoint) {
    sl_ps_config c;
    memset(&c, 0, sizeof c);
    c.db_path = db_path;
    c.endpoint = endpoint ? endpoint : "default";
    c.window = 200;
    c.auto_manage = 1;
    c.th = sl_health_thresholds_default();
    c.tr = sl_rollback_triggers_default();
    return c;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void slot_free(loaded *l) {
    dp_policy_free(&l->pol);
    sl_health_window_free(&l->win);
    memset(l, 0, sizeof *l);
}

static sl_status slot_load(sl_policy_server *ps, int64_t id, loaded *l) {
    memset(l, 0, sizeof *l);
    if (id <= 0) return SL_OK;
    SL_TRY(dp_policy_load(ps->reg, id, &l->pol));
    l->obs_dim = l->pol.obs_dim;
    l->act_dim = l->pol.act_dim;
    sl_status s = sl_health_window_init(&l->win, ps->cfg.window);
    l->id = id;
    if (s != SL_OK) slot_free(l);
    return s;
}

/* re-read the registry; keeps loaded versions (and their windows) that are still served */
static sl_status reload_locked(sl_policy_server *ps) {
    int64_t live;
    int has;
    sl_rollout ro;
    SL_TRY(sl_endpoint_state(ps->reg, ps->endpoint, &live, &ro, &has));
    if (has) { /* the rollout this server now serves is claimed for it (sl_deploy_recover) */
        int claimed, orphaned;
        SL_TRY(sl_registry_rollout_claim(ps->reg, ro.id, &claimed, &orphaned));
        if (orphaned) {
            int n = 0;
            SL_TRY(sl_deploy_recover(ps->reg, "policy-server", &n));
            SL_TRY(sl_endpoint_state(ps->reg, ps->endpoint, &live, &ro, &has));
        }
    }
    int64_t want[2] = {live, has ? ro.candidate : 0};
    loaded next[2];
    memset(next, 0, sizeof next);
    sl_status s = SL_OK;
    for (int i = 0; i < 2 && s == SL_OK; i++) {
        for (int j = 0; j < 2; j++)
            if (want[i] > 0 && ps->slot[j].id == want[i]) {
                next[i] = ps->slot[j];
                memset(&ps->slot[j], 0, sizeof ps->slot[j]);
            }
        if (want[i] > 0 && next[i].id == 0) s = slot_load(ps, want[i], &next[i]);
    }
    if (s != SL_OK) {
        for (int i = 0; i < 2; i++) slot_free(&next[i]);
        return s;
    }
    if (next[0].id && next[1].id && next[0].obs_dim != next[1].obs_dim) {
        s = sl_set_error(SL_ERR_SHAPE, "endpoint %s: live version %lld takes %d observation dims, "
                         "candidate %lld takes %d", ps->endpoint, (long long)next[0].id, next[0].obs_dim,
                         (long long)next[1].id, next[1].obs_dim);
        for (int i = 0; i < 2; i++) slot_free(&next[i]);
        return s;
    }
    for (int j = 0; j < 2; j++) slot_free(&ps->slot[j]);
    ps->slot[0] = next[0];
    ps->slot[1] = next[1];
    if (has && ps->has_ro && ro.id == ps->ro.id && ro.stage != ps->ro.stage) ps->slot[1].at_stage = 0;
    ps->live = live;
    ps->has_ro = has;
    if (has) ps->ro = ro;
    return SL_OK;
}

sl_status sl_ps_open(const sl_ps_config *cfg, sl_policy_server **out) {
    *out = NULL;
    if (!cfg || !cfg->db_path || !cfg->endpoint) return sl_set_error(SL_ERR_ARG, "policy server: db and endpoint needed");
    if (cfg->window < 4) return sl_set_error(SL_ERR_ARG, "policy server: window must be >= 4");
    sl_policy_server *ps = calloc(1, sizeof *ps);
    if (!ps) return sl_set_error(SL_ERR_NOMEM, "policy server: out of memory");
    ps->cfg = *cfg;
    snprintf(ps->db, sizeof ps->db, "%s", cfg->db_path);
    snprintf(ps->endpoint, sizeof ps->endpoint, "%s", cfg->endpoint);
    ps->cfg.db_path = ps->db;
    ps->cfg.endpoint = ps->endpoint;
    pthread_mutex_init(&ps->mu, NULL);
    int n = 0;
    sl_status s = sl_registry_open(ps->db, &ps->reg);
    if (s == SL_OK) s = sl_deploy_recover(ps->reg, "policy-server", &n);
    if (s == SL_OK) s = reload_locked(ps);
    if (s == SL_OK && cfg->shadow_log) {
        ps->shadow_fp = fopen(cfg->shadow_log, "a");
        if (!ps->shadow_fp) s = sl_set_error(SL_ERR_IO, "%s: cannot open the shadow log", cfg->shadow_log);
    }
    if (s == SL_OK && n)
        snprintf(ps->last_decision, sizeof ps->last_decision,
                 "recovered: %d interrupted rollout(s) rolled back", n);
    if (s != SL_OK) {
        sl_ps_close(ps);
        return s;
    }
    *out = ps;
    return SL_OK;
}

void sl_ps_close(sl_policy_server *ps) {
    if (!ps) return;
    for (int i = 0; i < 2; i++) slot_free(&ps->slot[i]);
    if (ps->shadow_fp) fclose(ps->shadow_fp);
    sl_registry_close(ps->reg);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

sl_status sl_ps_reload(sl_policy_server *ps) {
    pthread_mutex_lock(&ps->mu);
    sl_status s = reload_locked(ps);
    pthread_mutex_unlock(&ps->mu);
    return s;
}

int sl_ps_obs_dim(sl_policy_server *ps) {
    pthread_mutex_lock(&ps->mu);
    int d = ps->slot[0].id ? ps->slot[0].obs_dim : ps->slot[1].obs_dim;
    pthread_mutex_unlock(&ps->mu);
    return d;
}

static loaded *slot_of(sl_policy_server *ps, int64_t id) {
    for (int i = 0; i < 2; i++)
        if (ps->slot[i].id && ps->slot[i].id == id) return &ps->slot[i];
    return NULL;
}

static sl_status compute(loaded *l, const float *obs, float *act) { return dp_policy_act(&l->pol, obs, act); }

sl_status sl_ps_act(sl_policy_server *ps, const char *key, const float *obs, int obs_dim,
                    sl_ps_action *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < obs_dim; i++)
        if (!isfinite(obs[i])) return sl_set_error(SL_ERR_NAN, "observation[%d] is not finite", i);
    pthread_mutex_lock(&ps->mu);
    sl_status s = SL_OK;
    sl_route r = sl_route_pick(ps->live, ps->has_ro ? &ps->ro : NULL, key, ps->counter++);
    loaded *l = slot_of(ps, r.serve);
    if (!l) s = sl_set_error(SL_ERR_STATE, "endpoint %s has no live version", ps->endpoint);
    if (s == SL_OK && obs_dim != l->obs_dim)
        s = sl_set_error(SL_ERR_SHAPE, "observation has %d values, version %lld expects %d", obs_dim,
                         (long long)l->id, l->obs_dim);
    if (s == SL_OK) {
        double t0 = now_ms();
        s = compute(l, obs, out->act);
        out->latency_ms = now_ms() - t0;
        out->version = l->id;
        out->act_dim = l->act_dim;
        l->served++;
    }
    loaded *sh = s == SL_OK && r.shadow ? slot_of(ps, r.shadow) : NULL;
    if (sh && sh->obs_dim == obs_dim) {
        float sa[64];
        double t0 = now_ms();
        if (compute(sh, obs, sa) == SL_OK) {
            double lat = now_ms() - t0, d = 0, mx = 0;
            for (int j = 0; j < sh->act_dim && j < l->act_dim; j++) {
                double e = fabs((double)sa[j] - (double)out->act[j]);
                d += e;
                if (e > mx) mx = e;
            }
            d /= sh->act_dim > 0 ? sh->act_dim : 1;
            ps->shadow_n++;
            ps->shadow_absdiff += d;
            if (mx > ps->shadow_maxdiff) ps->shadow_maxdiff = mx;
            sh->served++;
            out->shadow_version = sh->id;
            if (ps->shadow_fp) {
                fprintf(ps->shadow_fp, "{\"live\":%lld,\"shadow\":%lld,\"mean_abs_diff\":%.6g,"
                        "\"max_abs_diff\":%.6g,\"shadow_latency_ms\":%.4g}\n",
                        (long long)l->id, (long long)sh->id, d, mx, lat);
                fflush(ps->shadow_fp);
            }
        }
    }
    pthread_mutex_unlock(&ps->mu);
    return s;
}

/* apply the analysis after an outcome; *decision gets what happened */
static sl_status manage_locked(sl_policy_server *ps, char *decision, size_t cap) {
    loaded *live = &ps->slot[0], *cand = &ps->slot[1];
    sl_health_metrics ml, mc;
    char why[256];
    if (!ps->has_ro) {
        /* a live version on its own: critical health rolls it back to its predecessor */
        if (!live->id || live->win.n < 20) return SL_OK;
        sl_health_compute(&live->win, &ml);
        char failing[128];
        if (sl_health_assess(&ml, &ps->cfg.th, failing, sizeof failing) != SL_CRITICAL) return SL_OK;
        snprintf(why, sizeof why, "live version critical: %s outside thresholds", failing);
        int64_t restored = 0;
        sl_status s = sl_endpoint_rollback(ps->reg, ps->endpoint, "health-monitor", why, &restored);
        if (s == SL_ERR_STATE) return SL_OK; /* no predecessor: nothing to roll back to */
        SL_TRY(s);
        snprintf(decision, cap, "rolled back live version %lld to %lld: %s", (long long)live->id,
                 (long long)restored, why);
        return reload_locked(ps);
    }
    if (!cand->id || ps->ro.plan.strategy == SL_STRATEGY_SHADOW) return SL_OK;
    sl_health_compute(&live->win, &ml);
    sl_health_compute(&cand->win, &mc);
    if (ps->ro.plan.strategy == SL_STRATEGY_CANARY) {
        sl_canary_action a = sl_canary_analyse(&mc, &ml, (int)cand->at_stage, &ps->ro.plan, &ps->cfg.tr,
                                               &ps->cfg.th, why, sizeof why);
        if (a == SL_CANARY_WAIT) return SL_OK;
        sl_rollout r = ps->ro;
        if (a == SL_CANARY_ROLLBACK) {
            SL_TRY(sl_rollout_rollback(ps->reg, &r, "canary-monitor", why));
            snprintf(decision, cap, "rolled back version %lld after %ld episodes: %s", (long long)cand->id,
                     cand->win.total, why);
        } else {
            SL_TRY(sl_rollout_advance(ps->reg, &r, "canary-monitor", why));
            if (r.state == SL_ROLLOUT_COMPLETED)
                snprintf(decision, cap, "completed: version %lld is live", (long long)cand->id);
            else
                snprintf(decision, cap, "advanced version %lld to %.0f%%", (long long)cand->id, 100 * r.share);
            cand->at_stage = 0;
        }
        return reload_locked(ps);
    }
    /* A-B */
    double p = 1;
    int w = sl_ab_live_analyse(&cand->win, &live->win, ps->ro.plan.min_episodes, &p);
    sl_rollout r = ps->ro;
    if (w > 0) {
        snprintf(why, sizeof why, "A-B winner: candidate score %.3f vs live %.3f (Welch p %.3g)", mc.score,
                 ml.score, p);
        SL_TRY(sl_rollout_complete(ps->reg, &r, "ab-monitor", why));
    } else if (w < 0) {
        snprintf(why, sizeof why, "A-B loser: candidate score %.3f vs live %.3f (Welch p %.3g)", mc.score,
                 ml.score, p);
        SL_TRY(sl_rollout_rollback(ps->reg, &r, "ab-monitor", why));
    } else if (cand->win.total >= ps->ro.plan.ab_max_episodes && live->win.total >= ps->ro.plan.ab_max_episodes) {
        snprintf(why, sizeof why, "A-B undecided after %ld episodes (p %.3g): live version kept",
                 cand->win.total, p);
        SL_TRY(sl_rollout_rollback(ps->reg, &r, "ab-monitor", why));
    } else {
        return SL_OK;
    }
    snprintf(decision, cap, "%s", why);
    return reload_locked(ps);
}

sl_status sl_ps_feedback(sl_policy_server *ps, int64_t version, const sl_outcome *o,
                         char *decision, size_t cap) {
    if (decision && cap) decision[0] = 0;
    if (!isfinite(o->score) || !isfinite(o->latency_ms) || !isfinite(o->reward) || o->latency_ms < 0)
        return sl_set_error(SL_ERR_NAN, "feedback: score, latency_ms and reward must be finite");
    pthread_mutex_lock(&ps->mu);
    if (version == 0) version = ps->live;
    loaded *l = slot_of(ps, version);
    sl_status s = l ? SL_OK
                    : sl_set_error(SL_ERR_NOTFOUND, "version %lld is not served on endpoint %s",
                                   (long long)version, ps->endpoint);
    char dec[320] = "";
    if (s == SL_OK) {
        sl_health_window_add(&l->win, o);
        l->at_stage++;
        s = sl_registry_training_episode(ps->reg, version, ps->endpoint, o->score, o->failure,
                                         o->latency_ms, o->reward, "feedback");
    }
    if (s == SL_OK && ps->cfg.auto_manage) s = manage_locked(ps, dec, sizeof dec);
    if (dec[0]) snprintf(ps->last_decision, sizeof ps->last_decision, "%s", dec);
    pthread_mutex_unlock(&ps->mu);
    if (decision && cap) snprintf(decision, cap, "%s", dec);
    return s;
}

static void add_health(cJSON *o, loaded *l, const sl_health_thresholds *th) {
    sl_health_metrics m;
    sl_health_compute(&l->win, &m);
    char failing[128];
    sl_health_state st = sl_health_assess(&m, th, failing, sizeof failing);
    cJSON_AddNumberToObject(o, "version", (double)l->id);
    cJSON_AddNumberToObject(o, "served", (double)l->served);
    cJSON_AddNumberToObject(o, "episodes", (double)l->win.total);
    cJSON_AddNumberToObject(o, "window", m.n);
    if (m.n > 0) {
        cJSON_AddStringToObject(o, "health", sl_health_state_name(st));
        cJSON_AddStringToObject(o, "failing", failing);
        cJSON_AddNumberToObject(o, "score", m.score);
        cJSON_AddNumberToObject(o, "failure_rate", m.failure_rate);
        cJSON_AddNumberToObject(o, "latency_p99_ms", m.latency_p99_ms);
        cJSON_AddNumberToObject(o, "reward_stability", m.reward_stability);
    } else {
        cJSON_AddStringToObject(o, "health", "no data");
    }
}

sl_status sl_ps_status_json(sl_policy_server *ps, char **out) {
    *out = NULL;
    pthread_mutex_lock(&ps->mu);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "endpoint", ps->endpoint);
    if (ps->live) cJSON_AddNumberToObject(j, "live", (double)ps->live);
    else cJSON_AddNullToObject(j, "live");
    if (ps->slot[0].id) add_health(cJSON_AddObjectToObject(j, "live_health"), &ps->slot[0], &ps->cfg.th);
    if (ps->has_ro) {
        cJSON *r = cJSON_AddObjectToObject(j, "rollout");
        cJSON_AddNumberToObject(r, "id", (double)ps->ro.id);
        cJSON_AddStringToObject(r, "strategy", sl_strategy_name(ps->ro.plan.strategy));
        cJSON_AddNumberToObject(r, "candidate", (double)ps->ro.candidate);
        cJSON_AddNumberToObject(r, "share", ps->ro.share);
        cJSON_AddNumberToObject(r, "stage", ps->ro.stage);
        cJSON_AddNumberToObject(r, "episodes_at_stage", (double)ps->slot[1].at_stage);
        if (ps->slot[1].id) add_health(cJSON_AddObjectToObject(r, "candidate_health"), &ps->slot[1], &ps->cfg.th);
    } else {
        cJSON_AddNullToObject(j, "rollout");
    }
    cJSON *sh = cJSON_AddObjectToObject(j, "shadow");
    cJSON_AddNumberToObject(sh, "compared", (double)ps->shadow_n);
    cJSON_AddNumberToObject(sh, "mean_abs_diff", ps->shadow_n ? ps->shadow_absdiff / (double)ps->shadow_n : 0.0);
    cJSON_AddNumberToObject(sh, "max_abs_diff", ps->shadow_maxdiff);
    cJSON_AddStringToObject(j, "last_decision", ps->last_decision);
    pthread_mutex_unlock(&ps->mu);
    *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return *out ? SL_OK : sl_set_error(SL_ERR_NOMEM, "status: out of memory");
}
