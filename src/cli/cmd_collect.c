/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_collect.c - `synthloop collect`: run a behaviour policy in the MuJoCo workcell (or any
 * MJCF model with a reach task) and write the episodes as a D4RL-style NPZ plus a JSON sidecar
 * (config, seed, provenance, econ summary, file hash).
 *
 * Invariant: the NPZ is written (atomically) only after the whole dataset validated, and the
 * sidecar only after the NPZ; a failure leaves neither file half-written. The registry run
 * (--db) is begun before any work and ended ok only after both files and their rows were
 * recorded; every error path ends it failed with {"error": message}.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"
#include "synthloop/sl_loop.h"
#include "cli/run_record.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_stats.h"

SL_COMMAND(collect, "run a behaviour policy in the workcell (or an MJCF model) and write a dataset")

static void usage(void) {
    printf("usage: synthloop collect [options]\n"
           "\n"
           "Runs episodes of a behaviour policy in a MuJoCo environment and writes them as NPZ\n"
           "(D4RL keys + episode_ids, timesteps, econ event columns, ep_* econ columns) and a\n"
           "sidecar OUT.json (config, seed, provenance, mean/std of every econ metric).\n"
           "\n"
           "  -o, --output PATH        dataset file (default workcell.npz)\n"
           "  -n, --episodes N         episodes (default 50)\n"
           "  -p, --policy NAME|FILE   expert | medium | random | medium-expert | mixed | mpc, or a\n"
           "                           trained agent (safetensors from `synthloop train`)\n"
           "                           (default mixed: 30%% expert, 40%% medium, 30%% random episodes;\n"
           "                           with a task spec the expert is the MPC planner, docs/TASKS.md)\n"
           "  -s, --seed N             seed (default 1); same seed + options => same bytes\n"
           "  -e, --env NAME|PATH      'workcell' (default) or an MJCF file (with --task, or a reach\n"
           "                           task from the --task-* flags)\n"
           "  -t, --task FILE          task spec (JSON, docs/TASKS.md); its \"model\" is used unless\n"
           "                           --env names an MJCF file\n"
           "      --mpc-samples N      MPC rollouts per update (default 32)\n"
           "      --mpc-horizon N      MPC horizon in control steps (default 15)\n"
           "      --task-site NAME     site to move (required with an MJCF file)\n"
           "      --task-target X,Y,Z  target position (default 0,0,0)\n"
           "      --task-target-site NAME  target site instead of a position\n"
           "      --task-tolerance M   success radius in metres (default 0.02)\n"
           "      --max-steps N        control steps per episode (default 60, or the task spec's)\n"
           "      --frame-skip N       physics steps per control step (workcell 25, MJCF 10, or the\n"
           "                           task spec's)\n"
           "      --value-per-unit X   value of a completed unit (default 0.03)\n"
           "      --wage X             human hourly wage (default 18.0)\n"
           "      --db PATH|none       run registry (default $SYNTHLOOP_DB or synthloop.db;\n"
           "                           'none' records nothing)\n"
           "      --json               print the sidecar JSON on stdout\n"
           "  -q, --quiet              no progress bar or summary\n"
           "  -h, --help               this text\n");
}

static int parse_xyz(const char *s, double v[3]) {
    char *end;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        v[i] = strtod(p, &end);
        if (end == p || !isfinite(v[i])) return -1;
        p = end;
        if (i < 2) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

/* 1 if option `lng` or `shrt` appears in argv. */
static int cli_opt_given(int argc, char **argv, const char *lng, const char *shrt) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], shrt) == 0 || strncmp(argv[i], lng, strlen(lng)) == 0) return 1;
    return 0;
}

int cmd_collect(int argc, char **argv) {
    const char *cmd = "collect";
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    enum { O_SITE = 1000, O_TARGET, O_TSITE, O_TOL, O_MAXSTEPS, O_SKIP, O_VALUE, O_WAGE, O_JSON, O_DB,
           O_MPC_K, O_MPC_H };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},   {"episodes", required_argument, 0, 'n'},
        {"policy", required_argument, 0, 'p'},   {"seed", required_argument, 0, 's'},
        {"env", required_argument, 0, 'e'},      {"task-site", required_argument, 0, O_SITE},
        {"task-target", required_argument, 0, O_TARGET},
        {"task-target-site", required_argument, 0, O_TSITE},
        {"task-tolerance", required_argument, 0, O_TOL},
        {"max-steps", required_argument, 0, O_MAXSTEPS},
        {"frame-skip", required_argument, 0, O_SKIP},
        {"value-per-unit", required_argument, 0, O_VALUE},
        {"wage", required_argument, 0, O_WAGE},  {"json", no_argument, 0, O_JSON},
        {"db", required_argument, 0, O_DB},      {"task", required_argument, 0, 't'},
        {"mpc-samples", required_argument, 0, O_MPC_K},
        {"mpc-horizon", required_argument, 0, O_MPC_H},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *output = "workcell.npz", *policy_name = "mixed", *env_name = "workcell";
    const char *site = NULL, *target_site = NULL, *db = NULL, *task_path = NULL;
    double target[3] = {0, 0, 0}, tol = 0.02;
    long episodes = 50, max_steps = -1, frame_skip = -1, mpc_k = -1, mpc_h = -1;
    uint64_t seed = 1;
    sl_econ_params econ = sl_econ_default();
    int json = 0, quiet = sl_cli_quiet, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:n:p:s:e:t:qh", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'o': output = optarg; break;
        case 'n': rc = sl_cli_parse_int(cmd, "--episodes", optarg, 1, 1000000, &episodes); break;
        case 'p': policy_name = optarg; break;
        case 's': rc = sl_cli_parse_u64(cmd, "--seed", optarg, &seed); break;
        case 'e': env_name = optarg; break;
        case 't': task_path = optarg; break;
        case O_MPC_K: rc = sl_cli_parse_int(cmd, "--mpc-samples", optarg, 2, 4096, &mpc_k); break;
        case O_MPC_H: rc = sl_cli_parse_int(cmd, "--mpc-horizon", optarg, 1, 1000, &mpc_h); break;
        case O_SITE: site = optarg; break;
        case O_TARGET:
            if (parse_xyz(optarg, target) != 0)
                return sl_cli_usage_error(cmd, "--task-target expects X,Y,Z, got '%s'", optarg);
            break;
        case O_TSITE: target_site = optarg; break;
        case O_TOL: rc = sl_cli_parse_double(cmd, "--task-tolerance", optarg, 1e-6, 100, &tol); break;
        case O_MAXSTEPS: rc = sl_cli_parse_int(cmd, "--max-steps", optarg, 1, 100000, &max_steps); break;
        case O_SKIP: rc = sl_cli_parse_int(cmd, "--frame-skip", optarg, 1, 10000, &frame_skip); break;
        case O_VALUE: rc = sl_cli_parse_double(cmd, "--value-per-unit", optarg, 0, 1e9, &econ.value_per_unit); break;
        case O_WAGE: rc = sl_cli_parse_double(cmd, "--wage", optarg, 1e-9, 1e9, &econ.human_wage); break;
        case O_JSON: json = 1; break;
        case O_DB: db = optarg; break;
        case 'q': quiet = 1; break;
        case ':': return sl_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
        if (rc) return rc;
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    sl_policy_kind kind = SL_POLICY_MIXED;
    const char *agent_path = NULL; /* --policy FILE: a trained agent */
    if (sl_policy_parse(policy_name, &kind) != SL_OK) {
        FILE *pf = fopen(policy_name, "rb");
        if (!pf) return sl_cli_usage_error(cmd, "%s, and no file of that name", sl_last_error());
        fclose(pf);
        agent_path = policy_name;
    }
    int is_workcell = strcmp(env_name, "workcell") == 0 && !task_path;
    if (task_path && strcmp(env_name, "workcell") == 0 && cli_opt_given(argc, argv, "--env", "-e"))
        return sl_cli_usage_error(cmd, "the workcell has its own task spec: --task needs an MJCF model");
    if (task_path && (site || target_site))
        return sl_cli_usage_error(cmd, "--task and the --task-* flags exclude each other");
    if (!is_workcell && !task_path && !site)
        return sl_cli_usage_error(cmd, "--env %s is an MJCF file: give --task FILE or --task-site", env_name);
    if (is_workcell && (site || target_site))
        return sl_cli_usage_error(cmd, "--task-* options apply to an MJCF file, not the workcell");
    if (max_steps < 0 && !task_path) max_steps = 60;
    if (quiet) sl_progress_set_quiet(1);

    /* the run's config: the options as given (the sidecar holds the resolved values) */
    cJSON *conf = cJSON_CreateObject();
    if (!conf) return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "collect: out of memory"));
    cJSON_AddStringToObject(conf, "output", output);
    cJSON_AddStringToObject(conf, "env", env_name);
    if (task_path) cJSON_AddStringToObject(conf, "task", task_path);
    if (!is_workcell && !task_path) {
        cJSON_AddStringToObject(conf, "task_site", site);
        if (target_site) cJSON_AddStringToObject(conf, "task_target_site", target_site);
        else sl_json_add_f64_array(conf, "task_target", target, 3);
        cJSON_AddNumberToObject(conf, "task_tolerance", tol);
    }
    cJSON_AddStringToObject(conf, "policy", agent_path ? agent_path : sl_policy_name(kind));
    cJSON_AddNumberToObject(conf, "episodes", (double)episodes);
    if (max_steps > 0) cJSON_AddNumberToObject(conf, "max_steps", (double)max_steps);
    else cJSON_AddStringToObject(conf, "max_steps", "default");
    if (frame_skip > 0) cJSON_AddNumberToObject(conf, "frame_skip", (double)frame_skip);
    else cJSON_AddStringToObject(conf, "frame_skip", "default");
    cJSON_AddNumberToObject(conf, "value_per_unit", econ.value_per_unit);
    cJSON_AddNumberToObject(conf, "human_wage", econ.human_wage);
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(db, "collect", conf, seed, &reg, &run);
    if (st != SL_OK) return cli_run_finish(reg, run, st, NULL);
    /* an unusable output path fails now (a failed run), not after the episodes are collected */
    st = sl_file_check_output(output);
    if (st != SL_OK) return cli_run_finish(reg, run, st, NULL);

    sl_loop_collect_config cc = {output, env_name, site, target_site, {target[0], target[1], target[2]},
                                 tol, kind, episodes, max_steps, frame_skip, seed, econ,
                                 task_path, agent_path, mpc_k, mpc_h};
    sl_loop_collect_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    st = sl_loop_collect(&cc, &ctx, &r);
    st = cli_job_finish(&job, st);
    cJSON *summary = NULL;
    if (st == SL_OK) {
        summary = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r.json, "summary"), 1);
        if (summary) {
            cJSON_AddStringToObject(summary, "output", output);
            cJSON_AddStringToObject(summary, "sha256", r.sha256);
            cJSON_AddStringToObject(summary, "sidecar", r.sidecar);
        }
    }
    int rc = cli_run_finish(reg, run, st, summary);
    const sl_collect_summary sum = r.summary;
    if (rc == 0 && json) {
        char *txt = cJSON_Print(r.json);
        if (txt) {
            printf("%s\n", txt);
            free(txt);
        }
    } else if (rc == 0 && !quiet) {
        printf("collected %zu episodes (%zu steps) with policy %s in %.2f s -> %s (+ %s)\n",
               sum.episodes, sum.steps, agent_path ? agent_path : sl_policy_name(kind), r.seconds,
               output, r.sidecar);
        if (!sum.has_units)
            printf("  return %.2f +- %.2f   energy %.4f +- %.4f Wh   (the task defines no units: no MPL, "
                   "error rate or EP)\n",
                   sum.mean_return, sum.std_return, sum.mean_energy_wh, sum.std_energy_wh);
        else {
        printf("  MPL %.1f +- %.1f units/h   error rate %.3f +- %.3f   energy %.4f +- %.4f Wh\n",
               sum.mean_mpl, sum.std_mpl, sum.mean_error_rate, sum.std_error_rate,
               sum.mean_energy_wh, sum.std_energy_wh);
        printf("  EP %.1f +- %.1f units/Wh   wage parity %.3f +- %.3f   return %.2f +- %.2f\n",
               sum.mean_ep, sum.std_ep, sum.mean_wage_parity, sum.std_wage_parity, sum.mean_return,
               sum.std_return);
        }
    }
    cJSON_Delete(summary);
    sl_loop_collect_result_free(&r);
    return rc;
}
