/* SPDX-License-Identifier: Apache-2.0 */
/* env.c - the environment wrapper (state machine, action checks, metric accumulation), the
 * economic metrics, the attempt tracker, behaviour policies and the dataset collector.
 *
 * Key invariant: everything an episode reports (counts, energy, metrics) is accumulated from the
 * backend's per-step physics events; sl_env_step never lets a non-finite number out.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

/* --- economics ------------------------------------------------------------ */

static const char *const error_kind_names[] = {"drop", "miss", "collision", "timeout"};
_Static_assert(sizeof error_kind_names / sizeof error_kind_names[0] == SL_ENV_ERR_KIND_COUNT,
               "error kind names");

const char *sl_env_error_kind_name(sl_env_error_kind k) {
    return ((unsigned)k < SL_ENV_ERR_KIND_COUNT) ? error_kind_names[k] : "?";
}

sl_econ_params sl_econ_default(void) {
    sl_econ_params p = {.value_per_unit = 0.03, .human_wage = 18.0};
    return p;
}

sl_status sl_econ_compute(sl_env_metrics *m, const sl_econ_params *p) {
    if (!m || !p) return sl_set_error(SL_ERR_ARG, "sl_econ_compute: NULL argument");
    if (!(p->human_wage > 0) || !isfinite(p->human_wage) || !(p->value_per_unit >= 0) ||
        !isfinite(p->value_per_unit))
        return sl_set_error(SL_ERR_ARG, "econ: wage %g must be > 0 and value per unit %g >= 0",
                            p->human_wage, p->value_per_unit);
    if (!(m->sim_seconds > 0) || !isfinite(m->sim_seconds))
        return sl_set_error(SL_ERR_ARG, "econ: simulated time %g s must be > 0", m->sim_seconds);
    if (m->units < 0 || m->attempts < 0 || m->failures < 0 || m->failures > m->attempts ||
        !(m->energy_wh >= 0) || !isfinite(m->energy_wh))
        return sl_set_error(SL_ERR_ARG,
                            "econ: inconsistent counts (units %d, attempts %d, failures %d, "
                            "energy %g Wh)",
                            m->units, m->attempts, m->failures, m->energy_wh);
    m->mpl = (double)m->units / (m->sim_seconds / 3600.0);
    m->error_rate = m->attempts ? (double)m->failures / (double)m->attempts : 0.0;
    m->ep = m->energy_wh > 0 ? (double)m->units / m->energy_wh : 0.0;
    m->wage_parity = m->mpl * p->value_per_unit / p->human_wage;
    return SL_OK;
}

/* --- attempt tracker ------------------------------------------------------ */

void sl_tracker_reset(sl_tracker *tr, int timeout_steps, int end_grace) {
    memset(tr, 0, sizeof *tr);
    tr->timeout_steps = timeout_steps;
    tr->end_grace = end_grace;
}

void sl_tracker_start(sl_tracker *tr, sl_env_out *ev) {
    if (tr->open) return;
    tr->open = 1;
    tr->open_steps = 0;
    tr->attempts_total++;
    ev->attempts++;
}

void sl_tracker_success(sl_tracker *tr, sl_env_out *ev) {
    sl_tracker_start(tr, ev);
    tr->open = 0;
    ev->units++;
}

void sl_tracker_fail(sl_tracker *tr, sl_env_out *ev, sl_env_error_kind k) {
    sl_tracker_start(tr, ev);
    tr->open = 0;
    ev->failures++;
    ev->error_mask |= 1u << k;
    ev->errors[k]++;
}

void sl_tracker_tick(sl_tracker *tr, sl_env_out *ev, int last) {
    if (tr->open) {
        tr->open_steps++;
        if (tr->timeout_steps > 0 && tr->open_steps >= tr->timeout_steps)
            sl_tracker_fail(tr, ev, SL_ENV_ERR_TIMEOUT);
    }
    if (!last) return;
    if (tr->open && tr->open_steps >= tr->end_grace) sl_tracker_fail(tr, ev, SL_ENV_ERR_TIMEOUT);
    tr->open = 0;
    if (tr->attempts_total == 0) sl_tracker_fail(tr, ev, SL_ENV_ERR_TIMEOUT);
}

/* --- the wrapper ---------------------------------------------------------- */

sl_status sl_env_reset(sl_env *env, uint64_t seed, float *obs) {
    if (!env || !obs) return sl_set_error(SL_ERR_ARG, "sl_env_reset: NULL argument");
    env->state = 3;
    env->t = 0;
    memset(&env->metrics, 0, sizeof env->metrics);
    env->n_cond = 0;
    SL_TRY(env->type->reset(env, seed, obs));
    if (!sl_all_finite_f32(obs, (size_t)env->obs_dim))
        return sl_set_error(SL_ERR_DIVERGED, "%s: non-finite observation after reset", env->name);
    env->state = 1;
    return SL_OK;
}

sl_status sl_env_step(sl_env *env, const float *action, float *obs, float *applied,
                      sl_env_out *out) {
    if (!env || !action || !obs || !out) return sl_set_error(SL_ERR_ARG, "sl_env_step: NULL argument");
    if (env->state != 1)
        return sl_set_error(SL_ERR_STATE, "%s: step called %s", env->name,
                            env->state == 0   ? "before reset"
                            : env->state == 2 ? "after the episode ended (reset first)"
                                              : "after an error (reset first)");
    float a[64];
    if (env->act_dim > (int)(sizeof a / sizeof a[0]))
        return sl_set_error(SL_ERR_RANGE, "%s: act_dim %d too large", env->name, env->act_dim);
    for (int i = 0; i < env->act_dim; i++) {
        if (!isfinite(action[i]))
            return sl_set_error(SL_ERR_NAN, "%s: action[%d] is %s at control step %d", env->name,
                                i, isnan(action[i]) ? "NaN" : "Inf", env->t);
        float v = action[i];
        a[i] = v < env->act_lo[i] ? env->act_lo[i] : v > env->act_hi[i] ? env->act_hi[i] : v;
    }
    memset(out, 0, sizeof *out);
    int last = env->t + 1 >= env->max_steps;
    sl_status st = env->type->step(env, a, last, obs, out);
    if (st != SL_OK) {
        env->state = 3;
        return st;
    }
    if (!sl_all_finite_f32(obs, (size_t)env->obs_dim) || !isfinite(out->reward) ||
        !isfinite(out->energy_wh)) {
        env->state = 3;
        return sl_set_error(SL_ERR_DIVERGED, "%s: non-finite observation or reward at control step %d",
                            env->name, env->t);
    }
    env->t++;
    out->timeout = last && !out->terminal;
    sl_env_metrics *m = &env->metrics;
    m->steps++;
    m->units += out->units;
    m->attempts += out->attempts;
    m->failures += out->failures;
    for (int k = 0; k < SL_ENV_ERR_KIND_COUNT; k++)
        m->errors_by_kind[k] += out->errors[k];
    m->energy_wh += out->energy_wh;
    m->total_reward += (double)out->reward;
    m->sim_seconds = (double)env->t * env->control_dt;
    if (out->terminal || last) env->state = 2;
    if (applied) memcpy(applied, a, (size_t)env->act_dim * sizeof(float));
    return SL_OK;
}

sl_status sl_env_episode_metrics(const sl_env *env, sl_env_metrics *m) {
    if (!env || !m) return sl_set_error(SL_ERR_ARG, "sl_env_episode_metrics: NULL argument");
    if (env->t == 0) return sl_set_error(SL_ERR_STATE, "%s: no steps taken in this episode", env->name);
    *m = env->metrics;
    return sl_econ_compute(m, &env->econ);
}

sl_status sl_env_expert(sl_env *env, const float *obs, float *action) {
    if (!env || !obs || !action) return sl_set_error(SL_ERR_ARG, "sl_env_expert: NULL argument");
    return env->type->expert(env, obs, action);
}

void sl_env_free(sl_env *env) {
    if (!env) return;
    if (env->type && env->type->free_ctx) env->type->free_ctx(env->ctx);
    free(env->act_lo);
    free(env->act_hi);
    free(env);
}

/* --- behaviour policies --------------------------------------------------- */

static const char *const policy_names[] = {"expert", "medium", "random", "medium-expert", "mixed", "mpc"};
_Static_assert(sizeof policy_names / sizeof policy_names[0] == SL_POLICY_KIND_COUNT, "policy names");

const char *sl_policy_name(sl_policy_kind k) {
    return ((unsigned)k < SL_POLICY_KIND_COUNT) ? policy_names[k] : "?";
}

sl_status sl_policy_parse(const char *name, sl_policy_kind *out) {
    for (int k = 0; k < SL_POLICY_KIND_COUNT; k++)
        if (name && strcmp(name, policy_names[k]) == 0) {
            *out = (sl_policy_kind)k;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG,
                        "unknown policy '%s' (expected expert, medium, random, medium-expert, "
                        "mixed or mpc)",
                        name ? name : "");
}

double sl_policy_quality(sl_policy_kind base) {
    switch (base) {
    case SL_POLICY_EXPERT:
    case SL_POLICY_MPC: return 1.0;
    case SL_POLICY_MEDIUM: return 0.5;
    case SL_POLICY_RANDOM: return 0.0;
    default: return -1.0;
    }
}

/* Noise levels, as a fraction of each action's half-range. */
#define EXPERT_NOISE 0.05
#define MEDIUM_NOISE 0.1
#define MEDIUM_RANDOM_P 0.05

sl_status sl_policy_act(sl_env *env, sl_policy_kind base, sl_rng *rng, const float *obs,
                        float *action) {
    int n = env->act_dim;
    if (base == SL_POLICY_RANDOM ||
        (base == SL_POLICY_MEDIUM && sl_rng_uniform(rng) < MEDIUM_RANDOM_P)) {
        for (int i = 0; i < n; i++)
            action[i] = (float)sl_rng_uniform_range(rng, (double)env->act_lo[i], (double)env->act_hi[i]);
        return SL_OK;
    }
    if (base == SL_POLICY_MPC) {
        if (!env->type->expert_is_planner)
            return sl_set_error(SL_ERR_ARG, "%s: policy 'mpc' needs a task-spec environment (the %s's expert is "
                                "its scripted controller: use 'expert')", env->name, env->name);
        return env->type->expert(env, obs, action);
    }
    if (base != SL_POLICY_EXPERT && base != SL_POLICY_MEDIUM)
        return sl_set_error(SL_ERR_ARG, "sl_policy_act: '%s' is not a base policy", sl_policy_name(base));
    SL_TRY(env->type->expert(env, obs, action));
    double sd = base == SL_POLICY_EXPERT ? EXPERT_NOISE : MEDIUM_NOISE;
    for (int i = 0; i < n; i++) {
        double lo = (double)env->act_lo[i], hi = (double)env->act_hi[i];
        double v = (double)action[i] + sd * 0.5 * (hi - lo) * sl_rng_normal(rng);
        action[i] = (float)(v < lo ? lo : v > hi ? hi : v);
    }
    return SL_OK;
}

/* Base policy of an episode under a (possibly mixed) kind. */
static sl_policy_kind episode_base(sl_policy_kind kind, sl_rng *rng) {
    double u = sl_rng_uniform(rng);
    switch (kind) {
    case SL_POLICY_MEDIUM_EXPERT: return u < 0.5 ? SL_POLICY_EXPERT : SL_POLICY_MEDIUM;
    case SL_POLICY_MIXED:
        return u < 0.3 ? SL_POLICY_EXPERT : u < 0.7 ? SL_POLICY_MEDIUM : SL_POLICY_RANDOM;
    default: return kind;
    }
}

/* --- collection ----------------------------------------------------------- */

static void mean_std(const double *x, size_t n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    double mu = n ? s / (double)n : 0.0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mu) * (x[i] - mu);
    *mean = mu;
    *sd = n ? sqrt(ss / (double)n) : 0.0;
}

/* Episode columns written by the collector, in order. */
enum {
    EC_MPL, EC_ERROR_RATE, EC_ENERGY, EC_EP, EC_WAGE, EC_UNITS, EC_ATTEMPTS, EC_FAILURES,
    EC_DROPS, EC_MISSES, EC_COLLISIONS, EC_TIMEOUTS, EC_SECONDS, EC_RETURN, EC_QUALITY, EC_COUNT
};
static const char *const ep_col_names[] = {
    "mpl", "error_rate", "energy_wh", "ep", "wage_parity", "units", "attempts", "failures",
    "drops", "misses", "collisions", "timeouts", "sim_seconds", "return", "policy_quality"};
_Static_assert(sizeof ep_col_names / sizeof ep_col_names[0] == EC_COUNT, "episode columns");

enum { SC_UNIT, SC_ERROR, SC_ATTEMPT, SC_ENERGY, SC_HOLDING, SC_COUNT };
static const char *const step_col_names[] = {"unit_done", "error_event", "attempt_event",
                                             "energy_wh", "holding"};
_Static_assert(sizeof step_col_names / sizeof step_col_names[0] == SC_COUNT, "step columns");

/* The collector behind both entry points: a policy kind, or a callback (fn != NULL). */
static sl_status collect(sl_env *env, sl_policy_kind kind, sl_env_policy_fn fn, void *fn_ctx,
                         size_t episodes, uint64_t seed, sl_dataset **out, sl_collect_summary *summary) {
    if (!env || !out) return sl_set_error(SL_ERR_ARG, "sl_env_collect: NULL argument");
    *out = NULL;
    if (episodes == 0 || episodes > 10000000)
        return sl_set_error(SL_ERR_ARG, "collect: episodes must be in [1, 1e7], got %zu", episodes);
    if (!fn && (unsigned)kind >= SL_POLICY_KIND_COUNT)
        return sl_set_error(SL_ERR_ARG, "collect: bad policy kind %d", (int)kind);
    size_t cap;
    SL_TRY(sl_mul_size(episodes, (size_t)env->max_steps, &cap));
    int od = env->obs_dim, ad = env->act_dim;
    float *obs = malloc((size_t)od * sizeof(float)), *nobs = malloc((size_t)od * sizeof(float));
    float *act = malloc((size_t)ad * sizeof(float)), *applied = malloc((size_t)ad * sizeof(float));
    double *epv = calloc(episodes * (EC_COUNT + SL_ENV_MAX_COND), sizeof(double));
    sl_dataset *ds = NULL;
    sl_status st = SL_OK;
    if (!obs || !nobs || !act || !applied || !epv) {
        st = sl_set_error(SL_ERR_NOMEM, "collect: out of memory");
        goto done;
    }
    if ((st = sl_dataset_alloc(&ds, cap, od, ad)) != SL_OK) goto done;
    float *sc[SC_COUNT];
    for (int c = 0; c < SC_COUNT; c++)
        if ((st = sl_dataset_add_step_col(ds, step_col_names[c], &sc[c])) != SL_OK) goto done;

    sl_collect_summary sum;
    memset(&sum, 0, sizeof sum);
    sl_progress prog;
    sl_progress_begin(&prog, "collect", episodes);
    size_t row = 0;
    int n_cond = 0;
    char cond_names[SL_ENV_MAX_COND][32];
    for (size_t e = 0; e < episodes; e++) {
        sl_rng er;
        sl_rng_seed(&er, seed, 1000003u + (uint64_t)e);
        uint64_t env_seed = sl_rng_u64(&er);
        sl_policy_kind base = fn ? SL_POLICY_KIND_COUNT : episode_base(kind, &er);
        if (!fn) sum.policy_counts[base]++;
        if ((st = sl_env_reset(env, env_seed, obs)) != SL_OK) goto done;
        if (e == 0) {
            n_cond = env->n_cond;
            memcpy(cond_names, env->cond_names, sizeof cond_names);
        }
        for (int t = 0;; t++) {
            sl_env_out ev;
            st = fn ? fn(fn_ctx, env, obs, act) : sl_policy_act(env, base, &er, obs, act);
            if (st != SL_OK) goto done;
            if ((st = sl_env_step(env, act, nobs, applied, &ev)) != SL_OK) goto done;
            if (row >= cap) {
                st = sl_set_error(SL_ERR_INTERNAL, "collect: more steps than max_steps");
                goto done;
            }
            memcpy(ds->observations + row * (size_t)od, obs, (size_t)od * sizeof(float));
            memcpy(ds->next_observations + row * (size_t)od, nobs, (size_t)od * sizeof(float));
            memcpy(ds->actions + row * (size_t)ad, applied, (size_t)ad * sizeof(float));
            ds->rewards[row] = ev.reward;
            ds->terminals[row] = (uint8_t)(ev.terminal != 0);
            ds->timeouts[row] = (uint8_t)(ev.timeout != 0);
            ds->episode_ids[row] = (int32_t)e;
            ds->timesteps[row] = t;
            sc[SC_UNIT][row] = (float)ev.units;
            sc[SC_ERROR][row] = (float)ev.failures;
            sc[SC_ATTEMPT][row] = (float)ev.attempts;
            sc[SC_ENERGY][row] = (float)ev.energy_wh;
            sc[SC_HOLDING][row] = (float)ev.holding;
            row++;
            memcpy(obs, nobs, (size_t)od * sizeof(float));
            if (ev.terminal || ev.timeout) break;
        }
        sl_env_metrics m;
        if ((st = sl_env_episode_metrics(env, &m)) != SL_OK) goto done;
        double *v = epv + e * (EC_COUNT + SL_ENV_MAX_COND);
        v[EC_MPL] = m.mpl;
        v[EC_ERROR_RATE] = m.error_rate;
        v[EC_ENERGY] = m.energy_wh;
        v[EC_EP] = m.ep;
        v[EC_WAGE] = m.wage_parity;
        v[EC_UNITS] = m.units;
        v[EC_ATTEMPTS] = m.attempts;
        v[EC_FAILURES] = m.failures;
        v[EC_DROPS] = m.errors_by_kind[SL_ENV_ERR_DROP];
        v[EC_MISSES] = m.errors_by_kind[SL_ENV_ERR_MISS];
        v[EC_COLLISIONS] = m.errors_by_kind[SL_ENV_ERR_COLLISION];
        v[EC_TIMEOUTS] = m.errors_by_kind[SL_ENV_ERR_TIMEOUT];
        v[EC_SECONDS] = m.sim_seconds;
        v[EC_RETURN] = m.total_reward;
        v[EC_QUALITY] = fn ? -1.0 : sl_policy_quality(base);
        for (int c = 0; c < n_cond; c++) v[EC_COUNT + c] = env->cond[c];
        sl_progress_update(&prog, e + 1, NULL);
    }
    sl_progress_end(&prog);

    ds->n = row; /* arrays keep their capacity; only the first n rows are meaningful */
    ds->n_episodes = episodes;
    int has_units = sl_env_has_units(env);
    for (int c = 0; c < EC_COUNT + n_cond; c++) {
        double *col;
        const char *nm = c < EC_COUNT ? ep_col_names[c] : cond_names[c - EC_COUNT];
        /* without units in the task, MPL, error rate, EP and their counts mean nothing:
         * absent, not zero */
        if (!has_units && c < EC_COUNT && c != EC_ENERGY && c != EC_SECONDS && c != EC_RETURN && c != EC_QUALITY)
            continue;
        if ((st = sl_dataset_add_ep_col(ds, nm, &col)) != SL_OK) goto done;
        for (size_t e = 0; e < episodes; e++) col[e] = epv[e * (EC_COUNT + SL_ENV_MAX_COND) + (size_t)c];
    }
    if ((st = sl_dataset_validate(ds, "collected dataset")) != SL_OK) goto done;

    sum.episodes = episodes;
    sum.steps = row;
    double *tmp = malloc(episodes * sizeof(double));
    if (!tmp) {
        st = sl_set_error(SL_ERR_NOMEM, "collect: out of memory");
        goto done;
    }
    struct { int col; double *mean, *sd; } stats[] = {
        {EC_MPL, &sum.mean_mpl, &sum.std_mpl},
        {EC_ERROR_RATE, &sum.mean_error_rate, &sum.std_error_rate},
        {EC_ENERGY, &sum.mean_energy_wh, &sum.std_energy_wh},
        {EC_EP, &sum.mean_ep, &sum.std_ep},
        {EC_WAGE, &sum.mean_wage_parity, &sum.std_wage_parity},
        {EC_UNITS, &sum.mean_units, &sum.std_units},
        {EC_RETURN, &sum.mean_return, &sum.std_return},
    };
    for (size_t s = 0; s < sizeof stats / sizeof stats[0]; s++) {
        for (size_t e = 0; e < episodes; e++) tmp[e] = epv[e * (EC_COUNT + SL_ENV_MAX_COND) + (size_t)stats[s].col];
        mean_std(tmp, episodes, stats[s].mean, stats[s].sd);
    }
    free(tmp);
    sum.has_units = has_units;
    if (!has_units)
        sum.mean_mpl = sum.std_mpl = sum.mean_error_rate = sum.std_error_rate = sum.mean_ep = sum.std_ep =
            sum.mean_wage_parity = sum.std_wage_parity = sum.mean_units = sum.std_units = NAN;
    if (summary) *summary = sum;
    *out = ds;
    ds = NULL;
done:
    sl_dataset_free(ds);
    free(obs);
    free(nobs);
    free(act);
    free(applied);
    free(epv);
    return st;
}

sl_status sl_env_collect(sl_env *env, sl_policy_kind kind, size_t episodes, uint64_t seed,
                         sl_dataset **out, sl_collect_summary *summary) {
    return collect(env, kind, NULL, NULL, episodes, seed, out, summary);
}

sl_status sl_env_collect_fn(sl_env *env, sl_env_policy_fn fn, void *ctx, size_t episodes, uint64_t seed,
                            sl_dataset **out, sl_collect_summary *summary) {
    if (!fn) return sl_set_error(SL_ERR_ARG, "sl_env_collect_fn: NULL policy");
    return collect(env, SL_POLICY_KIND_COUNT, fn, ctx, episodes, seed, out, summary);
}
