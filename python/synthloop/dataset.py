# SPDX-License-Identifier: Apache-2.0
"""Datasets (sl_dataset.h): load/save NPZ, import other formats, numpy views of the fields.

A Dataset owns one C sl_dataset. Its array properties are numpy *views* of the C memory (no
copy): writing into them changes the dataset, and every view keeps the Dataset alive. Shapes
follow the NPZ keys: observations [n, obs_dim] f4, actions [n, act_dim] f4, rewards [n] f4,
terminals/timeouts [n] bool, episode_ids/timesteps [n] i4, step columns [n] f4, episode
columns [n_episodes] f8. `Dataset.from_arrays` copies numpy arrays in (the C dataset must own
its memory); `to_dict` copies everything out.
"""
import ctypes as C

import numpy as np

from ._lib import call, cstr, declare, lib, _S, _P

MAX_COLS = 32
NAME_MAX = 48


class _Col(C.Structure):
    _fields_ = [("name", C.c_char * NAME_MAX), ("data", C.c_void_p)]


class _Dataset(C.Structure):
    """Mirror of struct sl_dataset (checked against the C layout by tests/py/python_check.py)."""
    _fields_ = [
        ("n", C.c_size_t), ("n_episodes", C.c_size_t),
        ("obs_dim", C.c_int), ("act_dim", C.c_int),
        ("observations", C.c_void_p), ("next_observations", C.c_void_p),
        ("actions", C.c_void_p), ("rewards", C.c_void_p),
        ("terminals", C.c_void_p), ("timeouts", C.c_void_p),
        ("episode_ids", C.c_void_p), ("timesteps", C.c_void_p),
        ("n_step_cols", C.c_int), ("step_cols", _Col * MAX_COLS),
        ("n_ep_cols", C.c_int), ("ep_cols", _Col * MAX_COLS),
    ]


_DSP = C.POINTER(_Dataset)
declare("sl_dataset_alloc", _S, [C.POINTER(_DSP), C.c_size_t, C.c_int, C.c_int])
declare("sl_dataset_free", None, [_DSP])
declare("sl_dataset_add_step_col", _S, [_DSP, C.c_char_p, C.POINTER(C.POINTER(C.c_float))])
declare("sl_dataset_add_ep_col", _S, [_DSP, C.c_char_p, C.POINTER(C.POINTER(C.c_double))])
declare("sl_dataset_validate", _S, [_DSP, C.c_char_p])
declare("sl_dataset_save_npz", _S, [_DSP, C.c_char_p])
declare("sl_dataset_load_npz", _S, [C.POINTER(_DSP), C.c_char_p])
declare("sl_dataset_select_episodes", _S,
        [C.POINTER(_DSP), _DSP, C.POINTER(C.c_size_t), C.c_size_t])
declare("sl_import_file", _S, [C.POINTER(_DSP), C.c_char_p, _P, _P])


class _View:
    """Exposes C memory to numpy through __array_interface__ and keeps `owner` alive."""

    def __init__(self, owner, addr, shape, typestr):
        self.owner = owner
        self.__array_interface__ = {"data": (addr, False), "shape": tuple(shape),
                                    "typestr": typestr, "version": 3}


def view(owner, addr, shape, typestr):
    """A numpy array over C memory at addr (no copy); owner stays alive while it lives."""
    if not addr or 0 in shape:
        return np.zeros(shape, dtype=np.dtype(typestr))
    return np.asarray(_View(owner, addr, shape, typestr))


class Dataset:
    """A dataset of transitions (see the module docstring). Create with Dataset.load,
    Dataset.import_file, Dataset.from_arrays or env.collect."""

    def __init__(self, ptr):
        if not ptr:
            raise ValueError("Dataset: NULL pointer")
        self._ptr = ptr

    # --- life cycle ---
    def close(self):
        """Free the C dataset now (views taken earlier keep their data valid only until then)."""
        if getattr(self, "_ptr", None):
            lib.sl_dataset_free(self._ptr)
            self._ptr = None

    def __del__(self):
        self.close()

    @property
    def _c(self):
        if not self._ptr:
            raise ValueError("Dataset is closed")
        return self._ptr.contents

    # --- files ---
    @classmethod
    def load(cls, path):
        """Read an NPZ with the D4RL keys (sl_dataset_load_npz)."""
        p = _DSP()
        call("sl_dataset_load_npz", C.byref(p), cstr(path))
        return cls(p)

    @classmethod
    def import_file(cls, path):
        """Import NPZ, D4RL/Minari HDF5 or CSV, format detected (sl_import_file, defaults)."""
        p = _DSP()
        call("sl_import_file", C.byref(p), cstr(path), None, None)
        return cls(p)

    def save(self, path):
        """Write as NPZ, atomically; the dataset is validated first (sl_dataset_save_npz)."""
        call("sl_dataset_save_npz", self._ptr, cstr(path))

    def validate(self, what="dataset"):
        call("sl_dataset_validate", self._ptr, cstr(what))

    @classmethod
    def from_arrays(cls, observations, actions, rewards, next_observations=None,
                    terminals=None, timeouts=None, episode_ids=None, timesteps=None,
                    step_cols=None, ep_cols=None):
        """Copy numpy arrays into a new dataset. episode_ids default to one episode;
        timesteps are derived from episode_ids when absent; next_observations default to
        observations shifted within each episode (the last row repeats its observation)."""
        obs = np.ascontiguousarray(observations, dtype=np.float32)
        if obs.ndim != 2:
            raise ValueError("observations must be [n, obs_dim]")
        n, od = obs.shape
        if n == 0:
            raise ValueError("Dataset.from_arrays: no rows")
        act = np.ascontiguousarray(actions, dtype=np.float32).reshape(n, -1)
        ad = act.shape[1]
        eid = (np.zeros(n, np.int32) if episode_ids is None
               else np.ascontiguousarray(episode_ids, dtype=np.int32).reshape(n))
        if timesteps is None:
            ts = np.zeros(n, np.int32)
            for i in range(1, n):
                ts[i] = ts[i - 1] + 1 if eid[i] == eid[i - 1] else 0
        else:
            ts = np.ascontiguousarray(timesteps, dtype=np.int32).reshape(n)
        if next_observations is None:
            nobs = obs.copy()
            same = np.nonzero(eid[1:] == eid[:-1])[0]
            nobs[same] = obs[same + 1]
        else:
            nobs = np.ascontiguousarray(next_observations, dtype=np.float32).reshape(n, od)
        p = _DSP()
        call("sl_dataset_alloc", C.byref(p), n, od, ad)
        ds = cls(p)
        c = ds._c
        c.n_episodes = int(eid[-1]) + 1 if n else 0
        ds.observations[...] = obs
        ds.next_observations[...] = nobs
        ds.actions[...] = act
        ds.rewards[...] = np.asarray(rewards, dtype=np.float32).reshape(n)
        ds.terminals[...] = (np.zeros(n, bool) if terminals is None
                             else np.asarray(terminals, dtype=bool).reshape(n))
        ds.timeouts[...] = (np.zeros(n, bool) if timeouts is None
                            else np.asarray(timeouts, dtype=bool).reshape(n))
        ds.episode_ids[...] = eid
        ds.timesteps[...] = ts
        for name, arr in (step_cols or {}).items():
            ptr = C.POINTER(C.c_float)()
            call("sl_dataset_add_step_col", ds._ptr, cstr(name), C.byref(ptr))
            ds.step_cols[name][...] = np.asarray(arr, dtype=np.float32).reshape(n)
        for name, arr in (ep_cols or {}).items():
            ptr = C.POINTER(C.c_double)()
            call("sl_dataset_add_ep_col", ds._ptr, cstr(name), C.byref(ptr))
            ds.ep_cols[name][...] = np.asarray(arr, dtype=np.float64).reshape(c.n_episodes)
        ds.validate("Dataset.from_arrays")
        return ds

    def select_episodes(self, episodes):
        """Deep copy of the given episodes (renumbered 0..k-1 in the given order)."""
        idx = np.ascontiguousarray(episodes, dtype=np.uintp)
        p = _DSP()
        call("sl_dataset_select_episodes", C.byref(p), self._ptr,
             idx.ctypes.data_as(C.POINTER(C.c_size_t)), idx.size)
        return Dataset(p)

    # --- sizes ---
    @property
    def n(self):
        return self._c.n

    def __len__(self):
        return self._c.n

    @property
    def n_episodes(self):
        return self._c.n_episodes

    @property
    def obs_dim(self):
        return self._c.obs_dim

    @property
    def act_dim(self):
        return self._c.act_dim

    # --- fields as views ---
    @property
    def observations(self):
        c = self._c
        return view(self, c.observations, (c.n, c.obs_dim), "<f4")

    @property
    def next_observations(self):
        c = self._c
        return view(self, c.next_observations, (c.n, c.obs_dim), "<f4")

    @property
    def actions(self):
        c = self._c
        return view(self, c.actions, (c.n, c.act_dim), "<f4")

    @property
    def rewards(self):
        c = self._c
        return view(self, c.rewards, (c.n,), "<f4")

    @property
    def terminals(self):
        c = self._c
        return view(self, c.terminals, (c.n,), "|b1")

    @property
    def timeouts(self):
        c = self._c
        return view(self, c.timeouts, (c.n,), "|b1")

    @property
    def episode_ids(self):
        c = self._c
        return view(self, c.episode_ids, (c.n,), "<i4")

    @property
    def timesteps(self):
        c = self._c
        return view(self, c.timesteps, (c.n,), "<i4")

    @property
    def step_cols(self):
        """{name: float32 view [n]} of the extra step columns."""
        c = self._c
        return {c.step_cols[i].name.decode(): view(self, c.step_cols[i].data, (c.n,), "<f4")
                for i in range(c.n_step_cols)}

    @property
    def ep_cols(self):
        """{name: float64 view [n_episodes]} of the episode columns (without "ep_")."""
        c = self._c
        return {c.ep_cols[i].name.decode():
                view(self, c.ep_cols[i].data, (c.n_episodes,), "<f8")
                for i in range(c.n_ep_cols)}

    def to_dict(self):
        """Copies of every array under its NPZ key (episode columns as "ep_<name>")."""
        d = {k: getattr(self, k).copy() for k in
             ("observations", "next_observations", "actions", "rewards", "terminals",
              "timeouts", "episode_ids", "timesteps")}
        d.update({k: v.copy() for k, v in self.step_cols.items()})
        d.update({"ep_" + k: v.copy() for k, v in self.ep_cols.items()})
        return d

    def __repr__(self):
        if not getattr(self, "_ptr", None):
            return "<Dataset closed>"
        return (f"<Dataset n={self.n} episodes={self.n_episodes} obs_dim={self.obs_dim} "
                f"act_dim={self.act_dim}>")
