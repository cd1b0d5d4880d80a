/* SPDX-License-Identifier: Apache-2.0 */
/* test_weight_dist.c - seed 002's novelty input and distributional lambda (§8.3): novelty
 * against a numpy brute-force reference, its ordering and thread-count independence; lambda
 * samples reproducible per (seed, epoch), clamped, centred on the model's mean, and the
 * residual std round-tripping through the model file (old files load as a point estimate). */
#include <omp.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_weight.h"

TEST(novelty_matches_numpy_and_orders_branches) {
    enum { NR = 300, D = 6, NB = 40, R = 5 };
    static float real[NR * D], br[NB * R * D];
    sl_rng g;
    sl_rng_seed(&g, 5, 0);
    for (int i = 0; i < NR * D; i++) real[i] = (float)sl_rng_normal(&g);
    /* branch b drifts away from the data by b * 0.1 */
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < R; r++)
            for (int k = 0; k < D; k++)
                br[(b * R + r) * D + k] = real[((b * 7 + r) % NR) * D + k] + 0.1f * (float)b;
    double nov[NB], nov1[NB], dref;
    CHECK_OK(sl_weight_novelty(br, NB, R, real, NR, D, nov, &dref));
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(sl_weight_novelty(br, NB, R, real, NR, D, nov1, NULL));
    omp_set_num_threads(nt);
    for (int b = 0; b < NB; b++) CHECK(nov[b] == nov1[b]);
    CHECK(nov[0] == 0.0); /* branch 0 sits on real points */
    CHECK(nov[NB - 1] > 0.5 && nov[NB - 1] < 1.0);
    /* novelty grows with the drift: correlation with the branch index */
    double mb = (NB - 1) / 2.0, mn = 0, sbn = 0, sbb = 0, snn = 0;
    for (int b = 0; b < NB; b++) mn += nov[b] / NB;
    for (int b = 0; b < NB; b++) {
        sbn += (b - mb) * (nov[b] - mn);
        sbb += (b - mb) * (b - mb);
        snn += (nov[b] - mn) * (nov[b] - mn);
    }
    double corr = sbn / sqrt(sbb * snn);
    printf("  correlation of novelty with the drift %.3f; d_ref %.4f\n", corr, dref);
    CHECK(corr > 0.85);
    /* numpy reference */
    char in[700], out[700], cmd[2000];
    snprintf(in, sizeof in, "%s/nov.npz", harness_tmpdir());
    snprintf(out, sizeof out, "%s/nov.json", harness_tmpdir());
    sl_npz_writer *w = NULL;
    CHECK_OK(sl_npz_writer_open(&w, in, SL_NPZ_STORED));
    size_t sr[2] = {NR, D}, sb[3] = {NB, R, D};
    CHECK_OK(sl_npz_writer_add(w, "real", SL_DTYPE_F32, 2, sr, real));
    CHECK_OK(sl_npz_writer_add(w, "branches", SL_DTYPE_F32, 3, sb, br));
    CHECK_OK(sl_npz_writer_commit(w));
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/novelty_ref.py %s %s", SL_PYTHON, root && *root ? root : ".", in, out);
    CHECK(system(cmd) == 0);
    cJSON *ref = NULL;
    CHECK_OK(sl_json_read_file(out, &ref));
    if (ref) {
        CHECK_CLOSE(dref, sl_json_num(ref, "d_ref", NAN), 1e-6);
        const cJSON *a = cJSON_GetObjectItem(ref, "novelty");
        for (int b = 0; b < NB; b++) CHECK_CLOSE(nov[b], cJSON_GetArrayItem(a, b)->valuedouble, 1e-6);
        cJSON_Delete(ref);
    }
    /* bad input */
    br[3] = NAN;
    CHECK_STATUS(sl_weight_novelty(br, NB, R, real, NR, D, nov, NULL), SL_ERR_NAN);
    CHECK_STATUS(sl_weight_novelty(br, NB, R, real, 1, D, nov, NULL), SL_ERR_ARG);
}

TEST(distributional_lambda) {
    sl_lambda_model m;
    sl_lambda_model_init(&m);
    m.params[SL_LAMBDA_NFEAT] = 0.0; /* sigmoid(0) = 0.5: mean = max_share / 2 */
    m.resid_std = 0.05;
    sl_weight_context c = sl_weight_global_default().ctx;
    c.max_synth_share = 0.4;
    double mean, sd, lam, lam2, sum = 0, sum2 = 0;
    const int N = 20000;
    for (int e = 0; e < N; e++) {
        CHECK_OK(sl_lambda_model_sample(&m, &c, 7, (uint64_t)e, &lam, &mean, &sd));
        CHECK(lam >= 0 && lam <= 0.4);
        sum += lam;
        sum2 += lam * lam;
    }
    CHECK_CLOSE(mean, 0.2, 1e-12);
    double mu = sum / N, s = sqrt(sum2 / N - mu * mu);
    printf("  mean %.4f (model %.3f), std %.4f (model %.3f) over %d epochs\n", mu, mean, s, sd, N);
    CHECK(fabs(mu - 0.2) < 0.003 && fabs(s - 0.05) < 0.003);
    CHECK_OK(sl_lambda_model_sample(&m, &c, 7, 123, &lam, NULL, NULL));
    CHECK_OK(sl_lambda_model_sample(&m, &c, 7, 123, &lam2, NULL, NULL));
    CHECK(lam == lam2);
    /* a wide spread is clamped into [0, max] */
    m.resid_std = 10;
    for (int e = 0; e < 100; e++) {
        CHECK_OK(sl_lambda_model_sample(&m, &c, 1, (uint64_t)e, &lam, NULL, NULL));
        CHECK(lam >= 0 && lam <= 0.4);
    }
    /* std 0 is the point estimate */
    m.resid_std = 0;
    CHECK_OK(sl_lambda_model_sample(&m, &c, 1, 5, &lam, NULL, NULL));
    CHECK(lam == 0.2);
    /* the fit estimates the spread of its records */
    sl_lambda_record rec[200];
    sl_rng g;
    sl_rng_seed(&g, 3, 0);
    for (int i = 0; i < 200; i++) {
        rec[i].ctx = c;
        rec[i].share = 0.2 + 0.04 * sl_rng_normal(&g);
        rec[i].reward = 1;
    }
    sl_lambda_model fit;
    CHECK_OK(sl_lambda_model_train(&fit, rec, 200, NULL, NULL, NULL));
    printf("  fitted residual std %.4f (records drawn with 0.04)\n", fit.resid_std);
    CHECK(fit.resid_std > 0.03 && fit.resid_std < 0.05);
    /* file round trip, and a file without resid_std loads as a point estimate */
    char p[700];
    snprintf(p, sizeof p, "%s/lam.json", harness_tmpdir());
    CHECK_OK(sl_lambda_model_save(&fit, p));
    sl_lambda_model back;
    CHECK_OK(sl_lambda_model_load(&back, p));
    CHECK(back.resid_std == fit.resid_std);
    cJSON *j = NULL;
    CHECK_OK(sl_json_read_file(p, &j));
    cJSON_DeleteItemFromObject(j, "resid_std");
    CHECK_OK(sl_json_write_file(p, j));
    cJSON_Delete(j);
    CHECK_OK(sl_lambda_model_load(&back, p));
    CHECK(back.resid_std == 0.0);
}

int main(void) {
    RUN(novelty_matches_numpy_and_orders_branches);
    RUN(distributional_lambda);
    return harness_done();
}
