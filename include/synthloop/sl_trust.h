/* SPDX-License-Identifier: Apache-2.0 */
/* sl_trust.h - trust_net (a calibrated p(real) for latent windows) and the gates.
 *
 * A window is a [T, D] block of latents (row-major, T >= 2 steps of D dims), e.g. one
 * synthetic branch, or T consecutive real steps of an episode.
 *
 * Window features (seed 001), computed in float64, for every dim d over the T steps:
 *   mean, std (ddof 0), min, max, var (ddof 0), smoothness = mean |z[t+1]-2z[t]+z[t-1]|
 *   (0 when T = 2), change = mean |z[t+1]-z[t]|,
 * laid out feature-major ([mean_0..mean_{D-1}, std_0.., ...]) plus one last feature log(T),
 * so F = 7 D + 1. The model standardises them with the mean/std of its real training windows
 * and clamps the result to [-SL_TRUST_FEAT_CLAMP, +SL_TRUST_FEAT_CLAMP], so that every finite
 * window gets a finite score.
 *
 * Architectures:
 *   SL_TRUST_ARCH_MLP       features -> MLP (LayerNorm, ReLU) -> logit
 *   SL_TRUST_ARCH_TEMPORAL  per step [ (z_t - mu)/sigma , (z_t - z_{t-1})/sigma_dz ] (0 at t=0)
 *                           -> GRU -> last hidden -> Linear -> logit
 * Both end in Platt calibration: p(real) = sigmoid(a * logit + b), with a, b fitted on
 * held-out calibration windows (Platt's smoothed targets, so a stays finite even when the
 * held-out windows are perfectly separated).
 *
 * Training (sl_trust_train): real windows (label 1) of lengths drawn from cfg->lengths, cut
 * at random from the real episodes, against negatives (label 0) of the enabled kinds:
 *   NOISE    real window + N(0, (noise_scale * s_d)^2), s_d = real per-dim std
 *   INFLATE  window mean + f * (window - window mean), f ~ U[inflate_lo, inflate_hi]
 *   DRIFT    real window + random walk, steps N(0, (drift_scale * s_d)^2)
 *   EXTERNAL windows cut from caller-supplied negative sequences (e.g. a one-step-trained
 *            world model run free)
 * Episodes are split (by the seed) into train / calibration / test; the report's numbers
 * come from the test episodes only. Same seed + config + thread count => same bits.
 *
 * Gates (seed 000): a branch passes when trust >= trust_floor and
 * ratio_lo <= std_ratio <= ratio_hi (both edges inclusive). Checks in order, first failure
 * wins: NaN trust or NaN ratio -> NONFINITE; trust < floor -> LOW_TRUST;
 * ratio < lo -> STD_LOW; ratio > hi -> STD_HIGH.
 *
 * Std ratio of a branch (docs/TRUST.md): the branch window B [T, D] is compared with the real
 * latents R [T, D] over the same start state and the same steps:
 *   ratio = sqrt( sum_d var_t(B[:, d]) / sum_d var_t(R[:, d]) )      (ddof 0)
 * i.e. the ratio of the root-mean-square per-dimension temporal stds. Pooled over many
 * branches (sl_trust_std_ratio_pooled) the sums run over all branches.
 *
 * Non-finite windows: sl_trust_score_windows returns NaN trust for a window holding NaN/Inf
 * (and SL_OK), so the gate rejects it with reason "non-finite"; it is never scored as a number.
 *
 * Checkpoint (safetensors): network tensors ("mlp.*" or "gru.*", "head.*"), "feat_mean",
 * "feat_std" [F] (MLP) or "z_mean", "z_std", "dz_std" [D] (temporal); __metadata__
 * "synthloop_kind" = "trust_net" and "config" = JSON text {arch, z_dim, hidden, n_hidden,
 * lengths, platt_a, platt_b, seed, ...}.
 *
 * Ownership: models come from sl_trust_train / sl_trust_load and go to sl_trust_free (NULL
 * harmless). Every output buffer is the caller's. A model is read-only once trained, except
 * for internal scratch: do not score with one model from two threads at the same time.
 */
#ifndef SL_TRUST_H
#define SL_TRUST_H

#include <cjson/cJSON.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_TRUST_FEAT_CLAMP 1.0e4
#define SL_TRUST_MAX_LENGTHS 16

/* --- features ------------------------------------------------------------------ */

/* Number of window features for D dims: 7 D + 1. */
int sl_trust_n_features(int D);
/* feat[F] <- window [T, D] (layout above). T >= 2, D >= 1. SL_ERR_NAN if the window holds
 * NaN/Inf (feat then unspecified). */
sl_status sl_trust_features(const float *window, int T, int D, double *feat);

/* --- model ------------------------------------------------------------------------ */

typedef enum sl_trust_arch {
    SL_TRUST_ARCH_MLP = 0,
    SL_TRUST_ARCH_TEMPORAL,
    SL_TRUST_ARCH_COUNT
} sl_trust_arch;
/* "mlp", "temporal"; NULL when out of range. */
const char *sl_trust_arch_name(sl_trust_arch a);
sl_status sl_trust_arch_parse(const char *name, sl_trust_arch *out);

/* Kinds of training/evaluation windows. */
typedef enum sl_trust_kind {
    SL_TRUST_KIND_REAL = 0,
    SL_TRUST_KIND_NOISE,
    SL_TRUST_KIND_INFLATE,
    SL_TRUST_KIND_DRIFT,
    SL_TRUST_KIND_EXTERNAL,
    SL_TRUST_KIND_COUNT
} sl_trust_kind;
/* "real", "noise", "inflate", "drift", "external"; NULL when out of range. */
const char *sl_trust_kind_name(sl_trust_kind k);

typedef struct sl_trust_config {
    sl_trust_arch arch;     /* default MLP */
    int hidden;             /* hidden width (default 128; TEMPORAL 32) */
    int n_hidden;           /* MLP hidden layers (default 2); ignored by TEMPORAL (1 GRU) */
    int n_lengths;          /* window lengths to sample (default 6: 5 10 20 30 40 60) */
    int lengths[SL_TRUST_MAX_LENGTHS];
    int steps;              /* Adam updates (default 3000; TEMPORAL 600) */
    int batch;              /* windows per update, half real and half negative (default 128) */
    float lr;               /* default 1e-3 */
    double calib_frac;      /* fraction of episodes for calibration (default 0.15) */
    double test_frac;       /* fraction of episodes for the report (default 0.15) */
    int use_noise, use_inflate, use_drift;  /* built-in negatives (default: noise only, the
                             * kinds issue 4 names; inflate and drift overlap real windows,
                             * see docs/TRUST.md) */
    int position_features;  /* MLP: 1 = use the per-dim mean/min/max blocks (default 1);
                             * 0 = feed them as 0, so that the score depends only on a
                             * window's shape (std, var, smoothness, change, length), not
                             * on where in latent space it lies */
    double noise_scale;     /* default 0.5 */
    double inflate_lo, inflate_hi;           /* default 1.5, 2.0 */
    double drift_scale;     /* default 0.25 */
    int eval_windows;       /* windows per kind in the calibration and the test sets (400) */
    uint64_t seed;          /* default 0 */
} sl_trust_config;

/* Defaults for the MLP (the values above). */
sl_trust_config sl_trust_config_default(void);
/* Defaults for an architecture: TEMPORAL gets hidden 32 and 600 steps (a GRU step costs
 * far more than an MLP step), everything else as sl_trust_config_default. */
sl_trust_config sl_trust_config_default_arch(sl_trust_arch arch);
/* SL_ERR_ARG naming the first bad field. */
sl_status sl_trust_config_check(const sl_trust_config *cfg);

typedef struct sl_trust_model sl_trust_model; /* opaque */

/* Held-out results of training (test episodes and the test part of the negatives). */
typedef struct sl_trust_report {
    size_t n_episodes[3];            /* train, calibration, test */
    size_t n_test_windows;
    double train_loss_first;         /* mean BCE over the first 10% of updates */
    double train_loss_last;          /* mean BCE over the last 10% of updates */
    double platt_a, platt_b;
    double auc;                      /* ROC-AUC real vs all negatives (calibration-invariant) */
    double brier_raw, brier;         /* before / after calibration */
    double ece_raw, ece;             /* 10 equal-width bins, before / after */
    double mean_trust[SL_TRUST_KIND_COUNT]; /* calibrated; 0 when n_kind is 0 */
    size_t n_kind[SL_TRUST_KIND_COUNT];     /* test windows per kind */
    /* per window length of the test set (ascending): calibrated pass rates at the floors of
     * seed 000's levels, for real windows (should be high) and for negatives (false accepts) */
    int n_len;
    int len[SL_TRUST_MAX_LENGTHS];
    size_t n_real_len[SL_TRUST_MAX_LENGTHS], n_neg_len[SL_TRUST_MAX_LENGTHS];
    double real_pass_len[SL_TRUST_MAX_LENGTHS][3];  /* trust >= 0.95, 0.90, 0.85 */
    double neg_pass_len[SL_TRUST_MAX_LENGTHS][3];
    double seconds;                  /* wall time (informational) */
} sl_trust_report;

/* Train trust_net.
 *   real_z [n, D]: real latents; episode_ids [n]: contiguous, non-decreasing (as a dataset).
 *   neg_z [neg_rows, D] with neg_offsets [n_neg + 1] (sequence i is rows
 *   neg_offsets[i] .. neg_offsets[i+1]-1): external negative sequences; NULL/0 for none.
 * Needs >= 3 real episodes, a length in cfg->lengths that at least one episode of every split
 * can hold (longer lengths are skipped per split), and at least one negative kind.
 * *out is owned by the caller; report may be NULL. */
sl_status sl_trust_train(sl_trust_model **out, const sl_trust_config *cfg, const float *real_z,
                         const int32_t *episode_ids, size_t n, int D, const float *neg_z,
                         const size_t *neg_offsets, size_t n_neg, sl_trust_report *report);
void sl_trust_free(sl_trust_model *m);
/* The episode split sl_trust_train makes for n_episodes real episodes under cfg (its seed and
 * fractions): part[e] = 0 train (the positives), 1 calibration, 2 test. Lets a caller build
 * negatives from episodes the positives do not come from (sl_synth_world_negatives). */
sl_status sl_trust_split_episodes(const sl_trust_config *cfg, size_t n_episodes, uint8_t *part);

sl_status sl_trust_save(const sl_trust_model *m, const char *path, const cJSON *extra_meta);
sl_status sl_trust_load(sl_trust_model **out, const char *path);

int sl_trust_model_dim(const sl_trust_model *m);          /* D */
sl_trust_arch sl_trust_model_arch(const sl_trust_model *m);
sl_trust_config sl_trust_model_config(const sl_trust_model *m);

/* Score n windows of equal length T (windows [n, T, D], row-major):
 * out_p[i] = calibrated p(real) in [0, 1], or NaN if window i holds NaN/Inf.
 * SL_ERR_SHAPE if D differs from the model's, SL_ERR_ARG if T < 2. */
sl_status sl_trust_score_windows(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                                 double *out_p);
/* Same, but the raw (uncalibrated) logit; NaN for non-finite windows. */
sl_status sl_trust_logits(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                          double *out_logit);

/* Report as JSON under obj (metrics, per-kind mean trust, calibration). */
void sl_trust_report_to_json(cJSON *obj, const sl_trust_report *r);

/* --- gates ---------------------------------------------------------------------- */

typedef enum sl_gate_preset {
    SL_GATE_CONSERVATIVE = 0, /* trust >= 0.95, std ratio in [0.9, 1.1] */
    SL_GATE_NORMAL,           /* trust >= 0.90, std ratio in [0.8, 1.2] (default) */
    SL_GATE_AGGRESSIVE,       /* trust >= 0.80, std ratio in [0.7, 1.3] */
    SL_GATE_PRESET_COUNT
} sl_gate_preset;
/* "conservative", "normal", "aggressive"; NULL when out of range. */
const char *sl_gate_preset_name(sl_gate_preset p);
sl_status sl_gate_preset_parse(const char *name, sl_gate_preset *out);

typedef struct sl_gate {
    double trust_floor;
    double ratio_lo, ratio_hi;
} sl_gate;
/* The preset's thresholds (an out-of-range preset gives NORMAL's). */
sl_gate sl_gate_from_preset(sl_gate_preset p);
/* SL_ERR_ARG unless 0 <= floor <= 1 and 0 <= lo <= hi, all finite. */
sl_status sl_gate_check_config(const sl_gate *g);

typedef enum sl_gate_reason {
    SL_GATE_PASS = 0,
    SL_GATE_NONFINITE,   /* "non-finite": NaN/Inf in the window (NaN trust or ratio) */
    SL_GATE_LOW_TRUST,   /* "low-trust" */
    SL_GATE_STD_LOW,     /* "std-ratio-low" */
    SL_GATE_STD_HIGH,    /* "std-ratio-high" */
    SL_GATE_REASON_COUNT
} sl_gate_reason;
/* The quoted names above; NULL when out of range. */
const char *sl_gate_reason_name(sl_gate_reason r);

/* One branch: the reason code (SL_GATE_PASS when it passes). */
sl_gate_reason sl_gate_check(const sl_gate *g, double trust, double std_ratio);
/* n branches: reasons[i] for each; *n_pass (may be NULL) counts passes. */
void sl_gate_check_many(const sl_gate *g, const double *trust, const double *std_ratio, size_t n,
                        sl_gate_reason *reasons, size_t *n_pass);

/* Std ratio of one branch against the real latents over the same steps (formula above).
 * branch, real: [T, D], T >= 2. Returns NaN if either holds NaN/Inf; when the real window is
 * constant: 1 if the branch is constant too, else +Inf (so the gate says std-ratio-high). */
double sl_trust_std_ratio(const float *branch, const float *real, int T, int D);
/* Pooled over n branch/real pairs ([n, T, D] each): sqrt(sum var(B) / sum var(R)), NaN/Inf
 * rules as above; per_branch (may be NULL) receives each pair's own ratio. */
double sl_trust_std_ratio_pooled(const float *branches, const float *reals, size_t n, int T,
                                 int D, double *per_branch);

#ifdef __cplusplus
}
#endif
#endif /* SL_TRUST_H */
