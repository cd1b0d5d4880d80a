/* SPDX-License-Identifier: Apache-2.0 */
/* rng.c - xoshiro256** with splitmix64 seeding. Invariant: the sequence depends only on
 * (seed, stream), never on the platform, the thread count or the time. */
#include <math.h>

#include "synthloop/sl_core.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sl_rng_seed(sl_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    /* mix the stream in twice so that nearby (seed, stream) pairs decorrelate */
    uint64_t y = splitmix64(&x) ^ stream;
    x ^= y;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t sl_rng_u64(sl_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sl_rng_uniform(sl_rng *r) { return (double)(sl_rng_u64(r) >> 11) * 0x1.0p-53; }

double sl_rng_uniform_range(sl_rng *r, double lo, double hi) {
    return lo + (hi - lo) * sl_rng_uniform(r);
}

uint64_t sl_rng_below(sl_rng *r, uint64_t n) {
    SL_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = sl_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double sl_rng_normal(sl_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = sl_rng_uniform(r);
    while (u1 <= 0.0);
    u2 = sl_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 2.0 * M_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

size_t sl_rng_categorical(sl_rng *r, const double *w, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += w[i] > 0.0 ? w[i] : 0.0;
    if (!(sum > 0.0)) return n;
    double u = sl_rng_uniform(r) * sum, acc = 0.0;
    size_t last = n;
    for (size_t i = 0; i < n; i++) {
        if (w[i] <= 0.0) continue;
        acc += w[i];
        last = i;
        if (u < acc) return i;
    }
    return last; /* rounding: the last positive weight */
}

void sl_rng_shuffle(sl_rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)sl_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
