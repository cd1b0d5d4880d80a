/* SPDX-License-Identifier: Apache-2.0 */
/* io.c - JSON files of the weight module: the two learned models (save/load) and the
 * JSON-lines training records (econ_outcome / lambda_outcome).
 *
 * Invariant: a loaded model or record has passed the same checks the training and
 * evaluation code rely on (finite numbers, ranges, sizes); errors name the file, the line
 * (for records) and the key. Nothing non-finite is ever written.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_weight.h"

static const char ECON_FORMAT[] = "synthloop.econ_model";
static const char LAMBDA_FORMAT[] = "synthloop.lambda_model";
static const char *const lambda_feature_names[SL_LAMBDA_NFEAT] = {
    "objective_productivity", "objective_precision", "objective_energy", "objective_novelty",
    "rel_mpl",                "rel_error",           "rel_ep",           "training_progress",
    "log2_real_rows_per_1000"};

/* --- helpers -------------------------------------------------------------- */

static sl_status get_num(const cJSON *o, const char *key, const char *where, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return sl_set_error(SL_ERR_FORMAT, "%s: key \"%s\" missing or not a number", where, key);
    if (!isfinite(v->valuedouble))
        return sl_set_error(SL_ERR_NAN, "%s: key \"%s\" is not finite", where, key);
    *out = v->valuedouble;
    return SL_OK;
}

static sl_status get_arr(const cJSON *o, const char *key, const char *where, double *out,
                         int n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return sl_set_error(SL_ERR_FORMAT, "%s: key \"%s\" must be an array of %d numbers",
                            where, key, n);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return sl_set_error(SL_ERR_FORMAT, "%s: key \"%s\"[%d] is not a finite number",
                                where, key, i);
        out[i++] = e->valuedouble;
    }
    return SL_OK;
}

static sl_status get_count(const cJSON *o, const char *key, const char *where, double lo,
                           double hi, double *out) {
    SL_TRY(get_num(o, key, where, out));
    if (*out != floor(*out) || *out < lo || *out > hi)
        return sl_set_error(SL_ERR_RANGE, "%s: key \"%s\" = %g must be an integer in [%g, %g]",
                            where, key, *out, lo, hi);
    return SL_OK;
}

static sl_status check_format(const cJSON *j, const char *want, const char *path, int max_version) {
    const char *f = sl_json_str(j, "format", NULL);
    if (!f || strcmp(f, want) != 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: key \"format\" must be \"%s\"", path, want);
    int v = sl_json_int(j, "version", 0);
    if (v < 1 || v > max_version)
        return sl_set_error(SL_ERR_FORMAT, "%s: key \"version\" must be 1..%d", path, max_version);
    return SL_OK;
}

/* Numbers are written with %.17g through cJSON_CreateRaw: cJSON's own printer may choose 15
 * digits when they compare equal within an epsilon, and a saved model must load bit-exact. */
static void add_num(cJSON *o, const char *key, double v) {
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    cJSON_AddItemToObject(o, key, cJSON_CreateRaw(b));
}

static void add_arr(cJSON *o, const char *key, const double *x, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a) return;
    for (size_t i = 0; i < n; i++) {
        char b[40];
        snprintf(b, sizeof b, "%.17g", x[i]);
        cJSON_AddItemToArray(a, cJSON_CreateRaw(b));
    }
}

static sl_status save_json(cJSON *j, const char *path) {
    if (!j) return sl_set_error(SL_ERR_NOMEM, "%s: building JSON", path);
    sl_status st = sl_json_write_file(path, j);
    cJSON_Delete(j);
    return st;
}

/* --- econ model ----------------------------------------------------------- */

sl_status sl_econ_model_save(const sl_econ_model *m, const char *path) {
    if (!sl_all_finite_f64(m->params, SL_ECON_NPARAMS) || !sl_all_finite_f64(m->scale, 4))
        return sl_set_error(SL_ERR_NAN, "%s: econ model has non-finite parameters", path);
    if (m->n_bricks < 0 || m->n_bricks > SL_ECON_MAX_BRICKS)
        return sl_set_error(SL_ERR_ARG, "%s: n_bricks %d", path, m->n_bricks);
    const double *p = m->params;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", ECON_FORMAT);
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "n_train", (double)m->n_train);
    cJSON_AddNumberToObject(j, "n_bricks", m->n_bricks);
    add_arr(j, "scale", m->scale, 4);
    add_num(j, "b0", p[SL_ECON_P_B0]);
    add_arr(j, "u", p + SL_ECON_P_U, 3);
    add_arr(j, "V_mpl", p + SL_ECON_P_V, 4);
    add_arr(j, "V_error", p + SL_ECON_P_V + 4, 4);
    add_arr(j, "V_ep", p + SL_ECON_P_V + 8, 4);
    add_num(j, "a_novelty", p[SL_ECON_P_ANOV]);
    add_arr(j, "V_novelty", p + SL_ECON_P_VN, 4);
    add_arr(j, "g", p + SL_ECON_P_G, 4);
    add_arr(j, "brick_offsets", p + SL_ECON_P_BRICK, (size_t)m->n_bricks);
    return save_json(j, path);
}

sl_status sl_econ_model_load(sl_econ_model *out, const char *path) {
    cJSON *j;
    SL_TRY(sl_json_read_file(path, &j));
    sl_econ_model m;
    memset(&m, 0, sizeof m);
    double *p = m.params, nt = 0, nb = 0;
    sl_status st = check_format(j, ECON_FORMAT, path, 1);
    if (st == SL_OK) st = get_count(j, "n_train", path, 0, 9007199254740992.0, &nt);
    if (st == SL_OK) st = get_count(j, "n_bricks", path, 0, SL_ECON_MAX_BRICKS, &nb);
    if (st == SL_OK) st = get_arr(j, "scale", path, m.scale, 4);
    if (st == SL_OK) st = get_num(j, "b0", path, &p[SL_ECON_P_B0]);
    if (st == SL_OK) st = get_arr(j, "u", path, p + SL_ECON_P_U, 3);
    if (st == SL_OK) st = get_arr(j, "V_mpl", path, p + SL_ECON_P_V, 4);
    if (st == SL_OK) st = get_arr(j, "V_error", path, p + SL_ECON_P_V + 4, 4);
    if (st == SL_OK) st = get_arr(j, "V_ep", path, p + SL_ECON_P_V + 8, 4);
    if (st == SL_OK) st = get_num(j, "a_novelty", path, &p[SL_ECON_P_ANOV]);
    if (st == SL_OK) st = get_arr(j, "V_novelty", path, p + SL_ECON_P_VN, 4);
    if (st == SL_OK) st = get_arr(j, "g", path, p + SL_ECON_P_G, 4);
    if (st == SL_OK) st = get_arr(j, "brick_offsets", path, p + SL_ECON_P_BRICK, (int)nb);
    for (int k = 0; st == SL_OK && k < 4; k++)
        if (!(m.scale[k] > 0.0))
            st = sl_set_error(SL_ERR_RANGE, "%s: key \"scale\"[%d] must be > 0", path, k);
    cJSON_Delete(j);
    if (st != SL_OK) return st;
    m.n_train = (size_t)nt;
    m.n_bricks = (int)nb;
    *out = m;
    return SL_OK;
}

/* --- lambda model --------------------------------------------------------- */

sl_status sl_lambda_model_save(const sl_lambda_model *m, const char *path) {
    if (!sl_all_finite_f64(m->params, SL_LAMBDA_NPARAMS))
        return sl_set_error(SL_ERR_NAN, "%s: lambda model has non-finite parameters", path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", LAMBDA_FORMAT);
    cJSON_AddNumberToObject(j, "version", 2);
    cJSON_AddNumberToObject(j, "n_train", (double)m->n_train);
    cJSON_AddItemToObject(j, "features",
                          cJSON_CreateStringArray(lambda_feature_names, SL_LAMBDA_NFEAT));
    add_arr(j, "w", m->params, SL_LAMBDA_NFEAT);
    add_num(j, "b", m->params[SL_LAMBDA_NFEAT]);
    add_num(j, "resid_std", m->resid_std);
    return save_json(j, path);
}

sl_status sl_lambda_model_load(sl_lambda_model *out, const char *path) {
    cJSON *j;
    SL_TRY(sl_json_read_file(path, &j));
    sl_lambda_model m;
    memset(&m, 0, sizeof m);
    double nt = 0;
    sl_status st = check_format(j, LAMBDA_FORMAT, path, 2);
    if (st == SL_OK) st = get_count(j, "n_train", path, 0, 9007199254740992.0, &nt);
    /* version 1 files predate the data-size feature: 8 weights, the 9th is 0 */
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    int v1 = cJSON_IsNumber(ver) && ver->valuedouble == 1.0;
    if (st == SL_OK) st = get_arr(j, "w", path, m.params, v1 ? SL_LAMBDA_NFEAT - 1 : SL_LAMBDA_NFEAT);
    if (st == SL_OK) st = get_num(j, "b", path, &m.params[SL_LAMBDA_NFEAT]);
    /* optional (files before the distributional lambda have none: a point estimate) */
    if (st == SL_OK && cJSON_GetObjectItemCaseSensitive(j, "resid_std")) {
        st = get_num(j, "resid_std", path, &m.resid_std);
        if (st == SL_OK && m.resid_std < 0)
            st = sl_set_error(SL_ERR_FORMAT, "%s: resid_std must be >= 0", path);
    }
    cJSON_Delete(j);
    if (st != SL_OK) return st;
    m.n_train = (size_t)nt;
    *out = m;
    return SL_OK;
}

/* --- training records ----------------------------------------------------- */

static sl_status write_line(FILE *fp, cJSON *j, const char *what) {
    if (!j) return sl_set_error(SL_ERR_NOMEM, "%s", what);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "%s", what);
    int bad = fputs(s, fp) == EOF || fputc('\n', fp) == EOF;
    free(s);
    if (bad) return sl_set_error(SL_ERR_IO, "%s: write failed", what);
    return SL_OK;
}

sl_status sl_econ_record_write(FILE *fp, const sl_econ_record *r) {
    double v[5] = {r->delta_mpl, r->delta_error, r->delta_ep, r->novelty, r->outcome};
    if (!sl_all_finite_f64(v, 5) || !sl_all_finite_f64(r->objective, SL_OBJ_COUNT))
        return sl_set_error(SL_ERR_NAN, "sl_econ_record_write: non-finite value");
    if (r->outcome < 0.0 || r->outcome > 1.0)
        return sl_set_error(SL_ERR_RANGE, "sl_econ_record_write: outcome %g", r->outcome);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "econ_outcome");
    add_num(j, "delta_mpl", r->delta_mpl);
    add_num(j, "delta_error", r->delta_error);
    add_num(j, "delta_ep", r->delta_ep);
    add_num(j, "novelty", r->novelty);
    cJSON_AddNumberToObject(j, "brick", r->brick_id);
    add_arr(j, "objective", r->objective, SL_OBJ_COUNT);
    add_num(j, "outcome", r->outcome);
    return write_line(fp, j, "sl_econ_record_write");
}

static const char *const ctx_keys[11] = {
    "current_mpl",    "current_error", "current_ep",        "baseline_mpl",   "baseline_error",
    "baseline_ep",    "training_progress", "max_synth_share", "share",        "reward",
    "real_rows"};

sl_status sl_lambda_record_write(FILE *fp, const sl_lambda_record *r) {
    const sl_weight_context *c = &r->ctx;
    double v[11] = {c->current_mpl,    c->current_error, c->current_ep,  c->baseline_mpl,
                    c->baseline_error, c->baseline_ep,   c->training_progress,
                    c->max_synth_share, r->share,        r->reward,      c->real_rows};
    if (!sl_all_finite_f64(v, 11) || !sl_all_finite_f64(c->objective, SL_OBJ_COUNT))
        return sl_set_error(SL_ERR_NAN, "sl_lambda_record_write: non-finite value");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "lambda_outcome");
    add_arr(j, "objective", c->objective, SL_OBJ_COUNT);
    for (int k = 0; k < 11; k++) add_num(j, ctx_keys[k], v[k]);
    return write_line(fp, j, "sl_lambda_record_write");
}

static sl_status parse_econ(const cJSON *j, const char *where, sl_econ_record *r) {
    double b;
    SL_TRY(get_num(j, "delta_mpl", where, &r->delta_mpl));
    SL_TRY(get_num(j, "delta_error", where, &r->delta_error));
    SL_TRY(get_num(j, "delta_ep", where, &r->delta_ep));
    SL_TRY(get_num(j, "novelty", where, &r->novelty));
    SL_TRY(get_count(j, "brick", where, -1e9, SL_ECON_MAX_BRICKS - 1, &b));
    r->brick_id = (int)b;
    SL_TRY(get_arr(j, "objective", where, r->objective, SL_OBJ_COUNT));
    SL_TRY(get_num(j, "outcome", where, &r->outcome));
    if (r->outcome < 0.0 || r->outcome > 1.0)
        return sl_set_error(SL_ERR_RANGE, "%s: key \"outcome\" = %g outside [0,1]", where,
                            r->outcome);
    return SL_OK;
}

static sl_status parse_lambda(const cJSON *j, const char *where, sl_lambda_record *r) {
    double v[11];
    SL_TRY(get_arr(j, "objective", where, r->ctx.objective, SL_OBJ_COUNT));
    for (int k = 0; k < 11; k++) {
        if (k >= 9 && !cJSON_GetObjectItemCaseSensitive(j, ctx_keys[k])) {
            v[k] = k == 9 ? 1.0 : 0.0; /* reward (default 1) and real_rows (0) are optional */
            continue;
        }
        SL_TRY(get_num(j, ctx_keys[k], where, &v[k]));
    }
    r->ctx.current_mpl = v[0];
    r->ctx.current_error = v[1];
    r->ctx.current_ep = v[2];
    r->ctx.baseline_mpl = v[3];
    r->ctx.baseline_error = v[4];
    r->ctx.baseline_ep = v[5];
    r->ctx.training_progress = v[6];
    r->ctx.max_synth_share = v[7];
    r->share = v[8];
    r->reward = v[9];
    r->ctx.real_rows = v[10];
    if (v[10] < 0.0)
        return sl_set_error(SL_ERR_RANGE, "%s: key \"real_rows\" = %g < 0", where, v[10]);
    if (!(v[7] > 0.0 && v[7] < 1.0))
        return sl_set_error(SL_ERR_RANGE, "%s: key \"max_synth_share\" = %g outside (0,1)",
                            where, v[7]);
    if (v[8] < 0.0 || v[8] > 1.0)
        return sl_set_error(SL_ERR_RANGE, "%s: key \"share\" = %g outside [0,1]", where, v[8]);
    if (v[9] < 0.0) return sl_set_error(SL_ERR_RANGE, "%s: key \"reward\" = %g < 0", where, v[9]);
    return SL_OK;
}

static sl_status grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SL_OK;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return sl_set_error(SL_ERR_NOMEM, "records: %zu", nc);
    *p = q;
    *cap = nc;
    return SL_OK;
}

sl_status sl_weight_records_read(const char *path, sl_econ_record **econ, size_t *n_econ,
                                 sl_lambda_record **lam, size_t *n_lam) {
    char *buf;
    size_t len;
    SL_TRY(sl_read_file(path, &buf, &len));
    sl_econ_record *E = NULL;
    sl_lambda_record *L = NULL;
    size_t ne = 0, nl = 0, ce = 0, cl = 0, lineno = 0;
    sl_status st = SL_OK;
    char *p = buf;
    while (st == SL_OK && p < buf + len) {
        char *nlp = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = nlp ? nlp : buf + len;
        *end = 0;
        lineno++;
        char *q = p;
        p = end + 1;
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        if (!*q) continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%zu", path, lineno);
        cJSON *j = cJSON_Parse(q);
        if (!j) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: not valid JSON", where);
            break;
        }
        const char *type = sl_json_str(j, "type", "");
        if (strcmp(type, "econ_outcome") == 0 && econ) {
            st = grow((void **)&E, &ce, ne + 1, sizeof *E);
            if (st == SL_OK) st = parse_econ(j, where, &E[ne]);
            if (st == SL_OK) ne++;
        } else if (strcmp(type, "lambda_outcome") == 0 && lam) {
            st = grow((void **)&L, &cl, nl + 1, sizeof *L);
            if (st == SL_OK) st = parse_lambda(j, where, &L[nl]);
            if (st == SL_OK) nl++;
        }
        cJSON_Delete(j);
    }
    free(buf);
    if (st != SL_OK) {
        free(E);
        free(L);
        return st;
    }
    if (econ) {
        *econ = ne ? E : NULL;
        *n_econ = ne;
        if (!ne) free(E);
    }
    if (lam) {
        *lam = nl ? L : NULL;
        *n_lam = nl;
        if (!nl) free(L);
    }
    return SL_OK;
}
