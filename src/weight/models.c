/* SPDX-License-Identifier: Apache-2.0 */
/* models.c - the controller's learned components: the monotone econ value model and the
 * lambda (budget) controller, their losses with analytic gradients, and Adam training.
 *
 * Invariants: econ is non-decreasing in ΔMPL and ΔEP and non-increasing in Δerror for every
 * parameter vector (the delta coefficients are signed softplus factors); lambda is in
 * [0, max_synth_share] by construction (max * sigmoid). Training is full-batch and
 * deterministic: same records + config => same bits.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_weight.h"
#include "weight/weight_internal.h"

#define ECON_X_CLIP 1e6
#define LAMBDA_F_CLIP 10.0

static const double econ_sign[3] = {1.0, -1.0, 1.0}; /* ΔMPL up, Δerror down, ΔEP up */

/* --- econ model --------------------------------------------------------- */

void sl_econ_model_init(sl_econ_model *m, int n_bricks) {
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 4; k++) m->scale[k] = 1.0;
    m->n_bricks = n_bricks < 0 ? 0 : (n_bricks > SL_ECON_MAX_BRICKS ? SL_ECON_MAX_BRICKS : n_bricks);
}

static sl_status econ_check_model(const sl_econ_model *m, const char *fn) {
    if (m->n_bricks < 0 || m->n_bricks > SL_ECON_MAX_BRICKS)
        return sl_set_error(SL_ERR_ARG, "%s: n_bricks = %d outside [0, %d]", fn, m->n_bricks,
                            SL_ECON_MAX_BRICKS);
    for (int k = 0; k < 4; k++)
        if (!(m->scale[k] > 0.0) || !isfinite(m->scale[k]))
            return sl_set_error(SL_ERR_ARG, "%s: scale[%d] = %g must be finite and > 0", fn, k,
                                m->scale[k]);
    if (!sl_all_finite_f64(m->params, SL_ECON_NPARAMS))
        return sl_set_error(SL_ERR_NAN, "%s: model parameters are not finite", fn);
    return SL_OK;
}

/* z of one sample; if dz != NULL, adds coef * dz/dparams into it. */
static double econ_forward(const sl_econ_model *m, const double d[4], int brick,
                           const double *o, double *dz, double coef) {
    const double *p = m->params;
    double x[4];
    for (int k = 0; k < 4; k++) x[k] = sl_w_clip(d[k] / m->scale[k], -ECON_X_CLIP, ECON_X_CLIP);
    double z = p[SL_ECON_P_B0];
    if (dz) dz[SL_ECON_P_B0] += coef;
    if (brick >= 0 && brick < m->n_bricks) {
        z += p[SL_ECON_P_BRICK + brick];
        if (dz) dz[SL_ECON_P_BRICK + brick] += coef;
    }
    for (int j = 0; j < SL_OBJ_COUNT; j++) {
        z += p[SL_ECON_P_G + j] * o[j];
        if (dz) dz[SL_ECON_P_G + j] += coef * o[j];
    }
    for (int k = 0; k < 3; k++) {
        double a = p[SL_ECON_P_U + k];
        for (int j = 0; j < SL_OBJ_COUNT; j++) a += p[SL_ECON_P_V + 4 * k + j] * o[j];
        z += econ_sign[k] * sl_w_softplus(a) * x[k];
        if (dz) {
            double g = coef * econ_sign[k] * sl_w_sigmoid(a) * x[k];
            dz[SL_ECON_P_U + k] += g;
            for (int j = 0; j < SL_OBJ_COUNT; j++) dz[SL_ECON_P_V + 4 * k + j] += g * o[j];
        }
    }
    double cn = p[SL_ECON_P_ANOV];
    for (int j = 0; j < SL_OBJ_COUNT; j++) cn += p[SL_ECON_P_VN + j] * o[j];
    z += cn * x[3];
    if (dz) {
        dz[SL_ECON_P_ANOV] += coef * x[3];
        for (int j = 0; j < SL_OBJ_COUNT; j++) dz[SL_ECON_P_VN + j] += coef * x[3] * o[j];
    }
    return z;
}

sl_status sl_econ_model_eval(const sl_econ_model *m, double delta_mpl, double delta_error,
                             double delta_ep, double novelty, int brick_id,
                             const double objective[SL_OBJ_COUNT], double *econ) {
    double d[4] = {delta_mpl, delta_error, delta_ep, novelty};
    if (!sl_all_finite_f64(d, 4) || !sl_all_finite_f64(objective, SL_OBJ_COUNT))
        return sl_set_error(SL_ERR_NAN, "sl_econ_model_eval: non-finite input");
    double z = econ_forward(m, d, brick_id, objective, NULL, 0.0);
    if (isnan(z)) return sl_set_error(SL_ERR_NAN, "sl_econ_model_eval: model output is NaN");
    *econ = sl_w_sigmoid(z);
    return SL_OK;
}

static sl_status econ_check_records(const sl_econ_record *r, size_t n, const char *fn) {
    if (!r || n == 0) return sl_set_error(SL_ERR_ARG, "%s: no records", fn);
    for (size_t i = 0; i < n; i++) {
        double v[5] = {r[i].delta_mpl, r[i].delta_error, r[i].delta_ep, r[i].novelty,
                       r[i].outcome};
        if (!sl_all_finite_f64(v, 5) || !sl_all_finite_f64(r[i].objective, SL_OBJ_COUNT))
            return sl_set_error(SL_ERR_NAN, "%s: record %zu has a non-finite value", fn, i);
        if (r[i].outcome < 0.0 || r[i].outcome > 1.0)
            return sl_set_error(SL_ERR_RANGE, "%s: record %zu outcome %g outside [0,1]", fn, i,
                                r[i].outcome);
        if (r[i].brick_id >= SL_ECON_MAX_BRICKS)
            return sl_set_error(SL_ERR_RANGE, "%s: record %zu brick_id %d >= %d", fn, i,
                                r[i].brick_id, SL_ECON_MAX_BRICKS);
    }
    return SL_OK;
}

sl_status sl_econ_loss_grad(const sl_econ_model *m, const sl_econ_record *r, size_t n,
                            double l2, double *loss, double *grad) {
    static const char fn[] = "sl_econ_loss_grad";
    SL_TRY(econ_check_model(m, fn));
    SL_TRY(econ_check_records(r, n, fn));
    double dz[SL_ECON_NPARAMS];
    if (grad) memset(grad, 0, sizeof dz);
    double L = 0.0, inv = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d[4] = {r[i].delta_mpl, r[i].delta_error, r[i].delta_ep, r[i].novelty};
        double z = econ_forward(m, d, r[i].brick_id, r[i].objective, NULL, 0.0);
        double y = r[i].outcome;
        L += (sl_w_softplus(z) - y * z) * inv; /* BCE with logits, soft target */
        if (grad) econ_forward(m, d, r[i].brick_id, r[i].objective, grad,
                               (sl_w_sigmoid(z) - y) * inv);
    }
    for (int k = 1; k < SL_ECON_NPARAMS; k++) { /* b0 is not penalised */
        L += 0.5 * l2 * m->params[k] * m->params[k];
        if (grad) grad[k] += l2 * m->params[k];
    }
    if (!isfinite(L)) return sl_set_error(SL_ERR_DIVERGED, "%s: loss is not finite", fn);
    *loss = L;
    return SL_OK;
}

sl_weight_train_cfg sl_weight_train_cfg_default(void) {
    sl_weight_train_cfg c = {2000, 0.05, 1e-4};
    return c;
}

static sl_status check_cfg(const sl_weight_train_cfg *cfg, const char *fn) {
    if (cfg->steps < 0 || !(cfg->lr > 0.0) || !isfinite(cfg->lr) || !(cfg->l2 >= 0.0) ||
        !isfinite(cfg->l2))
        return sl_set_error(SL_ERR_ARG, "%s: bad config steps=%d lr=%g l2=%g", fn, cfg->steps,
                            cfg->lr, cfg->l2);
    return SL_OK;
}

sl_status sl_econ_model_train(sl_econ_model *m, const sl_econ_record *r, size_t n,
                              const sl_weight_train_cfg *cfg, double *loss_before,
                              double *loss_after) {
    static const char fn[] = "sl_econ_model_train";
    sl_weight_train_cfg dc = sl_weight_train_cfg_default();
    if (!cfg) cfg = &dc;
    SL_TRY(check_cfg(cfg, fn));
    SL_TRY(econ_check_records(r, n, fn));
    int nb = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].brick_id + 1 > nb) nb = r[i].brick_id + 1;
    sl_econ_model w;
    sl_econ_model_init(&w, nb);
    /* input scales: population std of each feature over the records */
    for (int k = 0; k < 4; k++) {
        double s = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double v = k == 0 ? r[i].delta_mpl
                     : k == 1 ? r[i].delta_error
                     : k == 2 ? r[i].delta_ep
                              : r[i].novelty;
            s += v;
        }
        double mu = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double v = k == 0 ? r[i].delta_mpl
                     : k == 1 ? r[i].delta_error
                     : k == 2 ? r[i].delta_ep
                              : r[i].novelty;
            s2 += (v - mu) * (v - mu);
        }
        double sd = sqrt(s2 / (double)n);
        w.scale[k] = sd > 1e-12 && isfinite(sd) ? sd : 1.0;
    }
    double g[SL_ECON_NPARAMS], am[SL_ECON_NPARAMS] = {0}, av[SL_ECON_NPARAMS] = {0}, L;
    SL_TRY(sl_econ_loss_grad(&w, r, n, cfg->l2, &L, NULL));
    if (loss_before) *loss_before = L;
    size_t np = (size_t)SL_ECON_P_BRICK + (size_t)nb; /* unused brick slots stay 0 */
    for (int t = 1; t <= cfg->steps; t++) {
        SL_TRY(sl_econ_loss_grad(&w, r, n, cfg->l2, &L, g));
        sl_w_adam(w.params, g, am, av, np, cfg->lr, t);
    }
    SL_TRY(sl_econ_loss_grad(&w, r, n, cfg->l2, &L, NULL));
    if (loss_after) *loss_after = L;
    w.n_train = n;
    *m = w;
    return SL_OK;
}

/* --- lambda controller -------------------------------------------------- */

void sl_lambda_model_init(sl_lambda_model *m) { memset(m, 0, sizeof *m); }

static double rel(double a, double b) {
    double d = fabs(b) > 1e-6 ? fabs(b) : 1e-6;
    return (a - b) / d;
}

sl_status sl_lambda_features(const sl_weight_context *c, double *f) {
    double v[12] = {c->objective[0], c->objective[1], c->objective[2], c->objective[3],
                    c->current_mpl, c->current_error, c->current_ep, c->baseline_mpl,
                    c->baseline_error, c->baseline_ep, c->training_progress, c->max_synth_share};
    if (!sl_all_finite_f64(v, 12))
        return sl_set_error(SL_ERR_NAN, "sl_lambda_features: non-finite context value");
    if (!(c->max_synth_share > 0.0 && c->max_synth_share < 1.0))
        return sl_set_error(SL_ERR_RANGE, "sl_lambda_features: max_synth_share %g outside (0,1)",
                            c->max_synth_share);
    for (int j = 0; j < 4; j++) f[j] = c->objective[j];
    f[4] = rel(c->current_mpl, c->baseline_mpl);
    f[5] = rel(c->current_error, c->baseline_error);
    f[6] = rel(c->current_ep, c->baseline_ep);
    f[7] = c->training_progress;
    if (!isfinite(c->real_rows) || c->real_rows < 0.0)
        return sl_set_error(SL_ERR_RANGE, "sl_lambda_features: real_rows %g must be finite and >= 0",
                            c->real_rows);
    f[8] = c->real_rows > 0.0 ? log2(c->real_rows / 1000.0) : 0.0;
    for (int j = 0; j < SL_LAMBDA_NFEAT; j++) f[j] = sl_w_clip(f[j], -LAMBDA_F_CLIP, LAMBDA_F_CLIP);
    return SL_OK;
}

static double lambda_z(const sl_lambda_model *m, const double *f) {
    double z = m->params[SL_LAMBDA_NFEAT];
    for (int j = 0; j < SL_LAMBDA_NFEAT; j++) z += m->params[j] * f[j];
    return z;
}

sl_status sl_lambda_model_eval(const sl_lambda_model *m, const sl_weight_context *c,
                               double *lambda) {
    double f[SL_LAMBDA_NFEAT];
    SL_TRY(sl_lambda_features(c, f));
    if (!sl_all_finite_f64(m->params, SL_LAMBDA_NPARAMS))
        return sl_set_error(SL_ERR_NAN, "sl_lambda_model_eval: parameters are not finite");
    *lambda = c->max_synth_share * sl_w_sigmoid(lambda_z(m, f));
    return SL_OK;
}

sl_status sl_lambda_loss_grad(const sl_lambda_model *m, const sl_lambda_record *r, size_t n,
                              double l2, double *loss, double *grad) {
    static const char fn[] = "sl_lambda_loss_grad";
    if (!r || n == 0) return sl_set_error(SL_ERR_ARG, "%s: no records", fn);
    if (!sl_all_finite_f64(m->params, SL_LAMBDA_NPARAMS))
        return sl_set_error(SL_ERR_NAN, "%s: parameters are not finite", fn);
    double rsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(r[i].share) || r[i].share < 0.0 || r[i].share > 1.0)
            return sl_set_error(SL_ERR_RANGE, "%s: record %zu share %g outside [0,1]", fn, i,
                                r[i].share);
        if (!isfinite(r[i].reward) || r[i].reward < 0.0)
            return sl_set_error(SL_ERR_RANGE, "%s: record %zu reward %g is not >= 0", fn, i,
                                r[i].reward);
        rsum += r[i].reward;
    }
    if (!(rsum > 0.0)) return sl_set_error(SL_ERR_RANGE, "%s: rewards sum to 0", fn);
    if (grad) memset(grad, 0, SL_LAMBDA_NPARAMS * sizeof *grad);
    double L = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f[SL_LAMBDA_NFEAT];
        sl_status st = sl_lambda_features(&r[i].ctx, f);
        if (st != SL_OK)
            return sl_set_error(st, "%s: record %zu: %s", fn, i, sl_last_error());
        double s = sl_w_sigmoid(lambda_z(m, f)), mx = r[i].ctx.max_synth_share;
        double e = mx * s - r[i].share, wi = r[i].reward / rsum;
        L += wi * e * e;
        if (grad) {
            double dz = wi * 2.0 * e * mx * s * (1.0 - s);
            for (int j = 0; j < SL_LAMBDA_NFEAT; j++) grad[j] += dz * f[j];
            grad[SL_LAMBDA_NFEAT] += dz;
        }
    }
    for (int j = 0; j < SL_LAMBDA_NFEAT; j++) {
        L += 0.5 * l2 * m->params[j] * m->params[j];
        if (grad) grad[j] += l2 * m->params[j];
    }
    *loss = L;
    return SL_OK;
}

sl_status sl_lambda_model_train(sl_lambda_model *m, const sl_lambda_record *r, size_t n,
                                const sl_weight_train_cfg *cfg, double *loss_before,
                                double *loss_after) {
    static const char fn[] = "sl_lambda_model_train";
    sl_weight_train_cfg dc = sl_weight_train_cfg_default();
    if (!cfg) cfg = &dc;
    SL_TRY(check_cfg(cfg, fn));
    sl_lambda_model w;
    sl_lambda_model_init(&w);
    double g[SL_LAMBDA_NPARAMS], am[SL_LAMBDA_NPARAMS] = {0}, av[SL_LAMBDA_NPARAMS] = {0}, L;
    SL_TRY(sl_lambda_loss_grad(&w, r, n, cfg->l2, &L, NULL));
    if (loss_before) *loss_before = L;
    for (int t = 1; t <= cfg->steps; t++) {
        SL_TRY(sl_lambda_loss_grad(&w, r, n, cfg->l2, &L, g));
        sl_w_adam(w.params, g, am, av, SL_LAMBDA_NPARAMS, cfg->lr, t);
    }
    SL_TRY(sl_lambda_loss_grad(&w, r, n, cfg->l2, &L, NULL));
    if (loss_after) *loss_after = L;
    w.n_train = n;
    /* residual spread for the distributional lambda: weighted by the records' rewards */
    double sw = 0, se = 0;
    for (size_t i = 0; i < n; i++) {
        double lam;
        SL_TRY(sl_lambda_model_eval(&w, &r[i].ctx, &lam));
        sw += r[i].reward;
        se += r[i].reward * (lam - r[i].share) * (lam - r[i].share);
    }
    w.resid_std = sw > 0 ? sqrt(se / sw) : 0.0;
    *m = w;
    return SL_OK;
}

sl_status sl_lambda_model_sample(const sl_lambda_model *m, const sl_weight_context *c,
                                 uint64_t seed, uint64_t epoch, double *lambda, double *mean_out,
                                 double *std_out) {
    double mean;
    SL_TRY(sl_lambda_model_eval(m, c, &mean));
    if (!(m->resid_std >= 0) || !isfinite(m->resid_std))
        return sl_set_error(SL_ERR_NAN, "lambda model: residual std %g is not a finite value >= 0",
                            m->resid_std);
    sl_rng r;
    sl_rng_seed(&r, seed, epoch);
    double x = mean + m->resid_std * sl_rng_normal(&r);
    if (x < 0) x = 0;
    if (x > c->max_synth_share) x = c->max_synth_share;
    *lambda = x;
    if (mean_out) *mean_out = mean;
    if (std_out) *std_out = m->resid_std;
    return SL_OK;
}
