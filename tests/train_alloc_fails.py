#!/usr/bin/env python3
"""clrt-train's error exit after a failed device allocation, run several times.

    train_alloc_fails.py CLRT_TRAIN [RUNS]

Runs CLRT_TRAIN --layers 200000,200000 (a 200000 x 200000 weight, 160 GB:
past any device's largest allocation) on a small CSV of 784 features, so the
first layer's 784 x 200000 weights are still being zero-filled on the queue
when the second layer's allocation fails. Each run must exit with status 1
exactly (not a signal: an exit with work still queued crashed in PoCL's
worker threads in most runs) and say on stderr which allocation failed.
Each run gets an empty PoCL kernel cache (POCL_CACHE_DIR): the crash was
PoCL compiling the queued fill kernel for its launch while the exiting
process tore LLVM down, which a cached kernel would hide.
The device is CLRT_DEVICE (default "pocl"); exit 77 when there is none, so
meson reports a skip.
"""
import os
import random
import subprocess
import sys
import tempfile

FEATURES = 784


def write_csv(path):
    rng = random.Random(1)
    with open(path, "w", encoding="ascii") as f:
        for i in range(8):
            f.write(",".join("%.3f" % rng.random() for _ in range(FEATURES)))
            f.write(",%d\n" % (i % 2))


def main():
    train = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    env = dict(os.environ)
    env.setdefault("CLRT_DEVICE", "pocl")
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "tiny.csv")
        write_csv(csv)
        cmd = [train, "--train-csv", csv, "--test-csv", csv, "--layers", "200000,200000",
               "--epochs", "1"]
        failures = 0
        for k in range(runs):
            env["POCL_CACHE_DIR"] = tempfile.mkdtemp(prefix="pocl-cache-%d-" % k, dir=tmp)
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            if "matches no device" in run.stderr or "found no GPU" in run.stderr:
                print("no device %r: skipped" % env["CLRT_DEVICE"])
                return 77
            named = "160000000000 bytes" in run.stderr and "CLRT_ERR_OUT_OF_MEMORY" in run.stderr
            ok = run.returncode == 1 and named
            failures += not ok
            print("run %d: exit status %d, %s: %s" % (
                k + 1, run.returncode, "ok" if ok else "FAILED",
                run.stderr.strip() or "(nothing on stderr)"))
        print("%d passed, %d failed" % (runs - failures, failures))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
