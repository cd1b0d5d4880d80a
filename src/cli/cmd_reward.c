/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_reward.c - `synthloop reward`: compute and explain a reward from a JSON input with a
 * reward model (seed 003's calculateReward). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_cli.h"

SL_COMMAND(reward, "compute and explain a reward from a JSON input (reward model profiles)")

static void usage(void) {
    printf("usage: synthloop reward --input JSON|FILE [--profile seed003|workcell|FILE] [--json]\n"
           "\n"
           "A reward is a weighted sum of named components (docs/DEPLOY.md). seed003: 0.4 sentiment\n"
           "gain + 0.4 engagement delta + 0.2 compliance (+ empathy and timing terms whose weights\n"
           "the seed leaves open, 0 here); workcell: +10 per unit, -5 per timeout, -200 per Wh.\n"
           "Prints the total and every component (raw value, weight, contribution).\n"
           "\n"
           "options:\n"
           "  --input J      the input object, inline JSON or a file\n"
           "  --profile P    seed003 (default), workcell, or a reward model JSON file\n"
           "  --record ID    also record the components as reward_signals of model version ID\n"
           "  --db PATH      registry for --record\n"
           "  --json         machine-readable output\n"
           "  -h, --help     this help\n");
}

int cmd_reward(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {{"input", 1, 0, 'i'}, {"profile", 1, 0, 'p'},
                                         {"record", 1, 0, 'r'}, {"db", 1, 0, 'D'},
                                         {"json", 0, 0, 'j'},  {"quiet", 0, 0, 'q'},
                                         {0, 0, 0, 0}};
    const char *input = NULL, *profile = "seed003", *db = NULL;
    long record = 0;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'p': profile = optarg; break;
        case 'r':
            if (sl_cli_parse_int("reward", "--record", optarg, 1, INT64_MAX, &record)) return 2;
            break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        default: return sl_cli_usage_error("reward", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return sl_cli_usage_error("reward", "unexpected argument '%s'", argv[optind]);
    if (!input) return sl_cli_usage_error("reward", "--input is required");
    sl_reward_model m;
    char *mj = NULL, *in = NULL;
    sl_status s;
    if (strcmp(profile, "seed003") == 0 || strcmp(profile, "workcell") == 0)
        s = sl_reward_model_builtin(profile, &m);
    else if ((s = dcli_json_arg(profile, &mj)) == SL_OK)
        s = sl_reward_model_parse(mj, &m);
    if (s == SL_OK) s = dcli_json_arg(input, &in);
    sl_reward_value v;
    if (s == SL_OK) s = sl_reward_compute(&m, in, &v);
    if (s == SL_OK && record) {
        sl_registry *reg = NULL;
        s = dcli_open("reward", db, &reg);
        if (s == SL_OK) s = sl_reward_record(reg, record, 0, 0, &m, &v);
        sl_registry_close(reg);
    }
    if (s == SL_OK && json) {
        printf("{\"model\":\"%s\",\"total\":%.17g,\"components\":[", m.name, v.total);
        for (int i = 0; i < v.n; i++)
            printf("%s{\"name\":\"%s\",\"raw\":%.17g,\"weight\":%.17g,\"value\":%.17g}", i ? "," : "",
                   m.terms[i].name, v.raw[i], m.terms[i].weight, v.component[i]);
        printf("]}\n");
    } else if (s == SL_OK) {
        printf("reward (%s) = %.6g\n", m.name, v.total);
        for (int i = 0; i < v.n; i++)
            printf("  %-18s raw %10.6g  x weight %8.4g  = %10.6g\n", m.terms[i].name, v.raw[i],
                   m.terms[i].weight, v.component[i]);
    }
    free(mj);
    free(in);
    return s == SL_OK ? 0 : sl_cli_fail(s);
}
