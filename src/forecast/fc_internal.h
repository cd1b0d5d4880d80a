/* SPDX-License-Identifier: Apache-2.0 */
/* fc_internal.h - helpers shared by the files of src/forecast (not part of the API). */
#ifndef SL_FC_INTERNAL_H
#define SL_FC_INTERNAL_H

#include <stddef.h>

#include "synthloop/sl_forecast.h"

/* strdup that sets an SL error on failure (NULL in -> NULL out, not an error). */
char *fc_strdup(const char *s);

/* Normalised tokens of a text, sorted and unique when `set` is 1, in order otherwise.
 * *toks is one malloc'd block (array of pointers followed by the text); caller frees *toks. */
sl_status fc_tokens(const char *text, int set, char ***toks, size_t *n);

/* Index of the truth case with this id, or (size_t)-1. Linear; sets are small. */
size_t fc_find_case(const sl_fc_set *s, const char *case_id);

/* The JSON object of node i of a case (NULL if absent). */
cJSON *fc_node_json(const sl_fc_case *c, size_t i);

/* Set the first of the numeric keys present in obj (or keys[0] if none) to v. */
void fc_json_set_num(cJSON *obj, const char *const *keys, double v);

/* Keys accepted for a node's and an alternative's probability (NULL-terminated). */
extern const char *const fc_node_prob_keys[];
extern const char *const fc_alt_prob_keys[];

/* Parse one case object (already a JSON object) into c; c->json is not set. */
sl_status fc_parse_case_obj(const cJSON *o, const char *path, size_t line, sl_fc_case *c);
void fc_case_clear(sl_fc_case *c);

/* Growable text (fc_buf.c): zero-initialise; p is malloc'd (caller frees), NUL-terminated
 * once anything was written; oom set after a failed allocation (appends then do nothing). */
typedef struct fc_buf {
    char *p;
    size_t n, cap;
    int oom;
} fc_buf;
void fc_printf(fc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fc_html_escape(fc_buf *b, const char *s);

#endif
