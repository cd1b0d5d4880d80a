/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_safetensors.c - libFuzzer target for the safetensors reader (sl_safetensors_read_mem).
 * Invariants checked: a rejected input has a message; an accepted one has fully readable
 * tensor buffers, and (unless it holds NaN/Inf, which the writer refuses) writing it back with
 * sl_safetensors_write_mem and reading that again gives the same tensors bit for bit.
 * Build: scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_safetensors *st = NULL;
    if (sl_safetensors_read_mem(&st, data, size, "fuzz") != SL_OK) {
        if (!sl_last_error()[0]) abort();
        return 0;
    }
    size_t n = sl_safetensors_count(st);
    sl_tensor_ref *refs = calloc(n ? n : 1, sizeof *refs);
    if (!refs) abort();
    volatile unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_array *a = sl_safetensors_at(st, i);
        const unsigned char *p = a->data;
        for (size_t k = 0; k < sl_array_nbytes(a); k++) sum += p[k];
        refs[i].name = a->name;
        refs[i].dtype = a->dtype;
        refs[i].ndim = a->ndim;
        memcpy(refs[i].shape, a->shape, sizeof refs[i].shape);
        refs[i].data = a->data;
    }
    void *buf = NULL;
    size_t len = 0;
    sl_status s = sl_safetensors_write_mem(&buf, &len, refs, n, sl_safetensors_metadata(st));
    if (s == SL_OK) {
        sl_safetensors *st2 = NULL;
        if (sl_safetensors_read_mem(&st2, buf, len, "rewritten") != SL_OK) abort();
        if (sl_safetensors_count(st2) != n) abort();
        for (size_t i = 0; i < n; i++) {
            const sl_array *a = sl_safetensors_at(st, i);
            const sl_array *b = sl_safetensors_find(st2, a->name);
            if (!b || b->dtype != a->dtype || b->ndim != a->ndim || b->count != a->count ||
                memcmp(a->data, b->data, sl_array_nbytes(a)) != 0)
                abort();
        }
        sl_safetensors_free(st2);
        free(buf);
    } else if (s != SL_ERR_NAN && s != SL_ERR_ARG) {
        /* SL_ERR_ARG: names the writer refuses (empty) but the format allows */
        abort();
    }
    free(refs);
    sl_safetensors_free(st);
    return 0;
}
