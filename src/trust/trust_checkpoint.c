/* SPDX-License-Identifier: Apache-2.0 */
/* trust_checkpoint.c - trust_net's checkpoint: the network's tensors, its input statistics and
 * Platt (a, b) through the shared checkpoint writer (sl_nn_ckpt, src/nn/checkpoint.c), with the
 * configuration as JSON in the metadata.
 *
 * Invariant: a loaded model is usable as it is: kind, configuration, every tensor's shape and
 * finiteness and every scale's sign were checked, or the load failed with nothing returned.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "trust/trust_internal.h"

static cJSON *config_json(const sl_trust_model *m) {
    const sl_trust_config *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "format_version", 1);
    cJSON_AddStringToObject(j, "arch", sl_trust_arch_name(c->arch));
    cJSON_AddNumberToObject(j, "z_dim", m->D);
    cJSON_AddNumberToObject(j, "n_features", m->F);
    cJSON_AddStringToObject(j, "features",
                            "per dim: mean, std, min, max, var, smoothness, change; then log(T)");
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddNumberToObject(j, "n_hidden", c->n_hidden);
    cJSON *l = cJSON_AddArrayToObject(j, "lengths");
    for (int i = 0; l && i < c->n_lengths; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber(c->lengths[i]));
    cJSON_AddNumberToObject(j, "steps", c->steps);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", (double)c->lr);
    cJSON_AddNumberToObject(j, "calib_frac", c->calib_frac);
    cJSON_AddNumberToObject(j, "test_frac", c->test_frac);
    cJSON_AddBoolToObject(j, "use_noise", c->use_noise);
    cJSON_AddBoolToObject(j, "use_inflate", c->use_inflate);
    cJSON_AddBoolToObject(j, "use_drift", c->use_drift);
    cJSON_AddBoolToObject(j, "position_features", c->position_features);
    cJSON_AddNumberToObject(j, "noise_scale", c->noise_scale);
    cJSON_AddNumberToObject(j, "inflate_lo", c->inflate_lo);
    cJSON_AddNumberToObject(j, "inflate_hi", c->inflate_hi);
    cJSON_AddNumberToObject(j, "drift_scale", c->drift_scale);
    cJSON_AddNumberToObject(j, "eval_windows", c->eval_windows);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON *cal = cJSON_AddObjectToObject(j, "calibration");
    if (cal) {
        cJSON_AddStringToObject(cal, "method", "platt: p = sigmoid(a * logit + b)");
        cJSON_AddNumberToObject(cal, "a", m->platt[0]);
        cJSON_AddNumberToObject(cal, "b", m->platt[1]);
    }
    cJSON_AddNumberToObject(j, "feature_clamp", SL_TRUST_FEAT_CLAMP);
    return j;
}

sl_status sl_trust_save(const sl_trust_model *m, const char *path, const cJSON *extra_meta) {
    if (!m || !path) return sl_set_error(SL_ERR_ARG, "trust save: NULL argument");
    cJSON *cfg = config_json(m);
    char *cfg_txt = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    if (!cfg_txt) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    sl_nn_ckpt *c = NULL;
    sl_status st = sl_nn_ckpt_new(&c);
    if (st == SL_OK) {
        sl_nn_ckpt_put_arena(c, &m->arena, "");
        if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
            sl_nn_ckpt_put_vec_f32(c, "feat_mean", (size_t)m->F, m->feat_mean);
            sl_nn_ckpt_put_vec_f32(c, "feat_std", (size_t)m->F, m->feat_std);
        } else {
            sl_nn_ckpt_put_vec_f32(c, "z_mean", (size_t)m->D, m->z_mean);
            sl_nn_ckpt_put_vec_f32(c, "z_std", (size_t)m->D, m->z_std);
            sl_nn_ckpt_put_vec_f32(c, "dz_std", (size_t)m->D, m->dz_std);
        }
        sl_nn_ckpt_put_vec_f64(c, "platt", 2, m->platt);
        /* the caller's keys first, then ours (which replace any of the same name) */
        sl_nn_ckpt_add_meta_json(c, extra_meta);
        sl_nn_ckpt_set_meta(c, "synthloop_kind", TRUST_KIND);
        sl_nn_ckpt_set_meta(c, "config", cfg_txt);
        st = sl_nn_ckpt_write(c, path);
    }
    sl_nn_ckpt_free(c);
    free(cfg_txt);
    return st;
}

sl_status sl_trust_load(sl_trust_model **out, const char *path) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "trust load: NULL argument");
    *out = NULL;
    sl_nn_ckpt *ck = NULL;
    SL_TRY(sl_nn_ckpt_read(&ck, path, "synthloop_kind", TRUST_KIND, "trust_net"));
    cJSON *c = NULL;
    sl_status st = sl_nn_ckpt_meta_json(ck, "config", &c);
    sl_trust_model *m = NULL;
    if (st == SL_OK) {
        sl_trust_config cfg = sl_trust_config_default();
        st = sl_trust_arch_parse(sl_json_str(c, "arch", ""), &cfg.arch);
        cfg.hidden = sl_json_int(c, "hidden", -1);
        cfg.n_hidden = sl_json_int(c, "n_hidden", cfg.n_hidden);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(c, "lengths");
        if (cJSON_IsArray(l)) {
            int k = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, l) {
                if (k < SL_TRUST_MAX_LENGTHS && cJSON_IsNumber(it)) cfg.lengths[k] = it->valueint;
                k++;
            }
            cfg.n_lengths = k;
        }
        cfg.steps = sl_json_int(c, "steps", cfg.steps);
        cfg.batch = sl_json_int(c, "batch", cfg.batch);
        cfg.lr = (float)sl_json_num(c, "lr", (double)cfg.lr);
        cfg.calib_frac = sl_json_num(c, "calib_frac", cfg.calib_frac);
        cfg.test_frac = sl_json_num(c, "test_frac", cfg.test_frac);
        cfg.use_noise = sl_json_bool(c, "use_noise", cfg.use_noise);
        cfg.use_inflate = sl_json_bool(c, "use_inflate", cfg.use_inflate);
        cfg.use_drift = sl_json_bool(c, "use_drift", cfg.use_drift);
        cfg.position_features = sl_json_bool(c, "position_features", 1);
        cfg.noise_scale = sl_json_num(c, "noise_scale", cfg.noise_scale);
        cfg.inflate_lo = sl_json_num(c, "inflate_lo", cfg.inflate_lo);
        cfg.inflate_hi = sl_json_num(c, "inflate_hi", cfg.inflate_hi);
        cfg.drift_scale = sl_json_num(c, "drift_scale", cfg.drift_scale);
        cfg.eval_windows = sl_json_int(c, "eval_windows", cfg.eval_windows);
        cfg.seed = strtoull(sl_json_str(c, "seed", "0"), NULL, 10);
        if (st == SL_OK) st = sl_tr_model_create(&m, &cfg, sl_json_int(c, "z_dim", -1));
        if (st != SL_OK) st = sl_set_error(st, "%s: bad config: %s", path, sl_last_error());
    }
    if (st == SL_OK) st = sl_nn_ckpt_get_arena(ck, &m->arena, "");
    if (st == SL_OK && m->cfg.arch == SL_TRUST_ARCH_MLP) {
        size_t F = (size_t)m->F;
        st = sl_nn_ckpt_get_vec_f32(ck, "feat_mean", F, m->feat_mean);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "feat_std", F, m->feat_std);
        for (size_t j = 0; st == SL_OK && j < F; j++)
            if (!(m->feat_std[j] > 0.0f))
                st = sl_set_error(SL_ERR_FORMAT, "%s: feat_std[%zu] is not positive", path, j);
    } else if (st == SL_OK) {
        size_t D = (size_t)m->D;
        st = sl_nn_ckpt_get_vec_f32(ck, "z_mean", D, m->z_mean);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "z_std", D, m->z_std);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "dz_std", D, m->dz_std);
        for (size_t j = 0; st == SL_OK && j < D; j++)
            if (!(m->z_std[j] > 0.0f) || !(m->dz_std[j] > 0.0f))
                st = sl_set_error(SL_ERR_FORMAT, "%s: z_std/dz_std[%zu] is not positive", path, j);
    }
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f64(ck, "platt", 2, m->platt);
    cJSON_Delete(c);
    sl_nn_ckpt_free(ck);
    if (st != SL_OK) {
        sl_trust_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}
