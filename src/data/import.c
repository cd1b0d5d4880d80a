/* SPDX-License-Identifier: Apache-2.0 */
/* import.c - the importers' front door: detect a file's format from its first bytes and hand
 * it to the parser for that format (NPZ, D4RL or Minari HDF5, CSV).
 *
 * Invariant: this file only chooses; it sits above the parsers (import_csv.c, import_hdf5.c)
 * and the shared finishing step (import_common.c), and nothing below calls back into it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/import_internal.h"

/* --- detection and dispatch ---------------------------------------------- */

/* 1 if path ends in ext (case-insensitive, ext with its dot) */
static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), k = strlen(ext);
    return n > k && strcasecmp(path + n - k, ext) == 0;
}

sl_status sl_import_detect(const char *path, sl_import_format *out) {
    uint64_t size = 0;
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, &size));
    if (size == 0) return sl_set_error(SL_ERR_FORMAT, "%s: empty file (0 bytes)", path);
    FILE *f = fopen(path, "rb");
    if (!f) return sl_set_error(SL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    /* PK\3\4: a zip with members; PK\5\6: an empty zip (np.savez with no arrays) */
    if (got == 4 && magic[0] == 'P' && magic[1] == 'K' &&
        ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6))) {
        *out = SL_IMPORT_NPZ;
        return SL_OK;
    }
    if (has_ext(path, ".npz"))
        return sl_set_error(SL_ERR_FORMAT, "%s: named .npz but not a zip archive (bad magic)",
                            path);
    if (sl_imp_is_hdf5(path)) return sl_imp_hdf5_kind(path, out);
    if (has_ext(path, ".h5") || has_ext(path, ".hdf5"))
        return sl_set_error(SL_ERR_FORMAT, "%s: named .%s but has no HDF5 signature", path,
                            has_ext(path, ".h5") ? "h5" : "hdf5");
    *out = SL_IMPORT_CSV;
    return SL_OK;
}

static sl_status import_npz(sl_dataset **out, const char *path, const sl_import_options *opt,
                            sl_import_report *rep) {
    sl_dataset *ds = NULL;
    SL_TRY(sl_dataset_load_npz(&ds, path));
    rep->rows_in_file = ds->n;
    rep->episodes_in_file = ds->n_episodes;
    rep->next_obs_from_file = 1;
    if (opt->max_episodes && opt->max_episodes < ds->n_episodes) {
        size_t k = opt->max_episodes;
        size_t *eps = malloc(k * sizeof *eps);
        if (!eps) {
            sl_dataset_free(ds);
            return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        }
        for (size_t i = 0; i < k; i++) eps[i] = i;
        sl_dataset *sub = NULL;
        sl_status s = sl_dataset_select_episodes(&sub, ds, eps, k);
        free(eps);
        sl_dataset_free(ds);
        if (s != SL_OK) return s;
        ds = sub;
    }
    rep->rows = ds->n;
    rep->episodes = ds->n_episodes;
    *out = ds;
    return SL_OK;
}

sl_status sl_import_file(sl_dataset **out, const char *path, const sl_import_options *opt,
                         sl_import_report *rep) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "sl_import_file: NULL argument");
    *out = NULL;
    sl_import_options o;
    sl_imp_resolve_options(&o, opt);
    sl_import_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    /* only regular files within the input limit: never a device, FIFO or directory */
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, NULL));
    sl_import_format f = o.format;
    if (f == SL_IMPORT_AUTO) SL_TRY(sl_import_detect(path, &f));
    switch (f) {
    case SL_IMPORT_NPZ: rep->format = f; return import_npz(out, path, &o, rep);
    case SL_IMPORT_D4RL: return sl_import_d4rl(out, path, &o, rep);
    case SL_IMPORT_MINARI: return sl_import_minari(out, path, &o, rep);
    case SL_IMPORT_CSV: return sl_import_csv(out, path, &o, rep);
    case SL_IMPORT_AUTO:
    case SL_IMPORT_FORMAT_COUNT: break;
    }
    return sl_set_error(SL_ERR_ARG, "%s: bad import format %d", path, (int)f);
}
