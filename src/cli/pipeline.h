/* SPDX-License-Identifier: Apache-2.0 */
/* pipeline.h - the command-line side of the jobs that combine stages (train, ab, ladder,
 * demo): the shared weighting options and their parser, and printers. The work itself is in
 * the job layer (include/synthloop/sl_loop.h). Internal to the command layer. */
#ifndef SL_CLI_PIPELINE_H
#define SL_CLI_PIPELINE_H

#include "synthloop/sl_loop.h"

/* --generator-band: "LO,HI", a gate preset name or "off". 0, or a usage error and 2. */
int pl_parse_generator_band(const char *cmd, const char *s, sl_loop_synth_opts *o);

/* The controller options that `ab` and `train` share, as getopt_long entries (put
 * PL_SYNTH_LONG_OPTS into the command's option table) and their parser: 0 when c was one of
 * them and was stored in *o, 2 after a usage error, -1 when c is not one of them. */
enum { PL_OPT_ECON_MODEL = 1001, PL_OPT_LAMBDA_MODEL, PL_OPT_MIN_OUTCOMES };
#define PL_SYNTH_LONG_OPTS                                                                      \
    {"synth-weight", 1, 0, 'w'}, {"weighting", 1, 0, 'W'}, {"min-trust", 1, 0, 't'},            \
    {"min-pass-rate", 1, 0, 'P'}, {"generator-band", 1, 0, 'G'}, {"max-share", 1, 0, 'm'},      \
    {"econ-model", 1, 0, PL_OPT_ECON_MODEL}, {"lambda-model", 1, 0, PL_OPT_LAMBDA_MODEL},        \
    {"min-outcomes", 1, 0, PL_OPT_MIN_OUTCOMES}
int pl_parse_synth_option(const char *cmd, int c, const char *arg, sl_loop_synth_opts *o);

/* The learner options that `ab` and `train` share (into an sl_rl_config), as getopt_long
 * entries and their parser (same contract as pl_parse_synth_option). */
enum {
    PL_OPT_ALGO = 1020, PL_OPT_HIDDEN, PL_OPT_BATCH, PL_OPT_SAMPLING, PL_OPT_ALPHA_BC, PL_OPT_LR,
    PL_OPT_IQL_BETA, PL_OPT_IQL_EXPECTILE, PL_OPT_REWARD_SCALE
};
#define PL_RL_LONG_OPTS                                                                         \
    {"algo", 1, 0, PL_OPT_ALGO}, {"hidden", 1, 0, PL_OPT_HIDDEN}, {"batch", 1, 0, PL_OPT_BATCH}, \
    {"sampling", 1, 0, PL_OPT_SAMPLING}, {"alpha-bc", 1, 0, PL_OPT_ALPHA_BC},                  \
    {"lr", 1, 0, PL_OPT_LR}, {"iql-beta", 1, 0, PL_OPT_IQL_BETA},                              \
    {"iql-expectile", 1, 0, PL_OPT_IQL_EXPECTILE}, {"reward-scale", 1, 0, PL_OPT_REWARD_SCALE}
int pl_parse_rl_option(const char *cmd, int c, const char *arg, sl_rl_config *rc);

/* "  generator std ratio (held-out starts, real actions): h5 1.001 h10 ..." on stdout. */
void pl_print_certificate(const char *indent, const sl_synth_certificate *c);

/* The ladder's table (sl_loop_ladder's result) on stdout. */
void pl_ladder_print(const cJSON *res);

#endif
