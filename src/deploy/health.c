/* SPDX-License-Identifier: Apache-2.0 */
/* health.c - live metrics per version over a sliding window, health states, seed 003's
 * automatic rollback triggers, and the canary and A-B analyses.
 *
 * Invariant: every decision here is a pure function of the windows and thresholds it is given,
 * so the server, the CLI and the tests reach the same decision from the same outcomes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_deploy.h"
#include "synthloop/sl_stats.h"

static const char *const health_names[] = {"healthy", "degraded", "critical"};
_Static_assert(sizeof health_names / sizeof health_names[0] == SL_HEALTH_STATE_COUNT, "health names");

const char *sl_health_state_name(sl_health_state s) {
    return (unsigned)s < SL_HEALTH_STATE_COUNT ? health_names[s] : "unknown";
}

sl_status sl_health_window_init(sl_health_window *w, int cap) {
    memset(w, 0, sizeof *w);
    if (cap < 4) return sl_set_error(SL_ERR_ARG, "health window needs >= 4 slots");
    w->buf = calloc((size_t)cap, sizeof *w->buf);
    if (!w->buf) return sl_set_error(SL_ERR_NOMEM, "health window: out of memory");
    w->cap = cap;
    return SL_OK;
}

void sl_health_window_free(sl_health_window *w) {
    if (!w) return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void sl_health_window_add(sl_health_window *w, const sl_outcome *o) {
    w->buf[w->head] = *o;
    w->head = (w->head + 1) % w->cap;
    if (w->n < w->cap) w->n++;
    w->total++;
}

/* i-th oldest element */
static const sl_outcome *at(const sl_health_window *w, int i) {
    int start = (w->head - w->n + w->cap) % w->cap;
    return &w->buf[(start + i) % w->cap];
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sl_health_compute(const sl_health_window *w, sl_health_metrics *out) {
    memset(out, 0, sizeof *out);
    out->n = w->n;
    if (w->n == 0) return;
    double s = 0, f = 0, r = 0;
    double *lat = malloc((size_t)w->n * sizeof *lat);
    for (int i = 0; i < w->n; i++) {
        const sl_outcome *o = at(w, i);
        s += o->score;
        f += o->failure ? 1 : 0;
        r += o->reward;
        if (lat) lat[i] = o->latency_ms;
    }
    out->score = s / w->n;
    out->failure_rate = f / w->n;
    if (w->n >= 2) {
        double ss = 0;
        for (int i = 0; i < w->n; i++) ss += (at(w, i)->score - out->score) * (at(w, i)->score - out->score);
        out->score_sd = sqrt(ss / (w->n - 1));
    }
    double mean_r = r / w->n;
    if (lat) {
        qsort(lat, (size_t)w->n, sizeof *lat, cmp_d);
        (void)sl_stats_quantile(lat, (size_t)w->n, 0.99, &out->latency_p99_ms);
        free(lat);
    } else {
        out->latency_p99_ms = INFINITY; /* cannot measure: fails its gate, never passes silently */
    }
    /* reward stability: the largest deviation of a quarter-window's mean reward from the
     * window's mean (seed 003's "+-0.05 across evaluation windows") */
    double dev = 0;
    if (w->n >= 8) {
        for (int q = 0; q < 4; q++) {
            int a = q * w->n / 4, b = (q + 1) * w->n / 4;
            double m = 0;
            for (int i = a; i < b; i++) m += at(w, i)->reward;
            m /= (b - a);
            if (fabs(m - mean_r) > dev) dev = fabs(m - mean_r);
        }
    }
    out->reward_stability = dev;
}

sl_health_thresholds sl_health_thresholds_default(void) {
    sl_health_thresholds t = {0.75, 0.10, 200.0, 0.05};
    return t;
}

sl_health_state sl_health_assess(const sl_health_metrics *m, const sl_health_thresholds *t,
                                 char *failing, size_t cap) {
    int bad = 0;
    size_t k = 0;
    if (failing && cap) failing[0] = 0;
#define FAIL_IF(cond, name)                                                                     \
    do {                                                                                        \
        if (cond) {                                                                             \
            bad++;                                                                              \
            if (failing && k < cap) {                                                           \
                int w_ = snprintf(failing + k, cap - k, "%s%s", k ? "," : "", name);            \
                if (w_ > 0) k += (size_t)w_;                                                    \
            }                                                                                   \
        }                                                                                       \
    } while (0)
    FAIL_IF(!(m->score >= t->min_score), "score");
    FAIL_IF(!(m->failure_rate <= t->max_failure_rate), "failure_rate");
    FAIL_IF(!(m->latency_p99_ms <= t->max_latency_ms), "latency_p99_ms");
    FAIL_IF(!(m->reward_stability <= t->max_reward_instability), "reward_stability");
#undef FAIL_IF
    return bad == 0 ? SL_HEALTHY : bad <= 2 ? SL_DEGRADED : SL_CRITICAL;
}

sl_rollback_triggers sl_rollback_triggers_default(void) {
    sl_rollback_triggers t = {0.10, 0.50, 250.0, 2};
    return t;
}

sl_canary_action sl_canary_analyse(const sl_health_metrics *cand, const sl_health_metrics *live,
                                   int episodes_at_stage, const sl_rollout_plan *plan,
                                   const sl_rollback_triggers *tr, const sl_health_thresholds *th,
                                   char *reason, size_t cap) {
    if (reason && cap) reason[0] = 0;
    if (episodes_at_stage < plan->min_episodes) return SL_CANARY_WAIT;
    char why[256] = "";
    size_t k = 0;
    int trig = 0;
#define TRIG(cond, ...)                                                                          \
    do {                                                                                         \
        if (cond) {                                                                              \
            trig++;                                                                              \
            if (k < sizeof why) {                                                                \
                int w_ = snprintf(why + k, sizeof why - k, "%s", k ? "; " : "");                 \
                if (w_ > 0) k += (size_t)w_;                                                     \
                if (k < sizeof why) {                                                            \
                    w_ = snprintf(why + k, sizeof why - k, __VA_ARGS__);                         \
                    if (w_ > 0) k += (size_t)w_;                                                 \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    } while (0)
    const double z95 = 1.6448536269514722;
    double drop = live->score > 0 ? (live->score - cand->score) / live->score : 0.0;
    double se_s = sqrt((cand->n ? cand->score_sd * cand->score_sd / cand->n : 0) +
                       (live->n ? live->score_sd * live->score_sd / live->n : 0));
    int drop_sig = live->n > 0 && cand->n > 0 &&
                   (se_s > 0 ? (live->score - cand->score) / se_s > z95 : live->score > cand->score);
    TRIG(live->n > 0 && drop > tr->score_drop && drop_sig, "score dropped %.1f%% (%.3f vs live %.3f)",
         100 * drop, cand->score, live->score);
    double rise_abs = cand->failure_rate - live->failure_rate;
    int rise = rise_abs >= 0.02 &&
               (live->failure_rate == 0 || rise_abs / live->failure_rate > tr->failure_rise);
    double pf = (cand->failure_rate * cand->n + live->failure_rate * live->n) /
                (double)(cand->n + live->n > 0 ? cand->n + live->n : 1);
    double se_f = sqrt(pf * (1 - pf) * ((cand->n ? 1.0 / cand->n : 0) + (live->n ? 1.0 / live->n : 0)));
    int rise_sig = se_f > 0 ? rise_abs / se_f > z95 : rise_abs > 0;
    TRIG(live->n > 0 && rise && rise_sig, "failure rate rose from %.3f to %.3f",
         live->failure_rate, cand->failure_rate);
    TRIG(cand->latency_p99_ms > tr->latency_ms, "latency p99 %.1f ms > %.0f ms",
         cand->latency_p99_ms, tr->latency_ms);
    char failing[128];
    sl_health_state hs = sl_health_assess(cand, th, failing, sizeof failing);
    int nfail = 0;
    for (const char *p = failing; *p; p++) nfail += *p == ',';
    if (failing[0]) nfail++;
    TRIG(hs != SL_HEALTHY && nfail >= tr->simultaneous && (drop_sig || rise_sig),
         "%d health metrics failing at once (%s)", nfail, failing);
#undef TRIG
    if (trig) {
        if (reason && cap) snprintf(reason, cap, "%s", why);
        return SL_CANARY_ROLLBACK;
    }
    if (reason && cap)
        snprintf(reason, cap, "stage passed after %d episodes: score %.3f (live %.3f), failures %.3f "
                 "(live %.3f), p99 %.1f ms", episodes_at_stage, cand->score, live->score,
                 cand->failure_rate, live->failure_rate, cand->latency_p99_ms);
    return SL_CANARY_ADVANCE;
}

int sl_ab_live_analyse(const sl_health_window *cand, const sl_health_window *live,
                       int min_episodes, double *p_value) {
    if (p_value) *p_value = 1.0;
    if (cand->n < min_episodes || live->n < min_episodes || cand->n < 2 || live->n < 2) return 0;
    double *a = malloc((size_t)cand->n * sizeof *a), *b = malloc((size_t)live->n * sizeof *b);
    int res = 0;
    if (a && b) {
        for (int i = 0; i < cand->n; i++) a[i] = at(cand, i)->score;
        for (int i = 0; i < live->n; i++) b[i] = at(live, i)->score;
        sl_welch w;
        if (sl_stats_welch(a, (size_t)cand->n, b, (size_t)live->n, 0.95, &w) == SL_OK) {
            double p = w.degenerate ? (w.diff == 0 ? 1.0 : 0.0) : w.p;
            if (p_value) *p_value = p;
            if (p < 0.05) res = w.diff > 0 ? 1 : -1;
        }
    }
    free(a);
    free(b);
    return res;
}
