/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_serve.c - `synthloop serve`: the registry's JSON API, the dashboard and live events
 * over HTTP on 127.0.0.1 by default, until SIGINT/SIGTERM or --duration elapses. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "synthloop/sl_deploy.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

SL_COMMAND(serve, "serve the registry's JSON API and the dashboard over HTTP")

static void usage(void) {
    printf("usage: synthloop serve [--host ADDR] [--port N] [--db PATH] [--token T] [--web DIR]\n"
           "\n"
           "Serves a JSON API over the registry (runs, metrics, experiments, models, weights,\n"
           "jobs; routes in docs/REGISTRY.md), the dashboard page, and live progress of running\n"
           "jobs as server-sent events (GET /api/events). POST routes (notes, mark-failed) need\n"
           "'Authorization: Bearer TOKEN' and are disabled when no token is set.\n"
           "\n"
           "options:\n"
           "  --host ADDR       numeric address to bind (default 127.0.0.1)\n"
           "  --port N          TCP port (default 8765; 0 = any free port)\n"
           "  --db PATH         registry file (default $SYNTHLOOP_DB or ./synthloop.db)\n"
           "  --token T         bearer token for POST routes (default $SYNTHLOOP_TOKEN)\n"
           "  --web DIR         dashboard files (default $SYNTHLOOP_WEB, else the repo's web/\n"
           "                    next to the binary, else ./web)\n"
           "  --max-body BYTES  request body limit, 413 above (default 65536)\n"
           "  --duration SEC    stop after SEC seconds (default: run until SIGINT/SIGTERM)\n"
           "  --endpoint NAME   also serve the policies deployed on endpoint NAME: POST /v1/act,\n"
           "                    /v1/feedback (bearer token), GET /v1/status, with canary / A-B\n"
           "                    analysis and automatic rollback (docs/DEPLOY.md)\n"
           "  --shadow-log FILE JSON lines comparing a shadow candidate's actions with live's\n"
           "  --data-root DIR   directory the privacy API (POST /api/privacy/anonymize) reads\n"
           "                    tables from and writes releases into (docs/PRIVACY.md); without\n"
           "                    it that route answers 403\n"
           "  --json            print {\"url\", \"port\", \"db\", ...} on stdout once listening\n"
           "  --quiet           no log line\n"
           "  -h, --help        this help\n");
}

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static int has_index(const char *dir) {
    char p[PATH_MAX];
    struct stat sb;
    return snprintf(p, sizeof p, "%s/index.html", dir) < (int)sizeof p && stat(p, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

/* --web, $SYNTHLOOP_WEB, <binary>/../web and <binary>/../../web, ./web: first with index.html */
static const char *find_web_root(const char *opt, char *buf, size_t n) {
    if (opt) return opt;
    const char *e = getenv("SYNTHLOOP_WEB");
    if (e && *e) return e;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *dir = dirname(exe);
        const char *ups[2] = {"/../web", "/../../web"};
        for (int i = 0; i < 2; i++)
            if (snprintf(buf, n, "%s%s", dir, ups[i]) < (int)n && has_index(buf)) return buf;
    }
    if (has_index("web")) return "web";
    return NULL;
}

int cmd_serve(int argc, char **argv) {
    static const struct option opts[] = {{"host", required_argument, 0, 'H'},
                                         {"port", required_argument, 0, 'p'},
                                         {"db", required_argument, 0, 'D'},
                                         {"token", required_argument, 0, 't'},
                                         {"web", required_argument, 0, 'w'},
                                         {"max-body", required_argument, 0, 'm'},
                                         {"duration", required_argument, 0, 'd'},
                                         {"endpoint", required_argument, 0, 'E'},
                                         {"shadow-log", required_argument, 0, 'S'},
                                         {"data-root", required_argument, 0, 'R'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    sl_serve_config cfg;
    sl_serve_config_default(&cfg);
    const char *db = NULL, *web = NULL, *endpoint = NULL, *shadow_log = NULL;
    double duration = 0;
    int json = 0, c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hqp:", opts, NULL)) != -1) {
        switch (c) {
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (sl_cli_parse_int("serve", "--port", optarg, 0, 65535, &v)) return 2;
            cfg.port = (int)v;
            break;
        case 'D': db = optarg; break;
        case 't': cfg.token = optarg; break;
        case 'w': web = optarg; break;
        case 'm':
            if (sl_cli_parse_int("serve", "--max-body", optarg, 1, 1L << 30, &v)) return 2;
            cfg.max_body = (size_t)v;
            break;
        case 'd':
            if (sl_cli_parse_double("serve", "--duration", optarg, 0, 1e9, &duration)) return 2;
            break;
        case 'E': endpoint = optarg; break;
        case 'S': shadow_log = optarg; break;
        case 'R': cfg.data_root = optarg; break; /* privapi */
        case 'j': json = 1; break;
        case 'q': break;
        case 'h': usage(); return 0;
        default:
            return sl_cli_usage_error("serve", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!cfg.token) {
        const char *t = getenv("SYNTHLOOP_TOKEN");
        if (t && *t) cfg.token = t;
    }
    cfg.db_path = sl_registry_resolve_path(db);
    if (strcmp(cfg.db_path, "none") == 0) return sl_cli_usage_error("serve", "--db none: nothing to serve");
    char webbuf[PATH_MAX];
    cfg.web_root = find_web_root(web, webbuf, sizeof webbuf);
    if (!cfg.web_root || !has_index(cfg.web_root))
        return sl_cli_fail(sl_set_error(SL_ERR_NOTFOUND,
                                        "dashboard files not found (%s/index.html); pass --web DIR",
                                        cfg.web_root ? cfg.web_root : "web"));
    sl_policy_server *ps = NULL;
    if (endpoint) {
        sl_ps_config pc = sl_ps_config_default(cfg.db_path, endpoint);
        pc.shadow_log = shadow_log;
        sl_status pst = sl_ps_open(&pc, &ps);
        if (pst != SL_OK) return sl_cli_fail(pst);
        cfg.policy = ps;
    }
    sl_server *srv = NULL;
    sl_status st = sl_server_start(&cfg, &srv);
    if (st != SL_OK) {
        sl_ps_close(ps);
        return sl_cli_fail(st);
    }
    int port = sl_server_port(srv);
    char url[320];
    snprintf(url, sizeof url, strchr(cfg.host, ':') ? "http://[%s]:%d/" : "http://%s:%d/", cfg.host, port);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "url", url);
        cJSON_AddNumberToObject(j, "port", port);
        cJSON *cj = cJSON_AddObjectToObject(j, "config");
        cJSON_AddStringToObject(cj, "host", cfg.host);
        cJSON_AddStringToObject(cj, "db", cfg.db_path);
        cJSON_AddStringToObject(cj, "web", cfg.web_root);
        cJSON_AddBoolToObject(cj, "mutations", cfg.token != NULL);
        cJSON_AddNumberToObject(cj, "max_body", (double)cfg.max_body);
        sl_json_add_provenance(j, 0);
        char *t = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (t) printf("%s\n", t);
        free(t);
        fflush(stdout);
    }
    if (!sl_cli_quiet)
        fprintf(stderr, "synthloop: serving %s (registry %s, dashboard %s%s)\n", url, cfg.db_path,
                cfg.web_root, cfg.token ? ", POST routes enabled" : "");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double t0 = sl_now();
    while (!stop_flag && (duration <= 0 || sl_now() - t0 < duration)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sl_server_stop(srv);
    sl_ps_close(ps);
    if (!sl_cli_quiet) fprintf(stderr, "synthloop: server stopped\n");
    return 0;
}
