/* SPDX-License-Identifier: Apache-2.0 */
/* sl_synth.h - gated branch collection: short synthetic branches rolled out by the world model
 * from real (episode, t) starts, actions from a behaviour clone with noise, every branch scored
 * by trust_net and gated (trust floor + std-ratio band; non-finite -> rejected).
 *
 * File (`synthloop branches collect --output FILE.npz`), documented in docs/WORLD.md:
 *   branch arrays (N branches, horizon H, latent Z, action A, econ E):
 *     branch_states f4 [N, H+1, Z]   branch_actions f4 [N, H, A]   branch_rewards f4 [N, H]
 *     branch_econ f4 [N, H, E]       real_states f4 [N, H+1, Z]
 *     trust f8 [N]  std_ratio f8 [N]  passed b1 [N]  reason i4 [N]  member i4 [N]
 *     source_episode i4 [N]  source_t i4 [N]  brick_id i4 [N]
 *     delta_mpl f8 [N]  delta_error f8 [N]  delta_ep f8 [N]
 *   flattened transitions of the PASSED branches (M = passed * H rows, D4RL names):
 *     observations f4 [M, Z] (= z_t)  actions f4 [M, A]  rewards f4 [M]
 *     next_observations f4 [M, Z]  terminals b1 [M] (always 0)  timeouts b1 [M] (last step)
 *     source u1 [M] (1 = synthetic)  transition_trust f4 [M]  transition_std_ratio f4 [M]
 *     branch_index i4 [M]
 *     episode_ids i4 [M] (source episode)  timesteps i4 [M] (t0 + k)  brick_ids i4 [M]
 *   generator certificate (only when sl_synth_certify ran; K horizons):
 *     generator_horizons i4 [K]  generator_std_ratio f8 [K] (-1: that horizon went non-finite)
 * Rejected branches keep their (finite) arrays for inspection; a non-finite branch's arrays are
 * zeroed (never NaN in a file), its trust and std ratio stored as 0, its reason
 * SL_GATE_NONFINITE.
 * A sidecar FILE.json holds the pass rate, trust quantiles and histogram, per-brick and
 * per-reason counts, the config and provenance.
 *
 * Ownership: sl_synth_collect returns an sl_branches owned by the caller (sl_branches_free,
 * NULL harmless). The world model, data and scorer are borrowed for the call.
 */
#ifndef SL_SYNTH_H
#define SL_SYNTH_H

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_trust.h"
#include "sl_world.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Gating uses trust's sl_gate (trust floor + std-ratio band; presets conservative / normal /
 * aggressive) and sl_gate_reason codes, stored as i4 "reason"; the std ratio of a branch is
 * sl_trust_std_ratio(branch window, real continuation window) over steps 0..H. */

typedef struct sl_synth_config {
    int horizon;              /* H (default 10) */
    int branches_per_episode; /* default 5 */
    sl_gate gate;             /* default: sl_gate_from_preset(SL_GATE_NORMAL) */
    float policy_noise;       /* BC action noise, in units of the action std (default 0.1) */
    int bc_hidden;            /* BC MLP width (default 64) */
    int bc_iters;             /* BC training steps (default 800) */
    float rollout_noise;      /* world-model noise scale (default -1: the calibrated one) */
    uint64_t seed;
} sl_synth_config;
void sl_synth_config_default(sl_synth_config *c);
cJSON *sl_synth_config_json(const sl_synth_config *c);

/* Generator certificate: a world model's pooled std ratio per horizon on held-out real starts
 * (sl_synth_certify), -1 where the rollouts went non-finite. n = 0: none. A property of the
 * model (and its noise scale), not of one batch of branches. */
typedef struct sl_synth_certificate {
    int n;
    int h[SL_WORLD_EVAL_MAX_H];
    double std_ratio[SL_WORLD_EVAL_MAX_H];
} sl_synth_certificate;

typedef struct sl_branches {
    size_t n;               /* branches */
    int horizon, z_dim, a_dim, n_econ;
    char econ_names[SL_WORLD_MAX_ECON][SL_WORLD_NAME_MAX];
    float *states;          /* [n, H+1, Z] */
    float *actions;         /* [n, H, A] */
    float *rewards;         /* [n, H] */
    float *econ;            /* [n, H, E] */
    float *real_states;     /* [n, H+1, Z] real continuation from the same start */
    double *trust, *std_ratio, *delta_mpl, *delta_error, *delta_ep; /* [n] */
    uint8_t *passed;        /* [n] */
    int32_t *reason;        /* [n] sl_gate_reason */
    int32_t *member, *source_episode, *source_t, *brick_id; /* [n] */
    sl_gate gate;           /* the gate applied */
    int n_bricks;           /* 1 + max brick id (0 when no bricks were given) */
    sl_synth_certificate cert; /* of the generator; cert.n = 0 when not certified */
} sl_branches;

/* Behaviour-cloned policy (small MLP latent -> action, trained on d) usable as a
 * sl_world_policy_fn with sl_synth_bc_act. Owned by the caller (sl_synth_bc_free). */
typedef struct sl_synth_bc sl_synth_bc;
sl_status sl_synth_bc_train(sl_synth_bc **out, const sl_world_data *d, int hidden, int iters,
                            float noise, uint64_t seed);
/* sl_world_policy_fn: ctx is an sl_synth_bc*. Adds noise * a_std * N(0,1) and clips to the
 * action range seen in the data. */
sl_status sl_synth_bc_act(void *ctx, const float *z, int n, float *actions, sl_rng *rng);
/* A trained policy (borrowed sl_agent over the same latents, e.g. loaded from `synthloop
 * train --output`) as the branch action source: its deterministic action plus
 * noise * a_std * N(0,1), clipped to the data's action range (as the BC policy). The adaptor
 * is owned by the caller (sl_synth_agent_policy_free); the agent must outlive it.
 * SL_ERR_SHAPE when the agent's observation / action sizes differ from d's. */
typedef struct sl_synth_agent_policy sl_synth_agent_policy;
typedef struct sl_agent sl_agent;
sl_status sl_synth_agent_policy_new(sl_synth_agent_policy **out, sl_agent *agent,
                                    const sl_world_data *d, float noise);
/* sl_world_policy_fn: ctx is an sl_synth_agent_policy*. */
sl_status sl_synth_agent_policy_act(void *ctx, const float *z, int n, float *actions, sl_rng *rng);
void sl_synth_agent_policy_free(sl_synth_agent_policy *p);
void sl_synth_bc_free(sl_synth_bc *bc);

/* Collect branches: for every episode of d with len >= H, branches_per_episode starts
 * t0 uniform in [0, len - H] (distinct while possible); member drawn uniformly; actions
 * from `policy` (NULL: a BC policy trained here with cfg's settings); scored by `trust`
 * (required: trust is never bypassed) over the window of steps 0..H; gated by cfg->gate.
 * brick_of_episode [d->n_episodes] may be NULL (brick id -1). *out owned by the caller. */
sl_status sl_synth_collect(sl_branches **out, const sl_world *w, const sl_world_data *d,
                           sl_trust_model *trust, const int32_t *brick_of_episode,
                           sl_world_policy_fn policy, void *policy_ctx,
                           const sl_synth_config *cfg);
/* sl_world_score_fn adaptor over sl_trust_score_windows (ctx is an sl_trust_model*). */
sl_status sl_synth_trust_score(void *ctx, const float *windows, size_t n, int T, int z_dim,
                               double *p_out);
void sl_branches_free(sl_branches *b);

/* Generator certificate: evaluate w (as it generates branches: noise scale `noise`, -1 = the
 * model's own, and the sphere if attached) from the starts of its held-out episodes in d (all
 * episodes when it has none there) with the real actions, at horizons 5, 10, 20, 40, 60 (those
 * that fit), and store each horizon's pooled std ratio (sl_world_evaluate; no trust, no
 * detector) in *out (branch files take it as b->cert). Horizons without a start are left out;
 * none at all is SL_ERR_SHAPE. */
sl_status sl_synth_certify(sl_synth_certificate *out, const sl_world *w, const sl_world_data *d,
                           float noise, uint64_t seed);

/* Negatives for trust_net from the generator being gated (issue 13 item 5, docs/TRUST.md
 * "World-model negatives"): for every window length L of lengths[n_lengths] that fits
 * (L - 1 <= the longest allowed episode), n_per_length free-running windows of L steps
 * (sl_world_generate_windows: horizon L - 1, the real actions, noise scale `noise`, -1 = the
 * model's own; sphere as attached to w) whose real start lies in an episode e with
 * episode_ok[e] != 0 (NULL: every episode) -- e.g. the episodes sl_trust_split_episodes does
 * not give to the positives. Output as external negative sequences for sl_trust_train:
 * *neg_z [rows, Z], *neg_offsets [*n_seq + 1] (both malloc'd, caller frees), sequences grouped
 * by length in the order given. Same inputs and seed -> same bits. */
sl_status sl_synth_world_negatives(const sl_world *w, const sl_world_data *d,
                                   const uint8_t *episode_ok, const int *lengths, int n_lengths,
                                   size_t n_per_length, float noise, uint64_t seed,
                                   float **neg_z, size_t **neg_offsets, size_t *n_seq);

/* The same from files, as `trust train --world-model` runs it: loads the world model (and
 * attaches the encoder's latent sphere when encoder_path is not NULL, as `branches collect
 * --encoder` does), the dataset and its latents; the allowed episodes are those
 * sl_trust_split_episodes(cfg) puts into calibration or test (not the positives' training
 * episodes); lengths = cfg's; seed = cfg->seed + 0x5eed. */
sl_status sl_synth_world_negatives_files(const char *world_path, const char *encoder_path,
                                         const char *data_path, const char *latents_path,
                                         const sl_trust_config *cfg, size_t n_per_length,
                                         float noise, float **neg_z, size_t **neg_offsets,
                                         size_t *n_seq);

/* Pass rate, trust quantiles/histogram, per-brick and per-reason counts, and the certificate
 * ("generator": {"horizons", "std_ratio", "min", "max"}) when present; caller deletes. */
cJSON *sl_branches_summary_json(const sl_branches *b);
/* Detection test of a branch set (docs/WORLD.md "detect_auc"): every branch window (steps
 * 0..H) is paired with the real continuation window of its start (real_states); a fresh
 * logistic-regression detector's out-of-fold ROC-AUC over `folds` folds (sl_world_detect_auc).
 * passed_only = 1: the passed branches only (the gated set), else every finite branch.
 * *n_used = windows used; *auc = NaN (and SL_OK) when fewer than `folds`. 0.5 = the detector
 * cannot tell them from real, 1 = perfectly separable. The summary JSON reports it under
 * "detection" with SL_SYNTH_DETECT_FOLDS folds and seed 0. */
#define SL_SYNTH_DETECT_FOLDS 5
sl_status sl_synth_detect_auc(const sl_branches *b, int passed_only, int folds, uint64_t seed,
                              double *auc, size_t *n_used);
/* Write FILE.npz (keys above) atomically; refuses non-finite values. */
sl_status sl_branches_save_npz(const sl_branches *b, const char *path);
/* Read a branch file written by sl_branches_save_npz (or any NPZ with its per-branch keys:
 * branch_states f4 [n, H+1, Z], branch_actions f4 [n, H, A], branch_rewards f4 [n, H], trust,
 * delta_mpl, delta_error, delta_ep f8 [n], passed b1 [n], source_episode, source_t, brick_id
 * i4 [n]; optional std_ratio, reason, member, real_states and the generator certificate).
 * Econ columns are not read (n_econ = 0). *out owned by the caller (sl_branches_free). */
sl_status sl_branches_load_npz(sl_branches **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* SL_SYNTH_H */
