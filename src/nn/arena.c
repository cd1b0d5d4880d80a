/* SPDX-License-Identifier: Apache-2.0 */
/* arena.c - the parameter arena (params, grads, Adam m, v in one allocation), initialisation,
 * Adam/AdamW, gradient clipping and polyak averaging (thread control is threads.c).
 *
 * Invariant: tensor offsets are fixed at declaration (16-float aligned, in declaration order),
 * so two arenas declared the same way have identical layouts and offsets can be shared.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "synthloop/sl_nn.h"
#include "nn/nn_internal.h"

#define ALIGN_FLOATS 16

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
#pragma omp parallel for simd schedule(static) if (n > 65536)
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

/* Scalars of one Adam step (shared by the vector and scalar paths). */
typedef struct adam_k {
    float decay, l2, b1, b2, ob1, ob2, bc2s, eps, step_size;
} adam_k;

/* Adam over [i0, i1). The vector paths do exactly the scalar path's IEEE operations in the
 * same order (mul, add, sqrt, div are correctly rounded; no FMA), so every element gets the
 * same bits whichever path handles it. */
static void adam_range(float *params, float *m, float *v, const float *grads, size_t i0,
                       size_t i1, const adam_k *k) {
    size_t i = i0;
#if defined(__AVX512F__)
    {
        const __m512 decay = _mm512_set1_ps(k->decay), l2 = _mm512_set1_ps(k->l2);
        const __m512 b1 = _mm512_set1_ps(k->b1), b2 = _mm512_set1_ps(k->b2);
        const __m512 ob1 = _mm512_set1_ps(k->ob1), ob2 = _mm512_set1_ps(k->ob2);
        const __m512 bc2s = _mm512_set1_ps(k->bc2s), eps = _mm512_set1_ps(k->eps);
        const __m512 ss = _mm512_set1_ps(k->step_size);
        for (; i + 16 <= i1; i += 16) {
            __m512 pr = _mm512_loadu_ps(params + i);
            __m512 p = _mm512_mul_ps(pr, decay);
            __m512 g = _mm512_add_ps(_mm512_loadu_ps(grads + i), _mm512_mul_ps(l2, pr));
            __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(ob1, g));
            __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                      _mm512_mul_ps(_mm512_mul_ps(ob2, g), g));
            _mm512_storeu_ps(m + i, mi);
            _mm512_storeu_ps(v + i, vi);
            __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2s), eps);
            _mm512_storeu_ps(params + i, _mm512_sub_ps(p, _mm512_div_ps(_mm512_mul_ps(ss, mi), den)));
        }
    }
#elif defined(__AVX__)
    {
        const __m256 decay = _mm256_set1_ps(k->decay), l2 = _mm256_set1_ps(k->l2);
        const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
        const __m256 ob1 = _mm256_set1_ps(k->ob1), ob2 = _mm256_set1_ps(k->ob2);
        const __m256 bc2s = _mm256_set1_ps(k->bc2s), eps = _mm256_set1_ps(k->eps);
        const __m256 ss = _mm256_set1_ps(k->step_size);
        for (; i + 8 <= i1; i += 8) {
            __m256 pr = _mm256_loadu_ps(params + i);
            __m256 p = _mm256_mul_ps(pr, decay);
            __m256 g = _mm256_add_ps(_mm256_loadu_ps(grads + i), _mm256_mul_ps(l2, pr));
            __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(ob1, g));
            __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                      _mm256_mul_ps(_mm256_mul_ps(ob2, g), g));
            _mm256_storeu_ps(m + i, mi);
            _mm256_storeu_ps(v + i, vi);
            __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
            _mm256_storeu_ps(params + i, _mm256_sub_ps(p, _mm256_div_ps(_mm256_mul_ps(ss, mi), den)));
        }
    }
#endif
    for (; i < i1; i++) {
        float p = params[i] * k->decay;
        float g = grads[i] + k->l2 * params[i];
        float mi = k->b1 * m[i] + k->ob1 * g;
        float vi = k->b2 * v[i] + k->ob2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / k->bc2s + k->eps;
        params[i] = p - k->step_size * mi / denom;
    }
}

#define ADAM_CHUNK 65536 /* elements per parallel task (static split, fixed boundaries) */

void sl_nn_adam_update(float *params, float *m, float *v, const float *grads, size_t n,
                       const sl_nn_adam *cfg, uint64_t t) {
    /* torch computes bias corrections in double (Python floats), then uses them as float
     * scalars in float tensor ops; do the same. */
    const float lr = cfg->lr, wd = cfg->weight_decay;
    adam_k k;
    k.b1 = cfg->beta1, k.b2 = cfg->beta2, k.eps = cfg->eps;
    k.step_size = (float)((double)lr / (1.0 - pow((double)k.b1, (double)t)));
    k.bc2s = (float)sqrt(1.0 - pow((double)k.b2, (double)t));
    k.decay = cfg->decoupled ? 1.0f - lr * wd : 1.0f;
    k.l2 = cfg->decoupled ? 0.0f : wd;
    k.ob1 = 1.0f - k.b1, k.ob2 = 1.0f - k.b2;
    size_t nchunks = (n + ADAM_CHUNK - 1) / ADAM_CHUNK;
#pragma omp parallel for schedule(static) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * ADAM_CHUNK, i1 = i0 + ADAM_CHUNK < n ? i0 + ADAM_CHUNK : n;
        adam_range(params, m, v, grads, i0, i1, &k);
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
