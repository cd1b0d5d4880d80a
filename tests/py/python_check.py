# SPDX-License-Identifier: Apache-2.0
"""The Python binding (python/synthloop) against the CLI at the same seeds.

    python_check.py CASE WORKDIR        (run by tests/test_python.c; exit 0 = pass)

Environment: SL_BIN (the CLI), SL_TEST_ROOT (repo), SYNTHLOOP_LIB (the shared library).
Cases share WORKDIR: files the CLI writes are reused by later cases when present.
  layout     every mirrored C struct: sizeof and each field's offset and size equal gcc's (a
             small C program compiled here prints them)
  collect    env.collect + save == `synthloop collect` byte for byte (3 settings)
  rollout    a Python reset/step loop with the behaviour policy == the collected dataset
             (observations, actions, rewards, flags, step columns, episode metrics: exact;
             workcell, expert and mixed policies)
  mjcf       the same for an MJCF model file (MjcfEnv): collect bytes and reset/step loop
  dataset    numpy views share the C memory; writes go through; from_arrays / import /
             select_episodes round trips; values equal numpy's np.load
  encoder    Encoder.encode == `synthloop encode`'s latents (exact)
  trust      TrustModel.score == `synthloop trust score --windows` (exact; NaN window -> -1)
  world      WorldModel.generate_windows == `synthloop world rollout` (exact, 1 thread)
  policy     Policy.act == numpy float64 forward of the checkpoint (1e-5); batch == one by one
  errors     bad input raises SynthloopError with the library's status and message
"""
import os
import subprocess
import sys

import numpy as np

ROOT = os.environ.get("SL_TEST_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "python"))
import synthloop as sl  # noqa: E402

BIN = os.environ.get("SL_BIN", os.path.join(ROOT, "build", "synthloop"))
W = sys.argv[2] if len(sys.argv) > 2 else "."
sl.set_quiet()
sl.set_threads(1)


def p(name):
    return os.path.join(W, name)


def cli(*args):
    r = subprocess.run([BIN, *args, "--quiet", "--db", "none"], cwd=W, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise AssertionError(f"synthloop {' '.join(args)}: exit {r.returncode}: {r.stderr}")


def once(path, *args):
    if not os.path.exists(p(path)):
        cli(*args)
    return p(path)


def data():
    return once("d.npz", "collect", "-o", "d.npz", "-n", "6", "-s", "11", "--policy", "expert")


def latents():
    data()
    return once("z.npz", "encode", "--data", "d.npz", "--output", "z.npz", "--checkpoint",
                "enc.safetensors", "--epochs", "2", "--dim", "8", "--seed", "3")


def same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs {b.dtype}"
    ok = np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if not ok:
        bad = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f"
                            else a != b))
        raise AssertionError(f"{what}: differs at {bad[:3].tolist()} ({bad.shape[0]} places)")


# --- cases --------------------------------------------------------------------------------

def case_layout():
    from synthloop import dataset as D, env as E, models as M
    structs = [("sl_dataset", D._Dataset), ("sl_dataset_col", D._Col), ("sl_env", E._Env),
               ("sl_env_out", E._Out), ("sl_env_metrics", E._Metrics),
               ("sl_econ_params", E._Econ), ("sl_workcell_config", E._WorkcellConfig),
               ("sl_mjcf_task", E._MjcfTask), ("sl_rng", E._Rng),
               ("sl_collect_summary", E._Summary), ("sl_world_config", M._WorldConfig),
               ("sl_world_data", M._WorldData)]
    src = ["#include <stdio.h>", "#include <stddef.h>", '#include "synthloop/sl_env.h"',
           '#include "synthloop/sl_world.h"', "int main(void) {"]
    for cname, py in structs:
        src.append(f'printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        for f, _ in py._fields_:
            src.append(f'printf("{cname} {f} %zu\\n", offsetof({cname}, {f}));')
            src.append(f'printf("{cname} {f}.size %zu\\n", sizeof((({cname} *)0)->{f}));')
    src.append("return 0; }")
    with open(p("layout.c"), "w") as f:
        f.write("\n".join(src))
    hdf5 = "/usr/include/hdf5/serial"
    subprocess.run(["gcc", "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", hdf5,
                    p("layout.c"), "-o", p("layout")], check=True)
    out = subprocess.run([p("layout")], capture_output=True, text=True, check=True).stdout
    want = {}
    for line in out.splitlines():
        c, f, v = line.split()
        want[(c, f)] = int(v)
    checked = 0
    for cname, py in structs:
        import ctypes
        assert ctypes.sizeof(py) == want[(cname, "sizeof")], \
            f"{cname}: ctypes sizeof {ctypes.sizeof(py)} vs C {want[(cname, 'sizeof')]}"
        for f, _ in py._fields_:
            got = getattr(py, f).offset
            assert got == want[(cname, f)], f"{cname}.{f}: offset {got} vs C {want[(cname, f)]}"
            size = getattr(py, f).size
            assert size == want[(cname, f + ".size")], \
                f"{cname}.{f}: size {size} vs C {want[(cname, f + '.size')]}"
            checked += 1
    print(f"layout: {len(structs)} structs, {checked} fields agree with gcc")


def case_collect():
    # the CLI's default policy is "mixed"
    settings = [(["-n", "6", "-s", "11"], {}, "mixed", 6, 11),
                (["-n", "5", "-s", "3", "--policy", "mixed", "--max-steps", "40"],
                 {"max_steps": 40}, "mixed", 5, 3),
                (["-n", "4", "-s", "9", "--policy", "medium-expert", "--frame-skip", "20",
                  "--wage", "20"], {"frame_skip": 20, "human_wage": 20.0}, "medium-expert",
                 4, 9)]
    for i, (args, kw, pol, n, seed) in enumerate(settings):
        cli("collect", "-o", f"c{i}.npz", *args)
        env = sl.WorkcellEnv(**kw)
        ds, summary = env.collect(pol, n, seed)
        ds.save(p(f"py{i}.npz"))
        a, b = open(p(f"c{i}.npz"), "rb").read(), open(p(f"py{i}.npz"), "rb").read()
        assert a == b, f"setting {i}: NPZ differs ({len(a)} vs {len(b)} bytes)"
        assert summary["episodes"] == n and summary["steps"] == ds.n
        print(f"collect {' '.join(args)}: {len(a)} bytes identical, {ds.n} rows")


def rollout_like_collect(env, ref, policy, seed):
    """Replay `collect --policy policy --seed seed` through reset/step; compare with ref."""
    rows = {k: [] for k in ("obs", "nobs", "act", "rew", "term", "tout", "eid", "ts", "unit",
                            "err", "att", "energy", "hold")}
    metrics = []
    for e in range(ref.n_episodes):
        rng = sl.Rng(seed, 1000003 + e)
        env_seed = rng.u64()
        u = rng.uniform()  # the collector's per-episode mixture draw
        base = {"expert": "expert", "medium": "medium", "random": "random",
                "medium-expert": "expert" if u < 0.5 else "medium",
                "mixed": "expert" if u < 0.3 else "medium" if u < 0.7 else "random"}[policy]
        obs, info = env.reset(seed=seed) if e == 0 else env.reset()
        assert info["env_seed"] == env_seed, f"episode {e}: env seed {info['env_seed']}"
        t = 0
        while True:
            a = env.behaviour_action(base, rng, obs)
            nobs, r, term, trunc, info = env.step(a)
            rows["obs"].append(obs)
            rows["nobs"].append(nobs)
            rows["act"].append(info["applied_action"])
            rows["rew"].append(np.float32(r))
            rows["term"].append(term)
            rows["tout"].append(trunc)
            rows["eid"].append(e)
            rows["ts"].append(t)
            rows["unit"].append(np.float32(info["units"]))
            rows["err"].append(np.float32(info["failures"]))
            rows["att"].append(np.float32(info["attempts"]))
            rows["energy"].append(np.float32(info["energy_wh"]))
            rows["hold"].append(np.float32(info["holding"]))
            obs, t = nobs, t + 1
            if term or trunc:
                metrics.append(info["episode"])
                break
    same(np.array(rows["obs"]), ref.observations, "observations")
    same(np.array(rows["nobs"]), ref.next_observations, "next_observations")
    same(np.array(rows["act"]), ref.actions, "actions")
    same(np.array(rows["rew"], np.float32), ref.rewards, "rewards")
    same(np.array(rows["term"]), ref.terminals, "terminals")
    same(np.array(rows["tout"]), ref.timeouts, "timeouts")
    same(np.array(rows["eid"], np.int32), ref.episode_ids, "episode_ids")
    same(np.array(rows["ts"], np.int32), ref.timesteps, "timesteps")
    sc = ref.step_cols
    for k, col in [("unit", "unit_done"), ("err", "error_event"), ("att", "attempt_event"),
                   ("energy", "energy_wh"), ("hold", "holding")]:
        same(np.array(rows[k], np.float32), sc[col], col)
    ec = ref.ep_cols
    for k in ("mpl", "error_rate", "energy_wh", "ep", "wage_parity", "sim_seconds"):
        same(np.array([m[k] for m in metrics]), ec[k], "ep_" + k)
    same(np.array([m["units"] for m in metrics], np.float64), ec["units"], "ep_units")
    same(np.array([m["total_reward"] for m in metrics]), ec["return"], "ep_return")


def case_rollout():
    ref = sl.Dataset.load(data())
    rollout_like_collect(sl.WorkcellEnv(), ref, "expert", 11)
    once("mixed.npz", "collect", "-o", "mixed.npz", "-n", "8", "-s", "5", "--policy", "mixed")
    mixed = sl.Dataset.load(p("mixed.npz"))
    rollout_like_collect(sl.WorkcellEnv(), mixed, "mixed", 5)
    print(f"rollout: workcell expert ({ref.n} rows) and mixed ({mixed.n} rows) reset/step "
          "loops identical to collect")


ARM_XML = """<mujoco model='arm2'>
  <option timestep='0.002'/>
  <worldbody>
    <body name='l1' pos='0 0 0'>
      <joint name='j1' type='hinge' axis='0 0 1' damping='0.05'/>
      <geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>
      <body name='l2' pos='0.1 0 0'>
        <joint name='j2' type='hinge' axis='0 0 1' damping='0.05'/>
        <geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.1'/>
        <site name='tip' pos='0.1 0 0'/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint='j1' gear='1' ctrllimited='true' ctrlrange='-1 1'/>
    <motor joint='j2' gear='1' ctrllimited='true' ctrlrange='-0.5 0.5'/>
  </actuator>
</mujoco>
"""


def case_mjcf():
    with open(p("arm2.xml"), "w") as f:
        f.write(ARM_XML)
    cli("collect", "-o", "arm.npz", "-n", "5", "-s", "2", "--policy", "medium", "--env",
        "arm2.xml", "--task-site", "tip", "--task-target", "0.1,0.1,0", "--max-steps", "30")
    env = sl.MjcfEnv(p("arm2.xml"), site="tip", target=(0.1, 0.1, 0), max_steps=30)
    assert env.obs_dim == 2 + 2 + 3 + 3 and env.act_dim == 2, (env.obs_dim, env.act_dim)
    same(env.action_space.high, np.array([1, 0.5], np.float32), "ctrlrange")
    ds, _ = env.collect("medium", 5, 2)
    ds.save(p("arm_py.npz"))
    assert open(p("arm.npz"), "rb").read() == open(p("arm_py.npz"), "rb").read(), \
        "MJCF collect: NPZ differs from the CLI's"
    rollout_like_collect(env, sl.Dataset.load(p("arm.npz")), "medium", 2)
    print(f"mjcf: collect bytes and a reset/step loop identical to the CLI ({ds.n} rows)")


def case_dataset():
    path = data()
    ds = sl.Dataset.load(path)
    ref = np.load(path)
    for k in ("observations", "next_observations", "actions", "rewards", "terminals",
              "timeouts", "episode_ids", "timesteps"):
        same(getattr(ds, k), ref[k], k)
    for k, v in ds.step_cols.items():
        same(v, ref[k], k)
    for k, v in ds.ep_cols.items():
        same(v, ref["ep_" + k], "ep_" + k)
    a, b = ds.observations, ds.observations
    assert np.shares_memory(a, b) and a.ctypes.data == b.ctypes.data, "views are copies"
    assert not a.flags.owndata, "view owns its data"
    # a view keeps the dataset alive after the last Python reference goes
    r = sl.Dataset.load(path).rewards
    same(r, ref["rewards"], "rewards of a dropped Dataset")
    # writes through the view reach the C dataset (and its saved file)
    ds.rewards[0] = 123.5
    ds.save(p("edited.npz"))
    same(np.load(p("edited.npz"))["rewards"][0], np.float32(123.5), "edited reward")
    # from_arrays round trip
    d2 = sl.Dataset.from_arrays(ref["observations"], ref["actions"], ref["rewards"],
                                next_observations=ref["next_observations"],
                                terminals=ref["terminals"], timeouts=ref["timeouts"],
                                episode_ids=ref["episode_ids"],
                                step_cols={"unit_done": ref["unit_done"]},
                                ep_cols={"mpl": ref["ep_mpl"]})
    d2.save(p("fromarrays.npz"))
    back = np.load(p("fromarrays.npz"))
    for k in ("observations", "actions", "rewards", "timesteps", "unit_done", "ep_mpl"):
        same(back[k], ref[k], "from_arrays " + k)
    # import_file (format detection) == load; select_episodes
    same(sl.Dataset.import_file(path).observations, ref["observations"], "import_file")
    sub = ds.select_episodes([2, 0])
    e2 = ref["episode_ids"] == 2
    same(sub.observations[: e2.sum()], ref["observations"][e2], "select_episodes")
    assert sub.n_episodes == 2
    # from_arrays validates: a non-finite observation is refused with the library's message
    bad = ref["observations"].copy()
    bad[3, 1] = np.nan
    try:
        sl.Dataset.from_arrays(bad, ref["actions"], ref["rewards"],
                               episode_ids=ref["episode_ids"])
        raise AssertionError("NaN observation accepted")
    except sl.SynthloopError as e:
        assert e.status == "SL_ERR_NAN" and "observations" in str(e), str(e)
    print(f"dataset: {ds.n} rows, views zero-copy, round trips exact")


def case_encoder():
    zpath = latents()
    ds = sl.Dataset.load(data())
    enc = sl.Encoder(p("enc.safetensors"))
    ref = np.load(zpath)
    same(enc.encode(ds.observations), ref["latents"], "latents")
    same(enc.encode(ds.next_observations), ref["next_latents"], "next_latents")
    same(enc.encode(ds.observations[5]), ref["latents"][5], "single row")
    print(f"encoder: {ds.n} x {enc.z_dim} latents identical to the CLI")


def case_trust():
    zpath = latents()
    model = once("t.safetensors", "trust", "train", "--latents", "z.npz", "--data", "d.npz",
                 "--output", "t.safetensors", "--steps", "30", "--lengths", "5,10")
    z = np.load(zpath)["latents"]
    rng = np.random.RandomState(0)
    starts = rng.randint(0, z.shape[0] - 5, size=12)
    win = np.stack([z[s:s + 5] for s in starts]).astype(np.float32)
    win[7, 2, 3] = np.nan
    np.savez(p("win.npz"), windows=win)
    cli("trust", "score", "--model", "t.safetensors", "--windows", "win.npz", "--output",
        "score.npz")
    ref = np.load(p("score.npz"))
    tm = sl.TrustModel(model)
    got = tm.score(win)
    assert np.isnan(got[7]) and ref["trust"][7] == -1 and not ref["finite"][7]
    fin = ref["finite"].astype(bool)
    same(got[fin], ref["trust"][fin], "trust")
    assert np.all((got[fin] >= 0) & (got[fin] <= 1))
    print(f"trust: {fin.sum()} windows scored identically, the NaN window reported")


def case_world():
    latents()
    wm = once("wm.safetensors", "world", "train", "--data", "d.npz", "--latents", "z.npz",
              "--output", "wm.safetensors", "--iters", "20", "--members", "2", "--hidden",
              "16", "--horizon", "10", "--threads", "1")
    cli("world", "rollout", "--data", "d.npz", "--latents", "z.npz", "--world-model",
        "wm.safetensors", "--output", "w.npz", "--horizon", "10", "--n", "8", "--noise",
        "0.5", "--seed", "4", "--threads", "1")
    ref = np.load(p("w.npz"))
    ds = sl.Dataset.load(p("d.npz"))
    zz = np.load(p("z.npz"))
    w = sl.WorldModel(wm)
    assert w.config["members"] == 2 and w.config["hidden"] == 16
    win, starts = w.generate_windows(ds, zz["latents"], zz["next_latents"], 10, 8, 0.5, 4)
    same(win, ref["windows"], "world windows")
    same(starts, ref["start_rows"].astype(np.int64), "start rows")
    print(f"world: {win.shape} windows identical to `world rollout`")


def case_policy():
    latents()
    pol = once("pol.safetensors", "train", "--data", "d.npz", "--latents", "z.npz",
               "--output", "pol.safetensors", "--updates", "30")
    policy = sl.Policy.load(pol)
    t, meta = sl.read_safetensors(pol)
    z = np.load(p("z.npz"))["latents"][:64]
    got = policy.act(z)
    x = (z.astype(np.float64) - t["obs_mean"]) / t["obs_std"]
    for i in range(3):
        x = x @ t[f"actor.l{i}.weight"].astype(np.float64).T + t[f"actor.l{i}.bias"]
        x = np.maximum(x, 0) if i < 2 else np.tanh(x)
    err = np.max(np.abs(got - x))
    assert err < 1e-5, f"policy act vs numpy: max error {err}"
    one = np.stack([policy.act(r) for r in z])
    same(one, got, "one by one vs batch")
    print(f"policy: act matches numpy float64 (max error {err:.2e}) on {len(z)} rows")


def case_errors():
    def expect(fn, status, needle):
        try:
            fn()
        except sl.SynthloopError as e:
            assert e.status == status, f"{e.status} != {status}: {e}"
            assert needle in str(e), f"'{needle}' not in '{e}'"
            return
        raise AssertionError(f"no error (wanted {status})")
    expect(lambda: sl.Dataset.load("/dev/zero"), "SL_ERR_IO", "character device")
    expect(lambda: sl.Dataset.load(p("absent.npz")), "SL_ERR_IO", "absent.npz")
    env = sl.WorkcellEnv(max_steps=3)
    expect(lambda: env.step(np.zeros(4)), "SL_ERR_STATE", "")
    obs, _ = env.reset(seed=1)
    expect(lambda: env.step([np.inf, 0, 0, 0]), "SL_ERR_NAN", "action[0]")
    env.reset(seed=1)
    for _ in range(3):
        obs, r, term, trunc, info = env.step(np.zeros(4, np.float32))
    assert trunc and "episode" in info
    expect(lambda: env.step(np.zeros(4)), "SL_ERR_STATE", "")
    expect(lambda: sl.WorkcellEnv(max_steps=0), "SL_ERR_ARG", "")
    expect(lambda: env.collect("bogus", 1, 1), "SL_ERR_ARG", "bogus")
    expect(lambda: sl.Encoder(p("absent.safetensors")), "SL_ERR_IO", "absent.safetensors")
    print("errors: raised with the library's status and message")


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in CASES:
        print(f"unknown case '{name}'; cases: {' '.join(CASES)}", file=sys.stderr)
        sys.exit(2)
    os.makedirs(W, exist_ok=True)
    CASES[name]()
