/* SPDX-License-Identifier: Apache-2.0 */
/* report.c - the self-contained HTML report of one run, built from its registry rows.
 *
 * Invariant: the document references nothing outside itself (inline CSS, inline SVG, no
 * scripts, no URLs), every user-supplied string is HTML-escaped, and every section either
 * draws the rows recorded for it or says "no data recorded for ..." - the report renders
 * whatever a run has, from a bare `runs` row to a full pipeline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_weight.h"

#define DNAN ((double)NAN)

/* --- helpers --------------------------------------------------------------- */

typedef struct series {
    char *name;   /* full series name */
    char *key;    /* name with the arm component removed (chart grouping) */
    char *arm;    /* arm component or NULL */
    double *x, *y;
    size_t n, cap;
} series;

static const char *const arm_words[] = {"baseline", "augmented", "real", "synthetic",
                                        "control", "treatment"};

/* Split "baseline/eval/return" -> key "eval/return", arm "baseline" (also as any other path
 * component, e.g. "eval/return/augmented"). */
static void split_arm(const char *name, char **key, char **arm) {
    *key = NULL;
    *arm = NULL;
    size_t len = strlen(name);
    const char *p = name;
    while (p <= name + len) {
        const char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        for (size_t w = 0; w < sizeof arm_words / sizeof arm_words[0]; w++)
            if (strlen(arm_words[w]) == cl && strncmp(p, arm_words[w], cl) == 0) {
                *arm = strdup(arm_words[w]);
                char *k = malloc(len + 1);
                if (!k || !*arm) {
                    free(k);
                    free(*arm);
                    *arm = NULL;
                    *key = strdup(name);
                    return;
                }
                size_t pre = (size_t)(p - name);
                memcpy(k, name, pre);
                const char *rest = e ? e + 1 : p + cl;
                size_t rl = strlen(rest);
                memcpy(k + pre, rest, rl + 1);
                size_t kl = strlen(k);
                if (kl && k[kl - 1] == '/') k[kl - 1] = '\0';
                if (!*k) {
                    free(k);
                    k = strdup(name);
                }
                *key = k;
                return;
            }
        if (!e) break;
        p = e + 1;
    }
    *key = strdup(name);
}

static void free_series(series *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(s[i].name);
        free(s[i].key);
        free(s[i].arm);
        free(s[i].x);
        free(s[i].y);
    }
    free(s);
}

static int push_point(series *s, double x, double y) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return 0;
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return 0;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 1;
}

static sl_status load_metrics(sl_registry *reg, int64_t run, series **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    sl_metric_series *ms = NULL;
    size_t nm = 0;
    SL_TRY(sl_registry_metrics(reg, run, NULL, &ms, &nm));
    series *s = nm ? calloc(nm, sizeof *s) : NULL;
    sl_status status = nm && !s ? sl_set_error(SL_ERR_NOMEM, "report: out of memory") : SL_OK;
    size_t n = 0;
    for (size_t i = 0; status == SL_OK && i < nm; i++) {
        n++;
        s[i].name = strdup(ms[i].name);
        if (s[i].name) split_arm(ms[i].name, &s[i].key, &s[i].arm);
        if (!s[i].name || !s[i].key) {
            status = sl_set_error(SL_ERR_NOMEM, "report: out of memory");
            break;
        }
        for (size_t k = 0; k < ms[i].n; k++)
            if (!push_point(&s[i], (double)ms[i].step[k], ms[i].value[k])) {
                status = sl_set_error(SL_ERR_NOMEM, "report: out of memory");
                break;
            }
    }
    sl_metric_series_free(ms, nm);
    if (status != SL_OK) {
        free_series(s, n);
        return status;
    }
    *out = s;
    *nout = n;
    return SL_OK;
}

static void section(sl_buf *b, const char *id, const char *title) {
    sl_buf_printf(b, "<section id=\"%s\"><h2>", id);
    sl_buf_html(b, title);
    sl_buf_puts(b, "</h2>\n");
}

static void no_data_note(sl_buf *b, const char *what) {
    sl_buf_puts(b, "<p class=\"nodata\">no data recorded for ");
    sl_buf_html(b, what);
    sl_buf_puts(b, "</p>\n");
}

static void scalar_text(const cJSON *v, char *buf, size_t n) {
    if (!v || cJSON_IsNull(v))
        snprintf(buf, n, "-");
    else if (cJSON_IsString(v) || cJSON_IsRaw(v))
        snprintf(buf, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.6g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(buf, n, "%s", t ? t : "?");
        free(t);
    }
}

/* A table of rows (array of objects) with the given columns. */
static void rows_table(sl_buf *b, const cJSON *rows, const char *const *cols, size_t ncol) {
    sl_buf_puts(b, "<table><tr>");
    for (size_t c = 0; c < ncol; c++) {
        sl_buf_puts(b, "<th>");
        sl_buf_html(b, cols[c]);
        sl_buf_puts(b, "</th>");
    }
    sl_buf_puts(b, "</tr>\n");
    char cell[1024];
    for (const cJSON *r = rows ? rows->child : NULL; r; r = r->next) {
        sl_buf_puts(b, "<tr>");
        for (size_t c = 0; c < ncol; c++) {
            scalar_text(cJSON_GetObjectItem(r, cols[c]), cell, sizeof cell);
            sl_buf_puts(b, "<td>");
            sl_buf_html(b, cell);
            sl_buf_puts(b, "</td>");
        }
        sl_buf_puts(b, "</tr>\n");
    }
    sl_buf_puts(b, "</table>\n");
}

static void kv_table(sl_buf *b, const cJSON *v, const char *what) {
    cJSON *flat = NULL;
    if (sl_json_flatten(v, &flat) != SL_OK) {
        b->oom = 1;
        return;
    }
    if (!flat->child) {
        no_data_note(b, what);
    } else {
        sl_buf_puts(b, "<table class=\"kv\">");
        for (const cJSON *c = flat->child; c; c = c->next) {
            sl_buf_puts(b, "<tr><th>");
            sl_buf_html(b, c->string);
            sl_buf_puts(b, "</th><td>");
            sl_buf_html(b, c->valuestring);
            sl_buf_puts(b, "</td></tr>");
        }
        sl_buf_puts(b, "</table>\n");
    }
    cJSON_Delete(flat);
}

static void json_details(sl_buf *b, const char *summary, const cJSON *v) {
    char *t = cJSON_Print(v);
    if (!t) return;
    sl_buf_puts(b, "<details><summary>");
    sl_buf_html(b, summary);
    sl_buf_puts(b, "</summary><pre>");
    sl_buf_html(b, t);
    sl_buf_puts(b, "</pre></details>\n");
    free(t);
}

/* Rows of one named registry query for `run` as a JSON array (limit <= 0: all). */
static sl_status rows(sl_registry *reg, sl_rows_kind kind, int64_t run, int64_t limit,
                      cJSON **out) {
    sl_rows_query q = sl_rows_query_default();
    q.run = run;
    q.limit = limit;
    sl_rows *r = NULL;
    SL_TRY(sl_registry_rows(reg, kind, &q, &r));
    sl_status s = sl_rows_to_json(r, out);
    sl_rows_free(r);
    return s;
}

/* Column `col` of every row as a malloc'd double array (NaN for non-numbers). */
static double *column(const cJSON *arr, const char *col, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(arr);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) return NULL;
    size_t i = 0;
    for (const cJSON *r = arr->child; r; r = r->next, i++) {
        const cJSON *c = cJSON_GetObjectItem(r, col);
        v[i] = cJSON_IsNumber(c) ? c->valuedouble : DNAN;
    }
    return v;
}

/* --- sections ------------------------------------------------------------------ */

static void sec_curves(sl_buf *b, series *s, size_t ns) {
    section(b, "curves", "Learning curves");
    if (!ns) {
        no_data_note(b, "metric series (learning curves)");
        sl_buf_puts(b, "</section>\n");
        return;
    }
    sl_buf_puts(b, "<p>Series with an arm component (baseline, augmented, real, synthetic, ...)"
                   " share a chart with their other arms.</p><div class=\"grid\">\n");
    char *done = calloc(ns, 1);
    sl_svg_series *group = malloc(ns * sizeof *group);
    if (!done || !group) {
        b->oom = 1;
        free(done);
        free(group);
        return;
    }
    for (size_t i = 0; i < ns; i++) {
        if (done[i]) continue;
        size_t ng = 0;
        for (size_t j = i; j < ns; j++)
            if (!done[j] && strcmp(s[j].key, s[i].key) == 0 && (s[i].arm || j == i) &&
                (!s[j].arm == !s[i].arm)) {
                done[j] = 1;
                group[ng++] = (sl_svg_series){s[j].arm ? s[j].arm : s[j].name, s[j].x, s[j].y, s[j].n};
            }
        sl_svg_opts o = {.title = s[i].key, .xlabel = "step", .ylabel = NULL,
                         .markers = s[i].n <= 30};
        sl_buf_puts(b, "<figure>");
        sl_svg_line_chart(b, group, ng, &o);
        sl_buf_puts(b, "</figure>\n");
    }
    sl_buf_puts(b, "</div>\n");
    free(done);
    free(group);
    sl_buf_puts(b, "</section>\n");
}

static sl_status sec_world(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "world", "World model: std ratio and trust by horizon");
    cJSON *we = NULL, *br = NULL;
    SL_TRY(rows(reg, SL_ROWS_WORLD_EVAL, run, 0, &we));
    sl_status s = rows(reg, SL_ROWS_BRANCH_HORIZONS, run, 0, &br);
    if (s != SL_OK) {
        cJSON_Delete(we);
        return s;
    }
    const cJSON *src = we->child ? we : br;
    if (!src->child) {
        no_data_note(b, "world-model evaluation (world_eval rows or branches)");
    } else {
        size_t n;
        double *h = column(src, "horizon", &n), *sr = column(src, "std_ratio", &n),
               *tr = column(src, "trust", &n);
        if (!h || !sr || !tr) {
            b->oom = 1;
        } else {
            if (src == br)
                sl_buf_puts(b, "<p>From the recorded branches (mean per horizon); no world_eval"
                               " rows were recorded.</p>");
            sl_buf_puts(b, "<div class=\"grid\"><figure>");
            sl_svg_series a = {"std ratio", h, sr, n};
            sl_svg_opts o = {.title = "std ratio (synthetic / real) by horizon",
                             .xlabel = "horizon", .ylabel = "std ratio", .has_ref = 1,
                             .ref_y = 1.0, .ref_label = "ratio 1 = real spread", .markers = 1};
            sl_svg_line_chart(b, &a, 1, &o);
            sl_buf_puts(b, "</figure><figure>");
            sl_svg_series t = {"trust", h, tr, n};
            sl_svg_opts o2 = {.title = "trust p(real) by horizon", .xlabel = "horizon",
                              .ylabel = "mean trust", .markers = 1};
            sl_svg_line_chart(b, &t, 1, &o2);
            sl_buf_puts(b, "</figure></div>\n");
            static const char *const wcols[] = {"horizon", "mse", "std_ratio", "var_growth",
                                                "trust", "auc"};
            static const char *const bcols[] = {"horizon", "branches", "trust", "std_ratio",
                                                "pass_rate"};
            if (src == we)
                rows_table(b, we, wcols, 6);
            else
                rows_table(b, br, bcols, 5);
        }
        free(h);
        free(sr);
        free(tr);
    }
    cJSON_Delete(we);
    cJSON_Delete(br);
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_trust(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "trust", "Trust histograms: real vs synthetic");
    /* gather sets (at most 64); draw one histogram per name */
    enum { MAXSETS = 64 };
    sl_rows_query q = sl_rows_query_default();
    q.run = run;
    q.limit = MAXSETS;
    sl_rows *sr = NULL;
    SL_TRY(sl_registry_rows(reg, SL_ROWS_SAMPLES, &q, &sr));
    sl_svg_series sets[MAXSETS];
    const char *names[MAXSETS];
    size_t nsets = 0;
    for (size_t i = 0; i < sr->nrow && nsets < MAXSETS; i++) {
        const sl_cell *nm = sl_rows_get(sr, i, "name"), *lb = sl_rows_get(sr, i, "label"),
                      *data = sl_rows_get(sr, i, "data");
        names[nsets] = nm && nm->s ? nm->s : "";
        sets[nsets] = (sl_svg_series){lb && lb->s ? lb->s : "", NULL,
                                      data && data->type == SL_CELL_F64S ? data->v : NULL,
                                      data && data->type == SL_CELL_F64S ? data->n : 0};
        nsets++;
    }
    int drew = 0;
    if (nsets) {
        sl_buf_puts(b, "<div class=\"grid\">");
        for (size_t i = 0; i < nsets;) {
            size_t j = i;
            while (j < nsets && strcmp(names[j], names[i]) == 0) j++;
            sl_svg_opts o = {.title = names[i], .xlabel = names[i], .ylabel = "density"};
            sl_buf_puts(b, "<figure>");
            sl_svg_histogram(b, &sets[i], j - i, 20, &o);
            sl_buf_puts(b, "</figure>");
            drew = 1;
            i = j;
        }
        sl_buf_puts(b, "</div>\n");
    }
    sl_rows_free(sr);
    if (!drew) {
        /* fall back to the branch gate: trust of passed vs rejected branches */
        cJSON *br = NULL;
        SL_TRY(rows(reg, SL_ROWS_BRANCH_TRUST, run, 200000, &br));
        size_t n = (size_t)cJSON_GetArraySize(br), np = 0, nr = 0;
        if (n) {
            double *pv = malloc(n * sizeof *pv), *rv = malloc(n * sizeof *rv);
            if (!pv || !rv) {
                b->oom = 1;
            } else {
                for (const cJSON *r = br->child; r; r = r->next) {
                    double t = sl_json_num(r, "trust", DNAN);
                    if (sl_json_int(r, "passed", 0))
                        pv[np++] = t;
                    else
                        rv[nr++] = t;
                }
                sl_svg_series hs[2] = {{"passed gates", NULL, pv, np}, {"rejected", NULL, rv, nr}};
                sl_svg_opts o = {.title = "trust of synthetic branches (passed vs rejected)",
                                 .xlabel = "trust p(real)", .ylabel = "density"};
                sl_buf_puts(b, "<p>No sample sets were recorded; trust of the recorded branches"
                               " is shown instead.</p><figure>");
                sl_svg_histogram(b, hs, 2, 20, &o);
                sl_buf_puts(b, "</figure>\n");
                drew = 1;
            }
            free(pv);
            free(rv);
        }
        cJSON_Delete(br);
    }
    if (!drew) no_data_note(b, "trust samples (real vs synthetic)");
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_weights(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "weights", "Synthetic weight components");
    cJSON *w = NULL, *rails = NULL;
    /* mean per step, bucketed so that at most ~1000 points are drawn */
    SL_TRY(rows(reg, SL_ROWS_WEIGHT_CURVE, run, 0, &w));
    sl_status s = rows(reg, SL_ROWS_WEIGHT_RAILS, run, 0, &rails);
    if (s != SL_OK) {
        cJSON_Delete(w);
        return s;
    }
    if (!w->child) {
        no_data_note(b, "weight-controller decisions");
    } else {
        size_t n;
        double *x = column(w, "step", &n), *t = column(w, "trust", &n), *e = column(w, "econ", &n),
               *l = column(w, "lambda", &n), *f = column(w, "w_final", &n);
        if (!x || !t || !e || !l || !f) {
            b->oom = 1;
        } else {
            sl_svg_series ss[4] = {{"trust", x, t, n}, {"econ", x, e, n}, {"lambda", x, l, n},
                                   {"w_final", x, f, n}};
            sl_svg_opts o = {.title = "weight components (mean per step)", .xlabel = "step",
                             .ylabel = "value", .markers = n <= 30};
            sl_buf_puts(b, "<div class=\"grid\"><figure>");
            sl_svg_line_chart(b, ss, 4, &o);
            sl_buf_puts(b, "</figure><figure>");
            /* rails holds bits (1u << sl_weight_rail); count rows per rail */
            double v[SL_RAIL_COUNT] = {0}, total = 0;
            const char *labels[SL_RAIL_COUNT];
            for (int k = 0; k < SL_RAIL_COUNT; k++) labels[k] = sl_weight_rail_name((sl_weight_rail)k);
            for (const cJSON *r = rails->child; r; r = r->next) {
                double bits = sl_json_num(r, "rails", 0), cnt = sl_json_num(r, "n", 0);
                uint32_t u = bits >= 0 && bits < 4294967296.0 ? (uint32_t)bits : 0;
                for (int k = 0; k < SL_RAIL_COUNT; k++)
                    if (u & (1u << k)) v[k] += cnt;
                total += cnt;
            }
            sl_svg_opts o2 = {.title = "safety rails fired (rows)", .ylabel = "rows"};
            sl_svg_bars(b, labels, v, NULL, SL_RAIL_COUNT, &o2);
            sl_buf_puts(b, "</figure></div>\n");
            sl_buf_printf(b, "<p>%.0f weight rows recorded.</p>\n", total);
        }
        free(x);
        free(t);
        free(e);
        free(l);
        free(f);
    }
    cJSON_Delete(w);
    cJSON_Delete(rails);
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_estimates(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "econ", "Econ metrics with confidence intervals");
    cJSON *e = NULL;
    SL_TRY(rows(reg, SL_ROWS_ESTIMATES, run, 0, &e));
    size_t n = (size_t)cJSON_GetArraySize(e);
    if (!n) {
        no_data_note(b, "estimates (econ metrics with CIs)");
    } else {
        sl_svg_interval *it = malloc(n * sizeof *it);
        char (*labels)[128] = malloc(n * sizeof *labels);
        if (!it || !labels) {
            b->oom = 1;
        } else {
            sl_buf_puts(b, "<div class=\"grid\">");
            size_t i = 0;
            const cJSON *r = e->child;
            while (r) {
                const char *name = sl_json_str(r, "name", "");
                size_t k = 0;
                for (; r && strcmp(sl_json_str(r, "name", ""), name) == 0; r = r->next, k++) {
                    snprintf(labels[i + k], 128, "%s (n=%d)", sl_json_str(r, "arm", "-"),
                             sl_json_int(r, "n", 0));
                    it[i + k] = (sl_svg_interval){labels[i + k], sl_json_num(r, "value", DNAN),
                                                  sl_json_num(r, "ci_lo", DNAN),
                                                  sl_json_num(r, "ci_hi", DNAN)};
                }
                sl_svg_opts o = {.title = name};
                sl_buf_puts(b, "<figure>");
                sl_svg_intervals(b, it + i, k, &o);
                sl_buf_puts(b, "</figure>");
                i += k;
            }
            sl_buf_puts(b, "</div>\n");
            static const char *const cols[] = {"name", "arm", "value", "ci_lo", "ci_hi", "n"};
            rows_table(b, e, cols, 6);
        }
        free(it);
        free(labels);
    }
    cJSON_Delete(e);
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_ab(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "ab", "A/B experiments");
    cJSON *a = NULL;
    SL_TRY(rows(reg, SL_ROWS_AB, run, 0, &a));
    if (!a->child) no_data_note(b, "A/B experiments");
    for (const cJSON *r = a->child; r; r = r->next) {
        const char *verdict = sl_json_str(r, "verdict", "");
        sl_buf_puts(b, "<h3>");
        sl_buf_html(b, sl_json_str(r, "name", ""));
        sl_buf_puts(b, " <span class=\"verdict\">");
        sl_buf_html(b, verdict);
        sl_buf_puts(b, "</span></h3>\n");
        const cJSON *ex = cJSON_GetObjectItem(r, "experiment");
        /* top-level scalars as a table; nested parts in the raw JSON below */
        cJSON *top = cJSON_CreateObject();
        for (const cJSON *c = ex ? ex->child : NULL; top && c; c = c->next)
            if (!cJSON_IsObject(c) && !(cJSON_IsArray(c) && cJSON_GetArraySize(c) > 8))
                cJSON_AddItemToObject(top, c->string, cJSON_Duplicate(c, 1));
        kv_table(b, top, "scalar fields of the experiment");
        cJSON_Delete(top);
        json_details(b, "experiment JSON", ex);
    }
    cJSON_Delete(a);
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_ladder(sl_buf *b, sl_registry *reg, int64_t run) {
    section(b, "ladder", "Horizon ladder");
    cJSON *l = NULL;
    SL_TRY(rows(reg, SL_ROWS_LADDER, run, 0, &l));
    size_t n = (size_t)cJSON_GetArraySize(l);
    if (!n) {
        no_data_note(b, "ladder levels");
    } else {
        const char **labels = malloc(n * sizeof *labels);
        char (*lab)[48] = malloc(n * sizeof *lab);
        double *v = malloc(n * sizeof *v);
        int *pass = malloc(n * sizeof *pass);
        if (!labels || !lab || !v || !pass) {
            b->oom = 1;
        } else {
            size_t i = 0;
            for (const cJSON *r = l->child; r; r = r->next, i++) {
                snprintf(lab[i], sizeof lab[i], "L%d (h=%d)", sl_json_int(r, "level", 0),
                         sl_json_int(r, "horizon", 0));
                labels[i] = lab[i];
                v[i] = sl_json_num(r, "horizon", 0);
                pass[i] = sl_json_int(r, "passed", 0);
            }
            sl_svg_opts o = {.title = "ladder levels: horizon reached (green pass, red fail)",
                             .ylabel = "horizon"};
            sl_buf_puts(b, "<figure>");
            sl_svg_bars(b, labels, v, pass, n, &o);
            sl_buf_puts(b, "</figure>\n");
            static const char *const cols[] = {"level", "horizon", "passed", "verdict"};
            rows_table(b, l, cols, 4);
            for (const cJSON *r = l->child; r; r = r->next) {
                const cJSON *d = cJSON_GetObjectItem(r, "detail");
                if (d && !cJSON_IsNull(d)) {
                    char t[64];
                    snprintf(t, sizeof t, "level %d details", sl_json_int(r, "level", 0));
                    json_details(b, t, d);
                }
            }
        }
        free(labels);
        free(lab);
        free(v);
        free(pass);
    }
    cJSON_Delete(l);
    sl_buf_puts(b, "</section>\n");
    return SL_OK;
}

static sl_status sec_tables(sl_buf *b, sl_registry *reg, int64_t run) {
    static const struct {
        const char *id, *title, *what;
        sl_rows_kind kind;
        const char *cols[8];
        size_t ncol;
    } t[] = {
        {"datasets", "Datasets", "datasets", SL_ROWS_DATASETS,
         {"id", "kind", "path", "n_rows", "n_episodes", "bytes", "sha256"}, 7},
        {"models", "Models", "models", SL_ROWS_MODELS,
         {"id", "kind", "path", "parent_id", "sha256", "metrics"}, 6},
        {"jobs", "Jobs", "jobs", SL_ROWS_JOBS,
         {"id", "kind", "status", "done", "total", "message", "updated"}, 7},
        {"artifacts", "Artifacts", "artifacts", SL_ROWS_ARTIFACTS,
         {"id", "kind", "path", "bytes", "sha256"}, 5},
        {"privacy", "Privacy releases", "privacy releases", SL_ROWS_PRIVACY,
         {"id", "technique", "dataset", "epsilon", "formal", "n_rows", "charged_subjects",
          "status"}, 8},
        {"deployments", "Deployments", "deployments", SL_ROWS_DEPLOYMENTS,
         {"id", "model_id", "strategy", "traffic", "reason", "created"}, 6},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cJSON *r = NULL;
        SL_TRY(rows(reg, t[i].kind, run, 0, &r));
        section(b, t[i].id, t[i].title);
        if (r->child)
            rows_table(b, r, t[i].cols, t[i].ncol);
        else
            no_data_note(b, t[i].what);
        sl_buf_puts(b, "</section>\n");
        cJSON_Delete(r);
    }
    cJSON *res = NULL;
    SL_TRY(rows(reg, SL_ROWS_RESULTS, run, 0, &res));
    section(b, "results", "Other results");
    if (!res->child) no_data_note(b, "other JSON results");
    for (const cJSON *r = res->child; r; r = r->next) {
        char t2[160];
        snprintf(t2, sizeof t2, "%s (%s)", sl_json_str(r, "kind", ""), sl_json_str(r, "created", ""));
        json_details(b, t2, cJSON_GetObjectItem(r, "json"));
    }
    sl_buf_puts(b, "</section>\n");
    cJSON_Delete(res);
    return SL_OK;
}

static const char css[] =
    "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;"
    "color:#222;background:#f6f7f9}"
    "header{background:#20324a;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}"
    "header .meta{opacity:.85;font-size:13px;margin-top:4px}"
    "main{padding:8px 28px 40px}section{background:#fff;border:1px solid #dde1e6;"
    "border-radius:6px;padding:4px 18px 14px;margin:16px 0}"
    "h2{font-size:18px;border-bottom:1px solid #eee;padding-bottom:6px}"
    "h3{font-size:15px}.grid{display:flex;flex-wrap:wrap;gap:12px}"
    "figure{margin:0;flex:1 1 520px;max-width:660px}"
    "svg.chart{width:100%;height:auto;border:1px solid #eee}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
    "th,td{border:1px solid #e3e3e3;padding:3px 8px;text-align:left;vertical-align:top;"
    "max-width:520px;overflow-wrap:anywhere}th{background:#f2f4f7}"
    ".nodata{color:#888;font-style:italic}"
    ".status-ok{color:#2ca02c}.status-failed,.status-aborted{color:#d62728}"
    ".status-running{color:#ff7f0e}"
    ".verdict{background:#eef3fb;border:1px solid #c9d6ea;border-radius:4px;padding:1px 6px;"
    "font-weight:normal}"
    "nav a{margin-right:10px;font-size:13px}pre{background:#f7f7f7;padding:8px;overflow:auto;"
    "max-height:420px}";

sl_status sl_report_html(sl_registry *reg, int64_t run_id, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "report: no registry open");
    cJSON *summary = NULL;
    SL_TRY(sl_registry_run_summary(reg, run_id, &summary));
    const cJSON *run = cJSON_GetObjectItem(summary, "run");
    sl_buf b = {0};
    char t[256];
    sl_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>");
    snprintf(t, sizeof t, "synthloop run %lld: %s", (long long)run_id, sl_json_str(run, "command", ""));
    sl_buf_html(&b, t);
    sl_buf_printf(&b, "</title><style>%s</style></head><body>\n<header><h1>", css);
    sl_buf_html(&b, t);
    const char *status = sl_json_str(run, "status", "");
    sl_buf_printf(&b, " <span class=\"status-%s\">", strcmp(status, "ok") == 0 ? "ok"
                                                      : strcmp(status, "running") == 0 ? "running"
                                                                                       : "failed");
    sl_buf_html(&b, status);
    sl_buf_puts(&b, "</span></h1><div class=\"meta\">");
    char seed[64], secs[64];
    scalar_text(cJSON_GetObjectItem(run, "seed"), seed, sizeof seed);
    scalar_text(cJSON_GetObjectItem(run, "seconds"), secs, sizeof secs);
    snprintf(t, sizeof t, "started %s, ended %s (%s s), seed %s, version %s, git %s, host %s",
             sl_json_str(run, "started", "-"), sl_json_str(run, "ended", "-"), secs, seed,
             sl_json_str(run, "version", "-"), sl_json_str(run, "git", "-"),
             sl_json_str(run, "host", "-"));
    sl_buf_html(&b, t);
    sl_buf_puts(&b, "</div></header>\n<main>\n<nav>");
    static const char *const nav[][2] = {
        {"config", "config"},   {"curves", "curves"},   {"world", "world model"},
        {"trust", "trust"},     {"weights", "weights"}, {"econ", "econ"},
        {"ab", "A/B"},          {"ladder", "ladder"},   {"datasets", "datasets"},
        {"models", "models"},   {"jobs", "jobs"},       {"artifacts", "artifacts"},
        {"results", "results"}};
    for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++)
        sl_buf_printf(&b, "<a href=\"#%s\">%s</a>", nav[i][0], nav[i][1]);
    sl_buf_puts(&b, "</nav>\n");
    if (cJSON_IsString(cJSON_GetObjectItem(run, "note"))) {
        sl_buf_puts(&b, "<p><b>Note:</b> ");
        sl_buf_html(&b, sl_json_str(run, "note", ""));
        sl_buf_puts(&b, "</p>\n");
    }
    section(&b, "config", "Config and summary");
    sl_buf_puts(&b, "<h3>config</h3>");
    kv_table(&b, cJSON_GetObjectItem(run, "config"), "config");
    sl_buf_puts(&b, "<h3>summary</h3>");
    kv_table(&b, cJSON_GetObjectItem(run, "summary"), "summary");
    sl_buf_puts(&b, "</section>\n");
    cJSON_Delete(summary);

    series *s = NULL;
    size_t ns = 0;
    sl_status st = load_metrics(reg, run_id, &s, &ns);
    if (st == SL_OK) {
        sec_curves(&b, s, ns);
        free_series(s, ns);
    }
    if (st == SL_OK) st = sec_world(&b, reg, run_id);
    if (st == SL_OK) st = sec_trust(&b, reg, run_id);
    if (st == SL_OK) st = sec_weights(&b, reg, run_id);
    if (st == SL_OK) st = sec_estimates(&b, reg, run_id);
    if (st == SL_OK) st = sec_ab(&b, reg, run_id);
    if (st == SL_OK) st = sec_ladder(&b, reg, run_id);
    if (st == SL_OK) st = sec_tables(&b, reg, run_id);
    char ts[32];
    sl_utc_iso8601(ts, sizeof ts);
    sl_buf_printf(&b, "</main><footer style=\"padding:0 28px 20px;color:#777;font-size:12px\">"
                      "generated by synthloop %s (%s) at %s</footer></body></html>\n",
                  sl_version(), sl_git_describe(), ts);
    if (st != SL_OK) {
        sl_buf_free(&b);
        return st;
    }
    size_t n = 0;
    char *html = sl_buf_take(&b, &n);
    if (!html) return SL_ERR_NOMEM;
    *out = html;
    if (len) *len = n;
    return SL_OK;
}

sl_status sl_report_write(sl_registry *reg, int64_t run_id, const char *path) {
    if (!path || !*path) return sl_set_error(SL_ERR_ARG, "report: empty output path");
    char *html = NULL;
    size_t n = 0;
    SL_TRY(sl_report_html(reg, run_id, &html, &n));
    sl_status s = sl_write_file_atomic(path, html, n);
    free(html);
    SL_TRY(s);
    return sl_registry_add_artifact(reg, run_id, "report.html", path);
}
