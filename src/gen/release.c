/* SPDX-License-Identifier: Apache-2.0 */
/* release.c - a synthetic table's release charged to the privacy ledger (genpriv, issue 16).
 *
 * Invariant (the privacy module's order, src/privacy/release.c): the CSV and the model file
 * appear under their final names only after the transaction holding the ledger charge and the
 * synthetic_jobs row has committed. Killed before the commit: at most temp files, no charge.
 * Killed after it: a 'pending' anonymization_logs row whose CSV temp sl_privacy_recover
 * renames into place (the model temp is left behind: over-charging is the safe direction).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen_internal.h"
#include "synthloop/sl_json.h"

void sl_gen_ledger_keys_free(sl_gen_ledger_keys *k) {
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) free(k->subject[i]);
    free(k->subject);
    free(k->rows);
    free(k->dataset);
    free(k->subject_column);
    memset(k, 0, sizeof *k);
}

static int is_subject(const sl_gen_column *c) { return c->role && strcmp(c->role, "subject") == 0; }

sl_status sl_gen_table_drop_subject(const sl_gen_table *t, sl_gen_table **out) {
    *out = NULL;
    sl_gen_table *r = calloc(1, sizeof *r);
    size_t keep = 0;
    for (size_t c = 0; c < t->n_cols; c++) keep += !is_subject(&t->cols[c]);
    if (r) {
        r->n_rows = t->n_rows;
        r->cols = calloc(keep ? keep : 1, sizeof *r->cols);
        size_t cells = keep * t->n_rows;
        r->data = malloc((cells ? cells : 1) * sizeof *r->data);
    }
    if (!r || !r->cols || !r->data) {
        sl_gen_table_free(r);
        return sl_set_error(SL_ERR_NOMEM, "gen: out of memory");
    }
    for (size_t c = 0; c < t->n_cols; c++) {
        if (is_subject(&t->cols[c])) continue;
        sl_status s = sl_gen_column_copy(&r->cols[r->n_cols], &t->cols[c]);
        if (s != SL_OK) {
            sl_gen_table_free(r);
            return s;
        }
        if (t->n_rows)
            memcpy(sl_gen_col(r, r->n_cols), sl_gen_col(t, c), t->n_rows * sizeof *r->data);
        r->n_cols++;
    }
    *out = r;
    return SL_OK;
}

/* The schema's "dataset", else the file name up to its first dot. */
static char *dataset_key(const char *schema_path, const char *data_path) {
    if (schema_path) {
        cJSON *j = NULL;
        if (sl_json_read_file(schema_path, &j) == SL_OK) {
            const char *d = sl_json_str(j, "dataset", NULL);
            char *r = d && *d ? strdup(d) : NULL;
            cJSON_Delete(j);
            if (r) return r;
        }
        sl_clear_error();
    }
    const char *p = schema_path ? schema_path : data_path ? data_path : "synthetic";
    const char *b = strrchr(p, '/');
    b = b ? b + 1 : p;
    size_t n = strcspn(b, ".");
    return strndup(b, n ? n : strlen(b));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sl_status sl_gen_ledger_keys_get(const sl_gen_table *data, const char *schema_path,
                                 const char *data_path, sl_gen_table **features,
                                 sl_gen_ledger_keys *k) {
    *features = NULL;
    memset(k, 0, sizeof *k);
    long sc = -1;
    for (size_t c = 0; c < data->n_cols; c++) {
        if (!is_subject(&data->cols[c])) continue;
        if (sc >= 0)
            return sl_set_error(SL_ERR_FORMAT, "%s: columns \"%s\" and \"%s\" both have role "
                                "\"subject\" (at most one)", schema_path ? schema_path : "schema",
                                data->cols[sc].name, data->cols[c].name);
        sc = (long)c;
    }
    k->dataset = dataset_key(schema_path, data_path);
    if (!k->dataset) return sl_set_error(SL_ERR_NOMEM, "gen: out of memory");
    sl_status s = SL_OK;
    if (sc >= 0) {
        const sl_gen_column *col = &data->cols[sc];
        const double *v = sl_gen_col(data, (size_t)sc);
        /* every row's subject as text (categorical labels, or numbers as %.17g) */
        char **lab = calloc(data->n_rows ? data->n_rows : 1, sizeof *lab);
        k->subject_column = strdup(col->name);
        if (!lab || !k->subject_column) s = sl_set_error(SL_ERR_NOMEM, "gen: out of memory");
        for (size_t i = 0; s == SL_OK && i < data->n_rows; i++) {
            char buf[64];
            if (col->type == SL_GEN_CATEGORICAL) {
                lab[i] = strdup(col->cats[(size_t)v[i]]);
            } else {
                snprintf(buf, sizeof buf, "%.17g", v[i]);
                lab[i] = strdup(buf);
            }
            if (!lab[i]) s = sl_set_error(SL_ERR_NOMEM, "gen: out of memory");
        }
        if (s == SL_OK) {
            qsort(lab, data->n_rows, sizeof *lab, cmp_str);
            k->subject = calloc(data->n_rows ? data->n_rows : 1, sizeof *k->subject);
            k->rows = calloc(data->n_rows ? data->n_rows : 1, sizeof *k->rows);
            if (!k->subject || !k->rows) s = sl_set_error(SL_ERR_NOMEM, "gen: out of memory");
        }
        for (size_t i = 0; s == SL_OK && i < data->n_rows; i++) {
            if (k->n && strcmp(k->subject[k->n - 1], lab[i]) == 0) {
                if (k->rows[k->n - 1] < UINT32_MAX) k->rows[k->n - 1]++;
                free(lab[i]);
            } else {
                k->subject[k->n] = lab[i];
                k->rows[k->n++] = 1;
            }
            lab[i] = NULL;
        }
        if (lab)
            for (size_t i = 0; i < data->n_rows; i++) free(lab[i]);
        free(lab);
    }
    if (s == SL_OK) s = sl_gen_table_drop_subject(data, features);
    if (s == SL_OK && (*features)->n_cols == 0) {
        sl_gen_table_free(*features);
        *features = NULL;
        s = sl_set_error(SL_ERR_FORMAT, "gen: the table has no column besides the subject");
    }
    if (s != SL_OK) sl_gen_ledger_keys_free(k);
    return s;
}

static int64_t now_or_clock(int64_t now) { return now > 0 ? now : (int64_t)time(NULL); }

static void fill_rel(sl_ledger_release *rel, const sl_gen_ledger_keys *k, double eps,
                     double delta, int64_t now) {
    memset(rel, 0, sizeof *rel);
    const char *actor = getenv("USER");
    rel->now = now_or_clock(now);
    rel->actor = actor && *actor ? actor : "unknown";
    rel->technique = "generate";
    rel->dataset = k->dataset;
    rel->epsilon = eps;
    rel->delta = delta;
    rel->formal = 1;
    rel->subjects = (const char *const *)k->subject;
    rel->subject_rows = k->rows; /* group privacy: m rows of a subject cost m * epsilon */
    rel->n_subjects = k->n;
}

sl_status sl_gen_ledger_precheck(void *ctx, double epsilon, double delta, const char *mechanism) {
    sl_gen_ledger_ctx *c = ctx;
    (void)mechanism;
    if (!c || !c->reg)
        return sl_set_error(SL_ERR_ARG, "generate: DP training charges the privacy ledger, "
                            "which needs a registry (not --db none)");
    if (!c->keys || !c->keys->dataset)
        return sl_set_error(SL_ERR_ARG, "generate: no dataset key for the privacy ledger");
    sl_budget_defaults d;
    if (!c->def) SL_TRY(sl_budget_defaults_from_env(&d));
    sl_ledger_release rel;
    fill_rel(&rel, c->keys, epsilon, delta, c->now);
    sl_status s = sl_ledger_check(c->reg, &rel, c->def ? c->def : &d);
    if (s != SL_OK)
        return sl_set_error(s, "generate: %s (epsilon %.6g, delta %.3g): nothing trained, "
                            "nothing charged", sl_last_error(), epsilon, delta);
    c->epsilon = epsilon;
    c->delta = delta;
    c->checked = 1;
    return SL_OK;
}

static void fsync_dir_of(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static sl_status abs_path(const char *p, char *out, size_t n) {
    if (p[0] == '/') {
        if ((size_t)snprintf(out, n, "%s", p) >= n) goto too_long;
        return SL_OK;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return sl_set_error(SL_ERR_IO, "generate: cannot read the working directory: %s",
                            strerror(errno));
    if ((size_t)snprintf(out, n, "%s/%s", cwd, p) >= n) goto too_long;
    return SL_OK;
too_long:
    return sl_set_error(SL_ERR_ARG, "generate: path too long: %s", p);
}

sl_status sl_gen_release(sl_registry *reg, const sl_gen_model *m, const sl_gen_table *syn,
                         const sl_gen_release_opts *o, const sl_synthetic_job_row *job,
                         sl_gen_release_result *res) {
    memset(res, 0, sizeof *res);
    const sl_dp_spent *dp = sl_gen_model_dp(m);
    int charge = o->charge && dp->has_dp;
    if (charge && !reg)
        return sl_set_error(SL_ERR_ARG, "generate: a DP fit must be charged to the privacy "
                            "ledger, which needs a registry (not --db none)");
    if (charge && (!o->keys || !o->keys->dataset))
        return sl_set_error(SL_ERR_ARG, "generate: no dataset key for the privacy ledger");
    if (o->released && (!o->out_path || !*o->out_path))
        return sl_set_error(SL_ERR_ARG, "generate: a release needs an output path");
    char out_abs[PATH_MAX], tmp[PATH_MAX + 32], mod_abs[PATH_MAX], mtmp[PATH_MAX + 32];
    char in_sha[65] = "";
    sl_status s = SL_OK;
    int wrote_csv = 0, wrote_model = 0;
    if (o->released) {
        s = abs_path(o->out_path, out_abs, sizeof out_abs);
        if (s == SL_OK && o->model_path) s = abs_path(o->model_path, mod_abs, sizeof mod_abs);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_abs, (long)getpid());
        snprintf(mtmp, sizeof mtmp, "%s.tmp.%ld", o->model_path ? mod_abs : "", (long)getpid());
        char line[256];
        sl_gen_dp_line(line, sizeof line, sl_gen_model_method(m), dp);
        if (s == SL_OK) s = sl_gen_table_write_csv(tmp, syn, line);
        wrote_csv = s == SL_OK;
        if (s == SL_OK && o->model_path) {
            s = sl_gen_save(m, mtmp);
            wrote_model = s == SL_OK;
        }
        if (s == SL_OK) s = sl_sha256_file(tmp, res->out_sha256);
    }
    if (s == SL_OK && charge && o->input_path) s = sl_sha256_file(o->input_path, in_sha);
    sl_budget_defaults d;
    if (s == SL_OK && charge && !o->def) s = sl_budget_defaults_from_env(&d);
    sl_synthetic_job_row row = *job;
    row.released = o->released;
    row.out_path = o->released ? out_abs : NULL;
    if (s == SL_OK) {
        sl_ledger_release rel;
        char *params = NULL;
        if (charge) {
            fill_rel(&rel, o->keys, dp->epsilon, dp->delta, o->now);
            if (o->actor) rel.actor = o->actor;
            rel.run_id = o->run_id;
            rel.input_path = o->input_path;
            rel.input_sha256 = o->input_path ? in_sha : NULL;
            rel.output_path = o->released ? out_abs : NULL;
            rel.output_sha256 = o->released ? res->out_sha256 : NULL;
            rel.tmp_path = o->released ? tmp : NULL;
            rel.n_rows = o->released ? (int64_t)syn->n_rows : 0;
            cJSON *pj = sl_gen_dp_json(dp);
            if (pj) {
                cJSON_AddStringToObject(pj, "method", sl_gen_method_name(sl_gen_model_method(m)));
                if (o->keys->subject_column)
                    cJSON_AddStringToObject(pj, "subject_column", o->keys->subject_column);
                cJSON_AddBoolToObject(pj, "released", o->released);
                if (o->released && o->model_path) cJSON_AddStringToObject(pj, "model_path", mod_abs);
                params = cJSON_PrintUnformatted(pj);
                cJSON_Delete(pj);
            }
            rel.params_json = params;
        }
        s = sl_registry_gen_release(reg, o->run_id, charge ? &rel : NULL, o->def ? o->def : &d,
                                    charge && !o->released ? "logged" : NULL, &row,
                                    &res->log_id, &res->job_id);
        free(params);
        if (s == SL_ERR_RANGE)
            s = sl_set_error(s, "generate: %s: nothing written, nothing charged", sl_last_error());
    }
    if (s == SL_OK && charge) {
        res->epsilon_charged = dp->epsilon;
        res->max_subject_epsilon = dp->epsilon;
        for (size_t i = 0; i < o->keys->n; i++)
            if ((double)o->keys->rows[i] * dp->epsilon > res->max_subject_epsilon)
                res->max_subject_epsilon = (double)o->keys->rows[i] * dp->epsilon;
    }
    if (s == SL_OK && charge && o->after_charge) o->after_charge(o->hook_ctx);
    if (s != SL_OK) {
        if (wrote_csv) unlink(tmp);
        if (wrote_model) unlink(mtmp);
        return s;
    }
    if (!o->released) return SL_OK;
    /* committed: place the model first, then the CSV (the file recovery knows about) */
    if (wrote_model && rename(mtmp, mod_abs) != 0) {
        int e = errno;
        unlink(mtmp);
        unlink(tmp);
        if (res->log_id) sl_ledger_set_status(reg, res->log_id, "orphaned");
        return sl_set_error(SL_ERR_IO, "%s: rename failed after the release was recorded: %s",
                            o->model_path, strerror(e));
    }
    if (rename(tmp, out_abs) != 0) {
        int e = errno;
        unlink(tmp);
        if (res->log_id) sl_ledger_set_status(reg, res->log_id, "orphaned");
        return sl_set_error(SL_ERR_IO, "%s: rename failed after the release was recorded: %s",
                            o->out_path, strerror(e));
    }
    fsync_dir_of(out_abs);
    if (res->log_id) SL_TRY(sl_ledger_set_status(reg, res->log_id, "placed"));
    return SL_OK;
}
