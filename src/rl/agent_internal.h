/* SPDX-License-Identifier: Apache-2.0 */
/* agent_internal.h - the sl_agent struct shared by the learners of src/rl (agent.c: TD3+BC,
 * SAC, dispatch, checkpoints; iql.c: IQL). Not a public header.
 * Invariant: every scratch buffer is sized for cfg.batch rows; the value arena is empty
 * (no tensors) unless cfg.algo == SL_RL_IQL. */
#ifndef SL_RL_AGENT_INTERNAL_H
#define SL_RL_AGENT_INTERNAL_H

#include "synthloop/sl_nn.h"
#include "synthloop/sl_rl.h"

struct sl_agent {
    sl_rl_config cfg;
    float *obs_mean, *obs_std; /* [obs_dim] */
    sl_nn_arena actor, actor_t, critic, critic_t;
    sl_nn_mlp pi, pi_t, q1, q2, q1_t, q2_t;
    sl_nn_mlp_cache c_pi, c_q1, c_q2, c_q1b, c_q2b; /* c_q*b: target / actor-pass caches */
    /* IQL's state-value network V(s) (empty arena for the other algorithms) */
    sl_nn_arena value;
    sl_nn_mlp v;
    sl_nn_mlp_cache c_v;
    float log_alpha, la_m, la_v;
    uint64_t la_step;
    uint64_t it;
    sl_rng rng;
    sl_batch own; /* batch storage for sl_agent_update */
    /* scratch, sized for cfg.batch rows */
    float *s, *s2;          /* normalised obs, next obs [B, obs] */
    float *sa;              /* [B, obs+act] critic input */
    float *pi_out, *a_pi;   /* [B, 2*act], [B, act] */
    float *logp, *eps;      /* [B], [B, act] */
    float *q1v, *q2v, *y;   /* [B] */
    float *dq1, *dq2;       /* [B] */
    float *dsa;             /* [B, obs+act] */
    float *dpi_out, *da;    /* [B, 2*act], [B, act] */
    float *dlogp;           /* [B] */
    float *vv, *dv, *wadv;  /* IQL: V(s), its gradient, advantage weights [B] */
    /* SAC actor step: the rows whose min(Q1,Q2) is Q_k, back-propagated through critic k only */
    sl_nn_mlp_cache c_sub;  /* gathered hidden activations of those rows */
    float *g_sub, *dsa_sub; /* [B], [B, obs+act] */
    int *rows_sub;          /* [B] */
    unsigned char *sel_sub; /* [B]: 1 where Q1 <= Q2 */
};

/* One IQL update (value, critics, actor; the caller does the target Polyak step) on a batch
 * whose observations are already normalised into a->s and a->s2. */
sl_status sl_iql_update(sl_agent *a, const sl_batch *bt, sl_rl_stats *st);

#endif
