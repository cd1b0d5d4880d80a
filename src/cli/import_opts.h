/* SPDX-License-Identifier: Apache-2.0 */
/* import_opts.h - the import options shared by `synthloop import`, `info` and `bricks`
 * (format, --max-episodes and the CSV column convention), as getopt_long entries, a handler,
 * help text and a JSON echo for the result's "config". Internal to the command layer.
 *
 * Invariant: every option here maps 1:1 to a field of sl_import_options (docs/IMPORT.md).
 */
#ifndef SL_CLI_IMPORT_OPTS_H
#define SL_CLI_IMPORT_OPTS_H

#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_import.h"

enum {
    IMPORT_OPT_FORMAT = 1000,
    IMPORT_OPT_MAX_EPISODES,
    IMPORT_OPT_OBS_PREFIX,
    IMPORT_OPT_NEXT_OBS_PREFIX,
    IMPORT_OPT_ACT_PREFIX,
    IMPORT_OPT_REWARD_COL,
    IMPORT_OPT_TERMINAL_COL,
    IMPORT_OPT_TIMEOUT_COL,
    IMPORT_OPT_EPISODE_COL,
    IMPORT_OPT_TIMESTEP_COL,
    IMPORT_OPT_EP_PREFIX,
    IMPORT_OPT_DELIMITER,
    IMPORT_OPT_END
};

#define SL_IMPORT_LONGOPTS                                                                        \
    {"format", required_argument, 0, IMPORT_OPT_FORMAT},                                          \
        {"max-episodes", required_argument, 0, IMPORT_OPT_MAX_EPISODES},                          \
        {"obs-prefix", required_argument, 0, IMPORT_OPT_OBS_PREFIX},                              \
        {"next-obs-prefix", required_argument, 0, IMPORT_OPT_NEXT_OBS_PREFIX},                    \
        {"act-prefix", required_argument, 0, IMPORT_OPT_ACT_PREFIX},                              \
        {"reward-col", required_argument, 0, IMPORT_OPT_REWARD_COL},                              \
        {"terminal-col", required_argument, 0, IMPORT_OPT_TERMINAL_COL},                          \
        {"timeout-col", required_argument, 0, IMPORT_OPT_TIMEOUT_COL},                            \
        {"episode-col", required_argument, 0, IMPORT_OPT_EPISODE_COL},                            \
        {"timestep-col", required_argument, 0, IMPORT_OPT_TIMESTEP_COL},                          \
        {"ep-prefix", required_argument, 0, IMPORT_OPT_EP_PREFIX},                                \
        {"delimiter", required_argument, 0, IMPORT_OPT_DELIMITER}

/* Handle option c: 0 handled, 2 usage error printed, -1 not an import option. */
static inline int import_opt_handle(const char *cmd, int c, const char *arg,
                                    sl_import_options *o) {
    switch (c) {
    case IMPORT_OPT_FORMAT:
        if (sl_import_format_parse(arg, &o->format) != SL_OK)
            return sl_cli_usage_error(cmd, "--format expects auto|npz|d4rl|minari|csv, got '%s'",
                                      arg);
        return 0;
    case IMPORT_OPT_MAX_EPISODES: {
        long v;
        if (sl_cli_parse_int(cmd, "--max-episodes", arg, 0, 2147483647L, &v)) return 2;
        o->max_episodes = (size_t)v;
        return 0;
    }
    case IMPORT_OPT_OBS_PREFIX: o->obs_prefix = arg; break;
    case IMPORT_OPT_NEXT_OBS_PREFIX: o->next_obs_prefix = arg; break;
    case IMPORT_OPT_ACT_PREFIX: o->act_prefix = arg; break;
    case IMPORT_OPT_REWARD_COL: o->reward_col = arg; break;
    case IMPORT_OPT_TERMINAL_COL: o->terminal_col = arg; break;
    case IMPORT_OPT_TIMEOUT_COL: o->timeout_col = arg; break;
    case IMPORT_OPT_EPISODE_COL: o->episode_col = arg; break;
    case IMPORT_OPT_TIMESTEP_COL: o->timestep_col = arg; break;
    case IMPORT_OPT_EP_PREFIX: o->ep_prefix = arg; break;
    case IMPORT_OPT_DELIMITER:
        if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0) {
            o->delimiter = '\t';
            return 0;
        }
        if (strlen(arg) != 1 || arg[0] == ' ')
            return sl_cli_usage_error(cmd, "--delimiter expects one character or 'tab', got '%s'",
                                      arg);
        o->delimiter = arg[0];
        return 0;
    default: return -1;
    }
    if (!*arg) return sl_cli_usage_error(cmd, "column names and prefixes may not be empty");
    return 0;
}

static inline void import_opt_help(FILE *f) {
    fprintf(f,
            "input options:\n"
            "  --format F            auto|npz|d4rl|minari|csv (default auto: from the content)\n"
            "  --max-episodes N      keep only the first N episodes (default: all)\n"
            "CSV column convention (docs/IMPORT.md):\n"
            "  --obs-prefix P        observation columns P0..Pk (default obs_)\n"
            "  --next-obs-prefix P   optional next-observation columns (default next_obs_)\n"
            "  --act-prefix P        action columns P0..Pm (default act_)\n"
            "  --reward-col C        reward column (default reward)\n"
            "  --terminal-col C      0/1 terminal column, optional (default terminal)\n"
            "  --timeout-col C       0/1 timeout column, optional (default timeout)\n"
            "  --episode-col C       integer episode id column, optional (default episode_id)\n"
            "  --timestep-col C      ignored column (default timestep)\n"
            "  --ep-prefix P         per-episode columns P<name> (default ep_)\n"
            "  --delimiter C         cell separator, one character or 'tab' (default ,)\n");
}

/* The import options as JSON (for the result's "config"). */
static inline cJSON *import_opt_json(const sl_import_options *in) {
    sl_import_options o;
    sl_import_options_default(&o);
    o.format = in->format;
    o.max_episodes = in->max_episodes;
#define IMPORT_OPT_TAKE(f)                                                                        \
    if (in->f) o.f = in->f
    IMPORT_OPT_TAKE(obs_prefix);
    IMPORT_OPT_TAKE(next_obs_prefix);
    IMPORT_OPT_TAKE(act_prefix);
    IMPORT_OPT_TAKE(reward_col);
    IMPORT_OPT_TAKE(terminal_col);
    IMPORT_OPT_TAKE(timeout_col);
    IMPORT_OPT_TAKE(episode_col);
    IMPORT_OPT_TAKE(timestep_col);
    IMPORT_OPT_TAKE(ep_prefix);
#undef IMPORT_OPT_TAKE
    if (in->delimiter) o.delimiter = in->delimiter;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    char d[2] = {o.delimiter, 0};
    cJSON_AddStringToObject(j, "format", sl_import_format_name(o.format));
    cJSON_AddNumberToObject(j, "max_episodes", (double)o.max_episodes);
    cJSON_AddStringToObject(j, "obs_prefix", o.obs_prefix);
    cJSON_AddStringToObject(j, "next_obs_prefix", o.next_obs_prefix);
    cJSON_AddStringToObject(j, "act_prefix", o.act_prefix);
    cJSON_AddStringToObject(j, "reward_col", o.reward_col);
    cJSON_AddStringToObject(j, "terminal_col", o.terminal_col);
    cJSON_AddStringToObject(j, "timeout_col", o.timeout_col);
    cJSON_AddStringToObject(j, "episode_col", o.episode_col);
    cJSON_AddStringToObject(j, "timestep_col", o.timestep_col);
    cJSON_AddStringToObject(j, "ep_prefix", o.ep_prefix);
    cJSON_AddStringToObject(j, "delimiter", d);
    return j;
}

static inline cJSON *import_report_json(const sl_import_report *r) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "format", sl_import_format_name(r->format));
    cJSON_AddNumberToObject(j, "rows_in_file", (double)r->rows_in_file);
    cJSON_AddNumberToObject(j, "episodes_in_file", (double)r->episodes_in_file);
    cJSON_AddNumberToObject(j, "rows", (double)r->rows);
    cJSON_AddNumberToObject(j, "episodes", (double)r->episodes);
    cJSON_AddBoolToObject(j, "next_observations_from_file", r->next_obs_from_file);
    cJSON_AddNumberToObject(j, "next_observations_repeated", (double)r->next_obs_repeated);
    return j;
}

#endif
