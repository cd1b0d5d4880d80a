/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_generate.c - `synthloop generate`: fit (or load) a record generator, sample N rows,
 * score them against the real rows, and release the CSV only when the quality reaches the
 * threshold (seed 003's qualityThreshold, default 0.7). Thin: the gen library does the work;
 * this file parses, calls, prints and records (a run and a synthetic_jobs row). */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_record.h"
#include "synthloop/sl_gen.h"
#include "synthloop/sl_json.h"

SL_COMMAND(generate, "fit a record generator (copula, vae, rules), sample and release above a quality threshold")

static void usage(void) {
    printf("usage: synthloop generate --out SYNTH.csv (--method M [--data REAL.csv] | --model M.st)\n"
           "                          [--schema S.json] [--rules R.json] [--rows N]\n"
           "                          [--holdout H.csv] [--quality-threshold Q] [--save-model F]\n"
           "                          [--dp-epsilon E --dp-delta D --dp-clip C] [VAE options]\n"
           "\n"
           "Fits a generator on REAL.csv (or loads one with --model), samples N rows, scores\n"
           "them against REAL (and privacy against --holdout, real rows the generator never\n"
           "saw), and writes SYNTH.csv only if the overall quality >= Q; otherwise it refuses\n"
           "with exit status 1 and writes nothing. The CSV's first line is a '#' comment with\n"
           "the (epsilon, delta) of the model, or 'dp=none'. Formats and formulas: docs/GEN.md.\n"
           "\n"
           "options:\n"
           "  --method M            copula | vae | rules\n"
           "  --data FILE           the real table (CSV with a header)\n"
           "  --schema FILE         column types, roles, public bounds and labels (JSON)\n"
           "  --rules FILE          rule file of the rules method\n"
           "  --model FILE          load a saved generator instead of fitting one\n"
           "  --save-model FILE     save the fitted generator (safetensors + JSON metadata)\n"
           "  --out FILE            the synthetic CSV to write (required)\n"
           "  --rows N              rows to generate (default: as many as --data, else 1000)\n"
           "  --holdout FILE        real rows not used for fitting: DCR and membership scores\n"
           "  --quality-threshold Q release only if quality >= Q (default 0.7; 0 disables)\n"
           "  --dp-epsilon E        train the vae with DP-SGD to (E, D)-DP (default: no DP)\n"
           "  --dp-delta D          default 1e-5 (must be below 1/rows)\n"
           "  --dp-clip C           per-example L2 clip (default 1)\n"
           "  --dp-reproducible     DP noise from --seed instead of the OS's CSPRNG (tests and\n"
           "                        experiments only: whoever knows the seed knows the noise)\n"
           "  --epochs N --batch N --hidden N --latent N --lr X --kl-warmup N   vae training\n"
           "  --seed N              fit and sampling seed (default 1)\n"
           "  --threads N           kernel threads (default: all cores)\n"
           "  --db PATH             registry (default $SYNTHLOOP_DB or ./synthloop.db; none)\n"
           "  --json                print the scores as JSON on stdout\n"
           "  --quiet               no progress output\n"
           "  -h, --help            this help\n");
}

typedef struct gen_opts {
    const char *method, *data, *schema, *rules, *model, *save_model, *out, *holdout, *db;
    long rows;
    double threshold, dp_eps, dp_delta, dp_clip;
    int json, quiet;
    sl_gen_config cfg;
} gen_opts;

static int parse(int argc, char **argv, gen_opts *o) {
    static const struct option opts[] = {
        {"method", required_argument, 0, 'm'},    {"data", required_argument, 0, 'd'},
        {"schema", required_argument, 0, 's'},    {"rules", required_argument, 0, 'r'},
        {"model", required_argument, 0, 'M'},     {"save-model", required_argument, 0, 'S'},
        {"out", required_argument, 0, 'o'},       {"rows", required_argument, 0, 'n'},
        {"holdout", required_argument, 0, 'H'},   {"quality-threshold", required_argument, 0, 'Q'},
        {"dp-epsilon", required_argument, 0, 'E'}, {"dp-delta", required_argument, 0, 'L'},
        {"dp-clip", required_argument, 0, 'C'},   {"epochs", required_argument, 0, 'e'},
        {"dp-reproducible", no_argument, 0, 'P'},
        {"batch", required_argument, 0, 'b'},     {"hidden", required_argument, 0, 'h' + 256},
        {"latent", required_argument, 0, 'l'},    {"lr", required_argument, 0, 'R'},
        {"kl-warmup", required_argument, 0, 'w'}, {"seed", required_argument, 0, 'x'},
        {"threads", required_argument, 0, 't'},   {"db", required_argument, 0, 'D'},
        {"json", no_argument, 0, 'j'},            {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *cmd = "generate";
    memset(o, 0, sizeof *o);
    o->cfg = sl_gen_config_defaults(SL_GEN_COPULA);
    o->threshold = 0.7;
    o->dp_eps = HUGE_VAL;
    o->dp_delta = 1e-5;
    o->dp_clip = 1.0;
    o->quiet = sl_cli_quiet;
    optind = 1;
    opterr = 0;
    int c, rc;
    long v;
    uint64_t u;
    double x;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->method = optarg; break;
        case 'd': o->data = optarg; break;
        case 's': o->schema = optarg; break;
        case 'r': o->rules = optarg; break;
        case 'M': o->model = optarg; break;
        case 'S': o->save_model = optarg; break;
        case 'o': o->out = optarg; break;
        case 'H': o->holdout = optarg; break;
        case 'D': o->db = optarg; break;
        case 'j': o->json = 1; break;
        case 'q': o->quiet = 1; break;
        case 'P': o->cfg.dp_reproducible = 1; break;
        case 'n':
            if ((rc = sl_cli_parse_int(cmd, "--rows", optarg, 1, 100000000, &o->rows))) return rc;
            break;
        case 'Q':
            if ((rc = sl_cli_parse_double(cmd, "--quality-threshold", optarg, 0, 1, &o->threshold)))
                return rc;
            break;
        case 'E':
            if ((rc = sl_cli_parse_double(cmd, "--dp-epsilon", optarg, 1e-6, 1e6, &o->dp_eps))) return rc;
            break;
        case 'L':
            if ((rc = sl_cli_parse_double(cmd, "--dp-delta", optarg, 1e-300, 0.999999, &o->dp_delta)))
                return rc;
            break;
        case 'C':
            if ((rc = sl_cli_parse_double(cmd, "--dp-clip", optarg, 1e-6, 1e6, &o->dp_clip))) return rc;
            break;
        case 'e':
            if ((rc = sl_cli_parse_int(cmd, "--epochs", optarg, 1, 100000, &v))) return rc;
            o->cfg.epochs = (int)v;
            break;
        case 'b':
            if ((rc = sl_cli_parse_int(cmd, "--batch", optarg, 1, 1000000, &v))) return rc;
            o->cfg.batch = (int)v;
            break;
        case 'h' + 256:
            if ((rc = sl_cli_parse_int(cmd, "--hidden", optarg, 1, 8192, &v))) return rc;
            o->cfg.hidden = (int)v;
            break;
        case 'l':
            if ((rc = sl_cli_parse_int(cmd, "--latent", optarg, 1, 1024, &v))) return rc;
            o->cfg.latent = (int)v;
            break;
        case 'R':
            if ((rc = sl_cli_parse_double(cmd, "--lr", optarg, 1e-8, 10, &x))) return rc;
            o->cfg.lr = (float)x;
            break;
        case 'w':
            if ((rc = sl_cli_parse_int(cmd, "--kl-warmup", optarg, 0, 100000, &v))) return rc;
            o->cfg.kl_warmup = (int)v;
            break;
        case 'x':
            if ((rc = sl_cli_parse_u64(cmd, "--seed", optarg, &u))) return rc;
            o->cfg.seed = u;
            break;
        case 't':
            if ((rc = sl_cli_parse_int(cmd, "--threads", optarg, 1, 1024, &v))) return rc;
            o->cfg.threads = (int)v;
            break;
        case 'h': usage(); return -1;
        default:
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->out) return sl_cli_usage_error(cmd, "--out SYNTH.csv is required");
    if (!o->method == !o->model)
        return sl_cli_usage_error(cmd, "give either --method (fit) or --model (load)");
    if (o->method) {
        sl_gen_method m;
        if (sl_gen_method_parse(o->method, &m) != SL_OK)
            return sl_cli_usage_error(cmd, "--method must be copula, vae or rules");
        o->cfg.method = m;
        if (m != SL_GEN_RULES && !o->data)
            return sl_cli_usage_error(cmd, "--method %s needs --data REAL.csv", o->method);
        if (m == SL_GEN_RULES && !o->rules)
            return sl_cli_usage_error(cmd, "--method rules needs --rules R.json");
        if (m != SL_GEN_VAE && isfinite(o->dp_eps))
            return sl_cli_usage_error(cmd, "--dp-epsilon applies to --method vae only");
    } else if (isfinite(o->dp_eps)) {
        return sl_cli_usage_error(cmd, "--dp-epsilon is a training option; a loaded --model "
                                  "keeps its own (epsilon, delta)");
    }
    if (o->holdout && !o->data)
        return sl_cli_usage_error(cmd, "--holdout needs --data (privacy is measured against both)");
    o->cfg.dp_epsilon = o->dp_eps;
    o->cfg.dp_delta = o->dp_delta;
    o->cfg.dp_clip = (float)o->dp_clip;
    o->cfg.rules_path = o->rules;
    o->cfg.verbose = !o->quiet;
    return 0;
}

static cJSON *config_json(const gen_opts *o) {
    cJSON *j = cJSON_CreateObject();
    if (o->method) cJSON_AddStringToObject(j, "method", o->method);
    if (o->model) cJSON_AddStringToObject(j, "model", o->model);
    if (o->data) cJSON_AddStringToObject(j, "data", o->data);
    if (o->schema) cJSON_AddStringToObject(j, "schema", o->schema);
    if (o->rules) cJSON_AddStringToObject(j, "rules", o->rules);
    if (o->holdout) cJSON_AddStringToObject(j, "holdout", o->holdout);
    cJSON_AddStringToObject(j, "out", o->out);
    cJSON_AddNumberToObject(j, "rows", (double)o->rows);
    cJSON_AddNumberToObject(j, "quality_threshold", o->threshold);
    cJSON_AddNumberToObject(j, "seed", (double)o->cfg.seed);
    if (o->cfg.method == SL_GEN_VAE) {
        cJSON_AddNumberToObject(j, "epochs", o->cfg.epochs);
        cJSON_AddNumberToObject(j, "batch", o->cfg.batch);
        cJSON_AddNumberToObject(j, "hidden", o->cfg.hidden);
        cJSON_AddNumberToObject(j, "latent", o->cfg.latent);
        cJSON_AddNumberToObject(j, "lr", (double)o->cfg.lr);
        cJSON_AddNumberToObject(j, "kl_warmup", o->cfg.kl_warmup);
    }
    if (isfinite(o->dp_eps)) {
        cJSON_AddNumberToObject(j, "dp_epsilon", o->dp_eps);
        cJSON_AddNumberToObject(j, "dp_delta", o->dp_delta);
        cJSON_AddNumberToObject(j, "dp_clip", o->dp_clip);
        cJSON_AddBoolToObject(j, "dp_reproducible", o->cfg.dp_reproducible);
    }
    return j;
}

static void print_scores(const sl_gen_scores *s, const sl_gen_model *m) {
    char line[256];
    sl_gen_dp_line(line, sizeof line, sl_gen_model_method(m), sl_gen_model_dp(m));
    printf("%s\n", line);
    printf("quality %.4f  (fidelity %.4f, pairs %.4f, detection %.4f [auc %.4f], coverage %.4f)\n",
           s->quality, s->fidelity, s->pair_similarity, s->detection, s->detection_auc,
           s->coverage);
    printf("diversity %.4f\n", s->diversity);
    if (s->has_privacy)
        printf("privacy: dcr synth %.4f vs holdout %.4f, dcr share %.4f (0.5 ideal), "
               "membership auc %.4f (0.5 ideal)\n", s->dcr_synth, s->dcr_holdout,
               s->dcr_share, s->mia_auc);
}

int cmd_generate(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    gen_opts o;
    int prc = parse(argc, argv, &o);
    if (prc) return prc < 0 ? 0 : prc;
    if (o.quiet) sl_progress_set_quiet(1);

    sl_gen_table *schema = NULL, *data = NULL, *hold = NULL, *syn = NULL;
    sl_gen_model *model = NULL;
    sl_gen_scores sc;
    memset(&sc, 0, sizeof sc);
    int scored = 0, released = 0;
    cJSON *summary = NULL;
    /* inputs first: bad input fails before a run is recorded or anything trained */
    sl_status st = o.schema ? sl_gen_schema_read(o.schema, &schema) : SL_OK;
    if (st == SL_OK && o.data) st = sl_gen_table_read_csv(o.data, schema, &data);
    if (st == SL_OK && o.holdout)
        st = sl_gen_table_read_csv(o.holdout, schema ? schema : data, &hold);
    if (st != SL_OK) {
        sl_gen_table_free(schema);
        sl_gen_table_free(data);
        return sl_cli_fail(st);
    }
    sl_registry *reg = NULL;
    int64_t run = 0;
    st = cli_run_begin(o.db, "generate", config_json(&o), o.cfg.seed, &reg, &run);
    if (st == SL_OK) /* the privacy ledger's charge hook stays NULL until src/privacy lands */
        st = o.model ? sl_gen_load(o.model, &model) : sl_gen_fit(&o.cfg, data, &model);
    size_t n = o.rows > 0 ? (size_t)o.rows : data ? data->n_rows : 1000;
    if (st == SL_OK) st = sl_gen_sample(model, n, o.cfg.seed + 1, &syn);
    if (st == SL_OK && data) {
        sl_gen_eval_config ec = sl_gen_eval_defaults();
        ec.seed = o.cfg.seed;
        st = sl_gen_evaluate(data, syn, hold, &ec, &sc);
        scored = st == SL_OK;
    }
    if (st == SL_OK && scored && sc.quality < o.threshold)
        st = sl_set_error(SL_ERR_RANGE, "generate: quality %.4f is below the threshold %.4f: "
                          "nothing released (%s not written)", sc.quality, o.threshold, o.out);
    if (st == SL_OK) {
        char line[256];
        sl_gen_dp_line(line, sizeof line, sl_gen_model_method(model), sl_gen_model_dp(model));
        st = sl_gen_table_write_csv(o.out, syn, line);
        released = st == SL_OK;
        if (st == SL_OK && o.save_model) st = sl_gen_save(model, o.save_model);
    }
    /* record the decision (also a refusal) */
    if (model && reg) {
        char apath[PATH_MAX];
        const sl_dp_spent *dp = sl_gen_model_dp(model);
        cJSON *sj = scored ? sl_gen_scores_json(&sc, data) : NULL;
        char *stxt = sj ? cJSON_PrintUnformatted(sj) : NULL;
        cJSON *pj = config_json(&o);
        char *ptxt = pj ? cJSON_PrintUnformatted(pj) : NULL;
        cJSON_Delete(pj);
        sl_synthetic_job_row row = {
            .method = sl_gen_method_name(sl_gen_model_method(model)),
            .params_json = ptxt,
            .n_rows = (int64_t)n,
            .quality = scored ? sc.quality : (double)NAN,
            .detection_auc = scored ? sc.detection_auc : (double)NAN,
            .coverage = scored ? sc.coverage : (double)NAN,
            .diversity = scored ? sc.diversity : (double)NAN,
            .dcr_share = scored && sc.has_privacy ? sc.dcr_share : (double)NAN,
            .membership_auc = scored && sc.has_privacy ? sc.mia_auc : (double)NAN,
            .scores_json = stxt,
            .has_dp = dp->has_dp,
            .epsilon = dp->epsilon,
            .delta = dp->delta,
            .threshold = scored ? o.threshold : (double)NAN,
            .released = released,
            .out_path = released ? cli_abs_path(o.out, apath) : NULL,
        };
        sl_status rs = sl_registry_add_synthetic_job(reg, run, &row, NULL);
        if (rs == SL_OK && released)
            rs = sl_registry_add_artifact(reg, run, "synthetic.csv", cli_abs_path(o.out, apath));
        if (rs == SL_OK && released && o.save_model) {
            char mpath[PATH_MAX];
            rs = sl_registry_add_model(reg, run, "generator", cli_abs_path(o.save_model, mpath), 0,
                                       stxt, NULL);
        }
        if (st == SL_OK) st = rs;
        summary = sj ? sj : cJSON_CreateObject();
        sj = NULL;
        cJSON_AddItemToObject(summary, "dp_statement", sl_gen_dp_json(dp));
        cJSON_AddBoolToObject(summary, "released", released);
        free(stxt);
        free(ptxt);
    }
    if (model && scored && (released || st != SL_OK) && !o.json) print_scores(&sc, model);
    if (st == SL_OK && o.json) {
        cJSON *j = scored ? sl_gen_scores_json(&sc, data) : cJSON_CreateObject();
        cJSON_AddItemToObject(j, "dp_statement", sl_gen_dp_json(sl_gen_model_dp(model)));
        cJSON_AddBoolToObject(j, "released", released);
        char *t = cJSON_Print(j);
        if (t) printf("%s\n", t);
        free(t);
        cJSON_Delete(j);
    } else if (st == SL_OK && !scored && !o.quiet) {
        fprintf(stderr, "synthloop: no real table given: quality not measured, threshold not "
                "applied\n");
    }
    if (st == SL_OK && !o.quiet)
        fprintf(stderr, "synthloop: wrote %zu rows to %s\n", n, o.out);
    int rc = cli_run_finish(reg, run, st, summary);
    cJSON_Delete(summary);
    sl_gen_scores_free(&sc);
    sl_gen_table_free(syn);
    sl_gen_free(model);
    sl_gen_table_free(hold);
    sl_gen_table_free(data);
    sl_gen_table_free(schema);
    return rc;
}
