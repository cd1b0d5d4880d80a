/* SPDX-License-Identifier: Apache-2.0 */
/* kanon.c - k-anonymity with l-diversity: Mondrian multidimensional partitioning (LeFevre,
 * DeWitt, Ramakrishnan 2006) and a full-domain generalisation baseline; risk and
 * information-loss reports.
 *
 * Invariant: every equivalence class a function returns has >= k rows and >= l distinct
 * values of every sensitive column (rows that cannot be placed are suppressed, never
 * published in a smaller class). NCP is computed with the same formulas for both searches, so
 * their reports are comparable.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy_internal.h"

/* --- prepared quasi-identifiers and sensitive columns -------------------------------------- */

typedef struct qi_col {
    int col;            /* table column */
    sl_col_type type;
    const double *v;    /* numeric / date values */
    double dlo, dhi;    /* domain for NCP */
    const sl_hier *h;   /* category hierarchy (schema's or own_h) */
    sl_hier *own_h;     /* flat hierarchy built from the data */
    int32_t *node;      /* [n] category node per row */
    int *leaves;        /* [h->n] leaves under each node */
} qi_col;

typedef struct kctx {
    const sl_priv_table *t;
    size_t n, k;
    int l, nq, ns;
    qi_col *q;
    int32_t **sid;      /* [ns][n] sensitive value ids */
    int *n_sid;         /* [ns] distinct count */
    uint32_t **stamp;   /* [ns][n_sid] scratch for distinct counting */
    uint32_t cur_stamp;
} kctx;

static int cmp_str_idx(const void *a, const void *b, void *arg) {
    char **cells = arg;
    return strcmp(cells[*(const size_t *)a], cells[*(const size_t *)b]);
}

/* ids[r] in [0, *nu): rank of the cell's distinct value; *uniq[i] one cell of value i. */
static sl_status intern(char **cells, size_t n, int32_t **ids, char ***uniq, int *nu) {
    size_t *ix = malloc(n * sizeof *ix);
    *ids = malloc(n * sizeof **ids);
    *uniq = malloc(n * sizeof **uniq);
    if (!ix || !*ids || !*uniq) {
        free(ix);
        free(*ids);
        free(*uniq);
        *ids = NULL;
        *uniq = NULL;
        return sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    }
    for (size_t i = 0; i < n; i++) ix[i] = i;
    qsort_r(ix, n, sizeof *ix, cmp_str_idx, cells);
    int u = -1;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(cells[ix[i]], cells[ix[i - 1]]) != 0) (*uniq)[++u] = cells[ix[i]];
        (*ids)[ix[i]] = u;
    }
    *nu = u + 1;
    free(ix);
    return SL_OK;
}

static void hier_free_local(sl_hier *h) {
    if (!h) return;
    for (int i = 0; i < h->n; i++) free(h->name[i]);
    free(h->name);
    free(h->parent);
    free(h->depth);
    free(h);
}

static void kctx_free(kctx *c) {
    for (int q = 0; c->q && q < c->nq; q++) {
        hier_free_local(c->q[q].own_h);
        free(c->q[q].node);
        free(c->q[q].leaves);
    }
    free(c->q);
    for (int s = 0; c->sid && c->stamp && s < c->ns; s++) {
        free(c->sid[s]);
        free(c->stamp[s]);
    }
    free(c->sid);
    free(c->n_sid);
    free(c->stamp);
}

static sl_status kctx_init(kctx *c, const sl_priv_table *t, const sl_priv_schema *s, size_t k,
                           int l) {
    memset(c, 0, sizeof *c);
    c->t = t;
    c->n = t->n_rows;
    c->k = k;
    c->l = l;
    if (k < 1) return sl_set_error(SL_ERR_ARG, "k-anonymity: k must be >= 1 (got %zu)", k);
    if (l < 1) return sl_set_error(SL_ERR_ARG, "k-anonymity: l must be >= 1 (got %d)", l);
    if (k > t->n_rows)
        return sl_set_error(SL_ERR_RANGE, "k-anonymity: k = %zu is larger than the table %s (%zu "
                            "rows)", k, t->source, t->n_rows);
    for (int i = 0; i < s->n_cols; i++) {
        if (s->cols[i].role == SL_ROLE_QUASI) c->nq++;
        if (s->cols[i].role == SL_ROLE_SENSITIVE) c->ns++;
    }
    if (c->nq == 0)
        return sl_set_error(SL_ERR_ARG, "k-anonymity: schema %s names no quasi_identifier column",
                            s->source);
    if (l > 1 && c->ns == 0)
        return sl_set_error(SL_ERR_ARG, "k-anonymity: l = %d but schema %s names no sensitive "
                            "column", l, s->source);
    c->q = calloc((size_t)c->nq, sizeof *c->q);
    c->sid = calloc((size_t)c->ns + 1, sizeof *c->sid);
    c->n_sid = calloc((size_t)c->ns + 1, sizeof *c->n_sid);
    c->stamp = calloc((size_t)c->ns + 1, sizeof *c->stamp);
    if (!c->q || !c->sid || !c->n_sid || !c->stamp)
        return sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    int qi = 0, si = 0;
    for (int i = 0; i < s->n_cols; i++) {
        const sl_col_spec *cs = &s->cols[i];
        int col = t->col_of_spec[i];
        if (cs->role == SL_ROLE_SENSITIVE) {
            char **uniq = NULL;
            SL_TRY(intern(t->cell[col], c->n, &c->sid[si], &uniq, &c->n_sid[si]));
            free(uniq);
            c->stamp[si] = calloc((size_t)c->n_sid[si], sizeof(uint32_t));
            if (!c->stamp[si]) return sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
            if (c->n_sid[si] < l)
                return sl_set_error(SL_ERR_RANGE,
                                    "k-anonymity: l = %d but sensitive column '%s' of %s has only "
                                    "%d distinct values", l, cs->name, t->source, c->n_sid[si]);
            si++;
            continue;
        }
        if (cs->role != SL_ROLE_QUASI) continue;
        qi_col *q = &c->q[qi++];
        q->col = col;
        q->type = cs->type;
        if (cs->type != SL_TYPE_CATEGORY) {
            q->v = t->num[col];
            double lo = q->v[0], hi = q->v[0];
            for (size_t r = 1; r < c->n; r++) {
                if (q->v[r] < lo) lo = q->v[r];
                if (q->v[r] > hi) hi = q->v[r];
            }
            if (cs->has_bounds) {
                if (cs->lo < lo) lo = cs->lo;
                if (cs->hi > hi) hi = cs->hi;
            }
            q->dlo = lo;
            q->dhi = hi;
            continue;
        }
        int32_t *ids = NULL;
        char **uniq = NULL;
        int nu = 0;
        SL_TRY(intern(t->cell[col], c->n, &ids, &uniq, &nu));
        sl_status st = SL_OK;
        int32_t *map = malloc((size_t)nu * sizeof *map);
        if (!map) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
        if (st == SL_OK && cs->hier) {
            q->h = cs->hier;
            for (int u = 0; u < nu; u++) map[u] = sl_hier_find(cs->hier, uniq[u]);
        } else if (st == SL_OK) {
            /* a flat hierarchy: "*" over the distinct values */
            sl_hier *h = calloc(1, sizeof *h);
            q->own_h = h;
            q->h = h;
            if (h) {
                h->n = nu + 1;
                h->height = 1;
                h->name = calloc((size_t)h->n, sizeof *h->name);
                h->parent = malloc((size_t)h->n * sizeof *h->parent);
                h->depth = malloc((size_t)h->n * sizeof *h->depth);
            }
            if (!h || !h->name || !h->parent || !h->depth) {
                st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
            } else {
                h->name[0] = strdup("*");
                h->parent[0] = -1;
                h->depth[0] = 0;
                for (int u = 0; u < nu; u++) {
                    h->name[u + 1] = strdup(uniq[u]);
                    h->parent[u + 1] = 0;
                    h->depth[u + 1] = 1;
                    map[u] = u + 1;
                }
                for (int u = 0; u <= nu; u++)
                    if (!h->name[u]) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
            }
        }
        if (st == SL_OK) {
            q->node = malloc(c->n * sizeof *q->node);
            q->leaves = malloc((size_t)q->h->n * sizeof *q->leaves);
            if (!q->node || !q->leaves) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
        }
        if (st == SL_OK) {
            for (size_t r = 0; r < c->n; r++) q->node[r] = map[ids[r]];
            st = sl_hier_leaf_counts(q->h, q->leaves);
        }
        free(map);
        free(ids);
        free(uniq);
        if (st != SL_OK) return st;
    }
    return SL_OK;
}

/* 1 if rows ix[0..m) hold >= l distinct values in every sensitive column. */
static int l_diverse(kctx *c, const size_t *ix, size_t m) {
    if (c->l <= 1) return 1;
    for (int s = 0; s < c->ns; s++) {
        if (++c->cur_stamp == 0) { /* wrapped: clear the stamps */
            for (int z = 0; z < c->ns; z++) memset(c->stamp[z], 0, (size_t)c->n_sid[z] * 4);
            c->cur_stamp = 1;
        }
        int distinct = 0;
        for (size_t i = 0; i < m && distinct < c->l; i++) {
            int32_t v = c->sid[s][ix[i]];
            if (c->stamp[s][v] != c->cur_stamp) {
                c->stamp[s][v] = c->cur_stamp;
                distinct++;
            }
        }
        if (distinct < c->l) return 0;
    }
    return 1;
}

static int min_distinct(kctx *c, const size_t *ix, size_t m) {
    int best = INT32_MAX;
    for (int s = 0; s < c->ns; s++) {
        if (++c->cur_stamp == 0) {
            for (int z = 0; z < c->ns; z++) memset(c->stamp[z], 0, (size_t)c->n_sid[z] * 4);
            c->cur_stamp = 1;
        }
        int distinct = 0;
        for (size_t i = 0; i < m; i++) {
            int32_t v = c->sid[s][ix[i]];
            if (c->stamp[s][v] != c->cur_stamp) {
                c->stamp[s][v] = c->cur_stamp;
                distinct++;
            }
        }
        if (distinct < best) best = distinct;
    }
    return c->ns ? best : 0;
}

/* --- results ------------------------------------------------------------------------------ */

void sl_kanon_result_free(sl_kanon_result *r) {
    if (!r) return;
    if (r->gen)
        for (int q = 0; q < r->n_qi; q++) free(r->gen[q]);
    free(r->gen);
    for (size_t i = 0; i < r->n_strs; i++) free(r->strs[i]);
    free(r->strs);
    free(r->qi_col);
    free(r->cls);
    free(r->levels);
    free(r);
}

static sl_status result_new(kctx *c, sl_kanon_result **out) {
    sl_kanon_result *r = calloc(1, sizeof *r);
    if (!r) return sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    r->n_qi = c->nq;
    r->qi_col = malloc((size_t)c->nq * sizeof *r->qi_col);
    r->gen = calloc((size_t)c->nq, sizeof *r->gen);
    r->cls = malloc(c->n * sizeof *r->cls);
    sl_status st = (r->qi_col && r->gen && r->cls) ? SL_OK
                                                   : sl_set_error(SL_ERR_NOMEM, "out of memory");
    for (int q = 0; st == SL_OK && q < c->nq; q++) {
        r->qi_col[q] = c->q[q].col;
        r->gen[q] = calloc(c->n, sizeof *r->gen[q]);
        if (!r->gen[q]) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    }
    for (size_t i = 0; st == SL_OK && i < c->n; i++) r->cls[i] = -1;
    if (st != SL_OK) {
        sl_kanon_result_free(r);
        return st;
    }
    *out = r;
    return SL_OK;
}

static const char *result_str(sl_kanon_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *result_str(sl_kanon_result *r, const char *fmt, ...) {
    if (r->n_strs == r->cap_strs) {
        size_t nc = r->cap_strs ? 2 * r->cap_strs : 64;
        char **g = realloc(r->strs, nc * sizeof *g);
        if (!g) return NULL;
        r->strs = g;
        r->cap_strs = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (rc < 0) return NULL;
    r->strs[r->n_strs++] = s;
    return s;
}

static void fmt_date(char *buf, size_t n, double days) {
    int y, m, d;
    sl_civil_from_days((int64_t)days, &y, &m, &d);
    snprintf(buf, n, "%04d-%02d-%02d", y, m, d);
}

/* NCP of a class on QI q for a numeric/date interval or a category node. */
static double ncp_interval(const qi_col *q, double lo, double hi) {
    double w = q->dhi - q->dlo;
    return w > 0 ? (hi - lo) / w : 0.0;
}
static double ncp_node(const qi_col *q, int node) {
    if (q->leaves[node] <= 1 && node != 0) return 0.0;
    return q->leaves[0] > 1 ? (double)q->leaves[node] / (double)q->leaves[0] : 0.0;
}

/* Fill the report from cls[] (classes numbered 0..n_classes-1) and the summed NCP. */
static void finish_report(kctx *c, sl_kanon_result *r, size_t n_classes, double ncp_sum,
                          const size_t *class_size, int min_l) {
    sl_kanon_report *p = &r->rep;
    p->n_rows = c->n;
    p->n_classes = n_classes;
    p->suppressed = 0;
    for (size_t i = 0; i < c->n; i++)
        if (r->cls[i] < 0) p->suppressed++;
    size_t kept = c->n - p->suppressed;
    p->min_class = 0;
    p->risk_max = 0;
    p->risk_mean = 0;
    p->discernibility = (double)p->suppressed * (double)c->n;
    for (size_t g = 0; g < n_classes; g++) {
        size_t z = class_size[g];
        if (p->min_class == 0 || z < p->min_class) p->min_class = z;
        if (1.0 / (double)z > p->risk_max) p->risk_max = 1.0 / (double)z;
        p->discernibility += (double)z * (double)z;
    }
    /* mean over published records of 1/class size = classes / kept */
    p->risk_mean = kept ? (double)n_classes / (double)kept : 0.0;
    /* suppressed rows count as fully generalised (NCP 1 on every QI) */
    p->ncp = (ncp_sum + (double)p->suppressed * c->nq) / ((double)c->n * c->nq);
    p->suppressed_share = (double)p->suppressed / (double)c->n;
    p->min_distinct_sensitive = min_l;
}

/* --- Mondrian ------------------------------------------------------------------------------- */

typedef struct span {
    size_t a, b;
} span;

typedef struct sort_arg {
    const double *v;
} sort_arg;

static int cmp_val(const void *x, const void *y, void *arg) {
    const double *v = ((const sort_arg *)arg)->v;
    double a = v[*(const size_t *)x], b = v[*(const size_t *)y];
    return a < b ? -1 : a > b ? 1 : (*(const size_t *)x > *(const size_t *)y) -
                                        (*(const size_t *)x < *(const size_t *)y);
}

/* The child of `anc` on the path from node up to the root. */
static int child_under(const sl_hier *h, int node, int anc) {
    while (node >= 0 && h->parent[node] != anc) node = h->parent[node];
    return node;
}

static int lca_of(const qi_col *q, const size_t *ix, size_t m) {
    int a = q->node[ix[0]];
    for (size_t i = 1; i < m && a != 0; i++) a = sl_hier_lca(q->h, a, q->node[ix[i]]);
    return a;
}

static double width_of(const qi_col *q, const size_t *ix, size_t m) {
    if (q->type == SL_TYPE_CATEGORY) {
        int a = lca_of(q, ix, m);
        return q->leaves[a] > 1 ? ncp_node(q, a) : 0.0;
    }
    double lo = q->v[ix[0]], hi = lo;
    for (size_t i = 1; i < m; i++) {
        if (q->v[ix[i]] < lo) lo = q->v[ix[i]];
        if (q->v[ix[i]] > hi) hi = q->v[ix[i]];
    }
    return ncp_interval(q, lo, hi);
}

/* Try to split ix[0..m) on QI q; on success reorder ix and write the cut points (sizes of
 * consecutive groups) to parts[] / *np and return 1; 0 if no allowable split; -1 when out of
 * memory. */
static int try_split(kctx *c, int qn, size_t *ix, size_t m, size_t *parts, int *np, int maxp) {
    qi_col *q = &c->q[qn];
    if (q->type != SL_TYPE_CATEGORY) {
        sort_arg sa = {q->v};
        qsort_r(ix, m, sizeof *ix, cmp_val, &sa);
        size_t mid = m / 2;
        /* boundaries i (value changes between i-1 and i), outward from the median */
        int tried = 0;
        for (size_t d = 0; d <= m && tried < 8; d++) {
            for (int sgn = 0; sgn < 2; sgn++) {
                if (d == 0 && sgn) continue;
                size_t i = sgn ? mid - d : mid + d;
                if ((sgn && d > mid) || i == 0 || i >= m) continue;
                if (!(q->v[ix[i - 1]] < q->v[ix[i]])) continue;
                if (i < c->k || m - i < c->k) continue;
                tried++;
                if (l_diverse(c, ix, i) && l_diverse(c, ix + i, m - i)) {
                    parts[0] = i;
                    parts[1] = m - i;
                    *np = 2;
                    return 1;
                }
            }
        }
        return 0;
    }
    int a = lca_of(q, ix, m);
    if (q->leaves[a] <= 1) return 0;
    /* group rows by the child of a they lie under (counting sort on child id) */
    const sl_hier *h = q->h;
    int *cnt = calloc((size_t)h->n, sizeof *cnt);
    size_t *tmp = malloc(m * sizeof *tmp);
    int *ch = malloc(m * sizeof *ch);
    if (!cnt || !tmp || !ch) {
        free(cnt);
        free(tmp);
        free(ch);
        return -1;
    }
    int ok = 1;
    if (ok) {
        for (size_t i = 0; i < m; i++) {
            ch[i] = child_under(h, q->node[ix[i]], a);
            cnt[ch[i]]++;
        }
        int groups = 0;
        for (int v = 0; v < h->n; v++)
            if (cnt[v]) {
                if ((size_t)cnt[v] < c->k) ok = 0;
                groups++;
            }
        if (groups < 2 || groups > maxp) ok = 0;
        if (ok) {
            size_t pos = 0;
            *np = 0;
            for (int v = 0; v < h->n; v++)
                if (cnt[v]) {
                    size_t start = pos;
                    for (size_t i = 0; i < m; i++)
                        if (ch[i] == v) tmp[pos++] = ix[i];
                    parts[(*np)++] = pos - start;
                }
            for (int g = 0, off = 0; g < *np && ok; off += (int)parts[g], g++)
                if (!l_diverse(c, tmp + off, parts[g])) ok = 0;
            if (ok) memcpy(ix, tmp, m * sizeof *ix);
        }
    }
    free(cnt);
    free(tmp);
    free(ch);
    return ok;
}

/* Make class g of rows ix[0..m): generalised strings and its NCP contribution. */
static sl_status emit_class(kctx *c, sl_kanon_result *r, const size_t *ix, size_t m, int64_t g,
                            double *ncp_sum) {
    for (int qn = 0; qn < c->nq; qn++) {
        qi_col *q = &c->q[qn];
        const char *s = NULL;
        double ncp = 0;
        if (q->type == SL_TYPE_CATEGORY) {
            int a = lca_of(q, ix, m);
            s = result_str(r, "%s", q->h->name[a]);
            ncp = ncp_node(q, a);
        } else {
            double lo = q->v[ix[0]], hi = lo;
            for (size_t i = 1; i < m; i++) {
                if (q->v[ix[i]] < lo) lo = q->v[ix[i]];
                if (q->v[ix[i]] > hi) hi = q->v[ix[i]];
            }
            ncp = ncp_interval(q, lo, hi);
            if (q->type == SL_TYPE_DATE) {
                char b1[16], b2[16];
                fmt_date(b1, sizeof b1, lo);
                fmt_date(b2, sizeof b2, hi);
                s = lo == hi ? result_str(r, "%s", b1) : result_str(r, "%s..%s", b1, b2);
            } else {
                s = lo == hi ? result_str(r, "%.17g", lo) : result_str(r, "%.17g..%.17g", lo, hi);
            }
        }
        if (!s) return sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
        *ncp_sum += ncp * (double)m;
        for (size_t i = 0; i < m; i++) r->gen[qn][ix[i]] = s;
    }
    for (size_t i = 0; i < m; i++) r->cls[ix[i]] = g;
    return SL_OK;
}

sl_status sl_kanon_mondrian(const sl_priv_table *t, const sl_priv_schema *s, size_t k, int l,
                            sl_kanon_result **out) {
    *out = NULL;
    kctx c;
    sl_status st = kctx_init(&c, t, s, k, l);
    sl_kanon_result *r = NULL;
    size_t *ix = NULL, *class_size = NULL, n_cls = 0, cap_cls = 0;
    span *stack = NULL;
    size_t sp = 0, cap_sp = 0;
    double ncp_sum = 0;
    int min_l = INT32_MAX;
    enum { MAXP = 4096 };
    size_t *parts = malloc(MAXP * sizeof *parts);
    double *w = malloc((size_t)(c.nq ? c.nq : 1) * sizeof *w);
    int *order = malloc((size_t)(c.nq ? c.nq : 1) * sizeof *order);
    if (st == SL_OK && (!parts || !w || !order))
        st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    if (st == SL_OK) st = result_new(&c, &r);
    if (st == SL_OK) {
        ix = malloc(c.n * sizeof *ix);
        if (!ix) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
    }
    if (st == SL_OK) {
        for (size_t i = 0; i < c.n; i++) ix[i] = i;
        if (!l_diverse(&c, ix, c.n))
            st = sl_set_error(SL_ERR_RANGE, "k-anonymity: the whole table %s is not %d-diverse",
                              t->source, c.l);
    }
    if (st == SL_OK) {
        stack = malloc(sizeof *stack);
        if (!stack) st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
        else {
            stack[sp++] = (span){0, c.n};
            cap_sp = 1;
        }
    }
    while (st == SL_OK && sp > 0) {
        span p = stack[--sp];
        size_t m = p.b - p.a;
        size_t *px = ix + p.a;
        /* dimensions by normalised width, widest first */
        for (int qn = 0; qn < c.nq; qn++) {
            w[qn] = width_of(&c.q[qn], px, m);
            order[qn] = qn;
        }
        for (int i = 1; i < c.nq; i++)
            for (int j = i; j > 0 && w[order[j]] > w[order[j - 1]]; j--) {
                int tmp = order[j];
                order[j] = order[j - 1];
                order[j - 1] = tmp;
            }
        int np = 0, split = 0;
        if (m >= 2 * c.k)
            for (int i = 0; i < c.nq && !split; i++)
                if (w[order[i]] > 0) split = try_split(&c, order[i], px, m, parts, &np, MAXP);
        if (split < 0) {
            st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
            break;
        }
        if (split) {
            if (sp + (size_t)np > cap_sp) {
                size_t nc = (sp + (size_t)np) * 2;
                span *g = realloc(stack, nc * sizeof *g);
                if (!g) {
                    st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
                    break;
                }
                stack = g;
                cap_sp = nc;
            }
            size_t off = p.a;
            for (int g = 0; g < np; g++) {
                stack[sp++] = (span){off, off + parts[g]};
                off += parts[g];
            }
            continue;
        }
        if (n_cls == cap_cls) {
            size_t nc = cap_cls ? 2 * cap_cls : 256;
            size_t *g = realloc(class_size, nc * sizeof *g);
            if (!g) {
                st = sl_set_error(SL_ERR_NOMEM, "k-anonymity: out of memory");
                break;
            }
            class_size = g;
            cap_cls = nc;
        }
        class_size[n_cls] = m;
        int dl = min_distinct(&c, px, m);
        if (dl < min_l) min_l = dl;
        st = emit_class(&c, r, px, m, (int64_t)n_cls, &ncp_sum);
        n_cls++;
    }
    if (st == SL_OK) finish_report(&c, r, n_cls, ncp_sum, class_size, c.ns ? min_l : 0);
    free(ix);
    free(stack);
    free(parts);
    free(w);
    free(order);
    free(class_size);
    kctx_free(&c);
    if (st != SL_OK) {
        sl_kanon_result_free(r);
        return st;
    }
    *out = r;
    return SL_OK;
}

/* --- full-domain generalisation ------------------------------------------------------------ */

enum { NUM_LEVELS = 9 }; /* numeric: exact, then W/128 ... W/2, W (= "*") */

static int n_levels(const qi_col *q) {
    if (q->type == SL_TYPE_NUMERIC) return NUM_LEVELS;
    if (q->type == SL_TYPE_DATE) return 4; /* day, month, year, * */
    return q->h->height + 1;
}

/* Code of row r's generalised value of QI q at level lv, and its interval/node for NCP. */
static int64_t fd_code(const qi_col *q, size_t r, int lv) {
    if (q->type == SL_TYPE_NUMERIC) {
        if (lv == 0) {
            double v = q->v[r];
            int64_t bits;
            memcpy(&bits, &v, sizeof bits);
            return bits;
        }
        if (lv == NUM_LEVELS - 1) return 0;
        double W = q->dhi - q->dlo;
        double bw = W / (double)(1 << (NUM_LEVELS - 1 - lv));
        if (!(bw > 0)) return 0;
        int64_t b = (int64_t)floor((q->v[r] - q->dlo) / bw);
        int64_t nb = (int64_t)1 << (NUM_LEVELS - 1 - lv);
        return b >= nb ? nb - 1 : b;
    }
    if (q->type == SL_TYPE_DATE) {
        int y, m, d;
        sl_civil_from_days((int64_t)q->v[r], &y, &m, &d);
        switch (lv) {
        case 0: return (int64_t)q->v[r];
        case 1: return (int64_t)y * 12 + (m - 1);
        case 2: return y;
        default: return 0;
        }
    }
    int node = q->node[r];
    for (int i = 0; i < lv && node > 0; i++) node = q->h->parent[node];
    return node;
}

/* Interval [lo, hi] of a numeric/date code (for NCP and the output text). */
static void fd_interval(const qi_col *q, size_t r, int lv, double *lo, double *hi) {
    if (q->type == SL_TYPE_NUMERIC) {
        if (lv == 0) {
            *lo = *hi = q->v[r];
            return;
        }
        double W = q->dhi - q->dlo;
        if (lv == NUM_LEVELS - 1 || !(W > 0)) {
            *lo = q->dlo;
            *hi = q->dhi;
            return;
        }
        int64_t nb = (int64_t)1 << (NUM_LEVELS - 1 - lv);
        double bw = W / (double)nb;
        int64_t b = fd_code(q, r, lv);
        *lo = q->dlo + (double)b * bw;
        *hi = b == nb - 1 ? q->dhi : q->dlo + (double)(b + 1) * bw;
        return;
    }
    int y, m, d;
    sl_civil_from_days((int64_t)q->v[r], &y, &m, &d);
    switch (lv) {
    case 0: *lo = *hi = q->v[r]; break;
    case 1: {
        *lo = (double)sl_days_from_civil(y, m, 1);
        int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
        *hi = (double)sl_days_from_civil(ny, nm, 1) - 1;
        break;
    }
    case 2:
        *lo = (double)sl_days_from_civil(y, 1, 1);
        *hi = (double)sl_days_from_civil(y, 12, 31);
        break;
    default: *lo = q->dlo; *hi = q->dhi;
    }
    if (*lo < q->dlo) *lo = q->dlo;
    if (*hi > q->dhi) *hi = q->dhi;
}

static double fd_row_ncp(const qi_col *q, size_t r, int lv) {
    if (q->type == SL_TYPE_CATEGORY) return ncp_node(q, (int)fd_code(q, r, lv));
    double lo, hi;
    fd_interval(q, r, lv, &lo, &hi);
    return ncp_interval(q, lo, hi);
}

static const char *fd_text(sl_kanon_result *res, const qi_col *q, size_t r, int lv) {
    if (q->type == SL_TYPE_CATEGORY) return result_str(res, "%s", q->h->name[fd_code(q, r, lv)]);
    if (lv == n_levels(q) - 1) return result_str(res, "*");
    if (q->type == SL_TYPE_DATE) {
        int y, m, d;
        sl_civil_from_days((int64_t)q->v[r], &y, &m, &d);
        if (lv == 0) return result_str(res, "%04d-%02d-%02d", y, m, d);
        if (lv == 1) return result_str(res, "%04d-%02d", y, m);
        return result_str(res, "%04d", y);
    }
    double lo, hi;
    fd_interval(q, r, lv, &lo, &hi);
    if (lv == 0) return result_str(res, "%.17g", lo);
    return result_str(res, "%.17g..%.17g", lo, hi);
}

/* Group rows by their code tuple at `lv`; cls[r] = group id; returns the group count or -1. */
typedef struct fd_groups {
    int64_t *codes;   /* [n * nq] */
    int64_t *slot;    /* hash table: row index + 1, 0 empty */
    size_t cap;
    int64_t *gid;     /* [n] */
    size_t *gsize;    /* [n] */
    size_t *grep;     /* [n] representative row */
} fd_groups;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t fd_group(kctx *c, fd_groups *g, const int *lv) {
    size_t nq = (size_t)c->nq;
    for (size_t r = 0; r < c->n; r++)
        for (size_t q = 0; q < nq; q++) g->codes[r * nq + q] = fd_code(&c->q[q], r, lv[q]);
    memset(g->slot, 0, g->cap * sizeof *g->slot);
    size_t ng = 0;
    for (size_t r = 0; r < c->n; r++) {
        const int64_t *cr = g->codes + r * nq;
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        for (size_t q = 0; q < nq; q++) h = mix64(h ^ (uint64_t)cr[q]);
        size_t pos = (size_t)h & (g->cap - 1);
        for (;;) {
            int64_t s = g->slot[pos];
            if (s == 0) {
                g->slot[pos] = (int64_t)ng + 1;
                g->grep[ng] = r;
                g->gsize[ng] = 0;
                g->gid[r] = (int64_t)ng++;
                break;
            }
            const int64_t *cs = g->codes + g->grep[s - 1] * nq;
            if (memcmp(cs, cr, nq * sizeof *cr) == 0) {
                g->gid[r] = s - 1;
                break;
            }
            pos = (pos + 1) & (g->cap - 1);
        }
        g->gsize[g->gid[r]]++;
    }
    return ng;
}

/* Evaluate lattice node lv: returns 1 if it meets k and l with suppression <= max_sup rows,
 * and its NCP (suppressed rows count 1). */
static int fd_eval(kctx *c, fd_groups *g, const int *lv, size_t max_sup, double *ncp,
                   size_t **order_buf) {
    size_t ng = fd_group(c, g, lv);
    size_t sup = 0;
    for (size_t i = 0; i < ng; i++)
        if (g->gsize[i] < c->k) sup += g->gsize[i];
    if (sup > max_sup) return 0;
    if (c->l > 1) {
        /* rows ordered by group for the distinct counts */
        size_t *ord = *order_buf, *start = malloc((ng + 1) * sizeof *start);
        if (!start) return -1;
        start[0] = 0;
        for (size_t i = 0; i < ng; i++) start[i + 1] = start[i] + g->gsize[i];
        size_t *fill = malloc(ng * sizeof *fill);
        if (!fill) {
            free(start);
            return -1;
        }
        memcpy(fill, start, ng * sizeof *fill);
        for (size_t r = 0; r < c->n; r++) ord[fill[g->gid[r]]++] = r;
        free(fill);
        for (size_t i = 0; i < ng; i++)
            if (g->gsize[i] >= c->k && !l_diverse(c, ord + start[i], g->gsize[i])) {
                sup += g->gsize[i];
                g->gsize[i] = 0; /* marks "suppressed" for the caller */
            }
        free(start);
        if (sup > max_sup) return 0;
    }
    double sum = 0;
    for (size_t r = 0; r < c->n; r++) {
        size_t z = g->gsize[g->gid[r]];
        if (z < c->k) {
            sum += c->nq;
            continue;
        }
        for (int q = 0; q < c->nq; q++) sum += fd_row_ncp(&c->q[q], r, lv[q]);
    }
    *ncp = sum / ((double)c->n * c->nq);
    return 1;
}

sl_status sl_kanon_full_domain(const sl_priv_table *t, const sl_priv_schema *s, size_t k, int l,
                               double max_suppress, sl_kanon_result **out) {
    *out = NULL;
    if (!isfinite(max_suppress) || max_suppress < 0 || max_suppress > 1)
        return sl_set_error(SL_ERR_ARG, "generalisation: suppression limit %g not in [0, 1]",
                            max_suppress);
    kctx c;
    sl_status st = kctx_init(&c, t, s, k, l);
    fd_groups g = {0};
    sl_kanon_result *r = NULL;
    size_t *ord = NULL;
    int *lv = NULL, *best = NULL, *nl = NULL;
    int (*sat)[16] = NULL; /* satisfying nodes found (for dominance pruning) */
    size_t n_sat = 0, cap_sat = 0;
    if (st == SL_OK && c.nq > 16)
        st = sl_set_error(SL_ERR_RANGE, "generalisation: at most 16 quasi-identifiers");
    if (st == SL_OK) {
        g.cap = 1;
        while (g.cap < 2 * c.n) g.cap <<= 1;
        g.codes = malloc(c.n * (size_t)c.nq * sizeof *g.codes);
        g.slot = malloc(g.cap * sizeof *g.slot);
        g.gid = malloc(c.n * sizeof *g.gid);
        g.gsize = malloc(c.n * sizeof *g.gsize);
        g.grep = malloc(c.n * sizeof *g.grep);
        ord = malloc(c.n * sizeof *ord);
        lv = calloc((size_t)c.nq, sizeof *lv);
        best = calloc((size_t)c.nq, sizeof *best);
        nl = calloc((size_t)c.nq, sizeof *nl);
        if (!g.codes || !g.slot || !g.gid || !g.gsize || !g.grep || !ord || !lv || !best || !nl)
            st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
    }
    double best_ncp = INFINITY;
    int found = 0;
    size_t max_sup = (size_t)floor(max_suppress * (double)c.n);
    if (st == SL_OK) {
        long total = 1, maxh = 0;
        for (int q = 0; q < c.nq; q++) {
            nl[q] = n_levels(&c.q[q]);
            total *= nl[q];
            maxh += nl[q] - 1;
            if (total > 1000000) {
                st = sl_set_error(SL_ERR_RANGE, "generalisation: lattice too large");
                break;
            }
        }
        /* by height: a node dominating a satisfying node cannot have less NCP (NCP grows
         * with every level), so it is skipped */
        for (long h = 0; st == SL_OK && h <= maxh; h++) {
            for (long idx = 0; idx < total && st == SL_OK; idx++) {
                long x = idx, sum = 0;
                for (int q = 0; q < c.nq; q++) {
                    lv[q] = (int)(x % nl[q]);
                    x /= nl[q];
                    sum += lv[q];
                }
                if (sum != h) continue;
                int dominated = 0;
                for (size_t i = 0; i < n_sat && !dominated; i++) {
                    int ge = 1;
                    for (int q = 0; q < c.nq && ge; q++) ge = lv[q] >= sat[i][q];
                    dominated = ge;
                }
                if (dominated) continue;
                double ncp = 0;
                int ok = fd_eval(&c, &g, lv, max_sup, &ncp, &ord);
                if (ok < 0) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
                if (ok == 1) {
                    if (n_sat == cap_sat) {
                        size_t nc = cap_sat ? 2 * cap_sat : 16;
                        void *gg = realloc(sat, nc * sizeof *sat);
                        if (!gg) {
                            st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
                            break;
                        }
                        sat = gg;
                        cap_sat = nc;
                    }
                    memcpy(sat[n_sat++], lv, (size_t)c.nq * sizeof *lv);
                    if (ncp < best_ncp) {
                        best_ncp = ncp;
                        memcpy(best, lv, (size_t)c.nq * sizeof *lv);
                        found = 1;
                    }
                }
            }
        }
        if (st == SL_OK && !found)
            st = sl_set_error(SL_ERR_RANGE,
                              "generalisation: no full-domain generalisation of %s meets k = %zu, "
                              "l = %d with at most %.3g suppressed", t->source, k, l, max_suppress);
    }
    if (st == SL_OK) st = result_new(&c, &r);
    if (st == SL_OK) {
        double ncp = 0;
        if (fd_eval(&c, &g, best, max_sup, &ncp, &ord) != 1)
            st = sl_set_error(SL_ERR_INTERNAL, "generalisation: best node no longer satisfies");
    }
    if (st == SL_OK) {
        r->levels = malloc((size_t)c.nq * sizeof *r->levels);
        if (!r->levels) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
        else memcpy(r->levels, best, (size_t)c.nq * sizeof *best);
    }
    /* renumber kept groups 0..; build text once per group and QI */
    size_t n_cls = 0;
    int64_t *newid = NULL;
    size_t *class_size = NULL;
    double ncp_sum = 0;
    int min_l = INT32_MAX;
    if (st == SL_OK) {
        newid = malloc(c.n * sizeof *newid);
        class_size = malloc(c.n * sizeof *class_size);
        if (!newid || !class_size) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
    }
    if (st == SL_OK) {
        for (size_t i = 0; i < c.n; i++) newid[i] = -1;
        const char **txt = calloc((size_t)c.nq, sizeof *txt);
        if (!txt) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
        for (size_t rr = 0; st == SL_OK && rr < c.n; rr++) {
            int64_t gi = g.gid[rr];
            if (g.gsize[gi] < c.k) continue;
            if (newid[gi] < 0) {
                newid[gi] = (int64_t)n_cls;
                class_size[n_cls++] = g.gsize[gi];
            }
            r->cls[rr] = newid[gi];
        }
        /* texts: the representative row of each kept group */
        const char **gt = st == SL_OK ? calloc(n_cls * (size_t)c.nq + 1, sizeof *gt) : NULL;
        if (st == SL_OK && !gt) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
        for (size_t rr = 0; st == SL_OK && rr < c.n; rr++) {
            int64_t cl = r->cls[rr];
            if (cl < 0) continue;
            for (int q = 0; q < c.nq; q++) {
                const char **slot = &gt[(size_t)cl * (size_t)c.nq + (size_t)q];
                if (!*slot) *slot = fd_text(r, &c.q[q], rr, best[q]);
                if (!*slot) {
                    st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
                    break;
                }
                r->gen[q][rr] = *slot;
                ncp_sum += fd_row_ncp(&c.q[q], rr, best[q]);
            }
        }
        /* l of each kept class */
        if (st == SL_OK && c.ns) {
            size_t *start = calloc(n_cls + 1, sizeof *start);
            if (!start) st = sl_set_error(SL_ERR_NOMEM, "generalisation: out of memory");
            for (size_t i = 0; st == SL_OK && i < n_cls; i++) start[i + 1] = start[i] + class_size[i];
            size_t *fill = st == SL_OK ? malloc((n_cls + 1) * sizeof *fill) : NULL;
            if (st == SL_OK && !fill) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
            if (st == SL_OK) {
                memcpy(fill, start, (n_cls + 1) * sizeof *fill);
                for (size_t rr = 0; rr < c.n; rr++)
                    if (r->cls[rr] >= 0) ord[fill[r->cls[rr]]++] = rr;
                for (size_t i = 0; i < n_cls; i++) {
                    int dl = min_distinct(&c, ord + start[i], class_size[i]);
                    if (dl < min_l) min_l = dl;
                }
            }
            free(fill);
            free(start);
        }
        free(gt);
        free(txt);
    }
    if (st == SL_OK) finish_report(&c, r, n_cls, ncp_sum, class_size, c.ns ? min_l : 0);
    free(newid);
    free(class_size);
    free(g.codes);
    free(g.slot);
    free(g.gid);
    free(g.gsize);
    free(g.grep);
    free(ord);
    free(lv);
    free(best);
    free(nl);
    free(sat);
    kctx_free(&c);
    if (st != SL_OK) {
        sl_kanon_result_free(r);
        return st;
    }
    *out = r;
    return SL_OK;
}
