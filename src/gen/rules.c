/* SPDX-License-Identifier: Apache-2.0 */
/* rules.c - the rule-based generator: per-column marginals and cross-column constraints from a
 * JSON rule file (format in docs/GEN.md); rows are drawn column by column from the marginals,
 * assignments ("assign": column, "value", optional "if") are applied, and rows are rejected
 * until every constraint holds. It reads no records: its output carries no
 * privacy cost and no DP claim beyond "no records were read".
 * Invariant: a loaded rule set has been validated (every column, op and label resolved).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"
#include "synthloop/sl_json.h"

#define RULES_MAX_TRIES 10000

typedef enum { D_NORMAL, D_LOGNORMAL, D_UNIFORM, D_CATEGORICAL } dist_kind;
typedef enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_COUNT } op_kind;
static const char *const op_names[OP_COUNT] = {"<", "<=", ">", ">=", "==", "!="};

typedef struct cond {
    size_t col;
    op_kind op;
    int other;   /* 1: compare with column `ocol`, 0: with `value` */
    size_t ocol;
    double value; /* a number, or a label's code */
} cond;

typedef struct rule {
    cond c;        /* the constraint (or, for an assignment, c.col = c.value) */
    int assign;    /* 1: set c.col to c.value (when `when` holds), before the checks */
    int has_if;
    cond when;
} rule;

typedef struct colgen {
    dist_kind kind;
    double a, b;  /* normal: mean, sd; lognormal: mu, sigma; uniform: lo, hi */
    double *probs; /* categorical [n_cats], normalised */
} colgen;

typedef struct rules {
    size_t d, n_rules;
    colgen *cols;
    rule *r;
    char *text; /* the rule file as compact JSON (saved with the model) */
} rules;

static void rules_free(void *p) {
    rules *R = p;
    if (!R) return;
    for (size_t j = 0; j < R->d; j++) free(R->cols[j].probs);
    free(R->cols);
    free(R->r);
    free(R->text);
    free(R);
}

static long col_index(const sl_gen_table *s, const char *name) {
    for (size_t j = 0; j < s->n_cols; j++)
        if (name && strcmp(s->cols[j].name, name) == 0) return (long)j;
    return -1;
}

static sl_status parse_cond(const cJSON *o, const sl_gen_table *s, cond *c, const char *what) {
    long j = col_index(s, sl_json_str(o, "column", NULL));
    if (j < 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: constraint names an unknown \"column\"", what);
    c->col = (size_t)j;
    const char *op = sl_json_str(o, "op", "==");
    int k;
    for (k = 0; k < OP_COUNT; k++)
        if (strcmp(op, op_names[k]) == 0) break;
    if (k == OP_COUNT)
        return sl_set_error(SL_ERR_FORMAT, "%s: unknown constraint op \"%s\"", what, op);
    c->op = (op_kind)k;
    const sl_gen_column *col = &s->cols[j];
    const cJSON *other = cJSON_GetObjectItemCaseSensitive(o, "other");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (!v) v = cJSON_GetObjectItemCaseSensitive(o, "equals");
    if (other) {
        long oj = col_index(s, cJSON_IsString(other) ? other->valuestring : NULL);
        if (oj < 0 || s->cols[oj].type != col->type || col->type == SL_GEN_CATEGORICAL)
            return sl_set_error(SL_ERR_FORMAT, "%s: \"other\" must name a non-categorical column "
                                "of the same type as \"%s\"", what, col->name);
        c->other = 1;
        c->ocol = (size_t)oj;
    } else if (col->type == SL_GEN_CATEGORICAL) {
        long code = cJSON_IsString(v) ? sl_gen_find_cat(col, v->valuestring) : -1;
        if (code < 0 || (c->op != OP_EQ && c->op != OP_NE))
            return sl_set_error(SL_ERR_FORMAT, "%s: a categorical constraint on \"%s\" needs "
                                "op == or != and a \"value\" among its categories", what,
                                col->name);
        c->value = (double)code;
    } else if (cJSON_IsNumber(v)) {
        c->value = v->valuedouble;
    } else {
        return sl_set_error(SL_ERR_FORMAT, "%s: constraint on \"%s\" needs a numeric \"value\" "
                            "or an \"other\" column", what, col->name);
    }
    return SL_OK;
}

static int cond_holds(const cond *c, const double *row) {
    double x = row[c->col], y = c->other ? row[c->ocol] : c->value;
    switch (c->op) {
    case OP_LT: return x < y;
    case OP_LE: return x <= y;
    case OP_GT: return x > y;
    case OP_GE: return x >= y;
    case OP_EQ: return x == y;
    case OP_NE: return x != y;
    default: return 0;
    }
}

static sl_status rules_parse(rules **out, const cJSON *j, const sl_gen_table *s, const char *what) {
    *out = NULL;
    rules *R = calloc(1, sizeof *R);
    if (!R) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    R->d = s->n_cols;
    R->cols = calloc(R->d, sizeof *R->cols);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(j, "constraints");
    size_t nr = cJSON_IsArray(cons) ? (size_t)cJSON_GetArraySize(cons) : 0;
    R->r = calloc(nr ? nr : 1, sizeof *R->r);
    R->text = cJSON_PrintUnformatted(j);
    sl_status st = R->cols && R->r && R->text ? SL_OK : sl_set_error(SL_ERR_NOMEM, "%s: oom", what);
    for (size_t c = 0; c < R->d && st == SL_OK; c++) {
        const cJSON *o = cJSON_GetArrayItem(cols, (int)c);
        const sl_gen_column *col = &s->cols[c];
        colgen *g = &R->cols[c];
        if (col->type == SL_GEN_CATEGORICAL) {
            g->kind = D_CATEGORICAL;
            g->probs = calloc(col->n_cats, sizeof *g->probs);
            if (!g->probs) {
                st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
                break;
            }
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "probs");
            double sum = 0;
            for (size_t k = 0; k < col->n_cats; k++) {
                double v = p ? (cJSON_IsNumber(cJSON_GetArrayItem(p, (int)k))
                                    ? cJSON_GetArrayItem(p, (int)k)->valuedouble : -1.0)
                             : 1.0;
                g->probs[k] = v;
                sum += v;
                if (!(v >= 0) || !isfinite(v)) sum = -1;
            }
            if ((p && (size_t)cJSON_GetArraySize(p) != col->n_cats) || !(sum > 0)) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": \"probs\" must be %zu "
                                  "non-negative numbers with a positive sum", what, col->name,
                                  col->n_cats);
                break;
            }
            for (size_t k = 0; k < col->n_cats; k++) g->probs[k] /= sum;
            continue;
        }
        const char *dist = sl_json_str(o, "dist", "uniform");
        if (strcmp(dist, "normal") == 0) {
            g->kind = D_NORMAL;
            g->a = sl_json_num(o, "mean", NAN);
            g->b = sl_json_num(o, "sd", NAN);
        } else if (strcmp(dist, "lognormal") == 0) {
            g->kind = D_LOGNORMAL;
            g->a = sl_json_num(o, "mu", NAN);
            g->b = sl_json_num(o, "sigma", NAN);
        } else if (strcmp(dist, "uniform") == 0) {
            g->kind = D_UNIFORM;
            if (!col->has_bounds) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": a uniform column needs "
                                  "\"min\" and \"max\"", what, col->name);
                break;
            }
            g->a = col->lo;
            g->b = col->hi;
        } else {
            st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": unknown \"dist\" \"%s\" "
                              "(normal, lognormal, uniform)", what, col->name, dist);
            break;
        }
        if (!isfinite(g->a) || !isfinite(g->b) || !(g->b > 0 || g->kind == D_UNIFORM))
            st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": %s needs finite parameters "
                              "(normal: mean, sd > 0; lognormal: mu, sigma > 0)", what,
                              col->name, dist);
    }
    for (size_t i = 0; i < nr && st == SL_OK; i++) {
        const cJSON *o = cJSON_GetArrayItem(cons, (int)i);
        const cJSON *as = cJSON_GetObjectItemCaseSensitive(o, "assign");
        if (as) { /* {"assign": column, "value": v}: parsed as the condition column == v */
            cJSON *tmp = cJSON_Duplicate(o, 1);
            if (!tmp || !cJSON_IsString(as)) {
                cJSON_Delete(tmp);
                st = sl_set_error(SL_ERR_FORMAT, "%s: \"assign\" must name a column", what);
                break;
            }
            cJSON_DeleteItemFromObjectCaseSensitive(tmp, "column");
            cJSON_AddStringToObject(tmp, "column", as->valuestring);
            cJSON_DeleteItemFromObjectCaseSensitive(tmp, "op");
            cJSON_DeleteItemFromObjectCaseSensitive(tmp, "other");
            st = parse_cond(tmp, s, &R->r[i].c, what);
            cJSON_Delete(tmp);
            R->r[i].assign = 1;
        } else {
            st = parse_cond(o, s, &R->r[i].c, what);
        }
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "if");
        if (st == SL_OK && w) {
            R->r[i].has_if = 1;
            st = parse_cond(w, s, &R->r[i].when, what);
        }
        R->n_rules = i + 1;
    }
    if (st != SL_OK) {
        rules_free(R);
        return st;
    }
    *out = R;
    return SL_OK;
}

static double draw(const colgen *g, const sl_gen_column *col, sl_rng *rng) {
    for (int t = 0; t < 100; t++) {
        double v;
        switch (g->kind) {
        case D_NORMAL: v = g->a + g->b * sl_rng_normal(rng); break;
        case D_LOGNORMAL: v = exp(g->a + g->b * sl_rng_normal(rng)); break;
        case D_UNIFORM:
            v = col->type == SL_GEN_DATE || col->integer
                    ? g->a + (double)sl_rng_below(rng, (uint64_t)(g->b - g->a) + 1)
                    : sl_rng_uniform_range(rng, g->a, g->b);
            break;
        default: return (double)sl_rng_categorical(rng, g->probs, col->n_cats);
        }
        v = col->type == SL_GEN_DATE || col->integer ? floor(v + 0.5) : v;
        if (!col->has_bounds || (v >= col->lo && v <= col->hi)) return v;
    }
    return gen_finish_value(col, col->lo + 0.5 * (col->hi - col->lo)); /* bounds far in a tail */
}

static sl_status rules_sample(const void *state, const sl_gen_table *schema, size_t n,
                              sl_rng *rng, sl_gen_table *out) {
    const rules *R = state;
    double row[256];
    if (R->d > 256) return sl_set_error(SL_ERR_RANGE, "rules: more than 256 columns");
    for (size_t i = 0; i < n; i++) {
        int ok = 0;
        for (int t = 0; t < RULES_MAX_TRIES && !ok; t++) {
            for (size_t j = 0; j < R->d; j++) row[j] = draw(&R->cols[j], &schema->cols[j], rng);
            for (size_t k = 0; k < R->n_rules; k++) /* assignments first, in file order */
                if (R->r[k].assign && (!R->r[k].has_if || cond_holds(&R->r[k].when, row)))
                    row[R->r[k].c.col] = R->r[k].c.value;
            ok = 1;
            for (size_t k = 0; k < R->n_rules && ok; k++)
                if (!R->r[k].assign && (!R->r[k].has_if || cond_holds(&R->r[k].when, row)))
                    ok = cond_holds(&R->r[k].c, row);
        }
        if (!ok)
            return sl_set_error(SL_ERR_RANGE, "rules: no row satisfied every constraint in %d "
                                "draws (contradictory or very unlikely constraints)",
                                RULES_MAX_TRIES);
        for (size_t j = 0; j < R->d; j++) sl_gen_col(out, j)[i] = row[j];
    }
    return SL_OK;
}

/* Build the model from rule JSON: its columns are a schema; with data, they must match the
 * data's names and types (so that the output can be scored against it). */
static sl_status rules_build(void **state, const cJSON *j, const sl_gen_table *data,
                             sl_gen_table **schema, const char *what) {
    sl_gen_table *s = NULL;
    SL_TRY(sl_gen_schema_from_json(j, what, &s));
    sl_status st = SL_OK;
    for (size_t c = 0; c < s->n_cols && st == SL_OK; c++) {
        sl_gen_column *col = &s->cols[c];
        if (col->type == SL_GEN_CATEGORICAL) col->cats_public = 1;
        /* dates in the rule file are strings: re-read the bounds through the schema reader's
         * rules by parsing them here */
        const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "columns"), (int)c);
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(o, "min");
        if (col->type == SL_GEN_DATE && cJSON_IsString(lo))
            st = sl_set_error(SL_ERR_FORMAT, "%s: date bounds in a rule file are days since "
                              "1970-01-01 (numbers)", what);
        if (col->has_bounds && !(col->lo < col->hi))
            st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": min must be < max", what,
                              col->name);
    }
    if (st == SL_OK && data) {
        if (data->n_cols != s->n_cols)
            st = sl_set_error(SL_ERR_SHAPE, "%s: %zu rule columns but the data has %zu", what,
                              s->n_cols, data->n_cols);
        for (size_t c = 0; c < s->n_cols && st == SL_OK; c++) {
            long k = col_index(data, s->cols[c].name);
            if (k < 0 || data->cols[k].type != s->cols[c].type)
                st = sl_set_error(SL_ERR_SHAPE, "%s: rule column \"%s\" is missing from the data "
                                  "or has another type", what, s->cols[c].name);
        }
    }
    rules *R = NULL;
    if (st == SL_OK) st = rules_parse(&R, j, s, what);
    if (st != SL_OK) {
        sl_gen_table_free(s);
        return st;
    }
    sl_gen_table_free(*schema);
    *schema = s;
    *state = R;
    return SL_OK;
}

static sl_status rules_fit(void **state, const sl_gen_config *cfg, const sl_gen_table *data,
                           sl_gen_table **schema, sl_dp_spent *dp) {
    (void)dp;
    if (!cfg->rules_path) return sl_set_error(SL_ERR_ARG, "rules: no rule file given");
    cJSON *j = NULL;
    SL_TRY(sl_json_read_file(cfg->rules_path, &j));
    sl_status st = rules_build(state, j, data, schema, cfg->rules_path);
    cJSON_Delete(j);
    return st;
}

static sl_status rules_save(const void *state, const sl_gen_table *schema, gen_tensors *t,
                            cJSON *meta) {
    const rules *R = state;
    (void)schema;
    (void)t;
    cJSON *j = cJSON_Parse(R->text);
    if (!j) return sl_set_error(SL_ERR_NOMEM, "rules: out of memory");
    cJSON_AddItemToObject(meta, "rules", j);
    return SL_OK;
}

static sl_status rules_load(void **state, const sl_gen_table *schema, const sl_safetensors *st,
                            const cJSON *meta, const char *path) {
    (void)st;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(meta, "rules");
    if (!j) return sl_set_error(SL_ERR_FORMAT, "%s: no rules in the model file", path);
    sl_gen_table *s = NULL;
    SL_TRY(sl_gen_table_alloc_like(schema, 0, &s));
    sl_status r = rules_build(state, j, NULL, &s, path);
    sl_gen_table_free(s);
    return r;
}

const gen_vtable gen_rules_vt = {rules_fit, rules_sample, rules_save, rules_load, rules_free};
