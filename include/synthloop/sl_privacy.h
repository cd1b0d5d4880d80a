/* SPDX-License-Identifier: Apache-2.0 */
/* sl_privacy.h - privacy-preserving intake: exact differential-privacy mechanisms, record
 * tables with a column-role schema, Mondrian k-anonymity with l-diversity, keyed pseudonyms,
 * and releases charged to a budget ledger in the registry. Formulas and rules: docs/PRIVACY.md.
 *
 * Guarantees stated here and tested in tests/test_privacy.c:
 *   - Noise is sampled EXACTLY on an integer grid: discrete Laplace and discrete Gaussian by
 *     the rejection samplers of Canonne, Kamath and Steinke (2020), driven only by uniform
 *     integers and exact Bernoulli(num/den) draws (no floating point in the sampler). A noisy
 *     value is g * (round(x / g) + Z): every output lies on the grid g*Z, so its low bits carry
 *     nothing about x (the floating-point attack of Mironov 2012 has nothing to read).
 *   - Scales are rounded UP to the rational the sampler uses (more noise, never less): the
 *     Laplace scale to a multiple of 2^-16 grid units, the Gaussian variance to a multiple of
 *     1/256; randomized response's epsilon is rounded DOWN to a multiple of 2^-32.
 *   - Randomness: ChaCha20 keystream (libsodium) keyed from the OS (randombytes_buf) for every
 *     release; a seeded key exists for tests and benchmarks only (same seed -> same bits).
 *   - A release (sl_privacy_release) writes its output to a temp file, records the log row
 *     and the budget charges in ONE registry transaction that is refused when any period's
 *     budget would be exceeded, and only then renames the file into place. A kill at any
 *     point leaves no output file without its charge; sl_privacy_recover completes a
 *     committed release whose process died before the rename.
 *   - Only the DP techniques carry a formal epsilon. The k-anonymity, generalisation and
 *     pseudonymisation charges are an accounting profile (seed 003's numbers by default)
 *     and are flagged formal = 0 in the ledger.
 *
 * Ownership: every sl_*_free accepts NULL. Strings passed in are copied unless stated.
 * Threads: the objects here are not shared between threads; an sl_dp_rng per thread.
 */
#ifndef SL_PRIVACY_H
#define SL_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- randomness ------------------------------------------------------------------------ */

/* ChaCha20 keystream generator (libsodium crypto_stream_chacha20). Plain data. */
typedef struct sl_dp_rng {
    unsigned char key[32];
    uint64_t block;            /* next nonce/block counter */
    unsigned char buf[1024];   /* unread keystream */
    size_t pos;                /* bytes of buf already used */
    int seeded;                /* 1: key from a seed (tests/benchmarks only) */
} sl_dp_rng;

/* Key from the OS CSPRNG (randombytes_buf). SL_ERR_INTERNAL if libsodium cannot start. */
sl_status sl_dp_rng_init_os(sl_dp_rng *r);
/* Key derived from `seed` (BLAKE2b of the seed): reproducible, NOT for real releases. */
sl_status sl_dp_rng_init_seeded(sl_dp_rng *r, uint64_t seed);
uint64_t sl_dp_rng_u64(sl_dp_rng *r);
/* Uniform integer in [0, n), n >= 1, unbiased (rejection). */
uint64_t sl_dp_rng_below(sl_dp_rng *r, uint64_t n);

/* --- exact samplers (CKS 2020); all integers, no floating point ------------------------ */

/* 1 with probability num/den exactly (den >= 1, num <= den). */
int sl_dp_bernoulli(sl_dp_rng *r, uint64_t num, uint64_t den);
/* 1 with probability exp(-num/den) exactly (den >= 1). */
int sl_dp_bernoulli_exp(sl_dp_rng *r, uint64_t num, uint64_t den);
/* Discrete Laplace with scale t/s: P(Z = z) proportional to exp(-|z| s / t). t, s >= 1,
 * t < 2^62. */
int64_t sl_dp_discrete_laplace(sl_dp_rng *r, uint64_t t, uint64_t s);
/* Discrete Gaussian with variance parameter sigma^2 = num/den: P(Z = z) proportional to
 * exp(-z^2 / (2 sigma^2)). num, den >= 1, num/den <= 2^40, den <= 256. */
int64_t sl_dp_discrete_gaussian(sl_dp_rng *r, uint64_t num, uint64_t den);

/* The insecure textbook sampler Mironov (2012) attacks: x + scale * (-sgn(u) ln(1 - 2|u|))
 * with u a 53-bit float uniform in (-1/2, 1/2). For the attack test and the docs only; no
 * release ever uses it. */
double sl_dp_naive_laplace(sl_dp_rng *r, double x, double scale);

/* --- mechanisms on a grid --------------------------------------------------------------- */

typedef enum sl_dp_kind {
    SL_DP_LAPLACE = 0, /* pure epsilon-DP */
    SL_DP_GAUSSIAN,    /* rho-zCDP (charged as (epsilon, delta) via the conversion below) */
    SL_DP_KIND_COUNT
} sl_dp_kind;

/* A prepared additive mechanism: noise in grid units with the exact sampler's rational
 * parameters. sens_grid = sensitivity in grid units (an integer >= 1). */
typedef struct sl_dp_mech {
    sl_dp_kind kind;
    double grid;          /* output grid g > 0 */
    uint64_t sens_grid;   /* sensitivity in grid units */
    double epsilon;       /* Laplace: epsilon; Gaussian: epsilon at `delta` */
    double delta;         /* Gaussian only */
    double rho;           /* Gaussian only: zCDP parameter */
    uint64_t t, s;        /* Laplace: scale t/s (grid units), rounded up */
    uint64_t var_num, var_den; /* Gaussian: sigma^2 = var_num/var_den (grid units), rounded up */
} sl_dp_mech;

/* Laplace with scale sens_grid / epsilon. SL_ERR_ARG for epsilon <= 0 or not finite,
 * grid <= 0, sens_grid == 0; SL_ERR_RANGE if the scale does not fit the sampler. */
sl_status sl_dp_mech_laplace(sl_dp_mech *m, double epsilon, uint64_t sens_grid, double grid);
/* Gaussian with sigma^2 = sens_grid^2 / (2 rho) (rho-zCDP), rho from (epsilon, delta) by
 * rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2 so that
 * rho + 2 sqrt(rho ln(1/delta)) = epsilon. delta in (0, 1). */
sl_status sl_dp_mech_gaussian(sl_dp_mech *m, double epsilon, double delta, uint64_t sens_grid,
                              double grid);
/* Gaussian directly from rho (rho-zCDP, sigma^2 = sens_grid^2 / (2 rho)); epsilon and delta
 * are left 0 (the caller states the conversion it charges). */
sl_status sl_dp_mech_gaussian_rho(sl_dp_mech *m, double rho, uint64_t sens_grid, double grid);
/* rho such that rho-zCDP implies (epsilon, delta)-DP by rho + 2 sqrt(rho ln(1/delta)). */
double sl_dp_rho_from_eps_delta(double epsilon, double delta);
/* Integer noise in grid units. */
int64_t sl_dp_mech_noise(const sl_dp_mech *m, sl_dp_rng *r);
/* g * (round(x / g) + noise). x must be finite (the callers check). */
double sl_dp_mech_apply(const sl_dp_mech *m, sl_dp_rng *r, double x);
/* Exact probability mass of the noise at integer z under the mechanism's rational
 * parameters (double precision), for the tests. */
double sl_dp_mech_pmf(const sl_dp_mech *m, int64_t z);

/* Sensitivity in grid units of one clipped value in [lo, hi] rounded to the grid g:
 * floor((hi - lo) / g) + 1 (the +1 covers the rounding). */
uint64_t sl_dp_value_sens(double lo, double hi, double grid);

/* k-ary randomized response: the true category with probability e^eps / (e^eps + k - 1),
 * each other one with 1 / (e^eps + k - 1); exact (rejection with Bernoulli(exp(-eps))).
 * eps rounded down to a multiple of 2^-32. k >= 2, truth < k. */
uint32_t sl_dp_randomized_response(sl_dp_rng *r, uint32_t truth, uint32_t k, double epsilon);

/* --- schema and record tables ------------------------------------------------------------ */

typedef enum sl_col_role {
    SL_ROLE_IDENTIFIER = 0, /* dropped, or pseudonymised */
    SL_ROLE_QUASI,          /* generalised for k-anonymity (hierarchy) */
    SL_ROLE_SENSITIVE,      /* kept; l-diversity; randomized response under dp when it has a domain */
    SL_ROLE_MEASUREMENT,    /* numeric, clipping bounds, noise under dp */
    SL_ROLE_SUBJECT,        /* whose budget is charged (pseudonymised in outputs) */
    SL_ROLE_KEEP,           /* copied unchanged (non-personal) */
    SL_ROLE_COUNT
} sl_col_role;

typedef enum sl_col_type {
    SL_TYPE_NUMERIC = 0,
    SL_TYPE_DATE,      /* YYYY-MM-DD; generalised by range / truncation */
    SL_TYPE_CATEGORY,  /* generalised by a hierarchy */
    SL_TYPE_COUNT
} sl_col_type;

/* "identifier", ...; "unknown" out of range. */
const char *sl_col_role_name(sl_col_role r);
const char *sl_col_type_name(sl_col_type t);

/* Category hierarchy: node 0 is the root ("*"); every leaf value has a path to it. */
typedef struct sl_hier {
    char **name;      /* [n] owned */
    int32_t *parent;  /* [n], -1 for the root */
    int32_t *depth;   /* [n], root 0 */
    int n, height;    /* height: max depth */
} sl_hier;

typedef struct sl_col_spec {
    char *name;          /* column name in the table (owned) */
    sl_col_role role;
    sl_col_type type;
    double lo, hi;       /* measurement clipping bounds / numeric QI domain (optional) */
    int has_bounds;
    double grid;         /* measurement: DP output grid (default (hi - lo) / 2^20) */
    double epsilon;      /* measurement/sensitive: share of the release epsilon (0: even split) */
    char **domain;       /* sensitive with randomized response: category list (owned) */
    int n_domain;
    sl_hier *hier;       /* category QI: hierarchy (owned); NULL: flat (value or "*") */
} sl_col_spec;

/* The schema file (JSON), docs/PRIVACY.md:
 *   {"dataset": "operators", "columns": [
 *      {"name": "operator_id", "role": "identifier"},
 *      {"name": "site", "role": "quasi_identifier", "type": "category",
 *       "hierarchy": {"EU": ["Berlin", "Paris"], "US": ["Austin"]}},
 *      {"name": "age", "role": "quasi_identifier", "type": "numeric"},
 *      {"name": "shift_date", "role": "quasi_identifier", "type": "date"},
 *      {"name": "diagnosis", "role": "sensitive", "domain": ["a", "b"]},
 *      {"name": "cycle_time", "role": "measurement", "clip": [0, 120], "grid": 0.01},
 *      {"name": "user", "role": "subject"}]}
 * Every error names the file and the place ("S.json: columns[3].clip: lo > hi"). */
typedef struct sl_priv_schema {
    char *source;        /* file name the schema came from, for messages (owned) */
    char *dataset;       /* dataset key for the ledger (owned; default: the file's stem) */
    sl_col_spec *cols;   /* [n_cols] owned */
    int n_cols;
} sl_priv_schema;

sl_status sl_priv_schema_load(const char *path, sl_priv_schema **out);
/* Parse from memory; `name` is used in messages and for the default dataset key. */
sl_status sl_priv_schema_parse(const char *text, size_t len, const char *name,
                               sl_priv_schema **out);
void sl_priv_schema_free(sl_priv_schema *s);

/* A record table: every cell as text; numeric/date columns also parsed to doubles (dates as
 * days since 1970-01-01). Rows in file order. */
typedef struct sl_priv_table {
    char **header;        /* [n_cols] owned */
    int n_cols;
    size_t n_rows;
    char ***cell;         /* [n_cols][n_rows] owned */
    double **num;         /* [n_cols] NULL or [n_rows] for schema numeric/date columns */
    int *spec;            /* [n_cols] index into the schema's cols, -1 if not in the schema */
    int *col_of_spec;     /* [schema n_cols] table column of each schema column */
    size_t *row_line;     /* [n_rows] line of the file where each row starts (owned) */
    char *store;          /* backing memory of the cells (owned) */
    char *source;         /* file name, for messages (owned) */
} sl_priv_table;

/* Read a CSV (header line, comma separated, RFC 4180 quotes) and bind it to the schema:
 * every schema column must exist, numeric/measurement cells must parse and be finite, dates
 * must be YYYY-MM-DD, measurement bounds lo <= hi. Errors name file, line and column. */
sl_status sl_priv_table_read_csv(const char *path, const sl_priv_schema *s,
                                 sl_priv_table **out);
sl_status sl_priv_table_parse_csv(const char *text, size_t len, const char *name,
                                  const sl_priv_schema *s, sl_priv_table **out);
void sl_priv_table_free(sl_priv_table *t);

/* --- k-anonymity -------------------------------------------------------------------------- */

typedef struct sl_kanon_report {
    size_t n_rows, n_classes, suppressed;   /* suppressed rows are not in any class */
    size_t min_class;                        /* smallest class size */
    int min_distinct_sensitive;              /* smallest distinct-sensitive count (l) */
    double risk_max, risk_mean;              /* prosecutor: max and mean of 1/class size */
    double ncp;                              /* normalised certainty penalty in [0, 1] */
    double discernibility;                   /* sum of class size^2 (+ n * suppressed) */
    double suppressed_share;
} sl_kanon_report;

/* The generalised quasi-identifier cells: gen[q][row], one per QI column of the schema in
 * schema order (pointers into strs, shared by the rows of a class; NULL when suppressed);
 * cls[row] = equivalence class id, or -1 when the row is suppressed. */
typedef struct sl_kanon_result {
    int n_qi;
    int *qi_col;          /* [n_qi] table column index */
    const char ***gen;    /* [n_qi][n_rows] */
    int64_t *cls;         /* [n_rows] */
    char **strs;          /* [n_strs] owned strings gen points into */
    size_t n_strs, cap_strs;
    sl_kanon_report rep;
    int *levels;          /* full-domain only: chosen level per QI, else NULL */
} sl_kanon_result;

/* Mondrian strict multidimensional partitioning (LeFevre et al. 2006): recursively split on
 * the QI with the widest normalised range at its median (numeric, date) or into hierarchy
 * children (category), keeping a split only if every part has >= k rows and >= l distinct
 * values of every sensitive column. SL_ERR_ARG for k < 1 or l < 1, SL_ERR_RANGE for k larger
 * than the table or l larger than the table's distinct sensitive values. */
sl_status sl_kanon_mondrian(const sl_priv_table *t, const sl_priv_schema *s, size_t k, int l,
                            sl_kanon_result **out);
/* Full-domain generalisation baseline: every QI generalised to one level across the whole
 * table (numeric and dates: intervals of 2^j base bins / day-month-year-*; categories:
 * hierarchy levels); the lattice is searched exhaustively for the node of least NCP meeting
 * k and l with at most `max_suppress` share of rows suppressed. */
sl_status sl_kanon_full_domain(const sl_priv_table *t, const sl_priv_schema *s, size_t k, int l,
                               double max_suppress, sl_kanon_result **out);
void sl_kanon_result_free(sl_kanon_result *r);

/* --- pseudonyms --------------------------------------------------------------------------- */

#define SL_PSEUDO_KEY_MIN 32          /* bytes; shorter keys are refused */
#define SL_PSEUDO_ENV "ANONYMIZATION_SALT"

typedef struct sl_pseudo_key {
    unsigned char key[64];
    size_t len;
} sl_pseudo_key;

/* Key from `path` (raw bytes, a trailing newline dropped) if non-NULL, else from
 * $ANONYMIZATION_SALT. SL_ERR_ARG when neither is given or the key is shorter than
 * SL_PSEUDO_KEY_MIN bytes (message says which). */
sl_status sl_pseudo_key_load(const char *path, sl_pseudo_key *k);
/* 32 hex chars: the first 16 bytes of HMAC-SHA256(key, column name || 0 || value). */
void sl_pseudonym(const sl_pseudo_key *k, const char *column, const char *value, char out[33]);
void sl_pseudo_key_wipe(sl_pseudo_key *k);

/* --- releases --------------------------------------------------------------------------- */

typedef enum sl_technique {
    SL_TECH_DP = 0,     /* record-level DP: measurements noised, RR on sensitive domains */
    SL_TECH_KANON,      /* Mondrian k-anonymity with l-diversity */
    SL_TECH_PSEUDO,     /* keyed pseudonyms for identifiers and subjects */
    SL_TECH_GENERALIZE, /* full-domain generalisation meeting k */
    SL_TECH_AGGREGATE,  /* central DP: a noisy count, sum, mean or histogram */
    SL_TECH_COUNT
} sl_technique;

/* Central-DP aggregate queries (SL_TECH_AGGREGATE). Neighbouring tables differ in one
 * subject's rows; each subject contributes at most max_rows_per_subject rows (its first ones
 * in file order; without a subject column every row is its own subject). Sensitivities in
 * grid units: count c; sum c * max(|round(lo/g)|, |round(hi/g)|); a histogram over a public
 * domain (the column's "domain", or its hierarchy's leaves) c per bin in L1 and L2; mean =
 * noisy sum / noisy count with the budget split in half. */
typedef enum sl_agg_query {
    SL_AGG_COUNT = 0,
    SL_AGG_SUM,
    SL_AGG_MEAN,
    SL_AGG_HISTOGRAM,
    SL_AGG_QUERY_COUNT
} sl_agg_query;
const char *sl_agg_query_name(sl_agg_query q);
sl_status sl_agg_query_parse(const char *name, sl_agg_query *out);
const char *sl_technique_name(sl_technique t);
sl_status sl_technique_parse(const char *name, sl_technique *out);

/* Epsilon charged per subject for the techniques without a formal epsilon (seed 003). */
typedef struct sl_priv_profile {
    double kanon, pseudo, generalize;
} sl_priv_profile;
void sl_priv_profile_default(sl_priv_profile *p); /* 0.3, 0.1, 0.2 */
/* Override from a JSON file {"kanon": x, "pseudo": y, "generalize": z} (keys optional). */
sl_status sl_priv_profile_load(const char *path, sl_priv_profile *p);

typedef struct sl_release_opts {
    sl_technique technique;
    double epsilon;       /* DP: total per-record epsilon (split over noised columns) */
    double delta;         /* DP Gaussian: delta (0: Laplace) */
    size_t k;             /* KANON / GENERALIZE */
    int l;                /* l-diversity (1: none) */
    double max_suppress;  /* GENERALIZE: allowed suppressed share */
    const sl_pseudo_key *key; /* required for PSEUDO; used for subjects/identifiers if set */
    sl_priv_profile profile;
    const char *actor;    /* who (default $USER) */
    int64_t run_id;       /* registry run, 0 = none */
    int64_t now;          /* unix seconds for the ledger (0 = the clock) */
    int pool_days;        /* training_data_pool expiry in days (default 90) */
    sl_agg_query query;   /* AGGREGATE: which query */
    const char *column;   /* AGGREGATE: the measurement (sum, mean) or category (histogram) */
    uint32_t max_rows_per_subject; /* AGGREGATE: contribution bound c (default 1) */
    int seeded;           /* 1: seeded noise (tests only) */
    uint64_t seed;
    /* test hooks: after the temp file is written and before the charge; after the charge
     * committed and before the rename (may sleep, for the kill -9 test) */
    void (*before_charge)(void *ctx);
    void (*after_charge)(void *ctx);
    void *hook_ctx;
} sl_release_opts;
void sl_release_opts_default(sl_release_opts *o);

typedef struct sl_release_result {
    int64_t log_id;
    double epsilon_charged;   /* per record (dp) or per subject (accounting profile) */
    double max_subject_epsilon; /* dp: epsilon x the most records of one subject */
    int formal;               /* 1 if that epsilon is a DP guarantee */
    size_t n_rows_out, n_subjects;
    char out_sha256[65];
    sl_kanon_report kanon;    /* KANON / GENERALIZE */
} sl_release_result;

/* Run technique o->technique on `t`, write the output CSV to out_path, and record it:
 *   1. compute the output in memory (nothing written on any input error);
 *   2. write and fsync "<out_path>.tmp.<pid>";
 *   3. one transaction: check every subject's and the dataset's budgets in every period
 *      (under dp a subject with m released records is charged m * epsilon: group privacy),
 *      insert the anonymization_logs row (status 'pending'), the charges, the
 *      training_data_pool row; refused with SL_ERR_RANGE (remaining budget in the message)
 *      if any budget would be exceeded -> temp removed, nothing written;
 *   4. rename the temp into place and mark the log row 'placed'.
 * reg may not be NULL (a release without a ledger is refused). */
sl_status sl_privacy_release(sl_registry *reg, const sl_priv_table *t, const sl_priv_schema *s,
                             const char *in_path, const char *out_path,
                             const sl_release_opts *o, sl_release_result *res);

/* Complete releases left 'pending' by processes of this host that are gone: rename the temp
 * file into place if it exists with the logged hash (then 'placed'), or mark the row
 * 'orphaned' if the temp file is gone (its charge stays: over-charging is safe). */
sl_status sl_privacy_recover(sl_registry *reg, int *n_completed);

/* Retention: delete training_data_pool rows whose expiry <= now (files removed), logging
 * each deletion in anonymization_logs (technique 'retention'). now = 0: the clock. */
sl_status sl_privacy_retention(sl_registry *reg, int64_t now, int dry_run, const char *actor,
                               size_t *n_deleted);

#ifdef __cplusplus
}
#endif
#endif /* SL_PRIVACY_H */
