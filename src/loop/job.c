/* SPDX-License-Identifier: Apache-2.0 */
/* job.c - what every job shares: reporting progress, noticing cancellation, and forwarding the
 * stage modules' progress bars (with the "name value" pairs of their text as metrics).
 * Invariant: once a cancellation was requested, every later sl_loop_report returns
 * SL_ERR_CANCELLED, so a job cannot lose the request between two checks. */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_loop.h"

sl_status sl_loop_report(sl_loop_ctx *ctx, const char *stage, int64_t done, int64_t total,
                         const sl_loop_metric *metrics, size_t n_metrics) {
    if (!ctx) return SL_OK;
    if (ctx->progress &&
        ctx->progress(ctx->progress_ctx, stage ? stage : "", done, total, metrics, n_metrics))
        ctx->cancel_requested = 1;
    if (ctx->cancel && *ctx->cancel) ctx->cancel_requested = 1;
    if (ctx->cancel_requested)
        return sl_set_error(SL_ERR_CANCELLED, "%s: cancelled at %lld of %lld", stage ? stage : "job",
                            (long long)done, (long long)total);
    return SL_OK;
}

/* "loss 0.1 val 0.2 (early stop)" -> {loss: 0.1, val: 0.2}: a word followed by a number. */
static size_t parse_metrics(const char *extra, char names[][32], sl_loop_metric *m, size_t max) {
    size_t n = 0;
    const char *p = extra;
    while (p && *p && n < max) {
        while (*p == ' ') p++;
        size_t wl = strcspn(p, " ");
        if (!wl) break;
        const char *q = p + wl;
        while (*q == ' ') q++;
        char *end = NULL;
        double v = *q ? strtod(q, &end) : 0.0;
        int is_word = (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z');
        if (is_word && end && end != q && (*end == ' ' || *end == 0) && wl < 32) {
            memcpy(names[n], p, wl);
            names[n][wl] = 0;
            m[n].name = names[n];
            m[n].value = v;
            n++;
            p = end;
        } else {
            p = q;
        }
    }
    return n;
}

static void observer(void *vctx, const char *label, uint64_t done, uint64_t total,
                     const char *extra) {
    sl_loop_ctx *ctx = vctx;
    char names[8][32];
    sl_loop_metric m[8];
    size_t n = extra ? parse_metrics(extra, names, m, 8) : 0;
    /* the stage module cannot stop here: the request is kept for the job's next check (no
     * error message is set here, so the module's own messages stay intact) */
    if (ctx->progress && ctx->progress(ctx->progress_ctx, label ? label : "", (int64_t)done,
                                       (int64_t)total, n ? m : NULL, n))
        ctx->cancel_requested = 1;
}

void sl_loop_observe_begin(sl_loop_ctx *ctx, sl_loop_observe *saved) {
    sl_progress_set_observer(ctx ? observer : NULL, ctx, &saved->prev_fn, &saved->prev_ctx);
}

void sl_loop_observe_end(const sl_loop_observe *saved) {
    sl_progress_set_observer(saved->prev_fn, saved->prev_ctx, NULL, NULL);
}
