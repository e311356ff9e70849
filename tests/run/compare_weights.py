"""Compare the tensors of two safetensors files (float32, bfloat16 or float16):
the largest absolute difference, and whether it is within --atol.
    compare_weights.py A.safetensors B.safetensors [--atol X]"""
import json
import struct
import sys
from array import array


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            values = array("f", raw)
        elif info["dtype"] in ("BF16", "F16"):
            halves = array("H", raw)
            if info["dtype"] == "BF16":
                values = array("f", b"".join(struct.pack("<I", h << 16) for h in halves))
            else:
                values = array("f", (struct.unpack("<e", struct.pack("<H", h))[0] for h in halves))
        else:
            raise SystemExit(f"{path}: {name} has dtype {info['dtype']}, not a float")
        out[name] = (info["shape"], values)
    return out


args = sys.argv[1:]
atol = 1e-5
if "--atol" in args:
    i = args.index("--atol")
    atol = float(args[i + 1])
    del args[i:i + 2]
a, b = tensors(args[0]), tensors(args[1])
if a.keys() != b.keys():
    raise SystemExit(f"different tensors: {sorted(a.keys() ^ b.keys())[:5]}")
worst, where, largest = 0.0, "", 0.0
for name in sorted(a):
    (shape_a, x), (shape_b, y) = a[name], b[name]
    if shape_a != shape_b:
        raise SystemExit(f"{name}: shape {shape_a} vs {shape_b}")
    for u, v in zip(x, y):
        d = abs(u - v)
        largest = max(largest, abs(u))
        if d > worst:
            worst, where = d, name
print(f"max |a - b| = {worst:.3g} (in {where or '-'}; largest |weight| {largest:.3g}); tolerance {atol:g}")
sys.exit(0 if worst <= atol else 1)
