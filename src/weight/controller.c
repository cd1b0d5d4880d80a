/* SPDX-License-Identifier: Apache-2.0 */
/* controller.c - the SyntheticWeightController: quality gate, lambda budget, capped rescale,
 * safety rails, summary statistics and JSON-lines logging of every call.
 *
 * Invariants (checked on random inputs by tests/test_weight.c): every w_final is finite and
 * in [0,1]; w_final = 0 whenever trust = 0, trust < min_trust or an input is not finite;
 * sum(w) / (sum(w) + R) <= max_synth_share; every call (including a failed one) emits a
 * "weight_call" record to the sinks that are set.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_weight.h"
#include "weight/weight_internal.h"

struct sl_weight_ctrl {
    sl_econ_model econ;
    sl_lambda_model lam;
    int has_econ, has_lam;
    size_t min_outcomes;
    FILE *log_fp;             /* borrowed */
    FILE *own_fp;             /* opened from a path, owned */
    sl_weight_log_fn cb;
    void *cb_ctx;
    int log_samples;
    uint64_t calls;
    double *q;                /* scratch: quality per sample */
    size_t *idx;              /* scratch: passing samples sorted by quality */
    double *suffix;           /* scratch: suffix sums of sorted qualities */
    size_t cap;
    char *line;               /* log line buffer */
    size_t line_len, line_cap;
    int line_oom;
};

static const char *const rail_names[] = {"invalid_input", "trust_floor",  "econ_cap",
                                         "lambda_cap",    "weight_cap",   "share_cap",
                                         "budget_short",  "no_real_weight", "low_pass_rate",
                                         "unstable_generator"};
_Static_assert(sizeof rail_names / sizeof rail_names[0] == SL_RAIL_COUNT, "rail name table");

const char *sl_weight_rail_name(sl_weight_rail r) {
    return (unsigned)r < SL_RAIL_COUNT ? rail_names[r] : "unknown";
}

sl_weight_global sl_weight_global_default(void) {
    sl_weight_global g;
    memset(&g, 0, sizeof g);
    for (int j = 0; j < SL_OBJ_COUNT; j++) g.ctx.objective[j] = 0.25;
    g.ctx.baseline_mpl = g.ctx.baseline_error = g.ctx.baseline_ep = 1.0;
    g.ctx.max_synth_share = 0.4;
    g.target_synth_share = 0.2;
    g.min_trust = 0.9;
    g.econ_weight_cap = 1.0;
    g.source_pass_rate = 1.0;
    g.min_pass_rate = 0.1;
    g.source_std_ratio_min = g.source_std_ratio_max = 1.0;
    g.generator_band_lo = 0.8;
    g.generator_band_hi = 1.2;
    return g;
}

/* --- lifecycle and configuration ---------------------------------------- */

sl_status sl_weight_ctrl_new(sl_weight_ctrl **out) {
    sl_weight_ctrl *c = calloc(1, sizeof *c);
    if (!c) return sl_set_error(SL_ERR_NOMEM, "sl_weight_ctrl_new");
    c->min_outcomes = SL_WEIGHT_MIN_OUTCOMES;
    c->log_samples = 1;
    *out = c;
    return SL_OK;
}

void sl_weight_ctrl_free(sl_weight_ctrl *c) {
    if (!c) return;
    if (c->own_fp) fclose(c->own_fp);
    free(c->q);
    free(c->idx);
    free(c->suffix);
    free(c->line);
    free(c);
}

void sl_weight_ctrl_set_econ_model(sl_weight_ctrl *c, const sl_econ_model *m) {
    c->has_econ = m != NULL;
    if (m) c->econ = *m;
}
void sl_weight_ctrl_set_lambda_model(sl_weight_ctrl *c, const sl_lambda_model *m) {
    c->has_lam = m != NULL;
    if (m) c->lam = *m;
}
void sl_weight_ctrl_set_min_outcomes(sl_weight_ctrl *c, size_t n) { c->min_outcomes = n; }
void sl_weight_ctrl_set_log_file(sl_weight_ctrl *c, FILE *fp) { c->log_fp = fp; }
void sl_weight_ctrl_set_log_callback(sl_weight_ctrl *c, sl_weight_log_fn fn, void *ctx) {
    c->cb = fn;
    c->cb_ctx = ctx;
}
void sl_weight_ctrl_set_log_samples(sl_weight_ctrl *c, int on) { c->log_samples = on != 0; }

sl_status sl_weight_ctrl_set_log_path(sl_weight_ctrl *c, const char *path) {
    if (c->own_fp) fclose(c->own_fp);
    c->own_fp = NULL;
    if (!path) return SL_OK;
    c->own_fp = fopen(path, "a");
    if (!c->own_fp)
        return sl_set_error(SL_ERR_IO, "%s: cannot open weight log: %s", path, strerror(errno));
    return SL_OK;
}

/* --- JSON line builder --------------------------------------------------- */

static void line_reset(sl_weight_ctrl *c) {
    c->line_len = 0;
    c->line_oom = 0;
    if (c->line) c->line[0] = 0;
}

__attribute__((format(printf, 2, 3))) static void line_add(sl_weight_ctrl *c, const char *fmt,
                                                          ...) {
    if (c->line_oom) return;
    for (;;) {
        size_t room = c->line_cap - c->line_len;
        va_list ap;
        va_start(ap, fmt);
        int k = c->line ? vsnprintf(c->line + c->line_len, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) {
            c->line_len += (size_t)k;
            return;
        }
        size_t need = c->line_len + (k > 0 ? (size_t)k : 256) + 1;
        size_t ncap = c->line_cap ? c->line_cap * 2 : 1024;
        while (ncap < need) ncap *= 2;
        char *nl = realloc(c->line, ncap);
        if (!nl) {
            c->line_oom = 1;
            return;
        }
        c->line = nl;
        c->line_cap = ncap;
    }
}

/* A number, or null when it is not finite (the log never holds NaN/Inf). */
static void line_num(sl_weight_ctrl *c, const char *key, double v) {
    if (isfinite(v)) line_add(c, "\"%s\":%.17g,", key, v);
    else line_add(c, "\"%s\":null,", key);
}

static void line_str(sl_weight_ctrl *c, const char *key, const char *s) {
    line_add(c, "\"%s\":\"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') line_add(c, "\\%c", *p);
        else if (*p < 0x20) line_add(c, "\\u%04x", *p);
        else line_add(c, "%c", *p);
    }
    line_add(c, "\",");
}

/* Replace the trailing comma by the closing brace and send the line to every sink. */
static sl_status line_emit(sl_weight_ctrl *c) {
    if (c->line_oom) return sl_set_error(SL_ERR_NOMEM, "weight log: line buffer");
    if (c->line_len && c->line[c->line_len - 1] == ',') c->line[--c->line_len] = 0;
    line_add(c, "}");
    if (c->line_oom) return sl_set_error(SL_ERR_NOMEM, "weight log: line buffer");
    FILE *fps[2] = {c->log_fp, c->own_fp};
    for (int k = 0; k < 2; k++)
        if (fps[k] && (fputs(c->line, fps[k]) == EOF || fputc('\n', fps[k]) == EOF))
            return sl_set_error(SL_ERR_IO, "weight log: write failed: %s", strerror(errno));
    if (c->cb) return c->cb(c->cb_ctx, c->line);
    return SL_OK;
}

static int has_sink(const sl_weight_ctrl *c) { return c->log_fp || c->own_fp || c->cb; }

/* --- validation ---------------------------------------------------------- */

static sl_status check_global(const sl_weight_global *g) {
    static const char fn[] = "sl_weight_ctrl_compute";
    const sl_weight_context *x = &g->ctx;
    double v[16] = {x->objective[0], x->objective[1], x->objective[2], x->objective[3],
                    x->current_mpl, x->current_error, x->current_ep, x->baseline_mpl,
                    x->baseline_error, x->baseline_ep, x->training_progress,
                    x->max_synth_share, g->target_synth_share, g->min_trust,
                    g->econ_weight_cap, g->real_weight};
    static const char *const names[16] = {
        "objective[0]",   "objective[1]",      "objective[2]",     "objective[3]",
        "current_mpl",    "current_error",     "current_ep",       "baseline_mpl",
        "baseline_error", "baseline_ep",       "training_progress", "max_synth_share",
        "target_synth_share", "min_trust",     "econ_weight_cap",  "real_weight"};
    for (int k = 0; k < 16; k++)
        if (!isfinite(v[k]))
            return sl_set_error(SL_ERR_NAN, "%s: global input %s is not finite", fn, names[k]);
    if (!(x->max_synth_share > 0.0 && x->max_synth_share < 1.0))
        return sl_set_error(SL_ERR_ARG, "%s: max_synth_share %g outside (0,1)", fn,
                            x->max_synth_share);
    if (!(isfinite(x->real_rows) && x->real_rows >= 0.0))
        return sl_set_error(SL_ERR_ARG, "%s: real_rows %g must be finite and >= 0", fn,
                            x->real_rows);
    if (g->target_synth_share < 0.0)
        return sl_set_error(SL_ERR_ARG, "%s: target_synth_share %g < 0", fn,
                            g->target_synth_share);
    if (g->min_trust < 0.0 || g->min_trust > 1.0)
        return sl_set_error(SL_ERR_ARG, "%s: min_trust %g outside [0,1]", fn, g->min_trust);
    if (g->econ_weight_cap < 0.0 || g->econ_weight_cap > 1.0)
        return sl_set_error(SL_ERR_ARG, "%s: econ_weight_cap %g outside [0,1]", fn,
                            g->econ_weight_cap);
    if (g->real_weight < 0.0)
        return sl_set_error(SL_ERR_ARG, "%s: real_weight %g < 0", fn, g->real_weight);
    if (!(g->source_pass_rate >= 0.0 && g->source_pass_rate <= 1.0) ||
        !(g->min_pass_rate >= 0.0 && g->min_pass_rate <= 1.0))
        return sl_set_error(SL_ERR_ARG, "%s: source_pass_rate %g / min_pass_rate %g outside [0,1]",
                            fn, g->source_pass_rate, g->min_pass_rate);
    if (!isfinite(g->source_std_ratio_min) || !isfinite(g->source_std_ratio_max) ||
        g->source_std_ratio_min > g->source_std_ratio_max)
        return sl_set_error(SL_ERR_ARG, "%s: source std ratio range [%g, %g] not finite or reversed",
                            fn, g->source_std_ratio_min, g->source_std_ratio_max);
    if (!(g->generator_band_lo >= 0.0 && g->generator_band_lo <= g->generator_band_hi &&
          g->generator_band_hi < 1e6))
        return sl_set_error(SL_ERR_ARG, "%s: generator band [%g, %g] invalid", fn,
                            g->generator_band_lo, g->generator_band_hi);
    return SL_OK;
}

static int sample_valid(const sl_weight_sample *s) {
    double v[5] = {s->trust, s->delta_mpl, s->delta_error, s->delta_ep, s->novelty};
    if (!sl_all_finite_f64(v, 5)) return 0;
    if (s->trust < 0.0 || s->trust > 1.0) return 0;
    if (s->branch_states) {
        size_t n;
        if (!s->states_rows || !s->states_dim || sl_mul_size(s->states_rows, s->states_dim, &n))
            return 0;
        if (!sl_all_finite_f32(s->branch_states, n)) return 0;
    }
    if (s->branch_actions) {
        size_t n;
        if (!s->actions_rows || !s->actions_dim ||
            sl_mul_size(s->actions_rows, s->actions_dim, &n))
            return 0;
        if (!sl_all_finite_f32(s->branch_actions, n)) return 0;
    }
    return 1;
}

static sl_status ensure_scratch(sl_weight_ctrl *c, size_t n) {
    if (n <= c->cap) return SL_OK;
    double *q = realloc(c->q, n * sizeof *q);
    if (q) c->q = q;
    size_t *idx = realloc(c->idx, n * sizeof *idx);
    if (idx) c->idx = idx;
    double *sf = realloc(c->suffix, (n + 1) * sizeof *sf);
    if (sf) c->suffix = sf;
    if (!q || !idx || !sf) return sl_set_error(SL_ERR_NOMEM, "sl_weight_ctrl_compute: %zu", n);
    c->cap = n;
    return SL_OK;
}

static int cmp_q_desc(const void *a, const void *b, void *ctx) {
    const double *q = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = q[i], y = q[j];
    if (x != y) return x < y ? 1 : -1;
    return (i > j) - (i < j); /* stable: deterministic order for ties */
}

static void summarize(sl_weight_summary *s, double v, int first) {
    if (first) {
        s->min = s->max = v;
    } else {
        if (v < s->min) s->min = v;
        if (v > s->max) s->max = v;
    }
    s->count++;
    /* Welford */
    double d = v - s->mean;
    s->mean += d / (double)s->count;
    s->std += d * (v - s->mean); /* holds M2 until finalized */
}

static void summary_final(sl_weight_summary *s) {
    s->std = s->count ? sqrt(s->std / (double)s->count) : 0.0;
}

/* --- logging of a call ---------------------------------------------------- */

static void log_summary(sl_weight_ctrl *c, const char *key, const sl_weight_summary *s) {
    line_add(c, "\"%s\":{", key);
    line_num(c, "mean", s->mean);
    line_num(c, "std", s->std);
    line_num(c, "min", s->min);
    line_num(c, "max", s->max);
    line_add(c, "\"count\":%zu},", s->count);
}

static sl_status log_call(sl_weight_ctrl *c, const sl_weight_global *g, const sl_weight_result *r) {
    line_reset(c);
    line_add(c, "{\"type\":\"weight_call\",\"call\":%llu,\"status\":\"ok\",",
             (unsigned long long)r->call);
    line_add(c, "\"phase\":%d,", r->phase);
    line_str(c, "phase_reason", r->phase_reason);
    line_add(c, "\"econ_n_train\":%zu,\"lambda_n_train\":%zu,\"min_outcomes\":%zu,",
             c->has_econ ? c->econ.n_train : 0, c->has_lam ? c->lam.n_train : 0,
             c->min_outcomes);
    line_add(c, "\"n\":%zu,\"n_passed\":%zu,\"n_rejected_trust\":%zu,\"n_invalid\":%zu,", r->n,
             r->n_passed, r->n_rejected_trust, r->n_invalid);
    line_num(c, "lambda_prediction", r->lambda_prediction);
    line_num(c, "lambda", r->lambda);
    line_num(c, "scale", r->scale);
    line_num(c, "max_synth_share", g->ctx.max_synth_share);
    line_num(c, "target_synth_share", g->target_synth_share);
    line_num(c, "min_trust", g->min_trust);
    line_num(c, "econ_weight_cap", g->econ_weight_cap);
    line_num(c, "source_pass_rate", g->source_pass_rate);
    line_num(c, "min_pass_rate", g->min_pass_rate);
    line_num(c, "source_std_ratio_min", g->source_std_ratio_min);
    line_num(c, "source_std_ratio_max", g->source_std_ratio_max);
    line_num(c, "generator_band_lo", g->generator_band_lo);
    line_num(c, "generator_band_hi", g->generator_band_hi);
    line_num(c, "real_weight", r->real_weight);
    line_num(c, "target_synth_weight", r->target_synth_weight);
    line_num(c, "synth_weight", r->synth_weight);
    line_num(c, "effective_share", r->effective_share);
    line_add(c, "\"budget_reached\":%s,", r->budget_reached ? "true" : "false");
    line_add(c, "\"objective\":[%.17g,%.17g,%.17g,%.17g],", g->ctx.objective[0],
             g->ctx.objective[1], g->ctx.objective[2], g->ctx.objective[3]);
    line_num(c, "training_progress", g->ctx.training_progress);
    line_add(c, "\"rails\":{");
    for (int k = 0; k < SL_RAIL_COUNT; k++)
        line_add(c, "\"%s\":%zu%s", rail_names[k], r->rail_counts[k],
                 k + 1 < SL_RAIL_COUNT ? "," : "},");
    log_summary(c, "w", &r->w);
    log_summary(c, "trust", &r->trust);
    log_summary(c, "econ", &r->econ);
    return line_emit(c);
}

static sl_status log_sample(sl_weight_ctrl *c, uint64_t call, size_t i, const sl_weight_sample *s,
                            const sl_weight_out *o) {
    line_reset(c);
    line_add(c, "{\"type\":\"weight_sample\",\"call\":%llu,\"i\":%zu,", (unsigned long long)call,
             i);
    line_add(c, "\"episode\":%lld,\"t\":%lld,\"brick\":%d,", (long long)s->source_episode,
             (long long)s->source_timestep, s->brick_id);
    line_add(c, "\"horizon\":%lld,",
             s->branch_states && s->states_rows ? (long long)s->states_rows - 1 : -1LL);
    line_num(c, "trust_in", s->trust);
    line_num(c, "delta_mpl", s->delta_mpl);
    line_num(c, "delta_error", s->delta_error);
    line_num(c, "delta_ep", s->delta_ep);
    line_num(c, "novelty", s->novelty);
    line_num(c, "trust", o->trust_component);
    line_num(c, "econ", o->econ_component);
    line_num(c, "lambda", o->lambda_component);
    line_num(c, "quality", o->quality);
    line_num(c, "w", o->w_final);
    line_add(c, "\"flags\":[");
    int first = 1;
    for (int k = 0; k < SL_RAIL_COUNT; k++)
        if (o->flags & (1u << k)) {
            line_add(c, "%s\"%s\"", first ? "" : ",", rail_names[k]);
            first = 0;
        }
    line_add(c, "],");
    return line_emit(c);
}

/* --- the computation ------------------------------------------------------ */

#define SHARE_MARGIN 1e-12

static int share_exceeds(double S, double R, double max_share) {
    double Su = S * (1.0 + SHARE_MARGIN);
    return Su / (Su + R) > max_share;
}

static const char *phase_of(const sl_weight_ctrl *c, int *phase) {
    *phase = 1;
    if (!c->has_econ) return "phase 1 (trust only): no econ model";
    if (!c->has_lam) return "phase 1 (trust only): no lambda controller";
    if (c->econ.n_train < c->min_outcomes)
        return "phase 1 (trust only): econ model trained on fewer than min_outcomes records";
    if (c->lam.n_train < c->min_outcomes)
        return "phase 1 (trust only): lambda controller trained on fewer than min_outcomes "
               "records";
    *phase = 2;
    return "phase 2: learned econ model and lambda controller";
}

/* A failed call is still logged (invariant 4): one error record, the message kept. */
static void log_failed_call(sl_weight_ctrl *c, uint64_t call, size_t n, sl_status st) {
    if (!has_sink(c)) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", sl_last_error());
    line_reset(c);
    line_add(c, "{\"type\":\"weight_call\",\"call\":%llu,\"status\":\"error\",",
             (unsigned long long)call);
    line_str(c, "code", sl_strerror(st));
    line_str(c, "error", msg);
    line_add(c, "\"n\":%zu,", n);
    line_emit(c);
    sl_set_error(st, "%s", msg);
}

/* The batch's lambda after the rails that act on the whole batch (lambda cap, generator pass
 * rate, generator certificate), and the synthetic weight budget it implies. */
static void batch_rails(sl_weight_result *r, const sl_weight_global *g, double lam_pred) {
    const double max_share = g->ctx.max_synth_share;
    r->lambda_prediction = lam_pred;
    r->lambda = lam_pred;
    if (r->lambda > max_share) {
        r->lambda = max_share;
        r->rails |= 1u << SL_RAIL_LAMBDA_CAP;
        r->rail_counts[SL_RAIL_LAMBDA_CAP] = 1;
    }
    if (g->source_pass_rate < g->min_pass_rate) { /* generator rail: the batch is out */
        r->lambda = 0.0;
        r->rails |= 1u << SL_RAIL_LOW_PASS_RATE;
        r->rail_counts[SL_RAIL_LOW_PASS_RATE] = 1;
    }
    if (g->generator_band_hi > 0.0 &&
        (g->source_std_ratio_min < 0.0 || g->source_std_ratio_min < g->generator_band_lo ||
         g->source_std_ratio_max > g->generator_band_hi)) { /* certificate rail */
        r->lambda = 0.0;
        r->rails |= 1u << SL_RAIL_UNSTABLE_GENERATOR;
        r->rail_counts[SL_RAIL_UNSTABLE_GENERATOR] = 1;
    }
    r->real_weight = g->real_weight;
    r->target_synth_weight = g->real_weight * r->lambda / (1.0 - r->lambda);
}

/* 1. Per-sample quality gate: q_i = trust * econ (capped) for valid samples at or above the
 * trust floor; c->idx[0..m) lists the samples with q > 0. Returns m. */
static size_t quality_gate(sl_weight_ctrl *c, const sl_weight_global *g, const sl_weight_result *r,
                           const sl_weight_sample *s, size_t n, sl_weight_out *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        sl_weight_out *o = &out[i];
        memset(o, 0, sizeof *o);
        o->lambda_component = r->lambda;
        c->q[i] = 0.0;
        if (!sample_valid(&s[i])) {
            o->flags |= 1u << SL_RAIL_INVALID_INPUT;
            continue;
        }
        double econ = 1.0;
        if (r->phase == 2 &&
            sl_econ_model_eval(&c->econ, s[i].delta_mpl, s[i].delta_error, s[i].delta_ep,
                               s[i].novelty, s[i].brick_id, g->ctx.objective, &econ) != SL_OK) {
            o->flags |= 1u << SL_RAIL_INVALID_INPUT;
            continue;
        }
        if (econ > g->econ_weight_cap) {
            econ = g->econ_weight_cap;
            o->flags |= 1u << SL_RAIL_ECON_CAP;
        }
        o->trust_component = s[i].trust;
        o->econ_component = econ;
        if (s[i].trust < g->min_trust) { /* == floor passes (seed 002: trust >= threshold) */
            o->flags |= 1u << SL_RAIL_TRUST_FLOOR;
            continue;
        }
        o->quality = s[i].trust * econ;
        c->q[i] = o->quality;
        if (o->quality > 0.0) c->idx[m++] = i;
    }
    return m;
}

/* 2. Capped proportional rescale: the scale s with sum_i min(1, q_i s) = W over the m gated
 * samples (the largest q first at the cap of 1); returns s. */
static double capped_rescale(sl_weight_ctrl *c, size_t m, double W, sl_weight_out *out) {
    size_t ncapped = 0;
    double scale = 0.0;
    if (m == 0 || !(W > 0.0)) return scale;
    qsort_r(c->idx, m, sizeof *c->idx, cmp_q_desc, c->q);
    c->suffix[m] = 0.0;
    for (size_t k = m; k-- > 0;) c->suffix[k] = c->suffix[k + 1] + c->q[c->idx[k]];
    for (ncapped = 0; ncapped < m; ncapped++) {
        scale = (W - (double)ncapped) / c->suffix[ncapped];
        if (c->q[c->idx[ncapped]] * scale <= 1.0) break;
    }
    for (size_t k = 0; k < m; k++) {
        size_t i = c->idx[k];
        if (k < ncapped) {
            out[i].w_final = 1.0;
            out[i].flags |= 1u << SL_RAIL_WEIGHT_CAP;
        } else {
            double w = c->q[i] * scale;
            out[i].w_final = w > 1.0 ? 1.0 : w;
        }
    }
    if (ncapped == m) scale = 1.0 / c->q[c->idx[m - 1]]; /* all at the cap */
    return scale;
}

/* 3. Final share cap: sum w / (sum w + R) <= max_share, whatever the rounding did. The check
 * inflates S by SHARE_MARGIN so that the invariant also holds when a consumer sums the weights
 * in another order (each order differs by far less than the margin). Then the budget and
 * real-weight rails. */
static void share_cap(const sl_weight_ctrl *c, const sl_weight_global *g, sl_weight_result *r,
                      size_t m, double W, sl_weight_out *out) {
    const double max_share = g->ctx.max_synth_share;
    double S = 0.0;
    for (size_t k = 0; k < m; k++) S += out[c->idx[k]].w_final;
    for (int it = 0; S > 0.0 && share_exceeds(S, g->real_weight, max_share); it++) {
        double f = it < 8 ? (g->real_weight * max_share / (1.0 - max_share)) / S *
                                (1.0 - SHARE_MARGIN * (it + 2))
                          : 0.0;
        S = 0.0;
        for (size_t k = 0; k < m; k++) {
            size_t i = c->idx[k];
            out[i].w_final *= f;
            out[i].flags |= 1u << SL_RAIL_SHARE_CAP;
            S += out[i].w_final;
        }
        r->rails |= 1u << SL_RAIL_SHARE_CAP;
    }
    r->synth_weight = S;
    r->effective_share = S + g->real_weight > 0.0 ? S / (S + g->real_weight) : 0.0;
    r->budget_reached = W == 0.0 ? S == 0.0 : fabs(S - W) <= 1e-9 * W;
    if (!r->budget_reached && S < W) {
        r->rails |= 1u << SL_RAIL_BUDGET_SHORT;
        r->rail_counts[SL_RAIL_BUDGET_SHORT] = 1;
    }
    if (g->real_weight == 0.0 && m > 0) {
        r->rails |= 1u << SL_RAIL_NO_REAL_WEIGHT;
        r->rail_counts[SL_RAIL_NO_REAL_WEIGHT] = 1;
    }
}

/* 4. Rail counts, pass/reject counts and the summaries of w, trust and econ. */
static void count_and_summarize(sl_weight_result *r, const sl_weight_out *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const sl_weight_out *o = &out[i];
        for (int k = 0; k < SL_RAIL_COUNT; k++)
            if (o->flags & (1u << k)) {
                r->rail_counts[k]++;
                r->rails |= 1u << k;
            }
        if (o->flags & (1u << SL_RAIL_INVALID_INPUT)) {
            r->n_invalid++;
            continue;
        }
        if (o->flags & (1u << SL_RAIL_TRUST_FLOOR)) r->n_rejected_trust++;
        else r->n_passed++;
        int first = r->w.count == 0;
        summarize(&r->w, o->w_final, first);
        summarize(&r->trust, o->trust_component, first);
        summarize(&r->econ, o->econ_component, first);
    }
    if (r->rails & (1u << SL_RAIL_SHARE_CAP)) r->rail_counts[SL_RAIL_SHARE_CAP] =
        r->rail_counts[SL_RAIL_SHARE_CAP] ? r->rail_counts[SL_RAIL_SHARE_CAP] : 1;
    summary_final(&r->w);
    summary_final(&r->trust);
    summary_final(&r->econ);
}

sl_status sl_weight_ctrl_compute(sl_weight_ctrl *c, const sl_weight_global *g,
                                 const sl_weight_sample *s, size_t n, sl_weight_out *out,
                                 sl_weight_result *res) {
    static const char fn[] = "sl_weight_ctrl_compute";
    uint64_t call = c->calls++;
    sl_status st = SL_OK;
    if (!g || !res) st = sl_set_error(SL_ERR_ARG, "%s: NULL global or result", fn);
    else if (n && (!s || !out)) st = sl_set_error(SL_ERR_ARG, "%s: NULL samples or outputs", fn);
    if (st == SL_OK) st = check_global(g);
    if (st == SL_OK) st = ensure_scratch(c, n);
    sl_weight_result r;
    memset(&r, 0, sizeof r);
    r.call = call;
    r.n = n;
    if (st == SL_OK) r.phase_reason = phase_of(c, &r.phase);
    double lam_pred = 0.0;
    if (st == SL_OK) {
        if (r.phase == 2) st = sl_lambda_model_eval(&c->lam, &g->ctx, &lam_pred);
        else lam_pred = g->target_synth_share;
    }
    if (st != SL_OK) {
        log_failed_call(c, call, n, st);
        return st;
    }
    batch_rails(&r, g, lam_pred);
    size_t m = quality_gate(c, g, &r, s, n, out); /* samples with quality > 0 */
    r.scale = capped_rescale(c, m, r.target_synth_weight, out);
    share_cap(c, g, &r, m, r.target_synth_weight, out);
    count_and_summarize(&r, out, n);
    *res = r;

    /* 5. log: one call record, then one record per sample */
    if (has_sink(c)) {
        SL_TRY(log_call(c, g, &r));
        if (c->log_samples)
            for (size_t i = 0; i < n; i++) SL_TRY(log_sample(c, call, i, &s[i], &out[i]));
    }
    return SL_OK;
}
