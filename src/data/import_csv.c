/* SPDX-License-Identifier: Apache-2.0 */
/* import_csv.c - CSV with a header row -> sl_dataset (column convention in docs/IMPORT.md).
 *
 * Key invariant: the parser only ever reads buf[0..len) (it is a fuzz target), and every
 * rejected input names the source, the line (1-based) and, for cell errors, the column (1-based)
 * and its header name. Cells are plain numbers (strtod syntax, C locale); there is no quoting.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/import_internal.h"

typedef enum col_role {
    COL_OBS,
    COL_NEXT,
    COL_ACT,
    COL_REWARD,
    COL_TERMINAL,
    COL_TIMEOUT,
    COL_EPISODE,
    COL_TIMESTEP,
    COL_EPC,
    COL_STEP,
    COL_ROLE_COUNT
} col_role;

typedef struct csv_col {
    col_role role;
    int index; /* obs/next/act index, or step/epc slot */
    char name[SL_DATASET_NAME_MAX + 32];
} csv_col;

#define CSV_MAX_CELL 128
#define CSV_MAX_INDEX 1000000

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Trim [*s, *e) of blanks. */
static void trim(const char **s, const char **e) {
    while (*s < *e && is_blank(**s)) (*s)++;
    while (*e > *s && is_blank((*e)[-1])) (*e)--;
}

static int valid_col_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > SL_DATASET_NAME_MAX - 1) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Parse "<digits>" without sign or leading zeros; -1 if not an index. */
static int parse_index(const char *s) {
    if (!*s || (s[0] == '0' && s[1])) return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v >= CSV_MAX_INDEX) return -1;
    }
    return (int)v;
}

static int has_prefix(const char *s, const char *p) { return *p && strncmp(s, p, strlen(p)) == 0; }

typedef struct csv_ctx {
    const char *what;
    const sl_import_options *o;
    size_t ncol;
    csv_col *cols;
    int obs_dim, next_dim, act_dim;
    int have_next, have_term, have_tout, have_ep;
    size_t header_line;
} csv_ctx;

/* --- header -------------------------------------------------------------- */

static sl_status header_column(csv_ctx *c, csv_col *col, size_t ci, sl_imp_raw *raw,
                               unsigned char *seen_obs, unsigned char *seen_next,
                               unsigned char *seen_act) {
    const sl_import_options *o = c->o;
    const char *nm = col->name;
    size_t line = c->header_line;
    if (strcmp(nm, o->reward_col) == 0) col->role = COL_REWARD;
    else if (strcmp(nm, o->terminal_col) == 0) col->role = COL_TERMINAL, c->have_term = 1;
    else if (strcmp(nm, o->timeout_col) == 0) col->role = COL_TIMEOUT, c->have_tout = 1;
    else if (strcmp(nm, o->episode_col) == 0) col->role = COL_EPISODE, c->have_ep = 1;
    else if (strcmp(nm, o->timestep_col) == 0) col->role = COL_TIMESTEP;
    else {
        /* prefixes, longest first so that e.g. "next_obs_" wins over "obs_" */
        const char *pre[3] = {o->next_obs_prefix, o->obs_prefix, o->act_prefix};
        col_role roles[3] = {COL_NEXT, COL_OBS, COL_ACT};
        unsigned char *seen[3] = {seen_next, seen_obs, seen_act};
        int order[3] = {0, 1, 2};
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (strlen(pre[order[b]]) > strlen(pre[order[a]])) {
                    int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        for (int k = 0; k < 3; k++) {
            int r = order[k];
            if (!has_prefix(nm, pre[r])) continue;
            int idx = parse_index(nm + strlen(pre[r]));
            if (idx < 0)
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: line %zu, column %zu ('%s'): a column starting with '%s' "
                                    "must be '%s<index>' with index 0, 1, 2, ...",
                                    c->what, line, ci + 1, nm, pre[r], pre[r]);
            if ((size_t)idx >= c->ncol)
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: line %zu, column %zu ('%s'): index %d leaves gaps: the "
                                    "header has only %zu columns",
                                    c->what, line, ci + 1, nm, idx, c->ncol);
            if (seen[r][idx])
                return sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu: duplicate column '%s'",
                                    c->what, line, ci + 1, nm);
            seen[r][idx] = 1;
            col->role = roles[r];
            col->index = idx;
            int *dim = r == 0 ? &c->next_dim : r == 1 ? &c->obs_dim : &c->act_dim;
            if (idx + 1 > *dim) *dim = idx + 1;
            if (r == 0) c->have_next = 1;
            return SL_OK;
        }
        if (has_prefix(nm, o->ep_prefix)) {
            const char *base = nm + strlen(o->ep_prefix);
            if (!valid_col_name(base))
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: line %zu, column %zu ('%s'): episode column name must be "
                                    "'%s' + [A-Za-z0-9_]{1,%d}",
                                    c->what, line, ci + 1, nm, o->ep_prefix,
                                    SL_DATASET_NAME_MAX - 1);
            for (int k = 0; k < raw->n_epc; k++)
                if (strcmp(raw->epc_name[k], base) == 0)
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: line %zu, column %zu: duplicate column '%s'", c->what,
                                        line, ci + 1, nm);
            if (raw->n_epc >= SL_DATASET_MAX_COLS)
                return sl_set_error(SL_ERR_RANGE, "%s: line %zu: more than %d episode columns",
                                    c->what, line, SL_DATASET_MAX_COLS);
            col->role = COL_EPC;
            col->index = raw->n_epc;
            snprintf(raw->epc_name[raw->n_epc++], SL_DATASET_NAME_MAX, "%s", base);
            return SL_OK;
        }
        if (!valid_col_name(nm))
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: line %zu, column %zu ('%.60s'): column names must be "
                                "[A-Za-z0-9_]{1,%d}",
                                c->what, line, ci + 1, nm, SL_DATASET_NAME_MAX - 1);
        for (int k = 0; k < raw->n_step; k++)
            if (strcmp(raw->step_name[k], nm) == 0)
                return sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu: duplicate column '%s'",
                                    c->what, line, ci + 1, nm);
        if (raw->n_step >= SL_DATASET_MAX_COLS)
            return sl_set_error(SL_ERR_RANGE, "%s: line %zu: more than %d extra step columns",
                                c->what, line, SL_DATASET_MAX_COLS);
        col->role = COL_STEP;
        col->index = raw->n_step;
        {
            /* length already checked against SL_DATASET_NAME_MAX - 1 above */
            size_t len = strlen(nm);
            if (len > SL_DATASET_NAME_MAX - 1) len = SL_DATASET_NAME_MAX - 1;
            memcpy(raw->step_name[raw->n_step], nm, len);
            raw->step_name[raw->n_step][len] = '\0';
            raw->n_step++;
        }
        return SL_OK;
    }
    /* exact names: reject duplicates */
    for (size_t k = 0; k < ci; k++)
        if (c->cols[k].role == col->role)
            return sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu: duplicate column '%s'",
                                c->what, line, ci + 1, nm);
    return SL_OK;
}

/* --- cells --------------------------------------------------------------- */

static sl_status cell_number(const csv_ctx *c, size_t line, size_t ci, const char *s,
                             const char *e, double *out) {
    const char *cn = c->cols[ci].name;
    size_t n = (size_t)(e - s);
    if (n == 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu ('%s'): empty cell", c->what,
                            line, ci + 1, cn);
    if (n >= CSV_MAX_CELL)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: line %zu, column %zu ('%s'): cell of %zu characters is not a "
                            "number",
                            c->what, line, ci + 1, cn, n);
    char tmp[CSV_MAX_CELL];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    col_role r = c->cols[ci].role;
    if (r == COL_TERMINAL || r == COL_TIMEOUT) {
        if (strcasecmp(tmp, "true") == 0) return *out = 1, SL_OK;
        if (strcasecmp(tmp, "false") == 0) return *out = 0, SL_OK;
    }
    char *end = NULL;
    double v = strtod(tmp, &end);
    if (end != tmp + n || isspace((unsigned char)tmp[0]))
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: line %zu, column %zu ('%s'): cannot parse '%s' as a number",
                            c->what, line, ci + 1, cn, tmp);
    if (isinf(v) && !strpbrk(tmp, "iI"))
        return sl_set_error(SL_ERR_RANGE,
                            "%s: line %zu, column %zu ('%s'): value '%s' is out of range",
                            c->what, line, ci + 1, cn, tmp);
    if (!isfinite(v))
        return sl_set_error(SL_ERR_NAN, "%s: line %zu, column %zu ('%s'): value '%s' is not finite",
                            c->what, line, ci + 1, cn, tmp);
    if (r == COL_TERMINAL || r == COL_TIMEOUT) {
        if (v != 0 && v != 1)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: line %zu, column %zu ('%s'): flag must be 0, 1, true or "
                                "false, got '%s'",
                                c->what, line, ci + 1, cn, tmp);
    } else if (r == COL_EPISODE) {
        if (v != floor(v) || fabs(v) > 9007199254740992.0)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: line %zu, column %zu ('%s'): episode id must be an integer, "
                                "got '%s'",
                                c->what, line, ci + 1, cn, tmp);
    } else if (r != COL_EPC && r != COL_TIMESTEP && fabs(v) > 3.4028234663852886e38) {
        return sl_set_error(SL_ERR_RANGE,
                            "%s: line %zu, column %zu ('%s'): value '%s' is outside float32 range",
                            c->what, line, ci + 1, cn, tmp);
    }
    *out = v;
    return SL_OK;
}

static sl_status store_cell(const csv_ctx *c, sl_imp_raw *raw, size_t row, size_t ci, double v) {
    const csv_col *col = &c->cols[ci];
    switch (col->role) {
    case COL_OBS: raw->obs[row * (size_t)c->obs_dim + (size_t)col->index] = (float)v; break;
    case COL_NEXT: raw->next_obs[row * (size_t)c->obs_dim + (size_t)col->index] = (float)v; break;
    case COL_ACT: raw->act[row * (size_t)c->act_dim + (size_t)col->index] = (float)v; break;
    case COL_REWARD: raw->rew[row] = (float)v; break;
    case COL_TERMINAL: raw->term[row] = v != 0; break;
    case COL_TIMEOUT: raw->tout[row] = v != 0; break;
    case COL_EPISODE: raw->epkey[row] = (int64_t)v; break;
    case COL_TIMESTEP: break;
    case COL_EPC: raw->epc[col->index][row] = v; break;
    case COL_STEP: raw->step[col->index][row] = (float)v; break;
    case COL_ROLE_COUNT: return sl_set_error(SL_ERR_INTERNAL, "csv: bad column role");
    }
    return SL_OK;
}

/* --- driver -------------------------------------------------------------- */

/* Next line [*ls, *le) starting at *p; advances *p past the newline. 0 at end of buffer. */
static int next_line(const char **p, const char *end, const char **ls, const char **le) {
    if (*p >= end) return 0;
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (e > s && e[-1] == '\r') e--;
    *ls = s;
    *le = e;
    return 1;
}

static int blank_line(const char *s, const char *e) {
    for (; s < e; s++)
        if (!is_blank(*s)) return 0;
    return 1;
}

static sl_status parse_csv(sl_imp_raw *raw, csv_ctx *c, const char *buf, size_t len) {
    const sl_import_options *o = c->o;
    const char *p = buf, *end = buf + len;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        p += 3;
    const char *ls, *le;
    size_t line = 0;
    int got_header = 0;
    while (next_line(&p, end, &ls, &le)) {
        line++;
        if (!blank_line(ls, le)) {
            got_header = 1;
            break;
        }
    }
    if (!got_header) return sl_set_error(SL_ERR_FORMAT, "%s: empty file (no header row)", c->what);
    c->header_line = line;
    size_t ncol = 1;
    for (const char *q = ls; q < le; q++) ncol += *q == o->delimiter;
    c->ncol = ncol;
    c->cols = calloc(ncol, sizeof *c->cols);
    unsigned char *seen = calloc(3 * ncol, 1);
    if (!c->cols || !seen) {
        free(seen);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu columns", c->what, ncol);
    }
    sl_status s = SL_OK;
    const char *cs = ls;
    for (size_t ci = 0; ci < ncol && s == SL_OK; ci++) {
        const char *ce = cs;
        while (ce < le && *ce != o->delimiter) ce++;
        const char *a = cs, *b = ce;
        trim(&a, &b);
        if (a == b)
            s = sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu: empty column name", c->what,
                             line, ci + 1);
        else if ((size_t)(b - a) >= sizeof c->cols[ci].name)
            s = sl_set_error(SL_ERR_FORMAT, "%s: line %zu, column %zu: column name of %zu chars is "
                             "too long", c->what, line, ci + 1, (size_t)(b - a));
        else {
            memcpy(c->cols[ci].name, a, (size_t)(b - a));
            s = header_column(c, &c->cols[ci], ci, raw, seen, seen + ncol, seen + 2 * ncol);
        }
        cs = ce + 1;
    }
    /* index sets must be exactly 0..dim-1 */
    const char *pre[3] = {o->obs_prefix, o->next_obs_prefix, o->act_prefix};
    int dims[3] = {c->obs_dim, c->next_dim, c->act_dim};
    unsigned char *sets[3] = {seen, seen + ncol, seen + 2 * ncol};
    for (int k = 0; k < 3 && s == SL_OK; k++)
        for (int i = 0; i < dims[k]; i++)
            if (!sets[k][i]) {
                s = sl_set_error(SL_ERR_FORMAT, "%s: line %zu: column '%s%d' is missing (have up "
                                 "to '%s%d')", c->what, line, pre[k], i, pre[k], dims[k] - 1);
                break;
            }
    free(seen);
    if (s != SL_OK) return s;
    if (c->obs_dim == 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: line %zu: no observation columns ('%s0', ...)",
                            c->what, line, o->obs_prefix);
    if (c->act_dim == 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: line %zu: no action columns ('%s0', ...)", c->what,
                            line, o->act_prefix);
    int have_rew = 0;
    for (size_t ci = 0; ci < ncol; ci++) have_rew |= c->cols[ci].role == COL_REWARD;
    if (!have_rew)
        return sl_set_error(SL_ERR_FORMAT, "%s: line %zu: no '%s' column", c->what, line,
                            o->reward_col);
    if (c->have_next && c->next_dim != c->obs_dim)
        return sl_set_error(SL_ERR_FORMAT, "%s: line %zu: %d '%s' columns but %d '%s' columns",
                            c->what, line, c->next_dim, o->next_obs_prefix, c->obs_dim,
                            o->obs_prefix);

    /* rows: at most one per remaining newline (+1 for a last line without one) */
    size_t cap = 1;
    for (const char *q = p; q < end; q++) cap += *q == '\n';
    raw->obs_dim = c->obs_dim;
    raw->act_dim = c->act_dim;
    raw->obs = malloc(cap * (size_t)c->obs_dim * sizeof(float));
    raw->next_obs = c->have_next ? malloc(cap * (size_t)c->obs_dim * sizeof(float)) : NULL;
    raw->act = malloc(cap * (size_t)c->act_dim * sizeof(float));
    raw->rew = malloc(cap * sizeof(float));
    raw->term = calloc(cap, 1);
    raw->tout = calloc(cap, 1);
    raw->epkey = c->have_ep ? malloc(cap * sizeof(int64_t)) : NULL;
    raw->line = malloc(cap * sizeof(size_t));
    int oom = !raw->obs || (c->have_next && !raw->next_obs) || !raw->act || !raw->rew ||
              !raw->term || !raw->tout || (c->have_ep && !raw->epkey) || !raw->line;
    for (int k = 0; k < raw->n_step; k++) oom |= !(raw->step[k] = malloc(cap * sizeof(float)));
    for (int k = 0; k < raw->n_epc; k++) oom |= !(raw->epc[k] = malloc(cap * sizeof(double)));
    if (oom) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu rows", c->what, cap);
    if (!c->have_term) {
        free(raw->term);
        raw->term = NULL;
    }
    if (!c->have_tout) {
        free(raw->tout);
        raw->tout = NULL;
    }

    size_t row = 0;
    while (next_line(&p, end, &ls, &le)) {
        line++;
        if (blank_line(ls, le)) continue;
        if (row >= cap) return sl_set_error(SL_ERR_INTERNAL, "%s: row capacity", c->what);
        size_t ci = 0;
        const char *q = ls;
        for (;;) {
            const char *ce = q;
            while (ce < le && *ce != o->delimiter) ce++;
            if (ci >= ncol) {
                size_t more = 1;
                for (const char *t = ce; t < le; t++) more += *t == o->delimiter;
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: line %zu: %zu cells, but the header (line %zu) has %zu "
                                    "columns",
                                    c->what, line, ncol + more, c->header_line, ncol);
            }
            const char *a = q, *b = ce;
            trim(&a, &b);
            double v = 0;
            SL_TRY(cell_number(c, line, ci, a, b, &v));
            SL_TRY(store_cell(c, raw, row, ci, v));
            ci++;
            if (ce >= le) break;
            q = ce + 1;
        }
        if (ci != ncol)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: line %zu: %zu cells, but the header (line %zu) has %zu "
                                "columns",
                                c->what, line, ci, c->header_line, ncol);
        raw->line[row] = line;
        row++;
    }
    raw->n = row;
    if (row == 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: no data rows after the header (line %zu)", c->what,
                            c->header_line);
    return SL_OK;
}

sl_status sl_import_csv_buffer(sl_dataset **out, const char *buf, size_t len, const char *what,
                               const sl_import_options *opt, sl_import_report *rep) {
    if (!out) return sl_set_error(SL_ERR_ARG, "sl_import_csv_buffer: out is NULL");
    *out = NULL;
    if (!buf && len) return sl_set_error(SL_ERR_ARG, "sl_import_csv_buffer: buf is NULL");
    sl_import_options o;
    sl_imp_resolve_options(&o, opt);
    if (o.delimiter == '\n' || o.delimiter == '\r' || is_blank(o.delimiter))
        return sl_set_error(SL_ERR_ARG, "csv: delimiter may not be a blank or a newline");
    if (!*o.obs_prefix || !*o.act_prefix || !*o.next_obs_prefix || !*o.ep_prefix)
        return sl_set_error(SL_ERR_ARG, "csv: column prefixes may not be empty");
    csv_ctx c;
    memset(&c, 0, sizeof c);
    c.what = what ? what : "csv";
    c.o = &o;
    sl_imp_raw raw;
    memset(&raw, 0, sizeof raw);
    raw.what = c.what;
    sl_status s = parse_csv(&raw, &c, buf ? buf : "", len);
    free(c.cols);
    if (s == SL_OK) {
        sl_import_report local;
        if (!rep) rep = &local;
        memset(rep, 0, sizeof *rep);
        rep->format = SL_IMPORT_CSV;
        s = sl_imp_finish(out, &raw, o.max_episodes, rep);
    }
    sl_imp_raw_clear(&raw);
    return s;
}

sl_status sl_import_csv(sl_dataset **out, const char *path, const sl_import_options *opt,
                        sl_import_report *rep) {
    if (!out) return sl_set_error(SL_ERR_ARG, "sl_import_csv: out is NULL");
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    SL_TRY(sl_read_file(path, &buf, &len));
    sl_status s = sl_import_csv_buffer(out, buf, len, path, opt, rep);
    free(buf);
    return s;
}
