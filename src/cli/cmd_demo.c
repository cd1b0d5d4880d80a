/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_demo.c - `synthloop demo` (what `make demo` runs): the whole loop on built-in defaults,
 * in one process and one registry run:
 *   collect -> encode -> bricks -> world model (stable) + unstable reference -> trust_net
 *   -> world eval per horizon -> gated branches -> SyntheticWeightController -> A/B in physics
 *   -> HTML report.
 * Every stage's output is a file in --out and a row in the registry. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pipeline.h"
#include "synthloop/sl_bricks.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_world.h"

SL_COMMAND(demo, "run the whole pipeline on built-in defaults and print the verdict")

typedef struct demo_opts {
    const char *out, *db;
    int episodes, seeds, updates, eval_episodes, horizon, members, wm_iters, hidden;
    double share, min_trust;
    uint64_t seed;
    int threads;
    int gband_set; /* --generator-band given (else the controller's default [0.8, 1.2]) */
    double gband_lo, gband_hi;
} demo_opts;

static void usage(void) {
    printf("usage: synthloop demo [--out DIR] [options]\n\n"
           "Runs the whole synthetic training loop on the built-in MuJoCo workcell:\n"
           "  1 collect real episodes          5 trust_net (real vs unstable/noisy negatives)\n"
           "  2 contrastive encoder (z_V)      6 world eval per horizon (5..60)\n"
           "  3 bricks (k-means)               7 gated branches + SyntheticWeightController\n"
           "  4 world model + unstable ref.    8 A/B in physics, verdict, HTML report\n"
           "Everything is written to DIR and recorded in the registry as one 'demo' run.\n\n"
           "options:\n"
           "  --out DIR            output directory (demo-out)\n"
           "  --episodes N         real episodes (50)\n"
           "  --horizon H          branch horizon (10)\n"
           "  --synth-weight W     target synthetic share (0.1)\n"
           "  --min-trust T        trust floor (0.9)\n"
           "  --generator-band B   certificate rail band: LO,HI | normal (0.8,1.2, default) |\n"
           "                       conservative | aggressive | off (see ab --help)\n"
           "  --seeds N            A/B seeds (5)\n"
           "  --updates N          learner updates per policy (3000)\n"
           "  --eval-episodes N    workcell episodes per final policy (10)\n"
           "  --hidden N           learner width (128)\n"
           "  --members N          world-model ensemble size (3)\n"
           "  --wm-iters N         world-model optimiser steps per member (300)\n"
           "  --seed N             seed (0)\n"
           "  --threads N          compute threads (0 = all cores)\n"
           "  --db PATH|none       registry (default synthloop.db or $SYNTHLOOP_DB)\n"
           "  --quiet              no progress bars\n");
}

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void stage(int k, const char *what) {
    if (!sl_cli_quiet) printf("[%d/8] %s\n", k, what);
    fflush(stdout);
}

typedef struct demo_paths {
    char *data, *latents, *encoder, *bricks, *world, *ref, *trust, *eval, *branches, *ab, *report;
} demo_paths;

static sl_status run_demo(const demo_opts *o, sl_registry *reg, int64_t run, const demo_paths *p,
                          cJSON *summary) {
    sl_status s;
    /* 1. collect */
    stage(1, "collect real episodes in the MuJoCo workcell");
    sl_env *env = NULL;
    sl_dataset *ds = NULL;
    sl_collect_summary cs;
    SL_TRY(sl_env_workcell_new(&env, NULL));
    s = sl_env_collect(env, SL_POLICY_MIXED, (size_t)o->episodes, o->seed + 1, &ds, &cs);
    sl_env_free(env);
    if (s == SL_OK) s = sl_dataset_save_npz(ds, p->data);
    if (s == SL_OK) s = sl_registry_add_dataset(reg, run, p->data, "real", (int64_t)ds->n,
                                                (int64_t)ds->n_episodes, NULL);
    if (s != SL_OK) goto done0;
    if (!sl_cli_quiet)
        printf("      %zu episodes, %zu steps: MPL %.0f units/h, error rate %.2f, EP %.1f units/Wh\n",
               cs.episodes, cs.steps, cs.mean_mpl, cs.mean_error_rate, cs.mean_ep);
    cJSON *cj = cJSON_AddObjectToObject(summary, "real_data");
    cJSON_AddNumberToObject(cj, "episodes", (double)cs.episodes);
    cJSON_AddNumberToObject(cj, "mpl", cs.mean_mpl);
    cJSON_AddNumberToObject(cj, "error_rate", cs.mean_error_rate);
    cJSON_AddNumberToObject(cj, "ep", cs.mean_ep);

    /* 2. encoder */
    stage(2, "train the contrastive encoder (InfoNCE on nearby steps)");
    sl_latent_config lc = sl_latent_config_default();
    lc.seed = o->seed;
    sl_latent_encoder *enc = NULL;
    sl_latent_train_report lr;
    float *z = NULL, *zn = NULL;
    s = sl_latent_train(&enc, ds, &lc, &lr);
    if (s == SL_OK) {
        int zd = sl_latent_z_dim(enc);
        z = malloc(ds->n * (size_t)zd * sizeof(float));
        zn = malloc(ds->n * (size_t)zd * sizeof(float));
        if (!z || !zn) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
        if (s == SL_OK) s = sl_latent_encode_dataset(enc, ds, z, zn);
        if (s == SL_OK) s = sl_latents_save_npz(p->latents, z, zn, ds->episode_ids, ds->n, zd);
        if (s == SL_OK) s = sl_latent_save(enc, p->encoder, NULL);
        if (s == SL_OK) s = sl_registry_add_model(reg, run, "encoder", p->encoder, 0, NULL, NULL);
        if (s == SL_OK) s = sl_registry_add_dataset(reg, run, p->latents, "latents", (int64_t)ds->n,
                                                    (int64_t)ds->n_episodes, NULL);
        if (s == SL_OK && !sl_cli_quiet)
            printf("      InfoNCE %.3f -> %.3f, held-out nearby-step retrieval %.2f (chance %.3f)\n",
                   lr.loss_first_epoch, lr.loss_last_epoch, lr.val_retrieval, lr.val_chance);
    }
    int zd = enc ? sl_latent_z_dim(enc) : 0;
    /* the encoder's latent sphere, attached to the world model below (sl_world_set_sphere) */
    float *sphere = zd ? malloc((size_t)2 * zd * sizeof(float)) : NULL;
    if (sphere) {
        const float *sm, *ss;
        sl_latent_z_norm(enc, &sm, &ss);
        memcpy(sphere, sm, (size_t)zd * sizeof(float));
        memcpy(sphere + zd, ss, (size_t)zd * sizeof(float));
    }
    sl_latent_free(enc);
    if (s != SL_OK) goto done1;

    /* 3. bricks */
    stage(3, "cluster episodes into bricks");
    sl_bricks_config bc;
    sl_bricks_config_default(&bc);
    bc.seed = o->seed;
    sl_bricks *bk = NULL;
    s = sl_bricks_fit(&bk, ds, z, zd, &bc);
    if (s == SL_OK) {
        cJSON *man = NULL;
        s = sl_bricks_manifest_json(bk, ds, &man);
        if (s == SL_OK) {
            sl_json_add_provenance(man, o->seed);
            s = sl_json_write_file(p->bricks, man);
        }
        cJSON_Delete(man);
        if (s == SL_OK) s = sl_registry_add_artifact(reg, run, "bricks.json", p->bricks);
        if (s == SL_OK && !sl_cli_quiet) printf("      %d bricks (silhouette %.2f)\n", bk->k, bk->silhouette);
    }
    if (s != SL_OK) goto done2;

    /* 4. world models */
    stage(4, "train the world model (residual GRU ensemble) and an unstable reference");
    sl_world_data wd;
    memset(&wd, 0, sizeof wd);
    sl_world_config wc;
    sl_world_config_default(&wc);
    wc.members = o->members;
    wc.max_iters = o->wm_iters;
    /* the stable setting of docs/RESULTS.md (stronger variance-profile term, faster steps) */
    wc.lr = 3e-3f;
    wc.w_var = 10.0f;
    wc.seed = o->seed;
    sl_world *w = NULL, *ref = NULL;
    sl_world_train_report wr;
    s = sl_world_data_init(&wd, ds, z, zn, zd, (const char(*)[SL_WORLD_NAME_MAX])wc.econ_names,
                           wc.n_econ);
    if (s == SL_OK) s = sl_world_train(&w, &wd, &wc, &wr);
    if (s == SL_OK && sphere) s = sl_world_set_sphere(w, sphere, sphere + zd);
    if (s == SL_OK) s = sl_world_save(w, p->world, NULL);
    if (s == SL_OK) s = sl_registry_add_model(reg, run, "world", p->world, 0, NULL, NULL);
    if (s == SL_OK && !sl_cli_quiet)
        printf("      %s, %d members: %d steps, held-out free-running score %.4f\n",
               sl_world_mode_name(wc.mode), wc.members, wr.iters, wr.best_val);
    sl_world_config rc = wc;
    rc.mode = SL_WORLD_MODE_TF;
    rc.members = 1;
    rc.w_var = 0;
    rc.w_dist = 0;
    rc.clip = SL_WORLD_CLIP_NONE;
    /* a plain one-step model (seed 001): one sigma per dim, none of the roughness terms */
    rc.hetero_noise = 0;
    rc.w_rough = 0;
    rc.w_window = 1;
    rc.window_prefixes = 0;
    if (s == SL_OK) s = sl_world_train(&ref, &wd, &rc, NULL);
    if (s == SL_OK) s = sl_world_save(ref, p->ref, NULL);

    /* 5. trust_net */
    stage(5, "train trust_net: real windows vs the unstable reference and noisy negatives");
    sl_trust_model *tm = NULL;
    float *neg = NULL;
    size_t n_neg = 64, *offs = NULL;
    int nh = 60 < (int)sl_world_data_ep_len(&wd, 0) - 1 ? 60 : (int)sl_world_data_ep_len(&wd, 0) - 1;
    if (s == SL_OK) s = sl_world_generate_windows(ref, &wd, nh, n_neg, 0.5f, o->seed + 7, &neg, NULL);
    if (s == SL_OK) {
        offs = malloc((n_neg + 1) * sizeof(size_t));
        if (!offs) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; s == SL_OK && i <= n_neg; i++) offs[i] = i * (size_t)(nh + 1);
    }
    sl_trust_report tr;
    sl_trust_config tc = sl_trust_config_default();
    tc.seed = o->seed;
    if (s == SL_OK)
        s = sl_trust_train(&tm, &tc, z, ds->episode_ids, ds->n, zd, neg, offs, n_neg, &tr);
    if (s == SL_OK) s = sl_trust_save(tm, p->trust, NULL);
    if (s == SL_OK) s = sl_registry_add_model(reg, run, "trust", p->trust, 0, NULL, NULL);
    if (s == SL_OK && !sl_cli_quiet)
        printf("      held-out ROC-AUC %.3f, Brier %.3f, ECE %.3f; mean trust real %.2f, "
               "unstable reference %.3f\n",
               tr.auc, tr.brier, tr.ece, tr.mean_trust[0], tr.mean_trust[SL_TRUST_KIND_COUNT - 1]);
    free(neg);
    free(offs);

    /* 6. world eval */
    stage(6, "world-model stability per horizon (stable model vs unstable reference)");
    sl_world_eval_config ec;
    sl_world_eval_config_default(&ec);
    ec.seed = o->seed;
    sl_world_eval_row rows[SL_WORLD_EVAL_MAX_H], rrows[SL_WORLD_EVAL_MAX_H];
    if (s == SL_OK)
        s = sl_world_evaluate(w, &wd, NULL, 0, &ec, sl_synth_trust_score, tm, rows);
    size_t n_hold = 0;
    const size_t *hold = w ? sl_world_holdout(w, &n_hold) : NULL;
    if (s == SL_OK)
        s = sl_world_evaluate(ref, &wd, hold, n_hold, &ec, sl_synth_trust_score, tm, rrows);
    if (s == SL_OK) {
        cJSON *ej = sl_world_eval_json(rows, ec.n_h);
        cJSON *rj = sl_world_eval_json(rrows, ec.n_h);
        cJSON_AddItemToObject(ej, "unstable_reference", rj);
        sl_json_add_provenance(ej, o->seed);
        s = sl_json_write_file(p->eval, ej);
        cJSON_Delete(ej);
        sl_registry_world_row rr[SL_WORLD_EVAL_MAX_H];
        for (int i = 0; i < ec.n_h; i++)
            rr[i] = (sl_registry_world_row){rows[i].h, rows[i].mse, rows[i].std_ratio,
                                            rows[i].var_growth, rows[i].trust_mean,
                                            rows[i].detect_auc};
        if (s == SL_OK) s = sl_registry_add_world_eval(reg, run, rr, (size_t)ec.n_h);
        if (s == SL_OK) s = sl_registry_add_artifact(reg, run, "world_eval.json", p->eval);
        if (s == SL_OK && !sl_cli_quiet) {
            printf("      %4s %9s %9s %9s %9s %9s | %s\n", "h", "std_ratio", "growth", "real_gr",
                   "trust", "pass", "reference std_ratio / trust");
            for (int i = 0; i < ec.n_h; i++)
                printf("      %4d %9.3f %9.3f %9.3f %9.3f %8.0f%% | %.2f / %.3f\n", rows[i].h,
                       rows[i].std_ratio, rows[i].var_growth, rows[i].var_growth_real,
                       rows[i].trust_mean, 100 * rows[i].trust_pass_rate, rrows[i].std_ratio,
                       rrows[i].trust_mean);
        }
    }

    /* 7. branches */
    stage(7, "collect gated branches and weight them");
    sl_branches *br = NULL;
    sl_synth_config sc;
    sl_synth_config_default(&sc);
    sc.horizon = o->horizon;
    sc.gate.trust_floor = o->min_trust;
    sc.seed = o->seed;
    if (s == SL_OK) s = sl_synth_collect(&br, w, &wd, tm, bk->brick_of_episode, NULL, NULL, &sc);
    if (s == SL_OK) s = sl_synth_certify(&br->cert, w, &wd, sc.rollout_noise, sc.seed);
    if (s == SL_OK) s = sl_branches_save_npz(br, p->branches);
    if (s == SL_OK) {
        s = sl_registry_add_dataset(reg, run, p->branches, "branches", (int64_t)(br->n * (size_t)sc.horizon),
                                    (int64_t)br->n, NULL);
        size_t np = 0;
        double *tp = malloc((br->n ? br->n : 1) * sizeof(double));
        double *tt = malloc((br->n ? br->n : 1) * sizeof(double));
        sl_branch_row *brow = malloc((br->n ? br->n : 1) * sizeof *brow);
        size_t nt = 0;
        for (size_t i = 0; i < br->n; i++) {
            np += br->passed[i] ? 1 : 0;
            if (tt && isfinite(br->trust[i])) tt[nt++] = br->trust[i];
            if (brow)
                brow[i] = (sl_branch_row){br->source_episode[i], br->source_t[i], sc.horizon,
                                          br->brick_id[i], br->trust[i], br->std_ratio[i],
                                          br->passed[i]};
        }
        if (s == SL_OK && brow) s = sl_registry_add_branch_batch(reg, run, brow, br->n);
        if (s == SL_OK && tt) s = sl_registry_add_samples(reg, run, "trust", "synthetic", tt, nt);
        /* trust of real windows of the same length, for the histogram */
        if (s == SL_OK && tp && br->n) {
            float *rw = br->real_states;
            s = sl_trust_score_windows(tm, rw, br->n, sc.horizon + 1, zd, tp);
            size_t nr = 0;
            for (size_t i = 0; s == SL_OK && i < br->n; i++)
                if (isfinite(tp[i])) tp[nr++] = tp[i];
            if (s == SL_OK) s = sl_registry_add_samples(reg, run, "trust", "real", tp, nr);
        }
        free(tp);
        free(tt);
        free(brow);
        if (s == SL_OK && !sl_cli_quiet) {
            printf("      %zu branches of %d steps, %zu passed the gates (%.0f%%)\n", br->n,
                   sc.horizon, np, br->n ? 100.0 * (double)np / (double)br->n : 0.0);
            pl_print_certificate("      ", &br->cert);
        }
        cJSON *bj = cJSON_AddObjectToObject(summary, "branches");
        cJSON_AddNumberToObject(bj, "n", (double)br->n);
        cJSON_AddNumberToObject(bj, "passed", (double)np);
        cJSON_AddNumberToObject(bj, "horizon", sc.horizon);
    }
    sl_branches_free(br);
    sl_trust_free(tm);
    sl_world_free(w);
    sl_world_free(ref);
    sl_world_data_clear(&wd);
    if (s != SL_OK) goto done2;

    /* 8. A/B */
    stage(8, "A/B: real-only baseline vs gated augmentation, final policies in the workcell");
    {
        sl_ab_config ac = sl_ab_config_default();
        ac.rl.hidden = o->hidden; /* learner: sl_ab_config_default's IQL (docs/RL.md) */
        ac.seeds = o->seeds;
        ac.updates = o->updates;
        ac.eval_episodes = o->eval_episodes;
        ac.seed = o->seed;
        pl_synth_opts so;
        pl_synth_opts_default(&so);
        so.share = o->share;
        so.min_trust = o->min_trust;
        if (o->gband_set) {
            so.generator_band_lo = o->gband_lo;
            so.generator_band_hi = o->gband_hi;
        }
        so.reg = reg;
        so.run_id = run;
        sl_ab_outcome out;
        cJSON *abj = NULL;
        s = pl_ab_execute(&ac, &so, p->data, p->latents, p->encoder, p->branches, reg, run, &out,
                          &abj);
        if (s == SL_OK) {
            s = sl_json_write_file(p->ab, abj);
            if (s == SL_OK) s = sl_registry_add_artifact(reg, run, "ab.json", p->ab);
            /* a harm verdict reads the means; count the harms that are also significant */
            int harm = out.headline == SL_AB_MINOR_DEGRADATION ||
                       out.headline == SL_AB_POISONING;
            int n_sig = 0;
            for (int m = 0; m < SL_ABM_COUNT; m++) {
                const sl_ab_result *v = &out.summary[m].verdict;
                if (out.summary[m].valid && v->significant &&
                    v->improvement < 0)
                    n_sig++;
            }
            if (!sl_cli_quiet) {
                printf("\n      %d seeds per arm, final policies, mean [95%% CI]; synthetic share %.3f "
                       "(%zu synthetic rows)\n", out.seeds, out.synth_share, out.n_synth);
                const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(abj, "synthetic"), "rails");
                const cJSON *it;
                cJSON_ArrayForEach(it, rl) {
                    if (cJSON_IsString(it) && (strcmp(it->valuestring, "low_pass_rate") == 0 ||
                                               strcmp(it->valuestring, "unstable_generator") == 0))
                        printf("      generator rail %s fired: the controller gave the branches no "
                               "weight (docs/WEIGHTS.md)\n", it->valuestring);
                }
                for (int m = 0; m < SL_ABM_COUNT; m++) {
                    const sl_ab_metric_summary *ms = &out.summary[m];
                    printf("      %-11s baseline %9.4g [%.4g, %.4g]  augmented %9.4g [%.4g, %.4g]",
                           sl_ab_metric_name((sl_ab_metric)m), ms->ci[0].mean, ms->ci[0].lo,
                           ms->ci[0].hi, ms->ci[1].mean, ms->ci[1].lo, ms->ci[1].hi);
                    if (ms->valid)
                        printf("  %+.1f%% (p %.2g)\n", 100 * ms->verdict.rel_change,
                               ms->verdict.p_value);
                    else
                        printf("\n");
                }
            }
            if (harm) cJSON_AddNumberToObject(summary, "significant_harms", n_sig);
            cJSON_AddStringToObject(summary, "verdict", sl_ab_verdict_name(out.headline));
            cJSON_AddStringToObject(summary, "next_action", sl_ab_verdict_action(out.headline));
            cJSON_AddNumberToObject(summary, "seeds", out.seeds);
            sl_ab_outcome_free(&out);
        }
        cJSON_Delete(abj);
    }
done2:
    sl_bricks_free(bk);
done1:
    free(sphere);
    free(z);
    free(zn);
done0:
    sl_dataset_free(ds);
    return s;
}

int cmd_demo(int argc, char **argv) {
    if (sl_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    demo_opts o = {"demo-out", NULL, 50, 5, 3000, 10, 10, 3, 300, 128, 0.1, 0.9, 0, 0, 0, 0.0, 0.0};
    static const struct option opts[] = {
        {"out", 1, 0, 'o'},        {"db", 1, 0, 'D'},           {"episodes", 1, 0, 'n'},
        {"seeds", 1, 0, 'S'},      {"updates", 1, 0, 'u'},      {"eval-episodes", 1, 0, 'E'},
        {"horizon", 1, 0, 'h'},    {"members", 1, 0, 'm'},      {"wm-iters", 1, 0, 'i'},
        {"hidden", 1, 0, 'H'},     {"synth-weight", 1, 0, 'w'}, {"min-trust", 1, 0, 't'},
        {"seed", 1, 0, 'r'},       {"threads", 1, 0, 'T'},      {"quiet", 0, 0, 'q'},
        {"generator-band", 1, 0, 'G'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case 'D': o.db = optarg; break;
        case 'q': break;
        case 'n':
            if (sl_cli_parse_int("demo", "--episodes", optarg, 5, 100000, &v)) return 2;
            o.episodes = (int)v;
            break;
        case 'S':
            if (sl_cli_parse_int("demo", "--seeds", optarg, 1, 1000, &v)) return 2;
            o.seeds = (int)v;
            break;
        case 'u':
            if (sl_cli_parse_int("demo", "--updates", optarg, 1, 10000000, &v)) return 2;
            o.updates = (int)v;
            break;
        case 'E':
            if (sl_cli_parse_int("demo", "--eval-episodes", optarg, 1, 100000, &v)) return 2;
            o.eval_episodes = (int)v;
            break;
        case 'h':
            if (sl_cli_parse_int("demo", "--horizon", optarg, 1, 59, &v)) return 2;
            o.horizon = (int)v;
            break;
        case 'm':
            if (sl_cli_parse_int("demo", "--members", optarg, 1, SL_WORLD_MAX_MEMBERS, &v)) return 2;
            o.members = (int)v;
            break;
        case 'i':
            if (sl_cli_parse_int("demo", "--wm-iters", optarg, 1, 1000000, &v)) return 2;
            o.wm_iters = (int)v;
            break;
        case 'H':
            if (sl_cli_parse_int("demo", "--hidden", optarg, 1, 65536, &v)) return 2;
            o.hidden = (int)v;
            break;
        case 'w':
            if (sl_cli_parse_double("demo", "--synth-weight", optarg, 0, 0.95, &o.share)) return 2;
            break;
        case 't':
            if (sl_cli_parse_double("demo", "--min-trust", optarg, 0, 1, &o.min_trust)) return 2;
            break;
        case 'r':
            if (sl_cli_parse_u64("demo", "--seed", optarg, &o.seed)) return 2;
            break;
        case 'G': {
            pl_synth_opts tmp;
            pl_synth_opts_default(&tmp);
            if (pl_parse_generator_band("demo", optarg, &tmp)) return 2;
            o.gband_set = 1;
            o.gband_lo = tmp.generator_band_lo;
            o.gband_hi = tmp.generator_band_hi;
            break;
        }
        case 'T':
            if (sl_cli_parse_int("demo", "--threads", optarg, 0, 1024, &v)) return 2;
            o.threads = (int)v;
            break;
        default:
            return sl_cli_usage_error("demo", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    sl_nn_set_threads(o.threads);
    if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        sl_set_error(SL_ERR_IO, "%s: cannot create directory: %s", o.out, strerror(errno));
        return sl_cli_fail(SL_ERR_IO);
    }
    /* every path the registry records is absolute (the run's rows stay valid from any
     * directory); messages keep --out as typed */
    char absout[PATH_MAX];
    const char *od = realpath(o.out, absout) ? absout : o.out;
    demo_paths p = {path_in(od, "real.npz"),        path_in(od, "latents.npz"),
                    path_in(od, "encoder.safetensors"), path_in(od, "bricks.json"),
                    path_in(od, "world.safetensors"), path_in(od, "world_unstable.safetensors"),
                    path_in(od, "trust.safetensors"), path_in(od, "world_eval.json"),
                    path_in(od, "branches.npz"),     path_in(od, "ab.json"),
                    path_in(od, "report.html")};
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "out", od);
    cJSON_AddNumberToObject(conf, "episodes", o.episodes);
    cJSON_AddStringToObject(conf, "policy", "mixed");
    cJSON_AddNumberToObject(conf, "horizon", o.horizon);
    cJSON_AddNumberToObject(conf, "synth_weight", o.share);
    cJSON_AddNumberToObject(conf, "min_trust", o.min_trust);
    cJSON_AddNumberToObject(conf, "seeds", o.seeds);
    cJSON_AddNumberToObject(conf, "updates", o.updates);
    cJSON_AddNumberToObject(conf, "eval_episodes", o.eval_episodes);
    cJSON_AddNumberToObject(conf, "hidden", o.hidden);
    cJSON_AddNumberToObject(conf, "members", o.members);
    cJSON_AddNumberToObject(conf, "wm_iters", o.wm_iters);
    cJSON_AddNumberToObject(conf, "threads", sl_nn_get_threads());
    char *conf_txt = cJSON_PrintUnformatted(conf);
    sl_registry *reg = NULL;
    int64_t run = 0;
    double t0 = sl_now();
    sl_status s = sl_registry_open_default(o.db, &reg);
    if (s == SL_OK) s = sl_run_begin(reg, "demo", conf_txt, o.seed, &run);
    cJSON *summary = cJSON_CreateObject();
    if (s == SL_OK) s = run_demo(&o, reg, run, &p, summary);
    if (reg && run) {
        char *sum = cJSON_PrintUnformatted(summary);
        sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, sum);
        free(sum);
    }
    if (s == SL_OK && reg) s = sl_report_write(reg, run, p.report);
    int rc = 0;
    if (s != SL_OK) {
        rc = sl_cli_fail(s);
    } else {
        printf("\nverdict: %s -> %s\n", sl_json_str(summary, "verdict", "?"),
               sl_json_str(summary, "next_action", ""));
        if (cJSON_GetObjectItem(summary, "significant_harms") &&
            sl_json_num(summary, "significant_harms", 0) == 0)
            printf("         (seed 000's table reads the means; no change in that direction is "
                   "significant at p < 0.05 with %.0f seeds: a sign, not a result)\n",
                   sl_json_num(summary, "seeds", 0));
        if (reg) printf("report: %s  (run %lld in %s)\n", p.report, (long long)run, sl_registry_path(reg));
        printf("outputs in %s/, %.0f s\n", o.out, sl_now() - t0);
    }
    sl_registry_close(reg);
    cJSON_Delete(summary);
    cJSON_Delete(conf);
    free(conf_txt);
    char **pp = (char **)&p;
    for (size_t i = 0; i < sizeof p / sizeof(char *); i++) free(pp[i]);
    return rc;
}
