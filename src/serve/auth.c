/* SPDX-License-Identifier: Apache-2.0 */
/* auth.c - the bearer-token check every mutating route uses (router.c, v1.c and the module
 * routes), in a file of its own so that the route files depend on it and not on each other.
 * Invariant: the comparison takes the same time whatever the lengths (both sides hashed). */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "synthloop/sl_serve.h"

int sl_http_token_ok(const sl_serve_config *c, const char *authorization) {
    if (!c || !c->token || !*c->token || !authorization) return 0;
    static const char prefix[] = "Bearer ";
    if (strncasecmp(authorization, prefix, sizeof prefix - 1) != 0) return 0;
    const char *given = authorization + sizeof prefix - 1;
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
    crypto_generichash(a, sizeof a, (const unsigned char *)given, strlen(given), NULL, 0);
    crypto_generichash(b, sizeof b, (const unsigned char *)c->token, strlen(c->token), NULL, 0);
    return sodium_memcmp(a, b, sizeof a) == 0;
}
