/* arena.c - the parameter arena (params, grads, Adam m, v in one allocation), initialisation,
 * Adam/AdamW, gradient clipping, polyak averaging and thread control.
 *
 * Invariant: tensor offsets are fixed at declaration (16-float aligned, in declaration order),
 * so two arenas declared the same way have identical layouts and offsets can be shared.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "synthloop/sl_nn.h"

#define ALIGN_FLOATS 16

/* --- threads --- */

static int g_threads = 0;

void sl_nn_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    g_threads = n;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int sl_nn_get_threads(void) {
    if (g_threads <= 0) return openblas_get_num_threads();
    return g_threads;
}

/* --- arena --- */

void sl_nn_arena_init(sl_nn_arena *a) { memset(a, 0, sizeof *a); }

sl_status sl_nn_arena_add(sl_nn_arena *a, const char *name, int ndim, const size_t *shape,
                          size_t *offset_out) {
    if (!a || !name || !shape) return sl_set_error(SL_ERR_ARG, "sl_nn_arena_add: NULL argument");
    if (a->mem)
        return sl_set_error(SL_ERR_STATE, "sl_nn_arena_add(%s): arena already allocated", name);
    size_t len = strlen(name);
    if (len == 0 || len >= SL_NN_NAME_MAX)
        return sl_set_error(SL_ERR_ARG, "sl_nn_arena_add: name '%s' empty or longer than %d",
                            name, SL_NN_NAME_MAX - 1);
    if (ndim < 1 || ndim > SL_NN_MAX_DIMS)
        return sl_set_error(SL_ERR_ARG, "sl_nn_arena_add(%s): ndim %d not in 1..%d", name, ndim,
                            SL_NN_MAX_DIMS);
    for (size_t i = 0; i < a->n_tensors; i++)
        if (strcmp(a->tensors[i].name, name) == 0)
            return sl_set_error(SL_ERR_ARG, "sl_nn_arena_add: duplicate tensor name '%s'", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0)
            return sl_set_error(SL_ERR_ARG, "sl_nn_arena_add(%s): dim %d is 0", name, d);
        SL_TRY(sl_mul_size(numel, shape[d], &numel));
    }
    if (a->n_tensors == a->cap_tensors) {
        size_t cap = a->cap_tensors ? 2 * a->cap_tensors : 16;
        sl_nn_tensor *t = realloc(a->tensors, cap * sizeof *t);
        if (!t) return sl_set_error(SL_ERR_NOMEM, "sl_nn_arena_add(%s): out of memory", name);
        a->tensors = t;
        a->cap_tensors = cap;
    }
    sl_nn_tensor *t = &a->tensors[a->n_tensors];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->ndim = ndim;
    for (int d = 0; d < SL_NN_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    t->numel = numel;
    t->offset = a->numel;
    size_t padded = (numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    if (padded < numel || a->numel + padded < a->numel)
        return sl_set_error(SL_ERR_RANGE, "sl_nn_arena_add(%s): arena size overflows", name);
    a->numel += padded;
    a->n_tensors++;
    if (offset_out) *offset_out = t->offset;
    return SL_OK;
}

sl_status sl_nn_arena_alloc(sl_nn_arena *a) {
    if (!a) return sl_set_error(SL_ERR_ARG, "sl_nn_arena_alloc: NULL arena");
    if (a->mem) return sl_set_error(SL_ERR_STATE, "sl_nn_arena_alloc: already allocated");
    size_t n = a->numel ? a->numel : ALIGN_FLOATS, bytes;
    if (sl_mul_size(n, 4 * sizeof(float), &bytes) != SL_OK)
        return sl_set_error(SL_ERR_RANGE, "sl_nn_arena_alloc: %zu floats overflow", n);
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        return sl_set_error(SL_ERR_NOMEM, "sl_nn_arena_alloc: cannot allocate %zu bytes", bytes);
    memset(p, 0, bytes);
    a->mem = p;
    a->params = a->mem;
    a->grads = a->mem + n;
    a->m = a->mem + 2 * n;
    a->v = a->mem + 3 * n;
    a->step = 0;
    return SL_OK;
}

void sl_nn_arena_free(sl_nn_arena *a) {
    if (!a) return;
    free(a->tensors);
    free(a->mem);
    sl_nn_arena_init(a);
}

sl_status sl_nn_arena_find(const sl_nn_arena *a, const char *name, size_t *index) {
    for (size_t i = 0; a && name && i < a->n_tensors; i++)
        if (strcmp(a->tensors[i].name, name) == 0) {
            if (index) *index = i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_NOTFOUND, "nn arena: no tensor named '%s'", name ? name : "(null)");
}

size_t sl_nn_arena_num_params(const sl_nn_arena *a) {
    size_t s = 0;
    for (size_t i = 0; i < a->n_tensors; i++) s += a->tensors[i].numel;
    return s;
}

float *sl_nn_arena_param(const sl_nn_arena *a, size_t i) {
    SL_ASSERT(a->mem && i < a->n_tensors);
    return a->params + a->tensors[i].offset;
}
float *sl_nn_arena_grad(const sl_nn_arena *a, size_t i) {
    SL_ASSERT(a->mem && i < a->n_tensors);
    return a->grads + a->tensors[i].offset;
}
float *sl_nn_arena_adam_m(const sl_nn_arena *a, size_t i) {
    SL_ASSERT(a->mem && i < a->n_tensors);
    return a->m + a->tensors[i].offset;
}
float *sl_nn_arena_adam_v(const sl_nn_arena *a, size_t i) {
    SL_ASSERT(a->mem && i < a->n_tensors);
    return a->v + a->tensors[i].offset;
}

void sl_nn_arena_zero_grad(sl_nn_arena *a) {
    if (a && a->mem) memset(a->grads, 0, a->numel * sizeof(float));
}

static sl_status same_layout(const sl_nn_arena *x, const sl_nn_arena *y, const char *who) {
    if (!x || !y || !x->mem || !y->mem)
        return sl_set_error(SL_ERR_STATE, "%s: arena missing or not allocated", who);
    if (x->n_tensors != y->n_tensors || x->numel != y->numel)
        return sl_set_error(SL_ERR_SHAPE, "%s: arenas differ (%zu vs %zu tensors)", who,
                            x->n_tensors, y->n_tensors);
    for (size_t i = 0; i < x->n_tensors; i++)
        if (x->tensors[i].numel != y->tensors[i].numel ||
            x->tensors[i].offset != y->tensors[i].offset)
            return sl_set_error(SL_ERR_SHAPE, "%s: tensor %zu ('%s' vs '%s') differs", who, i,
                                x->tensors[i].name, y->tensors[i].name);
    return SL_OK;
}

sl_status sl_nn_arena_copy_params(sl_nn_arena *dst, const sl_nn_arena *src) {
    SL_TRY(same_layout(dst, src, "sl_nn_arena_copy_params"));
    memcpy(dst->params, src->params, src->numel * sizeof(float));
    return SL_OK;
}

sl_status sl_nn_arena_polyak(sl_nn_arena *target, const sl_nn_arena *src, float tau) {
    SL_TRY(same_layout(target, src, "sl_nn_arena_polyak"));
    sl_nn_polyak(target->params, src->params, src->numel, tau);
    return SL_OK;
}

void sl_nn_polyak(float *dst, const float *src, size_t n, float tau) {
    float keep = 1.0f - tau;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = keep * dst[i] + tau * src[i];
}

/* --- initialisation --- */

void sl_nn_init_uniform(float *x, size_t n, float bound, sl_rng *rng) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)sl_rng_uniform_range(rng, -(double)bound, (double)bound);
}

void sl_nn_init_linear(float *w, float *b, int C, int OC, sl_rng *rng) {
    float bound = 1.0f / sqrtf((float)C);
    sl_nn_init_uniform(w, (size_t)OC * C, bound, rng);
    if (b) sl_nn_init_uniform(b, (size_t)OC, bound, rng);
}

void sl_nn_init_gru(float *w_ih, float *w_hh, float *b_ih, float *b_hh, int In, int H,
                    sl_rng *rng) {
    float bound = 1.0f / sqrtf((float)H);
    sl_nn_init_uniform(w_ih, (size_t)3 * H * In, bound, rng);
    sl_nn_init_uniform(w_hh, (size_t)3 * H * H, bound, rng);
    sl_nn_init_uniform(b_ih, (size_t)3 * H, bound, rng);
    sl_nn_init_uniform(b_hh, (size_t)3 * H, bound, rng);
}

/* --- optimisers --- */

sl_nn_adam sl_nn_adam_defaults(float lr) {
    sl_nn_adam c = {lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    return c;
}

sl_nn_adam sl_nn_adamw_defaults(float lr) {
    sl_nn_adam c = {lr, 0.9f, 0.999f, 1e-8f, 1e-2f, 1};
    return c;
}

void sl_nn_adam_update(float *params, float *m, float *v, const float *grads, size_t n,
                       const sl_nn_adam *cfg, uint64_t t) {
    /* torch computes bias corrections in double (Python floats), then uses them as float
     * scalars in float tensor ops; do the same. */
    const float lr = cfg->lr, b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    const float wd = cfg->weight_decay;
    const float step_size = (float)((double)lr / (1.0 - pow((double)b1, (double)t)));
    const float bc2s = (float)sqrt(1.0 - pow((double)b2, (double)t));
    const float decay = cfg->decoupled ? 1.0f - lr * wd : 1.0f;
    const float l2 = cfg->decoupled ? 0.0f : wd;
    const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float p = params[i] * decay;
        float g = grads[i] + l2 * params[i];
        float mi = b1 * m[i] + ob1 * g;
        float vi = b2 * v[i] + ob2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2s + eps;
        params[i] = p - step_size * mi / denom;
    }
}

void sl_nn_arena_adam_step(sl_nn_arena *a, const sl_nn_adam *cfg) {
    a->step++;
    sl_nn_adam_update(a->params, a->m, a->v, a->grads, a->numel, cfg, a->step);
}

float sl_nn_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)grads[i] * (double)grads[i];
    float norm = (float)sqrt(s);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (size_t i = 0; i < n; i++) grads[i] *= coef;
    return norm;
}

float sl_nn_arena_clip_grad_norm(sl_nn_arena *a, float max_norm) {
    return sl_nn_clip_grad_norm(a->grads, a->numel, max_norm);
}
