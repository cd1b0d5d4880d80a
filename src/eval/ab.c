/* SPDX-License-Identifier: Apache-2.0 */
/* ab.c - baseline vs augmented A/B over seeds, with physics evaluation of final policies.
 * Invariant: within one seed the two arms share agent seed, held-out split and evaluation
 * episodes; only the replay contents differ. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_ab.h"
#include "synthloop/sl_json.h"

static const char *const metric_names[] = {"action_mse", "mpl", "error_rate", "ep", "return"};
_Static_assert(sizeof(metric_names) / sizeof(metric_names[0]) == SL_ABM_COUNT, "metric names");

const char *sl_ab_metric_name(sl_ab_metric m) {
    return (m >= 0 && m < SL_ABM_COUNT) ? metric_names[m] : "unknown";
}

sl_direction sl_ab_metric_direction(sl_ab_metric m) {
    return (m == SL_ABM_ACTION_MSE || m == SL_ABM_ERROR_RATE) ? SL_LOWER_IS_BETTER
                                                              : SL_HIGHER_IS_BETTER;
}

int sl_ab_metric_bounded(sl_ab_metric m) {
    return m == SL_ABM_ACTION_MSE || m == SL_ABM_MPL || m == SL_ABM_ERROR_RATE || m == SL_ABM_EP;
}

sl_ab_config sl_ab_config_default(void) {
    sl_ab_config c;
    memset(&c, 0, sizeof c);
    /* IQL at width 128: the learner that beats behaviour cloning on the mixed workcell data
     * (docs/RL.md); TD3+BC at alpha 2.5 exploits critic extrapolation on 3,000 transitions */
    c.rl = sl_rl_config_defaults(SL_RL_IQL, 1, 1);
    c.rl.hidden = 128;
    c.updates = 3000;
    c.seeds = 5;
    c.seed = 0;
    c.eval_episodes = 20;
    c.holdout_frac = 0.2;
    c.curve_every = 0;
    c.cliff_frac = 0.5;
    c.th = sl_ab_thresholds_default();
    c.until_decided = 0;
    c.max_seeds = 20;
    return c;
}

void sl_ab_outcome_free(sl_ab_outcome *o) {
    if (!o) return;
    for (int a = 0; a < SL_AB_ARMS; a++) {
        for (int m = 0; m < SL_ABM_COUNT; m++) free(o->per_seed[a][m]);
        free(o->cliffs[a]);
        free(o->curve[a]);
    }
    free(o->curve_step);
    memset(o, 0, sizeof *o);
}

sl_status sl_ab_eval_policy(sl_agent *agent, sl_env *env, sl_obs_map_fn map, void *map_ctx,
                            int episodes, uint64_t seed, double *mpl, double *error_rate,
                            double *ep, double *ret) {
    const sl_rl_config *rc = sl_agent_config(agent);
    if (rc->act_dim != env->act_dim)
        return sl_set_error(SL_ERR_SHAPE, "eval: policy has %d action dims, environment %s has %d",
                            rc->act_dim, env->name, env->act_dim);
    if (!map && rc->obs_dim != env->obs_dim)
        return sl_set_error(SL_ERR_SHAPE, "eval: policy state dims %d != env obs dims %d",
                            rc->obs_dim, env->obs_dim);
    float *obs = malloc((size_t)env->obs_dim * sizeof(float));
    float *state = malloc((size_t)rc->obs_dim * sizeof(float));
    float *act = malloc((size_t)env->act_dim * sizeof(float));
    sl_status s = (obs && state && act) ? SL_OK : sl_set_error(SL_ERR_NOMEM, "eval: oom");
    double units = 0, hours = 0, fails = 0, attempts = 0, wh = 0, rsum = 0;
    for (int e = 0; s == SL_OK && e < episodes; e++) {
        s = sl_env_reset(env, seed + (uint64_t)e, obs);
        for (;;) {
            if (s != SL_OK) break;
            if (map) s = map(map_ctx, obs, state);
            else memcpy(state, obs, (size_t)env->obs_dim * sizeof(float));
            if (s == SL_OK) s = sl_agent_act(agent, state, 1, act);
            /* policy outputs live in [-1, 1]: scale to the env's bounds */
            for (int j = 0; s == SL_OK && j < env->act_dim; j++)
                act[j] = env->act_lo[j] + 0.5f * (act[j] + 1.0f) * (env->act_hi[j] - env->act_lo[j]);
            sl_env_out st;
            if (s == SL_OK) s = sl_env_step(env, act, obs, NULL, &st);
            if (s != SL_OK || st.terminal || st.timeout) break;
        }
        sl_env_metrics m;
        if (s == SL_OK) s = sl_env_episode_metrics(env, &m);
        if (s == SL_OK) {
            units += m.units;
            hours += m.sim_seconds / 3600.0;
            fails += m.failures;
            attempts += m.attempts;
            wh += m.energy_wh;
            rsum += m.total_reward;
        }
    }
    free(obs);
    free(state);
    free(act);
    if (s != SL_OK) return s;
    if (mpl) *mpl = hours > 0 ? units / hours : 0.0;
    if (error_rate) *error_rate = attempts > 0 ? fails / attempts : 0.0;
    if (ep) *ep = wh > 0 ? units / wh : 0.0;
    if (ret) *ret = episodes > 0 ? rsum / episodes : 0.0;
    return SL_OK;
}

/* --- experiment --------------------------------------------------------- */

typedef struct split {
    size_t n_train, n_hold;
    float *obs, *act, *rew, *next, *done; /* train rows */
    float *h_obs, *h_act;                 /* held-out rows */
} split;

static void split_free(split *sp) {
    free(sp->obs);
    free(sp->act);
    free(sp->rew);
    free(sp->next);
    free(sp->done);
    free(sp->h_obs);
    free(sp->h_act);
    memset(sp, 0, sizeof *sp);
}

/* Hold out a fraction of episodes (chosen with the base seed, so every arm and seed sees the
 * same split). Without episode ids, rows are split in contiguous blocks of 60. */
static sl_status make_split(const sl_transitions *r, double frac, uint64_t seed, split *sp) {
    memset(sp, 0, sizeof *sp);
    size_t n = r->n, O = (size_t)r->obs_dim, A = (size_t)r->act_dim;
    int32_t max_ep = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t e = r->episode ? r->episode[i] : (int32_t)(i / 60);
        if (e < 0) return sl_set_error(SL_ERR_ARG, "ab: negative episode id at row %zu", i);
        if (e > max_ep) max_ep = e;
    }
    size_t n_ep = (size_t)max_ep + 1;
    size_t *perm = malloc(n_ep * sizeof(size_t));
    uint8_t *hold = calloc(n_ep, 1);
    if (!perm || !hold) {
        free(perm);
        free(hold);
        return sl_set_error(SL_ERR_NOMEM, "ab: oom");
    }
    for (size_t e = 0; e < n_ep; e++) perm[e] = e;
    sl_rng rng;
    sl_rng_seed(&rng, seed, 0xab5);
    sl_rng_shuffle(&rng, perm, n_ep);
    size_t k = (size_t)floor(frac * (double)n_ep + 0.5);
    if (frac > 0 && k == 0) k = 1;
    if (k >= n_ep) k = n_ep > 1 ? n_ep - 1 : 0;
    for (size_t e = 0; e < k; e++) hold[perm[e]] = 1;
    for (size_t i = 0; i < n; i++) {
        int32_t e = r->episode ? r->episode[i] : (int32_t)(i / 60);
        if (hold[e]) sp->n_hold++;
        else sp->n_train++;
    }
    size_t nt = sp->n_train ? sp->n_train : 1, nh = sp->n_hold ? sp->n_hold : 1;
    sp->obs = malloc(nt * O * 4);
    sp->next = malloc(nt * O * 4);
    sp->act = malloc(nt * A * 4);
    sp->rew = malloc(nt * 4);
    sp->done = malloc(nt * 4);
    sp->h_obs = malloc(nh * O * 4);
    sp->h_act = malloc(nh * A * 4);
    if (!sp->obs || !sp->next || !sp->act || !sp->rew || !sp->done || !sp->h_obs || !sp->h_act) {
        free(perm);
        free(hold);
        split_free(sp);
        return sl_set_error(SL_ERR_NOMEM, "ab: oom");
    }
    size_t it = 0, ih = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t e = r->episode ? r->episode[i] : (int32_t)(i / 60);
        if (hold[e]) {
            memcpy(sp->h_obs + ih * O, r->obs + i * O, O * 4);
            memcpy(sp->h_act + ih * A, r->act + i * A, A * 4);
            ih++;
        } else {
            memcpy(sp->obs + it * O, r->obs + i * O, O * 4);
            memcpy(sp->next + it * O, r->next_obs + i * O, O * 4);
            memcpy(sp->act + it * A, r->act + i * A, A * 4);
            sp->rew[it] = r->rew[i];
            sp->done[it] = r->done ? r->done[i] : 0.0f;
            it++;
        }
    }
    free(perm);
    free(hold);
    return SL_OK;
}

static void obs_stats(const split *sp, int O, float *mean, float *std) {
    for (int j = 0; j < O; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < sp->n_train; i++) {
            double v = (double)sp->obs[i * (size_t)O + j];
            s += v;
            s2 += v * v;
        }
        double n = sp->n_train ? (double)sp->n_train : 1.0;
        double m = s / n, var = s2 / n - m * m;
        mean[j] = (float)m;
        std[j] = (float)sqrt(var > 0 ? var : 0) + 1e-3f;
    }
}

static sl_status run_arm(const sl_ab_config *cfg, const split *sp, const sl_transitions *synth,
                         int arm, int si, const float *mean, const float *std, sl_env *env,
                         sl_obs_map_fn map, void *map_ctx, sl_ab_progress_fn progress,
                         void *pctx, sl_ab_outcome *o) {
    sl_rl_config rc = cfg->rl;
    rc.seed = cfg->seed + (uint64_t)si;
    size_t ns = (arm == SL_AB_AUG && synth) ? synth->n : 0;
    sl_replay *r = NULL;
    sl_agent *ag = NULL;
    SL_TRY(sl_replay_alloc(&r, sp->n_train + ns, rc.obs_dim, rc.act_dim));
    sl_status s = sl_replay_add(r, sp->n_train, sp->obs, sp->act, sp->rew, sp->next, sp->done,
                                NULL, SL_SOURCE_REAL);
    if (s == SL_OK && ns) {
        s = sl_replay_add(r, ns, synth->obs, synth->act, synth->rew, synth->next_obs, synth->done,
                          synth->weight, SL_SOURCE_SYNTH);
        if (s == SL_OK && si == 0) o->synth_share = sl_replay_synth_share(r);
    }
    if (s == SL_OK) s = sl_agent_new(&ag, &rc, mean, std);
    int cp = 0;
    sl_rl_stats st;
    for (int u = 1; s == SL_OK && u <= cfg->updates; u++) {
        s = sl_agent_update(ag, r, &st);
        if (s == SL_OK && u % (cfg->updates / o->curve_points) == 0 && cp < o->curve_points) {
            double mse = 0;
            if (sp->n_hold) s = sl_agent_action_mse(ag, sp->h_obs, sp->h_act, sp->n_hold, &mse);
            o->curve[arm][(size_t)si * o->curve_points + cp] = mse;
            cp++;
        }
        if (progress && (u % 100 == 0 || u == cfg->updates)) progress(pctx, arm, si, u, cfg->updates);
    }
    /* final policy only */
    double mse = 0, mpl = 0, err = 0, ep = 0, ret = 0;
    if (s == SL_OK && sp->n_hold) s = sl_agent_action_mse(ag, sp->h_obs, sp->h_act, sp->n_hold, &mse);
    if (s == SL_OK && env)
        s = sl_ab_eval_policy(ag, env, map, map_ctx, cfg->eval_episodes,
                              cfg->seed * 1000003ULL + 77, &mpl, &err, &ep, &ret);
    if (s == SL_OK) {
        o->per_seed[arm][SL_ABM_ACTION_MSE][si] = mse;
        o->per_seed[arm][SL_ABM_MPL][si] = mpl;
        o->per_seed[arm][SL_ABM_ERROR_RATE][si] = err;
        o->per_seed[arm][SL_ABM_EP][si] = ep;
        o->per_seed[arm][SL_ABM_RETURN][si] = ret;
        int cliffs = 0;
        const double *c = o->curve[arm] + (size_t)si * o->curve_points;
        for (int k = 1; k < o->curve_points; k++)
            if (k >= o->curve_points / 4 && c[k] > c[k - 1] * (1.0 + cfg->cliff_frac)) cliffs++;
        o->cliffs[arm][si] = cliffs;
    }
    sl_agent_free(ag);
    sl_replay_free(r);
    return s;
}

/* per-arm CI: Student t, or the percentile bootstrap for bounded metrics (its quantiles lie
 * between the smallest and largest seed, so they respect any bound the values respect) */
static int arm_ci(const double *x, int n, int bounded, uint64_t seed, sl_ci *ci) {
    if (n < 2) {
        memset(ci, 0, sizeof *ci);
        ci->mean = ci->lo = ci->hi = x[0];
        ci->n = 1;
        ci->level = 0.95;
        return 1;
    }
    if (sl_stats_ci_mean(x, (size_t)n, 0.95, ci) != SL_OK) return 0;
    if (!bounded) return 1;
    double lo, hi;
    if (sl_stats_bootstrap_ci(x, (size_t)n, NULL, NULL, 10000, 0.95, seed, NULL, &lo, &hi) != SL_OK)
        return 0;
    ci->lo = lo;
    ci->hi = hi;
    ci->half_width = 0.5 * (hi - lo);
    return 1;
}

/* The metrics that need the task's units (MPL, error rate, EP). */
static int is_unit_metric(int m) {
    return m == SL_ABM_MPL || m == SL_ABM_ERROR_RATE || m == SL_ABM_EP;
}

void sl_ab_summarise(const sl_ab_config *cfg, sl_ab_outcome *o) {
    sl_ab_summarise_at(cfg, o, cfg->th.alpha);
}

void sl_ab_summarise_at(const sl_ab_config *cfg, sl_ab_outcome *o, double alpha) {
    int n = o->seeds;
    int econ = cfg->eval_episodes > 0; /* the policies ran in physics */
    int n_poison = 0, n_minor = 0, n_value = 0, n_noharm = 0, n_key = 0;
    long need = 0;
    o->offline_only = !econ;
    o->alpha_last = alpha > 0 ? alpha : cfg->th.alpha;
    for (int m = 0; m < SL_ABM_COUNT; m++) {
        sl_ab_metric_summary *ms = &o->summary[m];
        memset(ms, 0, sizeof *ms);
        if (o->no_units && is_unit_metric(m)) { /* absent, not zero: no statistics, no verdict */
            ms->absent = 1;
            continue;
        }
        ms->valid = 1;
        ms->bounded = sl_ab_metric_bounded((sl_ab_metric)m);
        for (int a = 0; a < SL_AB_ARMS; a++)
            if (!arm_ci(o->per_seed[a][m], n, ms->bounded, cfg->seed * 31u + (uint64_t)(m * 2 + a),
                        &ms->ci[a]))
                ms->valid = 0;
        sl_direction dir = sl_ab_metric_direction((sl_ab_metric)m);
        if (n >= 2) {
            const double *b = o->per_seed[SL_AB_BASE][m], *g = o->per_seed[SL_AB_AUG][m];
            if (sl_stats_welch(g, (size_t)n, b, (size_t)n, 0.95, &ms->welch) != SL_OK ||
                sl_stats_ab_decide(b, g, (size_t)n, dir, &cfg->th, alpha, &ms->dec) != SL_OK) {
                ms->valid = 0;
            } else {
                ms->verdict.verdict = ms->dec.verdict;
                ms->verdict.rel_change = ms->dec.rel_change;
                ms->verdict.improvement = ms->dec.improvement;
                ms->verdict.p_value = ms->dec.p_two_sided;
                ms->verdict.significant = ms->dec.p_two_sided < ms->dec.alpha;
                ms->verdict.reason = ms->dec.reason;
            }
        } else {
            /* one seed pair decides nothing: the change is shown, the verdict is inconclusive */
            if (sl_stats_ab_verdict(ms->ci[0].mean, ms->ci[1].mean, 1.0, dir, &cfg->th,
                                    &ms->verdict) != SL_OK) {
                ms->valid = 0;
            } else {
                ms->verdict.verdict = SL_AB_INCONCLUSIVE;
                ms->verdict.reason = "one seed pair: no test possible";
                ms->dec.verdict = SL_AB_INCONCLUSIVE;
                ms->dec.seeds_needed = -1;
            }
        }
        int key = !econ ? m == SL_ABM_ACTION_MSE
                  : o->no_units ? m == SL_ABM_RETURN : (m == SL_ABM_MPL || m == SL_ABM_ERROR_RATE);
        if (!key) continue;
        n_key++;
        if (!ms->valid) { /* e.g. a baseline mean of 0: more seeds cannot decide it */
            need = -1;
            continue;
        }
        switch (ms->verdict.verdict) {
        case SL_AB_POISONING: n_poison++; break;
        case SL_AB_MINOR_DEGRADATION: n_minor++; break;
        case SL_AB_VALUE: n_value++; break;
        case SL_AB_NO_HARM: n_noharm++; break;
        default:
            if (need >= 0) need = ms->dec.seeds_needed < 0 ? -1
                                  : (ms->dec.seeds_needed > need ? ms->dec.seeds_needed : need);
            break;
        }
    }
    o->headline = n_poison ? SL_AB_POISONING
                  : n_minor ? SL_AB_MINOR_DEGRADATION
                  : n_value ? SL_AB_VALUE
                  : (n_key > 0 && n_noharm == n_key) ? SL_AB_NO_HARM : SL_AB_INCONCLUSIVE;
    o->seeds_needed = o->headline == SL_AB_INCONCLUSIVE ? need : 0;
}

sl_status sl_ab_run(const sl_ab_config *cfg, const sl_transitions *real,
                    const sl_transitions *synth, sl_env *env, sl_obs_map_fn map, void *map_ctx,
                    sl_ab_progress_fn progress, void *progress_ctx, sl_ab_outcome *out) {
    memset(out, 0, sizeof *out);
    if (cfg->seeds < 1 || cfg->updates < 1 || cfg->eval_episodes < 0 ||
        !(cfg->holdout_frac >= 0 && cfg->holdout_frac < 1))
        return sl_set_error(SL_ERR_ARG, "ab: need seeds >= 1, updates >= 1, holdout in [0,1)");
    if (!real || real->n == 0) return sl_set_error(SL_ERR_ARG, "ab: no real transitions");
    if (synth && synth->n && (synth->obs_dim != real->obs_dim || synth->act_dim != real->act_dim))
        return sl_set_error(SL_ERR_SHAPE, "ab: synthetic dims (%d, %d) differ from real (%d, %d)",
                            synth->obs_dim, synth->act_dim, real->obs_dim, real->act_dim);
    sl_ab_config c = *cfg;
    c.rl.obs_dim = real->obs_dim;
    c.rl.act_dim = real->act_dim;
    if (c.until_decided && c.max_seeds < c.seeds) /* before the split: nothing to free */
        return sl_set_error(SL_ERR_ARG, "ab: --max-seeds %d is below --seeds %d", c.max_seeds, c.seeds);
    split sp;
    SL_TRY(make_split(real, c.holdout_frac, c.seed, &sp));
    int n = c.until_decided ? c.max_seeds : c.seeds; /* capacity */
    out->seeds = n;
    out->curve_points = c.curve_every > 0 ? c.updates / c.curve_every : 20;
    if (out->curve_points < 1) out->curve_points = 1;
    if (out->curve_points > c.updates) out->curve_points = c.updates;
    out->n_real_train = sp.n_train;
    out->n_real_holdout = sp.n_hold;
    out->n_synth = synth ? synth->n : 0;
    out->no_units = env && !sl_env_has_units(env);
    sl_status s = SL_OK;
    out->curve_step = calloc((size_t)out->curve_points, sizeof(int));
    if (!out->curve_step) s = sl_set_error(SL_ERR_NOMEM, "ab: oom");
    for (int a = 0; s == SL_OK && a < SL_AB_ARMS; a++) {
        for (int m = 0; m < SL_ABM_COUNT; m++) {
            out->per_seed[a][m] = calloc((size_t)n, sizeof(double));
            if (!out->per_seed[a][m]) s = sl_set_error(SL_ERR_NOMEM, "ab: oom");
        }
        out->cliffs[a] = calloc((size_t)n, sizeof(int));
        out->curve[a] = calloc((size_t)n * out->curve_points, sizeof(double));
        if (!out->cliffs[a] || !out->curve[a]) s = sl_set_error(SL_ERR_NOMEM, "ab: oom");
    }
    for (int k = 0; s == SL_OK && k < out->curve_points; k++)
        out->curve_step[k] = (k + 1) * (c.updates / out->curve_points);
    float *mean = malloc((size_t)real->obs_dim * 4), *std = malloc((size_t)real->obs_dim * 4);
    if (s == SL_OK && (!mean || !std)) s = sl_set_error(SL_ERR_NOMEM, "ab: oom");
    if (s == SL_OK) obs_stats(&sp, real->obs_dim, mean, std);
    /* Without synthetic rows the augmented arm would repeat the baseline bit for bit (same
     * seed, data and config), so it is copied instead of re-trained (an A/A run at half cost). */
    int same_arms = !synth || synth->n == 0;
    if (s == SL_OK && c.baseline_of &&
        (c.baseline_of->curve_points != out->curve_points || c.baseline_of->n_real_train != sp.n_train))
        s = sl_set_error(SL_ERR_ARG, "ab: the baseline to reuse has %d curve points and %zu training "
                         "rows; this run needs %d and %zu", c.baseline_of->curve_points,
                         c.baseline_of->n_real_train, out->curve_points, sp.n_train);
    int done = 0, n_prev = 0;
    out->looks = 0;
    for (int si = 0; s == SL_OK && si < n && !done; si++) {
        for (int a = 0; s == SL_OK && a < SL_AB_ARMS; a++) {
            if (a == SL_AB_BASE && c.baseline_of && si < c.baseline_of->seeds) {
                /* the same training, done once already (seeds beyond it are trained here) */
                const sl_ab_outcome *b = c.baseline_of;
                for (int m = 0; m < SL_ABM_COUNT; m++) out->per_seed[a][m][si] = b->per_seed[SL_AB_BASE][m][si];
                out->cliffs[a][si] = b->cliffs[SL_AB_BASE][si];
                memcpy(out->curve[a] + (size_t)si * out->curve_points,
                       b->curve[SL_AB_BASE] + (size_t)si * out->curve_points,
                       (size_t)out->curve_points * sizeof(double));
                continue;
            }
            if (a == SL_AB_AUG && same_arms) {
                for (int m = 0; m < SL_ABM_COUNT; m++)
                    out->per_seed[a][m][si] = out->per_seed[SL_AB_BASE][m][si];
                out->cliffs[a][si] = out->cliffs[SL_AB_BASE][si];
                memcpy(out->curve[a] + (size_t)si * out->curve_points,
                       out->curve[SL_AB_BASE] + (size_t)si * out->curve_points,
                       (size_t)out->curve_points * sizeof(double));
                for (int u = 1; progress && u <= c.updates; u++) /* same ticks as run_arm */
                    if (u % 100 == 0 || u == c.updates) progress(progress_ctx, a, si, u, c.updates);
                continue;
            }
            s = run_arm(&c, &sp, synth, a, si, mean, std, env, map, map_ctx, progress,
                        progress_ctx, out);
        }
        /* sequential design: a look after each pair from the first `seeds` on */
        if (s == SL_OK && c.until_decided && si + 1 >= c.seeds) {
            out->seeds = si + 1;
            double alpha = sl_stats_seq_alpha((size_t)n_prev, (size_t)(si + 1), (size_t)n, c.th.alpha);
            sl_ab_summarise_at(&c, out, alpha);
            out->looks++;
            n_prev = si + 1;
            done = out->headline != SL_AB_INCONCLUSIVE;
        }
    }
    free(mean);
    free(std);
    split_free(&sp);
    if (s != SL_OK) {
        sl_ab_outcome_free(out);
        return s;
    }
    if (!c.until_decided) {
        sl_ab_summarise(&c, out);
        out->looks = 1;
    }
    return SL_OK;
}

/* --- JSON --------------------------------------------------------------- */

static cJSON *ci_json(const sl_ci *ci) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "mean", ci->mean);
    cJSON_AddNumberToObject(j, "ci_lo", ci->lo);
    cJSON_AddNumberToObject(j, "ci_hi", ci->hi);
    cJSON_AddNumberToObject(j, "std", ci->std);
    cJSON_AddNumberToObject(j, "n", (double)ci->n);
    return j;
}

cJSON *sl_ab_outcome_to_json(const sl_ab_outcome *o, const sl_ab_config *cfg) {
    static const char *const arm_names[SL_AB_ARMS] = {"baseline", "augmented"};
    cJSON *j = cJSON_CreateObject();
    cJSON *conf = cJSON_AddObjectToObject(j, "config");
    cJSON_AddStringToObject(conf, "algo", sl_rl_algo_name(cfg->rl.algo));
    cJSON_AddNumberToObject(conf, "updates", cfg->updates);
    cJSON_AddNumberToObject(conf, "seeds", cfg->seeds);
    cJSON_AddNumberToObject(conf, "eval_episodes", cfg->eval_episodes);
    cJSON_AddNumberToObject(conf, "holdout_frac", cfg->holdout_frac);
    cJSON_AddNumberToObject(conf, "hidden", cfg->rl.hidden);
    cJSON_AddNumberToObject(conf, "batch", cfg->rl.batch);
    cJSON_AddNumberToObject(conf, "lr_actor", (double)cfg->rl.lr_actor);
    cJSON_AddNumberToObject(conf, "lr_critic", (double)cfg->rl.lr_critic);
    cJSON_AddNumberToObject(conf, "gamma", (double)cfg->rl.gamma);
    cJSON_AddNumberToObject(conf, "reward_scale", (double)cfg->rl.reward_scale);
    if (cfg->rl.algo == SL_RL_TD3BC) cJSON_AddNumberToObject(conf, "alpha_bc", (double)cfg->rl.alpha_bc);
    if (cfg->rl.algo == SL_RL_IQL) {
        cJSON_AddNumberToObject(conf, "iql_beta", (double)cfg->rl.iql_beta);
        cJSON_AddNumberToObject(conf, "iql_expectile", (double)cfg->rl.iql_expectile);
    }
    cJSON_AddStringToObject(conf, "sampling", sl_rl_sampling_name(cfg->rl.sampling));
    cJSON_AddNumberToObject(conf, "cliff_frac", cfg->cliff_frac);
    cJSON_AddNumberToObject(conf, "no_harm", cfg->th.no_harm);
    cJSON_AddNumberToObject(conf, "poison", cfg->th.poison);
    cJSON_AddNumberToObject(conf, "alpha", cfg->th.alpha);
    cJSON_AddBoolToObject(conf, "until_decided", cfg->until_decided != 0);
    if (cfg->until_decided) cJSON_AddNumberToObject(conf, "max_seeds", cfg->max_seeds);
    cJSON_AddNumberToObject(j, "n_seeds", o->seeds);
    cJSON_AddNumberToObject(j, "n_real_train", (double)o->n_real_train);
    cJSON_AddNumberToObject(j, "n_real_holdout", (double)o->n_real_holdout);
    cJSON_AddNumberToObject(j, "n_synth", (double)o->n_synth);
    cJSON_AddNumberToObject(j, "synth_share", o->synth_share);
    cJSON_AddStringToObject(j, "verdict", sl_ab_verdict_name(o->headline));
    cJSON_AddStringToObject(j, "next_action", sl_ab_verdict_action(o->headline));
    cJSON_AddStringToObject(j, "policy", "final");
    cJSON_AddBoolToObject(j, "decided", o->headline != SL_AB_INCONCLUSIVE);
    if (o->headline == SL_AB_INCONCLUSIVE) {
        if (o->seeds_needed > 0) cJSON_AddNumberToObject(j, "seeds_needed", (double)o->seeds_needed);
        else cJSON_AddNullToObject(j, "seeds_needed");
    }
    cJSON_AddBoolToObject(j, "offline_only", o->offline_only != 0);
    if (o->no_units) cJSON_AddBoolToObject(j, "units", 0); /* only then: workcell JSON unchanged */
    cJSON_AddStringToObject(j, "design", "paired (same agent seed and evaluation start states per pair)");
    cJSON_AddNumberToObject(j, "looks", o->looks);
    cJSON_AddNumberToObject(j, "alpha_last_look", o->alpha_last);
    cJSON *ms = cJSON_AddObjectToObject(j, "metrics");
    for (int m = 0; m < SL_ABM_COUNT; m++) {
        const sl_ab_metric_summary *s = &o->summary[m];
        cJSON *mj = cJSON_AddObjectToObject(ms, metric_names[m]);
        if (s->absent) { /* the task defines no units: no numbers at all */
            cJSON_AddBoolToObject(mj, "absent", 1);
            cJSON_AddStringToObject(mj, "reason", "the task defines no units");
            continue;
        }
        cJSON_AddStringToObject(mj, "direction", sl_direction_name(sl_ab_metric_direction((sl_ab_metric)m)));
        for (int a = 0; a < SL_AB_ARMS; a++) {
            cJSON *aj = ci_json(&s->ci[a]);
            sl_json_add_f64_array(aj, "per_seed", o->per_seed[a][m], (size_t)o->seeds);
            cJSON_AddItemToObject(mj, arm_names[a], aj);
        }
        if (o->seeds >= 2 && s->valid) {
            cJSON *w = cJSON_AddObjectToObject(mj, "welch");
            cJSON_AddNumberToObject(w, "diff", s->welch.diff);
            cJSON_AddNumberToObject(w, "t", s->welch.t);
            cJSON_AddNumberToObject(w, "df", s->welch.df);
            cJSON_AddNumberToObject(w, "p", s->welch.p);
            cJSON_AddNumberToObject(w, "ci_lo", s->welch.ci_lo);
            cJSON_AddNumberToObject(w, "ci_hi", s->welch.ci_hi);
        }
        cJSON_AddStringToObject(mj, "ci_method", s->bounded && o->seeds >= 2 ? "percentile_bootstrap" : "student_t");
        if (o->seeds >= 2 && s->valid) {
            const sl_ab_decision *d = &s->dec;
            cJSON *pj = cJSON_AddObjectToObject(mj, "paired");
            cJSON_AddNumberToObject(pj, "n", (double)d->n);
            cJSON_AddNumberToObject(pj, "diff", d->diff);
            cJSON_AddNumberToObject(pj, "t", d->t);
            cJSON_AddNumberToObject(pj, "df", d->df);
            cJSON_AddNumberToObject(pj, "p", d->p_two_sided);
            cJSON_AddNumberToObject(pj, "p_harm", d->p_harm);
            cJSON_AddNumberToObject(pj, "p_equiv", d->p_equiv);
            cJSON_AddNumberToObject(pj, "improvement", d->improvement);
            cJSON_AddNumberToObject(pj, "improvement_se", d->se);
            cJSON_AddNumberToObject(pj, "improvement_ci_lo", d->ci_lo);
            cJSON_AddNumberToObject(pj, "improvement_ci_hi", d->ci_hi);
            cJSON_AddNumberToObject(pj, "alpha", d->alpha);
            cJSON_AddNumberToObject(pj, "power", d->power);
            if (d->verdict == SL_AB_INCONCLUSIVE) {
                if (d->seeds_needed > 0) cJSON_AddNumberToObject(pj, "seeds_needed", (double)d->seeds_needed);
                else cJSON_AddNullToObject(pj, "seeds_needed");
            }
        }
        if (s->valid) {
            cJSON_AddNumberToObject(mj, "rel_change", s->verdict.rel_change);
            cJSON_AddStringToObject(mj, "verdict", sl_ab_verdict_name(s->verdict.verdict));
            cJSON_AddStringToObject(mj, "reason", s->verdict.reason ? s->verdict.reason : "");
        } else {
            cJSON_AddStringToObject(mj, "verdict", "undefined");
        }
    }
    cJSON *cl = cJSON_AddObjectToObject(j, "cliffs");
    cJSON *cv = cJSON_AddObjectToObject(j, "curves");
    cJSON *steps = cJSON_AddArrayToObject(cv, "step");
    for (int k = 0; k < o->curve_points; k++) cJSON_AddItemToArray(steps, cJSON_CreateNumber(o->curve_step[k]));
    for (int a = 0; a < SL_AB_ARMS; a++) {
        cJSON *arr = cJSON_AddArrayToObject(cl, arm_names[a]);
        for (int si = 0; si < o->seeds; si++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(o->cliffs[a][si]));
        /* mean curve over seeds */
        double *mc = calloc((size_t)o->curve_points, sizeof(double));
        if (mc) {
            for (int k = 0; k < o->curve_points; k++) {
                for (int si = 0; si < o->seeds; si++) mc[k] += o->curve[a][(size_t)si * o->curve_points + k];
                mc[k] /= o->seeds;
            }
            sl_json_add_f64_array(cv, arm_names[a], mc, (size_t)o->curve_points);
            free(mc);
        }
    }
    return j;
}
