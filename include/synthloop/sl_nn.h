/* SPDX-License-Identifier: Apache-2.0 */
/* sl_nn.h - the neural-network engine: parameter arena, layers, losses, optimisers.
 *
 * Style (llm.c): a layer is a pair of plain functions over flat float32 buffers with the sizes
 * passed in. Argument order: outputs first, then saved activations, then inputs/parameters,
 * then sizes. Every layout is row-major and follows PyTorch (Linear W[OC,C]; GRU W_ih[3H,In],
 * W_hh[3H,H] with gate order r,z,n; sequences time-major [T,B,*]).
 *
 * Key conventions (the invariants every caller relies on):
 *   - Forward functions OVERWRITE their outputs and saved activations.
 *   - Backward functions ADD into every gradient they write (din, dweight, dbias, dh, ...),
 *     so one zero_grad per step clears them. A NULL gradient pointer skips that gradient and
 *     its work (e.g. din of the first layer, or weight grads nobody needs).
 *   - Loss functions return the loss and OVERWRITE the gradient wrt their inputs (NULL skips).
 *   - Output buffers never alias input buffers unless a comment says so.
 *   - Kernels never allocate; buffers they need beyond their outputs are passed as `ws`
 *     (workspace) with the size given by a *_ws_floats() helper.
 *   - Results are bit-identical for the same inputs and the same thread count
 *     (sl_nn_set_threads); all parallel loops split work statically, never reduce across threads.
 *
 * Ownership: an sl_nn_arena owns its tensor table and its one float allocation; pointers into it
 * stay valid from sl_nn_arena_alloc until sl_nn_arena_free. Layer descriptors (sl_nn_linear,
 * sl_nn_gru, sl_nn_mlp) hold OFFSETS, not pointers, so they work with any arena of the same
 * layout (e.g. a target network declared the same way). An sl_nn_mlp_cache owns its memory.
 *
 * Float64 naive reference kernels (for gradient checks) live in src/nn/nn_ref.h.
 */
#ifndef SL_NN_H
#define SL_NN_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- threads ------------------------------------------------------------ */

/* Threads used by the kernels (OpenBLAS and OpenMP). n <= 0 means "all cores".
 * Same inputs + same thread count => same bits. */
void sl_nn_set_threads(int n);
int sl_nn_get_threads(void);

/* --- parameter arena ---------------------------------------------------- */

#define SL_NN_MAX_DIMS 4
#define SL_NN_NAME_MAX 96

typedef struct sl_nn_tensor {
    char name[SL_NN_NAME_MAX];     /* unique within the arena, e.g. "critic1.l0.weight" */
    int ndim;                      /* 1..SL_NN_MAX_DIMS */
    size_t shape[SL_NN_MAX_DIMS];  /* unused trailing dims are 1 */
    size_t numel;
    size_t offset;                 /* in floats from the start of each region; 16-aligned */
} sl_nn_tensor;

/* One allocation holding four regions of `numel` floats each: params, grads, Adam m, Adam v.
 * Declare every tensor first (sl_nn_arena_add), then sl_nn_arena_alloc once.
 * Padding between tensors is zero and stays zero. */
typedef struct sl_nn_arena {
    sl_nn_tensor *tensors; /* [n_tensors], owned */
    size_t n_tensors, cap_tensors;
    size_t numel;          /* floats per region, including alignment padding */
    float *mem;            /* owned; NULL until allocated */
    float *params, *grads, *m, *v; /* regions inside mem */
    uint64_t step;         /* optimiser steps taken (Adam's t); saved with checkpoints */
} sl_nn_arena;

/* Empty arena (no allocation). */
void sl_nn_arena_init(sl_nn_arena *a);
/* Declare a tensor. Fails with SL_ERR_STATE after alloc, SL_ERR_ARG on a duplicate or too-long
 * name or bad shape. *offset_out (may be NULL) gets its float offset in every region. */
sl_status sl_nn_arena_add(sl_nn_arena *a, const char *name, int ndim, const size_t *shape,
                          size_t *offset_out);
/* Allocate all four regions, zero-filled. Pointers are valid afterwards. */
sl_status sl_nn_arena_alloc(sl_nn_arena *a);
/* Release everything and re-init. NULL is harmless. */
void sl_nn_arena_free(sl_nn_arena *a);
/* Index of the tensor called `name` (SL_ERR_NOTFOUND if none). */
sl_status sl_nn_arena_find(const sl_nn_arena *a, const char *name, size_t *index);
/* Sum of numel over tensors (without padding). */
size_t sl_nn_arena_num_params(const sl_nn_arena *a);
/* Pointers to tensor `index` in each region (valid after alloc). */
float *sl_nn_arena_param(const sl_nn_arena *a, size_t index);
float *sl_nn_arena_grad(const sl_nn_arena *a, size_t index);
float *sl_nn_arena_adam_m(const sl_nn_arena *a, size_t index);
float *sl_nn_arena_adam_v(const sl_nn_arena *a, size_t index);
/* grads = 0. */
void sl_nn_arena_zero_grad(sl_nn_arena *a);
/* Copy params of src into dst; both must have identical tensor tables (SL_ERR_SHAPE). */
sl_status sl_nn_arena_copy_params(sl_nn_arena *dst, const sl_nn_arena *src);
/* target = (1 - tau) * target + tau * src over params (same layout required; SL_ERR_SHAPE). */
sl_status sl_nn_arena_polyak(sl_nn_arena *target, const sl_nn_arena *src, float tau);

/* --- initialisation (PyTorch defaults, driven by sl_rng) ---------------- */

/* x[i] ~ U(-bound, bound). */
void sl_nn_init_uniform(float *x, size_t n, float bound, sl_rng *rng);
/* nn.Linear default: W and b ~ U(-1/sqrt(C), 1/sqrt(C)). b may be NULL. */
void sl_nn_init_linear(float *w, float *b, int C, int OC, sl_rng *rng);
/* nn.GRU default: all four tensors ~ U(-1/sqrt(H), 1/sqrt(H)). */
void sl_nn_init_gru(float *w_ih, float *w_hh, float *b_ih, float *b_hh, int In, int H,
                    sl_rng *rng);

/* --- activations -------------------------------------------------------- */

typedef enum sl_nn_act {
    SL_NN_ACT_NONE = 0, /* identity */
    SL_NN_ACT_RELU,
    SL_NN_ACT_TANH,
    SL_NN_ACT_SILU,
    SL_NN_ACT_SIGMOID,
    SL_NN_ACT_COUNT
} sl_nn_act;

/* "none", "relu", "tanh", "silu", "sigmoid"; NULL for out-of-range. */
const char *sl_nn_act_name(sl_nn_act act);
/* Parse a name above (SL_ERR_ARG if unknown). */
sl_status sl_nn_act_parse(const char *name, sl_nn_act *out);

/* out[n] = act(in[n]). out may equal in (in place). */
void sl_nn_act_forward(float *out, const float *in, size_t n, sl_nn_act act);
/* din[n] += dout[n] * act'(in); uses `out` (relu/tanh/sigmoid) or `in` (silu), both from the
 * forward pass (so for SiLU `in` must not have been overwritten). */
void sl_nn_act_backward(float *din, const float *dout, const float *in, const float *out,
                        size_t n, sl_nn_act act);

/* --- linear ------------------------------------------------------------- */

/* out[B,OC] = in[B,C] @ w[OC,C]^T + b[OC]  (b may be NULL) */
void sl_nn_linear_forward(float *out, const float *in, const float *w, const float *b, int B,
                          int C, int OC);
/* din[B,C] += dout @ w;  dw[OC,C] += dout^T @ in;  db[OC] += sum_b dout  (each may be NULL) */
void sl_nn_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int B, int C, int OC);

/* sl_nn_linear_forward with the weight given transposed, w_t[C,OC] = w^T (sl_nn_transpose,
 * e.g. once per optimiser step, so that per-step calls do not re-pack w). Same outputs bit for
 * bit; runs on the calling thread only (never starts an OpenMP team). */
void sl_nn_linear_forward_t(float *out, const float *in, const float *w_t, const float *b, int B,
                            int C, int OC);
/* The share `part` (0 <= part < nparts) of sl_nn_linear_backward(NULL, dw, db, dout, in, NULL,
 * B, C, OC): ADDs rows [o0, o1) of dw[OC,C] and entries [o0, o1) of db (each may be NULL),
 * [o0, o1) = sl_nn_part_range(OC, part, nparts). The nparts shares write disjoint entries and
 * together add exactly what the one call adds (same bits: every entry sums its B rows in the
 * same order), and each runs on the calling thread only (never starts an OpenMP team), so the
 * threads of a caller's parallel region can each take one share. */
void sl_nn_linear_weight_grads_part(float *dw, float *db, const float *dout, const float *in,
                                    int B, int C, int OC, int part, int nparts);

/* A Linear layer's tensors in an arena: "<prefix>.weight" [OC,C] and "<prefix>.bias" [OC]. */
typedef struct sl_nn_linear {
    int C, OC;
    size_t w, b; /* offsets into an arena's regions */
} sl_nn_linear;
sl_status sl_nn_linear_declare(sl_nn_linear *l, sl_nn_arena *a, const char *prefix, int C, int OC);
void sl_nn_linear_init(const sl_nn_linear *l, float *params, sl_rng *rng);

/* --- layer norm --------------------------------------------------------- */

/* out[B,C] = (in - mean) * rstd * w[C] + b[C]; saves mean[B], rstd[B] (biased variance, eps
 * inside the sqrt, as torch.nn.LayerNorm; PyTorch default eps = 1e-5). */
void sl_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                             const float *w, const float *b, int B, int C, float eps);
/* din[B,C] += ...; dw[C] += ...; db[C] += ... (each may be NULL) */
void sl_nn_layernorm_backward(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *mean, const float *rstd,
                              const float *w, int B, int C);

/* --- GRU (torch.nn.GRU formulation, one layer) --------------------------- *
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 * Rows of W_ih[3H,In], W_hh[3H,H], b_ih[3H], b_hh[3H] are stacked r, z, n. */

/* Floats of one step's cache (r, z, n, W_hn h + b_hn): 4*B*H. */
size_t sl_nn_gru_cache_floats(int B, int H);
/* Floats of the workspace for every GRU kernel below: 8*B*H. Contents are scratch. */
size_t sl_nn_gru_ws_floats(int B, int H);

/* h_out[B,H], cache[4BH] <- x[B,In], h[B,H]. h_out must not alias h. */
void sl_nn_gru_cell_forward(float *h_out, float *cache, const float *x, const float *h,
                            const float *w_ih, const float *w_hh, const float *b_ih,
                            const float *b_hh, int B, int In, int H, float *ws);
/* Given dh_out[B,H] (gradient wrt h_out), ADD into dx[B,In], dh[B,H] (wrt the h input),
 * dw_ih, dw_hh, db_ih, db_hh (each may be NULL). dh must not alias dh_out.
 * x, h, cache are the forward's. */
void sl_nn_gru_cell_backward(float *dx, float *dh, float *dw_ih, float *dw_hh, float *db_ih,
                             float *db_hh, const float *dh_out, const float *cache,
                             const float *x, const float *h, const float *w_ih,
                             const float *w_hh, int B, int In, int H, float *ws);

/* BPTT with deferred weight gradients (e.g. autoregressive models, whose step inputs depend on
 * earlier outputs): per step, sl_nn_gru_cell_backward_gates ADDs into dx[B,In] and dh[B,H]
 * (each may be NULL) like sl_nn_gru_cell_backward, but instead of weight gradients it
 * OVERWRITES the step's gate gradients g_ih[B,3H] and g_hh[B,3H] (keep one pair per step).
 * After the last step, one sl_nn_gru_weight_grads over all N = T*B rows ADDs
 * dw_ih += g_ih^T xs, dw_hh += g_hh^T hprev, db_ih, db_hh (each may be NULL), where xs[N,In]
 * and hprev[N,H] (the h input of every step: h0, hs[0..T-2]) are stacked in the same row
 * order as g_ih/g_hh. Two large sgemms instead of 2T small ones; same gradients up to float
 * summation order (deterministic). dh must not alias dh_out. */
void sl_nn_gru_cell_backward_gates(float *dx, float *dh, float *g_ih, float *g_hh,
                                   const float *dh_out, const float *cache, const float *h,
                                   const float *w_ih, const float *w_hh, int B, int In, int H);
void sl_nn_gru_weight_grads(float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                            const float *g_ih, const float *g_hh, const float *xs,
                            const float *hprev, int N, int In, int H);

/* sl_nn_gru_weight_grads split into nparts shares of the 3H gate rows (see
 * sl_nn_linear_weight_grads_part): share `part` ADDs its rows of dw_ih, dw_hh and entries of
 * db_ih, db_hh; all shares together = one sl_nn_gru_weight_grads call, bit for bit. Runs on
 * the calling thread only. */
void sl_nn_gru_weight_grads_part(float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                                 const float *g_ih, const float *g_hh, const float *xs,
                                 const float *hprev, int N, int In, int H, int part, int nparts);

/* sl_nn_gru_cell_forward with the weights given transposed, w_ih_t[In,3H] = w_ih^T and
 * w_hh_t[H,3H] = w_hh^T (sl_nn_transpose, once per optimiser step): the gate products then read
 * them in place instead of re-packing w_ih/w_hh on every call. Same outputs bit for bit. Runs on
 * the calling thread only (never starts an OpenMP team), so the threads of a caller's parallel
 * region may each run it on their own block of batch rows (B = their row count, x, h, h_out at
 * their first row, their own cache and ws). */
void sl_nn_gru_cell_forward_t(float *h_out, float *cache, const float *x, const float *h,
                              const float *w_ih_t, const float *w_hh_t, const float *b_ih,
                              const float *b_hh, int B, int In, int H, float *ws);

/* Unrolled over T steps with teacher-forced inputs (all xs known up front):
 * hs[T,B,H] (hidden state after each step), cache[T * 4BH] <- xs[T,B,In], h0[B,H]. */
void sl_nn_gru_forward(float *hs, float *cache, const float *xs, const float *h0,
                       const float *w_ih, const float *w_hh, const float *b_ih,
                       const float *b_hh, int T, int B, int In, int H, float *ws);
/* Full BPTT: dhs[T,B,H] is the loss gradient wrt every hs[t] (from the heads). ADDS into
 * dxs[T,B,In], dh0[B,H], dw_ih, dw_hh, db_ih, db_hh (each may be NULL). */
void sl_nn_gru_backward(float *dxs, float *dh0, float *dw_ih, float *dw_hh, float *db_ih,
                        float *db_hh, const float *dhs, const float *hs, const float *cache,
                        const float *xs, const float *h0, const float *w_ih, const float *w_hh,
                        int T, int B, int In, int H, float *ws);

/* A GRU's tensors in an arena, named as torch.nn.GRU's: "<prefix>.weight_ih_l0" [3H,In],
 * "<prefix>.weight_hh_l0" [3H,H], "<prefix>.bias_ih_l0" [3H], "<prefix>.bias_hh_l0" [3H]. */
typedef struct sl_nn_gru {
    int In, H;
    size_t w_ih, w_hh, b_ih, b_hh; /* offsets */
} sl_nn_gru;
sl_status sl_nn_gru_declare(sl_nn_gru *g, sl_nn_arena *a, const char *prefix, int In, int H);
void sl_nn_gru_init(const sl_nn_gru *g, float *params, sl_rng *rng);

/* --- MLP ---------------------------------------------------------------- *
 * Linear -> [LayerNorm] -> act for every hidden layer; the output layer is Linear only.
 * Tensors: "<prefix>.l<i>.weight"/".bias" for linear i, "<prefix>.ln<i>.weight"/".bias". */

#define SL_NN_MLP_MAX_LAYERS 16

typedef struct sl_nn_mlp {
    int n_layers;                          /* linear layers = hidden layers + 1 */
    int sizes[SL_NN_MLP_MAX_LAYERS + 1];   /* sizes[0] = input, sizes[n_layers] = output */
    sl_nn_act act;
    int layernorm;                         /* 1: LayerNorm (eps 1e-5) on hidden layers */
    size_t w[SL_NN_MLP_MAX_LAYERS], b[SL_NN_MLP_MAX_LAYERS];       /* offsets */
    size_t ln_w[SL_NN_MLP_MAX_LAYERS], ln_b[SL_NN_MLP_MAX_LAYERS]; /* offsets if layernorm */
} sl_nn_mlp;

/* Saved activations of one forward pass, for up to max_B rows. One allocation. */
typedef struct sl_nn_mlp_cache {
    int max_B;
    float *mem;                            /* owned */
    float *lin[SL_NN_MLP_MAX_LAYERS];      /* [B, sizes[l+1]] hidden linear outputs */
    float *ln[SL_NN_MLP_MAX_LAYERS];       /* [B, sizes[l+1]] LayerNorm outputs (or NULL) */
    float *mean[SL_NN_MLP_MAX_LAYERS], *rstd[SL_NN_MLP_MAX_LAYERS]; /* [B] (or NULL) */
    float *act[SL_NN_MLP_MAX_LAYERS];      /* [B, sizes[l+1]] activation outputs */
    float *g0, *g1;                        /* [B, max width] backward scratch */
} sl_nn_mlp_cache;

/* sizes[0..n_layers]: input, hidden..., output. 1 <= n_layers <= SL_NN_MLP_MAX_LAYERS. */
sl_status sl_nn_mlp_declare(sl_nn_mlp *m, sl_nn_arena *a, const char *prefix, int n_layers,
                            const int *sizes, sl_nn_act act, int layernorm);
/* PyTorch defaults: Linear as sl_nn_init_linear, LayerNorm weight 1, bias 0. */
void sl_nn_mlp_init(const sl_nn_mlp *m, float *params, sl_rng *rng);
sl_status sl_nn_mlp_cache_alloc(sl_nn_mlp_cache *c, const sl_nn_mlp *m, int max_B);
void sl_nn_mlp_cache_free(sl_nn_mlp_cache *c); /* NULL harmless */
/* out[B, sizes[n]] <- in[B, sizes[0]] with params = an arena's params region. B <= max_B. */
void sl_nn_mlp_forward(float *out, sl_nn_mlp_cache *c, const float *in, const sl_nn_mlp *m,
                       const float *params, int B);
/* ADD din[B, sizes[0]] (NULL skips) and parameter grads into `grads` (an arena's grads region;
 * NULL skips every weight gradient, e.g. critic weights during an actor update).
 * c and in must be those of the matching forward; c's scratch is overwritten. */
void sl_nn_mlp_backward(float *din, float *grads, sl_nn_mlp_cache *c, const float *dout,
                        const float *in, const sl_nn_mlp *m, const float *params, int B);

/* --- tanh-Gaussian policy head (SAC) ------------------------------------ *
 * in[B,2A] = [mu | log_std]; log_std is clamped to [SL_NN_LOG_STD_MIN, SL_NN_LOG_STD_MAX];
 * u = mu + exp(log_std) * eps;  act = tanh(u);
 * logp[B] = sum_a N(u; mu, std) log-density - log(1 - tanh(u)^2), using the stable form
 * log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)). */
#define SL_NN_LOG_STD_MIN (-20.0f)
#define SL_NN_LOG_STD_MAX 2.0f
void sl_nn_tanh_gaussian_forward(float *act, float *logp, const float *in, const float *eps,
                                 int B, int A);
/* din[B,2A] += d(loss)/d(in) given dact[B,A] and dlogp[B] (either may be NULL: zero). */
void sl_nn_tanh_gaussian_backward(float *din, const float *dact, const float *dlogp,
                                  const float *act, const float *in, const float *eps, int B,
                                  int A);

/* --- losses (return the loss; OVERWRITE the input gradient; NULL skips it) --- */

/* mean over B*D of w[b] * (pred - target)^2; weight[B] may be NULL (all 1) = nn.MSELoss(). */
float sl_nn_mse_loss(float *dpred, const float *pred, const float *target, const float *weight,
                     int B, int D);
/* Gaussian NLL with a log-variance head, mean over n:
 *   0.5 * (logvar + (mean - target)^2 * exp(-logvar)) [+ 0.5 log(2 pi) if full].
 * Equals torch.nn.GaussianNLLLoss(full)(mean, target, exp(logvar)) whenever
 * exp(logvar) >= 1e-6 (torch's clamp eps); no clamp here - bound logvar in the model. */
float sl_nn_gaussian_nll_loss(float *dmean, float *dlogvar, const float *mean,
                              const float *logvar, const float *target, size_t n, int full);
/* nn.BCEWithLogitsLoss(weight=w): mean over n of w[i] * (max(x,0) - x*y + log1p(exp(-|x|))).
 * weight[n] may be NULL. Stable for any finite logit. */
float sl_nn_bce_logits_loss(float *dlogits, const float *logits, const float *targets,
                            const float *weight, size_t n);
/* Floats of InfoNCE's workspace: B*B. */
size_t sl_nn_infonce_ws_floats(int B);
/* InfoNCE: logits[B,B] = a[B,D] @ p[B,D]^T / temperature; loss = cross-entropy with labels
 * 0..B-1, mean over rows (= F.cross_entropy(a @ p.T / t, arange(B))). Writes da, dp. */
float sl_nn_infonce_loss(float *da, float *dp, const float *a, const float *p, int B, int D,
                         float temperature, float *ws);

/* --- optimisers --------------------------------------------------------- */

typedef struct sl_nn_adam {
    float lr, beta1, beta2, eps;
    float weight_decay;
    int decoupled; /* 0: torch.optim.Adam (L2 added to the gradient); 1: torch.optim.AdamW */
} sl_nn_adam;

/* Adam defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0. */
sl_nn_adam sl_nn_adam_defaults(float lr);
/* AdamW defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2, decoupled. */
sl_nn_adam sl_nn_adamw_defaults(float lr);
/* One step over n params with PyTorch 1.13 semantics incl. bias correction; t >= 1 is the
 * step number after incrementing. */
void sl_nn_adam_update(float *params, float *m, float *v, const float *grads, size_t n,
                       const sl_nn_adam *cfg, uint64_t t);
/* ++a->step, then sl_nn_adam_update over the whole arena. */
void sl_nn_arena_adam_step(sl_nn_arena *a, const sl_nn_adam *cfg);
/* torch.nn.utils.clip_grad_norm_: total L2 norm of grads; if above max_norm, scale grads by
 * max_norm / (norm + 1e-6). Returns the norm before clipping. */
float sl_nn_clip_grad_norm(float *grads, size_t n, float max_norm);
float sl_nn_arena_clip_grad_norm(sl_nn_arena *a, float max_norm);

/* --- small helpers ------------------------------------------------------- */

/* out[n] = standard normals: Box-Muller in float on 24-bit uniforms from sl_rng_u64 (one draw
 * per pair), vectorised (branch-free log/sin/cos, within ~1e-6 of the exact transform).
 * Deterministic in the rng state; a different stream from sl_rng_normal (which is double). */
void sl_nn_randn(float *out, size_t n, sl_rng *rng);

/* dst[cols,rows] = src[rows,cols]^T (dst must not alias src). Runs on the calling thread. */
void sl_nn_transpose(float *dst, const float *src, int rows, int cols);

/* Static split of n items into nparts shares for threads: share `part` is [*i0, *i1), shares of
 * ceil(n / nparts) rounded up to a multiple of 8 (the kernels' row block), in order; trailing
 * shares may be empty. nparts <= 1: the whole range. */
void sl_nn_part_range(int n, int part, int nparts, int *i0, int *i1);

/* dst = (1 - tau) * dst + tau * src. */
void sl_nn_polyak(float *dst, const float *src, size_t n, float tau);

/* --- checkpoints (checkpoint.c) ------------------------------------------- */

/* The one checkpoint writer and reader for every model (encoder, trust_net, world model,
 * policy): named tensors plus string metadata in a safetensors file (sl_safetensors.h).
 *
 * Writing: sl_nn_ckpt_new, then put tensors and metadata in file order, then sl_nn_ckpt_write.
 * Tensor data is BORROWED until the write (names are copied); the builder remembers its first
 * error, later puts do nothing, and sl_nn_ckpt_write then returns that error without touching
 * the path. The write is atomic (old file or complete new file) and refuses NaN/Inf.
 * Metadata keeps insertion order; setting a key that exists moves it to the end.
 *
 * Reading: sl_nn_ckpt_read checks the kind (metadata kind_key == kind) before anything else;
 * sl_nn_ckpt_get_* copy a tensor only after checking its dtype and exact shape, and fail with
 * SL_ERR_NAN if it holds NaN/Inf. Every message names the file and the tensor or key.
 * Ownership: the caller frees an sl_nn_ckpt with sl_nn_ckpt_free (NULL is harmless); strings
 * returned by sl_nn_ckpt_meta live until then. */
typedef struct sl_nn_ckpt sl_nn_ckpt;
struct cJSON;

sl_status sl_nn_ckpt_new(sl_nn_ckpt **out);
/* Every tensor of a (allocated) arena, in declaration order, named prefix + tensor name. */
sl_status sl_nn_ckpt_put_arena(sl_nn_ckpt *c, const sl_nn_arena *a, const char *prefix);
sl_status sl_nn_ckpt_put_f32(sl_nn_ckpt *c, const char *name, int ndim, const size_t *shape,
                             const float *data);
sl_status sl_nn_ckpt_put_vec_f32(sl_nn_ckpt *c, const char *name, size_t n, const float *data);
sl_status sl_nn_ckpt_put_vec_f64(sl_nn_ckpt *c, const char *name, size_t n, const double *data);
/* Set metadata key to a string (copied); an existing key is removed first. */
sl_status sl_nn_ckpt_set_meta(sl_nn_ckpt *c, const char *key, const char *value);
/* Add the members of a JSON object (may be NULL) whose keys are not set yet: strings as they
 * are, other values as compact JSON text. */
sl_status sl_nn_ckpt_add_meta_json(sl_nn_ckpt *c, const struct cJSON *extra);
sl_status sl_nn_ckpt_write(const sl_nn_ckpt *c, const char *path);

/* Read and validate path; if kind_key and kind are given, SL_ERR_FORMAT unless the metadata
 * value of kind_key is kind (`what` names the expected kind in the message). */
sl_status sl_nn_ckpt_read(sl_nn_ckpt **out, const char *path, const char *kind_key,
                          const char *kind, const char *what);
/* Metadata value of key, or NULL. */
const char *sl_nn_ckpt_meta(const sl_nn_ckpt *c, const char *key);
/* Metadata value of key parsed as JSON into *out (caller cJSON_Deletes); SL_ERR_FORMAT naming
 * the file and key if missing or not JSON. */
sl_status sl_nn_ckpt_meta_json(const sl_nn_ckpt *c, const char *key, struct cJSON **out);
/* 1 if the read checkpoint holds a tensor of that name. */
int sl_nn_ckpt_has(const sl_nn_ckpt *c, const char *name);
/* Tensor name (F32, exactly this shape, all finite) into dst. */
sl_status sl_nn_ckpt_get_f32(const sl_nn_ckpt *c, const char *name, int ndim,
                             const size_t *shape, float *dst);
sl_status sl_nn_ckpt_get_vec_f32(const sl_nn_ckpt *c, const char *name, size_t n, float *dst);
sl_status sl_nn_ckpt_get_vec_f64(const sl_nn_ckpt *c, const char *name, size_t n, double *dst);
/* Every tensor of an allocated arena from prefix + tensor name (shapes from the arena). */
sl_status sl_nn_ckpt_get_arena(const sl_nn_ckpt *c, sl_nn_arena *a, const char *prefix);
void sl_nn_ckpt_free(sl_nn_ckpt *c);

#ifdef __cplusplus
}
#endif
#endif /* SL_NN_H */
