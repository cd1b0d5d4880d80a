/* test_latent.c - the contrastive encoder: determinism, InfoNCE learning with held-out
 * nearby-step retrieval, bad input, checkpoints, latents files through numpy, the CLI. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_latent.h"

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

int main(void) {
    RUN(config_checks);
    RUN(determinism);
    RUN(learns_nearby_steps);
    RUN(validation_report);
    RUN(bad_input);
    RUN(checkpoint_roundtrip);
    RUN(numpy_roundtrip_and_stats);
    RUN(cli_encode_and_apply);
    return harness_done();
}
