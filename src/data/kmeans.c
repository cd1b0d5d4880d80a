/* SPDX-License-Identifier: Apache-2.0 */
/* kmeans.c - k-means clustering (greedy k-means++ seeding, Lloyd iterations, n_init restarts),
 * per-column standardisation and the silhouette score, all in float64.
 *
 * The algorithm follows scikit-learn's KMeans(algorithm="lloyd") step for step (seeding with
 * 2 + floor(ln k) local trials, tolerance relative to the mean column variance, strict
 * convergence when labels stop changing, empty clusters re-seeded with the farthest points,
 * a final assignment so labels match the returned centroids), so inertias are comparable.
 * Key invariant: the result is a pure function of (x, n, dim, cfg): restart r draws from
 * sl_rng stream r of cfg->seed and all loops run sequentially in index order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_bricks.h"

void sl_kmeans_config_default(sl_kmeans_config *c) {
    c->k = 8;
    c->n_init = 10;
    c->max_iter = 300;
    c->tol = 1e-4;
    c->seed = 0;
}

void sl_kmeans_clear(sl_kmeans *km) {
    if (!km) return;
    free(km->centroids);
    free(km->labels);
    memset(km, 0, sizeof *km);
}

static double sqdist(const double *a, const double *b, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) {
        double d = a[j] - b[j];
        s += d * d;
    }
    return s;
}

/* Nearest centroid (lowest index on ties) and its squared distance. */
static int nearest(const double *xi, const double *c, int k, int dim, double *d2) {
    int best = 0;
    double bd = sqdist(xi, c, dim);
    for (int j = 1; j < k; j++) {
        double d = sqdist(xi, c + (size_t)j * dim, dim);
        if (d < bd) {
            bd = d;
            best = j;
        }
    }
    *d2 = bd;
    return best;
}

/* --- seeding ------------------------------------------------------------- */

/* First index i with cum[i] > v (searchsorted), clipped to n-1. */
static size_t search_cum(const double *cum, size_t n, double v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n ? lo : n - 1;
}

static void kmeanspp(double *centers, const double *x, size_t n, int dim, int k, sl_rng *rng,
                     double *closest, double *cum) {
    int trials = 2 + (int)floor(log((double)k));
    size_t first = (size_t)sl_rng_below(rng, n);
    memcpy(centers, x + first * dim, (size_t)dim * sizeof(double));
    double pot = 0;
    for (size_t i = 0; i < n; i++) {
        closest[i] = sqdist(x + i * dim, centers, dim);
        pot += closest[i];
    }
    for (int c = 1; c < k; c++) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) {
            acc += closest[i];
            cum[i] = acc;
        }
        double best_pot = INFINITY;
        size_t best = 0;
        for (int t = 0; t < trials; t++) {
            double r = sl_rng_uniform(rng) * pot;
            size_t cand = search_cum(cum, n, r);
            double cp = 0;
            const double *xc = x + cand * dim;
            for (size_t i = 0; i < n; i++) {
                double d = sqdist(x + i * dim, xc, dim);
                cp += d < closest[i] ? d : closest[i];
            }
            if (cp < best_pot) {
                best_pot = cp;
                best = cand;
            }
        }
        const double *xb = x + best * dim;
        pot = 0;
        for (size_t i = 0; i < n; i++) {
            double d = sqdist(x + i * dim, xb, dim);
            if (d < closest[i]) closest[i] = d;
            pot += closest[i];
        }
        memcpy(centers + (size_t)c * dim, xb, (size_t)dim * sizeof(double));
    }
}

/* --- Lloyd --------------------------------------------------------------- */

typedef struct km_work {
    double *centers, *new_centers, *closest, *cum, *dist;
    int32_t *labels, *prev;
    size_t *count;
    unsigned char *moved;
} km_work;

/* One restart; returns inertia, labels in w->labels, centroids in w->centers. */
static double lloyd(km_work *w, const double *x, size_t n, int dim, int k, int max_iter,
                    double tol_abs, int *n_iter) {
    int it;
    for (it = 0; it < max_iter; it++) {
        memset(w->new_centers, 0, (size_t)k * dim * sizeof(double));
        memset(w->count, 0, (size_t)k * sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
            int l = nearest(x + i * dim, w->centers, k, dim, &w->dist[i]);
            w->labels[i] = l;
            w->count[l]++;
            double *nc = w->new_centers + (size_t)l * dim;
            for (int j = 0; j < dim; j++) nc[j] += x[i * dim + j];
        }
        /* empty clusters take the points farthest from their current centre */
        int n_empty = 0;
        for (int c = 0; c < k; c++) n_empty += w->count[c] == 0;
        if (n_empty) {
            memset(w->moved, 0, n);
            for (int c = 0; c < k; c++) {
                if (w->count[c] != 0) continue;
                size_t far = n;
                for (size_t i = 0; i < n; i++)
                    if (!w->moved[i] && w->count[w->labels[i]] > 1 &&
                        (far == n || w->dist[i] > w->dist[far]))
                        far = i;
                if (far == n) break;
                int from = w->labels[far];
                double *src = w->new_centers + (size_t)from * dim;
                double *dst = w->new_centers + (size_t)c * dim;
                for (int j = 0; j < dim; j++) {
                    src[j] -= x[far * dim + j];
                    dst[j] = x[far * dim + j];
                }
                w->count[from]--;
                w->count[c] = 1;
                w->labels[far] = c;
                w->moved[far] = 1;
            }
        }
        for (int c = 0; c < k; c++) {
            double *nc = w->new_centers + (size_t)c * dim;
            if (w->count[c] == 0) { /* no point left to move: keep the old centre */
                memcpy(nc, w->centers + (size_t)c * dim, (size_t)dim * sizeof(double));
                continue;
            }
            double inv = 1.0 / (double)w->count[c];
            for (int j = 0; j < dim; j++) nc[j] *= inv;
        }
        if (it > 0 && memcmp(w->labels, w->prev, n * sizeof(int32_t)) == 0) {
            it++; /* labels unchanged: strict convergence */
            break;
        }
        double shift = 0;
        for (size_t q = 0; q < (size_t)k * dim; q++) {
            double d = w->new_centers[q] - w->centers[q];
            shift += d * d;
        }
        double *t = w->centers;
        w->centers = w->new_centers;
        w->new_centers = t;
        memcpy(w->prev, w->labels, n * sizeof(int32_t));
        if (shift <= tol_abs) {
            it++;
            break;
        }
    }
    *n_iter = it < max_iter ? it : max_iter;
    /* final assignment against the returned centres */
    double inertia = 0;
    for (size_t i = 0; i < n; i++) {
        double d;
        w->labels[i] = nearest(x + i * dim, w->centers, k, dim, &d);
        inertia += d;
    }
    return inertia;
}

sl_status sl_kmeans_fit(sl_kmeans *out, const double *x, size_t n, int dim,
                        const sl_kmeans_config *cfg) {
    if (!out || !x || !cfg) return sl_set_error(SL_ERR_ARG, "kmeans: NULL argument");
    memset(out, 0, sizeof *out);
    int k = cfg->k;
    if (dim <= 0 || n == 0)
        return sl_set_error(SL_ERR_ARG, "kmeans: need n > 0 points of dim > 0 (n %zu, dim %d)", n,
                            dim);
    if (k < 1 || (size_t)k > n)
        return sl_set_error(SL_ERR_ARG, "kmeans: k = %d must be in [1, n = %zu]", k, n);
    if (cfg->n_init < 1 || cfg->max_iter < 1 || !(cfg->tol >= 0))
        return sl_set_error(SL_ERR_ARG, "kmeans: n_init %d and max_iter %d must be >= 1, tol >= 0",
                            cfg->n_init, cfg->max_iter);
    size_t nd;
    if (sl_mul_size(n, (size_t)dim, &nd) != SL_OK)
        return sl_set_error(SL_ERR_RANGE, "kmeans: n * dim overflows");
    if (!sl_all_finite_f64(x, nd))
        return sl_set_error(SL_ERR_NAN, "kmeans: input holds NaN or Inf");
    /* tolerance relative to the data's scale (scikit-learn: mean of column variances * tol) */
    double var_sum = 0;
    for (int j = 0; j < dim; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += x[i * dim + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (x[i * dim + j] - m) * (x[i * dim + j] - m);
        var_sum += v / (double)n;
    }
    double tol_abs = var_sum / dim * cfg->tol;

    size_t kd = (size_t)k * dim;
    km_work w = {0};
    w.centers = malloc(kd * sizeof(double));
    w.new_centers = malloc(kd * sizeof(double));
    w.closest = malloc(n * sizeof(double));
    w.cum = malloc(n * sizeof(double));
    w.dist = malloc(n * sizeof(double));
    w.labels = malloc(n * sizeof(int32_t));
    w.prev = malloc(n * sizeof(int32_t));
    w.count = malloc((size_t)k * sizeof(size_t));
    w.moved = malloc(n);
    out->centroids = malloc(kd * sizeof(double));
    out->labels = malloc(n * sizeof(int32_t));
    sl_status s = SL_OK;
    if (!w.centers || !w.new_centers || !w.closest || !w.cum || !w.dist || !w.labels || !w.prev ||
        !w.count || !w.moved || !out->centroids || !out->labels) {
        s = sl_set_error(SL_ERR_NOMEM, "kmeans: out of memory (n %zu, k %d)", n, k);
    } else {
        out->inertia = INFINITY;
        for (int r = 0; r < cfg->n_init; r++) {
            sl_rng rng;
            sl_rng_seed(&rng, cfg->seed, (uint64_t)r);
            kmeanspp(w.centers, x, n, dim, k, &rng, w.closest, w.cum);
            int iters = 0;
            double inertia = lloyd(&w, x, n, dim, k, cfg->max_iter, tol_abs, &iters);
            if (inertia < out->inertia) {
                out->inertia = inertia;
                out->n_iter = iters;
                out->best_init = r;
                memcpy(out->centroids, w.centers, kd * sizeof(double));
                memcpy(out->labels, w.labels, n * sizeof(int32_t));
            }
        }
        out->k = k;
        out->dim = dim;
        out->n = n;
    }
    free(w.centers);
    free(w.new_centers);
    free(w.closest);
    free(w.cum);
    free(w.dist);
    free(w.labels);
    free(w.prev);
    free(w.count);
    free(w.moved);
    if (s != SL_OK) sl_kmeans_clear(out);
    return s;
}

/* --- standardisation and silhouette ------------------------------------- */

sl_status sl_standardize_columns(double *x, size_t n, int dim, double *mean, double *std) {
    if (!x || n == 0 || dim <= 0)
        return sl_set_error(SL_ERR_ARG, "standardize: need n > 0 rows and dim > 0");
    for (int j = 0; j < dim; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += x[i * dim + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (x[i * dim + j] - m) * (x[i * dim + j] - m);
        double sd = sqrt(v / (double)n);
        double div = sd > 0 ? sd : 1.0;
        for (size_t i = 0; i < n; i++) x[i * dim + j] = (x[i * dim + j] - m) / div;
        if (mean) mean[j] = m;
        if (std) std[j] = sd;
    }
    return SL_OK;
}

sl_status sl_silhouette(const double *x, size_t n, int dim, const int32_t *labels, int k,
                        double *out) {
    if (!x || !labels || !out || n < 2 || k < 2 || dim <= 0)
        return sl_set_error(SL_ERR_ARG, "silhouette: need n >= 2 points and k >= 2");
    size_t *cnt = calloc((size_t)k, sizeof *cnt);
    double *sum = malloc((size_t)k * sizeof *sum);
    if (!cnt || !sum) {
        free(cnt);
        free(sum);
        return sl_set_error(SL_ERR_NOMEM, "silhouette: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k) {
            free(cnt);
            free(sum);
            return sl_set_error(SL_ERR_ARG, "silhouette: label %d of point %zu outside [0, %d)",
                                labels[i], i, k);
        }
        cnt[labels[i]]++;
    }
    int used = 0;
    for (int c = 0; c < k; c++) used += cnt[c] > 0;
    if (used < 2 || (size_t)used > n - 1) {
        free(cnt);
        free(sum);
        return sl_set_error(SL_ERR_ARG,
                            "silhouette: %d non-empty clusters for %zu points; need 2..n-1", used,
                            n);
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < k; c++) sum[c] = 0;
        for (size_t q = 0; q < n; q++)
            if (q != i) sum[labels[q]] += sqrt(sqdist(x + i * dim, x + q * dim, dim));
        int li = labels[i];
        if (cnt[li] <= 1) continue; /* singleton: s = 0 */
        double a = sum[li] / (double)(cnt[li] - 1), b = INFINITY;
        for (int c = 0; c < k; c++)
            if (c != li && cnt[c] > 0) {
                double m = sum[c] / (double)cnt[c];
                if (m < b) b = m;
            }
        double den = a > b ? a : b;
        total += den > 0 ? (b - a) / den : 0;
    }
    free(cnt);
    free(sum);
    *out = total / (double)n;
    return SL_OK;
}
