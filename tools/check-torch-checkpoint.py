#!/usr/bin/python3
"""Check that a clrt checkpoint loads into PyTorch and computes what clrt did.

Reads a clrt safetensors checkpoint with plain struct + json (the
`safetensors` package may be missing), builds torch.nn.Sequential from its
"layers" metadata (Linear, ReLU, LeakyReLU, ...), loads the model tensors
with load_state_dict(strict=True) (the "optim.*" tensors are left out, as a
state_dict of the model has none), runs a forward pass on the inputs and
prints the largest difference from the outputs clrt saved.

  check-torch-checkpoint.py CKPT --outputs Y (--inputs X | --seed S --batch B)
                            [--tol T] [--quiet]

X and Y are float32 [batch, features]: a .npy file, or raw little-endian
float32 (any other name). --seed S --batch B generates X as clrt's test
harness does (clrt_test_random(x, batch * in_features, S), row-major).

Exit status: 0 the outputs agree (max |torch - clrt| / (1 + |torch|) <= T,
default 1e-4); 1 they do not; 2 a bad file or argument; 77 torch (or numpy)
is not importable by this interpreter. Debian's python3-torch is importable
from /usr/bin/python3 only, not from a pyenv python3 found first on PATH.
"""

import argparse
import json
import os
import struct
import sys
import zlib

EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_NO_TORCH = 77

MAX_HEADER_BYTES = 100_000_000
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


class BadInput(Exception):
    pass


def read_safetensors(path):
    """(tensors {name: (dtype, shape, bytes)}, metadata {str: str}), checked."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}")
    if len(blob) < 8:
        raise BadInput(f"{path}: {len(blob)} bytes, not a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or n > MAX_HEADER_BYTES:
        raise BadInput(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: the header is not valid JSON: {e}")
    if not isinstance(header, dict):
        raise BadInput(f"{path}: the header is not a JSON object")
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise BadInput(f"{path}: __metadata__ is not an object of strings")
    tensors = {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise BadInput(f"{path}: tensor {name!r} is malformed")
        numel = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise BadInput(f"{path}: tensor {name!r} has a bad shape {shape}")
            numel *= d
        if dtype not in DTYPE_SIZES or not (0 <= begin <= end <= len(data)) \
                or end - begin != numel * DTYPE_SIZES[dtype]:
            raise BadInput(f"{path}: tensor {name!r} ({dtype} {shape}) has bad data_offsets "
                           f"[{begin}, {end}] for {len(data)} bytes of data")
        tensors[name] = (dtype, shape, data[begin:end])
    checksum = metadata.get("checksum")
    if checksum is not None and (len(checksum) != 8 or
                                 not all(c in "0123456789abcdefABCDEF" for c in checksum)):
        raise BadInput(f"{path}: the checksum {checksum!r} is not 8 hex digits")
    if checksum is not None and int(checksum, 16) != zlib.crc32(data):
        raise BadInput(f"{path}: checksum mismatch (file {checksum}, "
                       f"data {zlib.crc32(data):08x})")
    return tensors, metadata


def build_sequential(torch, layers):
    """nn.Sequential from clrt's "layers" metadata (a JSON list of objects)."""
    nn = torch.nn

    class Sin(nn.Module):
        def forward(self, x):
            return torch.sin(x)

    makers = {
        "identity": lambda l: nn.Identity(),
        "relu": lambda l: nn.ReLU(),
        "leaky_relu": lambda l: nn.LeakyReLU(l.get("negative_slope", 0.01)),
        "sigmoid": lambda l: nn.Sigmoid(),
        "tanh": lambda l: nn.Tanh(),
        "sin": lambda l: Sin(),
        "gelu": lambda l: nn.GELU(),
        "gelu_tanh": lambda l: nn.GELU(approximate="tanh"),
        "softmax": lambda l: nn.Softmax(dim=-1),
        "linear": lambda l: nn.Linear(l["in"], l["out"]),
    }
    modules = []
    for i, layer in enumerate(layers):
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind not in makers:
            raise BadInput(f"layer {i} is {layer!r}, which this script cannot build")
        modules.append(makers[kind](layer))
    return nn.Sequential(*modules)


def clrt_test_random(n, seed):
    """clrt_test_random() of tests/harness.c: xorshift32 floats in [-1, 1)."""
    mask = 0xFFFFFFFF
    s = (seed * 2654435761 + 1) & mask
    out = []
    for _ in range(n):
        s ^= (s << 13) & mask
        s ^= s >> 17
        s ^= (s << 5) & mask
        out.append(s / 2147483648.0 - 1.0)
    return out


def read_matrix(np, path, columns, what):
    try:
        if path.endswith(".npy"):
            a = np.load(path).astype(np.float32)
        else:
            a = np.fromfile(path, dtype="<f4").astype(np.float32)
    except (OSError, ValueError) as e:
        raise BadInput(f"{what} {path}: {e}")
    if a.size % columns != 0:
        raise BadInput(f"{what} {path}: {a.size} floats is not a multiple of {columns}")
    return a.reshape(-1, columns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--outputs", required=True, help="clrt's outputs, [batch, out] float32")
    ap.add_argument("--inputs", help="the inputs, [batch, in] float32 (.npy or raw)")
    ap.add_argument("--seed", type=int, help="generate the inputs as clrt_test_random does")
    ap.add_argument("--batch", type=int, help="rows to generate with --seed")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="bound on max |torch - clrt| / (1 + |torch|) (default 1e-4)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if (args.inputs is None) == (args.seed is None) or (args.seed is not None and not args.batch):
        ap.error("give --inputs FILE, or --seed S with --batch B")

    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"check-torch-checkpoint: {e} under {sys.executable}; Debian's python3-torch "
              "is importable from /usr/bin/python3", file=sys.stderr)
        return EXIT_NO_TORCH

    try:
        tensors, meta = read_safetensors(args.checkpoint)
        if "layers" not in meta:
            raise BadInput(f"{args.checkpoint}: no \"layers\" metadata (not a clrt checkpoint?)")
        try:
            layers = json.loads(meta["layers"])
        except json.JSONDecodeError as e:
            raise BadInput(f"{args.checkpoint}: the \"layers\" metadata is not JSON: {e}")
        model = build_sequential(torch, layers)
        in_features = int(meta.get("in_features") or layers[0]["in"])
        out_features = layers[-1]["out"] if layers else in_features

        state = {}
        for name, (dtype, shape, raw) in tensors.items():
            if name.startswith("optim."):
                continue
            if dtype != "F32":
                raise BadInput(f"tensor {name!r} is {dtype}, expected F32")
            a = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
            state[name] = torch.from_numpy(a.copy())
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise BadInput(f"load_state_dict refused the checkpoint: {e}")

        if args.inputs is not None:
            x = read_matrix(np, args.inputs, in_features, "inputs")
        else:
            x = np.array(clrt_test_random(args.batch * in_features, args.seed),
                         dtype=np.float32).reshape(args.batch, in_features)
        want = read_matrix(np, args.outputs, out_features, "outputs")
        if want.shape[0] != x.shape[0]:
            raise BadInput(f"{x.shape[0]} input rows but {want.shape[0]} output rows")
    except BadInput as e:
        print(f"check-torch-checkpoint: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().astype(np.float64)
    diff = np.abs(y - want.astype(np.float64))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / (1.0 + np.abs(y))).max()) if diff.size else 0.0
    ok = bool(np.isfinite(y).all()) and max_rel <= args.tol
    if not args.quiet or not ok:
        print(f"check-torch-checkpoint: {args.checkpoint}: {len(state)} tensors into "
              f"{model.__class__.__name__}({', '.join(type(m).__name__ for m in model)}); "
              f"{y.shape[0]}x{y.shape[1] if y.ndim > 1 else 1} outputs, max |torch - clrt| "
              f"{max_abs:.3g}, max relative {max_rel:.3g} (tolerance {args.tol:g}): "
              f"{'ok' if ok else 'MISMATCH'}")
    return 0 if ok else EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
