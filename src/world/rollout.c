/* SPDX-License-Identifier: Apache-2.0 */
/* rollout.c - rollouts of the world model from real starts (noise-free or sampled, every
 * member), generated windows for the trust gate, and the pooled window std ratio.
 *
 * Invariant: rollouts never emit a non-finite or exploded value; a trajectory that goes bad is
 * flagged (ok = 0) and zeroed from the first bad step on, so callers can write what they get.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/world_internal.h"

void sl_world_rollout_free(sl_world_rollout *r) {
    if (!r) return;
    free(r->z);
    free(r->a);
    free(r->reward);
    free(r->econ);
    free(r->ok);
    memset(r, 0, sizeof *r);
}

static float econ_value(const sl_world *w, int k, float o) {
    if (w->e_binary[k]) return 1.0f / (1.0f + expf(-o));
    return w->e_mean[k] + w->e_std[k] * o;
}

#define ROLL_CHUNK 4096

/* One member, rows [0, n) of the request, writing into the member's slice of out. */
/* Project one state (world-standardised z~) onto the encoder's sphere: raw z = z~ * z_std +
 * z_mean, u = z * s + m, u /= ||u||, then back. A no-op without a sphere. */
static void sphere_project(const sl_world *w, float *zc) {
    if (!w->sphere) return;
    const int Z = w->Z;
    const float *sm = w->sphere, *ss = w->sphere + Z;
    double n2 = 0.0;
    for (int j = 0; j < Z; j++) {
        double u = ((double)zc[j] * (double)w->z_std[j] + (double)w->z_mean[j]) * (double)ss[j] +
                   (double)sm[j];
        n2 += u * u;
    }
    if (!(n2 > 1e-30) || !isfinite(n2)) return; /* the explosion check handles the rest */
    double inv = 1.0 / sqrt(n2);
    for (int j = 0; j < Z; j++) {
        double u = ((double)zc[j] * (double)w->z_std[j] + (double)w->z_mean[j]) * (double)ss[j] +
                   (double)sm[j];
        double z = (u * inv - (double)sm[j]) / (double)ss[j];
        zc[j] = (float)((z - (double)w->z_mean[j]) / (double)w->z_std[j]);
    }
}

static sl_status rollout_member(const sl_world *w, const sl_world_data *d, const size_t *rows,
                                int n, const sl_world_rollout_opts *o, int m,
                                sl_world_rollout *out, sl_world_ws *ws, float *zcur, float *zraw,
                                float *araw, int *burn, sl_rng *rng, sl_rng *rr) {
    const int Z = w->Z, A = w->A, E = w->E, H = w->H, In = w->In, O = w->O, T = o->horizon;
    const int Bi = w->cfg.burn_in;
    const float noise = o->noise < 0 ? w->cfg.noise_scale : o->noise;
    float sigma[SL_WORLD_SIGMA_MAX];
    const float *lsig = w->arenas[m].params + w->noise_ls;
    const int hetero = w->cfg.hetero_noise;
    for (int j = 0; j < Z && j < SL_WORLD_SIGMA_MAX; j++) sigma[j] = expf(lsig[j]);
    const float *p = w->arenas[m].params;
    const float *wih = p + w->gru.w_ih, *whh = p + w->gru.w_hh, *bih = p + w->gru.b_ih,
                *bhh = p + w->gru.b_hh;
    for (int c0 = 0; c0 < n; c0 += ROLL_CHUNK) {
        int B = n - c0 < ROLL_CHUNK ? n - c0 : ROLL_CHUNK;
        /* burn-in: row i uses b_i = min(Bi, t0_i) context steps, right-aligned */
        memset(ws->h0, 0, (size_t)B * H * sizeof(float));
        int bmax = 0;
        for (int i = 0; i < B; i++) {
            size_t r = rows[c0 + i], e = sl_world_row_episode(d, r);
            size_t t0 = r - d->ep_start[e];
            burn[i] = t0 < (size_t)Bi ? (int)t0 : Bi;
            if (burn[i] > bmax) bmax = burn[i];
        }
        for (int k = 0; k < bmax; k++) {
            for (int i = 0; i < B; i++) {
                size_t r = rows[c0 + i];
                float *x = ws->x + (size_t)i * In;
                if (k >= bmax - burn[i]) {
                    size_t src = r - (size_t)(bmax - k);
                    sl_world_std_z(w, d->z + src * Z, x);
                    sl_world_std_a(w, d->actions + src * A, x + Z);
                } else {
                    memset(x, 0, (size_t)In * sizeof(float));
                }
            }
            sl_world_gru_infer(ws->h1, ws->x, ws->h0, wih, whh, bih, bhh, B, In, H, ws->gru_ws);
            for (int i = 0; i < B; i++)
                if (k >= bmax - burn[i])
                    memcpy(ws->h0 + (size_t)i * H, ws->h1 + (size_t)i * H, (size_t)H * sizeof(float));
        }
        /* free run; the model's noise comes from one stream per (member, start row), so that
         * the rows can be stepped in parallel with the same bits at any thread count */
        for (int i = 0; i < B; i++)
            sl_rng_seed(&rr[i], o->seed, ((uint64_t)(m + 1) << 40) + (uint64_t)(c0 + i));
        uint8_t *ok = out->ok + (size_t)m * n + c0;
        for (int i = 0; i < B; i++) {
            size_t r = rows[c0 + i];
            sl_world_std_z(w, d->z + r * Z, zcur + (size_t)i * Z);
            ok[i] = 1;
            float *zo = out->z + (((size_t)m * n + c0 + i) * (T + 1)) * Z;
            memcpy(zo, d->z + r * Z, (size_t)Z * sizeof(float));
        }
        for (int k = 0; k < T; k++) {
            if (o->use_real_actions) {
                for (int i = 0; i < B; i++)
                    memcpy(araw + (size_t)i * A, d->actions + (rows[c0 + i] + k) * A,
                           (size_t)A * sizeof(float));
            } else {
                for (int i = 0; i < B; i++)
                    for (int j = 0; j < Z; j++)
                        zraw[(size_t)i * Z + j] =
                            zcur[(size_t)i * Z + j] * w->z_std[j] + w->z_mean[j];
                SL_TRY(o->policy(o->policy_ctx, zraw, B, araw, rng));
                if (!sl_all_finite_f32(araw, (size_t)B * A))
                    return sl_set_error(SL_ERR_NAN, "world rollout: policy returned a non-finite "
                                        "action at step %d", k);
            }
            for (int i = 0; i < B; i++) {
                float *x = ws->x + (size_t)i * In;
                memcpy(x, zcur + (size_t)i * Z, (size_t)Z * sizeof(float));
                sl_world_std_a(w, araw + (size_t)i * A, x + Z);
            }
            sl_world_gru_infer(ws->h1, ws->x, ws->h0, wih, whh, bih, bhh, B, In, H, ws->gru_ws);
            sl_nn_linear_forward(ws->out, ws->h1, p + w->head.w, p + w->head.b, B, H, O);
            if (hetero && noise > 0)
                sl_nn_linear_forward(ws->sg, ws->h1, p + w->noise_head.w, p + w->noise_head.b, B,
                                     H, Z);
            float *tmp = ws->h0;
            ws->h0 = ws->h1;
            ws->h1 = tmp;
            sl_world_residual_update(w, zcur, ws->out, B);
            const int nth = sl_nn_get_threads();
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1 && B >= 256)
            for (int i = 0; i < B; i++) {
                size_t slot = (size_t)m * n + c0 + i;
                if (!ok[i]) continue; /* stays zero */
                float *zo = out->z + (slot * (T + 1) + k + 1) * Z;
                float *ao = out->a + (slot * T + k) * A;
                float *ro = out->reward + slot * T + k;
                float *eo = out->econ + (slot * T + k) * (E ? E : 1);
                const float *ob = ws->out + (size_t)i * O;
                float *zc = zcur + (size_t)i * Z;
                int bad = 0;
                if (noise > 0) {
                    const float *sgi = hetero ? ws->sg + (size_t)i * Z : NULL;
                    float *ei = ws->eps + (size_t)i * Z;
                    sl_nn_randn(ei, (size_t)Z, &rr[i]);
                    for (int j = 0; j < Z; j++)
                        zc[j] += noise * (sgi ? expf(lsig[j] + sgi[j]) : sigma[j]) * ei[j];
                }
                sphere_project(w, zc); /* after the noise: every emitted state is on it */
                for (int j = 0; j < Z; j++) {
                    float v = zc[j];
                    bad |= !isfinite(v) || fabsf(v) > SL_WORLD_EXPLODE;
                    zo[j] = v * w->z_std[j] + w->z_mean[j];
                }
                float rv = w->r_mean + w->r_std * ob[Z];
                if (!isfinite(rv)) bad = 1;
                for (int q = 0; q < E; q++) {
                    eo[q] = econ_value(w, q, ob[Z + 1 + q]);
                    if (!isfinite(eo[q])) bad = 1;
                }
                if (bad) {
                    ok[i] = 0;
                    memset(zc, 0, (size_t)Z * sizeof(float));
                    continue;
                }
                memcpy(ao, araw + (size_t)i * A, (size_t)A * sizeof(float));
                *ro = rv;
            }
        }
        /* a row that went bad is all zero after its real start (all-or-nothing) */
        for (int i = 0; i < B; i++) {
            if (ok[i]) continue;
            size_t slot = (size_t)m * n + c0 + i;
            memset(out->z + (slot * (T + 1) + 1) * Z, 0, (size_t)T * Z * sizeof(float));
            memset(out->a + slot * T * A, 0, (size_t)T * A * sizeof(float));
            memset(out->reward + slot * T, 0, (size_t)T * sizeof(float));
            if (E) memset(out->econ + slot * T * E, 0, (size_t)T * E * sizeof(float));
        }
    }
    return SL_OK;
}

sl_status sl_world_rollout_run(const sl_world *w, const sl_world_data *d, const size_t *rows,
                               int n, const sl_world_rollout_opts *o, sl_world_rollout *out) {
    memset(out, 0, sizeof *out);
    SL_TRY(sl_world_check_data(w, d));
    if (n <= 0) return sl_set_error(SL_ERR_ARG, "world rollout: no start rows");
    if (o->horizon < 1 || o->horizon > SL_WORLD_MAX_HORIZON)
        return sl_set_error(SL_ERR_ARG, "world rollout: horizon %d not in [1, %d]", o->horizon,
                            SL_WORLD_MAX_HORIZON);
    if (!o->use_real_actions && !o->policy)
        return sl_set_error(SL_ERR_ARG, "world rollout: no policy and use_real_actions == 0");
    if (!isfinite(o->noise))
        return sl_set_error(SL_ERR_ARG, "world rollout: noise must be finite");
    for (int i = 0; i < n; i++) {
        if (rows[i] >= d->n)
            return sl_set_error(SL_ERR_RANGE, "world rollout: start row %zu >= %zu rows", rows[i],
                                d->n);
        if (o->use_real_actions) {
            size_t e = sl_world_row_episode(d, rows[i]);
            if (rows[i] + (size_t)o->horizon > d->ep_start[e + 1])
                return sl_set_error(SL_ERR_RANGE, "world rollout: start row %zu (episode %zu, "
                                    "t=%zu) + horizon %d runs past the episode's real actions",
                                    rows[i], e, rows[i] - d->ep_start[e], o->horizon);
        }
    }
    const int M = w->M, T = o->horizon, Z = w->Z, A = w->A, E = w->E;
    out->members = M;
    out->n = n;
    out->horizon = T;
    out->z_dim = Z;
    out->a_dim = A;
    out->n_econ = E;
    size_t MN = (size_t)M * n;
    out->z = calloc(MN * (T + 1) * Z, sizeof(float));
    out->a = calloc(MN * T * A, sizeof(float));
    out->reward = calloc(MN * T, sizeof(float));
    out->econ = calloc(MN * T * (E ? E : 1), sizeof(float));
    out->ok = calloc(MN, 1);
    int B = n < ROLL_CHUNK ? n : ROLL_CHUNK;
    float *zcur = malloc((size_t)B * Z * sizeof(float));
    float *zraw = malloc((size_t)B * Z * sizeof(float));
    float *araw = malloc((size_t)B * A * sizeof(float));
    int *burn = malloc((size_t)B * sizeof(int));
    sl_rng *rr = malloc((size_t)B * sizeof *rr);
    sl_world_ws ws = {0};
    sl_status st = SL_OK;
    if (!out->z || !out->a || !out->reward || !out->econ || !out->ok || !zcur || !zraw || !araw ||
        !burn || !rr)
        st = sl_set_error(SL_ERR_NOMEM, "world rollout: out of memory for %d rollouts", n);
    if (st == SL_OK) st = sl_world_ws_alloc(&ws, w, B);
    for (int m = 0; m < M && st == SL_OK; m++) {
        sl_rng rng;
        sl_rng_seed(&rng, o->seed, 7000 + (uint64_t)m);
        st = rollout_member(w, d, rows, n, o, m, out, &ws, zcur, zraw, araw, burn, &rng, rr);
    }
    sl_world_ws_free(&ws);
    free(rr);
    free(burn);
    free(zcur);
    free(zraw);
    free(araw);
    if (st != SL_OK) sl_world_rollout_free(out);
    return st;
}

sl_status sl_world_generate_windows(const sl_world *w, const sl_world_data *d, int horizon,
                                    size_t n, float noise, uint64_t seed, float **windows,
                                    size_t *starts_out) {
    *windows = NULL;
    if (n == 0 || n > (size_t)1 << 24)
        return sl_set_error(SL_ERR_ARG, "world windows: count %zu not in [1, 2^24]", n);
    if (horizon < 1) return sl_set_error(SL_ERR_ARG, "world windows: horizon %d < 1", horizon);
    /* episodes long enough */
    size_t n_ok = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) >= (size_t)horizon) n_ok++;
    if (n_ok == 0)
        return sl_set_error(SL_ERR_ARG, "world windows: no episode has the %d steps a %d-step "
                            "rollout needs", horizon, horizon);
    size_t *eps = malloc(n_ok * sizeof *eps);
    size_t *rows = malloc(n * sizeof *rows);
    float *win = malloc(n * (size_t)(horizon + 1) * w->Z * sizeof(float));
    if (!eps || !rows || !win) {
        free(eps);
        free(rows);
        free(win);
        return sl_set_error(SL_ERR_NOMEM, "world windows: out of memory for %zu windows", n);
    }
    n_ok = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) >= (size_t)horizon) eps[n_ok++] = e;
    sl_rng rng;
    sl_rng_seed(&rng, seed, 31);
    size_t done = 0, fails = 0, round = 0;
    sl_status st = SL_OK;
    size_t WZ = (size_t)(horizon + 1) * w->Z;
    while (done < n && st == SL_OK) {
        size_t need = n - done;
        for (size_t i = 0; i < need; i++) {
            size_t e = eps[sl_rng_below(&rng, n_ok)];
            size_t len = sl_world_data_ep_len(d, e);
            rows[i] = d->ep_start[e] + sl_rng_below(&rng, len - (size_t)horizon + 1);
        }
        sl_world_rollout ro;
        sl_world_rollout_opts o = {horizon, 1, NULL, NULL, noise, seed + 7919u * (++round)};
        st = sl_world_rollout_run(w, d, rows, (int)need, &o, &ro);
        if (st != SL_OK) break;
        for (size_t i = 0; i < need; i++) {
            int m = (int)((done + fails) % (size_t)w->M);
            if (ro.ok[(size_t)m * need + i]) {
                memcpy(win + done * WZ, ro.z + ((size_t)m * need + i) * WZ, WZ * sizeof(float));
                if (starts_out) starts_out[done] = rows[i];
                done++;
            } else if (++fails > 10 * n) {
                st = sl_set_error(SL_ERR_DIVERGED, "world windows: %zu rollouts went non-finite "
                                  "or exploded; the model diverges", fails);
                break;
            }
        }
        sl_world_rollout_free(&ro);
    }
    free(eps);
    free(rows);
    if (st != SL_OK) {
        free(win);
        return st;
    }
    *windows = win;
    return SL_OK;
}

double sl_world_window_std_ratio(const float *a, const float *b, size_t n, int T, int D) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        for (int dd = 0; dd < D; dd++) {
            double ma = 0, mb = 0;
            for (int t = 0; t < T; t++) {
                ma += (double)a[(i * T + t) * D + dd];
                mb += (double)b[(i * T + t) * D + dd];
            }
            ma /= T;
            mb /= T;
            double va = 0, vb = 0;
            for (int t = 0; t < T; t++) {
                double x = (double)a[(i * T + t) * D + dd] - ma;
                double y = (double)b[(i * T + t) * D + dd] - mb;
                va += x * x;
                vb += y * y;
            }
            num += va / T;
            den += vb / T;
        }
    }
    if (!isfinite(num) || !isfinite(den)) return NAN;
    if (den == 0) return num == 0 ? 1.0 : (double)INFINITY;
    return sqrt(num / den);
}
