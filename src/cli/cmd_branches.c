/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_branches.c - `synthloop branches collect`: roll short synthetic branches out of the world
 * model from real starts, score them with trust_net, gate them, and write FILE.npz (branches +
 * flattened learner transitions) and FILE.json (pass rate, trust distribution, per-brick pass
 * rates, config, provenance).
 *
 * Invariant: the NPZ is written before the JSON and both atomically; no NaN reaches either.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"
#include "run_record.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_rl.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_trust.h"
#include "synthloop/sl_world.h"

SL_COMMAND(branches, "collect trust-gated synthetic branches from the world model (branches collect)")

static void usage(void) {
    printf("usage: synthloop branches collect --data D.npz --latents Z.npz --world-model WM.safetensors\n"
           "                                  --trust-model T.safetensors --output FILE.npz [options]\n"
           "\n"
           "Starts branches at random real (episode, t) with t + H inside the episode, takes actions\n"
           "from a behaviour clone (MLP latent -> action trained here) with Gaussian noise, rolls the\n"
           "world model out H steps, scores every branch with trust_net and gates it (trust floor +\n"
           "std-ratio band; non-finite -> rejected). Keys and statistics: docs/WORLD.md.\n"
           "\n"
           "options:\n"
           "  --horizon N                branch length H (default 10)\n"
           "  --min-trust X              trust floor (default: the band's preset floor)\n"
           "  --branches-per-episode N   starts per episode (default 5)\n"
           "  --band normal|conservative|aggressive  std-ratio band [0.8,1.2] | [0.9,1.1] | [0.7,1.3]\n"
           "                             (and its trust floor 0.9 | 0.95 | 0.8) (default normal)\n"
           "  --bricks PATH              brick assignments NPZ (episode_brick_ids or brick_ids)\n"
           "  --policy PATH              actions from a trained policy over these latents (a\n"
           "                             `synthloop train --output` checkpoint) instead of the\n"
           "                             behaviour clone; --policy-noise applies to it too\n"
           "  --policy-noise X           action noise in action stds (default 0.1)\n"
           "  --bc-iters N               BC training steps (default 800)\n"
           "  --noise X                  world-model noise scale (default: the model's calibrated)\n"
           "  --no-certify               skip the generator certificate (the world model's std\n"
           "                             ratio at horizons 5..60 on held-out real starts, stored as\n"
           "                             generator_horizons / generator_std_ratio; ab's controller\n"
           "                             gives no weight to a file whose range leaves its band)\n"
           "  --seed N                   seed (default 0)\n"
           "  --threads N                kernel threads\n"
           "  --encoder PATH             attach the encoder's latent sphere (rollouts projected\n"
           "                             back onto it every step; see world --help)\n"
           "  --db PATH|none             run registry (default $SYNTHLOOP_DB or synthloop.db; none = off)\n"
           "  --json                     print the summary JSON on stdout\n"
           "  --quiet                    no table\n");
}

enum {
    O_DATA = 1000, O_LAT, O_WM, O_TM, O_OUT, O_H, O_MINT, O_BPE, O_BAND, O_BRICKS, O_PN, O_BCI,
    O_NOISE, O_SEED, O_THREADS, O_JSON, O_QUIET, O_HELP, O_DB, O_ENC, O_NOCERT, O_POLICY
};
static const struct option opts[] = {
    {"data", 1, 0, O_DATA},          {"latents", 1, 0, O_LAT},   {"world-model", 1, 0, O_WM},
    {"trust-model", 1, 0, O_TM},     {"output", 1, 0, O_OUT},    {"horizon", 1, 0, O_H},
    {"min-trust", 1, 0, O_MINT},     {"branches-per-episode", 1, 0, O_BPE},
    {"band", 1, 0, O_BAND},          {"bricks", 1, 0, O_BRICKS}, {"policy-noise", 1, 0, O_PN},
    {"bc-iters", 1, 0, O_BCI},       {"noise", 1, 0, O_NOISE},   {"seed", 1, 0, O_SEED},
    {"threads", 1, 0, O_THREADS},    {"json", 0, 0, O_JSON},     {"quiet", 0, 0, O_QUIET},
    {"help", 0, 0, O_HELP},          {"db", 1, 0, O_DB},         {"encoder", 1, 0, O_ENC},
    {"no-certify", 0, 0, O_NOCERT},  {"policy", 1, 0, O_POLICY},
    {0, 0, 0, 0}};

static char *sidecar_path(const char *out) {
    size_t n = strlen(out);
    char *p = malloc(n + 6);
    if (!p) return NULL;
    memcpy(p, out, n + 1);
    if (n > 4 && strcmp(out + n - 4, ".npz") == 0) p[n - 4] = 0;
    strcat(p, ".json");
    return p;
}

/* --encoder: attach the encoder's latent sphere to the model (sl_world_set_sphere). */
static sl_status attach_sphere(sl_world *w, const char *enc_path) {
    if (!enc_path) return SL_OK;
    sl_latent_encoder *enc = NULL;
    SL_TRY(sl_latent_load(&enc, enc_path));
    sl_status st = SL_OK;
    if (sl_latent_z_dim(enc) != sl_world_z_dim(w))
        st = sl_set_error(SL_ERR_SHAPE, "%s: encoder latents have %d dims, the world model %d",
                          enc_path, sl_latent_z_dim(enc), sl_world_z_dim(w));
    const float *m = NULL, *sd = NULL;
    if (st == SL_OK) {
        sl_latent_z_norm(enc, &m, &sd);
        st = sl_world_set_sphere(w, m, sd);
    }
    sl_latent_free(enc);
    return st;
}

/* Brick id per episode from `synthloop bricks --assign-output` (or any NPZ with
 * episode_brick_ids [n_episodes] or brick_ids [n] per row). *out malloc'd. */
static sl_status load_bricks(const char *path, const sl_world_data *d, int32_t **out) {
    *out = NULL;
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL;
    sl_status st = SL_OK;
    int per_episode = 0;
    if (sl_npz_has(z, "episode_brick_ids")) {
        st = sl_npz_get(z, "episode_brick_ids", &a);
        per_episode = 1;
    } else if (sl_npz_has(z, "brick_ids")) {
        st = sl_npz_get(z, "brick_ids", &a);
    } else {
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: neither 'episode_brick_ids' nor 'brick_ids'", path);
    }
    if (st == SL_OK && (a->dtype != SL_DTYPE_I32 || a->ndim != 1 ||
                        a->shape[0] != (per_episode ? d->n_episodes : d->n)))
        st = sl_set_error(SL_ERR_SHAPE, "%s: '%s' must be i4 [%zu], the dataset's %s", path,
                          per_episode ? "episode_brick_ids" : "brick_ids",
                          per_episode ? d->n_episodes : d->n, per_episode ? "episodes" : "rows");
    int32_t *b = NULL;
    if (st == SL_OK && !(b = malloc(d->n_episodes * sizeof *b)))
        st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    for (size_t e = 0; st == SL_OK && e < d->n_episodes; e++) {
        const int32_t *v = a->data;
        b[e] = per_episode ? v[e] : v[d->ep_start[e]];
        if (b[e] < -1 || b[e] > 1000000)
            st = sl_set_error(SL_ERR_RANGE, "%s: brick id %d of episode %zu out of range", path,
                              (int)b[e], e);
    }
    sl_npz_close(z);
    if (st != SL_OK) {
        free(b);
        return st;
    }
    *out = b;
    return SL_OK;
}

int cmd_branches(int argc, char **argv) {
    const char *cmd = "branches";
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) return sl_cli_usage_error(cmd, "expected a subcommand: collect");
        usage();
        return 0;
    }
    if (strcmp(argv[1], "collect") != 0)
        return sl_cli_usage_error(cmd, "unknown subcommand '%s' (collect)", argv[1]);
    argc--;
    argv++;
    const char *data = NULL, *lat = NULL, *wm = NULL, *tmp = NULL, *out = NULL, *bricks = NULL,
               *db = NULL, *encp = NULL, *polp = NULL;
    sl_synth_config sc;
    sl_synth_config_default(&sc);
    sl_gate_preset preset = SL_GATE_NORMAL;
    double min_trust = -1, x;
    long v;
    int json = 0, quiet = 0, threads = 0, certify = 1, c;
    uint64_t seed = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_LAT: lat = optarg; break;
        case O_WM: wm = optarg; break;
        case O_TM: tmp = optarg; break;
        case O_OUT: out = optarg; break;
        case O_BRICKS: bricks = optarg; break;
        case O_DB: db = optarg; break;
        case O_ENC: encp = optarg; break;
        case O_POLICY: polp = optarg; break;
        case O_H:
            if (sl_cli_parse_int(cmd, "--horizon", optarg, 1, SL_WORLD_MAX_HORIZON, &v)) return 2;
            sc.horizon = (int)v;
            break;
        case O_BPE:
            if (sl_cli_parse_int(cmd, "--branches-per-episode", optarg, 1, 100000, &v)) return 2;
            sc.branches_per_episode = (int)v;
            break;
        case O_BCI:
            if (sl_cli_parse_int(cmd, "--bc-iters", optarg, 0, 10000000, &v)) return 2;
            sc.bc_iters = (int)v;
            break;
        case O_THREADS:
            if (sl_cli_parse_int(cmd, "--threads", optarg, 0, 1024, &v)) return 2;
            threads = (int)v;
            break;
        case O_MINT:
            if (sl_cli_parse_double(cmd, "--min-trust", optarg, 0, 1, &min_trust)) return 2;
            break;
        case O_PN:
            if (sl_cli_parse_double(cmd, "--policy-noise", optarg, 0, 100, &x)) return 2;
            sc.policy_noise = (float)x;
            break;
        case O_NOISE:
            if (sl_cli_parse_double(cmd, "--noise", optarg, 0, 1000, &x)) return 2;
            sc.rollout_noise = (float)x;
            break;
        case O_BAND:
            if (sl_gate_preset_parse(optarg, &preset) != SL_OK)
                return sl_cli_usage_error(cmd, "--band expects normal, conservative or aggressive");
            break;
        case O_SEED:
            if (sl_cli_parse_u64(cmd, "--seed", optarg, &seed)) return 2;
            break;
        case O_JSON: json = 1; break;
        case O_NOCERT: certify = 0; break;
        case 'q':
        case O_QUIET: quiet = 1; break;
        case 'h':
        case O_HELP: usage(); return 0;
        case ':': return sl_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default: return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!data || !lat || !wm || !tmp || !out)
        return sl_cli_usage_error(cmd, "collect needs --data, --latents, --world-model, "
                                  "--trust-model and --output");
    if (quiet || sl_cli_quiet) {
        quiet = 1;
        sl_progress_set_quiet(1);
    }
    if (threads) sl_nn_set_threads(threads);
    sc.gate = sl_gate_from_preset(preset);
    if (min_trust >= 0) sc.gate.trust_floor = min_trust;
    sc.seed = seed;

    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL;
    size_t n;
    int zd;
    sl_world_data d = {0};
    sl_world *w = NULL;
    sl_trust_model *tm = NULL;
    int32_t *bk = NULL;
    sl_branches *b = NULL;
    cJSON *res = NULL;
    sl_registry *reg = NULL;
    int64_t run = 0;
    sl_status st;
    {
        cJSON *conf = sl_synth_config_json(&sc);
        if (conf) {
            cJSON_AddStringToObject(conf, "band", sl_gate_preset_name(preset));
            cJSON_AddStringToObject(conf, "data", data);
            cJSON_AddStringToObject(conf, "latents", lat);
            cJSON_AddStringToObject(conf, "world_model", wm);
            cJSON_AddStringToObject(conf, "trust_model", tmp);
            if (bricks) cJSON_AddStringToObject(conf, "bricks", bricks);
            if (polp) cJSON_AddStringToObject(conf, "policy", polp);
            cJSON_AddStringToObject(conf, "output", out);
        }
        st = cli_run_begin(db, "branches collect", conf, seed, &reg, &run);
    }
    if (st == SL_OK) st = sl_world_load(&w, wm);
    if (st == SL_OK) st = attach_sphere(w, encp);
    if (st == SL_OK) st = sl_trust_load(&tm, tmp);
    if (st == SL_OK) st = sl_dataset_load_npz(&ds, data);
    if (st == SL_OK) st = sl_world_load_latents(lat, ds, &z, &zn, &n, &zd);
    if (st == SL_OK) {
        const sl_world_config *wc = sl_world_get_config(w);
        st = sl_world_data_init(&d, ds, z, zn, zd, (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names,
                                wc->n_econ);
    }
    if (st == SL_OK && bricks) st = load_bricks(bricks, &d, &bk);
    sl_agent *agent = NULL;
    sl_synth_agent_policy *ap = NULL;
    if (st == SL_OK && polp) st = sl_agent_load(&agent, polp);
    if (st == SL_OK && polp) st = sl_synth_agent_policy_new(&ap, agent, &d, sc.policy_noise);
    if (st == SL_OK)
        st = sl_synth_collect(&b, w, &d, tm, bk, ap ? sl_synth_agent_policy_act : NULL, ap, &sc);
    /* the generator's certificate: its std ratio per horizon 5..60 on held-out real starts */
    if (st == SL_OK && certify) st = sl_synth_certify(&b->cert, w, &d, sc.rollout_noise, seed);
    if (st == SL_OK) st = sl_branches_save_npz(b, out);
    if (st == SL_OK) {
        res = sl_branches_summary_json(b);
        if (!res) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    }
    if (st == SL_OK) {
        cJSON *cfg = sl_synth_config_json(&sc);
        cJSON_AddStringToObject(cfg, "band", sl_gate_preset_name(preset));
        cJSON_AddStringToObject(cfg, "data", data);
        cJSON_AddStringToObject(cfg, "latents", lat);
        cJSON_AddStringToObject(cfg, "world_model", wm);
        cJSON_AddStringToObject(cfg, "trust_model", tmp);
        if (bricks) cJSON_AddStringToObject(cfg, "bricks", bricks);
        cJSON_AddStringToObject(cfg, "action_source", polp ? "policy" : "behaviour_clone");
        if (polp) cJSON_AddStringToObject(cfg, "policy", polp);
        cJSON_AddBoolToObject(cfg, "sphere_projection", sl_world_has_sphere(w));
        cJSON_AddNumberToObject(cfg, "world_noise_scale",
                                sc.rollout_noise < 0 ? (double)sl_world_get_config(w)->noise_scale
                                                     : (double)sc.rollout_noise);
        cJSON_AddItemToObject(res, "config", cfg);
        cJSON_AddStringToObject(res, "output", out);
        sl_json_add_provenance(res, seed);
        char *sc_path = sidecar_path(out);
        st = sc_path ? sl_json_write_file(sc_path, res) : sl_set_error(SL_ERR_NOMEM, "out of memory");
        if (st == SL_OK && reg) {
            char apath[PATH_MAX];
            st = sl_registry_add_dataset(reg, run, cli_abs_path(out, apath), "branches",
                                         (int64_t)(b->n * (size_t)b->horizon), (int64_t)b->n, NULL);
            sl_branch_row *rows = st == SL_OK ? malloc((b->n ? b->n : 1) * sizeof *rows) : NULL;
            if (st == SL_OK && !rows) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == SL_OK && i < b->n; i++)
                rows[i] = (sl_branch_row){b->source_episode[i], b->source_t[i], b->horizon,
                                          b->brick_id[i], b->trust[i], b->std_ratio[i],
                                          b->passed[i]};
            if (st == SL_OK) st = sl_registry_add_branch_batch(reg, run, rows, b->n);
            free(rows);
            double pr = sl_json_num(res, "pass_rate", NAN);
            if (st == SL_OK && isfinite(pr))
                st = sl_registry_add_metric(reg, run, "branches/pass_rate", b->horizon, pr);
            char *rj = st == SL_OK ? cJSON_PrintUnformatted(res) : NULL;
            if (st == SL_OK && !rj) st = sl_set_error(SL_ERR_NOMEM, "out of memory");
            if (st == SL_OK) st = sl_registry_add_result(reg, run, "branches_summary", rj);
            free(rj);
            if (st == SL_OK)
                st = sl_registry_add_artifact(reg, run, "branches.json", cli_abs_path(sc_path, apath));
        }
        free(sc_path);
    }
    int rc = cli_run_finish(reg, run, st, NULL);
    if (rc) {
        /* error already printed */
    } else if (json) {
        char *s = cJSON_Print(res);
        if (s) printf("%s\n", s);
        free(s);
    } else if (!quiet) {
        printf("%zu branches of %d steps -> %s\n", b->n, b->horizon, out);
        printf("  pass rate %.3f (gate: trust >= %.2f, std ratio in [%.2f, %.2f])\n",
               sl_json_num(res, "pass_rate", 0), sc.gate.trust_floor, sc.gate.ratio_lo,
               sc.gate.ratio_hi);
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(res, "trust_quantiles");
        if (b->cert.n > 0) pl_print_certificate("  ", &b->cert);
        printf("  trust p05 %.4f  p50 %.4f  p95 %.4f\n", sl_json_num(q, "p05", 0),
               sl_json_num(q, "p50", 0), sl_json_num(q, "p95", 0));
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(res, "reasons");
        const cJSON *it;
        printf("  reasons:");
        cJSON_ArrayForEach(it, r) printf(" %s %d", it->string, (int)it->valuedouble);
        printf("\n");
    }
    cJSON_Delete(res);
    sl_branches_free(b);
    free(bk);
    sl_synth_agent_policy_free(ap);
    sl_agent_free(agent);
    sl_trust_free(tm);
    sl_world_free(w);
    sl_world_data_clear(&d);
    sl_dataset_free(ds);
    free(z);
    free(zn);
    return rc;
}
