/* SPDX-License-Identifier: Apache-2.0 */
/* traffic.c - closed-loop traffic for a policy server: client threads run workcell episodes
 * whose every action comes from POST /v1/act and report each outcome to POST /v1/feedback, so
 * that canary analysis and rollback are driven by real use (sl_deploy.h).
 *
 * Invariant: an episode's feedback goes to the version that served its first action, and only
 * for an episode that ran to its end with every request answered; the decisions are the
 * server's, recorded here in the order their replies arrived. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "deploy_internal.h"
#include "synthloop/sl_stats.h"

sl_traffic_config sl_traffic_config_default(const char *url, const char *token) {
    sl_traffic_config c;
    memset(&c, 0, sizeof c);
    c.url = url;
    c.token = token;
    c.episodes = 100;
    c.clients = 4;
    c.seed = 0;
    c.timeout_s = 10.0;
    c.feedback = 1;
    return c;
}

typedef struct shared {
    const sl_traffic_config *cfg;
    char base[1100];
    pthread_mutex_t mu;
    long next_episode;
    sl_traffic_result *res;
} shared;

typedef struct client {
    shared *sh;
    int id;
    sl_env *env;
    sl_http_conn *conn;
    double *lat; /* every act round trip, ms */
    long n_lat, cap_lat;
    sl_status status;
} client;

static sl_traffic_version *version_slot(sl_traffic_result *r, int64_t v) {
    for (int i = 0; i < r->n_versions; i++)
        if (r->versions[i].version == v) return &r->versions[i];
    if (r->n_versions >= SL_TRAFFIC_VERSIONS_MAX) return NULL;
    sl_traffic_version *s = &r->versions[r->n_versions++];
    memset(s, 0, sizeof *s);
    s->version = v;
    return s;
}

static void note_error(shared *sh, const char *what) {
    pthread_mutex_lock(&sh->mu);
    sh->res->errors++;
    snprintf(sh->res->last_error, sizeof sh->res->last_error, "%s", what);
    pthread_mutex_unlock(&sh->mu);
}

/* POST and parse a 200 JSON reply; anything else is an error with its text in msg (*code, if
 * not NULL, receives the HTTP status, 0 when there was none) */
static cJSON *post_json(client *c, const char *url, const char *body, char *msg, size_t cap, int *code_out) {
    int code = 0;
    char *resp = NULL;
    size_t n = 0;
    if (sl_http_conn_post(c->conn, url, body, c->sh->cfg->token, &code, &resp, &n) != SL_OK) {
        snprintf(msg, cap, "%s", sl_last_error());
        return NULL;
    }
    if (code_out) *code_out = code;
    cJSON *j = code == 200 ? cJSON_Parse(resp) : NULL;
    if (!j) snprintf(msg, cap, "%s: HTTP %d: %.180s", url, code, resp ? resp : "");
    free(resp);
    return j;
}

/* one episode; returns 0 when it ran to its end, -1 after a failed request */
static int run_episode(client *c, long e) {
    shared *sh = c->sh;
    sl_env *env = c->env;
    float obs[64], act[64];
    char key[48], msg[320];
    snprintf(key, sizeof key, "c%d-e%ld", c->id, e);
    if (sl_env_reset(env, sh->cfg->seed + (uint64_t)e, obs) != SL_OK) {
        note_error(sh, sl_last_error());
        return -1;
    }
    int64_t first = 0;
    int mixed = 0;
    long start = c->n_lat;
    for (;;) {
        /* {"observation":[...],"key":"..."} */
        char body[2048];
        size_t k = (size_t)snprintf(body, sizeof body, "{\"key\":\"%s\",\"observation\":[", key);
        for (int i = 0; i < env->obs_dim && k < sizeof body - 32; i++)
            k += (size_t)snprintf(body + k, sizeof body - k, "%s%.9g", i ? "," : "", (double)obs[i]);
        snprintf(body + k, sizeof body - k, "]}");
        double t0 = sl_now();
        cJSON *j = post_json(c, "/v1/act", body, msg, sizeof msg, NULL);
        double ms = (sl_now() - t0) * 1e3;
        const cJSON *a = j ? cJSON_GetObjectItem(j, "action") : NULL, *v = j ? cJSON_GetObjectItem(j, "version") : NULL;
        if (j && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != env->act_dim || !cJSON_IsNumber(v))) {
            snprintf(msg, sizeof msg, "/v1/act: reply without an action of %d numbers and a version", env->act_dim);
            cJSON_Delete(j);
            j = NULL;
        }
        if (!j) {
            note_error(sh, msg);
            return -1;
        }
        int i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, a) act[i++] = cJSON_IsNumber(x) ? (float)x->valuedouble : NAN;
        int64_t ver = (int64_t)v->valuedouble;
        cJSON_Delete(j);
        if (!first) first = ver;
        else if (ver != first) mixed = 1;
        if (c->n_lat < c->cap_lat) c->lat[c->n_lat++] = ms;
        for (i = 0; i < env->act_dim; i++)
            act[i] = env->act_lo[i] + 0.5f * (act[i] + 1.0f) * (env->act_hi[i] - env->act_lo[i]);
        sl_env_out st;
        if (sl_env_step(env, act, obs, NULL, &st) != SL_OK) {
            note_error(sh, sl_last_error());
            return -1;
        }
        if (st.terminal || st.timeout) break;
    }
    sl_env_metrics m;
    if (sl_env_episode_metrics(env, &m) != SL_OK) {
        note_error(sh, sl_last_error());
        return -1;
    }
    double p99 = 0;
    if (c->n_lat > start) (void)sl_stats_quantile(c->lat + start, (size_t)(c->n_lat - start), 0.99, &p99);
    sl_outcome oc = dp_episode_outcome(&m, p99);
    double score = oc.score, reward = oc.reward;
    char decision[320] = "";
    if (sh->cfg->feedback) {
        char body[512];
        snprintf(body, sizeof body, "{\"version\":%lld,\"score\":%.9g,\"failure\":%s,\"latency_ms\":%.6g,"
                 "\"reward\":%.9g}", (long long)first, score, m.failures > 0 ? "true" : "false", p99, reward);
        int code = 0;
        cJSON *j = post_json(c, "/v1/feedback", body, msg, sizeof msg, &code);
        if (!j && code == 404) {
            /* the version was archived or rolled back while this episode ran: late, not lost */
            pthread_mutex_lock(&sh->mu);
            sh->res->late_feedback++;
            pthread_mutex_unlock(&sh->mu);
        } else if (!j) {
            note_error(sh, msg);
            return -1;
        }
        const cJSON *d = j ? cJSON_GetObjectItem(j, "decision") : NULL;
        if (cJSON_IsString(d)) snprintf(decision, sizeof decision, "%s", d->valuestring);
        cJSON_Delete(j);
    }
    pthread_mutex_lock(&sh->mu);
    sl_traffic_result *r = sh->res;
    r->episodes++;
    r->acts += c->n_lat - start;
    r->feedbacks += sh->cfg->feedback ? 1 : 0;
    r->mixed += mixed;
    sl_traffic_version *vs = version_slot(r, first);
    if (vs) {
        vs->episodes++;
        vs->failures += m.failures > 0;
        vs->acts += c->n_lat - start;
        vs->score_sum += score;
        vs->reward_sum += reward;
    }
    if (decision[0] && r->n_decisions < SL_TRAFFIC_DECISIONS_MAX) {
        snprintf(r->decisions[r->n_decisions], sizeof r->decisions[0], "%s", decision);
        r->decision_episode[r->n_decisions++] = r->episodes;
    }
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

static void *client_main(void *arg) {
    client *c = arg;
    shared *sh = c->sh;
    int fails = 0;
    for (;;) {
        pthread_mutex_lock(&sh->mu);
        long e = sh->next_episode < sh->cfg->episodes ? sh->next_episode++ : -1;
        pthread_mutex_unlock(&sh->mu);
        if (e < 0) break;
        if (run_episode(c, e) == 0) fails = 0;
        else if (++fails >= 5) break;
    }
    return NULL;
}

sl_status sl_traffic_run(const sl_traffic_config *cfg, sl_traffic_result *out) {
    memset(out, 0, sizeof *out);
    if (!cfg || !cfg->url || strncmp(cfg->url, "http://", 7) != 0)
        return sl_set_error(SL_ERR_ARG, "traffic: --url must be an http:// URL");
    if (cfg->episodes < 1 || cfg->clients < 1 || cfg->clients > 256)
        return sl_set_error(SL_ERR_ARG, "traffic: episodes >= 1 and clients in 1..256 needed");
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = cfg;
    sh.res = out;
    size_t ul = strlen(cfg->url);
    while (ul > 0 && cfg->url[ul - 1] == '/') ul--;
    if (ul > 1000) return sl_set_error(SL_ERR_ARG, "traffic: URL too long");
    snprintf(sh.base, sizeof sh.base, "%.*s", (int)ul, cfg->url);
    pthread_mutex_init(&sh.mu, NULL);
    int n = cfg->clients;
    client *cl = calloc((size_t)n, sizeof *cl);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    sl_status s = cl && th ? SL_OK : sl_set_error(SL_ERR_NOMEM, "traffic: out of memory");
    /* environments are built here, on one thread (MuJoCo's hooks are process-global) */
    for (int i = 0; s == SL_OK && i < n; i++) {
        cl[i].sh = &sh;
        cl[i].id = i;
        s = sl_env_workcell_new(&cl[i].env, NULL);
        if (s == SL_OK) s = sl_http_conn_open(sh.base, cfg->timeout_s, &cl[i].conn);
        if (s == SL_OK && (cl[i].env->obs_dim > 64 || cl[i].env->act_dim > 64))
            s = sl_set_error(SL_ERR_SHAPE, "traffic: environment too large");
        long per = (cfg->episodes / n + 2) * (long)(s == SL_OK ? cl[i].env->max_steps + 1 : 1);
        cl[i].cap_lat = per * 2; /* a client may run more than its share of episodes */
        cl[i].lat = s == SL_OK ? malloc((size_t)cl[i].cap_lat * sizeof(double)) : NULL;
        if (s == SL_OK && !cl[i].lat) s = sl_set_error(SL_ERR_NOMEM, "traffic: out of memory");
    }
    int started = 0;
    double t0 = sl_now();
    for (; s == SL_OK && started < n; started++)
        if (pthread_create(&th[started], NULL, client_main, &cl[started]) != 0) {
            s = sl_set_error(SL_ERR_INTERNAL, "traffic: cannot start client thread %d", started);
            break;
        }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    out->seconds = sl_now() - t0;
    long total = 0;
    for (int i = 0; cl && i < n; i++) total += cl[i].n_lat;
    double *all = total ? malloc((size_t)total * sizeof *all) : NULL;
    if (all) {
        long k = 0;
        for (int i = 0; i < n; i++) {
            memcpy(all + k, cl[i].lat, (size_t)cl[i].n_lat * sizeof *all);
            k += cl[i].n_lat;
        }
        (void)sl_stats_quantile(all, (size_t)total, 0.50, &out->act_p50_ms);
        (void)sl_stats_quantile(all, (size_t)total, 0.99, &out->act_p99_ms);
        for (long i = 0; i < total; i++) out->act_max_ms = fmax(out->act_max_ms, all[i]);
        free(all);
    }
    out->acts_per_s = out->seconds > 0 ? (double)total / out->seconds : 0.0;
    for (int i = 0; cl && i < n; i++) {
        sl_env_free(cl[i].env);
        sl_http_conn_close(cl[i].conn);
        free(cl[i].lat);
    }
    free(cl);
    free(th);
    pthread_mutex_destroy(&sh.mu);
    if (s == SL_OK && out->episodes == 0)
        s = sl_set_error(SL_ERR_IO, "traffic: no episode completed (%ld failed requests): %s", out->errors,
                         out->last_error[0] ? out->last_error : "?");
    return s;
}
