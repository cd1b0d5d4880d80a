/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h - internal header of the command layer (not part of the library API).
 *
 * Adding a command: create src/cli/cmd_NAME.c containing one line
 *     SL_COMMAND(NAME, "one-line summary shown by synthloop --help")
 * and a function `int cmd_NAME(int argc, char **argv)` returning the process exit code
 * (0 ok, 1 runtime error, 2 usage error). argv[0] is the command name. The build scans
 * src/cli/cmd_*.c for SL_COMMAND lines and generates the dispatch table, so no shared file
 * needs editing. Every command must answer --help on stdout with exit 0.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdio.h>

#include "synthloop/sl_core.h"

/* Marker scanned by scripts/gen_commands.sh; expands to a prototype. */
#define SL_COMMAND(name, summary) int cmd_##name(int argc, char **argv);

/* Print "synthloop CMD: <msg>" and "try 'synthloop CMD --help'" to stderr; returns 2. */
int sl_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "synthloop: error: <sl_last_error() or sl_strerror(s)>" to stderr; returns 1. */
int sl_cli_fail(sl_status s);

/* 1 if argv contains -h or --help (before a "--"). */
int sl_cli_wants_help(int argc, char **argv);

/* Parse helpers: return 0 on success, or print a usage error for `opt` and return 2. */
int sl_cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int sl_cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
                        double *out);
int sl_cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);

/* Global flags set by main before dispatch (--quiet, --json may also be given per command). */
extern int sl_cli_quiet;

#endif
