/* SPDX-License-Identifier: Apache-2.0 */
/* test_dataset.c - the in-memory dataset: allocation, columns, validation messages,
 * episode ranges and episode selection. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "synthloop/sl_dataset.h"

/* Three episodes of lengths 3, 1, 4 with recognisable values. */
static sl_dataset *make_ds(void) {
    sl_dataset *ds = NULL;
    if (sl_dataset_alloc(&ds, 8, 2, 1) != SL_OK) return NULL;
    const int lens[3] = {3, 1, 4};
    size_t r = 0;
    for (int e = 0; e < 3; e++)
        for (int t = 0; t < lens[e]; t++, r++) {
            ds->episode_ids[r] = e;
            ds->timesteps[r] = t;
            ds->observations[r * 2] = (float)r;
            ds->observations[r * 2 + 1] = (float)(10 * e);
            ds->next_observations[r * 2] = (float)r + 1.0f;
            ds->actions[r] = -(float)r;
            ds->rewards[r] = 0.5f * (float)r;
            ds->timeouts[r] = (t == lens[e] - 1);
        }
    ds->n_episodes = 3;
    float *energy;
    double *mpl;
    if (sl_dataset_add_step_col(ds, "energy_wh", &energy) != SL_OK ||
        sl_dataset_add_ep_col(ds, "mpl", &mpl) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    for (size_t i = 0; i < 8; i++) energy[i] = 0.01f * (float)i;
    for (int e = 0; e < 3; e++) mpl[e] = 100.0 + e;
    return ds;
}

TEST(alloc_and_columns) {
    sl_dataset *ds = make_ds();
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(ds->n == 8 && ds->obs_dim == 2 && ds->act_dim == 1);
    CHECK(sl_dataset_step_col(ds, "energy_wh") != NULL);
    CHECK(sl_dataset_step_col(ds, "nope") == NULL);
    CHECK(sl_dataset_ep_col(ds, "mpl")[2] == 102.0);
    CHECK(sl_dataset_ep_col(ds, "energy_wh") == NULL);
    CHECK_STATUS(sl_dataset_add_step_col(ds, "energy_wh", NULL), SL_ERR_ARG); /* duplicate */
    CHECK_STATUS(sl_dataset_add_step_col(ds, "bad-name", NULL), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "bad-name") != NULL);
    CHECK_STATUS(sl_dataset_add_step_col(ds, "", NULL), SL_ERR_ARG);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[79] = 0;
    CHECK_STATUS(sl_dataset_add_step_col(ds, longname, NULL), SL_ERR_ARG);
    /* up to the limit, then refused */
    char nm[16];
    int added = ds->n_step_cols;
    for (int i = 0; added < SL_DATASET_MAX_COLS; i++, added++) {
        snprintf(nm, sizeof nm, "c%d", i);
        CHECK_OK(sl_dataset_add_step_col(ds, nm, NULL));
    }
    CHECK_STATUS(sl_dataset_add_step_col(ds, "one_more", NULL), SL_ERR_RANGE);
    CHECK_OK(sl_dataset_validate(ds, "mem"));
    sl_dataset_free(ds);
    sl_dataset_free(NULL);

    sl_dataset *e = NULL;
    CHECK_STATUS(sl_dataset_alloc(&e, 4, 0, 1), SL_ERR_ARG);
    CHECK(e == NULL);
    CHECK_STATUS(sl_dataset_alloc(&e, SIZE_MAX / 2, 8, 1), SL_ERR_RANGE);
    CHECK_OK(sl_dataset_alloc(&e, 4, 3, 2));
    if (e) {
        /* episode columns need n_episodes first */
        CHECK_STATUS(sl_dataset_add_ep_col(e, "mpl", NULL), SL_ERR_STATE);
        for (int i = 0; i < 4; i++) CHECK(e->observations[i * 3 + 2] == 0.0f);
    }
    sl_dataset_free(e);
}

TEST(episode_range) {
    sl_dataset *ds = make_ds();
    if (!ds) { CHECK(0); return; }
    size_t s, t;
    CHECK_OK(sl_dataset_episode_range(ds, 0, &s, &t));
    CHECK(s == 0 && t == 3);
    CHECK_OK(sl_dataset_episode_range(ds, 1, &s, &t));
    CHECK(s == 3 && t == 4);
    CHECK_OK(sl_dataset_episode_range(ds, 2, &s, &t));
    CHECK(s == 4 && t == 8);
    CHECK_STATUS(sl_dataset_episode_range(ds, 3, &s, &t), SL_ERR_RANGE);
    sl_dataset_free(ds);
}

/* Each invariant broken in turn: the status and the message naming the array and row. */
TEST(validate_each_invariant) {
    struct {
        const char *array, *row;
        sl_status want;
    } cases[] = {
        {"observations", "row 5", SL_ERR_NAN},      {"next_observations", "row 2", SL_ERR_NAN},
        {"actions", "row 7", SL_ERR_NAN},           {"rewards", "row 1", SL_ERR_NAN},
        {"energy_wh", "row 6", SL_ERR_NAN},         {"ep_mpl", "row 1", SL_ERR_NAN},
        {"terminals", "row 4", SL_ERR_FORMAT},      {"timeouts", "row 3", SL_ERR_FORMAT},
        {"episode_ids", "row 0", SL_ERR_FORMAT},    {"episode_ids", "row 4", SL_ERR_FORMAT},
        {"n_episodes", "row 7", SL_ERR_SHAPE},      {"timesteps", "row 2", SL_ERR_FORMAT},
        {"episode_ids", "row 4", SL_ERR_FORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sl_dataset *ds = make_ds();
        if (!ds) { CHECK(0); return; }
        switch (c) {
        case 0: ds->observations[5 * 2 + 1] = NAN; break;
        case 1: ds->next_observations[2 * 2] = INFINITY; break;
        case 2: ds->actions[7] = -INFINITY; break;
        case 3: ds->rewards[1] = NAN; break;
        case 4: sl_dataset_step_col(ds, "energy_wh")[6] = NAN; break;
        case 5: sl_dataset_ep_col(ds, "mpl")[1] = INFINITY; break;
        case 6: ds->terminals[4] = 2; break;
        case 7: ds->timeouts[3] = 7; break;
        case 8: for (int i = 0; i < 8; i++) ds->episode_ids[i] += 1; ds->n_episodes = 4; break;
        case 9: for (int i = 4; i < 8; i++) ds->episode_ids[i] = 3; ds->n_episodes = 4; break;
        case 10: ds->n_episodes = 5; break;
        case 11: ds->timesteps[2] = -1; break;
        case 12: ds->episode_ids[3] = 0; break; /* then row 4 jumps from 0 to 2 */
        }
        sl_status st = sl_dataset_validate(ds, "file.npz");
        CHECK_MSG(st == cases[c].want, "case %zu: got %s want %s (%s)", c, sl_strerror(st),
                  sl_strerror(cases[c].want), sl_last_error());
        const char *m = sl_last_error();
        CHECK_MSG(strstr(m, "file.npz") && strstr(m, cases[c].array) && strstr(m, cases[c].row),
                  "case %zu: message '%s' lacks file/%s/%s", c, m, cases[c].array, cases[c].row);
        sl_dataset_free(ds);
    }
    /* a missing array */
    sl_dataset *ds = make_ds();
    if (ds) {
        free(ds->rewards);
        ds->rewards = NULL;
        CHECK_STATUS(sl_dataset_validate(ds, "x"), SL_ERR_SHAPE);
        CHECK(strstr(sl_last_error(), "rewards") != NULL);
        sl_dataset_free(ds);
    }
    CHECK_STATUS(sl_dataset_validate(NULL, "x"), SL_ERR_ARG);
    /* an empty dataset is valid */
    sl_dataset *e = NULL;
    CHECK_OK(sl_dataset_alloc(&e, 0, 2, 2));
    CHECK_OK(sl_dataset_validate(e, "empty"));
    sl_dataset_free(e);
}

TEST(select_episodes) {
    sl_dataset *ds = make_ds();
    if (!ds) { CHECK(0); return; }
    size_t pick[2] = {2, 0};
    sl_dataset *o = NULL;
    CHECK_OK(sl_dataset_select_episodes(&o, ds, pick, 2));
    if (o) {
        CHECK(o->n == 7 && o->n_episodes == 2);
        CHECK_OK(sl_dataset_validate(o, "selected"));
        /* first four rows are old episode 2 (rows 4..7), renumbered 0 */
        for (int r = 0; r < 4; r++) {
            CHECK(o->episode_ids[r] == 0);
            CHECK(o->observations[r * 2] == (float)(4 + r));
            CHECK(o->observations[r * 2 + 1] == 20.0f);
            CHECK(o->actions[r] == -(float)(4 + r));
            CHECK(o->timesteps[r] == r);
            CHECK(sl_dataset_step_col(o, "energy_wh")[r] == 0.01f * (float)(4 + r));
        }
        for (int r = 4; r < 7; r++) {
            CHECK(o->episode_ids[r] == 1);
            CHECK(o->observations[r * 2] == (float)(r - 4));
            CHECK(o->next_observations[r * 2] == (float)(r - 4) + 1.0f);
            CHECK(o->rewards[r] == 0.5f * (float)(r - 4));
        }
        CHECK(o->timeouts[3] == 1 && o->timeouts[6] == 1 && o->timeouts[0] == 0);
        CHECK(sl_dataset_ep_col(o, "mpl")[0] == 102.0);
        CHECK(sl_dataset_ep_col(o, "mpl")[1] == 100.0);
    }
    sl_dataset_free(o);
    size_t bad = 3;
    o = NULL;
    CHECK_STATUS(sl_dataset_select_episodes(&o, ds, &bad, 1), SL_ERR_RANGE);
    CHECK(o == NULL);
    CHECK_STATUS(sl_dataset_select_episodes(&o, ds, pick, 0), SL_ERR_ARG);
    sl_dataset_free(ds);
}

int main(void) {
    RUN(alloc_and_columns);
    RUN(episode_range);
    RUN(validate_each_invariant);
    RUN(select_episodes);
    return harness_done();
}
