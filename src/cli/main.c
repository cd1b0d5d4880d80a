/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - the synthloop executable: global flags and subcommand dispatch.
 * The command table is generated at build time from SL_COMMAND lines in src/cli/cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "commands.inc" /* generated: SL_COMMAND prototypes + sl_command_table[] */

static void print_help(void) {
    printf("synthloop %s - train decision policies on real plus trusted synthetic data\n\n",
           sl_version());
    printf("usage: synthloop [--quiet] [--version] [--help] COMMAND [ARGS...]\n\n");
    printf("commands:\n");
    for (size_t i = 0; i < sizeof sl_command_table / sizeof sl_command_table[0]; i++)
        if (sl_command_table[i].name)
            printf("  %-12s %s\n", sl_command_table[i].name, sl_command_table[i].summary);
    printf("\nRun 'synthloop COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    /* test hook (tests/test_loop.c): fail the Nth allocation of the recording paths */
    const char *fa = getenv("SYNTHLOOP_TEST_FAIL_ALLOC");
    if (fa && *fa) sl_test_fail_alloc_after(strtol(fa, NULL, 10));
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("synthloop %s (%s)\n", sl_version(), sl_git_describe());
            return 0;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            sl_cli_quiet = 1;
            sl_progress_set_quiet(1);
        } else {
            fprintf(stderr, "synthloop: unknown option '%s'\ntry 'synthloop --help'\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        print_help();
        return 2;
    }
    const char *cmd = argv[i];
    for (size_t k = 0; k < sizeof sl_command_table / sizeof sl_command_table[0]; k++) {
        if (sl_command_table[k].name && strcmp(sl_command_table[k].name, cmd) == 0) {
            /* per-command --quiet is also honoured */
            for (int j = i + 1; j < argc; j++)
                if (strcmp(argv[j], "--quiet") == 0 || strcmp(argv[j], "-q") == 0) {
                    sl_cli_quiet = 1;
                    sl_progress_set_quiet(1);
                }
            return sl_command_table[k].fn(argc - i, argv + i);
        }
    }
    fprintf(stderr, "synthloop: unknown command '%s'\ntry 'synthloop --help'\n", cmd);
    return 2;
}
