/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_ladder.c - `synthloop ladder`: seed 000's horizon levels 1-5. Each level collects
 * gated branches at its horizon, weights them with the controller and A/B-tests them; the
 * ladder stops at the first failing level and reports the practical stability horizon,
 * overall and per brick. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_job.h"
#include "pipeline.h"
#include "run_record.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_synth.h"

SL_COMMAND(ladder, "climb the horizon ladder (levels 1-5) while gates and economics say it is safe")

static void usage(void) {
    printf("usage: synthloop ladder --data D.npz --latents Z.npz --encoder ENC.safetensors\n"
           "                        --world-model WM.safetensors --trust-model TRUST.safetensors\n"
           "                        [--bricks ASSIGN.npz] [--out DIR] [options]\n\n"
           "Levels (seed 000): horizon / trust floor / branches per episode / synthetic weight /\n"
           "pass criteria (share of branches whose trust reaches the floor, augmented action\n"
           "MSE within X%% of baseline); the std band gates which branches the A/B uses:\n");
    for (int i = 0; i < SL_LOOP_LADDER_LEVELS; i++) {
        const sl_loop_ladder_level *l = &sl_loop_ladder_table[i];
        printf("  level %d: h=%-2d trust>=%.2f  %d/episode  weight %.2f  band %-12s pass>%3.0f%%  "
               "mse<=+%.0f%%\n",
               i + 1, l->horizon, l->min_trust, l->branches_per_episode, l->synth_weight,
               sl_gate_preset_name(l->band), 100 * l->min_pass_rate, 100 * l->mse_tol);
    }
    printf("A level also fails when the A/B verdict is minor_degradation or poisoning, or (from\n"
           "level 2 on) when the augmented learning curves show more cliffs than the baseline's.\n"
           "Level 1 is read against real data by default: the branches' share reaching the floor\n"
           "must not be significantly below the share of the real windows of the same length\n"
           "(one-sided two-proportion z-test, alpha 0.05; the test's power to see a 5-point drop\n"
           "is reported). --level1 all keeps seed 000's literal \"all branches\" reading. An\n"
           "inconclusive A/B does not fail a level; ladder.json says whether it was decided.\n\n"
           "options:\n"
           "  --level1 real|all   level 1: not significantly below the data's own windows\n"
           "                      (default) or every branch (seed 000's literal reading)\n"
           "  --levels N          highest level to try (5)\n"
           "  --seeds N           A/B seeds per level (3)\n"
           "  --updates N         updates per policy (3000)\n"
           "  --eval-episodes N   workcell episodes per final policy (10)\n"
           "  --hidden N          learner width (128)\n"
           "  --seed N            seed (0)\n"
           "  --threads N         compute threads (0 = all cores)\n"
           "  --out DIR           where branch files and ladder.json go (ladder-out)\n"
           "  --db PATH|none      registry database\n"
           "  --json              print ladder.json\n"
           "  --quiet             no progress bars\n");
}

int cmd_ladder(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    sl_loop_ladder_config lo;
    sl_loop_ladder_config_default(&lo);
    int threads = 0;
    const char *db = NULL;
    int json = 0;
    static const struct option opts[] = {
        {"data", 1, 0, 'd'},       {"latents", 1, 0, 'z'},     {"encoder", 1, 0, 'e'},
        {"world-model", 1, 0, 'w'}, {"trust-model", 1, 0, 't'}, {"bricks", 1, 0, 'b'},
        {"levels", 1, 0, 'L'},     {"seeds", 1, 0, 'n'},       {"updates", 1, 0, 'u'},
        {"eval-episodes", 1, 0, 'E'}, {"hidden", 1, 0, 'H'},   {"seed", 1, 0, 'r'},
        {"out", 1, 0, 'o'},        {"db", 1, 0, 'D'},          {"json", 0, 0, 'j'},
        {"quiet", 0, 0, 'q'},      {"threads", 1, 0, 'T'},     {"level1", 1, 0, '1'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': lo.data = optarg; break;
        case 'z': lo.latents = optarg; break;
        case 'e': lo.encoder = optarg; break;
        case 'w': lo.world = optarg; break;
        case 't': lo.trust = optarg; break;
        case 'b': lo.bricks = optarg; break;
        case 'o': lo.out_dir = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case '1':
            if (strcmp(optarg, "all") == 0) lo.level1_real = 0;
            else if (strcmp(optarg, "real") == 0) lo.level1_real = 1;
            else return sl_cli_usage_error("ladder", "--level1 expects all or real, not '%s'", optarg);
            break;
        case 'L':
            if (sl_cli_parse_int("ladder", "--levels", optarg, 1, SL_LOOP_LADDER_LEVELS, &v)) return 2;
            lo.max_level = (int)v;
            break;
        case 'n':
            if (sl_cli_parse_int("ladder", "--seeds", optarg, 1, 1000, &v)) return 2;
            lo.ab.seeds = (int)v;
            break;
        case 'u':
            if (sl_cli_parse_int("ladder", "--updates", optarg, 1, 100000000, &v)) return 2;
            lo.ab.updates = (int)v;
            break;
        case 'E':
            if (sl_cli_parse_int("ladder", "--eval-episodes", optarg, 0, 100000, &v)) return 2;
            lo.ab.eval_episodes = (int)v;
            break;
        case 'H':
            if (sl_cli_parse_int("ladder", "--hidden", optarg, 1, 65536, &v)) return 2;
            lo.ab.rl.hidden = (int)v;
            break;
        case 'r':
            if (sl_cli_parse_u64("ladder", "--seed", optarg, &lo.seed)) return 2;
            lo.ab.seed = lo.seed;
            break;
        case 'T':
            if (sl_cli_parse_int("ladder", "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        default:
            return sl_cli_usage_error("ladder", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error("ladder", "unexpected argument '%s'", argv[optind]);
    if (!lo.data || !lo.latents || !lo.encoder || !lo.world || !lo.trust)
        return sl_cli_usage_error("ladder", "--data, --latents, --encoder, --world-model and "
                                            "--trust-model are required");
    sl_nn_set_threads(threads);
    /* the registry holds absolute paths, so that it means the same from any directory: the
     * inputs in the config, out_dir (hence the branch files named in the level rows and
     * ladder.json) for the run; messages keep the paths as given */
    char abs_in[6][PATH_MAX], abs_out[PATH_MAX];
    sl_loop_ladder_config la = lo;
    la.data = cli_abs_path(lo.data, abs_in[0]);
    la.latents = cli_abs_path(lo.latents, abs_in[1]);
    la.encoder = cli_abs_path(lo.encoder, abs_in[2]);
    la.world = cli_abs_path(lo.world, abs_in[3]);
    la.trust = cli_abs_path(lo.trust, abs_in[4]);
    la.bricks = lo.bricks ? cli_abs_path(lo.bricks, abs_in[5]) : NULL;
    const char *out_given = lo.out_dir;
    lo.out_dir = cli_abs_out_path(lo.out_dir, abs_out);
    sl_registry *reg = NULL;
    int64_t run = 0;
    cJSON *conf = sl_loop_ladder_config_json(&la);
    char *conf_txt = cJSON_PrintUnformatted(conf);
    sl_status s = sl_registry_open_default(db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "ladder", conf_txt, lo.seed, &run);
    cJSON *res = NULL;
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (s == SL_OK) s = sl_loop_ladder(&lo, &ctx, &res);
    s = cli_job_finish(&job, s);
    if (s == SL_OK) {
        cJSON_AddItemToObject(res, "config", cJSON_Duplicate(conf, 1));
        char path[4096];
        snprintf(path, sizeof path, "%s/ladder.json", lo.out_dir);
        s = sl_json_write_file(path, res);
        if (s == SL_OK) s = sl_registry_add_artifact(reg, run, "ladder.json", path);
        if (s == SL_OK) {
            if (json) {
                char *t = cJSON_Print(res);
                if (t) puts(t);
                free(t);
            } else {
                pl_ladder_print(res);
                printf("wrote %s/ladder.json\n", out_given);
            }
        }
    }
    char *err_sum = s == SL_OK ? NULL : cli_error_summary(s);
    int rc = s == SL_OK ? 0 : sl_cli_fail(s);
    if (reg && run) {
        char *sum = err_sum;
        err_sum = NULL;
        if (s == SL_OK && res) {
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddNumberToObject(sj, "practical_horizon",
                                    sl_json_num(res, "practical_horizon", 0));
            sum = cJSON_PrintUnformatted(sj);
            cJSON_Delete(sj);
        }
        sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, sum);
        free(sum);
    }
    free(err_sum);
    sl_registry_close(reg);
    cJSON_Delete(res);
    cJSON_Delete(conf);
    free(conf_txt);
    return rc;
}
