/* SPDX-License-Identifier: Apache-2.0 */
/* trust_train.c - training trust_net: split episodes into train / calibration / test, fit the
 * input statistics, optimise BCE on balanced batches (half real windows, half negatives
 * cycling over the enabled kinds, one window length per batch), calibrate on calibration
 * episodes and report on test episodes.
 *
 * Invariant: the report and the calibration use episodes that training never saw. RNG streams
 * of cfg.seed: 0 init, 1 episode split, 2 batches, 3 calibration set, 4 external split,
 * 5 feature statistics, 6 test set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_stats.h"
#include "trust/trust_internal.h"

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
static sl_status fit_input_stats(sl_trust_model *m, const sl_tr_gen *g, const int *lens, int nl) {
    const int D = m->D;
    const sl_tr_seqs *s = g->real;
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
        if (!sl_tr_make_window(g, &r, SL_TRUST_KIND_REAL, T, w))
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

/* The three parts of the data: 0 train, 1 calibration, 2 test episodes (and external
 * negative sequences split the same way when there are at least 3 of them). */
typedef struct split {
    sl_tr_seqs real[3], ext[3];
} split;

static void split_free(split *sp) {
    for (int s = 0; s < 3; s++) {
        sl_tr_seqs_free(&sp->real[s]);
        sl_tr_seqs_free(&sp->ext[s]);
    }
}

/* Episode spans of the real rows shuffled into the parts (stream 1); external sequences by
 * stream 4 when there are >= 3, else all in train. The caller frees sp, also on error. */
static sl_status split_build(split *sp, const sl_trust_config *cfg, const float *real_z,
                             const int32_t *episode_ids, size_t n, size_t ne, const float *neg_z,
                             const size_t *neg_offsets, size_t n_neg) {
    memset(sp, 0, sizeof *sp);
    size_t *ep_start = malloc((ne + 1) * sizeof(size_t));
    size_t *idx = malloc((ne > n_neg ? ne : n_neg + 1) * sizeof(size_t));
    sl_status st = SL_OK;
    if (!ep_start || !idx) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK) {
        size_t e = 0;
        ep_start[0] = 0;
        for (size_t i = 1; i < n; i++)
            if (episode_ids[i] != episode_ids[i - 1]) ep_start[++e] = i;
        ep_start[ne] = n;
        for (int s = 0; s < 3 && st == SL_OK; s++) {
            st = sl_tr_seqs_alloc(&sp->real[s], real_z, ne);
            if (st == SL_OK) st = sl_tr_seqs_alloc(&sp->ext[s], neg_z, n_neg ? n_neg : 1);
        }
    }
    if (st == SL_OK) {
        size_t n_cal = 0, n_test = 0;
        sl_rng r;
        sl_rng_seed(&r, cfg->seed, 1);
        split3(&r, idx, ne, cfg, &n_cal, &n_test);
        for (size_t i = 0; i < ne; i++) {
            int s = i < n_cal ? 1 : i < n_cal + n_test ? 2 : 0;
            size_t e = idx[i];
            sl_tr_seqs_push(&sp->real[s], ep_start[e], ep_start[e + 1] - ep_start[e]);
        }
        if (n_neg >= 3) {
            sl_rng_seed(&r, cfg->seed, 4);
            size_t nc, nt;
            split3(&r, idx, n_neg, cfg, &nc, &nt);
            for (size_t i = 0; i < n_neg; i++) {
                int s = i < nc ? 1 : i < nc + nt ? 2 : 0;
                sl_tr_seqs_push(&sp->ext[s], neg_offsets[idx[i]],
                                neg_offsets[idx[i] + 1] - neg_offsets[idx[i]]);
            }
        } else {
            for (size_t i = 0; i < n_neg; i++)
                sl_tr_seqs_push(&sp->ext[0], neg_offsets[i], neg_offsets[i + 1] - neg_offsets[i]);
        }
    }
    free(ep_start);
    free(idx);
    return st;
}

/* The configured window lengths that fit the longest training episode (in config order);
 * their count, and their maximum in *maxT. */
static int train_lengths(const sl_trust_config *cfg, size_t maxlen, int *lens, int *maxT) {
    int nl = 0;
    *maxT = 0;
    for (int i = 0; i < cfg->n_lengths; i++)
        if ((size_t)cfg->lengths[i] <= maxlen) {
            lens[nl++] = cfg->lengths[i];
            if (cfg->lengths[i] > *maxT) *maxT = cfg->lengths[i];
        }
    return nl;
}

/* sd[d] = population std over the rows of s per dim, at least 1e-8: the scale of the noise and
 * drift negatives. */
static sl_status real_std(double *sd, const sl_tr_seqs *s, const float *real_z, int D) {
    size_t rows = 0;
    double *mu = calloc((size_t)D, sizeof(double));
    if (!mu) return sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->n; i++)
            for (size_t t = 0; t < s->len[i]; t++) {
                const float *x = real_z + (s->start[i] + t) * (size_t)D;
                for (int d = 0; d < D; d++) {
                    if (pass == 0) mu[d] += (double)x[d];
                    else sd[d] += ((double)x[d] - mu[d]) * ((double)x[d] - mu[d]);
                }
                if (pass == 0) rows++;
            }
        if (pass == 0)
            for (int d = 0; d < D; d++) mu[d] /= (double)rows;
    }
    for (int d = 0; d < D; d++) {
        sd[d] = sqrt(sd[d] / (double)rows);
        if (!(sd[d] > 1e-8)) sd[d] = 1e-8;
    }
    free(mu);
    return SL_OK;
}

/* Initial parameters (stream 0), then the input statistics of the training windows. */
static sl_status init_model(sl_trust_model *m, const sl_tr_gen *g_train, const int *lens, int nl) {
    sl_rng r;
    sl_rng_seed(&r, m->cfg.seed, 0);
    if (m->cfg.arch == SL_TRUST_ARCH_MLP) {
        sl_nn_mlp_init(&m->mlp, m->arena.params, &r);
    } else {
        sl_nn_gru_init(&m->gru, m->arena.params, &r);
        sl_nn_linear_init(&m->head, m->arena.params, &r);
    }
    return fit_input_stats(m, g_train, lens, nl);
}

/* One batch of B windows of length T into wb (labels: the first half real); stream r. */
static void fill_batch(const sl_tr_gen *g, sl_rng *r, const sl_trust_kind *kinds, int nk, int B,
                       int T, int step, float *wb, float *labels) {
    const size_t stride = (size_t)T * (size_t)g->D;
    for (int b = 0; b < B; b++) {
        int is_real = b < B / 2;
        labels[b] = is_real ? 1.0f : 0.0f;
        sl_trust_kind k = is_real ? SL_TRUST_KIND_REAL
                                  : kinds[(size_t)(b - B / 2 + step) % (size_t)nk];
        if (!sl_tr_make_window(g, r, k, T, wb + (size_t)b * stride)) {
            /* external sequences too short for T: use the first built-in, or real data
             * inflated when only external negatives exist */
            sl_trust_kind alt = kinds[0] != SL_TRUST_KIND_EXTERNAL ? kinds[0] : SL_TRUST_KIND_INFLATE;
            sl_tr_make_window(g, r, alt, T, wb + (size_t)b * stride);
        }
    }
}

/* cfg.steps Adam steps of BCE on balanced batches (stream 2); the mean loss of the first and
 * of the last tenth of the steps. */
static sl_status optimise(sl_trust_model *m, const sl_tr_gen *g, const sl_trust_kind *kinds,
                          int nk, const int *lens, int nl, int maxT, double *loss_first,
                          double *loss_last) {
    const sl_trust_config *cfg = &m->cfg;
    const int B = cfg->batch, D = m->D;
    float *wb = malloc((size_t)B * (size_t)maxT * (size_t)D * sizeof(float));
    float *labels = malloc((size_t)B * sizeof(float));
    sl_status st = SL_OK;
    if (!wb || !labels) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK) st = sl_tr_reserve(m, B, maxT);
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
            fill_batch(g, &r, kinds, nk, B, T, step, wb, labels);
            sl_tr_prep_inputs(m, wb, B, T);
            sl_tr_forward(m, B, T);
            float loss = sl_nn_bce_logits_loss(m->dlogit, m->logit, labels, NULL, (size_t)B);
            if (!isfinite(loss)) {
                st = sl_set_error(SL_ERR_DIVERGED, "trust train: loss is not finite at step %d "
                                  "(lower the learning rate?)", step);
                break;
            }
            sl_nn_arena_zero_grad(&m->arena);
            sl_tr_backward(m, B, T);
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
    free(wb);
    free(labels);
    *loss_first = cfg->steps ? l_first / n10 : 0.0;
    *loss_last = cfg->steps ? l_last / n10 : 0.0;
    return st;
}

/* ROC-AUC of the logits, Brier and ECE before and after calibration, mean trust per kind. */
static sl_status test_metrics(const sl_trust_model *m, const sl_tr_evalset *test,
                              sl_trust_report *rep) {
    double *praw = malloc(test->n * sizeof(double)), *pcal = malloc(test->n * sizeof(double));
    sl_status st = SL_OK;
    if (!praw || !pcal) st = sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    for (size_t i = 0; st == SL_OK && i < test->n; i++) {
        praw[i] = sl_tr_sigmoid(test->logit[i]);
        pcal[i] = sl_tr_sigmoid(m->platt[0] * test->logit[i] + m->platt[1]);
        rep->mean_trust[test->kind[i]] += pcal[i];
        rep->n_kind[test->kind[i]]++;
    }
    if (st == SL_OK) st = sl_stats_roc_auc(test->logit, test->label, test->n, &rep->auc);
    if (st == SL_OK) st = sl_stats_brier(praw, test->label, test->n, &rep->brier_raw);
    if (st == SL_OK) st = sl_stats_brier(pcal, test->label, test->n, &rep->brier);
    if (st == SL_OK) st = sl_stats_ece(praw, test->label, test->n, 0, &rep->ece_raw);
    if (st == SL_OK) st = sl_stats_ece(pcal, test->label, test->n, 0, &rep->ece);
    free(praw);
    free(pcal);
    for (int k = 0; k < SL_TRUST_KIND_COUNT; k++)
        if (rep->n_kind[k]) rep->mean_trust[k] /= (double)rep->n_kind[k];
    return st;
}

/* Per window length (ascending, each once): the share of real and of negative test windows
 * whose calibrated trust reaches each level floor (0.95, 0.90, 0.85); NaN without windows. */
static void pass_rates_by_length(const sl_trust_model *m, const sl_tr_evalset *test,
                                 sl_trust_report *rep) {
    static const double floors[3] = {0.95, 0.90, 0.85};
    const sl_trust_config *cfg = &m->cfg;
    for (int li = 0; li < cfg->n_lengths; li++) {
        int L = cfg->lengths[li], pos = rep->n_len;
        int dup = 0;
        for (int q = 0; q < rep->n_len; q++) dup |= rep->len[q] == L;
        if (dup) continue;
        while (pos > 0 && rep->len[pos - 1] > L) {
            rep->len[pos] = rep->len[pos - 1];
            pos--;
        }
        rep->len[pos] = L;
        rep->n_len++;
    }
    for (int q = 0; q < rep->n_len; q++)
        for (size_t i = 0; i < test->n; i++) {
            if (test->T[i] != rep->len[q]) continue;
            double p = sl_tr_sigmoid(m->platt[0] * test->logit[i] + m->platt[1]);
            int isreal = test->label[i] == 1;
            if (isreal)
                rep->n_real_len[q]++;
            else
                rep->n_neg_len[q]++;
            for (int f = 0; f < 3; f++)
                if (p >= floors[f]) {
                    if (isreal)
                        rep->real_pass_len[q][f] += 1;
                    else
                        rep->neg_pass_len[q][f] += 1;
                }
        }
    for (int q = 0; q < rep->n_len; q++)
        for (int f = 0; f < 3; f++) {
            rep->real_pass_len[q][f] = rep->n_real_len[q]
                                           ? rep->real_pass_len[q][f] / (double)rep->n_real_len[q]
                                           : (double)NAN;
            rep->neg_pass_len[q][f] = rep->n_neg_len[q]
                                          ? rep->neg_pass_len[q][f] / (double)rep->n_neg_len[q]
                                          : (double)NAN;
        }
}

/* Platt (a, b) from the calibration episodes' windows (stream 3), then the report's metrics on
 * the test episodes' windows (stream 6). */
static sl_status calibrate_and_report(sl_trust_model *m, const sl_tr_gen *g_cal,
                                      const sl_tr_gen *g_test, sl_trust_report *rep) {
    const sl_trust_config *cfg = &m->cfg;
    sl_trust_kind kc[SL_TRUST_KIND_COUNT], kt[SL_TRUST_KIND_COUNT];
    int nkc = sl_tr_neg_kinds(cfg, g_cal->ext, kc), nkt = sl_tr_neg_kinds(cfg, g_test->ext, kt);
    if (nkc == 0 || nkt == 0)
        return sl_set_error(SL_ERR_ARG, "trust train: with only external negatives, give >= 3 "
                            "negative sequences so that calibration and test sets get some");
    sl_tr_evalset cal, test;
    memset(&cal, 0, sizeof cal);
    memset(&test, 0, sizeof test);
    sl_status st = sl_tr_evalset_build(&cal, g_cal, kc, nkc, cfg->eval_windows, cfg->seed, 3);
    if (st == SL_OK) st = sl_tr_evalset_build(&test, g_test, kt, nkt, cfg->eval_windows, cfg->seed, 6);
    if (st == SL_OK) st = sl_tr_evalset_score(m, &cal);
    if (st == SL_OK) st = sl_tr_evalset_score(m, &test);
    if (st == SL_OK) {
        sl_tr_platt_fit(cal.logit, cal.label, cal.n, &m->platt[0], &m->platt[1]);
        st = test_metrics(m, &test, rep);
        pass_rates_by_length(m, &test, rep);
        rep->n_test_windows = test.n;
        rep->platt_a = m->platt[0];
        rep->platt_b = m->platt[1];
    }
    sl_tr_evalset_free(&cal);
    sl_tr_evalset_free(&test);
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

    split sp;
    sl_trust_model *m = NULL;
    sl_trust_report rep;
    memset(&rep, 0, sizeof rep);
    double *sd = calloc((size_t)D, sizeof(double));
    sl_status st = sd ? SL_OK : sl_set_error(SL_ERR_NOMEM, "trust train: out of memory");
    if (st == SL_OK)
        st = split_build(&sp, cfg, real_z, episode_ids, n, ne, neg_z, neg_offsets, n_neg);
    else
        memset(&sp, 0, sizeof sp);
    int lens[SL_TRUST_MAX_LENGTHS], maxT = 0;
    int nl = st == SL_OK ? train_lengths(cfg, sp.real[0].maxlen, lens, &maxT) : 0;
    if (st == SL_OK && nl == 0)
        st = sl_set_error(SL_ERR_ARG, "trust train: no window length in the configured set fits "
                          "the training episodes (longest has %zu steps)", sp.real[0].maxlen);
    if (st == SL_OK && n_neg && sp.ext[0].maxlen < 2)
        st = sl_set_error(SL_ERR_ARG, "trust train: external negative sequences need >= 2 steps");
    if (st == SL_OK) st = real_std(sd, &sp.real[0], real_z, D);
    if (st == SL_OK) st = sl_tr_model_create(&m, cfg, D);
    sl_tr_gen g_train = {D, cfg, sd, &sp.real[0], &sp.ext[0]};
    sl_tr_gen g_cal = {D, cfg, sd, &sp.real[1], n_neg >= 3 ? &sp.ext[1] : NULL};
    sl_tr_gen g_test = {D, cfg, sd, &sp.real[2], n_neg >= 3 ? &sp.ext[2] : NULL};
    if (st == SL_OK) st = init_model(m, &g_train, lens, nl);
    sl_trust_kind kinds[SL_TRUST_KIND_COUNT];
    int nk = sl_tr_neg_kinds(cfg, &sp.ext[0], kinds);
    if (st == SL_OK)
        st = optimise(m, &g_train, kinds, nk, lens, nl, maxT, &rep.train_loss_first,
                      &rep.train_loss_last);
    if (st == SL_OK) st = calibrate_and_report(m, &g_cal, &g_test, &rep);
    if (st == SL_OK) {
        for (int s = 0; s < 3; s++) rep.n_episodes[s] = sp.real[s].n;
        rep.seconds = sl_now() - t0;
    }
    split_free(&sp);
    free(sd);
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
