/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_info.c - `synthloop info FILE`: summarise a dataset in any importable format (NPZ,
 * D4RL/Minari HDF5, CSV): sizes, reward and episode statistics, columns, econ metrics.
 *
 * Invariant: read-only; the text and the --json forms come from the same summary object
 * (sl_import_summary_json).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/import_opts.h"
#include "synthloop/sl_import.h"
#include "synthloop/sl_json.h"

SL_COMMAND(info, "summarise a dataset (NPZ, D4RL/Minari HDF5 or CSV)")

static void usage(FILE *f) {
    fprintf(f,
            "usage: synthloop info FILE [options]\n\n"
            "Prints transitions, episodes, dimensions, reward and episode-length statistics,\n"
            "the columns present and the econ metrics (if any) of a dataset file.\n\n"
            "      --json            print the summary as JSON on stdout\n");
    import_opt_help(f);
}

static void print_stats(const char *label, const cJSON *o) {
    if (!o) return;
    printf("%-22s mean %-12.6g std %-12.6g min %-12.6g max %.6g\n", label,
           sl_json_num(o, "mean", 0), sl_json_num(o, "std", 0), sl_json_num(o, "min", 0),
           sl_json_num(o, "max", 0));
}

int cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        SL_IMPORT_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_import_options opt;
    sl_import_options_default(&opt);
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'q': break;
        case 'h': usage(stdout); return 0;
        case '?':
            return sl_cli_usage_error("info", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        default: {
            int r = import_opt_handle("info", c, optarg, &opt);
            if (r) return r < 0 ? sl_cli_usage_error("info", "bad option") : r;
        }
        }
    }
    if (optind >= argc) return sl_cli_usage_error("info", "missing FILE");
    if (optind + 1 < argc)
        return sl_cli_usage_error("info", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];

    sl_dataset *ds = NULL;
    sl_import_report rep;
    sl_status s = sl_import_file(&ds, path, &opt, &rep);
    if (s != SL_OK) return sl_cli_fail(s);
    cJSON *sum = NULL;
    s = sl_import_summary_json(ds, &sum);
    sl_dataset_free(ds);
    if (s != SL_OK) return sl_cli_fail(s);
    cJSON_AddStringToObject(sum, "file", path);
    cJSON_AddStringToObject(sum, "format", sl_import_format_name(rep.format));
    if (json) {
        cJSON *r = import_report_json(&rep);
        if (r) cJSON_AddItemToObject(sum, "import", r);
        cJSON *cfg = import_opt_json(&opt);
        if (cfg) cJSON_AddItemToObject(sum, "config", cfg);
        cJSON *prov = cJSON_AddObjectToObject(sum, "provenance");
        sl_json_add_provenance(prov, 0);
        char *txt = cJSON_Print(sum);
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(sum);
        return 0;
    }
    printf("file                   %s (%s)\n", path, sl_import_format_name(rep.format));
    printf("transitions            %.0f\n", sl_json_num(sum, "transitions", 0));
    printf("episodes               %.0f\n", sl_json_num(sum, "episodes", 0));
    printf("obs_dim / act_dim      %d / %d\n", sl_json_int(sum, "obs_dim", 0),
           sl_json_int(sum, "act_dim", 0));
    printf("terminals / timeouts   %.0f / %.0f\n", sl_json_num(sum, "terminals", 0),
           sl_json_num(sum, "timeouts", 0));
    if (rep.format != SL_IMPORT_NPZ && !rep.next_obs_from_file)
        printf("next_observations      derived (%zu episode-final rows repeat their obs)\n",
               rep.next_obs_repeated);
    print_stats("reward", cJSON_GetObjectItemCaseSensitive(sum, "reward"));
    print_stats("episode return", cJSON_GetObjectItemCaseSensitive(sum, "episode_return"));
    print_stats("episode length", cJSON_GetObjectItemCaseSensitive(sum, "episode_length"));
    printf("columns               ");
    const cJSON *col;
    cJSON_ArrayForEach(col, cJSON_GetObjectItemCaseSensitive(sum, "columns"))
        printf(" %s", col->valuestring);
    printf("\n");
    const cJSON *econ = cJSON_GetObjectItemCaseSensitive(sum, "econ");
    if (econ) {
        printf("econ (per episode):\n");
        const cJSON *m;
        cJSON_ArrayForEach(m, econ) {
            char lab[64];
            snprintf(lab, sizeof lab, "  %s", m->string);
            print_stats(lab, m);
        }
    }
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(sum, "episode_columns");
    int n_other = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, ec) if (!econ || !cJSON_GetObjectItemCaseSensitive(econ, m->string))
        n_other++;
    if (n_other) {
        printf("other episode columns:\n");
        cJSON_ArrayForEach(m, ec) {
            if (econ && cJSON_GetObjectItemCaseSensitive(econ, m->string)) continue;
            char lab[64];
            snprintf(lab, sizeof lab, "  %s", m->string);
            print_stats(lab, m);
        }
    }
    cJSON_Delete(sum);
    return 0;
}
