/* SPDX-License-Identifier: Apache-2.0 */
/* alloc.c - the allocation of the recording paths, with a fail-the-Nth-allocation test hook
 * (SQLite's habit: tests reach the out-of-memory paths). Invariant: with the hook disarmed,
 * sl_alloc(n) is malloc(max(n, 1)). */
#include <stdatomic.h>
#include <stdlib.h>

#include "synthloop/sl_core.h"

/* allocations left before the injected failure; < 0: disarmed */
static _Atomic long fail_after = -1;

static int injected_failure(void) {
    long v = atomic_load(&fail_after);
    while (v >= 0) {
        if (atomic_compare_exchange_weak(&fail_after, &v, v - 1)) return v == 0;
    }
    return 0;
}

void sl_test_fail_alloc_after(long n) { atomic_store(&fail_after, n < 0 ? -1 : n); }

void *sl_alloc(size_t n) {
    if (injected_failure()) return NULL;
    return malloc(n ? n : 1);
}

void *sl_calloc(size_t n, size_t size) {
    if (injected_failure()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}
