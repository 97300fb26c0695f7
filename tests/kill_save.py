#!/usr/bin/env python3
"""Kill test of the checkpoint writer: a crash mid-save leaves the previous
checkpoint whole.

    kill_save.py CLRT_TRAIN [ROUNDS [SECONDS]]      (default 30 rounds, 30 s)

Trains a small MLP on CSV data with clrt-train --save F, one short epoch
(and one save) after another, and SIGKILLs it, over and over: most rounds
the moment the save's temp file "F.tmp.<pid>" appears (plus 0-3 ms, so the
kill lands anywhere in the write, fsync or rename), the others at a random
time. After each kill F must exist and be whole: a safetensors header that
parses, tensors that tile the data section, the crc32 of the data equal to
its "checksum", an epoch no earlier than before. Each round resumes from F
(--resume F), so clrt_checkpoint_load reads every file a kill left behind;
a run that exits by itself (a load that failed) fails the test. A last run
resumes and finishes normally. Stops after ROUNDS rounds or SECONDS; fails
when no round killed a save in progress.

The device is the first of $CLRT_TEST_DEVICES, else clrt-train's default.
"""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def fail(msg):
    print("kill_save: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def write_csv(path, rows, seed):
    rng = random.Random(seed)
    with open(path, "w", encoding="ascii") as f:
        f.write("a,b,c,d,e,f,label\n")
        for _ in range(rows):
            x = [rng.uniform(-1, 1) for _ in range(6)]
            label = 0 if x[0] + x[1] < -0.3 else 1 if x[0] + x[1] < 0.3 else 2
            f.write(",".join("%.4f" % v for v in x) + ",%d\n" % label)


def check_checkpoint(path):
    """The epoch of a whole clrt checkpoint at path; fails the test otherwise."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail("%s: %d bytes, no header" % (path, len(data)))
    (hlen,) = struct.unpack("<Q", data[:8])
    if 8 + hlen > len(data):
        fail("%s: header length %d past the end (%d bytes)" % (path, hlen, len(data)))
    try:
        header = json.loads(data[8 : 8 + hlen])
    except ValueError as e:
        fail("%s: header is not JSON: %s" % (path, e))
    body = data[8 + hlen :]
    meta = header.get("__metadata__", {})
    if meta.get("format") != "clrt-checkpoint-2":
        fail("%s: not a clrt checkpoint: %r" % (path, meta.get("format")))
    # The header checksum: crc32 of the header without that field, keys
    # sorted, no spaces (docs/training.md).
    want = meta.pop("header_checksum", None)
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if want != "%08x" % (zlib.crc32(text.encode()) & 0xFFFFFFFF):
        fail("%s: header checksum %r does not match the header" % (path, want))
    header.pop("__metadata__")
    spans = sorted(tuple(e["data_offsets"]) for e in header.values())
    at = 0
    for begin, end in spans:
        if begin != at:
            fail("%s: tensors do not tile the data at byte %d" % (path, at))
        at = end
    if at != len(body):
        fail("%s: tensors end at %d of %d data bytes" % (path, at, len(body)))
    crc = "%08x" % (zlib.crc32(body) & 0xFFFFFFFF)
    if meta.get("checksum") != crc:
        fail("%s: checksum %r, the data's crc32 is %s" % (path, meta.get("checksum"), crc))
    return int(meta["epoch"])


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    train = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    budget = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    devices = os.environ.get("CLRT_TEST_DEVICES", "")
    device = devices.split(",")[0] if devices else ""
    rng = random.Random(int(os.environ.get("KILL_SAVE_SEED", "10")))

    work = tempfile.mkdtemp(prefix="clrt-kill-save-")
    try:
        env = dict(os.environ)
        env["CLRT_CACHE_DIR"] = os.path.join(work, "cache")  # warm starts after the first
        env.pop("CLRT_CACHE", None)
        write_csv(os.path.join(work, "train.csv"), 64, 1)
        write_csv(os.path.join(work, "test.csv"), 32, 2)
        ckpt = os.path.join(work, "model.safetensors")
        # Wide layers make the file ~0.5 MB (weights and momentum), so the
        # save is most of each epoch.
        base = [train, "--train-csv", os.path.join(work, "train.csv"),
                "--test-csv", os.path.join(work, "test.csv"), "--layers", "256,256",
                "--batch", "64", "--lr-schedule", "constant", "--seed", "3", "--save", ckpt]
        if device:
            base += ["--device", device]

        # The first checkpoint, written by a run left alone.
        first = subprocess.run(base + ["--epochs", "1"], env=env, capture_output=True,
                               text=True, timeout=300)
        if first.returncode != 0:
            fail("the first run failed:\n" + first.stderr)
        epoch = check_checkpoint(ckpt)

        t0 = time.monotonic()
        done = during_save = 0
        while done < rounds and time.monotonic() - t0 < budget:
            wait_for_save = rng.random() < 0.75
            p = subprocess.Popen(base + ["--epochs", "1000000", "--resume", ckpt], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            tmp = "%s.tmp.%d" % (ckpt, p.pid)
            deadline = time.monotonic() + (20 if wait_for_save else rng.uniform(0.05, 1.5))
            saw_save = False
            while time.monotonic() < deadline and p.poll() is None:
                if wait_for_save and os.path.exists(tmp):
                    time.sleep(rng.uniform(0, 0.003))
                    saw_save = True
                    break
                time.sleep(0.0005)
            if p.poll() is not None:
                fail("round %d: clrt-train exited by itself with %d (it should run until "
                     "killed):\n%s" % (done + 1, p.returncode, p.stderr.read()))
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stderr.close()
            done += 1
            during_save += saw_save
            if not os.path.exists(ckpt):
                fail("round %d: %s is gone after the kill" % (done, ckpt))
            now = check_checkpoint(ckpt)
            if now < epoch:
                fail("round %d: the checkpoint went back from epoch %d to %d" % (done, epoch, now))
            epoch = now

        # A killed save leaves its temp file (nothing can remove it); the
        # runs after it must not mind them.
        stale = sum(1 for n in os.listdir(work) if n.startswith("model.safetensors.tmp."))
        last = subprocess.run(base + ["--epochs", str(epoch + 1), "--resume", ckpt], env=env,
                              capture_output=True, text=True, timeout=300)
        if last.returncode != 0:
            fail("the last resume failed:\n" + last.stderr)
        if check_checkpoint(ckpt) != epoch + 1:
            fail("the last resume did not save epoch %d" % (epoch + 1))
        print("kill_save: %d rounds in %.1f s, %d killed during a save, 0 failures; "
              "the checkpoint reached epoch %d; %d stale temp files seen"
              % (done, time.monotonic() - t0, during_save, epoch + 1, stale))
        if during_save == 0:
            fail("no round killed a save in progress")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
