/* SPDX-License-Identifier: Apache-2.0 */
/* sl_loop.h - the job layer: one function per pipeline job (collect, encode, world train,
 * trust train, weighted replay, A/B, ladder, demo), above the stage modules and below the
 * command line (src/cli) and the server. Each job takes a config struct and returns a result
 * struct; it reports progress through a callback and stops when asked (cancellation).
 *
 * Invariants:
 *   - A job validates every output path before it computes (sl_output_check / sl_outset_add)
 *     and publishes all its output files or none (sl_outset).
 *   - Every synthetic weight a job hands to a learner went through the one weighting path
 *     (sl_loop_synth_load) and was recorded in ctx->reg when a registry is given; a failure to
 *     record (including out of memory) fails the job, it is never skipped.
 *   - Same config, seed and thread count -> the same bits in every output file.
 *
 * Progress: ctx->progress (may be NULL) is called at every stage boundary and for every
 * progress step of the stage modules (their sl_progress bars), with `metrics` parsed from
 * their "name value" text (e.g. world training's "loss 0.1 val 0.2"). It runs on the job's
 * thread. Returning nonzero asks the job to stop; so does *ctx->cancel != 0. A job notices
 * the request at its next check (stage boundaries, between levels, A/B arms and seeds end at
 * the stage module's end), removes its staged outputs and returns SL_ERR_CANCELLED.
 *
 * Ownership: configs and ctx are borrowed for the duration of the call; results are owned by
 * the caller and released with the job's *_result_free (NULL-safe).
 */
#ifndef SL_LOOP_H
#define SL_LOOP_H

#include <cjson/cJSON.h>

#include "synthloop/sl_ab.h"
#include "synthloop/sl_core.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_registry.h"
#include "synthloop/sl_synth.h"
#include "synthloop/sl_trust.h"
#include "synthloop/sl_weight.h"
#include "synthloop/sl_world.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- job context: progress, cancellation, recording ---------------------------------- */

typedef struct sl_loop_metric {
    const char *name; /* valid during the callback only */
    double value;
} sl_loop_metric;

/* stage: e.g. "collect", "world train"; done/total in the stage's own units (total 0 when
 * unknown); metrics may be NULL when n_metrics is 0. Nonzero return = please cancel. */
typedef int (*sl_loop_progress_fn)(void *ctx, const char *stage, int64_t done, int64_t total,
                                   const sl_loop_metric *metrics, size_t n_metrics);

typedef struct sl_loop_ctx {
    sl_loop_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    volatile int *cancel;         /* may be NULL; polled by the job */
    sl_registry *reg;             /* rows are recorded here when non-NULL */
    int64_t run_id;               /* the run the rows belong to */
    int cancel_requested;         /* set by the job when progress returned nonzero */
} sl_loop_ctx;

/* Report (stage, done, total, metrics) and check for cancellation: SL_ERR_CANCELLED (with a
 * message naming the stage) when the callback returned nonzero now or earlier or *cancel is
 * set, else SL_OK. ctx may be NULL. */
sl_status sl_loop_report(sl_loop_ctx *ctx, const char *stage, int64_t done, int64_t total,
                         const sl_loop_metric *metrics, size_t n_metrics);
/* Forward the stage modules' progress bars on this thread to ctx (sl_progress_set_observer)
 * until sl_loop_observe_end; nests. */
typedef struct sl_loop_observe {
    sl_progress_observer_fn prev_fn;
    void *prev_ctx;
} sl_loop_observe;
void sl_loop_observe_begin(sl_loop_ctx *ctx, sl_loop_observe *saved);
void sl_loop_observe_end(const sl_loop_observe *saved);

/* --- weighted replay: real + synthetic transitions ------------------------------------ */

/* Real transitions in latent space: obs = z, next_obs = next_z, done = terminals
 * (latents_path NULL or "none": raw observations). Owns its arrays (sl_loop_real_free). */
typedef struct sl_loop_real {
    sl_transitions t;
    sl_dataset *ds;
    float *z, *next_z, *rew, *done;
    int32_t *episode;
} sl_loop_real;
sl_status sl_loop_real_load(sl_loop_real *r, const char *data_path, const char *latents_path);
void sl_loop_real_free(sl_loop_real *r);

/* How synthetic branches are weighted. Both go through the one weighting and logging path. */
typedef enum sl_loop_weighting {
    SL_LOOP_WEIGHT_CONTROLLER = 0, /* gates (passed flag) + SyntheticWeightController */
    SL_LOOP_WEIGHT_UNGATED,        /* every finite branch, equal weight for the target share */
    SL_LOOP_WEIGHTING_COUNT
} sl_loop_weighting;
const char *sl_loop_weighting_name(sl_loop_weighting w);
sl_status sl_loop_weighting_parse(const char *s, sl_loop_weighting *out);

typedef struct sl_loop_synth_opts {
    sl_loop_weighting mode;
    double share;         /* target synthetic share of the training weight (e.g. 0.1) */
    double max_share;     /* hard cap (controller), default 0.4 */
    double min_trust;     /* trust floor (controller), default 0.9 */
    double min_pass_rate; /* generator rail: batch pass-rate floor, default 0.1 */
    double generator_band_lo, generator_band_hi; /* certificate rail band, default [0.8, 1.2];
                                                    0 / 0 = off */
    const char *log_path; /* JSON-lines log of the controller, may be NULL */
    const char *econ_model_path, *lambda_model_path; /* learned components, may be NULL */
    long min_outcomes;          /* < 0: the library's default (SL_WEIGHT_MIN_OUTCOMES) */
    const char *record_path;    /* ab: append econ / lambda outcome records here */
    sl_registry *reg;           /* one weight row per branch recorded here when non-NULL */
    int64_t run_id;
} sl_loop_synth_opts;
void sl_loop_synth_opts_default(sl_loop_synth_opts *o);
/* "LO,HI" (0 <= LO <= HI), a gate preset name or "off" into o's generator band; SL_ERR_ARG
 * with a message otherwise. */
sl_status sl_loop_generator_band_parse(const char *s, sl_loop_synth_opts *o);

/* Synthetic transitions from a branches NPZ (every branch contributes its H transitions, all
 * with the branch's weight). Owns its arrays (sl_loop_synth_free). */
typedef struct sl_loop_synth {
    sl_transitions t;
    float *obs, *act, *rew, *next, *done, *weight;
    size_t n_branches, n_passed;
    int horizon;
    sl_weight_result wres; /* controller result (controller mode) */
    double share;
    int certified;
    double cert_min, cert_max;
    double *rec_dm, *rec_de, *rec_dp; /* econ features of the passed branches (records) */
    int32_t *rec_brick;
    size_t n_rec;
    sl_weight_context ctx;
} sl_loop_synth;
/* Load branches (sl_branches_load_npz), weight them (sl_loop_branch_weights), record one
 * weight row per branch and build the replay rows (sl_loop_replay_rows). n_real_weight: total
 * weight of the real training rows (the controller's budget). */
sl_status sl_loop_synth_load(sl_loop_synth *s, const char *branches_path, size_t n_real_weight,
                             const sl_loop_synth_opts *o);
void sl_loop_synth_free(sl_loop_synth *s);
/* The one place branches + per-branch weights become replay rows: branch b, step k ->
 * (s_k, a_k, r_k, s_{k+1}) with weight w[b]; a zero-weight branch becomes finite zeros. */
sl_status sl_loop_replay_rows(sl_loop_synth *ps, const sl_branches *br, const double *w);

/* Outcome of an A/B in [0, 1] for the learned components' records. */
double sl_loop_ab_outcome_score(const sl_ab_outcome *out);
/* Append the lambda and econ outcome records of one A/B to path (one write(2), O_APPEND). */
sl_status sl_loop_record_outcomes(const char *path, const sl_loop_synth *syn, double share,
                                  double y);
/* sl_obs_map_fn over an sl_latent_encoder* (ctx). */
sl_status sl_loop_encoder_map(void *ctx, const float *obs, float *state);

/* --- A/B job ----------------------------------------------------------------------- */

typedef struct sl_loop_ab_config {
    sl_ab_config ab;
    sl_loop_synth_opts synth;
    const char *data, *latents, *encoder; /* encoder may be NULL: no physics evaluation */
    const char *branches;                 /* NULL: A/A */
} sl_loop_ab_config;
/* The config as the run's config JSON (caller deletes). */
cJSON *sl_loop_ab_config_json(const sl_loop_ab_config *c);
/* Run the A/B, record curves / estimates / the A/B row in ctx->reg; *out and *json (with
 * provenance) owned by the caller (sl_ab_outcome_free, cJSON_Delete). */
sl_status sl_loop_ab(const sl_loop_ab_config *c, sl_loop_ctx *ctx, sl_ab_outcome *out,
                     cJSON **json);

/* --- train: one policy on real + weighted synthetic rows ------------------------------ */

typedef struct sl_loop_train_config {
    const char *data, *latents;  /* real transitions in latent space */
    const char *branches;        /* synthetic branches (NULL: real only) */
    const char *output;          /* the policy checkpoint (checked before any work) */
    sl_rl_config rl;             /* obs_dim / act_dim are set from the data */
    int updates;
    sl_loop_synth_opts synth;    /* its reg/run_id are taken from ctx */
} sl_loop_train_config;
typedef struct sl_loop_train_result {
    size_t real_rows, synth_rows;
    double synth_share;          /* of the replay's total weight */
    sl_rl_stats last;            /* losses of the last update */
} sl_loop_train_result;
/* Train and save the policy; the series train/critic_loss and train/bc_mse (every 100 updates)
 * and the policy's model row go to ctx->reg; progress "train" every 100 updates with the
 * losses as metrics; a cancellation stops between updates and writes nothing. */
sl_status sl_loop_train(const sl_loop_train_config *c, sl_loop_ctx *ctx, sl_loop_train_result *r);

/* --- the horizon ladder ------------------------------------------------------------- */

#define SL_LOOP_LADDER_LEVELS 5
typedef struct sl_loop_ladder_level {
    int horizon;
    double min_trust;
    int branches_per_episode;
    double synth_weight;
    sl_gate_preset band;
    double min_pass_rate; /* >= 0.999 means "all branches" */
    double mse_tol;       /* augmented action MSE at most this much worse (relative) */
} sl_loop_ladder_level;
extern const sl_loop_ladder_level sl_loop_ladder_table[SL_LOOP_LADDER_LEVELS];

typedef struct sl_loop_ladder_config {
    const char *data, *latents, *encoder, *world, *trust, *bricks, *out_dir;
    int max_level;
    sl_ab_config ab;
    uint64_t seed;
    int level1_real;
} sl_loop_ladder_config;
void sl_loop_ladder_config_default(sl_loop_ladder_config *o);
cJSON *sl_loop_ladder_config_json(const sl_loop_ladder_config *o);
/* Climb levels 1..max_level; *out (caller deletes) holds levels, practical_horizon,
 * brick_horizons and provenance. Branch files go to out_dir. */
sl_status sl_loop_ladder(const sl_loop_ladder_config *o, sl_loop_ctx *ctx, cJSON **out);

/* --- paths -------------------------------------------------------------------------- */

/* The JSON sidecar of an output: `strip` removed when out ends with it (".npz" -> "Z.json"),
 * strip NULL: the last extension removed ("WM.safetensors" -> "WM.json"); then ".json"
 * appended. malloc'd (caller frees); NULL when out of memory. */
char *sl_loop_sidecar_path(const char *out, const char *strip);
/* The absolute path of an existing file (realpath), or path itself if it cannot be resolved. */
const char *sl_loop_abs_path(const char *path, char buf[4096]);

/* --- inputs shared by the jobs ---------------------------------------------------- */

/* Attach the latent sphere of the encoder at enc_path (NULL: nothing) to w
 * (sl_world_set_sphere); SL_ERR_SHAPE when the latent sizes differ. */
sl_status sl_loop_attach_sphere(sl_world *w, const char *enc_path);
/* Brick id per episode of d from `synthloop bricks --assign-output` (episode_brick_ids
 * [n_episodes]) or any NPZ with brick_ids [n] per row. *out malloc'd (caller frees). */
sl_status sl_loop_load_brick_ids(const char *path, const sl_world_data *d, int32_t **out);

/* --- trust_net inputs and scores ------------------------------------------------------ */

/* Windows of latent states, back to back: window i is rows off[i] .. off[i+1]-1 of z [*, D].
 * episode / start (may be NULL) say where a cut window came from. Owned (sl_loop_windows_free). */
typedef struct sl_loop_windows {
    float *z;
    size_t *off; /* [n + 1] */
    size_t n;
    int D;
    int32_t *episode, *start;
} sl_loop_windows;
void sl_loop_windows_free(sl_loop_windows *w);
/* A windows file: "windows" f4 [N, T, D], or "windows_flat" f4 [M, D] + "window_lengths"
 * i4/i8 [N]. finite_only: a non-finite value is an error (SL_ERR_NAN). */
sl_status sl_loop_windows_load(const char *path, int finite_only, sl_loop_windows *w);
/* Every window of T steps every S steps within each episode (rows with equal consecutive ids)
 * of z [n, D]. */
sl_status sl_loop_windows_cut(const float *z, const int32_t *ids, size_t n, int D, int T, int S,
                              sl_loop_windows *w);
/* Real latents and their episode ids: ids from the dataset dpath when given (sha = its
 * SHA-256), else from the latents file. *z, *ids malloc'd. */
sl_status sl_loop_trust_latents_load(const char *zpath, const char *dpath, float **z,
                                     int32_t **ids, size_t *n, int *D, char sha[65]);
/* Calibrated p(real) of every window (runs of equal length scored together); fin[i] = 0 and
 * p[i] NaN for a non-finite window. p, fin: [w->n]. */
sl_status sl_loop_trust_score(sl_trust_model *m, const sl_loop_windows *w, double *p,
                              uint8_t *fin);
/* Share of the n windows that are finite with p >= each gate preset's trust floor. */
void sl_loop_trust_pass_rates(const double *p, const uint8_t *fin, size_t n,
                              double rates[SL_GATE_PRESET_COUNT]);

/* --- collect ----------------------------------------------------------------------- */

typedef struct sl_loop_collect_config {
    const char *output;    /* dataset NPZ; its sidecar JSON beside it (".npz" -> ".json") */
    const char *env;       /* "workcell" or the path of an MJCF file */
    const char *task_site, *task_target_site; /* MJCF: the task (target site or point) */
    double task_target[3], task_tolerance;
    sl_policy_kind policy;
    long episodes, max_steps, frame_skip; /* <= 0: the environment's / task's default */
    uint64_t seed;
    sl_econ_params econ;
    const char *task;      /* task spec JSON (docs/TASKS.md) for an MJCF model, or NULL */
    const char *agent;     /* a trained agent checkpoint acting instead of `policy`, or NULL */
    long mpc_samples, mpc_horizon; /* MPC expert overrides, <= 0: defaults */
} sl_loop_collect_config;
typedef struct sl_loop_collect_result {
    sl_collect_summary summary;
    double seconds;        /* wall time of the episodes (never used in results) */
    char sha256[65];       /* of the dataset written */
    cJSON *json;           /* the sidecar's content; owned */
    char *sidecar;         /* owned */
} sl_loop_collect_result;
/* Run the episodes and write the dataset and its sidecar, both or neither; then the rows
 * (dataset, sidecar, per-episode return / MPL curves, 95% CIs of the econ metrics). */
sl_status sl_loop_collect(const sl_loop_collect_config *c, sl_loop_ctx *ctx,
                          sl_loop_collect_result *r);
void sl_loop_collect_result_free(sl_loop_collect_result *r);

/* --- branches collect ----------------------------------------------------------------- */

typedef struct sl_loop_branches_config {
    const char *data, *latents, *world, *trust; /* inputs */
    const char *bricks;    /* brick ids (may be NULL) */
    const char *encoder;   /* attach its latent sphere to the world model (may be NULL) */
    const char *policy;    /* a trained policy as the action source (NULL: behaviour clone) */
    const char *output;    /* branches NPZ; sidecar JSON beside it */
    sl_synth_config synth; /* horizon, counts, gate, noise, seed */
    const char *band_name; /* the gate preset's name, for the config record */
    int certify;           /* evaluate and store the generator certificate */
} sl_loop_branches_config;
typedef struct sl_loop_branches_result {
    sl_branches *b; /* owned */
    cJSON *json;    /* the sidecar's content (summary + config + provenance); owned */
} sl_loop_branches_result;
/* Roll out gated branches from real starts and write the branch file and its sidecar (both
 * or neither); rows: the dataset, one branch row per branch (an allocation failure is an
 * error), the pass rate, the summary, the sidecar. */
sl_status sl_loop_branches(const sl_loop_branches_config *c, sl_loop_ctx *ctx,
                           sl_loop_branches_result *r);
void sl_loop_branches_result_free(sl_loop_branches_result *r);

/* --- world train ------------------------------------------------------------------- */

typedef struct sl_loop_world_train_config {
    const char *data, *latents; /* dataset + its latents */
    const char *output;         /* checkpoint; its sidecar JSON beside it (extension -> .json) */
    const char *encoder;        /* attach the encoder's latent sphere (may be NULL) */
    sl_world_config world;      /* econ columns resolved, seed set */
} sl_loop_world_train_config;
typedef struct sl_loop_world_train_result {
    sl_world_train_report report;
    cJSON *json;                /* the sidecar's content; owned */
} sl_loop_world_train_result;
/* Train the world model and write the checkpoint and its sidecar, both or neither (the
 * paths are checked before training); progress "world train" with loss / val / best as
 * metrics as it trains; rows: the model (report as metrics), world/train_loss,
 * world/best_val, the sidecar. */
sl_status sl_loop_world_train(const sl_loop_world_train_config *c, sl_loop_ctx *ctx,
                              sl_loop_world_train_result *r);
void sl_loop_world_train_result_free(sl_loop_world_train_result *r);

/* trust train: trust_net on real latent windows against negatives (noise-perturbed real windows
 * and the windows of `negatives`, e.g. an unstable reference's rollouts). */
typedef struct sl_loop_trust_train_config {
    const char *latents, *data; /* real latents; episode ids from data when given */
    const char *negatives;      /* windows file (may be NULL) */
    const char *output;         /* the model; the report JSON at `report` or beside it */
    const char *report;         /* may be NULL: output with ".safetensors" -> ".json" */
    sl_trust_config cfg;
} sl_loop_trust_train_config;
typedef struct sl_loop_trust_train_result {
    sl_trust_report report;
    cJSON *json;                /* the report file's content; owned */
    char *report_path;          /* owned */
} sl_loop_trust_train_result;
/* Train and write the model and its report, both or neither (paths checked before any work);
 * rows: the model (report as metrics), the report file and result, the training BCE and the
 * held-out AUC / Brier / ECE. */
sl_status sl_loop_trust_train(const sl_loop_trust_train_config *c, sl_loop_ctx *ctx,
                              sl_loop_trust_train_result *r);
void sl_loop_trust_train_result_free(sl_loop_trust_train_result *r);
/* The training options as JSON members of cj (z_dim only when D > 0). */
void sl_loop_trust_config_json(cJSON *cj, const sl_trust_config *cfg, int D);

/* --- encode -------------------------------------------------------------------------- */

typedef struct sl_loop_encode_config {
    const char *data, *output; /* dataset NPZ in, latents NPZ out (sidecar beside it) */
    const char *checkpoint;    /* encoder: written when training (may be NULL), read with apply */
    int apply;                 /* encode with an existing encoder */
    sl_latent_config latent;   /* training config (ignored with apply) */
} sl_loop_encode_config;
typedef struct sl_loop_encode_result {
    sl_latent_config latent;   /* in effect (with apply: the checkpoint's) */
    sl_latent_train_report rep;
    sl_latent_stats stats;
    size_t n, n_episodes;
    int obs_dim;
    cJSON *json;               /* the sidecar's content; owned */
    char *sidecar;             /* its path; owned */
} sl_loop_encode_result;
/* Train (or load) the encoder and write the latents, the sidecar and the checkpoint: all
 * three or none (sl_outset); rows (latents, sidecar, encoder, training metrics) go to
 * ctx->reg after the files are in place. */
sl_status sl_loop_encode(const sl_loop_encode_config *c, sl_loop_ctx *ctx,
                         sl_loop_encode_result *r);
void sl_loop_encode_result_free(sl_loop_encode_result *r);

/* --- the whole loop (demo) ------------------------------------------------------------ */

typedef struct sl_loop_demo_config {
    const char *out_dir; /* created if missing; the files' paths are recorded absolute */
    int episodes, seeds, updates, eval_episodes, horizon, members, wm_iters, hidden;
    double share, min_trust;
    uint64_t seed;
    int gband_set; /* generator band given (else the controller's default [0.8, 1.2]) */
    double gband_lo, gband_hi;
    /* seed 001's failure as a third arm: branches of the unstable reference, no gates, at
     * poison_share (0.25) against the same baseline (shared, not retrained); 0 = off */
    int poison_arm;
    double poison_share;
    int until_decided, max_seeds; /* sequential A/Bs (ab --until-decided), 0 = fixed seeds */
} sl_loop_demo_config;
void sl_loop_demo_config_default(sl_loop_demo_config *c);

#define SL_LOOP_DEMO_STAGES 8
extern const char *const sl_loop_demo_stage_names[SL_LOOP_DEMO_STAGES];

typedef struct sl_loop_demo_result {
    char *paths[13];  /* real, latents, encoder, bricks, world, world_unstable, trust,
                         world_eval, branches, ab, report, branches_ungated, ab_ungated
                         (absolute; owned) */
    sl_collect_summary collect;
    sl_latent_train_report latent;
    int n_bricks;
    double silhouette;
    const char *world_mode;
    int world_members;
    sl_world_train_report world;
    sl_trust_report trust;
    int n_h;
    sl_world_eval_row eval[SL_WORLD_EVAL_MAX_H], eval_ref[SL_WORLD_EVAL_MAX_H];
    size_t n_branches, n_passed;
    int horizon;
    sl_synth_certificate cert;
    sl_ab_outcome ab;     /* owned (sl_ab_outcome_free) */
    int have_ab;
    cJSON *ab_json;       /* owned */
    sl_ab_outcome ab_poison; /* real-only vs the ungated unstable generator; owned */
    int have_ab_poison;
    cJSON *ab_poison_json;   /* owned */
    size_t n_branches_poison;
    cJSON *summary;       /* the run summary (verdict, next_action, ...); owned */
} sl_loop_demo_result;
typedef enum sl_loop_demo_path {
    SL_DEMO_REAL, SL_DEMO_LATENTS, SL_DEMO_ENCODER, SL_DEMO_BRICKS, SL_DEMO_WORLD,
    SL_DEMO_WORLD_UNSTABLE, SL_DEMO_TRUST, SL_DEMO_EVAL, SL_DEMO_BRANCHES, SL_DEMO_AB,
    SL_DEMO_REPORT, SL_DEMO_BRANCHES_UNGATED, SL_DEMO_AB_UNGATED, SL_DEMO_PATH_COUNT
} sl_loop_demo_path;
/* Collect -> encode -> bricks -> world (+ unstable reference) -> trust -> world eval ->
 * gated, weighted branches -> A/B in physics. Stages are reported as "demo k/8: name". */
sl_status sl_loop_demo(const sl_loop_demo_config *c, sl_loop_ctx *ctx, sl_loop_demo_result *r);
void sl_loop_demo_result_free(sl_loop_demo_result *r);

#ifdef __cplusplus
}
#endif
#endif
