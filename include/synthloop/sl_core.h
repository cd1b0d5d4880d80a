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
    SL_ERR_CANCELLED, /* a job stopped because its caller asked it to (sl_loop.h) */
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

/* --- loop layer support (issue 12): allocation hook, progress observer, output sets --- */

/* Allocation used by the recording paths (weight rows, branch rows, trust samples): malloc /
 * calloc of max(n, 1) bytes, with a test hook. Free with free(). */
void *sl_alloc(size_t n);
void *sl_calloc(size_t n, size_t size);
/* Test hook: after `n` more successful sl_alloc/sl_calloc calls (on any thread), the next one
 * returns NULL, once; then the hook disarms. n < 0 disarms it. */
void sl_test_fail_alloc_after(long n);

/* Progress observer: every sl_progress_update / sl_progress_end on this thread also calls
 * fn(ctx, label, done, total, extra) (extra may be NULL). The job layer uses it to forward
 * the stage modules' progress (and the "name value" pairs of extra as metrics) to its
 * callback. fn == NULL removes it. Thread-local; the previous observer is returned through
 * *prev_fn / *prev_ctx when non-NULL so that nested jobs can restore it. */
typedef void (*sl_progress_observer_fn)(void *ctx, const char *label, uint64_t done,
                                        uint64_t total, const char *extra);
void sl_progress_set_observer(sl_progress_observer_fn fn, void *ctx,
                              sl_progress_observer_fn *prev_fn, void **prev_ctx);

/* Remove files "<name>.tmp.<pid>" in directory `dir` whose <pid> is not a live process (left
 * by a writer killed during an atomic write). Only regular files directly in dir whose name
 * starts with `prefix` (NULL = any) are considered; returns the number removed in *removed
 * (may be NULL). Never fails on a file it cannot remove (it is left). */
sl_status sl_sweep_stale_tmp(const char *dir, const char *prefix, size_t *removed);

/* An output set: the files one job publishes, all or none.
 *   sl_outset os; sl_outset_init(&os);
 *   SL_TRY(sl_outset_add(&os, "out/model.safetensors", &stage));  // before any compute
 *   ... write the file to `stage` (with any writer; the stage path is owned by os) ...
 *   sl_outset_commit(&os) renames every staged file onto its final path (or, on failure,
 *   removes the staged files); sl_outset_abort(&os) removes them. sl_outset_free releases
 *   the set (after commit or abort; aborts first if neither was called).
 * sl_outset_add validates the output before anything is computed: its directory must exist
 * and be writable (a probe file is created there: the staged file itself, empty), it must not
 * be a directory, an existing read-only file is refused (never replaced), and the same path
 * cannot be added twice. It also sweeps stale temp files of dead writers beside it.
 * Commit renames in the order added; a rename can only fail after all files were written and
 * validated (then the remaining staged files are removed and the error names the file). */
typedef struct sl_outset {
    size_t n, cap;
    char **final_path, **stage_path; /* owned */
    int done;
} sl_outset;
void sl_outset_init(sl_outset *o);
sl_status sl_outset_add(sl_outset *o, const char *final_path, const char **stage_path);
sl_status sl_outset_commit(sl_outset *o);
void sl_outset_abort(sl_outset *o);
void sl_outset_free(sl_outset *o);
/* What every atomic writer does before it creates its temp file (sl_atomic_open and the NPZ
 * writer call it): refuse an existing read-only file (SL_ERR_IO, never replaced) and sweep
 * "<path>.tmp.<pid>" files of dead writers. */
sl_status sl_atomic_prepare(const char *path);
/* Check one output path the way sl_outset_add does, without creating anything. */
sl_status sl_output_check(const char *path);
/* --- end loop layer support --- */

/* --- HTTP client (src/core/http_client.c) ------------------------------------------------- */

/* POST `body` (JSON text) to an http:// URL ("http://host[:port]/path"; no TLS) with
 * "Authorization: Bearer <bearer>" when bearer is not NULL. One connection per request; the
 * whole exchange must finish within timeout_s seconds (<= 0: 60 s). On SL_OK, *status is the
 * HTTP status (whatever it is) and *resp the body, NUL-terminated, owned by the caller (free);
 * on failure (SL_ERR_IO: resolve, connect, send, receive, timeout, not HTTP) *resp is NULL. */
sl_status sl_http_post(const char *url, const char *body, const char *bearer, double timeout_s,
                       int *status, char **resp, size_t *resp_len);
/* The http:// URL `base` (trailing slashes dropped) followed by `suffix`, checked as
 * sl_http_post checks it, with the port made explicit, into out[cap]. */
sl_status sl_http_url_join(const char *base, const char *suffix, char *out, size_t cap);
/* GET an http:// URL, the same way (no token). */
sl_status sl_http_get(const char *url, double timeout_s, int *status, char **resp, size_t *resp_len);
/* A keep-alive connection to one server (base URL "http://host:port"), for many requests from
 * one thread: requests go out one at a time on the same socket, replies must carry a
 * Content-Length (the synthloop server's do). A connection the server closed between requests
 * is reopened once, transparently. timeout_s (<= 0: 60) covers each request. Not thread-safe;
 * sl_http_conn_close(NULL) is harmless. *resp as for sl_http_post. */
typedef struct sl_http_conn sl_http_conn;
sl_status sl_http_conn_open(const char *url, double timeout_s, sl_http_conn **out);
sl_status sl_http_conn_post(sl_http_conn *c, const char *path, const char *body, const char *bearer,
                            int *status, char **resp, size_t *resp_len);
void sl_http_conn_close(sl_http_conn *c);

#ifdef __cplusplus
}
#endif
#endif /* SL_CORE_H */
