/* SPDX-License-Identifier: Apache-2.0 */
/* pseudo.c - keyed pseudonyms: HMAC-SHA256 (libsodium) of the column name and the value.
 *
 * Invariant: no pseudonym is ever made without a key of at least SL_PSEUDO_KEY_MIN bytes, and
 * no mapping back to the value is stored anywhere: rotating the key (a new file or a new
 * ANONYMIZATION_SALT) yields unrelated pseudonyms, and the old ones cannot be recomputed
 * without the old key.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privacy_internal.h"

void sl_pseudo_key_wipe(sl_pseudo_key *k) {
    if (k) sodium_memzero(k, sizeof *k);
}

sl_status sl_pseudo_key_load(const char *path, sl_pseudo_key *k) {
    memset(k, 0, sizeof *k);
    if (sodium_init() < 0)
        return sl_set_error(SL_ERR_INTERNAL, "pseudonyms: libsodium failed to initialise");
    const char *src = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (path && *path) {
        SL_TRY(sl_read_file(path, &buf, &len));
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
        src = buf;
    } else {
        src = getenv(SL_PSEUDO_ENV);
        if (!src || !*src)
            return sl_set_error(SL_ERR_ARG,
                                "pseudonyms: no key: give --key-file FILE or set %s (at least "
                                "%d bytes)", SL_PSEUDO_ENV, SL_PSEUDO_KEY_MIN);
        len = strlen(src);
    }
    sl_status s = SL_OK;
    if (len < SL_PSEUDO_KEY_MIN) {
        s = sl_set_error(SL_ERR_ARG, "pseudonyms: key from %s is %zu bytes; at least %d required",
                         path && *path ? path : SL_PSEUDO_ENV, len, SL_PSEUDO_KEY_MIN);
    } else if (len > sizeof k->key) {
        /* longer keys are hashed first, as HMAC (RFC 2104) itself does */
        crypto_hash_sha256(k->key, (const unsigned char *)src, len);
        k->len = 32;
    } else {
        memcpy(k->key, src, len);
        k->len = len;
    }
    if (buf) {
        sodium_memzero(buf, len);
        free(buf);
    }
    return s;
}

void sl_pseudonym(const sl_pseudo_key *k, const char *column, const char *value, char out[33]) {
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, k->key, k->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)column, strlen(column) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)value, strlen(value));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 33, mac, 16);
}

_Static_assert(sizeof(crypto_auth_hmacsha256_state) <= sizeof(((sl_pseudo_ctx *)0)->state),
               "sl_pseudo_ctx holds an HMAC state");

void sl_pseudo_ctx_init(sl_pseudo_ctx *c, const sl_pseudo_key *k, const char *column) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)column, strlen(column) + 1);
    memcpy(c->state, &st, sizeof st);
    sodium_memzero(&st, sizeof st);
}

void sl_pseudo_ctx_apply(const sl_pseudo_ctx *c, const char *value, char out[33]) {
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    memcpy(&st, c->state, sizeof st);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)value, strlen(value));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 33, mac, 16);
    sodium_memzero(&st, sizeof st);
}

void sl_pseudo_ctx_wipe(sl_pseudo_ctx *c) {
    if (c) sodium_memzero(c, sizeof *c);
}
