/* SPDX-License-Identifier: Apache-2.0 */
/* import_hdf5.c - D4RL-layout and Minari-layout HDF5 files -> sl_dataset (HDF5 C API, serial).
 *
 * D4RL: top-level datasets observations [N, ...], actions [N, ...], rewards [N], terminals [N]
 * (required), timeouts [N] and next_observations [N, ...] (optional); other keys ignored.
 * Minari: groups episode_<N> with observations [T+1, ...], actions [T, ...], rewards,
 * terminations, truncations [T]; next_observations[t] = observations[t+1].
 *
 * Key invariant: arrays are read in row blocks through HDF5's own type conversion to double
 * (integers, floats) or as raw enum bytes (h5py's bool), then checked value by value: a NaN/Inf
 * or a value outside float32 range is reported with the file, the key and the row and column,
 * and no dataset is returned. HDF5's automatic error printing is switched off while we work.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "data/import_internal.h"

/* --- error stack --------------------------------------------------------- */

typedef struct h5_quiet {
    H5E_auto2_t fn;
    void *data;
} h5_quiet;

static void quiet_begin(h5_quiet *q) {
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_end(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

/* --- detection ----------------------------------------------------------- */

int sl_imp_is_hdf5(const char *path) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int yes = 0;
    static const long offs[4] = {0, 512, 1024, 2048};
    for (int i = 0; i < 4 && !yes; i++) {
        unsigned char b[8];
        if (fseek(f, offs[i], SEEK_SET) != 0) break;
        if (fread(b, 1, 8, f) != 8) break;
        yes = memcmp(b, sig, 8) == 0;
    }
    fclose(f);
    return yes;
}

/* 1 if loc has a link `name` that is a dataset (2 if it is a group, 0 if absent). */
static int link_kind(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    H5O_info_t info;
    if (H5Oget_info_by_name(loc, name, &info, H5P_DEFAULT) < 0) return 0;
    if (info.type == H5O_TYPE_DATASET) return 1;
    if (info.type == H5O_TYPE_GROUP) return 2;
    return 3;
}

/* Largest episode number accepted (18 significant digits fit a long long). */
#define EP_NUM_MAX 999999999999999999LL

/* episode_<digits> -> number; -1 if the name is not of that form; -2 if the number (leading
 * zeros ignored) has more than 18 significant digits. */
static long long episode_number(const char *name) {
    if (strncmp(name, "episode_", 8) != 0) return -1;
    const char *s = name + 8;
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    while (s[0] == '0' && s[1]) s++;
    if (strlen(s) > 18) return -2;
    long long v = 0;
    for (; *s; s++) v = v * 10 + (*s - '0');
    return v;
}

typedef struct ep_entry {
    long long num;
    char name[64];
} ep_entry;

typedef struct ep_list {
    ep_entry *v;
    size_t n, cap;
    int oom;
    char bad[80]; /* a group named like an episode that cannot be read as one */
} ep_list;

static herr_t collect_episode(hid_t loc, const char *name, const H5L_info_t *info, void *ud) {
    (void)info;
    ep_list *l = ud;
    long long num = episode_number(name);
    if (num == -1) return 0;
    if (num == -2 || strlen(name) >= sizeof l->v[0].name) {
        /* never dropped silently: list_episodes reports it */
        snprintf(l->bad, sizeof l->bad, "%.60s%s", name, strlen(name) > 60 ? "..." : "");
        return 1;
    }
    if (link_kind(loc, name) != 2) return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        ep_entry *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            l->oom = 1;
            return 1;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].num = num;
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", name);
    l->n++;
    return 0;
}

static int cmp_ep(const void *a, const void *b) {
    const ep_entry *x = a, *y = b;
    return (x->num > y->num) - (x->num < y->num);
}

static sl_status list_episodes(hid_t f, const char *path, ep_list *l) {
    memset(l, 0, sizeof *l);
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, collect_episode, l) < 0 && !l->oom) {
        free(l->v);
        memset(l, 0, sizeof *l);
        return sl_set_error(SL_ERR_FORMAT, "%s: cannot list the top-level group", path);
    }
    if (l->oom) {
        free(l->v);
        memset(l, 0, sizeof *l);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory listing episodes", path);
    }
    if (l->bad[0]) {
        sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: group '%s': episode number too long (more "
                                   "than 18 digits or a name over 63 characters)", path, l->bad);
        free(l->v);
        memset(l, 0, sizeof *l);
        return s;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_ep);
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i].num == l->v[i - 1].num) {
            sl_status s = sl_set_error(SL_ERR_FORMAT, "%s: groups '%s' and '%s' have the same "
                                       "episode number", path, l->v[i - 1].name, l->v[i].name);
            free(l->v);
            memset(l, 0, sizeof *l);
            return s;
        }
    return SL_OK;
}

sl_status sl_imp_hdf5_kind(const char *path, sl_import_format *out) {
    h5_quiet q;
    quiet_begin(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    sl_status s = SL_OK;
    if (f < 0) {
        s = sl_set_error(SL_ERR_FORMAT, "%s: cannot open as HDF5", path);
    } else if (link_kind(f, "observations") == 1) {
        *out = SL_IMPORT_D4RL;
    } else {
        ep_list l;
        s = list_episodes(f, path, &l);
        if (s == SL_OK && l.n > 0) *out = SL_IMPORT_MINARI;
        else if (s == SL_OK)
            s = sl_set_error(SL_ERR_FORMAT,
                             "%s: HDF5 file is neither D4RL (no top-level 'observations' dataset) "
                             "nor Minari (no 'episode_<N>' groups)",
                             path);
        free(l.v);
    }
    if (f >= 0) H5Fclose(f);
    quiet_end(&q);
    return s;
}

/* --- reading one array --------------------------------------------------- */

typedef struct h5_arr {
    hid_t d;      /* dataset, or -1 */
    size_t rows;  /* dims[0] */
    size_t cols;  /* product of dims[1..], 1 for rank 1 */
    int rank;
    hsize_t dims[H5S_MAX_RANK];
} h5_arr;

static void arr_close(h5_arr *a) {
    if (a->d >= 0) H5Dclose(a->d);
    a->d = -1;
}

/* Open loc/key as an array. `disp` is the name used in messages (e.g. "episode_3/actions").
 * Missing + optional: SL_OK with a->d == -1. */
static sl_status arr_open(h5_arr *a, hid_t loc, const char *key, const char *disp,
                          const char *file, int required) {
    memset(a, 0, sizeof *a);
    a->d = -1;
    int k = link_kind(loc, key);
    if (k == 0) {
        if (!required) return SL_OK;
        return sl_set_error(SL_ERR_NOTFOUND, "%s: required key '%s' not found", file, disp);
    }
    if (k == 2)
        return sl_set_error(SL_ERR_FORMAT,
                            "%s: key '%s' is a group, not an array (dict spaces are not "
                            "supported; flatten them first)",
                            file, disp);
    if (k != 1) return sl_set_error(SL_ERR_FORMAT, "%s: key '%s' is not a dataset", file, disp);
    a->d = H5Dopen2(loc, key, H5P_DEFAULT);
    if (a->d < 0) return sl_set_error(SL_ERR_FORMAT, "%s: cannot open dataset '%s'", file, disp);
    hid_t sp = H5Dget_space(a->d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (rank < 1 || rank > H5S_MAX_RANK) {
        if (sp >= 0) H5Sclose(sp);
        arr_close(a);
        return sl_set_error(SL_ERR_SHAPE, "%s: dataset '%s' is a scalar (rank %d); need an array",
                            file, disp, rank);
    }
    H5Sget_simple_extent_dims(sp, a->dims, NULL);
    H5Sclose(sp);
    a->rank = rank;
    a->rows = (size_t)a->dims[0];
    a->cols = 1;
    for (int i = 1; i < rank; i++)
        if (sl_mul_size(a->cols, (size_t)a->dims[i], &a->cols) != SL_OK || a->cols > INT32_MAX) {
            arr_close(a);
            return sl_set_error(SL_ERR_RANGE, "%s: dataset '%s' has too many columns", file, disp);
        }
    return SL_OK;
}

typedef enum sink_kind { SINK_F32, SINK_FLAG } sink_kind;

/* Read rows [0, a->rows) of a into dst (float [rows*cols] or uint8 flags [rows*cols]). */
static sl_status arr_read(const h5_arr *a, const char *disp, const char *file, sink_kind kind,
                          void *dst) {
    if (a->rows == 0 || a->cols == 0) return SL_OK;
    hid_t ft = H5Dget_type(a->d);
    if (ft < 0) return sl_set_error(SL_ERR_FORMAT, "%s: cannot read the type of '%s'", file, disp);
    H5T_class_t cls = H5Tget_class(ft);
    hid_t mt = -1;
    size_t esz = sizeof(double);
    int is_enum = 0, enum_signed = 0;
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        mt = H5Tcopy(H5T_NATIVE_DOUBLE);
    } else if (cls == H5T_ENUM) { /* h5py stores numpy bool as an int8 enum {FALSE, TRUE} */
        hid_t base = H5Tget_super(ft);
        mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        esz = mt >= 0 ? H5Tget_size(mt) : 0;
        enum_signed = base >= 0 && H5Tget_sign(base) == H5T_SGN_2;
        if (base >= 0) H5Tclose(base);
        is_enum = 1;
        if (esz != 1 && esz != 2 && esz != 4 && esz != 8) {
            if (mt >= 0) H5Tclose(mt);
            mt = -1;
        }
    }
    H5Tclose(ft);
    if (mt < 0)
        return sl_set_error(SL_ERR_DTYPE,
                            "%s: dataset '%s' has HDF5 type class %d; need integer, float or bool",
                            file, disp, (int)cls);
    size_t blk = (1u << 20) / a->cols;
    if (blk == 0) blk = 1;
    if (blk > a->rows) blk = a->rows;
    unsigned char *buf = malloc(blk * a->cols * esz);
    hid_t fsp = H5Dget_space(a->d);
    if (!buf || fsp < 0) {
        free(buf);
        H5Tclose(mt);
        if (fsp >= 0) H5Sclose(fsp);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory reading '%s'", file, disp);
    }
    sl_status s = SL_OK;
    for (size_t r0 = 0; r0 < a->rows && s == SL_OK; r0 += blk) {
        size_t cnt = a->rows - r0 < blk ? a->rows - r0 : blk;
        hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        start[0] = r0;
        count[0] = cnt;
        for (int i = 1; i < a->rank; i++) count[i] = a->dims[i];
        hsize_t nel = (hsize_t)(cnt * a->cols);
        hid_t msp = H5Screate_simple(1, &nel, NULL);
        if (msp < 0 || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(a->d, mt, msp, fsp, H5P_DEFAULT, buf) < 0) {
            s = sl_set_error(SL_ERR_FORMAT, "%s: reading '%s' rows %zu..%zu failed", file, disp,
                             r0, r0 + cnt - 1);
        }
        if (msp >= 0) H5Sclose(msp);
        for (size_t i = 0; s == SL_OK && i < cnt * a->cols; i++) {
            double v;
            if (!is_enum) {
                memcpy(&v, buf + i * sizeof(double), sizeof v);
            } else {
                const unsigned char *p = buf + i * esz;
                if (esz == 1) v = enum_signed ? (double)*(const int8_t *)p : (double)*p;
                else if (esz == 2) {
                    int16_t x;
                    memcpy(&x, p, 2);
                    v = enum_signed ? (double)x : (double)(uint16_t)x;
                } else if (esz == 4) {
                    int32_t x;
                    memcpy(&x, p, 4);
                    v = enum_signed ? (double)x : (double)(uint32_t)x;
                } else {
                    int64_t x;
                    memcpy(&x, p, 8);
                    v = enum_signed ? (double)x : (double)(uint64_t)x;
                }
            }
            size_t row = r0 + i / a->cols, col = i % a->cols;
            if (!isfinite(v)) {
                s = sl_set_error(SL_ERR_NAN, "%s: key '%s' row %zu column %zu: value %g is not "
                                 "finite", file, disp, row, col, v);
            } else if (kind == SINK_F32) {
                if (fabs(v) > (double)FLT_MAX)
                    s = sl_set_error(SL_ERR_RANGE,
                                     "%s: key '%s' row %zu column %zu: value %g is outside float32 "
                                     "range",
                                     file, disp, row, col, v);
                else ((float *)dst)[r0 * a->cols + i] = (float)v;
            } else {
                ((uint8_t *)dst)[r0 * a->cols + i] = v != 0;
            }
        }
    }
    free(buf);
    H5Sclose(fsp);
    H5Tclose(mt);
    return s;
}

static sl_status check_rows(const h5_arr *a, const char *disp, size_t want, const char *file,
                            const char *ref) {
    if (a->rows != want)
        return sl_set_error(SL_ERR_SHAPE, "%s: key '%s' has %zu rows, expected %zu (as %s)", file,
                            disp, a->rows, want, ref);
    return SL_OK;
}

static sl_status check_vector(const h5_arr *a, const char *disp, const char *file) {
    if (a->cols != 1)
        return sl_set_error(SL_ERR_SHAPE, "%s: key '%s' must have one value per row, has %zu",
                            file, disp, a->cols);
    return SL_OK;
}

/* --- D4RL ---------------------------------------------------------------- */

static sl_status d4rl_read(sl_imp_raw *raw, hid_t f, const char *path) {
    enum { OBS, ACT, REW, TERM, TOUT, NEXT, NKEY };
    static const char *const keys[NKEY] = {"observations", "actions",  "rewards",
                                           "terminals",    "timeouts", "next_observations"};
    h5_arr a[NKEY];
    for (int i = 0; i < NKEY; i++) a[i].d = -1;
    sl_status s = SL_OK;
    for (int i = 0; i < NKEY && s == SL_OK; i++) s = arr_open(&a[i], f, keys[i], keys[i], path, i < TOUT);
    size_t n = s == SL_OK ? a[OBS].rows : 0;
    for (int i = ACT; i < NKEY && s == SL_OK; i++)
        if (a[i].d >= 0) s = check_rows(&a[i], keys[i], n, path, "'observations'");
    for (int i = REW; i <= TOUT && s == SL_OK; i++)
        if (a[i].d >= 0) s = check_vector(&a[i], keys[i], path);
    if (s == SL_OK && a[NEXT].d >= 0 && a[NEXT].cols != a[OBS].cols)
        s = sl_set_error(SL_ERR_SHAPE, "%s: 'next_observations' has %zu columns, 'observations' %zu",
                         path, a[NEXT].cols, a[OBS].cols);
    if (s == SL_OK && n == 0) s = sl_set_error(SL_ERR_FORMAT, "%s: 'observations' has no rows", path);
    if (s == SL_OK) {
        raw->n = n;
        raw->obs_dim = (int)a[OBS].cols;
        raw->act_dim = (int)a[ACT].cols;
        raw->obs = malloc(n * a[OBS].cols * sizeof(float));
        raw->act = malloc(n * a[ACT].cols * sizeof(float));
        raw->rew = malloc(n * sizeof(float));
        raw->term = calloc(n, 1);
        raw->tout = calloc(n, 1);
        if (a[NEXT].d >= 0) raw->next_obs = malloc(n * a[OBS].cols * sizeof(float));
        if (!raw->obs || !raw->act || !raw->rew || !raw->term || !raw->tout ||
            (a[NEXT].d >= 0 && !raw->next_obs))
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu rows", path, n);
    }
    if (s == SL_OK) s = arr_read(&a[OBS], keys[OBS], path, SINK_F32, raw->obs);
    if (s == SL_OK) s = arr_read(&a[ACT], keys[ACT], path, SINK_F32, raw->act);
    if (s == SL_OK) s = arr_read(&a[REW], keys[REW], path, SINK_F32, raw->rew);
    if (s == SL_OK) s = arr_read(&a[TERM], keys[TERM], path, SINK_FLAG, raw->term);
    if (s == SL_OK && a[TOUT].d >= 0) s = arr_read(&a[TOUT], keys[TOUT], path, SINK_FLAG, raw->tout);
    if (s == SL_OK && a[NEXT].d >= 0) s = arr_read(&a[NEXT], keys[NEXT], path, SINK_F32, raw->next_obs);
    for (int i = 0; i < NKEY; i++) arr_close(&a[i]);
    return s;
}

sl_status sl_import_d4rl(sl_dataset **out, const char *path, const sl_import_options *opt,
                         sl_import_report *rep) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "sl_import_d4rl: NULL argument");
    *out = NULL;
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, NULL));
    sl_import_options o;
    sl_imp_resolve_options(&o, opt);
    h5_quiet q;
    quiet_begin(&q);
    sl_imp_raw raw;
    memset(&raw, 0, sizeof raw);
    raw.what = path;
    sl_status s = SL_OK;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) s = sl_set_error(SL_ERR_IO, "%s: cannot open as HDF5", path);
    if (s == SL_OK) s = d4rl_read(&raw, f, path);
    if (f >= 0) H5Fclose(f);
    quiet_end(&q);
    if (s == SL_OK) {
        sl_import_report local;
        if (!rep) rep = &local;
        memset(rep, 0, sizeof *rep);
        rep->format = SL_IMPORT_D4RL;
        s = sl_imp_finish(out, &raw, o.max_episodes, rep);
    }
    sl_imp_raw_clear(&raw);
    return s;
}

/* --- Minari -------------------------------------------------------------- */

enum { M_OBS, M_ACT, M_REW, M_TERM, M_TRUNC, M_NKEY };
static const char *const minari_keys[M_NKEY] = {"observations", "actions", "rewards",
                                                "terminations", "truncations"};

typedef struct m_episode {
    hid_t g;
    h5_arr a[M_NKEY];
    size_t steps;
} m_episode;

static void m_close(m_episode *e) {
    for (int i = 0; i < M_NKEY; i++) arr_close(&e->a[i]);
    if (e->g >= 0) H5Gclose(e->g);
    e->g = -1;
}

/* Open an episode group and check its shapes; the obs/act widths must match od and ad when those are > 0. */
static sl_status m_open(m_episode *e, hid_t f, const char *gname, const char *path, size_t *od,
                        size_t *ad) {
    memset(e, 0, sizeof *e);
    for (int i = 0; i < M_NKEY; i++) e->a[i].d = -1;
    e->g = H5Gopen2(f, gname, H5P_DEFAULT);
    if (e->g < 0) return sl_set_error(SL_ERR_FORMAT, "%s: cannot open group '%s'", path, gname);
    char disp[M_NKEY][96];
    sl_status s = SL_OK;
    for (int i = 0; i < M_NKEY && s == SL_OK; i++) {
        snprintf(disp[i], sizeof disp[i], "%s/%s", gname, minari_keys[i]);
        s = arr_open(&e->a[i], e->g, minari_keys[i], disp[i], path, 1);
    }
    if (s != SL_OK) return s;
    size_t t = e->a[M_ACT].rows;
    if (t == 0) return sl_set_error(SL_ERR_FORMAT, "%s: '%s' has no steps", path, disp[M_ACT]);
    if (e->a[M_OBS].rows != t + 1)
        return sl_set_error(SL_ERR_SHAPE,
                            "%s: key '%s' has %zu rows; Minari needs one more than '%s' (%zu)",
                            path, disp[M_OBS], e->a[M_OBS].rows, disp[M_ACT], t);
    for (int i = M_REW; i < M_NKEY; i++) {
        SL_TRY(check_rows(&e->a[i], disp[i], t, path, "actions"));
        SL_TRY(check_vector(&e->a[i], disp[i], path));
    }
    if (*od && e->a[M_OBS].cols != *od)
        return sl_set_error(SL_ERR_SHAPE, "%s: key '%s' has %zu columns, earlier episodes %zu",
                            path, disp[M_OBS], e->a[M_OBS].cols, *od);
    if (*ad && e->a[M_ACT].cols != *ad)
        return sl_set_error(SL_ERR_SHAPE, "%s: key '%s' has %zu columns, earlier episodes %zu",
                            path, disp[M_ACT], e->a[M_ACT].cols, *ad);
    *od = e->a[M_OBS].cols;
    *ad = e->a[M_ACT].cols;
    e->steps = t;
    return SL_OK;
}

static sl_status minari_read(sl_imp_raw *raw, hid_t f, const char *path, size_t max_eps,
                             sl_import_report *rep) {
    ep_list l;
    SL_TRY(list_episodes(f, path, &l));
    sl_status s = SL_OK;
    if (l.n == 0) s = sl_set_error(SL_ERR_NOTFOUND, "%s: no 'episode_<N>' groups (Minari)", path);
    size_t keep = (max_eps && max_eps < l.n) ? max_eps : l.n;
    size_t od = 0, ad = 0, total = 0;
    /* pass 1: shapes of the kept episodes */
    for (size_t e = 0; e < keep && s == SL_OK; e++) {
        m_episode ep;
        s = m_open(&ep, f, l.v[e].name, path, &od, &ad);
        total += ep.steps;
        m_close(&ep);
    }
    size_t file_rows = total;
    for (size_t e = keep; e < l.n && s == SL_OK; e++) { /* rows of the rest, for the report */
        hid_t g = H5Gopen2(f, l.v[e].name, H5P_DEFAULT);
        h5_arr a;
        if (g >= 0 && arr_open(&a, g, "actions", "actions", path, 0) == SL_OK) {
            file_rows += a.rows;
            arr_close(&a);
        }
        if (g >= 0) H5Gclose(g);
    }
    if (s == SL_OK) sl_clear_error(); /* the side pass above may have left a message */
    if (s == SL_OK) {
        raw->n = total;
        raw->obs_dim = (int)od;
        raw->act_dim = (int)ad;
        raw->obs = malloc(total * od * sizeof(float));
        raw->next_obs = malloc(total * od * sizeof(float));
        raw->act = malloc(total * ad * sizeof(float));
        raw->rew = malloc(total * sizeof(float));
        raw->term = malloc(total);
        raw->tout = malloc(total);
        raw->epkey = malloc(total * sizeof(int64_t));
        if (!raw->obs || !raw->next_obs || !raw->act || !raw->rew || !raw->term || !raw->tout ||
            !raw->epkey)
            s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory for %zu rows", path, total);
    }
    /* pass 2: read */
    float *tmp = NULL;
    size_t tmp_cap = 0, row = 0;
    for (size_t e = 0; e < keep && s == SL_OK; e++) {
        m_episode ep;
        s = m_open(&ep, f, l.v[e].name, path, &od, &ad);
        char disp[M_NKEY][96];
        for (int i = 0; i < M_NKEY; i++)
            snprintf(disp[i], sizeof disp[i], "%s/%s", l.v[e].name, minari_keys[i]);
        size_t t = ep.steps;
        if (s == SL_OK && (t + 1) * od > tmp_cap) {
            free(tmp);
            tmp_cap = (t + 1) * od;
            tmp = malloc(tmp_cap * sizeof(float));
            if (!tmp) s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
        }
        if (s == SL_OK) s = arr_read(&ep.a[M_OBS], disp[M_OBS], path, SINK_F32, tmp);
        if (s == SL_OK) {
            memcpy(raw->obs + row * od, tmp, t * od * sizeof(float));
            memcpy(raw->next_obs + row * od, tmp + od, t * od * sizeof(float));
        }
        if (s == SL_OK) s = arr_read(&ep.a[M_ACT], disp[M_ACT], path, SINK_F32, raw->act + row * ad);
        if (s == SL_OK) s = arr_read(&ep.a[M_REW], disp[M_REW], path, SINK_F32, raw->rew + row);
        if (s == SL_OK) s = arr_read(&ep.a[M_TERM], disp[M_TERM], path, SINK_FLAG, raw->term + row);
        if (s == SL_OK)
            s = arr_read(&ep.a[M_TRUNC], disp[M_TRUNC], path, SINK_FLAG, raw->tout + row);
        for (size_t i = 0; i < t && s == SL_OK; i++) raw->epkey[row + i] = (int64_t)e;
        row += t;
        m_close(&ep);
    }
    free(tmp);
    if (rep) {
        rep->episodes_in_file = l.n;
        rep->rows_in_file = file_rows;
    }
    free(l.v);
    return s;
}

sl_status sl_import_minari(sl_dataset **out, const char *path, const sl_import_options *opt,
                           sl_import_report *rep) {
    if (!out || !path) return sl_set_error(SL_ERR_ARG, "sl_import_minari: NULL argument");
    *out = NULL;
    SL_TRY(sl_file_check_input(path, SL_INPUT_MAX_BYTES, NULL));
    sl_import_options o;
    sl_imp_resolve_options(&o, opt);
    sl_import_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->format = SL_IMPORT_MINARI;
    h5_quiet q;
    quiet_begin(&q);
    sl_imp_raw raw;
    memset(&raw, 0, sizeof raw);
    raw.what = path;
    sl_status s = SL_OK;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) s = sl_set_error(SL_ERR_IO, "%s: cannot open as HDF5", path);
    sl_import_report mr;
    memset(&mr, 0, sizeof mr);
    if (s == SL_OK) s = minari_read(&raw, f, path, o.max_episodes, &mr);
    if (f >= 0) H5Fclose(f);
    quiet_end(&q);
    if (s == SL_OK) s = sl_imp_finish(out, &raw, 0, rep);
    if (s == SL_OK) {
        rep->episodes_in_file = mr.episodes_in_file;
        rep->rows_in_file = mr.rows_in_file;
    }
    sl_imp_raw_clear(&raw);
    return s;
}
