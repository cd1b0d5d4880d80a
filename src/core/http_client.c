/* SPDX-License-Identifier: Apache-2.0 */
/* http_client.c - a minimal HTTP/1.1 client over sockets for http:// URLs (no TLS): one POST per
 * connection (Connection: close), one deadline covering resolve, connect, send and receive,
 * chunked and Content-Length bodies. Written for `forecast predict` (src/forecast) and moved
 * here so that `synthloop traffic` and forecast share one client.
 *
 * Invariant: on success *resp is the decoded body (NUL-terminated, malloc'd) and *status the
 * response's code (any code: the caller decides what a 4xx means); on failure nothing is
 * allocated and the message names the URL and the step that failed. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "synthloop/sl_core.h"

typedef struct url_parts {
    char host[256], port[8], path[1024];
} url_parts;

static sl_status parse_url(const char *url, const char *suffix, url_parts *u) {
    if (strncmp(url, "http://", 7) != 0)
        return sl_set_error(SL_ERR_ARG, "endpoint '%.200s': only http:// URLs are supported "
                            "(no TLS; put a local proxy in front of https endpoints)", url);
    const char *h = url + 7, *e = h;
    while (*e && *e != ':' && *e != '/') e++;
    if (e == h || (size_t)(e - h) >= sizeof u->host)
        return sl_set_error(SL_ERR_ARG, "endpoint '%.200s': no host", url);
    memcpy(u->host, h, (size_t)(e - h));
    u->host[e - h] = 0;
    snprintf(u->port, sizeof u->port, "80");
    if (*e == ':') {
        const char *p = ++e;
        while (*e >= '0' && *e <= '9') e++;
        if (e == p || e - p > 5 || (*e && *e != '/'))
            return sl_set_error(SL_ERR_ARG, "endpoint '%.200s': bad port", url);
        memcpy(u->port, p, (size_t)(e - p));
        u->port[e - p] = 0;
    }
    /* the prefix without trailing slashes, then the suffix */
    size_t pl = strlen(e);
    while (pl > 0 && e[pl - 1] == '/') pl--;
    int n = snprintf(u->path, sizeof u->path, "%.*s%s", (int)pl, e, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= sizeof u->path)
        return sl_set_error(SL_ERR_ARG, "endpoint '%.200s': path too long", url);
    if (!u->path[0]) snprintf(u->path, sizeof u->path, "/");
    return SL_OK;
}

sl_status sl_http_url_join(const char *base, const char *suffix, char *out, size_t cap) {
    url_parts u;
    SL_TRY(parse_url(base, suffix, &u));
    int n = snprintf(out, cap, "http://%s:%s%s", u.host, u.port, u.path);
    if (n < 0 || (size_t)n >= cap)
        return sl_set_error(SL_ERR_ARG, "endpoint '%.200s': URL too long", base);
    return SL_OK;
}

static double now_s(void) { return sl_now(); }

static int wait_fd(int fd, short ev, double deadline) {
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)(left * 1000.0) + 1);
        if (r > 0) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

static sl_status connect_to(const url_parts *u, double deadline, int *out) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0)
        return sl_set_error(SL_ERR_IO, "http://%s:%s: cannot resolve: %s", u->host, u->port,
                            gai_strerror(g));
    sl_status st = sl_set_error(SL_ERR_IO, "http://%s:%s: no address", u->host, u->port);
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int fl = fcntl(fd, F_GETFL, 0);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            int err = 0;
            socklen_t el = sizeof err;
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) r = 0;
            else errno = w == 0 ? ETIMEDOUT : (err ? err : errno);
        }
        if (r == 0) {
            *out = fd;
            freeaddrinfo(res);
            return SL_OK;
        }
        st = sl_set_error(SL_ERR_IO, "http://%s:%s: connect: %s", u->host, u->port, strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    return st;
}

static sl_status send_all(int fd, const char *p, size_t n, double deadline, const char *host) {
    while (n > 0) {
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w != 1) return sl_set_error(SL_ERR_IO, "%s: send: %s", host, w == 0 ? "timed out" : strerror(errno));
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return sl_set_error(SL_ERR_IO, "%s: send: %s", host, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return SL_OK;
}

#define HTTP_MAX_RESPONSE (64u << 20)

static sl_status recv_all(int fd, double deadline, const char *host, char **out, size_t *len) {
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    if (!b) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", host);
    for (;;) {
        int w = wait_fd(fd, POLLIN, deadline);
        if (w != 1) {
            free(b);
            return sl_set_error(SL_ERR_IO, "%s: receive: %s", host, w == 0 ? "timed out" : strerror(errno));
        }
        if (n + 4096 + 1 > cap) {
            if (cap >= HTTP_MAX_RESPONSE) {
                free(b);
                return sl_set_error(SL_ERR_IO, "%s: response larger than %u bytes", host, HTTP_MAX_RESPONSE);
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", host);
            }
            b = nb;
            cap *= 2;
        }
        ssize_t k = recv(fd, b + n, cap - n - 1, 0);
        if (k < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            free(b);
            return sl_set_error(SL_ERR_IO, "%s: receive: %s", host, strerror(errno));
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return SL_OK;
}

/* Decode a chunked body in place; returns the decoded length or (size_t)-1. */
static size_t dechunk(char *b, size_t n) {
    size_t r = 0, w = 0;
    for (;;) {
        size_t sz = 0;
        int digits = 0;
        while (r < n) {
            char c = b[r];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) break;
            if (sz > (SIZE_MAX >> 4)) return (size_t)-1;
            sz = sz * 16 + (size_t)v;
            digits++;
            r++;
        }
        if (!digits) return (size_t)-1;
        while (r < n && b[r] != '\n') r++; /* chunk extensions, CR */
        if (r >= n) return (size_t)-1;
        r++;
        if (sz == 0) return w;
        if (sz > n - r) return (size_t)-1;
        memmove(b + w, b + r, sz);
        w += sz;
        r += sz;
        if (r < n && b[r] == '\r') r++;
        if (r < n && b[r] == '\n') r++;
    }
}

static sl_status http_do(const char *method, const char *url, const char *body, const char *bearer,
                         double timeout_s, int *status, char **resp, size_t *resp_len) {
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    url_parts u;
    SL_TRY(parse_url(url, NULL, &u));
    if (!(timeout_s > 0.0)) timeout_s = 60.0;
    double deadline = now_s() + timeout_s;
    int fd = -1;
    SL_TRY(connect_to(&u, deadline, &fd));
    size_t bl = body ? strlen(body) : 0;
    if (bearer && (strlen(bearer) > 512 || strpbrk(bearer, "\r\n"))) {
        close(fd);
        return sl_set_error(SL_ERR_ARG, "%s: bearer token longer than 512 bytes or with a line break", url);
    }
    char head[2200];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Accept: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
                      "%s%s%sUser-Agent: synthloop/%s\r\n\r\n", method, u.path, u.host, u.port, bl,
                      bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "",
                      sl_version());
    sl_status st = hn > 0 && (size_t)hn < sizeof head
                       ? SL_OK
                       : sl_set_error(SL_ERR_ARG, "%s: request header too long", url);
    if (st == SL_OK) st = send_all(fd, head, (size_t)hn, deadline, url);
    if (st == SL_OK && bl) st = send_all(fd, body, bl, deadline, url);
    char *raw = NULL;
    size_t rn = 0;
    if (st == SL_OK) st = recv_all(fd, deadline, url, &raw, &rn);
    close(fd);
    SL_TRY(st);
    int code = 0;
    char *hend = strstr(raw, "\r\n\r\n");
    size_t hskip = 4;
    if (!hend) {
        hend = strstr(raw, "\n\n");
        hskip = 2;
    }
    if (sscanf(raw, "HTTP/1.%*[01] %d", &code) != 1 || !hend ||
        code < 100 || code > 599) {
        free(raw);
        return sl_set_error(SL_ERR_IO, "%s: not an HTTP response", url);
    }
    *hend = 0;
    char *bodyp = hend + hskip;
    size_t bn = rn - (size_t)(bodyp - raw);
    int chunked = 0;
    long long clen = -1;
    for (char *l = strchr(raw, '\n'); l && *l; l = strchr(l, '\n')) {
        l++;
        if (strncasecmp(l, "transfer-encoding:", 18) == 0 && strcasestr(l, "chunked") &&
            (!strchr(l, '\n') || strcasestr(l, "chunked") < strchr(l, '\n')))
            chunked = 1;
        if (strncasecmp(l, "content-length:", 15) == 0) clen = atoll(l + 15);
    }
    if (chunked) {
        size_t d = dechunk(bodyp, bn);
        if (d == (size_t)-1) {
            free(raw);
            return sl_set_error(SL_ERR_IO, "%s: malformed chunked body", url);
        }
        bn = d;
    } else if (clen >= 0) {
        if ((unsigned long long)clen > bn) {
            free(raw);
            return sl_set_error(SL_ERR_IO, "%s: body shorter (%zu bytes) than its Content-Length "
                                "%lld", url, bn, clen);
        }
        bn = (size_t)clen;
    }
    char *out = malloc(bn + 1);
    if (!out) {
        free(raw);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", url);
    }
    memcpy(out, bodyp, bn);
    out[bn] = 0;
    free(raw);
    *status = code;
    *resp = out;
    *resp_len = bn;
    return SL_OK;
}

/* --- answers ------------------------------------------------------------------ */

sl_status sl_http_post(const char *url, const char *body, const char *bearer, double timeout_s,
                       int *status, char **resp, size_t *resp_len) {
    return http_do("POST", url, body ? body : "", bearer, timeout_s, status, resp, resp_len);
}

sl_status sl_http_get(const char *url, double timeout_s, int *status, char **resp, size_t *resp_len) {
    return http_do("GET", url, NULL, NULL, timeout_s, status, resp, resp_len);
}

/* --- keep-alive connections ------------------------------------------------------------------ */

struct sl_http_conn {
    url_parts u;
    char base[300]; /* "http://host:port" for messages */
    double timeout_s;
    int fd;         /* -1 = not connected */
    char *buf;      /* bytes received past the previous response (none with a well-behaved server) */
    size_t cap;
};

sl_status sl_http_conn_open(const char *url, double timeout_s, sl_http_conn **out) {
    *out = NULL;
    sl_http_conn *c = calloc(1, sizeof *c);
    if (!c) return sl_set_error(SL_ERR_NOMEM, "http: out of memory");
    sl_status s = parse_url(url, NULL, &c->u);
    if (s != SL_OK) {
        free(c);
        return s;
    }
    snprintf(c->base, sizeof c->base, "http://%s:%s", c->u.host, c->u.port);
    c->timeout_s = timeout_s > 0 ? timeout_s : 60.0;
    c->fd = -1;
    c->cap = 16384;
    c->buf = malloc(c->cap);
    if (!c->buf) {
        free(c);
        return sl_set_error(SL_ERR_NOMEM, "http: out of memory");
    }
    *out = c;
    return SL_OK;
}

void sl_http_conn_close(sl_http_conn *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    free(c);
}

static void conn_drop(sl_http_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* read one response with a Content-Length body (what the synthloop server sends) */
static sl_status conn_read(sl_http_conn *c, double deadline, int *status, char **resp, size_t *resp_len,
                           int *got_any) {
    size_t n = 0, need = 0;
    char *hend = NULL;
    *got_any = 0;
    for (;;) {
        if (hend && n >= need) break;
        if (n + 4096 + 1 > c->cap) {
            if (c->cap >= HTTP_MAX_RESPONSE)
                return sl_set_error(SL_ERR_IO, "%s: response larger than %u bytes", c->base, HTTP_MAX_RESPONSE);
            char *nb = realloc(c->buf, c->cap * 2);
            if (!nb) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", c->base);
            c->buf = nb;
            c->cap *= 2;
        }
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w != 1)
            return sl_set_error(SL_ERR_IO, "%s: receive: %s", c->base, w == 0 ? "timed out" : strerror(errno));
        ssize_t k = recv(c->fd, c->buf + n, c->cap - n - 1, 0);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (k <= 0)
            return sl_set_error(SL_ERR_IO, "%s: connection closed %s", c->base, n ? "mid-response" : "before a response");
        *got_any = 1;
        n += (size_t)k;
        c->buf[n] = 0;
        if (!hend && (hend = strstr(c->buf, "\r\n\r\n")) != NULL) {
            long long clen = -1;
            for (char *l = strchr(c->buf, '\n'); l && l < hend; l = strchr(l, '\n')) {
                l++;
                if (strncasecmp(l, "content-length:", 15) == 0) clen = atoll(l + 15);
                if (strncasecmp(l, "transfer-encoding:", 18) == 0)
                    return sl_set_error(SL_ERR_IO, "%s: chunked reply on a keep-alive connection", c->base);
            }
            if (clen < 0 || (unsigned long long)clen > HTTP_MAX_RESPONSE)
                return sl_set_error(SL_ERR_IO, "%s: reply without a usable Content-Length", c->base);
            need = (size_t)(hend - c->buf) + 4 + (size_t)clen;
        }
    }
    int code = 0;
    if (sscanf(c->buf, "HTTP/1.%*[01] %d", &code) != 1 || code < 100 || code > 599)
        return sl_set_error(SL_ERR_IO, "%s: not an HTTP response", c->base);
    size_t off = (size_t)(hend - c->buf) + 4, bn = need - off;
    char *out = malloc(bn + 1);
    if (!out) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", c->base);
    memcpy(out, c->buf + off, bn);
    out[bn] = 0;
    if (strcasestr(c->buf, "\r\nconnection: close") && strcasestr(c->buf, "\r\nconnection: close") < hend)
        conn_drop(c);
    *status = code;
    *resp = out;
    *resp_len = bn;
    return SL_OK;
}

sl_status sl_http_conn_post(sl_http_conn *c, const char *path, const char *body, const char *bearer,
                            int *status, char **resp, size_t *resp_len) {
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    size_t bl = body ? strlen(body) : 0;
    if (bearer && (strlen(bearer) > 512 || strpbrk(bearer, "\r\n")))
        return sl_set_error(SL_ERR_ARG, "%s: bearer token longer than 512 bytes or with a line break", c->base);
    if (strlen(path) > 1024 || strpbrk(path, "\r\n "))
        return sl_set_error(SL_ERR_ARG, "%s: bad request path", c->base);
    /* header and body in one send: two small writes would wait for the delayed ACK (Nagle) */
    char *req = malloc(2200 + bl);
    if (!req) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", c->base);
    int hn = snprintf(req, 2200,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n%s%s%s\r\n", path, c->u.host, c->u.port, bl,
                      bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "");
    if (hn < 0 || hn >= 2200) {
        free(req);
        return sl_set_error(SL_ERR_ARG, "%s: request header too long", c->base);
    }
    if (bl) memcpy(req + hn, body, bl);
    size_t rl = (size_t)hn + bl;
    sl_status s = SL_OK;
    /* a reused connection the server closed meanwhile fails before any reply byte: reconnect
     * once and send again (nothing was processed: the server answers every request it reads) */
    for (int attempt = 0; attempt < 2; attempt++) {
        double deadline = now_s() + c->timeout_s;
        int reused = c->fd >= 0;
        s = reused ? SL_OK : connect_to(&c->u, deadline, &c->fd);
        if (s == SL_OK && !reused) {
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (s == SL_OK) s = send_all(c->fd, req, rl, deadline, c->base);
        int got = 0;
        if (s == SL_OK) s = conn_read(c, deadline, status, resp, resp_len, &got);
        if (s == SL_OK) break;
        conn_drop(c);
        if (!reused || got) break;
    }
    free(req);
    return s;
}
