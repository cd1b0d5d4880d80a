/* train.c - world-model training: teacher forcing, scheduled sampling and free-running BPTT
 * over segments of real episodes, with the variance-growth and distribution-matching
 * regularisers of seed 001, per-member bootstrap, held-out early stopping and divergence checks.
 *
 * Invariant: a model is only returned if every loss stayed finite and no validation rollout
 * exploded; the returned parameters are the best held-out snapshot, never NaN.
 * Backward order per step k (descending): the gradient reaching z_pred[k] is the direct loss
 * term plus, where step k+1 was fed its own prediction, the gradient of step k+1's input.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_stats.h"
#include "world/world_internal.h"

#define EPS_STD 1e-6f

/* --- normalisation ------------------------------------------------------------- */

static void col_stats(const float *x, size_t stride, const size_t *rows_of, size_t n_rows,
                      int col, double *mean, double *std) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n_rows; i++) s += (double)x[rows_of[i] * stride + (size_t)col];
    double m = s / (double)n_rows;
    for (size_t i = 0; i < n_rows; i++) {
        double v = (double)x[rows_of[i] * stride + (size_t)col] - m;
        ss += v * v;
    }
    *mean = m;
    *std = sqrt(ss / (double)n_rows);
}

static float pos_scale(double s, double floor_) { return (float)(s > floor_ ? s : 1.0); }

void sl_world_fit_norms(sl_world *w, const sl_world_data *d, const size_t *rows, size_t nr) {
    const int Z = w->Z, A = w->A;
    double m, s;
    for (int j = 0; j < Z; j++) {
        col_stats(d->z, (size_t)Z, rows, nr, j, &m, &s);
        w->z_mean[j] = (float)m;
        w->z_std[j] = pos_scale(s, 1e-8);
    }
    for (int j = 0; j < A; j++) {
        col_stats(d->actions, (size_t)A, rows, nr, j, &m, &s);
        w->a_mean[j] = (float)m;
        w->a_std[j] = pos_scale(s, 1e-8);
    }
    col_stats(d->rewards, 1, rows, nr, 0, &m, &s);
    w->r_mean = (float)m;
    w->r_std = pos_scale(s, 1e-8);
    for (int j = 0; j < Z; j++) {
        double ss = 0;
        for (size_t i = 0; i < nr; i++) {
            double v = ((double)d->z_next[rows[i] * Z + j] - (double)d->z[rows[i] * Z + j]) /
                       (double)w->z_std[j];
            ss += v * v;
        }
        double rms = sqrt(ss / (double)nr);
        w->dz_std[j] = (float)(rms > 1e-4 ? rms : 1e-4);
    }
    for (int q = 0; q < w->E; q++) {
        int bin = 1;
        for (size_t i = 0; i < nr && bin; i++) {
            float v = d->econ[q][rows[i]];
            if (v != 0.0f && v != 1.0f) bin = 0;
        }
        w->e_binary[q] = bin;
        col_stats(d->econ[q], 1, rows, nr, 0, &m, &s);
        w->e_mean[q] = bin ? 0.0f : (float)m;
        w->e_std[q] = bin ? 1.0f : pos_scale(s, 1e-8);
    }
}

/* --- training state ------------------------------------------------------------ */

typedef struct tr_buf {
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
} tr_buf;

static void tr_free(tr_buf *b) {
    free(b->x);
    free(b->rows);
    free(b->burn);
    memset(b, 0, sizeof *b);
}

static sl_status tr_alloc(tr_buf *b, const sl_world *w, int B, int S) {
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
        tr_free(b);
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

/* Standardised copies of everything the loss touches (rows of the whole dataset). */
typedef struct tr_data {
    float *zs, *zns, *as, *rs, *es; /* [n,Z] [n,Z] [n,A] [n] [n,E] */
} tr_data;

static void trd_free(tr_data *t) {
    free(t->zs);
    memset(t, 0, sizeof *t);
}

static sl_status trd_build(tr_data *t, const sl_world *w, const sl_world_data *d) {
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

/* --- one member, one step --------------------------------------------------------- */

static inline float bce_grad(float logit, float y, float *loss) {
    float p = 1.0f / (1.0f + expf(-logit));
    *loss = fmaxf(logit, 0.0f) - logit * y + log1pf(expf(-fabsf(logit)));
    return p - y;
}

/* Forward + backward over a batch already placed in b (rows, burn, mask); returns the loss.
 * Gradients are ADDED into the member's arena grads. */
static double member_step(const sl_world *w, int m, sl_nn_arena *ar, const tr_data *td,
                          tr_buf *b, int Hs, int bmax, sl_rng *rng) {
    const int B = b->B, Z = w->Z, A = w->A, E = w->E, Hh = w->H, In = w->In, O = w->O;
    const size_t BH = (size_t)B * Hh, BZ = (size_t)B * Z, CF = sl_nn_gru_cache_floats(B, Hh);
    const float *p = ar->params;
    float *g = ar->grads;
    const sl_world_config *c = &w->cfg;
    /* burn-in (no gradient): right-aligned context, inactive rows keep h = 0 */
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
    /* horizon */
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
        if (!sl_all_finite_f32(zp, BZ) || !sl_all_finite_f32(out, (size_t)B * O)) return NAN;
    }
    /* losses and their direct gradients (float64 accumulation) */
#define ZP(k, i, j) ((double)b->zpred[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define ZR(k, i, j) ((double)td->zns[(b->rows[i] + (size_t)(k)) * Z + (size_t)(j)])
#define Z0(i, j) ((double)td->zs[b->rows[i] * Z + (size_t)(j)])
#define DZ(k, i, j) b->dz[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)]
#define SG(k, i, j) (b->sg[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define ZM(k, i, j) (ZP(k, i, j) - (double)SG(k, i, j) * (double)b->eps[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)])
#define DM(k, i, j) b->dm[(size_t)(k) * BZ + (size_t)(i) * Z + (size_t)(j)]
    double loss = 0;
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
#undef ZP
#undef ZR
#undef Z0
#undef DZ
#undef ZM
#undef SG
#undef DM
    if (!isfinite(loss)) return loss;
    /* backward through time */
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
    (void)m;
    return loss;
}

sl_status sl_world_batch_loss(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                              int B, int Hs, const float *mask, double *loss) {
    return sl_world_batch_loss_eps(w, m, d, rows, B, Hs, mask, loss, NULL);
}

sl_status sl_world_batch_loss_eps(sl_world *w, int m, const sl_world_data *d, const size_t *rows,
                                  int B, int Hs, const float *mask, double *loss, float *eps_out) {
    tr_data td = {0};
    tr_buf tb = {0};
    sl_status st = trd_build(&td, w, d);
    if (st == SL_OK) st = tr_alloc(&tb, w, B, Hs);
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
        *loss = member_step(w, m, &w->arenas[m], &td, &tb, Hs, bmax, &rng);
        if (eps_out) memcpy(eps_out, tb.eps, (size_t)Hs * B * w->Z * sizeof(float));
    }
    trd_free(&td);
    tr_free(&tb);
    return st;
}

/* --- validation ----------------------------------------------------------------------- */

/* Held-out score (std units, mean over members): tf -> one-step MSE; ss/bptt -> free-run MSE
 * of the noise-free rollout over Hv steps from starts every 5 steps, plus (ln window std
 * ratio)^2 and (ln variance-growth ratio)^2 of the sampled rollout (the model's noise). */
static sl_status validate(const sl_world *w, const sl_world_data *d, const size_t *eps,
                          size_t ne, double *score) {
    int Hv;
    size_t minlen = (size_t)-1;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        if (L < minlen) minlen = L;
    }
    if (w->cfg.mode == SL_WORLD_MODE_TF)
        Hv = 1;
    else
        Hv = (int)((size_t)w->cfg.horizon < minlen ? (size_t)w->cfg.horizon : minlen);
    int stride = Hv == 1 ? 2 : 5;
    size_t cap = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        cap += (L - (size_t)Hv) / (size_t)stride + 1;
    }
    size_t *rows = malloc(cap * sizeof *rows);
    if (!rows) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory (validation)");
    size_t n = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        for (size_t t = 0; t + (size_t)Hv <= L; t += (size_t)stride)
            rows[n++] = d->ep_start[eps[i]] + t;
    }
    sl_world_rollout ro, rs = {0};
    sl_world_rollout_opts o = {Hv, 1, NULL, NULL, 0.0f, 0};
    sl_status st = sl_world_rollout_run(w, d, rows, (int)n, &o, &ro);
    if (st == SL_OK && Hv >= 2) { /* sampled rollouts (the model's noise) for the spread terms */
        sl_world_rollout_opts os = {Hv, 1, NULL, NULL, -1.0f, 99};
        st = sl_world_rollout_run(w, d, rows, (int)n, &os, &rs);
        if (st != SL_OK) sl_world_rollout_free(&ro);
    }
    if (st != SL_OK) {
        free(rows);
        return st;
    }
    const int Z = w->Z, T = Hv + 1;
    float *real = malloc(n * (size_t)T * Z * sizeof(float));
    if (!real) {
        free(rows);
        sl_world_rollout_free(&ro);
        sl_world_rollout_free(&rs);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory (validation)");
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(real + i * T * Z, d->z + rows[i] * Z, (size_t)Z * sizeof(float));
        for (int k = 0; k < Hv; k++)
            memcpy(real + (i * T + k + 1) * Z, d->z_next + (rows[i] + k) * Z, (size_t)Z * sizeof(float));
    }
    double tot = 0;
    for (int m = 0; m < w->M && st == SL_OK; m++) {
        const float *zs = ro.z + (size_t)m * n * T * Z;
        double mse = 0;
        for (size_t i = 0; i < n; i++) {
            if (!ro.ok[(size_t)m * n + i]) {
                st = sl_set_error(SL_ERR_DIVERGED, "world train: member %d's rollout exploded or "
                                  "went non-finite on held-out episode data (start row %zu)", m,
                                  rows[i]);
                break;
            }
            for (int k = 1; k < T; k++)
                for (int j = 0; j < Z; j++) {
                    double e = ((double)zs[(i * T + k) * Z + j] - (double)real[(i * T + k) * Z + j]) /
                               (double)w->z_std[j];
                    mse += e * e;
                }
        }
        if (st != SL_OK) break;
        mse /= (double)n * Hv * Z;
        double sc = mse;
        if (Hv >= 2) {
            const float *zz = rs.z + (size_t)m * n * T * Z;
            for (size_t i = 0; i < n && st == SL_OK; i++)
                if (!rs.ok[(size_t)m * n + i])
                    st = sl_set_error(SL_ERR_DIVERGED, "world train: member %d's sampled rollout "
                                      "exploded on held-out data (start row %zu)", m, rows[i]);
            if (st != SL_OK) break;
            double r = sl_world_window_std_ratio(zz, real, n, T, Z);
            double lr = isfinite(r) && r > 0 ? log(r) : 10.0;
            sc += lr * lr;
            double *v1 = malloc(n * (size_t)T * Z * 2 * sizeof(double));
            if (v1) {
                double *v2 = v1 + n * (size_t)T * Z, g1 = NAN, g2 = NAN;
                for (size_t i = 0; i < n * (size_t)T * Z; i++) {
                    v1[i] = (double)zz[i];
                    v2[i] = (double)real[i];
                }
                if (sl_stats_variance_growth(v1, n, (size_t)T, (size_t)Z, 1e-6, NULL, &g1) == SL_OK &&
                    sl_stats_variance_growth(v2, n, (size_t)T, (size_t)Z, 1e-6, NULL, &g2) == SL_OK) {
                    double lg = g1 > 0 && g2 > 0 ? log(g1 / g2) : 10.0;
                    sc += lg * lg;
                }
                free(v1);
            }
        }
        tot += sc / w->M;
    }
    free(real);
    free(rows);
    sl_world_rollout_free(&ro);
    sl_world_rollout_free(&rs);
    if (st == SL_OK) *score = tot;
    return st;
}

/* --- driver ---------------------------------------------------------------------------- */

sl_status sl_world_train(sl_world **out, const sl_world_data *d, const sl_world_config *cfg,
                         sl_world_train_report *rep) {
    *out = NULL;
    SL_TRY(sl_world_config_validate(cfg));
    if (d->n_econ != cfg->n_econ)
        return sl_set_error(SL_ERR_ARG, "world train: config lists %d econ columns, data binds %d",
                            cfg->n_econ, d->n_econ);
    for (int q = 0; q < cfg->n_econ; q++)
        if (strcmp(cfg->econ_names[q], d->econ_names[q]) != 0)
            return sl_set_error(SL_ERR_ARG, "world train: econ column %d is '%s' in the config, "
                                "'%s' in the data", q, cfg->econ_names[q], d->econ_names[q]);
    double t_start = sl_now();
    const size_t ne = d->n_episodes;
    /* split */
    size_t *perm = malloc(ne * sizeof *perm);
    if (!perm) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    for (size_t i = 0; i < ne; i++) perm[i] = i;
    sl_rng rng;
    sl_rng_seed(&rng, cfg->seed, 1);
    sl_rng_shuffle(&rng, perm, ne);
    size_t n_hold = (size_t)floor(cfg->holdout_frac * (double)ne + 0.5);
    if (cfg->holdout_frac > 0 && n_hold == 0 && ne >= 2) n_hold = 1;
    if (n_hold >= ne) n_hold = ne - 1;
    size_t n_train = ne - n_hold;
    const size_t *hold = perm, *train = perm + n_hold;
    /* rows of training episodes for the norms */
    size_t nrows = 0, maxlen = 0;
    for (size_t i = 0; i < n_train; i++) {
        size_t L = sl_world_data_ep_len(d, train[i]);
        nrows += L;
        if (L > maxlen) maxlen = L;
    }
    size_t *trows = malloc(nrows * sizeof *trows);
    if (!trows) {
        free(perm);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    }
    nrows = 0;
    for (size_t i = 0; i < n_train; i++)
        for (size_t r = d->ep_start[train[i]]; r < d->ep_start[train[i] + 1]; r++) trows[nrows++] = r;
    sl_world *w;
    sl_status st = sl_world_alloc(&w, cfg, d->z_dim, d->a_dim);
    if (st != SL_OK) {
        free(perm);
        free(trows);
        return st;
    }
    sl_world_fit_norms(w, d, trows, nrows);
    free(trows);
    /* sigma starts at half the real one-step change (std units), a scale the data sets */
    if (cfg->learn_noise)
        for (int m = 0; m < w->M; m++)
            for (int j = 0; j < w->Z; j++)
                w->arenas[m].params[w->noise_ls + j] = logf(0.5f * w->dz_std[j]);
    w->data_episodes = ne;
    w->n_holdout = n_hold;
    w->holdout = malloc((n_hold + 1) * sizeof(size_t));
    if (!w->holdout) {
        free(perm);
        sl_world_free(w);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    }
    memcpy(w->holdout, hold, n_hold * sizeof(size_t));
    /* sort held-out indices for readability */
    for (size_t i = 1; i < n_hold; i++)
        for (size_t j = i; j > 0 && w->holdout[j - 1] > w->holdout[j]; j--) {
            size_t t = w->holdout[j];
            w->holdout[j] = w->holdout[j - 1];
            w->holdout[j - 1] = t;
        }

    const int M = w->M, B = cfg->batch;
    int Hcap = (int)((size_t)cfg->horizon < maxlen ? (size_t)cfg->horizon : maxlen);
    tr_data td = {0};
    /* Members train in parallel, one per thread (each has its own RNG stream, arena and
     * optimiser state, so the result does not depend on the thread count); every thread has
     * its own batch buffers. */
    int nth = sl_nn_get_threads();
    if (nth > M) nth = M;
    if (nth < 1) nth = 1;
    tr_buf *tbs = calloc((size_t)nth, sizeof *tbs);
    size_t *boot = malloc((size_t)M * n_train * sizeof *boot);
    size_t *eligs = malloc((size_t)nth * n_train * sizeof *eligs);
    float **best = calloc((size_t)M, sizeof *best);
    sl_rng *mrng = calloc((size_t)M, sizeof *mrng);
    double *mloss = calloc((size_t)M, sizeof *mloss);
    int *mbad = calloc((size_t)M, sizeof *mbad);
    if (!tbs || !boot || !eligs || !best || !mrng || !mloss || !mbad)
        st = sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    if (st == SL_OK) st = trd_build(&td, w, d);
    for (int k = 0; k < nth && st == SL_OK; k++) st = tr_alloc(&tbs[k], w, B, Hcap);
    for (int m = 0; m < M && st == SL_OK; m++) {
        sl_rng_seed(&mrng[m], cfg->seed, 100 + (uint64_t)m);
        for (size_t i = 0; i < n_train; i++)
            boot[(size_t)m * n_train + i] =
                cfg->bootstrap && M > 1 ? train[sl_rng_below(&mrng[m], n_train)] : train[i];
        best[m] = malloc(w->arenas[m].numel * sizeof(float));
        if (!best[m]) st = sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
        else memcpy(best[m], w->arenas[m].params, w->arenas[m].numel * sizeof(float));
    }
    const size_t *val_eps = n_hold ? hold : train;
    size_t n_val = n_hold ? n_hold : n_train;
    double best_val = INFINITY, last_loss = 0;
    int best_iter = 0, bad_checks = 0, it = 0, stopped = 0;
    sl_nn_adam adam = sl_nn_adam_defaults(cfg->lr);
    sl_progress prog;
    sl_progress_begin(&prog, "world train", (uint64_t)cfg->max_iters);
    for (it = 1; it <= cfg->max_iters && st == SL_OK; it++) {
        /* segment length for this iteration (shared by the members) */
        int Hs = Hcap;
        if (cfg->mode != SL_WORLD_MODE_TF && Hcap > 1 &&
            sl_rng_uniform(&rng) < (double)cfg->horizon_mix)
            Hs = 1 + (int)sl_rng_below(&rng, (uint64_t)Hcap);
        float ptf = 1.0f;
        if (cfg->mode == SL_WORLD_MODE_BPTT) ptf = 0.0f;
        if (cfg->mode == SL_WORLD_MODE_SS) {
            double frac = (double)(it - 1) / ((double)cfg->ss_frac * cfg->max_iters);
            if (frac > 1) frac = 1;
            ptf = (float)((double)cfg->ss_start + (double)(cfg->ss_end - cfg->ss_start) * frac);
        }
        double loss_sum = 0;
#pragma omp parallel for schedule(static, 1) num_threads(nth) if (nth > 1)
        for (int m = 0; m < M; m++) {
            tr_buf *tb = &tbs[omp_get_thread_num()];
            size_t *elig = eligs + (size_t)omp_get_thread_num() * n_train;
            const size_t *mine = boot + (size_t)m * n_train;
            size_t n_el = 0;
            for (size_t i = 0; i < n_train; i++)
                if (sl_world_data_ep_len(d, mine[i]) >= (size_t)Hs) elig[n_el++] = mine[i];
            if (n_el == 0) /* bootstrap missed every long episode */
                for (size_t i = 0; i < n_train; i++)
                    if (sl_world_data_ep_len(d, train[i]) >= (size_t)Hs) elig[n_el++] = train[i];
            int bmax = 0;
            for (int i = 0; i < B; i++) {
                size_t e = elig[sl_rng_below(&mrng[m], n_el)];
                size_t L = sl_world_data_ep_len(d, e);
                size_t t0 = sl_rng_below(&mrng[m], L - (size_t)Hs + 1);
                tb->rows[i] = d->ep_start[e] + t0;
                tb->burn[i] = (int)(t0 < (size_t)cfg->burn_in ? t0 : (size_t)cfg->burn_in);
                if (tb->burn[i] > bmax) bmax = tb->burn[i];
                for (int k = 0; k < Hs; k++)
                    tb->mask[(size_t)k * B + i] =
                        (ptf >= 1.0f || (ptf > 0 && sl_rng_uniform(&mrng[m]) < (double)ptf)) ? 1.0f
                                                                                             : 0.0f;
            }
            sl_nn_arena_zero_grad(&w->arenas[m]);
            double l = member_step(w, m, &w->arenas[m], &td, tb, Hs, bmax, &mrng[m]);
            mloss[m] = l;
            mbad[m] = 0;
            if (!isfinite(l)) {
                mbad[m] = 1;
                continue;
            }
            if (cfg->grad_clip > 0) sl_nn_arena_clip_grad_norm(&w->arenas[m], cfg->grad_clip);
            sl_nn_arena_adam_step(&w->arenas[m], &adam);
            if (!sl_all_finite_f32(w->arenas[m].params, w->arenas[m].numel)) mbad[m] = 2;
        }
        /* errors and the loss sum in member order, whatever the threads did */
        for (int m = 0; m < M && st == SL_OK; m++) {
            if (mbad[m] == 1)
                st = sl_set_error(SL_ERR_DIVERGED, "world train: loss of member %d became %s at "
                                  "iteration %d (try a lower --lr or --clip tanh)", m,
                                  isnan(mloss[m]) ? "NaN" : "Inf", it);
            else if (mbad[m] == 2)
                st = sl_set_error(SL_ERR_DIVERGED, "world train: parameters of member %d became "
                                  "non-finite at iteration %d", m, it);
            else
                loss_sum += mloss[m];
        }
        if (st != SL_OK) break;
        last_loss = loss_sum / M;
        if (it % cfg->eval_every == 0 || it == cfg->max_iters) {
            double v = 0;
            st = validate(w, d, val_eps, n_val, &v);
            if (st != SL_OK) break;
            if (!isfinite(v)) {
                st = sl_set_error(SL_ERR_DIVERGED, "world train: held-out score became non-finite "
                                  "at iteration %d", it);
                break;
            }
            if (v < best_val) {
                best_val = v;
                best_iter = it;
                bad_checks = 0;
                for (int m = 0; m < M; m++)
                    memcpy(best[m], w->arenas[m].params, w->arenas[m].numel * sizeof(float));
            } else if (++bad_checks >= cfg->patience) {
                stopped = 1;
                char extra[96];
                snprintf(extra, sizeof extra, "loss %.4g val %.4g (early stop)", last_loss, v);
                sl_progress_update(&prog, (uint64_t)it, extra);
                break;
            }
            char extra[96];
            snprintf(extra, sizeof extra, "loss %.4g val %.4g best %.4g", last_loss, v, best_val);
            sl_progress_update(&prog, (uint64_t)it, extra);
        }
    }
    sl_progress_end(&prog);
    if (st == SL_OK) {
        if (best_iter == 0) { /* the last iteration always validates, so this is a bug */
            st = sl_set_error(SL_ERR_INTERNAL, "world train: no validation ran");
        } else {
            for (int m = 0; m < M; m++)
                memcpy(w->arenas[m].params, best[m], w->arenas[m].numel * sizeof(float));
        }
    }
    if (rep) {
        rep->iters = it > cfg->max_iters ? cfg->max_iters : it;
        rep->best_iter = best_iter;
        rep->train_loss = last_loss;
        rep->best_val = best_val;
        rep->stopped_early = stopped;
        rep->seconds = sl_now() - t_start;
    }
    for (int m = 0; best && m < M; m++) free(best[m]);
    free(best);
    free(mrng);
    free(boot);
    free(eligs);
    free(mloss);
    free(mbad);
    free(perm);
    trd_free(&td);
    for (int k = 0; tbs && k < nth; k++) tr_free(&tbs[k]);
    free(tbs);
    if (st != SL_OK) {
        sl_world_free(w);
        return st;
    }
    *out = w;
    return SL_OK;
}
