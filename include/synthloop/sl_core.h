/* SPDX-License-Identifier: Apache-2.0 */
/* sl_core.h - status codes, error messages, RNG, logging, progress bars, file helpers.
 *
 * The bottom layer of synthloop. Everything else includes this header.
 *
 * Conventions used across the library:
 *   - Functions that can fail return sl_status (SL_OK == 0). They never call exit().
 *   - On failure they also set a thread-local message readable with sl_last_error().
 *   - Destructors named sl_*_free accept NULL.
 *   - Ownership of returned pointers is stated next to each declaration.
 */
#ifndef SL_CORE_H
#define SL_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- status codes ------------------------------------------------------- */

typedef enum sl_status {
    SL_OK = 0,
    SL_ERR_NOMEM,     /* allocation failed */
    SL_ERR_IO,        /* read/write/open failed; errno text in the message */
    SL_ERR_FORMAT,    /* malformed file or stream */
    SL_ERR_ARG,       /* invalid argument from the caller */
    SL_ERR_SHAPE,     /* dimensions do not agree */
    SL_ERR_DTYPE,     /* unsupported or unexpected element type */
    SL_ERR_NAN,       /* NaN or Inf where finite numbers are required */
    SL_ERR_NOTFOUND,  /* key, file, row or name not found */
    SL_ERR_RANGE,     /* value out of allowed range / overflow */
    SL_ERR_DIVERGED,  /* a model or optimisation diverged */
    SL_ERR_DB,        /* database error */
    SL_ERR_PHYSICS,   /* physics engine error (MuJoCo) */
    SL_ERR_STATE,     /* operation not valid in the object's current state */
    SL_ERR_INTERNAL,  /* broken invariant inside synthloop (a bug) */
    SL_ERR_BUSY,      /* resource locked by another process (e.g. registry); retry later */
    SL_STATUS_COUNT
} sl_status;

/* Static description of a status code; never NULL. */
const char *sl_strerror(sl_status s);

/* Thread-local message describing the most recent failure on this thread.
 * Returns "" if none. The pointer stays valid until the next sl_set_error on the thread. */
const char *sl_last_error(void);

/* Set the thread-local message (printf-style) and return `s`, so that library code can write
 *   return sl_set_error(SL_ERR_FORMAT, "%s: bad magic", path); */
sl_status sl_set_error(sl_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clear the thread-local message. */
void sl_clear_error(void);

/* Internal-impossibility check: prints file:line and aborts. For bugs only, never for bad input. */
#define SL_ASSERT(cond)                                                                      \
    do {                                                                                     \
        if (!(cond)) sl_assert_fail(#cond, __FILE__, __LINE__);                              \
    } while (0)
void sl_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* Propagate a failing status: SL_TRY(f(x)); */
#define SL_TRY(expr)                                                                         \
    do {                                                                                     \
        sl_status sl_try_s_ = (expr);                                                        \
        if (sl_try_s_ != SL_OK) return sl_try_s_;                                            \
    } while (0)

/* --- version ------------------------------------------------------------ */

/* Library version, e.g. "0.1.0". */
const char *sl_version(void);
/* `git describe --always --dirty` of the build, or "unknown". */
const char *sl_git_describe(void);

/* --- random numbers ----------------------------------------------------- */

/* xoshiro256** generator. Same seed and stream => same sequence on every platform.
 * The struct is plain data: copy it to fork a generator. */
typedef struct sl_rng {
    uint64_t s[4];
    int has_spare;   /* cached second Box-Muller normal */
    double spare;
} sl_rng;

/* Seed a generator. `stream` selects an independent stream for the same seed
 * (e.g. one per worker, per ensemble member, per A/B arm). */
void sl_rng_seed(sl_rng *r, uint64_t seed, uint64_t stream);
uint64_t sl_rng_u64(sl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sl_rng_uniform(sl_rng *r);
/* Uniform in [lo, hi). */
double sl_rng_uniform_range(sl_rng *r, double lo, double hi);
/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
uint64_t sl_rng_below(sl_rng *r, uint64_t n);
/* Standard normal (Box-Muller, deterministic). */
double sl_rng_normal(sl_rng *r);
/* Index drawn with probability w[i] / sum(w). Weights must be >= 0 with a positive sum;
 * returns n if the sum is not positive. */
size_t sl_rng_categorical(sl_rng *r, const double *w, size_t n);
/* Fisher-Yates shuffle of an index array. */
void sl_rng_shuffle(sl_rng *r, size_t *idx, size_t n);

/* --- logging ------------------------------------------------------------ */

typedef enum sl_log_level {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR,
    SL_LOG_QUIET, /* nothing is printed */
    SL_LOG_LEVEL_COUNT
} sl_log_level;

/* Global threshold; messages below it are dropped. Default SL_LOG_INFO.
 * Env var SYNTHLOOP_LOG=debug|info|warn|error|quiet overrides the default at first use. */
void sl_log_set_level(sl_log_level lvl);
sl_log_level sl_log_get_level(void);
/* Print "synthloop: <level>: message\n" to stderr. */
void sl_log(sl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SL_DEBUG(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define SL_INFO(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define SL_WARN(...) sl_log(SL_LOG_WARN, __VA_ARGS__)

/* --- progress bar ------------------------------------------------------- */

/* A one-line progress bar on stderr. Silent when stderr is not a terminal or when
 * sl_progress_set_quiet(1) was called (the CLI's --quiet). */
typedef struct sl_progress {
    const char *label;
    uint64_t total, done;
    double t_start, t_last;
    int active;
} sl_progress;
void sl_progress_set_quiet(int quiet);
void sl_progress_begin(sl_progress *p, const char *label, uint64_t total);
/* Set progress to `done`; `extra` (may be NULL) is appended, e.g. "loss 0.123". */
void sl_progress_update(sl_progress *p, uint64_t done, const char *extra);
void sl_progress_end(sl_progress *p);

/* --- time --------------------------------------------------------------- */

/* Monotonic seconds (for progress and benchmarks; never used in results). */
double sl_now(void);
/* UTC wall clock as "YYYY-MM-DDTHH:MM:SSZ" into buf (size >= 21). */
void sl_utc_iso8601(char *buf, size_t n);

/* --- files -------------------------------------------------------------- */

/* Largest input file read or imported (8 GiB): a guard against devices and runaway files. */
#define SL_INPUT_MAX_BYTES ((uint64_t)8 << 30)

/* Check that `path` names a readable regular file of at most max_bytes bytes (opened without
 * blocking, so a FIFO is reported, not waited on; /dev/zero and directories are refused).
 * *size (may be NULL) receives its size. SL_ERR_ARG for an empty path, SL_ERR_IO when it
 * cannot be opened or is not a regular file, SL_ERR_RANGE when it is larger than max_bytes.
 * Every message names the path. */
sl_status sl_file_check_input(const char *path, uint64_t max_bytes, uint64_t *size);

/* Check, before any work is done, that `path` can be written as an output file: non-empty, not
 * an existing directory or other non-regular file, not an existing read-only file, and in an
 * existing, writable directory. Writes nothing. */
sl_status sl_file_check_output(const char *path);

/* Read a whole regular file (sl_file_check_input with SL_INPUT_MAX_BYTES). On success *out is
 * malloc'd (caller frees) and NUL-terminated (the NUL is not counted in *len). */
sl_status sl_read_file(const char *path, char **out, size_t *len);
/* The same with another size limit (a file that grows beyond it while read is refused too). */
sl_status sl_read_file_limit(const char *path, uint64_t max_bytes, char **out, size_t *len);

/* Atomically replace `path` with `len` bytes: write to "<path>.tmp.<pid>", fsync, rename,
 * fsync the directory. On any failure the temp file is removed and `path` is untouched.
 * The path is checked first with sl_file_check_output. */
sl_status sl_write_file_atomic(const char *path, const void *data, size_t len);

/* Streaming variant: open a temp file beside `path`; write with fwrite to f->fp;
 * sl_atomic_commit fsyncs and renames, sl_atomic_abort removes the temp file. */
typedef struct sl_atomic_file {
    FILE *fp;
    char *tmp_path;   /* owned */
    char *final_path; /* owned */
} sl_atomic_file;
sl_status sl_atomic_open(sl_atomic_file *f, const char *path);
sl_status sl_atomic_commit(sl_atomic_file *f);
void sl_atomic_abort(sl_atomic_file *f);

/* Hex SHA-256 of a file (65 bytes incl. NUL into hex). */
sl_status sl_sha256_file(const char *path, char hex[65]);

/* --- numeric helpers ---------------------------------------------------- */

/* 1 if all n values are finite. */
int sl_all_finite_f32(const float *x, size_t n);
int sl_all_finite_f64(const double *x, size_t n);
/* a * b into *out unless it overflows size_t (returns SL_ERR_RANGE). */
sl_status sl_mul_size(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif
#endif /* SL_CORE_H */
