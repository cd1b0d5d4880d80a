/* SPDX-License-Identifier: Apache-2.0 */
/* pipeline.c - option parsing and printing shared by train, ab, ladder and demo (the work is
 * in src/loop). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"
#include "synthloop/sl_json.h"

int pl_parse_generator_band(const char *cmd, const char *s, sl_loop_synth_opts *o) {
    if (sl_loop_generator_band_parse(s, o) != SL_OK)
        return sl_cli_usage_error(cmd, "%s", sl_last_error());
    return 0;
}

int pl_parse_synth_option(const char *cmd, int c, const char *arg, sl_loop_synth_opts *o) {
    long v;
    switch (c) {
    case 'w': return sl_cli_parse_double(cmd, "--synth-weight", arg, 0, 0.95, &o->share);
    case 'W':
        return sl_loop_weighting_parse(arg, &o->mode) == SL_OK
                   ? 0
                   : sl_cli_usage_error(cmd, "%s", sl_last_error());
    case 't': return sl_cli_parse_double(cmd, "--min-trust", arg, 0, 1, &o->min_trust);
    case 'P': return sl_cli_parse_double(cmd, "--min-pass-rate", arg, 0, 1, &o->min_pass_rate);
    case 'G': return pl_parse_generator_band(cmd, arg, o);
    case 'm': return sl_cli_parse_double(cmd, "--max-share", arg, 0.001, 0.95, &o->max_share);
    case PL_OPT_ECON_MODEL: o->econ_model_path = arg; return 0;
    case PL_OPT_LAMBDA_MODEL: o->lambda_model_path = arg; return 0;
    case PL_OPT_MIN_OUTCOMES:
        if (sl_cli_parse_int(cmd, "--min-outcomes", arg, 0, 1000000000L, &v)) return 2;
        o->min_outcomes = v;
        return 0;
    default: return -1;
    }
}

int pl_parse_rl_option(const char *cmd, int c, const char *arg, sl_rl_config *rc) {
    long v;
    double d;
    switch (c) {
    case PL_OPT_ALGO:
        return sl_rl_algo_parse(arg, &rc->algo) == SL_OK ? 0
                                                        : sl_cli_usage_error(cmd, "%s", sl_last_error());
    case PL_OPT_SAMPLING:
        return sl_rl_sampling_parse(arg, &rc->sampling) == SL_OK
                   ? 0
                   : sl_cli_usage_error(cmd, "%s", sl_last_error());
    case PL_OPT_HIDDEN:
        if (sl_cli_parse_int(cmd, "--hidden", arg, 1, 65536, &v)) return 2;
        rc->hidden = (int)v;
        return 0;
    case PL_OPT_BATCH:
        if (sl_cli_parse_int(cmd, "--batch", arg, 1, 65536, &v)) return 2;
        rc->batch = (int)v;
        return 0;
    case PL_OPT_ALPHA_BC:
        if (sl_cli_parse_double(cmd, "--alpha-bc", arg, 0, 1e6, &d)) return 2;
        rc->alpha_bc = (float)d;
        return 0;
    case PL_OPT_LR:
        if (sl_cli_parse_double(cmd, "--lr", arg, 1e-8, 1, &d)) return 2;
        rc->lr_actor = rc->lr_critic = (float)d;
        return 0;
    case PL_OPT_IQL_BETA:
        if (sl_cli_parse_double(cmd, "--iql-beta", arg, 0, 100, &d)) return 2;
        rc->iql_beta = (float)d;
        return 0;
    case PL_OPT_IQL_EXPECTILE:
        if (sl_cli_parse_double(cmd, "--iql-expectile", arg, 0.01, 0.99, &d)) return 2;
        rc->iql_expectile = (float)d;
        return 0;
    case PL_OPT_REWARD_SCALE:
        if (sl_cli_parse_double(cmd, "--reward-scale", arg, 1e-6, 1e6, &d)) return 2;
        rc->reward_scale = (float)d;
        return 0;
    default: return -1;
    }
}

void pl_print_certificate(const char *indent, const sl_synth_certificate *c) {
    printf("%sgenerator std ratio (held-out starts, real actions):", indent);
    for (int i = 0; i < c->n; i++) printf(" h%d %.3f", c->h[i], c->std_ratio[i]);
    printf("\n");
}

void pl_ladder_print(const cJSON *res) {
    printf("horizon ladder\n");
    printf("  %-5s %-4s %-12s %-10s %-10s %-9s %-12s %-10s %s\n", "level", "h", "trust-pass",
           "real", "gates", "mse", "verdict", "cliffs", "result");
    const cJSON *lv;
    cJSON_ArrayForEach(lv, cJSON_GetObjectItem(res, "levels")) {
        printf("  %-5d %-4d %5.1f%% %-5s %5.1f%%     %5.1f%%     %+6.1f%%   %-12s %d/%-8d %s\n",
               sl_json_int(lv, "level", 0), sl_json_int(lv, "horizon", 0),
               100 * sl_json_num(lv, "trust_pass_rate", 0), sl_json_str(lv, "criterion", "?"),
               100 * sl_json_num(lv, "real_trust_pass_rate", NAN),
               100 * sl_json_num(lv, "pass_rate", 0),
               100 * sl_json_num(lv, "mse_rel_change", 0), sl_json_str(lv, "ab_verdict", "?"),
               sl_json_int(lv, "cliffs_augmented", 0), sl_json_int(lv, "cliffs_baseline", 0),
               sl_json_bool(lv, "passed", 0) ? "pass" : "FAIL");
    }
    printf("practical stability horizon: %d steps\n", sl_json_int(res, "practical_horizon", 0));
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(res, "brick_horizons")) {
        printf("  brick %d: %d steps\n", sl_json_int(b, "brick", 0), sl_json_int(b, "horizon", 0));
    }
}
