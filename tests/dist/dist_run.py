#!/usr/bin/env python3
"""Data-parallel runs under mpirun -np 2 --oversubscribe (tests/meson.build).

    dist_run.py equiv  MPIRUN DIST_EQUIV DEV0,DEV1
        dist_equiv with rank 0 on DEV0 and rank 1 on DEV1 (CLRT_DEVICE per
        rank): weights, loss and evaluation of 2 ranks against 1 rank
        (dist_equiv.c says what is compared). Tolerance 1e-5 on one
        implementation: the only difference is the order of float sums over
        a batch split in two (measured: about 1e-7); 1e-4 across two, whose
        kernels round differently as well (docs/training.md's bound).
    dist_run.py spread MPIRUN DIST_EQUIV
        dist_equiv with CLRT_DEVICE=cpu on both ranks and rusticl's llvmpipe
        enabled beside PoCL: local ranks 0 and 1 must take cpu:0 and cpu:1,
        two different devices (skipped with fewer than two CPU devices).
    dist_run.py kill   MPIRUN CLRT_TRAIN   rank 1 is killed (SIGKILL) mid-run
    dist_run.py hang   MPIRUN CLRT_TRAIN   rank 1 is stopped (SIGSTOP) mid-run
    dist_run.py error  MPIRUN CLRT_TRAIN   rank 1's device fails (CLRT_FAULT)
        The run must end within 30 s of the fault, with a non-zero status
        and a message on rank 0's side saying why it stopped.
    dist_run.py resume MPIRUN CLRT_TRAIN
        2 epochs on 2 ranks saved (by rank 0 alone), resumed on 1 rank for a
        third, against 3 epochs on 1 rank: the same losses within 1e-4.

Exit 0 on success, 1 on failure, 77 (skipped) when a device is missing.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

LIMIT_S = 30.0


def env_for_mpirun():
    env = dict(os.environ)
    # Open MPI refuses root unless told (CI runs as root).
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # One host, shared memory: no network interfaces to probe.
    env.setdefault("OMPI_MCA_btl", "self,vader")
    env.pop("CLRT_DEVICE", None)
    # In the sanitizer lane: Open MPI leaves allocations at exit in
    # components it has unloaded by then, so LeakSanitizer's reports name no
    # module a suppression could match. Leak checking is off for these runs;
    # the rest of ASan and UBSan stays on (harmless without sanitizers).
    asan = env.get("ASAN_OPTIONS", "")
    if "detect_leaks=" in asan:
        asan = re.sub(r"detect_leaks=[^:]*", "detect_leaks=0", asan)
    else:
        asan = (asan + ":" if asan else "") + "detect_leaks=0"
    env["ASAN_OPTIONS"] = asan
    return env


def fail(msg):
    print("dist_run: FAIL: " + msg)
    sys.exit(1)


def write_csv(path, n, features, classes, seed):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            c = i % classes
            xs = [rnd.gauss(0.8 if j % classes == c else 0.0, 1.0) for j in range(features)]
            f.write(",".join("%.5f" % x for x in xs) + ",%d\n" % c)


def equiv(mpirun, prog, devices):
    devs = devices.split(",")
    slow = any(d.startswith("oclgrind") for d in devs)
    tol = "1e-5" if len(set(devs)) == 1 else "1e-4"
    # oclgrind interprets every work-item: fewer steps there.
    args = ["4", "2", tol] if slow else ["6", "3", tol]
    tmp = tempfile.TemporaryDirectory()
    log = os.path.join(tmp.name, "oclgrind.log")
    cmd = [mpirun, "--oversubscribe"]
    for i, d in enumerate(devs):
        if i:
            cmd.append(":")
        cmd += ["-np", "1", "-x", "CLRT_DEVICE=" + d]
        if d.startswith("oclgrind"):
            # Every check on, as tests/harness.c does; a report fails the test.
            for kv in ("OCLGRIND_CHECK_API=1", "OCLGRIND_DATA_RACES=1",
                       "OCLGRIND_UNINITIALIZED=1", "OCLGRIND_LOG=" + log):
                cmd += ["-x", kv]
        if d.startswith("rusticl"):
            cmd += ["-x", "RUSTICL_ENABLE=llvmpipe"]  # tests/device_matrix.txt
        cmd += [prog] + args
    env = env_for_mpirun()
    env.setdefault("CLRT_CACHE_DIR", "off")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280)
    if os.path.exists(log) and os.path.getsize(log) > 0:
        with open(log) as f:
            sys.stdout.write(f.read()[-4000:])
        fail("oclgrind reported problems (above)")
    tmp.cleanup()
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode == 77:
        print("dist_run: a device is missing: skipped")
        sys.exit(77)
    if p.returncode != 0:
        fail("dist_equiv exited with %d" % p.returncode)
    if "weights vs one rank" not in p.stdout:
        fail("dist_equiv printed no comparison")
    print("dist_run: ok")


def spread(mpirun, prog):
    env = env_for_mpirun()
    env["CLRT_CACHE_DIR"] = "off"
    cmd = [mpirun, "--oversubscribe", "-np", "2", "-x", "CLRT_DEVICE=cpu",
           "-x", "RUSTICL_ENABLE=llvmpipe", prog, "4", "1", "1e-4"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode == 77:
        sys.exit(77)
    if p.returncode != 0:
        fail("dist_equiv exited with %d" % p.returncode)
    on = {}
    for line in p.stderr.splitlines():
        for r in (0, 1):
            tag = "dist_equiv: rank %d of 2 on " % r
            if line.startswith(tag):
                on[r] = line[len(tag):]
    if len(on) != 2:
        fail("the ranks did not say their devices")
    if on[0] == on[1]:
        # One CPU device only: nothing to spread over.
        print("dist_run: both ranks on %s: fewer than two CPU devices, skipped" % on[0])
        sys.exit(77)
    print("dist_run: rank 0 on %s, rank 1 on %s: ok" % (on[0], on[1]))


def rank_pid(root_pid, rank):
    """The pid of the clrt-train process of `rank` under root_pid."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    todo, seen = [root_pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children.get(p, [])
    for p in seen:
        try:
            with open("/proc/%d/environ" % p, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%d/comm" % p) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith("clrt-train") and ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            return p
    return None


def train_cmd(mpirun, train, tmp, extra, ranks=2, rank1_env=None):
    args = ["--distributed", "--train-csv", tmp + "/train.csv", "--test-csv", tmp + "/test.csv",
            "--layers", "48", "--device", "pocl"] + extra
    cmd = [mpirun, "--oversubscribe"]
    if rank1_env:
        cmd += ["-np", "1", train] + args + [":", "-np", "1"]
        for kv in rank1_env:
            cmd += ["-x", kv]
        cmd += [train] + args
    else:
        cmd += ["-np", str(ranks), train] + args
    return cmd


def fault(mpirun, train, case):
    with tempfile.TemporaryDirectory() as tmp:
        write_csv(tmp + "/train.csv", 3000, 24, 4, 1)
        write_csv(tmp + "/test.csv", 400, 24, 4, 2)
        env = env_for_mpirun()
        rank1_env = None
        if case == "hang":
            # Well inside the 30 s, and well above the ranks' skew before the
            # first epoch (each builds its kernels, maybe from a cold cache).
            env["CLRT_DIST_TIMEOUT"] = "15"
        if case == "error":
            # Rank 1's 3000th kernel enqueue fails: late in epoch 1.
            rank1_env = ["CLRT_FAULT=enqueue:3000"]
        cmd = train_cmd(mpirun, train, tmp, ["--epochs", "500", "--batch", "16"],
                        rank1_env=rank1_env)
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        err_lines, out_lines = [], []
        first_epoch = threading.Event()
        rank1_failed = threading.Event()

        def read_out():
            for line in p.stdout:
                out_lines.append(line)
                if line.startswith("epoch"):
                    first_epoch.set()

        def read_err():
            for line in p.stderr:
                err_lines.append(line)
                if line.startswith("clrt-train: ") and "rank 0" not in line:
                    rank1_failed.set()

        threads = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
        for t in threads:
            t.start()
        try:
            # The fault: rank 1's error message (mid-epoch 1), or the signal
            # sent once an epoch is done.
            started = rank1_failed if case == "error" else first_epoch
            if not started.wait(120):
                fail("nothing happened within 120 s: " + "".join(err_lines)[-2000:])
            t0 = time.monotonic()
            if case in ("kill", "hang"):
                pid = rank_pid(p.pid, 1)
                if pid is None:
                    fail("rank 1's process was not found")
                os.kill(pid, signal.SIGKILL if case == "kill" else signal.SIGSTOP)
                print("dist_run: sent %s to rank 1 (pid %d)" % (
                    "SIGKILL" if case == "kill" else "SIGSTOP", pid))
            try:
                rc = p.wait(LIMIT_S + 30)
            except subprocess.TimeoutExpired:
                fail("the run was still going %.0f s after the fault" % (LIMIT_S + 30))
            elapsed = time.monotonic() - t0
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            for t in threads:
                t.join()
        err = "".join(err_lines)
        sys.stdout.write("".join(out_lines))
        print("dist_run: stderr:\n" + err)
        print("dist_run: %s: the run ended with status %d, %.1f s after the fault" %
              (case, rc, elapsed))
        if rc == 0:
            fail("the run ended with status 0")
        if elapsed > LIMIT_S:
            fail("the run took %.1f s to stop, more than %.0f" % (elapsed, LIMIT_S))
        # rank 0 says why it stopped: the timeout's message, or the launcher's
        # SIGTERM after the other rank's failure.
        if case == "hang":
            want = "rank 0 of 2 waited"
        else:
            want = "clrt-train: rank 0: stopped by SIGTERM"
        if want not in err:
            fail("rank 0's message (\"%s\") is not in stderr" % want)
        if case == "error" and "clEnqueueNDRangeKernel failed" not in err:
            fail("rank 1's failure is not named in stderr")
        print("dist_run: ok")


def resume(mpirun, train):
    with tempfile.TemporaryDirectory() as tmp:
        write_csv(tmp + "/train.csv", 1000, 24, 4, 1)
        write_csv(tmp + "/test.csv", 300, 24, 4, 2)
        env = env_for_mpirun()
        ck = tmp + "/ck.safetensors"
        # A constant rate: cosine's depends on --epochs, which differs here.
        common = ["--batch", "32", "--optimizer", "adam", "--lr-schedule", "constant"]

        def run(cmd):
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
            if p.returncode != 0:
                fail("%s exited with %d: %s" % (" ".join(cmd), p.returncode, p.stderr[-3000:]))
            return p

        a = run(train_cmd(mpirun, train, tmp, common + ["--epochs", "2", "--save", ck]))
        printed = [l for l in a.stdout.splitlines() if l.startswith("epoch")]
        if len(printed) != 2:
            fail("2 ranks printed %d epoch lines, not 2 (rank 0 alone prints): %s" %
                 (len(printed), a.stdout))
        if sorted(os.listdir(tmp)) != ["ck.safetensors", "test.csv", "train.csv"]:
            fail("files after the 2-rank run: %s" % sorted(os.listdir(tmp)))
        b = run(train_cmd(mpirun, train, tmp, common + ["--epochs", "3", "--resume", ck, "--json"],
                          ranks=1))
        c = run(train_cmd(mpirun, train, tmp, common + ["--epochs", "3", "--json"], ranks=1))
        if len(json.loads(b.stdout)["epochs"]) != 1:
            fail("the resumed run did not run exactly its one remaining epoch")
        rb, rc_ = json.loads(b.stdout)["final"], json.loads(c.stdout)["final"]
        print("dist_run: resumed on 1 rank: %s\ndist_run: 1 rank throughout: %s" % (rb, rc_))
        for k in ("train_loss", "test_loss", "test_accuracy"):
            e = abs(rb[k] - rc_[k]) / (1 + abs(rc_[k]))
            if not e <= 1e-4:
                fail("%s differs by %.3g" % (k, e))
        print("dist_run: ok")


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    case, mpirun = sys.argv[1], sys.argv[2]
    if case == "equiv":
        equiv(mpirun, sys.argv[3], sys.argv[4])
    elif case == "spread":
        spread(mpirun, sys.argv[3])
    elif case in ("kill", "hang", "error"):
        fault(mpirun, sys.argv[3], case)
    elif case == "resume":
        resume(mpirun, sys.argv[3])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
