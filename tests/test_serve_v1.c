/* SPDX-License-Identifier: Apache-2.0 */
/* test_serve_v1.c - policy serving and the lifecycle API over real HTTP: `synthloop serve
 * --endpoint` in its own process on a free loopback port, raw HTTP over sockets. Bad input gets
 * the right 4xx with a JSON error (no token, wrong length, non-finite, trailing garbage,
 * unknown version, an unevaluated deploy, a second rollout); a canary started through the API
 * is served and analysed; `kill -9` of the server in the middle of the rollout leaves one live
 * version, the interrupted rollout rolled back on restart, and the history intact. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_deploy.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_rl.h"

#define TOKEN "v1-test-token"

static char g_db[700];

typedef struct reply {
    int status;
    char buf[65536];
    const char *body;
} reply;

static int http(int port, const char *method, const char *target, int auth, const char *body, reply *r) {
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[8192];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, target, auth ? "Authorization: Bearer " TOKEN "\r\n" : "", bl, body ? body : "");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got < sizeof r->buf - 1 && (k = recv(fd, r->buf + got, sizeof r->buf - 1 - got, 0)) > 0) got += (size_t)k;
    close(fd);
    r->buf[got] = 0;
    char *sep = strstr(r->buf, "\r\n\r\n");
    if (!sep || sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    r->body = sep + 4;
    return 0;
}

static int json_error(const reply *r) {
    cJSON *j = cJSON_Parse(r->body);
    int ok = j && cJSON_IsString(cJSON_GetObjectItem(j, "error"));
    cJSON_Delete(j);
    return ok;
}

static int64_t policy_version(sl_registry *reg, const char *name, uint64_t seed, int evaluate) {
    char path[800];
    snprintf(path, sizeof path, "%s/%s.safetensors", harness_tmpdir(), name);
    sl_rl_config c = sl_rl_config_defaults(SL_RL_IQL, 4, 2);
    c.hidden = 16;
    c.seed = seed;
    sl_agent *a = NULL;
    if (sl_agent_new(&a, &c, NULL, NULL) != SL_OK) return 0;
    sl_status s = sl_agent_save(a, path);
    sl_agent_free(a);
    int64_t id = 0;
    if (s != SL_OK || sl_mv_register(reg, "policy", path, 0, 0, NULL, "test", &id) != SL_OK) return 0;
    if (!evaluate) return id;
    sl_evalgate_profile p;
    sl_evalgate_profile_builtin("seed003", &p);
    sl_evalgate_result r;
    if (sl_mv_record_evaluation(reg, id, &p, "{\"score\":0.9,\"false_intervention_rate\":0.01,"
                                "\"latency_p99_ms\":1,\"reward_stability\":0.0}", "test", &r) != SL_OK)
        return 0;
    return id;
}

/* start `synthloop serve --endpoint arm` on a free port; returns its pid, *port */
static pid_t start_server(int *port) {
    const char *bin = getenv("SL_BIN");
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char web[800];
        snprintf(web, sizeof web, "%s/web", getenv("SL_TEST_ROOT") ? getenv("SL_TEST_ROOT") : ".");
        execl(bin && *bin ? bin : "build/synthloop", "synthloop", "serve", "--db", g_db, "--web", web,
              "--port", "0", "--token", TOKEN, "--endpoint", "arm", "--json", "--quiet", "--duration",
              "120", (char *)NULL);
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

TEST(policy_serving_over_http) {
    snprintf(g_db, sizeof g_db, "%s/v1.db", harness_tmpdir());
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    int64_t v1 = policy_version(reg, "a", 1, 1), v2 = policy_version(reg, "b", 2, 1),
            v3 = policy_version(reg, "c", 3, 0), v4 = policy_version(reg, "d", 4, 1);
    CHECK(v1 && v2 && v3 && v4);
    sl_rollout_plan full = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout ro;
    CHECK_OK(sl_rollout_start(reg, "arm", v1, &full, "test", "first", &ro));
    sl_registry_close(reg);

    int port = 0;
    pid_t pid = start_server(&port);
    CHECK(pid > 0);
    if (pid <= 0) return;
    reply r;
    const char *obs = "{\"observation\":[0.1,0.2,-0.3,0.4],\"key\":\"robot-1\"}";
    /* missing token, wrong length, non-finite, trailing garbage, not an object */
    CHECK(http(port, "POST", "/v1/act", 0, obs, &r) == 0 && r.status == 401 && json_error(&r));
    CHECK(http(port, "POST", "/v1/act", 1, "{\"observation\":[1,2,3]}", &r) == 0 && r.status == 422 && json_error(&r));
    CHECK(strstr(r.body, "expects 4") != NULL);
    CHECK(http(port, "POST", "/v1/act", 1, "{\"observation\":[1,1e999,3,4]}", &r) == 0 && r.status == 422);
    CHECK(http(port, "POST", "/v1/act", 1, "{\"observation\":[1,2,3,4]} x", &r) == 0 && r.status == 400);
    CHECK(http(port, "POST", "/v1/act", 1, "[1,2]", &r) == 0 && r.status == 400);
    CHECK(http(port, "GET", "/v1/act", 1, NULL, &r) == 0 && r.status == 405);
    /* an action from the live version */
    CHECK(http(port, "POST", "/v1/act", 1, obs, &r) == 0 && r.status == 200);
    cJSON *j = cJSON_Parse(r.body);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "action")) == 2 &&
          sl_json_int(j, "version", 0) == v1);
    cJSON_Delete(j);
    /* lifecycle API: unknown version 404, unevaluated 409, then a canary; a second one 409 */
    char body[256];
    snprintf(body, sizeof body, "{\"version\":%d,\"endpoint\":\"arm\",\"strategy\":\"canary\"}", 999);
    CHECK(http(port, "POST", "/api/deploy", 1, body, &r) == 0 && r.status == 404 && json_error(&r));
    snprintf(body, sizeof body, "{\"version\":%lld,\"endpoint\":\"arm\",\"strategy\":\"canary\"}", (long long)v3);
    CHECK(http(port, "POST", "/api/deploy", 1, body, &r) == 0 && r.status == 409 && json_error(&r));
    snprintf(body, sizeof body, "{\"version\":%lld,\"endpoint\":\"arm\",\"strategy\":\"canary\","
             "\"reason\":\"candidate b\"}", (long long)v2);
    CHECK(http(port, "POST", "/api/deploy", 0, body, &r) == 0 && r.status == 401);
    CHECK(http(port, "POST", "/api/deploy", 1, body, &r) == 0 && r.status == 200);
    snprintf(body, sizeof body, "{\"version\":%lld,\"endpoint\":\"arm\",\"strategy\":\"canary\"}", (long long)v4);
    CHECK(http(port, "POST", "/api/deploy", 1, body, &r) == 0 && r.status == 409);
    CHECK(strstr(r.body, "in progress") != NULL);
    /* the canary serves about 10% of keys */
    int cand = 0;
    for (int i = 0; i < 400; i++) {
        char b2[160];
        snprintf(b2, sizeof b2, "{\"observation\":[0.1,0.2,-0.3,0.4],\"key\":\"k%d\"}", i);
        if (http(port, "POST", "/v1/act", 1, b2, &r) == 0 && r.status == 200) {
            j = cJSON_Parse(r.body);
            cand += sl_json_int(j, "version", 0) == v2;
            cJSON_Delete(j);
        }
    }
    printf("  canary at 10%%: %d of 400 keys served by the candidate\n", cand);
    CHECK(cand > 15 && cand < 70);
    CHECK(http(port, "POST", "/v1/feedback", 1, "{\"version\":12345,\"score\":1,\"failure\":false}", &r) == 0 &&
          r.status == 404);
    snprintf(body, sizeof body, "{\"version\":%lld,\"score\":0.9,\"failure\":false,\"latency_ms\":1}", (long long)v2);
    CHECK(http(port, "POST", "/v1/feedback", 1, body, &r) == 0 && r.status == 200);
    CHECK(http(port, "GET", "/v1/status", 0, NULL, &r) == 0 && r.status == 200 && strstr(r.body, "\"canary\""));
    CHECK(http(port, "GET", "/api/models?status=deployed", 0, NULL, &r) == 0 && r.status == 200);
    CHECK(http(port, "GET", "/api/models?status=bogus", 0, NULL, &r) == 0 && r.status == 400);

    /* kill -9 in the middle of the rollout, restart: one live version, rollout rolled back */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pid = start_server(&port);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK(http(port, "GET", "/v1/status", 0, NULL, &r) == 0 && r.status == 200);
    j = cJSON_Parse(r.body);
    CHECK(j && sl_json_int(j, "live", 0) == v1 && cJSON_IsNull(cJSON_GetObjectItem(j, "rollout")));
    cJSON_Delete(j);
    CHECK(http(port, "GET", "/api/deployments?endpoint=arm", 0, NULL, &r) == 0 && r.status == 200);
    CHECK(strstr(r.body, "interrupted") != NULL && strstr(r.body, "candidate b") != NULL);
    /* rollback with a reason through the API: no predecessor of v1 -> 409 */
    CHECK(http(port, "POST", "/api/rollback", 1, "{\"endpoint\":\"arm\"}", &r) == 0 && r.status == 400);
    CHECK(http(port, "POST", "/api/rollback", 1, "{\"endpoint\":\"arm\",\"reason\":\"x\"}", &r) == 0 &&
          r.status == 409);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_model_version v;
    CHECK_OK(sl_mv_get(reg, v2, &v));
    CHECK(strcmp(v.status, "rolled_back") == 0);
    sl_mv_record_clear(&v);
    sl_registry_close(reg);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(policy_serving_over_http);
    return harness_done();
}
