/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_forecast.c - `synthloop forecast validate|split|templates|export|reward|score|compare|
 * calibrate|predict`: probability-tree forecasts (seed 004, docs/FORECAST.md).
 *
 * Thin: parse options, call src/forecast, print, record. Every subcommand is one registry run
 * ("forecast SUB", --db), ended ok only after its outputs and rows were written; on bad input
 * nothing is written.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/run_record.h"
#include "synthloop/sl_forecast.h"
#include "synthloop/sl_json.h"

SL_COMMAND(forecast, "probability-tree forecasts: validate, split, export, score, calibrate, predict")

static void usage(void) {
    printf(
        "usage: synthloop forecast validate CASES.jsonl [--fix --output FIXED.jsonl]\n"
        "                 [--prob-tol X] [--fix-tol X] [--months-tol X]\n"
        "       synthloop forecast split CASES.jsonl --out PREFIX (--cutoff DATE\n"
        "                 [--calib-cutoff DATE] | --test-domains D1,D2)\n"
        "       synthloop forecast templates --output T.jsonl [--n N] [--seed S] [--random-probs]\n"
        "                 [--start-year Y]\n"
        "       synthloop forecast export CASES.jsonl --output SFT.jsonl [--no-synthetic]\n"
        "       synthloop forecast reward --pred P.jsonl --truth T.jsonl [--weights C,S,D,H]\n"
        "       synthloop forecast score --pred P.jsonl --truth T.jsonl [--base-rate X |\n"
        "                 --train TRAIN.jsonl] [--html REPORT.html] [--threshold X]\n"
        "       synthloop forecast compare A.jsonl B.jsonl --truth T.jsonl [--reps N] [--seed S]\n"
        "                 [--level L]\n"
        "       synthloop forecast calibrate --fit-pred P.jsonl --fit-truth T.jsonl\n"
        "                 [--method platt|isotonic|temperature|all] [--pred P2.jsonl\n"
        "                 [--truth T2.jsonl] [--output CAL.jsonl]]\n"
        "       synthloop forecast predict --cases T.jsonl --output P.jsonl\n"
        "                 (--endpoint http://HOST:PORT [--model M] [--cache DIR] [--timeout S]\n"
        "                  [--retries N] [--backoff S] [--temperature X] [--max-tokens N]\n"
        "                  [--errors E.jsonl]\n"
        "                 | --baseline uniform|base-rate|annotated [--train TRAIN.jsonl]\n"
        "                  [--distort K] [--seed S])\n"
        "\n"
        "validate  checks every rule (required fields, probabilities in [0,1], event +\n"
        "          alternatives sum to 1 within --prob-tol (default 0.01), dates YYYY-MM-DD and\n"
        "          chronological, timeframe_months within --months-tol (1) of the dates, depths\n"
        "          1..n, source URLs, duplicates); each issue as FILE:LINE: FIELD: [rule] text.\n"
        "          --fix renormalises nodes whose sum is within --fix-tol (0.05) and writes the\n"
        "          result to --output only if no error remains. Exit 1 when errors remain.\n"
        "split     by date: train = every date before the (first) cutoff, calib = between\n"
        "          --calib-cutoff and --cutoff, test = every date on or after --cutoff; cases\n"
        "          crossing a cutoff are excluded; by domain: test = the listed domains.\n"
        "          Synthetic cases never go to calib or test. Writes PREFIX.train.jsonl,\n"
        "          [PREFIX.calib.jsonl,] PREFIX.test.jsonl.\n"
        "templates seed 004's template cases (10 scenarios), marked \"synthetic\": true;\n"
        "          uniform probabilities unless --random-probs (Dirichlet, outcome drawn).\n"
        "export    chat-format SFT JSONL {\"messages\": [system, user, assistant]}.\n"
        "reward    GRPO reward per case: calibration, sharpness, diversity, coherence and the\n"
        "          weighted total (default weights 0.4,0.2,0.2,0.2).\n"
        "score     Brier, skill vs uniform and base rate, log score, ECE, Murphy\n"
        "          decomposition, per-depth accuracy vs seed 004's targets, match coverage,\n"
        "          timeframe error; --html writes the report with the reliability diagram.\n"
        "compare   B - A on every metric with paired bootstrap CIs over cases (--reps 2000,\n"
        "          --level 0.95, --seed 0).\n"
        "calibrate fits Platt, isotonic or temperature scaling on (fit-pred, fit-truth) and\n"
        "          applies it to --pred; with --truth prints the scores before and after.\n"
        "predict   asks an OpenAI-compatible endpoint (POST /v1/chat/completions, http only)\n"
        "          for each case's tree; malformed answers are counted, reported and written\n"
        "          to --errors. --baseline writes a simple predictor instead (uniform over the\n"
        "          truth's candidates, a constant base rate, or the annotated probabilities\n"
        "          sharpened by --distort K: sigmoid(K logit p)).\n"
        "common: --json, --quiet, --help, --db PATH|none (run registry; default $SYNTHLOOP_DB\n"
        "        or synthloop.db; 'none' records nothing)\n");
}

/* --- options ------------------------------------------------------------------- */

enum sub { VALIDATE, SPLIT, TEMPLATES, EXPORT, REWARD, SCORE, COMPARE, CALIBRATE, PREDICT, NSUB };
static const char *const sub_names[NSUB] = {"validate", "split", "templates", "export", "reward",
                                           "score", "compare", "calibrate", "predict"};

typedef struct fopts {
    const char *output, *out_prefix, *pred, *truth, *cutoff, *calib_cutoff, *test_domains, *train;
    const char *html, *db, *endpoint, *model, *cache, *errors, *method, *baseline, *fit_pred;
    const char *fit_truth, *weights, *cases;
    double prob_tol, fix_tol, months_tol, base_rate, threshold, level, timeout, backoff, distort;
    double temperature;
    long n, reps, retries, start_year, max_tokens;
    uint64_t seed;
    int fix, json, random_probs, no_synthetic;
    char **pos;
    int npos;
} fopts;

#define B(s) (1u << (s))
#define ALL 0x1ffu

typedef struct optdef {
    struct option o;
    unsigned allowed;
} optdef;

static const optdef optdefs[] = {
    {{"output", required_argument, 0, 'o'}, B(VALIDATE) | B(TEMPLATES) | B(EXPORT) | B(CALIBRATE) | B(PREDICT)},
    {{"out", required_argument, 0, 'O'}, B(SPLIT)},
    {{"pred", required_argument, 0, 'p'}, B(REWARD) | B(SCORE) | B(CALIBRATE)},
    {{"truth", required_argument, 0, 't'}, B(REWARD) | B(SCORE) | B(COMPARE) | B(CALIBRATE)},
    {{"cutoff", required_argument, 0, 'c'}, B(SPLIT)},
    {{"calib-cutoff", required_argument, 0, 'C'}, B(SPLIT)},
    {{"test-domains", required_argument, 0, 'd'}, B(SPLIT)},
    {{"train", required_argument, 0, 'T'}, B(SCORE) | B(PREDICT)},
    {{"html", required_argument, 0, 'h'}, B(SCORE)},
    {{"db", required_argument, 0, 'D'}, ALL},
    {{"endpoint", required_argument, 0, 'e'}, B(PREDICT)},
    {{"model", required_argument, 0, 'm'}, B(PREDICT)},
    {{"cache", required_argument, 0, 'k'}, B(PREDICT)},
    {{"errors", required_argument, 0, 'E'}, B(PREDICT)},
    {{"method", required_argument, 0, 'M'}, B(CALIBRATE)},
    {{"baseline", required_argument, 0, 'b'}, B(PREDICT)},
    {{"fit-pred", required_argument, 0, 'P'}, B(CALIBRATE)},
    {{"fit-truth", required_argument, 0, 'Q'}, B(CALIBRATE)},
    {{"weights", required_argument, 0, 'w'}, B(REWARD)},
    {{"cases", required_argument, 0, 'x'}, B(PREDICT)},
    {{"prob-tol", required_argument, 0, '1'}, B(VALIDATE) | B(SPLIT)},
    {{"fix-tol", required_argument, 0, '2'}, B(VALIDATE)},
    {{"months-tol", required_argument, 0, '3'}, B(VALIDATE) | B(SPLIT)},
    {{"base-rate", required_argument, 0, '4'}, B(SCORE) | B(PREDICT)},
    {{"threshold", required_argument, 0, '5'}, B(SCORE) | B(COMPARE) | B(CALIBRATE)},
    {{"level", required_argument, 0, '6'}, B(COMPARE)},
    {{"timeout", required_argument, 0, '7'}, B(PREDICT)},
    {{"backoff", required_argument, 0, '8'}, B(PREDICT)},
    {{"distort", required_argument, 0, '9'}, B(PREDICT)},
    {{"temperature", required_argument, 0, 'a'}, B(PREDICT)},
    {{"n", required_argument, 0, 'n'}, B(TEMPLATES)},
    {{"reps", required_argument, 0, 'r'}, B(COMPARE)},
    {{"retries", required_argument, 0, 'R'}, B(PREDICT)},
    {{"start-year", required_argument, 0, 'y'}, B(TEMPLATES)},
    {{"max-tokens", required_argument, 0, 'X'}, B(PREDICT)},
    {{"seed", required_argument, 0, 's'}, B(TEMPLATES) | B(COMPARE) | B(PREDICT)},
    {{"fix", no_argument, 0, 'f'}, B(VALIDATE)},
    {{"json", no_argument, 0, 'j'}, ALL},
    {{"quiet", no_argument, 0, 'q'}, ALL},
    {{"random-probs", no_argument, 0, 'u'}, B(TEMPLATES)},
    {{"no-synthetic", no_argument, 0, 'N'}, B(EXPORT)},
};
#define N_OPTS (sizeof optdefs / sizeof optdefs[0])

static int parse_opts(int sub, int argc, char **argv, fopts *f) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "forecast %s", sub_names[sub]);
    memset(f, 0, sizeof *f);
    f->prob_tol = SL_FC_PROB_TOL;
    f->fix_tol = SL_FC_FIX_TOL;
    f->months_tol = SL_FC_MONTHS_TOL;
    f->base_rate = NAN;
    f->threshold = SL_FC_MATCH_THRESHOLD;
    f->level = 0.95;
    f->timeout = 60.0;
    f->backoff = 0.5;
    f->distort = 1.0;
    f->n = 10;
    f->reps = 2000;
    f->retries = 3;
    f->start_year = 2018;
    f->max_tokens = 1024;
    f->method = "all";
    struct option lo[N_OPTS + 1];
    for (size_t i = 0; i < N_OPTS; i++) lo[i] = optdefs[i].o;
    memset(&lo[N_OPTS], 0, sizeof lo[N_OPTS]);
    optind = 1;
    opterr = 0;
    int c, idx = -1, rc = 0;
    while ((c = getopt_long(argc, argv, "", lo, &idx)) != -1) {
        if (c == '?' || c == ':')
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        size_t k = 0;
        while (k < N_OPTS && optdefs[k].o.val != c) k++;
        if (k < N_OPTS && !(optdefs[k].allowed & B(sub)))
            return sl_cli_usage_error(cmd, "option --%s does not apply to %s", optdefs[k].o.name,
                                      sub_names[sub]);
        switch (c) {
        case 'o': f->output = optarg; break;
        case 'O': f->out_prefix = optarg; break;
        case 'p': f->pred = optarg; break;
        case 't': f->truth = optarg; break;
        case 'c': f->cutoff = optarg; break;
        case 'C': f->calib_cutoff = optarg; break;
        case 'd': f->test_domains = optarg; break;
        case 'T': f->train = optarg; break;
        case 'h': f->html = optarg; break;
        case 'D': f->db = optarg; break;
        case 'e': f->endpoint = optarg; break;
        case 'm': f->model = optarg; break;
        case 'k': f->cache = optarg; break;
        case 'E': f->errors = optarg; break;
        case 'M': f->method = optarg; break;
        case 'b': f->baseline = optarg; break;
        case 'P': f->fit_pred = optarg; break;
        case 'Q': f->fit_truth = optarg; break;
        case 'w': f->weights = optarg; break;
        case 'x': f->cases = optarg; break;
        case '1': rc = sl_cli_parse_double(cmd, "--prob-tol", optarg, 0, 0.5, &f->prob_tol); break;
        case '2': rc = sl_cli_parse_double(cmd, "--fix-tol", optarg, 0, 0.5, &f->fix_tol); break;
        case '3': rc = sl_cli_parse_double(cmd, "--months-tol", optarg, 0, 1200, &f->months_tol); break;
        case '4': rc = sl_cli_parse_double(cmd, "--base-rate", optarg, 0, 1, &f->base_rate); break;
        case '5': rc = sl_cli_parse_double(cmd, "--threshold", optarg, 0.01, 1, &f->threshold); break;
        case '6': rc = sl_cli_parse_double(cmd, "--level", optarg, 0.5, 0.999, &f->level); break;
        case '7': rc = sl_cli_parse_double(cmd, "--timeout", optarg, 0.01, 3600, &f->timeout); break;
        case '8': rc = sl_cli_parse_double(cmd, "--backoff", optarg, 0, 60, &f->backoff); break;
        case '9': rc = sl_cli_parse_double(cmd, "--distort", optarg, 0.01, 100, &f->distort); break;
        case 'a': rc = sl_cli_parse_double(cmd, "--temperature", optarg, 0, 10, &f->temperature); break;
        case 'n': rc = sl_cli_parse_int(cmd, "--n", optarg, 1, 1000000, &f->n); break;
        case 'r': rc = sl_cli_parse_int(cmd, "--reps", optarg, 100, 1000000, &f->reps); break;
        case 'R': rc = sl_cli_parse_int(cmd, "--retries", optarg, 0, 20, &f->retries); break;
        case 'y': rc = sl_cli_parse_int(cmd, "--start-year", optarg, 1900, 2200, &f->start_year); break;
        case 'X': rc = sl_cli_parse_int(cmd, "--max-tokens", optarg, 16, 1000000, &f->max_tokens); break;
        case 's': rc = sl_cli_parse_u64(cmd, "--seed", optarg, &f->seed); break;
        case 'f': f->fix = 1; break;
        case 'j': f->json = 1; break;
        case 'q': sl_cli_quiet = 1; break;
        case 'u': f->random_probs = 1; break;
        case 'N': f->no_synthetic = 1; break;
        default: return sl_cli_usage_error(cmd, "unknown option");
        }
        if (rc) return rc;
    }
    f->pos = argv + optind;
    f->npos = argc - optind;
    return 0;
}

static cJSON *conf_of(const fopts *f, int sub) {
    cJSON *c = cJSON_CreateObject();
    if (!c) return NULL;
    const struct {
        const char *k, *v;
    } s[] = {{"output", f->output}, {"out", f->out_prefix}, {"pred", f->pred}, {"truth", f->truth},
             {"cutoff", f->cutoff}, {"calib_cutoff", f->calib_cutoff},
             {"test_domains", f->test_domains}, {"train", f->train}, {"html", f->html},
             {"endpoint", f->endpoint}, {"model", f->model}, {"cache", f->cache},
             {"method", sub == CALIBRATE ? f->method : NULL}, {"baseline", f->baseline},
             {"fit_pred", f->fit_pred}, {"fit_truth", f->fit_truth}, {"cases", f->cases}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (s[i].v) cJSON_AddStringToObject(c, s[i].k, s[i].v);
    cJSON *pos = cJSON_AddArrayToObject(c, "inputs");
    for (int i = 0; pos && i < f->npos; i++) cJSON_AddItemToArray(pos, cJSON_CreateString(f->pos[i]));
    if (sub == VALIDATE) {
        cJSON_AddNumberToObject(c, "prob_tol", f->prob_tol);
        cJSON_AddNumberToObject(c, "fix_tol", f->fix_tol);
        cJSON_AddNumberToObject(c, "months_tol", f->months_tol);
        cJSON_AddBoolToObject(c, "fix", f->fix);
    }
    if (sub == SCORE || sub == COMPARE || sub == CALIBRATE)
        cJSON_AddNumberToObject(c, "threshold", f->threshold);
    if (sub == COMPARE) {
        cJSON_AddNumberToObject(c, "reps", (double)f->reps);
        cJSON_AddNumberToObject(c, "level", f->level);
    }
    if (sub == PREDICT && f->baseline) cJSON_AddNumberToObject(c, "distort", f->distort);
    return c;
}

static void print_json(const cJSON *j) {
    char *t = cJSON_Print(j);
    if (t) {
        printf("%s\n", t);
        free(t);
    }
}

/* Read and validate a truth file; errors are printed, and SL_ERR_FORMAT returned if any. */
static sl_status load_valid(const char *path, double prob_tol, double months_tol, sl_fc_set **out) {
    SL_TRY(sl_fc_read(path, out));
    sl_fc_validate_opts vo;
    sl_fc_validate_opts_default(&vo);
    vo.prob_tol = prob_tol;
    vo.months_tol = months_tol;
    sl_fc_report rep = {0};
    sl_status st = sl_fc_validate(*out, &vo, &rep);
    char line[512];
    for (size_t i = 0; st == SL_OK && i < rep.n; i++)
        if (!rep.issues[i].warning) {
            sl_fc_issue_format(&rep.issues[i], path, line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
    if (st == SL_OK && rep.n_errors)
        st = sl_set_error(SL_ERR_FORMAT, "%s: %zu validation errors (run synthloop forecast "
                          "validate %s)", path, rep.n_errors, path);
    sl_fc_report_clear(&rep);
    if (st != SL_OK) {
        sl_fc_set_free(*out);
        *out = NULL;
    }
    return st;
}

/* --- validate --------------------------------------------------------------------- */

static sl_status do_validate(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum, int *exit1) {
    (void)reg;
    (void)run;
    sl_fc_validate_opts vo;
    sl_fc_validate_opts_default(&vo);
    vo.prob_tol = f->prob_tol;
    vo.fix_tol = f->fix_tol;
    vo.months_tol = f->months_tol;
    vo.fix = f->fix;
    cJSON *files = cJSON_AddArrayToObject(sum, "files");
    size_t tot_err = 0;
    for (int i = 0; i < f->npos; i++) {
        sl_fc_set *s = NULL;
        sl_status st = sl_fc_read(f->pos[i], &s);
        if (st != SL_OK) {
            /* a structural error is one error of this file */
            if (!f->json) printf("%s\n", sl_last_error());
            cJSON *fj = cJSON_CreateObject();
            cJSON_AddStringToObject(fj, "file", f->pos[i]);
            cJSON_AddStringToObject(fj, "parse_error", sl_last_error());
            cJSON_AddItemToArray(files, fj);
            tot_err++;
            if (st != SL_ERR_FORMAT) return st;
            continue;
        }
        sl_fc_report rep = {0};
        st = sl_fc_validate(s, &vo, &rep);
        if (st != SL_OK) {
            sl_fc_set_free(s);
            return st;
        }
        cJSON *fj = cJSON_CreateObject();
        cJSON_AddItemToArray(files, fj);
        cJSON_AddStringToObject(fj, "file", f->pos[i]);
        cJSON_AddNumberToObject(fj, "cases", (double)s->n);
        cJSON_AddNumberToObject(fj, "errors", (double)rep.n_errors);
        cJSON_AddNumberToObject(fj, "warnings", (double)rep.n_warnings);
        cJSON_AddNumberToObject(fj, "fixed", (double)rep.n_fixed);
        cJSON *iss = cJSON_AddArrayToObject(fj, "issues");
        char line[512];
        for (size_t k = 0; k < rep.n; k++) {
            const sl_fc_issue *is = &rep.issues[k];
            sl_fc_issue_format(is, f->pos[i], line, sizeof line);
            if (!f->json && !(sl_cli_quiet && is->warning)) printf("%s\n", line);
            cJSON *ij = cJSON_CreateObject();
            cJSON_AddNumberToObject(ij, "line", (double)is->line);
            cJSON_AddStringToObject(ij, "field", is->field);
            cJSON_AddStringToObject(ij, "rule", sl_fc_rule_name(is->rule));
            cJSON_AddStringToObject(ij, "severity", is->fixed ? "fixed" : is->warning ? "warning" : "error");
            cJSON_AddStringToObject(ij, "message", is->message);
            cJSON_AddItemToArray(iss, ij);
        }
        if (!f->json)
            printf("%s: %zu cases, %zu errors, %zu warnings, %zu fixed\n", f->pos[i], s->n,
                   rep.n_errors, rep.n_warnings, rep.n_fixed);
        tot_err += rep.n_errors;
        if (f->fix && f->output) {
            if (rep.n_errors) {
                if (!f->json) printf("%s: errors remain; %s not written\n", f->pos[i], f->output);
            } else {
                const sl_fc_case **cs = malloc((s->n ? s->n : 1) * sizeof *cs);
                if (!cs) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
                for (size_t k = 0; cs && k < s->n; k++) cs[k] = &s->cases[k];
                if (st == SL_OK) st = sl_fc_write(f->output, (const sl_fc_case *const *)cs, s->n);
                free(cs);
                if (st == SL_OK) {
                    cJSON_AddStringToObject(fj, "written", f->output);
                    if (!f->json) printf("wrote %s (%zu nodes renormalised)\n", f->output, rep.n_fixed);
                }
            }
        }
        sl_fc_report_clear(&rep);
        sl_fc_set_free(s);
        if (st != SL_OK) return st;
    }
    cJSON_AddNumberToObject(sum, "errors", (double)tot_err);
    *exit1 = tot_err > 0;
    return SL_OK;
}

/* --- split -------------------------------------------------------------------------- */

static sl_status write_segment(const sl_fc_set *s, const sl_fc_segment *seg, sl_fc_segment want,
                               const char *path, size_t *n_out) {
    const sl_fc_case **cs = malloc((s->n ? s->n : 1) * sizeof *cs);
    if (!cs) return sl_set_error(SL_ERR_NOMEM, "split: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (seg[i] == want) cs[k++] = &s->cases[i];
    sl_status st = sl_fc_write(path, (const sl_fc_case *const *)cs, k);
    free(cs);
    *n_out = k;
    return st;
}

static sl_status do_split(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    sl_fc_set *s = NULL;
    SL_TRY(load_valid(f->pos[0], f->prob_tol, f->months_tol, &s));
    sl_fc_segment *seg = malloc((s->n ? s->n : 1) * sizeof *seg);
    const char **why = malloc((s->n ? s->n : 1) * sizeof *why);
    sl_status st = seg && why ? SL_OK : sl_set_error(SL_ERR_NOMEM, "split: out of memory");
    if (st == SL_OK)
        st = f->cutoff ? sl_fc_split_date(s, f->calib_cutoff, f->cutoff, seg, why)
                       : sl_fc_split_domain(s, f->test_domains, seg, why);
    static const char *const names[3] = {"train", "calib", "test"};
    char path[PATH_MAX];
    size_t counts[4] = {0};
    for (int g = 0; st == SL_OK && g < 3; g++) {
        if (g == SL_FC_CALIB && !f->calib_cutoff) continue;
        snprintf(path, sizeof path, "%s.%s.jsonl", f->out_prefix, names[g]);
        st = write_segment(s, seg, (sl_fc_segment)g, path, &counts[g]);
        if (st == SL_OK && !f->json) printf("%-6s %4zu cases -> %s\n", names[g], counts[g], path);
        if (st == SL_OK) cJSON_AddNumberToObject(sum, names[g], (double)counts[g]);
        char abs[PATH_MAX];
        if (st == SL_OK && reg)
            st = sl_registry_add_artifact(reg, run, "forecast_split", cli_abs_path(path, abs));
    }
    cJSON *ex = st == SL_OK ? cJSON_AddArrayToObject(sum, "excluded") : NULL;
    for (size_t i = 0; st == SL_OK && i < s->n; i++)
        if (seg[i] == SL_FC_EXCLUDED) {
            counts[3]++;
            if (!f->json)
                printf("excluded %s (line %zu): %s\n", s->cases[i].case_id, s->cases[i].line, why[i]);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "case_id", s->cases[i].case_id);
            cJSON_AddStringToObject(e, "reason", why[i] ? why[i] : "");
            cJSON_AddItemToArray(ex, e);
        }
    if (st == SL_OK) st = sl_fc_store_cases(reg, run, s, seg);
    free(seg);
    free(why);
    sl_fc_set_free(s);
    return st;
}

/* --- templates, export ------------------------------------------------------------------ */

static sl_status write_json_lines(const char *path, const cJSON *arr) {
    sl_atomic_file af;
    SL_TRY(sl_atomic_open(&af, path));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char *t = cJSON_PrintUnformatted(it);
        int ok = t && fputs(t, af.fp) >= 0 && fputc('\n', af.fp) != EOF;
        free(t);
        if (!ok) {
            sl_atomic_abort(&af);
            return sl_set_error(SL_ERR_IO, "%s: write failed", path);
        }
    }
    return sl_atomic_commit(&af);
}

static sl_status do_templates(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    cJSON *arr = NULL;
    SL_TRY(sl_fc_templates((size_t)f->n, f->seed, !f->random_probs, (int)f->start_year, &arr));
    sl_status st = write_json_lines(f->output, arr);
    cJSON_Delete(arr);
    char abs[PATH_MAX];
    if (st == SL_OK && reg)
        st = sl_registry_add_artifact(reg, run, "forecast_templates", cli_abs_path(f->output, abs));
    if (st == SL_OK) {
        cJSON_AddNumberToObject(sum, "cases", (double)f->n);
        if (!f->json) printf("wrote %ld synthetic template cases to %s\n", f->n, f->output);
    }
    return st;
}

static sl_status do_export(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    sl_fc_set *s = NULL;
    SL_TRY(load_valid(f->pos[0], SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &s));
    cJSON *arr = cJSON_CreateArray();
    sl_status st = arr ? SL_OK : sl_set_error(SL_ERR_NOMEM, "export: out of memory");
    size_t nsyn = 0, n = 0;
    for (size_t i = 0; st == SL_OK && i < s->n; i++) {
        if (s->cases[i].synthetic) {
            nsyn++;
            if (f->no_synthetic) continue;
        }
        cJSON *r = sl_fc_sft_record(&s->cases[i]);
        if (!r) st = SL_ERR_NOMEM;
        else cJSON_AddItemToArray(arr, r);
        n++;
    }
    if (st == SL_OK) st = write_json_lines(f->output, arr);
    cJSON_Delete(arr);
    char abs[PATH_MAX];
    if (st == SL_OK && reg)
        st = sl_registry_add_artifact(reg, run, "forecast_sft", cli_abs_path(f->output, abs));
    if (st == SL_OK) {
        cJSON_AddNumberToObject(sum, "records", (double)n);
        cJSON_AddNumberToObject(sum, "synthetic_in_input", (double)nsyn);
        if (!f->json)
            printf("wrote %zu SFT records to %s (%zu synthetic cases in the input%s)\n", n,
                   f->output, nsyn, f->no_synthetic ? ", left out" : "");
    }
    sl_fc_set_free(s);
    return st;
}

/* --- reward, score, compare ------------------------------------------------------------- */

static sl_status do_reward(const fopts *f, cJSON *sum) {
    sl_fc_reward_weights w;
    sl_fc_reward_weights_default(&w);
    if (f->weights &&
        sscanf(f->weights, "%lf,%lf,%lf,%lf", &w.calibration, &w.sharpness, &w.diversity,
               &w.coherence) != 4)
        return sl_set_error(SL_ERR_ARG, "--weights '%s': need four numbers C,S,D,H", f->weights);
    sl_fc_set *t = NULL, *p = NULL;
    SL_TRY(load_valid(f->truth, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &t));
    sl_status st = sl_fc_read(f->pred, &p);
    cJSON *cases = st == SL_OK ? cJSON_AddArrayToObject(sum, "cases") : NULL;
    double m[5] = {0};
    size_t n = 0, missing = 0;
    if (st == SL_OK && !f->json)
        printf("%-28s %11s %9s %9s %9s %7s\n", "case", "calibration", "sharpness", "diversity",
               "coherence", "total");
    for (size_t i = 0; st == SL_OK && i < t->n; i++) {
        size_t k;
        for (k = 0; k < p->n; k++)
            if (p->cases[k].case_id && strcmp(p->cases[k].case_id, t->cases[i].case_id) == 0) break;
        if (k == p->n) {
            missing++;
            continue;
        }
        sl_fc_reward r;
        st = sl_fc_reward_case(&p->cases[k], &t->cases[i], &w, &r);
        if (st != SL_OK) break;
        double v[5] = {r.calibration, r.sharpness, r.diversity, r.coherence, r.total};
        for (int j = 0; j < 5; j++) m[j] += v[j];
        n++;
        if (!f->json)
            printf("%-28.28s %11.4f %9.4f %9.4f %9.4f %7.4f\n", t->cases[i].case_id, v[0], v[1],
                   v[2], v[3], v[4]);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "case_id", t->cases[i].case_id);
        cJSON_AddNumberToObject(c, "calibration", v[0]);
        cJSON_AddNumberToObject(c, "sharpness", v[1]);
        cJSON_AddNumberToObject(c, "diversity", v[2]);
        cJSON_AddNumberToObject(c, "coherence", v[3]);
        cJSON_AddNumberToObject(c, "total", v[4]);
        cJSON_AddItemToArray(cases, c);
    }
    if (st == SL_OK && n == 0) st = sl_set_error(SL_ERR_ARG, "reward: no predicted case matches the truth");
    if (st == SL_OK) {
        cJSON *mj = cJSON_AddObjectToObject(sum, "mean");
        static const char *const nm[5] = {"calibration", "sharpness", "diversity", "coherence", "total"};
        for (int j = 0; j < 5; j++) cJSON_AddNumberToObject(mj, nm[j], m[j] / (double)n);
        cJSON_AddNumberToObject(sum, "missing_predictions", (double)missing);
        if (!f->json)
            printf("%-28s %11.4f %9.4f %9.4f %9.4f %7.4f\n(%zu cases; %zu truth cases without "
                   "prediction)\n", "mean", m[0] / (double)n, m[1] / (double)n, m[2] / (double)n,
                   m[3] / (double)n, m[4] / (double)n, n, missing);
    }
    sl_fc_set_free(t);
    sl_fc_set_free(p);
    return st;
}

static void print_scores(const char *label, const sl_fc_scores *s) {
    printf("%s: %zu cases (%zu without prediction), %zu nodes, %zu scored items\n", label,
           s->n_cases, s->n_missing_cases, s->n_nodes, s->n_items);
    printf("  Brier             %.4f   (seed 004 target < 0.15)\n", s->brier);
    printf("  skill vs uniform  %.4f   (uniform Brier %.4f)\n", s->skill_uniform, s->brier_uniform);
    printf("  skill vs base     %.4f   (base rate %.4f, Brier %.4f)\n", s->skill_base_rate,
           s->base_rate, s->brier_base_rate);
    printf("  log score         %.4f   (clipped at %g)\n", s->log_score, SL_FC_LOG_EPS);
    printf("  ECE (10 bins)     %.4f\n", s->ece);
    printf("  Murphy            REL %.4f  RES %.4f  UNC %.4f  WBV %.4f  WBC %.4f  (sum %.4f)\n",
           s->murphy.reliability, s->murphy.resolution, s->murphy.uncertainty,
           s->murphy.within_var, s->murphy.within_cov, s->murphy.brier);
    for (int d = 1; d <= SL_FC_MAX_DEPTH; d++) {
        if (!s->acc_n[d]) continue;
        double t = sl_fc_depth_target(d);
        if (isfinite(t))
            printf("  depth %d accuracy  %.3f   (n %zu, target > %.2f: %s)\n", d, s->acc[d],
                   s->acc_n[d], t, s->acc[d] > t ? "met" : "not met");
        else
            printf("  depth %d accuracy  %.3f   (n %zu, no target)\n", d, s->acc[d], s->acc_n[d]);
    }
    printf("  coverage exact    %.3f\n  coverage fuzzy    %.3f   (Jaccard >= %.2f; target > 0.80)\n",
           s->coverage_exact, s->coverage_fuzzy, SL_FC_MATCH_THRESHOLD);
    printf("  timeframe MAE     %.2f months (n %zu)\n", s->timeframe_mae, s->timeframe_n);
}

static sl_status store_scores(sl_registry *reg, int64_t run, const char *label, const sl_fc_scores *s) {
    const struct {
        const char *k;
        double v;
    } m[] = {{"brier", s->brier},           {"skill_uniform", s->skill_uniform},
             {"skill_base_rate", s->skill_base_rate}, {"log_score", s->log_score},
             {"ece", s->ece},               {"reliability", s->murphy.reliability},
             {"resolution", s->murphy.resolution}, {"uncertainty", s->murphy.uncertainty},
             {"accuracy", s->accuracy},     {"coverage_exact", s->coverage_exact},
             {"coverage_fuzzy", s->coverage_fuzzy}, {"timeframe_mae", s->timeframe_mae}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        SL_TRY(sl_fc_store_score(reg, run, label, m[i].k, m[i].v, NAN, NAN));
    return SL_OK;
}

static sl_status eval_files(const char *pred, const char *truth, double thr, sl_fc_eval **e) {
    sl_fc_set *t = NULL, *p = NULL;
    SL_TRY(load_valid(truth, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &t));
    sl_status st = sl_fc_read(pred, &p);
    if (st == SL_OK) st = sl_fc_evaluate(p, t, thr, e);
    sl_fc_set_free(t);
    sl_fc_set_free(p);
    return st;
}

static sl_status do_score(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    double br = f->base_rate;
    if (f->train) {
        sl_fc_set *tr = NULL;
        SL_TRY(load_valid(f->train, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &tr));
        br = sl_fc_base_rate(tr);
        sl_fc_set_free(tr);
    }
    sl_fc_eval *e = NULL;
    SL_TRY(eval_files(f->pred, f->truth, f->threshold, &e));
    sl_fc_scores s;
    sl_status st = sl_fc_score(e, br, NULL, &s);
    if (st == SL_OK && f->html) st = sl_fc_write_html(f->html, f->pred, e, &s);
    char abs[PATH_MAX];
    if (st == SL_OK && f->html && reg)
        st = sl_registry_add_artifact(reg, run, "forecast_report", cli_abs_path(f->html, abs));
    if (st == SL_OK) st = store_scores(reg, run, f->pred, &s);
    if (st == SL_OK) {
        cJSON *sj = sl_fc_scores_json(&s);
        cJSON_AddItemToObject(sum, "scores", sj);
        cJSON_AddStringToObject(sum, "base_rate_source",
                                f->train ? "train file" : isnan(f->base_rate) ? "in-sample" : "given");
        if (!f->json) {
            print_scores(f->pred, &s);
            if (e->n_pred_unmatched)
                printf("  (%zu predicted cases have no truth case and were not scored)\n",
                       e->n_pred_unmatched);
            if (f->html) printf("wrote %s\n", f->html);
        }
    }
    sl_fc_eval_free(e);
    return st;
}

static sl_status do_compare(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    sl_fc_eval *a = NULL, *b = NULL;
    SL_TRY(eval_files(f->pos[0], f->truth, f->threshold, &a));
    sl_status st = eval_files(f->pos[1], f->truth, f->threshold, &b);
    cJSON *r = NULL;
    if (st == SL_OK) st = sl_fc_compare(a, b, (size_t)f->reps, f->level, f->seed, &r);
    if (st == SL_OK) {
        const cJSON *m;
        if (!f->json)
            printf("A = %s\nB = %s\n%-22s %9s %9s %9s   %2.0f%% CI of B - A       better\n", f->pos[0],
                   f->pos[1], "metric", "A", "B", "B - A", 100.0 * f->level);
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(r, "metrics")) {
            double va = sl_json_num(m, "a", NAN), vb = sl_json_num(m, "b", NAN);
            double d = sl_json_num(m, "diff", NAN), lo = sl_json_num(m, "lo", NAN),
                   hi = sl_json_num(m, "hi", NAN);
            const char *name = sl_json_str(m, "name", "?");
            if (!f->json)
                printf("%-22s %9.4f %9.4f %+9.4f   [%+8.4f, %+8.4f]  %s\n", name, va, vb, d, lo,
                       hi, sl_json_str(m, "better", "?"));
            if (st == SL_OK) st = sl_fc_store_score(reg, run, "B-A", name, d, lo, hi);
        }
        cJSON_AddItemToObject(sum, "compare", r);
    } else {
        cJSON_Delete(r);
    }
    sl_fc_eval_free(a);
    sl_fc_eval_free(b);
    return st;
}

/* --- calibrate ---------------------------------------------------------------------------- */

static sl_status eval_items(const sl_fc_eval *e, double **p, int **y) {
    *p = malloc((e->n_items ? e->n_items : 1) * sizeof **p);
    *y = malloc((e->n_items ? e->n_items : 1) * sizeof **y);
    if (!*p || !*y) {
        free(*p);
        free(*y);
        return sl_set_error(SL_ERR_NOMEM, "calibrate: out of memory");
    }
    for (size_t i = 0; i < e->n_items; i++) {
        (*p)[i] = e->items[i].p;
        (*y)[i] = e->items[i].y;
    }
    return SL_OK;
}

static sl_status do_calibrate(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    int lo_k = 0, hi_k = SL_FC_CAL_COUNT - 1;
    if (strcmp(f->method, "all") != 0) {
        int k;
        for (k = 0; k < SL_FC_CAL_COUNT; k++)
            if (strcmp(f->method, sl_fc_calib_name((sl_fc_calib_kind)k)) == 0) break;
        if (k == SL_FC_CAL_COUNT) return sl_set_error(SL_ERR_ARG, "--method '%s' unknown", f->method);
        lo_k = hi_k = k;
    }
    sl_fc_eval *fe = NULL;
    SL_TRY(eval_files(f->fit_pred, f->fit_truth, f->threshold, &fe));
    double *p = NULL;
    int *y = NULL;
    sl_status st = eval_items(fe, &p, &y);
    size_t n = fe->n_items;
    sl_fc_eval_free(fe);
    SL_TRY(st);
    sl_fc_set *truth = NULL;
    if (st == SL_OK && f->truth) st = load_valid(f->truth, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &truth);
    sl_fc_scores before;
    int have_before = 0;
    if (st == SL_OK && f->pred && truth) {
        sl_fc_set *ps = NULL;
        sl_fc_eval *e = NULL;
        st = sl_fc_read(f->pred, &ps);
        if (st == SL_OK) st = sl_fc_evaluate(ps, truth, f->threshold, &e);
        if (st == SL_OK) st = sl_fc_score(e, NAN, NULL, &before);
        have_before = st == SL_OK;
        sl_fc_eval_free(e);
        sl_fc_set_free(ps);
        if (st == SL_OK) st = store_scores(reg, run, "uncalibrated", &before);
        if (st == SL_OK && !f->json)
            printf("%-12s %-28s %8s %8s %8s %9s\n%-12s %-28s %8.4f %8.4f %8.4f %9.4f\n", "method",
                   "parameters", "Brier", "ECE", "log", "accuracy", "none", "", before.brier,
                   before.ece, before.log_score, before.accuracy);
    }
    if (st == SL_OK) cJSON_AddNumberToObject(sum, "fit_items", (double)n);
    cJSON *ms = st == SL_OK ? cJSON_AddArrayToObject(sum, "methods") : NULL;
    if (st == SL_OK && have_before) cJSON_AddItemToObject(sum, "before", sl_fc_scores_json(&before));
    for (int k = lo_k; st == SL_OK && k <= hi_k; k++) {
        sl_fc_calib c;
        st = sl_fc_calib_fit((sl_fc_calib_kind)k, p, y, n, &c);
        if (st == SL_ERR_DIVERGED && lo_k != hi_k) {
            /* with --method all, one method that cannot be fitted does not stop the others */
            if (!f->json) printf("%-12s not fitted: %s\n", sl_fc_calib_name((sl_fc_calib_kind)k), sl_last_error());
            cJSON *mj = cJSON_CreateObject();
            cJSON_AddStringToObject(mj, "method", sl_fc_calib_name((sl_fc_calib_kind)k));
            cJSON_AddStringToObject(mj, "error", sl_last_error());
            cJSON_AddItemToArray(ms, mj);
            sl_fc_calib_clear(&c);
            st = SL_OK;
            continue;
        }
        if (st != SL_OK) break;
        cJSON *mj = sl_fc_calib_json(&c);
        cJSON_AddItemToArray(ms, mj);
        char par[64] = "";
        if (k == SL_FC_CAL_PLATT) snprintf(par, sizeof par, "a %.4f b %.4f", c.a, c.b);
        else if (k == SL_FC_CAL_TEMPERATURE) snprintf(par, sizeof par, "T %.4f", c.T);
        else snprintf(par, sizeof par, "%zu thresholds", c.n);
        if (f->pred) {
            sl_fc_set *ps = NULL;
            st = sl_fc_read(f->pred, &ps);
            if (st == SL_OK) sl_fc_calib_apply_set(&c, ps);
            if (st == SL_OK && truth) {
                sl_fc_eval *e = NULL;
                sl_fc_scores after;
                st = sl_fc_evaluate(ps, truth, f->threshold, &e);
                if (st == SL_OK) st = sl_fc_score(e, NAN, NULL, &after);
                sl_fc_eval_free(e);
                if (st == SL_OK) {
                    cJSON_AddItemToObject(mj, "after", sl_fc_scores_json(&after));
                    st = store_scores(reg, run, sl_fc_calib_name((sl_fc_calib_kind)k), &after);
                    if (!f->json)
                        printf("%-12s %-28s %8.4f %8.4f %8.4f %9.4f\n", sl_fc_calib_name((sl_fc_calib_kind)k),
                               par, after.brier, after.ece, after.log_score, after.accuracy);
                }
            } else if (st == SL_OK && !f->json) {
                printf("%-12s %s\n", sl_fc_calib_name((sl_fc_calib_kind)k), par);
            }
            if (st == SL_OK && f->output) {
                const sl_fc_case **cs = malloc((ps->n ? ps->n : 1) * sizeof *cs);
                if (!cs) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
                for (size_t i = 0; cs && i < ps->n; i++) cs[i] = &ps->cases[i];
                if (st == SL_OK) st = sl_fc_write(f->output, (const sl_fc_case *const *)cs, ps->n);
                free(cs);
                char abs[PATH_MAX];
                if (st == SL_OK && reg)
                    st = sl_registry_add_artifact(reg, run, "forecast_calibrated",
                                                  cli_abs_path(f->output, abs));
                if (st == SL_OK && !f->json) printf("wrote %s\n", f->output);
            }
            sl_fc_set_free(ps);
        } else if (!f->json) {
            printf("%-12s %s\n", sl_fc_calib_name((sl_fc_calib_kind)k), par);
        }
        sl_fc_calib_clear(&c);
    }
    free(p);
    free(y);
    sl_fc_set_free(truth);
    return st;
}

/* --- predict -------------------------------------------------------------------------------- */

static sl_status do_predict(const fopts *f, sl_registry *reg, int64_t run, cJSON *sum) {
    sl_fc_set *cs = NULL;
    SL_TRY(load_valid(f->cases, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &cs));
    double br = f->base_rate;
    sl_status st = SL_OK;
    if (f->baseline && strcmp(f->baseline, "base-rate") == 0 && isnan(br)) {
        if (f->train) {
            sl_fc_set *tr = NULL;
            st = load_valid(f->train, SL_FC_PROB_TOL, SL_FC_MONTHS_TOL, &tr);
            if (st == SL_OK) br = sl_fc_base_rate(tr);
            sl_fc_set_free(tr);
        } else {
            br = sl_fc_base_rate(cs);
        }
        if (st == SL_OK) cJSON_AddNumberToObject(sum, "base_rate", br);
        if (st == SL_OK)
            cJSON_AddStringToObject(sum, "base_rate_source", f->train ? "train file" : "in-sample");
    }
    cJSON *out = st == SL_OK ? cJSON_CreateArray() : NULL;
    cJSON *errs = out ? cJSON_CreateArray() : NULL;
    if (st == SL_OK && !errs) st = sl_set_error(SL_ERR_NOMEM, "predict: out of memory");
    size_t counts[SL_FC_PRED_OUTCOME_COUNT] = {0}, n_cached = 0;
    sl_fc_predict_opts po;
    sl_fc_predict_opts_default(&po);
    po.endpoint = f->endpoint;
    if (f->model) po.model = f->model;
    po.cache_dir = f->cache;
    po.timeout_s = f->timeout;
    po.retries = (int)f->retries;
    po.backoff_s = f->backoff;
    po.temperature = f->temperature;
    po.max_tokens = (int)f->max_tokens;
    const char *model = f->baseline ? f->baseline : po.model;
    sl_fc_baseline kind = SL_FC_BASE_UNIFORM;
    if (f->baseline && strcmp(f->baseline, "base-rate") == 0) kind = SL_FC_BASE_RATE;
    if (f->baseline && strcmp(f->baseline, "annotated") == 0) kind = SL_FC_BASE_ANNOTATED;
    sl_progress prog;
    sl_progress_begin(&prog, "predict", cs->n);
    for (size_t i = 0; st == SL_OK && i < cs->n; i++) {
        const sl_fc_case *c = &cs->cases[i];
        cJSON *pred = NULL;
        sl_fc_outcome why = SL_FC_PRED_OK;
        if (f->baseline) {
            sl_rng r;
            sl_rng_seed(&r, f->seed, i);
            st = sl_fc_baseline_case(c, kind, br, f->distort, &r, &pred);
        } else {
            int cached = 0;
            sl_status ps = sl_fc_predict_case(c, &po, &pred, &why, &cached);
            n_cached += cached;
            if (ps != SL_OK && ps != SL_ERR_FORMAT && ps != SL_ERR_IO) st = ps;
            if (ps == SL_ERR_FORMAT || ps == SL_ERR_IO) {
                fprintf(stderr, "synthloop: warning: %s: %s\n", sl_fc_outcome_name(why), sl_last_error());
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "case_id", c->case_id);
                cJSON_AddStringToObject(e, "outcome", sl_fc_outcome_name(why));
                cJSON_AddStringToObject(e, "error", sl_last_error());
                cJSON_AddItemToArray(errs, e);
                if (st == SL_OK)
                    st = sl_fc_store_prediction(reg, run, model, c->case_id, NULL,
                                                sl_fc_outcome_name(why), sl_last_error());
            }
        }
        counts[why]++;
        if (pred) {
            if (st == SL_OK) st = sl_fc_store_prediction(reg, run, model, c->case_id, pred, "ok", NULL);
            cJSON_AddItemToArray(out, pred);
        }
        sl_progress_update(&prog, i + 1, NULL);
    }
    sl_progress_end(&prog);
    if (st == SL_OK) st = write_json_lines(f->output, out);
    if (st == SL_OK && f->errors) st = write_json_lines(f->errors, errs);
    char abs[PATH_MAX];
    if (st == SL_OK && reg)
        st = sl_registry_add_artifact(reg, run, "forecast_predictions", cli_abs_path(f->output, abs));
    if (st == SL_OK) {
        cJSON *cj = cJSON_AddObjectToObject(sum, "outcomes");
        for (int k = 0; k < SL_FC_PRED_OUTCOME_COUNT; k++)
            cJSON_AddNumberToObject(cj, sl_fc_outcome_name((sl_fc_outcome)k), (double)counts[k]);
        cJSON_AddNumberToObject(sum, "cached", (double)n_cached);
        cJSON_AddNumberToObject(sum, "cases", (double)cs->n);
        if (!f->json) {
            printf("%zu cases: %zu ok (%zu from cache)", cs->n, counts[SL_FC_PRED_OK], n_cached);
            for (int k = 1; k < SL_FC_PRED_OUTCOME_COUNT; k++)
                printf(", %zu %s", counts[k], sl_fc_outcome_name((sl_fc_outcome)k));
            printf("\nwrote %s%s%s\n", f->output, f->errors ? " and " : "", f->errors ? f->errors : "");
        }
    }
    cJSON_Delete(out);
    cJSON_Delete(errs);
    sl_fc_set_free(cs);
    return st;
}

/* --- dispatch ---------------------------------------------------------------------------------- */

static int check_args(int sub, const fopts *f, const char *cmd) {
    switch (sub) {
    case VALIDATE:
        if (f->npos < 1) return sl_cli_usage_error(cmd, "give at least one CASES.jsonl");
        if (f->output && !f->fix) return sl_cli_usage_error(cmd, "--output needs --fix");
        if (f->fix && f->output && f->npos != 1)
            return sl_cli_usage_error(cmd, "--fix --output takes exactly one input file");
        return 0;
    case SPLIT:
        if (f->npos != 1) return sl_cli_usage_error(cmd, "give exactly one CASES.jsonl");
        if (!f->out_prefix) return sl_cli_usage_error(cmd, "--out PREFIX is required");
        if (!f->cutoff == !f->test_domains)
            return sl_cli_usage_error(cmd, "give either --cutoff or --test-domains");
        if (f->calib_cutoff && !f->cutoff) return sl_cli_usage_error(cmd, "--calib-cutoff needs --cutoff");
        return 0;
    case TEMPLATES:
        if (f->npos) return sl_cli_usage_error(cmd, "unexpected argument '%s'", f->pos[0]);
        if (!f->output) return sl_cli_usage_error(cmd, "--output is required");
        return 0;
    case EXPORT:
        if (f->npos != 1) return sl_cli_usage_error(cmd, "give exactly one CASES.jsonl");
        if (!f->output) return sl_cli_usage_error(cmd, "--output is required");
        return 0;
    case REWARD:
    case SCORE:
        if (f->npos) return sl_cli_usage_error(cmd, "unexpected argument '%s'", f->pos[0]);
        if (!f->pred || !f->truth) return sl_cli_usage_error(cmd, "--pred and --truth are required");
        if (f->train && !isnan(f->base_rate))
            return sl_cli_usage_error(cmd, "give --train or --base-rate, not both");
        return 0;
    case COMPARE:
        if (f->npos != 2) return sl_cli_usage_error(cmd, "give two prediction files A and B");
        if (!f->truth) return sl_cli_usage_error(cmd, "--truth is required");
        return 0;
    case CALIBRATE:
        if (f->npos) return sl_cli_usage_error(cmd, "unexpected argument '%s'", f->pos[0]);
        if (!f->fit_pred || !f->fit_truth)
            return sl_cli_usage_error(cmd, "--fit-pred and --fit-truth are required");
        if ((f->truth || f->output) && !f->pred)
            return sl_cli_usage_error(cmd, "--truth and --output need --pred");
        if (f->output && strcmp(f->method, "all") == 0)
            return sl_cli_usage_error(cmd, "--output needs one --method");
        return 0;
    case PREDICT:
        if (f->npos) return sl_cli_usage_error(cmd, "unexpected argument '%s'", f->pos[0]);
        if (!f->cases || !f->output) return sl_cli_usage_error(cmd, "--cases and --output are required");
        if (!f->endpoint == !f->baseline)
            return sl_cli_usage_error(cmd, "give either --endpoint or --baseline");
        if (f->baseline && strcmp(f->baseline, "uniform") != 0 &&
            strcmp(f->baseline, "base-rate") != 0 && strcmp(f->baseline, "annotated") != 0)
            return sl_cli_usage_error(cmd, "--baseline must be uniform, base-rate or annotated");
        return 0;
    default: return sl_cli_usage_error(cmd, "unknown subcommand");
    }
}

int cmd_forecast(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) return sl_cli_usage_error("forecast", "missing subcommand");
        usage();
        return 0;
    }
    int sub;
    for (sub = 0; sub < NSUB; sub++)
        if (strcmp(argv[1], sub_names[sub]) == 0) break;
    if (sub == NSUB) return sl_cli_usage_error("forecast", "unknown subcommand '%s'", argv[1]);
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "forecast %s", sub_names[sub]);
    fopts f;
    int rc = parse_opts(sub, argc - 1, argv + 1, &f);
    if (rc) return rc;
    rc = check_args(sub, &f, cmd);
    if (rc) return rc;
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(f.db, cmd, conf_of(&f, sub), f.seed, &reg, &run);
    cJSON *sum = cJSON_CreateObject();
    if (st == SL_OK && !sum) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    int exit1 = 0;
    if (st == SL_OK) {
        switch (sub) {
        case VALIDATE: st = do_validate(&f, reg, run, sum, &exit1); break;
        case SPLIT: st = do_split(&f, reg, run, sum); break;
        case TEMPLATES: st = do_templates(&f, reg, run, sum); break;
        case EXPORT: st = do_export(&f, reg, run, sum); break;
        case REWARD: st = do_reward(&f, sum); break;
        case SCORE: st = do_score(&f, reg, run, sum); break;
        case COMPARE: st = do_compare(&f, reg, run, sum); break;
        case CALIBRATE: st = do_calibrate(&f, reg, run, sum); break;
        case PREDICT: st = do_predict(&f, reg, run, sum); break;
        default: break;
        }
    }
    if (st == SL_OK && f.json) print_json(sum);
    rc = cli_run_finish(reg, run, st, sum);
    cJSON_Delete(sum);
    if (rc == 0 && exit1) {
        fprintf(stderr, "synthloop: error: validation found errors\n");
        rc = 1;
    }
    return rc;
}
