/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_http.c - libFuzzer target for the HTTP router of `synthloop serve` (sl_http_route):
 * arbitrary method, request target, Authorization header and body against a small real
 * registry. The router must answer every input with a status in [200, 599] and a body, never
 * crash, leak or read out of bounds.
 *
 * Input layout: byte 0 picks the method; the rest is split at the first two '\n' into
 * target, authorization ("-" = none) and body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthloop/sl_registry.h"
#include "synthloop/sl_serve.h"

static sl_registry *reg;
static sl_serve_config cfg;

static void setup(void) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_http.%ld.db", (long)getpid());
    if (sl_registry_open(path, &reg) != SL_OK) abort();
    int64_t run;
    double v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    if (sl_run_begin(reg, "fuzz", "{\"a\":1}", 1, &run) != SL_OK ||
        sl_registry_add_metrics(reg, run, "baseline/x", NULL, v, 8) != SL_OK ||
        sl_registry_add_ab(reg, run, "ab", "{\"p\":0.5}", "no_difference", NULL) != SL_OK)
        abort();
    sl_serve_config_default(&cfg);
    cfg.db_path = path;
    cfg.token = "fuzz-token";
    cfg.web_root = getenv("SL_FUZZ_WEB") ? getenv("SL_FUZZ_WEB") : "web";
    cfg.max_body = 4096;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!reg) setup();
    if (size < 1 || size > 16384) return 0;
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", ""};
    const char *method = methods[data[0] % 6];
    char *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *target = buf, *auth = NULL, *body = NULL;
    char *nl = memchr(buf, '\n', size - 1);
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        auth = nl + 1;
        char *nl2 = memchr(auth, '\n', (size_t)(buf + size - 1 - auth));
        if (nl2) {
            *nl2 = '\0';
            body = nl2 + 1;
            body_len = (size_t)(buf + size - 1 - body);
        }
    }
    if (auth && strcmp(auth, "-") == 0) auth = NULL;
    /* mutations would grow the registry without bound; keep the file fixed-size */
    int mutate = strcmp(method, "POST") == 0;
    if (mutate && auth) auth = "Bearer wrong-token";
    /* the high bit of the first byte sends the second line as the Host header instead */
    const char *host = (data[0] & 0x80) && auth ? auth : NULL;
    if (host) auth = NULL;
    sl_http_request rq = {method, target, auth, body, body_len, host};
    sl_http_response rs;
    sl_http_route(&cfg, reg, &rq, &rs);
    if (rs.status < 200 || rs.status > 599) abort();
    if (!rs.is_event_stream && strncmp(target, "/api/", 5) == 0 && (!rs.body || !rs.body_len)) abort();
    sl_http_response_free(&rs);
    free(buf);
    return 0;
}
