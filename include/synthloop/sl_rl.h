/* SPDX-License-Identifier: Apache-2.0 */
/* sl_rl.h - offline reinforcement learning on latent states: a replay buffer that tracks the
 * source of every sample (real or synthetic) with per-sample weights, and two learners:
 * TD3+BC (Fujimoto & Gu 2021, the offline standard) and SAC (Haarnoja et al. 2018, as in the
 * seeds), both with importance-weighted losses.
 *
 * Weighted replay. Every transition carries a weight w >= 0 (1 for real data; the
 * SyntheticWeightController's w_final for synthetic data). Two ways to use it:
 *   SL_RL_SAMPLE_PROPORTIONAL  draw indices with probability w_i / sum(w), losses unweighted;
 *   SL_RL_SAMPLE_IMPORTANCE    draw real and synthetic rows uniformly, then weight each
 *                              sample's loss by w_i / mean(w over the batch).
 * Both give each sample the same expected influence; a weight of 0 means the sample never
 * influences a gradient. The share of synthetic weight in the buffer is reported by
 * sl_replay_synth_share.
 *
 * IQL (Kostrikov et al. 2022, implicit Q-learning) is the third learner and the default of
 * `synthloop ab` / `train` / `demo`: an expectile value V(s), critics trained towards r + gamma V(s'),
 * and advantage-weighted regression of a deterministic tanh actor onto the DATA actions, so the
 * actor never queries a critic at an action outside the data (docs/RL.md has the evidence).
 *
 * Ownership: sl_replay and sl_agent own all their memory; *_free accepts NULL.
 * Determinism: same seed, data, config and thread count => same bits.
 */
#ifndef SL_RL_H
#define SL_RL_H

#include <stddef.h>
#include <stdint.h>

#include "sl_core.h"
#include "sl_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- replay buffer ------------------------------------------------------ */

typedef enum sl_source { SL_SOURCE_REAL = 0, SL_SOURCE_SYNTH = 1, SL_SOURCE_COUNT } sl_source;

typedef struct sl_replay {
    size_t n, cap;
    int obs_dim, act_dim;
    float *obs;      /* [cap, obs_dim] */
    float *act;      /* [cap, act_dim] */
    float *rew;      /* [cap] */
    float *next_obs; /* [cap, obs_dim] */
    float *done;     /* [cap] 1 if terminal (no bootstrap), else 0 */
    float *weight;   /* [cap] >= 0 */
    uint8_t *source; /* [cap] sl_source */
    /* sampling tables, rebuilt lazily (once, at the next draw) after additions; weight[] changes
     * only through sl_replay_add (a caller that edits it in place must set dirty = 1) */
    double *cum;     /* [cap] cumulative weights */
    size_t *idx_real, *idx_synth; /* rows with positive weight, per source, in row order */
    size_t n_real, n_synth;
    double w_real, w_synth; /* sums of those rows' weights, in row order */
    int dirty;
} sl_replay;

sl_status sl_replay_alloc(sl_replay **out, size_t cap, int obs_dim, int act_dim);
void sl_replay_free(sl_replay *r);
/* Append n transitions of one source. weight may be NULL (all 1). Rejects non-finite values
 * and negative weights with a message naming the row; nothing is appended on failure. */
sl_status sl_replay_add(sl_replay *r, size_t n, const float *obs, const float *act,
                        const float *rew, const float *next_obs, const float *done,
                        const float *weight, sl_source source);
/* Synthetic weight / total weight. */
double sl_replay_synth_share(const sl_replay *r);

typedef enum sl_rl_sampling {
    SL_RL_SAMPLE_PROPORTIONAL = 0,
    SL_RL_SAMPLE_IMPORTANCE,
    SL_RL_SAMPLING_COUNT
} sl_rl_sampling;
const char *sl_rl_sampling_name(sl_rl_sampling s);
sl_status sl_rl_sampling_parse(const char *name, sl_rl_sampling *out);

/* A batch of B transitions: arrays owned by the batch (sl_batch_free). */
typedef struct sl_batch {
    int B, obs_dim, act_dim;
    float *obs, *act, *rew, *next_obs, *done;
    float *lw;       /* [B] loss weights (mean 1 under importance sampling, else 1) */
    uint8_t *source; /* [B] */
    size_t *index;   /* [B] buffer rows */
} sl_batch;
sl_status sl_batch_alloc(sl_batch *b, int B, int obs_dim, int act_dim);
void sl_batch_free(sl_batch *b);
/* Fill `b` with b->B samples. SL_ERR_STATE if the buffer has no positive weight. Under
 * importance sampling each row is synthetic with probability equal to the synthetic
 * weight share, then drawn uniformly within its source. */
sl_status sl_replay_sample(sl_replay *r, sl_batch *b, sl_rl_sampling mode, sl_rng *rng);

/* --- agents ------------------------------------------------------------- */

typedef enum sl_rl_algo { SL_RL_TD3BC = 0, SL_RL_SAC, SL_RL_IQL, SL_RL_ALGO_COUNT } sl_rl_algo;
const char *sl_rl_algo_name(sl_rl_algo a);
sl_status sl_rl_algo_parse(const char *name, sl_rl_algo *out);

typedef struct sl_rl_config {
    sl_rl_algo algo;
    int obs_dim, act_dim;
    int hidden;          /* width of the two hidden layers of actor and critics (256) */
    int batch;           /* 256 */
    float lr_actor, lr_critic; /* 3e-4 */
    float gamma;         /* 0.99 */
    float tau;           /* 0.005 */
    /* TD3+BC */
    float policy_noise;  /* 0.2 */
    float noise_clip;    /* 0.5 */
    int policy_freq;     /* 2 */
    float alpha_bc;      /* 2.5: lambda = alpha / mean|Q| */
    /* SAC */
    float init_alpha;    /* 0.2, entropy temperature, auto-tuned to -act_dim */
    int auto_alpha;      /* 1 */
    float sac_bc;        /* weight of a behaviour-cloning term for offline SAC (0 = pure SAC) */
    sl_rl_sampling sampling;
    float grad_clip;     /* 0 = off */
    uint64_t seed;
    float reward_scale;  /* 1: rewards are multiplied by this in every critic target (> 0) */
    /* IQL: V = expectile_tau of min(Q1_t, Q2_t) over the data's actions; actor loss
     * mean(w * |pi(s) - a|^2 summed over action dims), w = min(exp(beta * (Q_t - V)), max_w) */
    float iql_expectile;  /* 0.7 */
    float iql_beta;       /* 2.0 (inverse temperature; 0 = plain behaviour cloning) */
    float iql_max_weight; /* 100 */
} sl_rl_config;

/* Defaults above for the given dims and algorithm. */
sl_rl_config sl_rl_config_defaults(sl_rl_algo algo, int obs_dim, int act_dim);

typedef struct sl_agent sl_agent;

/* Create an agent. Observations are standardised with (obs_mean, obs_std) [obs_dim] (copied;
 * NULL = identity). Actions are in [-1, 1]^act_dim. */
sl_status sl_agent_new(sl_agent **out, const sl_rl_config *cfg, const float *obs_mean,
                       const float *obs_std);
void sl_agent_free(sl_agent *a);
const sl_rl_config *sl_agent_config(const sl_agent *a);

/* Statistics of one update. */
typedef struct sl_rl_stats {
    double critic_loss, actor_loss, q_mean, bc_mse, alpha, entropy;
    int actor_updated;
    double value_loss;  /* IQL: expectile loss of V */
    double weight_mean; /* IQL: mean advantage weight of the batch (1 = behaviour cloning) */
} sl_rl_stats;

/* One gradient update on a sampled batch. SL_ERR_DIVERGED if a loss or parameter becomes
 * non-finite (the agent is then unusable). */
sl_status sl_agent_update(sl_agent *a, sl_replay *r, sl_rl_stats *stats);
/* Update on a given batch (used by tests and benchmarks). */
sl_status sl_agent_update_batch(sl_agent *a, const sl_batch *b, sl_rl_stats *stats);

/* --- testing entry points (parity tests against PyTorch, benchmarks) ---
 * sl_agent_update_batch with the Gaussian noise given instead of drawn from the agent's RNG.
 * noise_target [B*act_dim]: TD3+BC's target-policy smoothing noise as standard normals (the
 * agent scales it by policy_noise and clips it to +-noise_clip), or SAC's eps for the
 * next-state action of the critic target. noise_actor [B*act_dim]: SAC's eps for the actor
 * step (ignored by TD3+BC). NULL draws that noise from the agent's RNG as usual, so
 * sl_agent_update_batch(a, b, s) == sl_agent_update_batch_noise(a, b, NULL, NULL, s). */
sl_status sl_agent_update_batch_noise(sl_agent *a, const sl_batch *b, const float *noise_target,
                                      const float *noise_actor, sl_rl_stats *stats);

typedef enum sl_agent_net {
    SL_AGENT_ACTOR = 0,     /* tensors "actor.l{0,1,2}.{weight,bias}" */
    SL_AGENT_ACTOR_TARGET,  /* same names; used by TD3+BC only (SAC keeps it = initial actor) */
    SL_AGENT_CRITIC,        /* "critic1.l*", "critic2.l*" */
    SL_AGENT_CRITIC_TARGET, /* same names */
    SL_AGENT_NET_COUNT
} sl_agent_net;
/* The agent's parameter arena `which` (owned by the agent; params, grads and Adam state may be
 * read, and params written before the first update, e.g. to load another implementation's
 * initial weights; NULL for a bad `which`). */
sl_nn_arena *sl_agent_arena(sl_agent *a, sl_agent_net which);
/* SAC's log temperature log(alpha) (log(init_alpha) for TD3+BC, unused there). */
float sl_agent_log_alpha(const sl_agent *a);
/* IQL's value network V(s) (tensors "value.l{0,1,2}.{weight,bias}"); NULL for other algorithms. */
sl_nn_arena *sl_agent_value_arena(sl_agent *a);

/* Deterministic action(s) for B observations (tanh of the mean for SAC). out[B, act_dim]. */
sl_status sl_agent_act(sl_agent *a, const float *obs, int B, float *out);

/* Save / load the actor (and normalisation and config) as safetensors. */
sl_status sl_agent_save(const sl_agent *a, const char *path);
sl_status sl_agent_load(sl_agent **out, const char *path);

/* Mean squared error between the agent's deterministic actions and `act` over n rows
 * (the seeds' "action MSE on held-out real data"). */
sl_status sl_agent_action_mse(sl_agent *a, const float *obs, const float *act, size_t n,
                              double *mse);

#ifdef __cplusplus
}
#endif
#endif
