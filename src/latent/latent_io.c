/* SPDX-License-Identifier: Apache-2.0 */
/* latent_io.c - latents NPZ files and the seed-001 latent statistics table.
 *
 * Invariant: a latents file holds f4 "latents" [n, z] (+ optional "next_latents" of the same
 * shape and i4 "episode_ids" [n]); nothing non-finite is ever written or accepted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_npz.h"

sl_status sl_latents_save_npz(const char *path, const float *z, const float *next_z,
                              const int32_t *episode_ids, size_t n, int z_dim) {
    if (!path || (!z && n) || z_dim < 1)
        return sl_set_error(SL_ERR_ARG, "latents save: bad argument");
    size_t cnt;
    SL_TRY(sl_mul_size(n, (size_t)z_dim, &cnt));
    if (!sl_all_finite_f32(z, cnt))
        return sl_set_error(SL_ERR_NAN, "%s: latents hold NaN/Inf; nothing written", path);
    if (next_z && !sl_all_finite_f32(next_z, cnt))
        return sl_set_error(SL_ERR_NAN, "%s: next_latents hold NaN/Inf; nothing written", path);
    sl_npz_writer *w;
    SL_TRY(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    size_t shape[2] = {n, (size_t)z_dim};
    sl_status st = sl_npz_writer_add(w, "latents", SL_DTYPE_F32, 2, shape, z);
    if (st == SL_OK && next_z) st = sl_npz_writer_add(w, "next_latents", SL_DTYPE_F32, 2, shape, next_z);
    if (st == SL_OK && episode_ids)
        st = sl_npz_writer_add(w, "episode_ids", SL_DTYPE_I32, 1, shape, episode_ids);
    if (st != SL_OK) {
        sl_npz_writer_abort(w);
        return st;
    }
    return sl_npz_writer_commit(w);
}

/* Copy a finite f4 [n, d] array out of z. */
static sl_status get_f4_2d(sl_npz *zf, const char *path, const char *key, size_t *n, size_t *d,
                           float **out) {
    const sl_array *a;
    sl_status st = sl_npz_get(zf, key, &a);
    if (st != SL_OK) return sl_set_error(st, "%s: %s", path, sl_last_error());
    if (a->dtype != SL_DTYPE_F32)
        return sl_set_error(SL_ERR_DTYPE, "%s: '%s' has dtype %s, expected <f4", path, key,
                            sl_dtype_numpy(a->dtype));
    if (a->ndim != 2 || a->shape[1] < 1)
        return sl_set_error(SL_ERR_SHAPE, "%s: '%s' must be 2-d [n, z_dim] with z_dim >= 1", path,
                            key);
    const float *x = a->data;
    for (size_t i = 0; i < a->count; i++)
        if (!isfinite(x[i]))
            return sl_set_error(SL_ERR_NAN, "%s: '%s' row %zu column %zu is not finite", path, key,
                                i / a->shape[1], i % a->shape[1]);
    float *c = malloc(a->count ? a->count * sizeof(float) : 1);
    if (!c) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(c, a->data, a->count * sizeof(float));
    *n = a->shape[0];
    *d = a->shape[1];
    *out = c;
    return SL_OK;
}

sl_status sl_latents_load_npz(const char *path, size_t expect_n, float **z, float **next_z,
                              int32_t **episode_ids, size_t *n, int *z_dim) {
    if (!path || !z || !n || !z_dim) return sl_set_error(SL_ERR_ARG, "latents load: NULL argument");
    *z = NULL;
    if (next_z) *next_z = NULL;
    if (episode_ids) *episode_ids = NULL;
    sl_npz *zf;
    SL_TRY(sl_npz_open(&zf, path));
    size_t rn = 0, rd = 0, nn = 0, nd = 0;
    float *za = NULL, *zb = NULL;
    int32_t *ids = NULL;
    sl_status st = get_f4_2d(zf, path, "latents", &rn, &rd, &za);
    if (st == SL_OK && rd > 4096)
        st = sl_set_error(SL_ERR_SHAPE, "%s: z_dim %zu too large", path, rd);
    if (st == SL_OK && expect_n > 0 && rn != expect_n)
        st = sl_set_error(SL_ERR_SHAPE, "%s: 'latents' has %zu rows but the dataset has %zu: the "
                          "latents do not belong to this dataset", path, rn, expect_n);
    if (st == SL_OK && next_z && sl_npz_has(zf, "next_latents")) {
        st = get_f4_2d(zf, path, "next_latents", &nn, &nd, &zb);
        if (st == SL_OK && (nn != rn || nd != rd))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'next_latents' is [%zu, %zu] but 'latents' is "
                              "[%zu, %zu]", path, nn, nd, rn, rd);
    }
    if (st == SL_OK && episode_ids && sl_npz_has(zf, "episode_ids")) {
        const sl_array *a;
        st = sl_npz_get(zf, "episode_ids", &a);
        if (st == SL_OK && (a->ndim != 1 || a->shape[0] != rn))
            st = sl_set_error(SL_ERR_SHAPE, "%s: 'episode_ids' must be [%zu]", path, rn);
        if (st == SL_OK && a->dtype != SL_DTYPE_I32 && a->dtype != SL_DTYPE_I64)
            st = sl_set_error(SL_ERR_DTYPE, "%s: 'episode_ids' must be <i4 or <i8", path);
        if (st == SL_OK && !(ids = malloc(rn ? rn * sizeof(int32_t) : 1)))
            st = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; st == SL_OK && i < rn; i++) {
            int64_t v = a->dtype == SL_DTYPE_I32 ? ((const int32_t *)a->data)[i]
                                                 : ((const int64_t *)a->data)[i];
            int64_t prev = i ? ids[i - 1] : 0;
            if (v < prev || v > prev + 1 || (i == 0 && v != 0))
                st = sl_set_error(SL_ERR_FORMAT, "%s: 'episode_ids' row %zu is %lld: ids must start "
                                  "at 0 and grow by 0 or 1", path, i, (long long)v);
            else
                ids[i] = (int32_t)v;
        }
    }
    sl_npz_close(zf);
    if (st != SL_OK) {
        free(za);
        free(zb);
        free(ids);
        return st;
    }
    *z = za;
    if (next_z) *next_z = zb;
    if (episode_ids) *episode_ids = ids;
    *n = rn;
    *z_dim = (int)rd;
    return SL_OK;
}

/* --- statistics --------------------------------------------------------------------- */

sl_status sl_latent_compute_stats(const float *z, const int32_t *ids, size_t n, int D,
                                  sl_latent_stats *out) {
    if (!z || !ids || !out || D < 1) return sl_set_error(SL_ERR_ARG, "latent stats: bad argument");
    if (n == 0) return sl_set_error(SL_ERR_ARG, "latent stats: no rows");
    if (!sl_all_finite_f32(z, n * (size_t)D))
        return sl_set_error(SL_ERR_NAN, "latent stats: latents hold NaN/Inf");
    memset(out, 0, sizeof *out);
    out->n_rows = n;
    out->z_dim = D;
    out->min = INFINITY;
    out->max = -INFINITY;
    /* per-episode means/stds, then their spread (running sums over episodes) */
    double sm = 0, smm = 0, ss = 0, sss = 0;
    size_t ne = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && ids[b] == ids[a]) b++;
        if (b < n && ids[b] < ids[a])
            return sl_set_error(SL_ERR_FORMAT, "latent stats: episode_ids decrease at row %zu", b);
        size_t cnt = (b - a) * (size_t)D;
        const float *x = z + a * (size_t)D;
        double mu = 0.0;
        for (size_t i = 0; i < cnt; i++) {
            double xi = (double)x[i];
            mu += xi;
            if (xi < out->min) out->min = xi;
            if (xi > out->max) out->max = xi;
        }
        mu /= (double)cnt;
        double v = 0.0;
        for (size_t i = 0; i < cnt; i++) v += ((double)x[i] - mu) * ((double)x[i] - mu);
        double sd = sqrt(v / (double)cnt);
        sm += mu;
        smm += mu * mu;
        ss += sd;
        sss += sd * sd;
        ne++;
        a = b;
    }
    out->n_episodes = ne;
    out->ep_mean_mean = sm / (double)ne;
    out->ep_std_mean = ss / (double)ne;
    /* second pass-free variance is fine at this scale, but guard tiny negatives */
    double vm = smm / (double)ne - out->ep_mean_mean * out->ep_mean_mean;
    double vs = sss / (double)ne - out->ep_std_mean * out->ep_std_mean;
    out->ep_mean_std = vm > 0 ? sqrt(vm) : 0.0;
    out->ep_std_std = vs > 0 ? sqrt(vs) : 0.0;
    /* per-dim std over all rows */
    double acc = 0.0;
    for (int d = 0; d < D; d++) {
        double mu = 0.0, v = 0.0;
        for (size_t r = 0; r < n; r++) mu += (double)z[r * (size_t)D + d];
        mu /= (double)n;
        for (size_t r = 0; r < n; r++) {
            double t = (double)z[r * (size_t)D + d] - mu;
            v += t * t;
        }
        acc += sqrt(v / (double)n);
    }
    out->dim_std_mean = acc / D;
    return SL_OK;
}

void sl_latent_stats_print(FILE *fp, const char *title, const sl_latent_stats *s) {
    fprintf(fp, "%s (%zu episodes, %zu steps, %d dims):\n", title, s->n_episodes, s->n_rows,
            s->z_dim);
    fprintf(fp, "  Mean: %.4g \u00b1 %.4g\n", s->ep_mean_mean, s->ep_mean_std);
    fprintf(fp, "  Std:  %.4g \u00b1 %.4g\n", s->ep_std_mean, s->ep_std_std);
    fprintf(fp, "  Range: [%.4g, %.4g]\n", s->min, s->max);
    fprintf(fp, "  Per-dim std (all rows, mean over dims): %.4g\n", s->dim_std_mean);
}

void sl_latent_stats_to_json(cJSON *obj, const char *key, const sl_latent_stats *s) {
    cJSON *j = cJSON_AddObjectToObject(obj, key);
    if (!j) return;
    cJSON_AddNumberToObject(j, "n_rows", (double)s->n_rows);
    cJSON_AddNumberToObject(j, "n_episodes", (double)s->n_episodes);
    cJSON_AddNumberToObject(j, "z_dim", s->z_dim);
    cJSON_AddNumberToObject(j, "episode_mean_mean", s->ep_mean_mean);
    cJSON_AddNumberToObject(j, "episode_mean_std", s->ep_mean_std);
    cJSON_AddNumberToObject(j, "episode_std_mean", s->ep_std_mean);
    cJSON_AddNumberToObject(j, "episode_std_std", s->ep_std_std);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    cJSON_AddNumberToObject(j, "dim_std_mean", s->dim_std_mean);
}
