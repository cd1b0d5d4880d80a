/* SPDX-License-Identifier: Apache-2.0 */
/* test_latent.c - the contrastive encoder: determinism, InfoNCE learning with held-out
 * nearby-step retrieval, the reconstruction objective (float64 finite-difference gradient
 * check of InfoNCE + w * MSE, recon_weight 0 = the pure-InfoNCE encoder, held-out recon MSE),
 * bad input, checkpoints (with and without a decoder), latents files through numpy, the CLI. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "latent/latent_internal.h"
#include "nn/nn_ref.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_safetensors.h"

/* --- a workcell-like synthetic dataset --------------------------------------- *
 * Each episode: an arm following a smooth periodic trajectory with its own phase and speed,
 * an object at one of 3 positions (constant up to small noise), and 4 distractor dims of
 * unit white noise that a useful encoder must learn to ignore. obs_dim 16. */
#define OBS_DIM 16
static sl_dataset *make_ds(size_t n_eps, size_t T, uint64_t seed, int nan_row) {
    sl_dataset *ds = NULL;
    if (sl_dataset_alloc(&ds, n_eps * T, OBS_DIM, 2) != SL_OK) return NULL;
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    size_t row = 0;
    for (size_t e = 0; e < n_eps; e++) {
        double ph = sl_rng_uniform_range(&r, 0, 6.283), w = sl_rng_uniform_range(&r, 0.06, 0.12);
        int slot = (int)sl_rng_below(&r, 3);
        double cx = 0.6 * (slot - 1), cy = slot == 1 ? 0.5 : -0.3;
        for (size_t t = 0; t <= T; t++) {
            double a = w * (double)t + ph;
            double q[3] = {sin(a), 0.8 * cos(a), 0.5 * sin(2 * a + ph)};
            double dq[3] = {w * cos(a), -0.8 * w * sin(a), w * cos(2 * a + ph)};
            float o[OBS_DIM];
            for (int j = 0; j < 3; j++) o[j] = (float)(q[j] + 0.01 * sl_rng_normal(&r));
            for (int j = 0; j < 3; j++) o[3 + j] = (float)(10 * dq[j] + 0.01 * sl_rng_normal(&r));
            o[6] = (float)(cx + 0.01 * sl_rng_normal(&r));
            o[7] = (float)(cy + 0.01 * sl_rng_normal(&r));
            o[8] = (float)tanh(q[0] - cx);
            o[9] = (float)tanh(q[1] - cy);
            o[10] = (float)sqrt((q[0] - cx) * (q[0] - cx) + (q[1] - cy) * (q[1] - cy));
            o[11] = (float)(0.3 * q[2] * cx);
            for (int j = 12; j < 16; j++) o[j] = (float)sl_rng_normal(&r);
            if (t < T) memcpy(ds->observations + (row + t) * OBS_DIM, o, sizeof o);
            if (t > 0) memcpy(ds->next_observations + (row + t - 1) * OBS_DIM, o, sizeof o);
        }
        for (size_t t = 0; t < T; t++) {
            ds->episode_ids[row + t] = (int32_t)e;
            ds->timesteps[row + t] = (int32_t)t;
            ds->timeouts[row + t] = (t == T - 1);
            ds->actions[(row + t) * 2] = 0.1f;
        }
        row += T;
    }
    ds->n_episodes = n_eps;
    if (nan_row >= 0) ds->observations[(size_t)nan_row * OBS_DIM + 5] = NAN;
    return ds;
}

static sl_latent_config small_cfg(uint64_t seed) {
    sl_latent_config c = sl_latent_config_default();
    c.epochs = 6;
    c.hidden = 64;
    c.z_dim = 16;
    c.seed = seed;
    return c;
}

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return (r && *r) ? r : ".";
}

/* --- float64 reference of the training loss (for the gradient check) ------------ */

typedef struct ref_ctx {
    const sl_latent_encoder *e;
    double *P;      /* a double copy of the arena's params (perturbed in place) */
    double *x;      /* [R, od] x_std of the 2B batch rows (anchors then positives) */
    int B;
    double w;       /* recon weight used by the reference */
    double *buf[4]; /* scratch */
} ref_ctx;

/* out[B, sizes[L]] = MLP(in) with the float64 reference kernels (the library's layout). */
static void ref_mlp(double *out, const sl_nn_mlp *m, const double *P, const double *in, int B,
                    double *s0, double *s1) {
    const double *x = in;
    for (int l = 0; l < m->n_layers - 1; l++) {
        int C = m->sizes[l], OC = m->sizes[l + 1];
        double mean[64], rstd[64];
        sl_nn_ref_linear_forward_f64(s1, x, P + m->w[l], P + m->b[l], B, C, OC);
        sl_nn_ref_layernorm_forward_f64(s0, mean, rstd, s1, P + m->ln_w[l], P + m->ln_b[l], B, OC,
                                        1e-5);
        sl_nn_ref_act_forward_f64(s0, s0, (size_t)B * (size_t)OC, SL_NN_ACT_RELU);
        x = s0;
    }
    int L = m->n_layers;
    sl_nn_ref_linear_forward_f64(out, x, P + m->w[L - 1], P + m->b[L - 1], B, m->sizes[L - 1],
                                 m->sizes[L]);
}

/* InfoNCE_sym(u_a, u_p) + w * MSE(dec(u), x_std), all in float64. */
static double ref_loss(void *p) {
    ref_ctx *c = p;
    const sl_latent_encoder *e = c->e;
    const int B = c->B, R = 2 * B, D = e->cfg.z_dim, od = e->obs_dim;
    double *u = c->buf[0], *xh = c->buf[1], *s0 = c->buf[2], *s1 = c->buf[3];
    ref_mlp(u, &e->mlp, c->P, c->x, R, s0, s1);
    for (int r = 0; r < R; r++) {
        double n2 = 0;
        for (int d = 0; d < D; d++) n2 += u[r * D + d] * u[r * D + d];
        for (int d = 0; d < D; d++) u[r * D + d] /= sqrt(n2);
    }
    double ws[64];
    double l1 = sl_nn_ref_infonce_loss_f64(NULL, NULL, u, u + B * D, B, D,
                                           (double)e->cfg.temperature, ws);
    double l2 = sl_nn_ref_infonce_loss_f64(NULL, NULL, u + B * D, u, B, D,
                                           (double)e->cfg.temperature, ws);
    double total = 0.5 * (l1 + l2);
    if (c->w != 0.0) {
        ref_mlp(xh, &e->dec, c->P, u, R, s0, s1);
        total += c->w * sl_nn_ref_mse_loss_f64(NULL, xh, c->x, NULL, R, od);
    }
    return total;
}

/* --- tests -------------------------------------------------------------------- */

TEST(config_checks) {
    sl_latent_config c = sl_latent_config_default();
    CHECK_OK(sl_latent_config_check(&c));
    CHECK(c.z_dim == 32);
    c.z_dim = 1;
    CHECK_STATUS(sl_latent_config_check(&c), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "z_dim") != NULL);
    c = sl_latent_config_default();
    c.temperature = 0.0f;
    CHECK_STATUS(sl_latent_config_check(&c), SL_ERR_ARG);
    c = sl_latent_config_default();
    c.batch = 1;
    CHECK_STATUS(sl_latent_config_check(&c), SL_ERR_ARG);
    c = sl_latent_config_default();
    CHECK(c.recon_weight == 10.0f && c.temperature == 0.5f);
    c.recon_weight = -1.0f;
    CHECK_STATUS(sl_latent_config_check(&c), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "recon_weight") != NULL);
    c.recon_weight = NAN;
    CHECK_STATUS(sl_latent_config_check(&c), SL_ERR_ARG);
    c.recon_weight = 0.0f;
    CHECK_OK(sl_latent_config_check(&c));
    sl_latent_free(NULL);
}

TEST(determinism) {
    sl_dataset *ds = make_ds(12, 40, 1, -1);
    CHECK(ds != NULL);
    if (!ds) return;
    sl_latent_config c = small_cfg(7);
    c.epochs = 3;
    c.val_frac = 0.0;
    sl_latent_encoder *a = NULL, *b = NULL, *d = NULL;
    CHECK_OK(sl_latent_train(&a, ds, &c, NULL));
    CHECK_OK(sl_latent_train(&b, ds, &c, NULL));
    c.seed = 8;
    CHECK_OK(sl_latent_train(&d, ds, &c, NULL));
    size_t cnt = ds->n * 16;
    float *za = malloc(cnt * 4), *zb = malloc(cnt * 4), *zd = malloc(cnt * 4);
    if (a && b && d && za && zb && zd) {
        CHECK_OK(sl_latent_encode_dataset(a, ds, za, NULL));
        CHECK_OK(sl_latent_encode_dataset(b, ds, zb, NULL));
        CHECK_OK(sl_latent_encode_dataset(d, ds, zd, NULL));
        CHECK(memcmp(za, zb, cnt * 4) == 0);
        CHECK(memcmp(za, zd, cnt * 4) != 0);
        /* every dim has mean 0 and std 1 over the training rows (all rows: val_frac 0) */
        double worst = 0;
        for (int j = 0; j < 16; j++) {
            double m = 0, v = 0;
            for (size_t r = 0; r < ds->n; r++) m += (double)za[r * 16 + j];
            m /= (double)ds->n;
            for (size_t r = 0; r < ds->n; r++) v += ((double)za[r * 16 + j] - m) * ((double)za[r * 16 + j] - m);
            v = sqrt(v / (double)ds->n);
            if (fabs(m) > worst) worst = fabs(m);
            if (fabs(v - 1.0) > worst) worst = fabs(v - 1.0);
        }
        CHECK_MSG(worst < 1e-4, "per-dim mean/std deviate from 0/1 by %g", worst);
    }
    free(za);
    free(zb);
    free(zd);
    sl_latent_free(a);
    sl_latent_free(b);
    sl_latent_free(d);
    sl_dataset_free(ds);
}

TEST(learns_nearby_steps) {
    sl_dataset *train = make_ds(50, 60, 2, -1), *held = make_ds(20, 60, 99, -1);
    CHECK(train && held);
    if (!train || !held) {
        sl_dataset_free(train);
        sl_dataset_free(held);
        return;
    }
    sl_latent_config c = small_cfg(3);
    c.epochs = 15;
    c.val_frac = 0.0;
    sl_latent_encoder *e = NULL;
    sl_latent_train_report rep;
    CHECK_OK(sl_latent_train(&e, train, &c, &rep));
    if (e) {
        CHECK_MSG(rep.loss_last_epoch < rep.loss_first_epoch - 0.5,
                  "loss did not drop: %.4f -> %.4f", rep.loss_first_epoch, rep.loss_last_epoch);
        double acc0, ch0, l0, acc, ch, l;
        /* an untrained encoder (0 epochs) as the baseline */
        sl_latent_config c0 = c;
        c0.epochs = 0;
        sl_latent_encoder *e0 = NULL;
        CHECK_OK(sl_latent_train(&e0, train, &c0, NULL));
        CHECK_OK(sl_latent_eval_retrieval(e, held, 10, 5, &acc, &ch, &l));
        if (e0) CHECK_OK(sl_latent_eval_retrieval(e0, held, 10, 5, &acc0, &ch0, &l0));
        printf("  held-out retrieval: trained %.3f (loss %.3f), untrained %.3f (loss %.3f), "
               "chance %.4f\n", acc, l, acc0, l0, ch);
        CHECK(ch > 0 && ch < 0.05);
        CHECK_MSG(acc > 10 * ch && acc > 0.25, "retrieval %.3f not clearly above chance %.4f", acc,
                  ch);
        CHECK(acc > acc0 + 0.1);
        CHECK(l < l0);
        sl_latent_free(e0);
    }
    sl_latent_free(e);
    sl_dataset_free(train);
    sl_dataset_free(held);
}

TEST(validation_report) {
    sl_dataset *ds = make_ds(30, 50, 4, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(5);
    c.val_frac = 0.2;
    sl_latent_encoder *e = NULL;
    sl_latent_train_report rep;
    CHECK_OK(sl_latent_train(&e, ds, &c, &rep));
    CHECK(rep.n_val_episodes == 6 && rep.n_train_episodes == 24);
    CHECK(rep.val_retrieval > rep.val_chance);
    CHECK(isfinite(rep.val_loss) && rep.val_loss > 0);
    CHECK(rep.steps == 6 * (int)((24 * 50 + 127) / 128));
    sl_latent_free(e);
    sl_dataset_free(ds);
}

TEST(bad_input) {
    /* NaN observation: training and encoding both refuse, naming the row */
    sl_dataset *bad = make_ds(6, 20, 6, 47);
    sl_dataset *ok = make_ds(6, 20, 6, -1);
    if (!bad || !ok) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(1);
    c.epochs = 1;
    sl_latent_encoder *e = NULL;
    CHECK_STATUS(sl_latent_train(&e, bad, &c, NULL), SL_ERR_NAN);
    CHECK(e == NULL);
    CHECK_MSG(strstr(sl_last_error(), "row 47") && strstr(sl_last_error(), "column 5"),
              "message: %s", sl_last_error());
    CHECK_OK(sl_latent_train(&e, ok, &c, NULL));
    float *z = malloc(ok->n * 16 * sizeof(float));
    if (e && z) {
        CHECK_STATUS(sl_latent_encode_dataset(e, bad, z, NULL), SL_ERR_NAN);
        CHECK(strstr(sl_last_error(), "row 47") != NULL);
        /* wrong observation width */
        CHECK_STATUS(sl_latent_encode(e, ok->observations, 3, OBS_DIM - 1, z), SL_ERR_SHAPE);
        CHECK(strstr(sl_last_error(), "15") != NULL);
        /* latents/dataset length mismatch when loading for a dataset */
        char path[600];
        snprintf(path, sizeof path, "%s/mismatch.npz", harness_tmpdir());
        CHECK_OK(sl_latent_encode_dataset(e, ok, z, NULL));
        CHECK_OK(sl_latents_save_npz(path, z, NULL, ok->episode_ids, ok->n, 16));
        float *lz = NULL;
        size_t n = 0;
        int d = 0;
        CHECK_STATUS(sl_latents_load_npz(path, ok->n + 1, &lz, NULL, NULL, &n, &d), SL_ERR_SHAPE);
        CHECK_MSG(strstr(sl_last_error(), "120 rows") && strstr(sl_last_error(), "121"),
                  "message: %s", sl_last_error());
        CHECK(lz == NULL);
        /* non-finite latents are never written */
        z[17] = INFINITY;
        snprintf(path, sizeof path, "%s/nan.npz", harness_tmpdir());
        CHECK_STATUS(sl_latents_save_npz(path, z, NULL, NULL, ok->n, 16), SL_ERR_NAN);
        FILE *f = fopen(path, "rb");
        CHECK(f == NULL);
        if (f) fclose(f);
    }
    /* too few episodes */
    sl_dataset *one = make_ds(1, 20, 6, -1);
    sl_latent_encoder *e1 = NULL;
    if (one) CHECK_STATUS(sl_latent_train(&e1, one, &c, NULL), SL_ERR_ARG);
    CHECK(e1 == NULL);
    free(z);
    sl_latent_free(e);
    sl_dataset_free(one);
    sl_dataset_free(bad);
    sl_dataset_free(ok);
}

TEST(checkpoint_roundtrip) {
    sl_dataset *ds = make_ds(10, 30, 8, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(11);
    c.epochs = 2;
    sl_latent_encoder *e = NULL, *f = NULL;
    CHECK_OK(sl_latent_train(&e, ds, &c, NULL));
    char path[600];
    snprintf(path, sizeof path, "%s/enc.safetensors", harness_tmpdir());
    if (e) CHECK_OK(sl_latent_save(e, path, NULL));
    CHECK_OK(sl_latent_load(&f, path));
    size_t cnt = ds->n * 16;
    float *za = malloc(cnt * 4), *zb = malloc(cnt * 4);
    if (e && f && za && zb) {
        CHECK(sl_latent_obs_dim(f) == OBS_DIM && sl_latent_z_dim(f) == 16);
        CHECK(sl_latent_get_config(f).seed == 11 && sl_latent_get_config(f).k == 3);
        CHECK_OK(sl_latent_encode_dataset(e, ds, za, NULL));
        CHECK_OK(sl_latent_encode_dataset(f, ds, zb, NULL));
        CHECK(memcmp(za, zb, cnt * 4) == 0);
    }
    /* a file that is not an encoder */
    char bogus[600];
    snprintf(bogus, sizeof bogus, "%s/bogus.safetensors", harness_tmpdir());
    FILE *fp = fopen(bogus, "wb");
    if (fp) {
        fputs("not a safetensors file at all", fp);
        fclose(fp);
    }
    sl_latent_encoder *g = NULL;
    CHECK(sl_latent_load(&g, bogus) != SL_OK);
    CHECK(g == NULL);
    free(za);
    free(zb);
    sl_latent_free(e);
    sl_latent_free(f);
    sl_dataset_free(ds);
}

/* Latents written by C are read by numpy; numpy recomputes the statistics table and writes
 * its own copy back (np.savez), which C must read bit-exactly. */
TEST(numpy_roundtrip_and_stats) {
    sl_dataset *ds = make_ds(9, 25, 12, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(13);
    c.epochs = 2;
    sl_latent_encoder *e = NULL;
    CHECK_OK(sl_latent_train(&e, ds, &c, NULL));
    size_t cnt = ds->n * 16;
    float *z = malloc(cnt * 4), *nz = malloc(cnt * 4);
    char path[600], back[600], stats[600], cmd[2400];
    snprintf(path, sizeof path, "%s/z.npz", harness_tmpdir());
    snprintf(back, sizeof back, "%s/z_back.npz", harness_tmpdir());
    snprintf(stats, sizeof stats, "%s/z_stats.json", harness_tmpdir());
    if (e && z && nz) {
        CHECK_OK(sl_latent_encode_dataset(e, ds, z, nz));
        CHECK_OK(sl_latents_save_npz(path, z, nz, ds->episode_ids, ds->n, 16));
        snprintf(cmd, sizeof cmd, "%s %s/tests/py/lat_roundtrip.py %s %s %s", SL_PYTHON, root(),
                 path, back, stats);
        CHECK_MSG(system(cmd) == 0, "lat_roundtrip.py failed: %s", cmd);
        float *bz = NULL, *bnz = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        int d = 0;
        CHECK_OK(sl_latents_load_npz(back, ds->n, &bz, &bnz, &ids, &n, &d));
        if (bz && bnz && ids) {
            CHECK(n == ds->n && d == 16);
            CHECK(memcmp(bz, z, cnt * 4) == 0);
            CHECK(memcmp(bnz, nz, cnt * 4) == 0);
            CHECK(memcmp(ids, ds->episode_ids, ds->n * 4) == 0);
        }
        free(bz);
        free(bnz);
        free(ids);
        sl_latent_stats s;
        CHECK_OK(sl_latent_compute_stats(z, ds->episode_ids, ds->n, 16, &s));
        cJSON *ref = NULL;
        CHECK_OK(sl_json_read_file(stats, &ref));
        if (ref) {
            CHECK(s.n_episodes == 9);
            CHECK_CLOSE(s.ep_mean_mean, sl_json_num(ref, "ep_mean_mean", NAN), 1e-9);
            CHECK_CLOSE(s.ep_mean_std, sl_json_num(ref, "ep_mean_std", NAN), 1e-7);
            CHECK_CLOSE(s.ep_std_mean, sl_json_num(ref, "ep_std_mean", NAN), 1e-9);
            CHECK_CLOSE(s.ep_std_std, sl_json_num(ref, "ep_std_std", NAN), 1e-7);
            CHECK_CLOSE(s.min, sl_json_num(ref, "min", NAN), 0);
            CHECK_CLOSE(s.max, sl_json_num(ref, "max", NAN), 0);
            CHECK_CLOSE(s.dim_std_mean, sl_json_num(ref, "dim_std_mean", NAN), 1e-9);
        }
        cJSON_Delete(ref);
    }
    free(z);
    free(nz);
    sl_latent_free(e);
    sl_dataset_free(ds);
}

/* encode via the CLI, then --apply with the saved checkpoint: same latents, sidecar JSON. */
TEST(cli_encode_and_apply) {
    sl_dataset *ds = make_ds(10, 30, 21, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    const char *bin = getenv("SL_BIN");
    char defbin[600];
    snprintf(defbin, sizeof defbin, "%s/build/synthloop", root());
    if (!bin || !*bin) bin = defbin;
    char d[600], z1[600], z2[600], ck[600], js[600], cmd[4000];
    const char *t = harness_tmpdir();
    snprintf(d, sizeof d, "%s/cli_d.npz", t);
    snprintf(z1, sizeof z1, "%s/cli_z1.npz", t);
    snprintf(z2, sizeof z2, "%s/cli_z2.npz", t);
    snprintf(ck, sizeof ck, "%s/cli_enc.safetensors", t);
    snprintf(js, sizeof js, "%s/cli_z1.json", t);
    CHECK_OK(sl_dataset_save_npz(ds, d));
    snprintf(cmd, sizeof cmd, "%s encode --quiet --data %s --output %s --checkpoint %s --dim 8 "
             "--epochs 2 --hidden 32 --seed 4", bin, d, z1, ck);
    CHECK_MSG(system(cmd) == 0, "failed: %s", cmd);
    snprintf(cmd, sizeof cmd, "%s encode --quiet --apply --checkpoint %s --data %s --output %s",
             bin, ck, d, z2);
    CHECK_MSG(system(cmd) == 0, "failed: %s", cmd);
    float *a = NULL, *b = NULL, *na = NULL, *nb = NULL;
    size_t n1 = 0, n2 = 0;
    int d1 = 0, d2 = 0;
    CHECK_OK(sl_latents_load_npz(z1, ds->n, &a, &na, NULL, &n1, &d1));
    CHECK_OK(sl_latents_load_npz(z2, ds->n, &b, &nb, NULL, &n2, &d2));
    if (a && b && na && nb) {
        CHECK(d1 == 8 && d2 == 8);
        CHECK(memcmp(a, b, ds->n * 8 * 4) == 0);
        CHECK(memcmp(na, nb, ds->n * 8 * 4) == 0);
    }
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(js, &j));
    if (j) {
        CHECK(sl_json_num(j, "seed", -1) == 4);
        CHECK(cJSON_GetObjectItem(j, "git") && cJSON_GetObjectItem(j, "latent_stats"));
        const cJSON *cf = cJSON_GetObjectItem(j, "config");
        CHECK(cf && sl_json_int(cf, "z_dim", 0) == 8);
        CHECK(strcmp(sl_json_str(j, "mode", ""), "train") == 0);
    }
    cJSON_Delete(j);
    /* usage errors exit 2; --apply with a dataset of the wrong width fails with 1 */
    snprintf(cmd, sizeof cmd, "%s encode --data %s 2>/dev/null", bin, d);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s encode --help >/dev/null", bin);
    CHECK(system(cmd) == 0);
    free(a);
    free(b);
    free(na);
    free(nb);
    sl_dataset_free(ds);
}

/* The analytic gradient of the training loss (float32, sl_latent_loss_grad) against float64
 * central differences of a reference written with the nn reference kernels, for every tensor
 * of encoder AND decoder. Criterion: per tensor ||analytic - numeric|| / ||numeric|| < 2e-3
 * (the analytic side is float32). The check must be sensitive to the decoder's gradient into
 * the encoder: the same analytic gradient checked against the reference with the
 * reconstruction term dropped (w 0) or mis-weighted (2w) must fail on the encoder tensors. */
TEST(gradcheck_infonce_plus_recon) {
    sl_dataset *ds = make_ds(4, 12, 31, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config cf = sl_latent_config_default();
    cf.z_dim = 4;
    cf.hidden = 6;
    cf.n_hidden = 2;
    cf.epochs = 0; /* statistics fitted, parameters initialised, no steps */
    cf.val_frac = 0.0;
    cf.temperature = 0.5f;
    cf.recon_weight = 1.5f;
    cf.seed = 9;
    sl_latent_encoder *e = NULL;
    CHECK_OK(sl_latent_train(&e, ds, &cf, NULL));
    if (!e) {
        sl_dataset_free(ds);
        return;
    }
    CHECK(e->has_dec);
    const int B = 4, R = 2 * B, od = e->obs_dim, D = cf.z_dim;
    /* larger, random weights so that every path (LayerNorm, ReLU, both losses) matters */
    sl_rng r;
    sl_rng_seed(&r, 77, 0);
    sl_nn_arena *ar = &e->arena;
    for (size_t t = 0; t < ar->n_tensors; t++) {
        float *pt = sl_nn_arena_param(ar, t);
        for (size_t i = 0; i < ar->tensors[t].numel; i++)
            pt[i] = (float)(0.7 * sl_rng_normal(&r));
    }
    size_t anchors[4] = {0, 12, 24, 36}, pos[4] = {2, 13, 23, 38};
    double total = 0, inf = 0, rec = 0;
    CHECK_OK(sl_latent_loss_grad(e, ds->observations, anchors, pos, B, &total, &inf, &rec));
    CHECK(isfinite(total) && rec > 0.05 && inf > 0.05);
    float *g = malloc(ar->numel * sizeof(float));
    ref_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.B = B;
    c.w = (double)cf.recon_weight;
    c.P = malloc(ar->numel * sizeof(double));
    c.x = malloc((size_t)R * (size_t)od * sizeof(double));
    for (int k = 0; k < 4; k++) c.buf[k] = malloc((size_t)R * 64 * sizeof(double));
    if (!g || !c.P || !c.x || !c.buf[0] || !c.buf[1] || !c.buf[2] || !c.buf[3]) {
        CHECK(0);
    } else {
        memcpy(g, ar->grads, ar->numel * sizeof(float));
        for (size_t i = 0; i < ar->numel; i++) c.P[i] = (double)ar->params[i];
        for (int b = 0; b < R; b++) {
            size_t row = b < B ? anchors[b] : pos[b - B];
            for (int j = 0; j < od; j++) /* standardised exactly as the library (in float) */
                c.x[b * od + j] = (double)((ds->observations[row * (size_t)od + j] -
                                            e->obs_mean[j]) / e->obs_std[j]);
        }
        CHECK_CLOSE(ref_loss(&c), total, 1e-5 * fabs(total));
        c.w = 0.0;
        CHECK_CLOSE(ref_loss(&c), inf, 1e-5 * fabs(inf));
        /* numeric gradients per tensor, for w, 0 and 2w */
        const double ws3[3] = {(double)cf.recon_weight, 0.0, 2.0 * (double)cf.recon_weight};
        double worst_enc[3] = {0, 0, 0}, worst_dec = 0;
        int n_enc = 0, n_dec = 0;
        for (int v = 0; v < 3; v++) {
            c.w = ws3[v];
            for (size_t t = 0; t < ar->n_tensors; t++) {
                const sl_nn_tensor *tt = &ar->tensors[t];
                int is_dec = strncmp(tt->name, "dec.", 4) == 0;
                if (v > 0 && is_dec) continue;
                double num2 = 0, diff2 = 0;
                for (size_t i = 0; i < tt->numel; i++) {
                    double *px = c.P + tt->offset + i, keep = *px;
                    const double h = 1e-6;
                    *px = keep + h;
                    double fp = ref_loss(&c);
                    *px = keep - h;
                    double fm = ref_loss(&c);
                    *px = keep;
                    double num = (fp - fm) / (2 * h), an = (double)g[tt->offset + i];
                    num2 += num * num;
                    diff2 += (num - an) * (num - an);
                }
                double rel = sqrt(diff2) / fmax(sqrt(num2), 1e-12);
                if (v == 0) {
                    CHECK_MSG(rel < 2e-3, "gradcheck %s: relative error %.3g (|num| %.3g)",
                              tt->name, rel, sqrt(num2));
                    if (is_dec) {
                        n_dec++;
                        worst_dec = fmax(worst_dec, rel);
                    } else {
                        n_enc++;
                    }
                }
                if (!is_dec) worst_enc[v] = fmax(worst_enc[v], rel);
            }
        }
        printf("  gradcheck: worst relative error enc %.2g, dec %.2g over %d+%d tensors; "
               "against w=0: %.2g, against 2w: %.2g\n", worst_enc[0], worst_dec, n_enc, n_dec,
               worst_enc[1], worst_enc[2]);
        CHECK(n_enc == 2 * (2 * cf.n_hidden + 1) && n_dec == n_enc);
        CHECK_MSG(worst_enc[1] > 0.02 && worst_enc[2] > 0.02,
                  "the check cannot tell a missing/mis-weighted decoder gradient: %.3g %.3g",
                  worst_enc[1], worst_enc[2]);
        (void)D;
    }
    free(g);
    free(c.P);
    free(c.x);
    for (int k = 0; k < 4; k++) free(c.buf[k]);
    sl_latent_free(e);
    sl_dataset_free(ds);
}

/* recon_weight 0 trains no decoder and gives exactly the pure-InfoNCE encoder; a decoder
 * neither changes the encoder's initial parameters nor the batches; the reconstruction term
 * lowers the held-out reconstruction MSE of the decoder; checkpoints keep the decoder. */
TEST(recon_objective) {
    sl_dataset *ds = make_ds(24, 40, 41, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(17);
    c.val_frac = 0.2;
    c.epochs = 25;
    c.recon_weight = 0.0f;
    sl_latent_encoder *a = NULL, *b = NULL, *r = NULL;
    sl_latent_train_report ra, rb, rr;
    CHECK_OK(sl_latent_train(&a, ds, &c, &ra));
    CHECK_OK(sl_latent_train(&b, ds, &c, &rb));
    c.recon_weight = 1.0f;
    CHECK_OK(sl_latent_train(&r, ds, &c, &rr));
    if (a && b && r) {
        CHECK(!a->has_dec && r->has_dec);
        CHECK(ra.val_recon_mse == 0.0 && ra.recon_last_epoch == 0.0);
        double m;
        CHECK_STATUS(sl_latent_eval_recon(a, ds, &m), SL_ERR_STATE);
        /* the encoder part of the arena has the same layout (dec.* after enc.*) */
        CHECK(r->arena.n_tensors == 2 * a->arena.n_tensors);
        for (size_t t = 0; t < a->arena.n_tensors; t++)
            CHECK(strcmp(a->arena.tensors[t].name, r->arena.tensors[t].name) == 0 &&
                  a->arena.tensors[t].offset == r->arena.tensors[t].offset);
        CHECK(memcmp(a->arena.params, b->arena.params, a->arena.numel * sizeof(float)) == 0);
        printf("  recon: MSE of x_std %.4f -> %.4f, held-out %.4f; InfoNCE %.3f (w 0: %.3f), "
               "retrieval %.3f (w 0: %.3f)\n", rr.recon_first_epoch, rr.recon_last_epoch,
               rr.val_recon_mse, rr.loss_last_epoch, ra.loss_last_epoch, rr.val_retrieval,
               ra.val_retrieval);
        CHECK(rr.recon_last_epoch < 0.5 * rr.recon_first_epoch);
        CHECK(rr.val_recon_mse > 0 && rr.val_recon_mse < 0.5);
        CHECK(rr.val_retrieval > 5 * rr.val_chance);
        CHECK_OK(sl_latent_eval_recon(r, ds, &m));
        CHECK(m > 0 && m < 0.5);
        /* determinism with the decoder */
        sl_latent_encoder *r2 = NULL;
        CHECK_OK(sl_latent_train(&r2, ds, &c, NULL));
        if (r2) CHECK(memcmp(r->arena.params, r2->arena.params, r->arena.numel * 4) == 0);
        sl_latent_free(r2);
        /* checkpoint: dec.* stored, recon_weight in the config, same latents and recon */
        char path[600];
        snprintf(path, sizeof path, "%s/enc_recon.safetensors", harness_tmpdir());
        CHECK_OK(sl_latent_save(r, path, NULL));
        sl_safetensors *stf = NULL;
        CHECK_OK(sl_safetensors_read(&stf, path));
        if (stf) {
            CHECK(sl_safetensors_find(stf, "dec.l0.weight") != NULL);
            cJSON *cj = cJSON_Parse(sl_safetensors_meta(stf, "config"));
            CHECK(cj && sl_json_num(cj, "recon_weight", -1) == 1.0);
            cJSON_Delete(cj);
        }
        sl_safetensors_free(stf);
        sl_latent_encoder *l = NULL;
        CHECK_OK(sl_latent_load(&l, path));
        if (l) {
            CHECK(l->has_dec && sl_latent_get_config(l).recon_weight == 1.0f);
            double ml;
            CHECK_OK(sl_latent_eval_recon(l, ds, &ml));
            CHECK(ml == m);
        }
        sl_latent_free(l);
        /* a checkpoint without a decoder loads as recon_weight 0 (older files have no
         * "recon_weight"; see checkpoint_roundtrip for a decoder-free file) */
        snprintf(path, sizeof path, "%s/enc_norecon.safetensors", harness_tmpdir());
        CHECK_OK(sl_latent_save(a, path, NULL));
        CHECK_OK(sl_latent_load(&l, path));
        if (l) CHECK(!l->has_dec && sl_latent_get_config(l).recon_weight == 0.0f);
        sl_latent_free(l);
    }
    sl_latent_free(a);
    sl_latent_free(b);
    sl_latent_free(r);
    sl_dataset_free(ds);
}

/* A checkpoint written before the decoder existed: no "recon_weight" in the config and no
 * dec.* tensors. Built by rewriting a decoder-free checkpoint's config without the key. */
TEST(old_checkpoint_loads) {
    sl_dataset *ds = make_ds(8, 20, 43, -1);
    if (!ds) {
        CHECK(0);
        return;
    }
    sl_latent_config c = small_cfg(19);
    c.epochs = 1;
    c.recon_weight = 0.0f;
    sl_latent_encoder *e = NULL, *f = NULL;
    CHECK_OK(sl_latent_train(&e, ds, &c, NULL));
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/enc_new.safetensors", harness_tmpdir());
    snprintf(p2, sizeof p2, "%s/enc_old.safetensors", harness_tmpdir());
    if (e) CHECK_OK(sl_latent_save(e, p1, NULL));
    sl_safetensors *stf = NULL;
    CHECK_OK(sl_safetensors_read(&stf, p1));
    if (stf && e) {
        size_t n = sl_safetensors_count(stf);
        sl_tensor_ref *t = calloc(n, sizeof *t);
        for (size_t i = 0; t && i < n; i++) {
            const sl_array *a = sl_safetensors_at(stf, i);
            t[i].name = a->name;
            t[i].dtype = a->dtype;
            t[i].ndim = a->ndim;
            for (int d = 0; d < a->ndim; d++) t[i].shape[d] = a->shape[d];
            t[i].data = a->data;
        }
        cJSON *cj = cJSON_Parse(sl_safetensors_meta(stf, "config"));
        cJSON_DeleteItemFromObject(cj, "recon_weight");
        char *txt = cJSON_PrintUnformatted(cj);
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "synthloop_kind", "latent_encoder");
        cJSON_AddStringToObject(meta, "config", txt);
        if (t) CHECK_OK(sl_safetensors_write(p2, t, n, meta));
        free(txt);
        cJSON_Delete(cj);
        cJSON_Delete(meta);
        free(t);
        CHECK_OK(sl_latent_load(&f, p2));
        size_t cnt = ds->n * 16;
        float *za = malloc(cnt * 4), *zb = malloc(cnt * 4);
        if (f && za && zb) {
            CHECK(!f->has_dec && sl_latent_get_config(f).recon_weight == 0.0f);
            CHECK_OK(sl_latent_encode_dataset(e, ds, za, NULL));
            CHECK_OK(sl_latent_encode_dataset(f, ds, zb, NULL));
            CHECK(memcmp(za, zb, cnt * 4) == 0);
        }
        free(za);
        free(zb);
    }
    sl_safetensors_free(stf);
    sl_latent_free(e);
    sl_latent_free(f);
    sl_dataset_free(ds);
}

int main(void) {
    RUN(config_checks);
    RUN(determinism);
    RUN(learns_nearby_steps);
    RUN(validation_report);
    RUN(gradcheck_infonce_plus_recon);
    RUN(recon_objective);
    RUN(old_checkpoint_loads);
    RUN(bad_input);
    RUN(checkpoint_roundtrip);
    RUN(numpy_roundtrip_and_stats);
    RUN(cli_encode_and_apply);
    return harness_done();
}
