/* SPDX-License-Identifier: Apache-2.0 */
/* world.c - the world model's structure: parameters of the ensemble members, normalisation
 * buffers, the latent sphere, accessors, and the batched step of one member.
 * (Configuration: world_config.c; data binding: world_data.c; rollouts: rollout.c;
 * checkpoint: world_checkpoint.c; training: train.c, train_step.c, norms.c.)
 *
 * Invariant: every member's arena is declared identically, so the layer descriptors (offsets)
 * in struct sl_world are valid for all of them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/world_internal.h"

/* --- model structure -------------------------------------------------------- */

static sl_status declare_member(sl_world *w, sl_nn_arena *a) {
    sl_nn_arena_init(a);
    SL_TRY(sl_nn_gru_declare(&w->gru, a, "gru", w->In, w->H));
    SL_TRY(sl_nn_linear_declare(&w->head, a, "head", w->H, w->O));
    size_t zs[1] = {(size_t)w->Z};
    SL_TRY(sl_nn_arena_add(a, "noise_logstd", 1, zs, &w->noise_ls));
    if (w->cfg.hetero_noise)
        SL_TRY(sl_nn_linear_declare(&w->noise_head, a, "noise_head", w->H, w->Z));
    return sl_nn_arena_alloc(a);
}

sl_status sl_world_alloc(sl_world **out, const sl_world_config *cfg, int Z, int A) {
    *out = NULL;
    SL_TRY(sl_world_config_validate(cfg));
    if (Z < 2 || Z > SL_WORLD_SIGMA_MAX || A < 1)
        return sl_set_error(SL_ERR_ARG, "world: latent dim %d (2..%d) / action dim %d (>= 1)", Z,
                            SL_WORLD_SIGMA_MAX, A);
    sl_world *w = calloc(1, sizeof *w);
    if (!w) return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    w->cfg = *cfg;
    w->Z = Z;
    w->A = A;
    w->E = cfg->n_econ;
    w->H = cfg->hidden;
    w->M = cfg->members;
    w->In = Z + A;
    w->O = Z + 1 + w->E;
    w->arenas = calloc((size_t)w->M, sizeof *w->arenas);
    w->z_mean = calloc((size_t)(3 * Z + 2 * A), sizeof(float));
    if (!w->arenas || !w->z_mean) {
        sl_world_free(w);
        return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    }
    w->z_std = w->z_mean + Z;
    w->dz_std = w->z_std + Z;
    w->a_mean = w->dz_std + Z;
    w->a_std = w->a_mean + A;
    for (int i = 0; i < Z; i++) w->z_std[i] = w->dz_std[i] = 1.0f;
    for (int i = 0; i < A; i++) w->a_std[i] = 1.0f;
    w->r_std = 1.0f;
    for (int i = 0; i < w->E; i++) w->e_std[i] = 1.0f;
    for (int m = 0; m < w->M; m++) {
        sl_status st = declare_member(w, &w->arenas[m]);
        if (st != SL_OK) {
            sl_world_free(w);
            return st;
        }
        sl_rng rng;
        sl_rng_seed(&rng, cfg->seed, 1000 + (uint64_t)m);
        sl_nn_gru_init(&w->gru, w->arenas[m].params, &rng);
        sl_nn_linear_init(&w->head, w->arenas[m].params, &rng);
        /* Start the residual head near zero: an untrained model predicts "no change". */
        float *hw = w->arenas[m].params + w->head.w;
        for (size_t i = 0; i < (size_t)w->O * w->H; i++) hw[i] *= 0.1f;
        memset(w->arenas[m].params + w->head.b, 0, (size_t)w->O * sizeof(float));
        /* sigma starts at 0.1 residual stds (or ~0 for a deterministic model) */
        for (int j = 0; j < Z; j++)
            w->arenas[m].params[w->noise_ls + j] = cfg->learn_noise ? logf(0.1f) : -30.0f;
        /* the state-dependent part starts at 0: sigma(h) = sigma */
        if (cfg->hetero_noise) {
            memset(w->arenas[m].params + w->noise_head.w, 0, (size_t)w->Z * w->H * sizeof(float));
            memset(w->arenas[m].params + w->noise_head.b, 0, (size_t)w->Z * sizeof(float));
        }
    }
    *out = w;
    return SL_OK;
}

void sl_world_free(sl_world *w) {
    if (!w) return;
    if (w->arenas)
        for (int m = 0; m < w->M; m++) sl_nn_arena_free(&w->arenas[m]);
    free(w->arenas);
    free(w->z_mean);
    free(w->holdout);
    free(w->sphere);
    free(w);
}

sl_status sl_world_set_sphere(sl_world *w, const float *mean, const float *std) {
    if (!mean) {
        free(w->sphere);
        w->sphere = NULL;
        return SL_OK;
    }
    for (int i = 0; i < w->Z; i++)
        if (!isfinite(mean[i]) || !(std[i] > 0.0f) || !isfinite(std[i]))
            return sl_set_error(SL_ERR_ARG, "world: sphere mean/std not finite or std <= 0 at "
                                "dim %d", i);
    float *s = w->sphere ? w->sphere : malloc((size_t)2 * w->Z * sizeof(float));
    if (!s) return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    memcpy(s, mean, (size_t)w->Z * sizeof(float));
    memcpy(s + w->Z, std, (size_t)w->Z * sizeof(float));
    w->sphere = s;
    return SL_OK;
}

int sl_world_has_sphere(const sl_world *w) { return w->sphere != NULL; }

const sl_world_config *sl_world_get_config(const sl_world *w) { return &w->cfg; }
int sl_world_z_dim(const sl_world *w) { return w->Z; }
const size_t *sl_world_holdout(const sl_world *w, size_t *n) {
    *n = w->n_holdout;
    return w->holdout;
}

sl_status sl_world_check_data(const sl_world *w, const sl_world_data *d) {
    if (d->z_dim != w->Z)
        return sl_set_error(SL_ERR_SHAPE, "world: model has latent dim %d, data has %d", w->Z,
                            d->z_dim);
    if (d->a_dim != w->A)
        return sl_set_error(SL_ERR_SHAPE, "world: model has action dim %d, data has %d", w->A,
                            d->a_dim);
    if (d->n_econ != w->E)
        return sl_set_error(SL_ERR_SHAPE, "world: model predicts %d econ columns, data has %d",
                            w->E, d->n_econ);
    for (int i = 0; i < w->E; i++)
        if (strcmp(d->econ_names[i], w->cfg.econ_names[i]) != 0)
            return sl_set_error(SL_ERR_SHAPE, "world: econ column %d is '%s' in the model, '%s' "
                                "in the data", i, w->cfg.econ_names[i], d->econ_names[i]);
    return SL_OK;
}

/* --- step -------------------------------------------------------------------- */

sl_status sl_world_ws_alloc(sl_world_ws *ws, const sl_world *w, int B) {
    memset(ws, 0, sizeof *ws);
    ws->B = B;
    size_t BH = (size_t)B * w->H;
    size_t tot = (size_t)B * w->In + 2 * BH + sl_nn_gru_cache_floats(B, w->H) +
                 (size_t)B * w->O + sl_nn_gru_ws_floats(B, w->H) + 2 * (size_t)B * w->Z;
    float *mem = calloc(tot, sizeof(float));
    if (!mem) return sl_set_error(SL_ERR_NOMEM, "world: out of memory for %d-row workspace", B);
    ws->x = mem;
    ws->h0 = ws->x + (size_t)B * w->In;
    ws->h1 = ws->h0 + BH;
    ws->cache = ws->h1 + BH;
    ws->out = ws->cache + sl_nn_gru_cache_floats(B, w->H);
    ws->gru_ws = ws->out + (size_t)B * w->O;
    ws->sg = ws->gru_ws + sl_nn_gru_ws_floats(B, w->H);
    ws->eps = ws->sg + (size_t)B * w->Z;
    return SL_OK;
}

void sl_world_ws_free(sl_world_ws *ws) {
    if (!ws) return;
    free(ws->x);
    memset(ws, 0, sizeof *ws);
}

float sl_world_clipf(const sl_world *w, float d) {
    float c = w->cfg.clip_value;
    switch (w->cfg.clip) {
    case SL_WORLD_CLIP_TANH: return c * tanhf(d / c);
    case SL_WORLD_CLIP_HARD: return d > c ? c : (d < -c ? -c : d);
    default: return d;
    }
}

float sl_world_clip_grad(const sl_world *w, float d) {
    float c = w->cfg.clip_value;
    switch (w->cfg.clip) {
    case SL_WORLD_CLIP_TANH: {
        float t = tanhf(d / c);
        return 1.0f - t * t;
    }
    case SL_WORLD_CLIP_HARD: return (d > c || d < -c) ? 0.0f : 1.0f;
    default: return 1.0f;
    }
}

void sl_world_step(const sl_world *w, int m, const float *x, const float *h, float *h_out,
                   float *cache, float *out, int B, float *gru_ws) {
    const float *p = w->arenas[m].params;
    sl_nn_gru_cell_forward(h_out, cache, x, h, p + w->gru.w_ih, p + w->gru.w_hh, p + w->gru.b_ih,
                           p + w->gru.b_hh, B, w->In, w->H, gru_ws);
    sl_nn_linear_forward(out, h_out, p + w->head.w, p + w->head.b, B, w->H, w->O);
}

void sl_world_std_z(const sl_world *w, const float *z, float *zs) {
    for (int i = 0; i < w->Z; i++) zs[i] = (z[i] - w->z_mean[i]) / w->z_std[i];
}
void sl_world_std_a(const sl_world *w, const float *a, float *as) {
    for (int i = 0; i < w->A; i++) as[i] = (a[i] - w->a_mean[i]) / w->a_std[i];
}
