/* SPDX-License-Identifier: Apache-2.0 */
/* harness.h - the tiny test harness every tests/test_*.c uses.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_CLOSE(a, b, 1e-6); CHECK_OK(sl_call(...)); }
 *   int main(void) { RUN(name); ...; return harness_done(); }
 *
 * Prints one "PASS <file>/<name>" or "FAIL <file>/<name>: <where>: <what>" line per test;
 * tests/run.sh counts them. A test binary exits non-zero if any test failed.
 * A CHECK outside any RUN (in a fixture's setup() before the first RUN, between RUNs, or in a
 * teardown() before harness_done) is not lost: the next RUN or harness_done reports it as one
 * failed "<file>/setup" entry, so the binary exits non-zero (tests/test_harness.c shows it).
 * Python references run through SL_PYTHON (/usr/bin/python3, which has numpy/torch/h5py).
 */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_core.h"

#define SL_PYTHON "/usr/bin/python3"

static int harness_failures_in_test = 0;
static int harness_tests_failed = 0;
static int harness_tests_passed = 0;
static const char *harness_current = "";
/* the file of the last failed CHECK, to name a failure outside any RUN */
static const char *harness_fail_file = "";

#define TEST(name) static void name(void)

#define HARNESS_FAIL(...)                                                                     \
    do {                                                                                      \
        harness_fail_file = __FILE__;                                                         \
        if (harness_failures_in_test++ < 5) {                                                 \
            printf("  %s:%d: ", __FILE__, __LINE__);                                          \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
        }                                                                                     \
    } while (0)

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) HARNESS_FAIL("CHECK(%s) failed", #cond);                                 \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond)) HARNESS_FAIL(__VA_ARGS__);                                               \
    } while (0)

/* |a-b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol)                                                                \
    do {                                                                                      \
        double ha_ = (double)(a), hb_ = (double)(b);                                          \
        double hs_ = fabs(hb_) > 1.0 ? fabs(hb_) : 1.0;                                       \
        if (!(fabs(ha_ - hb_) <= (tol) * hs_))                                                \
            HARNESS_FAIL("CHECK_CLOSE(%s, %s): %.10g vs %.10g (tol %g)", #a, #b, ha_, hb_,    \
                         (double)(tol));                                                      \
    } while (0)

#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        sl_status hs_st_ = (expr);                                                            \
        if (hs_st_ != SL_OK)                                                                  \
            HARNESS_FAIL("%s returned %s: %s", #expr, sl_strerror(hs_st_), sl_last_error());  \
    } while (0)

#define CHECK_STATUS(expr, want)                                                              \
    do {                                                                                      \
        sl_status hs_st_ = (expr);                                                            \
        if (hs_st_ != (want))                                                                 \
            HARNESS_FAIL("%s returned %s, wanted %s (%s)", #expr, sl_strerror(hs_st_),        \
                         sl_strerror(want), sl_last_error());                                 \
    } while (0)

/* Failed checks made outside any RUN since the last RUN ended count as one failed test named
 * "setup" (they happened in fixture code). */
static inline void harness_flush_outside(void) {
    if (!harness_failures_in_test) return;
    const char *base = strrchr(harness_fail_file, '/');
    base = base ? base + 1 : harness_fail_file;
    harness_tests_failed++;
    printf("FAIL %.*s/setup (%d failed checks outside any test)\n", (int)(strcspn(base, ".")),
           base, harness_failures_in_test);
    harness_failures_in_test = 0;
    fflush(stdout);
}

static inline void harness_run(const char *file, const char *name, void (*fn)(void)) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    harness_flush_outside();
    harness_current = name;
    harness_failures_in_test = 0;
    fflush(stdout);
    fn();
    if (harness_failures_in_test) {
        harness_tests_failed++;
        printf("FAIL %.*s/%s (%d failed checks)\n", (int)(strcspn(base, ".")), base, name,
               harness_failures_in_test);
    } else {
        harness_tests_passed++;
        printf("PASS %.*s/%s\n", (int)(strcspn(base, ".")), base, name);
    }
    harness_failures_in_test = 0;
    harness_current = "";
    fflush(stdout);
}

#define RUN(fn) harness_run(__FILE__, #fn, fn)

static inline int harness_done(void) {
    harness_flush_outside();
    return harness_tests_failed ? 1 : 0;
}

/* A fresh temporary directory for a test binary (removed by the runner's TMPDIR cleanup). */
static inline const char *harness_tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/sltest.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

#endif
