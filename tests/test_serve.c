/* SPDX-License-Identifier: Apache-2.0 */
/* test_serve.c - `synthloop serve`: the pure router (every status path), then a real server on
 * 127.0.0.1 (a free port) hit with raw HTTP over sockets (JSON bodies, token, 400/401/403/404/
 * 405/409/413, traversal, the live event stream while another handle records), the CLI, and
 * the dashboard in headless Chromium (DOM after JS lists the run and its plotted series; the
 * screenshot is checked not blank by tests/py/reg_png_check.py). Fails if Chromium is missing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

#define TOKEN "t0ken-for-tests"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", harness_tmpdir(), name);
}

static char g_db[600], g_web[700];
static int64_t g_run, g_run_live;

/* A registry with one finished run (curves for two arms, a verdict) and one running run. */
static void make_fixture(void) {
    tmp_path(g_db, sizeof g_db, "serve.db");
    snprintf(g_web, sizeof g_web, "%s/web", root());
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK_OK(sl_run_begin(reg, "ab", "{\"horizon\":10,\"seeds\":3}", 7, &g_run));
    double v[40];
    for (int i = 0; i < 40; i++) v[i] = 1.0 + 0.02 * i;
    CHECK_OK(sl_registry_add_metrics(reg, g_run, "ab/baseline/eval_return", NULL, v, 40));
    for (int i = 0; i < 40; i++) v[i] = 1.0 + 0.035 * i;
    CHECK_OK(sl_registry_add_metrics(reg, g_run, "ab/augmented/eval_return", NULL, v, 40));
    for (int i = 0; i < 40; i++) v[i] = exp(-0.08 * i);
    CHECK_OK(sl_registry_add_metrics(reg, g_run, "train/loss", NULL, v, 40));
    sl_weight_row w[3] = {{0, 0.9, 0.8, 0.1, 0.07, 0}, {1, 0.2, 0.8, 0.1, 0, 2}, {2, 0.95, 0.7, 0.1, 0.06, 0}};
    CHECK_OK(sl_registry_add_weight_log(reg, g_run, w, 3));
    CHECK_OK(sl_registry_add_ab(reg, g_run, "baseline_vs_augmented", "{\"p_value\":0.01}",
                                "augmented_better", NULL));
    CHECK_OK(sl_registry_add_model(reg, g_run, "policy", "/nonexistent/policy.bin", 0, NULL, NULL));
    CHECK_OK(sl_run_end(reg, g_run, SL_RUN_OK, "{\"verdict\":\"augmented_better\"}"));
    CHECK_OK(sl_run_begin(reg, "train", NULL, 8, &g_run_live));
    sl_registry_close(reg);
}

/* --- the pure router ---------------------------------------------------------------------- */

static int route(sl_registry *reg, const sl_serve_config *c, const char *method, const char *target,
                 const char *auth, const char *body, cJSON **json) {
    sl_http_request rq = {method, target, auth, body, body ? strlen(body) : 0, NULL};
    sl_http_response rs;
    sl_http_route(c, reg, &rq, &rs);
    if (json) *json = rs.body ? cJSON_ParseWithLength(rs.body, rs.body_len) : NULL;
    int st = rs.status;
    /* every API answer that is not the event stream has a body; errors are JSON with "error" */
    if (strncmp(target, "/api/", 5) == 0 && !rs.is_event_stream) {
        CHECK_MSG(rs.body && rs.body_len > 0, "%s %s: empty body", method, target);
        if (st >= 400) {
            cJSON *e = cJSON_ParseWithLength(rs.body, rs.body_len);
            CHECK_MSG(e && cJSON_IsString(cJSON_GetObjectItem(e, "error")), "%s %s: error not JSON", method, target);
            cJSON_Delete(e);
        }
    }
    sl_http_response_free(&rs);
    return st;
}

TEST(router_status_codes) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    c.web_root = g_web;
    c.token = TOKEN;
    c.max_body = 1024;
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    cJSON *j = NULL;
    char t[256];
    CHECK(route(reg, &c, "GET", "/api/health", NULL, NULL, &j) == 200);
    CHECK(sl_json_bool(j, "ok", 0) == 1);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/runs", NULL, NULL, &j) == 200);
    CHECK(cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/runs?status=running", NULL, NULL, &j) == 200);
    CHECK(cJSON_GetArraySize(j) == 1 && sl_json_int(j->child, "id", 0) == (int)g_run_live);
    cJSON_Delete(j);
    snprintf(t, sizeof t, "/api/runs/%lld", (long long)g_run);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, &j) == 200);
    CHECK(strcmp(sl_json_str(cJSON_GetObjectItem(j, "run"), "command", ""), "ab") == 0);
    cJSON_Delete(j);
    snprintf(t, sizeof t, "/api/runs/%lld/metrics?series=ab%%2Fbaseline%%2Feval_return", (long long)g_run);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, &j) == 200);
    const cJSON *ser = cJSON_GetObjectItem(j, "series");
    CHECK(cJSON_GetArraySize(ser) == 1);
    const cJSON *vals = cJSON_GetObjectItem(cJSON_GetObjectItem(ser, "ab/baseline/eval_return"), "value");
    const cJSON *steps = cJSON_GetObjectItem(cJSON_GetObjectItem(ser, "ab/baseline/eval_return"), "step");
    CHECK(cJSON_GetArraySize(vals) == 40 && cJSON_GetArraySize(steps) == 40);
    CHECK(vals && cJSON_GetArrayItem(vals, 39) && cJSON_GetArrayItem(vals, 39)->valuedouble == 1.0 + 0.02 * 39);
    CHECK(steps && cJSON_GetArrayItem(steps, 39) && cJSON_GetArrayItem(steps, 39)->valuedouble == 39);
    cJSON_Delete(j);
    snprintf(t, sizeof t, "/api/weights?run=%lld", (long long)g_run);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, &j) == 200);
    CHECK(cJSON_GetArraySize(j) == 3);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/experiments", NULL, NULL, &j) == 200 && cJSON_GetArraySize(j) == 1);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/models", NULL, NULL, &j) == 200 && cJSON_GetArraySize(j) == 1);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "GET", "/api/jobs?status=running", NULL, NULL, NULL) == 200);
    snprintf(t, sizeof t, "/api/compare?a=%lld&b=%lld", (long long)g_run, (long long)g_run_live);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, NULL) == 200);
    snprintf(t, sizeof t, "/api/runs/%lld/report", (long long)g_run);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, NULL) == 200);
    snprintf(t, sizeof t, "/api/runs/%lld/export", (long long)g_run);
    CHECK(route(reg, &c, "GET", t, NULL, NULL, NULL) == 200);
    /* event stream accepted but not produced by the router */
    sl_http_request rq = {"GET", "/api/events?max_seconds=5", NULL, NULL, 0, NULL};
    sl_http_response rs;
    sl_http_route(&c, reg, &rq, &rs);
    CHECK(rs.status == 200 && rs.is_event_stream == 1 && rs.stream_max_s == 5);
    sl_http_response_free(&rs);

    /* errors */
    CHECK(route(reg, &c, "GET", "/api/nope", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/api/runs/1/2/3/4/5/6/7", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/api/runs/abc", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/runs/0", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/runs/999999", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/api/runs/999999/metrics", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/api/runs?limit=-1", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/runs?status=weird", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/weights", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/weights?run=x", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/compare?a=1", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/events?max_seconds=abc", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "DELETE", "/api/runs", NULL, NULL, NULL) == 405);
    CHECK(route(reg, &c, "GET", "/api/runs/1/notes", NULL, NULL, NULL) == 405);
    CHECK(route(reg, &c, "GET", "/api/runs/%zz", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/api/runs/%00", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "nope", NULL, NULL, NULL) == 400);
    CHECK(route(NULL, &c, "GET", "/api/runs", NULL, NULL, NULL) == 503);
    /* static files and traversal */
    CHECK(route(reg, &c, "GET", "/", NULL, NULL, NULL) == 200);
    CHECK(route(reg, &c, "GET", "/app.js", NULL, NULL, NULL) == 200);
    CHECK(route(reg, &c, "GET", "/../tests/harness.h", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/%2e%2e/Makefile", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/a/../../Makefile", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/..%2fMakefile", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "GET", "/.hidden", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/nosuch.html", NULL, NULL, NULL) == 404);
    CHECK(route(reg, &c, "GET", "/a\\b", NULL, NULL, NULL) == 400);
    CHECK(route(reg, &c, "POST", "/index.html", NULL, NULL, NULL) == 405);
    /* mutations: token, body, JSON */
    char body[2048];
    snprintf(t, sizeof t, "/api/runs/%lld/notes", (long long)g_run);
    CHECK(route(reg, &c, "POST", t, NULL, "{\"note\":\"x\"}", NULL) == 401);
    CHECK(route(reg, &c, "POST", t, "Bearer wrong", "{\"note\":\"x\"}", NULL) == 401);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN "x", "{\"note\":\"x\"}", NULL) == 401);
    CHECK(route(reg, &c, "POST", t, "Basic " TOKEN, "{\"note\":\"x\"}", NULL) == 401);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "{\"note\":", NULL) == 400);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "[1,2]", NULL) == 400);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "{\"note\":5}", NULL) == 400);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "", NULL) == 400);
    memset(body, 'a', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, body, NULL) == 413);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "{\"note\":\"from the router\"}", &j) == 200);
    CHECK(sl_json_bool(j, "ok", 0) == 1);
    cJSON_Delete(j);
    CHECK(route(reg, &c, "POST", "/api/runs/999999/notes", "Bearer " TOKEN, "{\"note\":\"x\"}", NULL) == 404);
    snprintf(t, sizeof t, "/api/runs/%lld/mark-failed", (long long)g_run);
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, NULL, NULL) == 409); /* already ended */
    CHECK(route(reg, &c, "POST", t, "Bearer " TOKEN, "{\"reason\":3}", NULL) == 400);
    sl_serve_config c2 = c;
    c2.token = NULL;
    CHECK(route(reg, &c2, "POST", t, "Bearer " TOKEN, NULL, NULL) == 403);
    CHECK(sl_http_token_ok(&c, "Bearer " TOKEN) == 1);
    CHECK(sl_http_token_ok(&c, "bearer " TOKEN) == 1);
    CHECK(sl_http_token_ok(&c, "Bearer ") == 0);
    CHECK(sl_http_token_ok(&c2, "Bearer ") == 0);
    CHECK(sl_http_token_ok(&c, NULL) == 0);
    sl_registry_close(reg);
    /* the note landed */
    CHECK_OK(sl_registry_open(g_db, &reg));
    char *exp = NULL;
    CHECK_OK(sl_registry_export_run(reg, g_run, &exp));
    CHECK(exp && strstr(exp, "from the router") != NULL);
    free(exp);
    sl_registry_close(reg);
}

/* --- a real server -------------------------------------------------------------------------- */

typedef struct http_reply {
    int status;
    char *head;
    char *body;
    size_t body_len;
} http_reply;

static int connect_to(int port, double timeout_s) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send raw bytes, read the whole reply (Connection: close) and split it. 0 on success. */
static int http_raw(int port, const char *req, size_t req_len, http_reply *out) {
    memset(out, 0, sizeof *out);
    int fd = connect_to(port, 10.0);
    if (fd < 0) return -1;
    size_t off = 0;
    signal(SIGPIPE, SIG_IGN);
    while (off < req_len) {
        ssize_t k = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (k <= 0) break; /* the server may close early (413): read what it said */
        off += (size_t)k;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    *sep = '\0';
    out->head = buf;
    out->body = sep + 4;
    out->body_len = n - (size_t)(sep + 4 - buf);
    return 0;
}

static int http(int port, const char *method, const char *target, const char *extra_headers,
                const char *body, http_reply *out) {
    char req[8192];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, target, extra_headers ? extra_headers : "", bl);
    if (n < 0 || (size_t)n + bl >= sizeof req) return -1;
    memcpy(req + n, body ? body : "", bl);
    return http_raw(port, req, (size_t)n + bl, out);
}

static cJSON *reply_json(const http_reply *r) { return cJSON_ParseWithLength(r->body, r->body_len); }

static int is_json_error(const http_reply *r) {
    cJSON *j = reply_json(r);
    int ok = j && cJSON_IsString(cJSON_GetObjectItem(j, "error")) &&
             strstr(r->head, "Content-Type: application/json") != NULL;
    cJSON_Delete(j);
    return ok;
}

static sl_server *g_srv;
static int g_port;

TEST(server_http) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.port = 0;
    c.db_path = g_db;
    c.web_root = g_web;
    c.token = TOKEN;
    c.max_body = 4096;
    c.sse_poll_s = 0.05;
    CHECK_OK(sl_server_start(&c, &g_srv));
    g_port = sl_server_port(g_srv);
    CHECK(g_port > 0);
    /* a second server on the same port fails cleanly */
    sl_serve_config c2 = c;
    c2.port = g_port;
    sl_server *dup = NULL;
    CHECK_STATUS(sl_server_start(&c2, &dup), SL_ERR_IO);
    c2.host = "not-an-address";
    CHECK_STATUS(sl_server_start(&c2, &dup), SL_ERR_ARG);

    http_reply r;
    CHECK(http(g_port, "GET", "/api/runs", NULL, NULL, &r) == 0);
    CHECK(r.status == 200);
    cJSON *j = reply_json(&r);
    CHECK(cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    free(r.head);
    char t[256];
    snprintf(t, sizeof t, "/api/runs/%lld/metrics", (long long)g_run);
    CHECK(http(g_port, "GET", t, NULL, NULL, &r) == 0 && r.status == 200);
    j = reply_json(&r);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "series")) == 3);
    cJSON_Delete(j);
    free(r.head);
    CHECK(http(g_port, "GET", "/", NULL, NULL, &r) == 0 && r.status == 200);
    CHECK(strstr(r.head, "text/html") != NULL && strstr(r.body, "synthloop dashboard") != NULL);
    free(r.head);
    snprintf(t, sizeof t, "/api/runs/%lld/report", (long long)g_run);
    CHECK(http(g_port, "GET", t, NULL, NULL, &r) == 0 && r.status == 200);
    CHECK(strstr(r.body, "<svg") != NULL && strstr(r.head, "Content-Security-Policy") != NULL);
    free(r.head);

    /* error paths over the wire: all 4xx with a JSON error */
    struct {
        const char *method, *target, *headers, *body;
        int want;
    } bad[] = {
        {"GET", "/api/nope", NULL, NULL, 404},
        {"GET", "/api/runs/abc", NULL, NULL, 400},
        {"GET", "/api/runs/424242", NULL, NULL, 404},
        {"GET", "/../Makefile", NULL, NULL, 400},
        {"GET", "/%2e%2e/%2e%2e/etc/passwd", NULL, NULL, 400},
        {"GET", "/web/../../Makefile", NULL, NULL, 400},
        {"PUT", "/api/runs", NULL, NULL, 405},
        {"POST", "/api/runs/1/notes", NULL, "{\"note\":\"x\"}", 401},
        {"POST", "/api/runs/1/notes", "Authorization: Bearer nope\r\n", "{\"note\":\"x\"}", 401},
        {"POST", "/api/runs/1/notes", "Authorization: Bearer " TOKEN "\r\n", "{\"note\": tru", 400},
        {"POST", "/api/runs/1/notes", "Authorization: Bearer " TOKEN "\r\n", "{\"note\":[]}", 400},
        {"POST", "/api/runs/1/mark-failed", "Authorization: Bearer " TOKEN "\r\n", "{}", 409},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = http(g_port, bad[i].method, bad[i].target, bad[i].headers, bad[i].body, &r) == 0;
        CHECK_MSG(ok && r.status == bad[i].want, "%s %s: got %d want %d", bad[i].method,
                  bad[i].target, ok ? r.status : -1, bad[i].want);
        CHECK_MSG(ok && is_json_error(&r), "%s %s: not a JSON error", bad[i].method, bad[i].target);
        if (ok) free(r.head);
    }
    /* successful mutations */
    snprintf(t, sizeof t, "/api/runs/%lld/notes", (long long)g_run);
    CHECK(http(g_port, "POST", t, "Authorization: Bearer " TOKEN "\r\n", "{\"note\":\"over http\"}", &r) == 0);
    CHECK(r.status == 200);
    free(r.head);
    snprintf(t, sizeof t, "/api/runs/%lld/mark-failed", (long long)g_run_live);
    CHECK(http(g_port, "POST", t, "Authorization: Bearer " TOKEN "\r\n", "{\"reason\":\"test\"}", &r) == 0);
    CHECK(r.status == 200);
    free(r.head);

    /* huge bodies: declared (rejected before reading) and chunked (discarded while reading) */
    size_t big = 1u << 20;
    char *req = malloc(big + 512);
    int n = snprintf(req, 512, "POST /api/runs/1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                               "Authorization: Bearer " TOKEN "\r\nContent-Length: %zu\r\n\r\n", big);
    memset(req + n, 'x', big);
    CHECK(http_raw(g_port, req, (size_t)n + big, &r) == 0);
    CHECK(r.status == 413 && is_json_error(&r));
    free(r.head);
    n = snprintf(req, 512, "POST /api/runs/1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                           "Authorization: Bearer " TOKEN "\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t off = (size_t)n;
    for (int k = 0; k < 8; k++) {
        off += (size_t)sprintf(req + off, "1000\r\n");
        memset(req + off, 'y', 4096);
        off += 4096;
        off += (size_t)sprintf(req + off, "\r\n");
    }
    off += (size_t)sprintf(req + off, "0\r\n\r\n");
    CHECK(http_raw(g_port, req, off, &r) == 0);
    CHECK(r.status == 413 && is_json_error(&r));
    free(r.head);
    free(req);
    /* garbage request line: the server answers 400 (libmicrohttpd) or closes, and stays up */
    static const char junk[] = "\x01\x02garbage\r\n\r\n";
    if (http_raw(g_port, junk, sizeof junk - 1, &r) == 0) {
        CHECK(r.status >= 400 && r.status < 500);
        free(r.head);
    }
    CHECK(http(g_port, "GET", "/api/health", NULL, NULL, &r) == 0 && r.status == 200);
    free(r.head);
}

TEST(server_event_stream) {
    /* open the stream, then record from another handle; the events must arrive */
    int fd = connect_to(g_port, 10.0);
    CHECK(fd >= 0);
    if (fd < 0) return;
    static const char req[] = "GET /api/events?max_seconds=8 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    CHECK(send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1));
    char buf[65536];
    size_t n = 0;
    int hello = 0;
    while (!hello && n < sizeof buf - 1) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        hello = strstr(buf, "event: hello") != NULL;
    }
    CHECK(hello);
    CHECK(strstr(buf, "text/event-stream") != NULL);
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    int64_t run, job;
    CHECK_OK(sl_run_begin(reg, "live", NULL, 1, &run));
    CHECK_OK(sl_job_begin(reg, run, "epochs", 5, &job));
    CHECK_OK(sl_job_progress(reg, job, 2, "epoch 2"));
    CHECK_OK(sl_registry_add_metric(reg, run, "train/loss", 0, 0.75));
    CHECK_OK(sl_run_end(reg, run, SL_RUN_OK, NULL));
    sl_registry_close(reg);
    char want_metric[128];
    snprintf(want_metric, sizeof want_metric, "\"run_id\":%lld,\"series\":\"train/loss\"", (long long)run);
    int got_metric = 0, got_job = 0, got_end = 0;
    double t0 = sl_now();
    while (!(got_metric && got_job && got_end) && n < sizeof buf - 1 && sl_now() - t0 < 8) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        got_metric = strstr(buf, want_metric) != NULL;
        got_job = strstr(buf, "\"message\":\"epoch 2\"") != NULL || strstr(buf, "event: job") != NULL;
        got_end = strstr(buf, "\"command\":\"live\",\"status\":\"ok\"") != NULL;
    }
    close(fd);
    CHECK_MSG(got_metric, "no metric event in: %.300s", buf);
    CHECK(got_job);
    CHECK(got_end);
}

/* --- CLI ---------------------------------------------------------------------------------------- */

TEST(serve_command) {
    const char *bin = getenv("SL_BIN");
    char cmd[2000], out[4096] = "";
    snprintf(cmd, sizeof cmd, "'%s' serve --help >/dev/null", bin && *bin ? bin : "build/synthloop");
    CHECK(WEXITSTATUS(system(cmd)) == 0);
    snprintf(cmd, sizeof cmd, "'%s' serve --port 99999 2>/dev/null", bin && *bin ? bin : "build/synthloop");
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "'%s' serve --db '%s' --web /nonexistent 2>/dev/null",
             bin && *bin ? bin : "build/synthloop", g_db);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    /* a real process on a free port for 3 s: read its URL, ask it for /api/runs */
    snprintf(cmd, sizeof cmd, "'%s' serve --db '%s' --web '%s' --port 0 --duration 3 --json --quiet",
             bin && *bin ? bin : "build/synthloop", g_db, g_web);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    if (!fgets(out, sizeof out, p)) out[0] = '\0';
    cJSON *j = cJSON_Parse(out);
    int port = sl_json_int(j, "port", 0);
    cJSON_Delete(j);
    CHECK(port > 0);
    http_reply r = {0};
    CHECK(port > 0 && http(port, "GET", "/api/runs", NULL, NULL, &r) == 0 && r.status == 200);
    if (port > 0 && r.head) free(r.head);
    CHECK(WEXITSTATUS(pclose(p)) == 0);
}

/* --- headless Chromium ------------------------------------------------------------------------ */

TEST(dashboard_in_chromium) {
    const char *chromium = "/usr/bin/chromium";
    struct stat sb;
    CHECK_MSG(stat(chromium, &sb) == 0, "%s is missing: the dashboard test cannot run", chromium);
    if (stat(chromium, &sb) != 0) return;
    char dir[600], dom[700], png[700], cmd[4096];
    tmp_path(dir, sizeof dir, "chromium-profile");
    tmp_path(dom, sizeof dom, "dom.html");
    tmp_path(png, sizeof png, "dash.png");
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --disable-dev-shm-usage --hide-scrollbars";
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 60 %s %s --user-data-dir='%s/a' --virtual-time-budget=8000"
             " --dump-dom 'http://127.0.0.1:%d/?live=0#run=%lld' > '%s' 2>/dev/null",
             chromium, flags, dir, g_port, (long long)g_run, dom);
    int rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --dump-dom failed (status %d)", rc);
    char *d = NULL;
    size_t dl = 0;
    CHECK_OK(sl_read_file(dom, &d, &dl));
    if (d) {
        char want[64];
        snprintf(want, sizeof want, "data-run-id=\"%lld\"", (long long)g_run);
        CHECK_MSG(strstr(d, want) != NULL, "run %lld not listed in the DOM", (long long)g_run);
        snprintf(want, sizeof want, "data-run-id=\"%lld\"", (long long)g_run_live);
        CHECK(strstr(d, want) != NULL);
        CHECK_MSG(strstr(d, "data-series=\"ab/baseline/eval_return\"") != NULL &&
                      strstr(d, "data-series=\"ab/augmented/eval_return\"") != NULL &&
                      strstr(d, "data-series=\"train/loss\"") != NULL,
                  "plots of the run not drawn in the DOM");
        CHECK(strstr(d, "data-n=\"40\"") != NULL);
        CHECK(strstr(d, "augmented_better") != NULL);
        CHECK(strstr(d, "over http") != NULL); /* the note set through the API */
    }
    free(d);
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 60 %s %s --user-data-dir='%s/b' --virtual-time-budget=8000"
             " --window-size=1400,1000 --screenshot='%s' 'http://127.0.0.1:%d/?live=0#run=%lld'"
             " >/dev/null 2>&1",
             chromium, flags, dir, png, g_port, (long long)g_run);
    rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --screenshot failed (status %d)", rc);
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/reg_png_check.py '%s'", SL_PYTHON, root(), png);
    CHECK_MSG(system(cmd) == 0, "screenshot %s is blank or unreadable", png);
}

int main(void) {
    make_fixture();
    RUN(router_status_codes);
    RUN(server_http);
    RUN(server_event_stream);
    RUN(serve_command);
    RUN(dashboard_in_chromium);
    sl_server_stop(g_srv);
    return harness_done();
}
