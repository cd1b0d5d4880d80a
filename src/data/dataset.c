/* SPDX-License-Identifier: Apache-2.0 */
/* dataset.c - the in-memory half of sl_dataset.h: allocation, named columns, validation,
 * episode ranges and episode selection (the NPZ half lives in dataset_npz.c).
 *
 * Key invariant: a dataset owns every array it points to, each array has exactly the length
 * the header states (n or n_episodes rows), and episodes are stored back to back, so episode e
 * is the contiguous row range where episode_ids == e.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_dataset.h"

/* --- allocation ---------------------------------------------------------- */

/* calloc that never returns NULL for a zero count (so "owned" pointers are always valid). */
static void *zalloc(size_t count, size_t size) {
    size_t bytes;
    if (sl_mul_size(count, size, &bytes) != SL_OK) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}

sl_status sl_dataset_alloc(sl_dataset **out, size_t n, int obs_dim, int act_dim) {
    if (!out) return sl_set_error(SL_ERR_ARG, "sl_dataset_alloc: out is NULL");
    *out = NULL;
    if (obs_dim <= 0 || act_dim <= 0)
        return sl_set_error(SL_ERR_ARG, "sl_dataset_alloc: obs_dim %d and act_dim %d must be > 0",
                            obs_dim, act_dim);
    size_t no, na;
    if (sl_mul_size(n, (size_t)obs_dim, &no) != SL_OK || sl_mul_size(n, (size_t)act_dim, &na) != SL_OK)
        return sl_set_error(SL_ERR_RANGE, "sl_dataset_alloc: %zu rows x dims overflows", n);
    sl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return sl_set_error(SL_ERR_NOMEM, "sl_dataset_alloc: out of memory");
    ds->n = n;
    ds->obs_dim = obs_dim;
    ds->act_dim = act_dim;
    ds->observations = zalloc(no, sizeof(float));
    ds->next_observations = zalloc(no, sizeof(float));
    ds->actions = zalloc(na, sizeof(float));
    ds->rewards = zalloc(n, sizeof(float));
    ds->terminals = zalloc(n, 1);
    ds->timeouts = zalloc(n, 1);
    ds->episode_ids = zalloc(n, sizeof(int32_t));
    ds->timesteps = zalloc(n, sizeof(int32_t));
    if (!ds->observations || !ds->next_observations || !ds->actions || !ds->rewards ||
        !ds->terminals || !ds->timeouts || !ds->episode_ids || !ds->timesteps) {
        sl_dataset_free(ds);
        return sl_set_error(SL_ERR_NOMEM, "sl_dataset_alloc: out of memory for %zu rows", n);
    }
    *out = ds;
    return SL_OK;
}

void sl_dataset_free(sl_dataset *ds) {
    if (!ds) return;
    free(ds->observations);
    free(ds->next_observations);
    free(ds->actions);
    free(ds->rewards);
    free(ds->terminals);
    free(ds->timeouts);
    free(ds->episode_ids);
    free(ds->timesteps);
    for (int i = 0; i < ds->n_step_cols; i++) free(ds->step_cols[i].data);
    for (int i = 0; i < ds->n_ep_cols; i++) free(ds->ep_cols[i].data);
    free(ds);
}

/* --- columns ------------------------------------------------------------- */

static sl_status check_col_name(const char *name, const char *kind) {
    if (!name || !*name) return sl_set_error(SL_ERR_ARG, "dataset: empty %s column name", kind);
    size_t len = strlen(name);
    if (len > SL_DATASET_NAME_MAX - 1)
        return sl_set_error(SL_ERR_ARG, "dataset: %s column name '%.60s' longer than %d chars",
                            kind, name, SL_DATASET_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_';
        if (!ok)
            return sl_set_error(SL_ERR_ARG,
                                "dataset: %s column name '%s' has character '%c' at offset %zu "
                                "(allowed: [A-Za-z0-9_])",
                                kind, name, c, i);
    }
    return SL_OK;
}

float *sl_dataset_step_col(const sl_dataset *ds, const char *name) {
    if (!ds || !name) return NULL;
    for (int i = 0; i < ds->n_step_cols; i++)
        if (strcmp(ds->step_cols[i].name, name) == 0) return ds->step_cols[i].data;
    return NULL;
}

double *sl_dataset_ep_col(const sl_dataset *ds, const char *name) {
    if (!ds || !name) return NULL;
    for (int i = 0; i < ds->n_ep_cols; i++)
        if (strcmp(ds->ep_cols[i].name, name) == 0) return ds->ep_cols[i].data;
    return NULL;
}

sl_status sl_dataset_add_step_col(sl_dataset *ds, const char *name, float **data) {
    if (!ds) return sl_set_error(SL_ERR_ARG, "sl_dataset_add_step_col: dataset is NULL");
    SL_TRY(check_col_name(name, "step"));
    if (sl_dataset_step_col(ds, name))
        return sl_set_error(SL_ERR_ARG, "dataset: step column '%s' already exists", name);
    if (ds->n_step_cols >= SL_DATASET_MAX_COLS)
        return sl_set_error(SL_ERR_RANGE, "dataset: cannot add step column '%s': limit of %d",
                            name, SL_DATASET_MAX_COLS);
    float *p = zalloc(ds->n, sizeof(float));
    if (!p) return sl_set_error(SL_ERR_NOMEM, "dataset: out of memory for step column '%s'", name);
    sl_dataset_col *c = &ds->step_cols[ds->n_step_cols++];
    memset(c->name, 0, sizeof c->name);
    memcpy(c->name, name, strlen(name));
    c->data = p;
    if (data) *data = p;
    return SL_OK;
}

sl_status sl_dataset_add_ep_col(sl_dataset *ds, const char *name, double **data) {
    if (!ds) return sl_set_error(SL_ERR_ARG, "sl_dataset_add_ep_col: dataset is NULL");
    SL_TRY(check_col_name(name, "episode"));
    if (ds->n_episodes == 0)
        return sl_set_error(SL_ERR_STATE,
                            "dataset: cannot add episode column '%s' before n_episodes is set",
                            name);
    if (sl_dataset_ep_col(ds, name))
        return sl_set_error(SL_ERR_ARG, "dataset: episode column '%s' already exists", name);
    if (ds->n_ep_cols >= SL_DATASET_MAX_COLS)
        return sl_set_error(SL_ERR_RANGE, "dataset: cannot add episode column '%s': limit of %d",
                            name, SL_DATASET_MAX_COLS);
    double *p = zalloc(ds->n_episodes, sizeof(double));
    if (!p)
        return sl_set_error(SL_ERR_NOMEM, "dataset: out of memory for episode column '%s'", name);
    sl_dataset_col *c = &ds->ep_cols[ds->n_ep_cols++];
    memset(c->name, 0, sizeof c->name);
    memcpy(c->name, name, strlen(name));
    c->data = p;
    if (data) *data = p;
    return SL_OK;
}

/* --- episodes ------------------------------------------------------------ */

/* First row with episode_ids[row] >= e (episode ids are non-decreasing). */
static size_t lower_bound_ep(const sl_dataset *ds, int64_t e) {
    size_t lo = 0, hi = ds->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)ds->episode_ids[mid] < e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

sl_status sl_dataset_episode_range(const sl_dataset *ds, size_t e, size_t *start, size_t *end) {
    if (!ds || !start || !end) return sl_set_error(SL_ERR_ARG, "sl_dataset_episode_range: NULL argument");
    if (e >= ds->n_episodes)
        return sl_set_error(SL_ERR_RANGE, "dataset: episode %zu out of range (n_episodes %zu)", e,
                            ds->n_episodes);
    size_t s = lower_bound_ep(ds, (int64_t)e);
    size_t t = lower_bound_ep(ds, (int64_t)e + 1);
    if (s >= t || ds->episode_ids[s] != (int32_t)e)
        return sl_set_error(SL_ERR_FORMAT, "dataset: episode %zu has no rows", e);
    *start = s;
    *end = t;
    return SL_OK;
}

/* --- validation ---------------------------------------------------------- */

/* Names the first non-finite entry of a float array of rows x dim. */
static sl_status check_finite_rows(const float *x, size_t rows, int dim, const char *what,
                                   const char *array) {
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < dim; j++) {
            float v = x[r * (size_t)dim + (size_t)j];
            if (!isfinite(v))
                return sl_set_error(SL_ERR_NAN, "%s: %s row %zu column %d is %s", what, array, r,
                                    j, isnan(v) ? "NaN" : "Inf");
        }
    return SL_OK;
}

sl_status sl_dataset_validate(const sl_dataset *ds, const char *what) {
    if (!what) what = "dataset";
    if (!ds) return sl_set_error(SL_ERR_ARG, "%s: dataset is NULL", what);
    if (ds->obs_dim <= 0 || ds->act_dim <= 0)
        return sl_set_error(SL_ERR_SHAPE, "%s: obs_dim %d / act_dim %d must be > 0", what,
                            ds->obs_dim, ds->act_dim);
    struct { const void *p; const char *name; } arrays[] = {
        {ds->observations, "observations"}, {ds->next_observations, "next_observations"},
        {ds->actions, "actions"},           {ds->rewards, "rewards"},
        {ds->terminals, "terminals"},       {ds->timeouts, "timeouts"},
        {ds->episode_ids, "episode_ids"},   {ds->timesteps, "timesteps"},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (!arrays[i].p) return sl_set_error(SL_ERR_SHAPE, "%s: array '%s' is missing", what, arrays[i].name);
    if (ds->n_step_cols < 0 || ds->n_step_cols > SL_DATASET_MAX_COLS || ds->n_ep_cols < 0 ||
        ds->n_ep_cols > SL_DATASET_MAX_COLS)
        return sl_set_error(SL_ERR_SHAPE, "%s: bad column counts (%d step, %d episode)", what,
                            ds->n_step_cols, ds->n_ep_cols);

    SL_TRY(check_finite_rows(ds->observations, ds->n, ds->obs_dim, what, "observations"));
    SL_TRY(check_finite_rows(ds->next_observations, ds->n, ds->obs_dim, what, "next_observations"));
    SL_TRY(check_finite_rows(ds->actions, ds->n, ds->act_dim, what, "actions"));
    SL_TRY(check_finite_rows(ds->rewards, ds->n, 1, what, "rewards"));

    for (size_t r = 0; r < ds->n; r++) {
        if (ds->terminals[r] > 1)
            return sl_set_error(SL_ERR_FORMAT, "%s: terminals row %zu is %u (must be 0 or 1)",
                                what, r, ds->terminals[r]);
        if (ds->timeouts[r] > 1)
            return sl_set_error(SL_ERR_FORMAT, "%s: timeouts row %zu is %u (must be 0 or 1)",
                                what, r, ds->timeouts[r]);
        if (ds->timesteps[r] < 0)
            return sl_set_error(SL_ERR_FORMAT, "%s: timesteps row %zu is %d (must be >= 0)",
                                what, r, (int)ds->timesteps[r]);
        int32_t id = ds->episode_ids[r];
        if (r == 0) {
            if (id != 0)
                return sl_set_error(SL_ERR_FORMAT, "%s: episode_ids row 0 is %d (must start at 0)",
                                    what, (int)id);
        } else {
            int64_t d = (int64_t)id - (int64_t)ds->episode_ids[r - 1];
            if (d != 0 && d != 1)
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: episode_ids row %zu is %d after %d (must increase by 0 "
                                    "or 1)",
                                    what, r, (int)id, (int)ds->episode_ids[r - 1]);
        }
    }
    size_t want_eps = ds->n ? (size_t)ds->episode_ids[ds->n - 1] + 1 : 0;
    if (ds->n_episodes != want_eps)
        return sl_set_error(SL_ERR_SHAPE,
                            "%s: n_episodes is %zu but episode_ids row %zu ends at %zu episodes",
                            what, ds->n_episodes, ds->n ? ds->n - 1 : 0, want_eps);

    for (int c = 0; c < ds->n_step_cols; c++) {
        const sl_dataset_col *col = &ds->step_cols[c];
        if (!col->data) return sl_set_error(SL_ERR_SHAPE, "%s: step column '%s' has no data", what, col->name);
        SL_TRY(check_finite_rows(col->data, ds->n, 1, what, col->name));
    }
    for (int c = 0; c < ds->n_ep_cols; c++) {
        const sl_dataset_col *col = &ds->ep_cols[c];
        if (!col->data)
            return sl_set_error(SL_ERR_SHAPE, "%s: episode column 'ep_%s' has no data", what, col->name);
        const double *x = col->data;
        for (size_t e = 0; e < ds->n_episodes; e++)
            if (!isfinite(x[e]))
                return sl_set_error(SL_ERR_NAN, "%s: ep_%s row %zu is %s", what, col->name, e,
                                    isnan(x[e]) ? "NaN" : "Inf");
    }
    return SL_OK;
}

/* --- selection ----------------------------------------------------------- */

sl_status sl_dataset_select_episodes(sl_dataset **out, const sl_dataset *ds, const size_t *eps,
                                     size_t k) {
    if (!out || !ds || (k && !eps))
        return sl_set_error(SL_ERR_ARG, "sl_dataset_select_episodes: NULL argument");
    *out = NULL;
    if (k == 0) return sl_set_error(SL_ERR_ARG, "sl_dataset_select_episodes: no episodes selected");
    size_t rows = 0;
    for (size_t i = 0; i < k; i++) {
        size_t s, e;
        SL_TRY(sl_dataset_episode_range(ds, eps[i], &s, &e));
        rows += e - s;
    }
    sl_dataset *o;
    SL_TRY(sl_dataset_alloc(&o, rows, ds->obs_dim, ds->act_dim));
    o->n_episodes = k;
    sl_status st = SL_OK;
    for (int c = 0; c < ds->n_step_cols && st == SL_OK; c++)
        st = sl_dataset_add_step_col(o, ds->step_cols[c].name, NULL);
    for (int c = 0; c < ds->n_ep_cols && st == SL_OK; c++)
        st = sl_dataset_add_ep_col(o, ds->ep_cols[c].name, NULL);
    if (st != SL_OK) {
        sl_dataset_free(o);
        return st;
    }
    size_t od = (size_t)ds->obs_dim, ad = (size_t)ds->act_dim, at = 0;
    for (size_t i = 0; i < k; i++) {
        size_t s, e;
        sl_dataset_episode_range(ds, eps[i], &s, &e); /* checked above */
        size_t m = e - s;
        memcpy(o->observations + at * od, ds->observations + s * od, m * od * sizeof(float));
        memcpy(o->next_observations + at * od, ds->next_observations + s * od, m * od * sizeof(float));
        memcpy(o->actions + at * ad, ds->actions + s * ad, m * ad * sizeof(float));
        memcpy(o->rewards + at, ds->rewards + s, m * sizeof(float));
        memcpy(o->terminals + at, ds->terminals + s, m);
        memcpy(o->timeouts + at, ds->timeouts + s, m);
        memcpy(o->timesteps + at, ds->timesteps + s, m * sizeof(int32_t));
        for (size_t r = 0; r < m; r++) o->episode_ids[at + r] = (int32_t)i;
        for (int c = 0; c < ds->n_step_cols; c++)
            memcpy((float *)o->step_cols[c].data + at, (const float *)ds->step_cols[c].data + s,
                   m * sizeof(float));
        for (int c = 0; c < ds->n_ep_cols; c++)
            ((double *)o->ep_cols[c].data)[i] = ((const double *)ds->ep_cols[c].data)[eps[i]];
        at += m;
    }
    *out = o;
    return SL_OK;
}
