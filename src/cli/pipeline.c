/* SPDX-License-Identifier: Apache-2.0 */
/* pipeline.c - glue for the commands that combine stages (see pipeline.h).
 * Invariant: every synthetic transition handed to a learner carries the weight the
 * SyntheticWeightController gave its branch (0 for branches the gates rejected), unless the
 * caller explicitly asked for the ungated baseline of the poison experiment. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"

/* --- real data ---------------------------------------------------------- */

sl_status pl_real_load(pl_real *r, const char *data_path, const char *latents_path) {
    memset(r, 0, sizeof *r);
    SL_TRY(sl_dataset_load_npz(&r->ds, data_path));
    size_t n = 0;
    int zd = 0;
    sl_status s = SL_OK;
    if (!latents_path || strcmp(latents_path, "none") == 0) {
        /* policies on raw observations */
        n = r->ds->n;
        zd = r->ds->obs_dim;
        r->z = malloc(n * (size_t)zd * sizeof(float));
        r->next_z = malloc(n * (size_t)zd * sizeof(float));
        if (!r->z || !r->next_z) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else {
            memcpy(r->z, r->ds->observations, n * (size_t)zd * sizeof(float));
            memcpy(r->next_z, r->ds->next_observations, n * (size_t)zd * sizeof(float));
        }
    } else {
        s = sl_latents_load_npz(latents_path, r->ds->n, &r->z, &r->next_z, NULL, &n, &zd);
    }
    if (s == SL_OK && !r->next_z)
        s = sl_set_error(SL_ERR_FORMAT, "%s: needs key 'next_latents' (written by synthloop encode)",
                         latents_path);
    if (s == SL_OK) {
        r->rew = malloc(n * sizeof(float));
        r->done = malloc(n * sizeof(float));
        r->episode = malloc(n * sizeof(int32_t));
        if (!r->rew || !r->done || !r->episode) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (s != SL_OK) {
        pl_real_free(r);
        return s;
    }
    for (size_t i = 0; i < n; i++) {
        r->rew[i] = r->ds->rewards[i];
        r->done[i] = r->ds->terminals[i] ? 1.0f : 0.0f;
        r->episode[i] = r->ds->episode_ids[i];
    }
    r->t.n = n;
    r->t.obs_dim = zd;
    r->t.act_dim = r->ds->act_dim;
    r->t.obs = r->z;
    r->t.next_obs = r->next_z;
    r->t.act = r->ds->actions;
    r->t.rew = r->rew;
    r->t.done = r->done;
    r->t.weight = NULL;
    r->t.episode = r->episode;
    return SL_OK;
}

void pl_real_free(pl_real *r) {
    if (!r) return;
    sl_dataset_free(r->ds);
    free(r->z);
    free(r->next_z);
    free(r->rew);
    free(r->done);
    free(r->episode);
    memset(r, 0, sizeof *r);
}

/* --- synthetic data ----------------------------------------------------- */

static const char *const weighting_names[] = {"controller", "ungated"};
_Static_assert(sizeof(weighting_names) / sizeof(weighting_names[0]) == PL_WEIGHTING_COUNT,
               "weighting names");

const char *pl_weighting_name(pl_weighting w) {
    return (w >= 0 && w < PL_WEIGHTING_COUNT) ? weighting_names[w] : "unknown";
}

sl_status pl_weighting_parse(const char *s, pl_weighting *out) {
    for (int i = 0; i < PL_WEIGHTING_COUNT; i++)
        if (s && strcmp(s, weighting_names[i]) == 0) {
            *out = (pl_weighting)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown weighting '%s' (controller|ungated)", s ? s : "");
}

void pl_synth_opts_default(pl_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = PL_WEIGHT_CONTROLLER;
    o->share = 0.1;
    o->max_share = 0.4;
    o->min_trust = 0.9;
    o->min_pass_rate = 0.1;
    o->generator_band_lo = 0.8;
    o->generator_band_hi = 1.2;
    o->min_outcomes = -1;
}

int pl_parse_generator_band(const char *cmd, const char *s, pl_synth_opts *o) {
    sl_gate_preset pr;
    if (strcmp(s, "off") == 0) {
        o->generator_band_lo = o->generator_band_hi = 0.0;
        return 0;
    }
    if (sl_gate_preset_parse(s, &pr) == SL_OK) {
        sl_gate g = sl_gate_from_preset(pr);
        o->generator_band_lo = g.ratio_lo;
        o->generator_band_hi = g.ratio_hi;
        return 0;
    }
    char *end = NULL;
    double lo = strtod(s, &end), hi = NAN;
    if (end && end != s && *end == ',') {
        const char *t = end + 1;
        hi = strtod(t, &end);
        if (!end || end == t || *end) hi = NAN;
    }
    if (!(isfinite(lo) && isfinite(hi) && lo >= 0.0 && lo <= hi && hi > 0.0 && hi < 1e6))
        return sl_cli_usage_error(cmd, "--generator-band expects LO,HI with 0 <= LO <= HI, "
                                       "normal, conservative, aggressive or off (got '%s')", s);
    o->generator_band_lo = lo;
    o->generator_band_hi = hi;
    return 0;
}

int pl_parse_synth_option(const char *cmd, int c, const char *arg, pl_synth_opts *o) {
    long v;
    switch (c) {
    case 'w': return sl_cli_parse_double(cmd, "--synth-weight", arg, 0, 0.95, &o->share);
    case 'W':
        return pl_weighting_parse(arg, &o->mode) == SL_OK
                   ? 0
                   : sl_cli_usage_error(cmd, "%s", sl_last_error());
    case 't': return sl_cli_parse_double(cmd, "--min-trust", arg, 0, 1, &o->min_trust);
    case 'P': return sl_cli_parse_double(cmd, "--min-pass-rate", arg, 0, 1, &o->min_pass_rate);
    case 'G': return pl_parse_generator_band(cmd, arg, o);
    case 'm': return sl_cli_parse_double(cmd, "--max-share", arg, 0.001, 0.95, &o->max_share);
    case PL_OPT_ECON_MODEL: o->econ_model_path = arg; return 0;
    case PL_OPT_LAMBDA_MODEL: o->lambda_model_path = arg; return 0;
    case PL_OPT_MIN_OUTCOMES:
        if (sl_cli_parse_int(cmd, "--min-outcomes", arg, 0, 1000000000L, &v)) return 2;
        o->min_outcomes = v;
        return 0;
    default: return -1;
    }
}

/* Fetch an array with an expected dtype and leading dims; message names file and key. */
static sl_status get_arr(sl_npz *z, const char *path, const char *key, sl_dtype dt, int ndim,
                         const sl_array **out) {
    sl_status s = sl_npz_get(z, key, out);
    if (s != SL_OK)
        return sl_set_error(s, "%s: missing key '%s' (is this a branches file from "
                               "'synthloop branches collect'?)", path, key);
    if ((*out)->dtype != dt || (*out)->ndim != ndim)
        return sl_set_error(SL_ERR_FORMAT, "%s: key '%s' has dtype %s rank %d, expected %s rank %d",
                            path, key, sl_dtype_numpy((*out)->dtype), (*out)->ndim,
                            sl_dtype_numpy(dt), ndim);
    return SL_OK;
}

void pl_synth_free(pl_synth *s) {
    if (!s) return;
    free(s->obs);
    free(s->act);
    free(s->rew);
    free(s->next);
    free(s->done);
    free(s->weight);
    free(s->rec_dm);
    free(s->rec_de);
    free(s->rec_dp);
    free(s->rec_brick);
    memset(s, 0, sizeof *s);
}

sl_status pl_synth_load(pl_synth *ps, const char *path, size_t n_real_weight,
                        const pl_synth_opts *o) {
    memset(ps, 0, sizeof *ps);
    ps->share = o->share;
    ps->ctx = sl_weight_global_default().ctx;
    ps->ctx.max_synth_share = o->max_share;
    ps->ctx.real_rows = (double)n_real_weight; /* real training rows: how scarce data is */
    if (!(o->share >= 0.0 && o->share < 1.0))
        return sl_set_error(SL_ERR_ARG, "synthetic share %g must be in [0, 1)", o->share);
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *st, *ac, *rw, *tr, *pa, *dm, *de, *dp, *se, *stt, *br;
    sl_status s = get_arr(z, path, "branch_states", SL_DTYPE_F32, 3, &st);
    if (s == SL_OK) s = get_arr(z, path, "branch_actions", SL_DTYPE_F32, 3, &ac);
    if (s == SL_OK) s = get_arr(z, path, "branch_rewards", SL_DTYPE_F32, 2, &rw);
    if (s == SL_OK) s = get_arr(z, path, "trust", SL_DTYPE_F64, 1, &tr);
    if (s == SL_OK) s = get_arr(z, path, "passed", SL_DTYPE_BOOL, 1, &pa);
    if (s == SL_OK) s = get_arr(z, path, "delta_mpl", SL_DTYPE_F64, 1, &dm);
    if (s == SL_OK) s = get_arr(z, path, "delta_error", SL_DTYPE_F64, 1, &de);
    if (s == SL_OK) s = get_arr(z, path, "delta_ep", SL_DTYPE_F64, 1, &dp);
    if (s == SL_OK) s = get_arr(z, path, "source_episode", SL_DTYPE_I32, 1, &se);
    if (s == SL_OK) s = get_arr(z, path, "source_t", SL_DTYPE_I32, 1, &stt);
    if (s == SL_OK) s = get_arr(z, path, "brick_id", SL_DTYPE_I32, 1, &br);
    /* optional generator certificate (sl_synth_certify): its std-ratio range over horizons */
    ps->cert_min = ps->cert_max = 1.0;
    if (s == SL_OK && sl_npz_has(z, "generator_std_ratio")) {
        const sl_array *gr;
        s = get_arr(z, path, "generator_std_ratio", SL_DTYPE_F64, 1, &gr);
        if (s == SL_OK && gr->shape[0] == 0)
            s = sl_set_error(SL_ERR_SHAPE, "%s: generator_std_ratio is empty", path);
        const double *g = s == SL_OK ? gr->data : NULL;
        for (size_t i = 0; s == SL_OK && i < gr->shape[0]; i++) {
            if (!isfinite(g[i]))
                s = sl_set_error(SL_ERR_NAN, "%s: generator_std_ratio[%zu] is not finite", path, i);
            else {
                if (i == 0 || g[i] < ps->cert_min) ps->cert_min = g[i];
                if (i == 0 || g[i] > ps->cert_max) ps->cert_max = g[i];
            }
        }
        ps->certified = s == SL_OK;
    }
    size_t N = 0, H = 0, Z = 0, A = 0;
    if (s == SL_OK) {
        N = st->shape[0];
        H = ac->shape[1];
        Z = st->shape[2];
        A = ac->shape[2];
        if (st->shape[1] != H + 1 || ac->shape[0] != N || rw->shape[0] != N || rw->shape[1] != H ||
            tr->shape[0] != N || pa->shape[0] != N || dm->shape[0] != N || de->shape[0] != N ||
            dp->shape[0] != N || se->shape[0] != N || stt->shape[0] != N || br->shape[0] != N ||
            H == 0 || Z == 0 || A == 0)
            s = sl_set_error(SL_ERR_SHAPE, "%s: branch arrays disagree in shape", path);
    }
    size_t M = N * H;
    if (s == SL_OK) {
        size_t Mc = M ? M : 1;
        ps->obs = malloc(Mc * Z * sizeof(float));
        ps->next = malloc(Mc * Z * sizeof(float));
        ps->act = malloc(Mc * A * sizeof(float));
        ps->rew = malloc(Mc * sizeof(float));
        ps->done = calloc(Mc, sizeof(float));
        ps->weight = calloc(Mc, sizeof(float));
        if (!ps->obs || !ps->next || !ps->act || !ps->rew || !ps->done || !ps->weight)
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu transitions", path, M);
    }
    double *bw = NULL;
    sl_weight_sample *samples = NULL;
    sl_weight_out *wout = NULL;
    if (s == SL_OK) {
        bw = calloc(N ? N : 1, sizeof(double));
        samples = calloc(N ? N : 1, sizeof *samples);
        wout = calloc(N ? N : 1, sizeof *wout);
        if (!bw || !samples || !wout) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    const float *S = s == SL_OK ? st->data : NULL;
    const uint8_t *passed = s == SL_OK ? pa->data : NULL;
    const double *trust = s == SL_OK ? tr->data : NULL;
    size_t n_pass = 0, n_finite = 0;
    for (size_t b = 0; s == SL_OK && b < N; b++) {
        int fin = sl_all_finite_f32(S + b * (H + 1) * Z, (H + 1) * Z) && isfinite(trust[b]);
        n_finite += (size_t)fin;
        n_pass += passed[b] ? 1 : 0;
    }
    /* the passed branches' econ features, for outcome records (ab --record-outcomes) */
    if (s == SL_OK && o->record_path && n_pass > 0) {
        ps->rec_dm = malloc(n_pass * sizeof(double));
        ps->rec_de = malloc(n_pass * sizeof(double));
        ps->rec_dp = malloc(n_pass * sizeof(double));
        ps->rec_brick = malloc(n_pass * sizeof(int32_t));
        if (!ps->rec_dm || !ps->rec_de || !ps->rec_dp || !ps->rec_brick)
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        const double *dmp = dm->data, *dep = de->data, *dpp = dp->data;
        const int32_t *brp = br->data;
        for (size_t b = 0; s == SL_OK && b < N; b++) {
            if (!passed[b] || !isfinite(dmp[b]) || !isfinite(dep[b]) || !isfinite(dpp[b])) continue;
            ps->rec_dm[ps->n_rec] = dmp[b];
            ps->rec_de[ps->n_rec] = dep[b];
            ps->rec_dp[ps->n_rec] = dpp[b];
            ps->rec_brick[ps->n_rec] = brp[b] < SL_ECON_MAX_BRICKS ? brp[b] : -1;
            ps->n_rec++;
        }
    }
    /* branch units: the controller's budget R counts real rows per branch of H rows */
    double R = (double)n_real_weight / (double)(H ? H : 1);
    if (s == SL_OK && o->mode == PL_WEIGHT_UNGATED) {
        /* seed 001's static weighting: every finite branch equally, share = o->share */
        double target = R * o->share / (1.0 - o->share);
        double w = n_finite ? target / (double)n_finite : 0.0;
        for (size_t b = 0; b < N; b++) {
            int fin = sl_all_finite_f32(S + b * (H + 1) * Z, (H + 1) * Z);
            bw[b] = fin ? w : 0.0;
        }
    } else if (s == SL_OK && N > 0) {
        const double *dmp = dm->data, *dep = de->data, *dpp = dp->data;
        const int32_t *sep = se->data, *stp = stt->data, *brp = br->data;
        for (size_t b = 0; b < N; b++) {
            sl_weight_sample *x = &samples[b];
            x->branch_states = S + b * (H + 1) * Z;
            x->states_rows = H + 1;
            x->states_dim = Z;
            x->branch_actions = (const float *)ac->data + b * H * A;
            x->actions_rows = H;
            x->actions_dim = A;
            x->source_episode = sep[b];
            x->source_timestep = stp[b];
            /* a branch the gates rejected enters with trust 0: trust is never bypassed */
            x->trust = passed[b] ? trust[b] : 0.0;
            x->delta_mpl = dmp[b];
            x->delta_error = dep[b];
            x->delta_ep = dpp[b];
            x->novelty = 0.0;
            x->brick_id = brp[b];
        }
        sl_weight_ctrl *ctrl;
        s = sl_weight_ctrl_new(&ctrl);
        if (s == SL_OK) {
            if (o->log_path) s = sl_weight_ctrl_set_log_path(ctrl, o->log_path);
            sl_weight_ctrl_set_log_samples(ctrl, 0);
            if (s == SL_OK && o->econ_model_path) {
                sl_econ_model em;
                s = sl_econ_model_load(&em, o->econ_model_path);
                if (s == SL_OK) sl_weight_ctrl_set_econ_model(ctrl, &em);
            }
            if (s == SL_OK && o->lambda_model_path) {
                sl_lambda_model lm;
                s = sl_lambda_model_load(&lm, o->lambda_model_path);
                if (s == SL_OK) sl_weight_ctrl_set_lambda_model(ctrl, &lm);
            }
            if (o->min_outcomes >= 0) sl_weight_ctrl_set_min_outcomes(ctrl, (size_t)o->min_outcomes);
            sl_weight_global g = sl_weight_global_default();
            g.ctx = ps->ctx;
            g.target_synth_share = o->share;
            g.min_trust = o->min_trust;
            g.real_weight = R;
            /* the generator rail reads the batch's gate pass rate over all its branches */
            g.source_pass_rate = (double)n_pass / (double)N;
            g.min_pass_rate = o->min_pass_rate;
            /* the certificate rail reads the generator's per-horizon std-ratio range */
            g.source_std_ratio_min = ps->cert_min;
            g.source_std_ratio_max = ps->cert_max;
            g.generator_band_lo = o->generator_band_lo;
            g.generator_band_hi = o->generator_band_hi;
            ps->ctx = g.ctx;
            if (s == SL_OK) s = sl_weight_ctrl_compute(ctrl, &g, samples, N, wout, &ps->wres);
            sl_weight_ctrl_free(ctrl);
        }
        for (size_t b = 0; s == SL_OK && b < N; b++) bw[b] = wout[b].w_final;
        if (s == SL_OK && o->reg) {
            sl_weight_row *rows = malloc(N * sizeof *rows);
            if (rows) {
                for (size_t b = 0; b < N; b++) {
                    rows[b].step = (int64_t)b;
                    rows[b].trust = wout[b].trust_component;
                    rows[b].econ = wout[b].econ_component;
                    rows[b].lambda = wout[b].lambda_component;
                    rows[b].w_final = wout[b].w_final;
                    rows[b].rails = wout[b].flags;
                }
                s = sl_registry_add_weight_log(o->reg, o->run_id, rows, N);
                free(rows);
            }
        }
    }
    /* flatten: branch b, step k -> (s_k, a_k, r_k, s_{k+1}) with the branch's weight */
    for (size_t b = 0; s == SL_OK && b < N; b++) {
        int fin = bw[b] > 0.0;
        for (size_t k = 0; k < H; k++) {
            size_t m = b * H + k;
            const float *sk = S + (b * (H + 1) + k) * Z;
            if (fin) {
                memcpy(ps->obs + m * Z, sk, Z * sizeof(float));
                memcpy(ps->next + m * Z, sk + Z, Z * sizeof(float));
                memcpy(ps->act + m * A, (const float *)ac->data + m * A, A * sizeof(float));
                ps->rew[m] = ((const float *)rw->data)[m];
            } else { /* zero weight: keep finite zeros so a non-finite branch never leaks */
                memset(ps->obs + m * Z, 0, Z * sizeof(float));
                memset(ps->next + m * Z, 0, Z * sizeof(float));
                memset(ps->act + m * A, 0, A * sizeof(float));
                ps->rew[m] = 0.0f;
            }
            ps->weight[m] = (float)bw[b];
        }
    }
    free(bw);
    free(samples);
    free(wout);
    sl_npz_close(z);
    if (s != SL_OK) {
        pl_synth_free(ps);
        return s;
    }
    ps->n_branches = N;
    ps->n_passed = n_pass;
    ps->horizon = (int)H;
    ps->t.n = M;
    ps->t.obs_dim = (int)Z;
    ps->t.act_dim = (int)A;
    ps->t.obs = ps->obs;
    ps->t.act = ps->act;
    ps->t.rew = ps->rew;
    ps->t.next_obs = ps->next;
    ps->t.done = ps->done;
    ps->t.weight = ps->weight;
    ps->t.episode = NULL;
    return SL_OK;
}

/* --- maps and progress -------------------------------------------------- */

sl_status pl_encoder_map(void *ctx, const float *obs, float *state) {
    sl_latent_encoder *enc = ctx;
    return sl_latent_encode(enc, obs, 1, sl_latent_obs_dim(enc), state);
}

void pl_ab_progress(void *ctx, int arm, int seed_idx, int update, int total) {
    sl_progress *p = ctx;
    char extra[64];
    snprintf(extra, sizeof extra, "%s seed %d", arm == SL_AB_BASE ? "baseline" : "augmented",
             seed_idx);
    (void)total;
    sl_progress_update(p, p->done + (update % 100 == 0 ? 100 : (uint64_t)(update % 100)), extra);
}

/* --- A/B orchestration ---------------------------------------------------- */

void pl_print_certificate(const char *indent, const sl_synth_certificate *c) {
    printf("%sgenerator std ratio (held-out starts, real actions):", indent);
    for (int i = 0; i < c->n; i++) printf(" h%d %.3f", c->h[i], c->std_ratio[i]);
    printf("\n");
}

double pl_ab_outcome_score(const sl_ab_outcome *out) {
    /* the verdicts' signed improvements (> 0 = better): MPL's is its relative change, the
     * error rate's and action MSE's the negated relative change */
    const sl_ab_metric_summary *mpl = &out->summary[SL_ABM_MPL],
                               *err = &out->summary[SL_ABM_ERROR_RATE],
                               *mse = &out->summary[SL_ABM_ACTION_MSE];
    double score = 0.0;
    if (mpl->valid && err->valid)
        score = 0.5 * (mpl->verdict.improvement + err->verdict.improvement);
    else if (mse->valid)
        score = mse->verdict.improvement;
    if (!isfinite(score)) score = 0.0;
    return 0.5 + 0.5 * tanh(score / 0.1);
}

sl_status pl_record_outcomes(const char *path, const pl_synth *syn, double share, double y) {
    /* the run's records are built in memory and appended with one write(2) on an O_APPEND
     * descriptor, so that concurrent runs appending to the same file never interleave lines */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    /* two lambda records per A/B: the baseline arm is a run at share 0 with the neutral
     * outcome 0.5, the augmented arm one at the realised share with outcome y, so that the
     * reward-weighted regression can prefer 0 where synthetic data did harm */
    sl_lambda_record lr;
    lr.ctx = syn->ctx;
    lr.share = 0.0;
    lr.reward = 0.5;
    sl_status s = sl_lambda_record_write(mem, &lr);
    lr.share = share;
    lr.reward = y;
    if (s == SL_OK) s = sl_lambda_record_write(mem, &lr);
    for (size_t i = 0; s == SL_OK && i < syn->n_rec; i++) {
        sl_econ_record er;
        er.delta_mpl = syn->rec_dm[i];
        er.delta_error = syn->rec_de[i];
        er.delta_ep = syn->rec_dp[i];
        er.novelty = 0.0;
        er.brick_id = syn->rec_brick[i];
        for (int j = 0; j < SL_OBJ_COUNT; j++) er.objective[j] = syn->ctx.objective[j];
        er.outcome = y;
        s = sl_econ_record_write(mem, &er);
    }
    if (fclose(mem) != 0 && s == SL_OK) s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    int fd = s == SL_OK ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (s == SL_OK && fd < 0)
        s = sl_set_error(SL_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    if (s == SL_OK) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 || (size_t)w != len)
            s = sl_set_error(SL_ERR_IO, "%s: append of %zu bytes failed: %s", path, len,
                             w < 0 ? strerror(errno) : "short write");
        else if (fsync(fd) != 0)
            s = sl_set_error(SL_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    }
    if (fd >= 0 && close(fd) != 0 && s == SL_OK)
        s = sl_set_error(SL_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    free(buf);
    return s;
}

cJSON *pl_ab_config_json(const sl_ab_config *cfg, const pl_synth_opts *so, const char *data,
                         const char *latents, const char *encoder, const char *synth) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "data", data ? data : "");
    cJSON_AddStringToObject(j, "latents", latents ? latents : "");
    cJSON_AddStringToObject(j, "encoder", encoder ? encoder : "");
    cJSON_AddStringToObject(j, "synth_data", synth ? synth : "");
    cJSON_AddNumberToObject(j, "synth_weight", so->share);
    cJSON_AddStringToObject(j, "weighting", pl_weighting_name(so->mode));
    cJSON_AddNumberToObject(j, "min_trust", so->min_trust);
    cJSON_AddNumberToObject(j, "min_pass_rate", so->min_pass_rate);
    cJSON *gb = cJSON_AddArrayToObject(j, "generator_band");
    cJSON_AddItemToArray(gb, cJSON_CreateNumber(so->generator_band_lo));
    cJSON_AddItemToArray(gb, cJSON_CreateNumber(so->generator_band_hi));
    cJSON_AddNumberToObject(j, "max_share", so->max_share);
    if (so->econ_model_path) cJSON_AddStringToObject(j, "econ_model", so->econ_model_path);
    if (so->lambda_model_path) cJSON_AddStringToObject(j, "lambda_model", so->lambda_model_path);
    if (so->min_outcomes >= 0) cJSON_AddNumberToObject(j, "min_outcomes", (double)so->min_outcomes);
    if (so->record_path) cJSON_AddStringToObject(j, "record_outcomes", so->record_path);
    cJSON_AddStringToObject(j, "algo", sl_rl_algo_name(cfg->rl.algo));
    cJSON_AddNumberToObject(j, "seeds", cfg->seeds);
    cJSON_AddNumberToObject(j, "updates", cfg->updates);
    cJSON_AddNumberToObject(j, "eval_episodes", cfg->eval_episodes);
    cJSON_AddNumberToObject(j, "hidden", cfg->rl.hidden);
    cJSON_AddNumberToObject(j, "batch", cfg->rl.batch);
    cJSON_AddStringToObject(j, "sampling", sl_rl_sampling_name(cfg->rl.sampling));
    cJSON_AddNumberToObject(j, "holdout", cfg->holdout_frac);
    cJSON_AddNumberToObject(j, "seed", (double)cfg->seed);
    return j;
}

sl_status pl_ab_execute(const sl_ab_config *cfg, const pl_synth_opts *so, const char *data,
                        const char *latents, const char *encoder, const char *synth_path,
                        sl_registry *reg, int64_t run_id, sl_ab_outcome *out, cJSON **json) {
    *json = NULL;
    memset(out, 0, sizeof *out);
    pl_real real;
    pl_synth syn;
    memset(&syn, 0, sizeof syn);
    sl_latent_encoder *enc = NULL;
    sl_env *env = NULL;
    SL_TRY(pl_real_load(&real, data, latents));
    sl_status s = SL_OK;
    if (synth_path) s = pl_synth_load(&syn, synth_path, (size_t)(real.t.n * (1.0 - cfg->holdout_frac)), so);
    if (s == SL_OK && synth_path && (syn.t.obs_dim != real.t.obs_dim || syn.t.act_dim != real.t.act_dim))
        s = sl_set_error(SL_ERR_SHAPE, "%s: branches have latent %d / action %d dims but %s has %d / %d",
                         synth_path, syn.t.obs_dim, syn.t.act_dim, latents, real.t.obs_dim,
                         real.t.act_dim);
    if (s == SL_OK && encoder) {
        s = sl_latent_load(&enc, encoder);
        if (s == SL_OK && sl_latent_z_dim(enc) != real.t.obs_dim)
            s = sl_set_error(SL_ERR_SHAPE, "%s: encoder makes %d-dim latents but %s has %d",
                             encoder, sl_latent_z_dim(enc), latents, real.t.obs_dim);
        if (s == SL_OK) s = sl_env_workcell_new(&env, NULL);
        if (s == SL_OK && sl_latent_obs_dim(enc) != env->obs_dim)
            s = sl_set_error(SL_ERR_SHAPE, "%s: encoder expects %d-dim observations, workcell has %d",
                             encoder, sl_latent_obs_dim(enc), env->obs_dim);
    } else if (s == SL_OK && cfg->eval_episodes > 0) {
        /* no encoder: the policy acts on raw workcell observations */
        s = sl_env_workcell_new(&env, NULL);
        if (s == SL_OK && env->obs_dim != real.t.obs_dim)
            s = sl_set_error(SL_ERR_SHAPE, "policy states have %d dims but the workcell's observations "
                             "have %d: pass --encoder", real.t.obs_dim, env->obs_dim);
    }
    sl_ab_config c = *cfg;
    if (!env) c.eval_episodes = 0;
    sl_progress prog;
    sl_progress_begin(&prog, "ab", (uint64_t)c.seeds * 2 * (uint64_t)c.updates);
    if (s == SL_OK)
        s = sl_ab_run(&c, &real.t, synth_path ? &syn.t : NULL, env, enc ? pl_encoder_map : NULL,
                      enc, pl_ab_progress, &prog, out);
    sl_progress_end(&prog);
    if (s == SL_OK) {
        cJSON *j = sl_ab_outcome_to_json(out, &c);
        sl_json_add_provenance(j, c.seed);
        if (synth_path) {
            cJSON *sj = cJSON_AddObjectToObject(j, "synthetic");
            cJSON_AddNumberToObject(sj, "branches", (double)syn.n_branches);
            cJSON_AddNumberToObject(sj, "passed_gates", (double)syn.n_passed);
            cJSON_AddNumberToObject(sj, "horizon", syn.horizon);
            cJSON_AddStringToObject(sj, "weighting", pl_weighting_name(so->mode));
            cJSON_AddNumberToObject(sj, "target_share", so->share);
            if (so->mode == PL_WEIGHT_CONTROLLER) {
                cJSON_AddNumberToObject(sj, "controller_phase", syn.wres.phase);
                cJSON_AddStringToObject(sj, "controller_phase_reason",
                                        syn.wres.phase_reason ? syn.wres.phase_reason : "");
                cJSON_AddNumberToObject(sj, "lambda", syn.wres.lambda);
                cJSON_AddNumberToObject(sj, "effective_share_branch_units", syn.wres.effective_share);
                cJSON_AddNumberToObject(sj, "rejected_by_trust", (double)syn.wres.n_rejected_trust);
                cJSON_AddNumberToObject(sj, "pass_rate", syn.n_branches ? (double)syn.n_passed /
                                                                (double)syn.n_branches : 0.0);
                cJSON_AddBoolToObject(sj, "generator_certified", syn.certified);
                if (syn.certified) {
                    cJSON_AddNumberToObject(sj, "generator_std_ratio_min", syn.cert_min);
                    cJSON_AddNumberToObject(sj, "generator_std_ratio_max", syn.cert_max);
                }
                cJSON *rails = cJSON_AddArrayToObject(sj, "rails");
                for (int k = 0; rails && k < SL_RAIL_COUNT; k++)
                    if (syn.wres.rails & (1u << k))
                        cJSON_AddItemToArray(rails, cJSON_CreateString(
                                                        sl_weight_rail_name((sl_weight_rail)k)));
            }
        }
        *json = j;
        if (synth_path && so->record_path) {
            const double y = pl_ab_outcome_score(out);
            s = pl_record_outcomes(so->record_path, &syn, out->synth_share, y);
            if (s == SL_OK) {
                cJSON *rj = cJSON_AddObjectToObject(j, "outcome_record");
                cJSON_AddStringToObject(rj, "path", so->record_path);
                cJSON_AddNumberToObject(rj, "outcome", y);
                cJSON_AddNumberToObject(rj, "econ_records", (double)syn.n_rec);
                cJSON_AddNumberToObject(rj, "lambda_records", 2);
            }
        }
        /* learning curves: mean held-out MSE per arm */
        for (int a = 0; a < SL_AB_ARMS && reg; a++) {
            const char *name = a == SL_AB_BASE ? "ab/baseline/heldout_action_mse"
                                               : "ab/augmented/heldout_action_mse";
            for (int k = 0; k < out->curve_points; k++) {
                double m = 0;
                for (int si = 0; si < out->seeds; si++)
                    m += out->curve[a][(size_t)si * out->curve_points + k];
                sl_registry_add_metric(reg, run_id, name, out->curve_step[k], m / out->seeds);
            }
        }
        if (reg) {
            for (int m = 0; m < SL_ABM_COUNT; m++)
                for (int a = 0; a < SL_AB_ARMS; a++) {
                    const sl_ci *ci = &out->summary[m].ci[a];
                    sl_registry_add_estimate(reg, run_id, sl_ab_metric_name((sl_ab_metric)m),
                                             a == SL_AB_BASE ? "baseline" : "augmented", ci->mean,
                                             ci->lo, ci->hi, (int64_t)ci->n);
                }
            char *txt = cJSON_PrintUnformatted(j);
            if (txt) s = sl_registry_add_ab(reg, run_id, "baseline_vs_augmented", txt,
                                            sl_ab_verdict_name(out->headline), NULL);
            free(txt);
        }
    }
    pl_real_free(&real);
    pl_synth_free(&syn);
    sl_latent_free(enc);
    sl_env_free(env);
    return s;
}
