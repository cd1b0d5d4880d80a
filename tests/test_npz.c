/* SPDX-License-Identifier: Apache-2.0 */
/* test_npz.c - NPZ reader/writer: bit-exact round trips with numpy in both directions (every
 * dtype, 0-d/empty/3-d/rank-8 shapes, stored and deflated members, .npy versions 1-3), and
 * bad input (truncated, oversized, wrong magic, wrong dtype, Fortran order, shape overflow,
 * every prefix and byte flip of a small archive) giving clear errors without crashing. */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include "harness.h"
#include "synthloop/sl_npz.h"

static const char *root_dir(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static int run_cmd(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static const sl_dtype ALL_DT[] = {SL_DTYPE_F32, SL_DTYPE_F64, SL_DTYPE_I32,
                                  SL_DTYPE_I64, SL_DTYPE_U8,  SL_DTYPE_BOOL};
#define N_DT 6
static const int SHAPE_ND[] = {0, 1, 1, 2, 3, 2, 8};
static const size_t SHAPES[][8] = {{0}, {0}, {5}, {3, 4}, {2, 3, 4}, {0, 3},
                                   {1, 1, 1, 1, 1, 1, 1, 2}};
#define N_SHAPES 7

/* numpy's dtype.str without the byte-order character, as the Python script names arrays. */
static const char *dt_code(sl_dtype dt) { return sl_dtype_numpy(dt) + 1; }

/* Random bytes, floats kept finite (exponent forced below all-ones), bools 0/1. */
static void fill_random(sl_array *a, sl_rng *r) {
    unsigned char *b = a->data;
    size_t nb = sl_array_nbytes(a);
    for (size_t i = 0; i < nb; i++) b[i] = (unsigned char)sl_rng_u64(r);
    if (a->dtype == SL_DTYPE_BOOL)
        for (size_t i = 0; i < nb; i++) b[i] &= 1;
    if (a->dtype == SL_DTYPE_F32)
        for (size_t i = 0; i < a->count; i++) {
            float *x = (float *)a->data + i;
            if (!isfinite(*x)) b[4 * i + 3] ^= 0x40; /* clears one exponent bit */
        }
    if (a->dtype == SL_DTYPE_F64)
        for (size_t i = 0; i < a->count; i++) {
            double *x = (double *)a->data + i;
            if (!isfinite(*x)) b[8 * i + 7] ^= 0x40;
        }
}

/* Compare z's arrays against DIR/manifest.txt and DIR/raw/<name>.bin. */
static void check_against_manifest(sl_npz *z, const char *dir, const char *label) {
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s: no manifest", label);
    if (!f) return;
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64], descr[16];
        int nd, off;
        if (sscanf(line, "%63s %15s %d%n", name, descr, &nd, &off) != 3) continue;
        size_t shape[8] = {0};
        char *p = line + off;
        for (int d = 0; d < nd; d++) shape[d] = strtoull(p, &p, 10);
        n++;
        const sl_array *a = NULL;
        sl_status s = sl_npz_get(z, name, &a);
        CHECK_MSG(s == SL_OK, "%s: get %s: %s", label, name, sl_last_error());
        if (s != SL_OK) continue;
        CHECK_MSG(strcmp(sl_dtype_numpy(a->dtype), descr) == 0, "%s: %s dtype %s vs %s", label,
                  name, sl_dtype_numpy(a->dtype), descr);
        CHECK_MSG(a->ndim == nd, "%s: %s ndim %d vs %d", label, name, a->ndim, nd);
        for (int d = 0; d < nd && d < a->ndim; d++) CHECK(a->shape[d] == shape[d]);
        snprintf(path, sizeof path, "%s/raw/%s.bin", dir, name);
        char *raw;
        size_t rawlen;
        CHECK_OK(sl_read_file(path, &raw, &rawlen));
        CHECK_MSG(rawlen == sl_array_nbytes(a) && memcmp(raw, a->data, rawlen) == 0,
                  "%s: %s bytes differ", label, name);
        free(raw);
    }
    fclose(f);
    CHECK_MSG(n == N_DT * N_SHAPES, "%s: manifest has %zu entries", label, n);
    CHECK_MSG(sl_npz_count(z) == n, "%s: archive has %zu arrays, manifest %zu", label,
              sl_npz_count(z), n);
}

static char np_dir[600];

static void ensure_numpy_files(void) {
    if (np_dir[0]) return;
    snprintf(np_dir, sizeof np_dir, "%s/np", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/fmt_npz.py write %s", SL_PYTHON, root_dir(),
             np_dir);
    if (run_cmd(cmd) != 0) {
        HARNESS_FAIL("python failed: %s", cmd);
    }
}

TEST(numpy_writes_c_reads_bit_exact) {
    ensure_numpy_files();
    const char *files[] = {"np_stored.npz", "np_deflate.npz", "np_v2.npz", "np_v3.npz"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", np_dir, files[i]);
        sl_npz *z = NULL;
        CHECK_OK(sl_npz_open(&z, path));
        if (!z) continue;
        CHECK_OK(sl_npz_read_all(z));
        check_against_manifest(z, np_dir, files[i]);
        sl_npz_close(z);
    }
    /* also from memory, deflated */
    char path[1024], *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/np_deflate.npz", np_dir);
    CHECK_OK(sl_read_file(path, &buf, &len));
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open_mem(&z, buf, len, "mem"));
    if (z) {
        check_against_manifest(z, np_dir, "mem");
        sl_array *own = NULL;
        CHECK_OK(sl_npz_read(z, "f8_4", &own));
        CHECK(own && own->ndim == 3 && own->count == 24 && own->dtype == SL_DTYPE_F64);
        sl_array_free(own);
        CHECK_STATUS(sl_npz_read(z, "nope", &own), SL_ERR_NOTFOUND);
        CHECK(contains(sl_last_error(), "nope"));
    }
    sl_npz_close(z);
    free(buf);
    /* numpy's empty archive, and a 1-d Fortran-flagged array (same bytes as C order) */
    snprintf(path, sizeof path, "%s/np_empty.npz", np_dir);
    CHECK_OK(sl_npz_open(&z, path));
    CHECK(sl_npz_count(z) == 0);
    sl_npz_close(z);
    snprintf(path, sizeof path, "%s/ok_fortran1d.npz", np_dir);
    CHECK_OK(sl_npz_open(&z, path));
    const sl_array *v = NULL;
    if (z) CHECK_OK(sl_npz_get(z, "v", &v));
    CHECK(v && v->count == 4 && ((const double *)v->data)[3] == 3.0);
    sl_npz_close(z);
}

TEST(c_writes_numpy_reads_bit_exact) {
    char dir[600], path[1024];
    snprintf(dir, sizeof dir, "%s/c", harness_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/raw", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *man = fopen(path, "w");
    CHECK(man != NULL);
    if (!man) return;
    sl_rng r;
    sl_rng_seed(&r, 99, 0);
    sl_array *arrs[N_DT * N_SHAPES];
    size_t k = 0;
    for (int d = 0; d < N_DT; d++)
        for (int s = 0; s < N_SHAPES; s++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%d", dt_code(ALL_DT[d]), s);
            CHECK_OK(sl_array_new(&arrs[k], name, ALL_DT[d], SHAPE_ND[s], SHAPES[s]));
            fill_random(arrs[k], &r);
            fprintf(man, "%s %s %d", name, sl_dtype_numpy(ALL_DT[d]), SHAPE_ND[s]);
            for (int i = 0; i < SHAPE_ND[s]; i++) fprintf(man, " %zu", SHAPES[s][i]);
            fprintf(man, "\n");
            snprintf(path, sizeof path, "%s/raw/%s.bin", dir, name);
            CHECK_OK(sl_write_file_atomic(path, arrs[k]->data, sl_array_nbytes(arrs[k])));
            k++;
        }
    fclose(man);
    const char *names[] = {"c_stored.npz", "c_deflate.npz"};
    for (int m = 0; m < 2; m++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[m]);
        CHECK_OK(sl_npz_write(path, (const sl_array *const *)arrs, k, (sl_npz_compress)m));
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "%s %s/tests/py/fmt_npz.py check %s %s", SL_PYTHON,
                 root_dir(), path, dir);
        CHECK_MSG(run_cmd(cmd) == 0, "numpy disagrees with %s", names[m]);
        /* and back into C */
        sl_npz *z = NULL;
        CHECK_OK(sl_npz_open(&z, path));
        if (z) {
            CHECK_OK(sl_npz_read_all(z));
            check_against_manifest(z, dir, names[m]);
        }
        sl_npz_close(z);
    }
    /* deflate must actually compress (zero-filled array), and output is reproducible */
    size_t big[1] = {100000};
    sl_array *zero;
    CHECK_OK(sl_array_new(&zero, "zeros", SL_DTYPE_F32, 1, big));
    char p1[1024], p2[1024], h1[65], h2[65];
    snprintf(p1, sizeof p1, "%s/z1.npz", dir);
    snprintf(p2, sizeof p2, "%s/z2.npz", dir);
    CHECK_OK(sl_npz_write(p1, (const sl_array *const *)&zero, 1, SL_NPZ_DEFLATE));
    CHECK_OK(sl_npz_write(p2, (const sl_array *const *)&zero, 1, SL_NPZ_DEFLATE));
    struct stat sb;
    CHECK(stat(p1, &sb) == 0 && sb.st_size < 10000);
    CHECK_OK(sl_sha256_file(p1, h1));
    CHECK_OK(sl_sha256_file(p2, h2));
    CHECK(strcmp(h1, h2) == 0);
    sl_array_free(zero);
    for (size_t i = 0; i < k; i++) sl_array_free(arrs[i]);
}

TEST(empty_archive_round_trip) {
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/empty.npz", harness_tmpdir());
    CHECK_OK(sl_npz_write(path, NULL, 0, SL_NPZ_STORED));
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, path));
    CHECK(z && sl_npz_count(z) == 0);
    sl_npz_close(z);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np,sys; z=np.load(sys.argv[1]); sys.exit(len(z.files))\" "
             "%s",
             SL_PYTHON, path);
    CHECK(run_cmd(cmd) == 0);
}

/* --- bad input ----------------------------------------------------------- */

static sl_status open_and_read_all(const char *path) {
    sl_npz *z = NULL;
    sl_status s = sl_npz_open(&z, path);
    if (s == SL_OK) s = sl_npz_read_all(z);
    sl_npz_close(z);
    return s;
}

static sl_status mem_read_all(const void *buf, size_t len) {
    sl_npz *z = NULL;
    sl_status s = sl_npz_open_mem(&z, buf, len, "buf");
    if (s == SL_OK) s = sl_npz_read_all(z);
    sl_npz_close(z);
    return s;
}

TEST(numpy_bad_files_rejected) {
    ensure_numpy_files();
    char path[1024];
    struct {
        const char *file;
        sl_status want;
        const char *msg;
    } cases[] = {
        {"bad_fortran.npz", SL_ERR_FORMAT, "Fortran-order"},
        {"bad_bigendian.npz", SL_ERR_DTYPE, "big-endian dtype '>f4'"},
        {"bad_complex.npz", SL_ERR_DTYPE, "unsupported dtype '<c8'"},
        {"bad_float16.npz", SL_ERR_DTYPE, "unsupported dtype '<f2'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", np_dir, cases[i].file);
        CHECK_STATUS(open_and_read_all(path), cases[i].want);
        CHECK_MSG(contains(sl_last_error(), cases[i].msg) && contains(sl_last_error(), "'m'"),
                  "%s: message '%s'", cases[i].file, sl_last_error());
    }
}

/* A zip holding one member with the given bytes (via libzip), returned in memory. */
static void *zip_one(const char *member, const void *data, size_t len, int deflate,
                     size_t *out_len) {
    char path[1024];
    static int seq;
    snprintf(path, sizeof path, "%s/one%d.zip", harness_tmpdir(), seq++);
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_source_t *src = zip_source_buffer(za, data, len, 0);
    zip_int64_t idx = zip_file_add(za, member, src, 0);
    zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    zip_close(za);
    char *buf;
    if (sl_read_file(path, &buf, out_len) != SL_OK) return NULL;
    return buf;
}

/* .npy bytes: version 1.0 preamble + header dict (padded) + `dlen` data bytes of 0x11. */
static size_t make_npy(unsigned char *out, const char *dict, size_t dlen, int major) {
    size_t pre = major == 1 ? 10 : 12, k = strlen(dict);
    size_t total = (pre + k + 1 + 63) / 64 * 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    size_t hl = total - pre;
    out[8] = (unsigned char)hl;
    out[9] = (unsigned char)(hl >> 8);
    if (pre == 12) out[10] = out[11] = 0;
    memcpy(out + pre, dict, k);
    memset(out + pre + k, ' ', total - pre - k - 1);
    out[total - 1] = '\n';
    memset(out + total, 0x11, dlen);
    return total + dlen;
}

static void expect_member_error(const char *dict, size_t dlen, int major, sl_status want,
                                const char *msg) {
    unsigned char npy[4096];
    size_t n = make_npy(npy, dict, dlen, major);
    for (int deflate = 0; deflate < 2; deflate++) {
        size_t zl;
        void *zb = zip_one("x.npy", npy, n, deflate, &zl);
        CHECK(zb != NULL);
        sl_status s = mem_read_all(zb, zl);
        CHECK_MSG(s == want && contains(sl_last_error(), msg),
                  "dict %s: got %s '%s', wanted %s '%s'", dict, sl_strerror(s), sl_last_error(),
                  sl_strerror(want), msg);
        free(zb);
    }
}

TEST(crafted_headers_rejected) {
    /* sanity: the crafting helper makes readable arrays */
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 16, 1,
                        SL_OK, "");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 16, 2,
                        SL_OK, "");
    /* shape overflow */
    expect_member_error(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", 16,
        1, SL_ERR_RANGE, "overflow");
    expect_member_error("{'descr': '<f8', 'fortran_order': False, 'shape': "
                        "(99999999999999999999999,), }",
                        16, 1, SL_ERR_RANGE, "overflow");
    expect_member_error("{'descr': '<f8', 'fortran_order': False, 'shape': "
                        "(0, 4294967296, 4294967296, 4294967296), }",
                        0, 1, SL_ERR_RANGE, "overflow");
    /* oversized: header claims far more than present, and truncated data */
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", 16,
                        1, SL_ERR_FORMAT, "needs 4000000000");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", 20, 1,
                        SL_ERR_FORMAT, "holds 20 data bytes");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, 1,
                        SL_ERR_FORMAT, "holds 9 data bytes");
    /* wrong dtype / order / structure */
    expect_member_error("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", 8, 1,
                        SL_ERR_DTYPE, "unsupported dtype '<u4'");
    expect_member_error("{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", 16, 1,
                        SL_ERR_DTYPE, "big-endian");
    expect_member_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8,
                        1, SL_ERR_DTYPE, "structured");
    expect_member_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 1,
                        SL_ERR_FORMAT, "Fortran-order");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
                        4, 1, SL_ERR_SHAPE, "rank above 8");
    expect_member_error("{'descr': '<f4', 'shape': (2,), }", 8, 1, SL_ERR_FORMAT, "lacks");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, 1,
                        SL_ERR_FORMAT, "unexpected or repeated key 'x'");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, 1,
                        SL_ERR_FORMAT, "bad 'shape'");
    expect_member_error("['descr', '<f4']", 8, 1, SL_ERR_FORMAT, "not a dict");
    expect_member_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", 8, 1,
                        SL_ERR_FORMAT, "malformed");
    /* wrong .npy magic / version, header longer than the member */
    unsigned char npy[256];
    size_t n = make_npy(npy, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
    unsigned char bad[256];
    size_t zl;
    void *zb;
    memcpy(bad, npy, n);
    bad[1] = 'X';
    zb = zip_one("x.npy", bad, n, 0, &zl);
    CHECK_STATUS(mem_read_all(zb, zl), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "bad .npy magic"));
    free(zb);
    memcpy(bad, npy, n);
    bad[6] = 4;
    zb = zip_one("x.npy", bad, n, 1, &zl);
    CHECK_STATUS(mem_read_all(zb, zl), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "unsupported .npy version 4.0"));
    free(zb);
    memcpy(bad, npy, n);
    bad[9] = 0x7f;
    zb = zip_one("x.npy", bad, n, 0, &zl);
    CHECK_STATUS(mem_read_all(zb, zl), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "header length"));
    free(zb);
    zb = zip_one("x.npy", npy, 7, 0, &zl);
    CHECK_STATUS(mem_read_all(zb, zl), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "truncated .npy header"));
    free(zb);
    /* a member that is not .npy is ignored */
    zb = zip_one("readme.txt", "hello", 5, 0, &zl);
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open_mem(&z, zb, zl, "buf"));
    CHECK(z && sl_npz_count(z) == 0);
    sl_npz_close(z);
    free(zb);
}

TEST(deflate_size_claim_checked_before_allocation) {
    /* Declare 4e9 uncompressed bytes (consistent with the .npy header) for a member whose
     * deflated stream is tiny: must be refused before any 4 GB buffer is allocated. */
    unsigned char npy[256];
    size_t n = make_npy(npy, "{'descr': '|u1', 'fortran_order': False, 'shape': (4000000000,), }",
                        64, 1);
    size_t zl;
    unsigned char *zb = zip_one("x.npy", npy, n, 1, &zl);
    CHECK(zb != NULL);
    if (!zb) return;
    uint32_t claim = (uint32_t)(4000000000u + (n - 64));
    int patched = 0;
    for (size_t i = 0; i + 46 < zl; i++) {
        if (memcmp(zb + i, "PK\x03\x04", 4) == 0) {
            memcpy(zb + i + 22, &claim, 4);
            patched++;
        } else if (memcmp(zb + i, "PK\x01\x02", 4) == 0) {
            memcpy(zb + i + 24, &claim, 4);
            patched++;
        }
    }
    CHECK(patched == 2);
    sl_status s = mem_read_all(zb, zl);
    CHECK_MSG(s == SL_ERR_FORMAT && contains(sl_last_error(), "cannot come from"),
              "got %s '%s'", sl_strerror(s), sl_last_error());
    free(zb);
}

TEST(not_a_zip_and_io_errors) {
    char path[1024];
    snprintf(path, sizeof path, "%s/hello.npz", harness_tmpdir());
    CHECK_OK(sl_write_file_atomic(path, "hello world", 11));
    CHECK_STATUS(open_and_read_all(path), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "bad magic") && contains(sl_last_error(), path));
    CHECK_OK(sl_write_file_atomic(path, "", 0));
    CHECK_STATUS(open_and_read_all(path), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "empty file"));
    /* a safetensors file is not an NPZ file */
    static const unsigned char st_file[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ',
                                              ' ', ' ', ' ', ' '};
    CHECK_OK(sl_write_file_atomic(path, st_file, sizeof st_file));
    CHECK_STATUS(open_and_read_all(path), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "bad magic"));
    CHECK_OK(sl_write_file_atomic(path, "PK\x05\x06garbage", 11));
    CHECK_STATUS(open_and_read_all(path), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "corrupt or truncated"));
    snprintf(path, sizeof path, "%s/does-not-exist.npz", harness_tmpdir());
    CHECK_STATUS(open_and_read_all(path), SL_ERR_IO);
    CHECK(contains(sl_last_error(), "No such file"));
    sl_npz_close(NULL);
    sl_array_free(NULL);
    sl_npz_writer_abort(NULL);
}

/* A small valid archive (3 arrays, one member of each kind) in memory. */
static void *small_archive(sl_npz_compress mode, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/small%d.npz", harness_tmpdir(), (int)mode);
    float f[3] = {1.5f, -2.0f, 3.25f};
    int64_t i8[2] = {-7, 1LL << 40};
    uint8_t b[4] = {1, 0, 1, 1};
    size_t s3[1] = {3}, s2[1] = {2}, s22[2] = {2, 2};
    sl_npz_writer *w;
    if (sl_npz_writer_open(&w, path, mode) != SL_OK) return NULL;
    sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s3, f);
    sl_npz_writer_add(w, "i", SL_DTYPE_I64, 1, s2, i8);
    sl_npz_writer_add(w, "b", SL_DTYPE_BOOL, 2, s22, b);
    if (sl_npz_writer_commit(w) != SL_OK) return NULL;
    char *buf;
    if (sl_read_file(path, &buf, len) != SL_OK) return NULL;
    return buf;
}

TEST(every_prefix_and_byte_flip_is_safe) {
    for (int mode = 0; mode < 2; mode++) {
        size_t len;
        unsigned char *full = small_archive((sl_npz_compress)mode, &len);
        CHECK(full != NULL);
        if (!full) continue;
        CHECK_OK(mem_read_all(full, len));
        int prefix_ok = 0;
        for (size_t cut = 0; cut < len; cut++) {
            unsigned char *p = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
            memcpy(p, full, cut);
            sl_status s = mem_read_all(p, cut);
            if (s == SL_OK) prefix_ok++;
            else CHECK_MSG(sl_last_error()[0] != '\0', "prefix %zu: empty message", cut);
            free(p);
        }
        CHECK_MSG(prefix_ok == 0, "%d truncated archives accepted", prefix_ok);
        int flips_rejected = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char *p = malloc(len);
            memcpy(p, full, len);
            p[i] ^= 0x5a;
            if (mem_read_all(p, len) != SL_OK) flips_rejected++;
            free(p);
        }
        /* most flips land in checked fields (CRC-protected data, headers, directory) */
        CHECK_MSG(flips_rejected > (int)len / 2, "only %d of %zu flips rejected", flips_rejected,
                  len);
        free(full);
    }
}

/* --- writer contract ----------------------------------------------------- */

TEST(writer_refuses_bad_arrays) {
    char path[1024];
    snprintf(path, sizeof path, "%s/w.npz", harness_tmpdir());
    sl_npz_writer *w;
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    float f[3] = {1, NAN, 2};
    double d[2] = {0, INFINITY};
    size_t s3[1] = {3}, s2[1] = {2};
    CHECK_STATUS(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s3, f), SL_ERR_NAN);
    CHECK(contains(sl_last_error(), "'f'") && contains(sl_last_error(), "index 1"));
    CHECK_STATUS(sl_npz_writer_add(w, "d", SL_DTYPE_F64, 1, s2, d), SL_ERR_NAN);
    f[1] = 0;
    CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s3, f));
    CHECK_STATUS(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s3, f), SL_ERR_ARG);
    CHECK(contains(sl_last_error(), "duplicate"));
    CHECK_STATUS(sl_npz_writer_add(w, "a/b", SL_DTYPE_F32, 1, s3, f), SL_ERR_ARG);
    CHECK_STATUS(sl_npz_writer_add(w, "", SL_DTYPE_F32, 1, s3, f), SL_ERR_ARG);
    size_t huge[3] = {SIZE_MAX / 2, 4, 4};
    CHECK_STATUS(sl_npz_writer_add(w, "h", SL_DTYPE_F32, 3, huge, f), SL_ERR_RANGE);
    CHECK_STATUS(sl_npz_writer_add(w, "r", SL_DTYPE_F32, 9, huge, f), SL_ERR_ARG);
    CHECK_STATUS(sl_npz_writer_add(w, "t", SL_DTYPE_COUNT, 1, s3, f), SL_ERR_DTYPE);
    CHECK_OK(sl_npz_writer_commit(w));
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, path));
    CHECK(z && sl_npz_count(z) == 1 && sl_npz_has(z, "f"));
    sl_npz_close(z);
}

static int count_entries(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "exit $(ls -A '%s' | wc -l)", dir);
    return run_cmd(cmd);
}

TEST(failed_or_aborted_write_leaves_no_partial_file) {
    char dir[600], path[1024];
    snprintf(dir, sizeof dir, "%s/ro", harness_tmpdir());
    mkdir(dir, 0755);
    float f[2] = {1, 2};
    size_t s2[1] = {2};
    /* abort: nothing appears */
    snprintf(path, sizeof path, "%s/a.npz", dir);
    sl_npz_writer *w;
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_DEFLATE));
    CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s2, f));
    sl_npz_writer_abort(w);
    CHECK(count_entries(dir) == 0);
    /* existing file survives an aborted overwrite */
    CHECK_OK(sl_write_file_atomic(path, "old", 3));
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s2, f));
    sl_npz_writer_abort(w);
    char *txt;
    size_t len;
    CHECK_OK(sl_read_file(path, &txt, &len));
    CHECK(len == 3 && memcmp(txt, "old", 3) == 0);
    free(txt);
    unlink(path);
    /* the target is a non-empty directory: refused at open, before anything is written */
    char sub[800];
    snprintf(sub, sizeof sub, "%s/isdir.npz", dir);
    mkdir(sub, 0755);
    snprintf(path, sizeof path, "%s/keep", sub);
    CHECK_OK(sl_write_file_atomic(path, "k", 1));
    sl_status os = sl_npz_writer_open(&w, sub, SL_NPZ_STORED);
    CHECK_MSG(os == SL_ERR_IO && contains(sl_last_error(), "a directory"), "got %s '%s'",
              sl_strerror(os), sl_last_error());
    CHECK(count_entries(dir) == 1);
    unlink(path);
    rmdir(sub);
    /* the directory appears while the archive is written: rename fails, the temp file is
     * removed */
    CHECK_OK(sl_npz_writer_open(&w, sub, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s2, f));
    mkdir(sub, 0755);
    CHECK_OK(sl_write_file_atomic(path, "k", 1));
    sl_status rs = sl_npz_writer_commit(w);
    CHECK_MSG(rs == SL_ERR_IO && contains(sl_last_error(), "rename failed"), "got %s '%s'",
              sl_strerror(rs), sl_last_error());
    CHECK(count_entries(dir) == 1); /* only isdir.npz/, no temp file */
    unlink(path);
    rmdir(sub);
    /* the directory does not exist: clear I/O error */
    snprintf(path, sizeof path, "%s/missing/x.npz", dir);
    sl_status ms = sl_npz_writer_open(&w, path, SL_NPZ_STORED);
    if (ms == SL_OK) {
        CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s2, f));
        ms = sl_npz_writer_commit(w);
    }
    CHECK_MSG(ms == SL_ERR_IO && contains(sl_last_error(), path), "got %s '%s'",
              sl_strerror(ms), sl_last_error());
    CHECK(count_entries(dir) == 0);
    /* read-only directory: clear I/O error, nothing written (root ignores permissions) */
    snprintf(path, sizeof path, "%s/a.npz", dir);
    if (geteuid() != 0) {
        chmod(dir, 0555);
        sl_status s = sl_npz_writer_open(&w, path, SL_NPZ_STORED);
        if (s == SL_OK) {
            CHECK_OK(sl_npz_writer_add(w, "f", SL_DTYPE_F32, 1, s2, f));
            s = sl_npz_writer_commit(w);
        }
        CHECK_MSG(s == SL_ERR_IO && contains(sl_last_error(), path), "got %s '%s'",
                  sl_strerror(s), sl_last_error());
        chmod(dir, 0755);
        CHECK(count_entries(dir) == 0);
    }
}

int main(void) {
    RUN(numpy_writes_c_reads_bit_exact);
    RUN(c_writes_numpy_reads_bit_exact);
    RUN(empty_archive_round_trip);
    RUN(numpy_bad_files_rejected);
    RUN(crafted_headers_rejected);
    RUN(deflate_size_claim_checked_before_allocation);
    RUN(not_a_zip_and_io_errors);
    RUN(every_prefix_and_byte_flip_is_safe);
    RUN(writer_refuses_bad_arrays);
    RUN(failed_or_aborted_write_leaves_no_partial_file);
    return harness_done();
}
