/* SPDX-License-Identifier: Apache-2.0 */
/* nn_ref.c - instantiates the naive reference kernels (nn_ref_impl.h) for float and double.
 * Invariant: one generic source, so the float64 gradient-checked formulas are exactly the
 * float32 formulas the fast kernels are compared against. */
#include <math.h>

#include "nn/nn_ref.h"

#define REAL float
#define SFX f32
#include "nn/nn_ref_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "nn/nn_ref_impl.h"
#undef REAL
#undef SFX
