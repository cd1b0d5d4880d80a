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
#include "cli/run_record.h"
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

/* --- windows files ------------------------------------------------------------------- */

typedef struct wins {
    float *z;         /* [rows, D] */
    size_t *off;      /* [n + 1] */
    size_t n;
    int D;
} wins;

static void wins_free(wins *w) {
    free(w->z);
    free(w->off);
    memset(w, 0, sizeof *w);
}

static sl_status read_windows(const char *path, wins *w, int finite_only) {
    memset(w, 0, sizeof *w);
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL, *l = NULL;
    sl_status st = SL_OK;
    if (sl_npz_has(z, "windows")) {
        st = sl_npz_get(z, "windows", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 3 || a->shape[1] < 2 ||
                            a->shape[2] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows' must be f4 [N, T >= 2, D]", path);
        if (st == SL_OK) {
            w->n = a->shape[0];
            w->D = (int)a->shape[2];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            for (size_t i = 0; st == SL_OK && i <= w->n; i++) w->off[i] = i * a->shape[1];
        }
    } else if (sl_npz_has(z, "windows_flat")) {
        st = sl_npz_get(z, "windows_flat", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 2 || a->shape[1] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows_flat' must be f4 [M, D]", path);
        if (st == SL_OK) st = sl_npz_get(z, "window_lengths", &l);
        if (st == SL_OK && (l->ndim != 1 || (l->dtype != SL_DTYPE_I32 && l->dtype != SL_DTYPE_I64)))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'window_lengths' must be i4/i8 [N]", path);
        if (st == SL_OK) {
            w->n = l->shape[0];
            w->D = (int)a->shape[1];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            else w->off[0] = 0;
            for (size_t i = 0; st == SL_OK && i < w->n; i++) {
                int64_t v = l->dtype == SL_DTYPE_I32 ? ((const int32_t *)l->data)[i]
                                                     : ((const int64_t *)l->data)[i];
                if (v < 2) st = sl_set_error(SL_ERR_FORMAT, "%s: window_lengths[%zu] = %lld < 2",
                                             path, i, (long long)v);
                else w->off[i + 1] = w->off[i] + (size_t)v;
            }
            if (st == SL_OK && w->off[w->n] != a->shape[0])
                st = sl_set_error(SL_ERR_SHAPE, "%s: window_lengths sum to %zu but windows_flat has "
                                  "%zu rows", path, w->off[w->n], a->shape[0]);
        }
    } else {
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: neither 'windows' nor 'windows_flat' present", path);
    }
    if (st == SL_OK && w->n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no windows", path);
    if (st == SL_OK) {
        w->z = malloc(a->count ? a->count * sizeof(float) : 1);
        if (!w->z) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        else memcpy(w->z, a->data, a->count * sizeof(float));
        for (size_t i = 0; st == SL_OK && finite_only && i < a->count; i++)
            if (!isfinite(w->z[i]))
                st = sl_set_error(SL_ERR_NAN, "%s: window value at row %zu dim %zu is not finite",
                                  path, i / (size_t)w->D, i % (size_t)w->D);
    }
    sl_npz_close(z);
    if (st != SL_OK) wins_free(w);
    return st;
}

/* Real latents + episode ids (from --data if given, else from Z.npz). */
static sl_status read_latents(const char *zpath, const char *dpath, float **z, int32_t **ids,
                              size_t *n, int *D, char sha[65]) {
    sl_dataset *ds = NULL;
    size_t expect = 0;
    sha[0] = 0;
    if (dpath) {
        SL_TRY(sl_dataset_load_npz(&ds, dpath));
        expect = ds->n;
        sl_status st = sl_sha256_file(dpath, sha);
        if (st != SL_OK) {
            sl_dataset_free(ds);
            return st;
        }
    }
    sl_status st = sl_latents_load_npz(zpath, expect, z, NULL, ids, n, D);
    if (st == SL_OK && ds) {
        free(*ids);
        *ids = malloc(ds->n * sizeof(int32_t));
        if (!*ids) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else memcpy(*ids, ds->episode_ids, ds->n * sizeof(int32_t));
    }
    if (st == SL_OK && !*ids)
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: no 'episode_ids'; pass --data D.npz", zpath);
    if (st == SL_OK && *n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no rows", zpath);
    if (st != SL_OK) {
        free(*z);
        free(*ids);
        *z = NULL;
        *ids = NULL;
    }
    sl_dataset_free(ds);
    return st;
}

static char *with_ext(const char *path, const char *old, const char *ext) {
    size_t n = strlen(path), lo = strlen(old);
    char *p = malloc(n + strlen(ext) + 1);
    if (!p) return NULL;
    memcpy(p, path, n + 1);
    if (n > lo && strcmp(path + n - lo, old) == 0) p[n - lo] = 0;
    strcat(p, ext);
    return p;
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

/* --- registry ------------------------------------------------------------------------ */

/* The training options (z_dim only when D > 0, i.e. known). */
static void add_train_config(cJSON *cj, const sl_trust_config *cfg, int D) {
    cJSON_AddStringToObject(cj, "arch", sl_trust_arch_name(cfg->arch));
    if (D > 0) cJSON_AddNumberToObject(cj, "z_dim", D);
    cJSON_AddNumberToObject(cj, "hidden", cfg->hidden);
    cJSON_AddNumberToObject(cj, "n_hidden", cfg->n_hidden);
    cJSON *l = cJSON_AddArrayToObject(cj, "lengths");
    for (int i = 0; l && i < cfg->n_lengths; i++)
        cJSON_AddItemToArray(l, cJSON_CreateNumber(cfg->lengths[i]));
    cJSON_AddNumberToObject(cj, "steps", cfg->steps);
    cJSON_AddNumberToObject(cj, "batch", cfg->batch);
    cJSON_AddNumberToObject(cj, "lr", (double)cfg->lr);
    cJSON_AddBoolToObject(cj, "use_noise", cfg->use_noise);
    cJSON_AddBoolToObject(cj, "use_inflate", cfg->use_inflate);
    cJSON_AddBoolToObject(cj, "use_drift", cfg->use_drift);
    cJSON_AddBoolToObject(cj, "position_features", cfg->position_features);
    cJSON_AddNumberToObject(cj, "noise_scale", cfg->noise_scale);
    cJSON_AddNumberToObject(cj, "inflate_lo", cfg->inflate_lo);
    cJSON_AddNumberToObject(cj, "inflate_hi", cfg->inflate_hi);
    cJSON_AddNumberToObject(cj, "drift_scale", cfg->drift_scale);
    cJSON_AddNumberToObject(cj, "eval_windows", cfg->eval_windows);
    cJSON_AddNumberToObject(cj, "threads", sl_nn_get_threads());
}

/* Rows of a finished `trust train`: the model (metrics = the report), the report file, the
 * report as a result, the training BCE of the first and last 10% of updates (the library
 * reports only those; steps = the end of each window) and the held-out AUC, Brier and ECE
 * (before and after calibration) at the last step. */
static sl_status record_train(sl_registry *reg, int64_t run, const char *out, const char *rp,
                              const sl_trust_config *cfg, const sl_trust_report *rep,
                              const cJSON *report) {
    if (!reg) return SL_OK;
    char *rj = cJSON_PrintUnformatted(report);
    if (!rj) return sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    char apath[PATH_MAX];
    sl_status st =
        sl_registry_add_model(reg, run, "trust", cli_abs_path(out, apath), 0, rj, NULL);
    if (st == SL_OK) st = sl_registry_add_result(reg, run, "trust_report", rj);
    free(rj);
    SL_TRY(st);
    SL_TRY(sl_registry_add_artifact(reg, run, "trust_report.json", cli_abs_path(rp, apath)));
    int64_t last = cfg->steps, first = (cfg->steps + 9) / 10;
    int64_t steps[2] = {first, last};
    double loss[2] = {rep->train_loss_first, rep->train_loss_last};
    size_t n = first < last ? 2 : 1;
    SL_TRY(sl_registry_add_metrics(reg, run, "trust/train_loss", steps + 2 - n, loss + 2 - n, n));
    const char *names[] = {"trust/roc_auc", "trust/brier", "trust/brier_raw", "trust/ece",
                           "trust/ece_raw"};
    double vals[] = {rep->auc, rep->brier, rep->brier_raw, rep->ece, rep->ece_raw};
    for (int i = 0; i < 5; i++)
        if (isfinite(vals[i])) SL_TRY(sl_registry_add_metric(reg, run, names[i], last, vals[i]));
    return SL_OK;
}

/* --- train --------------------------------------------------------------------------- */

static int trust_train(int argc, char **argv) {
    const char *cmd = "trust train";
    static const struct option opts[] = {
        {"latents", required_argument, 0, 'z'},    {"data", required_argument, 0, 'd'},
        {"negatives", required_argument, 0, 'n'},  {"output", required_argument, 0, 'o'},
        {"temporal", no_argument, 0, 'G'},         {"seed", required_argument, 0, 's'},
        {"steps", required_argument, 0, 'S'},      {"hidden", required_argument, 0, 'H'},
        {"layers", required_argument, 0, 'L'},     {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, 'l'},         {"lengths", required_argument, 0, 'W'},
        {"no-noise", no_argument, 0, '1'},         {"no-inflate", no_argument, 0, '2'},
        {"no-drift", no_argument, 0, '3'},         {"no-position", no_argument, 0, '7'},         {"noise-scale", required_argument, 0, '4'},
        {"inflate", required_argument, 0, '5'},    {"drift-scale", required_argument, 0, '6'},
        {"eval-windows", required_argument, 0, 'E'}, {"report", required_argument, 0, 'r'},
        {"with-inflate", no_argument, 0, '8'},     {"with-drift", no_argument, 0, '9'},
        {"threads", required_argument, 0, 'T'},    {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},            {"db", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    const char *zpath = NULL, *dpath = NULL, *npath = NULL, *out = NULL, *rpath = NULL;
    const char *db = NULL;
    int json = 0, rc;
    long v;
    double x;
    /* --temporal changes the defaults of the other options, so find it first */
    int temporal = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--temporal") == 0) temporal = 1;
    sl_trust_config cfg =
        sl_trust_config_default_arch(temporal ? SL_TRUST_ARCH_TEMPORAL : SL_TRUST_ARCH_MLP);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'z': zpath = optarg; break;
        case 'd': dpath = optarg; break;
        case 'n': npath = optarg; break;
        case 'o': out = optarg; break;
        case 'r': rpath = optarg; break;
        case 'D': db = optarg; break;
        case 'G': temporal = 1; break;
        case 'j': json = 1; break;
        case 'q': sl_cli_quiet = 1; sl_progress_set_quiet(1); break;
        case '1': cfg.use_noise = 0; break;
        case '2': cfg.use_inflate = 0; break;
        case '3': cfg.use_drift = 0; break;
        case '8': cfg.use_inflate = 1; break;
        case '9': cfg.use_drift = 1; break;
        case '7': cfg.position_features = 0; break;
        case 's': if ((rc = sl_cli_parse_u64(cmd, "--seed", optarg, &cfg.seed))) return rc; break;
        case 'S':
            if ((rc = sl_cli_parse_int(cmd, "--steps", optarg, 0, 10000000, &v))) return rc;
            cfg.steps = (int)v;
            break;
        case 'H':
            if ((rc = sl_cli_parse_int(cmd, "--hidden", optarg, 1, 4096, &v))) return rc;
            cfg.hidden = (int)v;
            break;
        case 'L':
            if ((rc = sl_cli_parse_int(cmd, "--layers", optarg, 1, 8, &v))) return rc;
            cfg.n_hidden = (int)v;
            break;
        case 'b':
            if ((rc = sl_cli_parse_int(cmd, "--batch", optarg, 2, 65536, &v))) return rc;
            cfg.batch = (int)v;
            break;
        case 'l':
            if ((rc = sl_cli_parse_double(cmd, "--lr", optarg, 1e-8, 1.0, &x))) return rc;
            cfg.lr = (float)x;
            break;
        case 'W':
            if ((rc = parse_list(cmd, "--lengths", optarg, cfg.lengths, SL_TRUST_MAX_LENGTHS,
                                 &cfg.n_lengths)))
                return rc;
            break;
        case '4':
            if ((rc = sl_cli_parse_double(cmd, "--noise-scale", optarg, 1e-6, 99.0, &x))) return rc;
            cfg.noise_scale = x;
            break;
        case '5': {
            char *end;
            cfg.inflate_lo = strtod(optarg, &end);
            if (*end != ',') return sl_cli_usage_error(cmd, "--inflate expects LO,HI");
            cfg.inflate_hi = strtod(end + 1, &end);
            if (*end) return sl_cli_usage_error(cmd, "--inflate expects LO,HI");
            cfg.use_inflate = 1;
            break;
        }
        case '6':
            if ((rc = sl_cli_parse_double(cmd, "--drift-scale", optarg, 1e-6, 99.0, &x))) return rc;
            cfg.drift_scale = x;
            cfg.use_drift = 1;
            break;
        case 'E':
            if ((rc = sl_cli_parse_int(cmd, "--eval-windows", optarg, 20, 1000000, &v))) return rc;
            cfg.eval_windows = (int)v;
            break;
        case 'T':
            if ((rc = sl_cli_parse_int(cmd, "--threads", optarg, 1, 256, &v))) return rc;
            sl_nn_set_threads((int)v);
            break;
        default:
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!zpath) return sl_cli_usage_error(cmd, "--latents is required");
    if (!out) return sl_cli_usage_error(cmd, "--output is required");
    if (sl_trust_config_check(&cfg) != SL_OK) return sl_cli_usage_error(cmd, "%s", sl_last_error());

    float *z = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int D = 0;
    wins neg;
    memset(&neg, 0, sizeof neg);
    sl_trust_model *m = NULL;
    sl_trust_report rep;
    cJSON *res = NULL;
    char *rp = NULL;
    char dsha[65] = "", zsha[65] = "", nsha[65] = "";
    sl_registry *reg = NULL;
    int64_t run = 0;
    cJSON *conf = cJSON_CreateObject();
    if (conf) {
        cJSON_AddStringToObject(conf, "latents", zpath);
        if (dpath) cJSON_AddStringToObject(conf, "data", dpath);
        if (npath) cJSON_AddStringToObject(conf, "negatives", npath);
        cJSON_AddStringToObject(conf, "output", out);
        if (rpath) cJSON_AddStringToObject(conf, "report", rpath);
        add_train_config(conf, &cfg, 0);
    }
    sl_status st = cli_run_begin(db, "trust train", conf, cfg.seed, &reg, &run);
    if (st == SL_OK) st = read_latents(zpath, dpath, &z, &ids, &n, &D, dsha);
    if (st == SL_OK) st = sl_sha256_file(zpath, zsha);
    if (st == SL_OK && npath) {
        st = read_windows(npath, &neg, 1);
        if (st == SL_OK && neg.D != D)
            st = sl_set_error(SL_ERR_SHAPE, "%s: negative windows have %d dims, the latents %d",
                              npath, neg.D, D);
        if (st == SL_OK) st = sl_sha256_file(npath, nsha);
    }
    if (st == SL_OK)
        st = sl_trust_train(&m, &cfg, z, ids, n, D, neg.z, neg.off, neg.n, &rep);
    if (st == SL_OK) {
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "command", "trust train");
        sl_json_add_provenance(res, cfg.seed);
        cJSON *cj = cJSON_AddObjectToObject(res, "config");
        if (cj) add_train_config(cj, &cfg, D);
        cJSON *in = cJSON_AddObjectToObject(res, "inputs");
        cJSON_AddStringToObject(in, "latents", zpath);
        cJSON_AddStringToObject(in, "latents_sha256", zsha);
        if (dpath) {
            cJSON_AddStringToObject(in, "data", dpath);
            cJSON_AddStringToObject(in, "data_sha256", dsha);
        }
        if (npath) {
            cJSON_AddStringToObject(in, "negatives", npath);
            cJSON_AddStringToObject(in, "negatives_sha256", nsha);
            cJSON_AddNumberToObject(in, "negative_sequences", (double)neg.n);
        }
        cJSON_AddStringToObject(res, "output", out);
        sl_trust_report_to_json(cJSON_AddObjectToObject(res, "report"), &rep);
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "version", sl_version());
        cJSON_AddStringToObject(meta, "git", sl_git_describe());
        cJSON_AddStringToObject(meta, "time", sl_json_str(res, "time", ""));
        cJSON_AddStringToObject(meta, "latents_sha256", zsha);
        st = sl_trust_save(m, out, meta);
        cJSON_Delete(meta);
    }
    if (st == SL_OK) {
        rp = rpath ? strdup(rpath) : with_ext(out, ".safetensors", ".json");
        if (!rp) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else st = sl_json_write_file(rp, res);
    }
    if (st == SL_OK)
        st = record_train(reg, run, out, rp, &cfg, &rep,
                          cJSON_GetObjectItemCaseSensitive(res, "report"));
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
    free(rp);
    cJSON_Delete(res);
    sl_trust_free(m);
    wins_free(&neg);
    free(z);
    free(ids);
    return exit_rc;
}

/* --- score --------------------------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int trust_score(int argc, char **argv) {
    const char *cmd = "trust score";
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"windows", required_argument, 0, 'w'},
        {"latents", required_argument, 0, 'z'}, {"data", required_argument, 0, 'd'},
        {"window", required_argument, 0, 'W'},  {"stride", required_argument, 0, 'S'},
        {"output", required_argument, 0, 'o'},  {"threads", required_argument, 0, 'T'},
        {"json", no_argument, 0, 'j'},          {"quiet", no_argument, 0, 'q'},
        {"db", required_argument, 0, 'D'},      {0, 0, 0, 0}};
    const char *mpath = NULL, *wpath = NULL, *zpath = NULL, *dpath = NULL, *out = NULL;
    const char *db = NULL;
    long T = 0, S = 0, v;
    int json = 0, rc, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': mpath = optarg; break;
        case 'w': wpath = optarg; break;
        case 'z': zpath = optarg; break;
        case 'd': dpath = optarg; break;
        case 'o': out = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': sl_cli_quiet = 1; sl_progress_set_quiet(1); break;
        case 'W': if ((rc = sl_cli_parse_int(cmd, "--window", optarg, 2, 100000, &T))) return rc; break;
        case 'S': if ((rc = sl_cli_parse_int(cmd, "--stride", optarg, 1, 100000, &S))) return rc; break;
        case 'T':
            if ((rc = sl_cli_parse_int(cmd, "--threads", optarg, 1, 256, &v))) return rc;
            sl_nn_set_threads((int)v);
            break;
        default:
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!mpath) return sl_cli_usage_error(cmd, "--model is required");
    if (!!wpath == !!zpath) return sl_cli_usage_error(cmd, "give exactly one of --windows or --latents");
    if (zpath && !T) return sl_cli_usage_error(cmd, "--latents needs --window T");
    if (wpath && (T || S || dpath))
        return sl_cli_usage_error(cmd, "--window/--stride/--data go with --latents, not --windows");
    if (!S) S = T;

    sl_trust_model *m = NULL;
    wins w;
    memset(&w, 0, sizeof w);
    int32_t *ep = NULL, *start = NULL;
    double *p = NULL;
    uint8_t *fin = NULL;
    cJSON *res = NULL;
    char sha[65] = "";
    sl_registry *reg = NULL;
    int64_t run = 0;
    cJSON *conf = cJSON_CreateObject();
    if (conf) {
        cJSON_AddStringToObject(conf, "model", mpath);
        if (wpath) cJSON_AddStringToObject(conf, "windows", wpath);
        if (zpath) {
            cJSON_AddStringToObject(conf, "latents", zpath);
            if (dpath) cJSON_AddStringToObject(conf, "data", dpath);
            cJSON_AddNumberToObject(conf, "window", (double)T);
            cJSON_AddNumberToObject(conf, "stride", (double)S);
        }
        if (out) cJSON_AddStringToObject(conf, "output", out);
        cJSON_AddNumberToObject(conf, "threads", sl_nn_get_threads());
    }
    /* scoring draws no random numbers: the run's seed is 0 */
    sl_status st = cli_run_begin(db, "trust score", conf, 0, &reg, &run);
    if (st == SL_OK) st = sl_trust_load(&m, mpath);
    if (st == SL_OK && wpath) st = read_windows(wpath, &w, 0);
    if (st == SL_OK && wpath) st = sl_sha256_file(wpath, sha);
    if (st == SL_OK && zpath) {
        /* cut windows from the episodes of the latents */
        float *z = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        int D = 0;
        char dsha[65];
        st = read_latents(zpath, dpath, &z, &ids, &n, &D, dsha);
        if (st == SL_OK) st = sl_sha256_file(zpath, sha);
        size_t cnt = 0;
        for (int pass = 0; st == SL_OK && pass < 2; pass++) {
            cnt = 0;
            for (size_t a = 0; a < n;) {
                size_t b = a;
                while (b < n && ids[b] == ids[a]) b++;
                for (size_t s0 = a; s0 + (size_t)T <= b; s0 += (size_t)S, cnt++)
                    if (pass == 1) {
                        memcpy(w.z + cnt * (size_t)T * (size_t)D, z + s0 * (size_t)D,
                               (size_t)T * (size_t)D * sizeof(float));
                        w.off[cnt] = cnt * (size_t)T;
                        ep[cnt] = ids[a];
                        start[cnt] = (int32_t)(s0 - a);
                    }
                a = b;
            }
            if (pass == 0) {
                if (!cnt) {
                    st = sl_set_error(SL_ERR_ARG, "%s: no episode has %ld steps for --window", zpath, T);
                    break;
                }
                w.n = cnt;
                w.D = D;
                w.z = malloc(cnt * (size_t)T * (size_t)D * sizeof(float));
                w.off = malloc((cnt + 1) * sizeof(size_t));
                ep = malloc(cnt * sizeof(int32_t));
                start = malloc(cnt * sizeof(int32_t));
                if (!w.z || !w.off || !ep || !start) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
            } else {
                w.off[cnt] = cnt * (size_t)T;
            }
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
    /* score runs of equal length together */
    for (size_t i = 0; st == SL_OK && i < w.n;) {
        size_t len = w.off[i + 1] - w.off[i], j = i + 1;
        while (j < w.n && w.off[j + 1] - w.off[j] == len) j++;
        st = sl_trust_score_windows(m, w.z + w.off[i] * (size_t)w.D, j - i, (int)len, w.D, p + i);
        i = j;
    }
    size_t n_fin = 0;
    double *sorted = NULL;
    if (st == SL_OK) {
        sorted = malloc(w.n * sizeof(double));
        if (!sorted) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SL_OK && i < w.n; i++) {
            fin[i] = !isnan(p[i]);
            if (fin[i]) sorted[n_fin++] = p[i];
        }
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
        if (n_fin) {
            qsort(sorted, n_fin, sizeof(double), cmp_dbl);
            double mean = 0, q;
            for (size_t i = 0; i < n_fin; i++) mean += sorted[i];
            cJSON_AddNumberToObject(res, "mean", mean / (double)n_fin);
            static const double qs[] = {0.0, 0.05, 0.5, 0.95, 1.0};
            static const char *qn[] = {"min", "p05", "median", "p95", "max"};
            for (int k = 0; k < 5; k++)
                if (sl_stats_quantile(sorted, n_fin, qs[k], &q) == SL_OK)
                    cJSON_AddNumberToObject(res, qn[k], q);
        }
        cJSON *pr = cJSON_AddObjectToObject(res, "pass_rate_at_trust_floor");
        for (int k = 0; k < SL_GATE_PRESET_COUNT; k++) {
            sl_gate g = sl_gate_from_preset((sl_gate_preset)k);
            size_t pass = 0;
            for (size_t i = 0; i < w.n; i++) pass += fin[i] && p[i] >= g.trust_floor;
            cJSON_AddNumberToObject(pr, sl_gate_preset_name((sl_gate_preset)k),
                                    (double)pass / (double)w.n);
        }
        if (w.n <= 10000) {
            cJSON *arr = cJSON_AddArrayToObject(res, "trust");
            for (size_t i = 0; i < w.n; i++)
                cJSON_AddItemToArray(arr, fin[i] ? cJSON_CreateNumber(p[i]) : cJSON_CreateNull());
        }
    }
    if (st == SL_OK && out) {
        for (size_t i = 0; i < w.n; i++)
            if (!fin[i]) p[i] = -1.0;
        sl_npz_writer *wr;
        size_t shape[1] = {w.n};
        st = sl_npz_writer_open(&wr, out, SL_NPZ_STORED);
        if (st == SL_OK) {
            st = sl_npz_writer_add(wr, "trust", SL_DTYPE_F64, 1, shape, p);
            if (st == SL_OK) st = sl_npz_writer_add(wr, "finite", SL_DTYPE_BOOL, 1, shape, fin);
            if (st == SL_OK && ep) st = sl_npz_writer_add(wr, "episode", SL_DTYPE_I32, 1, shape, ep);
            if (st == SL_OK && start) st = sl_npz_writer_add(wr, "start", SL_DTYPE_I32, 1, shape, start);
            if (st == SL_OK) st = sl_npz_writer_commit(wr);
            else sl_npz_writer_abort(wr);
        }
    }
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
    free(ep);
    free(start);
    wins_free(&w);
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
