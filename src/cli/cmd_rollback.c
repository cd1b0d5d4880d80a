/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_rollback.c - `synthloop rollback --endpoint E --reason TEXT`: roll back the active
 * rollout's candidate, or without one the live version to its predecessor. */
#include <getopt.h>
#include <stdio.h>

#include "cli/deploy_cli.h"

SL_COMMAND(rollback, "roll back an endpoint's candidate or live version, with the reason recorded")

static void usage(void) {
    printf("usage: synthloop rollback [--endpoint E] --reason TEXT [--actor NAME] [--db PATH]\n"
           "\n"
           "With a rollout in progress on the endpoint, its candidate is rolled back and the live\n"
           "version keeps serving. Without one, the live version is rolled back and the version\n"
           "that was live before it is restored. The reason and actor go into the append-only\n"
           "deployment history (`synthloop models history`).\n"
           "\n"
           "options:\n"
           "  --endpoint E   endpoint name (default: default)\n"
           "  --reason TEXT  why (required)\n"
           "  --actor NAME   who (default $USER)\n"
           "  --db PATH      registry (default $SYNTHLOOP_DB or synthloop.db)\n"
           "  -h, --help     this help\n");
}

int cmd_rollback(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {{"endpoint", 1, 0, 'E'}, {"reason", 1, 0, 'r'},
                                         {"actor", 1, 0, 'a'},    {"db", 1, 0, 'D'},
                                         {"quiet", 0, 0, 'q'},    {0, 0, 0, 0}};
    const char *endpoint = "default", *reason = NULL, *actor = NULL, *db = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': endpoint = optarg; break;
        case 'r': reason = optarg; break;
        case 'a': actor = optarg; break;
        case 'D': db = optarg; break;
        case 'q': break;
        default: return sl_cli_usage_error("rollback", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return sl_cli_usage_error("rollback", "unexpected argument '%s'", argv[optind]);
    if (!reason || !*reason) return sl_cli_usage_error("rollback", "--reason is required");
    sl_registry *reg = NULL;
    sl_status s = dcli_open("rollback", db, &reg);
    int64_t restored = 0;
    if (s == SL_OK) s = sl_endpoint_rollback(reg, endpoint, dcli_actor(actor), reason, &restored);
    if (s == SL_OK) printf("endpoint %s: version %lld serves\n", endpoint, (long long)restored);
    sl_registry_close(reg);
    return s == SL_OK ? 0 : sl_cli_fail(s);
}
