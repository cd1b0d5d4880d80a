/* SPDX-License-Identifier: Apache-2.0 */
/* sl_report.h - the HTML report of one run: a single self-contained file (inline CSS and
 * inline SVG charts generated in C, no scripts, no external requests) with every plot the
 * pipeline's rows allow: learning curves (baseline vs augmented), world-model std ratio and
 * trust by horizon, trust histograms real vs synthetic, weight components and rails, econ
 * estimates with confidence intervals, A/B verdicts, the horizon ladder, datasets, models and
 * artifacts. Sections without rows say "no data recorded for ...". Layout: docs/REGISTRY.md.
 */
#ifndef SL_REPORT_H
#define SL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Build the report of run_id as HTML text. *out is malloc'd and NUL-terminated (caller
 * frees); *len (may be NULL) is its length. SL_ERR_NOTFOUND if the run does not exist. */
sl_status sl_report_html(sl_registry *reg, int64_t run_id, char **out, size_t *len);

/* Write the report of run_id atomically to `path` and record it as an artifact of the run
 * (kind "report.html"). */
sl_status sl_report_write(sl_registry *reg, int64_t run_id, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* SL_REPORT_H */
