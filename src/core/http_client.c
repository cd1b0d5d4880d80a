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
