/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_cli.h - helpers shared by the lifecycle commands (models, deploy, rollback, health,
 * reward): open the registry they all need, and read an argument that is JSON text or a file
 * holding it. Internal to the command layer (static inline, like run_record.h). */
#ifndef SL_CLI_DEPLOY_CLI_H
#define SL_CLI_DEPLOY_CLI_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "synthloop/sl_deploy.h"

/* --db none makes no sense for the lifecycle: every step is a registry row */
static inline sl_status dcli_open(const char *cmd, const char *db, sl_registry **reg) {
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0)
        return sl_set_error(SL_ERR_ARG, "%s: --db none: the lifecycle lives in the registry", cmd);
    return sl_registry_open(path, reg);
}

/* `arg` itself when it starts with '{' or '[', else the contents of the file it names; *out
 * is malloc'd (free). */
static inline sl_status dcli_json_arg(const char *arg, char **out) {
    *out = NULL;
    const char *p = arg;
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (*p == '{' || *p == '[') {
        *out = strdup(arg);
        return *out ? SL_OK : sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    size_t n;
    return sl_read_file(arg, out, &n);
}

static inline const char *dcli_actor(const char *actor) {
    if (actor && *actor) return actor;
    const char *u = getenv("USER");
    return u && *u ? u : "cli";
}

#endif
