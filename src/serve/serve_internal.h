/* SPDX-License-Identifier: Apache-2.0 */
/* serve_internal.h - internals shared by the report generator, the SVG charts and the HTTP
 * server (not part of the public API). Invariant: an sl_buf is always NUL-terminated, and
 * once an allocation fails it sets `oom`, drops further appends, and the owner reports
 * SL_ERR_NOMEM instead of emitting a truncated document. */
#ifndef SL_SERVE_INTERNAL_H
#define SL_SERVE_INTERNAL_H

#include <stddef.h>

#include "synthloop/sl_core.h"

/* --- growable text buffer ----------------------------------------------- */

typedef struct sl_buf {
    char *s;    /* owned; NUL-terminated when len > 0 or after the first append */
    size_t len;
    size_t cap;
    int oom;    /* an allocation failed: contents are incomplete */
} sl_buf;

void sl_buf_free(sl_buf *b);
void sl_buf_put(sl_buf *b, const char *s, size_t n);
void sl_buf_puts(sl_buf *b, const char *s);
void sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with &, <, >, ", ' escaped for HTML text and attributes. NULL appends nothing. */
void sl_buf_html(sl_buf *b, const char *s);
/* Append s as a JSON string literal (with quotes). */
void sl_buf_json_str(sl_buf *b, const char *s);
/* Detach the string (caller frees); the buffer is reset. NULL (and SL_ERR_NOMEM set) on oom. */
char *sl_buf_take(sl_buf *b, size_t *len);

/* --- inline SVG charts ---------------------------------------------------- */

/* One series of a line chart (x, y of length n) or a sample set of a histogram (y only). */
typedef struct sl_svg_series {
    const char *label;
    const double *x;
    const double *y;
    size_t n;
} sl_svg_series;

typedef struct sl_svg_opts {
    const char *title;
    const char *xlabel;
    const char *ylabel;
    int has_ref;   /* draw a dashed horizontal reference line at ref_y */
    double ref_y;
    const char *ref_label;
    int markers;   /* draw a dot at every point (for short series) */
} sl_svg_opts;

/* Line chart with axes, ticks, legend. Non-finite points are skipped. Each series becomes one
 * <polyline class="series" data-label=... data-n=...> whose points are the plotted data. */
void sl_svg_line_chart(sl_buf *b, const sl_svg_series *s, size_t ns, const sl_svg_opts *o);

/* Overlaid normalised histograms (density) of ns sample sets over shared bins. */
void sl_svg_histogram(sl_buf *b, const sl_svg_series *s, size_t ns, int nbins,
                      const sl_svg_opts *o);

/* One row of a forest plot: label, estimate and its interval. */
typedef struct sl_svg_interval {
    const char *label;
    double value, lo, hi;
} sl_svg_interval;
/* Horizontal point-and-interval chart, one row per item. */
void sl_svg_intervals(sl_buf *b, const sl_svg_interval *it, size_t n, const sl_svg_opts *o);

/* Vertical bars with per-bar labels; pass[i] >= 0 colours bar i green (1) or red (0),
 * pass == NULL uses the series colour. */
void sl_svg_bars(sl_buf *b, const char *const *labels, const double *v, const int *pass,
                 size_t n, const sl_svg_opts *o);

/* Colour of series i (cycled palette), "#rrggbb". */
const char *sl_svg_color(size_t i);

/* --- policy serving and lifecycle routes (v1.c) ------------------------------------------ */

struct sl_serve_config;
struct sl_http_request;
struct sl_http_response;
struct sl_policy_server;
struct sl_registry;
/* Handles /v1/act, /v1/feedback, /v1/status and the lifecycle routes under /api (models,
 * deploy, rollback, deployments, deploy/health); returns 1 if `path` was one of them (resp
 * filled), 0 otherwise. ps may be NULL (policy serving off: /v1 answers 404). */
int sl_http_route_v1(const struct sl_serve_config *c, struct sl_policy_server *ps,
                     struct sl_registry *reg, const char *method, const char *path,
                     const char *query, const struct sl_http_request *req,
                     struct sl_http_response *resp);

/* --- synthetic record generation routes (gen_routes.c, genpriv) ------------------------- */
/* POST /api/synthetic/generate (bearer token) and GET /api/synthetic/jobs; returns 1 if `path`
 * was one of them (resp filled), 0 otherwise. */
int sl_http_route_gen(const struct sl_serve_config *c, struct sl_registry *reg,
                      const char *method, const char *path, const char *query,
                      const struct sl_http_request *req, struct sl_http_response *resp);
/* --- privacy routes (privacy_routes.c, issue 15) ------------------------------------------- */
/* Handles /api/privacy/... (anonymize, budget, history, releases, overview, retention);
 * returns 1 if `path` was one of them (resp filled), 0 otherwise. */
int sl_http_route_privacy(const struct sl_serve_config *c, struct sl_registry *reg,
                          const char *method, const char *path, const char *query,
                          const struct sl_http_request *req, struct sl_http_response *resp);

#endif
