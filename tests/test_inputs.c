/* SPDX-License-Identifier: Apache-2.0 */
/* test_inputs.c - input and output paths that are not ordinary files (issue 12, "Inputs"),
 * for every reader of input files (datasets, imports, checkpoints, hashes, MJCF models).
 *
 * Each case failed before the fix: /dev/zero was read until memory ran out and a FIFO blocked
 * `info`/`import` forever (an alarm bounds the test so a hang is a failure, not a stuck run);
 * Minari groups episode_N with N > 1e8 were dropped without a message; an empty .npz (np.savez
 * with no arrays, or 0 bytes) was parsed as CSV; `collect -o ''` said "error: : rename failed"
 * after collecting. Reference files come from numpy/h5py (tests/py/inputs_make_files.py).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_import.h"
#include "synthloop/sl_npz.h"
#include "synthloop/sl_safetensors.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static const char *bin(void) {
    static char b[1024];
    const char *e = getenv("SL_BIN");
    if (e && *e) return e;
    snprintf(b, sizeof b, "%s/build/synthloop", root());
    return b;
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
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/inputs_make_files.py %s", SL_PYTHON, root(),
             harness_tmpdir());
    files_made = system(cmd) == 0 ? 1 : -1;
    CHECK_MSG(files_made == 1, "inputs_make_files.py failed");
}

/* Run the CLI with args (bounded by `timeout 30`); stderr into errfile. Exit code, or -1. */
static int run(const char *args, const char *errfile) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && timeout 30 %s %s > %s.out 2> %s < /dev/null",
             harness_tmpdir(), bin(), args, errfile, errfile);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path) {
    char *b = NULL;
    size_t n;
    if (sl_read_file(path, &b, &n) != SL_OK) return NULL;
    return b;
}

static void expect(sl_status got, sl_status want, const char *what, const char *needle) {
    CHECK_MSG(got == want, "%s: got %s, wanted %s (%s)", what, sl_strerror(got),
              sl_strerror(want), sl_last_error());
    if (needle)
        CHECK_MSG(strstr(sl_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
                  sl_last_error(), needle);
}

/* --- devices, FIFOs, directories, size limit ------------------------------- */

TEST(devices_fifos_and_directories_are_refused) {
    const char *fifo = tmp_path("fifo.csv");
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(60); /* a blocking open or an endless read ends the test as a failure */
    char *buf = NULL;
    size_t n = 0;
    sl_dataset *ds = NULL;
    expect(sl_read_file("/dev/zero", &buf, &n), SL_ERR_IO, "read /dev/zero", "character device");
    CHECK(buf == NULL);
    expect(sl_import_file(&ds, "/dev/zero", NULL, NULL), SL_ERR_IO, "import /dev/zero",
           "/dev/zero");
    sl_import_format f;
    expect(sl_import_detect("/dev/zero", &f), SL_ERR_IO, "detect /dev/zero", "character device");
    expect(sl_dataset_load_npz(&ds, "/dev/zero"), SL_ERR_IO, "npz /dev/zero", "/dev/zero");
    expect(sl_read_file(fifo, &buf, &n), SL_ERR_IO, "read fifo", "FIFO");
    expect(sl_import_file(&ds, fifo, NULL, NULL), SL_ERR_IO, "import fifo", "FIFO");
    sl_import_options o;
    sl_import_options_default(&o);
    const sl_import_format fmts[] = {SL_IMPORT_NPZ, SL_IMPORT_D4RL, SL_IMPORT_MINARI,
                                     SL_IMPORT_CSV};
    for (int i = 0; i < 4; i++) {
        o.format = fmts[i];
        expect(sl_import_file(&ds, fifo, &o, NULL), SL_ERR_IO, sl_import_format_name(fmts[i]),
               "FIFO");
    }
    expect(sl_import_d4rl(&ds, fifo, NULL, NULL), SL_ERR_IO, "d4rl fifo", "FIFO");
    expect(sl_import_minari(&ds, fifo, NULL, NULL), SL_ERR_IO, "minari fifo", "FIFO");
    expect(sl_dataset_load_npz(&ds, fifo), SL_ERR_IO, "npz fifo", "FIFO");
    /* the other readers of input files: checkpoints, hashes, MJCF models */
    sl_safetensors *st = NULL;
    expect(sl_safetensors_read(&st, fifo), SL_ERR_IO, "safetensors fifo", "FIFO");
    CHECK(st == NULL);
    char hex[65];
    expect(sl_sha256_file(fifo, hex), SL_ERR_IO, "sha256 fifo", "FIFO");
    expect(sl_sha256_file("/dev/zero", hex), SL_ERR_IO, "sha256 /dev/zero", "character device");
    sl_env *env = NULL;
    sl_mjcf_task task = sl_mjcf_task_default();
    task.site = "tip";
    expect(sl_env_mjcf_new(&env, fifo, &task), SL_ERR_IO, "mjcf fifo", "FIFO");
    CHECK(env == NULL);
    expect(sl_import_file(&ds, harness_tmpdir(), NULL, NULL), SL_ERR_IO, "import dir",
           "a directory");
    expect(sl_import_file(&ds, tmp_path("absent.csv"), NULL, NULL), SL_ERR_IO, "absent",
           "absent.csv");
    CHECK(ds == NULL);
    alarm(0);
}

TEST(read_size_limit) {
    const char *p = tmp_path("hundred.txt");
    char data[100];
    memset(data, 'x', sizeof data);
    CHECK_OK(sl_write_file_atomic(p, data, sizeof data));
    char *buf = NULL;
    size_t n = 0;
    expect(sl_read_file_limit(p, 99, &buf, &n), SL_ERR_RANGE, "limit 99", "99");
    CHECK(buf == NULL);
    CHECK_OK(sl_read_file_limit(p, 100, &buf, &n));
    CHECK(n == 100 && buf && buf[100] == 0 && memcmp(buf, data, 100) == 0);
    free(buf);
    buf = NULL;
    /* /proc files are regular with a stated size of 0: read to EOF, still bounded */
    CHECK_OK(sl_read_file("/proc/self/status", &buf, &n));
    CHECK(n > 0 && buf && strstr(buf, "Name:") != NULL);
    free(buf);
    buf = NULL;
    expect(sl_read_file_limit("/proc/self/status", 10, &buf, &n), SL_ERR_RANGE, "proc limit",
           "limit");
    uint64_t sz = 0;
    CHECK_OK(sl_file_check_input(p, 100, &sz));
    CHECK(sz == 100);
    expect(sl_file_check_input("", 100, &sz), SL_ERR_ARG, "empty input", "empty");
}

TEST(cli_info_and_import_refuse_devices_and_fifos) {
    const char *err = tmp_path("cli_err.txt");
    const char *fifo = tmp_path("fifo2.npz");
    CHECK(mkfifo(fifo, 0600) == 0);
    char args[2048];
    const char *cases[][2] = {{"info /dev/zero", "character device"},
                              {"import /dev/zero -o out.npz", "character device"},
                              {NULL, "FIFO"},
                              {NULL, "FIFO"}};
    for (int i = 0; i < 4; i++) {
        if (i == 2) snprintf(args, sizeof args, "info %s", fifo);
        else if (i == 3) snprintf(args, sizeof args, "import %s -o out.npz", fifo);
        else snprintf(args, sizeof args, "%s", cases[i][0]);
        int rc = run(args, err);
        char *e = slurp(err);
        CHECK_MSG(rc == 1, "'%s': exit %d (124 = timed out), stderr '%s'", args, rc, e ? e : "");
        CHECK_MSG(e && strstr(e, "synthloop: error: ") && strstr(e, cases[i][1]),
                  "'%s': stderr '%s'", args, e ? e : "");
        free(e);
    }
    CHECK(access(tmp_path("out.npz"), F_OK) != 0);
}

/* --- Minari episode numbers ----------------------------------------------- */

static void cmp_f32(sl_npz *z, const char *key, const float *data, size_t count) {
    const sl_array *a = NULL;
    CHECK_MSG(sl_npz_get(z, key, &a) == SL_OK, "reference lacks %s", key);
    if (!a || !data) return;
    CHECK_MSG(a->count == count, "%s: %zu values vs %zu", key, a->count, count);
    if (a->count == count) CHECK_MSG(memcmp(a->data, data, count * 4) == 0, "%s differs", key);
}

TEST(minari_large_episode_numbers) {
    make_files();
    if (files_made != 1) return;
    sl_dataset *ds = NULL;
    sl_import_report rep;
    CHECK_OK(sl_import_file(&ds, tmp_path("minari_big.h5"), NULL, &rep));
    if (!ds) return;
    CHECK(rep.format == SL_IMPORT_MINARI);
    CHECK_MSG(ds->n_episodes == 3 && ds->n == 12, "episodes %zu rows %zu (wanted 3, 12)",
              ds->n_episodes, ds->n);
    sl_npz *z = NULL;
    CHECK_OK(sl_npz_open(&z, tmp_path("minari_big_ref.npz")));
    if (z && ds->n == 12) {
        size_t n = ds->n;
        cmp_f32(z, "observations", ds->observations, n * 2);
        cmp_f32(z, "next_observations", ds->next_observations, n * 2);
        cmp_f32(z, "actions", ds->actions, n);
        cmp_f32(z, "rewards", ds->rewards, n);
        const sl_array *a = NULL;
        if (sl_npz_get(z, "episode_ids", &a) == SL_OK && a->count == n)
            CHECK(memcmp(a->data, ds->episode_ids, n * 4) == 0);
    }
    sl_npz_close(z);
    sl_dataset_free(ds);
    ds = NULL;
    const char *huge = tmp_path("minari_huge.h5");
    expect(sl_import_file(&ds, huge, NULL, NULL), SL_ERR_FORMAT, "huge episode number",
           "episode_1234567890123456789012");
    CHECK(ds == NULL);
    sl_import_format f = SL_IMPORT_AUTO;
    expect(sl_import_detect(huge, &f), SL_ERR_FORMAT, "detect huge", huge);
}

/* --- empty and mislabelled NPZ --------------------------------------------- */

TEST(empty_npz_is_not_csv) {
    make_files();
    if (files_made != 1) return;
    sl_dataset *ds = NULL;
    sl_import_format f = SL_IMPORT_AUTO;
    const char *empty = tmp_path("empty.npz");
    CHECK_OK(sl_import_detect(empty, &f));
    CHECK_MSG(f == SL_IMPORT_NPZ, "empty zip detected as %s", sl_import_format_name(f));
    sl_status s = sl_import_file(&ds, empty, NULL, NULL);
    CHECK_MSG(s != SL_OK && strstr(sl_last_error(), empty) && !strstr(sl_last_error(), "line"),
              "empty.npz: %s: %s", sl_strerror(s), sl_last_error());
    expect(sl_import_file(&ds, tmp_path("zero.npz"), NULL, NULL), SL_ERR_FORMAT, "zero.npz",
           "empty file");
    expect(sl_import_file(&ds, tmp_path("zero.csv"), NULL, NULL), SL_ERR_FORMAT, "zero.csv",
           "empty file");
    expect(sl_import_file(&ds, tmp_path("text.npz"), NULL, NULL), SL_ERR_FORMAT, "text.npz",
           "not a zip");
    CHECK(ds == NULL);
    /* an explicit --format csv still reads CSV text whatever the name */
    sl_import_options o;
    sl_import_options_default(&o);
    o.format = SL_IMPORT_CSV;
    CHECK_OK(sl_import_file(&ds, tmp_path("text.npz"), &o, NULL));
    CHECK(ds && ds->n == 1);
    sl_dataset_free(ds);
}

/* --- output paths ------------------------------------------------------------ */

static int tmp_files_in(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q '\\.tmp\\.'", dir);
    return system(cmd) == 0;
}

TEST(bad_output_paths_fail_before_writing) {
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_alloc(&ds, 2, 1, 1));
    if (!ds) return;
    ds->n_episodes = 1;
    ds->timesteps[1] = 1;
    ds->timeouts[1] = 1;
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(harness_tmpdir()) == 0);
    expect(sl_dataset_save_npz(ds, ""), SL_ERR_ARG, "save ''", "output path is empty");
    expect(sl_write_file_atomic("", "x", 1), SL_ERR_ARG, "write ''", "output path is empty");
    sl_atomic_file af;
    expect(sl_atomic_open(&af, ""), SL_ERR_ARG, "atomic ''", "output path is empty");
    expect(sl_dataset_save_npz(ds, harness_tmpdir()), SL_ERR_IO, "save dir", "a directory");
    expect(sl_dataset_save_npz(ds, tmp_path("sub/")), SL_ERR_ARG, "save dir/", "directory");
    expect(sl_dataset_save_npz(ds, tmp_path("no_such_dir/x.npz")), SL_ERR_IO, "save missing dir",
           "no_such_dir");
    expect(sl_write_file_atomic("/dev/null", "x", 1), SL_ERR_IO, "write /dev/null",
           "character device");
    CHECK_MSG(!tmp_files_in(harness_tmpdir()), "a temporary file was left");
    CHECK_OK(sl_dataset_save_npz(ds, "ok.npz"));
    CHECK(chdir(cwd) == 0);
    sl_dataset_free(ds);
}

TEST(cli_collect_empty_output) {
    const char *err = tmp_path("collect_err.txt");
    double t0 = sl_now();
    int rc = run("collect -o '' -n 2 --quiet", err);
    double dt = sl_now() - t0;
    char *e = slurp(err);
    CHECK_MSG(rc == 1, "exit %d, stderr '%s'", rc, e ? e : "");
    CHECK_MSG(e && strstr(e, "synthloop: error: output path is empty"), "stderr '%s'",
              e ? e : "");
    CHECK_MSG(e && !strstr(e, "rename"), "stderr '%s'", e ? e : "");
    CHECK_MSG(dt < 20, "took %.1f s", dt);
    free(e);
    CHECK_MSG(!tmp_files_in(harness_tmpdir()), "a temporary file was left");
}

int main(void) {
    sl_log_set_level(SL_LOG_WARN);
    RUN(devices_fifos_and_directories_are_refused);
    RUN(read_size_limit);
    RUN(cli_info_and_import_refuse_devices_and_fifos);
    RUN(minari_large_episode_numbers);
    RUN(empty_npz_is_not_csv);
    RUN(bad_output_paths_fail_before_writing);
    RUN(cli_collect_empty_output);
    return harness_done();
}
