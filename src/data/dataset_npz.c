/* SPDX-License-Identifier: Apache-2.0 */
/* dataset_npz.c - sl_dataset <-> NPZ with D4RL key names (the key layout is documented in
 * include/synthloop/sl_dataset.h and docs/FORMATS.md).
 *
 * Key invariant: load returns either a dataset that passes sl_dataset_validate or an error
 * naming the file, the key and the row; save validates first and writes atomically, so a
 * failed save leaves the target path untouched. Episode ids read from a file are checked
 * (start at 0, step 0 or 1) before n_episodes is derived from them, so a hostile file cannot
 * size the episode columns.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_dataset.h"
#include "synthloop/sl_npz.h"

/* --- save ---------------------------------------------------------------- */

sl_status sl_dataset_save_npz(const sl_dataset *ds, const char *path) {
    SL_TRY(sl_dataset_validate(ds, path));
    for (int c = 0; c < ds->n_step_cols; c++)
        if (strncmp(ds->step_cols[c].name, "ep_", 3) == 0)
            return sl_set_error(SL_ERR_ARG,
                                "%s: step column '%s' starts with 'ep_', which marks episode "
                                "columns in NPZ files",
                                path, ds->step_cols[c].name);
    size_t n = ds->n, ne = ds->n_episodes;
    size_t s_obs[2] = {n, (size_t)ds->obs_dim}, s_act[2] = {n, (size_t)ds->act_dim};
    size_t s_n[1] = {n}, s_e[1] = {ne};
    sl_npz_writer *w;
    SL_TRY(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    sl_status s = SL_OK;
#define ADD(name, dt, nd, shp, ptr)                                                           \
    if (s == SL_OK) s = sl_npz_writer_add(w, name, dt, nd, shp, ptr)
    ADD("observations", SL_DTYPE_F32, 2, s_obs, ds->observations);
    ADD("next_observations", SL_DTYPE_F32, 2, s_obs, ds->next_observations);
    ADD("actions", SL_DTYPE_F32, 2, s_act, ds->actions);
    ADD("rewards", SL_DTYPE_F32, 1, s_n, ds->rewards);
    ADD("terminals", SL_DTYPE_BOOL, 1, s_n, ds->terminals);
    ADD("timeouts", SL_DTYPE_BOOL, 1, s_n, ds->timeouts);
    ADD("episode_ids", SL_DTYPE_I32, 1, s_n, ds->episode_ids);
    ADD("timesteps", SL_DTYPE_I32, 1, s_n, ds->timesteps);
    for (int c = 0; c < ds->n_step_cols; c++) ADD(ds->step_cols[c].name, SL_DTYPE_F32, 1, s_n,
                                                  ds->step_cols[c].data);
    for (int c = 0; c < ds->n_ep_cols && s == SL_OK; c++) {
        char key[SL_DATASET_NAME_MAX + 4];
        snprintf(key, sizeof key, "ep_%s", ds->ep_cols[c].name);
        ADD(key, SL_DTYPE_F64, 1, s_e, ds->ep_cols[c].data);
    }
#undef ADD
    if (s != SL_OK) {
        sl_npz_writer_abort(w);
        return s;
    }
    return sl_npz_writer_commit(w);
}

/* --- load ---------------------------------------------------------------- */

static const char *const fixed_keys[] = {"observations", "next_observations", "actions",
                                         "rewards",      "terminals",         "timeouts",
                                         "episode_ids",  "timesteps"};

static int is_fixed_key(const char *k) {
    for (size_t i = 0; i < sizeof fixed_keys / sizeof fixed_keys[0]; i++)
        if (strcmp(k, fixed_keys[i]) == 0) return 1;
    return 0;
}

static int valid_col_name(const char *s) {
    size_t len = strlen(s);
    if (len == 0 || len > SL_DATASET_NAME_MAX - 1) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* 1 if `a` is [rows, dim], or [rows] / [rows, 1] when dim == 1. */
static int has_rows_dim(const sl_array *a, size_t rows, size_t dim) {
    if (a->ndim == 2) return a->shape[0] == rows && a->shape[1] == dim;
    return dim == 1 && a->ndim == 1 && a->shape[0] == rows;
}

static void shape_str(const sl_array *a, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < a->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%zu", d ? ", " : "", a->shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

static sl_status shape_error(const char *path, const sl_array *a, const char *want) {
    char got[160];
    shape_str(a, got, sizeof got);
    return sl_set_error(SL_ERR_SHAPE, "%s: key '%s' has shape %s %s, expected %s", path, a->name,
                        got, sl_dtype_numpy(a->dtype), want);
}

/* Copy a float array ([rows, dim]) into dst as float32, rejecting NaN/Inf by key and row. */
static sl_status copy_floats(const char *path, const sl_array *a, size_t rows, size_t dim,
                             float *dst) {
    if (a->dtype != SL_DTYPE_F32 && a->dtype != SL_DTYPE_F64)
        return sl_set_error(SL_ERR_DTYPE, "%s: key '%s' has dtype %s, expected <f4 or <f8",
                            path, a->name, sl_dtype_numpy(a->dtype));
    size_t n = rows * dim;
    if (a->dtype == SL_DTYPE_F32 && sl_all_finite_f32(a->data, n)) { /* the common case */
        if (n) memcpy(dst, a->data, n * sizeof(float));
        return SL_OK;
    }
    for (size_t i = 0; i < n; i++) {
        double v = a->dtype == SL_DTYPE_F32 ? (double)((const float *)a->data)[i]
                                            : ((const double *)a->data)[i];
        if (!isfinite(v))
            return sl_set_error(SL_ERR_NAN, "%s: key '%s' row %zu column %zu is %s", path,
                                a->name, i / dim, i % dim, isnan(v) ? "NaN" : "Inf");
        if (fabs(v) > (double)FLT_MAX)
            return sl_set_error(SL_ERR_RANGE,
                                "%s: key '%s' row %zu column %zu (%g) is outside float32 range",
                                path, a->name, i / dim, i % dim, v);
        dst[i] = (float)v;
    }
    return SL_OK;
}

/* Integer-like value i of a (bool, u8, i4, i8 or integral f4/f8); 0 on success. */
static int int_at(const sl_array *a, size_t i, int64_t *v) {
    switch (a->dtype) {
    case SL_DTYPE_BOOL:
    case SL_DTYPE_U8: *v = ((const uint8_t *)a->data)[i]; return 0;
    case SL_DTYPE_I32: *v = ((const int32_t *)a->data)[i]; return 0;
    case SL_DTYPE_I64: *v = ((const int64_t *)a->data)[i]; return 0;
    case SL_DTYPE_F32:
    case SL_DTYPE_F64: {
        double d = a->dtype == SL_DTYPE_F32 ? (double)((const float *)a->data)[i]
                                            : ((const double *)a->data)[i];
        if (!(d == floor(d)) || fabs(d) > 9.0e15) return -1;
        *v = (int64_t)d;
        return 0;
    }
    default: return -1;
    }
}

/* terminals / timeouts: 0/1 flags in any numeric dtype. */
static sl_status copy_flags(const char *path, const sl_array *a, size_t n, uint8_t *dst) {
    if (!has_rows_dim(a, n, 1)) return shape_error(path, a, "[n]");
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (int_at(a, i, &v) != 0 || (v != 0 && v != 1))
            return sl_set_error(SL_ERR_FORMAT, "%s: key '%s' row %zu is not 0 or 1", path,
                                a->name, i);
        dst[i] = (uint8_t)v;
    }
    return SL_OK;
}

static sl_status copy_ints(const char *path, const sl_array *a, size_t n, int32_t *dst) {
    if (!has_rows_dim(a, n, 1)) return shape_error(path, a, "[n]");
    if (a->dtype != SL_DTYPE_I32 && a->dtype != SL_DTYPE_I64)
        return sl_set_error(SL_ERR_DTYPE, "%s: key '%s' has dtype %s, expected <i4 or <i8",
                            path, a->name, sl_dtype_numpy(a->dtype));
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        int_at(a, i, &v);
        if (v < 0 || v > INT32_MAX)
            return sl_set_error(SL_ERR_RANGE, "%s: key '%s' row %zu is %lld (must be 0..%d)",
                                path, a->name, i, (long long)v, INT32_MAX);
        dst[i] = (int32_t)v;
    }
    return SL_OK;
}

/* Read `key` (owned result in *out); SL_ERR_NOTFOUND with a message naming path and key. */
static sl_status read_key(sl_npz *z, const char *path, const char *key, sl_array **out) {
    *out = NULL;
    if (!sl_npz_has(z, key))
        return sl_set_error(SL_ERR_NOTFOUND, "%s: required key '%s' is missing", path, key);
    return sl_npz_read(z, key, out);
}

/* observations and actions: the dataset's shape; allocates *out. */
static sl_status load_obs_act(sl_npz *z, const char *path, sl_dataset **out) {
    sl_array *obs = NULL, *act = NULL;
    sl_dataset *ds = NULL;
    sl_status s = read_key(z, path, "observations", &obs);
    if (s == SL_OK) s = read_key(z, path, "actions", &act);
    if (s != SL_OK) goto done;
    if (obs->ndim < 1 || obs->ndim > 2 || (obs->ndim == 2 && obs->shape[1] == 0)) {
        s = shape_error(path, obs, "[n, obs_dim]");
        goto done;
    }
    size_t n = obs->shape[0];
    size_t od = obs->ndim == 2 ? obs->shape[1] : 1;
    size_t ad = act->ndim == 2 ? act->shape[1] : 1;
    if (act->ndim < 1 || act->ndim > 2 || act->shape[0] != n || ad == 0) {
        s = shape_error(path, act, "[n, act_dim] with n from observations");
        goto done;
    }
    if (od > INT_MAX || ad > INT_MAX) {
        s = sl_set_error(SL_ERR_RANGE, "%s: observation/action dimension too large", path);
        goto done;
    }
    s = sl_dataset_alloc(&ds, n, (int)od, (int)ad);
    if (s != SL_OK) goto done;
    s = copy_floats(path, obs, n, od, ds->observations);
    if (s == SL_OK) s = copy_floats(path, act, n, ad, ds->actions);
done:
    sl_array_free(obs);
    sl_array_free(act);
    if (s != SL_OK) {
        sl_dataset_free(ds);
        return s;
    }
    *out = ds;
    return SL_OK;
}

/* next_observations, rewards, terminals and (optional, else zero) timeouts. */
static sl_status load_transitions(sl_npz *z, const char *path, sl_dataset *ds) {
    const size_t n = ds->n, od = (size_t)ds->obs_dim;
    sl_array *a = NULL;
    sl_status s = read_key(z, path, "next_observations", &a);
    if (s == SL_OK && !has_rows_dim(a, n, od)) s = shape_error(path, a, "[n, obs_dim]");
    if (s == SL_OK) s = copy_floats(path, a, n, od, ds->next_observations);
    sl_array_free(a);
    a = NULL;
    if (s == SL_OK) s = read_key(z, path, "rewards", &a);
    if (s == SL_OK && !has_rows_dim(a, n, 1)) s = shape_error(path, a, "[n]");
    if (s == SL_OK) s = copy_floats(path, a, n, 1, ds->rewards);
    sl_array_free(a);
    a = NULL;
    if (s == SL_OK) s = read_key(z, path, "terminals", &a);
    if (s == SL_OK) s = copy_flags(path, a, n, ds->terminals);
    sl_array_free(a);
    a = NULL;
    if (s == SL_OK && sl_npz_has(z, "timeouts")) { /* absent: all zero */
        s = sl_npz_read(z, "timeouts", &a);
        if (s == SL_OK) s = copy_flags(path, a, n, ds->timeouts);
        sl_array_free(a);
    }
    return s;
}

/* episode ids from the file (checked: start at 0, grow by 0 or 1), else from terminal|timeout
 * boundaries; then n_episodes and timesteps (from the file, else counted within episodes). */
static sl_status load_episodes(sl_npz *z, const char *path, sl_dataset *ds) {
    const size_t n = ds->n;
    sl_array *a = NULL;
    sl_status s = SL_OK;
    if (sl_npz_has(z, "episode_ids")) {
        s = sl_npz_read(z, "episode_ids", &a);
        if (s == SL_OK) s = copy_ints(path, a, n, ds->episode_ids);
        sl_array_free(a);
        a = NULL;
        if (s != SL_OK) return s;
        for (size_t i = 0; i < n; i++) {
            int32_t prev = i ? ds->episode_ids[i - 1] : 0;
            int32_t d = ds->episode_ids[i] - prev;
            if (d != 0 && !(d == 1 && i > 0))
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: key 'episode_ids' row %zu is %d after %d (must start at "
                                    "0 and increase by 0 or 1)",
                                    path, i, (int)ds->episode_ids[i], (int)prev);
        }
    } else {
        int32_t e = 0;
        for (size_t i = 0; i < n; i++) {
            ds->episode_ids[i] = e;
            if ((ds->terminals[i] || ds->timeouts[i]) && i + 1 < n) e++;
        }
    }
    ds->n_episodes = n ? (size_t)ds->episode_ids[n - 1] + 1 : 0;
    if (sl_npz_has(z, "timesteps")) {
        s = sl_npz_read(z, "timesteps", &a);
        if (s == SL_OK) s = copy_ints(path, a, n, ds->timesteps);
        sl_array_free(a);
        return s;
    }
    for (size_t i = 0; i < n; i++)
        ds->timesteps[i] = i && ds->episode_ids[i] == ds->episode_ids[i - 1]
                               ? ds->timesteps[i - 1] + 1
                               : 0;
    return SL_OK;
}

/* Episode column ep_<cn> from array a ([n_episodes], f8 or f4, finite). */
static sl_status load_ep_column(const char *path, const char *key, const char *cn,
                                const sl_array *a, sl_dataset *ds) {
    if (!has_rows_dim(a, ds->n_episodes, 1)) {
        char want[64];
        snprintf(want, sizeof want, "[n_episodes] = (%zu,)", ds->n_episodes);
        return shape_error(path, a, want);
    }
    if (ds->n_episodes == 0) return SL_OK;
    double *dst;
    sl_status s = sl_dataset_add_ep_col(ds, cn, &dst);
    for (size_t i = 0; s == SL_OK && i < ds->n_episodes; i++) {
        double v;
        if (a->dtype == SL_DTYPE_F64)
            v = ((const double *)a->data)[i];
        else if (a->dtype == SL_DTYPE_F32)
            v = (double)((const float *)a->data)[i];
        else
            return sl_set_error(SL_ERR_DTYPE, "%s: key '%s' has dtype %s, expected <f8", path,
                                key, sl_dtype_numpy(a->dtype));
        if (!isfinite(v))
            s = sl_set_error(SL_ERR_NAN, "%s: key '%s' row %zu is %s", path, key, i,
                             isnan(v) ? "NaN" : "Inf");
        dst[i] = v;
    }
    return s;
}

/* Extra columns, in archive order: ep_<name> per episode, other float [n] arrays per step;
 * keys that are not column names (or not float [n]) are ignored with a debug message. */
static sl_status load_extra_columns(sl_npz *z, const char *path, sl_dataset *ds) {
    const size_t n = ds->n;
    sl_status s = SL_OK;
    for (size_t k = 0; k < sl_npz_count(z) && s == SL_OK; k++) {
        const char *key = sl_npz_name(z, k);
        if (is_fixed_key(key)) continue;
        sl_array *a = NULL;
        if (strncmp(key, "ep_", 3) == 0) {
            const char *cn = key + 3;
            if (!valid_col_name(cn))
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: key '%s': episode column names must be [A-Za-z0-9_], "
                                    "at most %d chars",
                                    path, key, SL_DATASET_NAME_MAX - 1);
            s = sl_npz_read(z, key, &a);
            if (s == SL_OK) s = load_ep_column(path, key, cn, a, ds);
        } else {
            if (!valid_col_name(key)) {
                SL_DEBUG("%s: ignoring key '%s' (not a column name)", path, key);
                continue;
            }
            s = sl_npz_read(z, key, &a);
            if (s == SL_OK && has_rows_dim(a, n, 1) &&
                (a->dtype == SL_DTYPE_F32 || a->dtype == SL_DTYPE_F64)) {
                float *dst;
                s = sl_dataset_add_step_col(ds, key, &dst);
                if (s == SL_OK) s = copy_floats(path, a, n, 1, dst);
            } else if (s == SL_OK) {
                SL_DEBUG("%s: ignoring key '%s' (not a float array of length n)", path, key);
            }
        }
        sl_array_free(a);
    }
    return s;
}

static sl_status load_body(sl_npz *z, const char *path, sl_dataset **out) {
    sl_dataset *ds = NULL;
    sl_status s = load_obs_act(z, path, &ds);
    if (s == SL_OK) s = load_transitions(z, path, ds);
    if (s == SL_OK) s = load_episodes(z, path, ds);
    if (s == SL_OK) s = load_extra_columns(z, path, ds);
    if (s == SL_OK) s = sl_dataset_validate(ds, path);
    if (s != SL_OK) {
        sl_dataset_free(ds);
        return s;
    }
    *out = ds;
    return SL_OK;
}

sl_status sl_dataset_load_npz(sl_dataset **out, const char *path) {
    *out = NULL;
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    sl_status s = load_body(z, path, out);
    sl_npz_close(z);
    return s;
}
