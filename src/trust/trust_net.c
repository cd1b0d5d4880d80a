/* SPDX-License-Identifier: Apache-2.0 */
/* trust_net.c - trust_net: a classifier of latent windows giving a calibrated p(real).
 *
 * Two architectures share one pipeline (inputs -> logit -> Platt calibration):
 *   MLP       standardised window features (gate.c's sl_trust_features) -> MLP -> logit
 *   TEMPORAL  per-step standardised [z_t, z_t - z_{t-1}] -> GRU -> last hidden -> Linear
 * This file holds the configuration, the model and its forward/backward on a batch of windows;
 * training is trust_train.c (windows from trust_windows.c, calibration trust_platt.c), the
 * checkpoint format trust_checkpoint.c. Invariant: a window holding NaN/Inf never reaches the
 * network; its logit and trust are NaN.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trust/trust_internal.h"

#define SCORE_CHUNK 256

/* --- config ------------------------------------------------------------------------ */

sl_trust_config sl_trust_config_default(void) {
    sl_trust_config c;
    memset(&c, 0, sizeof c);
    c.arch = SL_TRUST_ARCH_MLP;
    c.hidden = 128;
    c.n_hidden = 2;
    static const int lens[] = {5, 10, 20, 30, 40, 60};
    c.n_lengths = 6;
    memcpy(c.lengths, lens, sizeof lens);
    c.steps = 3000;
    c.batch = 128;
    c.lr = 1e-3f;
    c.calib_frac = 0.15;
    c.test_frac = 0.15;
    c.use_noise = 1;
    c.use_inflate = c.use_drift = 0;
    c.position_features = 1;
    c.noise_scale = 0.5;
    c.inflate_lo = 1.5;
    c.inflate_hi = 2.0;
    c.drift_scale = 0.25;
    c.eval_windows = 400;
    c.seed = 0;
    return c;
}

sl_trust_config sl_trust_config_default_arch(sl_trust_arch arch) {
    sl_trust_config c = sl_trust_config_default();
    if (arch == SL_TRUST_ARCH_TEMPORAL) {
        c.arch = SL_TRUST_ARCH_TEMPORAL;
        c.hidden = 32;
        c.steps = 600;
    }
    return c;
}

sl_status sl_trust_config_check(const sl_trust_config *c) {
    if (!c) return sl_set_error(SL_ERR_ARG, "trust config: NULL");
    if ((int)c->arch < 0 || c->arch >= SL_TRUST_ARCH_COUNT)
        return sl_set_error(SL_ERR_ARG, "trust config: unknown arch %d", (int)c->arch);
    if (c->hidden < 1 || c->hidden > 4096)
        return sl_set_error(SL_ERR_ARG, "trust config: hidden %d outside [1, 4096]", c->hidden);
    if (c->n_hidden < 1 || c->n_hidden > 8)
        return sl_set_error(SL_ERR_ARG, "trust config: n_hidden %d outside [1, 8]", c->n_hidden);
    if (c->n_lengths < 1 || c->n_lengths > SL_TRUST_MAX_LENGTHS)
        return sl_set_error(SL_ERR_ARG, "trust config: n_lengths %d outside [1, %d]", c->n_lengths,
                            SL_TRUST_MAX_LENGTHS);
    for (int i = 0; i < c->n_lengths; i++) {
        if (c->lengths[i] < 2 || c->lengths[i] > 100000)
            return sl_set_error(SL_ERR_ARG, "trust config: window length %d outside [2, 100000]",
                                c->lengths[i]);
        for (int j = 0; j < i; j++)
            if (c->lengths[j] == c->lengths[i])
                return sl_set_error(SL_ERR_ARG, "trust config: window length %d listed twice",
                                    c->lengths[i]);
    }
    if (c->steps < 0 || c->steps > 10000000)
        return sl_set_error(SL_ERR_ARG, "trust config: steps %d outside [0, 1e7]", c->steps);
    if (c->batch < 2 || c->batch > 65536)
        return sl_set_error(SL_ERR_ARG, "trust config: batch %d outside [2, 65536]", c->batch);
    if (!(c->lr > 0.0f && c->lr < 10.0f))
        return sl_set_error(SL_ERR_ARG, "trust config: lr %g outside (0, 10)", (double)c->lr);
    if (!(c->calib_frac > 0.0 && c->test_frac > 0.0 && c->calib_frac + c->test_frac < 0.9))
        return sl_set_error(SL_ERR_ARG, "trust config: calib_frac %g and test_frac %g must be > 0 "
                            "with a sum < 0.9", c->calib_frac, c->test_frac);
    /* all built-ins off is allowed here: external negatives are checked by sl_trust_train */
    if (!(c->noise_scale > 0.0 && c->noise_scale < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: noise_scale %g outside (0, 100)",
                            c->noise_scale);
    if (!(c->inflate_lo > 1.0 && c->inflate_lo <= c->inflate_hi && c->inflate_hi < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: inflation range [%g, %g] must satisfy "
                            "1 < lo <= hi < 100", c->inflate_lo, c->inflate_hi);
    if (!(c->drift_scale > 0.0 && c->drift_scale < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: drift_scale %g outside (0, 100)",
                            c->drift_scale);
    if (c->eval_windows < 20 || c->eval_windows > 1000000)
        return sl_set_error(SL_ERR_ARG, "trust config: eval_windows %d outside [20, 1e6]",
                            c->eval_windows);
    return SL_OK;
}

/* --- model ------------------------------------------------------------------------- */

static void free_scratch(sl_trust_model *m) {
    sl_nn_mlp_cache_free(&m->cache);
    free(m->in);
    free(m->h0);
    free(m->hs);
    free(m->gcache);
    free(m->gws);
    free(m->dhs);
    free(m->logit);
    free(m->dlogit);
    free(m->ok);
    m->in = m->h0 = m->hs = m->gcache = m->gws = m->dhs = m->logit = m->dlogit = NULL;
    m->ok = NULL;
    m->sB = m->sT = 0;
}

void sl_trust_free(sl_trust_model *m) {
    if (!m) return;
    free_scratch(m);
    free(m->feat);
    free(m->feat_mean);
    free(m->feat_std);
    free(m->z_mean);
    free(m->z_std);
    free(m->dz_std);
    sl_nn_arena_free(&m->arena);
    free(m);
}

int sl_trust_model_dim(const sl_trust_model *m) { return m->D; }
sl_trust_arch sl_trust_model_arch(const sl_trust_model *m) { return m->cfg.arch; }
sl_trust_config sl_trust_model_config(const sl_trust_model *m) { return m->cfg; }

sl_status sl_tr_model_create(sl_trust_model **out, const sl_trust_config *cfg, int D) {
    *out = NULL;
    SL_TRY(sl_trust_config_check(cfg));
    if (D < 1 || D > 4096) return sl_set_error(SL_ERR_ARG, "trust_net: latent dim %d outside [1, 4096]", D);
    sl_trust_model *m = calloc(1, sizeof *m);
    if (!m) return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    m->cfg = *cfg;
    m->D = D;
    m->F = sl_trust_n_features(D);
    m->platt[0] = 1.0;
    m->platt[1] = 0.0;
    sl_nn_arena_init(&m->arena);
    sl_status st;
    if (cfg->arch == SL_TRUST_ARCH_MLP) {
        int sizes[SL_NN_MLP_MAX_LAYERS + 1];
        sizes[0] = m->F;
        for (int i = 1; i <= cfg->n_hidden; i++) sizes[i] = cfg->hidden;
        sizes[cfg->n_hidden + 1] = 1;
        m->in_dim = m->F;
        st = sl_nn_mlp_declare(&m->mlp, &m->arena, "mlp", cfg->n_hidden + 1, sizes,
                               SL_NN_ACT_RELU, 1);
    } else {
        m->in_dim = 2 * D;
        st = sl_nn_gru_declare(&m->gru, &m->arena, "gru", 2 * D, cfg->hidden);
        if (st == SL_OK) st = sl_nn_linear_declare(&m->head, &m->arena, "head", cfg->hidden, 1);
    }
    if (st == SL_OK) st = sl_nn_arena_alloc(&m->arena);
    if (st == SL_OK) {
        m->feat = malloc((size_t)m->F * sizeof(double));
        m->feat_mean = calloc((size_t)m->F, sizeof(float));
        m->feat_std = malloc((size_t)m->F * sizeof(float));
        m->z_mean = calloc((size_t)D, sizeof(float));
        m->z_std = malloc((size_t)D * sizeof(float));
        m->dz_std = malloc((size_t)D * sizeof(float));
        if (!m->feat || !m->feat_mean || !m->feat_std || !m->z_mean || !m->z_std || !m->dz_std) {
            st = sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
        } else {
            for (int i = 0; i < m->F; i++) m->feat_std[i] = 1.0f;
            for (int i = 0; i < D; i++) m->z_std[i] = m->dz_std[i] = 1.0f;
        }
    }
    if (st != SL_OK) {
        sl_trust_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}

sl_status sl_tr_reserve(sl_trust_model *m, int B, int T) {
    int tempo = m->cfg.arch == SL_TRUST_ARCH_TEMPORAL;
    if (B <= m->sB && (!tempo || T <= m->sT)) return SL_OK;
    int nB = B > m->sB ? B : m->sB, nT = T > m->sT ? T : m->sT;
    free_scratch(m);
    size_t b = (size_t)nB, t = (size_t)nT, H = (size_t)m->cfg.hidden, in = (size_t)m->in_dim;
    m->logit = malloc(b * sizeof(float));
    m->dlogit = malloc(b * sizeof(float));
    m->ok = malloc(b);
    int okm = m->logit && m->dlogit && m->ok;
    if (!tempo) {
        m->in = malloc(b * in * sizeof(float));
        okm = okm && m->in && sl_nn_mlp_cache_alloc(&m->cache, &m->mlp, nB) == SL_OK;
    } else {
        m->in = malloc(t * b * in * sizeof(float));
        m->h0 = calloc(b * H, sizeof(float));
        m->hs = malloc(t * b * H * sizeof(float));
        m->dhs = malloc(t * b * H * sizeof(float));
        m->gcache = malloc(t * sl_nn_gru_cache_floats(nB, (int)H) * sizeof(float));
        m->gws = malloc(sl_nn_gru_ws_floats(nB, (int)H) * sizeof(float));
        okm = okm && m->in && m->h0 && m->hs && m->dhs && m->gcache && m->gws;
    }
    if (!okm) {
        free_scratch(m);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory for %d windows of %d steps",
                            B, T);
    }
    m->sB = nB;
    m->sT = tempo ? nT : 0;
    return SL_OK;
}

static inline float clampf(double v) {
    if (v > SL_TRUST_FEAT_CLAMP) v = SL_TRUST_FEAT_CLAMP;
    if (v < -SL_TRUST_FEAT_CLAMP) v = -SL_TRUST_FEAT_CLAMP;
    return (float)v;
}

/* Inputs for B windows [B, T, D]; ok[b] = window b finite (else its inputs are zero). */
void sl_tr_prep_inputs(sl_trust_model *m, const float *w, int B, int T) {
    const int D = m->D;
    const size_t stride = (size_t)T * (size_t)D;
    for (int b = 0; b < B; b++) {
        const float *x = w + (size_t)b * stride;
        m->ok[b] = (unsigned char)sl_all_finite_f32(x, stride);
        if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
            float *in = m->in + (size_t)b * (size_t)m->F;
            if (!m->ok[b] || sl_trust_features(x, T, D, m->feat) != SL_OK) {
                m->ok[b] = 0;
                memset(in, 0, (size_t)m->F * sizeof(float));
                continue;
            }
            for (int j = 0; j < m->F; j++)
                in[j] = clampf((m->feat[j] - (double)m->feat_mean[j]) / (double)m->feat_std[j]);
            if (!m->cfg.position_features) {
                /* blocks 0 (mean), 2 (min), 3 (max) say where the window lies */
                memset(in, 0, (size_t)D * sizeof(float));
                memset(in + 2 * (size_t)D, 0, 2 * (size_t)D * sizeof(float));
            }
        } else {
            for (int t = 0; t < T; t++) {
                float *in = m->in + ((size_t)t * (size_t)B + (size_t)b) * (size_t)m->in_dim;
                if (!m->ok[b]) {
                    memset(in, 0, (size_t)m->in_dim * sizeof(float));
                    continue;
                }
                for (int d = 0; d < D; d++) {
                    double v = (double)x[(size_t)t * D + d];
                    in[d] = clampf((v - (double)m->z_mean[d]) / (double)m->z_std[d]);
                    double dv = t ? v - (double)x[(size_t)(t - 1) * D + d] : 0.0;
                    in[D + d] = clampf(dv / (double)m->dz_std[d]);
                }
            }
        }
    }
}

void sl_tr_forward(sl_trust_model *m, int B, int T) {
    const float *p = m->arena.params;
    if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
        sl_nn_mlp_forward(m->logit, &m->cache, m->in, &m->mlp, p, B);
        return;
    }
    const int H = m->cfg.hidden;
    sl_nn_gru_forward(m->hs, m->gcache, m->in, m->h0, p + m->gru.w_ih, p + m->gru.w_hh,
                      p + m->gru.b_ih, p + m->gru.b_hh, T, B, m->in_dim, H, m->gws);
    sl_nn_linear_forward(m->logit, m->hs + (size_t)(T - 1) * (size_t)B * (size_t)H,
                         p + m->head.w, p + m->head.b, B, H, 1);
}

/* Adds parameter gradients of sum_b dlogit[b] * logit[b] (the forward must be the last). */
void sl_tr_backward(sl_trust_model *m, int B, int T) {
    const float *p = m->arena.params;
    float *g = m->arena.grads;
    if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
        sl_nn_mlp_backward(NULL, g, &m->cache, m->dlogit, m->in, &m->mlp, p, B);
        return;
    }
    const int H = m->cfg.hidden;
    size_t last = (size_t)(T - 1) * (size_t)B * (size_t)H;
    memset(m->dhs, 0, (size_t)T * (size_t)B * (size_t)H * sizeof(float));
    sl_nn_linear_backward(m->dhs + last, g + m->head.w, g + m->head.b, m->dlogit, m->hs + last,
                          p + m->head.w, B, H, 1);
    sl_nn_gru_backward(NULL, NULL, g + m->gru.w_ih, g + m->gru.w_hh, g + m->gru.b_ih,
                       g + m->gru.b_hh, m->dhs, m->hs, m->gcache, m->in, m->h0, p + m->gru.w_ih,
                       p + m->gru.w_hh, T, B, m->in_dim, H, m->gws);
}

sl_status sl_trust_logits(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                          double *out) {
    if (!m || (!windows && n) || (!out && n)) return sl_set_error(SL_ERR_ARG, "trust score: NULL argument");
    if (T < 2) return sl_set_error(SL_ERR_ARG, "trust score: window length %d < 2", T);
    if (D != m->D)
        return sl_set_error(SL_ERR_SHAPE, "trust score: windows have %d dims, the model was "
                            "trained on %d", D, m->D);
    const size_t stride = (size_t)T * (size_t)D;
    for (size_t i0 = 0; i0 < n; i0 += SCORE_CHUNK) {
        int B = (int)((n - i0) < SCORE_CHUNK ? (n - i0) : SCORE_CHUNK);
        SL_TRY(sl_tr_reserve(m, B, T));
        sl_tr_prep_inputs(m, windows + i0 * stride, B, T);
        sl_tr_forward(m, B, T);
        for (int b = 0; b < B; b++) out[i0 + (size_t)b] = m->ok[b] ? (double)m->logit[b] : (double)NAN;
    }
    return SL_OK;
}

sl_status sl_trust_score_windows(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                                 double *out_p) {
    SL_TRY(sl_trust_logits(m, windows, n, T, D, out_p));
    for (size_t i = 0; i < n; i++)
        if (!isnan(out_p[i])) out_p[i] = sl_tr_sigmoid(m->platt[0] * out_p[i] + m->platt[1]);
    return SL_OK;
}
