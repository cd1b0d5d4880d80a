/* SPDX-License-Identifier: Apache-2.0 */
/* svg.c - inline SVG charts generated in C for the HTML report and the dashboard: line charts,
 * overlaid histograms, interval (forest) plots and bar charts.
 *
 * Invariant: output is self-contained SVG markup (no external references, no scripts) with
 * only finite coordinates; non-finite data points are skipped, empty inputs draw an empty frame
 * with a "no data" caption. Every plotted series carries data-label / data-n attributes so
 * tests can check what was drawn.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

#define W 640.0
#define H 300.0
#define ML 64.0  /* left margin (y tick labels) */
#define MR 16.0
#define MT 30.0  /* title */
#define MB 46.0  /* x tick labels + x label */
#define MAX_POINTS 2000

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

const char *sl_svg_color(size_t i) { return palette[i % (sizeof palette / sizeof palette[0])]; }

/* --- axes ---------------------------------------------------------------- */

typedef struct axis {
    double lo, hi;   /* data range shown */
    double step;     /* tick spacing */
} axis;

static double nice_step(double range, int target) {
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * mag;
}

/* Expand [lo, hi] to tick boundaries. Degenerate or empty ranges get a unit-ish span. */
static axis make_axis(double lo, double hi, int target) {
    axis a;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= d;
        hi += d;
    }
    a.step = nice_step(hi - lo, target);
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    if (a.hi <= a.lo) a.hi = a.lo + a.step;
    return a;
}

static double map(double v, const axis *a, double p0, double p1) {
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static void tick_label(char *buf, size_t n, double v, double step) {
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(buf, n, "%.4g", v);
}

static void open_svg(sl_buf *b, double h, const sl_svg_opts *o, const char *kind) {
    sl_buf_printf(b,
                  "<svg class=\"chart %s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\""
                  " role=\"img\" aria-label=\"",
                  kind, W, h, W, h);
    sl_buf_html(b, o && o->title ? o->title : kind);
    sl_buf_puts(b, "\">");
    sl_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>", W, h);
    if (o && o->title) {
        sl_buf_printf(b, "<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\" font-size=\"14\""
                         " font-weight=\"bold\">", W / 2);
        sl_buf_html(b, o->title);
        sl_buf_puts(b, "</text>");
    }
}

/* Frame, grid, ticks and axis labels for a plot area [ML, W-MR] x [MT, h-MB]. */
static void draw_axes(sl_buf *b, const axis *ax, const axis *ay, double h, const sl_svg_opts *o,
                      int x_ticks) {
    double x0 = ML, x1 = W - MR, y0 = h - MB, y1 = MT;
    char lab[64];
    sl_buf_puts(b, "<g class=\"axes\" font-size=\"11\" fill=\"#333\">");
    for (double v = ay->lo; v <= ay->hi + ay->step * 0.5; v += ay->step) {
        double y = map(v, ay, y0, y1);
        sl_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>",
                      x0, y, x1, y);
        tick_label(lab, sizeof lab, v, ay->step);
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", x0 - 5,
                      y + 4, lab);
    }
    if (x_ticks)
        for (double v = ax->lo; v <= ax->hi + ax->step * 0.5; v += ax->step) {
            double x = map(v, ax, x0, x1);
            sl_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>",
                          x, y0, x, y1);
            tick_label(lab, sizeof lab, v, ax->step);
            sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x,
                          y0 + 15, lab);
        }
    sl_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\""
                     " stroke=\"#888\"/>",
                  x0, y1, x1 - x0, y0 - y1);
    if (o && o->xlabel) {
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, h - 8);
        sl_buf_html(b, o->xlabel);
        sl_buf_puts(b, "</text>");
    }
    if (o && o->ylabel) {
        sl_buf_printf(b, "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
                      (y0 + y1) / 2, (y0 + y1) / 2);
        sl_buf_html(b, o->ylabel);
        sl_buf_puts(b, "</text>");
    }
    sl_buf_puts(b, "</g>");
}

static void legend(sl_buf *b, const sl_svg_series *s, size_t ns) {
    if (ns < 2 && !(ns == 1 && s[0].label)) return;
    double x = W - MR - 170, y = MT + 8;
    sl_buf_puts(b, "<g class=\"legend\" font-size=\"11\">");
    for (size_t i = 0; i < ns && i < 8; i++) {
        sl_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"4\" fill=\"%s\"/>", x,
                      y + i * 15 - 4, sl_svg_color(i));
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 16, y + i * 15);
        sl_buf_html(b, s[i].label ? s[i].label : "");
        sl_buf_puts(b, "</text>");
    }
    sl_buf_puts(b, "</g>");
}

static void no_data(sl_buf *b, double h) {
    sl_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#999\">no data</text>",
                  W / 2, h / 2);
}

static void ref_line(sl_buf *b, const axis *ay, double h, const sl_svg_opts *o) {
    if (!o || !o->has_ref || !isfinite(o->ref_y)) return;
    double y = map(o->ref_y, ay, h - MB, MT);
    sl_buf_printf(b, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                     " stroke=\"#555\" stroke-dasharray=\"5,4\"/>",
                  ML, y, W - MR, y);
    if (o->ref_label) {
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">", ML + 4, y - 3);
        sl_buf_html(b, o->ref_label);
        sl_buf_puts(b, "</text>");
    }
}

/* --- line chart -------------------------------------------------------------- */

void sl_svg_line_chart(sl_buf *b, const sl_svg_series *s, size_t ns, const sl_svg_opts *o) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    size_t total = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double x = s[k].x ? s[k].x[i] : (double)i, y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
            total++;
        }
    if (o && o->has_ref && isfinite(o->ref_y)) {
        ylo = fmin(ylo, o->ref_y);
        yhi = fmax(yhi, o->ref_y);
    }
    open_svg(b, H, o, "line");
    axis ax = make_axis(xlo, xhi, 6), ay = make_axis(ylo, yhi, 5);
    draw_axes(b, &ax, &ay, H, o, 1);
    if (!total) no_data(b, H);
    ref_line(b, &ay, H, o);
    for (size_t k = 0; k < ns; k++) {
        size_t stride = s[k].n > MAX_POINTS ? (s[k].n + MAX_POINTS - 1) / MAX_POINTS : 1;
        size_t plotted = 0;
        sl_buf_puts(b, "<polyline class=\"series\" data-label=\"");
        sl_buf_html(b, s[k].label ? s[k].label : "");
        sl_buf_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"",
                      sl_svg_color(k));
        for (size_t i = 0; i < s[k].n; i++) {
            if (i % stride != 0 && i + 1 != s[k].n) continue;
            double x = s[k].x ? s[k].x[i] : (double)i, y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            sl_buf_printf(b, "%s%.2f,%.2f", plotted ? " " : "", map(x, &ax, ML, W - MR),
                          map(y, &ay, H - MB, MT));
            plotted++;
        }
        sl_buf_printf(b, "\" data-n=\"%zu\"/>", plotted);
        if (o && o->markers && plotted <= 60)
            for (size_t i = 0; i < s[k].n; i++) {
                double x = s[k].x ? s[k].x[i] : (double)i, y = s[k].y[i];
                if (!isfinite(x) || !isfinite(y)) continue;
                sl_buf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>",
                              map(x, &ax, ML, W - MR), map(y, &ay, H - MB, MT), sl_svg_color(k));
            }
    }
    legend(b, s, ns);
    sl_buf_puts(b, "</svg>");
}

/* --- histogram ------------------------------------------------------------------ */

void sl_svg_histogram(sl_buf *b, const sl_svg_series *s, size_t ns, int nbins,
                      const sl_svg_opts *o) {
    if (nbins < 1) nbins = 1;
    if (nbins > 200) nbins = 200;
    double lo = INFINITY, hi = -INFINITY;
    size_t total = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i])) {
                lo = fmin(lo, s[k].y[i]);
                hi = fmax(hi, s[k].y[i]);
                total++;
            }
    if (total && lo >= 0 && hi <= 1) { /* probabilities: use the natural [0, 1] range */
        lo = 0;
        hi = 1;
    }
    if (!total || !(hi > lo)) {
        double c = total ? lo : 0;
        lo = c - 0.5;
        hi = c + 0.5;
    }
    double width = (hi - lo) / nbins;
    double *dens = calloc((size_t)nbins * (ns ? ns : 1), sizeof *dens);
    if (!dens) {
        b->oom = 1;
        return;
    }
    double dmax = 0;
    for (size_t k = 0; k < ns; k++) {
        size_t n = 0;
        for (size_t i = 0; i < s[k].n; i++) {
            double v = s[k].y[i];
            if (!isfinite(v)) continue;
            int bin = (int)((v - lo) / width);
            if (bin >= nbins) bin = nbins - 1;
            if (bin < 0) bin = 0;
            dens[k * (size_t)nbins + (size_t)bin] += 1;
            n++;
        }
        for (int j = 0; j < nbins; j++) {
            double *d = &dens[k * (size_t)nbins + (size_t)j];
            *d = n ? *d / ((double)n * width) : 0;
            dmax = fmax(dmax, *d);
        }
    }
    open_svg(b, H, o, "histogram");
    axis ax = make_axis(lo, hi, 6), ay = make_axis(0, dmax > 0 ? dmax : 1, 5);
    ay.lo = 0;
    draw_axes(b, &ax, &ay, H, o, 1);
    if (!total) no_data(b, H);
    for (size_t k = 0; k < ns; k++) {
        size_t n = 0;
        for (size_t i = 0; i < s[k].n; i++) n += isfinite(s[k].y[i]) != 0;
        sl_buf_puts(b, "<path class=\"hist\" data-label=\"");
        sl_buf_html(b, s[k].label ? s[k].label : "");
        sl_buf_printf(b, "\" data-n=\"%zu\" fill=\"%s\" fill-opacity=\"0.25\" stroke=\"%s\""
                         " stroke-width=\"1.5\" d=\"M%.2f,%.2f",
                      n, sl_svg_color(k), sl_svg_color(k), map(lo, &ax, ML, W - MR),
                      map(0, &ay, H - MB, MT));
        for (int j = 0; j < nbins; j++) {
            double y = map(dens[k * (size_t)nbins + (size_t)j], &ay, H - MB, MT);
            sl_buf_printf(b, " L%.2f,%.2f L%.2f,%.2f", map(lo + j * width, &ax, ML, W - MR), y,
                          map(lo + (j + 1) * width, &ax, ML, W - MR), y);
        }
        sl_buf_printf(b, " L%.2f,%.2f Z\"/>", map(hi, &ax, ML, W - MR), map(0, &ay, H - MB, MT));
    }
    free(dens);
    legend(b, s, ns);
    sl_buf_puts(b, "</svg>");
}

/* --- intervals --------------------------------------------------------------------- */

void sl_svg_intervals(sl_buf *b, const sl_svg_interval *it, size_t n, const sl_svg_opts *o) {
    const double row = 26, left = 170, right = 150;
    double h = MT + 30 + row * (double)(n ? n : 1) + 20;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(it[i].lo) || !isfinite(it[i].hi) || !isfinite(it[i].value)) continue;
        lo = fmin(lo, fmin(it[i].lo, it[i].value));
        hi = fmax(hi, fmax(it[i].hi, it[i].value));
    }
    open_svg(b, h, o, "intervals");
    axis ax = make_axis(lo, hi, 5);
    double x0 = left, x1 = W - right, ytop = MT + 10, ybot = h - 28;
    char lab[64];
    sl_buf_puts(b, "<g font-size=\"11\" fill=\"#333\">");
    for (double v = ax.lo; v <= ax.hi + ax.step * 0.5; v += ax.step) {
        double x = map(v, &ax, x0, x1);
        sl_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>",
                      x, ytop, x, ybot);
        tick_label(lab, sizeof lab, v, ax.step);
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x,
                      ybot + 15, lab);
    }
    sl_buf_puts(b, "</g>");
    if (!n) no_data(b, h);
    for (size_t i = 0; i < n; i++) {
        double y = ytop + row * ((double)i + 0.5);
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">",
                      x0 - 8, y + 4);
        sl_buf_html(b, it[i].label);
        sl_buf_puts(b, "</text>");
        if (!isfinite(it[i].lo) || !isfinite(it[i].hi) || !isfinite(it[i].value)) continue;
        const char *c = sl_svg_color(i);
        sl_buf_printf(b, "<g class=\"interval\" data-value=\"%.17g\">", it[i].value);
        sl_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"%s\""
                         " stroke-width=\"2\"/>",
                      map(it[i].lo, &ax, x0, x1), y, map(it[i].hi, &ax, x0, x1), y, c);
        for (int e = 0; e < 2; e++) {
            double x = map(e ? it[i].hi : it[i].lo, &ax, x0, x1);
            sl_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"%s\""
                             " stroke-width=\"2\"/>",
                          x, y - 5, x, y + 5, c);
        }
        sl_buf_printf(b, "<circle cx=\"%.2f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/></g>",
                      map(it[i].value, &ax, x0, x1), y, c);
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%.4g [%.4g, %.4g]</text>",
                      x1 + 8, y + 4, it[i].value, it[i].lo, it[i].hi);
    }
    sl_buf_puts(b, "</svg>");
}

/* --- bars ------------------------------------------------------------------------ */

void sl_svg_bars(sl_buf *b, const char *const *labels, const double *v, const int *pass,
                 size_t n, const sl_svg_opts *o) {
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    if (o && o->has_ref && isfinite(o->ref_y)) {
        lo = fmin(lo, o->ref_y);
        hi = fmax(hi, o->ref_y);
    }
    open_svg(b, H, o, "bars");
    axis ax = {0, 1, 1}, ay = make_axis(lo, hi, 5);
    draw_axes(b, &ax, &ay, H, o, 0);
    if (!n) no_data(b, H);
    double x0 = ML, x1 = W - MR, slot = (x1 - x0) / (double)(n ? n : 1);
    double base = map(0, &ay, H - MB, MT);
    for (size_t i = 0; i < n; i++) {
        double xc = x0 + slot * ((double)i + 0.5), bw = fmin(slot * 0.6, 60);
        const char *c = pass && pass[i] >= 0 ? (pass[i] ? "#2ca02c" : "#d62728") : sl_svg_color(0);
        if (isfinite(v[i])) {
            double y = map(v[i], &ay, H - MB, MT);
            sl_buf_printf(b, "<rect class=\"bar\" data-value=\"%.17g\" x=\"%.2f\" y=\"%.2f\""
                             " width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>",
                          v[i], xc - bw / 2, fmin(y, base), bw, fabs(base - y), c);
        }
        sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">",
                      xc, H - MB + 15);
        sl_buf_html(b, labels && labels[i] ? labels[i] : "");
        sl_buf_puts(b, "</text>");
    }
    ref_line(b, &ay, H, o);
    sl_buf_puts(b, "</svg>");
}
