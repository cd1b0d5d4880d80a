/* SPDX-License-Identifier: Apache-2.0 */
/* novelty.c - how far a synthetic branch lies from the real data, in units of how far real
 * points lie from each other (seed 002's novelty_score input of the econ model).
 *
 * Invariant: brute-force nearest neighbours in float64 accumulation; each branch's value
 * depends only on its own rows, so threads over branches give the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_weight.h"

static double nn_dist(const float *x, const float *real, size_t n_real, size_t dim, size_t skip) {
    double best = INFINITY;
    for (size_t j = 0; j < n_real; j++) {
        if (j == skip) continue;
        const float *y = real + j * dim;
        double d2 = 0;
        for (size_t k = 0; k < dim; k++) {
            double e = (double)x[k] - (double)y[k];
            d2 += e * e;
        }
        if (d2 < best) best = d2;
    }
    return sqrt(best);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

sl_status sl_weight_novelty(const float *branches, size_t n_branch, size_t rows,
                            const float *real, size_t n_real, size_t dim, double *novelty,
                            double *d_ref_out) {
    if (n_real < 2 || dim == 0 || (n_branch && rows == 0))
        return sl_set_error(SL_ERR_ARG, "novelty: need >= 2 real latents, dim >= 1 and rows >= 1");
    for (size_t i = 0; i < n_real * dim; i++)
        if (!isfinite(real[i])) return sl_set_error(SL_ERR_NAN, "novelty: real latent %zu is not finite", i / dim);
    double *loo = malloc(n_real * sizeof *loo);
    if (!loo) return sl_set_error(SL_ERR_NOMEM, "novelty: out of memory");
#pragma omp parallel for schedule(static)
    for (long j = 0; j < (long)n_real; j++) loo[j] = nn_dist(real + (size_t)j * dim, real, n_real, dim, (size_t)j);
    qsort(loo, n_real, sizeof *loo, cmp_d);
    double d_ref = n_real % 2 ? loo[n_real / 2] : 0.5 * (loo[n_real / 2 - 1] + loo[n_real / 2]);
    free(loo);
    if (!(d_ref > 0)) d_ref = 1e-12; /* duplicated real points: any distance is novel */
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (long b = 0; b < (long)n_branch; b++) {
        const float *br = branches + (size_t)b * rows * dim;
        double d = 0;
        int ok = 1;
        for (size_t r = 0; r < rows && ok; r++) {
            for (size_t k = 0; k < dim; k++) ok &= isfinite(br[r * dim + k]) != 0;
            if (ok) d += nn_dist(br + r * dim, real, n_real, dim, (size_t)-1);
        }
        if (!ok) {
            bad = 1;
            novelty[b] = NAN;
            continue;
        }
        d /= (double)rows;
        novelty[b] = d / (d + d_ref);
    }
    if (d_ref_out) *d_ref_out = d_ref;
    if (bad) return sl_set_error(SL_ERR_NAN, "novelty: a branch has non-finite states");
    return SL_OK;
}
