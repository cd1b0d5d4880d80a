/* SPDX-License-Identifier: Apache-2.0 */
/* weight_internal.h - numeric helpers shared by the weight module's files (not public).
 *
 * Invariant: every helper is finite for every finite input (sigmoid/softplus are written in
 * their overflow-free forms).
 */
#ifndef SL_WEIGHT_INTERNAL_H
#define SL_WEIGHT_INTERNAL_H

#include <math.h>
#include <stddef.h>

static inline double sl_w_sigmoid(double z) {
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* log(1 + e^z) */
static inline double sl_w_softplus(double z) {
    return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static inline double sl_w_clip(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* One Adam step (beta1 0.9, beta2 0.999, eps 1e-8) over n parameters; t is 1-based. */
static inline void sl_w_adam(double *p, const double *g, double *m, double *v, size_t n,
                             double lr, int t) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
    }
}

#endif
