/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_weights.c - `synthloop weights train`: fit the SyntheticWeightController's learned
 * components (the econ value model and the lambda controller, docs/WEIGHTS.md) from recorded
 * outcomes (`ab --record-outcomes`, JSON lines) and save them for `ab` / `train`
 * (--econ-model, --lambda-model).
 *
 * Invariant: a model file is written only when its records exist and its training succeeded
 * (atomic JSON write); the run is one registry run ("weights train").
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/run_record.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_weight.h"

SL_COMMAND(weights, "fit the weight controller's econ model and lambda controller from outcomes")

static void usage(void) {
    printf("usage: synthloop weights train --records R.jsonl [--econ-output E.json]\n"
           "                               [--lambda-output L.json] [options]\n"
           "\n"
           "Fits the SyntheticWeightController's learned components from recorded outcomes\n"
           "(`synthloop ab --record-outcomes R.jsonl`; format in docs/WEIGHTS.md):\n"
           "  econ value model   econ_outcome records (branch deltas, brick, objective ->\n"
           "                     outcome in [0,1]); monotone in each delta by construction\n"
           "  lambda controller  lambda_outcome records (context -> share used, weighted by\n"
           "                     the run's reward)\n"
           "Pass the files to `ab` / `train` with --econ-model / --lambda-model; the controller\n"
           "leaves phase 1 (trust only) once both were trained on >= --min-outcomes records.\n"
           "\n"
           "options:\n"
           "  --records PATH       JSON-lines outcome records (required)\n"
           "  --econ-output PATH   econ model JSON to write\n"
           "  --lambda-output PATH lambda controller JSON to write\n"
           "  --steps N            full-batch Adam steps (2000)\n"
           "  --lr X               learning rate (0.05)\n"
           "  --l2 X               L2 penalty (1e-4)\n"
           "  --db PATH|none       run registry (default $SYNTHLOOP_DB or synthloop.db)\n"
           "  --json               print the result JSON on stdout\n"
           "  --quiet              no table\n");
}

int cmd_weights(int argc, char **argv) {
    if (argc < 2) return sl_cli_usage_error("weights", "missing subcommand (train)");
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "train") != 0)
        return sl_cli_usage_error("weights", "unknown subcommand '%s' (expected train)", argv[1]);
    argc--;
    argv++;
    const char *records = NULL, *eout = NULL, *lout = NULL, *db = NULL;
    int json = 0, quiet = 0, c;
    long v;
    sl_weight_train_cfg tc = sl_weight_train_cfg_default();
    static const struct option opts[] = {
        {"records", 1, 0, 'r'}, {"econ-output", 1, 0, 'e'}, {"lambda-output", 1, 0, 'l'},
        {"steps", 1, 0, 's'},   {"lr", 1, 0, 'L'},          {"l2", 1, 0, '2'},
        {"db", 1, 0, 'D'},      {"json", 0, 0, 'j'},        {"quiet", 0, 0, 'q'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': records = optarg; break;
        case 'e': eout = optarg; break;
        case 'l': lout = optarg; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 's':
            if (sl_cli_parse_int("weights", "--steps", optarg, 1, 10000000, &v)) return 2;
            tc.steps = (int)v;
            break;
        case 'L':
            if (sl_cli_parse_double("weights", "--lr", optarg, 1e-9, 10, &tc.lr)) return 2;
            break;
        case '2':
            if (sl_cli_parse_double("weights", "--l2", optarg, 0, 1e6, &tc.l2)) return 2;
            break;
        default:
            return sl_cli_usage_error("weights", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error("weights", "unexpected argument '%s'", argv[optind]);
    if (!records) return sl_cli_usage_error("weights", "--records is required");
    if (!eout && !lout)
        return sl_cli_usage_error("weights", "nothing to write: give --econ-output and/or "
                                             "--lambda-output");
    char ab[PATH_MAX];
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "records", cli_abs_path(records, ab));
    if (eout) cJSON_AddStringToObject(conf, "econ_output", eout);
    if (lout) cJSON_AddStringToObject(conf, "lambda_output", lout);
    cJSON_AddNumberToObject(conf, "steps", tc.steps);
    cJSON_AddNumberToObject(conf, "lr", tc.lr);
    cJSON_AddNumberToObject(conf, "l2", tc.l2);
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(db, "weights train", conf, 0, &reg, &run);
    sl_econ_record *er = NULL;
    sl_lambda_record *lr = NULL;
    size_t ne = 0, nl = 0;
    if (st == SL_OK) st = sl_weight_records_read(records, &er, &ne, &lr, &nl);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "econ_records", (double)ne);
    cJSON_AddNumberToObject(res, "lambda_records", (double)nl);
    if (st == SL_OK && eout) {
        if (ne == 0) {
            st = sl_set_error(SL_ERR_ARG, "%s: no econ_outcome records for --econ-output", records);
        } else {
            sl_econ_model m;
            double l0 = 0, l1 = 0;
            st = sl_econ_model_train(&m, er, ne, &tc, &l0, &l1);
            if (st == SL_OK) st = sl_econ_model_save(&m, eout);
            if (st == SL_OK) {
                cJSON *o = cJSON_AddObjectToObject(res, "econ_model");
                cJSON_AddStringToObject(o, "path", eout);
                cJSON_AddNumberToObject(o, "n_train", (double)m.n_train);
                cJSON_AddNumberToObject(o, "n_bricks", m.n_bricks);
                cJSON_AddNumberToObject(o, "loss_before", l0);
                cJSON_AddNumberToObject(o, "loss_after", l1);
                if (reg) st = sl_registry_add_model(reg, run, "econ", cli_abs_out_path(eout, ab), 0,
                                                    NULL, NULL);
            }
        }
    }
    if (st == SL_OK && lout) {
        if (nl == 0) {
            st = sl_set_error(SL_ERR_ARG, "%s: no lambda_outcome records for --lambda-output",
                              records);
        } else {
            sl_lambda_model m;
            double l0 = 0, l1 = 0;
            st = sl_lambda_model_train(&m, lr, nl, &tc, &l0, &l1);
            if (st == SL_OK) st = sl_lambda_model_save(&m, lout);
            if (st == SL_OK) {
                cJSON *o = cJSON_AddObjectToObject(res, "lambda_model");
                cJSON_AddStringToObject(o, "path", lout);
                cJSON_AddNumberToObject(o, "n_train", (double)m.n_train);
                cJSON_AddNumberToObject(o, "loss_before", l0);
                cJSON_AddNumberToObject(o, "loss_after", l1);
                if (reg) st = sl_registry_add_model(reg, run, "lambda", cli_abs_out_path(lout, ab),
                                                    0, NULL, NULL);
            }
        }
    }
    if (st == SL_OK) {
        sl_json_add_provenance(res, 0);
        if (json) {
            char *t = cJSON_Print(res);
            if (t) puts(t);
            free(t);
        } else if (!quiet) {
            printf("%zu econ_outcome and %zu lambda_outcome records from %s\n", ne, nl, records);
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(res, "econ_model");
            if (o)
                printf("  econ model   -> %s (loss %.6g -> %.6g, %d bricks)\n", eout,
                       sl_json_num(o, "loss_before", 0), sl_json_num(o, "loss_after", 0),
                       (int)sl_json_num(o, "n_bricks", 0));
            o = cJSON_GetObjectItemCaseSensitive(res, "lambda_model");
            if (o)
                printf("  lambda model -> %s (loss %.6g -> %.6g)\n", lout,
                       sl_json_num(o, "loss_before", 0), sl_json_num(o, "loss_after", 0));
            printf("  the controller uses them in phase 2 once each has >= %d records "
                   "(ab/train --min-outcomes)\n", SL_WEIGHT_MIN_OUTCOMES);
        }
    }
    int rc = cli_run_finish(reg, run, st, st == SL_OK ? res : NULL);
    cJSON_Delete(res);
    free(er);
    free(lr);
    return rc;
}
