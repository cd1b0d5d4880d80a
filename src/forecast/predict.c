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

/* The HTTP POST itself is the core client's (sl_http_post, src/core/http_client.c). */
sl_status sl_fc_http_post(const char *url, const char *body, double timeout_s, int *status,
                          char **resp, size_t *resp_len) {
    return sl_http_post(url, body, NULL, timeout_s, status, resp, resp_len);
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
    char url[1400];
    SL_TRY(sl_http_url_join(o->endpoint, "/v1/chat/completions", url, sizeof url));
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
