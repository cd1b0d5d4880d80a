/* SPDX-License-Identifier: Apache-2.0 */
/* lifecycle.c - model versions, their checked transitions, evaluation gates and rollouts.
 *
 * Invariant: every state change goes through sl_registry_deploy_apply with the status the
 * rule was checked against as its condition, so a rule checked here still holds when the
 * transaction commits (another writer in between makes the call fail with SL_ERR_STATE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "synthloop/sl_deploy.h"

static const char *const status_names[] = {"training", "evaluating", "deployed",
                                           "archived", "rolled_back", "failed"};
_Static_assert(sizeof status_names / sizeof status_names[0] == SL_MV_STATUS_COUNT, "status names");
static const char *const strategy_names[] = {"full", "canary", "shadow", "ab"};
_Static_assert(sizeof strategy_names / sizeof strategy_names[0] == SL_STRATEGY_COUNT, "strategy names");
static const char *const rollout_state_names[] = {"active", "completed", "rolled_back", "stopped"};
_Static_assert(sizeof rollout_state_names / sizeof rollout_state_names[0] == SL_ROLLOUT_STATE_COUNT,
               "rollout state names");

const char *sl_mv_status_name(sl_mv_status s) {
    return (unsigned)s < SL_MV_STATUS_COUNT ? status_names[s] : "unknown";
}
const char *sl_strategy_name(sl_strategy s) {
    return (unsigned)s < SL_STRATEGY_COUNT ? strategy_names[s] : "unknown";
}
const char *sl_rollout_state_name(sl_rollout_state s) {
    return (unsigned)s < SL_ROLLOUT_STATE_COUNT ? rollout_state_names[s] : "unknown";
}

sl_status sl_mv_status_parse(const char *name, sl_mv_status *out) {
    for (int i = 0; name && i < SL_MV_STATUS_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (sl_mv_status)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown version status '%s' (training, evaluating, deployed, "
                        "archived, rolled_back, failed)", name ? name : "");
}

sl_status sl_strategy_parse(const char *name, sl_strategy *out) {
    for (int i = 0; name && i < SL_STRATEGY_COUNT; i++)
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (sl_strategy)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown deployment strategy '%s' (full, canary, shadow, ab)",
                        name ? name : "");
}

sl_mv_status sl_mv_status_of(const sl_model_version *v) {
    sl_mv_status s;
    return sl_mv_status_parse(v->status, &s) == SL_OK ? s : SL_MV_STATUS_COUNT;
}

int sl_mv_transition_allowed(sl_mv_status from, sl_mv_status to) {
    switch (from) {
    case SL_MV_TRAINING: return to == SL_MV_EVALUATING || to == SL_MV_FAILED;
    case SL_MV_EVALUATING: return to == SL_MV_DEPLOYED || to == SL_MV_FAILED || to == SL_MV_ROLLED_BACK;
    case SL_MV_DEPLOYED: return to == SL_MV_ARCHIVED || to == SL_MV_ROLLED_BACK;
    case SL_MV_ARCHIVED: return to == SL_MV_DEPLOYED; /* restored by an endpoint rollback */
    default: return 0;
    }
}

void sl_model_versions_free(sl_model_version *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) sl_mv_record_clear(&v[i]);
    free(v);
}

/* --- versions ------------------------------------------------------------------------------ */

static const char *who(const char *actor) { return actor && *actor ? actor : "unknown"; }

sl_status sl_mv_register(sl_registry *reg, const char *kind, const char *path, int64_t parent_id,
                         int64_t run_id, const char *lineage_json, const char *actor,
                         int64_t *id) {
    static const char *const kinds[] = {"policy", "world", "trust", "generator", "encoder"};
    int ok = 0;
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++) ok |= strcmp(kind, kinds[i]) == 0;
    if (!ok)
        return sl_set_error(SL_ERR_ARG, "unknown model kind '%s' (policy, world, trust, generator, "
                            "encoder)", kind ? kind : "");
    struct stat stt;
    if (!path || stat(path, &stt) != 0 || !S_ISREG(stt.st_mode))
        return sl_set_error(SL_ERR_NOTFOUND, "%s: not a regular file", path ? path : "(null)");
    char abs[1024];
    if (!realpath(path, abs)) return sl_set_error(SL_ERR_IO, "%s: cannot resolve the path", path);
    if (lineage_json) {
        cJSON *j = cJSON_Parse(lineage_json);
        if (!j) return sl_set_error(SL_ERR_ARG, "lineage is not valid JSON");
        cJSON_Delete(j);
    }
    if (parent_id > 0) {
        sl_model_version p;
        SL_TRY(sl_registry_mv_fetch(reg, parent_id, &p));
        sl_mv_record_clear(&p);
    }
    char hex[65];
    SL_TRY(sl_sha256_file(abs, hex));
    return sl_registry_mv_insert(reg, kind, abs, hex, parent_id, run_id, lineage_json, who(actor), id);
}

sl_status sl_mv_get(sl_registry *reg, int64_t id, sl_model_version *out) {
    return sl_registry_mv_fetch(reg, id, out);
}

sl_status sl_mv_list(sl_registry *reg, int filter, sl_model_version **out, size_t *n) {
    const char *st = filter >= 0 ? sl_mv_status_name((sl_mv_status)filter) : NULL;
    return sl_registry_mv_list(reg, st, out, n);
}

static sl_status current_status(sl_registry *reg, int64_t id, sl_mv_status *st, int *eval_passed) {
    sl_model_version v;
    SL_TRY(sl_registry_mv_fetch(reg, id, &v));
    *st = sl_mv_status_of(&v);
    if (eval_passed) *eval_passed = v.eval_passed;
    sl_mv_record_clear(&v);
    if (*st == SL_MV_STATUS_COUNT)
        return sl_set_error(SL_ERR_STATE, "model version %lld has an unknown status", (long long)id);
    return SL_OK;
}

sl_status sl_mv_transition(sl_registry *reg, int64_t id, sl_mv_status to, const char *actor,
                           const char *reason) {
    sl_mv_status from;
    SL_TRY(current_status(reg, id, &from, NULL));
    if (!sl_mv_transition_allowed(from, to))
        return sl_set_error(SL_ERR_STATE, "model version %lld: %s -> %s is not a lifecycle transition",
                            (long long)id, sl_mv_status_name(from), sl_mv_status_name(to));
    if (to == SL_MV_DEPLOYED)
        return sl_set_error(SL_ERR_STATE, "model version %lld: deploy through a rollout "
                            "(synthloop deploy), not a plain transition", (long long)id);
    sl_mv_change c = {id, sl_mv_status_name(from), sl_mv_status_name(to), -2, NULL};
    sl_history_event e = {NULL, id, "transition", c.expect, c.to, NAN, reason};
    sl_deploy_change dc = {&c, 1, NULL, -1, -1, NULL, NULL, &e, 1, who(actor)};
    return sl_registry_deploy_apply(reg, &dc);
}

/* --- gates --------------------------------------------------------------------------------- */

static void gate(sl_evalgate_profile *p, const char *metric, sl_evalgate_op op, double thr, const char *seed) {
    sl_evalgate *g = &p->gates[p->n++];
    snprintf(g->metric, sizeof g->metric, "%s", metric);
    g->op = op;
    g->threshold = thr;
    snprintf(g->seed_name, sizeof g->seed_name, "%s", seed);
}

sl_status sl_evalgate_profile_builtin(const char *name, sl_evalgate_profile *out) {
    memset(out, 0, sizeof *out);
    if (name && strcmp(name, "seed003") == 0) {
        gate(out, "score", SL_EVALGATE_GE, 0.75, "empathy score");
        gate(out, "false_intervention_rate", SL_EVALGATE_LE, 0.10, "false intervention rate");
        gate(out, "latency_p99_ms", SL_EVALGATE_LE, 200, "latency");
        gate(out, "reward_stability", SL_EVALGATE_ABS_LE, 0.05, "reward stability");
    } else if (name && strcmp(name, "workcell") == 0) {
        /* docs/DEPLOY.md: score = candidate MPL / live MPL (>= 0.75 of the live version's
         * output), false interventions = the error rate (failed attempts / attempts) */
        gate(out, "mpl_ratio", SL_EVALGATE_GE, 0.75, "empathy score");
        gate(out, "error_rate", SL_EVALGATE_LE, 0.10, "false intervention rate");
        gate(out, "latency_p99_ms", SL_EVALGATE_LE, 200, "latency");
        gate(out, "reward_stability", SL_EVALGATE_ABS_LE, 0.05, "reward stability");
    } else {
        return sl_set_error(SL_ERR_ARG, "unknown gate profile '%s' (seed003, workcell, or a JSON file)",
                            name ? name : "");
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    return SL_OK;
}

sl_status sl_evalgate_profile_parse(const char *json, sl_evalgate_profile *out) {
    memset(out, 0, sizeof *out);
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sl_set_error(SL_ERR_FORMAT, "gate profile: not a JSON object");
    }
    sl_status s = SL_OK;
    const cJSON *nm = cJSON_GetObjectItem(j, "name"), *gs = cJSON_GetObjectItem(j, "gates");
    snprintf(out->name, sizeof out->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "custom");
    if (!cJSON_IsArray(gs) || cJSON_GetArraySize(gs) < 1 || cJSON_GetArraySize(gs) > SL_EVALGATES_MAX)
        s = sl_set_error(SL_ERR_FORMAT, "gate profile: \"gates\" must be an array of 1..%d gates", SL_EVALGATES_MAX);
    int i = 0;
    const cJSON *g;
    const cJSON *gl = s == SL_OK ? gs : NULL;
    cJSON_ArrayForEach(g, gl) {
        const cJSON *m = cJSON_GetObjectItem(g, "metric"), *op = cJSON_GetObjectItem(g, "op"),
                    *th = cJSON_GetObjectItem(g, "threshold");
        if (!cJSON_IsString(m) || !*m->valuestring || strlen(m->valuestring) >= sizeof out->gates[0].metric) {
            s = sl_set_error(SL_ERR_FORMAT, "gate profile: gates[%d].metric must be a short string", i);
            break;
        }
        sl_evalgate_op o = SL_EVALGATE_OP_COUNT;
        if (cJSON_IsString(op)) {
            if (strcmp(op->valuestring, ">=") == 0) o = SL_EVALGATE_GE;
            else if (strcmp(op->valuestring, "<=") == 0) o = SL_EVALGATE_LE;
            else if (strcmp(op->valuestring, "abs<=") == 0) o = SL_EVALGATE_ABS_LE;
        }
        if (o == SL_EVALGATE_OP_COUNT) {
            s = sl_set_error(SL_ERR_FORMAT, "gate profile: gates[%d].op must be \">=\", \"<=\" or \"abs<=\"", i);
            break;
        }
        if (!cJSON_IsNumber(th) || !isfinite(th->valuedouble)) {
            s = sl_set_error(SL_ERR_FORMAT, "gate profile: gates[%d].threshold must be a finite number", i);
            break;
        }
        gate(out, m->valuestring, o, th->valuedouble, "");
        i++;
    }
    cJSON_Delete(j);
    return s;
}

sl_status sl_evalgate_check(const sl_evalgate_profile *p, const char *metrics_json, sl_evalgate_result *out) {
    memset(out, 0, sizeof *out);
    cJSON *m = metrics_json ? cJSON_Parse(metrics_json) : NULL;
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return sl_set_error(SL_ERR_FORMAT, "evaluation metrics must be a JSON object of numbers");
    }
    for (int i = 0; i < p->n; i++) {
        const sl_evalgate *g = &p->gates[i];
        const cJSON *v = cJSON_GetObjectItem(m, g->metric);
        double x = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
        out->value[i] = x;
        int ok = isfinite(x) && (g->op == SL_EVALGATE_GE   ? x >= g->threshold
                                 : g->op == SL_EVALGATE_LE ? x <= g->threshold
                                                       : fabs(x) <= g->threshold);
        out->failed[i] = !ok;
        out->n_failed += !ok;
    }
    out->passed = out->n_failed == 0;
    cJSON_Delete(m);
    return SL_OK;
}

static const char *op_text(sl_evalgate_op o) { return o == SL_EVALGATE_GE ? ">=" : o == SL_EVALGATE_LE ? "<=" : "abs<="; }

sl_status sl_mv_record_evaluation(sl_registry *reg, int64_t id, const sl_evalgate_profile *p,
                                  const char *metrics_json, const char *actor,
                                  sl_evalgate_result *out) {
    sl_evalgate_result r;
    SL_TRY(sl_evalgate_check(p, metrics_json, &r));
    sl_mv_status from;
    SL_TRY(current_status(reg, id, &from, NULL));
    if (from != SL_MV_TRAINING && from != SL_MV_EVALUATING)
        return sl_set_error(SL_ERR_STATE, "model version %lld is %s: only a training or evaluating "
                            "version can be evaluated", (long long)id, sl_mv_status_name(from));
    /* the report: metrics and each gate's outcome */
    cJSON *rep = cJSON_CreateObject();
    cJSON *mj = cJSON_Parse(metrics_json);
    cJSON *ga = cJSON_CreateArray();
    if (!rep || !mj || !ga) {
        cJSON_Delete(rep);
        cJSON_Delete(mj);
        cJSON_Delete(ga);
        return sl_set_error(SL_ERR_NOMEM, "evaluation report: out of memory");
    }
    cJSON_AddStringToObject(rep, "profile", p->name);
    cJSON_AddItemToObject(rep, "metrics", mj);
    for (int i = 0; i < p->n; i++) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "metric", p->gates[i].metric);
        cJSON_AddStringToObject(g, "op", op_text(p->gates[i].op));
        cJSON_AddNumberToObject(g, "threshold", p->gates[i].threshold);
        if (isfinite(r.value[i])) cJSON_AddNumberToObject(g, "value", r.value[i]);
        else cJSON_AddNullToObject(g, "value");
        cJSON_AddBoolToObject(g, "passed", !r.failed[i]);
        if (p->gates[i].seed_name[0]) cJSON_AddStringToObject(g, "seed003", p->gates[i].seed_name);
        cJSON_AddItemToArray(ga, g);
    }
    cJSON_AddItemToObject(rep, "gates", ga);
    cJSON_AddBoolToObject(rep, "passed", r.passed);
    char *txt = cJSON_PrintUnformatted(rep);
    cJSON_Delete(rep);
    if (!txt) return sl_set_error(SL_ERR_NOMEM, "evaluation report: out of memory");
    const char *to = r.passed ? "evaluating" : "failed";
    char why[256];
    snprintf(why, sizeof why, "profile %s: %d of %d gates failed", p->name, r.n_failed, p->n);
    sl_mv_change c = {id, sl_mv_status_name(from), to, r.passed ? 1 : 0, txt};
    sl_history_event e = {NULL, id, "evaluated", c.expect, to, NAN, why};
    sl_deploy_change dc = {&c, 1, NULL, -1, -1, NULL, NULL, &e, 1, who(actor)};
    sl_status s = sl_registry_deploy_apply(reg, &dc);
    free(txt);
    if (s == SL_OK && out) *out = r;
    return s;
}

/* --- rollouts ------------------------------------------------------------------------------ */

sl_rollout_plan sl_rollout_plan_default(sl_strategy s) {
    sl_rollout_plan p;
    memset(&p, 0, sizeof p);
    p.strategy = s;
    p.n_stages = 3;
    p.stages[0] = 0.10;
    p.stages[1] = 0.50;
    p.stages[2] = 1.00;
    p.ab_share = 0.5;
    p.min_episodes = 20;
    p.ab_max_episodes = 200;
    return p;
}

static sl_status plan_check(const sl_rollout_plan *p) {
    if ((unsigned)p->strategy >= SL_STRATEGY_COUNT) return sl_set_error(SL_ERR_ARG, "rollout: bad strategy");
    if (p->min_episodes < 1) return sl_set_error(SL_ERR_ARG, "rollout: min_episodes must be >= 1");
    if (p->strategy == SL_STRATEGY_CANARY) {
        if (p->n_stages < 1 || p->n_stages > SL_CANARY_STAGES_MAX)
            return sl_set_error(SL_ERR_ARG, "rollout: a canary needs 1..%d stages", SL_CANARY_STAGES_MAX);
        for (int i = 0; i < p->n_stages; i++)
            if (!(p->stages[i] > 0 && p->stages[i] <= 1) || (i && p->stages[i] <= p->stages[i - 1]))
                return sl_set_error(SL_ERR_ARG, "rollout: canary stages must increase within (0, 1]");
        if (p->stages[p->n_stages - 1] != 1.0)
            return sl_set_error(SL_ERR_ARG, "rollout: the last canary stage must be 1 (100%%)");
    }
    if (p->strategy == SL_STRATEGY_AB && !(p->ab_share > 0 && p->ab_share < 1))
        return sl_set_error(SL_ERR_ARG, "rollout: the A-B share must be in (0, 1)");
    return SL_OK;
}

static void plan_json(const sl_rollout_plan *p, char *buf, size_t cap) {
    int k = snprintf(buf, cap, "{\"strategy\":\"%s\",\"stages\":[", sl_strategy_name(p->strategy));
    for (int i = 0; i < p->n_stages && k > 0 && (size_t)k < cap; i++)
        k += snprintf(buf + k, cap - (size_t)k, "%s%.6g", i ? "," : "", p->stages[i]);
    if (k > 0 && (size_t)k < cap)
        snprintf(buf + k, cap - (size_t)k, "],\"ab_share\":%.6g,\"min_episodes\":%d,\"ab_max_episodes\":%d}",
                 p->ab_share, p->min_episodes, p->ab_max_episodes);
}

static void plan_from_json(const char *txt, sl_rollout_plan *p) {
    cJSON *j = cJSON_Parse(txt);
    const cJSON *st = cJSON_GetObjectItem(j, "strategy");
    sl_strategy s = SL_STRATEGY_FULL;
    if (cJSON_IsString(st)) (void)sl_strategy_parse(st->valuestring, &s);
    *p = sl_rollout_plan_default(s);
    const cJSON *a = cJSON_GetObjectItem(j, "stages"), *e;
    int n = 0;
    cJSON_ArrayForEach(e, a) if (n < SL_CANARY_STAGES_MAX) p->stages[n++] = e->valuedouble;
    if (n) p->n_stages = n;
    const cJSON *x;
    if (cJSON_IsNumber(x = cJSON_GetObjectItem(j, "ab_share"))) p->ab_share = x->valuedouble;
    if (cJSON_IsNumber(x = cJSON_GetObjectItem(j, "min_episodes"))) p->min_episodes = x->valueint;
    if (cJSON_IsNumber(x = cJSON_GetObjectItem(j, "ab_max_episodes"))) p->ab_max_episodes = x->valueint;
    cJSON_Delete(j);
}

static void to_rollout(const sl_rollout_record *rec, sl_rollout *r) {
    memset(r, 0, sizeof *r);
    r->id = rec->id;
    snprintf(r->endpoint, sizeof r->endpoint, "%s", rec->endpoint);
    r->candidate = rec->candidate;
    r->live = rec->live;
    plan_from_json(rec->plan_json, &r->plan);
    r->stage = rec->stage;
    r->share = rec->share;
    r->state = SL_ROLLOUT_ACTIVE;
    for (int i = 0; i < SL_ROLLOUT_STATE_COUNT; i++)
        if (strcmp(rec->state, rollout_state_names[i]) == 0) r->state = (sl_rollout_state)i;
    snprintf(r->reason, sizeof r->reason, "%s", rec->reason);
}

static void to_record(const sl_rollout *r, sl_rollout_record *rec) {
    memset(rec, 0, sizeof *rec);
    rec->id = r->id;
    snprintf(rec->endpoint, sizeof rec->endpoint, "%s", r->endpoint);
    rec->candidate = r->candidate;
    rec->live = r->live;
    snprintf(rec->strategy, sizeof rec->strategy, "%s", sl_strategy_name(r->plan.strategy));
    plan_json(&r->plan, rec->plan_json, sizeof rec->plan_json);
    rec->stage = r->stage;
    rec->share = r->share;
    snprintf(rec->state, sizeof rec->state, "%s", sl_rollout_state_name(r->state));
    snprintf(rec->reason, sizeof rec->reason, "%s", r->reason);
}

sl_status sl_endpoint_state(sl_registry *reg, const char *endpoint, int64_t *live,
                            sl_rollout *rollout, int *has_rollout) {
    sl_rollout_record rec;
    SL_TRY(sl_registry_endpoint_get(reg, endpoint, live, &rec, has_rollout));
    if (*has_rollout && rollout) to_rollout(&rec, rollout);
    return SL_OK;
}

static sl_status check_endpoint_name(const char *e) {
    size_t n = e ? strlen(e) : 0;
    if (n == 0 || n >= 64) return sl_set_error(SL_ERR_ARG, "endpoint name must be 1..63 characters");
    for (size_t i = 0; i < n; i++) {
        char c = e[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return sl_set_error(SL_ERR_ARG, "endpoint name '%s': only letters, digits, '-', '_', '.'", e);
    }
    return SL_OK;
}

/* promote the candidate to live: candidate deployed (from its current status), old live archived */
static sl_status promote(sl_registry *reg, sl_rollout *r, const char *cand_from, const char *actor,
                         const char *event, const char *reason, int insert) {
    sl_mv_change c[2];
    size_t nc = 0;
    if (strcmp(cand_from, "deployed") != 0)
        c[nc++] = (sl_mv_change){r->candidate, cand_from, "deployed", -2, NULL};
    if (r->live > 0) c[nc++] = (sl_mv_change){r->live, "deployed", "archived", -2, NULL};
    sl_history_event ev[3];
    size_t ne = 0;
    ev[ne++] = (sl_history_event){r->endpoint, r->candidate, event, cand_from, "deployed", 1.0, reason};
    ev[ne++] = (sl_history_event){r->endpoint, r->candidate, "live", "deployed", "deployed", 1.0, reason};
    if (r->live > 0)
        ev[ne++] = (sl_history_event){r->endpoint, r->live, "archived", "deployed", "archived", 0.0,
                                      "replaced by a newer version"};
    sl_rollout_state prev = r->state;
    r->state = SL_ROLLOUT_COMPLETED;
    r->share = 1.0;
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    sl_rollout_record rec;
    to_record(r, &rec);
    if (insert) rec.id = 0;
    sl_deploy_change dc = {c, nc, r->endpoint, r->live, r->candidate, &rec,
                           insert ? NULL : "active", ev, ne, who(actor)};
    sl_status s = sl_registry_deploy_apply(reg, &dc);
    if (s == SL_OK) r->id = rec.id;
    else r->state = prev;
    return s;
}

sl_status sl_rollout_start(sl_registry *reg, const char *endpoint, int64_t candidate,
                           const sl_rollout_plan *plan, const char *actor, const char *reason,
                           sl_rollout *out) {
    memset(out, 0, sizeof *out);
    SL_TRY(check_endpoint_name(endpoint));
    SL_TRY(plan_check(plan));
    sl_mv_status st;
    int passed;
    SL_TRY(current_status(reg, candidate, &st, &passed));
    if (st != SL_MV_EVALUATING || passed != 1)
        return sl_set_error(SL_ERR_STATE, "model version %lld is %s%s: only a version that passed "
                            "evaluation can be deployed", (long long)candidate, sl_mv_status_name(st),
                            st == SL_MV_EVALUATING ? (passed == 0 ? " (failed its gates)" : " (not evaluated)") : "");
    int64_t live;
    int has;
    SL_TRY(sl_registry_endpoint_get(reg, endpoint, &live, NULL, &has));
    if (has) return sl_set_error(SL_ERR_STATE, "endpoint %s already has a rollout in progress", endpoint);
    if (live == 0 && plan->strategy != SL_STRATEGY_FULL)
        return sl_set_error(SL_ERR_STATE, "endpoint %s has no live version: a %s rollout needs one to "
                            "compare with (deploy the first version with strategy full)",
                            endpoint, sl_strategy_name(plan->strategy));
    snprintf(out->endpoint, sizeof out->endpoint, "%s", endpoint);
    out->candidate = candidate;
    out->live = live;
    out->plan = *plan;
    out->state = SL_ROLLOUT_ACTIVE;
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    if (plan->strategy == SL_STRATEGY_FULL)
        return promote(reg, out, "evaluating", actor, "rollout_started", reason, 1);
    out->share = plan->strategy == SL_STRATEGY_CANARY ? plan->stages[0]
                 : plan->strategy == SL_STRATEGY_AB   ? plan->ab_share
                                                      : 0.0;
    /* a candidate that serves traffic is deployed; a shadow stays evaluating */
    const char *to = plan->strategy == SL_STRATEGY_SHADOW ? "evaluating" : "deployed";
    sl_mv_change c = {candidate, "evaluating", to, -2, NULL};
    sl_history_event e = {endpoint, candidate, "rollout_started", "evaluating", to, out->share, reason};
    sl_rollout_record rec;
    to_record(out, &rec);
    rec.id = 0;
    sl_deploy_change dc = {&c, 1, endpoint, live, -1, &rec, NULL, &e, 1, who(actor)};
    SL_TRY(sl_registry_deploy_apply(reg, &dc));
    out->id = rec.id;
    return SL_OK;
}

static sl_status need_active(const sl_rollout *r) {
    if (r->state != SL_ROLLOUT_ACTIVE)
        return sl_set_error(SL_ERR_STATE, "rollout %lld is %s, not active", (long long)r->id,
                            sl_rollout_state_name(r->state));
    return SL_OK;
}

sl_status sl_rollout_advance(sl_registry *reg, sl_rollout *r, const char *actor, const char *reason) {
    SL_TRY(need_active(r));
    if (r->plan.strategy != SL_STRATEGY_CANARY)
        return sl_set_error(SL_ERR_STATE, "rollout %lld is %s: only a canary advances in stages",
                            (long long)r->id, sl_strategy_name(r->plan.strategy));
    if (r->stage + 1 >= r->plan.n_stages || r->plan.stages[r->stage + 1] >= 1.0)
        return sl_rollout_complete(reg, r, actor, reason);
    sl_rollout next = *r;
    next.stage++;
    next.share = r->plan.stages[next.stage];
    snprintf(next.reason, sizeof next.reason, "%s", reason ? reason : "");
    sl_history_event e = {r->endpoint, r->candidate, "stage", "deployed", "deployed", next.share, reason};
    sl_rollout_record rec;
    to_record(&next, &rec);
    sl_deploy_change dc = {NULL, 0, r->endpoint, r->live, -1, &rec, "active", &e, 1, who(actor)};
    SL_TRY(sl_registry_deploy_apply(reg, &dc));
    *r = next;
    return SL_OK;
}

sl_status sl_rollout_complete(sl_registry *reg, sl_rollout *r, const char *actor, const char *reason) {
    SL_TRY(need_active(r));
    const char *from = r->plan.strategy == SL_STRATEGY_SHADOW ? "evaluating" : "deployed";
    return promote(reg, r, from, actor, "completed", reason, 0);
}

sl_status sl_rollout_rollback(sl_registry *reg, sl_rollout *r, const char *actor, const char *reason) {
    SL_TRY(need_active(r));
    const char *from = r->plan.strategy == SL_STRATEGY_SHADOW ? "evaluating" : "deployed";
    sl_mv_change c = {r->candidate, from, "rolled_back", -2, NULL};
    sl_history_event e = {r->endpoint, r->candidate, "rolled_back", from, "rolled_back", 0.0, reason};
    sl_rollout next = *r;
    next.state = SL_ROLLOUT_ROLLED_BACK;
    next.share = 0.0;
    snprintf(next.reason, sizeof next.reason, "%s", reason ? reason : "");
    sl_rollout_record rec;
    to_record(&next, &rec);
    sl_deploy_change dc = {&c, 1, r->endpoint, r->live, -1, &rec, "active", &e, 1, who(actor)};
    SL_TRY(sl_registry_deploy_apply(reg, &dc));
    *r = next;
    return SL_OK;
}

sl_status sl_endpoint_rollback(sl_registry *reg, const char *endpoint, const char *actor,
                               const char *reason, int64_t *restored) {
    if (restored) *restored = 0;
    SL_TRY(check_endpoint_name(endpoint));
    int64_t live;
    int has;
    sl_rollout_record rec;
    SL_TRY(sl_registry_endpoint_get(reg, endpoint, &live, &rec, &has));
    if (has) {
        sl_rollout r;
        to_rollout(&rec, &r);
        SL_TRY(sl_rollout_rollback(reg, &r, actor, reason));
        if (restored) *restored = live;
        return SL_OK;
    }
    if (live == 0) return sl_set_error(SL_ERR_STATE, "endpoint %s has no live version to roll back", endpoint);
    int64_t prev;
    SL_TRY(sl_registry_endpoint_previous(reg, endpoint, live, &prev));
    if (prev == 0)
        return sl_set_error(SL_ERR_STATE, "endpoint %s: version %lld has no predecessor to restore",
                            endpoint, (long long)live);
    sl_mv_change c[2] = {{live, "deployed", "rolled_back", -2, NULL},
                         {prev, "archived", "deployed", -2, NULL}};
    sl_history_event e[3] = {{endpoint, live, "rolled_back", "deployed", "rolled_back", 0.0, reason},
                             {endpoint, prev, "restored", "archived", "deployed", 1.0, reason},
                             {endpoint, prev, "live", "deployed", "deployed", 1.0, reason}};
    sl_deploy_change dc = {c, 2, endpoint, live, prev, NULL, NULL, e, 3, who(actor)};
    SL_TRY(sl_registry_deploy_apply(reg, &dc));
    if (restored) *restored = prev;
    return SL_OK;
}

sl_status sl_deploy_recover(sl_registry *reg, const char *actor, int *n) {
    if (n) *n = 0;
    int64_t ids[256];
    size_t k;
    SL_TRY(sl_registry_rollouts_active(reg, ids, 256, &k));
    for (size_t i = 0; i < k; i++) {
        int claimed, orphaned;
        SL_TRY(sl_registry_rollout_claim(reg, ids[i], &claimed, &orphaned));
        if (!orphaned) continue; /* unclaimed (now ours), ours, or a live server's */
        sl_rollout_record rec;
        SL_TRY(sl_registry_rollout_fetch(reg, ids[i], &rec));
        sl_rollout r;
        to_rollout(&rec, &r);
        SL_TRY(sl_rollout_rollback(reg, &r, actor,
                                   "interrupted: the server serving this rollout stopped; its live "
                                   "metrics were lost, so the candidate is rolled back"));
        if (n) (*n)++;
    }
    return SL_OK;
}

sl_status sl_deploy_history_json(sl_registry *reg, const char *endpoint, int limit, char **out) {
    return sl_registry_deploy_history(reg, endpoint, limit, out);
}
