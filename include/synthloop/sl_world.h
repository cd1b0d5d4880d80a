/* SPDX-License-Identifier: Apache-2.0 */
/* sl_world.h - the latent world model: a residual GRU ensemble over encoder latents, its
 * training schedules (teacher forcing, scheduled sampling, full-horizon BPTT), rollouts, the
 * per-horizon stability report, and the "unstable reference generator" (a one-step model run
 * free) that trust_net uses for negatives. Every statistic is defined in docs/WORLD.md.
 *
 * Model (per ensemble member m, all in standardised units: z~ = (z - z_mean) / z_std,
 * a~ = (a - a_mean) / a_std):
 *   h_{t+1}   = GRU_m([z~_t, a~_t], h_t)                 (h = 0 at the start of the context)
 *   o_{t+1}   = W_m h_{t+1} + b_m = [delta | reward | econ_1..econ_E]
 *   z~_{t+1}  = z~_t + dz_std * clip(delta) + s * sigma_m(h_{t+1}) * eps,  eps ~ N(0, I)
 *               (residual; dz_std = RMS of real one-step changes in z~ per dim;
 *               sigma_m(h) = exp(noise_logstd_m + W_s,m h + b_s,m) [z_dim] with hetero_noise
 *               (default), else exp(noise_logstd_m); learned per member through the sampled
 *               noise (reparameterisation) by the distribution-matching losses and, with
 *               hetero_noise, the one-step Gaussian NLL; s = the rollout's noise scale, by
 *               default cfg.noise_scale = 1, i.e. as trained)
 *   reward    = r_mean + r_std * o_reward
 *   econ_k    = sigmoid(o_k) for binary columns (expected events per step),
 *               e_mean_k + e_std_k * o_k otherwise
 * A rollout from a real start (episode e, step t0) first runs the GRU teacher-forced over the
 * real context z_{t0-b..t0-1}, a_{t0-b..t0-1} with b = min(burn_in, t0), then feeds its own
 * predictions back for `horizon` steps.
 *
 * Layering: world sits on nn/data/core and does not call trust_net; callers that want trust
 * scores (the eval command, the branch collector) pass a scoring callback (sl_world_score_fn).
 *
 * Ownership: every sl_world*, sl_world_data*, sl_world_rollout and array returned through an
 * out pointer is owned by the caller and released by the matching *_free (NULL is harmless).
 * sl_world_data BORROWS the dataset and latent arrays it is built from: they must outlive it.
 *
 * Reproducibility: same data + config + seed + thread count => same bits.
 */
#ifndef SL_WORLD_H
#define SL_WORLD_H

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_WORLD_MAX_ECON 6
#define SL_WORLD_MAX_HORIZON 1000
#define SL_WORLD_MAX_MEMBERS 32
#define SL_WORLD_NAME_MAX 48

/* --- enums ---------------------------------------------------------------- */

typedef enum sl_world_mode {
    SL_WORLD_MODE_TF = 0, /* teacher forcing: one-step training only */
    SL_WORLD_MODE_SS,     /* scheduled sampling: teacher-forcing prob decays linearly */
    SL_WORLD_MODE_BPTT,   /* free-running rollout of `horizon` steps, backprop through it */
    SL_WORLD_MODE_COUNT
} sl_world_mode;
/* "tf", "ss", "bptt"; NULL out of range. */
const char *sl_world_mode_name(sl_world_mode m);
sl_status sl_world_mode_parse(const char *s, sl_world_mode *out);

typedef enum sl_world_clip {
    SL_WORLD_CLIP_NONE = 0, /* delta used as is */
    SL_WORLD_CLIP_TANH,     /* c * tanh(delta / c) */
    SL_WORLD_CLIP_HARD,     /* clamp(delta, -c, c) (zero gradient outside) */
    SL_WORLD_CLIP_COUNT
} sl_world_clip;
/* "none", "tanh", "hard"; NULL out of range. */
const char *sl_world_clip_name(sl_world_clip c);
sl_status sl_world_clip_parse(const char *s, sl_world_clip *out);

/* --- configuration -------------------------------------------------------- */

typedef struct sl_world_config {
    int members;          /* ensemble size (default 5) */
    int hidden;           /* GRU width (default 128) */
    sl_world_mode mode;   /* default BPTT */
    int horizon;          /* steps fed back per training segment (default 60, capped by the
                             episode length minus the burn-in it can get) */
    float horizon_mix;    /* probability that a training step uses a random shorter segment
                             (1..horizon) instead of the full horizon (default 0.5) */
    int burn_in;          /* max teacher-forced context steps before a rollout (default 8) */
    int batch;            /* segments per member per step (default 32) */
    int max_iters;        /* optimiser steps per member (default 1500) */
    int eval_every;       /* held-out check every N steps (default 50) */
    int patience;         /* stop after N checks without improvement (default 8) */
    float lr;             /* Adam learning rate (default 2e-3) */
    float grad_clip;      /* global L2 norm per member (default 1.0; 0 = off) */
    double holdout_frac;  /* share of episodes held out for early stopping and eval (0.2) */
    float ss_start, ss_end; /* SS: teacher-forcing prob from ss_start to ss_end (1 -> 0) over
                               the first ss_frac of max_iters, then ss_end */
    float ss_frac;        /* default 0.6 */
    float w_reward;       /* reward loss weight (default 0.5) */
    float w_econ;         /* econ heads' loss weight (default 0.5) */
    float w_var;          /* variance-growth regulariser weight (default 1.0; see WORLD.md) */
    float w_dist;         /* distribution matching (per-step batch mean and std) weight (1.0) */
    float w_window;       /* per-window temporal std matching weight (the gate's std ratio;
                             default 5.0) */
    int window_prefixes;  /* 1: the window term also matches the prefixes h = 5, 10, 20, 40
                             of each segment (the horizons of world eval); default 1 */
    float w_rough;        /* per-dim step-energy matching weight (roughness: mean squared
                             one-step change of the sample against the real one; default 10) */
    sl_world_clip clip;   /* residual clipping (default tanh) */
    float clip_value;     /* c, in units of dz_std (default 4) */
    int bootstrap;        /* 1: each member trains on a bootstrap resample of the training
                             episodes (default 1) */
    float noise_scale;    /* default multiplier s of the learned noise in rollouts (default 1) */
    int learn_noise;      /* 1: learn sigma (default); 0: sigma = 0, a deterministic model */
    int hetero_noise;     /* 1: state-dependent sigma, log sigma_j(h) = noise_logstd_j +
                             (W_s h + b_s)_j from the GRU state (needs learn_noise; default);
                             0 = one sigma per dim (the recipe before 2026-12-04) */
    float w_nll;          /* hetero_noise only: weight of the Gaussian NLL of the one-step
                             residuals of teacher-forced steps (default 1) */
    int n_econ;           /* econ heads (default: those of unit_done, error_event, energy_wh
                             present in the data) */
    char econ_names[SL_WORLD_MAX_ECON][SL_WORLD_NAME_MAX];
    uint64_t seed;
} sl_world_config;

/* Defaults above with the three econ column names listed. */
void sl_world_config_default(sl_world_config *c);
/* Range checks; SL_ERR_ARG names the field. */
sl_status sl_world_config_validate(const sl_world_config *c);
/* Config as JSON (for metadata and reports); caller deletes. */
cJSON *sl_world_config_json(const sl_world_config *c);

/* --- data: dataset rows + aligned latents ---------------------------------- */

typedef struct sl_world_data {
    size_t n, n_episodes;
    int z_dim, a_dim;
    const float *z;        /* [n, z_dim] latents of observations (borrowed) */
    const float *z_next;   /* [n, z_dim] latents of next observations (borrowed) */
    const float *actions;  /* [n, a_dim] (borrowed from the dataset) */
    const float *rewards;  /* [n] (borrowed) */
    int n_econ;
    const float *econ[SL_WORLD_MAX_ECON]; /* [n] step columns (borrowed) */
    char econ_names[SL_WORLD_MAX_ECON][SL_WORLD_NAME_MAX];
    size_t *ep_start;      /* [n_episodes + 1] row offsets (owned) */
    double step_seconds;   /* control step length: ep_sim_seconds / steps if present, else 0.1 */
    const sl_dataset *ds;  /* borrowed */
} sl_world_data;

/* Read "latents" [n, z] and "next_latents" [n, z] (f4) from an encoder NPZ. *z and *z_next are
 * malloc'd (caller frees). If next_latents is absent it is derived within episodes only when
 * `ds` is given (last step of an episode: error). Errors name the file and the key. */
sl_status sl_world_load_latents(const char *path, const sl_dataset *ds, float **z,
                                float **z_next, size_t *n, int *z_dim);

/* Bind a dataset and latents of the same length. Fails with SL_ERR_SHAPE if n differs
 * ("latents have N rows, dataset has M"), SL_ERR_ARG for an empty episode or dataset,
 * SL_ERR_NAN for a non-finite latent (names the row). econ_names (may be NULL, n_econ 0)
 * lists step columns to predict; a missing column fails with SL_ERR_NOTFOUND. */
sl_status sl_world_data_init(sl_world_data *d, const sl_dataset *ds, const float *z,
                             const float *z_next, int z_dim,
                             const char (*econ_names)[SL_WORLD_NAME_MAX], int n_econ);
void sl_world_data_clear(sl_world_data *d);
/* Length of episode e. */
size_t sl_world_data_ep_len(const sl_world_data *d, size_t e);

/* --- model ---------------------------------------------------------------- */

typedef struct sl_world sl_world; /* opaque */

typedef struct sl_world_train_report {
    int iters;             /* optimiser steps taken per member */
    int best_iter;         /* step of the kept parameters */
    double train_loss;     /* last training loss (mean over members) */
    double best_val;       /* best held-out score (free-running MSE, see WORLD.md) */
    int stopped_early;     /* 1 if patience ran out */
    double seconds;
} sl_world_train_report;

/* Train a new model on `d` (the held-out split is drawn from cfg->seed and stored in the
 * model). Returns SL_ERR_DIVERGED (nothing returned) if a loss or a rollout becomes
 * non-finite or explodes. rep may be NULL. *out owned by the caller. */
sl_status sl_world_train(sl_world **out, const sl_world_data *d, const sl_world_config *cfg,
                         sl_world_train_report *rep);
void sl_world_free(sl_world *w);

/* Checkpoint: safetensors with "m<i>.<tensor>" per member and "norm.*" statistics; config,
 * econ columns, held-out episodes and provenance in __metadata__. `extra` (may be NULL) adds
 * string/number members to the metadata. Refuses (SL_ERR_NAN) to write non-finite values. */
sl_status sl_world_save(const sl_world *w, const char *path, const cJSON *extra);
sl_status sl_world_load(sl_world **out, const char *path);

const sl_world_config *sl_world_get_config(const sl_world *w);
int sl_world_z_dim(const sl_world *w);
/* Held-out episodes of the training data (owned by w). */
const size_t *sl_world_holdout(const sl_world *w, size_t *n);

/* Latent-sphere projection (inference only). The encoder's latents lie on the sphere
 * {z : ||z * std + mean|| = 1} (sl_latent_z_norm). With a sphere attached, every rollout step
 * maps the predicted z back onto it: u = z * std + mean, u /= ||u||, z = (u - mean) / std.
 * Free-running models drift inside the sphere (||u|| fell to 0.94 by h = 10 on the workcell),
 * which shrinks the latents' spread; the projection removes that drift without retraining.
 * Copies mean/std ([z_dim] each, finite, std > 0); NULL mean detaches. The sphere is saved
 * with the model (tensors "sphere.mean", "sphere.std") and loaded back. */
sl_status sl_world_set_sphere(sl_world *w, const float *mean, const float *std);
int sl_world_has_sphere(const sl_world *w);
/* Check that d matches the model's dimensions and econ columns (SL_ERR_SHAPE otherwise). */
sl_status sl_world_check_data(const sl_world *w, const sl_world_data *d);

/* --- rollouts ------------------------------------------------------------- */

/* Action source for rollouts: fill actions[n, a_dim] (raw units) for latents z[n, z_dim] (raw
 * units). rng is the rollout's generator (for exploration noise). */
typedef sl_status (*sl_world_policy_fn)(void *ctx, const float *z, int n, float *actions,
                                        sl_rng *rng);

typedef struct sl_world_rollout_opts {
    int horizon;            /* steps to generate (>= 1) */
    int use_real_actions;   /* 1: actions of the real continuation (needs t0 + horizon <= len) */
    sl_world_policy_fn policy; /* used when use_real_actions == 0 */
    void *policy_ctx;
    float noise;            /* noise scale s: multiplies the learned sigma (0: deterministic;
                               < 0: the model's cfg.noise_scale) */
    uint64_t seed;          /* noise (one stream per member and start row, so the bits do not
                               depend on the thread count) and policy stream */
} sl_world_rollout_opts;

/* Outputs of a rollout from n real starts; every member runs every start. */
typedef struct sl_world_rollout {
    int members, n, horizon, z_dim, a_dim, n_econ;
    float *z;        /* [members, n, horizon + 1, z_dim]; step 0 is the real start */
    float *a;        /* [members, n, horizon, a_dim] actions taken */
    float *reward;   /* [members, n, horizon] */
    float *econ;     /* [members, n, horizon, n_econ] predicted per-step econ events */
    uint8_t *ok;     /* [members, n] 0 if the trajectory went non-finite or exploded
                        (|z~| > 1e4); its arrays are then zero from the first bad step */
} sl_world_rollout;

/* Roll every member out from the real starts rows[i] (dataset rows) of d. */
sl_status sl_world_rollout_run(const sl_world *w, const sl_world_data *d, const size_t *rows,
                               int n, const sl_world_rollout_opts *o, sl_world_rollout *out);
void sl_world_rollout_free(sl_world_rollout *r);

/* Unstable-reference / generic window generator: `n` windows [n, horizon + 1, z_dim] (raw
 * latent units) from random real starts (episode e with len >= horizon; t0 uniform in
 * [0, len - horizon]; the window's last state is the model's prediction of z_{t0+horizon}), member chosen round-robin, real actions. Non-finite or exploded
 * windows are dropped and replaced by new draws (after 10 * n failed draws: SL_ERR_DIVERGED).
 * For the seed-001 reference use a model trained with mode tf (optionally noise > 0).
 * *windows is malloc'd (caller frees). starts_out (may be NULL) receives [n] start rows. */
sl_status sl_world_generate_windows(const sl_world *w, const sl_world_data *d, int horizon,
                                    size_t n, float noise, uint64_t seed, float **windows,
                                    size_t *starts_out);

/* --- stability report ----------------------------------------------------- */

/* Trust scorer: p(real) in [0,1] for n windows [n, T, z_dim] (raw latent units). */
typedef sl_status (*sl_world_score_fn)(void *ctx, const float *windows, size_t n, int T,
                                       int z_dim, double *p_out);

#define SL_WORLD_EVAL_MAX_H 16

typedef struct sl_world_eval_config {
    int n_h;
    int horizons[SL_WORLD_EVAL_MAX_H];   /* default 5, 10, 20, 40, 60 */
    double floors[SL_WORLD_EVAL_MAX_H];  /* trust floor per horizon: 0.95, 0.9, 0.85, 0.85, 0.85 */
    int start_stride;                    /* starts t0 = 0, s, 2s, ... <= len - h (default 5) */
    float noise;                         /* rollout noise scale (default -1: the model's) */
    int detect_folds;                    /* k-fold for the detection AUC (default 5; 0 = skip) */
    uint64_t seed;
} sl_world_eval_config;
void sl_world_eval_config_default(sl_world_eval_config *c);

typedef struct sl_world_eval_row {
    int h;
    size_t n_starts;
    double mse;              /* mean over starts, steps 1..h, dims of (z_syn - z_real)^2 */
    double std_ratio;        /* sqrt(sum over starts, dims of var_t(syn[0..h, d]) / same for
                                real), ddof 0: sl_trust_std_ratio_pooled's formula */
    double var_growth;       /* sl_stats_variance_growth over steps 0..h, eps 1e-6 */
    double var_growth_real;  /* same for the real continuations */
    double trust_mean, trust_min, trust_pass_rate, trust_floor; /* NAN when no scorer */
    double trust_real_mean, trust_real_pass_rate; /* the same for the real windows (baseline) */
    double disagreement;     /* mean over starts, steps, dims of the std across members */
    double detect_auc;       /* out-of-fold ROC-AUC of a logistic-regression detector */
    size_t n_bad;            /* rollouts that went non-finite (counted as failures) */
} sl_world_eval_row;

/* Evaluate from the starts of `episodes` (NULL: the model's held-out episodes; if those do not
 * exist in d, all episodes). score may be NULL (trust fields NAN). rows[cfg->n_h]. */
sl_status sl_world_evaluate(const sl_world *w, const sl_world_data *d, const size_t *episodes,
                            size_t n_episodes, const sl_world_eval_config *cfg,
                            sl_world_score_fn score, void *score_ctx, sl_world_eval_row *rows);
/* {"horizons": [...]} body for rows (caller adds provenance and config); caller deletes. */
cJSON *sl_world_eval_json(const sl_world_eval_row *rows, int n);

/* Detection test: out-of-fold AUC of an L2-regularised logistic regression telling real from
 * synthetic windows [n, T, z_dim] by per-dim mean, std and mean |step change| features,
 * `folds`-fold over pairs (real i and synthetic i in the same fold). n >= folds >= 2. */
sl_status sl_world_detect_auc(const float *real, const float *syn, size_t n, int T, int z_dim,
                              int folds, uint64_t seed, double *auc);

#ifdef __cplusplus
}
#endif
#endif /* SL_WORLD_H */
