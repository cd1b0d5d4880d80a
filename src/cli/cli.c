/* SPDX-License-Identifier: Apache-2.0 */
/* cli.c - shared helpers of the command layer: usage errors, runtime errors, number parsing. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int sl_cli_quiet = 0;

int sl_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "synthloop %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'synthloop %s --help'\n", cmd);
    va_end(ap);
    return 2;
}

int sl_cli_fail(sl_status s) {
    const char *m = sl_last_error();
    fprintf(stderr, "synthloop: error: %s\n", (m && *m) ? m : sl_strerror(s));
    return 1;
}

int sl_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

int sl_cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return sl_cli_usage_error(cmd, "%s expects an integer in [%ld, %ld], got '%s'", opt, lo,
                                  hi, s ? s : "");
    *out = v;
    return 0;
}

int sl_cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
                        double *out) {
    char *end;
    errno = 0;
    double v = strtod(s ? s : "", &end);
    if (!s || !*s || *end || errno || !(v >= lo && v <= hi))
        return sl_cli_usage_error(cmd, "%s expects a number in [%g, %g], got '%s'", opt, lo, hi,
                                  s ? s : "");
    *out = v;
    return 0;
}

int sl_cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') return sl_cli_usage_error(cmd, "%s expects a non-negative integer", opt);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return sl_cli_usage_error(cmd, "%s expects a non-negative integer, got '%s'", opt, s);
    *out = (uint64_t)v;
    return 0;
}
