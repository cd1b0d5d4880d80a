/* SPDX-License-Identifier: Apache-2.0 */
/* case.c - the forecast case format: JSONL parsing, writing, dates and text normalisation.
 *
 * Invariant: a parsed case owns a copy of its JSON line (c->json) and every string in it;
 * the struct fields mirror the JSON, and whoever changes one (--fix, recalibration) changes
 * both. Parsing checks structure only (types); the rules live in validate.c.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_internal.h"
#include "synthloop/sl_json.h"

const char *const fc_node_prob_keys[] = {"probability", "probability_in_retrospect",
                                         "probability_retrospective", "actual_probability",
                                         NULL};
const char *const fc_alt_prob_keys[] = {"probability", "prob", NULL};

char *fc_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) {
        sl_set_error(SL_ERR_NOMEM, "forecast: out of memory copying a string of %zu bytes", n);
        return NULL;
    }
    memcpy(d, s, n + 1);
    return d;
}

/* --- text --------------------------------------------------------------- */

static const char *const stop_words[] = {"a",  "an",   "the",  "of",   "to",  "in",  "on",
                                         "by", "for",  "and",  "at",   "is",  "was", "are",
                                         "be", "as",   "with", "from", "its", "it",  "that",
                                         "this", NULL};

static int is_tok_char(unsigned char ch) { return isalnum(ch) || ch >= 0x80; }

static int is_stop(const char *t) {
    for (size_t i = 0; stop_words[i]; i++)
        if (strcmp(t, stop_words[i]) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

sl_status fc_tokens(const char *text, int set, char ***toks, size_t *n) {
    *toks = NULL;
    *n = 0;
    if (!text) text = "";
    size_t len = strlen(text), maxtok = len / 2 + 1;
    size_t bytes = maxtok * sizeof(char *) + len + 1;
    char **t = malloc(bytes);
    if (!t) return sl_set_error(SL_ERR_NOMEM, "forecast: out of memory tokenising %zu bytes", len);
    char *buf = (char *)(t + maxtok);
    size_t k = 0, o = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && !is_tok_char((unsigned char)text[i])) i++;
        if (i >= len) break;
        char *start = buf + o;
        while (i < len && is_tok_char((unsigned char)text[i]))
            buf[o++] = (char)tolower((unsigned char)text[i++]);
        buf[o++] = 0;
        if (!is_stop(start)) t[k++] = start;
    }
    if (set && k > 1) {
        qsort(t, k, sizeof *t, cmp_str);
        size_t u = 1;
        for (size_t i = 1; i < k; i++)
            if (strcmp(t[i], t[u - 1]) != 0) t[u++] = t[i];
        k = u;
    }
    *toks = t;
    *n = k;
    return SL_OK;
}

double sl_fc_similarity(const char *a, const char *b) {
    char **ta = NULL, **tb = NULL;
    size_t na = 0, nb = 0;
    if (fc_tokens(a, 1, &ta, &na) != SL_OK || fc_tokens(b, 1, &tb, &nb) != SL_OK) {
        free(ta);
        free(tb);
        return 0.0;
    }
    double sim;
    if (na == 0 && nb == 0) {
        sim = 1.0;
    } else {
        size_t i = 0, j = 0, inter = 0;
        while (i < na && j < nb) {
            int c = strcmp(ta[i], tb[j]);
            if (c == 0) {
                inter++;
                i++;
                j++;
            } else if (c < 0) {
                i++;
            } else {
                j++;
            }
        }
        sim = (double)inter / (double)(na + nb - inter);
    }
    free(ta);
    free(tb);
    return sim;
}

int sl_fc_exact_match(const char *a, const char *b) {
    char **ta = NULL, **tb = NULL;
    size_t na = 0, nb = 0;
    int eq = 0;
    if (fc_tokens(a, 0, &ta, &na) == SL_OK && fc_tokens(b, 0, &tb, &nb) == SL_OK && na == nb) {
        eq = 1;
        for (size_t i = 0; eq && i < na; i++) eq = strcmp(ta[i], tb[i]) == 0;
    }
    free(ta);
    free(tb);
    return eq;
}

/* --- dates -------------------------------------------------------------- */

static int days_in_month(int y, int m) {
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : d[m - 1];
}

sl_status sl_fc_date_days(const char *s, int64_t *days) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return sl_set_error(SL_ERR_FORMAT, "'%.40s' is not a YYYY-MM-DD date", s ? s : "(null)");
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return sl_set_error(SL_ERR_FORMAT, "'%s' is not a YYYY-MM-DD date", s);
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return sl_set_error(SL_ERR_FORMAT, "'%s' is not a calendar date", s);
    /* days_from_civil (H. Hinnant) */
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = yy / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *days = era * 146097 + doe - 719468;
    return SL_OK;
}

double sl_fc_months_between(int64_t d1, int64_t d2) { return (double)(d2 - d1) / 30.436875; }

/* --- parsing ------------------------------------------------------------ */

static sl_status bad(const char *path, size_t line, const char *field, const char *what) {
    return sl_set_error(SL_ERR_FORMAT, "%s:%zu: %s: %s", path, line, field, what);
}

/* A string field: absent/null -> NULL; string -> copy; anything else -> format error. */
static sl_status get_str(const cJSON *o, const char *key, const char *path, size_t line,
                         const char *field, char **out) {
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return SL_OK;
    if (!cJSON_IsString(v) || !v->valuestring) return bad(path, line, field, "must be a string");
    *out = fc_strdup(v->valuestring);
    return *out ? SL_OK : SL_ERR_NOMEM;
}

/* A number under the first present key of keys; NAN when absent; two present -> error. */
static sl_status get_num(const cJSON *o, const char *const *keys, const char *path, size_t line,
                         const char *field, double *out) {
    *out = NAN;
    const char *found = NULL;
    for (size_t i = 0; keys[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (!v || cJSON_IsNull(v)) continue;
        if (found) {
            char msg[160];
            snprintf(msg, sizeof msg, "both '%s' and '%s' given", found, keys[i]);
            return bad(path, line, field, msg);
        }
        if (!cJSON_IsNumber(v)) {
            char msg[96];
            snprintf(msg, sizeof msg, "'%s' must be a number", keys[i]);
            return bad(path, line, field, msg);
        }
        found = keys[i];
        *out = v->valuedouble;
    }
    return SL_OK;
}

static sl_status render_context(const cJSON *v, const char *path, size_t line, char **out) {
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return SL_OK;
    if (cJSON_IsString(v)) {
        *out = fc_strdup(v->valuestring);
        return *out ? SL_OK : SL_ERR_NOMEM;
    }
    if (!cJSON_IsObject(v)) return bad(path, line, "context", "must be a string or an object");
    size_t cap = 1;
    for (const cJSON *k = v->child; k; k = k->next) {
        if (!cJSON_IsString(k) && !cJSON_IsNumber(k))
            return bad(path, line, "context", "object values must be strings or numbers");
        cap += strlen(k->string ? k->string : "") + (cJSON_IsString(k) ? strlen(k->valuestring) : 32) + 4;
    }
    char *s = malloc(cap);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "%s:%zu: context: out of memory", path, line);
    size_t o = 0;
    s[0] = 0;
    for (const cJSON *k = v->child; k; k = k->next) {
        int w = cJSON_IsString(k)
                    ? snprintf(s + o, cap - o, "%s%s: %s", o ? "; " : "", k->string, k->valuestring)
                    : snprintf(s + o, cap - o, "%s%s: %g", o ? "; " : "", k->string, k->valuedouble);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
    }
    *out = s;
    return SL_OK;
}

void fc_case_clear(sl_fc_case *c) {
    if (!c) return;
    free(c->case_id);
    free(c->seed_event);
    free(c->seed_date);
    free(c->context);
    free(c->domain);
    for (size_t i = 0; i < c->n_nodes; i++) {
        sl_fc_node *nd = &c->nodes[i];
        free(nd->event);
        free(nd->date);
        for (size_t j = 0; j < nd->n_alts; j++) free(nd->alts[j].event);
        free(nd->alts);
    }
    free(c->nodes);
    cJSON_Delete(c->json);
    memset(c, 0, sizeof *c);
}

static sl_status parse_node(const cJSON *o, const char *path, size_t line, size_t i,
                            sl_fc_node *nd) {
    char field[64];
    snprintf(field, sizeof field, "outcome_chain[%zu]", i);
    if (!cJSON_IsObject(o)) return bad(path, line, field, "must be an object");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "depth");
    if (!d || cJSON_IsNull(d)) {
        nd->depth = (int)(i + 1);
    } else {
        if (!cJSON_IsNumber(d) || !(fabs(d->valuedouble) < 1e6) ||
            d->valuedouble != floor(d->valuedouble))
            return bad(path, line, field, "depth must be an integer");
        nd->depth = (int)d->valuedouble;
    }
    SL_TRY(get_str(o, "event", path, line, field, &nd->event));
    SL_TRY(get_str(o, "date", path, line, field, &nd->date));
    SL_TRY(get_num(o, fc_node_prob_keys, path, line, field, &nd->prob));
    static const char *const tf_keys[] = {"timeframe_months", NULL};
    SL_TRY(get_num(o, tf_keys, path, line, field, &nd->timeframe_months));
    const cJSON *alts = cJSON_GetObjectItemCaseSensitive(o, "alternatives");
    if (!alts) alts = cJSON_GetObjectItemCaseSensitive(o, "alternative_outcomes");
    if (alts && !cJSON_IsNull(alts)) {
        if (!cJSON_IsArray(alts)) return bad(path, line, field, "alternatives must be an array");
        size_t na = (size_t)cJSON_GetArraySize(alts);
        nd->alts = calloc(na ? na : 1, sizeof *nd->alts);
        if (!nd->alts) return sl_set_error(SL_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        const cJSON *a;
        cJSON_ArrayForEach(a, alts) {
            char af[96];
            snprintf(af, sizeof af, "outcome_chain[%zu].alternatives[%zu]", i, nd->n_alts);
            if (!cJSON_IsObject(a)) return bad(path, line, af, "must be an object");
            sl_fc_alt *al = &nd->alts[nd->n_alts++];
            al->prob = NAN;
            SL_TRY(get_str(a, "event", path, line, af, &al->event));
            SL_TRY(get_num(a, fc_alt_prob_keys, path, line, af, &al->prob));
        }
    }
    return SL_OK;
}

sl_status fc_parse_case_obj(const cJSON *o, const char *path, size_t line, sl_fc_case *c) {
    memset(c, 0, sizeof *c);
    c->line = line;
    SL_TRY(get_str(o, "case_id", path, line, "case_id", &c->case_id));
    SL_TRY(get_str(o, "seed_event", path, line, "seed_event", &c->seed_event));
    SL_TRY(get_str(o, "seed_date", path, line, "seed_date", &c->seed_date));
    SL_TRY(get_str(o, "domain", path, line, "domain", &c->domain));
    SL_TRY(render_context(cJSON_GetObjectItemCaseSensitive(o, "context"), path, line,
                          &c->context));
    const cJSON *syn = cJSON_GetObjectItemCaseSensitive(o, "synthetic");
    if (syn && !cJSON_IsNull(syn)) {
        if (!cJSON_IsBool(syn)) return bad(path, line, "synthetic", "must be true or false");
        c->synthetic = cJSON_IsTrue(syn);
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "outcome_chain");
    if (ch && !cJSON_IsNull(ch)) {
        if (!cJSON_IsArray(ch)) return bad(path, line, "outcome_chain", "must be an array");
        size_t nn = (size_t)cJSON_GetArraySize(ch);
        c->nodes = calloc(nn ? nn : 1, sizeof *c->nodes);
        if (!c->nodes) return sl_set_error(SL_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        const cJSON *nd;
        cJSON_ArrayForEach(nd, ch) {
            sl_fc_node *n = &c->nodes[c->n_nodes++];
            n->prob = n->timeframe_months = NAN;
            SL_TRY(parse_node(nd, path, line, c->n_nodes - 1, n));
        }
    }
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "sources");
    if (src && !cJSON_IsNull(src) && !cJSON_IsArray(src))
        return bad(path, line, "sources", "must be an array");
    return SL_OK;
}

void sl_fc_set_free(sl_fc_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) fc_case_clear(&s->cases[i]);
    free(s->cases);
    free(s->path);
    free(s);
}

sl_status sl_fc_parse(const char *text, size_t len, const char *path, sl_fc_set **out) {
    *out = NULL;
    if (!path) path = "(input)";
    sl_fc_set *s = calloc(1, sizeof *s);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    s->path = fc_strdup(path);
    if (!s->path) {
        free(s);
        return SL_ERR_NOMEM;
    }
    size_t cap = 0, line = 0;
    sl_status st = SL_OK;
    for (size_t pos = 0; st == SL_OK && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        const char *l = text + pos;
        size_t ll = end - pos;
        pos = end + 1;
        size_t k = 0;
        while (k < ll && isspace((unsigned char)l[k])) k++;
        if (k == ll) continue;
        if (memchr(l, 0, ll)) {
            st = bad(path, line, "(line)", "contains a NUL byte");
            break;
        }
        const char *ep = NULL;
        cJSON *o = cJSON_ParseWithLengthOpts(l, ll, &ep, 0);
        if (!o) {
            char msg[96];
            snprintf(msg, sizeof msg, "not valid JSON (near byte %zu of the line)",
                     ep && ep >= l ? (size_t)(ep - l) + 1 : (size_t)1);
            st = bad(path, line, "(line)", msg);
            break;
        }
        /* trailing garbage after the object */
        size_t used = ep ? (size_t)(ep - l) : ll;
        while (used < ll && isspace((unsigned char)l[used])) used++;
        if (used < ll) {
            cJSON_Delete(o);
            st = bad(path, line, "(line)", "text after the JSON value (one case per line)");
            break;
        }
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            st = bad(path, line, "(line)", "not a JSON object");
            break;
        }
        if (s->n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            sl_fc_case *nv = realloc(s->cases, nc * sizeof *nv);
            if (!nv) {
                cJSON_Delete(o);
                st = sl_set_error(SL_ERR_NOMEM, "%s:%zu: out of memory", path, line);
                break;
            }
            s->cases = nv;
            cap = nc;
        }
        sl_fc_case *c = &s->cases[s->n];
        st = fc_parse_case_obj(o, path, line, c);
        c->json = o;
        s->n++;
    }
    if (st != SL_OK) {
        sl_fc_set_free(s);
        return st;
    }
    *out = s;
    return SL_OK;
}

sl_status sl_fc_read(const char *path, sl_fc_set **out) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    SL_TRY(sl_read_file(path, &text, &len));
    sl_status st = sl_fc_parse(text, len, path, out);
    free(text);
    return st;
}

sl_status sl_fc_write(const char *path, const sl_fc_case *const *cases, size_t n) {
    sl_atomic_file f;
    SL_TRY(sl_atomic_open(&f, path));
    for (size_t i = 0; i < n; i++) {
        char *t = cJSON_PrintUnformatted(cases[i]->json);
        if (!t) {
            sl_atomic_abort(&f);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory printing case %zu", path, i);
        }
        int ok = fputs(t, f.fp) >= 0 && fputc('\n', f.fp) != EOF;
        free(t);
        if (!ok) {
            sl_atomic_abort(&f);
            return sl_set_error(SL_ERR_IO, "%s: write failed", path);
        }
    }
    return sl_atomic_commit(&f);
}

size_t fc_find_case(const sl_fc_set *s, const char *case_id) {
    if (!case_id) return (size_t)-1;
    for (size_t i = 0; i < s->n; i++)
        if (s->cases[i].case_id && strcmp(s->cases[i].case_id, case_id) == 0) return i;
    return (size_t)-1;
}

cJSON *fc_node_json(const sl_fc_case *c, size_t i) {
    cJSON *ch = cJSON_GetObjectItemCaseSensitive(c->json, "outcome_chain");
    return ch ? cJSON_GetArrayItem(ch, (int)i) : NULL;
}

void fc_json_set_num(cJSON *obj, const char *const *keys, double v) {
    if (!obj) return;
    for (size_t i = 0; keys[i]; i++) {
        cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
        if (it && cJSON_IsNumber(it)) {
            cJSON_SetNumberValue(it, v);
            return;
        }
    }
    cJSON *nv = cJSON_CreateNumber(v);
    if (nv && !cJSON_AddItemToObject(obj, keys[0], nv)) cJSON_Delete(nv);
}
