/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_import.c - `synthloop import`: D4RL/Minari HDF5, CSV (or NPZ) -> our dataset NPZ.
 *
 * Invariant: the output is written only after the whole input parsed and validated, and
 * atomically (sl_dataset_save_npz), so a failed import leaves the output path untouched.
 * The registry run (--db) is begun before the input is read and ended ok only after the output
 * and its dataset row were recorded; every error path ends it failed with {"error": message}.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/run_record.h"
#include "cli/import_opts.h"
#include "synthloop/sl_import.h"
#include "synthloop/sl_json.h"

SL_COMMAND(import, "convert a D4RL/Minari HDF5 or CSV dataset into synthloop's NPZ")

static void usage(FILE *f) {
    fprintf(f,
            "usage: synthloop import INPUT --output OUT.npz [options]\n\n"
            "Reads a D4RL-layout HDF5 file, a Minari HDF5 file (episode_N groups), a CSV file\n"
            "with a header row, or an NPZ, and writes a validated dataset NPZ.\n\n"
            "  -o, --output PATH     output NPZ (required; written atomically)\n"
            "      --db PATH|none    run registry (default $SYNTHLOOP_DB or synthloop.db;\n"
            "                        'none' records nothing)\n"
            "      --json            print the result as JSON on stdout\n"
            "  -q, --quiet           no summary line\n");
    import_opt_help(f);
}

int cmd_import(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"db", required_argument, 0, 'D'},
        SL_IMPORT_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_import_options opt;
    sl_import_options_default(&opt);
    const char *output = NULL, *db = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'j': json = 1; break;
        case 'D': db = optarg; break;
        case 'q': break; /* handled by main */
        case 'h': usage(stdout); return 0;
        case '?':
            return sl_cli_usage_error("import", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        default: {
            int r = import_opt_handle("import", c, optarg, &opt);
            if (r) return r < 0 ? sl_cli_usage_error("import", "bad option") : r;
        }
        }
    }
    if (optind >= argc) return sl_cli_usage_error("import", "missing INPUT file");
    if (optind + 1 < argc)
        return sl_cli_usage_error("import", "unexpected argument '%s'", argv[optind + 1]);
    const char *input = argv[optind];
    if (!output) return sl_cli_usage_error("import", "--output is required");
    if (strcmp(input, output) == 0)
        return sl_cli_usage_error("import", "--output must differ from INPUT");

    /* the run's config: input, output and the import options */
    cJSON *conf = import_opt_json(&opt);
    if (conf) {
        cJSON_AddStringToObject(conf, "input", input);
        cJSON_AddStringToObject(conf, "output", output);
    }
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_dataset *ds = NULL;
    sl_import_report rep;
    char in_sha[65] = "", out_sha[65] = "", apath[PATH_MAX];
    /* importing draws no random numbers: the run's seed is 0 */
    sl_status s = cli_run_begin(db, "import", conf, 0, &reg, &run);
    if (s == SL_OK) s = sl_import_file(&ds, input, &opt, &rep);
    if (s == SL_OK) s = sl_sha256_file(input, in_sha);
    if (s == SL_OK) s = sl_dataset_save_npz(ds, output);
    if (s == SL_OK) s = sl_sha256_file(output, out_sha);
    if (s == SL_OK)
        s = sl_registry_add_dataset(reg, run, cli_abs_path(output, apath), "imported",
                                    (int64_t)ds->n, (int64_t)ds->n_episodes, NULL);
    cJSON *summary = NULL;
    if (s == SL_OK) {
        summary = cJSON_CreateObject();
        cJSON_AddStringToObject(summary, "input", input);
        cJSON_AddStringToObject(summary, "input_sha256", in_sha);
        cJSON_AddStringToObject(summary, "output", output);
        cJSON_AddStringToObject(summary, "sha256", out_sha);
        cJSON_AddItemToObject(summary, "import", import_report_json(&rep));
        cJSON_AddNumberToObject(summary, "obs_dim", ds->obs_dim);
        cJSON_AddNumberToObject(summary, "act_dim", ds->act_dim);
    }
    int rc = cli_run_finish(reg, run, s, summary);
    cJSON_Delete(summary);
    if (rc) {
        sl_dataset_free(ds);
        return rc;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "command", "import");
        cJSON_AddStringToObject(j, "input", input);
        cJSON_AddStringToObject(j, "output", output);
        cJSON_AddItemToObject(j, "import", import_report_json(&rep));
        cJSON_AddNumberToObject(j, "obs_dim", ds->obs_dim);
        cJSON_AddNumberToObject(j, "act_dim", ds->act_dim);
        cJSON *cfg = import_opt_json(&opt);
        if (cfg) cJSON_AddItemToObject(j, "config", cfg);
        cJSON *prov = cJSON_AddObjectToObject(j, "provenance");
        sl_json_add_provenance(prov, 0);
        char *txt = cJSON_Print(j);
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(j);
    } else if (!sl_cli_quiet) {
        printf("imported %zu transitions in %zu episodes (obs %d, act %d) from %s [%s] -> %s\n",
               ds->n, ds->n_episodes, ds->obs_dim, ds->act_dim, input,
               sl_import_format_name(rep.format), output);
        if (rep.episodes < rep.episodes_in_file)
            printf("kept the first %zu of %zu episodes (--max-episodes)\n", rep.episodes,
                   rep.episodes_in_file);
        if (!rep.next_obs_from_file && rep.format != SL_IMPORT_NPZ)
            printf("next_observations derived from the following row; %zu episode-final rows "
                   "repeat their own observation\n",
                   rep.next_obs_repeated);
    }
    sl_dataset_free(ds);
    return rc;
}
