/* SPDX-License-Identifier: Apache-2.0 */
/* eval.c - the world model's stability report per horizon (MSE, std ratio, variance growth of
 * synthetic and real over the same starts and steps, trust, ensemble disagreement) and the
 * detection test (out-of-fold AUC of a fresh real-vs-synthetic classifier).
 *
 * Invariant: synthetic and real windows are always paired: the same start row, the same real
 * actions, the same steps; every statistic compares the two over exactly those pairs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_stats.h"
#include "world/world_internal.h"

void sl_world_eval_config_default(sl_world_eval_config *c) {
    memset(c, 0, sizeof *c);
    static const int hs[] = {5, 10, 20, 40, 60};
    static const double fl[] = {0.95, 0.90, 0.85, 0.85, 0.85};
    c->n_h = 5;
    for (int i = 0; i < 5; i++) {
        c->horizons[i] = hs[i];
        c->floors[i] = fl[i];
    }
    c->start_stride = 5;
    c->noise = -1.0f;
    c->detect_folds = 5;
    c->seed = 0;
}

/* --- detection test -------------------------------------------------------------- */

/* Per-dim mean, std (ddof 0) and mean |z[t+1] - z[t]| of a window [T, D]: 3D features. */
static void window_features(const float *win, int T, int D, double *f) {
    for (int d = 0; d < D; d++) {
        double m = 0, v = 0, ch = 0;
        for (int t = 0; t < T; t++) m += (double)win[(size_t)t * D + d];
        m /= T;
        for (int t = 0; t < T; t++) {
            double x = (double)win[(size_t)t * D + d] - m;
            v += x * x;
            if (t) ch += fabs((double)win[(size_t)t * D + d] - (double)win[(size_t)(t - 1) * D + d]);
        }
        f[d] = m;
        f[D + d] = sqrt(v / T);
        f[2 * D + d] = T > 1 ? ch / (T - 1) : 0.0;
    }
}

/* L2-regularised logistic regression by full-batch gradient descent on standardised
 * features (fixed step and iteration count: deterministic). w[F+1] (last = bias). */
static void logreg_fit(const double *X, const int *y, size_t n, int F, double lambda, double *w) {
    memset(w, 0, (size_t)(F + 1) * sizeof(double));
    double *g = malloc((size_t)(F + 1) * sizeof(double));
    if (!g) return;
    for (int it = 0; it < 400; it++) {
        memset(g, 0, (size_t)(F + 1) * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double s = w[F];
            for (int f = 0; f < F; f++) s += w[f] * X[i * F + f];
            double p = 1.0 / (1.0 + exp(-s));
            double e = p - y[i];
            for (int f = 0; f < F; f++) g[f] += e * X[i * F + f] / (double)n;
            g[F] += e / (double)n;
        }
        for (int f = 0; f < F; f++) w[f] -= 0.5 * (g[f] + lambda * w[f]);
        w[F] -= 0.5 * g[F];
    }
    free(g);
}

sl_status sl_world_detect_auc(const float *real, const float *syn, size_t n, int T, int z_dim,
                              int folds, uint64_t seed, double *auc) {
    if (folds < 2 || n < (size_t)folds)
        return sl_set_error(SL_ERR_ARG, "detection: %zu pairs cannot fill %d folds", n, folds);
    if (T < 2) return sl_set_error(SL_ERR_ARG, "detection: windows need >= 2 steps");
    const int F = 3 * z_dim;
    size_t N = 2 * n;
    double *X = malloc(N * (size_t)F * sizeof(double));
    double *Xtr = malloc(N * (size_t)F * sizeof(double));
    int *y = malloc(N * sizeof(int)), *ytr = malloc(N * sizeof(int));
    double *score = malloc(N * sizeof(double)), *w = malloc((size_t)(F + 1) * sizeof(double));
    double *mu = malloc((size_t)F * sizeof(double)), *sd = malloc((size_t)F * sizeof(double));
    size_t *perm = malloc(n * sizeof(size_t));
    int *fold = malloc(n * sizeof(int));
    sl_status st = SL_OK;
    if (!X || !Xtr || !y || !ytr || !score || !w || !mu || !sd || !perm || !fold) {
        st = sl_set_error(SL_ERR_NOMEM, "detection: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        window_features(real + i * (size_t)T * z_dim, T, z_dim, X + (2 * i) * F);
        window_features(syn + i * (size_t)T * z_dim, T, z_dim, X + (2 * i + 1) * F);
        y[2 * i] = 0;
        y[2 * i + 1] = 1;
        perm[i] = i;
    }
    if (!sl_all_finite_f64(X, N * (size_t)F)) {
        st = sl_set_error(SL_ERR_NAN, "detection: non-finite window");
        goto done;
    }
    sl_rng rng;
    sl_rng_seed(&rng, seed, 77);
    sl_rng_shuffle(&rng, perm, n);
    for (size_t i = 0; i < n; i++) fold[perm[i]] = (int)(i % (size_t)folds);
    for (int k = 0; k < folds; k++) {
        size_t ntr = 0;
        for (size_t i = 0; i < N; i++)
            if (fold[i / 2] != k) {
                memcpy(Xtr + ntr * F, X + i * F, (size_t)F * sizeof(double));
                ytr[ntr++] = y[i];
            }
        for (int f = 0; f < F; f++) {
            double m = 0, v = 0;
            for (size_t i = 0; i < ntr; i++) m += Xtr[i * F + f];
            m /= (double)ntr;
            for (size_t i = 0; i < ntr; i++) v += (Xtr[i * F + f] - m) * (Xtr[i * F + f] - m);
            mu[f] = m;
            sd[f] = sqrt(v / (double)ntr);
            if (!(sd[f] > 1e-12)) sd[f] = 1.0;
            for (size_t i = 0; i < ntr; i++) Xtr[i * F + f] = (Xtr[i * F + f] - m) / sd[f];
        }
        logreg_fit(Xtr, ytr, ntr, F, 1e-2, w);
        for (size_t i = 0; i < N; i++) {
            if (fold[i / 2] != k) continue;
            double s = w[F];
            for (int f = 0; f < F; f++) s += w[f] * (X[i * F + f] - mu[f]) / sd[f];
            score[i] = s;
        }
    }
    st = sl_stats_roc_auc(score, y, N, auc);
done:
    free(X);
    free(Xtr);
    free(y);
    free(ytr);
    free(score);
    free(w);
    free(mu);
    free(sd);
    free(perm);
    free(fold);
    return st;
}

/* --- the report ------------------------------------------------------------------------ */

static sl_status eval_one(const sl_world *w, const sl_world_data *d, const size_t *eps, size_t ne,
                          int h, double floor_, const sl_world_eval_config *cfg,
                          sl_world_score_fn score, void *sctx, sl_world_eval_row *row) {
    memset(row, 0, sizeof *row);
    row->h = h;
    row->trust_floor = floor_;
    row->mse = row->std_ratio = row->var_growth = row->var_growth_real = NAN;
    row->trust_mean = row->trust_min = row->trust_pass_rate = NAN;
    row->trust_real_mean = row->trust_real_pass_rate = NAN;
    row->disagreement = row->detect_auc = NAN;
    const int Z = w->Z, M = w->M, T = h + 1;
    const size_t stride = (size_t)(cfg->start_stride > 0 ? cfg->start_stride : 1);
    size_t cap = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        if (L >= (size_t)h) cap += (L - (size_t)h) / stride + 1;
    }
    if (cap == 0) return SL_OK; /* no episode long enough: row of NaNs, n_starts 0 */
    size_t *rows = malloc(cap * sizeof *rows);
    if (!rows) return sl_set_error(SL_ERR_NOMEM, "world eval: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        for (size_t t = 0; L >= (size_t)h && t + (size_t)h <= L; t += stride)
            rows[n++] = d->ep_start[eps[i]] + t;
    }
    sl_world_rollout ro;
    sl_world_rollout_opts o = {h, 1, NULL, NULL, cfg->noise, cfg->seed + (uint64_t)h};
    sl_status st = sl_world_rollout_run(w, d, rows, (int)n, &o, &ro);
    if (st != SL_OK) {
        free(rows);
        return st;
    }
    size_t WZ = (size_t)T * Z;
    float *syn = malloc(n * WZ * sizeof(float)), *real = malloc(n * WZ * sizeof(float));
    double *zs = malloc(n * WZ * sizeof(double)), *zr = malloc(n * WZ * sizeof(double));
    double *p = malloc(n * sizeof(double));
    uint8_t *okv = malloc(n);
    if (!syn || !real || !zs || !zr || !p || !okv) {
        st = sl_set_error(SL_ERR_NOMEM, "world eval: out of memory");
        goto done;
    }
    /* the sample of start i is member i mod M; keep only good pairs (compacted) */
    size_t ng = 0;
    double dis = 0;
    size_t dis_n = 0;
    for (size_t i = 0; i < n; i++) {
        int m = (int)(i % (size_t)M);
        okv[i] = ro.ok[(size_t)m * n + i];
        if (!okv[i]) {
            row->n_bad++;
            continue;
        }
        memcpy(syn + ng * WZ, ro.z + ((size_t)m * n + i) * WZ, WZ * sizeof(float));
        float *rw = real + ng * WZ;
        memcpy(rw, d->z + rows[i] * Z, (size_t)Z * sizeof(float));
        for (int k = 0; k < h; k++)
            memcpy(rw + (size_t)(k + 1) * Z, d->z_next + (rows[i] + k) * Z, (size_t)Z * sizeof(float));
        /* disagreement: std across the members that stayed finite */
        int mg = 0;
        for (int q = 0; q < M; q++) mg += ro.ok[(size_t)q * n + i];
        if (mg >= 2)
            for (int k = 1; k < T; k++)
                for (int j = 0; j < Z; j++) {
                    double s = 0, s2 = 0;
                    for (int q = 0; q < M; q++) {
                        if (!ro.ok[(size_t)q * n + i]) continue;
                        double v = (double)ro.z[(((size_t)q * n + i) * T + k) * Z + j];
                        s += v;
                        s2 += v * v;
                    }
                    double mean = s / mg, var = s2 / mg - mean * mean;
                    dis += sqrt(var > 0 ? var : 0);
                    dis_n++;
                }
        ng++;
    }
    row->n_starts = n;
    if (dis_n) row->disagreement = dis / (double)dis_n;
    if (ng > 0) {
        double se = 0;
        for (size_t i = 0; i < ng; i++)
            for (int k = 1; k < T; k++)
                for (int j = 0; j < Z; j++) {
                    double e = (double)syn[(i * T + k) * Z + j] - (double)real[(i * T + k) * Z + j];
                    se += e * e;
                }
        row->mse = se / ((double)ng * h * Z);
        row->std_ratio = sl_world_window_std_ratio(syn, real, ng, T, Z);
        for (size_t i = 0; i < ng * WZ; i++) {
            zs[i] = (double)syn[i];
            zr[i] = (double)real[i];
        }
        double g;
        if (sl_stats_variance_growth(zs, ng, (size_t)T, (size_t)Z, 1e-6, NULL, &g) == SL_OK)
            row->var_growth = g;
        if (sl_stats_variance_growth(zr, ng, (size_t)T, (size_t)Z, 1e-6, NULL, &g) == SL_OK)
            row->var_growth_real = g;
        int folds = cfg->detect_folds;
        if (ng >= 4 && folds >= 2) {
            if ((size_t)folds > ng) folds = (int)ng;
            double auc;
            st = sl_world_detect_auc(real, syn, ng, T, Z, folds, cfg->seed + 13u * (uint64_t)h, &auc);
            if (st != SL_OK) goto done;
            row->detect_auc = auc;
        }
    }
    if (score && T >= 2) {
        double sum = 0, mn = INFINITY;
        size_t pass = 0;
        if (ng > 0) {
            st = score(sctx, syn, ng, T, Z, p);
            if (st != SL_OK) goto done;
        }
        for (size_t i = 0; i < ng; i++) {
            double v = isfinite(p[i]) ? p[i] : 0.0; /* a non-finite score counts as a failure */
            sum += v;
            if (v < mn) mn = v;
            if (v >= floor_) pass++;
        }
        if (row->n_bad) mn = 0; /* exploded rollouts have trust 0 */
        row->trust_mean = sum / (double)n;
        row->trust_min = mn;
        row->trust_pass_rate = (double)pass / (double)n;
        if (ng > 0) { /* the real windows of the same starts: what trust gives real data */
            st = score(sctx, real, ng, T, Z, p);
            if (st != SL_OK) goto done;
            double rs = 0;
            size_t rp = 0;
            for (size_t i = 0; i < ng; i++) {
                double v = isfinite(p[i]) ? p[i] : 0.0;
                rs += v;
                rp += v >= floor_;
            }
            row->trust_real_mean = rs / (double)ng;
            row->trust_real_pass_rate = (double)rp / (double)ng;
        }
    }
done:
    sl_world_rollout_free(&ro);
    free(rows);
    free(syn);
    free(real);
    free(zs);
    free(zr);
    free(p);
    free(okv);
    return st;
}

sl_status sl_world_evaluate(const sl_world *w, const sl_world_data *d, const size_t *episodes,
                            size_t n_episodes, const sl_world_eval_config *cfg,
                            sl_world_score_fn score, void *score_ctx, sl_world_eval_row *rows) {
    SL_TRY(sl_world_check_data(w, d));
    if (cfg->n_h < 1 || cfg->n_h > SL_WORLD_EVAL_MAX_H)
        return sl_set_error(SL_ERR_ARG, "world eval: %d horizons (1..%d)", cfg->n_h,
                            SL_WORLD_EVAL_MAX_H);
    for (int i = 0; i < cfg->n_h; i++)
        if (cfg->horizons[i] < 1 || cfg->horizons[i] > SL_WORLD_MAX_HORIZON)
            return sl_set_error(SL_ERR_ARG, "world eval: horizon %d out of range", cfg->horizons[i]);
    size_t *all = NULL;
    const size_t *eps = episodes;
    size_t ne = n_episodes;
    if (!eps) {
        int use_hold = w->n_holdout > 0 && w->data_episodes == d->n_episodes;
        for (size_t i = 0; use_hold && i < w->n_holdout; i++)
            if (w->holdout[i] >= d->n_episodes) use_hold = 0;
        if (use_hold) {
            eps = w->holdout;
            ne = w->n_holdout;
        } else {
            all = malloc(d->n_episodes * sizeof *all);
            if (!all) return sl_set_error(SL_ERR_NOMEM, "world eval: out of memory");
            for (size_t i = 0; i < d->n_episodes; i++) all[i] = i;
            eps = all;
            ne = d->n_episodes;
        }
    }
    for (size_t i = 0; i < ne; i++)
        if (eps[i] >= d->n_episodes) {
            free(all);
            return sl_set_error(SL_ERR_RANGE, "world eval: episode %zu out of range (%zu)", eps[i],
                                d->n_episodes);
        }
    sl_status st = SL_OK;
    for (int i = 0; i < cfg->n_h && st == SL_OK; i++)
        st = eval_one(w, d, eps, ne, cfg->horizons[i], cfg->floors[i], cfg, score, score_ctx,
                      &rows[i]);
    free(all);
    return st;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *sl_world_eval_json(const sl_world_eval_row *rows, int n) {
    cJSON *j = cJSON_CreateObject();
    cJSON *a = j ? cJSON_AddArrayToObject(j, "horizons") : NULL;
    if (!a) {
        cJSON_Delete(j);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const sl_world_eval_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "h", r->h);
        cJSON_AddNumberToObject(o, "n_starts", (double)r->n_starts);
        add_num(o, "mse", r->mse);
        add_num(o, "std_ratio", r->std_ratio);
        add_num(o, "var_growth", r->var_growth);
        add_num(o, "var_growth_real", r->var_growth_real);
        add_num(o, "trust_mean", r->trust_mean);
        add_num(o, "trust_min", r->trust_min);
        add_num(o, "trust_pass_rate", r->trust_pass_rate);
        add_num(o, "trust_floor", r->trust_floor);
        add_num(o, "trust_real_mean", r->trust_real_mean);
        add_num(o, "trust_real_pass_rate", r->trust_real_pass_rate);
        add_num(o, "disagreement", r->disagreement);
        add_num(o, "detect_auc", r->detect_auc);
        cJSON_AddNumberToObject(o, "n_bad", (double)r->n_bad);
        cJSON_AddItemToArray(a, o);
    }
    return j;
}
