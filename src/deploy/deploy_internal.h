/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_internal.h - a registered policy version loaded for acting (its agent plus the encoder
 * its lineage names), shared by the policy server (serving.c) and the physics evaluation
 * (evaluate.c) so that both compute an action the same way. Internal to src/deploy. */
#ifndef SL_DEPLOY_INTERNAL_H
#define SL_DEPLOY_INTERNAL_H

#include "synthloop/sl_deploy.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_rl.h"

typedef struct dp_policy {
    int64_t id;
    sl_agent *agent;        /* owned */
    sl_latent_encoder *enc; /* owned, NULL = the policy acts on observations directly */
    int obs_dim;            /* what the caller passes (the encoder's input, else the policy's) */
    int state_dim, act_dim; /* the policy's input and output */
} dp_policy;

/* Load version `id` (kind policy; lineage {"encoder": PATH} loads the encoder and checks its
 * latent size against the policy; at most 64 action dims). On failure *p is zeroed. */
sl_status dp_policy_load(sl_registry *reg, int64_t id, dp_policy *p);
void dp_policy_free(dp_policy *p); /* NULL and zeroed ok */
/* One observation [obs_dim] -> one action [act_dim] in [-1, 1]; SL_ERR_NAN if not finite. */
sl_status dp_policy_act(const dp_policy *p, const float *obs, float *act);

/* An episode's outcome as the live health and the gates see it (docs/DEPLOY.md): score = the
 * successful share of the attempts that ended (units / (units + failed attempts); an attempt
 * still under way when the episode ends is neither), 0 when none ended; failure = any failed
 * attempt (timeouts included); reward = return per control step. */
static inline sl_outcome dp_episode_outcome(const sl_env_metrics *m, double latency_ms) {
    sl_outcome o;
    int ended = m->units + m->failures;
    o.score = ended > 0 ? (double)m->units / ended : 0.0;
    o.failure = m->failures > 0;
    o.latency_ms = latency_ms;
    o.reward = m->steps > 0 ? m->total_reward / m->steps : 0.0;
    return o;
}

#endif
