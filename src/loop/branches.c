/* SPDX-License-Identifier: Apache-2.0 */
/* branches.c - the branches job: gated H-step rollouts of the world model from real starts,
 * scored by trust_net, with the generator's certificate; written as a branch NPZ and sidecar.
 * Invariant: the two files are published together; every branch has its registry row or the
 * job fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"

void sl_loop_branches_result_free(sl_loop_branches_result *r) {
    if (!r) return;
    sl_branches_free(r->b);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/* The loaded inputs of one collection. */
typedef struct br_inputs {
    sl_dataset *ds;
    float *z, *zn;
    sl_world_data d;
    sl_world *w;
    sl_trust_model *tm;
    int32_t *bk;
    sl_agent *agent;
    sl_synth_agent_policy *ap;
} br_inputs;

static void inputs_free(br_inputs *in) {
    free(in->bk);
    sl_synth_agent_policy_free(in->ap);
    sl_agent_free(in->agent);
    sl_trust_free(in->tm);
    sl_world_free(in->w);
    sl_world_data_clear(&in->d);
    sl_dataset_free(in->ds);
    free(in->z);
    free(in->zn);
}

static sl_status load_inputs(const sl_loop_branches_config *c, br_inputs *in) {
    size_t n;
    int zd;
    SL_TRY(sl_world_load(&in->w, c->world));
    SL_TRY(sl_loop_attach_sphere(in->w, c->encoder));
    SL_TRY(sl_trust_load(&in->tm, c->trust));
    SL_TRY(sl_dataset_load_npz(&in->ds, c->data));
    SL_TRY(sl_world_load_latents(c->latents, in->ds, &in->z, &in->zn, &n, &zd));
    const sl_world_config *wc = sl_world_get_config(in->w);
    SL_TRY(sl_world_data_init(&in->d, in->ds, in->z, in->zn, zd,
                              (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names, wc->n_econ));
    if (c->bricks) SL_TRY(sl_loop_load_brick_ids(c->bricks, &in->d, &in->bk));
    if (c->policy) {
        SL_TRY(sl_agent_load(&in->agent, c->policy));
        SL_TRY(sl_synth_agent_policy_new(&in->ap, in->agent, &in->d, c->synth.policy_noise));
    }
    return SL_OK;
}

/* The sidecar: the summary, the config as used, provenance. */
static cJSON *branches_json(const sl_loop_branches_config *c, const br_inputs *in,
                            const sl_branches *b) {
    cJSON *res = sl_branches_summary_json(b);
    cJSON *cfg = res ? sl_synth_config_json(&c->synth) : NULL;
    if (!cfg) {
        cJSON_Delete(res);
        return NULL;
    }
    cJSON_AddStringToObject(cfg, "band", c->band_name ? c->band_name : "");
    cJSON_AddStringToObject(cfg, "data", c->data);
    cJSON_AddStringToObject(cfg, "latents", c->latents);
    cJSON_AddStringToObject(cfg, "world_model", c->world);
    cJSON_AddStringToObject(cfg, "trust_model", c->trust);
    if (c->bricks) cJSON_AddStringToObject(cfg, "bricks", c->bricks);
    cJSON_AddStringToObject(cfg, "action_source", c->policy ? "policy" : "behaviour_clone");
    if (c->policy) cJSON_AddStringToObject(cfg, "policy", c->policy);
    cJSON_AddBoolToObject(cfg, "sphere_projection", sl_world_has_sphere(in->w));
    cJSON_AddNumberToObject(cfg, "world_noise_scale",
                            c->synth.rollout_noise < 0
                                ? (double)sl_world_get_config(in->w)->noise_scale
                                : (double)c->synth.rollout_noise);
    cJSON_AddItemToObject(res, "config", cfg);
    cJSON_AddStringToObject(res, "output", c->output);
    sl_json_add_provenance(res, c->synth.seed);
    return res;
}

static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_loop_branches_config *c,
                                const sl_loop_branches_result *r, const char *sidecar) {
    if (!reg) return SL_OK;
    const sl_branches *b = r->b;
    char apath[4096];
    SL_TRY(sl_registry_add_dataset(reg, run, sl_loop_abs_path(c->output, apath), "branches",
                                   (int64_t)(b->n * (size_t)b->horizon), (int64_t)b->n, NULL));
    sl_branch_row *rows = sl_alloc((b->n ? b->n : 1) * sizeof *rows);
    if (!rows) return sl_set_error(SL_ERR_NOMEM, "branches: out of memory for %zu branch rows", b->n);
    for (size_t i = 0; i < b->n; i++)
        rows[i] = (sl_branch_row){b->source_episode[i], b->source_t[i], b->horizon, b->brick_id[i],
                                  b->trust[i], b->std_ratio[i], b->passed[i]};
    sl_status st = sl_registry_add_branch_batch(reg, run, rows, b->n);
    free(rows);
    SL_TRY(st);
    double pr = sl_json_num(r->json, "pass_rate", NAN);
    if (isfinite(pr)) SL_TRY(sl_registry_add_metric(reg, run, "branches/pass_rate", b->horizon, pr));
    char *rj = cJSON_PrintUnformatted(r->json);
    if (!rj) return sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    st = sl_registry_add_result(reg, run, "branches_summary", rj);
    free(rj);
    SL_TRY(st);
    return sl_registry_add_artifact(reg, run, "branches.json", sl_loop_abs_path(sidecar, apath));
}

sl_status sl_loop_branches(const sl_loop_branches_config *c, sl_loop_ctx *ctx,
                           sl_loop_branches_result *r) {
    memset(r, 0, sizeof *r);
    if (!c->data || !c->latents || !c->world || !c->trust || !c->output)
        return sl_set_error(SL_ERR_ARG, "branches: data, latents, world, trust and output are required");
    sl_outset os;
    sl_outset_init(&os);
    const char *st_out = NULL, *st_side = NULL;
    char *side = sl_loop_sidecar_path(c->output, ".npz");
    sl_status st = side ? SL_OK : sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    if (st == SL_OK) st = sl_outset_add(&os, c->output, &st_out);
    if (st == SL_OK) st = sl_outset_add(&os, side, &st_side);
    br_inputs in;
    memset(&in, 0, sizeof in);
    if (st == SL_OK) st = load_inputs(c, &in);
    sl_loop_observe obs;
    sl_loop_observe_begin(ctx, &obs);
    if (st == SL_OK) st = sl_loop_report(ctx, "branches", 0, 2, NULL, 0);
    if (st == SL_OK)
        st = sl_synth_collect(&r->b, in.w, &in.d, in.tm, in.bk,
                              in.ap ? sl_synth_agent_policy_act : NULL, in.ap, &c->synth);
    /* the generator's certificate: its std ratio per horizon 5..60 on held-out real starts */
    if (st == SL_OK && c->certify)
        st = sl_synth_certify(&r->b->cert, in.w, &in.d, c->synth.rollout_noise, c->synth.seed);
    sl_loop_observe_end(&obs);
    if (st == SL_OK) st = sl_loop_report(ctx, "branches", 1, 2, NULL, 0);
    if (st == SL_OK) st = sl_branches_save_npz(r->b, st_out);
    if (st == SL_OK && !(r->json = branches_json(c, &in, r->b)))
        st = sl_set_error(SL_ERR_NOMEM, "branches: out of memory");
    if (st == SL_OK) st = sl_json_write_file(st_side, r->json);
    if (st == SL_OK) st = sl_outset_commit(&os);
    sl_outset_free(&os);
    if (st == SL_OK && ctx) st = record_outputs(ctx->reg, ctx->run_id, c, r, side);
    if (st == SL_OK) st = sl_loop_report(ctx, "branches", 2, 2, NULL, 0);
    free(side);
    inputs_free(&in);
    return st;
}
