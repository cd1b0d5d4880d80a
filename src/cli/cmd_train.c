/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_train.c - `synthloop train`: one offline RL policy on real (+ weighted synthetic) data. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
    pl_synth_opts so;
    pl_synth_opts_default(&so);
    static const struct option opts[] = {
        {"data", 1, 0, 'd'},       {"latents", 1, 0, 'z'},      {"synth-data", 1, 0, 's'},
        PL_SYNTH_LONG_OPTS,
        {"algo", 1, 0, 'a'},       {"updates", 1, 0, 'u'},
        {"hidden", 1, 0, 'H'},     {"batch", 1, 0, 'B'},        {"sampling", 1, 0, 'S'},
        {"seed", 1, 0, 'r'},       {"threads", 1, 0, 'T'},      {"output", 1, 0, 'o'},
        {"db", 1, 0, 'D'},         {"json", 0, 0, 'j'},         {"quiet", 0, 0, 'q'},       {"alpha-bc", 1, 0, 'A'},     {"lr", 1, 0, 'l'},
        {"iql-beta", 1, 0, 'b'},   {"iql-expectile", 1, 0, 'x'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long v;
    double dv;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'z': latents = optarg; break;
        case 's': synth = optarg; break;
        case 'o': output = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case 'b':
            if (sl_cli_parse_double("train", "--iql-beta", optarg, 0, 100, &dv)) return 2;
            rc.iql_beta = (float)dv;
            break;
        case 'x':
            if (sl_cli_parse_double("train", "--iql-expectile", optarg, 0.01, 0.99, &dv)) return 2;
            rc.iql_expectile = (float)dv;
            break;
        case 'A':
            if (sl_cli_parse_double("train", "--alpha-bc", optarg, 0, 1e6, &dv)) return 2;
            rc.alpha_bc = (float)dv;
            break;
        case 'l':
            if (sl_cli_parse_double("train", "--lr", optarg, 1e-8, 1, &dv)) return 2;
            rc.lr_actor = rc.lr_critic = (float)dv;
            break;
        case 'a':
            if (sl_rl_algo_parse(optarg, &rc.algo) != SL_OK)
                return sl_cli_usage_error("train", "%s", sl_last_error());
            break;
        case 'u':
            if (sl_cli_parse_int("train", "--updates", optarg, 1, 100000000, &v)) return 2;
            updates = (int)v;
            break;
        case 'H':
            if (sl_cli_parse_int("train", "--hidden", optarg, 1, 65536, &v)) return 2;
            rc.hidden = (int)v;
            break;
        case 'B':
            if (sl_cli_parse_int("train", "--batch", optarg, 1, 65536, &v)) return 2;
            rc.batch = (int)v;
            break;
        case 'S':
            if (sl_rl_sampling_parse(optarg, &rc.sampling) != SL_OK)
                return sl_cli_usage_error("train", "%s", sl_last_error());
            break;
        case 'r':
            if (sl_cli_parse_u64("train", "--seed", optarg, &rc.seed)) return 2;
            break;
        case 'T':
            if (sl_cli_parse_int("train", "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        default: {
            int r = pl_parse_synth_option("train", c, optarg, &so);
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
    char abs_data[PATH_MAX], abs_latents[PATH_MAX], abs_synth[PATH_MAX], abs_output[PATH_MAX];
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "data", cli_abs_path(data, abs_data));
    cJSON_AddStringToObject(conf, "latents", cli_abs_path(latents, abs_latents));
    cJSON_AddStringToObject(conf, "synth_data", synth ? cli_abs_path(synth, abs_synth) : "");
    cJSON_AddNumberToObject(conf, "synth_weight", so.share);
    cJSON_AddStringToObject(conf, "weighting", pl_weighting_name(so.mode));
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
    pl_real real;
    memset(&real, 0, sizeof real);
    pl_synth syn;
    memset(&syn, 0, sizeof syn);
    sl_replay *rb = NULL;
    sl_agent *ag = NULL;
    sl_status s = sl_registry_open_default(db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "train", conf_txt, rc.seed, &run);
    if (s == SL_OK) s = pl_real_load(&real, data, latents);
    so.reg = reg;
    so.run_id = run;
    if (s == SL_OK && synth) s = pl_synth_load(&syn, synth, real.t.n, &so);
    if (s == SL_OK && synth && syn.t.obs_dim != real.t.obs_dim)
        s = sl_set_error(SL_ERR_SHAPE, "%s: latent dims %d differ from %s (%d)", synth,
                         syn.t.obs_dim, latents, real.t.obs_dim);
    if (s == SL_OK) s = sl_replay_alloc(&rb, real.t.n + syn.t.n, real.t.obs_dim, real.t.act_dim);
    if (s == SL_OK)
        s = sl_replay_add(rb, real.t.n, real.t.obs, real.t.act, real.t.rew, real.t.next_obs,
                          real.t.done, NULL, SL_SOURCE_REAL);
    if (s == SL_OK && syn.t.n)
        s = sl_replay_add(rb, syn.t.n, syn.t.obs, syn.t.act, syn.t.rew, syn.t.next_obs, syn.t.done,
                          syn.t.weight, SL_SOURCE_SYNTH);
    float *mean = NULL, *std = NULL;
    if (s == SL_OK) {
        int O = real.t.obs_dim;
        mean = calloc((size_t)O, sizeof(float));
        std = calloc((size_t)O, sizeof(float));
        if (!mean || !std) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
        for (int j = 0; s == SL_OK && j < O; j++) {
            double a = 0, b = 0;
            for (size_t i = 0; i < real.t.n; i++) {
                double x = (double)real.t.obs[i * (size_t)O + j];
                a += x;
                b += x * x;
            }
            double m = a / (double)real.t.n, var = b / (double)real.t.n - m * m;
            mean[j] = (float)m;
            std[j] = (float)sqrt(var > 0 ? var : 0) + 1e-3f;
        }
        rc.obs_dim = real.t.obs_dim;
        rc.act_dim = real.t.act_dim;
    }
    if (s == SL_OK) s = sl_agent_new(&ag, &rc, mean, std);
    sl_progress prog;
    sl_progress_begin(&prog, "train", (uint64_t)updates);
    sl_rl_stats st;
    memset(&st, 0, sizeof st);
    double share = rb ? sl_replay_synth_share(rb) : 0.0;
    for (int u = 1; s == SL_OK && u <= updates; u++) {
        s = sl_agent_update(ag, rb, &st);
        if (s == SL_OK && (u % 100 == 0 || u == updates)) {
            char extra[96];
            snprintf(extra, sizeof extra, "critic %.4g bc %.4g", st.critic_loss, st.bc_mse);
            sl_progress_update(&prog, (uint64_t)u, extra);
            sl_registry_add_metric(reg, run, "train/critic_loss", u, st.critic_loss);
            if (st.actor_updated) sl_registry_add_metric(reg, run, "train/bc_mse", u, st.bc_mse);
        }
    }
    sl_progress_end(&prog);
    if (s == SL_OK) s = sl_agent_save(ag, output);
    if (s == SL_OK)
        s = sl_registry_add_model(reg, run, "policy", cli_abs_out_path(output, abs_output), 0,
                                  NULL, NULL);
    cJSON *res = cJSON_CreateObject();
    if (s == SL_OK) {
        cJSON_AddStringToObject(res, "output", output);
        cJSON_AddNumberToObject(res, "real_rows", (double)real.t.n);
        cJSON_AddNumberToObject(res, "synthetic_rows", (double)syn.t.n);
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
                   sl_rl_algo_name(rc.algo), real.t.n, syn.t.n, share, updates, output);
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
    sl_agent_free(ag);
    sl_replay_free(rb);
    pl_real_free(&real);
    pl_synth_free(&syn);
    free(mean);
    free(std);
    cJSON_Delete(conf);
    free(conf_txt);
    return rc_exit;
}
