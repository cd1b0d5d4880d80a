/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_train.c - `synthloop train`: one offline RL policy on real (+ weighted synthetic) data. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"
#include "pipeline.h"
#include "run_record.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"

SL_COMMAND(train, "train an offline RL policy (TD3+BC or SAC) on real + weighted synthetic data")

static void usage(void) {
    printf("usage: synthloop train --data D.npz --latents Z.npz --output POLICY.safetensors\n"
           "                       [--synth-data BRANCHES.npz --synth-weight W] [options]\n\n"
           "Trains a policy on latent states from the real transitions, optionally mixed with\n"
           "synthetic branches weighted by the SyntheticWeightController, and saves the final\n"
           "policy. Every sample's source (real/synthetic) is tracked in the replay buffer.\n\n"
           "options:\n"
           "  --synth-data FILE   branches from 'synthloop branches collect'\n"
           "  --synth-weight W    target synthetic share of the training weight (0.1)\n"
           "  --weighting MODE    controller (default) | ungated\n"
           "  --min-trust T       controller trust floor (0.9)\n"
           "  --min-pass-rate P   generator rail: no synthetic weight when the branch file's gate\n"
           "                      pass rate is below P (0.1)\n"
           "  --generator-band B  certificate rail: no synthetic weight when the generator's std\n"
           "                      ratio (horizons 5..60) leaves B = LO,HI | normal (default,\n"
           "                      0.8,1.2) | conservative | aggressive | off\n"
           "  --econ-model E.json, --lambda-model L.json, --min-outcomes N\n"
           "                      learned controller components (see ab --help)\n"
           "  --max-share S       hard cap on the synthetic share (0.4)\n"
           "  --algo iql|td3bc|sac  learner (iql: expectile value + advantage-weighted BC)\n"
           "  --updates N         gradient updates (5000)\n"
           "  --hidden N          hidden width (128)\n"
           "  --batch N           batch size (256)\n"
           "  --alpha-bc A         TD3+BC's alpha: lambda = alpha / mean|Q| (2.5)\n"
           "  --lr LR               Adam learning rate of actor and critics (3e-4)\n"
           "  --iql-beta B        IQL inverse temperature of the advantage weights (2; 0 = BC)\n"
           "  --iql-expectile T   IQL expectile of the value regression (0.7)\n"
           "  --reward-scale S    multiply rewards in the critic targets (1)\n"
           "  --sampling MODE     proportional | importance (proportional)\n"
           "  --seed N            seed (0)\n"
           "  --threads N         compute threads (0 = all cores)\n"
           "  --db PATH|none      registry database\n"
           "  --json              print a JSON summary\n"
           "  --quiet             no progress bar\n");
}

int cmd_train(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *data = NULL, *latents = NULL, *synth = NULL, *output = NULL, *db = NULL;
    int json = 0, threads = 0, updates = 5000;
    sl_rl_config rc = sl_rl_config_defaults(SL_RL_IQL, 1, 1); /* docs/RL.md */
    rc.hidden = 128;
    sl_loop_synth_opts so;
    sl_loop_synth_opts_default(&so);
    static const struct option opts[] = {
        {"data", 1, 0, 'd'},       {"latents", 1, 0, 'z'},      {"synth-data", 1, 0, 's'},
        PL_SYNTH_LONG_OPTS, PL_RL_LONG_OPTS,
        {"updates", 1, 0, 'u'},
        {"seed", 1, 0, 'r'},       {"threads", 1, 0, 'T'},      {"output", 1, 0, 'o'},
        {"db", 1, 0, 'D'},         {"json", 0, 0, 'j'},         {"quiet", 0, 0, 'q'},       {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'z': latents = optarg; break;
        case 's': synth = optarg; break;
        case 'o': output = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case 'u':
            if (sl_cli_parse_int("train", "--updates", optarg, 1, 100000000, &v)) return 2;
            updates = (int)v;
            break;
        case 'r':
            if (sl_cli_parse_u64("train", "--seed", optarg, &rc.seed)) return 2;
            break;
        case 'T':
            if (sl_cli_parse_int("train", "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        default: {
            int r = pl_parse_rl_option("train", c, optarg, &rc);
            if (r < 0) r = pl_parse_synth_option("train", c, optarg, &so);
            if (r > 0) return r;
            if (r < 0)
                return sl_cli_usage_error("train", "unknown or incomplete option '%s'",
                                          argv[optind - 1]);
            break;
        }
        }
    }
    if (optind < argc) return sl_cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!data || !latents || !output)
        return sl_cli_usage_error("train", "--data, --latents and --output are required");
    sl_nn_set_threads(threads);

    /* the registry holds absolute paths, so that it means the same from any directory */
    char abs_data[PATH_MAX], abs_latents[PATH_MAX], abs_synth[PATH_MAX];
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "data", cli_abs_path(data, abs_data));
    cJSON_AddStringToObject(conf, "latents", cli_abs_path(latents, abs_latents));
    cJSON_AddStringToObject(conf, "synth_data", synth ? cli_abs_path(synth, abs_synth) : "");
    cJSON_AddNumberToObject(conf, "synth_weight", so.share);
    cJSON_AddStringToObject(conf, "weighting", sl_loop_weighting_name(so.mode));
    cJSON_AddStringToObject(conf, "algo", sl_rl_algo_name(rc.algo));
    cJSON_AddNumberToObject(conf, "updates", updates);
    cJSON_AddNumberToObject(conf, "hidden", rc.hidden);
    cJSON_AddNumberToObject(conf, "batch", rc.batch);
    cJSON_AddNumberToObject(conf, "lr", (double)rc.lr_actor);
    if (rc.algo == SL_RL_TD3BC) cJSON_AddNumberToObject(conf, "alpha_bc", (double)rc.alpha_bc);
    if (rc.algo == SL_RL_IQL) {
        cJSON_AddNumberToObject(conf, "iql_beta", (double)rc.iql_beta);
        cJSON_AddNumberToObject(conf, "iql_expectile", (double)rc.iql_expectile);
    }
    cJSON_AddStringToObject(conf, "sampling", sl_rl_sampling_name(rc.sampling));
    char *conf_txt = cJSON_PrintUnformatted(conf);

    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status s = sl_registry_open_default(db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "train", conf_txt, rc.seed, &run);
    sl_loop_train_config tc = {data, latents, synth, output, rc, updates, so};
    sl_loop_train_result tr;
    memset(&tr, 0, sizeof tr);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (s == SL_OK) s = sl_loop_train(&tc, &ctx, &tr);
    s = cli_job_finish(&job, s);
    const sl_rl_stats st = tr.last;
    const double share = tr.synth_share;
    cJSON *res = cJSON_CreateObject();
    if (s == SL_OK) {
        cJSON_AddStringToObject(res, "output", output);
        cJSON_AddNumberToObject(res, "real_rows", (double)tr.real_rows);
        cJSON_AddNumberToObject(res, "synthetic_rows", (double)tr.synth_rows);
        cJSON_AddNumberToObject(res, "synthetic_share", share);
        cJSON_AddNumberToObject(res, "final_critic_loss", st.critic_loss);
        cJSON_AddNumberToObject(res, "final_bc_mse", st.bc_mse);
        cJSON_AddItemToObject(res, "config", cJSON_Duplicate(conf, 1));
        sl_json_add_provenance(res, rc.seed);
        if (json) {
            char *t = cJSON_Print(res);
            if (t) puts(t);
            free(t);
        } else {
            printf("trained %s policy: %zu real + %zu synthetic rows (synthetic share %.3f), "
                   "%d updates\nwrote %s\n",
                   sl_rl_algo_name(rc.algo), tr.real_rows, tr.synth_rows, share, updates, output);
        }
    }
    char *err_sum = s == SL_OK ? NULL : cli_error_summary(s);
    int rc_exit = s == SL_OK ? 0 : sl_cli_fail(s);
    if (reg && run) {
        char *sum = s == SL_OK ? cJSON_PrintUnformatted(res) : err_sum;
        err_sum = NULL;
        sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, sum);
        free(sum);
    }
    free(err_sum);
    cJSON_Delete(res);
    sl_registry_close(reg);
    cJSON_Delete(conf);
    free(conf_txt);
    return rc_exit;
}
