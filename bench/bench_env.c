/* bench_env.c - environment throughput against the raw cost of MuJoCo's mj_step on the same
 * model, the raw mj_step cost of a 2-link arm (ANCHORS.md: 1.24 us), and the wall time to
 * collect the default 50-episode dataset.
 *
 * There is no Python MuJoCo binding on this machine (and a PyTorch reference makes no sense for
 * a physics step), so the reference here is the physics engine itself: the ratio printed is
 * (env cost per physics step) / (raw mj_step cost), i.e. the overhead of the grasp model, event
 * detection, observation and policy on top of the simulation.
 */
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>

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
    return 0;
}
