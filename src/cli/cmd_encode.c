/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_encode.c - `synthloop encode`: train the contrastive encoder (or apply a saved one) and
 * write the latents of a dataset, their statistics table and a JSON sidecar.
 *
 * Invariant: Z.npz rows are aligned with the dataset's rows; the sidecar Z.json always holds
 * provenance, the config and the statistics of exactly the latents written. The registry run
 * (--db) is begun before any work and ended ok only after the files and their rows were
 * recorded; every error path ends it failed with {"error": message}.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/run_record.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"

SL_COMMAND(encode, "train a contrastive encoder (InfoNCE + reconstruction) and write latents")

static void usage(void) {
    printf("usage: synthloop encode --data D.npz --output Z.npz [options]\n"
           "       synthloop encode --apply --checkpoint ENC.safetensors --data D.npz --output Z.npz\n"
           "\n"
           "Trains an MLP encoder obs -> z with InfoNCE (positives: steps of the same episode at\n"
           "1 <= |dt| <= k; negatives: the other items of the batch, from other episodes) plus\n"
           "recon_weight x the MSE of a decoder that reconstructs the standardised observation\n"
           "from the encoder's unit vector (so the latent keeps heights, velocities, gripper), then\n"
           "writes Z.npz (\"latents\", \"next_latents\" f4 [n, dim], \"episode_ids\" i4 [n], rows\n"
           "aligned with the dataset) and the sidecar Z.json (provenance, config, statistics).\n"
           "Latents are standardised: every dim has mean 0, std 1 over the training rows.\n"
           "\n"
           "options:\n"
           "  --data PATH          dataset NPZ (required)\n"
           "  --output PATH        latents NPZ to write (required)\n"
           "  --checkpoint PATH    encoder safetensors: written when training, read with --apply\n"
           "  --apply              encode with an existing encoder (needs --checkpoint)\n"
           "  --dim N              latent dimensions (default 32)\n"
           "  --epochs N           training epochs (default 20)\n"
           "  --seed N             random seed (default 0)\n"
           "  --hidden N           hidden width (default 128)\n"
           "  --layers N           hidden layers (default 2)\n"
           "  --k N                positive window |dt| <= k (default 3)\n"
           "  --batch N            anchors per batch (default 128)\n"
           "  --lr X               Adam learning rate (default 1e-3)\n"
           "  --temperature X      InfoNCE temperature (default 0.5; the pre-decoder encoder\n"
           "                       used 0.1, which fails policies, see docs/ENCODER.md)\n"
           "  --val-frac X         episodes held out for the retrieval/reconstruction report\n"
           "                       (default 0.1)\n"
           "  --recon-weight W     weight of the reconstruction MSE in the loss (default 10;\n"
           "                       0 = pure InfoNCE, no decoder; with --temperature 0.1 this\n"
           "                       is the pre-decoder encoder, bit for bit)\n"
           "  --threads N          kernel threads (default: the engine's default)\n"
           "  --db PATH|none       run registry (default $SYNTHLOOP_DB or synthloop.db;\n"
           "                       'none' records nothing)\n"
           "  --json               print the result JSON on stdout instead of the table\n"
           "  --quiet              no progress bar or table\n"
           "  --help               this text\n");
}

/* "Z.npz" -> "Z.json"; otherwise append ".json". Caller frees. */
static char *sidecar_path(const char *out) {
    size_t n = strlen(out);
    char *p = malloc(n + 6);
    if (!p) return NULL;
    memcpy(p, out, n + 1);
    if (n > 4 && strcmp(out + n - 4, ".npz") == 0) p[n - 4] = 0;
    strcat(p, ".json");
    return p;
}

static void config_to_json(cJSON *j, const sl_latent_config *c, int obs_dim) {
    cJSON *o = cJSON_AddObjectToObject(j, "config");
    if (!o) return;
    cJSON_AddNumberToObject(o, "obs_dim", obs_dim);
    cJSON_AddNumberToObject(o, "z_dim", c->z_dim);
    cJSON_AddNumberToObject(o, "hidden", c->hidden);
    cJSON_AddNumberToObject(o, "n_hidden", c->n_hidden);
    cJSON_AddNumberToObject(o, "k", c->k);
    cJSON_AddNumberToObject(o, "epochs", c->epochs);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "lr", (double)c->lr);
    cJSON_AddNumberToObject(o, "temperature", (double)c->temperature);
    cJSON_AddNumberToObject(o, "val_frac", c->val_frac);
    cJSON_AddNumberToObject(o, "recon_weight", (double)c->recon_weight);
    cJSON_AddNumberToObject(o, "threads", sl_nn_get_threads());
}

/* The run's config: the options as given (with --apply the checkpoint's config wins; the
 * sidecar and the run summary hold the resolved one). NULL when out of memory. */
static cJSON *run_config(const char *data, const char *output, const char *ckpt, int apply,
                        const sl_latent_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "data", data);
    cJSON_AddStringToObject(o, "output", output);
    if (ckpt) cJSON_AddStringToObject(o, "checkpoint", ckpt);
    else cJSON_AddNullToObject(o, "checkpoint");
    cJSON_AddStringToObject(o, "mode", apply ? "apply" : "train");
    if (!apply) {
        cJSON_AddNumberToObject(o, "z_dim", c->z_dim);
        cJSON_AddNumberToObject(o, "hidden", c->hidden);
        cJSON_AddNumberToObject(o, "n_hidden", c->n_hidden);
        cJSON_AddNumberToObject(o, "k", c->k);
        cJSON_AddNumberToObject(o, "epochs", c->epochs);
        cJSON_AddNumberToObject(o, "batch", c->batch);
        cJSON_AddNumberToObject(o, "lr", (double)c->lr);
        cJSON_AddNumberToObject(o, "temperature", (double)c->temperature);
        cJSON_AddNumberToObject(o, "val_frac", c->val_frac);
        cJSON_AddNumberToObject(o, "recon_weight", (double)c->recon_weight);
    }
    cJSON_AddNumberToObject(o, "threads", sl_nn_get_threads());
    return o;
}

/* Rows of a finished encode: the latents, the sidecar, the trained encoder (with its training
 * metrics) and the InfoNCE loss of the first and last epoch (the library reports only those),
 * plus the held-out loss and retrieval accuracy. */
static sl_status record_outputs(sl_registry *reg, int64_t run, const sl_dataset *ds,
                                const char *output, const char *side, const char *ckpt,
                                int trained, const sl_latent_train_report *rep,
                                const cJSON *training) {
    if (!reg) return SL_OK;
    char apath[PATH_MAX];
    SL_TRY(sl_registry_add_dataset(reg, run, cli_abs_path(output, apath), "latents",
                                   (int64_t)ds->n, (int64_t)ds->n_episodes, NULL));
    SL_TRY(sl_registry_add_artifact(reg, run, "latents.json", cli_abs_path(side, apath)));
    if (!trained) return SL_OK;
    if (ckpt) {
        char *m = training ? cJSON_PrintUnformatted(training) : NULL;
        sl_status s =
            sl_registry_add_model(reg, run, "encoder", cli_abs_path(ckpt, apath), 0, m, NULL);
        free(m);
        SL_TRY(s);
    }
    if (rep->epochs >= 1) {
        int64_t steps[2] = {1, rep->epochs};
        double loss[2] = {rep->loss_first_epoch, rep->loss_last_epoch};
        size_t n = rep->epochs > 1 ? 2 : 1;
        SL_TRY(sl_registry_add_metrics(reg, run, "encode/infonce_loss", steps + 2 - n,
                                       loss + 2 - n, n));
    }
    if (rep->n_val_episodes >= 2) {
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_loss", rep->epochs, rep->val_loss));
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_retrieval", rep->epochs,
                                      rep->val_retrieval));
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_retrieval_chance", rep->epochs,
                                      rep->val_chance));
    }
    if (rep->n_val_episodes >= 1 && rep->recon_last_epoch > 0.0)
        SL_TRY(sl_registry_add_metric(reg, run, "encode/val_recon_mse", rep->epochs,
                                      rep->val_recon_mse));
    return SL_OK;
}

int cmd_encode(int argc, char **argv) {
    const char *cmd = "encode";
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},        {"output", required_argument, 0, 'o'},
        {"checkpoint", required_argument, 0, 'c'},  {"apply", no_argument, 0, 'a'},
        {"dim", required_argument, 0, 'z'},         {"epochs", required_argument, 0, 'e'},
        {"seed", required_argument, 0, 's'},        {"hidden", required_argument, 0, 'H'},
        {"layers", required_argument, 0, 'L'},      {"k", required_argument, 0, 'k'},
        {"batch", required_argument, 0, 'b'},       {"lr", required_argument, 0, 'l'},
        {"temperature", required_argument, 0, 't'}, {"val-frac", required_argument, 0, 'v'},
        {"threads", required_argument, 0, 'T'},     {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"db", required_argument, 0, 'D'},          {"recon-weight", required_argument, 0, 'R'},
        {0, 0, 0, 0}};
    const char *data = NULL, *output = NULL, *ckpt = NULL, *db = NULL;
    int apply = 0, json = 0;
    sl_latent_config cfg = sl_latent_config_default();
    long v;
    double x;
    int rc;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'o': output = optarg; break;
        case 'c': ckpt = optarg; break;
        case 'a': apply = 1; break;
        case 'D': db = optarg; break;
        case 'j': json = 1; break;
        case 'q': sl_cli_quiet = 1; sl_progress_set_quiet(1); break;
        case 'z':
            if ((rc = sl_cli_parse_int(cmd, "--dim", optarg, 2, 4096, &v))) return rc;
            cfg.z_dim = (int)v;
            break;
        case 'e':
            if ((rc = sl_cli_parse_int(cmd, "--epochs", optarg, 0, 1000000, &v))) return rc;
            cfg.epochs = (int)v;
            break;
        case 's':
            if ((rc = sl_cli_parse_u64(cmd, "--seed", optarg, &cfg.seed))) return rc;
            break;
        case 'H':
            if ((rc = sl_cli_parse_int(cmd, "--hidden", optarg, 1, 65536, &v))) return rc;
            cfg.hidden = (int)v;
            break;
        case 'L':
            if ((rc = sl_cli_parse_int(cmd, "--layers", optarg, 1, 8, &v))) return rc;
            cfg.n_hidden = (int)v;
            break;
        case 'k':
            if ((rc = sl_cli_parse_int(cmd, "--k", optarg, 1, 10000, &v))) return rc;
            cfg.k = (int)v;
            break;
        case 'b':
            if ((rc = sl_cli_parse_int(cmd, "--batch", optarg, 2, 65536, &v))) return rc;
            cfg.batch = (int)v;
            break;
        case 'l':
            if ((rc = sl_cli_parse_double(cmd, "--lr", optarg, 1e-8, 1.0, &x))) return rc;
            cfg.lr = (float)x;
            break;
        case 't':
            if ((rc = sl_cli_parse_double(cmd, "--temperature", optarg, 1e-3, 100.0, &x))) return rc;
            cfg.temperature = (float)x;
            break;
        case 'v':
            if ((rc = sl_cli_parse_double(cmd, "--val-frac", optarg, 0.0, 0.5, &x))) return rc;
            cfg.val_frac = x;
            break;
        case 'R':
            if ((rc = sl_cli_parse_double(cmd, "--recon-weight", optarg, 0.0, 1e4, &x))) return rc;
            cfg.recon_weight = (float)x;
            break;
        case 'T':
            if ((rc = sl_cli_parse_int(cmd, "--threads", optarg, 1, 256, &v))) return rc;
            sl_nn_set_threads((int)v);
            break;
        default:
            return sl_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!data) return sl_cli_usage_error(cmd, "--data is required");
    if (!output) return sl_cli_usage_error(cmd, "--output is required");
    if (apply && !ckpt) return sl_cli_usage_error(cmd, "--apply needs --checkpoint");

    sl_dataset *ds = NULL;
    sl_latent_encoder *enc = NULL;
    float *z = NULL, *nz = NULL;
    cJSON *res = NULL;
    char *side = NULL;
    sl_latent_train_report rep;
    memset(&rep, 0, sizeof rep);
    sl_latent_stats stats;
    char sha[65] = "";
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(db, "encode", run_config(data, output, ckpt, apply, &cfg),
                                 cfg.seed, &reg, &run);
    if (st == SL_OK) st = sl_dataset_load_npz(&ds, data);
    if (st == SL_OK) st = sl_sha256_file(data, sha);
    if (st == SL_OK) {
        if (apply) {
            st = sl_latent_load(&enc, ckpt);
        } else {
            st = sl_latent_train(&enc, ds, &cfg, &rep);
            if (st != SL_OK) st = sl_set_error(st, "%s: %s", data, sl_last_error());
        }
    }
    if (st == SL_OK) {
        cfg = sl_latent_get_config(enc);
        size_t cnt = ds->n * (size_t)cfg.z_dim;
        z = malloc(cnt ? cnt * sizeof(float) : 1);
        nz = malloc(cnt ? cnt * sizeof(float) : 1);
        if (!z || !nz) st = sl_set_error(SL_ERR_NOMEM, "encode: out of memory");
    }
    if (st == SL_OK) {
        st = sl_latent_encode_dataset(enc, ds, z, nz);
        if (st != SL_OK) st = sl_set_error(st, "%s: %s", data, sl_last_error());
    }
    if (st == SL_OK) st = sl_latent_compute_stats(z, ds->episode_ids, ds->n, cfg.z_dim, &stats);
    if (st == SL_OK) st = sl_latents_save_npz(output, z, nz, ds->episode_ids, ds->n, cfg.z_dim);
    if (st == SL_OK && !apply && ckpt) {
        cJSON *meta = cJSON_CreateObject();
        char ts[32];
        sl_utc_iso8601(ts, sizeof ts);
        cJSON_AddStringToObject(meta, "version", sl_version());
        cJSON_AddStringToObject(meta, "git", sl_git_describe());
        cJSON_AddStringToObject(meta, "time", ts);
        cJSON_AddStringToObject(meta, "data_sha256", sha);
        st = sl_latent_save(enc, ckpt, meta);
        cJSON_Delete(meta);
    }
    if (st == SL_OK) {
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "command", "encode");
        cJSON_AddStringToObject(res, "mode", apply ? "apply" : "train");
        sl_json_add_provenance(res, cfg.seed);
        config_to_json(res, &cfg, ds->obs_dim);
        cJSON *d = cJSON_AddObjectToObject(res, "data");
        cJSON_AddStringToObject(d, "path", data);
        cJSON_AddStringToObject(d, "sha256", sha);
        cJSON_AddNumberToObject(d, "n", (double)ds->n);
        cJSON_AddNumberToObject(d, "n_episodes", (double)ds->n_episodes);
        cJSON_AddStringToObject(res, "output", output);
        if (ckpt) cJSON_AddStringToObject(res, "checkpoint", ckpt);
        else cJSON_AddNullToObject(res, "checkpoint");
        if (!apply) {
            cJSON *t = cJSON_AddObjectToObject(res, "training");
            cJSON_AddNumberToObject(t, "epochs", rep.epochs);
            cJSON_AddNumberToObject(t, "steps", rep.steps);
            cJSON_AddNumberToObject(t, "train_episodes", (double)rep.n_train_episodes);
            cJSON_AddNumberToObject(t, "val_episodes", (double)rep.n_val_episodes);
            cJSON_AddNumberToObject(t, "loss_first_epoch", rep.loss_first_epoch);
            cJSON_AddNumberToObject(t, "loss_last_epoch", rep.loss_last_epoch);
            if (cfg.recon_weight > 0.0f) {
                cJSON_AddNumberToObject(t, "recon_mse_first_epoch", rep.recon_first_epoch);
                cJSON_AddNumberToObject(t, "recon_mse_last_epoch", rep.recon_last_epoch);
                if (rep.n_val_episodes >= 1)
                    cJSON_AddNumberToObject(t, "val_recon_mse", rep.val_recon_mse);
            }
            if (rep.n_val_episodes >= 2) {
                cJSON_AddNumberToObject(t, "val_loss", rep.val_loss);
                cJSON_AddNumberToObject(t, "val_retrieval_accuracy", rep.val_retrieval);
                cJSON_AddNumberToObject(t, "val_retrieval_chance", rep.val_chance);
            }
            cJSON_AddNumberToObject(t, "seconds", rep.seconds);
        }
        sl_latent_stats_to_json(res, "latent_stats", &stats);
        side = sidecar_path(output);
        if (!side) st = sl_set_error(SL_ERR_NOMEM, "encode: out of memory");
        else st = sl_json_write_file(side, res);
    }
    if (st == SL_OK)
        st = record_outputs(reg, run, ds, output, side, ckpt, !apply, &rep,
                            cJSON_GetObjectItemCaseSensitive(res, "training"));
    int exit_rc = cli_run_finish(reg, run, st, res);
    if (exit_rc == 0) {
        if (json) {
            char *s = cJSON_Print(res);
            if (s) printf("%s\n", s);
            free(s);
        } else if (!sl_cli_quiet) {
            if (!apply) {
                printf("encoder: %d epochs, %d steps, InfoNCE loss %.4f -> %.4f", rep.epochs,
                       rep.steps, rep.loss_first_epoch, rep.loss_last_epoch);
                if (rep.n_val_episodes >= 2)
                    printf("; held-out retrieval %.3f (chance %.3f)", rep.val_retrieval,
                           rep.val_chance);
                printf("\n");
                if (cfg.recon_weight > 0.0f) {
                    printf("reconstruction (weight %g): MSE of x_std %.4f -> %.4f",
                           (double)cfg.recon_weight, rep.recon_first_epoch, rep.recon_last_epoch);
                    if (rep.n_val_episodes >= 1)
                        printf("; held-out %.4f", rep.val_recon_mse);
                    printf("\n");
                }
            }
            sl_latent_stats_print(stdout, "Real z_V statistics", &stats);
            printf("wrote %s and %s%s%s\n", output, side, (!apply && ckpt) ? " and " : "",
                   (!apply && ckpt) ? ckpt : "");
        }
    }
    free(side);
    cJSON_Delete(res);
    free(z);
    free(nz);
    sl_latent_free(enc);
    sl_dataset_free(ds);
    return exit_rc;
}
