/* SPDX-License-Identifier: Apache-2.0 */
/* norms.c - the world model's normalisation statistics, fitted on the training episodes' rows:
 * per-dim latent and action mean/std, reward mean/std, the RMS one-step latent change in std
 * units (dz_std), and per econ column mean/std or "binary" (0/1 columns are not scaled).
 *
 * Invariant: every scale is finite and strictly positive (floors 1e-8, dz_std 1e-4), so
 * standardising never divides by zero.
 */
#include <math.h>
#include <stddef.h>

#include "world/world_internal.h"

static void col_stats(const float *x, size_t stride, const size_t *rows_of, size_t n_rows,
                      int col, double *mean, double *std) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n_rows; i++) s += (double)x[rows_of[i] * stride + (size_t)col];
    double m = s / (double)n_rows;
    for (size_t i = 0; i < n_rows; i++) {
        double v = (double)x[rows_of[i] * stride + (size_t)col] - m;
        ss += v * v;
    }
    *mean = m;
    *std = sqrt(ss / (double)n_rows);
}

static float pos_scale(double s, double floor_) { return (float)(s > floor_ ? s : 1.0); }

void sl_world_fit_norms(sl_world *w, const sl_world_data *d, const size_t *rows, size_t nr) {
    const int Z = w->Z, A = w->A;
    double m, s;
    for (int j = 0; j < Z; j++) {
        col_stats(d->z, (size_t)Z, rows, nr, j, &m, &s);
        w->z_mean[j] = (float)m;
        w->z_std[j] = pos_scale(s, 1e-8);
    }
    for (int j = 0; j < A; j++) {
        col_stats(d->actions, (size_t)A, rows, nr, j, &m, &s);
        w->a_mean[j] = (float)m;
        w->a_std[j] = pos_scale(s, 1e-8);
    }
    col_stats(d->rewards, 1, rows, nr, 0, &m, &s);
    w->r_mean = (float)m;
    w->r_std = pos_scale(s, 1e-8);
    for (int j = 0; j < Z; j++) {
        double ss = 0;
        for (size_t i = 0; i < nr; i++) {
            double v = ((double)d->z_next[rows[i] * Z + j] - (double)d->z[rows[i] * Z + j]) /
                       (double)w->z_std[j];
            ss += v * v;
        }
        double rms = sqrt(ss / (double)nr);
        w->dz_std[j] = (float)(rms > 1e-4 ? rms : 1e-4);
    }
    for (int q = 0; q < w->E; q++) {
        int bin = 1;
        for (size_t i = 0; i < nr && bin; i++) {
            float v = d->econ[q][rows[i]];
            if (v != 0.0f && v != 1.0f) bin = 0;
        }
        w->e_binary[q] = bin;
        col_stats(d->econ[q], 1, rows, nr, 0, &m, &s);
        w->e_mean[q] = bin ? 0.0f : (float)m;
        w->e_std[q] = bin ? 1.0f : pos_scale(s, 1e-8);
    }
}
