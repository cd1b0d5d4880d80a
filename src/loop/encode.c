/* SPDX-License-Identifier: Apache-2.0 */
/* encode.c - the encode job: train the contrastive encoder (or apply a saved one) and write
 * the latents, their sidecar and the checkpoint.
 * Invariant: the three outputs are published together or not at all (every path checked
 * before training); Z.npz rows are aligned with the dataset's rows; the sidecar holds the
 * provenance, config and statistics of exactly the latents written. */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_nn.h"

void sl_loop_encode_result_free(sl_loop_encode_result *r) {
    if (!r) return;
    cJSON_Delete(r->json);
    free(r->sidecar);
    memset(r, 0, sizeof *r);
}

static void config_json(cJSON *j, const sl_latent_config *c, int obs_dim) {
    cJSON *o = cJSON_AddObjectToObject(j, "config");
    if (!o) return;
    cJSON_AddNumberToObject(o, "obs_dim", obs_dim);
    cJSON_AddNumberToObject(o, "z_dim", c->z_dim);
    cJSON_AddNumberToObject(o, "hidden", c->hidden);
    cJSON_AddNumberToObject(o, "n_hidden", c->n_hidden);
    cJSON_AddNumberToObject(o, "k", c->k);
    cJSON_AddNumberToObject(o, "epochs", c->epochs);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "lr", (double)c->lr);
    cJSON_AddNumberToObject(o, "temperature", (double)c->temperature);
    cJSON_AddNumberToObject(o, "val_frac", c->val_frac);
    cJSON_AddNumberToObject(o, "recon_weight", (double)c->recon_weight);
    cJSON_AddNumberToObject(o, "threads", sl_nn_get_threads());
}

static void training_json(cJSON *res, const sl_latent_config *cfg,
                          const sl_latent_train_report *rep) {
    cJSON *t = cJSON_AddObjectToObject(res, "training");
    cJSON_AddNumberToObject(t, "epochs", rep->epochs);
    cJSON_AddNumberToObject(t, "steps", rep->steps);
    cJSON_AddNumberToObject(t, "train_episodes", (double)rep->n_train_episodes);
    cJSON_AddNumberToObject(t, "val_episodes", (double)rep->n_val_episodes);
    cJSON_AddNumberToObject(t, "loss_first_epoch", rep->loss_first_epoch);
    cJSON_AddNumberToObject(t, "loss_last_epoch", rep->loss_last_epoch);
    if (cfg->recon_weight > 0.0f) {
        cJSON_AddNumberToObject(t, "recon_mse_first_epoch", rep->recon_first_epoch);
        cJSON_AddNumberToObject(t, "recon_mse_last_epoch", rep->recon_last_epoch);
        if (rep->n_val_episodes >= 1) cJSON_AddNumberToObject(t, "val_recon_mse", rep->val_recon_mse);
    }
    if (rep->n_val_episodes >= 2) {
        cJSON_AddNumberToObject(t, "val_loss", rep->val_loss);
        cJSON_AddNumberToObject(t, "val_retrieval_accuracy", rep->val_retrieval);
        cJSON_AddNumberToObject(t, "val_retrieval_chance", rep->val_chance);
    }
    cJSON_AddNumberToObject(t, "seconds", rep->seconds);
}

/* Rows of a finished encode: the latents, the sidecar, the trained encoder (with its training
 * metrics) and the InfoNCE loss of the first and last epoch, plus the held-out loss and
 * retrieval accuracy. */
static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_loop_encode_config *c,
                                const sl_loop_encode_result *r) {
    if (!reg) return SL_OK;
    char apath[4096];
    const sl_latent_train_report *rep = &r->rep;
    SL_TRY(sl_registry_add_dataset(reg, run, sl_loop_abs_path(c->output, apath), "latents",
                                   (int64_t)r->n, (int64_t)r->n_episodes, NULL));
    SL_TRY(sl_registry_add_artifact(reg, run, "latents.json", sl_loop_abs_path(r->sidecar, apath)));
    if (c->apply) return SL_OK;
    if (c->checkpoint) {
        const cJSON *training = cJSON_GetObjectItemCaseSensitive(r->json, "training");
        char *m = training ? cJSON_PrintUnformatted(training) : NULL;
        sl_status s = sl_registry_add_model(reg, run, "encoder",
                                            sl_loop_abs_path(c->checkpoint, apath), 0, m, NULL);
        free(m);
        SL_TRY(s);
    }
    if (rep->epochs >= 1) {
        int64_t steps[2] = {1, rep->epochs};
        double loss[2] = {rep->loss_first_epoch, rep->loss_last_epoch};
        size_t n = rep->epochs > 1 ? 2 : 1;
        SL_TRY(sl_registry_add_metrics(reg, run, "encode/infonce_loss", steps + 2 - n,
                                       loss + 2 - n, n));
    }
    if (rep->n_val_episodes >= 2) {
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_loss", rep->epochs, rep->val_loss));
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_retrieval", rep->epochs,
                                      rep->val_retrieval));
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_retrieval_chance", rep->epochs,
                                      rep->val_chance));
    }
    if (rep->n_val_episodes >= 1 && rep->recon_last_epoch > 0.0)
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_recon_mse", rep->epochs,
                                      rep->val_recon_mse));
    return SL_OK;
}

/* The sidecar's content. */
static cJSON *result_json(const sl_loop_encode_config *c, const sl_loop_encode_result *r,
                          const char *sha) {
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "command", "encode");
    cJSON_AddStringToObject(res, "mode", c->apply ? "apply" : "train");
    sl_json_add_provenance(res, r->latent.seed);
    config_json(res, &r->latent, r->obs_dim);
    cJSON *d = cJSON_AddObjectToObject(res, "data");
    cJSON_AddStringToObject(d, "path", c->data);
    cJSON_AddStringToObject(d, "sha256", sha);
    cJSON_AddNumberToObject(d, "n", (double)r->n);
    cJSON_AddNumberToObject(d, "n_episodes", (double)r->n_episodes);
    cJSON_AddStringToObject(res, "output", c->output);
    if (c->checkpoint) cJSON_AddStringToObject(res, "checkpoint", c->checkpoint);
    else cJSON_AddNullToObject(res, "checkpoint");
    if (!c->apply) training_json(res, &r->latent, &r->rep);
    sl_latent_stats_to_json(res, "latent_stats", &r->stats);
    return res;
}

/* Encode the dataset and write the latents and, when training with a checkpoint, the encoder
 * to their staged paths. */
static sl_status write_outputs(const sl_loop_encode_config *c, sl_latent_encoder *enc,
                               const sl_dataset *ds, sl_loop_encode_result *r, const char *sha,
                               const char *st_out, const char *st_ckpt) {
    size_t cnt = ds->n * (size_t)r->latent.z_dim;
    float *z = malloc(cnt ? cnt * sizeof(float) : 1), *nz = malloc(cnt ? cnt * sizeof(float) : 1);
    sl_status st = z && nz ? SL_OK : sl_set_error(SL_ERR_NOMEM, "encode: out of memory");
    if (st == SL_OK) {
        st = sl_latent_encode_dataset(enc, ds, z, nz);
        if (st != SL_OK) st = sl_set_error(st, "%s: %s", c->data, sl_last_error());
    }
    if (st == SL_OK) st = sl_latent_compute_stats(z, ds->episode_ids, ds->n, r->latent.z_dim, &r->stats);
    if (st == SL_OK) st = sl_latents_save_npz(st_out, z, nz, ds->episode_ids, ds->n, r->latent.z_dim);
    if (st == SL_OK && st_ckpt) {
        cJSON *meta = cJSON_CreateObject();
        char ts[32];
        sl_utc_iso8601(ts, sizeof ts);
        cJSON_AddStringToObject(meta, "version", sl_version());
        cJSON_AddStringToObject(meta, "git", sl_git_describe());
        cJSON_AddStringToObject(meta, "time", ts);
        cJSON_AddStringToObject(meta, "data_sha256", sha);
        st = sl_latent_save(enc, st_ckpt, meta);
        cJSON_Delete(meta);
    }
    free(z);
    free(nz);
    return st;
}

sl_status sl_loop_encode(const sl_loop_encode_config *c, sl_loop_ctx *ctx,
                         sl_loop_encode_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->data || !c->output) return sl_set_error(SL_ERR_ARG, "encode: data and output are required");
    if (c->apply && !c->checkpoint) return sl_set_error(SL_ERR_ARG, "encode: apply needs a checkpoint");
    r->latent = c->latent;
    /* every output is checked (and staged) before any work */
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL, *st_side = NULL, *st_ckpt = NULL;
    r->sidecar = sl_loop_sidecar_path(c->output, ".npz");
    sl_status st = r->sidecar ? SL_OK : sl_set_error(SL_ERR_NOMEM, "encode: out of memory");
    if (st == SL_OK) st = sl_outset_add(&os, c->output, &st_out);
    if (st == SL_OK) st = sl_outset_add(&os, r->sidecar, &st_side);
    if (st == SL_OK && !c->apply && c->checkpoint) st = sl_outset_add(&os, c->checkpoint, &st_ckpt);
    sl_dataset *ds = NULL;
    sl_latent_encoder *enc = NULL;
    char sha[65] = "";
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    if (st == SL_OK) st = sl_loop_report(ctx, "encode", 0, 3, NULL, 0);
    if (st == SL_OK) st = sl_dataset_load_npz(&ds, c->data);
    if (st == SL_OK) st = sl_sha256_file(c->data, sha);
    if (st == SL_OK) {
        if (c->apply) {
            st = sl_latent_load(&enc, c->checkpoint);
        } else {
            st = sl_latent_train(&enc, ds, &c->latent, &r->rep);
            if (st != SL_OK) st = sl_set_error(st, "%s: %s", c->data, sl_last_error());
        }
    }
    if (st == SL_OK) st = sl_loop_report(ctx, "encode", 1, 3, NULL, 0);
    if (st == SL_OK) {
        r->latent = sl_latent_get_config(enc);
        r->n = ds->n;
        r->n_episodes = ds->n_episodes;
        r->obs_dim = ds->obs_dim;
        st = write_outputs(c, enc, ds, r, sha, st_out, st_ckpt);
    }
    if (st == SL_OK) {
        r->json = result_json(c, r, sha);
        st = r->json ? sl_json_write_file(st_side, r->json)
                     : sl_set_error(SL_ERR_NOMEM, "encode: out of memory");
    }
    if (st == SL_OK) st = sl_loop_report(ctx, "encode", 2, 3, NULL, 0);
    if (st == SL_OK) st = sl_outset_commit(&os);
    sl_outset_free(&os);
    if (st == SL_OK && ctx) st = record_outputs(ctx->reg, ctx->run_id, c, r);
    if (st == SL_OK) st = sl_loop_report(ctx, "encode", 3, 3, NULL, 0);
    sl_loop_observe_end(&obs);
    sl_latent_free(enc);
    sl_dataset_free(ds);
    return st;
}
