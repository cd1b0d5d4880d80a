/* SPDX-License-Identifier: Apache-2.0 */
/* sl_stats.h - float64 statistics for evaluation, A/B tests and the stability report.
 *
 * Every formula is written out in docs/STATISTICS.md so that results can be recomputed by
 * hand. Conventions:
 *   - Functions that can fail return sl_status and write their result through an out
 *     pointer; on failure the out value is left untouched and sl_last_error() says why.
 *     Empty input -> SL_ERR_ARG, NaN/Inf input -> SL_ERR_NAN, undefined result (e.g. a zero
 *     denominator) -> SL_ERR_RANGE.
 *   - The special functions (sl_stats_betainc, sl_stats_t_cdf, sl_stats_t_ppf, ...) follow
 *     libm conventions instead: they return a double and return NaN outside their domain.
 *   - Nothing here allocates memory that the caller must free; functions that need scratch
 *     space allocate and free it internally (and may return SL_ERR_NOMEM).
 *   - All functions are reentrant; the bootstrap takes an explicit seed.
 */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- moments ------------------------------------------------------------ */

/* Arithmetic mean; n >= 1. */
sl_status sl_stats_mean(const double *x, size_t n, double *out);
/* Sample variance with ddof = 1 (numpy var(ddof=1)); n >= 2. Two-pass algorithm. */
sl_status sl_stats_var(const double *x, size_t n, double *out);
/* Sample standard deviation, sqrt of sl_stats_var; n >= 2. */
sl_status sl_stats_std(const double *x, size_t n, double *out);
/* Quantile q in [0,1] with linear interpolation between order statistics (numpy's default
 * "linear" method); n >= 1. */
sl_status sl_stats_quantile(const double *x, size_t n, double q, double *out);

/* --- special functions (libm-style: NaN outside the domain) ------------- */

/* Regularized incomplete beta I_x(a, b); a > 0, b > 0, 0 <= x <= 1. */
double sl_stats_betainc(double a, double b, double x);
/* Student-t CDF with df > 0 degrees of freedom (df may be fractional). */
double sl_stats_t_cdf(double t, double df);
/* Student-t survival function 1 - CDF, computed without cancellation. */
double sl_stats_t_sf(double t, double df);
/* Student-t quantile (inverse CDF); 0 < p < 1, df > 0. Returns -inf / +inf at p = 0 / 1. */
double sl_stats_t_ppf(double p, double df);
/* Standard normal CDF. */
double sl_stats_norm_cdf(double z);

/* --- confidence intervals and tests ------------------------------------- */

/* Student-t confidence interval of the mean: mean +- t_{(1+level)/2, n-1} * std / sqrt(n). */
typedef struct sl_ci {
    double mean;
    double lo, hi;
    double half_width;
    double std;   /* sample std, ddof = 1 */
    double level; /* e.g. 0.95 */
    size_t n;
} sl_ci;
/* n >= 2, 0 < level < 1. */
sl_status sl_stats_ci_mean(const double *x, size_t n, double level, sl_ci *out);

/* Welch's unequal-variance t-test of mean(a) - mean(b) (scipy ttest_ind(a, b,
 * equal_var=False)), plus the Welch confidence interval of the difference. */
typedef struct sl_welch {
    double mean_a, mean_b;
    double var_a, var_b;   /* ddof = 1 */
    double diff;           /* mean_a - mean_b */
    double se;             /* sqrt(var_a/na + var_b/nb) */
    double t;              /* diff / se */
    double df;             /* Welch-Satterthwaite */
    double p;              /* two-sided p-value */
    double ci_lo, ci_hi;   /* diff +- t_{(1+level)/2, df} * se */
    double level;
    int degenerate;        /* 1 when se == 0 (both groups constant): see docs */
} sl_welch;
/* na, nb >= 2; 0 < level < 1 (pass 0.95 for the usual interval). */
sl_status sl_stats_welch(const double *a, size_t na, const double *b, size_t nb, double level,
                         sl_welch *out);

/* --- classification and probability scores ------------------------------ */

/* ROC-AUC in Mann-Whitney form with mid-ranks for ties (sklearn roc_auc_score).
 * labels are 0 or 1; both classes must be present. */
sl_status sl_stats_roc_auc(const double *score, const int *label, size_t n, double *out);
/* Brier score mean((p - y)^2); p in [0,1], y in {0,1}. */
sl_status sl_stats_brier(const double *p, const int *y, size_t n, double *out);
/* Expected calibration error with `nbins` equal-width bins on [0,1] (nbins = 0 -> 10);
 * bin edges and edge handling as sklearn calibration_curve(strategy="uniform"). */
#define SL_STATS_ECE_DEFAULT_BINS 10
sl_status sl_stats_ece(const double *p, const int *y, size_t n, int nbins, double *out);
/* Binary log loss with p clipped to [eps, 1 - eps]; eps <= 0 -> DBL_EPSILON (sklearn 1.2's
 * eps="auto" for float64). Natural log, averaged over samples. */
sl_status sl_stats_log_loss(const double *p, const int *y, size_t n, double eps, double *out);

/* --- world-model stability ---------------------------------------------- */

/* std(synthetic) / std(real) over all values pooled (ddof = 1). */
sl_status sl_stats_std_ratio(const double *syn, size_t nsyn, const double *real, size_t nreal,
                             double *out);
/* Per-dimension variant: syn is [nsyn_rows x dim], real is [nreal_rows x dim], row-major;
 * out[d] = std(syn[:, d]) / std(real[:, d]) (ddof = 1). `mean_out` (may be NULL) receives
 * the mean of out[0..dim). */
sl_status sl_stats_std_ratio_per_dim(const double *syn, size_t nsyn_rows, const double *real,
                                     size_t nreal_rows, size_t dim, double *out,
                                     double *mean_out);
/* Variance growth of rollouts z [R x T x D] (row-major):
 *   var_t  = (1/R) sum_r var_d(z[r, t, :])   (var over the D latent dims, ddof = 1)
 *   growth = var_{T-1} / (var_0 + eps)
 * eps = 0 gives the plain ratio; seed 001 uses eps = 1e-6. var_t_out (may be NULL) receives
 * the T per-step variances. Requires R >= 1, T >= 1, D >= 2. */
sl_status sl_stats_variance_growth(const double *z, size_t R, size_t T, size_t D, double eps,
                                   double *var_t_out, double *growth);

/* --- bootstrap ---------------------------------------------------------- */

/* A statistic of a sample, for the bootstrap. Must return a finite value for any resample of
 * the input. ctx is passed through. */
typedef double (*sl_stats_fn)(const double *x, size_t n, void *ctx);

/* Percentile bootstrap CI of stat (NULL -> the mean): draws `reps` resamples of size n with
 * replacement using sl_rng(seed, stream 0), and returns the (1-level)/2 and (1+level)/2
 * quantiles (numpy "linear") of the replicate statistics. `point` (may be NULL) receives
 * stat(x). Same inputs and seed => same bits. */
sl_status sl_stats_bootstrap_ci(const double *x, size_t n, sl_stats_fn stat, void *ctx,
                                size_t reps, double level, uint64_t seed, double *point,
                                double *lo, double *hi);
/* Two-sample percentile bootstrap CI of the relative change of the means,
 * (mean(aug) - mean(base)) / |mean(base)|, resampling each arm independently. Replicates whose
 * baseline mean is 0 make the call fail with SL_ERR_RANGE. */
sl_status sl_stats_bootstrap_rel_change_ci(const double *base, size_t nb, const double *aug,
                                           size_t na, size_t reps, double level, uint64_t seed,
                                           double *lo, double *hi);

/* --- A/B verdict (seed 000, "Interpret Results") ------------------------- */

typedef enum sl_direction {
    SL_HIGHER_IS_BETTER = 0, /* e.g. MPL, EP, AUC */
    SL_LOWER_IS_BETTER,      /* e.g. action MSE, error rate */
    SL_DIRECTION_COUNT
} sl_direction;

/* Relative change (augmented - baseline) / |baseline|; baseline != 0. */
sl_status sl_stats_rel_change(double baseline, double augmented, double *out);
/* Relative improvement: rel_change for higher-is-better, -rel_change for lower-is-better, so
 * that a positive value always means "augmented is better". */
sl_status sl_stats_rel_improvement(double baseline, double augmented, sl_direction dir,
                                   double *out);

typedef enum sl_ab_verdict {
    SL_AB_VALUE = 0,             /* significantly better: synthetic adds value */
    SL_AB_NO_HARM,               /* within the do-no-harm band, or better but not significant */
    SL_AB_MINOR_DEGRADATION,     /* worse by more than no_harm up to and including poison */
    SL_AB_POISONING,             /* worse by more than poison (default 5%) */
    SL_AB_INCONCLUSIVE,          /* the seeds decide nothing yet (sl_stats_ab_decide) */
    SL_AB_VERDICT_COUNT
} sl_ab_verdict;

/* "value", "no_harm", "minor_degradation", "poisoning"; "unknown" out of range. */
const char *sl_ab_verdict_name(sl_ab_verdict v);
/* The table's "Next Action" for the verdict. */
const char *sl_ab_verdict_action(sl_ab_verdict v);
const char *sl_direction_name(sl_direction d); /* "higher_is_better" / "lower_is_better" */

typedef struct sl_ab_thresholds {
    double no_harm; /* 0.02: |improvement| <= 2% is "do no harm" */
    double poison;  /* 0.05: worse by more than 5% is poisoning */
    double alpha;   /* 0.05: significance level for a "value" verdict */
} sl_ab_thresholds;
/* The seed 000 defaults {0.02, 0.05, 0.05}. */
sl_ab_thresholds sl_ab_thresholds_default(void);

typedef struct sl_ab_result {
    sl_ab_verdict verdict;
    double rel_change;   /* (aug - base) / |base| */
    double improvement;  /* signed so that > 0 means better */
    double p_value;      /* as given */
    int significant;     /* p_value < alpha */
    const char *reason;  /* static string explaining which rule fired */
} sl_ab_result;

/* Verdict from the arms' means and a two-sided p-value for their difference (pass p = 1 when
 * there is no evidence, e.g. a single run per arm). Rules, in order (imp = improvement):
 *   imp < -poison                    -> POISONING
 *   -poison <= imp < -no_harm        -> MINOR_DEGRADATION  (the table's 2-3% gap included)
 *   imp > 0 and p < alpha            -> VALUE
 *   otherwise                        -> NO_HARM
 * Errors: baseline == 0 -> SL_ERR_RANGE; non-finite -> SL_ERR_NAN; p outside [0,1] or bad
 * thresholds (need 0 <= no_harm <= poison, 0 < alpha < 1) -> SL_ERR_ARG.
 * th may be NULL for the defaults. */
sl_status sl_stats_ab_verdict(double baseline_mean, double augmented_mean, double p_value,
                              sl_direction dir, const sl_ab_thresholds *th, sl_ab_result *out);

/* Convenience: Welch test (aug vs base) + verdict from per-seed samples of both arms. */
sl_status sl_stats_ab_from_samples(const double *base, size_t nb, const double *aug, size_t na,
                                   sl_direction dir, const sl_ab_thresholds *th,
                                   sl_welch *welch_out, sl_ab_result *out);

/* --- A/B decision with uncertainty (paired seeds; docs/STATISTICS.md "Decisions") ---------
 *
 * The arms of seed pair i were trained with the same agent seed and evaluated on the same
 * start states (common random numbers), so the test is paired. With b_i, a_i the baseline and
 * augmented values, n pairs, R = mean(a) / mean(b):
 *   improvement     imp = s * (R - 1), s = +1 (higher is better) or -1 (lower is better)
 *   its SE          se  = sd(a_i - R b_i) / (sqrt(n) |mean(b)|)   (ratio linearisation)
 *   95% CI          imp +- t_{0.975, n-1} se
 *   paired t-test   t = mean(a - b) / (sd(a - b) / sqrt(n)), df = n - 1 (scipy ttest_rel);
 *                   p_two_sided; p_harm = P(T_df <= s t) (one-sided: augmented worse)
 *   equivalence     TOST on imp with margin no_harm:
 *                   p_equiv = max(P(T_df >= (imp + no_harm)/se), P(T_df <= (imp - no_harm)/se))
 * Rules, in order, at level alpha (alpha_look for a sequential look):
 *   p_harm < alpha and imp < -poison   -> POISONING
 *   p_harm < alpha and imp < -no_harm  -> MINOR_DEGRADATION
 *   p_two_sided < alpha and imp > 0    -> VALUE
 *   p_equiv < alpha                    -> NO_HARM (equivalent within +-no_harm)
 *   otherwise                          -> INCONCLUSIVE, with seeds_needed: the smallest number
 *       of pairs at which the test that would decide (TOST when |imp| < no_harm, else the
 *       paired test) has power >= 0.8 at the observed imp and per-pair sd (noncentral t for
 *       the paired test, a shifted-t approximation for TOST; docs/STATISTICS.md); -1 when it
 *       exceeds 100000 or the sd is 0. */
typedef struct sl_ab_decision {
    sl_ab_verdict verdict;
    const char *reason;     /* static string: which rule fired */
    size_t n;               /* seed pairs */
    double mean_base, mean_aug;
    double rel_change;      /* (aug - base) / |base| = (R - 1) sign(base) */
    double improvement;     /* s * rel_change: > 0 means better */
    double se;              /* SE of improvement */
    double ci_lo, ci_hi;    /* 95% CI of improvement */
    double diff, t, df;     /* paired t-test of a - b */
    double p_two_sided, p_harm, p_equiv;
    double alpha;           /* the level the rules used */
    double power;           /* power of the deciding test at the current n (approximation) */
    long seeds_needed;      /* INCONCLUSIVE: pairs for power 0.8; 0 when decided; -1 unknown */
    int degenerate;         /* 1 when both sds are 0 (identical or constant arms) */
} sl_ab_decision;

/* n >= 2 pairs; mean(base) != 0 (SL_ERR_RANGE); non-finite -> SL_ERR_NAN. alpha_look <= 0 uses
 * th->alpha (th may be NULL for the defaults). */
sl_status sl_stats_ab_decide(const double *base, const double *aug, size_t n, sl_direction dir,
                             const sl_ab_thresholds *th, double alpha_look, sl_ab_decision *out);

/* Power of the paired two-sided t-test at effect imp, per-pair sd sigma, n pairs, level alpha
 * (exact: noncentral t, Lenth's AS 243); and of TOST with margin delta (shifted-t
 * approximation). Exposed for tests and planning. */
double sl_stats_power_paired(double imp, double sigma, size_t n, double alpha);
double sl_stats_power_tost(double imp, double sigma, size_t n, double delta, double alpha);

/* Standard normal quantile (inverse CDF); 0 < p < 1 (NaN outside, -inf/+inf at 0/1). */
double sl_stats_norm_ppf(double p);

/* --- sequential design (ab --until-decided) ------------------------------------------------
 * Looks after n_1 < n_2 < ... <= n_max pairs. Look k tests at level
 *   alpha_k = A(n_k / n_max) - A(n_{k-1} / n_max),  A(t) = alpha ln(1 + (e - 1) t)
 * (Lan-DeMets' Pocock-type spending function; n_0 = 0). The levels sum to at most alpha, so by
 * the union bound the chance that any look declares a false difference (or a false
 * equivalence) is at most alpha whatever the looks' correlation: conservative, documented in
 * docs/STATISTICS.md with a simulation in tests/test_stats.c. */
double sl_stats_seq_alpha(size_t n_prev, size_t n_k, size_t n_max, double alpha);

#ifdef __cplusplus
}
#endif
#endif /* SL_STATS_H */
