/* SPDX-License-Identifier: Apache-2.0 */
/* import_common.c - the format-independent half of the importers: options, format names,
 * turning a parser's raw table into a validated sl_dataset, and the dataset summary behind
 * `synthloop info`. The parsers (import_csv.c, import_hdf5.c) call down into this file; the
 * dispatcher that picks a parser (import.c) sits above both, so no call runs back up.
 *
 * Key invariant: sl_imp_finish either returns a dataset that passed sl_dataset_validate, or
 * fails with nothing allocated; it never invents values except the documented one (the next
 * observation of an episode's last row, when the file does not record it, repeats the row's
 * observation, and the count of such rows is reported).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/import_internal.h"

/* --- names and options --------------------------------------------------- */

static const char *const format_names[SL_IMPORT_FORMAT_COUNT] = {"auto", "npz", "d4rl", "minari",
                                                                 "csv"};
_Static_assert(SL_IMPORT_FORMAT_COUNT == 5, "format_names must list every format");

const char *sl_import_format_name(sl_import_format f) {
    if ((int)f < 0 || f >= SL_IMPORT_FORMAT_COUNT) return "?";
    return format_names[f];
}

sl_status sl_import_format_parse(const char *s, sl_import_format *out) {
    for (int i = 0; i < SL_IMPORT_FORMAT_COUNT; i++)
        if (s && strcmp(s, format_names[i]) == 0) {
            *out = (sl_import_format)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "unknown format '%s' (expected auto|npz|d4rl|minari|csv)",
                        s ? s : "");
}

void sl_import_options_default(sl_import_options *o) {
    memset(o, 0, sizeof *o);
    o->format = SL_IMPORT_AUTO;
    o->obs_prefix = "obs_";
    o->next_obs_prefix = "next_obs_";
    o->act_prefix = "act_";
    o->reward_col = "reward";
    o->terminal_col = "terminal";
    o->timeout_col = "timeout";
    o->episode_col = "episode_id";
    o->timestep_col = "timestep";
    o->ep_prefix = "ep_";
    o->delimiter = ',';
}

void sl_imp_resolve_options(sl_import_options *dst, const sl_import_options *src) {
    sl_import_options_default(dst);
    if (!src) return;
    dst->format = src->format;
    dst->max_episodes = src->max_episodes;
#define TAKE(f)                                                                                   \
    if (src->f) dst->f = src->f
    TAKE(obs_prefix);
    TAKE(next_obs_prefix);
    TAKE(act_prefix);
    TAKE(reward_col);
    TAKE(terminal_col);
    TAKE(timeout_col);
    TAKE(episode_col);
    TAKE(timestep_col);
    TAKE(ep_prefix);
#undef TAKE
    if (src->delimiter) dst->delimiter = src->delimiter;
}

/* --- raw table -> dataset ------------------------------------------------ */

void sl_imp_raw_clear(sl_imp_raw *raw) {
    if (!raw) return;
    free(raw->obs);
    free(raw->next_obs);
    free(raw->act);
    free(raw->rew);
    free(raw->term);
    free(raw->tout);
    free(raw->epkey);
    free(raw->line);
    for (int i = 0; i < raw->n_step; i++) free(raw->step[i]);
    for (int i = 0; i < raw->n_epc; i++) free(raw->epc[i]);
    memset(raw, 0, sizeof *raw);
}

typedef struct key_run {
    int64_t key;
    size_t row;
} key_run;

static int cmp_key_run(const void *a, const void *b) {
    const key_run *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : (x->row > y->row);
}

/* "line L" for CSV sources, "row R" otherwise. */
static const char *row_label(const sl_imp_raw *raw, size_t i, char *buf, size_t n) {
    if (raw->line) snprintf(buf, n, "line %zu", raw->line[i]);
    else snprintf(buf, n, "row %zu", i);
    return buf;
}

sl_status sl_imp_finish(sl_dataset **out, const sl_imp_raw *raw, size_t max_episodes,
                        sl_import_report *rep) {
    *out = NULL;
    const char *what = raw->what ? raw->what : "dataset";
    size_t n = raw->n;
    if (n == 0) return sl_set_error(SL_ERR_FORMAT, "%s: no data rows", what);
    if (n > (size_t)INT32_MAX)
        return sl_set_error(SL_ERR_RANGE, "%s: %zu rows exceed the int32 row limit", what, n);
    int32_t *eid = malloc(n * sizeof *eid);
    if (!eid) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu rows", what, n);
    char lb[64], lb2[64];
    size_t ne = 0;
    if (raw->epkey) {
        size_t runs = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || raw->epkey[i] != raw->epkey[i - 1]) runs++;
            eid[i] = (int32_t)(runs - 1);
        }
        ne = runs;
        /* an id may not come back after another one: episodes must be contiguous */
        key_run *kr = malloc(runs * sizeof *kr);
        if (!kr) {
            free(eid);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
        }
        size_t r = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || raw->epkey[i] != raw->epkey[i - 1]) kr[r++] = (key_run){raw->epkey[i], i};
        qsort(kr, runs, sizeof *kr, cmp_key_run);
        for (size_t i = 1; i < runs; i++)
            if (kr[i].key == kr[i - 1].key) {
                sl_status s = sl_set_error(
                    SL_ERR_FORMAT,
                    "%s: %s: episode id %lld appears again after another episode (first run at "
                    "%s); rows of an episode must be contiguous",
                    what, row_label(raw, kr[i].row, lb, sizeof lb), (long long)kr[i].key,
                    row_label(raw, kr[i - 1].row, lb2, sizeof lb2));
                free(kr);
                free(eid);
                return s;
            }
        free(kr);
    } else {
        int32_t cur = 0;
        for (size_t i = 0; i < n; i++) {
            eid[i] = cur;
            if ((raw->term && raw->term[i]) || (raw->tout && raw->tout[i])) cur++;
        }
        ne = (size_t)eid[n - 1] + 1;
    }
    size_t keep = (max_episodes && max_episodes < ne) ? max_episodes : ne;
    size_t m = n;
    if (keep < ne)
        for (size_t i = 0; i < n; i++)
            if ((size_t)eid[i] == keep) {
                m = i;
                break;
            }

    for (int c = 0; c < raw->n_epc; c++)
        for (size_t i = 1; i < m; i++)
            if (eid[i] == eid[i - 1] && raw->epc[c][i] != raw->epc[c][i - 1]) {
                sl_status st = sl_set_error(
                    SL_ERR_FORMAT,
                    "%s: %s: episode column 'ep_%s' changes inside episode %d (%.17g, then "
                    "%.17g); it must be constant per episode",
                    what, row_label(raw, i, lb, sizeof lb), raw->epc_name[c], eid[i],
                    raw->epc[c][i - 1], raw->epc[c][i]);
                free(eid);
                return st;
            }

    sl_dataset *ds = NULL;
    sl_status s = sl_dataset_alloc(&ds, m, raw->obs_dim, raw->act_dim);
    if (s != SL_OK) {
        free(eid);
        return s;
    }
    size_t od = (size_t)raw->obs_dim, ad = (size_t)raw->act_dim;
    memcpy(ds->observations, raw->obs, m * od * sizeof(float));
    memcpy(ds->actions, raw->act, m * ad * sizeof(float));
    memcpy(ds->rewards, raw->rew, m * sizeof(float));
    if (raw->term) memcpy(ds->terminals, raw->term, m);
    if (raw->tout) memcpy(ds->timeouts, raw->tout, m);
    memcpy(ds->episode_ids, eid, m * sizeof(int32_t));
    for (size_t i = 0; i < m; i++)
        ds->timesteps[i] = (i == 0 || eid[i] != eid[i - 1]) ? 0 : ds->timesteps[i - 1] + 1;
    size_t repeated = 0;
    if (raw->next_obs) {
        memcpy(ds->next_observations, raw->next_obs, m * od * sizeof(float));
    } else {
        for (size_t i = 0; i < m; i++) {
            int same = i + 1 < m && eid[i + 1] == eid[i];
            const float *src = same ? raw->obs + (i + 1) * od : raw->obs + i * od;
            if (!same) repeated++;
            memcpy(ds->next_observations + i * od, src, od * sizeof(float));
        }
    }
    ds->n_episodes = keep;
    free(eid);
    for (int c = 0; c < raw->n_step && s == SL_OK; c++) {
        float *dst = NULL;
        s = sl_dataset_add_step_col(ds, raw->step_name[c], &dst);
        if (s == SL_OK) memcpy(dst, raw->step[c], m * sizeof(float));
    }
    for (int c = 0; c < raw->n_epc && s == SL_OK; c++) {
        double *dst = NULL;
        s = sl_dataset_add_ep_col(ds, raw->epc_name[c], &dst);
        if (s == SL_OK)
            for (size_t i = 0; i < m; i++) dst[ds->episode_ids[i]] = raw->epc[c][i];
    }
    if (s == SL_OK) s = sl_dataset_validate(ds, what);
    if (s != SL_OK) {
        sl_dataset_free(ds);
        return s;
    }
    if (rep) {
        rep->rows_in_file = n;
        rep->episodes_in_file = ne;
        rep->rows = m;
        rep->episodes = keep;
        rep->next_obs_from_file = raw->next_obs != NULL;
        rep->next_obs_repeated = repeated;
    }
    *out = ds;
    return SL_OK;
}

/* --- summary ------------------------------------------------------------- */

/* mean, population std, min, max of x[0..n) with stride; adds an object under key. */
static cJSON *add_stats(cJSON *obj, const char *key, const double *x, size_t n) {
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    if (!o) return NULL;
    double sum = 0, mn = n ? x[0] : 0, mx = n ? x[0] : 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
    }
    double mean = n ? sum / (double)n : 0, ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    cJSON_AddNumberToObject(o, "count", (double)n);
    cJSON_AddNumberToObject(o, "mean", mean);
    cJSON_AddNumberToObject(o, "std", n ? sqrt(ss / (double)n) : 0);
    cJSON_AddNumberToObject(o, "min", mn);
    cJSON_AddNumberToObject(o, "max", mx);
    return o;
}

sl_status sl_import_summary_json(const sl_dataset *ds, cJSON **out) {
    *out = NULL;
    if (!ds) return sl_set_error(SL_ERR_ARG, "sl_import_summary_json: dataset is NULL");
    size_t n = ds->n, ne = ds->n_episodes;
    double *buf = malloc((n > ne ? n : ne) * sizeof(double) + sizeof(double));
    double *ret = calloc(ne + 1, sizeof(double));
    double *len = calloc(ne + 1, sizeof(double));
    cJSON *j = cJSON_CreateObject();
    if (!buf || !ret || !len || !j) {
        free(buf);
        free(ret);
        free(len);
        cJSON_Delete(j);
        return sl_set_error(SL_ERR_NOMEM, "summary: out of memory");
    }
    cJSON_AddNumberToObject(j, "transitions", (double)n);
    cJSON_AddNumberToObject(j, "episodes", (double)ne);
    cJSON_AddNumberToObject(j, "obs_dim", ds->obs_dim);
    cJSON_AddNumberToObject(j, "act_dim", ds->act_dim);
    size_t nt = 0, nto = 0;
    for (size_t i = 0; i < n; i++) {
        buf[i] = ds->rewards[i];
        nt += ds->terminals[i] != 0;
        nto += ds->timeouts[i] != 0;
        int32_t e = ds->episode_ids[i];
        if (e >= 0 && (size_t)e < ne) {
            ret[e] += (double)ds->rewards[i];
            len[e] += 1;
        }
    }
    cJSON_AddNumberToObject(j, "terminals", (double)nt);
    cJSON_AddNumberToObject(j, "timeouts", (double)nto);
    add_stats(j, "reward", buf, n);
    add_stats(j, "episode_return", ret, ne);
    add_stats(j, "episode_length", len, ne);

    cJSON *cols = cJSON_AddArrayToObject(j, "columns");
    static const char *const base[] = {"observations", "next_observations", "actions", "rewards",
                                       "terminals",    "timeouts",          "episode_ids",
                                       "timesteps"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(base[i]));
    char name[SL_DATASET_NAME_MAX + 4];
    for (int c = 0; c < ds->n_step_cols; c++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(ds->step_cols[c].name));
    for (int c = 0; c < ds->n_ep_cols; c++) {
        snprintf(name, sizeof name, "ep_%s", ds->ep_cols[c].name);
        cJSON_AddItemToArray(cols, cJSON_CreateString(name));
    }
    cJSON *sc = cJSON_AddObjectToObject(j, "step_columns");
    for (int c = 0; c < ds->n_step_cols; c++) {
        const float *x = ds->step_cols[c].data;
        for (size_t i = 0; i < n; i++) buf[i] = x[i];
        add_stats(sc, ds->step_cols[c].name, buf, n);
    }
    cJSON *ec = cJSON_AddObjectToObject(j, "episode_columns");
    for (int c = 0; c < ds->n_ep_cols; c++)
        add_stats(ec, ds->ep_cols[c].name, ds->ep_cols[c].data, ne);
    /* the workcell's economic metrics, when present, also under "econ" */
    static const char *const econ[] = {"mpl", "error_rate", "energy_wh", "ep", "wage_parity"};
    cJSON *eo = NULL;
    for (size_t i = 0; i < sizeof econ / sizeof econ[0]; i++) {
        const double *x = sl_dataset_ep_col(ds, econ[i]);
        if (!x) continue;
        if (!eo) eo = cJSON_AddObjectToObject(j, "econ");
        add_stats(eo, econ[i], x, ne);
    }
    free(buf);
    free(ret);
    free(len);
    *out = j;
    return SL_OK;
}
