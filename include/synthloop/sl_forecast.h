/* SPDX-License-Identifier: Apache-2.0 */
/* sl_forecast.h - probability-tree forecasts (seed 004): case files, validation, splits,
 * templates, SFT export, the GRPO reward, scores, recalibration and endpoint prediction.
 *
 * A case (one JSONL line, docs/FORECAST.md) is a seed event with a chain of consequences at
 * depths 1..n. Each node holds the event that happened, the probability it seemed to have, and
 * the alternatives that did not happen with theirs. A prediction file has the same shape (only
 * case_id and outcome_chain required) and is scored against a truth file.
 *
 * Scored items. For every truth node (case c, depth d, actual event E) and the predicted node
 * of c at depth d, each predicted candidate (its event and each alternative) is one binary
 * forecast (p, y): y = 1 for the candidate most similar to E if that similarity reaches the
 * match threshold, else 0. If no candidate matches, the residual mass max(0, 1 - sum p) is one
 * more item with y = 1 ("something else happened"). A truth node with no predicted node at
 * its depth is one item (p = 0, y = 1). Brier, log score, ECE, the Murphy decomposition and
 * recalibration all work on these items.
 *
 * Text matching: lower-case, every non-alphanumeric byte a separator, a fixed stop-word list
 * removed; exact = equal token sequences; fuzzy = Jaccard similarity of the token sets
 * >= SL_FC_MATCH_THRESHOLD (0.5).
 *
 * Ownership: every sl_fc_* object returned through an out-pointer is owned by the caller and
 * released with its *_free function (NULL is harmless). Strings inside are owned by their
 * object. Same inputs and seed => same bits.
 */
#ifndef SL_FORECAST_H
#define SL_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_FC_MAX_DEPTH 16
#define SL_FC_MATCH_THRESHOLD 0.5
#define SL_FC_PROB_TOL 0.01      /* default |sum - 1| tolerance of a node */
#define SL_FC_FIX_TOL 0.05       /* --fix renormalises only when |sum - 1| <= this */
#define SL_FC_MONTHS_TOL 1.0     /* default |timeframe_months - months(seed, date)| */
#define SL_FC_LOG_EPS 1e-3       /* clipping of the log score: p in [eps, 1 - eps] */

/* --- cases ---------------------------------------------------------------- */

typedef struct sl_fc_alt {
    char *event;
    double prob;
} sl_fc_alt;

typedef struct sl_fc_node {
    int depth;
    char *event;
    char *date;              /* "YYYY-MM-DD" or NULL */
    double prob;             /* NAN when absent (prediction files may omit it: invalid) */
    double timeframe_months; /* NAN when absent */
    sl_fc_alt *alts;
    size_t n_alts;
} sl_fc_node;

typedef struct sl_fc_case {
    char *case_id;
    char *seed_event;    /* NULL in prediction files */
    char *seed_date;     /* "YYYY-MM-DD" or NULL */
    char *context;       /* text; an object context is rendered "key: value; ..." */
    char *domain;        /* NULL in prediction files */
    int synthetic;       /* "synthetic": true */
    sl_fc_node *nodes;   /* in file order */
    size_t n_nodes;
    size_t line;         /* 1-based line in its file */
    cJSON *json;         /* the parsed line (owned), written back by split and --fix */
} sl_fc_case;

typedef struct sl_fc_set {
    sl_fc_case *cases;
    size_t n;
    char *path;          /* the file name used in messages */
} sl_fc_set;

/* Parse JSONL text (blank lines skipped). Structural errors (not JSON, not an object, a field
 * of the wrong type) fail with SL_ERR_FORMAT and a message "PATH:LINE: field: what"; the
 * semantic rules are sl_fc_validate's. Accepted aliases: probability_in_retrospect,
 * probability_retrospective, actual_probability for a node's probability; prob for an
 * alternative's. A node without "depth" gets its 1-based position. */
sl_status sl_fc_parse(const char *text, size_t len, const char *path, sl_fc_set **out);
sl_status sl_fc_read(const char *path, sl_fc_set **out);
void sl_fc_set_free(sl_fc_set *s);
/* Write the cases' JSON (one line each, in order) atomically to path. */
sl_status sl_fc_write(const char *path, const sl_fc_case *const *cases, size_t n);

/* --- validation ----------------------------------------------------------- */

typedef enum sl_fc_rule {
    SL_FC_RULE_REQUIRED = 0, /* a required field is missing or empty */
    SL_FC_RULE_PROB_RANGE,   /* a probability outside [0, 1] or not finite */
    SL_FC_RULE_PROB_SUM,     /* event + alternatives do not sum to 1 within tolerance */
    SL_FC_RULE_DATE_FORMAT,  /* not a valid YYYY-MM-DD calendar date */
    SL_FC_RULE_DATE_ORDER,   /* seed date after depth 1, or depth k after depth k+1 */
    SL_FC_RULE_TIMEFRAME,    /* timeframe_months disagrees with months(seed_date, date) */
    SL_FC_RULE_DEPTH,        /* depths are not 1..n in order without gaps */
    SL_FC_RULE_URL,          /* a source is not an http(s) URL with a host */
    SL_FC_RULE_DUPLICATE,    /* same normalised case text as an earlier case, or same id */
    SL_FC_RULE_COUNT
} sl_fc_rule;

/* Short rule name ("prob_sum", ...); "unknown" out of range. */
const char *sl_fc_rule_name(sl_fc_rule r);

typedef struct sl_fc_issue {
    sl_fc_rule rule;
    int warning;             /* 1: reported, not an error */
    int fixed;               /* 1: --fix changed the case (renormalised) */
    size_t line;
    char field[96];          /* e.g. "outcome_chain[1].alternatives" */
    char message[256];
} sl_fc_issue;

typedef struct sl_fc_report {
    sl_fc_issue *issues;
    size_t n, cap;
    size_t n_errors, n_warnings, n_fixed;
} sl_fc_report;

typedef struct sl_fc_validate_opts {
    double prob_tol;         /* SL_FC_PROB_TOL */
    double fix_tol;          /* SL_FC_FIX_TOL */
    double months_tol;       /* SL_FC_MONTHS_TOL */
    int fix;                 /* renormalise nodes with tol < |sum - 1| <= fix_tol */
} sl_fc_validate_opts;
void sl_fc_validate_opts_default(sl_fc_validate_opts *o);

/* Check every rule on every case; append issues to rep (zero-initialise it first). With
 * o->fix, nodes within fix_tol are renormalised in s (nodes and json) and reported fixed.
 * Returns SL_OK even when issues were found (count rep->n_errors); fails only on OOM. */
sl_status sl_fc_validate(sl_fc_set *s, const sl_fc_validate_opts *o, sl_fc_report *rep);
void sl_fc_report_clear(sl_fc_report *rep);
/* One issue as "PATH:LINE: FIELD: [RULE] MESSAGE" into buf. */
void sl_fc_issue_format(const sl_fc_issue *is, const char *path, char *buf, size_t n);

/* --- dates and text --------------------------------------------------------- */

/* Parse "YYYY-MM-DD" (a real calendar date) into days since 1970-01-01. SL_ERR_FORMAT. */
sl_status sl_fc_date_days(const char *s, int64_t *days);
/* Months between two dates: (days2 - days1) / 30.436875 (mean Gregorian month). */
double sl_fc_months_between(int64_t days1, int64_t days2);
/* Jaccard similarity of the normalised token sets (1 when both are empty). */
double sl_fc_similarity(const char *a, const char *b);
/* 1 when the normalised token sequences are equal. */
int sl_fc_exact_match(const char *a, const char *b);

/* --- splits and templates ------------------------------------------------- */

typedef enum sl_fc_segment { SL_FC_TRAIN = 0, SL_FC_CALIB, SL_FC_TEST, SL_FC_EXCLUDED } sl_fc_segment;

/* Date split. Every date of a case (seed date and all node dates) is compared with the
 * cutoffs: train = all dates < calib_cutoff (or < test_cutoff when calib_cutoff is NULL),
 * calib = all in [calib_cutoff, test_cutoff), test = all >= test_cutoff. A case whose dates
 * fall in more than one segment is excluded ("crosses"), as is a synthetic case that would
 * land in calib or test. seg[i] receives each case's segment; `why` (may be NULL) a static
 * reason for excluded ones. Cases must have valid dates (validate first): SL_ERR_FORMAT. */
sl_status sl_fc_split_date(const sl_fc_set *s, const char *calib_cutoff, const char *test_cutoff,
                           sl_fc_segment *seg, const char **why);
/* Domain split: test = cases whose domain is in the comma-separated list (case-insensitive),
 * train = the others; synthetic cases never go to test (excluded when their domain is listed). */
sl_status sl_fc_split_domain(const sl_fc_set *s, const char *test_domains, sl_fc_segment *seg,
                             const char **why);

/* Template cases like seed 004's synthetic data (10 scenarios with slots), each marked
 * "synthetic": true. probs_uniform: every node's event and alternatives share 1/k (seed 004);
 * else the node probabilities are drawn from a Dirichlet(1) and the event that "happened" is
 * drawn from them, so the file is calibrated by construction. Dates start in start_year.
 * *out is a JSON array of case objects (caller deletes). */
sl_status sl_fc_templates(size_t n, uint64_t seed, int probs_uniform, int start_year,
                          cJSON **out);

/* --- baselines ------------------------------------------------------------------ */

typedef enum sl_fc_baseline {
    SL_FC_BASE_UNIFORM = 0, /* 1 / k for each of the truth's k candidates */
    SL_FC_BASE_RATE,        /* a constant base rate for every candidate */
    SL_FC_BASE_ANNOTATED    /* sigmoid(distort * logit(p)) of the annotated probabilities */
} sl_fc_baseline;

/* Fraction of candidates (events + alternatives) that happened: nodes / candidates. NAN for
 * an empty set. */
double sl_fc_base_rate(const sl_fc_set *s);
/* A baseline prediction for truth case c: the truth's own candidates in an order shuffled by
 * r (so that ties do not favour what happened), with the baseline's probabilities, no
 * timeframes. *out {"case_id", "outcome_chain"} (caller deletes). */
sl_status sl_fc_baseline_case(const sl_fc_case *c, sl_fc_baseline kind, double base_rate,
                              double distort, sl_rng *r, cJSON **out);

/* --- prompts, SFT export, reward -------------------------------------------- */

/* The seed 004 prompt for a case (malloc'd, caller frees). */
char *sl_fc_prompt(const sl_fc_case *c);
/* The system message used by export and predict (static). */
const char *sl_fc_system_prompt(void);
/* The target tree of a case as compact JSON text (malloc'd): {"outcome_chain": [{depth, event,
 * probability, timeframe_months, alternatives: [{event, probability}]}]}. */
char *sl_fc_target_json(const sl_fc_case *c);
/* One chat-format SFT record {"messages": [system, user, assistant]} per case (caller
 * deletes). */
cJSON *sl_fc_sft_record(const sl_fc_case *c);

typedef struct sl_fc_reward_weights {
    double calibration, sharpness, diversity, coherence; /* default 0.4, 0.2, 0.2, 0.2 */
    int diversity_target;                                /* branches per node, default 3 */
} sl_fc_reward_weights;
void sl_fc_reward_weights_default(sl_fc_reward_weights *w);

typedef struct sl_fc_reward {
    double calibration; /* 1 - Brier of the case's items */
    double sharpness;   /* mean over nodes of 1 - H(p) / log(k) */
    double diversity;   /* mean over nodes of min(1, (distinct branches - 1) / (target - 1)) */
    double coherence;   /* fraction of structural checks passed */
    double total;       /* weighted sum / sum of weights */
} sl_fc_reward;

/* The GRPO reward of one predicted case against its truth (docs/FORECAST.md). */
sl_status sl_fc_reward_case(const sl_fc_case *pred, const sl_fc_case *truth,
                            const sl_fc_reward_weights *w, sl_fc_reward *out);

/* --- scores ------------------------------------------------------------------ */

typedef struct sl_fc_item {
    double p;
    int y;
    double p_uniform;  /* the uniform reference: 1 / candidates of the node, 0 for the
                          residual and missing-node items */
    int depth;
    size_t case_index; /* index into the truth set */
} sl_fc_item;

/* Per-case facts used by the scores and the paired bootstrap. */
typedef struct sl_fc_case_stat {
    int has_pred;                         /* a prediction exists for the case */
    int n_nodes;                          /* truth nodes */
    int top_ok[SL_FC_MAX_DEPTH + 1];      /* per depth: 1 top candidate matched, 0 not, -1 no node */
    int covered_exact, covered_fuzzy;     /* truth nodes matched by any candidate anywhere */
    double tf_abs_err;                    /* sum |pred - truth| timeframe over tf_n nodes */
    int tf_n;
} sl_fc_case_stat;

typedef struct sl_fc_eval {
    sl_fc_item *items;
    size_t n_items;
    sl_fc_case_stat *cases; /* one per truth case */
    size_t n_cases;
    size_t n_pred_unmatched; /* predicted cases whose case_id is not in the truth */
    size_t n_missing_cases;  /* truth cases without prediction */
} sl_fc_eval;

/* Build the items and per-case facts of predictions against truth (threshold: fuzzy match
 * threshold, <= 0 for the default). */
sl_status sl_fc_evaluate(const sl_fc_set *pred, const sl_fc_set *truth, double threshold,
                         sl_fc_eval **out);
void sl_fc_eval_free(sl_fc_eval *e);

typedef struct sl_fc_murphy {
    double reliability, resolution, uncertainty; /* binned (or by distinct value) */
    double within_var, within_cov;               /* generalised terms (0 for distinct values) */
    double brier;                                /* rel - res + unc + within_var - within_cov */
} sl_fc_murphy;

/* Murphy decomposition. nbins > 0: equal-width bins as calibration_curve; nbins == 0: one
 * group per distinct forecast value (exact, the within terms vanish). */
sl_status sl_fc_murphy_decompose(const double *p, const int *y, size_t n, int nbins,
                                 sl_fc_murphy *out);

/* sklearn calibration_curve(y, p, n_bins, strategy="uniform") plus counts: for each bin b
 * (nbins entries) frac_pos[b], mean_pred[b], count[b] (NAN for empty bins). */
sl_status sl_fc_calibration_curve(const double *p, const int *y, size_t n, int nbins,
                                  double *frac_pos, double *mean_pred, size_t *count);

typedef struct sl_fc_scores {
    size_t n_items, n_cases, n_nodes, n_missing_cases;
    double brier, brier_uniform, brier_base_rate, base_rate;
    double skill_uniform, skill_base_rate; /* 1 - brier / reference */
    double log_score;                      /* mean -log(clip(p)) clipped at SL_FC_LOG_EPS */
    double ece;
    sl_fc_murphy murphy;                   /* 10 bins */
    double acc[SL_FC_MAX_DEPTH + 1];       /* per-depth top-1 accuracy, NAN if no node */
    size_t acc_n[SL_FC_MAX_DEPTH + 1];
    double accuracy;                       /* over all truth nodes */
    double coverage_exact, coverage_fuzzy;
    double timeframe_mae;                  /* months, NAN if no pair */
    size_t timeframe_n;
    /* reliability diagram, the ECE's 10 bins: weighted item count, mean forecast, observed
     * frequency (NAN for empty bins) */
    double curve_n[10], curve_pred[10], curve_true[10];
} sl_fc_scores;

/* Scores of an evaluation. base_rate in [0,1] is the base-rate reference forecast (the
 * training split's positive rate); pass NAN to use the items' own rate (in-sample). The
 * uniform reference gives every candidate of a predicted node 1 / (candidates). weights
 * (may be NULL) multiplies each case (the paired bootstrap's resample counts). */
sl_status sl_fc_score(const sl_fc_eval *e, double base_rate, const double *case_weights,
                      sl_fc_scores *out);
/* Seed 004's per-depth target (0.9 for d1, 0.7 for d2-3, 0.5 for d4-5, NAN beyond). */
double sl_fc_depth_target(int depth);
/* Scores as JSON (caller deletes). */
cJSON *sl_fc_scores_json(const sl_fc_scores *s);
/* The reliability diagram as an SVG element (malloc'd text, caller frees; NULL on OOM):
 * observed frequency against mean forecast for the non-empty of nbins bins, the diagonal, and
 * the share of items per bin as bars. */
char *sl_fc_reliability_svg(const double *mean_pred, const double *frac_pos, const double *count,
                            int nbins);
/* A self-contained HTML report with the reliability diagram (inline SVG) and the per-depth
 * table, written atomically. */
sl_status sl_fc_write_html(const char *path, const char *title, const sl_fc_eval *e,
                           const sl_fc_scores *s);

/* Paired bootstrap of B - A over truth cases (both evaluated against the same truth):
 * `reps` resamples of the case indices (sl_rng(seed, 0)); for each metric the point
 * difference and the percentile CI at `level`. Result JSON: {"metrics": [{name, a, b, diff,
 * lo, hi, better}]} (caller deletes). */
sl_status sl_fc_compare(const sl_fc_eval *a, const sl_fc_eval *b, size_t reps, double level,
                        uint64_t seed, cJSON **out);

/* --- recalibration -------------------------------------------------------- */

typedef enum sl_fc_calib_kind {
    SL_FC_CAL_PLATT = 0,   /* sigmoid(a * logit(p) + b), logistic regression */
    SL_FC_CAL_ISOTONIC,    /* PAV on p, linear interpolation, clipped outside */
    SL_FC_CAL_TEMPERATURE, /* sigmoid(logit(p) / T) */
    SL_FC_CAL_COUNT
} sl_fc_calib_kind;
const char *sl_fc_calib_name(sl_fc_calib_kind k);

typedef struct sl_fc_calib {
    sl_fc_calib_kind kind;
    double a, b;    /* Platt */
    double T;       /* temperature */
    double *x, *y;  /* isotonic thresholds (owned) */
    size_t n;
} sl_fc_calib;

/* logit with p clipped to [1e-6, 1 - 1e-6] (the feature of Platt and temperature). */
double sl_fc_logit(double p);
/* Platt: logistic regression of y on x = logit(p) by Newton's method, L2 penalty 1/(2C) * a^2
 * on the slope only (sklearn LogisticRegression(C)); C = INFINITY for none. */
sl_status sl_fc_fit_platt(const double *x, const int *y, size_t n, double C, double *a,
                          double *b);
/* Isotonic (increasing) regression of y on p: ties pooled (mean), pool-adjacent-violators.
 * Thresholds into *xs, *ys (malloc'd, caller frees), *m of them (sklearn IsotonicRegression). */
sl_status sl_fc_fit_isotonic(const double *p, const double *y, const double *w, size_t n,
                             double **xs, double **ys, size_t *m);
/* Temperature minimising the mean log loss of sigmoid(x / T) (golden section on log T in
 * [1e-2, 1e2], then Newton). */
sl_status sl_fc_fit_temperature(const double *x, const int *y, size_t n, double *T);

/* Fit a calibrator of `kind` on items (p, y). c is zero-initialised by the call. */
sl_status sl_fc_calib_fit(sl_fc_calib_kind kind, const double *p, const int *y, size_t n,
                          sl_fc_calib *c);
double sl_fc_calib_apply(const sl_fc_calib *c, double p);
void sl_fc_calib_clear(sl_fc_calib *c);
cJSON *sl_fc_calib_json(const sl_fc_calib *c);
/* Apply c to every probability (events and alternatives) of every case in s, updating the
 * nodes and the JSON. */
void sl_fc_calib_apply_set(const sl_fc_calib *c, sl_fc_set *s);

/* --- prediction against an OpenAI-compatible endpoint ---------------------- */

typedef struct sl_fc_predict_opts {
    const char *endpoint;   /* http://host[:port][/prefix]; /v1/chat/completions appended */
    const char *model;      /* "model" field of the request; default "default" */
    const char *cache_dir;  /* response cache (NULL: none) */
    double timeout_s;       /* per request (connect, send, receive), default 60 */
    int retries;            /* extra attempts on connection errors, 429 and 5xx, default 3 */
    double backoff_s;       /* first retry delay, doubled each time, default 0.5 */
    double temperature;     /* sampling temperature sent, default 0 */
    int max_tokens;         /* default 1024 */
} sl_fc_predict_opts;
void sl_fc_predict_opts_default(sl_fc_predict_opts *o);

typedef enum sl_fc_outcome {
    SL_FC_PRED_OK = 0,
    SL_FC_PRED_HTTP,        /* transport failed or non-2xx after the retries */
    SL_FC_PRED_BAD_RESPONSE,/* the body is not a chat completion */
    SL_FC_PRED_NOT_JSON,    /* the message holds no parsable JSON tree */
    SL_FC_PRED_BAD_TREE,    /* JSON but not a valid tree (fields, probabilities) */
    SL_FC_PRED_OUTCOME_COUNT
} sl_fc_outcome;
const char *sl_fc_outcome_name(sl_fc_outcome o);

/* Parse a model's message text into a predicted case JSON object {"case_id", "outcome_chain"}
 * (caller deletes). Accepts a tree object, {"outcome_chain": [...]}, or a bare array of
 * nodes (depth = position when missing), optionally inside ``` fences or surrounded by text.
 * Fails with SL_FC_PRED_NOT_JSON / SL_FC_PRED_BAD_TREE in *why and a message. */
sl_status sl_fc_parse_answer(const char *text, const char *case_id, cJSON **out,
                             sl_fc_outcome *why);

/* Ask the endpoint for one case's tree. *pred (caller deletes) on success; *why always set;
 * *cached = 1 when the answer came from the cache. A transport failure after the retries
 * returns SL_ERR_IO; a malformed answer returns SL_ERR_FORMAT (never cached as good). */
sl_status sl_fc_predict_case(const sl_fc_case *c, const sl_fc_predict_opts *o, cJSON **pred,
                             sl_fc_outcome *why, int *cached);

/* Minimal HTTP/1.1 POST over a socket for http:// URLs (no TLS). Sends body with
 * Content-Type application/json; reads Content-Length, chunked or close-delimited bodies.
 * *status the HTTP status; *resp malloc'd (caller frees). SL_ERR_IO on transport failure
 * or timeout, SL_ERR_ARG for a URL that is not http://. */
sl_status sl_fc_http_post(const char *url, const char *body, double timeout_s, int *status,
                          char **resp, size_t *resp_len);

/* --- registry (src/store/forecast.c) ------------------------------------------------ */

struct sl_registry;
/* Rows of forecast_cases: one per case with its split segment (NULL seg: "all"). */
sl_status sl_fc_store_cases(struct sl_registry *reg, int64_t run_id, const sl_fc_set *s,
                            const sl_fc_segment *seg);
/* Rows of forecast_predictions: one per predicted node (status ok), plus one per malformed
 * answer (status = the outcome name, error = message). */
sl_status sl_fc_store_prediction(struct sl_registry *reg, int64_t run_id, const char *model,
                                 const char *case_id, const cJSON *pred, const char *status,
                                 const char *error);
/* Rows of forecast_scores: one per (label, metric) with an optional CI (NAN: none). */
sl_status sl_fc_store_score(struct sl_registry *reg, int64_t run_id, const char *label,
                            const char *metric, double value, double lo, double hi);
/* The forecast rows of one run as {"run": {id, command, status, started, ended, summary},
 * "cases": [...], "predictions": [...], "scores": [...]} (caller deletes): what the API route
 * serves. SL_ERR_NOTFOUND for a missing run. */
sl_status sl_fc_store_run_json(struct sl_registry *reg, int64_t run_id, cJSON **out);

/* --- API routes and dashboard page (src/serve/forecast_routes.c) ----------------------- */

/* GET /api/forecast/RUN -> the JSON of sl_fc_store_run_json; GET /api/forecast/RUN/page ->
 * an HTML page with the run's scores, reliability diagram, per-depth table against seed 004's
 * targets, comparison CIs and split counts, as recorded. seg/ns are the path segments after
 * "forecast". On success *body (malloc'd, caller frees), *len and *type (static MIME type);
 * SL_ERR_NOTFOUND for an unknown route or run, SL_ERR_ARG for a bad run id. */
sl_status sl_fc_api(struct sl_registry *reg, const char *const *seg, int ns, char **body,
                    size_t *len, const char **type);

#ifdef __cplusplus
}
#endif
#endif /* SL_FORECAST_H */
