/* SPDX-License-Identifier: Apache-2.0 */
/* bench_serve.c - load test of `synthloop serve`: an in-process server on 127.0.0.1 (free port)
 * over a registry with a realistic run, hit by wrk from a second process for a bounded time per
 * endpoint. Prints requests/s, p50/p99 latency and error counts; exits 1 on any error or non-2xx
 * answer. There is no PyTorch counterpart for an HTTP server, so no ratio is printed.
 * Env: BENCH_SERVE_SECONDS (default 5), BENCH_SERVE_CONNECTIONS (default 16). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

static double parse_latency_ms(const char *s) {
    double v = atof(s);
    if (strstr(s, "us")) return v / 1000.0;
    if (strstr(s, "ms")) return v;
    if (strstr(s, "s")) return v * 1000.0;
    return v;
}

/* Run wrk against url; fills rps, p50, p99 (ms) and errors. Returns 0 if wrk ran. */
static int run_wrk(const char *url, int secs, int conns, double *rps, double *p50, double *p99,
                   long *errors) {
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c%d -d%ds --timeout 5s --latency '%s' 2>&1", conns, secs, url);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    *rps = *p50 = *p99 = -1;
    *errors = 0;
    while (fgets(line, sizeof line, p)) {
        char a[64];
        long e1, e2, e3, e4;
        if (sscanf(line, " Requests/sec: %lf", rps) == 1) continue;
        if (sscanf(line, " 50%% %63s", a) == 1) *p50 = parse_latency_ms(a);
        if (sscanf(line, " 99%% %63s", a) == 1) *p99 = parse_latency_ms(a);
        if (sscanf(line, " Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &e1, &e2,
                   &e3, &e4) == 4)
            *errors += e1 + e2 + e3 + e4;
        if (sscanf(line, " Non-2xx or 3xx responses: %ld", &e1) == 1) *errors += e1;
    }
    int rc = pclose(p);
    return rc == 0 && *rps > 0 ? 0 : -1;
}

int main(void) {
    int secs = getenv("BENCH_SERVE_SECONDS") ? atoi(getenv("BENCH_SERVE_SECONDS")) : 5;
    int conns = getenv("BENCH_SERVE_CONNECTIONS") ? atoi(getenv("BENCH_SERVE_CONNECTIONS")) : 16;
    if (secs < 1) secs = 1;
    if (conns < 1) conns = 1;
    if (system("command -v wrk >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bench_serve: wrk is not installed\n");
        return 1;
    }
    char dir[] = "/tmp/bench_serve.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char db[128];
    snprintf(db, sizeof db, "%s/bench.db", dir);
    sl_registry *reg;
    if (sl_registry_open(db, &reg) != SL_OK) {
        fprintf(stderr, "bench_serve: %s\n", sl_last_error());
        return 1;
    }
    /* 50 runs; run 1 has 3 series x 1000 points, like a short training run */
    int64_t run = 0, first = 0;
    for (int r = 0; r < 50; r++) {
        sl_run_begin(reg, r % 2 ? "train" : "ab", "{\"horizon\":10,\"seeds\":5}", (uint64_t)r, &run);
        if (!first) first = run;
        sl_run_end(reg, run, SL_RUN_OK, "{\"verdict\":\"no_difference\"}");
    }
    static double v[1000];
    for (int i = 0; i < 1000; i++) v[i] = 1.0 / (1 + i);
    sl_registry_add_metrics(reg, first, "train/loss", NULL, v, 1000);
    sl_registry_add_metrics(reg, first, "ab/baseline/eval_return", NULL, v, 1000);
    sl_registry_add_metrics(reg, first, "ab/augmented/eval_return", NULL, v, 1000);
    sl_registry_close(reg);

    sl_serve_config c;
    sl_serve_config_default(&c);
    c.port = 0;
    c.db_path = db;
    c.web_root = NULL;
    sl_server *srv;
    if (sl_server_start(&c, &srv) != SL_OK) {
        fprintf(stderr, "bench_serve: %s\n", sl_last_error());
        return 1;
    }
    int port = sl_server_port(srv);
    const char *paths[] = {"/api/health", "/api/runs?limit=50", "/api/runs/%lld",
                           "/api/runs/%lld/metrics"};
    int failed = 0;
    printf("bench_serve: wrk -t2 -c%d -d%ds against 127.0.0.1:%d (thread per connection)\n", conns,
           secs, port);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char path[128], url[256];
        snprintf(path, sizeof path, paths[i], (long long)first);
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
        double rps, p50, p99;
        long errors;
        if (run_wrk(url, secs, conns, &rps, &p50, &p99, &errors) != 0) {
            printf("  %-28s wrk failed\n", path);
            failed = 1;
            continue;
        }
        printf("  %-28s %9.0f req/s   p50 %7.3f ms   p99 %7.3f ms   errors %ld\n", path, rps, p50,
               p99, errors);
        if (errors) failed = 1;
    }
    sl_server_stop(srv);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_serve: could not remove %s\n", dir);
    return failed;
}
