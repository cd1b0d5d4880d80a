/* SPDX-License-Identifier: Apache-2.0 */
/* test_env.c - environments: determinism, econ metrics on hand-built situations, expert vs
 * random, bad input (malformed MJCF, NaN actions, diverging physics), the generic MJCF env and
 * the collected dataset's columns (checked independently by tests/py/env_check_npz.py). */
#include <math.h>
#include <string.h>

#include "env/env_internal.h"
#include "harness.h"
#include "synthloop/sl_dataset.h"
#include "synthloop/sl_env.h"

static const char *root(void) {
    const char *r = getenv("SL_TEST_ROOT");
    return r && *r ? r : ".";
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    fclose(f);
    return 1;
}

static int same_dataset(const sl_dataset *a, const sl_dataset *b) {
    if (a->n != b->n || a->n_episodes != b->n_episodes || a->obs_dim != b->obs_dim ||
        a->act_dim != b->act_dim || a->n_step_cols != b->n_step_cols || a->n_ep_cols != b->n_ep_cols)
        return 0;
    size_t n = a->n, od = (size_t)a->obs_dim, ad = (size_t)a->act_dim;
    if (memcmp(a->observations, b->observations, n * od * 4) ||
        memcmp(a->next_observations, b->next_observations, n * od * 4) ||
        memcmp(a->actions, b->actions, n * ad * 4) || memcmp(a->rewards, b->rewards, n * 4) ||
        memcmp(a->terminals, b->terminals, n) || memcmp(a->timeouts, b->timeouts, n) ||
        memcmp(a->episode_ids, b->episode_ids, n * 4) || memcmp(a->timesteps, b->timesteps, n * 4))
        return 0;
    for (int c = 0; c < a->n_step_cols; c++)
        if (strcmp(a->step_cols[c].name, b->step_cols[c].name) ||
            memcmp(a->step_cols[c].data, b->step_cols[c].data, n * 4))
            return 0;
    for (int c = 0; c < a->n_ep_cols; c++)
        if (strcmp(a->ep_cols[c].name, b->ep_cols[c].name) ||
            memcmp(a->ep_cols[c].data, b->ep_cols[c].data, a->n_episodes * 8))
            return 0;
    return 1;
}

/* --- determinism ---------------------------------------------------------- */

TEST(same_seed_same_bytes) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    sl_dataset *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 8, 42, &a, NULL));
    CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 8, 42, &b, NULL));
    CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 8, 43, &c, NULL));
    if (a && b && c) {
        CHECK(same_dataset(a, b));
        CHECK(!same_dataset(a, c));
        CHECK(memcmp(a->observations, c->observations, 24 * 4 * 10) != 0);
        /* also through the file: same bytes on disk */
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/det_a.npz", harness_tmpdir());
        snprintf(pb, sizeof pb, "%s/det_b.npz", harness_tmpdir());
        CHECK_OK(sl_dataset_save_npz(a, pa));
        CHECK_OK(sl_dataset_save_npz(b, pb));
        char ha[65] = "", hb[65] = "";
        CHECK_OK(sl_sha256_file(pa, ha));
        CHECK_OK(sl_sha256_file(pb, hb));
        CHECK(ha[0] && strcmp(ha, hb) == 0);
    }
    /* a fresh env object gives the same episodes too (no hidden state between objects) */
    sl_env *env2 = NULL;
    CHECK_OK(sl_env_workcell_new(&env2, NULL));
    sl_dataset *d = NULL;
    if (env2) CHECK_OK(sl_env_collect(env2, SL_POLICY_MIXED, 8, 42, &d, NULL));
    if (a && d) CHECK(same_dataset(a, d));
    sl_dataset_free(a);
    sl_dataset_free(b);
    sl_dataset_free(c);
    sl_dataset_free(d);
    sl_env_free(env);
    sl_env_free(env2);
}

/* --- econ metrics on hand-built situations -------------------------------- */

TEST(econ_compute) {
    sl_econ_params p = sl_econ_default();
    sl_env_metrics m;
    memset(&m, 0, sizeof m);
    m.units = 3;
    m.attempts = 4;
    m.failures = 1;
    m.sim_seconds = 6.0;
    m.energy_wh = 0.03;
    CHECK_OK(sl_econ_compute(&m, &p));
    CHECK_CLOSE(m.mpl, 1800.0, 1e-12);
    CHECK_CLOSE(m.error_rate, 0.25, 1e-12);
    CHECK_CLOSE(m.ep, 100.0, 1e-12);
    CHECK_CLOSE(m.wage_parity, 1800.0 * 0.03 / 18.0, 1e-12);
    m.failures = 5; /* more failures than attempts cannot happen */
    CHECK_STATUS(sl_econ_compute(&m, &p), SL_ERR_ARG);
    m.failures = 1;
    p.human_wage = 0;
    CHECK_STATUS(sl_econ_compute(&m, &p), SL_ERR_ARG);
    p = sl_econ_default();
    m.sim_seconds = 0;
    CHECK_STATUS(sl_econ_compute(&m, &p), SL_ERR_ARG);
}

/* Zero torque spends zero energy, yet the physics moves (the lift sags under gravity). */
TEST(zero_torque_zero_energy) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    float obs[SL_WC_OBS_DIM], a[SL_WC_ACT_DIM] = {0, 0, 0, -1};
    CHECK_OK(sl_env_reset(env, 5, obs));
    float z0 = obs[SL_WC_OBS_TIP + 2];
    sl_env_out ev;
    double e = 0;
    for (int t = 0; t < 60; t++) {
        CHECK_OK(sl_env_step(env, a, obs, NULL, &ev));
        e += ev.energy_wh;
    }
    CHECK(e == 0.0);
    CHECK(obs[SL_WC_OBS_TIP + 2] < z0 - 0.05f); /* nothing holds the lift up */
    sl_env_metrics m;
    CHECK_OK(sl_env_episode_metrics(env, &m));
    CHECK(m.energy_wh == 0.0 && m.ep == 0.0);
    /* and a pushing episode does spend energy */
    float push[SL_WC_ACT_DIM] = {0.5f, 0, 0.3f, -1};
    CHECK_OK(sl_env_reset(env, 5, obs));
    CHECK_OK(sl_env_step(env, push, obs, NULL, &ev));
    CHECK(ev.energy_wh > 0.0);
    sl_env_free(env);
}

/* An item resting in the bin counts exactly once, however long the episode goes on. */
TEST(placed_item_counts_once) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    float obs[SL_WC_OBS_DIM], a[SL_WC_ACT_DIM] = {0, 0, 0.2f, -1};
    CHECK_OK(sl_env_reset(env, 9, obs));
    const double in_bin[3] = {0.35, -0.30, 0.036};
    CHECK_OK(sl_workcell_debug_place_item(env, in_bin, 0));
    int units = 0, first = -1;
    sl_env_out ev;
    for (int t = 0; t < 60; t++) {
        CHECK_OK(sl_env_step(env, a, obs, NULL, &ev));
        units += ev.units;
        if (ev.units && first < 0) first = t;
    }
    CHECK_MSG(units == 1, "units %d (first at step %d)", units, first);
    CHECK(first >= 0 && first < 5);
    sl_env_metrics m;
    CHECK_OK(sl_env_episode_metrics(env, &m));
    CHECK(m.units == 1 && m.attempts == 1 && m.failures == 0);
    CHECK_CLOSE(m.mpl, 1.0 / (6.0 / 3600.0), 1e-9);
    sl_env_free(env);
}

/* A heavy, slippery item yanked upwards slips out of the grip: a drop, not a unit. The same
 * motion with a light, grippy item keeps the grasp. */
TEST(yanked_item_drops) {
    for (int heavy = 1; heavy >= 0; heavy--) {
        sl_workcell_config cfg = sl_workcell_default();
        cfg.mass_lo = cfg.mass_hi = heavy ? 1.0 : 0.2;
        cfg.friction_lo = cfg.friction_hi = heavy ? 0.3 : 1.0;
        sl_env *env = NULL;
        CHECK_OK(sl_env_workcell_new(&env, &cfg));
        if (!env) return;
        float obs[SL_WC_OBS_DIM];
        CHECK_OK(sl_env_reset(env, 3, obs));
        /* item hanging under the tip, away from the bin and the feeder */
        double pos[3] = {(double)obs[SL_WC_OBS_TIP], (double)obs[SL_WC_OBS_TIP + 1],
                          (double)obs[SL_WC_OBS_TIP + 2] - 0.03};
        CHECK_OK(sl_workcell_debug_place_item(env, pos, 1));
        float yank[SL_WC_ACT_DIM] = {1.0f, 0.0f, 1.0f, 1.0f};
        float gentle[SL_WC_ACT_DIM] = {0.0f, 0.0f, 0.25f, 1.0f};
        sl_env_out ev;
        int drops = 0, held_after = 0;
        for (int t = 0; t < 20; t++) {
            CHECK_OK(sl_env_step(env, heavy ? yank : gentle, obs, NULL, &ev));
            drops += ev.errors[SL_ENV_ERR_DROP];
            if (t == 19) held_after = ev.holding;
        }
        if (heavy) {
            CHECK_MSG(drops == 1, "heavy item: %d drops", drops);
        } else {
            CHECK_MSG(drops == 0 && held_after, "light item: drops %d held %d", drops, held_after);
        }
        sl_env_free(env);
    }
}

/* Releasing an item over the floor is a miss; the failure is counted once. */
TEST(released_outside_bin_is_miss) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    float obs[SL_WC_OBS_DIM];
    CHECK_OK(sl_env_reset(env, 4, obs));
    double pos[3] = {(double)obs[SL_WC_OBS_TIP], (double)obs[SL_WC_OBS_TIP + 1],
                          (double)obs[SL_WC_OBS_TIP + 2] - 0.03};
    CHECK_OK(sl_workcell_debug_place_item(env, pos, 1));
    float release[SL_WC_ACT_DIM] = {0, 0, 0.2f, -1};
    sl_env_out ev;
    int misses = 0, failures = 0;
    for (int t = 0; t < 60; t++) {
        CHECK_OK(sl_env_step(env, release, obs, NULL, &ev));
        misses += ev.errors[SL_ENV_ERR_MISS];
        failures += ev.failures;
    }
    CHECK_MSG(misses == 1 && failures == 1, "misses %d failures %d", misses, failures);
    sl_env_free(env);
}

/* Expert data is clearly better than random data in MPL and error rate. */
TEST(expert_beats_random) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    sl_collect_summary ex, me, ra;
    sl_dataset *d1 = NULL, *d2 = NULL, *d3 = NULL;
    CHECK_OK(sl_env_collect(env, SL_POLICY_EXPERT, 20, 7, &d1, &ex));
    CHECK_OK(sl_env_collect(env, SL_POLICY_MEDIUM, 20, 7, &d2, &me));
    CHECK_OK(sl_env_collect(env, SL_POLICY_RANDOM, 20, 7, &d3, &ra));
    printf("  expert mpl %.0f err %.2f | medium mpl %.0f err %.2f | random mpl %.0f err %.2f\n",
           ex.mean_mpl, ex.mean_error_rate, me.mean_mpl, me.mean_error_rate, ra.mean_mpl,
           ra.mean_error_rate);
    CHECK(ex.mean_mpl > 900.0);
    CHECK(ex.mean_mpl > ra.mean_mpl + 800.0);
    CHECK(ex.mean_error_rate < 0.2);
    CHECK(ra.mean_error_rate > 0.8);
    CHECK(me.mean_mpl < ex.mean_mpl && me.mean_mpl >= ra.mean_mpl);
    CHECK(me.mean_error_rate > ex.mean_error_rate);
    CHECK(ex.mean_return > me.mean_return && me.mean_return > ra.mean_return);
    sl_dataset_free(d1);
    sl_dataset_free(d2);
    sl_dataset_free(d3);
    sl_env_free(env);
}

/* --- the collected dataset ------------------------------------------------ */

TEST(collected_columns_consistent) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    sl_dataset *ds = NULL;
    sl_collect_summary s;
    CHECK_OK(sl_env_collect(env, SL_POLICY_MIXED, 12, 11, &ds, &s));
    if (!ds) {
        sl_env_free(env);
        return;
    }
    CHECK(ds->n == 12 * 60 && ds->n_episodes == 12 && s.steps == ds->n);
    CHECK_OK(sl_dataset_validate(ds, "collected"));
    float *unit = sl_dataset_step_col(ds, "unit_done"), *err = sl_dataset_step_col(ds, "error_event");
    float *att = sl_dataset_step_col(ds, "attempt_event"), *en = sl_dataset_step_col(ds, "energy_wh");
    double *eu = sl_dataset_ep_col(ds, "units"), *ef = sl_dataset_ep_col(ds, "failures");
    double *ea = sl_dataset_ep_col(ds, "attempts"), *ee = sl_dataset_ep_col(ds, "energy_wh");
    double *mass = sl_dataset_ep_col(ds, "item_mass"), *q = sl_dataset_ep_col(ds, "policy_quality");
    CHECK(unit && err && att && en && eu && ef && ea && ee && mass && q);
    if (unit && err && att && en && eu && ef && ea && ee && mass && q) {
        for (size_t e = 0; e < ds->n_episodes; e++) {
            size_t s0, s1;
            CHECK_OK(sl_dataset_episode_range(ds, e, &s0, &s1));
            double su = 0, sf = 0, sa = 0, se = 0;
            for (size_t r = s0; r < s1; r++) {
                su += (double)unit[r];
                sf += (double)err[r];
                sa += (double)att[r];
                se += (double)en[r];
                CHECK(ds->timesteps[r] == (int32_t)(r - s0));
                CHECK(ds->timeouts[r] == (r + 1 == s1));
                if (r + 1 < s1)
                    CHECK(memcmp(ds->next_observations + r * 24, ds->observations + (r + 1) * 24, 96) == 0);
            }
            CHECK(su == eu[e] && sf == ef[e] && sa == ea[e]);
            CHECK(ef[e] <= ea[e]);
            CHECK_CLOSE(se, ee[e], 1e-5);
            CHECK(mass[e] >= 0.2 && mass[e] <= 1.0);
            CHECK(q[e] == 0.0 || q[e] == 0.5 || q[e] == 1.0);
        }
        for (size_t i = 0; i < ds->n * 4; i++) CHECK(ds->actions[i] >= -1.0f && ds->actions[i] <= 1.0f);
    }
    /* the independent numpy check of the file */
    char path[600], cmd[2048];
    snprintf(path, sizeof path, "%s/collected.npz", harness_tmpdir());
    CHECK_OK(sl_dataset_save_npz(ds, path));
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/env_check_npz.py %s 12 60", SL_PYTHON, root(), path);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "python check failed (%d): %s", rc, cmd);
    sl_dataset_free(ds);
    sl_env_free(env);
}

/* --- bad input ------------------------------------------------------------ */

TEST(nan_action_rejected) {
    sl_env *env = NULL;
    CHECK_OK(sl_env_workcell_new(&env, NULL));
    if (!env) return;
    float obs[SL_WC_OBS_DIM], a[SL_WC_ACT_DIM] = {0, 0, NAN, 1};
    sl_env_out ev;
    CHECK_STATUS(sl_env_step(env, a, obs, NULL, &ev), SL_ERR_STATE); /* before reset */
    CHECK_OK(sl_env_reset(env, 1, obs));
    CHECK_STATUS(sl_env_step(env, a, obs, NULL, &ev), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "action[2]") && strstr(sl_last_error(), "NaN"));
    a[2] = 0;
    a[0] = -INFINITY;
    CHECK_STATUS(sl_env_step(env, a, obs, NULL, &ev), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "action[0]") && strstr(sl_last_error(), "Inf"));
    /* a rejected action does not advance or break the episode; out-of-range values are clipped */
    float big[SL_WC_ACT_DIM] = {5, -7, 0.5f, 1}, applied[SL_WC_ACT_DIM];
    CHECK_OK(sl_env_step(env, big, obs, applied, &ev));
    CHECK(applied[0] == 1.0f && applied[1] == -1.0f && applied[2] == 0.5f);
    CHECK(env->t == 1);
    for (int t = 1; t < 60; t++) CHECK_OK(sl_env_step(env, big, obs, NULL, &ev));
    CHECK(ev.timeout == 1);
    CHECK_STATUS(sl_env_step(env, big, obs, NULL, &ev), SL_ERR_STATE); /* episode over */
    sl_env_free(env);
}

static const char *arm_xml =
    "<mujoco model='arm2'>\n"
    "  <option timestep='0.002'/>\n"
    "  <worldbody>\n"
    "    <body name='l1' pos='0 0 0'>\n"
    "      <joint name='j1' type='hinge' axis='0 0 1' damping='0.05'/>\n"
    "      <geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>\n"
    "      <body name='l2' pos='0.1 0 0'>\n"
    "        <joint name='j2' type='hinge' axis='0 0 1' damping='0.05'/>\n"
    "        <geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>\n"
    "        <site name='tip' pos='0.1 0 0'/>\n"
    "      </body>\n"
    "    </body>\n"
    "  </worldbody>\n"
    "  <actuator>\n"
    "    <motor joint='j1' gear='1' ctrllimited='true' ctrlrange='-1 1'/>\n"
    "    <motor joint='j2' gear='1' ctrllimited='true' ctrlrange='-1 1'/>\n"
    "  </actuator>\n"
    "</mujoco>\n";

TEST(malformed_mjcf_named) {
    char path[600];
    snprintf(path, sizeof path, "%s/broken.xml", harness_tmpdir());
    CHECK(write_text(path, "<mujoco><worldbody><body name='a'><geom type='sphere' size='0.1'/>"
                           "</worldbody></mujoco>\n"));
    sl_mjcf_task task = sl_mjcf_task_default();
    task.site = "tip";
    sl_env *env = NULL;
    CHECK_STATUS(sl_env_mjcf_new(&env, path, &task), SL_ERR_PHYSICS);
    CHECK(env == NULL);
    const char *m = sl_last_error();
    CHECK_MSG(strstr(m, path) && strstr(m, "MuJoCo"), "message: %s", m);
    CHECK(strchr(m, '\n') == NULL);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.xml", harness_tmpdir());
    CHECK_STATUS(sl_env_mjcf_new(&env, missing, &task), SL_ERR_NOTFOUND);
    CHECK(strstr(sl_last_error(), "nope.xml") != NULL);
    /* a valid model without the named site */
    char good[600];
    snprintf(good, sizeof good, "%s/arm2.xml", harness_tmpdir());
    CHECK(write_text(good, arm_xml));
    task.site = "hand";
    CHECK_STATUS(sl_env_mjcf_new(&env, good, &task), SL_ERR_NOTFOUND);
    CHECK(strstr(sl_last_error(), "hand") && strstr(sl_last_error(), "arm2.xml"));
}

TEST(generic_mjcf_reach) {
    char good[600];
    snprintf(good, sizeof good, "%s/arm2.xml", harness_tmpdir());
    CHECK(write_text(good, arm_xml));
    sl_mjcf_task task = sl_mjcf_task_default();
    task.site = "tip";
    task.target[0] = 0.05;
    task.target[1] = 0.14;
    sl_env *env = NULL;
    CHECK_OK(sl_env_mjcf_new(&env, good, &task));
    if (!env) return;
    CHECK(env->obs_dim == 2 + 2 + 6 && env->act_dim == 2);
    sl_collect_summary ex, ra;
    sl_dataset *d1 = NULL, *d2 = NULL;
    CHECK_OK(sl_env_collect(env, SL_POLICY_EXPERT, 10, 1, &d1, &ex));
    CHECK_OK(sl_env_collect(env, SL_POLICY_RANDOM, 10, 1, &d2, &ra));
    printf("  generic reach: expert units %.2f err %.2f | random units %.2f err %.2f\n",
           ex.mean_units, ex.mean_error_rate, ra.mean_units, ra.mean_error_rate);
    CHECK(ex.mean_units >= 0.9);          /* the expert reaches the target */
    CHECK(ex.mean_units > ra.mean_units); /* random mostly does not */
    if (d1) {
        CHECK(d1->n < 10 * 60);           /* success ends episodes early (terminal) */
        int terms = 0;
        for (size_t i = 0; i < d1->n; i++) terms += d1->terminals[i];
        CHECK(terms == (int)(ex.mean_units * 10 + 0.5));
        CHECK_OK(sl_dataset_validate(d1, "generic"));
    }
    sl_dataset_free(d1);
    sl_dataset_free(d2);
    sl_env_free(env);
}

/* A model whose actuator is absurdly strong for its inertia makes MuJoCo's qacc blow up:
 * the step fails with SL_ERR_DIVERGED and collect returns no dataset (so nothing NaN is
 * ever written). */
TEST(diverging_sim_fails_clearly) {
    char path[600];
    snprintf(path, sizeof path, "%s/boom.xml", harness_tmpdir());
    CHECK(write_text(path,
                     "<mujoco model='boom'>\n"
                     "  <option timestep='0.01'/>\n"
                     "  <worldbody><body name='b'>\n"
                     "    <joint name='j' type='slide' axis='1 0 0'/>\n"
                     "    <geom type='sphere' size='0.01' mass='1e-6'/>\n"
                     "    <site name='s'/>\n"
                     "  </body></worldbody>\n"
                     "  <actuator><motor joint='j' gear='1e12' ctrllimited='true' ctrlrange='-1 1'/></actuator>\n"
                     "</mujoco>\n"));
    sl_mjcf_task task = sl_mjcf_task_default();
    task.site = "s";
    task.target[0] = 1;
    sl_env *env = NULL;
    CHECK_OK(sl_env_mjcf_new(&env, path, &task));
    if (!env) return;
    float obs[16], a[1] = {1.0f};
    sl_env_out ev;
    CHECK_OK(sl_env_reset(env, 1, obs));
    sl_status st = SL_OK;
    int t;
    for (t = 0; t < 60 && st == SL_OK; t++) st = sl_env_step(env, a, obs, NULL, &ev);
    CHECK_STATUS(st, SL_ERR_DIVERGED);
    CHECK_MSG(strstr(sl_last_error(), "boom.xml") && strstr(sl_last_error(), "diverged"), "%s",
              sl_last_error());
    CHECK_STATUS(sl_env_step(env, a, obs, NULL, &ev), SL_ERR_STATE);
    sl_dataset *ds = NULL;
    CHECK_STATUS(sl_env_collect(env, SL_POLICY_EXPERT, 3, 1, &ds, NULL), SL_ERR_DIVERGED);
    CHECK(ds == NULL);
    /* reset recovers */
    CHECK_OK(sl_env_reset(env, 2, obs));
    a[0] = 0;
    CHECK_OK(sl_env_step(env, a, obs, NULL, &ev));
    sl_env_free(env);
}

TEST(policy_names) {
    sl_policy_kind k;
    for (int i = 0; i < SL_POLICY_KIND_COUNT; i++) {
        CHECK_OK(sl_policy_parse(sl_policy_name((sl_policy_kind)i), &k));
        CHECK(k == (sl_policy_kind)i);
    }
    CHECK_STATUS(sl_policy_parse("expertish", &k), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "medium-expert") != NULL);
    CHECK(strcmp(sl_env_error_kind_name(SL_ENV_ERR_COLLISION), "collision") == 0);
    sl_env_free(NULL);
}

int main(void) {
    RUN(econ_compute);
    RUN(policy_names);
    RUN(same_seed_same_bytes);
    RUN(zero_torque_zero_energy);
    RUN(placed_item_counts_once);
    RUN(yanked_item_drops);
    RUN(released_outside_bin_is_miss);
    RUN(expert_beats_random);
    RUN(collected_columns_consistent);
    RUN(nan_action_rejected);
    RUN(malformed_mjcf_named);
    RUN(generic_mjcf_reach);
    RUN(diverging_sim_fails_clearly);
    return harness_done();
}
