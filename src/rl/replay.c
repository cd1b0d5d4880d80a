/* SPDX-License-Identifier: Apache-2.0 */
/* replay.c - replay buffer with source tracking and weighted sampling.
 * Invariant: every stored value is finite and every weight is >= 0; the sampling tables (the
 * cumulative weights, the per-source index lists and their weight sums) are rebuilt from
 * scratch at the first draw after any addition (dirty flag) and only then, so a draw costs
 * O(B log n) and never sees stale sums. The sums are accumulated in row order, the order the
 * per-draw loops used before they were cached, so the draws and loss weights of a seed are
 * the same bits (tests/test_rl.c keeps that version as the reference). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_rl.h"

static const char *const sampling_names[] = {"proportional", "importance"};
_Static_assert(sizeof(sampling_names) / sizeof(sampling_names[0]) == SL_RL_SAMPLING_COUNT,
               "sampling names");

const char *sl_rl_sampling_name(sl_rl_sampling s) {
    return (s >= 0 && s < SL_RL_SAMPLING_COUNT) ? sampling_names[s] : "unknown";
}

sl_status sl_rl_sampling_parse(const char *name, sl_rl_sampling *out) {
    for (int i = 0; i < SL_RL_SAMPLING_COUNT; i++)
        if (name && strcmp(name, sampling_names[i]) == 0) {
            *out = (sl_rl_sampling)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown sampling mode '%s' (proportional|importance)",
                        name ? name : "");
}

sl_status sl_replay_alloc(sl_replay **out, size_t cap, int obs_dim, int act_dim) {
    *out = NULL;
    if (cap == 0 || obs_dim <= 0 || act_dim <= 0)
        return sl_set_error(SL_ERR_ARG, "replay: bad sizes cap=%zu obs=%d act=%d", cap, obs_dim,
                            act_dim);
    sl_replay *r = calloc(1, sizeof *r);
    if (!r) return sl_set_error(SL_ERR_NOMEM, "replay: out of memory");
    r->cap = cap;
    r->obs_dim = obs_dim;
    r->act_dim = act_dim;
    r->obs = malloc(cap * (size_t)obs_dim * sizeof(float));
    r->next_obs = malloc(cap * (size_t)obs_dim * sizeof(float));
    r->act = malloc(cap * (size_t)act_dim * sizeof(float));
    r->rew = malloc(cap * sizeof(float));
    r->done = malloc(cap * sizeof(float));
    r->weight = malloc(cap * sizeof(float));
    r->source = malloc(cap);
    r->cum = malloc(cap * sizeof(double));
    r->idx_real = malloc(cap * sizeof(size_t));
    r->idx_synth = malloc(cap * sizeof(size_t));
    if (!r->obs || !r->next_obs || !r->act || !r->rew || !r->done || !r->weight || !r->source ||
        !r->cum || !r->idx_real || !r->idx_synth) {
        sl_replay_free(r);
        return sl_set_error(SL_ERR_NOMEM, "replay: out of memory for %zu transitions", cap);
    }
    r->dirty = 1;
    *out = r;
    return SL_OK;
}

void sl_replay_free(sl_replay *r) {
    if (!r) return;
    free(r->obs);
    free(r->next_obs);
    free(r->act);
    free(r->rew);
    free(r->done);
    free(r->weight);
    free(r->source);
    free(r->cum);
    free(r->idx_real);
    free(r->idx_synth);
    free(r);
}

sl_status sl_replay_add(sl_replay *r, size_t n, const float *obs, const float *act,
                        const float *rew, const float *next_obs, const float *done,
                        const float *weight, sl_source source) {
    if (source < 0 || source >= SL_SOURCE_COUNT) return sl_set_error(SL_ERR_ARG, "replay: bad source");
    if (n > r->cap - r->n)
        return sl_set_error(SL_ERR_RANGE, "replay: adding %zu rows exceeds capacity %zu (have %zu)",
                            n, r->cap, r->n);
    size_t od = (size_t)r->obs_dim, ad = (size_t)r->act_dim;
    for (size_t i = 0; i < n; i++) {
        if (!sl_all_finite_f32(obs + i * od, od) || !sl_all_finite_f32(next_obs + i * od, od) ||
            !sl_all_finite_f32(act + i * ad, ad) || !isfinite(rew[i]) ||
            (done && !isfinite(done[i])))
            return sl_set_error(SL_ERR_NAN, "replay: non-finite value in %s row %zu",
                                source == SL_SOURCE_REAL ? "real" : "synthetic", i);
        if (weight && !(weight[i] >= 0.0f && isfinite(weight[i])))
            return sl_set_error(SL_ERR_ARG, "replay: weight of %s row %zu is %g (must be >= 0)",
                                source == SL_SOURCE_REAL ? "real" : "synthetic", i,
                                (double)weight[i]);
    }
    size_t o = r->n;
    memcpy(r->obs + o * od, obs, n * od * sizeof(float));
    memcpy(r->next_obs + o * od, next_obs, n * od * sizeof(float));
    memcpy(r->act + o * ad, act, n * ad * sizeof(float));
    memcpy(r->rew + o, rew, n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        r->done[o + i] = done ? (done[i] != 0.0f ? 1.0f : 0.0f) : 0.0f;
        r->weight[o + i] = weight ? weight[i] : 1.0f;
        r->source[o + i] = (uint8_t)source;
    }
    r->n += n;
    r->dirty = 1;
    return SL_OK;
}

static void rebuild(sl_replay *r) {
    double acc = 0.0;
    r->n_real = r->n_synth = 0;
    r->w_real = r->w_synth = 0.0;
    for (size_t i = 0; i < r->n; i++) {
        acc += (double)r->weight[i];
        r->cum[i] = acc;
        if (r->weight[i] > 0.0f) {
            if (r->source[i] == SL_SOURCE_REAL) {
                r->idx_real[r->n_real++] = i;
                r->w_real += (double)r->weight[i];
            } else {
                r->idx_synth[r->n_synth++] = i;
                r->w_synth += (double)r->weight[i];
            }
        }
    }
    r->dirty = 0;
}

double sl_replay_synth_share(const sl_replay *r) {
    double s = 0.0, t = 0.0;
    for (size_t i = 0; i < r->n; i++) {
        t += (double)r->weight[i];
        if (r->source[i] == SL_SOURCE_SYNTH) s += (double)r->weight[i];
    }
    return t > 0.0 ? s / t : 0.0;
}

sl_status sl_batch_alloc(sl_batch *b, int B, int obs_dim, int act_dim) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->obs_dim = obs_dim;
    b->act_dim = act_dim;
    size_t Bs = (size_t)B;
    b->obs = malloc(Bs * (size_t)obs_dim * sizeof(float));
    b->next_obs = malloc(Bs * (size_t)obs_dim * sizeof(float));
    b->act = malloc(Bs * (size_t)act_dim * sizeof(float));
    b->rew = malloc(Bs * sizeof(float));
    b->done = malloc(Bs * sizeof(float));
    b->lw = malloc(Bs * sizeof(float));
    b->source = malloc(Bs);
    b->index = malloc(Bs * sizeof(size_t));
    if (!b->obs || !b->next_obs || !b->act || !b->rew || !b->done || !b->lw || !b->source ||
        !b->index) {
        sl_batch_free(b);
        return sl_set_error(SL_ERR_NOMEM, "batch: out of memory");
    }
    return SL_OK;
}

void sl_batch_free(sl_batch *b) {
    if (!b) return;
    free(b->obs);
    free(b->next_obs);
    free(b->act);
    free(b->rew);
    free(b->done);
    free(b->lw);
    free(b->source);
    free(b->index);
    memset(b, 0, sizeof *b);
}

/* First index with cum[i] > u (binary search over the cumulative weights). */
static size_t search_cum(const double *cum, size_t n, double u) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

sl_status sl_replay_sample(sl_replay *r, sl_batch *b, sl_rl_sampling mode, sl_rng *rng) {
    if (b->obs_dim != r->obs_dim || b->act_dim != r->act_dim)
        return sl_set_error(SL_ERR_SHAPE, "batch dims differ from replay dims");
    if (r->dirty) rebuild(r);
    double total = r->n ? r->cum[r->n - 1] : 0.0;
    if (!(total > 0.0)) return sl_set_error(SL_ERR_STATE, "replay: no sample has positive weight");
    size_t od = (size_t)r->obs_dim, ad = (size_t)r->act_dim;
    double wsum = 0.0;
    double p_synth = r->w_synth / total;
    for (int k = 0; k < b->B; k++) {
        size_t i;
        if (mode == SL_RL_SAMPLE_PROPORTIONAL) {
            double u = sl_rng_uniform(rng) * total;
            i = search_cum(r->cum, r->n, u);
            while (r->weight[i] <= 0.0f && i + 1 < r->n) i++; /* rounding guard */
        } else {
            int synth = r->n_synth > 0 && (r->n_real == 0 || sl_rng_uniform(rng) < p_synth);
            if (synth) i = r->idx_synth[sl_rng_below(rng, r->n_synth)];
            else i = r->idx_real[sl_rng_below(rng, r->n_real)];
        }
        b->index[k] = i;
        memcpy(b->obs + (size_t)k * od, r->obs + i * od, od * sizeof(float));
        memcpy(b->next_obs + (size_t)k * od, r->next_obs + i * od, od * sizeof(float));
        memcpy(b->act + (size_t)k * ad, r->act + i * ad, ad * sizeof(float));
        b->rew[k] = r->rew[i];
        b->done[k] = r->done[i];
        b->source[k] = r->source[i];
        b->lw[k] = mode == SL_RL_SAMPLE_PROPORTIONAL ? 1.0f : r->weight[i];
        wsum += (double)b->lw[k];
    }
    if (mode == SL_RL_SAMPLE_IMPORTANCE) {
        /* Within a source rows are drawn uniformly, so weighting each by w_i / mean(w of its
         * source) gives each row influence proportional to its weight; normalise the batch
         * to mean 1 so learning rates keep their meaning. */
        double mean_real = r->n_real ? r->w_real / (double)r->n_real : 1.0;
        double mean_synth = r->n_synth ? r->w_synth / (double)r->n_synth : 1.0;
        wsum = 0.0;
        for (int k = 0; k < b->B; k++) {
            double m = b->source[k] == SL_SOURCE_SYNTH ? mean_synth : mean_real;
            b->lw[k] = (float)((double)b->lw[k] / m);
            wsum += (double)b->lw[k];
        }
        float scale = wsum > 0.0 ? (float)((double)b->B / wsum) : 1.0f;
        for (int k = 0; k < b->B; k++) b->lw[k] *= scale;
    }
    return SL_OK;
}
