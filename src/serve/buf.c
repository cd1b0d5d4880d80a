/* SPDX-License-Identifier: Apache-2.0 */
/* buf.c - growable NUL-terminated text buffer for HTML, SVG and JSON output.
 * Invariant: after an allocation failure the buffer keeps its old contents, sets oom and
 * ignores further appends, so callers check once at the end (sl_buf_take). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

void sl_buf_free(sl_buf *b) {
    if (!b) return;
    free(b->s);
    memset(b, 0, sizeof *b);
}

static int reserve(sl_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void sl_buf_put(sl_buf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sl_buf_puts(sl_buf *b, const char *s) {
    if (s) sl_buf_put(b, s, strlen(s));
}

void sl_buf_printf(sl_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sl_buf_put(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sl_buf_html(sl_buf *b, const char *s) {
    if (!s) return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            sl_buf_put(b, run, (size_t)(s - run));
            sl_buf_puts(b, rep);
            run = s + 1;
        }
    }
    sl_buf_put(b, run, (size_t)(s - run));
}

void sl_buf_json_str(sl_buf *b, const char *s) {
    sl_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': sl_buf_puts(b, "\\\""); break;
        case '\\': sl_buf_puts(b, "\\\\"); break;
        case '\n': sl_buf_puts(b, "\\n"); break;
        case '\r': sl_buf_puts(b, "\\r"); break;
        case '\t': sl_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20 || *p == '<') /* '<' escaped so JSON can sit inside <script> */
                sl_buf_printf(b, "\\u%04x", *p);
            else
                sl_buf_put(b, (const char *)p, 1);
        }
    }
    sl_buf_put(b, "\"", 1);
}

char *sl_buf_take(sl_buf *b, size_t *len) {
    if (b->oom) {
        sl_buf_free(b);
        sl_set_error(SL_ERR_NOMEM, "out of memory building a document");
        return NULL;
    }
    if (!b->s) sl_buf_put(b, "", 0);
    if (b->oom) return NULL;
    char *s = b->s;
    if (len) *len = b->len;
    memset(b, 0, sizeof *b);
    return s;
}
