/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_traffic.c - `synthloop traffic`: closed-loop workcell episodes against a policy server
 * (every action from POST /v1/act, every outcome to POST /v1/feedback), printing per-version
 * counts, the server's decisions, requests/s and latency. Parses, calls sl_traffic_run, prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "synthloop/sl_deploy.h"

SL_COMMAND(traffic, "closed-loop workcell episodes against a policy server (/v1/act, /v1/feedback)")

static void usage(void) {
    printf("usage: synthloop traffic --url URL [--episodes N] [--clients C] [--token T]\n"
           "                         [--endpoint E] [--seed N] [--timeout SEC] [--no-feedback] [--json]\n"
           "\n"
           "C client threads run workcell episodes whose every action comes from POST URL/v1/act\n"
           "(actions in [-1, 1] scaled to the actuator bounds; request key \"c<client>-e<episode>\",\n"
           "so an episode stays on one version) and report each episode to POST URL/v1/feedback:\n"
           "score = completed units / attempts, failure = any failed attempt or timeout, latency =\n"
           "p99 of the episode's act round trips, reward = return / steps. The server's canary,\n"
           "A-B and health analysis runs on these outcomes; its decisions are printed.\n"
           "\n"
           "options:\n"
           "  --url URL         the server, e.g. http://127.0.0.1:8765 (synthloop serve --endpoint)\n"
           "  --episodes N      episodes in total (default 100)\n"
           "  --clients C       client threads, 1..256 (default 4)\n"
           "  --token T         bearer token (default $SYNTHLOOP_TOKEN)\n"
           "  --endpoint E      refuse to run unless the server serves endpoint E\n"
           "  --seed N          episode e starts from workcell seed N + e (default 0)\n"
           "  --timeout SEC     per request (default 10)\n"
           "  --no-feedback     only act (load measurement)\n"
           "  --json            machine-readable result\n"
           "  -h, --help        this help\n"
           "\n"
           "exit status: 0 when every request was answered, 1 otherwise\n");
}

/* --endpoint: the server's /v1/status names the endpoint it serves */
static int check_endpoint(const char *url, const char *endpoint) {
    char u[1100];
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/') ul--;
    snprintf(u, sizeof u, "%.*s/v1/status", (int)(ul > 1000 ? 1000 : ul), url);
    int code = 0;
    char *resp = NULL;
    size_t n = 0;
    sl_status s = sl_http_get(u, 10.0, &code, &resp, &n);
    if (s != SL_OK) return sl_cli_fail(s);
    cJSON *j = code == 200 ? cJSON_Parse(resp) : NULL;
    const cJSON *e = cJSON_GetObjectItem(j, "endpoint");
    int ok = cJSON_IsString(e) && strcmp(e->valuestring, endpoint) == 0;
    if (!ok)
        fprintf(stderr, "synthloop: error: %s serves endpoint %s, not %s\n", url,
                cJSON_IsString(e) ? e->valuestring : "(none: HTTP error)", endpoint);
    cJSON_Delete(j);
    free(resp);
    return ok ? 0 : 1;
}

int cmd_traffic(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {
        {"url", 1, 0, 'u'},     {"episodes", 1, 0, 'n'}, {"clients", 1, 0, 'c'}, {"token", 1, 0, 't'},
        {"endpoint", 1, 0, 'e'}, {"seed", 1, 0, 's'},    {"timeout", 1, 0, 'T'}, {"no-feedback", 0, 0, 'F'},
        {"json", 0, 0, 'j'},    {"quiet", 0, 0, 'q'},    {0, 0, 0, 0}};
    sl_traffic_config cfg = sl_traffic_config_default(NULL, getenv("SYNTHLOOP_TOKEN"));
    const char *endpoint = NULL;
    int json = 0, c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': cfg.url = optarg; break;
        case 'n':
            if (sl_cli_parse_int("traffic", "--episodes", optarg, 1, 100000000, &v)) return 2;
            cfg.episodes = (int)v;
            break;
        case 'c':
            if (sl_cli_parse_int("traffic", "--clients", optarg, 1, 256, &v)) return 2;
            cfg.clients = (int)v;
            break;
        case 't': cfg.token = optarg; break;
        case 'e': endpoint = optarg; break;
        case 's':
            if (sl_cli_parse_u64("traffic", "--seed", optarg, &cfg.seed)) return 2;
            break;
        case 'T':
            if (sl_cli_parse_double("traffic", "--timeout", optarg, 0.001, 3600, &cfg.timeout_s)) return 2;
            break;
        case 'F': cfg.feedback = 0; break;
        case 'j': json = 1; break;
        case 'q': break;
        default: return sl_cli_usage_error("traffic", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error("traffic", "unexpected argument '%s'", argv[optind]);
    if (!cfg.url) return sl_cli_usage_error("traffic", "--url is required");
    if (strncmp(cfg.url, "http://", 7) != 0) return sl_cli_usage_error("traffic", "--url must start with http://");
    if (endpoint && check_endpoint(cfg.url, endpoint)) return 1;
    sl_traffic_result r;
    sl_status s = sl_traffic_run(&cfg, &r);
    if (s != SL_OK && r.episodes == 0) return sl_cli_fail(s);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "episodes", (double)r.episodes);
        cJSON_AddNumberToObject(j, "acts", (double)r.acts);
        cJSON_AddNumberToObject(j, "feedbacks", (double)r.feedbacks);
        cJSON_AddNumberToObject(j, "errors", (double)r.errors);
        cJSON_AddNumberToObject(j, "mixed_episodes", (double)r.mixed);
        cJSON_AddNumberToObject(j, "late_feedback", (double)r.late_feedback);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddNumberToObject(j, "requests_per_s", r.acts_per_s);
        cJSON_AddNumberToObject(j, "act_p50_ms", r.act_p50_ms);
        cJSON_AddNumberToObject(j, "act_p99_ms", r.act_p99_ms);
        cJSON_AddNumberToObject(j, "act_max_ms", r.act_max_ms);
        cJSON *vs = cJSON_AddArrayToObject(j, "versions");
        for (int i = 0; i < r.n_versions; i++) {
            const sl_traffic_version *x = &r.versions[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "version", (double)x->version);
            cJSON_AddNumberToObject(o, "episodes", (double)x->episodes);
            cJSON_AddNumberToObject(o, "failures", (double)x->failures);
            cJSON_AddNumberToObject(o, "mean_score", x->episodes ? x->score_sum / (double)x->episodes : 0.0);
            cJSON_AddNumberToObject(o, "mean_reward", x->episodes ? x->reward_sum / (double)x->episodes : 0.0);
            cJSON_AddItemToArray(vs, o);
        }
        cJSON *ds = cJSON_AddArrayToObject(j, "decisions");
        for (int i = 0; i < r.n_decisions; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "after_episodes", (double)r.decision_episode[i]);
            cJSON_AddStringToObject(o, "decision", r.decisions[i]);
            cJSON_AddItemToArray(ds, o);
        }
        if (r.last_error[0]) cJSON_AddStringToObject(j, "last_error", r.last_error);
        char *t = cJSON_PrintUnformatted(j);
        printf("%s\n", t ? t : "{}");
        free(t);
        cJSON_Delete(j);
    } else {
        printf("%ld episodes (%ld served by two versions), %ld act requests in %.1f s: %.0f requests/s, "
               "p50 %.2f ms, p99 %.2f ms, max %.1f ms; %ld failed requests, %ld late feedbacks\n", r.episodes, r.mixed,
               r.acts, r.seconds, r.acts_per_s, r.act_p50_ms, r.act_p99_ms, r.act_max_ms, r.errors,
               r.late_feedback);
        for (int i = 0; i < r.n_versions; i++) {
            const sl_traffic_version *x = &r.versions[i];
            printf("  version %-5lld %6ld episodes  mean score %.3f  failures %.3f  mean reward %.4f\n",
                   (long long)x->version, x->episodes, x->episodes ? x->score_sum / (double)x->episodes : 0.0,
                   x->episodes ? (double)x->failures / (double)x->episodes : 0.0,
                   x->episodes ? x->reward_sum / (double)x->episodes : 0.0);
        }
        for (int i = 0; i < r.n_decisions; i++)
            printf("  after %ld episodes: %s\n", r.decision_episode[i], r.decisions[i]);
        if (r.last_error[0]) printf("  last error: %s\n", r.last_error);
    }
    return r.errors == 0 && s == SL_OK ? 0 : 1;
}
