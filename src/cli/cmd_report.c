/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_report.c - `synthloop report RUN`: write the self-contained HTML report of a run
 * (sl_report_write) and record it as an artifact of that run. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_report.h"

SL_COMMAND(report, "write the self-contained HTML report of a run")

static void usage(void) {
    printf("usage: synthloop report RUN [--output FILE.html] [--db PATH] [--json]\n"
           "\n"
           "Writes one self-contained HTML file (inline CSS and SVG charts, no external\n"
           "requests) with the plots of run RUN (an id or 'last'): learning curves, world-model\n"
           "std ratio and trust by horizon, trust histograms, weight components, econ estimates\n"
           "with CIs, A/B verdicts, the horizon ladder, datasets, models and artifacts. Sections\n"
           "without recorded rows say so. The file is recorded as an artifact of the run.\n"
           "\n"
           "options:\n"
           "  --output FILE   output path (default synthloop-report-RUN.html)\n"
           "  --db PATH       registry file (default $SYNTHLOOP_DB or ./synthloop.db)\n"
           "  --json          print {\"run\", \"path\", \"bytes\", provenance} instead of the path\n"
           "  --quiet         print nothing on success\n"
           "  -h, --help      this help\n");
}

int cmd_report(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'D'},
                                         {"output", required_argument, 0, 'o'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *output = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hqo:", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db = optarg; break;
        case 'o': output = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case 'h': usage(); return 0;
        default:
            return sl_cli_usage_error("report", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return sl_cli_usage_error("report", "expected one RUN (an id or 'last')");
    if (output && !*output) return sl_cli_usage_error("report", "--output must not be empty");
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0) return sl_cli_usage_error("report", "--db none: no registry to read");
    sl_registry *reg = NULL;
    sl_status st = sl_registry_open(path, &reg);
    if (st != SL_OK) return sl_cli_fail(st);
    int64_t id;
    st = sl_registry_parse_run(reg, argv[optind], &id);
    if (st != SL_OK) {
        sl_registry_close(reg);
        return st == SL_ERR_ARG ? sl_cli_usage_error("report", "%s", sl_last_error()) : sl_cli_fail(st);
    }
    char def[64];
    snprintf(def, sizeof def, "synthloop-report-%lld.html", (long long)id);
    const char *out = output ? output : def;
    st = sl_report_write(reg, id, out);
    sl_registry_close(reg);
    if (st != SL_OK) return sl_cli_fail(st);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "run", (double)id);
        cJSON_AddStringToObject(j, "path", out);
        FILE *f = fopen(out, "rb");
        long bytes = -1;
        if (f) {
            fseek(f, 0, SEEK_END);
            bytes = ftell(f);
            fclose(f);
        }
        cJSON_AddNumberToObject(j, "bytes", (double)bytes);
        cJSON *cfg = cJSON_AddObjectToObject(j, "config");
        cJSON_AddStringToObject(cfg, "db", path);
        cJSON_AddStringToObject(cfg, "output", out);
        sl_json_add_provenance(j, 0);
        char *t = cJSON_Print(j);
        cJSON_Delete(j);
        if (t) printf("%s\n", t);
        free(t);
    } else if (!sl_cli_quiet) {
        printf("%s\n", out);
    }
    return 0;
}
