/* SPDX-License-Identifier: Apache-2.0 */
/* validate.c - the rules of a forecast case file (sl_fc_rule), each issue with file, line and
 * field.
 *
 * Invariant: validation never changes a case unless opts->fix is set, and then only one
 * thing: a node whose event + alternatives sum within fix_tol of 1 (but beyond prob_tol) is
 * divided by its sum, in both the struct and the JSON, and the change is reported as an issue
 * marked fixed. Everything else is only reported.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_internal.h"

static const char *const rule_names[SL_FC_RULE_COUNT] = {
    "required", "prob_range", "prob_sum", "date_format", "date_order",
    "timeframe", "depth", "url", "duplicate"};
_Static_assert(sizeof rule_names / sizeof rule_names[0] == SL_FC_RULE_COUNT, "rule names");

const char *sl_fc_rule_name(sl_fc_rule r) {
    return (unsigned)r < SL_FC_RULE_COUNT ? rule_names[r] : "unknown";
}

void sl_fc_validate_opts_default(sl_fc_validate_opts *o) {
    o->prob_tol = SL_FC_PROB_TOL;
    o->fix_tol = SL_FC_FIX_TOL;
    o->months_tol = SL_FC_MONTHS_TOL;
    o->fix = 0;
}

void sl_fc_report_clear(sl_fc_report *rep) {
    if (!rep) return;
    free(rep->issues);
    memset(rep, 0, sizeof *rep);
}

void sl_fc_issue_format(const sl_fc_issue *is, const char *path, char *buf, size_t n) {
    snprintf(buf, n, "%s:%zu: %s: [%s%s] %s", path, is->line, is->field, sl_fc_rule_name(is->rule),
             is->fixed ? ", fixed" : is->warning ? ", warning" : "", is->message);
}

static sl_status add(sl_fc_report *rep, sl_fc_rule rule, int warning, int fixed, size_t line,
                     const char *field, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static sl_status add(sl_fc_report *rep, sl_fc_rule rule, int warning, int fixed, size_t line,
                     const char *field, const char *fmt, ...) {
    if (rep->n == rep->cap) {
        size_t nc = rep->cap ? 2 * rep->cap : 32;
        sl_fc_issue *ni = realloc(rep->issues, nc * sizeof *ni);
        if (!ni) return sl_set_error(SL_ERR_NOMEM, "forecast validate: out of memory");
        rep->issues = ni;
        rep->cap = nc;
    }
    sl_fc_issue *is = &rep->issues[rep->n++];
    memset(is, 0, sizeof *is);
    is->rule = rule;
    is->warning = warning || fixed;
    is->fixed = fixed;
    is->line = line;
    snprintf(is->field, sizeof is->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
    if (fixed) rep->n_fixed++;
    else if (warning) rep->n_warnings++;
    else rep->n_errors++;
    return SL_OK;
}

/* http(s)://host[:port][/path...] with a host of letters, digits, dots and hyphens that has a
 * dot (or is localhost), no whitespace or control bytes anywhere. */
static int url_ok(const char *u) {
    const char *p;
    if (strncmp(u, "https://", 8) == 0) p = u + 8;
    else if (strncmp(u, "http://", 7) == 0) p = u + 7;
    else return 0;
    const char *h = p;
    int dot = 0;
    while (*p && (isalnum((unsigned char)*p) || *p == '.' || *p == '-')) {
        if (*p == '.') dot = 1;
        p++;
    }
    size_t hl = (size_t)(p - h);
    if (hl == 0 || h[0] == '.' || h[0] == '-' || h[hl - 1] == '.' || h[hl - 1] == '-') return 0;
    if (!dot && !(hl == 9 && strncmp(h, "localhost", 9) == 0)) return 0;
    if (*p == ':') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) p++, nd++;
        if (nd == 0 || nd > 5) return 0;
    }
    if (*p && *p != '/' && *p != '?' && *p != '#') return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) return 0;
    return 1;
}

static sl_status check_sources(sl_fc_report *rep, const cJSON *src, size_t line,
                               const char *where) {
    if (!src || !cJSON_IsArray(src)) return SL_OK;
    size_t i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, src) {
        char f[96];
        snprintf(f, sizeof f, "%s[%zu]", where, i++);
        if (!cJSON_IsString(s))
            SL_TRY(add(rep, SL_FC_RULE_URL, 0, 0, line, f, "a source must be a URL string"));
        else if (!url_ok(s->valuestring))
            SL_TRY(add(rep, SL_FC_RULE_URL, 0, 0, line, f, "'%.120s' is not an http(s) URL",
                       s->valuestring));
    }
    return SL_OK;
}

static int empty(const char *s) {
    if (!s) return 1;
    while (*s && isspace((unsigned char)*s)) s++;
    return !*s;
}

static uint64_t text_hash(const sl_fc_case *c) {
    char **t = NULL;
    size_t n = 0;
    uint64_t h = 1469598103934665603ull;
    if (fc_tokens(c->seed_event, 0, &t, &n) != SL_OK) return 0;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = t[i]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ ' ') * 1099511628211ull;
    }
    free(t);
    for (const char *p = c->seed_date ? c->seed_date : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static sl_status check_node_probs(sl_fc_case *c, size_t i, const sl_fc_validate_opts *o,
                                  sl_fc_report *rep) {
    sl_fc_node *nd = &c->nodes[i];
    char f[96];
    snprintf(f, sizeof f, "outcome_chain[%zu].probability", i);
    int range_ok = 1;
    if (isnan(nd->prob)) {
        SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, c->line, f, "missing"));
        return SL_OK;
    }
    if (!(nd->prob >= 0.0 && nd->prob <= 1.0)) {
        SL_TRY(add(rep, SL_FC_RULE_PROB_RANGE, 0, 0, c->line, f, "%g is outside [0, 1]", nd->prob));
        range_ok = 0;
    }
    double sum = nd->prob;
    for (size_t j = 0; j < nd->n_alts; j++) {
        char af[96];
        snprintf(af, sizeof af, "outcome_chain[%zu].alternatives[%zu]", i, j);
        if (empty(nd->alts[j].event))
            SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, c->line, af, "event missing or empty"));
        double p = nd->alts[j].prob;
        if (isnan(p)) {
            SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, c->line, af, "probability missing"));
            range_ok = 0;
        } else if (!(p >= 0.0 && p <= 1.0)) {
            SL_TRY(add(rep, SL_FC_RULE_PROB_RANGE, 0, 0, c->line, af, "probability %g is outside [0, 1]", p));
            range_ok = 0;
        }
        sum += p;
    }
    snprintf(f, sizeof f, "outcome_chain[%zu]", i);
    if (nd->n_alts == 0) {
        if (range_ok)
            SL_TRY(add(rep, SL_FC_RULE_PROB_SUM, 1, 0, c->line, f,
                       "no alternatives: the complement %.4g is implied", 1.0 - nd->prob));
        return SL_OK;
    }
    if (!range_ok) return SL_OK;
    double dev = sum - 1.0;
    if (fabs(dev) <= o->prob_tol) return SL_OK;
    if (o->fix && fabs(dev) <= o->fix_tol && sum > 0.0) {
        cJSON *nj = fc_node_json(c, i);
        nd->prob /= sum;
        fc_json_set_num(nj, fc_node_prob_keys, nd->prob);
        cJSON *aj = nj ? cJSON_GetObjectItemCaseSensitive(nj, "alternatives") : NULL;
        if (!aj && nj) aj = cJSON_GetObjectItemCaseSensitive(nj, "alternative_outcomes");
        for (size_t j = 0; j < nd->n_alts; j++) {
            nd->alts[j].prob /= sum;
            fc_json_set_num(aj ? cJSON_GetArrayItem(aj, (int)j) : NULL, fc_alt_prob_keys,
                            nd->alts[j].prob);
        }
        return add(rep, SL_FC_RULE_PROB_SUM, 0, 1, c->line, f,
                   "event + alternatives summed to %.6g (deviation %+.6g); renormalised", sum, dev);
    }
    return add(rep, SL_FC_RULE_PROB_SUM, 0, 0, c->line, f,
               "event + alternatives sum to %.6g (deviation %+.6g, tolerance %g%s)", sum, dev,
               o->prob_tol, fabs(dev) <= o->fix_tol ? "; --fix renormalises it" : "");
}

static sl_status check_case(sl_fc_case *c, const sl_fc_validate_opts *o, sl_fc_report *rep) {
    size_t L = c->line;
    if (empty(c->case_id)) SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, "case_id", "missing or empty"));
    if (empty(c->seed_event))
        SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, "seed_event", "missing or empty"));
    if (empty(c->domain)) SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, "domain", "missing or empty"));
    int64_t seed_days = 0;
    int seed_ok = 0;
    if (empty(c->seed_date)) {
        SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, "seed_date", "missing or empty"));
    } else if (sl_fc_date_days(c->seed_date, &seed_days) != SL_OK) {
        SL_TRY(add(rep, SL_FC_RULE_DATE_FORMAT, 0, 0, L, "seed_date", "%s", sl_last_error()));
    } else {
        seed_ok = 1;
    }
    if (c->n_nodes == 0)
        SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, "outcome_chain", "missing or empty"));
    int64_t prev_days = seed_days;
    int prev_ok = seed_ok;
    const char *prev_name = "seed_date";
    char prev_buf[64];
    for (size_t i = 0; i < c->n_nodes; i++) {
        sl_fc_node *nd = &c->nodes[i];
        char f[96];
        snprintf(f, sizeof f, "outcome_chain[%zu].depth", i);
        if (nd->depth != (int)i + 1)
            SL_TRY(add(rep, SL_FC_RULE_DEPTH, 0, 0, L, f, "depth %d at position %zu (expected %zu: "
                       "depths run 1..n in order without gaps)", nd->depth, i + 1, i + 1));
        if (nd->depth > SL_FC_MAX_DEPTH)
            SL_TRY(add(rep, SL_FC_RULE_DEPTH, 0, 0, L, f, "depth %d exceeds the maximum %d",
                       nd->depth, SL_FC_MAX_DEPTH));
        snprintf(f, sizeof f, "outcome_chain[%zu].event", i);
        if (empty(nd->event)) SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, f, "missing or empty"));
        SL_TRY(check_node_probs(c, i, o, rep));
        snprintf(f, sizeof f, "outcome_chain[%zu].date", i);
        int64_t d = 0;
        int d_ok = 0;
        if (empty(nd->date)) {
            SL_TRY(add(rep, SL_FC_RULE_REQUIRED, 0, 0, L, f, "missing or empty"));
        } else if (sl_fc_date_days(nd->date, &d) != SL_OK) {
            SL_TRY(add(rep, SL_FC_RULE_DATE_FORMAT, 0, 0, L, f, "%s", sl_last_error()));
        } else {
            d_ok = 1;
        }
        if (d_ok && prev_ok && d < prev_days)
            SL_TRY(add(rep, SL_FC_RULE_DATE_ORDER, 0, 0, L, f, "%s is before %s",
                       nd->date, prev_name));
        snprintf(f, sizeof f, "outcome_chain[%zu].timeframe_months", i);
        if (!isnan(nd->timeframe_months)) {
            if (!(nd->timeframe_months >= 0.0 && nd->timeframe_months < 1e4))
                SL_TRY(add(rep, SL_FC_RULE_TIMEFRAME, 0, 0, L, f, "%g is not in [0, 10000)",
                           nd->timeframe_months));
            else if (d_ok && seed_ok) {
                double m = sl_fc_months_between(seed_days, d);
                if (fabs(m - nd->timeframe_months) > o->months_tol)
                    SL_TRY(add(rep, SL_FC_RULE_TIMEFRAME, 0, 0, L, f,
                               "%g months, but %s is %.1f months after the seed date %s "
                               "(tolerance %g)", nd->timeframe_months, nd->date, m,
                               c->seed_date, o->months_tol));
            }
        }
        if (d_ok) {
            prev_days = d;
            prev_ok = 1;
            snprintf(prev_buf, sizeof prev_buf, "depth %d's date", nd->depth);
            prev_name = prev_buf;
        }
        cJSON *nj = fc_node_json(c, i);
        snprintf(f, sizeof f, "outcome_chain[%zu].sources", i);
        SL_TRY(check_sources(rep, nj ? cJSON_GetObjectItemCaseSensitive(nj, "sources") : NULL, L, f));
    }
    return check_sources(rep, cJSON_GetObjectItemCaseSensitive(c->json, "sources"), L, "sources");
}

sl_status sl_fc_validate(sl_fc_set *s, const sl_fc_validate_opts *o, sl_fc_report *rep) {
    sl_fc_validate_opts def;
    if (!o) {
        sl_fc_validate_opts_default(&def);
        o = &def;
    }
    uint64_t *h = calloc(s->n ? s->n : 1, sizeof *h);
    if (!h) return sl_set_error(SL_ERR_NOMEM, "forecast validate: out of memory");
    sl_status st = SL_OK;
    for (size_t i = 0; st == SL_OK && i < s->n; i++) {
        sl_fc_case *c = &s->cases[i];
        st = check_case(c, o, rep);
        h[i] = text_hash(c);
        for (size_t j = 0; st == SL_OK && j < i; j++) {
            const sl_fc_case *p = &s->cases[j];
            if (c->case_id && p->case_id && *c->case_id && strcmp(c->case_id, p->case_id) == 0) {
                st = add(rep, SL_FC_RULE_DUPLICATE, 0, 0, c->line, "case_id",
                         "'%.60s' already used on line %zu", c->case_id, p->line);
            } else if (h[j] == h[i] && !empty(c->seed_event)) {
                st = add(rep, SL_FC_RULE_DUPLICATE, 0, 0, c->line, "seed_event",
                         "same normalised seed event and date as line %zu (case '%.60s')", p->line,
                         p->case_id ? p->case_id : "");
            }
        }
    }
    free(h);
    return st;
}
