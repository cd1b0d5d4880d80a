/* SPDX-License-Identifier: Apache-2.0 */
/* table.c - typed record tables: schema files, CSV in and out, copies.
 *
 * Invariant: a table's categorical codes are always valid indices into its column's label
 * list, and numeric/date cells are finite; every reader checks this before returning.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen_internal.h"
#include "synthloop/sl_json.h"

static const char *const type_names[SL_GEN_TYPE_COUNT] = {"numeric", "categorical", "date"};
_Static_assert(sizeof type_names / sizeof type_names[0] == SL_GEN_TYPE_COUNT, "type names");

const char *sl_gen_type_name(sl_gen_type t) {
    return (unsigned)t < SL_GEN_TYPE_COUNT ? type_names[t] : NULL;
}

static sl_status type_parse(const char *s, sl_gen_type *out) {
    for (int i = 0; i < SL_GEN_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (sl_gen_type)i;
            return SL_OK;
        }
    return SL_ERR_ARG;
}

/* --- columns --------------------------------------------------------------- */

static void column_clear(sl_gen_column *c) {
    free(c->name);
    free(c->role);
    for (size_t k = 0; k < c->n_cats; k++) free(c->cats[k]);
    free(c->cats);
    memset(c, 0, sizeof *c);
}

sl_status sl_gen_column_copy(sl_gen_column *dst, const sl_gen_column *src) {
    *dst = *src;
    dst->name = strdup(src->name);
    dst->role = strdup(src->role ? src->role : "");
    dst->cats = src->n_cats ? calloc(src->n_cats, sizeof(char *)) : NULL;
    int ok = dst->name && dst->role && (!src->n_cats || dst->cats);
    for (size_t k = 0; ok && k < src->n_cats; k++) ok = (dst->cats[k] = strdup(src->cats[k])) != NULL;
    if (!ok) {
        dst->n_cats = dst->cats ? src->n_cats : 0;
        column_clear(dst);
        return sl_set_error(SL_ERR_NOMEM, "gen table: out of memory copying a column");
    }
    return SL_OK;
}

/* Append label s to c (no duplicate check); its code is the old n_cats. */
static sl_status column_add_cat(sl_gen_column *c, const char *s) {
    char **nc = realloc(c->cats, (c->n_cats + 1) * sizeof *nc);
    if (!nc) return sl_set_error(SL_ERR_NOMEM, "gen table: out of memory");
    c->cats = nc;
    if (!(c->cats[c->n_cats] = strdup(s))) return sl_set_error(SL_ERR_NOMEM, "gen table: oom");
    c->n_cats++;
    return SL_OK;
}

long sl_gen_find_cat(const sl_gen_column *c, const char *s) {
    for (size_t k = 0; k < c->n_cats; k++)
        if (strcmp(c->cats[k], s) == 0) return (long)k;
    return -1;
}

void sl_gen_table_free(sl_gen_table *t) {
    if (!t) return;
    for (size_t c = 0; c < t->n_cols; c++) column_clear(&t->cols[c]);
    free(t->cols);
    free(t->data);
    free(t);
}

sl_status sl_gen_table_alloc_like(const sl_gen_table *like, size_t n_rows, sl_gen_table **out) {
    *out = NULL;
    sl_gen_table *t = calloc(1, sizeof *t);
    size_t cells;
    if (!t) return sl_set_error(SL_ERR_NOMEM, "gen table: out of memory");
    if (sl_mul_size(like->n_cols, n_rows, &cells) != SL_OK) {
        free(t);
        return sl_set_error(SL_ERR_RANGE, "gen table: %zu x %zu cells overflow", n_rows,
                            like->n_cols);
    }
    t->cols = calloc(like->n_cols ? like->n_cols : 1, sizeof *t->cols);
    t->data = calloc(cells ? cells : 1, sizeof *t->data);
    if (!t->cols || !t->data) {
        sl_gen_table_free(t);
        return sl_set_error(SL_ERR_NOMEM, "gen table: out of memory (%zu cells)", cells);
    }
    t->n_rows = n_rows;
    for (size_t c = 0; c < like->n_cols; c++) {
        sl_status st = sl_gen_column_copy(&t->cols[c], &like->cols[c]);
        if (st != SL_OK) {
            sl_gen_table_free(t);
            return st;
        }
        t->n_cols = c + 1;
    }
    *out = t;
    return SL_OK;
}

sl_status sl_gen_table_take(const sl_gen_table *t, const size_t *idx, size_t n,
                            sl_gen_table **out) {
    SL_TRY(sl_gen_table_alloc_like(t, n, out));
    for (size_t c = 0; c < t->n_cols; c++) {
        const double *src = sl_gen_col(t, c);
        double *dst = sl_gen_col(*out, c);
        for (size_t i = 0; i < n; i++) {
            SL_ASSERT(idx[i] < t->n_rows);
            dst[i] = src[idx[i]];
        }
    }
    return SL_OK;
}

/* --- dates ----------------------------------------------------------------- */

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static long days_from_civil(long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d) {
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = (long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* "YYYY-MM-DD" (a valid calendar date) -> days; 0 on success */
static int parse_date(const char *s, double *out) {
    int y, m, d, n = 0;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10) return -1;
    if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
    long z = days_from_civil(y, (unsigned)m, (unsigned)d);
    long yy;
    unsigned mm, dd;
    civil_from_days(z, &yy, &mm, &dd);
    if (yy != y || (int)mm != m || (int)dd != d) return -1; /* e.g. 2023-02-30 */
    *out = (double)z;
    return 0;
}

static int parse_number(const char *s, double *out) {
    if (!*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* --- schema ---------------------------------------------------------------- */

sl_status sl_gen_schema_read(const char *path, sl_gen_table **out) {
    *out = NULL;
    cJSON *j = NULL;
    SL_TRY(sl_json_read_file(path, &j));
    sl_status st = SL_OK;
    sl_gen_table *t = calloc(1, sizeof *t);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    int n = cJSON_IsArray(cols) ? cJSON_GetArraySize(cols) : 0;
    if (!t) {
        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (n < 1) {
        st = sl_set_error(SL_ERR_FORMAT, "%s: schema needs a non-empty \"columns\" array", path);
        goto done;
    }
    t->cols = calloc((size_t)n, sizeof *t->cols);
    t->data = calloc(1, sizeof *t->data);
    if (!t->cols || !t->data) {
        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n && st == SL_OK; i++) {
        const cJSON *c = cJSON_GetArrayItem(cols, i);
        sl_gen_column *col = &t->cols[i];
        t->n_cols = (size_t)i + 1;
        const char *name = sl_json_str(c, "name", NULL), *type = sl_json_str(c, "type", NULL);
        if (!name || !*name) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: column %d has no \"name\"", path, i);
            break;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(t->cols[k].name, name) == 0) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: duplicate column \"%s\"", path, name);
                break;
            }
        if (st != SL_OK) break;
        col->name = strdup(name);
        col->role = strdup(sl_json_str(c, "role", ""));
        if (!col->name || !col->role) {
            st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        if (!type || type_parse(type, &col->type) != SL_OK) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": \"type\" must be numeric, "
                              "categorical or date (got %s)", path, name, type ? type : "none");
            break;
        }
        col->integer = sl_json_bool(c, "integer", 0);
        col->declared = 1;
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(c, "min");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(c, "max");
        if (lo || hi) {
            double vlo = 0, vhi = 0;
            int okb = 1;
            if (col->type == SL_GEN_DATE && cJSON_IsString(lo) && cJSON_IsString(hi))
                okb = !parse_date(lo->valuestring, &vlo) && !parse_date(hi->valuestring, &vhi);
            else if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
                vlo = lo->valuedouble, vhi = hi->valuedouble;
            else
                okb = 0;
            if (!okb || !(vlo < vhi) || col->type == SL_GEN_CATEGORICAL) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": \"min\" and \"max\" must "
                                  "both be given, numbers (dates as YYYY-MM-DD) with min < max, "
                                  "on a numeric or date column", path, name);
                break;
            }
            col->has_bounds = 1, col->lo = vlo, col->hi = vhi;
        }
        const cJSON *cats = cJSON_GetObjectItemCaseSensitive(c, "categories");
        if (cats) {
            int nc = cJSON_IsArray(cats) ? cJSON_GetArraySize(cats) : 0;
            if (col->type != SL_GEN_CATEGORICAL || nc < 1) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": \"categories\" must be a "
                                  "non-empty array on a categorical column", path, name);
                break;
            }
            for (int k = 0; k < nc && st == SL_OK; k++) {
                const cJSON *e = cJSON_GetArrayItem(cats, k);
                if (!cJSON_IsString(e) || sl_gen_find_cat(col, e->valuestring) >= 0)
                    st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\": categories must be "
                                      "distinct strings", path, name);
                else
                    st = column_add_cat(col, e->valuestring);
            }
            col->cats_public = 1;
        }
    }
done:
    cJSON_Delete(j);
    if (st != SL_OK) {
        sl_gen_table_free(t);
        return st;
    }
    *out = t;
    return SL_OK;
}

cJSON *sl_gen_table_schema_json(const sl_gen_table *t) {
    cJSON *j = cJSON_CreateObject(), *cols = cJSON_AddArrayToObject(j, "columns");
    for (size_t c = 0; c < t->n_cols; c++) {
        const sl_gen_column *col = &t->cols[c];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", col->name);
        cJSON_AddStringToObject(o, "role", col->role ? col->role : "");
        cJSON_AddStringToObject(o, "type", sl_gen_type_name(col->type));
        if (col->type == SL_GEN_CATEGORICAL) {
            cJSON *a = cJSON_AddArrayToObject(o, "categories");
            for (size_t k = 0; k < col->n_cats; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString(col->cats[k]));
            cJSON_AddBoolToObject(o, "categories_public", col->cats_public);
        }
        if (col->integer) cJSON_AddBoolToObject(o, "integer", 1);
        if (col->has_bounds) {
            cJSON_AddNumberToObject(o, "min", col->lo);
            cJSON_AddNumberToObject(o, "max", col->hi);
        }
        cJSON_AddItemToArray(cols, o);
    }
    return j;
}

/* Rebuild a zero-row table from sl_gen_table_schema_json's output (used by sl_gen_load). */
sl_status sl_gen_schema_from_json(const cJSON *j, const char *what, sl_gen_table **out) {
    *out = NULL;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    int n = cJSON_IsArray(cols) ? cJSON_GetArraySize(cols) : 0;
    if (n < 1) return sl_set_error(SL_ERR_FORMAT, "%s: no columns in the stored schema", what);
    sl_gen_table *t = calloc(1, sizeof *t);
    if (!t || !(t->cols = calloc((size_t)n, sizeof *t->cols)) ||
        !(t->data = calloc(1, sizeof *t->data))) {
        sl_gen_table_free(t);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    sl_status st = SL_OK;
    for (int i = 0; i < n && st == SL_OK; i++) {
        const cJSON *c = cJSON_GetArrayItem(cols, i);
        sl_gen_column *col = &t->cols[i];
        t->n_cols = (size_t)i + 1;
        const char *name = sl_json_str(c, "name", NULL), *type = sl_json_str(c, "type", "");
        col->name = name ? strdup(name) : NULL;
        col->role = strdup(sl_json_str(c, "role", ""));
        if (!col->name || !col->role || type_parse(type, &col->type) != SL_OK) {
            st = sl_set_error(SL_ERR_FORMAT, "%s: stored column %d is malformed", what, i);
            break;
        }
        col->integer = sl_json_bool(c, "integer", 0);
        col->cats_public = sl_json_bool(c, "categories_public", 0);
        if (cJSON_GetObjectItemCaseSensitive(c, "min")) {
            col->has_bounds = 1;
            col->lo = sl_json_num(c, "min", 0);
            col->hi = sl_json_num(c, "max", 0);
        }
        const cJSON *cats = cJSON_GetObjectItemCaseSensitive(c, "categories");
        for (int k = 0; st == SL_OK && k < cJSON_GetArraySize(cats); k++) {
            const cJSON *e = cJSON_GetArrayItem(cats, k);
            st = cJSON_IsString(e) ? column_add_cat(col, e->valuestring)
                                   : sl_set_error(SL_ERR_FORMAT, "%s: bad category", what);
        }
        if (st == SL_OK && col->type == SL_GEN_CATEGORICAL && col->n_cats == 0)
            st = sl_set_error(SL_ERR_FORMAT, "%s: categorical column %s has no labels", what,
                              col->name);
    }
    if (st != SL_OK) {
        sl_gen_table_free(t);
        return st;
    }
    *out = t;
    return SL_OK;
}

/* --- CSV reading ------------------------------------------------------------ */

typedef struct csv_rows {
    char ***rows;   /* [n][ncols] owned strings */
    size_t n, cap, ncols;
} csv_rows;

static void csv_free(csv_rows *r) {
    for (size_t i = 0; i < r->n; i++) {
        for (size_t c = 0; c < r->ncols; c++) free(r->rows[i][c]);
        free(r->rows[i]);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Split the text into records of fields (RFC 4180 quoting; CR LF or LF; '#' lines skipped when
 * outside quotes at the start of a record). Every record must have the header's field count. */
static sl_status csv_parse(const char *path, const char *s, csv_rows *out) {
    memset(out, 0, sizeof *out);
    size_t line = 1;
    char *field = NULL;
    size_t flen = 0, fcap = 0;
    char **rec = NULL;
    size_t nrec = 0, rcap = 0;
    sl_status st = SL_OK;
    while (*s && st == SL_OK) {
        if (*s == '#' ) { /* comment line */
            while (*s && *s != '\n') s++;
            if (*s) s++, line++;
            continue;
        }
        if (*s == '\n' || (*s == '\r' && s[1] == '\n')) { /* blank line */
            s += *s == '\r' ? 2 : 1;
            line++;
            continue;
        }
        /* one record */
        nrec = 0;
        for (;;) {
            flen = 0;
            int quoted = 0;
            if (*s == '"') {
                quoted = 1;
                s++;
            }
            for (;;) {
                char ch = *s;
                if (quoted) {
                    if (!ch) {
                        st = sl_set_error(SL_ERR_FORMAT, "%s:%zu: unterminated quote", path, line);
                        break;
                    }
                    if (ch == '"') {
                        if (s[1] == '"') {
                            s += 2;
                            ch = '"';
                        } else {
                            s++;
                            quoted = 0;
                            continue;
                        }
                    } else {
                        if (ch == '\n') line++;
                        s++;
                    }
                } else {
                    if (!ch || ch == ',' || ch == '\n' || (ch == '\r' && s[1] == '\n')) break;
                    s++;
                }
                if (flen + 2 > fcap) {
                    size_t nc = fcap ? 2 * fcap : 64;
                    char *nf = realloc(field, nc);
                    if (!nf) {
                        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
                        break;
                    }
                    field = nf, fcap = nc;
                }
                field[flen++] = ch;
            }
            if (st != SL_OK) break;
            if (nrec + 1 > rcap) {
                size_t nc = rcap ? 2 * rcap : 16;
                char **nr = realloc(rec, nc * sizeof *nr);
                if (!nr) {
                    st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                rec = nr, rcap = nc;
            }
            if (!(rec[nrec] = malloc(flen + 1))) {
                st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            if (flen) memcpy(rec[nrec], field, flen);
            rec[nrec++][flen] = 0;
            if (*s == ',') {
                s++;
                continue;
            }
            break;
        }
        if (st == SL_OK) {
            if (out->n == 0) out->ncols = nrec;
            if (nrec != out->ncols) {
                st = sl_set_error(SL_ERR_FORMAT, "%s:%zu: %zu fields, the header has %zu", path,
                                  line, nrec, out->ncols);
            } else {
                if (out->n == out->cap) {
                    size_t nc = out->cap ? 2 * out->cap : 256;
                    char ***nr = realloc(out->rows, nc * sizeof *nr);
                    if (!nr) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
                    else out->rows = nr, out->cap = nc;
                }
                if (st == SL_OK) {
                    char **r = malloc(nrec * sizeof *r);
                    if (!r) {
                        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
                    } else {
                        memcpy(r, rec, nrec * sizeof *r);
                        out->rows[out->n++] = r;
                        nrec = 0;
                    }
                }
            }
        }
        for (size_t k = 0; k < nrec; k++) free(rec[k]); /* only on failure */
        nrec = 0;
        if (st == SL_OK) {
            if (*s == '\r') s++;
            if (*s == '\n') s++, line++;
        }
    }
    free(field);
    free(rec);
    if (st != SL_OK) csv_free(out);
    return st;
}

sl_status sl_gen_table_read_csv(const char *path, const sl_gen_table *schema,
                                sl_gen_table **out) {
    *out = NULL;
    char *text = NULL;
    size_t len;
    SL_TRY(sl_read_file(path, &text, &len));
    sl_status st = sl_gen_table_read_csv_buffer(text, len, path, schema, out);
    free(text);
    return st;
}

sl_status sl_gen_table_read_csv_buffer(const char *buf, size_t len, const char *path,
                                       const sl_gen_table *schema, sl_gen_table **out) {
    *out = NULL;
    if (memchr(buf, 0, len)) return sl_set_error(SL_ERR_FORMAT, "%s: NUL byte in a CSV file", path);
    char *text = malloc(len + 1);
    if (!text) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(text, buf, len);
    text[len] = 0;
    csv_rows r;
    sl_status st = csv_parse(path, text, &r);
    free(text);
    if (st != SL_OK) return st;
    sl_gen_table *t = NULL;
    size_t *map = NULL; /* map[table col] = csv field */
    size_t nrows = r.n ? r.n - 1 : 0, ncols = r.ncols;
    if (r.n == 0) {
        st = sl_set_error(SL_ERR_FORMAT, "%s: empty file (no header)", path);
        goto done;
    }
    if (nrows < 2) {
        st = sl_set_error(SL_ERR_ARG, "%s: %zu data row%s; a table needs at least 2", path, nrows,
                          nrows == 1 ? "" : "s");
        goto done;
    }
    for (size_t c = 0; c < ncols; c++)
        for (size_t k = 0; k < c; k++)
            if (strcmp(r.rows[0][c], r.rows[0][k]) == 0) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: duplicate header \"%s\"", path, r.rows[0][c]);
                goto done;
            }
    map = calloc(ncols ? ncols : 1, sizeof *map);
    if (!map) {
        st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (schema) {
        if (schema->n_cols != ncols) {
            st = sl_set_error(SL_ERR_SHAPE, "%s: %zu columns but the schema has %zu", path, ncols,
                              schema->n_cols);
            goto done;
        }
        for (size_t c = 0; c < ncols; c++) {
            size_t f = ncols;
            for (size_t k = 0; k < ncols; k++)
                if (strcmp(r.rows[0][k], schema->cols[c].name) == 0) f = k;
            if (f == ncols) {
                st = sl_set_error(SL_ERR_SHAPE, "%s: schema column \"%s\" is not in the header",
                                  path, schema->cols[c].name);
                goto done;
            }
            map[c] = f;
        }
        if ((st = sl_gen_table_alloc_like(schema, nrows, &t)) != SL_OK) goto done;
    } else {
        sl_gen_table proto = {0};
        proto.n_cols = ncols;
        proto.cols = calloc(ncols, sizeof *proto.cols);
        if (!proto.cols) {
            st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t c = 0; c < ncols; c++) {
            double v;
            int num = 1, date = 1;
            for (size_t i = 1; i < r.n && (num || date); i++) {
                if (num && parse_number(r.rows[i][c], &v)) num = 0;
                if (date && parse_date(r.rows[i][c], &v)) date = 0;
            }
            proto.cols[c].name = r.rows[0][c];
            proto.cols[c].role = (char *)"";
            proto.cols[c].type = num ? SL_GEN_NUMERIC : date ? SL_GEN_DATE : SL_GEN_CATEGORICAL;
            map[c] = c;
        }
        st = sl_gen_table_alloc_like(&proto, nrows, &t);
        free(proto.cols);
        if (st != SL_OK) goto done;
    }
    for (size_t c = 0; c < ncols && st == SL_OK; c++) {
        sl_gen_column *col = &t->cols[c];
        double *d = sl_gen_col(t, c);
        int all_int = 1;
        for (size_t i = 0; i < nrows && st == SL_OK; i++) {
            const char *cell = r.rows[i + 1][map[c]];
            size_t line_no = i + 2; /* 1-based, header is row 1 (comments not counted) */
            if (!*cell) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: data row %zu, column \"%s\": empty cell "
                                  "(missing values are not supported)", path, line_no - 1,
                                  col->name);
                break;
            }
            if (col->type == SL_GEN_CATEGORICAL) {
                long k = sl_gen_find_cat(col, cell);
                if (k < 0) {
                    if (col->cats_public) {
                        st = sl_set_error(SL_ERR_FORMAT, "%s: data row %zu, column \"%s\": "
                                          "\"%s\" is not one of the schema's categories", path,
                                          line_no - 1, col->name, cell);
                        break;
                    }
                    if ((st = column_add_cat(col, cell)) != SL_OK) break;
                    k = (long)col->n_cats - 1;
                }
                d[i] = (double)k;
                continue;
            }
            int bad = col->type == SL_GEN_DATE ? parse_date(cell, &d[i])
                                               : parse_number(cell, &d[i]);
            if (bad) {
                st = sl_set_error(SL_ERR_FORMAT, "%s: data row %zu, column \"%s\": \"%s\" is not "
                                  "a %s (type mismatch)", path, line_no - 1, col->name, cell,
                                  col->type == SL_GEN_DATE ? "date (YYYY-MM-DD)" : "number");
                break;
            }
            if (col->has_bounds && (d[i] < col->lo || d[i] > col->hi)) {
                st = sl_set_error(SL_ERR_RANGE, "%s: data row %zu, column \"%s\": %s is outside "
                                  "the schema's bounds [%g, %g]", path, line_no - 1, col->name,
                                  cell, col->lo, col->hi);
                break;
            }
            if (d[i] != floor(d[i])) all_int = 0;
        }
        if (col->type == SL_GEN_NUMERIC && !col->declared) col->integer = all_int;
        if (col->type == SL_GEN_NUMERIC && col->declared && col->integer && !all_int &&
            st == SL_OK)
            st = sl_set_error(SL_ERR_FORMAT, "%s: column \"%s\" is declared integer but holds "
                              "fractions", path, col->name);
    }
done:
    free(map);
    csv_free(&r);
    if (st != SL_OK) {
        sl_gen_table_free(t);
        return st;
    }
    *out = t;
    return SL_OK;
}

/* --- CSV writing ------------------------------------------------------------ */

static void write_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r") && s[0] != '#') {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

sl_status sl_gen_table_write_csv(const char *path, const sl_gen_table *t, const char *comment) {
    if (comment && strpbrk(comment, "\r\n"))
        return sl_set_error(SL_ERR_ARG, "gen table: a CSV comment must be one line");
    sl_atomic_file f;
    SL_TRY(sl_atomic_open(&f, path));
    if (comment) fprintf(f.fp, "# %s\n", comment);
    for (size_t c = 0; c < t->n_cols; c++) {
        if (c) fputc(',', f.fp);
        write_field(f.fp, t->cols[c].name);
    }
    fputc('\n', f.fp);
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const sl_gen_column *col = &t->cols[c];
            double v = sl_gen_col(t, c)[i];
            if (c) fputc(',', f.fp);
            if (col->type == SL_GEN_CATEGORICAL) {
                write_field(f.fp, col->cats[(size_t)v]);
            } else if (col->type == SL_GEN_DATE) {
                long y;
                unsigned m, d;
                civil_from_days((long)floor(v + 0.5), &y, &m, &d);
                fprintf(f.fp, "%04ld-%02u-%02u", y, m, d);
            } else if (v == floor(v) && fabs(v) < 1e15) {
                fprintf(f.fp, "%.0f", v);
            } else {
                fprintf(f.fp, "%.17g", v);
            }
        }
        fputc('\n', f.fp);
    }
    if (ferror(f.fp)) {
        sl_atomic_abort(&f);
        return sl_set_error(SL_ERR_IO, "%s: write failed", path);
    }
    return sl_atomic_commit(&f);
}
