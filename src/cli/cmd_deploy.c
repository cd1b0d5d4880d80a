/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_deploy.c - `synthloop deploy ID --endpoint E --strategy S` and the manual steps of a
 * rollout (advance, promote). The server applies the automatic steps (docs/DEPLOY.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_cli.h"

SL_COMMAND(deploy, "deploy an evaluated version: full, canary, shadow or A-B rollout")

static void usage(void) {
    printf("usage: synthloop deploy ID [--endpoint E] [--strategy full|canary|shadow|ab]\n"
           "                          [--stages 0.1,0.5,1] [--min-episodes N] [--ab-share X]\n"
           "                          [--reason TEXT]\n"
           "       synthloop deploy advance|promote [--endpoint E] [--reason TEXT]\n"
           "       synthloop deploy status [--endpoint E] [--json]\n"
           "\n"
           "Starts a rollout of version ID on an endpoint. Only a version whose evaluation passed\n"
           "(`synthloop models evaluate`) can be deployed, and an endpoint has one rollout at a\n"
           "time. full switches at once and archives the previous version; canary serves the\n"
           "candidate to a growing share of request keys (10%% -> 50%% -> 100%% by default),\n"
           "analysing live feedback at each stage and rolling back on seed 003's triggers; shadow\n"
           "computes the candidate beside the live version without ever returning its actions;\n"
           "ab splits traffic and promotes a significant winner. `synthloop serve` applies the\n"
           "automatic steps; advance and promote move a rollout by hand.\n"
           "\n"
           "options:\n"
           "  --endpoint E       endpoint name (default: default)\n"
           "  --strategy S       full (default), canary, shadow, ab\n"
           "  --stages LIST      canary traffic shares, increasing, ending at 1\n"
           "  --min-episodes N   candidate episodes before each analysis (20)\n"
           "  --ab-share X       A-B: the candidate's share (0.5)\n"
           "  --reason TEXT      why (recorded in the deployment history)\n"
           "  --actor NAME       who (default $USER)\n"
           "  --db PATH          registry (default $SYNTHLOOP_DB or synthloop.db)\n"
           "  --json             machine-readable output\n"
           "  -h, --help         this help\n");
}

static int parse_stages(const char *s, sl_rollout_plan *p) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    p->n_stages = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        double v;
        if (p->n_stages >= SL_CANARY_STAGES_MAX) return sl_cli_usage_error("deploy", "--stages: at most %d", SL_CANARY_STAGES_MAX);
        if (sl_cli_parse_double("deploy", "--stages", tok, 1e-6, 1.0, &v)) return 2;
        p->stages[p->n_stages++] = v;
    }
    return 0;
}

int cmd_deploy(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {
        {"endpoint", 1, 0, 'E'}, {"strategy", 1, 0, 's'}, {"stages", 1, 0, 'S'},
        {"min-episodes", 1, 0, 'm'}, {"ab-share", 1, 0, 'b'}, {"reason", 1, 0, 'r'},
        {"actor", 1, 0, 'a'}, {"db", 1, 0, 'D'}, {"json", 0, 0, 'j'}, {"quiet", 0, 0, 'q'},
        {0, 0, 0, 0}};
    const char *endpoint = "default", *strategy = "full", *stages = NULL, *reason = NULL,
               *actor = NULL, *db = NULL;
    long min_ep = 20;
    double ab_share = 0.5;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': endpoint = optarg; break;
        case 's': strategy = optarg; break;
        case 'S': stages = optarg; break;
        case 'm':
            if (sl_cli_parse_int("deploy", "--min-episodes", optarg, 1, 1000000, &min_ep)) return 2;
            break;
        case 'b':
            if (sl_cli_parse_double("deploy", "--ab-share", optarg, 1e-6, 1 - 1e-6, &ab_share)) return 2;
            break;
        case 'r': reason = optarg; break;
        case 'a': actor = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        default: return sl_cli_usage_error("deploy", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sl_cli_usage_error("deploy", "expected one ID, advance, promote or status");
    const char *what = argv[optind];
    sl_strategy strat;
    if (sl_strategy_parse(strategy, &strat) != SL_OK) return sl_cli_usage_error("deploy", "%s", sl_last_error());
    sl_rollout_plan plan = sl_rollout_plan_default(strat);
    plan.min_episodes = (int)min_ep;
    plan.ab_share = ab_share;
    if (stages && parse_stages(stages, &plan)) return 2;
    long id = 0;
    int manual = strcmp(what, "advance") == 0 || strcmp(what, "promote") == 0 || strcmp(what, "status") == 0;
    if (!manual && sl_cli_parse_int("deploy", "ID", what, 1, INT64_MAX, &id)) return 2;

    sl_registry *reg = NULL;
    sl_status s = dcli_open("deploy", db, &reg);
    sl_rollout r;
    int64_t live = 0;
    int has = 0;
    if (s == SL_OK && manual) s = sl_endpoint_state(reg, endpoint, &live, &r, &has);
    if (s == SL_OK && !manual) {
        s = sl_rollout_start(reg, endpoint, id, &plan, dcli_actor(actor), reason, &r);
    } else if (s == SL_OK && strcmp(what, "status") != 0) {
        if (!has) s = sl_set_error(SL_ERR_STATE, "endpoint %s has no rollout in progress", endpoint);
        else if (strcmp(what, "advance") == 0) s = sl_rollout_advance(reg, &r, dcli_actor(actor), reason);
        else s = sl_rollout_complete(reg, &r, dcli_actor(actor), reason);
    }
    if (s == SL_OK && strcmp(what, "status") == 0) {
        if (json)
            printf("{\"endpoint\":\"%s\",\"live\":%lld,\"rollout\":%s}\n", endpoint, (long long)live,
                   has ? "{}" : "null");
        else
            printf("endpoint %s: live version %lld%s\n", endpoint, (long long)live, has ? "" : ", no rollout");
        if (has && json) {
        } else if (has) {
            printf("  rollout %lld: %s of version %lld at %.0f%% (stage %d)\n", (long long)r.id,
                   sl_strategy_name(r.plan.strategy), (long long)r.candidate, 100 * r.share, r.stage);
        }
        sl_registry_close(reg);
        return 0;
    }
    if (s == SL_OK) {
        if (json)
            printf("{\"rollout\":%lld,\"endpoint\":\"%s\",\"candidate\":%lld,\"strategy\":\"%s\",\"share\":%g,"
                   "\"state\":\"%s\"}\n", (long long)r.id, r.endpoint, (long long)r.candidate,
                   sl_strategy_name(r.plan.strategy), r.share, sl_rollout_state_name(r.state));
        else
            printf("rollout %lld on %s: version %lld, %s, %s at %.0f%%\n", (long long)r.id, r.endpoint,
                   (long long)r.candidate, sl_strategy_name(r.plan.strategy), sl_rollout_state_name(r.state),
                   100 * r.share);
    }
    sl_registry_close(reg);
    return s == SL_OK ? 0 : sl_cli_fail(s);
}
