#!/usr/bin/env python3
"""Move a training run between OpenCL implementations through a checkpoint.

    migrate.py PROGRAM OPTIMIZER K TOLERANCE

PROGRAM is tests/migrate_train. For the first device entry A of
CLRT_TEST_DEVICES (comma-separated, tests/device_matrix.txt gives each its
selector and environment) and every other entry B, in both directions
(A -> B and B -> A):

  reference: 2K epochs on the first device, uninterrupted;
  moved:     K epochs on the first device, a checkpoint (model, optimizer
             state, position), then K more on the second from it.

The moved run's weights, optimizer state and last loss must match the
reference's to TOLERANCE: per tensor, max |moved - reference| <= TOLERANCE *
max |reference| (a bound relative to the tensor's scale, since single
elements cross zero), and the losses to TOLERANCE relative. The bound is
not 0 because the implementations round differently: each compiles the
same kernels with its own compiler (rusticl, for one, reports a kernel
work-group limit of 32, so clrt's reductions sum in groups of 32 there and
of 256 on PoCL) and its own exp and tanh, and auto may time a different
GEMM backend per device. A control run resumed on the device that saved
it must give the reference's bits exactly (with the builtin GEMM, whose
tiles all sum alike): the checkpoint carries the whole state, so what
differs after a move is the device's rounding, and nothing lost.

Exit 77 when fewer than two devices are named.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_matrix  # noqa: E402


def run(program, args, device, extra_env=None):
    name, selector, env = device
    env = dict(env, CLRT_DEVICE=selector, **(extra_env or {}))
    p = subprocess.run([program] + args, env=env, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        sys.exit("%s %s on %s exited %d:\n%s%s" % (program, " ".join(args), name, p.returncode,
                                                   p.stdout, p.stderr))
    losses = [float(line.split()[-1]) for line in p.stdout.splitlines()
              if line.startswith("epoch ")]
    if not losses:
        sys.exit("%s on %s printed no loss:\n%s" % (program, name, p.stdout))
    return losses[-1]


def tensors(path):
    """The float32 tensors of a safetensors file, by name, as flat lists."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit("%s: %s is %s, expected F32" % (path, name, t["dtype"]))
        b, e = t["data_offsets"]
        out[name] = struct.unpack("<%df" % ((e - b) // 4), data[b:e])
    return out


def compare(what, ref_path, ref_loss, got_path, got_loss, tol):
    ref, got = tensors(ref_path), tensors(got_path)
    failures = 0
    if sorted(ref) != sorted(got):
        print("%s: tensors differ: %s vs %s" % (what, sorted(ref), sorted(got)))
        return 1
    worst_name, worst = "", 0.0
    for name in sorted(ref):
        scale = max(abs(v) for v in ref[name]) if ref[name] else 0.0
        diff = max((abs(a - b) for a, b in zip(ref[name], got[name])), default=0.0)
        rel = diff / scale if scale > 0 else diff
        if rel > worst or not worst_name:
            worst_name, worst = name, rel
        if not rel <= tol:
            print("%s: %s differs by %.3g of its largest value %.6g (bound %.3g)" %
                  (what, name, rel, scale, tol))
            failures += 1
    loss_rel = abs(got_loss - ref_loss) / max(abs(ref_loss), 1e-30)
    if not loss_rel <= tol:
        print("%s: loss %.9e, reference %.9e (relative %.3g > %.3g)" %
              (what, got_loss, ref_loss, loss_rel, tol))
        failures += 1
    print("%-26s %2d tensors, worst %-32s %.2e, loss %.9e vs %.9e (%.2e)  %s" %
          (what, len(ref), worst_name, worst, got_loss, ref_loss, loss_rel,
           "ok" if not failures else "DIFFERS"))
    return failures


def main():
    program, optimizer, k, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    devices = device_matrix.entries()
    if len(devices) < 2:
        print("fewer than two devices: nothing to move between")
        return 77
    failures = 0
    with tempfile.TemporaryDirectory(prefix="clrt-migrate-") as tmp:
        def path(*parts):
            return os.path.join(tmp, "-".join(parts) + ".safetensors")

        # Each device's own runs: 2K uninterrupted, K then a checkpoint.
        full, half = {}, {}
        for dev in devices:
            name = dev[0]
            full[name] = run(program, [optimizer, str(2 * k), path(name, "full")], dev)
            half[name] = run(program, [optimizer, str(k), path(name, "half")], dev)

        # The control: resumed where it was saved, with every GEMM through
        # the builtin tiles, the bits of the uninterrupted run.
        a = devices[0]
        builtin = {"CLRT_GEMM": "builtin"}
        ref_loss = run(program, [optimizer, str(2 * k), path(a[0], "full-builtin")], a, builtin)
        run(program, [optimizer, str(k), path(a[0], "half-builtin")], a, builtin)
        loss = run(program, [optimizer, str(2 * k), path(a[0], "resumed-builtin"),
                             path(a[0], "half-builtin")], a, builtin)
        failures += compare("%s -> %s (control)" % (a[0], a[0]), path(a[0], "full-builtin"),
                            ref_loss, path(a[0], "resumed-builtin"), loss, 0.0)

        for b in devices[1:]:
            for src, dst in ((a, b), (b, a)):
                moved = path(src[0], "to", dst[0])
                loss = run(program, [optimizer, str(2 * k), moved, path(src[0], "half")], dst)
                failures += compare("%s -> %s" % (src[0], dst[0]), path(src[0], "full"),
                                    full[src[0]], moved, loss, tol)
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
