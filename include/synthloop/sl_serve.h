/* SPDX-License-Identifier: Apache-2.0 */
/* sl_serve.h - `synthloop serve`: a JSON API over the registry, the dashboard page, live
 * progress as server-sent events, and the pure request router the HTTP server and the fuzz
 * target share.
 *
 * Routes (docs/REGISTRY.md, "HTTP API"):
 *   GET  /api/health                     {"ok": true, "version", "git", "schema_version"}
 *   GET  /api/runs[?limit=N&status=S]    runs, newest first
 *   GET  /api/runs/ID                    run summary (config, series stats, rows, verdicts)
 *   GET  /api/runs/ID/metrics[?series=S] {"series": {"step": [...], "value": [...]}}
 *   GET  /api/runs/ID/export             the `synthloop export` document
 *   GET  /api/runs/ID/report             the HTML report (text/html)
 *   GET  /api/compare?a=ID&b=ID          side-by-side comparison
 *   GET  /api/experiments                A/B experiments of all runs
 *   GET  /api/models                     models of all runs
 *   GET  /api/weights?run=ID[&limit=N]   weight-controller rows of a run
 *   GET  /api/jobs[?status=S]            jobs
 *   GET  /api/events[?run=ID&max_seconds=S]  text/event-stream of new runs/jobs/metrics
 *   POST /api/runs/ID/notes              {"note": "..."}         needs Authorization: Bearer
 *   POST /api/runs/ID/mark-failed        {"reason": "..."} or {} needs Authorization: Bearer
 *   GET  /, /index.html, /app.js, ...    dashboard files from the web root
 * Errors are JSON {"error": "..."} with 400 (malformed), 401 (token), 403 (mutations
 * disabled: no token configured), 404, 405, 409 (run not running), 413 (body too large),
 * 421 (Host header not a loopback name or address literal), 503 (registry locked or
 * unavailable, too many event streams).
 */
#ifndef SL_SERVE_H
#define SL_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_serve_config {
    const char *host;     /* bind address, default "127.0.0.1" */
    int port;             /* default 8765; 0 = any free port (see sl_server_port) */
    const char *db_path;  /* registry file (required to start a server) */
    const char *token;    /* bearer token for POST routes; NULL/"" disables them (403) */
    const char *web_root; /* directory of the dashboard files; NULL = no static files */
    size_t max_body;      /* request body limit in bytes (413 above), default 65536 */
    int max_connections;  /* all TCP connections, default 256 */
    int max_streams;      /* open /api/events streams, default 32 (503 above), so that event
                             streams can never take the connections API requests need;
                             clamped to max_connections / 2 */
    double sse_poll_s;    /* event-stream poll interval, default 0.25 s */
    double header_timeout_s; /* a client must send its complete request (headers and body)
                                within this many seconds of connecting (or of its previous
                                request ending), else it is disconnected; default 10 s */
    int busy_ms;          /* registry busy timeout of the server's connections, default 10000;
                             a registry still locked after it answers 503 */
    struct sl_policy_server *policy; /* borrowed: serves /v1/act and /v1/feedback (sl_deploy.h);
                                        NULL = policy serving off (/v1 answers 404) */
    const char *data_root; /* privapi: directory the privacy API may read tables from and
                              write releases into (paths in requests are relative to it);
                              NULL = POST /api/privacy/anonymize answers 403 */
} sl_serve_config;

void sl_serve_config_default(sl_serve_config *c);

/* --- the pure router --------------------------------------------------------- */

typedef struct sl_http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *target;        /* request target as sent: percent-encoded path, optional
                                  "?query"; the router decodes it */
    const char *authorization; /* Authorization header value or NULL */
    const char *body;          /* may be NULL when body_len == 0; need not be NUL-terminated */
    size_t body_len;
    const char *host;          /* Host header value or NULL (absent: allowed, as HTTP/1.0
                                  clients may omit it; browsers always send it) */
} sl_http_request;

typedef struct sl_http_response {
    int status;               /* HTTP status code */
    char *body;               /* malloc'd (sl_http_response_free) */
    size_t body_len;
    const char *content_type; /* static string */
    int is_event_stream;      /* 1: GET /api/events accepted; body is empty and the server
                                 streams events itself (sl_http_route never blocks) */
    int64_t stream_run;       /* run filter of the event stream, 0 = all */
    double stream_max_s;      /* end the stream after this many seconds, 0 = never */
} sl_http_response;

/* 1 if a Host header value is acceptable (defence against DNS rebinding: a web page on
 * another origin must not be able to read the API through a name that resolves to us).
 * Accepted: "localhost" and names under ".localhost", any IPv4 literal, any bracketed IPv6
 * literal, and the configured bind host; each optionally followed by ":port". Everything
 * else (any other DNS name) is refused with 421 by sl_http_route. */
int sl_http_host_ok(const sl_serve_config *c, const char *host);

/* Route one request against the registry (reg may be NULL: API routes then answer 503).
 * Never blocks, never crashes on any input; always fills resp with a status and a body
 * (JSON for API routes and errors). Body limits are the caller's job except that bodies
 * longer than c->max_body are answered 413. */
void sl_http_route(const sl_serve_config *c, sl_registry *reg, const sl_http_request *req,
                   sl_http_response *resp);
void sl_http_response_free(sl_http_response *r);

/* 1 if `authorization` is "Bearer <token>" with the configured token (constant-time
 * comparison of fixed-size hashes; 0 when no token is configured). */
int sl_http_token_ok(const sl_serve_config *c, const char *authorization);

/* --- the server -------------------------------------------------------------------- */

typedef struct sl_server sl_server;

/* Start serving in background threads (one per connection; libmicrohttpd). Fails with
 * SL_ERR_IO if the address cannot be bound, SL_ERR_DB if the registry cannot be opened.
 * The config strings are copied. *out is owned by the caller (sl_server_stop). */
sl_status sl_server_start(const sl_serve_config *c, sl_server **out);
/* The port actually bound (useful with port 0). */
int sl_server_port(const sl_server *s);
/* Stop accepting, end event streams, join all threads, free. Accepts NULL. */
void sl_server_stop(sl_server *s);

#ifdef __cplusplus
}
#endif
#endif /* SL_SERVE_H */
