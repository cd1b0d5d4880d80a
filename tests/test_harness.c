/* SPDX-License-Identifier: Apache-2.0 */
/* test_harness.c - tests of tests/harness.h itself.
 *
 * Each scenario is a small test program run in a forked child (its own copy of the harness
 * counters, its stdout captured through a pipe): the child runs fixture code and RUNs, then
 * exits with harness_done(). The parent checks the exit status and the PASS/FAIL lines. The
 * case that matters: a CHECK that fails in a fixture's setup() (outside any RUN) must make the
 * program exit non-zero and print a FAIL line (before the fix it printed only PASS lines and
 * exited 0).
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* --- the scenarios (run only in children) --------------------------------- */

static int fixture_value = 0;

static void failing_setup(void) {
    fixture_value = 1;
    CHECK(fixture_value == 2); /* the fixture could not be built */
}

TEST(passes) { CHECK(1 + 1 == 2); }
TEST(fails) { CHECK_MSG(0, "intended failure"); }

static int scenario_setup_fails(void) {
    failing_setup();
    RUN(passes);
    return harness_done();
}

static int scenario_teardown_fails(void) {
    RUN(passes);
    CHECK(fixture_value == 7); /* a failed check after the last RUN */
    return harness_done();
}

static int scenario_clean(void) {
    RUN(passes);
    RUN(passes);
    return harness_done();
}

static int scenario_test_fails(void) {
    RUN(fails);
    RUN(passes);
    return harness_done();
}

/* --- the parent side ------------------------------------------------------ */

/* Runs scenario in a child; *status receives its exit code (-1 if it did not exit), out its
 * stdout (truncated to cap). */
static void run_child(int (*scenario)(void), int *status, char *out, size_t cap) {
    int fd[2];
    *status = -1;
    out[0] = 0;
    if (pipe(fd) != 0) {
        CHECK_MSG(0, "pipe failed");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK_MSG(0, "fork failed");
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDOUT_FILENO);
        close(fd[1]);
        /* a fresh harness state, as in a new program */
        harness_failures_in_test = harness_tests_failed = harness_tests_passed = 0;
        int rc = scenario();
        fflush(stdout);
        _exit(rc);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd[0], out + len, cap - 1 - len)) > 0) {
        len += (size_t)r;
        if (len == cap - 1) break;
    }
    out[len] = 0;
    close(fd[0]);
    int ws = 0;
    if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) *status = WEXITSTATUS(ws);
}

/* out on one line (for a failure message: embedded "FAIL" lines would be counted by run.sh) */
static const char *flat(const char *out) {
    static char buf[4096];
    size_t i = 0;
    for (; out[i] && i < sizeof buf - 1; i++) buf[i] = out[i] == '\n' ? '|' : out[i];
    buf[i] = 0;
    return buf;
}

static int count_lines(const char *out, const char *prefix) {
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = out; p && *p;) {
        if (strncmp(p, prefix, pl) == 0) n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

TEST(setup_failure_fails_the_run) {
    char out[4096];
    int st;
    run_child(scenario_setup_fails, &st, out, sizeof out);
    CHECK_MSG(st == 1, "exit status %d, wanted 1; output: %s", st, flat(out));
    CHECK_MSG(count_lines(out, "FAIL test_harness/setup") == 1, "no setup FAIL line: %s", flat(out));
    CHECK(count_lines(out, "PASS test_harness/passes") == 1);
    CHECK(strstr(out, "fixture_value == 2") != NULL);
}

TEST(failure_after_last_run_fails_the_run) {
    char out[4096];
    int st;
    run_child(scenario_teardown_fails, &st, out, sizeof out);
    CHECK_MSG(st == 1, "exit status %d, wanted 1; output: %s", st, flat(out));
    CHECK_MSG(count_lines(out, "FAIL ") == 1, "wanted one FAIL line: %s", flat(out));
}

TEST(clean_run_exits_zero) {
    char out[4096];
    int st;
    run_child(scenario_clean, &st, out, sizeof out);
    CHECK_MSG(st == 0, "exit status %d, wanted 0; output: %s", st, flat(out));
    CHECK(count_lines(out, "PASS ") == 2);
    CHECK(count_lines(out, "FAIL ") == 0);
}

TEST(failing_test_is_counted_once) {
    char out[4096];
    int st;
    run_child(scenario_test_fails, &st, out, sizeof out);
    CHECK_MSG(st == 1, "exit status %d, wanted 1; output: %s", st, flat(out));
    CHECK(count_lines(out, "FAIL test_harness/fails") == 1);
    CHECK(count_lines(out, "FAIL ") == 1);
    CHECK(count_lines(out, "PASS test_harness/passes") == 1);
}

int main(void) {
    RUN(setup_failure_fails_the_run);
    RUN(failure_after_last_run_fails_the_run);
    RUN(clean_run_exits_zero);
    RUN(failing_test_is_counted_once);
    return harness_done();
}
