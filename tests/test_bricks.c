/* SPDX-License-Identifier: Apache-2.0 */
/* test_bricks.c - k-means against scikit-learn, silhouette against scikit-learn, standardisation,
 * reproducibility, edge cases, and data bricks on datasets with known groups (library and CLI).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "synthloop/sl_bricks.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

/* --- k-means vs scikit-learn --------------------------------------------- */

#define N_INIT 10

TEST(kmeans_matches_sklearn) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/imp_kmeans_ref.py %s %d", SL_PYTHON, root(),
             harness_tmpdir(), N_INIT);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    char name[64];
    int k, n_sets = 0;
    double sk_inertia, sk_sil;
    while (fscanf(p, "%63s %d %lf %lf", name, &k, &sk_inertia, &sk_sil) == 4) {
        n_sets++;
        char path[1024];
        snprintf(path, sizeof path, "%s/km_%s.npz", harness_tmpdir(), name);
        sl_npz *z = NULL;
        CHECK_OK(sl_npz_open(&z, path));
        if (!z) continue;
        const sl_array *x = NULL, *lab = NULL;
        CHECK_OK(sl_npz_get(z, "x", &x));
        CHECK_OK(sl_npz_get(z, "labels", &lab));
        if (x && lab && x->dtype == SL_DTYPE_F64 && x->ndim == 2) {
            size_t n = x->shape[0];
            int d = (int)x->shape[1];
            sl_kmeans_config cfg;
            sl_kmeans_config_default(&cfg);
            cfg.k = k;
            cfg.n_init = N_INIT;
            sl_kmeans km;
            CHECK_OK(sl_kmeans_fit(&km, x->data, n, d, &cfg));
            double rel = (km.inertia - sk_inertia) / sk_inertia;
            printf("  %-8s k=%d  C %.6f  sklearn %.6f  rel %+.2e  (iters %d)\n", name, k,
                   km.inertia, sk_inertia, rel, km.n_iter);
            CHECK_MSG(fabs(rel) <= 0.01, "%s: inertia %.6f vs sklearn %.6f (rel %.3g)", name,
                      km.inertia, sk_inertia, rel);
            /* inertia is what the labels and centroids say */
            double chk = 0;
            for (size_t i = 0; i < n; i++)
                for (int j = 0; j < d; j++) {
                    double t = ((const double *)x->data)[i * d + j] -
                               km.centroids[(size_t)km.labels[i] * d + j];
                    chk += t * t;
                }
            CHECK_CLOSE(chk, km.inertia, 1e-9);
            /* silhouette of sklearn's labels against sklearn's silhouette_score */
            double sil = 0;
            CHECK_OK(sl_silhouette(x->data, n, d, lab->data, k, &sil));
            CHECK_CLOSE(sil, sk_sil, 1e-9);
            sl_kmeans_clear(&km);
        } else {
            CHECK_MSG(0, "%s: bad reference arrays", name);
        }
        sl_npz_close(z);
    }
    int rc = pclose(p);
    CHECK_MSG(rc == 0, "reference script failed (status %d)", rc);
    CHECK_MSG(n_sets == 6, "expected 6 reference data sets, got %d", n_sets);
}

/* --- determinism, edge cases --------------------------------------------- */

static double *random_points(size_t n, int d, uint64_t seed) {
    double *x = malloc(n * (size_t)d * sizeof(double));
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n * (size_t)d; i++) x[i] = sl_rng_normal(&r) + (double)(i / (size_t)d % 3) * 4.0;
    return x;
}

TEST(kmeans_reproducible) {
    size_t n = 300;
    int d = 3;
    double *x = random_points(n, d, 11);
    sl_kmeans_config cfg;
    sl_kmeans_config_default(&cfg);
    cfg.k = 4;
    cfg.seed = 42;
    sl_kmeans a, b;
    CHECK_OK(sl_kmeans_fit(&a, x, n, d, &cfg));
    CHECK_OK(sl_kmeans_fit(&b, x, n, d, &cfg));
    CHECK(memcmp(&a.inertia, &b.inertia, sizeof(double)) == 0);
    CHECK(memcmp(a.labels, b.labels, n * sizeof(int32_t)) == 0);
    CHECK(memcmp(a.centroids, b.centroids, 4 * (size_t)d * sizeof(double)) == 0);
    CHECK(a.best_init == b.best_init);
    sl_kmeans_clear(&a);
    sl_kmeans_clear(&b);
    free(x);
}

TEST(kmeans_edges) {
    size_t n = 50;
    int d = 2;
    double *x = random_points(n, d, 3);
    sl_kmeans_config cfg;
    sl_kmeans_config_default(&cfg);
    sl_kmeans km;
    /* k = 1: the centroid is the mean */
    cfg.k = 1;
    CHECK_OK(sl_kmeans_fit(&km, x, n, d, &cfg));
    double m0 = 0;
    for (size_t i = 0; i < n; i++) m0 += x[i * 2];
    CHECK_CLOSE(km.centroids[0], m0 / (double)n, 1e-12);
    sl_kmeans_clear(&km);
    /* k = n: zero inertia, every point its own cluster */
    cfg.k = (int)n;
    cfg.n_init = 2;
    CHECK_OK(sl_kmeans_fit(&km, x, n, d, &cfg));
    CHECK_CLOSE(km.inertia, 0.0, 1e-12);
    sl_kmeans_clear(&km);
    /* all points identical, k = 3: no crash, labels in range, zero inertia */
    for (size_t i = 0; i < n * 2; i++) x[i] = 1.5;
    cfg.k = 3;
    CHECK_OK(sl_kmeans_fit(&km, x, n, d, &cfg));
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= km.labels[i] >= 0 && km.labels[i] < 3;
    CHECK(ok);
    CHECK_CLOSE(km.inertia, 0.0, 1e-12);
    sl_kmeans_clear(&km);
    /* bad arguments */
    cfg.k = (int)n + 1;
    CHECK_STATUS(sl_kmeans_fit(&km, x, n, d, &cfg), SL_ERR_ARG);
    cfg.k = 0;
    CHECK_STATUS(sl_kmeans_fit(&km, x, n, d, &cfg), SL_ERR_ARG);
    x[7] = NAN;
    cfg.k = 2;
    CHECK_STATUS(sl_kmeans_fit(&km, x, n, d, &cfg), SL_ERR_NAN);
    sl_kmeans_clear(&km);
    free(x);
}

TEST(standardize) {
    double x[12] = {1, 5, 2, 2, 5, 4, 3, 5, 6, 4, 5, 8}; /* 4 rows x 3 cols; col 1 constant */
    double mean[3], sd[3];
    CHECK_OK(sl_standardize_columns(x, 4, 3, mean, sd));
    CHECK_CLOSE(mean[0], 2.5, 1e-12);
    CHECK_CLOSE(sd[0], sqrt(1.25), 1e-12);
    CHECK_CLOSE(sd[1], 0.0, 1e-12);
    for (int j = 0; j < 3; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < 4; i++) m += x[i * 3 + j];
        for (int i = 0; i < 4; i++) v += x[i * 3 + j] * x[i * 3 + j];
        CHECK_CLOSE(m / 4, 0.0, 1e-12);
        CHECK_CLOSE(v / 4, j == 1 ? 0.0 : 1.0, 1e-12);
    }
}

/* --- bricks -------------------------------------------------------------- */

/* 3 groups x 8 episodes: observation levels at the corners of a triangle, within-episode noise
 * growing with the group, and per group a different mix of mpl, error rate and item mass. */
static sl_dataset *group_dataset(int with_econ) {
    const int G = 3, E = 8, T = 10, od = 2, ad = 1;
    size_t ne = (size_t)G * E, n = ne * T;
    sl_dataset *ds = NULL;
    if (sl_dataset_alloc(&ds, n, od, ad) != SL_OK) return NULL;
    sl_rng r;
    sl_rng_seed(&r, 5, 0);
    for (size_t e = 0; e < ne; e++) {
        int g = (int)(e % (size_t)G); /* interleaved so that groups are not contiguous */
        for (int t = 0; t < T; t++) {
            size_t i = e * T + (size_t)t;
            ds->episode_ids[i] = (int32_t)e;
            ds->timesteps[i] = t;
            for (int j = 0; j < od; j++) {
                double level = (g == 1 && j == 0) || (g == 2 && j == 1) ? 3.0 : 0.0;
                ds->observations[i * od + j] =
                    (float)(level + 0.05 * (1 + g) * sl_rng_normal(&r));
                ds->next_observations[i * od + j] = ds->observations[i * od + j];
            }
            ds->actions[i] = (float)sl_rng_uniform(&r);
            ds->rewards[i] = (float)g;
            ds->timeouts[i] = t == T - 1;
        }
    }
    ds->n_episodes = ne;
    if (with_econ) {
        double *mpl, *err, *mass;
        sl_dataset_add_ep_col(ds, "mpl", &mpl);
        sl_dataset_add_ep_col(ds, "error_rate", &err);
        sl_dataset_add_ep_col(ds, "item_mass", &mass);
        for (size_t e = 0; e < ne; e++) {
            int g = (int)(e % (size_t)G);
            mpl[e] = (g == 1 ? 20.0 : 10.0) + 0.2 * sl_rng_normal(&r);
            err[e] = (g == 2 ? 0.1 : 0.4) + 0.01 * sl_rng_normal(&r);
            mass[e] = g == 1 ? 1.0 : 0.5;
        }
    }
    return ds;
}

TEST(bricks_recover_groups) {
    sl_dataset *ds = group_dataset(1);
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK_OK(sl_dataset_validate(ds, "groups"));
    sl_bricks_config cfg;
    sl_bricks_config_default(&cfg);
    sl_bricks *b = NULL;
    CHECK_OK(sl_bricks_fit(&b, ds, NULL, 0, &cfg));
    if (!b) {
        sl_dataset_free(ds);
        return;
    }
    CHECK(b->k == 3);
    CHECK(b->k_chosen_by_silhouette == 1);
    CHECK(b->n_scores == 7); /* k = 2..8 */
    CHECK(b->n_feat == 2 * 2 + 2 + 1);
    CHECK(strcmp(b->feat_names[0], "obs_mean_0") == 0);
    CHECK(strcmp(b->feat_names[4], "econ_mpl") == 0);
    CHECK(strcmp(b->feat_names[6], "cond_item_mass") == 0);
    /* each group maps to one brick, and the bricks differ */
    int map[3] = {-1, -1, -1}, pure = 1;
    for (size_t e = 0; e < ds->n_episodes; e++) {
        int g = (int)(e % 3);
        if (map[g] < 0) map[g] = b->brick_of_episode[e];
        pure &= map[g] == b->brick_of_episode[e];
    }
    CHECK(pure);
    CHECK(map[0] != map[1] && map[1] != map[2] && map[0] != map[2]);
    /* econ profile = mean/std of the group's episodes */
    const double *mpl = sl_dataset_ep_col(ds, "mpl");
    for (int g = 0; g < 3 && pure; g++) {
        double m = 0, v = 0;
        for (size_t e = (size_t)g; e < ds->n_episodes; e += 3) m += mpl[e];
        m /= 8;
        for (size_t e = (size_t)g; e < ds->n_episodes; e += 3) v += (mpl[e] - m) * (mpl[e] - m);
        size_t q = (size_t)map[g] * SL_BRICK_ECON_COUNT + SL_BRICK_ECON_MPL;
        CHECK_CLOSE(b->econ_mean[q], m, 1e-12);
        CHECK_CLOSE(b->econ_std[q], sqrt(v / 8), 1e-12);
        CHECK(b->count[map[g]] == 8);
    }
    CHECK(b->econ_present[SL_BRICK_ECON_MPL] && b->econ_present[SL_BRICK_ECON_ERROR]);
    CHECK(!b->econ_present[SL_BRICK_ECON_ENERGY] && !b->econ_present[SL_BRICK_ECON_EP]);
    /* row ids follow the episodes */
    int32_t *rows = malloc(ds->n * sizeof(int32_t));
    CHECK_OK(sl_bricks_row_ids(b, ds, rows));
    int rows_ok = 1;
    for (size_t i = 0; i < ds->n; i++) rows_ok &= rows[i] == b->brick_of_episode[ds->episode_ids[i]];
    CHECK(rows_ok);
    free(rows);
    /* manifest */
    cJSON *m = NULL;
    CHECK_OK(sl_bricks_manifest_json(b, ds, &m));
    if (m) {
        CHECK(sl_json_int(m, "k", 0) == 3);
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(m, "episodes");
        CHECK(cJSON_GetArraySize(eps) == 24);
        const cJSON *e5 = cJSON_GetArrayItem(eps, 5);
        CHECK(sl_json_int(e5, "episode_id", -1) == 5);
        CHECK(sl_json_int(e5, "brick_id", -1) == b->brick_of_episode[5]);
        CHECK(sl_json_int(e5, "n_steps", -1) == 10);
        CHECK_CLOSE(sl_json_num(e5, "distance_to_centroid", -1), b->distance[5], 1e-12);
        const cJSON *econ = cJSON_GetObjectItemCaseSensitive(e5, "econ");
        CHECK_CLOSE(sl_json_num(econ, "mpl", -1), mpl[5], 1e-12);
        const cJSON *cond = cJSON_GetObjectItemCaseSensitive(e5, "conditions");
        CHECK_CLOSE(sl_json_num(cond, "item_mass", -1), 0.5, 1e-12);
        const cJSON *bricks = cJSON_GetObjectItemCaseSensitive(m, "bricks");
        CHECK(cJSON_GetArraySize(bricks) == 3);
        const cJSON *b0 = cJSON_GetArrayItem(bricks, 0);
        CHECK(sl_json_int(b0, "count", 0) == 8);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b0, "episodes")) == 8);
        const cJSON *ks = cJSON_GetObjectItemCaseSensitive(m, "k_selection");
        CHECK(strcmp(sl_json_str(ks, "method", ""), "silhouette") == 0);
        cJSON_Delete(m);
    }
    /* reproducible: same config -> same bits */
    sl_bricks *b2 = NULL;
    CHECK_OK(sl_bricks_fit(&b2, ds, NULL, 0, &cfg));
    if (b2) {
        CHECK(memcmp(b->brick_of_episode, b2->brick_of_episode, ds->n_episodes * 4) == 0);
        CHECK(memcmp(&b->inertia, &b2->inertia, sizeof(double)) == 0);
    }
    sl_bricks_free(b2);
    sl_bricks_free(b);
    sl_bricks_free(NULL);
    sl_dataset_free(ds);
}

TEST(bricks_latents_and_fixed_k) {
    sl_dataset *ds = group_dataset(0);
    if (!ds) {
        CHECK(0);
        return;
    }
    /* latents: 4 dims, two groups by episode parity (a shifted mean in every dim and a different
     * within-episode spread), unrelated to the observations' three groups */
    int zd = 4;
    float *z = malloc(ds->n * (size_t)zd * sizeof(float));
    sl_rng r;
    sl_rng_seed(&r, 9, 0);
    for (size_t i = 0; i < ds->n; i++)
        for (int j = 0; j < zd; j++)
        {
            int odd = ds->episode_ids[i] % 2;
            z[i * zd + j] = (float)((odd ? 1.0 : -1.0) * (1.0 + 0.5 * j) +
                                    (odd ? 0.05 : 0.3) * sl_rng_normal(&r));
        }
    sl_bricks_config cfg;
    sl_bricks_config_default(&cfg);
    sl_bricks *b = NULL;
    CHECK_OK(sl_bricks_fit(&b, ds, z, zd, &cfg));
    if (b) {
        CHECK(b->k == 2);
        CHECK(b->latent_dim == 4);
        CHECK(b->n_feat == 8);
        CHECK(strcmp(b->feat_names[0], "z_mean_0") == 0 && strcmp(b->feat_names[4], "z_std_0") == 0);
        int pure = 1;
        for (size_t e = 2; e < ds->n_episodes; e++)
            pure &= b->brick_of_episode[e] == b->brick_of_episode[e % 2];
        CHECK(pure && b->brick_of_episode[0] != b->brick_of_episode[1]);
    }
    sl_bricks_free(b);
    /* fixed k */
    cfg.k = 5;
    CHECK_OK(sl_bricks_fit(&b, ds, z, zd, &cfg));
    if (b) {
        CHECK(b->k == 5 && !b->k_chosen_by_silhouette && b->n_scores == 0);
        size_t tot = 0;
        for (int k = 0; k < 5; k++) tot += b->count[k];
        CHECK(tot == ds->n_episodes);
    }
    sl_bricks_free(b);
    cfg.k = 1000;
    CHECK_STATUS(sl_bricks_fit(&b, ds, z, zd, &cfg), SL_ERR_ARG);
    CHECK(b == NULL);
    free(z);
    sl_dataset_free(ds);
}

TEST(bricks_too_few_episodes) {
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_alloc(&ds, 4, 1, 1));
    if (!ds) return;
    ds->episode_ids[2] = ds->episode_ids[3] = 1;
    ds->n_episodes = 2;
    sl_bricks_config cfg;
    sl_bricks_config_default(&cfg);
    sl_bricks *b = NULL;
    CHECK_STATUS(sl_bricks_fit(&b, ds, NULL, 0, &cfg), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "--k") != NULL);
    cfg.k = 1;
    CHECK_OK(sl_bricks_fit(&b, ds, NULL, 0, &cfg));
    if (b) CHECK(b->k == 1 && b->count[0] == 2 && isnan(b->silhouette));
    sl_bricks_free(b);
    sl_dataset_free(ds);
}

/* --- CLI ----------------------------------------------------------------- */

static const char *bin(void) {
    static char b[1024];
    const char *e = getenv("SL_BIN");
    if (e && *e) return e;
    snprintf(b, sizeof b, "%s/build/synthloop", root());
    return b;
}

static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s > %s/cli.out 2> %s/cli.err", bin(), args, harness_tmpdir(),
             harness_tmpdir());
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static sl_status write_latents(const char *path, const float *z, size_t n, size_t d) {
    sl_npz_writer *w = NULL;
    SL_TRY(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    size_t shape[2] = {n, d};
    sl_status s = sl_npz_writer_add(w, "latents", SL_DTYPE_F32, 2, shape, z);
    if (s != SL_OK) {
        sl_npz_writer_abort(w);
        return s;
    }
    return sl_npz_writer_commit(w);
}

TEST(cli_bricks) {
    struct stat st;
    CHECK_MSG(stat(bin(), &st) == 0, "CLI binary %s missing (make build/synthloop)", bin());
    const char *t = harness_tmpdir();
    char data[600], lat[600], badlat[600], nanlat[600], man[600], asg[600], args[4096];
    snprintf(data, sizeof data, "%s/groups.npz", t);
    snprintf(lat, sizeof lat, "%s/lat.npz", t);
    snprintf(badlat, sizeof badlat, "%s/badlat.npz", t);
    snprintf(nanlat, sizeof nanlat, "%s/nanlat.npz", t);
    snprintf(man, sizeof man, "%s/manifest.json", t);
    snprintf(asg, sizeof asg, "%s/assign.npz", t);
    sl_dataset *ds = group_dataset(1);
    if (!ds) {
        CHECK(0);
        return;
    }
    CHECK_OK(sl_dataset_save_npz(ds, data));
    /* latents = observations (so the clustering matches the library call without latents) */
    CHECK_OK(write_latents(lat, ds->observations, ds->n, 2));
    CHECK_OK(write_latents(badlat, ds->observations, ds->n - 1, 2));
    { /* the NPZ writer refuses non-finite floats, so numpy writes the bad file */
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import numpy as np; z=np.zeros((%zu,2)); z[13,1]=np.inf; "
                 "np.savez('%s', latents=z)\"", SL_PYTHON, ds->n, nanlat);
        CHECK(system(cmd) == 0);
    }

    snprintf(args, sizeof args,
             "bricks --data %s --latents %s --output %s --assign-output %s --seed 3 --json", data,
             lat, man, asg);
    CHECK(run(args) == 0);
    cJSON *m = NULL;
    CHECK_OK(sl_json_read_file(man, &m));
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, asg));
    if (m && z) {
        CHECK(sl_json_int(m, "k", 0) == 3);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(m, "config");
        CHECK(sl_json_int(cfg, "seed", -1) == 3 && strlen(sl_json_str(cfg, "data_sha256", "")) == 64);
        CHECK(strcmp(sl_json_str(cfg, "k", ""), "auto") == 0);
        const cJSON *prov = cJSON_GetObjectItemCaseSensitive(m, "provenance");
        CHECK(prov && sl_json_int(prov, "seed", -1) == 3 && sl_json_str(prov, "version", NULL));
        const cJSON *fe = cJSON_GetObjectItemCaseSensitive(m, "features");
        CHECK(strcmp(sl_json_str(fe, "latent_source", ""), "latents") == 0);
        const sl_array *rows = NULL, *eb = NULL;
        CHECK_OK(sl_npz_get(z, "brick_ids", &rows));
        CHECK_OK(sl_npz_get(z, "episode_brick_ids", &eb));
        if (rows && eb && rows->count == ds->n && eb->count == ds->n_episodes) {
            const int32_t *r = rows->data, *e = eb->data;
            const cJSON *eps = cJSON_GetObjectItemCaseSensitive(m, "episodes");
            int ok = 1;
            for (size_t i = 0; i < ds->n; i++) ok &= r[i] == e[ds->episode_ids[i]];
            for (size_t q = 0; q < ds->n_episodes; q++)
                ok &= sl_json_int(cJSON_GetArrayItem(eps, (int)q), "brick_id", -1) == e[q];
            CHECK(ok);
        } else {
            CHECK_MSG(0, "assign NPZ has wrong arrays");
        }
    }
    sl_npz_close(z);
    cJSON_Delete(m);
    /* failures leave the outputs untouched */
    const char *sentinel = "{\"old\": true}\n";
    CHECK_OK(sl_write_file_atomic(man, sentinel, strlen(sentinel)));
    const char *bad[] = {badlat, nanlat};
    const char *needle[] = {"'latents' must be [n, z_dim]", "row 13 column 1"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "bricks --data %s --latents %s --output %s", data, bad[i], man);
        CHECK(run(args) == 1);
        char ep[700], *err = NULL, *mo = NULL;
        size_t n;
        snprintf(ep, sizeof ep, "%s/cli.err", t);
        sl_read_file(ep, &err, &n);
        CHECK_MSG(err && strstr(err, needle[i]) && strstr(err, bad[i]), "stderr: %s", err ? err : "");
        sl_read_file(man, &mo, &n);
        CHECK(mo && strcmp(mo, sentinel) == 0);
        free(err);
        free(mo);
    }
    snprintf(args, sizeof args, "bricks --data %s", data);
    CHECK(run(args) == 2);
    CHECK(run("bricks --help") == 0);
    sl_dataset_free(ds);
}

/* Issue 13 item 4: bricks over data from a task spec without units carry no MPL, error rate
 * or EP profile (the columns are absent, not zero); with units they do. Random episodes of
 * the motor arm (reach_motor.json, with and without its "units"). */
TEST(bricks_of_a_task_without_units_have_no_econ) {
    char path[512], model[512];
    snprintf(path, sizeof path, "%s/tests/models/reach_motor.json", root());
    snprintf(model, sizeof model, "%s/tests/models/arm_motor.xml", root());
    cJSON *spec = NULL;
    CHECK_OK(sl_json_read_file(path, &spec));
    if (!spec) return;
    for (int with_units = 1; with_units >= 0; with_units--) {
        if (!with_units) cJSON_DeleteItemFromObjectCaseSensitive(spec, "units");
        sl_env *env = NULL;
        CHECK_OK(sl_env_task_new_json(&env, spec, path, model));
        if (!env) break;
        sl_dataset *ds = NULL;
        CHECK_OK(sl_env_collect(env, SL_POLICY_RANDOM, 8, 3, &ds, NULL));
        sl_env_free(env);
        if (!ds) break;
        sl_bricks_config cfg;
        sl_bricks_config_default(&cfg);
        cfg.k = 2;
        sl_bricks *b = NULL;
        CHECK_OK(sl_bricks_fit(&b, ds, NULL, 0, &cfg));
        if (b) {
            CHECK(b->econ_present[SL_BRICK_ECON_MPL] == with_units);
            CHECK(b->econ_present[SL_BRICK_ECON_ERROR] == with_units);
            CHECK(b->econ_present[SL_BRICK_ECON_EP] == with_units);
            CHECK(b->econ_present[SL_BRICK_ECON_ENERGY]); /* measured either way */
            cJSON *man = NULL;
            CHECK_OK(sl_bricks_manifest_json(b, ds, &man));
            const cJSON *ec = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(man, "bricks"), 0), "econ");
            CHECK((cJSON_GetObjectItemCaseSensitive(ec, "mpl") != NULL) == with_units);
            CHECK((cJSON_GetObjectItemCaseSensitive(ec, "error_rate") != NULL) == with_units);
            for (int f = 0; f < b->n_feat; f++)
                if (!with_units) CHECK(strcmp(b->feat_names[f], "econ_mpl") != 0);
            cJSON_Delete(man);
        }
        sl_bricks_free(b);
        sl_dataset_free(ds);
    }
    cJSON_Delete(spec);
}

int main(void) {
    RUN(kmeans_matches_sklearn);
    RUN(kmeans_reproducible);
    RUN(kmeans_edges);
    RUN(standardize);
    RUN(bricks_recover_groups);
    RUN(bricks_latents_and_fixed_k);
    RUN(bricks_too_few_episodes);
    RUN(cli_bricks);
    RUN(bricks_of_a_task_without_units_have_no_econ);
    return harness_done();
}
