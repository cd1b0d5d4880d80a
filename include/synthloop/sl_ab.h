/* SPDX-License-Identifier: Apache-2.0 */
/* sl_ab.h - the A/B experiment: baseline (real only) against augmented (real + weighted
 * synthetic), each trained over the same seeds, evaluated by action MSE on held-out real data
 * and by running each FINAL policy (never the best checkpoint) in the physics environment.
 *
 * Per seed s, both arms use the same agent seed, the same held-out split and the same
 * evaluation episode seeds, so the arms differ only in the synthetic data they saw.
 * Aggregates per metric: mean and 95% CI per arm (Student t; percentile bootstrap for metrics
 * with a natural bound, so that a rate's interval stays in [0, 1] and MPL's above 0), and the
 * paired decision sl_stats_ab_decide (equivalence, harm and value tests with power; Welch's
 * test is kept in the JSON for comparison). The headline is decided over the key metrics:
 * MPL and error rate when the policies ran in physics, action MSE otherwise (then the run is
 * marked offline_only and its verdict is not a statement about the policy in the world);
 * when the environment's task defines no units (sl_env_has_units 0: docs/TASKS.md), MPL,
 * error rate and EP are absent (summary[m].absent, no numbers in the JSON or the tables) and
 * the key metric is the task's own return:
 *   any key metric POISONING -> POISONING; else any MINOR_DEGRADATION -> MINOR_DEGRADATION;
 *   else any VALUE -> VALUE; else all NO_HARM -> NO_HARM; else INCONCLUSIVE with the largest
 *   seeds_needed of the undecided key metrics.
 * With until_decided, seed pairs are added one at a time after the first `seeds` until the
 * headline is decided or max_seeds is reached; look k uses the spent level
 * sl_stats_seq_alpha (docs/STATISTICS.md).
 *
 * Learning-curve cliffs: every `curve_every` updates the held-out action MSE is recorded; a
 * cliff is a checkpoint whose MSE exceeds the previous checkpoint's by more than
 * `cliff_frac` (relative), after the first quarter of training. Counted per arm and seed.
 *
 * Ownership: results are plain structs owned by the caller; sl_ab_result_free releases their
 * arrays. Inputs are borrowed for the duration of the call.
 */
#ifndef SL_AB_H
#define SL_AB_H

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_env.h"
#include "sl_rl.h"
#include "sl_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Transitions in the agent's state space (borrowed arrays). */
typedef struct sl_transitions {
    size_t n;
    int obs_dim, act_dim;
    const float *obs, *act, *rew, *next_obs, *done; /* done may be NULL (all 0) */
    const float *weight;                            /* may be NULL (all 1) */
    const int32_t *episode;                         /* [n] episode of each row, may be NULL */
} sl_transitions;

/* Maps an environment observation to the agent's state (e.g. the latent encoder).
 * NULL map = identity (obs_dim must then equal the agent's obs_dim). */
typedef sl_status (*sl_obs_map_fn)(void *ctx, const float *obs, float *state);

typedef struct sl_ab_config {
    sl_rl_config rl;     /* obs/act dims are set from the data */
    int updates;         /* gradient updates per arm and seed */
    int seeds;           /* number of seeds (>= 2 for a CI) */
    uint64_t seed;       /* base seed; arm seeds are seed + i */
    int eval_episodes;   /* episodes per policy in the environment */
    double holdout_frac; /* fraction of real episodes held out for action MSE (0.2) */
    int curve_every;     /* updates between learning-curve points (0 = updates / 20) */
    double cliff_frac;   /* relative jump that counts as a cliff (0.5) */
    sl_ab_thresholds th; /* verdict thresholds */
    int until_decided;   /* 1: sequential design, add seed pairs until decided */
    int max_seeds;       /* cap for until_decided (>= seeds) */
    /* A second augmented arm against the same baseline (e.g. the demo's gated generator and
     * an ungated poisoned one): pass the first run's outcome here and the baseline of each
     * seed is copied from it instead of being retrained. It must come from the same config,
     * real data and seed (the copy is what retraining would give, bit for bit); seed pairs
     * beyond its count are trained here. NULL = train the baseline. Borrowed. */
    const struct sl_ab_outcome *baseline_of;
} sl_ab_config;

sl_ab_config sl_ab_config_default(void);

enum { SL_AB_BASE = 0, SL_AB_AUG = 1, SL_AB_ARMS = 2 };

typedef enum sl_ab_metric {
    SL_ABM_ACTION_MSE = 0,
    SL_ABM_MPL,
    SL_ABM_ERROR_RATE,
    SL_ABM_EP,
    SL_ABM_RETURN,
    SL_ABM_COUNT
} sl_ab_metric;
const char *sl_ab_metric_name(sl_ab_metric m);
sl_direction sl_ab_metric_direction(sl_ab_metric m);
/* 1 if the metric has a natural bound (error rate in [0,1]; MPL, EP, action MSE >= 0). */
int sl_ab_metric_bounded(sl_ab_metric m);

typedef struct sl_ab_metric_summary {
    sl_ci ci[SL_AB_ARMS];  /* per arm mean and 95% CI over seeds */
    sl_welch welch;        /* augmented vs baseline */
    sl_ab_result verdict;  /* the decision's verdict, change and p (kept for older callers) */
    sl_ab_decision dec;    /* paired decision (n >= 2) */
    int bounded;           /* 1: the per-arm CIs are percentile bootstrap */
    int valid;             /* 0 if the statistic could not be computed (e.g. baseline 0) */
    int absent;            /* 1: the metric does not exist for this task (no units): valid 0 */
} sl_ab_metric_summary;

typedef struct sl_ab_outcome {
    int seeds;
    double *per_seed[SL_AB_ARMS][SL_ABM_COUNT]; /* [seeds] each, owned */
    int *cliffs[SL_AB_ARMS];                    /* [seeds], owned */
    int curve_points;
    double *curve[SL_AB_ARMS];                  /* [seeds * curve_points] held-out MSE */
    int *curve_step;                            /* [curve_points] */
    sl_ab_metric_summary summary[SL_ABM_COUNT];
    sl_ab_verdict headline;                     /* see the header comment */
    long seeds_needed;                          /* headline INCONCLUSIVE: pairs for power 0.8 */
    int offline_only;                           /* no physics evaluation: action MSE only */
    int no_units;                               /* 1: the task defines no units (set by
                                                 * sl_ab_run from the environment): MPL, error
                                                 * rate and EP absent, return is the key */
    int looks;                                  /* sequential looks taken (1 without) */
    double alpha_last;                          /* the level of the last look */
    double synth_share;                         /* synthetic weight share in the aug buffer */
    size_t n_real_train, n_real_holdout, n_synth;
} sl_ab_outcome;

/* (Re)compute o->summary[] and o->headline from o->per_seed (o->seeds values per arm and
 * metric) with cfg's thresholds and eval_episodes; what sl_ab_run does at its end. Exposed so
 * that the verdict rules can be tested on given per-seed numbers. */
void sl_ab_summarise(const sl_ab_config *cfg, sl_ab_outcome *o);
/* The same at an explicit level (a sequential look's spent alpha; <= 0: cfg->th.alpha). */
void sl_ab_summarise_at(const sl_ab_config *cfg, sl_ab_outcome *o, double alpha);

/* Progress callback: (ctx, arm, seed index, update, total updates). May be NULL. */
typedef void (*sl_ab_progress_fn)(void *ctx, int arm, int seed_idx, int update, int total);

/* Run the experiment. `real` must carry episode ids (for the held-out split). `synth` may have
 * n == 0 (then the augmented arm equals the baseline and the verdict is no_harm). env is reset
 * with seeds derived from cfg->seed for evaluation. */
sl_status sl_ab_run(const sl_ab_config *cfg, const sl_transitions *real,
                    const sl_transitions *synth, sl_env *env, sl_obs_map_fn map, void *map_ctx,
                    sl_ab_progress_fn progress, void *progress_ctx, sl_ab_outcome *out);
void sl_ab_outcome_free(sl_ab_outcome *o);

/* The outcome as JSON (arms, per-seed values, CIs, Welch, verdicts, cliffs, curves). */
cJSON *sl_ab_outcome_to_json(const sl_ab_outcome *o, const sl_ab_config *cfg);

/* Evaluate one policy for `episodes` episodes (reset seeds seed, seed+1, ...): mean MPL,
 * error rate, EP and return over the episodes. Any of the out pointers may be NULL. */
sl_status sl_ab_eval_policy(sl_agent *agent, sl_env *env, sl_obs_map_fn map, void *map_ctx,
                            int episodes, uint64_t seed, double *mpl, double *error_rate,
                            double *ep, double *ret);

#ifdef __cplusplus
}
#endif
#endif
