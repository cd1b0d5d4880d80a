/* SPDX-License-Identifier: Apache-2.0 */
/* world_internal.h - the world model's private layout, shared by the files of src/world/.
 *
 * Invariant: every member's arena is declared identically (same tensor table), so the layer
 * descriptors `gru` and `head` (offsets) are valid for all of them; the normalisation
 * statistics are finite with strictly positive scales.
 */
#ifndef SL_WORLD_INTERNAL_H
#define SL_WORLD_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "nn/nn_internal.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_world.h"

/* Largest latent dimension a rollout supports (stack buffer for sigma). */
#define SL_WORLD_SIGMA_MAX 4096

/* |z~| beyond this (standardised units) counts as an exploded rollout. */
#define SL_WORLD_EXPLODE 1.0e4f

struct sl_world {
    sl_world_config cfg;
    int Z, A, E, H, M, In, O; /* In = Z + A; O = Z + 1 + E */
    sl_nn_arena *arenas;      /* [M] */
    sl_nn_gru gru;
    sl_nn_linear head;
    size_t noise_ls;                /* offset of "noise_logstd" [Z] in every member arena */
    sl_nn_linear noise_head;        /* cfg.hetero_noise: "noise_head" H -> Z (log-sigma offsets) */
    float *z_mean, *z_std, *dz_std; /* [Z] */
    float *a_mean, *a_std;          /* [A] */
    float r_mean, r_std;
    float e_mean[SL_WORLD_MAX_ECON], e_std[SL_WORLD_MAX_ECON];
    int e_binary[SL_WORLD_MAX_ECON];
    size_t *holdout;                /* held-out episodes (indices into the training data) */
    size_t n_holdout;
    size_t data_episodes;           /* n_episodes of the training data */
    float *sphere;                  /* NULL or [2Z]: mean then std (sl_world_set_sphere) */
};

/* Configuration from its JSON (sl_world_config_json); SL_ERR_FORMAT naming path if invalid. */
sl_status sl_world_config_from_json(sl_world_config *c, const cJSON *j, const char *path);

/* Allocate a model with fresh (initialised from cfg->seed) parameters and unit norms. */
sl_status sl_world_alloc(sl_world **out, const sl_world_config *cfg, int Z, int A);

/* Scratch for batched stepping of one member over up to B rows. */
typedef struct sl_world_ws {
    int B;
    float *x;      /* [B, In] */
    float *h0, *h1; /* [B, H] */
    float *cache;  /* [4BH] */
    float *out;    /* [B, O] */
    float *gru_ws; /* gru workspace */
    float *sg;     /* [B, Z] log-sigma offsets (cfg.hetero_noise) */
    float *eps;    /* [B, Z] the rollout noise of one step (sl_nn_randn per row) */
} sl_world_ws;
sl_status sl_world_ws_alloc(sl_world_ws *ws, const sl_world *w, int B);
void sl_world_ws_free(sl_world_ws *ws);

/* Branch-free float exp (Cephes polynomial) for the inference paths: clamped to [-87, 88]
 * with fmaxf/fminf, so a NaN input gives exp(-87) instead of undefined behaviour (a NaN row is
 * caught by the explosion check); finite inputs give the same bits as before the clamp change. */
static inline float sl_world_fexp(float x) {
    x = fminf(fmaxf(x, -87.0f), 88.0f);
    /* floor(v) for v in [-125, 128) by truncating v + 128 (positive) */
    float fx = (float)(int32_t)(x * 1.44269504088896341f + 0.5f + 128.0f) - 128.0f;
    return sl_nn_expf_reduced(x, fx);
}

/* Residual clip and its derivative (c = cfg.clip_value). */
float sl_world_clipf(const sl_world *w, float d);
float sl_world_clip_grad(const sl_world *w, float d);

/* One batched step of member m: x [B, In] (standardised) and h [B,H] -> h_out, cache, out. */
void sl_world_step(const sl_world *w, int m, const float *x, const float *h, float *h_out,
                   float *cache, float *out, int B, float *gru_ws);

/* Inference-only GRU step (fastgru.c): h_out[B,H] <- x[B,In], h[B,H]; ws holds
 * sl_world_gru_infer_ws_floats(B, H) floats. */
size_t sl_world_gru_infer_ws_floats(int B, int H);
void sl_world_gru_infer(float *h_out, const float *x, const float *h, const float *w_ih,
                        const float *w_hh, const float *b_ih, const float *b_hh, int B, int In,
                        int H, float *ws);
/* zc[B,Z] += dz_std * clip(out[:, :Z]) (vectorised; out rows have stride O). */
void sl_world_residual_update(const sl_world *w, float *zc, const float *out, int B);

/* Standardise a latent / an action row. */
void sl_world_std_z(const sl_world *w, const float *z, float *zs);
void sl_world_std_a(const sl_world *w, const float *a, float *as);
/* Episode of row r in d (binary search over ep_start). */
size_t sl_world_row_episode(const sl_world_data *d, size_t r);

/* Pooled window std ratio (sl_trust_std_ratio_pooled's formula, ddof 0):
 * sqrt(sum_i sum_d var_t(a[i,:,d]) / sum_i sum_d var_t(b[i,:,d])). NAN if non-finite, +INF if
 * the denominator is 0 and the numerator is not, 1 if both are 0. */
double sl_world_window_std_ratio(const float *a, const float *b, size_t n, int T, int D);

/* --- training (train_step.c; train.c drives it) --- */

/* Batch buffers of one member's training step: B rows, S horizon slots. */
typedef struct sl_world_tr_buf {
    int B, S; /* rows, horizon slots */
    float *x, *h, *cache, *out, *zpred, *zin, *mask; /* per slot */
    float *dz, *dr, *de;     /* direct loss gradients per slot (dz: wrt the sampled z) */
    float *eps, *dm;         /* per slot [B, Z]: the noise drawn, MSE gradient wrt the mean */
    float *sg, *dls;         /* per slot [B, Z]: sigma (exp(noise_logstd + the hetero_noise
                                offset), computed once), NLL gradient wrt log sigma */
    float *dgs;              /* scratch [B, Z]: d loss / d log sigma of one slot */
    float *dout, *dh_acc, *dh_prev, *dx, *dzin_cur, *dzin_next, *gru_ws, *hb0, *hb1, *cb;
    size_t *rows;            /* [B] row of the start t0 */
    int *burn;               /* [B] */
} sl_world_tr_buf;

/* Standardised copies of everything the loss touches (rows of the whole dataset). */
typedef struct sl_world_tr_data {
    float *zs, *zns, *as, *rs, *es; /* [n,Z] [n,Z] [n,A] [n] [n,E] */
} sl_world_tr_data;
sl_status sl_world_tr_alloc(sl_world_tr_buf *b, const sl_world *w, int B, int S);
void sl_world_tr_free(sl_world_tr_buf *b);
sl_status sl_world_trd_build(sl_world_tr_data *t, const sl_world *w, const sl_world_data *d);
void sl_world_trd_free(sl_world_tr_data *t);
/* Forward + backward of one member (arena ar) over a batch already placed in b (rows, burn,
 * mask) with horizon Hs and burn-in bmax; returns the loss (NaN/Inf when it diverged, then no
 * gradient was added). Gradients are ADDED into ar's grads. */
double sl_world_member_step(const sl_world *w, sl_nn_arena *ar, const sl_world_tr_data *td,
                            sl_world_tr_buf *b, int Hs, int bmax, sl_rng *rng);

/* Test hook: the training loss of member m on one batch (start rows[B], horizon Hs, mask
 * [Hs, B] with 1 = teacher-forced input; w's norms must be set), gradients ADDED into the
 * member's arena grads (zero them first). Used by the finite-difference test. */
sl_status sl_world_batch_loss(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                              int B, int Hs, const float *mask, double *loss);
/* The same, and copies the noise drawn, eps [Hs, B, Z], to eps_out (NULL: not copied); used by
 * the PyTorch parity test. */
sl_status sl_world_batch_loss_eps(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                                  int B, int Hs, const float *mask, double *loss, float *eps_out);
/* Fit the normalisation statistics of w on the given rows of d. */
void sl_world_fit_norms(sl_world *w, const sl_world_data *d, const size_t *rows, size_t nr);

#endif
