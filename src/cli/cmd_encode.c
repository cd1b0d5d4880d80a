/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_encode.c - `synthloop encode`: train the contrastive encoder (or apply a saved one) and
 * write the latents of a dataset, their statistics table and a JSON sidecar.
 *
 * Invariant: Z.npz rows are aligned with the dataset's rows; the sidecar Z.json always holds
 * provenance, the config and the statistics of exactly the latents written. The registry run
 * (--db) is begun before any work and ended ok only after the files and their rows were
 * recorded; every error path ends it failed with {"error": message}.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cli_job.h"
#include "cli/opts.h"
#include "cli/run_record.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"

SL_COMMAND(encode, "train a contrastive encoder (InfoNCE + reconstruction) and write latents")

typedef struct encode_cli {
    const char *data, *output, *ckpt, *db;
    int apply, json, quiet, threads;
    sl_latent_config cfg;
} encode_cli;

#define F(x) offsetof(encode_cli, x)
static const cli_opt encode_opts[] = {
    {"data", CLI_STRING, F(data), 0, 0, "PATH", "dataset NPZ (required)", NULL, 0, NULL},
    {"output", CLI_STRING, F(output), 0, 0, "PATH", "latents NPZ to write (required)", NULL, 0, NULL},
    {"checkpoint", CLI_STRING, F(ckpt), 0, 0, "PATH",
     "encoder safetensors: written when training, read with --apply", NULL, 0, NULL},
    {"apply", CLI_FLAG, F(apply), 0, 0, NULL,
     "encode with an existing encoder (needs --checkpoint)", NULL, 1, NULL},
    {"dim", CLI_INT, F(cfg.z_dim), 2, 4096, "N", "latent dimensions (default 32)", NULL, 0, NULL},
    {"epochs", CLI_INT, F(cfg.epochs), 0, 1000000, "N", "training epochs (default 20)", NULL, 0,
     NULL},
    CLI_NN_TRAIN_ROWS(encode_cli, cfg, 65536, "hidden width (default 128)",
                      "anchors per batch (default 128)"),
    {"k", CLI_INT, F(cfg.k), 1, 10000, "N", "positive window |dt| <= k (default 3)", NULL, 0, NULL},
    {"temperature", CLI_FLOAT, F(cfg.temperature), 1e-3, 100.0, "X",
     "InfoNCE temperature (default 0.5; the pre-decoder encoder\n"
     "                       used 0.1, which fails policies, see docs/ENCODER.md)", NULL, 0, NULL},
    {"val-frac", CLI_DOUBLE, F(cfg.val_frac), 0.0, 0.5, "X",
     "episodes held out for the retrieval/reconstruction report\n"
     "                       (default 0.1)", NULL, 0, NULL},
    {"recon-weight", CLI_FLOAT, F(cfg.recon_weight), 0.0, 1e4, "W",
     "weight of the reconstruction MSE in the loss (default 10;\n"
     "                       0 = pure InfoNCE, no decoder; with --temperature 0.1 this\n"
     "                       is the pre-decoder encoder, bit for bit)", NULL, 0, NULL},
    {"threads", CLI_INT, F(threads), 1, 256, "N", "kernel threads (default: the engine's default)",
     NULL, 0, NULL},
    {"db", CLI_STRING, F(db), 0, 0, "PATH|none", "run registry (default $SYNTHLOOP_DB or "
     "synthloop.db;\n                       'none' records nothing)", NULL, 0, NULL},
    {"json", CLI_FLAG, F(json), 0, 0, NULL, "print the result JSON on stdout instead of the table",
     NULL, 1, NULL},
    {"quiet", CLI_FLAG, F(quiet), 0, 0, NULL, "no progress bar or table", NULL, 1, NULL},
};
#undef F
#define N_ENCODE_OPTS (sizeof encode_opts / sizeof encode_opts[0])

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
           "options:\n");
    cli_opts_help(stdout, encode_opts, N_ENCODE_OPTS);
    printf("  --help               this text\n");
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

int cmd_encode(int argc, char **argv) {
    const char *cmd = "encode";
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    encode_cli o;
    memset(&o, 0, sizeof o);
    o.cfg = sl_latent_config_default();
    int rc = cli_opts_parse(cmd, encode_opts, N_ENCODE_OPTS, &o, argc, argv, NULL);
    if (rc) return rc;
    if (o.quiet) {
        sl_cli_quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (o.threads) sl_nn_set_threads(o.threads);
    const char *data = o.data, *output = o.output, *ckpt = o.ckpt, *db = o.db;
    int apply = o.apply, json = o.json;
    sl_latent_config cfg = o.cfg;
    if (!data) return sl_cli_usage_error(cmd, "--data is required");
    if (!output) return sl_cli_usage_error(cmd, "--output is required");
    if (apply && !ckpt) return sl_cli_usage_error(cmd, "--apply needs --checkpoint");

    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st = cli_run_begin(db, "encode", run_config(data, output, ckpt, apply, &cfg),
                                 cfg.seed, &reg, &run);
    sl_loop_encode_config ec = {data, output, ckpt, apply, cfg};
    sl_loop_encode_result r;
    memset(&r, 0, sizeof r);
    cli_job job;
    sl_loop_ctx ctx;
    cli_job_init(&job, reg, run, &ctx);
    if (st == SL_OK) st = sl_loop_encode(&ec, &ctx, &r);
    st = cli_job_finish(&job, st);
    int exit_rc = cli_run_finish(reg, run, st, r.json);
    const sl_latent_train_report *rep = &r.rep;
    if (exit_rc == 0) {
        if (json) {
            char *s = cJSON_Print(r.json);
            if (s) printf("%s\n", s);
            free(s);
        } else if (!sl_cli_quiet) {
            if (!apply) {
                printf("encoder: %d epochs, %d steps, InfoNCE loss %.4f -> %.4f", rep->epochs,
                       rep->steps, rep->loss_first_epoch, rep->loss_last_epoch);
                if (rep->n_val_episodes >= 2)
                    printf("; held-out retrieval %.3f (chance %.3f)", rep->val_retrieval,
                           rep->val_chance);
                printf("\n");
                if (r.latent.recon_weight > 0.0f) {
                    printf("reconstruction (weight %g): MSE of x_std %.4f -> %.4f",
                           (double)r.latent.recon_weight, rep->recon_first_epoch,
                           rep->recon_last_epoch);
                    if (rep->n_val_episodes >= 1) printf("; held-out %.4f", rep->val_recon_mse);
                    printf("\n");
                }
            }
            sl_latent_stats_print(stdout, "Real z_V statistics", &r.stats);
            printf("wrote %s and %s%s%s\n", output, r.sidecar, (!apply && ckpt) ? " and " : "",
                   (!apply && ckpt) ? ckpt : "");
        }
    }
    sl_loop_encode_result_free(&r);
    return exit_rc;
}
