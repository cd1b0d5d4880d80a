/* SPDX-License-Identifier: Apache-2.0 */
/* bench_gen.c - tabular VAE training speed, with and without DP-SGD's per-example clipping,
 * against PyTorch (bench/gen_ref.py, functorch per-sample gradients) in the same run.
 *
 * Table: 4096 rows, 6 numeric + 4 categorical columns of 5 labels (D = 26 encoded values),
 * public bounds and labels in the schema (DP needs them). VAE: hidden 128, latent 16, batch
 * 256, Adam 1e-3. A rate is examples per second of whole sl_gen_fit calls (data encoding and
 * the sigma solver included; they are < 1% here), 1 and 2 threads. DP: Poisson sampling with
 * q = 256/4096, clip 1, eps 4 / delta 1e-5 (sigma solved). Invariant: nothing is asserted;
 * the machine is shared, so both sides run in the same process window and are printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthloop/sl_gen.h"
#include "synthloop/sl_nn.h"

#define BENCH_SECONDS 2.0
#define NROWS 4096

static const char *tmpdir(void) {
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static int make_inputs(char *csv, char *schema, size_t n) {
    snprintf(csv, n, "%s/bench_gen_%d.csv", tmpdir(), (int)getpid());
    snprintf(schema, n, "%s/bench_gen_%d.json", tmpdir(), (int)getpid());
    FILE *f = fopen(csv, "w"), *s = fopen(schema, "w");
    if (!f || !s) return 0;
    fprintf(s, "{\"columns\": [");
    for (int j = 0; j < 6; j++) fprintf(s, "{\"name\": \"n%d\", \"type\": \"numeric\", \"min\": -10, \"max\": 10},", j);
    for (int j = 0; j < 4; j++)
        fprintf(s, "{\"name\": \"c%d\", \"type\": \"categorical\", \"categories\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}%s",
                j, j < 3 ? "," : "");
    fprintf(s, "]}\n");
    fprintf(f, "n0,n1,n2,n3,n4,n5,c0,c1,c2,c3\n");
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    for (int i = 0; i < NROWS; i++) {
        double z = sl_rng_normal(&r);
        for (int j = 0; j < 6; j++) fprintf(f, "%.5f,", fmax(-10, fmin(10, z + sl_rng_normal(&r))));
        for (int j = 0; j < 4; j++)
            fprintf(f, "%c%s", "abcde"[(int)sl_rng_below(&r, 5)], j < 3 ? "," : "\n");
    }
    fclose(f);
    fclose(s);
    return 1;
}

static double fit_rate(const sl_gen_table *t, int dp, int threads) {
    sl_gen_config c = sl_gen_config_defaults(SL_GEN_VAE);
    c.threads = threads;
    c.hidden = 128;
    c.latent = 16;
    c.batch = 256;
    if (dp) c.dp_epsilon = 4.0;
    c.epochs = 1;
    sl_gen_model *m = NULL;
    double t0 = sl_now();
    if (sl_gen_fit(&c, t, &m) != SL_OK) return -1;
    double one = sl_now() - t0;
    sl_gen_free(m);
    c.epochs = (int)ceil(BENCH_SECONDS / (one > 1e-3 ? one : 1e-3));
    if (c.epochs < 1) c.epochs = 1;
    t0 = sl_now();
    if (sl_gen_fit(&c, t, &m) != SL_OK) return -1;
    double dt = sl_now() - t0;
    sl_gen_free(m);
    return (double)c.epochs * NROWS / dt;
}

int main(void) {
    char csv[512], schema[512];
    if (!make_inputs(csv, schema, sizeof csv)) {
        fprintf(stderr, "bench_gen: cannot write inputs in %s\n", tmpdir());
        return 1;
    }
    sl_gen_table *s = NULL, *t = NULL;
    if (sl_gen_schema_read(schema, &s) != SL_OK || sl_gen_table_read_csv(csv, s, &t) != SL_OK) {
        fprintf(stderr, "bench_gen: %s\n", sl_last_error());
        return 1;
    }
    printf("gen bench: tabular VAE training (4096 rows, D = 26, hidden 128, latent 16, batch 256)\n");
    double c[2][3];
    for (int dp = 0; dp < 2; dp++)
        for (int th = 1; th <= 2; th++) c[dp][th] = fit_rate(t, dp, th);
    sl_gen_table_free(t);
    sl_gen_table_free(s);
    remove(csv);
    remove(schema);
    const char *root = getenv("SL_BENCH_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/gen_ref.py %.1f 26 6 4",
             root ? root : ".", BENCH_SECONDS);
    double p[2][3] = {{0}};
    FILE *f = popen(cmd, "r");
    char kind[16];
    int th;
    double r;
    int got = 0;
    while (f && fscanf(f, "%15s %d %lf", kind, &th, &r) == 3)
        if (th >= 1 && th <= 2) p[strcmp(kind, "dp") == 0][th] = r, got++;
    if (!f || pclose(f) != 0 || got != 4) {
        fprintf(stderr, "bench_gen: bench/gen_ref.py failed\n");
        return 1;
    }
    const char *names[2] = {"no DP", "DP-SGD (per-example clip + noise)"};
    for (int dp = 0; dp < 2; dp++) {
        double cb = fmax(c[dp][1], c[dp][2]), pb = fmax(p[dp][1], p[dp][2]);
        printf("%-34s C %.0f ex/s (1 thr) %.0f ex/s (2 thr); PyTorch%s %.0f ex/s (1 thr) %.0f "
               "ex/s (2 thr); C best / PyTorch best = %.2fx\n", names[dp], c[dp][1], c[dp][2],
               dp ? " (functorch vmap)" : "", p[dp][1], p[dp][2], cb / pb);
    }
    printf("cost of DP-SGD: C %.2fx slower, PyTorch %.2fx slower (best thread settings)\n",
           fmax(c[0][1], c[0][2]) / fmax(c[1][1], c[1][2]),
           fmax(p[0][1], p[0][2]) / fmax(p[1][1], p[1][2]));
    return 0;
}
