/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_weight_records.c - libFuzzer target for the weight controller's text inputs: the outcome
 * records reader (sl_weight_records_read, JSON lines) and the econ / lambda model loaders.
 * Invariants checked: a rejected input has a message; accepted records are finite and in range
 * (outcome and share in [0,1], reward >= 0, real_rows >= 0, max share in (0,1), brick < 64),
 * and writing them back and reading that again gives the same values bit for bit; an accepted
 * model saves and reloads to the same parameters.
 * Build: scripts/fuzz.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthloop/sl_weight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char in_path[64], out_path[64];

static void paths(void) {
    if (in_path[0]) return;
    snprintf(in_path, sizeof in_path, "/tmp/fuzz_wr_in.%d", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/fuzz_wr_out.%d", (int)getpid());
}

static void put(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
}

static int same(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    paths();
    put(in_path, data, size);
    sl_econ_record *er = NULL;
    sl_lambda_record *lr = NULL;
    size_t ne = 0, nl = 0;
    if (sl_weight_records_read(in_path, &er, &ne, &lr, &nl) != SL_OK) {
        if (!sl_last_error()[0]) abort();
    } else {
        FILE *f = fopen(out_path, "w");
        if (!f) abort();
        for (size_t i = 0; i < ne; i++) {
            const sl_econ_record *r = &er[i];
            if (!(r->outcome >= 0 && r->outcome <= 1) || r->brick_id >= SL_ECON_MAX_BRICKS) abort();
            if (sl_econ_record_write(f, r) != SL_OK) abort();
        }
        for (size_t i = 0; i < nl; i++) {
            const sl_lambda_record *r = &lr[i];
            if (!(r->share >= 0 && r->share <= 1) || !(r->reward >= 0) || !isfinite(r->reward) ||
                !(r->ctx.real_rows >= 0) || !isfinite(r->ctx.real_rows) ||
                !(r->ctx.max_synth_share > 0 && r->ctx.max_synth_share < 1))
                abort();
            if (sl_lambda_record_write(f, r) != SL_OK) abort();
        }
        if (fclose(f) != 0) abort();
        sl_econ_record *er2 = NULL;
        sl_lambda_record *lr2 = NULL;
        size_t ne2 = 0, nl2 = 0;
        if (sl_weight_records_read(out_path, &er2, &ne2, &lr2, &nl2) != SL_OK) abort();
        if (ne2 != ne || nl2 != nl) abort();
        for (size_t i = 0; i < ne; i++)
            if (!same(er[i].delta_mpl, er2[i].delta_mpl) || !same(er[i].outcome, er2[i].outcome) ||
                er[i].brick_id != er2[i].brick_id)
                abort();
        for (size_t i = 0; i < nl; i++)
            if (!same(lr[i].share, lr2[i].share) || !same(lr[i].reward, lr2[i].reward) ||
                !same(lr[i].ctx.real_rows, lr2[i].ctx.real_rows) ||
                !same(lr[i].ctx.current_mpl, lr2[i].ctx.current_mpl))
                abort();
        free(er2);
        free(lr2);
    }
    free(er);
    free(lr);
    /* the same bytes as model files */
    sl_econ_model em, em2;
    if (sl_econ_model_load(&em, in_path) == SL_OK) {
        if (sl_econ_model_save(&em, out_path) != SL_OK) abort();
        if (sl_econ_model_load(&em2, out_path) != SL_OK) abort();
        if (memcmp(em.params, em2.params, sizeof em.params) != 0 || em.n_bricks != em2.n_bricks)
            abort();
    } else if (!sl_last_error()[0]) {
        abort();
    }
    sl_lambda_model lm, lm2;
    if (sl_lambda_model_load(&lm, in_path) == SL_OK) {
        if (sl_lambda_model_save(&lm, out_path) != SL_OK) abort();
        if (sl_lambda_model_load(&lm2, out_path) != SL_OK) abort();
        if (memcmp(lm.params, lm2.params, sizeof lm.params) != 0) abort();
    } else if (!sl_last_error()[0]) {
        abort();
    }
    return 0;
}
