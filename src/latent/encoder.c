/* SPDX-License-Identifier: Apache-2.0 */
/* encoder.c - the contrastive latent encoder: model, InfoNCE training, encoding, checkpoints.
 *
 * Invariant: a stored latent is z = (u - z_mean) / z_std with u = h / ||h||,
 * h = MLP((obs - obs_mean) / obs_std), and z_mean/z_std the per-dim statistics of u over the
 * training rows (fitted once after training), so every latent dim has mean 0 and std 1 over
 * the training rows; InfoNCE sees only u. Training and encoding share one forward path
 * (enc_forward), so latents written by `encode` and `encode --apply` of the saved checkpoint
 * are the same bits. All randomness comes from sl_rng streams of cfg.seed:
 * 0 = init, 1 = episode split, 2 = training batches.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"
#include "latent_internal.h"

#define ENC_CHUNK 512 /* rows per forward pass when encoding */

/* --- config ------------------------------------------------------------------ */

sl_latent_config sl_latent_config_default(void) {
    sl_latent_config c;
    memset(&c, 0, sizeof c);
    c.z_dim = 32;
    c.hidden = 128;
    c.n_hidden = 2;
    c.k = 3;
    c.epochs = 20;
    c.batch = 128;
    c.lr = 1e-3f;
    c.temperature = 0.5f; /* 0.1 (the pre-decoder default) fails policies: docs/ENCODER.md */
    c.val_frac = 0.1;
    c.recon_weight = 10.0f;
    c.seed = 0;
    return c;
}

sl_status sl_latent_config_check(const sl_latent_config *c) {
    if (!c) return sl_set_error(SL_ERR_ARG, "latent config: NULL");
    if (c->z_dim < 2 || c->z_dim > 4096)
        return sl_set_error(SL_ERR_ARG, "latent config: z_dim %d outside [2, 4096]", c->z_dim);
    if (c->hidden < 1 || c->hidden > 65536)
        return sl_set_error(SL_ERR_ARG, "latent config: hidden %d outside [1, 65536]", c->hidden);
    if (c->n_hidden < 1 || c->n_hidden > 8)
        return sl_set_error(SL_ERR_ARG, "latent config: n_hidden %d outside [1, 8]", c->n_hidden);
    if (c->k < 1 || c->k > 10000)
        return sl_set_error(SL_ERR_ARG, "latent config: k %d outside [1, 10000]", c->k);
    if (c->epochs < 0 || c->epochs > 1000000)
        return sl_set_error(SL_ERR_ARG, "latent config: epochs %d outside [0, 1e6]", c->epochs);
    if (c->batch < 2 || c->batch > 65536)
        return sl_set_error(SL_ERR_ARG, "latent config: batch %d outside [2, 65536]", c->batch);
    if (!(c->lr > 0.0f && c->lr < 10.0f))
        return sl_set_error(SL_ERR_ARG, "latent config: lr %g outside (0, 10)", (double)c->lr);
    if (!(c->temperature > 1e-4f && c->temperature <= 100.0f))
        return sl_set_error(SL_ERR_ARG, "latent config: temperature %g outside (1e-4, 100]",
                            (double)c->temperature);
    if (!(c->val_frac >= 0.0 && c->val_frac < 0.9))
        return sl_set_error(SL_ERR_ARG, "latent config: val_frac %g outside [0, 0.9)", c->val_frac);
    if (!(c->recon_weight >= 0.0f && c->recon_weight <= 1e4f))
        return sl_set_error(SL_ERR_ARG, "latent config: recon_weight %g outside [0, 1e4]",
                            (double)c->recon_weight);
    return SL_OK;
}

/* --- model --------------------------------------------------------------------- */

void sl_latent_free(sl_latent_encoder *e) {
    if (!e) return;
    free(e->obs_mean);
    free(e->obs_std);
    free(e->z_mean);
    free(e->z_std);
    sl_nn_arena_free(&e->arena);
    sl_nn_mlp_cache_free(&e->cache);
    sl_nn_mlp_cache_free(&e->dec_cache);
    free(e->x);
    free(e->h);
    free(e->xhat);
    free(e);
}

int sl_latent_obs_dim(const sl_latent_encoder *e) { return e->obs_dim; }
void sl_latent_z_norm(const sl_latent_encoder *e, const float **z_mean, const float **z_std) {
    *z_mean = e->z_mean;
    *z_std = e->z_std;
}
int sl_latent_z_dim(const sl_latent_encoder *e) { return e->cfg.z_dim; }
sl_latent_config sl_latent_get_config(const sl_latent_encoder *e) { return e->cfg; }

/* Declare + allocate the network (parameters zero) and the normalisation buffers; with_dec
 * also declares the reconstruction decoder "dec.*" (after the encoder). */
static sl_status enc_create(sl_latent_encoder **out, const sl_latent_config *cfg, int obs_dim,
                            int with_dec) {
    *out = NULL;
    SL_TRY(sl_latent_config_check(cfg));
    if (obs_dim < 1) return sl_set_error(SL_ERR_ARG, "latent encoder: obs_dim %d < 1", obs_dim);
    sl_latent_encoder *e = calloc(1, sizeof *e);
    if (!e) return sl_set_error(SL_ERR_NOMEM, "latent encoder: out of memory");
    e->cfg = *cfg;
    e->obs_dim = obs_dim;
    sl_nn_arena_init(&e->arena);
    int sizes[SL_NN_MLP_MAX_LAYERS + 1];
    sizes[0] = obs_dim;
    for (int i = 1; i <= cfg->n_hidden; i++) sizes[i] = cfg->hidden;
    sizes[cfg->n_hidden + 1] = cfg->z_dim;
    sl_status st = sl_nn_mlp_declare(&e->mlp, &e->arena, "enc", cfg->n_hidden + 1, sizes,
                                     SL_NN_ACT_RELU, 1);
    if (st == SL_OK && with_dec) {
        /* the mirror image: z_dim -> hidden x n_hidden -> obs_dim */
        int dsz[SL_NN_MLP_MAX_LAYERS + 1];
        dsz[0] = cfg->z_dim;
        for (int i = 1; i <= cfg->n_hidden; i++) dsz[i] = cfg->hidden;
        dsz[cfg->n_hidden + 1] = obs_dim;
        st = sl_nn_mlp_declare(&e->dec, &e->arena, "dec", cfg->n_hidden + 1, dsz,
                               SL_NN_ACT_RELU, 1);
        e->has_dec = (st == SL_OK);
    }
    if (st == SL_OK) st = sl_nn_arena_alloc(&e->arena);
    if (st == SL_OK) {
        e->obs_mean = calloc((size_t)obs_dim, sizeof(float));
        e->obs_std = malloc((size_t)obs_dim * sizeof(float));
        e->z_mean = calloc((size_t)cfg->z_dim, sizeof(float));
        e->z_std = malloc((size_t)cfg->z_dim * sizeof(float));
        if (!e->obs_mean || !e->obs_std || !e->z_mean || !e->z_std) {
            st = sl_set_error(SL_ERR_NOMEM, "latent encoder: out of memory");
        } else {
            for (int i = 0; i < obs_dim; i++) e->obs_std[i] = 1.0f;
            for (int i = 0; i < cfg->z_dim; i++) e->z_std[i] = 1.0f;
        }
    }
    if (st != SL_OK) {
        sl_latent_free(e);
        return st;
    }
    *out = e;
    return SL_OK;
}

/* Make sure the cache and scratch hold B rows. */
static sl_status enc_reserve(sl_latent_encoder *e, int B) {
    if (B <= e->cache_B) return SL_OK;
    sl_nn_mlp_cache_free(&e->cache);
    sl_nn_mlp_cache_free(&e->dec_cache);
    free(e->x);
    free(e->h);
    free(e->xhat);
    e->x = e->h = e->xhat = NULL;
    e->cache_B = 0;
    SL_TRY(sl_nn_mlp_cache_alloc(&e->cache, &e->mlp, B));
    if (e->has_dec) SL_TRY(sl_nn_mlp_cache_alloc(&e->dec_cache, &e->dec, B));
    e->x = malloc((size_t)B * (size_t)e->obs_dim * sizeof(float));
    e->h = malloc((size_t)B * (size_t)e->cfg.z_dim * sizeof(float));
    if (e->has_dec) e->xhat = malloc((size_t)B * (size_t)e->obs_dim * sizeof(float));
    if (!e->x || !e->h || (e->has_dec && !e->xhat))
        return sl_set_error(SL_ERR_NOMEM, "latent encoder: out of memory");
    e->cache_B = B;
    return SL_OK;
}

/* Standardise rows rows[0..B) of obs into e->x (rows NULL: obs itself is B rows). */
static sl_status enc_load_x(sl_latent_encoder *e, const float *obs, const size_t *rows, int B,
                            size_t row0) {
    const int od = e->obs_dim;
    for (int b = 0; b < B; b++) {
        size_t r = rows ? rows[b] : (size_t)b;
        const float *o = obs + r * (size_t)od;
        float *x = e->x + (size_t)b * (size_t)od;
        for (int j = 0; j < od; j++) {
            if (!isfinite(o[j]))
                return sl_set_error(SL_ERR_NAN, "latent encoder: observation row %zu column %d is "
                                    "not finite", row0 + r, j);
            x[j] = (o[j] - e->obs_mean[j]) / e->obs_std[j];
        }
    }
    return SL_OK;
}

/* h = MLP(e->x) for B rows, then u = h / ||h|| in place; norms[B] (may be NULL) saved. */
static void enc_forward(sl_latent_encoder *e, int B, float *norms) {
    const int D = e->cfg.z_dim;
    sl_nn_mlp_forward(e->h, &e->cache, e->x, &e->mlp, e->arena.params, B);
    for (int b = 0; b < B; b++) {
        float *h = e->h + (size_t)b * (size_t)D;
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)h[d] * (double)h[d];
        float nrm = (float)sqrt(s);
        if (!(nrm > 1e-12f)) nrm = 1e-12f;
        if (norms) norms[b] = nrm;
        for (int d = 0; d < D; d++) h[d] /= nrm;
    }
}

/* u[n, z_dim] (unit rows) <- obs[n, obs_dim], in chunks; row0 offsets error messages. */
static sl_status encode_unit(sl_latent_encoder *e, const float *obs, size_t n, float *u,
                             size_t row0) {
    SL_TRY(enc_reserve(e, ENC_CHUNK));
    const size_t D = (size_t)e->cfg.z_dim;
    for (size_t r0 = 0; r0 < n; r0 += ENC_CHUNK) {
        int B = (int)((n - r0) < ENC_CHUNK ? (n - r0) : ENC_CHUNK);
        SL_TRY(enc_load_x(e, obs + r0 * (size_t)e->obs_dim, NULL, B, row0 + r0));
        enc_forward(e, B, NULL);
        memcpy(u + r0 * D, e->h, (size_t)B * D * sizeof(float));
    }
    return SL_OK;
}

sl_status sl_latent_encode(sl_latent_encoder *e, const float *obs, size_t n, int obs_dim,
                           float *z) {
    if (!e || (!obs && n) || (!z && n)) return sl_set_error(SL_ERR_ARG, "latent encode: NULL argument");
    if (obs_dim != e->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "latent encode: observations have %d dims, the encoder "
                            "expects %d", obs_dim, e->obs_dim);
    const int D = e->cfg.z_dim;
    SL_TRY(encode_unit(e, obs, n, z, 0));
    for (size_t r = 0; r < n; r++)
        for (int d = 0; d < D; d++) {
            float *v = z + r * (size_t)D + d;
            *v = (*v - e->z_mean[d]) / e->z_std[d];
        }
    if (!sl_all_finite_f32(z, n * (size_t)D))
        return sl_set_error(SL_ERR_DIVERGED, "latent encode: the encoder produced non-finite "
                            "latents (corrupt parameters?)");
    return SL_OK;
}

sl_status sl_latent_encode_dataset(sl_latent_encoder *e, const sl_dataset *ds, float *z,
                                   float *next_z) {
    if (!e || !ds) return sl_set_error(SL_ERR_ARG, "latent encode: NULL argument");
    if (ds->obs_dim != e->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "latent encode: the dataset has obs_dim %d, the encoder "
                            "was trained on obs_dim %d", ds->obs_dim, e->obs_dim);
    sl_status st = sl_latent_encode(e, ds->observations, ds->n, ds->obs_dim, z);
    if (st != SL_OK) return st;
    if (next_z) {
        st = sl_latent_encode(e, ds->next_observations, ds->n, ds->obs_dim, next_z);
        if (st != SL_OK)
            return sl_set_error(st, "next_observations: %s", sl_last_error());
    }
    return SL_OK;
}

/* --- batches ------------------------------------------------------------------- */

typedef struct span {
    size_t start, len;
} span;

/* Episode spans of length >= 2 among `eps` (NULL: all episodes) of a dataset. */
static sl_status collect_spans(const sl_dataset *ds, const size_t *eps, size_t n_eps, span **out,
                               size_t *n_out) {
    size_t total = eps ? n_eps : ds->n_episodes;
    span *s = malloc((total ? total : 1) * sizeof *s);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "latent: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < total; i++) {
        size_t a, b;
        sl_status st = sl_dataset_episode_range(ds, eps ? eps[i] : i, &a, &b);
        if (st != SL_OK) {
            free(s);
            return st;
        }
        if (b - a >= 2) s[k++] = (span){a, b - a};
    }
    *out = s;
    *n_out = k;
    return SL_OK;
}

/* One batch: anchors from min(n_spans, target) distinct episodes, m per episode with a
 * spacing > 2k, positives at 1 <= |dt| <= k. Returns the batch size (<= target ... plus
 * rounding: at most max(target, n_spans)). perm is scratch [n_spans]. */
static int sample_batch(sl_rng *rng, const span *sp, size_t n_sp, int k, int target,
                        size_t *perm, size_t *anchors, size_t *pos) {
    for (size_t i = 0; i < n_sp; i++) perm[i] = i;
    sl_rng_shuffle(rng, perm, n_sp);
    size_t E = n_sp < (size_t)target ? n_sp : (size_t)target;
    size_t m = (size_t)target / E;
    if (m < 1) m = 1;
    const size_t w_min = 2 * (size_t)k + 1;
    int B = 0;
    for (size_t ei = 0; ei < E; ei++) {
        const span *s = &sp[perm[ei]];
        size_t me = m;
        if (me > 1 && s->len / me < w_min) me = s->len / w_min;
        if (me < 1) me = 1;
        size_t w = s->len / me;
        size_t o = (size_t)sl_rng_below(rng, (uint64_t)(s->len - (me - 1) * w));
        for (size_t j = 0; j < me; j++) {
            size_t t = o + j * w;
            long d = 1 + (long)sl_rng_below(rng, (uint64_t)k);
            if (sl_rng_below(rng, 2)) d = -d;
            long p = (long)t + d;
            if (p < 0 || p >= (long)s->len) p = (long)t - d;
            if (p < 0 || p >= (long)s->len) p = (t + 1 < s->len) ? (long)t + 1 : (long)t - 1;
            anchors[B] = s->start + t;
            pos[B] = s->start + (size_t)p;
            B++;
        }
    }
    return B;
}

/* Upper bound of sample_batch's size. */
static int batch_cap(size_t n_sp, int target) {
    size_t E = n_sp < (size_t)target ? n_sp : (size_t)target;
    size_t m = (size_t)target / (E ? E : 1);
    if (m < 1) m = 1;
    return (int)(E * m);
}

/* --- loss and gradient ---------------------------------------------------------- */

typedef struct trainer {
    sl_latent_encoder *e;
    int cap;          /* max batch size */
    size_t *rows;     /* [2 cap] anchors then positives */
    float *norms;     /* [2 cap] */
    float *du_a, *du_p, *du_a2, *du_p2, *dh; /* [cap * D] / [2 cap * D] */
    float *ws;        /* infonce workspace */
    float *dxhat, *du_rec; /* decoder only: [2 cap * obs_dim], [2 cap * D] */
} trainer;

static void trainer_free(trainer *t) {
    free(t->rows);
    free(t->norms);
    free(t->du_a);
    free(t->du_p);
    free(t->du_a2);
    free(t->du_p2);
    free(t->dh);
    free(t->ws);
    free(t->dxhat);
    free(t->du_rec);
}

static sl_status trainer_init(trainer *t, sl_latent_encoder *e, int cap) {
    memset(t, 0, sizeof *t);
    t->e = e;
    t->cap = cap;
    size_t D = (size_t)e->cfg.z_dim, c = (size_t)cap;
    t->rows = malloc(2 * c * sizeof(size_t));
    t->norms = malloc(2 * c * sizeof(float));
    t->du_a = malloc(c * D * sizeof(float));
    t->du_p = malloc(c * D * sizeof(float));
    t->du_a2 = malloc(c * D * sizeof(float));
    t->du_p2 = malloc(c * D * sizeof(float));
    t->dh = malloc(2 * c * D * sizeof(float));
    t->ws = malloc(sl_nn_infonce_ws_floats(cap) * sizeof(float));
    if (e->has_dec) {
        t->dxhat = malloc(2 * c * (size_t)e->obs_dim * sizeof(float));
        t->du_rec = malloc(2 * c * D * sizeof(float));
    }
    if (!t->rows || !t->norms || !t->du_a || !t->du_p || !t->du_a2 || !t->du_p2 || !t->dh ||
        !t->ws || (e->has_dec && (!t->dxhat || !t->du_rec))) {
        trainer_free(t);
        return sl_set_error(SL_ERR_NOMEM, "latent train: out of memory");
    }
    return enc_reserve(e, 2 * cap);
}

/* Forward the batch rows (t->rows, B anchors then B positives) and compute the symmetric
 * InfoNCE loss (*loss) and, with a decoder, the reconstruction MSE of x_std from u over all 2B
 * rows (*recon; 0 without a decoder). With `grad`, also backpropagate
 * InfoNCE + recon_weight * MSE into the arena's grads (added). For `hits` (may be NULL)
 * counts anchors whose own positive is the most similar candidate. */
static sl_status batch_loss(trainer *t, const float *obs, int B, int grad, double *loss,
                            double *recon, long *hits) {
    sl_latent_encoder *e = t->e;
    const int D = e->cfg.z_dim;
    const float tau = e->cfg.temperature;
    SL_TRY(enc_load_x(e, obs, t->rows, 2 * B, 0));
    enc_forward(e, 2 * B, t->norms);
    const float *ua = e->h, *up = e->h + (size_t)B * (size_t)D;
    float l1 = sl_nn_infonce_loss(t->du_a, t->du_p, ua, up, B, D, tau, t->ws);
    float l2 = sl_nn_infonce_loss(t->du_p2, t->du_a2, up, ua, B, D, tau, t->ws);
    *loss = 0.5 * ((double)l1 + (double)l2);
    const int R = 2 * B, od = e->obs_dim;
    *recon = 0.0;
    if (e->has_dec) {
        /* x_std hat = dec(u); MSE mean over R rows x obs_dim; d/du into du_rec (scaled by w) */
        sl_nn_mlp_forward(e->xhat, &e->dec_cache, e->h, &e->dec, e->arena.params, R);
        *recon = (double)sl_nn_mse_loss(grad ? t->dxhat : NULL, e->xhat, e->x, NULL, R, od);
        if (grad) {
            const float w = e->cfg.recon_weight;
            const size_t n = (size_t)R * (size_t)od;
            for (size_t i = 0; i < n; i++) t->dxhat[i] *= w;
            memset(t->du_rec, 0, (size_t)R * (size_t)D * sizeof(float));
            sl_nn_mlp_backward(t->du_rec, e->arena.grads, &e->dec_cache, t->dxhat, e->h, &e->dec,
                               e->arena.params, R);
        }
    }
    if (hits) {
        long h = 0;
        for (int i = 0; i < B; i++) {
            const float *a = ua + (size_t)i * (size_t)D;
            double best = -INFINITY;
            int arg = -1;
            for (int j = 0; j < B; j++) {
                const float *p = up + (size_t)j * (size_t)D;
                double s = 0.0;
                for (int d = 0; d < D; d++) s += (double)a[d] * (double)p[d];
                if (s > best) {
                    best = s;
                    arg = j;
                }
            }
            h += (arg == i);
        }
        *hits = h;
    }
    if (!grad) return SL_OK;
    /* du = 0.5 (dL1/du + dL2/du) [+ w dMSE/du]; dh = (du - u (u . du)) / ||h|| */
    for (int half = 0; half < 2; half++) {
        const float *g1 = half ? t->du_p : t->du_a;
        const float *g2 = half ? t->du_p2 : t->du_a2;
        for (int i = 0; i < B; i++) {
            size_t row = (size_t)(half * B + i);
            const float *u = e->h + row * (size_t)D;
            float *dh = t->dh + row * (size_t)D;
            double dot = 0.0;
            for (int d = 0; d < D; d++) {
                float g = 0.5f * (g1[(size_t)i * D + d] + g2[(size_t)i * D + d]);
                if (e->has_dec) g += t->du_rec[row * (size_t)D + d];
                dh[d] = g;
                dot += (double)g * (double)u[d];
            }
            float inv = 1.0f / t->norms[row];
            for (int d = 0; d < D; d++) dh[d] = (dh[d] - (float)dot * u[d]) * inv;
        }
    }
    sl_nn_mlp_backward(NULL, e->arena.grads, &e->cache, t->dh, e->x, &e->mlp, e->arena.params,
                       2 * B);
    return SL_OK;
}

/* Retrieval/loss over `batches` batches of spans sp. */
static sl_status eval_spans(sl_latent_encoder *e, const float *obs, const span *sp, size_t n_sp,
                            int batches, uint64_t seed, double *acc, double *chance,
                            double *loss) {
    if (n_sp < 2)
        return sl_set_error(SL_ERR_ARG, "latent eval: need >= 2 episodes with >= 2 steps, have %zu",
                            n_sp);
    int cap = batch_cap(n_sp, e->cfg.batch);
    trainer t;
    SL_TRY(trainer_init(&t, e, cap));
    size_t *perm = malloc(n_sp * sizeof *perm);
    if (!perm) {
        trainer_free(&t);
        return sl_set_error(SL_ERR_NOMEM, "latent eval: out of memory");
    }
    sl_rng rng;
    sl_rng_seed(&rng, seed, 3);
    long hits = 0, total = 0;
    double lsum = 0.0, chance_sum = 0.0;
    sl_status st = SL_OK;
    for (int b = 0; b < batches && st == SL_OK; b++) {
        int B = sample_batch(&rng, sp, n_sp, e->cfg.k, e->cfg.batch, perm, t.rows, t.rows + cap);
        memmove(t.rows + B, t.rows + cap, (size_t)B * sizeof(size_t));
        double l, rl;
        long h;
        st = batch_loss(&t, obs, B, 0, &l, &rl, &h);
        hits += h;
        total += B;
        lsum += l;
        chance_sum += 1.0; /* B anchors each at chance 1/B */
    }
    free(perm);
    trainer_free(&t);
    if (st != SL_OK) return st;
    if (acc) *acc = (double)hits / (double)total;
    if (chance) *chance = chance_sum / (double)total;
    if (loss) *loss = lsum / (double)batches;
    return SL_OK;
}

sl_status sl_latent_eval_retrieval(sl_latent_encoder *e, const sl_dataset *ds, int batches,
                                   uint64_t seed, double *acc, double *chance, double *loss) {
    if (!e || !ds) return sl_set_error(SL_ERR_ARG, "latent eval: NULL argument");
    if (batches < 1) return sl_set_error(SL_ERR_ARG, "latent eval: batches %d < 1", batches);
    if (ds->obs_dim != e->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "latent eval: the dataset has obs_dim %d, the encoder "
                            "expects %d", ds->obs_dim, e->obs_dim);
    span *sp;
    size_t n_sp;
    SL_TRY(collect_spans(ds, NULL, 0, &sp, &n_sp));
    sl_status st = eval_spans(e, ds->observations, sp, n_sp, batches, seed, acc, chance, loss);
    free(sp);
    return st;
}

/* Reconstruction MSE of x_std (mean over rows and dims) over every row of spans sp. */
static sl_status recon_spans(sl_latent_encoder *e, const float *obs, const span *sp, size_t n_sp,
                             double *mse) {
    if (!e->has_dec)
        return sl_set_error(SL_ERR_STATE, "latent eval: the encoder has no reconstruction decoder "
                            "(trained with recon_weight 0)");
    SL_TRY(enc_reserve(e, ENC_CHUNK));
    const size_t od = (size_t)e->obs_dim;
    double sum = 0.0;
    size_t cnt = 0;
    for (size_t i = 0; i < n_sp; i++)
        for (size_t r0 = 0; r0 < sp[i].len; r0 += ENC_CHUNK) {
            size_t left = sp[i].len - r0;
            int B = (int)(left < ENC_CHUNK ? left : ENC_CHUNK);
            size_t first = sp[i].start + r0;
            SL_TRY(enc_load_x(e, obs + first * od, NULL, B, first));
            enc_forward(e, B, NULL);
            sl_nn_mlp_forward(e->xhat, &e->dec_cache, e->h, &e->dec, e->arena.params, B);
            for (size_t j = 0; j < (size_t)B * od; j++) {
                double d = (double)e->xhat[j] - (double)e->x[j];
                sum += d * d;
            }
            cnt += (size_t)B * od;
        }
    *mse = cnt ? sum / (double)cnt : 0.0;
    return SL_OK;
}

sl_status sl_latent_eval_recon(sl_latent_encoder *e, const sl_dataset *ds, double *mse) {
    if (!e || !ds || !mse) return sl_set_error(SL_ERR_ARG, "latent eval: NULL argument");
    if (ds->obs_dim != e->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "latent eval: the dataset has obs_dim %d, the encoder "
                            "expects %d", ds->obs_dim, e->obs_dim);
    span whole = {0, ds->n};
    return recon_spans(e, ds->observations, &whole, ds->n ? 1 : 0, mse);
}

sl_status sl_latent_loss_grad(sl_latent_encoder *e, const float *obs, const size_t *anchors,
                              const size_t *positives, int B, double *total, double *infonce,
                              double *recon) {
    if (!e || !obs || !anchors || !positives || B < 1)
        return sl_set_error(SL_ERR_ARG, "latent loss_grad: bad argument");
    trainer t;
    SL_TRY(trainer_init(&t, e, B));
    memcpy(t.rows, anchors, (size_t)B * sizeof(size_t));
    memcpy(t.rows + B, positives, (size_t)B * sizeof(size_t));
    sl_nn_arena_zero_grad(&e->arena);
    double l = 0.0, rl = 0.0;
    sl_status st = batch_loss(&t, obs, B, 1, &l, &rl, NULL);
    trainer_free(&t);
    if (total) *total = l + (double)e->cfg.recon_weight * rl;
    if (infonce) *infonce = l;
    if (recon) *recon = rl;
    return st;
}

/* --- training ------------------------------------------------------------------- */

static sl_status fit_normalisation(sl_latent_encoder *e, const float *obs, const span *sp,
                                   size_t n_sp) {
    const int od = e->obs_dim;
    double *sum = calloc((size_t)od * 2, sizeof(double));
    if (!sum) return sl_set_error(SL_ERR_NOMEM, "latent train: out of memory");
    double *sq = sum + od;
    size_t cnt = 0;
    for (size_t i = 0; i < n_sp; i++)
        for (size_t r = sp[i].start; r < sp[i].start + sp[i].len; r++, cnt++)
            for (int j = 0; j < od; j++) sum[j] += (double)obs[r * (size_t)od + j];
    for (int j = 0; j < od; j++) sum[j] /= (double)cnt;
    for (size_t i = 0; i < n_sp; i++)
        for (size_t r = sp[i].start; r < sp[i].start + sp[i].len; r++)
            for (int j = 0; j < od; j++) {
                double d = (double)obs[r * (size_t)od + j] - sum[j];
                sq[j] += d * d;
            }
    for (int j = 0; j < od; j++) {
        double s = sqrt(sq[j] / (double)cnt);
        e->obs_mean[j] = (float)sum[j];
        e->obs_std[j] = (s > 1e-6 * (1.0 + fabs(sum[j]))) ? (float)s : 1.0f;
    }
    free(sum);
    return SL_OK;
}

/* z_mean/z_std <- per-dim mean and std (ddof 0) of u over the training rows. */
static sl_status fit_output_norm(sl_latent_encoder *e, const float *obs, const span *sp,
                                 size_t n_sp) {
    const size_t D = (size_t)e->cfg.z_dim;
    size_t maxlen = 0, cnt = 0;
    for (size_t i = 0; i < n_sp; i++) {
        if (sp[i].len > maxlen) maxlen = sp[i].len;
        cnt += sp[i].len;
    }
    float *u = malloc(maxlen * D * sizeof(float));
    double *acc = calloc(2 * D, sizeof(double));
    if (!u || !acc) {
        free(u);
        free(acc);
        return sl_set_error(SL_ERR_NOMEM, "latent train: out of memory");
    }
    double *sq = acc + D;
    sl_status st = SL_OK;
    for (int pass = 0; pass < 2 && st == SL_OK; pass++) {
        for (size_t i = 0; i < n_sp && st == SL_OK; i++) {
            st = encode_unit(e, obs + sp[i].start * (size_t)e->obs_dim, sp[i].len, u, sp[i].start);
            for (size_t r = 0; st == SL_OK && r < sp[i].len; r++)
                for (size_t d = 0; d < D; d++) {
                    double v = (double)u[r * D + d];
                    if (pass == 0) acc[d] += v;
                    else sq[d] += (v - acc[d]) * (v - acc[d]);
                }
        }
        if (pass == 0)
            for (size_t d = 0; d < D; d++) acc[d] /= (double)cnt;
    }
    for (size_t d = 0; st == SL_OK && d < D; d++) {
        double s = sqrt(sq[d] / (double)cnt);
        e->z_mean[d] = (float)acc[d];
        e->z_std[d] = s > 1e-6 ? (float)s : 1.0f;
    }
    free(u);
    free(acc);
    return st;
}

sl_status sl_latent_train(sl_latent_encoder **out, const sl_dataset *ds,
                          const sl_latent_config *cfg, sl_latent_train_report *report) {
    if (!out || !ds || !cfg) return sl_set_error(SL_ERR_ARG, "latent train: NULL argument");
    *out = NULL;
    double t0 = sl_now();
    SL_TRY(sl_latent_config_check(cfg));
    if (ds->n == 0 || ds->n_episodes == 0)
        return sl_set_error(SL_ERR_ARG, "latent train: the dataset is empty");
    /* finiteness first: a clear message before any work */
    for (size_t r = 0; r < ds->n; r++)
        for (int j = 0; j < ds->obs_dim; j++)
            if (!isfinite(ds->observations[r * (size_t)ds->obs_dim + j]))
                return sl_set_error(SL_ERR_NAN, "latent train: observation row %zu column %d is "
                                    "not finite", r, j);

    /* split episodes */
    size_t ne = ds->n_episodes;
    size_t *order = malloc(ne * sizeof *order);
    if (!order) return sl_set_error(SL_ERR_NOMEM, "latent train: out of memory");
    for (size_t i = 0; i < ne; i++) order[i] = i;
    size_t n_val = 0;
    if (cfg->val_frac > 0.0 && ne >= 3) {
        sl_rng srng;
        sl_rng_seed(&srng, cfg->seed, 1);
        sl_rng_shuffle(&srng, order, ne);
        n_val = (size_t)floor(cfg->val_frac * (double)ne + 0.5);
        if (n_val < 1) n_val = 1;
        if (n_val > ne - 2) n_val = ne - 2;
    }
    span *tr = NULL, *va = NULL;
    size_t n_tr = 0, n_va = 0;
    sl_status st = collect_spans(ds, order + n_val, ne - n_val, &tr, &n_tr);
    if (st == SL_OK && n_val) st = collect_spans(ds, order, n_val, &va, &n_va);
    free(order);
    if (st == SL_OK && n_tr < 2)
        st = sl_set_error(SL_ERR_ARG, "latent train: need >= 2 training episodes with >= 2 steps, "
                          "have %zu", n_tr);
    sl_latent_encoder *e = NULL;
    if (st == SL_OK) st = enc_create(&e, cfg, ds->obs_dim, cfg->recon_weight > 0.0f);
    if (st != SL_OK) {
        free(tr);
        free(va);
        return st;
    }
    sl_rng rng;
    sl_rng_seed(&rng, cfg->seed, 0);
    sl_nn_mlp_init(&e->mlp, e->arena.params, &rng);
    if (e->has_dec) {
        sl_rng drng; /* its own stream: the encoder's init is the same with or without it */
        sl_rng_seed(&drng, cfg->seed, 4);
        sl_nn_mlp_init(&e->dec, e->arena.params, &drng);
    }
    st = fit_normalisation(e, ds->observations, tr, n_tr);

    size_t rows = 0;
    for (size_t i = 0; i < n_tr; i++) rows += tr[i].len;
    int cap = batch_cap(n_tr, cfg->batch);
    int steps_per_epoch = (int)((rows + (size_t)cfg->batch - 1) / (size_t)cfg->batch);
    trainer t;
    int have_t = 0;
    size_t *perm = NULL;
    if (st == SL_OK) {
        st = trainer_init(&t, e, cap);
        have_t = (st == SL_OK);
    }
    if (st == SL_OK && !(perm = malloc(n_tr * sizeof *perm)))
        st = sl_set_error(SL_ERR_NOMEM, "latent train: out of memory");
    sl_nn_adam adam = sl_nn_adam_defaults(cfg->lr);
    sl_rng brng;
    sl_rng_seed(&brng, cfg->seed, 2);
    double first = 0.0, last = 0.0, rfirst = 0.0, rlast = 0.0;
    sl_progress prog;
    sl_progress_begin(&prog, "encoder", (uint64_t)cfg->epochs);
    for (int ep = 0; ep < cfg->epochs && st == SL_OK; ep++) {
        double lsum = 0.0, rsum = 0.0;
        for (int s = 0; s < steps_per_epoch && st == SL_OK; s++) {
            int B = sample_batch(&brng, tr, n_tr, cfg->k, cfg->batch, perm, t.rows, t.rows + cap);
            memmove(t.rows + B, t.rows + cap, (size_t)B * sizeof(size_t));
            sl_nn_arena_zero_grad(&e->arena);
            double l, rl;
            st = batch_loss(&t, ds->observations, B, 1, &l, &rl, NULL);
            if (st != SL_OK) break;
            if (!isfinite(l) || !isfinite(rl)) {
                st = sl_set_error(SL_ERR_DIVERGED, "latent train: %s loss is not finite at "
                                  "epoch %d step %d (lower --lr?)",
                                  isfinite(l) ? "reconstruction" : "InfoNCE", ep, s);
                break;
            }
            sl_nn_arena_clip_grad_norm(&e->arena, 10.0f);
            sl_nn_arena_adam_step(&e->arena, &adam);
            lsum += l;
            rsum += rl;
        }
        double mean = lsum / (double)steps_per_epoch, rmean = rsum / (double)steps_per_epoch;
        if (ep == 0) {
            first = mean;
            rfirst = rmean;
        }
        last = mean;
        rlast = rmean;
        char extra[64];
        if (e->has_dec) snprintf(extra, sizeof extra, "loss %.4f recon %.4f", mean, rmean);
        else snprintf(extra, sizeof extra, "loss %.4f", mean);
        sl_progress_update(&prog, (uint64_t)ep + 1, extra);
    }
    sl_progress_end(&prog);
    free(perm);
    if (have_t) trainer_free(&t);
    if (st == SL_OK && !sl_all_finite_f32(e->arena.params, e->arena.numel))
        st = sl_set_error(SL_ERR_DIVERGED, "latent train: parameters became non-finite");
    if (st == SL_OK) st = fit_output_norm(e, ds->observations, tr, n_tr);

    sl_latent_train_report rep;
    memset(&rep, 0, sizeof rep);
    rep.epochs = cfg->epochs;
    rep.steps = cfg->epochs * steps_per_epoch;
    rep.n_train_episodes = n_tr;
    rep.n_val_episodes = n_va;
    rep.n_train_rows = rows;
    rep.loss_first_epoch = first;
    rep.loss_last_epoch = last;
    rep.recon_first_epoch = rfirst;
    rep.recon_last_epoch = rlast;
    if (st == SL_OK && n_va >= 2)
        st = eval_spans(e, ds->observations, va, n_va, 20, cfg->seed, &rep.val_retrieval,
                        &rep.val_chance, &rep.val_loss);
    if (st == SL_OK && e->has_dec && n_va >= 1)
        st = recon_spans(e, ds->observations, va, n_va, &rep.val_recon_mse);
    free(tr);
    free(va);
    if (st != SL_OK) {
        sl_latent_free(e);
        return st;
    }
    rep.seconds = sl_now() - t0;
    if (report) *report = rep;
    *out = e;
    return SL_OK;
}

/* --- checkpoints ---------------------------------------------------------------- */

#define ENC_KIND "latent_encoder"

static cJSON *config_json(const sl_latent_encoder *e) {
    const sl_latent_config *c = &e->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "format_version", 1);
    cJSON_AddNumberToObject(j, "obs_dim", e->obs_dim);
    cJSON_AddNumberToObject(j, "z_dim", c->z_dim);
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddNumberToObject(j, "n_hidden", c->n_hidden);
    cJSON_AddStringToObject(j, "activation", "relu");
    cJSON_AddBoolToObject(j, "layernorm", 1);
    cJSON_AddStringToObject(j, "output", "z = (h / ||h|| - z_mean) / z_std");
    cJSON_AddNumberToObject(j, "k", c->k);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", (double)c->lr);
    cJSON_AddNumberToObject(j, "temperature", (double)c->temperature);
    cJSON_AddNumberToObject(j, "val_frac", c->val_frac);
    cJSON_AddNumberToObject(j, "recon_weight", (double)c->recon_weight);
    if (e->has_dec)
        cJSON_AddStringToObject(j, "decoder", "dec.*: MLP u -> (obs - obs_mean) / obs_std, "
                                "loss InfoNCE + recon_weight * MSE");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddStringToObject(j, "seed", seed); /* exact for any u64 */
    cJSON *norm = cJSON_AddObjectToObject(j, "normalisation");
    if (norm) {
        cJSON_AddStringToObject(norm, "rule", "(obs - obs_mean) / obs_std");
        sl_json_add_f32_array(norm, "obs_mean", e->obs_mean, (size_t)e->obs_dim);
        sl_json_add_f32_array(norm, "obs_std", e->obs_std, (size_t)e->obs_dim);
        sl_json_add_f32_array(norm, "z_mean", e->z_mean, (size_t)c->z_dim);
        sl_json_add_f32_array(norm, "z_std", e->z_std, (size_t)c->z_dim);
    }
    return j;
}

sl_status sl_latent_save(const sl_latent_encoder *e, const char *path, const cJSON *extra_meta) {
    if (!e || !path) return sl_set_error(SL_ERR_ARG, "latent save: NULL argument");
    cJSON *cfg = config_json(e);
    char *cfg_txt = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    if (!cfg_txt) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    sl_nn_ckpt *c = NULL;
    sl_status st = sl_nn_ckpt_new(&c);
    if (st == SL_OK) {
        const size_t od = (size_t)e->obs_dim, zd = (size_t)e->cfg.z_dim;
        sl_nn_ckpt_put_arena(c, &e->arena, "");
        sl_nn_ckpt_put_vec_f32(c, "obs_mean", od, e->obs_mean);
        sl_nn_ckpt_put_vec_f32(c, "obs_std", od, e->obs_std);
        sl_nn_ckpt_put_vec_f32(c, "z_mean", zd, e->z_mean);
        sl_nn_ckpt_put_vec_f32(c, "z_std", zd, e->z_std);
        /* the caller's keys first, then ours (which replace any of the same name) */
        sl_nn_ckpt_add_meta_json(c, extra_meta);
        sl_nn_ckpt_set_meta(c, "synthloop_kind", ENC_KIND);
        sl_nn_ckpt_set_meta(c, "config", cfg_txt);
        st = sl_nn_ckpt_write(c, path);
    }
    sl_nn_ckpt_free(c);
    free(cfg_txt);
    return st;
}

sl_status sl_latent_load(sl_latent_encoder **out, const char *path) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "latent load: NULL argument");
    *out = NULL;
    sl_nn_ckpt *ck = NULL;
    SL_TRY(sl_nn_ckpt_read(&ck, path, "synthloop_kind", ENC_KIND, "latent encoder"));
    cJSON *c = NULL;
    sl_status st = sl_nn_ckpt_meta_json(ck, "config", &c);
    sl_latent_encoder *e = NULL;
    if (st == SL_OK) {
        sl_latent_config cfg = sl_latent_config_default();
        cfg.z_dim = sl_json_int(c, "z_dim", -1);
        cfg.hidden = sl_json_int(c, "hidden", -1);
        cfg.n_hidden = sl_json_int(c, "n_hidden", -1);
        cfg.k = sl_json_int(c, "k", cfg.k);
        cfg.epochs = sl_json_int(c, "epochs", cfg.epochs);
        cfg.batch = sl_json_int(c, "batch", cfg.batch);
        cfg.lr = (float)sl_json_num(c, "lr", (double)cfg.lr);
        cfg.temperature = (float)sl_json_num(c, "temperature", (double)cfg.temperature);
        cfg.val_frac = sl_json_num(c, "val_frac", cfg.val_frac);
        /* checkpoints from before the decoder: pure InfoNCE */
        cfg.recon_weight = (float)sl_json_num(c, "recon_weight", 0.0);
        cfg.seed = strtoull(sl_json_str(c, "seed", "0"), NULL, 10);
        int od = sl_json_int(c, "obs_dim", -1);
        /* the decoder is only needed for training and reconstruction reports; a checkpoint
         * without dec.* tensors loads as an encoder without one */
        int with_dec = cfg.recon_weight > 0.0f && sl_nn_ckpt_has(ck, "dec.l0.weight");
        st = enc_create(&e, &cfg, od, with_dec);
        if (st != SL_OK) st = sl_set_error(st, "%s: bad config: %s", path, sl_last_error());
    }
    if (st == SL_OK) st = sl_nn_ckpt_get_arena(ck, &e->arena, "");
    size_t od = e ? (size_t)e->obs_dim : 0, zd = e ? (size_t)e->cfg.z_dim : 0;
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "obs_mean", od, e->obs_mean);
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "obs_std", od, e->obs_std);
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "z_mean", zd, e->z_mean);
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "z_std", zd, e->z_std);
    for (size_t j = 0; st == SL_OK && j < zd; j++)
        if (!(e->z_std[j] > 0.0f))
            st = sl_set_error(SL_ERR_FORMAT, "%s: z_std[%zu] is not positive", path, j);
    for (size_t j = 0; st == SL_OK && j < od; j++)
        if (!(e->obs_std[j] > 0.0f))
            st = sl_set_error(SL_ERR_FORMAT, "%s: obs_std[%zu] is not positive", path, j);
    cJSON_Delete(c);
    sl_nn_ckpt_free(ck);
    if (st != SL_OK) {
        sl_latent_free(e);
        return st;
    }
    *out = e;
    return SL_OK;
}
