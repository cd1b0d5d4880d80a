/* SPDX-License-Identifier: Apache-2.0 */
/* trust_windows.c - the windows trust_net learns from: real windows of an episode split,
 * negatives made from them (noise, variance inflation, random-walk drift) or taken from
 * external sequences, and fixed evaluation sets for calibration and test.
 *
 * Invariant: every window is drawn from the split it is given (train, calibration or test
 * episodes), so calibration and test never see a training episode; the draws depend only on
 * the rng passed in (streams of cfg.seed, listed in trust_train.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trust/trust_internal.h"


void sl_tr_seqs_free(sl_tr_seqs *s) {
    free(s->start);
    free(s->len);
    memset(s, 0, sizeof *s);
}

sl_status sl_tr_seqs_alloc(sl_tr_seqs *s, const float *z, size_t n) {
    memset(s, 0, sizeof *s);
    s->z = z;
    s->start = malloc((n ? n : 1) * sizeof(size_t));
    s->len = malloc((n ? n : 1) * sizeof(size_t));
    if (!s->start || !s->len) {
        sl_tr_seqs_free(s);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    return SL_OK;
}

void sl_tr_seqs_push(sl_tr_seqs *s, size_t start, size_t len) {
    s->start[s->n] = start;
    s->len[s->n] = len;
    if (len > s->maxlen) s->maxlen = len;
    s->n++;
}


/* A random sequence of s with len >= T (uniform over eligible ones); 0 if none. */
static int pick(sl_rng *r, const sl_tr_seqs *s, int T, size_t *start) {
    size_t cnt = 0;
    for (size_t i = 0; i < s->n; i++) cnt += s->len[i] >= (size_t)T;
    if (!cnt) return 0;
    size_t k = (size_t)sl_rng_below(r, cnt);
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] >= (size_t)T && k-- == 0) {
            *start = s->start[i] + (size_t)sl_rng_below(r, s->len[i] - (size_t)T + 1);
            return 1;
        }
    return 0;
}

/* out [T, D] <- a window of `kind`. Returns 0 if no sequence of that kind is long enough. */
int sl_tr_make_window(const sl_tr_gen *g, sl_rng *r, sl_trust_kind kind, int T, float *out) {
    const int D = g->D;
    const size_t cnt = (size_t)T * (size_t)D;
    size_t st;
    if (kind == SL_TRUST_KIND_EXTERNAL) {
        if (!g->ext || !pick(r, g->ext, T, &st)) return 0;
        memcpy(out, g->ext->z + st * (size_t)D, cnt * sizeof(float));
        return 1;
    }
    if (!pick(r, g->real, T, &st)) return 0;
    memcpy(out, g->real->z + st * (size_t)D, cnt * sizeof(float));
    const sl_trust_config *c = g->cfg;
    switch (kind) {
    case SL_TRUST_KIND_NOISE:
        for (size_t i = 0; i < cnt; i++)
            out[i] = (float)((double)out[i] + c->noise_scale * g->sd[i % (size_t)D] * sl_rng_normal(r));
        break;
    case SL_TRUST_KIND_INFLATE: {
        double f = sl_rng_uniform_range(r, c->inflate_lo, c->inflate_hi);
        for (int d = 0; d < D; d++) {
            double mu = 0.0;
            for (int t = 0; t < T; t++) mu += (double)out[(size_t)t * D + d];
            mu /= T;
            for (int t = 0; t < T; t++) {
                float *v = &out[(size_t)t * D + d];
                *v = (float)(mu + f * ((double)*v - mu));
            }
        }
        break;
    }
    case SL_TRUST_KIND_DRIFT:
        for (int d = 0; d < D; d++) {
            double walk = 0.0;
            for (int t = 0; t < T; t++) {
                walk += c->drift_scale * g->sd[d] * sl_rng_normal(r);
                out[(size_t)t * D + d] = (float)((double)out[(size_t)t * D + d] + walk);
            }
        }
        break;
    default:
        break;
    }
    return 1;
}

/* Negative kinds usable with a split (built-ins as enabled, external if given). */
int sl_tr_neg_kinds(const sl_trust_config *c, const sl_tr_seqs *ext, sl_trust_kind *k) {
    int n = 0;
    if (c->use_noise) k[n++] = SL_TRUST_KIND_NOISE;
    if (c->use_inflate) k[n++] = SL_TRUST_KIND_INFLATE;
    if (c->use_drift) k[n++] = SL_TRUST_KIND_DRIFT;
    if (ext && ext->n) k[n++] = SL_TRUST_KIND_EXTERNAL;
    return n;
}


void sl_tr_evalset_free(sl_tr_evalset *e) {
    free(e->T);
    free(e->label);
    free(e->kind);
    free(e->off);
    free(e->w);
    free(e->logit);
    memset(e, 0, sizeof *e);
}

/* `per_class` real windows and `per_class` negatives (cycling kinds) of the split; lengths
 * cycle over those the split can hold. */
sl_status sl_tr_evalset_build(sl_tr_evalset *e, const sl_tr_gen *g, const sl_trust_kind *kinds, int nk,
                               int per_class, uint64_t seed, uint64_t stream) {
    memset(e, 0, sizeof *e);
    const sl_trust_config *c = g->cfg;
    int lr[SL_TRUST_MAX_LENGTHS], le[SL_TRUST_MAX_LENGTHS], nlr = 0, nle = 0;
    for (int i = 0; i < c->n_lengths; i++) {
        if ((size_t)c->lengths[i] <= g->real->maxlen) lr[nlr++] = c->lengths[i];
        if (g->ext && (size_t)c->lengths[i] <= g->ext->maxlen) le[nle++] = c->lengths[i];
    }
    if (!nlr) return sl_set_error(SL_ERR_ARG, "trust_net: no window length fits the held-out episodes");
    size_t n = 2 * (size_t)per_class, total = 0;
    e->T = malloc(n * sizeof(int));
    e->label = malloc(n * sizeof(int));
    e->kind = malloc(n * sizeof(sl_trust_kind));
    e->off = malloc(n * sizeof(size_t));
    e->logit = malloc(n * sizeof(double));
    if (!e->T || !e->label || !e->kind || !e->off || !e->logit) {
        sl_tr_evalset_free(e);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int real = i < (size_t)per_class;
        size_t j = real ? i : i - (size_t)per_class;
        sl_trust_kind k = real ? SL_TRUST_KIND_REAL : kinds[j % (size_t)nk];
        if (k == SL_TRUST_KIND_EXTERNAL && !nle) k = kinds[0]; /* kinds[0] is built-in then */
        int T = (k == SL_TRUST_KIND_EXTERNAL) ? le[(j / (size_t)nk) % (size_t)nle]
                                              : lr[(real ? j : j / (size_t)nk) % (size_t)nlr];
        e->T[i] = T;
        e->kind[i] = k;
        e->label[i] = real;
        e->off[i] = total;
        total += (size_t)T * (size_t)g->D;
    }
    e->w = malloc(total * sizeof(float));
    if (!e->w) {
        sl_tr_evalset_free(e);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    e->n = n;
    sl_rng r;
    sl_rng_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        if (!sl_tr_make_window(g, &r, e->kind[i], e->T[i], e->w + e->off[i])) {
            sl_tr_evalset_free(e);
            return sl_set_error(SL_ERR_INTERNAL, "trust_net: no sequence for an evaluation window");
        }
    return SL_OK;
}

/* logits of every window, scoring windows of equal length together. */
sl_status sl_tr_evalset_score(sl_trust_model *m, sl_tr_evalset *e) {
    const size_t D = (size_t)m->D;
    for (int li = 0; li < m->cfg.n_lengths; li++) {
        int T = m->cfg.lengths[li];
        size_t cnt = 0;
        for (size_t i = 0; i < e->n; i++) cnt += e->T[i] == T;
        if (!cnt) continue;
        float *buf = malloc(cnt * (size_t)T * D * sizeof(float));
        double *lg = malloc(cnt * sizeof(double));
        if (!buf || !lg) {
            free(buf);
            free(lg);
            return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
        }
        size_t k = 0;
        for (size_t i = 0; i < e->n; i++)
            if (e->T[i] == T) memcpy(buf + (k++) * (size_t)T * D, e->w + e->off[i], (size_t)T * D * sizeof(float));
        sl_status st = sl_trust_logits(m, buf, cnt, T, (int)D, lg);
        k = 0;
        for (size_t i = 0; st == SL_OK && i < e->n; i++)
            if (e->T[i] == T) e->logit[i] = lg[k++];
        free(buf);
        free(lg);
        SL_TRY(st);
    }
    for (size_t i = 0; i < e->n; i++)
        if (!isfinite(e->logit[i]))
            return sl_set_error(SL_ERR_DIVERGED, "trust_net: non-finite logit on an evaluation window");
    return SL_OK;
}
