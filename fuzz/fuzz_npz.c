/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_npz.c - libFuzzer target for the NPZ reader (sl_npz_open_mem + reading every member).
 * Invariant checked: any input either fails with a status and a non-empty message, or yields
 * arrays whose buffers hold exactly count * itemsize readable bytes. Build: scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "synthloop/sl_npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_npz *z = NULL;
    if (sl_npz_open_mem(&z, data, size, "fuzz") != SL_OK) {
        if (!sl_last_error()[0]) abort();
        return 0;
    }
    volatile unsigned sum = 0;
    for (size_t i = 0; i < sl_npz_count(z); i++) {
        const sl_array *a = NULL;
        if (sl_npz_get(z, sl_npz_name(z, i), &a) != SL_OK) {
            if (!sl_last_error()[0]) abort();
            continue;
        }
        size_t nb = 0, cnt = 0;
        if (sl_shape_count(a->ndim, a->shape, a->dtype, &cnt, &nb) != SL_OK || cnt != a->count)
            abort();
        const unsigned char *p = a->data;
        for (size_t k = 0; k < nb; k++) sum += p[k]; /* ASan: the whole buffer is readable */
    }
    sl_npz_close(z);
    return 0;
}
