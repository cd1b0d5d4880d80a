/* SPDX-License-Identifier: Apache-2.0 */
/* dp_ref.h - float64 instances of the per-example norm identities of dpsgd.c (internal; the
 * float64 test's counterpart of sl_nn_linear/layernorm_per_example_sqnorm, same contract). */
#ifndef SL_NN_DP_REF_H
#define SL_NN_DP_REF_H

void sl_nn_linear_per_example_sqnorm_f64(double *sq, const double *dout, const double *in, int B,
                                         int C, int OC, int with_bias);
void sl_nn_layernorm_per_example_sqnorm_f64(double *sq, const double *dout, const double *in,
                                            const double *mean, const double *rstd, int B,
                                            int C);

#endif /* SL_NN_DP_REF_H */
