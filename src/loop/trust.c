/* SPDX-License-Identifier: Apache-2.0 */
/* trust.c - trust_net's inputs and scoring as library calls: window files, real latents with
 * their episode ids, windows cut from episodes, scores of windows of mixed lengths and the
 * pass rates at each gate preset's floor.
 * Invariant: a non-finite window is reported as non-finite (NaN score, fin = 0), never as a
 * number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_loop.h"
#include "synthloop/sl_npz.h"

void sl_loop_windows_free(sl_loop_windows *w) {
    if (!w) return;
    free(w->z);
    free(w->off);
    free(w->episode);
    free(w->start);
    memset(w, 0, sizeof *w);
}

sl_status sl_loop_windows_load(const char *path, int finite_only, sl_loop_windows *w) {
    memset(w, 0, sizeof *w);
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL, *l = NULL;
    sl_status st = SL_OK;
    if (sl_npz_has(z, "windows")) {
        st = sl_npz_get(z, "windows", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 3 || a->shape[1] < 2 ||
                            a->shape[2] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows' must be f4 [N, T >= 2, D]", path);
        if (st == SL_OK) {
            w->n = a->shape[0];
            w->D = (int)a->shape[2];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            for (size_t i = 0; st == SL_OK && i <= w->n; i++) w->off[i] = i * a->shape[1];
        }
    } else if (sl_npz_has(z, "windows_flat")) {
        st = sl_npz_get(z, "windows_flat", &a);
        if (st == SL_OK && (a->dtype != SL_DTYPE_F32 || a->ndim != 2 || a->shape[1] < 1))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'windows_flat' must be f4 [M, D]", path);
        if (st == SL_OK) st = sl_npz_get(z, "window_lengths", &l);
        if (st == SL_OK && (l->ndim != 1 || (l->dtype != SL_DTYPE_I32 && l->dtype != SL_DTYPE_I64)))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'window_lengths' must be i4/i8 [N]", path);
        if (st == SL_OK) {
            w->n = l->shape[0];
            w->D = (int)a->shape[1];
            w->off = malloc((w->n + 1) * sizeof(size_t));
            if (!w->off) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            else w->off[0] = 0;
            for (size_t i = 0; st == SL_OK && i < w->n; i++) {
                int64_t v = l->dtype == SL_DTYPE_I32 ? ((const int32_t *)l->data)[i]
                                                     : ((const int64_t *)l->data)[i];
                if (v < 2) st = sl_set_error(SL_ERR_FORMAT, "%s: window_lengths[%zu] = %lld < 2",
                                             path, i, (long long)v);
                else w->off[i + 1] = w->off[i] + (size_t)v;
            }
            if (st == SL_OK && w->off[w->n] != a->shape[0])
                st = sl_set_error(SL_ERR_SHAPE, "%s: window_lengths sum to %zu but windows_flat has "
                                  "%zu rows", path, w->off[w->n], a->shape[0]);
        }
    } else {
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: neither 'windows' nor 'windows_flat' present", path);
    }
    if (st == SL_OK && w->n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no windows", path);
    if (st == SL_OK) {
        w->z = malloc(a->count ? a->count * sizeof(float) : 1);
        if (!w->z) st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        else memcpy(w->z, a->data, a->count * sizeof(float));
        for (size_t i = 0; st == SL_OK && finite_only && i < a->count; i++)
            if (!isfinite(w->z[i]))
                st = sl_set_error(SL_ERR_NAN, "%s: window value at row %zu dim %zu is not finite",
                                  path, i / (size_t)w->D, i % (size_t)w->D);
    }
    sl_npz_close(z);
    if (st != SL_OK) sl_loop_windows_free(w);
    return st;
}

/* Real latents + episode ids (from dpath if given, else from the latents file). */
sl_status sl_loop_trust_latents_load(const char *zpath, const char *dpath, float **z, int32_t **ids,
                                      size_t *n, int *D, char sha[65]) {
    sl_dataset *ds = NULL;
    size_t expect = 0;
    sha[0] = 0;
    if (dpath) {
        SL_TRY(sl_dataset_load_npz(&ds, dpath));
        expect = ds->n;
        sl_status st = sl_sha256_file(dpath, sha);
        if (st != SL_OK) {
            sl_dataset_free(ds);
            return st;
        }
    }
    sl_status st = sl_latents_load_npz(zpath, expect, z, NULL, ids, n, D);
    if (st == SL_OK && ds) {
        free(*ids);
        *ids = malloc(ds->n * sizeof(int32_t));
        if (!*ids) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else memcpy(*ids, ds->episode_ids, ds->n * sizeof(int32_t));
    }
    if (st == SL_OK && !*ids)
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: no 'episode_ids'; pass --data D.npz", zpath);
    if (st == SL_OK && *n == 0) st = sl_set_error(SL_ERR_ARG, "%s: no rows", zpath);
    if (st != SL_OK) {
        free(*z);
        free(*ids);
        *z = NULL;
        *ids = NULL;
    }
    sl_dataset_free(ds);
    return st;
}

sl_status sl_loop_windows_cut(const float *z, const int32_t *ids, size_t n, int D, int T, int S,
                              sl_loop_windows *w) {
    memset(w, 0, sizeof *w);
    if (T < 2 || S < 1) return sl_set_error(SL_ERR_ARG, "windows: length %d / stride %d", T, S);
    size_t cnt = 0;
    sl_status st = SL_OK;
    for (int pass = 0; st == SL_OK && pass < 2; pass++) {
        cnt = 0;
        for (size_t a = 0; a < n;) {
            size_t b = a;
            while (b < n && ids[b] == ids[a]) b++;
            for (size_t s0 = a; s0 + (size_t)T <= b; s0 += (size_t)S, cnt++)
                if (pass == 1) {
                    memcpy(w->z + cnt * (size_t)T * (size_t)D, z + s0 * (size_t)D,
                           (size_t)T * (size_t)D * sizeof(float));
                    w->off[cnt] = cnt * (size_t)T;
                    w->episode[cnt] = ids[a];
                    w->start[cnt] = (int32_t)(s0 - a);
                }
            a = b;
        }
        if (pass == 0) {
            if (!cnt) return sl_set_error(SL_ERR_ARG, "no episode has %d steps for a window", T);
            w->n = cnt;
            w->D = D;
            w->z = malloc(cnt * (size_t)T * (size_t)D * sizeof(float));
            w->off = malloc((cnt + 1) * sizeof(size_t));
            w->episode = malloc(cnt * sizeof(int32_t));
            w->start = malloc(cnt * sizeof(int32_t));
            if (!w->z || !w->off || !w->episode || !w->start)
                st = sl_set_error(SL_ERR_NOMEM, "windows: out of memory");
        } else {
            w->off[cnt] = cnt * (size_t)T;
        }
    }
    if (st != SL_OK) sl_loop_windows_free(w);
    return st;
}

sl_status sl_loop_trust_score(sl_trust_model *m, const sl_loop_windows *w, double *p,
                              uint8_t *fin) {
    if (w->D != sl_trust_model_dim(m))
        return sl_set_error(SL_ERR_SHAPE, "windows have %d dims, the model expects %d", w->D,
                            sl_trust_model_dim(m));
    /* score runs of equal length together */
    for (size_t i = 0; i < w->n;) {
        size_t len = w->off[i + 1] - w->off[i], j = i + 1;
        while (j < w->n && w->off[j + 1] - w->off[j] == len) j++;
        SL_TRY(sl_trust_score_windows(m, w->z + w->off[i] * (size_t)w->D, j - i, (int)len, w->D,
                                      p + i));
        i = j;
    }
    for (size_t i = 0; i < w->n; i++) fin[i] = !isnan(p[i]);
    return SL_OK;
}

void sl_loop_trust_pass_rates(const double *p, const uint8_t *fin, size_t n,
                              double rates[SL_GATE_PRESET_COUNT]) {
    for (int k = 0; k < SL_GATE_PRESET_COUNT; k++) {
        sl_gate g = sl_gate_from_preset((sl_gate_preset)k);
        size_t pass = 0;
        for (size_t i = 0; i < n; i++) pass += fin[i] && p[i] >= g.trust_floor;
        rates[k] = n ? (double)pass / (double)n : 0.0;
    }
}
