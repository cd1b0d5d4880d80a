/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_bricks.c - `synthloop bricks`: cluster episodes into data bricks, write the manifest JSON
 * and (optionally) the brick id of every row as an NPZ.
 *
 * Invariant: everything is computed before anything is written; each output is written
 * atomically, so a failure leaves the output paths untouched. The registry run (--db) is
 * begun before any work and ended ok only after the outputs and their rows were recorded;
 * every error path ends it failed with {"error": message}.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/run_record.h"
#include "cli/import_opts.h"
#include "synthloop/sl_bricks.h"
#include "synthloop/sl_import.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"

SL_COMMAND(bricks, "cluster episodes into data bricks with per-brick econ profiles")

static void usage(FILE *f) {
    fprintf(f,
            "usage: synthloop bricks --data D.npz --output manifest.json [options]\n\n"
            "Clusters episodes by their features (latent mean/std, econ metrics, conditions)\n"
            "with k-means and writes a manifest of bricks and episodes (docs/BRICKS.md).\n\n"
            "  -d, --data PATH         dataset (NPZ, or any format `synthloop import` reads)\n"
            "  -z, --latents PATH      NPZ with key \"latents\" [n, z_dim] aligned with the rows\n"
            "                          (default: observation statistics stand in for latents)\n"
            "  -o, --output PATH       manifest JSON (required)\n"
            "  -a, --assign-output P   NPZ with brick_ids [n], episode_brick_ids [n_episodes],\n"
            "                          episode_ids [n]\n"
            "  -k, --k K               number of bricks (default: best silhouette over\n"
            "                          --k-min..--k-max)\n"
            "      --k-min K           (default 2)\n"
            "      --k-max K           (default 8)\n"
            "      --n-init N          k-means restarts (default 10)\n"
            "      --max-iter N        Lloyd iterations per restart (default 300)\n"
            "      --tol T             relative tolerance (default 1e-4)\n"
            "      --seed S            (default 0)\n"
            "      --no-econ-features  profile econ metrics but do not cluster on them\n"
            "      --db PATH|none      run registry (default $SYNTHLOOP_DB or synthloop.db;\n"
            "                          'none' records nothing)\n"
            "      --json              print a JSON summary on stdout\n"
            "  -q, --quiet             no summary\n");
    import_opt_help(f);
}

/* latents [n, z] as float32 (f4 or f8 in the file), checked finite and aligned with ds. */
static sl_status load_latents(const char *path, size_t n, float **out, int *zd) {
    *out = NULL;
    sl_npz *z = NULL;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL;
    sl_status s = sl_npz_get(z, "latents", &a);
    if (s != SL_OK) {
        sl_npz_close(z);
        return s; /* the message names the file and the missing key */
    }
    if (a->ndim < 1 || a->ndim > 2 || a->shape[0] != n) {
        s = sl_set_error(SL_ERR_SHAPE,
                         "%s: 'latents' must be [n, z_dim] with n = %zu dataset rows (got ndim "
                         "%d, %zu rows)",
                         path, n, a->ndim, a->ndim ? a->shape[0] : 0);
        sl_npz_close(z);
        return s;
    }
    size_t d = a->ndim == 2 ? a->shape[1] : 1;
    if (d == 0 || d > 100000) {
        sl_npz_close(z);
        return sl_set_error(SL_ERR_SHAPE, "%s: 'latents' has %zu columns", path, d);
    }
    float *x = malloc((n * d + 1) * sizeof(float));
    if (!x) {
        sl_npz_close(z);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n * d && s == SL_OK; i++) {
        double v;
        if (a->dtype == SL_DTYPE_F32) v = (double)((const float *)a->data)[i];
        else if (a->dtype == SL_DTYPE_F64) v = ((const double *)a->data)[i];
        else {
            s = sl_set_error(SL_ERR_DTYPE, "%s: 'latents' has dtype %s; need f4 or f8", path,
                             sl_dtype_numpy(a->dtype));
            break;
        }
        if (!isfinite(v) || fabs(v) > 3.4e38)
            s = sl_set_error(SL_ERR_NAN, "%s: 'latents' row %zu column %zu is not a finite float32",
                             path, i / d, i % d);
        else x[i] = (float)v;
    }
    sl_npz_close(z);
    if (s != SL_OK) {
        free(x);
        return s;
    }
    *out = x;
    *zd = (int)d;
    return SL_OK;
}

static sl_status write_assign(const char *path, const sl_bricks *b, const sl_dataset *ds) {
    int32_t *rows = malloc((ds->n ? ds->n : 1) * sizeof(int32_t));
    if (!rows) return sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
    sl_status s = sl_bricks_row_ids(b, ds, rows);
    sl_npz_writer *w = NULL;
    if (s == SL_OK) s = sl_npz_writer_open(&w, path, SL_NPZ_DEFLATE);
    size_t shn[1] = {ds->n}, she[1] = {ds->n_episodes};
    if (s == SL_OK) s = sl_npz_writer_add(w, "brick_ids", SL_DTYPE_I32, 1, shn, rows);
    if (s == SL_OK)
        s = sl_npz_writer_add(w, "episode_brick_ids", SL_DTYPE_I32, 1, she, b->brick_of_episode);
    if (s == SL_OK) s = sl_npz_writer_add(w, "episode_ids", SL_DTYPE_I32, 1, shn, ds->episode_ids);
    if (s == SL_OK) s = sl_npz_writer_commit(w);
    else sl_npz_writer_abort(w);
    free(rows);
    return s;
}

/* The clustering options as JSON (the run's config and, with the data's sha256, the
 * manifest's "config"). sha may be NULL (not known yet). */
static cJSON *bricks_config_json(const sl_bricks_config *cfg, const sl_import_options *iopt,
                                 const char *data, const char *sha, const char *latents) {
    cJSON *cj = cJSON_CreateObject();
    if (!cj) return NULL;
    cJSON_AddStringToObject(cj, "data", data);
    if (sha) cJSON_AddStringToObject(cj, "data_sha256", sha);
    if (latents) cJSON_AddStringToObject(cj, "latents", latents);
    else cJSON_AddNullToObject(cj, "latents");
    if (cfg->k) cJSON_AddNumberToObject(cj, "k", cfg->k);
    else cJSON_AddStringToObject(cj, "k", "auto");
    cJSON_AddNumberToObject(cj, "k_min", cfg->k_min);
    cJSON_AddNumberToObject(cj, "k_max", cfg->k_max);
    cJSON_AddNumberToObject(cj, "n_init", cfg->n_init);
    cJSON_AddNumberToObject(cj, "max_iter", cfg->max_iter);
    cJSON_AddNumberToObject(cj, "tol", cfg->tol);
    cJSON_AddNumberToObject(cj, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(cj, "silhouette_max_n", (double)cfg->silhouette_max_n);
    cJSON_AddBoolToObject(cj, "econ_features", cfg->use_econ);
    cJSON *ij = import_opt_json(iopt);
    if (ij) cJSON_AddItemToObject(cj, "import", ij);
    return cj;
}

/* Rows of a finished clustering: the manifest (artifact), the per-row brick ids (dataset
 * "bricks"), the silhouette per tried k, and the final silhouette / inertia. */
static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_bricks *b,
                                const sl_dataset *ds, const char *output, const char *assign) {
    if (!reg) return SL_OK;
    char apath[PATH_MAX];
    SL_TRY(sl_registry_add_artifact(reg, run, "bricks_manifest.json", cli_abs_path(output, apath)));
    if (assign)
        SL_TRY(sl_registry_add_dataset(reg, run, cli_abs_path(assign, apath), "bricks",
                                       (int64_t)ds->n, (int64_t)ds->n_episodes, NULL));
    int64_t steps[16];
    double sil[16];
    size_t n = 0;
    for (int i = 0; i < b->n_scores && i < 16; i++)
        if (isfinite(b->score_silhouette[i])) {
            steps[n] = b->score_k[i];
            sil[n++] = b->score_silhouette[i];
        }
    if (n) SL_TRY(sl_registry_add_metrics(reg, run, "bricks/silhouette_by_k", steps, sil, n));
    if (isfinite(b->silhouette))
        SL_TRY(sl_registry_add_metric(reg, run, "bricks/silhouette", b->k, b->silhouette));
    SL_TRY(sl_registry_add_metric(reg, run, "bricks/inertia", b->k, b->inertia));
    return SL_OK;
}

/* The options of `bricks` (getopt; SL_IMPORT_LONGOPTS shared with import). */
typedef struct bricks_args {
    const char *data, *latents, *output, *assign, *db;
    sl_bricks_config cfg;
    sl_import_options iopt;
    int json, help;
} bricks_args;

static int parse_bricks_args(int argc, char **argv, bricks_args *a) {
    enum { O_KMIN = 2000, O_KMAX, O_NINIT, O_MAXIT, O_TOL, O_SEED, O_NOECON, O_JSON, O_DB };
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},
        {"latents", required_argument, 0, 'z'},
        {"output", required_argument, 0, 'o'},
        {"assign-output", required_argument, 0, 'a'},
        {"k", required_argument, 0, 'k'},
        {"k-min", required_argument, 0, O_KMIN},
        {"k-max", required_argument, 0, O_KMAX},
        {"n-init", required_argument, 0, O_NINIT},
        {"max-iter", required_argument, 0, O_MAXIT},
        {"tol", required_argument, 0, O_TOL},
        {"seed", required_argument, 0, O_SEED},
        {"no-econ-features", no_argument, 0, O_NOECON},
        {"json", no_argument, 0, O_JSON},
        {"db", required_argument, 0, O_DB},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        SL_IMPORT_LONGOPTS,
        {0, 0, 0, 0},
    };
    const char *data = NULL, *latents = NULL, *output = NULL, *assign = NULL, *db = NULL;
    sl_bricks_config cfg;
    sl_bricks_config_default(&cfg);
    sl_import_options iopt;
    sl_import_options_default(&iopt);
    int json = 0, c;
    a->help = 0;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:z:o:a:k:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'z': latents = optarg; break;
        case 'o': output = optarg; break;
        case 'a': assign = optarg; break;
        case 'k':
            if (sl_cli_parse_int("bricks", "--k", optarg, 1, 1000000, &v)) return 2;
            cfg.k = (int)v;
            break;
        case O_KMIN:
            if (sl_cli_parse_int("bricks", "--k-min", optarg, 2, 64, &v)) return 2;
            cfg.k_min = (int)v;
            break;
        case O_KMAX:
            if (sl_cli_parse_int("bricks", "--k-max", optarg, 2, 64, &v)) return 2;
            cfg.k_max = (int)v;
            break;
        case O_NINIT:
            if (sl_cli_parse_int("bricks", "--n-init", optarg, 1, 1000, &v)) return 2;
            cfg.n_init = (int)v;
            break;
        case O_MAXIT:
            if (sl_cli_parse_int("bricks", "--max-iter", optarg, 1, 1000000, &v)) return 2;
            cfg.max_iter = (int)v;
            break;
        case O_TOL:
            if (sl_cli_parse_double("bricks", "--tol", optarg, 0, 1, &cfg.tol)) return 2;
            break;
        case O_SEED:
            if (sl_cli_parse_u64("bricks", "--seed", optarg, &cfg.seed)) return 2;
            break;
        case O_NOECON: cfg.use_econ = 0; break;
        case O_JSON: json = 1; break;
        case O_DB: db = optarg; break;
        case 'q': break;
        case 'h': a->help = 1; return 0;
        case '?':
            return sl_cli_usage_error("bricks", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        default: {
            int r = import_opt_handle("bricks", c, optarg, &iopt);
            if (r) return r < 0 ? sl_cli_usage_error("bricks", "bad option") : r;
        }
        }
    }
    if (optind < argc) return sl_cli_usage_error("bricks", "unexpected argument '%s'", argv[optind]);
    if (!data) return sl_cli_usage_error("bricks", "--data is required");
    if (!output) return sl_cli_usage_error("bricks", "--output is required");
    if (cfg.k_max < cfg.k_min)
        return sl_cli_usage_error("bricks", "--k-max %d is below --k-min %d", cfg.k_max, cfg.k_min);
    if (cfg.k_max - cfg.k_min + 1 > 16)
        return sl_cli_usage_error("bricks", "at most 16 values of k can be tried");

    a->data = data;
    a->latents = latents;
    a->output = output;
    a->assign = assign;
    a->db = db;
    a->cfg = cfg;
    a->iopt = iopt;
    a->json = json;
    return 0;
}

int cmd_bricks(int argc, char **argv) {
    bricks_args a;
    memset(&a, 0, sizeof a);
    int prc = parse_bricks_args(argc, argv, &a);
    if (prc) return prc;
    if (a.help) {
        usage(stdout);
        return 0;
    }
    const char *data = a.data, *latents = a.latents, *output = a.output, *assign = a.assign,
               *db = a.db;
    sl_bricks_config cfg = a.cfg;
    sl_import_options iopt = a.iopt;
    int json = a.json;
    sl_dataset *ds = NULL;
    float *lat = NULL;
    int zd = 0;
    sl_bricks *b = NULL;
    cJSON *man = NULL;
    char sha[65] = "";
    sl_import_report rep;
    sl_registry *reg = NULL;
    int64_t run = 0;
    cJSON *conf = bricks_config_json(&cfg, &iopt, data, NULL, latents);
    if (conf) {
        cJSON_AddStringToObject(conf, "output", output);
        if (assign) cJSON_AddStringToObject(conf, "assign_output", assign);
    }
    sl_status s = cli_run_begin(db, "bricks", conf, cfg.seed, &reg, &run);
    if (s == SL_OK) s = sl_import_file(&ds, data, &iopt, &rep);
    if (s == SL_OK) s = sl_sha256_file(data, sha);
    if (s == SL_OK && latents) s = load_latents(latents, ds->n, &lat, &zd);
    if (s == SL_OK) s = sl_bricks_fit(&b, ds, lat, zd, &cfg);
    if (s == SL_OK) s = sl_bricks_manifest_json(b, ds, &man);
    if (s == SL_OK) {
        cJSON *cj = bricks_config_json(&cfg, &iopt, data, sha, latents);
        if (!cj) s = sl_set_error(SL_ERR_NOMEM, "bricks: out of memory");
        cJSON_AddItemToObject(man, "config", cj);
        cJSON *prov = cJSON_AddObjectToObject(man, "provenance");
        sl_json_add_provenance(prov, cfg.seed);
        if (s == SL_OK && assign) s = write_assign(assign, b, ds);
    }
    if (s == SL_OK) s = sl_json_write_file(output, man);
    if (s == SL_OK) s = record_outputs(reg, run, b, ds, output, assign);
    cJSON *sum = NULL;
    if (s == SL_OK) {
        sum = cJSON_CreateObject();
        cJSON_AddStringToObject(sum, "output", output);
        if (assign) cJSON_AddStringToObject(sum, "assign_output", assign);
        cJSON_AddStringToObject(sum, "data_sha256", sha);
        cJSON_AddNumberToObject(sum, "k", b->k);
        cJSON_AddBoolToObject(sum, "k_chosen_by_silhouette", b->k_chosen_by_silhouette);
        cJSON_AddNumberToObject(sum, "n_episodes", (double)b->n_episodes);
        cJSON_AddNumberToObject(sum, "inertia", b->inertia);
        if (isfinite(b->silhouette)) cJSON_AddNumberToObject(sum, "silhouette", b->silhouette);
        else cJSON_AddNullToObject(sum, "silhouette");
        cJSON *cnt = cJSON_AddArrayToObject(sum, "episodes_per_brick");
        for (int k = 0; cnt && k < b->k; k++)
            cJSON_AddItemToArray(cnt, cJSON_CreateNumber((double)b->count[k]));
    }
    int rc = cli_run_finish(reg, run, s, sum);
    cJSON_Delete(sum);
    if (rc == 0 && json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "command", "bricks");
        cJSON_AddStringToObject(j, "output", output);
        if (assign) cJSON_AddStringToObject(j, "assign_output", assign);
        cJSON_AddNumberToObject(j, "k", b->k);
        cJSON_AddNumberToObject(j, "n_episodes", (double)b->n_episodes);
        cJSON_AddNumberToObject(j, "inertia", b->inertia);
        if (isfinite(b->silhouette)) cJSON_AddNumberToObject(j, "silhouette", b->silhouette);
        else cJSON_AddNullToObject(j, "silhouette");
        cJSON_AddItemToObject(j, "config",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(man, "config"), 1));
        cJSON *prov = cJSON_AddObjectToObject(j, "provenance");
        sl_json_add_provenance(prov, cfg.seed);
        char *txt = cJSON_Print(j);
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(j);
    } else if (rc == 0 && !sl_cli_quiet) {
        printf("%zu episodes -> %d bricks (%s k; silhouette %.4f; inertia %.6g) -> %s\n",
               b->n_episodes, b->k, b->k_chosen_by_silhouette ? "silhouette-chosen" : "given",
               b->silhouette, b->inertia, output);
        for (int k = 0; k < b->k; k++) {
            printf("  brick %d: %zu episodes", k, b->count[k]);
            for (int m = 0; m < SL_BRICK_ECON_COUNT; m++)
                if (b->econ_present[m])
                    printf("  %s %.4g±%.3g", sl_brick_econ_name((sl_brick_econ)m),
                           b->econ_mean[(size_t)k * SL_BRICK_ECON_COUNT + (size_t)m],
                           b->econ_std[(size_t)k * SL_BRICK_ECON_COUNT + (size_t)m]);
            printf("\n");
        }
    }
    cJSON_Delete(man);
    sl_bricks_free(b);
    free(lat);
    sl_dataset_free(ds);
    return rc;
}
