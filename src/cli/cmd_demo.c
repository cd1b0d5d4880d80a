/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_demo.c - `synthloop demo` (what `make demo` runs): the whole loop on built-in defaults,
 * in one process and one registry run:
 *   collect -> encode -> bricks -> world model (stable) + unstable reference -> trust_net
 *   -> world eval per horizon -> gated branches -> SyntheticWeightController -> A/B in physics
 *   -> HTML report.
 * Every stage's output is a file in --out and a row in the registry. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_job.h"
#include "opts.h"
#include "run_record.h"
#include "pipeline.h"
#include "synthloop/sl_bricks.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_world.h"

SL_COMMAND(demo, "run the whole pipeline on built-in defaults and print the verdict")


/* The command line: the job's config plus the command's own options. */
typedef struct demo_cli {
    sl_loop_demo_config c;
    const char *db;
    int threads, quiet, full, no_poison;
} demo_cli;

static int parse_band(const char *cmd, const char *arg, void *dst) {
    demo_cli *d = dst;
    sl_loop_synth_opts tmp;
    sl_loop_synth_opts_default(&tmp);
    if (pl_parse_generator_band(cmd, arg, &tmp)) return 2;
    d->c.gband_set = 1;
    d->c.gband_lo = tmp.generator_band_lo;
    d->c.gband_hi = tmp.generator_band_hi;
    return 0;
}

#define F(x) offsetof(demo_cli, x)
static const cli_opt demo_opts[] = {
    {"out", CLI_STRING, F(c.out_dir), 0, 0, "DIR", "output directory (demo-out)", NULL, 0, NULL},
    {"episodes", CLI_INT, F(c.episodes), 5, 100000, "N", "real episodes (50)", "episodes", 0, NULL},
    {"horizon", CLI_INT, F(c.horizon), 1, 59, "H", "branch horizon (10)", "horizon", 0, NULL},
    {"synth-weight", CLI_DOUBLE, F(c.share), 0, 0.95, "W", "target synthetic share (0.1)",
     "synth_weight", 0, NULL},
    {"min-trust", CLI_DOUBLE, F(c.min_trust), 0, 1, "T", "trust floor (0.9)", "min_trust", 0, NULL},
    {"generator-band", CLI_CUSTOM, 0, 0, 0, "B",
     "certificate rail band: LO,HI | normal (0.8,1.2, default) |\n"
     "                       conservative | aggressive | off (see ab --help)", NULL, 0, parse_band},
    {"seeds", CLI_INT, F(c.seeds), 1, 1000, "N", "A/B seeds (5)", "seeds", 0, NULL},
    {"updates", CLI_INT, F(c.updates), 1, 10000000, "N", "learner updates per policy (3000)",
     "updates", 0, NULL},
    {"eval-episodes", CLI_INT, F(c.eval_episodes), 1, 100000, "N",
     "workcell episodes per final policy (10)", "eval_episodes", 0, NULL},
    {"hidden", CLI_INT, F(c.hidden), 1, 65536, "N", "learner width (128)", "hidden", 0, NULL},
    {"members", CLI_INT, F(c.members), 1, SL_WORLD_MAX_MEMBERS, "N",
     "world-model ensemble size (3)", "members", 0, NULL},
    {"wm-iters", CLI_INT, F(c.wm_iters), 1, 1000000, "N",
     "world-model optimiser steps per member (300)", "wm_iters", 0, NULL},
    {"poison-share", CLI_DOUBLE, F(c.poison_share), 0.01, 0.95, "W",
     "synthetic share of the ungated unstable generator's arm (0.25)", "poison_share", 0, NULL},
    {"no-poison", CLI_FLAG, F(no_poison), 0, 0, NULL, "skip the ungated poisoned-generator arm",
     "no_poison", 1, NULL},
    {"until-decided", CLI_FLAG, F(c.until_decided), 0, 0, NULL,
     "add seed pairs until each A/B is decided (sequential design, docs/STATISTICS.md)",
     "until_decided", 1, NULL},
    {"max-seeds", CLI_INT, F(c.max_seeds), 2, 1000, "N", "cap of --until-decided (30)", "max_seeds",
     0, NULL},
    {"full", CLI_FLAG, F(full), 0, 0, NULL,
     "the decisive version: 25 episodes, 20 evaluation episodes, --until-decided\n"
     "                       from 10 to 30 seed pairs (takes several minutes; prints its time)",
     "full", 1, NULL},
    {"seed", CLI_U64, F(c.seed), 0, 0, "N", "seed (0)", NULL, 0, NULL},
    {"threads", CLI_INT, F(threads), 0, 1024, "N", "compute threads (0 = all cores)", NULL, 0, NULL},
    {"db", CLI_STRING, F(db), 0, 0, "PATH|none", "registry (default synthloop.db or $SYNTHLOOP_DB)",
     NULL, 0, NULL},
    {"quiet", CLI_FLAG, F(quiet), 0, 0, NULL, "no progress bars", NULL, 1, NULL},
};
#undef F
#define N_DEMO_OPTS (sizeof demo_opts / sizeof demo_opts[0])

static void usage(void) {
    printf("usage: synthloop demo [--out DIR] [options]\n\n"
           "Runs the whole synthetic training loop on the built-in MuJoCo workcell:\n"
           "  1 collect real episodes          5 trust_net (real vs unstable/noisy negatives)\n"
           "  2 contrastive encoder (z_V)      6 world eval per horizon (5..60)\n"
           "  3 bricks (k-means)               7 gated branches + SyntheticWeightController\n"
           "  4 world model + unstable ref.    8 A/B in physics, verdict, HTML report\n"
           "Everything is written to DIR and recorded in the registry as one 'demo' run.\n\n"
           "options:\n");
    cli_opts_help(stdout, demo_opts, N_DEMO_OPTS);
}

/* The lines printed after stage k (0-based) from the job's result so far. */
static void print_stage_detail(int k, const sl_loop_demo_result *r) {
    switch (k) {
    case 0:
        printf("      %zu episodes, %zu steps: MPL %.0f units/h, error rate %.2f, EP %.1f units/Wh\n",
               r->collect.episodes, r->collect.steps, r->collect.mean_mpl,
               r->collect.mean_error_rate, r->collect.mean_ep);
        break;
    case 1:
        printf("      InfoNCE %.3f -> %.3f, held-out nearby-step retrieval %.2f (chance %.3f)\n",
               r->latent.loss_first_epoch, r->latent.loss_last_epoch, r->latent.val_retrieval,
               r->latent.val_chance);
        break;
    case 2: printf("      %d bricks (silhouette %.2f)\n", r->n_bricks, r->silhouette); break;
    case 3:
        printf("      %s, %d members: %d steps, held-out free-running score %.4f\n", r->world_mode,
               r->world_members, r->world.iters, r->world.best_val);
        break;
    case 4:
        printf("      held-out ROC-AUC %.3f, Brier %.3f, ECE %.3f; mean trust real %.2f, "
               "unstable reference %.3f\n", r->trust.auc, r->trust.brier, r->trust.ece,
               r->trust.mean_trust[0], r->trust.mean_trust[SL_TRUST_KIND_COUNT - 1]);
        break;
    case 5:
        printf("      %4s %9s %9s %9s %9s %9s | %s\n", "h", "std_ratio", "growth", "real_gr",
               "trust", "pass", "reference std_ratio / trust");
        for (int i = 0; i < r->n_h; i++)
            printf("      %4d %9.3f %9.3f %9.3f %9.3f %8.0f%% | %.2f / %.3f\n", r->eval[i].h,
                   r->eval[i].std_ratio, r->eval[i].var_growth, r->eval[i].var_growth_real,
                   r->eval[i].trust_mean, 100 * r->eval[i].trust_pass_rate,
                   r->eval_ref[i].std_ratio, r->eval_ref[i].trust_mean);
        break;
    case 6:
        printf("      %zu branches of %d steps, %zu passed the gates (%.0f%%)\n", r->n_branches,
               r->horizon, r->n_passed,
               r->n_branches ? 100.0 * (double)r->n_passed / (double)r->n_branches : 0.0);
        pl_print_certificate("      ", &r->cert);
        break;
    default: break;
    }
}

static void print_ab_table(const sl_ab_outcome *out, const cJSON *ab_json, const char *arm) {
    printf("\n      real-only vs %s: %d seed pairs, final policies, mean [95%% CI]; synthetic share "
           "%.3f (%zu synthetic rows)\n", arm, out->seeds, out->synth_share, out->n_synth);
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ab_json, "synthetic"), "rails");
    const cJSON *it;
    cJSON_ArrayForEach(it, rl) {
        if (cJSON_IsString(it) && (strcmp(it->valuestring, "low_pass_rate") == 0 ||
                                   strcmp(it->valuestring, "unstable_generator") == 0))
            printf("      generator rail %s fired: the controller gave the branches no "
                   "weight (docs/WEIGHTS.md)\n", it->valuestring);
    }
    for (int m = 0; m < SL_ABM_COUNT; m++) {
        const sl_ab_metric_summary *ms = &out->summary[m];
        printf("      %-11s real-only %9.4g [%.4g, %.4g]  %-8s %9.4g [%.4g, %.4g]",
               sl_ab_metric_name((sl_ab_metric)m), ms->ci[0].mean, ms->ci[0].lo, ms->ci[0].hi,
               strcmp(arm, "gated augmentation") == 0 ? "gated" : "ungated", ms->ci[1].mean,
               ms->ci[1].lo, ms->ci[1].hi);
        if (ms->valid && out->seeds >= 2)
            printf("  better by %+.1f%% [%+.1f, %+.1f] (paired p %.2g) %s\n", 100 * ms->dec.improvement,
                   100 * ms->dec.ci_lo, 100 * ms->dec.ci_hi, ms->dec.p_two_sided,
                   sl_ab_verdict_name(ms->dec.verdict));
        else printf("\n");
    }
}

static void print_ab(const sl_loop_demo_result *r) {
    print_ab_table(&r->ab, r->ab_json, "gated augmentation");
    if (r->have_ab_poison) print_ab_table(&r->ab_poison, r->ab_poison_json, "ungated unstable generator");
}

/* one verdict line: decided, or inconclusive with the pairs a power calculation asks for */
static void print_verdict(const char *label, const sl_ab_outcome *o) {
    printf("verdict (%s): %s -> %s\n", label, sl_ab_verdict_name(o->headline),
           sl_ab_verdict_action(o->headline));
    if (o->headline == SL_AB_INCONCLUSIVE) {
        if (o->seeds_needed > 0)
            printf("         nothing is decided with %d seed pairs: about %ld pairs would decide it at the "
                   "observed effect and variance (power 0.8; synthloop demo --full)\n", o->seeds,
                   o->seeds_needed);
        else
            printf("         nothing is decided with %d seed pairs, and no feasible number of pairs would "
                   "decide it at the observed effect\n", o->seeds);
    } else {
        printf("         decided with %d seed pairs (paired tests at alpha %.3g%s)\n", o->seeds,
               o->alpha_last, o->looks > 1 ? ", sequential" : "");
    }
}

/* Stage headers as the job reaches them, each preceded by the previous stage's lines. */
static void on_report(void *ctx, const char *stage, int64_t done, int64_t total) {
    const sl_loop_demo_result *r = ctx;
    if (sl_cli_quiet || strcmp(stage, "demo") != 0 || total != SL_LOOP_DEMO_STAGES) return;
    if (done > 0) print_stage_detail((int)done - 1, r);
    if (done < SL_LOOP_DEMO_STAGES)
        printf("[%d/%d] %s\n", (int)done + 1, SL_LOOP_DEMO_STAGES,
               sl_loop_demo_stage_names[done]);
    fflush(stdout);
}

int cmd_demo(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    demo_cli dc;
    memset(&dc, 0, sizeof dc);
    sl_loop_demo_config_default(&dc.c);
    int prc = cli_opts_parse("demo", demo_opts, N_DEMO_OPTS, &dc, argc, argv, NULL);
    if (prc) return prc;
    if (dc.no_poison) dc.c.poison_arm = 0;
    if (dc.full) {
        dc.c.episodes = 25;
        dc.c.eval_episodes = 20;
        dc.c.seeds = 10;
        dc.c.until_decided = 1;
        if (dc.c.max_seeds <= 0) dc.c.max_seeds = 30;
    }
    if (dc.c.until_decided && dc.c.max_seeds <= 0) dc.c.max_seeds = 30;
    const sl_loop_demo_config o = dc.c;
    const char *db = dc.db;
    int threads = dc.threads;
    sl_nn_set_threads(threads);
    if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST) {
        sl_set_error(SL_ERR_IO, "%s: cannot create directory: %s", o.out_dir, strerror(errno));
        return sl_cli_fail(SL_ERR_IO);
    }
    char absout[PATH_MAX];
    const char *od = realpath(o.out_dir, absout) ? absout : o.out_dir;
    /* the run's config: the table's recorded options, the absolute out dir, the threads in
     * effect */
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "out", od);
    cJSON_AddStringToObject(conf, "policy", "mixed");
    cli_opts_json(conf, demo_opts, N_DEMO_OPTS, &dc);
    cJSON_AddNumberToObject(conf, "threads", sl_nn_get_threads());
    char *conf_txt = cJSON_PrintUnformatted(conf);
    sl_registry *reg = NULL;
    int64_t run = 0;
    double t0 = sl_now();
    sl_status s = sl_registry_open_default(db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "demo", conf_txt, o.seed, &run);
    sl_loop_demo_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    job.on_report = on_report;
    job.on_report_ctx = &r;
    if (s == SL_OK) s = sl_loop_demo(&o, &ctx, &r);
    s = cli_job_finish(&job, s);
    if (s == SL_OK && !sl_cli_quiet) print_ab(&r);
    if (reg && run) {
        /* a failed run's summary is its error; the command's message is kept for stderr */
        char *sum = s == SL_OK ? (r.summary ? cJSON_PrintUnformatted(r.summary) : NULL)
                               : cli_error_summary(s);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sl_last_error());
        sl_status e = sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, sum);
        if (s == SL_OK) s = e;
        else sl_set_error(s, "%s", msg);
        free(sum);
    }
    if (s == SL_OK && reg) s = sl_report_write(reg, run, r.paths[SL_DEMO_REPORT]);
    int rc = 0;
    if (s != SL_OK) {
        rc = sl_cli_fail(s);
    } else {
        printf("\n");
        print_verdict("gated augmentation", &r.ab);
        if (r.have_ab_poison) print_verdict("ungated unstable generator", &r.ab_poison);
        if (reg)
            printf("report: %s  (run %lld in %s)\n", r.paths[SL_DEMO_REPORT], (long long)run,
                   sl_registry_path(reg));
        printf("outputs in %s/, %.0f s\n", o.out_dir, sl_now() - t0);
    }
    sl_registry_close(reg);
    sl_loop_demo_result_free(&r);
    cJSON_Delete(conf);
    free(conf_txt);
    return rc;
}
