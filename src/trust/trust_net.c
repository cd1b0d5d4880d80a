/* trust_net.c - trust_net: a classifier of latent windows giving a calibrated p(real).
 *
 * Two architectures share one pipeline (inputs -> logit -> Platt calibration):
 *   MLP       standardised window features (gate.c's sl_trust_features) -> MLP -> logit
 *   TEMPORAL  per-step standardised [z_t, z_t - z_{t-1}] -> GRU -> last hidden -> Linear
 * Training draws balanced batches (half real windows, half negatives cycling over the enabled
 * kinds) of one window length per batch; the report and the calibration use episodes that
 * training never saw. Invariant: a window holding NaN/Inf never reaches the network; its
 * logit and trust are NaN. RNG streams of cfg.seed: 0 init, 1 episode split, 2 batches,
 * 3 calibration set, 4 external split, 5 feature statistics, 6 test set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_stats.h"
#include "synthloop/sl_trust.h"

#define SCORE_CHUNK 256
#define TRUST_KIND "trust_net"

struct sl_trust_model {
    sl_trust_config cfg;
    int D, F, in_dim;
    float *feat_mean, *feat_std;          /* [F] (MLP) */
    float *z_mean, *z_std, *dz_std;       /* [D] (TEMPORAL) */
    double platt[2];                      /* a, b */
    sl_nn_arena arena;
    sl_nn_mlp mlp;
    sl_nn_gru gru;
    sl_nn_linear head;
    /* scratch for up to sB windows of up to sT steps */
    int sB, sT;
    sl_nn_mlp_cache cache;
    float *in, *h0, *hs, *gcache, *gws, *dhs, *logit, *dlogit;
    double *feat;
    unsigned char *ok;
};

/* --- config ------------------------------------------------------------------------ */

sl_trust_config sl_trust_config_default(void) {
    sl_trust_config c;
    memset(&c, 0, sizeof c);
    c.arch = SL_TRUST_ARCH_MLP;
    c.hidden = 128;
    c.n_hidden = 2;
    static const int lens[] = {5, 10, 20, 30, 40, 60};
    c.n_lengths = 6;
    memcpy(c.lengths, lens, sizeof lens);
    c.steps = 3000;
    c.batch = 128;
    c.lr = 1e-3f;
    c.calib_frac = 0.15;
    c.test_frac = 0.15;
    c.use_noise = 1;
    c.use_inflate = c.use_drift = 0;
    c.position_features = 1;
    c.noise_scale = 0.5;
    c.inflate_lo = 1.5;
    c.inflate_hi = 2.0;
    c.drift_scale = 0.25;
    c.eval_windows = 400;
    c.seed = 0;
    return c;
}

sl_trust_config sl_trust_config_default_arch(sl_trust_arch arch) {
    sl_trust_config c = sl_trust_config_default();
    if (arch == SL_TRUST_ARCH_TEMPORAL) {
        c.arch = SL_TRUST_ARCH_TEMPORAL;
        c.hidden = 32;
        c.steps = 600;
    }
    return c;
}

sl_status sl_trust_config_check(const sl_trust_config *c) {
    if (!c) return sl_set_error(SL_ERR_ARG, "trust config: NULL");
    if ((int)c->arch < 0 || c->arch >= SL_TRUST_ARCH_COUNT)
        return sl_set_error(SL_ERR_ARG, "trust config: unknown arch %d", (int)c->arch);
    if (c->hidden < 1 || c->hidden > 4096)
        return sl_set_error(SL_ERR_ARG, "trust config: hidden %d outside [1, 4096]", c->hidden);
    if (c->n_hidden < 1 || c->n_hidden > 8)
        return sl_set_error(SL_ERR_ARG, "trust config: n_hidden %d outside [1, 8]", c->n_hidden);
    if (c->n_lengths < 1 || c->n_lengths > SL_TRUST_MAX_LENGTHS)
        return sl_set_error(SL_ERR_ARG, "trust config: n_lengths %d outside [1, %d]", c->n_lengths,
                            SL_TRUST_MAX_LENGTHS);
    for (int i = 0; i < c->n_lengths; i++) {
        if (c->lengths[i] < 2 || c->lengths[i] > 100000)
            return sl_set_error(SL_ERR_ARG, "trust config: window length %d outside [2, 100000]",
                                c->lengths[i]);
        for (int j = 0; j < i; j++)
            if (c->lengths[j] == c->lengths[i])
                return sl_set_error(SL_ERR_ARG, "trust config: window length %d listed twice",
                                    c->lengths[i]);
    }
    if (c->steps < 0 || c->steps > 10000000)
        return sl_set_error(SL_ERR_ARG, "trust config: steps %d outside [0, 1e7]", c->steps);
    if (c->batch < 2 || c->batch > 65536)
        return sl_set_error(SL_ERR_ARG, "trust config: batch %d outside [2, 65536]", c->batch);
    if (!(c->lr > 0.0f && c->lr < 10.0f))
        return sl_set_error(SL_ERR_ARG, "trust config: lr %g outside (0, 10)", (double)c->lr);
    if (!(c->calib_frac > 0.0 && c->test_frac > 0.0 && c->calib_frac + c->test_frac < 0.9))
        return sl_set_error(SL_ERR_ARG, "trust config: calib_frac %g and test_frac %g must be > 0 "
                            "with a sum < 0.9", c->calib_frac, c->test_frac);
    /* all built-ins off is allowed here: external negatives are checked by sl_trust_train */
    if (!(c->noise_scale > 0.0 && c->noise_scale < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: noise_scale %g outside (0, 100)",
                            c->noise_scale);
    if (!(c->inflate_lo > 1.0 && c->inflate_lo <= c->inflate_hi && c->inflate_hi < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: inflation range [%g, %g] must satisfy "
                            "1 < lo <= hi < 100", c->inflate_lo, c->inflate_hi);
    if (!(c->drift_scale > 0.0 && c->drift_scale < 100.0))
        return sl_set_error(SL_ERR_ARG, "trust config: drift_scale %g outside (0, 100)",
                            c->drift_scale);
    if (c->eval_windows < 20 || c->eval_windows > 1000000)
        return sl_set_error(SL_ERR_ARG, "trust config: eval_windows %d outside [20, 1e6]",
                            c->eval_windows);
    return SL_OK;
}

/* --- model ------------------------------------------------------------------------- */

static void free_scratch(sl_trust_model *m) {
    sl_nn_mlp_cache_free(&m->cache);
    free(m->in);
    free(m->h0);
    free(m->hs);
    free(m->gcache);
    free(m->gws);
    free(m->dhs);
    free(m->logit);
    free(m->dlogit);
    free(m->ok);
    m->in = m->h0 = m->hs = m->gcache = m->gws = m->dhs = m->logit = m->dlogit = NULL;
    m->ok = NULL;
    m->sB = m->sT = 0;
}

void sl_trust_free(sl_trust_model *m) {
    if (!m) return;
    free_scratch(m);
    free(m->feat);
    free(m->feat_mean);
    free(m->feat_std);
    free(m->z_mean);
    free(m->z_std);
    free(m->dz_std);
    sl_nn_arena_free(&m->arena);
    free(m);
}

int sl_trust_model_dim(const sl_trust_model *m) { return m->D; }
sl_trust_arch sl_trust_model_arch(const sl_trust_model *m) { return m->cfg.arch; }
sl_trust_config sl_trust_model_config(const sl_trust_model *m) { return m->cfg; }

static sl_status model_create(sl_trust_model **out, const sl_trust_config *cfg, int D) {
    *out = NULL;
    SL_TRY(sl_trust_config_check(cfg));
    if (D < 1 || D > 4096) return sl_set_error(SL_ERR_ARG, "trust_net: latent dim %d outside [1, 4096]", D);
    sl_trust_model *m = calloc(1, sizeof *m);
    if (!m) return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    m->cfg = *cfg;
    m->D = D;
    m->F = sl_trust_n_features(D);
    m->platt[0] = 1.0;
    m->platt[1] = 0.0;
    sl_nn_arena_init(&m->arena);
    sl_status st;
    if (cfg->arch == SL_TRUST_ARCH_MLP) {
        int sizes[SL_NN_MLP_MAX_LAYERS + 1];
        sizes[0] = m->F;
        for (int i = 1; i <= cfg->n_hidden; i++) sizes[i] = cfg->hidden;
        sizes[cfg->n_hidden + 1] = 1;
        m->in_dim = m->F;
        st = sl_nn_mlp_declare(&m->mlp, &m->arena, "mlp", cfg->n_hidden + 1, sizes,
                               SL_NN_ACT_RELU, 1);
    } else {
        m->in_dim = 2 * D;
        st = sl_nn_gru_declare(&m->gru, &m->arena, "gru", 2 * D, cfg->hidden);
        if (st == SL_OK) st = sl_nn_linear_declare(&m->head, &m->arena, "head", cfg->hidden, 1);
    }
    if (st == SL_OK) st = sl_nn_arena_alloc(&m->arena);
    if (st == SL_OK) {
        m->feat = malloc((size_t)m->F * sizeof(double));
        m->feat_mean = calloc((size_t)m->F, sizeof(float));
        m->feat_std = malloc((size_t)m->F * sizeof(float));
        m->z_mean = calloc((size_t)D, sizeof(float));
        m->z_std = malloc((size_t)D * sizeof(float));
        m->dz_std = malloc((size_t)D * sizeof(float));
        if (!m->feat || !m->feat_mean || !m->feat_std || !m->z_mean || !m->z_std || !m->dz_std) {
            st = sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
        } else {
            for (int i = 0; i < m->F; i++) m->feat_std[i] = 1.0f;
            for (int i = 0; i < D; i++) m->z_std[i] = m->dz_std[i] = 1.0f;
        }
    }
    if (st != SL_OK) {
        sl_trust_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}

static sl_status reserve(sl_trust_model *m, int B, int T) {
    int tempo = m->cfg.arch == SL_TRUST_ARCH_TEMPORAL;
    if (B <= m->sB && (!tempo || T <= m->sT)) return SL_OK;
    int nB = B > m->sB ? B : m->sB, nT = T > m->sT ? T : m->sT;
    free_scratch(m);
    size_t b = (size_t)nB, t = (size_t)nT, H = (size_t)m->cfg.hidden, in = (size_t)m->in_dim;
    m->logit = malloc(b * sizeof(float));
    m->dlogit = malloc(b * sizeof(float));
    m->ok = malloc(b);
    int okm = m->logit && m->dlogit && m->ok;
    if (!tempo) {
        m->in = malloc(b * in * sizeof(float));
        okm = okm && m->in && sl_nn_mlp_cache_alloc(&m->cache, &m->mlp, nB) == SL_OK;
    } else {
        m->in = malloc(t * b * in * sizeof(float));
        m->h0 = calloc(b * H, sizeof(float));
        m->hs = malloc(t * b * H * sizeof(float));
        m->dhs = malloc(t * b * H * sizeof(float));
        m->gcache = malloc(t * sl_nn_gru_cache_floats(nB, (int)H) * sizeof(float));
        m->gws = malloc(sl_nn_gru_ws_floats(nB, (int)H) * sizeof(float));
        okm = okm && m->in && m->h0 && m->hs && m->dhs && m->gcache && m->gws;
    }
    if (!okm) {
        free_scratch(m);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory for %d windows of %d steps",
                            B, T);
    }
    m->sB = nB;
    m->sT = tempo ? nT : 0;
    return SL_OK;
}

static inline float clampf(double v) {
    if (v > SL_TRUST_FEAT_CLAMP) v = SL_TRUST_FEAT_CLAMP;
    if (v < -SL_TRUST_FEAT_CLAMP) v = -SL_TRUST_FEAT_CLAMP;
    return (float)v;
}

/* Inputs for B windows [B, T, D]; ok[b] = window b finite (else its inputs are zero). */
static void prep_inputs(sl_trust_model *m, const float *w, int B, int T) {
    const int D = m->D;
    const size_t stride = (size_t)T * (size_t)D;
    for (int b = 0; b < B; b++) {
        const float *x = w + (size_t)b * stride;
        m->ok[b] = (unsigned char)sl_all_finite_f32(x, stride);
        if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
            float *in = m->in + (size_t)b * (size_t)m->F;
            if (!m->ok[b] || sl_trust_features(x, T, D, m->feat) != SL_OK) {
                m->ok[b] = 0;
                memset(in, 0, (size_t)m->F * sizeof(float));
                continue;
            }
            for (int j = 0; j < m->F; j++)
                in[j] = clampf((m->feat[j] - (double)m->feat_mean[j]) / (double)m->feat_std[j]);
            if (!m->cfg.position_features) {
                /* blocks 0 (mean), 2 (min), 3 (max) say where the window lies */
                memset(in, 0, (size_t)D * sizeof(float));
                memset(in + 2 * (size_t)D, 0, 2 * (size_t)D * sizeof(float));
            }
        } else {
            for (int t = 0; t < T; t++) {
                float *in = m->in + ((size_t)t * (size_t)B + (size_t)b) * (size_t)m->in_dim;
                if (!m->ok[b]) {
                    memset(in, 0, (size_t)m->in_dim * sizeof(float));
                    continue;
                }
                for (int d = 0; d < D; d++) {
                    double v = (double)x[(size_t)t * D + d];
                    in[d] = clampf((v - (double)m->z_mean[d]) / (double)m->z_std[d]);
                    double dv = t ? v - (double)x[(size_t)(t - 1) * D + d] : 0.0;
                    in[D + d] = clampf(dv / (double)m->dz_std[d]);
                }
            }
        }
    }
}

static void forward(sl_trust_model *m, int B, int T) {
    const float *p = m->arena.params;
    if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
        sl_nn_mlp_forward(m->logit, &m->cache, m->in, &m->mlp, p, B);
        return;
    }
    const int H = m->cfg.hidden;
    sl_nn_gru_forward(m->hs, m->gcache, m->in, m->h0, p + m->gru.w_ih, p + m->gru.w_hh,
                      p + m->gru.b_ih, p + m->gru.b_hh, T, B, m->in_dim, H, m->gws);
    sl_nn_linear_forward(m->logit, m->hs + (size_t)(T - 1) * (size_t)B * (size_t)H,
                         p + m->head.w, p + m->head.b, B, H, 1);
}

/* Adds parameter gradients of sum_b dlogit[b] * logit[b] (the forward must be the last). */
static void backward(sl_trust_model *m, int B, int T) {
    const float *p = m->arena.params;
    float *g = m->arena.grads;
    if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
        sl_nn_mlp_backward(NULL, g, &m->cache, m->dlogit, m->in, &m->mlp, p, B);
        return;
    }
    const int H = m->cfg.hidden;
    size_t last = (size_t)(T - 1) * (size_t)B * (size_t)H;
    memset(m->dhs, 0, (size_t)T * (size_t)B * (size_t)H * sizeof(float));
    sl_nn_linear_backward(m->dhs + last, g + m->head.w, g + m->head.b, m->dlogit, m->hs + last,
                          p + m->head.w, B, H, 1);
    sl_nn_gru_backward(NULL, NULL, g + m->gru.w_ih, g + m->gru.w_hh, g + m->gru.b_ih,
                       g + m->gru.b_hh, m->dhs, m->hs, m->gcache, m->in, m->h0, p + m->gru.w_ih,
                       p + m->gru.w_hh, T, B, m->in_dim, H, m->gws);
}

sl_status sl_trust_logits(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                          double *out) {
    if (!m || (!windows && n) || (!out && n)) return sl_set_error(SL_ERR_ARG, "trust score: NULL argument");
    if (T < 2) return sl_set_error(SL_ERR_ARG, "trust score: window length %d < 2", T);
    if (D != m->D)
        return sl_set_error(SL_ERR_SHAPE, "trust score: windows have %d dims, the model was "
                            "trained on %d", D, m->D);
    const size_t stride = (size_t)T * (size_t)D;
    for (size_t i0 = 0; i0 < n; i0 += SCORE_CHUNK) {
        int B = (int)((n - i0) < SCORE_CHUNK ? (n - i0) : SCORE_CHUNK);
        SL_TRY(reserve(m, B, T));
        prep_inputs(m, windows + i0 * stride, B, T);
        forward(m, B, T);
        for (int b = 0; b < B; b++) out[i0 + (size_t)b] = m->ok[b] ? (double)m->logit[b] : (double)NAN;
    }
    return SL_OK;
}

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

sl_status sl_trust_score_windows(sl_trust_model *m, const float *windows, size_t n, int T, int D,
                                 double *out_p) {
    SL_TRY(sl_trust_logits(m, windows, n, T, D, out_p));
    for (size_t i = 0; i < n; i++)
        if (!isnan(out_p[i])) out_p[i] = sigmoid(m->platt[0] * out_p[i] + m->platt[1]);
    return SL_OK;
}

/* --- Platt scaling --------------------------------------------------------------------- */

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Fit p = sigmoid(a s + b) by Newton's method with backtracking on Platt's smoothed targets
 * t+ = (N+ + 1) / (N+ + 2), t- = 1 / (N- + 2). */
static void platt_fit(const double *s, const int *y, size_t n, double *a_out, double *b_out) {
    size_t np = 0;
    for (size_t i = 0; i < n; i++) np += y[i] != 0;
    size_t nn = n - np;
    double tp = ((double)np + 1.0) / ((double)np + 2.0), tn = 1.0 / ((double)nn + 2.0);
    double a = 1.0, b = 0.0;
#define PLATT_LOSS(A, B, OUT)                                                                 \
    do {                                                                                      \
        double l_ = 0.0;                                                                      \
        for (size_t i_ = 0; i_ < n; i_++) {                                                   \
            double f_ = (A) * s[i_] + (B), t_ = y[i_] ? tp : tn;                              \
            l_ += t_ * softplus(-f_) + (1.0 - t_) * softplus(f_);                             \
        }                                                                                     \
        (OUT) = l_;                                                                           \
    } while (0)
    double loss;
    PLATT_LOSS(a, b, loss);
    for (int it = 0; it < 100; it++) {
        double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
        for (size_t i = 0; i < n; i++) {
            double p = sigmoid(a * s[i] + b), t = y[i] ? tp : tn, w = p * (1.0 - p);
            ga += (p - t) * s[i];
            gb += p - t;
            haa += w * s[i] * s[i];
            hab += w * s[i];
            hbb += w;
        }
        haa += 1e-12;
        hbb += 1e-12;
        double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        double da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det;
        double step = 1.0, nl = loss;
        for (int k = 0; k < 40; k++, step *= 0.5) {
            PLATT_LOSS(a + step * da, b + step * db, nl);
            if (nl <= loss) break;
        }
        if (!(nl <= loss)) break;
        a += step * da;
        b += step * db;
        double dl = loss - nl;
        loss = nl;
        if (fabs(step * da) < 1e-10 && fabs(step * db) < 1e-10) break;
        if (dl < 1e-13 * (1.0 + loss)) break;
    }
#undef PLATT_LOSS
    if (!isfinite(a) || !isfinite(b)) {
        a = 1.0;
        b = 0.0;
    }
    *a_out = a;
    *b_out = b;
}

/* --- training data ------------------------------------------------------------------- */

typedef struct seqs {
    const float *z;   /* base rows [*, D] */
    size_t n;
    size_t *start, *len;
    size_t maxlen;
} seqs;

static void seqs_free(seqs *s) {
    free(s->start);
    free(s->len);
    memset(s, 0, sizeof *s);
}

static sl_status seqs_alloc(seqs *s, const float *z, size_t n) {
    memset(s, 0, sizeof *s);
    s->z = z;
    s->start = malloc((n ? n : 1) * sizeof(size_t));
    s->len = malloc((n ? n : 1) * sizeof(size_t));
    if (!s->start || !s->len) {
        seqs_free(s);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    return SL_OK;
}

static void seqs_push(seqs *s, size_t start, size_t len) {
    s->start[s->n] = start;
    s->len[s->n] = len;
    if (len > s->maxlen) s->maxlen = len;
    s->n++;
}

/* Everything a window generator needs. */
typedef struct gen {
    int D;
    const sl_trust_config *cfg;
    const double *sd;       /* [D] real per-dim std (train rows) */
    const seqs *real, *ext; /* of the split */
} gen;

/* A random sequence of s with len >= T (uniform over eligible ones); 0 if none. */
static int pick(sl_rng *r, const seqs *s, int T, size_t *start) {
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
static int make_window(const gen *g, sl_rng *r, sl_trust_kind kind, int T, float *out) {
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
static int neg_kinds(const sl_trust_config *c, const seqs *ext, sl_trust_kind *k) {
    int n = 0;
    if (c->use_noise) k[n++] = SL_TRUST_KIND_NOISE;
    if (c->use_inflate) k[n++] = SL_TRUST_KIND_INFLATE;
    if (c->use_drift) k[n++] = SL_TRUST_KIND_DRIFT;
    if (ext && ext->n) k[n++] = SL_TRUST_KIND_EXTERNAL;
    return n;
}

/* An evaluation set: windows of mixed lengths with their kinds and labels. */
typedef struct evalset {
    size_t n;
    int *T, *label;
    sl_trust_kind *kind;
    size_t *off;      /* float offset of each window in w */
    float *w;
    double *logit;
} evalset;

static void evalset_free(evalset *e) {
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
static sl_status evalset_build(evalset *e, const gen *g, const sl_trust_kind *kinds, int nk,
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
        evalset_free(e);
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
        evalset_free(e);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    e->n = n;
    sl_rng r;
    sl_rng_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        if (!make_window(g, &r, e->kind[i], e->T[i], e->w + e->off[i])) {
            evalset_free(e);
            return sl_set_error(SL_ERR_INTERNAL, "trust_net: no sequence for an evaluation window");
        }
    return SL_OK;
}

/* logits of every window, scoring windows of equal length together. */
static sl_status evalset_score(sl_trust_model *m, evalset *e) {
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

/* --- training ------------------------------------------------------------------------- */

static sl_status check_inputs(const float *z, const int32_t *ids, size_t n, int D,
                              const float *neg_z, const size_t *neg_off, size_t n_neg) {
    if (!z || !ids || n == 0) return sl_set_error(SL_ERR_ARG, "trust train: no real latents");
    for (size_t i = 0; i < n * (size_t)D; i++)
        if (!isfinite(z[i]))
            return sl_set_error(SL_ERR_NAN, "trust train: real latent row %zu dim %zu is not finite",
                                i / (size_t)D, i % (size_t)D);
    if (ids[0] != 0) return sl_set_error(SL_ERR_FORMAT, "trust train: episode_ids must start at 0");
    for (size_t i = 1; i < n; i++)
        if (ids[i] != ids[i - 1] && ids[i] != ids[i - 1] + 1)
            return sl_set_error(SL_ERR_FORMAT, "trust train: episode_ids row %zu jumps from %d to "
                                "%d (must grow by 0 or 1)", i, ids[i - 1], ids[i]);
    if (n_neg) {
        if (!neg_z || !neg_off) return sl_set_error(SL_ERR_ARG, "trust train: NULL negatives");
        if (neg_off[0] != 0) return sl_set_error(SL_ERR_ARG, "trust train: neg_offsets[0] must be 0");
        for (size_t i = 0; i < n_neg; i++)
            if (neg_off[i + 1] < neg_off[i])
                return sl_set_error(SL_ERR_ARG, "trust train: neg_offsets decrease at %zu", i + 1);
        size_t rows = neg_off[n_neg];
        for (size_t i = 0; i < rows * (size_t)D; i++)
            if (!isfinite(neg_z[i]))
                return sl_set_error(SL_ERR_NAN, "trust train: negative row %zu dim %zu is not "
                                    "finite", i / (size_t)D, i % (size_t)D);
    }
    return SL_OK;
}

/* Split `n_items` indices into train / calib / test by the fractions (shuffled by rng). */
static void split3(sl_rng *r, size_t *idx, size_t n_items, const sl_trust_config *c, size_t *n_cal,
                   size_t *n_test) {
    for (size_t i = 0; i < n_items; i++) idx[i] = i;
    sl_rng_shuffle(r, idx, n_items);
    size_t nc = (size_t)floor(c->calib_frac * (double)n_items + 0.5);
    size_t nt = (size_t)floor(c->test_frac * (double)n_items + 0.5);
    if (nc < 1) nc = 1;
    if (nt < 1) nt = 1;
    while (nc + nt > n_items - 1) {
        if (nc >= nt && nc > 1) nc--;
        else if (nt > 1) nt--;
        else break;
    }
    *n_cal = nc;
    *n_test = nt;
}

/* Feature statistics (MLP) or per-step input statistics (TEMPORAL) from real train data. */
static sl_status fit_input_stats(sl_trust_model *m, const gen *g, const int *lens, int nl) {
    const int D = m->D;
    const seqs *s = g->real;
    /* per-dim z mean/std and first-difference RMS over the train rows */
    double *acc = calloc(3 * (size_t)D, sizeof(double));
    if (!acc) return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    size_t rows = 0, diffs = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t t = 0; t < s->len[i]; t++, rows++)
            for (int d = 0; d < D; d++) acc[d] += (double)s->z[(s->start[i] + t) * (size_t)D + d];
    for (int d = 0; d < D; d++) acc[d] /= (double)rows;
    for (size_t i = 0; i < s->n; i++)
        for (size_t t = 0; t < s->len[i]; t++) {
            const float *x = s->z + (s->start[i] + t) * (size_t)D;
            for (int d = 0; d < D; d++) {
                double v = (double)x[d] - acc[d];
                acc[D + d] += v * v;
                if (t) {
                    double dv = (double)x[d] - (double)x[d - D];
                    acc[2 * D + d] += dv * dv;
                }
            }
            diffs += t ? 1 : 0;
        }
    for (int d = 0; d < D; d++) {
        double sd = sqrt(acc[D + d] / (double)rows), dsd = diffs ? sqrt(acc[2 * D + d] / (double)diffs) : 0.0;
        m->z_mean[d] = (float)acc[d];
        m->z_std[d] = sd > 1e-8 ? (float)sd : 1.0f;
        m->dz_std[d] = dsd > 1e-8 ? (float)dsd : 1.0f;
    }
    free(acc);
    if (m->cfg.arch != SL_TRUST_ARCH_MLP) return SL_OK;
    /* features of 2048 real train windows, lengths cycling */
    const int nw = 2048, F = m->F;
    double *fs = calloc(2 * (size_t)F, sizeof(double));
    double *all = malloc((size_t)nw * (size_t)F * sizeof(double));
    int maxT = 0;
    for (int i = 0; i < nl; i++) maxT = lens[i] > maxT ? lens[i] : maxT;
    float *w = malloc((size_t)maxT * (size_t)D * sizeof(float));
    if (!fs || !all || !w) {
        free(fs);
        free(all);
        free(w);
        return sl_set_error(SL_ERR_NOMEM, "trust_net: out of memory");
    }
    sl_rng r;
    sl_rng_seed(&r, m->cfg.seed, 5);
    sl_status st = SL_OK;
    for (int i = 0; i < nw && st == SL_OK; i++) {
        int T = lens[i % nl];
        if (!make_window(g, &r, SL_TRUST_KIND_REAL, T, w))
            st = sl_set_error(SL_ERR_INTERNAL, "trust_net: no real window of length %d", T);
        else
            st = sl_trust_features(w, T, D, all + (size_t)i * (size_t)F);
    }
    if (st == SL_OK) {
        for (int i = 0; i < nw; i++)
            for (int j = 0; j < F; j++) fs[j] += all[(size_t)i * F + j];
        for (int j = 0; j < F; j++) fs[j] /= nw;
        for (int i = 0; i < nw; i++)
            for (int j = 0; j < F; j++) {
                double v = all[(size_t)i * F + j] - fs[j];
                fs[F + j] += v * v;
            }
        for (int j = 0; j < F; j++) {
            double sd = sqrt(fs[F + j] / nw);
            m->feat_mean[j] = (float)fs[j];
            m->feat_std[j] = sd > 1e-9 * (1.0 + fabs(fs[j])) ? (float)sd : 1.0f;
        }
    }
    free(fs);
    free(all);
    free(w);
    return st;
}

sl_status sl_trust_train(sl_trust_model **out, const sl_trust_config *cfg, const float *real_z,
                         const int32_t *episode_ids, size_t n, int D, const float *neg_z,
                         const size_t *neg_offsets, size_t n_neg, sl_trust_report *report) {
    if (!out || !cfg) return sl_set_error(SL_ERR_ARG, "trust train: NULL argument");
    *out = NULL;
    double t0 = sl_now();
    SL_TRY(sl_trust_config_check(cfg));
    if (D < 1) return sl_set_error(SL_ERR_ARG, "trust train: latent dim %d < 1", D);
    SL_TRY(check_inputs(real_z, episode_ids, n, D, neg_z, neg_offsets, n_neg));
    size_t ne = (size_t)episode_ids[n - 1] + 1;
    if (ne < 3)
        return sl_set_error(SL_ERR_ARG, "trust train: need >= 3 real episodes (train, calibration, "
                            "test), have %zu", ne);
    if (!cfg->use_noise && !cfg->use_inflate && !cfg->use_drift && n_neg == 0)
        return sl_set_error(SL_ERR_ARG, "trust train: no negatives (built-ins disabled and no "
                            "external windows)");

    /* episode spans and the split */
    size_t *ep_start = malloc((ne + 1) * sizeof(size_t));
    size_t *idx = malloc((ne > n_neg ? ne : n_neg + 1) * sizeof(size_t));
    seqs real[3], ext[3];
    memset(real, 0, sizeof real);
    memset(ext, 0, sizeof ext);
    sl_trust_model *m = NULL;
    evalset cal, test;
    memset(&cal, 0, sizeof cal);
    memset(&test, 0, sizeof test);
    double *sd = calloc((size_t)D, sizeof(double));
    float *wb = NULL;
    float *labels = NULL;
    sl_status st = SL_OK;
    if (!ep_start || !idx || !sd) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK) {
        size_t e = 0;
        ep_start[0] = 0;
        for (size_t i = 1; i < n; i++)
            if (episode_ids[i] != episode_ids[i - 1]) ep_start[++e] = i;
        ep_start[ne] = n;
        for (int s = 0; s < 3 && st == SL_OK; s++) {
            st = seqs_alloc(&real[s], real_z, ne);
            if (st == SL_OK) st = seqs_alloc(&ext[s], neg_z, n_neg ? n_neg : 1);
        }
    }
    size_t n_cal = 0, n_test = 0;
    if (st == SL_OK) {
        sl_rng r;
        sl_rng_seed(&r, cfg->seed, 1);
        split3(&r, idx, ne, cfg, &n_cal, &n_test);
        for (size_t i = 0; i < ne; i++) {
            int s = i < n_cal ? 1 : i < n_cal + n_test ? 2 : 0;
            size_t e = idx[i];
            seqs_push(&real[s], ep_start[e], ep_start[e + 1] - ep_start[e]);
        }
        if (n_neg >= 3) {
            sl_rng_seed(&r, cfg->seed, 4);
            size_t nc, nt;
            split3(&r, idx, n_neg, cfg, &nc, &nt);
            for (size_t i = 0; i < n_neg; i++) {
                int s = i < nc ? 1 : i < nc + nt ? 2 : 0;
                seqs_push(&ext[s], neg_offsets[idx[i]], neg_offsets[idx[i] + 1] - neg_offsets[idx[i]]);
            }
        } else {
            for (size_t i = 0; i < n_neg; i++)
                seqs_push(&ext[0], neg_offsets[i], neg_offsets[i + 1] - neg_offsets[i]);
        }
    }
    /* lengths usable in training */
    int lens[SL_TRUST_MAX_LENGTHS], nl = 0, maxT = 0;
    for (int i = 0; st == SL_OK && i < cfg->n_lengths; i++)
        if ((size_t)cfg->lengths[i] <= real[0].maxlen) {
            lens[nl++] = cfg->lengths[i];
            if (cfg->lengths[i] > maxT) maxT = cfg->lengths[i];
        }
    if (st == SL_OK && nl == 0)
        st = sl_set_error(SL_ERR_ARG, "trust train: no window length in the configured set fits "
                          "the training episodes (longest has %zu steps)", real[0].maxlen);
    if (st == SL_OK && n_neg && ext[0].maxlen < 2)
        st = sl_set_error(SL_ERR_ARG, "trust train: external negative sequences need >= 2 steps");
    /* real per-dim std over train rows (scales of noise and drift) */
    if (st == SL_OK) {
        size_t rows = 0;
        double *mu = calloc((size_t)D, sizeof(double));
        if (!mu) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
        for (int pass = 0; st == SL_OK && pass < 2; pass++) {
            for (size_t i = 0; i < real[0].n; i++)
                for (size_t t = 0; t < real[0].len[i]; t++) {
                    const float *x = real_z + (real[0].start[i] + t) * (size_t)D;
                    for (int d = 0; d < D; d++) {
                        if (pass == 0) mu[d] += (double)x[d];
                        else sd[d] += ((double)x[d] - mu[d]) * ((double)x[d] - mu[d]);
                    }
                    if (pass == 0) rows++;
                }
            if (pass == 0)
                for (int d = 0; d < D; d++) mu[d] /= (double)rows;
        }
        for (int d = 0; st == SL_OK && d < D; d++) {
            sd[d] = sqrt(sd[d] / (double)rows);
            if (!(sd[d] > 1e-8)) sd[d] = 1e-8;
        }
        free(mu);
    }
    if (st == SL_OK) st = model_create(&m, cfg, D);
    gen g_train = {D, cfg, sd, &real[0], &ext[0]};
    gen g_cal = {D, cfg, sd, &real[1], n_neg >= 3 ? &ext[1] : NULL};
    gen g_test = {D, cfg, sd, &real[2], n_neg >= 3 ? &ext[2] : NULL};
    if (st == SL_OK) {
        sl_rng r;
        sl_rng_seed(&r, cfg->seed, 0);
        if (cfg->arch == SL_TRUST_ARCH_MLP) {
            sl_nn_mlp_init(&m->mlp, m->arena.params, &r);
        } else {
            sl_nn_gru_init(&m->gru, m->arena.params, &r);
            sl_nn_linear_init(&m->head, m->arena.params, &r);
        }
        st = fit_input_stats(m, &g_train, lens, nl);
    }
    /* --- optimisation --- */
    sl_trust_kind kinds[SL_TRUST_KIND_COUNT];
    int nk = neg_kinds(cfg, &ext[0], kinds);
    const int B = cfg->batch;
    if (st == SL_OK) {
        wb = malloc((size_t)B * (size_t)maxT * (size_t)D * sizeof(float));
        labels = malloc((size_t)B * sizeof(float));
        if (!wb || !labels) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    }
    if (st == SL_OK) st = reserve(m, B, maxT);
    double l_first = 0, l_last = 0;
    int n10 = cfg->steps / 10 > 0 ? cfg->steps / 10 : 1;
    if (st == SL_OK) {
        sl_nn_adam adam = sl_nn_adam_defaults(cfg->lr);
        sl_rng r;
        sl_rng_seed(&r, cfg->seed, 2);
        sl_progress prog;
        sl_progress_begin(&prog, "trust_net", (uint64_t)cfg->steps);
        double run = 0.0;
        for (int step = 0; step < cfg->steps && st == SL_OK; step++) {
            int T = lens[sl_rng_below(&r, (uint64_t)nl)];
            const size_t stride = (size_t)T * (size_t)D;
            for (int b = 0; b < B; b++) {
                int is_real = b < B / 2;
                labels[b] = is_real ? 1.0f : 0.0f;
                sl_trust_kind k = is_real ? SL_TRUST_KIND_REAL
                                          : kinds[(size_t)(b - B / 2 + step) % (size_t)nk];
                if (!make_window(&g_train, &r, k, T, wb + (size_t)b * stride)) {
                    /* external sequences too short for T: use the first built-in, or real
                     * data inflated when only external negatives exist */
                    sl_trust_kind alt = kinds[0] != SL_TRUST_KIND_EXTERNAL ? kinds[0] : SL_TRUST_KIND_INFLATE;
                    make_window(&g_train, &r, alt, T, wb + (size_t)b * stride);
                }
            }
            prep_inputs(m, wb, B, T);
            forward(m, B, T);
            float loss = sl_nn_bce_logits_loss(m->dlogit, m->logit, labels, NULL, (size_t)B);
            if (!isfinite(loss)) {
                st = sl_set_error(SL_ERR_DIVERGED, "trust train: loss is not finite at step %d "
                                  "(lower the learning rate?)", step);
                break;
            }
            sl_nn_arena_zero_grad(&m->arena);
            backward(m, B, T);
            sl_nn_arena_clip_grad_norm(&m->arena, 5.0f);
            sl_nn_arena_adam_step(&m->arena, &adam);
            if (step < n10) l_first += (double)loss;
            if (step >= cfg->steps - n10) l_last += (double)loss;
            run = step ? 0.98 * run + 0.02 * (double)loss : (double)loss;
            if ((step & 31) == 31 || step + 1 == cfg->steps) {
                char extra[48];
                snprintf(extra, sizeof extra, "bce %.4f", run);
                sl_progress_update(&prog, (uint64_t)step + 1, extra);
            }
        }
        sl_progress_end(&prog);
    }
    if (st == SL_OK && !sl_all_finite_f32(m->arena.params, m->arena.numel))
        st = sl_set_error(SL_ERR_DIVERGED, "trust train: parameters became non-finite");
    /* --- calibration on calibration episodes, report on test episodes --- */
    sl_trust_kind kc[SL_TRUST_KIND_COUNT], kt[SL_TRUST_KIND_COUNT];
    int nkc = neg_kinds(cfg, g_cal.ext, kc), nkt = neg_kinds(cfg, g_test.ext, kt);
    if (st == SL_OK && (nkc == 0 || nkt == 0))
        st = sl_set_error(SL_ERR_ARG, "trust train: with only external negatives, give >= 3 "
                          "negative sequences so that calibration and test sets get some");
    if (st == SL_OK) st = evalset_build(&cal, &g_cal, kc, nkc, cfg->eval_windows, cfg->seed, 3);
    if (st == SL_OK) st = evalset_build(&test, &g_test, kt, nkt, cfg->eval_windows, cfg->seed, 6);
    if (st == SL_OK) st = evalset_score(m, &cal);
    if (st == SL_OK) st = evalset_score(m, &test);
    sl_trust_report rep;
    memset(&rep, 0, sizeof rep);
    if (st == SL_OK) {
        platt_fit(cal.logit, cal.label, cal.n, &m->platt[0], &m->platt[1]);
        double *praw = malloc(test.n * sizeof(double)), *pcal = malloc(test.n * sizeof(double));
        if (!praw || !pcal) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
        for (size_t i = 0; st == SL_OK && i < test.n; i++) {
            praw[i] = sigmoid(test.logit[i]);
            pcal[i] = sigmoid(m->platt[0] * test.logit[i] + m->platt[1]);
            rep.mean_trust[test.kind[i]] += pcal[i];
            rep.n_kind[test.kind[i]]++;
        }
        if (st == SL_OK) st = sl_stats_roc_auc(test.logit, test.label, test.n, &rep.auc);
        if (st == SL_OK) st = sl_stats_brier(praw, test.label, test.n, &rep.brier_raw);
        if (st == SL_OK) st = sl_stats_brier(pcal, test.label, test.n, &rep.brier);
        if (st == SL_OK) st = sl_stats_ece(praw, test.label, test.n, 0, &rep.ece_raw);
        if (st == SL_OK) st = sl_stats_ece(pcal, test.label, test.n, 0, &rep.ece);
        free(praw);
        free(pcal);
        for (int k = 0; k < SL_TRUST_KIND_COUNT; k++)
            if (rep.n_kind[k]) rep.mean_trust[k] /= (double)rep.n_kind[k];
        /* per-length pass rates at the level floors (lengths in ascending order) */
        static const double floors[3] = {0.95, 0.90, 0.85};
        for (int li = 0; li < cfg->n_lengths; li++) {
            int L = cfg->lengths[li], pos = rep.n_len;
            int dup = 0;
            for (int q = 0; q < rep.n_len; q++) dup |= rep.len[q] == L;
            if (dup) continue;
            while (pos > 0 && rep.len[pos - 1] > L) {
                rep.len[pos] = rep.len[pos - 1];
                pos--;
            }
            rep.len[pos] = L;
            rep.n_len++;
        }
        for (int q = 0; q < rep.n_len; q++)
            for (size_t i = 0; i < test.n; i++) {
                if (test.T[i] != rep.len[q]) continue;
                double p = sigmoid(m->platt[0] * test.logit[i] + m->platt[1]);
                int isreal = test.label[i] == 1;
                if (isreal)
                    rep.n_real_len[q]++;
                else
                    rep.n_neg_len[q]++;
                for (int f = 0; f < 3; f++)
                    if (p >= floors[f]) {
                        if (isreal)
                            rep.real_pass_len[q][f] += 1;
                        else
                            rep.neg_pass_len[q][f] += 1;
                    }
            }
        for (int q = 0; q < rep.n_len; q++)
            for (int f = 0; f < 3; f++) {
                rep.real_pass_len[q][f] = rep.n_real_len[q] ? rep.real_pass_len[q][f] / (double)rep.n_real_len[q] : (double)NAN;
                rep.neg_pass_len[q][f] = rep.n_neg_len[q] ? rep.neg_pass_len[q][f] / (double)rep.n_neg_len[q] : (double)NAN;
            }
        rep.n_episodes[0] = real[0].n;
        rep.n_episodes[1] = real[1].n;
        rep.n_episodes[2] = real[2].n;
        rep.n_test_windows = test.n;
        rep.train_loss_first = cfg->steps ? l_first / n10 : 0.0;
        rep.train_loss_last = cfg->steps ? l_last / n10 : 0.0;
        rep.platt_a = m->platt[0];
        rep.platt_b = m->platt[1];
        rep.seconds = sl_now() - t0;
    }
    evalset_free(&cal);
    evalset_free(&test);
    for (int s = 0; s < 3; s++) {
        seqs_free(&real[s]);
        seqs_free(&ext[s]);
    }
    free(ep_start);
    free(idx);
    free(sd);
    free(wb);
    free(labels);
    if (st != SL_OK) {
        sl_trust_free(m);
        return st;
    }
    if (report) *report = rep;
    *out = m;
    return SL_OK;
}

void sl_trust_report_to_json(cJSON *obj, const sl_trust_report *r) {
    cJSON *e = cJSON_AddObjectToObject(obj, "episodes");
    if (e) {
        cJSON_AddNumberToObject(e, "train", (double)r->n_episodes[0]);
        cJSON_AddNumberToObject(e, "calibration", (double)r->n_episodes[1]);
        cJSON_AddNumberToObject(e, "test", (double)r->n_episodes[2]);
    }
    cJSON_AddNumberToObject(obj, "test_windows", (double)r->n_test_windows);
    cJSON_AddNumberToObject(obj, "train_loss_first", r->train_loss_first);
    cJSON_AddNumberToObject(obj, "train_loss_last", r->train_loss_last);
    cJSON_AddNumberToObject(obj, "roc_auc", r->auc);
    cJSON *c = cJSON_AddObjectToObject(obj, "calibration");
    if (c) {
        cJSON_AddStringToObject(c, "method", "platt");
        cJSON_AddNumberToObject(c, "a", r->platt_a);
        cJSON_AddNumberToObject(c, "b", r->platt_b);
        cJSON_AddNumberToObject(c, "brier_before", r->brier_raw);
        cJSON_AddNumberToObject(c, "brier_after", r->brier);
        cJSON_AddNumberToObject(c, "ece_before", r->ece_raw);
        cJSON_AddNumberToObject(c, "ece_after", r->ece);
    }
    cJSON_AddNumberToObject(obj, "brier", r->brier);
    cJSON_AddNumberToObject(obj, "ece", r->ece);
    cJSON *k = cJSON_AddObjectToObject(obj, "mean_trust");
    cJSON *nk = cJSON_AddObjectToObject(obj, "test_windows_per_kind");
    for (int i = 0; i < SL_TRUST_KIND_COUNT; i++) {
        if (!r->n_kind[i]) continue;
        if (k) cJSON_AddNumberToObject(k, sl_trust_kind_name((sl_trust_kind)i), r->mean_trust[i]);
        if (nk) cJSON_AddNumberToObject(nk, sl_trust_kind_name((sl_trust_kind)i), (double)r->n_kind[i]);
    }
    cJSON *bl = cJSON_AddArrayToObject(obj, "by_length");
    for (int q = 0; bl && q < r->n_len; q++) {
        if (!r->n_real_len[q] && !r->n_neg_len[q]) continue;
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "T", r->len[q]);
        cJSON_AddNumberToObject(o, "real_windows", (double)r->n_real_len[q]);
        cJSON_AddNumberToObject(o, "negative_windows", (double)r->n_neg_len[q]);
        static const char *rk[3] = {"real_pass_0.95", "real_pass_0.90", "real_pass_0.85"};
        static const char *nk3[3] = {"negative_pass_0.95", "negative_pass_0.90", "negative_pass_0.85"};
        for (int f = 0; f < 3; f++) {
            if (r->n_real_len[q]) cJSON_AddNumberToObject(o, rk[f], r->real_pass_len[q][f]);
            if (r->n_neg_len[q]) cJSON_AddNumberToObject(o, nk3[f], r->neg_pass_len[q][f]);
        }
        cJSON_AddItemToArray(bl, o);
    }
    cJSON_AddNumberToObject(obj, "seconds", r->seconds);
}

/* --- checkpoints ----------------------------------------------------------------------- */

static cJSON *config_json(const sl_trust_model *m) {
    const sl_trust_config *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "format_version", 1);
    cJSON_AddStringToObject(j, "arch", sl_trust_arch_name(c->arch));
    cJSON_AddNumberToObject(j, "z_dim", m->D);
    cJSON_AddNumberToObject(j, "n_features", m->F);
    cJSON_AddStringToObject(j, "features",
                            "per dim: mean, std, min, max, var, smoothness, change; then log(T)");
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddNumberToObject(j, "n_hidden", c->n_hidden);
    cJSON *l = cJSON_AddArrayToObject(j, "lengths");
    for (int i = 0; l && i < c->n_lengths; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber(c->lengths[i]));
    cJSON_AddNumberToObject(j, "steps", c->steps);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", (double)c->lr);
    cJSON_AddNumberToObject(j, "calib_frac", c->calib_frac);
    cJSON_AddNumberToObject(j, "test_frac", c->test_frac);
    cJSON_AddBoolToObject(j, "use_noise", c->use_noise);
    cJSON_AddBoolToObject(j, "use_inflate", c->use_inflate);
    cJSON_AddBoolToObject(j, "use_drift", c->use_drift);
    cJSON_AddBoolToObject(j, "position_features", c->position_features);
    cJSON_AddNumberToObject(j, "noise_scale", c->noise_scale);
    cJSON_AddNumberToObject(j, "inflate_lo", c->inflate_lo);
    cJSON_AddNumberToObject(j, "inflate_hi", c->inflate_hi);
    cJSON_AddNumberToObject(j, "drift_scale", c->drift_scale);
    cJSON_AddNumberToObject(j, "eval_windows", c->eval_windows);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON *cal = cJSON_AddObjectToObject(j, "calibration");
    if (cal) {
        cJSON_AddStringToObject(cal, "method", "platt: p = sigmoid(a * logit + b)");
        cJSON_AddNumberToObject(cal, "a", m->platt[0]);
        cJSON_AddNumberToObject(cal, "b", m->platt[1]);
    }
    cJSON_AddNumberToObject(j, "feature_clamp", SL_TRUST_FEAT_CLAMP);
    return j;
}

sl_status sl_trust_save(const sl_trust_model *m, const char *path, const cJSON *extra_meta) {
    if (!m || !path) return sl_set_error(SL_ERR_ARG, "trust save: NULL argument");
    cJSON *cfg = config_json(m);
    char *cfg_txt = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    if (!cfg_txt) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    sl_nn_ckpt *c = NULL;
    sl_status st = sl_nn_ckpt_new(&c);
    if (st == SL_OK) {
        sl_nn_ckpt_put_arena(c, &m->arena, "");
        if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
            sl_nn_ckpt_put_vec_f32(c, "feat_mean", (size_t)m->F, m->feat_mean);
            sl_nn_ckpt_put_vec_f32(c, "feat_std", (size_t)m->F, m->feat_std);
        } else {
            sl_nn_ckpt_put_vec_f32(c, "z_mean", (size_t)m->D, m->z_mean);
            sl_nn_ckpt_put_vec_f32(c, "z_std", (size_t)m->D, m->z_std);
            sl_nn_ckpt_put_vec_f32(c, "dz_std", (size_t)m->D, m->dz_std);
        }
        sl_nn_ckpt_put_vec_f64(c, "platt", 2, m->platt);
        /* the caller's keys first, then ours (which replace any of the same name) */
        sl_nn_ckpt_add_meta_json(c, extra_meta);
        sl_nn_ckpt_set_meta(c, "synthloop_kind", TRUST_KIND);
        sl_nn_ckpt_set_meta(c, "config", cfg_txt);
        st = sl_nn_ckpt_write(c, path);
    }
    sl_nn_ckpt_free(c);
    free(cfg_txt);
    return st;
}

sl_status sl_trust_load(sl_trust_model **out, const char *path) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "trust load: NULL argument");
    *out = NULL;
    sl_nn_ckpt *ck = NULL;
    SL_TRY(sl_nn_ckpt_read(&ck, path, "synthloop_kind", TRUST_KIND, "trust_net"));
    cJSON *c = NULL;
    sl_status st = sl_nn_ckpt_meta_json(ck, "config", &c);
    sl_trust_model *m = NULL;
    if (st == SL_OK) {
        sl_trust_config cfg = sl_trust_config_default();
        st = sl_trust_arch_parse(sl_json_str(c, "arch", ""), &cfg.arch);
        cfg.hidden = sl_json_int(c, "hidden", -1);
        cfg.n_hidden = sl_json_int(c, "n_hidden", cfg.n_hidden);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(c, "lengths");
        if (cJSON_IsArray(l)) {
            int k = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, l) {
                if (k < SL_TRUST_MAX_LENGTHS && cJSON_IsNumber(it)) cfg.lengths[k] = it->valueint;
                k++;
            }
            cfg.n_lengths = k;
        }
        cfg.steps = sl_json_int(c, "steps", cfg.steps);
        cfg.batch = sl_json_int(c, "batch", cfg.batch);
        cfg.lr = (float)sl_json_num(c, "lr", (double)cfg.lr);
        cfg.calib_frac = sl_json_num(c, "calib_frac", cfg.calib_frac);
        cfg.test_frac = sl_json_num(c, "test_frac", cfg.test_frac);
        cfg.use_noise = sl_json_bool(c, "use_noise", cfg.use_noise);
        cfg.use_inflate = sl_json_bool(c, "use_inflate", cfg.use_inflate);
        cfg.use_drift = sl_json_bool(c, "use_drift", cfg.use_drift);
        cfg.position_features = sl_json_bool(c, "position_features", 1);
        cfg.noise_scale = sl_json_num(c, "noise_scale", cfg.noise_scale);
        cfg.inflate_lo = sl_json_num(c, "inflate_lo", cfg.inflate_lo);
        cfg.inflate_hi = sl_json_num(c, "inflate_hi", cfg.inflate_hi);
        cfg.drift_scale = sl_json_num(c, "drift_scale", cfg.drift_scale);
        cfg.eval_windows = sl_json_int(c, "eval_windows", cfg.eval_windows);
        cfg.seed = strtoull(sl_json_str(c, "seed", "0"), NULL, 10);
        if (st == SL_OK) st = model_create(&m, &cfg, sl_json_int(c, "z_dim", -1));
        if (st != SL_OK) st = sl_set_error(st, "%s: bad config: %s", path, sl_last_error());
    }
    if (st == SL_OK) st = sl_nn_ckpt_get_arena(ck, &m->arena, "");
    if (st == SL_OK && m->cfg.arch == SL_TRUST_ARCH_MLP) {
        size_t F = (size_t)m->F;
        st = sl_nn_ckpt_get_vec_f32(ck, "feat_mean", F, m->feat_mean);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "feat_std", F, m->feat_std);
        for (size_t j = 0; st == SL_OK && j < F; j++)
            if (!(m->feat_std[j] > 0.0f))
                st = sl_set_error(SL_ERR_FORMAT, "%s: feat_std[%zu] is not positive", path, j);
    } else if (st == SL_OK) {
        size_t D = (size_t)m->D;
        st = sl_nn_ckpt_get_vec_f32(ck, "z_mean", D, m->z_mean);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "z_std", D, m->z_std);
        if (st == SL_OK) st = sl_nn_ckpt_get_vec_f32(ck, "dz_std", D, m->dz_std);
        for (size_t j = 0; st == SL_OK && j < D; j++)
            if (!(m->z_std[j] > 0.0f) || !(m->dz_std[j] > 0.0f))
                st = sl_set_error(SL_ERR_FORMAT, "%s: z_std/dz_std[%zu] is not positive", path, j);
    }
    if (st == SL_OK) st = sl_nn_ckpt_get_vec_f64(ck, "platt", 2, m->platt);
    cJSON_Delete(c);
    sl_nn_ckpt_free(ck);
    if (st != SL_OK) {
        sl_trust_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}
