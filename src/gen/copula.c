/* SPDX-License-Identifier: Apache-2.0 */
/* copula.c - the Gaussian copula generator (SDV's GaussianCopula, the classical baseline).
 *
 * Fit: every column becomes normal scores z: numeric and date columns through their mid-ranks,
 * categorical columns SDV-style (labels sorted by frequency, each given an interval of [0, 1]
 * as wide as its share; a row's u is uniform inside its label's interval, z = Phi^-1(u)).
 * R = Pearson correlation of the z's. Sample: z = chol(R) e, u = Phi(z), then each column's
 * inverse: the empirical quantile function (numeric, date) or the interval holding u.
 * Invariant: R is symmetric positive definite (shrunk towards I until Cholesky succeeds).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"

#define COPULA_KNOTS 2001

typedef struct copula {
    size_t d;
    gen_marginal *marg; /* [d] numeric/date columns (K = 0 for categorical) */
    double **probs;     /* [d] categorical shares in code order (NULL otherwise) */
    size_t **order;     /* [d] codes by decreasing share (ties by code) */
    double *corr;       /* [d*d] */
    double *chol;       /* [d*d] lower triangular */
} copula;

static void copula_free(void *p) {
    copula *c = p;
    if (!c) return;
    for (size_t j = 0; j < c->d; j++) {
        if (c->marg) gen_marginal_free(&c->marg[j]);
        if (c->probs) free(c->probs[j]);
        if (c->order) free(c->order[j]);
    }
    free(c->marg);
    free(c->probs);
    free(c->order);
    free(c->corr);
    free(c->chol);
    free(c);
}

static copula *copula_new(size_t d) {
    copula *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->d = d;
    c->marg = calloc(d, sizeof *c->marg);
    c->probs = calloc(d, sizeof *c->probs);
    c->order = calloc(d, sizeof *c->order);
    c->corr = calloc(d * d, sizeof *c->corr);
    c->chol = calloc(d * d, sizeof *c->chol);
    if (!c->marg || !c->probs || !c->order || !c->corr || !c->chol) {
        copula_free(c);
        return NULL;
    }
    return c;
}

/* order[] = codes by decreasing probs (stable on code) */
static sl_status make_order(copula *c, size_t j, size_t K) {
    size_t *o = malloc(K * sizeof *o);
    if (!o) return sl_set_error(SL_ERR_NOMEM, "copula: out of memory");
    for (size_t k = 0; k < K; k++) o[k] = k;
    for (size_t a = 1; a < K; a++) { /* insertion sort: K is small */
        size_t v = o[a], b = a;
        while (b > 0 && c->probs[j][o[b - 1]] < c->probs[j][v]) o[b] = o[b - 1], b--;
        o[b] = v;
    }
    c->order[j] = o;
    return SL_OK;
}

/* Cholesky of corr into chol, shrinking corr towards I until it is positive definite. */
static sl_status cholesky_shrunk(copula *c) {
    size_t d = c->d;
    double lam = 0.0;
    for (int attempt = 0; attempt < 20; attempt++) {
        int ok = 1;
        memset(c->chol, 0, d * d * sizeof *c->chol);
        for (size_t i = 0; i < d && ok; i++)
            for (size_t j = 0; j <= i; j++) {
                double a = (1 - lam) * c->corr[i * d + j] + (i == j ? lam : 0.0);
                for (size_t k = 0; k < j; k++) a -= c->chol[i * d + k] * c->chol[j * d + k];
                if (i == j) {
                    if (!(a > 1e-12)) {
                        ok = 0;
                        break;
                    }
                    c->chol[i * d + i] = sqrt(a);
                } else {
                    c->chol[i * d + j] = a / c->chol[j * d + j];
                }
            }
        if (ok) {
            if (lam > 0)
                for (size_t i = 0; i < d * d; i++)
                    c->corr[i] = (1 - lam) * c->corr[i] + (i % (d + 1) == 0 ? lam : 0.0);
            return SL_OK;
        }
        lam = lam == 0.0 ? 1e-8 : lam * 10.0;
        if (lam > 1.0) break;
    }
    return sl_set_error(SL_ERR_DIVERGED, "copula: correlation matrix is not positive definite");
}

static sl_status copula_fit(void **state, const sl_gen_config *cfg, const sl_gen_table *data,
                            sl_gen_table **schema, sl_dp_spent *dp) {
    size_t d = data->n_cols, n = data->n_rows;
    copula *c = copula_new(d);
    double *z = malloc(d * n * sizeof *z);
    sl_status st = c && z ? SL_OK : sl_set_error(SL_ERR_NOMEM, "copula: out of memory");
    sl_rng rng;
    sl_rng_seed(&rng, cfg->seed, 0x636f70ULL);
    for (size_t j = 0; j < d && st == SL_OK; j++) {
        const sl_gen_column *col = &data->cols[j];
        const double *x = sl_gen_col(data, j);
        double *zj = z + j * n;
        if (col->type != SL_GEN_CATEGORICAL) {
            st = gen_marginal_fit(&c->marg[j], x, n, COPULA_KNOTS);
            if (st == SL_OK) st = gen_normal_scores(zj, x, n);
            continue;
        }
        size_t K = col->n_cats;
        if (!(c->probs[j] = calloc(K, sizeof(double)))) {
            st = sl_set_error(SL_ERR_NOMEM, "copula: out of memory");
            break;
        }
        for (size_t i = 0; i < n; i++) c->probs[j][(size_t)x[i]] += 1.0 / (double)n;
        if ((st = make_order(c, j, K)) != SL_OK) break;
        double *start = calloc(K, sizeof *start);
        if (!start) {
            st = sl_set_error(SL_ERR_NOMEM, "copula: out of memory");
            break;
        }
        double acc = 0;
        for (size_t r = 0; r < K; r++) start[c->order[j][r]] = acc, acc += c->probs[j][c->order[j][r]];
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)x[i];
            double u = start[k] + c->probs[j][k] * sl_rng_uniform(&rng);
            if (u < 1e-12) u = 1e-12;
            if (u > 1 - 1e-12) u = 1 - 1e-12;
            zj[i] = gen_norm_ppf(u);
        }
        free(start);
    }
    if (st == SL_OK) {
        double *mu = calloc(d, sizeof *mu), *sd = calloc(d, sizeof *sd);
        if (!mu || !sd) st = sl_set_error(SL_ERR_NOMEM, "copula: out of memory");
        for (size_t j = 0; j < d && st == SL_OK; j++) {
            for (size_t i = 0; i < n; i++) mu[j] += z[j * n + i];
            mu[j] /= (double)n;
            for (size_t i = 0; i < n; i++) sd[j] += (z[j * n + i] - mu[j]) * (z[j * n + i] - mu[j]);
            sd[j] = sqrt(sd[j] / (double)n);
        }
        for (size_t a = 0; a < d && st == SL_OK; a++)
            for (size_t b = 0; b <= a; b++) {
                double r = 0;
                if (a == b) r = 1.0;
                else if (sd[a] > 0 && sd[b] > 0) {
                    for (size_t i = 0; i < n; i++) r += (z[a * n + i] - mu[a]) * (z[b * n + i] - mu[b]);
                    r /= (double)n * sd[a] * sd[b];
                }
                c->corr[a * d + b] = c->corr[b * d + a] = r;
            }
        free(mu);
        free(sd);
    }
    if (st == SL_OK) st = cholesky_shrunk(c);
    free(z);
    if (st != SL_OK) {
        copula_free(c);
        return st;
    }
    (void)schema;
    (void)dp; /* stores quantiles of the data: no DP guarantee */
    *state = c;
    return SL_OK;
}

static sl_status copula_sample(const void *state, const sl_gen_table *schema, size_t n,
                               sl_rng *rng, sl_gen_table *out) {
    const copula *c = state;
    size_t d = c->d;
    double e[256], zz[256];
    if (d > 256) return sl_set_error(SL_ERR_RANGE, "copula: more than 256 columns");
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) e[j] = sl_rng_normal(rng);
        for (size_t a = 0; a < d; a++) {
            double s = 0;
            for (size_t b = 0; b <= a; b++) s += c->chol[a * d + b] * e[b];
            zz[a] = s;
        }
        for (size_t j = 0; j < d; j++) {
            const sl_gen_column *col = &schema->cols[j];
            double u = gen_norm_cdf(zz[j]);
            if (col->type != SL_GEN_CATEGORICAL) {
                sl_gen_col(out, j)[i] = gen_finish_value(col, gen_marginal_inv(&c->marg[j], u));
                continue;
            }
            double acc = 0;
            size_t k = c->order[j][col->n_cats - 1];
            for (size_t r = 0; r < col->n_cats; r++) {
                acc += c->probs[j][c->order[j][r]];
                if (u < acc) {
                    k = c->order[j][r];
                    break;
                }
            }
            sl_gen_col(out, j)[i] = (double)k;
        }
    }
    return SL_OK;
}

static sl_status copula_save(const void *state, const sl_gen_table *schema, gen_tensors *t,
                             cJSON *meta) {
    const copula *c = state;
    char name[64];
    SL_TRY(gen_tensors_add(t, "corr", SL_DTYPE_F64, c->d, c->d, c->corr));
    for (size_t j = 0; j < c->d; j++) {
        if (schema->cols[j].type == SL_GEN_CATEGORICAL) {
            snprintf(name, sizeof name, "probs.%zu", j);
            SL_TRY(gen_tensors_add(t, name, SL_DTYPE_F64, schema->cols[j].n_cats, 0, c->probs[j]));
        } else {
            snprintf(name, sizeof name, "knots.%zu", j);
            SL_TRY(gen_tensors_add(t, name, SL_DTYPE_F64, c->marg[j].K, 0, c->marg[j].knots));
        }
    }
    cJSON_AddNumberToObject(meta, "columns", (double)c->d);
    return SL_OK;
}

/* Copy a 1-D f64 tensor (any length >= min_len when want == 0, else exactly want). */
static sl_status get_f64(const sl_safetensors *st, const char *name, size_t want, size_t min_len,
                         double **out, size_t *len, const char *path) {
    const sl_array *a = sl_safetensors_find(st, name);
    if (!a || a->dtype != SL_DTYPE_F64 || a->ndim < 1 || (want && a->count != want) ||
        a->count < min_len)
        return sl_set_error(SL_ERR_FORMAT, "%s: tensor %s missing or malformed", path, name);
    *out = malloc(a->count * sizeof(double));
    if (!*out) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(*out, a->data, a->count * sizeof(double));
    if (len) *len = a->count;
    for (size_t i = 0; i < a->count; i++)
        if (!isfinite((*out)[i]))
            return sl_set_error(SL_ERR_FORMAT, "%s: tensor %s holds a non-finite value", path, name);
    return SL_OK;
}

static sl_status copula_load(void **state, const sl_gen_table *schema, const sl_safetensors *st,
                             const cJSON *meta, const char *path) {
    size_t d = schema->n_cols;
    copula *c = copula_new(d);
    if (!c) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    double *corr = NULL;
    sl_status s = get_f64(st, "corr", d * d, 0, &corr, NULL, path);
    if (s == SL_OK) memcpy(c->corr, corr, d * d * sizeof *corr);
    free(corr);
    char name[64];
    for (size_t j = 0; j < d && s == SL_OK; j++) {
        const sl_gen_column *col = &schema->cols[j];
        if (col->type == SL_GEN_CATEGORICAL) {
            snprintf(name, sizeof name, "probs.%zu", j);
            s = get_f64(st, name, col->n_cats, 0, &c->probs[j], NULL, path);
            if (s == SL_OK) s = make_order(c, j, col->n_cats);
        } else {
            snprintf(name, sizeof name, "knots.%zu", j);
            s = get_f64(st, name, 0, 2, &c->marg[j].knots, &c->marg[j].K, path);
            for (size_t k = 1; s == SL_OK && k < c->marg[j].K; k++)
                if (c->marg[j].knots[k] < c->marg[j].knots[k - 1])
                    s = sl_set_error(SL_ERR_FORMAT, "%s: %s is not sorted", path, name);
        }
    }
    if (s == SL_OK) s = cholesky_shrunk(c);
    (void)meta;
    if (s != SL_OK) {
        copula_free(c);
        return s;
    }
    *state = c;
    return SL_OK;
}

const gen_vtable gen_copula_vt = {copula_fit, copula_sample, copula_save, copula_load,
                                  copula_free};
