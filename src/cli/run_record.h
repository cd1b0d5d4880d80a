/* SPDX-License-Identifier: Apache-2.0 */
/* run_record.h - registry bookkeeping shared by the data commands (collect, encode, import,
 * bricks, trust, world, branches; train, ab and ladder use the path helpers): begin a run from
 * a config JSON, record files under their absolute path, and end the run ok or failed.
 * Internal to the command layer (static inline, like import_opts.h).
 *
 * Invariant: a command that began a run ends it on every path after the begin: ok only when
 * all outputs were written and recorded, else failed with {"error": message}, so the registry
 * never shows a finished command as running or a failed one as ok. (A process killed in
 * between is marked failed by the next sl_registry_open, docs/REGISTRY.md.)
 */
#ifndef SL_CLI_RUN_RECORD_H
#define SL_CLI_RUN_RECORD_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "synthloop/sl_registry.h"

/* Open the registry named by --db (NULL: $SYNTHLOOP_DB or synthloop.db; "none": no registry,
 * *reg = NULL) and begin run `command` with the config `conf` (consumed; NULL only on out of
 * memory, which fails). On failure *reg may be open: pass it to cli_run_finish anyway. */
static inline sl_status cli_run_begin(const char *db, const char *command, cJSON *conf,
                                      uint64_t seed, sl_registry **reg, int64_t *run) {
    *reg = NULL;
    *run = 0;
    char *txt = conf ? cJSON_PrintUnformatted(conf) : NULL;
    cJSON_Delete(conf);
    sl_status st = txt ? SL_OK : sl_set_error(SL_ERR_NOMEM, "%s: out of memory", command);
    if (st == SL_OK) st = sl_registry_open_default(db, reg);
    if (st == SL_OK) st = sl_run_begin(*reg, command, txt, seed, run);
    free(txt);
    return st;
}

/* The absolute path of an existing file (for rows that must stay meaningful from any working
 * directory); `path` itself if it cannot be resolved. */
static inline const char *cli_abs_path(const char *path, char buf[PATH_MAX]) {
    return realpath(path, buf) ? buf : path;
}

/* The absolute path of an output that may not exist yet: the real path of its directory joined
 * with its own name (the name itself is not resolved). `path` itself if the directory cannot
 * be resolved or the result does not fit in PATH_MAX. Trailing slashes are dropped. */
static inline const char *cli_abs_out_path(const char *path, char buf[PATH_MAX]) {
    char tmp[PATH_MAX], real[PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    if (len == 0 || len >= sizeof tmp) return path;
    memcpy(tmp, path, len);
    tmp[len] = 0;
    char *slash = strrchr(tmp, '/');
    const char *name = slash ? slash + 1 : tmp;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name)
        return cli_abs_path(path, buf);
    const char *dir = ".";
    if (slash == tmp) dir = "/";
    else if (slash) {
        *slash = 0;
        dir = tmp;
    }
    if (!realpath(dir, real)) return path;
    int n = snprintf(buf, PATH_MAX, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", name);
    return n > 0 && n < PATH_MAX ? buf : path;
}

/* End the run (no-op without a registry or run): ok with `summary` (may be NULL), else failed
 * with {"error": sl_last_error()}. Prints the command's error first and closes the registry.
 * Returns the exit code: 0, or 1 if the command failed or its run could not be ended (the
 * registry would not show the run, so the command is not reported as done). */
static inline int cli_run_finish(sl_registry *reg, int64_t run, sl_status st,
                                 const cJSON *summary) {
    char err[1024] = "";
    if (st != SL_OK)
        snprintf(err, sizeof err, "%s", *sl_last_error() ? sl_last_error() : sl_strerror(st));
    int rc = st == SL_OK ? 0 : sl_cli_fail(st);
    if (reg && run) {
        cJSON *f = st == SL_OK ? NULL : cJSON_CreateObject();
        if (f) cJSON_AddStringToObject(f, "error", err);
        const cJSON *sj = st == SL_OK ? summary : f;
        char *txt = sj ? cJSON_PrintUnformatted(sj) : NULL;
        sl_status e = sl_run_end(reg, run, st == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, txt);
        free(txt);
        cJSON_Delete(f);
        if (e != SL_OK && rc == 0) rc = sl_cli_fail(e);
    }
    sl_registry_close(reg);
    return rc;
}

/* The summary of a failed run, {"error": message} (malloc'd JSON text, NULL on out of
 * memory); call before sl_cli_fail so that the message is the command's own. */
static inline char *cli_error_summary(sl_status st) {
    cJSON *f = cJSON_CreateObject();
    if (!f) return NULL;
    cJSON_AddStringToObject(f, "error", *sl_last_error() ? sl_last_error() : sl_strerror(st));
    char *txt = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    return txt;
}

#endif
