/* SPDX-License-Identifier: Apache-2.0 */
/* gate.c - trust_net's window features, the std ratio of a branch, and the gates
 * (trust floor + std-ratio band, seed 000's presets).
 *
 * Invariant: nothing here turns NaN/Inf into a number: features refuse non-finite windows,
 * std ratios of non-finite windows are NaN, and the gate maps NaN to "non-finite" before any
 * comparison (so a NaN can never pass by failing a `<` test).
 */
#include <math.h>
#include <string.h>

#include "synthloop/sl_trust.h"

/* --- names ---------------------------------------------------------------------- */

static const char *const arch_names[SL_TRUST_ARCH_COUNT] = {"mlp", "temporal"};
_Static_assert(sizeof arch_names / sizeof arch_names[0] == SL_TRUST_ARCH_COUNT, "arch names");

const char *sl_trust_arch_name(sl_trust_arch a) {
    return ((int)a >= 0 && a < SL_TRUST_ARCH_COUNT) ? arch_names[a] : NULL;
}

sl_status sl_trust_arch_parse(const char *name, sl_trust_arch *out) {
    for (int i = 0; name && i < SL_TRUST_ARCH_COUNT; i++)
        if (strcmp(name, arch_names[i]) == 0) {
            *out = (sl_trust_arch)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown trust architecture '%s' (expected mlp or temporal)",
                        name ? name : "(null)");
}

static const char *const kind_names[SL_TRUST_KIND_COUNT] = {"real", "noise", "inflate", "drift",
                                                            "external"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == SL_TRUST_KIND_COUNT, "kind names");

const char *sl_trust_kind_name(sl_trust_kind k) {
    return ((int)k >= 0 && k < SL_TRUST_KIND_COUNT) ? kind_names[k] : NULL;
}

/* --- features --------------------------------------------------------------------- */

int sl_trust_n_features(int D) { return 7 * D + 1; }

sl_status sl_trust_features(const float *w, int T, int D, double *f) {
    if (!w || !f || T < 2 || D < 1)
        return sl_set_error(SL_ERR_ARG, "trust features: need a window with T >= 2, D >= 1 "
                            "(got T %d, D %d)", T, D);
    if (!sl_all_finite_f32(w, (size_t)T * (size_t)D))
        return sl_set_error(SL_ERR_NAN, "trust features: the window holds NaN/Inf");
    for (int d = 0; d < D; d++) {
        double mean = 0.0, mn = INFINITY, mx = -INFINITY, change = 0.0, smooth = 0.0;
        for (int t = 0; t < T; t++) {
            double v = (double)w[(size_t)t * D + d];
            mean += v;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
            if (t >= 1) change += fabs(v - (double)w[(size_t)(t - 1) * D + d]);
            if (t >= 2)
                smooth += fabs(v - 2.0 * (double)w[(size_t)(t - 1) * D + d] +
                               (double)w[(size_t)(t - 2) * D + d]);
        }
        mean /= T;
        double var = 0.0;
        for (int t = 0; t < T; t++) {
            double x = (double)w[(size_t)t * D + d] - mean;
            var += x * x;
        }
        var /= T;
        f[0 * D + d] = mean;
        f[1 * D + d] = sqrt(var);
        f[2 * D + d] = mn;
        f[3 * D + d] = mx;
        f[4 * D + d] = var;
        f[5 * D + d] = T > 2 ? smooth / (T - 2) : 0.0;
        f[6 * D + d] = change / (T - 1);
    }
    f[7 * D] = log((double)T);
    return SL_OK;
}

/* --- std ratio --------------------------------------------------------------------- */

/* sum over dims of the temporal variance (ddof 0) of a [T, D] window; -1 if non-finite. */
static double total_var(const float *w, int T, int D) {
    double tot = 0.0;
    for (int d = 0; d < D; d++) {
        double m = 0.0;
        for (int t = 0; t < T; t++) {
            float v = w[(size_t)t * D + d];
            if (!isfinite(v)) return -1.0;
            m += (double)v;
        }
        m /= T;
        double s = 0.0;
        for (int t = 0; t < T; t++) {
            double x = (double)w[(size_t)t * D + d] - m;
            s += x * x;
        }
        tot += s / T;
    }
    return tot;
}

static double ratio_of(double vb, double vr) {
    if (vb < 0.0 || vr < 0.0 || !isfinite(vb) || !isfinite(vr)) return NAN;
    if (vr == 0.0) return vb == 0.0 ? 1.0 : (double)INFINITY;
    return sqrt(vb / vr);
}

double sl_trust_std_ratio(const float *branch, const float *real, int T, int D) {
    if (!branch || !real || T < 2 || D < 1) return NAN;
    return ratio_of(total_var(branch, T, D), total_var(real, T, D));
}

double sl_trust_std_ratio_pooled(const float *branches, const float *reals, size_t n, int T,
                                 int D, double *per_branch) {
    if (!branches || !reals || T < 2 || D < 1 || n == 0) return NAN;
    double sb = 0.0, sr = 0.0;
    int bad = 0;
    size_t stride = (size_t)T * (size_t)D;
    for (size_t i = 0; i < n; i++) {
        double vb = total_var(branches + i * stride, T, D);
        double vr = total_var(reals + i * stride, T, D);
        if (per_branch) per_branch[i] = ratio_of(vb, vr);
        if (vb < 0.0 || vr < 0.0) bad = 1;
        sb += vb;
        sr += vr;
    }
    return bad ? (double)NAN : ratio_of(sb, sr);
}

/* --- gates ------------------------------------------------------------------------ */

static const char *const preset_names[SL_GATE_PRESET_COUNT] = {"conservative", "normal",
                                                               "aggressive"};
_Static_assert(sizeof preset_names / sizeof preset_names[0] == SL_GATE_PRESET_COUNT, "presets");

/* seed 000 "Gating Strategy": min_trust and [min_ratio, max_ratio] per preset */
static const sl_gate presets[SL_GATE_PRESET_COUNT] = {
    {0.95, 0.9, 1.1}, /* conservative */
    {0.90, 0.8, 1.2}, /* normal (default) */
    {0.80, 0.7, 1.3}, /* aggressive */
};

const char *sl_gate_preset_name(sl_gate_preset p) {
    return ((int)p >= 0 && p < SL_GATE_PRESET_COUNT) ? preset_names[p] : NULL;
}

sl_status sl_gate_preset_parse(const char *name, sl_gate_preset *out) {
    for (int i = 0; name && i < SL_GATE_PRESET_COUNT; i++)
        if (strcmp(name, preset_names[i]) == 0) {
            *out = (sl_gate_preset)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown gate preset '%s' (expected conservative, normal or "
                        "aggressive)", name ? name : "(null)");
}

sl_gate sl_gate_from_preset(sl_gate_preset p) {
    return presets[((int)p >= 0 && p < SL_GATE_PRESET_COUNT) ? p : SL_GATE_NORMAL];
}

sl_status sl_gate_check_config(const sl_gate *g) {
    if (!g) return sl_set_error(SL_ERR_ARG, "gate: NULL");
    if (!(g->trust_floor >= 0.0 && g->trust_floor <= 1.0))
        return sl_set_error(SL_ERR_ARG, "gate: trust floor %g outside [0, 1]", g->trust_floor);
    if (!(isfinite(g->ratio_lo) && isfinite(g->ratio_hi) && g->ratio_lo >= 0.0 &&
          g->ratio_lo <= g->ratio_hi))
        return sl_set_error(SL_ERR_ARG, "gate: std-ratio band [%g, %g] must be finite with "
                            "0 <= lo <= hi", g->ratio_lo, g->ratio_hi);
    return SL_OK;
}

static const char *const reason_names[SL_GATE_REASON_COUNT] = {
    "pass", "non-finite", "low-trust", "std-ratio-low", "std-ratio-high"};
_Static_assert(sizeof reason_names / sizeof reason_names[0] == SL_GATE_REASON_COUNT, "reasons");

const char *sl_gate_reason_name(sl_gate_reason r) {
    return ((int)r >= 0 && r < SL_GATE_REASON_COUNT) ? reason_names[r] : NULL;
}

sl_gate_reason sl_gate_check(const sl_gate *g, double trust, double ratio) {
    if (isnan(trust) || isnan(ratio) || isinf(trust)) return SL_GATE_NONFINITE;
    if (!(trust >= g->trust_floor)) return SL_GATE_LOW_TRUST;
    if (ratio < g->ratio_lo) return SL_GATE_STD_LOW;
    if (ratio > g->ratio_hi) return SL_GATE_STD_HIGH;
    return SL_GATE_PASS;
}

void sl_gate_check_many(const sl_gate *g, const double *trust, const double *ratio, size_t n,
                        sl_gate_reason *reasons, size_t *n_pass) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        reasons[i] = sl_gate_check(g, trust[i], ratio[i]);
        k += reasons[i] == SL_GATE_PASS;
    }
    if (n_pass) *n_pass = k;
}
