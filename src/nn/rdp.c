/* SPDX-License-Identifier: Apache-2.0 */
/* rdp.c - Renyi-DP accountant for the Poisson-subsampled Gaussian mechanism.
 *
 * log A_alpha as in Mironov, Talwar, Zhang 2019 ("Renyi Differential Privacy of the Sampled
 * Gaussian Mechanism", section 3.3), the same series TensorFlow Privacy and Opacus use, all in
 * log space so that huge A_alpha (large alpha, small sigma) stay finite. Invariant: every
 * function returns a value or an error, never NaN.
 */
#include <float.h>
#include <math.h>

#include "synthloop/sl_nn_dp.h"

/* log(exp(a) + exp(b)) */
static double log_add(double a, double b) {
    if (a == -HUGE_VAL) return b;
    if (b == -HUGE_VAL) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

/* log(exp(a) - exp(b)), a >= b (-inf if equal) */
static double log_sub(double a, double b) {
    if (b == -HUGE_VAL) return a;
    if (a <= b) return -HUGE_VAL;
    return a + log1p(-exp(b - a));
}

/* log(erfc(x)) for every x: erfc directly while it does not underflow, else the asymptotic
 * series erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)). */
static double log_erfc(double x) {
    if (x < 25.0) return log(erfc(x));
    double r = 1.0 / (x * x);
    return -x * x - log(x) - 0.5 * log(M_PI) +
           log1p(r * (-0.5 + r * (0.75 + r * (-1.875 + r * 6.5625))));
}

/* integer alpha >= 2: A = sum_k C(alpha,k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2)) */
static double log_a_int(double q, double sigma, int alpha) {
    double la = -HUGE_VAL, lq = log(q), l1q = log1p(-q);
    for (int k = 0; k <= alpha; k++) {
        double lc = lgamma(alpha + 1.0) - lgamma(k + 1.0) - lgamma(alpha - k + 1.0);
        double s = lc + k * lq + (alpha - k) * l1q + ((double)k * k - k) / (2.0 * sigma * sigma);
        la = log_add(la, s);
    }
    return la;
}

/* fractional alpha: the two-sided series split at z0 (MTZ19, section 3.3). The binomial
 * coefficients C(alpha, i) are carried as log|.| and a sign, by the recurrence
 * C(alpha, i) = C(alpha, i-1) (alpha - i + 1) / i. */
static double log_a_frac(double q, double sigma, double alpha) {
    double la0 = -HUGE_VAL, la1 = -HUGE_VAL;
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
    double lq = log(q), l1q = log1p(-q), s2 = 2.0 * sigma * sigma;
    double lcoef = 0.0;
    int sign = 1;
    for (int i = 0; i < 100000; i++) {
        if (i > 0) {
            double f = (alpha - i + 1.0) / i;
            if (f < 0) sign = -sign;
            lcoef += log(fabs(f));
        }
        double j = alpha - i;
        double lt0 = lcoef + i * lq + j * l1q;
        double lt1 = lcoef + j * lq + i * l1q;
        double le0 = log(0.5) + log_erfc((i - z0) / (M_SQRT2 * sigma));
        double le1 = log(0.5) + log_erfc((z0 - j) / (M_SQRT2 * sigma));
        double ls0 = lt0 + ((double)i * i - i) / s2 + le0;
        double ls1 = lt1 + (j * j - j) / s2 + le1;
        if (sign > 0) {
            la0 = log_add(la0, ls0);
            la1 = log_add(la1, ls1);
        } else {
            la0 = log_sub(la0, ls0);
            la1 = log_sub(la1, ls1);
        }
        if ((ls0 > ls1 ? ls0 : ls1) < -30.0 && i > alpha) break;
    }
    return log_add(la0, la1);
}

sl_status sl_dp_rdp_step(double q, double sigma, double alpha, double *out) {
    if (!(q >= 0.0 && q <= 1.0) || !(sigma >= 0.0) || !isfinite(sigma) || !(alpha > 1.0) ||
        !isfinite(alpha))
        return sl_set_error(SL_ERR_ARG, "rdp.c sl_dp_rdp_step: need q in [0,1], sigma >= 0, "
                            "alpha > 1 (got q %g, sigma %g, alpha %g)", q, sigma, alpha);
    if (q == 0.0) {
        *out = 0.0;
        return SL_OK;
    }
    if (sigma == 0.0) {
        *out = HUGE_VAL;
        return SL_OK;
    }
    if (q == 1.0) {
        *out = alpha / (2.0 * sigma * sigma);
        return SL_OK;
    }
    double la = alpha == floor(alpha) && alpha < 1e6 ? log_a_int(q, sigma, (int)alpha)
                                                     : log_a_frac(q, sigma, alpha);
    double r = la / (alpha - 1.0);
    *out = r > 0.0 ? r : 0.0; /* A >= 1 in exact arithmetic; rounding may dip below */
    if (isnan(*out)) *out = HUGE_VAL;
    return SL_OK;
}

#define N_ORDERS (99 + 52 + 5)
static double g_orders[N_ORDERS];
static int g_orders_ready;

const double *sl_dp_orders(size_t *n) {
    if (!g_orders_ready) { /* idempotent: racing threads write the same values */
        int k = 0;
        for (int x = 1; x < 100; x++) g_orders[k++] = 1.0 + x / 10.0;
        for (int a = 12; a < 64; a++) g_orders[k++] = a;
        for (int a = 64; a <= 1024; a *= 2) g_orders[k++] = a;
        g_orders_ready = 1;
    }
    *n = N_ORDERS;
    return g_orders;
}

sl_status sl_dp_epsilon_mix(double q, double sigma, uint64_t steps, double sigma_g,
                            double delta, double *eps, double *best_alpha) {
    if (!(delta > 0.0 && delta < 1.0))
        return sl_set_error(SL_ERR_ARG, "rdp.c sl_dp_epsilon: delta %g not in (0, 1)", delta);
    if (!(sigma_g >= 0.0) || !isfinite(sigma_g))
        return sl_set_error(SL_ERR_ARG, "rdp.c sl_dp_epsilon: release noise %g must be >= 0",
                            sigma_g);
    size_t n;
    const double *orders = sl_dp_orders(&n);
    double best = HUGE_VAL, ba = orders[0];
    int sgd = steps > 0 && q > 0.0;
    if (!sgd) SL_TRY(sl_dp_rdp_step(q, sigma, 2.0, &best)); /* validates the arguments */
    if (!sgd && sigma_g == 0.0) {
        *eps = 0.0;
        if (best_alpha) *best_alpha = ba;
        return SL_OK;
    }
    best = HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double a = orders[i], r = 0.0;
        if (sgd) {
            SL_TRY(sl_dp_rdp_step(q, sigma, a, &r));
            r *= (double)steps;
        }
        if (sigma_g > 0.0) r += a / (2.0 * sigma_g * sigma_g); /* one Gaussian release */
        double e = r + log((a - 1.0) / a) - (log(delta) + log(a)) / (a - 1.0);
        if (e < 0.0) e = 0.0;
        if (e < best) best = e, ba = a;
    }
    *eps = best;
    if (best_alpha) *best_alpha = ba;
    return SL_OK;
}

sl_status sl_dp_epsilon(double q, double sigma, uint64_t steps, double delta, double *eps,
                        double *best_alpha) {
    return sl_dp_epsilon_mix(q, sigma, steps, 0.0, delta, eps, best_alpha);
}

sl_status sl_dp_solve_sigma(double target_eps, double delta, double q, uint64_t steps,
                            double *sigma) {
    return sl_dp_solve_sigma_mix(target_eps, delta, q, steps, 0.0, sigma);
}

sl_status sl_dp_solve_sigma_mix(double target_eps, double delta, double q, uint64_t steps,
                                double sigma_g, double *sigma) {
    if (!(target_eps > 0.0))
        return sl_set_error(SL_ERR_ARG, "rdp.c sl_dp_solve_sigma: target eps %g must be > 0",
                            target_eps);
    if (!(q > 0.0 && q <= 1.0) || steps == 0)
        return sl_set_error(SL_ERR_ARG, "rdp.c sl_dp_solve_sigma: need q in (0, 1] and steps "
                            "> 0 (got q %g, steps %llu)", q, (unsigned long long)steps);
    if (isinf(target_eps)) {
        *sigma = 0.0;
        return SL_OK;
    }
    double lo = 0.0, hi = 1.0, e;
    for (;;) { /* bracket: eps(hi) <= target */
        SL_TRY(sl_dp_epsilon_mix(q, hi, steps, sigma_g, delta, &e, NULL));
        if (e <= target_eps) break;
        lo = hi;
        hi *= 2.0;
        if (hi > 1e4)
            return sl_set_error(SL_ERR_RANGE, "rdp.c sl_dp_solve_sigma: eps %g at delta %g "
                                "is out of reach even with sigma 1e4 (q %g, %llu steps)",
                                target_eps, delta, q, (unsigned long long)steps);
    }
    while (hi - lo > 1e-4 * hi) {
        double mid = 0.5 * (lo + hi);
        SL_TRY(sl_dp_epsilon_mix(q, mid, steps, sigma_g, delta, &e, NULL));
        if (e <= target_eps)
            hi = mid;
        else
            lo = mid;
    }
    *sigma = hi;
    return SL_OK;
}
