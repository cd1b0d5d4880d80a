/* SPDX-License-Identifier: Apache-2.0 */
/* calib.c - recalibration of forecast probabilities: Platt scaling (logistic regression on
 * logit p), isotonic regression (pool adjacent violators) and temperature scaling.
 *
 * Invariant: every calibrator maps [0, 1] into [0, 1] monotonically (non-decreasing), so a
 * recalibrated forecast never reverses the order of two candidates; fits are deterministic
 * (no random starts).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fc_internal.h"

static const char *const calib_names[SL_FC_CAL_COUNT] = {"platt", "isotonic", "temperature"};
_Static_assert(sizeof calib_names / sizeof calib_names[0] == SL_FC_CAL_COUNT, "calib names");

const char *sl_fc_calib_name(sl_fc_calib_kind k) {
    return (unsigned)k < SL_FC_CAL_COUNT ? calib_names[k] : "unknown";
}

#define LOGIT_EPS 1e-6

double sl_fc_logit(double p) {
    if (p < LOGIT_EPS) p = LOGIT_EPS;
    if (p > 1.0 - LOGIT_EPS) p = 1.0 - LOGIT_EPS;
    return log(p / (1.0 - p));
}

static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* log(1 + exp(z)) without overflow */
static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

static sl_status check_xy(const double *x, const int *y, size_t n, const char *who) {
    if (n < 2) return sl_set_error(SL_ERR_ARG, "%s: need at least 2 items (got %zu)", who, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || (y[i] != 0 && y[i] != 1))
            return sl_set_error(SL_ERR_RANGE, "%s: item %zu has x = %g, y = %d", who, i, x[i], y[i]);
    return SL_OK;
}

/* --- Platt ---------------------------------------------------------------- */

static double platt_obj(const double *x, const int *y, size_t n, double ic, double a, double b) {
    double f = 0.5 * ic * a * a;
    for (size_t i = 0; i < n; i++) {
        double z = a * x[i] + b;
        f += y[i] ? softplus(-z) : softplus(z);
    }
    return f;
}

sl_status sl_fc_fit_platt(const double *x, const int *y, size_t n, double C, double *pa,
                          double *pb) {
    SL_TRY(check_xy(x, y, n, "platt"));
    if (!(C > 0.0)) return sl_set_error(SL_ERR_ARG, "platt: C = %g must be > 0", C);
    double ic = isinf(C) ? 0.0 : 1.0 / C;
    double a = 0.0, b = 0.0, f = platt_obj(x, y, n, ic, a, b);
    for (int it = 0; it < 200; it++) {
        double ga = ic * a, gb = 0.0, haa = ic, hab = 0.0, hbb = 0.0;
        for (size_t i = 0; i < n; i++) {
            double s = sigmoid(a * x[i] + b), r = s - y[i], w = s * (1.0 - s);
            ga += r * x[i];
            gb += r;
            haa += w * x[i] * x[i];
            hab += w * x[i];
            hbb += w;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 1e-300))
            return sl_set_error(SL_ERR_DIVERGED, "platt: singular Hessian (all forecasts equal or "
                                "the classes are separable); use a finite C");
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        double t = 1.0, fn = f;
        for (int ls = 0; ls < 60; ls++) {
            fn = platt_obj(x, y, n, ic, a - t * da, b - t * db);
            if (fn <= f) break;
            t *= 0.5;
        }
        a -= t * da;
        b -= t * db;
        double step = fabs(t * da) + fabs(t * db);
        f = fn;
        if (!isfinite(a) || !isfinite(b) || fabs(a) > 1e6)
            return sl_set_error(SL_ERR_DIVERGED, "platt: parameters diverge (separable data); "
                                "use a finite C");
        if (step < 1e-13 * (1.0 + fabs(a) + fabs(b))) {
            *pa = a;
            *pb = b;
            return SL_OK;
        }
    }
    return sl_set_error(SL_ERR_DIVERGED, "platt: Newton did not converge in 200 steps "
                        "(separable data?); use a finite C");
}

/* --- isotonic ----------------------------------------------------------------- */

typedef struct xyw {
    double x, y, w;
} xyw;

static int cmp_xyw(const void *pa, const void *pb) {
    const xyw *a = pa, *b = pb;
    if (a->x != b->x) return (a->x > b->x) - (a->x < b->x);
    return (a->y > b->y) - (a->y < b->y);
}

sl_status sl_fc_fit_isotonic(const double *p, const double *yv, const double *wv, size_t n,
                             double **xs, double **ys, size_t *m) {
    *xs = *ys = NULL;
    *m = 0;
    if (n < 1) return sl_set_error(SL_ERR_ARG, "isotonic: no items");
    xyw *v = malloc(n * sizeof *v);
    if (!v) return sl_set_error(SL_ERR_NOMEM, "isotonic: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double w = wv ? wv[i] : 1.0;
        if (!isfinite(p[i]) || !isfinite(yv[i]) || !(w >= 0.0) || !isfinite(w)) {
            free(v);
            return sl_set_error(SL_ERR_RANGE, "isotonic: item %zu is not finite or has a negative "
                                "weight", i);
        }
        if (w > 0.0) v[k++] = (xyw){p[i], yv[i], w};
    }
    if (k == 0) {
        free(v);
        return sl_set_error(SL_ERR_ARG, "isotonic: all weights are 0");
    }
    qsort(v, k, sizeof *v, cmp_xyw);
    /* pool ties in x: weighted mean of y, summed weight (sklearn _make_unique) */
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && v[u - 1].x == v[i].x) {
            double w = v[u - 1].w + v[i].w;
            v[u - 1].y = (v[u - 1].y * v[u - 1].w + v[i].y * v[i].w) / w;
            v[u - 1].w = w;
        } else {
            v[u++] = v[i];
        }
    }
    /* pool adjacent violators: blocks as (mean, weight, length) on a stack */
    double *bm = malloc(u * sizeof *bm), *bw = malloc(u * sizeof *bw);
    size_t *bl = malloc(u * sizeof *bl);
    double *ox = malloc(u * sizeof *ox), *oy = malloc(u * sizeof *oy);
    if (!bm || !bw || !bl || !ox || !oy) {
        free(v);
        free(bm);
        free(bw);
        free(bl);
        free(ox);
        free(oy);
        return sl_set_error(SL_ERR_NOMEM, "isotonic: out of memory");
    }
    size_t nb = 0;
    for (size_t i = 0; i < u; i++) {
        bm[nb] = v[i].y;
        bw[nb] = v[i].w;
        bl[nb] = 1;
        nb++;
        while (nb > 1 && bm[nb - 2] >= bm[nb - 1]) {
            double w = bw[nb - 2] + bw[nb - 1];
            bm[nb - 2] = (bm[nb - 2] * bw[nb - 2] + bm[nb - 1] * bw[nb - 1]) / w;
            bw[nb - 2] = w;
            bl[nb - 2] += bl[nb - 1];
            nb--;
        }
    }
    /* expand, then drop interior points equal to both neighbours (sklearn trim_duplicates) */
    double *fy = malloc(u * sizeof *fy);
    if (!fy) {
        free(v);
        free(bm);
        free(bw);
        free(bl);
        free(ox);
        free(oy);
        return sl_set_error(SL_ERR_NOMEM, "isotonic: out of memory");
    }
    for (size_t b = 0, i = 0; b < nb; b++)
        for (size_t j = 0; j < bl[b]; j++) fy[i++] = bm[b];
    size_t o = 0;
    for (size_t i = 0; i < u; i++) {
        int keep = i == 0 || i == u - 1 || fy[i] != fy[i - 1] || fy[i] != fy[i + 1];
        if (keep) {
            ox[o] = v[i].x;
            oy[o] = fy[i];
            o++;
        }
    }
    free(v);
    free(bm);
    free(bw);
    free(bl);
    free(fy);
    *xs = ox;
    *ys = oy;
    *m = o;
    return SL_OK;
}

static double interp_clip(const double *xs, const double *ys, size_t m, double x) {
    if (m == 0) return NAN;
    if (x <= xs[0]) return ys[0];
    if (x >= xs[m - 1]) return ys[m - 1];
    size_t lo = 0, hi = m - 1; /* xs[lo] < x < xs[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (xs[mid] <= x) lo = mid;
        else hi = mid;
    }
    if (x == xs[lo]) return ys[lo];
    double t = (x - xs[lo]) / (xs[hi] - xs[lo]);
    return ys[lo] + t * (ys[hi] - ys[lo]);
}

/* --- temperature ------------------------------------------------------------------ */

static double temp_obj(const double *x, const int *y, size_t n, double beta) {
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        double z = beta * x[i];
        f += y[i] ? softplus(-z) : softplus(z);
    }
    return f / (double)n;
}

sl_status sl_fc_fit_temperature(const double *x, const int *y, size_t n, double *T) {
    SL_TRY(check_xy(x, y, n, "temperature"));
    /* the mean log loss is convex in beta = 1 / T: golden section, then Newton */
    double lo = 1e-2, hi = 1e2;
    const double g = 0.5 * (sqrt(5.0) - 1.0);
    double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
    double fc = temp_obj(x, y, n, c), fd = temp_obj(x, y, n, d);
    for (int it = 0; it < 200 && hi - lo > 1e-9; it++) {
        if (fc < fd) {
            hi = d;
            d = c;
            fd = fc;
            c = hi - g * (hi - lo);
            fc = temp_obj(x, y, n, c);
        } else {
            lo = c;
            c = d;
            fc = fd;
            d = lo + g * (hi - lo);
            fd = temp_obj(x, y, n, d);
        }
    }
    double beta = 0.5 * (lo + hi);
    for (int it = 0; it < 30; it++) {
        double g1 = 0.0, h = 0.0;
        for (size_t i = 0; i < n; i++) {
            double s = sigmoid(beta * x[i]);
            g1 += (s - y[i]) * x[i];
            h += s * (1.0 - s) * x[i] * x[i];
        }
        if (!(h > 1e-300)) break;
        double nb = beta - g1 / h;
        if (!(nb > 1e-2 && nb < 1e2)) break;
        double step = fabs(nb - beta);
        beta = nb;
        if (step < 1e-15 * beta) break;
    }
    if (beta <= 1.0001e-2 || beta >= 0.9999e2)
        return sl_set_error(SL_ERR_DIVERGED, "temperature: optimum at the search bound (1/T = "
                            "%g): forecasts carry no signal or the classes are separable", beta);
    *T = 1.0 / beta;
    return SL_OK;
}

/* --- calibrators ------------------------------------------------------------------ */

void sl_fc_calib_clear(sl_fc_calib *c) {
    if (!c) return;
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

sl_status sl_fc_calib_fit(sl_fc_calib_kind kind, const double *p, const int *y, size_t n,
                          sl_fc_calib *c) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0.0 && p[i] <= 1.0) || (y[i] != 0 && y[i] != 1))
            return sl_set_error(SL_ERR_RANGE, "calibrate: item %zu has p = %g, y = %d", i, p[i], y[i]);
    if (kind == SL_FC_CAL_ISOTONIC) {
        double *yd = malloc((n ? n : 1) * sizeof *yd);
        if (!yd) return sl_set_error(SL_ERR_NOMEM, "calibrate: out of memory");
        for (size_t i = 0; i < n; i++) yd[i] = y[i];
        sl_status st = sl_fc_fit_isotonic(p, yd, NULL, n, &c->x, &c->y, &c->n);
        free(yd);
        return st;
    }
    if (kind != SL_FC_CAL_PLATT && kind != SL_FC_CAL_TEMPERATURE)
        return sl_set_error(SL_ERR_ARG, "calibrate: unknown method %d", (int)kind);
    double *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) return sl_set_error(SL_ERR_NOMEM, "calibrate: out of memory");
    for (size_t i = 0; i < n; i++) x[i] = sl_fc_logit(p[i]);
    sl_status st = kind == SL_FC_CAL_PLATT ? sl_fc_fit_platt(x, y, n, INFINITY, &c->a, &c->b)
                                           : sl_fc_fit_temperature(x, y, n, &c->T);
    free(x);
    return st;
}

double sl_fc_calib_apply(const sl_fc_calib *c, double p) {
    switch (c->kind) {
    case SL_FC_CAL_PLATT: return sigmoid(c->a * sl_fc_logit(p) + c->b);
    case SL_FC_CAL_TEMPERATURE: return sigmoid(sl_fc_logit(p) / c->T);
    case SL_FC_CAL_ISOTONIC: return interp_clip(c->x, c->y, c->n, p);
    default: return NAN;
    }
}

cJSON *sl_fc_calib_json(const sl_fc_calib *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "method", sl_fc_calib_name(c->kind));
    if (c->kind == SL_FC_CAL_PLATT) {
        cJSON_AddNumberToObject(o, "a", c->a);
        cJSON_AddNumberToObject(o, "b", c->b);
    } else if (c->kind == SL_FC_CAL_TEMPERATURE) {
        cJSON_AddNumberToObject(o, "T", c->T);
    } else {
        cJSON *xs = cJSON_AddArrayToObject(o, "x"), *ys = cJSON_AddArrayToObject(o, "y");
        for (size_t i = 0; xs && ys && i < c->n; i++) {
            cJSON_AddItemToArray(xs, cJSON_CreateNumber(c->x[i]));
            cJSON_AddItemToArray(ys, cJSON_CreateNumber(c->y[i]));
        }
    }
    return o;
}

void sl_fc_calib_apply_set(const sl_fc_calib *c, sl_fc_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        sl_fc_case *cs = &s->cases[i];
        for (size_t k = 0; k < cs->n_nodes; k++) {
            sl_fc_node *nd = &cs->nodes[k];
            cJSON *nj = fc_node_json(cs, k);
            if (isfinite(nd->prob)) {
                nd->prob = sl_fc_calib_apply(c, nd->prob);
                fc_json_set_num(nj, fc_node_prob_keys, nd->prob);
            }
            cJSON *aj = nj ? cJSON_GetObjectItemCaseSensitive(nj, "alternatives") : NULL;
            if (!aj && nj) aj = cJSON_GetObjectItemCaseSensitive(nj, "alternative_outcomes");
            for (size_t j = 0; j < nd->n_alts; j++) {
                if (!isfinite(nd->alts[j].prob)) continue;
                nd->alts[j].prob = sl_fc_calib_apply(c, nd->alts[j].prob);
                fc_json_set_num(aj ? cJSON_GetArrayItem(aj, (int)j) : NULL, fc_alt_prob_keys,
                                nd->alts[j].prob);
            }
        }
    }
}
