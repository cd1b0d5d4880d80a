/* SPDX-License-Identifier: Apache-2.0 */
/* stats.c - float64 statistics: moments, Student-t (incomplete beta), Welch's test, ROC-AUC,
 * scoring rules, stability ratios, bootstrap and the seed-000 A/B verdict.
 *
 * Invariant: every public function either returns SL_OK with a finite result (or, for the
 * libm-style special functions, NaN only for arguments outside the domain) or returns an
 * error with a message naming the function and the offending index/value. Formulas are the
 * ones written in docs/STATISTICS.md; change both together.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_stats.h"

/* --- input checks ------------------------------------------------------- */

static sl_status check_vec(const char *fn, const char *name, const double *x, size_t n,
                           size_t min_n) {
    if (!x && n) return sl_set_error(SL_ERR_ARG, "%s: %s is NULL", fn, name);
    if (n < min_n)
        return sl_set_error(SL_ERR_ARG, "%s: %s has %zu values, need at least %zu", fn, name, n,
                            min_n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return sl_set_error(SL_ERR_NAN, "%s: %s[%zu] is not finite", fn, name, i);
    return SL_OK;
}

static sl_status check_prob_labels(const char *fn, const double *p, const int *y, size_t n) {
    SL_TRY(check_vec(fn, "p", p, n, 1));
    if (!y) return sl_set_error(SL_ERR_ARG, "%s: labels are NULL", fn);
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0.0 || p[i] > 1.0)
            return sl_set_error(SL_ERR_RANGE, "%s: p[%zu] = %g is outside [0,1]", fn, i, p[i]);
        if (y[i] != 0 && y[i] != 1)
            return sl_set_error(SL_ERR_ARG, "%s: label[%zu] = %d is not 0 or 1", fn, i, y[i]);
    }
    return SL_OK;
}

/* --- moments ------------------------------------------------------------ */

static double mean_unchecked(const double *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

/* Two-pass sample variance (ddof = 1) with the compensating term of Chan et al. */
static double var_unchecked(const double *x, size_t n) {
    double m = mean_unchecked(x, n), s2 = 0.0, s1 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - m;
        s2 += d * d;
        s1 += d;
    }
    double v = (s2 - s1 * s1 / (double)n) / (double)(n - 1);
    return v < 0.0 ? 0.0 : v;
}

/* Strided variant for per-dimension statistics. */
static double var_strided(const double *x, size_t n, size_t stride) {
    double m = 0.0, s2 = 0.0, s1 = 0.0;
    for (size_t i = 0; i < n; i++) m += x[i * stride];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = x[i * stride] - m;
        s2 += d * d;
        s1 += d;
    }
    double v = (s2 - s1 * s1 / (double)n) / (double)(n - 1);
    return v < 0.0 ? 0.0 : v;
}

sl_status sl_stats_mean(const double *x, size_t n, double *out) {
    SL_TRY(check_vec("sl_stats_mean", "x", x, n, 1));
    *out = mean_unchecked(x, n);
    return SL_OK;
}

sl_status sl_stats_var(const double *x, size_t n, double *out) {
    SL_TRY(check_vec("sl_stats_var", "x", x, n, 2));
    *out = var_unchecked(x, n);
    return SL_OK;
}

sl_status sl_stats_std(const double *x, size_t n, double *out) {
    SL_TRY(check_vec("sl_stats_std", "x", x, n, 2));
    *out = sqrt(var_unchecked(x, n));
    return SL_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's "linear" quantile on sorted data, including numpy's lerp formulation. */
static double quantile_sorted(const double *s, size_t n, double q) {
    double h = (double)(n - 1) * q;
    double fl = floor(h);
    size_t lo = (size_t)fl;
    if (lo >= n - 1) return s[n - 1];
    double t = h - fl, a = s[lo], b = s[lo + 1], d = b - a;
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

sl_status sl_stats_quantile(const double *x, size_t n, double q, double *out) {
    SL_TRY(check_vec("sl_stats_quantile", "x", x, n, 1));
    if (!(q >= 0.0 && q <= 1.0))
        return sl_set_error(SL_ERR_ARG, "sl_stats_quantile: q = %g is outside [0,1]", q);
    double *s = malloc(n * sizeof *s);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "sl_stats_quantile: %zu values", n);
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    *out = quantile_sorted(s, n, q);
    free(s);
    return SL_OK;
}

/* --- special functions -------------------------------------------------- */

#define BETACF_MAXIT 100000
#define BETACF_EPS 1e-16
#define BETACF_TINY 1e-300

static double lgam(double x) {
    int sign;
    return lgamma_r(x, &sign);
}

/* Continued fraction for I_x(a,b) (modified Lentz), converges for x < (a+1)/(a+b+2). */
static double betacf(double a, double b, double x) {
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < BETACF_TINY) d = BETACF_TINY;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= BETACF_MAXIT; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < BETACF_TINY) d = BETACF_TINY;
        c = 1.0 + aa / c;
        if (fabs(c) < BETACF_TINY) c = BETACF_TINY;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < BETACF_TINY) d = BETACF_TINY;
        c = 1.0 + aa / c;
        if (fabs(c) < BETACF_TINY) c = BETACF_TINY;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < BETACF_EPS) break;
    }
    return h;
}

/* log I_x(a,b) given x, y = 1 - x and their logs (so that callers can supply y without
 * cancellation). Works in log space so tiny tails do not underflow. */
static double log_betainc_xy(double a, double b, double x, double y, double lx, double ly) {
    if (x <= 0.0) return -INFINITY;
    if (y <= 0.0) return 0.0;
    double front = a * lx + b * ly - (lgam(a) + lgam(b) - lgam(a + b));
    if (x < (a + 1.0) / (a + b + 2.0)) return front + log(betacf(a, b, x)) - log(a);
    double comp = exp(front) * betacf(b, a, y) / b; /* I_y(b,a) = 1 - I_x(a,b) */
    return log1p(-comp);
}

double sl_stats_betainc(double a, double b, double x) {
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0) || isinf(a) || isinf(b)) return NAN;
    if (x == 0.0) return 0.0;
    if (x == 1.0) return 1.0;
    double y = 1.0 - x;
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(log_betainc_xy(a, b, x, y, log(x), log1p(-x)));
    /* upper branch: return 1 - I_y(b,a) directly, no exp(log1p()) round trip */
    double front = a * log(x) + b * log1p(-x) - (lgam(a) + lgam(b) - lgam(a + b));
    return 1.0 - exp(front) * betacf(b, a, y) / b;
}

double sl_stats_norm_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* Beyond this df the t distribution is replaced by the normal (error O(1/df)). */
#define T_NORMAL_DF 1e10

/* log CDF of the t distribution for t <= 0. */
static double t_logcdf_neg(double t, double df) {
    if (df > T_NORMAL_DF) return log(sl_stats_norm_cdf(t));
    if (t == 0.0) return log(0.5);
    if (isinf(t)) return -INFINITY;
    double r = t * t / df;
    double x = 1.0 / (1.0 + r), y = isinf(r) ? 1.0 : r / (1.0 + r);
    double lx = -log1p(r), ly = log(r) - log1p(r);
    return log(0.5) + log_betainc_xy(0.5 * df, 0.5, x, y, lx, ly);
}

static double t_logpdf(double t, double df) {
    if (df > T_NORMAL_DF) return -0.5 * t * t - 0.5 * log(2.0 * M_PI);
    return lgam(0.5 * (df + 1.0)) - lgam(0.5 * df) - 0.5 * log(df * M_PI) -
           0.5 * (df + 1.0) * log1p(t * t / df);
}

double sl_stats_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0.0)) return NAN;
    if (t <= 0.0) return exp(t_logcdf_neg(t, df));
    return 1.0 - exp(t_logcdf_neg(-t, df));
}

double sl_stats_t_sf(double t, double df) { return sl_stats_t_cdf(-t, df); }

double sl_stats_t_ppf(double p, double df) {
    if (isnan(p) || !(df > 0.0) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    if (p == 0.5) return 0.0;
    double q = p < 0.5 ? p : 1.0 - p;
    /* 1 - p loses bits when p > 0.5; accept that (it is the caller's rounding) */
    double lq = log(q);
    /* bracket the root of f(t) = log cdf(t) - log q on t < 0: f(hi) > 0 >= f(lo) */
    double hi = 0.0, lo = -1.0;
    while (t_logcdf_neg(lo, df) > lq) {
        hi = lo;
        lo *= 2.0;
        if (lo < -1e300) break;
    }
    double t = 0.5 * (lo + hi);
    for (int it = 0; it < 400; it++) {
        double f = t_logcdf_neg(t, df) - lq;
        if (f == 0.0) break;
        if (f > 0.0) hi = t;
        else lo = t;
        double dlog = exp(t_logpdf(t, df) - t_logcdf_neg(t, df)); /* d/dt log cdf */
        double tn = t - f / dlog;
        if (!(tn > lo && tn < hi) || !isfinite(tn)) tn = 0.5 * (lo + hi);
        double step = fabs(tn - t);
        t = tn;
        if (step <= 2.0 * DBL_EPSILON * fabs(t) || hi - lo <= 2.0 * DBL_EPSILON * fabs(t)) break;
    }
    return p < 0.5 ? t : -t;
}

/* --- confidence intervals and tests ------------------------------------- */

sl_status sl_stats_ci_mean(const double *x, size_t n, double level, sl_ci *out) {
    SL_TRY(check_vec("sl_stats_ci_mean", "x", x, n, 2));
    if (!(level > 0.0 && level < 1.0))
        return sl_set_error(SL_ERR_ARG, "sl_stats_ci_mean: level = %g is outside (0,1)", level);
    double m = mean_unchecked(x, n), s = sqrt(var_unchecked(x, n));
    double tq = sl_stats_t_ppf(0.5 * (1.0 + level), (double)(n - 1));
    double hw = tq * s / sqrt((double)n);
    out->mean = m;
    out->std = s;
    out->half_width = hw;
    out->lo = m - hw;
    out->hi = m + hw;
    out->level = level;
    out->n = n;
    return SL_OK;
}

sl_status sl_stats_welch(const double *a, size_t na, const double *b, size_t nb, double level,
                         sl_welch *out) {
    SL_TRY(check_vec("sl_stats_welch", "a", a, na, 2));
    SL_TRY(check_vec("sl_stats_welch", "b", b, nb, 2));
    if (!(level > 0.0 && level < 1.0))
        return sl_set_error(SL_ERR_ARG, "sl_stats_welch: level = %g is outside (0,1)", level);
    sl_welch w;
    memset(&w, 0, sizeof w);
    w.mean_a = mean_unchecked(a, na);
    w.mean_b = mean_unchecked(b, nb);
    w.var_a = var_unchecked(a, na);
    w.var_b = var_unchecked(b, nb);
    w.diff = w.mean_a - w.mean_b;
    w.level = level;
    double ea = w.var_a / (double)na, eb = w.var_b / (double)nb;
    w.se = sqrt(ea + eb);
    if (w.se == 0.0) {
        w.degenerate = 1;
        w.df = (double)(na + nb - 2);
        w.t = w.diff == 0.0 ? 0.0 : copysign(INFINITY, w.diff);
        w.p = w.diff == 0.0 ? 1.0 : 0.0;
        w.ci_lo = w.ci_hi = w.diff;
    } else {
        w.t = w.diff / w.se;
        w.df = (ea + eb) * (ea + eb) /
               (ea * ea / (double)(na - 1) + eb * eb / (double)(nb - 1));
        w.p = 2.0 * sl_stats_t_sf(fabs(w.t), w.df);
        if (w.p > 1.0) w.p = 1.0;
        double tq = sl_stats_t_ppf(0.5 * (1.0 + level), w.df);
        w.ci_lo = w.diff - tq * w.se;
        w.ci_hi = w.diff + tq * w.se;
    }
    *out = w;
    return SL_OK;
}

/* --- classification and probability scores ------------------------------ */

typedef struct {
    double s;
    int y;
} scored;

static int cmp_scored(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

sl_status sl_stats_roc_auc(const double *score, const int *label, size_t n, double *out) {
    SL_TRY(check_vec("sl_stats_roc_auc", "score", score, n, 2));
    if (!label) return sl_set_error(SL_ERR_ARG, "sl_stats_roc_auc: labels are NULL");
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1)
            return sl_set_error(SL_ERR_ARG, "sl_stats_roc_auc: label[%zu] = %d is not 0 or 1", i,
                                label[i]);
        npos += (size_t)label[i];
    }
    if (npos == 0 || npos == n)
        return sl_set_error(SL_ERR_ARG,
                            "sl_stats_roc_auc: only one class present (%zu positives of %zu)",
                            npos, n);
    scored *v = malloc(n * sizeof *v);
    if (!v) return sl_set_error(SL_ERR_NOMEM, "sl_stats_roc_auc: %zu values", n);
    for (size_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].y = label[i];
    }
    qsort(v, n, sizeof *v, cmp_scored);
    /* sum of mid-ranks (1-based) of the positives */
    double rsum = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        size_t pos = 0;
        while (j < n && v[j].s == v[i].s) pos += (size_t)v[j++].y;
        double midrank = 0.5 * ((double)(i + 1) + (double)j);
        rsum += midrank * (double)pos;
        i = j;
    }
    free(v);
    double n1 = (double)npos, n0 = (double)(n - npos);
    *out = (rsum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0);
    return SL_OK;
}

sl_status sl_stats_brier(const double *p, const int *y, size_t n, double *out) {
    SL_TRY(check_prob_labels("sl_stats_brier", p, y, n));
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = p[i] - (double)y[i];
        s += d * d;
    }
    *out = s / (double)n;
    return SL_OK;
}

sl_status sl_stats_ece(const double *p, const int *y, size_t n, int nbins, double *out) {
    SL_TRY(check_prob_labels("sl_stats_ece", p, y, n));
    if (nbins == 0) nbins = SL_STATS_ECE_DEFAULT_BINS;
    if (nbins < 1 || nbins > 1000000)
        return sl_set_error(SL_ERR_ARG, "sl_stats_ece: nbins = %d is outside [1, 1e6]", nbins);
    double *acc = calloc(2 * (size_t)nbins, sizeof *acc);
    if (!acc) return sl_set_error(SL_ERR_NOMEM, "sl_stats_ece: %d bins", nbins);
    double step = 1.0 / (double)nbins; /* edges e_k = k * step, as numpy.linspace(0,1,B+1) */
    for (size_t i = 0; i < n; i++) {
        /* bin = number of interior edges e_1..e_{B-1} strictly below p (searchsorted left) */
        long g = (long)ceil(p[i] * nbins) - 1;
        if (g < 0) g = 0;
        if (g > nbins - 1) g = nbins - 1;
        while (g < nbins - 1 && (double)(g + 1) * step < p[i]) g++;
        while (g > 0 && (double)g * step >= p[i]) g--;
        acc[2 * g] += p[i];
        acc[2 * g + 1] += (double)y[i];
    }
    double e = 0.0;
    for (int b = 0; b < nbins; b++) e += fabs(acc[2 * b + 1] - acc[2 * b]);
    free(acc);
    *out = e / (double)n;
    return SL_OK;
}

sl_status sl_stats_log_loss(const double *p, const int *y, size_t n, double eps, double *out) {
    SL_TRY(check_prob_labels("sl_stats_log_loss", p, y, n));
    if (eps <= 0.0) eps = DBL_EPSILON;
    if (!(eps < 0.5)) return sl_set_error(SL_ERR_ARG, "sl_stats_log_loss: eps = %g >= 0.5", eps);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double q = p[i] < eps ? eps : (p[i] > 1.0 - eps ? 1.0 - eps : p[i]);
        s -= y[i] ? log(q) : log(1.0 - q);
    }
    *out = s / (double)n;
    return SL_OK;
}

/* --- world-model stability ---------------------------------------------- */

sl_status sl_stats_std_ratio(const double *syn, size_t nsyn, const double *real, size_t nreal,
                             double *out) {
    SL_TRY(check_vec("sl_stats_std_ratio", "syn", syn, nsyn, 2));
    SL_TRY(check_vec("sl_stats_std_ratio", "real", real, nreal, 2));
    double sr = sqrt(var_unchecked(real, nreal));
    if (sr == 0.0)
        return sl_set_error(SL_ERR_RANGE, "sl_stats_std_ratio: real values are constant (std 0)");
    *out = sqrt(var_unchecked(syn, nsyn)) / sr;
    return SL_OK;
}

sl_status sl_stats_std_ratio_per_dim(const double *syn, size_t nsyn_rows, const double *real,
                                     size_t nreal_rows, size_t dim, double *out,
                                     double *mean_out) {
    if (dim == 0 || !out) return sl_set_error(SL_ERR_ARG, "sl_stats_std_ratio_per_dim: dim 0");
    size_t ns, nr;
    if (sl_mul_size(nsyn_rows, dim, &ns) || sl_mul_size(nreal_rows, dim, &nr))
        return sl_set_error(SL_ERR_RANGE, "sl_stats_std_ratio_per_dim: size overflow");
    SL_TRY(check_vec("sl_stats_std_ratio_per_dim", "syn", syn, ns, 2 * dim));
    SL_TRY(check_vec("sl_stats_std_ratio_per_dim", "real", real, nr, 2 * dim));
    double m = 0.0;
    for (size_t d = 0; d < dim; d++) {
        double sr = sqrt(var_strided(real + d, nreal_rows, dim));
        if (sr == 0.0)
            return sl_set_error(SL_ERR_RANGE,
                                "sl_stats_std_ratio_per_dim: real dimension %zu is constant", d);
        out[d] = sqrt(var_strided(syn + d, nsyn_rows, dim)) / sr;
        m += out[d];
    }
    if (mean_out) *mean_out = m / (double)dim;
    return SL_OK;
}

sl_status sl_stats_variance_growth(const double *z, size_t R, size_t T, size_t D, double eps,
                                   double *var_t_out, double *growth) {
    if (R == 0 || T == 0 || D < 2)
        return sl_set_error(SL_ERR_ARG,
                            "sl_stats_variance_growth: need R >= 1, T >= 1, D >= 2 (got %zu, "
                            "%zu, %zu)",
                            R, T, D);
    if (!(eps >= 0.0) || !isfinite(eps))
        return sl_set_error(SL_ERR_ARG, "sl_stats_variance_growth: eps = %g", eps);
    size_t n, n2;
    if (sl_mul_size(R, T, &n) || sl_mul_size(n, D, &n2))
        return sl_set_error(SL_ERR_RANGE, "sl_stats_variance_growth: size overflow");
    SL_TRY(check_vec("sl_stats_variance_growth", "z", z, n2, 1));
    double v0 = 0.0, vl = 0.0;
    for (size_t t = 0; t < T; t++) {
        double s = 0.0;
        for (size_t r = 0; r < R; r++) s += var_unchecked(z + (r * T + t) * D, D);
        s /= (double)R;
        if (var_t_out) var_t_out[t] = s;
        if (t == 0) v0 = s;
        if (t == T - 1) vl = s;
    }
    if (v0 + eps == 0.0)
        return sl_set_error(SL_ERR_RANGE,
                            "sl_stats_variance_growth: first-step variance is 0 and eps = 0");
    *growth = vl / (v0 + eps);
    return SL_OK;
}

/* --- bootstrap ---------------------------------------------------------- */

static double stat_mean(const double *x, size_t n, void *ctx) {
    (void)ctx;
    return mean_unchecked(x, n);
}

static sl_status check_boot(const char *fn, size_t reps, double level) {
    if (reps < 2) return sl_set_error(SL_ERR_ARG, "%s: reps = %zu, need >= 2", fn, reps);
    if (!(level > 0.0 && level < 1.0))
        return sl_set_error(SL_ERR_ARG, "%s: level = %g is outside (0,1)", fn, level);
    return SL_OK;
}

sl_status sl_stats_bootstrap_ci(const double *x, size_t n, sl_stats_fn stat, void *ctx,
                                size_t reps, double level, uint64_t seed, double *point,
                                double *lo, double *hi) {
    static const char fn[] = "sl_stats_bootstrap_ci";
    SL_TRY(check_vec(fn, "x", x, n, 1));
    SL_TRY(check_boot(fn, reps, level));
    if (!stat) stat = stat_mean;
    double *buf = malloc(n * sizeof *buf), *rep = malloc(reps * sizeof *rep);
    if (!buf || !rep) {
        free(buf);
        free(rep);
        return sl_set_error(SL_ERR_NOMEM, "%s: %zu x %zu", fn, n, reps);
    }
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    sl_status st = SL_OK;
    for (size_t b = 0; b < reps && st == SL_OK; b++) {
        for (size_t i = 0; i < n; i++) buf[i] = x[sl_rng_below(&r, n)];
        rep[b] = stat(buf, n, ctx);
        if (!isfinite(rep[b]))
            st = sl_set_error(SL_ERR_NAN, "%s: statistic is not finite on replicate %zu", fn, b);
    }
    double pt = 0.0;
    if (st == SL_OK && point) {
        pt = stat(x, n, ctx);
        if (!isfinite(pt)) st = sl_set_error(SL_ERR_NAN, "%s: statistic of x is not finite", fn);
    }
    if (st == SL_OK) {
        qsort(rep, reps, sizeof *rep, cmp_double);
        *lo = quantile_sorted(rep, reps, 0.5 * (1.0 - level));
        *hi = quantile_sorted(rep, reps, 0.5 * (1.0 + level));
        if (point) *point = pt;
    }
    free(buf);
    free(rep);
    return st;
}

sl_status sl_stats_bootstrap_rel_change_ci(const double *base, size_t nb, const double *aug,
                                           size_t na, size_t reps, double level, uint64_t seed,
                                           double *lo, double *hi) {
    static const char fn[] = "sl_stats_bootstrap_rel_change_ci";
    SL_TRY(check_vec(fn, "base", base, nb, 1));
    SL_TRY(check_vec(fn, "aug", aug, na, 1));
    SL_TRY(check_boot(fn, reps, level));
    double *rep = malloc(reps * sizeof *rep);
    if (!rep) return sl_set_error(SL_ERR_NOMEM, "%s: %zu replicates", fn, reps);
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    for (size_t b = 0; b < reps; b++) {
        double sb = 0.0, sa = 0.0;
        for (size_t i = 0; i < nb; i++) sb += base[sl_rng_below(&r, nb)];
        for (size_t i = 0; i < na; i++) sa += aug[sl_rng_below(&r, na)];
        double mb = sb / (double)nb, ma = sa / (double)na;
        if (mb == 0.0) {
            free(rep);
            return sl_set_error(SL_ERR_RANGE, "%s: baseline mean is 0 in replicate %zu", fn, b);
        }
        rep[b] = (ma - mb) / fabs(mb);
    }
    qsort(rep, reps, sizeof *rep, cmp_double);
    *lo = quantile_sorted(rep, reps, 0.5 * (1.0 - level));
    *hi = quantile_sorted(rep, reps, 0.5 * (1.0 + level));
    free(rep);
    return SL_OK;
}

/* --- A/B verdict -------------------------------------------------------- */

static const char *const verdict_names[] = {"value", "no_harm", "minor_degradation",
                                            "poisoning", "inconclusive"};
_Static_assert(sizeof verdict_names / sizeof verdict_names[0] == SL_AB_VERDICT_COUNT,
               "verdict name table");
static const char *const verdict_actions[] = {
    "synthetic adds value: this is the goal state",
    "safe but no uplift: increase synth_weight or horizon",
    "tighten gating: higher trust floor, narrower std-ratio band",
    "reduce horizon, increase trust threshold",
    "run more seed pairs (ab --until-decided) before acting",
};
_Static_assert(sizeof verdict_actions / sizeof verdict_actions[0] == SL_AB_VERDICT_COUNT,
               "verdict action table");
static const char *const direction_names[] = {"higher_is_better", "lower_is_better"};
_Static_assert(sizeof direction_names / sizeof direction_names[0] == SL_DIRECTION_COUNT,
               "direction name table");

const char *sl_ab_verdict_name(sl_ab_verdict v) {
    return (unsigned)v < SL_AB_VERDICT_COUNT ? verdict_names[v] : "unknown";
}
const char *sl_ab_verdict_action(sl_ab_verdict v) {
    return (unsigned)v < SL_AB_VERDICT_COUNT ? verdict_actions[v] : "unknown";
}
const char *sl_direction_name(sl_direction d) {
    return (unsigned)d < SL_DIRECTION_COUNT ? direction_names[d] : "unknown";
}

sl_ab_thresholds sl_ab_thresholds_default(void) {
    sl_ab_thresholds t = {0.02, 0.05, 0.05};
    return t;
}

sl_status sl_stats_rel_change(double baseline, double augmented, double *out) {
    if (!isfinite(baseline) || !isfinite(augmented))
        return sl_set_error(SL_ERR_NAN, "sl_stats_rel_change: non-finite input (%g, %g)",
                            baseline, augmented);
    if (baseline == 0.0)
        return sl_set_error(SL_ERR_RANGE, "sl_stats_rel_change: baseline is 0");
    *out = (augmented - baseline) / fabs(baseline);
    return SL_OK;
}

sl_status sl_stats_rel_improvement(double baseline, double augmented, sl_direction dir,
                                   double *out) {
    if ((unsigned)dir >= SL_DIRECTION_COUNT)
        return sl_set_error(SL_ERR_ARG, "sl_stats_rel_improvement: direction %d", (int)dir);
    double rc;
    SL_TRY(sl_stats_rel_change(baseline, augmented, &rc));
    *out = dir == SL_HIGHER_IS_BETTER ? rc : -rc;
    return SL_OK;
}

sl_status sl_stats_ab_verdict(double baseline_mean, double augmented_mean, double p_value,
                              sl_direction dir, const sl_ab_thresholds *th, sl_ab_result *out) {
    sl_ab_thresholds d = sl_ab_thresholds_default();
    if (!th) th = &d;
    if (!(th->no_harm >= 0.0 && th->poison >= th->no_harm && isfinite(th->poison) &&
          th->alpha > 0.0 && th->alpha < 1.0))
        return sl_set_error(SL_ERR_ARG,
                            "sl_stats_ab_verdict: thresholds no_harm=%g poison=%g alpha=%g",
                            th->no_harm, th->poison, th->alpha);
    if (isnan(p_value) || p_value < 0.0 || p_value > 1.0)
        return sl_set_error(SL_ERR_ARG, "sl_stats_ab_verdict: p-value %g is outside [0,1]",
                            p_value);
    sl_ab_result r;
    SL_TRY(sl_stats_rel_change(baseline_mean, augmented_mean, &r.rel_change));
    SL_TRY(sl_stats_rel_improvement(baseline_mean, augmented_mean, dir, &r.improvement));
    r.p_value = p_value;
    r.significant = p_value < th->alpha;
    if (r.improvement < -th->poison) {
        r.verdict = SL_AB_POISONING;
        r.reason = "worse by more than the poisoning threshold";
    } else if (r.improvement < -th->no_harm) {
        r.verdict = SL_AB_MINOR_DEGRADATION;
        r.reason = "worse by more than the do-no-harm band, up to the poisoning threshold";
    } else if (r.improvement > 0.0 && r.significant) {
        r.verdict = SL_AB_VALUE;
        r.reason = "better and significant (p < alpha)";
    } else if (r.improvement > th->no_harm) {
        r.verdict = SL_AB_NO_HARM;
        r.reason = "better beyond the band but not significant";
    } else {
        r.verdict = SL_AB_NO_HARM;
        r.reason = "within the do-no-harm band";
    }
    *out = r;
    return SL_OK;
}

sl_status sl_stats_ab_from_samples(const double *base, size_t nb, const double *aug, size_t na,
                                   sl_direction dir, const sl_ab_thresholds *th,
                                   sl_welch *welch_out, sl_ab_result *out) {
    sl_welch w;
    SL_TRY(sl_stats_welch(aug, na, base, nb, 0.95, &w));
    SL_TRY(sl_stats_ab_verdict(w.mean_b, w.mean_a, w.p, dir, th, out));
    if (welch_out) *welch_out = w;
    return SL_OK;
}

/* --- A/B decision with uncertainty ---------------------------------------------------------- */

double sl_stats_norm_ppf(double p) {
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    /* Acklam's rational approximation (relative error 1.2e-9), then one Halley step on
     * erfc, which brings it to full double precision */
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
        q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p > 1.0 - 0.02425) {
        q = sqrt(-2.0 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    /* the step's residual from the nearer tail: 1 - p is exact for p > 0.5 (Sterbenz) */
    double e = p <= 0.5 ? 0.5 * erfc(-x / sqrt(2.0)) - p : (1.0 - p) - 0.5 * erfc(x / sqrt(2.0));
    double u = e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

/* Noncentral t CDF P(T <= t; df, delta) by Lenth's algorithm AS 243 (Guenther's twin series,
 * as R's pnt): error bound 1e-12, at most 1000 terms. For delta^2 > 1400 (where exp(-delta^2/2)
 * underflows) a normal approximation is used, as R does; the A/B uses it for power, where such
 * a delta means power 1 to double precision. */
static double nct_cdf(double t, double df, double delta) {
    if (!(df > 0) || isnan(t) || isnan(delta)) return NAN;
    if (delta * delta > 1400.0) {
        double s = 1.0 / (4.0 * df);
        return sl_stats_norm_cdf((t * (1.0 - s) - delta) / sqrt(1.0 + t * t * 2.0 * s));
    }
    int neg = t < 0;
    double tt = neg ? -t : t, del = neg ? -delta : delta;
    double x = tt * tt / (tt * tt + df), tnc = 0.0;
    if (x > 0) {
        double lambda = del * del;
        double p = 0.5 * exp(-0.5 * lambda);
        double q = sqrt(2.0 / M_PI) * p * del;
        double s = 0.5 - p;
        if (s < 1e-7) s = -0.5 * expm1(-0.5 * lambda);
        double a = 0.5, b = 0.5 * df;
        double rxb = pow(1.0 - x, b);
        double albeta = 0.5 * log(M_PI) + lgamma(b) - lgamma(0.5 + b);
        double xodd = sl_stats_betainc(a, b, x);
        double godd = 2.0 * rxb * exp(a * log(x) - albeta);
        double bx = b * x;
        double xeven = bx < DBL_EPSILON ? bx : 1.0 - rxb;
        double geven = bx * rxb;
        tnc = p * xodd + q * xeven;
        for (int en = 1; en <= 1000; en++) {
            a += 1.0;
            xodd -= godd;
            xeven -= geven;
            godd *= x * (a + b - 1.0) / a;
            geven *= x * (a + b - 0.5) / (a + 0.5);
            p *= lambda / (2.0 * en);
            q *= lambda / (2.0 * en + 1.0);
            s -= p;
            tnc += p * xodd + q * xeven;
            if (fabs(2.0 * s * (xodd - godd)) <= 1e-12) break;
        }
    }
    tnc += sl_stats_norm_cdf(-del);
    if (neg) tnc = 1.0 - tnc;
    if (tnc > 1.0) tnc = 1.0;
    if (tnc < 0.0) tnc = 0.0;
    return tnc;
}

double sl_stats_power_paired(double imp, double sigma, size_t n, double alpha) {
    if (n < 2 || !(sigma > 0) || !(alpha > 0 && alpha < 1) || !isfinite(imp)) return NAN;
    double df = (double)n - 1.0;
    double ncp = fabs(imp) * sqrt((double)n) / sigma;
    double tc = sl_stats_t_ppf(1.0 - alpha / 2.0, df);
    return 1.0 - nct_cdf(tc, df, ncp) + nct_cdf(-tc, df, ncp);
}

double sl_stats_power_tost(double imp, double sigma, size_t n, double delta, double alpha) {
    if (n < 2 || !(sigma > 0) || !(alpha > 0 && alpha < 1) || !isfinite(imp) || !(delta > 0))
        return NAN;
    double df = (double)n - 1.0, rn = sqrt((double)n);
    double tc = sl_stats_t_ppf(1.0 - alpha, df);
    double pw = sl_stats_t_cdf((delta - imp) * rn / sigma - tc, df) +
                sl_stats_t_cdf((delta + imp) * rn / sigma - tc, df) - 1.0;
    return pw > 0.0 ? pw : 0.0;
}

/* smallest n in [2, 100000] with power >= 0.8 (power grows with n); -1 if none */
static long seeds_for_power(double imp, double sigma, double delta, double alpha, int tost) {
    if (!(sigma > 0) || !isfinite(sigma)) return -1;
    size_t lo = 2, hi = 2;
    for (;;) {
        double pw = tost ? sl_stats_power_tost(imp, sigma, hi, delta, alpha)
                         : sl_stats_power_paired(imp, sigma, hi, alpha);
        if (pw >= 0.8) break;
        if (hi >= 100000) return -1;
        lo = hi + 1;
        hi = hi * 2 > 100000 ? 100000 : hi * 2;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double pw = tost ? sl_stats_power_tost(imp, sigma, mid, delta, alpha)
                         : sl_stats_power_paired(imp, sigma, mid, alpha);
        if (pw >= 0.8) hi = mid;
        else lo = mid + 1;
    }
    return (long)hi;
}

sl_status sl_stats_ab_decide(const double *base, const double *aug, size_t n, sl_direction dir,
                             const sl_ab_thresholds *th, double alpha_look, sl_ab_decision *out) {
    sl_ab_thresholds dflt = sl_ab_thresholds_default();
    if (!th) th = &dflt;
    if (!(th->no_harm > 0.0 && th->poison >= th->no_harm && isfinite(th->poison) &&
          th->alpha > 0.0 && th->alpha < 1.0))
        return sl_set_error(SL_ERR_ARG, "sl_stats_ab_decide: thresholds no_harm=%g poison=%g alpha=%g",
                            th->no_harm, th->poison, th->alpha);
    if ((unsigned)dir >= SL_DIRECTION_COUNT)
        return sl_set_error(SL_ERR_ARG, "sl_stats_ab_decide: direction %d", (int)dir);
    if (n < 2) return sl_set_error(SL_ERR_ARG, "sl_stats_ab_decide: need >= 2 seed pairs, got %zu", n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(base[i]) || !isfinite(aug[i]))
            return sl_set_error(SL_ERR_NAN, "sl_stats_ab_decide: non-finite value at pair %zu", i);
    double alpha = alpha_look > 0.0 ? alpha_look : th->alpha;
    if (!(alpha < 1.0)) return sl_set_error(SL_ERR_ARG, "sl_stats_ab_decide: alpha %g", alpha);
    sl_ab_decision r;
    memset(&r, 0, sizeof r);
    r.n = n;
    r.alpha = alpha;
    r.mean_base = mean_unchecked(base, n);
    r.mean_aug = mean_unchecked(aug, n);
    if (r.mean_base == 0.0)
        return sl_set_error(SL_ERR_RANGE, "sl_stats_ab_decide: baseline mean is 0 (relative change undefined)");
    double sgn = dir == SL_HIGHER_IS_BETTER ? 1.0 : -1.0;
    double R = r.mean_aug / r.mean_base;
    /* (aug - base) / |base|: R - 1 for a positive baseline; its sign flipped for a negative
     * one (e.g. a return), so that "higher is better" stays higher with a negative baseline */
    r.rel_change = r.mean_base < 0.0 ? 1.0 - R : R - 1.0;
    r.improvement = sgn * r.rel_change;
    r.df = (double)n - 1.0;
    /* paired differences and the ratio's linearised residuals, two-pass */
    double md = 0, su = 0, sd2 = 0, mu = 0;
    for (size_t i = 0; i < n; i++) {
        md += aug[i] - base[i];
        mu += aug[i] - R * base[i];
    }
    md /= (double)n;
    mu /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = aug[i] - base[i] - md, u = aug[i] - R * base[i] - mu;
        sd2 += e * e;
        su += u * u;
    }
    double sdd = sqrt(sd2 / r.df), sdu = sqrt(su / r.df), rn = sqrt((double)n);
    r.diff = md;
    r.se = sdu / (rn * fabs(r.mean_base));
    double tq = sl_stats_t_ppf(0.975, r.df);
    r.ci_lo = r.improvement - tq * r.se;
    r.ci_hi = r.improvement + tq * r.se;
    if (sdd > 0.0) {
        r.t = md / (sdd / rn);
        r.p_two_sided = 2.0 * sl_stats_t_sf(fabs(r.t), r.df);
        if (r.p_two_sided > 1.0) r.p_two_sided = 1.0;
        r.p_harm = sl_stats_t_cdf(sgn * r.t, r.df);
    } else {
        r.degenerate = sdu == 0.0;
        r.t = md == 0.0 ? 0.0 : (md > 0 ? (double)INFINITY : -(double)INFINITY);
        r.p_two_sided = md == 0.0 ? 1.0 : 0.0;
        r.p_harm = sgn * md < 0.0 ? 0.0 : 1.0;
    }
    double delta = th->no_harm;
    if (r.se > 0.0) {
        double p1 = sl_stats_t_sf((r.improvement + delta) / r.se, r.df);
        double p2 = sl_stats_t_cdf((r.improvement - delta) / r.se, r.df);
        r.p_equiv = p1 > p2 ? p1 : p2;
    } else {
        r.p_equiv = fabs(r.improvement) < delta ? 0.0 : 1.0;
    }
    double sigma = r.se * rn; /* per-pair sd of the improvement */
    int harm = r.p_harm < alpha;
    if (harm && r.improvement < -th->poison) {
        r.verdict = SL_AB_POISONING;
        r.reason = "significantly worse (one-sided paired t-test), by more than the poisoning threshold";
    } else if (harm && r.improvement < -delta) {
        r.verdict = SL_AB_MINOR_DEGRADATION;
        r.reason = "significantly worse, by more than the do-no-harm band";
    } else if (r.p_two_sided < alpha && r.improvement > 0.0) {
        r.verdict = SL_AB_VALUE;
        r.reason = "significantly better (two-sided paired t-test)";
    } else if (r.p_equiv < alpha) {
        r.verdict = SL_AB_NO_HARM;
        r.reason = "equivalent within the do-no-harm band (two one-sided tests)";
    } else {
        r.verdict = SL_AB_INCONCLUSIVE;
        r.reason = harm ? "significantly worse but possibly inside the do-no-harm band"
                        : "neither a significant difference nor equivalence";
    }
    int tost = fabs(r.improvement) < delta;
    if (sigma > 0.0) {
        r.power = tost ? sl_stats_power_tost(r.improvement, sigma, n, delta, alpha)
                       : sl_stats_power_paired(r.improvement, sigma, n, alpha);
    } else {
        r.power = r.verdict == SL_AB_INCONCLUSIVE ? 0.0 : 1.0;
    }
    if (r.verdict == SL_AB_INCONCLUSIVE)
        r.seeds_needed = seeds_for_power(r.improvement, sigma, delta, alpha, tost);
    *out = r;
    return SL_OK;
}

double sl_stats_seq_alpha(size_t n_prev, size_t n_k, size_t n_max, double alpha) {
    if (n_max == 0 || n_k > n_max || n_prev >= n_k || !(alpha > 0 && alpha < 1)) return 0.0;
    double e1 = exp(1.0) - 1.0;
    double a1 = alpha * log1p(e1 * (double)n_k / (double)n_max);
    double a0 = alpha * log1p(e1 * (double)n_prev / (double)n_max);
    return a1 - a0;
}
