/* SPDX-License-Identifier: Apache-2.0 */
/* test_decide.c - the A/B decision with uncertainty (issue 14): the paired tests, TOST, power
 * and seeds needed against scipy; verdicts on outcome tables whose right answer is known;
 * bounded metrics' intervals; the sequential design's type-I error by simulation. */
#include "harness.h"
#include "synthloop/sl_ab.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_stats.h"

static cJSON *g_in, *g_ref;

static void add_arr(cJSON *o, const char *k, const double *x, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
}

static double *arr_of(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    double *x = malloc((*n ? *n : 1) * sizeof *x);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) x[i++] = e->valuedouble;
    return x;
}

/* random paired cases: n in 3..30, effect -15%..+15%, noise 1%..20% */
static cJSON *make_cases(void) {
    cJSON *c = cJSON_CreateObject();
    cJSON *d = cJSON_AddArrayToObject(c, "decide");
    sl_rng r;
    sl_rng_seed(&r, 2026, 14);
    for (int k = 0; k < 40; k++) {
        size_t n = 3 + (size_t)(sl_rng_uniform(&r) * 28);
        double eff = -0.15 + 0.3 * sl_rng_uniform(&r), noise = 0.01 + 0.19 * sl_rng_uniform(&r);
        double mu = 50 + 500 * sl_rng_uniform(&r);
        double b[32], a[32];
        for (size_t i = 0; i < n; i++) {
            double common = mu * (1 + 0.1 * sl_rng_normal(&r)); /* shared by the pair */
            b[i] = common * (1 + noise * sl_rng_normal(&r));
            a[i] = common * (1 + eff) * (1 + noise * sl_rng_normal(&r));
        }
        cJSON *o = cJSON_CreateObject();
        add_arr(o, "base", b, n);
        add_arr(o, "aug", a, n);
        cJSON_AddBoolToObject(o, "higher", k % 3 != 0);
        cJSON_AddNumberToObject(o, "no_harm", 0.02);
        cJSON_AddNumberToObject(o, "alpha", 0.05);
        cJSON_AddItemToArray(d, o);
    }
    cJSON *np = cJSON_AddArrayToObject(c, "norm_ppf");
    const double ps[] = {1e-300, 1e-20, 1e-8, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.975,
                         0.99, 0.999999, 1 - 1e-12};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) cJSON_AddItemToArray(np, cJSON_CreateNumber(ps[i]));
    /* seeds needed at several effects: their exact power (noncentral t) is checked */
    cJSON *nd = cJSON_AddArrayToObject(c, "needed");
    const double imps[] = {0.03, 0.05, 0.1, 0.2}, sig[] = {0.05, 0.1, 0.2};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            long need = 0;
            double pw = 0;
            /* find it through the library's own search (the decision exposes it) */
            for (long m = 2; m <= 100000; m++) {
                pw = sl_stats_power_paired(imps[i], sig[j], (size_t)m, 0.05);
                if (pw >= 0.8) { need = m; break; }
            }
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "imp", imps[i]);
            cJSON_AddNumberToObject(o, "sigma", sig[j]);
            cJSON_AddNumberToObject(o, "n", (double)need);
            cJSON_AddNumberToObject(o, "alpha", 0.05);
            cJSON_AddItemToArray(nd, o);
        }
    return c;
}

static void run_reference(void) {
    g_in = make_cases();
    char in[700], out[700], cmd[2200];
    snprintf(in, sizeof in, "%s/decide_in.json", harness_tmpdir());
    snprintf(out, sizeof out, "%s/decide_out.json", harness_tmpdir());
    if (sl_json_write_file(in, g_in) != SL_OK) return;
    cJSON_Delete(g_in);
    g_in = NULL;
    if (sl_json_read_file(in, &g_in) != SL_OK) return;
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/decide_ref.py %s %s", SL_PYTHON,
             root && *root ? root : ".", in, out);
    if (system(cmd) != 0) {
        printf("  reference script failed: %s\n", cmd);
        return;
    }
    if (sl_json_read_file(out, &g_ref) != SL_OK) printf("  %s\n", sl_last_error());
}

#define NEED_REF()                                                                            \
    do {                                                                                      \
        if (!g_ref) {                                                                         \
            HARNESS_FAIL("no reference results (Python reference failed)");                   \
            return;                                                                           \
        }                                                                                     \
    } while (0)

TEST(paired_decision_matches_scipy) {
    NEED_REF();
    const cJSON *cases = cJSON_GetObjectItem(g_in, "decide");
    const cJSON *ref = cJSON_GetObjectItem(g_ref, "decide");
    int inconclusive = 0, decided = 0;
    for (int i = 0; i < cJSON_GetArraySize(cases); i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i), *rr = cJSON_GetArrayItem(ref, i);
        size_t n, n2;
        double *b = arr_of(cJSON_GetObjectItem(c, "base"), &n);
        double *a = arr_of(cJSON_GetObjectItem(c, "aug"), &n2);
        sl_direction dir = cJSON_IsTrue(cJSON_GetObjectItem(c, "higher")) ? SL_HIGHER_IS_BETTER
                                                                         : SL_LOWER_IS_BETTER;
        sl_ab_decision d;
        CHECK_OK(sl_stats_ab_decide(b, a, n, dir, NULL, 0, &d));
        CHECK_CLOSE(d.improvement, sl_json_num(rr, "improvement", NAN), 1e-12);
        CHECK_CLOSE(d.se, sl_json_num(rr, "se", NAN), 1e-10);
        CHECK_CLOSE(d.ci_lo, sl_json_num(rr, "ci_lo", NAN), 1e-9);
        CHECK_CLOSE(d.ci_hi, sl_json_num(rr, "ci_hi", NAN), 1e-9);
        CHECK_CLOSE(d.t, sl_json_num(rr, "t", NAN), 1e-9);
        CHECK_CLOSE(d.p_two_sided, sl_json_num(rr, "p", NAN), 1e-9);
        CHECK_CLOSE(d.p_harm, sl_json_num(rr, "p_harm", NAN), 1e-9);
        CHECK_CLOSE(d.p_equiv, sl_json_num(rr, "p_equiv", NAN), 1e-9);
        double pw = sl_stats_power_paired(d.improvement, sl_json_num(rr, "sigma", NAN), n, 0.05);
        /* AS 243 against scipy's noncentral t (boost) */
        CHECK_CLOSE(pw, sl_json_num(rr, "power_exact", NAN), 1e-7);
        double pt = sl_stats_power_tost(d.improvement, sl_json_num(rr, "sigma", NAN), n, 0.02, 0.05);
        CHECK_CLOSE(pt, sl_json_num(rr, "power_tost", NAN), 1e-9);
        if (d.verdict == SL_AB_INCONCLUSIVE) {
            inconclusive++;
            CHECK_MSG(d.seeds_needed == -1 || d.seeds_needed > (long)n,
                      "case %d: inconclusive at n=%zu but seeds_needed %ld", i, n, d.seeds_needed);
        } else {
            decided++;
        }
        free(a);
        free(b);
    }
    printf("  %d random cases: %d decided, %d inconclusive\n", decided + inconclusive, decided,
           inconclusive);
    CHECK(decided > 0 && inconclusive > 0);
}

TEST(norm_ppf_matches_scipy) {
    NEED_REF();
    const cJSON *ps = cJSON_GetObjectItem(g_in, "norm_ppf"), *rr = cJSON_GetObjectItem(g_ref, "norm_ppf");
    for (int i = 0; i < cJSON_GetArraySize(ps); i++) {
        double p = cJSON_GetArrayItem(ps, i)->valuedouble, want = cJSON_GetArrayItem(rr, i)->valuedouble;
        double got = sl_stats_norm_ppf(p);
        CHECK_MSG(fabs(got - want) <= 1e-12 * fabs(want) + 1e-14, "norm_ppf(%g) %.17g vs %.17g", p, got, want);
    }
    CHECK(isnan(sl_stats_norm_ppf(-0.1)) && isinf(sl_stats_norm_ppf(1.0)));
}

TEST(seeds_needed_reach_power_exactly) {
    NEED_REF();
    const cJSON *cs = cJSON_GetObjectItem(g_in, "needed"), *rr = cJSON_GetObjectItem(g_ref, "needed_exact_power");
    for (int i = 0; i < cJSON_GetArraySize(cs); i++) {
        const cJSON *c = cJSON_GetArrayItem(cs, i);
        double n = sl_json_num(c, "n", 0), exact = cJSON_GetArrayItem(rr, i)->valuedouble;
        CHECK_MSG(n >= 2, "case %d: no n found", i);
        /* at the returned n, scipy's exact power is >= 0.8 */
        CHECK_MSG(exact >= 0.8 - 1e-9, "case %d: n=%g exact power %.6f", i, n, exact);
    }
}

/* outcome tables whose right verdict is known */
TEST(known_verdicts) {
    sl_ab_decision d;
    /* clear harm: every pair 20% worse, little noise -> poisoning */
    double b[8] = {500, 520, 480, 510, 490, 505, 495, 515}, a[8];
    for (int i = 0; i < 8; i++) a[i] = b[i] * (0.8 + 0.005 * (i % 3));
    CHECK_OK(sl_stats_ab_decide(b, a, 8, SL_HIGHER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_POISONING);
    /* 3% worse, significant -> minor degradation */
    for (int i = 0; i < 8; i++) a[i] = b[i] * (0.97 + 0.002 * (i % 3));
    CHECK_OK(sl_stats_ab_decide(b, a, 8, SL_HIGHER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_MINOR_DEGRADATION);
    /* clear equivalence: within +-0.3% -> no harm */
    for (int i = 0; i < 8; i++) a[i] = b[i] * (1.0 + 0.003 * ((i % 2) ? 1 : -1));
    CHECK_OK(sl_stats_ab_decide(b, a, 8, SL_HIGHER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_NO_HARM);
    CHECK(d.ci_lo > -0.02 && d.ci_hi < 0.02);
    /* too few seeds: 3 noisy pairs, a 10% drop in the mean -> inconclusive with a count */
    double b3[3] = {500, 600, 400}, a3[3] = {380, 640, 330};
    CHECK_OK(sl_stats_ab_decide(b3, a3, 3, SL_HIGHER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_INCONCLUSIVE);
    CHECK_MSG(d.seeds_needed > 3, "seeds_needed %ld", d.seeds_needed);
    printf("  3 noisy pairs at %+.1f%%: inconclusive, %ld pairs needed for power 0.8\n",
           100 * d.improvement, d.seeds_needed);
    /* lower is better: error rate halved, significant -> value */
    double eb[6] = {0.4, 0.42, 0.38, 0.41, 0.39, 0.4}, ea[6] = {0.2, 0.22, 0.19, 0.2, 0.21, 0.2};
    CHECK_OK(sl_stats_ab_decide(eb, ea, 6, SL_LOWER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_VALUE);
    /* identical arms (an A/A run) -> equivalent */
    CHECK_OK(sl_stats_ab_decide(eb, eb, 6, SL_LOWER_IS_BETTER, NULL, 0, &d));
    CHECK(d.verdict == SL_AB_NO_HARM && d.degenerate);
    /* errors */
    double z[3] = {0, 0, 0};
    CHECK_STATUS(sl_stats_ab_decide(z, b3, 3, SL_HIGHER_IS_BETTER, NULL, 0, &d), SL_ERR_RANGE);
    CHECK_STATUS(sl_stats_ab_decide(b3, a3, 1, SL_HIGHER_IS_BETTER, NULL, 0, &d), SL_ERR_ARG);
    double nanv[3] = {1, NAN, 2};
    CHECK_STATUS(sl_stats_ab_decide(b3, nanv, 3, SL_HIGHER_IS_BETTER, NULL, 0, &d), SL_ERR_NAN);
}

/* the per-arm interval of a rate stays in [0, 1] (Student t would go below 0 here) */
TEST(bounded_metric_interval_stays_in_range) {
    sl_ab_config cfg = sl_ab_config_default();
    cfg.eval_episodes = 20;
    sl_ab_outcome o;
    memset(&o, 0, sizeof o);
    o.seeds = 5;
    const double er[5] = {0.0, 0.0, 0.0, 0.9, 0.1};
    for (int a = 0; a < SL_AB_ARMS; a++)
        for (int m = 0; m < SL_ABM_COUNT; m++) {
            o.per_seed[a][m] = calloc(5, sizeof(double));
            for (int s = 0; s < 5; s++)
                o.per_seed[a][m][s] = m == SL_ABM_ERROR_RATE ? er[s] : 100.0 + s + 3 * a;
        }
    sl_ci t;
    CHECK_OK(sl_stats_ci_mean(er, 5, 0.95, &t));
    CHECK(t.lo < 0); /* the case the bootstrap fixes */
    sl_ab_summarise(&cfg, &o);
    const sl_ab_metric_summary *ms = &o.summary[SL_ABM_ERROR_RATE];
    CHECK(ms->bounded);
    for (int a = 0; a < SL_AB_ARMS; a++) {
        CHECK_MSG(ms->ci[a].lo >= 0.0 && ms->ci[a].hi <= 1.0, "arm %d CI [%g, %g]", a,
                  ms->ci[a].lo, ms->ci[a].hi);
        CHECK(ms->ci[a].lo <= ms->ci[a].mean && ms->ci[a].mean <= ms->ci[a].hi);
    }
    CHECK(!o.summary[SL_ABM_RETURN].bounded);
    sl_ab_outcome_free(&o);
}

TEST(spending_sums_to_alpha) {
    double sum = 0;
    size_t prev = 0;
    for (size_t n = 3; n <= 20; n++) {
        double a = sl_stats_seq_alpha(prev, n, 20, 0.05);
        CHECK(a > 0);
        sum += a;
        prev = n;
    }
    CHECK_CLOSE(sum, 0.05, 1e-12);
    CHECK(sl_stats_seq_alpha(5, 5, 20, 0.05) == 0.0);
}

/* Sequential design under the null (no true difference): over >= 2000 replicates the chance
 * that any look declares value or harm stays <= alpha. Looks after 3, 4, ..., 20 pairs, as
 * `ab --until-decided --seeds 3 --max-seeds 20` takes them. */
static double seq_null_rate(int reps, double true_eff, int *eq_out) {
    sl_rng r;
    sl_rng_seed(&r, 77, 3);
    int false_diff = 0, eq = 0;
    for (int rep = 0; rep < reps; rep++) {
        double b[20], a[20];
        size_t prev = 0;
        for (size_t n = 1; n <= 20; n++) {
            double common = 500 * (1 + 0.1 * sl_rng_normal(&r));
            b[n - 1] = common * (1 + 0.05 * sl_rng_normal(&r));
            a[n - 1] = common * (1 + true_eff) * (1 + 0.05 * sl_rng_normal(&r));
            if (n < 3) continue;
            double al = sl_stats_seq_alpha(prev, n, 20, 0.05);
            prev = n;
            sl_ab_decision d;
            if (sl_stats_ab_decide(b, a, n, SL_HIGHER_IS_BETTER, NULL, al, &d) != SL_OK) break;
            if (d.verdict == SL_AB_INCONCLUSIVE) continue;
            if (d.verdict == SL_AB_NO_HARM) eq++;
            else false_diff++;
            break;
        }
    }
    if (eq_out) *eq_out = eq;
    return (double)false_diff / reps;
}

TEST(sequential_type1_error_at_most_alpha) {
    int eq = 0;
    const int reps = 4000;
    double rate = seq_null_rate(reps, 0.0, &eq);
    double se = sqrt(0.05 * 0.95 / reps);
    printf("  null (no difference), %d replicates: any value/harm declared in %.4f (alpha 0.05, "
           "MC se %.4f); equivalence declared in %.3f\n", reps, rate, se, (double)eq / reps);
    CHECK(rate <= 0.05);
    /* and at the equivalence margin (true change exactly -2%), declaring equivalence is the
     * type-I error of the equivalence test */
    int eq_m = 0;
    (void)seq_null_rate(reps, -0.02, &eq_m);
    printf("  at the margin (-2%%): equivalence declared in %.4f\n", (double)eq_m / reps);
    CHECK((double)eq_m / reps <= 0.05);
}

int main(void) {
    run_reference();
    RUN(paired_decision_matches_scipy);
    RUN(norm_ppf_matches_scipy);
    RUN(seeds_needed_reach_power_exactly);
    RUN(known_verdicts);
    RUN(bounded_metric_interval_stays_in_range);
    RUN(spending_sums_to_alpha);
    RUN(sequential_type1_error_at_most_alpha);
    cJSON_Delete(g_in);
    cJSON_Delete(g_ref);
    return harness_done();
}
