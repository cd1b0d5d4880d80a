/* SPDX-License-Identifier: Apache-2.0 */
/* sl_import.h - read external episode datasets (D4RL HDF5, Minari HDF5, CSV, our NPZ) into an
 * sl_dataset, and summarise any dataset as JSON (`synthloop import`, `synthloop info`).
 *
 * Formats and column conventions are documented in docs/IMPORT.md. In short:
 *   D4RL HDF5   top-level datasets observations, actions, rewards, terminals (required),
 *               timeouts, next_observations (optional); every other key (infos/..., metadata)
 *               is ignored. Episodes end after a row with terminals|timeouts set.
 *   Minari HDF5 one group per episode, episode_<N>/{observations [T+1,..], actions [T,..],
 *               rewards [T], terminations [T], truncations [T]}; episodes in numeric order of N;
 *               next_observations[t] = observations[t+1].
 *   CSV         one header row; obs_<i>, act_<j>, next_obs_<i> (optional), reward, terminal,
 *               timeout, episode_id (optional), timestep (ignored), ep_<name> (per-episode
 *               constants), any other name -> a float step column. Prefixes/names configurable.
 * Every importer converts to the dataset's dtypes (f4 floats, 0/1 flags), rejects NaN/Inf and
 * out-of-float32-range values with a message naming the file and the key / line and column /
 * row, and returns a dataset that passed sl_dataset_validate.
 *
 * Ownership: on success *out is a new dataset owned by the caller (sl_dataset_free); on failure
 * *out is NULL and nothing was allocated. No function here writes files.
 */
#ifndef SL_IMPORT_H
#define SL_IMPORT_H

#include "sl_dataset.h"
#include "sl_json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_import_format {
    SL_IMPORT_AUTO = 0, /* detect from the file's first bytes and contents */
    SL_IMPORT_NPZ,      /* our NPZ (sl_dataset_load_npz) */
    SL_IMPORT_D4RL,
    SL_IMPORT_MINARI,
    SL_IMPORT_CSV,
    SL_IMPORT_FORMAT_COUNT
} sl_import_format;

/* "auto", "npz", "d4rl", "minari", "csv"; never NULL ("?" for out-of-range values). */
const char *sl_import_format_name(sl_import_format f);
/* Inverse of sl_import_format_name; SL_ERR_ARG for an unknown name. */
sl_status sl_import_format_parse(const char *s, sl_import_format *out);

typedef struct sl_import_options {
    sl_import_format format; /* SL_IMPORT_AUTO by default */
    size_t max_episodes;     /* keep only the first N episodes; 0 = all */
    /* CSV column convention (NULL = the default shown). */
    const char *obs_prefix;      /* "obs_"      -> obs_0 .. obs_{k-1} */
    const char *next_obs_prefix; /* "next_obs_" -> optional next observations */
    const char *act_prefix;      /* "act_"      -> act_0 .. act_{m-1} */
    const char *reward_col;      /* "reward" (required) */
    const char *terminal_col;    /* "terminal" (optional, 0/1/true/false) */
    const char *timeout_col;     /* "timeout" (optional, 0/1/true/false) */
    const char *episode_col;     /* "episode_id" (optional, integer; runs of equal ids) */
    const char *timestep_col;    /* "timestep" (optional, ignored: timesteps are recomputed) */
    const char *ep_prefix;       /* "ep_" -> per-episode columns */
    char delimiter;              /* ',' (0 = ',') */
} sl_import_options;

/* Fill with the defaults above. */
void sl_import_options_default(sl_import_options *o);

/* What an import did (for the CLI's summary line and JSON). */
typedef struct sl_import_report {
    sl_import_format format;  /* the format actually read (never AUTO) */
    size_t rows_in_file;      /* transitions present in the file */
    size_t episodes_in_file;  /* episodes present in the file */
    size_t rows, episodes;    /* kept (after --max-episodes) */
    int next_obs_from_file;   /* 1 if next observations were read, 0 if derived */
    size_t next_obs_repeated; /* rows whose next observation was unknown and set to obs (see docs) */
} sl_import_report;

/* Decide the format of `path` from its content: NPZ (zip magic), HDF5 (superblock signature at
 * byte 0/512/1024/2048; then D4RL if a top-level "observations" dataset exists, Minari if an
 * "episode_<N>" group exists), otherwise CSV. */
sl_status sl_import_detect(const char *path, sl_import_format *out);

/* Import `path` in opt->format (detected when AUTO). opt may be NULL (defaults); rep may be
 * NULL. */
sl_status sl_import_file(sl_dataset **out, const char *path, const sl_import_options *opt,
                         sl_import_report *rep);

/* The individual importers (same contract as sl_import_file). */
sl_status sl_import_d4rl(sl_dataset **out, const char *path, const sl_import_options *opt,
                         sl_import_report *rep);
sl_status sl_import_minari(sl_dataset **out, const char *path, const sl_import_options *opt,
                           sl_import_report *rep);
sl_status sl_import_csv(sl_dataset **out, const char *path, const sl_import_options *opt,
                        sl_import_report *rep);
/* Parse CSV text from memory (need not be NUL-terminated; never reads past buf[len-1]).
 * `what` names the source in error messages (e.g. the file name). */
sl_status sl_import_csv_buffer(sl_dataset **out, const char *buf, size_t len, const char *what,
                               const sl_import_options *opt, sl_import_report *rep);

/* Summary of a dataset as a new JSON object (caller deletes): n, episodes, obs/act dims,
 * reward and episode-return stats, episode length stats, terminal/timeout counts, columns
 * present, and stats (mean/std/min/max) of every episode column (econ metrics included). */
sl_status sl_import_summary_json(const sl_dataset *ds, cJSON **out);

#ifdef __cplusplus
}
#endif
#endif
