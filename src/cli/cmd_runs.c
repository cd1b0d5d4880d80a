/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_runs.c - `synthloop runs`: list runs, show one, compare two side by side.
 * Read-only over the registry (opening it may mark runs of dead processes failed). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_registry.h"

SL_COMMAND(runs, "list recorded runs; 'runs show ID', 'runs compare ID1 ID2'")

static void usage(void) {
    printf("usage: synthloop runs [list] [--limit N] [--status S] [--command C] [--json]\n"
           "       synthloop runs show RUN [--json]\n"
           "       synthloop runs compare RUN1 RUN2 [--json]\n"
           "\n"
           "Lists the runs recorded in the registry (newest first), shows one run (config,\n"
           "summary, metric series, rows recorded, A/B verdicts, ladder), or compares two runs\n"
           "(config differences, metric last values, verdicts). RUN is an id or 'last'.\n"
           "\n"
           "options:\n"
           "  --db PATH       registry file (default $SYNTHLOOP_DB or ./synthloop.db)\n"
           "  --limit N       list at most N runs (default 50; 0 = all)\n"
           "  --status S      list only runs with status S (running, ok, failed, aborted)\n"
           "  --command C     list only runs of command C\n"
           "  --json          machine-readable output\n"
           "  --quiet         no extra output\n"
           "  -h, --help      this help\n");
}

/* Scalar cJSON as short text (strings raw, numbers %.6g, null as "-"). */
static void scalar(const cJSON *v, char *buf, size_t n) {
    if (!v || cJSON_IsNull(v))
        snprintf(buf, n, "-");
    else if (cJSON_IsString(v))
        snprintf(buf, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.6g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsRaw(v))
        snprintf(buf, n, "%s", v->valuestring);
    else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(buf, n, "%s", t ? t : "?");
        free(t);
    }
}

static const char *field(const cJSON *o, const char *k, char *buf, size_t n) {
    scalar(cJSON_GetObjectItem(o, k), buf, n);
    return buf;
}

static int print_json_and_free(cJSON *j) {
    char *t = cJSON_Print(j);
    cJSON_Delete(j);
    if (!t) return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "out of memory"));
    printf("%s\n", t);
    free(t);
    return 0;
}

/* Text of a TEXT cell or NULL (SQL NULL or missing). */
static const char *cell_text(const sl_rows *rows, size_t i, const char *col) {
    const sl_cell *c = sl_rows_get(rows, i, col);
    return c && c->type == SL_CELL_TEXT ? c->s : NULL;
}

static int64_t cell_int(const sl_rows *rows, size_t i, const char *col) {
    const sl_cell *c = sl_rows_get(rows, i, col);
    return c && (c->type == SL_CELL_INT || c->type == SL_CELL_UINT) ? c->i : 0;
}

static int do_list(sl_registry *reg, long limit, const char *status, const char *command,
                   int json) {
    sl_rows_query q = sl_rows_query_default();
    q.limit = limit;
    q.command = command;
    if (status) {
        sl_run_status rs;
        if (sl_run_status_parse(status, &rs) != SL_OK) return sl_cli_fail(SL_ERR_ARG);
        q.status = (int)rs;
    }
    sl_rows *rows = NULL;
    sl_status st = sl_registry_rows(reg, SL_ROWS_RUNS, &q, &rows);
    if (st != SL_OK) return sl_cli_fail(st);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < rows->nrow; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "id", (double)cell_int(rows, i, "id"));
        cJSON_AddStringToObject(r, "command", cell_text(rows, i, "command"));
        cJSON_AddStringToObject(r, "status", cell_text(rows, i, "status"));
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)cell_int(rows, i, "seed"));
        cJSON_AddItemToObject(r, "seed", cJSON_CreateRaw(seed));
        cJSON_AddStringToObject(r, "started", cell_text(rows, i, "started"));
        static const char *const opt[] = {"ended", "git", "note"};
        for (int c = 0; c < 3; c++) {
            const char *t = cell_text(rows, i, opt[c]);
            if (t)
                cJSON_AddStringToObject(r, opt[c], t);
            else
                cJSON_AddNullToObject(r, opt[c]);
        }
        cJSON_AddNumberToObject(r, "seconds", (double)cell_int(rows, i, "seconds"));
        cJSON_AddItemToArray(arr, r);
    }
    sl_rows_free(rows);
    if (!arr) return sl_cli_fail(sl_set_error(SL_ERR_NOMEM, "runs: out of memory"));
    if (json) return print_json_and_free(arr);
    if (!arr->child) {
        printf("no runs recorded in %s\n", sl_registry_path(reg));
        cJSON_Delete(arr);
        return 0;
    }
    printf("%5s  %-16s %-8s %12s  %-20s %8s  %-14s %s\n", "ID", "COMMAND", "STATUS", "SEED",
           "STARTED (UTC)", "SECONDS", "GIT", "NOTE");
    char b[8][256];
    for (const cJSON *r = arr->child; r; r = r->next)
        printf("%5s  %-16s %-8s %12s  %-20s %8s  %-14.14s %s\n", field(r, "id", b[0], 256),
               field(r, "command", b[1], 256), field(r, "status", b[2], 256),
               field(r, "seed", b[3], 256), field(r, "started", b[4], 256),
               field(r, "seconds", b[5], 256), field(r, "git", b[6], 256),
               cJSON_IsString(cJSON_GetObjectItem(r, "note")) ? field(r, "note", b[7], 256) : "");
    cJSON_Delete(arr);
    return 0;
}

static void print_flat(const char *title, const cJSON *v) {
    cJSON *flat = NULL;
    if (sl_json_flatten(v, &flat) != SL_OK) return;
    printf("%s:%s\n", title, flat->child ? "" : " (none)");
    for (const cJSON *c = flat->child; c; c = c->next)
        printf("  %-32s %s\n", c->string, c->valuestring);
    cJSON_Delete(flat);
}

static int do_show(sl_registry *reg, int64_t id, int json) {
    cJSON *s = NULL;
    sl_status st = sl_registry_run_summary(reg, id, &s);
    if (st != SL_OK) return sl_cli_fail(st);
    if (json) return print_json_and_free(s);
    const cJSON *r = cJSON_GetObjectItem(s, "run");
    char b[8][256];
    printf("run %s  %s  %s\n", field(r, "id", b[0], 256), field(r, "command", b[1], 256),
           field(r, "status", b[2], 256));
    printf("  started %s  ended %s  (%s s)\n", field(r, "started", b[0], 256),
           field(r, "ended", b[1], 256), field(r, "seconds", b[2], 256));
    printf("  seed %s  version %s  git %s  host %s  pid %s\n", field(r, "seed", b[0], 256),
           field(r, "version", b[1], 256), field(r, "git", b[2], 256), field(r, "host", b[3], 256),
           field(r, "pid", b[4], 256));
    if (cJSON_IsString(cJSON_GetObjectItem(r, "note")))
        printf("  note: %s\n", field(r, "note", b[0], 256));
    print_flat("config", cJSON_GetObjectItem(r, "config"));
    print_flat("summary", cJSON_GetObjectItem(r, "summary"));
    const cJSON *series = cJSON_GetObjectItem(s, "series");
    printf("metric series:%s\n", series->child ? "" : " (none)");
    if (series->child)
        printf("  %-32s %7s %12s %12s %12s\n", "SERIES", "POINTS", "LAST", "MIN", "MAX");
    for (const cJSON *c = series->child; c; c = c->next)
        printf("  %-32s %7s %12s %12s %12s\n", field(c, "series", b[0], 256),
               field(c, "n", b[1], 256), field(c, "last", b[2], 256), field(c, "min", b[3], 256),
               field(c, "max", b[4], 256));
    const cJSON *counts = cJSON_GetObjectItem(s, "counts");
    printf("rows:");
    for (const cJSON *c = counts->child; c; c = c->next) printf(" %s %s", c->string, field(counts, c->string, b[0], 256));
    printf("\n");
    static const char *const lists[] = {"datasets", "models", "artifacts", "jobs"};
    for (size_t i = 0; i < 4; i++) {
        const cJSON *a = cJSON_GetObjectItem(s, lists[i]);
        if (!a->child) continue;
        printf("%s:\n", lists[i]);
        for (const cJSON *c = a->child; c; c = c->next) {
            if (i == 3)
                printf("  #%s %s %s %s/%s %s\n", field(c, "id", b[0], 256), field(c, "kind", b[1], 256),
                       field(c, "status", b[2], 256), field(c, "done", b[3], 256),
                       field(c, "total", b[4], 256), field(c, "message", b[5], 256));
            else
                printf("  #%s %-10s %s%s%.12s\n", field(c, "id", b[0], 256), field(c, "kind", b[1], 256),
                       field(c, "path", b[2], 256), cJSON_IsString(cJSON_GetObjectItem(c, "sha256")) ? "  sha256 " : "",
                       cJSON_IsString(cJSON_GetObjectItem(c, "sha256")) ? field(c, "sha256", b[3], 256) : "");
        }
    }
    const cJSON *ab = cJSON_GetObjectItem(s, "ab_experiments");
    for (const cJSON *c = ab->child; c; c = c->next)
        printf("A/B %s: %s\n", field(c, "name", b[0], 256), field(c, "verdict", b[1], 256));
    const cJSON *est = cJSON_GetObjectItem(s, "estimates");
    for (const cJSON *c = est->child; c; c = c->next)
        printf("estimate %s [%s]: %s (CI %s .. %s, n %s)\n", field(c, "name", b[0], 256),
               field(c, "arm", b[1], 256), field(c, "value", b[2], 256), field(c, "ci_lo", b[3], 256),
               field(c, "ci_hi", b[4], 256), field(c, "n", b[5], 256));
    const cJSON *lad = cJSON_GetObjectItem(s, "ladder");
    for (const cJSON *c = lad->child; c; c = c->next)
        printf("ladder level %s (horizon %s): %s %s\n", field(c, "level", b[0], 256),
               field(c, "horizon", b[1], 256),
               sl_json_int(c, "passed", 0) ? "PASS" : "FAIL", field(c, "verdict", b[2], 256));
    cJSON_Delete(s);
    return 0;
}

static int do_compare(sl_registry *reg, int64_t a, int64_t b, int json) {
    cJSON *c = NULL;
    sl_status st = sl_registry_run_compare(reg, a, b, &c);
    if (st != SL_OK) return sl_cli_fail(st);
    if (json) return print_json_and_free(c);
    const cJSON *ra = cJSON_GetObjectItem(c, "a"), *rb = cJSON_GetObjectItem(c, "b");
    char x[4][256];
    printf("%-34s %-24s %-24s\n", "", "A", "B");
    static const char *const fields[] = {"id", "command", "status", "seed", "git", "started",
                                         "seconds", "note"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        printf("%-34s %-24s %-24s\n", fields[i], field(ra, fields[i], x[0], 256),
               field(rb, fields[i], x[1], 256));
    static const char *const blocks[] = {"config", "summary"};
    for (int k = 0; k < 2; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_diff", blocks[k]);
        const cJSON *d = cJSON_GetObjectItem(c, key);
        snprintf(key, sizeof key, "%s_same", blocks[k]);
        printf("\n%s: %d keys differ, %d equal\n", blocks[k], cJSON_GetArraySize(d),
               sl_json_int(c, key, 0));
        for (const cJSON *e = d->child; e; e = e->next)
            printf("  %-32s %-24s %-24s\n", field(e, "key", x[0], 256), field(e, "a", x[1], 256),
                   field(e, "b", x[2], 256));
    }
    const cJSON *s = cJSON_GetObjectItem(c, "series");
    printf("\nmetric series (last value):%s\n", s->child ? "" : " (none)");
    for (const cJSON *e = s->child; e; e = e->next)
        printf("  %-32s %-24s %-24s diff %s\n", field(e, "series", x[0], 256),
               field(e, "a_last", x[1], 256), field(e, "b_last", x[2], 256),
               field(e, "diff", x[3], 256));
    const cJSON *ab = cJSON_GetObjectItem(c, "ab_experiments");
    printf("\nA/B verdicts:\n");
    for (int side = 0; side < 2; side++) {
        const cJSON *l = cJSON_GetObjectItem(ab, side ? "b" : "a");
        printf("  %s:%s", side ? "B" : "A", l && l->child ? "" : " (none)");
        for (const cJSON *e = l ? l->child : NULL; e; e = e->next)
            printf(" %s=%s", field(e, "name", x[0], 256), field(e, "verdict", x[1], 256));
        printf("\n");
    }
    const cJSON *lad = cJSON_GetObjectItem(c, "ladder");
    printf("ladder:\n");
    for (int side = 0; side < 2; side++) {
        const cJSON *l = cJSON_GetObjectItem(lad, side ? "b" : "a");
        printf("  %s:%s", side ? "B" : "A", l && l->child ? "" : " (none)");
        for (const cJSON *e = l ? l->child : NULL; e; e = e->next)
            printf(" L%s(h%s)=%s", field(e, "level", x[0], 256), field(e, "horizon", x[1], 256),
                   sl_json_int(e, "passed", 0) ? "pass" : "fail");
        printf("\n");
    }
    cJSON_Delete(c);
    return 0;
}

int cmd_runs(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'D'},
                                         {"limit", required_argument, 0, 'n'},
                                         {"status", required_argument, 0, 's'},
                                         {"command", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *status = NULL, *command = NULL;
    long limit = 50;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hqn:", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db = optarg; break;
        case 'n':
            if (sl_cli_parse_int("runs", "--limit", optarg, 0, 1000000000, &limit)) return 2;
            break;
        case 's': {
            sl_run_status rs;
            if (sl_run_status_parse(optarg, &rs) != SL_OK)
                return sl_cli_usage_error("runs", "--status must be running, ok, failed or aborted");
            status = optarg;
            break;
        }
        case 'c': command = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case 'h': usage(); return 0;
        default:
            return sl_cli_usage_error("runs", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    const char *sub = optind < argc ? argv[optind] : "list";
    int npos = argc - optind - (optind < argc ? 1 : 0);
    char **pos = argv + optind + (optind < argc ? 1 : 0);
    int want = strcmp(sub, "list") == 0 ? 0 : strcmp(sub, "show") == 0 ? 1
             : strcmp(sub, "compare") == 0 ? 2 : -1;
    if (want < 0) return sl_cli_usage_error("runs", "unknown subcommand '%s' (list, show, compare)", sub);
    if (npos != want)
        return sl_cli_usage_error("runs", "'runs %s' takes %d run id(s), got %d", sub, want, npos);
    const char *path = sl_registry_resolve_path(db);
    if (strcmp(path, "none") == 0) return sl_cli_usage_error("runs", "--db none: no registry to read");
    sl_registry *reg = NULL;
    sl_status st = sl_registry_open(path, &reg);
    if (st != SL_OK) return sl_cli_fail(st);
    int rc;
    int64_t ids[2] = {0, 0};
    for (int i = 0; i < want; i++) {
        st = sl_registry_parse_run(reg, pos[i], &ids[i]);
        if (st != SL_OK) {
            sl_registry_close(reg);
            return st == SL_ERR_ARG ? sl_cli_usage_error("runs", "%s", sl_last_error()) : sl_cli_fail(st);
        }
    }
    if (want == 0)
        rc = do_list(reg, limit, status, command, json);
    else if (want == 1)
        rc = do_show(reg, ids[0], json);
    else
        rc = do_compare(reg, ids[0], ids[1], json);
    sl_registry_close(reg);
    return rc;
}
