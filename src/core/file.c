/* SPDX-License-Identifier: Apache-2.0 */
/* file.c - whole-file reads, atomic writes (temp + fsync + rename + dir fsync), hashing,
 * and small numeric helpers. Invariant: a path written through this module is either the
 * old content or the complete new content, never a mix, even if the process is killed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synthloop/sl_core.h"

/* --- inputs --------------------------------------------------------------- */

static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* Open path for reading without blocking (a FIFO with no writer would block open()) and check
 * it is a regular file within max_bytes. Returns the descriptor (blocking again) in *fd. */
static sl_status open_input(const char *path, uint64_t max_bytes, int *fd, uint64_t *size) {
    *fd = -1;
    if (!path || !*path) return sl_set_error(SL_ERR_ARG, "input path is empty");
    int d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d < 0) return sl_set_error(SL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(d, &sb) != 0) {
        int e = errno;
        close(d);
        return sl_set_error(SL_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(d);
        return sl_set_error(SL_ERR_IO, "%s: is %s; only regular files are read", path,
                            file_kind(sb.st_mode));
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(d);
        return sl_set_error(SL_ERR_RANGE, "%s: %llu bytes, more than the input limit of %llu",
                            path, (unsigned long long)sb.st_size, (unsigned long long)max_bytes);
    }
    int fl = fcntl(d, F_GETFL);
    if (fl >= 0) (void)fcntl(d, F_SETFL, fl & ~O_NONBLOCK);
    *fd = d;
    if (size) *size = (uint64_t)sb.st_size;
    return SL_OK;
}

sl_status sl_file_check_input(const char *path, uint64_t max_bytes, uint64_t *size) {
    int fd;
    SL_TRY(open_input(path, max_bytes, &fd, size));
    close(fd);
    return SL_OK;
}

sl_status sl_read_file_limit(const char *path, uint64_t max_bytes, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    int fd;
    uint64_t size = 0;
    SL_TRY(open_input(path, max_bytes, &fd, &size));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(e));
    }
    /* start at the stated size (+1 to see EOF); files such as /proc's state 0 and grow */
    size_t cap = size + 1 < ((size_t)1 << 16) ? (size_t)1 << 16 : (size_t)size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > max_bytes) {
            free(buf);
            fclose(f);
            return sl_set_error(SL_ERR_RANGE, "%s: more than the input limit of %llu bytes",
                                path, (unsigned long long)max_bytes);
        }
        if (n < cap) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                fclose(f);
                return sl_set_error(SL_ERR_IO, "%s: read failed: %s", path, strerror(e));
            }
            break;
        }
        size_t ncap = cap * 2;
        char *nb = realloc(buf, ncap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        }
        buf = nb;
        cap = ncap;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return SL_OK;
}

sl_status sl_read_file(const char *path, char **out, size_t *len) {
    return sl_read_file_limit(path, SL_INPUT_MAX_BYTES, out, len);
}

/* --- outputs -------------------------------------------------------------- */

sl_status sl_file_check_output(const char *path) {
    if (!path || !*path) return sl_set_error(SL_ERR_ARG, "output path is empty");
    size_t n = strlen(path);
    if (path[n - 1] == '/')
        return sl_set_error(SL_ERR_ARG, "%s: output path names a directory, not a file", path);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return sl_set_error(SL_ERR_IO, "%s: exists and is %s; refusing to replace it", path,
                                file_kind(sb.st_mode));
        if (access(path, W_OK) != 0)
            return sl_set_error(SL_ERR_IO, "%s: exists and is read-only; refusing to replace it",
                                path);
    } else if (errno != ENOENT) {
        return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(errno));
    }
    char *copy = strdup(path);
    if (!copy) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    const char *dir = dirname(copy);
    sl_status s = SL_OK;
    if (stat(dir, &sb) != 0)
        s = sl_set_error(SL_ERR_IO, "%s: output directory '%s': %s", path, dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        s = sl_set_error(SL_ERR_IO, "%s: '%s' is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        s = sl_set_error(SL_ERR_IO, "%s: output directory '%s' is not writable: %s", path, dir,
                         strerror(errno));
    free(copy);
    return s;
}

static void fsync_dir_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

sl_status sl_atomic_prepare(const char *path) {
    /* a read-only file is a user's statement: refuse instead of renaming over it */
    struct stat pst;
    if (stat(path, &pst) == 0 && S_ISREG(pst.st_mode) && (pst.st_mode & 0222) == 0)
        return sl_set_error(SL_ERR_IO, "%s: exists and is read-only; not replaced (remove it "
                            "or make it writable)", path);
    /* temp files of this path left by writers that were killed */
    char *copy = strdup(path), *copy2 = strdup(path);
    if (copy && copy2) {
        const char *b = basename(copy2);
        size_t nb = strlen(b) + 6;
        char *pre = malloc(nb);
        if (pre) {
            snprintf(pre, nb, "%s.tmp.", b);
            sl_sweep_stale_tmp(dirname(copy), pre, NULL);
        }
        free(pre);
    }
    free(copy);
    free(copy2);
    return SL_OK;
}

sl_status sl_atomic_open(sl_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    SL_TRY(sl_file_check_output(path));
    SL_TRY(sl_atomic_prepare(path));
    size_t n = strlen(path) + 32;
    f->tmp_path = malloc(n);
    f->final_path = strdup(path);
    if (!f->tmp_path || !f->final_path) {
        free(f->tmp_path);
        free(f->final_path);
        memset(f, 0, sizeof *f);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        int e = errno;
        free(f->tmp_path);
        free(f->final_path);
        memset(f, 0, sizeof *f);
        return sl_set_error(SL_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    return SL_OK;
}

void sl_atomic_abort(sl_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
}

sl_status sl_atomic_commit(sl_atomic_file *f) {
    if (!f->fp) return sl_set_error(SL_ERR_STATE, "atomic file not open");
    int bad = ferror(f->fp);
    int e = errno;
    if (fflush(f->fp) != 0) {
        bad = 1;
        e = errno;
    }
    if (!bad && fsync(fileno(f->fp)) != 0) {
        bad = 1;
        e = errno;
    }
    if (fclose(f->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    f->fp = NULL;
    if (bad) {
        sl_status s = sl_set_error(SL_ERR_IO, "%s: write failed: %s", f->final_path, strerror(e));
        sl_atomic_abort(f);
        return s;
    }
    if (rename(f->tmp_path, f->final_path) != 0) {
        e = errno;
        sl_status s = sl_set_error(SL_ERR_IO, "%s: rename failed: %s", f->final_path, strerror(e));
        sl_atomic_abort(f);
        return s;
    }
    fsync_dir_of(f->final_path);
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
    return SL_OK;
}

sl_status sl_write_file_atomic(const char *path, const void *data, size_t len) {
    sl_atomic_file f;
    SL_TRY(sl_atomic_open(&f, path));
    if (len && fwrite(data, 1, len, f.fp) != len) {
        sl_status s = sl_set_error(SL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        sl_atomic_abort(&f);
        return s;
    }
    return sl_atomic_commit(&f);
}

sl_status sl_sha256_file(const char *path, char hex[65]) {
    /* never hash a device or a FIFO (endless, or blocking) */
    SL_TRY(sl_file_check_input(path, UINT64_MAX, NULL));
    FILE *f = fopen(path, "rb");
    if (!f) return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
    int err = ferror(f);
    fclose(f);
    if (err) return sl_set_error(SL_ERR_IO, "%s: read failed", path);
    unsigned char dig[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, dig);
    sodium_bin2hex(hex, 65, dig, sizeof dig);
    return SL_OK;
}

int sl_all_finite_f32(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int sl_all_finite_f64(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

sl_status sl_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return sl_set_error(SL_ERR_RANGE, "size overflow");
    *out = a * b;
    return SL_OK;
}
