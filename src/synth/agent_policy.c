/* agent_policy.c - a trained policy (sl_agent, e.g. `synthloop train`'s checkpoint) as the
 * action source of branch rollouts: its deterministic action, plus Gaussian exploration noise
 * in units of the data's per-dimension action std, clipped to the action range seen in the data
 * (the same convention as the behaviour clone in bc.c).
 *
 * Invariant: sl_synth_agent_policy_act only ever returns finite actions inside [a_min, a_max]:
 * a non-finite latent (a diverging rollout, which the gates reject anyway) is fed to the agent
 * as 0 in that entry, and a non-finite agent output falls back to the data's mean action.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_rl.h"
#include "synthloop/sl_synth.h"

#define AP_CHUNK 1024

struct sl_synth_agent_policy {
    sl_agent *agent; /* borrowed */
    int Z, A;
    float noise;
    float *a_mean, *a_std, *a_min, *a_max; /* one allocation, 4 * A */
    float *out;                            /* [AP_CHUNK * A] */
    float *in;                             /* [AP_CHUNK * Z] sanitised latents */
};

void sl_synth_agent_policy_free(sl_synth_agent_policy *p) {
    if (!p) return;
    free(p->a_mean);
    free(p->out);
    free(p->in);
    free(p);
}

sl_status sl_synth_agent_policy_new(sl_synth_agent_policy **out, sl_agent *agent,
                                    const sl_world_data *d, float noise) {
    *out = NULL;
    if (!agent || !d) return sl_set_error(SL_ERR_ARG, "agent policy: NULL argument");
    if (!(noise >= 0.0f) || !isfinite(noise))
        return sl_set_error(SL_ERR_ARG, "agent policy: noise %g must be finite and >= 0",
                            (double)noise);
    if (d->n == 0) return sl_set_error(SL_ERR_ARG, "agent policy: no data for the action range");
    const sl_rl_config *c = sl_agent_config(agent);
    if (c->obs_dim != d->z_dim || c->act_dim != d->a_dim)
        return sl_set_error(SL_ERR_SHAPE,
                            "agent policy: the policy maps %d-dim observations to %d-dim actions, "
                            "the data has %d-dim latents and %d-dim actions (was it trained on "
                            "these latents?)",
                            c->obs_dim, c->act_dim, d->z_dim, d->a_dim);
    sl_synth_agent_policy *p = calloc(1, sizeof *p);
    if (!p) return sl_set_error(SL_ERR_NOMEM, "agent policy: out of memory");
    const int A = d->a_dim;
    p->agent = agent;
    p->Z = d->z_dim;
    p->A = A;
    p->noise = noise;
    p->a_mean = malloc((size_t)4 * A * sizeof(float));
    p->out = malloc((size_t)AP_CHUNK * A * sizeof(float));
    p->in = malloc((size_t)AP_CHUNK * d->z_dim * sizeof(float));
    if (!p->a_mean || !p->out || !p->in) {
        sl_synth_agent_policy_free(p);
        return sl_set_error(SL_ERR_NOMEM, "agent policy: out of memory");
    }
    p->a_std = p->a_mean + A;
    p->a_min = p->a_std + A;
    p->a_max = p->a_min + A;
    for (int j = 0; j < A; j++) {
        double s = 0, ss = 0;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < d->n; i++) {
            float v = d->actions[i * (size_t)A + j];
            s += (double)v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double m = s / (double)d->n;
        for (size_t i = 0; i < d->n; i++) {
            double e = (double)d->actions[i * (size_t)A + j] - m;
            ss += e * e;
        }
        double sd = sqrt(ss / (double)d->n);
        p->a_mean[j] = (float)m;
        p->a_std[j] = sd > 1e-8 ? (float)sd : 1.0f;
        p->a_min[j] = lo;
        p->a_max[j] = hi;
    }
    *out = p;
    return SL_OK;
}

sl_status sl_synth_agent_policy_act(void *ctx, const float *z, int n, float *actions, sl_rng *rng) {
    sl_synth_agent_policy *p = ctx;
    const int A = p->A;
    for (int c0 = 0; c0 < n; c0 += AP_CHUNK) {
        int B = n - c0 < AP_CHUNK ? n - c0 : AP_CHUNK;
        const float *zc = z + (size_t)c0 * p->Z;
        const size_t nz = (size_t)B * p->Z;
        if (!sl_all_finite_f32(zc, nz)) {
            for (size_t k = 0; k < nz; k++) p->in[k] = isfinite(zc[k]) ? zc[k] : 0.0f;
            zc = p->in;
        }
        SL_TRY(sl_agent_act(p->agent, zc, B, p->out));
        for (int i = 0; i < B; i++)
            for (int j = 0; j < A; j++) {
                float a = p->out[(size_t)i * A + j];
                if (p->noise > 0) a += p->noise * p->a_std[j] * (float)sl_rng_normal(rng);
                if (!isfinite(a)) a = p->a_mean[j];
                a = a < p->a_min[j] ? p->a_min[j] : (a > p->a_max[j] ? p->a_max[j] : a);
                actions[((size_t)c0 + i) * A + j] = a;
            }
    }
    return SL_OK;
}
