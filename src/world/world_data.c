/* SPDX-License-Identifier: Apache-2.0 */
/* world_data.c - binding a dataset and its encoder latents to the world model: the row
 * arrays it trains and rolls out on, episode spans, and the latents NPZ reader.
 *
 * Invariant: a bound sl_world_data has finite arrays of consistent lengths; next latents are
 * either read from the file or derived inside episodes, never across an episode end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_npz.h"
#include "world/world_internal.h"

sl_status sl_world_data_init(sl_world_data *d, const sl_dataset *ds, const float *z,
                             const float *z_next, int z_dim,
                             const char (*econ_names)[SL_WORLD_NAME_MAX], int n_econ) {
    memset(d, 0, sizeof *d);
    if (!ds || !z || !z_next) return sl_set_error(SL_ERR_ARG, "world data: NULL argument");
    if (ds->n == 0) return sl_set_error(SL_ERR_ARG, "world data: the dataset is empty");
    if (z_dim < 2) return sl_set_error(SL_ERR_ARG, "world data: latent dim %d < 2", z_dim);
    if (n_econ < 0 || n_econ > SL_WORLD_MAX_ECON)
        return sl_set_error(SL_ERR_ARG, "world data: %d econ columns (max %d)", n_econ,
                            SL_WORLD_MAX_ECON);
    size_t nz = ds->n * (size_t)z_dim;
    if (!sl_all_finite_f32(z, nz) || !sl_all_finite_f32(z_next, nz)) {
        for (size_t i = 0; i < nz; i++)
            if (!isfinite(z[i]) || !isfinite(z_next[i]))
                return sl_set_error(SL_ERR_NAN, "world data: non-finite latent at row %zu, dim %zu",
                                    i / (size_t)z_dim, i % (size_t)z_dim);
    }
    /* Episode ranges from episode_ids: contiguous, 0-based, no empty episode. */
    size_t ne = ds->n_episodes;
    if (ne == 0) return sl_set_error(SL_ERR_ARG, "world data: dataset has no episodes");
    d->ep_start = calloc(ne + 1, sizeof(size_t));
    if (!d->ep_start) return sl_set_error(SL_ERR_NOMEM, "world data: out of memory");
    size_t e = 0;
    d->ep_start[0] = 0;
    for (size_t r = 0; r < ds->n; r++) {
        int32_t id = ds->episode_ids[r];
        if (id < 0 || (size_t)id >= ne || (size_t)id < e) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_FORMAT, "world data: episode id %d at row %zu out of order",
                                (int)id, r);
        }
        if ((size_t)id > e + 1 || ((size_t)id == e + 1 && r == 0)) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_ARG, "world data: episode %zu is empty (row %zu jumps to "
                                "episode %d)", (size_t)id == e + 1 ? e : e + 1, r, (int)id);
        }
        if ((size_t)id == e + 1) d->ep_start[++e] = r;
    }
    if (e + 1 != ne) {
        sl_world_data_clear(d);
        return sl_set_error(SL_ERR_ARG, "world data: episode %zu is empty (dataset says %zu "
                            "episodes, rows cover %zu)", e + 1, ne, e + 1);
    }
    d->ep_start[ne] = ds->n;
    d->n = ds->n;
    d->n_episodes = ne;
    d->z_dim = z_dim;
    d->a_dim = ds->act_dim;
    d->z = z;
    d->z_next = z_next;
    d->actions = ds->actions;
    d->rewards = ds->rewards;
    d->ds = ds;
    for (int i = 0; i < n_econ; i++) {
        const float *col = sl_dataset_step_col(ds, econ_names[i]);
        if (!col) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_NOTFOUND, "world data: dataset has no step column '%s'",
                                econ_names[i]);
        }
        d->econ[i] = col;
        snprintf(d->econ_names[i], SL_WORLD_NAME_MAX, "%s", econ_names[i]);
    }
    d->n_econ = n_econ;
    d->step_seconds = 0.1;
    const double *sim = sl_dataset_ep_col(ds, "sim_seconds");
    if (sim) {
        double tot = 0;
        for (size_t i = 0; i < ne; i++) tot += sim[i];
        if (isfinite(tot) && tot > 0) d->step_seconds = tot / (double)ds->n;
    }
    return SL_OK;
}

void sl_world_data_clear(sl_world_data *d) {
    if (!d) return;
    free(d->ep_start);
    memset(d, 0, sizeof *d);
}

size_t sl_world_data_ep_len(const sl_world_data *d, size_t e) {
    return d->ep_start[e + 1] - d->ep_start[e];
}

size_t sl_world_row_episode(const sl_world_data *d, size_t r) {
    size_t lo = 0, hi = d->n_episodes; /* ep_start[lo] <= r < ep_start[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (d->ep_start[mid] <= r)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

sl_status sl_world_load_latents(const char *path, const sl_dataset *ds, float **z,
                                float **z_next, size_t *n, int *z_dim) {
    *z = *z_next = NULL;
    sl_npz *f;
    SL_TRY(sl_npz_open(&f, path));
    const sl_array *la, *na = NULL;
    sl_status st = sl_npz_get(f, "latents", &la);
    if (st != SL_OK) {
        sl_npz_close(f);
        return sl_set_error(st, "%s: no array 'latents' (expected f4 [n, z]; is this an encoder "
                            "output?)", path);
    }
    if (la->dtype != SL_DTYPE_F32 || la->ndim != 2 || la->shape[1] < 2) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_SHAPE, "%s: 'latents' must be f4 [n, z >= 2]", path);
    }
    size_t rows = la->shape[0], zd = la->shape[1];
    if (ds && rows != ds->n) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_SHAPE, "%s: latents have %zu rows, dataset has %zu", path,
                            rows, ds->n);
    }
    if (sl_npz_has(f, "next_latents")) {
        st = sl_npz_get(f, "next_latents", &na);
        if (st != SL_OK) {
            sl_npz_close(f);
            return st;
        }
        if (na->dtype != SL_DTYPE_F32 || na->ndim != 2 || na->shape[0] != rows ||
            na->shape[1] != zd) {
            sl_npz_close(f);
            return sl_set_error(SL_ERR_SHAPE, "%s: 'next_latents' must be f4 [%zu, %zu]", path,
                                rows, zd);
        }
    } else if (!ds) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_NOTFOUND, "%s: no 'next_latents' and no dataset to derive "
                            "them", path);
    }
    size_t bytes = rows * zd * sizeof(float);
    *z = malloc(bytes ? bytes : 1);
    *z_next = malloc(bytes ? bytes : 1);
    if (!*z || !*z_next) {
        free(*z);
        free(*z_next);
        *z = *z_next = NULL;
        sl_npz_close(f);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for latents", path);
    }
    memcpy(*z, la->data, bytes);
    if (na) {
        memcpy(*z_next, na->data, bytes);
    } else {
        for (size_t r = 0; r < rows; r++) {
            int last = r + 1 == rows || ds->episode_ids[r + 1] != ds->episode_ids[r];
            if (last) {
                free(*z);
                free(*z_next);
                *z = *z_next = NULL;
                sl_npz_close(f);
                return sl_set_error(SL_ERR_NOTFOUND, "%s: no 'next_latents' and row %zu ends an "
                                    "episode, so its next latent is unknown", path, r);
            }
            memcpy(*z_next + r * zd, *z + (r + 1) * zd, zd * sizeof(float));
        }
    }
    sl_npz_close(f);
    *n = rows;
    *z_dim = (int)zd;
    return SL_OK;
}
