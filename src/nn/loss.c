/* SPDX-License-Identifier: Apache-2.0 */
/* loss.c - fast float32 losses: MSE, Gaussian NLL (log-variance head), BCE with logits,
 * InfoNCE. Each returns the loss and OVERWRITES the gradient wrt its inputs (NULL skips).
 * Invariant: sums run in index order in double, so the loss is deterministic and accurate.
 */
#include <math.h>

#include <cblas.h>

#include "nn/nn_internal.h"

float sl_nn_mse_loss(float *dpred, const float *pred, const float *target, const float *weight,
                     int B, int D) {
    double s = 0.0;
    float inv = 1.0f / ((float)B * (float)D);
    for (int b = 0; b < B; b++) {
        float w = weight ? weight[b] : 1.0f;
        double sb = 0.0;
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)b * D + d;
            float e = pred[i] - target[i];
            sb += (double)(e * e);
            if (dpred) dpred[i] = 2.0f * w * e * inv;
        }
        s += (double)w * sb;
    }
    return (float)(s / ((double)B * (double)D));
}

float sl_nn_gaussian_nll_loss(float *dmean, float *dlogvar, const float *mean,
                              const float *logvar, const float *target, size_t n, int full) {
    double s = 0.0;
    float inv = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float e = mean[i] - target[i], iv = expf(-logvar[i]);
        s += 0.5 * ((double)logvar[i] + (double)(e * e * iv));
        if (dmean) dmean[i] = e * iv * inv;
        if (dlogvar) dlogvar[i] = 0.5f * (1.0f - e * e * iv) * inv;
    }
    s /= (double)n;
    if (full) s += 0.91893853320467274178;
    return (float)s;
}

float sl_nn_bce_logits_loss(float *dlogits, const float *logits, const float *targets,
                            const float *weight, size_t n) {
    double s = 0.0;
    float inv = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float x = logits[i], y = targets[i], w = weight ? weight[i] : 1.0f;
        float l = (x > 0.0f ? x : 0.0f) - x * y + log1pf(expf(-fabsf(x)));
        s += (double)(w * l);
        if (dlogits) {
            /* sigmoid without overflow for either sign */
            float e = expf(-fabsf(x)), sg = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogits[i] = w * (sg - y) * inv;
        }
    }
    return (float)(s / (double)n);
}

size_t sl_nn_infonce_ws_floats(int B) { return (size_t)B * B; }

float sl_nn_infonce_loss(float *da, float *dp, const float *a, const float *p, int B, int D,
                         float temperature, float *ws) {
    float *L = ws, it = 1.0f / temperature;
    sl_nn_sgemm(0, 1, B, B, D, it, a, D, p, D, 0.0f, L, B);
    double s = 0.0;
    float invB = 1.0f / (float)B;
    for (int i = 0; i < B; i++) {
        float *row = L + (size_t)i * B, mx = row[0];
        for (int j = 1; j < B; j++) mx = row[j] > mx ? row[j] : mx;
        double z = 0.0, diag = (double)(row[i] - mx);
        for (int j = 0; j < B; j++) {
            row[j] = expf(row[j] - mx);
            z += (double)row[j];
        }
        /* loss_i = logsumexp_j(logit_ij) - logit_ii = log z - (logit_ii - mx) */
        s += log(z) - diag;
        float iz = (float)(1.0 / z);
        for (int j = 0; j < B; j++) row[j] = (row[j] * iz - (j == i ? 1.0f : 0.0f)) * invB;
    }
    if (da)
        sl_nn_sgemm(0, 0, B, D, B, it, L, B, p, D, 0.0f, da,
                    D);
    if (dp)
        sl_nn_sgemm(1, 0, B, D, B, it, L, B, a, D, 0.0f, dp,
                    D);
    return (float)(s / (double)B);
}
