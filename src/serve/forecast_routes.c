/* SPDX-License-Identifier: Apache-2.0 */
/* forecast_routes.c - the forecast module's API routes and dashboard page (issue 18):
 *   GET /api/forecast/RUN       the run's forecast rows and summary as JSON
 *   GET /api/forecast/RUN/page  an HTML page: scores, reliability diagram, per-depth table
 *                               against seed 004's targets, comparison CIs, split counts
 * Depends only on public headers, so that the router's hook is a few lines wherever the
 * router goes (src/serve/router.c calls sl_fc_api for paths under /api/forecast/).
 * Invariant: the page shows what the run recorded (its summary and rows); nothing is
 * recomputed here.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_internal.h"
#include "synthloop/sl_forecast.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

static sl_status parse_run(const char *s, int64_t *id) {
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v <= 0)
        return sl_set_error(SL_ERR_ARG, "forecast: run id must be a positive integer");
    *id = (int64_t)v;
    return SL_OK;
}

static void cell_num(fc_buf *b, const cJSON *o, const char *k, const char *fmt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) fc_printf(b, fmt, v->valuedouble);
    else fc_printf(b, "&ndash;");
}

static void scores_section(fc_buf *b, const cJSON *sc) {
    static const struct {
        const char *key, *label;
    } rows[] = {{"brier", "Brier (seed 004 target &lt; 0.15)"},
                {"skill_uniform", "Brier skill vs uniform"},
                {"skill_base_rate", "Brier skill vs base rate"},
                {"log_score", "log score (clipped)"},
                {"ece", "ECE (10 bins)"},
                {"accuracy", "accuracy (all depths)"},
                {"coverage_exact", "match coverage, exact"},
                {"coverage_fuzzy", "match coverage, fuzzy (target &gt; 0.8)"},
                {"timeframe_mae_months", "timeframe MAE (months)"}};
    fc_printf(b, "<h2>Scores</h2>\n<table>\n");
    fc_printf(b, "<tr><th>cases</th><td>");
    cell_num(b, sc, "n_cases", "%.0f");
    fc_printf(b, " (");
    cell_num(b, sc, "n_missing_cases", "%.0f");
    fc_printf(b, " without prediction), ");
    cell_num(b, sc, "n_items", "%.0f");
    fc_printf(b, " items</td></tr>\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fc_printf(b, "<tr><th>%s</th><td>", rows[i].label);
        cell_num(b, sc, rows[i].key, "%.4f");
        fc_printf(b, "</td></tr>\n");
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(sc, "murphy");
    fc_printf(b, "<tr><th>Murphy REL / RES / UNC</th><td>");
    cell_num(b, m, "reliability", "%.4f");
    fc_printf(b, " / ");
    cell_num(b, m, "resolution", "%.4f");
    fc_printf(b, " / ");
    cell_num(b, m, "uncertainty", "%.4f");
    fc_printf(b, "</td></tr>\n</table>\n");
    /* reliability diagram from the recorded bins */
    double mp[10], fp[10], cnt[10];
    for (int k = 0; k < 10; k++) mp[k] = fp[k] = NAN, cnt[k] = 0.0;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sc, "reliability")) {
        int k = sl_json_int(r, "bin", -1);
        if (k < 0 || k >= 10) continue;
        cnt[k] = sl_json_num(r, "n", 0.0);
        mp[k] = sl_json_num(r, "mean_forecast", NAN);
        fp[k] = sl_json_num(r, "observed", NAN);
    }
    char *svg = sl_fc_reliability_svg(mp, fp, cnt, 10);
    fc_printf(b, "<h2>Reliability diagram</h2>\n%s", svg ? svg : "");
    free(svg);
    fc_printf(b, "<h2>Per-depth accuracy</h2>\n<table><tr><th>depth</th><th>n</th><th>accuracy"
                 "</th><th>seed 004 target</th><th></th></tr>\n");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sc, "per_depth")) {
        const cJSON *meets = cJSON_GetObjectItemCaseSensitive(r, "meets_target");
        fc_printf(b, "<tr><td>%d</td><td>", sl_json_int(r, "depth", 0));
        cell_num(b, r, "n", "%.0f");
        fc_printf(b, "</td><td>");
        cell_num(b, r, "accuracy", "%.3f");
        fc_printf(b, "</td><td>&gt; ");
        cell_num(b, r, "target", "%.2f");
        fc_printf(b, "</td><td class=\"%s\">%s</td></tr>\n", cJSON_IsTrue(meets) ? "ok" : "fail",
                  !meets ? "no target" : cJSON_IsTrue(meets) ? "meets" : "below");
    }
    fc_printf(b, "</table>\n");
}

static void compare_section(fc_buf *b, const cJSON *cmp) {
    fc_printf(b, "<h2>B &minus; A with paired bootstrap CIs (");
    cell_num(b, cmp, "reps", "%.0f");
    fc_printf(b, " resamples, level ");
    cell_num(b, cmp, "level", "%.2f");
    fc_printf(b, ")</h2>\n<table><tr><th>metric</th><th>A</th><th>B</th><th>B &minus; A</th>"
                 "<th>CI</th><th>better</th></tr>\n");
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(cmp, "metrics")) {
        fc_printf(b, "<tr><td>");
        fc_html_escape(b, sl_json_str(m, "name", "?"));
        fc_printf(b, "</td><td>");
        cell_num(b, m, "a", "%.4f");
        fc_printf(b, "</td><td>");
        cell_num(b, m, "b", "%.4f");
        fc_printf(b, "</td><td>");
        cell_num(b, m, "diff", "%+.4f");
        fc_printf(b, "</td><td>[");
        cell_num(b, m, "lo", "%+.4f");
        fc_printf(b, ", ");
        cell_num(b, m, "hi", "%+.4f");
        fc_printf(b, "]</td><td>");
        fc_html_escape(b, sl_json_str(m, "better", "?"));
        fc_printf(b, "</td></tr>\n");
    }
    fc_printf(b, "</table>\n");
}

static void rows_section(fc_buf *b, const cJSON *j) {
    const char *segs[5] = {"train", "calib", "test", "excluded", "all"};
    size_t nseg[5] = {0};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "cases")) {
        const char *s = sl_json_str(c, "segment", "");
        for (int k = 0; k < 5; k++)
            if (strcmp(s, segs[k]) == 0) nseg[k]++;
    }
    size_t ok = 0, bad = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "predictions")) {
        if (strcmp(sl_json_str(c, "status", ""), "ok") == 0) ok++;
        else bad++;
    }
    fc_printf(b, "<h2>Rows</h2>\n<table><tr><th>cases train / calib / test / excluded / all</th>"
                 "<td>%zu / %zu / %zu / %zu / %zu</td></tr><tr><th>predicted nodes / malformed "
                 "answers</th><td>%zu / %zu</td></tr><tr><th>score rows</th><td>%d</td></tr>"
                 "</table>\n", nseg[0], nseg[1], nseg[2], nseg[3], nseg[4], ok, bad,
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "scores")));
}

static sl_status page(const cJSON *j, char **body, size_t *len) {
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(j, "run");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(run, "summary");
    fc_buf b = {0};
    fc_printf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>forecast run %d"
                  "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                  "collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                  ".fail{color:#b00}.ok{color:#070}</style></head><body>\n<h1>Run %d: ",
              sl_json_int(run, "id", 0), sl_json_int(run, "id", 0));
    fc_html_escape(&b, sl_json_str(run, "command", "?"));
    fc_printf(&b, " (");
    fc_html_escape(&b, sl_json_str(run, "status", "?"));
    fc_printf(&b, ")</h1>\n");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(sum, "scores");
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(sum, "compare");
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(sum, "before");
    if (cJSON_IsObject(sc)) scores_section(&b, sc);
    if (cJSON_IsObject(cmp)) compare_section(&b, cmp);
    if (cJSON_IsObject(before)) {
        fc_printf(&b, "<h2>Before recalibration</h2>\n");
        scores_section(&b, before);
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(sum, "methods")) {
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(m, "after");
        if (!cJSON_IsObject(after)) continue;
        fc_printf(&b, "<h2>After ");
        fc_html_escape(&b, sl_json_str(m, "method", "?"));
        fc_printf(&b, "</h2>\n");
        scores_section(&b, after);
    }
    rows_section(&b, j);
    fc_printf(&b, "</body></html>\n");
    if (b.oom) {
        free(b.p);
        return sl_set_error(SL_ERR_NOMEM, "forecast page: out of memory");
    }
    *body = b.p;
    *len = b.n;
    return SL_OK;
}

sl_status sl_fc_api(struct sl_registry *reg, const char *const *seg, int ns, char **body,
                    size_t *len, const char **type) {
    *body = NULL;
    *len = 0;
    *type = "application/json";
    if (ns < 1 || ns > 2 || (ns == 2 && strcmp(seg[1], "page") != 0))
        return sl_set_error(SL_ERR_NOTFOUND, "no such forecast route (use /api/forecast/RUN or "
                            "/api/forecast/RUN/page)");
    int64_t run = 0;
    SL_TRY(parse_run(seg[0], &run));
    cJSON *j = NULL;
    SL_TRY(sl_fc_store_run_json(reg, run, &j));
    sl_status st = SL_OK;
    if (ns == 1) {
        char *t = cJSON_PrintUnformatted(j);
        if (!t) st = sl_set_error(SL_ERR_NOMEM, "forecast: out of memory");
        else {
            *body = t;
            *len = strlen(t);
        }
    } else {
        st = page(j, body, len);
        *type = "text/html; charset=utf-8";
    }
    cJSON_Delete(j);
    return st;
}
