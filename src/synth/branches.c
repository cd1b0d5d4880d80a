/* SPDX-License-Identifier: Apache-2.0 */
/* branches.c - gated branch collection: starts at real (episode, t), world-model rollouts with
 * behaviour-clone actions, trust scoring, the trust-floor + std-ratio gate, econ deltas against
 * the real continuation, the NPZ file and its summary.
 *
 * Invariant: trust is never bypassed (no scorer -> error), a branch whose rollout or score is
 * non-finite is rejected with its arrays zeroed, so nothing non-finite reaches a file; only
 * passed branches are flattened into learner transitions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_stats.h"
#include "synthloop/sl_synth.h"

void sl_synth_config_default(sl_synth_config *c) {
    memset(c, 0, sizeof *c);
    c->horizon = 10;
    c->branches_per_episode = 5;
    c->gate = sl_gate_from_preset(SL_GATE_NORMAL);
    c->policy_noise = 0.1f;
    c->bc_hidden = 64;
    c->bc_iters = 800;
    c->rollout_noise = -1.0f;
    c->seed = 0;
}

cJSON *sl_synth_config_json(const sl_synth_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "horizon", c->horizon);
    cJSON_AddNumberToObject(j, "branches_per_episode", c->branches_per_episode);
    cJSON_AddNumberToObject(j, "min_trust", c->gate.trust_floor);
    cJSON_AddNumberToObject(j, "std_ratio_lo", c->gate.ratio_lo);
    cJSON_AddNumberToObject(j, "std_ratio_hi", c->gate.ratio_hi);
    cJSON_AddNumberToObject(j, "policy_noise", (double)c->policy_noise);
    cJSON_AddNumberToObject(j, "bc_hidden", c->bc_hidden);
    cJSON_AddNumberToObject(j, "bc_iters", c->bc_iters);
    cJSON_AddNumberToObject(j, "rollout_noise", (double)c->rollout_noise);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    return j;
}

sl_status sl_synth_trust_score(void *ctx, const float *windows, size_t n, int T, int z_dim,
                               double *p_out) {
    return sl_trust_score_windows((sl_trust_model *)ctx, windows, n, T, z_dim, p_out);
}

void sl_branches_free(sl_branches *b) {
    if (!b) return;
    free(b->states);
    free(b->actions);
    free(b->rewards);
    free(b->econ);
    free(b->real_states);
    free(b->trust);
    free(b->std_ratio);
    free(b->delta_mpl);
    free(b->delta_error);
    free(b->delta_ep);
    free(b->passed);
    free(b->reason);
    free(b->member);
    free(b->source_episode);
    free(b->source_t);
    free(b->brick_id);
    free(b);
}

static sl_status branches_alloc(sl_branches **out, size_t n, int H, int Z, int A, int E) {
    sl_branches *b = calloc(1, sizeof *b);
    if (!b) return sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    b->n = n;
    b->horizon = H;
    b->z_dim = Z;
    b->a_dim = A;
    b->n_econ = E;
    size_t n1 = n ? n : 1;
    b->states = calloc(n1 * (size_t)(H + 1) * Z, sizeof(float));
    b->real_states = calloc(n1 * (size_t)(H + 1) * Z, sizeof(float));
    b->actions = calloc(n1 * (size_t)H * A, sizeof(float));
    b->rewards = calloc(n1 * (size_t)H, sizeof(float));
    b->econ = calloc(n1 * (size_t)H * (E ? E : 1), sizeof(float));
    b->trust = calloc(n1, sizeof(double));
    b->std_ratio = calloc(n1, sizeof(double));
    b->delta_mpl = calloc(n1, sizeof(double));
    b->delta_error = calloc(n1, sizeof(double));
    b->delta_ep = calloc(n1, sizeof(double));
    b->passed = calloc(n1, 1);
    b->reason = calloc(n1, sizeof(int32_t));
    b->member = calloc(n1, sizeof(int32_t));
    b->source_episode = calloc(n1, sizeof(int32_t));
    b->source_t = calloc(n1, sizeof(int32_t));
    b->brick_id = calloc(n1, sizeof(int32_t));
    if (!b->states || !b->real_states || !b->actions || !b->rewards || !b->econ || !b->trust ||
        !b->std_ratio || !b->delta_mpl || !b->delta_error || !b->delta_ep || !b->passed ||
        !b->reason || !b->member || !b->source_episode || !b->source_t || !b->brick_id) {
        sl_branches_free(b);
        return sl_set_error(SL_ERR_NOMEM, "branches: out of memory for %zu branches", n);
    }
    *out = b;
    return SL_OK;
}

static int econ_index(const sl_world_data *d, const char *name) {
    for (int q = 0; q < d->n_econ; q++)
        if (strcmp(d->econ_names[q], name) == 0) return q;
    return -1;
}

/* Econ deltas of branch i against the real continuation (docs/WORLD.md). */
static void econ_deltas(sl_branches *b, size_t i, const sl_world_data *d, size_t row0) {
    const int H = b->horizon, E = b->n_econ;
    int qu = econ_index(d, "unit_done"), qe = econ_index(d, "error_event"),
        qw = econ_index(d, "energy_wh");
    double us = 0, ur = 0, es = 0, er = 0, ws = 0, wr = 0;
    for (int k = 0; k < H; k++) {
        const float *ev = b->econ + ((i * H) + k) * (size_t)E;
        size_t r = row0 + (size_t)k;
        if (qu >= 0) {
            us += (double)ev[qu];
            ur += (double)d->econ[qu][r];
        }
        if (qe >= 0) {
            es += (double)ev[qe];
            er += (double)d->econ[qe][r];
        }
        if (qw >= 0) {
            ws += (double)ev[qw];
            wr += (double)d->econ[qw][r];
        }
    }
    double hours = H * d->step_seconds / 3600.0;
    b->delta_mpl[i] = qu >= 0 && hours > 0 ? (us - ur) / hours : 0.0;
    b->delta_error[i] = qe >= 0 ? (es - er) / H : 0.0;
    if (qu >= 0 && qw >= 0) {
        double eps = 1e-6;
        b->delta_ep[i] = us / (ws > eps ? ws : eps) - ur / (wr > eps ? wr : eps);
    } else {
        b->delta_ep[i] = 0.0;
    }
    if (!isfinite(b->delta_mpl[i])) b->delta_mpl[i] = 0;
    if (!isfinite(b->delta_error[i])) b->delta_error[i] = 0;
    if (!isfinite(b->delta_ep[i])) b->delta_ep[i] = 0;
}

sl_status sl_synth_collect(sl_branches **out, const sl_world *w, const sl_world_data *d,
                           sl_trust_model *trust, const int32_t *brick_of_episode,
                           sl_world_policy_fn policy, void *policy_ctx,
                           const sl_synth_config *cfg) {
    *out = NULL;
    if (!trust)
        return sl_set_error(SL_ERR_ARG, "branches: a trust model is required (trust is never "
                            "bypassed)");
    if (cfg->horizon < 1 || cfg->horizon > SL_WORLD_MAX_HORIZON)
        return sl_set_error(SL_ERR_ARG, "branches: horizon %d not in [1, %d]", cfg->horizon,
                            SL_WORLD_MAX_HORIZON);
    if (cfg->branches_per_episode < 1 || cfg->branches_per_episode > 100000)
        return sl_set_error(SL_ERR_ARG, "branches: branches per episode %d not in [1, 100000]",
                            cfg->branches_per_episode);
    SL_TRY(sl_gate_check_config(&cfg->gate));
    SL_TRY(sl_world_check_data(w, d));
    const int H = cfg->horizon, Z = d->z_dim, A = d->a_dim, E = d->n_econ, T = H + 1;
    const int K = cfg->branches_per_episode;
    if (sl_trust_model_dim(trust) != Z)
        return sl_set_error(SL_ERR_SHAPE, "branches: trust model scores %d-dim latents, data has %d",
                            sl_trust_model_dim(trust), Z);
    size_t n = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) >= (size_t)H) n += (size_t)K;
    if (n == 0)
        return sl_set_error(SL_ERR_ARG, "branches: no episode has the %d steps a %d-step branch "
                            "needs", H, H);
    if (n > (size_t)1 << 26) return sl_set_error(SL_ERR_RANGE, "branches: %zu branches is too many", n);
    sl_branches *b = NULL;
    SL_TRY(branches_alloc(&b, n, H, Z, A, E));
    b->gate = cfg->gate;
    for (int q = 0; q < E; q++) snprintf(b->econ_names[q], SL_WORLD_NAME_MAX, "%s", d->econ_names[q]);
    size_t *rows = malloc(n * sizeof *rows);
    size_t *tmp = NULL;
    sl_synth_bc *bc = NULL;
    float *win = NULL;
    double *p = NULL;
    size_t *widx = NULL;
    sl_world_rollout ro = {0};
    sl_status st = SL_OK;
    if (!rows) st = sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    /* starts */
    sl_rng rng;
    sl_rng_seed(&rng, cfg->seed, 901);
    size_t k = 0, maxlen = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) > maxlen) maxlen = sl_world_data_ep_len(d, e);
    if (st == SL_OK && !(tmp = malloc((maxlen + 1) * sizeof *tmp)))
        st = sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    int maxb = -1;
    for (size_t e = 0; e < d->n_episodes && st == SL_OK; e++) {
        size_t L = sl_world_data_ep_len(d, e);
        if (L < (size_t)H) continue;
        size_t nt = L - (size_t)H + 1; /* t0 in [0, L - H] */
        for (size_t t = 0; t < nt; t++) tmp[t] = t;
        for (int j = 0; j < K; j++) {
            size_t t0;
            if ((size_t)j < nt) { /* distinct while possible: partial Fisher-Yates */
                size_t s = (size_t)j + sl_rng_below(&rng, nt - (size_t)j);
                size_t x = tmp[j];
                tmp[j] = tmp[s];
                tmp[s] = x;
                t0 = tmp[j];
            } else {
                t0 = sl_rng_below(&rng, nt);
            }
            rows[k] = d->ep_start[e] + t0;
            b->source_episode[k] = (int32_t)e;
            b->source_t[k] = (int32_t)t0;
            b->brick_id[k] = brick_of_episode ? brick_of_episode[e] : -1;
            if (b->brick_id[k] > maxb) maxb = b->brick_id[k];
            b->member[k] = (int32_t)sl_rng_below(&rng, (uint64_t)sl_world_get_config(w)->members);
            k++;
        }
    }
    b->n_bricks = maxb + 1;
    /* policy */
    if (st == SL_OK && !policy) {
        st = sl_synth_bc_train(&bc, d, cfg->bc_hidden, cfg->bc_iters, cfg->policy_noise,
                               cfg->seed + 17);
        policy = sl_synth_bc_act;
        policy_ctx = bc;
    }
    if (st == SL_OK) {
        sl_world_rollout_opts o = {H, 0, policy, policy_ctx, cfg->rollout_noise, cfg->seed + 3};
        st = sl_world_rollout_run(w, d, rows, (int)n, &o, &ro);
    }
    /* gather each branch's member trajectory and the real continuation */
    size_t n_ok = 0;
    if (st == SL_OK) {
        win = malloc(n * (size_t)T * Z * sizeof(float));
        p = malloc(n * sizeof(double));
        widx = malloc(n * sizeof(size_t));
        if (!win || !p || !widx) st = sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    }
    for (size_t i = 0; i < n && st == SL_OK; i++) {
        size_t slot = (size_t)b->member[i] * n + i;
        float *rs = b->real_states + i * (size_t)T * Z;
        memcpy(rs, d->z + rows[i] * Z, (size_t)Z * sizeof(float));
        for (int q = 0; q < H; q++)
            memcpy(rs + (size_t)(q + 1) * Z, d->z_next + (rows[i] + q) * Z, (size_t)Z * sizeof(float));
        if (!ro.ok[slot]) {
            b->reason[i] = SL_GATE_NONFINITE;
            continue; /* arrays stay zero */
        }
        memcpy(b->states + i * (size_t)T * Z, ro.z + slot * (size_t)T * Z, (size_t)T * Z * sizeof(float));
        memcpy(b->actions + i * (size_t)H * A, ro.a + slot * (size_t)H * A, (size_t)H * A * sizeof(float));
        memcpy(b->rewards + i * (size_t)H, ro.reward + slot * (size_t)H, (size_t)H * sizeof(float));
        if (E)
            memcpy(b->econ + i * (size_t)H * E, ro.econ + slot * (size_t)H * E, (size_t)H * E * sizeof(float));
        memcpy(win + n_ok * (size_t)T * Z, b->states + i * (size_t)T * Z, (size_t)T * Z * sizeof(float));
        widx[n_ok++] = i;
    }
    if (st == SL_OK && n_ok) st = sl_trust_score_windows(trust, win, n_ok, T, Z, p);
    if (st == SL_OK) {
        for (size_t j = 0; j < n_ok; j++) {
            size_t i = widx[j];
            const float *bs = b->states + i * (size_t)T * Z, *rs = b->real_states + i * (size_t)T * Z;
            double ratio = sl_trust_std_ratio(bs, rs, T, Z);
            double tr = p[j];
            sl_gate_reason r = sl_gate_check(&cfg->gate, tr, ratio);
            b->reason[i] = (int32_t)r;
            b->passed[i] = r == SL_GATE_PASS;
            b->trust[i] = isfinite(tr) ? tr : 0.0;
            b->std_ratio[i] = isfinite(ratio) ? ratio : 0.0;
            if (r == SL_GATE_NONFINITE) {
                memset(b->states + i * (size_t)T * Z, 0, (size_t)T * Z * sizeof(float));
                memset(b->actions + i * (size_t)H * A, 0, (size_t)H * A * sizeof(float));
                memset(b->rewards + i * (size_t)H, 0, (size_t)H * sizeof(float));
                if (E) memset(b->econ + i * (size_t)H * E, 0, (size_t)H * E * sizeof(float));
            } else if (E) {
                econ_deltas(b, i, d, rows[i]);
            }
        }
    }
    sl_world_rollout_free(&ro);
    sl_synth_bc_free(bc);
    free(rows);
    free(tmp);
    free(win);
    free(p);
    free(widx);
    if (st != SL_OK) {
        sl_branches_free(b);
        return st;
    }
    *out = b;
    return SL_OK;
}

/* --- summary and file ------------------------------------------------------------------- */

static void add_quantiles(cJSON *o, const char *key, const double *x, size_t n) {
    cJSON *q = cJSON_AddObjectToObject(o, key);
    if (!q || n == 0) return;
    static const double qs[] = {0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0};
    static const char *const names[] = {"min", "p05", "p25", "p50", "p75", "p95", "max"};
    for (int i = 0; i < 7; i++) {
        double v;
        if (sl_stats_quantile(x, n, qs[i], &v) == SL_OK) cJSON_AddNumberToObject(q, names[i], v);
    }
    double m;
    if (sl_stats_mean(x, n, &m) == SL_OK) cJSON_AddNumberToObject(q, "mean", m);
}

sl_status sl_synth_certify(sl_synth_certificate *out, const sl_world *w, const sl_world_data *d,
                           float noise, uint64_t seed) {
    if (!out || !w || !d) return sl_set_error(SL_ERR_ARG, "sl_synth_certify: NULL argument");
    sl_world_eval_config ec;
    sl_world_eval_config_default(&ec);
    ec.noise = noise;
    ec.detect_folds = 0;
    ec.seed = seed;
    sl_world_eval_row rows[SL_WORLD_EVAL_MAX_H];
    SL_TRY(sl_world_evaluate(w, d, NULL, 0, &ec, NULL, NULL, rows));
    sl_synth_certificate c = {0};
    for (int i = 0; i < ec.n_h; i++) {
        if (rows[i].n_starts == 0) continue;
        double r = rows[i].std_ratio;
        c.h[c.n] = rows[i].h;
        c.std_ratio[c.n] = (isfinite(r) && rows[i].n_bad == 0) ? r : -1.0;
        c.n++;
    }
    if (c.n == 0)
        return sl_set_error(SL_ERR_SHAPE, "sl_synth_certify: no evaluation start fits any horizon");
    *out = c;
    return SL_OK;
}

sl_status sl_synth_detect_auc(const sl_branches *b, int passed_only, int folds, uint64_t seed,
                              double *auc, size_t *n_used) {
    *auc = NAN;
    if (n_used) *n_used = 0;
    if (folds < 2) return sl_set_error(SL_ERR_ARG, "branch detection: %d folds < 2", folds);
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->reason[i] != SL_GATE_NONFINITE && (!passed_only || b->passed[i])) m++;
    if (n_used) *n_used = m;
    if (m < (size_t)folds) return SL_OK; /* too few windows: undefined, NaN */
    const int T = b->horizon + 1, Z = b->z_dim;
    size_t W = (size_t)T * (size_t)Z;
    float *syn = malloc(m * W * sizeof(float)), *real = malloc(m * W * sizeof(float));
    if (!syn || !real) {
        free(syn);
        free(real);
        return sl_set_error(SL_ERR_NOMEM, "branch detection: out of memory for %zu windows", m);
    }
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->reason[i] == SL_GATE_NONFINITE || (passed_only && !b->passed[i])) continue;
        memcpy(syn + k * W, b->states + i * W, W * sizeof(float));
        memcpy(real + k * W, b->real_states + i * W, W * sizeof(float));
        k++;
    }
    sl_status st = sl_world_detect_auc(real, syn, m, T, Z, folds, seed, auc);
    free(syn);
    free(real);
    return st;
}

/* "detection": {"passed": {...}, "all": {...}}, each {"n", "auc" (null when fewer than 5
 * windows), "trust_mean"}: a fresh classifier's out-of-fold AUC of the branches against the
 * real continuation windows of the same starts and length (sl_synth_detect_auc). */
static void add_detection(cJSON *j, const sl_branches *b) {
    cJSON *d = cJSON_AddObjectToObject(j, "detection");
    if (!d) return;
    cJSON_AddNumberToObject(d, "folds", SL_SYNTH_DETECT_FOLDS);
    for (int pass_only = 1; pass_only >= 0; pass_only--) {
        cJSON *o = cJSON_AddObjectToObject(d, pass_only ? "passed" : "all");
        if (!o) return;
        double auc = NAN, ts = 0;
        size_t n = 0;
        sl_status st = sl_synth_detect_auc(b, pass_only, SL_SYNTH_DETECT_FOLDS, 0, &auc, &n);
        for (size_t i = 0; i < b->n; i++)
            if (b->reason[i] != SL_GATE_NONFINITE && (!pass_only || b->passed[i])) ts += b->trust[i];
        cJSON_AddNumberToObject(o, "n", (double)n);
        if (st == SL_OK && isfinite(auc)) cJSON_AddNumberToObject(o, "auc", auc);
        else cJSON_AddNullToObject(o, "auc");
        if (n) cJSON_AddNumberToObject(o, "trust_mean", ts / (double)n);
        else cJSON_AddNullToObject(o, "trust_mean");
    }
}

cJSON *sl_branches_summary_json(const sl_branches *b) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    size_t pass = 0, fin = 0;
    size_t by_reason[SL_GATE_REASON_COUNT] = {0};
    double *tv = malloc((b->n ? b->n : 1) * sizeof(double));
    double *rv = malloc((b->n ? b->n : 1) * sizeof(double));
    if (!tv || !rv) {
        free(tv);
        free(rv);
        cJSON_Delete(j);
        return NULL;
    }
    double dm = 0, de = 0, dp = 0;
    for (size_t i = 0; i < b->n; i++) {
        pass += b->passed[i];
        if ((unsigned)b->reason[i] < SL_GATE_REASON_COUNT) by_reason[b->reason[i]]++;
        if (b->reason[i] != SL_GATE_NONFINITE) {
            tv[fin] = b->trust[i];
            rv[fin] = b->std_ratio[i];
            fin++;
        }
        if (b->passed[i]) {
            dm += b->delta_mpl[i];
            de += b->delta_error[i];
            dp += b->delta_ep[i];
        }
    }
    cJSON_AddNumberToObject(j, "n_branches", (double)b->n);
    /* every synthetic file says the (eps, delta) of its generator or that it has none: the
     * world models are not trained with DP (docs/GEN.md, "What is not done") */
    cJSON *dpj = cJSON_AddObjectToObject(j, "dp");
    if (dpj) {
        cJSON_AddNullToObject(dpj, "epsilon");
        cJSON_AddNullToObject(dpj, "delta");
        cJSON_AddStringToObject(dpj, "mechanism", "none");
    }
    cJSON_AddNumberToObject(j, "n_passed", (double)pass);
    cJSON_AddNumberToObject(j, "pass_rate", b->n ? (double)pass / (double)b->n : 0.0);
    cJSON_AddNumberToObject(j, "horizon", b->horizon);
    cJSON *g = cJSON_AddObjectToObject(j, "gate");
    if (g) {
        cJSON_AddNumberToObject(g, "min_trust", b->gate.trust_floor);
        cJSON_AddNumberToObject(g, "std_ratio_lo", b->gate.ratio_lo);
        cJSON_AddNumberToObject(g, "std_ratio_hi", b->gate.ratio_hi);
    }
    add_quantiles(j, "trust_quantiles", tv, fin);
    add_quantiles(j, "std_ratio_quantiles", rv, fin);
    cJSON *h = cJSON_AddObjectToObject(j, "trust_histogram");
    if (h) {
        double cnt[10] = {0};
        for (size_t i = 0; i < fin; i++) {
            int bin = (int)(tv[i] * 10);
            bin = bin < 0 ? 0 : (bin > 9 ? 9 : bin);
            cnt[bin] += 1;
        }
        double edges[11];
        for (int i = 0; i <= 10; i++) edges[i] = i / 10.0;
        sl_json_add_f64_array(h, "edges", edges, 11);
        sl_json_add_f64_array(h, "counts", cnt, 10);
    }
    cJSON *r = cJSON_AddObjectToObject(j, "reasons");
    for (int i = 0; r && i < SL_GATE_REASON_COUNT; i++)
        cJSON_AddNumberToObject(r, sl_gate_reason_name((sl_gate_reason)i), (double)by_reason[i]);
    cJSON *bk = cJSON_AddArrayToObject(j, "bricks");
    for (int q = -1; bk && q < b->n_bricks; q++) {
        size_t nb = 0, pb = 0;
        double ts = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->brick_id[i] == q) {
                nb++;
                pb += b->passed[i];
                ts += b->trust[i];
            }
        if (nb == 0) continue;
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "brick", q);
        cJSON_AddNumberToObject(o, "n", (double)nb);
        cJSON_AddNumberToObject(o, "passed", (double)pb);
        cJSON_AddNumberToObject(o, "pass_rate", (double)pb / (double)nb);
        cJSON_AddNumberToObject(o, "trust_mean", ts / (double)nb);
        cJSON_AddItemToArray(bk, o);
    }
    cJSON *ec = cJSON_AddObjectToObject(j, "econ_deltas_passed_mean");
    if (ec && pass) {
        cJSON_AddNumberToObject(ec, "delta_mpl", dm / (double)pass);
        cJSON_AddNumberToObject(ec, "delta_error", de / (double)pass);
        cJSON_AddNumberToObject(ec, "delta_ep", dp / (double)pass);
    }
    const sl_synth_certificate *ce = &b->cert;
    if (ce->n > 0) {
        cJSON *gen = cJSON_AddObjectToObject(j, "generator");
        cJSON *hs = cJSON_AddArrayToObject(gen, "horizons");
        cJSON *rs = cJSON_AddArrayToObject(gen, "std_ratio");
        double lo = ce->std_ratio[0], hi = ce->std_ratio[0];
        for (int i = 0; i < ce->n; i++) {
            cJSON_AddItemToArray(hs, cJSON_CreateNumber(ce->h[i]));
            cJSON_AddItemToArray(rs, cJSON_CreateNumber(ce->std_ratio[i]));
            lo = ce->std_ratio[i] < lo ? ce->std_ratio[i] : lo;
            hi = ce->std_ratio[i] > hi ? ce->std_ratio[i] : hi;
        }
        cJSON_AddNumberToObject(gen, "min", lo);
        cJSON_AddNumberToObject(gen, "max", hi);
    }
    add_detection(j, b);
    free(tv);
    free(rv);
    return j;
}

sl_status sl_branches_save_npz(const sl_branches *b, const char *path) {
    const size_t n = b->n, H = (size_t)b->horizon, Z = (size_t)b->z_dim, A = (size_t)b->a_dim;
    const size_t E = (size_t)b->n_econ;
    size_t npass = 0;
    for (size_t i = 0; i < n; i++) npass += b->passed[i];
    size_t M = npass * H, M1 = M ? M : 1;
    float *obs = malloc(M1 * Z * sizeof(float)), *nobs = malloc(M1 * Z * sizeof(float));
    float *act = malloc(M1 * A * sizeof(float)), *rew = malloc(M1 * sizeof(float));
    float *ftr = malloc(M1 * sizeof(float)), *fsr = malloc(M1 * sizeof(float));
    uint8_t *term = calloc(M1, 1), *tout = calloc(M1, 1), *src = malloc(M1);
    int32_t *bidx = malloc(M1 * sizeof(int32_t)), *eid = malloc(M1 * sizeof(int32_t));
    int32_t *ts = malloc(M1 * sizeof(int32_t)), *bid = malloc(M1 * sizeof(int32_t));
    sl_status st = SL_OK;
    sl_npz_writer *wr = NULL;
    int32_t hk[SL_WORLD_EVAL_MAX_H]; /* the writer reads its arrays at commit: keep in scope */
    /* whether the generator has a DP guarantee: the world models are trained without DP, so
     * 0 (and no dp_epsilon / dp_delta arrays; the NPZ writer refuses non-finite values); the
     * sidecar's "dp" says the same */
    const uint8_t has_dp[1] = {0};
    if (!obs || !nobs || !act || !rew || !ftr || !fsr || !term || !tout || !src || !bidx || !eid ||
        !ts || !bid) {
        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!b->passed[i]) continue;
        for (size_t k = 0; k < H; k++, m++) {
            memcpy(obs + m * Z, b->states + (i * (H + 1) + k) * Z, Z * sizeof(float));
            memcpy(nobs + m * Z, b->states + (i * (H + 1) + k + 1) * Z, Z * sizeof(float));
            memcpy(act + m * A, b->actions + (i * H + k) * A, A * sizeof(float));
            rew[m] = b->rewards[i * H + k];
            tout[m] = k + 1 == H;
            src[m] = 1;
            ftr[m] = (float)b->trust[i];
            fsr[m] = (float)b->std_ratio[i];
            bidx[m] = (int32_t)i;
            eid[m] = b->source_episode[i];
            ts[m] = b->source_t[i] + (int32_t)k;
            bid[m] = b->brick_id[i];
        }
    }
    st = sl_npz_writer_open(&wr, path, SL_NPZ_STORED);
    if (st != SL_OK) goto done;
    {
        size_t s_st[3] = {n, H + 1, Z}, s_ac[3] = {n, H, A}, s_rw[2] = {n, H}, s_ec[3] = {n, H, E};
        size_t s_n[1] = {n}, s_mz[2] = {M, Z}, s_ma[2] = {M, A}, s_m[1] = {M}, s_one[1] = {1};
        struct {
            const char *name;
            sl_dtype dt;
            int nd;
            const size_t *shape;
            const void *data;
        } arr[] = {
            {"branch_states", SL_DTYPE_F32, 3, s_st, b->states},
            {"branch_actions", SL_DTYPE_F32, 3, s_ac, b->actions},
            {"branch_rewards", SL_DTYPE_F32, 2, s_rw, b->rewards},
            {"branch_econ", SL_DTYPE_F32, 3, s_ec, b->econ},
            {"real_states", SL_DTYPE_F32, 3, s_st, b->real_states},
            {"trust", SL_DTYPE_F64, 1, s_n, b->trust},
            {"std_ratio", SL_DTYPE_F64, 1, s_n, b->std_ratio},
            {"passed", SL_DTYPE_BOOL, 1, s_n, b->passed},
            {"reason", SL_DTYPE_I32, 1, s_n, b->reason},
            {"member", SL_DTYPE_I32, 1, s_n, b->member},
            {"source_episode", SL_DTYPE_I32, 1, s_n, b->source_episode},
            {"source_t", SL_DTYPE_I32, 1, s_n, b->source_t},
            {"brick_id", SL_DTYPE_I32, 1, s_n, b->brick_id},
            {"delta_mpl", SL_DTYPE_F64, 1, s_n, b->delta_mpl},
            {"delta_error", SL_DTYPE_F64, 1, s_n, b->delta_error},
            {"delta_ep", SL_DTYPE_F64, 1, s_n, b->delta_ep},
            {"observations", SL_DTYPE_F32, 2, s_mz, obs},
            {"actions", SL_DTYPE_F32, 2, s_ma, act},
            {"rewards", SL_DTYPE_F32, 1, s_m, rew},
            {"next_observations", SL_DTYPE_F32, 2, s_mz, nobs},
            {"terminals", SL_DTYPE_BOOL, 1, s_m, term},
            {"timeouts", SL_DTYPE_BOOL, 1, s_m, tout},
            {"source", SL_DTYPE_U8, 1, s_m, src},
            {"transition_trust", SL_DTYPE_F32, 1, s_m, ftr},
            {"transition_std_ratio", SL_DTYPE_F32, 1, s_m, fsr},
            {"branch_index", SL_DTYPE_I32, 1, s_m, bidx},
            {"episode_ids", SL_DTYPE_I32, 1, s_m, eid},
            {"timesteps", SL_DTYPE_I32, 1, s_m, ts},
            {"brick_ids", SL_DTYPE_I32, 1, s_m, bid},
            {"dp", SL_DTYPE_BOOL, 1, s_one, has_dp},
        };
        for (size_t i = 0; i < sizeof arr / sizeof arr[0] && st == SL_OK; i++)
            st = sl_npz_writer_add(wr, arr[i].name, arr[i].dt, arr[i].nd, arr[i].shape, arr[i].data);
        if (st == SL_OK && b->cert.n > 0) {
            size_t s_k[1] = {(size_t)b->cert.n};
            for (int i = 0; i < b->cert.n; i++) hk[i] = b->cert.h[i];
            st = sl_npz_writer_add(wr, "generator_horizons", SL_DTYPE_I32, 1, s_k, hk);
            if (st == SL_OK)
                st = sl_npz_writer_add(wr, "generator_std_ratio", SL_DTYPE_F64, 1, s_k,
                                       b->cert.std_ratio);
        }
    }
    if (st == SL_OK) {
        st = sl_npz_writer_commit(wr);
    } else {
        sl_npz_writer_abort(wr);
    }
done:
    free(obs);
    free(nobs);
    free(act);
    free(rew);
    free(ftr);
    free(fsr);
    free(term);
    free(tout);
    free(src);
    free(bidx);
    free(eid);
    free(ts);
    free(bid);
    return st;
}

/* --- reading the branch file (the inverse of sl_branches_save_npz) ---------------------- */

/* Fetch an array with an expected dtype and rank; the message names file and key. */
static sl_status branch_arr(sl_npz *z, const char *path, const char *key, sl_dtype dt, int ndim,
                            const sl_array **out) {
    sl_status s = sl_npz_get(z, key, out);
    if (s != SL_OK)
        return sl_set_error(s, "%s: missing key '%s' (is this a branches file from "
                               "'synthloop branches collect'?)", path, key);
    if ((*out)->dtype != dt || (*out)->ndim != ndim)
        return sl_set_error(SL_ERR_FORMAT, "%s: key '%s' has dtype %s rank %d, expected %s rank %d",
                            path, key, sl_dtype_numpy((*out)->dtype), (*out)->ndim,
                            sl_dtype_numpy(dt), ndim);
    return SL_OK;
}

/* Copy an optional per-branch array of n elements when present with the right type. */
static sl_status branch_opt(sl_npz *z, const char *path, const char *key, sl_dtype dt, size_t n,
                            size_t elem, void *dst) {
    if (!sl_npz_has(z, key)) return SL_OK;
    const sl_array *a;
    SL_TRY(branch_arr(z, path, key, dt, 1, &a));
    if (a->shape[0] != n) return sl_set_error(SL_ERR_SHAPE, "%s: '%s' has %zu rows, expected %zu",
                                              path, key, a->shape[0], n);
    memcpy(dst, a->data, n * elem);
    return SL_OK;
}

sl_status sl_branches_load_npz(sl_branches **out, const char *path) {
    *out = NULL;
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *st, *ac, *rw, *tr, *pa, *dm, *de, *dp, *se, *stt, *br;
    sl_status s = branch_arr(z, path, "branch_states", SL_DTYPE_F32, 3, &st);
    if (s == SL_OK) s = branch_arr(z, path, "branch_actions", SL_DTYPE_F32, 3, &ac);
    if (s == SL_OK) s = branch_arr(z, path, "branch_rewards", SL_DTYPE_F32, 2, &rw);
    if (s == SL_OK) s = branch_arr(z, path, "trust", SL_DTYPE_F64, 1, &tr);
    if (s == SL_OK) s = branch_arr(z, path, "passed", SL_DTYPE_BOOL, 1, &pa);
    if (s == SL_OK) s = branch_arr(z, path, "delta_mpl", SL_DTYPE_F64, 1, &dm);
    if (s == SL_OK) s = branch_arr(z, path, "delta_error", SL_DTYPE_F64, 1, &de);
    if (s == SL_OK) s = branch_arr(z, path, "delta_ep", SL_DTYPE_F64, 1, &dp);
    if (s == SL_OK) s = branch_arr(z, path, "source_episode", SL_DTYPE_I32, 1, &se);
    if (s == SL_OK) s = branch_arr(z, path, "source_t", SL_DTYPE_I32, 1, &stt);
    if (s == SL_OK) s = branch_arr(z, path, "brick_id", SL_DTYPE_I32, 1, &br);
    size_t N = 0, H = 0, Z = 0, A = 0;
    if (s == SL_OK) {
        N = st->shape[0];
        H = ac->shape[1];
        Z = st->shape[2];
        A = ac->shape[2];
        if (st->shape[1] != H + 1 || ac->shape[0] != N || rw->shape[0] != N || rw->shape[1] != H ||
            tr->shape[0] != N || pa->shape[0] != N || dm->shape[0] != N || de->shape[0] != N ||
            dp->shape[0] != N || se->shape[0] != N || stt->shape[0] != N || br->shape[0] != N ||
            H == 0 || Z == 0 || A == 0 || H > (size_t)SL_WORLD_MAX_HORIZON || Z > 1000000 ||
            A > 1000000)
            s = sl_set_error(SL_ERR_SHAPE, "%s: branch arrays disagree in shape", path);
    }
    sl_branches *b = NULL;
    if (s == SL_OK) s = branches_alloc(&b, N, (int)H, (int)Z, (int)A, 0);
    if (s == SL_OK) {
        memcpy(b->states, st->data, N * (H + 1) * Z * sizeof(float));
        memcpy(b->actions, ac->data, N * H * A * sizeof(float));
        memcpy(b->rewards, rw->data, N * H * sizeof(float));
        memcpy(b->trust, tr->data, N * sizeof(double));
        memcpy(b->passed, pa->data, N);
        memcpy(b->delta_mpl, dm->data, N * sizeof(double));
        memcpy(b->delta_error, de->data, N * sizeof(double));
        memcpy(b->delta_ep, dp->data, N * sizeof(double));
        memcpy(b->source_episode, se->data, N * sizeof(int32_t));
        memcpy(b->source_t, stt->data, N * sizeof(int32_t));
        memcpy(b->brick_id, br->data, N * sizeof(int32_t));
        for (size_t i = 0; i < N; i++) b->std_ratio[i] = NAN;
        s = branch_opt(z, path, "std_ratio", SL_DTYPE_F64, N, sizeof(double), b->std_ratio);
        if (s == SL_OK) s = branch_opt(z, path, "reason", SL_DTYPE_I32, N, sizeof(int32_t), b->reason);
        if (s == SL_OK) s = branch_opt(z, path, "member", SL_DTYPE_I32, N, sizeof(int32_t), b->member);
        for (size_t i = 0; s == SL_OK && i < N; i++)
            if (b->brick_id[i] + 1 > b->n_bricks) b->n_bricks = b->brick_id[i] + 1;
    }
    if (s == SL_OK && sl_npz_has(z, "real_states")) {
        const sl_array *rs;
        s = branch_arr(z, path, "real_states", SL_DTYPE_F32, 3, &rs);
        if (s == SL_OK && rs->count == N * (H + 1) * Z)
            memcpy(b->real_states, rs->data, rs->count * sizeof(float));
    }
    /* optional generator certificate (sl_synth_certify): std ratio per horizon */
    if (s == SL_OK && sl_npz_has(z, "generator_std_ratio")) {
        const sl_array *gr, *gh = NULL;
        s = branch_arr(z, path, "generator_std_ratio", SL_DTYPE_F64, 1, &gr);
        if (s == SL_OK && gr->shape[0] == 0)
            s = sl_set_error(SL_ERR_SHAPE, "%s: generator_std_ratio is empty", path);
        if (s == SL_OK && gr->shape[0] > SL_WORLD_EVAL_MAX_H)
            s = sl_set_error(SL_ERR_SHAPE, "%s: generator_std_ratio has %zu horizons (at most %d)",
                             path, gr->shape[0], SL_WORLD_EVAL_MAX_H);
        if (s == SL_OK && sl_npz_has(z, "generator_horizons")) {
            s = branch_arr(z, path, "generator_horizons", SL_DTYPE_I32, 1, &gh);
            if (s == SL_OK && gh->shape[0] != gr->shape[0])
                s = sl_set_error(SL_ERR_SHAPE, "%s: generator_horizons and generator_std_ratio "
                                 "differ in length", path);
        }
        const double *g = s == SL_OK ? gr->data : NULL;
        for (size_t i = 0; s == SL_OK && i < gr->shape[0]; i++) {
            if (!isfinite(g[i]))
                s = sl_set_error(SL_ERR_NAN, "%s: generator_std_ratio[%zu] is not finite", path, i);
            b->cert.std_ratio[i] = g[i];
            b->cert.h[i] = gh ? ((const int32_t *)gh->data)[i] : 0;
        }
        if (s == SL_OK) b->cert.n = (int)gr->shape[0];
    }
    sl_npz_close(z);
    if (s != SL_OK) {
        sl_branches_free(b);
        return s;
    }
    *out = b;
    return SL_OK;
}
