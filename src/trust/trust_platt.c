/* SPDX-License-Identifier: Apache-2.0 */
/* trust_platt.c - Platt scaling of trust_net's logits: p = sigmoid(a * logit + b) fitted on
 * calibration episodes that training never saw.
 *
 * Invariant: the fit never returns a non-finite (a, b); it falls back to (1, 0), the identity
 * on the logit.
 */
#include <math.h>
#include <stddef.h>

#include "trust/trust_internal.h"

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Fit p = sl_tr_sigmoid(a s + b) by Newton's method with backtracking on Platt's smoothed targets
 * t+ = (N+ + 1) / (N+ + 2), t- = 1 / (N- + 2). */
void sl_tr_platt_fit(const double *s, const int *y, size_t n, double *a_out, double *b_out) {
    size_t np = 0;
    for (size_t i = 0; i < n; i++) np += y[i] != 0;
    size_t nn = n - np;
    double tp = ((double)np + 1.0) / ((double)np + 2.0), tn = 1.0 / ((double)nn + 2.0);
    double a = 1.0, b = 0.0;
#define PLATT_LOSS(A, B, OUT)                                                                 \
    do {                                                                                      \
        double l_ = 0.0;                                                                      \
        for (size_t i_ = 0; i_ < n; i_++) {                                                   \
            double f_ = (A) * s[i_] + (B), t_ = y[i_] ? tp : tn;                              \
            l_ += t_ * softplus(-f_) + (1.0 - t_) * softplus(f_);                             \
        }                                                                                     \
        (OUT) = l_;                                                                           \
    } while (0)
    double loss;
    PLATT_LOSS(a, b, loss);
    for (int it = 0; it < 100; it++) {
        double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
        for (size_t i = 0; i < n; i++) {
            double p = sl_tr_sigmoid(a * s[i] + b), t = y[i] ? tp : tn, w = p * (1.0 - p);
            ga += (p - t) * s[i];
            gb += p - t;
            haa += w * s[i] * s[i];
            hab += w * s[i];
            hbb += w;
        }
        haa += 1e-12;
        hbb += 1e-12;
        double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        double da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det;
        double step = 1.0, nl = loss;
        for (int k = 0; k < 40; k++, step *= 0.5) {
            PLATT_LOSS(a + step * da, b + step * db, nl);
            if (nl <= loss) break;
        }
        if (!(nl <= loss)) break;
        a += step * da;
        b += step * db;
        double dl = loss - nl;
        loss = nl;
        if (fabs(step * da) < 1e-10 && fabs(step * db) < 1e-10) break;
        if (dl < 1e-13 * (1.0 + loss)) break;
    }
#undef PLATT_LOSS
    if (!isfinite(a) || !isfinite(b)) {
        a = 1.0;
        b = 0.0;
    }
    *a_out = a;
    *b_out = b;
}
