/* SPDX-License-Identifier: Apache-2.0 */
/* test_cli_registry.c - the data commands (collect, encode, import, bricks, trust train/score)
 * record into the run registry through the real binary: one run per invocation with the right
 * command name, config, seed and status; dataset/model/artifact rows whose sha256 matches the
 * files; metric series, estimates, samples and results; failed invocations recorded as failed
 * with no rows; usage errors and --db none record nothing; a SIGKILLed run is marked failed
 * by the next open. Every check of the registry is done independently by
 * tests/py/cli_reg_check.py (sqlite3 + hashlib + numpy).
 *
 * Invariant: the tests run in order on one registry in a fresh temp dir; `nruns` tracks how
 * many runs the registry must hold after each step.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_registry.h"

static char g_dir[PATH_MAX], g_db[PATH_MAX + 16], g_bin[PATH_MAX + 64], g_check[PATH_MAX + 64];
static int nruns = 0;

static void setup(void) {
    const char *root = getenv("SL_TEST_ROOT");
    if (!root || !*root) root = ".";
    const char *bin = getenv("SL_BIN");
    char tmp[PATH_MAX + 64];
    if (bin && *bin) snprintf(tmp, sizeof tmp, "%s", bin);
    else snprintf(tmp, sizeof tmp, "%s/build/synthloop", root);
    char abs[PATH_MAX];
    snprintf(g_bin, sizeof g_bin, "%s", realpath(tmp, abs) ? abs : tmp);
    snprintf(tmp, sizeof tmp, "%s/tests/py/cli_reg_check.py", root);
    snprintf(g_check, sizeof g_check, "%s", realpath(tmp, abs) ? abs : tmp);
    snprintf(g_dir, sizeof g_dir, "%s", harness_tmpdir());
    snprintf(g_db, sizeof g_db, "%s/reg.db", g_dir);
}

/* Run a shell command inside the temp dir; returns its exit status (-1 if it did not exit). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", g_dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The independent check of run RUN ("last" or an id): 1 when every assertion holds (the
 * checker prints the failed ones otherwise). */
static int reg_check(const char *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reg_check(const char *run, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return sh("%s '%s' '%s' %s nruns=%d %s", SL_PYTHON, g_check, g_db, run, nruns, args) == 0;
}

static int file_exists(const char *name) {
    char p[PATH_MAX + 300];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return stat(p, &st) == 0;
}

#define BIN g_bin
#define DBOPT "--db '%s'"

TEST(test_help_documents_db) {
    struct stat st;
    CHECK_MSG(stat(g_bin, &st) == 0, "CLI binary %s missing (make build/synthloop)", g_bin);
    static const char *cmds[] = {"collect", "encode", "import", "bricks", "trust", "world",
                                 "branches"};
    for (int i = 0; i < 7; i++)
        CHECK_MSG(sh("%s %s --help | grep -q -e '--db PATH|none'", BIN, cmds[i]) == 0,
                  "'%s --help' does not document --db", cmds[i]);
}

TEST(test_collect_records_dataset_and_econ) {
    int rc = sh("%s collect --episodes 6 --seed 5 --output d.npz --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "collect exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=collect status=ok seed=5 config.episodes=6 "
                            "config.policy=mixed config.output=d.npz "
                            "dataset=real:d.npz artifact=dataset.json:d.json "
                            "summary.episodes=6 summary.sidecar=d.json "
                            "metric=collect/episode_return:6 metric=collect/episode_mpl:6 "
                            "estimate=mpl estimate=error_rate estimate=energy_wh estimate=ep "
                            "estimate=wage_parity estimate=units estimate=return "
                            "rows=datasets:1 rows=models:0 rows=artifacts:1"));
}

TEST(test_encode_records_latents_encoder_and_loss) {
    int rc = sh("%s encode --data d.npz --output z.npz --checkpoint enc.safetensors --epochs 3 "
                "--dim 8 --hidden 32 --seed 7 --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "encode exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=encode status=ok seed=7 config.mode=train config.epochs=3 "
                            "config.z_dim=8 config.data=d.npz dataset=latents:z.npz "
                            "model=encoder:enc.safetensors artifact=latents.json:z.json "
                            "metric=encode/infonce_loss:2 "
                            "metric_last=encode/infonce_loss:@z.json:training.loss_last_epoch "
                            "rows=datasets:1 rows=models:1 rows=artifacts:1"));
    /* --apply: latents recorded, the (input) encoder is not a model of this run */
    rc = sh("%s encode --apply --checkpoint enc.safetensors --data d.npz --output z2.npz "
            "--quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "encode --apply exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=encode status=ok config.mode=apply dataset=latents:z2.npz "
                            "artifact=latents.json:z2.json rows=models:0 rows=metrics:0"));
}

TEST(test_trust_train_and_score_record) {
    int rc = sh("%s trust train --latents z.npz --data d.npz --output t.safetensors --steps 50 "
                "--lengths 5,10 --eval-windows 20 --seed 9 --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "trust train exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=trust train' status=ok seed=9 config.steps=50 "
                            "config.latents=z.npz model=trust:t.safetensors "
                            "artifact=trust_report.json:t.json result=trust_report "
                            "metric=trust/train_loss:2 "
                            "metric_last=trust/train_loss:@t.json:report.train_loss_last "
                            "metric=trust/roc_auc:1 metric_last=trust/roc_auc:@t.json:report.roc_auc "
                            "metric=trust/brier:1 metric=trust/ece:1 metric=trust/brier_raw:1 "
                            "metric=trust/ece_raw:1 rows=datasets:0"));
    rc = sh("%s trust score --model t.safetensors --latents z.npz --window 5 --output s.npz "
            "--quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "trust score exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=trust score' status=ok seed=0 config.window=5 "
                            "config.model=t.safetensors artifact=trust_scores.npz:s.npz "
                            "samples_npz=trust:scored:s.npz rows=artifacts:1 rows=models:0"));
}

TEST(test_world_and_branches_record) {
    int rc = sh("%s world train --data d.npz --latents z.npz --output w.safetensors --members 1 "
                "--hidden 16 --iters 20 --eval-every 10 --horizon 10 --seed 3 --quiet " DBOPT,
                BIN, g_db);
    CHECK_MSG(rc == 0, "world train exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=world train' status=ok seed=3 config.output=w.safetensors "
                            "model=world:w.safetensors artifact=world_train.json:w.json "
                            "metric=world/train_loss:1 metric=world/best_val:1 "
                            "metric_last=world/train_loss:@w.json:report.train_loss "
                            "rows=datasets:0 rows=models:1"));
    rc = sh("%s world rollout --data d.npz --latents z.npz --world-model w.safetensors "
            "--output r.npz --horizon 10 --n 16 --seed 4 --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "world rollout exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=world rollout' status=ok seed=4 config.n=16 "
                            "dataset=rollout:r.npz rows=datasets:1 rows=models:0"));
    rc = sh("%s world eval --data d.npz --latents z.npz --world-model w.safetensors "
            "--trust-model t.safetensors --horizons 5,10 --episodes all --output e.json "
            "--quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "world eval exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=world eval' status=ok config.episodes=all "
                            "artifact=world_eval.json:e.json result=world_eval_report "
                            "rows=world_eval:2 rows=datasets:0"));
    rc = sh("%s branches collect --data d.npz --latents z.npz --world-model w.safetensors "
            "--trust-model t.safetensors --horizon 5 --branches-per-episode 2 --bc-iters 20 "
            "--output b.npz --seed 5 --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "branches collect exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "'command=branches collect' status=ok seed=5 config.horizon=5 "
                            "artifact=branches.json:b.json result=branches_summary "
                            "metric=branches/pass_rate:1 "
                            "metric_last=branches/pass_rate:@b.json:pass_rate "
                            "rows=branches:12 rows=datasets:1"));
    /* a failing world command ends its run failed, with no rows */
    rc = sh("%s world eval --data d.npz --latents z.npz --world-model missing.safetensors "
            "--quiet " DBOPT " 2>/dev/null", BIN, g_db);
    CHECK_MSG(rc == 1, "world eval on a missing model: exit %d, expected 1", rc);
    nruns++;
    CHECK(reg_check("last", "'command=world eval' status=failed 'error~missing.safetensors' norows"));
}

/* ladder --threads: documented, validated, applied (the run's config records the thread count
 * in effect, which with the default 0 would be every core) */
TEST(test_ladder_threads_option) {
    static const char *cmds[] = {"train", "ab", "ladder", "demo"};
    for (int i = 0; i < 4; i++)
        CHECK_MSG(sh("%s %s --help | grep -q -e '--threads N .*compute threads (0 = all cores)'",
                     BIN, cmds[i]) == 0,
                  "'%s --help' does not document --threads", cmds[i]);
    CHECK(sh("%s ladder --data d.npz --latents z.npz --encoder enc.safetensors "
             "--world-model w.safetensors --trust-model t.safetensors --threads -1 " DBOPT
             " 2>/dev/null", BIN, g_db) == 2);
    int rc = sh("%s ladder --data d.npz --latents z.npz --encoder enc.safetensors "
                "--world-model w.safetensors --trust-model t.safetensors --levels 1 --seeds 1 "
                "--updates 50 --hidden 16 --eval-episodes 0 --threads 1 --out lad --quiet " DBOPT
                " > /dev/null", BIN, g_db);
    CHECK_MSG(rc == 0, "ladder --threads 1 exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=ladder status=ok config.threads=1 config.max_level=1 "
                            "rows=ladder_levels:1 rows=artifacts:1"));
    CHECK(file_exists("lad/ladder.json") && file_exists("lad/branches_h5.npz"));
}

/* ladder level criteria are on trust (seed 000): trust_pass_rate is the branches' share at the
 * floor; with --level1 real, level 1 compares it with the real data's own 6-state windows,
 * which this test scores independently through `trust score` */
TEST(test_ladder_level1_criterion) {
    CHECK(sh("%s ladder --data d.npz --latents z.npz --encoder enc.safetensors "
             "--world-model w.safetensors --trust-model t.safetensors --level1 most " DBOPT
             " 2>/dev/null", BIN, g_db) == 2);
    int rc = sh("%s ladder --data d.npz --latents z.npz --encoder enc.safetensors "
                "--world-model w.safetensors --trust-model t.safetensors --levels 1 --seeds 1 "
                "--updates 50 --hidden 16 --eval-episodes 0 --threads 1 --out lad3 "
                "--quiet " DBOPT " > /dev/null", BIN, g_db);
    CHECK_MSG(rc == 0, "ladder --level1 real exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=ladder status=ok config.level1=real rows=ladder_levels:1"));
    rc = sh("%s -c \"\n"
            "import json, numpy as np\n"
            "lv = json.load(open('lad3/ladder.json'))['levels'][0]\n"
            "b = np.load('lad3/branches_h5.npz')\n"
            "tp = float((b['trust'] >= 0.95).mean())\n"
            "assert abs(lv['trust_pass_rate'] - tp) < 1e-12, (lv['trust_pass_rate'], tp)\n"
            "assert lv['criterion'] == 'real'\n"
            "z = np.load('z.npz'); d = np.load('d.npz'); ep = d['episode_ids']\n"
            "W = []\n"
            "for e in np.unique(ep):\n"
            "    r = np.where(ep == e)[0]\n"
            "    s = np.concatenate([z['latents'][r], z['next_latents'][r[-1:]]])\n"
            "    W += [s[t:t + 6] for t in range(len(s) - 5)]\n"
            "np.savez('lad3/real6.npz', windows=np.array(W, dtype=np.float32))\n"
            "\" && %s trust score --model t.safetensors --windows lad3/real6.npz --output "
            "lad3/real6s.npz --db none --quiet > /dev/null && %s -c \"\n"
            "import json, numpy as np\n"
            "lv = json.load(open('lad3/ladder.json'))['levels'][0]\n"
            "rs = float((np.load('lad3/real6s.npz')['trust'] >= 0.95).mean())\n"
            "assert abs(lv['real_trust_pass_rate'] - rs) < 1e-12, (lv['real_trust_pass_rate'], rs)\n"
            "m, t = lv['real_windows'], lv['trust_pass_rate']\n"
            "n = len(np.load('lad3/branches_h5.npz')['trust'])\n"
            "assert m == len(np.load('lad3/real6s.npz')['trust'])\n"
            "p = (t * n + rs * m) / (n + m)\n"
            "ok = t >= rs - 1.6448536269514722 * (p * (1 - p) * (1 / n + 1 / m)) ** 0.5\n"
            "assert lv['gates_ok'] == ok, (lv, ok)\n"
            "from scipy.stats import norm\n"
            "p0 = min(rs, 0.999); se = (p0 * (1 - p0) * (1 / n + 1 / m)) ** 0.5\n"
            "pw = norm.cdf(0.05 / se - 1.6448536269514722) if se > 0 else 1.0\n"
            "assert abs(lv['level1_test_power_5pt'] - pw) < 1e-9, (lv['level1_test_power_5pt'], pw)\n"
            "print('  ladder level 1: trust pass %%.3f, real windows %%.3f' %% (lv['trust_pass_rate'], rs))\n"
            "\"", SL_PYTHON, BIN, SL_PYTHON);
    CHECK_MSG(rc == 0, "ladder.json level 1 does not match the branch file / real windows (%d)", rc);
}

/* train, ab and ladder run from a subdirectory with relative paths record absolute ones: the
 * file rows (and the ladder's branch files) name existing files from any working directory,
 * and the config names the inputs by their real paths. */
TEST(test_train_ab_ladder_record_absolute_paths) {
    char real[PATH_MAX];
    CHECK(realpath(g_dir, real) != NULL);
    CHECK(sh("mkdir -p sub") == 0);
    int rc = sh("cd sub && %s train --data ../d.npz --latents ./../z.npz --output pi.safetensors "
                "--updates 20 --hidden 16 --batch 32 --quiet " DBOPT " > /dev/null", BIN, g_db);
    CHECK_MSG(rc == 0, "train exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=train status=ok model=policy:sub/pi.safetensors abspaths "
                            "'config.data=%s/d.npz' 'config.latents=%s/z.npz' config.synth_data= "
                            "rows=models:1", real, real));
    rc = sh("cd sub && %s ab --data ../d.npz --latents ../z.npz --encoder ../enc.safetensors "
            "--synth-data ../b.npz --seeds 1 --updates 20 --hidden 16 --batch 32 "
            "--eval-episodes 0 --output ab.json --quiet " DBOPT " > /dev/null", BIN, g_db);
    CHECK_MSG(rc == 0, "ab exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=ab status=ok artifact=ab.json:sub/ab.json abspaths "
                            "'config.data=%s/d.npz' 'config.latents=%s/z.npz' "
                            "'config.encoder=%s/enc.safetensors' 'config.synth_data=%s/b.npz' "
                            "rows=artifacts:1", real, real, real, real));
    /* the result file carries the same config */
    CHECK(sh(SL_PYTHON " -c \"import json; j=json.load(open('sub/ab.json'))['inputs']; "
             "assert j['data']=='%s/d.npz' and j['encoder']=='%s/enc.safetensors', j\"", real,
             real) == 0);
    rc = sh("cd sub && %s ladder --data ../d.npz --latents ../z.npz --encoder ../enc.safetensors "
            "--world-model ../w.safetensors --trust-model ../t.safetensors --bricks ../a.npz "
            "--levels 1 --seeds 1 --updates 20 --hidden 16 --eval-episodes 0 --out lad2 "
            "--quiet " DBOPT " > ladder.txt", BIN, g_db);
    CHECK_MSG(rc == 0, "ladder exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=ladder status=ok artifact=ladder.json:sub/lad2/ladder.json "
                            "abspaths rows=ladder_levels:1 'config.world_model=%s/w.safetensors' "
                            "'config.trust_model=%s/t.safetensors' 'config.bricks=%s/a.npz' "
                            "'config.data=%s/d.npz'", real, real, real, real));
    CHECK(sh("grep -qx 'wrote lad2/ladder.json' sub/ladder.txt") == 0); /* messages as given */
    /* an input that does not exist: recorded as given, and the run fails with no rows (train
     * ends a failed run without summary.error, unlike the data commands: not checked here) */
    rc = sh("cd sub && %s train --data nope.npz --latents ../z.npz --output x.safetensors "
            "--quiet " DBOPT " 2>/dev/null", BIN, g_db);
    CHECK(rc == 1);
    nruns++;
    CHECK(reg_check("last", "command=train config.data=nope.npz "
                            "'config.latents=%s/z.npz' norows", real));
}

TEST(test_bricks_records_assignments_and_manifest) {
    int rc = sh("%s bricks --data d.npz --latents z.npz --output m.json --assign-output a.npz "
                "--k 2 --quiet " DBOPT, BIN, g_db);
    CHECK_MSG(rc == 0, "bricks exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=bricks status=ok seed=0 config.k=2 config.data=d.npz "
                            "dataset=bricks:a.npz artifact=bricks_manifest.json:m.json "
                            "summary.k=2 metric=bricks/inertia:1 "
                            "metric_last=bricks/inertia:@m.json:inertia metric=bricks/silhouette:1 "
                            "rows=datasets:1 rows=artifacts:1"));
    /* k chosen by silhouette over 2..3: one point per tried k; no assignments file, no dataset */
    rc = sh("%s bricks --data d.npz --output m2.json --k-min 2 --k-max 3 --seed 4 --quiet " DBOPT,
            BIN, g_db);
    CHECK_MSG(rc == 0, "bricks (auto k) exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=bricks status=ok seed=4 config.k=auto "
                            "artifact=bricks_manifest.json:m2.json "
                            "metric=bricks/silhouette_by_k:2 rows=datasets:0"));
}

TEST(test_import_records_via_env_db) {
    /* the registry named by $SYNTHLOOP_DB (no --db) */
    int rc = sh("SYNTHLOOP_DB='%s' %s import d.npz --output i.npz --quiet", g_db, BIN);
    CHECK_MSG(rc == 0, "import exit %d", rc);
    nruns++;
    CHECK(reg_check("last", "command=import status=ok config.input=d.npz config.output=i.npz "
                            "config.format=auto dataset=imported:i.npz summary.input=d.npz "
                            "rows=datasets:1"));
    CHECK(!file_exists("synthloop.db"));
}

TEST(test_db_none_and_usage_errors_record_nothing) {
    int rc = sh("%s collect --episodes 2 --output n.npz --quiet --db none", BIN);
    CHECK_MSG(rc == 0, "collect --db none exit %d", rc);
    CHECK(file_exists("n.npz"));
    CHECK(!file_exists("synthloop.db")); /* neither the default file */
    rc = sh("SYNTHLOOP_DB=none %s import d.npz --output n2.npz --quiet", BIN);
    CHECK_MSG(rc == 0, "import with SYNTHLOOP_DB=none exit %d", rc);
    CHECK(!file_exists("synthloop.db"));
    /* usage errors (exit 2) are not runs */
    CHECK(sh("%s encode --data d.npz " DBOPT " 2>/dev/null", BIN, g_db) == 2);
    CHECK(sh("%s trust score --model t.safetensors " DBOPT " 2>/dev/null", BIN, g_db) == 2);
    CHECK(sh("%s bricks --data d.npz --k-min 3 --k-max 2 --output x.json " DBOPT " 2>/dev/null",
             BIN, g_db) == 2);
    CHECK(reg_check("last", "status=ok")); /* nruns unchanged */
}

/* A failing invocation: exit 1, one more run, status failed with the error, no rows, and no
 * output file left behind. */
static void expect_failed(const char *cmd, const char *output, const char *error_part) {
    int rc = sh("%s %s " DBOPT " 2>/dev/null", BIN, cmd, g_db);
    CHECK_MSG(rc == 1, "'%s' exit %d, wanted 1", cmd, rc);
    nruns++;
    CHECK_MSG(reg_check("last", "status=failed 'error~%s' norows", error_part),
              "registry check of '%s'", cmd);
    if (output) CHECK_MSG(!file_exists(output), "'%s' left %s behind", cmd, output);
}

TEST(test_failures_recorded_failed_without_rows) {
    expect_failed("collect --env nowhere/arm.xml --task-site tip --output cf.npz --quiet",
                  "cf.npz", "nowhere/arm.xml");
    CHECK(reg_check("last", "command=collect config.env=nowhere/arm.xml"));
    /* late failures: after the work, when the output cannot be written */
    expect_failed("collect --episodes 2 --output nodir/cf.npz --quiet", NULL, "nodir/cf");
    expect_failed("encode --data missing.npz --output zf.npz --quiet", "zf.npz", "missing.npz");
    CHECK(reg_check("last", "command=encode config.data=missing.npz"));
    expect_failed("encode --data d.npz --output nodir/zf.npz --epochs 1 --quiet", NULL, "nodir");
    expect_failed("import missing.csv --output if.npz --quiet", "if.npz", "missing.csv");
    CHECK(reg_check("last", "command=import"));
    expect_failed("bricks --data d.npz --latents d.npz --output mf.json --assign-output af.npz "
                  "--quiet", "mf.json", "latents");
    CHECK(reg_check("last", "command=bricks"));
    CHECK(!file_exists("af.npz"));
    expect_failed("trust train --latents d.npz --output tf.safetensors --quiet",
                  "tf.safetensors", "d.npz");
    CHECK(reg_check("last", "'command=trust train'"));
    expect_failed("trust score --model missing.safetensors --latents z.npz --window 5 "
                  "--output sf.npz --quiet", "sf.npz", "missing.safetensors");
    CHECK(reg_check("last", "'command=trust score'"));
}

/* Status of the newest run of process `pid` in the registry, or "" if none yet. */
static void run_status_of_pid(pid_t pid, char *out, size_t cap, int64_t *id) {
    out[0] = 0;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, status FROM runs WHERE pid=? ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, pid);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *id = sqlite3_column_int64(st, 0);
            snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 1));
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(test_killed_run_marked_failed_on_next_open) {
    char dpath[PATH_MAX + 16], zpath[PATH_MAX + 16];
    snprintf(dpath, sizeof dpath, "%s/d.npz", g_dir);
    snprintf(zpath, sizeof zpath, "%s/zk.npz", g_dir);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0) return;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(g_bin, g_bin, "encode", "--data", dpath, "--output", zpath, "--epochs", "1000000",
              "--dim", "8", "--hidden", "16", "--quiet", "--db", g_db, (char *)NULL);
        _exit(127);
    }
    char status[32] = "";
    int64_t id = 0;
    for (int i = 0; i < 400 && strcmp(status, "running") != 0; i++) { /* up to ~20 s */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        run_status_of_pid(pid, status, sizeof status, &id);
    }
    CHECK_MSG(strcmp(status, "running") == 0, "the encode run never showed as running ('%s')",
              status);
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    nruns++;
    /* still 'running' until somebody opens the registry ... */
    run_status_of_pid(pid, status, sizeof status, &id);
    CHECK(strcmp(status, "running") == 0);
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_registry_close(reg);
    /* ... which marks it failed, with no rows and no output file */
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id);
    CHECK(reg_check(ref, "command=encode status=failed 'error~died' norows"));
    CHECK(!file_exists("zk.npz"));
}

int main(void) {
    setup();
    RUN(test_help_documents_db);
    RUN(test_collect_records_dataset_and_econ);
    RUN(test_encode_records_latents_encoder_and_loss);
    RUN(test_trust_train_and_score_record);
    RUN(test_world_and_branches_record);
    RUN(test_ladder_threads_option);
    RUN(test_ladder_level1_criterion);
    RUN(test_bricks_records_assignments_and_manifest);
    RUN(test_train_ab_ladder_record_absolute_paths);
    RUN(test_import_records_via_env_db);
    RUN(test_db_none_and_usage_errors_record_nothing);
    RUN(test_failures_recorded_failed_without_rows);
    RUN(test_killed_run_marked_failed_on_next_open);
    return harness_done();
}
