# SPDX-License-Identifier: Apache-2.0
"""Trained models from their safetensors checkpoints: the latent encoder (sl_latent.h), the
world model (sl_world.h), the trust model (sl_trust.h) and RL policies (sl_rl.h).

Inputs are passed to C without a copy when they are float32 and C-contiguous; outputs are new
numpy arrays written by C. Each object owns its C model and frees it in close()/__del__.
Training runs through the CLI today (or the job layer, when bound); these classes load what it
wrote and run inference.
"""
import ctypes as C

import numpy as np

from ._lib import call, cstr, declare, lib, _S, _P
from .dataset import Dataset, _DSP
from .env import f32, fptr

_F32P = C.POINTER(C.c_float)
_F64P = C.POINTER(C.c_double)

# --- encoder ------------------------------------------------------------------------------
declare("sl_latent_load", _S, [C.POINTER(_P), C.c_char_p])
declare("sl_latent_free", None, [_P])
declare("sl_latent_obs_dim", C.c_int, [_P])
declare("sl_latent_z_dim", C.c_int, [_P])
declare("sl_latent_encode", _S, [_P, _F32P, C.c_size_t, C.c_int, _F32P])
declare("sl_latent_z_norm", None, [_P, C.POINTER(_F32P), C.POINTER(_F32P)])


class _Owned:
    _free = None

    def close(self):
        if getattr(self, "_ptr", None):
            getattr(lib, self._free)(self._ptr)
            self._ptr = None

    def __del__(self):
        self.close()

    def _p(self):
        if not self._ptr:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr


class Encoder(_Owned):
    """The observation encoder obs [n, obs_dim] -> z [n, z_dim] (sl_latent_encode)."""
    _free = "sl_latent_free"

    def __init__(self, path):
        self._ptr = None
        p = _P()
        call("sl_latent_load", C.byref(p), cstr(path))
        self._ptr = p
        self.obs_dim = lib.sl_latent_obs_dim(p)
        self.z_dim = lib.sl_latent_z_dim(p)

    def encode(self, obs):
        o = f32(obs)
        if o.ndim == 1:
            return self.encode(o[None])[0]
        if o.ndim != 2 or o.shape[1] != self.obs_dim:
            raise ValueError(f"Encoder.encode: obs must be [n, {self.obs_dim}]")
        z = np.empty((o.shape[0], self.z_dim), np.float32)
        call("sl_latent_encode", self._p(), fptr(o), o.shape[0], self.obs_dim, fptr(z))
        return z

    def sphere(self):
        """(z_mean, z_std) copies: every latent satisfies ||z * z_std + z_mean|| = 1."""
        m, s = _F32P(), _F32P()
        lib.sl_latent_z_norm(self._p(), C.byref(m), C.byref(s))
        return (np.ctypeslib.as_array(m, (self.z_dim,)).copy(),
                np.ctypeslib.as_array(s, (self.z_dim,)).copy())


# --- trust model ---------------------------------------------------------------------------
declare("sl_trust_load", _S, [C.POINTER(_P), C.c_char_p])
declare("sl_trust_free", None, [_P])
declare("sl_trust_model_dim", C.c_int, [_P])
declare("sl_trust_score_windows", _S, [_P, _F32P, C.c_size_t, C.c_int, C.c_int, _F64P])
declare("sl_trust_logits", _S, [_P, _F32P, C.c_size_t, C.c_int, C.c_int, _F64P])


class TrustModel(_Owned):
    """Calibrated p(real) of latent windows [n, T, D] (sl_trust_score_windows); NaN for a
    window holding NaN/Inf."""
    _free = "sl_trust_free"

    def __init__(self, path):
        self._ptr = None
        p = _P()
        call("sl_trust_load", C.byref(p), cstr(path))
        self._ptr = p
        self.dim = lib.sl_trust_model_dim(p)

    def _run(self, fn, windows):
        w = f32(windows)
        if w.ndim != 3:
            raise ValueError("windows must be [n, T, D]")
        out = np.empty(w.shape[0], np.float64)
        call(fn, self._p(), fptr(w), w.shape[0], w.shape[1], w.shape[2],
             out.ctypes.data_as(_F64P))
        return out

    def score(self, windows):
        return self._run("sl_trust_score_windows", windows)

    def logits(self, windows):
        return self._run("sl_trust_logits", windows)


# --- world model ---------------------------------------------------------------------------
WORLD_MAX_ECON = 6
WORLD_NAME_MAX = 48


class _WorldConfig(C.Structure):
    """Mirror of sl_world_config (layout checked by tests/py/python_check.py)."""
    _fields_ = [("members", C.c_int), ("hidden", C.c_int), ("mode", C.c_int),
                ("horizon", C.c_int), ("horizon_mix", C.c_float), ("burn_in", C.c_int),
                ("batch", C.c_int), ("max_iters", C.c_int), ("eval_every", C.c_int),
                ("patience", C.c_int), ("lr", C.c_float), ("grad_clip", C.c_float),
                ("holdout_frac", C.c_double), ("ss_start", C.c_float), ("ss_end", C.c_float),
                ("ss_frac", C.c_float), ("w_reward", C.c_float), ("w_econ", C.c_float),
                ("w_var", C.c_float), ("w_dist", C.c_float), ("w_window", C.c_float),
                ("window_prefixes", C.c_int), ("w_rough", C.c_float), ("clip", C.c_int),
                ("clip_value", C.c_float), ("bootstrap", C.c_int), ("noise_scale", C.c_float),
                ("learn_noise", C.c_int), ("hetero_noise", C.c_int), ("w_nll", C.c_float),
                ("n_econ", C.c_int),
                ("econ_names", (C.c_char * WORLD_NAME_MAX) * WORLD_MAX_ECON),
                ("seed", C.c_uint64)]


class _WorldData(C.Structure):
    """Mirror of sl_world_data."""
    _fields_ = [("n", C.c_size_t), ("n_episodes", C.c_size_t), ("z_dim", C.c_int),
                ("a_dim", C.c_int), ("z", _F32P), ("z_next", _F32P), ("actions", _F32P),
                ("rewards", _F32P), ("n_econ", C.c_int), ("econ", _F32P * WORLD_MAX_ECON),
                ("econ_names", (C.c_char * WORLD_NAME_MAX) * WORLD_MAX_ECON),
                ("ep_start", C.POINTER(C.c_size_t)), ("step_seconds", C.c_double),
                ("ds", C.c_void_p)]


declare("sl_world_load", _S, [C.POINTER(_P), C.c_char_p])
declare("sl_world_free", None, [_P])
declare("sl_world_get_config", C.POINTER(_WorldConfig), [_P])
declare("sl_world_z_dim", C.c_int, [_P])
declare("sl_world_set_sphere", _S, [_P, _F32P, _F32P])
declare("sl_world_data_init", _S, [C.POINTER(_WorldData), _DSP, _F32P, _F32P, C.c_int,
                                   C.c_void_p, C.c_int])
declare("sl_world_data_clear", None, [C.POINTER(_WorldData)])
declare("sl_world_generate_windows", _S, [_P, C.POINTER(_WorldData), C.c_int, C.c_size_t,
                                          C.c_float, C.c_uint64, C.POINTER(_F32P),
                                          C.POINTER(C.c_size_t)])
lib.free.argtypes = [C.c_void_p]
lib.free.restype = None


class WorldModel(_Owned):
    """A residual-GRU world model ensemble over latents (sl_world_load)."""
    _free = "sl_world_free"

    def __init__(self, path):
        self._ptr = None
        p = _P()
        call("sl_world_load", C.byref(p), cstr(path))
        self._ptr = p
        self.z_dim = lib.sl_world_z_dim(p)

    @property
    def config(self):
        c = lib.sl_world_get_config(self._p()).contents
        d = {k: getattr(c, k) for k, _ in _WorldConfig._fields_ if k != "econ_names"}
        d["econ_names"] = [c.econ_names[i].value.decode() for i in range(c.n_econ)]
        return d

    def set_sphere(self, encoder):
        """Project rollouts back onto the encoder's latent sphere (as `--encoder`)."""
        m, s = encoder.sphere()
        call("sl_world_set_sphere", self._p(), fptr(m), fptr(s))

    def generate_windows(self, dataset, z, z_next, horizon, n, noise=0.0, seed=0):
        """n windows [n, horizon + 1, z_dim] from random real starts of `dataset` with latents
        z / z_next [dataset.n, z_dim] (sl_world_generate_windows; what `world rollout` writes).
        Returns (windows, start_rows)."""
        zz, zn = f32(z), f32(z_next)
        c = lib.sl_world_get_config(self._p()).contents
        d = _WorldData()
        call("sl_world_data_init", C.byref(d), dataset._ptr, fptr(zz), fptr(zn), zz.shape[1],
             C.cast(C.byref(c.econ_names), C.c_void_p), c.n_econ)
        out = _F32P()
        starts = np.empty(int(n), np.uintp)
        try:
            call("sl_world_generate_windows", self._p(), C.byref(d), int(horizon), int(n),
                 float(noise), int(seed), C.byref(out),
                 starts.ctypes.data_as(C.POINTER(C.c_size_t)))
            w = np.ctypeslib.as_array(out, (int(n), int(horizon) + 1, zz.shape[1])).copy()
        finally:
            lib.free(C.cast(out, C.c_void_p))
            lib.sl_world_data_clear(C.byref(d))
        return w, starts.astype(np.int64)


# --- RL policies ---------------------------------------------------------------------------
declare("sl_agent_load", _S, [C.POINTER(_P), C.c_char_p])
declare("sl_agent_free", None, [_P])
declare("sl_agent_act", _S, [_P, _F32P, C.c_int, _F32P])


class Policy(_Owned):
    """A trained policy (sl_agent_load): act(obs) for one observation [obs_dim] or a batch
    [B, obs_dim] -> actions in [-1, 1] (deterministic: tanh of the actor's output)."""
    _free = "sl_agent_free"

    def __init__(self, path, obs_dim, act_dim):
        self._ptr = None
        p = _P()
        call("sl_agent_load", C.byref(p), cstr(path))
        self._ptr = p
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)

    @classmethod
    def load(cls, path):
        """Load, reading obs_dim and act_dim from the checkpoint's metadata."""
        meta = read_safetensors_header(path).get("__metadata__", {})
        return cls(path, int(meta["obs_dim"]), int(meta["act_dim"]))

    def act(self, obs):
        o = f32(obs)
        if o.ndim == 1:
            return self.act(o[None])[0]
        if o.ndim != 2 or o.shape[1] != self.obs_dim:
            raise ValueError(f"Policy.act: obs must be [B, {self.obs_dim}]")
        out = np.empty((o.shape[0], self.act_dim), np.float32)
        call("sl_agent_act", self._p(), fptr(o), o.shape[0], fptr(out))
        return out


def read_safetensors_header(path):
    """The JSON header of a safetensors file (names, dtypes, shapes, offsets, __metadata__)."""
    import json
    import struct
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: safetensors header of {n} bytes")
        return json.loads(f.read(n))


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32/F64/I32/I64/U8), plus its metadata."""
    hdr = read_safetensors_header(path)
    dt = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "|u1"}
    import struct
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        f.seek(8 + n)
        blob = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(blob[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out, hdr.get("__metadata__", {})
