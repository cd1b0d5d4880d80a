/* SPDX-License-Identifier: Apache-2.0 */
/* threads.c - the compute thread count of every nn kernel (OpenMP team size, OpenBLAS pool).
 *
 * Invariant: one setting for the process; the first sl_nn_get_threads outside a parallel
 * region fixes it at all cores if nobody set it. It sits below the kernels (gemm.c asks it for
 * the team size); whether the AVX-512 kernel exists is a property of the build
 * (SL_NN_GEMM_FAST in nn_internal.h), so nothing here calls back into gemm.c.
 */
#include <omp.h>

#include <cblas.h>

#include "synthloop/sl_nn.h"
#include "nn/nn_internal.h"

static int g_threads = 0;

void sl_nn_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    g_threads = n;
    /* with the AVX-512 kernel every product runs on OpenMP threads (gemm.c): OpenBLAS stays at
     * 1 thread so that its spinning pool never competes with libgomp's */
    openblas_set_num_threads(SL_NN_GEMM_FAST ? 1 : n);
    omp_set_num_threads(n);
}

int sl_nn_get_threads(void) {
    if (g_threads <= 0) {
        if (omp_in_parallel()) return omp_get_max_threads();
        sl_nn_set_threads(0); /* first use: all cores, OpenBLAS pinned as above */
    }
    return g_threads;
}
