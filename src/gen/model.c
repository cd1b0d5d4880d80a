/* SPDX-License-Identifier: Apache-2.0 */
/* model.c - the one generator interface: dispatch to the method's table of functions, the
 * privacy statement, and the file format (safetensors + "synthloop.gen" JSON metadata).
 * Invariant: a model that exists has been fully fitted or fully loaded; fit and load either
 * return a complete model or nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"

static const char *const method_names[SL_GEN_METHOD_COUNT] = {"copula", "vae", "rules"};
_Static_assert(sizeof method_names / sizeof method_names[0] == SL_GEN_METHOD_COUNT, "names");

static const gen_vtable *vtable(sl_gen_method m) {
    switch (m) {
    case SL_GEN_COPULA: return &gen_copula_vt;
    case SL_GEN_VAE: return &gen_vae_vt;
    case SL_GEN_RULES: return &gen_rules_vt;
    default: return NULL;
    }
}

const char *sl_gen_method_name(sl_gen_method m) {
    return (unsigned)m < SL_GEN_METHOD_COUNT ? method_names[m] : NULL;
}

sl_status sl_gen_method_parse(const char *name, sl_gen_method *out) {
    for (int i = 0; i < SL_GEN_METHOD_COUNT; i++)
        if (name && strcmp(name, method_names[i]) == 0) {
            *out = (sl_gen_method)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown generator method '%s' (copula, vae, rules)",
                        name ? name : "");
}

sl_gen_config sl_gen_config_defaults(sl_gen_method m) {
    sl_gen_config c;
    memset(&c, 0, sizeof c);
    c.method = m;
    c.seed = 1;
    c.epochs = 60;
    c.batch = 256;
    c.hidden = 128;
    c.latent = 16;
    c.lr = 1e-3f;
    c.kl_warmup = 10;
    c.beta = 1.0f;
    c.dp_epsilon = HUGE_VAL;
    c.dp_delta = 1e-5;
    c.dp_clip = 1.0f;
    return c;
}

sl_status gen_tensors_add(gen_tensors *g, const char *name, sl_dtype dt, size_t d0, size_t d1,
                          const void *data) {
    if (g->n >= GEN_MAX_TENSORS)
        return sl_set_error(SL_ERR_RANGE, "gen save: more than %d tensors", GEN_MAX_TENSORS);
    char *nm = strdup(name);
    if (!nm) return sl_set_error(SL_ERR_NOMEM, "gen save: out of memory");
    sl_tensor_ref *t = &g->t[g->n];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = dt;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->data = data;
    g->names[g->n++] = nm;
    return SL_OK;
}

void gen_tensors_clear(gen_tensors *g) {
    for (size_t i = 0; i < g->n; i++) free(g->names[i]);
    g->n = 0;
}

void sl_gen_free(sl_gen_model *m) {
    if (!m) return;
    if (m->vt && m->state) m->vt->free(m->state);
    sl_gen_table_free(m->schema);
    free(m);
}

sl_gen_method sl_gen_model_method(const sl_gen_model *m) { return m->method; }
const sl_dp_spent *sl_gen_model_dp(const sl_gen_model *m) { return &m->dp; }
const sl_gen_table *sl_gen_model_schema(const sl_gen_model *m) { return m->schema; }

static sl_dp_spent no_dp(void) {
    sl_dp_spent d;
    memset(&d, 0, sizeof d);
    d.epsilon = HUGE_VAL;
    return d;
}

sl_status sl_gen_fit(const sl_gen_config *cfg, const sl_gen_table *data, sl_gen_model **out) {
    *out = NULL;
    const gen_vtable *vt = vtable(cfg->method);
    if (!vt) return sl_set_error(SL_ERR_ARG, "gen fit: bad method %d", (int)cfg->method);
    if (cfg->method != SL_GEN_RULES) {
        if (!data)
            return sl_set_error(SL_ERR_ARG, "gen fit: %s needs a data table",
                                sl_gen_method_name(cfg->method));
        if (data->n_rows < 2)
            return sl_set_error(SL_ERR_ARG, "gen fit: %zu row%s; a generator needs at least 2",
                                data->n_rows, data->n_rows == 1 ? "" : "s");
        if (data->n_cols < 1) return sl_set_error(SL_ERR_ARG, "gen fit: no columns");
    }
    if (cfg->method != SL_GEN_VAE && isfinite(cfg->dp_epsilon))
        return sl_set_error(SL_ERR_ARG, "gen fit: --dp-epsilon applies to the vae only (%s has "
                            "no DP training)", sl_gen_method_name(cfg->method));
    sl_gen_model *m = calloc(1, sizeof *m);
    if (!m) return sl_set_error(SL_ERR_NOMEM, "gen fit: out of memory");
    m->method = cfg->method;
    m->vt = vt;
    m->cfg = *cfg;
    m->cfg.charge = NULL;
    m->cfg.charge_ctx = NULL;
    m->cfg.rules_path = NULL;
    m->dp = no_dp();
    sl_status st = SL_OK;
    if (data) st = sl_gen_table_alloc_like(data, 0, &m->schema);
    if (st == SL_OK) st = vt->fit(&m->state, cfg, data, &m->schema, &m->dp);
    if (st == SL_OK && !m->schema) st = sl_set_error(SL_ERR_INTERNAL, "gen fit: no schema");
    if (st != SL_OK) {
        sl_gen_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}

sl_status sl_gen_sample(const sl_gen_model *m, size_t n, uint64_t seed, sl_gen_table **out) {
    *out = NULL;
    if (n < 1) return sl_set_error(SL_ERR_ARG, "gen sample: n must be >= 1");
    sl_gen_table *t;
    SL_TRY(sl_gen_table_alloc_like(m->schema, n, &t));
    sl_rng rng;
    sl_rng_seed(&rng, seed, 0x67656eULL);
    sl_status st = m->vt->sample(m->state, m->schema, n, &rng, t);
    if (st == SL_OK) /* the invariant every consumer relies on */
        for (size_t c = 0; c < t->n_cols && st == SL_OK; c++) {
            const sl_gen_column *col = &t->cols[c];
            const double *d = sl_gen_col(t, c);
            for (size_t i = 0; i < n; i++)
                if (!isfinite(d[i]) ||
                    (col->type == SL_GEN_CATEGORICAL && (d[i] < 0 || d[i] >= (double)col->n_cats))) {
                    st = sl_set_error(SL_ERR_NAN, "gen sample: %s produced an invalid value in "
                                      "column %s", sl_gen_method_name(m->method), col->name);
                    break;
                }
        }
    if (st != SL_OK) {
        sl_gen_table_free(t);
        return st;
    }
    *out = t;
    return SL_OK;
}

cJSON *sl_gen_dp_json(const sl_dp_spent *dp) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "dp", dp->has_dp);
    if (dp->has_dp) {
        cJSON_AddNumberToObject(j, "epsilon", dp->epsilon);
        cJSON_AddNumberToObject(j, "delta", dp->delta);
        cJSON_AddNumberToObject(j, "noise_multiplier", dp->sigma);
        cJSON_AddNumberToObject(j, "histogram_noise_multiplier", dp->sigma_hist);
        cJSON_AddNumberToObject(j, "clip", dp->clip);
        cJSON_AddNumberToObject(j, "sampling_rate", dp->q);
        cJSON_AddNumberToObject(j, "steps", (double)dp->steps);
        cJSON_AddStringToObject(j, "accountant", "rdp-subsampled-gaussian");
    } else {
        cJSON_AddStringToObject(j, "note", "no differential privacy guarantee");
    }
    return j;
}

void sl_gen_dp_line(char *buf, size_t n, sl_gen_method m, const sl_dp_spent *dp) {
    if (dp->has_dp)
        snprintf(buf, n, "synthloop-gen method=%s dp=yes epsilon=%.6g delta=%.6g "
                 "noise_multiplier=%.6g clip=%.6g", sl_gen_method_name(m), dp->epsilon,
                 dp->delta, dp->sigma, dp->clip);
    else if (m == SL_GEN_RULES)
        snprintf(buf, n, "synthloop-gen method=rules dp=none (no differential privacy guarantee; "
                 "rule-based: the generator read no records)");
    else
        snprintf(buf, n, "synthloop-gen method=%s dp=none (no differential privacy guarantee)",
                 sl_gen_method_name(m));
}

sl_status sl_gen_save(const sl_gen_model *m, const char *path) {
    gen_tensors t;
    memset(&t, 0, sizeof t);
    cJSON *meta = cJSON_CreateObject(), *state = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    sl_status st = meta && state && cfg ? SL_OK : sl_set_error(SL_ERR_NOMEM, "gen save: oom");
    if (st == SL_OK) st = m->vt->save(m->state, m->schema, &t, state);
    char *txt = NULL;
    if (st == SL_OK) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "method", sl_gen_method_name(m->method));
        cJSON_AddItemToObject(g, "schema", sl_gen_table_schema_json(m->schema));
        cJSON_AddItemToObject(g, "dp", sl_gen_dp_json(&m->dp));
        cJSON_AddNumberToObject(cfg, "seed", (double)m->cfg.seed);
        if (m->method == SL_GEN_VAE) {
            cJSON_AddNumberToObject(cfg, "epochs", m->cfg.epochs);
            cJSON_AddNumberToObject(cfg, "batch", m->cfg.batch);
            cJSON_AddNumberToObject(cfg, "hidden", m->cfg.hidden);
            cJSON_AddNumberToObject(cfg, "latent", m->cfg.latent);
            cJSON_AddNumberToObject(cfg, "lr", (double)m->cfg.lr);
            cJSON_AddNumberToObject(cfg, "kl_warmup", m->cfg.kl_warmup);
            cJSON_AddNumberToObject(cfg, "beta", (double)m->cfg.beta);
        }
        cJSON_AddItemToObject(g, "config", cfg);
        cfg = NULL;
        cJSON_AddItemToObject(g, "method_state", state);
        state = NULL;
        sl_json_add_provenance(g, m->cfg.seed);
        txt = cJSON_PrintUnformatted(g);
        cJSON_Delete(g);
        if (!txt) st = sl_set_error(SL_ERR_NOMEM, "gen save: out of memory");
    }
    if (st == SL_OK) {
        cJSON_AddStringToObject(meta, "synthloop.gen", txt);
        char line[256];
        sl_gen_dp_line(line, sizeof line, m->method, &m->dp);
        cJSON_AddStringToObject(meta, "privacy", line);
        st = sl_safetensors_write(path, t.t, t.n, meta);
    }
    free(txt);
    cJSON_Delete(meta);
    cJSON_Delete(state);
    cJSON_Delete(cfg);
    gen_tensors_clear(&t);
    return st;
}

sl_status sl_gen_load(const char *path, sl_gen_model **out) {
    *out = NULL;
    sl_safetensors *st_file = NULL;
    SL_TRY(sl_safetensors_read(&st_file, path));
    const char *txt = sl_safetensors_meta(st_file, "synthloop.gen");
    cJSON *g = txt ? cJSON_Parse(txt) : NULL;
    sl_gen_model *m = calloc(1, sizeof *m);
    sl_status st = SL_OK;
    if (!g) st = sl_set_error(SL_ERR_FORMAT, "%s: not a synthloop generator (no valid "
                              "\"synthloop.gen\" metadata)", path);
    else if (!m) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    if (st == SL_OK) st = sl_gen_method_parse(sl_json_str(g, "method", ""), &m->method);
    if (st == SL_OK) {
        m->vt = vtable(m->method);
        m->cfg = sl_gen_config_defaults(m->method);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(g, "config");
        m->cfg.seed = (uint64_t)sl_json_num(cfg, "seed", 1);
        m->cfg.epochs = sl_json_int(cfg, "epochs", m->cfg.epochs);
        m->cfg.batch = sl_json_int(cfg, "batch", m->cfg.batch);
        m->cfg.hidden = sl_json_int(cfg, "hidden", m->cfg.hidden);
        m->cfg.latent = sl_json_int(cfg, "latent", m->cfg.latent);
        m->cfg.lr = (float)sl_json_num(cfg, "lr", (double)m->cfg.lr);
        m->cfg.kl_warmup = sl_json_int(cfg, "kl_warmup", m->cfg.kl_warmup);
        m->cfg.beta = (float)sl_json_num(cfg, "beta", (double)m->cfg.beta);
        m->dp = no_dp();
        const cJSON *dp = cJSON_GetObjectItemCaseSensitive(g, "dp");
        if (sl_json_bool(dp, "dp", 0)) {
            m->dp.has_dp = 1;
            m->dp.epsilon = sl_json_num(dp, "epsilon", HUGE_VAL);
            m->dp.delta = sl_json_num(dp, "delta", 0);
            m->dp.sigma = sl_json_num(dp, "noise_multiplier", 0);
            m->dp.sigma_hist = sl_json_num(dp, "histogram_noise_multiplier", 0);
            m->dp.clip = sl_json_num(dp, "clip", 0);
            m->dp.q = sl_json_num(dp, "sampling_rate", 0);
            m->dp.steps = (uint64_t)sl_json_num(dp, "steps", 0);
        }
        st = sl_gen_schema_from_json(cJSON_GetObjectItemCaseSensitive(g, "schema"), path,
                                     &m->schema);
    }
    if (st == SL_OK)
        st = m->vt->load(&m->state, m->schema, st_file,
                         cJSON_GetObjectItemCaseSensitive(g, "method_state"), path);
    cJSON_Delete(g);
    sl_safetensors_free(st_file);
    if (st != SL_OK) {
        sl_gen_free(m);
        return st;
    }
    *out = m;
    return SL_OK;
}
