/* SPDX-License-Identifier: Apache-2.0 */
/* sl_bricks.h - k-means (k-means++ seeding, Lloyd iterations, n_init restarts) and "data
 * bricks": episodes clustered by their features, with an economic profile per brick
 * (`synthloop bricks`). Features, k selection and the manifest are documented in
 * docs/BRICKS.md.
 *
 * Reproducibility: every random choice comes from sl_rng seeded with cfg->seed (restart r uses
 * stream r), and all arithmetic is sequential float64, so the same inputs and config give the
 * same bits on every run.
 *
 * Ownership: sl_kmeans_fit fills a caller-provided sl_kmeans whose arrays it owns until
 * sl_kmeans_clear; sl_bricks_fit returns a new sl_bricks owned by the caller (sl_bricks_free);
 * JSON objects returned are owned by the caller (cJSON_Delete).
 */
#ifndef SL_BRICKS_H
#define SL_BRICKS_H

#include "sl_dataset.h"
#include "sl_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- k-means ------------------------------------------------------------- */

typedef struct sl_kmeans_config {
    int k;         /* clusters, 1 <= k <= n */
    int n_init;    /* restarts; the one with the lowest inertia wins (earliest on ties) */
    int max_iter;  /* Lloyd iterations per restart */
    double tol;    /* stop when the centroid shift (sum of squares) <= tol * mean column variance */
    uint64_t seed;
} sl_kmeans_config;

/* k 8, n_init 10, max_iter 300, tol 1e-4, seed 0 (scikit-learn's defaults). */
void sl_kmeans_config_default(sl_kmeans_config *c);

typedef struct sl_kmeans {
    int k, dim;
    size_t n;
    double *centroids; /* [k * dim] */
    int32_t *labels;   /* [n], nearest centroid of each point */
    double inertia;    /* sum of squared distances to the nearest centroid */
    int n_iter;        /* Lloyd iterations of the winning restart */
    int best_init;     /* index of the winning restart */
} sl_kmeans;

/* Cluster x [n * dim] (row-major float64, finite). Seeding is greedy k-means++
 * (2 + floor(ln k) candidates per centre, the one lowering the potential most wins); an empty
 * cluster is re-seeded with the point farthest from its centroid. Fills *out (caller clears). */
sl_status sl_kmeans_fit(sl_kmeans *out, const double *x, size_t n, int dim,
                        const sl_kmeans_config *cfg);
void sl_kmeans_clear(sl_kmeans *km);

/* Standardise each column in place to mean 0, std 1 (population std); a column with std 0 is
 * only centred. mean/std [dim] receive the statistics (may be NULL). */
sl_status sl_standardize_columns(double *x, size_t n, int dim, double *mean, double *std);

/* Mean silhouette coefficient of a labelling (scikit-learn's silhouette_score, Euclidean):
 * a point alone in its cluster scores 0. Needs 2 <= k <= n - 1 clusters in use. */
sl_status sl_silhouette(const double *x, size_t n, int dim, const int32_t *labels, int k,
                        double *out);

/* --- bricks -------------------------------------------------------------- */

#define SL_BRICKS_MAX_FEATS 512
#define SL_BRICKS_FEAT_NAME 64

/* Econ metrics profiled per brick, by episode column name (without "ep_"). */
typedef enum sl_brick_econ {
    SL_BRICK_ECON_MPL = 0, /* ep_mpl */
    SL_BRICK_ECON_ERROR,   /* ep_error_rate */
    SL_BRICK_ECON_ENERGY,  /* ep_energy_wh */
    SL_BRICK_ECON_EP,      /* ep_ep */
    SL_BRICK_ECON_COUNT
} sl_brick_econ;
/* "mpl", "error_rate", "energy_wh", "ep". */
const char *sl_brick_econ_name(sl_brick_econ m);

typedef struct sl_bricks_config {
    int k;              /* 0 = choose by silhouette over [k_min, k_max] */
    int k_min, k_max;   /* default 2..8 (clipped to n_episodes - 1) */
    int n_init;         /* default 10 */
    int max_iter;       /* default 300 */
    double tol;         /* default 1e-4 */
    uint64_t seed;      /* default 0 */
    size_t silhouette_max_n; /* silhouette on at most this many episodes (seeded subsample); 2000 */
    int use_econ;       /* 1 (default): econ metrics are features too; 0: only profiled */
} sl_bricks_config;

void sl_bricks_config_default(sl_bricks_config *c);

typedef struct sl_bricks {
    size_t n_episodes;
    int k;
    int k_chosen_by_silhouette; /* 1 if k was selected automatically */
    int n_feat;
    char (*feat_names)[SL_BRICKS_FEAT_NAME]; /* [n_feat], e.g. "z_mean_3", "econ_mpl", "cond_mass" */
    double *feat_mean, *feat_std;            /* [n_feat] standardisation statistics */
    double *features;                        /* [n_episodes * n_feat], standardised */
    int32_t *brick_of_episode;               /* [n_episodes] */
    double *distance;                        /* [n_episodes] Euclidean, standardised space */
    double *centroids;                       /* [k * n_feat], standardised space */
    size_t *count;                           /* [k] episodes per brick */
    double inertia;
    double silhouette;                       /* of the final clustering; NAN if k < 2 */
    int n_scores;
    int score_k[16];
    double score_silhouette[16];             /* per tried k when chosen automatically */
    int econ_present[SL_BRICK_ECON_COUNT];
    double *econ_mean, *econ_std;            /* [k * SL_BRICK_ECON_COUNT] (population std) */
    int latent_dim;                          /* z_dim used (0: observations stood in) */
} sl_bricks;

/* Episode features of ds (see docs/BRICKS.md): per-dim mean and std of the episode's latents
 * (latents [ds->n * z_dim], row-aligned with ds; NULL: of its observations instead), the econ
 * metrics present (if cfg->use_econ), and every other ep_* column as a condition.
 * Then standardise, cluster, and profile. *out is owned by the caller. */
sl_status sl_bricks_fit(sl_bricks **out, const sl_dataset *ds, const float *latents, int z_dim,
                        const sl_bricks_config *cfg);
void sl_bricks_free(sl_bricks *b);

/* Brick id of every row of ds (ds->n entries). */
sl_status sl_bricks_row_ids(const sl_bricks *b, const sl_dataset *ds, int32_t *out);

/* The manifest body: {"k", "inertia", "silhouette", "k_selection", "features", "bricks",
 * "episodes"} (docs/BRICKS.md). The caller adds "config" and "provenance". */
sl_status sl_bricks_manifest_json(const sl_bricks *b, const sl_dataset *ds, cJSON **out);

#ifdef __cplusplus
}
#endif
#endif
