/* SPDX-License-Identifier: Apache-2.0 */
/* world.c - the world-train job: the latent world model trained on a dataset's latents and
 * written as a checkpoint with its sidecar.
 * Invariant: both files or neither; the output paths are checked before the (long) training,
 * and the training's progress and metrics reach ctx as it runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_nn.h"

void sl_loop_world_train_result_free(sl_loop_world_train_result *r) {
    if (!r) return;
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static cJSON *train_json(const sl_loop_world_train_config *c, const sl_world *w,
                         const sl_world_train_report *rep) {
    cJSON *res = cJSON_CreateObject();
    if (!res) return NULL;
    cJSON_AddStringToObject(res, "command", "world train");
    cJSON_AddStringToObject(res, "data", c->data);
    cJSON_AddStringToObject(res, "latents", c->latents);
    cJSON_AddStringToObject(res, "output", c->output);
    cJSON_AddItemToObject(res, "config", sl_world_config_json(sl_world_get_config(w)));
    cJSON *r = cJSON_AddObjectToObject(res, "report");
    cJSON_AddNumberToObject(r, "iters", rep->iters);
    cJSON_AddNumberToObject(r, "best_iter", rep->best_iter);
    cJSON_AddNumberToObject(r, "train_loss", rep->train_loss);
    cJSON_AddNumberToObject(r, "best_val", rep->best_val);
    cJSON_AddBoolToObject(r, "stopped_early", rep->stopped_early);
    cJSON_AddNumberToObject(r, "seconds", rep->seconds);
    cJSON_AddNumberToObject(r, "threads", sl_nn_get_threads());
    size_t nh;
    const size_t *h = sl_world_holdout(w, &nh);
    cJSON *ha = cJSON_AddArrayToObject(res, "holdout_episodes");
    for (size_t i = 0; i < nh; i++) cJSON_AddItemToArray(ha, cJSON_CreateNumber((double)h[i]));
    sl_json_add_provenance(res, c->world.seed);
    return res;
}

static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_loop_world_train_config *c,
                                const sl_loop_world_train_result *r, const char *sidecar) {
    if (!reg) return SL_OK;
    char apath[4096];
    const sl_world_train_report *rep = &r->report;
    char *rj = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r->json, "report"));
    if (!rj) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    sl_status st = sl_registry_add_model(reg, run, "world", sl_loop_abs_path(c->output, apath), 0,
                                         rj, NULL);
    free(rj);
    SL_TRY(st);
    SL_TRY(sl_registry_add_metric(reg, run, "world/train_loss", rep->iters, rep->train_loss));
    if (isfinite(rep->best_val))
        SL_TRY(sl_registry_add_metric(reg, run, "world/best_val", rep->best_iter, rep->best_val));
    return sl_registry_add_artifact(reg, run, "world_train.json", sl_loop_abs_path(sidecar, apath));
}

sl_status sl_loop_world_train(const sl_loop_world_train_config *c, sl_loop_ctx *ctx,
                              sl_loop_world_train_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->data || !c->latents || !c->output)
        return sl_set_error(SL_ERR_ARG, "world train: data, latents and output are required");
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL, *st_sc = NULL;
    char *sc = sl_loop_sidecar_path(c->output, NULL);
    sl_status st = sc ? SL_OK : sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    if (st == SL_OK) st = sl_outset_add(&os, c->output, &st_out);
    if (st == SL_OK) st = sl_outset_add(&os, sc, &st_sc);
    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL;
    sl_world_data d;
    memset(&d, 0, sizeof d);
    sl_world *w = NULL;
    size_t n;
    int zd;
    if (st == SL_OK) st = sl_dataset_load_npz(&ds, c->data);
    if (st == SL_OK) st = sl_world_load_latents(c->latents, ds, &z, &zn, &n, &zd);
    if (st == SL_OK)
        st = sl_world_data_init(&d, ds, z, zn, zd, (const char(*)[SL_WORLD_NAME_MAX])c->world.econ_names,
                                c->world.n_econ);
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    if (st == SL_OK) st = sl_world_train(&w, &d, &c->world, &r->report);
    sl_loop_observe_end(&obs);
    if (st == SL_OK) st = sl_loop_report(ctx, "world train", 1, 1, NULL, 0);
    if (st == SL_OK) st = sl_loop_attach_sphere(w, c->encoder);
    if (st == SL_OK && !(r->json = train_json(c, w, &r->report)))
        st = sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    if (st == SL_OK) {
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddStringToObject(extra, "data", c->data);
        cJSON_AddStringToObject(extra, "latents", c->latents);
        st = sl_world_save(w, st_out, extra);
        cJSON_Delete(extra);
    }
    if (st == SL_OK) st = sl_json_write_file(st_sc, r->json);
    if (st == SL_OK) st = sl_outset_commit(&os);
    sl_outset_free(&os);
    if (st == SL_OK && ctx) st = record_outputs(ctx->reg, ctx->run_id, c, r, sc);
    free(sc);
    sl_world_free(w);
    sl_world_data_clear(&d);
    sl_dataset_free(ds);
    free(z);
    free(zn);
    return st;
}
