/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_forecast.c - libFuzzer target for the forecast case parser (sl_fc_parse), the
 * validator, the evaluation of a file against itself and the model-answer parser
 * (sl_fc_parse_answer).
 *
 * Invariants checked: a successful parse yields a set whose every case owns its JSON and
 * whose validation succeeds (issues are data, not failures); a failed parse sets a message and
 * returns no set; when validation finds no error, scoring the file against itself succeeds and
 * gives Brier and ECE in [0, 1] with the Murphy terms summing back to Brier; the answer parser
 * either returns a tree with an outcome_chain or fails with a reason and a message.
 * Built by scripts/fuzz.sh with clang -fsanitize=fuzzer.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_forecast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* exact-size heap copy so that any over-read is caught by ASan */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    sl_fc_set *s = NULL;
    sl_status st = sl_fc_parse(buf, size, "fuzz.jsonl", &s);
    if (st == SL_OK) {
        if (!s) abort();
        for (size_t i = 0; i < s->n; i++)
            if (!s->cases[i].json) abort();
        sl_fc_validate_opts o;
        sl_fc_validate_opts_default(&o);
        o.fix = size > 0 && (data[0] & 1);
        sl_fc_report rep = {0};
        if (sl_fc_validate(s, &o, &rep) != SL_OK) abort();
        if (rep.n_errors == 0 && s->n > 0) {
            sl_fc_eval *e = NULL;
            if (sl_fc_evaluate(s, s, 0.0, &e) == SL_OK) {
                sl_fc_scores sc;
                if (e->n_items > 0 && sl_fc_score(e, NAN, NULL, &sc) == SL_OK) {
                    if (!(sc.brier >= 0.0 && sc.brier <= 1.0) || !(sc.ece >= 0.0 && sc.ece <= 1.0))
                        abort();
                    if (fabs(sc.murphy.brier - sc.brier) > 1e-9) abort();
                }
                sl_fc_eval_free(e);
            } else if (!*sl_last_error()) {
                abort();
            }
        }
        sl_fc_report_clear(&rep);
        sl_fc_set_free(s);
    } else {
        if (s || !*sl_last_error()) abort();
    }
    /* the same bytes as a model's answer (NUL-terminated copy) */
    char *txt = malloc(size + 1);
    if (txt) {
        if (size) memcpy(txt, data, size);
        txt[size] = 0;
        cJSON *tree = NULL;
        sl_fc_outcome why;
        if (sl_fc_parse_answer(txt, "fuzz", &tree, &why) == SL_OK) {
            if (!tree || why != SL_FC_PRED_OK || !cJSON_GetObjectItem(tree, "outcome_chain")) abort();
        } else if (tree || why == SL_FC_PRED_OK) {
            abort();
        }
        cJSON_Delete(tree);
        free(txt);
    }
    free(buf);
    return 0;
}
