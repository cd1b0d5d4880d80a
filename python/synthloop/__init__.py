# SPDX-License-Identifier: Apache-2.0
"""synthloop from Python: a ctypes binding over build/libsynthloop.so (docs/PYTHON.md).

    import synthloop as sl
    env = sl.WorkcellEnv()
    ds, summary = env.collect("expert", episodes=10, seed=1)   # == `synthloop collect -n 10 -s 1`
    ds.save("d.npz"); obs = ds.observations                      # numpy view, no copy
    obs, info = env.reset(seed=3); obs, r, term, trunc, info = env.step(env.expert_action(obs))

Modules: dataset (Dataset), env (WorkcellEnv, MjcfEnv, Rng, Box), models (Encoder, WorldModel,
TrustModel, Policy). Errors raise SynthloopError with the library's message.
"""
from ._lib import SynthloopError, lib
from .dataset import Dataset
from .env import Box, Env, MjcfEnv, POLICIES, Rng, WorkcellEnv
from .models import Encoder, Policy, TrustModel, WorldModel, read_safetensors

__all__ = ["SynthloopError", "Dataset", "Box", "Env", "MjcfEnv", "POLICIES", "Rng",
           "WorkcellEnv", "Encoder", "Policy", "TrustModel", "WorldModel", "read_safetensors",
           "version", "set_quiet", "set_threads"]


def version():
    """(version, git describe) of the loaded library."""
    return lib.sl_version().decode(), lib.sl_git_describe().decode()


def set_quiet(quiet=True):
    """Silence (or restore) the library's progress bars and info messages."""
    lib.sl_progress_set_quiet(1 if quiet else 0)
    lib.sl_log_set_level(2 if quiet else 1)  # SL_LOG_WARN / SL_LOG_INFO


def set_threads(n):
    """Kernel threads of the NN code (sl_nn_set_threads); same threads => same bits."""
    lib.sl_nn_set_threads(int(n))
