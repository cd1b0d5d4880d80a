/* SPDX-License-Identifier: Apache-2.0 */
/* test_dpsgd.c - DP-SGD in the NN engine: per-example gradient norms and clipped sums against
 * loops of batch-size-1 backward passes (float64 with the reference kernels, float32 with the
 * engine's MLP), noise statistics, and the Renyi-DP accountant against numerical integration
 * in tests/py/dp_rdp_ref.py and the closed form alpha / (2 sigma^2) at q = 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "nn/dp_ref.h"
#include "nn/nn_ref.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_nn_dp.h"

/* --- float64: a Linear -> LayerNorm -> tanh -> Linear net from the reference kernels ----- */

enum { C0 = 5, H = 7, O = 3, NB = 6 };
/* parameter layout in one double vector */
enum { W1 = 0, B1 = W1 + H * C0, LW = B1 + H, LB = LW + H, W2 = LB + H, B2 = W2 + O * H,
       NP = B2 + O };

typedef struct f64net {
    double lin[NB * H], ln[NB * H], mean[NB], rstd[NB], act[NB * H], out[NB * O];
} f64net;

static void f64_forward(f64net *n, const double *p, const double *x, int B) {
    sl_nn_ref_linear_forward_f64(n->lin, x, p + W1, p + B1, B, C0, H);
    sl_nn_ref_layernorm_forward_f64(n->ln, n->mean, n->rstd, n->lin, p + LW, p + LB, B, H, 1e-5);
    sl_nn_ref_act_forward_f64(n->act, n->ln, (size_t)B * H, SL_NN_ACT_TANH);
    sl_nn_ref_linear_forward_f64(n->out, n->act, p + W2, p + B2, B, H, O);
}

/* grads (ADD) for loss-gradient rows dout[B,O]; also the ghost per-example norms into sq[B]
 * (the identities of dpsgd.c instantiated in double) when sq != NULL */
static void f64_backward(double *g, double *sq, const f64net *n, const double *p,
                         const double *x, const double *dout, int B) {
    double dact[NB * H] = {0}, dln[NB * H] = {0}, dlin[NB * H] = {0};
    sl_nn_ref_linear_backward_f64(dact, g + W2, g + B2, dout, n->act, p + W2, B, H, O);
    if (sq) sl_nn_linear_per_example_sqnorm_f64(sq, dout, n->act, B, H, O, 1);
    sl_nn_ref_act_backward_f64(dln, dact, n->ln, n->act, (size_t)B * H, SL_NN_ACT_TANH);
    if (sq) sl_nn_layernorm_per_example_sqnorm_f64(sq, dln, n->lin, n->mean, n->rstd, B, H);
    sl_nn_ref_layernorm_backward_f64(dlin, g + LW, g + LB, dln, n->lin, n->mean, n->rstd, p + LW,
                                     B, H);
    sl_nn_ref_linear_backward_f64(NULL, g + W1, g + B1, dlin, x, p + W1, B, C0, H);
    if (sq) sl_nn_linear_per_example_sqnorm_f64(sq, dlin, x, B, C0, H, 1);
}

TEST(per_example_norms_and_clipped_sum_equal_batch1_loop_f64) {
    sl_rng r;
    sl_rng_seed(&r, 11, 0);
    for (int trial = 0; trial < 5; trial++) {
        double p[NP], x[NB * C0], dout[NB * O];
        for (int i = 0; i < NP; i++) p[i] = sl_rng_normal(&r) * 0.5;
        for (int i = 0; i < NB * C0; i++) x[i] = sl_rng_normal(&r);
        for (int i = 0; i < NB * O; i++) dout[i] = sl_rng_normal(&r) * (1 + trial);
        /* the loop: one backward per example, B = 1 */
        double gb[NB][NP], sq_loop[NB];
        f64net n1;
        for (int b = 0; b < NB; b++) {
            memset(gb[b], 0, sizeof gb[b]);
            f64_forward(&n1, p, x + b * C0, 1);
            f64_backward(gb[b], NULL, &n1, p, x + b * C0, dout + b * O, 1);
            sq_loop[b] = 0;
            for (int i = 0; i < NP; i++) sq_loop[b] += gb[b][i] * gb[b][i];
        }
        /* the batch: ghost norms in the same pass */
        f64net n;
        double g[NP] = {0}, sq[NB] = {0};
        f64_forward(&n, p, x, NB);
        f64_backward(g, sq, &n, p, x, dout, NB);
        for (int b = 0; b < NB; b++) CHECK_CLOSE(sq[b], sq_loop[b], 1e-12);
        /* clipped sum: scale the loss-gradient rows, one backward == sum of clipped g_b */
        float clip = (float)sqrt(sq_loop[trial % NB]); /* clips some rows, not all */
        float sc[NB];
        int nclip = sl_dp_clip_scales(sc, sq, NB, clip);
        CHECK(nclip > 0 && nclip < NB);
        double ds[NB * O], gs[NP] = {0}, want[NP] = {0};
        for (int b = 0; b < NB; b++)
            for (int o = 0; o < O; o++) ds[b * O + o] = dout[b * O + o] * (double)sc[b];
        f64_backward(gs, NULL, &n, p, x, ds, NB);
        for (int b = 0; b < NB; b++) {
            double nb = sqrt(sq_loop[b]), c = nb > (double)clip ? (double)clip / nb : 1.0;
            for (int i = 0; i < NP; i++) want[i] += c * gb[b][i];
        }
        /* the scales are float32: agreement to float32 rounding of c_b */
        for (int i = 0; i < NP; i++) CHECK_CLOSE(gs[i], want[i], 1e-6);
        /* and every clipped row's norm is exactly the clip (to float32 rounding) */
        for (int b = 0; b < NB; b++)
            if (sc[b] < 1.0f) CHECK_CLOSE(sqrt(sq[b]) * (double)sc[b], clip, 1e-6);
    }
}

/* --- float32: the engine's MLP against B = 1 loops of sl_nn_mlp_backward ----------------- */

static void check_mlp_f32(sl_nn_act act, int layernorm, int n_layers) {
    int sizes[4] = {6, 16, 12, 4};
    sizes[n_layers] = 4;
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    sl_nn_mlp m;
    CHECK_OK(sl_nn_mlp_declare(&m, &a, "m", n_layers, sizes, act, layernorm));
    CHECK_OK(sl_nn_arena_alloc(&a));
    sl_rng r;
    sl_rng_seed(&r, 5, (uint64_t)act);
    sl_nn_mlp_init(&m, a.params, &r);
    enum { B = 9 };
    int In = sizes[0], Out = sizes[n_layers];
    float x[B * 6], dout[B * 4], out[B * 4], din[B * 6] = {0}, din1[B * 6] = {0};
    for (int i = 0; i < B * In; i++) x[i] = (float)sl_rng_normal(&r);
    for (int i = 0; i < B * Out; i++) dout[i] = (float)sl_rng_normal(&r);
    sl_nn_mlp_cache c;
    CHECK_OK(sl_nn_mlp_cache_alloc(&c, &m, B));
    double sq[B] = {0};
    sl_nn_mlp_forward(out, &c, x, &m, a.params, B);
    sl_nn_mlp_per_example_sqnorm(sq, din, &c, dout, x, &m, a.params, B);
    for (int b = 0; b < B; b++) {
        sl_nn_arena_zero_grad(&a);
        sl_nn_mlp_forward(out, &c, x + b * In, &m, a.params, 1);
        sl_nn_mlp_backward(din1 + b * In, a.grads, &c, dout + b * Out, x + b * In, &m, a.params,
                           1);
        double s = 0;
        for (size_t i = 0; i < a.numel; i++) s += (double)a.grads[i] * (double)a.grads[i];
        CHECK_CLOSE(sq[b], s, 2e-5);
    }
    for (int i = 0; i < B * In; i++) CHECK_CLOSE(din[i], din1[i], 1e-5);
    sl_nn_mlp_cache_free(&c);
    sl_nn_arena_free(&a);
}

TEST(mlp_per_example_sqnorm_equals_batch1_loop_f32) {
    check_mlp_f32(SL_NN_ACT_RELU, 0, 3); /* the fused sgemm+ReLU forward path */
    check_mlp_f32(SL_NN_ACT_TANH, 1, 3);
    check_mlp_f32(SL_NN_ACT_SILU, 1, 2);
    check_mlp_f32(SL_NN_ACT_SIGMOID, 0, 1);
}

TEST(noise_has_the_dp_sgd_scale_and_is_deterministic) {
    size_t n = 200000;
    float *g = calloc(n, sizeof *g), *g2 = calloc(n, sizeof *g2);
    sl_rng r, r2;
    sl_rng_seed(&r, 3, 1);
    sl_rng_seed(&r2, 3, 1);
    sl_nn_dp_noise_grads(g, n, 1.3f, 0.7f, 64.0f, &r);
    sl_nn_dp_noise_grads(g2, n, 1.3f, 0.7f, 64.0f, &r2);
    CHECK(memcmp(g, g2, n * sizeof *g) == 0);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i], s2 += (double)g[i] * (double)g[i];
    double mean = s / n, sd = sqrt(s2 / n - mean * mean), want = 1.3 * 0.7 / 64.0;
    CHECK(fabs(mean) < 5 * want / sqrt((double)n));
    CHECK_CLOSE(sd / want, 1.0, 0.01); /* 200k draws: relative sd error ~ 0.0016 */
    /* sigma = 0: averaging only */
    for (size_t i = 0; i < 10; i++) g[i] = (float)i;
    sl_nn_dp_noise_grads(g, 10, 0.0f, 1.0f, 4.0f, &r);
    for (size_t i = 0; i < 10; i++) CHECK(g[i] == (float)i / 4.0f);
    free(g);
    free(g2);
}

/* --- accountant ---------------------------------------------------------- */

TEST(rdp_matches_numerical_integration_on_a_grid) {
    const double qs[] = {1e-3, 0.01, 0.05, 0.2, 0.6};
    const double sigmas[] = {0.6, 1.0, 2.0, 5.0};
    const double alphas[] = {1.5, 2.0, 3.5, 8.0, 20.5, 64.0};
    cJSON *in = cJSON_CreateObject(), *cases = cJSON_AddArrayToObject(in, "cases");
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t k = 0; k < 6; k++) {
                double v[3] = {qs[i], sigmas[j], alphas[k]};
                cJSON_AddItemToArray(cases, cJSON_CreateDoubleArray(v, 3));
            }
    char inp[700], outp[700], cmd[2000];
    snprintf(inp, sizeof inp, "%s/rdp_in.json", harness_tmpdir());
    snprintf(outp, sizeof outp, "%s/rdp_out.json", harness_tmpdir());
    CHECK_OK(sl_json_write_file(inp, in));
    cJSON_Delete(in);
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/dp_rdp_ref.py %s %s", SL_PYTHON,
             root && *root ? root : ".", inp, outp);
    if (system(cmd) != 0) {
        HARNESS_FAIL("reference script failed: %s", cmd);
        return;
    }
    cJSON *ref = NULL;
    CHECK_OK(sl_json_read_file(outp, &ref));
    if (!ref) return;
    cJSON *rd = cJSON_GetObjectItem(ref, "rdp");
    int idx = 0;
    double worst = 0;
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t k = 0; k < 6; k++, idx++) {
                double got, want = cJSON_GetArrayItem(rd, idx)->valuedouble;
                CHECK_OK(sl_dp_rdp_step(qs[i], sigmas[j], alphas[k], &got));
                double rel = fabs(got - want) / fmax(fabs(want), 1e-300);
                if (rel > worst) worst = rel;
                CHECK_MSG(rel < 1e-6, "q %g sigma %g alpha %g: %.12g vs integral %.12g", qs[i],
                          sigmas[j], alphas[k], got, want);
            }
    CHECK(idx == 120);
    printf("  rdp vs integration: 120 cases, worst relative difference %.2e\n", worst);
    cJSON_Delete(ref);
}

TEST(rdp_closed_form_at_q1_and_edges) {
    for (double s = 0.3; s < 20; s *= 1.7)
        for (double a = 1.25; a < 300; a *= 2.3) {
            double r;
            CHECK_OK(sl_dp_rdp_step(1.0, s, a, &r));
            CHECK_CLOSE(r, a / (2 * s * s), 1e-14);
        }
    /* q -> 1 from below agrees with the closed form (the series path) */
    double r1, r0;
    CHECK_OK(sl_dp_rdp_step(1.0 - 1e-9, 2.0, 8.0, &r1));
    CHECK_OK(sl_dp_rdp_step(1.0, 2.0, 8.0, &r0));
    CHECK_CLOSE(r1, r0, 1e-6);
    double r;
    CHECK_OK(sl_dp_rdp_step(0.0, 1.0, 4.0, &r));
    CHECK(r == 0.0);
    CHECK_OK(sl_dp_rdp_step(0.1, 0.0, 4.0, &r));
    CHECK(isinf(r));
    CHECK_STATUS(sl_dp_rdp_step(1.5, 1.0, 4.0, &r), SL_ERR_ARG);
    CHECK_STATUS(sl_dp_rdp_step(0.1, 1.0, 1.0, &r), SL_ERR_ARG);
    CHECK_STATUS(sl_dp_rdp_step(0.1, -1.0, 2.0, &r), SL_ERR_ARG);
}

TEST(epsilon_conversion_and_sigma_solver) {
    /* the conversion: eps is the minimum over the orders of the Balle et al. bound, and never
     * above Mironov 2017's */
    double q = 256.0 / 60000.0, sigma = 1.1, delta = 1e-5, eps, ba;
    uint64_t steps = 60 * 234;
    CHECK_OK(sl_dp_epsilon(q, sigma, steps, delta, &eps, &ba));
    size_t n;
    const double *ord = sl_dp_orders(&n);
    double best_m17 = HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double r;
        CHECK_OK(sl_dp_rdp_step(q, sigma, ord[i], &r));
        r *= (double)steps;
        double e = r + log((ord[i] - 1) / ord[i]) - (log(delta) + log(ord[i])) / (ord[i] - 1);
        CHECK(eps <= e + 1e-12);
        double m17 = r + log(1 / delta) / (ord[i] - 1);
        if (m17 < best_m17) best_m17 = m17;
    }
    CHECK(eps <= best_m17);
    CHECK(eps > 0.5 * best_m17); /* the same order of magnitude */
    printf("  q %.5f sigma %.2f steps %llu delta %g: eps %.4f (alpha %g; Mironov 2017: %.4f)\n",
           q, sigma, (unsigned long long)steps, delta, eps, ba, best_m17);
    /* monotone: more noise, less eps; more steps, more eps */
    double e2, e3;
    CHECK_OK(sl_dp_epsilon(q, sigma * 1.5, steps, delta, &e2, NULL));
    CHECK_OK(sl_dp_epsilon(q, sigma, steps * 2, delta, &e3, NULL));
    CHECK(e2 < eps && e3 > eps);
    /* the solver: the sigma it returns pays for the target, 0.1% less does not */
    const double targets[] = {0.5, 1.0, 4.0, 10.0};
    for (int i = 0; i < 4; i++) {
        double s, e, e_lo;
        CHECK_OK(sl_dp_solve_sigma(targets[i], 1e-5, 0.01, 3000, &s));
        CHECK_OK(sl_dp_epsilon(0.01, s, 3000, 1e-5, &e, NULL));
        CHECK_OK(sl_dp_epsilon(0.01, s * 0.999, 3000, 1e-5, &e_lo, NULL));
        CHECK(e <= targets[i]);
        CHECK(e_lo > targets[i] * 0.99);
    }
    /* composition with one Gaussian release: at q = 1 two Gaussians are one with
     * 1/s^2 = 1/s1^2 + 1/s2^2 (RDP adds exactly) */
    const double s1 = 1.7, s2 = 3.1, se = 1.0 / sqrt(1.0 / (s1 * s1) + 1.0 / (s2 * s2));
    double em, ee, mixed_sigma;
    CHECK_OK(sl_dp_epsilon_mix(1.0, s1, 1, s2, 1e-5, &em, NULL));
    CHECK_OK(sl_dp_epsilon(1.0, se, 1, 1e-5, &ee, NULL));
    CHECK_CLOSE(em, ee, 1e-12);
    CHECK_OK(sl_dp_epsilon_mix(0.01, 1.0, 3000, 0.0, 1e-5, &em, NULL)); /* sigma_g 0 = none */
    CHECK_OK(sl_dp_epsilon(0.01, 1.0, 3000, 1e-5, &ee, NULL));
    CHECK(em == ee);
    CHECK_OK(sl_dp_solve_sigma_mix(4.0, 1e-5, 0.01, 3000, 20.0, &mixed_sigma));
    CHECK_OK(sl_dp_epsilon_mix(0.01, mixed_sigma, 3000, 20.0, 1e-5, &em, NULL));
    CHECK(em <= 4.0 && em > 3.96);
    CHECK_STATUS(sl_dp_solve_sigma_mix(1.0, 1e-5, 0.01, 3000, 0.5, &mixed_sigma), SL_ERR_RANGE);
    double s;
    CHECK_OK(sl_dp_solve_sigma(HUGE_VAL, 1e-5, 0.01, 3000, &s));
    CHECK(s == 0.0);
    CHECK_STATUS(sl_dp_solve_sigma(-1.0, 1e-5, 0.01, 3000, &s), SL_ERR_ARG);
    CHECK_STATUS(sl_dp_epsilon(0.01, 1.0, 10, 0.0, &e2, NULL), SL_ERR_ARG);
}

int main(void) {
    RUN(per_example_norms_and_clipped_sum_equal_batch1_loop_f64);
    RUN(mlp_per_example_sqnorm_equals_batch1_loop_f32);
    RUN(noise_has_the_dp_sgd_scale_and_is_deterministic);
    RUN(rdp_matches_numerical_integration_on_a_grid);
    RUN(rdp_closed_form_at_q1_and_edges);
    RUN(epsilon_conversion_and_sigma_solver);
    return harness_done();
}
