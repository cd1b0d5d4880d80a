/* SPDX-License-Identifier: Apache-2.0 */
/* test_stats.c - every sl_stats function against numpy / scipy / sklearn on random data.
 *
 * main() generates the random cases once, runs tests/py/stats_ref.py once (one Python start
 * per binary), and each TEST compares its part of the reference. If Python or the reference
 * fails, every reference test FAILS (never skips).
 */
#include <float.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_stats.h"

#define DNAN ((double)NAN)

static cJSON *g_in;  /* cases */
static cJSON *g_ref; /* reference results, NULL if the script failed */

/* relative closeness with a tiny absolute floor, for values that span many decades */
#define CHECK_REL(a, b, tol)                                                                  \
    do {                                                                                      \
        double cr_a = (a), cr_b = (b);                                                        \
        if (!(fabs(cr_a - cr_b) <= (tol) * fabs(cr_b) + 1e-300))                              \
            HARNESS_FAIL("CHECK_REL(%s, %s): %.17g vs %.17g (rel %.3g)", #a, #b, cr_a, cr_b,  \
                         fabs(cr_a - cr_b) / fabs(cr_b));                                     \
    } while (0)

/* --- case generation ---------------------------------------------------- */

static double *arr_of(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    double *x = malloc((*n ? *n : 1) * sizeof *x);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) x[i++] = e->valuedouble;
    return x;
}

static int *iarr_of(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    int *x = malloc((*n ? *n : 1) * sizeof *x);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) x[i++] = e->valueint;
    return x;
}

static cJSON *normal_array(sl_rng *r, size_t n, double loc, double scale) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(loc + scale * sl_rng_normal(r)));
    return a;
}

static cJSON *triple(double a, double b, double c, int three) {
    cJSON *t = cJSON_CreateArray();
    cJSON_AddItemToArray(t, cJSON_CreateNumber(a));
    cJSON_AddItemToArray(t, cJSON_CreateNumber(b));
    if (three) cJSON_AddItemToArray(t, cJSON_CreateNumber(c));
    return t;
}

static cJSON *make_cases(void) {
    sl_rng r;
    sl_rng_seed(&r, 20240601, 0);
    cJSON *c = cJSON_CreateObject();

    cJSON *mom = cJSON_AddArrayToObject(c, "moments");
    const size_t sizes[] = {2, 3, 5, 17, 100, 1000, 4, 33};
    const double locs[] = {0, 1e6, -3, 0.5, 1e-3, 7, 123456.789, -1e4};
    const double scales[] = {1, 1e-2, 10, 1e-3, 1e-6, 2, 1e3, 0.1};
    for (int i = 0; i < 8; i++)
        cJSON_AddItemToArray(mom, normal_array(&r, sizes[i], locs[i], scales[i]));

    cJSON *qa = cJSON_AddArrayToObject(c, "quantile");
    for (int k = 0; k < 3; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "x", normal_array(&r, k == 0 ? 1 : (k == 1 ? 37 : 1000), 2, 3));
        cJSON *q = cJSON_AddArrayToObject(o, "q");
        const double qs[] = {0, 0.025, 0.1, 0.25, 0.5, 0.77, 0.975, 1};
        for (int j = 0; j < 8; j++) cJSON_AddItemToArray(q, cJSON_CreateNumber(qs[j]));
        cJSON_AddItemToArray(qa, o);
    }

    cJSON *bi = cJSON_AddArrayToObject(c, "betainc");
    for (int i = 0; i < 200; i++) {
        double a = i % 3 == 0 ? sl_rng_uniform_range(&r, 0.1, 2) : sl_rng_uniform_range(&r, 0.1, 60);
        double b = i % 4 == 0 ? 0.5 : sl_rng_uniform_range(&r, 0.1, 60);
        cJSON_AddItemToArray(bi, triple(a, b, sl_rng_uniform(&r), 1));
    }

    const double dfs[] = {1, 2, 2.5, 3.7, 5, 10, 30, 100, 1000, 12345.6};
    cJSON *tc = cJSON_AddArrayToObject(c, "tcdf");
    for (int i = 0; i < 300; i++) {
        double df = i < 200 ? dfs[i % 10] : sl_rng_uniform_range(&r, 0.5, 300);
        double t = i % 5 == 0 ? sl_rng_uniform_range(&r, -40, 40) : 3.0 * sl_rng_normal(&r);
        cJSON_AddItemToArray(tc, triple(t, df, 0, 0));
    }
    cJSON *tp = cJSON_AddArrayToObject(c, "tppf");
    const double ps[] = {1e-10, 1e-5, 0.001, 0.025, 0.05, 0.3, 0.5, 0.6, 0.975, 0.999, 1 - 1e-8};
    for (int d = 0; d < 10; d++)
        for (int j = 0; j < 11; j++) cJSON_AddItemToArray(tp, triple(ps[j], dfs[d], 0, 0));
    for (int i = 0; i < 100; i++)
        cJSON_AddItemToArray(tp, triple(sl_rng_uniform_range(&r, 1e-6, 1 - 1e-6),
                                        sl_rng_uniform_range(&r, 0.7, 80), 0, 0));

    cJSON *we = cJSON_AddArrayToObject(c, "welch");
    for (int i = 0; i < 60; i++) {
        cJSON *o = cJSON_CreateObject();
        size_t na = 2 + sl_rng_below(&r, 30), nb = 2 + sl_rng_below(&r, 30);
        cJSON_AddItemToObject(o, "a", normal_array(&r, na, sl_rng_normal(&r), 0.1 + 3 * sl_rng_uniform(&r)));
        cJSON_AddItemToObject(o, "b", normal_array(&r, nb, sl_rng_normal(&r), 0.1 + 3 * sl_rng_uniform(&r)));
        cJSON_AddItemToArray(we, o);
    }

    cJSON *au = cJSON_AddArrayToObject(c, "auc");
    for (int i = 0; i < 20; i++) {
        cJSON *o = cJSON_CreateObject();
        size_t n = 10 + sl_rng_below(&r, 500);
        cJSON *s = cJSON_AddArrayToObject(o, "s"), *y = cJSON_AddArrayToObject(o, "y");
        for (size_t k = 0; k < n; k++) {
            int lab = k < 2 ? (int)k : (int)(sl_rng_uniform(&r) < 0.3 + 0.02 * i);
            double sc = sl_rng_normal(&r) + (lab ? 0.1 * i : 0.0);
            if (i % 2 == 0) sc = round(sc * 4) / 4; /* many ties */
            cJSON_AddItemToArray(s, cJSON_CreateNumber(sc));
            cJSON_AddItemToArray(y, cJSON_CreateNumber(lab));
        }
        cJSON_AddItemToArray(au, o);
    }

    cJSON *pr = cJSON_AddArrayToObject(c, "prob");
    for (int i = 0; i < 12; i++) {
        cJSON *o = cJSON_CreateObject();
        size_t n = 5 + sl_rng_below(&r, 800);
        cJSON *p = cJSON_AddArrayToObject(o, "p"), *y = cJSON_AddArrayToObject(o, "y");
        const double edge[] = {0.0, 1.0, 0.1, 0.3, 0.5, 0.7, 1e-17, 1 - 1e-17, 0.9};
        for (size_t k = 0; k < n; k++) {
            double pv = k < 9 ? edge[k] : sl_rng_uniform(&r);
            if (i % 3 == 1) pv = round(pv * 20) / 20; /* values exactly on bin edges */
            int lab = k < 2 ? (int)k : (int)(sl_rng_uniform(&r) < pv);
            cJSON_AddItemToArray(p, cJSON_CreateNumber(pv));
            cJSON_AddItemToArray(y, cJSON_CreateNumber(lab));
        }
        cJSON *bins = cJSON_AddArrayToObject(o, "bins");
        const int nb[] = {10, 7, 1, 3, 15};
        for (int j = 0; j < 5; j++) cJSON_AddItemToArray(bins, cJSON_CreateNumber(nb[j]));
        cJSON_AddItemToArray(pr, o);
    }

    cJSON *sr = cJSON_AddArrayToObject(c, "std_ratio");
    for (int i = 0; i < 6; i++) {
        cJSON *o = cJSON_CreateObject();
        int dim = 1 + i;
        cJSON_AddNumberToObject(o, "dim", dim);
        cJSON_AddItemToObject(o, "syn", normal_array(&r, (size_t)(dim * (20 + 7 * i)), -0.04, 0.117));
        cJSON_AddItemToObject(o, "real", normal_array(&r, (size_t)(dim * (30 + 5 * i)), -0.04, 0.062));
        cJSON_AddItemToArray(sr, o);
    }

    cJSON *vg = cJSON_AddArrayToObject(c, "vargrowth");
    for (int i = 0; i < 4; i++) {
        cJSON *o = cJSON_CreateObject();
        int R = 1 + 3 * i, T = 1 + 5 * i, D = 2 + 2 * i;
        cJSON_AddNumberToObject(o, "R", R);
        cJSON_AddNumberToObject(o, "T", T);
        cJSON_AddNumberToObject(o, "D", D);
        cJSON_AddNumberToObject(o, "eps", i % 2 ? 1e-6 : 0.0);
        cJSON *z = cJSON_AddArrayToObject(o, "z");
        for (int rr = 0; rr < R; rr++)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                    cJSON_AddItemToArray(z, cJSON_CreateNumber(0.06 * (1 + 0.05 * t) * sl_rng_normal(&r)));
        cJSON_AddItemToArray(vg, o);
    }
    return c;
}

static void run_reference(void) {
    /* on any failure g_ref stays NULL and the reference tests FAIL */
    g_in = make_cases();
    char in[700], out[700], cmd[2200];
    snprintf(in, sizeof in, "%s/stats_in.json", harness_tmpdir());
    snprintf(out, sizeof out, "%s/stats_out.json", harness_tmpdir());
    if (sl_json_write_file(in, g_in) != SL_OK) {
        printf("  cannot write %s: %s\n", in, sl_last_error());
        return;
    }
    /* cJSON prints some doubles with 15 digits when they compare equal within an epsilon, so
     * both sides must use the values as they are in the file: read it back. */
    cJSON_Delete(g_in);
    g_in = NULL;
    if (sl_json_read_file(in, &g_in) != SL_OK) {
        printf("  cannot read back %s: %s\n", in, sl_last_error());
        return;
    }
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/stats_ref.py %s %s", SL_PYTHON,
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

/* --- reference comparisons ---------------------------------------------- */

TEST(moments_and_ci_match_numpy_scipy) {
    NEED_REF();
    const cJSON *cases = cJSON_GetObjectItem(g_in, "moments");
    const cJSON *ref = cJSON_GetObjectItem(g_ref, "moments");
    const cJSON *ci = cJSON_GetObjectItem(g_ref, "ci");
    for (int i = 0; i < cJSON_GetArraySize(cases); i++) {
        size_t n;
        double *x = arr_of(cJSON_GetArrayItem(cases, i), &n);
        const cJSON *rr = cJSON_GetArrayItem(ref, i);
        double m, v, s;
        sl_ci c;
        CHECK_OK(sl_stats_mean(x, n, &m));
        CHECK_OK(sl_stats_var(x, n, &v));
        CHECK_OK(sl_stats_std(x, n, &s));
        CHECK_OK(sl_stats_ci_mean(x, n, 0.95, &c));
        CHECK_REL(m, sl_json_num(rr, "mean", DNAN), 1e-12);
        CHECK_REL(v, sl_json_num(rr, "var", DNAN), 1e-9);
        CHECK_REL(s, sl_json_num(rr, "std", DNAN), 1e-9);
        const cJSON *cc = cJSON_GetArrayItem(ci, i);
        CHECK_REL(c.lo, cJSON_GetArrayItem(cc, 0)->valuedouble, 1e-9);
        CHECK_REL(c.hi, cJSON_GetArrayItem(cc, 1)->valuedouble, 1e-9);
        /* scipy's own t.interval (stdtri, ~1e-9 accurate) */
        CHECK_CLOSE(c.lo, cJSON_GetArrayItem(cc, 2)->valuedouble, 1e-8);
        CHECK_CLOSE(c.hi, cJSON_GetArrayItem(cc, 3)->valuedouble, 1e-8);
        free(x);
    }
}

TEST(quantile_matches_numpy) {
    NEED_REF();
    const cJSON *cases = cJSON_GetObjectItem(g_in, "quantile");
    const cJSON *ref = cJSON_GetObjectItem(g_ref, "quantile");
    for (int i = 0; i < cJSON_GetArraySize(cases); i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        size_t n, nq;
        double *x = arr_of(cJSON_GetObjectItem(c, "x"), &n);
        double *q = arr_of(cJSON_GetObjectItem(c, "q"), &nq);
        for (size_t j = 0; j < nq; j++) {
            double v;
            CHECK_OK(sl_stats_quantile(x, n, q[j], &v));
            CHECK_REL(v, cJSON_GetArrayItem(cJSON_GetArrayItem(ref, i), (int)j)->valuedouble, 1e-12);
        }
        free(x);
        free(q);
    }
}

TEST(betainc_t_cdf_sf_ppf_match_scipy) {
    NEED_REF();
    const cJSON *e;
    int i = 0;
    const cJSON *bref = cJSON_GetObjectItem(g_ref, "betainc");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "betainc")) {
        double a = cJSON_GetArrayItem(e, 0)->valuedouble, b = cJSON_GetArrayItem(e, 1)->valuedouble,
               x = cJSON_GetArrayItem(e, 2)->valuedouble;
        CHECK_REL(sl_stats_betainc(a, b, x), cJSON_GetArrayItem(bref, i)->valuedouble, 1e-9);
        i++;
    }
    i = 0;
    const cJSON *cref = cJSON_GetObjectItem(g_ref, "tcdf"), *sref = cJSON_GetObjectItem(g_ref, "tsf");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "tcdf")) {
        double t = cJSON_GetArrayItem(e, 0)->valuedouble, df = cJSON_GetArrayItem(e, 1)->valuedouble;
        CHECK_REL(sl_stats_t_cdf(t, df), cJSON_GetArrayItem(cref, i)->valuedouble, 1e-9);
        CHECK_REL(sl_stats_t_sf(t, df), cJSON_GetArrayItem(sref, i)->valuedouble, 1e-9);
        i++;
    }
    i = 0;
    const cJSON *pref = cJSON_GetObjectItem(g_ref, "tppf");
    const cJSON *rawref = cJSON_GetObjectItem(g_ref, "tppf_raw");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "tppf")) {
        double p = cJSON_GetArrayItem(e, 0)->valuedouble, df = cJSON_GetArrayItem(e, 1)->valuedouble;
        double want = cJSON_GetArrayItem(pref, i)->valuedouble;
        /* relative, with an absolute floor near the median where t -> 0 */
        CHECK_CLOSE(sl_stats_t_ppf(p, df), want, 1e-9);
        if (fabs(want) > 1e-3) CHECK_REL(sl_stats_t_ppf(p, df), want, 1e-9);
        /* and scipy's unpolished t.ppf, which is itself only ~1e-9 accurate */
        CHECK_CLOSE(sl_stats_t_ppf(p, df), cJSON_GetArrayItem(rawref, i)->valuedouble, 2e-8);
        /* round trip through our CDF */
        double tq = sl_stats_t_ppf(p, df);
        CHECK_REL(p < 0.5 ? sl_stats_t_cdf(tq, df) : sl_stats_t_sf(tq, df), p < 0.5 ? p : 1 - p, 1e-11);
        i++;
    }
    /* domain */
    CHECK(isnan(sl_stats_t_ppf(1.5, 3)));
    CHECK(isnan(sl_stats_t_cdf(0.3, -1)));
    CHECK(isnan(sl_stats_betainc(0, 1, 0.5)));
    CHECK(sl_stats_t_ppf(0.0, 3) == -(double)INFINITY);
    CHECK(sl_stats_t_cdf(INFINITY, 3) == 1.0);
}

TEST(welch_matches_scipy_ttest_ind) {
    NEED_REF();
    const cJSON *e, *ref = cJSON_GetObjectItem(g_ref, "welch");
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "welch")) {
        size_t na, nb;
        double *a = arr_of(cJSON_GetObjectItem(e, "a"), &na);
        double *b = arr_of(cJSON_GetObjectItem(e, "b"), &nb);
        sl_welch w;
        CHECK_OK(sl_stats_welch(a, na, b, nb, 0.95, &w));
        const cJSON *rr = cJSON_GetArrayItem(ref, i);
        CHECK_REL(w.t, sl_json_num(rr, "t", DNAN), 1e-9);
        CHECK_REL(w.p, sl_json_num(rr, "p", DNAN), 1e-9);
        CHECK_REL(w.df, sl_json_num(rr, "df", DNAN), 1e-9);
        CHECK_CLOSE(w.ci_lo, sl_json_num(rr, "ci_lo", DNAN), 1e-9);
        CHECK_CLOSE(w.ci_hi, sl_json_num(rr, "ci_hi", DNAN), 1e-9);
        CHECK(!w.degenerate);
        free(a);
        free(b);
        i++;
    }
}

TEST(roc_auc_matches_sklearn_with_ties) {
    NEED_REF();
    const cJSON *e, *ref = cJSON_GetObjectItem(g_ref, "auc");
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "auc")) {
        size_t n, ny;
        double *s = arr_of(cJSON_GetObjectItem(e, "s"), &n);
        int *y = iarr_of(cJSON_GetObjectItem(e, "y"), &ny);
        double auc;
        CHECK_OK(sl_stats_roc_auc(s, y, n, &auc));
        CHECK_REL(auc, cJSON_GetArrayItem(ref, i)->valuedouble, 1e-9);
        free(s);
        free(y);
        i++;
    }
}

TEST(brier_ece_logloss_match_sklearn) {
    NEED_REF();
    const cJSON *e, *ref = cJSON_GetObjectItem(g_ref, "prob");
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "prob")) {
        size_t n, ny, nbins;
        double *p = arr_of(cJSON_GetObjectItem(e, "p"), &n);
        int *y = iarr_of(cJSON_GetObjectItem(e, "y"), &ny);
        int *bins = iarr_of(cJSON_GetObjectItem(e, "bins"), &nbins);
        const cJSON *rr = cJSON_GetArrayItem(ref, i);
        double v;
        CHECK_OK(sl_stats_brier(p, y, n, &v));
        CHECK_REL(v, sl_json_num(rr, "brier", DNAN), 1e-9);
        CHECK_OK(sl_stats_log_loss(p, y, n, 0.0, &v));
        CHECK_REL(v, sl_json_num(rr, "log_loss", DNAN), 1e-9);
        for (size_t j = 0; j < nbins; j++) {
            CHECK_OK(sl_stats_ece(p, y, n, bins[j], &v));
            CHECK_CLOSE(v, cJSON_GetArrayItem(cJSON_GetObjectItem(rr, "ece"), (int)j)->valuedouble,
                        1e-12);
        }
        free(p);
        free(y);
        free(bins);
        i++;
    }
}

TEST(std_ratio_and_variance_growth_match_numpy) {
    NEED_REF();
    const cJSON *e, *ref = cJSON_GetObjectItem(g_ref, "std_ratio");
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "std_ratio")) {
        size_t ns, nr, dim = (size_t)sl_json_int(e, "dim", 1);
        double *syn = arr_of(cJSON_GetObjectItem(e, "syn"), &ns);
        double *real = arr_of(cJSON_GetObjectItem(e, "real"), &nr);
        const cJSON *rr = cJSON_GetArrayItem(ref, i);
        double v, per[16], m;
        CHECK_OK(sl_stats_std_ratio(syn, ns, real, nr, &v));
        CHECK_REL(v, sl_json_num(rr, "pooled", DNAN), 1e-9);
        CHECK_OK(sl_stats_std_ratio_per_dim(syn, ns / dim, real, nr / dim, dim, per, &m));
        for (size_t d = 0; d < dim; d++)
            CHECK_REL(per[d], cJSON_GetArrayItem(cJSON_GetObjectItem(rr, "per_dim"), (int)d)->valuedouble,
                      1e-9);
        CHECK_REL(m, sl_json_num(rr, "mean", DNAN), 1e-9);
        free(syn);
        free(real);
        i++;
    }
    i = 0;
    ref = cJSON_GetObjectItem(g_ref, "vargrowth");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(g_in, "vargrowth")) {
        size_t nz, R = (size_t)sl_json_int(e, "R", 0), T = (size_t)sl_json_int(e, "T", 0),
                   D = (size_t)sl_json_int(e, "D", 0);
        double *z = arr_of(cJSON_GetObjectItem(e, "z"), &nz);
        double var_t[64], g;
        CHECK(nz == R * T * D);
        CHECK_OK(sl_stats_variance_growth(z, R, T, D, sl_json_num(e, "eps", 0), var_t, &g));
        const cJSON *rr = cJSON_GetArrayItem(ref, i);
        CHECK_REL(g, sl_json_num(rr, "growth", DNAN), 1e-9);
        for (size_t t = 0; t < T; t++)
            CHECK_REL(var_t[t], cJSON_GetArrayItem(cJSON_GetObjectItem(rr, "var_t"), (int)t)->valuedouble,
                      1e-9);
        free(z);
        i++;
    }
}

/* --- behaviour without a reference -------------------------------------- */

TEST(errors_are_reported_not_nan) {
    double x[3] = {1, NAN, 2}, v = 42;
    CHECK_STATUS(sl_stats_mean(x, 0, &v), SL_ERR_ARG);
    CHECK_STATUS(sl_stats_mean(x, 3, &v), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "x[1]") != NULL);
    CHECK_STATUS(sl_stats_var(x, 1, &v), SL_ERR_ARG);
    CHECK(v == 42);
    double s[4] = {0.1, 0.2, 0.3, 0.4};
    int y1[4] = {1, 1, 1, 1}, y2[4] = {0, 2, 1, 0};
    CHECK_STATUS(sl_stats_roc_auc(s, y1, 4, &v), SL_ERR_ARG);
    CHECK_STATUS(sl_stats_roc_auc(s, y2, 4, &v), SL_ERR_ARG);
    double pbad[2] = {0.5, 1.5};
    int y[2] = {0, 1};
    CHECK_STATUS(sl_stats_brier(pbad, y, 2, &v), SL_ERR_RANGE);
    CHECK_STATUS(sl_stats_ece(s, y2, 4, -3, &v), SL_ERR_ARG);
    double c[3] = {2, 2, 2};
    CHECK_STATUS(sl_stats_std_ratio(s, 4, c, 3, &v), SL_ERR_RANGE);
    CHECK_STATUS(sl_stats_rel_change(0.0, 1.0, &v), SL_ERR_RANGE);
    /* Welch with two constant groups is degenerate but defined */
    sl_welch w;
    CHECK_OK(sl_stats_welch(c, 3, c, 3, 0.95, &w));
    CHECK(w.degenerate && w.p == 1.0 && w.t == 0.0);
    double c2[3] = {3, 3, 3};
    CHECK_OK(sl_stats_welch(c2, 3, c, 3, 0.95, &w));
    CHECK(w.degenerate && w.p == 0.0 && w.t > 0);
}

TEST(ab_verdict_table_boundaries) {
    sl_ab_result r;
    /* higher is better: baseline 100 */
    struct {
        double aug, p;
        sl_direction d;
        sl_ab_verdict want;
    } cases[] = {
        {110, 0.01, SL_HIGHER_IS_BETTER, SL_AB_VALUE},
        {100.5, 0.01, SL_HIGHER_IS_BETTER, SL_AB_VALUE},   /* any significant improvement */
        {110, 0.20, SL_HIGHER_IS_BETTER, SL_AB_NO_HARM},   /* better but not significant */
        {101, 0.50, SL_HIGHER_IS_BETTER, SL_AB_NO_HARM},
        {98, 0.01, SL_HIGHER_IS_BETTER, SL_AB_NO_HARM},    /* exactly -2%: inside the band */
        {97.9, 0.5, SL_HIGHER_IS_BETTER, SL_AB_MINOR_DEGRADATION}, /* 2-3% gap */
        {97, 0.5, SL_HIGHER_IS_BETTER, SL_AB_MINOR_DEGRADATION},
        {95, 0.5, SL_HIGHER_IS_BETTER, SL_AB_MINOR_DEGRADATION},   /* exactly -5% */
        {94.9, 0.5, SL_HIGHER_IS_BETTER, SL_AB_POISONING},
        {50, 0.001, SL_HIGHER_IS_BETTER, SL_AB_POISONING},
        /* lower is better (MSE 0.178 baseline) */
        {0.171, 0.01, SL_LOWER_IS_BETTER, SL_AB_VALUE},
        {0.171, 0.3, SL_LOWER_IS_BETTER, SL_AB_NO_HARM},
        {0.1840, 0.01, SL_LOWER_IS_BETTER, SL_AB_MINOR_DEGRADATION},
        {0.20, 0.01, SL_LOWER_IS_BETTER, SL_AB_POISONING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double base = cases[i].d == SL_HIGHER_IS_BETTER ? 100.0 : 0.178;
        CHECK_OK(sl_stats_ab_verdict(base, cases[i].aug, cases[i].p, cases[i].d, NULL, &r));
        CHECK_MSG(r.verdict == cases[i].want, "case %zu: got %s want %s (imp %g)", i,
                  sl_ab_verdict_name(r.verdict), sl_ab_verdict_name(cases[i].want), r.improvement);
    }
    /* negative baseline (e.g. an actor loss): relative change uses |baseline| */
    CHECK_OK(sl_stats_ab_verdict(-4.35, -4.28, 0.5, SL_LOWER_IS_BETTER, NULL, &r));
    CHECK_CLOSE(r.rel_change, 0.07 / 4.35, 1e-12);
    CHECK(r.verdict == SL_AB_NO_HARM);
    CHECK_STATUS(sl_stats_ab_verdict(1, 1, 1.5, SL_LOWER_IS_BETTER, NULL, &r), SL_ERR_ARG);
    CHECK_STATUS(sl_stats_ab_verdict(1, NAN, 0.5, SL_LOWER_IS_BETTER, NULL, &r), SL_ERR_NAN);
    CHECK(strcmp(sl_ab_verdict_name(SL_AB_POISONING), "poisoning") == 0);
    CHECK(strcmp(sl_ab_verdict_name(SL_AB_VERDICT_COUNT), "unknown") == 0);
    /* from samples: clearly better arm with 10 seeds each */
    sl_rng g;
    sl_rng_seed(&g, 5, 0);
    double b[10], a[10];
    for (int i = 0; i < 10; i++) {
        b[i] = 100 + sl_rng_normal(&g);
        a[i] = 110 + sl_rng_normal(&g);
    }
    sl_welch w;
    CHECK_OK(sl_stats_ab_from_samples(b, 10, a, 10, SL_HIGHER_IS_BETTER, NULL, &w, &r));
    CHECK(r.verdict == SL_AB_VALUE && r.significant && w.diff > 0);
    CHECK_OK(sl_stats_ab_from_samples(b, 10, a, 10, SL_LOWER_IS_BETTER, NULL, &w, &r));
    CHECK(r.verdict == SL_AB_POISONING);
}

TEST(bootstrap_deterministic_and_covers) {
    sl_rng g;
    sl_rng_seed(&g, 11, 0);
    double x[30];
    int covered = 0, trials = 200;
    for (int k = 0; k < trials; k++) {
        for (int i = 0; i < 30; i++) x[i] = sl_rng_normal(&g);
        double lo, hi, pt;
        CHECK_OK(sl_stats_bootstrap_ci(x, 30, NULL, NULL, 1000, 0.95, (uint64_t)k, &pt, &lo, &hi));
        covered += lo <= 0.0 && 0.0 <= hi;
        CHECK(lo <= pt && pt <= hi);
        if (k == 0) {
            double lo2, hi2;
            CHECK_OK(sl_stats_bootstrap_ci(x, 30, NULL, NULL, 1000, 0.95, 0, NULL, &lo2, &hi2));
            CHECK(lo == lo2 && hi == hi2);
            CHECK_OK(sl_stats_bootstrap_ci(x, 30, NULL, NULL, 1000, 0.95, 1, NULL, &lo2, &hi2));
            CHECK(lo != lo2 || hi != hi2);
        }
    }
    /* percentile bootstrap of the mean at n=30 covers ~93%; 200 trials: sd ~ 1.8% */
    CHECK_MSG(covered >= 172 && covered <= 198, "coverage %d/200", covered);
    double b[20], a[20], lo, hi;
    for (int i = 0; i < 20; i++) {
        b[i] = 10 + sl_rng_normal(&g);
        a[i] = 11 + sl_rng_normal(&g);
    }
    CHECK_OK(sl_stats_bootstrap_rel_change_ci(b, 20, a, 20, 2000, 0.95, 3, &lo, &hi));
    CHECK(lo < 0.1 && hi > 0.1 && lo > 0.0);
}

int main(void) {
    run_reference();
    RUN(moments_and_ci_match_numpy_scipy);
    RUN(quantile_matches_numpy);
    RUN(betainc_t_cdf_sf_ppf_match_scipy);
    RUN(welch_matches_scipy_ttest_ind);
    RUN(roc_auc_matches_sklearn_with_ties);
    RUN(brier_ece_logloss_match_sklearn);
    RUN(std_ratio_and_variance_growth_match_numpy);
    RUN(errors_are_reported_not_nan);
    RUN(ab_verdict_table_boundaries);
    RUN(bootstrap_deterministic_and_covers);
    cJSON_Delete(g_in);
    cJSON_Delete(g_ref);
    return harness_done();
}
