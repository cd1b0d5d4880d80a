/* SPDX-License-Identifier: Apache-2.0 */
/* test_serve_robust.c - `synthloop serve` under hostile or careless clients, over real sockets on
 * 127.0.0.1 with bounded loops: closed event streams free their slot at once, event streams
 * cannot starve API requests, trickled headers time out, the Host header is checked (DNS
 * rebinding), note bodies are strict (UTF-8, one JSON value, no \u0000), text that is not
 * UTF-8 never leaks into JSON output, a locked registry answers 503, 404 messages do not carry
 * the database path, and mark-failed on a live run is seen by the run's owner. Each of these
 * failed before the fix that added it (see the commit messages). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

#define TOKEN "robust-token"

static char g_db[600];
static int64_t g_run;

static void make_fixture(void) {
    snprintf(g_db, sizeof g_db, "%s/robust.db", harness_tmpdir());
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK_OK(sl_run_begin(reg, "ab", "{\"seeds\":3}", 7, &g_run));
    CHECK_OK(sl_registry_add_metric(reg, g_run, "train/loss", 0, 0.5));
    CHECK_OK(sl_run_end(reg, g_run, SL_RUN_OK, NULL));
    sl_registry_close(reg);
}

/* --- sockets ------------------------------------------------------------------------------- */

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

static int send_all(int fd, const char *s, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t k = send(fd, s + off, n - off, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        off += (size_t)k;
    }
    return 0;
}

/* One request with Connection: close; returns the status (-1 on failure) and the body in
 * body (size n, may be NULL). */
static int http_req(int port, const char *method, const char *target, const char *host,
                    const char *headers, const char *body, size_t body_len, char *out, size_t n) {
    int fd = connect_to(port, 3.0);
    if (fd < 0) return -1;
    char req[8192];
    int k = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s"
                                      "Content-Length: %zu\r\n\r\n",
                     method, target, host, headers ? headers : "", body_len);
    if (k < 0 || (size_t)k + body_len >= sizeof req) {
        close(fd);
        return -1;
    }
    memcpy(req + k, body ? body : "", body_len);
    if (send_all(fd, req, (size_t)k + body_len) != 0) {
        close(fd);
        return -1;
    }
    static char buf[1 << 17];
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
    char *sep = strstr(buf, "\r\n\r\n");
    if (out && n) snprintf(out, n, "%s", sep ? sep + 4 : "");
    return status;
}

static int health_ok(int port) {
    return http_req(port, "GET", "/api/health", "127.0.0.1", NULL, NULL, 0, NULL, 0) == 200;
}

/* Open an event stream; returns the socket once "event: hello" arrived, else -1. */
static int open_stream(int port, int *status) {
    *status = -1;
    int fd = connect_to(port, 3.0);
    if (fd < 0) return -1;
    static const char req[] = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (send_all(fd, req, sizeof req - 1) != 0) {
        close(fd);
        return -1;
    }
    char buf[4096];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        sscanf(buf, "HTTP/1.%*d %d", status);
        if (strstr(buf, "event: hello")) return fd;
        if (*status != 200 && strstr(buf, "\r\n\r\n") && strstr(buf, "}")) break;
    }
    close(fd);
    return -1;
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static sl_server *start(int max_conn, int max_streams, double header_timeout) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.port = 0;
    c.db_path = g_db;
    c.token = TOKEN;
    c.max_connections = max_conn;
    c.max_streams = max_streams;
    c.sse_poll_s = 0.05;
    c.header_timeout_s = header_timeout;
    sl_server *s = NULL;
    CHECK_OK(sl_server_start(&c, &s));
    return s;
}

/* --- event streams ------------------------------------------------------------------------------ */

TEST(closed_streams_free_their_slots) {
    signal(SIGPIPE, SIG_IGN);
    sl_server *srv = start(16, 8, 10.0);
    if (!srv) return;
    int port = sl_server_port(srv);
    CHECK(health_ok(port));
    usleep(200000);
    int base = count_fds();
    /* 40 streams opened and closed one after the other: more than the connection limit */
    int hellos = 0;
    double t0 = sl_now();
    for (int i = 0; i < 40 && sl_now() - t0 < 20; i++) {
        int st;
        int fd = open_stream(port, &st);
        if (fd >= 0) {
            hellos++;
            close(fd);
        }
        usleep(20000);
    }
    CHECK_MSG(hellos == 40, "only %d of 40 sequential streams were served", hellos);
    /* every stream's socket, thread and registry handle are gone within a second */
    int now = -1;
    for (int k = 0; k < 20; k++) {
        now = count_fds();
        if (now <= base) break;
        usleep(50000);
    }
    CHECK_MSG(now <= base, "descriptors still open after closing the streams: %d > %d", now, base);
    CHECK(health_ok(port));
    sl_server_stop(srv);
}

TEST(streams_cannot_starve_api) {
    sl_server *srv = start(16, 4, 10.0);
    if (!srv) return;
    int port = sl_server_port(srv);
    int fds[16], open_n = 0, refused = 0;
    for (int i = 0; i < 16; i++) {
        int st;
        fds[i] = open_stream(port, &st);
        if (fds[i] >= 0)
            open_n++;
        else if (st == 503)
            refused++;
    }
    CHECK_MSG(open_n == 4 && refused == 12, "streams open %d (want 4), refused with 503 %d (want 12)",
              open_n, refused);
    int ok = 0;
    for (int i = 0; i < 10; i++) ok += health_ok(port);
    CHECK_MSG(ok == 10, "API answered %d of 10 requests while streams were held", ok);
    for (int i = 0; i < 16; i++)
        if (fds[i] >= 0) close(fds[i]);
    sl_server_stop(srv);
}

/* --- slow headers ---------------------------------------------------------------------------- */

typedef struct trickle_arg {
    int port, n;
    double seconds;
    int closed_by_server; /* sockets the server closed */
} trickle_arg;

static void *trickle_main(void *p) {
    trickle_arg *a = p;
    int fds[64];
    for (int i = 0; i < a->n; i++) {
        fds[i] = connect_to(a->port, 0.05);
        /* even clients trickle header lines, odd ones a body after complete headers */
        static const char head[] = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        static const char post[] = "POST /api/runs/1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Content-Length: 4000\r\n\r\n{\"note\":\"";
        if (fds[i] >= 0) send_all(fds[i], i % 2 ? post : head, i % 2 ? sizeof post - 1 : sizeof head - 1);
    }
    int *closed = calloc((size_t)a->n, sizeof *closed);
    double t0 = sl_now();
    while (sl_now() - t0 < a->seconds) {
        for (int i = 0; i < a->n; i++) {
            if (fds[i] < 0 || closed[i]) continue;
            if (send(fds[i], i % 2 ? "xxxxxxxxxxx" : "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0)
                closed[i] = 1;
            char c;
            ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
            if (r == 0) closed[i] = 1;
        }
        usleep(200000);
    }
    for (int i = 0; i < a->n; i++) {
        a->closed_by_server += closed[i];
        if (fds[i] >= 0) close(fds[i]);
    }
    free(closed);
    return NULL;
}

TEST(trickled_headers_time_out) {
    sl_server *srv = start(16, 4, 1.0);
    if (!srv) return;
    trickle_arg a = {sl_server_port(srv), 16, 4.0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle_main, &a) == 0);
    usleep(300000);
    /* all 16 slots are held by slow clients now; within the 1 s request timeout (+ slack)
     * they are dropped and a normal request gets through while they keep trickling */
    int ok = 0;
    double t0 = sl_now();
    while (!ok && sl_now() - t0 < 3.0) {
        ok = health_ok(a.port);
        if (!ok) usleep(100000);
    }
    double waited = sl_now() - t0;
    pthread_join(th, NULL);
    CHECK_MSG(ok, "no request got through while 16 clients trickled headers or bodies");
    CHECK_MSG(a.closed_by_server == 16, "server closed %d of 16 slow clients", a.closed_by_server);
    if (ok) printf("  request served %.2f s after 16 slow clients took every slot\n", waited);
    sl_server_stop(srv);
}

/* --- Host header ------------------------------------------------------------------------------ */

TEST(host_header_checked) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.host = "10.1.2.3";
    static const char *const good[] = {"localhost", "localhost:8765", "LOCALHOST", "localhost.",
                                       "app.localhost:80", "127.0.0.1", "127.0.0.1:8765",
                                       "[::1]", "[::1]:8765", "10.1.2.3:99", "192.168.0.7"};
    static const char *const bad[] = {"evil.example", "evil.example:8765", "127.0.0.1.evil.example",
                                      "localhost.evil.example", "", "[::1", "[::1]x", "[evil]",
                                      "localhost:", "localhost:80x", "127.0.0.1:8765:1",
                                      "xlocalhost", "::1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(sl_http_host_ok(&c, good[i]) == 1, "Host '%s' refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(sl_http_host_ok(&c, bad[i]) == 0, "Host '%s' accepted", bad[i]);
    sl_server *srv = start(16, 4, 10.0);
    if (!srv) return;
    int port = sl_server_port(srv);
    char host[64], body[4096];
    snprintf(host, sizeof host, "localhost:%d", port);
    CHECK(http_req(port, "GET", "/api/runs", host, NULL, NULL, 0, NULL, 0) == 200);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    CHECK(http_req(port, "GET", "/api/runs", host, NULL, NULL, 0, NULL, 0) == 200);
    /* a rebinding page: its requests carry the attacker's name */
    snprintf(host, sizeof host, "rebind.attacker.example:%d", port);
    CHECK(http_req(port, "GET", "/api/runs", host, NULL, NULL, 0, body, sizeof body) == 421);
    CHECK(strstr(body, "\"error\"") != NULL && strstr(body, "\"train/loss\"") == NULL);
    CHECK(http_req(port, "GET", "/", host, NULL, NULL, 0, NULL, 0) == 421);
    CHECK(http_req(port, "GET", "/api/events", host, NULL, NULL, 0, NULL, 0) == 421);
    sl_server_stop(srv);
}

/* --- notes API ------------------------------------------------------------------------------------ */

static int route(sl_registry *reg, const sl_serve_config *c, const char *method, const char *target,
                 const char *body, size_t body_len, char *out, size_t n) {
    sl_http_request rq = {method, target, "Bearer " TOKEN, body, body_len, NULL};
    sl_http_response rs;
    sl_http_route(c, reg, &rq, &rs);
    if (out && n) snprintf(out, n, "%.*s", (int)rs.body_len, rs.body ? rs.body : "");
    int st = rs.status;
    sl_http_response_free(&rs);
    return st;
}

static int note_is(const char *want) {
    sl_registry *reg;
    if (sl_registry_open(g_db, &reg) != SL_OK) return 0;
    cJSON *j = NULL;
    int ok = sl_registry_run_summary(reg, g_run, &j) == SL_OK &&
             strcmp(sl_json_str(cJSON_GetObjectItem(j, "run"), "note", "(null)"), want) == 0;
    cJSON_Delete(j);
    sl_registry_close(reg);
    return ok;
}

TEST(note_bodies_are_strict) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    c.token = TOKEN;
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    char t[128], out[1024];
    snprintf(t, sizeof t, "/api/runs/%lld/notes", (long long)g_run);
    CHECK(route(reg, &c, "POST", t, "{\"note\":\"before\"}", strlen("{\"note\":\"before\"}"), NULL, 0) == 200);
    CHECK(note_is("before"));
    static const char bad_utf8[] = "{\"note\":\"caf\xe9\"}";          /* Latin-1 e-acute */
    static const char overlong[] = "{\"note\":\"\xc0\xaf\"}";          /* overlong '/' */
    static const char surrogate[] = "{\"note\":\"\xed\xa0\x80\"}";     /* UTF-16 surrogate */
    static const char trailing[] = "{\"note\":\"a\"} xyz";
    static const char two[] = "{\"note\":\"a\"}{\"note\":\"b\"}";
    static const char nul_esc[] = "{\"note\":\"a\\u0000hidden\"}";
    static const char nul_esc2[] = "{\"note\":\"a\\u0000\"}";
    static const char nul_raw[] = "{\"note\":\"a\0b\"}";
    struct { const char *b; size_t n; } bad[] = {
        {bad_utf8, sizeof bad_utf8 - 1}, {overlong, sizeof overlong - 1},
        {surrogate, sizeof surrogate - 1}, {trailing, sizeof trailing - 1},
        {two, sizeof two - 1}, {nul_esc, sizeof nul_esc - 1}, {nul_esc2, sizeof nul_esc2 - 1},
        {nul_raw, sizeof nul_raw - 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = route(reg, &c, "POST", t, bad[i].b, bad[i].n, out, sizeof out);
        CHECK_MSG(st == 400, "body %zu answered %d: %s", i, st, out);
    }
    CHECK(note_is("before")); /* nothing written */
    /* valid: whitespace after the body, a literal backslash-u0000 text, real UTF-8 */
    static const char ok1[] = "{\"note\":\"caf\xc3\xa9 \\\\u0000 \xf0\x9f\x9a\x80\"} \r\n";
    CHECK(route(reg, &c, "POST", t, ok1, sizeof ok1 - 1, out, sizeof out) == 200);
    CHECK(note_is("caf\xc3\xa9 \\u0000 \xf0\x9f\x9a\x80"));
    /* the library refuses ill-formed UTF-8 too */
    CHECK_STATUS(sl_run_set_note(reg, g_run, "caf\xe9"), SL_ERR_ARG);
    CHECK_STATUS(sl_run_begin(reg, "bad\xff", NULL, 1, NULL), SL_ERR_ARG);
    sl_registry_close(reg);
    CHECK(note_is("caf\xc3\xa9 \\u0000 \xf0\x9f\x9a\x80"));
}

/* Text written by an older build (no validation) must still come out as valid JSON. */
TEST(stored_invalid_utf8_is_emitted_as_valid_json) {
    sqlite3 *h;
    CHECK(sqlite3_open(g_db, &h) == SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE runs SET note='x\xff\xfey\xc3' WHERE id=%lld", (long long)g_run);
    CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(h, "UPDATE metrics SET series='lo\xe9ss'", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    static char out[1 << 16];
    char t[128];
    const char *targets[4] = {"/api/runs", NULL, NULL, NULL};
    char t1[64], t2[64], t3[64];
    snprintf(t1, sizeof t1, "/api/runs/%lld", (long long)g_run);
    snprintf(t2, sizeof t2, "/api/runs/%lld/export", (long long)g_run);
    snprintf(t3, sizeof t3, "/api/runs/%lld/metrics", (long long)g_run);
    targets[1] = t1;
    targets[2] = t2;
    targets[3] = t3;
    for (int i = 0; i < 4; i++) {
        CHECK(route(reg, &c, "GET", targets[i], NULL, 0, out, sizeof out) == 200);
        CHECK_MSG(sl_utf8_valid(out, strlen(out)), "%s: output is not UTF-8", targets[i]);
        cJSON *j = cJSON_Parse(out);
        CHECK_MSG(j != NULL, "%s: output is not JSON", targets[i]);
        cJSON_Delete(j);
        CHECK_MSG(strstr(out, "x\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd") != NULL ||
                      strstr(out, "lo\xef\xbf\xbdss") != NULL,
                  "%s: bad bytes not replaced by U+FFFD", targets[i]);
    }
    sl_registry_close(reg);
    /* the commands: runs --json, runs show --json, export */
    const char *bin = getenv("SL_BIN");
    static const char *const args[] = {"runs --json", "runs show last --json", "export last"};
    for (int i = 0; i < 3; i++) {
        snprintf(t, sizeof t, "%s", args[i]);
        char cmd[1500];
        snprintf(cmd, sizeof cmd, "'%s' %s --db '%s'", bin && *bin ? bin : "build/synthloop", t, g_db);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p) continue;
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        CHECK(pclose(p) == 0);
        CHECK_MSG(sl_utf8_valid(out, n), "%s: output is not UTF-8", t);
        cJSON *j = cJSON_Parse(out);
        CHECK_MSG(j != NULL, "%s: output is not JSON", t);
        cJSON_Delete(j);
    }
}

/* --- locked registry, paths in messages ------------------------------------------------------- */

TEST(locked_registry_answers_503) {
    sqlite3 *h;
    CHECK(sqlite3_open(g_db, &h) == SQLITE_OK);
    CHECK(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    c.token = TOKEN;
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK_OK(sl_registry_set_busy_timeout(reg, 200));
    char t[128], out[1024];
    snprintf(t, sizeof t, "/api/runs/%lld/notes", (long long)g_run);
    double t0 = sl_now();
    int st = route(reg, &c, "POST", t, "{\"note\":\"locked\"}", strlen("{\"note\":\"locked\"}"), out, sizeof out);
    CHECK_MSG(st == 503, "locked registry answered %d: %s", st, out);
    CHECK(sl_now() - t0 < 5.0);
    CHECK(strstr(out, "locked") != NULL);
    CHECK(route(reg, &c, "GET", "/api/runs", NULL, 0, NULL, 0) == 200); /* readers go on (WAL) */
    CHECK(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    CHECK(route(reg, &c, "POST", t, "{\"note\":\"unlocked\"}", strlen("{\"note\":\"unlocked\"}"), NULL, 0) == 200);
    sl_registry_close(reg);
}

TEST(not_found_messages_hide_the_db_path) {
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    c.token = TOKEN;
    sl_registry *reg;
    CHECK_OK(sl_registry_open(g_db, &reg));
    static const char *const targets[] = {"/api/runs/987654", "/api/runs/987654/export",
                                          "/api/runs/987654/report", "/api/compare?a=987654&b=1",
                                          "/api/runs/987654/metrics", "/api/weights?run=987654"};
    char out[1024];
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        CHECK(route(reg, &c, "GET", targets[i], NULL, 0, out, sizeof out) == 404);
        CHECK_MSG(strstr(out, harness_tmpdir()) == NULL && strstr(out, ".db") == NULL,
                  "%s leaks the path: %s", targets[i], out);
    }
    CHECK(route(reg, &c, "POST", "/api/runs/987654/notes", "{\"note\":\"x\"}", strlen("{\"note\":\"x\"}"), out, sizeof out) == 404);
    CHECK_MSG(strstr(out, ".db") == NULL, "notes 404 leaks the path: %s", out);
    sl_registry_close(reg);
}

/* --- mark-failed on a live run (cancellation, store side) --------------------------------------- */

TEST(mark_failed_live_run_is_seen_by_its_owner) {
    sl_registry *owner;
    CHECK_OK(sl_registry_open(g_db, &owner));
    int64_t run, job;
    CHECK_OK(sl_run_begin(owner, "train", NULL, 1, &run));
    CHECK_OK(sl_job_begin(owner, run, "epochs", 10, &job));
    sl_server *srv = start(16, 4, 10.0);
    if (!srv) {
        sl_registry_close(owner);
        return;
    }
    char t[128], body[2048];
    snprintf(t, sizeof t, "/api/runs/%lld/mark-failed", (long long)run);
    CHECK(http_req(sl_server_port(srv), "POST", t, "127.0.0.1", "Authorization: Bearer " TOKEN "\r\n",
                   "{\"reason\":\"cancelled from the dashboard\"}",
                   strlen("{\"reason\":\"cancelled from the dashboard\"}"), body, sizeof body) == 200);
    sl_server_stop(srv);
    /* the owner's own connection sees the new status at its next poll */
    sl_rows_query q = sl_rows_query_default();
    q.status = SL_RUN_FAILED;
    sl_rows *rows = NULL;
    CHECK_OK(sl_registry_rows(owner, SL_ROWS_RUNS, &q, &rows));
    int seen = 0;
    for (size_t i = 0; rows && i < rows->nrow; i++)
        seen |= sl_rows_get(rows, i, "id")->i == run;
    sl_rows_free(rows);
    CHECK_MSG(seen, "owner does not see run %lld as failed", (long long)run);
    /* its job is ended with it; the owner's later end and progress are refused, not applied */
    CHECK_STATUS(sl_job_progress(owner, job, 5, "epoch 5"), SL_ERR_STATE);
    CHECK_STATUS(sl_run_end(owner, run, SL_RUN_OK, NULL), SL_ERR_STATE);
    cJSON *j = NULL;
    CHECK_OK(sl_registry_run_summary(owner, run, &j));
    const cJSON *r = cJSON_GetObjectItem(j, "run");
    CHECK(strcmp(sl_json_str(r, "status", ""), "failed") == 0);
    CHECK(strcmp(sl_json_str(cJSON_GetObjectItem(r, "summary"), "error", ""),
                 "cancelled from the dashboard") == 0);
    CHECK(strcmp(sl_json_str(cJSON_GetObjectItem(j, "jobs")->child, "status", ""), "failed") == 0);
    cJSON_Delete(j);
    sl_registry_close(owner);
}

int main(void) {
    make_fixture();
    RUN(closed_streams_free_their_slots);
    RUN(streams_cannot_starve_api);
    RUN(trickled_headers_time_out);
    RUN(host_header_checked);
    RUN(note_bodies_are_strict);
    RUN(locked_registry_answers_503);
    RUN(not_found_messages_hide_the_db_path);
    RUN(mark_failed_live_run_is_seen_by_its_owner);
    RUN(stored_invalid_utf8_is_emitted_as_valid_json);
    return harness_done();
}
