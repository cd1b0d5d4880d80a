/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_health.c - `synthloop health [--endpoint E]`: the health state of the endpoint's live
 * version and candidate from the live episodes recorded in the registry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/deploy_cli.h"

SL_COMMAND(health, "health of an endpoint's versions from recorded live episodes")

static void usage(void) {
    printf("usage: synthloop health [--endpoint E] [--window N] [--json] [--db PATH]\n"
           "\n"
           "Computes each served version's live metrics over its last N episodes (reported to\n"
           "POST /v1/feedback or by `synthloop traffic`): score, failure rate, latency p99 and\n"
           "reward stability, and its state: healthy (all within thresholds), degraded (1-2\n"
           "outside), critical (3 or more). Thresholds: seed 003's (docs/DEPLOY.md).\n"
           "\n"
           "options:\n"
           "  --endpoint E  endpoint name (default: default)\n"
           "  --window N    episodes per version (200)\n"
           "  --json        machine-readable output\n"
           "  --db PATH     registry (default $SYNTHLOOP_DB or synthloop.db)\n"
           "  -h, --help    this help\n");
}

static sl_status one(sl_registry *reg, const char *role, int64_t v, int window, int json, int first) {
    if (v <= 0) return SL_OK;
    double *sc = malloc((size_t)window * sizeof *sc), *lat = malloc((size_t)window * sizeof *lat),
           *rw = malloc((size_t)window * sizeof *rw);
    int *fl = malloc((size_t)window * sizeof *fl);
    sl_health_window w;
    sl_status s = sc && lat && rw && fl ? sl_health_window_init(&w, window)
                                        : sl_set_error(SL_ERR_NOMEM, "health: out of memory");
    size_t n = 0;
    if (s == SL_OK) s = sl_registry_recent_episodes(reg, v, (size_t)window, sc, fl, lat, rw, &n);
    for (size_t i = 0; s == SL_OK && i < n; i++) {
        sl_outcome o = {sc[i], fl[i], lat[i], rw[i]};
        sl_health_window_add(&w, &o);
    }
    if (s == SL_OK) {
        sl_health_metrics m;
        sl_health_compute(&w, &m);
        sl_health_thresholds th = sl_health_thresholds_default();
        char failing[128];
        sl_health_state st = sl_health_assess(&m, &th, failing, sizeof failing);
        const char *state = m.n ? sl_health_state_name(st) : "no data";
        if (!m.n) failing[0] = 0;
        if (json)
            printf("%s{\"role\":\"%s\",\"version\":%lld,\"episodes\":%d,\"state\":\"%s\",\"failing\":\"%s\","
                   "\"score\":%.6g,\"failure_rate\":%.6g,\"latency_p99_ms\":%.6g,\"reward_stability\":%.6g}",
                   first ? "" : ",", role, (long long)v, m.n, state, failing, m.score, m.failure_rate,
                   m.latency_p99_ms, m.reward_stability);
        else
            printf("%-9s v%-5lld %-9s episodes %-5d score %.3f  failures %.3f  p99 %.1f ms  reward "
                   "stability %.3f%s%s\n", role, (long long)v, state, m.n, m.score, m.failure_rate,
                   m.latency_p99_ms, m.reward_stability, failing[0] ? "  failing: " : "", failing);
        sl_health_window_free(&w);
    }
    free(sc);
    free(lat);
    free(rw);
    free(fl);
    return s;
}

int cmd_health(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {{"endpoint", 1, 0, 'E'}, {"window", 1, 0, 'w'},
                                         {"json", 0, 0, 'j'},     {"db", 1, 0, 'D'},
                                         {"quiet", 0, 0, 'q'},    {0, 0, 0, 0}};
    const char *endpoint = "default", *db = NULL;
    long window = 200;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': endpoint = optarg; break;
        case 'w':
            if (sl_cli_parse_int("health", "--window", optarg, 4, 100000, &window)) return 2;
            break;
        case 'j': json = 1; break;
        case 'D': db = optarg; break;
        case 'q': break;
        default: return sl_cli_usage_error("health", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return sl_cli_usage_error("health", "unexpected argument '%s'", argv[optind]);
    sl_registry *reg = NULL;
    sl_status s = dcli_open("health", db, &reg);
    int64_t live = 0;
    int has = 0;
    sl_rollout r;
    if (s == SL_OK) s = sl_endpoint_state(reg, endpoint, &live, &r, &has);
    if (s == SL_OK && json) printf("{\"endpoint\":\"%s\",\"versions\":[", endpoint);
    if (s == SL_OK && !json && !live) printf("endpoint %s: no live version\n", endpoint);
    if (s == SL_OK) s = one(reg, "live", live, (int)window, json, 1);
    if (s == SL_OK && has) s = one(reg, "candidate", r.candidate, (int)window, json, live == 0);
    if (s == SL_OK && json) printf("]}\n");
    sl_registry_close(reg);
    return s == SL_OK ? 0 : sl_cli_fail(s);
}
