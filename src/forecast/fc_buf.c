/* SPDX-License-Identifier: Apache-2.0 */
/* fc_buf.c - the growable text buffer of the forecast HTML and SVG writers (report, page).
 * Invariant: after the first failed allocation the buffer stays as it was and oom is set;
 * every later append is a no-op, so a writer checks oom once at the end. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fc_internal.h"

void fc_printf(fc_buf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t nc = (b->cap ? 2 * b->cap : 4096) + (size_t)w;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

void fc_html_escape(fc_buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fc_printf(b, "&lt;"); break;
        case '>': fc_printf(b, "&gt;"); break;
        case '&': fc_printf(b, "&amp;"); break;
        case '"': fc_printf(b, "&quot;"); break;
        default: fc_printf(b, "%c", *s);
        }
    }
}
