/* SPDX-License-Identifier: Apache-2.0 */
/* world_config.c - the world model's configuration: defaults, validation, names of the modes
 * and clips, and the configuration as JSON (written into checkpoints and read back).
 *
 * Invariant: a configuration that passed sl_world_config_validate builds a model; reading it
 * back from JSON gives the same configuration (every field is written).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "world/world_internal.h"

static const char *const mode_names[SL_WORLD_MODE_COUNT] = {"tf", "ss", "bptt"};
_Static_assert(sizeof mode_names / sizeof mode_names[0] == SL_WORLD_MODE_COUNT, "modes");
static const char *const clip_names[SL_WORLD_CLIP_COUNT] = {"none", "tanh", "hard"};
_Static_assert(sizeof clip_names / sizeof clip_names[0] == SL_WORLD_CLIP_COUNT, "clips");

const char *sl_world_mode_name(sl_world_mode m) {
    return (unsigned)m < SL_WORLD_MODE_COUNT ? mode_names[m] : NULL;
}
sl_status sl_world_mode_parse(const char *s, sl_world_mode *out) {
    for (int i = 0; i < SL_WORLD_MODE_COUNT; i++)
        if (s && strcmp(s, mode_names[i]) == 0) {
            *out = (sl_world_mode)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "world: unknown mode '%s' (tf, ss, bptt)", s ? s : "");
}
const char *sl_world_clip_name(sl_world_clip c) {
    return (unsigned)c < SL_WORLD_CLIP_COUNT ? clip_names[c] : NULL;
}
sl_status sl_world_clip_parse(const char *s, sl_world_clip *out) {
    for (int i = 0; i < SL_WORLD_CLIP_COUNT; i++)
        if (s && strcmp(s, clip_names[i]) == 0) {
            *out = (sl_world_clip)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "world: unknown residual clip '%s' (none, tanh, hard)",
                        s ? s : "");
}

/* --- config ---------------------------------------------------------------- */

void sl_world_config_default(sl_world_config *c) {
    memset(c, 0, sizeof *c);
    c->members = 5;
    c->hidden = 128;
    c->mode = SL_WORLD_MODE_BPTT;
    c->horizon = 60;
    c->horizon_mix = 0.5f;
    c->burn_in = 8;
    c->batch = 32;
    c->max_iters = 1500;
    c->eval_every = 50;
    c->patience = 8;
    c->lr = 2e-3f;
    c->grad_clip = 1.0f;
    c->holdout_frac = 0.2;
    c->ss_start = 1.0f;
    c->ss_end = 0.0f;
    c->ss_frac = 0.6f;
    c->w_reward = 0.5f;
    c->w_econ = 0.5f;
    c->w_var = 1.0f;
    c->w_dist = 1.0f;
    c->w_window = 5.0f;
    c->w_rough = 10.0f;
    c->window_prefixes = 1;
    c->clip = SL_WORLD_CLIP_TANH;
    c->clip_value = 4.0f;
    c->bootstrap = 1;
    c->noise_scale = 1.0f;
    c->learn_noise = 1;
    c->hetero_noise = 1;
    c->w_nll = 1.0f;
    c->n_econ = 3;
    strcpy(c->econ_names[0], "unit_done");
    strcpy(c->econ_names[1], "error_event");
    strcpy(c->econ_names[2], "energy_wh");
    c->seed = 0;
}

#define CHECK_RANGE(cond, ...)                                                                \
    do {                                                                                      \
        if (!(cond)) return sl_set_error(SL_ERR_ARG, __VA_ARGS__);                            \
    } while (0)

sl_status sl_world_config_validate(const sl_world_config *c) {
    CHECK_RANGE(c->members >= 1 && c->members <= SL_WORLD_MAX_MEMBERS,
                "world config: members %d not in [1, %d]", c->members, SL_WORLD_MAX_MEMBERS);
    CHECK_RANGE(c->hidden >= 1 && c->hidden <= 4096, "world config: hidden %d not in [1, 4096]",
                c->hidden);
    CHECK_RANGE((unsigned)c->mode < SL_WORLD_MODE_COUNT, "world config: bad mode %d", c->mode);
    CHECK_RANGE(c->horizon >= 1 && c->horizon <= SL_WORLD_MAX_HORIZON,
                "world config: horizon %d not in [1, %d]", c->horizon, SL_WORLD_MAX_HORIZON);
    CHECK_RANGE(c->horizon_mix >= 0 && c->horizon_mix <= 1,
                "world config: horizon_mix must be in [0, 1]");
    CHECK_RANGE(c->burn_in >= 0 && c->burn_in <= 256, "world config: burn_in %d not in [0, 256]",
                c->burn_in);
    CHECK_RANGE(c->batch >= 2 && c->batch <= 65536, "world config: batch %d not in [2, 65536]",
                c->batch);
    CHECK_RANGE(c->max_iters >= 1, "world config: max_iters %d < 1", c->max_iters);
    CHECK_RANGE(c->eval_every >= 1, "world config: eval_every %d < 1", c->eval_every);
    CHECK_RANGE(c->patience >= 1, "world config: patience %d < 1", c->patience);
    CHECK_RANGE(isfinite(c->lr) && c->lr > 0, "world config: lr must be > 0");
    CHECK_RANGE(isfinite(c->grad_clip) && c->grad_clip >= 0, "world config: grad_clip < 0");
    CHECK_RANGE(c->holdout_frac >= 0 && c->holdout_frac < 1,
                "world config: holdout_frac %g not in [0, 1)", c->holdout_frac);
    CHECK_RANGE(c->ss_start >= 0 && c->ss_start <= 1 && c->ss_end >= 0 && c->ss_end <= 1,
                "world config: ss_start/ss_end must be probabilities");
    CHECK_RANGE(c->ss_frac > 0 && c->ss_frac <= 1, "world config: ss_frac not in (0, 1]");
    CHECK_RANGE(c->w_reward >= 0 && c->w_econ >= 0 && c->w_var >= 0 && c->w_dist >= 0 &&
                    c->w_window >= 0 && isfinite(c->w_window) && c->w_rough >= 0 &&
                    isfinite(c->w_rough) &&
                    isfinite(c->w_reward) && isfinite(c->w_econ) && isfinite(c->w_var) &&
                    isfinite(c->w_dist),
                "world config: loss weights must be finite and >= 0");
    CHECK_RANGE((unsigned)c->clip < SL_WORLD_CLIP_COUNT, "world config: bad clip %d", c->clip);
    CHECK_RANGE(isfinite(c->clip_value) && c->clip_value > 0,
                "world config: clip_value must be > 0");
    CHECK_RANGE(isfinite(c->noise_scale) && c->noise_scale >= 0 && c->noise_scale <= 1000,
                "world config: noise_scale must be in [0, 1000]");
    CHECK_RANGE(!c->hetero_noise || c->learn_noise,
                "world config: hetero_noise needs learn_noise (a learned sigma)");
    CHECK_RANGE(isfinite(c->w_nll) && c->w_nll >= 0, "world config: w_nll must be finite and >= 0");
    CHECK_RANGE(c->n_econ >= 0 && c->n_econ <= SL_WORLD_MAX_ECON,
                "world config: n_econ %d not in [0, %d]", c->n_econ, SL_WORLD_MAX_ECON);
    return SL_OK;
}

cJSON *sl_world_config_json(const sl_world_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "members", c->members);
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddStringToObject(j, "mode", sl_world_mode_name(c->mode));
    cJSON_AddNumberToObject(j, "horizon", c->horizon);
    cJSON_AddNumberToObject(j, "horizon_mix", (double)c->horizon_mix);
    cJSON_AddNumberToObject(j, "burn_in", c->burn_in);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "max_iters", c->max_iters);
    cJSON_AddNumberToObject(j, "eval_every", c->eval_every);
    cJSON_AddNumberToObject(j, "patience", c->patience);
    cJSON_AddNumberToObject(j, "lr", (double)c->lr);
    cJSON_AddNumberToObject(j, "grad_clip", (double)c->grad_clip);
    cJSON_AddNumberToObject(j, "holdout_frac", c->holdout_frac);
    cJSON_AddNumberToObject(j, "ss_start", (double)c->ss_start);
    cJSON_AddNumberToObject(j, "ss_end", (double)c->ss_end);
    cJSON_AddNumberToObject(j, "ss_frac", (double)c->ss_frac);
    cJSON_AddNumberToObject(j, "w_reward", (double)c->w_reward);
    cJSON_AddNumberToObject(j, "w_econ", (double)c->w_econ);
    cJSON_AddNumberToObject(j, "w_var", (double)c->w_var);
    cJSON_AddNumberToObject(j, "w_dist", (double)c->w_dist);
    cJSON_AddNumberToObject(j, "w_window", (double)c->w_window);
    cJSON_AddNumberToObject(j, "w_rough", (double)c->w_rough);
    cJSON_AddBoolToObject(j, "window_prefixes", c->window_prefixes);
    cJSON_AddStringToObject(j, "clip", sl_world_clip_name(c->clip));
    cJSON_AddNumberToObject(j, "clip_value", (double)c->clip_value);
    cJSON_AddBoolToObject(j, "bootstrap", c->bootstrap);
    cJSON_AddNumberToObject(j, "noise_scale", (double)c->noise_scale);
    cJSON_AddBoolToObject(j, "learn_noise", c->learn_noise);
    cJSON_AddBoolToObject(j, "hetero_noise", c->hetero_noise);
    cJSON_AddNumberToObject(j, "w_nll", (double)c->w_nll);
    cJSON *e = cJSON_AddArrayToObject(j, "econ");
    for (int i = 0; e && i < c->n_econ; i++)
        cJSON_AddItemToArray(e, cJSON_CreateString(c->econ_names[i]));
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    return j;
}

/* Inverse of sl_world_config_json (missing keys keep defaults). */
sl_status sl_world_config_from_json(sl_world_config *c, const cJSON *j, const char *path) {
    sl_world_config_default(c);
    c->members = sl_json_int(j, "members", c->members);
    c->hidden = sl_json_int(j, "hidden", c->hidden);
    const char *m = sl_json_str(j, "mode", "bptt");
    if (sl_world_mode_parse(m, &c->mode) != SL_OK)
        return sl_set_error(SL_ERR_FORMAT, "%s: metadata config has unknown mode '%s'", path, m);
    c->horizon = sl_json_int(j, "horizon", c->horizon);
    c->horizon_mix = (float)sl_json_num(j, "horizon_mix", (double)c->horizon_mix);
    c->burn_in = sl_json_int(j, "burn_in", c->burn_in);
    c->batch = sl_json_int(j, "batch", c->batch);
    c->max_iters = sl_json_int(j, "max_iters", c->max_iters);
    c->eval_every = sl_json_int(j, "eval_every", c->eval_every);
    c->patience = sl_json_int(j, "patience", c->patience);
    c->lr = (float)sl_json_num(j, "lr", (double)c->lr);
    c->grad_clip = (float)sl_json_num(j, "grad_clip", (double)c->grad_clip);
    c->holdout_frac = sl_json_num(j, "holdout_frac", c->holdout_frac);
    c->ss_start = (float)sl_json_num(j, "ss_start", (double)c->ss_start);
    c->ss_end = (float)sl_json_num(j, "ss_end", (double)c->ss_end);
    c->ss_frac = (float)sl_json_num(j, "ss_frac", (double)c->ss_frac);
    c->w_reward = (float)sl_json_num(j, "w_reward", (double)c->w_reward);
    c->w_econ = (float)sl_json_num(j, "w_econ", (double)c->w_econ);
    c->w_var = (float)sl_json_num(j, "w_var", (double)c->w_var);
    c->w_dist = (float)sl_json_num(j, "w_dist", (double)c->w_dist);
    c->w_window = (float)sl_json_num(j, "w_window", (double)c->w_window);
    c->w_rough = (float)sl_json_num(j, "w_rough", 0.0); /* absent in older files: off */
    c->window_prefixes = sl_json_bool(j, "window_prefixes", 0);
    const char *cl = sl_json_str(j, "clip", "tanh");
    if (sl_world_clip_parse(cl, &c->clip) != SL_OK)
        return sl_set_error(SL_ERR_FORMAT, "%s: metadata config has unknown clip '%s'", path, cl);
    c->clip_value = (float)sl_json_num(j, "clip_value", (double)c->clip_value);
    c->bootstrap = sl_json_bool(j, "bootstrap", c->bootstrap);
    c->noise_scale = (float)sl_json_num(j, "noise_scale", 1.0);
    c->learn_noise = sl_json_bool(j, "learn_noise", c->learn_noise);
    c->hetero_noise = sl_json_bool(j, "hetero_noise", 0); /* absent in older files */
    c->w_nll = (float)sl_json_num(j, "w_nll", 1.0);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "econ");
    c->n_econ = 0;
    if (cJSON_IsArray(e)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, e) {
            if (!cJSON_IsString(it) || c->n_econ >= SL_WORLD_MAX_ECON ||
                strlen(it->valuestring) >= SL_WORLD_NAME_MAX)
                return sl_set_error(SL_ERR_FORMAT, "%s: bad econ column list in metadata", path);
            strcpy(c->econ_names[c->n_econ++], it->valuestring);
        }
    }
    c->seed = (uint64_t)sl_json_num(j, "seed", 0);
    sl_status st = sl_world_config_validate(c);
    if (st != SL_OK) return sl_set_error(SL_ERR_FORMAT, "%s: %s", path, sl_last_error());
    return SL_OK;
}
