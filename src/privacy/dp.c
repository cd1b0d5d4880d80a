/* SPDX-License-Identifier: Apache-2.0 */
/* dp.c - exact samplers (Canonne, Kamath, Steinke 2020) and the grid mechanisms built on them.
 *
 * Invariant: the samplers use only uniform integers from the ChaCha20 keystream and integer
 * comparisons; no floating-point value ever enters a noise draw. Rationals are 64-bit (128-bit
 * in the discrete Gaussian's acceptance test). Parameters are rounded towards more privacy:
 * Laplace scale and Gaussian variance up, randomized response's epsilon down.
 */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "synthloop/sl_privacy.h"

typedef unsigned __int128 u128;

/* --- randomness --------------------------------------------------------------------------- */

static sl_status sodium_ready(void) {
    if (sodium_init() < 0)
        return sl_set_error(SL_ERR_INTERNAL, "privacy: libsodium failed to initialise");
    return SL_OK;
}

sl_status sl_dp_rng_init_os(sl_dp_rng *r) {
    SL_TRY(sodium_ready());
    memset(r, 0, sizeof *r);
    randombytes_buf(r->key, sizeof r->key);
    r->pos = sizeof r->buf;
    return SL_OK;
}

sl_status sl_dp_rng_init_seeded(sl_dp_rng *r, uint64_t seed) {
    SL_TRY(sodium_ready());
    memset(r, 0, sizeof *r);
    unsigned char in[16] = "sl-dp-seed";
    for (int i = 0; i < 8; i++) in[8 + i] = (unsigned char)(seed >> (8 * i));
    crypto_generichash(r->key, sizeof r->key, in, sizeof in, NULL, 0);
    r->pos = sizeof r->buf;
    r->seeded = 1;
    return SL_OK;
}

static void refill(sl_dp_rng *r) {
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (unsigned char)(r->block >> (8 * i));
    crypto_stream_chacha20(r->buf, sizeof r->buf, nonce, r->key);
    r->block++;
    r->pos = 0;
}

uint64_t sl_dp_rng_u64(sl_dp_rng *r) {
    if (r->pos + 8 > sizeof r->buf) refill(r);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)r->buf[r->pos + i] << (8 * i);
    r->pos += 8;
    return x;
}

uint64_t sl_dp_rng_below(sl_dp_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n: values below it would bias */
    for (;;) {
        uint64_t x = sl_dp_rng_u64(r);
        if (x >= threshold) return x % n;
    }
}

/* Uniform in [0, n) for a 128-bit n >= 1: rejection on the bit length of n - 1. */
static u128 below128(sl_dp_rng *r, u128 n) {
    if (n <= 1) return 0;
    u128 m = n - 1;
    int bits = 0;
    while (m >> bits) bits++;
    u128 mask = bits >= 128 ? ~(u128)0 : (((u128)1 << bits) - 1);
    for (;;) {
        u128 x = ((u128)sl_dp_rng_u64(r) << 64) | sl_dp_rng_u64(r);
        x &= mask;
        if (x < n) return x;
    }
}

/* --- Bernoulli draws ---------------------------------------------------------------------- */

int sl_dp_bernoulli(sl_dp_rng *r, uint64_t num, uint64_t den) {
    if (den == 0 || num >= den) return 1;
    return sl_dp_rng_below(r, den) < num;
}

static int bern128(sl_dp_rng *r, u128 num, u128 den) {
    if (num >= den) return 1;
    return below128(r, den) < num;
}

/* exp(-num/den) for num/den in [0, 1] (CKS Algorithm 1): K = 1, 2, ... while a
 * Bernoulli(gamma / K) succeeds; return whether the stopping K is odd. Bernoulli(gamma / K) is
 * drawn as Bernoulli(gamma) AND Bernoulli(1 / K), which needs no product of denominators. */
static int bern_exp_unit(sl_dp_rng *r, u128 num, u128 den) {
    uint64_t k = 1;
    for (;;) {
        if (!bern128(r, num, den) || !sl_dp_bernoulli(r, 1, k)) break;
        k++;
    }
    return (int)(k & 1);
}

static int bern_exp128(sl_dp_rng *r, u128 num, u128 den) {
    u128 whole = num / den;
    for (u128 i = 0; i < whole; i++)
        if (!bern_exp_unit(r, 1, 1)) return 0;
    return bern_exp_unit(r, num % den, den);
}

int sl_dp_bernoulli_exp(sl_dp_rng *r, uint64_t num, uint64_t den) {
    if (den == 0) return 0;
    return bern_exp128(r, num, den);
}

/* --- discrete Laplace and Gaussian ---------------------------------------------------------- */

int64_t sl_dp_discrete_laplace(sl_dp_rng *r, uint64_t t, uint64_t s) {
    SL_ASSERT(t >= 1 && s >= 1 && t < ((uint64_t)1 << 62));
    for (;;) {
        uint64_t u = sl_dp_rng_below(r, t);
        if (!bern_exp128(r, u, t)) continue;
        uint64_t v = 0;
        while (bern_exp_unit(r, 1, 1)) v++;
        /* v > (2^63 - t) / t has probability below e^-(2^63/t - 1); rejecting it keeps x in
         * range (a deviation far below 2^-1000 for the scales the mechanisms allow) */
        if (v > (((uint64_t)1 << 63) - u) / t) continue;
        uint64_t x = u + t * v;
        uint64_t y = x / s;
        int b = sl_dp_bernoulli(r, 1, 2);
        if (b && y == 0) continue;
        return b ? -(int64_t)y : (int64_t)y;
    }
}

/* floor(sqrt(num / den)) exactly. */
static uint64_t floor_sqrt_ratio(uint64_t num, uint64_t den) {
    uint64_t m = (uint64_t)sqrt((double)num / (double)den);
    while (m > 0 && (u128)m * m * den > num) m--;
    while ((u128)(m + 1) * (m + 1) * den <= num) m++;
    return m;
}

int64_t sl_dp_discrete_gaussian(sl_dp_rng *r, uint64_t num, uint64_t den) {
    SL_ASSERT(num >= 1 && den >= 1 && den <= 256 && num / den <= ((uint64_t)1 << 40));
    uint64_t t = floor_sqrt_ratio(num, den) + 1;
    /* accept Y with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)), sigma^2 = num/den:
     * gamma = (|Y| den t - num)^2 / (2 num den t^2) */
    u128 gden = (u128)2 * num * den * t * t;
    for (;;) {
        int64_t y = sl_dp_discrete_laplace(r, t, 1);
        uint64_t ay = (uint64_t)(y < 0 ? -y : y);
        u128 a = (u128)ay * den * t;
        u128 d = a >= num ? a - num : num - a;
        /* d >= 2^63 means gamma >= 2^126 / gden >= 2^28 (gden < 2^98 under the asserted
         * bounds): acceptance probability below e^-(2^28); treated as a rejection */
        if (d >> 63) continue;
        if (bern_exp128(r, d * d, gden)) return y;
    }
}

double sl_dp_naive_laplace(sl_dp_rng *r, double x, double scale) {
    double u;
    do {
        u = (double)(sl_dp_rng_u64(r) >> 11) * 0x1p-53 - 0.5;
    } while (u == -0.5);
    double n = -scale * (u < 0 ? -1.0 : 1.0) * log(1.0 - 2.0 * fabs(u));
    return x + n;
}

/* --- mechanisms --------------------------------------------------------------------------- */

uint64_t sl_dp_value_sens(double lo, double hi, double grid) {
    if (!(grid > 0) || !(hi >= lo)) return 0;
    double q = floor((hi - lo) / grid);
    if (!(q < 0x1p62)) return 0;
    return (uint64_t)q + 1;
}

static sl_status check_common(double grid, uint64_t sens) {
    if (!isfinite(grid) || grid <= 0)
        return sl_set_error(SL_ERR_ARG, "dp: grid %g must be finite and > 0", grid);
    if (sens == 0) return sl_set_error(SL_ERR_ARG, "dp: sensitivity must be >= 1 grid unit");
    return SL_OK;
}

sl_status sl_dp_mech_laplace(sl_dp_mech *m, double epsilon, uint64_t sens_grid, double grid) {
    memset(m, 0, sizeof *m);
    if (!isfinite(epsilon) || epsilon <= 0)
        return sl_set_error(SL_ERR_ARG, "dp: epsilon %g must be finite and > 0", epsilon);
    SL_TRY(check_common(grid, sens_grid));
    double lambda = nextafter((double)sens_grid / epsilon, INFINITY);
    double tt = ceil(lambda * 65536.0);
    if (!(tt < 0x1p61))
        return sl_set_error(SL_ERR_RANGE,
                            "dp: Laplace scale %g grid units is too large for the sampler "
                            "(use a coarser grid or a larger epsilon)", lambda);
    m->kind = SL_DP_LAPLACE;
    m->grid = grid;
    m->sens_grid = sens_grid;
    m->epsilon = epsilon;
    m->t = (uint64_t)tt;
    m->s = 65536;
    return SL_OK;
}

double sl_dp_rho_from_eps_delta(double epsilon, double delta) {
    double L = log(1.0 / delta);
    double sr = sqrt(L + epsilon) - sqrt(L);
    return sr * sr;
}

sl_status sl_dp_mech_gaussian_rho(sl_dp_mech *m, double rho, uint64_t sens_grid, double grid) {
    memset(m, 0, sizeof *m);
    if (!isfinite(rho) || rho <= 0)
        return sl_set_error(SL_ERR_ARG, "dp: rho %g must be finite and > 0", rho);
    SL_TRY(check_common(grid, sens_grid));
    /* rho sizes the noise: round it down and the variance up (more noise, never less) */
    rho = nextafter(rho, 0.0);
    double var = nextafter((double)sens_grid * (double)sens_grid / (2.0 * rho), INFINITY);
    double vn = ceil(var * 256.0);
    if (!(vn >= 1) || !(var <= 0x1p40))
        return sl_set_error(SL_ERR_RANGE,
                            "dp: Gaussian variance %g grid units^2 is too large for the sampler "
                            "(use a coarser grid or a larger epsilon)", var);
    m->kind = SL_DP_GAUSSIAN;
    m->grid = grid;
    m->sens_grid = sens_grid;
    m->rho = rho;
    m->var_num = (uint64_t)vn;
    m->var_den = 256;
    return SL_OK;
}

sl_status sl_dp_mech_gaussian(sl_dp_mech *m, double epsilon, double delta, uint64_t sens_grid,
                              double grid) {
    memset(m, 0, sizeof *m);
    if (!isfinite(epsilon) || epsilon <= 0)
        return sl_set_error(SL_ERR_ARG, "dp: epsilon %g must be finite and > 0", epsilon);
    if (!isfinite(delta) || delta <= 0 || delta >= 1)
        return sl_set_error(SL_ERR_ARG, "dp: Gaussian delta %g must be in (0, 1)", delta);
    SL_TRY(sl_dp_mech_gaussian_rho(m, sl_dp_rho_from_eps_delta(epsilon, delta), sens_grid, grid));
    m->epsilon = epsilon;
    m->delta = delta;
    return SL_OK;
}

int64_t sl_dp_mech_noise(const sl_dp_mech *m, sl_dp_rng *r) {
    if (m->kind == SL_DP_GAUSSIAN) return sl_dp_discrete_gaussian(r, m->var_num, m->var_den);
    return sl_dp_discrete_laplace(r, m->t, m->s);
}

double sl_dp_mech_apply(const sl_dp_mech *m, sl_dp_rng *r, double x) {
    double k = nearbyint(x / m->grid);
    return (k + (double)sl_dp_mech_noise(m, r)) * m->grid;
}

double sl_dp_mech_pmf(const sl_dp_mech *m, int64_t z) {
    double az = fabs((double)z);
    if (m->kind == SL_DP_LAPLACE) {
        double a = (double)m->s / (double)m->t; /* 1 / scale */
        return tanh(a / 2.0) * exp(-az * a);   /* (1 - e^-a) / (1 + e^-a) e^{-a|z|} */
    }
    double var = (double)m->var_num / (double)m->var_den;
    double norm;
    if (var >= 16.0) {
        norm = sqrt(2.0 * M_PI * var); /* Poisson summation: error < e^{-2 pi^2 var} */
    } else {
        norm = 1.0;
        for (int k = 1; k < 200; k++) norm += 2.0 * exp(-(double)k * k / (2.0 * var));
    }
    return exp(-az * az / (2.0 * var)) / norm;
}

uint32_t sl_dp_randomized_response(sl_dp_rng *r, uint32_t truth, uint32_t k, double epsilon) {
    SL_ASSERT(k >= 2 && truth < k && epsilon >= 0);
    double e = floor(epsilon * 0x1p32);
    uint64_t num = e < 0x1p63 ? (uint64_t)e : ((uint64_t)1 << 63);
    for (;;) {
        uint32_t c = (uint32_t)sl_dp_rng_below(r, k);
        if (c == truth || sl_dp_bernoulli_exp(r, num, (uint64_t)1 << 32)) return c;
    }
}
