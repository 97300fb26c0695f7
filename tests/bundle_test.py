#!/usr/bin/env python3
"""Bundles on a device without a compiler, for real: PoCL under the
no_compiler shim (tests/shim/no_compiler.c, LD_PRELOAD), which makes it
report CL_DEVICE_COMPILER_AVAILABLE = CL_FALSE and refuse every build of a
source program with CL_COMPILER_NOT_AVAILABLE while binaries still build.

    bundle_test.py shim   SHIM PROBE
    bundle_test.py bundle SHIM PROBE CLRT_COMPILE MLP CLRT_TRAIN

shim:   the shim really intercepts: the driver seen through it has no
        compiler, a source build is refused, and its counters say so; clrt
        on it without a bundle refuses to make a context.
bundle: (a) clrt-compile on PoCL writes a bundle; (b) under the shim with no
        bundle, context creation is CLRT_ERR_UNSUPPORTED saying a bundle is
        needed; (c) under the shim with the bundle, examples/mlp,
        clrt-train and a probe run to the end with no source program made
        at all (the shim's counter) and clrt_program_stats.builds == 0,
        and give the same losses as without the shim (1e-5 relative);
        (d) a bundle made for oclgrind is refused on PoCL, naming both;
        (e) truncated and bit-flipped bundles are CLRT_ERR_FORMAT.

Exit 77 (a skip) when there is no PoCL device.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOL = 1e-5


class Failure(Exception):
    pass


START = time.monotonic()


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok    %5.1f s  %s" % (time.monotonic() - START, what.splitlines()[0]))


def base_env():
    env = dict(os.environ)
    for k in ("CLRT_BINARIES", "CLRT_GEMM", "CLRT_FAULT", "CLRT_KERNEL_DIR", "LD_PRELOAD",
              "CLRT_SHIM_REPORT"):
        env.pop(k, None)
    # Nothing from the user's disk cache or tuning record: each run builds
    # or loads what it says.
    env["CLRT_CACHE_DIR"] = "off"
    env["CLRT_DEVICE"] = "pocl"
    return env


def preload_for(exe, shim):
    """The LD_PRELOAD value: the shim, after ASan's runtime when the program
    is built with it (ASan must come first)."""
    libs = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    m = re.search(r"(\S*libasan\.so\S*) => (\S+)", libs)
    return (m.group(2) + ":" if m else "") + shim


class Runner:
    def __init__(self, shim, tmp):
        self.shim, self.tmp, self.nreport = shim, tmp, 0

    def run(self, cmd, shim=False, bundle=None, device=None, timeout=600):
        env = base_env()
        if device:
            env["CLRT_DEVICE"] = device
        if bundle:
            env["CLRT_BINARIES"] = bundle
        report = None
        if shim:
            self.nreport += 1
            report = os.path.join(self.tmp, "report-%d.txt" % self.nreport)
            env["LD_PRELOAD"] = preload_for(cmd[0], self.shim)
            env["CLRT_SHIM_REPORT"] = report
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        counts = None
        if report:
            try:
                line = open(report).read().strip().splitlines()[-1]
            except (OSError, IndexError):
                raise Failure("%s under the shim left no report: the shim was not loaded\n%s"
                              % (" ".join(cmd), run.stderr))
            counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
        return run, counts


def fields(out):
    return dict(re.findall(r"^(\w+)=(.*)$", out, re.M))


def close(a, b):
    return abs(a - b) <= TOL * max(abs(a), abs(b)) + 1e-12


def curves_agree(name, base, other):
    check(len(base) > 0 and len(base) == len(other),
          "%s: %d loss values without the shim, %d with" % (name, len(base), len(other)))
    worst = max(abs(a - b) / max(abs(a), abs(b), 1e-30) for a, b in zip(base, other))
    check(all(close(a, b) for a, b in zip(base, other)),
          "%s: the same losses with the bundle under the shim (worst relative difference "
          "%.2g, bound %g)\n  without: %s\n  with:    %s" % (name, worst, TOL, base, other))


def step_shim(r, probe):
    run, _ = r.run([probe, "raw"])
    f = fields(run.stdout)
    check(run.returncode == 0 and f.get("compiler_available") == "1"
          and f.get("source_build") == "CL_SUCCESS",
          "without the shim PoCL compiles: %s%s" % (run.stdout, run.stderr))
    run, n = r.run([probe, "raw"], shim=True)
    f = fields(run.stdout)
    check(run.returncode == 0 and f.get("compiler_available") == "0",
          "through the shim CL_DEVICE_COMPILER_AVAILABLE is CL_FALSE: %s%s"
          % (run.stdout, run.stderr))
    check(f.get("source_build") == "CL_COMPILER_NOT_AVAILABLE",
          "through the shim a source build fails with CL_COMPILER_NOT_AVAILABLE: %s" % run.stdout)
    check(n["compiler_queries"] >= 1 and n["source_programs"] == 1
          and n["source_builds_refused"] == 1 and n["binary_builds"] == 0,
          "the shim's counters saw the query and the refused build: %s" % n)
    run, n = r.run([probe, "ctx"], shim=True)
    f = fields(run.stdout)
    check(run.returncode == 3 and f.get("status") == "CLRT_ERR_UNSUPPORTED",
          "clrt through the shim: no context without a bundle: %s%s" % (run.stdout, run.stderr))
    check(n["compiler_queries"] >= 1 and n["source_programs"] == 0,
          "clrt's device query went through the shim, and it made no source program: %s" % n)


def csv_data(tmp):
    """Two small CSV files: 10 features, 4 classes, a header row."""
    paths = []
    for name, rows, seed in (("train.csv", 300, 1), ("test.csv", 100, 2)):
        path = os.path.join(tmp, name)
        state = seed
        with open(path, "w") as f:
            f.write(",".join("f%d" % i for i in range(10)) + ",label\n")
            for i in range(rows):
                label = i % 4
                vals = []
                for j in range(10):
                    state = (state * 1103515245 + 12345) % 2**31
                    vals.append("%.5f" % ((state / 2**31 - 0.5) + 0.3 * label * (j % 3 - 1)))
                f.write(",".join(vals) + ",%d\n" % label)
        paths.append(path)
    return paths


def mlp_losses(run):
    return [float(x) for x in re.findall(r"loss\s+([-+0-9.eE]+)", run.stdout)]


def train_losses(run):
    doc = json.loads(run.stdout)
    return [v for e in doc["epochs"] for v in (e["train_loss"], e["test_loss"])]


def step_bundle(r, probe, compiler, mlp, train):
    tmp = r.tmp
    bundle = os.path.join(tmp, "pocl.clrtb")

    # (a) the compiler on PoCL, without the shim
    run, _ = r.run([compiler, "--device", "pocl", "-o", bundle])
    check(run.returncode == 0 and os.path.getsize(bundle) > 0,
          "(a) clrt-compile --device pocl writes %s: %s%s" % (bundle, run.stdout, run.stderr))
    print("      " + run.stdout.strip())

    # (b) no bundle under the shim
    run, n = r.run([probe, "ctx"], shim=True)
    f = fields(run.stdout)
    msg = f.get("message", "")
    check(f.get("status") == "CLRT_ERR_UNSUPPORTED" and "bundle" in msg
          and "CL_DEVICE_COMPILER_AVAILABLE" in msg and "gemm.cl" in msg,
          "(b) without a bundle: CLRT_ERR_UNSUPPORTED saying a bundle is needed and what is "
          "missing: %s" % msg)
    run, n = r.run([mlp, "1"], shim=True)
    check(run.returncode != 0 and "bundle" in run.stderr and n["source_programs"] == 0,
          "(b) examples/mlp stops at context creation, asking for a bundle: %s" % run.stderr)

    # (c) with the bundle under the shim: the same results, nothing compiled
    base, _ = r.run([mlp, "3"])
    check(base.returncode == 0, "(c) examples/mlp without the shim: %s" % base.stderr)
    run, n = r.run([mlp, "3"], shim=True, bundle=bundle)
    check(run.returncode == 0, "(c) examples/mlp under the shim with the bundle runs to the "
          "end: %s%s" % (run.stdout, run.stderr))
    check(n["source_programs"] == 0 and n["source_builds_refused"] == 0
          and n["binary_programs"] > 0 and n["binary_builds"] == n["binary_programs"],
          "(c) examples/mlp: no source program made, %d binaries loaded: %s"
          % (n["binary_programs"], n))
    curves_agree("(c) examples/mlp", mlp_losses(base), mlp_losses(run))

    train_csv, test_csv = csv_data(tmp)
    args = [train, "--train-csv", train_csv, "--test-csv", test_csv, "--layers", "32,16",
            "--epochs", "2", "--batch", "50", "--seed", "1", "--json"]
    base, _ = r.run(args)
    check(base.returncode == 0, "(c) clrt-train without the shim: %s" % base.stderr)
    run, n = r.run(args, shim=True, bundle=bundle)
    check(run.returncode == 0, "(c) clrt-train under the shim with the bundle runs to the "
          "end: %s" % run.stderr)
    check(n["source_programs"] == 0 and n["binary_builds"] > 0,
          "(c) clrt-train: no source program made: %s" % n)
    curves_agree("(c) clrt-train", train_losses(base), train_losses(run))

    base, _ = r.run([probe, "train"])
    run, n = r.run([probe, "train"], shim=True, bundle=bundle)
    f = fields(run.stdout)
    check(run.returncode == 0 and f.get("builds") == "0 disk_hits=0",
          "(c) probe with build_all and tuned GEMMs: clrt_program_stats.builds == 0: %s%s"
          % (run.stdout, run.stderr))
    check(n["source_programs"] == 0, "(c) probe: no source program made: %s" % n)
    curves_agree("(c) probe", [float(x) for x in re.findall(r"loss=(\S+)", base.stdout)],
                 [float(x) for x in re.findall(r"loss=(\S+)", run.stdout)])

    # (d) a bundle for oclgrind, on PoCL
    other = os.path.join(tmp, "oclgrind.clrtb")
    run, _ = r.run([compiler, "--device", "oclgrind", "-o", other])
    if run.returncode != 0 and "CLRT_ERR_NO_DEVICE" in run.stderr:
        print("note  (d) not run: no oclgrind device")
    else:
        check(run.returncode == 0, "(d) clrt-compile --device oclgrind: %s" % run.stderr)
        run, _ = r.run([probe, "ctx"], shim=True, bundle=other)
        f = fields(run.stdout)
        msg = f.get("message", "")
        check(f.get("status") == "CLRT_ERR_UNSUPPORTED" and "Oclgrind" in msg
              and "Portable Computing Language" in msg and other in msg,
              "(d) a bundle for oclgrind is refused on PoCL, naming both: %s" % msg)

    # (e) damaged bundles
    data = open(bundle, "rb").read()
    damaged = os.path.join(tmp, "damaged.clrtb")
    cases = [("truncated to %d bytes" % n, data[:n])
             for n in (0, 7, 20, 60, len(data) // 2, len(data) - 1)]
    for pos in (8, 24, 60, len(data) // 3, len(data) - 2):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        cases.append(("a bit flipped at byte %d" % pos, bytes(flipped)))
    cases.append(("a byte appended", data + b"\0"))
    for what, content in cases:
        with open(damaged, "wb") as f:
            f.write(content)
        run, n = r.run([probe, "ctx"], shim=True, bundle=damaged)
        f = fields(run.stdout)
        check(f.get("status") == "CLRT_ERR_FORMAT" and damaged in f.get("message", ""),
              "(e) %s: CLRT_ERR_FORMAT naming the file: %s" % (what, f.get("message")))


def main():
    step, shim, probe = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    tmp = tempfile.mkdtemp(prefix="clrt-bundle-")
    try:
        r = Runner(shim, tmp)
        run, _ = r.run([probe, "raw"])
        if run.returncode == 77:
            print("no PoCL device: skipped\n" + run.stderr)
            return 77
        if step == "shim":
            step_shim(r, probe)
        else:
            step_bundle(r, probe, *sys.argv[4:7])
    except Failure as e:
        print("FAIL  " + str(e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
