/* SPDX-License-Identifier: Apache-2.0 */
/* test_task.c - task specs over the MJCF models in tests/models (motor arm, muscle arm,
 * floating base, pusher with contacts): the MPC expert against random on the task's return and
 * success rate, the planner's determinism across thread counts, bad specs (missing names,
 * unknown quantity, malformed JSON) with errors naming the file and the place, tasks without
 * units (no econ columns), and the environment record (round trip, a changed model file,
 * another model with the workcell's dims). */
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "env/env_internal.h"
#include "harness.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_env.h"
#include "synthloop/sl_rl.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static void model_path(const char *file, char *out, size_t n) { snprintf(out, n, "%s/tests/models/%s", root(), file); }

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    fclose(f);
    return 1;
}

static int copy_file(const char *from, const char *to) {
    char *buf;
    size_t n;
    if (sl_read_file(from, &buf, &n) != SL_OK) return 0;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f) fclose(f);
    free(buf);
    return ok;
}

typedef struct outcome {
    double ret, success, len; /* means over episodes */
} outcome;

/* Collect `eps` episodes with `kind` and summarise them from the dataset's own columns. */
static int run_policy(sl_env *env, sl_policy_kind kind, size_t eps, uint64_t seed, outcome *o) {
    sl_dataset *ds = NULL;
    sl_status st = sl_env_collect(env, kind, eps, seed, &ds, NULL);
    if (st != SL_OK) {
        printf("  collect failed: %s\n", sl_last_error());
        return 0;
    }
    const double *ret = sl_dataset_ep_col(ds, "return"), *units = sl_dataset_ep_col(ds, "units");
    memset(o, 0, sizeof *o);
    for (size_t e = 0; e < eps; e++) {
        o->ret += ret[e] / (double)eps;
        o->success += (units ? units[e] : 0) / (double)eps;
    }
    o->len = (double)ds->n / (double)eps;
    sl_dataset_free(ds);
    return 1;
}

/* MPC beats random on return and on success rate (and, for `longer`, on episode length). */
static void mpc_vs_random(const char *spec, size_t mpc_eps, size_t rnd_eps, int longer) {
    char path[600];
    model_path(spec, path, sizeof path);
    sl_env *env = NULL;
    CHECK_OK(sl_env_task_new(&env, path, NULL, 0, 0));
    if (!env) return;
    sl_progress_set_quiet(1);
    outcome mpc, rnd;
    double t0 = sl_now();
    int ok = run_policy(env, SL_POLICY_MPC, mpc_eps, 11, &mpc);
    double t_mpc = sl_now() - t0;
    ok = ok && run_policy(env, SL_POLICY_RANDOM, rnd_eps, 12, &rnd);
    CHECK(ok);
    if (ok) {
        printf("  %-18s mpc: return %8.2f success %.2f length %5.1f (%.1f s) | random: return %8.2f success %.2f "
               "length %5.1f\n",
               spec, mpc.ret, mpc.success, mpc.len, t_mpc, rnd.ret, rnd.success, rnd.len);
        CHECK_MSG(mpc.ret > rnd.ret, "%s: MPC return %g not above random %g", spec, mpc.ret, rnd.ret);
        CHECK_MSG(mpc.success > rnd.success, "%s: MPC success %g not above random %g", spec, mpc.success,
                  rnd.success);
        CHECK_MSG(mpc.success >= 0.75, "%s: MPC success rate %g below 0.75", spec, mpc.success);
        if (longer) CHECK_MSG(mpc.len > rnd.len, "%s: MPC length %g not above random %g", spec, mpc.len, rnd.len);
    }
    sl_env_free(env);
}

TEST(mpc_beats_random_motor_arm) { mpc_vs_random("reach_motor.json", 4, 20, 0); }
TEST(mpc_beats_random_muscle_arm) { mpc_vs_random("reach_muscle.json", 4, 20, 0); }
TEST(mpc_keeps_floating_base_up) { mpc_vs_random("hover.json", 4, 20, 1); }
TEST(mpc_beats_random_pusher_contacts) { mpc_vs_random("push.json", 4, 20, 0); }

/* Same seed => same plan bits, with 1 or 2 threads; another seed differs. */
TEST(mpc_deterministic_across_threads) {
    char path[600];
    model_path("reach_muscle.json", path, sizeof path);
    sl_dataset *ds[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        sl_env *env = NULL;
        CHECK_OK(sl_env_task_new(&env, path, NULL, 12, 0));
        if (!env) return;
        sl_mpc_config c = sl_mpc_default();
        c.samples = 12;
        c.horizon = 6;
        c.threads = i == 0 ? 1 : 2;
        CHECK_OK(sl_env_set_mpc(env, &c));
        CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 3, i == 2 ? 8 : 7, &ds[i], NULL));
        sl_env_free(env);
    }
    if (ds[0] && ds[1] && ds[2]) {
        CHECK(ds[0]->n == ds[1]->n);
        CHECK(memcmp(ds[0]->actions, ds[1]->actions, ds[0]->n * (size_t)ds[0]->act_dim * 4) == 0);
        CHECK(memcmp(ds[0]->observations, ds[1]->observations, ds[0]->n * (size_t)ds[0]->obs_dim * 4) == 0);
        CHECK(ds[0]->n != ds[2]->n ||
              memcmp(ds[0]->actions, ds[2]->actions, ds[0]->n * (size_t)ds[0]->act_dim * 4) != 0);
    }
    for (int i = 0; i < 3; i++) sl_dataset_free(ds[i]);
}

/* Smooth perturbations (noise at 3 knots, interpolated) still solve the motor arm's reach. */
TEST(mpc_knots_reach) {
    char path[600];
    model_path("reach_motor.json", path, sizeof path);
    sl_env *env = NULL;
    CHECK_OK(sl_env_task_new(&env, path, NULL, 0, 0));
    if (!env) return;
    sl_mpc_config c = sl_mpc_default();
    c.knots = 3;
    CHECK_OK(sl_env_set_mpc(env, &c));
    c.knots = -1;
    CHECK_STATUS(sl_env_set_mpc(env, &c), SL_ERR_ARG);
    outcome o;
    CHECK(run_policy(env, SL_POLICY_MPC, 2, 11, &o));
    printf("  knots 3: return %.2f success %.2f length %.1f\n", o.ret, o.success, o.len);
    CHECK(o.success == 1.0);
    sl_env_free(env);
}

/* The reward is the weighted sum of the spec's terms, recomputed here from the observation
 * (tip position and goal - tip are in the obs) for the motor arm's first term. */
TEST(reward_is_weighted_sum_of_terms) {
    char dir[600], spec[700];
    model_path("", dir, sizeof dir);
    snprintf(spec, sizeof spec, "%s/only_dist.json", harness_tmpdir());
    char text[1200];
    snprintf(text, sizeof text,
             "{\"name\": \"d\", \"model\": \"%sarm_motor.xml\", \"max_steps\": 10,"
             " \"reward\": [{\"quantity\": \"distance\", \"site\": \"tip\", \"target_site\": \"goal\", \"weight\": -2},"
             "              {\"quantity\": \"alive\", \"weight\": 0.5}]}",
             dir);
    CHECK(write_text(spec, text));
    sl_env *env = NULL;
    CHECK_OK(sl_env_task_new(&env, spec, NULL, 0, 0));
    if (!env) return;
    CHECK(env->obs_dim == 3 + 3 + 6);
    CHECK(!sl_env_has_units(env));
    float obs[12], a[3] = {0.3f, -0.2f, 0.1f};
    CHECK_OK(sl_env_reset(env, 3, obs));
    for (int t = 0; t < 5; t++) {
        sl_env_out ev;
        CHECK_OK(sl_env_step(env, a, obs, NULL, &ev));
        double dx = obs[9], dy = obs[10], dz = obs[11];
        double want = -2.0 * sqrt(dx * dx + dy * dy + dz * dz) + 0.5;
        CHECK_CLOSE(ev.reward, want, 1e-5);
        CHECK(ev.units == 0 && ev.attempts == 0 && ev.failures == 0);
    }
    /* no units: MPL, error rate, EP are absent from the data, not zero */
    sl_dataset *ds = NULL;
    sl_collect_summary sum;
    CHECK_OK(sl_env_collect(env, SL_POLICY_RANDOM, 2, 1, &ds, &sum));
    if (ds) {
        CHECK(sl_dataset_ep_col(ds, "mpl") == NULL);
        CHECK(sl_dataset_ep_col(ds, "error_rate") == NULL);
        CHECK(sl_dataset_ep_col(ds, "ep") == NULL);
        CHECK(sl_dataset_ep_col(ds, "return") != NULL);
        CHECK(sl_dataset_ep_col(ds, "energy_wh") != NULL);
        CHECK(!sum.has_units && isnan(sum.mean_mpl));
    }
    sl_dataset_free(ds);
    sl_env_free(env);
}

/* Datasets of every model checked by numpy against the definitions (tests/py/task_check_npz.py):
 * D4RL invariants, econ columns, and for the motor arm each step's reward recomputed from the
 * spec's terms. */
TEST(datasets_checked_by_numpy) {
    static const struct { const char *spec; int max_steps; const char *extra; } cases[] = {
        {"reach_motor.json", 60, " reach"}, {"reach_muscle.json", 60, " reach"}, {"hover.json", 100, ""},
        {"push.json", 80, ""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char spec[600], out[700], cmd[2000];
        model_path(cases[i].spec, spec, sizeof spec);
        sl_env *env = NULL;
        CHECK_OK(sl_env_task_new(&env, spec, NULL, 0, 0));
        if (!env) continue;
        sl_mpc_config c = sl_mpc_default();
        c.samples = 16;
        c.horizon = 8;
        c.iterations = 1;
        CHECK_OK(sl_env_set_mpc(env, &c));
        sl_dataset *ds = NULL;
        CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 6, 21, &ds, NULL));
        snprintf(out, sizeof out, "%s/numpy_%zu.npz", harness_tmpdir(), i);
        if (ds) CHECK_OK(sl_dataset_save_npz(ds, out));
        snprintf(cmd, sizeof cmd, "%s %s/tests/py/task_check_npz.py %s %s %d%s", SL_PYTHON, root(), out, spec,
                 cases[i].max_steps, cases[i].extra);
        CHECK_MSG(ds && system(cmd) == 0, "%s", cmd);
        sl_dataset_free(ds);
        sl_env_free(env);
    }
}

/* --- bad input ------------------------------------------------------------- */

/* Build an env from `body` (a spec naming arm_motor.xml); expect `want` and every needle in
 * the message. */
static void bad_spec(const char *file, const char *body, sl_status want, const char *n1, const char *n2) {
    char dir[600], spec[700], text[2000];
    model_path("", dir, sizeof dir);
    snprintf(spec, sizeof spec, "%s/%s", harness_tmpdir(), file);
    snprintf(text, sizeof text, body, dir);
    CHECK(write_text(spec, text));
    sl_env *env = NULL;
    CHECK_STATUS(sl_env_task_new(&env, spec, NULL, 0, 0), want);
    CHECK(env == NULL);
    const char *msg = sl_last_error();
    CHECK_MSG(strstr(msg, file) && strstr(msg, n1) && (!n2 || strstr(msg, n2)), "message: %s", msg);
    sl_env_free(env);
}

TEST(bad_specs_named) {
    bad_spec("no_site.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"alive\", \"weight\": 1},"
             " {\"quantity\": \"distance\", \"site\": \"nose\", \"target\": [0, 0, 0], \"weight\": -1}]}",
             SL_ERR_NOTFOUND, "reward[1].site", "nose");
    bad_spec("no_body.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"height\", \"body\": "
             "\"torso\", \"weight\": 1}]}",
             SL_ERR_NOTFOUND, "reward[0].body", "torso");
    bad_spec("no_joint.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"alive\", \"weight\": 1}],"
             " \"failure\": {\"any\": [{\"quantity\": \"joint_pos\", \"joint\": \"knee\", \"above\": 1}]}}",
             SL_ERR_NOTFOUND, "failure.any[0].joint", "knee");
    bad_spec("unknown_term.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"happiness\", "
             "\"weight\": 1}]}",
             SL_ERR_FORMAT, "reward[0].quantity", "happiness");
    bad_spec("malformed.json", "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [", SL_ERR_FORMAT,
             "invalid JSON", NULL);
    bad_spec("typo_key.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"alive\", \"weight\": 1}],"
             " \"max_step\": 5}",
             SL_ERR_FORMAT, "max_step", "unknown key");
    bad_spec("no_weight.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"alive\"}]}",
             SL_ERR_FORMAT, "reward[0].weight", NULL);
    bad_spec("no_axis.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"velocity\", \"site\": "
             "\"tip\", \"weight\": 1}]}",
             SL_ERR_FORMAT, "reward[0].axis", NULL);
    bad_spec("no_model.json",
             "{\"name\": \"x\", \"model\": \"%snot_there.xml\", \"reward\": [{\"quantity\": \"alive\", \"weight\": 1}]}",
             SL_ERR_NOTFOUND, "not_there.xml", NULL);
    bad_spec("units_without_success.json",
             "{\"name\": \"x\", \"model\": \"%sarm_motor.xml\", \"reward\": [{\"quantity\": \"alive\", \"weight\": 1}],"
             " \"units\": {\"unit\": \"success\"}}",
             SL_ERR_FORMAT, "units", "success");
}

/* --- the environment record ------------------------------------------------ */

TEST(record_roundtrip_and_refusals) {
    char spec[600], mcopy[700], scopy[700];
    model_path("reach_motor.json", spec, sizeof spec);
    /* a private copy of the model, so that it can be changed */
    char src[600];
    model_path("arm_motor.xml", src, sizeof src);
    snprintf(mcopy, sizeof mcopy, "%s/arm_motor.xml", harness_tmpdir());
    snprintf(scopy, sizeof scopy, "%s/reach_motor.json", harness_tmpdir());
    CHECK(copy_file(src, mcopy) && copy_file(spec, scopy));
    sl_env *env = NULL;
    CHECK_OK(sl_env_task_new(&env, scopy, NULL, 0, 0));
    if (!env) return;
    sl_env_record rec, back;
    CHECK_OK(sl_env_get_record(env, &rec));
    CHECK(strcmp(rec.kind, "mjcf") == 0 && strstr(rec.model_path, "arm_motor.xml") && rec.obs_dim == env->obs_dim);
    char h[65];
    CHECK_OK(sl_sha256_file(mcopy, h));
    CHECK(strcmp(h, rec.model_sha256) == 0);
    /* through JSON (as written into real.json) and back */
    cJSON *j = cJSON_CreateObject();
    CHECK_OK(sl_env_record_to_json(&rec, j));
    char side[700];
    snprintf(side, sizeof side, "%s/real.json", harness_tmpdir());
    cJSON *top = cJSON_CreateObject();
    cJSON_AddItemToObject(top, "environment", j);
    CHECK_OK(sl_json_write_file(side, top));
    cJSON_Delete(top);
    CHECK_OK(sl_env_record_read(side, &back));
    CHECK(strcmp(back.task_sha256, rec.task_sha256) == 0 && strcmp(back.model_sha256, rec.model_sha256) == 0);
    sl_env *env2 = NULL;
    CHECK_OK(sl_env_from_record(&env2, &back));
    if (env2) {
        /* the rebuilt env produces the same episode */
        float o1[64], o2[64], a[3] = {0.5f, 0.5f, -0.5f};
        sl_env_out e1, e2;
        CHECK_OK(sl_env_reset(env, 9, o1));
        CHECK_OK(sl_env_reset(env2, 9, o2));
        CHECK_OK(sl_env_step(env, a, o1, NULL, &e1));
        CHECK_OK(sl_env_step(env2, a, o2, NULL, &e2));
        CHECK(memcmp(o1, o2, (size_t)env->obs_dim * 4) == 0 && e1.reward == e2.reward);
    }
    sl_env_free(env2);
    /* the model file changes after collection: refused, naming the file and both hashes */
    FILE *f = fopen(mcopy, "a");
    if (f) {
        fputs("<!-- edited -->\n", f);
        fclose(f);
    }
    env2 = NULL;
    CHECK_STATUS(sl_env_from_record(&env2, &back), SL_ERR_STATE);
    CHECK(env2 == NULL);
    CHECK_MSG(strstr(sl_last_error(), "arm_motor.xml") && strstr(sl_last_error(), "changed") &&
                  strstr(sl_last_error(), "recorded"),
              "%s", sl_last_error());
    /* a record whose task spec was edited by hand is refused when read */
    cJSON *bad = NULL;
    CHECK_OK(sl_json_read_file(side, &bad));
    if (bad) {
        cJSON *sp = cJSON_GetObjectItem(cJSON_GetObjectItem(bad, "environment"), "task_spec");
        cJSON_ReplaceItemInObject(sp, "max_steps", cJSON_CreateNumber(61));
        CHECK_OK(sl_json_write_file(side, bad));
        cJSON_Delete(bad);
        sl_env_record r3;
        CHECK_STATUS(sl_env_record_read(side, &r3), SL_ERR_FORMAT);
        CHECK_MSG(strstr(sl_last_error(), "real.json") && strstr(sl_last_error(), "task_sha256"), "%s",
                  sl_last_error());
        sl_env_record_clear(&r3);
    }
    sl_env_record_clear(&rec);
    sl_env_record_clear(&back);
    sl_env_free(env);
}

/* Data from a model whose dims equal the workcell's (obs 24, act 4) is not the workcell's:
 * checking the workcell against that record refuses, naming both. */
TEST(same_dims_other_model_refused) {
    char dir[600], spec[700], text[1500];
    model_path("", dir, sizeof dir);
    /* a 4-actuator body with nq = nv = 6 and two distance terms: obs 6 + 6 + 2 * 6 = 24 */
    char xml[1500];
    snprintf(xml, sizeof xml, "%s/nine.xml", harness_tmpdir());
    CHECK(write_text(xml,
                     "<mujoco model='nine'><option timestep='0.01' gravity='0 0 0'/><worldbody>"
                     "<body name='a'><joint name='j1' type='slide' axis='1 0 0'/><joint name='j2' type='slide' axis='0 1 0'/>"
                     "<joint name='j3' type='slide' axis='0 0 1'/><joint name='j4' type='hinge' axis='0 0 1'/>"
                     "<joint name='j5' type='hinge' axis='0 1 0'/><joint name='j6' type='hinge' axis='1 0 0'/>"
                     "<geom type='sphere' size='0.05' mass='1'/><site name='s'/></body></worldbody>"
                     "<actuator><motor joint='j1'/><motor joint='j2'/><motor joint='j3'/><motor joint='j4'/></actuator>"
                     "</mujoco>"));
    snprintf(spec, sizeof spec, "%s/nine.json", harness_tmpdir());
    snprintf(text, sizeof text,
             "{\"name\": \"nine\", \"reward\": [{\"quantity\": \"distance\", \"site\": \"s\", \"target\": [1, 0, 0],"
             " \"weight\": -1}, {\"quantity\": \"distance\", \"site\": \"s\", \"target\": [0, 1, 0], \"weight\": -1}]}");
    CHECK(write_text(spec, text));
    (void)dir;
    sl_env *other = NULL, *wc = NULL;
    CHECK_OK(sl_env_task_new(&other, spec, xml, 0, 0));
    CHECK_OK(sl_env_workcell_new(&wc, NULL));
    if (other && wc) {
        CHECK(other->obs_dim == wc->obs_dim && other->act_dim == wc->act_dim);
        sl_env_record rec;
        CHECK_OK(sl_env_get_record(other, &rec));
        CHECK_STATUS(sl_env_check_record(wc, &rec), SL_ERR_STATE);
        CHECK_MSG(strstr(sl_last_error(), "nine.xml") && strstr(sl_last_error(), "workcell"), "%s", sl_last_error());
        sl_env_record_clear(&rec);
        /* and the workcell's own record rebuilds the workcell */
        sl_env *wc2 = NULL;
        CHECK_OK(sl_env_get_record(wc, &rec));
        CHECK(strcmp(rec.kind, "workcell") == 0 && rec.obs_dim == 24 && rec.act_dim == 4);
        CHECK_OK(sl_env_from_record(&wc2, &rec));
        CHECK_STATUS(sl_env_check_record(other, &rec), SL_ERR_STATE);
        sl_env_free(wc2);
        sl_env_record_clear(&rec);
    }
    sl_env_free(other);
    sl_env_free(wc);
}

/* The workcell's config changes its task hash (the record says which variant collected). */
TEST(workcell_task_hash_follows_config) {
    sl_env *a = NULL, *b = NULL;
    sl_workcell_config c = sl_workcell_default();
    CHECK_OK(sl_env_workcell_new(&a, &c));
    c.max_steps = 40;
    CHECK_OK(sl_env_workcell_new(&b, &c));
    if (a && b) {
        sl_env_record ra, rb;
        CHECK_OK(sl_env_get_record(a, &ra));
        CHECK_OK(sl_env_get_record(b, &rb));
        CHECK(strcmp(ra.task_sha256, rb.task_sha256) != 0 && strcmp(ra.model_sha256, rb.model_sha256) == 0);
        CHECK_STATUS(sl_env_check_record(a, &rb), SL_ERR_STATE);
        sl_env *b2 = NULL;
        CHECK_OK(sl_env_from_record(&b2, &rb));
        if (b2) CHECK(b2->max_steps == 40);
        sl_env_free(b2);
        sl_env_record_clear(&ra);
        sl_env_record_clear(&rb);
    }
    /* the workcell has no MPC planner: policy mpc is refused clearly */
    sl_dataset *ds = NULL;
    if (a) CHECK_STATUS(sl_env_collect(a, SL_POLICY_MPC, 1, 1, &ds, NULL), SL_ERR_ARG);
    CHECK(ds == NULL);
    sl_env_free(a);
    sl_env_free(b);
}

/* The command line: collect with a task spec and the MPC expert writes the environment record
 * into the sidecar; the environment rebuilds from it; after the model file changes the rebuild
 * is refused; a bad spec exits 1 and writes nothing. */
TEST(cli_collect_records_environment) {
    const char *bin = getenv("SL_BIN");
    if (!bin || !*bin) {
        printf("  SL_BIN not set: skipped\n");
        return;
    }
    const char *tmp = harness_tmpdir();
    char src[600], dst[700], cmd[3000], side[700];
    static const char *files[] = {"push.json", "pusher.xml"};
    for (int i = 0; i < 2; i++) {
        model_path(files[i], src, sizeof src);
        snprintf(dst, sizeof dst, "%s/cli_%s", tmp, files[i]);
        CHECK(copy_file(src, dst));
    }
    /* the copied spec must name the copied model */
    snprintf(dst, sizeof dst, "%s/cli_push.json", tmp);
    char *txt;
    size_t n;
    CHECK_OK(sl_read_file(dst, &txt, &n));
    if (!txt) return;
    char *at = strstr(txt, "\"pusher.xml\"");
    CHECK(at != NULL);
    if (at) {
        char fixed[4096];
        snprintf(fixed, sizeof fixed, "%.*s\"cli_pusher.xml\"%s", (int)(at - txt), txt, at + strlen("\"pusher.xml\""));
        CHECK(write_text(dst, fixed));
    }
    free(txt);
    snprintf(cmd, sizeof cmd, "%s collect --db none -q -p mpc -n 2 -s 4 --mpc-samples 24 --task %s -o %s/cli_real.npz",
             bin, dst, tmp);
    CHECK(system(cmd) == 0);
    snprintf(side, sizeof side, "%s/cli_real.json", tmp);
    sl_env_record rec;
    CHECK_OK(sl_env_record_read(side, &rec));
    CHECK(strcmp(rec.kind, "mjcf") == 0 && strstr(rec.model_path, "cli_pusher.xml") && strcmp(rec.task_name, "push") == 0);
    sl_env *env = NULL;
    CHECK_OK(sl_env_from_record(&env, &rec));
    CHECK(env && env->obs_dim == rec.obs_dim && env->act_dim == 2);
    sl_env_free(env);
    snprintf(dst, sizeof dst, "%s/cli_pusher.xml", tmp);
    FILE *f = fopen(dst, "a");
    if (f) {
        fputs("<!-- changed after collection -->\n", f);
        fclose(f);
    }
    env = NULL;
    CHECK_STATUS(sl_env_from_record(&env, &rec), SL_ERR_STATE);
    CHECK(env == NULL && strstr(sl_last_error(), "cli_pusher.xml") && strstr(sl_last_error(), "changed"));
    sl_env_record_clear(&rec);
    /* a bad spec: exit 1, no dataset, no sidecar */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/cli_bad.json", tmp);
    CHECK(write_text(bad, "{\"name\": \"b\", \"model\": \"cli_pusher.xml\", \"reward\": [{\"quantity\": \"distance\","
                          " \"body\": \"ball\", \"target\": [0, 0, 0], \"weight\": -1}]}"));
    snprintf(cmd, sizeof cmd, "%s collect --db none -q --task %s -o %s/cli_bad.npz 2>%s/cli_bad.err", bin, bad, tmp, tmp);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(dst, sizeof dst, "%s/cli_bad.npz", tmp);
    CHECK(fopen(dst, "rb") == NULL);
    snprintf(dst, sizeof dst, "%s/cli_bad.err", tmp);
    CHECK_OK(sl_read_file(dst, &txt, &n));
    if (txt) {
        CHECK_MSG(strstr(txt, "cli_bad.json") && strstr(txt, "reward[0].body") && strstr(txt, "ball"), "%s", txt);
        free(txt);
    }
}

/* --policy FILE: a trained agent (here an untrained one, saved) drives the collection; its
 * actions are what the dataset records; an agent with other dims is refused, naming both. */
TEST(cli_collect_with_agent_file) {
    const char *bin = getenv("SL_BIN");
    if (!bin || !*bin) {
        printf("  SL_BIN not set: skipped\n");
        return;
    }
    const char *tmp = harness_tmpdir();
    char spec[600], agent_path[700], cmd[3000], out[700];
    model_path("reach_motor.json", spec, sizeof spec);
    sl_env *env = NULL;
    CHECK_OK(sl_env_task_new(&env, spec, NULL, 0, 0));
    if (!env) return;
    for (int k = 0; k < 2; k++) {
        sl_rl_config c = sl_rl_config_defaults(SL_RL_TD3BC, env->obs_dim + k, env->act_dim);
        sl_agent *a = NULL;
        CHECK_OK(sl_agent_new(&a, &c, NULL, NULL));
        snprintf(agent_path, sizeof agent_path, "%s/agent%d.safetensors", tmp, k);
        if (a) CHECK_OK(sl_agent_save(a, agent_path));
        if (k == 0 && a) {
            snprintf(cmd, sizeof cmd, "%s collect --db none -q -p %s -n 2 -s 3 --task %s -o %s/agent_data.npz", bin,
                     agent_path, spec, tmp);
            CHECK(system(cmd) == 0);
            snprintf(out, sizeof out, "%s/agent_data.npz", tmp);
            sl_dataset *ds = NULL;
            CHECK_OK(sl_dataset_load_npz(&ds, out));
            if (ds) {
                /* the first action of each episode is the agent's action on the first observation */
                float act[16];
                CHECK_OK(sl_agent_act(a, ds->observations, 1, act));
                for (int i = 0; i < env->act_dim; i++) {
                    float lo = env->act_lo[i], hi = env->act_hi[i];
                    float want = act[i] < lo ? lo : act[i] > hi ? hi : act[i];
                    CHECK_CLOSE(ds->actions[i], want, 1e-6);
                }
                const double *q = sl_dataset_ep_col(ds, "policy_quality");
                CHECK(q && q[0] == -1.0);
            }
            sl_dataset_free(ds);
        } else if (a) {
            snprintf(cmd, sizeof cmd, "%s collect --db none -q -p %s -n 1 --task %s -o %s/agent_bad.npz 2>%s/agent_bad.err",
                     bin, agent_path, spec, tmp, tmp);
            int rc = system(cmd);
            CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
            snprintf(out, sizeof out, "%s/agent_bad.err", tmp);
            char *txt;
            size_t n;
            CHECK_OK(sl_read_file(out, &txt, &n));
            if (txt) {
                CHECK_MSG(strstr(txt, "agent1.safetensors") && strstr(txt, "obs_dim"), "%s", txt);
                free(txt);
            }
        }
        sl_agent_free(a);
    }
    sl_env_free(env);
}

int main(void) {
    RUN(reward_is_weighted_sum_of_terms);
    RUN(bad_specs_named);
    RUN(record_roundtrip_and_refusals);
    RUN(same_dims_other_model_refused);
    RUN(workcell_task_hash_follows_config);
    RUN(mpc_deterministic_across_threads);
    RUN(mpc_knots_reach);
    RUN(cli_collect_records_environment);
    RUN(cli_collect_with_agent_file);
    RUN(datasets_checked_by_numpy);
    RUN(mpc_beats_random_motor_arm);
    RUN(mpc_beats_random_muscle_arm);
    RUN(mpc_keeps_floating_base_up);
    RUN(mpc_beats_random_pusher_contacts);
    return harness_done();
}
