/* SPDX-License-Identifier: Apache-2.0 */
/* npz.c - numpy .npy/.npz reading and writing over libzip.
 *
 * Key invariant: no buffer is sized from a number in the file before that number has been
 * checked against what the archive can actually hold. A member's uncompressed size must equal
 * its .npy header length plus prod(shape) * itemsize (overflow-checked), and that size must be
 * reachable from the member's compressed bytes (equal for stored members, at most the deflate
 * limit of 1032:1 for deflated ones), whose sum in turn cannot exceed the archive's size.
 * Writes go to "<path>.tmp.<pid>" (libzip itself writes a temp file and renames onto that),
 * which is fsynced and renamed onto <path>; failures unlink the temp file.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "synthloop/sl_npz.h"

/* Prefix the current error message (copied first: sl_set_error must not read its own buffer). */
static sl_status wrap_error(sl_status s, const char *where, const char *kind,
                            const char *name) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", sl_last_error());
    return sl_set_error(s, "%s: %s '%s': %s", where, kind, name, msg);
}

/* --- dtypes and arrays --------------------------------------------------- */

static const struct {
    size_t size;
    const char *numpy;
    const char *st;
} dtype_info[] = {
    [SL_DTYPE_F32] = {4, "<f4", "F32"}, [SL_DTYPE_F64] = {8, "<f8", "F64"},
    [SL_DTYPE_I32] = {4, "<i4", "I32"}, [SL_DTYPE_I64] = {8, "<i8", "I64"},
    [SL_DTYPE_U8] = {1, "|u1", "U8"},   [SL_DTYPE_BOOL] = {1, "|b1", "BOOL"},
};
_Static_assert(sizeof dtype_info / sizeof dtype_info[0] == SL_DTYPE_COUNT,
               "dtype table out of sync with sl_dtype");

static int dtype_ok(sl_dtype dt) { return (int)dt >= 0 && dt < SL_DTYPE_COUNT; }

size_t sl_dtype_size(sl_dtype dt) { return dtype_ok(dt) ? dtype_info[dt].size : 0; }
const char *sl_dtype_numpy(sl_dtype dt) { return dtype_ok(dt) ? dtype_info[dt].numpy : "?"; }
const char *sl_dtype_st(sl_dtype dt) { return dtype_ok(dt) ? dtype_info[dt].st : "?"; }

sl_status sl_shape_count(int ndim, const size_t *shape, sl_dtype dt, size_t *count,
                         size_t *nbytes) {
    if (ndim < 0 || ndim > SL_ARRAY_MAX_DIMS)
        return sl_set_error(SL_ERR_ARG, "rank %d outside 0..%d", ndim, SL_ARRAY_MAX_DIMS);
    if (!dtype_ok(dt)) return sl_set_error(SL_ERR_DTYPE, "invalid dtype %d", (int)dt);
    size_t c = 1;
    for (int i = 0; i < ndim; i++)
        if (sl_mul_size(c, shape[i], &c) != SL_OK)
            return sl_set_error(SL_ERR_RANGE, "shape element count overflows");
    size_t b;
    if (sl_mul_size(c, dtype_info[dt].size, &b) != SL_OK)
        return sl_set_error(SL_ERR_RANGE, "shape byte size overflows");
    /* A zero-size dimension makes the product 0 even if other dimensions are absurd; such a
     * shape is still refused when the full product overflows, so check it separately. */
    size_t nz = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] && sl_mul_size(nz, shape[i], &nz) != SL_OK)
            return sl_set_error(SL_ERR_RANGE, "shape element count overflows");
    if (count) *count = c;
    if (nbytes) *nbytes = b;
    return SL_OK;
}

/* New array; the data is zeroed only if `zero` (readers overwrite every byte anyway). */
static sl_status array_alloc(sl_array **out, const char *name, sl_dtype dt, int ndim,
                             const size_t *shape, int zero) {
    *out = NULL;
    size_t count, nbytes;
    SL_TRY(sl_shape_count(ndim, shape, dt, &count, &nbytes));
    sl_array *a = calloc(1, sizeof *a);
    if (!a) return sl_set_error(SL_ERR_NOMEM, "out of memory");
    a->name = strdup(name ? name : "");
    a->data = zero ? calloc(nbytes ? nbytes : 1, 1) : malloc(nbytes ? nbytes : 1);
    if (!a->name || !a->data) {
        sl_array_free(a);
        return sl_set_error(SL_ERR_NOMEM, "out of memory for array '%s' (%zu bytes)",
                            name ? name : "", nbytes);
    }
    a->dtype = dt;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->count = count;
    *out = a;
    return SL_OK;
}

sl_status sl_array_new(sl_array **out, const char *name, sl_dtype dt, int ndim,
                       const size_t *shape) {
    return array_alloc(out, name, dt, ndim, shape, 1);
}

void sl_array_free(sl_array *a) {
    if (!a) return;
    free(a->name);
    free(a->data);
    free(a);
}

size_t sl_array_nbytes(const sl_array *a) { return a->count * sl_dtype_size(a->dtype); }

/* --- .npy header parsing --------------------------------------------------- */

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses > 10000 bytes by default */
#define DEFLATE_MAX_RATIO 1032u

typedef struct npy_header {
    sl_dtype dtype;
    int ndim;
    size_t shape[SL_ARRAY_MAX_DIMS];
} npy_header;

typedef struct hparse {
    const char *s;
    size_t n, i;
} hparse;

static void hp_ws(hparse *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int hp_eat(hparse *p, char c) {
    hp_ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes ('...' or "..."), copied into buf. */
static int hp_str(hparse *p, char *buf, size_t cap) {
    hp_ws(p);
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"')) return 0;
    char q = p->s[p->i++];
    size_t k = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        char c = p->s[p->i++];
        if (c == '\\' || c == '\n' || k + 1 >= cap) return 0;
        buf[k++] = c;
    }
    if (p->i >= p->n) return 0;
    p->i++;
    buf[k] = '\0';
    return 1;
}

/* Non-negative integer (optional Python 2 'L' suffix). */
static int hp_uint(hparse *p, size_t *v) {
    hp_ws(p);
    size_t x = 0;
    int digits = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        size_t d = (size_t)(p->s[p->i] - '0');
        if (x > (SIZE_MAX - d) / 10) return -1; /* overflow */
        x = x * 10 + d;
        p->i++;
        digits++;
    }
    if (!digits) return 0;
    if (p->i < p->n && p->s[p->i] == 'L') p->i++;
    *v = x;
    return 1;
}

static int hp_word(hparse *p, const char *w) {
    hp_ws(p);
    size_t k = strlen(w);
    if (p->n - p->i >= k && memcmp(p->s + p->i, w, k) == 0) {
        p->i += k;
        return 1;
    }
    return 0;
}

static sl_status descr_to_dtype(const char *d, sl_dtype *dt, const char *what,
                                const char *member) {
    char order = d[0];
    const char *code = d + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '=';
        code = d;
    }
    for (int t = 0; t < SL_DTYPE_COUNT; t++) {
        if (strcmp(code, dtype_info[t].numpy + 1) != 0) continue;
        if (dtype_info[t].size == 1 || order == '<') {
            *dt = (sl_dtype)t;
            return SL_OK;
        }
        if (order == '>')
            return sl_set_error(SL_ERR_DTYPE,
                                "%s: array '%s': big-endian dtype '%s' is not supported", what,
                                member, d);
        break;
    }
    return sl_set_error(SL_ERR_DTYPE,
                        "%s: array '%s': unsupported dtype '%s' (supported: <f4 <f8 <i4 <i8 "
                        "|u1 |b1)",
                        what, member, d);
}

/* Parse "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" plus padding. */
static sl_status npy_parse_header(const char *s, size_t n, npy_header *h, const char *what,
                                  const char *member) {
    hparse p = {s, n, 0};
    int have_descr = 0, have_fo = 0, have_shape = 0, fortran = 0;
    char descr[64] = "";
    memset(h, 0, sizeof *h);
    if (!hp_eat(&p, '{'))
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': .npy header is not a dict", what,
                            member);
    for (;;) {
        if (hp_eat(&p, '}')) break;
        char key[32];
        if (!hp_str(&p, key, sizeof key) || !hp_eat(&p, ':'))
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': malformed .npy header at byte %zu", what,
                                member, p.i);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            hp_ws(&p);
            if (p.i < p.n && p.s[p.i] == '[')
                return sl_set_error(SL_ERR_DTYPE,
                                    "%s: array '%s': structured dtypes are not supported", what,
                                    member);
            if (!hp_str(&p, descr, sizeof descr))
                return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': bad 'descr' in .npy header",
                                    what, member);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fo) {
            if (hp_word(&p, "True"))
                fortran = 1;
            else if (!hp_word(&p, "False"))
                return sl_set_error(SL_ERR_FORMAT,
                                    "%s: array '%s': bad 'fortran_order' in .npy header", what,
                                    member);
            have_fo = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!hp_eat(&p, '('))
                return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': bad 'shape' in .npy header",
                                    what, member);
            int nd = 0;
            for (;;) {
                if (hp_eat(&p, ')')) break;
                size_t v;
                int r = hp_uint(&p, &v);
                if (r < 0)
                    return sl_set_error(SL_ERR_RANGE,
                                        "%s: array '%s': shape dimension overflows", what,
                                        member);
                if (r == 0)
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: array '%s': bad 'shape' in .npy header at byte %zu",
                                        what, member, p.i);
                if (nd >= SL_ARRAY_MAX_DIMS)
                    return sl_set_error(SL_ERR_SHAPE, "%s: array '%s': rank above %d", what,
                                        member, SL_ARRAY_MAX_DIMS);
                h->shape[nd++] = v;
                if (hp_eat(&p, ')')) break;
                if (!hp_eat(&p, ','))
                    return sl_set_error(SL_ERR_FORMAT,
                                        "%s: array '%s': bad 'shape' in .npy header at byte %zu",
                                        what, member, p.i);
            }
            h->ndim = nd;
            have_shape = 1;
        } else {
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': unexpected or repeated key '%s' in .npy header",
                                what, member, key);
        }
        if (hp_eat(&p, '}')) break;
        if (!hp_eat(&p, ','))
            return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': malformed .npy header at byte %zu",
                                what, member, p.i);
    }
    hp_ws(&p);
    if (p.i != p.n)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': trailing bytes after .npy header",
                            what, member);
    if (!have_descr || !have_fo || !have_shape)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: array '%s': .npy header lacks 'descr', 'fortran_order' or "
                            "'shape'",
                            what, member);
    /* For rank 0 and 1 both orders are the same bytes, so only higher ranks are refused. */
    if (fortran && h->ndim > 1) {
        return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': Fortran-order arrays are not supported "
                                "(save with np.ascontiguousarray)",
                                what, member);
    }
    SL_TRY(descr_to_dtype(descr, &h->dtype, what, member));
    return SL_OK;
}

/* --- reading ------------------------------------------------------------- */

typedef struct npz_member {
    char *name;          /* without ".npy" */
    zip_uint64_t index;  /* zip entry index */
    sl_array *cached;    /* sl_npz_get cache */
} npz_member;

struct sl_npz {
    zip_t *za;
    char *what;
    zip_uint64_t archive_size;
    size_t n;
    npz_member *m;
};

static int cmp_member_name(const void *a, const void *b) {
    return strcmp(((const npz_member *)a)->name, ((const npz_member *)b)->name);
}

static sl_status zip_err(sl_status s, const char *what, const char *ctx, int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    sl_status r = sl_set_error(s, "%s: %s: %s", what, ctx, zip_error_strerror(&e));
    zip_error_fini(&e);
    return r;
}

static sl_status check_magic(const unsigned char *b, size_t len, const char *what) {
    if (len == 0) return sl_set_error(SL_ERR_FORMAT, "%s: empty file is not an NPZ archive", what);
    if (len < 4 || b[0] != 'P' || b[1] != 'K' ||
        !((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6)))
        return sl_set_error(SL_ERR_FORMAT, "%s: bad magic: not an NPZ (zip) archive", what);
    return SL_OK;
}

static sl_status npz_from_source(sl_npz **out, zip_source_t *src, zip_uint64_t size,
                                 const char *what) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: corrupt or truncated NPZ archive: %s",
                                   what, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        zip_source_free(src);
        return s;
    }
    zip_error_fini(&ze);
    sl_npz *z = calloc(1, sizeof *z);
    if (!z || !(z->what = strdup(what))) {
        free(z);
        zip_discard(za);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    z->za = za;
    z->archive_size = size;
    zip_int64_t ne = zip_get_num_entries(za, 0);
    if (ne < 0) ne = 0;
    z->m = calloc((size_t)ne + 1, sizeof *z->m);
    if (!z->m) {
        sl_npz_close(z);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    zip_uint64_t comp_total = 0;
    for (zip_int64_t i = 0; i < ne; i++) {
        zip_stat_t st;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
            sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: cannot read zip entry %lld: %s", what,
                                       (long long)i, zip_strerror(za));
            sl_npz_close(z);
            return s;
        }
        if (st.valid & ZIP_STAT_COMP_SIZE) {
            comp_total += st.comp_size;
            if (st.comp_size > size || comp_total > size) {
                sl_status s = sl_set_error(SL_ERR_FORMAT,
                                           "%s: zip entry '%s' claims %llu compressed bytes, "
                                           "more than the archive holds",
                                           what, st.name, (unsigned long long)st.comp_size);
                sl_npz_close(z);
                return s;
            }
        }
        size_t len = strlen(st.name);
        if (len < 4 || strcmp(st.name + len - 4, ".npy") != 0) continue;
        char *nm = strndup(st.name, len - 4);
        if (!nm) {
            sl_npz_close(z);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
        }
        z->m[z->n].name = nm;
        z->m[z->n].index = (zip_uint64_t)i;
        z->n++;
    }
    /* Duplicate names: check on a sorted copy so that member order stays the archive's. */
    if (z->n > 1) {
        npz_member *tmp = malloc(z->n * sizeof *tmp);
        if (!tmp) {
            sl_npz_close(z);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
        }
        memcpy(tmp, z->m, z->n * sizeof *tmp);
        qsort(tmp, z->n, sizeof *tmp, cmp_member_name);
        for (size_t i = 1; i < z->n; i++) {
            if (strcmp(tmp[i - 1].name, tmp[i].name) == 0) {
                sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: duplicate array name '%s'", what,
                                           tmp[i].name);
                free(tmp);
                sl_npz_close(z);
                return s;
            }
        }
        free(tmp);
    }
    *out = z;
    return SL_OK;
}

sl_status sl_npz_open(sl_npz **out, const char *path) {
    *out = NULL;
    /* a regular file first: fopen on a FIFO would block */
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, NULL));
    FILE *f = fopen(path, "rb");
    if (!f) return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char magic[4];
    size_t got = fread(magic, 1, sizeof magic, f);
    struct stat sb;
    int fs = fstat(fileno(f), &sb);
    fclose(f);
    if (fs != 0) return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return sl_set_error(SL_ERR_IO, "%s: not a regular file", path);
    SL_TRY(check_magic(magic, got, path));
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_file_create(path, 0, -1, &ze);
    if (!src) {
        sl_status s = sl_set_error(SL_ERR_IO, "%s: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return s;
    }
    zip_error_fini(&ze);
    return npz_from_source(out, src, (zip_uint64_t)sb.st_size, path);
}

sl_status sl_npz_open_mem(sl_npz **out, const void *buf, size_t len, const char *what) {
    *out = NULL;
    if (!what) what = "<memory>";
    if (!buf && len) return sl_set_error(SL_ERR_ARG, "%s: NULL buffer", what);
    SL_TRY(check_magic(buf, len, what));
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
    if (!src) {
        sl_status s = sl_set_error(SL_ERR_NOMEM, "%s: %s", what, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return s;
    }
    zip_error_fini(&ze);
    return npz_from_source(out, src, len, what);
}

void sl_npz_close(sl_npz *z) {
    if (!z) return;
    if (z->za) zip_discard(z->za);
    for (size_t i = 0; i < z->n; i++) {
        free(z->m[i].name);
        sl_array_free(z->m[i].cached);
    }
    free(z->m);
    free(z->what);
    free(z);
}

size_t sl_npz_count(const sl_npz *z) { return z ? z->n : 0; }

const char *sl_npz_name(const sl_npz *z, size_t i) {
    return z && i < z->n ? z->m[i].name : NULL;
}

static npz_member *find_member(const sl_npz *z, const char *name) {
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->m[i].name, name) == 0) return &z->m[i];
    return NULL;
}

int sl_npz_has(const sl_npz *z, const char *name) { return z && find_member(z, name) != NULL; }

/* Read exactly n bytes; returns SL_OK, or an error naming the member. */
static sl_status zread_exact(zip_file_t *zf, void *buf, size_t n, const sl_npz *z,
                             const char *member, const char *part) {
    size_t done = 0;
    while (done < n) {
        zip_int64_t r = zip_fread(zf, (char *)buf + done, n - done);
        if (r < 0)
            return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': reading %s at byte %zu: %s",
                                z->what, member, part, done, zip_file_strerror(zf));
        if (r == 0)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': truncated %s (%zu of %zu bytes present)",
                                z->what, member, part, done, n);
        done += (size_t)r;
    }
    return SL_OK;
}

static sl_status read_member(sl_npz *z, npz_member *mb, sl_array **out) {
    *out = NULL;
    const char *what = z->what, *nm = mb->name;
    zip_stat_t st;
    if (zip_stat_index(z->za, mb->index, 0, &st) != 0)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': %s", what, nm, zip_strerror(z->za));
    zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & need) != need)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': incomplete zip entry", what, nm);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': encrypted members are not supported",
                            what, nm);
    if (st.comp_method == ZIP_CM_STORE) {
        if (st.size != st.comp_size)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': stored member size %llu != compressed size %llu",
                                what, nm, (unsigned long long)st.size,
                                (unsigned long long)st.comp_size);
    } else if (st.comp_method == ZIP_CM_DEFLATE) {
        if (st.size > 1024 && (st.size - 1024) / DEFLATE_MAX_RATIO > st.comp_size)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: array '%s': declared size %llu bytes cannot come from %llu "
                                "deflated bytes",
                                what, nm, (unsigned long long)st.size,
                                (unsigned long long)st.comp_size);
    } else {
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: array '%s': unsupported zip compression method %u", what, nm,
                            (unsigned)st.comp_method);
    }
    if (st.size < NPY_MAGIC_LEN + 4)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': truncated .npy header (%llu bytes)",
                            what, nm, (unsigned long long)st.size);
    zip_file_t *zf = zip_fopen_index(z->za, mb->index, 0);
    if (!zf)
        return sl_set_error(SL_ERR_FORMAT, "%s: array '%s': %s", what, nm, zip_strerror(z->za));
    sl_status s = SL_OK;
    char *hdr = NULL;
    sl_array *a = NULL;
    unsigned char pre[NPY_MAGIC_LEN + 4];
    s = zread_exact(zf, pre, NPY_MAGIC_LEN + 2, z, nm, ".npy header");
    if (s != SL_OK) goto done;
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        s = sl_set_error(SL_ERR_FORMAT, "%s: array '%s': bad .npy magic", what, nm);
        goto done;
    }
    unsigned major = pre[6], minor = pre[7];
    size_t prelen, hlen;
    if (major == 1 && minor == 0) {
        prelen = NPY_MAGIC_LEN + 4;
        s = zread_exact(zf, pre + 8, 2, z, nm, ".npy header");
        if (s != SL_OK) goto done;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        prelen = NPY_MAGIC_LEN + 6;
        if (st.size < prelen) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: array '%s': truncated .npy header", what, nm);
            goto done;
        }
        unsigned char l4[4];
        s = zread_exact(zf, l4, 4, z, nm, ".npy header");
        if (s != SL_OK) goto done;
        hlen = (size_t)l4[0] | (size_t)l4[1] << 8 | (size_t)l4[2] << 16 | (size_t)l4[3] << 24;
    } else {
        s = sl_set_error(SL_ERR_FORMAT, "%s: array '%s': unsupported .npy version %u.%u", what,
                         nm, major, minor);
        goto done;
    }
    if (hlen > NPY_MAX_HEADER || hlen > st.size - prelen) {
        s = sl_set_error(SL_ERR_FORMAT,
                         "%s: array '%s': .npy header length %zu exceeds the member (%llu bytes)"
                         " or the %u-byte limit",
                         what, nm, hlen, (unsigned long long)st.size, NPY_MAX_HEADER);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    s = zread_exact(zf, hdr, hlen, z, nm, ".npy header");
    if (s != SL_OK) goto done;
    hdr[hlen] = '\0';
    npy_header h;
    s = npy_parse_header(hdr, hlen, &h, what, nm);
    if (s != SL_OK) goto done;
    size_t count, nbytes;
    s = sl_shape_count(h.ndim, h.shape, h.dtype, &count, &nbytes);
    if (s != SL_OK) {
        s = wrap_error(s, what, "array", nm);
        goto done;
    }
    zip_uint64_t have = st.size - prelen - hlen;
    if (have != nbytes) {
        s = sl_set_error(SL_ERR_FORMAT,
                         "%s: array '%s': member holds %llu data bytes but dtype %s with %zu "
                         "elements needs %zu",
                         what, nm, (unsigned long long)have, sl_dtype_numpy(h.dtype), count,
                         nbytes);
        goto done;
    }
    s = array_alloc(&a, nm, h.dtype, h.ndim, h.shape, 0);
    if (s != SL_OK) goto done;
    s = zread_exact(zf, a->data, nbytes, z, nm, "array data");
    if (s != SL_OK) goto done;
    /* Reading to EOF makes libzip verify the CRC and catches over-long members. */
    char extra;
    zip_int64_t r = zip_fread(zf, &extra, 1);
    if (r != 0) {
        s = sl_set_error(SL_ERR_FORMAT, "%s: array '%s': %s", what, nm,
                         r < 0 ? zip_file_strerror(zf) : "more data than declared");
        goto done;
    }
done:
    free(hdr);
    if (zip_fclose(zf) != 0 && s == SL_OK)
        s = sl_set_error(SL_ERR_FORMAT, "%s: array '%s': checksum or read error", what, nm);
    if (s != SL_OK) {
        sl_array_free(a);
        return s;
    }
    *out = a;
    return SL_OK;
}

sl_status sl_npz_read(sl_npz *z, const char *name, sl_array **out) {
    *out = NULL;
    npz_member *mb = find_member(z, name);
    if (!mb) return sl_set_error(SL_ERR_NOTFOUND, "%s: no array named '%s'", z->what, name);
    return read_member(z, mb, out);
}

sl_status sl_npz_get(sl_npz *z, const char *name, const sl_array **out) {
    *out = NULL;
    npz_member *mb = find_member(z, name);
    if (!mb) return sl_set_error(SL_ERR_NOTFOUND, "%s: no array named '%s'", z->what, name);
    if (!mb->cached) SL_TRY(read_member(z, mb, &mb->cached));
    *out = mb->cached;
    return SL_OK;
}

sl_status sl_npz_read_all(sl_npz *z) {
    for (size_t i = 0; i < z->n; i++)
        if (!z->m[i].cached) SL_TRY(read_member(z, &z->m[i], &z->m[i].cached));
    return SL_OK;
}

/* --- writing ------------------------------------------------------------- */

/* Fixed member time (2020-01-01T00:00:00Z) so that equal arrays give equal bytes. */
#define NPZ_MTIME ((time_t)1577836800)

typedef struct wsrc {
    unsigned char hdr[512];
    size_t hlen;
    const unsigned char *data;
    size_t dlen;
    zip_uint64_t pos;
    zip_error_t err;
} wsrc;

static zip_int64_t wsrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    wsrc *w = ud;
    zip_uint64_t total = (zip_uint64_t)w->hlen + w->dlen;
    switch (cmd) {
    case ZIP_SOURCE_OPEN: w->pos = 0; return 0;
    case ZIP_SOURCE_READ: {
        zip_uint64_t n = total - w->pos < len ? total - w->pos : len;
        unsigned char *o = data;
        zip_uint64_t done = 0;
        while (done < n) {
            zip_uint64_t p = w->pos + done;
            if (p < w->hlen) {
                zip_uint64_t k = w->hlen - p < n - done ? w->hlen - p : n - done;
                memcpy(o + done, w->hdr + p, k);
                done += k;
            } else {
                memcpy(o + done, w->data + (p - w->hlen), n - done);
                done = n;
            }
        }
        w->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE: return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &w->err);
        if (!st) return -1;
        zip_stat_init(st);
        st->size = total;
        st->mtime = NPZ_MTIME;
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&w->err, data, len);
    case ZIP_SOURCE_FREE:
        zip_error_fini(&w->err);
        free(w);
        return 0;
    case ZIP_SOURCE_SEEK: {
        zip_int64_t np = zip_source_seek_compute_offset(w->pos, total, data, len, &w->err);
        if (np < 0) return -1;
        w->pos = (zip_uint64_t)np;
        return 0;
    }
    case ZIP_SOURCE_TELL: return (zip_int64_t)w->pos;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
                                              ZIP_SOURCE_SUPPORTS, -1);
    default: zip_error_set(&w->err, ZIP_ER_OPNOTSUPP, 0); return -1;
    }
}

/* numpy-style version 1.0 header (under 256 bytes for rank <= 8), padded to 64 bytes. */
static size_t npy_make_header(unsigned char *out, size_t cap, sl_dtype dt, int ndim,
                              const size_t *shape) {
    char dict[400];
    size_t k = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                sl_dtype_numpy(dt));
    for (int i = 0; i < ndim; i++)
        k += (size_t)snprintf(dict + k, sizeof dict - k, "%s%zu", i ? ", " : "", shape[i]);
    k += (size_t)snprintf(dict + k, sizeof dict - k, "%s), }", ndim == 1 ? "," : "");
    size_t pre = NPY_MAGIC_LEN + 4;
    size_t total = (pre + k + 1 + 63) / 64 * 64;
    SL_ASSERT(total <= cap && total - pre <= 65535);
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = 1;
    out[7] = 0;
    size_t hl = total - pre;
    out[8] = (unsigned char)(hl & 0xff);
    out[9] = (unsigned char)(hl >> 8);
    memcpy(out + pre, dict, k);
    memset(out + pre + k, ' ', total - pre - k - 1);
    out[total - 1] = '\n';
    return total;
}

struct sl_npz_writer {
    zip_t *za;
    char *path, *tmp;
    sl_npz_compress mode;
    size_t n;
};

sl_status sl_npz_writer_open(sl_npz_writer **out, const char *path, sl_npz_compress mode) {
    *out = NULL;
    if ((int)mode < 0 || mode >= SL_NPZ_COMPRESS_COUNT)
        return sl_set_error(SL_ERR_ARG, "%s: invalid compression mode %d", path, (int)mode);
    SL_TRY(sl_file_check_output(path));
    SL_TRY(sl_atomic_prepare(path));
    sl_npz_writer *w = calloc(1, sizeof *w);
    size_t tl = strlen(path) + 32;
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(tl))) {
        if (w) free(w->path);
        free(w);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(w->tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    w->mode = mode;
    int err = 0;
    w->za = zip_open(w->tmp, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!w->za) {
        sl_status s = zip_err(SL_ERR_IO, path, "cannot create archive", err);
        free(w->path);
        free(w->tmp);
        free(w);
        return s;
    }
    *out = w;
    return SL_OK;
}

static sl_status first_nonfinite(sl_dtype dt, const void *data, size_t count, size_t *at) {
    if (dt == SL_DTYPE_F32) {
        const float *x = data;
        for (size_t i = 0; i < count; i++)
            if (!isfinite(x[i])) {
                *at = i;
                return SL_ERR_NAN;
            }
    } else if (dt == SL_DTYPE_F64) {
        const double *x = data;
        for (size_t i = 0; i < count; i++)
            if (!isfinite(x[i])) {
                *at = i;
                return SL_ERR_NAN;
            }
    }
    return SL_OK;
}

sl_status sl_npz_writer_add(sl_npz_writer *w, const char *name, sl_dtype dt, int ndim,
                            const size_t *shape, const void *data) {
    if (!w || !w->za) return sl_set_error(SL_ERR_STATE, "npz writer is not open");
    if (!name || !*name || strchr(name, '/') || strlen(name) > 1000)
        return sl_set_error(SL_ERR_ARG, "%s: invalid array name '%s'", w->path,
                            name ? name : "(null)");
    size_t count, nbytes;
    sl_status s = sl_shape_count(ndim, shape, dt, &count, &nbytes);
    if (s != SL_OK) return wrap_error(s, w->path, "array", name);
    if (nbytes && !data)
        return sl_set_error(SL_ERR_ARG, "%s: array '%s': NULL data", w->path, name);
    size_t bad;
    if (first_nonfinite(dt, data, count, &bad) != SL_OK)
        return sl_set_error(SL_ERR_NAN,
                            "%s: array '%s': non-finite value at flat index %zu; refusing to "
                            "write NaN/Inf",
                            w->path, name, bad);
    char member[1024 + 8];
    snprintf(member, sizeof member, "%s.npy", name);
    if (zip_name_locate(w->za, member, 0) >= 0)
        return sl_set_error(SL_ERR_ARG, "%s: duplicate array name '%s'", w->path, name);
    wsrc *ws = calloc(1, sizeof *ws);
    if (!ws) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", w->path);
    ws->hlen = npy_make_header(ws->hdr, sizeof ws->hdr, dt, ndim, shape);
    ws->data = data;
    ws->dlen = nbytes;
    zip_error_init(&ws->err);
    zip_source_t *src = zip_source_function(w->za, wsrc_cb, ws);
    if (!src) {
        zip_error_fini(&ws->err);
        free(ws);
        return sl_set_error(SL_ERR_NOMEM, "%s: %s", w->path, zip_strerror(w->za));
    }
    zip_int64_t idx = zip_file_add(w->za, member, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        s = sl_set_error(SL_ERR_IO, "%s: array '%s': %s", w->path, name, zip_strerror(w->za));
        zip_source_free(src); /* frees ws through ZIP_SOURCE_FREE */
        return s;
    }
    zip_int32_t method = w->mode == SL_NPZ_DEFLATE ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    if (zip_set_file_compression(w->za, (zip_uint64_t)idx, method, 0) != 0 ||
        zip_file_set_mtime(w->za, (zip_uint64_t)idx, NPZ_MTIME, 0) != 0) {
        s = sl_set_error(SL_ERR_IO, "%s: array '%s': %s", w->path, name, zip_strerror(w->za));
        zip_delete(w->za, (zip_uint64_t)idx);
        return s;
    }
    w->n++;
    return SL_OK;
}

static void writer_free(sl_npz_writer *w) {
    if (!w) return;
    if (w->za) zip_discard(w->za);
    free(w->path);
    free(w->tmp);
    free(w);
}

void sl_npz_writer_abort(sl_npz_writer *w) {
    if (!w) return;
    if (w->tmp) unlink(w->tmp);
    writer_free(w);
}

static void fsync_parent(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

sl_status sl_npz_writer_commit(sl_npz_writer *w) {
    if (!w || !w->za) {
        writer_free(w);
        return sl_set_error(SL_ERR_STATE, "npz writer is not open");
    }
    if (w->n == 0) {
        /* libzip does not write archives without entries; numpy writes a bare end record. */
        static const unsigned char eocd[22] = {'P', 'K', 5, 6};
        sl_status s = sl_write_file_atomic(w->path, eocd, sizeof eocd);
        sl_npz_writer_abort(w);
        return s;
    }
    if (zip_close(w->za) != 0) {
        sl_status s = sl_set_error(SL_ERR_IO, "%s: writing archive failed: %s", w->path,
                                   zip_strerror(w->za));
        sl_npz_writer_abort(w); /* discards za */
        return s;
    }
    w->za = NULL;
    int fd = open(w->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        sl_status s = sl_set_error(SL_ERR_IO, "%s: fsync failed: %s", w->path, strerror(e));
        sl_npz_writer_abort(w);
        return s;
    }
    close(fd);
    if (rename(w->tmp, w->path) != 0) {
        sl_status s = sl_set_error(SL_ERR_IO, "%s: rename failed: %s", w->path, strerror(errno));
        sl_npz_writer_abort(w);
        return s;
    }
    fsync_parent(w->path);
    writer_free(w);
    return SL_OK;
}

sl_status sl_npz_write(const char *path, const sl_array *const *arrays, size_t n,
                       sl_npz_compress mode) {
    sl_npz_writer *w;
    SL_TRY(sl_npz_writer_open(&w, path, mode));
    for (size_t i = 0; i < n; i++) {
        const sl_array *a = arrays[i];
        sl_status s = sl_npz_writer_add(w, a->name, a->dtype, a->ndim, a->shape, a->data);
        if (s != SL_OK) {
            sl_npz_writer_abort(w);
            return s;
        }
    }
    return sl_npz_writer_commit(w);
}
