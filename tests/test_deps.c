/* SPDX-License-Identifier: Apache-2.0 */
/* test_deps.c - scripts/deps.sh and the Makefile's split of packages.
 *
 * deps.sh waits for the package manager's lock instead of failing: with a lock file held
 * (an fcntl lock, as dpkg and apt take) `deps.sh --wait-lock` gives up after DEPS_LOCK_WAIT
 * seconds with a message, and returns 0 once the lock is released. `make` and `make demo`
 * install only build/run packages; `make test` asks for the test references (dry runs).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

/* Run a shell command, stdout+stderr into out (NUL-terminated); exit code or -1. */
static int sh_capture(const char *cmd, char *out, size_t cap) {
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(wait_lock_waits_then_gives_up) {
    char lock[1024], cmd[4096], out[4096];
    snprintf(lock, sizeof lock, "%s/fake-dpkg-lock", harness_tmpdir());
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd < 0) return;
    /* a free lock: no wait */
    snprintf(cmd, sizeof cmd, "cd %s && DEPS_LOCK_FILES=%s DEPS_LOCK_WAIT=5 sh scripts/deps.sh "
             "--wait-lock 2>&1", root(), lock);
    double t0 = sl_now();
    CHECK(sh_capture(cmd, out, sizeof out) == 0);
    CHECK_MSG(sl_now() - t0 < 2, "free lock: waited %.1f s", sl_now() - t0);
    CHECK_MSG(!strstr(out, "waiting"), "free lock: '%s'", out);
    /* held by us (a child process checks /proc/locks): waits DEPS_LOCK_WAIT s, then fails */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(fcntl(fd, F_SETLK, &fl) == 0);
    snprintf(cmd, sizeof cmd, "cd %s && DEPS_LOCK_FILES=%s DEPS_LOCK_WAIT=2 sh scripts/deps.sh "
             "--wait-lock 2>&1", root(), lock);
    t0 = sl_now();
    int rc = sh_capture(cmd, out, sizeof out);
    double dt = sl_now() - t0;
    CHECK_MSG(rc == 1, "held lock: exit %d: %s", rc, out);
    CHECK_MSG(dt >= 1.5 && dt < 10, "held lock: returned after %.1f s", dt);
    CHECK_MSG(strstr(out, "waiting for another package manager") && strstr(out, lock) &&
                  strstr(out, "still held"), "held lock: message '%s'", out);
    /* released while deps.sh waits: it returns 0 */
    snprintf(cmd, sizeof cmd, "cd %s && DEPS_LOCK_FILES=%s DEPS_LOCK_WAIT=30 exec sh "
             "scripts/deps.sh --wait-lock > /dev/null 2>&1", root(), lock);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd); /* the child must not hold (or drop) our lock */
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    sleep(2);
    int ws = 0;
    CHECK_MSG(waitpid(pid, &ws, WNOHANG) == 0, "deps.sh did not wait for the held lock");
    fl.l_type = F_UNLCK;
    CHECK(fcntl(fd, F_SETLK, &fl) == 0);
    t0 = sl_now();
    pid_t done = 0;
    while (done == 0 && sl_now() - t0 < 10) {
        done = waitpid(pid, &ws, WNOHANG);
        if (done == 0) usleep(100000);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &ws, 0);
    }
    CHECK_MSG(done == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "deps.sh did not return 0 within 10 s of the lock's release");
    close(fd);
}

TEST(make_installs_test_packages_only_for_tests) {
    char cmd[4096], out[4096];
    /* -B: every recipe as if nothing were built, -n: print them without running */
    const char *targets[] = {"all", "demo", "test"};
    for (int i = 0; i < 3; i++) {
        /* a clean environment: not the -j / variables of a `make test` that runs us */
        snprintf(cmd, sizeof cmd,
                 "cd %s && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -B %s 2>&1 | "
                 "grep 'deps.sh'", root(), targets[i]);
        int rc = sh_capture(cmd, out, sizeof out);
        CHECK_MSG(rc == 0, "make -n %s | grep deps.sh: exit %d", targets[i], rc);
        int has_build = strstr(out, "scripts/deps.sh\n") != NULL;
        int has_test = strstr(out, "scripts/deps.sh --test") != NULL;
        CHECK_MSG(has_build, "make %s does not run deps.sh", targets[i]);
        CHECK_MSG(has_test == (i == 2), "make %s: deps.sh --test %s", targets[i],
                  has_test ? "runs" : "does not run");
    }
    /* the CI installs everything */
    snprintf(cmd, sizeof cmd, "grep -c 'scripts/deps.sh --test' %s/.ci/run", root());
    CHECK(sh_capture(cmd, out, sizeof out) == 0);
}

int main(void) {
    RUN(wait_lock_waits_then_gives_up);
    RUN(make_installs_test_packages_only_for_tests);
    return harness_done();
}
