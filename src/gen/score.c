/* SPDX-License-Identifier: Apache-2.0 */
/* score.c - quality, diversity and privacy scores of a synthetic table against real rows
 * (formulas in docs/GEN.md; the same definitions as SDV's SDMetrics where one exists).
 *
 * Invariant: every table is first aligned to the real table's column order and category
 * codes (by name and label), so each score compares like with like; nothing here depends on
 * the order of columns or labels in the synthetic file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_stats.h"

sl_gen_eval_config sl_gen_eval_defaults(void) {
    sl_gen_eval_config c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.max_rows = 4000;
    return c;
}

void sl_gen_scores_free(sl_gen_scores *s) {
    if (!s) return;
    free(s->col_fidelity);
    free(s->det_score);
    free(s->det_score_lr);
    free(s->det_label);
    free(s->mia_score);
    free(s->mia_label);
    memset(s, 0, sizeof *s);
}

/* --- alignment --------------------------------------------------------------- */

/* t's columns in real's order and coding: out[c * n + i] */
static sl_status align(const sl_gen_table *real, const sl_gen_table *t, const char *what,
                       double **out) {
    *out = NULL;
    if (t->n_rows < 2)
        return sl_set_error(SL_ERR_ARG, "synth-eval: the %s table has %zu row%s; scores need "
                            ">= 2", what, t->n_rows, t->n_rows == 1 ? "" : "s");
    if (t->n_cols != real->n_cols)
        return sl_set_error(SL_ERR_SHAPE, "synth-eval: the %s table has %zu columns, the real "
                            "one %zu", what, t->n_cols, real->n_cols);
    size_t n = t->n_rows;
    double *a = malloc(real->n_cols * n * sizeof *a);
    if (!a) return sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
    for (size_t c = 0; c < real->n_cols; c++) {
        const sl_gen_column *rc = &real->cols[c];
        size_t k;
        for (k = 0; k < t->n_cols; k++)
            if (strcmp(t->cols[k].name, rc->name) == 0) break;
        if (k == t->n_cols || t->cols[k].type != rc->type) {
            free(a);
            if (k == t->n_cols)
                return sl_set_error(SL_ERR_SHAPE, "synth-eval: column \"%s\" is missing from "
                                    "the %s table", rc->name, what);
            return sl_set_error(SL_ERR_SHAPE, "synth-eval: column \"%s\" is %s in the real "
                                "table but %s in the %s table (type mismatch)", rc->name,
                                sl_gen_type_name(rc->type), sl_gen_type_name(t->cols[k].type),
                                what);
        }
        const double *src = sl_gen_col(t, k);
        double *dst = a + c * n;
        if (rc->type != SL_GEN_CATEGORICAL) {
            memcpy(dst, src, n * sizeof *dst);
            continue;
        }
        long *map = malloc(t->cols[k].n_cats * sizeof *map);
        if (!map) {
            free(a);
            return sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
        }
        for (size_t j = 0; j < t->cols[k].n_cats; j++) map[j] = sl_gen_find_cat(rc, t->cols[k].cats[j]);
        for (size_t i = 0; i < n; i++) {
            long m = map[(size_t)src[i]];
            if (m < 0) {
                sl_status st = sl_set_error(SL_ERR_FORMAT, "synth-eval: column \"%s\" of the %s "
                                            "table has the label \"%s\", which the real table "
                                            "does not have", rc->name, what,
                                            t->cols[k].cats[(size_t)src[i]]);
                free(map);
                free(a);
                return st;
            }
            dst[i] = (double)m;
        }
        free(map);
    }
    *out = a;
    return SL_OK;
}

/* --- per-column and pairwise ---------------------------------------------------- */

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* two-sample KS statistic sup |F_a - F_b| (scipy.stats.ks_2samp's statistic) */
double gen_ks_statistic(const double *a, size_t na, const double *b, size_t nb);
double gen_ks_statistic(const double *a, size_t na, const double *b, size_t nb) {
    double *x = malloc(na * sizeof *x), *y = malloc(nb * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return NAN;
    }
    memcpy(x, a, na * sizeof *x);
    memcpy(y, b, nb * sizeof *y);
    qsort(x, na, sizeof *x, cmp_d);
    qsort(y, nb, sizeof *y, cmp_d);
    size_t i = 0, j = 0;
    double d = 0.0;
    while (i < na && j < nb) {
        double v = x[i] < y[j] ? x[i] : y[j];
        while (i < na && x[i] == v) i++;
        while (j < nb && y[j] == v) j++;
        double diff = fabs((double)i / (double)na - (double)j / (double)nb);
        if (diff > d) d = diff;
    }
    free(x);
    free(y);
    return d;
}

static double tvd(const double *a, size_t na, const double *b, size_t nb, size_t K) {
    double *p = calloc(2 * K, sizeof *p);
    if (!p) return NAN;
    for (size_t i = 0; i < na; i++) p[(size_t)a[i]] += 1.0 / (double)na;
    for (size_t i = 0; i < nb; i++) p[K + (size_t)b[i]] += 1.0 / (double)nb;
    double s = 0;
    for (size_t k = 0; k < K; k++) s += fabs(p[k] - p[K + k]);
    free(p);
    return 0.5 * s;
}

static double pearson(const double *x, const double *y, size_t n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

#define NBINS 10

/* numeric values -> bins by the real column's deciles (np.quantile, linear; bin = number of
 * edges <= x, as np.searchsorted(edges, x, side="right")) */
static void decile_edges(double *edges, const double *real, size_t n) {
    double *s = malloc(n * sizeof *s);
    if (!s) {
        for (int k = 0; k < NBINS - 1; k++) edges[k] = NAN;
        return;
    }
    memcpy(s, real, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    for (int k = 1; k < NBINS; k++) {
        double pos = (double)k / NBINS * (double)(n - 1);
        size_t i = (size_t)floor(pos);
        double f = pos - (double)i;
        edges[k - 1] = i + 1 < n ? s[i] + f * (s[i + 1] - s[i]) : s[n - 1];
    }
    free(s);
}
static size_t bin_of(const double *edges, double x) {
    size_t b = 0;
    while (b < NBINS - 1 && edges[b] <= x) b++;
    return b;
}

/* codes for the contingency table: category codes, or decile bins */
static void codes(size_t *out, const sl_gen_column *c, const double *edges, const double *x,
                  size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = c->type == SL_GEN_CATEGORICAL ? (size_t)x[i] : bin_of(edges, x[i]);
}

static size_t levels(const sl_gen_column *c) {
    return c->type == SL_GEN_CATEGORICAL ? c->n_cats : NBINS;
}

/* --- feature encodings -------------------------------------------------------------- */

typedef struct enc {
    size_t d;        /* features */
    double *mu, *sd; /* per column (numeric) from the real table */
} enc;

/* distance features: standardised numeric, one-hot categorical scaled by sqrt(1/2) so that a
 * mismatch adds 1 to the squared distance */
static void dist_features(double *f, const sl_gen_table *real, const enc *e, const double *a,
                          size_t n, size_t i) {
    size_t p = 0;
    for (size_t c = 0; c < real->n_cols; c++) {
        double x = a[c * n + i];
        if (real->cols[c].type != SL_GEN_CATEGORICAL) {
            f[p++] = (x - e->mu[c]) / e->sd[c];
        } else {
            for (size_t k = 0; k < real->cols[c].n_cats; k++)
                f[p++] = (size_t)x == k ? M_SQRT1_2 : 0.0;
        }
    }
}

/* feature matrix [m, d] of the rows idx[0..m) of an aligned table */
static double *feature_matrix(const sl_gen_table *real, const enc *e, const double *a, size_t n,
                              const size_t *idx, size_t m) {
    double *F = malloc(m * e->d * sizeof *F);
    if (!F) return NULL;
    for (size_t r = 0; r < m; r++) dist_features(F + r * e->d, real, e, a, n, idx[r]);
    return F;
}

/* nn[i] = min_j ||A_i - B_j|| (skipping j == i when self) */
static void nn_dist(double *nn, const double *A, size_t na, const double *Bm, size_t nb,
                    size_t d, int self) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < na; i++) {
        double best = HUGE_VAL;
        const double *x = A + i * d;
        for (size_t j = 0; j < nb; j++) {
            if (self && i == j) continue;
            const double *y = Bm + j * d;
            double s = 0;
            for (size_t k = 0; k < d; k++) {
                double t = x[k] - y[k];
                s += t * t;
            }
            if (s < best) best = s;
        }
        nn[i] = sqrt(best);
    }
}

static double median(double *x, size_t n) {
    qsort(x, n, sizeof *x, cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static int cmp_size(const void *x, const void *y) {
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

/* m row indices of [0, n): all of them in order when n <= m, else a seeded sample, sorted */
static size_t *pick(size_t n, size_t m, sl_rng *rng, size_t *got) {
    size_t k = n < m ? n : m;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return NULL;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    if (k < n) {
        sl_rng_shuffle(rng, idx, n);
        qsort(idx, k, sizeof *idx, cmp_size);
    }
    *got = k;
    return idx;
}

/* --- detection: L2-regularised logistic regression by Newton's method ------------------ */

static size_t det_dim(const sl_gen_table *real) {
    size_t d = 1; /* intercept */
    for (size_t c = 0; c < real->n_cols; c++)
        d += real->cols[c].type == SL_GEN_CATEGORICAL ? real->cols[c].n_cats : 2;
    return d;
}

static void det_features(double *f, const sl_gen_table *real, const enc *e, const double *a,
                         size_t n, size_t i) {
    size_t p = 0;
    f[p++] = 1.0;
    for (size_t c = 0; c < real->n_cols; c++) {
        double x = a[c * n + i];
        if (real->cols[c].type != SL_GEN_CATEGORICAL) {
            double z = (x - e->mu[c]) / e->sd[c];
            if (z > 10) z = 10;
            if (z < -10) z = -10;
            f[p++] = z;
            f[p++] = z * z - 1.0;
        } else {
            for (size_t k = 0; k < real->cols[c].n_cats; k++) f[p++] = (size_t)x == k ? 1.0 : 0.0;
        }
    }
}

/* Fit w on X[n, d], y[n] (0/1); lambda on every weight but the intercept. */
static sl_status logreg_fit(double *w, const double *X, const int *y, size_t n, size_t d,
                            double lambda) {
    double *H = malloc(d * d * sizeof *H), *g = malloc(d * sizeof *g), *step = malloc(d * sizeof *step);
    if (!H || !g || !step) {
        free(H), free(g), free(step);
        return sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory (detector)");
    }
    memset(w, 0, d * sizeof *w);
    for (int it = 0; it < 50; it++) {
        memset(H, 0, d * d * sizeof *H);
        memset(g, 0, d * sizeof *g);
        for (size_t i = 0; i < n; i++) {
            const double *x = X + i * d;
            double t = 0;
            for (size_t k = 0; k < d; k++) t += w[k] * x[k];
            double p = 1.0 / (1.0 + exp(-t)), r = p - (double)y[i], s = p * (1 - p);
            for (size_t a = 0; a < d; a++) {
                g[a] += r * x[a];
                if (x[a] == 0.0) continue;
                double sa = s * x[a];
                for (size_t b = 0; b <= a; b++) H[a * d + b] += sa * x[b];
            }
        }
        for (size_t a = 0; a < d; a++) {
            double l = a ? lambda * (double)n : 1e-8 * (double)n;
            g[a] += (a ? lambda * (double)n : 0.0) * w[a];
            H[a * d + a] += l;
            for (size_t b = 0; b < a; b++) H[b * d + a] = H[a * d + b];
        }
        /* Cholesky solve H step = g (H is SPD thanks to the ridge) */
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b <= a; b++) {
                double s = H[a * d + b];
                for (size_t k = 0; k < b; k++) s -= H[a * d + k] * H[b * d + k];
                if (a == b) H[a * d + a] = sqrt(s > 1e-300 ? s : 1e-300);
                else H[a * d + b] = s / H[b * d + b];
            }
        for (size_t a = 0; a < d; a++) {
            double s = g[a];
            for (size_t k = 0; k < a; k++) s -= H[a * d + k] * step[k];
            step[a] = s / H[a * d + a];
        }
        for (size_t a = d; a-- > 0;) {
            double s = step[a];
            for (size_t k = a + 1; k < d; k++) s -= H[k * d + a] * step[k];
            step[a] = s / H[a * d + a];
        }
        double mx = 0;
        for (size_t a = 0; a < d; a++) {
            w[a] -= step[a];
            if (fabs(step[a]) > mx) mx = fabs(step[a]);
        }
        if (mx < 1e-8) break;
    }
    free(H), free(g), free(step);
    return SL_OK;
}

/* A small MLP detector on the NN engine (d -> 64 -> 64 -> 1, ReLU, BCE, Adam 1e-3, 40 epochs
 * of minibatches of 128): catches the interactions a linear detector cannot (e.g. a spend
 * that must be 0 on the free plan). Deterministic in rng and the thread count. score[nte]. */
static sl_status mlp_detect(double *score, const double *X, const int *y, size_t ntr, size_t nte,
                            size_t d, sl_rng *rng) {
    enum { HID = 64, MB = 128, EPOCHS = 40 };
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    sl_nn_mlp m;
    sl_nn_mlp_cache c;
    memset(&c, 0, sizeof c);
    int sizes[4] = {(int)d, HID, HID, 1};
    float *xb = malloc((size_t)MB * d * sizeof *xb), *tb = malloc(MB * sizeof *tb);
    float *ob = malloc(MB * sizeof *ob), *gb = malloc(MB * sizeof *gb);
    size_t *perm = malloc((ntr ? ntr : 1) * sizeof *perm);
    sl_status st = xb && tb && ob && gb && perm ? SL_OK : sl_set_error(SL_ERR_NOMEM, "synth-eval: oom");
    if (st == SL_OK) st = sl_nn_mlp_declare(&m, &a, "det", 3, sizes, SL_NN_ACT_RELU, 0);
    if (st == SL_OK) st = sl_nn_arena_alloc(&a);
    if (st == SL_OK) st = sl_nn_mlp_cache_alloc(&c, &m, MB);
    if (st == SL_OK) {
        sl_nn_mlp_init(&m, a.params, rng);
        sl_nn_adam opt = sl_nn_adam_defaults(1e-3f);
        for (size_t i = 0; i < ntr; i++) perm[i] = i;
        for (int ep = 0; ep < EPOCHS; ep++) {
            sl_rng_shuffle(rng, perm, ntr);
            for (size_t s0 = 0; s0 + MB <= ntr; s0 += MB) {
                for (int b = 0; b < MB; b++) {
                    for (size_t k = 0; k < d; k++)
                        xb[(size_t)b * d + k] = (float)X[perm[s0 + (size_t)b] * d + k];
                    tb[b] = (float)y[perm[s0 + (size_t)b]];
                }
                sl_nn_arena_zero_grad(&a);
                sl_nn_mlp_forward(ob, &c, xb, &m, a.params, MB);
                sl_nn_bce_logits_loss(gb, ob, tb, NULL, MB);
                sl_nn_mlp_backward(NULL, a.grads, &c, gb, xb, &m, a.params, MB);
                sl_nn_arena_adam_step(&a, &opt);
            }
        }
        for (size_t s0 = 0; s0 < nte; s0 += MB) {
            int B = (int)(nte - s0 < MB ? nte - s0 : MB);
            for (int b = 0; b < B; b++)
                for (size_t k = 0; k < d; k++)
                    xb[(size_t)b * d + k] = (float)X[(ntr + s0 + (size_t)b) * d + k];
            sl_nn_mlp_forward(ob, &c, xb, &m, a.params, B);
            for (int b = 0; b < B; b++) score[s0 + (size_t)b] = (double)ob[b];
        }
        if (!sl_all_finite_f64(score, nte))
            st = sl_set_error(SL_ERR_DIVERGED, "synth-eval: the MLP detector diverged");
    }
    sl_nn_mlp_cache_free(&c);
    sl_nn_arena_free(&a);
    free(xb), free(tb), free(ob), free(gb), free(perm);
    return st;
}

/* --- the evaluation ------------------------------------------------------------------ */

sl_status sl_gen_evaluate(const sl_gen_table *real, const sl_gen_table *synth,
                          const sl_gen_table *holdout, const sl_gen_eval_config *cfg_in,
                          sl_gen_scores *out) {
    memset(out, 0, sizeof *out);
    sl_gen_eval_config cfg = cfg_in ? *cfg_in : sl_gen_eval_defaults();
    if (cfg.max_rows < 4) cfg.max_rows = 4;
    if (real->n_rows < 2)
        return sl_set_error(SL_ERR_ARG, "synth-eval: the real table has %zu row%s; scores need "
                            ">= 2", real->n_rows, real->n_rows == 1 ? "" : "s");
    size_t nr = real->n_rows, ns = synth->n_rows, nh = holdout ? holdout->n_rows : 0;
    size_t C = real->n_cols;
    double *R = real->data, *S = NULL, *Hd = NULL;
    SL_TRY(align(real, synth, "synthetic", &S));
    sl_status st = holdout ? align(real, holdout, "holdout", &Hd) : SL_OK;
    enc e = {0};
    size_t *ir = NULL, *is = NULL, *ih = NULL;
    double *FR = NULL, *FS = NULL, *FH = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL;
    double *X = NULL, *w = NULL;
    int *y = NULL;
    size_t *ca = NULL, *cb = NULL;
    double *cnt = NULL;
    if (st != SL_OK) goto done;
    out->n_cols = C;
    out->col_fidelity = calloc(C, sizeof(double));
    e.mu = calloc(C, sizeof(double));
    e.sd = calloc(C, sizeof(double));
    ca = malloc((nr > ns ? nr : ns) * sizeof *ca);
    cb = malloc((nr > ns ? nr : ns) * sizeof *cb);
    if (!out->col_fidelity || !e.mu || !e.sd || !ca || !cb) {
        st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
        goto done;
    }
    /* per column: fidelity, coverage, encoding stats */
    double cov = 0;
    for (size_t c = 0; c < C; c++) {
        const sl_gen_column *col = &real->cols[c];
        const double *r = R + c * nr, *s = S + c * ns;
        if (col->type == SL_GEN_CATEGORICAL) {
            out->col_fidelity[c] = 1.0 - tvd(r, nr, s, ns, col->n_cats);
            size_t present = 0, covered = 0;
            for (size_t k = 0; k < col->n_cats; k++) {
                int inr = 0, ins = 0;
                for (size_t i = 0; i < nr && !inr; i++) inr = (size_t)r[i] == k;
                for (size_t i = 0; i < ns && !ins && inr; i++) ins = (size_t)s[i] == k;
                present += (size_t)inr;
                covered += (size_t)(inr && ins);
            }
            cov += present ? (double)covered / (double)present : 1.0;
            e.d += col->n_cats;
        } else {
            out->col_fidelity[c] = 1.0 - gen_ks_statistic(r, nr, s, ns);
            double rmin = HUGE_VAL, rmax = -HUGE_VAL, smin = HUGE_VAL, smax = -HUGE_VAL, m = 0, v = 0;
            for (size_t i = 0; i < nr; i++) {
                rmin = fmin(rmin, r[i]), rmax = fmax(rmax, r[i]);
                m += r[i];
            }
            m /= (double)nr;
            for (size_t i = 0; i < nr; i++) v += (r[i] - m) * (r[i] - m);
            for (size_t i = 0; i < ns; i++) smin = fmin(smin, s[i]), smax = fmax(smax, s[i]);
            e.mu[c] = m;
            e.sd[c] = v > 0 ? sqrt(v / (double)nr) : 1.0;
            double span = rmax - rmin, rc = 1.0;
            if (span > 0) {
                rc = 1.0 - (fmax(0.0, smin - rmin) + fmax(0.0, rmax - smax)) / span;
                if (rc < 0) rc = 0;
            }
            cov += rc;
            e.d += 1;
        }
        out->fidelity += out->col_fidelity[c] / (double)C;
    }
    out->coverage = cov / (double)C;
    /* pairs */
    {
        double sum = 0;
        size_t np = 0;
        double ea[NBINS - 1], eb[NBINS - 1];
        for (size_t a = 0; a < C; a++)
            for (size_t b = a + 1; b < C; b++) {
                const sl_gen_column *A = &real->cols[a], *Bc = &real->cols[b];
                if (A->type != SL_GEN_CATEGORICAL && Bc->type != SL_GEN_CATEGORICAL) {
                    double rr = pearson(R + a * nr, R + b * nr, nr);
                    double rs = pearson(S + a * ns, S + b * ns, ns);
                    sum += 1.0 - fabs(rr - rs) / 2.0;
                } else {
                    if (A->type != SL_GEN_CATEGORICAL) decile_edges(ea, R + a * nr, nr);
                    if (Bc->type != SL_GEN_CATEGORICAL) decile_edges(eb, R + b * nr, nr);
                    size_t La = levels(A), Lb = levels(Bc);
                    cnt = calloc(2 * La * Lb, sizeof *cnt);
                    if (!cnt) {
                        st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
                        goto done;
                    }
                    codes(ca, A, ea, R + a * nr, nr);
                    codes(cb, Bc, eb, R + b * nr, nr);
                    for (size_t i = 0; i < nr; i++) cnt[ca[i] * Lb + cb[i]] += 1.0 / (double)nr;
                    codes(ca, A, ea, S + a * ns, ns);
                    codes(cb, Bc, eb, S + b * ns, ns);
                    for (size_t i = 0; i < ns; i++)
                        cnt[La * Lb + ca[i] * Lb + cb[i]] += 1.0 / (double)ns;
                    double t = 0;
                    for (size_t k = 0; k < La * Lb; k++) t += fabs(cnt[k] - cnt[La * Lb + k]);
                    sum += 1.0 - 0.5 * t;
                    free(cnt);
                    cnt = NULL;
                }
                np++;
            }
        out->pair_similarity = np ? sum / (double)np : 1.0;
    }
    /* detection: balanced halves of both tables; train on the first halves, score the rest */
    sl_rng rng;
    sl_rng_seed(&rng, cfg.seed, 0x646574ULL);
    {
        size_t m = nr < ns ? nr : ns;
        if (m > cfg.max_rows) m = cfg.max_rows;
        size_t gr, gs;
        ir = pick(nr, nr, &rng, &gr); /* full permutations, then the first m */
        is = pick(ns, ns, &rng, &gs);
        if (!ir || !is) {
            st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
            goto done;
        }
        sl_rng_shuffle(&rng, ir, nr);
        sl_rng_shuffle(&rng, is, ns);
        size_t d = det_dim(real), half = m / 2, ntr = 2 * half, nte = 2 * (m - half);
        X = malloc((ntr + nte) * d * sizeof *X);
        y = malloc((ntr + nte) * sizeof *y);
        w = malloc(d * sizeof *w);
        out->det_score = malloc(nte * sizeof(double));
        out->det_score_lr = malloc(nte * sizeof(double));
        out->det_label = malloc(nte * sizeof(int));
        if (!X || !y || !w || !out->det_score || !out->det_score_lr || !out->det_label) {
            st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
            goto done;
        }
        size_t r = 0;
        for (size_t i = 0; i < m; i++) { /* rows 0..ntr: train, then test */
            size_t slot = i < half ? 2 * i : ntr + 2 * (i - half);
            det_features(X + slot * d, real, &e, R, nr, ir[i]);
            y[slot] = 0;
            det_features(X + (slot + 1) * d, real, &e, S, ns, is[i]);
            y[slot + 1] = 1;
            r += 2;
        }
        (void)r;
        st = logreg_fit(w, X, y, ntr, d, 1e-3);
        if (st != SL_OK) goto done;
        for (size_t i = 0; i < nte; i++) {
            const double *x = X + (ntr + i) * d;
            double t = 0;
            for (size_t k = 0; k < d; k++) t += w[k] * x[k];
            out->det_score_lr[i] = t;
            out->det_label[i] = y[ntr + i];
        }
        out->n_det = nte;
        st = sl_stats_roc_auc(out->det_score_lr, out->det_label, nte, &out->detection_auc_lr);
        if (st == SL_OK) st = mlp_detect(out->det_score, X, y, ntr, nte, d, &rng);
        if (st == SL_OK)
            st = sl_stats_roc_auc(out->det_score, out->det_label, nte, &out->detection_auc_mlp);
        if (st != SL_OK) goto done;
        out->detection_auc = fmax(out->detection_auc_lr, out->detection_auc_mlp);
        out->detection = 1.0 - 2.0 * (fmax(out->detection_auc, 0.5) - 0.5);
        free(ir), free(is);
        ir = is = NULL;
    }
    /* diversity: nearest-neighbour distances within each table */
    {
        size_t mr, ms;
        ir = pick(nr, cfg.max_rows, &rng, &mr);
        is = pick(ns, cfg.max_rows, &rng, &ms);
        if (!ir || !is) {
            st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
            goto done;
        }
        FR = feature_matrix(real, &e, R, nr, ir, mr);
        FS = feature_matrix(real, &e, S, ns, is, ms);
        t1 = malloc(mr * sizeof *t1);
        t2 = malloc(ms * sizeof *t2);
        if (!FR || !FS || !t1 || !t2) {
            st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
            goto done;
        }
        nn_dist(t1, FR, mr, FR, mr, e.d, 1);
        nn_dist(t2, FS, ms, FS, ms, e.d, 1);
        double a = 0, b = 0;
        for (size_t i = 0; i < mr; i++) a += t1[i] / (double)mr;
        for (size_t i = 0; i < ms; i++) b += t2[i] / (double)ms;
        out->diversity = a > 0 ? fmin(1.0, b / a) : 1.0;
        free(FR), free(FS), free(t1), free(t2), free(ir), free(is);
        FR = FS = t1 = t2 = NULL;
        ir = is = NULL;
    }
    /* privacy: equal-sized samples of real (members), holdout (non-members) and synth */
    if (holdout) {
        size_t m = nr < nh ? nr : nh, mr, mh, ms;
        if (m > cfg.max_rows) m = cfg.max_rows;
        ir = pick(nr, m, &rng, &mr);
        ih = pick(nh, m, &rng, &mh);
        is = pick(ns, m, &rng, &ms);
        FR = ir ? feature_matrix(real, &e, R, nr, ir, mr) : NULL;
        FH = ih ? feature_matrix(real, &e, Hd, nh, ih, mh) : NULL;
        FS = is ? feature_matrix(real, &e, S, ns, is, ms) : NULL;
        t1 = malloc(ms * sizeof *t1);
        t2 = malloc(ms * sizeof *t2);
        t3 = malloc((mr + mh) * sizeof *t3);
        out->mia_score = malloc((mr + mh) * sizeof(double));
        out->mia_label = malloc((mr + mh) * sizeof(int));
        if (!FR || !FH || !FS || !t1 || !t2 || !t3 || !out->mia_score || !out->mia_label) {
            st = sl_set_error(SL_ERR_NOMEM, "synth-eval: out of memory");
            goto done;
        }
        nn_dist(t1, FS, ms, FR, mr, e.d, 0); /* synth -> real */
        nn_dist(t2, FS, ms, FH, mh, e.d, 0); /* synth -> holdout */
        double share = 0;
        for (size_t i = 0; i < ms; i++) share += t1[i] < t2[i] ? 1.0 : t1[i] == t2[i] ? 0.5 : 0.0;
        out->dcr_share = share / (double)ms;
        out->dcr_synth = median(t1, ms);
        nn_dist(t3, FH, mh, FR, mr, e.d, 0); /* holdout -> real: the baseline */
        out->dcr_holdout = median(t3, mh);
        /* attack: a record closer to some synthetic row is guessed to be a member */
        nn_dist(t3, FR, mr, FS, ms, e.d, 0);
        nn_dist(t3 + mr, FH, mh, FS, ms, e.d, 0);
        for (size_t i = 0; i < mr + mh; i++) {
            out->mia_score[i] = -t3[i];
            out->mia_label[i] = i < mr;
        }
        out->n_mia = mr + mh;
        st = sl_stats_roc_auc(out->mia_score, out->mia_label, mr + mh, &out->mia_auc);
        if (st != SL_OK) goto done;
        out->has_privacy = 1;
    }
    out->quality = (out->fidelity + out->pair_similarity + out->detection + out->coverage) / 4.0;
    if (!cfg.keep_raw) {
        free(out->det_score), free(out->det_label), free(out->mia_score), free(out->mia_label);
        free(out->det_score_lr);
        out->det_score = out->mia_score = out->det_score_lr = NULL;
        out->det_label = out->mia_label = NULL;
    }
done:
    free(S), free(Hd), free(e.mu), free(e.sd), free(ir), free(is), free(ih);
    free(FR), free(FS), free(FH), free(t1), free(t2), free(t3), free(X), free(w), free(y);
    free(ca), free(cb), free(cnt);
    if (st != SL_OK) sl_gen_scores_free(out);
    return st;
}

cJSON *sl_gen_scores_json(const sl_gen_scores *s, const sl_gen_table *real) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "quality", s->quality);
    cJSON_AddNumberToObject(j, "fidelity", s->fidelity);
    cJSON_AddNumberToObject(j, "pair_similarity", s->pair_similarity);
    cJSON_AddNumberToObject(j, "detection_auc", s->detection_auc);
    cJSON_AddNumberToObject(j, "detection_auc_logistic", s->detection_auc_lr);
    cJSON_AddNumberToObject(j, "detection_auc_mlp", s->detection_auc_mlp);
    cJSON_AddNumberToObject(j, "detection", s->detection);
    cJSON_AddNumberToObject(j, "coverage", s->coverage);
    cJSON_AddNumberToObject(j, "diversity", s->diversity);
    if (s->has_privacy) {
        cJSON *p = cJSON_AddObjectToObject(j, "privacy");
        cJSON_AddNumberToObject(p, "dcr_synth_median", s->dcr_synth);
        cJSON_AddNumberToObject(p, "dcr_holdout_median", s->dcr_holdout);
        cJSON_AddNumberToObject(p, "dcr_share", s->dcr_share);
        cJSON_AddNumberToObject(p, "membership_auc", s->mia_auc);
    } else {
        cJSON_AddNullToObject(j, "privacy");
    }
    cJSON *cols = cJSON_AddObjectToObject(j, "columns");
    for (size_t c = 0; c < s->n_cols && real; c++)
        cJSON_AddNumberToObject(cols, real->cols[c].name, s->col_fidelity[c]);
    return j;
}
