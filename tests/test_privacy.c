/* SPDX-License-Identifier: Apache-2.0 */
/* test_privacy.c - the privacy module: exact samplers against their distributions (and a 30 %
 * wrong scale rejected), the Mironov attack, k-anonymity checked in Python, pseudonyms against
 * Python's hmac, the budget ledger under 8 threads x 4 processes, kill -9 during releases,
 * bad input, periods, retention and the commands.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "synthloop/sl_privacy.h"
#include "synthloop/sl_registry.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static char *tpath(const char *name) {
    /* a ring of buffers: a test may hold up to 64 paths at once */
    static char buf[64][1024];
    static int i = 0;
    char *b = buf[i++ & 63];
    snprintf(b, 1024, "%s/%s", harness_tmpdir(), name);
    return b;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* Regularised upper incomplete gamma Q(a, x) (series / continued fraction). */
static double gamma_q(double a, double x) {
    if (x <= 0) return 1.0;
    double gln = lgamma(a);
    if (x < a + 1) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int n = 0; n < 100000; n++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-15) break;
        }
        return 1.0 - sum * exp(-x + a * log(x) - gln);
    }
    double b = x + 1 - a, c = 1e300, d = 1.0 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < 1e-300) d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300) c = 1e-300;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return exp(-x + a * log(x) - gln) * h;
}

/* Chi-square p-value of integer samples against pmf(z) (bins with expected >= 5, the two tails
 * lumped). */
typedef double (*pmf_fn)(const void *ctx, int64_t z);
static double chi2_p(const int64_t *x, size_t n, pmf_fn pmf, const void *ctx, int64_t zmin,
                     int64_t zmax) {
    /* central range where n p(z) >= 5 (the pmfs here are unimodal around 0) */
    int64_t a = 0, b = 0;
    while (a - 1 >= zmin && (double)n * pmf(ctx, a - 1) >= 5) a--;
    while (b + 1 <= zmax && (double)n * pmf(ctx, b + 1) >= 5) b++;
    size_t nb = (size_t)(b - a + 1) + 2;
    double *obs = calloc(nb, sizeof *obs), *ex = calloc(nb, sizeof *ex);
    for (size_t i = 0; i < n; i++) {
        int64_t z = x[i];
        size_t bin = z < a ? 0 : z > b ? nb - 1 : (size_t)(z - a) + 1;
        obs[bin] += 1;
    }
    double central = 0;
    for (int64_t z = a; z <= b; z++) {
        ex[(size_t)(z - a) + 1] = (double)n * pmf(ctx, z);
        central += pmf(ctx, z);
    }
    double left = 0;
    for (int64_t z = zmin; z < a; z++) left += pmf(ctx, z);
    double right = 1.0 - central - left;
    ex[0] = (double)n * left;
    ex[nb - 1] = (double)n * (right > 0 ? right : 0);
    double stat = 0;
    int df = -1;
    for (size_t i = 0; i < nb; i++) {
        if (ex[i] <= 0) continue;
        stat += (obs[i] - ex[i]) * (obs[i] - ex[i]) / ex[i];
        df++;
    }
    free(obs);
    free(ex);
    return gamma_q(df / 2.0, stat / 2.0);
}

static double pmf_mech(const void *ctx, int64_t z) { return sl_dp_mech_pmf(ctx, z); }

typedef struct rr_ctx {
    uint32_t k, truth;
    double eps;
} rr_ctx;
static double pmf_rr(const void *ctx, int64_t z) {
    const rr_ctx *c = ctx;
    if (z < 0 || z >= c->k) return 0;
    double e = exp(c->eps);
    return (z == c->truth ? e : 1.0) / (e + c->k - 1);
}

static int run_py(const char *mode, const char *in, const char *out) {
    char cmd[4096];
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/privacy_check.py %s %s %s", SL_PYTHON,
             root ? root : ".", mode, in, out);
    return system(cmd);
}

static int write_i64(const char *path, const int64_t *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(x, sizeof *x, n, f);
    return fclose(f) == 0 && w == n;
}

/* --- samplers: exact distributions, and a 30 % wrong scale rejected --------------------------- */

enum { NS = 100000 };

typedef struct dist_case {
    const char *name;
    int kind;          /* 0 laplace, 1 gauss, 2 rr */
    sl_dp_mech nominal; /* the pmf tested against */
    sl_dp_mech sampler; /* what draws (nominal, or 30 % off) */
    rr_ctx rr_nom, rr_draw;
    int off;
} dist_case;

TEST(samplers_match_exact_distribution_and_reject_wrong_scale) {
    dist_case cs[8];
    memset(cs, 0, sizeof cs);
    int n = 0;
    /* discrete Laplace, scale 7/2, direct parameters; and 30 % larger */
    cs[n].name = "dlap_3.5";
    cs[n].nominal = (sl_dp_mech){.kind = SL_DP_LAPLACE, .t = 7, .s = 2};
    cs[n].sampler = cs[n].nominal;
    n++;
    cs[n] = cs[n - 1];
    cs[n].name = "dlap_3.5_off30";
    cs[n].sampler.t = 91;
    cs[n].sampler.s = 20;
    cs[n].off = 1;
    n++;
    /* through the mechanism: Laplace for epsilon 0.5, sensitivity 1 */
    cs[n].name = "mech_laplace_eps0.5";
    CHECK_OK(sl_dp_mech_laplace(&cs[n].nominal, 0.5, 1, 1.0));
    cs[n].sampler = cs[n].nominal;
    n++;
    /* discrete Gaussian sigma^2 = 2381/256 (~9.30); and sigma 30 % larger */
    cs[n].name = "dgauss_9.3";
    cs[n].kind = 1;
    cs[n].nominal = (sl_dp_mech){.kind = SL_DP_GAUSSIAN, .var_num = 2381, .var_den = 256};
    cs[n].sampler = cs[n].nominal;
    n++;
    cs[n] = cs[n - 1];
    cs[n].name = "dgauss_9.3_off30";
    cs[n].sampler.var_num = (uint64_t)llround(2381 * 1.69);
    cs[n].off = 1;
    n++;
    cs[n].name = "mech_gauss_eps1_d1e-5";
    cs[n].kind = 1;
    CHECK_OK(sl_dp_mech_gaussian(&cs[n].nominal, 1.0, 1e-5, 1, 1.0));
    cs[n].sampler = cs[n].nominal;
    n++;
    /* randomized response, k = 4, epsilon 1; and noise scale 1/eps 30 % larger */
    cs[n].name = "rr_k4_eps1";
    cs[n].kind = 2;
    cs[n].rr_nom = (rr_ctx){4, 0, 1.0};
    cs[n].rr_draw = cs[n].rr_nom;
    n++;
    cs[n] = cs[n - 1];
    cs[n].name = "rr_k4_eps1_off30";
    cs[n].rr_draw.eps = 1.0 / 1.3;
    cs[n].off = 1;
    n++;

    int64_t *x = malloc(NS * sizeof *x);
    cJSON *arr = cJSON_CreateArray();
    double c_p[8];
    for (int i = 0; i < n; i++) {
        dist_case *c = &cs[i];
        sl_dp_rng r;
        CHECK_OK(sl_dp_rng_init_seeded(&r, 1000 + (uint64_t)i));
        for (size_t j = 0; j < NS; j++)
            x[j] = c->kind == 2 ? (int64_t)sl_dp_randomized_response(&r, c->rr_draw.truth,
                                                                     c->rr_draw.k, c->rr_draw.eps)
                                : sl_dp_mech_noise(&c->sampler, &r);
        c_p[i] = c->kind == 2 ? chi2_p(x, NS, pmf_rr, &c->rr_nom, 0, c->rr_nom.k - 1)
                              : chi2_p(x, NS, pmf_mech, &c->nominal, -100000, 100000);
        printf("  C     %-22s chi2 p = %.3g (%s)\n", c->name, c_p[i],
               c->off ? "must reject" : "must accept");
        if (c->off)
            CHECK_MSG(c_p[i] < 1e-6, "%s: 30%% off sampler not rejected (p %g)", c->name, c_p[i]);
        else
            CHECK_MSG(c_p[i] > 1e-3, "%s: exact sampler rejected (p %g)", c->name, c_p[i]);
        char fn[64];
        snprintf(fn, sizeof fn, "dist_%d.i64", i);
        CHECK(write_i64(tpath(fn), x, NS));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c->name);
        cJSON_AddStringToObject(o, "file", tpath(fn));
        cJSON_AddNumberToObject(o, "n", NS);
        cJSON_AddNumberToObject(o, "jitter_seed", 7 + i);
        if (c->kind == 0) {
            cJSON_AddStringToObject(o, "kind", "laplace");
            cJSON_AddNumberToObject(o, "t", (double)c->nominal.t);
            cJSON_AddNumberToObject(o, "s", (double)c->nominal.s);
        } else if (c->kind == 1) {
            cJSON_AddStringToObject(o, "kind", "gauss");
            cJSON_AddNumberToObject(o, "num", (double)c->nominal.var_num);
            cJSON_AddNumberToObject(o, "den", (double)c->nominal.var_den);
        } else {
            cJSON_AddStringToObject(o, "kind", "rr");
            cJSON_AddNumberToObject(o, "k", c->rr_nom.k);
            cJSON_AddNumberToObject(o, "truth", c->rr_nom.truth);
            cJSON_AddNumberToObject(o, "eps", c->rr_nom.eps);
        }
        cJSON_AddItemToArray(arr, o);
    }
    free(x);
    char *txt = cJSON_Print(arr);
    cJSON_Delete(arr);
    CHECK(write_text(tpath("dist_in.json"), txt));
    free(txt);
    CHECK_MSG(run_py("dist", tpath("dist_in.json"), tpath("dist_out.json")) == 0,
              "privacy_check.py dist failed");
    cJSON *res = NULL;
    char *out = NULL;
    size_t len = 0;
    if (sl_read_file(tpath("dist_out.json"), &out, &len) == SL_OK) res = cJSON_Parse(out);
    free(out);
    CHECK(res != NULL);
    for (int i = 0; res && i < n; i++) {
        const cJSON *o = cJSON_GetObjectItem(res, cs[i].name);
        CHECK(o != NULL);
        if (!o) continue;
        double chi = cJSON_GetObjectItem(o, "chi2_p")->valuedouble;
        const cJSON *ks = cJSON_GetObjectItem(o, "ks_p");
        if (cs[i].off) {
            CHECK_MSG(chi < 1e-6, "%s: scipy chi2 did not reject (p %g)", cs[i].name, chi);
            if (cJSON_IsNumber(ks))
                CHECK_MSG(ks->valuedouble < 1e-6, "%s: KS did not reject (p %g)", cs[i].name,
                          ks->valuedouble);
        } else {
            CHECK_MSG(chi > 1e-3, "%s: scipy chi2 rejected (p %g)", cs[i].name, chi);
            if (cJSON_IsNumber(ks))
                CHECK_MSG(ks->valuedouble > 1e-3, "%s: KS rejected (p %g)", cs[i].name,
                          ks->valuedouble);
        }
    }
    cJSON_Delete(res);
}

TEST(bernoulli_exp_is_exact) {
    /* P(1) = exp(-num/den) for gamma below, at and above 1; z-score of 1e5 draws */
    const uint64_t g[][2] = {{3, 10}, {1, 1}, {5, 3}, {7, 2}, {0, 5}};
    sl_dp_rng r;
    CHECK_OK(sl_dp_rng_init_seeded(&r, 77));
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        size_t ones = 0;
        for (int j = 0; j < NS; j++) ones += (size_t)sl_dp_bernoulli_exp(&r, g[i][0], g[i][1]);
        double p = exp(-(double)g[i][0] / (double)g[i][1]);
        double sd = sqrt(NS * p * (1 - p));
        double z = sd > 0 ? ((double)ones - NS * p) / sd : (double)ones - NS * p;
        CHECK_MSG(fabs(z) < 4.5, "gamma %llu/%llu: %zu ones, expected %.1f (z %.2f)",
                  (unsigned long long)g[i][0], (unsigned long long)g[i][1], ones, NS * p, z);
    }
    /* Bernoulli(num/den) and uniform integers */
    size_t ones = 0;
    for (int j = 0; j < NS; j++) ones += (size_t)sl_dp_bernoulli(&r, 1, 3);
    CHECK(fabs((double)ones - NS / 3.0) < 4.5 * sqrt(NS * (2.0 / 9.0)));
    for (int j = 0; j < 1000; j++) CHECK(sl_dp_rng_below(&r, 7) < 7);
}

TEST(seeded_noise_is_reproducible_os_noise_is_not) {
    sl_dp_rng a, b, c;
    CHECK_OK(sl_dp_rng_init_seeded(&a, 5));
    CHECK_OK(sl_dp_rng_init_seeded(&b, 5));
    CHECK_OK(sl_dp_rng_init_os(&c));
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 2000; i++) {
        uint64_t x = sl_dp_rng_u64(&a), y = sl_dp_rng_u64(&b), z = sl_dp_rng_u64(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    CHECK(same_ab);
    CHECK(!same_ac);
}

/* --- Mironov (2012): the low bits of a floating-point Laplace give the input away --------- */

/* Is y an exact output of the naive sampler's noise (input 0)? Inverts the inverse CDF and
 * searches the neighbouring 53-bit uniforms for one that reproduces y bit for bit. */
static int naive_can_produce(double y, double scale) {
    if (y == 0) return 1;
    double au = -expm1(-fabs(y) / scale) / 2.0;
    double u = y < 0 ? -au : au;
    double kf = (u + 0.5) * 0x1p53;
    int64_t k0 = (int64_t)nearbyint(kf);
    for (int64_t d = -64; d <= 64; d++) {
        int64_t k = k0 + d;
        if (k <= 0 || k >= ((int64_t)1 << 53)) continue;
        double uu = (double)k * 0x1p-53 - 0.5;
        double nn = -scale * (uu < 0 ? -1.0 : 1.0) * log(1.0 - 2.0 * fabs(uu));
        if (nn == y) return 1;
    }
    return 0;
}

TEST(mironov_attack_breaks_naive_laplace_not_ours) {
    const int N = 20000;
    const double scale = 1.0; /* epsilon 1 for a sensitivity-1 query on inputs 0 and 1 */
    sl_dp_rng r;
    CHECK_OK(sl_dp_rng_init_seeded(&r, 2012));
    /* the attack says "input was 1" when the output cannot come from input 0 */
    int naive_fp = 0, naive_tp = 0;
    for (int i = 0; i < N; i++) {
        if (!naive_can_produce(sl_dp_naive_laplace(&r, 0.0, scale), scale)) naive_fp++;
        if (!naive_can_produce(sl_dp_naive_laplace(&r, 1.0, scale), scale)) naive_tp++;
    }
    /* against the exact grid mechanism: an output is consistent with input 0 iff it lies on
     * the grid (every grid point has positive probability under both inputs) */
    sl_dp_mech m;
    CHECK_OK(sl_dp_mech_laplace(&m, 1.0, sl_dp_value_sens(0.0, 1.0, 1.0 / 1024), 1.0 / 1024));
    int ours_fp = 0, ours_tp = 0;
    for (int i = 0; i < N; i++) {
        double y0 = sl_dp_mech_apply(&m, &r, 0.0), y1 = sl_dp_mech_apply(&m, &r, 1.0);
        if (y0 * 1024 != nearbyint(y0 * 1024)) ours_fp++;
        if (y1 * 1024 != nearbyint(y1 * 1024)) ours_tp++;
    }
    printf("  naive float Laplace: attack identifies input 1 in %.1f%% of releases, input 0 "
           "misread in %.2f%%\n", 100.0 * naive_tp / N, 100.0 * naive_fp / N);
    printf("  exact grid Laplace:  attack identifies input 1 in %.1f%%, misreads input 0 in "
           "%.2f%%\n", 100.0 * ours_tp / N, 100.0 * ours_fp / N);
    /* epsilon-DP allows TPR <= e^eps FPR: with FPR 0 any TPR > 0 breaks it */
    CHECK_MSG(naive_fp == 0, "the search must recognise every genuine output (%d missed)",
              naive_fp);
    CHECK_MSG(naive_tp > N / 10, "attack expected to succeed on the naive sampler (%d/%d)",
              naive_tp, N);
    CHECK(ours_fp == 0 && ours_tp == 0);
    /* and the exact mechanism's output distributions differ by at most e^eps per point */
    double worst = 0;
    for (int64_t z = -200; z <= 200; z++) {
        double p0 = sl_dp_mech_pmf(&m, z), p1 = sl_dp_mech_pmf(&m, z - 1024);
        if (p0 > 0 && p1 > 0) worst = fmax(worst, fabs(log(p0 / p1)));
    }
    CHECK_MSG(worst <= 1.0 + 1e-9, "privacy loss %g > epsilon 1", worst);
}

/* --- a synthetic table ------------------------------------------------------------------------ */

static const char *const CITIES[] = {"Berlin", "Paris", "Madrid", "Austin", "Boston", "Denver"};
static const char *const CITY_PARENT[] = {"EU", "EU", "EU", "US", "US", "US"};

static void make_table(const char *csv_path, const char *schema_path, size_t n, uint64_t seed,
                       int n_subjects) {
    sl_rng r;
    sl_rng_seed(&r, seed, 0);
    FILE *f = fopen(csv_path, "w");
    fprintf(f, "row_id,operator_id,user,site,age,shift_date,diagnosis,cycle_time\n");
    for (size_t i = 0; i < n; i++) {
        int c = (int)sl_rng_below(&r, 6);
        int age = 18 + (int)sl_rng_below(&r, 48);
        int day = (int)sl_rng_below(&r, 365);
        int y, m, d;
        int64_t z = 19723 + day; /* 2024-01-01 */
        /* civil from days (same algorithm as the library, kept local) */
        z += 719468;
        int64_t era = z / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        d = (int)(doy - (153 * mp + 2) / 5 + 1);
        m = (int)(mp < 10 ? mp + 3 : mp - 9);
        y = (int)(yoe + era * 400 + (m <= 2));
        fprintf(f, "%zu,op%zu,u%d,%s,%d,%04d-%02d-%02d,%c,%.3f\n", i, i,
                (int)(i % (size_t)n_subjects), CITIES[c], age, y, m, d,
                "abcde"[sl_rng_below(&r, 5)], sl_rng_uniform(&r) * 150.0);
    }
    fclose(f);
    write_text(schema_path,
               "{\"dataset\": \"ops\", \"columns\": ["
               "{\"name\": \"row_id\", \"role\": \"keep\"},"
               "{\"name\": \"operator_id\", \"role\": \"identifier\"},"
               "{\"name\": \"user\", \"role\": \"subject\"},"
               "{\"name\": \"site\", \"role\": \"quasi_identifier\", \"type\": \"category\","
               " \"hierarchy\": {\"EU\": [\"Berlin\", \"Paris\", \"Madrid\"],"
               "                 \"US\": [\"Austin\", \"Boston\", \"Denver\"]}},"
               "{\"name\": \"age\", \"role\": \"quasi_identifier\", \"type\": \"numeric\"},"
               "{\"name\": \"shift_date\", \"role\": \"quasi_identifier\", \"type\": \"date\"},"
               "{\"name\": \"diagnosis\", \"role\": \"sensitive\","
               " \"domain\": [\"a\", \"b\", \"c\", \"d\", \"e\"]},"
               "{\"name\": \"cycle_time\", \"role\": \"measurement\", \"clip\": [0, 120],"
               " \"grid\": 0.01}]}");
}

static sl_registry *open_reg(const char *name) {
    sl_registry *reg = NULL;
    sl_status s = sl_registry_open(tpath(name), &reg);
    if (s != SL_OK) printf("  open %s: %s\n", name, sl_last_error());
    return reg;
}

static int64_t q_int(sl_registry *reg, const char *sql) {
    sqlite3 *db = NULL;
    if (sqlite3_open(sl_registry_path(reg), &db) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void set_big_budgets(sl_registry *reg) {
    CHECK_OK(sl_budget_set(reg, "subject", "*", SL_PERIOD_MONTHLY, 1e6));
    CHECK_OK(sl_budget_set(reg, "dataset", "*", SL_PERIOD_MONTHLY, 1e6));
}

/* --- k-anonymity, checked in Python ----------------------------------------------------------- */

static cJSON *kanon_case(const char *orig, const char *rel, int k, int l) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "original", orig);
    cJSON_AddStringToObject(c, "released", rel);
    cJSON_AddStringToObject(c, "row_id", "row_id");
    cJSON_AddNumberToObject(c, "k", k);
    cJSON_AddNumberToObject(c, "l", l);
    cJSON *qi = cJSON_AddArrayToObject(c, "qi");
    cJSON *site = cJSON_CreateObject();
    cJSON_AddStringToObject(site, "name", "site");
    cJSON_AddStringToObject(site, "type", "category");
    cJSON *par = cJSON_AddObjectToObject(site, "parents");
    for (int i = 0; i < 6; i++) cJSON_AddStringToObject(par, CITIES[i], CITY_PARENT[i]);
    cJSON_AddStringToObject(par, "EU", "*");
    cJSON_AddStringToObject(par, "US", "*");
    cJSON_AddItemToArray(qi, site);
    cJSON *age = cJSON_CreateObject();
    cJSON_AddStringToObject(age, "name", "age");
    cJSON_AddStringToObject(age, "type", "numeric");
    cJSON_AddItemToArray(qi, age);
    cJSON *date = cJSON_CreateObject();
    cJSON_AddStringToObject(date, "name", "shift_date");
    cJSON_AddStringToObject(date, "type", "date");
    cJSON_AddItemToArray(qi, date);
    cJSON *sens = cJSON_AddArrayToObject(c, "sensitive");
    cJSON_AddItemToArray(sens, cJSON_CreateString("diagnosis"));
    cJSON *cp = cJSON_AddArrayToObject(c, "copied");
    cJSON_AddItemToArray(cp, cJSON_CreateString("diagnosis"));
    cJSON_AddItemToArray(cp, cJSON_CreateString("cycle_time"));
    return c;
}

TEST(kanon_classes_checked_in_python_and_mondrian_beats_full_domain) {
    const char *csv = tpath("k.csv"), *sch = tpath("k.json");
    make_table(csv, sch, 3000, 11, 300);
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    CHECK_OK(sl_priv_schema_load(sch, &s));
    CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
    if (!s || !t) return;
    sl_registry *reg = open_reg("k.db");
    set_big_budgets(reg);
    const int K[2] = {5, 20}, L[2] = {2, 3};
    cJSON *cases = cJSON_CreateArray();
    sl_release_result res[4];
    for (int i = 0; i < 2; i++) {
        sl_release_opts o;
        sl_release_opts_default(&o);
        o.k = (size_t)K[i];
        o.l = L[i];
        o.technique = SL_TECH_KANON;
        char name[64];
        snprintf(name, sizeof name, "mondrian_%d.csv", K[i]);
        CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath(name), &o, &res[2 * i]));
        cJSON_AddItemToArray(cases, kanon_case(csv, tpath(name), K[i], L[i]));
        o.technique = SL_TECH_GENERALIZE;
        o.max_suppress = 0.02;
        snprintf(name, sizeof name, "fulldomain_%d.csv", K[i]);
        CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath(name), &o, &res[2 * i + 1]));
        cJSON_AddItemToArray(cases, kanon_case(csv, tpath(name), K[i], L[i]));
    }
    char *txt = cJSON_Print(cases);
    cJSON_Delete(cases);
    CHECK(write_text(tpath("kanon_in.json"), txt));
    free(txt);
    CHECK_MSG(run_py("kanon", tpath("kanon_in.json"), tpath("kanon_out.json")) == 0,
              "privacy_check.py kanon failed");
    char *out = NULL;
    size_t len = 0;
    cJSON *py = NULL;
    if (sl_read_file(tpath("kanon_out.json"), &out, &len) == SL_OK) py = cJSON_Parse(out);
    free(out);
    CHECK(py && cJSON_GetArraySize(py) == 4);
    for (int i = 0; py && i < 4; i++) {
        const sl_kanon_report *k = &res[i].kanon;
        const cJSON *p = cJSON_GetArrayItem(py, i);
        printf("  %-11s k=%-2d l=%d: classes %4zu, min class %3zu, l %d, risk max %.4f mean "
               "%.4f, NCP %.4f, discernibility %.0f, suppressed %zu\n",
               i % 2 ? "full-domain" : "Mondrian", K[i / 2], L[i / 2], k->n_classes,
               k->min_class, k->min_distinct_sensitive, k->risk_max, k->risk_mean, k->ncp,
               k->discernibility, k->suppressed);
        CHECK(k->min_class >= (size_t)K[i / 2]);
        CHECK(k->min_distinct_sensitive >= L[i / 2]);
        CHECK_CLOSE(k->n_classes, cJSON_GetObjectItem(p, "classes")->valuedouble, 0);
        CHECK_CLOSE(k->min_class, cJSON_GetObjectItem(p, "min_class")->valuedouble, 0);
        CHECK_CLOSE(k->min_distinct_sensitive, cJSON_GetObjectItem(p, "min_l")->valuedouble, 0);
        CHECK_CLOSE(k->risk_max, cJSON_GetObjectItem(p, "risk_max")->valuedouble, 1e-12);
        CHECK_CLOSE(k->risk_mean, cJSON_GetObjectItem(p, "risk_mean")->valuedouble, 1e-12);
        CHECK_CLOSE(k->suppressed, cJSON_GetObjectItem(p, "suppressed")->valuedouble, 0);
        CHECK_CLOSE(k->ncp, cJSON_GetObjectItem(p, "ncp")->valuedouble, 1e-9);
        CHECK_CLOSE(k->discernibility, cJSON_GetObjectItem(p, "discernibility")->valuedouble,
                    1e-12);
    }
    /* Mondrian loses less information than the full-domain baseline at the same k, l */
    CHECK_MSG(res[0].kanon.ncp < res[1].kanon.ncp, "NCP Mondrian %g vs full-domain %g",
              res[0].kanon.ncp, res[1].kanon.ncp);
    CHECK_MSG(res[2].kanon.ncp < res[3].kanon.ncp, "NCP Mondrian %g vs full-domain %g",
              res[2].kanon.ncp, res[3].kanon.ncp);
    cJSON_Delete(py);
    sl_registry_close(reg);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
}

/* --- pseudonyms ----------------------------------------------------------------------------- */

TEST(pseudonyms_match_python_hmac_and_refuse_bad_keys) {
    const char *key_text = "correct horse battery staple 0123456789";
    CHECK(write_text(tpath("key"), "correct horse battery staple 0123456789\n"));
    sl_pseudo_key k;
    CHECK_OK(sl_pseudo_key_load(tpath("key"), &k));
    CHECK(k.len == strlen(key_text));
    const char *items[][2] = {{"user", "alice"}, {"user", "bob"}, {"operator_id", "alice"},
                              {"site", ""}, {"user", "ümlaut,\"q\""}};
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "key", key_text);
    cJSON *arr = cJSON_AddArrayToObject(in, "items");
    char ours[5][33];
    for (int i = 0; i < 5; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(items[i][0]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(items[i][1]));
        cJSON_AddItemToArray(arr, pair);
        sl_pseudonym(&k, items[i][0], items[i][1], ours[i]);
    }
    char *txt = cJSON_Print(in);
    cJSON_Delete(in);
    CHECK(write_text(tpath("hmac_in.json"), txt));
    free(txt);
    CHECK(run_py("hmac", tpath("hmac_in.json"), tpath("hmac_out.json")) == 0);
    char *out = NULL;
    size_t len = 0;
    cJSON *py = NULL;
    if (sl_read_file(tpath("hmac_out.json"), &out, &len) == SL_OK) py = cJSON_Parse(out);
    free(out);
    for (int i = 0; py && i < 5; i++)
        CHECK_MSG(strcmp(ours[i], cJSON_GetArrayItem(py, i)->valuestring) == 0, "%s vs %s",
                  ours[i], cJSON_GetArrayItem(py, i)->valuestring);
    cJSON_Delete(py);
    /* same value in different columns -> different pseudonyms (no cross-column linking) */
    CHECK(strcmp(ours[0], ours[2]) != 0);
    /* a pseudo release (prepared per-column HMAC states) gives the same pseudonyms */
    {
        const char *csv = tpath("ps.csv"), *sch = tpath("ps.json");
        make_table(csv, sch, 30, 2, 7);
        sl_registry *reg = open_reg("ps.db");
        sl_priv_schema *s = NULL;
        sl_priv_table *t = NULL, *rt = NULL;
        CHECK_OK(sl_priv_schema_load(sch, &s));
        CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
        sl_release_opts o;
        sl_release_opts_default(&o);
        o.technique = SL_TECH_PSEUDO;
        o.key = &k;
        sl_release_result res;
        if (reg && s && t) {
            CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("ps_out.csv"), &o, &res));
            CHECK_OK(sl_priv_table_read_csv(tpath("ps_out.csv"), NULL, &rt));
        }
        for (size_t r = 0; rt && r < rt->n_rows; r++) {
            char want[33];
            sl_pseudonym(&k, "operator_id", t->cell[1][r], want);
            CHECK(strcmp(rt->cell[1][r], want) == 0);
            sl_pseudonym(&k, "user", t->cell[2][r], want);
            CHECK(strcmp(rt->cell[2][r], want) == 0);
        }
        CHECK(rt && rt->n_rows == 30 && strcmp(rt->header[1], "operator_id") == 0);
        sl_priv_table_free(rt);
        sl_priv_table_free(t);
        sl_priv_schema_free(s);
        sl_registry_close(reg);
    }
    /* rotation: a new key gives unrelated pseudonyms */
    setenv(SL_PSEUDO_ENV, "another key of at least thirty-two bytes!", 1);
    sl_pseudo_key k2;
    CHECK_OK(sl_pseudo_key_load(NULL, &k2));
    char rot[33];
    sl_pseudonym(&k2, "user", "alice", rot);
    CHECK(strcmp(rot, ours[0]) != 0);
    /* missing and short keys are refused with the reason */
    unsetenv(SL_PSEUDO_ENV);
    sl_pseudo_key k3;
    CHECK_STATUS(sl_pseudo_key_load(NULL, &k3), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), SL_PSEUDO_ENV) != NULL);
    CHECK(write_text(tpath("short"), "tooshort\n"));
    CHECK_STATUS(sl_pseudo_key_load(tpath("short"), &k3), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "8 bytes") != NULL && strstr(sl_last_error(), "short") != NULL);
    setenv(SL_PSEUDO_ENV, "short", 1);
    CHECK_STATUS(sl_pseudo_key_load(NULL, &k3), SL_ERR_ARG);
    unsetenv(SL_PSEUDO_ENV);
    sl_pseudo_key_wipe(&k);
    sl_pseudo_key_wipe(&k2);
}

/* --- the ledger under concurrency --------------------------------------------------------- */

typedef struct charge_arg {
    const char *db, *subject;
    double cost;
    int attempts, ok, refused, errors;
} charge_arg;

static void *charge_thread(void *p) {
    charge_arg *a = p;
    sl_registry *reg = NULL;
    if (sl_registry_open(a->db, &reg) != SL_OK) {
        a->errors = a->attempts;
        return NULL;
    }
    sl_budget_defaults def = {1e6, SL_PERIOD_MONTHLY}; /* the subject's own row limits */
    const char *subj[1] = {a->subject};
    for (int i = 0; i < a->attempts; i++) {
        sl_ledger_release r = {0};
        r.now = (int64_t)time(NULL);
        r.actor = "test";
        r.technique = "dp";
        r.dataset = "concurrency";
        r.epsilon = a->cost;
        r.formal = 1;
        r.subjects = subj;
        r.n_subjects = 1;
        sl_status s = sl_ledger_record(reg, &r, &def, NULL);
        if (s == SL_OK)
            a->ok++;
        else if (s == SL_ERR_RANGE && strstr(sl_last_error(), "remaining"))
            a->refused++;
        else
            a->errors++;
    }
    sl_registry_close(reg);
    return NULL;
}

static void run_threads(const char *db, const char *subject, double cost, int nthreads,
                        int attempts, int *ok, int *refused, int *errors) {
    pthread_t th[16];
    charge_arg a[16];
    for (int i = 0; i < nthreads; i++) {
        a[i] = (charge_arg){db, subject, cost, attempts, 0, 0, 0};
        pthread_create(&th[i], NULL, charge_thread, &a[i]);
    }
    *ok = *refused = *errors = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        *ok += a[i].ok;
        *refused += a[i].refused;
        *errors += a[i].errors;
    }
}

TEST(ledger_threads_and_processes_never_overspend) {
    sl_registry *reg = open_reg("ledger.db");
    if (!reg) return;
    CHECK_OK(sl_budget_set(reg, "subject", "alice", SL_PERIOD_MONTHLY, 1.0));
    CHECK_OK(sl_budget_set(reg, "subject", "carol", SL_PERIOD_MONTHLY, 1.0));
    const char *db = sl_registry_path(reg);
    /* 8 threads x 4 attempts at 0.1 against 1.0: exactly 10 succeed */
    int ok, refused, errors;
    run_threads(db, "alice", 0.1, 8, 4, &ok, &refused, &errors);
    printf("  8 threads: %d charges of 0.1 admitted, %d refused, %d errors\n", ok, refused,
           errors);
    CHECK(ok == 10 && refused == 22 && errors == 0);
    int64_t nano = 0;
    CHECK_OK(sl_ledger_spent_nano(reg, "subject", "alice", &nano));
    CHECK(nano == 1000000000);
    /* 4 processes x 8 threads x 2 attempts at 0.3 against 1.0: exactly 3 succeed */
    pid_t pids[4];
    int pipes[4][2];
    for (int p = 0; p < 4; p++) {
        if (pipe(pipes[p]) != 0) return;
        pids[p] = fork();
        if (pids[p] == 0) {
            int o, r, e;
            run_threads(db, "carol", 0.3, 8, 2, &o, &r, &e);
            int msg[3] = {o, r, e};
            if (write(pipes[p][1], msg, sizeof msg) != sizeof msg) _exit(3);
            _exit(0);
        }
    }
    int tot[3] = {0, 0, 0};
    for (int p = 0; p < 4; p++) {
        int st = 0, msg[3] = {0, 0, 99};
        waitpid(pids[p], &st, 0);
        if (read(pipes[p][0], msg, sizeof msg) != sizeof msg) msg[2] = 99;
        close(pipes[p][0]);
        close(pipes[p][1]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        for (int i = 0; i < 3; i++) tot[i] += msg[i];
    }
    printf("  4 processes x 8 threads: %d charges of 0.3 admitted, %d refused, %d errors\n",
           tot[0], tot[1], tot[2]);
    CHECK(tot[0] == 3 && tot[1] == 61 && tot[2] == 0);
    CHECK_OK(sl_ledger_spent_nano(reg, "subject", "carol", &nano));
    CHECK(nano == 900000000);
    sl_registry_close(reg);
}

TEST(ledger_periods_and_remaining_in_message) {
    sl_registry *reg = open_reg("periods.db");
    if (!reg) return;
    CHECK_OK(sl_budget_set(reg, "subject", "dave", SL_PERIOD_DAILY, 0.5));
    CHECK_OK(sl_budget_set(reg, "subject", "dave", SL_PERIOD_MONTHLY, 1.0));
    sl_budget_defaults def = {1e6, SL_PERIOD_LIFETIME};
    const char *subj[1] = {"dave"};
    const int64_t T = 1800000000, DAY = 86400;
    const int64_t when[] = {T, T + 10, T + DAY + 1, T + 2 * DAY + 2, T + 3 * DAY + 3,
                            T + 31 * DAY + 4};
    const int want_ok[] = {1, 0, 1, 1, 0, 1};
    const char *why[] = {"", "daily", "", "", "monthly", ""};
    for (int i = 0; i < 6; i++) {
        sl_ledger_release r = {0};
        r.now = when[i];
        r.actor = "test";
        r.technique = "dp";
        r.dataset = "periods";
        r.epsilon = 0.3;
        r.formal = 1;
        r.subjects = subj;
        r.n_subjects = 1;
        sl_status s = sl_ledger_record(reg, &r, &def, NULL);
        CHECK_MSG((s == SL_OK) == want_ok[i], "charge %d: %s", i, sl_last_error());
        if (!want_ok[i]) {
            CHECK(s == SL_ERR_RANGE);
            CHECK_MSG(strstr(sl_last_error(), why[i]) && strstr(sl_last_error(), "remaining"),
                      "message: %s", sl_last_error());
        }
        if (i == 1) CHECK(strstr(sl_last_error(), "remaining 0.200000000") != NULL);
        if (i != 4) continue;
        char *js = NULL;
        CHECK_OK(sl_budget_show_json(reg, "subject", "dave", when[i], &def, &js));
        cJSON *j = cJSON_Parse(js);
        free(js);
        const cJSON *per = cJSON_GetObjectItem(j, "periods");
        const cJSON *daily = cJSON_GetArrayItem(per, 0), *monthly = cJSON_GetArrayItem(per, 2);
        CHECK_CLOSE(cJSON_GetObjectItem(daily, "spent")->valuedouble, 0.0, 1e-12);
        CHECK_CLOSE(cJSON_GetObjectItem(monthly, "spent")->valuedouble, 0.9, 1e-12);
        CHECK_CLOSE(cJSON_GetObjectItem(monthly, "remaining")->valuedouble, 0.1, 1e-12);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(per, 1), "limit")));
        cJSON_Delete(j);
    }
    sl_registry_close(reg);
}

/* --- kill -9 during releases ------------------------------------------------------------------- */

typedef struct kill_ctx {
    int fd;      /* pipe to tell the parent where we are (-1: no message) */
    int mode;    /* 0 random jitter, 1 stop after the charge, 2 stop before it */
    sl_rng rng;
} kill_ctx;

static void hook_before(void *p) {
    kill_ctx *k = p;
    if (k->mode == 2) {
        char c = 'b';
        if (write(k->fd, &c, 1) != 1) _exit(4);
        pause();
    }
    if (k->mode == 0) usleep((useconds_t)sl_rng_below(&k->rng, 3000));
}

static void hook_after(void *p) {
    kill_ctx *k = p;
    if (k->mode == 1) {
        char c = 'a';
        if (write(k->fd, &c, 1) != 1) _exit(4);
        pause();
    }
    if (k->mode == 0) usleep((useconds_t)sl_rng_below(&k->rng, 3000));
}

static void release_loop(const char *db, const char *csv, const char *sch, const char *dir,
                         int mode, int fd, uint64_t seed) {
    sl_registry *reg = NULL;
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    if (sl_registry_open(db, &reg) != SL_OK || sl_priv_schema_load(sch, &s) != SL_OK ||
        sl_priv_table_read_csv(csv, s, &t) != SL_OK)
        _exit(5);
    kill_ctx k = {fd, mode, {{0}, 0, 0}};
    sl_rng_seed(&k.rng, seed, 1);
    for (int i = 0;; i++) {
        sl_release_opts o;
        sl_release_opts_default(&o);
        o.technique = SL_TECH_DP;
        o.epsilon = 0.01;
        o.before_charge = hook_before;
        o.after_charge = hook_after;
        o.hook_ctx = &k;
        char out[2048];
        snprintf(out, sizeof out, "%s/rel_%llu_%d.csv", dir, (unsigned long long)seed, i);
        sl_release_result res;
        if (sl_privacy_release(reg, t, s, csv, out, &o, &res) != SL_OK) _exit(6);
    }
}

/* Every final file has its placed log row with the same hash and a charge; every log row is
 * placed with its file present. Returns the number of files. */
static int check_release_invariants(sl_registry *reg, const char *dir) {
    int files = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    sqlite3 *db = NULL;
    sqlite3_open(sl_registry_path(reg), &db);
    sqlite3_busy_timeout(db, 10000);
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "rel_", 4) != 0 || strstr(e->d_name, ".tmp.")) continue;
        files++;
        char path[2048], sha[65];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK_OK(sl_sha256_file(path, sha));
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(db,
                           "SELECT l.status, l.output_sha256, (SELECT count(*) FROM privacy_charges"
                           " c WHERE c.log_id = l.id) FROM anonymization_logs l WHERE"
                           " l.output_path = ?1", -1, &st, NULL);
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
        int found = sqlite3_step(st) == SQLITE_ROW;
        CHECK_MSG(found, "%s released without a log row / charge", e->d_name);
        if (found) {
            CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "placed") == 0);
            CHECK(strcmp((const char *)sqlite3_column_text(st, 1), sha) == 0);
            CHECK_MSG(sqlite3_column_int(st, 2) >= 2, "%s: no charges", e->d_name);
        }
        sqlite3_finalize(st);
    }
    if (d) closedir(d);
    /* no charge without its release */
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT output_path, status, output_sha256 FROM anonymization_logs"
                           " WHERE technique = 'dp'", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        char sha[65] = "";
        CHECK_MSG(strcmp(status, "placed") == 0, "%s left %s", p, status);
        CHECK_MSG(sl_sha256_file(p, sha) == SL_OK &&
                      strcmp(sha, (const char *)sqlite3_column_text(st, 2)) == 0,
                  "charged release %s missing or different", p);
    }
    sqlite3_finalize(st);
    CHECK(q_int(reg, "SELECT count(*) FROM privacy_charges WHERE log_id NOT IN"
                     " (SELECT id FROM anonymization_logs)") == 0);
    sqlite3_close(db);
    return files;
}

TEST(kill9_during_release_leaves_no_file_without_charge_nor_charge_without_file) {
    const char *csv = tpath("kill.csv"), *sch = tpath("kill.json");
    make_table(csv, sch, 60, 3, 6);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/killout", harness_tmpdir());
    mkdir(dir, 0755);
    sl_registry *reg = open_reg("kill.db");
    if (!reg) return;
    set_big_budgets(reg);
    const char *db = sl_registry_path(reg);
    sl_rng r;
    sl_rng_seed(&r, 99, 0);
    int completed_total = 0;
    /* modes: 1 = killed after the commit, before the rename; 2 = before the charge; then
     * random kills */
    for (int round = 0; round < 14; round++) {
        int mode = round == 0 ? 1 : round == 1 ? 2 : 0;
        int fds[2];
        if (pipe(fds) != 0) return;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            release_loop(db, csv, sch, dir, mode, fds[1], (uint64_t)round);
            _exit(0);
        }
        close(fds[1]);
        if (mode) {
            char c = 0;
            CHECK(read(fds[0], &c, 1) == 1 && c == (mode == 1 ? 'a' : 'b'));
        } else {
            usleep((useconds_t)(20000 + sl_rng_below(&r, 120000)));
        }
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        close(fds[0]);
        CHECK(WIFSIGNALED(st));
        int64_t pending = q_int(reg, "SELECT count(*) FROM anonymization_logs WHERE status="
                                     "'pending'");
        if (mode == 1) CHECK(pending == 1);
        if (mode == 2) CHECK(pending == 0);
        int done = 0;
        CHECK_OK(sl_privacy_recover(reg, &done));
        if (mode == 1) CHECK(done == 1);
        completed_total += done;
        check_release_invariants(reg, dir);
    }
    int files = check_release_invariants(reg, dir);
    printf("  14 kills: %d releases on disk, each charged; %d completed by recovery after a "
           "kill between commit and rename\n", files, completed_total);
    CHECK(files >= 1); /* round 0 guarantees one (completed by recovery); the rest depend on timing */
    sl_registry_close(reg);
}

/* --- bad input: clear errors, nothing written, nothing charged -------------------------------- */

static int count_files(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

TEST(bad_input_is_named_and_nothing_is_written_or_charged) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bad", harness_tmpdir());
    mkdir(dir, 0755);
    char csv[1100], sch[1100], out[1100];
    snprintf(csv, sizeof csv, "%s/d.csv", dir);
    snprintf(sch, sizeof sch, "%s/s.json", dir);
    snprintf(out, sizeof out, "%s/out.csv", dir);
    make_table(csv, sch, 50, 5, 5);
    sl_registry *reg = open_reg("bad.db");
    if (!reg) return;
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    /* schema naming a missing column */
    char p1[1100];
    snprintf(p1, sizeof p1, "%s/missing.json", dir);
    write_text(p1, "{\"columns\": [{\"name\": \"age\", \"role\": \"quasi_identifier\","
                   " \"type\": \"numeric\"}, {\"name\": \"weight\", \"role\": \"measurement\","
                   " \"clip\": [0, 200]}]}");
    CHECK_OK(sl_priv_schema_load(p1, &s));
    CHECK_STATUS(sl_priv_table_read_csv(csv, s, &t), SL_ERR_NOTFOUND);
    CHECK_MSG(strstr(sl_last_error(), "missing.json: columns[1]") &&
                  strstr(sl_last_error(), "'weight'") && strstr(sl_last_error(), "d.csv"),
              "%s", sl_last_error());
    sl_priv_schema_free(s);
    s = NULL;
    /* reversed clipping bounds */
    snprintf(p1, sizeof p1, "%s/reversed.json", dir);
    write_text(p1, "{\"columns\": [{\"name\": \"cycle_time\", \"role\": \"measurement\","
                   " \"clip\": [120, 0]}]}");
    CHECK_STATUS(sl_priv_schema_load(p1, &s), SL_ERR_ARG);
    CHECK_MSG(strstr(sl_last_error(), "reversed.json: columns[0].clip") &&
                  strstr(sl_last_error(), "reversed"), "%s", sl_last_error());
    CHECK(s == NULL);
    /* NaN in a measurement */
    char p2[1100];
    snprintf(p2, sizeof p2, "%s/nan.csv", dir);
    write_text(p2, "row_id,operator_id,user,site,age,shift_date,diagnosis,cycle_time\n"
                   "0,op0,u0,Berlin,30,2024-01-02,a,12.5\n"
                   "1,op1,u1,Paris,40,2024-02-03,b,nan\n");
    CHECK_OK(sl_priv_schema_load(sch, &s));
    CHECK_STATUS(sl_priv_table_read_csv(p2, s, &t), SL_ERR_NAN);
    CHECK_MSG(strstr(sl_last_error(), "nan.csv: row 2 (line 3), column 'cycle_time'"), "%s",
              sl_last_error());
    /* k larger than the table; epsilon <= 0; a missing key: through the release */
    CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
    sl_release_opts o;
    sl_release_result res;
    sl_release_opts_default(&o);
    o.technique = SL_TECH_KANON;
    o.k = 51;
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, out, &o, &res), SL_ERR_RANGE);
    CHECK_MSG(strstr(sl_last_error(), "k = 51") && strstr(sl_last_error(), "d.csv (50 rows)"),
              "%s", sl_last_error());
    o.technique = SL_TECH_DP;
    double bad_eps[3] = {0.0, -1.0, NAN};
    for (int i = 0; i < 3; i++) {
        o.epsilon = bad_eps[i];
        CHECK_STATUS(sl_privacy_release(reg, t, s, csv, out, &o, &res), SL_ERR_ARG);
        CHECK_MSG(strstr(sl_last_error(), "epsilon"), "%s", sl_last_error());
    }
    o.technique = SL_TECH_PSEUDO;
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, out, &o, &res), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "no key") != NULL);
    /* nothing written: the directory holds only the inputs; nothing charged */
    CHECK(!file_exists(out));
    CHECK(count_files(dir) == 5); /* d.csv s.json missing.json reversed.json nan.csv */
    CHECK(q_int(reg, "SELECT count(*) FROM anonymization_logs") == 0);
    CHECK(q_int(reg, "SELECT count(*) FROM privacy_charges") == 0);
    /* over budget: refused, no file, no charge */
    o.technique = SL_TECH_DP;
    o.epsilon = 1.5;
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, out, &o, &res), SL_ERR_RANGE);
    CHECK(strstr(sl_last_error(), "remaining 1.000000000") != NULL);
    CHECK(!file_exists(out));
    CHECK(q_int(reg, "SELECT count(*) FROM privacy_charges") == 0);
    CHECK(count_files(dir) == 5);
    /* and through the command: exit 1, the message on stderr, nothing written */
    char cmd[16384];
    const char *bin = getenv("SL_BIN");
    snprintf(cmd, sizeof cmd,
             "%s anonymize --db %s --schema %s --input %s/nan.csv --output %s --technique dp "
             "--epsilon 0.5 2>%s/../bad_err.txt",
             bin, sl_registry_path(reg), sch, dir, out, dir);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    char *err = NULL;
    size_t len = 0;
    char ep[1100];
    snprintf(ep, sizeof ep, "%s/../bad_err.txt", dir);
    if (sl_read_file(ep, &err, &len) == SL_OK) {
        CHECK_MSG(strstr(err, "nan.csv: row 2 (line 3), column 'cycle_time'"), "%s", err);
        free(err);
    }
    snprintf(cmd, sizeof cmd,
             "env -u ANONYMIZATION_SALT %s anonymize --db %s --schema %s --input %s --output %s "
             "--technique pseudo 2>%s/../bad_err.txt", bin, sl_registry_path(reg), sch, csv, out,
             dir);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    if (sl_read_file(ep, &err, &len) == SL_OK) {
        CHECK_MSG(strstr(err, "no key"), "%s", err);
        free(err);
    }
    CHECK(!file_exists(out));
    CHECK(count_files(dir) == 5);
    CHECK(q_int(reg, "SELECT count(*) FROM privacy_charges") == 0);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    sl_registry_close(reg);
}

/* --- releases: contents, determinism, retention, commands ------------------------------------ */

TEST(dp_release_clips_noises_and_is_reproducible_when_seeded) {
    const char *csv = tpath("dp.csv"), *sch = tpath("dp.json");
    make_table(csv, sch, 400, 8, 20);
    sl_registry *reg = open_reg("dp.db");
    if (!reg) return;
    set_big_budgets(reg);
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    CHECK_OK(sl_priv_schema_load(sch, &s));
    CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
    if (!s || !t) return;
    sl_release_opts o;
    sl_release_opts_default(&o);
    o.epsilon = 1.0;
    o.seeded = 1;
    o.seed = 42;
    sl_release_result a, b, c;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("dp_a.csv"), &o, &a));
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("dp_b.csv"), &o, &b));
    o.seeded = 0;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("dp_c.csv"), &o, &c));
    CHECK(strcmp(a.out_sha256, b.out_sha256) == 0);
    CHECK(strcmp(a.out_sha256, c.out_sha256) != 0);
    CHECK(a.formal == 1 && a.n_subjects == 20 && a.n_rows_out == 400);
    CHECK_CLOSE(a.epsilon_charged, 1.0, 0);
    /* group privacy: 20 records per subject -> 20 x epsilon per subject and release */
    CHECK_CLOSE(a.max_subject_epsilon, 20.0, 0);
    int64_t nano = 0;
    CHECK_OK(sl_ledger_spent_nano(reg, "subject", "u3", &nano));
    CHECK(nano == 3 * 20 * (int64_t)1000000000);
    CHECK_OK(sl_ledger_spent_nano(reg, "dataset", "ops", &nano));
    CHECK(nano == 3 * (int64_t)1000000000);
    /* output: the keep column, the randomized sensitive column and the noised measurement on
     * the 0.01 grid; identifiers, subject and quasi-identifiers dropped (no key given) */
    sl_priv_table *rt = NULL;
    CHECK_OK(sl_priv_table_read_csv(tpath("dp_a.csv"), NULL, &rt));
    if (rt) {
        CHECK(rt->n_cols == 3 && strcmp(rt->header[0], "row_id") == 0 &&
              strcmp(rt->header[1], "diagnosis") == 0 && strcmp(rt->header[2], "cycle_time") == 0);
        double mean = 0;
        for (size_t i = 0; rt->n_cols == 3 && i < rt->n_rows; i++) {
            double v = strtod(rt->cell[2][i], NULL);
            CHECK(fabs(v * 100 - nearbyint(v * 100)) < 1e-6);
            mean += v / (double)rt->n_rows;
        }
        /* the clipped mean of U(0,150) clipped at 120 is 72; noise scale 120/0.5 = 240 per
         * value: the mean of 400 has sd 240*sqrt(2)/20 ~ 17 */
        CHECK_MSG(fabs(mean - 72.0) < 5 * 17.0, "mean %g", mean);
    }
    sl_priv_table_free(rt);
    /* Gaussian: rho recorded; ledger keeps formal flag */
    o.delta = 1e-6;
    sl_release_result g;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("dp_g.csv"), &o, &g));
    CHECK(q_int(reg, "SELECT count(*) FROM anonymization_logs WHERE rho > 0 AND formal = 1") == 1);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    sl_registry_close(reg);
}

TEST(retention_deletes_expired_pool_files_and_logs_them) {
    const char *csv = tpath("ret.csv"), *sch = tpath("ret.json");
    make_table(csv, sch, 40, 9, 4);
    sl_registry *reg = open_reg("ret.db");
    if (!reg) return;
    set_big_budgets(reg);
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    CHECK_OK(sl_priv_schema_load(sch, &s));
    CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
    if (!s || !t) return;
    sl_release_opts o;
    sl_release_opts_default(&o);
    o.technique = SL_TECH_KANON;
    o.k = 4;
    const int64_t T = 1800000000;
    o.now = T;
    sl_release_result r;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("ret_out.csv"), &o, &r));
    o.pool_days = 10;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("ret_short.csv"), &o, &r));
    size_t n = 0;
    CHECK_OK(sl_privacy_retention(reg, T + 9 * 86400, 0, "test", &n));
    CHECK(n == 0);
    CHECK_OK(sl_privacy_retention(reg, T + 10 * 86400, 1, "test", &n));
    CHECK(n == 1 && file_exists(tpath("ret_short.csv")));
    CHECK_OK(sl_privacy_retention(reg, T + 10 * 86400, 0, "test", &n));
    CHECK(n == 1 && !file_exists(tpath("ret_short.csv")) && file_exists(tpath("ret_out.csv")));
    CHECK_OK(sl_privacy_retention(reg, T + 90 * 86400, 0, "test", &n));
    CHECK(n == 1 && !file_exists(tpath("ret_out.csv")));
    CHECK(q_int(reg, "SELECT count(*) FROM anonymization_logs WHERE technique='retention'") == 2);
    CHECK(q_int(reg, "SELECT count(*) FROM training_data_pool WHERE deleted_unix IS NULL") == 0);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    sl_registry_close(reg);
}

TEST(commands_help_usage_and_a_release) {
    const char *bin = getenv("SL_BIN");
    if (!bin) {
        CHECK_MSG(0, "SL_BIN not set");
        return;
    }
    char cmd[16384];
    const char *names[3] = {"anonymize", "budget", "retention"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s %s --help >/dev/null", bin, names[i]);
        int rc = system(cmd);
        CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
        snprintf(cmd, sizeof cmd, "%s %s --bogus 2>/dev/null >/dev/null", bin, names[i]);
        rc = system(cmd);
        CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    }
    const char *csv = tpath("cli.csv"), *sch = tpath("cli.json");
    make_table(csv, sch, 200, 4, 10);
    snprintf(cmd, sizeof cmd,
             "cd %s && %s anonymize --db cli.db --schema cli.json --input cli.csv --output "
             "cli_k.csv --technique kanon --k 5 --l 2 --json > cli_out.json && %s budget show "
             "--db cli.db --subject u1 --json > cli_budget.json && %s retention --db cli.db "
             "--dry-run >/dev/null",
             harness_tmpdir(), bin, bin, bin);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    char *txt = NULL;
    size_t len = 0;
    if (sl_read_file(tpath("cli_budget.json"), &txt, &len) == SL_OK) {
        cJSON *j = cJSON_Parse(txt);
        const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "periods"), 2);
        CHECK(m && fabs(cJSON_GetObjectItem(m, "spent")->valuedouble - 0.3) < 1e-12);
        CHECK(m && fabs(cJSON_GetObjectItem(m, "formal_spent")->valuedouble) == 0);
        cJSON_Delete(j);
        free(txt);
    }
    /* over budget through the command: exit 1 and the remaining budget */
    snprintf(cmd, sizeof cmd,
             "cd %s && MAX_PRIVACY_EPSILON=0.5 %s anonymize --db cli.db --schema cli.json "
             "--input cli.csv --output cli_k2.csv --technique kanon --k 5 2> cli_err.txt",
             harness_tmpdir(), bin);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    CHECK(!file_exists(tpath("cli_k2.csv")));
    if (sl_read_file(tpath("cli_err.txt"), &txt, &len) == SL_OK) {
        CHECK_MSG(strstr(txt, "remaining 0.200000000"), "%s", txt);
        free(txt);
    }
}

/* --- central-DP aggregates ----------------------------------------------------------------- */

/* value of the output row (query, bin) of an aggregate CSV; NAN if absent */
static double agg_value(const sl_priv_table *rt, const char *query, const char *bin) {
    for (size_t i = 0; rt && i < rt->n_rows; i++)
        if (strcmp(rt->cell[0][i], query) == 0 && (!bin || strcmp(rt->cell[2][i], bin) == 0))
            return strtod(rt->cell[3][i], NULL);
    return NAN;
}

TEST(aggregates_bound_contributions_and_charge_each_subject_once) {
    const char *csv = tpath("agg.csv"), *sch = tpath("agg.json");
    make_table(csv, sch, 400, 12, 20); /* 20 subjects x 20 rows */
    sl_registry *reg = open_reg("agg.db");
    if (!reg) return;
    set_big_budgets(reg);
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    CHECK_OK(sl_priv_schema_load(sch, &s));
    CHECK_OK(sl_priv_table_read_csv(csv, s, &t));
    if (!s || !t) return;
    /* exact references: each subject's first c rows */
    int cm = t->col_of_spec[7], cu = t->col_of_spec[2], cd = t->col_of_spec[6];
    double exact_sum = 0;
    int seen[20] = {0}, diag[5] = {0};
    for (size_t r = 0; r < t->n_rows; r++) {
        int u = atoi(t->cell[cu][r] + 1);
        if (seen[u]++) continue;
        double x = fmin(fmax(t->num[cm][r], 0.0), 120.0);
        exact_sum += nearbyint(x / 0.01) * 0.01;
        diag[t->cell[cd][r][0] - 'a']++;
    }
    sl_release_opts o;
    sl_release_opts_default(&o);
    o.technique = SL_TECH_AGGREGATE;
    o.epsilon = 1e5; /* noise of a few grid units at most: the values are checked exactly */
    o.seeded = 1;
    sl_release_result res;
    sl_priv_table *rt = NULL;
    /* count, c = 2 -> 40 */
    o.query = SL_AGG_COUNT;
    o.max_rows_per_subject = 2;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("agg_count.csv"), &o, &res));
    CHECK_OK(sl_priv_table_read_csv(tpath("agg_count.csv"), NULL, &rt));
    CHECK_CLOSE(agg_value(rt, "count", NULL), 40.0, 0);
    sl_priv_table_free(rt);
    rt = NULL;
    /* sum and mean of the first row per subject, on the 0.01 grid */
    o.query = SL_AGG_MEAN;
    o.column = "cycle_time";
    o.max_rows_per_subject = 1;
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("agg_mean.csv"), &o, &res));
    CHECK_OK(sl_priv_table_read_csv(tpath("agg_mean.csv"), NULL, &rt));
    double sum = agg_value(rt, "sum", NULL), cnt = agg_value(rt, "count", NULL);
    CHECK_MSG(fabs(sum - exact_sum) <= 0.0300001, "sum %.4f vs %.4f", sum, exact_sum);
    CHECK_CLOSE(cnt, 20.0, 0);
    CHECK_CLOSE(agg_value(rt, "mean", NULL), sum / cnt, 1e-12);
    sl_priv_table_free(rt);
    rt = NULL;
    /* histogram over the public domain a..e and over the hierarchy's 6 leaves */
    o.query = SL_AGG_HISTOGRAM;
    o.column = "diagnosis";
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("agg_hist.csv"), &o, &res));
    CHECK(res.n_rows_out == 5);
    CHECK_OK(sl_priv_table_read_csv(tpath("agg_hist.csv"), NULL, &rt));
    const char *bins[5] = {"a", "b", "c", "d", "e"};
    for (int b = 0; b < 5; b++) CHECK_CLOSE(agg_value(rt, "histogram", bins[b]), diag[b], 0);
    sl_priv_table_free(rt);
    rt = NULL;
    o.column = "site";
    CHECK_OK(sl_privacy_release(reg, t, s, csv, tpath("agg_site.csv"), &o, &res));
    CHECK(res.n_rows_out == 6);
    /* ledger: each subject charged epsilon once per release, not per row */
    int64_t nano = 0;
    CHECK_OK(sl_ledger_spent_nano(reg, "subject", "u7", &nano));
    CHECK(nano == 4 * (int64_t)100000 * (int64_t)1000000000);
    CHECK(res.formal == 1 && res.n_subjects == 20);
    /* bad queries: named, nothing written, nothing charged */
    int64_t before = q_int(reg, "SELECT count(*) FROM privacy_charges");
    o.column = "cycle_time";
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, tpath("agg_bad.csv"), &o, &res), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "public domain") != NULL);
    o.query = SL_AGG_SUM;
    o.column = "site";
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, tpath("agg_bad.csv"), &o, &res), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "measurement") != NULL);
    o.column = "weight";
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, tpath("agg_bad.csv"), &o, &res),
                 SL_ERR_NOTFOUND);
    o.column = "cycle_time";
    o.epsilon = 0;
    CHECK_STATUS(sl_privacy_release(reg, t, s, csv, tpath("agg_bad.csv"), &o, &res), SL_ERR_ARG);
    CHECK(!file_exists(tpath("agg_bad.csv")));
    CHECK(q_int(reg, "SELECT count(*) FROM privacy_charges") == before);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    sl_registry_close(reg);
}

/* --- schema and CSV parsing: what parses, and what each error names ----------------------- */

TEST(schema_and_csv_parse_and_name_their_errors) {
    const char *good = "{\"columns\": [{\"name\": \"id\", \"role\": \"identifier\"},"
                       " {\"name\": \"x\", \"role\": \"measurement\", \"clip\": [0, 10]},"
                       " {\"name\": \"c\", \"role\": \"quasi_identifier\","
                       "  \"hierarchy\": {\"A\": [\"a1\", \"a2\"], \"B\": {\"B1\": [\"b\"]}}}]}";
    sl_priv_schema *s = NULL;
    CHECK_OK(sl_priv_schema_parse(good, strlen(good), "dir/ops.v2.json", &s));
    if (!s) return;
    CHECK(strcmp(s->dataset, "ops") == 0); /* the file name up to the first dot */
    CHECK(s->cols[1].type == SL_TYPE_NUMERIC && s->cols[2].type == SL_TYPE_CATEGORY);
    CHECK_CLOSE(s->cols[1].grid, 10.0 / 1048576.0, 1e-15);
    const sl_hier *h = s->cols[2].hier;
    CHECK(h && h->n == 7 && h->height == 3); /* *, A, a1, a2, B, B1, b */
    /* CSV: quotes, escaped quotes, a comma and a newline inside quotes, CRLF, blank lines */
    const char *csv = "id,x,c,extra\r\n\"p,1\",1.5,a1,\"say \"\"hi\"\"\"\r\n\r\n"
                      "p2,2,\"b\",\"two\nlines\"\nlast,3e0,a2,\n";
    sl_priv_table *t = NULL;
    CHECK_OK(sl_priv_table_parse_csv(csv, strlen(csv), "t.csv", s, &t));
    if (t) {
        CHECK(t->n_rows == 3 && t->n_cols == 4);
        CHECK(strcmp(t->cell[0][0], "p,1") == 0);
        CHECK(strcmp(t->cell[3][0], "say \"hi\"") == 0);
        CHECK(strcmp(t->cell[3][1], "two\nlines") == 0);
        CHECK(strcmp(t->cell[3][2], "") == 0);
        CHECK(t->num[1][2] == 3.0 && t->spec[3] == -1);
        CHECK(t->row_line[0] == 2 && t->row_line[1] == 4 && t->row_line[2] == 6);
    }
    sl_priv_table_free(t);
    /* CSV errors: file, line and what */
    struct {
        const char *text, *want;
        sl_status st;
    } bad[] = {
        {"id,x,c\n1,2\n", "t.csv: line 2: 2 fields, the header has 3", SL_ERR_FORMAT},
        {"id,x,c\n1,\"2,a1\n", "t.csv: line 2: unterminated quoted field", SL_ERR_FORMAT},
        {"id,x,c\n1,2\"x,a1\n", "t.csv: line 2: quote inside an unquoted field", SL_ERR_FORMAT},
        {"id,x,c\n1,abc,a1\n", "t.csv: row 1 (line 2), column 'x': 'abc' is not a number",
         SL_ERR_FORMAT},
        {"id,x,c\n1,inf,a1\n", "column 'x': 'inf' is not finite", SL_ERR_NAN},
        {"id,x,c\n1,2,zz\n", "value 'zz' is not in the hierarchy", SL_ERR_FORMAT},
        {"id,x,x\n1,2,3\n", "t.csv: line 1: column name 'x' twice", SL_ERR_FORMAT},
        {"id,x,c\n", "t.csv: no data rows", SL_ERR_FORMAT},
        {"", "t.csv: empty file", SL_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = NULL;
        CHECK_STATUS(sl_priv_table_parse_csv(bad[i].text, strlen(bad[i].text), "t.csv", s, &t),
                     bad[i].st);
        CHECK_MSG(strstr(sl_last_error(), bad[i].want), "case %zu: %s", i, sl_last_error());
        CHECK(t == NULL);
    }
    sl_priv_schema_free(s);
    /* schema errors: the place in the file */
    struct {
        const char *text, *want;
    } sbad[] = {
        {"[]", "S.json: the schema must be a JSON object"},
        {"{\"columns\": []}", "S.json: \"columns\" must be a non-empty array"},
        {"{\"columns\": [{\"role\": \"keep\"}]}", "S.json: columns[0].name: missing"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"boss\"}]}", "S.json: columns[0].role"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"keep\"}, {\"name\": \"a\", \"role\": "
         "\"keep\"}]}", "columns[1].name: 'a' already named by columns[0]"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"subject\"}, {\"name\": \"b\", \"role\": "
         "\"subject\"}]}", "columns[1].role: only one subject column"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"measurement\"}]}",
         "columns[0].clip: a measurement needs clipping bounds"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"measurement\", \"clip\": [0, 1],"
         " \"grid\": 0}]}", "columns[0].grid: must be a number > 0"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"quasi_identifier\", \"hierarchy\":"
         " {\"A\": [\"x\"], \"B\": [\"x\"]}}]}", "columns[0].hierarchy: hierarchy value 'x' appears twice"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"sensitive\", \"domain\": [\"x\"]}]}",
         "columns[0].domain: must list at least two categories"},
        {"{\"columns\": [{\"name\": \"a\", \"role\": \"keep\"}", "S.json: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof sbad / sizeof sbad[0]; i++) {
        s = NULL;
        CHECK(sl_priv_schema_parse(sbad[i].text, strlen(sbad[i].text), "S.json", &s) != SL_OK);
        CHECK_MSG(strstr(sl_last_error(), sbad[i].want), "case %zu: %s", i, sl_last_error());
        CHECK(s == NULL);
    }
}

TEST(budget_command_sets_shows_and_lists) {
    const char *bin = getenv("SL_BIN");
    if (!bin) return;
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "cd %s && %s budget set --db bcmd.db --subject '*' --period daily --epsilon 0.4 "
             ">/dev/null && %s budget set --db bcmd.db --subject '*' --period weekly --epsilon 2 "
             "--quiet && %s budget show --db bcmd.db --subject anyone --json > bcmd.json && "
             "%s budget set --db bcmd.db --subject '*' --period daily --clear >/dev/null && "
             "%s budget history --db bcmd.db --subject anyone --json > bhist.json",
             harness_tmpdir(), bin, bin, bin, bin, bin);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    char *txt = NULL;
    size_t len = 0;
    if (sl_read_file(tpath("bcmd.json"), &txt, &len) == SL_OK) {
        cJSON *j = cJSON_Parse(txt);
        const cJSON *p = cJSON_GetObjectItem(j, "periods");
        CHECK_CLOSE(cJSON_GetObjectItem(cJSON_GetArrayItem(p, 0), "limit")->valuedouble, 0.4, 0);
        CHECK_CLOSE(cJSON_GetObjectItem(cJSON_GetArrayItem(p, 1), "limit")->valuedouble, 2.0, 0);
        CHECK_CLOSE(cJSON_GetObjectItem(cJSON_GetArrayItem(p, 2), "limit")->valuedouble, 1.0, 0);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(p, 3), "limit")));
        cJSON_Delete(j);
        free(txt);
    }
    if (sl_read_file(tpath("bhist.json"), &txt, &len) == SL_OK) {
        CHECK(strcmp(txt, "[]\n") == 0);
        free(txt);
    }
    /* usage errors exit 2 */
    const char *bad[] = {"budget", "budget frob --subject a", "budget show",
                         "budget show --subject a --dataset b", "budget set --subject a",
                         "budget set --subject a --period yearly --epsilon 1",
                         "budget set --subject a --period daily"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "cd %s && %s %s --db bcmd.db 2>/dev/null >/dev/null",
                 harness_tmpdir(), bin, bad[i]);
        rc = system(cmd);
        CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "'%s' exit %d", bad[i], WEXITSTATUS(rc));
    }
}

int main(void) {
    RUN(samplers_match_exact_distribution_and_reject_wrong_scale);
    RUN(bernoulli_exp_is_exact);
    RUN(seeded_noise_is_reproducible_os_noise_is_not);
    RUN(mironov_attack_breaks_naive_laplace_not_ours);
    RUN(kanon_classes_checked_in_python_and_mondrian_beats_full_domain);
    RUN(pseudonyms_match_python_hmac_and_refuse_bad_keys);
    RUN(ledger_threads_and_processes_never_overspend);
    RUN(ledger_periods_and_remaining_in_message);
    RUN(kill9_during_release_leaves_no_file_without_charge_nor_charge_without_file);
    RUN(bad_input_is_named_and_nothing_is_written_or_charged);
    RUN(dp_release_clips_noises_and_is_reproducible_when_seeded);
    RUN(retention_deletes_expired_pool_files_and_logs_them);
    RUN(commands_help_usage_and_a_release);
    RUN(aggregates_bound_contributions_and_charge_each_subject_once);
    RUN(schema_and_csv_parse_and_name_their_errors);
    RUN(budget_command_sets_shows_and_lists);
    return harness_done();
}
