# SPDX-License-Identifier: Apache-2.0
"""Loading libsynthloop.so and declaring the C functions the binding calls (ctypes only).

The library is found, in order, at $SYNTHLOOP_LIB, at <repo>/build/libsynthloop.so (this package
lives in <repo>/python/synthloop), or by the system's loader (libsynthloop.so on the library
path). Every C function is declared once in a table below (name, result type, argument types);
`call(name, ...)` runs a function returning sl_status and raises SynthloopError with the
library's thread-local message when it is not SL_OK.

Adding a module of the C library (e.g. the job layer, sl_loop.h) means: mirror its structs
in a module of this package and append its functions to _PROTOTYPES there with `declare`.
"""
import ctypes as C
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _find_library():
    env = os.environ.get("SYNTHLOOP_LIB")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(_HERE))
    cand = os.path.join(repo, "build", "libsynthloop.so")
    if os.path.exists(cand):
        return cand
    return "libsynthloop.so"


lib = C.CDLL(_find_library())

# sl_status codes (include/synthloop/sl_core.h); index = value
STATUS_NAMES = ["SL_OK", "SL_ERR_NOMEM", "SL_ERR_IO", "SL_ERR_FORMAT", "SL_ERR_ARG",
                "SL_ERR_SHAPE", "SL_ERR_DTYPE", "SL_ERR_NAN", "SL_ERR_NOTFOUND", "SL_ERR_RANGE",
                "SL_ERR_DIVERGED", "SL_ERR_DB", "SL_ERR_PHYSICS", "SL_ERR_STATE",
                "SL_ERR_INTERNAL"]


class SynthloopError(RuntimeError):
    """A synthloop call failed. `status` is the sl_status name, str() the library's message."""

    def __init__(self, status, message):
        self.status = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.code = status
        super().__init__(f"{self.status}: {message}")


_S = C.c_int  # sl_status
_P = C.c_void_p
_F32P = C.POINTER(C.c_float)
_F64P = C.POINTER(C.c_double)
_PP = C.POINTER(C.c_void_p)


def declare(name, restype, argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = argtypes
    return f


# core
declare("sl_strerror", C.c_char_p, [_S])
declare("sl_last_error", C.c_char_p, [])
declare("sl_clear_error", None, [])
declare("sl_version", C.c_char_p, [])
declare("sl_git_describe", C.c_char_p, [])
declare("sl_progress_set_quiet", None, [C.c_int])
declare("sl_log_set_level", None, [C.c_int])
declare("sl_nn_set_threads", None, [C.c_int])
declare("sl_read_file", _S, [C.c_char_p, C.POINTER(C.c_void_p), C.POINTER(C.c_size_t)])


def call(name, *args):
    """Call a C function returning sl_status; raise SynthloopError unless SL_OK."""
    st = getattr(lib, name)(*args)
    if st != 0:
        msg = lib.sl_last_error()
        raise SynthloopError(st, msg.decode("utf-8", "replace") if msg else "")
    return st


def cstr(s):
    """A Python str/path as bytes for a const char * argument (None stays NULL)."""
    if s is None:
        return None
    return os.fsencode(s)
