/* SPDX-License-Identifier: Apache-2.0 */
/* status.c - status code names and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_core.h"

static const char *const status_names[] = {
    [SL_OK] = "ok",
    [SL_ERR_NOMEM] = "out of memory",
    [SL_ERR_IO] = "input/output error",
    [SL_ERR_FORMAT] = "malformed input",
    [SL_ERR_ARG] = "invalid argument",
    [SL_ERR_SHAPE] = "shape mismatch",
    [SL_ERR_DTYPE] = "unsupported data type",
    [SL_ERR_NAN] = "non-finite value",
    [SL_ERR_NOTFOUND] = "not found",
    [SL_ERR_RANGE] = "value out of range",
    [SL_ERR_DIVERGED] = "diverged",
    [SL_ERR_DB] = "database error",
    [SL_ERR_PHYSICS] = "physics error",
    [SL_ERR_STATE] = "invalid state",
    [SL_ERR_INTERNAL] = "internal error",
    [SL_ERR_BUSY] = "busy (locked by another process)",
    [SL_ERR_CANCELLED] = "cancelled",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == SL_STATUS_COUNT,
               "status_names must cover every sl_status");

const char *sl_strerror(sl_status s) {
    if ((int)s < 0 || s >= SL_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

static _Thread_local char last_error[1024];

const char *sl_last_error(void) { return last_error; }

sl_status sl_set_error(sl_status s, const char *fmt, ...) {
    /* format into a scratch buffer first: callers may pass sl_last_error() as an argument */
    char tmp[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_error, tmp, sizeof last_error);
    return s;
}

void sl_clear_error(void) { last_error[0] = '\0'; }

void sl_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "synthloop: internal error: assertion '%s' failed at %s:%d\n", expr, file,
            line);
    abort();
}

#include "version.h" /* generated: SL_GIT_DESCRIBE */
const char *sl_version(void) { return "0.1.0"; }
const char *sl_git_describe(void) { return SL_GIT_DESCRIBE; }
