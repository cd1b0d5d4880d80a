/* SPDX-License-Identifier: Apache-2.0 */
/* policy.c - a registered policy version loaded for acting: its agent and the encoder its
 * lineage names (deploy_internal.h). Invariant: a loaded policy's dimensions agree (encoder
 * latents = policy input, at most 64 action dims), checked once here, so callers only check
 * the observation length. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "deploy_internal.h"

void dp_policy_free(dp_policy *p) {
    if (!p) return;
    sl_agent_free(p->agent);
    sl_latent_free(p->enc);
    memset(p, 0, sizeof *p);
}

sl_status dp_policy_load(sl_registry *reg, int64_t id, dp_policy *p) {
    memset(p, 0, sizeof *p);
    sl_model_version v;
    SL_TRY(sl_mv_get(reg, id, &v));
    sl_status s = strcmp(v.kind, "policy") == 0
                      ? SL_OK
                      : sl_set_error(SL_ERR_ARG, "model version %lld is a %s, not a policy", (long long)id, v.kind);
    if (s == SL_OK) s = sl_agent_load(&p->agent, v.path);
    if (s == SL_OK && v.lineage_json) {
        cJSON *lin = cJSON_Parse(v.lineage_json);
        const cJSON *e = cJSON_GetObjectItem(lin, "encoder");
        if (cJSON_IsString(e) && *e->valuestring) s = sl_latent_load(&p->enc, e->valuestring);
        cJSON_Delete(lin);
    }
    if (s == SL_OK) {
        const sl_rl_config *rc = sl_agent_config(p->agent);
        p->state_dim = rc->obs_dim;
        p->act_dim = rc->act_dim;
        p->obs_dim = p->enc ? sl_latent_obs_dim(p->enc) : rc->obs_dim;
        if (p->enc && sl_latent_z_dim(p->enc) != rc->obs_dim)
            s = sl_set_error(SL_ERR_SHAPE, "version %lld: encoder gives %d-d latents, policy takes %d",
                             (long long)id, sl_latent_z_dim(p->enc), rc->obs_dim);
        if (p->act_dim > 64)
            s = sl_set_error(SL_ERR_SHAPE, "version %lld: %d action dims (at most 64 served)",
                             (long long)id, p->act_dim);
        if (p->state_dim > 1024)
            s = sl_set_error(SL_ERR_SHAPE, "version %lld: policy state of %d dims (at most 1024 served)",
                             (long long)id, p->state_dim);
    }
    p->id = id;
    sl_mv_record_clear(&v);
    if (s != SL_OK) dp_policy_free(p);
    return s;
}

sl_status dp_policy_act(const dp_policy *p, const float *obs, float *act) {
    float state[1024];
    const float *in = obs;
    if (p->enc) {
        SL_TRY(sl_latent_encode(p->enc, obs, 1, p->obs_dim, state));
        in = state;
    }
    SL_TRY(sl_agent_act(p->agent, in, 1, act));
    for (int j = 0; j < p->act_dim; j++)
        if (!isfinite(act[j]))
            return sl_set_error(SL_ERR_NAN, "version %lld produced a non-finite action", (long long)p->id);
    return SL_OK;
}
