/* SPDX-License-Identifier: Apache-2.0 */
/* predict.c - asking an OpenAI-compatible chat endpoint (llama.cpp server, vLLM, ...) for
 * probability trees: a minimal HTTP/1.1 client over sockets (http:// only, no TLS), retries
 * with doubling back-off, timeouts, a response cache, and strict parsing of the answer.
 *
 * Invariants: only a 2xx response whose message parses into a valid tree is cached; a
 * malformed answer is returned as an error with its reason (sl_fc_outcome), never dropped or
 * replaced; the request for a case is a pure function of the case and the options, so the
 * cache key (SHA-256 of endpoint, model and request body) is stable across runs.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <sodium.h>

#include "fc_internal.h"

static const char *const outcome_names[SL_FC_PRED_OUTCOME_COUNT] = {
    "ok", "http_error", "bad_response", "not_json", "bad_tree"};
_Static_assert(sizeof outcome_names / sizeof outcome_names[0] == SL_FC_PRED_OUTCOME_COUNT,
               "outcome names");

const char *sl_fc_outcome_name(sl_fc_outcome o) {
    return (unsigned)o < SL_FC_PRED_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

void sl_fc_predict_opts_default(sl_fc_predict_opts *o) {
    memset(o, 0, sizeof *o);
    o->model = "default";
    o->timeout_s = 60.0;
    o->retries = 3;
    o->backoff_s = 0.5;
    o->temperature = 0.0;
    o->max_tokens = 1024;
}

/* --- HTTP ------------------------------------------------------------------ */

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

sl_status sl_fc_http_post(const char *url, const char *body, double timeout_s, int *status,
                          char **resp, size_t *resp_len) {
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    url_parts u;
    SL_TRY(parse_url(url, NULL, &u));
    if (!(timeout_s > 0.0)) timeout_s = 60.0;
    double deadline = now_s() + timeout_s;
    int fd = -1;
    SL_TRY(connect_to(&u, deadline, &fd));
    size_t bl = strlen(body);
    char head[1600];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Accept: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
                      "User-Agent: synthloop/%s\r\n\r\n", u.path, u.host, u.port, bl, sl_version());
    sl_status st = hn > 0 && (size_t)hn < sizeof head
                       ? SL_OK
                       : sl_set_error(SL_ERR_ARG, "%s: request header too long", url);
    if (st == SL_OK) st = send_all(fd, head, (size_t)hn, deadline, url);
    if (st == SL_OK) st = send_all(fd, body, bl, deadline, url);
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

static sl_status tree_ok(const cJSON *chain, char *msg, size_t mn) {
    if (!cJSON_IsArray(chain) || cJSON_GetArraySize(chain) == 0) {
        snprintf(msg, mn, "outcome_chain missing or empty");
        return SL_ERR_FORMAT;
    }
    int i = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, chain) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(n, "event");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "probability");
        if (!cJSON_IsObject(n) || !cJSON_IsString(ev) || !cJSON_IsNumber(p) ||
            !(p->valuedouble >= 0.0 && p->valuedouble <= 1.0)) {
            snprintf(msg, mn, "node %d needs a string event and a probability in [0, 1]", i);
            return SL_ERR_FORMAT;
        }
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(n, "depth");
        if (d && !(cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= SL_FC_MAX_DEPTH &&
                   d->valuedouble == floor(d->valuedouble))) {
            snprintf(msg, mn, "node %d: depth must be an integer in [1, %d]", i, SL_FC_MAX_DEPTH);
            return SL_ERR_FORMAT;
        }
        const cJSON *tf = cJSON_GetObjectItemCaseSensitive(n, "timeframe_months");
        if (tf && !cJSON_IsNull(tf) && !cJSON_IsNumber(tf)) {
            snprintf(msg, mn, "node %d: timeframe_months must be a number", i);
            return SL_ERR_FORMAT;
        }
        const cJSON *al = cJSON_GetObjectItemCaseSensitive(n, "alternatives");
        if (al && !cJSON_IsNull(al)) {
            if (!cJSON_IsArray(al)) {
                snprintf(msg, mn, "node %d: alternatives must be an array", i);
                return SL_ERR_FORMAT;
            }
            const cJSON *a;
            cJSON_ArrayForEach(a, al) {
                const cJSON *ae = cJSON_GetObjectItemCaseSensitive(a, "event");
                const cJSON *ap = cJSON_GetObjectItemCaseSensitive(a, "probability");
                if (!ap) ap = cJSON_GetObjectItemCaseSensitive(a, "prob");
                if (!cJSON_IsString(ae) || !cJSON_IsNumber(ap) ||
                    !(ap->valuedouble >= 0.0 && ap->valuedouble <= 1.0)) {
                    snprintf(msg, mn, "node %d: an alternative needs an event and a probability "
                             "in [0, 1]", i);
                    return SL_ERR_FORMAT;
                }
            }
        }
        i++;
    }
    return SL_OK;
}

sl_status sl_fc_parse_answer(const char *text, const char *case_id, cJSON **out,
                             sl_fc_outcome *why) {
    *out = NULL;
    *why = SL_FC_PRED_NOT_JSON;
    if (!text) return sl_set_error(SL_ERR_FORMAT, "answer is empty");
    /* the first '{' or '[' from which a JSON value parses */
    cJSON *j = NULL;
    for (const char *p = text; *p && !j; p++) {
        if (*p != '{' && *p != '[') continue;
        j = cJSON_ParseWithOpts(p, NULL, 0);
    }
    if (!j) return sl_set_error(SL_ERR_FORMAT, "no JSON tree in the answer ('%.60s')", text);
    *why = SL_FC_PRED_BAD_TREE;
    cJSON *chain = NULL;
    if (cJSON_IsArray(j)) {
        chain = j;
        j = NULL;
    } else {
        chain = cJSON_DetachItemFromObjectCaseSensitive(j, "outcome_chain");
        cJSON_Delete(j);
        j = NULL;
    }
    char msg[160];
    if (tree_ok(chain, msg, sizeof msg) != SL_OK) {
        cJSON_Delete(chain);
        return sl_set_error(SL_ERR_FORMAT, "answer is not a valid tree: %s", msg);
    }
    int i = 1;
    cJSON *n;
    cJSON_ArrayForEach(n, chain) {
        if (!cJSON_GetObjectItemCaseSensitive(n, "depth")) cJSON_AddNumberToObject(n, "depth", i);
        i++;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "case_id", case_id ? case_id : "") ||
        !cJSON_AddItemToObject(o, "outcome_chain", chain)) {
        cJSON_Delete(o);
        cJSON_Delete(chain);
        return sl_set_error(SL_ERR_NOMEM, "answer: out of memory");
    }
    *why = SL_FC_PRED_OK;
    *out = o;
    return SL_OK;
}

/* --- one case ------------------------------------------------------------------ */

static char *request_body(const sl_fc_case *c, const sl_fc_predict_opts *o) {
    char *prompt = sl_fc_prompt(c);
    cJSON *r = prompt ? cJSON_CreateObject() : NULL;
    cJSON *msgs = r ? cJSON_AddArrayToObject(r, "messages") : NULL;
    cJSON *m1 = msgs ? cJSON_CreateObject() : NULL, *m2 = m1 ? cJSON_CreateObject() : NULL;
    char *txt = NULL;
    if (m2 && cJSON_AddItemToArray(msgs, m1)) {
        m1 = NULL;
        if (cJSON_AddItemToArray(msgs, m2)) {
            cJSON *a = cJSON_GetArrayItem(msgs, 0), *b = cJSON_GetArrayItem(msgs, 1);
            m2 = NULL;
            cJSON_AddStringToObject(a, "role", "system");
            cJSON_AddStringToObject(a, "content", sl_fc_system_prompt());
            cJSON_AddStringToObject(b, "role", "user");
            cJSON_AddStringToObject(b, "content", prompt);
            cJSON_AddStringToObject(r, "model", o->model ? o->model : "default");
            cJSON_AddNumberToObject(r, "temperature", o->temperature);
            cJSON_AddNumberToObject(r, "max_tokens", o->max_tokens);
            txt = cJSON_PrintUnformatted(r);
        }
    }
    cJSON_Delete(m1);
    cJSON_Delete(m2);
    cJSON_Delete(r);
    free(prompt);
    if (!txt) sl_set_error(SL_ERR_NOMEM, "predict: out of memory building the request");
    return txt;
}

static void cache_path(const sl_fc_predict_opts *o, const char *body, char *out, size_t n) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)o->endpoint, strlen(o->endpoint) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_hash_sha256_final(&st, h);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    for (size_t i = 0; i < crypto_hash_sha256_BYTES; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    snprintf(out, n, "%s/%s.json", o->cache_dir, hex);
}

/* The message text of a chat completion body (borrowed from j). */
static const char *message_text(const cJSON *j) {
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
    const cJSON *c0 = cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : NULL;
    const cJSON *m = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    const cJSON *t = m ? cJSON_GetObjectItemCaseSensitive(m, "content") : NULL;
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static sl_status answer_from_body(const char *body, const sl_fc_case *c, cJSON **pred,
                                  sl_fc_outcome *why) {
    cJSON *j = cJSON_Parse(body);
    const char *txt = j ? message_text(j) : NULL;
    if (!txt) {
        cJSON_Delete(j);
        *why = SL_FC_PRED_BAD_RESPONSE;
        return sl_set_error(SL_ERR_FORMAT, "case %s: the response is not a chat completion "
                            "(choices[0].message.content missing): '%.80s'", c->case_id, body);
    }
    sl_status st = sl_fc_parse_answer(txt, c->case_id, pred, why);
    if (st != SL_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", sl_last_error());
        sl_set_error(st, "case %s: %s", c->case_id, m);
    }
    cJSON_Delete(j);
    return st;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

sl_status sl_fc_predict_case(const sl_fc_case *c, const sl_fc_predict_opts *o, cJSON **pred,
                             sl_fc_outcome *why, int *cached) {
    *pred = NULL;
    *why = SL_FC_PRED_HTTP;
    *cached = 0;
    if (!o->endpoint) return sl_set_error(SL_ERR_ARG, "predict: no endpoint");
    if (sodium_init() < 0) return sl_set_error(SL_ERR_INTERNAL, "predict: libsodium init failed");
    url_parts u;
    SL_TRY(parse_url(o->endpoint, "/v1/chat/completions", &u));
    char url[1400];
    snprintf(url, sizeof url, "http://%s:%s%s", u.host, u.port, u.path);
    char *body = request_body(c, o);
    if (!body) return SL_ERR_NOMEM;
    char cpath[4096] = "";
    if (o->cache_dir) {
        cache_path(o, body, cpath, sizeof cpath);
        char *cb = NULL;
        size_t cl = 0;
        if (sl_read_file(cpath, &cb, &cl) == SL_OK) {
            sl_status st = answer_from_body(cb, c, pred, why);
            free(cb);
            if (st == SL_OK) {
                free(body);
                *cached = 1;
                return SL_OK;
            }
            *pred = NULL; /* a bad cache entry: ask again */
        }
    }
    sl_status st = SL_OK;
    char *resp = NULL;
    size_t rl = 0;
    int code = 0;
    double delay = o->backoff_s;
    for (int attempt = 0; attempt <= o->retries; attempt++) {
        free(resp);
        resp = NULL;
        st = sl_fc_http_post(url, body, o->timeout_s, &code, &resp, &rl);
        if (st == SL_OK && code >= 200 && code < 300) break;
        if (st == SL_OK) {
            st = sl_set_error(SL_ERR_IO, "case %s: %s answered HTTP %d: '%.80s'", c->case_id, url,
                              code, resp ? resp : "");
            if (code != 429 && code < 500) break; /* a client error does not get better */
        }
        if (attempt < o->retries) {
            SL_WARN("case %s: attempt %d failed (%s); retrying in %.2g s", c->case_id,
                    attempt + 1, sl_last_error(), delay);
            sleep_s(delay);
            delay *= 2.0;
        }
    }
    free(body);
    if (st != SL_OK) {
        free(resp);
        *why = SL_FC_PRED_HTTP;
        return st;
    }
    st = answer_from_body(resp, c, pred, why);
    if (st == SL_OK && o->cache_dir) {
        mkdir(o->cache_dir, 0777);
        if (sl_write_file_atomic(cpath, resp, rl) != SL_OK)
            SL_WARN("cache: %s", sl_last_error()); /* a cache write failure does not fail the case */
    }
    free(resp);
    return st;
}
