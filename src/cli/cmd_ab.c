/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_ab.c - `synthloop ab`: baseline (real only) vs augmented (real + weighted synthetic)
 * over seeds, final policies evaluated in the workcell; statistics and seed 000's verdict. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"
#include "cli_job.h"
#include "run_record.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"

SL_COMMAND(ab, "A/B test: real-only baseline vs augmented policy over seeds, in physics")

static void usage(void) {
    printf("usage: synthloop ab --data D.npz --latents Z.npz|none --encoder ENC.safetensors\n"
           "                    [--synth-data BRANCHES.npz] [options]\n\n"
           "Trains a baseline policy on the real transitions only and an augmented policy on\n"
           "real + synthetic transitions, over the same seeds; evaluates each FINAL policy by\n"
           "action MSE on held-out real episodes and by running it in the workcell (MPL, error\n"
           "rate, EP); reports mean, 95%% CI and the paired decision per metric: value (paired\n"
           "t-test), no harm (equivalence within +-2%%, two one-sided tests), minor degradation /\n"
           "poisoning (significant harm), or inconclusive with the seed pairs a power calculation\n"
           "needs (docs/STATISTICS.md \"Decisions\").\n\n"
           "options:\n"
           "  --latents none        policies act on raw observations (no encoder)\n"
           "  --synth-data FILE     branches from 'synthloop branches collect' (none: A/A test)\n"
           "  --synth-weight W      target synthetic share of the training weight (0.1)\n"
           "  --weighting MODE      controller (gates + SyntheticWeightController, default) or\n"
           "                        ungated (every branch equally: the seeds' static weighting)\n"
           "  --min-trust T         trust floor of the controller (0.9)\n"
           "  --min-pass-rate P     controller's generator rail: a branch file whose gate pass\n"
           "                        rate is below P gets no synthetic weight at all (0.1)\n"
           "  --generator-band B    controller's certificate rail: a branch file whose generator\n"
           "                        std ratio (horizons 5..60) leaves B gets no weight; B = LO,HI,\n"
           "                        normal (0.8,1.2, default), conservative, aggressive or off\n"
           "  --econ-model E.json   learned econ value model (synthloop weights train)\n"
           "  --lambda-model L.json learned lambda controller (synthloop weights train); with\n"
           "                        both trained on >= --min-outcomes records (20) the\n"
           "                        controller runs in phase 2, else phase 1 (trust only)\n"
           "  --min-outcomes N      records each model needs for phase 2 (20)\n"
           "  --record-outcomes F   append this run's outcome to the JSON-lines file F: one\n"
           "                        lambda_outcome (share used, reward = outcome) and one\n"
           "                        econ_outcome per passed branch (docs/WEIGHTS.md)\n"
           "  --max-share S         hard cap on the synthetic share (0.4)\n"
           "  --seeds N             seed pairs (5)\n"
           "  --until-decided       add seed pairs one at a time until the verdict is decided\n"
           "                        (sequential design with alpha spending, docs/STATISTICS.md)\n"
           "  --max-seeds N         cap of --until-decided (20)\n"
           "  --updates N           gradient updates per policy (3000; IQL needs >= 3000 at\n"
           "                        hidden 128 on 50 episodes, see docs/RL.md)\n"
           "  --eval-episodes N     workcell episodes per final policy (20)\n"
           "  --algo iql|td3bc|sac  learner (iql: expectile value + advantage-weighted BC)\n"
           "  --hidden N            hidden width of actor, critics and value net (128)\n"
           "  --batch N             batch size (256)\n"
           "  --alpha-bc A         TD3+BC's alpha: lambda = alpha / mean|Q| (2.5)\n"
           "  --lr LR               Adam learning rate of actor and critics (3e-4)\n"
           "  --iql-beta B          IQL inverse temperature of the advantage weights (2; 0 = BC)\n"
           "  --iql-expectile T     IQL expectile of the value regression (0.7)\n"
           "  --reward-scale S      multiply rewards in the critic targets (1)\n"
           "  --sampling MODE       proportional | importance (proportional)\n"
           "  --holdout F           fraction of real episodes held out (0.2)\n"
           "  --seed N              base seed (0)\n"
           "  --threads N           compute threads (0 = all cores)\n"
           "  --output FILE.json    write the result JSON (with seed, config, code version)\n"
           "  --weight-log FILE     JSON-lines log of the controller's weights\n"
           "  --db PATH|none        registry database (default synthloop.db or $SYNTHLOOP_DB)\n"
           "  --json                print the result JSON instead of the table\n"
           "  --quiet               no progress bar\n");
}

static void print_table(const sl_ab_outcome *o) {
    printf("A/B over %d seed pairs (final policies; mean [95%% CI]; paired decisions)\n", o->seeds);
    printf("  real train rows %zu, held-out rows %zu, synthetic rows %zu, synthetic share %.3f\n",
           o->n_real_train, o->n_real_holdout, o->n_synth, o->synth_share);
    printf("  %-11s %-27s %-27s %8s %-17s %8s  %s\n", "metric", "baseline", "augmented", "change",
           "95% CI", "p", "verdict");
    for (int m = 0; m < SL_ABM_COUNT; m++) {
        const sl_ab_metric_summary *s = &o->summary[m];
        if (s->absent) continue; /* the task defines no units */
        char b[64], a[64], ci[48] = "-";
        snprintf(b, sizeof b, "%.4g [%.4g, %.4g]", s->ci[0].mean, s->ci[0].lo, s->ci[0].hi);
        snprintf(a, sizeof a, "%.4g [%.4g, %.4g]", s->ci[1].mean, s->ci[1].lo, s->ci[1].hi);
        if (s->valid && o->seeds >= 2)
            snprintf(ci, sizeof ci, "[%+.1f, %+.1f]%%", 100 * s->dec.ci_lo, 100 * s->dec.ci_hi);
        if (s->valid)
            printf("  %-11s %-27s %-27s %+7.1f%% %-17s %8.3g  %s\n", sl_ab_metric_name((sl_ab_metric)m),
                   b, a, 100.0 * s->verdict.rel_change, ci, o->seeds >= 2 ? s->dec.p_two_sided : 1.0,
                   sl_ab_verdict_name(s->verdict.verdict));
        else
            printf("  %-11s %-27s %-27s %8s %-17s %8s  undefined\n", sl_ab_metric_name((sl_ab_metric)m),
                   b, a, "-", "-", "-");
    }
    int cb = 0, ca = 0;
    for (int i = 0; i < o->seeds; i++) {
        cb += o->cliffs[0][i];
        ca += o->cliffs[1][i];
    }
    printf("  learning-curve cliffs: baseline %d, augmented %d\n", cb, ca);
    printf("verdict: %s -> %s\n", sl_ab_verdict_name(o->headline), sl_ab_verdict_action(o->headline));
    if (o->offline_only)
        printf("         offline only: no policy ran in physics (--eval-episodes 0); this is a verdict on\n"
               "         action MSE, not on the policy in the world\n");
    if (o->headline == SL_AB_INCONCLUSIVE && o->seeds_needed > 0)
        printf("         not decided with %d seed pairs: about %ld would decide it (power 0.8 at the observed\n"
               "         effect; ab --until-decided --max-seeds %ld)\n", o->seeds, o->seeds_needed,
               o->seeds_needed);
    else if (o->headline == SL_AB_INCONCLUSIVE)
        printf("         not decided with %d seed pairs, and no feasible number of pairs would decide it\n",
               o->seeds);
}

int cmd_ab(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *data = NULL, *latents = NULL, *encoder = NULL, *synth = NULL, *output = NULL,
               *db = NULL, *wlog = NULL;
    int json = 0, threads = 0;
    sl_ab_config cfg = sl_ab_config_default();
    cfg.updates = 3000;
    sl_loop_synth_opts so;
    sl_loop_synth_opts_default(&so);
    enum { O_RECORD = 1100 };
    static const struct option opts[] = {
        {"data", 1, 0, 'd'},        {"latents", 1, 0, 'z'},      {"encoder", 1, 0, 'e'},
        {"synth-data", 1, 0, 's'},  PL_SYNTH_LONG_OPTS, PL_RL_LONG_OPTS,          {"record-outcomes", 1, 0, O_RECORD},
        {"seeds", 1, 0, 'n'},       {"until-decided", 0, 0, 'U'}, {"max-seeds", 1, 0, 'M'},
        {"updates", 1, 0, 'u'},     {"eval-episodes", 1, 0, 'E'}, {"holdout", 1, 0, 'h'},     {"seed", 1, 0, 'r'},         {"threads", 1, 0, 'T'},
        {"output", 1, 0, 'o'},      {"db", 1, 0, 'D'},           {"json", 0, 0, 'j'},
        {"quiet", 0, 0, 'q'},       {"weight-log", 1, 0, 'L'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long v;
    double d;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'z': latents = optarg; break;
        case 'e': encoder = optarg; break;
        case 's': synth = optarg; break;
        case 'o': output = optarg; break;
        case 'D': db = optarg; break;
        case 'L': wlog = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case O_RECORD: so.record_path = optarg; break;
        case 'n':
            if (sl_cli_parse_int("ab", "--seeds", optarg, 1, 1000, &v)) return 2;
            cfg.seeds = (int)v;
            break;
        case 'U': cfg.until_decided = 1; break;
        case 'M':
            if (sl_cli_parse_int("ab", "--max-seeds", optarg, 2, 1000, &v)) return 2;
            cfg.max_seeds = (int)v;
            break;
        case 'u':
            if (sl_cli_parse_int("ab", "--updates", optarg, 1, 100000000, &v)) return 2;
            cfg.updates = (int)v;
            break;
        case 'E':
            if (sl_cli_parse_int("ab", "--eval-episodes", optarg, 0, 100000, &v)) return 2;
            cfg.eval_episodes = (int)v;
            break;
        case 'h':
            if (sl_cli_parse_double("ab", "--holdout", optarg, 0, 0.9, &d)) return 2;
            cfg.holdout_frac = d;
            break;
        case 'r':
            if (sl_cli_parse_u64("ab", "--seed", optarg, &cfg.seed)) return 2;
            break;
        case 'T':
            if (sl_cli_parse_int("ab", "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        default: {
            int r = pl_parse_rl_option("ab", c, optarg, &cfg.rl);
            if (r < 0) r = pl_parse_synth_option("ab", c, optarg, &so);
            if (r > 0) return r;
            if (r < 0)
                return sl_cli_usage_error("ab", "unknown or incomplete option '%s'", argv[optind - 1]);
            break;
        }
        }
    }
    if (optind < argc) return sl_cli_usage_error("ab", "unexpected argument '%s'", argv[optind]);
    if (!data || !latents) return sl_cli_usage_error("ab", "--data and --latents are required");
    if (!encoder && strcmp(latents, "none") != 0 && cfg.eval_episodes > 0)
        return sl_cli_usage_error("ab", "--encoder is required to run latent policies in the "
                                        "workcell (or pass --eval-episodes 0, or --latents none)");
    sl_nn_set_threads(threads);
    so.log_path = wlog;

    /* the registry holds absolute paths, so that it means the same from any directory */
    char abs_data[PATH_MAX], abs_latents[PATH_MAX], abs_enc[PATH_MAX], abs_synth[PATH_MAX],
        abs_output[PATH_MAX];
    sl_loop_ab_config lc = {cfg, so, cli_abs_path(data, abs_data),
                            strcmp(latents, "none") == 0 ? latents
                                                         : cli_abs_path(latents, abs_latents),
                            encoder ? cli_abs_path(encoder, abs_enc) : NULL,
                            synth ? cli_abs_path(synth, abs_synth) : NULL};
    cJSON *conf = sl_loop_ab_config_json(&lc);
    char *conf_txt = cJSON_PrintUnformatted(conf);
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status s = sl_registry_open_default(db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "ab", conf_txt, cfg.seed, &run);
    lc.synth.reg = reg;
    lc.synth.run_id = run;
    /* the job reads the files as given (messages name them as typed) */
    lc.data = data;
    lc.latents = latents;
    lc.encoder = encoder;
    lc.branches = synth;
    sl_ab_outcome out;
    memset(&out, 0, sizeof out);
    cJSON *res = NULL;
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (s == SL_OK && output) s = sl_output_check(output);
    if (s == SL_OK) s = sl_loop_ab(&lc, &ctx, &out, &res);
    s = cli_job_finish(&job, s);
    if (s == SL_OK) {
        cJSON_AddItemToObject(res, "inputs", cJSON_Duplicate(conf, 1));
        if (output) s = sl_json_write_file(output, res);
        if (s == SL_OK && output)
            s = sl_registry_add_artifact(reg, run, "ab.json", cli_abs_out_path(output, abs_output));
        if (s == SL_OK && wlog && reg)
            s = sl_registry_add_artifact(reg, run, "weight_log.jsonl",
                                         cli_abs_out_path(wlog, abs_output));
        if (s == SL_OK && lc.synth.record_path && synth && reg)
            s = sl_registry_add_artifact(reg, run, "outcomes.jsonl",
                                         cli_abs_out_path(lc.synth.record_path, abs_output));
    }
    if (s == SL_OK) {
        if (json) {
            char *txt = cJSON_Print(res);
            if (txt) puts(txt);
            free(txt);
        } else {
            print_table(&out);
            if (output) printf("wrote %s\n", output);
        }
    }
    char *err_sum = s == SL_OK ? NULL : cli_error_summary(s);
    int rc = s == SL_OK ? 0 : sl_cli_fail(s);
    if (reg && run) {
        char *sum = s != SL_OK ? err_sum
                    : res    ? cJSON_PrintUnformatted(cJSON_GetObjectItem(res, "metrics"))
                             : NULL;
        err_sum = NULL;
        sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, sum);
        free(sum);
    }
    free(err_sum);
    sl_registry_close(reg);
    sl_ab_outcome_free(&out);
    cJSON_Delete(res);
    cJSON_Delete(conf);
    free(conf_txt);
    return rc;
}
