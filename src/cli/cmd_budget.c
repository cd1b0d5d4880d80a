/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_budget.c - `synthloop budget show|set|history`: the privacy budget ledger of a subject
 * or a dataset (docs/PRIVACY.md). Reads and sets limits; never charges.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "synthloop/sl_privacy.h"
#include "synthloop/sl_registry.h"

SL_COMMAND(budget, "privacy budget ledger: show | set | history per subject or dataset")

static void usage(void) {
    printf("usage: synthloop budget show    (--subject S | --dataset D) [--now UNIX] [--json]\n"
           "       synthloop budget set     (--subject S | --dataset D) --period P\n"
           "                                (--epsilon E | --clear)\n"
           "       synthloop budget history (--subject S | --dataset D) [--limit N] [--json]\n"
           "\n"
           "show: limit, spent, remaining, formal (DP) share and zCDP rho of every period\n"
           "(daily, weekly, monthly = rolling 1, 7, 30 days; lifetime). set: the limit of one\n"
           "period; S or D '*' sets the default for all subjects / datasets. Where no limit is\n"
           "set, MAX_PRIVACY_EPSILON (default 1.0) applies to PRIVACY_BUDGET_PERIOD (default\n"
           "monthly). history: the newest charges with their releases.\n"
           "options: --db PATH (default $SYNTHLOOP_DB or synthloop.db), --quiet, --help\n");
}

int cmd_budget(int argc, char **argv) {
    static const struct option opts[] = {
        {"subject", required_argument, 0, 's'}, {"dataset", required_argument, 0, 'd'},
        {"period", required_argument, 0, 'p'},  {"epsilon", required_argument, 0, 'e'},
        {"clear", no_argument, 0, 'c'},         {"now", required_argument, 0, 'n'},
        {"limit", required_argument, 0, 'l'},   {"json", no_argument, 0, 'j'},
        {"db", required_argument, 0, 'D'},      {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *cmd = "budget";
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    if (argc < 2) return sl_cli_usage_error(cmd, "expected show, set or history");
    const char *sub = argv[1];
    const char *subject = NULL, *dataset = NULL, *period = NULL, *db = NULL;
    double eps = -1;
    int have_eps = 0, clear = 0, json = 0, c;
    long limit = 20, now = 0;
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case 's': subject = optarg; break;
        case 'd': dataset = optarg; break;
        case 'p': period = optarg; break;
        case 'e':
            if (sl_cli_parse_double(cmd, "--epsilon", optarg, 0, 1e6, &eps)) return 2;
            have_eps = 1;
            break;
        case 'c': clear = 1; break;
        case 'n':
            if (sl_cli_parse_int(cmd, "--now", optarg, 1, 4102444800L, &now)) return 2;
            break;
        case 'l':
            if (sl_cli_parse_int(cmd, "--limit", optarg, 1, 1000000, &limit)) return 2;
            break;
        case 'j': json = 1; break;
        case 'D': db = optarg; break;
        case 'q': break;
        case 'h': usage(); return 0;
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!!subject + !!dataset != 1)
        return sl_cli_usage_error(cmd, "give exactly one of --subject and --dataset");
    const char *scope = subject ? "subject" : "dataset";
    const char *key = subject ? subject : dataset;
    int is_show = !strcmp(sub, "show"), is_set = !strcmp(sub, "set"),
        is_hist = !strcmp(sub, "history");
    if (!is_show && !is_set && !is_hist)
        return sl_cli_usage_error(cmd, "unknown subcommand '%s' (show, set, history)", sub);
    sl_budget_period per = SL_PERIOD_MONTHLY;
    if (is_set) {
        if (!period) return sl_cli_usage_error(cmd, "set needs --period");
        if (sl_budget_period_parse(period, &per) != SL_OK)
            return sl_cli_usage_error(cmd, "%s", sl_last_error());
        if (have_eps == clear) return sl_cli_usage_error(cmd, "set needs --epsilon E or --clear");
    }
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0) return sl_cli_usage_error(cmd, "--db none: no ledger");
    sl_budget_defaults def;
    sl_status st = sl_budget_defaults_from_env(&def);
    if (st != SL_OK) return sl_cli_fail(st);
    sl_registry *reg = NULL;
    st = sl_registry_open(path, &reg);
    if (st != SL_OK) return sl_cli_fail(st);
    char *txt = NULL;
    if (is_set) {
        st = sl_budget_set(reg, scope, key, per, clear ? -1.0 : eps);
        if (st == SL_OK && !sl_cli_quiet) {
            if (clear)
                printf("%s '%s': %s limit cleared\n", scope, key, sl_budget_period_name(per));
            else
                printf("%s '%s': %s limit %.9g\n", scope, key, sl_budget_period_name(per), eps);
        }
    } else if (is_show) {
        st = sl_budget_show_json(reg, scope, key, now > 0 ? now : (int64_t)time(NULL), &def, &txt);
    } else {
        st = sl_budget_history_json(reg, scope, key, (int)limit, &txt);
    }
    sl_registry_close(reg);
    if (st != SL_OK) {
        free(txt);
        return sl_cli_fail(st);
    }
    if (!txt) return 0;
    if (json) {
        printf("%s\n", txt);
        free(txt);
        return 0;
    }
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "budget: out of memory"));
    if (is_show) {
        printf("%s '%s'\n%-9s %12s %12s %12s %12s %10s\n", scope, key, "period", "limit", "spent",
               "remaining", "formal", "rho");
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(j, "periods")) {
            const cJSON *lim = cJSON_GetObjectItem(p, "limit");
            char lb[32], rb[32];
            if (cJSON_IsNumber(lim)) {
                snprintf(lb, sizeof lb, "%.9g", lim->valuedouble);
                snprintf(rb, sizeof rb, "%.9g", cJSON_GetObjectItem(p, "remaining")->valuedouble);
            } else {
                snprintf(lb, sizeof lb, "unlimited");
                snprintf(rb, sizeof rb, "-");
            }
            printf("%-9s %12s %12.9g %12s %12.9g %10.4g\n",
                   cJSON_GetObjectItem(p, "period")->valuestring, lb,
                   cJSON_GetObjectItem(p, "spent")->valuedouble, rb,
                   cJSON_GetObjectItem(p, "formal_spent")->valuedouble,
                   cJSON_GetObjectItem(p, "rho_spent")->valuedouble);
        }
    } else {
        const cJSON *h;
        cJSON_ArrayForEach(h, j) {
            printf("%-6.0f %-20s %-10s eps %-10.6g %s %s\n",
                   cJSON_GetObjectItem(h, "log_id")->valuedouble,
                   cJSON_GetObjectItem(h, "created")->valuestring,
                   cJSON_GetObjectItem(h, "technique")->valuestring,
                   cJSON_GetObjectItem(h, "epsilon")->valuedouble,
                   cJSON_IsTrue(cJSON_GetObjectItem(h, "formal")) ? "formal    " : "accounting",
                   cJSON_GetObjectItem(h, "dataset")->valuestring);
        }
    }
    cJSON_Delete(j);
    return 0;
}
