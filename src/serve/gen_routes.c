/* SPDX-License-Identifier: Apache-2.0 */
/* gen_routes.c - seed 003's generateSynthetic over HTTP (issue 16, docs/GEN.md):
 *   POST /api/synthetic/generate {"method", "data", "schema", "holdout", "rules", "model",
 *        "out", "save_model", "rows", "quality_threshold", "dp_epsilon", "dp_delta",
 *        "dp_clip", "dp_reproducible", "epochs", "batch", "hidden", "latent", "lr",
 *        "kl_warmup", "seed"}  -> the job's summary (scores, dp_statement, released,
 *        privacy_charge) and its run id
 *   GET  /api/synthetic/jobs[?run=N]   the synthetic_jobs rows (with their ledger charges)
 * The POST needs the bearer token. File names are relative to the server's working directory
 * (absolute paths and ".." are refused: a client may not read or write elsewhere). Status
 * codes: 400 bad body or input, 401/403 token, 404 missing file, 409 refused (quality below
 * the threshold, or a budget that cannot pay: the message has the remaining budget), 503
 * without a registry. The job runs in the request's thread (a VAE fit blocks that
 * connection). Invariant: this file only parses, calls sl_gen_job_* and formats. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serve_internal.h"
#include "synthloop/sl_gen.h"
#include "synthloop/sl_serve.h"

static const char JSON_T[] = "application/json";

static void g_body(sl_http_response *r, int status, char *s) {
    free(r->body);
    r->status = s ? status : 500;
    r->body = s;
    r->body_len = s ? strlen(s) : 0;
    r->content_type = JSON_T;
}

static void g_error(sl_http_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void g_error(sl_http_response *r, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddNumberToObject(j, "status", status);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    g_body(r, status, s);
}

static int g_code(sl_status s) {
    return s == SL_ERR_RANGE                                        ? 409
           : s == SL_ERR_NOTFOUND || s == SL_ERR_IO                 ? 404
           : s == SL_ERR_ARG || s == SL_ERR_FORMAT || s == SL_ERR_SHAPE || s == SL_ERR_NAN ||
                     s == SL_ERR_DTYPE                              ? 400
                                                                    : 500;
}

/* a relative path without ".." components, or NULL (error set in r) */
static const char *safe_path(const cJSON *j, const char *key, sl_http_response *r, int *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return NULL;
    const char *p = cJSON_IsString(v) ? v->valuestring : NULL;
    int ok = p && *p && p[0] != '/' && strlen(p) < 1024;
    for (const char *q = p; ok && q && *q;) {
        size_t n = strcspn(q, "/");
        if (n == 2 && q[0] == '.' && q[1] == '.') ok = 0;
        q += n;
        while (*q == '/') q++;
    }
    if (!ok) {
        if (!*bad) g_error(r, 400, "\"%s\" must be a relative file name without \"..\"", key);
        *bad = 1;
        return NULL;
    }
    return p;
}

static int num_opt(const cJSON *j, const char *key, double lo, double hi, double *out,
                   sl_http_response *r, int *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        if (!*bad) g_error(r, 400, "\"%s\" must be a number in [%g, %g]", key, lo, hi);
        *bad = 1;
        return 0;
    }
    *out = v->valuedouble;
    return 1;
}

static void generate(sl_registry *reg, const sl_http_request *req, sl_http_response *r) {
    cJSON *j = req->body && req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        g_error(r, 400, "request body must be a JSON object");
        return;
    }
    int bad = 0;
    sl_gen_job job;
    memset(&job, 0, sizeof job);
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(j, "method");
    job.method = cJSON_IsString(mv) ? mv->valuestring : NULL;
    sl_gen_method m = SL_GEN_COPULA;
    if (mv && (!job.method || sl_gen_method_parse(job.method, &m) != SL_OK)) {
        g_error(r, 400, "\"method\" must be copula, vae or rules");
        bad = 1;
    }
    job.cfg = sl_gen_config_defaults(m);
    job.data = safe_path(j, "data", r, &bad);
    job.schema = safe_path(j, "schema", r, &bad);
    job.holdout = safe_path(j, "holdout", r, &bad);
    job.cfg.rules_path = safe_path(j, "rules", r, &bad);
    job.model_path = safe_path(j, "model", r, &bad);
    job.out = safe_path(j, "out", r, &bad);
    job.save_model = safe_path(j, "save_model", r, &bad);
    job.threshold = 0.7;
    double x;
    num_opt(j, "quality_threshold", 0, 1, &job.threshold, r, &bad);
    if (num_opt(j, "rows", 1, 1e8, &x, r, &bad)) job.rows = (size_t)x;
    num_opt(j, "dp_epsilon", 1e-6, 1e6, &job.cfg.dp_epsilon, r, &bad);
    num_opt(j, "dp_delta", 1e-300, 0.999999, &job.cfg.dp_delta, r, &bad);
    if (num_opt(j, "dp_clip", 1e-6, 1e6, &x, r, &bad)) job.cfg.dp_clip = (float)x;
    if (num_opt(j, "epochs", 1, 100000, &x, r, &bad)) job.cfg.epochs = (int)x;
    if (num_opt(j, "batch", 1, 1000000, &x, r, &bad)) job.cfg.batch = (int)x;
    if (num_opt(j, "hidden", 1, 8192, &x, r, &bad)) job.cfg.hidden = (int)x;
    if (num_opt(j, "latent", 1, 1024, &x, r, &bad)) job.cfg.latent = (int)x;
    if (num_opt(j, "lr", 1e-8, 10, &x, r, &bad)) job.cfg.lr = (float)x;
    if (num_opt(j, "kl_warmup", 0, 100000, &x, r, &bad)) job.cfg.kl_warmup = (int)x;
    if (num_opt(j, "seed", 0, 9007199254740992.0, &x, r, &bad)) job.cfg.seed = (uint64_t)x;
    job.cfg.dp_reproducible = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "dp_reproducible"));
    job.cfg.verbose = 0;
    char *params = cJSON_PrintUnformatted(j);
    job.params_json = params;
    if (bad) {
        free(params);
        cJSON_Delete(j);
        return;
    }
    sl_gen_job_state st;
    sl_status s = sl_gen_job_prepare(&job, &st);
    if (s != SL_OK) {
        g_error(r, g_code(s), "%s", sl_last_error());
        free(params);
        cJSON_Delete(j);
        return;
    }
    int64_t run = 0;
    sl_gen_job_result res;
    memset(&res, 0, sizeof res);
    s = sl_run_begin(reg, "generate", params, job.cfg.seed, &run);
    if (s == SL_OK) s = sl_gen_job_run(reg, run, &job, &st, &res);
    char err[1024];
    snprintf(err, sizeof err, "%s", s == SL_OK ? "" : sl_last_error());
    if (run) {
        cJSON *sum = res.summary ? cJSON_Duplicate(res.summary, 1) : cJSON_CreateObject();
        if (s != SL_OK) cJSON_AddStringToObject(sum, "error", err);
        char *stxt = cJSON_PrintUnformatted(sum);
        cJSON_Delete(sum);
        sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, stxt);
        free(stxt);
    }
    if (s != SL_OK) {
        g_error(r, g_code(s), "%s", err);
    } else {
        cJSON *out = res.summary;
        res.summary = NULL;
        cJSON_AddNumberToObject(out, "run_id", (double)run);
        cJSON_AddStringToObject(out, "out", job.out);
        char *txt = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        g_body(r, 200, txt);
    }
    sl_gen_job_result_free(&res);
    sl_gen_job_state_free(&st);
    free(params);
    cJSON_Delete(j);
}

int sl_http_route_gen(const sl_serve_config *c, sl_registry *reg, const char *method,
                      const char *path, const char *query, const sl_http_request *req,
                      sl_http_response *r) {
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (strcmp(path, "/api/synthetic/jobs") == 0) {
        if (!get) {
            g_error(r, 405, "use GET");
            return 1;
        }
        if (!reg) {
            g_error(r, 503, "registry not available");
            return 1;
        }
        long long run = 0;
        const char *q = query ? strstr(query, "run=") : NULL;
        if (q && (q == query || q[-1] == '&')) {
            char *end = NULL;
            run = strtoll(q + 4, &end, 10);
            if (run <= 0 || (end && *end && *end != '&')) {
                g_error(r, 400, "run must be a positive integer");
                return 1;
            }
        }
        char *txt = NULL;
        sl_status s = sl_registry_synthetic_jobs_json(reg, run, &txt);
        if (s == SL_OK) g_body(r, 200, txt);
        else g_error(r, g_code(s), "%s", sl_last_error());
        return 1;
    }
    if (strcmp(path, "/api/synthetic/generate") == 0) {
        if (!post) {
            g_error(r, 405, "use POST");
            return 1;
        }
        if (!c->token || !*c->token) {
            g_error(r, 403, "POST routes are disabled: start the server with a token");
            return 1;
        }
        if (!sl_http_token_ok(c, req->authorization)) {
            g_error(r, 401, "missing or wrong bearer token");
            return 1;
        }
        if (!reg) {
            g_error(r, 503, "registry not available");
            return 1;
        }
        generate(reg, req, r);
        return 1;
    }
    return 0;
}
