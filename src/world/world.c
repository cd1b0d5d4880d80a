/* world.c - the world model's structure: config, data binding, parameters and normalisation,
 * the batched step, rollouts from real starts, window generation and the checkpoint.
 *
 * Invariant: rollouts never emit a non-finite or exploded value; a trajectory that goes bad is
 * flagged (ok = 0) and zeroed from the first bad step on, so callers can write what they get.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"
#include "world/world_internal.h"

/* --- names ----------------------------------------------------------------- */

static const char *const mode_names[SL_WORLD_MODE_COUNT] = {"tf", "ss", "bptt"};
_Static_assert(sizeof mode_names / sizeof mode_names[0] == SL_WORLD_MODE_COUNT, "modes");
static const char *const clip_names[SL_WORLD_CLIP_COUNT] = {"none", "tanh", "hard"};
_Static_assert(sizeof clip_names / sizeof clip_names[0] == SL_WORLD_CLIP_COUNT, "clips");

const char *sl_world_mode_name(sl_world_mode m) {
    return (unsigned)m < SL_WORLD_MODE_COUNT ? mode_names[m] : NULL;
}
sl_status sl_world_mode_parse(const char *s, sl_world_mode *out) {
    for (int i = 0; i < SL_WORLD_MODE_COUNT; i++)
        if (s && strcmp(s, mode_names[i]) == 0) {
            *out = (sl_world_mode)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "world: unknown mode '%s' (tf, ss, bptt)", s ? s : "");
}
const char *sl_world_clip_name(sl_world_clip c) {
    return (unsigned)c < SL_WORLD_CLIP_COUNT ? clip_names[c] : NULL;
}
sl_status sl_world_clip_parse(const char *s, sl_world_clip *out) {
    for (int i = 0; i < SL_WORLD_CLIP_COUNT; i++)
        if (s && strcmp(s, clip_names[i]) == 0) {
            *out = (sl_world_clip)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG, "world: unknown residual clip '%s' (none, tanh, hard)",
                        s ? s : "");
}

/* --- config ---------------------------------------------------------------- */

void sl_world_config_default(sl_world_config *c) {
    memset(c, 0, sizeof *c);
    c->members = 5;
    c->hidden = 128;
    c->mode = SL_WORLD_MODE_BPTT;
    c->horizon = 60;
    c->horizon_mix = 0.5f;
    c->burn_in = 8;
    c->batch = 32;
    c->max_iters = 1500;
    c->eval_every = 50;
    c->patience = 8;
    c->lr = 2e-3f;
    c->grad_clip = 1.0f;
    c->holdout_frac = 0.2;
    c->ss_start = 1.0f;
    c->ss_end = 0.0f;
    c->ss_frac = 0.6f;
    c->w_reward = 0.5f;
    c->w_econ = 0.5f;
    c->w_var = 1.0f;
    c->w_dist = 1.0f;
    c->w_window = 5.0f;
    c->w_rough = 10.0f;
    c->window_prefixes = 1;
    c->clip = SL_WORLD_CLIP_TANH;
    c->clip_value = 4.0f;
    c->bootstrap = 1;
    c->noise_scale = 1.0f;
    c->learn_noise = 1;
    c->hetero_noise = 1;
    c->w_nll = 1.0f;
    c->n_econ = 3;
    strcpy(c->econ_names[0], "unit_done");
    strcpy(c->econ_names[1], "error_event");
    strcpy(c->econ_names[2], "energy_wh");
    c->seed = 0;
}

#define CHECK_RANGE(cond, ...)                                                                \
    do {                                                                                      \
        if (!(cond)) return sl_set_error(SL_ERR_ARG, __VA_ARGS__);                            \
    } while (0)

sl_status sl_world_config_validate(const sl_world_config *c) {
    CHECK_RANGE(c->members >= 1 && c->members <= SL_WORLD_MAX_MEMBERS,
                "world config: members %d not in [1, %d]", c->members, SL_WORLD_MAX_MEMBERS);
    CHECK_RANGE(c->hidden >= 1 && c->hidden <= 4096, "world config: hidden %d not in [1, 4096]",
                c->hidden);
    CHECK_RANGE((unsigned)c->mode < SL_WORLD_MODE_COUNT, "world config: bad mode %d", c->mode);
    CHECK_RANGE(c->horizon >= 1 && c->horizon <= SL_WORLD_MAX_HORIZON,
                "world config: horizon %d not in [1, %d]", c->horizon, SL_WORLD_MAX_HORIZON);
    CHECK_RANGE(c->horizon_mix >= 0 && c->horizon_mix <= 1,
                "world config: horizon_mix must be in [0, 1]");
    CHECK_RANGE(c->burn_in >= 0 && c->burn_in <= 256, "world config: burn_in %d not in [0, 256]",
                c->burn_in);
    CHECK_RANGE(c->batch >= 2 && c->batch <= 65536, "world config: batch %d not in [2, 65536]",
                c->batch);
    CHECK_RANGE(c->max_iters >= 1, "world config: max_iters %d < 1", c->max_iters);
    CHECK_RANGE(c->eval_every >= 1, "world config: eval_every %d < 1", c->eval_every);
    CHECK_RANGE(c->patience >= 1, "world config: patience %d < 1", c->patience);
    CHECK_RANGE(isfinite(c->lr) && c->lr > 0, "world config: lr must be > 0");
    CHECK_RANGE(isfinite(c->grad_clip) && c->grad_clip >= 0, "world config: grad_clip < 0");
    CHECK_RANGE(c->holdout_frac >= 0 && c->holdout_frac < 1,
                "world config: holdout_frac %g not in [0, 1)", c->holdout_frac);
    CHECK_RANGE(c->ss_start >= 0 && c->ss_start <= 1 && c->ss_end >= 0 && c->ss_end <= 1,
                "world config: ss_start/ss_end must be probabilities");
    CHECK_RANGE(c->ss_frac > 0 && c->ss_frac <= 1, "world config: ss_frac not in (0, 1]");
    CHECK_RANGE(c->w_reward >= 0 && c->w_econ >= 0 && c->w_var >= 0 && c->w_dist >= 0 &&
                    c->w_window >= 0 && isfinite(c->w_window) && c->w_rough >= 0 &&
                    isfinite(c->w_rough) &&
                    isfinite(c->w_reward) && isfinite(c->w_econ) && isfinite(c->w_var) &&
                    isfinite(c->w_dist),
                "world config: loss weights must be finite and >= 0");
    CHECK_RANGE((unsigned)c->clip < SL_WORLD_CLIP_COUNT, "world config: bad clip %d", c->clip);
    CHECK_RANGE(isfinite(c->clip_value) && c->clip_value > 0,
                "world config: clip_value must be > 0");
    CHECK_RANGE(isfinite(c->noise_scale) && c->noise_scale >= 0 && c->noise_scale <= 1000,
                "world config: noise_scale must be in [0, 1000]");
    CHECK_RANGE(!c->hetero_noise || c->learn_noise,
                "world config: hetero_noise needs learn_noise (a learned sigma)");
    CHECK_RANGE(isfinite(c->w_nll) && c->w_nll >= 0, "world config: w_nll must be finite and >= 0");
    CHECK_RANGE(c->n_econ >= 0 && c->n_econ <= SL_WORLD_MAX_ECON,
                "world config: n_econ %d not in [0, %d]", c->n_econ, SL_WORLD_MAX_ECON);
    return SL_OK;
}

cJSON *sl_world_config_json(const sl_world_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "members", c->members);
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddStringToObject(j, "mode", sl_world_mode_name(c->mode));
    cJSON_AddNumberToObject(j, "horizon", c->horizon);
    cJSON_AddNumberToObject(j, "horizon_mix", (double)c->horizon_mix);
    cJSON_AddNumberToObject(j, "burn_in", c->burn_in);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "max_iters", c->max_iters);
    cJSON_AddNumberToObject(j, "eval_every", c->eval_every);
    cJSON_AddNumberToObject(j, "patience", c->patience);
    cJSON_AddNumberToObject(j, "lr", (double)c->lr);
    cJSON_AddNumberToObject(j, "grad_clip", (double)c->grad_clip);
    cJSON_AddNumberToObject(j, "holdout_frac", c->holdout_frac);
    cJSON_AddNumberToObject(j, "ss_start", (double)c->ss_start);
    cJSON_AddNumberToObject(j, "ss_end", (double)c->ss_end);
    cJSON_AddNumberToObject(j, "ss_frac", (double)c->ss_frac);
    cJSON_AddNumberToObject(j, "w_reward", (double)c->w_reward);
    cJSON_AddNumberToObject(j, "w_econ", (double)c->w_econ);
    cJSON_AddNumberToObject(j, "w_var", (double)c->w_var);
    cJSON_AddNumberToObject(j, "w_dist", (double)c->w_dist);
    cJSON_AddNumberToObject(j, "w_window", (double)c->w_window);
    cJSON_AddNumberToObject(j, "w_rough", (double)c->w_rough);
    cJSON_AddBoolToObject(j, "window_prefixes", c->window_prefixes);
    cJSON_AddStringToObject(j, "clip", sl_world_clip_name(c->clip));
    cJSON_AddNumberToObject(j, "clip_value", (double)c->clip_value);
    cJSON_AddBoolToObject(j, "bootstrap", c->bootstrap);
    cJSON_AddNumberToObject(j, "noise_scale", (double)c->noise_scale);
    cJSON_AddBoolToObject(j, "learn_noise", c->learn_noise);
    cJSON_AddBoolToObject(j, "hetero_noise", c->hetero_noise);
    cJSON_AddNumberToObject(j, "w_nll", (double)c->w_nll);
    cJSON *e = cJSON_AddArrayToObject(j, "econ");
    for (int i = 0; e && i < c->n_econ; i++)
        cJSON_AddItemToArray(e, cJSON_CreateString(c->econ_names[i]));
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    return j;
}

/* Inverse of sl_world_config_json (missing keys keep defaults). */
static sl_status config_from_json(sl_world_config *c, const cJSON *j, const char *path) {
    sl_world_config_default(c);
    c->members = sl_json_int(j, "members", c->members);
    c->hidden = sl_json_int(j, "hidden", c->hidden);
    const char *m = sl_json_str(j, "mode", "bptt");
    if (sl_world_mode_parse(m, &c->mode) != SL_OK)
        return sl_set_error(SL_ERR_FORMAT, "%s: metadata config has unknown mode '%s'", path, m);
    c->horizon = sl_json_int(j, "horizon", c->horizon);
    c->horizon_mix = (float)sl_json_num(j, "horizon_mix", (double)c->horizon_mix);
    c->burn_in = sl_json_int(j, "burn_in", c->burn_in);
    c->batch = sl_json_int(j, "batch", c->batch);
    c->max_iters = sl_json_int(j, "max_iters", c->max_iters);
    c->eval_every = sl_json_int(j, "eval_every", c->eval_every);
    c->patience = sl_json_int(j, "patience", c->patience);
    c->lr = (float)sl_json_num(j, "lr", (double)c->lr);
    c->grad_clip = (float)sl_json_num(j, "grad_clip", (double)c->grad_clip);
    c->holdout_frac = sl_json_num(j, "holdout_frac", c->holdout_frac);
    c->ss_start = (float)sl_json_num(j, "ss_start", (double)c->ss_start);
    c->ss_end = (float)sl_json_num(j, "ss_end", (double)c->ss_end);
    c->ss_frac = (float)sl_json_num(j, "ss_frac", (double)c->ss_frac);
    c->w_reward = (float)sl_json_num(j, "w_reward", (double)c->w_reward);
    c->w_econ = (float)sl_json_num(j, "w_econ", (double)c->w_econ);
    c->w_var = (float)sl_json_num(j, "w_var", (double)c->w_var);
    c->w_dist = (float)sl_json_num(j, "w_dist", (double)c->w_dist);
    c->w_window = (float)sl_json_num(j, "w_window", (double)c->w_window);
    c->w_rough = (float)sl_json_num(j, "w_rough", 0.0); /* absent in older files: off */
    c->window_prefixes = sl_json_bool(j, "window_prefixes", 0);
    const char *cl = sl_json_str(j, "clip", "tanh");
    if (sl_world_clip_parse(cl, &c->clip) != SL_OK)
        return sl_set_error(SL_ERR_FORMAT, "%s: metadata config has unknown clip '%s'", path, cl);
    c->clip_value = (float)sl_json_num(j, "clip_value", (double)c->clip_value);
    c->bootstrap = sl_json_bool(j, "bootstrap", c->bootstrap);
    c->noise_scale = (float)sl_json_num(j, "noise_scale", 1.0);
    c->learn_noise = sl_json_bool(j, "learn_noise", c->learn_noise);
    c->hetero_noise = sl_json_bool(j, "hetero_noise", 0); /* absent in older files */
    c->w_nll = (float)sl_json_num(j, "w_nll", 1.0);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "econ");
    c->n_econ = 0;
    if (cJSON_IsArray(e)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, e) {
            if (!cJSON_IsString(it) || c->n_econ >= SL_WORLD_MAX_ECON ||
                strlen(it->valuestring) >= SL_WORLD_NAME_MAX)
                return sl_set_error(SL_ERR_FORMAT, "%s: bad econ column list in metadata", path);
            strcpy(c->econ_names[c->n_econ++], it->valuestring);
        }
    }
    c->seed = (uint64_t)sl_json_num(j, "seed", 0);
    sl_status st = sl_world_config_validate(c);
    if (st != SL_OK) return sl_set_error(SL_ERR_FORMAT, "%s: %s", path, sl_last_error());
    return SL_OK;
}

/* --- data ------------------------------------------------------------------ */

sl_status sl_world_data_init(sl_world_data *d, const sl_dataset *ds, const float *z,
                             const float *z_next, int z_dim,
                             const char (*econ_names)[SL_WORLD_NAME_MAX], int n_econ) {
    memset(d, 0, sizeof *d);
    if (!ds || !z || !z_next) return sl_set_error(SL_ERR_ARG, "world data: NULL argument");
    if (ds->n == 0) return sl_set_error(SL_ERR_ARG, "world data: the dataset is empty");
    if (z_dim < 2) return sl_set_error(SL_ERR_ARG, "world data: latent dim %d < 2", z_dim);
    if (n_econ < 0 || n_econ > SL_WORLD_MAX_ECON)
        return sl_set_error(SL_ERR_ARG, "world data: %d econ columns (max %d)", n_econ,
                            SL_WORLD_MAX_ECON);
    size_t nz = ds->n * (size_t)z_dim;
    if (!sl_all_finite_f32(z, nz) || !sl_all_finite_f32(z_next, nz)) {
        for (size_t i = 0; i < nz; i++)
            if (!isfinite(z[i]) || !isfinite(z_next[i]))
                return sl_set_error(SL_ERR_NAN, "world data: non-finite latent at row %zu, dim %zu",
                                    i / (size_t)z_dim, i % (size_t)z_dim);
    }
    /* Episode ranges from episode_ids: contiguous, 0-based, no empty episode. */
    size_t ne = ds->n_episodes;
    if (ne == 0) return sl_set_error(SL_ERR_ARG, "world data: dataset has no episodes");
    d->ep_start = calloc(ne + 1, sizeof(size_t));
    if (!d->ep_start) return sl_set_error(SL_ERR_NOMEM, "world data: out of memory");
    size_t e = 0;
    d->ep_start[0] = 0;
    for (size_t r = 0; r < ds->n; r++) {
        int32_t id = ds->episode_ids[r];
        if (id < 0 || (size_t)id >= ne || (size_t)id < e) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_FORMAT, "world data: episode id %d at row %zu out of order",
                                (int)id, r);
        }
        if ((size_t)id > e + 1 || ((size_t)id == e + 1 && r == 0)) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_ARG, "world data: episode %zu is empty (row %zu jumps to "
                                "episode %d)", (size_t)id == e + 1 ? e : e + 1, r, (int)id);
        }
        if ((size_t)id == e + 1) d->ep_start[++e] = r;
    }
    if (e + 1 != ne) {
        sl_world_data_clear(d);
        return sl_set_error(SL_ERR_ARG, "world data: episode %zu is empty (dataset says %zu "
                            "episodes, rows cover %zu)", e + 1, ne, e + 1);
    }
    d->ep_start[ne] = ds->n;
    d->n = ds->n;
    d->n_episodes = ne;
    d->z_dim = z_dim;
    d->a_dim = ds->act_dim;
    d->z = z;
    d->z_next = z_next;
    d->actions = ds->actions;
    d->rewards = ds->rewards;
    d->ds = ds;
    for (int i = 0; i < n_econ; i++) {
        const float *col = sl_dataset_step_col(ds, econ_names[i]);
        if (!col) {
            sl_world_data_clear(d);
            return sl_set_error(SL_ERR_NOTFOUND, "world data: dataset has no step column '%s'",
                                econ_names[i]);
        }
        d->econ[i] = col;
        snprintf(d->econ_names[i], SL_WORLD_NAME_MAX, "%s", econ_names[i]);
    }
    d->n_econ = n_econ;
    d->step_seconds = 0.1;
    const double *sim = sl_dataset_ep_col(ds, "sim_seconds");
    if (sim) {
        double tot = 0;
        for (size_t i = 0; i < ne; i++) tot += sim[i];
        if (isfinite(tot) && tot > 0) d->step_seconds = tot / (double)ds->n;
    }
    return SL_OK;
}

void sl_world_data_clear(sl_world_data *d) {
    if (!d) return;
    free(d->ep_start);
    memset(d, 0, sizeof *d);
}

size_t sl_world_data_ep_len(const sl_world_data *d, size_t e) {
    return d->ep_start[e + 1] - d->ep_start[e];
}

size_t sl_world_row_episode(const sl_world_data *d, size_t r) {
    size_t lo = 0, hi = d->n_episodes; /* ep_start[lo] <= r < ep_start[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (d->ep_start[mid] <= r)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

sl_status sl_world_load_latents(const char *path, const sl_dataset *ds, float **z,
                                float **z_next, size_t *n, int *z_dim) {
    *z = *z_next = NULL;
    sl_npz *f;
    SL_TRY(sl_npz_open(&f, path));
    const sl_array *la, *na = NULL;
    sl_status st = sl_npz_get(f, "latents", &la);
    if (st != SL_OK) {
        sl_npz_close(f);
        return sl_set_error(st, "%s: no array 'latents' (expected f4 [n, z]; is this an encoder "
                            "output?)", path);
    }
    if (la->dtype != SL_DTYPE_F32 || la->ndim != 2 || la->shape[1] < 2) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_SHAPE, "%s: 'latents' must be f4 [n, z >= 2]", path);
    }
    size_t rows = la->shape[0], zd = la->shape[1];
    if (ds && rows != ds->n) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_SHAPE, "%s: latents have %zu rows, dataset has %zu", path,
                            rows, ds->n);
    }
    if (sl_npz_has(f, "next_latents")) {
        st = sl_npz_get(f, "next_latents", &na);
        if (st != SL_OK) {
            sl_npz_close(f);
            return st;
        }
        if (na->dtype != SL_DTYPE_F32 || na->ndim != 2 || na->shape[0] != rows ||
            na->shape[1] != zd) {
            sl_npz_close(f);
            return sl_set_error(SL_ERR_SHAPE, "%s: 'next_latents' must be f4 [%zu, %zu]", path,
                                rows, zd);
        }
    } else if (!ds) {
        sl_npz_close(f);
        return sl_set_error(SL_ERR_NOTFOUND, "%s: no 'next_latents' and no dataset to derive "
                            "them", path);
    }
    size_t bytes = rows * zd * sizeof(float);
    *z = malloc(bytes ? bytes : 1);
    *z_next = malloc(bytes ? bytes : 1);
    if (!*z || !*z_next) {
        free(*z);
        free(*z_next);
        *z = *z_next = NULL;
        sl_npz_close(f);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory for latents", path);
    }
    memcpy(*z, la->data, bytes);
    if (na) {
        memcpy(*z_next, na->data, bytes);
    } else {
        for (size_t r = 0; r < rows; r++) {
            int last = r + 1 == rows || ds->episode_ids[r + 1] != ds->episode_ids[r];
            if (last) {
                free(*z);
                free(*z_next);
                *z = *z_next = NULL;
                sl_npz_close(f);
                return sl_set_error(SL_ERR_NOTFOUND, "%s: no 'next_latents' and row %zu ends an "
                                    "episode, so its next latent is unknown", path, r);
            }
            memcpy(*z_next + r * zd, *z + (r + 1) * zd, zd * sizeof(float));
        }
    }
    sl_npz_close(f);
    *n = rows;
    *z_dim = (int)zd;
    return SL_OK;
}

/* --- model structure -------------------------------------------------------- */

static sl_status declare_member(sl_world *w, sl_nn_arena *a) {
    sl_nn_arena_init(a);
    SL_TRY(sl_nn_gru_declare(&w->gru, a, "gru", w->In, w->H));
    SL_TRY(sl_nn_linear_declare(&w->head, a, "head", w->H, w->O));
    size_t zs[1] = {(size_t)w->Z};
    SL_TRY(sl_nn_arena_add(a, "noise_logstd", 1, zs, &w->noise_ls));
    if (w->cfg.hetero_noise)
        SL_TRY(sl_nn_linear_declare(&w->noise_head, a, "noise_head", w->H, w->Z));
    return sl_nn_arena_alloc(a);
}

sl_status sl_world_alloc(sl_world **out, const sl_world_config *cfg, int Z, int A) {
    *out = NULL;
    SL_TRY(sl_world_config_validate(cfg));
    if (Z < 2 || Z > SL_WORLD_SIGMA_MAX || A < 1)
        return sl_set_error(SL_ERR_ARG, "world: latent dim %d (2..%d) / action dim %d (>= 1)", Z,
                            SL_WORLD_SIGMA_MAX, A);
    sl_world *w = calloc(1, sizeof *w);
    if (!w) return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    w->cfg = *cfg;
    w->Z = Z;
    w->A = A;
    w->E = cfg->n_econ;
    w->H = cfg->hidden;
    w->M = cfg->members;
    w->In = Z + A;
    w->O = Z + 1 + w->E;
    w->arenas = calloc((size_t)w->M, sizeof *w->arenas);
    w->z_mean = calloc((size_t)(3 * Z + 2 * A), sizeof(float));
    if (!w->arenas || !w->z_mean) {
        sl_world_free(w);
        return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    }
    w->z_std = w->z_mean + Z;
    w->dz_std = w->z_std + Z;
    w->a_mean = w->dz_std + Z;
    w->a_std = w->a_mean + A;
    for (int i = 0; i < Z; i++) w->z_std[i] = w->dz_std[i] = 1.0f;
    for (int i = 0; i < A; i++) w->a_std[i] = 1.0f;
    w->r_std = 1.0f;
    for (int i = 0; i < w->E; i++) w->e_std[i] = 1.0f;
    for (int m = 0; m < w->M; m++) {
        sl_status st = declare_member(w, &w->arenas[m]);
        if (st != SL_OK) {
            sl_world_free(w);
            return st;
        }
        sl_rng rng;
        sl_rng_seed(&rng, cfg->seed, 1000 + (uint64_t)m);
        sl_nn_gru_init(&w->gru, w->arenas[m].params, &rng);
        sl_nn_linear_init(&w->head, w->arenas[m].params, &rng);
        /* Start the residual head near zero: an untrained model predicts "no change". */
        float *hw = w->arenas[m].params + w->head.w;
        for (size_t i = 0; i < (size_t)w->O * w->H; i++) hw[i] *= 0.1f;
        memset(w->arenas[m].params + w->head.b, 0, (size_t)w->O * sizeof(float));
        /* sigma starts at 0.1 residual stds (or ~0 for a deterministic model) */
        for (int j = 0; j < Z; j++)
            w->arenas[m].params[w->noise_ls + j] = cfg->learn_noise ? logf(0.1f) : -30.0f;
        /* the state-dependent part starts at 0: sigma(h) = sigma */
        if (cfg->hetero_noise) {
            memset(w->arenas[m].params + w->noise_head.w, 0, (size_t)w->Z * w->H * sizeof(float));
            memset(w->arenas[m].params + w->noise_head.b, 0, (size_t)w->Z * sizeof(float));
        }
    }
    *out = w;
    return SL_OK;
}

void sl_world_free(sl_world *w) {
    if (!w) return;
    if (w->arenas)
        for (int m = 0; m < w->M; m++) sl_nn_arena_free(&w->arenas[m]);
    free(w->arenas);
    free(w->z_mean);
    free(w->holdout);
    free(w->sphere);
    free(w);
}

sl_status sl_world_set_sphere(sl_world *w, const float *mean, const float *std) {
    if (!mean) {
        free(w->sphere);
        w->sphere = NULL;
        return SL_OK;
    }
    for (int i = 0; i < w->Z; i++)
        if (!isfinite(mean[i]) || !(std[i] > 0.0f) || !isfinite(std[i]))
            return sl_set_error(SL_ERR_ARG, "world: sphere mean/std not finite or std <= 0 at "
                                "dim %d", i);
    float *s = w->sphere ? w->sphere : malloc((size_t)2 * w->Z * sizeof(float));
    if (!s) return sl_set_error(SL_ERR_NOMEM, "world: out of memory");
    memcpy(s, mean, (size_t)w->Z * sizeof(float));
    memcpy(s + w->Z, std, (size_t)w->Z * sizeof(float));
    w->sphere = s;
    return SL_OK;
}

int sl_world_has_sphere(const sl_world *w) { return w->sphere != NULL; }

const sl_world_config *sl_world_get_config(const sl_world *w) { return &w->cfg; }
int sl_world_z_dim(const sl_world *w) { return w->Z; }
int sl_world_a_dim(const sl_world *w) { return w->A; }
const size_t *sl_world_holdout(const sl_world *w, size_t *n) {
    *n = w->n_holdout;
    return w->holdout;
}

sl_status sl_world_check_data(const sl_world *w, const sl_world_data *d) {
    if (d->z_dim != w->Z)
        return sl_set_error(SL_ERR_SHAPE, "world: model has latent dim %d, data has %d", w->Z,
                            d->z_dim);
    if (d->a_dim != w->A)
        return sl_set_error(SL_ERR_SHAPE, "world: model has action dim %d, data has %d", w->A,
                            d->a_dim);
    if (d->n_econ != w->E)
        return sl_set_error(SL_ERR_SHAPE, "world: model predicts %d econ columns, data has %d",
                            w->E, d->n_econ);
    for (int i = 0; i < w->E; i++)
        if (strcmp(d->econ_names[i], w->cfg.econ_names[i]) != 0)
            return sl_set_error(SL_ERR_SHAPE, "world: econ column %d is '%s' in the model, '%s' "
                                "in the data", i, w->cfg.econ_names[i], d->econ_names[i]);
    return SL_OK;
}

/* --- step -------------------------------------------------------------------- */

sl_status sl_world_ws_alloc(sl_world_ws *ws, const sl_world *w, int B) {
    memset(ws, 0, sizeof *ws);
    ws->B = B;
    size_t BH = (size_t)B * w->H;
    size_t tot = (size_t)B * w->In + 2 * BH + sl_nn_gru_cache_floats(B, w->H) +
                 (size_t)B * w->O + sl_nn_gru_ws_floats(B, w->H) + 2 * (size_t)B * w->Z;
    float *mem = calloc(tot, sizeof(float));
    if (!mem) return sl_set_error(SL_ERR_NOMEM, "world: out of memory for %d-row workspace", B);
    ws->x = mem;
    ws->h0 = ws->x + (size_t)B * w->In;
    ws->h1 = ws->h0 + BH;
    ws->cache = ws->h1 + BH;
    ws->out = ws->cache + sl_nn_gru_cache_floats(B, w->H);
    ws->gru_ws = ws->out + (size_t)B * w->O;
    ws->sg = ws->gru_ws + sl_nn_gru_ws_floats(B, w->H);
    ws->eps = ws->sg + (size_t)B * w->Z;
    return SL_OK;
}

void sl_world_ws_free(sl_world_ws *ws) {
    if (!ws) return;
    free(ws->x);
    memset(ws, 0, sizeof *ws);
}

float sl_world_clipf(const sl_world *w, float d) {
    float c = w->cfg.clip_value;
    switch (w->cfg.clip) {
    case SL_WORLD_CLIP_TANH: return c * tanhf(d / c);
    case SL_WORLD_CLIP_HARD: return d > c ? c : (d < -c ? -c : d);
    default: return d;
    }
}

float sl_world_clip_grad(const sl_world *w, float d) {
    float c = w->cfg.clip_value;
    switch (w->cfg.clip) {
    case SL_WORLD_CLIP_TANH: {
        float t = tanhf(d / c);
        return 1.0f - t * t;
    }
    case SL_WORLD_CLIP_HARD: return (d > c || d < -c) ? 0.0f : 1.0f;
    default: return 1.0f;
    }
}

void sl_world_step(const sl_world *w, int m, const float *x, const float *h, float *h_out,
                   float *cache, float *out, int B, float *gru_ws) {
    const float *p = w->arenas[m].params;
    sl_nn_gru_cell_forward(h_out, cache, x, h, p + w->gru.w_ih, p + w->gru.w_hh, p + w->gru.b_ih,
                           p + w->gru.b_hh, B, w->In, w->H, gru_ws);
    sl_nn_linear_forward(out, h_out, p + w->head.w, p + w->head.b, B, w->H, w->O);
}

void sl_world_std_z(const sl_world *w, const float *z, float *zs) {
    for (int i = 0; i < w->Z; i++) zs[i] = (z[i] - w->z_mean[i]) / w->z_std[i];
}
void sl_world_std_a(const sl_world *w, const float *a, float *as) {
    for (int i = 0; i < w->A; i++) as[i] = (a[i] - w->a_mean[i]) / w->a_std[i];
}

/* --- rollouts ------------------------------------------------------------------ */

void sl_world_rollout_free(sl_world_rollout *r) {
    if (!r) return;
    free(r->z);
    free(r->a);
    free(r->reward);
    free(r->econ);
    free(r->ok);
    memset(r, 0, sizeof *r);
}

static float econ_value(const sl_world *w, int k, float o) {
    if (w->e_binary[k]) return 1.0f / (1.0f + expf(-o));
    return w->e_mean[k] + w->e_std[k] * o;
}

#define ROLL_CHUNK 4096

/* One member, rows [0, n) of the request, writing into the member's slice of out. */
/* Project one state (world-standardised z~) onto the encoder's sphere: raw z = z~ * z_std +
 * z_mean, u = z * s + m, u /= ||u||, then back. A no-op without a sphere. */
static void sphere_project(const sl_world *w, float *zc) {
    if (!w->sphere) return;
    const int Z = w->Z;
    const float *sm = w->sphere, *ss = w->sphere + Z;
    double n2 = 0.0;
    for (int j = 0; j < Z; j++) {
        double u = ((double)zc[j] * (double)w->z_std[j] + (double)w->z_mean[j]) * (double)ss[j] +
                   (double)sm[j];
        n2 += u * u;
    }
    if (!(n2 > 1e-30) || !isfinite(n2)) return; /* the explosion check handles the rest */
    double inv = 1.0 / sqrt(n2);
    for (int j = 0; j < Z; j++) {
        double u = ((double)zc[j] * (double)w->z_std[j] + (double)w->z_mean[j]) * (double)ss[j] +
                   (double)sm[j];
        double z = (u * inv - (double)sm[j]) / (double)ss[j];
        zc[j] = (float)((z - (double)w->z_mean[j]) / (double)w->z_std[j]);
    }
}

static sl_status rollout_member(const sl_world *w, const sl_world_data *d, const size_t *rows,
                                int n, const sl_world_rollout_opts *o, int m,
                                sl_world_rollout *out, sl_world_ws *ws, float *zcur, float *zraw,
                                float *araw, int *burn, sl_rng *rng, sl_rng *rr) {
    const int Z = w->Z, A = w->A, E = w->E, H = w->H, In = w->In, O = w->O, T = o->horizon;
    const int Bi = w->cfg.burn_in;
    const float noise = o->noise < 0 ? w->cfg.noise_scale : o->noise;
    float sigma[SL_WORLD_SIGMA_MAX];
    const float *lsig = w->arenas[m].params + w->noise_ls;
    const int hetero = w->cfg.hetero_noise;
    for (int j = 0; j < Z && j < SL_WORLD_SIGMA_MAX; j++) sigma[j] = expf(lsig[j]);
    const float *p = w->arenas[m].params;
    const float *wih = p + w->gru.w_ih, *whh = p + w->gru.w_hh, *bih = p + w->gru.b_ih,
                *bhh = p + w->gru.b_hh;
    for (int c0 = 0; c0 < n; c0 += ROLL_CHUNK) {
        int B = n - c0 < ROLL_CHUNK ? n - c0 : ROLL_CHUNK;
        /* burn-in: row i uses b_i = min(Bi, t0_i) context steps, right-aligned */
        memset(ws->h0, 0, (size_t)B * H * sizeof(float));
        int bmax = 0;
        for (int i = 0; i < B; i++) {
            size_t r = rows[c0 + i], e = sl_world_row_episode(d, r);
            size_t t0 = r - d->ep_start[e];
            burn[i] = t0 < (size_t)Bi ? (int)t0 : Bi;
            if (burn[i] > bmax) bmax = burn[i];
        }
        for (int k = 0; k < bmax; k++) {
            for (int i = 0; i < B; i++) {
                size_t r = rows[c0 + i];
                float *x = ws->x + (size_t)i * In;
                if (k >= bmax - burn[i]) {
                    size_t src = r - (size_t)(bmax - k);
                    sl_world_std_z(w, d->z + src * Z, x);
                    sl_world_std_a(w, d->actions + src * A, x + Z);
                } else {
                    memset(x, 0, (size_t)In * sizeof(float));
                }
            }
            sl_world_gru_infer(ws->h1, ws->x, ws->h0, wih, whh, bih, bhh, B, In, H, ws->gru_ws);
            for (int i = 0; i < B; i++)
                if (k >= bmax - burn[i])
                    memcpy(ws->h0 + (size_t)i * H, ws->h1 + (size_t)i * H, (size_t)H * sizeof(float));
        }
        /* free run; the model's noise comes from one stream per (member, start row), so that
         * the rows can be stepped in parallel with the same bits at any thread count */
        for (int i = 0; i < B; i++)
            sl_rng_seed(&rr[i], o->seed, ((uint64_t)(m + 1) << 40) + (uint64_t)(c0 + i));
        uint8_t *ok = out->ok + (size_t)m * n + c0;
        for (int i = 0; i < B; i++) {
            size_t r = rows[c0 + i];
            sl_world_std_z(w, d->z + r * Z, zcur + (size_t)i * Z);
            ok[i] = 1;
            float *zo = out->z + (((size_t)m * n + c0 + i) * (T + 1)) * Z;
            memcpy(zo, d->z + r * Z, (size_t)Z * sizeof(float));
        }
        for (int k = 0; k < T; k++) {
            if (o->use_real_actions) {
                for (int i = 0; i < B; i++)
                    memcpy(araw + (size_t)i * A, d->actions + (rows[c0 + i] + k) * A,
                           (size_t)A * sizeof(float));
            } else {
                for (int i = 0; i < B; i++)
                    for (int j = 0; j < Z; j++)
                        zraw[(size_t)i * Z + j] =
                            zcur[(size_t)i * Z + j] * w->z_std[j] + w->z_mean[j];
                SL_TRY(o->policy(o->policy_ctx, zraw, B, araw, rng));
                if (!sl_all_finite_f32(araw, (size_t)B * A))
                    return sl_set_error(SL_ERR_NAN, "world rollout: policy returned a non-finite "
                                        "action at step %d", k);
            }
            for (int i = 0; i < B; i++) {
                float *x = ws->x + (size_t)i * In;
                memcpy(x, zcur + (size_t)i * Z, (size_t)Z * sizeof(float));
                sl_world_std_a(w, araw + (size_t)i * A, x + Z);
            }
            sl_world_gru_infer(ws->h1, ws->x, ws->h0, wih, whh, bih, bhh, B, In, H, ws->gru_ws);
            sl_nn_linear_forward(ws->out, ws->h1, p + w->head.w, p + w->head.b, B, H, O);
            if (hetero && noise > 0)
                sl_nn_linear_forward(ws->sg, ws->h1, p + w->noise_head.w, p + w->noise_head.b, B,
                                     H, Z);
            float *tmp = ws->h0;
            ws->h0 = ws->h1;
            ws->h1 = tmp;
            sl_world_residual_update(w, zcur, ws->out, B);
            const int nth = sl_nn_get_threads();
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1 && B >= 256)
            for (int i = 0; i < B; i++) {
                size_t slot = (size_t)m * n + c0 + i;
                if (!ok[i]) continue; /* stays zero */
                float *zo = out->z + (slot * (T + 1) + k + 1) * Z;
                float *ao = out->a + (slot * T + k) * A;
                float *ro = out->reward + slot * T + k;
                float *eo = out->econ + (slot * T + k) * (E ? E : 1);
                const float *ob = ws->out + (size_t)i * O;
                float *zc = zcur + (size_t)i * Z;
                int bad = 0;
                if (noise > 0) {
                    const float *sgi = hetero ? ws->sg + (size_t)i * Z : NULL;
                    float *ei = ws->eps + (size_t)i * Z;
                    sl_nn_randn(ei, (size_t)Z, &rr[i]);
                    for (int j = 0; j < Z; j++)
                        zc[j] += noise * (sgi ? expf(lsig[j] + sgi[j]) : sigma[j]) * ei[j];
                }
                sphere_project(w, zc); /* after the noise: every emitted state is on it */
                for (int j = 0; j < Z; j++) {
                    float v = zc[j];
                    bad |= !isfinite(v) || fabsf(v) > SL_WORLD_EXPLODE;
                    zo[j] = v * w->z_std[j] + w->z_mean[j];
                }
                float rv = w->r_mean + w->r_std * ob[Z];
                if (!isfinite(rv)) bad = 1;
                for (int q = 0; q < E; q++) {
                    eo[q] = econ_value(w, q, ob[Z + 1 + q]);
                    if (!isfinite(eo[q])) bad = 1;
                }
                if (bad) {
                    ok[i] = 0;
                    memset(zc, 0, (size_t)Z * sizeof(float));
                    continue;
                }
                memcpy(ao, araw + (size_t)i * A, (size_t)A * sizeof(float));
                *ro = rv;
            }
        }
        /* a row that went bad is all zero after its real start (all-or-nothing) */
        for (int i = 0; i < B; i++) {
            if (ok[i]) continue;
            size_t slot = (size_t)m * n + c0 + i;
            memset(out->z + (slot * (T + 1) + 1) * Z, 0, (size_t)T * Z * sizeof(float));
            memset(out->a + slot * T * A, 0, (size_t)T * A * sizeof(float));
            memset(out->reward + slot * T, 0, (size_t)T * sizeof(float));
            if (E) memset(out->econ + slot * T * E, 0, (size_t)T * E * sizeof(float));
        }
    }
    return SL_OK;
}

sl_status sl_world_rollout_run(const sl_world *w, const sl_world_data *d, const size_t *rows,
                               int n, const sl_world_rollout_opts *o, sl_world_rollout *out) {
    memset(out, 0, sizeof *out);
    SL_TRY(sl_world_check_data(w, d));
    if (n <= 0) return sl_set_error(SL_ERR_ARG, "world rollout: no start rows");
    if (o->horizon < 1 || o->horizon > SL_WORLD_MAX_HORIZON)
        return sl_set_error(SL_ERR_ARG, "world rollout: horizon %d not in [1, %d]", o->horizon,
                            SL_WORLD_MAX_HORIZON);
    if (!o->use_real_actions && !o->policy)
        return sl_set_error(SL_ERR_ARG, "world rollout: no policy and use_real_actions == 0");
    if (!isfinite(o->noise))
        return sl_set_error(SL_ERR_ARG, "world rollout: noise must be finite");
    for (int i = 0; i < n; i++) {
        if (rows[i] >= d->n)
            return sl_set_error(SL_ERR_RANGE, "world rollout: start row %zu >= %zu rows", rows[i],
                                d->n);
        if (o->use_real_actions) {
            size_t e = sl_world_row_episode(d, rows[i]);
            if (rows[i] + (size_t)o->horizon > d->ep_start[e + 1])
                return sl_set_error(SL_ERR_RANGE, "world rollout: start row %zu (episode %zu, "
                                    "t=%zu) + horizon %d runs past the episode's real actions",
                                    rows[i], e, rows[i] - d->ep_start[e], o->horizon);
        }
    }
    const int M = w->M, T = o->horizon, Z = w->Z, A = w->A, E = w->E;
    out->members = M;
    out->n = n;
    out->horizon = T;
    out->z_dim = Z;
    out->a_dim = A;
    out->n_econ = E;
    size_t MN = (size_t)M * n;
    out->z = calloc(MN * (T + 1) * Z, sizeof(float));
    out->a = calloc(MN * T * A, sizeof(float));
    out->reward = calloc(MN * T, sizeof(float));
    out->econ = calloc(MN * T * (E ? E : 1), sizeof(float));
    out->ok = calloc(MN, 1);
    int B = n < ROLL_CHUNK ? n : ROLL_CHUNK;
    float *zcur = malloc((size_t)B * Z * sizeof(float));
    float *zraw = malloc((size_t)B * Z * sizeof(float));
    float *araw = malloc((size_t)B * A * sizeof(float));
    int *burn = malloc((size_t)B * sizeof(int));
    sl_rng *rr = malloc((size_t)B * sizeof *rr);
    sl_world_ws ws = {0};
    sl_status st = SL_OK;
    if (!out->z || !out->a || !out->reward || !out->econ || !out->ok || !zcur || !zraw || !araw ||
        !burn || !rr)
        st = sl_set_error(SL_ERR_NOMEM, "world rollout: out of memory for %d rollouts", n);
    if (st == SL_OK) st = sl_world_ws_alloc(&ws, w, B);
    for (int m = 0; m < M && st == SL_OK; m++) {
        sl_rng rng;
        sl_rng_seed(&rng, o->seed, 7000 + (uint64_t)m);
        st = rollout_member(w, d, rows, n, o, m, out, &ws, zcur, zraw, araw, burn, &rng, rr);
    }
    sl_world_ws_free(&ws);
    free(rr);
    free(burn);
    free(zcur);
    free(zraw);
    free(araw);
    if (st != SL_OK) sl_world_rollout_free(out);
    return st;
}

sl_status sl_world_generate_windows(const sl_world *w, const sl_world_data *d, int horizon,
                                    size_t n, float noise, uint64_t seed, float **windows,
                                    size_t *starts_out) {
    *windows = NULL;
    if (n == 0 || n > (size_t)1 << 24)
        return sl_set_error(SL_ERR_ARG, "world windows: count %zu not in [1, 2^24]", n);
    if (horizon < 1) return sl_set_error(SL_ERR_ARG, "world windows: horizon %d < 1", horizon);
    /* episodes long enough */
    size_t n_ok = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) >= (size_t)horizon) n_ok++;
    if (n_ok == 0)
        return sl_set_error(SL_ERR_ARG, "world windows: no episode has the %d steps a %d-step "
                            "rollout needs", horizon, horizon);
    size_t *eps = malloc(n_ok * sizeof *eps);
    size_t *rows = malloc(n * sizeof *rows);
    float *win = malloc(n * (size_t)(horizon + 1) * w->Z * sizeof(float));
    if (!eps || !rows || !win) {
        free(eps);
        free(rows);
        free(win);
        return sl_set_error(SL_ERR_NOMEM, "world windows: out of memory for %zu windows", n);
    }
    n_ok = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (sl_world_data_ep_len(d, e) >= (size_t)horizon) eps[n_ok++] = e;
    sl_rng rng;
    sl_rng_seed(&rng, seed, 31);
    size_t done = 0, fails = 0, round = 0;
    sl_status st = SL_OK;
    size_t WZ = (size_t)(horizon + 1) * w->Z;
    while (done < n && st == SL_OK) {
        size_t need = n - done;
        for (size_t i = 0; i < need; i++) {
            size_t e = eps[sl_rng_below(&rng, n_ok)];
            size_t len = sl_world_data_ep_len(d, e);
            rows[i] = d->ep_start[e] + sl_rng_below(&rng, len - (size_t)horizon + 1);
        }
        sl_world_rollout ro;
        sl_world_rollout_opts o = {horizon, 1, NULL, NULL, noise, seed + 7919u * (++round)};
        st = sl_world_rollout_run(w, d, rows, (int)need, &o, &ro);
        if (st != SL_OK) break;
        for (size_t i = 0; i < need; i++) {
            int m = (int)((done + fails) % (size_t)w->M);
            if (ro.ok[(size_t)m * need + i]) {
                memcpy(win + done * WZ, ro.z + ((size_t)m * need + i) * WZ, WZ * sizeof(float));
                if (starts_out) starts_out[done] = rows[i];
                done++;
            } else if (++fails > 10 * n) {
                st = sl_set_error(SL_ERR_DIVERGED, "world windows: %zu rollouts went non-finite "
                                  "or exploded; the model diverges", fails);
                break;
            }
        }
        sl_world_rollout_free(&ro);
    }
    free(eps);
    free(rows);
    if (st != SL_OK) {
        free(win);
        return st;
    }
    *windows = win;
    return SL_OK;
}

double sl_world_window_std_ratio(const float *a, const float *b, size_t n, int T, int D) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        for (int dd = 0; dd < D; dd++) {
            double ma = 0, mb = 0;
            for (int t = 0; t < T; t++) {
                ma += (double)a[(i * T + t) * D + dd];
                mb += (double)b[(i * T + t) * D + dd];
            }
            ma /= T;
            mb /= T;
            double va = 0, vb = 0;
            for (int t = 0; t < T; t++) {
                double x = (double)a[(i * T + t) * D + dd] - ma;
                double y = (double)b[(i * T + t) * D + dd] - mb;
                va += x * x;
                vb += y * y;
            }
            num += va / T;
            den += vb / T;
        }
    }
    if (!isfinite(num) || !isfinite(den)) return NAN;
    if (den == 0) return num == 0 ? 1.0 : (double)INFINITY;
    return sqrt(num / den);
}

/* --- checkpoint ------------------------------------------------------------------ */

sl_status sl_world_save(const sl_world *w, const char *path, const cJSON *extra) {
    const int Z = w->Z, A = w->A, E = w->E;
    float norm_r[2] = {w->r_mean, w->r_std};
    float norm_e[3 * SL_WORLD_MAX_ECON];
    for (int i = 0; i < E; i++) {
        norm_e[i] = w->e_mean[i];
        norm_e[E + i] = w->e_std[i];
        norm_e[2 * E + i] = (float)w->e_binary[i];
    }
    cJSON *cfg = sl_world_config_json(&w->cfg);
    cJSON *prov = cJSON_CreateObject();
    cJSON *ho = cJSON_CreateArray();
    char *cs = NULL, *hs = NULL, *ps = NULL;
    sl_nn_ckpt *c = NULL;
    sl_status st = SL_OK;
    if (!cfg || !prov || !ho) st = sl_set_error(SL_ERR_NOMEM, "world save: out of memory");
    if (st == SL_OK) {
        for (size_t i = 0; i < w->n_holdout; i++)
            cJSON_AddItemToArray(ho, cJSON_CreateNumber((double)w->holdout[i]));
        sl_json_add_provenance(prov, w->cfg.seed);
        cs = cJSON_PrintUnformatted(cfg);
        hs = cJSON_PrintUnformatted(ho);
        ps = cJSON_PrintUnformatted(prov);
        if (!cs || !hs || !ps) st = sl_set_error(SL_ERR_NOMEM, "world save: out of memory");
    }
    if (st == SL_OK) st = sl_nn_ckpt_new(&c);
    if (st == SL_OK) {
        for (int m = 0; m < w->M; m++) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "m%d.", m);
            sl_nn_ckpt_put_arena(c, &w->arenas[m], prefix);
        }
        sl_nn_ckpt_put_vec_f32(c, "norm.z_mean", (size_t)Z, w->z_mean);
        sl_nn_ckpt_put_vec_f32(c, "norm.z_std", (size_t)Z, w->z_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.dz_std", (size_t)Z, w->dz_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.a_mean", (size_t)A, w->a_mean);
        sl_nn_ckpt_put_vec_f32(c, "norm.a_std", (size_t)A, w->a_std);
        sl_nn_ckpt_put_vec_f32(c, "norm.r", 2, norm_r);
        if (E) sl_nn_ckpt_put_vec_f32(c, "norm.econ", (size_t)(3 * E), norm_e);
        if (w->sphere) {
            sl_nn_ckpt_put_vec_f32(c, "sphere.mean", (size_t)Z, w->sphere);
            sl_nn_ckpt_put_vec_f32(c, "sphere.std", (size_t)Z, w->sphere + Z);
        }
        char dims[96];
        snprintf(dims, sizeof dims, "{\"z_dim\":%d,\"a_dim\":%d,\"data_episodes\":%zu}", Z, A,
                 w->data_episodes);
        /* ours first; the caller's keys only where they do not clash */
        sl_nn_ckpt_set_meta(c, "synthloop_kind", "world_model");
        sl_nn_ckpt_set_meta(c, "config", cs);
        sl_nn_ckpt_set_meta(c, "holdout_episodes", hs);
        sl_nn_ckpt_set_meta(c, "provenance", ps);
        sl_nn_ckpt_set_meta(c, "dims", dims);
        sl_nn_ckpt_add_meta_json(c, extra);
        st = sl_nn_ckpt_write(c, path);
    }
    sl_nn_ckpt_free(c);
    free(cs);
    free(hs);
    free(ps);
    cJSON_Delete(cfg);
    cJSON_Delete(prov);
    cJSON_Delete(ho);
    return st;
}

sl_status sl_world_load(sl_world **out, const char *path) {
    *out = NULL;
    sl_nn_ckpt *st;
    SL_TRY(sl_nn_ckpt_read(&st, path, "synthloop_kind", "world_model", "synthloop world model"));
    sl_status s = SL_OK;
    sl_world *w = NULL;
    cJSON *cj = NULL, *dj = NULL, *hj = NULL;
    const char *hos = sl_nn_ckpt_meta(st, "holdout_episodes");
    if ((s = sl_nn_ckpt_meta_json(st, "config", &cj)) != SL_OK ||
        (s = sl_nn_ckpt_meta_json(st, "dims", &dj)) != SL_OK)
        goto done;
    sl_world_config cfg;
    if ((s = config_from_json(&cfg, cj, path)) != SL_OK) goto done;
    int Z = sl_json_int(dj, "z_dim", 0), A = sl_json_int(dj, "a_dim", 0);
    if ((s = sl_world_alloc(&w, &cfg, Z, A)) != SL_OK) {
        s = sl_set_error(SL_ERR_FORMAT, "%s: %s", path, sl_last_error());
        goto done;
    }
    w->data_episodes = (size_t)sl_json_num(dj, "data_episodes", 0);
    for (int m = 0; m < w->M && s == SL_OK; m++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d.", m);
        s = sl_nn_ckpt_get_arena(st, &w->arenas[m], prefix);
    }
    if (s != SL_OK) goto done;
    float nr[2], ne[3 * SL_WORLD_MAX_ECON];
    if ((s = sl_nn_ckpt_get_vec_f32(st, "norm.z_mean", (size_t)Z, w->z_mean)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.z_std", (size_t)Z, w->z_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.dz_std", (size_t)Z, w->dz_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.a_mean", (size_t)A, w->a_mean)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.a_std", (size_t)A, w->a_std)) != SL_OK ||
        (s = sl_nn_ckpt_get_vec_f32(st, "norm.r", 2, nr)) != SL_OK)
        goto done;
    if (w->E && (s = sl_nn_ckpt_get_vec_f32(st, "norm.econ", (size_t)(3 * w->E), ne)) != SL_OK)
        goto done;
    if (sl_nn_ckpt_has(st, "sphere.mean")) { /* optional: models with a latent sphere */
        float *sp = malloc((size_t)2 * Z * sizeof(float));
        if (!sp) {
            s = sl_set_error(SL_ERR_NOMEM, "world load: out of memory");
            goto done;
        }
        if ((s = sl_nn_ckpt_get_vec_f32(st, "sphere.mean", (size_t)Z, sp)) != SL_OK ||
            (s = sl_nn_ckpt_get_vec_f32(st, "sphere.std", (size_t)Z, sp + Z)) != SL_OK ||
            (s = sl_world_set_sphere(w, sp, sp + Z)) != SL_OK) {
            free(sp);
            goto done;
        }
        free(sp);
    }
    w->r_mean = nr[0];
    w->r_std = nr[1];
    for (int i = 0; i < w->E; i++) {
        w->e_mean[i] = ne[i];
        w->e_std[i] = ne[w->E + i];
        w->e_binary[i] = ne[2 * w->E + i] > 0.5f;
    }
    for (int i = 0; i < Z; i++)
        if (!(w->z_std[i] > 0) || !(w->dz_std[i] > 0)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: non-positive latent scale at dim %d", path, i);
            goto done;
        }
    for (int i = 0; i < A; i++)
        if (!(w->a_std[i] > 0)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: non-positive action scale at dim %d", path, i);
            goto done;
        }
    if (hos) {
        hj = cJSON_Parse(hos);
        if (!cJSON_IsArray(hj)) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: metadata holdout_episodes is not a list", path);
            goto done;
        }
        int nh = cJSON_GetArraySize(hj);
        w->holdout = calloc((size_t)nh + 1, sizeof(size_t));
        if (!w->holdout) {
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, hj) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0) {
                s = sl_set_error(SL_ERR_FORMAT, "%s: bad held-out episode index", path);
                goto done;
            }
            w->holdout[w->n_holdout++] = (size_t)it->valuedouble;
        }
    }
done:
    cJSON_Delete(cj);
    cJSON_Delete(dj);
    cJSON_Delete(hj);
    sl_nn_ckpt_free(st);
    if (s != SL_OK) {
        sl_world_free(w);
        return s;
    }
    *out = w;
    return SL_OK;
}
