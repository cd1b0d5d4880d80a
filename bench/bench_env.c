/* SPDX-License-Identifier: Apache-2.0 */
/* bench_env.c - environment throughput against the raw cost of MuJoCo's mj_step on the same
 * model, the raw mj_step cost of a 2-link arm (ANCHORS.md: 1.24 us), the wall time to
 * collect the default 50-episode dataset, and the MPC expert on the task-spec models of
 * tests/models: control steps per second and its cost per control step in mj_step units
 * (planner wall time per control step / raw mj_step time of the same model, measured in the
 * same run), with 1 thread and with every thread.
 *
 * There is no Python MuJoCo binding on this machine (and a PyTorch reference makes no sense for
 * a physics step), so the reference here is the physics engine itself: the ratio printed is
 * (env cost per physics step) / (raw mj_step cost), i.e. the overhead of the grasp model, event
 * detection, observation and policy on top of the simulation.
 */
#include <mujoco/mujoco.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env_internal.h"
#include "synthloop/sl_env.h"

static const char *arm2_xml =
    "<mujoco model='arm2'><option timestep='0.002'/><worldbody>"
    "<body name='l1'><joint name='j1' type='hinge' axis='0 0 1' damping='0.05'/>"
    "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>"
    "<body name='l2' pos='0.1 0 0'><joint name='j2' type='hinge' axis='0 0 1' damping='0.05'/>"
    "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>"
    "<site name='tip' pos='0.1 0 0'/></body></body></worldbody>"
    "<actuator><motor joint='j1' gear='1'/><motor joint='j2' gear='1'/></actuator></mujoco>";

/* Best-of-3 microseconds per mj_step for a model from its reset state, with constant controls
 * (ctrl may be NULL: 0.05 on every actuator). */
static double raw_step_us(const char *name, const char *xml, int steps, const double *ctrl,
                          int no_contacts) {
    mjModel *m = NULL;
    if (sl_mj_load(&m, name, xml) != SL_OK) {
        fprintf(stderr, "bench_env: %s\n", sl_last_error());
        exit(1);
    }
    if (no_contacts) m->opt.disableflags |= mjDSBL_CONTACT;
    mjData *d = mj_makeData(m);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        mj_resetData(m, d);
        for (int i = 0; i < m->nu; i++) d->ctrl[i] = ctrl ? ctrl[i] : 0.05;
        double t0 = sl_now();
        for (int s = 0; s < steps; s++) mj_step(m, d);
        double us = (sl_now() - t0) * 1e6 / steps;
        if (us < best) best = us;
    }
    mj_deleteData(d);
    mj_deleteModel(m);
    return best;
}

/* Seconds per raw mj_step from the env's current state with its current controls (200 steps
 * on a scratch copy). Measured right after each plan, so that both see the same machine load:
 * a model's step cost also depends on its state (contacts, a body at rest on the floor). */
static double raw_step_here(const mjModel *m, const mjData *src, mjData *d) {
    mj_resetData(m, d);
    memcpy(d->qpos, src->qpos, (size_t)m->nq * sizeof(double));
    memcpy(d->qvel, src->qvel, (size_t)m->nv * sizeof(double));
    memcpy(d->act, src->act, (size_t)m->na * sizeof(double));
    memcpy(d->ctrl, src->ctrl, (size_t)m->nu * sizeof(double));
    double t0 = sl_now();
    for (int s = 0; s < 200; s++) mj_step(m, d);
    return (sl_now() - t0) / 200.0;
}

/* The MPC expert on each task-spec model: one episode (up to 40 control steps) per thread
 * setting. The count of mj_step + mj_forward calls per control step is exact; the measured ratio
 * (planner time / raw mj_step time measured right after each plan) moves with machine load. */
static int bench_mpc(void) {
    static const char *specs[] = {"reach_motor.json", "reach_muscle.json", "hover.json", "push.json"};
    const char *root = getenv("SL_TEST_ROOT");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/models", root && *root ? root : ".");
    sl_mpc_config c = sl_mpc_default();
    printf("  MPC expert (MPPI: %d samples x %d steps x %d iterations per control step)\n", c.samples, c.horizon,
           c.iterations);
    int nmax = omp_get_max_threads();
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char spec[700];
        snprintf(spec, sizeof spec, "%s/%s", dir, specs[i]);
        for (int th = 1; th <= nmax; th = th == nmax ? nmax + 1 : nmax) {
            sl_env *env = NULL;
            if (sl_env_task_new(&env, spec, NULL, 0, 0) != SL_OK) {
                fprintf(stderr, "bench_env: %s\n", sl_last_error());
                return 1;
            }
            c.threads = th;
            sl_env_set_mpc(env, &c);
            float obs[256], act[64];
            sl_rng rng;
            const mjcf_env *me = env->ctx;
            mjData *scratch = mj_makeData(me->m);
            double t_plan = 0, t_raw = 0;
            int steps = 0;
            sl_rng_seed(&rng, 1, 0);
            if (!scratch || sl_env_reset(env, 3, obs) != SL_OK) return 1;
            for (int t = 0; t < 40 && t < env->max_steps; t++) {
                sl_env_out ev;
                double t0 = sl_now();
                if (sl_policy_act(env, SL_POLICY_MPC, &rng, obs, act) != SL_OK) return 1;
                t_plan += sl_now() - t0;
                if (sl_env_step(env, act, obs, NULL, &ev) != SL_OK) {
                    fprintf(stderr, "bench_env: %s\n", sl_last_error());
                    return 1;
                }
                t_raw += raw_step_here(me->m, me->d, scratch);
                steps++;
                if (ev.terminal || ev.timeout) break;
            }
            mj_deleteData(scratch);
            double best = t_plan / steps, raw = t_raw / steps * 1e6;
            /* mj_step calls the planner makes per control step: rollouts x (frame_skip + 1 forward) */
            double calls = (double)c.samples * c.horizon * c.iterations * (env->frame_skip + 1);
            printf("    %-18s %d thread%s: %6.1f planned steps/s, %6.0f mj_step units per control step "
                   "(%.0f mj_step+mj_forward calls made; raw mj_step %.2f us; %d steps)\n",
                   specs[i], th, th > 1 ? "s" : " ", 1.0 / best, best * 1e6 / raw, calls, raw, steps);
            sl_env_free(env);
        }
    }
    return 0;
}

int main(void) {
    printf("bench_env (numbers under load if other jobs run; best of 3)\n");
    /* workcell: item resting on the feeder, lift held against gravity (tool 0.3 kg, gear 40) */
    const double hold[3] = {0.0, 0.0, 0.3 * 9.81 / 40.0};
    double arm_us = raw_step_us("arm2.xml", arm2_xml, 200000, NULL, 0);
    double wc_us = raw_step_us("workcell.xml", sl_workcell_xml(), 30000, hold, 0);
    double wc0_us = raw_step_us("workcell.xml", sl_workcell_xml(), 30000, hold, 1);
    printf("  raw mj_step, 2-link arm        : %8.3f us/step  (ANCHORS.md: 1.24 us)\n", arm_us);
    printf("  raw mj_step, workcell, item resting on feeder (4 contacts): %8.3f us/step\n", wc_us);
    printf("  raw mj_step, workcell, contacts disabled                  : %8.3f us/step\n", wc0_us);

    sl_env *env = NULL;
    if (sl_env_workcell_new(&env, NULL) != SL_OK) {
        fprintf(stderr, "bench_env: %s\n", sl_last_error());
        return 1;
    }
    /* env throughput with the expert policy (the busiest case: grasps, transport, releases) */
    float obs[SL_WC_OBS_DIM], act[SL_WC_ACT_DIM];
    sl_rng rng;
    double best = 1e30;
    int eps = 20;
    for (int rep = 0; rep < 3; rep++) {
        sl_rng_seed(&rng, 1, 0);
        double t0 = sl_now();
        for (int e = 0; e < eps; e++) {
            if (sl_env_reset(env, (uint64_t)e, obs) != SL_OK) return 1;
            for (int t = 0; t < env->max_steps; t++) {
                sl_env_out ev;
                sl_policy_act(env, SL_POLICY_EXPERT, &rng, obs, act);
                if (sl_env_step(env, act, obs, NULL, &ev) != SL_OK) {
                    fprintf(stderr, "bench_env: %s\n", sl_last_error());
                    return 1;
                }
            }
        }
        double s = sl_now() - t0;
        if (s < best) best = s;
    }
    double csteps = (double)eps * env->max_steps;
    double per_phys_us = best * 1e6 / (csteps * env->frame_skip);
    printf("  env control steps/s (expert)   : %8.0f  (%d physics steps each, %.3f us per physics step)\n",
           csteps / best, env->frame_skip, per_phys_us);
    printf("  env / raw mj_step cost ratio   : %8.2fx of the resting-item step, %.2fx of the contact-free step\n",
           per_phys_us / wc_us, per_phys_us / wc0_us);
    printf("  simulated / wall time          : %8.0fx real time\n",
           csteps * env->control_dt / best);

    /* the default `synthloop collect`: 50 episodes, mixed policy, dataset in memory */
    sl_progress_set_quiet(1);
    double cbest = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        sl_dataset *ds = NULL;
        double t0 = sl_now();
        if (sl_env_collect(env, SL_POLICY_MIXED, 50, 1, &ds, NULL) != SL_OK) {
            fprintf(stderr, "bench_env: %s\n", sl_last_error());
            return 1;
        }
        double s = sl_now() - t0;
        if (s < cbest) cbest = s;
        sl_dataset_free(ds);
    }
    printf("  collect 50 episodes (mixed)    : %8.3f s wall (3000 control steps, 75000 mj_steps)\n", cbest);
    sl_env_free(env);
    return bench_mpc();
}
