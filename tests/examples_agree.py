#!/usr/bin/env python3
"""Run a program on each device and check that its loss curves agree.

    examples_agree.py TOLERANCE PROGRAM [ARGS...]

The devices are the entries named in CLRT_TEST_DEVICES (comma-separated,
default "pocl,oclgrind"), each run with its selector in CLRT_DEVICE and the
environment tests/device_matrix.txt gives it. Every line of the program's
output that holds "epoch N" is one point of its curve, and every "loss X"
or "mse X" on it (clrt-train prints a train and a test loss) one value of
that point; a program that prints JSON with "epochs" (clrt-train --json)
gives each epoch's train_loss and test_loss. The curves must have the same epochs and agree to TOLERANCE
relative to the larger value (plus 1e-7 absolute, for losses that go to
zero), each device against the first.

An argument @TRAIN_CSV@ or @TEST_CSV@ stands for a small classification
data set this script writes (CSV, last column the class), so clrt-train
runs a short epoch on every device, oclgrind included. Exit 77 when fewer
than two devices are named, so meson reports a skip rather than a pass.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_matrix  # noqa: E402

EPOCH = re.compile(r"epoch\s+(\d+)")
VALUE = re.compile(r"(?:loss|mse)\s+([-+0-9.eE]+|nan|inf)")


def write_csv(path, rows, seed):
    """rows samples of 16 features in 4 classes: class k's features lean
    towards a direction of its own, under deterministic noise that makes
    the classes overlap (so the loss does not go to zero at once)."""
    state = seed
    lines = []
    for r in range(rows):
        k = r % 4
        feats = []
        for j in range(16):
            state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            noise = 3.0 * (((state >> 40) / float(1 << 24)) - 0.5)
            feats.append(0.8 * math.cos(0.7 * j + 1.6 * k) + noise)
        lines.append(",".join("%.6f" % v for v in feats) + ",%d" % k)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def curve(program, args, name, selector, env):
    env = dict(env, CLRT_DEVICE=selector)
    run = subprocess.run([program] + args, env=env, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        sys.exit("%s on %s exited %d:\n%s%s" % (program, name, run.returncode, run.stdout,
                                                run.stderr))
    try:  # clrt-train --json: the losses at full precision
        epochs = json.loads(run.stdout)["epochs"]
        return [(e["epoch"], [e["train_loss"], e["test_loss"]]) for e in epochs]
    except (ValueError, KeyError, TypeError):
        pass
    points = []
    for line in run.stdout.splitlines():
        m = EPOCH.search(line)
        values = [float(v) for v in VALUE.findall(line)]
        if m and values:
            points.append((int(m.group(1)), values))
    if not points:
        sys.exit("%s on %s printed no loss curve:\n%s" % (program, name, run.stdout))
    return points


def main():
    tol = float(sys.argv[1])
    program, args = sys.argv[2], sys.argv[3:]
    devices = device_matrix.entries()
    if len(devices) < 2:
        print("fewer than two devices: nothing to compare")
        return 77
    with tempfile.TemporaryDirectory(prefix="clrt-agree-") as tmp:
        files = {"@TRAIN_CSV@": os.path.join(tmp, "train.csv"),
                 "@TEST_CSV@": os.path.join(tmp, "test.csv")}
        write_csv(files["@TRAIN_CSV@"], 256, 1)
        write_csv(files["@TEST_CSV@"], 128, 2)
        args = [files.get(a, a) for a in args]
        curves = [(name, curve(program, args, name, sel, env)) for name, sel, env in devices]
    base_name, base = curves[0]
    failures = checked = 0
    for name, other in curves[1:]:
        if [e for e, _ in other] != [e for e, _ in base] or \
                [len(v) for _, v in other] != [len(v) for _, v in base]:
            print("curves differ in shape: %s %s, %s %s" % (base_name, base, name, other))
            failures += 1
            continue
        for (epoch, va), (_, vb) in zip(base, other):
            for a, b in zip(va, vb):
                limit = tol * max(abs(a), abs(b)) + 1e-7
                ok = abs(a - b) <= limit
                checked += 1
                failures += not ok
                print("epoch %5d  %s %.6e  %s %.6e  rel %.2e  %s" % (
                    epoch, base_name, a, name, b, abs(a - b) / max(abs(a), abs(b), 1e-30),
                    "ok" if ok else "DIFFERS"))
    print("%d passed, %d failed" % (checked - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
