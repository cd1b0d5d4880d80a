/* SPDX-License-Identifier: Apache-2.0 */
/* score.c - forecast scores: matching predictions to truth, Brier and skill, clipped log
 * score, ECE and the calibration curve, the Murphy decomposition, per-depth accuracy, match
 * coverage, timeframe error, the paired bootstrap comparison and the HTML report.
 *
 * Invariant: every score is a function of the items and per-case facts built once by
 * sl_fc_evaluate, weighted by case; the paired bootstrap only changes the case weights, so a
 * replicate and the point estimate are computed by the same code.
 */
#include <float.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_internal.h"
#include "synthloop/sl_stats.h"

/* --- evaluation ---------------------------------------------------------- */

void sl_fc_eval_free(sl_fc_eval *e) {
    if (!e) return;
    free(e->items);
    free(e->cases);
    free(e);
}

typedef struct items_buf {
    sl_fc_item *v;
    size_t n, cap;
} items_buf;

static sl_status push(items_buf *b, double p, int y, double pu, int depth, size_t ci) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 64;
        sl_fc_item *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) return sl_set_error(SL_ERR_NOMEM, "forecast score: out of memory");
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = (sl_fc_item){.p = p, .y = y, .p_uniform = pu, .depth = depth, .case_index = ci};
    return SL_OK;
}

static int prob_ok(double p) { return p >= 0.0 && p <= 1.0; }

/* Predictions must name events with probabilities in [0, 1]. */
static sl_status check_pred_case(const sl_fc_set *ps, const sl_fc_case *c) {
    for (size_t i = 0; i < c->n_nodes; i++) {
        const sl_fc_node *n = &c->nodes[i];
        if (!n->event || !prob_ok(n->prob))
            return sl_set_error(SL_ERR_FORMAT, "%s:%zu: outcome_chain[%zu]: a predicted node "
                                "needs an event and a probability in [0, 1]", ps->path, c->line, i);
        for (size_t j = 0; j < n->n_alts; j++)
            if (!n->alts[j].event || !prob_ok(n->alts[j].prob))
                return sl_set_error(SL_ERR_FORMAT, "%s:%zu: outcome_chain[%zu].alternatives[%zu]: "
                                    "needs an event and a probability in [0, 1]", ps->path,
                                    c->line, i, j);
    }
    return SL_OK;
}

static const char *cand_event(const sl_fc_node *n, size_t j) {
    return j == 0 ? n->event : n->alts[j - 1].event;
}
static double cand_prob(const sl_fc_node *n, size_t j) {
    return j == 0 ? n->prob : n->alts[j - 1].prob;
}

static sl_status eval_case(const sl_fc_case *t, size_t ti, const sl_fc_case *p, double thr,
                           items_buf *b, sl_fc_case_stat *cs) {
    cs->n_nodes = (int)t->n_nodes;
    for (int d = 0; d <= SL_FC_MAX_DEPTH; d++) cs->top_ok[d] = -1;
    cs->has_pred = p != NULL;
    for (size_t k = 0; k < t->n_nodes; k++) {
        const sl_fc_node *tn = &t->nodes[k];
        int d = tn->depth;
        cs->top_ok[d] = 0;
        const sl_fc_node *pn = NULL;
        for (size_t i = 0; p && i < p->n_nodes && !pn; i++)
            if (p->nodes[i].depth == d) pn = &p->nodes[i];
        /* coverage: any candidate anywhere in the predicted tree */
        int ex = 0, fz = 0;
        for (size_t i = 0; p && i < p->n_nodes; i++)
            for (size_t j = 0; j <= p->nodes[i].n_alts; j++) {
                const char *ev = cand_event(&p->nodes[i], j);
                if (!ex && sl_fc_exact_match(ev, tn->event)) ex = 1;
                if (!fz && sl_fc_similarity(ev, tn->event) >= thr) fz = 1;
            }
        cs->covered_exact += ex;
        cs->covered_fuzzy += fz;
        if (!pn) {
            SL_TRY(push(b, 0.0, 1, 0.0, d, ti));
            continue;
        }
        size_t k_c = pn->n_alts + 1, best = 0, top = 0;
        double best_sim = -1.0, psum = 0.0;
        for (size_t j = 0; j < k_c; j++) {
            double s = sl_fc_similarity(cand_event(pn, j), tn->event);
            if (s > best_sim) {
                best_sim = s;
                best = j;
            }
            if (cand_prob(pn, j) > cand_prob(pn, top)) top = j;
            psum += cand_prob(pn, j);
        }
        int matched = best_sim >= thr;
        for (size_t j = 0; j < k_c; j++)
            SL_TRY(push(b, cand_prob(pn, j), matched && j == best, 1.0 / (double)k_c, d, ti));
        if (!matched) SL_TRY(push(b, psum < 1.0 ? 1.0 - psum : 0.0, 1, 0.0, d, ti));
        cs->top_ok[d] = sl_fc_similarity(cand_event(pn, top), tn->event) >= thr;
        if (matched && best == 0 && isfinite(pn->timeframe_months) &&
            isfinite(tn->timeframe_months)) {
            cs->tf_abs_err += fabs(pn->timeframe_months - tn->timeframe_months);
            cs->tf_n++;
        }
    }
    return SL_OK;
}

sl_status sl_fc_evaluate(const sl_fc_set *pred, const sl_fc_set *truth, double thr,
                         sl_fc_eval **out) {
    *out = NULL;
    if (thr <= 0.0) thr = SL_FC_MATCH_THRESHOLD;
    if (truth->n == 0) return sl_set_error(SL_ERR_ARG, "%s: no truth cases", truth->path);
    for (size_t i = 0; i < truth->n; i++) {
        const sl_fc_case *t = &truth->cases[i];
        if (!t->case_id || t->n_nodes == 0)
            return sl_set_error(SL_ERR_FORMAT, "%s:%zu: a truth case needs case_id and "
                                "outcome_chain (run forecast validate)", truth->path, t->line);
        for (size_t k = 0; k < t->n_nodes; k++)
            if (!t->nodes[k].event || t->nodes[k].depth != (int)k + 1 ||
                t->nodes[k].depth > SL_FC_MAX_DEPTH)
                return sl_set_error(SL_ERR_FORMAT, "%s:%zu: outcome_chain[%zu]: a truth node needs "
                                    "an event and depth %zu <= %d (run forecast validate)",
                                    truth->path, t->line, k, k + 1, SL_FC_MAX_DEPTH);
    }
    for (size_t i = 0; i < pred->n; i++) SL_TRY(check_pred_case(pred, &pred->cases[i]));
    sl_fc_eval *e = calloc(1, sizeof *e);
    if (!e) return sl_set_error(SL_ERR_NOMEM, "forecast score: out of memory");
    e->cases = calloc(truth->n, sizeof *e->cases);
    e->n_cases = truth->n;
    if (!e->cases) {
        free(e);
        return sl_set_error(SL_ERR_NOMEM, "forecast score: out of memory");
    }
    items_buf b = {0};
    sl_status st = SL_OK;
    for (size_t i = 0; st == SL_OK && i < truth->n; i++) {
        size_t pi = fc_find_case(pred, truth->cases[i].case_id);
        const sl_fc_case *p = pi == (size_t)-1 ? NULL : &pred->cases[pi];
        if (!p) e->n_missing_cases++;
        st = eval_case(&truth->cases[i], i, p, thr, &b, &e->cases[i]);
    }
    for (size_t i = 0; i < pred->n; i++)
        if (fc_find_case(truth, pred->cases[i].case_id) == (size_t)-1) e->n_pred_unmatched++;
    e->items = b.v;
    e->n_items = b.n;
    if (st != SL_OK) {
        sl_fc_eval_free(e);
        return st;
    }
    *out = e;
    return SL_OK;
}

/* --- bins, curve, Murphy ------------------------------------------------- */

/* calibration_curve's bin: the number of interior edges k/B (k = 1..B-1) strictly below p
 * (numpy searchsorted, side left), as sl_stats_ece. */
static int bin_of(double p, int nbins) {
    double step = 1.0 / (double)nbins;
    long g = (long)ceil(p * nbins) - 1;
    if (g < 0) g = 0;
    if (g > nbins - 1) g = nbins - 1;
    while (g < nbins - 1 && (double)(g + 1) * step < p) g++;
    while (g > 0 && (double)g * step >= p) g--;
    return (int)g;
}

static sl_status check_py(const double *p, const int *y, size_t n, const char *who) {
    if (n == 0) return sl_set_error(SL_ERR_ARG, "%s: no items", who);
    for (size_t i = 0; i < n; i++)
        if (!prob_ok(p[i]) || (y[i] != 0 && y[i] != 1))
            return sl_set_error(SL_ERR_RANGE, "%s: item %zu has p = %g, y = %d (need p in [0,1], "
                                "y in {0,1})", who, i, p[i], y[i]);
    return SL_OK;
}

sl_status sl_fc_calibration_curve(const double *p, const int *y, size_t n, int nbins,
                                  double *frac_pos, double *mean_pred, size_t *count) {
    SL_TRY(check_py(p, y, n, "calibration_curve"));
    if (nbins < 1 || nbins > 10000)
        return sl_set_error(SL_ERR_ARG, "calibration_curve: nbins = %d outside [1, 10000]", nbins);
    for (int b = 0; b < nbins; b++) {
        frac_pos[b] = mean_pred[b] = 0.0;
        count[b] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        int b = bin_of(p[i], nbins);
        frac_pos[b] += y[i];
        mean_pred[b] += p[i];
        count[b]++;
    }
    for (int b = 0; b < nbins; b++) {
        if (count[b]) {
            frac_pos[b] /= (double)count[b];
            mean_pred[b] /= (double)count[b];
        } else {
            frac_pos[b] = mean_pred[b] = NAN;
        }
    }
    return SL_OK;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Weighted Murphy decomposition over groups g(i) (bins, or distinct values). */
static sl_status murphy_w(const double *p, const int *y, const double *w, size_t n, int nbins,
                          sl_fc_murphy *out) {
    memset(out, 0, sizeof *out);
    double *key = NULL;
    size_t ng = (size_t)nbins;
    if (nbins == 0) { /* distinct values */
        key = malloc(n * sizeof *key);
        if (!key) return sl_set_error(SL_ERR_NOMEM, "murphy: out of memory");
        memcpy(key, p, n * sizeof *key);
        qsort(key, n, sizeof *key, cmp_dbl);
        ng = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || key[i] != key[ng - 1]) key[ng++] = key[i];
    }
    double *acc = calloc(3 * ng, sizeof *acc); /* W, sum w p, sum w y per group */
    size_t *gi = malloc(n * sizeof *gi);
    if (!acc || !gi) {
        free(key);
        free(acc);
        free(gi);
        return sl_set_error(SL_ERR_NOMEM, "murphy: out of memory");
    }
    double W = 0.0, Wy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        size_t g;
        if (nbins) {
            g = (size_t)bin_of(p[i], nbins);
        } else {
            const double *f = bsearch(&p[i], key, ng, sizeof *key, cmp_dbl);
            g = (size_t)(f - key);
        }
        gi[i] = g;
        acc[3 * g] += wi;
        acc[3 * g + 1] += wi * p[i];
        acc[3 * g + 2] += wi * y[i];
        W += wi;
        Wy += wi * y[i];
    }
    if (!(W > 0.0)) {
        free(key);
        free(acc);
        free(gi);
        return sl_set_error(SL_ERR_ARG, "murphy: total weight is 0");
    }
    double obar = Wy / W;
    double rel = 0.0, res = 0.0;
    for (size_t g = 0; g < ng; g++) {
        double Wg = acc[3 * g];
        if (Wg <= 0.0) continue;
        double fg = acc[3 * g + 1] / Wg, og = acc[3 * g + 2] / Wg;
        rel += Wg * (fg - og) * (fg - og);
        res += Wg * (og - obar) * (og - obar);
    }
    double wv = 0.0, wc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        size_t g = gi[i];
        double Wg = acc[3 * g];
        double fg = acc[3 * g + 1] / Wg, og = acc[3 * g + 2] / Wg;
        wv += wi * (p[i] - fg) * (p[i] - fg);
        wc += 2.0 * wi * (p[i] - fg) * (y[i] - og);
    }
    out->reliability = rel / W;
    out->resolution = res / W;
    out->uncertainty = obar * (1.0 - obar);
    out->within_var = wv / W;
    out->within_cov = wc / W;
    out->brier = out->reliability - out->resolution + out->uncertainty + out->within_var -
                 out->within_cov;
    free(key);
    free(acc);
    free(gi);
    return SL_OK;
}

sl_status sl_fc_murphy_decompose(const double *p, const int *y, size_t n, int nbins,
                                 sl_fc_murphy *out) {
    SL_TRY(check_py(p, y, n, "murphy"));
    if (nbins < 0 || nbins > 10000)
        return sl_set_error(SL_ERR_ARG, "murphy: nbins = %d outside [0, 10000]", nbins);
    return murphy_w(p, y, NULL, n, nbins, out);
}

/* --- scores -------------------------------------------------------------- */

double sl_fc_depth_target(int depth) {
    if (depth == 1) return 0.9;
    if (depth == 2 || depth == 3) return 0.7;
    if (depth == 4 || depth == 5) return 0.5;
    return NAN;
}

sl_status sl_fc_score(const sl_fc_eval *e, double base_rate, const double *cw,
                      sl_fc_scores *s) {
    memset(s, 0, sizeof *s);
    size_t n = e->n_items;
    if (n == 0) return sl_set_error(SL_ERR_ARG, "forecast score: no scored items");
    if (!isnan(base_rate) && !prob_ok(base_rate))
        return sl_set_error(SL_ERR_ARG, "forecast score: base rate %g outside [0, 1]", base_rate);
    double *p = malloc(n * sizeof *p), *w = malloc(n * sizeof *w);
    int *y = malloc(n * sizeof *y);
    if (!p || !w || !y) {
        free(p);
        free(w);
        free(y);
        return sl_set_error(SL_ERR_NOMEM, "forecast score: out of memory");
    }
    double W = 0.0, Wy = 0.0, bs = 0.0, bu = 0.0, ls = 0.0;
    for (size_t i = 0; i < n; i++) {
        const sl_fc_item *it = &e->items[i];
        p[i] = it->p;
        y[i] = it->y;
        w[i] = cw ? cw[it->case_index] : 1.0;
        W += w[i];
        Wy += w[i] * y[i];
        bs += w[i] * (p[i] - y[i]) * (p[i] - y[i]);
        bu += w[i] * (it->p_uniform - y[i]) * (it->p_uniform - y[i]);
        double q = p[i] < SL_FC_LOG_EPS ? SL_FC_LOG_EPS : p[i] > 1.0 - SL_FC_LOG_EPS ? 1.0 - SL_FC_LOG_EPS : p[i];
        ls -= w[i] * (y[i] ? log(q) : log(1.0 - q));
    }
    sl_status st = SL_OK;
    if (!(W > 0.0)) st = sl_set_error(SL_ERR_ARG, "forecast score: total weight is 0");
    if (st == SL_OK) {
        s->n_items = n;
        s->brier = bs / W;
        s->brier_uniform = bu / W;
        s->base_rate = isnan(base_rate) ? Wy / W : base_rate;
        double br = 0.0;
        for (size_t i = 0; i < n; i++) br += w[i] * (s->base_rate - y[i]) * (s->base_rate - y[i]);
        s->brier_base_rate = br / W;
        s->skill_uniform = s->brier_uniform > 0.0 ? 1.0 - s->brier / s->brier_uniform : (double)NAN;
        s->skill_base_rate = s->brier_base_rate > 0.0 ? 1.0 - s->brier / s->brier_base_rate : (double)NAN;
        s->log_score = ls / W;
        /* ECE: weighted |sum w y - sum w p| per bin, 10 bins as calibration_curve */
        double acc[2 * SL_STATS_ECE_DEFAULT_BINS] = {0};
        for (size_t i = 0; i < n; i++) {
            int b = bin_of(p[i], SL_STATS_ECE_DEFAULT_BINS);
            acc[2 * b] += w[i] * p[i];
            acc[2 * b + 1] += w[i] * y[i];
        }
        for (int b = 0; b < SL_STATS_ECE_DEFAULT_BINS; b++) s->ece += fabs(acc[2 * b + 1] - acc[2 * b]);
        s->ece /= W;
        _Static_assert(SL_STATS_ECE_DEFAULT_BINS == 10, "curve arrays have 10 bins");
        for (int b = 0; b < SL_STATS_ECE_DEFAULT_BINS; b++) s->curve_n[b] = 0.0;
        for (size_t i = 0; i < n; i++) s->curve_n[bin_of(p[i], SL_STATS_ECE_DEFAULT_BINS)] += w[i];
        for (int b = 0; b < SL_STATS_ECE_DEFAULT_BINS; b++) {
            int ne = s->curve_n[b] > 0.0;
            s->curve_pred[b] = ne ? acc[2 * b] / s->curve_n[b] : (double)NAN;
            s->curve_true[b] = ne ? acc[2 * b + 1] / s->curve_n[b] : (double)NAN;
        }
        st = murphy_w(p, y, w, n, SL_STATS_ECE_DEFAULT_BINS, &s->murphy);
    }
    free(p);
    free(w);
    free(y);
    if (st != SL_OK) return st;
    double hit[SL_FC_MAX_DEPTH + 1] = {0}, tot[SL_FC_MAX_DEPTH + 1] = {0};
    double ex = 0.0, fz = 0.0, nodes = 0.0, tfe = 0.0, tfn = 0.0, cases = 0.0, miss = 0.0;
    for (size_t c = 0; c < e->n_cases; c++) {
        const sl_fc_case_stat *cs = &e->cases[c];
        double wc = cw ? cw[c] : 1.0;
        cases += wc;
        if (!cs->has_pred) miss += wc;
        nodes += wc * cs->n_nodes;
        ex += wc * cs->covered_exact;
        fz += wc * cs->covered_fuzzy;
        tfe += wc * cs->tf_abs_err;
        tfn += wc * cs->tf_n;
        for (int d = 1; d <= SL_FC_MAX_DEPTH; d++)
            if (cs->top_ok[d] >= 0) {
                tot[d] += wc;
                hit[d] += wc * cs->top_ok[d];
            }
    }
    double ht = 0.0, tt = 0.0;
    for (int d = 0; d <= SL_FC_MAX_DEPTH; d++) {
        s->acc[d] = tot[d] > 0.0 ? hit[d] / tot[d] : (double)NAN;
        s->acc_n[d] = (size_t)llround(tot[d]);
        ht += hit[d];
        tt += tot[d];
    }
    s->n_cases = (size_t)llround(cases);
    s->n_missing_cases = (size_t)llround(miss);
    s->n_nodes = (size_t)llround(nodes);
    s->accuracy = tt > 0.0 ? ht / tt : (double)NAN;
    s->coverage_exact = nodes > 0.0 ? ex / nodes : (double)NAN;
    s->coverage_fuzzy = nodes > 0.0 ? fz / nodes : (double)NAN;
    s->timeframe_mae = tfn > 0.0 ? tfe / tfn : (double)NAN;
    s->timeframe_n = (size_t)llround(tfn);
    return SL_OK;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

cJSON *sl_fc_scores_json(const sl_fc_scores *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n_cases", (double)s->n_cases);
    cJSON_AddNumberToObject(o, "n_missing_cases", (double)s->n_missing_cases);
    cJSON_AddNumberToObject(o, "n_nodes", (double)s->n_nodes);
    cJSON_AddNumberToObject(o, "n_items", (double)s->n_items);
    add_num(o, "brier", s->brier);
    add_num(o, "brier_uniform", s->brier_uniform);
    add_num(o, "brier_base_rate", s->brier_base_rate);
    add_num(o, "base_rate", s->base_rate);
    add_num(o, "skill_uniform", s->skill_uniform);
    add_num(o, "skill_base_rate", s->skill_base_rate);
    add_num(o, "log_score", s->log_score);
    add_num(o, "ece", s->ece);
    cJSON *m = cJSON_AddObjectToObject(o, "murphy");
    if (m) {
        add_num(m, "reliability", s->murphy.reliability);
        add_num(m, "resolution", s->murphy.resolution);
        add_num(m, "uncertainty", s->murphy.uncertainty);
        add_num(m, "within_bin_variance", s->murphy.within_var);
        add_num(m, "within_bin_covariance", s->murphy.within_cov);
        add_num(m, "sum", s->murphy.brier);
    }
    cJSON *d = cJSON_AddArrayToObject(o, "per_depth");
    for (int k = 1; d && k <= SL_FC_MAX_DEPTH; k++) {
        if (s->acc_n[k] == 0) continue;
        cJSON *r = cJSON_CreateObject();
        if (!r) break;
        cJSON_AddNumberToObject(r, "depth", k);
        cJSON_AddNumberToObject(r, "n", (double)s->acc_n[k]);
        add_num(r, "accuracy", s->acc[k]);
        double t = sl_fc_depth_target(k);
        add_num(r, "target", t);
        if (isfinite(t)) cJSON_AddBoolToObject(r, "meets_target", s->acc[k] > t);
        cJSON_AddItemToArray(d, r);
    }
    add_num(o, "accuracy", s->accuracy);
    add_num(o, "coverage_exact", s->coverage_exact);
    add_num(o, "coverage_fuzzy", s->coverage_fuzzy);
    cJSON_AddNumberToObject(o, "match_threshold", SL_FC_MATCH_THRESHOLD);
    add_num(o, "timeframe_mae_months", s->timeframe_mae);
    cJSON_AddNumberToObject(o, "timeframe_n", (double)s->timeframe_n);
    cJSON *rel = cJSON_AddArrayToObject(o, "reliability");
    for (int b = 0; rel && b < 10; b++) {
        if (!(s->curve_n[b] > 0.0)) continue;
        cJSON *r = cJSON_CreateObject();
        if (!r) break;
        cJSON_AddNumberToObject(r, "bin", b);
        cJSON_AddNumberToObject(r, "n", s->curve_n[b]);
        add_num(r, "mean_forecast", s->curve_pred[b]);
        add_num(r, "observed", s->curve_true[b]);
        cJSON_AddItemToArray(rel, r);
    }
    return o;
}

/* --- paired bootstrap ------------------------------------------------------ */

typedef struct metric_def {
    const char *name;
    int lower_better;
} metric_def;

static const metric_def metrics[] = {{"brier", 1},    {"log_score", 1},      {"ece", 1},
                                     {"accuracy", 0}, {"coverage_fuzzy", 0}, {"coverage_exact", 0},
                                     {"timeframe_mae_months", 1}};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

static void metric_values(const sl_fc_scores *s, double *v) {
    v[0] = s->brier;
    v[1] = s->log_score;
    v[2] = s->ece;
    v[3] = s->accuracy;
    v[4] = s->coverage_fuzzy;
    v[5] = s->coverage_exact;
    v[6] = s->timeframe_mae;
}

sl_status sl_fc_compare(const sl_fc_eval *a, const sl_fc_eval *b, size_t reps, double level,
                        uint64_t seed, cJSON **out) {
    *out = NULL;
    if (a->n_cases != b->n_cases)
        return sl_set_error(SL_ERR_SHAPE, "forecast compare: A and B were scored on different "
                            "truth sets (%zu vs %zu cases)", a->n_cases, b->n_cases);
    if (reps < 100 || reps > 1000000 || !(level > 0.0 && level < 1.0))
        return sl_set_error(SL_ERR_ARG, "forecast compare: need 100 <= reps <= 1e6 and 0 < level "
                            "< 1 (got %zu, %g)", reps, level);
    sl_fc_scores sa, sb;
    SL_TRY(sl_fc_score(a, NAN, NULL, &sa));
    SL_TRY(sl_fc_score(b, NAN, NULL, &sb));
    double va[N_METRICS], vb[N_METRICS];
    metric_values(&sa, va);
    metric_values(&sb, vb);
    size_t nc = a->n_cases;
    double *w = malloc(nc * sizeof *w), *diff = malloc(N_METRICS * reps * sizeof *diff);
    size_t *nv = calloc(N_METRICS, sizeof *nv);
    if (!w || !diff || !nv) {
        free(w);
        free(diff);
        free(nv);
        return sl_set_error(SL_ERR_NOMEM, "forecast compare: out of memory");
    }
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    sl_status st = SL_OK;
    for (size_t k = 0; st == SL_OK && k < reps; k++) {
        for (size_t c = 0; c < nc; c++) w[c] = 0.0;
        for (size_t c = 0; c < nc; c++) w[sl_rng_below(&r, nc)] += 1.0;
        sl_fc_scores ra, rb;
        st = sl_fc_score(a, NAN, w, &ra);
        if (st == SL_OK) st = sl_fc_score(b, NAN, w, &rb);
        if (st != SL_OK) break;
        double xa[N_METRICS], xb[N_METRICS];
        metric_values(&ra, xa);
        metric_values(&rb, xb);
        for (size_t m = 0; m < N_METRICS; m++)
            if (isfinite(xa[m]) && isfinite(xb[m])) diff[m * reps + nv[m]++] = xb[m] - xa[m];
    }
    cJSON *o = st == SL_OK ? cJSON_CreateObject() : NULL;
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "metrics") : NULL;
    if (st == SL_OK && !arr) st = sl_set_error(SL_ERR_NOMEM, "forecast compare: out of memory");
    if (o) {
        cJSON_AddNumberToObject(o, "reps", (double)reps);
        cJSON_AddNumberToObject(o, "level", level);
        cJSON_AddNumberToObject(o, "seed", (double)seed);
        cJSON_AddNumberToObject(o, "n_cases", (double)nc);
    }
    for (size_t m = 0; st == SL_OK && m < N_METRICS; m++) {
        cJSON *row = cJSON_CreateObject();
        if (!row) {
            st = sl_set_error(SL_ERR_NOMEM, "forecast compare: out of memory");
            break;
        }
        cJSON_AddItemToArray(arr, row);
        cJSON_AddStringToObject(row, "name", metrics[m].name);
        cJSON_AddStringToObject(row, "direction", metrics[m].lower_better ? "lower" : "higher");
        add_num(row, "a", va[m]);
        add_num(row, "b", vb[m]);
        add_num(row, "diff", vb[m] - va[m]);
        cJSON_AddNumberToObject(row, "valid_reps", (double)nv[m]);
        double lo = NAN, hi = NAN;
        if (nv[m] >= 2 && isfinite(va[m]) && isfinite(vb[m])) {
            st = sl_stats_quantile(diff + m * reps, nv[m], (1.0 - level) / 2.0, &lo);
            if (st == SL_OK) st = sl_stats_quantile(diff + m * reps, nv[m], (1.0 + level) / 2.0, &hi);
        }
        add_num(row, "lo", lo);
        add_num(row, "hi", hi);
        const char *better = "undecided";
        if (isfinite(lo) && isfinite(hi)) {
            int b_up = lo > 0.0, b_down = hi < 0.0;
            if (b_up || b_down) better = (b_up != metrics[m].lower_better) ? "B" : "A";
        }
        cJSON_AddStringToObject(row, "better", better);
    }
    free(w);
    free(diff);
    free(nv);
    if (st != SL_OK) {
        cJSON_Delete(o);
        return st;
    }
    *out = o;
    return SL_OK;
}

/* --- HTML report ------------------------------------------------------------ */

/* Reliability diagram: observed frequency against mean forecast per bin, the diagonal, and
 * the share of items per bin as bars along the bottom. */
static void reliability_svg(fc_buf *b, const double *mp, const double *fp, const double *cnt, int nb) {
    const double X0 = 50, Y0 = 20, S = 360;
    fc_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"440\" height=\"430\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n");
    fc_printf(b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            X0, Y0, S, S);
    for (int k = 0; k <= 10; k += 2) {
        double v = k / 10.0;
        fc_printf(b, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.1f</text>\n", X0 + v * S,
                Y0 + S + 14, v);
        fc_printf(b, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.1f</text>\n", X0 - 4,
                Y0 + S - v * S + 4, v);
    }
    fc_printf(b, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">mean forecast probability</text>\n",
            X0 + S / 2, Y0 + S + 30);
    fc_printf(b, "<text transform=\"translate(14,%g) rotate(-90)\" text-anchor=\"middle\">observed "
               "frequency</text>\n", Y0 + S / 2);
    fc_printf(b, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#aaa\" "
               "stroke-dasharray=\"4,3\"/>\n", X0, Y0 + S, X0 + S, Y0);
    double maxc = 0.0;
    for (int k = 0; k < nb; k++)
        if (cnt[k] > maxc) maxc = cnt[k];
    for (int k = 0; k < nb && maxc > 0.0; k++) {
        double h = 0.15 * S * cnt[k] / maxc;
        fc_printf(b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#cfd8e3\"/>\n",
                X0 + k * S / nb + 2, Y0 + S - h, S / nb - 4, h);
    }
    fc_printf(b, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
    for (int k = 0; k < nb; k++)
        if (cnt[k] > 0.0 && isfinite(mp[k]) && isfinite(fp[k]))
            fc_printf(b, "%.2f,%.2f ", X0 + mp[k] * S, Y0 + S - fp[k] * S);
    fc_printf(b, "\"/>\n");
    for (int k = 0; k < nb; k++)
        if (cnt[k] > 0.0 && isfinite(mp[k]) && isfinite(fp[k]))
            fc_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"#1f77b4\"><title>bin %d: "
                       "n=%g, mean p=%.3f, observed=%.3f</title></circle>\n",
                    X0 + mp[k] * S, Y0 + S - fp[k] * S, k, cnt[k], mp[k], fp[k]);
    fc_printf(b, "</svg>\n");
}

char *sl_fc_reliability_svg(const double *mean_pred, const double *frac_pos, const double *count,
                            int nbins) {
    fc_buf b = {0};
    reliability_svg(&b, mean_pred, frac_pos, count, nbins);
    if (b.oom) {
        free(b.p);
        sl_set_error(SL_ERR_NOMEM, "reliability diagram: out of memory");
        return NULL;
    }
    return b.p;
}

sl_status sl_fc_write_html(const char *path, const char *title, const sl_fc_eval *e,
                           const sl_fc_scores *s) {
    fc_buf b = {0};
    fc_printf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
    fc_html_escape(&b, title);
    fc_printf(&b, "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                "collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                ".fail{color:#b00}.ok{color:#070}</style></head><body>\n<h1>");
    fc_html_escape(&b, title);
    fc_printf(&b, "</h1>\n<h2>Scores</h2>\n<table>\n");
    fc_printf(&b, "<tr><th>cases</th><td>%zu (%zu without prediction)</td></tr>\n", s->n_cases,
            s->n_missing_cases);
    fc_printf(&b, "<tr><th>scored items</th><td>%zu</td></tr>\n", s->n_items);
    fc_printf(&b, "<tr><th>Brier</th><td>%.4f</td></tr>\n", s->brier);
    fc_printf(&b, "<tr><th>Brier skill vs uniform (%.4f)</th><td>%.4f</td></tr>\n",
            s->brier_uniform, s->skill_uniform);
    fc_printf(&b, "<tr><th>Brier skill vs base rate %.3f (%.4f)</th><td>%.4f</td></tr>\n",
            s->base_rate, s->brier_base_rate, s->skill_base_rate);
    fc_printf(&b, "<tr><th>log score (clipped at %g)</th><td>%.4f</td></tr>\n", SL_FC_LOG_EPS,
            s->log_score);
    fc_printf(&b, "<tr><th>ECE (10 bins)</th><td>%.4f</td></tr>\n", s->ece);
    fc_printf(&b, "<tr><th>Murphy: reliability / resolution / uncertainty</th><td>%.4f / %.4f / "
                "%.4f (+ within-bin %.4f - %.4f)</td></tr>\n", s->murphy.reliability,
            s->murphy.resolution, s->murphy.uncertainty, s->murphy.within_var,
            s->murphy.within_cov);
    fc_printf(&b, "<tr><th>match coverage exact / fuzzy (Jaccard &ge; %.2f)</th><td>%.3f / %.3f "
                "(target &gt; 0.8)</td></tr>\n", SL_FC_MATCH_THRESHOLD, s->coverage_exact,
            s->coverage_fuzzy);
    fc_printf(&b, "<tr><th>timeframe MAE (months)</th><td>%.2f (n=%zu)</td></tr>\n",
            s->timeframe_mae, s->timeframe_n);
    fc_printf(&b, "</table>\n<h2>Reliability diagram</h2>\n");
    (void)e;
    sl_status st = SL_OK;
    reliability_svg(&b, s->curve_pred, s->curve_true, s->curve_n, 10);
    fc_printf(&b, "<h2>Per-depth accuracy (top candidate matches what happened)</h2>\n<table>"
                "<tr><th>depth</th><th>n</th><th>accuracy</th><th>target (seed 004)</th>"
                "<th></th></tr>\n");
    for (int k = 1; k <= SL_FC_MAX_DEPTH; k++) {
        if (s->acc_n[k] == 0) continue;
        double t = sl_fc_depth_target(k);
        int ok = isfinite(t) && s->acc[k] > t;
        fc_printf(&b, "<tr><td>%d</td><td>%zu</td><td>%.3f</td><td>%s%.2f</td><td class=\"%s\">%s"
                    "</td></tr>\n", k, s->acc_n[k], s->acc[k], isfinite(t) ? "&gt; " : "",
                isfinite(t) ? t : 0.0, ok ? "ok" : "fail",
                !isfinite(t) ? "no target" : ok ? "meets" : "below");
    }
    fc_printf(&b, "</table>\n</body></html>\n");
    if (st == SL_OK && b.oom) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    if (st == SL_OK) st = sl_write_file_atomic(path, b.p, b.n);
    free(b.p);
    return st;
}
