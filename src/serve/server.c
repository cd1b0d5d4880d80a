/* SPDX-License-Identifier: Apache-2.0 */
/* server.c - the libmicrohttpd front of `synthloop serve`: sockets, request bodies, one
 * registry connection per HTTP connection, and the server-sent event stream.
 *
 * Invariants: all routing decisions are made by sl_http_route (router.c); this file only
 * moves bytes. Request bodies are bounded: a Content-Length above the limit is answered 413
 * before the body is read, and a chunked body that grows past it is discarded and answered
 * 413. Event streams poll the registry from their own connection, watch their socket while
 * they wait (a client that closes the stream frees its slot, thread and registry handle
 * within one 50 ms slice), end within one slice of sl_server_stop, and are capped at
 * max_streams so that they never take the slots API requests need. A watchdog thread
 * disconnects clients that have not sent a complete request (headers and body)
 * header_timeout_s after connecting (or after their previous request), so that trickled
 * headers or bodies cannot hold every connection slot.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve_internal.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_serve.h"

typedef struct conn_ctx conn_ctx;

struct sl_server {
    struct MHD_Daemon *d;
    sl_serve_config cfg;
    char *host, *db_path, *token, *web_root; /* owned copies behind cfg's pointers */
    char *data_root;                         /* privapi: owned copy */
    atomic_int stopping;
    atomic_int streams; /* open event streams */
    int port;
    /* header watchdog: every live connection, under `lock` */
    pthread_mutex_t lock;
    conn_ctx *conns;
    pthread_t watchdog;
    int watchdog_running;
};

/* Per TCP connection: a lazily opened registry handle (used only by that connection's
 * thread), and the request deadline the watchdog enforces (0 = none: request complete). */
struct conn_ctx {
    sl_registry *reg;
    int fd;
    double deadline; /* under srv->lock */
    conn_ctx *prev, *next;
};

/* Per request: the raw target and the accumulated body. */
typedef struct req_ctx {
    char *target;
    sl_buf body;
    int too_big;
    int started;
} req_ctx;

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* --- event stream ------------------------------------------------------------------------ */

typedef struct sse_state {
    sl_server *srv;
    sl_registry *reg;
    int64_t run;       /* filter, 0 = all */
    double max_s, t0, last_send;
    int64_t metric_rowid, run_rev, job_rev;
    sl_buf out;        /* pending bytes */
    size_t out_pos;
    int hello_sent;
    int fd;            /* the client's socket, watched for close while waiting */
} sse_state;

/* Append events for rows newer than the cursors. Returns the number of events added. */
static int sse_poll(sse_state *s) {
    int added = 0;
    static const struct {
        const char *event, *cursor_col;
        sl_rows_kind kind;
        int64_t limit;
    } q[] = {
        {"run", "rev", SL_ROWS_RUN_CHANGES, 200},
        {"job", "rev", SL_ROWS_JOB_CHANGES, 200},
        {"metric", "rowid", SL_ROWS_METRIC_CHANGES, 500},
    };
    for (int k = 0; k < 3; k++) {
        int64_t *cursor = k == 0 ? &s->run_rev : k == 1 ? &s->job_rev : &s->metric_rowid;
        sl_rows_query rq = sl_rows_query_default();
        rq.after = *cursor;
        rq.run = s->run;
        rq.limit = q[k].limit;
        sl_rows *rows = NULL;
        if (sl_registry_rows(s->reg, q[k].kind, &rq, &rows) != SL_OK) continue;
        cJSON *arr = NULL;
        if (sl_rows_to_json(rows, &arr) != SL_OK) {
            sl_rows_free(rows);
            continue;
        }
        for (size_t i = 0; i < rows->nrow; i++) {
            const sl_cell *c = sl_rows_get(rows, i, q[k].cursor_col);
            if (c && c->type == SL_CELL_INT && c->i > *cursor) *cursor = c->i;
        }
        for (cJSON *r = arr->child; r; r = r->next) {
            char *txt = cJSON_PrintUnformatted(r);
            if (!txt) continue;
            sl_buf_printf(&s->out, "event: %s\ndata: %s\n\n", q[k].event, txt);
            free(txt);
            added++;
        }
        cJSON_Delete(arr);
        sl_rows_free(rows);
    }
    return added;
}

/* Wait up to 50 ms for the client socket to become readable; 1 if the peer closed it (EOF,
 * reset or hang-up). Bytes the client sends on an event stream are left unread. */
static int client_gone(int fd) {
    if (fd < 0) {
        sleep_s(0.05);
        return 0;
    }
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    int k = poll(&p, 1, 50);
    if (k <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) return 1;
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) return 1;
    if (r > 0) sleep_s(0.05); /* data we do not read: do not spin on it */
    return 0;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse_state *s = cls;
    for (;;) {
        if (s->out.len > s->out_pos) {
            size_t n = s->out.len - s->out_pos;
            if (n > max) n = max;
            memcpy(buf, s->out.s + s->out_pos, n);
            s->out_pos += n;
            if (s->out_pos == s->out.len) {
                s->out.len = 0;
                s->out_pos = 0;
            }
            s->last_send = sl_now();
            return (ssize_t)n;
        }
        if (atomic_load(&s->srv->stopping) || s->out.oom) return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->max_s > 0 && sl_now() - s->t0 >= s->max_s) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!s->hello_sent) {
            s->hello_sent = 1;
            sl_buf_printf(&s->out,
                          "retry: 2000\nevent: hello\ndata: {\"run\":%lld,\"metric_rowid\":%lld,"
                          "\"run_rev\":%lld,\"job_rev\":%lld}\n\n",
                          (long long)s->run, (long long)s->metric_rowid, (long long)s->run_rev,
                          (long long)s->job_rev);
            continue;
        }
        if (sse_poll(s)) continue;
        if (sl_now() - s->last_send > 15.0) {
            sl_buf_puts(&s->out, ": ping\n\n");
            continue;
        }
        /* wait one poll interval in short slices, watching the socket: a client that went
         * away ends the stream at once (its slot, thread and registry handle are freed) */
        double until = sl_now() + s->srv->cfg.sse_poll_s;
        while (sl_now() < until && !atomic_load(&s->srv->stopping)) {
            if (client_gone(s->fd)) return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void sse_free(void *cls) {
    sse_state *s = cls;
    atomic_fetch_sub(&s->srv->streams, 1);
    sl_registry_close(s->reg);
    sl_buf_free(&s->out);
    free(s);
}

static struct MHD_Response *sse_response(sl_server *srv, const sl_http_response *hr, int fd) {
    sse_state *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&srv->streams, 1);
        return NULL;
    }
    s->srv = srv;
    s->fd = fd;
    s->run = hr->stream_run;
    s->max_s = hr->stream_max_s;
    s->t0 = s->last_send = sl_now();
    if (sl_registry_open(srv->cfg.db_path, &s->reg) != SL_OK) {
        sse_free(s);
        return NULL;
    }
    sl_registry_set_busy_timeout(s->reg, srv->cfg.busy_ms);
    if (sl_registry_event_cursors(s->reg, &s->run_rev, &s->job_rev, &s->metric_rowid) != SL_OK) {
        sse_free(s);
        return NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_reader, s, sse_free);
    if (!resp) sse_free(s);
    return resp;
}

/* --- request handling ---------------------------------------------------------------------- */

static enum MHD_Result send_json_error(struct MHD_Connection *conn, int status, const char *msg) {
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":%d}", msg, status);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
    (void)url;
    (void)version;
    sl_server *srv = cls;
    req_ctx *rq = *req_cls;
    if (!rq) return MHD_NO; /* the URI log callback always allocates one */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *cc = ci ? (conn_ctx *)ci->socket_context : NULL;
    if (!rq->started) {
        rq->started = 1;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (*end || v > srv->cfg.max_body) return send_json_error(conn, 413, "request body too large");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rq->too_big && rq->body.len + *upload_data_size <= srv->cfg.max_body)
            sl_buf_put(&rq->body, upload_data, *upload_data_size);
        else
            rq->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big) return send_json_error(conn, 413, "request body too large");
    if (rq->body.oom) return send_json_error(conn, 500, "out of memory");

    if (cc) { /* the request is complete: the watchdog leaves this connection alone */
        pthread_mutex_lock(&srv->lock);
        cc->deadline = 0;
        pthread_mutex_unlock(&srv->lock);
    }
    if (cc && !cc->reg) {
        if (sl_registry_open(srv->cfg.db_path, &cc->reg) == SL_OK)
            sl_registry_set_busy_timeout(cc->reg, srv->cfg.busy_ms);
        else
            cc->reg = NULL;
    }

    sl_http_request hreq = {method, rq->target,
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
                            rq->body.s, rq->body.len,
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")};
    sl_http_response hr;
    sl_http_route(&srv->cfg, cc ? cc->reg : NULL, &hreq, &hr);
    struct MHD_Response *resp;
    if (hr.is_event_stream) {
        /* take a stream slot (sse_free gives it back) */
        if (atomic_fetch_add(&srv->streams, 1) >= srv->cfg.max_streams) {
            atomic_fetch_sub(&srv->streams, 1);
            return send_json_error(conn, 503, "too many event streams open; retry later");
        }
        resp = sse_response(srv, &hr, cc ? cc->fd : -1);
        if (!resp) return send_json_error(conn, 503, "cannot open event stream");
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else {
        resp = MHD_create_response_from_buffer(hr.body_len, hr.body ? hr.body : (void *)"",
                                               hr.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
            sl_http_response_free(&hr);
            return MHD_NO;
        }
        hr.body = NULL; /* owned by the response now */
        MHD_add_response_header(resp, "Content-Type", hr.content_type ? hr.content_type : "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (hr.content_type && strncmp(hr.content_type, "text/html", 9) == 0)
            MHD_add_response_header(resp, "Content-Security-Policy",
                                    "default-src 'self'; style-src 'self' 'unsafe-inline';"
                                    " img-src 'self' data:; frame-ancestors 'self'");
        if (hr.status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)hr.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    req_ctx *rq = calloc(1, sizeof *rq);
    if (rq) rq->target = strdup(uri ? uri : "");
    if (rq && !rq->target) {
        free(rq);
        rq = NULL;
    }
    return rq;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)toe;
    sl_server *srv = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *cc = ci ? (conn_ctx *)ci->socket_context : NULL;
    if (cc) { /* a kept-alive connection gets the same time for its next request's headers */
        pthread_mutex_lock(&srv->lock);
        cc->deadline = sl_now() + srv->cfg.header_timeout_s;
        pthread_mutex_unlock(&srv->lock);
    }
    req_ctx *rq = *req_cls;
    if (!rq) return;
    free(rq->target);
    sl_buf_free(&rq->body);
    free(rq);
    *req_cls = NULL;
}

/* Connections enter the watchdog's list when they open and leave it (under the lock) before
 * libmicrohttpd closes their socket, so the watchdog never touches a reused descriptor. */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe) {
    sl_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_ctx *cc = calloc(1, sizeof *cc);
        *socket_context = cc;
        if (!cc) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci ? (int)ci->connect_fd : -1;
        pthread_mutex_lock(&srv->lock);
        cc->deadline = sl_now() + srv->cfg.header_timeout_s;
        cc->next = srv->conns;
        if (srv->conns) srv->conns->prev = cc;
        srv->conns = cc;
        pthread_mutex_unlock(&srv->lock);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_ctx *cc = *socket_context;
        if (cc) {
            pthread_mutex_lock(&srv->lock);
            if (cc->prev) cc->prev->next = cc->next;
            else srv->conns = cc->next;
            if (cc->next) cc->next->prev = cc->prev;
            pthread_mutex_unlock(&srv->lock);
            sl_registry_close(cc->reg);
        }
        free(cc);
        *socket_context = NULL;
    }
}

/* Disconnect clients whose request is overdue (shutdown makes libmicrohttpd's read
 * see end-of-file; it then closes the connection itself). */
static void *watchdog_main(void *arg) {
    sl_server *srv = arg;
    while (!atomic_load(&srv->stopping)) {
        double now = sl_now();
        pthread_mutex_lock(&srv->lock);
        for (conn_ctx *cc = srv->conns; cc; cc = cc->next)
            if (cc->deadline > 0 && now > cc->deadline && cc->fd >= 0) {
                shutdown(cc->fd, SHUT_RDWR);
                cc->deadline = 0;
            }
        pthread_mutex_unlock(&srv->lock);
        sleep_s(0.05);
    }
    return NULL;
}

/* --- lifecycle -------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

sl_status sl_server_start(const sl_serve_config *c, sl_server **out) {
    *out = NULL;
    if (!c || !c->db_path || !*c->db_path) return sl_set_error(SL_ERR_ARG, "serve: no registry path");
    if (c->port < 0 || c->port > 65535) return sl_set_error(SL_ERR_ARG, "serve: port %d out of range", c->port);
    /* open once up front: creates/migrates the file and fails early on a bad path */
    sl_registry *probe = NULL;
    SL_TRY(sl_registry_open(c->db_path, &probe));
    sl_registry_close(probe);

    sl_server *s = calloc(1, sizeof *s);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "serve: out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->cfg = *c;
    s->host = dup_or_null(c->host ? c->host : "127.0.0.1");
    s->db_path = dup_or_null(c->db_path);
    s->token = dup_or_null(c->token);
    s->web_root = dup_or_null(c->web_root);
    s->cfg.host = s->host;
    s->cfg.db_path = s->db_path;
    s->cfg.token = s->token;
    s->cfg.web_root = s->web_root;
    s->data_root = dup_or_null(c->data_root); /* privapi */
    s->cfg.data_root = s->data_root;
    if (!s->cfg.max_body) s->cfg.max_body = 65536;
    if (s->cfg.max_connections <= 0) s->cfg.max_connections = 256;
    if (s->cfg.max_streams <= 0) s->cfg.max_streams = 32;
    if (s->cfg.max_streams > s->cfg.max_connections / 2) s->cfg.max_streams = s->cfg.max_connections / 2;
    if (s->cfg.max_streams < 1) s->cfg.max_streams = 1;
    if (!(s->cfg.sse_poll_s > 0)) s->cfg.sse_poll_s = 0.25;
    if (!(s->cfg.header_timeout_s > 0)) s->cfg.header_timeout_s = 10.0;
    if (s->cfg.busy_ms <= 0) s->cfg.busy_ms = 10000;

    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *addr;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, s->host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)c->port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, s->host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)c->port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        sl_server_stop(s);
        return sl_set_error(SL_ERR_ARG, "serve: host '%s' is not a numeric IPv4/IPv6 address",
                            c->host ? c->host : "");
    }
    s->d = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, handle, s,
                            MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                            MHD_OPTION_END);
    if (!s->d) {
        int port = c->port;
        sl_server_stop(s);
        return sl_set_error(SL_ERR_IO, "serve: cannot listen on %s:%d (address in use or not "
                                       "permitted)",
                            c->host ? c->host : "127.0.0.1", port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->port;
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
        sl_server_stop(s);
        return sl_set_error(SL_ERR_INTERNAL, "serve: cannot start the header watchdog thread");
    }
    s->watchdog_running = 1;
    *out = s;
    return SL_OK;
}

int sl_server_port(const sl_server *s) { return s ? s->port : 0; }

void sl_server_stop(sl_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, 1);
    if (s->watchdog_running) pthread_join(s->watchdog, NULL);
    if (s->d) MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
    free(s->host);
    free(s->db_path);
    free(s->token);
    free(s->web_root);
    free(s->data_root);
    free(s);
}
