/* SPDX-License-Identifier: Apache-2.0 */
/* data.c - what is made from case files: leakage-free splits, seed 004's template cases, the
 * prompt and target of a case, chat-format SFT records and the GRPO reward.
 *
 * Invariants: a split never puts a case in a segment unless every one of its dates lies in
 * that segment's date range, and never puts a synthetic case in calib or test; the prompt
 * carries only what was known on the seed date (event, date, context, number of depths).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fc_internal.h"

/* --- splits ---------------------------------------------------------------- */

static sl_status case_dates(const sl_fc_case *c, const char *path, int64_t *lo, int64_t *hi) {
    int64_t d;
    if (sl_fc_date_days(c->seed_date, &d) != SL_OK)
        return sl_set_error(SL_ERR_FORMAT, "%s:%zu: seed_date: %s (run forecast validate)", path,
                            c->line, sl_last_error());
    *lo = *hi = d;
    for (size_t k = 0; k < c->n_nodes; k++) {
        if (sl_fc_date_days(c->nodes[k].date, &d) != SL_OK)
            return sl_set_error(SL_ERR_FORMAT, "%s:%zu: outcome_chain[%zu].date: %s (run forecast "
                                "validate)", path, c->line, k, sl_last_error());
        if (d < *lo) *lo = d;
        if (d > *hi) *hi = d;
    }
    return SL_OK;
}

static int segment_of(int64_t d, int has_calib, int64_t cal, int64_t test) {
    if (d >= test) return SL_FC_TEST;
    if (has_calib && d >= cal) return SL_FC_CALIB;
    return SL_FC_TRAIN;
}

sl_status sl_fc_split_date(const sl_fc_set *s, const char *calib_cutoff, const char *test_cutoff,
                           sl_fc_segment *seg, const char **why) {
    int64_t cal = 0, test = 0;
    if (!test_cutoff || sl_fc_date_days(test_cutoff, &test) != SL_OK)
        return sl_set_error(SL_ERR_ARG, "split: test cutoff: %s",
                            test_cutoff ? sl_last_error() : "missing");
    if (calib_cutoff) {
        if (sl_fc_date_days(calib_cutoff, &cal) != SL_OK)
            return sl_set_error(SL_ERR_ARG, "split: calibration cutoff: %s", sl_last_error());
        if (cal >= test)
            return sl_set_error(SL_ERR_ARG, "split: calibration cutoff %s is not before the test "
                                "cutoff %s", calib_cutoff, test_cutoff);
    }
    for (size_t i = 0; i < s->n; i++) {
        const sl_fc_case *c = &s->cases[i];
        int64_t lo = 0, hi = 0;
        SL_TRY(case_dates(c, s->path, &lo, &hi));
        int a = segment_of(lo, calib_cutoff != NULL, cal, test);
        int b = segment_of(hi, calib_cutoff != NULL, cal, test);
        const char *w = NULL;
        if (a != b) {
            seg[i] = SL_FC_EXCLUDED;
            w = "its dates cross a cutoff";
        } else if (c->synthetic && a != SL_FC_TRAIN) {
            seg[i] = SL_FC_EXCLUDED;
            w = "synthetic cases never go to calib or test";
        } else {
            seg[i] = (sl_fc_segment)a;
        }
        if (why) why[i] = w;
    }
    return SL_OK;
}

static int domain_listed(const char *list, const char *d) {
    if (!d) return 0;
    size_t dl = strlen(d);
    for (const char *p = list; *p;) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && isspace((unsigned char)t[-1])) t--;
        if ((size_t)(t - p) == dl && dl && strncasecmp(p, d, dl) == 0) return 1;
        p = e;
    }
    return 0;
}

sl_status sl_fc_split_domain(const sl_fc_set *s, const char *test_domains, sl_fc_segment *seg,
                             const char **why) {
    if (!test_domains || !*test_domains)
        return sl_set_error(SL_ERR_ARG, "split: no test domains given");
    for (size_t i = 0; i < s->n; i++) {
        const sl_fc_case *c = &s->cases[i];
        const char *w = NULL;
        if (!c->domain) {
            seg[i] = SL_FC_EXCLUDED;
            w = "no domain";
        } else if (domain_listed(test_domains, c->domain)) {
            if (c->synthetic) {
                seg[i] = SL_FC_EXCLUDED;
                w = "synthetic cases never go to test";
            } else {
                seg[i] = SL_FC_TEST;
            }
        } else {
            seg[i] = SL_FC_TRAIN;
        }
        if (why) why[i] = w;
    }
    return SL_OK;
}

/* --- templates ------------------------------------------------------------------ */

#define T_LEVELS 3
#define T_CANDS 4

typedef struct tmpl {
    const char *id, *seed_fmt, *context, *domain;
    int slots[4];                      /* integer slot values for %d */
    int gap_months[T_LEVELS];          /* typical months from the previous level */
    const char *cand[T_LEVELS][T_CANDS];
} tmpl;

static const tmpl templates[] = {
    {"tech_layoffs", "Major tech company announces layoffs of %d employees",
     "Tech downturn, rising interest rates, over-hiring during pandemic", "Technology",
     {5000, 10000, 12000, 18000}, {1, 3, 9},
     {{"Stock price drops 15% in initial trading", "Stock price rises on cost-cutting news",
       "CEO announces restructuring plan", "Stock price flat as layoffs were expected"},
      {"Competitors announce similar layoffs", "Company announces modest hiring for AI roles",
       "Union organising drive starts at the company", "Regulators open inquiry into notice rules"},
      {"Company returns to profitability", "Second round of layoffs announced",
       "Company sells a business unit", "Revenue keeps falling for a year"}}},
    {"rate_hike", "Central bank raises policy rate by %d basis points",
     "Inflation well above target, tight labour market", "Economics", {25, 50, 75, 100}, {1, 4, 8},
     {{"Mortgage rates rise above their recent range", "Currency strengthens against the dollar",
       "Bond yields fall on recession fears", "Stock market rallies on the decision"},
      {"Housing sales decline year over year", "Inflation slows within six months",
       "Banks tighten lending standards", "Unemployment rises half a point"},
      {"Central bank pauses rate hikes", "Economy enters technical recession",
       "Another rate hike follows", "Central bank cuts rates"}}},
    {"ubi_pilot", "City launches universal basic income pilot for %d residents",
     "Rising cost of living, philanthropic funding, national debate on welfare", "Policy",
     {500, 1000, 2000, 3000}, {2, 6, 12},
     {{"Participants report reduced financial stress", "Critics warn about work incentives",
       "Enrollment falls short of target", "Local businesses report higher sales"},
      {"Employment among participants unchanged", "Pilot extended for another year",
       "State legislature debates a statewide program", "Funding dispute halts payments"},
      {"Neighbouring cities launch similar pilots", "Study finds improved health outcomes",
       "Program ends when funding runs out", "Ballot measure for a permanent program fails"}}},
    {"social_media_ban", "Country bans a popular social media app for users under %d",
     "Concerns about youth mental health, data security disputes", "Technology",
     {13, 14, 16, 18}, {1, 4, 12},
     {{"App challenges the ban in court", "Use of VPN services surges",
       "Competing apps gain downloads", "App introduces age verification"},
      {"Court upholds the ban", "Other countries announce similar bans",
       "Ban suspended pending appeal", "App's local revenue falls sharply"},
      {"Youth screen time declines in surveys", "Ban extended to other platforms",
       "Ban repealed after elections", "Shared adult accounts become widespread"}}},
    {"oil_cut", "Oil producers announce an output cut of %d hundred thousand barrels per day",
     "Weak demand outlook, prices below producers' budget needs", "Energy", {5, 10, 15, 20},
     {1, 3, 6},
     {{"Crude prices jump 5% the next day", "Crude prices fall as demand weakens",
       "Importing nations release strategic reserves", "Prices little changed"},
      {"Gasoline prices rise at the pump", "Inflation ticks up in importing countries",
       "Shale producers raise output", "Cartel members exceed their quotas"},
      {"Cut extended for another quarter", "Cut reversed as prices rise",
       "Demand destruction lowers prices", "Diplomatic row with a major importer"}}},
    {"minimum_wage", "State raises the minimum wage to $%d per hour",
     "Tight labour market, rising rents, ballot initiative pressure", "Economics",
     {15, 16, 18, 20}, {2, 6, 12},
     {{"Restaurants raise menu prices", "Small businesses announce hiring freezes",
       "Worker turnover falls", "Lawsuit challenges the increase"},
      {"Employment in fast food unchanged", "Ordering kiosks spread in restaurants",
       "Neighbouring states propose increases", "Teen employment falls"},
      {"Further increase indexed to inflation", "Increase partly rolled back",
       "Study finds small price effects", "Business closures rise"}}},
    {"chip_export_controls", "Government restricts exports of advanced chips to %d countries",
     "Strategic rivalry, concerns over military use of AI", "Geopolitics", {1, 2, 3, 5},
     {1, 6, 12},
     {{"Chipmaker shares fall on revenue warnings", "Targeted country files a trade complaint",
       "Allies announce matching restrictions", "Stockpiling of chips ahead of deadlines"},
      {"Targeted country boosts domestic chip subsidies", "Smuggling cases prosecuted",
       "Chipmakers design compliant lower-end chips", "Restrictions eased after lobbying"},
      {"Domestic rival chip reaches the market", "Controls expanded to more products",
       "Export revenue recovers through other markets", "Retaliatory export limits on minerals"}}},
    {"data_breach", "Large retailer discloses a data breach affecting %d million customers",
     "Rising ransomware attacks, new privacy regulations", "Technology", {10, 40, 70, 100},
     {1, 4, 12},
     {{"Retailer shares fall 5% on the news", "Class action lawsuits filed",
       "Chief security officer resigns", "Shares recover within a week"},
      {"Regulator opens an investigation", "Retailer offers free credit monitoring",
       "Sales decline during the holiday quarter", "Breach traced to a third-party vendor"},
      {"Retailer settles for a record fine", "New data protection law passed",
       "Customer traffic returns to normal", "Second breach disclosed"}}},
    {"steel_tariff", "Government imposes %d%% tariffs on imported steel",
     "Domestic mill closures, trade deficit politics", "Economics", {10, 15, 25, 50}, {1, 4, 10},
     {{"Domestic steel prices rise", "Trading partners announce retaliation",
       "Domestic steelmaker shares jump", "Exemptions granted to allies"},
      {"Carmakers warn of higher costs", "Domestic mills restart idle capacity",
       "Imports shift to other countries", "Farm exports hit by retaliation"},
      {"Tariffs lifted in a trade deal", "Steel employment rises modestly",
       "Tariffs extended to aluminium", "World trade body rules against the tariffs"}}},
    {"outbreak_lockdown", "Regional outbreak prompts a %d-week lockdown",
     "New respiratory virus, hospitals near capacity", "Health", {2, 3, 4, 6}, {1, 3, 8},
     {{"Case numbers peak within two weeks", "Lockdown extended",
       "Protests against restrictions", "Panic buying empties shelves"},
      {"Regional economy contracts for a quarter", "Vaccination campaign begins",
       "Second wave forces new restrictions", "Schools reopen with testing"},
      {"Economy recovers to pre-outbreak output", "Outbreak declared over",
       "Public inquiry into the response", "Virus becomes seasonal"}}},
};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

static void days_to_date(int64_t z, char out[11]) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

sl_status sl_fc_templates(size_t n, uint64_t seed, int probs_uniform, int start_year,
                          cJSON **out) {
    *out = NULL;
    if (n == 0 || n > 1000000) return sl_set_error(SL_ERR_ARG, "templates: n = %zu outside [1, 1e6]", n);
    if (start_year < 1900 || start_year > 2200)
        return sl_set_error(SL_ERR_ARG, "templates: start year %d outside [1900, 2200]", start_year);
    char buf[16];
    snprintf(buf, sizeof buf, "%04d-01-01", start_year);
    int64_t base;
    SL_TRY(sl_fc_date_days(buf, &base));
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return sl_set_error(SL_ERR_NOMEM, "templates: out of memory");
    for (size_t i = 0; i < n; i++) {
        const tmpl *t = &templates[i % N_TEMPLATES];
        int slot = t->slots[sl_rng_below(&r, 4)];
        char ev[160], id[96], date[11];
        snprintf(ev, sizeof ev, t->seed_fmt, slot);
        snprintf(id, sizeof id, "tmpl_%s_%zu", t->id, i);
        int64_t sd = base + (int64_t)i * 7 + (int64_t)sl_rng_below(&r, 7);
        days_to_date(sd, date);
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            cJSON_Delete(arr);
            return sl_set_error(SL_ERR_NOMEM, "templates: out of memory");
        }
        cJSON_AddStringToObject(c, "case_id", id);
        cJSON_AddStringToObject(c, "seed_event", ev);
        cJSON_AddStringToObject(c, "seed_date", date);
        cJSON_AddStringToObject(c, "context", t->context);
        cJSON_AddStringToObject(c, "domain", t->domain);
        cJSON_AddTrueToObject(c, "synthetic");
        cJSON_AddStringToObject(c, "template", t->id);
        cJSON *ch = cJSON_AddArrayToObject(c, "outcome_chain");
        int64_t nd_days = sd;
        for (int lv = 0; ch && lv < T_LEVELS; lv++) {
            double pr[T_CANDS], sum = 0.0;
            for (int k = 0; k < T_CANDS; k++) {
                pr[k] = probs_uniform ? 1.0 : -log(1.0 - sl_rng_uniform(&r)); /* Dirichlet(1) */
                sum += pr[k];
            }
            for (int k = 0; k < T_CANDS; k++) pr[k] /= sum;
            size_t hap = probs_uniform ? 0 : sl_rng_categorical(&r, pr, T_CANDS);
            if (hap >= T_CANDS) hap = 0;
            /* probabilities rounded to 1e-4 with the rounding error put on the largest one */
            double rs = 0.0;
            size_t big = 0;
            for (int k = 0; k < T_CANDS; k++) {
                pr[k] = round(pr[k] * 1e4) / 1e4;
                rs += pr[k];
                if (pr[k] > pr[big]) big = (size_t)k;
            }
            pr[big] += 1.0 - rs;
            nd_days += (int64_t)llround(t->gap_months[lv] * 30.436875) + (int64_t)sl_rng_below(&r, 15);
            days_to_date(nd_days, date);
            cJSON *nd = cJSON_CreateObject();
            if (!nd || !cJSON_AddItemToArray(ch, nd)) {
                cJSON_Delete(nd);
                cJSON_Delete(arr);
                return sl_set_error(SL_ERR_NOMEM, "templates: out of memory");
            }
            cJSON_AddNumberToObject(nd, "depth", lv + 1);
            cJSON_AddStringToObject(nd, "event", t->cand[lv][hap]);
            cJSON_AddStringToObject(nd, "date", date);
            cJSON_AddNumberToObject(nd, "timeframe_months",
                                    round(sl_fc_months_between(sd, nd_days) * 10.0) / 10.0);
            cJSON_AddNumberToObject(nd, "probability", pr[hap]);
            cJSON *al = cJSON_AddArrayToObject(nd, "alternatives");
            for (size_t k = 0; al && k < T_CANDS; k++) {
                if (k == hap) continue;
                cJSON *a = cJSON_CreateObject();
                if (!a || !cJSON_AddItemToArray(al, a)) {
                    cJSON_Delete(a);
                    break;
                }
                cJSON_AddStringToObject(a, "event", t->cand[lv][k]);
                cJSON_AddNumberToObject(a, "probability", pr[k]);
            }
        }
    }
    *out = arr;
    return SL_OK;
}

/* --- prompt, target, SFT ------------------------------------------------------------- */

const char *sl_fc_system_prompt(void) {
    return "You forecast chains of consequences of historical events. You give calibrated "
           "probabilities and answer with JSON only.";
}

char *sl_fc_prompt(const sl_fc_case *c) {
    const char *fmt =
        "Given this historical event:\n"
        "Event: %s\n"
        "Date: %s\n"
        "Context: %s\n"
        "\n"
        "Predict the most likely outcomes as a chain of consequences with %zu levels (depth 1 = "
        "immediate, each deeper level a consequence of the one before). For every depth give "
        "the most likely event, its probability, the months after the event date when it "
        "happens, and the main alternatives with their probabilities; the event and its "
        "alternatives are mutually exclusive and their probabilities sum to 1. Answer with "
        "JSON only: {\"outcome_chain\": [{\"depth\": 1, \"event\": \"...\", \"probability\": "
        "0.6, \"timeframe_months\": 1, \"alternatives\": [{\"event\": \"...\", \"probability\": "
        "0.4}]}]}";
    size_t levels = c->n_nodes ? c->n_nodes : 3;
    const char *ev = c->seed_event ? c->seed_event : "", *dt = c->seed_date ? c->seed_date : "",
               *cx = c->context ? c->context : "(none)";
    int n = snprintf(NULL, 0, fmt, ev, dt, cx, levels);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        sl_set_error(SL_ERR_NOMEM, "forecast prompt: out of memory");
        return NULL;
    }
    snprintf(s, (size_t)n + 1, fmt, ev, dt, cx, levels);
    return s;
}

char *sl_fc_target_json(const sl_fc_case *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON *ch = o ? cJSON_AddArrayToObject(o, "outcome_chain") : NULL;
    for (size_t k = 0; ch && k < c->n_nodes; k++) {
        const sl_fc_node *nd = &c->nodes[k];
        cJSON *n = cJSON_CreateObject();
        if (!n || !cJSON_AddItemToArray(ch, n)) {
            cJSON_Delete(n);
            ch = NULL;
            break;
        }
        cJSON_AddNumberToObject(n, "depth", nd->depth);
        cJSON_AddStringToObject(n, "event", nd->event ? nd->event : "");
        if (isfinite(nd->prob)) cJSON_AddNumberToObject(n, "probability", nd->prob);
        if (isfinite(nd->timeframe_months))
            cJSON_AddNumberToObject(n, "timeframe_months", nd->timeframe_months);
        cJSON *al = cJSON_AddArrayToObject(n, "alternatives");
        for (size_t j = 0; al && j < nd->n_alts; j++) {
            cJSON *a = cJSON_CreateObject();
            if (!a || !cJSON_AddItemToArray(al, a)) {
                cJSON_Delete(a);
                break;
            }
            cJSON_AddStringToObject(a, "event", nd->alts[j].event ? nd->alts[j].event : "");
            if (isfinite(nd->alts[j].prob)) cJSON_AddNumberToObject(a, "probability", nd->alts[j].prob);
        }
    }
    char *s = ch ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) sl_set_error(SL_ERR_NOMEM, "forecast target: out of memory");
    return s;
}

static int add_msg(cJSON *msgs, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToArray(msgs, m)) {
        cJSON_Delete(m);
        return 0;
    }
    return cJSON_AddStringToObject(m, "role", role) && cJSON_AddStringToObject(m, "content", content);
}

cJSON *sl_fc_sft_record(const sl_fc_case *c) {
    char *prompt = sl_fc_prompt(c), *target = sl_fc_target_json(c);
    cJSON *o = prompt && target ? cJSON_CreateObject() : NULL;
    cJSON *msgs = o ? cJSON_AddArrayToObject(o, "messages") : NULL;
    int ok = msgs && add_msg(msgs, "system", sl_fc_system_prompt()) &&
             add_msg(msgs, "user", prompt) && add_msg(msgs, "assistant", target);
    free(prompt);
    free(target);
    if (!ok) {
        cJSON_Delete(o);
        sl_set_error(SL_ERR_NOMEM, "forecast export: out of memory");
        return NULL;
    }
    return o;
}

/* --- GRPO reward --------------------------------------------------------------------- */

void sl_fc_reward_weights_default(sl_fc_reward_weights *w) {
    w->calibration = 0.4;
    w->sharpness = 0.2;
    w->diversity = 0.2;
    w->coherence = 0.2;
    w->diversity_target = 3;
}

static double cand_p(const sl_fc_node *n, size_t j) { return j == 0 ? n->prob : n->alts[j - 1].prob; }
static const char *cand_e(const sl_fc_node *n, size_t j) {
    return j == 0 ? n->event : n->alts[j - 1].event;
}

sl_status sl_fc_reward_case(const sl_fc_case *pred, const sl_fc_case *truth,
                            const sl_fc_reward_weights *w, sl_fc_reward *out) {
    sl_fc_reward_weights def;
    if (!w) {
        sl_fc_reward_weights_default(&def);
        w = &def;
    }
    memset(out, 0, sizeof *out);
    double wsum = w->calibration + w->sharpness + w->diversity + w->coherence;
    if (!(w->calibration >= 0 && w->sharpness >= 0 && w->diversity >= 0 && w->coherence >= 0) ||
        !(wsum > 0.0) || w->diversity_target < 2)
        return sl_set_error(SL_ERR_ARG, "reward: weights must be >= 0 with a positive sum and "
                            "diversity target >= 2");
    /* calibration: 1 - Brier of the case's items */
    sl_fc_set ts = {.cases = (sl_fc_case *)truth, .n = 1, .path = (char *)"truth"};
    sl_fc_set ps = {.cases = (sl_fc_case *)pred, .n = 1, .path = (char *)"prediction"};
    sl_fc_eval *e = NULL;
    SL_TRY(sl_fc_evaluate(&ps, &ts, 0.0, &e));
    sl_fc_scores sc;
    sl_status st = sl_fc_score(e, NAN, NULL, &sc);
    sl_fc_eval_free(e);
    SL_TRY(st);
    out->calibration = 1.0 - sc.brier;
    size_t nn = pred->n_nodes;
    if (nn > 0) {
        double sh = 0.0, dv = 0.0;
        int checks = 0, passed = 0;
        double prev_tf = 0.0;
        for (size_t i = 0; i < nn; i++) {
            const sl_fc_node *n = &pred->nodes[i];
            size_t k = n->n_alts + 1;
            double sum = 0.0;
            for (size_t j = 0; j < k; j++) sum += cand_p(n, j);
            double resid = sum < 1.0 ? 1.0 - sum : 0.0, tot = sum + resid, h = 0.0;
            size_t cats = k + (resid > 0.0);
            for (size_t j = 0; j <= k; j++) {
                double q = (j < k ? cand_p(n, j) : resid) / tot;
                if (q > 0.0) h -= q * log(q);
            }
            sh += cats > 1 ? 1.0 - h / log((double)cats) : 1.0;
            /* diversity: distinct plausible branches (p >= 0.05, not near-duplicates) */
            size_t kept[64], nk = 0;
            for (size_t j = 0; j < k && nk < 64; j++) {
                if (cand_p(n, j) < 0.05) continue;
                int dup = 0;
                for (size_t q = 0; q < nk && !dup; q++)
                    dup = sl_fc_similarity(cand_e(n, j), cand_e(n, kept[q])) >= SL_FC_MATCH_THRESHOLD;
                if (!dup) kept[nk++] = j;
            }
            double d = nk > 0 ? (double)(nk - 1) / (double)(w->diversity_target - 1) : 0.0;
            dv += d > 1.0 ? 1.0 : d;
            /* coherence checks */
            checks += 4;
            passed += n->depth == (int)i + 1;
            passed += n->n_alts ? fabs(sum - 1.0) <= SL_FC_FIX_TOL : sum <= 1.0 + SL_FC_FIX_TOL;
            passed += isfinite(n->timeframe_months) && n->timeframe_months >= prev_tf;
            if (isfinite(n->timeframe_months)) prev_tf = n->timeframe_months;
            passed += i == 0 || sl_fc_similarity(n->event, pred->nodes[i - 1].event) < 1.0;
        }
        out->sharpness = sh / (double)nn;
        out->diversity = dv / (double)nn;
        out->coherence = (double)passed / (double)checks;
    }
    out->total = (w->calibration * out->calibration + w->sharpness * out->sharpness +
                  w->diversity * out->diversity + w->coherence * out->coherence) / wsum;
    return SL_OK;
}

/* --- baselines ---------------------------------------------------------------------- */

double sl_fc_base_rate(const sl_fc_set *s) {
    double pos = 0.0, tot = 0.0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->cases[i].n_nodes; k++) {
            pos += 1.0;
            tot += 1.0 + (double)s->cases[i].nodes[k].n_alts;
        }
    return tot > 0.0 ? pos / tot : (double)NAN;
}

sl_status sl_fc_baseline_case(const sl_fc_case *c, sl_fc_baseline kind, double base_rate,
                              double distort, sl_rng *r, cJSON **out) {
    *out = NULL;
    if (kind == SL_FC_BASE_RATE && !(base_rate >= 0.0 && base_rate <= 1.0))
        return sl_set_error(SL_ERR_ARG, "baseline: base rate %g outside [0, 1]", base_rate);
    if (kind == SL_FC_BASE_ANNOTATED && !(distort > 0.0 && isfinite(distort)))
        return sl_set_error(SL_ERR_ARG, "baseline: distortion %g must be > 0", distort);
    cJSON *o = cJSON_CreateObject();
    cJSON *ch = o ? cJSON_AddArrayToObject(o, "outcome_chain") : NULL;
    if (!ch || !cJSON_AddStringToObject(o, "case_id", c->case_id ? c->case_id : "")) {
        cJSON_Delete(o);
        return sl_set_error(SL_ERR_NOMEM, "baseline: out of memory");
    }
    for (size_t k = 0; k < c->n_nodes; k++) {
        const sl_fc_node *nd = &c->nodes[k];
        size_t m = nd->n_alts + 1;
        size_t *idx = malloc(m * sizeof *idx);
        cJSON *n = idx ? cJSON_CreateObject() : NULL;
        cJSON *al = n ? cJSON_CreateArray() : NULL;
        if (!al || !cJSON_AddItemToArray(ch, n)) {
            free(idx);
            cJSON_Delete(n);
            cJSON_Delete(al);
            cJSON_Delete(o);
            return sl_set_error(SL_ERR_NOMEM, "baseline: out of memory");
        }
        for (size_t j = 0; j < m; j++) idx[j] = j;
        sl_rng_shuffle(r, idx, m); /* ties must not favour what happened */
        cJSON_AddNumberToObject(n, "depth", nd->depth);
        for (size_t j = 0; j < m; j++) {
            size_t q = idx[j];
            const char *ev = q == 0 ? nd->event : nd->alts[q - 1].event;
            double ap = q == 0 ? nd->prob : nd->alts[q - 1].prob, p;
            if (kind == SL_FC_BASE_UNIFORM) p = 1.0 / (double)m;
            else if (kind == SL_FC_BASE_RATE) p = base_rate;
            else p = 1.0 / (1.0 + exp(-distort * sl_fc_logit(ap)));
            if (j == 0) {
                cJSON_AddStringToObject(n, "event", ev ? ev : "");
                cJSON_AddNumberToObject(n, "probability", p);
                continue;
            }
            cJSON *a = cJSON_CreateObject();
            if (!a || !cJSON_AddItemToArray(al, a)) {
                cJSON_Delete(a);
                free(idx);
                cJSON_Delete(al);
                cJSON_Delete(o);
                return sl_set_error(SL_ERR_NOMEM, "baseline: out of memory");
            }
            cJSON_AddStringToObject(a, "event", ev ? ev : "");
            cJSON_AddNumberToObject(a, "probability", p);
        }
        free(idx);
        cJSON_AddItemToObject(n, "alternatives", al);
    }
    *out = o;
    return SL_OK;
}
