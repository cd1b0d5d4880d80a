/* SPDX-License-Identifier: Apache-2.0 */
/* paths.c - the sidecar path rule and absolute paths, once for every job. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_loop.h"

char *sl_loop_sidecar_path(const char *out, const char *strip) {
    size_t n = strlen(out);
    char *p = malloc(n + 6);
    if (!p) return NULL;
    memcpy(p, out, n + 1);
    if (strip) {
        size_t k = strlen(strip);
        if (n > k && strcmp(out + n - k, strip) == 0) p[n - k] = 0;
    } else {
        char *dot = strrchr(p, '.');
        if (dot && !strchr(dot, '/')) *dot = 0;
    }
    strcat(p, ".json");
    return p;
}

const char *sl_loop_abs_path(const char *path, char buf[4096]) {
    char tmp[PATH_MAX];
    if (!realpath(path, tmp) || strlen(tmp) >= 4096) return path;
    strcpy(buf, tmp);
    return buf;
}
