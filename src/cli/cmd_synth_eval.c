/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_synth_eval.c - `synthloop synth-eval REAL SYNTH`: quality, diversity and privacy scores
 * of a synthetic table (formulas in docs/GEN.md). Thin: parse, read, sl_gen_evaluate, print. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "synthloop/sl_gen.h"

SL_COMMAND(synth_eval, "score a synthetic table against real rows (quality, detection, coverage, privacy)")

static void usage(void) {
    printf("usage: synthloop synth-eval REAL.csv SYNTH.csv [--holdout H.csv] [--schema S.json]\n"
           "                            [--max-rows N] [--seed N] [--json]\n"
           "\n"
           "Scores SYNTH against REAL (the rows its generator was fitted on): per-column fidelity\n"
           "(1 - KS, 1 - TVD), pairwise similarity, detection ROC-AUC of a logistic regression\n"
           "on held-out rows (0.5 = indistinguishable), coverage, diversity and the overall\n"
           "quality = (fidelity + pairs + detection + coverage) / 4. With --holdout (real rows the\n"
           "generator never saw): distance to the closest record (DCR) against the holdout\n"
           "baseline and a membership-inference AUC (0.5 = no leak). Formulas: docs/GEN.md.\n"
           "\n"
           "options:\n"
           "  --holdout FILE   real rows not used for fitting (privacy scores)\n"
           "  --schema FILE    read all tables with this schema (types, labels)\n"
           "  --max-rows N     rows per table for the nearest-neighbour scores (default 4000)\n"
           "  --seed N         subsampling and detection split (default 1)\n"
           "  --json           JSON on stdout\n"
           "  -h, --help       this help\n");
}

int cmd_synth_eval(int argc, char **argv) {
    static const struct option opts[] = {{"holdout", required_argument, 0, 'H'},
                                         {"schema", required_argument, 0, 's'},
                                         {"max-rows", required_argument, 0, 'm'},
                                         {"seed", required_argument, 0, 'x'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "synth-eval", *holdout = NULL, *schema_path = NULL;
    int json = 0, c, rc;
    long v;
    sl_gen_eval_config ec = sl_gen_eval_defaults();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'H': holdout = optarg; break;
        case 's': schema_path = optarg; break;
        case 'j': json = 1; break;
        case 'q': break;
        case 'm':
            if ((rc = sl_cli_parse_int(cmd, "--max-rows", optarg, 4, 1000000, &v))) return rc;
            ec.max_rows = (size_t)v;
            break;
        case 'x':
            if ((rc = sl_cli_parse_u64(cmd, "--seed", optarg, &ec.seed))) return rc;
            break;
        case 'h': usage(); return 0;
        default:
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return sl_cli_usage_error(cmd, "expected REAL.csv and SYNTH.csv");
    sl_gen_table *schema = NULL, *real = NULL, *syn = NULL, *hold = NULL;
    sl_gen_scores s;
    memset(&s, 0, sizeof s);
    sl_status st = schema_path ? sl_gen_schema_read(schema_path, &schema) : SL_OK;
    if (st == SL_OK) st = sl_gen_table_read_csv(argv[optind], schema, &real);
    /* without a schema the synthetic and holdout tables are read with the real table's types
     * (a synthetic categorical column may hold only numbers-looking labels, e.g. "1"/"2") */
    if (st == SL_OK) st = sl_gen_table_read_csv(argv[optind + 1], schema ? schema : real, &syn);
    if (st == SL_OK && holdout) st = sl_gen_table_read_csv(holdout, schema ? schema : real, &hold);
    if (st == SL_OK) st = sl_gen_evaluate(real, syn, hold, &ec, &s);
    if (st == SL_OK) {
        if (json) {
            cJSON *j = sl_gen_scores_json(&s, real);
            char *t = j ? cJSON_Print(j) : NULL;
            if (t) printf("%s\n", t);
            free(t);
            cJSON_Delete(j);
        } else {
            printf("quality          %.4f\n", s.quality);
            printf("fidelity         %.4f\n", s.fidelity);
            for (size_t k = 0; k < s.n_cols; k++)
                printf("  %-14s %.4f  (%s)\n", real->cols[k].name, s.col_fidelity[k],
                       real->cols[k].type == SL_GEN_CATEGORICAL ? "1 - TVD" : "1 - KS");
            printf("pair similarity  %.4f\n", s.pair_similarity);
            printf("detection        %.4f  (AUC %.4f; 0.5 = indistinguishable)\n", s.detection,
                   s.detection_auc);
            printf("coverage         %.4f\n", s.coverage);
            printf("diversity        %.4f\n", s.diversity);
            if (s.has_privacy) {
                printf("dcr synth        %.4f  (median distance to the closest real row)\n", s.dcr_synth);
                printf("dcr holdout      %.4f  (the same for unseen real rows)\n", s.dcr_holdout);
                printf("dcr share        %.4f  (0.5 ideal)\n", s.dcr_share);
                printf("membership AUC   %.4f  (0.5 = no leak)\n", s.mia_auc);
            } else {
                printf("privacy          not measured (no --holdout)\n");
            }
        }
    }
    sl_gen_scores_free(&s);
    sl_gen_table_free(hold);
    sl_gen_table_free(syn);
    sl_gen_table_free(real);
    sl_gen_table_free(schema);
    return st == SL_OK ? 0 : sl_cli_fail(st);
}
