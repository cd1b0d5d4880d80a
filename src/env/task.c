/* SPDX-License-Identifier: Apache-2.0 */
/* task.c - task specs: a JSON description of what an episode is for (reward as a weighted sum
 * of named quantities, success and failure conditions, episode length, initial-state noise,
 * optional economic units), parsed and bound to a MuJoCo model's names. See docs/TASKS.md.
 *
 * Key invariant: a task is validated completely before any env is built from it; every error
 * names the spec (file) and the place in it ("reward[2].site"). The hash covers the effective
 * spec (after overrides) as compact JSON, so two envs with the same hash compute the same
 * rewards from the same states.
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

static const char *const qty_names[] = {
    "position", "height", "distance", "progress", "velocity", "angular_velocity", "speed",
    "upright", "joint_pos", "joint_vel", "control", "energy", "contact", "alive", "success",
    "failure", "units", "failures"};
_Static_assert(sizeof qty_names / sizeof qty_names[0] == SL_Q_KIND_COUNT, "quantity names");

/* What a quantity needs from its JSON object. */
enum { NEED_POINT = 1, NEED_AXIS = 2, NEED_TARGET = 4, NEED_JOINT = 8, NEED_GEOM = 16 };
static const int qty_needs[SL_Q_KIND_COUNT] = {
    [SL_Q_POSITION] = NEED_POINT | NEED_AXIS, [SL_Q_HEIGHT] = NEED_POINT,
    [SL_Q_DISTANCE] = NEED_POINT | NEED_TARGET, [SL_Q_PROGRESS] = NEED_POINT | NEED_TARGET,
    [SL_Q_VELOCITY] = NEED_POINT | NEED_AXIS, [SL_Q_ANGVEL] = NEED_POINT | NEED_AXIS,
    [SL_Q_SPEED] = NEED_POINT, [SL_Q_UPRIGHT] = NEED_POINT, [SL_Q_JOINT_POS] = NEED_JOINT,
    [SL_Q_JOINT_VEL] = NEED_JOINT, [SL_Q_CONTACT] = NEED_GEOM};

void sl_sha256_hex(const void *buf, size_t n, char hex[65]) {
    unsigned char dig[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(dig, buf, (unsigned long long)n);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
}

void sl_task_clear(sl_task *t) {
    if (!t) return;
    free(t->canon);
    t->canon = NULL;
}

/* --- parsing -------------------------------------------------------------- */

static const char *model_name(const mjModel *m) { return m && m->names ? m->names : "the model"; }

static sl_status check_keys(const cJSON *o, const char *where, const char *place,
                            const char *const *allowed) {
    for (const cJSON *c = o->child; c; c = c->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(c->string, allowed[i]) == 0) ok = 1;
        if (!ok) return sl_set_error(SL_ERR_FORMAT, "%s: %s%s%s: unknown key", where, place, *place ? "." : "", c->string);
    }
    return SL_OK;
}

static sl_status get_num(const cJSON *o, const char *key, const char *where, const char *place,
                         double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return SL_OK; /* keep the default */
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return sl_set_error(SL_ERR_FORMAT, "%s: %s%s%s: expected a number in [%g, %g]", where, place,
                            *place ? "." : "", key, lo, hi);
    *out = v->valuedouble;
    return SL_OK;
}

static sl_status get_int(const cJSON *o, const char *key, const char *where, int lo, int hi, int *out) {
    double v = *out;
    SL_TRY(get_num(o, key, where, "", lo, hi, &v));
    if (v != floor(v)) return sl_set_error(SL_ERR_FORMAT, "%s: %s: expected an integer", where, key);
    *out = (int)v;
    return SL_OK;
}

static sl_status get_vec3(const cJSON *v, const char *where, const char *place, double out[3]) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return sl_set_error(SL_ERR_FORMAT, "%s: %s: expected [x, y, z]", where, place);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s[%d]: expected a finite number", where, place, i);
        out[i] = e->valuedouble;
    }
    return SL_OK;
}

static sl_status get_pair(const cJSON *o, const char *key, const char *where, double out[2]) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
        return sl_set_error(SL_ERR_FORMAT, "%s: workcell.%s: expected [lo, hi]", where, key);
    out[0] = cJSON_GetArrayItem(v, 0)->valuedouble;
    out[1] = cJSON_GetArrayItem(v, 1)->valuedouble;
    return SL_OK;
}

/* Resolve a name of MuJoCo object type `type` at o[key]; -1 if absent. */
static sl_status get_obj(const cJSON *o, const char *key, int type, const char *what, const mjModel *m,
                         const char *where, const char *place, int *id) {
    *id = -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return SL_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return sl_set_error(SL_ERR_FORMAT, "%s: %s.%s: expected a %s name", where, place, key, what);
    *id = mj_name2id(m, type, v->valuestring);
    if (*id < 0)
        return sl_set_error(SL_ERR_NOTFOUND, "%s: %s.%s: no %s named '%s' in model '%s'", where, place, key, what,
                            v->valuestring, model_name(m));
    return SL_OK;
}

static const char *const qty_keys[] = {"quantity", "site", "body", "axis", "target", "target_site",
                                       "target_body", "joint", "geom", "other_geom", "weight",
                                       "below", "above", "comment", NULL};

/* Parse one quantity object (a reward term or a condition). */
static sl_status parse_qty(const cJSON *o, const char *where, const char *place, const mjModel *m,
                           int workcell, sl_qty *q) {
    memset(q, 0, sizeof *q);
    q->obj = q->tgt = q->geom = q->geom2 = -1;
    q->axis = -1;
    if (!cJSON_IsObject(o)) return sl_set_error(SL_ERR_FORMAT, "%s: %s: expected an object", where, place);
    SL_TRY(check_keys(o, where, place, qty_keys));
    const char *name = sl_json_str(o, "quantity", NULL);
    if (!name) return sl_set_error(SL_ERR_FORMAT, "%s: %s.quantity: missing (a quantity name)", where, place);
    int k = -1;
    for (int i = 0; i < SL_Q_KIND_COUNT; i++)
        if (strcmp(name, qty_names[i]) == 0) k = i;
    if (k < 0) {
        char list[512] = "";
        for (int i = 0; i < SL_Q_KIND_COUNT; i++) {
            strcat(list, qty_names[i]);
            if (i + 1 < SL_Q_KIND_COUNT) strcat(list, ", ");
        }
        return sl_set_error(SL_ERR_FORMAT, "%s: %s.quantity: unknown quantity '%s' (expected one of %s)", where,
                            place, name, list);
    }
    q->kind = (sl_qty_kind)k;
    int need = qty_needs[k];
    if (workcell && k == SL_Q_PROGRESS && !cJSON_HasObjectItem(o, "site") && !cJSON_HasObjectItem(o, "body"))
        need = 0; /* the workcell's own shaping potential */
    if (need & NEED_POINT) {
        int s, b;
        SL_TRY(get_obj(o, "site", mjOBJ_SITE, "site", m, where, place, &s));
        SL_TRY(get_obj(o, "body", mjOBJ_BODY, "body", m, where, place, &b));
        if ((s < 0) == (b < 0))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s: '%s' needs exactly one of \"site\" or \"body\"", where,
                                place, name);
        q->obj_type = s >= 0 ? mjOBJ_SITE : mjOBJ_BODY;
        q->obj = s >= 0 ? s : b;
    }
    if (need & NEED_AXIS) {
        const char *ax = sl_json_str(o, "axis", NULL);
        if (!ax || strlen(ax) != 1 || ax[0] < 'x' || ax[0] > 'z')
            return sl_set_error(SL_ERR_FORMAT, "%s: %s.axis: '%s' needs \"axis\": \"x\", \"y\" or \"z\"", where,
                                place, name);
        q->axis = ax[0] - 'x';
    }
    if (need & NEED_TARGET) {
        int ts, tb;
        SL_TRY(get_obj(o, "target_site", mjOBJ_SITE, "site", m, where, place, &ts));
        SL_TRY(get_obj(o, "target_body", mjOBJ_BODY, "body", m, where, place, &tb));
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(o, "target");
        int n = (ts >= 0) + (tb >= 0) + (tv != NULL);
        if (n != 1)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: %s: '%s' needs exactly one of \"target\" [x, y, z], \"target_site\" or "
                                "\"target_body\"",
                                where, place, name);
        q->tgt_type = ts >= 0 ? mjOBJ_SITE : tb >= 0 ? mjOBJ_BODY : -1;
        q->tgt = ts >= 0 ? ts : tb;
        if (tv) {
            char pl[128];
            snprintf(pl, sizeof pl, "%s.target", place);
            SL_TRY(get_vec3(tv, where, pl, q->target));
        }
    }
    if (need & NEED_JOINT) {
        int j;
        SL_TRY(get_obj(o, "joint", mjOBJ_JOINT, "joint", m, where, place, &j));
        if (j < 0) return sl_set_error(SL_ERR_FORMAT, "%s: %s.joint: '%s' needs a joint name", where, place, name);
        if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE)
            return sl_set_error(SL_ERR_ARG, "%s: %s.joint: joint '%s' is not a hinge or slide joint", where, place,
                                sl_json_str(o, "joint", ""));
        q->jnt_qadr = m->jnt_qposadr[j];
        q->jnt_dadr = m->jnt_dofadr[j];
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(o, "target");
        if (tv) {
            if (k != SL_Q_JOINT_POS || !cJSON_IsNumber(tv) || !isfinite(tv->valuedouble))
                return sl_set_error(SL_ERR_FORMAT, "%s: %s.target: a number, and only for joint_pos", where, place);
            q->has_value_target = 1;
            q->value_target = tv->valuedouble;
        }
    }
    if (need & NEED_GEOM) {
        SL_TRY(get_obj(o, "geom", mjOBJ_GEOM, "geom", m, where, place, &q->geom));
        SL_TRY(get_obj(o, "other_geom", mjOBJ_GEOM, "geom", m, where, place, &q->geom2));
        if (q->geom < 0) return sl_set_error(SL_ERR_FORMAT, "%s: %s.geom: 'contact' needs a geom name", where, place);
    }
    /* keys that this quantity does not use are mistakes, not decoration */
    static const struct { const char *key; int need; } uses[] = {
        {"site", NEED_POINT}, {"body", NEED_POINT}, {"axis", NEED_AXIS}, {"target_site", NEED_TARGET},
        {"target_body", NEED_TARGET}, {"joint", NEED_JOINT}, {"geom", NEED_GEOM}, {"other_geom", NEED_GEOM}};
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
        if (cJSON_HasObjectItem(o, uses[i].key) && !(need & uses[i].need))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s.%s: not used by quantity '%s'", where, place, uses[i].key,
                                name);
    if (cJSON_HasObjectItem(o, "target") && !(need & (NEED_TARGET | NEED_JOINT)))
        return sl_set_error(SL_ERR_FORMAT, "%s: %s.target: not used by quantity '%s'", where, place, name);
    return SL_OK;
}

static sl_status parse_conds(const cJSON *arr, const char *where, const char *place, const mjModel *m,
                             int workcell, sl_task_cond *out, int *n) {
    *n = 0;
    if (!cJSON_IsArray(arr)) return sl_set_error(SL_ERR_FORMAT, "%s: %s: expected an array of conditions", where, place);
    int cnt = cJSON_GetArraySize(arr);
    if (cnt > SL_TASK_MAX_CONDS)
        return sl_set_error(SL_ERR_RANGE, "%s: %s: %d conditions (at most %d)", where, place, cnt, SL_TASK_MAX_CONDS);
    for (int i = 0; i < cnt; i++) {
        const cJSON *c = cJSON_GetArrayItem(arr, i);
        char pl[96];
        snprintf(pl, sizeof pl, "%s[%d]", place, i);
        SL_TRY(parse_qty(c, where, pl, m, workcell, &out[i].q));
        sl_qty_kind k = out[i].q.kind;
        if (k == SL_Q_SUCCESS || k == SL_Q_FAILURE || k == SL_Q_UNITS || k == SL_Q_FAILURES || k == SL_Q_ALIVE ||
            k == SL_Q_PROGRESS || k == SL_Q_ENERGY || k == SL_Q_CONTROL)
            return sl_set_error(SL_ERR_FORMAT, "%s: %s.quantity: '%s' cannot be used in a condition", where, pl,
                                qty_names[k]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "below"), *a = cJSON_GetObjectItemCaseSensitive(c, "above");
        if ((b != NULL) == (a != NULL) || !cJSON_IsNumber(a ? a : b) || !isfinite((a ? a : b)->valuedouble))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s: needs exactly one of \"below\" or \"above\" (a number)", where, pl);
        if (cJSON_HasObjectItem(c, "weight"))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s.weight: conditions have no weight", where, pl);
        out[i].above = a != NULL;
        out[i].value = (a ? a : b)->valuedouble;
    }
    *n = cnt;
    return SL_OK;
}

static const char *const top_keys[] = {"name", "description", "model", "max_steps", "frame_skip",
                                       "init_noise", "reward", "success", "failure", "units", "econ",
                                       "workcell", NULL};

sl_status sl_task_from_json(const cJSON *spec, const char *where, const mjModel *m, sl_task *out) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(spec)) return sl_set_error(SL_ERR_FORMAT, "%s: a task spec is a JSON object", where);
    SL_TRY(check_keys(spec, where, "", top_keys));
    sl_task t;
    memset(&t, 0, sizeof t);
    const char *nm = sl_json_str(spec, "name", NULL);
    if (!nm || !nm[0] || strlen(nm) >= sizeof t.name)
        return sl_set_error(SL_ERR_FORMAT, "%s: name: expected a string of 1..63 characters", where);
    snprintf(t.name, sizeof t.name, "%s", nm);
    t.is_workcell = cJSON_HasObjectItem(spec, "workcell");
    t.max_steps = 60;
    t.frame_skip = 10;
    SL_TRY(get_int(spec, "max_steps", where, 1, 100000, &t.max_steps));
    SL_TRY(get_int(spec, "frame_skip", where, 1, 10000, &t.frame_skip));
    const cJSON *noise = cJSON_GetObjectItemCaseSensitive(spec, "init_noise");
    if (noise) {
        static const char *const nk[] = {"qpos", "qvel", NULL};
        if (!cJSON_IsObject(noise)) return sl_set_error(SL_ERR_FORMAT, "%s: init_noise: expected {\"qpos\": .., \"qvel\": ..}", where);
        SL_TRY(check_keys(noise, where, "init_noise", nk));
        SL_TRY(get_num(noise, "qpos", where, "init_noise", 0, 100, &t.qpos_noise));
        SL_TRY(get_num(noise, "qvel", where, "init_noise", 0, 100, &t.qvel_noise));
    }
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(spec, "reward");
    if (!cJSON_IsArray(rw) || cJSON_GetArraySize(rw) < 1)
        return sl_set_error(SL_ERR_FORMAT, "%s: reward: expected a non-empty array of terms", where);
    t.n_terms = cJSON_GetArraySize(rw);
    if (t.n_terms > SL_TASK_MAX_TERMS)
        return sl_set_error(SL_ERR_RANGE, "%s: reward: %d terms (at most %d)", where, t.n_terms, SL_TASK_MAX_TERMS);
    for (int i = 0; i < t.n_terms; i++) {
        const cJSON *o = cJSON_GetArrayItem(rw, i);
        char pl[64];
        snprintf(pl, sizeof pl, "reward[%d]", i);
        SL_TRY(parse_qty(o, where, pl, m, t.is_workcell, &t.terms[i].q));
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weight");
        if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s.weight: expected a finite number", where, pl);
        if (cJSON_HasObjectItem(o, "below") || cJSON_HasObjectItem(o, "above"))
            return sl_set_error(SL_ERR_FORMAT, "%s: %s: reward terms have no below/above", where, pl);
        t.terms[i].weight = w->valuedouble;
    }
    const cJSON *su = cJSON_GetObjectItemCaseSensitive(spec, "success");
    if (su) {
        static const char *const sk[] = {"all", "check", NULL};
        if (!cJSON_IsObject(su)) return sl_set_error(SL_ERR_FORMAT, "%s: success: expected {\"all\": [...]}", where);
        SL_TRY(check_keys(su, where, "success", sk));
        const cJSON *all = cJSON_GetObjectItemCaseSensitive(su, "all");
        if (!all) return sl_set_error(SL_ERR_FORMAT, "%s: success.all: missing", where);
        SL_TRY(parse_conds(all, where, "success.all", m, t.is_workcell, t.success, &t.n_success));
        const char *chk = sl_json_str(su, "check", "every_step");
        if (strcmp(chk, "every_step") == 0) t.success_at_end = 0;
        else if (strcmp(chk, "end") == 0) t.success_at_end = 1;
        else return sl_set_error(SL_ERR_FORMAT, "%s: success.check: '%s' (expected every_step or end)", where, chk);
        if (t.n_success < 1) return sl_set_error(SL_ERR_FORMAT, "%s: success.all: empty", where);
    }
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(spec, "failure");
    if (fa) {
        static const char *const fk[] = {"any", NULL};
        if (!cJSON_IsObject(fa)) return sl_set_error(SL_ERR_FORMAT, "%s: failure: expected {\"any\": [...]}", where);
        SL_TRY(check_keys(fa, where, "failure", fk));
        const cJSON *any = cJSON_GetObjectItemCaseSensitive(fa, "any");
        if (!any) return sl_set_error(SL_ERR_FORMAT, "%s: failure.any: missing", where);
        SL_TRY(parse_conds(any, where, "failure.any", m, t.is_workcell, t.failure, &t.n_failure));
    }
    const cJSON *un = cJSON_GetObjectItemCaseSensitive(spec, "units");
    if (un) {
        static const char *const uk[] = {"unit", "mistakes", NULL};
        if (!cJSON_IsObject(un)) return sl_set_error(SL_ERR_FORMAT, "%s: units: expected an object", where);
        SL_TRY(check_keys(un, where, "units", uk));
        const char *u = sl_json_str(un, "unit", NULL);
        if (!t.is_workcell && (!u || strcmp(u, "success") != 0))
            return sl_set_error(SL_ERR_FORMAT, "%s: units.unit: expected \"success\" (one unit per successful episode)", where);
        if (!t.is_workcell && !su)
            return sl_set_error(SL_ERR_FORMAT, "%s: units: a unit is a success, but the spec has no \"success\"", where);
        const cJSON *mk = cJSON_GetObjectItemCaseSensitive(un, "mistakes");
        if (mk && !cJSON_IsArray(mk)) return sl_set_error(SL_ERR_FORMAT, "%s: units.mistakes: expected an array", where);
        for (int i = 0; mk && i < cJSON_GetArraySize(mk); i++) {
            const cJSON *e = cJSON_GetArrayItem(mk, i);
            const char *s = cJSON_IsString(e) ? e->valuestring : "";
            if (strcmp(s, "failure") == 0 && !t.is_workcell) t.mistake_failure = 1;
            else if (strcmp(s, "timeout") == 0 && !t.is_workcell) t.mistake_timeout = 1;
            else if (!t.is_workcell || !s[0])
                return sl_set_error(SL_ERR_FORMAT, "%s: units.mistakes[%d]: '%s' (expected failure or timeout)", where, i, s);
        }
        if (t.mistake_failure && !fa)
            return sl_set_error(SL_ERR_FORMAT, "%s: units.mistakes: 'failure' but the spec has no \"failure\"", where);
        t.has_units = 1;
    }
    t.econ = sl_econ_default();
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(spec, "econ");
    if (ec) {
        static const char *const ek[] = {"value_per_unit", "human_wage", NULL};
        if (!cJSON_IsObject(ec)) return sl_set_error(SL_ERR_FORMAT, "%s: econ: expected an object", where);
        SL_TRY(check_keys(ec, where, "econ", ek));
        SL_TRY(get_num(ec, "value_per_unit", where, "econ", 0, 1e9, &t.econ.value_per_unit));
        SL_TRY(get_num(ec, "human_wage", where, "econ", 1e-9, 1e9, &t.econ.human_wage));
    }
    const cJSON *wc = cJSON_GetObjectItemCaseSensitive(spec, "workcell");
    if (wc) {
        static const char *const wk[] = {"mass", "friction", "grip_normal_n", NULL};
        if (!cJSON_IsObject(wc)) return sl_set_error(SL_ERR_FORMAT, "%s: workcell: expected an object", where);
        SL_TRY(check_keys(wc, where, "workcell", wk));
        SL_TRY(get_pair(wc, "mass", where, t.wc_mass));
        SL_TRY(get_pair(wc, "friction", where, t.wc_friction));
        t.wc_grip_n = 40.0;
        SL_TRY(get_num(wc, "grip_normal_n", where, "workcell", 1e-9, 1e4, &t.wc_grip_n));
    }
    for (int i = 0; i < t.n_terms; i++)
        if (!t.is_workcell && t.terms[i].q.kind == SL_Q_PROGRESS && t.terms[i].q.obj < 0)
            return sl_set_error(SL_ERR_FORMAT, "%s: reward[%d]: progress needs a site or body and a target", where, i);
    char *canon = cJSON_PrintUnformatted(spec);
    if (!canon) return sl_set_error(SL_ERR_NOMEM, "%s: cannot print the spec", where);
    t.canon = canon;
    sl_sha256_hex(canon, strlen(canon), t.sha256);
    *out = t;
    return SL_OK;
}

/* --- evaluation ----------------------------------------------------------- */

static const double *point_pos(const mjData *d, int type, int id) {
    return type == mjOBJ_SITE ? d->site_xpos + 3 * id : d->xpos + 3 * id;
}

static void target_of(const sl_qty *q, const mjData *d, double out[3]) {
    if (q->tgt >= 0) memcpy(out, point_pos(d, q->tgt_type, q->tgt), 3 * sizeof(double));
    else memcpy(out, q->target, 3 * sizeof(double));
}

static double dist_of(const sl_qty *q, const mjData *d) {
    double t[3];
    target_of(q, d, t);
    const double *p = point_pos(d, q->obj_type, q->obj);
    return sqrt((t[0] - p[0]) * (t[0] - p[0]) + (t[1] - p[1]) * (t[1] - p[1]) + (t[2] - p[2]) * (t[2] - p[2]));
}

double sl_task_qty(const sl_qty *q, const mjModel *m, const mjData *d, const sl_task_state *ts, int term,
                   const sl_task_signals *sg) {
    mjtNum v6[6];
    switch (q->kind) {
    case SL_Q_POSITION: return point_pos(d, q->obj_type, q->obj)[q->axis];
    case SL_Q_HEIGHT: return point_pos(d, q->obj_type, q->obj)[2];
    case SL_Q_DISTANCE: return dist_of(q, d);
    case SL_Q_PROGRESS:
        if (q->obj < 0) return sg->progress;
        return ts->prev[term] - dist_of(q, d);
    case SL_Q_VELOCITY:
    case SL_Q_ANGVEL:
    case SL_Q_SPEED:
        mj_objectVelocity(m, d, q->obj_type, q->obj, v6, 0); /* [angular, linear], world frame */
        if (q->kind == SL_Q_SPEED) return sqrt(v6[3] * v6[3] + v6[4] * v6[4] + v6[5] * v6[5]);
        return q->kind == SL_Q_VELOCITY ? v6[3 + q->axis] : v6[q->axis];
    case SL_Q_UPRIGHT: return (q->obj_type == mjOBJ_SITE ? d->site_xmat + 9 * q->obj : d->xmat + 9 * q->obj)[8];
    case SL_Q_JOINT_POS:
        return q->has_value_target ? fabs(d->qpos[q->jnt_qadr] - q->value_target) : d->qpos[q->jnt_qadr];
    case SL_Q_JOINT_VEL: return d->qvel[q->jnt_dadr];
    case SL_Q_CONTROL: return sg->control;
    case SL_Q_ENERGY: return sg->energy_wh;
    case SL_Q_CONTACT:
        for (int i = 0; i < d->ncon; i++) {
            int a = d->contact[i].geom1, b = d->contact[i].geom2;
            if ((a == q->geom && (q->geom2 < 0 || b == q->geom2)) || (b == q->geom && (q->geom2 < 0 || a == q->geom2)))
                return 1.0;
        }
        return 0.0;
    case SL_Q_ALIVE: return sg->failure ? 0.0 : 1.0;
    case SL_Q_SUCCESS: return sg->success;
    case SL_Q_FAILURE: return sg->failure;
    case SL_Q_UNITS: return sg->units;
    case SL_Q_FAILURES: return sg->failures;
    default: return 0.0;
    }
}

double sl_task_reward(const sl_task *t, const mjModel *m, const mjData *d, const sl_task_state *ts,
                      const sl_task_signals *sg) {
    /* the first term starts the sum, so that the workcell's expression keeps its bits */
    double r = t->terms[0].weight * sl_task_qty(&t->terms[0].q, m, d, ts, 0, sg);
    for (int i = 1; i < t->n_terms; i++) r += t->terms[i].weight * sl_task_qty(&t->terms[i].q, m, d, ts, i, sg);
    return r;
}

static int cond_holds(const sl_task_cond *c, const mjModel *m, const mjData *d) {
    static const sl_task_signals none;
    double v = sl_task_qty(&c->q, m, d, NULL, 0, &none);
    return c->above ? v > c->value : v < c->value;
}

int sl_task_success(const sl_task *t, const mjModel *m, const mjData *d, int last) {
    if (t->n_success == 0 || (t->success_at_end && !last)) return 0;
    for (int i = 0; i < t->n_success; i++)
        if (!cond_holds(&t->success[i], m, d)) return 0;
    return 1;
}

int sl_task_failure(const sl_task *t, const mjModel *m, const mjData *d) {
    for (int i = 0; i < t->n_failure; i++)
        if (cond_holds(&t->failure[i], m, d)) return 1;
    return 0;
}

void sl_task_state_update(const sl_task *t, const mjModel *m, const mjData *d, sl_task_state *ts) {
    for (int i = 0; i < t->n_terms; i++)
        if (t->terms[i].q.kind == SL_Q_PROGRESS && t->terms[i].q.obj >= 0) ts->prev[i] = dist_of(&t->terms[i].q, d);
}

int sl_task_obs_extra(const sl_task *t) {
    int n = 0;
    for (int i = 0; i < t->n_terms; i++) {
        const sl_qty *q = &t->terms[i].q;
        if ((q->kind == SL_Q_DISTANCE || q->kind == SL_Q_PROGRESS) && q->obj >= 0) n += 6;
    }
    return n;
}

void sl_task_observe_extra(const sl_task *t, const mjModel *m, const mjData *d, float *out) {
    (void)m;
    int k = 0;
    for (int i = 0; i < t->n_terms; i++) {
        const sl_qty *q = &t->terms[i].q;
        if (!((q->kind == SL_Q_DISTANCE || q->kind == SL_Q_PROGRESS) && q->obj >= 0)) continue;
        double tg[3];
        target_of(q, d, tg);
        const double *p = point_pos(d, q->obj_type, q->obj);
        for (int j = 0; j < 3; j++) out[k++] = (float)p[j];
        for (int j = 0; j < 3; j++) out[k++] = (float)(tg[j] - p[j]);
    }
}

const sl_task *sl_env_task(const sl_env *env) { return env ? env->task : NULL; }

int sl_env_has_units(const sl_env *env) { return env && env->task ? env->task->has_units : 0; }
