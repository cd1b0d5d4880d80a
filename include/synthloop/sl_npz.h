/* SPDX-License-Identifier: Apache-2.0 */
/* sl_npz.h - n-dimensional arrays and numpy's .npz container (a zip of .npy members).
 *
 * Supported: dtypes f4, f8, i4, i8, u1, b1 (little endian), C order, rank 0..SL_ARRAY_MAX_DIMS
 * (0-d and zero-size arrays included); stored and deflated members; .npy header versions
 * 1.0, 2.0 and 3.0 on read, 1.0 on write (our headers are at most 256 bytes).
 * Rejected with a clear error: Fortran order (SL_ERR_FORMAT), big-endian or other dtypes
 * (SL_ERR_DTYPE), shapes whose byte size overflows (SL_ERR_RANGE), members whose byte count
 * disagrees with their header, truncated or corrupt archives (SL_ERR_FORMAT).
 * Zip members whose names do not end in ".npy" are ignored; array names are the member names
 * without ".npy" (what np.load shows as keys).
 *
 * The reader never allocates more than the archive can hold: every member's declared size is
 * checked against its header's shape and against the archive's size (at most the deflate
 * maximum ratio) before any buffer for it is allocated.
 * The reader accepts any float values (NaN included); the writer refuses non-finite floats.
 *
 * Ownership: sl_array_new / sl_npz_read return arrays owned by the caller (sl_array_free);
 * arrays returned by sl_npz_get are owned by the sl_npz and live until sl_npz_close.
 * Writers commit atomically: the target path holds either its old content or the complete new
 * archive, and a failed or aborted writer leaves no file behind.
 */
#ifndef SL_NPZ_H
#define SL_NPZ_H

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- element types and arrays --------------------------------------------- */

typedef enum sl_dtype {
    SL_DTYPE_F32 = 0, /* numpy '<f4'  safetensors F32  */
    SL_DTYPE_F64,     /* numpy '<f8'  safetensors F64  */
    SL_DTYPE_I32,     /* numpy '<i4'  safetensors I32  */
    SL_DTYPE_I64,     /* numpy '<i8'  safetensors I64  */
    SL_DTYPE_U8,      /* numpy '|u1'  safetensors U8   */
    SL_DTYPE_BOOL,    /* numpy '|b1'  safetensors BOOL (one byte, 0 or 1) */
    SL_DTYPE_COUNT
} sl_dtype;

#define SL_ARRAY_MAX_DIMS 8

/* Bytes per element (0 for an invalid dtype). */
size_t sl_dtype_size(sl_dtype dt);
/* numpy descr, e.g. "<f4", "|b1"; "?" for an invalid dtype. */
const char *sl_dtype_numpy(sl_dtype dt);
/* safetensors name, e.g. "F32", "BOOL"; "?" for an invalid dtype. */
const char *sl_dtype_st(sl_dtype dt);

typedef struct sl_array {
    char *name;                       /* owned, NUL-terminated */
    sl_dtype dtype;
    int ndim;                         /* 0..SL_ARRAY_MAX_DIMS; 0 = scalar (count 1) */
    size_t shape[SL_ARRAY_MAX_DIMS];  /* entries past ndim are 0 */
    size_t count;                     /* product of shape[0..ndim) */
    void *data;                       /* owned, count * sl_dtype_size(dtype) bytes, C order;
                                         never NULL (a 1-byte buffer when count is 0) */
} sl_array;

/* Number of elements of a shape, overflow-checked (elements and bytes): SL_ERR_RANGE if
 * count * itemsize would not fit in size_t, SL_ERR_ARG if ndim is out of range. */
sl_status sl_shape_count(int ndim, const size_t *shape, sl_dtype dt, size_t *count,
                         size_t *nbytes);

/* A new zero-filled array. *out is owned by the caller. */
sl_status sl_array_new(sl_array **out, const char *name, sl_dtype dt, int ndim,
                       const size_t *shape);
void sl_array_free(sl_array *a);
/* Bytes of a's data (count * itemsize). */
size_t sl_array_nbytes(const sl_array *a);

/* --- reading ------------------------------------------------------------- */

typedef struct sl_npz sl_npz; /* an open archive; opaque */

/* Open an .npz file and list its .npy members (headers are parsed lazily). *out is owned by
 * the caller (sl_npz_close). Errors: SL_ERR_IO (cannot open), SL_ERR_FORMAT (not a zip, bad
 * magic, corrupt directory, duplicate names). */
sl_status sl_npz_open(sl_npz **out, const char *path);
/* Same from memory. `buf` is borrowed and must outlive the sl_npz; `what` names the buffer in
 * error messages (copied). */
sl_status sl_npz_open_mem(sl_npz **out, const void *buf, size_t len, const char *what);
void sl_npz_close(sl_npz *z);

/* Number of .npy members and the i-th array name (owned by z). */
size_t sl_npz_count(const sl_npz *z);
const char *sl_npz_name(const sl_npz *z, size_t i);
/* 1 if an array named `name` exists. */
int sl_npz_has(const sl_npz *z, const char *name);

/* Read one array into a new sl_array owned by the caller. SL_ERR_NOTFOUND if absent. */
sl_status sl_npz_read(sl_npz *z, const char *name, sl_array **out);
/* Read (once, then cached) and return a pointer owned by z. SL_ERR_NOTFOUND if absent. */
sl_status sl_npz_get(sl_npz *z, const char *name, const sl_array **out);
/* Read every member into the cache (checks the whole archive). */
sl_status sl_npz_read_all(sl_npz *z);

/* --- writing ------------------------------------------------------------- */

typedef enum sl_npz_compress {
    SL_NPZ_STORED = 0, /* like np.savez */
    SL_NPZ_DEFLATE,    /* like np.savez_compressed */
    SL_NPZ_COMPRESS_COUNT
} sl_npz_compress;

typedef struct sl_npz_writer sl_npz_writer; /* opaque */

/* Start writing `path` (through "<path>.tmp.<pid>"). *out is owned by the caller until
 * commit/abort, which free it. */
sl_status sl_npz_writer_open(sl_npz_writer **out, const char *path, sl_npz_compress mode);
/* Add an array. `data` (count * itemsize bytes) is BORROWED: it must stay valid and unchanged
 * until sl_npz_writer_commit or sl_npz_writer_abort returns. Names: non-empty, no '/' or NUL,
 * unique. SL_ERR_NAN if a float array holds NaN/Inf (names the array and flat index). On any
 * error the writer stays usable (the failed array is not added). */
sl_status sl_npz_writer_add(sl_npz_writer *w, const char *name, sl_dtype dt, int ndim,
                            const size_t *shape, const void *data);
/* Write, fsync and rename into place; frees w (also on failure, leaving no temp file). */
sl_status sl_npz_writer_commit(sl_npz_writer *w);
/* Discard everything; frees w; accepts NULL. The target path is untouched. */
void sl_npz_writer_abort(sl_npz_writer *w);

/* Convenience: write `n` arrays (data borrowed for the call) atomically. */
sl_status sl_npz_write(const char *path, const sl_array *const *arrays, size_t n,
                       sl_npz_compress mode);

#ifdef __cplusplus
}
#endif
#endif /* SL_NPZ_H */
