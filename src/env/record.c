/* SPDX-License-Identifier: Apache-2.0 */
/* record.c - the environment record: which environment a dataset was collected in (the
 * built-in workcell or an MJCF file with its content hash, the effective task spec and its
 * hash, the observation and action dims), written into the dataset's sidecar by collect, and
 * the rebuild of that environment from the record.
 *
 * Key invariant: sl_env_from_record either returns an environment whose record equals the
 * given one (kind, model hash, task hash, dims) or refuses with a message naming both sides;
 * it never falls back to another environment.
 */
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

void sl_env_record_clear(sl_env_record *rec) {
    if (!rec) return;
    free(rec->task_json);
    memset(rec, 0, sizeof *rec);
}

sl_status sl_env_get_record(const sl_env *env, sl_env_record *rec) {
    if (!env || !rec) return sl_set_error(SL_ERR_ARG, "sl_env_get_record: NULL argument");
    memset(rec, 0, sizeof *rec);
    if (!env->type->record) return sl_set_error(SL_ERR_ARG, "%s: this environment has no record", env->name);
    return env->type->record(env, rec);
}

sl_status sl_env_record_to_json(const sl_env_record *rec, cJSON *obj) {
    if (!rec || !obj || !rec->task_json) return sl_set_error(SL_ERR_ARG, "sl_env_record_to_json: bad argument");
    cJSON *spec = cJSON_Parse(rec->task_json);
    if (!spec) return sl_set_error(SL_ERR_INTERNAL, "env record: the task spec does not parse");
    int ok = cJSON_AddStringToObject(obj, "kind", rec->kind) &&
             cJSON_AddStringToObject(obj, "model", rec->model_path) &&
             cJSON_AddStringToObject(obj, "model_sha256", rec->model_sha256) &&
             cJSON_AddStringToObject(obj, "task", rec->task_name) &&
             cJSON_AddStringToObject(obj, "task_sha256", rec->task_sha256) &&
             cJSON_AddNumberToObject(obj, "obs_dim", rec->obs_dim) &&
             cJSON_AddNumberToObject(obj, "act_dim", rec->act_dim);
    if (!ok) {
        cJSON_Delete(spec);
        return sl_set_error(SL_ERR_NOMEM, "env record: out of memory");
    }
    cJSON_AddItemToObject(obj, "task_spec", spec);
    return SL_OK;
}

static sl_status copy_str(const cJSON *obj, const char *key, const char *where, char *dst, size_t n) {
    const char *s = sl_json_str(obj, key, NULL);
    if (!s) return sl_set_error(SL_ERR_FORMAT, "%s: environment.%s: missing or not a string", where, key);
    if (strlen(s) >= n) return sl_set_error(SL_ERR_FORMAT, "%s: environment.%s: too long", where, key);
    memcpy(dst, s, strlen(s) + 1);
    return SL_OK;
}

sl_status sl_env_record_from_json(const cJSON *obj, const char *where, sl_env_record *rec) {
    if (!obj || !where || !rec) return sl_set_error(SL_ERR_ARG, "sl_env_record_from_json: NULL argument");
    memset(rec, 0, sizeof *rec);
    if (!cJSON_IsObject(obj)) return sl_set_error(SL_ERR_FORMAT, "%s: environment: expected an object", where);
    SL_TRY(copy_str(obj, "kind", where, rec->kind, sizeof rec->kind));
    SL_TRY(copy_str(obj, "model", where, rec->model_path, sizeof rec->model_path));
    SL_TRY(copy_str(obj, "model_sha256", where, rec->model_sha256, sizeof rec->model_sha256));
    SL_TRY(copy_str(obj, "task", where, rec->task_name, sizeof rec->task_name));
    SL_TRY(copy_str(obj, "task_sha256", where, rec->task_sha256, sizeof rec->task_sha256));
    if (strcmp(rec->kind, "workcell") != 0 && strcmp(rec->kind, "mjcf") != 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: environment.kind: '%s' (expected workcell or mjcf)", where, rec->kind);
    rec->obs_dim = sl_json_int(obj, "obs_dim", -1);
    rec->act_dim = sl_json_int(obj, "act_dim", -1);
    if (rec->obs_dim < 1 || rec->act_dim < 1)
        return sl_set_error(SL_ERR_FORMAT, "%s: environment.obs_dim/act_dim: missing or not positive", where);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "task_spec");
    if (!cJSON_IsObject(spec)) return sl_set_error(SL_ERR_FORMAT, "%s: environment.task_spec: missing", where);
    rec->task_json = cJSON_PrintUnformatted(spec);
    if (!rec->task_json) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", where);
    char h[65];
    sl_sha256_hex(rec->task_json, strlen(rec->task_json), h);
    if (strcmp(h, rec->task_sha256) != 0) {
        sl_status st = sl_set_error(SL_ERR_FORMAT,
                                    "%s: environment.task_spec does not match its recorded task_sha256 (%.12s... "
                                    "recorded, %.12s... computed): the record was edited",
                                    where, rec->task_sha256, h);
        sl_env_record_clear(rec);
        return st;
    }
    return SL_OK;
}

sl_status sl_env_record_read(const char *sidecar_path, sl_env_record *rec) {
    if (!sidecar_path || !rec) return sl_set_error(SL_ERR_ARG, "sl_env_record_read: NULL argument");
    memset(rec, 0, sizeof *rec);
    cJSON *j = NULL;
    SL_TRY(sl_json_read_file(sidecar_path, &j));
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(j, "environment");
    sl_status st = env ? sl_env_record_from_json(env, sidecar_path, rec)
                       : sl_set_error(SL_ERR_NOTFOUND,
                                      "%s: no environment record (data without a simulator, e.g. an import, or "
                                      "collected before records existed)",
                                      sidecar_path);
    cJSON_Delete(j);
    return st;
}

sl_status sl_env_check_record(const sl_env *env, const sl_env_record *rec) {
    sl_env_record have;
    SL_TRY(sl_env_get_record(env, &have));
    sl_status st = SL_OK;
    const char *what = rec->kind[0] && strcmp(rec->kind, "mjcf") == 0 ? rec->model_path : "the built-in workcell";
    if (strcmp(have.kind, rec->kind) != 0)
        st = sl_set_error(SL_ERR_STATE, "environment mismatch: the data was collected in %s (%s, task '%s'), this is %s (%s, task '%s')",
                          what, rec->kind, rec->task_name, have.kind[0] == 'm' ? have.model_path : "the built-in workcell",
                          have.kind, have.task_name);
    else if (strcmp(have.model_sha256, rec->model_sha256) != 0)
        st = sl_set_error(SL_ERR_STATE,
                          "environment mismatch: model %s has sha256 %.12s... now, the data was collected with "
                          "%.12s... (the model changed since collection)",
                          have.kind[0] == 'm' ? have.model_path : "workcell", have.model_sha256, rec->model_sha256);
    else if (strcmp(have.task_sha256, rec->task_sha256) != 0)
        st = sl_set_error(SL_ERR_STATE,
                          "environment mismatch: task '%s' has sha256 %.12s..., the data was collected with task "
                          "'%s' %.12s...",
                          have.task_name, have.task_sha256, rec->task_name, rec->task_sha256);
    else if (have.obs_dim != rec->obs_dim || have.act_dim != rec->act_dim)
        st = sl_set_error(SL_ERR_STATE,
                          "environment mismatch: %s has obs_dim %d / act_dim %d, the data was collected with %d / %d",
                          what, have.obs_dim, have.act_dim, rec->obs_dim, rec->act_dim);
    sl_env_record_clear(&have);
    return st;
}

/* The workcell config a workcell task spec describes. */
static sl_status workcell_config(const cJSON *spec, sl_workcell_config *c) {
    *c = sl_workcell_default();
    c->max_steps = sl_json_int(spec, "max_steps", c->max_steps);
    c->frame_skip = sl_json_int(spec, "frame_skip", c->frame_skip);
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(spec, "econ");
    c->econ.value_per_unit = sl_json_num(ec, "value_per_unit", c->econ.value_per_unit);
    c->econ.human_wage = sl_json_num(ec, "human_wage", c->econ.human_wage);
    const cJSON *wc = cJSON_GetObjectItemCaseSensitive(spec, "workcell");
    c->grip_normal_n = sl_json_num(wc, "grip_normal_n", c->grip_normal_n);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(wc, "mass"), *fr = cJSON_GetObjectItemCaseSensitive(wc, "friction");
    if (cJSON_GetArraySize(ms) == 2 && cJSON_GetArraySize(fr) == 2) {
        c->mass_lo = cJSON_GetArrayItem(ms, 0)->valuedouble;
        c->mass_hi = cJSON_GetArrayItem(ms, 1)->valuedouble;
        c->friction_lo = cJSON_GetArrayItem(fr, 0)->valuedouble;
        c->friction_hi = cJSON_GetArrayItem(fr, 1)->valuedouble;
    }
    return SL_OK;
}

sl_status sl_env_from_record(sl_env **out, const sl_env_record *rec) {
    if (!out || !rec || !rec->task_json) return sl_set_error(SL_ERR_ARG, "sl_env_from_record: bad argument");
    *out = NULL;
    cJSON *spec = cJSON_Parse(rec->task_json);
    if (!spec) return sl_set_error(SL_ERR_FORMAT, "environment record: the task spec does not parse");
    sl_status st = SL_OK;
    sl_env *env = NULL;
    if (strcmp(rec->kind, "workcell") == 0) {
        sl_workcell_config c;
        workcell_config(spec, &c);
        st = sl_env_workcell_new(&env, &c);
    } else if (strcmp(rec->kind, "mjcf") == 0) {
        char h[65] = "";
        st = sl_sha256_file(rec->model_path, h);
        if (st != SL_OK)
            st = sl_set_error(st, "environment record: the model file %s the data was collected in cannot be read (%s)",
                              rec->model_path, sl_last_error());
        else if (strcmp(h, rec->model_sha256) != 0)
            st = sl_set_error(SL_ERR_STATE,
                              "environment record: model file %s changed since collection (sha256 %.12s... now, "
                              "%.12s... recorded)",
                              rec->model_path, h, rec->model_sha256);
        else
            st = sl_env_task_new_json(&env, spec, rec->model_path, rec->model_path);
    } else {
        st = sl_set_error(SL_ERR_FORMAT, "environment record: unknown kind '%s'", rec->kind);
    }
    cJSON_Delete(spec);
    if (st == SL_OK) st = sl_env_check_record(env, rec);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    *out = env;
    return SL_OK;
}
