/* SPDX-License-Identifier: Apache-2.0 */
/* train.c - the train job: one policy on the real transitions plus weighted synthetic
 * branches (every weight through sl_loop_synth_load, so logged), saved as a checkpoint.
 * Invariant: the checkpoint is written only after the last update, and only to a path that
 * was checked before the first; a failed or cancelled job writes nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_loop.h"

/* Per-dimension mean and std (+1e-3) of the real observations, for the agent's input. */
static sl_status obs_norm(const sl_transitions *t, float **mean, float **std) {
    int O = t->obs_dim;
    *mean = calloc((size_t)O, sizeof(float));
    *std = calloc((size_t)O, sizeof(float));
    if (!*mean || !*std) return sl_set_error(SL_ERR_NOMEM, "train: out of memory");
    for (int j = 0; j < O; j++) {
        double a = 0, b = 0;
        for (size_t i = 0; i < t->n; i++) {
            double x = (double)t->obs[i * (size_t)O + j];
            a += x;
            b += x * x;
        }
        double m = a / (double)t->n, var = b / (double)t->n - m * m;
        (*mean)[j] = (float)m;
        (*std)[j] = (float)sqrt(var > 0 ? var : 0) + 1e-3f;
    }
    return SL_OK;
}

/* The replay buffer: every real row (weight 1), then every synthetic row with its weight. */
static sl_status fill_replay(sl_replay **rb, const sl_loop_real *real, const sl_loop_synth *syn) {
    SL_TRY(sl_replay_alloc(rb, real->t.n + syn->t.n, real->t.obs_dim, real->t.act_dim));
    SL_TRY(sl_replay_add(*rb, real->t.n, real->t.obs, real->t.act, real->t.rew, real->t.next_obs,
                         real->t.done, NULL, SL_SOURCE_REAL));
    if (syn->t.n)
        SL_TRY(sl_replay_add(*rb, syn->t.n, syn->t.obs, syn->t.act, syn->t.rew, syn->t.next_obs,
                             syn->t.done, syn->t.weight, SL_SOURCE_SYNTH));
    return SL_OK;
}

static sl_status run_updates(sl_agent *ag, sl_replay *rb, int updates, sl_loop_ctx *ctx,
                             sl_rl_stats *st) {
    sl_registry *reg = ctx ? ctx->reg : NULL;
    int64_t run = ctx ? ctx->run_id : 0;
    sl_status s = sl_loop_report(ctx, "train", 0, updates, NULL, 0);
    for (int u = 1; s == SL_OK && u <= updates; u++) {
        s = sl_agent_update(ag, rb, st);
        if (s == SL_OK && (u % 100 == 0 || u == updates)) {
            s = sl_registry_add_metric(reg, run, "train/critic_loss", u, st->critic_loss);
            if (s == SL_OK && st->actor_updated)
                s = sl_registry_add_metric(reg, run, "train/bc_mse", u, st->bc_mse);
            sl_loop_metric m[2] = {{"critic", st->critic_loss}, {"bc", st->bc_mse}};
            if (s == SL_OK) s = sl_loop_report(ctx, "train", u, updates, m, 2);
        }
    }
    return s;
}

sl_status sl_loop_train(const sl_loop_train_config *c, sl_loop_ctx *ctx, sl_loop_train_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->data || !c->latents || !c->output)
        return sl_set_error(SL_ERR_ARG, "train: data, latents and output are required");
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL;
    sl_status s = sl_outset_add(&os, c->output, &st_out);
    sl_loop_real real;
    memset(&real, 0, sizeof real);
    sl_loop_synth syn;
    memset(&syn, 0, sizeof syn);
    sl_replay *rb = NULL;
    sl_agent *ag = NULL;
    float *mean = NULL, *std = NULL;
    sl_rl_config rc = c->rl;
    if (s == SL_OK) s = sl_loop_real_load(&real, c->data, c->latents);
    sl_loop_synth_opts so = c->synth;
    so.reg = ctx ? ctx->reg : NULL;
    so.run_id = ctx ? ctx->run_id : 0;
    if (s == SL_OK && c->branches) s = sl_loop_synth_load(&syn, c->branches, real.t.n, &so);
    if (s == SL_OK && c->branches && syn.t.obs_dim != real.t.obs_dim)
        s = sl_set_error(SL_ERR_SHAPE, "%s: latent dims %d differ from %s (%d)", c->branches,
                         syn.t.obs_dim, c->latents, real.t.obs_dim);
    if (s == SL_OK) s = fill_replay(&rb, &real, &syn);
    if (s == SL_OK) s = obs_norm(&real.t, &mean, &std);
    rc.obs_dim = real.t.obs_dim;
    rc.act_dim = real.t.act_dim;
    if (s == SL_OK) s = sl_agent_new(&ag, &rc, mean, std);
    r->real_rows = real.t.n;
    r->synth_rows = syn.t.n;
    r->synth_share = rb ? sl_replay_synth_share(rb) : 0.0;
    if (s == SL_OK) s = run_updates(ag, rb, c->updates, ctx, &r->last);
    if (s == SL_OK) s = sl_agent_save(ag, st_out);
    if (s == SL_OK) s = sl_outset_commit(&os);
    sl_outset_free(&os);
    char apath[4096];
    if (s == SL_OK && ctx)
        s = sl_registry_add_model(ctx->reg, ctx->run_id, "policy",
                                  sl_loop_abs_path(c->output, apath), 0, NULL, NULL);
    sl_agent_free(ag);
    sl_replay_free(rb);
    sl_loop_real_free(&real);
    sl_loop_synth_free(&syn);
    free(mean);
    free(std);
    return s;
}
