/* SPDX-License-Identifier: Apache-2.0 */
/* sl_nn_dp.h - differentially private training for the NN engine (part of the nn module):
 * per-example gradient norms, per-example L2 clipping, Gaussian noise (DP-SGD, Abadi et al.
 * 2016) and a Renyi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov 2017;
 * Mironov, Talwar, Zhang 2019) with conversion to (eps, delta) and a noise-multiplier solver.
 *
 * How clipping works without materialising per-example gradients ("ghost clipping"): every
 * model of the engine whose loss is a sum of per-row terms (no batch coupling: Linear,
 * LayerNorm, activations, MLPs) has a backward pass that is linear in the loss gradient rows.
 * Scaling loss-gradient row b by c_b scales example b's whole parameter gradient by c_b.
 * So one step is:
 *   1. forward; loss gradients G[B,*] (per-row terms, NOT divided by B);
 *   2. sq[b] = ||d loss_b / d theta||^2 from the per-layer identities
 *        Linear  W[OC,C], b[OC]:  ||dout_b||^2 * (||in_b||^2 + 1)      (one row per example)
 *        LayerNorm w[C], b[C]:    sum_c (dout_bc * xhat_bc)^2 + dout_bc^2
 *      (sl_nn_mlp_per_example_sqnorm sums them over an MLP and returns the input gradient);
 *   3. c_b = min(1, C / max(||g_b||, tiny));  G[b,:] *= c_b;  backward -> sum_b c_b g_b;
 *   4. g = (sum_b c_b g_b + N(0, sigma^2 C^2 I)) / L, L = expected batch size (Poisson
 *      sampling with rate q = L / n), then the optimiser step (sl_nn_dp_noise_grads).
 * The result equals clipping a loop of batch-size-1 backward passes (tests/test_gen.c checks
 * it in float64 and float32).
 *
 * Accountant: for Poisson sampling rate q and noise multiplier sigma, the RDP of order alpha
 * of one step is eps(alpha) = log A_alpha / (alpha - 1), where
 *   A_alpha = E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2 z - 1) / (2 sigma^2)))^alpha]
 * (Mironov, Talwar, Zhang 2019, section 3.3: integer alpha by the binomial expansion, fractional
 * alpha by their two-sided series with erfc terms). RDP composes additively over steps. At
 * q = 1 it is alpha / (2 sigma^2). Conversion to (eps, delta) uses Balle et al. 2020 (Prop. 12):
 *   eps = min_alpha  rdp(alpha) + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1)
 * which is never larger than Mironov 2017's rdp(alpha) + log(1/delta) / (alpha - 1).
 * All in float64.
 *
 * Ownership: no function here allocates except where noted; buffers are the caller's.
 */
#ifndef SL_NN_DP_H
#define SL_NN_DP_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- Renyi-DP accountant -------------------------------------------------- */

/* RDP of order alpha (> 1) of ONE step of the Poisson-subsampled Gaussian mechanism with
 * sampling rate q in [0, 1] and noise multiplier sigma > 0 (sensitivity 1). +inf if sigma == 0
 * and q > 0. SL_ERR_ARG for out-of-range arguments. */
sl_status sl_dp_rdp_step(double q, double sigma, double alpha, double *out);

/* The orders used by the conversion: 1.1, 1.2, ..., 10.9, 11, 12, ..., 63, 64, 128, 256, 512,
 * 1024. *n gets the count; the array is static (do not free). */
const double *sl_dp_orders(size_t *n);

/* (eps, delta)-DP after `steps` steps: the minimum over sl_dp_orders of the Balle et al.
 * conversion above. *best_alpha (may be NULL) gets the order that attains it. eps = +inf if no
 * order gives a finite value; eps = 0 if steps == 0 or q == 0. delta in (0, 1). */
sl_status sl_dp_epsilon(double q, double sigma, uint64_t steps, double delta, double *eps,
                        double *best_alpha);

/* The smallest noise multiplier sigma (to 1e-4 relative) with
 * sl_dp_epsilon(q, sigma, steps, delta) <= target_eps (bisection; eps is decreasing in sigma).
 * target_eps = +inf gives sigma = 0 (no noise). SL_ERR_RANGE if even sigma = 1e4 cannot reach
 * target_eps. */
sl_status sl_dp_solve_sigma(double target_eps, double delta, double q, uint64_t steps,
                            double *sigma);

/* Composition with one extra Gaussian release (sensitivity 1, noise multiplier sigma_g > 0;
 * sigma_g = 0: none), e.g. noisy histograms published before training: the RDP of both is
 * added order by order, T eps_sgd(alpha) + alpha / (2 sigma_g^2), then converted as above. */
sl_status sl_dp_epsilon_mix(double q, double sigma, uint64_t steps, double sigma_g,
                            double delta, double *eps, double *best_alpha);
/* sl_dp_solve_sigma for the composition with that release (sigma_g fixed). */
sl_status sl_dp_solve_sigma_mix(double target_eps, double delta, double q, uint64_t steps,
                                double sigma_g, double *sigma);

/* --- per-example gradient norms and clipping ----------------------------- */

/* sq[b] += ||per-example grad of a Linear layer's weight and bias||^2 for row b, given the
 * gradient wrt its output dout[B,OC] and its input in[B,C]: ||dout_b||^2 (||in_b||^2 + 1)
 * (with_bias = 0: ||dout_b||^2 ||in_b||^2). Accumulated in double. */
void sl_nn_linear_per_example_sqnorm(double *sq, const float *dout, const float *in, int B,
                                     int C, int OC, int with_bias);
/* sq[b] += ||per-example grad of LayerNorm's w and b||^2 (xhat = (in - mean) * rstd). */
void sl_nn_layernorm_per_example_sqnorm(double *sq, const float *dout, const float *in,
                                        const float *mean, const float *rstd, int B, int C);

/* For an MLP after sl_nn_mlp_forward(c, in): ADD into sq[B] the squared L2 norm of each row's
 * gradient wrt all of the MLP's parameters, given dout[B, out] (the per-row loss gradient), and
 * ADD the input gradient into din[B, in] (NULL skips; needed when the MLP's input comes from
 * another trainable part, e.g. a VAE's decoder input z). No parameter gradient is written.
 * c's backward scratch is overwritten (as by sl_nn_mlp_backward). */
void sl_nn_mlp_per_example_sqnorm(double *sq, float *din, sl_nn_mlp_cache *c, const float *dout,
                                  const float *in, const sl_nn_mlp *m, const float *params,
                                  int B);

/* scale[b] = min(1, clip / ||g_b||) from sq[b] = ||g_b||^2 (a zero gradient gets 1). Returns
 * the number of rows that were clipped (scale < 1). clip > 0. */
int sl_dp_clip_scales(float *scale, const double *sq, int B, float clip);

/* rows[b, 0..D) *= scale[b]. */
void sl_dp_scale_rows(float *rows, const float *scale, int B, int D);

/* grads[n] = (grads[n] + sigma * clip * N(0, 1)) / expected_batch: the noise and averaging of
 * one DP-SGD step over the clipped SUM of per-example gradients. sigma = 0 only averages.
 * Normals from sl_nn_randn(rng) (deterministic in the rng state). Padding entries of an arena's
 * grads region must stay zero: use sl_nn_dp_noise_arena for arenas. */
void sl_nn_dp_noise_grads(float *grads, size_t n, float sigma, float clip, float expected_batch,
                          sl_rng *rng);
/* sl_nn_dp_noise_grads over every tensor of an arena (padding untouched). Allocates one
 * temporary buffer of the largest tensor's size (SL_ERR_NOMEM). */
sl_status sl_nn_dp_noise_arena(sl_nn_arena *a, float sigma, float clip, float expected_batch,
                               sl_rng *rng);

/* --- privacy statement ---------------------------------------------------- */

/* What a trained model (and every file it generates) carries: eps = +inf with has_dp = 0 means
 * "no differential privacy". */
typedef struct sl_dp_spent {
    int has_dp;       /* 1: trained with DP-SGD and accounted */
    double epsilon;   /* (eps, delta)-DP; +inf without DP */
    double delta;
    double sigma;     /* noise multiplier of DP-SGD */
    double sigma_hist; /* noise multiplier of a Gaussian release composed with it (0: none) */
    double clip;      /* per-example L2 clip */
    double q;         /* Poisson sampling rate */
    uint64_t steps;
} sl_dp_spent;

#ifdef __cplusplus
}
#endif
#endif /* SL_NN_DP_H */
