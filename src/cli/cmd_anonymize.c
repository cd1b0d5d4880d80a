/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_anonymize.c - `synthloop anonymize`: one privacy release (DP noise, k-anonymity,
 * pseudonyms or full-domain generalisation) of a CSV under a column-role schema, charged to
 * the budget ledger of the registry before the output appears. docs/PRIVACY.md.
 *
 * Invariant: bad input (schema, table, parameters, key) is reported before anything is
 * written or charged; the registry run is ended failed with the message on every error path.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli/run_record.h"
#include "synthloop/sl_privacy.h"

SL_COMMAND(anonymize, "privacy release of a CSV (dp, kanon, pseudo, generalize, aggregate), charged")

static void usage(void) {
    printf("usage: synthloop anonymize --schema S.json --input D.csv --output OUT.csv\n"
           "                           --technique dp|kanon|pseudo|generalize|aggregate [options]\n"
           "\n"
           "Reads D.csv, applies the technique to the columns by their role in S.json\n"
           "(identifier, quasi_identifier, sensitive, measurement, subject, keep), writes\n"
           "OUT.csv and records the release in the registry: the anonymization log row and the\n"
           "epsilon charge of every subject and of the dataset are committed in one transaction\n"
           "before OUT.csv is renamed into place; a charge over any period's budget is refused.\n"
           "aggregate publishes one central-DP statistic (--query) instead of records.\n"
           "Only dp and aggregate carry a formal epsilon; kanon, pseudo and generalize are charged the\n"
           "accounting profile (0.3, 0.1, 0.2 by default). Columns the schema does not name are\n"
           "dropped. See docs/PRIVACY.md.\n"
           "\n"
           "options:\n"
           "  --epsilon E          dp: per-record epsilon (> 0), split over noised columns\n"
           "  --delta D            dp: > 0 selects the discrete Gaussian (zCDP) (default 0)\n"
           "  --query Q            aggregate: count | sum | mean | histogram\n"
           "  --column C           aggregate: measurement (sum, mean) or category with a domain\n"
           "                       or hierarchy (histogram)\n"
           "  --max-rows-per-subject N   aggregate: contribution bound (default 1)\n"
           "  --k K                kanon/generalize: class size (default 5)\n"
           "  --l L                distinct sensitive values per class (default 1)\n"
           "  --max-suppress F     generalize: share of rows that may be suppressed (default 0)\n"
           "  --key-file F         pseudonym key (>= 32 bytes); default $ANONYMIZATION_SALT.\n"
           "                       Required for pseudo; with other techniques identifiers and\n"
           "                       subjects are pseudonymised when a key is given, else dropped\n"
           "  --profile P.json     accounting profile {\"kanon\",\"pseudo\",\"generalize\"}\n"
           "  --actor NAME         who (default $USER)\n"
           "  --pool-days N        training_data_pool expiry (default 90)\n"
           "  --seed N             reproducible noise (tests only: a seeded key is NOT private)\n"
           "  --json               print the result as JSON\n"
           "  --db PATH            registry (default $SYNTHLOOP_DB or synthloop.db; 'none' is\n"
           "                       refused: every release must be charged)\n"
           "environment: MAX_PRIVACY_EPSILON (default 1.0) and PRIVACY_BUDGET_PERIOD (default\n"
           "monthly) give the budget where `synthloop budget set` has set none.\n");
}

static cJSON *result_json(const sl_release_result *r, sl_technique t, const char *out) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "technique", sl_technique_name(t));
    cJSON_AddStringToObject(j, "output", out);
    cJSON_AddStringToObject(j, "sha256", r->out_sha256);
    cJSON_AddNumberToObject(j, "log_id", (double)r->log_id);
    cJSON_AddNumberToObject(j, "rows", (double)r->n_rows_out);
    cJSON_AddNumberToObject(j, "subjects", (double)r->n_subjects);
    cJSON_AddNumberToObject(j, "epsilon_charged", r->epsilon_charged);
    cJSON_AddNumberToObject(j, "max_subject_epsilon", r->max_subject_epsilon);
    cJSON_AddBoolToObject(j, "formal_epsilon", r->formal);
    if (t == SL_TECH_KANON || t == SL_TECH_GENERALIZE) {
        const sl_kanon_report *k = &r->kanon;
        cJSON *o = cJSON_AddObjectToObject(j, "kanon");
        cJSON_AddNumberToObject(o, "classes", (double)k->n_classes);
        cJSON_AddNumberToObject(o, "min_class", (double)k->min_class);
        cJSON_AddNumberToObject(o, "min_distinct_sensitive", k->min_distinct_sensitive);
        cJSON_AddNumberToObject(o, "risk_max", k->risk_max);
        cJSON_AddNumberToObject(o, "risk_mean", k->risk_mean);
        cJSON_AddNumberToObject(o, "ncp", k->ncp);
        cJSON_AddNumberToObject(o, "discernibility", k->discernibility);
        cJSON_AddNumberToObject(o, "suppressed", (double)k->suppressed);
        cJSON_AddNumberToObject(o, "suppressed_share", k->suppressed_share);
    }
    return j;
}

int cmd_anonymize(int argc, char **argv) {
    static const struct option opts[] = {
        {"schema", required_argument, 0, 'S'}, {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'}, {"technique", required_argument, 0, 't'},
        {"epsilon", required_argument, 0, 'e'}, {"delta", required_argument, 0, 'd'},
        {"k", required_argument, 0, 'k'},      {"l", required_argument, 0, 'l'},
        {"max-suppress", required_argument, 0, 'm'}, {"key-file", required_argument, 0, 'K'},
        {"profile", required_argument, 0, 'P'}, {"actor", required_argument, 0, 'a'},
        {"pool-days", required_argument, 0, 'p'}, {"seed", required_argument, 0, 's'},
        {"query", required_argument, 0, 'Q'}, {"column", required_argument, 0, 'C'},
        {"max-rows-per-subject", required_argument, 0, 'M'},
        {"json", no_argument, 0, 'j'},         {"db", required_argument, 0, 'D'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = "anonymize";
    const char *schema = NULL, *input = NULL, *output = NULL, *tech = NULL, *key_file = NULL;
    const char *profile = NULL, *db = NULL;
    sl_release_opts o;
    sl_release_opts_default(&o);
    int json = 0, c, have_eps = 0;
    long lv = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case 'S': schema = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 't': tech = optarg; break;
        case 'e':
            /* any finite number: <= 0 is the library's error (named, nothing written) */
            if (sl_cli_parse_double(cmd, "--epsilon", optarg, -1e9, 1e9, &o.epsilon)) return 2;
            have_eps = 1;
            break;
        case 'd':
            if (sl_cli_parse_double(cmd, "--delta", optarg, 0, 1, &o.delta)) return 2;
            break;
        case 'k':
            if (sl_cli_parse_int(cmd, "--k", optarg, 1, 1000000000L, &lv)) return 2;
            o.k = (size_t)lv;
            break;
        case 'l':
            if (sl_cli_parse_int(cmd, "--l", optarg, 1, 1000000, &lv)) return 2;
            o.l = (int)lv;
            break;
        case 'm':
            if (sl_cli_parse_double(cmd, "--max-suppress", optarg, 0, 1, &o.max_suppress)) return 2;
            break;
        case 'K': key_file = optarg; break;
        case 'P': profile = optarg; break;
        case 'a': o.actor = optarg; break;
        case 'p':
            if (sl_cli_parse_int(cmd, "--pool-days", optarg, 1, 36500, &lv)) return 2;
            o.pool_days = (int)lv;
            break;
        case 's':
            if (sl_cli_parse_u64(cmd, "--seed", optarg, &o.seed)) return 2;
            o.seeded = 1;
            break;
        case 'Q':
            if (sl_agg_query_parse(optarg, &o.query) != SL_OK)
                return sl_cli_usage_error(cmd, "%s", sl_last_error());
            break;
        case 'C': o.column = optarg; break;
        case 'M':
            if (sl_cli_parse_int(cmd, "--max-rows-per-subject", optarg, 1, 1000000, &lv)) return 2;
            o.max_rows_per_subject = (uint32_t)lv;
            break;
        case 'j': json = 1; break;
        case 'D': db = optarg; break;
        case 'q': break;
        case 'h': usage(); return 0;
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!schema || !input || !output || !tech)
        return sl_cli_usage_error(cmd, "--schema, --input, --output and --technique are required");
    if (sl_technique_parse(tech, &o.technique) != SL_OK)
        return sl_cli_usage_error(cmd, "%s", sl_last_error());
    if ((o.technique == SL_TECH_DP || o.technique == SL_TECH_AGGREGATE) && !have_eps)
        return sl_cli_usage_error(cmd, "--technique %s needs --epsilon", tech);
    if (strcmp(sl_registry_resolve_path(db), "none") == 0)
        return sl_cli_usage_error(cmd, "--db none: a release must be charged to a registry");

    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "schema", schema);
    cJSON_AddStringToObject(conf, "input", input);
    cJSON_AddStringToObject(conf, "output", output);
    cJSON_AddStringToObject(conf, "technique", tech);
    cJSON_AddNumberToObject(conf, "epsilon", o.epsilon);
    cJSON_AddNumberToObject(conf, "delta", o.delta);
    cJSON_AddNumberToObject(conf, "k", (double)o.k);
    cJSON_AddNumberToObject(conf, "l", o.l);
    if (o.technique == SL_TECH_AGGREGATE) {
        cJSON_AddStringToObject(conf, "query", sl_agg_query_name(o.query));
        if (o.column) cJSON_AddStringToObject(conf, "column", o.column);
        cJSON_AddNumberToObject(conf, "max_rows_per_subject", o.max_rows_per_subject);
    }
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(db, cmd, conf, o.seed, &reg, &run);
    o.run_id = run;
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    sl_pseudo_key key;
    memset(&key, 0, sizeof key);
    if (st == SL_OK && profile) st = sl_priv_profile_load(profile, &o.profile);
    if (st == SL_OK) st = sl_priv_schema_load(schema, &s);
    if (st == SL_OK) st = sl_priv_table_read_csv(input, s, &t);
    if (st == SL_OK && (key_file || o.technique == SL_TECH_PSEUDO || getenv(SL_PSEUDO_ENV))) {
        st = sl_pseudo_key_load(key_file, &key);
        if (st == SL_OK) o.key = &key;
    }
    sl_release_result r;
    memset(&r, 0, sizeof r);
    if (st == SL_OK) st = sl_privacy_release(reg, t, s, input, output, &o, &r);
    sl_pseudo_key_wipe(&key);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    cJSON *res = st == SL_OK ? result_json(&r, o.technique, output) : NULL;
    char *summary = res ? cJSON_PrintUnformatted(res) : NULL;
    if (st == SL_OK && !summary) st = sl_set_error(SL_ERR_NOMEM, "anonymize: out of memory");
    if (st == SL_OK) {
        char abs[PATH_MAX];
        sl_registry_add_artifact(reg, run, "privacy.release", cli_abs_path(output, abs));
        sl_run_end(reg, run, SL_RUN_OK, summary);
    } else {
        char *err = NULL;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", sl_last_error());
        err = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        sl_status keep = st;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sl_last_error());
        if (run) sl_run_end(reg, run, SL_RUN_FAILED, err);
        free(err);
        sl_set_error(keep, "%s", msg);
    }
    sl_registry_close(reg);
    if (st != SL_OK) {
        cJSON_Delete(res);
        free(summary);
        return sl_cli_fail(st);
    }
    if (json) {
        printf("%s\n", summary);
    } else {
        printf("%s: %zu rows -> %s (sha256 %.16s...), log %lld\n", sl_technique_name(o.technique),
               r.n_rows_out, output, r.out_sha256, (long long)r.log_id);
        if (o.technique == SL_TECH_AGGREGATE)
            printf("charged epsilon %.9g to each of %zu subjects and to the dataset (a formal DP "
                   "guarantee)\n", r.epsilon_charged, r.n_subjects);
        else if (r.formal)
            printf("charged epsilon %.9g per released record (a formal DP guarantee): %zu "
                   "subjects, the most charged %.9g; the dataset %.9g\n",
                   r.epsilon_charged, r.n_subjects, r.max_subject_epsilon, r.epsilon_charged);
        else
            printf("charged %.9g per subject (%zu subjects) and to the dataset: accounting "
                   "profile, no formal epsilon\n", r.epsilon_charged, r.n_subjects);
        if (o.technique == SL_TECH_KANON || o.technique == SL_TECH_GENERALIZE) {
            const sl_kanon_report *k = &r.kanon;
            printf("classes %zu, min class %zu, min distinct sensitive %d, risk max %.4g mean "
                   "%.4g, NCP %.4f, discernibility %.6g, suppressed %zu (%.2f%%)\n",
                   k->n_classes, k->min_class, k->min_distinct_sensitive, k->risk_max,
                   k->risk_mean, k->ncp, k->discernibility, k->suppressed,
                   100.0 * k->suppressed_share);
        }
    }
    cJSON_Delete(res);
    free(summary);
    return 0;
}
