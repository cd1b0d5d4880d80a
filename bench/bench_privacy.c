/* SPDX-License-Identifier: Apache-2.0 */
/* bench_privacy.c - records per second of each privacy technique on a 10^6-row table
 * (BENCH_PRIVACY_ROWS overrides), end to end through sl_privacy_release: the output built in
 * memory, the temp file written and fsynced, one charge per subject (10^4 subjects) checked
 * against every period and committed, the rename. Also the CSV read and the raw exact
 * samplers (draws per second).
 * There is no PyTorch counterpart (no DP / k-anonymity in PyTorch to compare with).
 * Invariant: nothing is asserted on wall time; a failing release fails the bench.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synthloop/sl_privacy.h"
#include "synthloop/sl_registry.h"

static const char *const CITIES[] = {"Berlin", "Paris", "Madrid", "Austin", "Boston", "Denver"};

static char *make_csv(size_t n, size_t *len) {
    size_t cap = n * 80 + 256, off = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    off += (size_t)snprintf(b, cap, "row_id,operator_id,user,site,age,shift_date,diagnosis,"
                                    "cycle_time\n");
    for (size_t i = 0; i < n; i++) {
        int m = 1 + (int)sl_rng_below(&r, 12), d = 1 + (int)sl_rng_below(&r, 28);
        off += (size_t)snprintf(b + off, cap - off, "%zu,op%zu,u%zu,%s,%d,2024-%02d-%02d,%c,%.3f\n",
                                i, i, i % 10000, CITIES[sl_rng_below(&r, 6)],
                                18 + (int)sl_rng_below(&r, 48), m, d,
                                "abcde"[sl_rng_below(&r, 5)], sl_rng_uniform(&r) * 150.0);
    }
    *len = off;
    return b;
}

static const char *SCHEMA =
    "{\"dataset\": \"bench\", \"columns\": ["
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
    " \"grid\": 0.01}]}";

int main(void) {
    const char *env = getenv("BENCH_PRIVACY_ROWS");
    size_t n = env ? (size_t)strtoull(env, NULL, 10) : 1000000;
    if (n < 100) n = 100;
    char dir[] = "/tmp/bench_privacy.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char db[256], out[256];
    snprintf(db, sizeof db, "%s/r.db", dir);
    sl_registry *reg = NULL;
    sl_priv_schema *s = NULL;
    sl_priv_table *t = NULL;
    if (sl_registry_open(db, &reg) != SL_OK ||
        sl_priv_schema_parse(SCHEMA, strlen(SCHEMA), "bench.json", &s) != SL_OK) {
        fprintf(stderr, "bench_privacy: %s\n", sl_last_error());
        return 1;
    }
    sl_budget_set(reg, "subject", "*", SL_PERIOD_MONTHLY, 1e6);
    sl_budget_set(reg, "dataset", "*", SL_PERIOD_MONTHLY, 1e6);
    size_t len = 0;
    char *csv = make_csv(n, &len);
    double t0 = sl_now();
    if (!csv || sl_priv_table_parse_csv(csv, len, "bench.csv", s, &t) != SL_OK) {
        fprintf(stderr, "bench_privacy: %s\n", sl_last_error());
        return 1;
    }
    double dt = sl_now() - t0;
    free(csv);
    printf("privacy bench: %zu rows, 10^4 subjects, 8 columns (no PyTorch counterpart)\n", n);
    printf("%-28s %10.3f s %12.0f rows/s\n", "read CSV + bind schema", dt, (double)n / dt);

    /* raw exact samplers */
    sl_dp_rng rng;
    sl_dp_rng_init_os(&rng);
    sl_dp_mech ml, mg;
    sl_dp_mech_laplace(&ml, 1.0, 12001, 0.01);
    sl_dp_mech_gaussian(&mg, 1.0, 1e-6, 12001, 0.01);
    const sl_dp_mech *ms[2] = {&ml, &mg};
    const char *mn[2] = {"discrete Laplace draws", "discrete Gaussian draws"};
    for (int i = 0; i < 2; i++) {
        int64_t acc = 0;
        t0 = sl_now();
        for (int j = 0; j < 1000000; j++) acc += sl_dp_mech_noise(ms[i], &rng);
        dt = sl_now() - t0;
        printf("%-28s %10.3f s %12.0f draws/s (sum %lld)\n", mn[i], dt, 1e6 / dt, (long long)acc);
    }

    sl_pseudo_key key;
    setenv(SL_PSEUDO_ENV, "bench key of at least thirty-two bytes....", 1);
    sl_pseudo_key_load(NULL, &key);
    struct {
        const char *name;
        sl_technique tech;
        double delta;
        size_t k;
        int l;
        double sup;
    } runs[] = {{"dp (discrete Laplace, RR)", SL_TECH_DP, 0, 0, 1, 0},
                {"dp (discrete Gaussian, RR)", SL_TECH_DP, 1e-6, 0, 1, 0},
                {"pseudo (HMAC-SHA256)", SL_TECH_PSEUDO, 0, 0, 1, 0},
                {"kanon (Mondrian k=10 l=2)", SL_TECH_KANON, 0, 10, 2, 0},
                {"generalize (full domain k=10)", SL_TECH_GENERALIZE, 0, 10, 2, 0.01}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        sl_release_opts o;
        sl_release_opts_default(&o);
        o.technique = runs[i].tech;
        o.epsilon = 1.0;
        o.delta = runs[i].delta;
        o.k = runs[i].k;
        o.l = runs[i].l;
        o.max_suppress = runs[i].sup;
        o.key = runs[i].tech == SL_TECH_PSEUDO ? &key : NULL;
        snprintf(out, sizeof out, "%s/out_%zu.csv", dir, i);
        sl_release_result res;
        t0 = sl_now();
        if (sl_privacy_release(reg, t, s, NULL, out, &o, &res) != SL_OK) {
            fprintf(stderr, "bench_privacy: %s: %s\n", runs[i].name, sl_last_error());
            return 1;
        }
        dt = sl_now() - t0;
        printf("%-28s %10.3f s %12.0f rows/s", runs[i].name, dt, (double)n / dt);
        if (runs[i].k)
            printf("  (classes %zu, NCP %.4f, suppressed %zu)", res.kanon.n_classes,
                   res.kanon.ncp, res.kanon.suppressed);
        printf("\n");
        unlink(out);
    }
    sl_pseudo_key_wipe(&key);
    sl_priv_table_free(t);
    sl_priv_schema_free(s);
    sl_registry_close(reg);
    char p[300];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    unlink(db);
    rmdir(dir);
    return 0;
}
