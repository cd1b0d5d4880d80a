/* SPDX-License-Identifier: Apache-2.0 */
/* workcell.c - the built-in MuJoCo pick-and-place workcell: a torque-controlled SCARA arm
 * (shoulder and elbow hinges about z, a vertical lift slide) moves items of varying mass and
 * friction from a feeder table into a bin. See docs/WORKCELL.md for the full description.
 *
 * Grasp model: a suction-style gripper. When the grip command is on (and was switched on since
 * the last lost grasp) and the tool tip is within 2 cm of the item's top face, the item is
 * attached by a stiff spring-damper applied as equal and opposite forces on item and tool
 * (mj_applyFT, recomputed at every physics step). The spring transmits at most
 * mu_item * grip_normal_n newtons; accelerating a heavy or slippery item harder than that
 * breaks the grasp and the item falls under gravity. Outcomes are decided by where the item
 * comes to rest: in the bin => unit; elsewhere (not on the feeder) => drop or miss.
 *
 * Key invariant: a unit is counted once, when a released item comes to rest inside the bin;
 * the item is then immediately replaced by a new one on the feeder, so it cannot count again.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

/* --- the model ------------------------------------------------------------ */

#define WC_DT 0.004
#define WC_L1 0.30
#define WC_L2 0.25
#define WC_TIP_Z0 0.385 /* tip height at lift = 0 */
#define WC_FEEDER_X 0.35
#define WC_FEEDER_Y 0.30
#define WC_FEEDER_TOP 0.10
#define WC_FEEDER_HALF 0.08
#define WC_BIN_X 0.35
#define WC_BIN_Y (-0.30)
#define WC_BIN_INNER 0.07
#define WC_BIN_RIM 0.12
#define WC_ITEM_HALF 0.025
#define WC_SAFE_Z 0.26 /* tip height for carrying: item bottom clears the bin rim */

static const char workcell_xml[] =
    "<mujoco model='synthloop_workcell'>\n"
    "  <compiler angle='radian'/>\n"
    "  <option timestep='0.004' integrator='Euler' gravity='0 0 -9.81'/>\n"
    "  <default>\n"
    "    <joint armature='0.01' limited='true'/>\n"
    "    <geom contype='1' conaffinity='3' friction='0.3 0.005 0.0001' condim='3'/>\n"
    "  </default>\n"
    "  <worldbody>\n"
    "    <light pos='0 0 2'/>\n"
    "    <geom name='floor' type='plane' size='1 1 0.1'/>\n"
    "    <geom name='column' type='cylinder' size='0.05 0.225' pos='0 0 0.225'/>\n"
    "    <geom name='feeder' type='box' size='0.08 0.08 0.05' pos='0.35 0.30 0.05'/>\n"
    "    <geom name='bin_floor' type='box' size='0.08 0.08 0.005' pos='0.35 -0.30 0.005'/>\n"
    "    <geom name='bin_wall_n' type='box' size='0.08 0.005 0.06' pos='0.35 -0.225 0.06'/>\n"
    "    <geom name='bin_wall_s' type='box' size='0.08 0.005 0.06' pos='0.35 -0.375 0.06'/>\n"
    "    <geom name='bin_wall_e' type='box' size='0.005 0.07 0.06' pos='0.425 -0.30 0.06'/>\n"
    "    <geom name='bin_wall_w' type='box' size='0.005 0.07 0.06' pos='0.275 -0.30 0.06'/>\n"
    "    <body name='link1' pos='0 0 0.45'>\n"
    "      <joint name='shoulder' type='hinge' axis='0 0 1' range='-2.8 2.8' damping='4'/>\n"
    "      <geom name='link1' type='capsule' fromto='0 0 0 0.3 0 0' size='0.03' mass='1.0'\n"
    "            contype='0' conaffinity='0'/>\n"
    "      <body name='link2' pos='0.3 0 0'>\n"
    "        <joint name='elbow' type='hinge' axis='0 0 1' range='-2.8 2.8' damping='2'/>\n"
    "        <geom name='link2' type='capsule' fromto='0 0 0 0.25 0 0' size='0.025' mass='0.6'\n"
    "              contype='0' conaffinity='0'/>\n"
    "        <body name='tool' pos='0.25 0 0'>\n"
    "          <joint name='lift' type='slide' axis='0 0 1' range='-0.39 0' damping='20'/>\n"
    "          <geom name='tool' type='capsule' fromto='0 0 -0.05 0 0 0.30' size='0.015'\n"
    "                mass='0.3' contype='2' conaffinity='0'/>\n"
    "          <site name='tip' pos='0 0 -0.065' size='0.01'/>\n"
    "        </body>\n"
    "      </body>\n"
    "    </body>\n"
    "    <body name='item' pos='0.35 0.30 0.126'>\n"
    "      <freejoint name='item'/>\n"
    "      <geom name='item' type='box' size='0.025 0.025 0.025' mass='0.5'\n"
    "            friction='0.6 0.005 0.0001' contype='1' conaffinity='1'/>\n"
    "    </body>\n"
    "  </worldbody>\n"
    "  <actuator>\n"
    "    <motor name='shoulder' joint='shoulder' gear='20' ctrllimited='true' ctrlrange='-1 1'/>\n"
    "    <motor name='elbow' joint='elbow' gear='10' ctrllimited='true' ctrlrange='-1 1'/>\n"
    "    <motor name='lift' joint='lift' gear='40' ctrllimited='true' ctrlrange='-1 1'/>\n"
    "  </actuator>\n"
    "</mujoco>\n";

const char *sl_workcell_xml(void) { return workcell_xml; }

/* The workcell's task spec (docs/TASKS.md): the reward weights (documented in
 * docs/WORKCELL.md), the episode, the econ units and the item ranges. sl_env_workcell_new
 * writes the config's values over these defaults, so the spec (and its hash) is the effective
 * one. Reward = 1 progress + 10 units - 5 failures - 200 energy_Wh, summed in that order. */
static const char workcell_spec[] =
    "{\"name\": \"workcell\",\n"
    " \"description\": \"pick items from the feeder and place them in the bin\",\n"
    " \"max_steps\": 60, \"frame_skip\": 25,\n"
    " \"reward\": [{\"quantity\": \"progress\", \"weight\": 1},\n"
    "            {\"quantity\": \"units\", \"weight\": 10},\n"
    "            {\"quantity\": \"failures\", \"weight\": -5},\n"
    "            {\"quantity\": \"energy\", \"weight\": -200}],\n"
    " \"units\": {\"unit\": \"item at rest in the bin\",\n"
    "           \"mistakes\": [\"drop\", \"miss\", \"collision\", \"timeout\"]},\n"
    " \"econ\": {\"value_per_unit\": 0.03, \"human_wage\": 18},\n"
    " \"workcell\": {\"mass\": [0.2, 1.0], \"friction\": [0.3, 1.0], \"grip_normal_n\": 40}}\n";

const char *sl_workcell_spec(void) { return workcell_spec; }

/* Grasp and event thresholds. */
#define GRASP_RADIUS 0.02      /* m, tip to the item's top face centre */
#define GRASP_MAX_SPEED 0.5    /* m/s, relative speed at acquisition */
#define GRIP_K 3000.0          /* N/m */
#define GRIP_C 30.0            /* N s/m */
#define REST_SPEED 0.05        /* m/s */
#define REST_SPIN 1.0          /* rad/s */
#define COLLISION_FORCE 10.0   /* N, contact normal force that counts as a collision */
#define ATTEMPT_TIMEOUT 30     /* control steps */
#define END_GRACE 20           /* control steps */

typedef struct workcell {
    sl_workcell_config cfg;
    mjModel *m;
    mjData *d;
    int j_shoulder, j_elbow, j_lift, item_qadr, item_dadr;
    int b_item, b_tool, g_item, g_tool, s_tip;
    int g_env_first, g_env_last; /* world geoms: floor .. bin walls (contiguous ids) */
    int g_bin_first;             /* first bin wall geom */
    double base_mass, base_inertia[3];
    sl_rng rng;
    /* per-episode */
    double mass, friction, capacity;
    /* grasp state */
    int held, armed, grip_prev, lost_by_break, spoiled;
    double offset[3];
    double load;
    int colliding_prev;
    double phi_prev;
    sl_tracker tr;
    sl_task task;
    sl_task_state ts;
} workcell;

sl_workcell_config sl_workcell_default(void) {
    sl_workcell_config c = {.max_steps = 60,
                            .frame_skip = 25,
                            .mass_lo = 0.2,
                            .mass_hi = 1.0,
                            .friction_lo = 0.3,
                            .friction_hi = 1.0,
                            .grip_normal_n = 40.0,
                            .econ = sl_econ_default()};
    return c;
}

/* --- kinematics ----------------------------------------------------------- */

/* Joint angles putting the tool axis at (x, y). elbow_sign selects the branch. Points out of
 * reach are projected onto the reachable annulus. */
static void wc_ik(double x, double y, double elbow_sign, double *q1, double *q2) {
    double r2 = x * x + y * y, r = sqrt(r2);
    double rmin = fabs(WC_L1 - WC_L2) + 1e-3, rmax = WC_L1 + WC_L2 - 1e-3;
    if (r < rmin || r > rmax) {
        double rc = r < rmin ? rmin : rmax;
        if (r < 1e-9) {
            x = rc;
            y = 0;
        } else {
            x *= rc / r;
            y *= rc / r;
        }
        r2 = rc * rc;
    }
    double c2 = (r2 - WC_L1 * WC_L1 - WC_L2 * WC_L2) / (2 * WC_L1 * WC_L2);
    c2 = c2 > 1 ? 1 : c2 < -1 ? -1 : c2;
    *q2 = elbow_sign * acos(c2);
    *q1 = atan2(y, x) - atan2(WC_L2 * sin(*q2), WC_L1 + WC_L2 * cos(*q2));
}

static double wrap_angle(double a) {
    while (a > M_PI) a -= 2 * M_PI;
    while (a < -M_PI) a += 2 * M_PI;
    return a;
}

/* --- state helpers -------------------------------------------------------- */

static void item_pos(const workcell *w, double p[3]) {
    for (int i = 0; i < 3; i++) p[i] = w->d->qpos[w->item_qadr + i];
}

static void respawn_item(workcell *w) {
    mjData *d = w->d;
    double *q = d->qpos + w->item_qadr;
    q[0] = WC_FEEDER_X + sl_rng_uniform_range(&w->rng, -0.02, 0.02);
    q[1] = WC_FEEDER_Y + sl_rng_uniform_range(&w->rng, -0.02, 0.02);
    q[2] = WC_FEEDER_TOP + WC_ITEM_HALF + 0.001;
    q[3] = 1;
    q[4] = q[5] = q[6] = 0;
    for (int i = 0; i < 6; i++) d->qvel[w->item_dadr + i] = 0;
    w->held = 0;
    w->spoiled = 0;
    w->lost_by_break = 0;
    w->load = 0;
}

/* Shaping potential: distance still to cover for the current item. */
static double potential(const workcell *w) {
    double p[3], tip[3];
    item_pos(w, p);
    memcpy(tip, w->d->site_xpos + 3 * w->s_tip, sizeof tip);
    double dxy = hypot(p[0] - WC_BIN_X, p[1] - WC_BIN_Y);
    if (w->held) return -dxy;
    double g[3] = {p[0] - tip[0], p[1] - tip[1], p[2] + WC_ITEM_HALF - tip[2]};
    return -(sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]) + 0.1) - dxy;
}

static void observe(const workcell *w, int t, float *obs) {
    const mjData *d = w->d;
    const mjModel *m = w->m;
    int jq[3] = {m->jnt_qposadr[w->j_shoulder], m->jnt_qposadr[w->j_elbow], m->jnt_qposadr[w->j_lift]};
    int jv[3] = {m->jnt_dofadr[w->j_shoulder], m->jnt_dofadr[w->j_elbow], m->jnt_dofadr[w->j_lift]};
    double p[3];
    item_pos(w, p);
    const double *tip = d->site_xpos + 3 * w->s_tip;
    const double bin[3] = {WC_BIN_X, WC_BIN_Y, WC_SAFE_Z};
    for (int i = 0; i < 3; i++) {
        obs[SL_WC_OBS_Q + i] = (float)d->qpos[jq[i]];
        obs[SL_WC_OBS_QD + i] = (float)d->qvel[jv[i]];
        obs[SL_WC_OBS_TIP + i] = (float)tip[i];
        obs[SL_WC_OBS_ITEM + i] = (float)p[i];
        obs[SL_WC_OBS_ITEM_VEL + i] = (float)d->qvel[w->item_dadr + i];
        obs[SL_WC_OBS_ITEM_REL + i] = (float)(p[i] - tip[i]);
        obs[SL_WC_OBS_BIN_REL + i] = (float)(bin[i] - tip[i]);
    }
    obs[SL_WC_OBS_HOLDING] = (float)w->held;
    obs[SL_WC_OBS_LOAD] = (float)w->load;
    obs[SL_WC_OBS_PHASE] = (float)t / (float)w->cfg.max_steps;
}

/* --- physics step with the grasp spring ----------------------------------- */

/* Contact normal force of tool (or held item against a bin wall) with the cell; 0 if none. */
static double collision_force(const workcell *w) {
    const mjData *d = w->d;
    double worst = 0;
    for (int i = 0; i < d->ncon; i++) {
        const mjContact *c = &d->contact[i];
        int a = c->geom1, b = c->geom2;
        int tool_env = (a == w->g_tool && b >= w->g_env_first && b <= w->g_env_last) ||
                       (b == w->g_tool && a >= w->g_env_first && a <= w->g_env_last);
        int item_wall = w->held && ((a == w->g_item && b >= w->g_bin_first && b <= w->g_env_last) ||
                                    (b == w->g_item && a >= w->g_bin_first && a <= w->g_env_last));
        if (!tool_env && !item_wall) continue;
        mjtNum f[6];
        mj_contactForce(w->m, d, i, f);
        if (f[0] > worst) worst = f[0];
    }
    return worst;
}

/* One physics step. Returns the actuator energy (J) spent and flags a collision. */
static double physics_step(workcell *w, int grip_on, int *collided) {
    const mjModel *m = w->m;
    mjData *d = w->d;
    mj_step1(m, d);
    mju_zero(d->qfrc_applied, m->nv);
    double p[3];
    item_pos(w, p);
    const double *tip = d->site_xpos + 3 * w->s_tip;
    mjtNum vt6[6];
    mj_objectVelocity(m, d, mjOBJ_SITE, w->s_tip, vt6, 0); /* [angular, linear], world frame */
    const double *vi = d->qvel + w->item_dadr;
    if (!w->held && grip_on && w->armed) {
        double g[3] = {p[0] - tip[0], p[1] - tip[1], p[2] + WC_ITEM_HALF - tip[2]};
        double dv[3] = {vi[0] - vt6[3], vi[1] - vt6[4], vi[2] - vt6[5]};
        if (sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]) < GRASP_RADIUS &&
            sqrt(dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]) < GRASP_MAX_SPEED) {
            w->held = 1;
            w->spoiled = 0;
            for (int i = 0; i < 3; i++) w->offset[i] = p[i] - tip[i];
        }
    }
    if (w->held && !grip_on) { /* voluntary release */
        w->held = 0;
        w->lost_by_break = 0;
        w->load = 0;
    }
    if (w->held) {
        mjtNum f[3], zero[3] = {0, 0, 0}, nf[3];
        for (int i = 0; i < 3; i++)
            f[i] = GRIP_K * (tip[i] + w->offset[i] - p[i]) + GRIP_C * (vt6[3 + i] - vi[i]);
        /* A suction grip fails in tension and shear, not when pressed onto the item. */
        double pull = f[2] > 0 ? f[2] : 0;
        double fn = sqrt(f[0] * f[0] + f[1] * f[1] + pull * pull);
        w->load = fn / w->capacity;
        if (fn > w->capacity) { /* the grasp slips: the item is on its own now */
            w->held = 0;
            w->armed = 0;
            w->lost_by_break = 1;
            w->load = 0;
        } else {
            for (int i = 0; i < 3; i++) nf[i] = -f[i];
            mjtNum pt[3] = {p[0], p[1], p[2]};
            mj_applyFT(m, d, f, zero, pt, w->b_item, d->qfrc_applied);
            mj_applyFT(m, d, nf, zero, pt, w->b_tool, d->qfrc_applied);
        }
    }
    mj_step2(m, d);
    double e = 0;
    for (int i = 0; i < m->nu; i++) e += fabs(d->actuator_force[i] * d->actuator_velocity[i]);
    if (collision_force(w) > COLLISION_FORCE) *collided = 1;
    return e * m->opt.timestep;
}

/* --- backend functions ---------------------------------------------------- */

static sl_status wc_reset(sl_env *env, uint64_t seed, float *obs) {
    workcell *w = env->ctx;
    mjModel *m = w->m;
    mjData *d = w->d;
    sl_rng_seed(&w->rng, seed, 0x776f726b63656c6cULL);
    w->mass = sl_rng_uniform_range(&w->rng, w->cfg.mass_lo, w->cfg.mass_hi);
    w->friction = sl_rng_uniform_range(&w->rng, w->cfg.friction_lo, w->cfg.friction_hi);
    w->capacity = w->friction * w->cfg.grip_normal_n;
    m->body_mass[w->b_item] = w->mass;
    for (int i = 0; i < 3; i++) m->body_inertia[3 * w->b_item + i] = w->base_inertia[i] * w->mass / w->base_mass;
    m->geom_friction[3 * w->g_item] = w->friction;
    mj_resetData(m, d);
    /* home pose: tool between feeder and bin, small random offset */
    double q1, q2;
    wc_ik(0.40 + sl_rng_uniform_range(&w->rng, -0.05, 0.05),
          sl_rng_uniform_range(&w->rng, -0.05, 0.05), 1.0, &q1, &q2);
    d->qpos[m->jnt_qposadr[w->j_shoulder]] = q1;
    d->qpos[m->jnt_qposadr[w->j_elbow]] = q2;
    d->qpos[m->jnt_qposadr[w->j_lift]] = WC_SAFE_Z - WC_TIP_Z0 + sl_rng_uniform_range(&w->rng, -0.02, 0.02);
    respawn_item(w);
    w->armed = 0;
    w->grip_prev = 0;
    w->colliding_prev = 0;
    mj_forward(m, d);
    w->phi_prev = potential(w);
    memset(&w->ts, 0, sizeof w->ts);
    sl_task_state_update(&w->task, m, d, &w->ts);
    sl_tracker_reset(&w->tr, ATTEMPT_TIMEOUT, END_GRACE);
    env->n_cond = 2;
    snprintf(env->cond_names[0], sizeof env->cond_names[0], "item_mass");
    snprintf(env->cond_names[1], sizeof env->cond_names[1], "item_friction");
    env->cond[0] = w->mass;
    env->cond[1] = w->friction;
    SL_TRY(sl_mj_check(m, d, "workcell", 0));
    observe(w, 0, obs);
    return SL_OK;
}

static sl_status wc_step(sl_env *env, const float *a, int last, float *obs, sl_env_out *ev) {
    workcell *w = env->ctx;
    const mjModel *m = w->m;
    mjData *d = w->d;
    for (int i = 0; i < 3; i++) d->ctrl[i] = a[i];
    int grip_on = a[SL_WC_ACT_GRIP] > 0;
    if (grip_on && !w->grip_prev) w->armed = 1;
    w->grip_prev = grip_on;
    int was_held = w->held, collided = 0;
    double joules = 0;
    for (int k = 0; k < w->cfg.frame_skip; k++) {
        joules += physics_step(w, grip_on, &collided);
        SL_TRY(sl_mj_check(m, d, "workcell", env->t));
    }
    mj_forward(m, d); /* positions/sites consistent with the final state for observation */
    SL_TRY(sl_mj_check(m, d, "workcell", env->t));
    if (!was_held && w->held) sl_tracker_start(&w->tr, ev);

    /* collisions: counted on the rising edge */
    if (collided && !w->colliding_prev) {
        sl_tracker_fail(&w->tr, ev, SL_ENV_ERR_COLLISION);
        if (w->held) { /* the impact shakes the item loose */
            w->held = 0;
            w->armed = 0;
            w->load = 0;
        }
        w->spoiled = 1;
    }
    w->colliding_prev = collided;

    /* where did the item end up? */
    double p[3];
    item_pos(w, p);
    const double *v = d->qvel + w->item_dadr;
    double speed = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    double spin = sqrt(v[3] * v[3] + v[4] * v[4] + v[5] * v[5]);
    int respawn = 0;
    double phi_now = potential(w);
    if (!w->held) {
        int lost = fabs(p[0]) > 2 || fabs(p[1]) > 2 || p[2] < -0.5;
        int rest = speed < REST_SPEED && spin < REST_SPIN;
        int in_bin = fabs(p[0] - WC_BIN_X) < WC_BIN_INNER && fabs(p[1] - WC_BIN_Y) < WC_BIN_INNER &&
                     p[2] < WC_BIN_RIM;
        int on_feeder = fabs(p[0] - WC_FEEDER_X) < WC_FEEDER_HALF &&
                        fabs(p[1] - WC_FEEDER_Y) < WC_FEEDER_HALF && p[2] > WC_FEEDER_TOP;
        if (lost || (rest && !on_feeder)) {
            if (w->spoiled)
                ; /* already counted as a failure */
            else if (in_bin && !lost)
                sl_tracker_success(&w->tr, ev);
            else
                sl_tracker_fail(&w->tr, ev, w->lost_by_break ? SL_ENV_ERR_DROP : SL_ENV_ERR_MISS);
            respawn = 1;
        }
    }
    sl_tracker_tick(&w->tr, ev, last);
    if (respawn) {
        respawn_item(w);
        mj_forward(m, d);
    }
    ev->energy_wh = joules / 3600.0;
    ev->holding = w->held;
    double control = 0;
    for (int i = 0; i < m->nu; i++) control += d->ctrl[i] * d->ctrl[i];
    sl_task_signals sg = {.progress = phi_now - w->phi_prev, .energy_wh = ev->energy_wh, .control = control,
                          .units = ev->units, .failures = ev->failures};
    ev->reward = (float)sl_task_reward(&w->task, m, d, &w->ts, &sg);
    sl_task_state_update(&w->task, m, d, &w->ts);
    w->phi_prev = potential(w);
    observe(w, env->t + 1, obs);
    return SL_OK;
}

/* Scripted controller: IK waypoints + joint PD, from the observation only. */
static sl_status wc_expert(sl_env *env, const float *obs, float *action) {
    (void)env;
    double o[SL_WC_OBS_DIM];
    for (int i = 0; i < SL_WC_OBS_DIM; i++) o[i] = (double)obs[i];
    const double *q = o + SL_WC_OBS_Q, *qd = o + SL_WC_OBS_QD, *tip = o + SL_WC_OBS_TIP;
    const double *it = o + SL_WC_OBS_ITEM, *iv = o + SL_WC_OBS_ITEM_VEL;
    int holding = o[SL_WC_OBS_HOLDING] > 0.5;
    double binx = tip[0] + o[SL_WC_OBS_BIN_REL], biny = tip[1] + o[SL_WC_OBS_BIN_REL + 1];
    double tx, ty, tz;
    int grip = 1, slow = 0;
    double tspeed = sqrt(qd[0] * qd[0] + qd[1] * qd[1]);
    if (!holding) {
        double top = it[2] + WC_ITEM_HALF;
        double dxy = hypot(tip[0] - it[0], tip[1] - it[1]);
        double ispeed = sqrt(iv[0] * iv[0] + iv[1] * iv[1] + iv[2] * iv[2]);
        tx = it[0];
        ty = it[1];
        if (ispeed > 0.1) { /* wait above a moving item */
            tz = WC_SAFE_Z;
            grip = 0;
        } else if (dxy > 0.012) {
            tz = dxy > 0.08 ? WC_SAFE_Z : top + 0.03;
        } else if (tip[2] - top < 0.008) {
            /* at the item without a grasp: open and back off so that closing re-arms it */
            tz = top + 0.03;
            grip = 0;
        } else {
            tz = top + 0.002;
            slow = 1;
        }
        /* re-arm: open the gripper while far away so that the next close arms it */
        if (dxy > 0.05) grip = 0;
    } else {
        double dxy = hypot(it[0] - binx, it[1] - biny);
        tx = binx;
        ty = biny;
        tz = WC_SAFE_Z;
        if (dxy > 0.03 && tip[2] < WC_SAFE_Z - 0.03 && hypot(tip[0] - binx, tip[1] - biny) > 0.1) {
            tx = tip[0]; /* lift straight up first */
            ty = tip[1];
        }
        if (dxy < 0.035 && tspeed < 0.5 && fabs(qd[2]) < 0.3) grip = 0; /* release */
    }
    double q1, q2;
    wc_ik(tx, ty, q[1] >= 0 ? 1.0 : -1.0, &q1, &q2);
    double e1 = wrap_angle(q1 - q[0]), e2 = wrap_angle(q2 - q[1]);
    double lift_t = tz - WC_TIP_Z0;
    double u0 = (30.0 * e1 - 2.0 * qd[0]) / 20.0;
    double u1 = (15.0 * e2 - 1.0 * qd[1]) / 10.0;
    double ff = (0.3 + (holding ? 0.6 : 0.0)) * 9.81;
    double u2 = (250.0 * (lift_t - q[2]) - 5.0 * qd[2] + ff) / 40.0;
    /* the load reading says how close the grip is to slipping: ease off near the limit */
    double load = o[SL_WC_OBS_LOAD];
    double lim = holding ? (load > 0.75 ? 0.3 : 0.6) : 1.0; /* gentle while carrying */
    u0 = u0 > lim ? lim : u0 < -lim ? -lim : u0;
    u1 = u1 > lim ? lim : u1 < -lim ? -lim : u1;
    double ulo = holding ? ff / 40.0 - 0.3 : slow ? ff / 40.0 - 0.2 : -1;
    double uhi = holding ? ff / 40.0 + (load > 0.75 ? 0.0 : 0.15) : 1;
    u2 = u2 > uhi ? uhi : u2 < ulo ? ulo : u2;
    action[0] = (float)u0;
    action[1] = (float)u1;
    action[2] = (float)u2;
    action[3] = grip ? 1.0f : -1.0f;
    return SL_OK;
}

static void wc_free(void *ctx) {
    workcell *w = ctx;
    if (!w) return;
    if (w->d) mj_deleteData(w->d);
    if (w->m) mj_deleteModel(w->m);
    sl_task_clear(&w->task);
    free(w);
}

static sl_status wc_record(const sl_env *env, sl_env_record *rec) {
    const workcell *w = env->ctx;
    snprintf(rec->kind, sizeof rec->kind, "workcell");
    rec->model_path[0] = 0;
    sl_sha256_hex(workcell_xml, strlen(workcell_xml), rec->model_sha256);
    memcpy(rec->task_sha256, w->task.sha256, 65);
    snprintf(rec->task_name, sizeof rec->task_name, "%s", w->task.name);
    rec->obs_dim = env->obs_dim;
    rec->act_dim = env->act_dim;
    rec->task_json = strdup(w->task.canon);
    return rec->task_json ? SL_OK : sl_set_error(SL_ERR_NOMEM, "env record: out of memory");
}

/* The workcell's spec with the config's values written over the defaults. */
static sl_status effective_spec(const sl_workcell_config *c, cJSON **out) {
    cJSON *j = cJSON_Parse(workcell_spec);
    if (!j) return sl_set_error(SL_ERR_INTERNAL, "workcell: the built-in task spec does not parse");
    struct { const char *obj, *key; double v; } set[] = {
        {NULL, "max_steps", c->max_steps}, {NULL, "frame_skip", c->frame_skip},
        {"econ", "value_per_unit", c->econ.value_per_unit}, {"econ", "human_wage", c->econ.human_wage},
        {"workcell", "grip_normal_n", c->grip_normal_n}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        cJSON *o = set[i].obj ? cJSON_GetObjectItemCaseSensitive(j, set[i].obj) : j;
        cJSON_ReplaceItemInObjectCaseSensitive(o, set[i].key, cJSON_CreateNumber(set[i].v));
    }
    cJSON *wc = cJSON_GetObjectItemCaseSensitive(j, "workcell");
    double ms[2] = {c->mass_lo, c->mass_hi}, fr[2] = {c->friction_lo, c->friction_hi};
    cJSON_ReplaceItemInObjectCaseSensitive(wc, "mass", cJSON_CreateDoubleArray(ms, 2));
    cJSON_ReplaceItemInObjectCaseSensitive(wc, "friction", cJSON_CreateDoubleArray(fr, 2));
    *out = j;
    return SL_OK;
}

sl_status sl_workcell_debug_place_item(sl_env *env, const double pos[3], int attach) {
    if (!env || env->type->reset != wc_reset || env->state != 1)
        return sl_set_error(SL_ERR_STATE, "sl_workcell_debug_place_item: needs a freshly reset workcell");
    workcell *w = env->ctx;
    mjData *d = w->d;
    double *q = d->qpos + w->item_qadr;
    for (int i = 0; i < 3; i++) q[i] = pos[i];
    q[3] = 1;
    q[4] = q[5] = q[6] = 0;
    for (int i = 0; i < 6; i++) d->qvel[w->item_dadr + i] = 0;
    mj_forward(w->m, d);
    w->held = attach != 0;
    w->armed = 1;
    w->grip_prev = attach != 0;
    w->lost_by_break = 0;
    if (attach)
        for (int i = 0; i < 3; i++) w->offset[i] = pos[i] - d->site_xpos[3 * w->s_tip + i];
    w->phi_prev = potential(w);
    return SL_OK;
}

static const sl_env_type workcell_type = {
    .name = "workcell", .reset = wc_reset, .step = wc_step, .expert = wc_expert, .free_ctx = wc_free,
    .record = wc_record};

static sl_status need_id(int id, const char *kind, const char *name) {
    if (id < 0) return sl_set_error(SL_ERR_INTERNAL, "workcell: %s '%s' missing from the model", kind, name);
    return SL_OK;
}

sl_status sl_env_workcell_new(sl_env **out, const sl_workcell_config *cfg) {
    if (!out) return sl_set_error(SL_ERR_ARG, "sl_env_workcell_new: out is NULL");
    *out = NULL;
    sl_workcell_config c = cfg ? *cfg : sl_workcell_default();
    if (c.max_steps < 1 || c.max_steps > 100000 || c.frame_skip < 1 || c.frame_skip > 10000)
        return sl_set_error(SL_ERR_ARG, "workcell: max_steps %d / frame_skip %d out of range",
                            c.max_steps, c.frame_skip);
    if (!(c.mass_lo > 0 && c.mass_hi >= c.mass_lo && c.mass_hi < 100) ||
        !(c.friction_lo > 0 && c.friction_hi >= c.friction_lo && c.friction_hi <= 5) ||
        !(c.grip_normal_n > 0 && c.grip_normal_n < 1e4))
        return sl_set_error(SL_ERR_ARG, "workcell: bad item ranges or grip force");
    if (!(c.econ.human_wage > 0) || !(c.econ.value_per_unit >= 0) || !isfinite(c.econ.human_wage) ||
        !isfinite(c.econ.value_per_unit))
        return sl_set_error(SL_ERR_ARG, "workcell: wage must be > 0 and value per unit >= 0");
    sl_env *env = calloc(1, sizeof *env);
    workcell *w = calloc(1, sizeof *w);
    if (!env || !w) {
        free(env);
        free(w);
        return sl_set_error(SL_ERR_NOMEM, "workcell: out of memory");
    }
    w->cfg = c;
    sl_status st = sl_env_init_common(env, &workcell_type, w, "workcell", SL_WC_OBS_DIM, SL_WC_ACT_DIM);
    if (st == SL_OK) st = sl_mj_load(&w->m, "workcell.xml", workcell_xml);
    if (st == SL_OK && !(w->d = mj_makeData(w->m))) st = sl_set_error(SL_ERR_NOMEM, "workcell: mj_makeData failed");
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    mjModel *m = w->m;
    w->j_shoulder = mj_name2id(m, mjOBJ_JOINT, "shoulder");
    w->j_elbow = mj_name2id(m, mjOBJ_JOINT, "elbow");
    w->j_lift = mj_name2id(m, mjOBJ_JOINT, "lift");
    int j_item = mj_name2id(m, mjOBJ_JOINT, "item");
    w->b_item = mj_name2id(m, mjOBJ_BODY, "item");
    w->b_tool = mj_name2id(m, mjOBJ_BODY, "tool");
    w->g_item = mj_name2id(m, mjOBJ_GEOM, "item");
    w->g_tool = mj_name2id(m, mjOBJ_GEOM, "tool");
    w->s_tip = mj_name2id(m, mjOBJ_SITE, "tip");
    w->g_env_first = mj_name2id(m, mjOBJ_GEOM, "floor");
    w->g_bin_first = mj_name2id(m, mjOBJ_GEOM, "bin_wall_n");
    w->g_env_last = mj_name2id(m, mjOBJ_GEOM, "bin_wall_w");
    const char *names[] = {"shoulder", "elbow", "lift", "item", "item", "tool", "item", "tool", "tip",
                           "floor", "bin_wall_n", "bin_wall_w"};
    int ids[] = {w->j_shoulder, w->j_elbow, w->j_lift, j_item, w->b_item, w->b_tool, w->g_item,
                 w->g_tool, w->s_tip, w->g_env_first, w->g_bin_first, w->g_env_last};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && st == SL_OK; i++) st = need_id(ids[i], "object", names[i]);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    cJSON *spec = NULL;
    st = effective_spec(&c, &spec);
    if (st == SL_OK) st = sl_task_from_json(spec, "workcell task spec", m, &w->task);
    cJSON_Delete(spec);
    if (st != SL_OK) {
        sl_env_free(env);
        return st;
    }
    env->task = &w->task;
    w->item_qadr = m->jnt_qposadr[j_item];
    w->item_dadr = m->jnt_dofadr[j_item];
    w->base_mass = m->body_mass[w->b_item];
    for (int i = 0; i < 3; i++) w->base_inertia[i] = m->body_inertia[3 * w->b_item + i];
    for (int i = 0; i < SL_WC_ACT_DIM; i++) {
        env->act_lo[i] = -1.0f;
        env->act_hi[i] = 1.0f;
    }
    env->max_steps = c.max_steps;
    env->frame_skip = c.frame_skip;
    env->control_dt = c.frame_skip * m->opt.timestep;
    env->econ = c.econ;
    *out = env;
    return SL_OK;
}
