/* SPDX-License-Identifier: Apache-2.0 */
/* privacy_routes.c - the privacy module's HTTP API (issue 15, docs/PRIVACY.md "HTTP API"):
 *   POST /api/privacy/anonymize   {"schema","input","output","technique",...} one release of
 *                                 a table under the server's --data-root, charged to the
 *                                 ledger (as `synthloop anonymize`), recorded as a run + job
 *   GET  /api/privacy/budget?subject=S|dataset=D[&now=UNIX]   limit/spent/remaining per period
 *   POST /api/privacy/budget      {"subject"|"dataset", "period", "epsilon" | "clear": true}
 *   GET  /api/privacy/history?subject=S|dataset=D[&limit=N]  the newest charges
 *   GET  /api/privacy/releases[?dataset=D&technique=T&limit=N]  anonymization_logs, newest first
 *   GET  /api/privacy/overview    what the dashboard panel shows: budgets of the recently
 *                                 charged keys, recent releases, the latest k-anonymity report
 *   POST /api/privacy/retention   {"dry_run": bool, "now": UNIX, "actor": S}
 * Every POST needs the bearer token. Errors are JSON {"error", "status"}: 400 for a bad body or
 * bad input (a schema naming a missing column, epsilon <= 0, NaN in a measurement, a path
 * outside the data root), 404 for a missing input file, 409 for a release over budget (with
 * "scope", "key", "period", "spent", "limit", "remaining", "requested") or one whose output
 * is being written by another request, 422 for k larger than the table.
 * Invariants: this file only parses, resolves paths under the data root, calls src/privacy and
 * the ledger readers in src/store/privacy.c, and formats; no SQL here. Paths in requests are
 * relative to the data root, may not contain '..' or hidden segments, and must resolve
 * (symlinks followed) inside it; the data root's absolute path never reaches the client.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "serve_internal.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_privacy.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

#define PV_MAX_PATH 512
#define PV_JSON "application/json"

/* --- responses --------------------------------------------------------------------------------- */

static void pv_body(sl_http_response *r, int status, char *s) {
    free(r->body);
    r->status = s ? status : 500;
    r->body = s;
    r->body_len = s ? strlen(s) : 0;
    r->content_type = PV_JSON;
}

static void pv_json(sl_http_response *r, int status, cJSON *j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    pv_body(r, status, s);
}

/* Replace every occurrence of `needle` (length >= 2) in msg (size n) by `with`. */
static void pv_scrub(char *msg, size_t n, const char *needle, const char *with) {
    size_t nl = needle ? strlen(needle) : 0;
    if (nl < 2) return;
    char *p = msg;
    while ((p = strstr(p, needle)) != NULL) {
        char tail[1024];
        snprintf(tail, sizeof tail, "%s", p + nl);
        snprintf(p, n - (size_t)(p - msg), "%s%s", with, tail);
        p += strlen(with);
    }
}

static void pv_error(sl_http_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pv_error(sl_http_response *r, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddNumberToObject(j, "status", status);
    pv_json(r, status, j);
}

/* A library failure as HTTP. The registry's and the data root's absolute paths are removed
 * from the message (the client names files relative to the root). A budget refusal
 * (SL_ERR_RANGE "budget exceeded: ...") is 409 with the remaining budget as fields. */
static void pv_status(const sl_serve_config *c, sl_registry *reg, const char *root_real,
                      sl_http_response *r, sl_status s, int notfound_code) {
    char msg[1024];
    const char *m = sl_last_error();
    snprintf(msg, sizeof msg, "%s", m && *m ? m : sl_strerror(s));
    if (root_real) {
        char with_slash[PATH_MAX + 2];
        snprintf(with_slash, sizeof with_slash, "%s/", root_real);
        pv_scrub(msg, sizeof msg, with_slash, "");
        pv_scrub(msg, sizeof msg, root_real, ".");
    }
    if (reg) pv_scrub(msg, sizeof msg, sl_registry_path(reg), "registry");
    if (c->db_path) pv_scrub(msg, sizeof msg, c->db_path, "registry");
    if (s == SL_ERR_RANGE && strncmp(msg, "budget exceeded: ", 17) == 0) {
        char scope[16], key[256], period[16];
        double spent, limit, rem, req;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", msg);
        cJSON_AddNumberToObject(j, "status", 409);
        if (sscanf(msg, "budget exceeded: %15s '%255[^']', %15[^:]: spent %lf of %lf, remaining "
                        "%lf, requested %lf", scope, key, period, &spent, &limit, &rem, &req) == 7) {
            cJSON_AddStringToObject(j, "scope", scope);
            cJSON_AddStringToObject(j, "key", key);
            cJSON_AddStringToObject(j, "period", period);
            cJSON_AddNumberToObject(j, "spent", spent);
            cJSON_AddNumberToObject(j, "limit", limit);
            cJSON_AddNumberToObject(j, "remaining", rem);
            cJSON_AddNumberToObject(j, "requested", req);
        }
        pv_json(r, 409, j);
        return;
    }
    int code = s == SL_ERR_NOTFOUND                                                  ? notfound_code
               : s == SL_ERR_ARG || s == SL_ERR_FORMAT || s == SL_ERR_NAN ||
                       s == SL_ERR_SHAPE || s == SL_ERR_DTYPE                        ? 400
               : s == SL_ERR_RANGE                                                   ? 422
               : s == SL_ERR_STATE                                                   ? 409
               : s == SL_ERR_BUSY                                                    ? 503
                                                                                     : 500;
    pv_error(r, code, "%s", msg);
}

/* --- request parsing ------------------------------------------------------------------------------ */

static int pv_hex(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decoded value of query parameter `key`: 1 found, 0 absent, -1 malformed or too long. */
static int pv_q(const char *query, const char *key, char *out, size_t n) {
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= kl && strncmp(p, key, kl) == 0 && (len == kl || p[kl] == '=')) {
            const char *v = len == kl ? p + len : p + kl + 1;
            size_t vl = (size_t)(p + len - v), o = 0;
            for (size_t i = 0; i < vl; i++) {
                int ch = (unsigned char)v[i];
                if (ch == '%') {
                    if (i + 2 >= vl) return -1;
                    int h = pv_hex((unsigned char)v[i + 1]), l = pv_hex((unsigned char)v[i + 2]);
                    if (h < 0 || l < 0 || (h == 0 && l == 0)) return -1;
                    ch = h * 16 + l;
                    i += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (o + 1 >= n) return -1;
                out[o++] = (char)ch;
            }
            out[o] = 0;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* Integer query parameter in [lo, hi], default def: 0 ok, -1 invalid. */
static int pv_qint(const char *query, const char *key, long long lo, long long hi, long long def,
                   long long *out) {
    char b[32];
    int k = pv_q(query, key, b, sizeof b);
    if (k < 0) return -1;
    if (k == 0) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(b, &end, 10);
    if (!*b || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Exactly one JSON object of valid UTF-8 without NUL, nothing after it. */
static cJSON *pv_parse(const sl_http_request *req, sl_http_response *r, int allow_empty) {
    if (!req->body || req->body_len == 0) {
        if (allow_empty) return cJSON_CreateObject();
        pv_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    int nul_escape = 0;
    for (size_t i = 0; i + 5 < req->body_len && !nul_escape; i++)
        nul_escape = memcmp(req->body + i, "\\u0000", 6) == 0;
    if (!sl_utf8_valid(req->body, req->body_len) || memchr(req->body, 0, req->body_len) ||
        nul_escape) {
        pv_error(r, 400, "request body must be valid UTF-8 without NUL characters");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (j && end) {
        while ((size_t)(end - req->body) < req->body_len && *end && strchr(" \t\r\n", *end)) end++;
        if ((size_t)(end - req->body) < req->body_len) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        pv_error(r, 400, "request body must be exactly one JSON object");
        return NULL;
    }
    return j;
}

static int pv_token(const sl_serve_config *c, const sl_http_request *req, sl_http_response *r) {
    if (!c->token || !*c->token) {
        pv_error(r, 403, "mutations disabled: start the server with --token or SYNTHLOOP_TOKEN");
        return 0;
    }
    if (!sl_http_token_ok(c, req->authorization)) {
        pv_error(r, 401, "missing or invalid bearer token");
        return 0;
    }
    return 1;
}

/* Optional string member: 1 ok (*out NULL when absent), 0 wrong type (reply sent). */
static int pv_str(const cJSON *j, const char *k, const char **out, sl_http_response *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 1000) {
        pv_error(r, 400, "\"%s\" must be a non-empty string", k);
        return 0;
    }
    *out = v->valuestring;
    return 1;
}

/* Optional finite number member in [lo, hi]; integral if `integer`. 1 ok, 0 reply sent. */
static int pv_num(const cJSON *j, const char *k, double lo, double hi, int integer, double *out,
                  int *have, sl_http_response *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (have) *have = 0;
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi || (integer && v->valuedouble != floor(v->valuedouble))) {
        pv_error(r, 400, "\"%s\" must be %s in [%g, %g]", k, integer ? "an integer" : "a number",
                 lo, hi);
        return 0;
    }
    *out = v->valuedouble;
    if (have) *have = 1;
    return 1;
}

/* Exactly one of "subject" / "dataset" (body or query): scope and key. 1 ok, 0 reply sent. */
static int pv_scope(const char *subject, const char *dataset, const char **scope,
                    const char **key, sl_http_response *r) {
    if (!!subject + !!dataset != 1 || (subject && !*subject) || (dataset && !*dataset)) {
        pv_error(r, 400, "give exactly one of subject and dataset");
        return 0;
    }
    *scope = subject ? "subject" : "dataset";
    *key = subject ? subject : dataset;
    return 1;
}

/* --- paths under the data root -------------------------------------------------------------- */

/* Check a relative request path: [A-Za-z0-9._/-], no empty, '.', '..' or hidden segment. */
static int pv_rel_ok(const char *rel) {
    size_t n = strlen(rel);
    if (n == 0 || n > PV_MAX_PATH || rel[0] == '/') return 0;
    for (const char *p = rel; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '/'))
            return 0;
    }
    for (const char *s = rel; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL) {
        size_t len = strcspn(s, "/");
        if (len == 0 || s[0] == '.') return 0; /* empty, '.', '..', hidden */
    }
    return 1;
}

static int pv_under(const char *real, const char *root) {
    size_t rl = strlen(root);
    return strncmp(real, root, rl) == 0 && real[rl] == '/';
}

/* An existing regular file `rel` under root -> its real path. 1 ok, 0 reply sent. */
static int pv_in_file(const char *root, const char *field, const char *rel, char *out,
                      sl_http_response *r) {
    char full[PATH_MAX * 2];
    struct stat sb;
    if (!pv_rel_ok(rel)) {
        pv_error(r, 400, "\"%s\": '%s' must be a relative path under the data root (letters, "
                 "digits, . _ - /; no '..' or hidden segments)", field, rel);
        return 0;
    }
    snprintf(full, sizeof full, "%s/%s", root, rel);
    if (!realpath(full, out) || stat(out, &sb) != 0) {
        pv_error(r, 404, "\"%s\": '%s' does not exist under the data root", field, rel);
        return 0;
    }
    if (!pv_under(out, root) || !S_ISREG(sb.st_mode)) {
        pv_error(r, 400, "\"%s\": '%s' is not a regular file inside the data root", field, rel);
        return 0;
    }
    return 1;
}

/* The output `rel`: its directory must exist inside root; the file itself may exist (it is
 * replaced, as by the command) but not as a symlink or directory. 1 ok, 0 reply sent. */
static int pv_out_file(const char *root, const char *rel, char *out, sl_http_response *r) {
    if (!pv_rel_ok(rel)) {
        pv_error(r, 400, "\"output\": '%s' must be a relative path under the data root (letters, "
                 "digits, . _ - /; no '..' or hidden segments)", rel);
        return 0;
    }
    if (strstr(rel, ".tmp.")) {
        pv_error(r, 400, "\"output\": '%s': names containing '.tmp.' are reserved for temp files",
                 rel);
        return 0;
    }
    char full[PATH_MAX * 2], dir[PATH_MAX * 2], dreal[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", full);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (!realpath(dir, dreal) || (strcmp(dreal, root) != 0 && !pv_under(dreal, root))) {
        pv_error(r, 400, "\"output\": the directory of '%s' does not exist inside the data root",
                 rel);
        return 0;
    }
    struct stat sb;
    if (snprintf(out, PATH_MAX, "%s/%s", dreal, slash + 1) >= PATH_MAX) {
        pv_error(r, 400, "\"output\": path too long");
        return 0;
    }
    if (lstat(out, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        pv_error(r, 400, "\"output\": '%s' exists and is not a regular file", rel);
        return 0;
    }
    return 1;
}

/* Outputs being written by a request of this process: two concurrent releases to the same
 * file would share its temp name ("<out>.tmp.<pid>"), so the second is refused with 409. */
static pthread_mutex_t g_busy_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_busy[64];

/* 1 claimed, 0 the path is in use, -1 no free slot (64 releases running). */
static int busy_claim(const char *path) {
    int ok = -1, free_slot = -1;
    pthread_mutex_lock(&g_busy_lock);
    for (int i = 0; i < 64; i++) {
        if (g_busy[i] && strcmp(g_busy[i], path) == 0) {
            free_slot = -2;
            break;
        }
        if (!g_busy[i] && free_slot == -1) free_slot = i;
    }
    if (free_slot == -2) {
        ok = 0;
    } else if (free_slot >= 0) {
        g_busy[free_slot] = strdup(path);
        ok = g_busy[free_slot] != NULL ? 1 : -1;
    }
    pthread_mutex_unlock(&g_busy_lock);
    return ok;
}

static void busy_release(const char *path) {
    pthread_mutex_lock(&g_busy_lock);
    for (int i = 0; i < 64; i++)
        if (g_busy[i] && strcmp(g_busy[i], path) == 0) {
            free(g_busy[i]);
            g_busy[i] = NULL;
            break;
        }
    pthread_mutex_unlock(&g_busy_lock);
}

/* --- POST /api/privacy/anonymize -------------------------------------------------------------- */

static void pv_release_json(cJSON *j, const sl_release_result *res, sl_technique t) {
    cJSON_AddStringToObject(j, "sha256", res->out_sha256);
    cJSON_AddNumberToObject(j, "log_id", (double)res->log_id);
    cJSON_AddNumberToObject(j, "rows", (double)res->n_rows_out);
    cJSON_AddNumberToObject(j, "subjects", (double)res->n_subjects);
    cJSON_AddNumberToObject(j, "epsilon_charged", res->epsilon_charged);
    cJSON_AddNumberToObject(j, "max_subject_epsilon", res->max_subject_epsilon);
    cJSON_AddBoolToObject(j, "formal_epsilon", res->formal);
    if (t == SL_TECH_KANON || t == SL_TECH_GENERALIZE) {
        const sl_kanon_report *k = &res->kanon;
        cJSON *o = cJSON_AddObjectToObject(j, "kanon");
        cJSON_AddNumberToObject(o, "classes", (double)k->n_classes);
        cJSON_AddNumberToObject(o, "min_class", (double)k->min_class);
        cJSON_AddNumberToObject(o, "min_distinct_sensitive", k->min_distinct_sensitive);
        cJSON_AddNumberToObject(o, "risk_max", k->risk_max);
        cJSON_AddNumberToObject(o, "risk_mean", k->risk_mean);
        cJSON_AddNumberToObject(o, "ncp", k->ncp);
        cJSON_AddNumberToObject(o, "discernibility", k->discernibility);
        cJSON_AddNumberToObject(o, "suppressed", (double)k->suppressed);
        cJSON_AddNumberToObject(o, "suppressed_share", k->suppressed_share);
    }
}

static void anonymize(const sl_serve_config *c, sl_registry *reg, const sl_http_request *req,
                      sl_http_response *r) {
    char root[PATH_MAX];
    if (!c->data_root || !*c->data_root) {
        pv_error(r, 403, "anonymize over HTTP is disabled: start the server with --data-root DIR");
        return;
    }
    if (!realpath(c->data_root, root)) {
        pv_error(r, 500, "the server's data root is not accessible");
        return;
    }
    cJSON *j = pv_parse(req, r, 0);
    if (!j) return;
    const char *schema = NULL, *input = NULL, *output = NULL, *tech = NULL, *query = NULL,
               *column = NULL, *actor = NULL, *key_file = NULL;
    sl_release_opts o;
    sl_release_opts_default(&o);
    double eps = 0, delta = 0, k = 5, l = 1, sup = 0, mr = 1, pool = 90, seed = 0;
    int have_eps = 0, have_seed = 0, ok = 1;
    ok = ok && pv_str(j, "schema", &schema, r) && pv_str(j, "input", &input, r) &&
         pv_str(j, "output", &output, r) && pv_str(j, "technique", &tech, r) &&
         pv_str(j, "query", &query, r) && pv_str(j, "column", &column, r) &&
         pv_str(j, "actor", &actor, r) && pv_str(j, "key_file", &key_file, r);
    /* epsilon: any finite number; <= 0 is the library's error (named, nothing written) */
    ok = ok && pv_num(j, "epsilon", -1e9, 1e9, 0, &eps, &have_eps, r) &&
         pv_num(j, "delta", 0, 1, 0, &delta, NULL, r) &&
         pv_num(j, "k", 1, 1e9, 1, &k, NULL, r) && pv_num(j, "l", 1, 1e6, 1, &l, NULL, r) &&
         pv_num(j, "max_suppress", 0, 1, 0, &sup, NULL, r) &&
         pv_num(j, "max_rows_per_subject", 1, 1e6, 1, &mr, NULL, r) &&
         pv_num(j, "pool_days", 1, 36500, 1, &pool, NULL, r) &&
         pv_num(j, "seed", 0, 9007199254740992.0, 1, &seed, &have_seed, r);
    if (ok && (!schema || !input || !output || !tech)) {
        pv_error(r, 400, "\"schema\", \"input\", \"output\" and \"technique\" are required");
        ok = 0;
    }
    if (ok && sl_technique_parse(tech, &o.technique) != SL_OK) {
        pv_error(r, 400, "%s", sl_last_error());
        ok = 0;
    }
    if (ok && query && sl_agg_query_parse(query, &o.query) != SL_OK) {
        pv_error(r, 400, "%s", sl_last_error());
        ok = 0;
    }
    if (ok && (o.technique == SL_TECH_DP || o.technique == SL_TECH_AGGREGATE) && !have_eps) {
        pv_error(r, 400, "technique %s needs \"epsilon\"", tech);
        ok = 0;
    }
    const cJSON *prof = cJSON_GetObjectItemCaseSensitive(j, "profile");
    if (ok && prof && !cJSON_IsNull(prof)) {
        if (!cJSON_IsObject(prof)) {
            pv_error(r, 400, "\"profile\" must be an object {\"kanon\",\"pseudo\",\"generalize\"}");
            ok = 0;
        } else {
            ok = pv_num(prof, "kanon", 0, 1e6, 0, &o.profile.kanon, NULL, r) &&
                 pv_num(prof, "pseudo", 0, 1e6, 0, &o.profile.pseudo, NULL, r) &&
                 pv_num(prof, "generalize", 0, 1e6, 0, &o.profile.generalize, NULL, r);
        }
    }
    char schema_p[PATH_MAX], input_p[PATH_MAX], output_p[PATH_MAX], key_p[PATH_MAX];
    ok = ok && pv_in_file(root, "schema", schema, schema_p, r) &&
         pv_in_file(root, "input", input, input_p, r) && pv_out_file(root, output, output_p, r) &&
         (!key_file || pv_in_file(root, "key_file", key_file, key_p, r));
    if (ok && (strcmp(output_p, input_p) == 0 || strcmp(output_p, schema_p) == 0 ||
               (key_file && strcmp(output_p, key_p) == 0))) {
        pv_error(r, 400, "\"output\" must not be the input, the schema or the key file");
        ok = 0;
    }
    if (!ok) {
        cJSON_Delete(j);
        return;
    }
    int claim = busy_claim(output_p);
    if (claim <= 0) {
        if (claim == 0)
            pv_error(r, 409, "\"output\": '%s' is being written by another request", output);
        else
            pv_error(r, 503, "too many releases running in this server; retry later");
        cJSON_Delete(j);
        return;
    }
    o.epsilon = eps;
    o.delta = delta;
    o.k = (size_t)k;
    o.l = (int)l;
    o.max_suppress = sup;
    o.column = column;
    o.max_rows_per_subject = (uint32_t)mr;
    o.pool_days = (int)pool;
    o.actor = actor ? actor : "api";
    o.seeded = have_seed;
    o.seed = (uint64_t)seed;

    /* the run and its job (issue 7's job layer): what the dashboard's job list shows */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "profile");
    cJSON_AddStringToObject(j, "via", "http");
    char *conf = cJSON_PrintUnformatted(j);
    int64_t run = 0, job = 0;
    sl_status st = sl_run_begin(reg, "anonymize", conf, o.seed, &run);
    free(conf);
    if (st == SL_OK) st = sl_job_begin(reg, run, "anonymize", 1, &job);
    o.run_id = run;
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    sl_pseudo_key key;
    memset(&key, 0, sizeof key);
    if (st == SL_OK) st = sl_priv_schema_load(schema_p, &s);
    if (st == SL_OK) st = sl_priv_table_read_csv(input_p, s, &t);
    if (st == SL_OK && (key_file || o.technique == SL_TECH_PSEUDO || getenv(SL_PSEUDO_ENV))) {
        st = sl_pseudo_key_load(key_file ? key_p : NULL, &key);
        if (st == SL_OK) o.key = &key;
    }
    sl_release_result res;
    memset(&res, 0, sizeof res);
    if (st == SL_OK) st = sl_privacy_release(reg, t, s, input_p, output_p, &o, &res);
    sl_pseudo_key_wipe(&key);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    busy_release(output_p);
    cJSON *out = NULL;
    if (st == SL_OK) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "technique", sl_technique_name(o.technique));
        cJSON_AddStringToObject(out, "output", output);
        cJSON_AddNumberToObject(out, "run_id", (double)run);
        cJSON_AddNumberToObject(out, "job_id", (double)job);
        pv_release_json(out, &res, o.technique);
        char *summary = cJSON_PrintUnformatted(out);
        sl_registry_add_artifact(reg, run, "privacy.release", output_p);
        sl_job_end(reg, job, SL_RUN_OK);
        sl_run_end(reg, run, SL_RUN_OK, summary);
        free(summary);
        sl_clear_error();
        pv_json(r, 200, out);
    } else {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sl_last_error());
        if (job) sl_job_end(reg, job, SL_RUN_FAILED);
        if (run) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", msg);
            char *et = cJSON_PrintUnformatted(e);
            cJSON_Delete(e);
            sl_run_end(reg, run, SL_RUN_FAILED, et);
            free(et);
        }
        sl_set_error(st, "%s", msg);
        /* the request's files exist (checked above): a name not found is one inside them, such
         * as a schema column missing from the table: bad input */
        pv_status(c, reg, root, r, st, 400);
    }
    cJSON_Delete(j);
}

/* --- budgets, history, releases, overview, retention ------------------------------------------- */

static void budget_get(const sl_serve_config *c, sl_registry *reg, const char *query,
                       sl_http_response *r) {
    char subj[256], ds[256];
    int ks = pv_q(query, "subject", subj, sizeof subj), kd = pv_q(query, "dataset", ds, sizeof ds);
    long long now;
    const char *scope, *key;
    if (ks < 0 || kd < 0) {
        pv_error(r, 400, "malformed subject or dataset parameter");
        return;
    }
    if (!pv_scope(ks ? subj : NULL, kd ? ds : NULL, &scope, &key, r)) return;
    if (pv_qint(query, "now", 0, 4102444800LL, 0, &now) < 0) {
        pv_error(r, 400, "now must be unix seconds");
        return;
    }
    sl_budget_defaults def;
    char *txt = NULL;
    sl_status s = sl_budget_defaults_from_env(&def);
    if (s == SL_OK)
        s = sl_budget_show_json(reg, scope, key, now > 0 ? now : (long long)time(NULL), &def, &txt);
    if (s != SL_OK) pv_status(c, reg, NULL, r, s, 404);
    else pv_body(r, 200, txt);
}

static void budget_set(const sl_serve_config *c, sl_registry *reg, const sl_http_request *req,
                       sl_http_response *r) {
    cJSON *j = pv_parse(req, r, 0);
    if (!j) return;
    const char *subj = NULL, *ds = NULL, *per = NULL, *scope, *key;
    double eps = 0;
    int have_eps = 0;
    const cJSON *clear = cJSON_GetObjectItemCaseSensitive(j, "clear");
    sl_budget_period p;
    int ok = pv_str(j, "subject", &subj, r) && pv_str(j, "dataset", &ds, r) &&
             pv_str(j, "period", &per, r) && pv_scope(subj, ds, &scope, &key, r);
    if (ok && (clear && !cJSON_IsBool(clear))) {
        pv_error(r, 400, "\"clear\" must be true or false");
        ok = 0;
    }
    ok = ok && pv_num(j, "epsilon", 0, 1e6, 0, &eps, &have_eps, r);
    if (ok && have_eps == cJSON_IsTrue(clear)) {
        pv_error(r, 400, "give \"epsilon\" (>= 0) or \"clear\": true");
        ok = 0;
    }
    if (ok && (!per || sl_budget_period_parse(per, &p) != SL_OK)) {
        pv_error(r, 400, "\"period\" must be daily, weekly, monthly or lifetime");
        ok = 0;
    }
    sl_status s = ok ? sl_budget_set(reg, scope, key, p, have_eps ? eps : -1.0) : SL_OK;
    if (ok && s != SL_OK) pv_status(c, reg, NULL, r, s, 404);
    if (ok && s == SL_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "scope", scope);
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddStringToObject(o, "period", sl_budget_period_name(p));
        if (have_eps) cJSON_AddNumberToObject(o, "epsilon", eps);
        else cJSON_AddNullToObject(o, "epsilon");
        pv_json(r, 200, o);
    }
    cJSON_Delete(j);
}

static void history(const sl_serve_config *c, sl_registry *reg, const char *query,
                    sl_http_response *r) {
    char subj[256], ds[256];
    int ks = pv_q(query, "subject", subj, sizeof subj), kd = pv_q(query, "dataset", ds, sizeof ds);
    long long lim;
    const char *scope, *key;
    if (ks < 0 || kd < 0) {
        pv_error(r, 400, "malformed subject or dataset parameter");
        return;
    }
    if (!pv_scope(ks ? subj : NULL, kd ? ds : NULL, &scope, &key, r)) return;
    if (pv_qint(query, "limit", 1, 1000, 50, &lim) < 0) {
        pv_error(r, 400, "limit must be an integer in [1, 1000]");
        return;
    }
    char *txt = NULL;
    sl_status s = sl_budget_history_json(reg, scope, key, (int)lim, &txt);
    if (s != SL_OK) pv_status(c, reg, NULL, r, s, 404);
    else pv_body(r, 200, txt);
}

static void releases(const sl_serve_config *c, sl_registry *reg, const char *query,
                     sl_http_response *r) {
    char ds[256], te[32];
    int kd = pv_q(query, "dataset", ds, sizeof ds), kt = pv_q(query, "technique", te, sizeof te);
    long long lim;
    if (kd < 0 || kt < 0 || pv_qint(query, "limit", 1, 1000, 50, &lim) < 0) {
        pv_error(r, 400, "releases takes dataset=D, technique=T and limit in [1, 1000]");
        return;
    }
    char *txt = NULL;
    sl_status s = sl_privacy_releases_json(reg, kd ? ds : NULL, kt ? te : NULL, (int)lim, &txt);
    if (s != SL_OK) pv_status(c, reg, NULL, r, s, 404);
    else pv_body(r, 200, txt);
}

/* Budgets of up to 8 recently charged keys (datasets first), the 20 newest releases and the
 * newest k-anonymity report: one request for the dashboard panel. */
static void overview(const sl_serve_config *c, sl_registry *reg, sl_http_response *r) {
    sl_budget_defaults def;
    char *keys_t = NULL, *rel_t = NULL, *kan_t = NULL, *gen_t = NULL;
    sl_status s = sl_budget_defaults_from_env(&def);
    if (s == SL_OK) s = sl_privacy_keys_json(reg, 64, &keys_t);
    if (s == SL_OK) s = sl_privacy_releases_json(reg, NULL, NULL, 20, &rel_t);
    if (s == SL_OK) s = sl_privacy_releases_json(reg, NULL, "kanon", 1, &kan_t);
    if (s == SL_OK) s = sl_privacy_releases_json(reg, NULL, "generalize", 1, &gen_t);
    cJSON *keys = keys_t ? cJSON_Parse(keys_t) : NULL, *rel = rel_t ? cJSON_Parse(rel_t) : NULL;
    cJSON *kan = kan_t ? cJSON_Parse(kan_t) : NULL, *gen = gen_t ? cJSON_Parse(gen_t) : NULL;
    free(keys_t);
    free(rel_t);
    free(kan_t);
    free(gen_t);
    cJSON *out = cJSON_CreateObject(), *budgets = cJSON_AddArrayToObject(out, "budgets");
    int64_t now = (int64_t)time(NULL);
    cJSON_AddNumberToObject(out, "now", (double)now);
    cJSON_AddNumberToObject(out, "default_max_epsilon", def.max_epsilon);
    cJSON_AddStringToObject(out, "default_period", sl_budget_period_name(def.period));
    for (int pass = 0; s == SL_OK && pass < 2; pass++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, keys) {
            if (cJSON_GetArraySize(budgets) >= 8) break;
            const char *scope = sl_json_str(e, "scope", ""), *key = sl_json_str(e, "key", "");
            if ((strcmp(scope, "dataset") == 0) != (pass == 0)) continue;
            char *b = NULL;
            s = sl_budget_show_json(reg, scope, key, now, &def, &b);
            if (s != SL_OK) break;
            cJSON *bj = cJSON_Parse(b);
            free(b);
            if (bj) cJSON_AddItemToArray(budgets, bj);
        }
    }
    if (s != SL_OK) {
        cJSON_Delete(out);
        cJSON_Delete(keys);
        cJSON_Delete(rel);
        cJSON_Delete(kan);
        cJSON_Delete(gen);
        pv_status(c, reg, NULL, r, s, 404);
        return;
    }
    cJSON_Delete(keys);
    cJSON_AddItemToObject(out, "releases", rel ? rel : cJSON_CreateArray());
    /* the newer of the latest kanon and the latest generalize release */
    cJSON *a = cJSON_GetArrayItem(kan, 0), *b = cJSON_GetArrayItem(gen, 0), *pick = a;
    if (!a || (b && sl_json_num(b, "id", 0) > sl_json_num(a, "id", 0))) pick = b;
    if (pick) cJSON_AddItemToObject(out, "latest_kanon", cJSON_Duplicate(pick, 1));
    else cJSON_AddNullToObject(out, "latest_kanon");
    cJSON_Delete(kan);
    cJSON_Delete(gen);
    pv_json(r, 200, out);
}

static void retention(const sl_serve_config *c, sl_registry *reg, const sl_http_request *req,
                      sl_http_response *r) {
    cJSON *j = pv_parse(req, r, 1);
    if (!j) return;
    const cJSON *dry = cJSON_GetObjectItemCaseSensitive(j, "dry_run");
    const char *actor = NULL;
    double now = 0;
    int ok = pv_str(j, "actor", &actor, r) && pv_num(j, "now", 1, 4102444800.0, 1, &now, NULL, r);
    if (ok && dry && !cJSON_IsBool(dry)) {
        pv_error(r, 400, "\"dry_run\" must be true or false");
        ok = 0;
    }
    if (ok) {
        int done = 0, is_dry = cJSON_IsTrue(dry);
        size_t n = 0;
        sl_status s = is_dry ? SL_OK : sl_privacy_recover(reg, &done);
        if (s == SL_OK) s = sl_privacy_retention(reg, (int64_t)now, is_dry, actor ? actor : "api", &n);
        if (s != SL_OK) {
            pv_status(c, reg, NULL, r, s, 404);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddBoolToObject(o, "dry_run", is_dry);
            cJSON_AddNumberToObject(o, is_dry ? "would_delete" : "deleted", (double)n);
            cJSON_AddNumberToObject(o, "completed_pending", done);
            pv_json(r, 200, o);
        }
    }
    cJSON_Delete(j);
}

/* --- the hook ----------------------------------------------------------------------------------- */

int sl_http_route_privacy(const sl_serve_config *c, sl_registry *reg, const char *method,
                          const char *path, const char *query, const sl_http_request *req,
                          sl_http_response *r) {
    static const char prefix[] = "/api/privacy/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0 && strcmp(path, "/api/privacy") != 0)
        return 0;
    const char *sub = path[sizeof prefix - 2] == '/' ? path + sizeof prefix - 1 : "";
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    static const struct {
        const char *name;
        int get, post;
    } routes[] = {{"anonymize", 0, 1}, {"budget", 1, 1},    {"history", 1, 0},
                  {"releases", 1, 0},  {"overview", 1, 0},  {"retention", 0, 1}};
    int found = -1;
    for (int i = 0; i < (int)(sizeof routes / sizeof routes[0]); i++)
        if (strcmp(sub, routes[i].name) == 0) found = i;
    if (found < 0) {
        pv_error(r, 404, "no such privacy route (anonymize, budget, history, releases, overview, "
                 "retention)");
        return 1;
    }
    if (!((get && routes[found].get) || (post && routes[found].post))) {
        pv_error(r, 405, "use %s for /api/privacy/%s",
                 routes[found].get && routes[found].post ? "GET or POST"
                 : routes[found].get                    ? "GET"
                                                        : "POST",
                 sub);
        return 1;
    }
    if (post && !pv_token(c, req, r)) return 1;
    if (!reg) {
        pv_error(r, 503, "registry not available");
        return 1;
    }
    if (strcmp(sub, "anonymize") == 0) anonymize(c, reg, req, r);
    else if (strcmp(sub, "budget") == 0 && post) budget_set(c, reg, req, r);
    else if (strcmp(sub, "budget") == 0) budget_get(c, reg, query, r);
    else if (strcmp(sub, "history") == 0) history(c, reg, query, r);
    else if (strcmp(sub, "releases") == 0) releases(c, reg, query, r);
    else if (strcmp(sub, "overview") == 0) overview(c, reg, r);
    else retention(c, reg, req, r);
    return 1;
}
