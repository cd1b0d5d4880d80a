/* SPDX-License-Identifier: Apache-2.0 */
/* test_rl.c - replay buffer sampling, TD3+BC, SAC and IQL learning, weights, determinism. */
#include "harness.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"

#define OD 4
#define AD 2

/* A one-step contextual bandit: the best action is a*(s) = 0.8 * tanh(W s). */
static void best_action(const float *s, float *a) {
    static const float W[AD][OD] = {{0.9f, -0.5f, 0.3f, 0.0f}, {-0.2f, 0.7f, 0.0f, 0.6f}};
    for (int j = 0; j < AD; j++) {
        float z = 0;
        for (int i = 0; i < OD; i++) z += W[j][i] * s[i];
        a[j] = 0.8f * tanhf(z);
    }
}

static float bandit_reward(const float *s, const float *a) {
    float b[AD], r = 0;
    best_action(s, b);
    for (int j = 0; j < AD; j++) r -= (a[j] - b[j]) * (a[j] - b[j]);
    return r;
}

/* n transitions: actions = a* + noise (behaviour data of medium quality). */
static void make_bandit(size_t n, float noise, uint64_t seed, float *obs, float *act, float *rew,
                        float *next, float *done) {
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    for (size_t k = 0; k < n; k++) {
        for (int i = 0; i < OD; i++) obs[k * OD + i] = (float)sl_rng_uniform_range(&r, -1, 1);
        best_action(obs + k * OD, act + k * AD);
        for (int j = 0; j < AD; j++) {
            float v = act[k * AD + j] + noise * (float)sl_rng_normal(&r);
            act[k * AD + j] = v > 1 ? 1 : (v < -1 ? -1 : v);
        }
        rew[k] = bandit_reward(obs + k * OD, act + k * AD);
        for (int i = 0; i < OD; i++) next[k * OD + i] = obs[k * OD + i];
        done[k] = 1.0f;
    }
}

typedef struct {
    size_t n;
    float *obs, *act, *rew, *next, *done;
} bandit;

static bandit bandit_new(size_t n, float noise, uint64_t seed) {
    bandit b = {n, malloc(n * OD * 4), malloc(n * AD * 4), malloc(n * 4), malloc(n * OD * 4),
                malloc(n * 4)};
    make_bandit(n, noise, seed, b.obs, b.act, b.rew, b.next, b.done);
    return b;
}

static void bandit_free(bandit *b) {
    free(b->obs);
    free(b->act);
    free(b->rew);
    free(b->next);
    free(b->done);
}

TEST(replay_rejects_bad_input) {
    sl_replay *r;
    CHECK_OK(sl_replay_alloc(&r, 4, OD, AD));
    bandit b = bandit_new(5, 0.1f, 1);
    CHECK_STATUS(sl_replay_add(r, 5, b.obs, b.act, b.rew, b.next, b.done, NULL, SL_SOURCE_REAL),
                 SL_ERR_RANGE);
    b.obs[2 * OD + 1] = NAN;
    CHECK_STATUS(sl_replay_add(r, 3, b.obs, b.act, b.rew, b.next, b.done, NULL, SL_SOURCE_REAL),
                 SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "row 2") != NULL);
    CHECK(r->n == 0);
    float w[2] = {1.0f, -0.5f};
    CHECK_STATUS(sl_replay_add(r, 2, b.act, b.act, b.rew, b.act, b.done, w, SL_SOURCE_SYNTH),
                 SL_ERR_ARG);
    sl_batch bt;
    CHECK_OK(sl_batch_alloc(&bt, 8, OD, AD));
    sl_rng rng;
    sl_rng_seed(&rng, 1, 0);
    CHECK_STATUS(sl_replay_sample(r, &bt, SL_RL_SAMPLE_PROPORTIONAL, &rng), SL_ERR_STATE);
    sl_batch_free(&bt);
    bandit_free(&b);
    sl_replay_free(r);
}

/* Draw many batches and compare each row's frequency (proportional) or accumulated loss
 * weight (importance) with w_i / sum(w). */
static void check_sampling(sl_rl_sampling mode) {
    enum { N = 6 };
    float w[N] = {1.0f, 1.0f, 0.0f, 3.0f, 0.5f, 0.0f};
    sl_source src[N] = {SL_SOURCE_REAL, SL_SOURCE_REAL, SL_SOURCE_REAL,
                        SL_SOURCE_SYNTH, SL_SOURCE_SYNTH, SL_SOURCE_SYNTH};
    sl_replay *r;
    CHECK_OK(sl_replay_alloc(&r, N, OD, AD));
    bandit b = bandit_new(N, 0.1f, 2);
    for (int i = 0; i < N; i++)
        CHECK_OK(sl_replay_add(r, 1, b.obs + i * OD, b.act + i * AD, b.rew + i, b.next + i * OD,
                               b.done + i, &w[i], src[i]));
    CHECK_CLOSE(sl_replay_synth_share(r), 3.5 / 5.5, 1e-12);
    sl_batch bt;
    CHECK_OK(sl_batch_alloc(&bt, 64, OD, AD));
    sl_rng rng;
    sl_rng_seed(&rng, 3, 0);
    double infl[N] = {0};
    double total = 0;
    for (int it = 0; it < 4000; it++) {
        CHECK_OK(sl_replay_sample(r, &bt, mode, &rng));
        for (int k = 0; k < bt.B; k++) {
            infl[bt.index[k]] += (double)bt.lw[k];
            total += (double)bt.lw[k];
        }
    }
    for (int i = 0; i < N; i++) {
        double want = (double)w[i] / 5.5;
        CHECK_MSG(fabs(infl[i] / total - want) < 0.01, "%s row %d influence %.4f want %.4f",
                  sl_rl_sampling_name(mode), i, infl[i] / total, want);
    }
    CHECK(infl[2] == 0.0 && infl[5] == 0.0);
    sl_batch_free(&bt);
    bandit_free(&b);
    sl_replay_free(r);
}

TEST(sampling_proportional_matches_weights) { check_sampling(SL_RL_SAMPLE_PROPORTIONAL); }
TEST(sampling_importance_matches_weights) { check_sampling(SL_RL_SAMPLE_IMPORTANCE); }

/* --- sl_replay_sample against the version that recomputed its sums on every draw --- */

/* sl_replay_sample as it was before the weight sums were cached: tables rebuilt from the
 * rows on every call, the synthetic weight and the per-source means summed on every draw.
 * Fills index[B] and lw[B]; returns 0 if no row has positive weight. */
static int ref_sample(const sl_replay *r, int B, sl_rl_sampling mode, sl_rng *rng, size_t *index,
                      float *lw) {
    double *cum = malloc((r->n ? r->n : 1) * sizeof(double));
    size_t *idx_real = malloc((r->n ? r->n : 1) * sizeof(size_t));
    size_t *idx_synth = malloc((r->n ? r->n : 1) * sizeof(size_t));
    size_t n_real = 0, n_synth = 0;
    double acc = 0.0;
    for (size_t i = 0; i < r->n; i++) {
        acc += (double)r->weight[i];
        cum[i] = acc;
        if (r->weight[i] > 0.0f) {
            if (r->source[i] == SL_SOURCE_REAL) idx_real[n_real++] = i;
            else idx_synth[n_synth++] = i;
        }
    }
    double total = r->n ? cum[r->n - 1] : 0.0;
    int ok = total > 0.0;
    uint8_t *src = malloc((size_t)B);
    double synth_w = 0.0;
    if (ok && mode == SL_RL_SAMPLE_IMPORTANCE)
        for (size_t k = 0; k < n_synth; k++) synth_w += (double)r->weight[idx_synth[k]];
    double p_synth = synth_w / total;
    for (int k = 0; ok && k < B; k++) {
        size_t i;
        if (mode == SL_RL_SAMPLE_PROPORTIONAL) {
            double u = sl_rng_uniform(rng) * total;
            size_t lo = 0, hi = r->n - 1;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cum[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            i = lo;
            while (r->weight[i] <= 0.0f && i + 1 < r->n) i++;
        } else {
            int synth = n_synth > 0 && (n_real == 0 || sl_rng_uniform(rng) < p_synth);
            if (synth) i = idx_synth[sl_rng_below(rng, n_synth)];
            else i = idx_real[sl_rng_below(rng, n_real)];
        }
        index[k] = i;
        src[k] = r->source[i];
        lw[k] = mode == SL_RL_SAMPLE_PROPORTIONAL ? 1.0f : r->weight[i];
    }
    if (ok && mode == SL_RL_SAMPLE_IMPORTANCE) {
        double mean_real = 0.0, mean_synth = 0.0;
        for (size_t k = 0; k < n_real; k++) mean_real += (double)r->weight[idx_real[k]];
        for (size_t k = 0; k < n_synth; k++) mean_synth += (double)r->weight[idx_synth[k]];
        mean_real = n_real ? mean_real / (double)n_real : 1.0;
        mean_synth = n_synth ? mean_synth / (double)n_synth : 1.0;
        double wsum = 0.0;
        for (int k = 0; k < B; k++) {
            double m = src[k] == SL_SOURCE_SYNTH ? mean_synth : mean_real;
            lw[k] = (float)((double)lw[k] / m);
            wsum += (double)lw[k];
        }
        float scale = wsum > 0.0 ? (float)((double)B / wsum) : 1.0f;
        for (int k = 0; k < B; k++) lw[k] *= scale;
    }
    free(cum), free(idx_real), free(idx_synth), free(src);
    return ok;
}

/* Same seed => the same rows and the same loss-weight bits as the reference, in both modes,
 * over many batches, with additions in between (tables rebuilt), zero weights, weights that
 * do not sum exactly in double, and buffers holding one source only. */
TEST(replay_sampling_bits_match_reference) {
    enum { CAP = 5000, B = 97 };
    bandit bd = bandit_new(CAP, 0.1f, 5);
    float *w = malloc(CAP * sizeof(float));
    sl_rng wr;
    sl_rng_seed(&wr, 11, 0);
    for (int i = 0; i < CAP; i++) {
        double u = sl_rng_uniform(&wr);
        w[i] = u < 0.15 ? 0.0f : (float)(1e-3 + 3.0 * sl_rng_uniform(&wr)); /* ~15% zeros */
    }
    /* the chunks added: real, synth, real, synth, ... (layouts: mixed, real only, synth only) */
    static const size_t chunks[] = {700, 1300, 200, 900, 1900};
    for (int layout = 0; layout < 3; layout++)
        for (int mode = 0; mode < SL_RL_SAMPLING_COUNT; mode++) {
            sl_replay *r = NULL;
            CHECK_OK(sl_replay_alloc(&r, CAP, OD, AD));
            sl_batch bt;
            CHECK_OK(sl_batch_alloc(&bt, B, OD, AD));
            size_t *ref_idx = malloc(B * sizeof(size_t));
            float *ref_lw = malloc(B * sizeof(float));
            sl_rng a, b;
            sl_rng_seed(&a, 1000 + (uint64_t)mode, 7);
            sl_rng_seed(&b, 1000 + (uint64_t)mode, 7);
            size_t off = 0, bad = 0, draws = 0;
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                sl_source src = layout == 1   ? SL_SOURCE_REAL
                                : layout == 2 ? SL_SOURCE_SYNTH
                                : (c % 2 ? SL_SOURCE_SYNTH : SL_SOURCE_REAL);
                CHECK_OK(sl_replay_add(r, chunks[c], bd.obs + off * OD, bd.act + off * AD,
                                       bd.rew + off, bd.next + off * OD, bd.done + off, w + off,
                                       src));
                off += chunks[c];
                for (int it = 0; it < 60; it++) {
                    CHECK_OK(sl_replay_sample(r, &bt, (sl_rl_sampling)mode, &a));
                    CHECK(ref_sample(r, B, (sl_rl_sampling)mode, &b, ref_idx, ref_lw));
                    for (int k = 0; k < B; k++) {
                        uint32_t x, y;
                        memcpy(&x, &bt.lw[k], 4);
                        memcpy(&y, &ref_lw[k], 4);
                        if (bt.index[k] != ref_idx[k] || x != y) bad++;
                        CHECK(r->weight[bt.index[k]] > 0.0f);
                    }
                    draws += B;
                }
            }
            CHECK_MSG(bad == 0, "layout %d %s: %zu of %zu draws differ from the reference", layout,
                      sl_rl_sampling_name((sl_rl_sampling)mode), bad, draws);
            CHECK(sl_rng_u64(&a) == sl_rng_u64(&b)); /* same number of random numbers used */
            free(ref_idx), free(ref_lw);
            sl_batch_free(&bt);
            sl_replay_free(r);
        }
    free(w);
    bandit_free(&bd);
}

/* The per-source weight sums are part of the tables: computed once per rebuild (in row order,
 * so equal to a fresh sum), not per draw. A weight edited in place without the dirty flag is
 * therefore not seen by the importance draws (the documented contract: weights change
 * through sl_replay_add, or set dirty); with the flag, the next draw rebuilds. */
TEST(replay_sums_cached_per_rebuild) {
    enum { N = 400, B = 64 };
    bandit bd = bandit_new(N, 0.1f, 6);
    float w[N];
    for (int i = 0; i < N; i++) w[i] = i % 7 == 0 ? 0.0f : 0.25f + (float)(i % 5);
    sl_replay *r = NULL;
    CHECK_OK(sl_replay_alloc(&r, N, OD, AD));
    CHECK_OK(sl_replay_add(r, N / 2, bd.obs, bd.act, bd.rew, bd.next, bd.done, w, SL_SOURCE_REAL));
    CHECK_OK(sl_replay_add(r, N / 2, bd.obs + N / 2 * OD, bd.act + N / 2 * AD, bd.rew + N / 2,
                           bd.next + N / 2 * OD, bd.done + N / 2, w + N / 2, SL_SOURCE_SYNTH));
    sl_batch bt;
    CHECK_OK(sl_batch_alloc(&bt, B, OD, AD));
    sl_rng rng;
    sl_rng_seed(&rng, 9, 0);
    CHECK_OK(sl_replay_sample(r, &bt, SL_RL_SAMPLE_IMPORTANCE, &rng));
    double sr = 0.0, ss = 0.0;
    for (int i = 0; i < N; i++)
        if (w[i] > 0.0f) {
            if (i < N / 2) sr += (double)w[i];
            else ss += (double)w[i];
        }
    CHECK(r->dirty == 0 && r->w_real == sr && r->w_synth == ss);
    /* synthetic weights x100 behind the buffer's back: the draws keep the cached share */
    size_t before[B], after[B];
    sl_rng r1, r2;
    sl_rng_seed(&r1, 21, 0);
    CHECK_OK(sl_replay_sample(r, &bt, SL_RL_SAMPLE_IMPORTANCE, &r1));
    memcpy(before, bt.index, sizeof before);
    for (int i = N / 2; i < N; i++) r->weight[i] *= 100.0f;
    sl_rng_seed(&r2, 21, 0);
    CHECK_OK(sl_replay_sample(r, &bt, SL_RL_SAMPLE_IMPORTANCE, &r2));
    memcpy(after, bt.index, sizeof after);
    CHECK(memcmp(before, after, sizeof before) == 0);
    /* ... until the dirty flag says the weights changed: then mostly synthetic rows */
    r->dirty = 1;
    sl_rng_seed(&r2, 21, 0);
    CHECK_OK(sl_replay_sample(r, &bt, SL_RL_SAMPLE_IMPORTANCE, &r2));
    int n_synth = 0;
    for (int k = 0; k < B; k++) n_synth += bt.source[k] == SL_SOURCE_SYNTH;
    CHECK_MSG(n_synth > B * 9 / 10, "%d of %d synthetic after the rebuild", n_synth, B);
    CHECK(r->dirty == 0 && r->w_synth > 99.0 * ss);
    sl_batch_free(&bt);
    sl_replay_free(r);
    bandit_free(&bd);
}

static sl_agent *train_bandit(sl_rl_algo algo, const bandit *b, int updates, uint64_t seed,
                              const bandit *extra, float extra_w, sl_rl_sampling mode) {
    sl_rl_config cfg = sl_rl_config_defaults(algo, OD, AD);
    cfg.hidden = 64;
    cfg.batch = 64;
    cfg.lr_actor = 1e-3f;
    cfg.lr_critic = 1e-3f;
    cfg.seed = seed;
    cfg.sampling = mode;
    cfg.policy_freq = 1;
    sl_agent *ag = NULL;
    if (sl_agent_new(&ag, &cfg, NULL, NULL) != SL_OK) return NULL;
    sl_replay *r;
    size_t cap = b->n + (extra ? extra->n : 0);
    sl_replay_alloc(&r, cap, OD, AD);
    sl_replay_add(r, b->n, b->obs, b->act, b->rew, b->next, b->done, NULL, SL_SOURCE_REAL);
    if (extra) {
        float *w = malloc(extra->n * sizeof(float));
        for (size_t i = 0; i < extra->n; i++) w[i] = extra_w;
        sl_replay_add(r, extra->n, extra->obs, extra->act, extra->rew, extra->next, extra->done,
                      w, SL_SOURCE_SYNTH);
        free(w);
    }
    sl_rl_stats st;
    for (int i = 0; i < updates; i++)
        if (sl_agent_update(ag, r, &st) != SL_OK) {
            sl_agent_free(ag);
            ag = NULL;
            break;
        }
    sl_replay_free(r);
    return ag;
}

static double optimal_gap(sl_agent *ag, const bandit *test) {
    float *pred = malloc(test->n * AD * 4), best[AD];
    sl_agent_act(ag, test->obs, (int)test->n, pred);
    double acc = 0;
    for (size_t k = 0; k < test->n; k++) {
        best_action(test->obs + k * OD, best);
        for (int j = 0; j < AD; j++) acc += (double)((pred[k * AD + j] - best[j]) * (pred[k * AD + j] - best[j]));
    }
    free(pred);
    return acc / (double)(test->n * AD);
}

TEST(td3bc_learns_bandit) {
    bandit data = bandit_new(2000, 0.3f, 10), test = bandit_new(500, 0.0f, 11);
    sl_agent *ag = train_bandit(SL_RL_TD3BC, &data, 1500, 1, NULL, 0, SL_RL_SAMPLE_PROPORTIONAL);
    CHECK(ag != NULL);
    if (ag) {
        double gap = optimal_gap(ag, &test);
        /* behaviour noise is 0.3 (MSE 0.09): the learned policy must beat the data clearly */
        CHECK_MSG(gap < 0.03, "td3bc gap to optimal %.4f", gap);
        double mse;
        CHECK_OK(sl_agent_action_mse(ag, test.obs, test.act, test.n, &mse));
        CHECK_CLOSE(mse, gap, 1e-9); /* test.act are optimal (noise 0) up to clamping */
    }
    sl_agent_free(ag);
    bandit_free(&data);
    bandit_free(&test);
}

TEST(sac_learns_bandit) {
    bandit data = bandit_new(2000, 0.3f, 12), test = bandit_new(500, 0.0f, 13);
    sl_agent *ag = train_bandit(SL_RL_SAC, &data, 1500, 2, NULL, 0, SL_RL_SAMPLE_PROPORTIONAL);
    CHECK(ag != NULL);
    if (ag) {
        double gap = optimal_gap(ag, &test);
        CHECK_MSG(gap < 0.05, "sac gap to optimal %.4f", gap);
    }
    sl_agent_free(ag);
    bandit_free(&data);
    bandit_free(&test);
}

/* Mixed-quality data: half the rows act optimally (noise 0.05), half uniformly at random:
 * the D4RL "mixed" situation in one step. Behaviour cloning regresses onto the mixture (about
 * half of a*); IQL's advantage weights must pick the good half out. */
static bandit mixed_bandit(size_t n, uint64_t seed) {
    bandit b = bandit_new(n, 0.05f, seed);
    sl_rng r;
    sl_rng_seed(&r, seed, 99);
    for (size_t k = 0; k < n; k += 2) {
        for (int j = 0; j < AD; j++) b.act[k * AD + j] = (float)sl_rng_uniform_range(&r, -1, 1);
        b.rew[k] = bandit_reward(b.obs + k * OD, b.act + k * AD);
    }
    return b;
}

static sl_agent *train_iql(const bandit *b, float beta, int updates, uint64_t seed) {
    sl_rl_config cfg = sl_rl_config_defaults(SL_RL_IQL, OD, AD);
    cfg.hidden = 64;
    cfg.batch = 64;
    cfg.lr_actor = cfg.lr_critic = 1e-3f;
    cfg.seed = seed;
    cfg.iql_beta = beta;
    sl_agent *ag = NULL;
    sl_replay *r = NULL;
    if (sl_agent_new(&ag, &cfg, NULL, NULL) != SL_OK || sl_replay_alloc(&r, b->n, OD, AD) != SL_OK ||
        sl_replay_add(r, b->n, b->obs, b->act, b->rew, b->next, b->done, NULL, SL_SOURCE_REAL) != SL_OK) {
        sl_agent_free(ag);
        sl_replay_free(r);
        return NULL;
    }
    sl_rl_stats st;
    for (int i = 0; i < updates; i++)
        if (sl_agent_update(ag, r, &st) != SL_OK) {
            sl_agent_free(ag);
            ag = NULL;
            break;
        }
    sl_replay_free(r);
    return ag;
}

TEST(iql_beats_bc_on_mixed_data) {
    bandit data = mixed_bandit(2000, 40), test = bandit_new(500, 0.0f, 41);
    /* beta 0 is plain behaviour cloning through the same code path */
    sl_agent *bc = train_iql(&data, 0.0f, 1500, 3);
    sl_agent *iql = train_iql(&data, 10.0f, 1500, 3);
    CHECK(bc && iql);
    if (bc && iql) {
        double g_bc = optimal_gap(bc, &test), g_iql = optimal_gap(iql, &test);
        /* BC lands near half of a* (gap about E[a*^2] / 4); advantage weighting must halve it */
        CHECK_MSG(g_bc > 0.02, "bc gap %.4f: the mixed data should mislead plain BC", g_bc);
        CHECK_MSG(g_iql < 0.5 * g_bc && g_iql < 0.015, "iql gap %.4f vs bc gap %.4f", g_iql, g_bc);
    }
    sl_agent_free(bc);
    sl_agent_free(iql);
    bandit_free(&data);
    bandit_free(&test);
}

TEST(iql_rejects_bad_config) {
    sl_rl_config cfg = sl_rl_config_defaults(SL_RL_IQL, OD, AD);
    sl_agent *ag = NULL;
    cfg.iql_expectile = 1.0f;
    CHECK_STATUS(sl_agent_new(&ag, &cfg, NULL, NULL), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "expectile") != NULL);
    cfg = sl_rl_config_defaults(SL_RL_IQL, OD, AD);
    cfg.reward_scale = 0.0f;
    CHECK_STATUS(sl_agent_new(&ag, &cfg, NULL, NULL), SL_ERR_ARG);
    CHECK(ag == NULL);
    /* the value net exists for IQL only */
    cfg = sl_rl_config_defaults(SL_RL_IQL, OD, AD);
    CHECK_OK(sl_agent_new(&ag, &cfg, NULL, NULL));
    CHECK(ag && sl_agent_value_arena(ag) && sl_agent_value_arena(ag)->n_tensors == 6);
    sl_agent_free(ag);
    cfg = sl_rl_config_defaults(SL_RL_TD3BC, OD, AD);
    CHECK_OK(sl_agent_new(&ag, &cfg, NULL, NULL));
    CHECK(ag && sl_agent_value_arena(ag) == NULL);
    sl_agent_free(ag);
}

static int same_actions(sl_agent *x, sl_agent *y, const bandit *test) {
    float *p = malloc(test->n * AD * 4), *q = malloc(test->n * AD * 4);
    sl_agent_act(x, test->obs, (int)test->n, p);
    sl_agent_act(y, test->obs, (int)test->n, q);
    int same = memcmp(p, q, test->n * AD * 4) == 0;
    free(p);
    free(q);
    return same;
}

TEST(deterministic_and_zero_weight_has_no_influence) {
    bandit data = bandit_new(500, 0.3f, 20), test = bandit_new(100, 0.0f, 21);
    bandit poison = bandit_new(500, 0.0f, 22);
    for (size_t i = 0; i < poison.n * AD; i++) poison.act[i] = -poison.act[i]; /* wrong actions */
    for (int k = 0; k < 2 * SL_RL_SAMPLING_COUNT; k++) {
        int mode = k % SL_RL_SAMPLING_COUNT;
        sl_rl_algo algo = k < SL_RL_SAMPLING_COUNT ? SL_RL_TD3BC : SL_RL_IQL;
        sl_agent *a1 = train_bandit(algo, &data, 200, 5, NULL, 0, (sl_rl_sampling)mode);
        sl_agent *a2 = train_bandit(algo, &data, 200, 5, NULL, 0, (sl_rl_sampling)mode);
        sl_agent *a3 = train_bandit(algo, &data, 200, 5, &poison, 0.0f, (sl_rl_sampling)mode);
        sl_agent *a4 = train_bandit(algo, &data, 200, 5, &poison, 1.0f, (sl_rl_sampling)mode);
        CHECK(a1 && a2 && a3 && a4);
        if (a1 && a2 && a3 && a4) {
            CHECK_MSG(same_actions(a1, a2, &test), "same seed gave different bits (%s, %s)",
                      sl_rl_algo_name(algo), sl_rl_sampling_name((sl_rl_sampling)mode));
            CHECK_MSG(same_actions(a1, a3, &test), "zero-weight synthetic rows changed the policy (%s, %s)",
                      sl_rl_algo_name(algo), sl_rl_sampling_name((sl_rl_sampling)mode));
            CHECK(!same_actions(a1, a4, &test));
        }
        sl_agent_free(a1);
        sl_agent_free(a2);
        sl_agent_free(a3);
        sl_agent_free(a4);
    }
    bandit_free(&data);
    bandit_free(&test);
    bandit_free(&poison);
}

TEST(checkpoint_roundtrip) {
    bandit data = bandit_new(300, 0.3f, 30), test = bandit_new(50, 0.0f, 31);
    for (int algo = 0; algo < SL_RL_ALGO_COUNT; algo++) {
        sl_agent *a = train_bandit((sl_rl_algo)algo, &data, 50, 7, NULL, 0, SL_RL_SAMPLE_PROPORTIONAL);
        char path[700];
        snprintf(path, sizeof path, "%s/policy_%d.safetensors", harness_tmpdir(), algo);
        CHECK_OK(sl_agent_save(a, path));
        sl_agent *b = NULL;
        CHECK_OK(sl_agent_load(&b, path));
        if (a && b) CHECK(same_actions(a, b, &test));
        sl_agent_free(a);
        sl_agent_free(b);
    }
    CHECK_STATUS(sl_agent_load(&(sl_agent *){NULL}, "/nonexistent.safetensors"), SL_ERR_IO);
    bandit_free(&data);
    bandit_free(&test);
}

int main(void) {
    sl_nn_set_threads(1);
    RUN(replay_rejects_bad_input);
    RUN(sampling_proportional_matches_weights);
    RUN(sampling_importance_matches_weights);
    RUN(replay_sampling_bits_match_reference);
    RUN(replay_sums_cached_per_rebuild);
    RUN(td3bc_learns_bandit);
    RUN(sac_learns_bandit);
    RUN(iql_beats_bc_on_mixed_data);
    RUN(iql_rejects_bad_config);
    RUN(deterministic_and_zero_weight_has_no_influence);
    RUN(checkpoint_roundtrip);
    return harness_done();
}
