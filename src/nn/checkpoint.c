/* SPDX-License-Identifier: Apache-2.0 */
/* checkpoint.c - the one checkpoint writer and reader of the models (encoder, trust_net, world
 * model, policies): named tensors (parameter arenas, with an optional name prefix, and
 * normalisation vectors) plus string metadata, in the safetensors format (sl_safetensors.h).
 *
 * Invariant: a checkpoint is written whole and atomically or not at all (the builder remembers
 * its first error and sl_nn_ckpt_write returns it without touching the path), and a tensor is
 * copied into a model only after its dtype, its exact shape and the finiteness of every value
 * were checked; every error names the file and the tensor or key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "synthloop/sl_nn.h"
#include "synthloop/sl_safetensors.h"

struct sl_nn_ckpt {
    /* building */
    sl_tensor_ref *t;
    char **names; /* owned copies of t[i].name */
    size_t n, cap;
    cJSON *meta;
    sl_status err; /* first error while building; sl_nn_ckpt_write returns it */
    /* reading */
    sl_safetensors *st;
    char *path; /* the file read (owned) */
};

/* --- building -------------------------------------------------------------- */

sl_status sl_nn_ckpt_new(sl_nn_ckpt **out) {
    if (!out) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_new: NULL argument");
    *out = NULL;
    sl_nn_ckpt *c = calloc(1, sizeof *c);
    if (c) c->meta = cJSON_CreateObject();
    if (!c || !c->meta) {
        free(c);
        return sl_set_error(SL_ERR_NOMEM, "checkpoint: out of memory");
    }
    *out = c;
    return SL_OK;
}

static sl_status fail(sl_nn_ckpt *c, sl_status s) {
    if (c->err == SL_OK) c->err = s;
    return s;
}

static sl_status put(sl_nn_ckpt *c, const char *name, sl_dtype dtype, int ndim,
                     const size_t *shape, const void *data) {
    if (c->err != SL_OK) return c->err;
    if (!name || !data || ndim < 1 || ndim > SL_ARRAY_MAX_DIMS)
        return fail(c, sl_set_error(SL_ERR_ARG, "checkpoint: tensor '%s': NULL data or rank %d "
                                    "outside 1..%d", name ? name : "(null)", ndim,
                                    SL_ARRAY_MAX_DIMS));
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        sl_tensor_ref *t = realloc(c->t, cap * sizeof *t);
        if (t) c->t = t;
        char **nm = t ? realloc(c->names, cap * sizeof *nm) : NULL;
        if (nm) c->names = nm;
        if (!t || !nm)
            return fail(c, sl_set_error(SL_ERR_NOMEM, "checkpoint: out of memory at tensor '%s'",
                                        name));
        c->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return fail(c, sl_set_error(SL_ERR_NOMEM, "checkpoint: out of memory at tensor '%s'",
                                    name));
    sl_tensor_ref *r = &c->t[c->n];
    memset(r, 0, sizeof *r);
    r->name = copy;
    r->dtype = dtype;
    r->ndim = ndim;
    for (int d = 0; d < ndim; d++) r->shape[d] = shape[d];
    r->data = data;
    c->names[c->n++] = copy;
    return SL_OK;
}

sl_status sl_nn_ckpt_put_f32(sl_nn_ckpt *c, const char *name, int ndim, const size_t *shape,
                             const float *data) {
    if (!c) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_put_f32: NULL checkpoint");
    return put(c, name, SL_DTYPE_F32, ndim, shape, data);
}

sl_status sl_nn_ckpt_put_vec_f32(sl_nn_ckpt *c, const char *name, size_t n, const float *data) {
    return sl_nn_ckpt_put_f32(c, name, 1, &n, data);
}

sl_status sl_nn_ckpt_put_vec_f64(sl_nn_ckpt *c, const char *name, size_t n, const double *data) {
    if (!c) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_put_vec_f64: NULL checkpoint");
    return put(c, name, SL_DTYPE_F64, 1, &n, data);
}

sl_status sl_nn_ckpt_put_arena(sl_nn_ckpt *c, const sl_nn_arena *a, const char *prefix) {
    if (!c) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_put_arena: NULL checkpoint");
    if (!a || !a->mem)
        return fail(c, sl_set_error(SL_ERR_STATE, "checkpoint: arena missing or not allocated"));
    for (size_t i = 0; i < a->n_tensors; i++) {
        const sl_nn_tensor *tt = &a->tensors[i];
        char name[SL_NN_NAME_MAX + 32];
        if ((size_t)snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", tt->name) >=
            sizeof name)
            return fail(c, sl_set_error(SL_ERR_ARG, "checkpoint: name '%s%s' too long", prefix,
                                        tt->name));
        SL_TRY(put(c, name, SL_DTYPE_F32, tt->ndim, tt->shape, a->params + tt->offset));
    }
    return SL_OK;
}

sl_status sl_nn_ckpt_set_meta(sl_nn_ckpt *c, const char *key, const char *value) {
    if (!c) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_set_meta: NULL checkpoint");
    if (c->err != SL_OK) return c->err;
    if (!key || !value)
        return fail(c, sl_set_error(SL_ERR_ARG, "checkpoint: metadata key or value is NULL"));
    cJSON_DeleteItemFromObjectCaseSensitive(c->meta, key);
    if (!cJSON_AddStringToObject(c->meta, key, value))
        return fail(c, sl_set_error(SL_ERR_NOMEM, "checkpoint: out of memory at metadata '%s'",
                                    key));
    return SL_OK;
}

sl_status sl_nn_ckpt_add_meta_json(sl_nn_ckpt *c, const struct cJSON *extra) {
    if (!c) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_add_meta_json: NULL checkpoint");
    if (c->err != SL_OK || !extra) return c->err;
    for (const cJSON *it = extra->child; it; it = it->next) {
        if (!it->string || cJSON_GetObjectItemCaseSensitive(c->meta, it->string)) continue;
        if (cJSON_IsString(it)) {
            SL_TRY(sl_nn_ckpt_set_meta(c, it->string, it->valuestring));
        } else {
            char *v = cJSON_PrintUnformatted(it);
            sl_status s = v ? sl_nn_ckpt_set_meta(c, it->string, v)
                            : fail(c, sl_set_error(SL_ERR_NOMEM, "checkpoint: out of memory"));
            free(v);
            SL_TRY(s);
        }
    }
    return SL_OK;
}

sl_status sl_nn_ckpt_write(const sl_nn_ckpt *c, const char *path) {
    if (!c || !path) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_write: NULL argument");
    if (c->err != SL_OK)
        return sl_set_error(c->err, "%s: not written: %s", path, sl_last_error());
    return sl_safetensors_write(path, c->t, c->n, c->meta);
}

/* --- reading --------------------------------------------------------------- */

sl_status sl_nn_ckpt_read(sl_nn_ckpt **out, const char *path, const char *kind_key,
                          const char *kind, const char *what) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_read: NULL argument");
    *out = NULL;
    sl_safetensors *st = NULL;
    SL_TRY(sl_safetensors_read(&st, path));
    if (kind_key && kind) {
        const char *k = sl_safetensors_meta(st, kind_key);
        if (!k || strcmp(k, kind) != 0) {
            sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: not a %s checkpoint (__metadata__ %s "
                                       "is '%s', expected '%s')", path, what ? what : kind,
                                       kind_key, k ? k : "(missing)", kind);
            sl_safetensors_free(st); /* after the message: k points into st */
            return s;
        }
    }
    sl_nn_ckpt *c = calloc(1, sizeof *c);
    char *p = strdup(path);
    if (!c || !p) {
        free(c);
        free(p);
        sl_safetensors_free(st);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    c->st = st;
    c->path = p;
    *out = c;
    return SL_OK;
}

/* The file a read checkpoint came from, for messages. */
static const char *ckpt_path(const sl_nn_ckpt *c) {
    return c && c->path ? c->path : "(checkpoint)";
}

const char *sl_nn_ckpt_meta(const sl_nn_ckpt *c, const char *key) {
    if (!c || !key) return NULL;
    if (c->st) return sl_safetensors_meta(c->st, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

sl_status sl_nn_ckpt_meta_json(const sl_nn_ckpt *c, const char *key, struct cJSON **out) {
    if (!c || !key || !out) return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_meta_json: NULL argument");
    *out = NULL;
    const char *txt = sl_nn_ckpt_meta(c, key);
    if (!txt)
        return sl_set_error(SL_ERR_FORMAT, "%s: __metadata__ '%s' is missing", ckpt_path(c),
                            key);
    cJSON *j = cJSON_Parse(txt);
    if (!j)
        return sl_set_error(SL_ERR_FORMAT, "%s: __metadata__ '%s' is not JSON", ckpt_path(c),
                            key);
    *out = j;
    return SL_OK;
}

int sl_nn_ckpt_has(const sl_nn_ckpt *c, const char *name) {
    return c && c->st && name && sl_safetensors_find(c->st, name) != NULL;
}

sl_status sl_nn_ckpt_get_f32(const sl_nn_ckpt *c, const char *name, int ndim,
                             const size_t *shape, float *dst) {
    if (!c || !c->st || !name || !shape || !dst)
        return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_get_f32: NULL argument or not a read "
                            "checkpoint");
    SL_TRY(sl_safetensors_get_f32(c->st, name, ndim, shape, dst));
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    if (!sl_all_finite_f32(dst, n))
        return sl_set_error(SL_ERR_NAN, "%s: tensor '%s' holds NaN/Inf", c->path, name);
    return SL_OK;
}

sl_status sl_nn_ckpt_get_vec_f32(const sl_nn_ckpt *c, const char *name, size_t n, float *dst) {
    return sl_nn_ckpt_get_f32(c, name, 1, &n, dst);
}

sl_status sl_nn_ckpt_get_vec_f64(const sl_nn_ckpt *c, const char *name, size_t n, double *dst) {
    if (!c || !c->st || !name || !dst)
        return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_get_vec_f64: NULL argument or not a read "
                            "checkpoint");
    const sl_array *a = sl_safetensors_find(c->st, name);
    if (!a || a->dtype != SL_DTYPE_F64 || a->ndim != 1 || a->shape[0] != n)
        return sl_set_error(a ? SL_ERR_SHAPE : SL_ERR_NOTFOUND, "%s: tensor '%s' must be F64 "
                            "[%zu]", c->path, name, n);
    memcpy(dst, a->data, n * sizeof *dst);
    if (!sl_all_finite_f64(dst, n))
        return sl_set_error(SL_ERR_NAN, "%s: tensor '%s' holds NaN/Inf", c->path, name);
    return SL_OK;
}

sl_status sl_nn_ckpt_get_arena(const sl_nn_ckpt *c, sl_nn_arena *a, const char *prefix) {
    if (!c || !c->st || !a || !a->mem)
        return sl_set_error(SL_ERR_ARG, "sl_nn_ckpt_get_arena: NULL argument, arena not "
                            "allocated or not a read checkpoint");
    for (size_t i = 0; i < a->n_tensors; i++) {
        const sl_nn_tensor *tt = &a->tensors[i];
        char name[SL_NN_NAME_MAX + 32];
        if ((size_t)snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", tt->name) >=
            sizeof name)
            return sl_set_error(SL_ERR_ARG, "%s: name '%s%s' too long", c->path, prefix,
                                tt->name);
        SL_TRY(sl_nn_ckpt_get_f32(c, name, tt->ndim, tt->shape, a->params + tt->offset));
    }
    return SL_OK;
}

void sl_nn_ckpt_free(sl_nn_ckpt *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
    free(c->t);
    cJSON_Delete(c->meta);
    sl_safetensors_free(c->st);
    free(c->path);
    free(c);
}
