/* SPDX-License-Identifier: Apache-2.0 */
/* sl_latent.h - the contrastive latent encoder ("z_V"): observations -> latents.
 *
 * Model: x_std = (obs - obs_mean) / obs_std (statistics of the training rows, stored in the
 * checkpoint), h = MLP(x_std) (Linear -> LayerNorm -> ReLU hidden layers, Linear output of
 * z_dim), u = h / ||h|| (unit vector). InfoNCE uses the unit vectors:
 * logits = u_anchor . u_positive / temperature. The STORED latent is u standardised per
 * dimension, z = (u - z_mean) / z_std, with z_mean/z_std the per-dim mean/std of u over the
 * training rows (fitted after training, stored in the checkpoint): every latent dimension has
 * mean 0 and std 1 over the training rows, whatever the observation units are.
 *
 * Training (InfoNCE, symmetric): a batch takes anchors from as many different episodes as
 * possible; anchors of the same episode are more than 2k steps apart, so that no other item
 * of the batch is a "nearby step" of an anchor. Each anchor's positive is a step of the same
 * episode at offset delta, 1 <= |delta| <= k; the other positives of the batch are its
 * negatives. InfoNCE = (CE(u_a u_p^T / tau) + CE(u_p u_a^T / tau)) / 2.
 * Reconstruction (recon_weight w > 0): a decoder MLP of the same style (z_dim -> hidden x
 * n_hidden -> obs_dim, Linear -> LayerNorm -> ReLU hidden layers, linear output) maps every
 * row's unit vector u back to its x_std; loss = InfoNCE + w * MSE(dec(u), x_std), MSE the mean
 * over the 2B batch rows and obs_dim dims. InfoNCE alone only needs to tell episodes and times
 * apart and drops control-relevant state (heights, velocities, gripper), which the
 * reconstruction term keeps. w = 0 trains no decoder: the pure-InfoNCE encoder, bit for bit.
 * Same seed + config + thread count => bit-identical parameters and latents.
 *
 * Files (docs/ENCODER.md):
 *   checkpoint (safetensors): MLP tensors "enc.l<i>.weight|bias", "enc.ln<i>.weight|bias",
 *     with a decoder also "dec.l<i>.weight|bias", "dec.ln<i>.weight|bias";
 *     "obs_mean", "obs_std" [obs_dim], "z_mean", "z_std" [z_dim]; __metadata__ "synthloop_kind" =
 *     "latent_encoder", "config" = JSON text {obs_dim, z_dim, hidden, n_hidden, k,
 *     temperature, epochs, batch, lr, recon_weight, seed, normalisation{obs_mean, obs_std},
 *     ...}. A checkpoint without "recon_weight" (older) loads as recon_weight 0, no decoder.
 *   latents (NPZ): "latents" f4 [n, z_dim], "next_latents" f4 [n, z_dim] (row i encodes
 *     observations[i] / next_observations[i] of the dataset) and "episode_ids" i4 [n].
 *
 * Ownership: sl_latent_encoder objects are created by sl_latent_train / sl_latent_load and
 * released with sl_latent_free (NULL harmless). Output buffers are always the caller's.
 */
#ifndef SL_LATENT_H
#define SL_LATENT_H

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- configuration -------------------------------------------------------- */

typedef struct sl_latent_config {
    int z_dim;          /* latent dimensions (default 32) */
    int hidden;         /* hidden width (default 128) */
    int n_hidden;       /* hidden layers (default 2; 1..8) */
    int k;              /* positives are steps with 1 <= |dt| <= k (default 3) */
    int epochs;         /* passes; one epoch = ceil(n_train_rows / batch) updates (default 20) */
    int batch;          /* target anchors per batch (default 128) */
    float lr;           /* Adam learning rate (default 1e-3) */
    float temperature;  /* InfoNCE temperature (default 0.5; 0.1 before the decoder) */
    double val_frac;    /* fraction of episodes held out for the report (default 0.1; 0 = none) */
    float recon_weight; /* weight of the reconstruction MSE (default 10; 0 = pure InfoNCE, no
                           decoder; [0, 1e4]) */
    uint64_t seed;      /* default 0 */
} sl_latent_config;

/* The defaults above. */
sl_latent_config sl_latent_config_default(void);
/* SL_ERR_ARG naming the first bad field. */
sl_status sl_latent_config_check(const sl_latent_config *cfg);

/* --- the encoder ----------------------------------------------------------- */

typedef struct sl_latent_encoder sl_latent_encoder; /* opaque */

/* What training did; filled by sl_latent_train (all finite). */
typedef struct sl_latent_train_report {
    int epochs, steps;
    size_t n_train_episodes, n_val_episodes;
    size_t n_train_rows;
    double loss_first_epoch;  /* mean training InfoNCE loss over the first epoch */
    double loss_last_epoch;   /* ... over the last epoch */
    double val_loss;          /* held-out InfoNCE loss (0 when nothing is held out) */
    double val_retrieval;     /* held-out top-1 nearby-step retrieval accuracy (see below) */
    double val_chance;        /* its chance level (1 / mean batch size) */
    double recon_first_epoch; /* mean training reconstruction MSE (x_std units) over the first */
    double recon_last_epoch;  /* ... and the last epoch (both 0 without a decoder) */
    double val_recon_mse;     /* held-out reconstruction MSE of x_std, mean over rows and dims
                                 (0 without a decoder or held-out episodes); 1.0 = no better
                                 than predicting the training mean */
    double seconds;           /* wall time (informational; never part of results' bits) */
} sl_latent_train_report;

/* Train an encoder on `ds` (observations only; episodes from episode_ids). Needs at least 2
 * episodes with >= 2 steps each among the training episodes. Observations must be finite
 * (SL_ERR_NAN naming row and column). Held-out episodes (cfg->val_frac, at least one when
 * val_frac > 0 and there are >= 3 episodes) are chosen from the seed and used only for the
 * report. *out is owned by the caller. `report` may be NULL. */
sl_status sl_latent_train(sl_latent_encoder **out, const sl_dataset *ds,
                          const sl_latent_config *cfg, sl_latent_train_report *report);
void sl_latent_free(sl_latent_encoder *enc);

int sl_latent_obs_dim(const sl_latent_encoder *enc);
/* The output standardisation: a stored latent is z = (u - z_mean) / z_std with ||u|| = 1, so
 * every latent lies on the sphere {z : ||z * z_std + z_mean|| = 1}. Pointers into the encoder
 * ([z_dim] each), valid while it lives. */
void sl_latent_z_norm(const sl_latent_encoder *enc, const float **z_mean, const float **z_std);
int sl_latent_z_dim(const sl_latent_encoder *enc);
/* The config it was trained with (copied out). */
sl_latent_config sl_latent_get_config(const sl_latent_encoder *enc);

/* z[n, z_dim] <- obs[n, obs_dim]. Fails with SL_ERR_NAN (naming the row and column) if an
 * observation is not finite; z is then unspecified. Deterministic; thread-safe for distinct
 * encoders (uses internal scratch, so not for one encoder from two threads at once). */
sl_status sl_latent_encode(sl_latent_encoder *enc, const float *obs, size_t n, int obs_dim,
                           float *z);
/* Encode a whole dataset: z[n * z_dim] from observations, next_z from next_observations
 * (next_z may be NULL). SL_ERR_SHAPE if ds->obs_dim != the encoder's obs_dim. */
sl_status sl_latent_encode_dataset(sl_latent_encoder *enc, const sl_dataset *ds, float *z,
                                   float *next_z);

/* Nearby-step retrieval on `ds` (e.g. held-out episodes): batches are drawn exactly as in
 * training (seeded by `seed`); for every anchor, the candidate set is the batch's positives
 * and a hit means its own positive has the highest cosine similarity. *acc = hits / anchors,
 * *chance = anchors-weighted 1 / batch size, *loss = mean symmetric InfoNCE loss.
 * Any out pointer may be NULL. Needs >= 2 episodes with >= 2 steps. */
sl_status sl_latent_eval_retrieval(sl_latent_encoder *enc, const sl_dataset *ds, int batches,
                                   uint64_t seed, double *acc, double *chance, double *loss);

/* Reconstruction MSE of x_std over every row of `ds` (mean over rows and dims).
 * SL_ERR_STATE if the encoder has no decoder (recon_weight 0 or an older checkpoint). */
sl_status sl_latent_eval_recon(sl_latent_encoder *enc, const sl_dataset *ds, double *mse);

/* Save / load a checkpoint (format in the header comment). `extra_meta` (may be NULL) is a
 * cJSON object of string values merged into __metadata__ (e.g. provenance). */
sl_status sl_latent_save(const sl_latent_encoder *enc, const char *path, const cJSON *extra_meta);
sl_status sl_latent_load(sl_latent_encoder **out, const char *path);

/* --- latent files ------------------------------------------------------------ */

/* Write "latents", "next_latents" (may be NULL: omitted) and "episode_ids" (may be NULL:
 * omitted) atomically. SL_ERR_NAN if a value is not finite (nothing written). */
sl_status sl_latents_save_npz(const char *path, const float *z, const float *next_z,
                              const int32_t *episode_ids, size_t n, int z_dim);
/* Read a latents file. *z and (if next_z is non-NULL and the key exists) *next_z, *episode_ids
 * (if non-NULL and present; else set to NULL) are malloc'd (caller frees). Checks f4, rank 2,
 * equal shapes and finiteness. `expect_n` > 0 requires exactly that many rows
 * (SL_ERR_SHAPE naming both counts, e.g. a latents file that does not belong to a dataset). */
sl_status sl_latents_load_npz(const char *path, size_t expect_n, float **z, float **next_z,
                              int32_t **episode_ids, size_t *n, int *z_dim);

/* --- statistics (seed 001's "Real z_V statistics") ---------------------------- */

typedef struct sl_latent_stats {
    size_t n_rows, n_episodes;
    int z_dim;
    double ep_mean_mean, ep_mean_std; /* mean +- std over episodes of each episode's mean */
    double ep_std_mean, ep_std_std;   /* mean +- std over episodes of each episode's std */
    double min, max;                  /* global range */
    double dim_std_mean;              /* mean over dims of the per-dim std over all rows */
} sl_latent_stats;

/* An episode's mean and std are over all its values (steps x dims pooled, ddof 0, as numpy's
 * z_ep.mean() / z_ep.std()); the spread over episodes also uses ddof 0 (0 for one episode).
 * episode_ids [n] contiguous and non-decreasing (as a dataset's). SL_ERR_NAN if non-finite. */
sl_status sl_latent_compute_stats(const float *z, const int32_t *episode_ids, size_t n,
                                  int z_dim, sl_latent_stats *out);
/* Print the table as seed 001 does ("  Mean: -0.039 +- 0.067" ...), with a title line. */
void sl_latent_stats_print(FILE *fp, const char *title, const sl_latent_stats *s);
/* Add the stats as a JSON object under `key`. */
void sl_latent_stats_to_json(cJSON *obj, const char *key, const sl_latent_stats *s);

#ifdef __cplusplus
}
#endif
#endif /* SL_LATENT_H */
