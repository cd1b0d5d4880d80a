/* SPDX-License-Identifier: Apache-2.0 */
/* router.c - the pure HTTP request router of `synthloop serve`: method + target + headers +
 * body in, status + body out. No sockets, no blocking, no global state, so the server and the
 * libFuzzer target (fuzz/fuzz_http.c) drive exactly the same code.
 *
 * Invariants: every response has a status and a body; every API error is JSON
 * {"error": "..."}; static files are served only from inside the web root (no '..' segment,
 * restricted characters, and the resolved real path must stay under the root's real path);
 * mutating routes check the bearer token (constant time) before touching the body.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "serve_internal.h"
#include "synthloop/sl_forecast.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_serve.h"

#define MAX_TARGET 4096
#define MAX_STATIC_BYTES (8u << 20)
#define MAX_NOTE 4096

void sl_serve_config_default(sl_serve_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8765;
    c->max_body = 65536;
    c->max_connections = 256;
    c->max_streams = 32;
    c->sse_poll_s = 0.25;
    c->header_timeout_s = 10.0;
    c->busy_ms = 10000;
}

void sl_http_response_free(sl_http_response *r) {
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* --- responses ------------------------------------------------------------------ */

static const char JSON_TYPE[] = "application/json";

static void set_body(sl_http_response *r, int status, char *body, size_t len, const char *type) {
    free(r->body);
    r->status = status;
    r->body = body;
    r->body_len = len;
    r->content_type = type;
}

static void reply_error(sl_http_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(sl_http_response *r, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_buf b = {0};
    sl_buf_puts(&b, "{\"error\":");
    sl_buf_json_str(&b, msg);
    sl_buf_printf(&b, ",\"status\":%d}", status);
    size_t n = 0;
    char *s = sl_buf_take(&b, &n);
    if (!s) { /* out of memory: a static body cannot be freed, so send an empty one */
        set_body(r, 500, NULL, 0, JSON_TYPE);
        return;
    }
    set_body(r, status, s, n, JSON_TYPE);
}

/* Takes ownership of j. */
static void reply_json(sl_http_response *r, int status, cJSON *j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) {
        reply_error(r, 500, "out of memory");
        return;
    }
    set_body(r, status, s, strlen(s), JSON_TYPE);
}

/* Replace every occurrence of `needle` in msg (size n) by "registry" (in place). */
static void scrub(char *msg, size_t n, const char *needle) {
    size_t nl = needle ? strlen(needle) : 0;
    if (nl < 2) return;
    char *p;
    while ((p = strstr(msg, needle)) != NULL) {
        char tail[512];
        snprintf(tail, sizeof tail, "%s", p + nl);
        snprintf(p, n - (size_t)(p - msg), "registry%s", tail);
    }
}

/* Map a library failure to an HTTP error. The registry's file name never reaches the client
 * (it tells an attacker where the server's files are): it is replaced by "registry". */
static void reply_status(const sl_serve_config *c, sl_registry *reg, sl_http_response *r,
                         sl_status s) {
    const char *m = sl_last_error();
    char msg[512], real[PATH_MAX];
    snprintf(msg, sizeof msg, "%s", m && *m ? m : sl_strerror(s));
    scrub(msg, sizeof msg, sl_registry_file(reg));
    if (c->db_path && realpath(c->db_path, real)) scrub(msg, sizeof msg, real);
    scrub(msg, sizeof msg, c->db_path);
    int code = s == SL_ERR_NOTFOUND ? 404 : s == SL_ERR_ARG ? 400 : s == SL_ERR_STATE ? 409
             : s == SL_ERR_BUSY ? 503 : 500;
    reply_error(r, code, "%s", msg);
}

/* --- parsing helpers ------------------------------------------------------------------- */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode src[0..n) into dst (size >= n+1). plus_space: '+' -> ' ' (query strings).
 * Returns 0 on a malformed escape or a decoded NUL. */
static int pct_decode(const char *src, size_t n, char *dst, int plus_space) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n) return 0;
            int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0) return 0;
            c = (char)(h * 16 + l);
            if (c == '\0') return 0;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == '\0') {
            return 0;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 1;
}

/* Value of query parameter `key` (decoded) into out. 1 found, 0 absent, -1 malformed. */
static int qparam(const char *query, const char *key, char *out, size_t n) {
    if (!query) return 0;
    size_t kl = strlen(key);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == kl && strncmp(p, key, kl) == 0) {
            const char *v = eq ? eq + 1 : p + len;
            size_t vl = (size_t)(p + len - v);
            if (vl + 1 > n) return -1;
            return pct_decode(v, vl, out, 1) ? 1 : -1;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return 0;
}

/* Strict positive decimal id (1..10^17). */
static int parse_id(const char *s, int64_t *out) {
    if (!s || !*s || strlen(s) > 17) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0) return 0;
    *out = v;
    return 1;
}

/* Integer query parameter in [lo, hi] with default. 0 ok, -1 invalid. */
static int qint(const char *query, const char *key, long long lo, long long hi, long long def,
                long long *out) {
    char buf[32];
    int k = qparam(query, key, buf, sizeof buf);
    if (k < 0) return -1;
    if (k == 0) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (!*buf || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* 1 if the JSON text has a \u0000 escape inside a string (cJSON would cut the string there,
 * silently dropping the rest). */
static int has_nul_escape(const char *s, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            if (s[i] == '"') in_str = 1;
            continue;
        }
        if (s[i] == '"') {
            in_str = 0;
        } else if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' &&
                s[i + 4] == '0' && s[i + 5] == '0')
                return 1;
            i++; /* skip the escaped character */
        }
    }
    return 0;
}

/* Parse a JSON object body. Empty body -> empty object when allow_empty. NULL + reply on error.
 * Strict: the body must be well-formed UTF-8, hold exactly one JSON object (only whitespace
 * after it), and no string may contain a \u0000 escape. */
static cJSON *json_body(const sl_http_request *req, sl_http_response *r, int allow_empty) {
    if (req->body_len == 0 || !req->body) {
        if (allow_empty) return cJSON_CreateObject();
        reply_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    if (!sl_utf8_valid(req->body, req->body_len)) {
        reply_error(r, 400, "request body is not valid UTF-8");
        return NULL;
    }
    if (memchr(req->body, '\0', req->body_len) || has_nul_escape(req->body, req->body_len)) {
        reply_error(r, 400, "request body must not contain NUL characters (\\u0000)");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (!j) {
        size_t off = end && end >= req->body ? (size_t)(end - req->body) : 0;
        reply_error(r, 400, "malformed JSON body near byte %zu", off);
        return NULL;
    }
    size_t off = end && end >= req->body ? (size_t)(end - req->body) : req->body_len;
    while (off < req->body_len && strchr(" \t\r\n", req->body[off])) off++;
    if (off < req->body_len) {
        cJSON_Delete(j);
        reply_error(r, 400, "unexpected data after the JSON body at byte %zu", off);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* --- Host header (DNS rebinding) ---------------------------------------------------- */

int sl_http_host_ok(const sl_serve_config *c, const char *host) {
    if (!host) return 0;
    size_t n = strlen(host);
    if (n == 0 || n > 255) return 0;
    char name[256];
    /* split off ":port" (for "[v6]:port" the port follows the bracket) */
    if (host[0] == '[') {
        const char *rb = strchr(host, ']');
        if (!rb) return 0;
        const char *rest = rb + 1;
        if (*rest && (*rest != ':' || !rest[1] || strspn(rest + 1, "0123456789") != strlen(rest + 1)))
            return 0;
        size_t len = (size_t)(rb - host - 1);
        memcpy(name, host + 1, len);
        name[len] = '\0';
        unsigned char a6[16];
        if (inet_pton(AF_INET6, name, a6) == 1) return 1;
        return 0;
    }
    const char *colon = strchr(host, ':');
    size_t len = colon ? (size_t)(colon - host) : n;
    if (colon && (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))) return 0;
    memcpy(name, host, len);
    name[len] = '\0';
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (len && name[len - 1] == '.') name[--len] = '\0'; /* "localhost." */
    unsigned char a4[4];
    if (inet_pton(AF_INET, name, a4) == 1) return 1;
    if (strcmp(name, "localhost") == 0) return 1;
    if (len > 10 && strcmp(name + len - 10, ".localhost") == 0) return 1;
    if (c && c->host && strcasecmp(name, c->host) == 0) return 1;
    return 0;
}

/* --- static files ------------------------------------------------------------------------ */

static const char *mime_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (strcmp(dot, ".html") == 0) return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0) return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0) return "text/css; charset=utf-8";
    if (strcmp(dot, ".json") == 0) return "application/json";
    if (strcmp(dot, ".svg") == 0) return "image/svg+xml";
    if (strcmp(dot, ".png") == 0) return "image/png";
    if (strcmp(dot, ".ico") == 0) return "image/x-icon";
    if (strcmp(dot, ".txt") == 0) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

static void serve_static(const sl_serve_config *c, const char *path, sl_http_response *r) {
    if (!c->web_root || !*c->web_root) {
        reply_error(r, 404, "no dashboard files configured");
        return;
    }
    if (strcmp(path, "/") == 0) path = "/index.html";
    /* Reject any '..' segment and anything outside a conservative character set. */
    for (const char *p = path; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(isalnum(ch) || ch == '/' || ch == '.' || ch == '-' || ch == '_')) {
            reply_error(r, 400, "invalid character in path");
            return;
        }
    }
    for (const char *seg = path; seg; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;
        size_t len = strcspn(s, "/");
        if ((len == 2 && s[0] == '.' && s[1] == '.') || (len == 1 && s[0] == '.')) {
            reply_error(r, 400, "path traversal rejected");
            return;
        }
        if (len > 0 && s[0] == '.') { /* hidden files */
            reply_error(r, 404, "not found");
            return;
        }
    }
    char full[PATH_MAX], real_root[PATH_MAX], real_full[PATH_MAX];
    if (snprintf(full, sizeof full, "%s%s", c->web_root, path) >= (int)sizeof full ||
        !realpath(c->web_root, real_root)) {
        reply_error(r, 404, "not found");
        return;
    }
    if (!realpath(full, real_full)) {
        reply_error(r, 404, "not found: %s", path);
        return;
    }
    size_t rl = strlen(real_root);
    if (strncmp(real_full, real_root, rl) != 0 || (real_full[rl] != '/' && real_full[rl] != '\0')) {
        reply_error(r, 404, "not found");
        return;
    }
    struct stat sb;
    if (stat(real_full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        reply_error(r, 404, "not found: %s", path);
        return;
    }
    if ((size_t)sb.st_size > MAX_STATIC_BYTES) {
        reply_error(r, 500, "static file too large");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    if (sl_read_file(real_full, &data, &len) != SL_OK) {
        reply_error(r, 500, "cannot read %s", path);
        return;
    }
    set_body(r, 200, data, len, mime_of(real_full));
}

/* --- API handlers ---------------------------------------------------------------------------- */

/* A named registry query answered as a JSON array. */
static void api_rows(const sl_serve_config *c, sl_registry *reg, sl_rows_kind kind,
                     const sl_rows_query *q, sl_http_response *r) {
    sl_rows *rows = NULL;
    cJSON *j = NULL;
    sl_status s = sl_registry_rows(reg, kind, q, &rows);
    if (s == SL_OK) s = sl_rows_to_json(rows, &j);
    sl_rows_free(rows);
    if (s != SL_OK)
        reply_status(c, reg, r, s);
    else
        reply_json(r, 200, j);
}

/* A JSON document of the registry (summary, export, comparison). */
static void api_doc(const sl_serve_config *c, sl_registry *reg, sl_status s, cJSON *j,
                    sl_http_response *r) {
    if (s != SL_OK)
        reply_status(c, reg, r, s);
    else
        reply_json(r, 200, j);
}

static void api_runs(const sl_serve_config *c, sl_registry *reg, const char *query,
                     sl_http_response *r) {
    long long limit;
    if (qint(query, "limit", 0, 100000, 200, &limit) < 0) {
        reply_error(r, 400, "limit must be an integer in [0, 100000]");
        return;
    }
    char status[16];
    int k = qparam(query, "status", status, sizeof status);
    sl_run_status rs;
    if (k < 0 || (k == 1 && sl_run_status_parse(status, &rs) != SL_OK)) {
        reply_error(r, 400, "status must be running, ok, failed or aborted");
        return;
    }
    sl_rows_query q = sl_rows_query_default();
    q.limit = limit;
    q.status = k == 1 ? (int)rs : -1;
    api_rows(c, reg, SL_ROWS_RUNS, &q, r);
}

/* Written straight into text (no JSON tree): this is the hot route of live dashboards.
 * Values are finite (the registry refuses others), so %.17g is valid, round-trip JSON. */
static void api_metrics(const sl_serve_config *c, sl_registry *reg, int64_t run,
                        const char *query, sl_http_response *r) {
    char series[512];
    int k = qparam(query, "series", series, sizeof series);
    if (k < 0) {
        reply_error(r, 400, "malformed series parameter");
        return;
    }
    sl_metric_series *ms = NULL;
    size_t n = 0;
    sl_status s = sl_registry_metrics(reg, run, k == 1 ? series : NULL, &ms, &n);
    if (s != SL_OK) {
        reply_status(c, reg, r, s);
        return;
    }
    sl_buf out = {0};
    sl_buf_printf(&out, "{\"run\":%lld,\"series\":{", (long long)run);
    for (size_t i = 0; i < n; i++) {
        if (i) sl_buf_puts(&out, ",");
        sl_buf_json_str(&out, ms[i].name);
        sl_buf_puts(&out, ":{\"step\":[");
        for (size_t p = 0; p < ms[i].n; p++)
            sl_buf_printf(&out, "%s%lld", p ? "," : "", (long long)ms[i].step[p]);
        sl_buf_puts(&out, "],\"value\":[");
        for (size_t p = 0; p < ms[i].n; p++) {
            double v = ms[i].value[p];
            if (isfinite(v))
                sl_buf_printf(&out, "%s%.17g", p ? "," : "", v);
            else
                sl_buf_printf(&out, "%snull", p ? "," : "");
        }
        sl_buf_puts(&out, "]}");
    }
    sl_buf_puts(&out, "}}");
    sl_metric_series_free(ms, n);
    size_t len = 0;
    char *txt = sl_buf_take(&out, &len);
    if (!txt) {
        reply_error(r, 500, "out of memory");
        return;
    }
    set_body(r, 200, txt, len, JSON_TYPE);
}

static int run_exists(const sl_serve_config *c, sl_registry *reg, int64_t id,
                      sl_http_response *r) {
    sl_status s = sl_registry_run_exists(reg, id);
    if (s == SL_ERR_NOTFOUND) {
        reply_error(r, 404, "run %lld does not exist", (long long)id);
        return 0;
    }
    if (s != SL_OK) {
        reply_status(c, reg, r, s);
        return 0;
    }
    return 1;
}

static void api_post(const sl_serve_config *c, sl_registry *reg, int64_t id, const char *action,
                     const sl_http_request *req, sl_http_response *r) {
    if (!c->token || !*c->token) {
        reply_error(r, 403, "mutations disabled: start the server with --token or SYNTHLOOP_TOKEN");
        return;
    }
    if (!sl_http_token_ok(c, req->authorization)) {
        reply_error(r, 401, "missing or invalid bearer token");
        return;
    }
    int is_note = strcmp(action, "notes") == 0;
    cJSON *body = json_body(req, r, !is_note);
    if (!body) return;
    sl_status s;
    if (is_note) {
        const cJSON *n = cJSON_GetObjectItem(body, "note");
        if (!cJSON_IsString(n) && !cJSON_IsNull(n)) {
            cJSON_Delete(body);
            reply_error(r, 400, "body needs \"note\": a string (or null to clear)");
            return;
        }
        if (cJSON_IsString(n) && strlen(n->valuestring) > MAX_NOTE) {
            cJSON_Delete(body);
            reply_error(r, 400, "note longer than %d bytes", MAX_NOTE);
            return;
        }
        s = sl_run_set_note(reg, id, cJSON_IsString(n) ? n->valuestring : NULL);
    } else {
        const cJSON *why = cJSON_GetObjectItem(body, "reason");
        if (why && !cJSON_IsString(why)) {
            cJSON_Delete(body);
            reply_error(r, 400, "\"reason\" must be a string");
            return;
        }
        char reason[600];
        snprintf(reason, sizeof reason, "%s", why ? why->valuestring : "marked failed via API");
        s = sl_run_mark_failed(reg, id, reason);
    }
    cJSON_Delete(body);
    if (s != SL_OK) {
        reply_status(c, reg, r, s);
        return;
    }
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddBoolToObject(ok, "ok", 1);
    cJSON_AddNumberToObject(ok, "id", (double)id);
    reply_json(r, 200, ok);
}

/* The GET routes of the API (route, method and id already checked; reg not NULL). */
static void api_get(const sl_serve_config *c, sl_registry *reg, char *const *seg, int ns,
                    int64_t id, const char *query, sl_http_response *r) {
    sl_rows_query rq = sl_rows_query_default();
    cJSON *doc = NULL;
    if (ns == 1 && strcmp(seg[0], "runs") == 0) {
        api_runs(c, reg, query, r);
    } else if (ns == 2) {
        sl_status s = sl_registry_run_summary(reg, id, &doc);
        api_doc(c, reg, s, doc, r);
    } else if (ns == 3 && strcmp(seg[2], "metrics") == 0) {
        if (run_exists(c, reg, id, r)) api_metrics(c, reg, id, query, r);
    } else if (ns == 3 && strcmp(seg[2], "export") == 0) {
        sl_status s = sl_registry_export_json(reg, id, &doc);
        api_doc(c, reg, s, doc, r);
    } else if (ns == 3 && strcmp(seg[2], "report") == 0) {
        char *html = NULL;
        size_t n = 0;
        sl_status s = sl_report_html(reg, id, &html, &n);
        if (s != SL_OK)
            reply_status(c, reg, r, s);
        else
            set_body(r, 200, html, n, "text/html; charset=utf-8");
    } else if (strcmp(seg[0], "experiments") == 0) {
        rq.limit = 500;
        api_rows(c, reg, SL_ROWS_ALL_EXPERIMENTS, &rq, r);
    } else if (strcmp(seg[0], "models") == 0) {
        rq.limit = 1000;
        api_rows(c, reg, SL_ROWS_ALL_MODELS, &rq, r);
    } else if (strcmp(seg[0], "weights") == 0) {
        char rb[32];
        int k = qparam(query, "run", rb, sizeof rb);
        int64_t run;
        long long limit;
        if (k != 1 || !parse_id(rb, &run)) {
            reply_error(r, 400, "weights needs ?run=ID with a positive integer id");
            return;
        }
        if (qint(query, "limit", 1, 100000, 10000, &limit) < 0) {
            reply_error(r, 400, "limit must be an integer in [1, 100000]");
            return;
        }
        if (!run_exists(c, reg, run, r)) return;
        rq.run = run;
        rq.limit = limit;
        api_rows(c, reg, SL_ROWS_WEIGHTS, &rq, r);
    } else if (strcmp(seg[0], "jobs") == 0) {
        char st[16];
        int k = qparam(query, "status", st, sizeof st);
        sl_run_status rs;
        if (k < 0 || (k == 1 && sl_run_status_parse(st, &rs) != SL_OK)) {
            reply_error(r, 400, "status must be running, ok, failed or aborted");
            return;
        }
        rq.status = k == 1 ? (int)rs : -1;
        rq.limit = 500;
        api_rows(c, reg, SL_ROWS_ALL_JOBS, &rq, r);
    } else if (strcmp(seg[0], "compare") == 0) {
        char a[32], b2[32];
        int64_t ia, ib;
        if (qparam(query, "a", a, sizeof a) != 1 || qparam(query, "b", b2, sizeof b2) != 1 ||
            !parse_id(a, &ia) || !parse_id(b2, &ib)) {
            reply_error(r, 400, "compare needs ?a=ID&b=ID");
            return;
        }
        sl_status s = sl_registry_run_compare(reg, ia, ib, &doc);
        api_doc(c, reg, s, doc, r);
    } else if (strcmp(seg[0], "events") == 0) {
        char rb[32];
        int k = qparam(query, "run", rb, sizeof rb);
        int64_t run = 0;
        long long maxs;
        if (k < 0 || (k == 1 && !parse_id(rb, &run))) {
            reply_error(r, 400, "run must be a positive integer");
            return;
        }
        if (qint(query, "max_seconds", 0, 86400 * 365, 0, &maxs) < 0) {
            reply_error(r, 400, "max_seconds must be a non-negative integer");
            return;
        }
        if (run && !run_exists(c, reg, run, r)) return;
        r->status = 200;
        r->content_type = "text/event-stream";
        r->is_event_stream = 1;
        r->stream_run = run;
        r->stream_max_s = (double)maxs;
    } else {
        reply_error(r, 404, "no such route");
    }
}

/* --- the router ----------------------------------------------------------------------------- */

void sl_http_route(const sl_serve_config *c, sl_registry *reg, const sl_http_request *req,
                   sl_http_response *r) {
    memset(r, 0, sizeof *r);
    const char *method = req->method ? req->method : "";
    const char *target = req->target ? req->target : "";
    size_t tlen = strlen(target);
    if (tlen == 0 || target[0] != '/') {
        reply_error(r, 400, "request target must start with '/'");
        return;
    }
    if (tlen > MAX_TARGET) {
        reply_error(r, 414, "request target too long");
        return;
    }
    if (req->host && !sl_http_host_ok(c, req->host)) {
        reply_error(r, 421, "Host header must name this server by a loopback name or an address"
                            " (DNS rebinding protection)");
        return;
    }
    if (req->body_len > (c->max_body ? c->max_body : 65536)) {
        reply_error(r, 413, "request body larger than %zu bytes", c->max_body ? c->max_body : 65536);
        return;
    }
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : tlen;
    const char *query = q ? q + 1 : NULL;
    char path[MAX_TARGET + 1];
    if (!pct_decode(target, plen, path, 0)) {
        reply_error(r, 400, "malformed percent-encoding in path");
        return;
    }
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int is_post = strcmp(method, "POST") == 0;

    /* policy serving and the model lifecycle (v1.c) */
    if (sl_http_route_v1(c, c->policy, reg, method, path, query, req, r)) return;
    /* generateSynthetic and the synthetic_jobs rows (gen_routes.c) */
    if (sl_http_route_gen(c, reg, method, path, query, req, r)) return;
    /* privacy API (issue 15): /api/privacy/..., src/serve/privacy_routes.c */
    if (sl_http_route_privacy(c, reg, method, path, query, req, r)) return;
    if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0) {
        if (!is_get) {
            reply_error(r, 405, "method %.16s not allowed for static files", method);
            return;
        }
        serve_static(c, path, r);
        return;
    }
    /* split /api/a/b/c into segments */
    char *seg[6] = {0};
    int ns = 0;
    char *save = NULL;
    for (char *t = strtok_r(path + 4, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (ns == 6) {
            reply_error(r, 404, "no such route");
            return;
        }
        seg[ns++] = t;
    }
    if (ns == 1 && strcmp(seg[0], "health") == 0) {
        if (!is_get) {
            reply_error(r, 405, "use GET");
            return;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", reg != NULL);
        cJSON_AddStringToObject(j, "version", sl_version());
        cJSON_AddStringToObject(j, "git", sl_git_describe());
        cJSON_AddNumberToObject(j, "schema_version", SL_REGISTRY_SCHEMA_VERSION);
        cJSON_AddBoolToObject(j, "mutations", c->token && *c->token);
        reply_json(r, 200, j);
        return;
    }
    /* forecast module (issue 18): /api/forecast/..., src/serve/forecast_routes.c */
    if (ns >= 1 && strcmp(seg[0], "forecast") == 0) {
        char *body = NULL;
        size_t n = 0;
        const char *type = JSON_TYPE;
        sl_status fs = SL_OK;
        if (!is_get) reply_error(r, 405, "use GET for this route");
        else if (!reg) reply_error(r, 503, "registry not available");
        else if ((fs = sl_fc_api(reg, (const char *const *)seg + 1, ns - 1, &body, &n, &type)) != SL_OK)
            reply_status(c, reg, r, fs);
        else set_body(r, 200, body, n, type);
        return;
    }
    /* route table: which (segments, method) exist; 404 for unknown, 405 for wrong method */
    int want_post = ns == 3 && strcmp(seg[0], "runs") == 0 &&
                    (strcmp(seg[2], "notes") == 0 || strcmp(seg[2], "mark-failed") == 0);
    int known = want_post || (ns == 1 && (strcmp(seg[0], "runs") == 0 || strcmp(seg[0], "experiments") == 0 ||
                                          strcmp(seg[0], "models") == 0 || strcmp(seg[0], "weights") == 0 ||
                                          strcmp(seg[0], "jobs") == 0 || strcmp(seg[0], "events") == 0 ||
                                          strcmp(seg[0], "compare") == 0)) ||
                (ns == 2 && strcmp(seg[0], "runs") == 0) ||
                (ns == 3 && strcmp(seg[0], "runs") == 0 &&
                 (strcmp(seg[2], "metrics") == 0 || strcmp(seg[2], "export") == 0 ||
                  strcmp(seg[2], "report") == 0));
    if (!known) {
        reply_error(r, 404, "no such route");
        return;
    }
    if (want_post ? !is_post : !is_get) {
        reply_error(r, 405, "use %s for this route", want_post ? "POST" : "GET");
        return;
    }
    int64_t id = 0;
    if (ns >= 2 && !parse_id(seg[1], &id)) {
        reply_error(r, 400, "run id must be a positive integer");
        return;
    }
    if (!reg) {
        reply_error(r, 503, "registry not available");
        return;
    }
    if (want_post) {
        api_post(c, reg, id, seg[2], req, r);
        return;
    }
    api_get(c, reg, seg, ns, id, query, r);
}
