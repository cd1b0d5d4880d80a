/* SPDX-License-Identifier: Apache-2.0 */
/* cli_job.h - the command layer's side of a job (src/loop): its progress callback draws the
 * bars the stage modules do not draw themselves, turns every stage into a registry job
 * (sl_job_begin / progress / end, which the dashboard shows and streams as SSE events),
 * records the stages' metrics as they come, and cancels the job when its run was marked
 * failed in the registry (POST /api/runs/ID/mark-failed). Internal to the command layer. */
#ifndef SL_CLI_JOB_H
#define SL_CLI_JOB_H

#include "synthloop/sl_core.h"
#include "synthloop/sl_loop.h"

#define CLI_JOB_MAX_OPEN 8

typedef struct cli_job {
    sl_registry *reg;
    int64_t run;
    struct {
        char stage[48];
        int64_t id, total;
        double t_progress, t_metric;
    } open[CLI_JOB_MAX_OPEN];
    int n_open;
    sl_progress bar; /* for stages that draw no bar of their own ("ab") */
    int bar_on;
    double t_check;  /* last look at the run's status */
    double check_every;
    int cancelled;   /* the run was marked failed by someone else */
    sl_status rec_status; /* first recording failure (the job is then cancelled) */
    char rec_msg[256];    /* its message */
    /* called for every report before the bookkeeping (e.g. demo's stage headers); may be NULL */
    void (*on_report)(void *ctx, const char *stage, int64_t done, int64_t total);
    void *on_report_ctx;
} cli_job;

/* Set up j and ctx (ctx->progress = the callback, ctx->reg/run_id = reg/run). */
void cli_job_init(cli_job *j, sl_registry *reg, int64_t run, sl_loop_ctx *ctx);
/* End the bar and every registry job still open: ok when st == SL_OK, else failed. Returns st,
 * or the first recording failure when st was SL_OK or SL_ERR_CANCELLED by it. */
sl_status cli_job_finish(cli_job *j, sl_status st);
/* The sl_loop_progress_fn (ctx is a cli_job*). */
int cli_job_progress(void *ctx, const char *stage, int64_t done, int64_t total,
                     const sl_loop_metric *metrics, size_t n_metrics);

#endif
