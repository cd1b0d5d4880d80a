/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_gen_csv.c - libFuzzer target for the record-table CSV reader of the gen module
 * (sl_gen_table_read_csv_buffer), without and with a fixed schema (first byte's low bit), and
 * for the scores on what it accepts.
 *
 * Invariant checked: a successful read yields a table whose categorical codes index its label
 * lists and whose numbers are finite (what every generator and score relies on), and that
 * table can be scored against itself; a failed read sets a message and returns no table.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_gen_table *fixed_schema(void) {
    static sl_gen_table *s;
    if (!s) { /* two columns: a (numeric, integer, bounded) and b (categorical, public labels) */
        const char *txt = "a,b\n1,x\n2,y\n";
        sl_gen_table *t = NULL;
        if (sl_gen_table_read_csv_buffer(txt, strlen(txt), "schema", NULL, &t) != SL_OK) abort();
        if (sl_gen_table_alloc_like(t, 0, &s) != SL_OK) abort();
        sl_gen_table_free(t);
        s->cols[0].has_bounds = 1, s->cols[0].lo = -100, s->cols[0].hi = 100;
        s->cols[1].cats_public = 1;
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int with_schema = size > 0 && (data[0] & 1);
    if (size > 0) data++, size--;
    char *buf = malloc(size ? size : 1); /* exact size: over-reads are caught by ASan */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    sl_gen_table *t = NULL;
    sl_status s = sl_gen_table_read_csv_buffer(buf, size, "fuzz.csv",
                                               with_schema ? fixed_schema() : NULL, &t);
    free(buf);
    if (s != SL_OK) {
        if (t || !*sl_last_error()) abort();
        return 0;
    }
    if (!t || t->n_rows < 2) abort();
    for (size_t c = 0; c < t->n_cols; c++) {
        const double *d = sl_gen_col(t, c);
        for (size_t i = 0; i < t->n_rows; i++) {
            if (!isfinite(d[i])) abort();
            if (t->cols[c].type == SL_GEN_CATEGORICAL &&
                (d[i] < 0 || d[i] >= (double)t->cols[c].n_cats || d[i] != floor(d[i])))
                abort();
        }
    }
    if (t->n_rows <= 64 && t->n_cols <= 8) {
        sl_gen_eval_config ec = sl_gen_eval_defaults();
        sl_gen_scores sc;
        if (sl_gen_evaluate(t, t, t, &ec, &sc) == SL_OK) sl_gen_scores_free(&sc);
    }
    sl_gen_table_free(t);
    return 0;
}
