/* SPDX-License-Identifier: Apache-2.0 */
/* vae.c - a tabular VAE on the NN engine (TVAE-like), trainable with DP-SGD.
 *
 * Row encoding (D values): numeric and date columns as one value each - their normal score
 * through the column's quantile function: the data's mid-ranks and quantiles without DP; with
 * DP, quantiles of a histogram over the schema's public bounds released with Gaussian noise
 * (a tenth of the budget) and each row scored through them alone - then every categorical
 * column one-hot.
 * Encoder MLP D -> H -> H -> 2L (ReLU) gives mu and log-variance lv (clamped to [-10, 10]);
 * z = mu + exp(lv / 2) e; decoder MLP L -> H -> H -> D gives a mean per numeric value and
 * logits per categorical column; "dec.logsigma" [n_num] is a learned output scale.
 * Per-row loss: sum_num [(x - m)^2 / (2 s^2) + log s] + sum_cat CE(logits, label)
 *               + beta_t KL(N(mu, e^lv) || N(0, I)),   beta_t = beta min(1, epoch / warmup).
 * Without DP: shuffled minibatches, mean loss, Adam. With DP: Poisson sampling with rate
 * q = batch / n, per-example clipping of the whole gradient (encoder, decoder, logsigma) by
 * the identities of sl_nn_dp.h, Gaussian noise sigma * clip, division by the expected batch;
 * sigma solved from (eps, delta, q, steps) composed with the histogram release, before
 * training. Sampling: z ~ N(0, I), numeric
 * value m + s e, categorical drawn from the softmax, then the inverse transform.
 * Invariant: the loss-gradient rows are per example (never divided by the batch) until the
 * optimiser step, so clipping scales apply to exactly one example's gradient.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gen/gen_internal.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"

#define VAE_KNOTS 2001
#define LS_MIN (-4.6f) /* log 0.01 */
#define LS_MAX 0.0f

typedef struct vae {
    int D, L, H, n_num;
    int *kind_off;        /* [n_cols] offset of the column in the D layout */
    int *num_idx;         /* [n_cols] index among numeric values (-1 for categorical) */
    gen_marginal *marg;   /* [n_cols] (no-DP transform of numeric/date columns) */
    sl_nn_arena arena;
    sl_nn_mlp enc, dec;
    size_t ls_off;        /* offset of dec.logsigma */
    size_t n_cols;
} vae;

static void vae_free(void *p) {
    vae *v = p;
    if (!v) return;
    if (v->marg)
        for (size_t j = 0; j < v->n_cols; j++) gen_marginal_free(&v->marg[j]);
    free(v->marg);
    free(v->kind_off);
    free(v->num_idx);
    sl_nn_arena_free(&v->arena);
    free(v);
}

/* layout and network declaration (no parameter values) */
static sl_status vae_new(vae **out, const sl_gen_table *schema, int H, int L) {
    *out = NULL;
    vae *v = calloc(1, sizeof *v);
    if (!v) return sl_set_error(SL_ERR_NOMEM, "vae: out of memory");
    sl_nn_arena_init(&v->arena);
    v->n_cols = schema->n_cols;
    v->H = H, v->L = L;
    v->kind_off = calloc(schema->n_cols, sizeof *v->kind_off);
    v->num_idx = calloc(schema->n_cols, sizeof *v->num_idx);
    v->marg = calloc(schema->n_cols, sizeof *v->marg);
    if (!v->kind_off || !v->num_idx || !v->marg) {
        vae_free(v);
        return sl_set_error(SL_ERR_NOMEM, "vae: out of memory");
    }
    int off = 0;
    for (size_t j = 0; j < schema->n_cols; j++) /* numeric values first */
        if (schema->cols[j].type != SL_GEN_CATEGORICAL) {
            v->num_idx[j] = v->n_num++;
            v->kind_off[j] = off++;
        }
    for (size_t j = 0; j < schema->n_cols; j++)
        if (schema->cols[j].type == SL_GEN_CATEGORICAL) {
            v->num_idx[j] = -1;
            v->kind_off[j] = off;
            off += (int)schema->cols[j].n_cats;
        }
    v->D = off;
    int es[4] = {v->D, H, H, 2 * L}, ds[4] = {L, H, H, v->D};
    sl_status st = sl_nn_mlp_declare(&v->enc, &v->arena, "enc", 3, es, SL_NN_ACT_RELU, 0);
    if (st == SL_OK) st = sl_nn_mlp_declare(&v->dec, &v->arena, "dec", 3, ds, SL_NN_ACT_RELU, 0);
    size_t shape[1] = {(size_t)(v->n_num ? v->n_num : 1)};
    if (st == SL_OK) st = sl_nn_arena_add(&v->arena, "dec.logsigma", 1, shape, &v->ls_off);
    if (st == SL_OK) st = sl_nn_arena_alloc(&v->arena);
    if (st != SL_OK) {
        vae_free(v);
        return st;
    }
    *out = v;
    return SL_OK;
}

/* --- the DP numeric transform: quantiles from noisy histograms -------------------------- */

#define HIST_LIN 48 /* linear bins over [lo, hi] */
#define HIST_GEO 48 /* geometric bins from lo (fine near lo: skewed, zero-inflated columns) */
#define DP_KNOTS 201

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Knots of column x[n] over its public bounds from a histogram released with Gaussian noise of
 * sd noise_sd per bin: edges = the union of a linear and a geometric grid (public), counts +
 * N(0, noise_sd^2), clamped at 0 and zeroed below 2 noise_sd, then DP_KNOTS quantiles of the
 * piecewise-linear CDF. Only the noisy counts depend on the data (post-processing after that). */
static sl_status dp_knots(gen_marginal *m, const sl_gen_column *c, const double *x, size_t n,
                          double noise_sd, sl_rng *rng) {
    double e[HIST_LIN + HIST_GEO + 2], cnt[HIST_LIN + HIST_GEO + 2];
    size_t ne = 0;
    double lo = c->lo, hi = c->hi, span = hi - lo;
    for (int k = 0; k <= HIST_LIN; k++) e[ne++] = lo + span * k / HIST_LIN;
    for (int k = 1; k < HIST_GEO; k++)
        e[ne++] = lo + span * (exp((double)k / HIST_GEO * log(1001.0)) - 1.0) / 1000.0;
    qsort(e, ne, sizeof *e, cmp_dbl);
    size_t u = 1;
    for (size_t k = 1; k < ne; k++)
        if (e[k] > e[u - 1]) e[u++] = e[k];
    ne = u; /* bins: [e[k], e[k+1]), the last one closed */
    size_t nb = ne - 1;
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) {
        size_t a = 0, b = nb; /* last edge <= x */
        while (b - a > 1) {
            size_t mid = (a + b) / 2;
            if (e[mid] <= x[i]) a = mid;
            else b = mid;
        }
        cnt[a] += 1.0;
    }
    double total = 0.0;
    for (size_t k = 0; k < nb; k++) {
        double v = cnt[k] + noise_sd * sl_rng_normal(rng);
        cnt[k] = v < 2.0 * noise_sd || v < 0.0 ? 0.0 : v;
        total += cnt[k];
    }
    if (!(total > 0.0)) /* nothing survived the noise: uniform over the bounds */
        for (size_t k = 0; k < nb; k++) cnt[k] = e[k + 1] - e[k], total += cnt[k];
    m->K = DP_KNOTS;
    m->knots = malloc(DP_KNOTS * sizeof *m->knots);
    if (!m->knots) return sl_set_error(SL_ERR_NOMEM, "vae: out of memory");
    double acc = 0.0;
    size_t k = 0;
    for (int q = 0; q < DP_KNOTS; q++) {
        double target = total * q / (DP_KNOTS - 1);
        while (k + 1 < nb && acc + cnt[k] < target) acc += cnt[k++];
        double f = cnt[k] > 0 ? (target - acc) / cnt[k] : 0.0;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        m->knots[q] = e[k] + f * (e[k + 1] - e[k]);
        if (q && m->knots[q] < m->knots[q - 1]) m->knots[q] = m->knots[q - 1];
    }
    return SL_OK;
}

/* X[n, D] encoded rows. Numeric values: normal scores by the data's mid-ranks (ranks = 1), or
 * row by row through the knots (ranks = 0: DP, where a row's code may not depend on others) */
static sl_status encode_rows(const vae *v, const sl_gen_table *t, float *X, int ranks) {
    size_t n = t->n_rows;
    double *z = malloc(n * sizeof *z);
    if (!z) return sl_set_error(SL_ERR_NOMEM, "vae: out of memory");
    memset(X, 0, n * (size_t)v->D * sizeof *X);
    for (size_t j = 0; j < t->n_cols; j++) {
        const sl_gen_column *c = &t->cols[j];
        const double *x = sl_gen_col(t, j);
        int off = v->kind_off[j];
        if (c->type == SL_GEN_CATEGORICAL) {
            for (size_t i = 0; i < n; i++) X[i * (size_t)v->D + (size_t)off + (size_t)x[i]] = 1.0f;
        } else if (!ranks) {
            for (size_t i = 0; i < n; i++)
                X[i * (size_t)v->D + (size_t)off] = (float)gen_marginal_score(&v->marg[j], x[i]);
        } else {
            sl_status st = gen_normal_scores(z, x, n);
            if (st != SL_OK) {
                free(z);
                return st;
            }
            for (size_t i = 0; i < n; i++) X[i * (size_t)v->D + (size_t)off] = (float)z[i];
        }
    }
    free(z);
    return SL_OK;
}

/* --- one chunk: forward, per-row loss gradients -------------------------------------- */

typedef struct work {
    int maxB;
    sl_nn_mlp_cache ce, cd;
    float *x, *eo, *eps, *z, *dout, *dz, *denc, *dls, *scale;
    double *sq;
} work;

static void work_free(work *w) {
    sl_nn_mlp_cache_free(&w->ce);
    sl_nn_mlp_cache_free(&w->cd);
    free(w->x);
    free(w->eo);
    free(w->eps);
    free(w->z);
    free(w->dout);
    free(w->dz);
    free(w->denc);
    free(w->dls);
    free(w->scale);
    free(w->sq);
    memset(w, 0, sizeof *w);
}

static sl_status work_alloc(work *w, const vae *v, int maxB) {
    memset(w, 0, sizeof *w);
    w->maxB = maxB;
    size_t B = (size_t)maxB, D = (size_t)v->D, L = (size_t)v->L, nn = (size_t)(v->n_num ? v->n_num : 1);
    sl_status st = sl_nn_mlp_cache_alloc(&w->ce, &v->enc, maxB);
    if (st == SL_OK) st = sl_nn_mlp_cache_alloc(&w->cd, &v->dec, maxB);
    if (st != SL_OK) {
        work_free(w);
        return st;
    }
    w->x = malloc(B * D * sizeof(float));
    w->eo = malloc(B * 2 * L * sizeof(float));
    w->eps = malloc(B * L * sizeof(float));
    w->z = malloc(B * L * sizeof(float));
    w->dout = malloc(B * D * sizeof(float));
    w->dz = malloc(B * L * sizeof(float));
    w->denc = malloc(B * 2 * L * sizeof(float));
    w->dls = malloc(B * nn * sizeof(float));
    w->scale = malloc(B * sizeof(float));
    w->sq = malloc(B * sizeof(double));
    if (!w->x || !w->eo || !w->eps || !w->z || !w->dout || !w->dz || !w->denc || !w->dls ||
        !w->scale || !w->sq) {
        work_free(w);
        return sl_set_error(SL_ERR_NOMEM, "vae: out of memory (batch %d)", maxB);
    }
    return SL_OK;
}

/* Forward rows rows[0..B) and the per-row gradients of the numeric part of the loss: w->dout
 * [B, D] (decoder output; the categorical blocks hold logits until cat_loss_grad) and w->dls
 * [B, n_num] (logsigma). Returns the summed numeric reconstruction + KL loss. */
static double chunk_forward(vae *v, work *w, const float *X, const size_t *rows, int B,
                            float beta, sl_rng *rng) {
    size_t D = (size_t)v->D, L = (size_t)v->L;
    const float *P = v->arena.params;
    for (int b = 0; b < B; b++) memcpy(w->x + (size_t)b * D, X + rows[b] * D, D * sizeof(float));
    sl_nn_mlp_forward(w->eo, &w->ce, w->x, &v->enc, P, B);
    sl_nn_randn(w->eps, (size_t)B * L, rng);
    for (int b = 0; b < B; b++)
        for (size_t k = 0; k < L; k++) {
            float *o = w->eo + (size_t)b * 2 * L;
            float lv = o[L + k];
            lv = lv < -10.0f ? -10.0f : lv > 10.0f ? 10.0f : lv;
            o[L + k] = lv;
            w->z[(size_t)b * L + k] = o[k] + expf(0.5f * lv) * w->eps[(size_t)b * L + k];
        }
    sl_nn_mlp_forward(w->dout, &w->cd, w->z, &v->dec, P, B); /* dout holds the outputs now */
    double loss = 0.0;
    const float *ls = P + v->ls_off;
    int nn = v->n_num;
    for (int b = 0; b < B; b++) {
        float *y = w->dout + (size_t)b * D;
        const float *x = w->x + (size_t)b * D;
        float *dls = w->dls + (size_t)b * (size_t)(nn ? nn : 1);
        for (int j = 0; j < nn; j++) { /* numeric values sit at 0..n_num-1 */
            float inv = expf(-2.0f * ls[j]), r = y[j] - x[j];
            loss += (double)(0.5f * r * r * inv + ls[j]);
            y[j] = r * inv;
            dls[j] = 1.0f - r * r * inv;
        }
        float *eo = w->eo + (size_t)b * 2 * L;
        for (size_t k = 0; k < L; k++) {
            float m = eo[k], lv = eo[L + k];
            loss += (double)(beta * 0.5f * (m * m + expf(lv) - 1.0f - lv));
        }
    }
    return loss;
}

/* Categorical cross-entropy over the blocks of the layout (block sizes from the schema). */
static double cat_loss_grad(const vae *v, const sl_gen_table *schema, work *w, int B) {
    size_t D = (size_t)v->D;
    double loss = 0.0;
    for (size_t j = 0; j < schema->n_cols; j++) {
        if (schema->cols[j].type != SL_GEN_CATEGORICAL) continue;
        size_t off = (size_t)v->kind_off[j], K = schema->cols[j].n_cats;
        for (int b = 0; b < B; b++) {
            float *y = w->dout + (size_t)b * D + off;
            const float *x = w->x + (size_t)b * D + off;
            float mx = y[0];
            for (size_t k = 1; k < K; k++) mx = y[k] > mx ? y[k] : mx;
            double s = 0.0;
            for (size_t k = 0; k < K; k++) s += exp((double)(y[k] - mx));
            double lse = (double)mx + log(s);
            for (size_t k = 0; k < K; k++) {
                if (x[k] > 0.5f) loss += lse - (double)y[k];
                y[k] = (float)(exp((double)y[k] - lse)) - x[k];
            }
        }
    }
    return loss;
}

/* encoder output gradient from dz: [dmu | dlv] per row; the KL part times kl_scale (1 for
 * per-example rows, 1/B when dz was already divided by the batch) */
static void enc_grad(const vae *v, work *w, int B, float beta, float kl_scale) {
    size_t L = (size_t)v->L;
    for (int b = 0; b < B; b++) {
        const float *eo = w->eo + (size_t)b * 2 * L, *dz = w->dz + (size_t)b * L;
        const float *e = w->eps + (size_t)b * L;
        float *g = w->denc + (size_t)b * 2 * L;
        for (size_t k = 0; k < L; k++) {
            float m = eo[k], lv = eo[L + k], sd = expf(0.5f * lv);
            g[k] = dz[k] + beta * kl_scale * m;
            int clamped = lv <= -10.0f || lv >= 10.0f;
            g[L + k] = clamped ? 0.0f
                               : dz[k] * e[k] * 0.5f * sd +
                                     beta * kl_scale * 0.5f * (expf(lv) - 1.0f);
        }
    }
}

typedef struct fit_ctx {
    vae *v;
    const sl_gen_table *schema;
    work w;
    const float *X;
    float beta;
    sl_rng *rng;
} fit_ctx;

/* One chunk of a step: ADD the chunk's (clipped, if dp) gradient sum into the arena grads.
 * Non-DP: rows are divided by `div` (the batch size) first. Returns the chunk's loss sum;
 * *nclip counts clipped rows. */
static double chunk_step(fit_ctx *f, const size_t *rows, int B, float div, int dp, float clip,
                         int *nclip) {
    vae *v = f->v;
    work *w = &f->w;
    size_t D = (size_t)v->D, L = (size_t)v->L;
    int nn = v->n_num, nns = nn ? nn : 1;
    float *G = v->arena.grads, *P = v->arena.params;
    double loss = chunk_forward(v, w, f->X, rows, B, f->beta, f->rng);
    loss += cat_loss_grad(v, f->schema, w, B);
    if (!dp) {
        float s = 1.0f / div;
        for (size_t i = 0; i < (size_t)B * D; i++) w->dout[i] *= s;
        for (size_t i = 0; i < (size_t)B * (size_t)nns; i++) w->dls[i] *= s;
        memset(w->dz, 0, (size_t)B * L * sizeof(float));
        sl_nn_mlp_backward(w->dz, G, &w->cd, w->dout, w->z, &v->dec, P, B);
        enc_grad(v, w, B, f->beta, s);
        sl_nn_mlp_backward(NULL, G, &w->ce, w->denc, w->x, &v->enc, P, B);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < nn; j++) G[v->ls_off + (size_t)j] += w->dls[(size_t)b * nns + j];
        return loss;
    }
    /* DP: per-example norms over decoder, logsigma and encoder, then scaled backward passes */
    memset(w->sq, 0, (size_t)B * sizeof(double));
    memset(w->dz, 0, (size_t)B * L * sizeof(float));
    sl_nn_mlp_per_example_sqnorm(w->sq, w->dz, &w->cd, w->dout, w->z, &v->dec, P, B);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < nn; j++) {
            double g = (double)w->dls[(size_t)b * nns + j];
            w->sq[b] += g * g;
        }
    enc_grad(v, w, B, f->beta, 1.0f);
    sl_nn_mlp_per_example_sqnorm(w->sq, NULL, &w->ce, w->denc, w->x, &v->enc, P, B);
    *nclip += sl_dp_clip_scales(w->scale, w->sq, B, clip);
    sl_dp_scale_rows(w->dout, w->scale, B, (int)D);
    sl_dp_scale_rows(w->denc, w->scale, B, (int)(2 * L));
    sl_dp_scale_rows(w->dls, w->scale, B, nns);
    sl_nn_mlp_backward(NULL, G, &w->cd, w->dout, w->z, &v->dec, P, B);
    sl_nn_mlp_backward(NULL, G, &w->ce, w->denc, w->x, &v->enc, P, B);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < nn; j++) G[v->ls_off + (size_t)j] += w->dls[(size_t)b * nns + j];
    return loss;
}

static void clamp_logsigma(vae *v) {
    float *ls = v->arena.params + v->ls_off;
    for (int j = 0; j < v->n_num; j++) ls[j] = ls[j] < LS_MIN ? LS_MIN : ls[j] > LS_MAX ? LS_MAX : ls[j];
}

static sl_status vae_fit(void **state, const sl_gen_config *cfg, const sl_gen_table *data,
                         sl_gen_table **schema_p, sl_dp_spent *dp) {
    const sl_gen_table *schema = *schema_p;
    int use_dp = isfinite(cfg->dp_epsilon);
    size_t n = data->n_rows;
    if (cfg->epochs < 1 || cfg->batch < 1 || cfg->hidden < 1 || cfg->latent < 1 ||
        !(cfg->lr > 0.0f) || cfg->kl_warmup < 0 || !(cfg->beta >= 0.0f))
        return sl_set_error(SL_ERR_ARG, "vae: epochs, batch, hidden, latent, lr must be > 0");
    if (use_dp) {
        if (!(cfg->dp_epsilon > 0.0) || !(cfg->dp_delta > 0.0 && cfg->dp_delta < 1.0) ||
            !(cfg->dp_clip > 0.0f))
            return sl_set_error(SL_ERR_ARG, "vae: DP needs epsilon > 0, delta in (0, 1), clip > 0");
        if (cfg->dp_delta >= 1.0 / (double)n)
            return sl_set_error(SL_ERR_ARG, "vae: delta %g is not below 1/n = %g (it would "
                                "allow releasing a record)", cfg->dp_delta, 1.0 / (double)n);
        for (size_t j = 0; j < schema->n_cols; j++) {
            const sl_gen_column *c = &schema->cols[j];
            if (c->type == SL_GEN_CATEGORICAL && !c->cats_public)
                return sl_set_error(SL_ERR_ARG, "vae: DP training needs public categories: "
                                    "column \"%s\" has no \"categories\" list in the schema "
                                    "(labels read from the data would leak)", c->name);
            if (c->type != SL_GEN_CATEGORICAL && !c->has_bounds)
                return sl_set_error(SL_ERR_ARG, "vae: DP training needs public bounds: column "
                                    "\"%s\" has no \"min\"/\"max\" in the schema", c->name);
        }
    }
    int B = cfg->batch < (int)n ? cfg->batch : (int)n;
    double q = (double)B / (double)n;
    uint64_t steps_per_epoch = (uint64_t)((double)n / (double)B + 0.5);
    if (steps_per_epoch < 1) steps_per_epoch = 1;
    uint64_t steps = steps_per_epoch * (uint64_t)cfg->epochs;
    double sigma = 0.0, sigma_h = 0.0, eps_spent = HUGE_VAL;
    int n_num = 0;
    for (size_t j = 0; j < schema->n_cols; j++) n_num += schema->cols[j].type != SL_GEN_CATEGORICAL;
    if (use_dp) {
        /* a tenth of the budget (alone) for the numeric histograms, the rest for DP-SGD,
         * composed exactly in RDP */
        if (n_num) SL_TRY(sl_dp_solve_sigma(0.1 * cfg->dp_epsilon, cfg->dp_delta, 1.0, 1, &sigma_h));
        SL_TRY(sl_dp_solve_sigma_mix(cfg->dp_epsilon, cfg->dp_delta, q, steps, sigma_h, &sigma));
        SL_TRY(sl_dp_epsilon_mix(q, sigma, steps, sigma_h, cfg->dp_delta, &eps_spent, NULL));
        /* the ledger is charged after every check and before any training */
        if (cfg->charge) SL_TRY(cfg->charge(cfg->charge_ctx, eps_spent, cfg->dp_delta, "dp-sgd"));
    }
    if (cfg->threads > 0) sl_nn_set_threads(cfg->threads);
    vae *v = NULL;
    SL_TRY(vae_new(&v, schema, cfg->hidden, cfg->latent));
    fit_ctx f;
    memset(&f, 0, sizeof f);
    f.v = v;
    f.schema = schema;
    float *X = malloc(n * (size_t)v->D * sizeof *X);
    size_t *rows = malloc(n * sizeof *rows);
    sl_status st = X && rows ? SL_OK : sl_set_error(SL_ERR_NOMEM, "vae: out of memory");
    /* With DP the noise must be unknown to whoever knows the seed: by default its streams
     * (weights and reparametrisation, Poisson sampling, gradient and histogram noise) are
     * seeded from the OS's CSPRNG (libsodium), so a DP fit is not reproducible; with
     * dp_reproducible they follow cfg->seed (tests, experiments; the guarantee then needs the
     * seed to stay secret). */
    uint64_t seed = cfg->seed;
    if (use_dp && !cfg->dp_reproducible) {
        if (sodium_init() < 0) {
            st = sl_set_error(SL_ERR_INTERNAL, "vae: libsodium failed to initialise");
        } else {
            randombytes_buf(&seed, sizeof seed);
        }
    }
    sl_rng hrng;
    sl_rng_seed(&hrng, seed, 0x68697374ULL);
    /* L2 sensitivity of the n_num histograms together: one row moves one count in each */
    double noise_sd = sigma_h * sqrt((double)n_num);
    for (size_t j = 0; j < schema->n_cols && st == SL_OK; j++)
        if (schema->cols[j].type != SL_GEN_CATEGORICAL)
            st = use_dp ? dp_knots(&v->marg[j], &schema->cols[j], sl_gen_col(data, j), n, noise_sd,
                                   &hrng)
                        : gen_marginal_fit(&v->marg[j], sl_gen_col(data, j), n, VAE_KNOTS);
    if (st == SL_OK) st = encode_rows(v, data, X, !use_dp);
    if (st == SL_OK) st = work_alloc(&f.w, v, B);
    sl_rng rng, srng;
    sl_rng_seed(&rng, seed, 0x766165ULL);
    sl_rng_seed(&srng, seed, 0x73616dULL);
    if (st == SL_OK) {
        sl_nn_mlp_init(&v->enc, v->arena.params, &rng);
        sl_nn_mlp_init(&v->dec, v->arena.params, &rng);
        for (int j = 0; j < v->n_num; j++) v->arena.params[v->ls_off + (size_t)j] = logf(0.1f);
    }
    f.X = X;
    f.rng = &rng;
    sl_nn_adam opt = sl_nn_adam_defaults(cfg->lr);
    for (int ep = 0; ep < cfg->epochs && st == SL_OK; ep++) {
        f.beta = cfg->kl_warmup > 0 && ep < cfg->kl_warmup
                     ? cfg->beta * (float)ep / (float)cfg->kl_warmup
                     : cfg->beta;
        double ep_loss = 0.0;
        int nclip = 0;
        size_t seen = 0;
        if (!use_dp) {
            for (size_t i = 0; i < n; i++) rows[i] = i;
            sl_rng_shuffle(&srng, rows, n);
            for (size_t s0 = 0; s0 < n; s0 += (size_t)B) {
                int nb = (int)(n - s0 < (size_t)B ? n - s0 : (size_t)B);
                sl_nn_arena_zero_grad(&v->arena);
                ep_loss += chunk_step(&f, rows + s0, nb, (float)nb, 0, 0.0f, &nclip);
                sl_nn_arena_adam_step(&v->arena, &opt);
                clamp_logsigma(v);
                seen += (size_t)nb;
            }
        } else {
            for (uint64_t s = 0; s < steps_per_epoch && st == SL_OK; s++) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++) /* Poisson sampling, rate q */
                    if (sl_rng_uniform(&srng) < q) rows[m++] = i;
                sl_nn_arena_zero_grad(&v->arena);
                for (size_t s0 = 0; s0 < m; s0 += (size_t)B) {
                    int nb = (int)(m - s0 < (size_t)B ? m - s0 : (size_t)B);
                    ep_loss += chunk_step(&f, rows + s0, nb, 1.0f, 1, cfg->dp_clip, &nclip);
                }
                seen += m;
                st = sl_nn_dp_noise_arena(&v->arena, (float)sigma, cfg->dp_clip, (float)B, &rng);
                if (st != SL_OK) break;
                sl_nn_arena_adam_step(&v->arena, &opt);
                clamp_logsigma(v);
            }
        }
        double mean_loss = seen ? ep_loss / (double)seen : 0.0;
        if (!isfinite(mean_loss) || !sl_all_finite_f32(v->arena.params, v->arena.numel))
            st = sl_set_error(SL_ERR_DIVERGED, "vae: training diverged in epoch %d (loss %g)",
                              ep + 1, mean_loss);
        if (cfg->verbose && (ep % 10 == 0 || ep + 1 == cfg->epochs))
            fprintf(stderr, "synthloop: vae epoch %d/%d loss %.4f beta %.2f%s\n", ep + 1,
                    cfg->epochs, mean_loss, (double)f.beta,
                    use_dp ? " (dp-sgd)" : "");
        if (use_dp && cfg->verbose && (ep % 10 == 0))
            fprintf(stderr, "synthloop: vae clipped %d of %zu per-example gradients\n", nclip,
                    seen);
    }
    work_free(&f.w);
    free(X);
    free(rows);
    if (st != SL_OK) {
        vae_free(v);
        return st;
    }
    if (use_dp) {
        dp->has_dp = 1;
        dp->epsilon = eps_spent;
        dp->delta = cfg->dp_delta;
        dp->sigma = sigma;
        dp->sigma_hist = sigma_h;
        dp->clip = cfg->dp_clip;
        dp->q = q;
        dp->steps = steps;
    }
    *state = v;
    return SL_OK;
}

static sl_status vae_sample(const void *state, const sl_gen_table *schema, size_t n, sl_rng *rng,
                            sl_gen_table *out) {
    const vae *v = state;
    size_t D = (size_t)v->D, L = (size_t)v->L, CH = 1024;
    sl_nn_mlp_cache cd;
    SL_TRY(sl_nn_mlp_cache_alloc(&cd, &v->dec, (int)CH));
    float *z = malloc(CH * L * sizeof *z), *y = malloc(CH * D * sizeof *y);
    float *e = malloc(CH * sizeof *e);
    double *pr = malloc(D * sizeof *pr);
    if (!z || !y || !e || !pr) {
        free(z), free(y), free(e), free(pr);
        sl_nn_mlp_cache_free(&cd);
        return sl_set_error(SL_ERR_NOMEM, "vae sample: out of memory");
    }
    const float *ls = v->arena.params + v->ls_off;
    for (size_t s0 = 0; s0 < n; s0 += CH) {
        int B = (int)(n - s0 < CH ? n - s0 : CH);
        sl_nn_randn(z, (size_t)B * L, rng);
        sl_nn_mlp_forward(y, &cd, z, &v->dec, v->arena.params, B);
        for (size_t j = 0; j < schema->n_cols; j++) {
            const sl_gen_column *c = &schema->cols[j];
            double *dst = sl_gen_col(out, j) + s0;
            size_t off = (size_t)v->kind_off[j];
            if (c->type == SL_GEN_CATEGORICAL) {
                size_t K = c->n_cats;
                for (int b = 0; b < B; b++) {
                    const float *lg = y + (size_t)b * D + off;
                    float mx = lg[0];
                    for (size_t k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
                    for (size_t k = 0; k < K; k++) pr[k] = exp((double)(lg[k] - mx));
                    dst[b] = (double)sl_rng_categorical(rng, pr, K);
                }
                continue;
            }
            int ni = v->num_idx[j];
            sl_nn_randn(e, (size_t)B, rng);
            for (int b = 0; b < B; b++) {
                double val = (double)y[(size_t)b * D + off] + (double)expf(ls[ni]) * (double)e[b];
                double x = gen_marginal_inv(&v->marg[j], gen_norm_cdf(val));
                dst[b] = gen_finish_value(c, x);
            }
        }
    }
    free(z), free(y), free(e), free(pr);
    sl_nn_mlp_cache_free(&cd);
    return SL_OK;
}

static sl_status vae_save(const void *state, const sl_gen_table *schema, gen_tensors *t,
                          cJSON *meta) {
    const vae *v = state;
    for (size_t i = 0; i < v->arena.n_tensors; i++) {
        const sl_nn_tensor *tt = &v->arena.tensors[i];
        SL_TRY(gen_tensors_add(t, tt->name, SL_DTYPE_F32, tt->shape[0],
                               tt->ndim > 1 ? tt->shape[1] : 0, v->arena.params + tt->offset));
    }
    char name[64];
    for (size_t j = 0; j < schema->n_cols; j++)
            if (schema->cols[j].type != SL_GEN_CATEGORICAL) {
                snprintf(name, sizeof name, "knots.%zu", j);
                SL_TRY(gen_tensors_add(t, name, SL_DTYPE_F64, v->marg[j].K, 0, v->marg[j].knots));
            }
    cJSON_AddNumberToObject(meta, "hidden", v->H);
    cJSON_AddNumberToObject(meta, "latent", v->L);
    return SL_OK;
}

static sl_status vae_load(void **state, const sl_gen_table *schema, const sl_safetensors *st,
                          const cJSON *meta, const char *path) {
    int H = sl_json_int(meta, "hidden", 0), L = sl_json_int(meta, "latent", 0);
    if (H < 1 || L < 1 || H > 65536 || L > 65536)
        return sl_set_error(SL_ERR_FORMAT, "%s: bad vae sizes (hidden %d, latent %d)", path, H, L);
    vae *v = NULL;
    SL_TRY(vae_new(&v, schema, H, L));
    sl_status s = SL_OK;
    for (size_t i = 0; i < v->arena.n_tensors && s == SL_OK; i++) {
        const sl_nn_tensor *tt = &v->arena.tensors[i];
        s = sl_safetensors_get_f32(st, tt->name, tt->ndim, tt->shape, v->arena.params + tt->offset);
    }
    char name[64];
    for (size_t j = 0; j < schema->n_cols && s == SL_OK; j++) {
        if (schema->cols[j].type == SL_GEN_CATEGORICAL) continue;
        snprintf(name, sizeof name, "knots.%zu", j);
        const sl_array *a = sl_safetensors_find(st, name);
        if (!a || a->dtype != SL_DTYPE_F64 || a->ndim != 1 || a->count < 2) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: tensor %s missing or malformed", path, name);
            break;
        }
        v->marg[j].K = a->count;
        v->marg[j].knots = malloc(a->count * sizeof(double));
        if (!v->marg[j].knots) {
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        memcpy(v->marg[j].knots, a->data, a->count * sizeof(double));
        for (size_t k = 0; k < a->count; k++)
            if (!isfinite(v->marg[j].knots[k]) || (k && v->marg[j].knots[k] < v->marg[j].knots[k - 1]))
                s = sl_set_error(SL_ERR_FORMAT, "%s: %s is not finite and sorted", path, name);
    }
    if (s == SL_OK && !sl_all_finite_f32(v->arena.params, v->arena.numel))
        s = sl_set_error(SL_ERR_FORMAT, "%s: non-finite vae parameters", path);
    if (s != SL_OK) {
        vae_free(v);
        return s;
    }
    *state = v;
    return SL_OK;
}

const gen_vtable gen_vae_vt = {vae_fit, vae_sample, vae_save, vae_load, vae_free};
