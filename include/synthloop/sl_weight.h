/* SPDX-License-Identifier: Apache-2.0 */
/* sl_weight.h - the SyntheticWeightController (seed 002) and its two learned components.
 *
 *   quality_i = trust_i * econ_i                     per-sample quality gate
 *   lambda    = lambda_controller(context)           global budget, in [0, max_synth_share]
 *   W*        = R * lambda / (1 - lambda)            target synthetic weight (R = real total)
 *   w_i       = min(1, quality_i * s)                s chosen so that sum w_i = W* if possible
 *   + safety rails: trust floor, econ cap, lambda cap, per-sample cap 1, final share cap.
 *
 * Invariants (seed 002 section 9; tested on random inputs in tests/test_weight.c):
 *   1. trust is a factor of every final weight (trust 0 => w 0; lowering trust never raises w)
 *   2. effective share = sum w / (sum w + R) <= max_synth_share, always
 *   3. trust < min_trust => w = 0 (trust == min_trust passes, as seed 002's `>=`)
 *   4. every call emits a log record (and, unless disabled, one record per sample with its
 *      components) to the sinks that are set
 *   5. in phase 2 the econ value and lambda come from the learned models
 * The controller never returns NaN weights: a sample with a NaN/Inf input is rejected
 * (weight 0, rail "invalid_input"); NaN/Inf or out-of-range global inputs fail the call.
 * Formulas, phases, log and record formats: docs/WEIGHTS.md.
 */
#ifndef SL_WEIGHT_H
#define SL_WEIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- objective vector ---------------------------------------------------- */

typedef enum sl_objective {
    SL_OBJ_PRODUCTIVITY = 0,
    SL_OBJ_PRECISION,
    SL_OBJ_ENERGY,
    SL_OBJ_NOVELTY,
    SL_OBJ_COUNT
} sl_objective;

/* Minimum number of training records each learned model needs before the controller leaves
 * phase 1 (trust only). sl_weight_ctrl_set_min_outcomes changes it per controller. */
#define SL_WEIGHT_MIN_OUTCOMES 20

/* --- inputs -------------------------------------------------------------- */

/* One synthetic branch. The arrays are borrowed for the duration of the call and may be NULL
 * (then their dims are ignored); when given they are checked for finiteness (a NaN rejects the
 * sample) and their horizon is logged. */
typedef struct sl_weight_sample {
    const float *branch_states;  /* [states_rows x states_dim], rows = H + 1, or NULL */
    size_t states_rows, states_dim;
    const float *branch_actions; /* [actions_rows x actions_dim], rows = H, or NULL */
    size_t actions_rows, actions_dim;
    int64_t source_episode;      /* real episode the branch started from */
    int64_t source_timestep;     /* step at which it started */
    double trust;                /* trust_net p(real), in [0,1] */
    double delta_mpl;            /* ΔMPL of the branch */
    double delta_error;          /* Δerror rate */
    double delta_ep;             /* Δenergy productivity */
    double novelty;              /* state-action novelty score */
    int brick_id;                /* brick of the source episode; < 0 or unknown -> no offset */
} sl_weight_sample;

/* The global context the lambda controller reads (also the context stored in its records). */
typedef struct sl_weight_context {
    double objective[SL_OBJ_COUNT]; /* [productivity, precision, energy, novelty] */
    double current_mpl, current_error, current_ep;
    double baseline_mpl, baseline_error, baseline_ep;
    double training_progress;       /* epoch / total_epochs, in [0,1] */
    double max_synth_share;         /* hard cap, in (0,1) */
    double real_rows;               /* real training rows behind the batch, >= 0 (0 = unknown);
                                       our addition: how scarce real data is */
} sl_weight_context;

typedef struct sl_weight_global {
    sl_weight_context ctx;
    double target_synth_share; /* phase-1 lambda, >= 0 (capped at max_synth_share) */
    double min_trust;          /* trust floor, in [0,1] */
    double econ_weight_cap;    /* cap on econ, in [0,1]; seed default 1 */
    double real_weight;        /* R: total weight of the real samples, >= 0 */
    /* Generator rail: the share of the source batch's branches that passed the gates (trust
     * floor + std-ratio band), in [0,1], and its floor. When source_pass_rate < min_pass_rate
     * the whole batch gets weight 0 (rail "low_pass_rate"): a world model whose branches
     * mostly fail the gates is judged by its batch, not by its lucky few (docs/WEIGHTS.md).
     * 0 / 0 (a zeroed struct) disables it. */
    double source_pass_rate;
    double min_pass_rate;
    /* Generator certificate rail: the source world model's pooled std ratio (synthetic / real)
     * over horizons 5..60 on held-out real starts (sl_synth_certify), as its minimum and
     * maximum over the horizons, and the band [generator_band_lo, generator_band_hi] every
     * horizon must lie in. Outside the band (or a negative value: the evaluation went
     * non-finite) the whole batch gets weight 0 (rail "unstable_generator"): a model that is
     * not in distribution at every horizon is not used even for short branches (seeds 000 /
     * 001: prove it per horizon first). Values must be finite. A band of 0 / 0 disables it. */
    double source_std_ratio_min, source_std_ratio_max;
    double generator_band_lo, generator_band_hi;
} sl_weight_global;

/* Defaults: objective all 0.25, metrics 0 with baselines 1, progress 0, max share 0.4,
 * target 0.2, min_trust 0.9, econ cap 1, real_weight 0 (the caller must set it),
 * source_pass_rate 1 (the caller sets it from its branch file), min_pass_rate 0.1,
 * source_std_ratio_min/max 1 (the caller sets them from the branch file's certificate),
 * generator band [0.8, 1.2] (the gate's normal preset). */
sl_weight_global sl_weight_global_default(void);

/* --- outputs ------------------------------------------------------------- */

/* Safety rails and notable conditions; a sample's flags are bits (1u << rail). */
typedef enum sl_weight_rail {
    SL_RAIL_INVALID_INPUT = 0, /* sample had NaN/Inf or trust outside [0,1]: w = 0 */
    SL_RAIL_TRUST_FLOOR,       /* trust < min_trust: w = 0 */
    SL_RAIL_ECON_CAP,          /* econ clipped to econ_weight_cap */
    SL_RAIL_LAMBDA_CAP,        /* lambda clipped to max_synth_share */
    SL_RAIL_WEIGHT_CAP,        /* w clipped to 1 */
    SL_RAIL_SHARE_CAP,         /* final share cap had to shrink the weights (rounding) */
    SL_RAIL_BUDGET_SHORT,      /* W* could not be reached with w <= 1 */
    SL_RAIL_NO_REAL_WEIGHT,    /* R == 0: no synthetic weight allowed */
    SL_RAIL_LOW_PASS_RATE,     /* source_pass_rate < min_pass_rate: lambda = 0, every w = 0 */
    SL_RAIL_UNSTABLE_GENERATOR, /* certificate std ratio outside the band: lambda = 0 */
    SL_RAIL_COUNT
} sl_weight_rail;
const char *sl_weight_rail_name(sl_weight_rail r); /* "trust_floor", ...; "unknown" */

typedef struct sl_weight_out {
    double w_final;          /* in [0,1] */
    double trust_component;  /* trust as given (0 if invalid) */
    double econ_component;   /* econ after the cap (1 in phase 1) */
    double lambda_component; /* global lambda after the cap */
    double quality;          /* trust * econ, 0 if rejected */
    uint32_t flags;          /* bits (1u << sl_weight_rail) */
} sl_weight_out;

typedef struct sl_weight_summary {
    double mean, std, min, max; /* std with ddof = 0; all 0 when count == 0 */
    size_t count;
} sl_weight_summary;

typedef struct sl_weight_result {
    int phase;                /* 1 = trust only, 2 = learned econ + lambda */
    const char *phase_reason; /* static text */
    uint64_t call;            /* 0-based call counter of this controller */
    double lambda_prediction; /* phase 2: model output; phase 1: target_synth_share */
    double lambda;            /* after the lambda cap */
    double scale;             /* s in w = min(1, quality * s) before the share cap */
    double target_synth_weight; /* W* */
    double synth_weight;      /* sum of w_final */
    double real_weight;       /* R */
    double effective_share;   /* synth / (synth + real), 0 if both are 0 */
    int budget_reached;       /* |synth_weight - W*| <= 1e-9 * W* (W* = 0: synth == 0) */
    uint32_t rails;           /* bits of the rails that fired in this call */
    size_t rail_counts[SL_RAIL_COUNT]; /* samples (or 1 for global rails) per rail */
    size_t n, n_passed, n_rejected_trust, n_invalid;
    sl_weight_summary w, trust, econ; /* over the valid samples */
} sl_weight_result;

/* --- learned component 1: the econ value model --------------------------- */

/* econ = sigmoid(z) with
 *   z = b0 + beta[brick] + sum_j g_j o_j
 *       + softplus(u_mpl + V_mpl.o) x_mpl - softplus(u_err + V_err.o) x_err
 *       + softplus(u_ep  + V_ep.o)  x_ep  + (a_nov + Vn.o) x_nov
 * where o is the objective vector and x_k = clip(delta_k / scale_k, +-1e6). The softplus
 * factors make econ non-decreasing in ΔMPL and ΔEP and non-increasing in Δerror for every
 * objective vector, brick and novelty. */
#define SL_ECON_MAX_BRICKS 64
enum {
    SL_ECON_P_B0 = 0,
    SL_ECON_P_U = 1,                 /* 3: mpl, error, ep */
    SL_ECON_P_V = 4,                 /* 3 x 4, row k = delta, column j = objective */
    SL_ECON_P_ANOV = 16,
    SL_ECON_P_VN = 17,               /* 4 */
    SL_ECON_P_G = 21,                /* 4 */
    SL_ECON_P_BRICK = 25,            /* n_bricks */
    SL_ECON_NPARAMS = 25 + SL_ECON_MAX_BRICKS
};
typedef struct sl_econ_model {
    double params[SL_ECON_NPARAMS]; /* entries past SL_ECON_P_BRICK + n_bricks are unused (0) */
    double scale[4];                /* ΔMPL, Δerror, ΔEP, novelty input scales (> 0) */
    int n_bricks;                   /* 0..SL_ECON_MAX_BRICKS */
    size_t n_train;                 /* outcomes it was trained on */
} sl_econ_model;

/* One recorded A/B outcome: branch features, objective, outcome in [0,1]. */
typedef struct sl_econ_record {
    double delta_mpl, delta_error, delta_ep, novelty;
    int brick_id;
    double objective[SL_OBJ_COUNT];
    double outcome;
} sl_econ_record;

/* All-zero parameters (econ = 0.5 everywhere), unit scales, n_train 0. */
void sl_econ_model_init(sl_econ_model *m, int n_bricks);
/* econ in [0,1] for one sample; non-finite inputs give SL_ERR_NAN. */
sl_status sl_econ_model_eval(const sl_econ_model *m, double delta_mpl, double delta_error,
                             double delta_ep, double novelty, int brick_id,
                             const double objective[SL_OBJ_COUNT], double *econ);
/* Mean binary cross-entropy (soft targets) + l2/2 * |params|^2; grad (may be NULL) receives
 * d loss / d params (SL_ECON_NPARAMS entries, overwritten). */
sl_status sl_econ_loss_grad(const sl_econ_model *m, const sl_econ_record *r, size_t n,
                            double l2, double *loss, double *grad);

/* --- learned component 2: the lambda controller -------------------------- */

/* lambda = max_synth_share * sigmoid(w . f + b), features f (clipped to +-10):
 *   f = [objective(4), rel(current_mpl, baseline_mpl), rel(current_error, baseline_error),
 *        rel(current_ep, baseline_ep), training_progress, data],  rel(a,b) = (a-b)/max(|b|,1e-6),
 *   data = log2(real_rows / 1000) if real_rows > 0, else 0.
 * Model files of version 1 (8 features, no data term) load with w[8] = 0. */
#define SL_LAMBDA_NFEAT 9
#define SL_LAMBDA_NPARAMS (SL_LAMBDA_NFEAT + 1) /* w[9], b */
typedef struct sl_lambda_model {
    double params[SL_LAMBDA_NPARAMS];
    size_t n_train;
    double resid_std; /* seed 002 §8.3: the record-weighted residual std of the fitted share on
                         its training records (0 = a point estimate; older files load as 0) */
} sl_lambda_model;

/* One recorded ladder / A-B run: its context, the share it used (or the best share found)
 * and a non-negative reward weighting the record in the regression (1 = plain regression). */
typedef struct sl_lambda_record {
    sl_weight_context ctx;
    double share;
    double reward;
} sl_lambda_record;

void sl_lambda_model_init(sl_lambda_model *m);
/* Feature vector of a context (SL_LAMBDA_NFEAT values). */
sl_status sl_lambda_features(const sl_weight_context *c, double *f);
sl_status sl_lambda_model_eval(const sl_lambda_model *m, const sl_weight_context *c,
                               double *lambda);
/* sum_i r_i (lambda_i - share_i)^2 / sum_i r_i + l2/2 * |w|^2 (bias not penalised). */
sl_status sl_lambda_loss_grad(const sl_lambda_model *m, const sl_lambda_record *r, size_t n,
                              double l2, double *loss, double *grad);

/* --- training (full-batch Adam in float64, deterministic) --------------- */

typedef struct sl_weight_train_cfg {
    int steps;   /* default 2000 */
    double lr;   /* default 0.05 */
    double l2;   /* default 1e-4 */
} sl_weight_train_cfg;
sl_weight_train_cfg sl_weight_train_cfg_default(void);

/* Fits the econ model from scratch: sets scales to the records' standard deviations (1 if 0),
 * n_bricks to max brick id + 1, trains, sets n_train = n. loss_before/after may be NULL. */
sl_status sl_econ_model_train(sl_econ_model *m, const sl_econ_record *r, size_t n,
                              const sl_weight_train_cfg *cfg, double *loss_before,
                              double *loss_after);
sl_status sl_lambda_model_train(sl_lambda_model *m, const sl_lambda_record *r, size_t n,
                                const sl_weight_train_cfg *cfg, double *loss_before,
                                double *loss_after);

/* --- files --------------------------------------------------------------- */

/* Models as JSON (atomic write). Load validates every field and names the bad key. */
sl_status sl_econ_model_save(const sl_econ_model *m, const char *path);
sl_status sl_econ_model_load(sl_econ_model *m, const char *path);
sl_status sl_lambda_model_save(const sl_lambda_model *m, const char *path);
sl_status sl_lambda_model_load(sl_lambda_model *m, const char *path);

/* Training records as JSON lines: {"type":"econ_outcome",...} / {"type":"lambda_outcome",...}
 * (docs/WEIGHTS.md). Append one record to an open stream. */
sl_status sl_econ_record_write(FILE *fp, const sl_econ_record *r);
sl_status sl_lambda_record_write(FILE *fp, const sl_lambda_record *r);
/* Read every record of a JSON-lines file. Lines of other types and blank lines are skipped.
 * *econ / *lam are malloc'd (caller frees; NULL when the count is 0). Either out pair may be
 * NULL to ignore that type. Errors name the file, line and key. */
sl_status sl_weight_records_read(const char *path, sl_econ_record **econ, size_t *n_econ,
                                 sl_lambda_record **lam, size_t *n_lam);

/* --- the controller ----------------------------------------------------- */

typedef struct sl_weight_ctrl sl_weight_ctrl; /* opaque */

/* A log sink receiving one JSON object per line (no trailing newline), valid during the call.
 * A non-OK return fails the compute call after the weights were computed (outputs are valid). */
typedef sl_status (*sl_weight_log_fn)(void *ctx, const char *json_line);

sl_status sl_weight_ctrl_new(sl_weight_ctrl **out);
void sl_weight_ctrl_free(sl_weight_ctrl *c);
/* Copy a model into the controller (the caller keeps its own). NULL removes it. */
void sl_weight_ctrl_set_econ_model(sl_weight_ctrl *c, const sl_econ_model *m);
void sl_weight_ctrl_set_lambda_model(sl_weight_ctrl *c, const sl_lambda_model *m);
void sl_weight_ctrl_set_min_outcomes(sl_weight_ctrl *c, size_t n);
/* Sinks (any combination). The FILE* is borrowed; the path is opened in append mode and owned
 * by the controller (closed by free or by setting another path / NULL). */
void sl_weight_ctrl_set_log_file(sl_weight_ctrl *c, FILE *fp);
sl_status sl_weight_ctrl_set_log_path(sl_weight_ctrl *c, const char *path);
void sl_weight_ctrl_set_log_callback(sl_weight_ctrl *c, sl_weight_log_fn fn, void *ctx);
/* Per-sample records on (default) or off. */
void sl_weight_ctrl_set_log_samples(sl_weight_ctrl *c, int on);

/* Compute the weights of n synthetic samples (out has n entries; may be NULL when n == 0).
 * Errors: invalid globals -> SL_ERR_ARG / SL_ERR_NAN (an error record is still logged);
 * log sink failure -> its status (weights already written). */
sl_status sl_weight_ctrl_compute(sl_weight_ctrl *c, const sl_weight_global *g,
                                 const sl_weight_sample *s, size_t n, sl_weight_out *out,
                                 sl_weight_result *res);

/* --- distributional lambda (seed 002 §8.3) and novelty ------------------------------------ */

/* lambda ~ clamp(mean + resid_std * z, 0, max_synth_share), mean = sl_lambda_model_eval, z a
 * standard normal from sl_rng(seed, stream = epoch): the mean sets the budget, the spread
 * explores around it epoch by epoch, reproducibly. mean_out / std_out may be NULL. */
sl_status sl_lambda_model_sample(const sl_lambda_model *m, const sl_weight_context *c,
                                 uint64_t seed, uint64_t epoch, double *lambda, double *mean_out,
                                 double *std_out);

/* Novelty of each synthetic branch: d_i = mean over the branch's states of the Euclidean
 * distance to the nearest real latent; d_ref = median over real latents of the distance to
 * their nearest other real latent (leave-one-out); novelty_i = d_i / (d_i + d_ref) in [0, 1)
 * (0.5: as far from the real data as real points are from each other). branches is
 * [n_branch x rows x dim], real [n_real x dim], row-major; n_real >= 2. O(n_branch rows n_real
 * dim), threads over branches; same result at any thread count. */
sl_status sl_weight_novelty(const float *branches, size_t n_branch, size_t rows,
                            const float *real, size_t n_real, size_t dim, double *novelty,
                            double *d_ref_out);

#ifdef __cplusplus
}
#endif
#endif /* SL_WEIGHT_H */
