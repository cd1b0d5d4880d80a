/* SPDX-License-Identifier: Apache-2.0 */
/* demo.c - the whole loop as one job (what `synthloop demo` and `make demo` run):
 *   collect -> encode -> bricks -> world model (stable) + unstable reference -> trust_net
 *   -> world eval per horizon -> gated branches -> SyntheticWeightController -> A/B in physics.
 * Every stage's output is a file in out_dir and a row in ctx->reg.
 * Invariant: the computation (order, seeds, configs) is exactly the pre-job-layer
 * `synthloop demo`, so the same seed gives the same bits in every file; every output path is
 * checked before the first stage, and every branch row is recorded or the job fails. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "synthloop/sl_bricks.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_nn.h"

const char *const sl_loop_demo_stage_names[SL_LOOP_DEMO_STAGES] = {
    "collect real episodes in the MuJoCo workcell",
    "train the contrastive encoder (InfoNCE on nearby steps)",
    "cluster episodes into bricks",
    "train the world model (residual GRU ensemble) and an unstable reference",
    "train trust_net: real windows vs the unstable reference and noisy negatives",
    "world-model stability per horizon (stable model vs unstable reference)",
    "collect gated branches and weight them (and ungated ones from the unstable reference)",
    "A/B in the workcell: real-only vs gated augmentation vs an ungated poisoned generator",
};

static const char *const demo_file_names[SL_DEMO_PATH_COUNT] = {
    "real.npz",          "latents.npz",       "encoder.safetensors",
    "bricks.json",       "world.safetensors", "world_unstable.safetensors",
    "trust.safetensors", "world_eval.json",   "branches.npz",
    "ab.json",           "report.html",       "branches_ungated.npz",
    "ab_ungated.json"};
_Static_assert(sizeof demo_file_names / sizeof demo_file_names[0] == SL_DEMO_PATH_COUNT,
               "demo file names");
_Static_assert(SL_DEMO_PATH_COUNT <= sizeof ((sl_loop_demo_result *)0)->paths /
                                         sizeof ((sl_loop_demo_result *)0)->paths[0],
               "demo paths");

void sl_loop_demo_config_default(sl_loop_demo_config *c) {
    memset(c, 0, sizeof *c);
    c->out_dir = "demo-out";
    c->episodes = 50;
    c->seeds = 5;
    c->updates = 3000;
    c->eval_episodes = 10;
    c->horizon = 10;
    c->members = 3;
    c->wm_iters = 300;
    c->hidden = 128;
    c->share = 0.1;
    c->min_trust = 0.9;
    c->poison_arm = 1;
    c->poison_share = 0.25;
    c->until_decided = 0;
    c->max_seeds = 0;
}

void sl_loop_demo_result_free(sl_loop_demo_result *r) {
    if (!r) return;
    for (int i = 0; i < SL_DEMO_PATH_COUNT; i++) free(r->paths[i]);
    if (r->have_ab) sl_ab_outcome_free(&r->ab);
    cJSON_Delete(r->ab_json);
    if (r->have_ab_poison) sl_ab_outcome_free(&r->ab_poison);
    cJSON_Delete(r->ab_poison_json);
    cJSON_Delete(r->summary);
    memset(r, 0, sizeof *r);
}

/* What the stages hand each other. */
typedef struct demo_state {
    const sl_loop_demo_config *o;
    sl_loop_ctx *ctx;
    sl_registry *reg;
    int64_t run;
    char *const *p; /* the result's paths */
    sl_loop_demo_result *r;
    sl_dataset *ds;
    float *z, *zn, *sphere;
    int zd;
    sl_bricks *bk;
    sl_world_data wd;
    sl_world *w, *ref;
    sl_trust_model *tm;
} demo_state;

/* --- stages 1-3: real data, encoder, bricks ---------------------------------------------- */

static sl_status demo_collect(demo_state *d) {
    sl_env *env = NULL;
    SL_TRY(sl_env_workcell_new(&env, NULL));
    sl_status s = sl_env_collect(env, SL_POLICY_MIXED, (size_t)d->o->episodes, d->o->seed + 1,
                                 &d->ds, &d->r->collect);
    sl_env_free(env);
    if (s == SL_OK) s = sl_dataset_save_npz(d->ds, d->p[SL_DEMO_REAL]);
    if (s == SL_OK)
        s = sl_registry_add_dataset(d->reg, d->run, d->p[SL_DEMO_REAL], "real", (int64_t)d->ds->n,
                                    (int64_t)d->ds->n_episodes, NULL);
    if (s != SL_OK) return s;
    const sl_collect_summary *cs = &d->r->collect;
    cJSON *cj = cJSON_AddObjectToObject(d->r->summary, "real_data");
    cJSON_AddNumberToObject(cj, "episodes", (double)cs->episodes);
    cJSON_AddNumberToObject(cj, "mpl", cs->mean_mpl);
    cJSON_AddNumberToObject(cj, "error_rate", cs->mean_error_rate);
    cJSON_AddNumberToObject(cj, "ep", cs->mean_ep);
    return SL_OK;
}

static sl_status demo_encode(demo_state *d) {
    sl_latent_config lc = sl_latent_config_default();
    lc.seed = d->o->seed;
    sl_latent_encoder *enc = NULL;
    sl_status s = sl_latent_train(&enc, d->ds, &lc, &d->r->latent);
    const sl_dataset *ds = d->ds;
    if (s == SL_OK) {
        d->zd = sl_latent_z_dim(enc);
        d->z = malloc(ds->n * (size_t)d->zd * sizeof(float));
        d->zn = malloc(ds->n * (size_t)d->zd * sizeof(float));
        if (!d->z || !d->zn) s = sl_set_error(SL_ERR_NOMEM, "demo: out of memory");
        if (s == SL_OK) s = sl_latent_encode_dataset(enc, ds, d->z, d->zn);
        if (s == SL_OK)
            s = sl_latents_save_npz(d->p[SL_DEMO_LATENTS], d->z, d->zn, ds->episode_ids, ds->n,
                                    d->zd);
        if (s == SL_OK) s = sl_latent_save(enc, d->p[SL_DEMO_ENCODER], NULL);
        if (s == SL_OK)
            s = sl_registry_add_model(d->reg, d->run, "encoder", d->p[SL_DEMO_ENCODER], 0, NULL,
                                      NULL);
        if (s == SL_OK)
            s = sl_registry_add_dataset(d->reg, d->run, d->p[SL_DEMO_LATENTS], "latents",
                                        (int64_t)ds->n, (int64_t)ds->n_episodes, NULL);
    }
    /* the encoder's latent sphere, attached to the world model (sl_world_set_sphere) */
    if (s == SL_OK) {
        d->sphere = malloc((size_t)2 * d->zd * sizeof(float));
        if (!d->sphere) s = sl_set_error(SL_ERR_NOMEM, "demo: out of memory");
    }
    if (s == SL_OK) {
        const float *sm, *ss;
        sl_latent_z_norm(enc, &sm, &ss);
        memcpy(d->sphere, sm, (size_t)d->zd * sizeof(float));
        memcpy(d->sphere + d->zd, ss, (size_t)d->zd * sizeof(float));
    }
    sl_latent_free(enc);
    return s;
}

static sl_status demo_bricks(demo_state *d) {
    sl_bricks_config bc;
    sl_bricks_config_default(&bc);
    bc.seed = d->o->seed;
    SL_TRY(sl_bricks_fit(&d->bk, d->ds, d->z, d->zd, &bc));
    cJSON *man = NULL;
    sl_status s = sl_bricks_manifest_json(d->bk, d->ds, &man);
    if (s == SL_OK) {
        sl_json_add_provenance(man, d->o->seed);
        s = sl_json_write_file(d->p[SL_DEMO_BRICKS], man);
    }
    cJSON_Delete(man);
    if (s == SL_OK) s = sl_registry_add_artifact(d->reg, d->run, "bricks.json", d->p[SL_DEMO_BRICKS]);
    d->r->n_bricks = d->bk->k;
    d->r->silhouette = d->bk->silhouette;
    return s;
}

/* --- stages 4-6: world models, trust_net, world eval --------------------------------------- */

static sl_status demo_world(demo_state *d) {
    sl_world_config wc;
    sl_world_config_default(&wc);
    wc.members = d->o->members;
    wc.max_iters = d->o->wm_iters;
    /* the stable setting of docs/RESULTS.md (stronger variance-profile term, faster steps) */
    wc.lr = 3e-3f;
    wc.w_var = 10.0f;
    wc.seed = d->o->seed;
    sl_status s = sl_world_data_init(&d->wd, d->ds, d->z, d->zn, d->zd,
                                     (const char(*)[SL_WORLD_NAME_MAX])wc.econ_names, wc.n_econ);
    if (s == SL_OK) s = sl_world_train(&d->w, &d->wd, &wc, &d->r->world);
    if (s == SL_OK && d->sphere) s = sl_world_set_sphere(d->w, d->sphere, d->sphere + d->zd);
    if (s == SL_OK) s = sl_world_save(d->w, d->p[SL_DEMO_WORLD], NULL);
    if (s == SL_OK)
        s = sl_registry_add_model(d->reg, d->run, "world", d->p[SL_DEMO_WORLD], 0, NULL, NULL);
    d->r->world_mode = sl_world_mode_name(wc.mode);
    d->r->world_members = wc.members;
    sl_world_config rc = wc;
    rc.mode = SL_WORLD_MODE_TF;
    rc.members = 1;
    rc.w_var = 0;
    rc.w_dist = 0;
    rc.clip = SL_WORLD_CLIP_NONE;
    /* a plain one-step model (seed 001): one sigma per dim, none of the roughness terms */
    rc.hetero_noise = 0;
    rc.w_rough = 0;
    rc.w_window = 1;
    rc.window_prefixes = 0;
    if (s == SL_OK) s = sl_world_train(&d->ref, &d->wd, &rc, NULL);
    if (s == SL_OK) s = sl_world_save(d->ref, d->p[SL_DEMO_WORLD_UNSTABLE], NULL);
    return s;
}

static sl_status demo_trust(demo_state *d) {
    float *neg = NULL;
    size_t n_neg = 64, *offs = NULL;
    int len0 = (int)sl_world_data_ep_len(&d->wd, 0) - 1;
    int nh = 60 < len0 ? 60 : len0;
    sl_status s = sl_world_generate_windows(d->ref, &d->wd, nh, n_neg, 0.5f, d->o->seed + 7, &neg,
                                            NULL);
    if (s == SL_OK) {
        offs = malloc((n_neg + 1) * sizeof(size_t));
        if (!offs) s = sl_set_error(SL_ERR_NOMEM, "demo: out of memory");
        for (size_t i = 0; s == SL_OK && i <= n_neg; i++) offs[i] = i * (size_t)(nh + 1);
    }
    sl_trust_config tc = sl_trust_config_default();
    tc.seed = d->o->seed;
    if (s == SL_OK)
        s = sl_trust_train(&d->tm, &tc, d->z, d->ds->episode_ids, d->ds->n, d->zd, neg, offs,
                           n_neg, &d->r->trust);
    if (s == SL_OK) s = sl_trust_save(d->tm, d->p[SL_DEMO_TRUST], NULL);
    if (s == SL_OK)
        s = sl_registry_add_model(d->reg, d->run, "trust", d->p[SL_DEMO_TRUST], 0, NULL, NULL);
    free(neg);
    free(offs);
    return s;
}

static sl_status demo_eval(demo_state *d) {
    sl_world_eval_config ec;
    sl_world_eval_config_default(&ec);
    ec.seed = d->o->seed;
    sl_world_eval_row *rows = d->r->eval, *rrows = d->r->eval_ref;
    SL_TRY(sl_world_evaluate(d->w, &d->wd, NULL, 0, &ec, sl_synth_trust_score, d->tm, rows));
    size_t n_hold = 0;
    const size_t *hold = sl_world_holdout(d->w, &n_hold);
    SL_TRY(sl_world_evaluate(d->ref, &d->wd, hold, n_hold, &ec, sl_synth_trust_score, d->tm,
                             rrows));
    d->r->n_h = ec.n_h;
    cJSON *ej = sl_world_eval_json(rows, ec.n_h);
    cJSON *rj = sl_world_eval_json(rrows, ec.n_h);
    cJSON_AddItemToObject(ej, "unstable_reference", rj);
    sl_json_add_provenance(ej, d->o->seed);
    sl_status s = sl_json_write_file(d->p[SL_DEMO_EVAL], ej);
    cJSON_Delete(ej);
    sl_registry_world_row rr[SL_WORLD_EVAL_MAX_H];
    for (int i = 0; i < ec.n_h; i++)
        rr[i] = (sl_registry_world_row){rows[i].h, rows[i].mse, rows[i].std_ratio,
                                        rows[i].var_growth, rows[i].trust_mean,
                                        rows[i].detect_auc};
    if (s == SL_OK) s = sl_registry_add_world_eval(d->reg, d->run, rr, (size_t)ec.n_h);
    if (s == SL_OK)
        s = sl_registry_add_artifact(d->reg, d->run, "world_eval.json", d->p[SL_DEMO_EVAL]);
    return s;
}

/* --- stage 7: branches and their rows ------------------------------------------------------ */

/* The branch rows, the synthetic trust samples and the trust of the real windows of the same
 * length (for the histogram). Out of memory is an error: no row is ever skipped. */
static sl_status record_branches(demo_state *d, const sl_branches *br, int horizon) {
    size_t n1 = br->n ? br->n : 1;
    double *tp = sl_alloc(n1 * sizeof(double)), *tt = sl_alloc(n1 * sizeof(double));
    sl_branch_row *brow = sl_alloc(n1 * sizeof *brow);
    sl_status s = SL_OK;
    if (!tp || !tt || !brow)
        s = sl_set_error(SL_ERR_NOMEM, "demo: out of memory for the rows of %zu branches", br->n);
    size_t nt = 0;
    for (size_t i = 0; s == SL_OK && i < br->n; i++) {
        if (isfinite(br->trust[i])) tt[nt++] = br->trust[i];
        brow[i] = (sl_branch_row){br->source_episode[i], br->source_t[i], horizon,
                                  br->brick_id[i], br->trust[i], br->std_ratio[i],
                                  br->passed[i]};
    }
    if (s == SL_OK) s = sl_registry_add_branch_batch(d->reg, d->run, brow, br->n);
    if (s == SL_OK) s = sl_registry_add_samples(d->reg, d->run, "trust", "synthetic", tt, nt);
    if (s == SL_OK && br->n) {
        s = sl_trust_score_windows(d->tm, br->real_states, br->n, horizon + 1, d->zd, tp);
        size_t nr = 0;
        for (size_t i = 0; s == SL_OK && i < br->n; i++)
            if (isfinite(tp[i])) tp[nr++] = tp[i];
        if (s == SL_OK) s = sl_registry_add_samples(d->reg, d->run, "trust", "real", tp, nr);
    }
    free(tp);
    free(tt);
    free(brow);
    return s;
}

static sl_status demo_branches(demo_state *d) {
    sl_branches *br = NULL;
    sl_synth_config sc;
    sl_synth_config_default(&sc);
    sc.horizon = d->o->horizon;
    sc.gate.trust_floor = d->o->min_trust;
    sc.seed = d->o->seed;
    sl_status s = sl_synth_collect(&br, d->w, &d->wd, d->tm, d->bk->brick_of_episode, NULL, NULL,
                                   &sc);
    if (s == SL_OK) s = sl_synth_certify(&br->cert, d->w, &d->wd, sc.rollout_noise, sc.seed);
    if (s == SL_OK) s = sl_branches_save_npz(br, d->p[SL_DEMO_BRANCHES]);
    if (s == SL_OK)
        s = sl_registry_add_dataset(d->reg, d->run, d->p[SL_DEMO_BRANCHES], "branches",
                                    (int64_t)(br->n * (size_t)sc.horizon), (int64_t)br->n, NULL);
    if (s == SL_OK) s = record_branches(d, br, sc.horizon);
    if (s == SL_OK) {
        size_t np = 0;
        for (size_t i = 0; i < br->n; i++) np += br->passed[i] ? 1 : 0;
        d->r->n_branches = br->n;
        d->r->n_passed = np;
        d->r->horizon = sc.horizon;
        d->r->cert = br->cert;
        cJSON *bj = cJSON_AddObjectToObject(d->r->summary, "branches");
        cJSON_AddNumberToObject(bj, "n", (double)br->n);
        cJSON_AddNumberToObject(bj, "passed", (double)np);
        cJSON_AddNumberToObject(bj, "horizon", sc.horizon);
    }
    sl_branches_free(br);
    br = NULL;
    /* seed 001's failure: the unstable reference's branches, to be used without gates (their
     * trust is still scored and stored: trust is never bypassed, the ungated weighting
     * ignores it on purpose, and the A/B shows what that costs) */
    if (s == SL_OK && d->o->poison_arm) {
        sc.seed = d->o->seed + 17;
        s = sl_synth_collect(&br, d->ref, &d->wd, d->tm, d->bk->brick_of_episode, NULL, NULL, &sc);
        if (s == SL_OK) s = sl_branches_save_npz(br, d->p[SL_DEMO_BRANCHES_UNGATED]);
        if (s == SL_OK)
            s = sl_registry_add_dataset(d->reg, d->run, d->p[SL_DEMO_BRANCHES_UNGATED], "branches",
                                        (int64_t)(br->n * (size_t)sc.horizon), (int64_t)br->n, NULL);
        if (s == SL_OK) d->r->n_branches_poison = br->n;
        sl_branches_free(br);
    }
    return s;
}

/* --- stage 8: A/B -------------------------------------------------------------------------- */

static sl_status demo_ab(demo_state *d) {
    const sl_loop_demo_config *o = d->o;
    sl_loop_ab_config ac;
    ac.ab = sl_ab_config_default();
    ac.ab.rl.hidden = o->hidden; /* learner: sl_ab_config_default's IQL (docs/RL.md) */
    ac.ab.seeds = o->seeds;
    ac.ab.updates = o->updates;
    ac.ab.eval_episodes = o->eval_episodes;
    ac.ab.seed = o->seed;
    ac.ab.until_decided = o->until_decided;
    if (o->until_decided) ac.ab.max_seeds = o->max_seeds > o->seeds ? o->max_seeds : o->seeds;
    sl_loop_synth_opts_default(&ac.synth);
    ac.synth.share = o->share;
    ac.synth.min_trust = o->min_trust;
    if (o->gband_set) {
        ac.synth.generator_band_lo = o->gband_lo;
        ac.synth.generator_band_hi = o->gband_hi;
    }
    ac.synth.reg = d->reg;
    ac.synth.run_id = d->run;
    ac.data = d->p[SL_DEMO_REAL];
    ac.latents = d->p[SL_DEMO_LATENTS];
    ac.encoder = d->p[SL_DEMO_ENCODER];
    ac.branches = d->p[SL_DEMO_BRANCHES];
    sl_loop_demo_result *r = d->r;
    SL_TRY(sl_loop_ab(&ac, d->ctx, &r->ab, &r->ab_json));
    r->have_ab = 1;
    SL_TRY(sl_json_write_file(d->p[SL_DEMO_AB], r->ab_json));
    SL_TRY(sl_registry_add_artifact(d->reg, d->run, "ab.json", d->p[SL_DEMO_AB]));
    cJSON_AddStringToObject(r->summary, "verdict", sl_ab_verdict_name(r->ab.headline));
    cJSON_AddStringToObject(r->summary, "next_action", sl_ab_verdict_action(r->ab.headline));
    cJSON_AddNumberToObject(r->summary, "seeds", r->ab.seeds);
    if (r->ab.headline == SL_AB_INCONCLUSIVE) cJSON_AddNumberToObject(r->summary, "seeds_needed", (double)r->ab.seeds_needed);
    if (!o->poison_arm) return SL_OK;
    /* third arm: the ungated unstable generator against the same baseline */
    ac.synth.mode = SL_LOOP_WEIGHT_UNGATED;
    ac.synth.share = o->poison_share;
    ac.branches = d->p[SL_DEMO_BRANCHES_UNGATED];
    ac.ab.baseline_of = &r->ab;
    SL_TRY(sl_loop_ab(&ac, d->ctx, &r->ab_poison, &r->ab_poison_json));
    r->have_ab_poison = 1;
    SL_TRY(sl_json_write_file(d->p[SL_DEMO_AB_UNGATED], r->ab_poison_json));
    SL_TRY(sl_registry_add_artifact(d->reg, d->run, "ab_ungated.json", d->p[SL_DEMO_AB_UNGATED]));
    cJSON_AddStringToObject(r->summary, "verdict_ungated", sl_ab_verdict_name(r->ab_poison.headline));
    cJSON_AddStringToObject(r->summary, "next_action_ungated", sl_ab_verdict_action(r->ab_poison.headline));
    cJSON_AddNumberToObject(r->summary, "seeds_ungated", r->ab_poison.seeds);
    if (r->ab_poison.headline == SL_AB_INCONCLUSIVE)
        cJSON_AddNumberToObject(r->summary, "seeds_needed_ungated", (double)r->ab_poison.seeds_needed);
    return SL_OK;
}

/* --- the job ------------------------------------------------------------------------------- */

/* Create out_dir, resolve it and check every output path before any work. */
static sl_status demo_paths(const sl_loop_demo_config *c, sl_loop_demo_result *r) {
    if (!c->out_dir || !*c->out_dir) return sl_set_error(SL_ERR_ARG, "demo: empty output directory");
    if (mkdir(c->out_dir, 0777) != 0 && errno != EEXIST)
        return sl_set_error(SL_ERR_IO, "%s: cannot create directory: %s", c->out_dir,
                            strerror(errno));
    /* every path the registry records is absolute (the run's rows stay valid from any
     * directory) */
    char absout[PATH_MAX];
    const char *od = realpath(c->out_dir, absout) ? absout : c->out_dir;
    for (int i = 0; i < SL_DEMO_PATH_COUNT; i++) {
        size_t n = strlen(od) + strlen(demo_file_names[i]) + 2;
        r->paths[i] = malloc(n);
        if (!r->paths[i]) return sl_set_error(SL_ERR_NOMEM, "demo: out of memory");
        snprintf(r->paths[i], n, "%s/%s", od, demo_file_names[i]);
        SL_TRY(sl_output_check(r->paths[i]));
    }
    return SL_OK;
}

typedef sl_status (*demo_stage_fn)(demo_state *d);
static const demo_stage_fn demo_stages[SL_LOOP_DEMO_STAGES] = {
    demo_collect, demo_encode, demo_bricks, demo_world,
    demo_trust,   demo_eval,   demo_branches, demo_ab};

sl_status sl_loop_demo(const sl_loop_demo_config *c, sl_loop_ctx *ctx, sl_loop_demo_result *r) {
    memset(r, 0, sizeof *r);
    r->summary = cJSON_CreateObject();
    if (!r->summary) return sl_set_error(SL_ERR_NOMEM, "demo: out of memory");
    SL_TRY(demo_paths(c, r));
    demo_state d;
    memset(&d, 0, sizeof d);
    d.o = c;
    d.ctx = ctx;
    d.reg = ctx ? ctx->reg : NULL;
    d.run = ctx ? ctx->run_id : 0;
    d.p = r->paths;
    d.r = r;
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    sl_status s = SL_OK;
    for (int k = 0; s == SL_OK && k < SL_LOOP_DEMO_STAGES; k++) {
        s = sl_loop_report(ctx, "demo", k, SL_LOOP_DEMO_STAGES, NULL, 0);
        if (s == SL_OK) s = demo_stages[k](&d);
    }
    if (s == SL_OK) s = sl_loop_report(ctx, "demo", SL_LOOP_DEMO_STAGES, SL_LOOP_DEMO_STAGES, NULL, 0);
    sl_loop_observe_end(&obs);
    sl_trust_free(d.tm);
    sl_world_free(d.w);
    sl_world_free(d.ref);
    sl_world_data_clear(&d.wd);
    sl_bricks_free(d.bk);
    free(d.sphere);
    free(d.z);
    free(d.zn);
    sl_dataset_free(d.ds);
    return s;
}
