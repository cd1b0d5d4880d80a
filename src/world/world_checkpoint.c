/* SPDX-License-Identifier: Apache-2.0 */
/* world_checkpoint.c - the world model's checkpoint: every member's tensors (prefix m<k>.),
 * the normalisation statistics and the optional latent sphere through the shared checkpoint
 * writer (sl_nn_ckpt), with config, dims, held-out episodes and provenance in the metadata.
 *
 * Invariant: a loaded model has finite parameters and strictly positive scales, or the load
 * failed with nothing returned.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "world/world_internal.h"

sl_status sl_world_save(const sl_world *w, const char *path, const cJSON *extra) {
    const int Z = w->Z, A = w->A, E = w->E;
    float norm_r[2] = {w->r_mean, w->r_std};
    float norm_e[3 * SL_WORLD_MAX_ECON];
    for (int i = 0; i < E; i++) {
        norm_e[i] = w->e_mean[i];
        norm_e[E + i] = w->e_std[i];
        norm_e[2 * E + i] = (float)w->e_binary[i];
    }
    cJSON *cfg = sl_world_config_json(&w->cfg);
    cJSON *prov = cJSON_CreateObject();
    cJSON *ho = cJSON_CreateArray();
    char *cs = NULL, *hs = NULL, *ps = NULL;
    sl_nn_ckpt *c = NULL;
    sl_status st = SL_OK;
    if (!cfg || !prov || !ho) st = sl_set_error(SL_ERR_NOMEM, "world save: out of memory");
    if (st == SL_OK) {
        for (size_t i = 0; i < w->n_holdout; i++)
            cJSON_AddItemToArray(ho, cJSON_CreateNumber((double)w->holdout[i]));
        sl_json_add_provenance(prov, w->cfg.seed);
        cs = cJSON_PrintUnformatted(cfg);
        hs = cJSON_PrintUnformatted(ho);
        ps = cJSON_PrintUnformatted(prov);
        if (!cs || !hs || !ps) st = sl_set_error(SL_ERR_NOMEM, "world save: out of memory");
    }
    if (st == SL_OK) st = sl_nn_ckpt_new(&c);
    if (st == SL_OK) {
        for (int m = 0; m < w->M; m++) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "m%d.", m);
            sl_nn_ckpt_put_arena(c, &w->arenas[m], prefix);
        }
        sl_nn_ckpt_put_vec_f32(c, "norm.z_mean", (size_t)Z, w->z_mean);
        sl_nn_ckpt_put_vec_f32(c, "norm.z_std", (size_t)Z, w->z_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.dz_std", (size_t)Z, w->dz_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.a_mean", (size_t)A, w->a_mean);
        sl_nn_ckpt_put_vec_f32(c, "norm.a_std", (size_t)A, w->a_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.r", 2, norm_r);
        if (E) sl_nn_ckpt_put_vec_f32(c, "norm.econ", (size_t)(3 * E), norm_e);
        if (w->sphere) {
            sl_nn_ckpt_put_vec_f32(c, "sphere.mean", (size_t)Z, w->sphere);
            sl_nn_ckpt_put_vec_f32(c, "sphere.std", (size_t)Z, w->sphere + Z);
        }
        char dims[96];
        snprintf(dims, sizeof dims, "{\"z_dim\":%d,\"a_dim\":%d,\"data_episodes\":%zu}", Z, A,
                 w->data_episodes);
        /* ours first; the caller's keys only where they do not clash */
        sl_nn_ckpt_set_meta(c, "synthloop_kind", "world_model");
        sl_nn_ckpt_set_meta(c, "config", cs);
        sl_nn_ckpt_set_meta(c, "holdout_episodes", hs);
        sl_nn_ckpt_set_meta(c, "provenance", ps);
        sl_nn_ckpt_set_meta(c, "dims", dims);
        sl_nn_ckpt_add_meta_json(c, extra);
        st = sl_nn_ckpt_write(c, path);
    }
    sl_nn_ckpt_free(c);
    free(cs);
    free(hs);
    free(ps);
    cJSON_Delete(cfg);
    cJSON_Delete(prov);
    cJSON_Delete(ho);
    return st;
}

sl_status sl_world_load(sl_world **out, const char *path) {
    *out = NULL;
    sl_nn_ckpt *st;
    SL_TRY(sl_nn_ckpt_read(&st, path, "synthloop_kind", "world_model", "synthloop world model"));
    sl_status s = SL_OK;
    sl_world *w = NULL;
    cJSON *cj = NULL, *dj = NULL, *hj = NULL;
    const char *hos = sl_nn_ckpt_meta(st, "holdout_episodes");
    if ((s = sl_nn_ckpt_meta_json(st, "config", &cj)) != SL_OK ||
        (s = sl_nn_ckpt_meta_json(st, "dims", &dj)) != SL_OK)
        goto done;
    sl_world_config cfg;
    if ((s = sl_world_config_from_json(&cfg, cj, path)) != SL_OK) goto done;
    int Z = sl_json_int(dj, "z_dim", 0), A = sl_json_int(dj, "a_dim", 0);
    if ((s = sl_world_alloc(&w, &cfg, Z, A)) != SL_OK) {
        s = sl_set_error(SL_ERR_FORMAT, "%s: %s", path, sl_last_error());
        goto done;
    }
    w->data_episodes = (size_t)sl_json_num(dj, "data_episodes", 0);
    for (int m = 0; m < w->M && s == SL_OK; m++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d.", m);
        s = sl_nn_ckpt_get_arena(st, &w->arenas[m], prefix);
    }
    if (s != SL_OK) goto done;
    float nr[2], ne[3 * SL_WORLD_MAX_ECON];
    if ((s = sl_nn_ckpt_get_vec_f32(st, "norm.z_mean", (size_t)Z, w->z_mean)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.z_std", (size_t)Z, w->z_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.dz_std", (size_t)Z, w->dz_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.a_mean", (size_t)A, w->a_mean)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.a_std", (size_t)A, w->a_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.r", 2, nr)) != SL_OK)
        goto done;
    if (w->E && (s = sl_nn_ckpt_get_vec_f32(st, "norm.econ", (size_t)(3 * w->E), ne)) != SL_OK)
        goto done;
    if (sl_nn_ckpt_has(st, "sphere.mean")) { /* optional: models with a latent sphere */
        float *sp = malloc((size_t)2 * Z * sizeof(float));
        if (!sp) {
            s = sl_set_error(SL_ERR_NOMEM, "world load: out of memory");
            goto done;
        }
        if ((s = sl_nn_ckpt_get_vec_f32(st, "sphere.mean", (size_t)Z, sp)) != SL_OK ||
            (s = sl_nn_ckpt_get_vec_f32(st, "sphere.std", (size_t)Z, sp + Z)) != SL_OK ||
            (s = sl_world_set_sphere(w, sp, sp + Z)) != SL_OK) {
            free(sp);
            goto done;
        }
        free(sp);
    }
    w->r_mean = nr[0];
    w->r_std = nr[1];
    for (int i = 0; i < w->E; i++) {
        w->e_mean[i] = ne[i];
        w->e_std[i] = ne[w->E + i];
        w->e_binary[i] = ne[2 * w->E + i] > 0.5f;
    }
    for (int i = 0; i < Z; i++)
        if (!(w->z_std[i] > 0) || !(w->dz_std[i] > 0)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: non-positive latent scale at dim %d", path, i);
            goto done;
        }
    for (int i = 0; i < A; i++)
        if (!(w->a_std[i] > 0)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: non-positive action scale at dim %d", path, i);
            goto done;
        }
    if (hos) {
        hj = cJSON_Parse(hos);
        if (!cJSON_IsArray(hj)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: metadata holdout_episodes is not a list", path);
            goto done;
        }
        int nh = cJSON_GetArraySize(hj);
        w->holdout = calloc((size_t)nh + 1, sizeof(size_t));
        if (!w->holdout) {
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, hj) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0) {
                s = sl_set_error(SL_ERR_FORMAT, "%s: bad held-out episode index", path);
                goto done;
            }
            w->holdout[w->n_holdout++] = (size_t)it->valuedouble;
        }
    }
done:
    cJSON_Delete(cj);
    cJSON_Delete(dj);
    cJSON_Delete(hj);
    sl_nn_ckpt_free(st);
    if (s != SL_OK) {
        sl_world_free(w);
        return s;
    }
    *out = w;
    return SL_OK;
}
