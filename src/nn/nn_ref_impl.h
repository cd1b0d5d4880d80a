/* SPDX-License-Identifier: Apache-2.0 */
/* nn_ref_impl.h - naive reference kernels, written once for a generic REAL type.
 *
 * Included by nn_ref.c twice: with REAL=float/SFX=f32 and REAL=double/SFX=f64. Plain loops
 * only, the obvious formula for every layer and loss, so that the float64 instance serves the
 * finite-difference gradient checks and the float32 instance checks the fast kernels.
 * Conventions match sl_nn.h exactly (forward overwrites, backward adds, losses overwrite).
 * No include guard on purpose.
 */
#define RCAT_(a, b) a##_##b
#define RCAT(a, b) RCAT_(a, b)
#define RFN(name) RCAT(sl_nn_ref_##name, SFX)
#define R(x) ((REAL)(x))

static REAL RCAT(rexp, SFX)(REAL x) { return (REAL)exp((double)x); }
static REAL RCAT(rlog, SFX)(REAL x) { return (REAL)log((double)x); }
static REAL RCAT(rtanh, SFX)(REAL x) { return (REAL)tanh((double)x); }
static REAL RCAT(rsqrt, SFX)(REAL x) { return (REAL)sqrt((double)x); }
static REAL RCAT(rlog1p, SFX)(REAL x) { return (REAL)log1p((double)x); }
static REAL RCAT(rsigm, SFX)(REAL x) { return R(1) / (R(1) + RCAT(rexp, SFX)(-x)); }
#define REXP RCAT(rexp, SFX)
#define RLOG RCAT(rlog, SFX)
#define RTANH RCAT(rtanh, SFX)
#define RSQRT RCAT(rsqrt, SFX)
#define RLOG1P RCAT(rlog1p, SFX)
#define RSIGM RCAT(rsigm, SFX)

/* --- linear --- */
void RFN(linear_forward)(REAL *out, const REAL *in, const REAL *w, const REAL *b, int B, int C,
                         int OC) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OC; o++) {
            REAL s = b ? b[o] : R(0);
            for (int c = 0; c < C; c++) s += in[(size_t)i * C + c] * w[(size_t)o * C + c];
            out[(size_t)i * OC + o] = s;
        }
}

void RFN(linear_backward)(REAL *din, REAL *dw, REAL *db, const REAL *dout, const REAL *in,
                          const REAL *w, int B, int C, int OC) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OC; o++) {
            REAL d = dout[(size_t)i * OC + o];
            if (db) db[o] += d;
            for (int c = 0; c < C; c++) {
                if (din) din[(size_t)i * C + c] += d * w[(size_t)o * C + c];
                if (dw) dw[(size_t)o * C + c] += d * in[(size_t)i * C + c];
            }
        }
}

/* --- activations --- */
void RFN(act_forward)(REAL *out, const REAL *in, size_t n, sl_nn_act act) {
    for (size_t i = 0; i < n; i++) {
        REAL x = in[i];
        switch (act) {
        case SL_NN_ACT_RELU: out[i] = x > R(0) ? x : R(0); break;
        case SL_NN_ACT_TANH: out[i] = RTANH(x); break;
        case SL_NN_ACT_SILU: out[i] = x * RSIGM(x); break;
        case SL_NN_ACT_SIGMOID: out[i] = RSIGM(x); break;
        default: out[i] = x; break;
        }
    }
}

void RFN(act_backward)(REAL *din, const REAL *dout, const REAL *in, const REAL *out, size_t n,
                       sl_nn_act act) {
    for (size_t i = 0; i < n; i++) {
        REAL d = dout[i], y = out[i];
        switch (act) {
        case SL_NN_ACT_RELU: din[i] += y > R(0) ? d : R(0); break;
        case SL_NN_ACT_TANH: din[i] += d * (R(1) - y * y); break;
        case SL_NN_ACT_SILU: {
            REAL s = RSIGM(in[i]);
            din[i] += d * s * (R(1) + in[i] * (R(1) - s));
            break;
        }
        case SL_NN_ACT_SIGMOID: din[i] += d * y * (R(1) - y); break;
        default: din[i] += d; break;
        }
    }
}

/* --- layer norm --- */
void RFN(layernorm_forward)(REAL *out, REAL *mean, REAL *rstd, const REAL *in, const REAL *w,
                            const REAL *b, int B, int C, REAL eps) {
    for (int i = 0; i < B; i++) {
        const REAL *x = in + (size_t)i * C;
        REAL m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (REAL)C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (REAL)C;
        REAL rs = R(1) / RSQRT(v + eps);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = (x[c] - m) * rs * w[c] + b[c];
        mean[i] = m;
        rstd[i] = rs;
    }
}

void RFN(layernorm_backward)(REAL *din, REAL *dw, REAL *db, const REAL *dout, const REAL *in,
                             const REAL *mean, const REAL *rstd, const REAL *w, int B, int C) {
    for (int i = 0; i < B; i++) {
        const REAL *x = in + (size_t)i * C, *dy = dout + (size_t)i * C;
        REAL m1 = 0, m2 = 0;
        for (int c = 0; c < C; c++) {
            REAL nrm = (x[c] - mean[i]) * rstd[i];
            REAL dn = dy[c] * w[c];
            m1 += dn;
            m2 += dn * nrm;
            if (db) db[c] += dy[c];
            if (dw) dw[c] += dy[c] * nrm;
        }
        m1 /= (REAL)C;
        m2 /= (REAL)C;
        if (din)
            for (int c = 0; c < C; c++) {
                REAL nrm = (x[c] - mean[i]) * rstd[i];
                din[(size_t)i * C + c] += rstd[i] * (dy[c] * w[c] - m1 - nrm * m2);
            }
    }
}

/* --- GRU --- */
void RFN(gru_cell_forward)(REAL *h_out, REAL *cache, const REAL *x, const REAL *h,
                           const REAL *w_ih, const REAL *w_hh, const REAL *b_ih,
                           const REAL *b_hh, int B, int In, int H, REAL *ws) {
    (void)ws;
    size_t BH = (size_t)B * H;
    REAL *cr = cache, *cz = cache + BH, *cn = cache + 2 * BH, *chn = cache + 3 * BH;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            REAL gi[3], gh[3];
            for (int g = 0; g < 3; g++) {
                size_t row = (size_t)g * H + j;
                REAL si = b_ih[row], sh = b_hh[row];
                for (int k = 0; k < In; k++) si += w_ih[row * In + k] * x[(size_t)b * In + k];
                for (int k = 0; k < H; k++) sh += w_hh[row * H + k] * h[(size_t)b * H + k];
                gi[g] = si;
                gh[g] = sh;
            }
            REAL r = RSIGM(gi[0] + gh[0]), z = RSIGM(gi[1] + gh[1]);
            REAL n = RTANH(gi[2] + r * gh[2]);
            size_t o = (size_t)b * H + j;
            cr[o] = r;
            cz[o] = z;
            cn[o] = n;
            chn[o] = gh[2];
            h_out[o] = (R(1) - z) * n + z * h[o];
        }
}

void RFN(gru_cell_backward)(REAL *dx, REAL *dh, REAL *dw_ih, REAL *dw_hh, REAL *db_ih,
                            REAL *db_hh, const REAL *dh_out, const REAL *cache, const REAL *x,
                            const REAL *h, const REAL *w_ih, const REAL *w_hh, int B, int In,
                            int H, REAL *ws) {
    size_t BH = (size_t)B * H;
    const REAL *cr = cache, *cz = cache + BH, *cn = cache + 2 * BH, *chn = cache + 3 * BH;
    REAL *gi = ws, *gh = ws + 3 * BH; /* [B,3H] each */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            size_t o = (size_t)b * H + j;
            REAL d = dh_out[o], r = cr[o], z = cz[o], n = cn[o];
            REAL dn = d * (R(1) - z), dz = d * (h[o] - n);
            if (dh) dh[o] += d * z;
            REAL dan = dn * (R(1) - n * n);
            REAL dar = dan * chn[o] * r * (R(1) - r);
            REAL daz = dz * z * (R(1) - z);
            size_t g0 = (size_t)b * 3 * H;
            gi[g0 + j] = dar;
            gi[g0 + H + j] = daz;
            gi[g0 + 2 * H + j] = dan;
            gh[g0 + j] = dar;
            gh[g0 + H + j] = daz;
            gh[g0 + 2 * H + j] = dan * r;
        }
    for (int b = 0; b < B; b++)
        for (int g = 0; g < 3 * H; g++) {
            REAL a = gi[(size_t)b * 3 * H + g], c = gh[(size_t)b * 3 * H + g];
            if (db_ih) db_ih[g] += a;
            if (db_hh) db_hh[g] += c;
            for (int k = 0; k < In; k++) {
                if (dx) dx[(size_t)b * In + k] += a * w_ih[(size_t)g * In + k];
                if (dw_ih) dw_ih[(size_t)g * In + k] += a * x[(size_t)b * In + k];
            }
            for (int k = 0; k < H; k++) {
                if (dh) dh[(size_t)b * H + k] += c * w_hh[(size_t)g * H + k];
                if (dw_hh) dw_hh[(size_t)g * H + k] += c * h[(size_t)b * H + k];
            }
        }
}

void RFN(gru_forward)(REAL *hs, REAL *cache, const REAL *xs, const REAL *h0, const REAL *w_ih,
                      const REAL *w_hh, const REAL *b_ih, const REAL *b_hh, int T, int B, int In,
                      int H, REAL *ws) {
    size_t BH = (size_t)B * H;
    for (int t = 0; t < T; t++)
        RFN(gru_cell_forward)(hs + t * BH, cache + t * 4 * BH, xs + (size_t)t * B * In,
                              t ? hs + (t - 1) * BH : h0, w_ih, w_hh, b_ih, b_hh, B, In, H, ws);
}

void RFN(gru_backward)(REAL *dxs, REAL *dh0, REAL *dw_ih, REAL *dw_hh, REAL *db_ih, REAL *db_hh,
                       const REAL *dhs, const REAL *hs, const REAL *cache, const REAL *xs,
                       const REAL *h0, const REAL *w_ih, const REAL *w_hh, int T, int B, int In,
                       int H, REAL *ws) {
    size_t BH = (size_t)B * H;
    REAL *acc = ws + 6 * BH, *carry = ws + 7 * BH;
    for (size_t i = 0; i < BH; i++) carry[i] = 0;
    for (int t = T - 1; t >= 0; t--) {
        for (size_t i = 0; i < BH; i++) {
            acc[i] = dhs[t * BH + i] + carry[i];
            carry[i] = 0;
        }
        RFN(gru_cell_backward)(dxs ? dxs + (size_t)t * B * In : NULL, carry, dw_ih, dw_hh, db_ih,
                               db_hh, acc, cache + t * 4 * BH, xs + (size_t)t * B * In,
                               t ? hs + (t - 1) * BH : h0, w_ih, w_hh, B, In, H, ws);
    }
    if (dh0)
        for (size_t i = 0; i < BH; i++) dh0[i] += carry[i];
}

/* --- tanh-Gaussian head --- */
static REAL RCAT(rsoftplus, SFX)(REAL x) {
    return x > R(0) ? x + RLOG1P(REXP(-x)) : RLOG1P(REXP(x));
}

void RFN(tanh_gaussian_forward)(REAL *act, REAL *logp, const REAL *in, const REAL *eps, int B,
                                int A) {
    const REAL half_log_2pi = R(0.91893853320467274178);
    const REAL log2 = R(0.69314718055994530942);
    for (int b = 0; b < B; b++) {
        REAL lp = 0;
        for (int a = 0; a < A; a++) {
            REAL mu = in[(size_t)b * 2 * A + a], ls = in[(size_t)b * 2 * A + A + a];
            if (ls < R(SL_NN_LOG_STD_MIN)) ls = R(SL_NN_LOG_STD_MIN);
            if (ls > R(SL_NN_LOG_STD_MAX)) ls = R(SL_NN_LOG_STD_MAX);
            REAL e = eps[(size_t)b * A + a];
            REAL u = mu + REXP(ls) * e;
            act[(size_t)b * A + a] = RTANH(u);
            lp += -R(0.5) * e * e - ls - half_log_2pi -
                  R(2) * (log2 - u - RCAT(rsoftplus, SFX)(-R(2) * u));
        }
        logp[b] = lp;
    }
}

void RFN(tanh_gaussian_backward)(REAL *din, const REAL *dact, const REAL *dlogp,
                                 const REAL *act, const REAL *in, const REAL *eps, int B,
                                 int A) {
    for (int b = 0; b < B; b++) {
        REAL dl = dlogp ? dlogp[b] : R(0);
        for (int a = 0; a < A; a++) {
            REAL ls = in[(size_t)b * 2 * A + A + a];
            int inside = ls >= R(SL_NN_LOG_STD_MIN) && ls <= R(SL_NN_LOG_STD_MAX);
            if (ls < R(SL_NN_LOG_STD_MIN)) ls = R(SL_NN_LOG_STD_MIN);
            if (ls > R(SL_NN_LOG_STD_MAX)) ls = R(SL_NN_LOG_STD_MAX);
            REAL y = act[(size_t)b * A + a], e = eps[(size_t)b * A + a];
            REAL da = dact ? dact[(size_t)b * A + a] : R(0);
            REAL du = da * (R(1) - y * y) + dl * R(2) * y;
            din[(size_t)b * 2 * A + a] += du;
            if (inside) din[(size_t)b * 2 * A + A + a] += du * REXP(ls) * e - dl;
        }
    }
}

/* --- losses --- */
REAL RFN(mse_loss)(REAL *dpred, const REAL *pred, const REAL *target, const REAL *weight, int B,
                   int D) {
    REAL s = 0, inv = R(1) / ((REAL)B * (REAL)D);
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)b * D + d;
            REAL w = weight ? weight[b] : R(1), e = pred[i] - target[i];
            s += w * e * e;
            if (dpred) dpred[i] = R(2) * w * e * inv;
        }
    return s * inv;
}

REAL RFN(gaussian_nll_loss)(REAL *dmean, REAL *dlogvar, const REAL *mean, const REAL *logvar,
                            const REAL *target, size_t n, int full) {
    REAL s = 0, inv = R(1) / (REAL)n;
    for (size_t i = 0; i < n; i++) {
        REAL e = mean[i] - target[i], iv = REXP(-logvar[i]);
        s += R(0.5) * (logvar[i] + e * e * iv);
        if (dmean) dmean[i] = e * iv * inv;
        if (dlogvar) dlogvar[i] = R(0.5) * (R(1) - e * e * iv) * inv;
    }
    if (full) s += R(0.91893853320467274178) * (REAL)n;
    return s * inv;
}

REAL RFN(bce_logits_loss)(REAL *dlogits, const REAL *logits, const REAL *targets,
                          const REAL *weight, size_t n) {
    REAL s = 0, inv = R(1) / (REAL)n;
    for (size_t i = 0; i < n; i++) {
        REAL x = logits[i], y = targets[i], w = weight ? weight[i] : R(1);
        REAL ax = x < R(0) ? -x : x;
        s += w * ((x > R(0) ? x : R(0)) - x * y + RLOG1P(REXP(-ax)));
        if (dlogits) dlogits[i] = w * (RSIGM(x) - y) * inv;
    }
    return s * inv;
}

REAL RFN(infonce_loss)(REAL *da, REAL *dp, const REAL *a, const REAL *p, int B, int D,
                       REAL temperature, REAL *ws) {
    REAL *L = ws; /* [B,B] logits, then dlogits */
    REAL s = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            REAL v = 0;
            for (int d = 0; d < D; d++) v += a[(size_t)i * D + d] * p[(size_t)j * D + d];
            L[(size_t)i * B + j] = v / temperature;
        }
    for (int i = 0; i < B; i++) {
        REAL *row = L + (size_t)i * B, mx = row[0], z = 0;
        for (int j = 1; j < B; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < B; j++) z += REXP(row[j] - mx);
        s += mx + RLOG(z) - row[i];
        for (int j = 0; j < B; j++) row[j] = (REXP(row[j] - mx) / z - (j == i ? R(1) : R(0))) / (REAL)B;
    }
    if (da)
        for (int i = 0; i < B; i++)
            for (int d = 0; d < D; d++) {
                REAL v = 0;
                for (int j = 0; j < B; j++) v += L[(size_t)i * B + j] * p[(size_t)j * D + d];
                da[(size_t)i * D + d] = v / temperature;
            }
    if (dp)
        for (int j = 0; j < B; j++)
            for (int d = 0; d < D; d++) {
                REAL v = 0;
                for (int i = 0; i < B; i++) v += L[(size_t)i * B + j] * a[(size_t)i * D + d];
                dp[(size_t)j * D + d] = v / temperature;
            }
    return s / (REAL)B;
}

/* --- Adam --- */
void RFN(adam_update)(REAL *params, REAL *m, REAL *v, const REAL *grads, size_t n,
                      const sl_nn_adam *cfg, uint64_t t) {
    REAL lr = (REAL)cfg->lr, b1 = (REAL)cfg->beta1, b2 = (REAL)cfg->beta2;
    REAL eps = (REAL)cfg->eps, wd = (REAL)cfg->weight_decay;
    REAL bc1 = (REAL)(1.0 - pow((double)cfg->beta1, (double)t));
    REAL bc2s = (REAL)sqrt(1.0 - pow((double)cfg->beta2, (double)t));
    for (size_t i = 0; i < n; i++) {
        REAL g = grads[i];
        if (cfg->decoupled) params[i] *= R(1) - lr * wd;
        else if (wd != R(0)) g += wd * params[i];
        m[i] = b1 * m[i] + (R(1) - b1) * g;
        v[i] = b2 * v[i] + (R(1) - b2) * g * g;
        REAL denom = RSQRT(v[i]) / bc2s + eps;
        params[i] -= (lr / bc1) * m[i] / denom;
    }
}

#undef RCAT_
#undef RCAT
#undef RFN
#undef R
#undef REXP
#undef RLOG
#undef RTANH
#undef RSQRT
#undef RLOG1P
#undef RSIGM
