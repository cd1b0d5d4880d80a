/* SPDX-License-Identifier: Apache-2.0 */
/* trust_internal.h - what the trust_net files share (not public API): the model struct, the
 * network's forward/backward on a batch of windows (trust_net.c), Platt scaling
 * (trust_platt.c), the window generators and evaluation sets of training (trust_windows.c).
 * trust_train.c and trust_checkpoint.c sit above these.
 *
 * Invariant: a window holding NaN/Inf never reaches the network (sl_tr_prep_inputs zeroes its
 * inputs and clears ok[b]); its logit and trust are NaN.
 */
#ifndef SL_TRUST_INTERNAL_H
#define SL_TRUST_INTERNAL_H

#include <math.h>

#include "synthloop/sl_nn.h"
#include "synthloop/sl_trust.h"

#define TRUST_KIND "trust_net" /* checkpoint metadata synthloop_kind */

struct sl_trust_model {
    sl_trust_config cfg;
    int D, F, in_dim;
    float *feat_mean, *feat_std;          /* [F] (MLP) */
    float *z_mean, *z_std, *dz_std;       /* [D] (TEMPORAL) */
    double platt[2];                      /* a, b */
    sl_nn_arena arena;
    sl_nn_mlp mlp;
    sl_nn_gru gru;
    sl_nn_linear head;
    /* scratch for up to sB windows of up to sT steps */
    int sB, sT;
    sl_nn_mlp_cache cache;
    float *in, *h0, *hs, *gcache, *gws, *dhs, *logit, *dlogit;
    double *feat;
    unsigned char *ok;
};

/* --- the network (trust_net.c) --- */

/* A model with parameters declared and allocated (not initialised), unit statistics and
 * Platt (1, 0). */
sl_status sl_tr_model_create(sl_trust_model **out, const sl_trust_config *cfg, int D);
/* Scratch for B windows of T steps (grows only). */
sl_status sl_tr_reserve(sl_trust_model *m, int B, int T);
/* Inputs for B windows [B, T, D]; ok[b] = window b finite (else its inputs are zero). */
void sl_tr_prep_inputs(sl_trust_model *m, const float *w, int B, int T);
/* logit[B] of the prepared inputs. */
void sl_tr_forward(sl_trust_model *m, int B, int T);
/* Adds parameter gradients of sum_b dlogit[b] * logit[b] (the forward must be the last). */
void sl_tr_backward(sl_trust_model *m, int B, int T);

static inline double sl_tr_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* --- Platt scaling (trust_platt.c) --- */

/* Fit p = sigmoid(a s + b) by Newton's method with backtracking on Platt's smoothed targets
 * t+ = (N+ + 1) / (N+ + 2), t- = 1 / (N- + 2); (1, 0) if the fit is not finite. */
void sl_tr_platt_fit(const double *s, const int *y, size_t n, double *a_out, double *b_out);

/* --- training windows (trust_windows.c) --- */

/* Sequences (episodes or external negatives) as spans of base rows. */
typedef struct sl_tr_seqs {
    const float *z;   /* base rows [*, D] */
    size_t n;
    size_t *start, *len;
    size_t maxlen;
} sl_tr_seqs;

/* Everything a window generator needs. */
typedef struct sl_tr_gen {
    int D;
    const sl_trust_config *cfg;
    const double *sd;       /* [D] real per-dim std (train rows) */
    const sl_tr_seqs *real, *ext; /* of the split */
} sl_tr_gen;

/* An evaluation set: windows of mixed lengths with their kinds and labels. */
typedef struct sl_tr_evalset {
    size_t n;
    int *T, *label;
    sl_trust_kind *kind;
    size_t *off;      /* float offset of each window in w */
    float *w;
    double *logit;
} sl_tr_evalset;

void sl_tr_seqs_free(sl_tr_seqs *s);
sl_status sl_tr_seqs_alloc(sl_tr_seqs *s, const float *z, size_t n);
void sl_tr_seqs_push(sl_tr_seqs *s, size_t start, size_t len);
/* out [T, D] <- a window of `kind`. Returns 0 if no sequence of that kind is long enough. */
int sl_tr_make_window(const sl_tr_gen *g, sl_rng *r, sl_trust_kind kind, int T, float *out);
/* Negative kinds usable with a split (built-ins as enabled, external if given); their count. */
int sl_tr_neg_kinds(const sl_trust_config *c, const sl_tr_seqs *ext, sl_trust_kind *k);
void sl_tr_evalset_free(sl_tr_evalset *e);
/* `per_class` real windows and `per_class` negatives (cycling kinds) of the split; lengths
 * cycle over those the split can hold. */
sl_status sl_tr_evalset_build(sl_tr_evalset *e, const sl_tr_gen *g, const sl_trust_kind *kinds,
                              int nk, int per_class, uint64_t seed, uint64_t stream);
/* logits of every window, scoring windows of equal length together. */
sl_status sl_tr_evalset_score(sl_trust_model *m, sl_tr_evalset *e);

#endif
