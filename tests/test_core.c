/* SPDX-License-Identifier: Apache-2.0 */
/* test_core.c - status codes, RNG determinism and distribution, atomic files, JSON helpers. */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"

TEST(strerror_covers_all) {
    for (int s = 0; s < SL_STATUS_COUNT; s++) CHECK(strlen(sl_strerror((sl_status)s)) > 0);
    CHECK(strcmp(sl_strerror((sl_status)999), "unknown status") == 0);
    CHECK(sl_set_error(SL_ERR_IO, "x%d", 7) == SL_ERR_IO);
    CHECK(strcmp(sl_last_error(), "x7") == 0);
}

TEST(rng_deterministic_and_streams_differ) {
    sl_rng a, b, c;
    sl_rng_seed(&a, 42, 0);
    sl_rng_seed(&b, 42, 0);
    sl_rng_seed(&c, 42, 1);
    int same = 1, diff = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sl_rng_u64(&a), y = sl_rng_u64(&b), z = sl_rng_u64(&c);
        same &= x == y;
        diff += x != z;
    }
    CHECK(same);
    CHECK(diff > 990);
}

TEST(rng_moments) {
    sl_rng r;
    sl_rng_seed(&r, 7, 3);
    double s = 0, s2 = 0, u = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = sl_rng_normal(&r);
        s += x;
        s2 += x * x;
        u += sl_rng_uniform(&r);
    }
    CHECK(fabs(s / n) < 0.01);
    CHECK(fabs(s2 / n - 1.0) < 0.02);
    CHECK(fabs(u / n - 0.5) < 0.005);
    double w[3] = {1, 0, 3};
    int cnt[3] = {0, 0, 0};
    for (int i = 0; i < 40000; i++) cnt[sl_rng_categorical(&r, w, 3)]++;
    CHECK(cnt[1] == 0);
    CHECK(fabs(cnt[2] / 40000.0 - 0.75) < 0.01);
    double z[2] = {0, 0};
    CHECK(sl_rng_categorical(&r, z, 2) == 2);
    size_t idx[10];
    for (size_t i = 0; i < 10; i++) idx[i] = i;
    sl_rng_shuffle(&r, idx, 10);
    size_t sum = 0;
    for (size_t i = 0; i < 10; i++) sum += idx[i];
    CHECK(sum == 45);
}

TEST(atomic_write_and_read) {
    char path[600];
    snprintf(path, sizeof path, "%s/a.txt", harness_tmpdir());
    CHECK_OK(sl_write_file_atomic(path, "hello", 5));
    char *buf;
    size_t n;
    CHECK_OK(sl_read_file(path, &buf, &n));
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    free(buf);
    /* aborting leaves the old content and no temp file */
    sl_atomic_file f;
    CHECK_OK(sl_atomic_open(&f, path));
    fputs("partial", f.fp);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s", f.tmp_path);
    sl_atomic_abort(&f);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_OK(sl_read_file(path, &buf, &n));
    CHECK(n == 5);
    free(buf);
    CHECK_STATUS(sl_read_file("/nonexistent/x", &buf, &n), SL_ERR_IO);
    CHECK(strstr(sl_last_error(), "/nonexistent/x") != NULL);
    CHECK_STATUS(sl_write_file_atomic("/nonexistent/dir/x", "a", 1), SL_ERR_IO);
    char hex[65];
    CHECK_OK(sl_sha256_file(path, hex));
    CHECK(strcmp(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") == 0);
}

TEST(json_roundtrip) {
    char path[600];
    snprintf(path, sizeof path, "%s/j.json", harness_tmpdir());
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "a", 1.5);
    cJSON_AddStringToObject(j, "s", "x");
    double v[3] = {1, 2, 3};
    sl_json_add_f64_array(j, "v", v, 3);
    sl_json_add_provenance(j, 99);
    CHECK_OK(sl_json_write_file(path, j));
    cJSON_Delete(j);
    cJSON *r;
    CHECK_OK(sl_json_read_file(path, &r));
    CHECK(sl_json_num(r, "a", 0) == 1.5);
    CHECK(strcmp(sl_json_str(r, "s", ""), "x") == 0);
    CHECK(sl_json_int(r, "seed", 0) == 99);
    CHECK(sl_json_int(r, "missing", -4) == -4);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "v")) == 3);
    cJSON_Delete(r);
    CHECK_OK(sl_write_file_atomic(path, "{\"a\": [1,", 9));
    CHECK_STATUS(sl_json_read_file(path, &r), SL_ERR_FORMAT);
}

TEST(mul_size_overflow) {
    size_t o;
    CHECK_OK(sl_mul_size(3, 4, &o));
    CHECK(o == 12);
    CHECK_STATUS(sl_mul_size(SIZE_MAX / 2, 3, &o), SL_ERR_RANGE);
    float f[3] = {1, 2, NAN};
    CHECK(!sl_all_finite_f32(f, 3));
    CHECK(sl_all_finite_f32(f, 2));
}

int main(void) {
    RUN(strerror_covers_all);
    RUN(rng_deterministic_and_streams_differ);
    RUN(rng_moments);
    RUN(atomic_write_and_read);
    RUN(json_roundtrip);
    RUN(mul_size_overflow);
    return harness_done();
}
