/* SPDX-License-Identifier: Apache-2.0 */
/* test_traffic.c - the model lifecycle driven by closed-loop use: policies trained with the
 * project's own path (`synthloop collect` + `synthloop train`), gated by the physics evaluation
 * (`models evaluate --physics`), served by a real `synthloop serve --endpoint` process, and
 * exercised by `synthloop traffic` (workcell episodes whose every action comes from /v1/act,
 * outcomes to /v1/feedback).
 *   1. The physics gate: two IQL policies trained on expert episodes pass the workcell profile
 *      (against the scripted expert and against each other); a policy trained on random-policy
 *      episodes (poisoned data) fails it with MPL ratio < 0.75 and error rate > 0.10.
 *   2. A good candidate's canary goes 10 % -> 50 % -> 100 % under traffic and the old live
 *      version is archived.
 *   3. The poisoned policy, registered again with an evaluation that let it through (as a gate
 *      that missed it would), is rolled back automatically by the canary analysis within
 *      300 traffic episodes (its first 20 candidate episodes), with the reason in the history;
 *      the live version never stops serving. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_deploy.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"

#define TOKEN "traffic-test-token"

static char g_dir[700], g_db[800];
static int g_port;
static int64_t g_live;
static pid_t g_pid;

static const char *bin(void) {
    const char *b = getenv("SL_BIN");
    return b && *b ? b : "build/synthloop";
}

/* run the binary with a shell command line; returns its exit status */
static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >/dev/null 2>>log.txt", g_dir, bin(), args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* start `synthloop serve --endpoint arm` on a free port; returns its pid, *port */
static pid_t start_server(int *port) {
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char web[800];
        snprintf(web, sizeof web, "%s/web", getenv("SL_TEST_ROOT") ? getenv("SL_TEST_ROOT") : ".");
        execl(bin(), "synthloop", "serve", "--db", g_db, "--web", web, "--port", "0", "--token", TOKEN,
              "--endpoint", "arm", "--json", "--quiet", "--duration", "300", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[4096];
    ssize_t n = read(pfd[0], line, sizeof line - 1);
    close(pfd[0]);
    if (n <= 0) return -1;
    line[n] = 0;
    cJSON *j = cJSON_Parse(line);
    *port = sl_json_int(j, "port", 0);
    cJSON_Delete(j);
    return *port > 0 ? pid : -1;
}

/* `synthloop traffic` for n episodes; returns its JSON result (cJSON_Delete) */
static cJSON *traffic(int port, int episodes, int seed) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' traffic --url http://127.0.0.1:%d --token %s --endpoint arm --episodes %d "
             "--clients 4 --seed %d --json", bin(), port, TOKEN, episodes, seed);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    return cJSON_Parse(out);
}

static int api_deploy(int port, int64_t version, int min_episodes) {
    char url[128], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/deploy", port);
    snprintf(body, sizeof body, "{\"version\":%lld,\"endpoint\":\"arm\",\"strategy\":\"canary\",\"reason\":\"test\","
             "\"min_episodes\":%d}", (long long)version, min_episodes);
    int code = 0;
    char *resp = NULL;
    size_t n = 0;
    if (sl_http_post(url, body, TOKEN, 10, &code, &resp, &n) != SL_OK) return -1;
    free(resp);
    return code;
}

static int64_t reg_policy(sl_registry *reg, const char *file) {
    char path[900];
    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    int64_t id = 0;
    return sl_mv_register(reg, "policy", path, 0, 0, NULL, "test", &id) == SL_OK ? id : 0;
}

static int status_is(sl_registry *reg, int64_t id, const char *want) {
    sl_model_version v;
    if (sl_mv_get(reg, id, &v) != SL_OK) return 0;
    int ok = strcmp(v.status, want) == 0;
    if (!ok) printf("  version %lld is %s, expected %s\n", (long long)id, v.status, want);
    sl_mv_record_clear(&v);
    return ok;
}

/* drive traffic in rounds of 100 episodes until a decision containing `word` arrives (or
 * max episodes); returns the episodes driven, *cand_eps the candidate's episodes in them */
static long drive_until(int port, const char *word, long max, int64_t cand, long *cand_eps, char *dec, size_t cap) {
    long total = 0;
    *cand_eps = 0;
    dec[0] = 0;
    for (int round = 0; total < max; round++) {
        cJSON *j = traffic(port, 100, 1000 * round + (int)cand);
        CHECK(j != NULL);
        if (!j) return total;
        CHECK_MSG(sl_json_int(j, "errors", -1) == 0, "traffic errors: %s",
                  cJSON_IsString(cJSON_GetObjectItem(j, "last_error")) ? cJSON_GetObjectItem(j, "last_error")->valuestring : "");
        const cJSON *v, *d;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(j, "versions"))
            if (sl_json_int(v, "version", 0) == cand) *cand_eps += sl_json_int(v, "episodes", 0);
        long found = -1;
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "decisions")) {
            const char *t = cJSON_GetObjectItem(d, "decision")->valuestring;
            printf("  after %ld episodes: %s\n", total + sl_json_int(d, "after_episodes", 0), t);
            if (found < 0 && strstr(t, word)) {
                found = total + sl_json_int(d, "after_episodes", 0);
                snprintf(dec, cap, "%s", t);
            }
        }
        printf("  round %d: %.0f requests/s, act p99 %.2f ms\n", round,
               cJSON_GetObjectItem(j, "requests_per_s")->valuedouble,
               cJSON_GetObjectItem(j, "act_p99_ms")->valuedouble);
        total += sl_json_int(j, "episodes", 0);
        cJSON_Delete(j);
        if (found >= 0) return found;
    }
    return -1;
}

TEST(canary_and_rollback_under_traffic) {
    snprintf(g_dir, sizeof g_dir, "%s/traffic", harness_tmpdir());
    char mk[800];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", g_dir);
    CHECK(system(mk) == 0);
    snprintf(g_db, sizeof g_db, "%s/reg.db", g_dir);
    double t0 = sl_now();
    /* the project's own train path: expert episodes -> two good IQL policies; random-policy
     * episodes (poisoned data) -> a bad one */
    CHECK(run("collect -p expert -n 30 -s 1 -o expert.npz --db none --quiet") == 0);
    CHECK(run("collect -p random -n 20 -s 2 -o random.npz --db none --quiet") == 0);
    CHECK(run("train --data expert.npz --latents none --output good1.safetensors --updates 3000 --seed 1 "
              "--threads 1 --db none --quiet") == 0);
    CHECK(run("train --data expert.npz --latents none --output good2.safetensors --updates 3000 --seed 2 "
              "--threads 1 --db none --quiet") == 0);
    CHECK(run("train --data random.npz --latents none --output poisoned.safetensors --updates 500 --seed 3 "
              "--threads 1 --db none --quiet") == 0);
    printf("  trained 3 policies in %.1f s\n", sl_now() - t0);

    /* 1. the physics gate (library call, the same as `models evaluate --physics`) */
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    int64_t v1 = reg_policy(reg, "good1.safetensors"), v2 = reg_policy(reg, "good2.safetensors"),
            v3 = reg_policy(reg, "poisoned.safetensors"), v4 = reg_policy(reg, "poisoned.safetensors");
    CHECK(v1 && v2 && v3 && v4);
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    sl_evalgate_profile wc;
    CHECK_OK(sl_evalgate_profile_builtin("workcell", &wc));
    int64_t ids[3] = {v1, v2, v3}, against[3] = {0, v1, v1};
    int want_pass[3] = {1, 1, 0};
    for (int i = 0; i < 3; i++) {
        sl_physics_eval e, e2;
        CHECK_OK(sl_deploy_evaluate_physics(reg, ids[i], against[i], NULL, env, 60, 7, &e));
        printf("  version %lld vs %s: MPL %.0f vs %.0f (ratio %.3f), error rate %.3f, p99 %.3f ms, "
               "reward stability %.4f\n", (long long)ids[i], against[i] ? "version 1" : "expert", e.mpl, e.ref_mpl,
               e.mpl_ratio, e.error_rate, e.latency_p99_ms, e.reward_stability);
        /* paired and reproducible: the same seed gives the same physics */
        CHECK_OK(sl_deploy_evaluate_physics(reg, ids[i], against[i], NULL, env, 60, 7, &e2));
        CHECK(e.mpl == e2.mpl && e.error_rate == e2.error_rate && e.ref_mpl == e2.ref_mpl &&
              e.reward_stability == e2.reward_stability);
        char *m = sl_physics_eval_json(&e);
        sl_evalgate_result r;
        CHECK(m != NULL);
        CHECK_OK(sl_mv_record_evaluation(reg, ids[i], &wc, m, "test", &r));
        free(m);
        CHECK_MSG(r.passed == want_pass[i], "version %lld: passed %d, expected %d", (long long)ids[i], r.passed,
                  want_pass[i]);
        if (!want_pass[i]) CHECK(e.mpl_ratio < 0.75 && e.error_rate > 0.10);
    }
    sl_env_free(env);
    CHECK(status_is(reg, v3, "failed"));
    /* an evaluation that let the poisoned policy through (numbers from somewhere else) */
    sl_evalgate_result r;
    CHECK_OK(sl_mv_record_evaluation(reg, v4, &wc, "{\"mpl_ratio\":0.95,\"error_rate\":0.02,\"latency_p99_ms\":1,"
                                     "\"reward_stability\":0.01}", "test", &r));
    CHECK(r.passed);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout ro;
    CHECK_OK(sl_rollout_start(reg, "arm", v1, &full, "test", "first", &ro));
    sl_registry_close(reg);

    int port = 0;
    pid_t pid = start_server(&port);
    CHECK(pid > 0);
    if (pid <= 0) return;

    /* 2. a good candidate: 10 % -> 50 % -> 100 %, the old version archived */
    CHECK(api_deploy(port, v2, 20) == 200);
    long cand = 0;
    char dec[400];
    long at = drive_until(port, "completed", 800, v2, &cand, dec, sizeof dec);
    printf("  good candidate: completed after %ld episodes (%ld of them its own)\n", at, cand);
    CHECK(at > 0);
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK(status_is(reg, v2, "deployed") && status_is(reg, v1, "archived"));
    int64_t live = 0;
    int has = 1;
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, &ro, &has));
    CHECK(live == v2 && !has);
    sl_registry_close(reg);

    /* 3. the poisoned candidate: rolled back automatically, with the reason recorded */
    CHECK(api_deploy(port, v4, 20) == 200);
    at = drive_until(port, "rolled back", 300, v4, &cand, dec, sizeof dec);
    printf("  poisoned candidate: rolled back after %ld episodes (%ld of them its own): %s\n", at, cand, dec);
    CHECK(at > 0 && at <= 300);
    CHECK(strstr(dec, "score dropped") || strstr(dec, "failure rate rose"));
    CHECK_OK(sl_registry_open(g_db, &reg));
    CHECK(status_is(reg, v4, "rolled_back") && status_is(reg, v2, "deployed"));
    CHECK_OK(sl_endpoint_state(reg, "arm", &live, &ro, &has));
    CHECK(live == v2 && !has);
    char *h = NULL;
    CHECK_OK(sl_deploy_history_json(reg, "arm", 50, &h));
    CHECK(h && strstr(h, "canary-monitor") && (strstr(h, "score dropped") || strstr(h, "failure rate rose")));
    free(h);
    sl_registry_close(reg);
    g_port = port;
    g_live = v2;
    g_pid = pid;
    printf("  whole test %.1f s\n", sl_now() - t0);
}

/* the dashboard's lifecycle panels in headless Chromium: a third canary (good1 again as a new
 * version, kept at 10 % by a large min_episodes) under a little traffic, then the DOM must show
 * the versions with their status, the 90/10 split, both versions' health, and the history with
 * the rollback above; and a screenshot that is not blank */
TEST(dashboard_lifecycle_in_chromium) {
    const char *chromium = "/usr/bin/chromium";
    CHECK_MSG(access(chromium, X_OK) == 0, "%s is missing: the dashboard test cannot run", chromium);
    CHECK(g_port > 0);
    if (access(chromium, X_OK) != 0 || g_port <= 0) return;
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    int64_t v5 = reg_policy(reg, "good1.safetensors");
    sl_evalgate_profile wc;
    sl_evalgate_result r;
    CHECK_OK(sl_evalgate_profile_builtin("workcell", &wc));
    CHECK_OK(sl_mv_record_evaluation(reg, v5, &wc, "{\"mpl_ratio\":1.1,\"error_rate\":0.01,\"latency_p99_ms\":1,"
                                     "\"reward_stability\":0.02}", "test", &r));
    sl_registry_close(reg);
    CHECK(api_deploy(g_port, v5, 100000) == 200);
    cJSON *t = traffic(g_port, 60, 77);
    CHECK(t && sl_json_int(t, "errors", -1) == 0);
    cJSON_Delete(t);
    char prof[800], dom[800], png[800], cmd[4096];
    snprintf(prof, sizeof prof, "%s/chromium", g_dir);
    snprintf(dom, sizeof dom, "%s/dom.html", g_dir);
    snprintf(png, sizeof png, "%s/lifecycle.png", g_dir);
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --disable-dev-shm-usage --hide-scrollbars";
    snprintf(cmd, sizeof cmd, "timeout -k 5 60 %s %s --user-data-dir='%s/a' --virtual-time-budget=8000"
             " --dump-dom 'http://127.0.0.1:%d/?live=0' > '%s' 2>/dev/null", chromium, flags, prof, g_port, dom);
    int rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --dump-dom failed (status %d)", rc);
    char *d = NULL;
    size_t dl = 0;
    CHECK_OK(sl_read_file(dom, &d, &dl));
    if (d) {
        char want[96];
        snprintf(want, sizeof want, "data-version-id=\"%lld\" data-status=\"deployed\"", (long long)v5);
        CHECK_MSG(strstr(d, want) != NULL, "version %lld not listed as deployed", (long long)v5);
        CHECK(strstr(d, "data-status=\"rolled_back\"") && strstr(d, "data-status=\"archived\"") &&
              strstr(d, "data-status=\"failed\""));
        CHECK_MSG(strstr(d, "data-split=\"0.1\"") != NULL, "the 90/10 split is not drawn");
        snprintf(want, sizeof want, "data-health-version=\"%lld\"", (long long)v5);
        CHECK_MSG(strstr(d, want) != NULL, "no health row of the candidate");
        snprintf(want, sizeof want, "data-health-version=\"%lld\" data-health=\"", (long long)g_live);
        const char *h = strstr(d, want);
        CHECK_MSG(h && (!strncmp(h + strlen(want), "healthy", 7) || !strncmp(h + strlen(want), "degraded", 8) ||
                        !strncmp(h + strlen(want), "critical", 8)), "no health state of the live version");
        CHECK(strstr(d, "data-event=\"rolled_back\"") != NULL && strstr(d, "score dropped") != NULL);
    }
    free(d);
    snprintf(cmd, sizeof cmd, "timeout -k 5 60 %s %s --user-data-dir='%s/b' --virtual-time-budget=8000"
             " --window-size=1400,1100 --screenshot='%s' 'http://127.0.0.1:%d/?live=0' >/dev/null 2>&1",
             chromium, flags, prof, png, g_port);
    rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --screenshot failed (status %d)", rc);
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/reg_png_check.py '%s'", SL_PYTHON,
             getenv("SL_TEST_ROOT") ? getenv("SL_TEST_ROOT") : ".", png);
    CHECK_MSG(system(cmd) == 0, "screenshot %s is blank or unreadable", png);
    /* keep a copy for people to look at (the test directory is removed) */
    if (getenv("SL_KEEP_SHOT")) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", png, getenv("SL_KEEP_SHOT"));
        CHECK(system(cmd) == 0);
    }
}

/* `models evaluate --physics` from the command line: a new version of good1 against the live
 * version of endpoint arm; --physics with --metrics is a usage error */
TEST(cli_physics_evaluate) {
    CHECK(g_port > 0);
    if (g_port <= 0) return;
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    int64_t v = reg_policy(reg, "good1.safetensors");
    sl_registry_close(reg);
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' models evaluate %lld --physics --endpoint arm --episodes 8 --db '%s' --json",
             bin(), (long long)v, g_db);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(rc == 0, "models evaluate --physics failed: %s", out);
    cJSON *j = cJSON_Parse(out);
    CHECK(j && sl_json_int(j, "id", 0) == v && cJSON_IsBool(cJSON_GetObjectItem(j, "passed")));
    cJSON_Delete(j);
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_model_version mv;
    CHECK_OK(sl_mv_get(reg, v, &mv));
    /* the stored report has the measured metrics and the live version (2) as the reference */
    CHECK(mv.metrics_json && strstr(mv.metrics_json, "\"mpl_ratio\"") && strstr(mv.metrics_json, "\"reference_version\":2"));
    sl_mv_record_clear(&mv);
    sl_registry_close(reg);
    snprintf(cmd, sizeof cmd, "'%s' models evaluate %lld --physics --metrics '{}' --db '%s' >/dev/null 2>&1", bin(),
             (long long)v, g_db);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "'%s' models evaluate %lld --physics --episodes 2 --db '%s' >/dev/null 2>&1", bin(),
             (long long)v, g_db);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

TEST(traffic_bad_input) {
    /* usage errors exit 2; a server that is not there: exit 1 with the reason */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' traffic --episodes 3 >/dev/null 2>&1", bin());
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "'%s' traffic --url ftp://x >/dev/null 2>&1", bin());
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "'%s' traffic --help | grep -q 'v1/act'", bin());
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    sl_traffic_config c = sl_traffic_config_default("http://127.0.0.1:1", "t");
    c.episodes = 2;
    c.clients = 1;
    c.timeout_s = 2;
    sl_traffic_result r;
    CHECK_STATUS(sl_traffic_run(&c, &r), SL_ERR_IO);
    CHECK(r.errors >= 1 && strstr(sl_last_error(), "connect") != NULL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(canary_and_rollback_under_traffic);
    RUN(dashboard_lifecycle_in_chromium);
    RUN(cli_physics_evaluate);
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        waitpid(g_pid, NULL, 0);
    }
    RUN(traffic_bad_input);
    return harness_done();
}
