/* json.c - cJSON helpers: file read/write (atomic), typed getters, arrays, provenance. */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"

sl_status sl_json_read_file(const char *path, cJSON **out) {
    *out = NULL;
    char *buf;
    size_t len;
    SL_TRY(sl_read_file(path, &buf, &len));
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - buf) : 0;
        free(buf);
        return sl_set_error(SL_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, off);
    }
    free(buf);
    *out = j;
    return SL_OK;
}

sl_status sl_json_write_file(const char *path, const cJSON *j) {
    char *s = cJSON_Print(j);
    if (!s) return sl_set_error(SL_ERR_NOMEM, "%s: cannot print JSON", path);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    sl_status st = sl_write_file_atomic(path, t, n + 1);
    free(t);
    return st;
}

double sl_json_num(const cJSON *obj, const char *key, double def) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? it->valuedouble : def;
}

int sl_json_int(const cJSON *obj, const char *key, int def) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? it->valueint : def;
}

const char *sl_json_str(const cJSON *obj, const char *key, const char *def) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : def;
}

int sl_json_bool(const cJSON *obj, const char *key, int def) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(it) ? cJSON_IsTrue(it) : def;
}

cJSON *sl_json_add_f64_array(cJSON *obj, const char *key, const double *x, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

cJSON *sl_json_add_f32_array(cJSON *obj, const char *key, const float *x, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)x[i]));
    return a;
}

void sl_json_add_provenance(cJSON *obj, uint64_t seed) {
    char ts[32];
    sl_utc_iso8601(ts, sizeof ts);
    cJSON_AddNumberToObject(obj, "seed", (double)seed);
    cJSON_AddStringToObject(obj, "version", sl_version());
    cJSON_AddStringToObject(obj, "git", sl_git_describe());
    cJSON_AddStringToObject(obj, "time", ts);
}
