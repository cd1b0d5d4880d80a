/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_trust.c - `synthloop trust train|score`: train trust_net on real latents against
 * negatives, and score latent windows with a saved model.
 *
 * Invariant: no NaN is ever written: a non-finite window is reported as non-finite (trust -1
 * and finite = 0 in NPZ output, null in JSON), never scored as a number.
 * Windows files (NEG.npz / W.npz): "windows" f4 [N, T, D], or the ragged form
 * "windows_flat" f4 [M, D] + "window_lengths" i4/i8 [N] (windows back to back).
 * Each subcommand is one registry run ("trust train" / "trust score", --db), begun before any
 * input is read and ended ok only after its outputs and their rows were recorded; every error
 * path ends it failed with {"error": message}.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cli_job.h"
#include "cli/opts.h"
#include "cli/run_record.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_stats.h"
#include "synthloop/sl_trust.h"

SL_COMMAND(trust, "train trust_net (calibrated p(real) of latent windows) or score windows")

static void usage(void) {
    printf("usage: synthloop trust train --latents Z.npz [--data D.npz] --output TRUST.safetensors\n"
           "                             [--negatives NEG.npz] [--temporal] [options]\n"
           "       synthloop trust score --model TRUST.safetensors (--windows W.npz |\n"
           "                             --latents Z.npz --window T [--stride S] [--data D.npz])\n"
           "                             [--output S.npz] [--json]\n"
           "\n"
           "train: real windows (label 1) of the configured lengths from real episodes against\n"
           "negatives (label 0): noise-perturbed versions of real windows plus windows from\n"
           "NEG.npz (optionally variance-inflated and random-walk drift versions). Platt calibration on\n"
           "held-out episodes; ROC-AUC, Brier, ECE and mean trust per kind on other held-out\n"
           "episodes. Writes the model and TRUST.json (provenance, config, report).\n"
           "score: calibrated p(real) per window; summary on stdout (or --json).\n"
           "Window files: \"windows\" f4 [N, T, D], or \"windows_flat\" f4 [M, D] with\n"
           "\"window_lengths\" [N]. Episode ids come from --data, else from Z.npz's episode_ids.\n"
           "\n"
           "train options:\n"
           "  --temporal           GRU over the window instead of the feature MLP\n"
           "  --seed N             random seed (default 0)\n"
           "  --steps N            Adam updates (default 3000; 600 with --temporal)\n"
           "  --hidden N           hidden width (default 128; 32 with --temporal)\n"
           "  --layers N           MLP hidden layers (default 2)\n"
           "  --batch N            windows per update (default 128)\n"
           "  --lr X               learning rate (default 1e-3)\n"
           "  --lengths L1,L2,...  window lengths (default 5,10,20,30,40,60)\n"
           "  --no-noise           no noise-perturbed negatives\n"
           "  --with-inflate, --with-drift   add variance-inflated / random-walk drift\n"
           "                       negatives (off by default: they overlap real windows)\n"
           "  --no-inflate, --no-drift   turn those off again (the defaults)\n"
           "  --noise-scale X      noise std in units of the real per-dim std (default 0.5)\n"
           "  --inflate LO,HI      variance-inflation factor range (default 1.5,2.0; implies\n"
           "                       --with-inflate)\n"
           "  --drift-scale X      random-walk step std in real per-dim stds (default 0.25;\n"
           "                       implies --with-drift)\n"
           "  --no-position        MLP: ignore where a window lies (per-dim mean/min/max);\n"
           "                       score its shape only (std, var, smoothness, change, T)\n"
           "  --eval-windows N     windows per class in the calibration and test sets (400)\n"
           "  --report PATH        report JSON (default: output with .json)\n"
           "score options:\n"
           "  --window T, --stride S   windows of T steps every S steps (default S = T) within\n"
           "                       each episode of Z.npz\n"
           "  --output PATH        NPZ: trust f8 [N] (-1 when non-finite), finite b1 [N]\n"
           "                       (+ episode, start i4 [N] with --latents)\n"
           "common: --threads N, --json, --quiet, --help\n"
           "  --db PATH|none       run registry (default $SYNTHLOOP_DB or synthloop.db;\n"
           "                       'none' records nothing)\n");
}

static int parse_list(const char *cmd, const char *opt, const char *s, int *out, int max, int *n) {
    char *end;
    *n = 0;
    const char *p = s;
    while (*p) {
        long v = strtol(p, &end, 10);
        if (end == p || v < 2 || v > 100000 || *n >= max)
            return sl_cli_usage_error(cmd, "%s expects up to %d comma-separated integers >= 2, "
                                      "got '%s'", opt, max, s);
        out[(*n)++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return sl_cli_usage_error(cmd, "%s: bad list '%s'", opt, s);
    }
    if (!*n) return sl_cli_usage_error(cmd, "%s: empty list", opt);
    return 0;
}

/* --- train --------------------------------------------------------------------------- */

/* `trust train`'s command line (the parser, its checks and the shared rows of encode). */
typedef struct trust_cli {
    const char *zpath, *dpath, *npath, *out, *rpath, *db;
    int json, quiet, threads, temporal;
    sl_trust_config cfg;
} trust_cli;

static int parse_lengths(const char *cmd, const char *arg, void *dst) {
    trust_cli *t = dst;
    return parse_list(cmd, "--lengths", arg, t->cfg.lengths, SL_TRUST_MAX_LENGTHS,
                      &t->cfg.n_lengths);
}

static int parse_inflate(const char *cmd, const char *arg, void *dst) {
    trust_cli *t = dst;
    char *end;
    t->cfg.inflate_lo = strtod(arg, &end);
    if (*end != ',') return sl_cli_usage_error(cmd, "--inflate expects LO,HI");
    t->cfg.inflate_hi = strtod(end + 1, &end);
    if (*end) return sl_cli_usage_error(cmd, "--inflate expects LO,HI");
    t->cfg.use_inflate = 1;
    return 0;
}

static int parse_drift(const char *cmd, const char *arg, void *dst) {
    trust_cli *t = dst;
    if (sl_cli_parse_double(cmd, "--drift-scale", arg, 1e-6, 99.0, &t->cfg.drift_scale)) return 2;
    t->cfg.use_drift = 1;
    return 0;
}

#define F(x) offsetof(trust_cli, x)
static const cli_opt trust_train_opts[] = {
    {"latents", CLI_STRING, F(zpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"data", CLI_STRING, F(dpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"negatives", CLI_STRING, F(npath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"output", CLI_STRING, F(out), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"report", CLI_STRING, F(rpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"temporal", CLI_FLAG, F(temporal), 0, 0, NULL, NULL, NULL, 1, NULL},
    CLI_NN_TRAIN_ROWS(trust_cli, cfg, 4096, NULL, NULL),
    {"steps", CLI_INT, F(cfg.steps), 0, 10000000, "N", NULL, NULL, 0, NULL},
    {"lengths", CLI_CUSTOM, 0, 0, 0, "L1,L2,...", NULL, NULL, 0, parse_lengths},
    {"no-noise", CLI_FLAG, F(cfg.use_noise), 0, 0, NULL, NULL, NULL, 0, NULL},
    {"no-inflate", CLI_FLAG, F(cfg.use_inflate), 0, 0, NULL, NULL, NULL, 0, NULL},
    {"no-drift", CLI_FLAG, F(cfg.use_drift), 0, 0, NULL, NULL, NULL, 0, NULL},
    {"with-inflate", CLI_FLAG, F(cfg.use_inflate), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"with-drift", CLI_FLAG, F(cfg.use_drift), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"no-position", CLI_FLAG, F(cfg.position_features), 0, 0, NULL, NULL, NULL, 0, NULL},
    {"noise-scale", CLI_DOUBLE, F(cfg.noise_scale), 1e-6, 99.0, "X", NULL, NULL, 0, NULL},
    {"inflate", CLI_CUSTOM, 0, 0, 0, "LO,HI", NULL, NULL, 0, parse_inflate},
    {"drift-scale", CLI_CUSTOM, 0, 0, 0, "X", NULL, NULL, 0, parse_drift},
    {"eval-windows", CLI_INT, F(cfg.eval_windows), 20, 1000000, "N", NULL, NULL, 0, NULL},
    {"threads", CLI_INT, F(threads), 1, 256, "N", NULL, NULL, 0, NULL},
    {"json", CLI_FLAG, F(json), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"quiet", CLI_FLAG, F(quiet), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"db", CLI_STRING, F(db), 0, 0, "PATH|none", NULL, NULL, 0, NULL},
};
#undef F

static int trust_train(int argc, char **argv) {
    const char *cmd = "trust train";
    trust_cli t;
    memset(&t, 0, sizeof t);
    /* --temporal changes the defaults of the other options, so find it first */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--temporal") == 0) t.temporal = 1;
    t.cfg = sl_trust_config_default_arch(t.temporal ? SL_TRUST_ARCH_TEMPORAL : SL_TRUST_ARCH_MLP);
    int rc = cli_opts_parse(cmd, trust_train_opts, sizeof trust_train_opts / sizeof trust_train_opts[0],
                            &t, argc, argv, NULL);
    if (rc) return rc;
    if (t.quiet) {
        sl_cli_quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (t.threads) sl_nn_set_threads(t.threads);
    const char *zpath = t.zpath, *dpath = t.dpath, *npath = t.npath, *out = t.out,
               *rpath = t.rpath, *db = t.db;
    int json = t.json;
    sl_trust_config cfg = t.cfg;
    if (!zpath) return sl_cli_usage_error(cmd, "--latents is required");
    if (!out) return sl_cli_usage_error(cmd, "--output is required");
    if (sl_trust_config_check(&cfg) != SL_OK) return sl_cli_usage_error(cmd, "%s", sl_last_error());

    sl_registry *reg = NULL;
    int64_t run = 0;
    cJSON *conf = cJSON_CreateObject();
    if (conf) {
        cJSON_AddStringToObject(conf, "latents", zpath);
        if (dpath) cJSON_AddStringToObject(conf, "data", dpath);
        if (npath) cJSON_AddStringToObject(conf, "negatives", npath);
        cJSON_AddStringToObject(conf, "output", out);
        if (rpath) cJSON_AddStringToObject(conf, "report", rpath);
        sl_loop_trust_config_json(conf, &cfg, 0);
    }
    sl_status st = cli_run_begin(db, "trust train", conf, cfg.seed, &reg, &run);
    sl_loop_trust_train_config tc = {zpath, dpath, npath, out, rpath, cfg};
    sl_loop_trust_train_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (st == SL_OK) st = sl_loop_trust_train(&tc, &ctx, &r);
    st = cli_job_finish(&job, st);
    const cJSON *res = r.json;
    const sl_trust_report rep = r.report;
    const char *rp = r.report_path;
    int exit_rc = cli_run_finish(reg, run, st, res);
    if (exit_rc == 0) {
        if (json) {
            char *s = cJSON_Print(res);
            if (s) printf("%s\n", s);
            free(s);
        } else if (!sl_cli_quiet) {
            printf("trust_net (%s): %d steps, BCE %.4f -> %.4f; episodes train/calib/test "
                   "%zu/%zu/%zu\n", sl_trust_arch_name(cfg.arch), cfg.steps, rep.train_loss_first,
                   rep.train_loss_last, rep.n_episodes[0], rep.n_episodes[1], rep.n_episodes[2]);
            printf("held-out: ROC-AUC %.4f  Brier %.4f -> %.4f  ECE %.4f -> %.4f (Platt a %.4g "
                   "b %.4g)\n", rep.auc, rep.brier_raw, rep.brier, rep.ece_raw, rep.ece,
                   rep.platt_a, rep.platt_b);
            printf("mean trust:");
            for (int k = 0; k < SL_TRUST_KIND_COUNT; k++)
                if (rep.n_kind[k])
                    printf("  %s %.4f", sl_trust_kind_name((sl_trust_kind)k), rep.mean_trust[k]);
            printf("\nheld-out pass rates by length (real windows | negatives) at 0.95 / 0.90 / 0.85:\n");
            for (int q = 0; q < rep.n_len; q++)
                if (rep.n_real_len[q] && rep.n_neg_len[q])
                    printf("  T=%-3d %5zu real %.3f %.3f %.3f | %5zu neg %.3f %.3f %.3f\n", rep.len[q],
                           rep.n_real_len[q], rep.real_pass_len[q][0], rep.real_pass_len[q][1],
                           rep.real_pass_len[q][2], rep.n_neg_len[q], rep.neg_pass_len[q][0],
                           rep.neg_pass_len[q][1], rep.neg_pass_len[q][2]);
            printf("wrote %s and %s\n", out, rp);
        }
    }
    sl_loop_trust_train_result_free(&r);
    return exit_rc;
}

/* --- score --------------------------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and quantiles of the n finite scores (sorted here) into res. */
static void add_score_stats(cJSON *res, double *sorted, size_t n_fin) {
    if (!n_fin) return;
    qsort(sorted, n_fin, sizeof(double), cmp_dbl);
    double mean = 0, q;
    for (size_t i = 0; i < n_fin; i++) mean += sorted[i];
    cJSON_AddNumberToObject(res, "mean", mean / (double)n_fin);
    static const double qs[] = {0.0, 0.05, 0.5, 0.95, 1.0};
    static const char *qn[] = {"min", "p05", "median", "p95", "max"};
    for (int k = 0; k < 5; k++)
        if (sl_stats_quantile(sorted, n_fin, qs[k], &q) == SL_OK) cJSON_AddNumberToObject(res, qn[k], q);
}

/* The scores NPZ: trust (-1 where non-finite), finite, and episode/start of cut windows. */
static sl_status write_scores(const char *out, const sl_loop_windows *w, double *p,
                              const uint8_t *fin) {
    for (size_t i = 0; i < w->n; i++)
        if (!fin[i]) p[i] = -1.0;
    sl_npz_writer *wr;
    size_t shape[1] = {w->n};
    SL_TRY(sl_npz_writer_open(&wr, out, SL_NPZ_STORED));
    sl_status st = sl_npz_writer_add(wr, "trust", SL_DTYPE_F64, 1, shape, p);
    if (st == SL_OK) st = sl_npz_writer_add(wr, "finite", SL_DTYPE_BOOL, 1, shape, fin);
    if (st == SL_OK && w->episode)
        st = sl_npz_writer_add(wr, "episode", SL_DTYPE_I32, 1, shape, w->episode);
    if (st == SL_OK && w->start) st = sl_npz_writer_add(wr, "start", SL_DTYPE_I32, 1, shape, w->start);
    if (st == SL_OK) return sl_npz_writer_commit(wr);
    sl_npz_writer_abort(wr);
    return st;
}

/* `trust score`'s command line. */
typedef struct score_cli {
    const char *mpath, *wpath, *zpath, *dpath, *out, *db;
    int T, S, threads, json, quiet;
} score_cli;

#define F(x) offsetof(score_cli, x)
static const cli_opt trust_score_opts[] = {
    {"model", CLI_STRING, F(mpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"windows", CLI_STRING, F(wpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"latents", CLI_STRING, F(zpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"data", CLI_STRING, F(dpath), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"window", CLI_INT, F(T), 2, 100000, "T", NULL, NULL, 0, NULL},
    {"stride", CLI_INT, F(S), 1, 100000, "S", NULL, NULL, 0, NULL},
    {"output", CLI_STRING, F(out), 0, 0, "PATH", NULL, NULL, 0, NULL},
    {"threads", CLI_INT, F(threads), 1, 256, "N", NULL, NULL, 0, NULL},
    {"json", CLI_FLAG, F(json), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"quiet", CLI_FLAG, F(quiet), 0, 0, NULL, NULL, NULL, 1, NULL},
    {"db", CLI_STRING, F(db), 0, 0, "PATH|none", NULL, NULL, 0, NULL},
};
#undef F
#define N_SCORE_OPTS (sizeof trust_score_opts / sizeof trust_score_opts[0])

/* The run's config: the options given (window/stride only with --latents). */
static cJSON *score_config(const score_cli *a) {
    cJSON *conf = cJSON_CreateObject();
    if (!conf) return NULL;
    cJSON_AddStringToObject(conf, "model", a->mpath);
    if (a->wpath) cJSON_AddStringToObject(conf, "windows", a->wpath);
    if (a->zpath) {
        cJSON_AddStringToObject(conf, "latents", a->zpath);
        if (a->dpath) cJSON_AddStringToObject(conf, "data", a->dpath);
        cJSON_AddNumberToObject(conf, "window", a->T);
        cJSON_AddNumberToObject(conf, "stride", a->S);
    }
    if (a->out) cJSON_AddStringToObject(conf, "output", a->out);
    cJSON_AddNumberToObject(conf, "threads", sl_nn_get_threads());
    return conf;
}

static int trust_score(int argc, char **argv) {
    const char *cmd = "trust score";
    score_cli a;
    memset(&a, 0, sizeof a);
    int rc = cli_opts_parse(cmd, trust_score_opts, N_SCORE_OPTS, &a, argc, argv, NULL);
    if (rc) return rc;
    if (a.quiet) {
        sl_cli_quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (a.threads) sl_nn_set_threads(a.threads);
    const char *mpath = a.mpath, *wpath = a.wpath, *zpath = a.zpath, *dpath = a.dpath,
               *out = a.out, *db = a.db;
    long T = a.T, S = a.S;
    int json = a.json;
    if (!mpath) return sl_cli_usage_error(cmd, "--model is required");
    if (!!wpath == !!zpath) return sl_cli_usage_error(cmd, "give exactly one of --windows or --latents");
    if (zpath && !T) return sl_cli_usage_error(cmd, "--latents needs --window T");
    if (wpath && (T || S || dpath))
        return sl_cli_usage_error(cmd, "--window/--stride/--data go with --latents, not --windows");
    if (!S) S = T;

    sl_trust_model *m = NULL;
    sl_loop_windows w;
    memset(&w, 0, sizeof w);
    double *p = NULL;
    uint8_t *fin = NULL;
    cJSON *res = NULL;
    char sha[65] = "";
    sl_registry *reg = NULL;
    int64_t run = 0;
    a.S = (int)S;
    cJSON *conf = score_config(&a);
    /* scoring draws no random numbers: the run's seed is 0 */
    sl_status st = cli_run_begin(db, "trust score", conf, 0, &reg, &run);
    if (st == SL_OK && out) st = sl_output_check(out); /* before any work */
    if (st == SL_OK) st = sl_trust_load(&m, mpath);
    if (st == SL_OK && wpath) st = sl_loop_windows_load(wpath, 0, &w);
    if (st == SL_OK && wpath) st = sl_sha256_file(wpath, sha);
    if (st == SL_OK && zpath) {
        /* cut windows from the episodes of the latents */
        float *z = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        int D = 0;
        char dsha[65];
        st = sl_loop_trust_latents_load(zpath, dpath, &z, &ids, &n, &D, dsha);
        if (st == SL_OK) st = sl_sha256_file(zpath, sha);
        if (st == SL_OK) {
            st = sl_loop_windows_cut(z, ids, n, D, (int)T, (int)S, &w);
            if (st != SL_OK) st = sl_set_error(st, "%s: %s (--window)", zpath, sl_last_error());
        }
        free(z);
        free(ids);
    }
    if (st == SL_OK && w.D != sl_trust_model_dim(m))
        st = sl_set_error(SL_ERR_SHAPE, "%s: windows have %d dims, the model %s expects %d",
                          wpath ? wpath : zpath, w.D, mpath, sl_trust_model_dim(m));
    if (st == SL_OK) {
        p = malloc(w.n * sizeof(double));
        fin = malloc(w.n);
        if (!p || !fin) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK) st = sl_loop_trust_score(m, &w, p, fin);
    size_t n_fin = 0;
    double *sorted = NULL;
    if (st == SL_OK) {
        sorted = malloc(w.n * sizeof(double));
        if (!sorted) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SL_OK && i < w.n; i++)
            if (fin[i]) sorted[n_fin++] = p[i];
    }
    if (st == SL_OK) {
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "command", "trust score");
        sl_json_add_provenance(res, sl_trust_model_config(m).seed);
        cJSON *cf = cJSON_AddObjectToObject(res, "config");
        cJSON_AddStringToObject(cf, "model", mpath);
        cJSON_AddStringToObject(cf, "arch", sl_trust_arch_name(sl_trust_model_arch(m)));
        cJSON_AddStringToObject(cf, "input", wpath ? wpath : zpath);
        cJSON_AddStringToObject(cf, "input_sha256", sha);
        if (zpath) {
            cJSON_AddNumberToObject(cf, "window", (double)T);
            cJSON_AddNumberToObject(cf, "stride", (double)S);
        }
        cJSON_AddNumberToObject(res, "n_windows", (double)w.n);
        cJSON_AddNumberToObject(res, "n_non_finite", (double)(w.n - n_fin));
        add_score_stats(res, sorted, n_fin);
        cJSON *pr = cJSON_AddObjectToObject(res, "pass_rate_at_trust_floor");
        double rates[SL_GATE_PRESET_COUNT];
        sl_loop_trust_pass_rates(p, fin, w.n, rates);
        for (int k = 0; k < SL_GATE_PRESET_COUNT; k++)
            cJSON_AddNumberToObject(pr, sl_gate_preset_name((sl_gate_preset)k), rates[k]);
        if (w.n <= 10000) {
            cJSON *arr = cJSON_AddArrayToObject(res, "trust");
            for (size_t i = 0; i < w.n; i++)
                cJSON_AddItemToArray(arr, fin[i] ? cJSON_CreateNumber(p[i]) : cJSON_CreateNull());
        }
    }
    if (st == SL_OK && out) st = write_scores(out, &w, p, fin);
    /* rows: the scores file, the finite scores (sorted) as a sample set for the trust histogram */
    char apath[PATH_MAX];
    if (st == SL_OK && out)
        st = sl_registry_add_artifact(reg, run, "trust_scores.npz", cli_abs_path(out, apath));
    if (st == SL_OK && n_fin && n_fin <= 10000000)
        st = sl_registry_add_samples(reg, run, "trust", "scored", sorted, n_fin);
    cJSON *sum = NULL;
    if (st == SL_OK && reg) {
        sum = cJSON_Duplicate(res, 1);
        if (sum) cJSON_DeleteItemFromObjectCaseSensitive(sum, "trust"); /* in the samples */
    }
    int exit_rc = cli_run_finish(reg, run, st, sum);
    cJSON_Delete(sum);
    if (exit_rc == 0) {
        if (json) {
            char *s = cJSON_Print(res);
            if (s) printf("%s\n", s);
            free(s);
        } else if (!sl_cli_quiet) {
            printf("%zu windows (%zu non-finite: rejected)", w.n, w.n - n_fin);
            if (n_fin)
                printf(": mean trust %.4f, median %.4f, min %.4f, max %.4f",
                       sl_json_num(res, "mean", 0), sl_json_num(res, "median", 0),
                       sl_json_num(res, "min", 0), sl_json_num(res, "max", 0));
            printf("\n");
            const cJSON *pr = cJSON_GetObjectItem(res, "pass_rate_at_trust_floor");
            for (int k = 0; k < SL_GATE_PRESET_COUNT; k++) {
                sl_gate g = sl_gate_from_preset((sl_gate_preset)k);
                printf("  trust >= %.2f (%s): %.1f%%\n", g.trust_floor,
                       sl_gate_preset_name((sl_gate_preset)k),
                       100.0 * sl_json_num(pr, sl_gate_preset_name((sl_gate_preset)k), 0));
            }
            if (out) printf("wrote %s\n", out);
        }
    }
    free(sorted);
    cJSON_Delete(res);
    free(p);
    free(fin);
    sl_loop_windows_free(&w);
    sl_trust_free(m);
    return exit_rc;
}

int cmd_trust(int argc, char **argv) {
    if (argc < 2) return sl_cli_usage_error("trust", "missing subcommand (train or score)");
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) return trust_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "score") == 0) return trust_score(argc - 1, argv + 1);
    return sl_cli_usage_error("trust", "unknown subcommand '%s' (expected train or score)", argv[1]);
}
