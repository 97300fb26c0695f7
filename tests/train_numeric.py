#!/usr/bin/env python3
"""clrt-train stops when a loss or a weight stops being finite, and keeps
the last good checkpoint byte for byte.

    train_numeric.py CLRT_TRAIN

On small CSV data written here (40 train and 20 test rows, 4 features, 3
classes, one batch per epoch with --batch 200), on the device in
CLRT_DEVICE (default pocl):

1. one good epoch saves F;
2. resuming F with --lr 3e38 (epoch 2's step is computed from F's finite
   weights, so its training loss is finite, but the update leaves weights
   whose forward pass overflows: the test loss is NaN) exits 1, names the
   NaN test loss and the kept checkpoint, and F is unchanged;
3. the same learning rate from the start, saving to G, exits 1 and writes
   no G;
4. learning rates that a float cannot hold, or that are not positive, are
   refused on the command line (exit 2) and nothing runs.

Exit 77 when the device does not exist, so meson reports a skip.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile


def write_csv(path, rows, rng):
    with open(path, "w") as f:
        for i in range(rows):
            label = i % 3
            f.write(",".join("%.4f" % rng.gauss(label, 1.0) for _ in range(4)))
            f.write(",%d\n" % label)


def run(train, args, tmp):
    return subprocess.run([train] + args, cwd=tmp, capture_output=True, text=True, timeout=600)


def fail(what, r):
    sys.exit("FAIL: %s (exit %d)\nstdout:\n%sstderr:\n%s" % (what, r.returncode, r.stdout,
                                                            r.stderr))


def main():
    train = os.path.abspath(sys.argv[1])
    device = os.environ.get("CLRT_DEVICE", "pocl")
    tmp = tempfile.mkdtemp(prefix="clrt-train-numeric-")
    try:
        rng = random.Random(1)
        write_csv(os.path.join(tmp, "train.csv"), 40, rng)
        write_csv(os.path.join(tmp, "test.csv"), 20, rng)
        base = ["--device", device, "--train-csv", "train.csv", "--test-csv", "test.csv",
                "--layers", "8", "--batch", "200"]
        ck, good = os.path.join(tmp, "F.safetensors"), os.path.join(tmp, "good.safetensors")

        r = run(train, base + ["--epochs", "1", "--save", "F.safetensors"], tmp)
        if r.returncode != 0 and "matches no device" in r.stderr:
            print("no device %r: skipped" % device)
            return 77
        if r.returncode != 0 or not os.path.exists(ck):
            fail("the good epoch", r)
        shutil.copyfile(ck, good)
        print("1. a good epoch saved F")

        r = run(train, base + ["--epochs", "3", "--lr", "3e38", "--resume", "F.safetensors",
                               "--save", "F.safetensors"], tmp)
        want = ["epoch 2: the test loss is NaN",
                "the last good checkpoint, epoch 1, is kept in F.safetensors",
                "clrt_model_evaluate"]
        if r.returncode != 1 or any(w not in r.stderr for w in want):
            fail("resuming with --lr 3e38: expected exit 1 and %r" % want, r)
        with open(ck, "rb") as a, open(good, "rb") as b:
            if a.read() != b.read():
                fail("F changed: the NaN epoch was saved over the last good checkpoint", r)
        print("2. %s" % r.stderr.strip())

        r = run(train, base + ["--epochs", "2", "--lr", "3e38", "--save", "G.safetensors"], tmp)
        if r.returncode != 1 or "epoch 1: the " not in r.stderr or (
                "NaN" not in r.stderr and "infinite" not in r.stderr) or \
                "nothing was saved to G.safetensors" not in r.stderr:
            fail("--lr 3e38 from the start: expected exit 1 naming the NaN", r)
        if os.path.exists(os.path.join(tmp, "G.safetensors")):
            fail("G was written with non-finite weights", r)
        print("3. %s" % r.stderr.strip())

        for lr, needle in [("1e39", "overflows float"), ("3.5e38", "overflows float"),
                           ("1e400", "needs a number"), ("inf", "needs a number"),
                           ("nan", "needs a number"), ("0", "must be positive"),
                           ("-0.1", "must be positive"), ("1e-50", "is 0 as a float")]:
            r = run(train, base + ["--epochs", "1", "--lr", lr, "--save", "H.safetensors"], tmp)
            if r.returncode != 2 or needle not in r.stderr or "--lr" not in r.stderr or \
                    "epoch" in r.stdout:
                fail("--lr %s: expected exit 2 with %r before any epoch" % (lr, needle), r)
        if os.path.exists(os.path.join(tmp, "H.safetensors")):
            fail("a refused --lr still trained", r)
        print("4. bad learning rates refused at parse time")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
