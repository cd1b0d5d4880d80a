/* SPDX-License-Identifier: Apache-2.0 */
/* marginal.c - normal scores and empirical quantile functions (the copula's marginals and the
 * VAE's numeric transform). Invariant: knots are nondecreasing, so the inverse is monotone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"

double gen_norm_cdf(double z) { return 0.5 * erfc(-z / M_SQRT2); }

double gen_norm_ppf(double p) {
    if (p <= 0.0) return -HUGE_VAL;
    if (p >= 1.0) return HUGE_VAL;
    /* Acklam's rational approximation (|rel err| < 1.2e-9) */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double x, q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    for (int it = 0; it < 2; it++) { /* Halley steps on Phi(x) - p */
        double e = gen_norm_cdf(x) - p;
        double u = e * sqrt(2 * M_PI) * exp(0.5 * x * x);
        x = x - u / (1 + 0.5 * x * u);
    }
    return x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

sl_status gen_marginal_fit(gen_marginal *m, const double *x, size_t n, size_t max_knots) {
    memset(m, 0, sizeof *m);
    if (n < 2 || max_knots < 2)
        return sl_set_error(SL_ERR_ARG, "gen marginal: need >= 2 values and knots");
    double *s = malloc(n * sizeof *s);
    size_t K = n < max_knots ? n : max_knots;
    m->knots = malloc(K * sizeof *m->knots);
    if (!s || !m->knots) {
        free(s);
        gen_marginal_free(m);
        return sl_set_error(SL_ERR_NOMEM, "gen marginal: out of memory (%zu values)", n);
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    for (size_t k = 0; k < K; k++) { /* numpy.quantile, linear */
        double pos = (double)k / (double)(K - 1) * (double)(n - 1);
        size_t i = (size_t)floor(pos);
        double f = pos - (double)i;
        m->knots[k] = i + 1 < n ? s[i] + f * (s[i + 1] - s[i]) : s[n - 1];
    }
    m->K = K;
    free(s);
    return SL_OK;
}

void gen_marginal_free(gen_marginal *m) {
    if (!m) return;
    free(m->knots);
    memset(m, 0, sizeof *m);
}

double gen_marginal_inv(const gen_marginal *m, double u) {
    if (!(u > 0.0)) return m->knots[0];
    if (u >= 1.0) return m->knots[m->K - 1];
    double pos = u * (double)(m->K - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= m->K) return m->knots[m->K - 1];
    double f = pos - (double)i;
    return m->knots[i] + f * (m->knots[i + 1] - m->knots[i]);
}

double gen_marginal_score(const gen_marginal *m, double v) {
    size_t K = m->K, lo = 0, hi = K;
    /* first knot >= v and first knot > v */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->knots[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    size_t a = lo;
    hi = K;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->knots[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    size_t b = lo;
    double pos;
    if (b > a) {
        pos = 0.5 * ((double)a + (double)(b - 1)); /* ties: their middle knot */
    } else if (a == 0) {
        pos = 0.0;
    } else if (a >= K) {
        pos = (double)(K - 1);
    } else { /* between knots a-1 and a */
        double k0 = m->knots[a - 1], k1 = m->knots[a];
        pos = (double)(a - 1) + (v - k0) / (k1 - k0);
    }
    double u = pos / (double)(K - 1), e = 0.5 / (double)K;
    if (u < e) u = e;
    if (u > 1 - e) u = 1 - e;
    return gen_norm_ppf(u);
}

typedef struct iv {
    double v;
    size_t i;
} iv;
static int cmp_iv(const void *a, const void *b) {
    const iv *x = a, *y = b;
    if (x->v != y->v) return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

sl_status gen_normal_scores(double *z, const double *x, size_t n) {
    iv *p = malloc(n * sizeof *p);
    if (!p) return sl_set_error(SL_ERR_NOMEM, "gen normal scores: out of memory");
    for (size_t i = 0; i < n; i++) p[i].v = x[i], p[i].i = i;
    qsort(p, n, sizeof *p, cmp_iv);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].v == p[i].v) j++;
        double rank = 0.5 * ((double)i + (double)(j - 1)) + 1.0; /* average 1-based rank */
        double zz = gen_norm_ppf((rank - 0.5) / (double)n);
        for (size_t k = i; k < j; k++) z[p[k].i] = zz;
        i = j;
    }
    free(p);
    return SL_OK;
}

double gen_finish_value(const sl_gen_column *c, double v) {
    if (c->type == SL_GEN_DATE || c->integer) v = floor(v + 0.5);
    if (c->has_bounds) {
        if (v < c->lo) v = c->lo;
        if (v > c->hi) v = c->hi;
    }
    return v;
}
