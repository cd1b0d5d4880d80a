/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_dataset_npz.c - structure-aware libFuzzer target for sl_dataset_load_npz.
 *
 * Raw byte mutations of a zip almost always break a member's CRC, so a plain file fuzzer never
 * gets past the zip layer into the dataset logic. Instead the input describes an archive: a
 * list of members, each with a key (from the dataset layout plus a few extras), a dtype, a small
 * shape and raw data bytes (so NaN, Inf, flags > 1 and bad episode ids all occur). The target
 * writes that archive with libzip (valid CRCs) to a temp file under /dev/shm and loads it.
 * Invariants: a failed load leaves a message and no dataset; a successful load passes
 * sl_dataset_validate, and save -> load reproduces every array bit for bit.
 * Build and run: scripts/fuzz.sh (make fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "synthloop/sl_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static const char *const keys[] = {
    "observations", "next_observations", "actions",   "rewards", "terminals",
    "timeouts",     "episode_ids",       "timesteps", "energy_wh", "ep_mpl",
    "ep_x",         "infos/qpos",        "ep_bad-name",
};
static const char *const descrs[] = {"<f4", "<f8", "<i4", "<i8", "|u1", "|b1"};
static const size_t isize[] = {4, 8, 4, 8, 1, 1};

static const char *tmp_base(void) { return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"; }

static void check_same(const sl_dataset *a, const sl_dataset *b) {
    if (a->n != b->n || a->n_episodes != b->n_episodes || a->obs_dim != b->obs_dim ||
        a->act_dim != b->act_dim || a->n_step_cols != b->n_step_cols ||
        a->n_ep_cols != b->n_ep_cols)
        abort();
    size_t n = a->n, od = (size_t)a->obs_dim, ad = (size_t)a->act_dim;
    if (memcmp(a->observations, b->observations, n * od * 4) ||
        memcmp(a->next_observations, b->next_observations, n * od * 4) ||
        memcmp(a->actions, b->actions, n * ad * 4) || memcmp(a->rewards, b->rewards, n * 4) ||
        memcmp(a->terminals, b->terminals, n) || memcmp(a->timeouts, b->timeouts, n) ||
        memcmp(a->episode_ids, b->episode_ids, n * 4) ||
        memcmp(a->timesteps, b->timesteps, n * 4))
        abort();
    for (int c = 0; c < a->n_step_cols; c++) {
        const float *x = sl_dataset_step_col(b, a->step_cols[c].name);
        if (!x || memcmp(x, a->step_cols[c].data, n * 4)) abort();
    }
    for (int c = 0; c < a->n_ep_cols; c++) {
        const double *x = sl_dataset_ep_col(b, a->ep_cols[c].name);
        if (!x || memcmp(x, a->ep_cols[c].data, a->n_episodes * 8)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[256], path2[256];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/fuzz_dataset_%ld.npz", tmp_base(), (long)getpid());
        snprintf(path2, sizeof path2, "%s/fuzz_dataset_%ld_2.npz", tmp_base(), (long)getpid());
    }
    input in = {data, size};
    int err = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) abort();
    unsigned nmem = 1 + take(&in) % 12;
    for (unsigned m = 0; m < nmem; m++) {
        unsigned kb = take(&in), db = take(&in), nb = take(&in);
        const char *key = keys[kb % (sizeof keys / sizeof keys[0])];
        unsigned dt = db % 6;
        int ndim = (int)(nb % 3);
        size_t shape[2] = {take(&in) % 9, 1 + take(&in) % 4}, count = 1;
        for (int d = 0; d < ndim; d++) count *= shape[d];
        char hdr[160];
        int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                          descrs[dt]);
        if (ndim == 1) hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "%zu,", shape[0]);
        if (ndim == 2)
            hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "%zu, %zu", shape[0], shape[1]);
        hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "), }");
        size_t total = (10 + (size_t)hl + 1 + 63) / 64 * 64;
        size_t nbytes = count * isize[dt];
        unsigned char *buf = calloc(total + nbytes, 1);
        if (!buf) abort();
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)((total - 10) & 0xff);
        buf[9] = (unsigned char)((total - 10) >> 8);
        memcpy(buf + 10, hdr, (size_t)hl);
        memset(buf + 10 + hl, ' ', total - 10 - (size_t)hl - 1);
        buf[total - 1] = '\n';
        /* data: mostly small, well-formed values so loads can succeed; raw bytes otherwise */
        unsigned mode = take(&in) % 4;
        for (size_t i = 0; i < count; i++) {
            unsigned char *e = buf + total + i * isize[dt];
            unsigned v = take(&in);
            if (mode == 0) {
                for (size_t k = 0; k < isize[dt]; k++) e[k] = (unsigned char)take(&in);
            } else if (dt == 0) {
                float f = mode == 1 ? (float)(v % 4) : (float)v * 0.5f - 3.0f;
                memcpy(e, &f, 4);
            } else if (dt == 1) {
                double f = mode == 1 ? (double)(v % 4) : (double)v * 0.25;
                memcpy(e, &f, 8);
            } else if (dt == 2 || dt == 3) {
                int64_t x = mode == 1 ? (int64_t)(i / (1 + v % 3)) : (int64_t)(v % 3);
                memcpy(e, &x, isize[dt]);
            } else {
                e[0] = (unsigned char)(mode == 3 ? v : v & 1);
            }
        }
        char member[64];
        snprintf(member, sizeof member, "%s.npy", key);
        zip_source_t *src = zip_source_buffer(za, buf, total + nbytes, 1);
        if (!src) abort();
        if (zip_file_add(za, member, src, ZIP_FL_OVERWRITE) < 0) zip_source_free(src);
    }
    if (zip_close(za) != 0) abort();

    sl_dataset *ds = NULL;
    sl_status s = sl_dataset_load_npz(&ds, path);
    if (s != SL_OK) {
        if (ds || !sl_last_error()[0]) abort();
    } else {
        if (sl_dataset_validate(ds, "fuzz") != SL_OK) abort();
        sl_status s2 = sl_dataset_save_npz(ds, path2);
        /* the only refusal allowed: a loaded step column named ep_* is impossible, so none */
        if (s2 != SL_OK) abort();
        sl_dataset *back = NULL;
        if (sl_dataset_load_npz(&back, path2) != SL_OK) abort();
        check_same(ds, back);
        sl_dataset_free(back);
        sl_dataset_free(ds);
        unlink(path2);
    }
    unlink(path);
    return 0;
}
