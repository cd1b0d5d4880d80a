/* SPDX-License-Identifier: Apache-2.0 */
/* train_step.c - one training step of one world-model member on one batch: burn-in, the
 * forward pass over the horizon (teacher-forced or fed its own samples), the loss terms of
 * seed 001 (MSE on the mean, reward and econ heads, Gaussian NLL, batch distribution, window
 * std, roughness, variance profile) with their direct gradients, and backpropagation through
 * time. train.c runs it for every member; the finite-difference and PyTorch parity tests call
 * it through sl_world_batch_loss.
 *
 * Invariant: gradients are ADDED into the member's arena grads; the loss is accumulated in
 * float64 in a fixed order (the terms in the order below), so the same batch gives the same
 * bits. Backward order per step k (descending): the gradient reaching z_pred[k] is the direct
 * loss term plus, where step k+1 was fed its own prediction, the gradient of step k+1's input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/world_internal.h"

#define EPS_STD 1e-6f

/* --- batch buffers ---------------------------------------------------------------- */

void sl_world_tr_free(sl_world_tr_buf *b) {
    free(b->x);
    free(b->rows);
    free(b->burn);
    memset(b, 0, sizeof *b);
}

sl_status sl_world_tr_alloc(sl_world_tr_buf *b, const sl_world *w, int B, int S) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->S = S;
    size_t BH = (size_t)B * w->H, BZ = (size_t)B * w->Z;
    size_t E1 = (size_t)(w->E ? w->E : 1);
    size_t per_slot = (size_t)B * w->In + BH /* h before */ + sl_nn_gru_cache_floats(B, w->H) +
                      (size_t)B * w->O + 2 * BZ + B + BZ + B + (size_t)B * E1 + 2 * BZ + 2 * BZ;
    size_t tot = per_slot * (size_t)S + BZ + BH /* h after last */ + (size_t)B * w->O + 2 * BH +
                 (size_t)B * w->In + 2 * BZ + sl_nn_gru_ws_floats(B, w->H) + 2 * BH +
                 sl_nn_gru_cache_floats(B, w->H);
    float *p = calloc(tot, sizeof(float));
    b->rows = calloc((size_t)B, sizeof *b->rows);
    b->burn = calloc((size_t)B, sizeof *b->burn);
    if (!p || !b->rows || !b->burn) {
        free(p);
        sl_world_tr_free(b);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory for a %d x %d batch", B, S);
    }
    b->x = p;                    p += (size_t)S * B * w->In;
    b->h = p;                    p += (size_t)(S + 1) * BH;
    b->cache = p;                p += (size_t)S * sl_nn_gru_cache_floats(B, w->H);
    b->out = p;                  p += (size_t)S * B * w->O;
    b->zpred = p;                p += (size_t)S * BZ;
    b->zin = p;                  p += (size_t)S * BZ;
    b->mask = p;                 p += (size_t)S * B;
    b->dz = p;                   p += (size_t)S * BZ;
    b->dr = p;                   p += (size_t)S * B;
    b->de = p;                   p += (size_t)S * B * E1;
    b->eps = p;                  p += (size_t)S * BZ;
    b->dm = p;                   p += (size_t)S * BZ;
    b->sg = p;                   p += (size_t)S * BZ;
    b->dls = p;                  p += (size_t)S * BZ;
    b->dgs = p;                  p += BZ;
    b->dout = p;                 p += (size_t)B * w->O;
    b->dh_acc = p;               p += BH;
    b->dh_prev = p;              p += BH;
    b->dx = p;                   p += (size_t)B * w->In;
    b->dzin_cur = p;             p += BZ;
    b->dzin_next = p;            p += BZ;
    b->gru_ws = p;               p += sl_nn_gru_ws_floats(B, w->H);
    b->hb0 = p;                  p += BH;
    b->hb1 = p;                  p += BH;
    b->cb = p;
    return SL_OK;
}



void sl_world_trd_free(sl_world_tr_data *t) {
    free(t->zs);
    memset(t, 0, sizeof *t);
}

sl_status sl_world_trd_build(sl_world_tr_data *t, const sl_world *w, const sl_world_data *d) {
    const int Z = w->Z, A = w->A, E = w->E;
    size_t n = d->n;
    size_t tot = n * (2 * (size_t)Z + A + 1 + (size_t)(E ? E : 1));
    float *p = malloc(tot * sizeof(float));
    if (!p) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory for %zu rows", n);
    t->zs = p;
    t->zns = p + n * Z;
    t->as = t->zns + n * Z;
    t->rs = t->as + n * A;
    t->es = t->rs + n;
    for (size_t r = 0; r < n; r++) {
        sl_world_std_z(w, d->z + r * Z, t->zs + r * Z);
        sl_world_std_z(w, d->z_next + r * Z, t->zns + r * Z);
        sl_world_std_a(w, d->actions + r * A, t->as + r * A);
        t->rs[r] = (d->rewards[r] - w->r_mean) / w->r_std;
        for (int q = 0; q < E; q++)
            t->es[r * E + q] = (d->econ[q][r] - w->e_mean[q]) / w->e_std[q];
    }
    return SL_OK;
}

/* --- forward ---------------------------------------------------------------------- */

static inline float bce_grad(float logit, float y, float *loss) {
    float p = 1.0f / (1.0f + expf(-logit));
    *loss = fmaxf(logit, 0.0f) - logit * y + log1pf(expf(-fabsf(logit)));
    return p - y;
}

/* Burn-in (no gradient): right-aligned context of up to bmax real steps before each start,
 * inactive rows keep h = 0; the state reached is b->h slot 0. */
static void burn_in(const sl_world *w, const float *p, const sl_world_tr_data *td,
                    sl_world_tr_buf *b, int bmax) {
    const int B = b->B, Z = w->Z, A = w->A, Hh = w->H, In = w->In;
    const size_t BH = (size_t)B * Hh;
    memset(b->hb0, 0, BH * sizeof(float));
    for (int k = 0; k < bmax; k++) {
        float *x = b->dx; /* scratch [B, In] */
        for (int i = 0; i < B; i++) {
            float *xi = x + (size_t)i * In;
            if (k >= bmax - b->burn[i]) {
                size_t src = b->rows[i] - (size_t)(bmax - k);
                memcpy(xi, td->zs + src * Z, (size_t)Z * sizeof(float));
                memcpy(xi + Z, td->as + src * A, (size_t)A * sizeof(float));
            } else {
                memset(xi, 0, (size_t)In * sizeof(float));
            }
        }
        sl_nn_gru_cell_forward(b->hb1, b->cb, x, b->hb0, p + w->gru.w_ih, p + w->gru.w_hh,
                               p + w->gru.b_ih, p + w->gru.b_hh, B, In, Hh, b->gru_ws);
        for (int i = 0; i < B; i++)
            if (k >= bmax - b->burn[i])
                memcpy(b->hb0 + (size_t)i * Hh, b->hb1 + (size_t)i * Hh, (size_t)Hh * sizeof(float));
    }
    memcpy(b->h, b->hb0, BH * sizeof(float));
}

/* The horizon: Hs GRU steps from the burnt-in state, inputs real (step 0, teacher-forced
 * rows) or the previous sample; heads, sigma and the sampled next latent per step (noise from
 * rng). 0 if a value went non-finite (the step is then abandoned). */
static int forward_horizon(const sl_world *w, const float *p, const sl_world_tr_data *td,
                           sl_world_tr_buf *b, int Hs, sl_rng *rng) {
    const int B = b->B, Z = w->Z, A = w->A, Hh = w->H, In = w->In, O = w->O;
    const size_t BH = (size_t)B * Hh, BZ = (size_t)B * Z, CF = sl_nn_gru_cache_floats(B, Hh);
    const sl_world_config *c = &w->cfg;
    for (int k = 0; k < Hs; k++) {
        float *zin = b->zin + (size_t)k * BZ, *x = b->x + (size_t)k * B * In;
        for (int i = 0; i < B; i++) {
            size_t r = b->rows[i] + (size_t)k;
            float *zi = zin + (size_t)i * Z;
            if (k == 0 || b->mask[(size_t)k * B + i] > 0.5f)
                memcpy(zi, td->zs + r * Z, (size_t)Z * sizeof(float));
            else
                memcpy(zi, b->zpred + ((size_t)(k - 1) * BZ) + (size_t)i * Z, (size_t)Z * sizeof(float));
            memcpy(x + (size_t)i * In, zi, (size_t)Z * sizeof(float));
            memcpy(x + (size_t)i * In + Z, td->as + r * A, (size_t)A * sizeof(float));
        }
        float *hk = b->h + (size_t)k * BH, *hk1 = b->h + (size_t)(k + 1) * BH;
        float *out = b->out + (size_t)k * B * O;
        sl_nn_gru_cell_forward(hk1, b->cache + (size_t)k * CF, x, hk, p + w->gru.w_ih,
                               p + w->gru.w_hh, p + w->gru.b_ih, p + w->gru.b_hh, B, In, Hh,
                               b->gru_ws);
        sl_nn_linear_forward(out, hk1, p + w->head.w, p + w->head.b, B, Hh, O);
        float *zp = b->zpred + (size_t)k * BZ, *ek = b->eps + (size_t)k * BZ;
        float *sgk = b->sg + (size_t)k * BZ;
        const float *ls = p + w->noise_ls;
        if (c->hetero_noise)
            sl_nn_linear_forward(sgk, hk1, p + w->noise_head.w, p + w->noise_head.b, B, Hh, Z);
        else
            memset(sgk, 0, BZ * sizeof(float));
        for (int i = 0; i < B; i++)
            for (int j = 0; j < Z; j++) {
                float *sij = sgk + (size_t)i * Z + j;
                *sij = expf(ls[j] + *sij); /* offset -> sigma, kept for the loss and backward */
                float e = w->cfg.learn_noise ? (float)sl_rng_normal(rng) : 0.0f;
                ek[(size_t)i * Z + j] = e;
                zp[(size_t)i * Z + j] = zin[(size_t)i * Z + j] +
                                        w->dz_std[j] * sl_world_clipf(w, out[(size_t)i * O + j]) +
                                        *sij * e;
            }
        /* a diverging model: stop before a non-finite value reaches the next GRU step */
        if (!sl_all_finite_f32(zp, BZ) || !sl_all_finite_f32(out, (size_t)B * O)) return 0;
    }
    return 1;
}

/* --- loss terms (each adds to *acc and to the direct gradients dz, dm, dls, dr, de) --- */

#define ZP(k, i, j) ((double)b->zpred[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define ZR(k, i, j) ((double)td->zns[(b->rows[i] + (size_t)(k)) * Z + (size_t)(j)])
#define Z0(i, j) ((double)td->zs[b->rows[i] * Z + (size_t)(j)])
#define DZ(k, i, j) b->dz[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)]
#define SG(k, i, j) (b->sg[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define ZM(k, i, j) (ZP(k, i, j) - (double)SG(k, i, j) * (double)b->eps[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define DM(k, i, j) b->dm[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)]

/* MSE of the mean against the real next latent, reward and econ heads (MSE or BCE). */
static void add_fit_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                         double *acc) {
    const int B = b->B, Z = w->Z, E = w->E, O = w->O;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    const double nz = (double)B * Hs * Z, nb = (double)B * Hs;
    for (int k = 0; k < Hs; k++) {
        const float *out = b->out + (size_t)k * B * O;
        float *dr = b->dr + (size_t)k * B;
        float *de = b->de + (size_t)k * B * (E ? E : 1);
        for (int i = 0; i < B; i++) {
            size_t r = b->rows[i] + (size_t)k;
            for (int j = 0; j < Z; j++) { /* MSE on the mean; the other terms on the sample */
                double e = ZM(k, i, j) - ZR(k, i, j);
                loss += e * e / nz;
                DM(k, i, j) = (float)(2.0 * e / nz);
                DZ(k, i, j) = 0.0f;
            }
            double er = (double)out[(size_t)i * O + Z] - (double)td->rs[r];
            loss += (double)c->w_reward * er * er / nb;
            dr[i] = (float)(2.0 * (double)c->w_reward * er / nb);
            for (int q = 0; q < E; q++) {
                float o = out[(size_t)i * O + Z + 1 + q], y = td->es[r * E + q], l;
                float gq;
                if (w->e_binary[q]) {
                    gq = bce_grad(o, y, &l);
                } else {
                    l = (o - y) * (o - y);
                    gq = 2.0f * (o - y);
                }
                loss += (double)c->w_econ * (double)l / (nb * E);
                de[(size_t)i * E + q] = (float)((double)c->w_econ * (double)gq / (nb * E));
            }
        }
    }
    *acc = loss;
}

/* Gaussian NLL of the steps whose input was real (cfg.hetero_noise, w_nll); clears dls. */
static void add_nll_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                         double *acc) {
    const int B = b->B, Z = w->Z;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    memset(b->dls, 0, (size_t)Hs * BZ * sizeof(float));
    if (c->hetero_noise && c->w_nll > 0) {
        /* Gaussian NLL of the one-step residuals of the steps whose input was real (step 0
         * and teacher-forced steps): what teaches sigma(h) where the real steps are rough
         * (full gradient: into log sigma and, weighted by 1/sigma^2, into the mean) */
        size_t ntf = 0;
        for (int k = 0; k < Hs; k++)
            for (int i = 0; i < B; i++) ntf += (k == 0 || b->mask[(size_t)k * B + i] > 0.5f);
        const double sc = (double)c->w_nll / ((double)ntf * Z);
        for (int k = 0; k < Hs; k++)
            for (int i = 0; i < B; i++) {
                if (!(k == 0 || b->mask[(size_t)k * B + i] > 0.5f)) continue;
                for (int j = 0; j < Z; j++) {
                    double s = (double)SG(k, i, j), r = (ZR(k, i, j) - ZM(k, i, j)) / s;
                    loss += sc * (0.5 * r * r + log(s));
                    b->dls[(size_t)k * BZ + (size_t)i * Z + (size_t)j] = (float)(sc * (1.0 - r * r));
                    DM(k, i, j) += (float)(-sc * r / s);
                }
            }
    }
    *acc = loss;
}

/* Per-step batch mean/std matching (w_dist). */
static void add_dist_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                          double *acc) {
    const int B = b->B, Z = w->Z;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    if (c->w_dist > 0 && B >= 2) {
        /* per-step batch mean/std matching */
        const double sc = (double)c->w_dist / ((double)Hs * Z);
        for (int k = 0; k < Hs; k++) {
            for (int j = 0; j < Z; j++) {
                double ms = 0, mr = 0;
                for (int i = 0; i < B; i++) {
                    ms += ZP(k, i, j);
                    mr += ZR(k, i, j);
                }
                ms /= B;
                mr /= B;
                double vs = 0, vr = 0;
                for (int i = 0; i < B; i++) {
                    double a1 = ZP(k, i, j) - ms, a2 = ZR(k, i, j) - mr;
                    vs += a1 * a1;
                    vr += a2 * a2;
                }
                double ss = sqrt(vs / B + (double)EPS_STD), sr = sqrt(vr / B + (double)EPS_STD);
                loss += sc * ((ms - mr) * (ms - mr) + (ss - sr) * (ss - sr));
                for (int i = 0; i < B; i++) {
                    double gi = 2.0 * (ms - mr) / B + 2.0 * (ss - sr) * (ZP(k, i, j) - ms) / (B * ss);
                    DZ(k, i, j) += (float)(sc * gi);
                }
            }
        }
    }
    *acc = loss;
}

/* Per-window temporal std against the real windows (w_window). */
static void add_window_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                            double *acc) {
    const int B = b->B, Z = w->Z;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    if (c->w_window > 0 && Hs >= 2) {
        /* per-window temporal std (the gate's statistic): window = start + hp predictions,
         * loss (ln std ratio)^2 = (0.5 ln(Vs / Vr))^2 per row, for hp = Hs and, with
         * window_prefixes, also for the prefixes hp = 5, 10, 20, 40 < Hs (averaged) */
        static const int pref[] = {5, 10, 20, 40};
        int hps[5], np_ = 0;
        if (c->window_prefixes)
            for (int q = 0; q < 4; q++)
                if (pref[q] < Hs) hps[np_++] = pref[q];
        hps[np_++] = Hs;
        const double scw = (double)c->w_window / ((double)B * np_);
        for (int q = 0; q < np_; q++) {
            const int hp = hps[q], Tw = hp + 1;
            for (int i = 0; i < B; i++) {
                double Vs = 0, Vr = 0;
                for (int j = 0; j < Z; j++) {
                    double s1 = Z0(i, j), s2 = Z0(i, j);
                    for (int k = 0; k < hp; k++) {
                        s1 += ZP(k, i, j);
                        s2 += ZR(k, i, j);
                    }
                    s1 /= Tw;
                    s2 /= Tw;
                    double v1 = (Z0(i, j) - s1) * (Z0(i, j) - s1);
                    double v2 = (Z0(i, j) - s2) * (Z0(i, j) - s2);
                    for (int k = 0; k < hp; k++) {
                        v1 += (ZP(k, i, j) - s1) * (ZP(k, i, j) - s1);
                        v2 += (ZR(k, i, j) - s2) * (ZR(k, i, j) - s2);
                    }
                    Vs += v1 / Tw;
                    Vr += v2 / Tw;
                }
                if (!(Vr > 1e-8) || !(Vs > 1e-12)) continue;
                double lr = 0.5 * log(Vs / Vr);
                loss += scw * lr * lr;
                double dV = scw * lr / Vs; /* dL/dVs */
                for (int j = 0; j < Z; j++) {
                    double s1 = Z0(i, j);
                    for (int k = 0; k < hp; k++) s1 += ZP(k, i, j);
                    s1 /= Tw;
                    for (int k = 0; k < hp; k++)
                        DZ(k, i, j) += (float)(dV * 2.0 * (ZP(k, i, j) - s1) / Tw);
                }
            }
        }
    }
    *acc = loss;
}

/* Roughness: mean squared one-step change against the real one (w_rough). */
static void add_rough_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                           double *acc) {
    const int B = b->B, Z = w->Z;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    if (c->w_rough > 0) {
        /* roughness: per dim, the mean squared one-step change of the sample over the batch
         * and the Hs steps (step 0 from the real start) against the real one,
         * loss mean_d (0.5 ln(Es_d / Er_d))^2 */
        const double nst = (double)B * Hs, scr = (double)c->w_rough / Z;
        for (int j = 0; j < Z; j++) {
            double es = 0, er = 0;
            for (int i = 0; i < B; i++)
                for (int k = 0; k < Hs; k++) {
                    double ps = k ? ZP(k - 1, i, j) : Z0(i, j), pr = k ? ZR(k - 1, i, j) : Z0(i, j);
                    es += (ZP(k, i, j) - ps) * (ZP(k, i, j) - ps);
                    er += (ZR(k, i, j) - pr) * (ZR(k, i, j) - pr);
                }
            es /= nst;
            er /= nst;
            if (!(er > 1e-12) || !(es > 1e-12)) continue;
            double lr = 0.5 * log(es / er);
            loss += scr * lr * lr;
            double dE = scr * lr / es; /* dL/dEs */
            for (int i = 0; i < B; i++)
                for (int k = 0; k < Hs; k++) {
                    double ps = k ? ZP(k - 1, i, j) : Z0(i, j);
                    double gk = ZP(k, i, j) - ps;
                    if (k + 1 < Hs) gk -= ZP(k + 1, i, j) - ZP(k, i, j);
                    DZ(k, i, j) += (float)(dE * 2.0 * gk / nst);
                }
        }
    }
    *acc = loss;
}

/* Variance profile over the horizon (w_var). */
static void add_var_loss(const sl_world *w, const sl_world_tr_data *td, sl_world_tr_buf *b, int Hs,
                         double *acc) {
    const int B = b->B, Z = w->Z;
    const size_t BZ = (size_t)B * Z;
    const sl_world_config *c = &w->cfg;
    double loss = *acc;
    if (c->w_var > 0 && Z >= 2) {
        /* variance profile: var_k = mean_b var_d(z[b,k,:]) (ddof 1), matched step by step */
        const double sc = (double)c->w_var / Hs;
        for (int k = 0; k < Hs; k++) {
            double vs = 0, vr = 0;
            for (int i = 0; i < B; i++) {
                double m1 = 0, m2 = 0, a1 = 0, a2 = 0;
                for (int j = 0; j < Z; j++) {
                    m1 += ZP(k, i, j);
                    m2 += ZR(k, i, j);
                }
                m1 /= Z;
                m2 /= Z;
                for (int j = 0; j < Z; j++) {
                    a1 += (ZP(k, i, j) - m1) * (ZP(k, i, j) - m1);
                    a2 += (ZR(k, i, j) - m2) * (ZR(k, i, j) - m2);
                }
                vs += a1 / (Z - 1);
                vr += a2 / (Z - 1);
            }
            vs /= B;
            vr /= B;
            if (!(vr > 1e-8)) continue;
            double u = vs / vr - 1.0;
            loss += sc * u * u;
            double dvs = sc * 2.0 * u / vr;
            for (int i = 0; i < B; i++) {
                double m1 = 0;
                for (int j = 0; j < Z; j++) m1 += ZP(k, i, j);
                m1 /= Z;
                for (int j = 0; j < Z; j++)
                    DZ(k, i, j) += (float)(dvs * 2.0 * (ZP(k, i, j) - m1) / ((Z - 1) * (double)B));
            }
        }
    }
    *acc = loss;
}

#undef ZP
#undef ZR
#undef Z0
#undef DZ
#undef ZM
#undef SG
#undef DM

/* --- backward --------------------------------------------------------------------- */

/* Backpropagation through time of the direct gradients into the member's arena grads. */
static void backward_through_time(const sl_world *w, sl_nn_arena *ar, sl_world_tr_buf *b,
                                  int Hs) {
    const int B = b->B, Z = w->Z, E = w->E, Hh = w->H, In = w->In, O = w->O;
    const size_t BH = (size_t)B * Hh, BZ = (size_t)B * Z, CF = sl_nn_gru_cache_floats(B, Hh);
    const float *p = ar->params;
    float *g = ar->grads;
    const sl_world_config *c = &w->cfg;
    memset(b->dh_prev, 0, BH * sizeof(float)); /* carry: d loss / d h[k+1] from later steps */
    memset(b->dzin_next, 0, BZ * sizeof(float));
    float *gls = g + w->noise_ls;
    for (int k = Hs - 1; k >= 0; k--) {
        const float *out = b->out + (size_t)k * B * O;
        const float *hk = b->h + (size_t)k * BH, *hk1 = b->h + (size_t)(k + 1) * BH;
        const float *x = b->x + (size_t)k * B * In;
        float *dz = b->dz + (size_t)k * BZ;
        for (int i = 0; i < B; i++) {
            int fed = k + 1 < Hs && b->mask[(size_t)(k + 1) * B + i] < 0.5f;
            float *dzi = dz + (size_t)i * Z, *dn = b->dzin_next + (size_t)i * Z;
            float *dci = b->dzin_cur + (size_t)i * Z, *dout = b->dout + (size_t)i * O;
            const float *eki = b->eps + (size_t)k * BZ + (size_t)i * Z;
            const float *dmi = b->dm + (size_t)k * BZ + (size_t)i * Z;
            const float *sgi = b->sg + (size_t)k * BZ + (size_t)i * Z;
            const float *dli = b->dls + (size_t)k * BZ + (size_t)i * Z;
            float *dgi = b->dgs + (size_t)i * Z;
            for (int j = 0; j < Z; j++) {
                float gs = dzi[j] + (fed ? dn[j] : 0.0f); /* wrt the sample */
                /* sigma learns from the direct terms on the sample (and the NLL) only: the
                 * path through later inputs (which would shrink sigma to cut later MSE) is cut
                 * (with hetero_noise that also drops the later inputs' share of the GRU
                 * state's gradient through sigma(h); exact under teacher forcing) */
                float dlog = dzi[j] * eki[j] * sgi[j] + dli[j];
                dgi[j] = dlog;
                if (w->cfg.learn_noise) gls[j] += dlog;
                float gz = gs + dmi[j];                   /* wrt the mean */
                dci[j] = gz;
                dout[j] = gz * w->dz_std[j] * sl_world_clip_grad(w, out[(size_t)i * O + j]);
            }
            dout[Z] = b->dr[(size_t)k * B + i];
            for (int q = 0; q < E; q++) dout[Z + 1 + q] = b->de[((size_t)k * B + i) * E + q];
        }
        memcpy(b->dh_acc, b->dh_prev, BH * sizeof(float));
        sl_nn_linear_backward(b->dh_acc, g + w->head.w, g + w->head.b, b->dout, hk1,
                              p + w->head.w, B, Hh, O);
        if (c->hetero_noise) /* sigma(h): into W_s, b_s and on into the GRU state */
            sl_nn_linear_backward(b->dh_acc, g + w->noise_head.w, g + w->noise_head.b, b->dgs,
                                  hk1, p + w->noise_head.w, B, Hh, Z);
        memset(b->dh_prev, 0, BH * sizeof(float));
        memset(b->dx, 0, (size_t)B * In * sizeof(float));
        sl_nn_gru_cell_backward(b->dx, b->dh_prev, g + w->gru.w_ih, g + w->gru.w_hh,
                                g + w->gru.b_ih, g + w->gru.b_hh, b->dh_acc,
                                b->cache + (size_t)k * CF, x, hk, p + w->gru.w_ih,
                                p + w->gru.w_hh, B, In, Hh, b->gru_ws);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < Z; j++)
                b->dzin_cur[(size_t)i * Z + j] += b->dx[(size_t)i * In + j];
        float *t = b->dzin_next;
        b->dzin_next = b->dzin_cur;
        b->dzin_cur = t;
    }
}

/* --- the step ---------------------------------------------------------------------- */

double sl_world_member_step(const sl_world *w, sl_nn_arena *ar, const sl_world_tr_data *td,
                            sl_world_tr_buf *b, int Hs, int bmax, sl_rng *rng) {
    burn_in(w, ar->params, td, b, bmax);
    if (!forward_horizon(w, ar->params, td, b, Hs, rng)) return NAN;
    double loss = 0;
    add_fit_loss(w, td, b, Hs, &loss);
    add_nll_loss(w, td, b, Hs, &loss);
    add_dist_loss(w, td, b, Hs, &loss);
    add_window_loss(w, td, b, Hs, &loss);
    add_rough_loss(w, td, b, Hs, &loss);
    add_var_loss(w, td, b, Hs, &loss);
    if (!isfinite(loss)) return loss;
    backward_through_time(w, ar, b, Hs);
    return loss;
}

sl_status sl_world_batch_loss(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                              int B, int Hs, const float *mask, double *loss) {
    return sl_world_batch_loss_eps(w, m, d, rows, B, Hs, mask, loss, NULL);
}

sl_status sl_world_batch_loss_eps(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                                  int B, int Hs, const float *mask, double *loss, float *eps_out) {
    sl_world_tr_data td = {0};
    sl_world_tr_buf tb = {0};
    sl_status st = sl_world_trd_build(&td, w, d);
    if (st == SL_OK) st = sl_world_tr_alloc(&tb, w, B, Hs);
    int bmax = 0;
    for (int i = 0; st == SL_OK && i < B; i++) {
        size_t e = sl_world_row_episode(d, rows[i]), t0 = rows[i] - d->ep_start[e];
        if (rows[i] + (size_t)Hs > d->ep_start[e + 1]) {
            st = sl_set_error(SL_ERR_RANGE, "batch row %zu + %d runs past its episode", rows[i], Hs);
            break;
        }
        tb.rows[i] = rows[i];
        tb.burn[i] = (int)(t0 < (size_t)w->cfg.burn_in ? t0 : (size_t)w->cfg.burn_in);
        if (tb.burn[i] > bmax) bmax = tb.burn[i];
    }
    if (st == SL_OK) {
        memcpy(tb.mask, mask, (size_t)Hs * B * sizeof(float));
        sl_rng rng;
        sl_rng_seed(&rng, 12345, (uint64_t)m);
        *loss = sl_world_member_step(w, &w->arenas[m], &td, &tb, Hs, bmax, &rng);
        if (eps_out) memcpy(eps_out, tb.eps, (size_t)Hs * B * w->Z * sizeof(float));
    }
    sl_world_trd_free(&td);
    sl_world_tr_free(&tb);
    return st;
}
