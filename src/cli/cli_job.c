/* SPDX-License-Identifier: Apache-2.0 */
/* cli_job.c - progress, registry jobs and cancellation for the commands (see cli_job.h).
 * Invariant: every registry job this file begins is ended (ok or failed) by cli_job_finish
 * or when its stage reports done == total; registry writes are throttled (progress every
 * 0.5 s, metrics every 0.5 s per stage, plus each stage's last report). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"

void cli_job_init(cli_job *j, sl_registry *reg, int64_t run, sl_loop_ctx *ctx) {
    memset(j, 0, sizeof *j);
    j->reg = reg;
    j->run = run;
    j->check_every = 1.0;
    j->t_check = sl_now();
    memset(ctx, 0, sizeof *ctx);
    ctx->progress = cli_job_progress;
    ctx->progress_ctx = j;
    ctx->reg = reg;
    ctx->run_id = run;
}

static int find_open(cli_job *j, const char *stage) {
    for (int i = 0; i < j->n_open; i++)
        if (strcmp(j->open[i].stage, stage) == 0) return i;
    return -1;
}

static void rec_fail(cli_job *j, sl_status s) {
    if (j->rec_status != SL_OK || j->cancelled) return;
    /* marking the run failed from outside also ends its jobs: that is a cancellation */
    sl_run_status rs;
    if (sl_run_get_status(j->reg, j->run, &rs) == SL_OK && rs != SL_RUN_RUNNING) {
        j->cancelled = 1;
        return;
    }
    j->rec_status = s;
    snprintf(j->rec_msg, sizeof j->rec_msg, "%s", sl_last_error());
}

static void close_open(cli_job *j, int i, sl_run_status st) {
    sl_status s = sl_job_end(j->reg, j->open[i].id, st);
    if (s != SL_OK && !j->cancelled) rec_fail(j, s);
    j->open[i] = j->open[--j->n_open];
}

/* The registry job of `stage`, begun on its first report. */
static int job_for(cli_job *j, const char *stage, int64_t done, int64_t total) {
    int i = find_open(j, stage);
    if (i >= 0 || !j->reg) return i;
    /* a stage's closing report after its job ended (e.g. a bar's end) opens no new job */
    if (total > 0 && done >= total) return -1;
    if (j->n_open == CLI_JOB_MAX_OPEN) close_open(j, 0, SL_RUN_OK);
    i = j->n_open;
    snprintf(j->open[i].stage, sizeof j->open[i].stage, "%s", stage);
    j->open[i].total = total > 0 ? total : 0;
    j->open[i].t_progress = j->open[i].t_metric = 0.0;
    sl_status s = sl_job_begin(j->reg, j->run, j->open[i].stage, j->open[i].total, &j->open[i].id);
    if (s != SL_OK) {
        rec_fail(j, s);
        return -1;
    }
    j->n_open++;
    return i;
}

static void record(cli_job *j, const char *stage, int64_t done, int64_t total,
                   const sl_loop_metric *m, size_t n) {
    int i = job_for(j, stage, done, total);
    if (i < 0) return;
    double t = sl_now();
    int last = total > 0 && done >= total;
    sl_status s = SL_OK;
    if (last || t - j->open[i].t_progress >= 0.5) {
        char msg[160] = "";
        size_t k = 0;
        for (size_t q = 0; q < n && k + 1 < sizeof msg; q++)
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s%s %.4g", q ? " " : "", m[q].name,
                                  m[q].value);
        if (k >= sizeof msg) k = sizeof msg - 1;
        s = sl_job_progress(j->reg, j->open[i].id, done, k ? msg : NULL);
        j->open[i].t_progress = t;
    }
    if (s == SL_OK && n && (last || t - j->open[i].t_metric >= 0.5)) {
        for (size_t q = 0; s == SL_OK && q < n; q++) {
            char series[128];
            snprintf(series, sizeof series, "%s/%s", stage, m[q].name);
            for (char *c = series; *c; c++)
                if (*c == ' ') *c = '_';
            s = sl_registry_add_metric(j->reg, j->run, series, done, m[q].value);
        }
        j->open[i].t_metric = t;
    }
    if (s != SL_OK) rec_fail(j, s);
    if (s == SL_OK && last) close_open(j, i, SL_RUN_OK);
}

/* 1 when the run is no longer running in the registry (marked failed from outside). */
static int run_was_stopped(cli_job *j) {
    if (!j->reg || !j->run) return 0;
    double t = sl_now();
    if (t - j->t_check < j->check_every) return 0;
    j->t_check = t;
    sl_run_status st;
    if (sl_run_get_status(j->reg, j->run, &st) != SL_OK) return 0;
    return st != SL_RUN_RUNNING;
}

static void draw_bar(cli_job *j, const char *stage, int64_t done, int64_t total,
                     const sl_loop_metric *m, size_t n) {
    /* the stage modules draw their own bars; these stages are the job layer's */
    if (strcmp(stage, "ab") != 0 && strcmp(stage, "train") != 0) return;
    if (!j->bar_on) {
        sl_progress_begin(&j->bar, strcmp(stage, "ab") == 0 ? "ab" : "train",
                          (uint64_t)(total > 0 ? total : 0));
        j->bar_on = 1;
    }
    (void)m;
    (void)n;
    const char *extra = NULL;
    /* our own bar is not a stage module's progress: keep the job layer's observer out */
    sl_progress_observer_fn fn;
    void *fctx;
    sl_progress_set_observer(NULL, NULL, &fn, &fctx);
    sl_progress_update(&j->bar, (uint64_t)done, extra);
    if (total > 0 && done >= total) {
        sl_progress_end(&j->bar);
        j->bar_on = 0;
    }
    sl_progress_set_observer(fn, fctx, NULL, NULL);
}

int cli_job_progress(void *ctx, const char *stage, int64_t done, int64_t total,
                     const sl_loop_metric *metrics, size_t n_metrics) {
    cli_job *j = ctx;
    if (j->on_report) j->on_report(j->on_report_ctx, stage, done, total);
    draw_bar(j, stage, done, total, metrics, n_metrics);
    if (j->reg && j->rec_status == SL_OK) record(j, stage, done, total, metrics, n_metrics);
    if (!j->cancelled && run_was_stopped(j)) j->cancelled = 1;
    return j->cancelled || j->rec_status != SL_OK;
}

sl_status cli_job_finish(cli_job *j, sl_status st) {
    if (j->bar_on) {
        sl_progress_observer_fn fn;
        void *fctx;
        sl_progress_set_observer(NULL, NULL, &fn, &fctx);
        sl_progress_end(&j->bar);
        sl_progress_set_observer(fn, fctx, NULL, NULL);
        j->bar_on = 0;
    }
    while (j->n_open > 0) close_open(j, j->n_open - 1, st == SL_OK ? SL_RUN_OK : SL_RUN_FAILED);
    if (j->cancelled && st == SL_ERR_CANCELLED)
        return sl_set_error(SL_ERR_CANCELLED, "run %lld was marked failed in the registry; the "
                            "job stopped", (long long)j->run);
    if (j->rec_status != SL_OK && (st == SL_OK || st == SL_ERR_CANCELLED))
        return sl_set_error(j->rec_status, "recording progress failed: %s", j->rec_msg);
    return st;
}
