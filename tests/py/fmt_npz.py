# SPDX-License-Identifier: Apache-2.0
"""fmt_npz.py - numpy side of the NPZ round-trip tests (tests/test_npz.c).

  fmt_npz.py write DIR   numpy writes stored/deflated/v2/v3 archives plus, for every array,
                         DIR/raw/<name>.bin (its C-order bytes) and DIR/manifest.txt
                         ("name descr ndim d0 d1 ..."), and some bad archives.
  fmt_npz.py check NPZ DIR
                         np.load NPZ (written by C) and compare every array bit for bit with
                         DIR/raw/<name>.bin and DIR/manifest.txt (both written by C).
Exits 1 and prints the differences if anything disagrees.
"""
import io
import os
import sys
import zipfile

import numpy as np
from numpy.lib import format as npf

DTYPES = ["<f4", "<f8", "<i4", "<i8", "|u1", "|b1"]
SHAPES = [(), (0,), (5,), (3, 4), (2, 3, 4), (0, 3), (1, 1, 1, 1, 1, 1, 1, 2)]


def make(descr, shape, rng):
    dt = np.dtype(descr)
    n = int(np.prod(shape)) if shape else 1
    if dt.kind == "f":
        x = rng.standard_normal(n).astype(dt) * dt.type(1000)
        specials = [0.0, -0.0, np.finfo(dt).max, np.finfo(dt).min, np.finfo(dt).tiny,
                    np.finfo(dt).tiny / 4, 1.0 / 3.0]
        for i, v in enumerate(specials[: n]):
            x[i] = dt.type(v)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        x = rng.integers(info.min, info.max, size=n, dtype=dt, endpoint=True)
        for i, v in enumerate([info.min, info.max, 0][: n]):
            x[i] = v
    else:
        x = rng.integers(0, 2, size=n).astype(bool)
    return x.reshape(shape)


def arrays():
    rng = np.random.default_rng(1234)
    out = {}
    for descr in DTYPES:
        for k, shape in enumerate(SHAPES):
            out["%s_%d" % (descr[1:], k)] = make(descr, shape, rng)
    return out


def manifest_line(name, a):
    return " ".join([name, a.dtype.str, str(a.ndim)] + [str(d) for d in a.shape])


def zip_with(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def npy_bytes(a, version=None, fortran=False):
    b = io.BytesIO()
    if fortran:
        a = np.asfortranarray(a)
    npf.write_array(b, a, version=version, allow_pickle=False)
    return b.getvalue()


def write(d):
    os.makedirs(os.path.join(d, "raw"), exist_ok=True)
    arrs = arrays()
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        for name, a in arrs.items():
            f.write(manifest_line(name, a) + "\n")
            with open(os.path.join(d, "raw", name + ".bin"), "wb") as g:
                g.write(np.ascontiguousarray(a).tobytes())
    np.savez(os.path.join(d, "np_stored.npz"), **arrs)
    np.savez_compressed(os.path.join(d, "np_deflate.npz"), **arrs)
    zip_with(os.path.join(d, "np_v2.npz"),
             {n + ".npy": npy_bytes(a, (2, 0)) for n, a in arrs.items()}, zipfile.ZIP_DEFLATED)
    zip_with(os.path.join(d, "np_v3.npz"),
             {n + ".npy": npy_bytes(a, (3, 0)) for n, a in arrs.items()})
    np.savez(os.path.join(d, "np_empty.npz"))
    # bad ones
    m = np.arange(12, dtype="<f4").reshape(3, 4)
    zip_with(os.path.join(d, "bad_fortran.npz"), {"m.npy": npy_bytes(m, fortran=True)})
    zip_with(os.path.join(d, "bad_bigendian.npz"), {"m.npy": npy_bytes(m.astype(">f4"))})
    zip_with(os.path.join(d, "bad_complex.npz"), {"m.npy": npy_bytes(m.astype("<c8"))})
    zip_with(os.path.join(d, "bad_float16.npz"), {"m.npy": npy_bytes(m.astype("<f2"))})
    # a 1-d Fortran-flagged array has C-order bytes too: readable
    zip_with(os.path.join(d, "ok_fortran1d.npz"),
             {"v.npy": npy_bytes(np.arange(4, dtype="<f8"), fortran=True)})


def check(npz, d):
    bad = []
    with np.load(npz, allow_pickle=False) as z:
        keys = set(z.files)
        want = {}
        with open(os.path.join(d, "manifest.txt")) as f:
            for line in f:
                p = line.split()
                want[p[0]] = (p[1], tuple(int(x) for x in p[3:]))
        if keys != set(want):
            bad.append("keys differ: %s vs %s" % (sorted(keys), sorted(want)))
        for name, (descr, shape) in want.items():
            if name not in keys:
                continue
            a = z[name]
            if a.dtype.str != descr:
                bad.append("%s: dtype %s, want %s" % (name, a.dtype.str, descr))
            if a.shape != shape:
                bad.append("%s: shape %s, want %s" % (name, a.shape, shape))
            if not a.flags.c_contiguous:
                bad.append("%s: not C order" % name)
            with open(os.path.join(d, "raw", name + ".bin"), "rb") as g:
                raw = g.read()
            if a.tobytes() != raw:
                bad.append("%s: bytes differ (%d vs %d bytes)" % (name, a.nbytes, len(raw)))
        with zipfile.ZipFile(npz) as zf:
            for info in zf.infolist():
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    bad.append("%s: compression %d" % (info.filename, info.compress_type))
            methods = sorted({i.compress_type for i in zf.infolist()})
    for b in bad:
        print("MISMATCH", b)
    print("checked %d arrays, zip methods %s, %d problems" % (len(want), methods, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
        sys.exit(0)
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    sys.exit(2)
