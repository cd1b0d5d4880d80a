/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_export.c - `synthloop export RUN`: one run and all its registry rows as JSON
 * (format in docs/REGISTRY.md), to stdout or atomically to --output. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

SL_COMMAND(export, "write a run and all its registry rows as JSON")

static void usage(void) {
    printf("usage: synthloop export RUN [--output FILE] [--db PATH] [--compact]\n"
           "\n"
           "Writes run RUN (an id or 'last') with its metrics, datasets, models, branches,\n"
           "weights, A/B experiments, ladder levels, estimates, samples, jobs and artifacts as\n"
           "one JSON document (format: docs/REGISTRY.md) to stdout or to FILE (atomic write).\n"
           "\n"
           "options:\n"
           "  --output FILE   write to FILE instead of stdout\n"
           "  --db PATH       registry file (default $SYNTHLOOP_DB or ./synthloop.db)\n"
           "  --compact       one line instead of indented JSON\n"
           "  --quiet         no extra output\n"
           "  -h, --help      this help\n");
}

int cmd_export(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'D'},
                                         {"output", required_argument, 0, 'o'},
                                         {"compact", no_argument, 0, 'c'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *output = NULL;
    int compact = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hqo:", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db = optarg; break;
        case 'o': output = optarg; break;
        case 'c': compact = 1; break;
        case 'q': break;
        case 'h': usage(); return 0;
        default:
            return sl_cli_usage_error("export", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return sl_cli_usage_error("export", "expected one RUN (an id or 'last')");
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0) return sl_cli_usage_error("export", "--db none: no registry to read");
    sl_registry *reg = NULL;
    sl_status st = sl_registry_open(path, &reg);
    if (st != SL_OK) return sl_cli_fail(st);
    int64_t id;
    st = sl_registry_parse_run(reg, argv[optind], &id);
    if (st != SL_OK) {
        sl_registry_close(reg);
        return st == SL_ERR_ARG ? sl_cli_usage_error("export", "%s", sl_last_error()) : sl_cli_fail(st);
    }
    cJSON *j = NULL;
    st = sl_registry_export_json(reg, id, &j);
    sl_registry_close(reg);
    if (st != SL_OK) return sl_cli_fail(st);
    char *txt = compact ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
    cJSON_Delete(j);
    if (!txt) return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "export: out of memory"));
    size_t n = strlen(txt);
    if (output) {
        char *t = realloc(txt, n + 2);
        if (!t) {
            free(txt);
            return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "export: out of memory"));
        }
        txt = t;
        txt[n] = '\n';
        txt[n + 1] = '\0';
        st = sl_write_file_atomic(output, txt, n + 1);
        free(txt);
        if (st != SL_OK) return sl_cli_fail(st);
        if (!sl_cli_quiet) fprintf(stderr, "synthloop: wrote run %lld to %s\n", (long long)id, output);
        return 0;
    }
    int ok = fwrite(txt, 1, n, stdout) == n && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
    free(txt);
    if (!ok) return sl_cli_fail(sl_set_error(SL_ERR_IO, "export: cannot write to stdout"));
    return 0;
}
