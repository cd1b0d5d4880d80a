/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_world.c - `synthloop world train|eval|rollout`: train the latent world model, report its
 * stability per horizon (with trust_net scores and a detection test), and write free-running
 * windows (e.g. of a one-step model: the unstable reference for `trust train --negatives`).
 *
 * Invariant: outputs are written atomically and only after every value was checked finite;
 * a diverging model ends with "synthloop: error: ..." and exit 1, never with a file.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"
#include "run_record.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_trust.h"
#include "synthloop/sl_world.h"

SL_COMMAND(world, "train / evaluate / roll out the latent world model (world train|eval|rollout)")

static void usage(void) {
    printf("usage: synthloop world train   --data D.npz --latents Z.npz --output WM.safetensors [options]\n"
           "       synthloop world eval    --data D.npz --latents Z.npz --world-model WM.safetensors\n"
           "                               [--trust-model T.safetensors] [options]\n"
           "       synthloop world rollout --data D.npz --latents Z.npz --world-model WM.safetensors\n"
           "                               --output W.npz [--horizon 60] [--n 500] [--noise X]\n"
           "\n"
           "Residual GRU ensemble over encoder latents: z~' = z~ + dz_std * clip(delta(h)), also\n"
           "predicting reward and per-step econ events. Statistics: docs/WORLD.md.\n"
           "\n"
           "common options:\n"
           "  --data PATH          dataset NPZ (from `synthloop collect`)\n"
           "  --latents PATH       encoder latents NPZ (\"latents\", \"next_latents\")\n"
           "  --seed N             seed (default 0)\n"
           "  --threads N          kernel threads (default: all cores)\n"
           "  --encoder PATH       encoder checkpoint: attach its latent sphere, so that rollouts\n"
           "                       are projected back onto it every step (train: saved with the\n"
           "                       model; eval/rollout: for this run)\n"
           "  --db PATH|none       run registry (default $SYNTHLOOP_DB or synthloop.db; none = off)\n"
           "  --json               print the result JSON on stdout\n"
           "  --quiet              no progress bar or table\n"
           "\n"
           "train options:\n"
           "  --output PATH        checkpoint to write (safetensors; OUT.json sidecar too)\n"
           "  --mode tf|ss|bptt    teacher forcing, scheduled sampling, free-run BPTT (default bptt)\n"
           "  --members N          ensemble size (default 5)\n"
           "  --hidden N           GRU width (default 128)\n"
           "  --horizon N          training rollout length (default 60)\n"
           "  --burn-in N          teacher-forced context steps (default 8)\n"
           "  --batch N            segments per member per step (default 32)\n"
           "  --iters N            optimiser steps (default 1500)\n"
           "  --eval-every N       held-out check every N steps (default 50)\n"
           "  --patience N         early stop after N checks without improvement (default 8)\n"
           "  --lr X               learning rate (default 2e-3)\n"
           "  --grad-clip X        per-member gradient norm clip (default 1; 0 = off)\n"
           "  --holdout X          share of episodes held out (default 0.2)\n"
           "  --w-var X            variance-growth regulariser weight (default 1)\n"
           "  --w-dist X           per-step batch mean/std matching weight (default 1)\n"
           "  --w-window X         per-window temporal std matching weight (default 5)\n"
           "  --no-window-prefixes the window term matches whole segments only (default: also\n"
           "                       each segment's first 5, 10, 20 and 40 steps)\n"
           "  --no-hetero-noise    one sigma per dim (default: state-dependent noise,\n"
           "                       log sigma(h) = log sigma + W h + b from the GRU state,\n"
           "                       taught by the one-step Gaussian NLL)\n"
           "  --w-nll X            weight of that NLL (default 1)\n"
           "  --w-rough X          per-dim step-energy (roughness) matching weight (default 10;\n"
           "                       0 = off, the recipe before 2026-12-04)\n"
           "  --w-reward X         reward head weight (default 0.5)\n"
           "  --w-econ X           econ heads weight (default 0.5)\n"
           "  --clip none|tanh|hard  residual clipping (default tanh)\n"
           "  --clip-value X       clip bound in residual stds (default 4)\n"
           "  --ss-start X --ss-end X --ss-frac X  scheduled-sampling schedule (1, 0, 0.6)\n"
           "  --no-bootstrap       every member sees all training episodes\n"
           "  --no-learn-noise     deterministic model (sigma = 0)\n"
           "  --noise-scale X      default rollout multiplier of the learned sigma (default 1)\n"
           "  --econ LIST          comma-separated step columns to predict, or 'none'\n"
           "                       (default: unit_done,error_event,energy_wh where present)\n"
           "\n"
           "eval options:\n"
           "  --world-model PATH   checkpoint\n"
           "  --trust-model PATH   trust_net checkpoint (trust columns are null without it)\n"
           "  --horizons LIST      default 5,10,20,40,60\n"
           "  --floors LIST        trust floor per horizon (default 0.95,0.9,0.85,0.85,0.85)\n"
           "  --stride N           starts every N steps (default 5)\n"
           "  --episodes holdout|all  which episodes give starts (default holdout)\n"
           "  --noise X            rollout noise scale, a multiplier of the learned sigma\n"
           "                       (default: the model's noise_scale, 1)\n"
           "  --folds N            detection test folds (default 5)\n"
           "  --output PATH        also write the JSON report here\n"
           "\n"
           "rollout options:\n"
           "  --world-model PATH --output PATH --horizon N (default 60) --n N (default 500)\n"
           "  --noise X            noise scale (default: the model's; the seed-001 poison is a\n"
           "                       --mode tf model with e.g. --noise 3). Writes \"windows\" f4 [n, H+1, z],\n"
           "                       \"latents\" f4 [n*(H+1), z], \"episode_ids\" i4 [n*(H+1)] (one\n"
           "                       episode per window) and \"start_rows\" i8 [n].\n");
}

enum {
    O_DATA = 1000, O_LAT, O_OUT, O_MODE, O_MEMBERS, O_HIDDEN, O_HORIZON, O_BURN, O_BATCH,
    O_ITERS, O_EVERY, O_PAT, O_LR, O_GCLIP, O_HOLD, O_WVAR, O_WDIST, O_WREW, O_WECON, O_CLIP,
    O_CLIPV, O_SS0, O_SS1, O_SSF, O_NOBOOT, O_ECON, O_SEED, O_THREADS, O_JSON, O_QUIET, O_WM,
    O_TM, O_HS, O_FLOORS, O_STRIDE, O_EPS, O_NOISE, O_FOLDS, O_N, O_HELP, O_NSCALE, O_NOLEARN,
    O_WWIN, O_DB, O_ENC, O_WROUGH, O_WPREF, O_HETERO, O_WNLL
};

static const struct option opts[] = {
    {"data", 1, 0, O_DATA},        {"latents", 1, 0, O_LAT},      {"output", 1, 0, O_OUT},
    {"mode", 1, 0, O_MODE},        {"members", 1, 0, O_MEMBERS},  {"hidden", 1, 0, O_HIDDEN},
    {"horizon", 1, 0, O_HORIZON},  {"burn-in", 1, 0, O_BURN},     {"batch", 1, 0, O_BATCH},
    {"iters", 1, 0, O_ITERS},      {"eval-every", 1, 0, O_EVERY}, {"patience", 1, 0, O_PAT},
    {"lr", 1, 0, O_LR},            {"grad-clip", 1, 0, O_GCLIP},  {"holdout", 1, 0, O_HOLD},
    {"w-var", 1, 0, O_WVAR},       {"w-dist", 1, 0, O_WDIST},     {"w-reward", 1, 0, O_WREW},
    {"w-econ", 1, 0, O_WECON},     {"clip", 1, 0, O_CLIP},        {"clip-value", 1, 0, O_CLIPV},
    {"ss-start", 1, 0, O_SS0},     {"ss-end", 1, 0, O_SS1},       {"ss-frac", 1, 0, O_SSF},
    {"no-bootstrap", 0, 0, O_NOBOOT}, {"econ", 1, 0, O_ECON},     {"seed", 1, 0, O_SEED},
    {"threads", 1, 0, O_THREADS},  {"json", 0, 0, O_JSON},        {"quiet", 0, 0, O_QUIET},
    {"world-model", 1, 0, O_WM},   {"trust-model", 1, 0, O_TM},   {"horizons", 1, 0, O_HS},
    {"floors", 1, 0, O_FLOORS},    {"stride", 1, 0, O_STRIDE},    {"episodes", 1, 0, O_EPS},
    {"noise", 1, 0, O_NOISE},      {"folds", 1, 0, O_FOLDS},      {"n", 1, 0, O_N},
    {"help", 0, 0, O_HELP},        {"noise-scale", 1, 0, O_NSCALE}, {"no-learn-noise", 0, 0, O_NOLEARN},
    {"w-window", 1, 0, O_WWIN},    {"db", 1, 0, O_DB},
    {"encoder", 1, 0, O_ENC},      {"w-rough", 1, 0, O_WROUGH},
    {"no-window-prefixes", 0, 0, O_WPREF}, {"no-hetero-noise", 0, 0, O_HETERO},
    {"w-nll", 1, 0, O_WNLL},
    {0, 0, 0, 0}};

typedef struct args {
    const char *sub, *data, *latents, *output, *wm, *tm, *econ, *episodes, *db, *encoder;
    sl_world_config wc;
    sl_world_eval_config ec;
    int threads, json, quiet, horizon, n, have_floors;
    double noise;
    uint64_t seed;
} args;

/* "5,10,20" -> ints; returns count or -1. */
static int parse_int_list(const char *s, int *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > SL_WORLD_MAX_HORIZON || n >= max) return -1;
        out[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}
static int parse_dbl_list(const char *s, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0 && v <= 1) || n >= max) return -1;
        out[n++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}

static int parse_args(int argc, char **argv, args *a) {
    const char *cmd = "world";
    long v;
    double x;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_LAT: a->latents = optarg; break;
        case O_OUT: a->output = optarg; break;
        case O_WM: a->wm = optarg; break;
        case O_TM: a->tm = optarg; break;
        case O_ECON: a->econ = optarg; break;
        case O_EPS: a->episodes = optarg; break;
        case O_DB: a->db = optarg; break;
        case O_ENC: a->encoder = optarg; break;
        case O_MODE:
            if (sl_world_mode_parse(optarg, &a->wc.mode) != SL_OK)
                return sl_cli_usage_error(cmd, "--mode expects tf, ss or bptt, got '%s'", optarg);
            break;
        case O_CLIP:
            if (sl_world_clip_parse(optarg, &a->wc.clip) != SL_OK)
                return sl_cli_usage_error(cmd, "--clip expects none, tanh or hard, got '%s'", optarg);
            break;
#define INTOPT(ID, NAME, LO, HI, DST)                                                         \
    case ID:                                                                                  \
        if (sl_cli_parse_int(cmd, NAME, optarg, LO, HI, &v)) return 2;                        \
        DST = (int)v;                                                                         \
        break;
#define DBLOPT(ID, NAME, LO, HI, DST, T)                                                      \
    case ID:                                                                                  \
        if (sl_cli_parse_double(cmd, NAME, optarg, LO, HI, &x)) return 2;                     \
        DST = (T)x;                                                                           \
        break;
            INTOPT(O_MEMBERS, "--members", 1, SL_WORLD_MAX_MEMBERS, a->wc.members)
            INTOPT(O_HIDDEN, "--hidden", 1, 4096, a->wc.hidden)
            INTOPT(O_BURN, "--burn-in", 0, 256, a->wc.burn_in)
            INTOPT(O_BATCH, "--batch", 2, 65536, a->wc.batch)
            INTOPT(O_ITERS, "--iters", 1, 100000000, a->wc.max_iters)
            INTOPT(O_EVERY, "--eval-every", 1, 100000000, a->wc.eval_every)
            INTOPT(O_PAT, "--patience", 1, 100000000, a->wc.patience)
            INTOPT(O_STRIDE, "--stride", 1, 100000, a->ec.start_stride)
            INTOPT(O_FOLDS, "--folds", 2, 100, a->ec.detect_folds)
            INTOPT(O_N, "--n", 1, 1 << 24, a->n)
            INTOPT(O_THREADS, "--threads", 0, 1024, a->threads)
            DBLOPT(O_LR, "--lr", 1e-8, 10, a->wc.lr, float)
            DBLOPT(O_GCLIP, "--grad-clip", 0, 1e9, a->wc.grad_clip, float)
            DBLOPT(O_HOLD, "--holdout", 0, 0.9, a->wc.holdout_frac, double)
            DBLOPT(O_WVAR, "--w-var", 0, 1e6, a->wc.w_var, float)
            DBLOPT(O_WDIST, "--w-dist", 0, 1e6, a->wc.w_dist, float)
            DBLOPT(O_WWIN, "--w-window", 0, 1e6, a->wc.w_window, float)
            DBLOPT(O_WROUGH, "--w-rough", 0, 1e6, a->wc.w_rough, float)
            DBLOPT(O_WNLL, "--w-nll", 0, 1e6, a->wc.w_nll, float)
            DBLOPT(O_WREW, "--w-reward", 0, 1e6, a->wc.w_reward, float)
            DBLOPT(O_WECON, "--w-econ", 0, 1e6, a->wc.w_econ, float)
            DBLOPT(O_CLIPV, "--clip-value", 1e-6, 1e6, a->wc.clip_value, float)
            DBLOPT(O_SS0, "--ss-start", 0, 1, a->wc.ss_start, float)
            DBLOPT(O_SS1, "--ss-end", 0, 1, a->wc.ss_end, float)
            DBLOPT(O_SSF, "--ss-frac", 1e-6, 1, a->wc.ss_frac, float)
            DBLOPT(O_NOISE, "--noise", 0, 1e3, a->noise, double)
        case O_HORIZON:
            if (sl_cli_parse_int(cmd, "--horizon", optarg, 1, SL_WORLD_MAX_HORIZON, &v)) return 2;
            a->wc.horizon = a->horizon = (int)v;
            break;
        case O_NOBOOT: a->wc.bootstrap = 0; break;
        case O_NOLEARN: a->wc.learn_noise = a->wc.hetero_noise = 0; break;
        case O_WPREF: a->wc.window_prefixes = 0; break;
        case O_HETERO: a->wc.hetero_noise = 0; break;
        case O_NSCALE:
            if (sl_cli_parse_double(cmd, "--noise-scale", optarg, 0, 1000, &x)) return 2;
            a->wc.noise_scale = (float)x;
            break;
        case O_SEED:
            if (sl_cli_parse_u64(cmd, "--seed", optarg, &a->seed)) return 2;
            break;
        case O_JSON: a->json = 1; break;
        case 'q':
        case O_QUIET: a->quiet = 1; break;
        case 'h':
        case O_HELP: usage(); return -1;
        case O_HS: {
            int n = parse_int_list(optarg, a->ec.horizons, SL_WORLD_EVAL_MAX_H);
            if (n < 1)
                return sl_cli_usage_error(cmd, "--horizons expects a list like 5,10,20 (each 1..%d)",
                                          SL_WORLD_MAX_HORIZON);
            a->ec.n_h = n;
            break;
        }
        case O_FLOORS: {
            double f[SL_WORLD_EVAL_MAX_H];
            int n = parse_dbl_list(optarg, f, SL_WORLD_EVAL_MAX_H);
            if (n < 1) return sl_cli_usage_error(cmd, "--floors expects a list of values in [0, 1]");
            a->have_floors = n;
            memcpy(a->ec.floors, f, (size_t)n * sizeof(double));
            break;
        }
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Load dataset + latents and bind the econ columns. */
static sl_status load_data(const args *a, const char (*econ)[SL_WORLD_NAME_MAX], int n_econ,
                           sl_dataset **ds, float **z, float **zn, sl_world_data *d) {
    size_t n;
    int zd;
    SL_TRY(sl_dataset_load_npz(ds, a->data));
    SL_TRY(sl_world_load_latents(a->latents, *ds, z, zn, &n, &zd));
    return sl_world_data_init(d, *ds, *z, *zn, zd, econ, n_econ);
}

static int pick_econ(const args *a, const sl_dataset *ds, sl_world_config *wc) {
    if (!a->econ) { /* defaults that exist in the data */
        sl_world_config def;
        sl_world_config_default(&def);
        wc->n_econ = 0;
        for (int i = 0; i < def.n_econ; i++)
            if (sl_dataset_step_col(ds, def.econ_names[i]))
                strcpy(wc->econ_names[wc->n_econ++], def.econ_names[i]);
        return 0;
    }
    wc->n_econ = 0;
    if (strcmp(a->econ, "none") == 0) return 0;
    const char *p = a->econ;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= SL_WORLD_NAME_MAX || wc->n_econ >= SL_WORLD_MAX_ECON)
            return sl_cli_usage_error("world", "--econ expects up to %d column names", SL_WORLD_MAX_ECON);
        memcpy(wc->econ_names[wc->n_econ], p, len);
        wc->econ_names[wc->n_econ++][len] = 0;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

static int do_train(args *a) {
    if (!a->data || !a->latents || !a->output)
        return sl_cli_usage_error("world", "train needs --data, --latents and --output");
    /* the econ columns given, or the defaults the data has */
    sl_dataset *ds = NULL;
    sl_status st = sl_dataset_load_npz(&ds, a->data);
    int rc = st == SL_OK ? pick_econ(a, ds, &a->wc) : 0;
    sl_dataset_free(ds);
    if (rc) return rc;
    a->wc.seed = a->seed;
    sl_registry *reg = NULL;
    int64_t run = 0;
    {
        cJSON *conf = cJSON_CreateObject();
        if (conf) {
            cJSON_AddStringToObject(conf, "data", a->data);
            cJSON_AddStringToObject(conf, "latents", a->latents);
            cJSON_AddStringToObject(conf, "output", a->output);
            cJSON_AddItemToObject(conf, "world", sl_world_config_json(&a->wc));
        }
        sl_status bs = cli_run_begin(a->db, "world train", conf, a->seed, &reg, &run);
        if (st == SL_OK) st = bs;
    }
    sl_loop_world_train_config wc = {a->data, a->latents, a->output, a->encoder, a->wc};
    sl_loop_world_train_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (st == SL_OK) st = sl_loop_world_train(&wc, &ctx, &r);
    st = cli_job_finish(&job, st);
    rc = cli_run_finish(reg, run, st, r.json);
    const sl_world_train_report *rep = &r.report;
    if (rc == 0 && a->json) {
        char *s = cJSON_Print(r.json);
        if (s) printf("%s\n", s);
        free(s);
    } else if (rc == 0 && !a->quiet) {
        printf("world model (%s, %d members, hidden %d) -> %s\n", sl_world_mode_name(a->wc.mode),
               a->wc.members, a->wc.hidden, a->output);
        printf("  iterations %d (best %d%s), train loss %.5g, held-out score %.5g, %.1f s\n",
               rep->iters, rep->best_iter, rep->stopped_early ? ", early stop" : "",
               rep->train_loss, rep->best_val, rep->seconds);
    }
    sl_loop_world_train_result_free(&r);
    return rc;
}

static int do_eval(args *a) {
    if (!a->data || !a->latents || !a->wm)
        return sl_cli_usage_error("world", "eval needs --data, --latents and --world-model");
    if (a->have_floors && a->have_floors != a->ec.n_h)
        return sl_cli_usage_error("world", "--floors has %d values for %d horizons", a->have_floors,
                                  a->ec.n_h);
    if (a->episodes && strcmp(a->episodes, "holdout") != 0 && strcmp(a->episodes, "all") != 0)
        return sl_cli_usage_error("world", "--episodes expects holdout or all");
    if (!a->have_floors)
        for (int i = 0; i < a->ec.n_h; i++) {
            int h = a->ec.horizons[i];
            a->ec.floors[i] = h <= 5 ? 0.95 : (h <= 10 ? 0.90 : 0.85);
        }
    a->ec.noise = (float)a->noise;
    a->ec.seed = a->seed;
    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL;
    sl_world_data d = {0};
    sl_world *w = NULL;
    sl_trust_model *tm = NULL;
    size_t *all = NULL;
    cJSON *res = NULL;
    sl_world_eval_row rows[SL_WORLD_EVAL_MAX_H];
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st;
    {
        cJSON *conf = cJSON_CreateObject();
        if (conf) {
            cJSON_AddStringToObject(conf, "data", a->data);
            cJSON_AddStringToObject(conf, "latents", a->latents);
            cJSON_AddStringToObject(conf, "world_model", a->wm);
            if (a->tm) cJSON_AddStringToObject(conf, "trust_model", a->tm);
            cJSON_AddStringToObject(conf, "episodes", a->episodes ? a->episodes : "holdout");
            cJSON_AddNumberToObject(conf, "noise", a->noise);
            cJSON *hs = cJSON_AddArrayToObject(conf, "horizons");
            for (int i = 0; i < a->ec.n_h; i++)
                cJSON_AddItemToArray(hs, cJSON_CreateNumber(a->ec.horizons[i]));
        }
        st = cli_run_begin(a->db, "world eval", conf, a->seed, &reg, &run);
    }
    if (st == SL_OK) st = sl_world_load(&w, a->wm);
    if (st == SL_OK) {
        const sl_world_config *wc = sl_world_get_config(w);
        st = load_data(a, (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names, wc->n_econ, &ds, &z, &zn, &d);
    }
    if (st == SL_OK) st = sl_loop_attach_sphere(w, a->encoder);
    if (st == SL_OK && a->tm) st = sl_trust_load(&tm, a->tm);
    const size_t *eps = NULL;
    size_t ne = 0;
    if (st == SL_OK && a->episodes && strcmp(a->episodes, "all") == 0) {
        all = malloc(d.n_episodes * sizeof *all);
        if (!all) st = sl_set_error(SL_ERR_NOMEM, "world eval: out of memory");
        for (size_t i = 0; all && i < d.n_episodes; i++) all[i] = i;
        eps = all;
        ne = d.n_episodes;
    }
    if (st == SL_OK)
        st = sl_world_evaluate(w, &d, eps, ne, &a->ec, tm ? sl_synth_trust_score
                                                          : NULL, tm, rows);
    if (st == SL_OK) {
        res = sl_world_eval_json(rows, a->ec.n_h);
        cJSON *cfg = cJSON_AddObjectToObject(res, "config");
        cJSON_AddStringToObject(cfg, "data", a->data);
        cJSON_AddStringToObject(cfg, "latents", a->latents);
        cJSON_AddStringToObject(cfg, "world_model", a->wm);
        if (a->tm) cJSON_AddStringToObject(cfg, "trust_model", a->tm);
        else cJSON_AddNullToObject(cfg, "trust_model");
        cJSON_AddStringToObject(cfg, "episodes", eps ? "all" : "holdout");
        cJSON_AddBoolToObject(cfg, "sphere_projection", sl_world_has_sphere(w));
        cJSON_AddNumberToObject(cfg, "start_stride", a->ec.start_stride);
        cJSON_AddNumberToObject(cfg, "noise", a->noise < 0 ? (double)sl_world_get_config(w)->noise_scale : a->noise);
        cJSON_AddNumberToObject(cfg, "detect_folds", a->ec.detect_folds);
        cJSON_AddItemToObject(cfg, "world_config", sl_world_config_json(sl_world_get_config(w)));
        sl_json_add_provenance(res, a->seed);
        if (a->output) st = sl_json_write_file(a->output, res);
    }
    if (st == SL_OK && reg) {
        sl_registry_world_row rr[SL_WORLD_EVAL_MAX_H];
        for (int i = 0; i < a->ec.n_h; i++)
            rr[i] = (sl_registry_world_row){rows[i].h, rows[i].mse, rows[i].std_ratio,
                                            rows[i].var_growth, rows[i].trust_mean,
                                            rows[i].detect_auc};
        st = sl_registry_add_world_eval(reg, run, rr, (size_t)a->ec.n_h);
        char *rj = st == SL_OK ? cJSON_PrintUnformatted(res) : NULL;
        if (st == SL_OK && !rj) st = sl_set_error(SL_ERR_NOMEM, "world eval: out of memory");
        if (st == SL_OK) st = sl_registry_add_result(reg, run, "world_eval_report", rj);
        free(rj);
        char apath[PATH_MAX];
        if (st == SL_OK && a->output)
            st = sl_registry_add_artifact(reg, run, "world_eval.json", cli_abs_path(a->output, apath));
    }
    int rc = cli_run_finish(reg, run, st, NULL);
    if (rc) {
        /* error already printed */
    } else if (a->json) {
        char *s = cJSON_Print(res);
        if (s) printf("%s\n", s);
        free(s);
    } else if (!a->quiet) {
        printf("%4s %7s %8s %9s %8s %8s %8s %9s %6s %10s %9s %8s %7s\n", "h", "starts", "mse",
               "std_ratio", "vg_syn", "vg_real", "trust", "trust_min", "pass", "real_trust",
               "real_pass", "disagree", "detect");
        for (int i = 0; i < a->ec.n_h; i++) {
            const sl_world_eval_row *r = &rows[i];
            /* disagreement is undefined for a 1-member ensemble: "-" rather than "nan" */
            char dis[32];
            if (isfinite(r->disagreement))
                snprintf(dis, sizeof dis, "%.4g", r->disagreement);
            else
                snprintf(dis, sizeof dis, "-");
            printf("%4d %7zu %8.4g %9.4f %8.4f %8.4f %8.4f %9.4f %6.3f %10.4f %9.3f %8s %7.3f\n",
                   r->h, r->n_starts, r->mse, r->std_ratio, r->var_growth, r->var_growth_real,
                   r->trust_mean, r->trust_min, r->trust_pass_rate, r->trust_real_mean,
                   r->trust_real_pass_rate, dis, r->detect_auc);
        }
    }
    cJSON_Delete(res);
    free(all);
    sl_trust_free(tm);
    sl_world_free(w);
    sl_world_data_clear(&d);
    sl_dataset_free(ds);
    free(z);
    free(zn);
    return rc;
}

static int do_rollout(args *a) {
    if (!a->data || !a->latents || !a->wm || !a->output)
        return sl_cli_usage_error("world", "rollout needs --data, --latents, --world-model and --output");
    int H = a->horizon ? a->horizon : 60, n = a->n ? a->n : 500;
    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL, *win = NULL;
    size_t *starts = malloc((size_t)n * sizeof *starts);
    int32_t *ids = NULL;
    int64_t *st64 = NULL;
    sl_world_data d = {0};
    sl_world *w = NULL;
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st;
    {
        cJSON *conf = cJSON_CreateObject();
        if (conf) {
            cJSON_AddStringToObject(conf, "data", a->data);
            cJSON_AddStringToObject(conf, "latents", a->latents);
            cJSON_AddStringToObject(conf, "world_model", a->wm);
            cJSON_AddStringToObject(conf, "output", a->output);
            cJSON_AddNumberToObject(conf, "horizon", H);
            cJSON_AddNumberToObject(conf, "n", n);
            cJSON_AddNumberToObject(conf, "noise", a->noise);
        }
        st = cli_run_begin(a->db, "world rollout", conf, a->seed, &reg, &run);
    }
    if (st == SL_OK)
        st = starts ? sl_world_load(&w, a->wm) : sl_set_error(SL_ERR_NOMEM, "out of memory");
    if (st == SL_OK) {
        const sl_world_config *wc = sl_world_get_config(w);
        st = load_data(a, (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names, wc->n_econ, &ds, &z, &zn, &d);
    }
    if (st == SL_OK) st = sl_loop_attach_sphere(w, a->encoder);
    if (st == SL_OK) st = sl_world_generate_windows(w, &d, H, (size_t)n, (float)a->noise, a->seed, &win, starts);
    size_t T = (size_t)H + 1, Z = (size_t)d.z_dim;
    if (st == SL_OK) {
        ids = malloc((size_t)n * T * sizeof *ids);
        st64 = malloc((size_t)n * sizeof *st64);
        if (!ids || !st64) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK) {
        for (size_t i = 0; i < (size_t)n; i++) {
            st64[i] = (int64_t)starts[i];
            for (size_t t = 0; t < T; t++) ids[i * T + t] = (int32_t)i;
        }
        sl_npz_writer *wr;
        st = sl_npz_writer_open(&wr, a->output, SL_NPZ_STORED);
        if (st == SL_OK) {
            size_t s3[3] = {(size_t)n, T, Z}, s2[2] = {(size_t)n * T, Z}, s1[1] = {(size_t)n * T},
                   sn[1] = {(size_t)n};
            st = sl_npz_writer_add(wr, "windows", SL_DTYPE_F32, 3, s3, win);
            if (st == SL_OK) st = sl_npz_writer_add(wr, "latents", SL_DTYPE_F32, 2, s2, win);
            if (st == SL_OK) st = sl_npz_writer_add(wr, "episode_ids", SL_DTYPE_I32, 1, s1, ids);
            if (st == SL_OK) st = sl_npz_writer_add(wr, "start_rows", SL_DTYPE_I64, 1, sn, st64);
            if (st == SL_OK) st = sl_npz_writer_commit(wr);
            else sl_npz_writer_abort(wr);
        }
    }
    if (st == SL_OK) {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "command", "world rollout");
        cJSON_AddStringToObject(res, "world_model", a->wm);
        cJSON_AddStringToObject(res, "output", a->output);
        cJSON_AddNumberToObject(res, "horizon", H);
        cJSON_AddNumberToObject(res, "n", n);
        cJSON_AddNumberToObject(res, "noise", a->noise < 0 ? (double)sl_world_get_config(w)->noise_scale : a->noise);
        cJSON_AddStringToObject(res, "mode", sl_world_mode_name(sl_world_get_config(w)->mode));
        sl_json_add_provenance(res, a->seed);
        char *sc = sl_loop_sidecar_path(a->output, NULL);
        if (sc) st = sl_json_write_file(sc, res);
        free(sc);
        char apath[PATH_MAX];
        if (st == SL_OK)
            st = sl_registry_add_dataset(reg, run, cli_abs_path(a->output, apath), "rollout",
                                         (int64_t)((size_t)n * T), (int64_t)n, NULL);
        if (st == SL_OK && a->json) {
            char *s = cJSON_Print(res);
            if (s) printf("%s\n", s);
            free(s);
        } else if (st == SL_OK && !a->quiet) {
            printf("%d windows of %d steps -> %s\n", n, H, a->output);
        }
        cJSON_Delete(res);
    }
    int rc = cli_run_finish(reg, run, st, NULL);
    sl_world_free(w);
    sl_world_data_clear(&d);
    sl_dataset_free(ds);
    free(z);
    free(zn);
    free(win);
    free(starts);
    free(ids);
    free(st64);
    return rc;
}

int cmd_world(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) return sl_cli_usage_error("world", "expected a subcommand: train, eval or rollout");
        usage();
        return 0;
    }
    args a;
    memset(&a, 0, sizeof a);
    a.sub = argv[1];
    a.noise = -1.0; /* the model's noise scale */
    sl_world_config_default(&a.wc);
    sl_world_eval_config_default(&a.ec);
    if (strcmp(a.sub, "train") != 0 && strcmp(a.sub, "eval") != 0 && strcmp(a.sub, "rollout") != 0)
        return sl_cli_usage_error("world", "unknown subcommand '%s' (train, eval, rollout)", a.sub);
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc < 0) return 0;
    if (rc) return rc;
    if (a.quiet || sl_cli_quiet) {
        a.quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (a.threads) sl_nn_set_threads(a.threads);
    if (strcmp(a.sub, "train") == 0) return do_train(&a);
    if (strcmp(a.sub, "eval") == 0) return do_eval(&a);
    return do_rollout(&a);
}
