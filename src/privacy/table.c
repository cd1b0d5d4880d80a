/* SPDX-License-Identifier: Apache-2.0 */
/* table.c - the privacy schema (JSON column roles) and record tables read from CSV.
 *
 * Invariant: a schema or table that loads is fully valid (every schema column present, every
 * numeric cell finite, every date a real calendar date, every hierarchy value known), so the
 * techniques never meet bad input; every rejection names the file and the place.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "privacy_internal.h"

/* --- names ---------------------------------------------------------------------------------- */

static const char *const role_names[SL_ROLE_COUNT] = {
    "identifier", "quasi_identifier", "sensitive", "measurement", "subject", "keep"};
_Static_assert(sizeof role_names / sizeof role_names[0] == SL_ROLE_COUNT, "roles");
static const char *const type_names[SL_TYPE_COUNT] = {"numeric", "date", "category"};
_Static_assert(sizeof type_names / sizeof type_names[0] == SL_TYPE_COUNT, "types");

const char *sl_col_role_name(sl_col_role r) {
    return (unsigned)r < SL_ROLE_COUNT ? role_names[r] : "unknown";
}
const char *sl_col_type_name(sl_col_type t) {
    return (unsigned)t < SL_TYPE_COUNT ? type_names[t] : "unknown";
}

/* --- hierarchy ---------------------------------------------------------------------------- */

static void hier_free(sl_hier *h) {
    if (!h) return;
    for (int i = 0; i < h->n; i++) free(h->name[i]);
    free(h->name);
    free(h->parent);
    free(h->depth);
    free(h);
}

int sl_hier_find(const sl_hier *h, const char *name) {
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->name[i], name) == 0) return i;
    return -1;
}

static sl_status hier_add(sl_hier *h, const char *name, int parent, const char *where) {
    if (sl_hier_find(h, name) >= 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: hierarchy value '%s' appears twice", where, name);
    int n = h->n + 1;
    char **nm = realloc(h->name, (size_t)n * sizeof *nm);
    if (nm) h->name = nm;
    int32_t *pa = realloc(h->parent, (size_t)n * sizeof *pa);
    if (pa) h->parent = pa;
    int32_t *de = realloc(h->depth, (size_t)n * sizeof *de);
    if (de) h->depth = de;
    char *copy = strdup(name);
    if (!nm || !pa || !de || !copy) {
        free(copy);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
    }
    h->name[h->n] = copy;
    h->parent[h->n] = parent;
    h->depth[h->n] = parent < 0 ? 0 : h->depth[parent] + 1;
    if (h->depth[h->n] > h->height) h->height = h->depth[h->n];
    h->n = n;
    return SL_OK;
}

/* An object maps a node name to its children (object or array); an array lists leaves. */
static sl_status hier_parse(sl_hier *h, const cJSON *j, int parent, const char *where, int depth) {
    if (depth > 32) return sl_set_error(SL_ERR_FORMAT, "%s: hierarchy deeper than 32", where);
    if (cJSON_IsArray(j)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, j) {
            if (!cJSON_IsString(it) || !*it->valuestring)
                return sl_set_error(SL_ERR_FORMAT, "%s: hierarchy leaves must be non-empty strings",
                                    where);
            SL_TRY(hier_add(h, it->valuestring, parent, where));
        }
        return SL_OK;
    }
    if (!cJSON_IsObject(j))
        return sl_set_error(SL_ERR_FORMAT, "%s: hierarchy must be an object or an array", where);
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!it->string || !*it->string)
            return sl_set_error(SL_ERR_FORMAT, "%s: empty hierarchy node name", where);
        SL_TRY(hier_add(h, it->string, parent, where));
        SL_TRY(hier_parse(h, it, h->n - 1, where, depth + 1));
    }
    return SL_OK;
}

int sl_hier_lca(const sl_hier *h, int a, int b) {
    while (a != b) {
        if (h->depth[a] >= h->depth[b])
            a = h->parent[a];
        else
            b = h->parent[b];
        if (a < 0 || b < 0) return 0;
    }
    return a;
}

/* Number of leaves under each node (a leaf counts 1). out[n] allocated by the caller. */
sl_status sl_hier_leaf_counts(const sl_hier *h, int *out) {
    int *has_child = calloc((size_t)h->n, sizeof *has_child);
    for (int i = 0; i < h->n; i++) out[i] = 0;
    if (!has_child) return sl_set_error(SL_ERR_NOMEM, "hierarchy: out of memory");
    for (int i = 1; i < h->n; i++) has_child[h->parent[i]] = 1;
    for (int i = 0; i < h->n; i++)
        if (!has_child[i])
            for (int a = i; a >= 0; a = h->parent[a]) out[a]++;
    free(has_child);
    return SL_OK;
}

/* --- schema ------------------------------------------------------------------------------- */

void sl_priv_schema_free(sl_priv_schema *s) {
    if (!s) return;
    for (int i = 0; i < s->n_cols; i++) {
        sl_col_spec *c = &s->cols[i];
        free(c->name);
        for (int d = 0; d < c->n_domain; d++) free(c->domain[d]);
        free(c->domain);
        hier_free(c->hier);
    }
    free(s->cols);
    free(s->dataset);
    free(s->source);
    free(s);
}

static int parse_role(const char *v, sl_col_role *out) {
    for (int i = 0; i < SL_ROLE_COUNT; i++)
        if (strcmp(v, role_names[i]) == 0) {
            *out = (sl_col_role)i;
            return 1;
        }
    return 0;
}

static int parse_type(const char *v, sl_col_type *out) {
    for (int i = 0; i < SL_TYPE_COUNT; i++)
        if (strcmp(v, type_names[i]) == 0) {
            *out = (sl_col_type)i;
            return 1;
        }
    return 0;
}

static sl_status parse_pair(const cJSON *j, const char *where, double *lo, double *hi) {
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(j, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(j, 1)))
        return sl_set_error(SL_ERR_FORMAT, "%s: must be [lo, hi] (two numbers)", where);
    *lo = cJSON_GetArrayItem(j, 0)->valuedouble;
    *hi = cJSON_GetArrayItem(j, 1)->valuedouble;
    if (!isfinite(*lo) || !isfinite(*hi))
        return sl_set_error(SL_ERR_NAN, "%s: bounds must be finite", where);
    if (*lo > *hi)
        return sl_set_error(SL_ERR_ARG, "%s: bounds reversed: lo %g > hi %g", where, *lo, *hi);
    return SL_OK;
}

static sl_status parse_column(const cJSON *j, sl_col_spec *c, const char *where) {
    char w[400];
    if (!cJSON_IsObject(j)) return sl_set_error(SL_ERR_FORMAT, "%s: must be an object", where);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (!cJSON_IsString(name) || !*name->valuestring)
        return sl_set_error(SL_ERR_FORMAT, "%s.name: missing or not a non-empty string", where);
    c->name = strdup(name->valuestring);
    if (!c->name) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(j, "role");
    if (!cJSON_IsString(role) || !parse_role(role->valuestring, &c->role))
        return sl_set_error(SL_ERR_FORMAT,
                            "%s.role: must be one of identifier, quasi_identifier, sensitive, "
                            "measurement, subject, keep", where);
    c->type = c->role == SL_ROLE_MEASUREMENT ? SL_TYPE_NUMERIC : SL_TYPE_CATEGORY;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (type && (!cJSON_IsString(type) || !parse_type(type->valuestring, &c->type)))
        return sl_set_error(SL_ERR_FORMAT, "%s.type: must be numeric, date or category", where);
    if (c->role == SL_ROLE_MEASUREMENT && c->type != SL_TYPE_NUMERIC)
        return sl_set_error(SL_ERR_FORMAT, "%s.type: a measurement must be numeric", where);
    const cJSON *clip = cJSON_GetObjectItemCaseSensitive(j, "clip");
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(j, "range");
    if (clip) {
        snprintf(w, sizeof w, "%s.clip", where);
        SL_TRY(parse_pair(clip, w, &c->lo, &c->hi));
        c->has_bounds = 1;
    } else if (range) {
        snprintf(w, sizeof w, "%s.range", where);
        SL_TRY(parse_pair(range, w, &c->lo, &c->hi));
        c->has_bounds = 1;
    }
    if (c->role == SL_ROLE_MEASUREMENT && !clip)
        return sl_set_error(SL_ERR_FORMAT, "%s.clip: a measurement needs clipping bounds [lo, hi]",
                            where);
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(j, "grid");
    if (grid) {
        if (!cJSON_IsNumber(grid) || !isfinite(grid->valuedouble) || grid->valuedouble <= 0)
            return sl_set_error(SL_ERR_ARG, "%s.grid: must be a number > 0", where);
        c->grid = grid->valuedouble;
    } else if (c->role == SL_ROLE_MEASUREMENT) {
        c->grid = c->hi > c->lo ? (c->hi - c->lo) / 1048576.0 : 1.0;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "epsilon");
    if (eps) {
        if (!cJSON_IsNumber(eps) || !isfinite(eps->valuedouble) || eps->valuedouble <= 0)
            return sl_set_error(SL_ERR_ARG, "%s.epsilon: must be a number > 0", where);
        c->epsilon = eps->valuedouble;
    }
    const cJSON *dom = cJSON_GetObjectItemCaseSensitive(j, "domain");
    if (dom) {
        if (c->role != SL_ROLE_SENSITIVE)
            return sl_set_error(SL_ERR_FORMAT, "%s.domain: only a sensitive column has a domain",
                                where);
        int n = cJSON_GetArraySize(dom);
        if (!cJSON_IsArray(dom) || n < 2)
            return sl_set_error(SL_ERR_FORMAT, "%s.domain: must list at least two categories",
                                where);
        c->domain = calloc((size_t)n, sizeof *c->domain);
        if (!c->domain) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
        for (int i = 0; i < n; i++) {
            const cJSON *v = cJSON_GetArrayItem(dom, i);
            if (!cJSON_IsString(v))
                return sl_set_error(SL_ERR_FORMAT, "%s.domain[%d]: not a string", where, i);
            for (int k = 0; k < c->n_domain; k++)
                if (strcmp(c->domain[k], v->valuestring) == 0)
                    return sl_set_error(SL_ERR_FORMAT, "%s.domain[%d]: '%s' listed twice", where,
                                        i, v->valuestring);
            c->domain[i] = strdup(v->valuestring);
            if (!c->domain[i]) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
            c->n_domain = i + 1;
        }
    }
    const cJSON *hier = cJSON_GetObjectItemCaseSensitive(j, "hierarchy");
    if (hier) {
        if (c->role != SL_ROLE_QUASI || c->type != SL_TYPE_CATEGORY)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s.hierarchy: only a category quasi_identifier has one", where);
        c->hier = calloc(1, sizeof *c->hier);
        if (!c->hier) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
        snprintf(w, sizeof w, "%s.hierarchy", where);
        SL_TRY(hier_add(c->hier, "*", -1, w));
        SL_TRY(hier_parse(c->hier, hier, 0, w, 0));
    }
    return SL_OK;
}

sl_status sl_priv_schema_parse(const char *text, size_t len, const char *name,
                               sl_priv_schema **out) {
    *out = NULL;
    const char *nm = name ? name : "schema";
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) return sl_set_error(SL_ERR_FORMAT, "%s: not valid JSON", nm);
    sl_priv_schema *s = calloc(1, sizeof *s);
    sl_status st = s ? SL_OK : sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
    if (st == SL_OK && !(s->source = strdup(nm))) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    if (st == SL_OK && !cJSON_IsObject(j))
        st = sl_set_error(SL_ERR_FORMAT, "%s: the schema must be a JSON object", nm);
    const cJSON *cols = st == SL_OK ? cJSON_GetObjectItemCaseSensitive(j, "columns") : NULL;
    if (st == SL_OK && (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) < 1))
        st = sl_set_error(SL_ERR_FORMAT, "%s: \"columns\" must be a non-empty array", nm);
    if (st == SL_OK) {
        const cJSON *ds = cJSON_GetObjectItemCaseSensitive(j, "dataset");
        if (ds && (!cJSON_IsString(ds) || !*ds->valuestring)) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: \"dataset\" must be a non-empty string", nm);
        } else if (ds) {
            s->dataset = strdup(ds->valuestring);
        } else {
            const char *base = strrchr(nm, '/');
            base = base ? base + 1 : nm;
            s->dataset = strndup(base, strcspn(base, "."));
        }
        if (st == SL_OK && !s->dataset) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK) {
        int n = cJSON_GetArraySize(cols);
        s->cols = calloc((size_t)n, sizeof *s->cols);
        if (!s->cols) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
        int n_subject = 0;
        for (int i = 0; st == SL_OK && i < n; i++) {
            char where[300];
            snprintf(where, sizeof where, "%s: columns[%d]", nm, i);
            s->n_cols = i + 1;
            st = parse_column(cJSON_GetArrayItem(cols, i), &s->cols[i], where);
            for (int k = 0; st == SL_OK && k < i; k++)
                if (strcmp(s->cols[k].name, s->cols[i].name) == 0)
                    st = sl_set_error(SL_ERR_FORMAT, "%s.name: '%s' already named by columns[%d]",
                                      where, s->cols[i].name, k);
            if (st == SL_OK && s->cols[i].role == SL_ROLE_SUBJECT && ++n_subject > 1)
                st = sl_set_error(SL_ERR_FORMAT, "%s.role: only one subject column allowed", where);
        }
    }
    cJSON_Delete(j);
    if (st != SL_OK) {
        sl_priv_schema_free(s);
        return st;
    }
    *out = s;
    return SL_OK;
}

sl_status sl_priv_schema_load(const char *path, sl_priv_schema **out) {
    *out = NULL;
    char *txt = NULL;
    size_t len = 0;
    SL_TRY(sl_read_file(path, &txt, &len));
    sl_status s = sl_priv_schema_parse(txt, len, path, out);
    free(txt);
    return s;
}

/* --- dates ---------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
int64_t sl_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sl_civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int parse_date(const char *s, double *out) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) return 0;
    *out = (double)sl_days_from_civil(y, m, d);
    return 1;
}

/* --- CSV ------------------------------------------------------------------------------------ */

void sl_priv_table_free(sl_priv_table *t) {
    if (!t) return;
    if (t->cell)
        for (int c = 0; c < t->n_cols; c++) free(t->cell[c]);
    free(t->cell);
    if (t->num)
        for (int c = 0; c < t->n_cols; c++) free(t->num[c]);
    free(t->num);
    free(t->header);
    free(t->spec);
    free(t->col_of_spec);
    free(t->row_line);
    free(t->store);
    free(t->source);
    free(t);
}

/* Split one record starting at *p (in place: quotes removed, fields NUL-terminated).
 * fields[] receives up to maxf pointers; *nf the count. Returns 0 on success, else an error
 * message. *line counts newlines consumed (quoted fields may span lines). */
static const char *split_record(char **p, char *end, char **fields, int maxf, int *nf,
                                size_t *line) {
    char *r = *p, *w = *p;
    *nf = 0;
    for (;;) {
        if (*nf >= maxf) return "too many fields";
        fields[(*nf)++] = w;
        if (r < end && *r == '"') {
            r++;
            for (;;) {
                if (r >= end) return "unterminated quoted field";
                if (*r == '"') {
                    if (r + 1 < end && r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                if (*r == '\n') (*line)++;
                *w++ = *r++;
            }
            if (r < end && *r != ',' && *r != '\n' && *r != '\r')
                return "text after a closing quote";
        } else {
            while (r < end && *r != ',' && *r != '\n' && *r != '\r') {
                if (*r == '"') return "quote inside an unquoted field";
                *w++ = *r++;
            }
        }
        if (r < end && *r == ',') {
            r++;
            *w++ = 0;
            continue;
        }
        /* step over the line end before terminating the field: w may point at it */
        if (r < end && *r == '\r') r++;
        if (r < end && *r == '\n') r++;
        *w = 0;
        *p = r;
        return NULL;
    }
}

static sl_status bind_schema(sl_priv_table *t, const sl_priv_schema *s) {
    const char *tn = t->source;
    t->spec = malloc((size_t)t->n_cols * sizeof *t->spec);
    t->col_of_spec = malloc((size_t)s->n_cols * sizeof *t->col_of_spec);
    t->num = calloc((size_t)t->n_cols, sizeof *t->num);
    if (!t->spec || !t->col_of_spec || !t->num)
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", tn);
    for (int c = 0; c < t->n_cols; c++) t->spec[c] = -1;
    for (int i = 0; i < s->n_cols; i++) {
        int found = -1;
        for (int c = 0; c < t->n_cols; c++)
            if (strcmp(t->header[c], s->cols[i].name) == 0) found = c;
        if (found < 0)
            return sl_set_error(SL_ERR_NOTFOUND,
                                "%s: columns[%d]: column '%s' is not in %s (its header has %d "
                                "columns, first '%s')",
                                s->source, i, s->cols[i].name, tn, t->n_cols, t->header[0]);
        t->spec[found] = i;
        t->col_of_spec[i] = found;
    }
    for (int c = 0; c < t->n_cols; c++) {
        if (t->spec[c] < 0) continue;
        const sl_col_spec *cs = &s->cols[t->spec[c]];
        if (cs->type == SL_TYPE_CATEGORY) {
            for (size_t r = 0; r < t->n_rows; r++) {
                const char *v = t->cell[c][r];
                if (cs->hier && sl_hier_find(cs->hier, v) < 0)
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: row %zu (line %zu), column '%s': value '%s' is not "
                                        "in the hierarchy of %s",
                                        tn, r + 1, t->row_line[r], cs->name, v, s->source);
                if (cs->n_domain) {
                    int ok = 0;
                    for (int d = 0; d < cs->n_domain && !ok; d++) ok = !strcmp(cs->domain[d], v);
                    if (!ok)
                        return sl_set_error(SL_ERR_FORMAT,
                                            "%s: row %zu (line %zu), column '%s': value '%s' is "
                                            "not in its domain in %s",
                                            tn, r + 1, t->row_line[r], cs->name, v, s->source);
                }
            }
            continue;
        }
        t->num[c] = malloc((t->n_rows ? t->n_rows : 1) * sizeof(double));
        if (!t->num[c]) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", tn);
        for (size_t r = 0; r < t->n_rows; r++) {
            const char *v = t->cell[c][r];
            double x = 0;
            if (cs->type == SL_TYPE_DATE) {
                if (!parse_date(v, &x))
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: row %zu (line %zu), column '%s': '%s' is not a date "
                                        "YYYY-MM-DD",
                                        tn, r + 1, t->row_line[r], cs->name, v);
            } else {
                char *e = NULL;
                errno = 0;
                x = strtod(v, &e);
                if (e == v || *e || errno == ERANGE)
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: row %zu (line %zu), column '%s': '%s' is not a number",
                                        tn, r + 1, t->row_line[r], cs->name, v);
                if (!isfinite(x))
                    return sl_set_error(SL_ERR_NAN,
                                        "%s: row %zu (line %zu), column '%s': '%s' is not finite",
                                        tn, r + 1, t->row_line[r], cs->name, v);
            }
            t->num[c][r] = x;
        }
    }
    return SL_OK;
}

sl_status sl_priv_table_parse_csv(const char *text, size_t len, const char *name,
                                  const sl_priv_schema *s, sl_priv_table **out) {
    *out = NULL;
    const char *nm = name ? name : "table";
    sl_priv_table *t = calloc(1, sizeof *t);
    if (!t) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
    sl_status st = SL_OK;
    t->store = malloc(len + 1);
    t->source = strdup(nm);
    if (!t->store || !t->source) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
    char *p = t->store, *end = t->store + len;
    if (st == SL_OK) {
        memcpy(t->store, text, len);
        t->store[len] = 0;
        if (memchr(t->store, 0, len)) st = sl_set_error(SL_ERR_FORMAT, "%s: NUL byte in text", nm);
    }
    enum { MAXF = 4096 };
    char **fields = st == SL_OK ? malloc(MAXF * sizeof *fields) : NULL;
    if (st == SL_OK && !fields) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
    size_t line = 1;
    int nf = 0;
    if (st == SL_OK && len == 0) st = sl_set_error(SL_ERR_FORMAT, "%s: empty file (no header)", nm);
    if (st == SL_OK) {
        const char *err = split_record(&p, end, fields, MAXF, &nf, &line);
        if (err) st = sl_set_error(SL_ERR_FORMAT, "%s: line 1 (header): %s", nm, err);
    }
    if (st == SL_OK) {
        t->n_cols = nf;
        t->header = malloc((size_t)nf * sizeof *t->header);
        t->cell = calloc((size_t)nf, sizeof *t->cell);
        if (!t->header || !t->cell) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
        for (int c = 0; st == SL_OK && c < nf; c++) {
            t->header[c] = fields[c];
            if (!*fields[c]) st = sl_set_error(SL_ERR_FORMAT, "%s: line 1: column %d has no name",
                                               nm, c + 1);
            for (int k = 0; st == SL_OK && k < c; k++)
                if (strcmp(fields[k], fields[c]) == 0)
                    st = sl_set_error(SL_ERR_FORMAT, "%s: line 1: column name '%s' twice", nm,
                                      fields[c]);
        }
    }
    size_t cap = 0;
    while (st == SL_OK && p < end) {
        size_t rec_line = ++line;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            continue;
        }
        const char *err = split_record(&p, end, fields, MAXF, &nf, &line);
        if (err) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: line %zu: %s", nm, rec_line, err);
            break;
        }
        if (nf != t->n_cols) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: line %zu: %d fields, the header has %d", nm,
                              rec_line, nf, t->n_cols);
            break;
        }
        if (t->n_rows == cap) {
            size_t nc = cap ? 2 * cap : 256;
            size_t *gl = realloc(t->row_line, nc * sizeof *gl);
            if (!gl)
                st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
            else
                t->row_line = gl;
            for (int c = 0; c < t->n_cols && st == SL_OK; c++) {
                char **g = realloc(t->cell[c], nc * sizeof *g);
                if (!g)
                    st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", nm);
                else
                    t->cell[c] = g;
            }
            cap = nc;
        }
        for (int c = 0; st == SL_OK && c < t->n_cols; c++) t->cell[c][t->n_rows] = fields[c];
        if (st == SL_OK) t->row_line[t->n_rows++] = rec_line;
    }
    free(fields);
    if (st == SL_OK && t->n_rows == 0) st = sl_set_error(SL_ERR_FORMAT, "%s: no data rows", nm);
    if (st == SL_OK && s) st = bind_schema(t, s);
    if (st != SL_OK) {
        sl_priv_table_free(t);
        return st;
    }
    *out = t;
    return SL_OK;
}

sl_status sl_priv_table_read_csv(const char *path, const sl_priv_schema *s, sl_priv_table **out) {
    *out = NULL;
    char *txt = NULL;
    size_t len = 0;
    SL_TRY(sl_read_file(path, &txt, &len));
    sl_status st = sl_priv_table_parse_csv(txt, len, path, s, out);
    free(txt);
    return st;
}
