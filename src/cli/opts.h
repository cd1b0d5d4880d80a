/* SPDX-License-Identifier: Apache-2.0 */
/* opts.h - a command's options described once: one table row per option (name, field, type,
 * range, help) from which the getopt_long entries, the --help text and the config JSON
 * recorded with the run are all produced, so that they cannot drift apart.
 * Internal to the command layer. */
#ifndef SL_CLI_OPTS_H
#define SL_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef enum cli_opt_type {
    CLI_FLAG,   /* no argument: stores flag_value into an int field */
    CLI_INT,    /* int field, integer in [lo, hi] */
    CLI_U64,    /* uint64_t field (seeds) */
    CLI_DOUBLE, /* double field in [lo, hi] */
    CLI_FLOAT,  /* float field in [lo, hi] */
    CLI_STRING, /* const char * field (the argv string itself) */
    CLI_CUSTOM, /* parse(cmd, arg, dst) decides; returns 0 or a usage error's 2 */
    CLI_OPT_TYPE_COUNT
} cli_opt_type;

typedef struct cli_opt {
    const char *name;    /* "episodes" for --episodes */
    cli_opt_type type;
    size_t offset;       /* offsetof(the options struct, field); unused for CLI_CUSTOM */
    double lo, hi;       /* range of numbers */
    const char *metavar; /* "N", "PATH" (NULL for flags) */
    const char *help;    /* help text (may hold "\n" + indentation for more lines) */
    const char *json;    /* key in the config JSON; NULL: not recorded */
    int flag_value;      /* CLI_FLAG: the value stored */
    int (*parse)(const char *cmd, const char *arg, void *dst); /* CLI_CUSTOM */
} cli_opt;

#define CLI_OPT_MAX 96

/* The network-training options encode and trust train share, as rows into the config struct
 * member C (an sl_latent_config or sl_trust_config: both name these fields alike) of the
 * options struct T. H_MAX: the largest --hidden; HELP_HIDDEN, HELP_BATCH: their help texts. */
#define CLI_NN_TRAIN_ROWS(T, C, H_MAX, HELP_HIDDEN, HELP_BATCH)                                  \
    {"seed", CLI_U64, offsetof(T, C.seed), 0, 0, "N", "random seed (default 0)", NULL, 0, NULL}, \
    {"hidden", CLI_INT, offsetof(T, C.hidden), 1, H_MAX, "N", HELP_HIDDEN, NULL, 0, NULL},     \
    {"layers", CLI_INT, offsetof(T, C.n_hidden), 1, 8, "N", "hidden layers (default 2)", NULL,  \
     0, NULL},                                                                                   \
    {"batch", CLI_INT, offsetof(T, C.batch), 2, 65536, "N", HELP_BATCH, NULL, 0, NULL},        \
    {"lr", CLI_FLOAT, offsetof(T, C.lr), 1e-8, 1.0, "X", "Adam learning rate (default 1e-3)",   \
     NULL, 0, NULL}

/* Parse argv[1..] into dst (defaults already in place). Options not in the table: "--quiet"
 * and "--json" are accepted when present in it; anything else is a usage error (2). A stray
 * positional argument is a usage error unless positional is non-NULL (then the index of the
 * first one is stored). Returns 0 or 2. */
int cli_opts_parse(const char *cmd, const cli_opt *t, size_t n, void *dst, int argc, char **argv,
                   int *positional);
/* "  --name METAVAR   help" lines, aligned, to f. */
void cli_opts_help(FILE *f, const cli_opt *t, size_t n);
/* Add every row with a json key to obj (strings as strings, numbers as numbers, flags as
 * booleans; a NULL string as null). */
void cli_opts_json(cJSON *obj, const cli_opt *t, size_t n, const void *src);

#endif
