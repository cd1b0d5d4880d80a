/* SPDX-License-Identifier: Apache-2.0 */
/* job.c - the generate job: read the inputs, fit or load, sample, score, apply the quality
 * threshold, release with the ledger charge (release.c). One function for `synthloop
 * generate` and the API's POST /api/synthetic/generate, so both behave the same.
 * Invariant: nothing is trained before every input is read and the budget checked; nothing
 * is written unless the quality reaches the threshold and the charge committed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"

void sl_gen_job_state_free(sl_gen_job_state *st) {
    if (!st) return;
    sl_gen_table_free(st->schema);
    sl_gen_table_free(st->data);
    sl_gen_table_free(st->hold);
    sl_gen_ledger_keys_free(&st->keys);
    memset(st, 0, sizeof *st);
}

void sl_gen_job_result_free(sl_gen_job_result *res) {
    if (!res) return;
    sl_gen_scores_free(&res->scores);
    cJSON_Delete(res->summary);
    memset(res, 0, sizeof *res);
}

sl_status sl_gen_job_prepare(const sl_gen_job *j, sl_gen_job_state *st) {
    memset(st, 0, sizeof *st);
    if (!j->out || !*j->out) return sl_set_error(SL_ERR_ARG, "generate: an output path is required");
    if (!j->method == !j->model_path)
        return sl_set_error(SL_ERR_ARG, "generate: give either a method (fit) or a model (load)");
    if (j->method) {
        sl_gen_method m;
        SL_TRY(sl_gen_method_parse(j->method, &m));
        if (m != j->cfg.method)
            return sl_set_error(SL_ERR_ARG, "generate: method '%s' and the config's '%s' differ",
                                j->method, sl_gen_method_name(j->cfg.method));
        if (m != SL_GEN_RULES && !j->data)
            return sl_set_error(SL_ERR_ARG, "generate: method %s needs the real data", j->method);
        if (m == SL_GEN_RULES && !j->cfg.rules_path)
            return sl_set_error(SL_ERR_ARG, "generate: method rules needs a rule file");
        if (m != SL_GEN_VAE && isfinite(j->cfg.dp_epsilon))
            return sl_set_error(SL_ERR_ARG, "generate: DP (dp_epsilon) applies to method vae only");
    } else if (isfinite(j->cfg.dp_epsilon)) {
        return sl_set_error(SL_ERR_ARG, "generate: dp_epsilon is a training option; a loaded "
                            "model keeps its own (epsilon, delta)");
    }
    if (j->holdout && !j->data)
        return sl_set_error(SL_ERR_ARG, "generate: a holdout needs the real data too");
    if (!(j->threshold >= 0 && j->threshold <= 1))
        return sl_set_error(SL_ERR_ARG, "generate: quality threshold %g not in [0, 1]",
                            j->threshold);
    /* a schema column with role "subject" is split off: the ledger's subject key, never a
     * generator column */
    sl_gen_table *t = NULL;
    sl_status s = j->schema ? sl_gen_schema_read(j->schema, &st->schema) : SL_OK;
    if (s == SL_OK && j->data) s = sl_gen_table_read_csv(j->data, st->schema, &t);
    if (s == SL_OK && t) s = sl_gen_ledger_keys_get(t, j->schema, j->data, &st->data, &st->keys);
    sl_gen_table_free(t);
    t = NULL;
    if (s == SL_OK && j->holdout)
        s = sl_gen_table_read_csv(j->holdout, st->schema ? st->schema : st->data, &t);
    if (s == SL_OK && t) s = sl_gen_table_drop_subject(t, &st->hold);
    sl_gen_table_free(t);
    if (s != SL_OK) sl_gen_job_state_free(st);
    return s;
}

sl_status sl_gen_job_run(sl_registry *reg, int64_t run_id, const sl_gen_job *j,
                         sl_gen_job_state *st, sl_gen_job_result *res) {
    memset(res, 0, sizeof *res);
    sl_gen_model *model = NULL;
    sl_gen_table *syn = NULL;
    /* a DP fit checks the ledger before training (nothing charged yet); the charge is made
     * with the release, in the transaction that records it */
    sl_gen_ledger_ctx lctx = {.reg = reg, .keys = &st->keys};
    sl_gen_config cfg = j->cfg;
    cfg.charge = sl_gen_ledger_precheck;
    cfg.charge_ctx = &lctx;
    sl_status s = j->model_path ? sl_gen_load(j->model_path, &model)
                                : sl_gen_fit(&cfg, st->data, &model);
    res->n_rows = j->rows > 0 ? j->rows : st->data ? st->data->n_rows : 1000;
    if (s == SL_OK) s = sl_gen_sample(model, res->n_rows, cfg.seed + 1, &syn);
    if (s == SL_OK && st->data) {
        sl_gen_eval_config ec = sl_gen_eval_defaults();
        ec.seed = cfg.seed;
        s = sl_gen_evaluate(st->data, syn, st->hold, &ec, &res->scores);
        res->scored = s == SL_OK;
    }
    if (s != SL_OK) goto done;
    const sl_gen_scores *sc = &res->scores;
    int below = res->scored && sc->quality < j->threshold;
    res->dp = *sl_gen_model_dp(model);
    res->method = sl_gen_model_method(model);
    cJSON *sj = res->scored ? sl_gen_scores_json(sc, st->data) : NULL;
    char *stxt = sj ? cJSON_PrintUnformatted(sj) : NULL;
    int sc_ok = res->scored && sc->has_privacy;
    sl_synthetic_job_row row = {
        .method = sl_gen_method_name(res->method),
        .params_json = j->params_json,
        .n_rows = (int64_t)res->n_rows,
        .quality = res->scored ? sc->quality : (double)NAN,
        .detection_auc = res->scored ? sc->detection_auc : (double)NAN,
        .coverage = res->scored ? sc->coverage : (double)NAN,
        .diversity = res->scored ? sc->diversity : (double)NAN,
        .dcr_share = sc_ok ? sc->dcr_share : (double)NAN,
        .membership_auc = sc_ok ? sc->mia_auc : (double)NAN,
        .scores_json = stxt,
        .has_dp = res->dp.has_dp,
        .epsilon = res->dp.epsilon,
        .delta = res->dp.delta,
        .threshold = res->scored ? j->threshold : (double)NAN,
    };
    sl_gen_release_opts ro = {
        .out_path = j->out,
        .model_path = j->save_model,
        .released = !below,
        .charge = j->model_path == NULL, /* a loaded model was charged when it was fitted */
        .keys = &st->keys,
        .input_path = j->data,
        .run_id = run_id,
    };
    s = sl_gen_release(reg, model, syn, &ro, &row, &res->rel);
    free(stxt);
    res->released = s == SL_OK && !below;
    if (s == SL_OK && below)
        s = sl_set_error(SL_ERR_RANGE, "generate: quality %.4f is below the threshold %.4f: "
                         "nothing released (%s not written)%s", sc->quality, j->threshold,
                         j->out, res->rel.log_id ? "; the DP fit's epsilon was charged" : "");
    res->summary = sj ? sj : cJSON_CreateObject();
    if (res->summary) {
        cJSON_AddItemToObject(res->summary, "dp_statement", sl_gen_dp_json(&res->dp));
        cJSON_AddBoolToObject(res->summary, "released", res->released);
        cJSON_AddNumberToObject(res->summary, "rows", (double)res->n_rows);
        if (res->rel.job_id) cJSON_AddNumberToObject(res->summary, "job_id", (double)res->rel.job_id);
        if (res->rel.log_id) {
            cJSON *c = cJSON_AddObjectToObject(res->summary, "privacy_charge");
            cJSON_AddNumberToObject(c, "log_id", (double)res->rel.log_id);
            cJSON_AddStringToObject(c, "dataset", st->keys.dataset);
            cJSON_AddNumberToObject(c, "epsilon", res->rel.epsilon_charged);
            cJSON_AddNumberToObject(c, "subjects", (double)st->keys.n);
            cJSON_AddNumberToObject(c, "max_subject_epsilon", res->rel.max_subject_epsilon);
        }
    }
done:
    sl_gen_table_free(syn);
    sl_gen_free(model);
    return s;
}
