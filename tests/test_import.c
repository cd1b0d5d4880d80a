/* SPDX-License-Identifier: Apache-2.0 */
/* test_import.c - D4RL / Minari HDF5 files written by h5py and a CSV file, imported and compared
 * exactly with arrays numpy computed independently (tests/py/imp_make_files.py); bad inputs give
 * errors naming the file and the place; the CLI leaves the output untouched on failure.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "synthloop/sl_import.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_npz.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static const char *tmp_path(const char *name) {
    static char buf[8][1024];
    static int k = 0;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", harness_tmpdir(), name);
    return p;
}

static int files_made = 0;
static void make_files(void) {
    if (files_made) return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/imp_make_files.py %s > /dev/null", SL_PYTHON,
             root(), harness_tmpdir());
    files_made = system(cmd) == 0 ? 1 : -1;
}

/* Compare one reference array with a dataset buffer, byte for byte. */
static void cmp_array(sl_npz *z, const char *key, const void *data, size_t count, size_t esz,
                      const char *what) {
    const sl_array *a = NULL;
    sl_status s = sl_npz_get(z, key, &a);
    CHECK_MSG(s == SL_OK, "%s: reference has no '%s'", what, key);
    if (s != SL_OK) return;
    CHECK_MSG(a->count == count, "%s: '%s' has %zu values, dataset %zu", what, key, a->count,
              count);
    CHECK_MSG(sl_dtype_size(a->dtype) == esz, "%s: '%s' element size", what, key);
    if (a->count != count || sl_dtype_size(a->dtype) != esz || !data) return;
    size_t bad = count;
    for (size_t i = 0; i < count && bad == count; i++)
        if (memcmp((const char *)a->data + i * esz, (const char *)data + i * esz, esz) != 0) bad = i;
    CHECK_MSG(bad == count, "%s: '%s' differs first at flat index %zu", what, key, bad);
}

/* The dataset must equal the reference NPZ exactly (all keys the reference holds). */
static void compare_ref(const sl_dataset *ds, const char *ref_name) {
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, tmp_path(ref_name)));
    if (!z || !ds) {
        sl_npz_close(z);
        return;
    }
    size_t n = ds->n, od = (size_t)ds->obs_dim, ad = (size_t)ds->act_dim;
    cmp_array(z, "observations", ds->observations, n * od, 4, ref_name);
    cmp_array(z, "next_observations", ds->next_observations, n * od, 4, ref_name);
    cmp_array(z, "actions", ds->actions, n * ad, 4, ref_name);
    cmp_array(z, "rewards", ds->rewards, n, 4, ref_name);
    cmp_array(z, "terminals", ds->terminals, n, 1, ref_name);
    cmp_array(z, "timeouts", ds->timeouts, n, 1, ref_name);
    cmp_array(z, "episode_ids", ds->episode_ids, n, 4, ref_name);
    cmp_array(z, "timesteps", ds->timesteps, n, 4, ref_name);
    const sl_array *o = NULL;
    if (sl_npz_get(z, "observations", &o) == SL_OK)
        CHECK(o->ndim == 2 && o->shape[1] == od);
    for (size_t i = 0; i < sl_npz_count(z); i++) {
        const char *nm = sl_npz_name(z, i);
        if (strncmp(nm, "ep_", 3) == 0) {
            const double *c = sl_dataset_ep_col(ds, nm + 3);
            CHECK_MSG(c != NULL, "%s: no episode column '%s'", ref_name, nm);
            cmp_array(z, nm, c, ds->n_episodes, 8, ref_name);
        } else if (strcmp(nm, "grip") == 0) {
            const float *c = sl_dataset_step_col(ds, nm);
            CHECK_MSG(c != NULL, "%s: no step column '%s'", ref_name, nm);
            cmp_array(z, nm, c, n, 4, ref_name);
        }
    }
    sl_npz_close(z);
}

/* --- good files ---------------------------------------------------------- */

TEST(d4rl_exact) {
    make_files();
    CHECK(files_made == 1);
    sl_import_format f = SL_IMPORT_AUTO;
    CHECK_OK(sl_import_detect(tmp_path("d4rl.h5"), &f));
    CHECK(f == SL_IMPORT_D4RL);
    sl_dataset *ds = NULL;
    sl_import_report rep;
    CHECK_OK(sl_import_file(&ds, tmp_path("d4rl.h5"), NULL, &rep));
    if (!ds) return;
    CHECK(ds->n == 57 && ds->obs_dim == 5 && ds->act_dim == 3 && ds->n_episodes == 5);
    CHECK(rep.format == SL_IMPORT_D4RL && rep.next_obs_from_file && rep.next_obs_repeated == 0);
    CHECK(ds->n_step_cols == 0 && ds->n_ep_cols == 0); /* infos/ ignored */
    compare_ref(ds, "d4rl_ref.npz");
    sl_dataset_free(ds);

    CHECK_OK(sl_import_d4rl(&ds, tmp_path("d4rl_min.h5"), NULL, &rep));
    if (!ds) return;
    CHECK(ds->n == 23 && ds->obs_dim == 2 && ds->act_dim == 1 && ds->n_episodes == 3);
    CHECK(!rep.next_obs_from_file && rep.next_obs_repeated == 3);
    compare_ref(ds, "d4rl_min_ref.npz");
    sl_dataset_free(ds);
}

TEST(minari_exact) {
    make_files();
    sl_import_format f = SL_IMPORT_AUTO;
    CHECK_OK(sl_import_detect(tmp_path("minari.h5"), &f));
    CHECK(f == SL_IMPORT_MINARI);
    sl_dataset *ds = NULL;
    sl_import_report rep;
    CHECK_OK(sl_import_file(&ds, tmp_path("minari.h5"), NULL, &rep));
    if (!ds) return;
    CHECK(ds->n == 62 && ds->obs_dim == 3 && ds->act_dim == 1 && ds->n_episodes == 12);
    CHECK(rep.format == SL_IMPORT_MINARI && rep.episodes_in_file == 12 && rep.rows_in_file == 62);
    compare_ref(ds, "minari_ref.npz");
    sl_dataset_free(ds);
}

TEST(csv_exact) {
    make_files();
    sl_import_format f = SL_IMPORT_AUTO;
    CHECK_OK(sl_import_detect(tmp_path("data.csv"), &f));
    CHECK(f == SL_IMPORT_CSV);
    sl_dataset *ds = NULL;
    sl_import_report rep;
    CHECK_OK(sl_import_file(&ds, tmp_path("data.csv"), NULL, &rep));
    if (!ds) return;
    CHECK(ds->n == 17 && ds->obs_dim == 3 && ds->act_dim == 2 && ds->n_episodes == 3);
    CHECK(ds->n_step_cols == 1 && ds->n_ep_cols == 1);
    compare_ref(ds, "csv_ref.npz");
    sl_dataset_free(ds);
}

TEST(max_episodes) {
    make_files();
    sl_import_options o;
    sl_import_options_default(&o);
    o.max_episodes = 5;
    sl_dataset *ds = NULL;
    sl_import_report rep;
    CHECK_OK(sl_import_file(&ds, tmp_path("minari.h5"), &o, &rep));
    if (ds) {
        CHECK(ds->n == 5 + 7 + 3 + 8 + 4 && ds->n_episodes == 5);
        CHECK(rep.episodes == 5 && rep.episodes_in_file == 12 && rep.rows_in_file == 62);
    }
    sl_dataset_free(ds);
    o.max_episodes = 2;
    CHECK_OK(sl_import_file(&ds, tmp_path("d4rl.h5"), &o, &rep));
    if (ds) CHECK(ds->n == 20 && ds->n_episodes == 2 && rep.rows_in_file == 57);
    sl_dataset_free(ds);
    o.max_episodes = 1;
    CHECK_OK(sl_import_file(&ds, tmp_path("data.csv"), &o, &rep));
    if (ds) CHECK(ds->n == 6 && ds->n_episodes == 1 && sl_dataset_ep_col(ds, "mass")[0] == 0.25);
    sl_dataset_free(ds);
    o.max_episodes = 100; /* more than present: all */
    CHECK_OK(sl_import_file(&ds, tmp_path("data.csv"), &o, &rep));
    if (ds) CHECK(ds->n == 17 && ds->n_episodes == 3);
    sl_dataset_free(ds);
}

TEST(csv_custom_convention) {
    const char *txt = "s1;s0;a0;r;done\n1;2;3;4;0\n5;6;7;8;1\n9;10;11;12;0\n";
    sl_import_options o;
    sl_import_options_default(&o);
    o.obs_prefix = "s";
    o.act_prefix = "a";
    o.reward_col = "r";
    o.terminal_col = "done";
    o.delimiter = ';';
    sl_dataset *ds = NULL;
    CHECK_OK(sl_import_csv_buffer(&ds, txt, strlen(txt), "mem.csv", &o, NULL));
    if (!ds) return;
    CHECK(ds->n == 3 && ds->obs_dim == 2 && ds->act_dim == 1 && ds->n_episodes == 2);
    CHECK(ds->observations[0] == 2 && ds->observations[1] == 1 && ds->observations[4] == 10);
    CHECK(ds->next_observations[0] == 6 && ds->next_observations[2] == 6); /* row 1 ends ep 0 */
    CHECK(ds->rewards[2] == 12 && ds->terminals[1] == 1 && ds->episode_ids[2] == 1);
    sl_dataset_free(ds);
    /* no trailing newline, next_obs columns given */
    const char *t2 = "obs_0,next_obs_0,act_0,reward\n1,2,3,4\n2,7,5,6";
    CHECK_OK(sl_import_csv_buffer(&ds, t2, strlen(t2), "mem2.csv", NULL, NULL));
    if (ds) CHECK(ds->n == 2 && ds->next_observations[0] == 2 && ds->next_observations[1] == 7);
    sl_dataset_free(ds);
}

/* --- bad input ----------------------------------------------------------- */

static void expect_error(sl_status got, sl_status want, const char *what, const char *const *needles) {
    CHECK_MSG(got == want, "%s: status %s, wanted %s (%s)", what, sl_strerror(got),
              sl_strerror(want), sl_last_error());
    for (; *needles; needles++)
        CHECK_MSG(strstr(sl_last_error(), *needles) != NULL, "%s: message '%s' lacks '%s'", what,
                  sl_last_error(), *needles);
}

TEST(hdf5_errors) {
    make_files();
    sl_dataset *ds = NULL;
    const char *p = tmp_path("bad_d4rl_missing.h5");
    expect_error(sl_import_file(&ds, p, NULL, NULL), SL_ERR_NOTFOUND, "missing",
                 (const char *const[]){p, "'rewards'", NULL});
    CHECK(ds == NULL);
    p = tmp_path("bad_d4rl_nan.h5");
    expect_error(sl_import_file(&ds, p, NULL, NULL), SL_ERR_NAN, "nan",
                 (const char *const[]){p, "'observations'", "row 7", "column 2", NULL});
    p = tmp_path("bad_minari_inf.h5");
    expect_error(sl_import_file(&ds, p, NULL, NULL), SL_ERR_NAN, "inf",
                 (const char *const[]){p, "episode_3/observations", "row 2", "column 1", NULL});
    p = tmp_path("bad_minari_shape.h5");
    expect_error(sl_import_file(&ds, p, NULL, NULL), SL_ERR_SHAPE, "shape",
                 (const char *const[]){p, "episode_1/observations", NULL});
    /* a Minari file read as D4RL, and a CSV read as HDF5 */
    p = tmp_path("minari.h5");
    sl_import_options o;
    sl_import_options_default(&o);
    o.format = SL_IMPORT_D4RL;
    expect_error(sl_import_file(&ds, p, &o, NULL), SL_ERR_NOTFOUND, "layout",
                 (const char *const[]){p, "'observations'", NULL});
    p = tmp_path("data.csv");
    expect_error(sl_import_file(&ds, p, &o, NULL), SL_ERR_IO, "not hdf5",
                 (const char *const[]){p, "HDF5", NULL});
    CHECK(ds == NULL);
}

static void csv_err(const char *txt, sl_status want, const char *const *needles) {
    sl_dataset *ds = NULL;
    expect_error(sl_import_csv_buffer(&ds, txt, strlen(txt), "bad.csv", NULL, NULL), want, txt,
                 needles);
    CHECK(ds == NULL);
    sl_dataset_free(ds);
}

TEST(csv_errors) {
    csv_err("obs_0,act_0,reward\n1,2,3\n4,5\n", SL_ERR_FORMAT,
            (const char *const[]){"bad.csv", "line 3", "2 cells", "3 columns", NULL});
    csv_err("obs_0,act_0,reward\n1,2,3\n4,5,6,7\n", SL_ERR_FORMAT,
            (const char *const[]){"bad.csv", "line 3", "4 cells", NULL});
    csv_err("obs_0,act_0,reward\n1,abc,3\n", SL_ERR_FORMAT,
            (const char *const[]){"bad.csv", "line 2, column 2 ('act_0')", "'abc'", NULL});
    csv_err("obs_0,act_0,reward\n1,2,3\n\n1e400,2,3\n", SL_ERR_RANGE,
            (const char *const[]){"bad.csv", "line 4, column 1 ('obs_0')", "out of range", NULL});
    csv_err("obs_0,act_0,reward\n1,2,3\nnan,2,3\n", SL_ERR_NAN,
            (const char *const[]){"bad.csv", "line 3, column 1 ('obs_0')", "not finite", NULL});
    csv_err("act_0,obs_0,reward\n1,-inf,3\n", SL_ERR_NAN,
            (const char *const[]){"bad.csv", "line 2, column 2 ('obs_0')", NULL});
    csv_err("obs_0,act_0,reward\n1,,3\n", SL_ERR_FORMAT,
            (const char *const[]){"line 2, column 2", "empty cell", NULL});
    csv_err("obs_0,act_0,reward,terminal\n1,2,3,2\n", SL_ERR_FORMAT,
            (const char *const[]){"line 2, column 4 ('terminal')", NULL});
    csv_err("obs_0,obs_2,act_0,reward\n1,2,3,4\n", SL_ERR_FORMAT,
            (const char *const[]){"'obs_1' is missing", NULL});
    csv_err("obs_0,act_0,reward,obs_0\n1,2,3,4\n", SL_ERR_FORMAT,
            (const char *const[]){"column 4", "duplicate column 'obs_0'", NULL});
    csv_err("obs_0,act_0\n1,2\n", SL_ERR_FORMAT, (const char *const[]){"no 'reward' column", NULL});
    csv_err("obs_0,act_0,reward\n", SL_ERR_FORMAT, (const char *const[]){"no data rows", NULL});
    csv_err("", SL_ERR_FORMAT, (const char *const[]){"bad.csv", "empty", NULL});
    csv_err("obs_0,act_0,reward,episode_id\n1,2,3,7\n1,2,3,8\n1,2,3,7\n", SL_ERR_FORMAT,
            (const char *const[]){"line 4", "episode id 7", "contiguous", NULL});
    csv_err("obs_0,act_0,reward,episode_id,ep_mass\n1,2,3,7,1\n1,2,3,7,2\n", SL_ERR_FORMAT,
            (const char *const[]){"line 3", "'ep_mass'", NULL});
    csv_err("obs_0,act_0,reward,episode_id\n1,2,3,1.5\n", SL_ERR_FORMAT,
            (const char *const[]){"line 2, column 4 ('episode_id')", "integer", NULL});
    csv_err("obs_x,act_0,reward\n1,2,3\n", SL_ERR_FORMAT,
            (const char *const[]){"line 1, column 1 ('obs_x')", NULL});
    csv_err("obs_0,act 0,reward\n1,2,3\n", SL_ERR_FORMAT,
            (const char *const[]){"line 1, column 2", NULL});
}

/* --- summary ------------------------------------------------------------- */

TEST(summary) {
    const char *txt = "obs_0,act_0,reward,timeout,ep_mpl\n0,0,1,0,10\n0,0,3,1,10\n0,0,5,0,20\n";
    sl_dataset *ds = NULL;
    CHECK_OK(sl_import_csv_buffer(&ds, txt, strlen(txt), "s.csv", NULL, NULL));
    if (!ds) return;
    cJSON *j = NULL;
    CHECK_OK(sl_import_summary_json(ds, &j));
    if (j) {
        CHECK(sl_json_int(j, "transitions", 0) == 3 && sl_json_int(j, "episodes", 0) == 2);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reward");
        CHECK_CLOSE(sl_json_num(r, "mean", 0), 3.0, 1e-12);
        CHECK_CLOSE(sl_json_num(r, "std", 0), sqrt(8.0 / 3.0), 1e-12);
        const cJSON *ret = cJSON_GetObjectItemCaseSensitive(j, "episode_return");
        CHECK_CLOSE(sl_json_num(ret, "min", 0), 4.0, 1e-12);
        CHECK_CLOSE(sl_json_num(ret, "max", 0), 5.0, 1e-12);
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(j, "episode_length");
        CHECK_CLOSE(sl_json_num(len, "mean", 0), 1.5, 1e-12);
        const cJSON *mpl = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "econ"), "mpl");
        CHECK_CLOSE(sl_json_num(mpl, "mean", 0), 15.0, 1e-12);
        CHECK(sl_json_int(j, "timeouts", 0) == 1);
        cJSON_Delete(j);
    }
    sl_dataset_free(ds);
}

/* --- CLI ----------------------------------------------------------------- */

static const char *bin(void) {
    static char b[1024];
    const char *e = getenv("SL_BIN");
    if (e && *e) return e;
    snprintf(b, sizeof b, "%s/build/synthloop", root());
    return b;
}

static int run(const char *args, const char *errfile) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s > %s.out 2> %s", bin(), args, errfile, errfile);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path) {
    char *b = NULL;
    size_t n;
    if (sl_read_file(path, &b, &n) != SL_OK) return NULL;
    return b;
}

TEST(cli_import_info) {
    make_files();
    struct stat st;
    CHECK_MSG(stat(bin(), &st) == 0, "CLI binary %s missing (make build/synthloop)", bin());
    char err[1024], out[1024];
    snprintf(err, sizeof err, "%s", tmp_path("err.txt"));
    snprintf(out, sizeof out, "%s", tmp_path("out.npz"));
    /* failures leave an existing output untouched */
    const char *sentinel = "do not touch";
    const char *bad[] = {"bad_d4rl_missing.h5", "bad_d4rl_nan.h5", "bad_minari_inf.h5",
                         "bad.csv", "ragged.csv"};
    sl_write_file_atomic(tmp_path("bad.csv"), "obs_0,act_0,reward\n1,x,3\n", 25);
    sl_write_file_atomic(tmp_path("ragged.csv"), "obs_0,act_0,reward\n1,2\n", 23);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(sl_write_file_atomic(out, sentinel, strlen(sentinel)));
        char args[2048];
        snprintf(args, sizeof args, "import %s --output %s", tmp_path(bad[i]), out);
        int rc = run(args, err);
        CHECK_MSG(rc == 1, "%s: exit %d", bad[i], rc);
        char *e = slurp(err), *o = slurp(out);
        CHECK_MSG(e && strstr(e, "synthloop: error: ") && strstr(e, bad[i]),
                  "%s: stderr '%s'", bad[i], e ? e : "");
        CHECK_MSG(o && strcmp(o, sentinel) == 0, "%s: output changed", bad[i]);
        free(e);
        free(o);
    }
    /* success: the NPZ loads back equal to the reference */
    char args[2048];
    snprintf(args, sizeof args, "import %s -o %s --quiet", tmp_path("minari.h5"), out);
    CHECK(run(args, err) == 0);
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_load_npz(&ds, out));
    if (ds) compare_ref(ds, "minari_ref.npz");
    sl_dataset_free(ds);
    /* CSV with its extra columns survives the NPZ round trip */
    snprintf(args, sizeof args, "import %s -o %s --format csv --quiet", tmp_path("data.csv"), out);
    CHECK(run(args, err) == 0);
    ds = NULL;
    CHECK_OK(sl_dataset_load_npz(&ds, out));
    if (ds) compare_ref(ds, "csv_ref.npz");
    sl_dataset_free(ds);
    /* info --json on the NPZ and on the HDF5 file */
    const char *files[] = {out, tmp_path("d4rl.h5")};
    int want_n[] = {17, 57};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "info %s --json", files[i]);
        CHECK(run(args, err) == 0);
        char outf[1100];
        snprintf(outf, sizeof outf, "%s.out", err);
        cJSON *j = NULL;
        CHECK_OK(sl_json_read_file(outf, &j));
        if (j) {
            CHECK(sl_json_int(j, "transitions", 0) == want_n[i]);
            CHECK(cJSON_GetObjectItemCaseSensitive(j, "provenance") != NULL);
            CHECK(cJSON_GetObjectItemCaseSensitive(j, "config") != NULL);
        }
        cJSON_Delete(j);
    }
    snprintf(args, sizeof args, "info %s", tmp_path("data.csv"));
    CHECK(run(args, err) == 0);
    snprintf(args, sizeof args, "import %s", tmp_path("data.csv"));
    CHECK(run(args, err) == 2); /* no --output: usage error */
    CHECK(run("import --help", err) == 0);
    CHECK(run("info --help", err) == 0);
}

int main(void) {
    RUN(d4rl_exact);
    RUN(minari_exact);
    RUN(csv_exact);
    RUN(max_episodes);
    RUN(csv_custom_convention);
    RUN(hdf5_errors);
    RUN(csv_errors);
    RUN(summary);
    RUN(cli_import_info);
    return harness_done();
}
