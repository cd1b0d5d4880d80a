/* SPDX-License-Identifier: Apache-2.0 */
/* test_python.c - the Python binding (python/synthloop over libsynthloop.so) against the CLI.
 *
 * Each test runs one case of tests/py/python_check.py under /usr/bin/python3 (exit 0 = pass;
 * the cases are described there): struct layouts, collect bytes, reset/step rollouts (workcell
 * and MJCF), dataset views, encoder, trust, world model, policy act, errors. The cases share a
 * work directory so the CLI trains each model once. Under SANITIZE=1 the sanitized shared
 * library is loaded with the ASan/UBSan runtimes preloaded into Python (leak detection off:
 * CPython's own allocations are not ours).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static void run_case(const char *name) {
    const char *build = getenv("SL_BUILD");
    if (!build || !*build) build = "build";
    const char *bin = getenv("SL_BIN");
    char binbuf[1200];
    if (!bin || !*bin) {
        snprintf(binbuf, sizeof binbuf, "%s/build/synthloop", root());
        bin = binbuf;
    }
    char pre[1024] = "";
    if (strstr(build, "san"))
        snprintf(pre, sizeof pre, "ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=\"$(gcc "
                 "-print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)\" ");
    char log[1200], cmd[8192];
    snprintf(log, sizeof log, "%s/py_%s.log", harness_tmpdir(), name);
    snprintf(cmd, sizeof cmd,
             "cd %s && PYTHONDONTWRITEBYTECODE=1 SYNTHLOOP_LIB=%s/%s/libsynthloop.so SL_BIN=%s SL_TEST_ROOT=%s %s"
             "%s tests/py/python_check.py %s %s/py > %s 2>&1",
             root(), root(), build, bin, root(), pre, SL_PYTHON, name, harness_tmpdir(), log);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code != 0) {
        char *out = NULL;
        size_t n = 0;
        sl_read_file(log, &out, &n);
        /* the last lines, indented (run.sh prints lines starting with two spaces) */
        const char *tail = out ? out : "";
        int lines = 0;
        for (size_t i = n; i > 0 && lines < 8; i--)
            if (tail[i - 1] == '\n' && ++lines == 8) tail += i;
        CHECK_MSG(0, "python_check.py %s: exit %d", name, code);
        for (const char *p = tail; *p;) {
            size_t l = strcspn(p, "\n");
            printf("    | %.*s\n", (int)l, p);
            p += l + (p[l] == '\n');
        }
        free(out);
    } else {
        char *out = NULL;
        size_t n = 0;
        if (sl_read_file(log, &out, &n) == SL_OK) /* what it showed, indented */
            for (const char *p = out; *p;) {
                size_t l = strcspn(p, "\n");
                printf("  %.*s\n", (int)l, p);
                p += l + (p[l] == '\n');
            }
        free(out);
    }
}

TEST(struct_layouts_match_c) { run_case("layout"); }
TEST(collect_same_bytes_as_cli) { run_case("collect"); }
TEST(reset_step_rollout_equals_collect) { run_case("rollout"); }
TEST(mjcf_env_equals_cli) { run_case("mjcf"); }
TEST(dataset_views_and_round_trips) { run_case("dataset"); }
TEST(encoder_equals_cli) { run_case("encoder"); }
TEST(trust_score_equals_cli) { run_case("trust"); }
TEST(world_rollout_equals_cli) { run_case("world"); }
TEST(policy_act_equals_numpy) { run_case("policy"); }
TEST(errors_raise_with_message) { run_case("errors"); }

int main(void) {
    RUN(struct_layouts_match_c);
    RUN(collect_same_bytes_as_cli);
    RUN(reset_step_rollout_equals_collect);
    RUN(mjcf_env_equals_cli);
    RUN(dataset_views_and_round_trips);
    RUN(encoder_equals_cli);
    RUN(trust_score_equals_cli);
    RUN(world_rollout_equals_cli);
    RUN(policy_act_equals_numpy);
    RUN(errors_raise_with_message);
    return harness_done();
}
