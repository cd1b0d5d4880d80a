/* SPDX-License-Identifier: Apache-2.0 */
/* json.c - cJSON helpers: file read/write (atomic), typed getters, arrays, provenance,
 * flattening for tables, and UTF-8 validation/sanitising for JSON output. */
#include <stdio.h>
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

/* --- flattening ------------------------------------------------------------ */

/* Flatten a JSON value into {"a.b[0]": leaf-as-JSON-text, ...} under prefix. */
static void flatten(const cJSON *v, const char *prefix, cJSON *out) {
    char key[512];
    if (cJSON_IsObject(v) && v->child) {
        for (const cJSON *c = v->child; c; c = c->next) {
            if (*prefix)
                snprintf(key, sizeof key, "%s.%s", prefix, c->string ? c->string : "");
            else
                snprintf(key, sizeof key, "%s", c->string ? c->string : "");
            flatten(c, key, out);
        }
        return;
    }
    if (cJSON_IsArray(v) && v->child && cJSON_GetArraySize(v) <= 64) {
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            snprintf(key, sizeof key, "%s[%d]", prefix, i);
            flatten(c, key, out);
        }
        return;
    }
    char *txt = cJSON_PrintUnformatted(v);
    if (!txt) return;
    cJSON_AddItemToObject(out, *prefix ? prefix : "(value)", cJSON_CreateString(txt));
    free(txt);
}

sl_status sl_json_flatten(const cJSON *v, cJSON **out) {
    *out = cJSON_CreateObject();
    if (!*out) return sl_set_error(SL_ERR_NOMEM, "json: out of memory");
    if (v && !cJSON_IsNull(v)) flatten(v, "", *out);
    return SL_OK;
}

/* --- UTF-8 ------------------------------------------------------------------- */

/* At s[0..n) (n >= 1): the length of the well-formed UTF-8 sequence there (> 0), or minus the
 * length of its "maximal subpart" (< 0): the longest prefix that could start a well-formed
 * sequence, at least one byte. Ranges from Unicode Table 3-7 (no overlong forms, no
 * surrogates, nothing above U+10FFFF); one U+FFFD per maximal subpart is the Unicode
 * recommendation, and what Python's and WHATWG's decoders do. */
static long utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned b = i < n ? s[i] : 0;
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (i >= n || b < l || b > h) return -(long)i;
    }
    return (long)len;
}

int sl_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        long k = utf8_seq(p + i, n - i);
        if (k < 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

char *sl_utf8_sanitize(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1); /* at worst each byte becomes U+FFFD (3 bytes) */
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        long k = utf8_seq(p + i, n - i);
        if (k > 0) {
            memcpy(out + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += (size_t)-k;
        }
    }
    out[o] = '\0';
    return out;
}
