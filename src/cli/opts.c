/* SPDX-License-Identifier: Apache-2.0 */
/* opts.c - table-driven option parsing, help and config JSON (see opts.h).
 * Invariant: an option that parses is in the help text and, when it has a json key, in the
 * config JSON, because all three read the same row. */
#include <getopt.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

int cli_opts_parse(const char *cmd, const cli_opt *t, size_t n, void *dst, int argc, char **argv,
                   int *positional) {
    struct option lo[CLI_OPT_MAX + 1];
    if (n > CLI_OPT_MAX) return sl_cli_usage_error(cmd, "internal: too many options");
    for (size_t i = 0; i < n; i++)
        lo[i] = (struct option){t[i].name, t[i].type == CLI_FLAG ? no_argument : required_argument,
                                NULL, (int)(1000 + i)};
    lo[n] = (struct option){0, 0, 0, 0};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c < 1000 || c >= 1000 + (int)n)
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        const cli_opt *o = &t[c - 1000];
        char *field = (char *)dst + o->offset;
        char opt[80];
        snprintf(opt, sizeof opt, "--%s", o->name);
        long v;
        double x;
        uint64_t u;
        switch (o->type) {
        case CLI_FLAG: memcpy(field, &o->flag_value, sizeof(int)); break;
        case CLI_INT:
            if (sl_cli_parse_int(cmd, opt, optarg, (long)o->lo, (long)o->hi, &v)) return 2;
            *(int *)(void *)field = (int)v;
            break;
        case CLI_U64:
            if (sl_cli_parse_u64(cmd, opt, optarg, &u)) return 2;
            memcpy(field, &u, sizeof u);
            break;
        case CLI_DOUBLE:
            if (sl_cli_parse_double(cmd, opt, optarg, o->lo, o->hi, &x)) return 2;
            memcpy(field, &x, sizeof x);
            break;
        case CLI_FLOAT: {
            if (sl_cli_parse_double(cmd, opt, optarg, o->lo, o->hi, &x)) return 2;
            float f = (float)x;
            memcpy(field, &f, sizeof f);
            break;
        }
        case CLI_STRING: {
            const char *s = optarg;
            memcpy(field, &s, sizeof s);
            break;
        }
        case CLI_CUSTOM:
            if (o->parse(cmd, optarg, dst)) return 2;
            break;
        default: return sl_cli_usage_error(cmd, "internal: bad option type");
        }
    }
    if (optind < argc) {
        if (!positional) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        *positional = optind;
    }
    return 0;
}

void cli_opts_help(FILE *f, const cli_opt *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", t[i].name, t[i].metavar ? " " : "",
                 t[i].metavar ? t[i].metavar : "");
        fprintf(f, "  %-20s %s\n", left, t[i].help ? t[i].help : "");
    }
}

void cli_opts_json(cJSON *obj, const cli_opt *t, size_t n, const void *src) {
    for (size_t i = 0; i < n; i++) {
        if (!t[i].json) continue;
        const char *field = (const char *)src + t[i].offset;
        int iv;
        double dv;
        float fv;
        uint64_t uv;
        const char *sv;
        switch (t[i].type) {
        case CLI_FLAG:
            memcpy(&iv, field, sizeof iv);
            cJSON_AddBoolToObject(obj, t[i].json, iv == t[i].flag_value);
            break;
        case CLI_INT:
            memcpy(&iv, field, sizeof iv);
            cJSON_AddNumberToObject(obj, t[i].json, iv);
            break;
        case CLI_U64:
            memcpy(&uv, field, sizeof uv);
            cJSON_AddNumberToObject(obj, t[i].json, (double)uv);
            break;
        case CLI_DOUBLE:
            memcpy(&dv, field, sizeof dv);
            cJSON_AddNumberToObject(obj, t[i].json, dv);
            break;
        case CLI_FLOAT:
            memcpy(&fv, field, sizeof fv);
            cJSON_AddNumberToObject(obj, t[i].json, (double)fv);
            break;
        case CLI_STRING:
            memcpy(&sv, field, sizeof sv);
            if (sv) cJSON_AddStringToObject(obj, t[i].json, sv);
            else cJSON_AddNullToObject(obj, t[i].json);
            break;
        default: break;
        }
    }
}
