/* SPDX-License-Identifier: Apache-2.0 */
/* nn_ref.h - naive reference kernels (internal), instantiated for float (_f32) and double (_f64).
 *
 * Same signatures and conventions as the fast kernels in sl_nn.h (forward overwrites, backward
 * adds, losses overwrite their gradients), with REAL in place of float. They are the test
 * reference (float64 for finite differences, float32 against the fast kernels) and the
 * readable statement of every formula. The GRU kernels take a ws of sl_nn_gru_ws_floats(B,H)
 * REALs, InfoNCE a ws of B*B REALs.
 */
#ifndef SL_NN_REF_H
#define SL_NN_REF_H

#include "synthloop/sl_nn.h"

#define SL_NN_REF_DECLARE(REAL, SFX)                                                           \
    void sl_nn_ref_linear_forward_##SFX(REAL *out, const REAL *in, const REAL *w,              \
                                        const REAL *b, int B, int C, int OC);                  \
    void sl_nn_ref_linear_backward_##SFX(REAL *din, REAL *dw, REAL *db, const REAL *dout,      \
                                         const REAL *in, const REAL *w, int B, int C, int OC); \
    void sl_nn_ref_act_forward_##SFX(REAL *out, const REAL *in, size_t n, sl_nn_act act);      \
    void sl_nn_ref_act_backward_##SFX(REAL *din, const REAL *dout, const REAL *in,             \
                                      const REAL *out, size_t n, sl_nn_act act);               \
    void sl_nn_ref_layernorm_forward_##SFX(REAL *out, REAL *mean, REAL *rstd, const REAL *in,  \
                                           const REAL *w, const REAL *b, int B, int C,         \
                                           REAL eps);                                          \
    void sl_nn_ref_layernorm_backward_##SFX(REAL *din, REAL *dw, REAL *db, const REAL *dout,   \
                                            const REAL *in, const REAL *mean,                  \
                                            const REAL *rstd, const REAL *w, int B, int C);    \
    void sl_nn_ref_gru_cell_forward_##SFX(REAL *h_out, REAL *cache, const REAL *x,             \
                                          const REAL *h, const REAL *w_ih, const REAL *w_hh,   \
                                          const REAL *b_ih, const REAL *b_hh, int B, int In,    \
                                          int H, REAL *ws);                                    \
    void sl_nn_ref_gru_cell_backward_##SFX(REAL *dx, REAL *dh, REAL *dw_ih, REAL *dw_hh,       \
                                           REAL *db_ih, REAL *db_hh, const REAL *dh_out,       \
                                           const REAL *cache, const REAL *x, const REAL *h,    \
                                           const REAL *w_ih, const REAL *w_hh, int B, int In,   \
                                           int H, REAL *ws);                                   \
    void sl_nn_ref_gru_forward_##SFX(REAL *hs, REAL *cache, const REAL *xs, const REAL *h0,    \
                                     const REAL *w_ih, const REAL *w_hh, const REAL *b_ih,     \
                                     const REAL *b_hh, int T, int B, int In, int H, REAL *ws);  \
    void sl_nn_ref_gru_backward_##SFX(REAL *dxs, REAL *dh0, REAL *dw_ih, REAL *dw_hh,          \
                                      REAL *db_ih, REAL *db_hh, const REAL *dhs,               \
                                      const REAL *hs, const REAL *cache, const REAL *xs,       \
                                      const REAL *h0, const REAL *w_ih, const REAL *w_hh,      \
                                      int T, int B, int In, int H, REAL *ws);                   \
    void sl_nn_ref_tanh_gaussian_forward_##SFX(REAL *act, REAL *logp, const REAL *in,          \
                                               const REAL *eps, int B, int A);                 \
    void sl_nn_ref_tanh_gaussian_backward_##SFX(REAL *din, const REAL *dact,                   \
                                                const REAL *dlogp, const REAL *act,            \
                                                const REAL *in, const REAL *eps, int B, int A); \
    REAL sl_nn_ref_mse_loss_##SFX(REAL *dpred, const REAL *pred, const REAL *target,           \
                                  const REAL *weight, int B, int D);                           \
    REAL sl_nn_ref_gaussian_nll_loss_##SFX(REAL *dmean, REAL *dlogvar, const REAL *mean,       \
                                           const REAL *logvar, const REAL *target, size_t n,   \
                                           int full);                                          \
    REAL sl_nn_ref_bce_logits_loss_##SFX(REAL *dlogits, const REAL *logits,                    \
                                         const REAL *targets, const REAL *weight, size_t n);   \
    REAL sl_nn_ref_infonce_loss_##SFX(REAL *da, REAL *dp, const REAL *a, const REAL *p, int B, \
                                      int D, REAL temperature, REAL *ws);                      \
    void sl_nn_ref_adam_update_##SFX(REAL *params, REAL *m, REAL *v, const REAL *grads,        \
                                     size_t n, const sl_nn_adam *cfg, uint64_t t);

SL_NN_REF_DECLARE(float, f32)
SL_NN_REF_DECLARE(double, f64)

#endif /* SL_NN_REF_H */
