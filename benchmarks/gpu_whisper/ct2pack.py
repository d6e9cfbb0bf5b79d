"""Transport packing for CTranslate2 model.bin files (benchmark bundle helper).

pack(model.bin, out_dir, quantize) writes:
  meta.json   variable table (name, shape, dtype id, encoding) + aliases + header fields
  hi.xz       high bytes of every float16 tensor kept exactly, then the int8 payloads (xz)
  lo.bin      low bytes of those float16 tensors (mantissa noise: stored, not compressed)
  raw.xz      every other tensor's bytes (scalars, int tensors, scales) (xz)
Encodings: "f16" (exact, byte planes), "q8" (symmetric int8 per output row, float32 scale
s = 127/max|row|; decoded as fp16(q / s)), "raw" (bytes as-is).
unpack(dir, model.bin) rebuilds a CTranslate2 binary-version-6 model.bin; with no q8 tensors it
is byte-identical to the original (sha256 checked).
"""
import hashlib
import json
import lzma
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ct2_whisper import _DTYPES, read_model_bin  # noqa: E402

_F16 = 4


def _is_quantizable(name, arr):
    return arr.dtype == np.float16 and arr.ndim >= 2 and arr.size >= 65536 and "position_encodings" not in name


def pack(model_bin, out_dir, quantize=False):
    os.makedirs(out_dir, exist_ok=True)
    with open(model_bin, "rb") as f:
        head = f.read(4)
        version = struct.unpack("<I", head)[0]
    spec, v, aliases = read_model_bin(model_bin, dequantize=False)
    with open(model_bin, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    table, hi, lo, raw = [], [], [], []
    for name, a in v.items():
        dtype_id = {np.dtype(t): k for k, t in _DTYPES.items()}[a.dtype]
        ent = {"name": name, "shape": list(a.shape), "dtype": dtype_id}
        if quantize and _is_quantizable(name, a):
            w = a.astype(np.float32).reshape(a.shape[0], -1)
            amax = np.abs(w).max(axis=1)
            scale = np.where(amax > 0, 127.0 / np.maximum(amax, 1e-30), 1.0).astype(np.float32)
            q = np.clip(np.rint(w * scale[:, None]), -127, 127).astype(np.int8)
            ent["enc"] = "q8"
            hi.append(q.tobytes())
            raw.append(scale.tobytes())
        elif a.dtype == np.float16:
            u = a.view(np.uint16).ravel()
            ent["enc"] = "f16"
            hi.append((u >> 8).astype(np.uint8).tobytes())
            lo.append((u & 0xFF).astype(np.uint8).tobytes())
        else:
            ent["enc"] = "raw"
            raw.append(a.tobytes())
        table.append(ent)
    with open(os.path.join(out_dir, "hi.xz"), "wb") as f:
        f.write(lzma.compress(b"".join(hi), preset=6))
    with open(os.path.join(out_dir, "lo.bin"), "wb") as f:
        f.write(b"".join(lo))
    with open(os.path.join(out_dir, "raw.xz"), "wb") as f:
        f.write(lzma.compress(b"".join(raw), preset=6))
    meta = {"version": version, "spec": spec, "revision": 3, "variables": table, "aliases": aliases,
            "source_sha256": sha, "quantized": any(e["enc"] == "q8" for e in table)}
    # the spec revision is not returned by read_model_bin; read it from the file header
    with open(model_bin, "rb") as f:
        buf = f.read(4 + 2 + 64)
    n = struct.unpack("<H", buf[4:6])[0]
    meta["revision"] = struct.unpack("<I", buf[6 + n:10 + n])[0]
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f)
    return meta


def _string(s):
    b = s.encode("utf-8") + b"\0"
    return struct.pack("<H", len(b)) + b


def unpack(pack_dir, model_bin):
    with open(os.path.join(pack_dir, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(pack_dir, "hi.xz"), "rb") as f:
        hi = memoryview(lzma.decompress(f.read()))
    with open(os.path.join(pack_dir, "lo.bin"), "rb") as f:
        lo = memoryview(f.read())
    with open(os.path.join(pack_dir, "raw.xz"), "rb") as f:
        raw = memoryview(lzma.decompress(f.read()))
    ph = pl = pr = 0
    out = [struct.pack("<I", meta["version"]), _string(meta["spec"]), struct.pack("<I", meta["revision"]),
           struct.pack("<I", len(meta["variables"]))]
    for e in meta["variables"]:
        shape = tuple(e["shape"])
        n = int(np.prod(shape)) if shape else 1
        if e["enc"] == "f16":
            h = np.frombuffer(hi[ph:ph + n], np.uint8).astype(np.uint16)
            l_ = np.frombuffer(lo[pl:pl + n], np.uint8).astype(np.uint16)
            ph += n
            pl += n
            data = ((h << 8) | l_).astype("<u2").tobytes()
            dtype_id = _F16
        elif e["enc"] == "q8":
            rows = shape[0]
            q = np.frombuffer(hi[ph:ph + n], np.int8).reshape(rows, -1)
            s = np.frombuffer(raw[pr:pr + 4 * rows], "<f4")
            ph += n
            pr += 4 * rows
            data = (q.astype(np.float32) / s[:, None]).astype("<f2").tobytes()
            dtype_id = _F16
        else:
            nbytes = n * np.dtype(_DTYPES[e["dtype"]]).itemsize
            data = bytes(raw[pr:pr + nbytes])
            pr += nbytes
            dtype_id = e["dtype"]
        out.append(_string(e["name"]) + struct.pack("<B", len(shape)) + struct.pack(f"<{len(shape)}I", *shape)
                   + struct.pack("<BI", dtype_id, len(data)))
        out.append(data)
    out.append(struct.pack("<I", len(meta["aliases"])))
    for a, t in meta["aliases"].items():
        out.append(_string(a) + _string(t))
    blob = b"".join(out)
    assert ph == len(hi) and pl == len(lo) and pr == len(raw), "pack size mismatch"
    with open(model_bin, "wb") as f:
        f.write(blob)
    sha = hashlib.sha256(blob).hexdigest()
    exact = sha == meta["source_sha256"]
    if not meta["quantized"] and not exact:
        raise ValueError("lossless unpack does not match the source sha256")
    return {"exact": exact, "quantized_for_transport": meta["quantized"], "sha256": sha}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "pack":  # ct2pack.py pack model.bin out_dir [q8]
        m = pack(sys.argv[2], sys.argv[3], quantize=len(sys.argv) > 4 and sys.argv[4] == "q8")
        print("packed", len(m["variables"]), "quantized:", m["quantized"])
    else:  # ct2pack.py unpack pack_dir model.bin
        print(unpack(sys.argv[2], sys.argv[3]))
