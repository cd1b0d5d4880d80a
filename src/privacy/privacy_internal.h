/* SPDX-License-Identifier: Apache-2.0 */
/* privacy_internal.h - helpers shared inside src/privacy (not part of the public API). */
#ifndef SL_PRIVACY_INTERNAL_H
#define SL_PRIVACY_INTERNAL_H

#include "synthloop/sl_privacy.h"

/* Index of a hierarchy node by name, -1 if absent. */
int sl_hier_find(const sl_hier *h, const char *name);
/* Lowest common ancestor of nodes a and b (0, the root, if unrelated). */
int sl_hier_lca(const sl_hier *h, int a, int b);
/* out[i] = number of leaves under node i (a leaf counts itself); out has h->n entries. */
sl_status sl_hier_leaf_counts(const sl_hier *h, int *out);

/* Days since 1970-01-01 <-> proleptic Gregorian date. */
int64_t sl_days_from_civil(int64_t y, int m, int d);
void sl_civil_from_days(int64_t z, int *y, int *m, int *d);

/* A growable byte buffer for building output files in memory. */
typedef struct sl_pbuf {
    char *p;
    size_t len, cap;
    int oom;
} sl_pbuf;
void sl_pbuf_put(sl_pbuf *b, const char *s, size_t n);
void sl_pbuf_puts(sl_pbuf *b, const char *s);
/* A CSV field, quoted when it contains a comma, quote or newline. */
void sl_pbuf_field(sl_pbuf *b, const char *s);
void sl_pbuf_printf(sl_pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A pseudonym context for one column: the HMAC state after the key and "column || 0", so
 * that each value costs only its own blocks (same result as sl_pseudonym). */
typedef struct sl_pseudo_ctx {
    unsigned char state[512]; /* crypto_auth_hmacsha256_state (size checked in pseudo.c) */
} sl_pseudo_ctx;
void sl_pseudo_ctx_init(sl_pseudo_ctx *c, const sl_pseudo_key *k, const char *column);
void sl_pseudo_ctx_apply(const sl_pseudo_ctx *c, const char *value, char out[33]);
void sl_pseudo_ctx_wipe(sl_pseudo_ctx *c);

/* The output CSV of an aggregate release ("query,column,bin,value" rows) into out, the
 * release's parameters into params (a cJSON object), rho used into *rho (Gaussian). */
struct cJSON;
sl_status sl_dp_aggregate(const sl_priv_table *t, const sl_priv_schema *s,
                          const sl_release_opts *o, sl_dp_rng *rng, sl_pbuf *out,
                          struct cJSON *params, double *rho);

#endif
