/* SPDX-License-Identifier: Apache-2.0 */
/* sl_safetensors.h - the safetensors checkpoint format (read and write).
 *
 * Layout: u64 little-endian N, then N bytes of JSON header, then the byte buffer.
 * Header: {"__metadata__": {"key": "string", ...},
 *          "<tensor>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * Offsets are relative to the byte buffer. Supported dtypes: F32 F64 I32 I64 U8 BOOL (see
 * sl_dtype in sl_npz.h). We write tensors back to back in the given order and pad the header
 * with spaces so that the buffer starts on an 8-byte boundary. Config and provenance go into
 * __metadata__ as JSON text (values must be strings).
 *
 * Reading validates everything before allocating tensor memory: header length sane (at most
 * 100 MB and within the file), JSON is an object with no duplicate names, dtypes known,
 * shapes rank <= 8 without overflow, end - begin == prod(shape) * itemsize, and the tensors
 * tile the buffer exactly (sorted by offset: contiguous, non-overlapping, ending at the end
 * of the file). Errors name the file and the tensor.
 *
 * Ownership: an sl_safetensors owns its tensors (each an sl_array with its own aligned
 * buffer) and metadata; pointers returned by the accessors live until sl_safetensors_free.
 * Writes are atomic (sl_write_file_atomic semantics: old file or complete new file).
 */
#ifndef SL_SAFETENSORS_H
#define SL_SAFETENSORS_H

#include <cjson/cJSON.h>

#include "sl_core.h"
#include "sl_npz.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_ST_MAX_HEADER 100000000u /* same cap as the reference implementation */

/* A tensor to write: borrowed name and data (count * itemsize bytes, C order). */
typedef struct sl_tensor_ref {
    const char *name;
    sl_dtype dtype;
    int ndim;
    size_t shape[SL_ARRAY_MAX_DIMS];
    const void *data;
} sl_tensor_ref;

/* Write `n` tensors to `path` atomically. `metadata` may be NULL or a cJSON object whose
 * values are all strings (stored as "__metadata__"). Names must be unique, non-empty and not
 * "__metadata__". SL_ERR_NAN if a float tensor holds NaN/Inf (names the tensor and index). */
sl_status sl_safetensors_write(const char *path, const sl_tensor_ref *t, size_t n,
                               const cJSON *metadata);
/* Same into memory: *out (malloc'd, caller frees) holds *len bytes. */
sl_status sl_safetensors_write_mem(void **out, size_t *len, const sl_tensor_ref *t, size_t n,
                                   const cJSON *metadata);

typedef struct sl_safetensors sl_safetensors; /* a parsed file; opaque */

/* Read and validate a whole file. *out is owned by the caller (sl_safetensors_free). */
sl_status sl_safetensors_read(sl_safetensors **out, const char *path);
/* Same from memory (the bytes are copied; `what` names the buffer in messages). */
sl_status sl_safetensors_read_mem(sl_safetensors **out, const void *buf, size_t len,
                                  const char *what);
void sl_safetensors_free(sl_safetensors *st);

/* Tensors in file order (order of data offsets). Pointers owned by st. */
size_t sl_safetensors_count(const sl_safetensors *st);
const sl_array *sl_safetensors_at(const sl_safetensors *st, size_t i);
/* NULL if absent. */
const sl_array *sl_safetensors_find(const sl_safetensors *st, const char *name);
/* __metadata__ value for key, or NULL. Owned by st. */
const char *sl_safetensors_meta(const sl_safetensors *st, const char *key);
/* The whole __metadata__ object (never NULL; empty if absent). Owned by st. */
const cJSON *sl_safetensors_metadata(const sl_safetensors *st);

/* --- float32 parameter sets ------------------------------------------------ */

/* Write named float32 tensors: names[i], ndims[i], shapes[i][0..ndims[i]), data[i].
 * A thin wrapper over sl_safetensors_write for parameter arenas. */
sl_status sl_safetensors_write_f32(const char *path, size_t n, const char *const *names,
                                   const int *ndims, const size_t *const *shapes,
                                   const float *const *data, const cJSON *metadata);
/* Copy tensor `name` into dst after checking it is F32 with exactly this shape.
 * SL_ERR_NOTFOUND, SL_ERR_DTYPE or SL_ERR_SHAPE otherwise (message names file and tensor). */
sl_status sl_safetensors_get_f32(const sl_safetensors *st, const char *name, int ndim,
                                 const size_t *shape, float *dst);

#ifdef __cplusplus
}
#endif
#endif /* SL_SAFETENSORS_H */
