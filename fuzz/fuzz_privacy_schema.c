/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_privacy_schema.c - libFuzzer target for the privacy schema parser
 * (sl_priv_schema_parse) and, when a schema parses, the CSV reader bound to it.
 *
 * Input: schema JSON, then optionally a 0 byte and CSV text. Invariants checked: a parsed
 * schema has >= 1 column, every measurement has lo <= hi and a grid > 0, every hierarchy's
 * parents precede their children; a failed parse sets a message and returns NULL; a table
 * that loads has every schema column bound and finite numbers in numeric columns.
 * Built by scripts/fuzz.sh with clang -fsanitize=fuzzer.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *zero = memchr(data, 0, size);
    size_t slen = zero ? (size_t)(zero - data) : size;
    /* exact-size heap copies so that any over-read is caught by ASan */
    char *sbuf = malloc(slen ? slen : 1);
    if (!sbuf) return 0;
    if (slen) memcpy(sbuf, data, slen);
    sl_priv_schema *s = NULL;
    sl_status st = sl_priv_schema_parse(sbuf, slen, "fuzz.json", &s);
    if (st != SL_OK) {
        if (s || !*sl_last_error()) abort();
        free(sbuf);
        return 0;
    }
    if (!s || s->n_cols < 1 || !s->dataset) abort();
    for (int i = 0; i < s->n_cols; i++) {
        const sl_col_spec *c = &s->cols[i];
        if (c->role == SL_ROLE_MEASUREMENT && (!(c->lo <= c->hi) || !(c->grid > 0))) abort();
        if (c->hier)
            for (int n = 1; n < c->hier->n; n++)
                if (c->hier->parent[n] < 0 || c->hier->parent[n] >= n) abort();
    }
    if (zero) {
        size_t clen = size - slen - 1;
        char *cbuf = malloc(clen ? clen : 1);
        if (cbuf) {
            if (clen) memcpy(cbuf, zero + 1, clen);
            sl_priv_table *t = NULL;
            if (sl_priv_table_parse_csv(cbuf, clen, "fuzz.csv", s, &t) == SL_OK) {
                for (int i = 0; i < s->n_cols; i++) {
                    int col = t->col_of_spec[i];
                    if (col < 0 || col >= t->n_cols) abort();
                    if (t->num[col])
                        for (size_t r = 0; r < t->n_rows; r++)
                            if (!isfinite(t->num[col][r])) abort();
                }
            } else if (t || !*sl_last_error()) {
                abort();
            }
            sl_priv_table_free(t);
            free(cbuf);
        }
    }
    sl_priv_schema_free(s);
    free(sbuf);
    return 0;
}
