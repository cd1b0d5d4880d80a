/* SPDX-License-Identifier: Apache-2.0 */
/* safetensors.c - safetensors reader/writer (u64 header length, JSON header, byte buffer).
 *
 * Key invariant: tensor buffers are allocated only after the whole header has been validated
 * against the real size of the input, so their total never exceeds the bytes present; the
 * tensors must tile the buffer exactly (no gaps, overlaps or trailing bytes).
 * Numbers in the header are written as exact integers (cJSON raw items), never as doubles.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_safetensors.h"

#define ST_MAX_EXACT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */

struct sl_safetensors {
    char *what;
    size_t n;
    sl_array **t; /* in buffer order */
    cJSON *meta;  /* object of strings */
};

/* Prefix the current error message (copied first: sl_set_error must not read its own buffer). */
static sl_status wrap_error(sl_status s, const char *where, const char *kind,
                            const char *name) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", sl_last_error());
    return sl_set_error(s, "%s: %s '%s': %s", where, kind, name, msg);
}

/* --- header validation ------------------------------------------------------ */

typedef struct st_entry {
    const char *name; /* points into the cJSON tree */
    sl_dtype dtype;
    int ndim;
    size_t shape[SL_ARRAY_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* A JSON number that is a non-negative integer <= 2^53. */
static int json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_EXACT || d != floor(d)) return 0;
    *v = (uint64_t)d;
    return 1;
}

static sl_status no_duplicate_keys(const cJSON *obj, const char *what, const char *ctx) {
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    if (n < 2) return SL_OK;
    const char **names = malloc(n * sizeof *names);
    if (!names) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    size_t k = 0;
    for (const cJSON *c = obj->child; c; c = c->next) names[k++] = c->string ? c->string : "";
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: duplicate %s name '%s' in header",
                                       what, ctx, names[i]);
            free(names);
            return s;
        }
    }
    free(names);
    return SL_OK;
}

static sl_status parse_entry(const cJSON *item, st_entry *e, const char *what) {
    const char *nm = item->string;
    e->name = nm;
    if (!cJSON_IsObject(item))
        return sl_set_error(SL_ERR_FORMAT, "%s: tensor '%s': header entry is not an object",
                            what, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: tensor '%s': needs string 'dtype', array 'shape' and array "
                            "'data_offsets'",
                            what, nm);
    int found = 0;
    for (int t = 0; t < SL_DTYPE_COUNT; t++)
        if (strcmp(dt->valuestring, sl_dtype_st((sl_dtype)t)) == 0) {
            e->dtype = (sl_dtype)t;
            found = 1;
        }
    if (!found)
        return sl_set_error(SL_ERR_DTYPE,
                            "%s: tensor '%s': unsupported dtype '%s' (supported: F32 F64 I32 "
                            "I64 U8 BOOL)",
                            what, nm, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > SL_ARRAY_MAX_DIMS)
        return sl_set_error(SL_ERR_SHAPE, "%s: tensor '%s': rank %d above %d", what, nm, nd,
                            SL_ARRAY_MAX_DIMS);
    e->ndim = 0;
    for (const cJSON *c = sh->child; c; c = c->next) {
        uint64_t v;
        if (!json_uint(c, &v) || v > SIZE_MAX)
            return sl_set_error(SL_ERR_FORMAT,
                                "%s: tensor '%s': shape entries must be integers in 0..2^53",
                                what, nm);
        e->shape[e->ndim++] = (size_t)v;
    }
    size_t count, nbytes;
    sl_status s = sl_shape_count(e->ndim, e->shape, e->dtype, &count, &nbytes);
    if (s != SL_OK) return wrap_error(s, what, "tensor", nm);
    if (cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &e->begin) ||
        !json_uint(off->child->next, &e->end))
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets must be two integers [begin, end]",
                            what, nm);
    if (e->end < e->begin)
        return sl_set_error(SL_ERR_FORMAT, "%s: tensor '%s': data_offsets end %llu < begin %llu",
                            what, nm, (unsigned long long)e->end, (unsigned long long)e->begin);
    if (e->end - e->begin != (uint64_t)nbytes)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets span %llu bytes but %s shape needs "
                            "%zu",
                            what, nm, (unsigned long long)(e->end - e->begin),
                            sl_dtype_st(e->dtype), nbytes);
    return SL_OK;
}

/* Validate a header against `data_len` buffer bytes. On success *entries (sorted by offset,
 * caller frees), *n and *meta (detached __metadata__ copy or a new empty object). */
static sl_status parse_header(const char *hdr, size_t hlen, uint64_t data_len, const char *what,
                              cJSON **root_out, st_entry **entries, size_t *n_out,
                              cJSON **meta_out) {
    *root_out = NULL;
    *entries = NULL;
    *n_out = 0;
    *meta_out = NULL;
    if (hlen == 0 || hdr[0] != '{')
        return sl_set_error(SL_ERR_FORMAT, "%s: header does not start with '{'", what);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        const char *ep = cJSON_GetErrorPtr();
        if (!root && ep && ep >= hdr && ep <= hdr + hlen) at = (size_t)(ep - hdr);
        cJSON_Delete(root);
        return sl_set_error(SL_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)", what,
                            8 + at);
    }
    for (const char *p = end; p < hdr + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return sl_set_error(SL_ERR_FORMAT, "%s: trailing bytes after JSON header at byte %zu",
                                what, 8 + (size_t)(p - hdr));
        }
    }
    sl_status ds = no_duplicate_keys(root, what, "tensor");
    if (ds != SL_OK) {
        cJSON_Delete(root);
        return ds;
    }
    size_t n = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0)
            meta = c;
        else
            n++;
    }
    if (meta) {
        if (!cJSON_IsObject(meta)) {
            cJSON_Delete(root);
            return sl_set_error(SL_ERR_FORMAT, "%s: __metadata__ is not an object", what);
        }
        for (const cJSON *c = meta->child; c; c = c->next)
            if (!cJSON_IsString(c)) {
                sl_status s = sl_set_error(SL_ERR_FORMAT,
                                           "%s: __metadata__ value '%s' is not a string", what,
                                           c->string);
                cJSON_Delete(root);
                return s;
            }
        ds = no_duplicate_keys(meta, what, "__metadata__");
        if (ds != SL_OK) {
            cJSON_Delete(root);
            return ds;
        }
    }
    st_entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        cJSON_Delete(root);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    size_t k = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        sl_status s = parse_entry(c, &e[k++], what);
        if (s != SL_OK) {
            free(e);
            cJSON_Delete(root);
            return s;
        }
    }
    qsort(e, n, sizeof *e, cmp_entry);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin != pos) {
            sl_status s = sl_set_error(SL_ERR_FORMAT,
                                       "%s: tensor '%s': data_offsets begin %llu but the "
                                       "previous tensor ends at %llu (%s)",
                                       what, e[i].name, (unsigned long long)e[i].begin,
                                       (unsigned long long)pos,
                                       e[i].begin > pos ? "gap" : "overlap");
            free(e);
            cJSON_Delete(root);
            return s;
        }
        pos = e[i].end;
    }
    if (pos != data_len) {
        sl_status s = sl_set_error(SL_ERR_FORMAT,
                                   "%s: tensors cover %llu bytes but the file holds %llu after "
                                   "the header (%s)",
                                   what, (unsigned long long)pos, (unsigned long long)data_len,
                                   pos > data_len ? "truncated or header claims too much"
                                                  : "trailing bytes");
        free(e);
        cJSON_Delete(root);
        return s;
    }
    cJSON *m = meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateObject();
    if (!m) {
        free(e);
        cJSON_Delete(root);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    *root_out = root;
    *entries = e;
    *n_out = n;
    *meta_out = m;
    return SL_OK;
}

/* --- reading ------------------------------------------------------------- */

typedef struct st_input {
    FILE *f;                  /* or */
    const unsigned char *buf; /* memory */
    uint64_t size;
} st_input;

static sl_status in_read(st_input *in, uint64_t off, void *dst, size_t n, const char *what) {
    if (off > in->size || n > in->size - off)
        return sl_set_error(SL_ERR_FORMAT, "%s: truncated at byte %llu", what,
                            (unsigned long long)in->size);
    if (in->buf) {
        if (n) memcpy(dst, in->buf + off, n);
        return SL_OK;
    }
    if (fseeko(in->f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, in->f) != n)
        return sl_set_error(SL_ERR_IO, "%s: read failed at byte %llu: %s", what,
                            (unsigned long long)off, ferror(in->f) ? strerror(errno) : "EOF");
    return SL_OK;
}

static sl_status st_parse(sl_safetensors **out, st_input *in, const char *what) {
    *out = NULL;
    if (in->size < 8)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: truncated: %llu bytes, too short for the 8-byte header length",
                            what, (unsigned long long)in->size);
    unsigned char l8[8];
    SL_TRY(in_read(in, 0, l8, 8, what));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | l8[i];
    if (hlen > SL_ST_MAX_HEADER)
        return sl_set_error(SL_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                            what, (unsigned long long)hlen, SL_ST_MAX_HEADER);
    if (hlen > in->size - 8)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: truncated: header length %llu but only %llu bytes follow", what,
                            (unsigned long long)hlen, (unsigned long long)(in->size - 8));
    char *hdr = malloc((size_t)hlen + 1);
    if (!hdr) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    sl_status s = in_read(in, 8, hdr, (size_t)hlen, what);
    if (s != SL_OK) {
        free(hdr);
        return s;
    }
    hdr[hlen] = '\0';
    cJSON *root;
    st_entry *e;
    size_t n;
    cJSON *meta;
    s = parse_header(hdr, (size_t)hlen, in->size - 8 - hlen, what, &root, &e, &n, &meta);
    free(hdr);
    if (s != SL_OK) return s;
    sl_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->what = strdup(what)) || !(st->t = calloc(n ? n : 1, sizeof *st->t))) {
        if (st) free(st->what);
        free(st);
        free(e);
        cJSON_Delete(root);
        cJSON_Delete(meta);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    }
    st->meta = meta;
    for (size_t i = 0; i < n && s == SL_OK; i++) {
        s = sl_array_new(&st->t[i], e[i].name, e[i].dtype, e[i].ndim, e[i].shape);
        if (s == SL_OK) {
            st->n = i + 1;
            s = in_read(in, 8 + hlen + e[i].begin, st->t[i]->data, sl_array_nbytes(st->t[i]),
                        what);
        }
    }
    free(e);
    cJSON_Delete(root);
    if (s != SL_OK) {
        sl_safetensors_free(st);
        return s;
    }
    *out = st;
    return SL_OK;
}

sl_status sl_safetensors_read(sl_safetensors **out, const char *path) {
    *out = NULL;
    /* a regular file first: fopen on a FIFO would block */
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, NULL));
    FILE *f = fopen(path, "rb");
    if (!f) return sl_set_error(SL_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sl_set_error(SL_ERR_IO, "%s: not a readable regular file", path);
    }
    st_input in = {f, NULL, (uint64_t)sb.st_size};
    sl_status s = st_parse(out, &in, path);
    fclose(f);
    return s;
}

sl_status sl_safetensors_read_mem(sl_safetensors **out, const void *buf, size_t len,
                                  const char *what) {
    *out = NULL;
    if (!what) what = "<memory>";
    if (!buf && len) return sl_set_error(SL_ERR_ARG, "%s: NULL buffer", what);
    static const unsigned char empty[1] = {0};
    st_input in = {NULL, buf ? buf : empty, len};
    return st_parse(out, &in, what);
}

void sl_safetensors_free(sl_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) sl_array_free(st->t[i]);
    free(st->t);
    cJSON_Delete(st->meta);
    free(st->what);
    free(st);
}

size_t sl_safetensors_count(const sl_safetensors *st) { return st ? st->n : 0; }

const sl_array *sl_safetensors_at(const sl_safetensors *st, size_t i) {
    return st && i < st->n ? st->t[i] : NULL;
}

const sl_array *sl_safetensors_find(const sl_safetensors *st, const char *name) {
    if (!st) return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i]->name, name) == 0) return st->t[i];
    return NULL;
}

const char *sl_safetensors_meta(const sl_safetensors *st, const char *key) {
    if (!st) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *sl_safetensors_metadata(const sl_safetensors *st) { return st->meta; }

/* --- writing ------------------------------------------------------------- */

static cJSON *raw_uint(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(b);
}

/* Build the padded header text and the buffer size. *hdr is malloc'd; *hlen % 8 == 0. */
static sl_status build_header(const sl_tensor_ref *t, size_t n, const cJSON *metadata,
                              const char *what, char **hdr, size_t *hlen, size_t *data_len) {
    *hdr = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
    sl_status s = SL_OK;
    if (metadata) {
        if (!cJSON_IsObject(metadata)) {
            s = sl_set_error(SL_ERR_ARG, "%s: metadata must be a JSON object", what);
            goto fail;
        }
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto oom;
        for (const cJSON *c = metadata->child; c; c = c->next) {
            if (!cJSON_IsString(c)) {
                s = sl_set_error(SL_ERR_ARG, "%s: metadata value '%s' is not a string", what,
                                 c->string);
                goto fail;
            }
            if (cJSON_GetObjectItemCaseSensitive(m, c->string)) {
                s = sl_set_error(SL_ERR_ARG, "%s: duplicate metadata key '%s'", what, c->string);
                goto fail;
            }
            if (!cJSON_AddStringToObject(m, c->string, c->valuestring)) goto oom;
        }
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = t[i].name;
        if (!nm || !*nm || strcmp(nm, "__metadata__") == 0) {
            s = sl_set_error(SL_ERR_ARG, "%s: invalid tensor name '%s'", what, nm ? nm : "(null)");
            goto fail;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, nm)) {
            s = sl_set_error(SL_ERR_ARG, "%s: duplicate tensor name '%s'", what, nm);
            goto fail;
        }
        size_t count, nbytes;
        s = sl_shape_count(t[i].ndim, t[i].shape, t[i].dtype, &count, &nbytes);
        if (s != SL_OK) {
            s = wrap_error(s, what, "tensor", nm);
            goto fail;
        }
        if (nbytes && !t[i].data) {
            s = sl_set_error(SL_ERR_ARG, "%s: tensor '%s': NULL data", what, nm);
            goto fail;
        }
        if (t[i].dtype == SL_DTYPE_F32 || t[i].dtype == SL_DTYPE_F64) {
            for (size_t j = 0; j < count; j++) {
                double v = t[i].dtype == SL_DTYPE_F32 ? (double)((const float *)t[i].data)[j]
                                                      : ((const double *)t[i].data)[j];
                if (!isfinite(v)) {
                    s = sl_set_error(SL_ERR_NAN,
                                     "%s: tensor '%s': non-finite value at flat index %zu; "
                                     "refusing to write NaN/Inf",
                                     what, nm, j);
                    goto fail;
                }
            }
        }
        if (pos > SIZE_MAX - nbytes || (double)(pos + nbytes) > ST_MAX_EXACT) {
            s = sl_set_error(SL_ERR_RANGE, "%s: tensors too large", what);
            goto fail;
        }
        cJSON *e = cJSON_AddObjectToObject(root, nm);
        if (!e || !cJSON_AddStringToObject(e, "dtype", sl_dtype_st(t[i].dtype))) goto oom;
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        if (!sh) goto oom;
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON *v = raw_uint(t[i].shape[d]);
            if (!v) goto oom;
            cJSON_AddItemToArray(sh, v);
        }
        cJSON *off = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON *b = raw_uint(pos), *en = raw_uint(pos + nbytes);
        if (!off || !b || !en) {
            cJSON_Delete(b);
            cJSON_Delete(en);
            goto oom;
        }
        cJSON_AddItemToArray(off, b);
        cJSON_AddItemToArray(off, en);
        pos += nbytes;
    }
    char *txt = cJSON_PrintUnformatted(root);
    if (!txt) goto oom;
    size_t len = strlen(txt);
    size_t padded = (len + 7) / 8 * 8;
    char *h = malloc(padded + 1);
    if (!h) {
        free(txt);
        goto oom;
    }
    memcpy(h, txt, len);
    memset(h + len, ' ', padded - len);
    h[padded] = '\0';
    free(txt);
    cJSON_Delete(root);
    *hdr = h;
    *hlen = padded;
    *data_len = pos;
    return SL_OK;
oom:
    s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", what);
fail:
    cJSON_Delete(root);
    return s;
}

static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

sl_status sl_safetensors_write(const char *path, const sl_tensor_ref *t, size_t n,
                               const cJSON *metadata) {
    char *hdr;
    size_t hlen, dlen;
    SL_TRY(build_header(t, n, metadata, path, &hdr, &hlen, &dlen));
    sl_atomic_file f;
    sl_status s = sl_atomic_open(&f, path);
    if (s != SL_OK) {
        free(hdr);
        return s;
    }
    unsigned char l8[8];
    put_u64(l8, hlen);
    int ok = fwrite(l8, 1, 8, f.fp) == 8 && fwrite(hdr, 1, hlen, f.fp) == hlen;
    for (size_t i = 0; ok && i < n; i++) {
        size_t nb = 0;
        sl_shape_count(t[i].ndim, t[i].shape, t[i].dtype, NULL, &nb);
        if (nb) ok = fwrite(t[i].data, 1, nb, f.fp) == nb;
    }
    free(hdr);
    if (!ok) {
        s = sl_set_error(SL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        sl_atomic_abort(&f);
        return s;
    }
    return sl_atomic_commit(&f);
}

sl_status sl_safetensors_write_mem(void **out, size_t *len, const sl_tensor_ref *t, size_t n,
                                   const cJSON *metadata) {
    *out = NULL;
    *len = 0;
    char *hdr;
    size_t hlen, dlen;
    SL_TRY(build_header(t, n, metadata, "<memory>", &hdr, &hlen, &dlen));
    unsigned char *b = malloc(8 + hlen + dlen);
    if (!b) {
        free(hdr);
        return sl_set_error(SL_ERR_NOMEM, "out of memory for %zu-byte safetensors buffer",
                            8 + hlen + dlen);
    }
    put_u64(b, hlen);
    memcpy(b + 8, hdr, hlen);
    free(hdr);
    size_t pos = 8 + hlen;
    for (size_t i = 0; i < n; i++) {
        size_t nb = 0;
        sl_shape_count(t[i].ndim, t[i].shape, t[i].dtype, NULL, &nb);
        if (nb) memcpy(b + pos, t[i].data, nb);
        pos += nb;
    }
    *out = b;
    *len = pos;
    return SL_OK;
}

/* --- float32 parameter sets ------------------------------------------------ */

sl_status sl_safetensors_write_f32(const char *path, size_t n, const char *const *names,
                                   const int *ndims, const size_t *const *shapes,
                                   const float *const *data, const cJSON *metadata) {
    sl_tensor_ref *t = calloc(n ? n : 1, sizeof *t);
    if (!t) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        if (ndims[i] < 0 || ndims[i] > SL_ARRAY_MAX_DIMS) {
            free(t);
            return sl_set_error(SL_ERR_ARG, "%s: tensor '%s': rank %d outside 0..%d", path,
                                names[i], ndims[i], SL_ARRAY_MAX_DIMS);
        }
        t[i].name = names[i];
        t[i].dtype = SL_DTYPE_F32;
        t[i].ndim = ndims[i];
        for (int d = 0; d < ndims[i]; d++) t[i].shape[d] = shapes[i][d];
        t[i].data = data[i];
    }
    sl_status s = sl_safetensors_write(path, t, n, metadata);
    free(t);
    return s;
}

sl_status sl_safetensors_get_f32(const sl_safetensors *st, const char *name, int ndim,
                                 const size_t *shape, float *dst) {
    const sl_array *a = sl_safetensors_find(st, name);
    if (!a) return sl_set_error(SL_ERR_NOTFOUND, "%s: no tensor named '%s'", st->what, name);
    if (a->dtype != SL_DTYPE_F32)
        return sl_set_error(SL_ERR_DTYPE, "%s: tensor '%s' is %s, expected F32", st->what, name,
                            sl_dtype_st(a->dtype));
    int same = a->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = a->shape[d] == shape[d];
    if (!same) {
        char got[200], want[200];
        size_t k = 0, j = 0;
        got[0] = want[0] = '\0';
        for (int d = 0; d < a->ndim && k < sizeof got; d++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%zu", d ? "," : "", a->shape[d]);
        for (int d = 0; d < ndim && d < SL_ARRAY_MAX_DIMS && j < sizeof want; d++)
            j += (size_t)snprintf(want + j, sizeof want - j, "%s%zu", d ? "," : "", shape[d]);
        return sl_set_error(SL_ERR_SHAPE, "%s: tensor '%s' has shape [%s], expected [%s]",
                            st->what, name, got, want);
    }
    if (a->count) memcpy(dst, a->data, a->count * sizeof(float));
    return SL_OK;
}
