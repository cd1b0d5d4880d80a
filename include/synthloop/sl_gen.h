/* SPDX-License-Identifier: Apache-2.0 */
/* sl_gen.h - record-level synthetic data: typed tables, generators (Gaussian copula, tabular
 * VAE with optional DP-SGD, rule-based) and their quality, diversity and privacy scores.
 *
 * Tables. A table is typed columns over rows, stored column-major in doubles: numeric values
 * as they are, dates as days since 1970-01-01 (written back as YYYY-MM-DD), categorical values
 * as codes 0..n_cats-1 into the column's label list. A schema is a JSON file compatible with
 * the privacy module's: {"columns": [{"name", "role", "type": "numeric"|"categorical"|"date",
 * optional "min"/"max" (public bounds; DP training needs them), "categories": [...] (public
 * label list; DP training needs it), "integer": true}]}. CSV files have a header row; lines
 * starting with '#' are comments (every synthetic file's first line is one, carrying the
 * (eps, delta) of the model that made it).
 *
 * Generators. One interface: sl_gen_fit (data in, model out), sl_gen_sample (N rows), and
 * sl_gen_save / sl_gen_load (safetensors tensors + JSON metadata, including the schema and the
 * model's sl_dp_spent). Methods: SL_GEN_COPULA (empirical marginals + a Gaussian copula over
 * normal scores, SDV's GaussianCopula), SL_GEN_VAE (TVAE-like: numeric columns through their
 * normal scores, categorical columns as softmax outputs, KL warm-up; DP-SGD when
 * dp_epsilon is finite), SL_GEN_RULES (marginals and constraints from a JSON rule file; reads
 * no records). The formulas are in docs/GEN.md.
 *
 * Privacy: only a VAE trained with DP-SGD has finite (eps, delta); its preprocessing then uses
 * only the schema's public bounds and label lists. The copula and the non-DP VAE store
 * quantiles of the data and have NO DP guarantee (has_dp = 0, eps = +inf). The privacy ledger
 * is reached through the charge hook of sl_gen_config (called once, after every check and
 * before any training, with the eps to spend; a failing hook stops the fit).
 *
 * Ownership: every sl_gen_* object returned through an out-pointer is owned by the caller and
 * freed by its sl_gen_*_free (NULL harmless). Inputs are borrowed for the call only.
 */
#ifndef SL_GEN_H
#define SL_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_nn_dp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- tables --------------------------------------------------------------- */

typedef enum sl_gen_type {
    SL_GEN_NUMERIC = 0,
    SL_GEN_CATEGORICAL,
    SL_GEN_DATE,
    SL_GEN_TYPE_COUNT
} sl_gen_type;
/* "numeric", "categorical", "date"; NULL out of range. */
const char *sl_gen_type_name(sl_gen_type t);

typedef struct sl_gen_column {
    char *name;        /* owned */
    char *role;        /* owned; the schema's role ("" if none), carried through untouched */
    sl_gen_type type;
    size_t n_cats;     /* categorical: number of labels */
    char **cats;       /* [n_cats] owned labels; code k means cats[k] */
    int cats_public;   /* 1: labels came from the schema (public), 0: from the data */
    int integer;       /* numeric: all values integers (samples are rounded) */
    int declared;      /* 1: the column came from a schema file (its "integer" is enforced) */
    int has_bounds;    /* 1: lo/hi are public bounds from the schema */
    double lo, hi;
} sl_gen_column;

typedef struct sl_gen_table {
    size_t n_rows, n_cols;
    sl_gen_column *cols; /* [n_cols] owned */
    double *data;        /* [n_cols * n_rows] owned, column-major: col c at data + c * n_rows */
} sl_gen_table;

static inline double *sl_gen_col(const sl_gen_table *t, size_t c) {
    return t->data + c * t->n_rows;
}

/* Read a schema file into a table with zero rows (the columns only). Errors name the file and
 * the column: unknown type, duplicate or empty name, min >= max, empty category list. */
sl_status sl_gen_schema_read(const char *path, sl_gen_table **out);
/* Read a CSV. With a schema (may be NULL): the header must name exactly the schema's columns
 * (in any order; the table takes the schema's order), every numeric/date cell must parse
 * (error names row and column: a type mismatch), values outside public bounds or labels
 * outside a public list are errors. Without a schema: a column is numeric when every cell
 * parses as a number, date when every cell is YYYY-MM-DD, else categorical. Empty cells are
 * errors (no missing values in this version). At least 2 rows are required. */
sl_status sl_gen_table_read_csv(const char *path, const sl_gen_table *schema,
                                sl_gen_table **out);
/* The same from memory: buf[len] (need not be NUL-terminated; `path` names it in messages). */
sl_status sl_gen_table_read_csv_buffer(const char *buf, size_t len, const char *path,
                                       const sl_gen_table *schema, sl_gen_table **out);
/* Write a CSV atomically: `comment` (may be NULL; one line, no newline) as "# comment", then
 * the header, then the rows. Numeric values with %.17g (integers as integers). */
sl_status sl_gen_table_write_csv(const char *path, const sl_gen_table *t, const char *comment);
/* A table with the columns of `like` (deep copy) and n_rows zeroed rows. */
sl_status sl_gen_table_alloc_like(const sl_gen_table *like, size_t n_rows, sl_gen_table **out);
/* Rows idx[0..n) of t (deep copy). */
sl_status sl_gen_table_take(const sl_gen_table *t, const size_t *idx, size_t n,
                            sl_gen_table **out);
/* The schema of a table as JSON ({"columns": [...]}, with categories, integer, bounds). */
cJSON *sl_gen_table_schema_json(const sl_gen_table *t);
void sl_gen_table_free(sl_gen_table *t);

/* --- generators ------------------------------------------------------------ */

typedef enum sl_gen_method {
    SL_GEN_COPULA = 0,
    SL_GEN_VAE,
    SL_GEN_RULES,
    SL_GEN_METHOD_COUNT
} sl_gen_method;
const char *sl_gen_method_name(sl_gen_method m); /* "copula", "vae", "rules" */
sl_status sl_gen_method_parse(const char *name, sl_gen_method *out);

/* Charge hook of the privacy ledger: called once per DP fit with the (eps, delta) the model
 * will have, before training; non-SL_OK stops the fit with nothing trained or written. */
typedef sl_status (*sl_gen_charge_fn)(void *ctx, double epsilon, double delta,
                                      const char *mechanism);

typedef struct sl_gen_config {
    sl_gen_method method;
    uint64_t seed;
    int threads;            /* sl_nn_set_threads for the VAE (<= 0: leave as is) */
    /* VAE */
    int epochs;             /* passes over the data (default 60) */
    int batch;              /* (expected) batch size (default 256) */
    int hidden;             /* width of the two hidden layers of encoder and decoder (128) */
    int latent;             /* latent size (16) */
    float lr;               /* Adam learning rate (1e-3) */
    int kl_warmup;          /* epochs over which the KL weight ramps 0 -> beta (10) */
    float beta;             /* final KL weight (1) */
    /* DP-SGD (VAE only): dp_epsilon = +inf (default) trains without DP */
    double dp_epsilon, dp_delta; /* delta default 1e-5 */
    float dp_clip;          /* per-example L2 clip (default 1) */
    int dp_reproducible;    /* 0 (default): DP noise seeded from the OS CSPRNG, not from seed
                             * (a known seed would reveal the noise); 1: from seed */
    sl_gen_charge_fn charge;
    void *charge_ctx;
    /* rules */
    const char *rules_path; /* JSON rule file (docs/GEN.md) */
    int verbose;            /* 1: progress lines on stderr */
} sl_gen_config;

sl_gen_config sl_gen_config_defaults(sl_gen_method m);

typedef struct sl_gen_model sl_gen_model; /* opaque */

/* Fit a generator. data may be NULL for SL_GEN_RULES (rules read no records) and must be NULL
 * or schema-compatible otherwise. Deterministic in cfg->seed and the thread count. */
sl_status sl_gen_fit(const sl_gen_config *cfg, const sl_gen_table *data, sl_gen_model **out);
/* n rows from the model (deterministic in seed). *out owned by the caller. */
sl_status sl_gen_sample(const sl_gen_model *m, size_t n, uint64_t seed, sl_gen_table **out);
/* Save / load: safetensors with the method's tensors; metadata "synthloop.gen" holds
 * {"method", "schema", "dp": {...}, "config": {...}, "method_state": {...}}. */
sl_status sl_gen_save(const sl_gen_model *m, const char *path);
sl_status sl_gen_load(const char *path, sl_gen_model **out);
void sl_gen_free(sl_gen_model *m);

sl_gen_method sl_gen_model_method(const sl_gen_model *m);
/* The privacy statement of the model (owned by m). */
const sl_dp_spent *sl_gen_model_dp(const sl_gen_model *m);
/* The columns the model generates (a zero-row table owned by m). */
const sl_gen_table *sl_gen_model_schema(const sl_gen_model *m);
/* {"dp": true, "epsilon": e, "delta": d, ...} or {"dp": false, "note": "..."}; caller owns. */
cJSON *sl_gen_dp_json(const sl_dp_spent *dp);
/* One line for a CSV comment: "synthloop-gen method=vae dp=yes epsilon=... delta=..." or
 * "... dp=none (no differential privacy guarantee)". */
void sl_gen_dp_line(char *buf, size_t n, sl_gen_method m, const sl_dp_spent *dp);

/* --- scores ------------------------------------------------------------------ */

typedef struct sl_gen_eval_config {
    uint64_t seed;        /* subsampling and the detection split */
    size_t max_rows;      /* rows per table used by nearest-neighbour scores (default 4000) */
    int keep_raw;         /* 1: keep the classifier / attack scores for checking */
} sl_gen_eval_config;
sl_gen_eval_config sl_gen_eval_defaults(void);

typedef struct sl_gen_scores {
    size_t n_cols;
    double *col_fidelity;   /* [n_cols] 1 - KS (numeric, date) or 1 - TVD (categorical) */
    double fidelity;        /* mean of col_fidelity */
    double pair_similarity; /* mean over column pairs (docs/GEN.md) */
    double detection_auc;   /* max of the two detectors' held-out ROC-AUCs (real vs synth) */
    double detection_auc_lr, detection_auc_mlp; /* logistic regression; MLP on the NN engine */
    double detection;       /* 1 - 2 |max(auc, 0.5) - 0.5|: 1 = indistinguishable */
    double coverage;        /* mean of category coverage and range coverage per column */
    double diversity;       /* min(1, mean NN distance within synth / within real) */
    int has_privacy;        /* 1 when a holdout table was given */
    double dcr_synth;       /* median distance of synth rows to the closest real row */
    double dcr_holdout;     /* the same for holdout rows (the baseline) */
    double dcr_share;       /* share of synth rows closer to real than to holdout: 0.5 ideal */
    double mia_auc;         /* membership-inference AUC (real vs holdout by distance to
                             * the closest synth row): 0.5 = no leak */
    double quality;         /* (fidelity + pair_similarity + detection + coverage) / 4 */
    /* keep_raw: the held-out detection scores (MLP, logistic) and labels, attack scores and
     * labels */
    size_t n_det, n_mia;
    double *det_score, *det_score_lr, *mia_score; /* owned */
    int *det_label, *mia_label;    /* owned */
} sl_gen_scores;

/* Score synth against real (the rows the generator saw) and, if holdout != NULL, privacy
 * against holdout (real rows it did not see). Columns are matched by name; a missing column,
 * a type mismatch or a categorical label unknown to real is an error (SL_ERR_SHAPE /
 * SL_ERR_FORMAT). Each table needs >= 2 rows. */
sl_status sl_gen_evaluate(const sl_gen_table *real, const sl_gen_table *synth,
                          const sl_gen_table *holdout, const sl_gen_eval_config *cfg,
                          sl_gen_scores *out);
void sl_gen_scores_free(sl_gen_scores *s); /* frees the arrays, not s itself; NULL harmless */
cJSON *sl_gen_scores_json(const sl_gen_scores *s, const sl_gen_table *real);

#ifdef __cplusplus
}
#endif
#endif /* SL_GEN_H */
