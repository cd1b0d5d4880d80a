/* SPDX-License-Identifier: Apache-2.0 */
/* import_internal.h - shared by the importers: a flat "raw" table the parsers (import_csv.c,
 * import_hdf5.c) fill in their own buffers, and one finishing step (import_common.c) that turns
 * it into a validated sl_dataset. The dispatcher (import.c) calls the parsers; the parsers call
 * only import_common.c.
 *
 * Invariant: a parser reports bad values itself (it knows the key / line / column); the
 * finishing step only assumes the raw arrays are finite and of the stated lengths.
 */
#ifndef SL_IMPORT_INTERNAL_H
#define SL_IMPORT_INTERNAL_H

#include "synthloop/sl_import.h"

typedef struct sl_imp_raw {
    const char *what; /* source name for messages */
    size_t n;
    int obs_dim, act_dim;
    float *obs;      /* [n * obs_dim] */
    float *next_obs; /* [n * obs_dim] or NULL: derived inside episodes */
    float *act;      /* [n * act_dim] */
    float *rew;      /* [n] */
    uint8_t *term;   /* [n] */
    uint8_t *tout;   /* [n] */
    int64_t *epkey;  /* [n] or NULL: episodes end after term|tout rows; else runs of equal keys */
    size_t *line;    /* [n] or NULL: source line per row (CSV), for messages */
    int n_step;
    char step_name[SL_DATASET_MAX_COLS][SL_DATASET_NAME_MAX];
    float *step[SL_DATASET_MAX_COLS]; /* [n] each */
    int n_epc;
    char epc_name[SL_DATASET_MAX_COLS][SL_DATASET_NAME_MAX]; /* without the "ep_" prefix */
    double *epc[SL_DATASET_MAX_COLS]; /* [n] per row; must be constant inside an episode */
} sl_imp_raw;

/* Free every buffer of raw (not raw itself). */
void sl_imp_raw_clear(sl_imp_raw *raw);

/* Build the dataset: split episodes, keep the first max_episodes (0 = all), derive missing
 * next observations, copy columns, validate. Fills rep (rows/episodes/next_obs fields). */
sl_status sl_imp_finish(sl_dataset **out, const sl_imp_raw *raw, size_t max_episodes,
                        sl_import_report *rep);

/* HDF5 files only: SL_IMPORT_D4RL if a top-level "observations" dataset exists, SL_IMPORT_MINARI
 * if a top-level episode_<N> group exists, else SL_ERR_FORMAT naming the file. */
sl_status sl_imp_hdf5_kind(const char *path, sl_import_format *out);
/* 1 if the file starts with (or has at 512/1024/2048) the HDF5 superblock signature. */
int sl_imp_is_hdf5(const char *path);

/* Resolve NULL fields of opt to the defaults. */
void sl_imp_resolve_options(sl_import_options *dst, const sl_import_options *src);

#endif
