/* SPDX-License-Identifier: Apache-2.0 */
/* iql.c - Implicit Q-Learning (Kostrikov, Nair & Levine 2022) on the agent of agent.c, as in
 * CORL's iql.py with a deterministic actor:
 *   V:     min over the batch of mean(lw * |tau - 1(u < 0)| * u^2),  u = min(Q1_t, Q2_t)(s, a) - V(s)
 *   Q_i:   mean(lw * (Q_i(s, a) - (scale * r + gamma * (1 - done) * V(s')))^2), V(s') before
 *          this update's V step
 *   actor: mean(lw * w * sum_j (pi(s)_j - a_j)^2),  w = min(exp(beta * u), max_weight)
 * Invariant: the critics are only ever evaluated at (s, a) pairs from the batch, never at an
 * action the actor proposes, and every loss is weighted by the batch's loss weights lw, so a
 * sample with weight 0 has no influence on any parameter.
 */
#include <math.h>
#include <string.h>

#include "agent_internal.h"

sl_status sl_iql_update(sl_agent *a, const sl_batch *bt, sl_rl_stats *st) {
    const sl_rl_config *c = &a->cfg;
    int B = bt->B, O = c->obs_dim, A = c->act_dim;
    float invB = 1.0f / (float)B;
    /* (s, a) with the data's actions: the only critic input IQL ever uses */
    for (int b = 0; b < B; b++) {
        memcpy(a->sa + (size_t)b * (O + A), a->s + (size_t)b * O, (size_t)O * sizeof(float));
        memcpy(a->sa + (size_t)b * (O + A) + O, bt->act + (size_t)b * A, (size_t)A * sizeof(float));
    }
    /* V(s') with the value net before this update (CORL order), into y as the Q target */
    sl_nn_mlp_forward(a->vv, &a->c_v, a->s2, &a->v, a->value.params, B);
    for (int b = 0; b < B; b++)
        a->y[b] = c->reward_scale * bt->rew[b] + c->gamma * (1.0f - bt->done[b]) * a->vv[b];
    /* target critics at the data actions */
    sl_nn_mlp_forward(a->q1v, &a->c_q1b, a->sa, &a->q1_t, a->critic_t.params, B);
    sl_nn_mlp_forward(a->q2v, &a->c_q2b, a->sa, &a->q2_t, a->critic_t.params, B);
    /* value step: expectile regression of V(s) onto min(Q1_t, Q2_t); u = Q_t - V kept in wadv */
    sl_nn_mlp_forward(a->vv, &a->c_v, a->s, &a->v, a->value.params, B);
    double vloss = 0.0, qmean = 0.0;
    for (int b = 0; b < B; b++) {
        float qt = fminf(a->q1v[b], a->q2v[b]);
        float u = qt - a->vv[b];
        float wt = u < 0.0f ? 1.0f - c->iql_expectile : c->iql_expectile;
        vloss += (double)(bt->lw[b] * wt * u * u);
        a->dv[b] = -2.0f * bt->lw[b] * wt * u * invB;
        a->wadv[b] = u;
        qmean += (double)qt;
    }
    sl_nn_arena_zero_grad(&a->value);
    sl_nn_mlp_backward(NULL, a->value.grads, &a->c_v, a->dv, a->s, &a->v, a->value.params, B);
    if (c->grad_clip > 0.0f) sl_nn_arena_clip_grad_norm(&a->value, c->grad_clip);
    sl_nn_adam adam_v = sl_nn_adam_defaults(c->lr_critic);
    sl_nn_arena_adam_step(&a->value, &adam_v);
    /* critic step towards scale * r + gamma * (1 - done) * V(s') */
    sl_nn_mlp_forward(a->q1v, &a->c_q1, a->sa, &a->q1, a->critic.params, B);
    sl_nn_mlp_forward(a->q2v, &a->c_q2, a->sa, &a->q2, a->critic.params, B);
    float l1 = sl_nn_mse_loss(a->dq1, a->q1v, a->y, bt->lw, B, 1);
    float l2 = sl_nn_mse_loss(a->dq2, a->q2v, a->y, bt->lw, B, 1);
    sl_nn_arena_zero_grad(&a->critic);
    sl_nn_mlp_backward(NULL, a->critic.grads, &a->c_q1, a->dq1, a->sa, &a->q1, a->critic.params, B);
    sl_nn_mlp_backward(NULL, a->critic.grads, &a->c_q2, a->dq2, a->sa, &a->q2, a->critic.params, B);
    if (c->grad_clip > 0.0f) sl_nn_arena_clip_grad_norm(&a->critic, c->grad_clip);
    sl_nn_adam adam_q = sl_nn_adam_defaults(c->lr_critic);
    sl_nn_arena_adam_step(&a->critic, &adam_q);
    /* actor step: advantage-weighted regression onto the data actions */
    sl_nn_mlp_forward(a->pi_out, &a->c_pi, a->s, &a->pi, a->actor.params, B);
    sl_nn_act_forward(a->a_pi, a->pi_out, (size_t)B * A, SL_NN_ACT_TANH);
    double aloss = 0.0, bc = 0.0, wsum = 0.0;
    for (int b = 0; b < B; b++) {
        float w = expf(c->iql_beta * a->wadv[b]);
        if (!(w < c->iql_max_weight)) w = c->iql_max_weight; /* also catches +inf */
        wsum += (double)w;
        float g = 2.0f * bt->lw[b] * w * invB;
        double se = 0.0;
        for (int j = 0; j < A; j++) {
            size_t k = (size_t)b * A + j;
            float diff = a->a_pi[k] - bt->act[k];
            se += (double)(diff * diff);
            a->da[k] = g * diff;
        }
        aloss += (double)(bt->lw[b] * w) * se;
        bc += (double)bt->lw[b] * se;
    }
    memset(a->dpi_out, 0, (size_t)B * A * sizeof(float)); /* act_backward accumulates */
    sl_nn_act_backward(a->dpi_out, a->da, a->pi_out, a->a_pi, (size_t)B * A, SL_NN_ACT_TANH);
    sl_nn_arena_zero_grad(&a->actor);
    sl_nn_mlp_backward(NULL, a->actor.grads, &a->c_pi, a->dpi_out, a->s, &a->pi, a->actor.params, B);
    if (c->grad_clip > 0.0f) sl_nn_arena_clip_grad_norm(&a->actor, c->grad_clip);
    sl_nn_adam adam_a = sl_nn_adam_defaults(c->lr_actor);
    sl_nn_arena_adam_step(&a->actor, &adam_a);

    st->value_loss = vloss / B;
    st->critic_loss = (double)l1 + (double)l2;
    st->q_mean = qmean / B;
    st->actor_loss = aloss / B;
    st->bc_mse = bc / ((double)B * A);
    st->weight_mean = wsum / B;
    st->alpha = (double)expf(a->log_alpha);
    st->actor_updated = 1;
    if (!isfinite(st->value_loss) || !sl_all_finite_f32(a->value.params, a->value.numel))
        return sl_set_error(SL_ERR_DIVERGED, "agent: IQL value net diverged at update %llu (loss %g)",
                            (unsigned long long)a->it, st->value_loss);
    if (!isfinite(st->critic_loss) || !sl_all_finite_f32(a->critic.params, a->critic.numel))
        return sl_set_error(SL_ERR_DIVERGED, "agent: IQL critic diverged at update %llu (loss %g)",
                            (unsigned long long)a->it, st->critic_loss);
    if (!isfinite(st->actor_loss) || !sl_all_finite_f32(a->actor.params, a->actor.numel))
        return sl_set_error(SL_ERR_DIVERGED, "agent: IQL actor diverged at update %llu (loss %g)",
                            (unsigned long long)a->it, st->actor_loss);
    return SL_OK;
}
