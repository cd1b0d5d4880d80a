/* SPDX-License-Identifier: Apache-2.0 */
/* sl_dataset.h - an in-memory dataset of real (or synthetic) transitions, and its NPZ file form.
 *
 * Layout follows D4RL: flat arrays over n transitions, episodes stored back to back in order.
 * NPZ keys written/read (C order, little endian):
 *   observations      f4 [n, obs_dim]     next_observations f4 [n, obs_dim]
 *   actions           f4 [n, act_dim]     rewards           f4 [n]
 *   terminals         b1 [n]              timeouts          b1 [n]
 *   episode_ids       i4 [n]  (0-based episode index, non-decreasing)
 *   timesteps         i4 [n]  (step within the episode, 0-based)
 *   <step column>     f4 [n]              e.g. "energy_wh", "unit_done", "error_event"
 *   ep_<episode col>  f8 [n_episodes]     e.g. "ep_mpl", "ep_error_rate", "ep_energy_wh"
 * Invariants (checked by sl_dataset_validate and by load): every array has the right length,
 * all floats are finite, episode_ids start at 0 and increase by 0 or 1 from row to row,
 * and n_episodes == episode_ids[n-1] + 1.
 *
 * Ownership: a dataset owns every array it points to; sl_dataset_free releases all of them.
 */
#ifndef SL_DATASET_H
#define SL_DATASET_H

#include "sl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_DATASET_MAX_COLS 32
#define SL_DATASET_NAME_MAX 48

typedef struct sl_dataset_col {
    char name[SL_DATASET_NAME_MAX]; /* without the "ep_" prefix for episode columns */
    void *data;                     /* float* for step columns, double* for episode columns */
} sl_dataset_col;

typedef struct sl_dataset {
    size_t n;          /* transitions */
    size_t n_episodes; /* episodes */
    int obs_dim, act_dim;
    float *observations;      /* [n * obs_dim] */
    float *next_observations; /* [n * obs_dim] */
    float *actions;           /* [n * act_dim] */
    float *rewards;           /* [n] */
    uint8_t *terminals;       /* [n] 0/1 */
    uint8_t *timeouts;        /* [n] 0/1 */
    int32_t *episode_ids;     /* [n] */
    int32_t *timesteps;       /* [n] */
    int n_step_cols;
    sl_dataset_col step_cols[SL_DATASET_MAX_COLS]; /* float [n] each */
    int n_ep_cols;
    sl_dataset_col ep_cols[SL_DATASET_MAX_COLS]; /* double [n_episodes] each */
} sl_dataset;

/* Allocate a dataset for n transitions (zeroed arrays). *out is owned by the caller. */
sl_status sl_dataset_alloc(sl_dataset **out, size_t n, int obs_dim, int act_dim);
void sl_dataset_free(sl_dataset *ds);

/* Add a zeroed column; returns a pointer into the dataset (owned by it) via *data.
 * Names: [A-Za-z0-9_], at most SL_DATASET_NAME_MAX-1 chars, unique per kind.
 * Episode columns need n_episodes set first. */
sl_status sl_dataset_add_step_col(sl_dataset *ds, const char *name, float **data);
sl_status sl_dataset_add_ep_col(sl_dataset *ds, const char *name, double **data);
/* Look up a column; NULL if absent. */
float *sl_dataset_step_col(const sl_dataset *ds, const char *name);
double *sl_dataset_ep_col(const sl_dataset *ds, const char *name);

/* Row range [*start, *end) of episode e (episodes are contiguous). SL_ERR_RANGE if e is bad. */
sl_status sl_dataset_episode_range(const sl_dataset *ds, size_t e, size_t *start, size_t *end);

/* Check every invariant in the header comment. The message names `what` (e.g. the file) and
 * the first offending array and row. */
sl_status sl_dataset_validate(const sl_dataset *ds, const char *what);

/* Write as NPZ (atomically). Validates first; nothing is written if validation fails. */
sl_status sl_dataset_save_npz(const sl_dataset *ds, const char *path);
/* Read an NPZ written by us or by numpy with the keys above. Unknown keys of length n (f4/f8)
 * become step columns; "ep_*" keys of length n_episodes become episode columns.
 * episode_ids/timesteps may be absent: they are then derived from terminals|timeouts.
 * On success *out is owned by the caller. */
sl_status sl_dataset_load_npz(sl_dataset **out, const char *path);

/* Deep copy of a subset of episodes (indices into 0..n_episodes-1, any order; output episodes
 * renumbered 0..k-1 in the given order). Used for train/held-out splits. */
sl_status sl_dataset_select_episodes(sl_dataset **out, const sl_dataset *ds, const size_t *eps,
                                     size_t k);

#ifdef __cplusplus
}
#endif
#endif
