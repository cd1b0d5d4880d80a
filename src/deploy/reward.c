/* SPDX-License-Identifier: Apache-2.0 */
/* reward.c - the reward model: a weighted sum of named components from a config, each
 * component reported (and logged) on its own so that a reward can always be explained.
 *
 * Invariant: total == sum of component[i] exactly as computed (same order of additions), and
 * a missing or non-finite input is an error, never a silent 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "synthloop/sl_deploy.h"

static const char *const kind_names[] = {"value", "delta", "all_true", "gaussian"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == SL_RT_KIND_COUNT, "reward term kinds");

static sl_reward_term *term(sl_reward_model *m, const char *name, sl_reward_term_kind k, double w) {
    sl_reward_term *t = &m->terms[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = k;
    t->weight = w;
    return t;
}

static void field(sl_reward_term *t, const char *f) {
    snprintf(t->fields[t->n_fields++], sizeof t->fields[0], "%s", f);
}

sl_status sl_reward_model_builtin(const char *name, sl_reward_model *out) {
    memset(out, 0, sizeof *out);
    sl_reward_term *t;
    if (name && strcmp(name, "seed003") == 0) {
        t = term(out, "sentiment_gain", SL_RT_DELTA, 0.4);
        field(t, "sentimentBefore");
        field(t, "sentimentAfter");
        t = term(out, "engagement_delta", SL_RT_DELTA, 0.4);
        field(t, "engagementBefore");
        field(t, "engagementAfter");
        t = term(out, "compliance", SL_RT_ALL_TRUE, 0.2);
        field(t, "consentGiven");
        field(t, "privacyRespected");
        /* the seed names empathy_weight and timing_weight without values: 0 until configured */
        t = term(out, "empathy", SL_RT_VALUE, 0.0);
        field(t, "empathyScore");
        t = term(out, "timing", SL_RT_GAUSSIAN, 0.0);
        field(t, "actionTiming");
        t->target = 2.0;
        t->width = 1.0;
    } else if (name && strcmp(name, "workcell") == 0) {
        t = term(out, "units", SL_RT_VALUE, 10.0);
        field(t, "units");
        t = term(out, "timeout", SL_RT_VALUE, -5.0);
        field(t, "timeout");
        t = term(out, "energy_wh", SL_RT_VALUE, -200.0);
        field(t, "energy_wh");
    } else {
        return sl_set_error(SL_ERR_ARG, "unknown reward profile '%s' (seed003, workcell, or a JSON file)",
                            name ? name : "");
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    return SL_OK;
}

static sl_status need_str(const cJSON *o, const char *k, int i, const char **out) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= 48)
        return sl_set_error(SL_ERR_FORMAT, "reward model: components[%d].%s must be a short non-empty string", i, k);
    *out = v->valuestring;
    return SL_OK;
}

sl_status sl_reward_model_parse(const char *json, sl_reward_model *out) {
    memset(out, 0, sizeof *out);
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sl_set_error(SL_ERR_FORMAT, "reward model: not a JSON object");
    }
    const cJSON *nm = cJSON_GetObjectItem(j, "name"), *cs = cJSON_GetObjectItem(j, "components");
    snprintf(out->name, sizeof out->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "custom");
    sl_status s = SL_OK;
    if (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) < 1 || cJSON_GetArraySize(cs) > SL_REWARD_TERMS_MAX)
        s = sl_set_error(SL_ERR_FORMAT, "reward model: \"components\" must be an array of 1..%d", SL_REWARD_TERMS_MAX);
    int i = 0;
    const cJSON *c;
    const cJSON *cl = s == SL_OK ? cs : NULL;
    cJSON_ArrayForEach(c, cl) {
        const char *name, *type, *f;
        if ((s = need_str(c, "name", i, &name)) != SL_OK || (s = need_str(c, "type", i, &type)) != SL_OK) break;
        int k = -1;
        for (int q = 0; q < SL_RT_KIND_COUNT; q++)
            if (strcmp(type, kind_names[q]) == 0) k = q;
        if (k < 0) {
            s = sl_set_error(SL_ERR_FORMAT, "reward model: components[%d].type '%s' is not one of "
                             "value, delta, all_true, gaussian", i, type);
            break;
        }
        const cJSON *w = cJSON_GetObjectItem(c, "weight");
        if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble)) {
            s = sl_set_error(SL_ERR_FORMAT, "reward model: components[%d].weight must be a finite number", i);
            break;
        }
        sl_reward_term *t = term(out, name, (sl_reward_term_kind)k, w->valuedouble);
        if (k == SL_RT_DELTA) {
            if ((s = need_str(c, "before", i, &f)) != SL_OK) break;
            field(t, f);
            if ((s = need_str(c, "after", i, &f)) != SL_OK) break;
            field(t, f);
        } else if (k == SL_RT_ALL_TRUE) {
            const cJSON *fs = cJSON_GetObjectItem(c, "fields"), *e;
            if (!cJSON_IsArray(fs) || cJSON_GetArraySize(fs) < 1 || cJSON_GetArraySize(fs) > SL_REWARD_FIELDS_MAX) {
                s = sl_set_error(SL_ERR_FORMAT, "reward model: components[%d].fields must list 1..%d names", i,
                                 SL_REWARD_FIELDS_MAX);
                break;
            }
            cJSON_ArrayForEach(e, fs) {
                if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) >= 48) {
                    s = sl_set_error(SL_ERR_FORMAT, "reward model: components[%d].fields holds a non-string", i);
                    break;
                }
                field(t, e->valuestring);
            }
            if (s != SL_OK) break;
        } else {
            if ((s = need_str(c, "field", i, &f)) != SL_OK) break;
            field(t, f);
            if (k == SL_RT_GAUSSIAN) {
                const cJSON *tg = cJSON_GetObjectItem(c, "target"), *wd = cJSON_GetObjectItem(c, "width");
                if (!cJSON_IsNumber(tg) || !cJSON_IsNumber(wd) || !(wd->valuedouble > 0) ||
                    !isfinite(tg->valuedouble) || !isfinite(wd->valuedouble)) {
                    s = sl_set_error(SL_ERR_FORMAT, "reward model: components[%d] (gaussian) needs a finite "
                                     "target and a width > 0", i);
                    break;
                }
                t->target = tg->valuedouble;
                t->width = wd->valuedouble;
            }
        }
        i++;
    }
    cJSON_Delete(j);
    if (s != SL_OK) memset(out, 0, sizeof *out);
    return s;
}

static sl_status num(const cJSON *in, const sl_reward_term *t, int f, double *x) {
    const cJSON *v = cJSON_GetObjectItem(in, t->fields[f]);
    if (!v && t->weight == 0.0) { /* an unweighted term may be absent (seed003's empathy, timing) */
        *x = 0.0;
        return SL_OK;
    }
    if (cJSON_IsBool(v)) *x = cJSON_IsTrue(v) ? 1.0 : 0.0;
    else if (cJSON_IsNumber(v)) *x = v->valuedouble;
    else return sl_set_error(SL_ERR_ARG, "reward %s: input field '%s' is missing or not a number",
                             t->name, t->fields[f]);
    if (!isfinite(*x))
        return sl_set_error(SL_ERR_NAN, "reward %s: input field '%s' is not finite", t->name, t->fields[f]);
    return SL_OK;
}

sl_status sl_reward_compute(const sl_reward_model *m, const char *input_json, sl_reward_value *out) {
    memset(out, 0, sizeof *out);
    cJSON *in = input_json ? cJSON_Parse(input_json) : NULL;
    if (!cJSON_IsObject(in)) {
        cJSON_Delete(in);
        return sl_set_error(SL_ERR_FORMAT, "reward input: not a JSON object");
    }
    sl_status s = SL_OK;
    double total = 0.0;
    for (int i = 0; s == SL_OK && i < m->n; i++) {
        const sl_reward_term *t = &m->terms[i];
        double raw = 0, a = 0, b = 0;
        switch (t->kind) {
        case SL_RT_VALUE:
            s = num(in, t, 0, &raw);
            break;
        case SL_RT_DELTA:
            if ((s = num(in, t, 0, &a)) == SL_OK && (s = num(in, t, 1, &b)) == SL_OK) raw = b - a;
            break;
        case SL_RT_ALL_TRUE:
            raw = 1.0;
            for (int f = 0; s == SL_OK && f < t->n_fields; f++) {
                s = num(in, t, f, &a);
                if (s == SL_OK && a == 0.0) raw = 0.0;
            }
            break;
        case SL_RT_GAUSSIAN:
            if ((s = num(in, t, 0, &a)) == SL_OK)
                raw = exp(-(a - t->target) * (a - t->target) / (2.0 * t->width * t->width));
            break;
        default:
            s = sl_set_error(SL_ERR_INTERNAL, "reward: bad term kind");
        }
        out->raw[i] = raw;
        out->component[i] = t->weight * raw;
        total += out->component[i];
    }
    cJSON_Delete(in);
    if (s != SL_OK) {
        memset(out, 0, sizeof *out);
        return s;
    }
    out->n = m->n;
    out->total = total;
    return SL_OK;
}

sl_status sl_reward_record(sl_registry *reg, int64_t version_id, int64_t episode, int64_t t,
                           const sl_reward_model *m, const sl_reward_value *v) {
    const char *names[SL_REWARD_TERMS_MAX];
    double w[SL_REWARD_TERMS_MAX];
    for (int i = 0; i < v->n; i++) {
        names[i] = m->terms[i].name;
        w[i] = m->terms[i].weight;
    }
    return sl_registry_reward_signals(reg, version_id, episode, t, m->name, (size_t)v->n, names,
                                      v->raw, w, v->component);
}
