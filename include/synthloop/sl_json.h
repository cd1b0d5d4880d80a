/* SPDX-License-Identifier: Apache-2.0 */
/* sl_json.h - small helpers over cJSON (Debian's libcjson) for configs, sidecars and reports.
 *
 * All cJSON objects returned are owned by the caller (free with cJSON_Delete).
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <cjson/cJSON.h>

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse a JSON file. On success *out is a new object (caller deletes). Errors name the file
 * and the byte offset of the parse failure. */
sl_status sl_json_read_file(const char *path, cJSON **out);

/* Print `j` (formatted) and write it atomically to `path` with a trailing newline. */
sl_status sl_json_write_file(const char *path, const cJSON *j);

/* Typed getters with defaults: return `def` if the key is missing or has the wrong type. */
double sl_json_num(const cJSON *obj, const char *key, double def);
int sl_json_int(const cJSON *obj, const char *key, int def);
const char *sl_json_str(const cJSON *obj, const char *key, const char *def);
int sl_json_bool(const cJSON *obj, const char *key, int def);

/* Add a float/double array to obj under key. Returns the new array or NULL on OOM. */
cJSON *sl_json_add_f64_array(cJSON *obj, const char *key, const double *x, size_t n);
cJSON *sl_json_add_f32_array(cJSON *obj, const char *key, const float *x, size_t n);

/* Adds {"seed": seed, "version": sl_version(), "git": sl_git_describe(), "time": UTC} to obj,
 * the provenance every result carries. */
void sl_json_add_provenance(cJSON *obj, uint64_t seed);

/* --- flattening and UTF-8 (used by the registry's readers, reports and the HTTP API) --- */

/* Flatten a JSON value into {"a.b[0]": "<leaf as JSON text>", ...} (arrays longer than 64
 * stay one leaf). v may be NULL or null (empty object). *out owned by the caller. */
sl_status sl_json_flatten(const cJSON *v, cJSON **out);

/* 1 if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
int sl_utf8_valid(const char *s, size_t n);

/* A malloc'd copy of the NUL-terminated s with each maximal ill-formed UTF-8 subpart replaced
 * by one U+FFFD (Unicode's recommended practice; Python's errors='replace' agrees), so that
 * any byte string can be emitted as valid JSON text. NULL on OOM or s NULL. */
char *sl_utf8_sanitize(const char *s);

#ifdef __cplusplus
}
#endif
#endif
