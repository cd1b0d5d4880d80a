/* SPDX-License-Identifier: Apache-2.0 */
/* gen_internal.h - internals shared by the generator files (not public API).
 *
 * A generator is a table of function pointers (Redis dictType style) plus a void *state;
 * model.c dispatches and does the common parts (schema, DP statement, file metadata).
 * Invariant: a model's schema has the columns, labels and order of every table it samples.
 */
#ifndef SL_GEN_INTERNAL_H
#define SL_GEN_INTERNAL_H

#include <cjson/cJSON.h>

#include "synthloop/sl_gen.h"
#include "synthloop/sl_safetensors.h"

/* Up to this many named tensors per saved model. */
#define GEN_MAX_TENSORS 256

typedef struct gen_tensors {
    sl_tensor_ref t[GEN_MAX_TENSORS];
    char *names[GEN_MAX_TENSORS]; /* owned */
    size_t n;
} gen_tensors;

/* Add a borrowed 1-D or 2-D f32/f64 tensor under a copied name. */
sl_status gen_tensors_add(gen_tensors *g, const char *name, sl_dtype dt, size_t d0, size_t d1,
                          const void *data);
void gen_tensors_clear(gen_tensors *g);

typedef struct gen_vtable {
    /* *schema is a zero-row copy of data's columns (NULL without data); a method may replace
     * it (rules: the rule file's columns) */
    sl_status (*fit)(void **state, const sl_gen_config *cfg, const sl_gen_table *data,
                     sl_gen_table **schema, sl_dp_spent *dp);
    sl_status (*sample)(const void *state, const sl_gen_table *schema, size_t n, sl_rng *rng,
                        sl_gen_table *out);
    /* tensors (borrowed from state) and a JSON object of method state */
    sl_status (*save)(const void *state, const sl_gen_table *schema, gen_tensors *t,
                      cJSON *meta);
    sl_status (*load)(void **state, const sl_gen_table *schema, const sl_safetensors *st,
                      const cJSON *meta, const char *path);
    void (*free)(void *state);
} gen_vtable;

extern const gen_vtable gen_copula_vt, gen_vae_vt, gen_rules_vt;

struct sl_gen_model {
    sl_gen_method method;
    sl_gen_table *schema; /* zero rows, owned */
    sl_dp_spent dp;
    sl_gen_config cfg;    /* hooks and paths cleared */
    void *state;
    const gen_vtable *vt;
};

/* table.c */
sl_status sl_gen_column_copy(sl_gen_column *dst, const sl_gen_column *src);
long sl_gen_find_cat(const sl_gen_column *c, const char *s);
sl_status sl_gen_schema_from_json(const cJSON *j, const char *what, sl_gen_table **out);

/* --- marginal.c: normal scores and empirical quantile functions ---------------- */

/* Phi and Phi^{-1} (|error| < 1e-15 relative: Acklam's rational start + two Halley steps). */
double gen_norm_cdf(double z);
double gen_norm_ppf(double p);

/* Empirical quantile function of a column on K knots: knots[k] = the (k / (K-1)) quantile of
 * x[n] (numpy's linear interpolation). K = min(n, max_knots), K >= 2. */
typedef struct gen_marginal {
    size_t K;
    double *knots; /* [K] owned, nondecreasing */
} gen_marginal;
sl_status gen_marginal_fit(gen_marginal *m, const double *x, size_t n, size_t max_knots);
void gen_marginal_free(gen_marginal *m);
/* u in [0, 1] -> value (linear interpolation between knots). */
double gen_marginal_inv(const gen_marginal *m, double u);
/* The normal scores of x[n] through mid-ranks: z_i = Phi^{-1}((rank_i - 0.5) / n), ties given
 * their average rank. */
sl_status gen_normal_scores(double *z, const double *x, size_t n);
/* value -> normal score through the knots (for values not in the fitting data): the position
 * of v in the knots (averaged over ties), clamped to [0.5/K, 1 - 0.5/K]. */
double gen_marginal_score(const gen_marginal *m, double v);

/* Round to an integer when the column is integer, clamp to public bounds when it has them. */
double gen_finish_value(const sl_gen_column *c, double v);

#endif
