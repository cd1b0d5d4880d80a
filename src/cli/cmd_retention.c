/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_retention.c - `synthloop retention`: delete expired training_data_pool files and rows
 * (90 days by default, set per release), logging each deletion in anonymization_logs; also
 * completes releases left pending by a killed process (docs/PRIVACY.md).
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_privacy.h"

SL_COMMAND(retention, "delete expired training-data pool files and log each deletion")

static void usage(void) {
    printf("usage: synthloop retention [--dry-run] [--now UNIX] [--actor NAME] [--db PATH]\n"
           "\n"
           "Completes releases left 'pending' by a process that died between its charge and its\n"
           "rename, then deletes every training_data_pool file whose expiry has passed, marks\n"
           "its row deleted and logs the deletion (technique 'retention') in anonymization_logs.\n"
           "--dry-run only counts. --now replaces the clock (unix seconds).\n");
}

int cmd_retention(int argc, char **argv) {
    static const struct option opts[] = {
        {"dry-run", no_argument, 0, 'n'}, {"now", required_argument, 0, 't'},
        {"actor", required_argument, 0, 'a'}, {"db", required_argument, 0, 'D'},
        {"quiet", no_argument, 0, 'q'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = "retention", *db = NULL, *actor = NULL;
    int dry = 0, c;
    long now = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dry = 1; break;
        case 't':
            if (sl_cli_parse_int(cmd, "--now", optarg, 1, 4102444800L, &now)) return 2;
            break;
        case 'a': actor = optarg; break;
        case 'D': db = optarg; break;
        case 'q': break;
        case 'h': usage(); return 0;
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0) return sl_cli_usage_error(cmd, "--db none: no pool");
    sl_registry *reg = NULL;
    sl_status st = sl_registry_open(path, &reg);
    int done = 0;
    size_t n = 0;
    if (st == SL_OK && !dry) st = sl_privacy_recover(reg, &done);
    if (st == SL_OK) st = sl_privacy_retention(reg, now, dry, actor, &n);
    sl_registry_close(reg);
    if (st != SL_OK) return sl_cli_fail(st);
    if (!sl_cli_quiet) {
        if (done) printf("completed %d pending release(s)\n", done);
        printf("%s %zu expired pool file(s)\n", dry ? "would delete" : "deleted", n);
    }
    return 0;
}
