/* SPDX-License-Identifier: Apache-2.0 */
/* agent.c - TD3+BC and SAC on flat float buffers with importance-weighted losses.
 *
 * Networks: actor MLP obs -> hidden -> hidden -> act (TD3+BC, tanh output) or 2*act
 * (SAC, tanh-Gaussian head); two critic MLPs (obs+act) -> hidden -> hidden -> 1 in one arena;
 * target copies declared with the same layout (descriptors hold offsets, so the same
 * sl_nn_mlp works on the online and the target arena).
 * Invariant: every loss is a weighted mean with the batch's loss weights lw (mean 1), so a
 * sample with weight 0 contributes no gradient.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"

#include "agent_internal.h"

static const char *const algo_names[] = {"td3bc", "sac", "iql"};
_Static_assert(sizeof(algo_names) / sizeof(algo_names[0]) == SL_RL_ALGO_COUNT, "algo names");

const char *sl_rl_algo_name(sl_rl_algo a) {
    return (a >= 0 && a < SL_RL_ALGO_COUNT) ? algo_names[a] : "unknown";
}

sl_status sl_rl_algo_parse(const char *name, sl_rl_algo *out) {
    for (int i = 0; i < SL_RL_ALGO_COUNT; i++)
        if (name && strcmp(name, algo_names[i]) == 0) {
            *out = (sl_rl_algo)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown algorithm '%s' (td3bc|sac|iql)", name ? name : "");
}

sl_rl_config sl_rl_config_defaults(sl_rl_algo algo, int obs_dim, int act_dim) {
    sl_rl_config c;
    memset(&c, 0, sizeof c);
    c.algo = algo;
    c.obs_dim = obs_dim;
    c.act_dim = act_dim;
    c.hidden = 256;
    c.batch = 256;
    c.lr_actor = 3e-4f;
    c.lr_critic = 3e-4f;
    c.gamma = 0.99f;
    c.tau = 0.005f;
    c.policy_noise = 0.2f;
    c.noise_clip = 0.5f;
    c.policy_freq = 2;
    c.alpha_bc = 2.5f;
    c.init_alpha = 0.2f;
    c.auto_alpha = 1;
    c.sac_bc = 0.0f;
    c.sampling = SL_RL_SAMPLE_PROPORTIONAL;
    c.grad_clip = 0.0f;
    c.seed = 0;
    c.reward_scale = 1.0f;
    c.iql_expectile = 0.7f;
    c.iql_beta = 2.0f;
    c.iql_max_weight = 100.0f;
    return c;
}

static float *fbuf(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static sl_status declare_nets(sl_agent *a) {
    const sl_rl_config *c = &a->cfg;
    int out = c->algo == SL_RL_SAC ? 2 * c->act_dim : c->act_dim;
    int ps[4] = {c->obs_dim, c->hidden, c->hidden, out};
    int qs[4] = {c->obs_dim + c->act_dim, c->hidden, c->hidden, 1};
    sl_nn_arena_init(&a->actor);
    sl_nn_arena_init(&a->actor_t);
    sl_nn_arena_init(&a->critic);
    sl_nn_arena_init(&a->critic_t);
    SL_TRY(sl_nn_mlp_declare(&a->pi, &a->actor, "actor", 3, ps, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_mlp_declare(&a->pi_t, &a->actor_t, "actor", 3, ps, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_mlp_declare(&a->q1, &a->critic, "critic1", 3, qs, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_mlp_declare(&a->q2, &a->critic, "critic2", 3, qs, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_mlp_declare(&a->q1_t, &a->critic_t, "critic1", 3, qs, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_mlp_declare(&a->q2_t, &a->critic_t, "critic2", 3, qs, SL_NN_ACT_RELU, 0));
    SL_TRY(sl_nn_arena_alloc(&a->actor));
    SL_TRY(sl_nn_arena_alloc(&a->actor_t));
    SL_TRY(sl_nn_arena_alloc(&a->critic));
    SL_TRY(sl_nn_arena_alloc(&a->critic_t));
    sl_nn_arena_init(&a->value);
    if (c->algo == SL_RL_IQL) {
        int vs[4] = {c->obs_dim, c->hidden, c->hidden, 1};
        SL_TRY(sl_nn_mlp_declare(&a->v, &a->value, "value", 3, vs, SL_NN_ACT_RELU, 0));
        SL_TRY(sl_nn_arena_alloc(&a->value));
    }
    return SL_OK;
}

static sl_status alloc_scratch(sl_agent *a) {
    const sl_rl_config *c = &a->cfg;
    size_t B = (size_t)c->batch, O = (size_t)c->obs_dim, A = (size_t)c->act_dim;
    SL_TRY(sl_nn_mlp_cache_alloc(&a->c_pi, &a->pi, c->batch));
    SL_TRY(sl_nn_mlp_cache_alloc(&a->c_q1, &a->q1, c->batch));
    SL_TRY(sl_nn_mlp_cache_alloc(&a->c_q2, &a->q2, c->batch));
    SL_TRY(sl_nn_mlp_cache_alloc(&a->c_q1b, &a->q1, c->batch));
    SL_TRY(sl_nn_mlp_cache_alloc(&a->c_q2b, &a->q2, c->batch));
    SL_TRY(sl_batch_alloc(&a->own, c->batch, c->obs_dim, c->act_dim));
    a->s = fbuf(B * O);
    a->s2 = fbuf(B * O);
    a->sa = fbuf(B * (O + A));
    a->pi_out = fbuf(B * 2 * A);
    a->a_pi = fbuf(B * A);
    a->logp = fbuf(B);
    a->eps = fbuf(B * A);
    a->q1v = fbuf(B);
    a->q2v = fbuf(B);
    a->y = fbuf(B);
    a->dq1 = fbuf(B);
    a->dq2 = fbuf(B);
    a->dsa = fbuf(B * (O + A));
    a->dpi_out = fbuf(B * 2 * A);
    a->da = fbuf(B * A);
    a->dlogp = fbuf(B);
    a->vv = fbuf(B);
    a->dv = fbuf(B);
    a->wadv = fbuf(B);
    if (c->algo == SL_RL_IQL) SL_TRY(sl_nn_mlp_cache_alloc(&a->c_v, &a->v, c->batch));
    if (c->algo == SL_RL_SAC) {
        SL_TRY(sl_nn_mlp_cache_alloc(&a->c_sub, &a->q1, c->batch));
        a->g_sub = fbuf(B);
        a->dsa_sub = fbuf(B * (O + A));
        a->rows_sub = calloc(B, sizeof(int));
        a->sel_sub = calloc(B, 1);
        if (!a->g_sub || !a->dsa_sub || !a->rows_sub || !a->sel_sub)
            return sl_set_error(SL_ERR_NOMEM, "agent: out of memory");
    }
    if (!a->vv || !a->dv || !a->wadv ||
        !a->s || !a->s2 || !a->sa || !a->pi_out || !a->a_pi || !a->logp || !a->eps || !a->q1v ||
        !a->q2v || !a->y || !a->dq1 || !a->dq2 || !a->dsa || !a->dpi_out || !a->da || !a->dlogp)
        return sl_set_error(SL_ERR_NOMEM, "agent: out of memory");
    return SL_OK;
}

static sl_status validate_config(const sl_rl_config *c) {
    if (c->algo < 0 || c->algo >= SL_RL_ALGO_COUNT) return sl_set_error(SL_ERR_ARG, "agent: bad algorithm");
    if (c->obs_dim <= 0 || c->act_dim <= 0 || c->hidden <= 0 || c->batch <= 0)
        return sl_set_error(SL_ERR_ARG, "agent: dims must be positive (obs %d act %d hidden %d batch %d)",
                            c->obs_dim, c->act_dim, c->hidden, c->batch);
    if (!(c->gamma >= 0.0f && c->gamma < 1.0f) || !(c->tau > 0.0f && c->tau <= 1.0f))
        return sl_set_error(SL_ERR_ARG, "agent: gamma must be in [0,1) and tau in (0,1]");
    if (c->policy_freq < 1) return sl_set_error(SL_ERR_ARG, "agent: policy_freq must be >= 1");
    if (c->sampling < 0 || c->sampling >= SL_RL_SAMPLING_COUNT)
        return sl_set_error(SL_ERR_ARG, "agent: bad sampling mode");
    if (!(c->reward_scale > 0.0f) || !isfinite(c->reward_scale))
        return sl_set_error(SL_ERR_ARG, "agent: reward_scale must be positive and finite");
    if (c->algo == SL_RL_IQL &&
        (!(c->iql_expectile > 0.0f && c->iql_expectile < 1.0f) || !(c->iql_beta >= 0.0f) ||
         !isfinite(c->iql_beta) || !(c->iql_max_weight > 0.0f)))
        return sl_set_error(SL_ERR_ARG, "agent: IQL needs expectile in (0,1), beta >= 0 and "
                                        "max_weight > 0 (got %g, %g, %g)",
                            (double)c->iql_expectile, (double)c->iql_beta,
                            (double)c->iql_max_weight);
    return SL_OK;
}

sl_status sl_agent_new(sl_agent **out, const sl_rl_config *cfg, const float *obs_mean,
                       const float *obs_std) {
    *out = NULL;
    SL_TRY(validate_config(cfg));
    sl_agent *a = calloc(1, sizeof *a);
    if (!a) return sl_set_error(SL_ERR_NOMEM, "agent: out of memory");
    a->cfg = *cfg;
    a->obs_mean = fbuf((size_t)cfg->obs_dim);
    a->obs_std = fbuf((size_t)cfg->obs_dim);
    sl_status s = (a->obs_mean && a->obs_std) ? SL_OK : sl_set_error(SL_ERR_NOMEM, "agent: oom");
    if (s == SL_OK) {
        for (int i = 0; i < cfg->obs_dim; i++) {
            a->obs_mean[i] = obs_mean ? obs_mean[i] : 0.0f;
            float sd = obs_std ? obs_std[i] : 1.0f;
            if (!(sd > 1e-6f) || !isfinite(sd)) sd = 1.0f; /* constant feature: leave unscaled */
            a->obs_std[i] = sd;
        }
        s = declare_nets(a);
    }
    if (s == SL_OK) s = alloc_scratch(a);
    if (s != SL_OK) {
        sl_agent_free(a);
        return s;
    }
    sl_rng_seed(&a->rng, cfg->seed, 0x5eed);
    sl_rng init;
    sl_rng_seed(&init, cfg->seed, 1);
    sl_nn_mlp_init(&a->pi, a->actor.params, &init);
    sl_nn_mlp_init(&a->q1, a->critic.params, &init);
    sl_nn_mlp_init(&a->q2, a->critic.params, &init);
    if (cfg->algo == SL_RL_IQL) sl_nn_mlp_init(&a->v, a->value.params, &init);
    sl_nn_arena_copy_params(&a->actor_t, &a->actor);
    sl_nn_arena_copy_params(&a->critic_t, &a->critic);
    a->log_alpha = logf(cfg->init_alpha > 0.0f ? cfg->init_alpha : 0.2f);
    *out = a;
    return SL_OK;
}

void sl_agent_free(sl_agent *a) {
    if (!a) return;
    sl_nn_arena_free(&a->actor);
    sl_nn_arena_free(&a->actor_t);
    sl_nn_arena_free(&a->critic);
    sl_nn_arena_free(&a->critic_t);
    sl_nn_mlp_cache_free(&a->c_pi);
    sl_nn_mlp_cache_free(&a->c_q1);
    sl_nn_mlp_cache_free(&a->c_q2);
    sl_nn_mlp_cache_free(&a->c_q1b);
    sl_nn_mlp_cache_free(&a->c_q2b);
    sl_nn_arena_free(&a->value);
    sl_nn_mlp_cache_free(&a->c_v);
    sl_nn_mlp_cache_free(&a->c_sub);
    free(a->g_sub);
    free(a->dsa_sub);
    free(a->rows_sub);
    free(a->sel_sub);
    sl_batch_free(&a->own);
    float *bufs[] = {a->obs_mean, a->obs_std, a->s, a->s2, a->sa, a->pi_out, a->a_pi,
                     a->logp, a->eps, a->q1v, a->q2v, a->y, a->dq1, a->dq2, a->dsa,
                     a->dpi_out, a->da, a->dlogp, a->vv, a->dv, a->wadv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(a);
}

const sl_rl_config *sl_agent_config(const sl_agent *a) { return &a->cfg; }

/* --- helpers ------------------------------------------------------------ */

static void normalise(const sl_agent *a, float *dst, const float *src, int B) {
    int O = a->cfg.obs_dim;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < O; i++)
            dst[(size_t)b * O + i] = (src[(size_t)b * O + i] - a->obs_mean[i]) / a->obs_std[i];
}

static void concat_sa(float *sa, const float *s, const float *act, int B, int O, int A) {
    for (int b = 0; b < B; b++) {
        memcpy(sa + (size_t)b * (O + A), s + (size_t)b * O, (size_t)O * sizeof(float));
        memcpy(sa + (size_t)b * (O + A) + O, act + (size_t)b * A, (size_t)A * sizeof(float));
    }
}

/* Policy forward. TD3+BC: a = tanh(net(s)). SAC: tanh-Gaussian sample with eps (or the mean
 * when eps == NULL). Writes a->pi_out (pre-activation) and act_out; logp when SAC. */
static void policy_forward(sl_agent *a, const sl_nn_mlp *m, const float *params,
                           sl_nn_mlp_cache *c, const float *s, int B, float *act_out,
                           float *logp, const float *eps) {
    int A = a->cfg.act_dim;
    sl_nn_mlp_forward(a->pi_out, c, s, m, params, B);
    if (a->cfg.algo != SL_RL_SAC) { /* TD3+BC and IQL: deterministic tanh actor */
        sl_nn_act_forward(act_out, a->pi_out, (size_t)B * A, SL_NN_ACT_TANH);
    } else if (eps) {
        sl_nn_tanh_gaussian_forward(act_out, logp, a->pi_out, eps, B, A);
    } else {
        for (int b = 0; b < B; b++)
            for (int j = 0; j < A; j++)
                act_out[(size_t)b * A + j] = tanhf(a->pi_out[(size_t)b * 2 * A + j]);
    }
}

static int finite_arena(const sl_nn_arena *ar) { return sl_all_finite_f32(ar->params, ar->numel); }

/* --- update ------------------------------------------------------------- */

/* noise_t: given standard-normal target noise [B*A] or NULL (draw from the agent's RNG). */
static sl_status critic_update(sl_agent *a, const sl_batch *bt, const float *noise_t,
                               sl_rl_stats *st) {
    const sl_rl_config *c = &a->cfg;
    int B = bt->B, O = c->obs_dim, A = c->act_dim;
    float alpha = expf(a->log_alpha);
    /* target actions from the target actor (TD3) or the current actor (SAC) */
    if (c->algo == SL_RL_TD3BC) {
        policy_forward(a, &a->pi_t, a->actor_t.params, &a->c_pi, a->s2, B, a->a_pi, NULL, NULL);
        if (!noise_t) { /* batched float normals (sl_nn_randn), as SAC */
            sl_nn_randn(a->eps, (size_t)B * A, &a->rng);
            noise_t = a->eps;
        }
        for (size_t i = 0; i < (size_t)B * A; i++) {
            float n = noise_t[i] * c->policy_noise;
            if (n > c->noise_clip) n = c->noise_clip;
            if (n < -c->noise_clip) n = -c->noise_clip;
            float v = a->a_pi[i] + n;
            a->a_pi[i] = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
        }
    } else {
        if (noise_t) memcpy(a->eps, noise_t, (size_t)B * A * sizeof(float));
        else sl_nn_randn(a->eps, (size_t)B * A, &a->rng);
        policy_forward(a, &a->pi, a->actor.params, &a->c_pi, a->s2, B, a->a_pi, a->logp, a->eps);
    }
    concat_sa(a->sa, a->s2, a->a_pi, B, O, A);
    sl_nn_mlp_forward(a->q1v, &a->c_q1b, a->sa, &a->q1_t, a->critic_t.params, B);
    sl_nn_mlp_forward(a->q2v, &a->c_q2b, a->sa, &a->q2_t, a->critic_t.params, B);
    for (int b = 0; b < B; b++) {
        float q = fminf(a->q1v[b], a->q2v[b]);
        if (c->algo == SL_RL_SAC) q -= alpha * a->logp[b];
        a->y[b] = c->reward_scale * bt->rew[b] + c->gamma * (1.0f - bt->done[b]) * q;
    }
    /* online critics on (s, a) */
    concat_sa(a->sa, a->s, bt->act, B, O, A);
    sl_nn_mlp_forward(a->q1v, &a->c_q1, a->sa, &a->q1, a->critic.params, B);
    sl_nn_mlp_forward(a->q2v, &a->c_q2, a->sa, &a->q2, a->critic.params, B);
    float l1 = sl_nn_mse_loss(a->dq1, a->q1v, a->y, bt->lw, B, 1);
    float l2 = sl_nn_mse_loss(a->dq2, a->q2v, a->y, bt->lw, B, 1);
    sl_nn_arena_zero_grad(&a->critic);
    sl_nn_mlp_backward(NULL, a->critic.grads, &a->c_q1, a->dq1, a->sa, &a->q1, a->critic.params, B);
    sl_nn_mlp_backward(NULL, a->critic.grads, &a->c_q2, a->dq2, a->sa, &a->q2, a->critic.params, B);
    if (c->grad_clip > 0.0f) sl_nn_arena_clip_grad_norm(&a->critic, c->grad_clip);
    sl_nn_adam adam = sl_nn_adam_defaults(c->lr_critic);
    sl_nn_arena_adam_step(&a->critic, &adam);
    double qm = 0.0;
    for (int b = 0; b < B; b++) qm += (double)a->q1v[b];
    st->critic_loss = (double)l1 + (double)l2;
    st->q_mean = qm / B;
    if (!isfinite(st->critic_loss) || !finite_arena(&a->critic))
        return sl_set_error(SL_ERR_DIVERGED, "agent: critic diverged at update %llu (loss %g)",
                            (unsigned long long)a->it, st->critic_loss);
    return SL_OK;
}

/* dsa += d(sum_b g[b] Q(sa_b))/d(sa) over the rows b with sel[b] == want only (the other rows
 * have g = 0, so their input gradient is exactly zero): gather those rows' hidden activations
 * from the forward cache c, back-propagate the compact batch, scatter-add. Row-wise, so the
 * same values as the full-batch backward; saves the work on the unselected rows. */
static void critic_input_grad_rows(sl_agent *a, const sl_nn_mlp *q, const sl_nn_mlp_cache *c,
                                   const float *g, const unsigned char *sel, int want, int B) {
    int n = 0, W = a->cfg.obs_dim + a->cfg.act_dim;
    for (int b = 0; b < B; b++)
        if (sel[b] == want) a->rows_sub[n++] = b;
    if (!n) return;
    for (int l = 0; l < q->n_layers - 1; l++) {
        size_t w = (size_t)q->sizes[l + 1];
        for (int j = 0; j < n; j++) {
            size_t src = (size_t)a->rows_sub[j] * w, dst = (size_t)j * w;
            memcpy(a->c_sub.act[l] + dst, c->act[l] + src, w * sizeof(float));
            if (q->act != SL_NN_ACT_RELU) /* ReLU's backward needs the output only */
                memcpy(a->c_sub.lin[l] + dst, c->lin[l] + src, w * sizeof(float));
        }
    }
    for (int j = 0; j < n; j++) a->g_sub[j] = g[a->rows_sub[j]];
    memset(a->dsa_sub, 0, (size_t)n * W * sizeof(float));
    /* grads NULL: the input is not read (it only feeds weight gradients) */
    sl_nn_mlp_backward(a->dsa_sub, NULL, &a->c_sub, a->g_sub, a->sa, q, a->critic.params, n);
    for (int j = 0; j < n; j++) {
        float *d = a->dsa + (size_t)a->rows_sub[j] * W;
        const float *s = a->dsa_sub + (size_t)j * W;
        for (int k = 0; k < W; k++) d[k] += s[k];
    }
}

/* noise_a: given standard-normal SAC policy noise [B*A] or NULL (draw from the agent's RNG). */
static sl_status actor_update(sl_agent *a, const sl_batch *bt, const float *noise_a,
                              sl_rl_stats *st) {
    const sl_rl_config *c = &a->cfg;
    int B = bt->B, O = c->obs_dim, A = c->act_dim;
    float alpha = expf(a->log_alpha);
    if (c->algo == SL_RL_SAC) {
        if (noise_a) memcpy(a->eps, noise_a, (size_t)B * A * sizeof(float));
        else sl_nn_randn(a->eps, (size_t)B * A, &a->rng);
    }
    policy_forward(a, &a->pi, a->actor.params, &a->c_pi, a->s, B, a->a_pi, a->logp,
                   c->algo == SL_RL_SAC ? a->eps : NULL);
    concat_sa(a->sa, a->s, a->a_pi, B, O, A);
    sl_nn_mlp_forward(a->q1v, &a->c_q1b, a->sa, &a->q1, a->critic.params, B);
    if (c->algo == SL_RL_SAC)
        sl_nn_mlp_forward(a->q2v, &a->c_q2b, a->sa, &a->q2, a->critic.params, B);
    double lw_sum = 0.0, absq = 0.0, qterm = 0.0, bc = 0.0, ent = 0.0, wlogp = 0.0;
    for (int b = 0; b < B; b++) {
        lw_sum += (double)bt->lw[b];
        absq += (double)bt->lw[b] * fabs((double)a->q1v[b]);
    }
    float invB = 1.0f / (float)B;
    memset(a->dq1, 0, (size_t)B * sizeof(float));
    memset(a->dq2, 0, (size_t)B * sizeof(float));
    memset(a->da, 0, (size_t)B * A * sizeof(float));
    memset(a->dlogp, 0, (size_t)B * sizeof(float));
    float bc_coef = 0.0f, lambda = 1.0f;
    if (c->algo == SL_RL_TD3BC) {
        /* loss = -lambda * mean(lw * Q1) + mean(lw * (pi - a)^2) over B*A, lambda detached,
         * lambda = alpha_bc / (sum(lw |Q1|) / sum(lw) + 1e-8): the lw-weighted mean |Q1|, so
         * a zero-weight row does not influence the update through lambda either */
        lambda = (float)((double)c->alpha_bc / ((lw_sum > 0.0 ? absq / lw_sum : 0.0) + 1e-8));
        for (int b = 0; b < B; b++) {
            a->dq1[b] = -lambda * bt->lw[b] * invB;
            qterm += (double)(bt->lw[b] * a->q1v[b]);
        }
        bc_coef = 1.0f;
    } else {
        /* loss = mean(lw * (alpha*logp - min(Q1,Q2))) + sac_bc * mean(lw*(pi-a)^2) */
        for (int b = 0; b < B; b++) {
            int first = a->q1v[b] <= a->q2v[b];
            float g = -bt->lw[b] * invB;
            if (first) a->dq1[b] = g;
            else a->dq2[b] = g;
            a->dlogp[b] = alpha * bt->lw[b] * invB;
            qterm += (double)(bt->lw[b] * (first ? a->q1v[b] : a->q2v[b]));
            ent -= (double)a->logp[b];
            wlogp += (double)(bt->lw[b] * a->logp[b]);
        }
        bc_coef = c->sac_bc;
    }
    /* dQ/da through the critics: input grads only, no critic weight grads */
    memset(a->dsa, 0, (size_t)B * (O + A) * sizeof(float));
    if (c->algo == SL_RL_SAC) {
        /* each row's gradient flows through the critic that gave min(Q1, Q2) only */
        unsigned char *sel = a->sel_sub;
        for (int b = 0; b < B; b++) sel[b] = a->q1v[b] <= a->q2v[b];
        critic_input_grad_rows(a, &a->q1, &a->c_q1b, a->dq1, sel, 1, B);
        critic_input_grad_rows(a, &a->q2, &a->c_q2b, a->dq2, sel, 0, B);
    } else {
        sl_nn_mlp_backward(a->dsa, NULL, &a->c_q1b, a->dq1, a->sa, &a->q1, a->critic.params, B);
    }
    float bscale = bc_coef * 2.0f / (float)(B * A);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < A; j++) {
            size_t k = (size_t)b * A + j;
            float diff = a->a_pi[k] - bt->act[k];
            bc += (double)(bt->lw[b] * diff * diff);
            a->da[k] = a->dsa[(size_t)b * (O + A) + O + j] + bscale * bt->lw[b] * diff;
        }
    /* back through the head into the actor */
    memset(a->dpi_out, 0, (size_t)B * 2 * A * sizeof(float));
    int outw = c->algo == SL_RL_SAC ? 2 * A : A;
    if (c->algo == SL_RL_TD3BC) {
        sl_nn_act_backward(a->dpi_out, a->da, a->pi_out, a->a_pi, (size_t)B * A, SL_NN_ACT_TANH);
    } else {
        sl_nn_tanh_gaussian_backward(a->dpi_out, a->da, a->dlogp, a->a_pi, a->pi_out, a->eps, B, A);
    }
    (void)outw;
    sl_nn_arena_zero_grad(&a->actor);
    sl_nn_mlp_backward(NULL, a->actor.grads, &a->c_pi, a->dpi_out, a->s, &a->pi, a->actor.params, B);
    if (c->grad_clip > 0.0f) sl_nn_arena_clip_grad_norm(&a->actor, c->grad_clip);
    sl_nn_adam adam = sl_nn_adam_defaults(c->lr_actor);
    sl_nn_arena_adam_step(&a->actor, &adam);
    double bc_mse = bc / ((double)B * A);
    st->bc_mse = bc_mse;
    if (c->algo == SL_RL_TD3BC) {
        st->actor_loss = -(double)lambda * qterm / B + bc_mse;
    } else {
        st->entropy = ent / B;
        /* the loss actually minimised (weighted), not the unweighted entropy */
        st->actor_loss = ((double)alpha * wlogp - qterm) / B + (double)c->sac_bc * bc_mse;
        if (c->auto_alpha) {
            /* alpha loss = -log_alpha * mean(lw * (logp + target_entropy)), target = -act_dim
             * (weighted like every other loss, logp detached) */
            double g = 0.0;
            for (int b = 0; b < B; b++) g += (double)bt->lw[b] * ((double)a->logp[b] - (double)A);
            float grad = (float)(-g / B);
            sl_nn_adam adam_a = sl_nn_adam_defaults(c->lr_actor);
            a->la_step++;
            sl_nn_adam_update(&a->log_alpha, &a->la_m, &a->la_v, &grad, 1, &adam_a, a->la_step);
        }
    }
    st->alpha = (double)expf(a->log_alpha);
    st->actor_updated = 1;
    if (!isfinite(st->actor_loss) || !finite_arena(&a->actor))
        return sl_set_error(SL_ERR_DIVERGED, "agent: actor diverged at update %llu (loss %g)",
                            (unsigned long long)a->it, st->actor_loss);
    return SL_OK;
}

sl_status sl_agent_update_batch_noise(sl_agent *a, const sl_batch *bt, const float *noise_target,
                                      const float *noise_actor, sl_rl_stats *stats) {
    sl_rl_stats st;
    memset(&st, 0, sizeof st);
    const sl_rl_config *c = &a->cfg;
    if (bt->B > c->batch || bt->obs_dim != c->obs_dim || bt->act_dim != c->act_dim)
        return sl_set_error(SL_ERR_SHAPE, "agent: batch shape (%d,%d,%d) does not fit config",
                            bt->B, bt->obs_dim, bt->act_dim);
    normalise(a, a->s, bt->obs, bt->B);
    normalise(a, a->s2, bt->next_obs, bt->B);
    a->it++;
    if (c->algo == SL_RL_IQL) {
        SL_TRY(sl_iql_update(a, bt, &st));
        sl_nn_arena_polyak(&a->critic_t, &a->critic, c->tau);
        if (stats) *stats = st;
        return SL_OK;
    }
    SL_TRY(critic_update(a, bt, noise_target, &st));
    int do_actor = c->algo == SL_RL_SAC || (a->it % (uint64_t)c->policy_freq) == 0;
    if (do_actor) {
        SL_TRY(actor_update(a, bt, noise_actor, &st));
        if (c->algo == SL_RL_TD3BC) sl_nn_arena_polyak(&a->actor_t, &a->actor, c->tau);
        sl_nn_arena_polyak(&a->critic_t, &a->critic, c->tau);
    } else if (c->algo == SL_RL_SAC) {
        sl_nn_arena_polyak(&a->critic_t, &a->critic, c->tau);
    }
    st.alpha = (double)expf(a->log_alpha);
    if (stats) *stats = st;
    return SL_OK;
}

sl_status sl_agent_update_batch(sl_agent *a, const sl_batch *bt, sl_rl_stats *stats) {
    return sl_agent_update_batch_noise(a, bt, NULL, NULL, stats);
}

sl_nn_arena *sl_agent_arena(sl_agent *a, sl_agent_net which) {
    switch (which) {
    case SL_AGENT_ACTOR: return &a->actor;
    case SL_AGENT_ACTOR_TARGET: return &a->actor_t;
    case SL_AGENT_CRITIC: return &a->critic;
    case SL_AGENT_CRITIC_TARGET: return &a->critic_t;
    default: return NULL;
    }
}

float sl_agent_log_alpha(const sl_agent *a) { return a->log_alpha; }

sl_nn_arena *sl_agent_value_arena(sl_agent *a) {
    return a->cfg.algo == SL_RL_IQL ? &a->value : NULL;
}

sl_status sl_agent_update(sl_agent *a, sl_replay *r, sl_rl_stats *stats) {
    SL_TRY(sl_replay_sample(r, &a->own, a->cfg.sampling, &a->rng));
    return sl_agent_update_batch(a, &a->own, stats);
}

sl_status sl_agent_act(sl_agent *a, const float *obs, int B, float *out) {
    int cb = a->cfg.batch, A = a->cfg.act_dim;
    for (int off = 0; off < B; off += cb) {
        int n = B - off < cb ? B - off : cb;
        if (!sl_all_finite_f32(obs + (size_t)off * a->cfg.obs_dim, (size_t)n * a->cfg.obs_dim))
            return sl_set_error(SL_ERR_NAN, "agent: non-finite observation in rows %d..%d", off,
                                off + n - 1);
        normalise(a, a->s, obs + (size_t)off * a->cfg.obs_dim, n);
        policy_forward(a, &a->pi, a->actor.params, &a->c_pi, a->s, n, out + (size_t)off * A,
                       NULL, NULL);
    }
    return SL_OK;
}

sl_status sl_agent_action_mse(sl_agent *a, const float *obs, const float *act, size_t n,
                              double *mse) {
    int A = a->cfg.act_dim;
    float *pred = malloc((n ? n : 1) * (size_t)A * sizeof(float));
    if (!pred) return sl_set_error(SL_ERR_NOMEM, "agent: out of memory");
    sl_status s = sl_agent_act(a, obs, (int)n, pred);
    if (s == SL_OK) {
        double acc = 0.0;
        for (size_t i = 0; i < n * (size_t)A; i++) {
            double d = (double)pred[i] - (double)act[i];
            acc += d * d;
        }
        *mse = n ? acc / ((double)n * A) : 0.0;
    }
    free(pred);
    return s;
}

/* --- checkpoints -------------------------------------------------------- */

sl_status sl_agent_save(const sl_agent *a, const char *path) {
    sl_nn_ckpt *c = NULL;
    SL_TRY(sl_nn_ckpt_new(&c));
    const size_t od = (size_t)a->cfg.obs_dim;
    sl_nn_ckpt_put_arena(c, &a->actor, "");
    sl_nn_ckpt_put_vec_f32(c, "obs_mean", od, a->obs_mean);
    sl_nn_ckpt_put_vec_f32(c, "obs_std", od, a->obs_std);
    char buf[64];
    sl_nn_ckpt_set_meta(c, "kind", "policy");
    sl_nn_ckpt_set_meta(c, "algo", sl_rl_algo_name(a->cfg.algo));
    snprintf(buf, sizeof buf, "%d", a->cfg.obs_dim);
    sl_nn_ckpt_set_meta(c, "obs_dim", buf);
    snprintf(buf, sizeof buf, "%d", a->cfg.act_dim);
    sl_nn_ckpt_set_meta(c, "act_dim", buf);
    snprintf(buf, sizeof buf, "%d", a->cfg.hidden);
    sl_nn_ckpt_set_meta(c, "hidden", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)a->cfg.seed);
    sl_nn_ckpt_set_meta(c, "seed", buf);
    sl_nn_ckpt_set_meta(c, "git", sl_git_describe());
    sl_status s = sl_nn_ckpt_write(c, path);
    sl_nn_ckpt_free(c);
    return s;
}

static sl_status meta_int(const sl_nn_ckpt *st, const char *path, const char *key, int *out) {
    const char *v = sl_nn_ckpt_meta(st, key);
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x <= 0 || x > 1 << 20)
        return sl_set_error(SL_ERR_FORMAT, "%s: metadata '%s' missing or invalid", path, key);
    *out = (int)x;
    return SL_OK;
}

sl_status sl_agent_load(sl_agent **out, const char *path) {
    *out = NULL;
    sl_nn_ckpt *st;
    SL_TRY(sl_nn_ckpt_read(&st, path, "kind", "policy", "policy"));
    sl_rl_algo algo;
    int od = 0, ad = 0, hid = 0;
    sl_status s = sl_rl_algo_parse(sl_nn_ckpt_meta(st, "algo"), &algo);
    if (s != SL_OK) s = sl_set_error(SL_ERR_FORMAT, "%s: __metadata__ 'algo' missing or unknown", path);
    if (s == SL_OK) s = meta_int(st, path, "obs_dim", &od);
    if (s == SL_OK) s = meta_int(st, path, "act_dim", &ad);
    if (s == SL_OK) s = meta_int(st, path, "hidden", &hid);
    sl_agent *a = NULL;
    if (s == SL_OK) {
        sl_rl_config cfg = sl_rl_config_defaults(algo, od, ad);
        cfg.hidden = hid;
        s = sl_agent_new(&a, &cfg, NULL, NULL);
    }
    if (s == SL_OK) s = sl_nn_ckpt_get_vec_f32(st, "obs_mean", (size_t)od, a->obs_mean);
    if (s == SL_OK) s = sl_nn_ckpt_get_vec_f32(st, "obs_std", (size_t)od, a->obs_std);
    if (s == SL_OK) s = sl_nn_ckpt_get_arena(st, &a->actor, "");
    sl_nn_ckpt_free(st);
    if (s != SL_OK) {
        sl_agent_free(a);
        return s;
    }
    sl_nn_arena_copy_params(&a->actor_t, &a->actor);
    *out = a;
    return SL_OK;
}
