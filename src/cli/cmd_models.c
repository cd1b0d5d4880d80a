/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_models.c - `synthloop models list|show|register|evaluate|history`: model versions and
 * their lifecycle (docs/DEPLOY.md). Parses, calls src/deploy, prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_cli.h"

SL_COMMAND(models, "model versions: list, show, register, evaluate against gates, history")

static void usage(void) {
    printf("usage: synthloop models list [--status S] [--json]\n"
           "       synthloop models show ID\n"
           "       synthloop models register --kind K --path FILE [--parent ID] [--encoder FILE]\n"
           "                                 [--lineage JSON|FILE]\n"
           "       synthloop models evaluate ID --metrics JSON|FILE [--profile seed003|workcell|FILE]\n"
           "       synthloop models history [--endpoint E] [--limit N]\n"
           "\n"
           "Model versions (policy, world, trust, generator, encoder) with a checked lifecycle:\n"
           "training -> evaluating -> deployed -> archived, plus rolled_back and failed. A version\n"
           "can be deployed only after `evaluate` passed every gate of the profile (seed 003's\n"
           "thresholds by default: score >= 0.75, false-intervention rate <= 0.10, latency p99\n"
           "<= 200 ms, reward stability within 0.05; docs/DEPLOY.md maps them to a task's metrics).\n"
           "\n"
           "options:\n"
           "  --status S        training|evaluating|deployed|archived|rolled_back|failed\n"
           "  --kind K          policy|world|trust|generator|encoder\n"
           "  --path FILE       the checkpoint (hashed with SHA-256 and recorded by absolute path)\n"
           "  --parent ID       the version this one was derived from\n"
           "  --encoder FILE    observation encoder the policy acts through (lineage.encoder)\n"
           "  --lineage J       lineage JSON (data, config, ...), inline or a file\n"
           "  --metrics J       evaluation metrics JSON object, inline or a file\n"
           "  --profile P       gate profile: seed003 (default), workcell, or a JSON file\n"
           "  --endpoint E      history of one endpoint only\n"
           "  --limit N         history rows (default 50)\n"
           "  --actor NAME      who does it (default $USER), recorded in the history\n"
           "  --db PATH         registry (default $SYNTHLOOP_DB or synthloop.db)\n"
           "  --json            machine-readable output\n"
           "  -h, --help        this help\n");
}

static void print_version(const sl_model_version *v, int json) {
    if (json) {
        printf("{\"id\":%lld,\"kind\":\"%s\",\"status\":\"%s\",\"eval_passed\":%d,\"path\":",
               (long long)v->id, v->kind, v->status, v->eval_passed);
        cJSON *p = cJSON_CreateString(v->path);
        char *t = cJSON_PrintUnformatted(p);
        printf("%s,\"sha256\":\"%s\",\"parent\":%lld,\"created\":\"%s\",\"updated\":\"%s\",\"lineage\":%s,"
               "\"evaluation\":%s}\n", t ? t : "null", v->sha256, (long long)v->parent_id, v->created,
               v->updated, v->lineage_json ? v->lineage_json : "null",
               v->metrics_json ? v->metrics_json : "null");
        free(t);
        cJSON_Delete(p);
        return;
    }
    const char *ev = v->eval_passed == 1 ? "passed" : v->eval_passed == 0 ? "FAILED" : "-";
    printf("%5lld  %-9s  %-11s  eval %-6s  %s  %s\n", (long long)v->id, v->kind, v->status, ev,
           v->updated, v->path);
}

int cmd_models(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : "list";
    if (argc >= 2 && argv[1][0] != '-') {
        argc--;
        argv++;
    }
    static const struct option opts[] = {
        {"status", 1, 0, 's'}, {"kind", 1, 0, 'k'},     {"path", 1, 0, 'p'},
        {"parent", 1, 0, 'P'}, {"encoder", 1, 0, 'e'},  {"lineage", 1, 0, 'l'},
        {"metrics", 1, 0, 'm'}, {"profile", 1, 0, 'f'}, {"endpoint", 1, 0, 'E'},
        {"limit", 1, 0, 'n'},  {"actor", 1, 0, 'a'},    {"db", 1, 0, 'D'},
        {"json", 0, 0, 'j'},   {"quiet", 0, 0, 'q'},    {0, 0, 0, 0}};
    const char *status = NULL, *kind = NULL, *path = NULL, *encoder = NULL, *lineage = NULL,
               *metrics = NULL, *profile = "seed003", *endpoint = NULL, *actor = NULL, *db = NULL;
    long parent = 0, limit = 50;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': status = optarg; break;
        case 'k': kind = optarg; break;
        case 'p': path = optarg; break;
        case 'P':
            if (sl_cli_parse_int("models", "--parent", optarg, 1, INT64_MAX, &parent)) return 2;
            break;
        case 'e': encoder = optarg; break;
        case 'l': lineage = optarg; break;
        case 'm': metrics = optarg; break;
        case 'f': profile = optarg; break;
        case 'E': endpoint = optarg; break;
        case 'n':
            if (sl_cli_parse_int("models", "--limit", optarg, 1, 1000000, &limit)) return 2;
            break;
        case 'a': actor = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        default: return sl_cli_usage_error("models", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    int filter = -1;
    if (status) {
        sl_mv_status st;
        if (sl_mv_status_parse(status, &st) != SL_OK) return sl_cli_usage_error("models", "%s", sl_last_error());
        filter = (int)st;
    }
    long id = 0;
    if (strcmp(sub, "show") == 0 || strcmp(sub, "evaluate") == 0) {
        if (optind >= argc) return sl_cli_usage_error("models", "%s needs a version ID", sub);
        if (sl_cli_parse_int("models", "ID", argv[optind], 1, INT64_MAX, &id)) return 2;
    } else if (optind < argc) {
        return sl_cli_usage_error("models", "unexpected argument '%s'", argv[optind]);
    }
    if (strcmp(sub, "register") == 0 && (!kind || !path))
        return sl_cli_usage_error("models", "register needs --kind and --path");
    if (strcmp(sub, "evaluate") == 0 && !metrics) return sl_cli_usage_error("models", "evaluate needs --metrics");
    if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "register") && strcmp(sub, "evaluate") &&
        strcmp(sub, "history"))
        return sl_cli_usage_error("models", "unknown subcommand '%s'", sub);

    sl_registry *reg = NULL;
    sl_status s = dcli_open("models", db, &reg);
    if (s == SL_OK && strcmp(sub, "list") == 0) {
        sl_model_version *v = NULL;
        size_t n = 0;
        s = sl_mv_list(reg, filter, &v, &n);
        if (s == SL_OK && !json) printf("   id  kind       status       eval         updated               path\n");
        for (size_t i = 0; s == SL_OK && i < n; i++) print_version(&v[i], json);
        sl_model_versions_free(v, n);
    } else if (s == SL_OK && strcmp(sub, "show") == 0) {
        sl_model_version v;
        s = sl_mv_get(reg, id, &v);
        if (s == SL_OK) print_version(&v, 1);
        if (s == SL_OK) sl_mv_record_clear(&v);
    } else if (s == SL_OK && strcmp(sub, "register") == 0) {
        char *lin = NULL;
        if (lineage) s = dcli_json_arg(lineage, &lin);
        if (s == SL_OK && encoder) {
            cJSON *l = lin ? cJSON_Parse(lin) : cJSON_CreateObject();
            char abs[4096];
            if (!l || !cJSON_IsObject(l)) s = sl_set_error(SL_ERR_ARG, "--lineage must be a JSON object");
            else if (!realpath(encoder, abs)) s = sl_set_error(SL_ERR_NOTFOUND, "%s: no such encoder file", encoder);
            else {
                cJSON_DeleteItemFromObject(l, "encoder");
                cJSON_AddStringToObject(l, "encoder", abs);
                free(lin);
                lin = cJSON_PrintUnformatted(l);
            }
            cJSON_Delete(l);
        }
        int64_t vid = 0;
        if (s == SL_OK) s = sl_mv_register(reg, kind, path, parent, 0, lin, dcli_actor(actor), &vid);
        free(lin);
        if (s == SL_OK) printf(json ? "{\"id\":%lld}\n" : "registered version %lld (training)\n", (long long)vid);
    } else if (s == SL_OK && strcmp(sub, "evaluate") == 0) {
        sl_evalgate_profile p;
        char *m = NULL, *pj = NULL;
        if (strcmp(profile, "seed003") == 0 || strcmp(profile, "workcell") == 0)
            s = sl_evalgate_profile_builtin(profile, &p);
        else if ((s = dcli_json_arg(profile, &pj)) == SL_OK)
            s = sl_evalgate_profile_parse(pj, &p);
        if (s == SL_OK) s = dcli_json_arg(metrics, &m);
        sl_evalgate_result r;
        if (s == SL_OK) s = sl_mv_record_evaluation(reg, id, &p, m, dcli_actor(actor), &r);
        for (int i = 0; s == SL_OK && !json && i < p.n; i++)
            printf("  %-26s %-5s %-8g value %-10g %s\n", p.gates[i].metric,
                   p.gates[i].op == SL_EVALGATE_GE ? ">=" : p.gates[i].op == SL_EVALGATE_LE ? "<=" : "abs<=",
                   p.gates[i].threshold, r.value[i], r.failed[i] ? "FAIL" : "pass");
        if (s == SL_OK)
            printf(json ? "{\"id\":%ld,\"passed\":%s}\n" : "version %ld: evaluation %s\n", id,
                   json ? (r.passed ? "true" : "false") : (r.passed ? "passed" : "FAILED (status failed)"));
        free(m);
        free(pj);
    } else if (s == SL_OK) {
        char *h = NULL;
        s = sl_deploy_history_json(reg, endpoint, (int)limit, &h);
        if (s == SL_OK && json) printf("%s\n", h);
        if (s == SL_OK && !json) {
            cJSON *a = cJSON_Parse(h);
            const cJSON *e;
            cJSON_ArrayForEach(e, a) {
                const cJSON *ep = cJSON_GetObjectItem(e, "endpoint"), *rs = cJSON_GetObjectItem(e, "reason");
                printf("%s  %-10s v%-4d %-16s %-11s -> %-11s by %-14s %s\n",
                       cJSON_GetObjectItem(e, "created")->valuestring,
                       cJSON_IsString(ep) ? ep->valuestring : "-",
                       (int)cJSON_GetObjectItem(e, "version_id")->valuedouble,
                       cJSON_GetObjectItem(e, "event")->valuestring,
                       cJSON_IsString(cJSON_GetObjectItem(e, "from_status")) ? cJSON_GetObjectItem(e, "from_status")->valuestring : "-",
                       cJSON_IsString(cJSON_GetObjectItem(e, "to_status")) ? cJSON_GetObjectItem(e, "to_status")->valuestring : "-",
                       cJSON_GetObjectItem(e, "actor")->valuestring, cJSON_IsString(rs) ? rs->valuestring : "");
            }
            cJSON_Delete(a);
        }
        free(h);
    }
    sl_registry_close(reg);
    return s == SL_OK ? 0 : sl_cli_fail(s);
}
