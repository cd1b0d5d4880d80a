/* SPDX-License-Identifier: Apache-2.0 */
/* test_license.c - the project's license: LICENSE holds the Apache-2.0 text, NOTICE names every
 * linked dependency with its license, and every source file carries the SPDX line
 * (scripts/spdx.sh --check, which lists the files that lack it).
 */
#include <sys/wait.h>

#include "harness.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static char *slurp_root(const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", root(), name);
    char *b = NULL;
    size_t n;
    if (sl_read_file(path, &b, &n) != SL_OK) return NULL;
    return b;
}

TEST(license_is_apache_2) {
    char *lic = slurp_root("LICENSE");
    CHECK_MSG(lic != NULL, "no LICENSE file");
    if (!lic) return;
    CHECK(strstr(lic, "Apache License") && strstr(lic, "Version 2.0, January 2004"));
    CHECK(strstr(lic, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
    CHECK(strstr(lic, "END OF TERMS AND CONDITIONS"));
    /* the standard text, as Debian ships it */
    char *deb = NULL;
    size_t n;
    if (sl_read_file("/usr/share/common-licenses/Apache-2.0", &deb, &n) == SL_OK)
        CHECK_MSG(strcmp(lic, deb) == 0, "LICENSE differs from /usr/share/common-licenses/Apache-2.0");
    free(deb);
    free(lic);
}

TEST(notice_lists_dependencies) {
    char *no = slurp_root("NOTICE");
    CHECK_MSG(no != NULL, "no NOTICE file");
    if (!no) return;
    const char *need[][2] = {{"MuJoCo", "Apache-2.0"},       {"OpenBLAS", "BSD-3-Clause"},
                             {"SQLite", "public domain"},     {"cJSON", "MIT"},
                             {"libzip", "BSD-3-Clause"},      {"zlib", "Zlib"},
                             {"HDF5", "BSD-style"},           {"libmicrohttpd", "LGPL-2.1"},
                             {"libsodium", "ISC"}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        const char *at = strstr(no, need[i][0]);
        CHECK_MSG(at != NULL, "NOTICE does not name %s", need[i][0]);
        /* the license on the same line */
        if (at) {
            const char *eol = strchr(at, '\n');
            const char *lic = strstr(at, need[i][1]);
            CHECK_MSG(lic && (!eol || lic < eol), "NOTICE: %s without '%s' on its line",
                      need[i][0], need[i][1]);
        }
    }
    CHECK(strstr(no, "linked dynamically") != NULL);
    free(no);
}

TEST(every_source_has_spdx_line) {
    char cmd[1400], out[8192];
    snprintf(cmd, sizeof cmd, "cd %s && sh scripts/spdx.sh --check 2>&1", root());
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    /* the first lines only: run.sh counts lines starting with FAIL */
    char first[400];
    snprintf(first, sizeof first, "%.399s", out);
    for (char *c = first; *c; c++)
        if (*c == '\n') *c = '|';
    CHECK_MSG(code == 0, "spdx.sh --check: exit %d: %s", code, first);
}

int main(void) {
    RUN(license_is_apache_2);
    RUN(notice_lists_dependencies);
    RUN(every_source_has_spdx_line);
    return harness_done();
}
