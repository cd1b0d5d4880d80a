# SPDX-License-Identifier: Apache-2.0
"""fmt_safetensors.py - hand-written safetensors reader/writer (json + struct + numpy) used as
the reference for tests/test_safetensors.c. The `safetensors` package is not used.

  fmt_safetensors.py check FILE DIR   parse FILE (written by C), compare every tensor bit for
                                      bit with DIR/raw/<name>.bin + DIR/manifest.txt, and check
                                      the metadata config against DIR/config.json
  fmt_safetensors.py write DIR        write DIR/py.safetensors (header padded to 8 bytes) and
                                      DIR/py_unpadded.safetensors, plus raw/ and manifest.txt
Exits 1 and prints the differences if anything disagrees.
"""
import json
import os
import struct
import sys

import numpy as np

DT = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "|u1", "BOOL": "|b1"}
INV = {np.dtype(v).str: k for k, v in DT.items()}


def parse(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    meta = hdr.pop("__metadata__", {})
    out = {}
    for name, info in hdr.items():
        b, e = info["data_offsets"]
        dt = np.dtype(DT[info["dtype"]])
        a = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
        out[name] = a
    return n, meta, out, len(data)


def check(path, d):
    bad = []
    n, meta, tensors, dlen = parse(path)
    if (8 + n) % 8:
        bad.append("header not padded to 8 bytes: %d" % n)
    want = {}
    with open(os.path.join(d, "manifest.txt")) as f:
        for line in f:
            p = line.split()
            want[p[0]] = (p[1], tuple(int(x) for x in p[3:]))
    if set(want) != set(tensors):
        bad.append("names differ: %s vs %s" % (sorted(tensors), sorted(want)))
    total = 0
    for name, (descr, shape) in want.items():
        if name not in tensors:
            continue
        a = tensors[name]
        total += a.nbytes
        if a.dtype.str != descr or a.shape != shape:
            bad.append("%s: %s %s vs %s %s" % (name, a.dtype.str, a.shape, descr, shape))
        with open(os.path.join(d, "raw", name + ".bin"), "rb") as g:
            if a.tobytes() != g.read():
                bad.append("%s: bytes differ" % name)
    if total != dlen:
        bad.append("buffer %d bytes, tensors %d" % (dlen, total))
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if json.loads(meta.get("config", "null")) != cfg:
        bad.append("metadata config differs: %r" % meta.get("config"))
    if meta.get("format") != "synthloop":
        bad.append("metadata format: %r" % meta.get("format"))
    for b in bad:
        print("MISMATCH", b)
    print("checked %d tensors, %d problems" % (len(want), len(bad)))
    return 1 if bad else 0


def write_st(path, tensors, meta, pad=True):
    hdr = {"__metadata__": meta}
    off = 0
    blobs = []
    # the reference implementation orders tensors by alignment then name; mimic "by name"
    for name in sorted(tensors):
        a = tensors[name].copy(order="C")
        hdr[name] = {"dtype": INV[a.dtype.str], "shape": list(a.shape),
                     "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(hdr).encode("utf-8")
    if pad:
        h += b" " * (-(8 + len(h)) % 8)
    else:
        h += b" " * (((8 + len(h)) % 8 == 0) * 3)  # make it deliberately unaligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write(d):
    os.makedirs(os.path.join(d, "raw"), exist_ok=True)
    rng = np.random.default_rng(7)
    tensors = {}
    shapes = [(), (0,), (7,), (3, 5), (2, 3, 4)]
    for k, dt in DT.items():
        for i, s in enumerate(shapes):
            n = int(np.prod(s)) if s else 1
            if k.startswith("F"):
                x = (rng.standard_normal(n) * 100).astype(dt)
            elif k == "BOOL":
                x = rng.integers(0, 2, size=n).astype(bool)
            else:
                info = np.iinfo(np.dtype(dt))
                x = rng.integers(info.min, info.max, size=n, dtype=np.dtype(dt), endpoint=True)
            tensors["%s.t%d" % (k.lower(), i)] = x.reshape(s)
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        for name, a in tensors.items():
            f.write(" ".join([name, a.dtype.str, str(a.ndim)] + [str(x) for x in a.shape]) + "\n")
            with open(os.path.join(d, "raw", name + ".bin"), "wb") as g:
                g.write(a.tobytes())
    meta = {"format": "pt", "config": json.dumps({"hidden": [64, 64], "lr": 0.001})}
    write_st(os.path.join(d, "py.safetensors"), tensors, meta)
    write_st(os.path.join(d, "py_unpadded.safetensors"), tensors, meta, pad=False)


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    if sys.argv[1] == "write":
        write(sys.argv[2])
        sys.exit(0)
    sys.exit(2)
