/* SPDX-License-Identifier: Apache-2.0 */
/* v1.c - policy serving and the model lifecycle over HTTP (docs/DEPLOY.md):
 *   POST /v1/act        {"observation": [...], "key": "client-7"} -> {"action", "version", ...}
 *   POST /v1/feedback   {"version", "score", "failure", "latency_ms", "reward"} -> {"decision"}
 *   GET  /v1/status     the policy server's live state
 *   GET  /api/models[?status=S]              seed 003's getModelVersions
 *   POST /api/models/ID/evaluate {"metrics", "profile"}   evaluateModel
 *   POST /api/deploy {"version", "endpoint", "strategy", ...}  deployModel
 *   GET  /api/deploy/health?endpoint=E       monitorModel
 *   POST /api/rollback {"endpoint", "reason"} rollbackModel
 *   GET  /api/deployments[?endpoint=E]       the deployment history
 * Every POST needs the bearer token; malformed bodies, wrong lengths, NaN and unknown versions
 * are 4xx with a JSON error. Invariant: this file only parses, calls src/deploy and formats. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serve_internal.h"
#include "synthloop/sl_deploy.h"
#include "synthloop/sl_serve.h"

static const char JSON_T[] = "application/json";

static void v1_body(sl_http_response *r, int status, char *s) {
    free(r->body);
    r->status = s ? status : 500;
    r->body = s;
    r->body_len = s ? strlen(s) : 0;
    r->content_type = JSON_T;
}

static void v1_error(sl_http_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void v1_error(sl_http_response *r, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddNumberToObject(j, "status", status);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    v1_body(r, status, s);
}

static void v1_json(sl_http_response *r, int status, cJSON *j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    v1_body(r, status, s);
}

/* a library failure as HTTP: state conflicts 409, missing 404, bad input 400/422, else 500 */
static void v1_status(sl_http_response *r, sl_status s) {
    int code = s == SL_ERR_NOTFOUND                                   ? 404
               : s == SL_ERR_STATE                                    ? 409
               : s == SL_ERR_ARG || s == SL_ERR_FORMAT                ? 400
               : s == SL_ERR_SHAPE || s == SL_ERR_NAN                 ? 422
                                                                      : 500;
    v1_error(r, code, "%s", *sl_last_error() ? sl_last_error() : sl_strerror(s));
}

/* exactly one JSON object, nothing after it */
static cJSON *v1_parse(const sl_http_request *req, sl_http_response *r) {
    if (!req->body || req->body_len == 0) {
        v1_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (j && end) {
        while ((size_t)(end - req->body) < req->body_len && (*end == ' ' || *end == '\n' ||
                                                             *end == '\r' || *end == '\t'))
            end++;
        if ((size_t)(end - req->body) < req->body_len) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        v1_error(r, 400, "request body must be exactly one JSON object");
        return NULL;
    }
    return j;
}

static int need_token(const sl_serve_config *c, const sl_http_request *req, sl_http_response *r) {
    if (!c->token || !*c->token) {
        v1_error(r, 403, "POST routes are disabled: start the server with a token");
        return 0;
    }
    if (!sl_http_token_ok(c, req->authorization)) {
        v1_error(r, 401, "missing or wrong bearer token");
        return 0;
    }
    return 1;
}

static int qget(const char *query, const char *key, char *out, size_t n) {
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= n) vl = n - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = 0;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* --- /v1 -------------------------------------------------------------------------------------- */

static void act(sl_policy_server *ps, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = v1_parse(req, r);
    if (!j) return;
    const cJSON *o = cJSON_GetObjectItem(j, "observation"), *k = cJSON_GetObjectItem(j, "key");
    int n = cJSON_IsArray(o) ? cJSON_GetArraySize(o) : -1;
    if (n < 1 || n > 4096) {
        cJSON_Delete(j);
        v1_error(r, 400, "\"observation\" must be an array of 1..4096 numbers");
        return;
    }
    float obs[4096];
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        if (!cJSON_IsNumber(e)) {
            cJSON_Delete(j);
            v1_error(r, 400, "observation[%d] is not a number", i);
            return;
        }
        obs[i++] = (float)e->valuedouble;
    }
    if (k && !cJSON_IsString(k)) {
        cJSON_Delete(j);
        v1_error(r, 400, "\"key\" must be a string");
        return;
    }
    sl_ps_action a;
    sl_status s = sl_ps_act(ps, k ? k->valuestring : NULL, obs, n, &a);
    cJSON_Delete(j);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "action");
    for (int d = 0; d < a.act_dim; d++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)a.act[d]));
    cJSON_AddNumberToObject(out, "version", (double)a.version);
    cJSON_AddNumberToObject(out, "latency_ms", a.latency_ms);
    v1_json(r, 200, out);
}

static void feedback(sl_policy_server *ps, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = v1_parse(req, r);
    if (!j) return;
    const cJSON *v = cJSON_GetObjectItem(j, "version"), *sc = cJSON_GetObjectItem(j, "score"),
                *fl = cJSON_GetObjectItem(j, "failure"), *lat = cJSON_GetObjectItem(j, "latency_ms"),
                *rw = cJSON_GetObjectItem(j, "reward");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(sc) || !(cJSON_IsBool(fl) || cJSON_IsNumber(fl)) ||
        (lat && !cJSON_IsNumber(lat)) || (rw && !cJSON_IsNumber(rw))) {
        cJSON_Delete(j);
        v1_error(r, 400, "feedback needs numbers \"version\" and \"score\", \"failure\" (bool), and "
                         "optional numbers \"latency_ms\", \"reward\"");
        return;
    }
    sl_outcome oc = {sc->valuedouble, cJSON_IsBool(fl) ? cJSON_IsTrue(fl) : fl->valuedouble != 0,
                     lat ? lat->valuedouble : 0.0, rw ? rw->valuedouble : sc->valuedouble};
    int64_t ver = (int64_t)v->valuedouble;
    cJSON_Delete(j);
    char dec[320];
    sl_status s = sl_ps_feedback(ps, ver, &oc, dec, sizeof dec);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "decision", dec);
    v1_json(r, 200, out);
}

/* --- /api lifecycle routes --------------------------------------------------------------------- */

static cJSON *version_json(const sl_model_version *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)v->id);
    cJSON_AddStringToObject(o, "kind", v->kind);
    cJSON_AddStringToObject(o, "status", v->status);
    cJSON_AddNumberToObject(o, "eval_passed", v->eval_passed);
    cJSON_AddStringToObject(o, "sha256", v->sha256);
    cJSON_AddNumberToObject(o, "parent", (double)v->parent_id);
    cJSON_AddStringToObject(o, "created", v->created);
    cJSON_AddStringToObject(o, "updated", v->updated);
    cJSON *m = v->metrics_json ? cJSON_Parse(v->metrics_json) : NULL;
    if (m) cJSON_AddItemToObject(o, "evaluation", m);
    else cJSON_AddNullToObject(o, "evaluation");
    return o;
}

static void models(sl_registry *reg, const char *query, sl_http_response *r) {
    char st[32];
    int filter = -1;
    if (qget(query, "status", st, sizeof st)) {
        sl_mv_status s;
        if (sl_mv_status_parse(st, &s) != SL_OK) {
            v1_error(r, 400, "%s", sl_last_error());
            return;
        }
        filter = (int)s;
    }
    sl_model_version *v = NULL;
    size_t n = 0;
    sl_status s = sl_mv_list(reg, filter, &v, &n);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, version_json(&v[i]));
    sl_model_versions_free(v, n);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "versions", arr);
    v1_json(r, 200, out);
}

static void evaluate(sl_registry *reg, int64_t id, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = v1_parse(req, r);
    if (!j) return;
    const cJSON *m = cJSON_GetObjectItem(j, "metrics"), *p = cJSON_GetObjectItem(j, "profile");
    sl_evalgate_profile prof;
    sl_status s = cJSON_IsObject(m) ? SL_OK : sl_set_error(SL_ERR_ARG, "\"metrics\" must be an object");
    if (s == SL_OK) s = sl_evalgate_profile_builtin(cJSON_IsString(p) ? p->valuestring : "seed003", &prof);
    char *mt = s == SL_OK ? cJSON_PrintUnformatted(m) : NULL;
    sl_evalgate_result res;
    if (s == SL_OK) s = mt ? sl_mv_record_evaluation(reg, id, &prof, mt, "api", &res)
                           : sl_set_error(SL_ERR_NOMEM, "out of memory");
    free(mt);
    cJSON_Delete(j);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "version", (double)id);
    cJSON_AddBoolToObject(out, "passed", res.passed);
    cJSON_AddNumberToObject(out, "failed_gates", res.n_failed);
    v1_json(r, 200, out);
}

static void deploy(sl_registry *reg, sl_policy_server *ps, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = v1_parse(req, r);
    if (!j) return;
    const cJSON *v = cJSON_GetObjectItem(j, "version"), *e = cJSON_GetObjectItem(j, "endpoint"),
                *st = cJSON_GetObjectItem(j, "strategy"), *why = cJSON_GetObjectItem(j, "reason"),
                *me = cJSON_GetObjectItem(j, "min_episodes");
    sl_strategy strat = SL_STRATEGY_FULL;
    sl_status s = cJSON_IsNumber(v) ? SL_OK : sl_set_error(SL_ERR_ARG, "\"version\" must be a number");
    if (s == SL_OK && st) s = cJSON_IsString(st) ? sl_strategy_parse(st->valuestring, &strat)
                                                 : sl_set_error(SL_ERR_ARG, "\"strategy\" must be a string");
    sl_rollout_plan plan = sl_rollout_plan_default(strat);
    if (s == SL_OK && me) {
        if (cJSON_IsNumber(me) && me->valuedouble >= 1 && me->valuedouble <= 1e6) plan.min_episodes = me->valueint;
        else s = sl_set_error(SL_ERR_ARG, "\"min_episodes\" must be in 1..1000000");
    }
    sl_rollout ro;
    if (s == SL_OK)
        s = sl_rollout_start(reg, cJSON_IsString(e) ? e->valuestring : "default", (int64_t)v->valuedouble,
                             &plan, "api", cJSON_IsString(why) ? why->valuestring : NULL, &ro);
    cJSON_Delete(j);
    if (s == SL_OK && ps) s = sl_ps_reload(ps);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "rollout", (double)ro.id);
    cJSON_AddStringToObject(out, "endpoint", ro.endpoint);
    cJSON_AddStringToObject(out, "strategy", sl_strategy_name(ro.plan.strategy));
    cJSON_AddStringToObject(out, "state", sl_rollout_state_name(ro.state));
    cJSON_AddNumberToObject(out, "share", ro.share);
    v1_json(r, 200, out);
}

static void rollback(sl_registry *reg, sl_policy_server *ps, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = v1_parse(req, r);
    if (!j) return;
    const cJSON *e = cJSON_GetObjectItem(j, "endpoint"), *why = cJSON_GetObjectItem(j, "reason");
    int64_t restored = 0;
    sl_status s = cJSON_IsString(why) && *why->valuestring
                      ? sl_endpoint_rollback(reg, cJSON_IsString(e) ? e->valuestring : "default", "api",
                                             why->valuestring, &restored)
                      : sl_set_error(SL_ERR_ARG, "\"reason\" is required");
    cJSON_Delete(j);
    if (s == SL_OK && ps) s = sl_ps_reload(ps);
    if (s != SL_OK) {
        v1_status(r, s);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "serving", (double)restored);
    v1_json(r, 200, out);
}

int sl_http_route_v1(const sl_serve_config *c, sl_policy_server *ps, sl_registry *reg,
                     const char *method, const char *path, const char *query,
                     const sl_http_request *req, sl_http_response *r) {
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, post = strcmp(method, "POST") == 0;
    if (strncmp(path, "/v1/", 4) == 0) {
        if (!ps) {
            v1_error(r, 404, "policy serving is not enabled (synthloop serve --endpoint NAME)");
            return 1;
        }
        if (strcmp(path, "/v1/status") == 0) {
            if (!get) v1_error(r, 405, "use GET");
            else {
                char *s = NULL;
                sl_status st = sl_ps_status_json(ps, &s);
                if (st == SL_OK) v1_body(r, 200, s);
                else v1_status(r, st);
            }
            return 1;
        }
        int is_act = strcmp(path, "/v1/act") == 0, is_fb = strcmp(path, "/v1/feedback") == 0;
        if (!is_act && !is_fb) {
            v1_error(r, 404, "no such route");
            return 1;
        }
        if (!post) v1_error(r, 405, "use POST");
        else if (need_token(c, req, r)) (is_act ? act : feedback)(ps, req, r);
        return 1;
    }
    if (strcmp(path, "/api/models") == 0 || strcmp(path, "/api/deployments") == 0 ||
        strcmp(path, "/api/deploy/health") == 0) {
        if (!get) {
            v1_error(r, 405, "use GET");
            return 1;
        }
        if (!reg) {
            v1_error(r, 503, "registry unavailable");
            return 1;
        }
        if (path[5] == 'm') {
            models(reg, query, r);
        } else if (path[5] == 'd' && path[11] == 'm') {
            char ep[64];
            char *h = NULL;
            sl_status s = sl_deploy_history_json(reg, qget(query, "endpoint", ep, sizeof ep) ? ep : NULL, 200, &h);
            if (s == SL_OK) v1_body(r, 200, h);
            else v1_status(r, s);
        } else if (ps) {
            char *s = NULL;
            sl_status st = sl_ps_status_json(ps, &s);
            if (st == SL_OK) v1_body(r, 200, s);
            else v1_status(r, st);
        } else {
            v1_error(r, 404, "policy serving is not enabled (synthloop serve --endpoint NAME)");
        }
        return 1;
    }
    int64_t id = 0;
    int n = 0;
    int is_eval = sscanf(path, "/api/models/%lld/evaluate%n", (long long *)&id, &n) == 1 && path[n] == 0 && id > 0;
    if (is_eval || strcmp(path, "/api/deploy") == 0 || strcmp(path, "/api/rollback") == 0) {
        if (!post) v1_error(r, 405, "use POST");
        else if (!reg) v1_error(r, 503, "registry unavailable");
        else if (need_token(c, req, r)) {
            if (is_eval) evaluate(reg, id, req, r);
            else if (path[5] == 'd') deploy(reg, ps, req, r);
            else rollback(reg, ps, req, r);
        }
        return 1;
    }
    return 0;
}
