/* SPDX-License-Identifier: Apache-2.0 */
/* ladder.c - the horizon ladder engine behind `synthloop ladder` and `synthloop demo`.
 * Invariant: a level is attempted only if every level below it passed; a level passes only if
 * its branches meet the pass-rate criterion AND its A/B test shows no harm (seed 000). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_synth.h"

/* Seed 000's levels. Levels 4 and 5 are "only if the previous levels pass" with tighter std
 * bounds [0.9, 1.1]; their floors, counts and criteria are ours (docs/PIPELINE.md). */
const pl_ladder_level pl_ladder_table[PL_LADDER_LEVELS] = {
    {5, 0.95, 10, 0.05, SL_GATE_NORMAL, 0.999, 0.02},
    {10, 0.90, 5, 0.10, SL_GATE_NORMAL, 0.80, 0.03},
    {20, 0.85, 3, 0.10, SL_GATE_NORMAL, 0.60, 0.05},
    {40, 0.85, 2, 0.10, SL_GATE_CONSERVATIVE, 0.50, 0.05},
    {60, 0.85, 1, 0.10, SL_GATE_CONSERVATIVE, 0.50, 0.05},
};

void pl_ladder_opts_default(pl_ladder_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_level = PL_LADDER_LEVELS;
    o->ab = sl_ab_config_default();
    o->ab.seeds = 3;
    o->ab.updates = 3000; /* IQL at hidden 128 (sl_ab_config_default) needs >= 3000 */
    o->ab.eval_episodes = 10;
    o->out_dir = "ladder-out";
    o->seed = 0;
}

cJSON *pl_ladder_opts_json(const pl_ladder_opts *o) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "data", o->data ? o->data : "");
    cJSON_AddStringToObject(j, "latents", o->latents ? o->latents : "");
    cJSON_AddStringToObject(j, "encoder", o->encoder ? o->encoder : "");
    cJSON_AddStringToObject(j, "world_model", o->world ? o->world : "");
    cJSON_AddStringToObject(j, "trust_model", o->trust ? o->trust : "");
    cJSON_AddStringToObject(j, "bricks", o->bricks ? o->bricks : "");
    cJSON_AddNumberToObject(j, "max_level", o->max_level);
    cJSON_AddNumberToObject(j, "seeds", o->ab.seeds);
    cJSON_AddNumberToObject(j, "updates", o->ab.updates);
    cJSON_AddNumberToObject(j, "eval_episodes", o->ab.eval_episodes);
    cJSON_AddNumberToObject(j, "hidden", o->ab.rl.hidden);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "threads", sl_nn_get_threads());
    cJSON_AddStringToObject(j, "level1", o->level1_real ? "real" : "all");
    return j;
}

static sl_status load_bricks(const char *path, size_t n_episodes, int32_t **out) {
    *out = NULL;
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a;
    sl_status s = sl_npz_get(z, "episode_brick_ids", &a);
    if (s != SL_OK) s = sl_set_error(s, "%s: missing key 'episode_brick_ids' (write it with "
                                        "'synthloop bricks --assign-output')", path);
    if (s == SL_OK && (a->dtype != SL_DTYPE_I32 || a->ndim != 1 || a->shape[0] != n_episodes))
        s = sl_set_error(SL_ERR_SHAPE, "%s: episode_brick_ids must be i4 [%zu]", path, n_episodes);
    if (s == SL_OK) {
        *out = malloc(n_episodes * sizeof(int32_t));
        if (!*out) s = sl_set_error(SL_ERR_NOMEM, "out of memory");
        else memcpy(*out, a->data, n_episodes * sizeof(int32_t));
    }
    sl_npz_close(z);
    return s;
}

/* Seed 000's criteria are on trust ("all branches pass trust > 0.95", "> 80% branches pass
 * trust > 0.9"): rate is the share of n branches whose trust reaches the level's floor. Level 1
 * wants every branch or, with level1_real, a share not significantly below the real windows'
 * own share `real` (of n_real windows): one-sided two-proportion z-test, alpha 0.05, i.e.
 * rate >= real - 1.6449 * sqrt(p (1 - p) (1/n + 1/n_real)) with the pooled p. The others want
 * a rate strictly above their threshold. No branches never meets a criterion. */
static int meets(const pl_ladder_level *lv, double rate, size_t n, int level1_real, double real,
                 size_t n_real) {
    if (n == 0) return 0;
    if (lv->min_pass_rate >= 0.999) {
        if (!level1_real) return rate >= 1.0;
        if (!(real >= 0.0) || n_real == 0) return 0;
        double p = (rate * (double)n + real * (double)n_real) / (double)(n + n_real);
        double se = sqrt(p * (1.0 - p) * (1.0 / (double)n + 1.0 / (double)n_real));
        return rate >= real - 1.6448536269514722 * se;
    }
    return rate > lv->min_pass_rate;
}

/* Share of the real windows of T steps (every start of every episode of d) whose trust reaches
 * floor: what a generator indistinguishable from the data would reach. */
static sl_status real_trust_share(sl_trust_model *tm, const sl_world_data *d, int T,
                                  double floor_, double *share, size_t *n_windows) {
    const int Z = d->z_dim;
    size_t nw = 0;
    for (size_t e = 0; e < d->n_episodes; e++) {
        size_t L = d->ep_start[e + 1] - d->ep_start[e];
        if (L + 1 >= (size_t)T) nw += L + 1 - (size_t)T + 1;
    }
    *share = NAN;
    *n_windows = nw;
    if (nw == 0) return SL_OK;
    float *win = malloc(nw * (size_t)T * Z * sizeof(float));
    double *p = malloc(nw * sizeof(double));
    if (!win || !p) {
        free(win);
        free(p);
        return sl_set_error(SL_ERR_NOMEM, "ladder: out of memory for %zu real windows", nw);
    }
    size_t k = 0;
    for (size_t e = 0; e < d->n_episodes; e++) {
        size_t a = d->ep_start[e], L = d->ep_start[e + 1] - a;
        /* the episode's states: z of every row, then the last row's next latent */
        for (size_t t0 = 0; L + 1 >= (size_t)T && t0 + (size_t)T <= L + 1; t0++, k++)
            for (int t = 0; t < T; t++) {
                size_t q = t0 + (size_t)t;
                const float *src = q < L ? d->z + (a + q) * Z : d->z_next + (a + L - 1) * Z;
                memcpy(win + (k * (size_t)T + (size_t)t) * Z, src, (size_t)Z * sizeof(float));
            }
    }
    sl_status s = sl_trust_score_windows(tm, win, nw, T, Z, p);
    size_t hit = 0;
    for (size_t i = 0; s == SL_OK && i < nw; i++) hit += p[i] >= floor_;
    if (s == SL_OK) *share = (double)hit / (double)nw;
    free(win);
    free(p);
    return s;
}

static sl_status ensure_dir(const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sl_set_error(SL_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    return SL_OK;
}

sl_status pl_ladder_run(const pl_ladder_opts *o, sl_registry *reg, int64_t run_id, cJSON **out) {
    *out = NULL;
    SL_TRY(ensure_dir(o->out_dir));
    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL;
    size_t n = 0;
    int zd = 0;
    sl_world *w = NULL;
    sl_trust_model *tm = NULL;
    int32_t *bricks = NULL;
    sl_world_data d;
    memset(&d, 0, sizeof d);
    sl_status s = sl_dataset_load_npz(&ds, o->data);
    if (s == SL_OK) s = sl_world_load_latents(o->latents, ds, &z, &zn, &n, &zd);
    if (s == SL_OK) s = sl_world_load(&w, o->world);
    if (s == SL_OK) s = sl_trust_load(&tm, o->trust);
    if (s == SL_OK && o->bricks) s = load_bricks(o->bricks, ds->n_episodes, &bricks);
    if (s == SL_OK) {
        const sl_world_config *wc = sl_world_get_config(w);
        s = sl_world_data_init(&d, ds, z, zn, zd, (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names,
                               wc->n_econ);
    }
    cJSON *res = cJSON_CreateObject();
    cJSON *levels = cJSON_AddArrayToObject(res, "levels");
    int practical = 0, stopped_at = 0;
    int n_bricks = 0;
    if (bricks)
        for (size_t e = 0; e < ds->n_episodes; e++)
            if (bricks[e] + 1 > n_bricks) n_bricks = bricks[e] + 1;
    int *brick_h = calloc((size_t)(n_bricks ? n_bricks : 1), sizeof(int));
    int *brick_alive = calloc((size_t)(n_bricks ? n_bricks : 1), sizeof(int));
    for (int b = 0; b < n_bricks; b++) brick_alive[b] = 1;
    /* the generator certificate belongs to the model (one noise scale for every level):
     * evaluated once, before the first level, and stored in every level's branch file */
    sl_synth_certificate cert = {0};
    {
        sl_synth_config dc;
        sl_synth_config_default(&dc);
        if (s == SL_OK) s = sl_synth_certify(&cert, w, &d, dc.rollout_noise, o->seed * 1000);
    }
    for (int L = 0; s == SL_OK && L < o->max_level; L++) {
        const pl_ladder_level *lv = &pl_ladder_table[L];
        sl_synth_config sc;
        sl_synth_config_default(&sc);
        sc.horizon = lv->horizon;
        sc.branches_per_episode = lv->branches_per_episode;
        sc.gate = sl_gate_from_preset(lv->band);
        sc.gate.trust_floor = lv->min_trust;
        sc.seed = o->seed * 1000 + (uint64_t)L;
        sl_branches *br = NULL;
        s = sl_synth_collect(&br, w, &d, tm, bricks, NULL, NULL, &sc);
        if (s != SL_OK) break;
        br->cert = cert;
        char bpath[4096];
        snprintf(bpath, sizeof bpath, "%s/branches_h%d.npz", o->out_dir, lv->horizon);
        s = sl_branches_save_npz(br, bpath);
        size_t passed = 0, tpassed = 0;
        for (size_t i = 0; i < br->n; i++) {
            passed += br->passed[i] ? 1 : 0;
            tpassed += br->trust[i] >= lv->min_trust; /* NaN trust fails */
        }
        double pass_rate = br->n ? (double)passed / (double)br->n : 0.0;
        double trust_rate = br->n ? (double)tpassed / (double)br->n : 0.0;
        double real_rate = NAN;
        size_t n_real = 0;
        if (s == SL_OK)
            s = real_trust_share(tm, &d, lv->horizon + 1, lv->min_trust, &real_rate, &n_real);
        cJSON *lj = cJSON_CreateObject();
        cJSON_AddNumberToObject(lj, "level", L + 1);
        cJSON_AddNumberToObject(lj, "horizon", lv->horizon);
        cJSON_AddNumberToObject(lj, "min_trust", lv->min_trust);
        cJSON_AddStringToObject(lj, "band", sl_gate_preset_name(lv->band));
        cJSON_AddNumberToObject(lj, "synth_weight", lv->synth_weight);
        cJSON_AddNumberToObject(lj, "branches", (double)br->n);
        cJSON_AddNumberToObject(lj, "pass_rate", pass_rate); /* trust floor + std band */
        cJSON_AddNumberToObject(lj, "trust_pass_rate", trust_rate); /* the criterion's rate */
        if (isfinite(real_rate)) cJSON_AddNumberToObject(lj, "real_trust_pass_rate", real_rate);
        cJSON_AddNumberToObject(lj, "real_windows", (double)n_real);
        cJSON_AddNumberToObject(lj, "required_pass_rate", lv->min_pass_rate);
        cJSON_AddStringToObject(lj, "criterion",
                                lv->min_pass_rate >= 0.999 ? (o->level1_real ? "real" : "all")
                                                           : "above");
        cJSON_AddStringToObject(lj, "branches_file", bpath);
        /* per-brick pass rates */
        cJSON *bj = cJSON_AddArrayToObject(lj, "bricks");
        for (int b = 0; b < n_bricks; b++) {
            size_t nb = 0, pb = 0, tb = 0;
            for (size_t i = 0; i < br->n; i++)
                if (br->brick_id[i] == b) {
                    nb++;
                    pb += br->passed[i] ? 1 : 0;
                    tb += br->trust[i] >= lv->min_trust;
                }
            double r = nb ? (double)pb / (double)nb : 0.0, rt = nb ? (double)tb / (double)nb : 0.0;
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "brick", b);
            cJSON_AddNumberToObject(x, "branches", (double)nb);
            cJSON_AddNumberToObject(x, "pass_rate", r);
            cJSON_AddNumberToObject(x, "trust_pass_rate", rt);
            cJSON_AddItemToArray(bj, x);
            if (brick_alive[b] && meets(lv, rt, nb, o->level1_real, real_rate, n_real))
                brick_h[b] = lv->horizon;
            else brick_alive[b] = 0;
        }
        if (reg) {
            sl_branch_row *rows = malloc((br->n ? br->n : 1) * sizeof *rows);
            if (rows) {
                for (size_t i = 0; i < br->n; i++) {
                    rows[i].episode = br->source_episode[i];
                    rows[i].t = br->source_t[i];
                    rows[i].horizon = lv->horizon;
                    rows[i].brick = br->brick_id[i];
                    rows[i].trust = br->trust[i];
                    rows[i].std_ratio = br->std_ratio[i];
                    rows[i].passed = br->passed[i];
                }
                if (s == SL_OK) s = sl_registry_add_branch_batch(reg, run_id, rows, br->n);
                free(rows);
            }
        }
        int branches_ok = meets(lv, trust_rate, br->n, o->level1_real, real_rate, n_real);
        sl_branches_free(br);
        /* A/B at this level */
        sl_ab_outcome ab;
        memset(&ab, 0, sizeof ab);
        cJSON *abj = NULL;
        pl_synth_opts so;
        pl_synth_opts_default(&so);
        so.share = lv->synth_weight;
        so.min_trust = lv->min_trust;
        so.reg = reg;
        so.run_id = run_id;
        sl_ab_config ac = o->ab;
        ac.seed = o->seed * 1000 + (uint64_t)L;
        if (s == SL_OK)
            s = pl_ab_execute(&ac, &so, o->data, o->latents, o->encoder, bpath, reg, run_id, &ab, &abj);
        if (s != SL_OK) {
            cJSON_Delete(lj);
            break;
        }
        const sl_ab_metric_summary *mse = &ab.summary[SL_ABM_ACTION_MSE];
        double rel = mse->valid ? mse->verdict.rel_change : 0.0;
        int mse_ok = mse->valid && rel <= lv->mse_tol;
        int verdict_ok = ab.headline == SL_AB_VALUE || ab.headline == SL_AB_NO_HARM;
        int cb = 0, ca = 0;
        for (int si = 0; si < ab.seeds; si++) {
            cb += ab.cliffs[SL_AB_BASE][si];
            ca += ab.cliffs[SL_AB_AUG][si];
        }
        int cliffs_ok = L == 0 || ca <= cb;
        int passed_level = branches_ok && mse_ok && verdict_ok && cliffs_ok;
        cJSON_AddNumberToObject(lj, "mse_rel_change", rel);
        cJSON_AddNumberToObject(lj, "mse_tolerance", lv->mse_tol);
        cJSON_AddStringToObject(lj, "ab_verdict", sl_ab_verdict_name(ab.headline));
        cJSON_AddNumberToObject(lj, "cliffs_baseline", cb);
        cJSON_AddNumberToObject(lj, "cliffs_augmented", ca);
        cJSON_AddBoolToObject(lj, "gates_ok", branches_ok);
        cJSON_AddBoolToObject(lj, "mse_ok", mse_ok);
        cJSON_AddBoolToObject(lj, "verdict_ok", verdict_ok);
        cJSON_AddBoolToObject(lj, "cliffs_ok", cliffs_ok);
        cJSON_AddBoolToObject(lj, "passed", passed_level);
        cJSON_AddItemToObject(lj, "ab", abj);
        char *detail = cJSON_PrintUnformatted(lj);
        if (reg && detail)
            s = sl_registry_add_ladder_level(reg, run_id, L + 1, lv->horizon, passed_level,
                                             sl_ab_verdict_name(ab.headline), detail);
        free(detail);
        cJSON_AddItemToArray(levels, lj);
        sl_ab_outcome_free(&ab);
        if (!passed_level) {
            stopped_at = L + 1;
            break;
        }
        practical = lv->horizon;
    }
    if (s == SL_OK) {
        cJSON_AddNumberToObject(res, "practical_horizon", practical);
        cJSON_AddNumberToObject(res, "stopped_at_level", stopped_at);
        cJSON *bj = cJSON_AddArrayToObject(res, "brick_horizons");
        for (int b = 0; b < n_bricks; b++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "brick", b);
            /* a brick cannot go beyond the overall practical horizon */
            cJSON_AddNumberToObject(x, "horizon", brick_h[b] < practical ? brick_h[b] : practical);
            cJSON_AddItemToArray(bj, x);
        }
        sl_json_add_provenance(res, o->seed);
        *out = res;
    } else {
        cJSON_Delete(res);
    }
    free(brick_h);
    free(brick_alive);
    free(bricks);
    sl_world_data_clear(&d);
    sl_world_free(w);
    sl_trust_free(tm);
    free(z);
    free(zn);
    sl_dataset_free(ds);
    return s;
}

void pl_ladder_print(const cJSON *res) {
    printf("horizon ladder\n");
    printf("  %-5s %-4s %-12s %-10s %-10s %-9s %-12s %-10s %s\n", "level", "h", "trust-pass",
           "real", "gates", "mse", "verdict", "cliffs", "result");
    const cJSON *lv;
    cJSON_ArrayForEach(lv, cJSON_GetObjectItem(res, "levels")) {
        printf("  %-5d %-4d %5.1f%% %-5s %5.1f%%     %5.1f%%     %+6.1f%%   %-12s %d/%-8d %s\n",
               sl_json_int(lv, "level", 0), sl_json_int(lv, "horizon", 0),
               100 * sl_json_num(lv, "trust_pass_rate", 0), sl_json_str(lv, "criterion", "?"),
               100 * sl_json_num(lv, "real_trust_pass_rate", NAN),
               100 * sl_json_num(lv, "pass_rate", 0),
               100 * sl_json_num(lv, "mse_rel_change", 0), sl_json_str(lv, "ab_verdict", "?"),
               sl_json_int(lv, "cliffs_augmented", 0), sl_json_int(lv, "cliffs_baseline", 0),
               sl_json_bool(lv, "passed", 0) ? "pass" : "FAIL");
    }
    printf("practical stability horizon: %d steps\n", sl_json_int(res, "practical_horizon", 0));
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(res, "brick_horizons")) {
        printf("  brick %d: %d steps\n", sl_json_int(b, "brick", 0), sl_json_int(b, "horizon", 0));
    }
}
