/* SPDX-License-Identifier: Apache-2.0 */
/* test_dataset_npz.c - sl_dataset_save_npz / sl_dataset_load_npz: save-load reproduces every
 * array, numpy reads our layout and writes it back, D4RL-style numpy files without episode ids
 * load with derived episodes, bad files (NaN, broken episode ids, missing keys) give errors
 * naming file, key and row, and a failed save leaves the target path untouched. */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_npz.h"

static const char *root_dir(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static int run_py(const char *args) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/fmt_dataset.py %s", SL_PYTHON, root_dir(), args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* 4 episodes of lengths 7, 1, 12, 5 with a step and an episode column. */
static sl_dataset *make_dataset(void) {
    static const int lens[] = {7, 1, 12, 5};
    size_t n = 25;
    sl_dataset *ds;
    if (sl_dataset_alloc(&ds, n, 3, 2) != SL_OK) return NULL;
    sl_rng r;
    sl_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < n * 3; i++) {
        ds->observations[i] = (float)sl_rng_normal(&r);
        ds->next_observations[i] = (float)sl_rng_normal(&r);
    }
    for (size_t i = 0; i < n * 2; i++) ds->actions[i] = (float)sl_rng_uniform_range(&r, -1, 1);
    size_t row = 0;
    for (int e = 0; e < 4; e++)
        for (int t = 0; t < lens[e]; t++, row++) {
            ds->rewards[row] = (float)sl_rng_normal(&r);
            ds->episode_ids[row] = e;
            ds->timesteps[row] = t + (e == 3 ? 100 : 0); /* a branch starting mid-episode */
            ds->terminals[row] = (uint8_t)(t == lens[e] - 1 && e != 1);
            ds->timeouts[row] = (uint8_t)(t == lens[e] - 1 && e == 1);
        }
    ds->n_episodes = 4;
    float *energy;
    double *mpl;
    if (sl_dataset_add_step_col(ds, "energy_wh", &energy) != SL_OK ||
        sl_dataset_add_ep_col(ds, "mpl", &mpl) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) energy[i] = (float)i * 0.25f;
    for (int e = 0; e < 4; e++) mpl[e] = 1.0 / (e + 3);
    return ds;
}

static void check_same(const sl_dataset *a, const sl_dataset *b) {
    CHECK(a->n == b->n && a->n_episodes == b->n_episodes && a->obs_dim == b->obs_dim &&
          a->act_dim == b->act_dim);
    if (a->n != b->n || a->obs_dim != b->obs_dim || a->act_dim != b->act_dim) return;
    size_t n = a->n, od = (size_t)a->obs_dim, ad = (size_t)a->act_dim;
    CHECK(memcmp(a->observations, b->observations, n * od * 4) == 0);
    CHECK(memcmp(a->next_observations, b->next_observations, n * od * 4) == 0);
    CHECK(memcmp(a->actions, b->actions, n * ad * 4) == 0);
    CHECK(memcmp(a->rewards, b->rewards, n * 4) == 0);
    CHECK(memcmp(a->terminals, b->terminals, n) == 0);
    CHECK(memcmp(a->timeouts, b->timeouts, n) == 0);
    CHECK(memcmp(a->episode_ids, b->episode_ids, n * 4) == 0);
    CHECK(memcmp(a->timesteps, b->timesteps, n * 4) == 0);
    CHECK(a->n_step_cols == b->n_step_cols && a->n_ep_cols == b->n_ep_cols);
    for (int c = 0; c < a->n_step_cols; c++) {
        const float *x = sl_dataset_step_col(b, a->step_cols[c].name);
        CHECK_MSG(x && memcmp(x, a->step_cols[c].data, n * 4) == 0, "step col %s",
                  a->step_cols[c].name);
    }
    for (int c = 0; c < a->n_ep_cols; c++) {
        const double *x = sl_dataset_ep_col(b, a->ep_cols[c].name);
        CHECK_MSG(x && memcmp(x, a->ep_cols[c].data, a->n_episodes * 8) == 0, "ep col %s",
                  a->ep_cols[c].name);
    }
}

TEST(save_load_round_trip_and_numpy) {
    sl_dataset *ds = make_dataset(), *back = NULL, *np_back = NULL;
    CHECK(ds != NULL);
    if (!ds) return;
    char path[1024], path2[1024], args[2200];
    snprintf(path, sizeof path, "%s/ds.npz", harness_tmpdir());
    snprintf(path2, sizeof path2, "%s/ds_numpy.npz", harness_tmpdir());
    CHECK_OK(sl_dataset_save_npz(ds, path));
    CHECK_OK(sl_dataset_load_npz(&back, path));
    if (back) check_same(ds, back);
    /* numpy checks the documented dtypes/shapes and writes it back (deflated) */
    snprintf(args, sizeof args, "roundtrip %s %s", path, path2);
    CHECK_MSG(run_py(args) == 0, "numpy disagrees with the documented layout");
    CHECK_OK(sl_dataset_load_npz(&np_back, path2));
    if (np_back) check_same(ds, np_back);
    /* keys are exactly the documented ones */
    sl_npz *z;
    CHECK_OK(sl_npz_open(&z, path));
    CHECK(sl_npz_count(z) == 10 && sl_npz_has(z, "ep_mpl") && sl_npz_has(z, "energy_wh"));
    sl_npz_close(z);
    sl_dataset_free(back);
    sl_dataset_free(np_back);
    sl_dataset_free(ds);
}

TEST(empty_dataset_round_trip) {
    sl_dataset *ds, *back = NULL;
    CHECK_OK(sl_dataset_alloc(&ds, 0, 2, 1));
    char path[1024];
    snprintf(path, sizeof path, "%s/empty_ds.npz", harness_tmpdir());
    CHECK_OK(sl_dataset_save_npz(ds, path));
    CHECK_OK(sl_dataset_load_npz(&back, path));
    CHECK(back && back->n == 0 && back->n_episodes == 0 && back->obs_dim == 2 &&
          back->act_dim == 1);
    sl_dataset_free(back);
    sl_dataset_free(ds);
}

TEST(d4rl_numpy_file_derives_episodes) {
    char path[1024], exp[1024], args[2200];
    snprintf(path, sizeof path, "%s/d4rl.npz", harness_tmpdir());
    snprintf(exp, sizeof exp, "%s/d4rl_expect.npz", harness_tmpdir());
    snprintf(args, sizeof args, "d4rl %s %s", path, exp);
    CHECK(run_py(args) == 0);
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_load_npz(&ds, path));
    if (!ds) return;
    CHECK(ds->n == 40 && ds->obs_dim == 4 && ds->act_dim == 2);
    CHECK(ds->n_episodes == 4); /* ends at 9 (terminal), 17 (timeout), 25, then a tail */
    CHECK(ds->terminals[9] == 1 && ds->timeouts[17] == 1 && ds->terminals[17] == 0);
    CHECK(ds->n_step_cols == 1 && sl_dataset_step_col(ds, "energy_wh") != NULL);
    sl_npz *z;
    CHECK_OK(sl_npz_open(&z, exp));
    const sl_array *a;
    if (sl_npz_get(z, "episode_ids", &a) == SL_OK)
        CHECK(memcmp(a->data, ds->episode_ids, 40 * 4) == 0);
    if (sl_npz_get(z, "timesteps", &a) == SL_OK)
        CHECK(memcmp(a->data, ds->timesteps, 40 * 4) == 0);
    if (sl_npz_get(z, "observations", &a) == SL_OK)
        CHECK(memcmp(a->data, ds->observations, 40 * 4 * 4) == 0);
    if (sl_npz_get(z, "rewards", &a) == SL_OK) /* float64 -> float32 like numpy's astype */
        CHECK(memcmp(a->data, ds->rewards, 40 * 4) == 0);
    if (sl_npz_get(z, "energy_wh", &a) == SL_OK)
        CHECK(memcmp(a->data, sl_dataset_step_col(ds, "energy_wh"), 40 * 4) == 0);
    CHECK_OK(sl_npz_read_all(z));
    sl_npz_close(z);
    sl_dataset_free(ds);
}

TEST(bad_files_name_key_and_row) {
    char path[1024], args[2200];
    sl_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/nan.npz", harness_tmpdir());
    snprintf(args, sizeof args, "nan %s", path);
    CHECK(run_py(args) == 0);
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_NAN);
    CHECK_MSG(contains(sl_last_error(), path) && contains(sl_last_error(), "'observations'") &&
                  contains(sl_last_error(), "row 17 column 1 is NaN"),
              "message: %s", sl_last_error());
    CHECK(ds == NULL);
    snprintf(path, sizeof path, "%s/badep.npz", harness_tmpdir());
    snprintf(args, sizeof args, "badep %s", path);
    CHECK(run_py(args) == 0);
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_FORMAT);
    CHECK_MSG(contains(sl_last_error(), "'episode_ids' row 5 is 2 after 0"), "message: %s",
              sl_last_error());
    /* missing key, wrong shape, bad flags: crafted with our own writer */
    float obs[6] = {0}, act[3] = {0}, rew[3] = {0};
    uint8_t term[3] = {0, 2, 0};
    size_t s32[2] = {3, 2}, s31[2] = {3, 1}, s3[1] = {3}, s2[1] = {2};
    sl_npz_writer *w;
    snprintf(path, sizeof path, "%s/missing.npz", harness_tmpdir());
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "actions", SL_DTYPE_F32, 2, s31, act));
    CHECK_OK(sl_npz_writer_add(w, "rewards", SL_DTYPE_F32, 1, s3, rew));
    CHECK_OK(sl_npz_writer_commit(w));
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_NOTFOUND);
    CHECK(contains(sl_last_error(), "'next_observations' is missing"));
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "next_observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "actions", SL_DTYPE_F32, 2, s31, act));
    CHECK_OK(sl_npz_writer_add(w, "rewards", SL_DTYPE_F32, 1, s2, rew));
    CHECK_OK(sl_npz_writer_commit(w));
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_SHAPE);
    CHECK(contains(sl_last_error(), "'rewards' has shape (2)"));
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "next_observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "actions", SL_DTYPE_F32, 2, s31, act));
    CHECK_OK(sl_npz_writer_add(w, "rewards", SL_DTYPE_F32, 1, s3, rew));
    CHECK_OK(sl_npz_writer_add(w, "terminals", SL_DTYPE_U8, 1, s3, term));
    CHECK_OK(sl_npz_writer_commit(w));
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_FORMAT);
    CHECK(contains(sl_last_error(), "'terminals' row 1 is not 0 or 1"));
    term[1] = 1;
    CHECK_OK(sl_npz_writer_open(&w, path, SL_NPZ_STORED));
    CHECK_OK(sl_npz_writer_add(w, "observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "next_observations", SL_DTYPE_F32, 2, s32, obs));
    CHECK_OK(sl_npz_writer_add(w, "actions", SL_DTYPE_F32, 2, s31, act));
    CHECK_OK(sl_npz_writer_add(w, "rewards", SL_DTYPE_F32, 1, s3, rew));
    CHECK_OK(sl_npz_writer_add(w, "terminals", SL_DTYPE_U8, 1, s3, term));
    double epv[3] = {1, 2, 3};
    CHECK_OK(sl_npz_writer_add(w, "ep_x", SL_DTYPE_F64, 1, s3, epv)); /* 2 episodes */
    CHECK_OK(sl_npz_writer_commit(w));
    CHECK_STATUS(sl_dataset_load_npz(&ds, path), SL_ERR_SHAPE);
    CHECK(contains(sl_last_error(), "'ep_x'") && contains(sl_last_error(), "(2,)"));
    CHECK(ds == NULL);
}

static int dir_entries(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "exit $(ls -A '%s' | wc -l)", dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(failed_save_leaves_target_untouched) {
    char dir[600], path[1024];
    snprintf(dir, sizeof dir, "%s/save", harness_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/out.npz", dir);
    sl_dataset *ds = make_dataset();
    CHECK(ds != NULL);
    if (!ds) return;
    /* invalid dataset, no file yet: nothing created */
    ds->observations[5 * 3 + 2] = NAN;
    CHECK_STATUS(sl_dataset_save_npz(ds, path), SL_ERR_NAN);
    CHECK(contains(sl_last_error(), "observations row 5"));
    CHECK(dir_entries(dir) == 0);
    /* existing file: untouched by a failed save */
    CHECK_OK(sl_write_file_atomic(path, "previous", 8));
    CHECK_STATUS(sl_dataset_save_npz(ds, path), SL_ERR_NAN);
    ds->observations[5 * 3 + 2] = 0;
    ds->episode_ids[3] = 2;
    CHECK_STATUS(sl_dataset_save_npz(ds, path), SL_ERR_FORMAT);
    ds->episode_ids[3] = 0;
    char *txt;
    size_t len;
    CHECK_OK(sl_read_file(path, &txt, &len));
    CHECK(len == 8 && memcmp(txt, "previous", 8) == 0);
    free(txt);
    CHECK(dir_entries(dir) == 1);
    /* a step column named ep_* would be read back as an episode column: refused */
    float *bad;
    CHECK_OK(sl_dataset_add_step_col(ds, "ep_confusing", &bad));
    CHECK_STATUS(sl_dataset_save_npz(ds, path), SL_ERR_ARG);
    CHECK(dir_entries(dir) == 1);
    sl_dataset_free(ds);
}

int main(void) {
    RUN(save_load_round_trip_and_numpy);
    RUN(empty_dataset_round_trip);
    RUN(d4rl_numpy_file_derives_episodes);
    RUN(bad_files_name_key_and_row);
    RUN(failed_save_leaves_target_untouched);
    return harness_done();
}
