/* SPDX-License-Identifier: Apache-2.0 */
/* bench_v1.c - load test of policy serving: POST /v1/act of an in-process server (a 24-d
 * workcell observation -> a 4-d action of an IQL policy of width 128, the size `synthloop train`
 * makes) hit from second processes on loopback: wrk (keep-alive, 2 threads) for a bounded time,
 * then `synthloop traffic --no-feedback` (closed-loop workcell episodes, one keep-alive
 * connection per client). Prints requests/s, p50/p99 and errors, and the p99 against seed 003's
 * 200 ms threshold; exits 1 on any error or non-2xx answer. The policy is untrained: an action
 * costs the same whatever the weights.
 * Env: BENCH_V1_SECONDS (default 5), BENCH_V1_CONNECTIONS (default 16), SL_BIN (build/synthloop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "synthloop/sl_deploy.h"
#include "synthloop/sl_rl.h"
#include "synthloop/sl_serve.h"

static double parse_latency_ms(const char *s) {
    double v = atof(s);
    if (strstr(s, "us")) return v / 1000.0;
    if (strstr(s, "ms")) return v;
    if (strstr(s, "s")) return v * 1000.0;
    return v;
}

static int run_wrk(const char *script, const char *url, int secs, int conns, double *rps, double *p50,
                   double *p99, long *errors, long *requests) {
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c%d -d%ds --timeout 5s --latency -s '%s' '%s' 2>&1", conns, secs, script, url);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    *rps = *p50 = *p99 = -1;
    *errors = *requests = 0;
    while (fgets(line, sizeof line, p)) {
        char a[64];
        long e1, e2, e3, e4;
        if (sscanf(line, " Requests/sec: %lf", rps) == 1) continue;
        if (sscanf(line, " %ld requests in", &e1) == 1) *requests = e1;
        if (sscanf(line, " 50%% %63s", a) == 1) *p50 = parse_latency_ms(a);
        if (sscanf(line, " 99%% %63s", a) == 1) *p99 = parse_latency_ms(a);
        if (sscanf(line, " Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &e1, &e2, &e3, &e4) == 4)
            *errors += e1 + e2 + e3 + e4;
        if (sscanf(line, " Non-2xx or 3xx responses: %ld", &e1) == 1) *errors += e1;
    }
    int rc = pclose(p);
    return rc == 0 && *rps > 0 ? 0 : -1;
}

int main(void) {
    int secs = getenv("BENCH_V1_SECONDS") ? atoi(getenv("BENCH_V1_SECONDS")) : 5;
    int conns = getenv("BENCH_V1_CONNECTIONS") ? atoi(getenv("BENCH_V1_CONNECTIONS")) : 16;
    const char *bin = getenv("SL_BIN") && *getenv("SL_BIN") ? getenv("SL_BIN") : "build/synthloop";
    if (secs < 1) secs = 1;
    if (conns < 1) conns = 1;
    if (system("command -v wrk >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bench_v1: wrk is not installed\n");
        return 1;
    }
    char dir[] = "/tmp/bench_v1.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char db[128], pol[128], lua[128];
    snprintf(db, sizeof db, "%s/bench.db", dir);
    snprintf(pol, sizeof pol, "%s/policy.safetensors", dir);
    snprintf(lua, sizeof lua, "%s/act.lua", dir);
    sl_rl_config rc = sl_rl_config_defaults(SL_RL_IQL, 24, 4);
    rc.hidden = 128;
    sl_agent *ag = NULL;
    sl_registry *reg = NULL;
    int64_t id = 0;
    sl_evalgate_profile prof;
    sl_evalgate_result er;
    sl_rollout_plan plan = sl_rollout_plan_default(SL_STRATEGY_FULL);
    sl_rollout ro;
    sl_status s = sl_agent_new(&ag, &rc, NULL, NULL);
    if (s == SL_OK) s = sl_agent_save(ag, pol);
    sl_agent_free(ag);
    if (s == SL_OK) s = sl_registry_open(db, &reg);
    if (s == SL_OK) s = sl_mv_register(reg, "policy", pol, 0, 0, NULL, "bench", &id);
    if (s == SL_OK) s = sl_evalgate_profile_builtin("workcell", &prof);
    if (s == SL_OK)
        s = sl_mv_record_evaluation(reg, id, &prof, "{\"mpl_ratio\":1,\"error_rate\":0,\"latency_p99_ms\":1,"
                                    "\"reward_stability\":0}", "bench", &er);
    if (s == SL_OK) s = sl_rollout_start(reg, "arm", id, &plan, "bench", "load test", &ro);
    sl_registry_close(reg);
    sl_ps_config pc = sl_ps_config_default(db, "arm");
    sl_policy_server *ps = NULL;
    if (s == SL_OK) s = sl_ps_open(&pc, &ps);
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.port = 0;
    c.db_path = db;
    c.token = "bench-token";
    c.policy = ps;
    sl_server *srv = NULL;
    if (s == SL_OK) s = sl_server_start(&c, &srv);
    if (s != SL_OK) {
        fprintf(stderr, "bench_v1: %s\n", sl_last_error());
        sl_ps_close(ps);
        return 1;
    }
    FILE *f = fopen(lua, "w");
    if (!f) return 1;
    fprintf(f, "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
               "wrk.headers[\"Authorization\"] = \"Bearer bench-token\"\n"
               "wrk.body = '{\"key\":\"wrk\",\"observation\":[0.1,0.2,0.3,0,0,0,0.4,0.1,0.2,0.5,0.1,0.1,0,0,0,"
               "0.1,-0.1,0.05,-0.3,0.2,0.1,0,0.2,0.5]}'\n");
    fclose(f);
    int port = sl_server_port(srv), failed = 0;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/act", port);
    double rps, p50, p99;
    long errors, requests;
    printf("bench_v1: POST /v1/act on 127.0.0.1:%d, IQL policy 24 -> 128 -> 128 -> 4\n", port);
    if (run_wrk(lua, url, secs, conns, &rps, &p50, &p99, &errors, &requests) != 0) {
        printf("  wrk failed\n");
        failed = 1;
    } else {
        printf("  wrk -t2 -c%d -d%ds: %ld requests, %.0f req/s, p50 %.3f ms, p99 %.3f ms (%.0fx under 200 ms), "
               "errors %ld\n", conns, secs, requests, rps, p50, p99, 200.0 / p99, errors);
        failed |= errors != 0;
    }
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' traffic --url http://127.0.0.1:%d --token bench-token --episodes 200 "
             "--clients 4 --no-feedback --json", bin, port);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int rc2 = p ? pclose(p) : -1;
    cJSON *j = cJSON_Parse(out);
    const cJSON *rq = cJSON_GetObjectItem(j, "requests_per_s"), *q = cJSON_GetObjectItem(j, "act_p99_ms"),
                *q5 = cJSON_GetObjectItem(j, "act_p50_ms"), *er2 = cJSON_GetObjectItem(j, "errors"),
                *ac = cJSON_GetObjectItem(j, "acts");
    if (rc2 != 0 || !cJSON_IsNumber(rq) || !cJSON_IsNumber(q)) {
        printf("  traffic failed (%s)\n", out);
        failed = 1;
    } else {
        printf("  traffic --clients 4 --episodes 200 --no-feedback: %.0f acts, %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
               "errors %.0f\n", ac->valuedouble, rq->valuedouble, q5->valuedouble, q->valuedouble, er2->valuedouble);
        failed |= er2->valuedouble != 0;
    }
    cJSON_Delete(j);
    sl_server_stop(srv);
    sl_ps_close(ps);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_v1: could not remove %s\n", dir);
    return failed;
}
