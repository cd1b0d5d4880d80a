/* SPDX-License-Identifier: Apache-2.0 */
/* replay.c - weighted replay: real transitions in latent space, branches weighted through the
 * one weighting path (controller or ungated, both logged), replay rows, and the A/B job.
 * Invariant: every synthetic transition handed to a learner carries the weight its branch got
 * here (0 for branches the gates rejected, unless the caller asked for the ungated baseline),
 * and that weight was recorded when a registry was given; a failure to record fails the call. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_npz.h"

/* --- real data ---------------------------------------------------------- */

sl_status sl_loop_real_load(sl_loop_real *r, const char *data_path, const char *latents_path) {
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
        sl_loop_real_free(r);
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

void sl_loop_real_free(sl_loop_real *r) {
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
_Static_assert(sizeof(weighting_names) / sizeof(weighting_names[0]) == SL_LOOP_WEIGHTING_COUNT,
               "weighting names");

const char *sl_loop_weighting_name(sl_loop_weighting w) {
    return (w >= 0 && w < SL_LOOP_WEIGHTING_COUNT) ? weighting_names[w] : "unknown";
}

sl_status sl_loop_weighting_parse(const char *s, sl_loop_weighting *out) {
    for (int i = 0; i < SL_LOOP_WEIGHTING_COUNT; i++)
        if (s && strcmp(s, weighting_names[i]) == 0) {
            *out = (sl_loop_weighting)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown weighting '%s' (controller|ungated)", s ? s : "");
}

void sl_loop_synth_opts_default(sl_loop_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = SL_LOOP_WEIGHT_CONTROLLER;
    o->share = 0.1;
    o->max_share = 0.4;
    o->min_trust = 0.9;
    o->min_pass_rate = 0.1;
    o->generator_band_lo = 0.8;
    o->generator_band_hi = 1.2;
    o->min_outcomes = -1;
}

sl_status sl_loop_generator_band_parse(const char *s, sl_loop_synth_opts *o) {
    sl_gate_preset pr;
    if (strcmp(s, "off") == 0) {
        o->generator_band_lo = o->generator_band_hi = 0.0;
        return SL_OK;
    }
    if (sl_gate_preset_parse(s, &pr) == SL_OK) {
        sl_gate g = sl_gate_from_preset(pr);
        o->generator_band_lo = g.ratio_lo;
        o->generator_band_hi = g.ratio_hi;
        return SL_OK;
    }
    char *end = NULL;
    double lo = strtod(s, &end), hi = NAN;
    if (end && end != s && *end == ',') {
        const char *t = end + 1;
        hi = strtod(t, &end);
        if (!end || end == t || *end) hi = NAN;
    }
    if (!(isfinite(lo) && isfinite(hi) && lo >= 0.0 && lo <= hi && hi > 0.0 && hi < 1e6))
        return sl_set_error(SL_ERR_ARG, "--generator-band expects LO,HI with 0 <= LO <= HI, "
                            "normal, conservative, aggressive or off (got '%s')", s);
    o->generator_band_lo = lo;
    o->generator_band_hi = hi;
    return SL_OK;
}

void sl_loop_synth_free(sl_loop_synth *s) {
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

/* The passed branches' econ features, for outcome records (ab --record-outcomes). */
static sl_status keep_records(sl_loop_synth *ps, const sl_branches *br, size_t n_pass,
                              const char *path) {
    ps->rec_dm = malloc(n_pass * sizeof(double));
    ps->rec_de = malloc(n_pass * sizeof(double));
    ps->rec_dp = malloc(n_pass * sizeof(double));
    ps->rec_brick = malloc(n_pass * sizeof(int32_t));
    if (!ps->rec_dm || !ps->rec_de || !ps->rec_dp || !ps->rec_brick)
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    for (size_t b = 0; b < br->n; b++) {
        if (!br->passed[b] || !isfinite(br->delta_mpl[b]) || !isfinite(br->delta_error[b]) ||
            !isfinite(br->delta_ep[b]))
            continue;
        ps->rec_dm[ps->n_rec] = br->delta_mpl[b];
        ps->rec_de[ps->n_rec] = br->delta_error[b];
        ps->rec_dp[ps->n_rec] = br->delta_ep[b];
        ps->rec_brick[ps->n_rec] = br->brick_id[b] < SL_ECON_MAX_BRICKS ? br->brick_id[b] : -1;
        ps->n_rec++;
    }
    return SL_OK;
}

/* Ungated mode (seed 001's static weighting): every finite branch equally, share = o->share.
 * Components as the controller reports them: trust as given, econ 1, lambda = the share. */
static void ungated_weights(const sl_branches *br, double R, const sl_loop_synth_opts *o,
                            size_t n_finite, sl_weight_out *wout) {
    const size_t H = (size_t)br->horizon, Z = (size_t)br->z_dim;
    double target = R * o->share / (1.0 - o->share);
    double w = n_finite ? target / (double)n_finite : 0.0;
    for (size_t b = 0; b < br->n; b++) {
        int fin = sl_all_finite_f32(br->states + b * (H + 1) * Z, (H + 1) * Z);
        memset(&wout[b], 0, sizeof wout[b]);
        wout[b].w_final = fin ? w : 0.0;
        wout[b].trust_component = isfinite(br->trust[b]) ? br->trust[b] : 0.0;
        wout[b].econ_component = 1.0;
        wout[b].lambda_component = o->share;
        wout[b].quality = fin ? 1.0 : 0.0;
    }
}

/* Controller mode: every branch through the SyntheticWeightController; a branch the gates
 * rejected enters with trust 0, so trust is never bypassed. */
static sl_status controller_weights(sl_loop_synth *ps, const sl_branches *br, double R,
                                    size_t n_pass, const sl_loop_synth_opts *o,
                                    sl_weight_out *wout) {
    const size_t N = br->n, H = (size_t)br->horizon, Z = (size_t)br->z_dim,
                 A = (size_t)br->a_dim;
    sl_weight_sample *samples = calloc(N ? N : 1, sizeof *samples);
    if (!samples) return sl_set_error(SL_ERR_NOMEM, "weights: out of memory");
    for (size_t b = 0; b < N; b++) {
        sl_weight_sample *x = &samples[b];
        x->branch_states = br->states + b * (H + 1) * Z;
        x->states_rows = H + 1;
        x->states_dim = Z;
        x->branch_actions = br->actions + b * H * A;
        x->actions_rows = H;
        x->actions_dim = A;
        x->source_episode = br->source_episode[b];
        x->source_timestep = br->source_t[b];
        x->trust = br->passed[b] ? br->trust[b] : 0.0;
        x->delta_mpl = br->delta_mpl[b];
        x->delta_error = br->delta_error[b];
        x->delta_ep = br->delta_ep[b];
        x->novelty = 0.0;
        x->brick_id = br->brick_id[b];
    }
    sl_weight_ctrl *ctrl;
    sl_status s = sl_weight_ctrl_new(&ctrl);
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
    free(samples);
    return s;
}

/* One weight row per branch into the registry; out of memory is an error, never a skip. */
static sl_status record_weights(const sl_loop_synth_opts *o, const sl_weight_out *wout,
                                size_t N) {
    if (!o->reg || N == 0) return SL_OK;
    sl_weight_row *rows = sl_alloc(N * sizeof *rows);
    if (!rows)
        return sl_set_error(SL_ERR_NOMEM, "weights: out of memory for the log of %zu branch "
                            "weights; the weights were not used (every weight is logged)", N);
    for (size_t b = 0; b < N; b++) {
        rows[b].step = (int64_t)b;
        rows[b].trust = wout[b].trust_component;
        rows[b].econ = wout[b].econ_component;
        rows[b].lambda = wout[b].lambda_component;
        rows[b].w_final = wout[b].w_final;
        rows[b].rails = wout[b].flags;
    }
    sl_status s = sl_registry_add_weight_log(o->reg, o->run_id, rows, N);
    free(rows);
    return s;
}

sl_status sl_loop_replay_rows(sl_loop_synth *ps, const sl_branches *br, const double *bw) {
    const size_t N = br->n, H = (size_t)br->horizon, Z = (size_t)br->z_dim,
                 A = (size_t)br->a_dim, M = N * H, Mc = M ? M : 1;
    ps->obs = malloc(Mc * Z * sizeof(float));
    ps->next = malloc(Mc * Z * sizeof(float));
    ps->act = malloc(Mc * A * sizeof(float));
    ps->rew = malloc(Mc * sizeof(float));
    ps->done = calloc(Mc, sizeof(float));
    ps->weight = calloc(Mc, sizeof(float));
    if (!ps->obs || !ps->next || !ps->act || !ps->rew || !ps->done || !ps->weight)
        return sl_set_error(SL_ERR_NOMEM, "replay: out of memory for %zu transitions", M);
    for (size_t b = 0; b < N; b++) {
        int fin = bw[b] > 0.0;
        for (size_t k = 0; k < H; k++) {
            size_t m = b * H + k;
            const float *sk = br->states + (b * (H + 1) + k) * Z;
            if (fin) {
                memcpy(ps->obs + m * Z, sk, Z * sizeof(float));
                memcpy(ps->next + m * Z, sk + Z, Z * sizeof(float));
                memcpy(ps->act + m * A, br->actions + m * A, A * sizeof(float));
                ps->rew[m] = br->rewards[m];
            } else { /* zero weight: keep finite zeros so a non-finite branch never leaks */
                memset(ps->obs + m * Z, 0, Z * sizeof(float));
                memset(ps->next + m * Z, 0, Z * sizeof(float));
                memset(ps->act + m * A, 0, A * sizeof(float));
                ps->rew[m] = 0.0f;
            }
            ps->weight[m] = (float)bw[b];
        }
    }
    ps->n_branches = N;
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

sl_status sl_loop_synth_load(sl_loop_synth *ps, const char *path, size_t n_real_weight,
                             const sl_loop_synth_opts *o) {
    memset(ps, 0, sizeof *ps);
    ps->share = o->share;
    ps->ctx = sl_weight_global_default().ctx;
    ps->ctx.max_synth_share = o->max_share;
    ps->ctx.real_rows = (double)n_real_weight; /* real training rows: how scarce data is */
    if (!(o->share >= 0.0 && o->share < 1.0))
        return sl_set_error(SL_ERR_ARG, "synthetic share %g must be in [0, 1)", o->share);
    sl_branches *br = NULL;
    SL_TRY(sl_branches_load_npz(&br, path));
    const size_t N = br->n, H = (size_t)br->horizon, Z = (size_t)br->z_dim;
    ps->cert_min = ps->cert_max = 1.0;
    for (int i = 0; i < br->cert.n; i++) {
        if (i == 0 || br->cert.std_ratio[i] < ps->cert_min) ps->cert_min = br->cert.std_ratio[i];
        if (i == 0 || br->cert.std_ratio[i] > ps->cert_max) ps->cert_max = br->cert.std_ratio[i];
    }
    ps->certified = br->cert.n > 0;
    size_t n_pass = 0, n_finite = 0;
    for (size_t b = 0; b < N; b++) {
        n_finite += (size_t)(sl_all_finite_f32(br->states + b * (H + 1) * Z, (H + 1) * Z) &&
                             isfinite(br->trust[b]));
        n_pass += br->passed[b] ? 1 : 0;
    }
    sl_status s = SL_OK;
    if (o->record_path && n_pass > 0) s = keep_records(ps, br, n_pass, path);
    double *bw = calloc(N ? N : 1, sizeof(double));
    sl_weight_out *wout = calloc(N ? N : 1, sizeof *wout);
    if (s == SL_OK && (!bw || !wout)) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
    /* branch units: the controller's budget R counts real rows per branch of H rows */
    double R = (double)n_real_weight / (double)(H ? H : 1);
    if (s == SL_OK && o->mode == SL_LOOP_WEIGHT_UNGATED)
        ungated_weights(br, R, o, n_finite, wout);
    else if (s == SL_OK && N > 0)
        s = controller_weights(ps, br, R, n_pass, o, wout);
    for (size_t b = 0; s == SL_OK && b < N; b++) bw[b] = wout[b].w_final;
    if (s == SL_OK) s = record_weights(o, wout, N);
    if (s == SL_OK) s = sl_loop_replay_rows(ps, br, bw);
    free(bw);
    free(wout);
    sl_branches_free(br);
    if (s != SL_OK) {
        sl_loop_synth_free(ps);
        return s;
    }
    ps->n_passed = n_pass;
    return SL_OK;
}

/* --- maps and records ----------------------------------------------------- */

sl_status sl_loop_encoder_map(void *ctx, const float *obs, float *state) {
    sl_latent_encoder *enc = ctx;
    return sl_latent_encode(enc, obs, 1, sl_latent_obs_dim(enc), state);
}

double sl_loop_ab_outcome_score(const sl_ab_outcome *out) {
    /* the verdicts' signed improvements (> 0 = better): MPL's is its relative change, the
     * error rate's and action MSE's the negated relative change */
    const sl_ab_metric_summary *mpl = &out->summary[SL_ABM_MPL],
                               *err = &out->summary[SL_ABM_ERROR_RATE],
                               *mse = &out->summary[SL_ABM_ACTION_MSE];
    double score = 0.0;
    const sl_ab_metric_summary *ret = &out->summary[SL_ABM_RETURN];
    if (out->no_units && !out->offline_only && ret->valid) /* no units: the task's return */
        score = ret->verdict.improvement;
    else if (mpl->valid && err->valid)
        score = 0.5 * (mpl->verdict.improvement + err->verdict.improvement);
    else if (mse->valid)
        score = mse->verdict.improvement;
    if (!isfinite(score)) score = 0.0;
    return 0.5 + 0.5 * tanh(score / 0.1);
}

sl_status sl_loop_record_outcomes(const char *path, const sl_loop_synth *syn, double share, double y) {
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

cJSON *sl_loop_ab_config_json(const sl_loop_ab_config *c) {
    const sl_ab_config *cfg = &c->ab;
    const sl_loop_synth_opts *so = &c->synth;
    const char *data = c->data, *latents = c->latents, *encoder = c->encoder,
               *synth = c->branches;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "data", data ? data : "");
    cJSON_AddStringToObject(j, "latents", latents ? latents : "");
    cJSON_AddStringToObject(j, "encoder", encoder ? encoder : "");
    cJSON_AddStringToObject(j, "synth_data", synth ? synth : "");
    cJSON_AddNumberToObject(j, "synth_weight", so->share);
    cJSON_AddStringToObject(j, "weighting", sl_loop_weighting_name(so->mode));
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

/* sl_ab_progress_fn -> the job's progress ("ab", updates done of all arms and seeds). */
typedef struct ab_progress {
    sl_loop_ctx *ctx;
    int64_t done, total; /* progress ticks: every 100 updates and each arm's last */
} ab_progress;

static void ab_progress_cb(void *vp, int arm, int seed_idx, int update, int total) {
    ab_progress *p = vp;
    (void)arm;
    (void)seed_idx;
    (void)update;
    (void)total;
    p->done++;
    /* the A/B cannot stop inside sl_ab_run; a request is noticed when it returns */
    (void)sl_loop_report(p->ctx, "ab", p->done < p->total ? p->done : p->total - 1, p->total,
                         NULL, 0);
}

sl_status sl_loop_ab(const sl_loop_ab_config *lc, sl_loop_ctx *ctx, sl_ab_outcome *out,
                     cJSON **json) {
    const sl_ab_config *cfg = &lc->ab;
    const sl_loop_synth_opts *so = &lc->synth;
    const char *data = lc->data, *latents = lc->latents, *encoder = lc->encoder,
               *synth_path = lc->branches;
    sl_registry *reg = ctx ? ctx->reg : NULL;
    int64_t run_id = ctx ? ctx->run_id : 0;
    *json = NULL;
    memset(out, 0, sizeof *out);
    sl_loop_real real;
    sl_loop_synth syn;
    memset(&syn, 0, sizeof syn);
    sl_latent_encoder *enc = NULL;
    sl_env *env = NULL;
    SL_TRY(sl_loop_real_load(&real, data, latents));
    sl_status s = SL_OK;
    if (synth_path) s = sl_loop_synth_load(&syn, synth_path, (size_t)(real.t.n * (1.0 - cfg->holdout_frac)), so);
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
    ab_progress prog = {ctx, 0, (int64_t)c.seeds * SL_AB_ARMS * ((c.updates + 99) / 100)};
    if (s == SL_OK) s = sl_loop_report(ctx, "ab", 0, prog.total, NULL, 0);
    if (s == SL_OK)
        s = sl_ab_run(&c, &real.t, synth_path ? &syn.t : NULL, env, enc ? sl_loop_encoder_map : NULL,
                      enc, ab_progress_cb, &prog, out);
    if (s == SL_OK) s = sl_loop_report(ctx, "ab", prog.total, prog.total, NULL, 0);
    if (s == SL_OK) {
        cJSON *j = sl_ab_outcome_to_json(out, &c);
        sl_json_add_provenance(j, c.seed);
        if (synth_path) {
            cJSON *sj = cJSON_AddObjectToObject(j, "synthetic");
            cJSON_AddNumberToObject(sj, "branches", (double)syn.n_branches);
            cJSON_AddNumberToObject(sj, "passed_gates", (double)syn.n_passed);
            cJSON_AddNumberToObject(sj, "horizon", syn.horizon);
            cJSON_AddStringToObject(sj, "weighting", sl_loop_weighting_name(so->mode));
            cJSON_AddNumberToObject(sj, "target_share", so->share);
            if (so->mode == SL_LOOP_WEIGHT_CONTROLLER) {
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
            const double y = sl_loop_ab_outcome_score(out);
            s = sl_loop_record_outcomes(so->record_path, &syn, out->synth_share, y);
            if (s == SL_OK) {
                cJSON *rj = cJSON_AddObjectToObject(j, "outcome_record");
                cJSON_AddStringToObject(rj, "path", so->record_path);
                cJSON_AddNumberToObject(rj, "outcome", y);
                cJSON_AddNumberToObject(rj, "econ_records", (double)syn.n_rec);
                cJSON_AddNumberToObject(rj, "lambda_records", 2);
            }
        }
        /* learning curves: mean held-out MSE per arm */
        for (int a = 0; s == SL_OK && a < SL_AB_ARMS && reg; a++) {
            const char *name = a == SL_AB_BASE ? "ab/baseline/heldout_action_mse"
                                               : "ab/augmented/heldout_action_mse";
            for (int k = 0; s == SL_OK && k < out->curve_points; k++) {
                double m = 0;
                for (int si = 0; si < out->seeds; si++)
                    m += out->curve[a][(size_t)si * out->curve_points + k];
                s = sl_registry_add_metric(reg, run_id, name, out->curve_step[k], m / out->seeds);
            }
        }
        for (int m = 0; s == SL_OK && reg && m < SL_ABM_COUNT; m++)
            for (int a = 0; s == SL_OK && a < SL_AB_ARMS; a++) {
                const sl_ci *ci = &out->summary[m].ci[a];
                s = sl_registry_add_estimate(reg, run_id, sl_ab_metric_name((sl_ab_metric)m),
                                             a == SL_AB_BASE ? "baseline" : "augmented", ci->mean,
                                             ci->lo, ci->hi, (int64_t)ci->n);
            }
        if (s == SL_OK && reg) {
            char *txt = cJSON_PrintUnformatted(j);
            s = txt ? sl_registry_add_ab(reg, run_id, "baseline_vs_augmented", txt,
                                         sl_ab_verdict_name(out->headline), NULL)
                    : sl_set_error(SL_ERR_NOMEM, "ab: out of memory for the A/B row");
            free(txt);
        }
        if (s != SL_OK) {
            cJSON_Delete(j);
            *json = NULL;
            sl_ab_outcome_free(out);
        }
    }
    sl_loop_real_free(&real);
    sl_loop_synth_free(&syn);
    sl_latent_free(enc);
    sl_env_free(env);
    return s;
}
