/* SPDX-License-Identifier: Apache-2.0 */
/* aggregate.c - central-DP aggregate releases: count, sum, mean, histogram over a public
 * domain, with per-subject contribution bounding.
 *
 * Invariant: the sensitivity used for the noise is fixed by the schema and the options (clip
 * bounds, grid, the contribution bound c, the public domain), never by the data; bins come
 * from the domain, so an empty category is still published (noisy), and a category's
 * absence reveals nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "privacy_internal.h"

static const char *const agg_names[SL_AGG_QUERY_COUNT] = {"count", "sum", "mean", "histogram"};
_Static_assert(sizeof agg_names / sizeof agg_names[0] == SL_AGG_QUERY_COUNT, "queries");

const char *sl_agg_query_name(sl_agg_query q) {
    return (unsigned)q < SL_AGG_QUERY_COUNT ? agg_names[q] : "unknown";
}

sl_status sl_agg_query_parse(const char *name, sl_agg_query *out) {
    for (int i = 0; i < SL_AGG_QUERY_COUNT; i++)
        if (name && strcmp(name, agg_names[i]) == 0) {
            *out = (sl_agg_query)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown aggregate query '%s' (count, sum, mean, histogram)",
                        name ? name : "(null)");
}

typedef struct subj_row {
    const char *subject;
    size_t row;
} subj_row;

static int cmp_subj_row(const void *a, const void *b) {
    const subj_row *x = a, *y = b;
    int c = strcmp(x->subject, y->subject);
    if (c) return c;
    return (x->row > y->row) - (x->row < y->row);
}

/* keep[r] = 1 for each subject's first c rows (file order). */
static sl_status bound_contributions(const sl_priv_table *t, int subj_col, uint32_t c,
                                     unsigned char *keep) {
    if (subj_col < 0) {
        memset(keep, 1, t->n_rows);
        return SL_OK;
    }
    subj_row *v = malloc(t->n_rows * sizeof *v);
    if (!v) return sl_set_error(SL_ERR_NOMEM, "aggregate: out of memory");
    for (size_t r = 0; r < t->n_rows; r++) v[r] = (subj_row){t->cell[subj_col][r], r};
    qsort(v, t->n_rows, sizeof *v, cmp_subj_row);
    memset(keep, 0, t->n_rows);
    uint32_t run = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        run = (i > 0 && strcmp(v[i].subject, v[i - 1].subject) == 0) ? run + 1 : 0;
        if (run < c) keep[v[i].row] = 1;
    }
    free(v);
    return SL_OK;
}

/* One noisy integer with sensitivity sens (grid units) and this query's share of the budget. */
static sl_status make_mech(const sl_release_opts *o, double share, uint64_t sens, double rho_all,
                           sl_dp_mech *m) {
    if (o->delta > 0) return sl_dp_mech_gaussian_rho(m, rho_all * share, sens, 1.0);
    return sl_dp_mech_laplace(m, o->epsilon * share, sens, 1.0);
}

static void put_row(sl_pbuf *out, const char *query, const char *column, const char *bin,
                    double value) {
    sl_pbuf_field(out, query);
    sl_pbuf_put(out, ",", 1);
    sl_pbuf_field(out, column ? column : "");
    sl_pbuf_put(out, ",", 1);
    sl_pbuf_field(out, bin ? bin : "");
    char nb[40];
    snprintf(nb, sizeof nb, "%.15g", value);
    if (strtod(nb, NULL) != value) snprintf(nb, sizeof nb, "%.17g", value);
    sl_pbuf_put(out, ",", 1);
    sl_pbuf_puts(out, nb);
    sl_pbuf_put(out, "\n", 1);
}

sl_status sl_dp_aggregate(const sl_priv_table *t, const sl_priv_schema *s,
                          const sl_release_opts *o, sl_dp_rng *rng, sl_pbuf *out,
                          struct cJSON *params, double *rho) {
    *rho = 0;
    if (!isfinite(o->epsilon) || o->epsilon <= 0)
        return sl_set_error(SL_ERR_ARG, "aggregate: epsilon %g must be > 0", o->epsilon);
    if (!isfinite(o->delta) || o->delta < 0 || o->delta >= 1)
        return sl_set_error(SL_ERR_ARG, "aggregate: delta %g must be in [0, 1)", o->delta);
    if ((unsigned)o->query >= SL_AGG_QUERY_COUNT)
        return sl_set_error(SL_ERR_ARG, "aggregate: unknown query");
    uint32_t c = o->max_rows_per_subject ? o->max_rows_per_subject : 1;
    int subj_col = -1, col = -1;
    for (int k = 0; k < t->n_cols; k++)
        if (t->spec[k] >= 0 && s->cols[t->spec[k]].role == SL_ROLE_SUBJECT) subj_col = k;
    const sl_col_spec *cs = NULL;
    if (o->query != SL_AGG_COUNT) {
        if (!o->column)
            return sl_set_error(SL_ERR_ARG, "aggregate: %s needs a column",
                                sl_agg_query_name(o->query));
        for (int k = 0; k < t->n_cols; k++)
            if (t->spec[k] >= 0 && strcmp(t->header[k], o->column) == 0) col = k;
        if (col < 0)
            return sl_set_error(SL_ERR_NOTFOUND, "aggregate: column '%s' is not in schema %s",
                                o->column, s->source);
        cs = &s->cols[t->spec[col]];
        if ((o->query == SL_AGG_SUM || o->query == SL_AGG_MEAN) && cs->role != SL_ROLE_MEASUREMENT)
            return sl_set_error(SL_ERR_ARG, "aggregate: %s of '%s' needs a measurement column "
                                "(clipping bounds)", sl_agg_query_name(o->query), o->column);
        if (o->query == SL_AGG_HISTOGRAM && !(cs->n_domain || (cs->hier && cs->type ==
                                                                             SL_TYPE_CATEGORY)))
            return sl_set_error(SL_ERR_ARG, "aggregate: histogram of '%s' needs a public domain "
                                "(\"domain\" or a hierarchy in %s)", o->column, s->source);
    }
    double rho_all = o->delta > 0 ? sl_dp_rho_from_eps_delta(o->epsilon, o->delta) : 0;
    *rho = rho_all;
    unsigned char *keep = malloc(t->n_rows ? t->n_rows : 1);
    if (!keep) return sl_set_error(SL_ERR_NOMEM, "aggregate: out of memory");
    sl_status st = bound_contributions(t, subj_col, c, keep);
    size_t n_keep = 0;
    for (size_t r = 0; st == SL_OK && r < t->n_rows; r++) n_keep += keep[r];
    cJSON_AddStringToObject(params, "query", sl_agg_query_name(o->query));
    if (o->column) cJSON_AddStringToObject(params, "column", o->column);
    cJSON_AddNumberToObject(params, "max_rows_per_subject", c);
    cJSON_AddNumberToObject(params, "epsilon", o->epsilon);
    cJSON_AddNumberToObject(params, "delta", o->delta);
    if (rho_all > 0) cJSON_AddNumberToObject(params, "rho", rho_all);
    cJSON_AddStringToObject(params, "mechanism", o->delta > 0 ? "discrete_gaussian"
                                                              : "discrete_laplace");
    cJSON_AddBoolToObject(params, "seeded_noise", o->seeded);
    sl_pbuf_puts(out, "query,column,bin,value\n");
    sl_dp_mech m;
    if (st == SL_OK && o->query == SL_AGG_COUNT) {
        st = make_mech(o, 1.0, c, rho_all, &m);
        if (st == SL_OK) put_row(out, "count", NULL, NULL,
                                 (double)n_keep + (double)sl_dp_mech_noise(&m, rng));
        cJSON_AddNumberToObject(params, "sensitivity", c);
    } else if (st == SL_OK && (o->query == SL_AGG_SUM || o->query == SL_AGG_MEAN)) {
        double g = cs->grid, klo = nearbyint(cs->lo / g), khi = nearbyint(cs->hi / g);
        double per = fmax(fabs(klo), fabs(khi));
        if (!(per * c < 0x1p52))
            st = sl_set_error(SL_ERR_RANGE, "aggregate: '%s': clip range / grid too large",
                              o->column);
        uint64_t sens = per < 1 ? c : (uint64_t)per * c;
        double share = o->query == SL_AGG_MEAN ? 0.5 : 1.0;
        if (st == SL_OK) st = make_mech(o, share, sens, rho_all, &m);
        if (st == SL_OK) {
            /* exact integer sum of grid values (|k| < 2^52 each, n < 2^31 rows) */
            long double sum = 0;
            for (size_t r = 0; r < t->n_rows; r++) {
                if (!keep[r]) continue;
                double x = t->num[col][r];
                x = x < cs->lo ? cs->lo : x > cs->hi ? cs->hi : x;
                sum += (long double)nearbyint(x / g);
            }
            double noisy_sum = ((double)sum + (double)sl_dp_mech_noise(&m, rng)) * g;
            put_row(out, "sum", o->column, NULL, noisy_sum);
            cJSON_AddNumberToObject(params, "sensitivity", (double)sens);
            cJSON_AddNumberToObject(params, "grid", g);
            if (o->query == SL_AGG_MEAN) {
                sl_dp_mech mc;
                st = make_mech(o, 0.5, c, rho_all, &mc);
                if (st == SL_OK) {
                    double noisy_n = (double)n_keep + (double)sl_dp_mech_noise(&mc, rng);
                    put_row(out, "count", NULL, NULL, noisy_n);
                    put_row(out, "mean", o->column, NULL, noisy_sum / fmax(noisy_n, 1.0));
                }
            }
        }
    } else if (st == SL_OK) {
        /* histogram over the public domain: the domain list, or the hierarchy's leaves */
        int nb = 0;
        const char **bins = NULL;
        int *is_leaf = NULL;
        if (cs->n_domain) {
            nb = cs->n_domain;
            bins = malloc((size_t)nb * sizeof *bins);
            for (int i = 0; bins && i < nb; i++) bins[i] = cs->domain[i];
        } else {
            is_leaf = calloc((size_t)cs->hier->n, sizeof *is_leaf);
            bins = malloc((size_t)cs->hier->n * sizeof *bins);
            if (is_leaf && bins) {
                for (int i = 0; i < cs->hier->n; i++) is_leaf[i] = 1;
                for (int i = 1; i < cs->hier->n; i++) is_leaf[cs->hier->parent[i]] = 0;
                for (int i = 1; i < cs->hier->n; i++)
                    if (is_leaf[i]) bins[nb++] = cs->hier->name[i];
            }
        }
        int64_t *cnt = calloc((size_t)(nb ? nb : 1), sizeof *cnt);
        if (!bins || !cnt || (!cs->n_domain && !is_leaf))
            st = sl_set_error(SL_ERR_NOMEM, "aggregate: out of memory");
        if (st == SL_OK) st = make_mech(o, 1.0, c, rho_all, &m);
        for (size_t r = 0; st == SL_OK && r < t->n_rows; r++) {
            if (!keep[r]) continue;
            /* values that are not bins (inner hierarchy nodes) fall in no bin */
            for (int b = 0; b < nb; b++)
                if (strcmp(bins[b], t->cell[col][r]) == 0) {
                    cnt[b]++;
                    break;
                }
        }
        for (int b = 0; st == SL_OK && b < nb; b++)
            put_row(out, "histogram", o->column, bins[b],
                    (double)cnt[b] + (double)sl_dp_mech_noise(&m, rng));
        cJSON_AddNumberToObject(params, "sensitivity", c);
        cJSON_AddNumberToObject(params, "bins", nb);
        free(cnt);
        free(bins);
        free(is_leaf);
    }
    free(keep);
    if (st == SL_OK && out->oom) st = sl_set_error(SL_ERR_NOMEM, "aggregate: out of memory");
    return st;
}
