/* SPDX-License-Identifier: Apache-2.0 */
/* bricks.c - data bricks: episodes clustered by their features (latent statistics, econ
 * metrics, conditions), with an econ profile per brick and the manifest JSON.
 *
 * Key invariant: every episode of the dataset gets exactly one brick id in [0, k), every brick
 * holds at least one episode, and the result is a pure function of (dataset, latents, config)
 * (see sl_bricks.h on reproducibility).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_bricks.h"

static const char *const econ_names[SL_BRICK_ECON_COUNT] = {"mpl", "error_rate", "energy_wh", "ep"};
_Static_assert(SL_BRICK_ECON_COUNT == 4, "econ_names must list every metric");

const char *sl_brick_econ_name(sl_brick_econ m) {
    if ((int)m < 0 || m >= SL_BRICK_ECON_COUNT) return "?";
    return econ_names[m];
}

void sl_bricks_config_default(sl_bricks_config *c) {
    memset(c, 0, sizeof *c);
    c->k = 0;
    c->k_min = 2;
    c->k_max = 8;
    c->n_init = 10;
    c->max_iter = 300;
    c->tol = 1e-4;
    c->seed = 0;
    c->silhouette_max_n = 2000;
    c->use_econ = 1;
}

void sl_bricks_free(sl_bricks *b) {
    if (!b) return;
    free(b->feat_names);
    free(b->feat_mean);
    free(b->feat_std);
    free(b->features);
    free(b->brick_of_episode);
    free(b->distance);
    free(b->centroids);
    free(b->count);
    free(b->econ_mean);
    free(b->econ_std);
    free(b);
}

static int is_econ(const char *name) {
    for (int m = 0; m < SL_BRICK_ECON_COUNT; m++)
        if (strcmp(name, econ_names[m]) == 0) return 1;
    return 0;
}

/* Episode columns never used as conditions: our own output. */
static int is_excluded(const char *name) { return strcmp(name, "brick_id") == 0; }

/* --- features ------------------------------------------------------------ */

static sl_status build_features(sl_bricks *b, const sl_dataset *ds, const float *lat, int zd,
                                const sl_bricks_config *cfg) {
    size_t ne = ds->n_episodes;
    const float *src = lat ? lat : ds->observations;
    int sd = lat ? zd : ds->obs_dim;
    const char *pre = lat ? "z" : "obs";
    int nf = 2 * sd;
    int n_econ = 0, n_cond = 0;
    for (int c = 0; c < ds->n_ep_cols; c++) {
        const char *nm = ds->ep_cols[c].name;
        if (is_excluded(nm)) continue;
        if (is_econ(nm)) n_econ += cfg->use_econ;
        else n_cond++;
    }
    nf += n_econ + n_cond;
    if (nf > SL_BRICKS_MAX_FEATS)
        return sl_set_error(SL_ERR_RANGE,
                            "bricks: %d episode features exceed the limit of %d (%s dim %d gives "
                            "%d); pass lower-dimensional latents",
                            nf, SL_BRICKS_MAX_FEATS, pre, sd, 2 * sd);
    b->n_feat = nf;
    b->latent_dim = lat ? zd : 0;
    b->feat_names = calloc((size_t)nf, sizeof *b->feat_names);
    b->feat_mean = calloc((size_t)nf, sizeof(double));
    b->feat_std = calloc((size_t)nf, sizeof(double));
    b->features = calloc(ne * (size_t)nf, sizeof(double));
    if (!b->feat_names || !b->feat_mean || !b->feat_std || !b->features)
        return sl_set_error(SL_ERR_NOMEM, "bricks: out of memory for features");
    for (int j = 0; j < sd; j++) {
        snprintf(b->feat_names[j], SL_BRICKS_FEAT_NAME, "%s_mean_%d", pre, j);
        snprintf(b->feat_names[sd + j], SL_BRICKS_FEAT_NAME, "%s_std_%d", pre, j);
    }
    for (size_t e = 0; e < ne; e++) {
        size_t r0, r1;
        SL_TRY(sl_dataset_episode_range(ds, e, &r0, &r1));
        double *f = b->features + e * (size_t)nf;
        double cnt = (double)(r1 - r0);
        for (int j = 0; j < sd; j++) {
            double m = 0, v = 0;
            for (size_t r = r0; r < r1; r++) m += (double)src[r * (size_t)sd + (size_t)j];
            m = cnt > 0 ? m / cnt : 0;
            for (size_t r = r0; r < r1; r++) {
                double d = (double)src[r * (size_t)sd + (size_t)j] - m;
                v += d * d;
            }
            f[j] = m;
            f[sd + j] = cnt > 0 ? sqrt(v / cnt) : 0;
        }
    }
    int col = 2 * sd;
    /* econ metrics first (in enum order), then conditions (in column order) */
    if (cfg->use_econ)
        for (int m = 0; m < SL_BRICK_ECON_COUNT; m++) {
            const double *x = sl_dataset_ep_col(ds, econ_names[m]);
            if (!x) continue;
            snprintf(b->feat_names[col], SL_BRICKS_FEAT_NAME, "econ_%s", econ_names[m]);
            for (size_t e = 0; e < ne; e++) b->features[e * (size_t)nf + (size_t)col] = x[e];
            col++;
        }
    for (int c = 0; c < ds->n_ep_cols; c++) {
        const char *nm = ds->ep_cols[c].name;
        if (is_excluded(nm) || is_econ(nm)) continue;
        const double *x = ds->ep_cols[c].data;
        snprintf(b->feat_names[col], SL_BRICKS_FEAT_NAME, "cond_%s", nm);
        for (size_t e = 0; e < ne; e++) b->features[e * (size_t)nf + (size_t)col] = x[e];
        col++;
    }
    if (col != nf) return sl_set_error(SL_ERR_INTERNAL, "bricks: feature count %d != %d", col, nf);
    if (!sl_all_finite_f64(b->features, ne * (size_t)nf))
        return sl_set_error(SL_ERR_NAN, "bricks: episode features hold NaN or Inf");
    return sl_standardize_columns(b->features, ne, nf, b->feat_mean, b->feat_std);
}

/* --- clustering ---------------------------------------------------------- */

/* Silhouette of km's labelling on the rows listed in idx (all rows when idx is NULL). */
static sl_status subset_silhouette(const double *x, size_t n, int dim, const int32_t *labels,
                                   int k, const size_t *idx, size_t m, double *out) {
    if (!idx) return sl_silhouette(x, n, dim, labels, k, out);
    double *xs = malloc(m * (size_t)dim * sizeof(double));
    int32_t *ls = malloc(m * sizeof(int32_t));
    sl_status s = SL_OK;
    if (!xs || !ls) s = sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
    for (size_t i = 0; s == SL_OK && i < m; i++) {
        memcpy(xs + i * (size_t)dim, x + idx[i] * (size_t)dim, (size_t)dim * sizeof(double));
        ls[i] = labels[idx[i]];
    }
    if (s == SL_OK) s = sl_silhouette(xs, m, dim, ls, k, out);
    free(xs);
    free(ls);
    return s;
}

static sl_status cluster(sl_bricks *b, const sl_bricks_config *cfg, sl_kmeans *best) {
    size_t ne = b->n_episodes;
    int nf = b->n_feat;
    sl_kmeans_config kc;
    sl_kmeans_config_default(&kc);
    kc.n_init = cfg->n_init;
    kc.max_iter = cfg->max_iter;
    kc.tol = cfg->tol;
    kc.seed = cfg->seed;
    b->silhouette = NAN;
    if (cfg->k > 0) {
        if ((size_t)cfg->k > ne)
            return sl_set_error(SL_ERR_ARG, "bricks: k = %d but the dataset has only %zu episodes",
                                cfg->k, ne);
        kc.k = cfg->k;
        SL_TRY(sl_kmeans_fit(best, b->features, ne, nf, &kc));
        if (cfg->k >= 2 && (size_t)cfg->k < ne) {
            double sil;
            if (sl_silhouette(b->features, ne, nf, best->labels, cfg->k, &sil) == SL_OK)
                b->silhouette = sil;
            sl_clear_error();
        }
        return SL_OK;
    }
    int kmin = cfg->k_min < 2 ? 2 : cfg->k_min;
    int kmax = cfg->k_max;
    if (ne >= 1 && (size_t)kmax > ne - 1) kmax = (int)(ne - 1);
    if (kmax - kmin + 1 > 16) kmax = kmin + 15;
    if (kmax < kmin)
        return sl_set_error(SL_ERR_ARG,
                            "bricks: choosing k by silhouette needs at least %d episodes (have "
                            "%zu); pass --k",
                            kmin + 1, ne);
    /* a fixed seeded subsample for the silhouette when there are many episodes */
    size_t *idx = NULL, m = ne;
    if (cfg->silhouette_max_n >= 3 && ne > cfg->silhouette_max_n) {
        idx = malloc(ne * sizeof *idx);
        if (!idx) return sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
        for (size_t i = 0; i < ne; i++) idx[i] = i;
        sl_rng rng;
        sl_rng_seed(&rng, cfg->seed, 0x51u);
        sl_rng_shuffle(&rng, idx, ne);
        m = cfg->silhouette_max_n;
    }
    sl_status s = SL_OK;
    double best_sil = -INFINITY;
    int have = 0;
    for (int k = kmin; k <= kmax && s == SL_OK; k++) {
        sl_kmeans km;
        kc.k = k;
        s = sl_kmeans_fit(&km, b->features, ne, nf, &kc);
        if (s != SL_OK) break;
        double sil = NAN;
        if (subset_silhouette(b->features, ne, nf, km.labels, k, idx, m, &sil) != SL_OK) sil = NAN;
        sl_clear_error();
        b->score_k[b->n_scores] = k;
        b->score_silhouette[b->n_scores++] = sil;
        if (isfinite(sil) && sil > best_sil) { /* strict: the smaller k wins ties */
            best_sil = sil;
            sl_kmeans_clear(best);
            *best = km;
            have = 1;
        } else {
            sl_kmeans_clear(&km);
        }
    }
    free(idx);
    if (s != SL_OK) return s;
    b->k_chosen_by_silhouette = 1;
    if (!have) { /* features do not split (e.g. all episodes identical): one brick */
        kc.k = 1;
        SL_TRY(sl_kmeans_fit(best, b->features, ne, nf, &kc));
        return SL_OK;
    }
    b->silhouette = best_sil;
    return SL_OK;
}

sl_status sl_bricks_fit(sl_bricks **out, const sl_dataset *ds, const float *latents, int z_dim,
                        const sl_bricks_config *cfg_in) {
    if (!out || !ds) return sl_set_error(SL_ERR_ARG, "sl_bricks_fit: NULL argument");
    *out = NULL;
    sl_bricks_config cfg;
    if (cfg_in) cfg = *cfg_in;
    else sl_bricks_config_default(&cfg);
    if (ds->n_episodes == 0 || ds->n == 0)
        return sl_set_error(SL_ERR_ARG, "bricks: the dataset has no episodes");
    if (latents && z_dim <= 0)
        return sl_set_error(SL_ERR_ARG, "bricks: latent dimension %d must be > 0", z_dim);
    if (cfg.k < 0) return sl_set_error(SL_ERR_ARG, "bricks: k = %d must be >= 0", cfg.k);
    sl_bricks *b = calloc(1, sizeof *b);
    if (!b) return sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
    b->n_episodes = ds->n_episodes;
    sl_kmeans km = {0};
    sl_status s = build_features(b, ds, latents, z_dim, &cfg);
    if (s == SL_OK) s = cluster(b, &cfg, &km);
    size_t ne = b->n_episodes;
    if (s == SL_OK) {
        b->k = km.k;
        b->inertia = km.inertia;
        b->brick_of_episode = malloc(ne * sizeof(int32_t));
        b->distance = malloc(ne * sizeof(double));
        b->centroids = malloc((size_t)km.k * (size_t)b->n_feat * sizeof(double));
        b->count = calloc((size_t)km.k, sizeof(size_t));
        b->econ_mean = calloc((size_t)km.k * SL_BRICK_ECON_COUNT, sizeof(double));
        b->econ_std = calloc((size_t)km.k * SL_BRICK_ECON_COUNT, sizeof(double));
        if (!b->brick_of_episode || !b->distance || !b->centroids || !b->count || !b->econ_mean ||
            !b->econ_std)
            s = sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
    }
    if (s == SL_OK) {
        int nf = b->n_feat;
        memcpy(b->brick_of_episode, km.labels, ne * sizeof(int32_t));
        memcpy(b->centroids, km.centroids, (size_t)km.k * (size_t)nf * sizeof(double));
        for (size_t e = 0; e < ne; e++) {
            int l = km.labels[e];
            b->count[l]++;
            double d = 0;
            for (int j = 0; j < nf; j++) {
                double t = b->features[e * (size_t)nf + (size_t)j] - b->centroids[(size_t)l * nf + j];
                d += t * t;
            }
            b->distance[e] = sqrt(d);
        }
        for (int m = 0; m < SL_BRICK_ECON_COUNT; m++) {
            const double *x = sl_dataset_ep_col(ds, econ_names[m]);
            b->econ_present[m] = x != NULL;
            if (!x) continue;
            for (size_t e = 0; e < ne; e++)
                b->econ_mean[(size_t)km.labels[e] * SL_BRICK_ECON_COUNT + (size_t)m] += x[e];
            for (int c = 0; c < b->k; c++)
                if (b->count[c]) b->econ_mean[(size_t)c * SL_BRICK_ECON_COUNT + (size_t)m] /= (double)b->count[c];
            for (size_t e = 0; e < ne; e++) {
                size_t q = (size_t)km.labels[e] * SL_BRICK_ECON_COUNT + (size_t)m;
                double d = x[e] - b->econ_mean[q];
                b->econ_std[q] += d * d;
            }
            for (int c = 0; c < b->k; c++) {
                size_t q = (size_t)c * SL_BRICK_ECON_COUNT + (size_t)m;
                b->econ_std[q] = b->count[c] ? sqrt(b->econ_std[q] / (double)b->count[c]) : 0;
            }
        }
        for (int c = 0; c < b->k; c++)
            if (b->count[c] == 0)
                s = sl_set_error(SL_ERR_INTERNAL, "bricks: brick %d is empty", c);
    }
    sl_kmeans_clear(&km);
    if (s != SL_OK) {
        sl_bricks_free(b);
        return s;
    }
    *out = b;
    return SL_OK;
}

sl_status sl_bricks_row_ids(const sl_bricks *b, const sl_dataset *ds, int32_t *out) {
    if (!b || !ds || !out) return sl_set_error(SL_ERR_ARG, "sl_bricks_row_ids: NULL argument");
    if (ds->n_episodes != b->n_episodes)
        return sl_set_error(SL_ERR_SHAPE, "bricks: %zu episodes in the bricks, %zu in the dataset",
                            b->n_episodes, ds->n_episodes);
    for (size_t i = 0; i < ds->n; i++) {
        int32_t e = ds->episode_ids[i];
        if (e < 0 || (size_t)e >= b->n_episodes)
            return sl_set_error(SL_ERR_RANGE, "bricks: row %zu has episode id %d", i, e);
        out[i] = b->brick_of_episode[e];
    }
    return SL_OK;
}

/* --- manifest ------------------------------------------------------------ */

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

sl_status sl_bricks_manifest_json(const sl_bricks *b, const sl_dataset *ds, cJSON **out) {
    *out = NULL;
    if (!b || !ds) return sl_set_error(SL_ERR_ARG, "sl_bricks_manifest_json: NULL argument");
    if (ds->n_episodes != b->n_episodes)
        return sl_set_error(SL_ERR_SHAPE, "bricks: %zu episodes in the bricks, %zu in the dataset",
                            b->n_episodes, ds->n_episodes);
    cJSON *j = cJSON_CreateObject();
    if (!j) return sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
    cJSON_AddStringToObject(j, "format", "synthloop-bricks-1");
    cJSON_AddNumberToObject(j, "k", b->k);
    cJSON_AddNumberToObject(j, "n_episodes", (double)b->n_episodes);
    cJSON_AddNumberToObject(j, "inertia", b->inertia);
    add_num_or_null(j, "silhouette", b->silhouette);
    cJSON *ks = cJSON_AddObjectToObject(j, "k_selection");
    cJSON_AddStringToObject(ks, "method", b->k_chosen_by_silhouette ? "silhouette" : "given");
    cJSON *sc = cJSON_AddArrayToObject(ks, "scores");
    for (int i = 0; i < b->n_scores; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "k", b->score_k[i]);
        add_num_or_null(e, "silhouette", b->score_silhouette[i]);
        cJSON_AddItemToArray(sc, e);
    }

    cJSON *fe = cJSON_AddObjectToObject(j, "features");
    cJSON_AddStringToObject(fe, "latent_source", b->latent_dim ? "latents" : "observations");
    cJSON_AddNumberToObject(fe, "latent_dim", b->latent_dim ? b->latent_dim : ds->obs_dim);
    cJSON *names = cJSON_AddArrayToObject(fe, "names");
    for (int f = 0; f < b->n_feat; f++)
        cJSON_AddItemToArray(names, cJSON_CreateString(b->feat_names[f]));
    sl_json_add_f64_array(fe, "mean", b->feat_mean, (size_t)b->n_feat);
    sl_json_add_f64_array(fe, "std", b->feat_std, (size_t)b->n_feat);

    cJSON *bricks = cJSON_AddArrayToObject(j, "bricks");
    for (int c = 0; c < b->k; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "brick_id", c);
        cJSON_AddNumberToObject(o, "count", (double)b->count[c]);
        cJSON *eps = cJSON_AddArrayToObject(o, "episodes");
        double dsum = 0;
        for (size_t e = 0; e < b->n_episodes; e++)
            if (b->brick_of_episode[e] == c) {
                cJSON_AddItemToArray(eps, cJSON_CreateNumber((double)e));
                dsum += b->distance[e];
            }
        cJSON_AddNumberToObject(o, "mean_distance_to_centroid",
                                b->count[c] ? dsum / (double)b->count[c] : 0);
        sl_json_add_f64_array(o, "centroid", b->centroids + (size_t)c * b->n_feat,
                              (size_t)b->n_feat);
        cJSON *ec = cJSON_AddObjectToObject(o, "econ");
        for (int m = 0; m < SL_BRICK_ECON_COUNT; m++) {
            if (!b->econ_present[m]) continue;
            cJSON *mo = cJSON_AddObjectToObject(ec, econ_names[m]);
            size_t q = (size_t)c * SL_BRICK_ECON_COUNT + (size_t)m;
            cJSON_AddNumberToObject(mo, "mean", b->econ_mean[q]);
            cJSON_AddNumberToObject(mo, "std", b->econ_std[q]);
            cJSON_AddNumberToObject(mo, "count", (double)b->count[c]);
        }
        cJSON_AddItemToArray(bricks, o);
    }

    cJSON *eps = cJSON_AddArrayToObject(j, "episodes");
    for (size_t e = 0; e < b->n_episodes; e++) {
        size_t r0 = 0, r1 = 0;
        sl_dataset_episode_range(ds, e, &r0, &r1);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "episode_id", (double)e);
        cJSON_AddNumberToObject(o, "brick_id", b->brick_of_episode[e]);
        cJSON_AddNumberToObject(o, "n_steps", (double)(r1 - r0));
        cJSON_AddNumberToObject(o, "distance_to_centroid", b->distance[e]);
        cJSON *ec = cJSON_AddObjectToObject(o, "econ");
        cJSON *co = cJSON_AddObjectToObject(o, "conditions");
        for (int c = 0; c < ds->n_ep_cols; c++) {
            const char *nm = ds->ep_cols[c].name;
            if (is_excluded(nm)) continue;
            double v = ((const double *)ds->ep_cols[c].data)[e];
            cJSON_AddNumberToObject(is_econ(nm) ? ec : co, nm, v);
        }
        cJSON_AddItemToArray(eps, o);
    }
    *out = j;
    return SL_OK;
}
