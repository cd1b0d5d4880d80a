/* SPDX-License-Identifier: Apache-2.0 */
/* latent_internal.h - the latent encoder's private layout, for src/latent/ and the tests.
 *
 * Invariant: the arena holds the encoder MLP "enc.*" and, iff has_dec, the reconstruction
 * decoder MLP "dec.*" (declared after the encoder, so an encoder without a decoder has exactly
 * the arena layout of the pure-InfoNCE encoder). obs_std and z_std are strictly positive.
 */
#ifndef SL_LATENT_INTERNAL_H
#define SL_LATENT_INTERNAL_H

#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"

struct sl_latent_encoder {
    sl_latent_config cfg;
    int obs_dim;
    float *obs_mean, *obs_std; /* [obs_dim] owned */
    float *z_mean, *z_std;     /* [z_dim] owned: output standardisation */
    sl_nn_arena arena;         /* enc.* then (has_dec) dec.* */
    sl_nn_mlp mlp;             /* encoder: x_std [obs_dim] -> h [z_dim] */
    int has_dec;
    sl_nn_mlp dec;             /* decoder: u [z_dim] -> x_std hat [obs_dim] (if has_dec) */
    sl_nn_mlp_cache cache;     /* max_B = cache_B */
    sl_nn_mlp_cache dec_cache; /* max_B = cache_B (if has_dec) */
    int cache_B;
    float *x, *h;              /* scratch [cache_B * obs_dim], [cache_B * z_dim] */
    float *xhat;               /* scratch [cache_B * obs_dim] (if has_dec) */
};

/* One training step's loss and gradient, for gradient checks: rows anchors[0..B) and
 * positives[0..B) of obs (standardised with the encoder's statistics). Zeroes the arena's
 * grads, then leaves d(total)/d(params) in them, where
 *   total = InfoNCE_sym + cfg.recon_weight * MSE(dec(u), x_std)   (MSE over all 2B rows);
 * *infonce and *recon (may be NULL) get the two terms (recon 0 without a decoder). */
sl_status sl_latent_loss_grad(sl_latent_encoder *e, const float *obs, const size_t *anchors,
                              const size_t *positives, int B, double *total, double *infonce,
                              double *recon);

#endif /* SL_LATENT_INTERNAL_H */
