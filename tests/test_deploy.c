/* SPDX-License-Identifier: Apache-2.0 */
/* test_deploy.c - the model lifecycle on a real SQLite registry: checked transitions,
 * evaluation gates, rollouts (full, canary, shadow, A-B), one rollout per endpoint (also
 * across processes), rollback and recovery, the append-only history, routing splits and
 * stickiness, health states, seed 003's rollback triggers, and the reward model. */
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "synthloop/sl_deploy.h"
#include "synthloop/sl_rl.h"

static char g_db[700], g_ckpt[700];

static sl_registry *open_fresh(const char *name) {
    snprintf(g_db, sizeof g_db, "%s/%s.db", harness_tmpdir(), name);
    unlink(g_db);
    sl_registry *reg = NULL;
    if (sl_registry_open(g_db, &reg) != SL_OK) return NULL;
    return reg;
}

static int64_t new_version(sl_registry *reg, int evaluate_pass) {
    int64_t id = 0;
    if (sl_mv_register(reg, "policy", g_ckpt, 0, 0, "{\"data\":\"real.npz\"}", "test", &id) != SL_OK)
        return 0;
    if (evaluate_pass >= 0) {
        sl_evalgate_profile p;
        sl_evalgate_profile_builtin("seed003", &p);
        const char *good = "{\"score\":0.8,\"false_intervention_rate\":0.05,\"latency_p99_ms\":3,"
                           "\"reward_stability\":0.01}";
        const char *bad = "{\"score\":0.5,\"false_intervention_rate\":0.05,\"latency_p99_ms\":3,"
                          "\"reward_stability\":0.01}";
        sl_evalgate_result r;
        if (sl_mv_record_evaluation(reg, id, &p, evaluate_pass ? good : bad, "test", &r) != SL_OK)
            return 0;
    }
    return id;
}

static const char *status_of(sl_registry *reg, int64_t id, char buf[16]) {
    sl_model_version v;
    if (sl_mv_get(reg, id, &v) != SL_OK) return "?";
    snprintf(buf, 16, "%s", v.status);
    sl_mv_record_clear(&v);
    return buf;
}

TEST(versions_and_gates) {
    sl_registry *reg = open_fresh("versions");
    CHECK(reg != NULL);
    int64_t a = new_version(reg, -1);
    CHECK(a > 0);
    char b[16];
    CHECK(strcmp(status_of(reg, a, b), "training") == 0);
    /* forbidden transitions name both states */
    CHECK_STATUS(sl_mv_transition(reg, a, SL_MV_ARCHIVED, "t", "x"), SL_ERR_STATE);
    CHECK(strstr(sl_last_error(), "training -> archived") != NULL);
    CHECK_STATUS(sl_mv_transition(reg, a, SL_MV_DEPLOYED, "t", "x"), SL_ERR_STATE);
    /* an unevaluated version cannot be deployed */
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout r;
    CHECK_STATUS(sl_rollout_start(reg, "arm", a, &full, "t", "first", &r), SL_ERR_STATE);
    /* failed gates -> failed, and still not deployable */
    int64_t f = new_version(reg, 0);
    CHECK(strcmp(status_of(reg, f, b), "failed") == 0);
    CHECK_STATUS(sl_rollout_start(reg, "arm", f, &full, "t", "first", &r), SL_ERR_STATE);
    sl_model_version v;
    CHECK_OK(sl_mv_get(reg, f, &v));
    CHECK(v.eval_passed == 0 && v.metrics_json && strstr(v.metrics_json, "\"passed\":false"));
    CHECK(strlen(v.sha256) == 64 && v.path[0] == '/');
    sl_mv_record_clear(&v);
    /* a gate on a missing metric fails; a custom profile parses; bad profiles are refused */
    sl_evalgate_profile p;
    CHECK_OK(sl_evalgate_profile_parse("{\"name\":\"x\",\"gates\":[{\"metric\":\"mpl\",\"op\":\">=\",\"threshold\":100}]}", &p));
    sl_evalgate_result gr;
    CHECK_OK(sl_evalgate_check(&p, "{\"other\":1}", &gr));
    CHECK(!gr.passed && gr.failed[0]);
    CHECK_OK(sl_evalgate_check(&p, "{\"mpl\":120}", &gr));
    CHECK(gr.passed);
    CHECK_STATUS(sl_evalgate_profile_parse("{\"gates\":[{\"metric\":\"m\",\"op\":\"==\",\"threshold\":1}]}", &p), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "gates[0].op") != NULL);
    CHECK_STATUS(sl_mv_register(reg, "policy", "/nonexistent/x", 0, 0, NULL, "t", &a), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_mv_register(reg, "robot", g_ckpt, 0, 0, NULL, "t", &a), SL_ERR_ARG);
    sl_registry_close(reg);
}

TEST(full_canary_rollback_and_history) {
    sl_registry *reg = open_fresh("rollouts");
    char b[16];
    int64_t v1 = new_version(reg, 1), v2 = new_version(reg, 1), v3 = new_version(reg, 1);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout_plan canary = sl_rollout_plan_default(SL_STRATEGY_CANARY);
    sl_rollout r, r2;
    /* a canary needs a live version to compare with */
    CHECK_STATUS(sl_rollout_start(reg, "arm", v1, &canary, "t", "x", &r), SL_ERR_STATE);
    CHECK_OK(sl_rollout_start(reg, "arm", v1, &full, "t", "first deployment", &r));
    CHECK(r.state == SL_ROLLOUT_COMPLETED);
    int64_t live;
    int has;
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, NULL, &has));
    CHECK(live == v1 && !has);
    CHECK(strcmp(status_of(reg, v1, b), "deployed") == 0);
    /* canary 10% -> 50% -> 100% */
    CHECK_OK(sl_rollout_start(reg, "arm", v2, &canary, "t", "new policy", &r));
    CHECK(r.share == 0.10 && strcmp(status_of(reg, v2, b), "deployed") == 0);
    /* one rollout at a time per endpoint */
    CHECK_STATUS(sl_rollout_start(reg, "arm", v3, &canary, "t", "x", &r2), SL_ERR_STATE);
    CHECK(strstr(sl_last_error(), "in progress") != NULL);
    CHECK_OK(sl_rollout_advance(reg, &r, "t", "stage 1 passed"));
    CHECK(r.share == 0.50 && r.state == SL_ROLLOUT_ACTIVE);
    CHECK_OK(sl_rollout_advance(reg, &r, "t", "stage 2 passed"));
    CHECK(r.state == SL_ROLLOUT_COMPLETED);
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, NULL, &has));
    CHECK(live == v2 && !has);
    CHECK(strcmp(status_of(reg, v1, b), "archived") == 0);
    /* the next candidate is rolled back: live untouched */
    CHECK_OK(sl_rollout_start(reg, "arm", v3, &canary, "t", "another", &r2));
    CHECK_OK(sl_rollout_rollback(reg, &r2, "monitor", "score dropped 30%"));
    CHECK(strcmp(status_of(reg, v3, b), "rolled_back") == 0);
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, NULL, &has));
    CHECK(live == v2 && !has);
    CHECK_STATUS(sl_rollout_advance(reg, &r2, "t", "x"), SL_ERR_STATE);
    /* endpoint rollback restores the predecessor */
    int64_t restored;
    CHECK_OK(sl_endpoint_rollback(reg, "arm", "operator", "regression seen in the field", &restored));
    CHECK(restored == v1);
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, NULL, &has));
    CHECK(live == v1);
    CHECK(strcmp(status_of(reg, v2, b), "rolled_back") == 0);
    CHECK(strcmp(status_of(reg, v1, b), "deployed") == 0);
    /* the history says what was live when, who did it and why */
    char *h = NULL;
    CHECK_OK(sl_deploy_history_json(reg, "arm", 0, &h));
    CHECK(h && strstr(h, "score dropped 30%") && strstr(h, "\"actor\":\"monitor\"") &&
          strstr(h, "regression seen in the field") && strstr(h, "\"event\":\"restored\""));
    free(h);
    sl_registry_close(reg);
    /* append-only: the database itself refuses UPDATE and DELETE */
    sqlite3 *db;
    CHECK(sqlite3_open(g_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE deployment_history SET reason = 'x'", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(strstr(sqlite3_errmsg(db), "append-only") != NULL);
    CHECK(sqlite3_exec(db, "DELETE FROM deployment_history", NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_close(db);
}

TEST(recover_after_crash_rolls_back) {
    sl_registry *reg = open_fresh("recover");
    char b[16];
    int64_t v1 = new_version(reg, 1), v2 = new_version(reg, 1);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout_plan shadow = sl_rollout_plan_default(SL_STRATEGY_SHADOW);
    sl_rollout r;
    CHECK_OK(sl_rollout_start(reg, "arm", v1, &full, "t", "first", &r));
    CHECK_OK(sl_rollout_start(reg, "arm", v2, &shadow, "t", "shadow test", &r));
    CHECK(strcmp(status_of(reg, v2, b), "evaluating") == 0); /* a shadow never serves */
    sl_registry_close(reg);
    /* a server process starts: the rollout nobody served yet (started before any server ran)
     * is claimed, not rolled back (exit code = rollbacks); then that server dies */
    pid_t pid = fork();
    if (pid == 0) {
        sl_registry *rg = NULL;
        int k = -1;
        if (sl_registry_open(g_db, &rg) != SL_OK || sl_deploy_recover(rg, "first", &k) != SL_OK) _exit(9);
        sl_model_version mv;
        int still = sl_mv_get(rg, v2, &mv) == SL_OK && strcmp(mv.status, "evaluating") == 0;
        _exit(still ? k : 8);
    }
    int wst = 0, n = -1;
    waitpid(pid, &wst, 0);
    CHECK_MSG(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "first server: exit %d", WEXITSTATUS(wst));
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK_OK(sl_deploy_recover(reg, "server", &n));
    CHECK(n == 1);
    int64_t live;
    int has;
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, NULL, &has));
    CHECK(live == v1 && !has);
    CHECK(strcmp(status_of(reg, v2, b), "rolled_back") == 0);
    CHECK_OK(sl_deploy_recover(reg, "server", &n));
    CHECK(n == 0);
    sl_registry_close(reg);
}

/* 4 processes race to start a rollout on one endpoint: exactly one wins */
TEST(one_rollout_across_processes) {
    sl_registry *reg = open_fresh("race");
    int64_t v[5];
    for (int i = 0; i < 5; i++) v[i] = new_version(reg, 1);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout r;
    CHECK_OK(sl_rollout_start(reg, "arm", v[0], &full, "t", "first", &r));
    sl_registry_close(reg);
    pid_t pid[4];
    for (int i = 0; i < 4; i++) {
        pid[i] = fork();
        if (pid[i] == 0) {
            sl_registry *rg = NULL;
            if (sl_registry_open(g_db, &rg) != SL_OK) _exit(3);
            sl_rollout_plan c = sl_rollout_plan_default(SL_STRATEGY_CANARY);
            sl_rollout rr;
            sl_status s = sl_rollout_start(rg, "arm", v[i + 1], &c, "proc", "race", &rr);
            sl_registry_close(rg);
            _exit(s == SL_OK ? 0 : s == SL_ERR_STATE ? 1 : 2);
        }
    }
    int won = 0, lost = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        int st;
        waitpid(pid[i], &st, 0);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 9;
        won += code == 0;
        lost += code == 1;
        other += code > 1;
    }
    printf("  4 processes: %d started a rollout, %d refused\n", won, lost);
    CHECK(won == 1 && lost == 3 && other == 0);
}

TEST(canary_split_and_stickiness) {
    sl_rollout r;
    memset(&r, 0, sizeof r);
    r.plan = sl_rollout_plan_default(SL_STRATEGY_CANARY);
    r.state = SL_ROLLOUT_ACTIVE;
    r.candidate = 2;
    const double shares[3] = {0.10, 0.50, 0.90};
    for (int k = 0; k < 3; k++) {
        r.share = shares[k];
        long cand = 0;
        const long N = 100000;
        for (long i = 0; i < N; i++) {
            char key[32];
            snprintf(key, sizeof key, "client-%ld", i);
            cand += sl_route_pick(1, &r, key, 0).serve == 2;
        }
        double obs = (double)cand / N;
        printf("  target %.2f: observed %.4f over %ld keys\n", shares[k], obs, N);
        CHECK(fabs(obs - shares[k]) <= 0.02);
        /* keyless requests spread evenly too */
        cand = 0;
        for (long i = 0; i < N; i++) cand += sl_route_pick(1, &r, NULL, (uint64_t)i).serve == 2;
        CHECK(fabs((double)cand / N - shares[k]) <= 0.02);
    }
    /* sticky: same key, same version; raising the share never moves a key back to live */
    for (int i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof key, "user%d", i);
        r.share = 0.10;
        sl_route a = sl_route_pick(1, &r, key, 0), a2 = sl_route_pick(1, &r, key, 99);
        CHECK(a.serve == a2.serve);
        r.share = 0.50;
        sl_route c = sl_route_pick(1, &r, key, 0);
        if (a.serve == 2) CHECK(c.serve == 2);
    }
    /* shadow: live answers, the candidate is only computed beside it */
    r.plan.strategy = SL_STRATEGY_SHADOW;
    r.share = 0;
    for (int i = 0; i < 100; i++) {
        sl_route s = sl_route_pick(1, &r, NULL, (uint64_t)i);
        CHECK(s.serve == 1 && s.shadow == 2);
    }
    /* no rollout: live */
    CHECK(sl_route_pick(7, NULL, "k", 0).serve == 7);
}

static void fill(sl_health_window *w, int n, double score, double fail_rate, double lat) {
    for (int i = 0; i < n; i++) {
        sl_outcome o = {score + 0.01 * ((i % 5) - 2), (i % 20) < fail_rate * 20 ? 1 : 0, lat, 1.0};
        sl_health_window_add(w, &o);
    }
}

TEST(health_states_and_triggers) {
    sl_health_window live, good, bad;
    CHECK_OK(sl_health_window_init(&live, 200));
    CHECK_OK(sl_health_window_init(&good, 200));
    CHECK_OK(sl_health_window_init(&bad, 200));
    fill(&live, 300, 0.85, 0.05, 5);
    fill(&good, 40, 0.86, 0.05, 6);
    fill(&bad, 40, 0.60, 0.30, 6);
    CHECK(live.n == 200 && live.total == 300);
    sl_health_metrics ml, mg, mb;
    sl_health_compute(&live, &ml);
    sl_health_compute(&good, &mg);
    sl_health_compute(&bad, &mb);
    sl_health_thresholds th = sl_health_thresholds_default();
    char failing[128];
    CHECK(sl_health_assess(&ml, &th, failing, sizeof failing) == SL_HEALTHY);
    CHECK(sl_health_assess(&mb, &th, failing, sizeof failing) == SL_DEGRADED);
    CHECK(strstr(failing, "score") && strstr(failing, "failure_rate"));
    sl_health_metrics crit = mb;
    crit.latency_p99_ms = 400;
    CHECK(sl_health_assess(&crit, &th, failing, sizeof failing) == SL_CRITICAL);
    sl_rollout_plan plan = sl_rollout_plan_default(SL_STRATEGY_CANARY);
    sl_rollback_triggers tr = sl_rollback_triggers_default();
    char why[256];
    CHECK(sl_canary_analyse(&mg, &ml, 10, &plan, &tr, &th, why, sizeof why) == SL_CANARY_WAIT);
    CHECK(sl_canary_analyse(&mg, &ml, 20, &plan, &tr, &th, why, sizeof why) == SL_CANARY_ADVANCE);
    CHECK(sl_canary_analyse(&mb, &ml, 20, &plan, &tr, &th, why, sizeof why) == SL_CANARY_ROLLBACK);
    printf("  degraded candidate: %s\n", why);
    CHECK(strstr(why, "score dropped") && strstr(why, "failure rate rose"));
    /* one unlucky failure in 20 episodes (5 % vs live 2.3 % over 200) is not significant: the
     * candidate advances (seen under traffic: a good candidate was rolled back by it) */
    sl_health_metrics one = mg, l2 = ml;
    one.n = 20;
    one.failure_rate = 0.05;
    l2.n = 200;
    l2.failure_rate = 0.023;
    CHECK(sl_canary_analyse(&one, &l2, 20, &plan, &tr, &th, why, sizeof why) == SL_CANARY_ADVANCE);
    /* latency alone triggers */
    sl_health_metrics slow = mg;
    slow.latency_p99_ms = 300;
    CHECK(sl_canary_analyse(&slow, &ml, 20, &plan, &tr, &th, why, sizeof why) == SL_CANARY_ROLLBACK);
    CHECK(strstr(why, "latency") != NULL);
    /* A-B on live outcomes */
    double p;
    CHECK(sl_ab_live_analyse(&bad, &live, 20, &p) == -1 && p < 0.05);
    CHECK(sl_ab_live_analyse(&good, &live, 100, &p) == 0); /* too few episodes */
    sl_health_window_free(&live);
    sl_health_window_free(&good);
    sl_health_window_free(&bad);
}

TEST(reward_model) {
    sl_reward_model m;
    CHECK_OK(sl_reward_model_builtin("seed003", &m));
    sl_reward_value v;
    /* seed 003's calculateReward example */
    const char *in = "{\"sentimentBefore\":-0.3,\"sentimentAfter\":0.2,\"engagementBefore\":0.5,"
                     "\"engagementAfter\":0.8,\"actionType\":\"intervene\",\"actionTiming\":2.5,"
                     "\"consentGiven\":true,\"privacyRespected\":true}";
    CHECK_OK(sl_reward_compute(&m, in, &v));
    CHECK_CLOSE(v.total, 0.4 * 0.5 + 0.4 * 0.3 + 0.2, 1e-12);
    CHECK_CLOSE(v.component[0], 0.2, 1e-12);
    double sum = 0;
    for (int i = 0; i < v.n; i++) sum += v.component[i];
    CHECK(sum == v.total);
    /* no consent: compliance 0 */
    const char *noc = "{\"sentimentBefore\":0,\"sentimentAfter\":0,\"engagementBefore\":0,"
                      "\"engagementAfter\":0,\"consentGiven\":false,\"privacyRespected\":true}";
    CHECK_OK(sl_reward_compute(&m, noc, &v));
    CHECK(v.total == 0.0);
    /* missing weighted field, non-object, custom model */
    CHECK_STATUS(sl_reward_compute(&m, "{\"sentimentBefore\":1}", &v), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "sentimentAfter") != NULL);
    CHECK_STATUS(sl_reward_compute(&m, "[1]", &v), SL_ERR_FORMAT);
    CHECK_OK(sl_reward_model_parse("{\"name\":\"arm\",\"components\":[{\"name\":\"dist\",\"type\":\"value\","
                                   "\"field\":\"distance\",\"weight\":-1},{\"name\":\"t\",\"type\":\"gaussian\","
                                   "\"field\":\"time\",\"target\":1,\"width\":0.5,\"weight\":2}]}", &m));
    CHECK_OK(sl_reward_compute(&m, "{\"distance\":0.25,\"time\":1}", &v));
    CHECK_CLOSE(v.total, -0.25 + 2.0, 1e-12);
    CHECK_STATUS(sl_reward_model_parse("{\"components\":[{\"name\":\"a\",\"type\":\"cube\",\"weight\":1}]}", &m),
                 SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "components[0].type") != NULL);
    CHECK_STATUS(sl_reward_model_parse("{\"components\":[{\"name\":\"a\",\"type\":\"gaussian\",\"weight\":1,"
                                       "\"field\":\"x\",\"target\":0,\"width\":0}]}", &m), SL_ERR_FORMAT);
    /* the workcell profile and recording each component */
    CHECK_OK(sl_reward_model_builtin("workcell", &m));
    CHECK_OK(sl_reward_compute(&m, "{\"units\":3,\"timeout\":0,\"energy_wh\":0.01}", &v));
    CHECK_CLOSE(v.total, 30 - 2.0, 1e-12);
    sl_registry *reg = open_fresh("reward");
    CHECK_OK(sl_reward_record(reg, 0, 1, 0, &m, &v));
    sl_registry_close(reg);
    sqlite3 *db;
    CHECK(sqlite3_open(g_db, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*), sum(value) FROM reward_signals", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == 3);
    CHECK_CLOSE(sqlite3_column_double(st, 1), 28.0, 1e-12);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* two real (untrained) policies saved as checkpoints, registered, evaluated and served */
static int64_t policy_version(sl_registry *reg, const char *name, uint64_t seed) {
    char path[800];
    snprintf(path, sizeof path, "%s/%s.safetensors", harness_tmpdir(), name);
    sl_rl_config c = sl_rl_config_defaults(SL_RL_IQL, 4, 2);
    c.hidden = 16;
    c.seed = seed;
    sl_agent *a = NULL;
    if (sl_agent_new(&a, &c, NULL, NULL) != SL_OK) return 0;
    sl_status s = sl_agent_save(a, path);
    sl_agent_free(a);
    if (s != SL_OK) return 0;
    int64_t id = 0;
    if (sl_mv_register(reg, "policy", path, 0, 0, NULL, "test", &id) != SL_OK) return 0;
    sl_evalgate_profile p;
    sl_evalgate_profile_builtin("seed003", &p);
    sl_evalgate_result r;
    if (sl_mv_record_evaluation(reg, id, &p, "{\"score\":0.8,\"false_intervention_rate\":0.05,"
                                "\"latency_p99_ms\":3,\"reward_stability\":0.01}", "test", &r) != SL_OK)
        return 0;
    return id;
}

/* drive the server with outcomes: live and a good or bad candidate, by who answered */
static int drive(sl_policy_server *ps, int episodes, double cand_score, double cand_fail, int64_t cand,
                 char *last, size_t cap) {
    int done = 0;
    for (int e = 0; e < episodes; e++) {
        char key[32];
        snprintf(key, sizeof key, "robot-%d", e);
        float obs[4] = {0.1f * (float)(e % 7), -0.2f, 0.3f, 0.05f * (float)(e % 3)};
        sl_ps_action a;
        if (sl_ps_act(ps, key, obs, 4, &a) != SL_OK) return -1;
        int is_c = a.version == cand;
        sl_outcome o = {is_c ? cand_score : 0.85, (e % 20) < (is_c ? cand_fail : 0.05) * 20 ? 1 : 0,
                        a.latency_ms, 1.0};
        o.score += 0.01 * ((e % 5) - 2);
        char dec[320];
        if (sl_ps_feedback(ps, a.version, &o, dec, sizeof dec) != SL_OK) return -1;
        if (dec[0]) {
            snprintf(last, cap, "%s", dec);
            if (strstr(dec, "completed") || strstr(dec, "rolled back")) return e + 1;
        }
        done = e + 1;
    }
    return -done;
}

TEST(policy_server_canary_and_rollback) {
    sl_registry *reg = open_fresh("serve");
    int64_t v1 = policy_version(reg, "p1", 1), v2 = policy_version(reg, "p2", 2),
            v3 = policy_version(reg, "p3", 3);
    CHECK(v1 > 0 && v2 > 0 && v3 > 0);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout r;
    CHECK_OK(sl_rollout_start(reg, "arm", v1, &full, "t", "first", &r));
    sl_ps_config cfg = sl_ps_config_default(g_db, "arm");
    sl_policy_server *ps = NULL;
    CHECK_OK(sl_ps_open(&cfg, &ps));
    if (!ps) return;
    CHECK(sl_ps_obs_dim(ps) == 4);
    /* bad input */
    float bad[4] = {0, NAN, 0, 0};
    sl_ps_action a;
    CHECK_STATUS(sl_ps_act(ps, "k", bad, 4, &a), SL_ERR_NAN);
    CHECK_STATUS(sl_ps_act(ps, "k", bad, 3, &a), SL_ERR_NAN);
    float ok3[3] = {0, 0, 0};
    CHECK_STATUS(sl_ps_act(ps, "k", ok3, 3, &a), SL_ERR_SHAPE);
    /* a good candidate goes 10% -> 50% -> 100% and the old version is archived */
    sl_rollout_plan canary = sl_rollout_plan_default(SL_STRATEGY_CANARY);
    CHECK_OK(sl_rollout_start(reg, "arm", v2, &canary, "t", "good candidate", &r));
    CHECK_OK(sl_ps_reload(ps));
    char last[320] = "";
    int n = drive(ps, 5000, 0.86, 0.05, v2, last, sizeof last);
    printf("  good candidate: %s after %d episodes\n", last, n);
    CHECK(n > 0 && strstr(last, "completed"));
    char b[16];
    CHECK(strcmp(status_of(reg, v1, b), "archived") == 0 && strcmp(status_of(reg, v2, b), "deployed") == 0);
    /* a degraded candidate is rolled back automatically, with the reason recorded */
    CHECK_OK(sl_rollout_start(reg, "arm", v3, &canary, "t", "degraded candidate", &r));
    CHECK_OK(sl_ps_reload(ps));
    n = drive(ps, 5000, 0.55, 0.30, v3, last, sizeof last);
    printf("  degraded candidate: %s after %d episodes\n", last, n);
    CHECK(n > 0 && strstr(last, "rolled back"));
    CHECK(strcmp(status_of(reg, v3, b), "rolled_back") == 0);
    char *h = NULL;
    CHECK_OK(sl_deploy_history_json(reg, "arm", 0, &h));
    CHECK(h && strstr(h, "canary-monitor") && strstr(h, "score dropped"));
    free(h);
    char *st = NULL;
    CHECK_OK(sl_ps_status_json(ps, &st));
    CHECK(st && strstr(st, "\"rollout\":null"));
    free(st);
    /* shadow: the candidate's actions are computed and compared, never returned */
    int64_t v4 = policy_version(reg, "p4", 4);
    sl_rollout_plan shadow = sl_rollout_plan_default(SL_STRATEGY_SHADOW);
    CHECK_OK(sl_rollout_start(reg, "arm", v4, &shadow, "t", "shadow test", &r));
    CHECK_OK(sl_ps_reload(ps));
    for (int i = 0; i < 50; i++) {
        float obs[4] = {0.01f * (float)i, 0, 0, 0};
        CHECK_OK(sl_ps_act(ps, NULL, obs, 4, &a));
        CHECK(a.version == v2 && a.shadow_version == v4);
    }
    CHECK_OK(sl_ps_status_json(ps, &st));
    CHECK(st && strstr(st, "\"compared\":50"));
    free(st);
    sl_ps_close(ps);
    sl_registry_close(reg);
}

int main(void) {
    snprintf(g_ckpt, sizeof g_ckpt, "%s/policy.safetensors", harness_tmpdir());
    FILE *f = fopen(g_ckpt, "wb");
    if (f) {
        fputs("not a real checkpoint: the lifecycle only hashes it", f);
        fclose(f);
    }
    RUN(versions_and_gates);
    RUN(full_canary_rollback_and_history);
    RUN(recover_after_crash_rolls_back);
    RUN(one_rollout_across_processes);
    RUN(canary_split_and_stickiness);
    RUN(health_states_and_triggers);
    RUN(reward_model);
    RUN(policy_server_canary_and_rollback);
    return harness_done();
}
