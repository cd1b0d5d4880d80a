/* router.c - the pure HTTP request router of `synthloop serve`: method + target + headers +
 * body in, status + body out. No sockets, no blocking, no global state, so the server and the
 * libFuzzer target (fuzz/fuzz_http.c) drive exactly the same code.
 *
 * Invariants: every response has a status and a body; every API error is JSON
 * {"error": "..."}; static files are served only from inside the web root (no '..' segment,
 * restricted characters, and the resolved real path must stay under the root's real path);
 * mutating routes check the bearer token (constant time) before touching the body.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve_internal.h"
#include "store/store_internal.h"
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
    c->sse_poll_s = 0.25;
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

/* Map a library failure to an HTTP error. */
static void reply_status(sl_http_response *r, sl_status s) {
    const char *m = sl_last_error();
    int code = s == SL_ERR_NOTFOUND ? 404 : s == SL_ERR_ARG ? 400 : s == SL_ERR_STATE ? 409 : 500;
    reply_error(r, code, "%s", m && *m ? m : sl_strerror(s));
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

int sl_http_token_ok(const sl_serve_config *c, const char *authorization) {
    if (!c || !c->token || !*c->token || !authorization) return 0;
    static const char prefix[] = "Bearer ";
    if (strncasecmp(authorization, prefix, sizeof prefix - 1) != 0) return 0;
    const char *given = authorization + sizeof prefix - 1;
    /* Hash both sides so the comparison takes the same time whatever the lengths. */
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
    crypto_generichash(a, sizeof a, (const unsigned char *)given, strlen(given), NULL, 0);
    crypto_generichash(b, sizeof b, (const unsigned char *)c->token, strlen(c->token), NULL, 0);
    return sodium_memcmp(a, b, sizeof a) == 0;
}

/* Parse a JSON object body. Empty body -> empty object when allow_empty. NULL + reply on error. */
static cJSON *json_body(const sl_http_request *req, sl_http_response *r, int allow_empty) {
    if (req->body_len == 0 || !req->body) {
        if (allow_empty) return cJSON_CreateObject();
        reply_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (!j) {
        size_t off = end && end >= req->body ? (size_t)(end - req->body) : 0;
        reply_error(r, 400, "malformed JSON body near byte %zu", off);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    return j;
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

static void api_runs(sqlite3 *db, const char *query, sl_http_response *r) {
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
    char sql[600];
    /* status is one of four fixed names here, so it is safe to splice */
    snprintf(sql, sizeof sql,
             "SELECT id, command, status, seed, started, ended, git, note,"
             " CAST(round((julianday(ifnull(ended, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now')))"
             "  - julianday(started)) * 86400) AS INTEGER) AS seconds,"
             " (SELECT count(*) FROM metrics m WHERE m.run_id = runs.id) AS metric_points"
             " FROM runs %s%s%s ORDER BY id DESC LIMIT ?1",
             k == 1 ? "WHERE status='" : "", k == 1 ? sl_run_status_name(rs) : "", k == 1 ? "'" : "");
    int64_t b[1] = {limit > 0 ? limit : -1};
    cJSON *j = NULL;
    sl_status s = sl_store_rows_json(db, sql, b, 1, &j);
    if (s != SL_OK)
        reply_status(r, s);
    else
        reply_json(r, 200, j);
}

/* Written straight into text (no JSON tree): this is the hot route of live dashboards.
 * Values are finite (the registry refuses others), so %.17g is valid, round-trip JSON. */
static void api_metrics(sqlite3 *db, int64_t run, const char *query, sl_http_response *r) {
    char series[512];
    int k = qparam(query, "series", series, sizeof series);
    if (k < 0) {
        reply_error(r, 400, "malformed series parameter");
        return;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT series, step, value FROM metrics WHERE run_id=?1"
                           " AND (?2 IS NULL OR series=?2) ORDER BY series, step",
                           -1, &st, NULL) != SQLITE_OK) {
        reply_status(r, sl_store_db_error(db, "metrics"));
        return;
    }
    sqlite3_bind_int64(st, 1, run);
    if (k == 1)
        sqlite3_bind_text(st, 2, series, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sl_buf out = {0}, vals = {0};
    char *cur = NULL;
    int rc;
    sl_buf_printf(&out, "{\"run\":%lld,\"series\":{", (long long)run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int first = 0;
        if (!cur || strcmp(cur, name) != 0) {
            if (cur) {
                sl_buf_puts(&out, "],\"value\":[");
                sl_buf_put(&out, vals.s, vals.len);
                sl_buf_puts(&out, "]},");
                vals.len = 0;
            }
            free(cur);
            cur = strdup(name);
            if (!cur) {
                out.oom = 1;
                break;
            }
            sl_buf_json_str(&out, name);
            sl_buf_puts(&out, ":{\"step\":[");
            first = 1;
        }
        double v = sqlite3_column_double(st, 2);
        sl_buf_printf(&out, "%s%lld", first ? "" : ",", (long long)sqlite3_column_int64(st, 1));
        if (isfinite(v))
            sl_buf_printf(&vals, "%s%.17g", first ? "" : ",", v);
        else
            sl_buf_printf(&vals, "%snull", first ? "" : ",");
    }
    if (cur) {
        sl_buf_puts(&out, "],\"value\":[");
        sl_buf_put(&out, vals.s ? vals.s : "", vals.len);
        sl_buf_puts(&out, "]}");
    }
    sl_buf_puts(&out, "}}");
    free(cur);
    sl_buf_free(&vals);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sl_buf_free(&out);
        if (rc == SQLITE_ROW)
            reply_error(r, 500, "out of memory");
        else
            reply_status(r, sl_store_db_error(db, "metrics"));
        return;
    }
    size_t n = 0;
    char *txt = sl_buf_take(&out, &n);
    if (!txt) {
        reply_error(r, 500, "out of memory");
        return;
    }
    set_body(r, 200, txt, n, JSON_TYPE);
}

static void api_rows(sqlite3 *db, const char *sql, const int64_t *b, int nb, sl_http_response *r) {
    cJSON *j = NULL;
    sl_status s = sl_store_rows_json(db, sql, b, nb, &j);
    if (s != SL_OK)
        reply_status(r, s);
    else
        reply_json(r, 200, j);
}

static int run_exists(sqlite3 *db, int64_t id, sl_http_response *r) {
    int64_t b[1] = {id};
    cJSON *j = NULL;
    sl_status s = sl_store_row_json(db, "SELECT id FROM runs WHERE id=?1", b, 1, &j);
    cJSON_Delete(j);
    if (s == SL_ERR_NOTFOUND) {
        reply_error(r, 404, "run %lld does not exist", (long long)id);
        return 0;
    }
    if (s != SL_OK) {
        reply_status(r, s);
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
        reply_status(r, s);
        return;
    }
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddBoolToObject(ok, "ok", 1);
    cJSON_AddNumberToObject(ok, "id", (double)id);
    reply_json(r, 200, ok);
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
            reply_status(r, fs);
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
    sqlite3 *db = sl_registry_sqlite(reg);
    if (want_post) {
        api_post(c, reg, id, seg[2], req, r);
        return;
    }
    if (ns == 1 && strcmp(seg[0], "runs") == 0) {
        api_runs(db, query, r);
    } else if (ns == 2) {
        cJSON *j = NULL;
        sl_status s = sl_store_run_summary(db, id, &j);
        if (s != SL_OK)
            reply_status(r, s);
        else
            reply_json(r, 200, j);
    } else if (ns == 3 && strcmp(seg[2], "metrics") == 0) {
        if (run_exists(db, id, r)) api_metrics(db, id, query, r);
    } else if (ns == 3 && strcmp(seg[2], "export") == 0) {
        cJSON *j = NULL;
        sl_status s = sl_store_export_run(db, id, &j);
        if (s != SL_OK)
            reply_status(r, s);
        else
            reply_json(r, 200, j);
    } else if (ns == 3 && strcmp(seg[2], "report") == 0) {
        char *html = NULL;
        size_t n = 0;
        sl_status s = sl_report_html(reg, id, &html, &n);
        if (s != SL_OK)
            reply_status(r, s);
        else
            set_body(r, 200, html, n, "text/html; charset=utf-8");
    } else if (strcmp(seg[0], "experiments") == 0) {
        api_rows(db,
                 "SELECT e.id, e.run_id, r.command, e.name, e.verdict, e.created, e.experiment"
                 " FROM ab_experiments e JOIN runs r ON r.id = e.run_id ORDER BY e.id DESC"
                 " LIMIT 500",
                 NULL, 0, r);
    } else if (strcmp(seg[0], "models") == 0) {
        api_rows(db,
                 "SELECT id, run_id, kind, path, sha256, parent_id, metrics, created FROM models"
                 " ORDER BY id DESC LIMIT 1000",
                 NULL, 0, r);
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
        if (!run_exists(db, run, r)) return;
        int64_t b[2] = {run, limit};
        api_rows(db,
                 "SELECT step, trust, econ, lambda, w_final, rails FROM weights WHERE run_id=?1"
                 " ORDER BY id LIMIT ?2",
                 b, 2, r);
    } else if (strcmp(seg[0], "jobs") == 0) {
        char st[16];
        int k = qparam(query, "status", st, sizeof st);
        sl_run_status rs;
        if (k < 0 || (k == 1 && sl_run_status_parse(st, &rs) != SL_OK)) {
            reply_error(r, 400, "status must be running, ok, failed or aborted");
            return;
        }
        int64_t b[1] = {k == 1 ? (int64_t)rs : -1};
        api_rows(db,
                 "SELECT id, run_id, kind, status, total, done, message, started, updated, ended"
                 " FROM jobs WHERE ?1 < 0 OR status = CASE ?1 WHEN 0 THEN 'running' WHEN 1 THEN"
                 " 'ok' WHEN 2 THEN 'failed' ELSE 'aborted' END ORDER BY id DESC LIMIT 500",
                 b, 1, r);
    } else if (strcmp(seg[0], "compare") == 0) {
        char a[32], b2[32];
        int64_t ia, ib;
        if (qparam(query, "a", a, sizeof a) != 1 || qparam(query, "b", b2, sizeof b2) != 1 ||
            !parse_id(a, &ia) || !parse_id(b2, &ib)) {
            reply_error(r, 400, "compare needs ?a=ID&b=ID");
            return;
        }
        cJSON *j = NULL;
        sl_status s = sl_store_run_compare(db, ia, ib, &j);
        if (s != SL_OK)
            reply_status(r, s);
        else
            reply_json(r, 200, j);
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
        if (run && !run_exists(db, run, r)) return;
        r->status = 200;
        r->content_type = "text/event-stream";
        r->is_event_stream = 1;
        r->stream_run = run;
        r->stream_max_s = (double)maxs;
    } else {
        reply_error(r, 404, "no such route");
    }
}
