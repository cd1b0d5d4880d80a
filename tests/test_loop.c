/* SPDX-License-Identifier: Apache-2.0 */
/* test_loop.c - the job layer (src/loop) called through the library, without the binary:
 * progress callbacks counted, cancellation, all-or-none outputs, every weight logged (also
 * with the Nth allocation failing); then the commands' output and progress defects through
 * the binary (each of these failed before the job layer). */
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_loop.h"
#include "synthloop/sl_nn.h"

static const char *tp(const char *name) {
    static char buf[8][1024];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", harness_tmpdir(), name);
    return buf[k];
}

static int exists(const char *name) {
    struct stat s;
    return stat(tp(name), &s) == 0;
}

static const char *bin(void) {
    const char *b = getenv("SL_BIN");
    return b && *b ? b : "./build/synthloop";
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096], full[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && %s", harness_tmpdir(), cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* One integer from a query on a registry file (-1 on error). */
static long long q1(const char *db, const char *sql) {
    sqlite3 *h = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* --- core: allocation hook, output sets, temp sweep ------------------------------------ */

TEST(alloc_hook_fails_the_nth) {
    sl_test_fail_alloc_after(2);
    void *a = sl_alloc(8), *b = sl_calloc(2, 4), *c = sl_alloc(8), *d = sl_alloc(8);
    CHECK(a && b && !c && d); /* exactly the third fails, then the hook is off */
    free(a);
    free(b);
    free(d);
    sl_test_fail_alloc_after(-1);
    void *e = sl_alloc(0); /* malloc(max(n, 1)) */
    CHECK(e != NULL);
    free(e);
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int file_is(const char *path, const char *text) {
    char *buf = NULL;
    size_t n = 0;
    if (sl_read_file(path, &buf, &n) != SL_OK) return 0;
    int ok = n == strlen(text) && memcmp(buf, text, n) == 0;
    free(buf);
    return ok;
}

TEST(outset_publishes_all_or_none) {
    /* a bad second output is refused before anything is written; the first stays absent */
    sl_outset os;
    sl_outset_init(&os);
    const char *s1 = NULL, *s2 = NULL;
    CHECK_OK(sl_outset_add(&os, tp("os_a.txt"), &s1));
    CHECK_STATUS(sl_outset_add(&os, tp("no_such_dir/os_b.txt"), &s2), SL_ERR_IO);
    CHECK(strstr(sl_last_error(), "no_such_dir") != NULL);
    CHECK_STATUS(sl_outset_add(&os, tp("os_a.txt"), &s2), SL_ERR_ARG); /* twice */
    CHECK(s1 && write_text(s1, "one"));
    sl_outset_free(&os); /* not committed: aborted */
    CHECK(!exists("os_a.txt"));
    CHECK(sh("ls -a | grep -c 'tmp' | grep -qx 0") == 0); /* no staged file left */
    /* committed: both appear with their content, nothing staged remains */
    sl_outset_init(&os);
    CHECK_OK(sl_outset_add(&os, tp("os_a.txt"), &s1));
    CHECK_OK(sl_outset_add(&os, tp("os_b.txt"), &s2));
    CHECK(!exists("os_a.txt") && !exists("os_b.txt"));
    CHECK_OK(sl_write_file_atomic(s1, "one", 3));
    CHECK(write_text(s2, "two"));
    CHECK_OK(sl_outset_commit(&os));
    sl_outset_free(&os);
    CHECK(file_is(tp("os_a.txt"), "one") && file_is(tp("os_b.txt"), "two"));
    CHECK(sh("ls -a | grep -c 'tmp' | grep -qx 0") == 0);
}

TEST(read_only_output_is_refused) {
    CHECK(write_text(tp("ro.txt"), "keep"));
    CHECK(chmod(tp("ro.txt"), 0444) == 0);
    CHECK_STATUS(sl_output_check(tp("ro.txt")), SL_ERR_IO);
    CHECK(strstr(sl_last_error(), "read-only") != NULL);
    CHECK_STATUS(sl_write_file_atomic(tp("ro.txt"), "new", 3), SL_ERR_IO);
    CHECK(file_is(tp("ro.txt"), "keep"));
    CHECK_STATUS(sl_output_check(harness_tmpdir()), SL_ERR_IO); /* a directory */
    CHECK_STATUS(sl_output_check(""), SL_ERR_ARG);
}

/* A pid that belonged to a process that has exited. */
static long dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st;
    waitpid(p, &st, 0);
    return (long)p;
}

TEST(stale_temp_files_of_dead_writers_are_swept) {
    char dead[1024], live[1024];
    snprintf(dead, sizeof dead, "%s.tmp.%ld", tp("sw.npz"), dead_pid());
    snprintf(live, sizeof live, "%s.tmp.%ld", tp("sw.npz"), (long)getppid());
    CHECK(write_text(dead, "x") && write_text(live, "y"));
    /* writing the file (any atomic write) removes the dead writer's temp file only */
    CHECK_OK(sl_write_file_atomic(tp("sw.npz"), "z", 1));
    struct stat s;
    CHECK(stat(dead, &s) != 0);
    CHECK(stat(live, &s) == 0);
    size_t removed = 99;
    CHECK_OK(sl_sweep_stale_tmp(harness_tmpdir(), "sw.npz", &removed));
    CHECK(removed == 0);
    unlink(live);
}

/* --- the job context --------------------------------------------------------------------- */

typedef struct counter {
    int calls, demo_reports, ab_reports, encode_reports, metric_reports, world_reports;
    int cancel_at_demo_stage; /* return 1 when "demo" reaches this stage (-1: never) */
    int cancel_on_ab;         /* return 1 on the first "ab" report */
    char last_metric[32];
    double last_value;
} counter;

static int count_cb(void *vc, const char *stage, int64_t done, int64_t total,
                    const sl_loop_metric *m, size_t n) {
    counter *c = vc;
    (void)total;
    c->calls++;
    if (strcmp(stage, "demo") == 0) c->demo_reports++;
    if (strcmp(stage, "ab") == 0) c->ab_reports++;
    if (strcmp(stage, "encode") == 0) c->encode_reports++;
    if (strcmp(stage, "world train") == 0) c->world_reports++;
    if (n) {
        c->metric_reports++;
        snprintf(c->last_metric, sizeof c->last_metric, "%s", m[0].name);
        c->last_value = m[0].value;
    }
    if (strcmp(stage, "demo") == 0 && done == c->cancel_at_demo_stage) return 1;
    if (strcmp(stage, "ab") == 0 && c->cancel_on_ab) return 1;
    return 0;
}

static void ctx_init(sl_loop_ctx *ctx, counter *c) {
    memset(ctx, 0, sizeof *ctx);
    memset(c, 0, sizeof *c);
    c->cancel_at_demo_stage = -1;
    ctx->progress = count_cb;
    ctx->progress_ctx = c;
}

TEST(report_counts_and_cancels) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    CHECK_OK(sl_loop_report(&ctx, "x", 0, 2, NULL, 0));
    CHECK_OK(sl_loop_report(NULL, "x", 0, 2, NULL, 0));
    volatile int flag = 1;
    ctx.cancel = &flag;
    CHECK_STATUS(sl_loop_report(&ctx, "x", 1, 2, NULL, 0), SL_ERR_CANCELLED);
    flag = 0;
    /* a request once made is never lost */
    CHECK_STATUS(sl_loop_report(&ctx, "x", 2, 2, NULL, 0), SL_ERR_CANCELLED);
    CHECK(c.calls == 3);
}

TEST(module_progress_reaches_the_job_with_metrics) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_observe obs;
    sl_loop_observe_begin(&ctx, &obs);
    sl_progress p;
    sl_progress_begin(&p, "world train", 10);
    sl_progress_update(&p, 5, "loss 0.125 val 2.5 (early stop)");
    sl_progress_end(&p);
    sl_loop_observe_end(&obs);
    sl_progress_begin(&p, "world train", 10); /* not observed any more */
    sl_progress_update(&p, 6, "loss 1");
    CHECK(c.world_reports == 2);
    CHECK(c.metric_reports == 1);
    CHECK(strcmp(c.last_metric, "loss") == 0 && c.last_value == 0.125);
}

/* --- jobs through the library -------------------------------------------------------------- */

static void tiny_demo(sl_loop_demo_config *dc, const char *dir) {
    sl_loop_demo_config_default(dc);
    dc->out_dir = dir;
    dc->episodes = 10;
    dc->seeds = 2;
    dc->updates = 100;
    dc->eval_episodes = 2;
    dc->wm_iters = 20;
    dc->members = 2;
    dc->hidden = 32;
    dc->gband_set = 1; /* off */
}

TEST(demo_job_through_the_library) {
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tp("lib.db"), &reg));
    int64_t run = 0;
    CHECK_OK(sl_run_begin(reg, "demo", NULL, 0, &run));
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    ctx.reg = reg;
    ctx.run_id = run;
    sl_loop_demo_config dc;
    tiny_demo(&dc, tp("demo"));
    sl_loop_demo_result r;
    CHECK_OK(sl_loop_demo(&dc, &ctx, &r));
    CHECK(c.demo_reports == SL_LOOP_DEMO_STAGES + 1);
    CHECK(c.ab_reports >= 2 * 2 + 2); /* every 100 updates of 2 arms x 2 seeds, begin, end */
    CHECK(c.world_reports >= 2);      /* the stable model and the reference */
    CHECK(c.metric_reports > 0);
    CHECK(r.summary && sl_json_str(r.summary, "verdict", NULL) != NULL);
    const char *files[] = {"demo/real.npz", "demo/latents.npz", "demo/encoder.safetensors",
                           "demo/bricks.json", "demo/world.safetensors",
                           "demo/trust.safetensors", "demo/world_eval.json",
                           "demo/branches.npz", "demo/ab.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_MSG(exists(files[i]), "%s missing", files[i]);
    CHECK_OK(sl_run_end(reg, run, SL_RUN_OK, NULL));
    sl_registry_close(reg);
    /* every branch has its row and its weight: the gated branches (rows and weights) and the
     * ungated poisoned generator's (weights: the ungated mode logs every weight too) */
    long long nb = q1(tp("lib.db"), "select count(*) from branches");
    CHECK(nb == (long long)r.n_branches && nb > 0);
    CHECK(r.have_ab_poison && r.n_branches_poison > 0);
    CHECK(q1(tp("lib.db"), "select count(*) from weights") == nb + (long long)r.n_branches_poison);
    CHECK(exists("demo/branches_ungated.npz") && exists("demo/ab_ungated.json"));
    CHECK(sl_json_str(r.summary, "verdict_ungated", NULL) != NULL);
    sl_loop_demo_result_free(&r);
    sl_loop_demo_result_free(NULL);
}

TEST(demo_job_cancels_between_stages) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    c.cancel_at_demo_stage = 2; /* after collect and encode */
    sl_loop_demo_config dc;
    tiny_demo(&dc, tp("demo_cancel"));
    sl_loop_demo_result r;
    CHECK_STATUS(sl_loop_demo(&dc, &ctx, &r), SL_ERR_CANCELLED);
    CHECK(exists("demo_cancel/latents.npz"));
    CHECK(!exists("demo_cancel/bricks.json") && !exists("demo_cancel/world.safetensors"));
    CHECK(c.demo_reports == 3);
    sl_loop_demo_result_free(&r);
}

TEST(encode_job_publishes_all_or_none) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_encode_config ec = {tp("demo/real.npz"), tp("z.npz"), tp("enc.safetensors"), 0,
                                sl_latent_config_default()};
    ec.latent.epochs = 2;
    sl_loop_encode_result r;
    CHECK_OK(sl_loop_encode(&ec, &ctx, &r));
    CHECK(exists("z.npz") && exists("z.json") && exists("enc.safetensors"));
    CHECK(c.encode_reports == 4);
    CHECK(r.n > 0 && r.json != NULL);
    sl_loop_encode_result_free(&r);
    /* an unwritable checkpoint: refused before training, no latents left behind */
    ec.output = tp("z2.npz");
    ec.checkpoint = tp("missing_dir/enc.safetensors");
    ctx_init(&ctx, &c);
    CHECK_STATUS(sl_loop_encode(&ec, &ctx, &r), SL_ERR_IO);
    CHECK(!exists("z2.npz") && !exists("z2.json"));
    CHECK(c.encode_reports == 0);
    sl_loop_encode_result_free(&r);
}

static void tiny_ab(sl_loop_ab_config *ac) {
    memset(ac, 0, sizeof *ac);
    ac->ab = sl_ab_config_default();
    ac->ab.seeds = 2;
    ac->ab.updates = 100;
    ac->ab.eval_episodes = 0;
    ac->ab.rl.hidden = 32;
    sl_loop_synth_opts_default(&ac->synth);
    ac->synth.generator_band_lo = ac->synth.generator_band_hi = 0.0;
    ac->data = tp("demo/real.npz");
    ac->latents = tp("demo/latents.npz");
    ac->encoder = NULL;
    ac->branches = tp("demo/branches.npz");
}

TEST(ab_job_counts_progress_and_cancels) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_ab_config ac;
    tiny_ab(&ac);
    sl_ab_outcome out;
    cJSON *j = NULL;
    CHECK_OK(sl_loop_ab(&ac, &ctx, &out, &j));
    CHECK(c.ab_reports == 2 * 2 * 1 + 2);
    CHECK(j != NULL && out.seeds == 2);
    cJSON *cj = sl_loop_ab_config_json(&ac);
    CHECK(cj && sl_json_num(cj, "updates", 0) == 100);
    cJSON_Delete(cj);
    cJSON_Delete(j);
    sl_ab_outcome_free(&out);
    /* cancelled: the A/B runs to the end of sl_ab_run, then the job stops with no result */
    ctx_init(&ctx, &c);
    c.cancel_on_ab = 1;
    CHECK_STATUS(sl_loop_ab(&ac, &ctx, &out, &j), SL_ERR_CANCELLED);
    CHECK(j == NULL);
    sl_ab_outcome_free(&out);
}

TEST(ladder_job_cancels_before_a_level) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    volatile int flag = 1;
    ctx.cancel = &flag;
    sl_loop_ladder_config lc;
    sl_loop_ladder_config_default(&lc);
    lc.data = tp("demo/real.npz");
    lc.latents = tp("demo/latents.npz");
    lc.world = tp("demo/world.safetensors");
    lc.trust = tp("demo/trust.safetensors");
    lc.out_dir = tp("ladder");
    lc.max_level = 1;
    cJSON *res = NULL;
    CHECK_STATUS(sl_loop_ladder(&lc, &ctx, &res), SL_ERR_CANCELLED);
    CHECK(res == NULL && !exists("ladder/branches_h5.npz"));
    cJSON *cj = sl_loop_ladder_config_json(&lc);
    CHECK(cj && sl_json_int(cj, "max_level", 0) == 1);
    cJSON_Delete(cj);
}


TEST(collect_job_through_the_library) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_collect_config cc;
    memset(&cc, 0, sizeof cc);
    cc.output = tp("col.npz");
    cc.env = "workcell";
    cc.policy = SL_POLICY_MIXED;
    cc.episodes = 5;
    cc.max_steps = 60;
    cc.frame_skip = -1;
    cc.seed = 3;
    cc.econ = sl_econ_default();
    sl_loop_collect_result r;
    CHECK_OK(sl_loop_collect(&cc, &ctx, &r));
    CHECK(exists("col.npz") && exists("col.json"));
    CHECK(r.summary.episodes == 5 && strlen(r.sha256) == 64);
    CHECK(c.calls >= 5); /* one per episode from the environment, and the job's own */
    sl_loop_collect_result_free(&r);
    /* a read-only sidecar: refused before any episode ran, the dataset not written */
    CHECK(write_text(tp("col2.json"), "{}") && chmod(tp("col2.json"), 0444) == 0);
    cc.output = tp("col2.npz");
    ctx_init(&ctx, &c);
    CHECK_STATUS(sl_loop_collect(&cc, &ctx, &r), SL_ERR_IO);
    CHECK(!exists("col2.npz") && c.calls == 0);
    sl_loop_collect_result_free(&r);
}

TEST(branches_job_through_the_library) {
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(tp("br.db"), &reg));
    int64_t run = 0;
    CHECK_OK(sl_run_begin(reg, "branches collect", NULL, 0, &run));
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    ctx.reg = reg;
    ctx.run_id = run;
    sl_loop_branches_config bc;
    memset(&bc, 0, sizeof bc);
    bc.data = tp("demo/real.npz");
    bc.latents = tp("demo/latents.npz");
    bc.world = tp("demo/world.safetensors");
    bc.trust = tp("demo/trust.safetensors");
    bc.output = tp("br.npz");
    sl_synth_config_default(&bc.synth);
    bc.synth.horizon = 5;
    bc.band_name = "normal";
    sl_loop_branches_result r;
    CHECK_OK(sl_loop_branches(&bc, &ctx, &r));
    CHECK(exists("br.npz") && exists("br.json"));
    CHECK(r.b && r.b->n > 0 && r.json);
    CHECK_OK(sl_run_end(reg, run, SL_RUN_OK, NULL));
    sl_registry_close(reg);
    CHECK(q1(tp("br.db"), "select count(*) from branches") == (long long)(r.b ? r.b->n : 0));
    /* the file reads back as written */
    sl_branches *back = NULL;
    CHECK_OK(sl_branches_load_npz(&back, tp("br.npz")));
    if (back && r.b) {
        CHECK(back->n == r.b->n && back->horizon == 5);
        CHECK(memcmp(back->states, r.b->states, r.b->n * 6 * (size_t)r.b->z_dim * sizeof(float)) == 0);
        CHECK(memcmp(back->passed, r.b->passed, r.b->n) == 0);
        CHECK(back->cert.n == r.b->cert.n);
    }
    sl_branches_free(back);
    sl_loop_branches_result_free(&r);
}

TEST(train_job_through_the_library) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_train_config tc;
    memset(&tc, 0, sizeof tc);
    tc.data = tp("demo/real.npz");
    tc.latents = tp("demo/latents.npz");
    tc.branches = tp("demo/branches.npz");
    tc.output = tp("pol.safetensors");
    tc.rl = sl_rl_config_defaults(SL_RL_IQL, 1, 1);
    tc.rl.hidden = 16;
    tc.updates = 200;
    sl_loop_synth_opts_default(&tc.synth);
    tc.synth.generator_band_lo = tc.synth.generator_band_hi = 0.0; /* the tiny demo's model */
    sl_loop_train_result r;
    CHECK_OK(sl_loop_train(&tc, &ctx, &r));
    CHECK(exists("pol.safetensors"));
    CHECK(r.real_rows > 0 && r.synth_rows > 0 && r.synth_share > 0 && r.synth_share < 0.5);
    CHECK(c.calls >= 3); /* begin, 100, 200 */
    /* cancelled: no checkpoint */
    tc.output = tp("pol2.safetensors");
    ctx_init(&ctx, &c);
    volatile int flag = 1;
    ctx.cancel = &flag;
    CHECK_STATUS(sl_loop_train(&tc, &ctx, &r), SL_ERR_CANCELLED);
    CHECK(!exists("pol2.safetensors"));
    CHECK(sh("ls -a | grep -c 'pol2' | grep -qx 0") == 0);
}

TEST(world_train_job_reports_metrics_as_it_trains) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_world_train_config wc;
    memset(&wc, 0, sizeof wc);
    wc.data = tp("demo/real.npz");
    wc.latents = tp("demo/latents.npz");
    wc.output = tp("wm.safetensors");
    sl_world_config_default(&wc.world);
    wc.world.members = 1;
    wc.world.hidden = 16;
    wc.world.max_iters = 20;
    wc.world.eval_every = 5;
    wc.world.patience = 100;
    sl_loop_world_train_result r;
    CHECK_OK(sl_loop_world_train(&wc, &ctx, &r));
    CHECK(exists("wm.safetensors") && exists("wm.json"));
    CHECK(c.world_reports >= 4);  /* every 5 of 20 iterations, and the end */
    CHECK(c.metric_reports >= 3); /* loss / val / best with each check */
    CHECK(r.report.iters == 20 && r.json != NULL);
    sl_loop_world_train_result_free(&r);
    /* an output in a missing directory: refused before training (no progress at all) */
    wc.output = tp("nodir/wm.safetensors");
    ctx_init(&ctx, &c);
    CHECK_STATUS(sl_loop_world_train(&wc, &ctx, &r), SL_ERR_IO);
    CHECK(c.calls == 0);
    sl_loop_world_train_result_free(&r);
}

TEST(trust_train_job_publishes_model_and_report_together) {
    sl_loop_ctx ctx;
    counter c;
    ctx_init(&ctx, &c);
    sl_loop_trust_train_config tc;
    memset(&tc, 0, sizeof tc);
    tc.latents = tp("demo/latents.npz");
    tc.data = tp("demo/real.npz");
    tc.output = tp("tt.safetensors");
    tc.cfg = sl_trust_config_default();
    tc.cfg.steps = 50;
    tc.cfg.eval_windows = 40;
    sl_loop_trust_train_result r;
    CHECK_OK(sl_loop_trust_train(&tc, &ctx, &r));
    CHECK(exists("tt.safetensors") && exists("tt.json"));
    CHECK(r.json && r.report_path && strcmp(r.report_path, tp("tt.json")) == 0);
    CHECK(c.calls >= 2);
    sl_loop_trust_train_result_free(&r);
    /* an unwritable report: refused before training; no model left behind */
    tc.output = tp("tt2.safetensors");
    tc.report = tp("nodir/r.json");
    ctx_init(&ctx, &c);
    CHECK_STATUS(sl_loop_trust_train(&tc, &ctx, &r), SL_ERR_IO);
    CHECK(!exists("tt2.safetensors") && c.calls == 0);
    sl_loop_trust_train_result_free(&r);
}

TEST(windows_cut_score_inputs) {
    /* episodes 7 (4 rows) and 9 (3 rows), D = 2: windows of 2 every 1 -> 3 + 2 */
    float z[14];
    for (int i = 0; i < 14; i++) z[i] = (float)i;
    int32_t ids[7] = {7, 7, 7, 7, 9, 9, 9};
    sl_loop_windows w;
    CHECK_OK(sl_loop_windows_cut(z, ids, 7, 2, 2, 1, &w));
    CHECK(w.n == 5 && w.D == 2);
    if (w.n == 5) {
        CHECK(w.episode[0] == 7 && w.episode[3] == 9 && w.start[2] == 2 && w.start[4] == 1);
        CHECK(w.off[5] == 10 && w.z[4 * 2 * 2] == 10.0f); /* window 4 starts at row 5 */
    }
    sl_loop_windows_free(&w);
    CHECK_STATUS(sl_loop_windows_cut(z, ids, 7, 2, 5, 1, &w), SL_ERR_ARG); /* no episode of 5 */
    double p[4] = {0.99, 0.92, 0.5, NAN};
    uint8_t fin[4] = {1, 1, 1, 0};
    double rates[SL_GATE_PRESET_COUNT];
    char *sc = NULL;
    sl_loop_trust_pass_rates(p, fin, 4, rates);
    for (int k = 0; k < SL_GATE_PRESET_COUNT; k++) {
        sl_gate g = sl_gate_from_preset((sl_gate_preset)k);
        double want = ((p[0] >= g.trust_floor) + (p[1] >= g.trust_floor) + (p[2] >= g.trust_floor)) / 4.0;
        CHECK_CLOSE(rates[k], want, 1e-15);
    }
    sc = sl_loop_sidecar_path("a.b/w.safetensors", NULL);
    CHECK(sc && strcmp(sc, "a.b/w.json") == 0);
    free(sc);
    sc = sl_loop_sidecar_path("a.b/w", NULL);
    CHECK(sc && strcmp(sc, "a.b/w.json") == 0);
    free(sc);
}

/* --- every weight is logged (seed 002, invariant 4) ------------------------------------- */

static sl_status load_weighted(sl_loop_weighting mode, const char *db, sl_loop_synth *syn) {
    sl_registry *reg = NULL;
    SL_TRY(sl_registry_open(db, &reg));
    int64_t run = 0;
    sl_status s = sl_run_begin(reg, "weights", NULL, 0, &run);
    sl_loop_synth_opts o;
    sl_loop_synth_opts_default(&o);
    o.mode = mode;
    o.reg = reg;
    o.run_id = run;
    if (s == SL_OK) s = sl_loop_synth_load(syn, tp("demo/branches.npz"), 5000, &o);
    sl_status e = sl_run_end(reg, run, s == SL_OK ? SL_RUN_OK : SL_RUN_FAILED, NULL);
    sl_registry_close(reg);
    return s != SL_OK ? s : e;
}

TEST(ungated_weights_are_logged_too) {
    sl_loop_synth syn;
    CHECK_OK(load_weighted(SL_LOOP_WEIGHT_UNGATED, tp("ungated.db"), &syn));
    CHECK(syn.n_branches > 0);
    CHECK(q1(tp("ungated.db"), "select count(*) from weights") == (long long)syn.n_branches);
    /* the logged weight is the one the replay rows carry */
    CHECK(q1(tp("ungated.db"), "select count(*) from weights where w_final > 0") > 0);
    sl_loop_synth_free(&syn);
    CHECK_OK(load_weighted(SL_LOOP_WEIGHT_CONTROLLER, tp("ctrl.db"), &syn));
    CHECK(q1(tp("ctrl.db"), "select count(*) from weights") == (long long)syn.n_branches);
    sl_loop_synth_free(&syn);
}

TEST(a_weight_that_cannot_be_logged_fails_the_load) {
    sl_loop_synth syn;
    sl_test_fail_alloc_after(0);
    CHECK_STATUS(load_weighted(SL_LOOP_WEIGHT_CONTROLLER, tp("oom.db"), &syn), SL_ERR_NOMEM);
    CHECK(strstr(sl_last_error(), "every weight is logged") != NULL);
    sl_test_fail_alloc_after(-1);
    CHECK(syn.weight == NULL && syn.t.n == 0); /* nothing handed to a learner */
    CHECK(q1(tp("oom.db"), "select count(*) from weights") == 0);
    CHECK(q1(tp("oom.db"), "select count(*) from runs where status='failed'") == 1);
}

/* --- the commands (binary) ------------------------------------------------------------- */

TEST(cli_weight_log_failure_fails_the_run) {
    const char *S = bin();
    int rc = sh("SYNTHLOOP_TEST_FAIL_ALLOC=0 %s train --data demo/real.npz --latents "
                "demo/latents.npz --synth-data demo/branches.npz --output pi.safetensors "
                "--updates 20 --hidden 16 --db cli4.db --quiet 2> cli4.err", S);
    CHECK_MSG(rc == 1, "exit %d", rc);
    CHECK(sh("grep -q 'every weight is logged' cli4.err") == 0);
    CHECK(!exists("pi.safetensors"));
    CHECK(q1(tp("cli4.db"), "select count(*) from runs where command='train' and status='failed'") == 1);
    CHECK(q1(tp("cli4.db"), "select count(*) from weights") == 0);
}

TEST(cli_failed_commands_leave_no_partial_outputs) {
    const char *S = bin();
    /* encode: an unwritable checkpoint used to leave the latents */
    CHECK(sh("%s encode --data demo/real.npz --output ze.npz --checkpoint nodir/e.safetensors "
             "--epochs 1 --db none --quiet 2>/dev/null", S) == 1);
    CHECK(!exists("ze.npz") && !exists("ze.json"));
    /* trust train: an unwritable report used to leave the checkpoint */
    CHECK(sh("%s trust train --latents demo/latents.npz --data demo/real.npz --output tr.safetensors "
             "--report nodir/r.json --steps 5 --db none --quiet 2>/dev/null", S) == 1);
    CHECK(!exists("tr.safetensors"));
    /* world train: the output directory is checked before training (which would take long) */
    double t0 = sl_now();
    CHECK(sh("%s world train --data demo/real.npz --latents demo/latents.npz --output "
             "nodir/wm.safetensors --iters 100000 --members 1 --db none --quiet 2> wt.err", S) == 1);
    CHECK_MSG(sl_now() - t0 < 20.0, "world train took %.1f s to notice", sl_now() - t0);
    CHECK(sh("grep -q nodir wt.err") == 0);
    /* a read-only output is refused, not replaced */
    CHECK(sh("printf keep > ro.npz && chmod 444 ro.npz") == 0);
    CHECK(sh("%s collect --episodes 5 --output ro.npz --db none --quiet 2> ro.err", S) == 1);
    CHECK(sh("grep -q read-only ro.err && [ \"$(cat ro.npz)\" = keep ]") == 0);
    /* a killed writer's temp file is swept by the next write of that output */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "printf x > c.npz.tmp.%ld", dead_pid());
    CHECK(sh("%s", cmd) == 0);
    CHECK(sh("%s collect --episodes 5 --output c.npz --db none --quiet", S) == 0);
    CHECK(sh("ls | grep -c 'c.npz.tmp' | grep -qx 0") == 0);
}

TEST(cli_jobs_report_progress_and_mark_failed_cancels) {
    const char *S = bin();
    /* a finished command left its jobs (ended ok) and metrics recorded as it went */
    CHECK(sh("%s world train --data demo/real.npz --latents demo/latents.npz --output wm.safetensors "
             "--iters 40 --eval-every 10 --members 1 --hidden 16 --db prog.db --quiet", S) == 0);
    CHECK(q1(tp("prog.db"), "select count(*) from jobs where kind='world train' and status='ok' "
                           "and done=total") >= 1);
    CHECK(q1(tp("prog.db"), "select count(*) from metrics where series like 'world_train/%'") >= 3);
    /* mark-failed on a live run: the demo stops at its next check and exits 1 */
    CHECK(sh("( %s demo --out dm --db live.db --episodes 10 --seeds 2 --updates 3000 "
             "--eval-episodes 2 --wm-iters 20 --members 2 --hidden 32 --quiet > dm.out 2> dm.err; "
             "echo $? > dm.rc ) &", S) == 0);
    int64_t run = 0;
    sl_registry *reg = NULL;
    for (int i = 0; i < 600 && !run; i++) {
        usleep(50000);
        if (exists("live.db") && sl_registry_open(tp("live.db"), &reg) == SL_OK) {
            sl_registry_last_run(reg, &run);
            if (!run) sl_registry_close(reg), reg = NULL;
        }
    }
    CHECK(run > 0);
    if (run) CHECK_OK(sl_run_mark_failed(reg, run, "test: stop it"));
    sl_registry_close(reg);
    double t0 = sl_now();
    while (!exists("dm.rc") && sl_now() - t0 < 240) usleep(100000);
    CHECK(sh("grep -qx 1 dm.rc") == 0);
    CHECK(sh("grep -q 'marked failed' dm.err") == 0);
    if (sh("grep -q 'marked failed' dm.err") != 0) sh("cat dm.err");
    CHECK(!exists("dm/ab.json"));
    CHECK_MSG(sl_now() - t0 < 120, "took %.0f s to stop", sl_now() - t0);
}

int main(void) {
    sl_nn_set_threads(1);
    RUN(alloc_hook_fails_the_nth);
    RUN(outset_publishes_all_or_none);
    RUN(read_only_output_is_refused);
    RUN(stale_temp_files_of_dead_writers_are_swept);
    RUN(report_counts_and_cancels);
    RUN(module_progress_reaches_the_job_with_metrics);
    RUN(demo_job_through_the_library);
    RUN(demo_job_cancels_between_stages);
    RUN(encode_job_publishes_all_or_none);
    RUN(ab_job_counts_progress_and_cancels);
    RUN(ladder_job_cancels_before_a_level);
    RUN(collect_job_through_the_library);
    RUN(branches_job_through_the_library);
    RUN(train_job_through_the_library);
    RUN(world_train_job_reports_metrics_as_it_trains);
    RUN(trust_train_job_publishes_model_and_report_together);
    RUN(windows_cut_score_inputs);
    RUN(ungated_weights_are_logged_too);
    RUN(a_weight_that_cannot_be_logged_fails_the_load);
    RUN(cli_weight_log_failure_fails_the_run);
    RUN(cli_failed_commands_leave_no_partial_outputs);
    RUN(cli_jobs_report_progress_and_mark_failed_cancels);
    return harness_done();
}
