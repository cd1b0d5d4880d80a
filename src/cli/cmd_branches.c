/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_branches.c - `synthloop branches collect`: roll short synthetic branches out of the world
 * model from real starts, score them with trust_net, gate them, and write FILE.npz (branches +
 * flattened learner transitions) and FILE.json (pass rate, trust distribution, per-brick pass
 * rates, config, provenance).
 *
 * Invariant: the NPZ is written before the JSON and both atomically; no NaN reaches either.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"
#include "pipeline.h"
#include "synthloop/sl_loop.h"
#include "run_record.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_rl.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_trust.h"
#include "synthloop/sl_world.h"

SL_COMMAND(branches, "collect trust-gated synthetic branches from the world model (branches collect)")

static void usage(void) {
    printf("usage: synthloop branches collect --data D.npz --latents Z.npz --world-model WM.safetensors\n"
           "                                  --trust-model T.safetensors --output FILE.npz [options]\n"
           "\n"
           "Starts branches at random real (episode, t) with t + H inside the episode, takes actions\n"
           "from a behaviour clone (MLP latent -> action trained here) with Gaussian noise, rolls the\n"
           "world model out H steps, scores every branch with trust_net and gates it (trust floor +\n"
           "std-ratio band; non-finite -> rejected). Keys and statistics: docs/WORLD.md.\n"
           "\n"
           "options:\n"
           "  --horizon N                branch length H (default 10)\n"
           "  --min-trust X              trust floor (default: the band's preset floor)\n"
           "  --branches-per-episode N   starts per episode (default 5)\n"
           "  --band normal|conservative|aggressive  std-ratio band [0.8,1.2] | [0.9,1.1] | [0.7,1.3]\n"
           "                             (and its trust floor 0.9 | 0.95 | 0.8) (default normal)\n"
           "  --bricks PATH              brick assignments NPZ (episode_brick_ids or brick_ids)\n"
           "  --policy PATH              actions from a trained policy over these latents (a\n"
           "                             `synthloop train --output` checkpoint) instead of the\n"
           "                             behaviour clone; --policy-noise applies to it too\n"
           "  --policy-noise X           action noise in action stds (default 0.1)\n"
           "  --bc-iters N               BC training steps (default 800)\n"
           "  --noise X                  world-model noise scale (default: the model's calibrated)\n"
           "  --no-certify               skip the generator certificate (the world model's std\n"
           "                             ratio at horizons 5..60 on held-out real starts, stored as\n"
           "                             generator_horizons / generator_std_ratio; ab's controller\n"
           "                             gives no weight to a file whose range leaves its band)\n"
           "  --seed N                   seed (default 0)\n"
           "  --threads N                kernel threads\n"
           "  --encoder PATH             attach the encoder's latent sphere (rollouts projected\n"
           "                             back onto it every step; see world --help)\n"
           "  --db PATH|none             run registry (default $SYNTHLOOP_DB or synthloop.db; none = off)\n"
           "  --json                     print the summary JSON on stdout\n"
           "  --quiet                    no table\n");
}

enum {
    O_DATA = 1000, O_LAT, O_WM, O_TM, O_OUT, O_H, O_MINT, O_BPE, O_BAND, O_BRICKS, O_PN, O_BCI,
    O_NOISE, O_SEED, O_THREADS, O_JSON, O_QUIET, O_HELP, O_DB, O_ENC, O_NOCERT, O_POLICY
};
static const struct option opts[] = {
    {"data", 1, 0, O_DATA},          {"latents", 1, 0, O_LAT},   {"world-model", 1, 0, O_WM},
    {"trust-model", 1, 0, O_TM},     {"output", 1, 0, O_OUT},    {"horizon", 1, 0, O_H},
    {"min-trust", 1, 0, O_MINT},     {"branches-per-episode", 1, 0, O_BPE},
    {"band", 1, 0, O_BAND},          {"bricks", 1, 0, O_BRICKS}, {"policy-noise", 1, 0, O_PN},
    {"bc-iters", 1, 0, O_BCI},       {"noise", 1, 0, O_NOISE},   {"seed", 1, 0, O_SEED},
    {"threads", 1, 0, O_THREADS},    {"json", 0, 0, O_JSON},     {"quiet", 0, 0, O_QUIET},
    {"help", 0, 0, O_HELP},          {"db", 1, 0, O_DB},         {"encoder", 1, 0, O_ENC},
    {"no-certify", 0, 0, O_NOCERT},  {"policy", 1, 0, O_POLICY},
    {0, 0, 0, 0}};

int cmd_branches(int argc, char **argv) {
    const char *cmd = "branches";
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) return sl_cli_usage_error(cmd, "expected a subcommand: collect");
        usage();
        return 0;
    }
    if (strcmp(argv[1], "collect") != 0)
        return sl_cli_usage_error(cmd, "unknown subcommand '%s' (collect)", argv[1]);
    argc--;
    argv++;
    const char *data = NULL, *lat = NULL, *wm = NULL, *tmp = NULL, *out = NULL, *bricks = NULL,
               *db = NULL, *encp = NULL, *polp = NULL;
    sl_synth_config sc;
    sl_synth_config_default(&sc);
    sl_gate_preset preset = SL_GATE_NORMAL;
    double min_trust = -1, x;
    long v;
    int json = 0, quiet = 0, threads = 0, certify = 1, c;
    uint64_t seed = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_LAT: lat = optarg; break;
        case O_WM: wm = optarg; break;
        case O_TM: tmp = optarg; break;
        case O_OUT: out = optarg; break;
        case O_BRICKS: bricks = optarg; break;
        case O_DB: db = optarg; break;
        case O_ENC: encp = optarg; break;
        case O_POLICY: polp = optarg; break;
        case O_H:
            if (sl_cli_parse_int(cmd, "--horizon", optarg, 1, SL_WORLD_MAX_HORIZON, &v)) return 2;
            sc.horizon = (int)v;
            break;
        case O_BPE:
            if (sl_cli_parse_int(cmd, "--branches-per-episode", optarg, 1, 100000, &v)) return 2;
            sc.branches_per_episode = (int)v;
            break;
        case O_BCI:
            if (sl_cli_parse_int(cmd, "--bc-iters", optarg, 0, 10000000, &v)) return 2;
            sc.bc_iters = (int)v;
            break;
        case O_THREADS:
            if (sl_cli_parse_int(cmd, "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        case O_MINT:
            if (sl_cli_parse_double(cmd, "--min-trust", optarg, 0, 1, &min_trust)) return 2;
            break;
        case O_PN:
            if (sl_cli_parse_double(cmd, "--policy-noise", optarg, 0, 100, &x)) return 2;
            sc.policy_noise = (float)x;
            break;
        case O_NOISE:
            if (sl_cli_parse_double(cmd, "--noise", optarg, 0, 1000, &x)) return 2;
            sc.rollout_noise = (float)x;
            break;
        case O_BAND:
            if (sl_gate_preset_parse(optarg, &preset) != SL_OK)
                return sl_cli_usage_error(cmd, "--band expects normal, conservative or aggressive");
            break;
        case O_SEED:
            if (sl_cli_parse_u64(cmd, "--seed", optarg, &seed)) return 2;
            break;
        case O_JSON: json = 1; break;
        case O_NOCERT: certify = 0; break;
        case 'q':
        case O_QUIET: quiet = 1; break;
        case 'h':
        case O_HELP: usage(); return 0;
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!data || !lat || !wm || !tmp || !out)
        return sl_cli_usage_error(cmd, "collect needs --data, --latents, --world-model, "
                                  "--trust-model and --output");
    if (quiet || sl_cli_quiet) {
        quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (threads) sl_nn_set_threads(threads);
    sc.gate = sl_gate_from_preset(preset);
    if (min_trust >= 0) sc.gate.trust_floor = min_trust;
    sc.seed = seed;

    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st;
    {
        cJSON *conf = sl_synth_config_json(&sc);
        if (conf) {
            cJSON_AddStringToObject(conf, "band", sl_gate_preset_name(preset));
            cJSON_AddStringToObject(conf, "data", data);
            cJSON_AddStringToObject(conf, "latents", lat);
            cJSON_AddStringToObject(conf, "world_model", wm);
            cJSON_AddStringToObject(conf, "trust_model", tmp);
            if (bricks) cJSON_AddStringToObject(conf, "bricks", bricks);
            if (polp) cJSON_AddStringToObject(conf, "policy", polp);
            cJSON_AddStringToObject(conf, "output", out);
        }
        st = cli_run_begin(db, "branches collect", conf, seed, &reg, &run);
    }
    sl_loop_branches_config bc = {data, lat, wm, tmp, bricks, encp, polp, out, sc,
                                  sl_gate_preset_name(preset), certify};
    sl_loop_branches_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (st == SL_OK) st = sl_loop_branches(&bc, &ctx, &r);
    st = cli_job_finish(&job, st);
    const sl_branches *b = r.b;
    const cJSON *res = r.json;
    int rc = cli_run_finish(reg, run, st, NULL);
    if (rc) {
        /* error already printed */
    } else if (json) {
        char *s = cJSON_Print(res);
        if (s) printf("%s\n", s);
        free(s);
    } else if (!quiet) {
        printf("%zu branches of %d steps -> %s\n", b->n, b->horizon, out);
        printf("  pass rate %.3f (gate: trust >= %.2f, std ratio in [%.2f, %.2f])\n",
               sl_json_num(res, "pass_rate", 0), sc.gate.trust_floor, sc.gate.ratio_lo,
               sc.gate.ratio_hi);
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(res, "trust_quantiles");
        if (b->cert.n > 0) pl_print_certificate("  ", &b->cert);
        printf("  trust p05 %.4f  p50 %.4f  p95 %.4f\n", sl_json_num(q, "p05", 0),
               sl_json_num(q, "p50", 0), sl_json_num(q, "p95", 0));
        const cJSON *dp = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res, "detection"), "passed");
        printf("  passed set: mean trust %.4f  detection AUC vs real %.4f (0.5 = indistinguishable)\n",
               sl_json_num(dp, "trust_mean", NAN), sl_json_num(dp, "auc", NAN));
        const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(res, "reasons");
        const cJSON *it;
        printf("  reasons:");
        cJSON_ArrayForEach(it, reasons) printf(" %s %d", it->string, (int)it->valuedouble);
        printf("\n");
    }
    sl_loop_branches_result_free(&r);
    return rc;
}
