/* SPDX-License-Identifier: Apache-2.0 */
/* router.c - which version answers a request: sticky buckets from a keyed hash.
 *
 * Invariant: a request key maps to one bucket in [0, 10000) forever (SipHash-2-4 under a fixed
 * key), and the candidate serves buckets below share * 10000; raising the share therefore only
 * moves keys from live to the candidate, never back and forth. */
#include <string.h>

#include <sodium.h>

#include "synthloop/sl_deploy.h"

/* fixed, public: stickiness needs stability, not secrecy */
static const unsigned char route_key[crypto_shorthash_KEYBYTES] = "synthloop-route!";

static int bucket_of(const char *key, uint64_t counter) {
    unsigned char h[crypto_shorthash_BYTES];
    if (key && *key) {
        crypto_shorthash(h, (const unsigned char *)key, strlen(key), route_key);
    } else {
        unsigned char c[8];
        for (int i = 0; i < 8; i++) c[i] = (unsigned char)(counter >> (8 * i));
        crypto_shorthash(h, c, sizeof c, route_key);
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)h[i] << (8 * i);
    return (int)(v % 10000u);
}

sl_route sl_route_pick(int64_t live, const sl_rollout *r, const char *key, uint64_t counter) {
    sl_route out = {live, 0, bucket_of(key, counter)};
    if (!r || r->state != SL_ROLLOUT_ACTIVE) return out;
    switch (r->plan.strategy) {
    case SL_STRATEGY_SHADOW:
        out.shadow = r->candidate;
        break;
    case SL_STRATEGY_CANARY:
    case SL_STRATEGY_AB:
        if (out.bucket < (int)(r->share * 10000.0 + 0.5)) out.serve = r->candidate;
        break;
    default:
        break;
    }
    if (out.serve == 0) out.serve = r->candidate; /* no live version: only the candidate */
    return out;
}
