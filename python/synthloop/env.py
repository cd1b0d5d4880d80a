# SPDX-License-Identifier: Apache-2.0
"""Environments (sl_env.h) with Gymnasium's reset/step conventions, without Gymnasium.

    env = WorkcellEnv(max_steps=60)
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(action)

`reset(seed=s)` starts a sequence of episodes: episode k of it (k = 0 for that call, then one
more per reset() without a seed) is reset with Rng(s, 1000003 + k).u64(), the derivation
`collect --seed s` uses for its episode k, so a Python loop reproduces a collected dataset.
Observations are new
float32 arrays written by the C step (no copy); actions are passed to C without a copy when they
are float32 and C-contiguous. info carries the step's accounting (units, attempts, failures,
errors by kind, energy_wh, holding, the applied/clipped action) and, at the episode's end, the
episode metrics. Spaces are plain Box objects (low, high, shape, dtype).
"""
import ctypes as C

import numpy as np

from ._lib import call, cstr, declare, lib, _S, _P
from .dataset import Dataset, _DSP

ERR_KINDS = ["drop", "miss", "collision", "timeout"]
POLICIES = ["expert", "medium", "random", "medium-expert", "mixed", "mpc"]  # sl_policy_kind


class _Econ(C.Structure):
    _fields_ = [("value_per_unit", C.c_double), ("human_wage", C.c_double)]


class _Metrics(C.Structure):
    _fields_ = [("steps", C.c_int), ("units", C.c_int), ("attempts", C.c_int),
                ("failures", C.c_int), ("errors_by_kind", C.c_int * 4),
                ("sim_seconds", C.c_double), ("energy_wh", C.c_double),
                ("total_reward", C.c_double), ("mpl", C.c_double), ("error_rate", C.c_double),
                ("ep", C.c_double), ("wage_parity", C.c_double)]


class _Out(C.Structure):
    _fields_ = [("reward", C.c_float), ("terminal", C.c_int), ("timeout", C.c_int),
                ("units", C.c_int), ("attempts", C.c_int), ("failures", C.c_int),
                ("error_mask", C.c_uint), ("errors", C.c_int * 4), ("energy_wh", C.c_double),
                ("holding", C.c_int)]


MAX_COND = 8


class _Env(C.Structure):
    """Mirror of struct sl_env (read-only use: dims, bounds, conditions, episode state)."""
    _fields_ = [("type", C.c_void_p), ("ctx", C.c_void_p), ("name", C.c_char * 64),
                ("obs_dim", C.c_int), ("act_dim", C.c_int),
                ("act_lo", C.POINTER(C.c_float)), ("act_hi", C.POINTER(C.c_float)),
                ("max_steps", C.c_int), ("frame_skip", C.c_int), ("control_dt", C.c_double),
                ("econ", _Econ), ("task", C.c_void_p), ("n_cond", C.c_int), ("cond_names", (C.c_char * 32) * MAX_COND),
                ("cond", C.c_double * MAX_COND), ("t", C.c_int), ("state", C.c_int),
                ("metrics", _Metrics)]


class _WorkcellConfig(C.Structure):
    _fields_ = [("max_steps", C.c_int), ("frame_skip", C.c_int), ("mass_lo", C.c_double),
                ("mass_hi", C.c_double), ("friction_lo", C.c_double),
                ("friction_hi", C.c_double), ("grip_normal_n", C.c_double), ("econ", _Econ)]


class _MjcfTask(C.Structure):
    _fields_ = [("site", C.c_char_p), ("target_site", C.c_char_p), ("target", C.c_double * 3),
                ("tolerance", C.c_double), ("max_steps", C.c_int), ("frame_skip", C.c_int),
                ("init_noise", C.c_double), ("econ", _Econ)]


class _Rng(C.Structure):
    _fields_ = [("s", C.c_uint64 * 4), ("has_spare", C.c_int), ("spare", C.c_double)]


class _Summary(C.Structure):
    _fields_ = ([("episodes", C.c_size_t), ("steps", C.c_size_t),
                 ("policy_counts", C.c_int * len(POLICIES))] +
                [(k, C.c_double) for k in
                 ("mean_mpl", "std_mpl", "mean_error_rate", "std_error_rate", "mean_energy_wh",
                  "std_energy_wh", "mean_ep", "std_ep", "mean_wage_parity", "std_wage_parity",
                  "mean_units", "std_units", "mean_return", "std_return")] +
                [("has_units", C.c_int)])


_EP = C.POINTER(_Env)
_F32P = C.POINTER(C.c_float)
declare("sl_workcell_default", _WorkcellConfig, [])
declare("sl_env_workcell_new", _S, [C.POINTER(_EP), C.POINTER(_WorkcellConfig)])
declare("sl_mjcf_task_default", _MjcfTask, [])
declare("sl_env_mjcf_new", _S, [C.POINTER(_EP), C.c_char_p, C.POINTER(_MjcfTask)])
declare("sl_env_reset", _S, [_EP, C.c_uint64, _F32P])
declare("sl_env_step", _S, [_EP, _F32P, _F32P, _F32P, C.POINTER(_Out)])
declare("sl_env_episode_metrics", _S, [_EP, C.POINTER(_Metrics)])
declare("sl_env_expert", _S, [_EP, _F32P, _F32P])
declare("sl_env_free", None, [_EP])
declare("sl_policy_parse", _S, [C.c_char_p, C.POINTER(C.c_int)])
declare("sl_policy_act", _S, [_EP, C.c_int, C.POINTER(_Rng), _F32P, _F32P])
declare("sl_env_collect", _S, [_EP, C.c_int, C.c_size_t, C.c_uint64, C.POINTER(_DSP),
                               C.POINTER(_Summary)])
declare("sl_rng_seed", None, [C.POINTER(_Rng), C.c_uint64, C.c_uint64])
declare("sl_rng_u64", C.c_uint64, [C.POINTER(_Rng)])
declare("sl_rng_uniform", C.c_double, [C.POINTER(_Rng)])
declare("sl_rng_normal", C.c_double, [C.POINTER(_Rng)])


def f32(a, shape=None):
    """a as a float32 C-contiguous array (the same object when it already is one)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if shape is not None and a.shape != shape:
        a = a.reshape(shape)
    return a


def fptr(a):
    return a.ctypes.data_as(_F32P)


class Rng:
    """The library's xoshiro256** generator (sl_rng): same (seed, stream) => same sequence."""

    def __init__(self, seed, stream=0):
        self._r = _Rng()
        lib.sl_rng_seed(C.byref(self._r), seed, stream)

    def u64(self):
        return lib.sl_rng_u64(C.byref(self._r))

    def uniform(self):
        return lib.sl_rng_uniform(C.byref(self._r))

    def normal(self):
        return lib.sl_rng_normal(C.byref(self._r))


class Box:
    """A Gymnasium-style box space: low, high (float32 arrays), shape, dtype."""

    def __init__(self, low, high):
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.shape = self.low.shape
        self.dtype = np.dtype(np.float32)

    def contains(self, x):
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box(shape={self.shape})"


def policy_kind(name):
    """The sl_policy_kind value of a behaviour policy name (see POLICIES)."""
    k = C.c_int()
    call("sl_policy_parse", cstr(name), C.byref(k))
    return k.value


def _metrics_dict(m):
    d = {k: getattr(m, k) for k, _ in _Metrics._fields_ if k != "errors_by_kind"}
    d["errors_by_kind"] = {ERR_KINDS[i]: m.errors_by_kind[i] for i in range(4)}
    return d


class Env:
    """Base class: a C environment with reset/step (use WorkcellEnv or MjcfEnv)."""

    def __init__(self, ptr):
        self._ptr = ptr
        c = ptr.contents
        self.name = c.name.decode()
        self.obs_dim, self.act_dim = c.obs_dim, c.act_dim
        self.max_steps = c.max_steps
        self.control_dt = c.control_dt
        lo = np.ctypeslib.as_array(c.act_lo, (c.act_dim,)).copy()
        hi = np.ctypeslib.as_array(c.act_hi, (c.act_dim,)).copy()
        self.action_space = Box(lo, hi)
        inf = np.full(c.obs_dim, np.inf, np.float32)
        self.observation_space = Box(-inf, inf)
        self._seed = None
        self._episode = 0

    def close(self):
        if getattr(self, "_ptr", None):
            lib.sl_env_free(self._ptr)
            self._ptr = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _p(self):
        if not self._ptr:
            raise ValueError("environment is closed")
        return self._ptr

    @staticmethod
    def episode_seed(seed, episode):
        """The env seed `collect` uses for episode `episode` of a run with seed `seed`."""
        return Rng(seed, 1000003 + episode).u64()

    def reset(self, seed=None, options=None):
        """Start an episode; returns (obs, info). reset(seed=s) starts a sequence: its episode k
        (k = 0 for this call, then 1, 2, ... for each reset() without a seed) is reset with
        Env.episode_seed(s, k), exactly as `collect --seed s` resets its episode k. Without any
        seed the sequence is that of seed 0. options={"env_seed": x} resets with the raw C seed
        x (sl_env_reset(x)) and leaves the sequence alone."""
        if options and "env_seed" in options:
            env_seed = int(options["env_seed"])
        else:
            if seed is not None:
                self._seed, self._episode = int(seed), 0
            elif self._seed is None:
                self._seed, self._episode = 0, 0
            env_seed = Env.episode_seed(self._seed, self._episode)
            self._episode += 1
        obs = np.empty(self.obs_dim, np.float32)
        call("sl_env_reset", self._p(), env_seed, fptr(obs))
        return obs, {"env_seed": env_seed, "conditions": self.conditions}

    def step(self, action):
        """One control step: (obs, reward, terminated, truncated, info). Non-finite actions
        raise SynthloopError (SL_ERR_NAN); others are clipped to the bounds."""
        a = f32(action, (self.act_dim,))
        obs = np.empty(self.obs_dim, np.float32)
        applied = np.empty(self.act_dim, np.float32)
        out = _Out()
        call("sl_env_step", self._p(), fptr(a), fptr(obs), fptr(applied), C.byref(out))
        info = {"units": out.units, "attempts": out.attempts, "failures": out.failures,
                "errors": {ERR_KINDS[i]: out.errors[i] for i in range(4)},
                "energy_wh": out.energy_wh, "holding": bool(out.holding),
                "applied_action": applied}
        terminated, truncated = bool(out.terminal), bool(out.timeout)
        if terminated or truncated:
            info["episode"] = self.episode_metrics()
        return obs, float(out.reward), terminated, truncated, info

    def episode_metrics(self):
        """Metrics of the current (or just finished) episode (sl_env_episode_metrics)."""
        m = _Metrics()
        call("sl_env_episode_metrics", self._p(), C.byref(m))
        return _metrics_dict(m)

    def expert_action(self, obs):
        """The environment's scripted controller for obs."""
        o = f32(obs, (self.obs_dim,))
        a = np.empty(self.act_dim, np.float32)
        call("sl_env_expert", self._p(), fptr(o), fptr(a))
        return a

    def behaviour_action(self, policy, rng, obs):
        """A behaviour policy's action (sl_policy_act): policy "expert"|"medium"|"random",
        rng an Rng (its state advances as in the C collector)."""
        o = f32(obs, (self.obs_dim,))
        a = np.empty(self.act_dim, np.float32)
        call("sl_policy_act", self._p(), policy_kind(policy), C.byref(rng._r), fptr(o), fptr(a))
        return a

    @property
    def conditions(self):
        """The per-episode conditions set by the last reset (e.g. item_mass)."""
        c = self._p().contents
        return {c.cond_names[i].value.decode(): c.cond[i] for i in range(c.n_cond)}

    def collect(self, policy, episodes, seed):
        """Run `episodes` episodes of a behaviour policy (sl_env_collect): the same dataset,
        bit for bit, as `synthloop collect` with the same env options, policy and seed.
        Returns (Dataset, summary dict)."""
        p = _DSP()
        s = _Summary()
        call("sl_env_collect", self._p(), policy_kind(policy), int(episodes), int(seed),
             C.byref(p), C.byref(s))
        summary = {k: getattr(s, k) for k, _ in _Summary._fields_ if k != "policy_counts"}
        summary["policy_counts"] = {POLICIES[i]: s.policy_counts[i] for i in range(len(POLICIES))}
        return Dataset(p), summary


class WorkcellEnv(Env):
    """The built-in MuJoCo pick-and-place workcell (obs_dim 24, act_dim 4). Keyword arguments
    override sl_workcell_default(): max_steps, frame_skip, mass_lo, mass_hi, friction_lo,
    friction_hi, grip_normal_n, value_per_unit, human_wage."""

    def __init__(self, **kw):
        cfg = lib.sl_workcell_default()
        for k, v in kw.items():
            if k in ("value_per_unit", "human_wage"):
                setattr(cfg.econ, k, float(v))
            elif k in dict(_WorkcellConfig._fields_):
                setattr(cfg, k, v)
            else:
                raise TypeError(f"WorkcellEnv: unknown option '{k}'")
        p = _EP()
        call("sl_env_workcell_new", C.byref(p), C.byref(cfg))
        super().__init__(p)


class MjcfEnv(Env):
    """A MuJoCo model file with a "move site X to a target" task (sl_env_mjcf_new).
    site is required; target_site or target (3 numbers); tolerance, max_steps, frame_skip,
    init_noise, value_per_unit, human_wage override sl_mjcf_task_default()."""

    def __init__(self, path, site, target_site=None, target=None, **kw):
        task = lib.sl_mjcf_task_default()
        self._site = cstr(site)  # kept alive: the task points at it during construction
        self._target_site = cstr(target_site)
        task.site = self._site
        task.target_site = self._target_site
        if target is not None:
            for i, v in enumerate(target):
                task.target[i] = float(v)
        for k, v in kw.items():
            if k in ("value_per_unit", "human_wage"):
                setattr(task.econ, k, float(v))
            elif k in ("tolerance", "max_steps", "frame_skip", "init_noise"):
                setattr(task, k, v)
            else:
                raise TypeError(f"MjcfEnv: unknown option '{k}'")
        p = _EP()
        call("sl_env_mjcf_new", C.byref(p), cstr(path), C.byref(task))
        super().__init__(p)
