/* SPDX-License-Identifier: Apache-2.0 */
/* train.c - world-model training: the episode split, per-member bootstrap, the schedule of
 * teacher forcing / scheduled sampling / free-running BPTT over segments of real episodes,
 * members trained in parallel (one step each: train_step.c), held-out validation with early
 * stopping and divergence checks.
 *
 * Invariant: a model is only returned if every loss stayed finite and no validation rollout
 * exploded; the returned parameters are the best held-out snapshot, never NaN. Each member has
 * its own RNG stream, arena and optimiser state, so the result does not depend on the thread
 * count.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_stats.h"
#include "world/world_internal.h"

/* --- validation ----------------------------------------------------------------------- */

/* Held-out score (std units, mean over members): tf -> one-step MSE; ss/bptt -> free-run MSE
 * of the noise-free rollout over Hv steps from starts every 5 steps, plus (ln window std
 * ratio)^2 and (ln variance-growth ratio)^2 of the sampled rollout (the model's noise). */
static sl_status validate(const sl_world *w, const sl_world_data *d, const size_t *eps,
                          size_t ne, double *score) {
    int Hv;
    size_t minlen = (size_t)-1;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        if (L < minlen) minlen = L;
    }
    if (w->cfg.mode == SL_WORLD_MODE_TF)
        Hv = 1;
    else
        Hv = (int)((size_t)w->cfg.horizon < minlen ? (size_t)w->cfg.horizon : minlen);
    int stride = Hv == 1 ? 2 : 5;
    size_t cap = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        cap += (L - (size_t)Hv) / (size_t)stride + 1;
    }
    size_t *rows = malloc(cap * sizeof *rows);
    if (!rows) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory (validation)");
    size_t n = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t L = sl_world_data_ep_len(d, eps[i]);
        for (size_t t = 0; t + (size_t)Hv <= L; t += (size_t)stride)
            rows[n++] = d->ep_start[eps[i]] + t;
    }
    sl_world_rollout ro, rs = {0};
    sl_world_rollout_opts o = {Hv, 1, NULL, NULL, 0.0f, 0};
    sl_status st = sl_world_rollout_run(w, d, rows, (int)n, &o, &ro);
    if (st == SL_OK && Hv >= 2) { /* sampled rollouts (the model's noise) for the spread terms */
        sl_world_rollout_opts os = {Hv, 1, NULL, NULL, -1.0f, 99};
        st = sl_world_rollout_run(w, d, rows, (int)n, &os, &rs);
        if (st != SL_OK) sl_world_rollout_free(&ro);
    }
    if (st != SL_OK) {
        free(rows);
        return st;
    }
    const int Z = w->Z, T = Hv + 1;
    float *real = malloc(n * (size_t)T * Z * sizeof(float));
    if (!real) {
        free(rows);
        sl_world_rollout_free(&ro);
        sl_world_rollout_free(&rs);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory (validation)");
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(real + i * T * Z, d->z + rows[i] * Z, (size_t)Z * sizeof(float));
        for (int k = 0; k < Hv; k++)
            memcpy(real + (i * T + k + 1) * Z, d->z_next + (rows[i] + k) * Z, (size_t)Z * sizeof(float));
    }
    double tot = 0;
    for (int m = 0; m < w->M && st == SL_OK; m++) {
        const float *zs = ro.z + (size_t)m * n * T * Z;
        double mse = 0;
        for (size_t i = 0; i < n; i++) {
            if (!ro.ok[(size_t)m * n + i]) {
                st = sl_set_error(SL_ERR_DIVERGED, "world train: member %d's rollout exploded or "
                                  "went non-finite on held-out episode data (start row %zu)", m,
                                  rows[i]);
                break;
            }
            for (int k = 1; k < T; k++)
                for (int j = 0; j < Z; j++) {
                    double e = ((double)zs[(i * T + k) * Z + j] - (double)real[(i * T + k) * Z + j]) /
                               (double)w->z_std[j];
                    mse += e * e;
                }
        }
        if (st != SL_OK) break;
        mse /= (double)n * Hv * Z;
        double sc = mse;
        if (Hv >= 2) {
            const float *zz = rs.z + (size_t)m * n * T * Z;
            for (size_t i = 0; i < n && st == SL_OK; i++)
                if (!rs.ok[(size_t)m * n + i])
                    st = sl_set_error(SL_ERR_DIVERGED, "world train: member %d's sampled rollout "
                                      "exploded on held-out data (start row %zu)", m, rows[i]);
            if (st != SL_OK) break;
            double r = sl_world_window_std_ratio(zz, real, n, T, Z);
            double lr = isfinite(r) && r > 0 ? log(r) : 10.0;
            sc += lr * lr;
            double *v1 = malloc(n * (size_t)T * Z * 2 * sizeof(double));
            if (v1) {
                double *v2 = v1 + n * (size_t)T * Z, g1 = NAN, g2 = NAN;
                for (size_t i = 0; i < n * (size_t)T * Z; i++) {
                    v1[i] = (double)zz[i];
                    v2[i] = (double)real[i];
                }
                if (sl_stats_variance_growth(v1, n, (size_t)T, (size_t)Z, 1e-6, NULL, &g1) == SL_OK &&
                    sl_stats_variance_growth(v2, n, (size_t)T, (size_t)Z, 1e-6, NULL, &g2) == SL_OK) {
                    double lg = g1 > 0 && g2 > 0 ? log(g1 / g2) : 10.0;
                    sc += lg * lg;
                }
                free(v1);
            }
        }
        tot += sc / w->M;
    }
    free(real);
    free(rows);
    sl_world_rollout_free(&ro);
    sl_world_rollout_free(&rs);
    if (st == SL_OK) *score = tot;
    return st;
}

/* --- driver ---------------------------------------------------------------------------- */

/* Episodes shuffled by rng (stream 1 of the seed, which goes on to draw the segment lengths):
 * the first *n_hold are held out (holdout_frac, at least 1 if asked and possible, never all). */
static sl_status split_episodes(const sl_world_config *cfg, size_t ne, sl_rng *rng,
                                size_t **perm_out, size_t *n_hold_out) {
    size_t *perm = malloc(ne * sizeof *perm);
    if (!perm) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    for (size_t i = 0; i < ne; i++) perm[i] = i;
    sl_rng_shuffle(rng, perm, ne);
    size_t n_hold = (size_t)floor(cfg->holdout_frac * (double)ne + 0.5);
    if (cfg->holdout_frac > 0 && n_hold == 0 && ne >= 2) n_hold = 1;
    if (n_hold >= ne) n_hold = ne - 1;
    *perm_out = perm;
    *n_hold_out = n_hold;
    return SL_OK;
}

/* A fresh model with norms fitted on the training episodes' rows, sigma at half the real
 * one-step change (std units, a scale the data sets), and the held-out episodes (sorted). */
static sl_status setup_model(sl_world **out, const sl_world_data *d, const sl_world_config *cfg,
                             const size_t *train, size_t n_train, const size_t *hold,
                             size_t n_hold) {
    *out = NULL;
    size_t nrows = 0;
    for (size_t i = 0; i < n_train; i++) nrows += sl_world_data_ep_len(d, train[i]);
    size_t *trows = malloc(nrows * sizeof *trows);
    if (!trows) return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    nrows = 0;
    for (size_t i = 0; i < n_train; i++)
        for (size_t r = d->ep_start[train[i]]; r < d->ep_start[train[i] + 1]; r++) trows[nrows++] = r;
    sl_world *w;
    sl_status st = sl_world_alloc(&w, cfg, d->z_dim, d->a_dim);
    if (st != SL_OK) {
        free(trows);
        return st;
    }
    sl_world_fit_norms(w, d, trows, nrows);
    free(trows);
    if (cfg->learn_noise)
        for (int m = 0; m < w->M; m++)
            for (int j = 0; j < w->Z; j++)
                w->arenas[m].params[w->noise_ls + j] = logf(0.5f * w->dz_std[j]);
    w->data_episodes = d->n_episodes;
    w->n_holdout = n_hold;
    w->holdout = malloc((n_hold + 1) * sizeof(size_t));
    if (!w->holdout) {
        sl_world_free(w);
        return sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    }
    memcpy(w->holdout, hold, n_hold * sizeof(size_t));
    for (size_t i = 1; i < n_hold; i++) /* sorted for readability */
        for (size_t j = i; j > 0 && w->holdout[j - 1] > w->holdout[j]; j--) {
            size_t t = w->holdout[j];
            w->holdout[j] = w->holdout[j - 1];
            w->holdout[j - 1] = t;
        }
    *out = w;
    return SL_OK;
}

/* Per-member and per-thread state of the training loop. Members train in parallel, one per
 * thread (each has its own RNG stream, arena and optimiser state, so the result does not
 * depend on the thread count); every thread has its own batch buffers. */
typedef struct members {
    int M, nth;
    size_t n_train;
    sl_world_tr_data td;
    sl_world_tr_buf *tbs; /* [nth] */
    size_t *boot;         /* [M, n_train] each member's (bootstrap) training episodes */
    size_t *eligs;        /* [nth, n_train] scratch: episodes long enough for the segment */
    float **best;         /* [M] best held-out parameters */
    sl_rng *mrng;         /* [M] streams 100 + m */
    double *mloss;        /* [M] loss of the last step */
    int *mbad;            /* [M] 1: loss non-finite, 2: parameters non-finite */
} members;

static void members_free(members *s) {
    for (int m = 0; s->best && m < s->M; m++) free(s->best[m]);
    free(s->best);
    free(s->mrng);
    free(s->boot);
    free(s->eligs);
    free(s->mloss);
    free(s->mbad);
    sl_world_trd_free(&s->td);
    for (int k = 0; s->tbs && k < s->nth; k++) sl_world_tr_free(&s->tbs[k]);
    free(s->tbs);
}

static sl_status members_init(members *s, const sl_world *w, const sl_world_data *d,
                              const size_t *train, size_t n_train, int Hcap) {
    const sl_world_config *cfg = &w->cfg;
    const int M = w->M, B = cfg->batch;
    memset(s, 0, sizeof *s);
    s->M = M;
    s->n_train = n_train;
    int nth = sl_nn_get_threads();
    if (nth > M) nth = M;
    if (nth < 1) nth = 1;
    s->nth = nth;
    s->tbs = calloc((size_t)nth, sizeof *s->tbs);
    s->boot = malloc((size_t)M * n_train * sizeof *s->boot);
    s->eligs = malloc((size_t)nth * n_train * sizeof *s->eligs);
    s->best = calloc((size_t)M, sizeof *s->best);
    s->mrng = calloc((size_t)M, sizeof *s->mrng);
    s->mloss = calloc((size_t)M, sizeof *s->mloss);
    s->mbad = calloc((size_t)M, sizeof *s->mbad);
    sl_status st = SL_OK;
    if (!s->tbs || !s->boot || !s->eligs || !s->best || !s->mrng || !s->mloss || !s->mbad)
        st = sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
    if (st == SL_OK) st = sl_world_trd_build(&s->td, w, d);
    for (int k = 0; k < nth && st == SL_OK; k++) st = sl_world_tr_alloc(&s->tbs[k], w, B, Hcap);
    for (int m = 0; m < M && st == SL_OK; m++) {
        sl_rng_seed(&s->mrng[m], cfg->seed, 100 + (uint64_t)m);
        for (size_t i = 0; i < n_train; i++)
            s->boot[(size_t)m * n_train + i] =
                cfg->bootstrap && M > 1 ? train[sl_rng_below(&s->mrng[m], n_train)] : train[i];
        s->best[m] = malloc(w->arenas[m].numel * sizeof(float));
        if (!s->best[m]) st = sl_set_error(SL_ERR_NOMEM, "world train: out of memory");
        else memcpy(s->best[m], w->arenas[m].params, w->arenas[m].numel * sizeof(float));
    }
    return st;
}

/* Probability that a horizon step's input is the real latent (teacher forcing) at iteration it. */
static float teacher_forcing(const sl_world_config *cfg, int it) {
    float ptf = 1.0f;
    if (cfg->mode == SL_WORLD_MODE_BPTT) ptf = 0.0f;
    if (cfg->mode == SL_WORLD_MODE_SS) {
        double frac = (double)(it - 1) / ((double)cfg->ss_frac * cfg->max_iters);
        if (frac > 1) frac = 1;
        ptf = (float)((double)cfg->ss_start + (double)(cfg->ss_end - cfg->ss_start) * frac);
    }
    return ptf;
}

/* Member m's batch into tb: B segment starts (episode, then offset, from its stream) among its
 * episodes of length >= Hs (all training episodes if its bootstrap has none), burn-in lengths
 * and the teacher-forcing mask; returns the longest burn-in. */
static int sample_batch(members *s, const sl_world *w, const sl_world_data *d,
                        const size_t *train, int m, int Hs, float ptf, sl_world_tr_buf *tb,
                        size_t *elig) {
    const sl_world_config *cfg = &w->cfg;
    const int B = cfg->batch;
    const size_t n_train = s->n_train;
    const size_t *mine = s->boot + (size_t)m * n_train;
    sl_rng *r = &s->mrng[m];
    size_t n_el = 0;
    for (size_t i = 0; i < n_train; i++)
        if (sl_world_data_ep_len(d, mine[i]) >= (size_t)Hs) elig[n_el++] = mine[i];
    if (n_el == 0) /* bootstrap missed every long episode */
        for (size_t i = 0; i < n_train; i++)
            if (sl_world_data_ep_len(d, train[i]) >= (size_t)Hs) elig[n_el++] = train[i];
    int bmax = 0;
    for (int i = 0; i < B; i++) {
        size_t e = elig[sl_rng_below(r, n_el)];
        size_t L = sl_world_data_ep_len(d, e);
        size_t t0 = sl_rng_below(r, L - (size_t)Hs + 1);
        tb->rows[i] = d->ep_start[e] + t0;
        tb->burn[i] = (int)(t0 < (size_t)cfg->burn_in ? t0 : (size_t)cfg->burn_in);
        if (tb->burn[i] > bmax) bmax = tb->burn[i];
        for (int k = 0; k < Hs; k++)
            tb->mask[(size_t)k * B + i] =
                (ptf >= 1.0f || (ptf > 0 && sl_rng_uniform(r) < (double)ptf)) ? 1.0f : 0.0f;
    }
    return bmax;
}

/* One optimiser step of every member (in parallel); errors and the mean loss in member
 * order, whatever the threads did. */
static sl_status train_iteration(members *s, sl_world *w, const sl_world_data *d,
                                 const size_t *train, int Hs, float ptf, const sl_nn_adam *adam,
                                 int it, double *mean_loss) {
    const sl_world_config *cfg = &w->cfg;
    const int M = s->M, nth = s->nth;
#pragma omp parallel for schedule(static, 1) num_threads(nth) if (nth > 1)
    for (int m = 0; m < M; m++) {
        sl_world_tr_buf *tb = &s->tbs[omp_get_thread_num()];
        size_t *elig = s->eligs + (size_t)omp_get_thread_num() * s->n_train;
        int bmax = sample_batch(s, w, d, train, m, Hs, ptf, tb, elig);
        sl_nn_arena_zero_grad(&w->arenas[m]);
        double l = sl_world_member_step(w, &w->arenas[m], &s->td, tb, Hs, bmax, &s->mrng[m]);
        s->mloss[m] = l;
        s->mbad[m] = 0;
        if (!isfinite(l)) {
            s->mbad[m] = 1;
            continue;
        }
        if (cfg->grad_clip > 0) sl_nn_arena_clip_grad_norm(&w->arenas[m], cfg->grad_clip);
        sl_nn_arena_adam_step(&w->arenas[m], adam);
        if (!sl_all_finite_f32(w->arenas[m].params, w->arenas[m].numel)) s->mbad[m] = 2;
    }
    double loss_sum = 0;
    for (int m = 0; m < M; m++) {
        if (s->mbad[m] == 1)
            return sl_set_error(SL_ERR_DIVERGED, "world train: loss of member %d became %s at "
                                "iteration %d (try a lower --lr or --clip tanh)", m,
                                isnan(s->mloss[m]) ? "NaN" : "Inf", it);
        if (s->mbad[m] == 2)
            return sl_set_error(SL_ERR_DIVERGED, "world train: parameters of member %d became "
                                "non-finite at iteration %d", m, it);
        loss_sum += s->mloss[m];
    }
    *mean_loss = loss_sum / M;
    return SL_OK;
}

sl_status sl_world_train(sl_world **out, const sl_world_data *d, const sl_world_config *cfg,
                         sl_world_train_report *rep) {
    *out = NULL;
    SL_TRY(sl_world_config_validate(cfg));
    if (d->n_econ != cfg->n_econ)
        return sl_set_error(SL_ERR_ARG, "world train: config lists %d econ columns, data binds %d",
                            cfg->n_econ, d->n_econ);
    for (int q = 0; q < cfg->n_econ; q++)
        if (strcmp(cfg->econ_names[q], d->econ_names[q]) != 0)
            return sl_set_error(SL_ERR_ARG, "world train: econ column %d is '%s' in the config, "
                                "'%s' in the data", q, cfg->econ_names[q], d->econ_names[q]);
    double t_start = sl_now();
    const size_t ne = d->n_episodes;
    sl_rng rng;
    sl_rng_seed(&rng, cfg->seed, 1);
    size_t *perm = NULL, n_hold = 0;
    SL_TRY(split_episodes(cfg, ne, &rng, &perm, &n_hold));
    size_t n_train = ne - n_hold;
    const size_t *hold = perm, *train = perm + n_hold;
    size_t maxlen = 0;
    for (size_t i = 0; i < n_train; i++)
        if (sl_world_data_ep_len(d, train[i]) > maxlen) maxlen = sl_world_data_ep_len(d, train[i]);
    sl_world *w = NULL;
    sl_status st = setup_model(&w, d, cfg, train, n_train, hold, n_hold);
    if (st != SL_OK) {
        free(perm);
        return st;
    }
    const int M = w->M;
    int Hcap = (int)((size_t)cfg->horizon < maxlen ? (size_t)cfg->horizon : maxlen);
    members s;
    st = members_init(&s, w, d, train, n_train, Hcap);
    const size_t *val_eps = n_hold ? hold : train;
    size_t n_val = n_hold ? n_hold : n_train;
    double best_val = INFINITY, last_loss = 0;
    int best_iter = 0, bad_checks = 0, it = 0, stopped = 0;
    sl_nn_adam adam = sl_nn_adam_defaults(cfg->lr);
    sl_progress prog;
    sl_progress_begin(&prog, "world train", (uint64_t)cfg->max_iters);
    for (it = 1; it <= cfg->max_iters && st == SL_OK; it++) {
        /* segment length for this iteration (shared by the members) */
        int Hs = Hcap;
        if (cfg->mode != SL_WORLD_MODE_TF && Hcap > 1 &&
            sl_rng_uniform(&rng) < (double)cfg->horizon_mix)
            Hs = 1 + (int)sl_rng_below(&rng, (uint64_t)Hcap);
        st = train_iteration(&s, w, d, train, Hs, teacher_forcing(cfg, it), &adam, it, &last_loss);
        if (st != SL_OK) break;
        if (it % cfg->eval_every == 0 || it == cfg->max_iters) {
            double v = 0;
            st = validate(w, d, val_eps, n_val, &v);
            if (st != SL_OK) break;
            if (!isfinite(v)) {
                st = sl_set_error(SL_ERR_DIVERGED, "world train: held-out score became non-finite "
                                  "at iteration %d", it);
                break;
            }
            char extra[96];
            if (v < best_val) {
                best_val = v;
                best_iter = it;
                bad_checks = 0;
                for (int m = 0; m < M; m++)
                    memcpy(s.best[m], w->arenas[m].params, w->arenas[m].numel * sizeof(float));
            } else if (++bad_checks >= cfg->patience) {
                stopped = 1;
                snprintf(extra, sizeof extra, "loss %.4g val %.4g (early stop)", last_loss, v);
                sl_progress_update(&prog, (uint64_t)it, extra);
                break;
            }
            snprintf(extra, sizeof extra, "loss %.4g val %.4g best %.4g", last_loss, v, best_val);
            sl_progress_update(&prog, (uint64_t)it, extra);
        }
    }
    sl_progress_end(&prog);
    if (st == SL_OK) {
        if (best_iter == 0) { /* the last iteration always validates, so this is a bug */
            st = sl_set_error(SL_ERR_INTERNAL, "world train: no validation ran");
        } else {
            for (int m = 0; m < M; m++)
                memcpy(w->arenas[m].params, s.best[m], w->arenas[m].numel * sizeof(float));
        }
    }
    if (rep) {
        rep->iters = it > cfg->max_iters ? cfg->max_iters : it;
        rep->best_iter = best_iter;
        rep->train_loss = last_loss;
        rep->best_val = best_val;
        rep->stopped_early = stopped;
        rep->seconds = sl_now() - t_start;
    }
    members_free(&s);
    free(perm);
    if (st != SL_OK) {
        sl_world_free(w);
        return st;
    }
    *out = w;
    return SL_OK;
}
