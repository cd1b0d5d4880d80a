/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - leveled logging to stderr and the terminal progress bar. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "synthloop/sl_core.h"

static int log_level = -1; /* -1: not yet initialised from the environment */

static const char *const level_names[] = {"debug", "info", "warning", "error", "quiet"};
_Static_assert(sizeof(level_names) / sizeof(level_names[0]) == SL_LOG_LEVEL_COUNT,
               "level_names must cover every level");

static void init_level(void) {
    if (log_level >= 0) return;
    log_level = SL_LOG_INFO;
    const char *e = getenv("SYNTHLOOP_LOG");
    if (!e) return;
    static const char *const env_names[] = {"debug", "info", "warn", "error", "quiet"};
    for (int i = 0; i < SL_LOG_LEVEL_COUNT; i++)
        if (strcmp(e, env_names[i]) == 0) log_level = i;
}

void sl_log_set_level(sl_log_level lvl) { log_level = (int)lvl; }

sl_log_level sl_log_get_level(void) {
    init_level();
    return (sl_log_level)log_level;
}

void sl_log(sl_log_level lvl, const char *fmt, ...) {
    init_level();
    if ((int)lvl < log_level || lvl >= SL_LOG_QUIET) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "synthloop: %s: ", level_names[lvl]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double sl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sl_utc_iso8601(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- progress bar ------------------------------------------------------- */

static int progress_quiet = 0;

void sl_progress_set_quiet(int quiet) { progress_quiet = quiet; }

void sl_progress_begin(sl_progress *p, const char *label, uint64_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = p->t_last = sl_now();
    p->active = !progress_quiet && isatty(STDERR_FILENO) && sl_log_get_level() < SL_LOG_QUIET;
}

static void progress_draw(sl_progress *p, const char *extra) {
    double frac = p->total ? (double)p->done / (double)p->total : 0.0;
    if (frac > 1.0) frac = 1.0;
    int width = 30, fill = (int)(frac * width + 0.5);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double el = sl_now() - p->t_start;
    double eta = frac > 0.0 ? el * (1.0 - frac) / frac : 0.0;
    fprintf(stderr, "\r\033[K%-16s [%s] %3.0f%% %6.1fs eta %5.1fs %s", p->label ? p->label : "",
            bar, 100.0 * frac, el, eta, extra ? extra : "");
    fflush(stderr);
}

static _Thread_local sl_progress_observer_fn observer;
static _Thread_local void *observer_ctx;
static _Thread_local int in_observer; /* a bar drawn by the observer itself is not observed */

static void notify(const sl_progress *p, uint64_t done, const char *extra) {
    if (!observer || in_observer) return;
    in_observer = 1;
    observer(observer_ctx, p->label, done, p->total, extra);
    in_observer = 0;
}

void sl_progress_set_observer(sl_progress_observer_fn fn, void *ctx,
                              sl_progress_observer_fn *prev_fn, void **prev_ctx) {
    if (prev_fn) *prev_fn = observer;
    if (prev_ctx) *prev_ctx = observer_ctx;
    observer = fn;
    observer_ctx = fn ? ctx : NULL;
}

void sl_progress_update(sl_progress *p, uint64_t done, const char *extra) {
    p->done = done;
    notify(p, done, extra);
    if (!p->active) return;
    double t = sl_now();
    if (t - p->t_last < 0.1 && done < p->total) return;
    p->t_last = t;
    progress_draw(p, extra);
}

void sl_progress_end(sl_progress *p) {
    notify(p, p->total, NULL);
    if (!p->active) return;
    p->done = p->total;
    progress_draw(p, NULL);
    fputc('\n', stderr);
    p->active = 0;
}
