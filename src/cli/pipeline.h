/* SPDX-License-Identifier: Apache-2.0 */
/* pipeline.h - glue shared by the commands that combine stages (train, ab, ladder, demo):
 * loading real transitions in latent space, loading branch files and weighting them with the
 * SyntheticWeightController, and mapping environment observations through the encoder.
 * Internal to the command layer. */
#ifndef SL_CLI_PIPELINE_H
#define SL_CLI_PIPELINE_H

#include "synthloop/sl_ab.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_weight.h"
#include "synthloop/sl_synth.h"

/* Real transitions in latent space: obs = z, next_obs = next_z, done = terminals. Owns its
 * arrays (pl_real_free). */
typedef struct pl_real {
    sl_transitions t;
    sl_dataset *ds;
    float *z, *next_z, *rew, *done;
    int32_t *episode;
} pl_real;
sl_status pl_real_load(pl_real *r, const char *data_path, const char *latents_path);
void pl_real_free(pl_real *r);

/* How synthetic branches are weighted. */
typedef enum pl_weighting {
    PL_WEIGHT_CONTROLLER = 0, /* gates (passed flag) + SyntheticWeightController */
    PL_WEIGHT_UNGATED,        /* every finite branch, equal weight for the target share */
    PL_WEIGHTING_COUNT
} pl_weighting;
const char *pl_weighting_name(pl_weighting w);
sl_status pl_weighting_parse(const char *s, pl_weighting *out);

/* Synthetic transitions built from a branches NPZ (branch_states/actions/rewards; every
 * branch contributes its H transitions, all with the branch's weight). Owns its arrays. */
typedef struct pl_synth {
    sl_transitions t;
    float *obs, *act, *rew, *next, *done, *weight;
    size_t n_branches, n_passed;
    int horizon;
    sl_weight_result wres; /* controller result (PL_WEIGHT_CONTROLLER) */
    double share;          /* share requested */
    int certified;         /* the file holds a generator certificate */
    double cert_min, cert_max; /* its std-ratio range over horizons (1, 1 when absent) */
    /* per-branch econ features of the passed branches (for --record-outcomes) */
    double *rec_dm, *rec_de, *rec_dp;
    int32_t *rec_brick;
    size_t n_rec;
    sl_weight_context ctx; /* the controller's global context of this batch */
} pl_synth;

typedef struct pl_synth_opts {
    pl_weighting mode;
    double share;         /* target synthetic share of the training weight (e.g. 0.1) */
    double max_share;     /* hard cap (controller), default 0.4 */
    double min_trust;     /* trust floor (controller), default 0.9 */
    double min_pass_rate; /* generator rail (controller): batch pass-rate floor, default 0.1 */
    double generator_band_lo, generator_band_hi; /* certificate rail band, default [0.8, 1.2];
                                                    0 / 0 = off */
    const char *log_path; /* JSON-lines log of the controller, may be NULL */
    /* learned components (phase 2 once each has >= min_outcomes records; NULL = none) */
    const char *econ_model_path, *lambda_model_path;
    long min_outcomes;          /* < 0: the library's default (SL_WEIGHT_MIN_OUTCOMES) */
    const char *record_path;    /* ab: append econ / lambda outcome records here (JSON lines) */
    sl_registry *reg;     /* weight rows recorded here when non-NULL */
    int64_t run_id;
} pl_synth_opts;
void pl_synth_opts_default(pl_synth_opts *o);
/* --generator-band: "LO,HI" (0 <= LO <= HI), a gate preset name (normal [0.8, 1.2],
 * conservative [0.9, 1.1], aggressive [0.7, 1.3]) or "off". 0, or a usage error and 2. */
int pl_parse_generator_band(const char *cmd, const char *s, pl_synth_opts *o);

/* The controller options that `ab` and `train` share, as getopt_long entries (put
 * PL_SYNTH_LONG_OPTS into the command's option table) and their parser: 0 when c was one of
 * them and was stored in *o, 2 after a usage error, -1 when c is not one of them. */
enum { PL_OPT_ECON_MODEL = 1001, PL_OPT_LAMBDA_MODEL, PL_OPT_MIN_OUTCOMES };
#define PL_SYNTH_LONG_OPTS                                                                      \
    {"synth-weight", 1, 0, 'w'}, {"weighting", 1, 0, 'W'}, {"min-trust", 1, 0, 't'},            \
    {"min-pass-rate", 1, 0, 'P'}, {"generator-band", 1, 0, 'G'}, {"max-share", 1, 0, 'm'},      \
    {"econ-model", 1, 0, PL_OPT_ECON_MODEL}, {"lambda-model", 1, 0, PL_OPT_LAMBDA_MODEL},        \
    {"min-outcomes", 1, 0, PL_OPT_MIN_OUTCOMES}
int pl_parse_synth_option(const char *cmd, int c, const char *arg, pl_synth_opts *o);

/* "  generator std ratio (held-out starts, real actions): h5 1.001 h10 ..." on stdout. */
void pl_print_certificate(const char *indent, const sl_synth_certificate *c);

/* Outcome of an A/B in [0, 1] for the learned components' records: 0.5 + 0.5 tanh(score/0.1),
 * score = (relative MPL gain + relative error-rate drop) / 2 when both were measured in
 * physics, else the relative drop of held-out action MSE. */
double pl_ab_outcome_score(const sl_ab_outcome *out);
/* Append two lambda_outcome records (the batch's context; share 0 with reward 0.5 for the
 * baseline arm, `share` with reward y for the augmented arm) and one econ_outcome per passed
 * branch (its deltas and brick, outcome y) to path. */
sl_status pl_record_outcomes(const char *path, const pl_synth *syn, double share, double y);

/* n_real_weight: total weight of the real training rows (for the controller's budget). */
sl_status pl_synth_load(pl_synth *s, const char *branches_path, size_t n_real_weight,
                        const pl_synth_opts *o);
void pl_synth_free(pl_synth *s);

/* Config of an A/B run as JSON (caller deletes). */
cJSON *pl_ab_config_json(const sl_ab_config *cfg, const pl_synth_opts *so, const char *data,
                         const char *latents, const char *encoder, const char *synth);

/* Load data, latents, encoder (may be NULL: no physics evaluation), branches (may be NULL:
 * A/A), run sl_ab_run with a progress bar, record curves / A-B row into reg (may be NULL)
 * and return the outcome and its JSON (with provenance; caller deletes). */
sl_status pl_ab_execute(const sl_ab_config *cfg, const pl_synth_opts *so, const char *data,
                        const char *latents, const char *encoder, const char *synth_path,
                        sl_registry *reg, int64_t run_id, sl_ab_outcome *out, cJSON **json);

/* --- the horizon ladder (ladder.c) --- */
#include "synthloop/sl_trust.h"
#define PL_LADDER_LEVELS 5
typedef struct pl_ladder_level {
    int horizon;
    double min_trust;
    int branches_per_episode;
    double synth_weight;
    sl_gate_preset band;
    double min_pass_rate; /* >= 0.999 means "all branches" */
    double mse_tol;       /* augmented action MSE at most this much worse (relative) */
} pl_ladder_level;
extern const pl_ladder_level pl_ladder_table[PL_LADDER_LEVELS];

typedef struct pl_ladder_opts {
    const char *data, *latents, *encoder, *world, *trust, *bricks, *out_dir;
    int max_level;
    sl_ab_config ab;
    uint64_t seed;
    int threads; /* compute threads the caller set with sl_nn_set_threads (0 = all cores) */
    int level1_real; /* 0: level 1 needs every branch's trust >= its floor (seed 000, default);
                        1: a share of branches at least the real windows' own share at that
                        floor (the same window length, every real episode) */
} pl_ladder_opts;
void pl_ladder_opts_default(pl_ladder_opts *o);
/* The options as the run's config; "threads" is the count in effect (sl_nn_get_threads). */
cJSON *pl_ladder_opts_json(const pl_ladder_opts *o);
/* Climb levels 1..max_level; *out (caller deletes) holds levels, practical_horizon,
 * brick_horizons and provenance. Branch files go to out_dir. */
sl_status pl_ladder_run(const pl_ladder_opts *o, sl_registry *reg, int64_t run_id, cJSON **out);
void pl_ladder_print(const cJSON *res);

/* sl_obs_map_fn over an sl_latent_encoder* (ctx). */
sl_status pl_encoder_map(void *ctx, const float *obs, float *state);

/* Progress bar adaptor for sl_ab_run (ctx is an sl_progress*). */
void pl_ab_progress(void *ctx, int arm, int seed_idx, int update, int total);

#endif
