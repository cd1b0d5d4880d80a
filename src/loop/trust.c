/* SPDX-License-Identifier: Apache-2.0 */
/* trust.c - trust_net's inputs and scoring as library calls: window files, real latents with
 * their episode ids, windows cut from episodes, scores of windows of mixed lengths and the
 * pass rates at each gate preset's floor.
 * Invariant: a non-finite window is reported as non-finite (NaN score, fin = 0), never as a
 * number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"

void sl_loop_windows_free(sl_loop_windows *w) {
    if (!w) return;
    free(w->z);
    free(w->off);
    free(w->episode);
    free(w->start);
    memset(w, 0, sizeof *w);
}

sl_status sl_loop_windows_load(const char *path, int finite_only, sl_loop_windows *w) {
    memset(w, 0, sizeof *w);
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL, *l = NULL;
    sl_status st = SL_OK;
    if (sl_npz_has(z, "windows")) {
        st = sl_npz_get(z, "windows", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 3 || a->shape[1] < 2 ||
                            a->shape[2] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows' must be f4 [N, T >= 2, D]", path);
        if (st == SL_OK) {
            w->n = a->shape[0];
            w->D = (int)a->shape[2];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            for (size_t i = 0; st == SL_OK && i <= w->n; i++) w->off[i] = i * a->shape[1];
        }
    } else if (sl_npz_has(z, "windows_flat")) {
        st = sl_npz_get(z, "windows_flat", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 2 || a->shape[1] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows_flat' must be f4 [M, D]", path);
        if (st == SL_OK) st = sl_npz_get(z, "window_lengths", &l);
        if (st == SL_OK && (l->ndim != 1 || (l->dtype != SL_DTYPE_I32 && l->dtype != SL_DTYPE_I64)))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'window_lengths' must be i4/i8 [N]", path);
        if (st == SL_OK) {
            w->n = l->shape[0];
            w->D = (int)a->shape[1];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            else w->off[0] = 0;
            for (size_t i = 0; st == SL_OK && i < w->n; i++) {
                int64_t v = l->dtype == SL_DTYPE_I32 ? ((const int32_t *)l->data)[i]
                                                     : ((const int64_t *)l->data)[i];
                if (v < 2) st = sl_set_error(SL_ERR_FORMAT, "%s: window_lengths[%zu] = %lld < 2",
                                             path, i, (long long)v);
                else w->off[i + 1] = w->off[i] + (size_t)v;
            }
            if (st == SL_OK && w->off[w->n] != a->shape[0])
                st = sl_set_error(SL_ERR_SHAPE, "%s: window_lengths sum to %zu but windows_flat has "
                                  "%zu rows", path, w->off[w->n], a->shape[0]);
        }
    } else {
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: neither 'windows' nor 'windows_flat' present", path);
    }
    if (st == SL_OK && w->n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no windows", path);
    if (st == SL_OK) {
        w->z = malloc(a->count ? a->count * sizeof(float) : 1);
        if (!w->z) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        else memcpy(w->z, a->data, a->count * sizeof(float));
        for (size_t i = 0; st == SL_OK && finite_only && i < a->count; i++)
            if (!isfinite(w->z[i]))
                st = sl_set_error(SL_ERR_NAN, "%s: window value at row %zu dim %zu is not finite",
                                  path, i / (size_t)w->D, i % (size_t)w->D);
    }
    sl_npz_close(z);
    if (st != SL_OK) sl_loop_windows_free(w);
    return st;
}

/* Real latents + episode ids (from dpath if given, else from the latents file). */
sl_status sl_loop_trust_latents_load(const char *zpath, const char *dpath, float **z, int32_t **ids,
                                      size_t *n, int *D, char sha[65]) {
    sl_dataset *ds = NULL;
    size_t expect = 0;
    sha[0] = 0;
    if (dpath) {
        SL_TRY(sl_dataset_load_npz(&ds, dpath));
        expect = ds->n;
        sl_status st = sl_sha256_file(dpath, sha);
        if (st != SL_OK) {
            sl_dataset_free(ds);
            return st;
        }
    }
    sl_status st = sl_latents_load_npz(zpath, expect, z, NULL, ids, n, D);
    if (st == SL_OK && ds) {
        free(*ids);
        *ids = malloc(ds->n * sizeof(int32_t));
        if (!*ids) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else memcpy(*ids, ds->episode_ids, ds->n * sizeof(int32_t));
    }
    if (st == SL_OK && !*ids)
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: no 'episode_ids'; pass --data D.npz", zpath);
    if (st == SL_OK && *n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no rows", zpath);
    if (st != SL_OK) {
        free(*z);
        free(*ids);
        *z = NULL;
        *ids = NULL;
    }
    sl_dataset_free(ds);
    return st;
}

sl_status sl_loop_windows_cut(const float *z, const int32_t *ids, size_t n, int D, int T, int S,
                              sl_loop_windows *w) {
    memset(w, 0, sizeof *w);
    if (T < 2 || S < 1) return sl_set_error(SL_ERR_ARG, "windows: length %d / stride %d", T, S);
    size_t cnt = 0;
    sl_status st = SL_OK;
    for (int pass = 0; st == SL_OK && pass < 2; pass++) {
        cnt = 0;
        for (size_t a = 0; a < n;) {
            size_t b = a;
            while (b < n && ids[b] == ids[a]) b++;
            for (size_t s0 = a; s0 + (size_t)T <= b; s0 += (size_t)S, cnt++)
                if (pass == 1) {
                    memcpy(w->z + cnt * (size_t)T * (size_t)D, z + s0 * (size_t)D,
                           (size_t)T * (size_t)D * sizeof(float));
                    w->off[cnt] = cnt * (size_t)T;
                    w->episode[cnt] = ids[a];
                    w->start[cnt] = (int32_t)(s0 - a);
                }
            a = b;
        }
        if (pass == 0) {
            if (!cnt) return sl_set_error(SL_ERR_ARG, "no episode has %d steps for a window", T);
            w->n = cnt;
            w->D = D;
            w->z = malloc(cnt * (size_t)T * (size_t)D * sizeof(float));
            w->off = malloc((cnt + 1) * sizeof(size_t));
            w->episode = malloc(cnt * sizeof(int32_t));
            w->start = malloc(cnt * sizeof(int32_t));
            if (!w->z || !w->off || !w->episode || !w->start)
                st = sl_set_error(SL_ERR_NOMEM, "windows: out of memory");
        } else {
            w->off[cnt] = cnt * (size_t)T;
        }
    }
    if (st != SL_OK) sl_loop_windows_free(w);
    return st;
}

sl_status sl_loop_trust_score(sl_trust_model *m, const sl_loop_windows *w, double *p,
                              uint8_t *fin) {
    if (w->D != sl_trust_model_dim(m))
        return sl_set_error(SL_ERR_SHAPE, "windows have %d dims, the model expects %d", w->D,
                            sl_trust_model_dim(m));
    /* score runs of equal length together */
    for (size_t i = 0; i < w->n;) {
        size_t len = w->off[i + 1] - w->off[i], j = i + 1;
        while (j < w->n && w->off[j + 1] - w->off[j] == len) j++;
        SL_TRY(sl_trust_score_windows(m, w->z + w->off[i] * (size_t)w->D, j - i, (int)len, w->D,
                                      p + i));
        i = j;
    }
    for (size_t i = 0; i < w->n; i++) fin[i] = !isnan(p[i]);
    return SL_OK;
}

void sl_loop_trust_pass_rates(const double *p, const uint8_t *fin, size_t n,
                              double rates[SL_GATE_PRESET_COUNT]) {
    for (int k = 0; k < SL_GATE_PRESET_COUNT; k++) {
        sl_gate g = sl_gate_from_preset((sl_gate_preset)k);
        size_t pass = 0;
        for (size_t i = 0; i < n; i++) pass += fin[i] && p[i] >= g.trust_floor;
        rates[k] = n ? (double)pass / (double)n : 0.0;
    }
}

/* --- trust train ------------------------------------------------------------------------ */

/* The training options (z_dim only when D > 0, i.e. known). */
void sl_loop_trust_config_json(cJSON *cj, const sl_trust_config *cfg, int D) {
    cJSON_AddStringToObject(cj, "arch", sl_trust_arch_name(cfg->arch));
    if (D > 0) cJSON_AddNumberToObject(cj, "z_dim", D);
    cJSON_AddNumberToObject(cj, "hidden", cfg->hidden);
    cJSON_AddNumberToObject(cj, "n_hidden", cfg->n_hidden);
    cJSON *l = cJSON_AddArrayToObject(cj, "lengths");
    for (int i = 0; l && i < cfg->n_lengths; i++)
        cJSON_AddItemToArray(l, cJSON_CreateNumber(cfg->lengths[i]));
    cJSON_AddNumberToObject(cj, "steps", cfg->steps);
    cJSON_AddNumberToObject(cj, "batch", cfg->batch);
    cJSON_AddNumberToObject(cj, "lr", (double)cfg->lr);
    cJSON_AddBoolToObject(cj, "use_noise", cfg->use_noise);
    cJSON_AddBoolToObject(cj, "use_inflate", cfg->use_inflate);
    cJSON_AddBoolToObject(cj, "use_drift", cfg->use_drift);
    cJSON_AddBoolToObject(cj, "position_features", cfg->position_features);
    cJSON_AddNumberToObject(cj, "noise_scale", cfg->noise_scale);
    cJSON_AddNumberToObject(cj, "inflate_lo", cfg->inflate_lo);
    cJSON_AddNumberToObject(cj, "inflate_hi", cfg->inflate_hi);
    cJSON_AddNumberToObject(cj, "drift_scale", cfg->drift_scale);
    cJSON_AddNumberToObject(cj, "eval_windows", cfg->eval_windows);
    cJSON_AddNumberToObject(cj, "threads", sl_nn_get_threads());
}

/* Rows of a finished `trust train`: the model (metrics = the report), the report file, the
 * report as a result, the training BCE of the first and last 10% of updates (the library
 * reports only those; steps = the end of each window) and the held-out AUC, Brier and ECE
 * (before and after calibration) at the last step. */
static sl_status record_train(sl_registry *reg, int64_t run, const char *out, const char *rp,
                              const sl_trust_config *cfg, const sl_trust_report *rep,
                              const cJSON *report) {
    if (!reg) return SL_OK;
    char *rj = cJSON_PrintUnformatted(report);
    if (!rj) return sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    char apath[4096];
    sl_status st =
        sl_registry_add_model(reg, run, "trust", sl_loop_abs_path(out, apath), 0, rj, NULL);
    if (st == SL_OK) st = sl_registry_add_result(reg, run, "trust_report", rj);
    free(rj);
    SL_TRY(st);
    SL_TRY(sl_registry_add_artifact(reg, run, "trust_report.json", sl_loop_abs_path(rp, apath)));
    int64_t last = cfg->steps, first = (cfg->steps + 9) / 10;
    int64_t steps[2] = {first, last};
    double loss[2] = {rep->train_loss_first, rep->train_loss_last};
    size_t n = first < last ? 2 : 1;
    SL_TRY(sl_registry_add_metrics(reg, run, "trust/train_loss", steps + 2 - n, loss + 2 - n, n));
    const char *names[] = {"trust/roc_auc", "trust/brier", "trust/brier_raw", "trust/ece",
                           "trust/ece_raw"};
    double vals[] = {rep->auc, rep->brier, rep->brier_raw, rep->ece, rep->ece_raw};
    for (int i = 0; i < 5; i++)
        if (isfinite(vals[i])) SL_TRY(sl_registry_add_metric(reg, run, names[i], last, vals[i]));
    return SL_OK;
}

void sl_loop_trust_train_result_free(sl_loop_trust_train_result *r) {
    if (!r) return;
    cJSON_Delete(r->json);
    free(r->report_path);
    memset(r, 0, sizeof *r);
}

typedef struct tt_inputs {
    float *z;
    int32_t *ids;
    size_t n;
    int D;
    sl_loop_windows neg;
    char dsha[65], zsha[65], nsha[65];
} tt_inputs;

static sl_status tt_load(const sl_loop_trust_train_config *c, tt_inputs *in) {
    SL_TRY(sl_loop_trust_latents_load(c->latents, c->data, &in->z, &in->ids, &in->n, &in->D,
                                      in->dsha));
    SL_TRY(sl_sha256_file(c->latents, in->zsha));
    if (!c->negatives) return SL_OK;
    SL_TRY(sl_loop_windows_load(c->negatives, 1, &in->neg));
    if (in->neg.D != in->D)
        return sl_set_error(SL_ERR_SHAPE, "%s: negative windows have %d dims, the latents %d",
                            c->negatives, in->neg.D, in->D);
    return sl_sha256_file(c->negatives, in->nsha);
}

/* The report file's content: config, inputs with their hashes, the report. */
static cJSON *tt_json(const sl_loop_trust_train_config *c, const tt_inputs *in,
                      const sl_trust_report *rep) {
    cJSON *res = cJSON_CreateObject();
    if (!res) return NULL;
    cJSON_AddStringToObject(res, "command", "trust train");
    sl_json_add_provenance(res, c->cfg.seed);
    cJSON *cj = cJSON_AddObjectToObject(res, "config");
    if (cj) sl_loop_trust_config_json(cj, &c->cfg, in->D);
    cJSON *inp = cJSON_AddObjectToObject(res, "inputs");
    cJSON_AddStringToObject(inp, "latents", c->latents);
    cJSON_AddStringToObject(inp, "latents_sha256", in->zsha);
    if (c->data) {
        cJSON_AddStringToObject(inp, "data", c->data);
        cJSON_AddStringToObject(inp, "data_sha256", in->dsha);
    }
    if (c->negatives) {
        cJSON_AddStringToObject(inp, "negatives", c->negatives);
        cJSON_AddStringToObject(inp, "negatives_sha256", in->nsha);
        cJSON_AddNumberToObject(inp, "negative_sequences", (double)in->neg.n);
    }
    cJSON_AddStringToObject(res, "output", c->output);
    sl_trust_report_to_json(cJSON_AddObjectToObject(res, "report"), rep);
    return res;
}

sl_status sl_loop_trust_train(const sl_loop_trust_train_config *c, sl_loop_ctx *ctx,
                              sl_loop_trust_train_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->latents || !c->output)
        return sl_set_error(SL_ERR_ARG, "trust train: latents and output are required");
    /* both outputs are checked and staged before any work, and published together */
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL, *st_rp = NULL;
    r->report_path = c->report ? strdup(c->report) : sl_loop_sidecar_path(c->output, ".safetensors");
    sl_status st = r->report_path ? SL_OK : sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK) st = sl_outset_add(&os, c->output, &st_out);
    if (st == SL_OK) st = sl_outset_add(&os, r->report_path, &st_rp);
    tt_inputs in;
    memset(&in, 0, sizeof in);
    sl_trust_model *m = NULL;
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    if (st == SL_OK) st = tt_load(c, &in);
    if (st == SL_OK)
        st = sl_trust_train(&m, &c->cfg, in.z, in.ids, in.n, in.D, in.neg.z, in.neg.off, in.neg.n,
                            &r->report);
    sl_loop_observe_end(&obs);
    if (st == SL_OK) st = sl_loop_report(ctx, "trust train", 1, 1, NULL, 0);
    if (st == SL_OK && !(r->json = tt_json(c, &in, &r->report)))
        st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK) {
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "version", sl_version());
        cJSON_AddStringToObject(meta, "git", sl_git_describe());
        cJSON_AddStringToObject(meta, "time", sl_json_str(r->json, "time", ""));
        cJSON_AddStringToObject(meta, "latents_sha256", in.zsha);
        st = sl_trust_save(m, st_out, meta);
        cJSON_Delete(meta);
    }
    if (st == SL_OK) st = sl_json_write_file(st_rp, r->json);
    if (st == SL_OK) st = sl_outset_commit(&os);
    sl_outset_free(&os);
    if (st == SL_OK && ctx)
        st = record_train(ctx->reg, ctx->run_id, c->output, r->report_path, &c->cfg, &r->report,
                          cJSON_GetObjectItemCaseSensitive(r->json, "report"));
    sl_trust_free(m);
    sl_loop_windows_free(&in.neg);
    free(in.z);
    free(in.ids);
    return st;
}
