#!/usr/bin/env python3
"""What clrt-train reports, read as a user and a tool would.

    train_report.py CLRT_TRAIN

On small CSV data written here (600 train and 200 test rows, 4 features,
3 classes; 75 steps an epoch with --batch 8), on the device in CLRT_DEVICE
(default pocl):

1. --version prints the library's version;
2. under a pseudo-terminal the bar shows, for each epoch, the steps, the
   samples/s, the running train loss (ending at the epoch line's) and the
   time left, and the run ends with the summary line (total time, the best
   test accuracy and its epoch, the checkpoint);
3. through pipes there is no bar and no summary, with or without --json
   (whose stdout is one JSON document);
4. --metrics: every line a JSON object with its fields, steps rising, one
   epoch line per epoch with the figures of the epoch line; after --resume
   the steps go on from the resumed epoch;
5. --plot: well-formed SVG with both charts, ticks with values, gridlines,
   a legend, the per-step and per-epoch series, an accuracy axis fitted to
   the data; rsvg-convert renders it to a PNG of its size that is not blank;
6. errors say what to do: no OpenCL platform (OCL_ICD_VENDORS at an empty
   folder), a selector with a typo (the list and the closest match), the
   Fashion-MNIST files missing (the Debian package).

Exit 77 when the device does not exist, so meson reports a skip.
"""
import json
import math
import os
import pty
import random
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

EPOCHS, BATCH, LOG_EVERY, TRAIN_ROWS = 3, 8, 10, 600
STEPS = TRAIN_ROWS // BATCH  # 75 steps an epoch

EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+)  lr (\S+)  train loss (\d+\.\d{4})  test loss "
                        r"(\d+\.\d{4})  test accuracy (\d+\.\d\d)%  (\d+) samples/s$")
BAR = re.compile(r"^\x1b\[Kepoch (\d+)/(\d+) \[([=> ]*)\] (\d+)/(\d+)(?:  (\d+) samples/s  "
                 r"loss (\d+\.\d{4})  ETA (\d+:\d\d(?::\d\d)?))?$")
SUMMARY = re.compile(r"^done in (\d+:\d\d(?::\d\d)?) \((\d+\.\d) s\): best test accuracy "
                     r"(\d+\.\d\d)% at epoch (\d+); checkpoint in (\S+)$")


def write_csv(path, rows, rng):
    with open(path, "w") as f:
        for i in range(rows):
            label = i % 3
            f.write(",".join("%.4f" % rng.gauss(0.6 * label, 1.0) for _ in range(4)))
            f.write(",%d\n" % label)


def fail(what, out=""):
    sys.exit("FAIL: %s\n%s" % (what, out))


def run(cmd, tmp, env=None):
    return subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300,
                          env=env)


def run_pty(cmd, tmp):
    """Run with stdout and stderr on a pseudo-terminal: the exit status, all it wrote, and the
    seconds it took."""
    master, slave = pty.openpty()
    start = time.monotonic()
    p = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out, deadline = b"", time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if p.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    rc = p.wait(timeout=60)
    return rc, out.decode(), time.monotonic() - start


def epoch_lines(text):
    text = text.replace("\x1b[K", "")  # the bar's erase before each epoch line
    lines = [m for m in map(EPOCH_LINE.match, text.splitlines()) if m]
    if len(lines) == 0:
        fail("no epoch line", text)
    return lines


def check_bar(out, ck, wall):
    """2. The bar's frames and the summary line."""
    text = out.replace("\r\n", "\n")
    epochs = epoch_lines(text.replace("\r", "\n"))
    if len(epochs) != EPOCHS:
        fail("expected %d epoch lines" % EPOCHS, out)
    frames = [BAR.match(f.split("\n")[0]) for f in text.split("\r")[1:]]
    frames = [f for f in frames if f]
    for e in range(1, EPOCHS + 1):
        mine = [f for f in frames if int(f.group(1)) == e]
        full = [f for f in mine if f.group(6)]
        # 7 points at steps 10..70 and the last one at 75.
        if len(full) != STEPS // LOG_EVERY + 1:
            fail("epoch %d: %d bar frames with figures, expected %d" %
                 (e, len(full), STEPS // LOG_EVERY + 1), out)
        done = [int(f.group(4)) for f in full]
        if done != sorted(done) or done[-1] != STEPS or any(int(f.group(5)) != STEPS for f in mine):
            fail("epoch %d: steps %r of %d" % (e, done, STEPS), out)
        for f in full:
            # The bar fills what the line leaves of 80 columns (the pty
            # reports no width), one column spare.
            width, filled = len(f.group(3)), f.group(3).count("=")
            if len(f.group(0)) - 3 > 79 or not 5 <= width <= 30 or \
                    filled != width * int(f.group(4)) // STEPS:
                fail("the bar %r does not show %s/%d in 79 columns" %
                     (f.group(3), f.group(4), STEPS), out)
            if int(f.group(6)) <= 0:
                fail("samples/s is %s" % f.group(6), out)
        if full[-1].group(7) != epochs[e - 1].group(4):
            fail("epoch %d: the bar's last running loss %s is not the epoch's train loss %s" %
                 (e, full[-1].group(7), epochs[e - 1].group(4)), out)
        # At the epoch's last step the bar's rate is the epoch line's (both
        # the epoch's samples over its seconds, taken a moment apart).
        rate, printed = int(full[-1].group(6)), int(epochs[e - 1].group(7))
        if not printed / 1.5 <= rate <= printed * 1.5:
            fail("epoch %d: the bar's last rate %d against the epoch line's %d" %
                 (e, rate, printed), out)
    if full[-1].group(8) != "0:00":
        fail("the run's last frame has ETA %s, not 0:00" % full[-1].group(8), out)
    summary = [m for m in map(SUMMARY.match, text.split("\n")) if m]
    if len(summary) != 1:
        fail("expected one summary line", out)
    s = summary[0]
    acc = [float(m.group(6)) for m in epochs]
    best = max(range(len(acc)), key=lambda i: (acc[i], -i))
    if float(s.group(3)) != acc[best] or int(s.group(4)) != best + 1 or s.group(5) != ck:
        fail("the summary line %r: best is %.2f%% at epoch %d, checkpoint %s" %
             (s.group(0), acc[best], best + 1, ck), out)
    total = float(s.group(2))
    clock = "%d:%02d" % divmod(int(total + 0.5), 60)
    # The summary rounds to 0.1 s: a run this small on warm caches can train
    # in under 0.05 s and say 0.0; one that took a second cannot.
    if not 0 <= total <= wall or (total == 0 and wall >= 1.0) or s.group(1) != clock:
        fail("the summary's time %r: the run took %.1f s" % (s.group(0), wall), out)
    print("2. bar and summary: %s" % s.group(0))


def no_bar(what, text):
    for bad in ("\r", "\x1b[", "ETA", "done in", "] 10/75"):
        if bad in text:
            fail("%s: %r in piped output" % (what, bad), text)


def check_metrics(path, epochs, first_epoch=0):
    """4. Every line parsed, its fields, steps rising; the epoch lines as printed."""
    step_keys = ["kind", "step", "epoch", "at", "lr", "loss", "samples_per_s", "time_s"]
    epoch_keys = ["kind", "step", "epoch", "lr", "loss", "test_loss", "test_accuracy",
                  "samples_per_s", "time_s"]
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                fail("%s line %d is not JSON (%s): %r" % (path, n, e, line))
    last_step, last_time, seen = first_epoch * STEPS, 0.0, []
    for r in rows:
        keys = step_keys if r.get("kind") == "step" else epoch_keys
        if list(r) != keys:
            fail("fields %r, expected %r" % (list(r), keys))
        for k in keys[3:]:
            if not isinstance(r[k], float) or not math.isfinite(r[k]):
                fail("%s is %r in %r" % (k, r[k], r))
        if r["time_s"] < last_time:
            fail("time went back: %r" % r)
        last_time = r["time_s"]
        e = r["epoch"]
        if r["kind"] == "step":
            if not r["step"] > last_step or not (e - 1) * STEPS < r["step"] <= e * STEPS:
                fail("step %d after %d in epoch %d" % (r["step"], last_step, e))
            if abs(r["at"] - r["step"] / STEPS) > 1e-6 or r["samples_per_s"] <= 0:
                fail("at or samples_per_s in %r" % r)
            last_step = r["step"]
        elif r["kind"] == "epoch":
            if r["step"] != e * STEPS or last_step != e * STEPS:
                fail("epoch %d ends at step %d after step %d" % (e, r["step"], last_step))
            seen.append(r)
        else:
            fail("kind %r" % r["kind"])
    if [r["epoch"] for r in seen] != [int(m.group(1)) for m in epochs]:
        fail("epoch lines %r for epochs %r" % ([r["epoch"] for r in seen],
                                              [m.group(1) for m in epochs]))
    for r, m in zip(seen, epochs):
        # The printed figures are rounded (4 decimals, accuracy 2 in %).
        pairs = [(r["loss"], m.group(4), 0.5e-4), (r["test_loss"], m.group(5), 0.5e-4),
                 (100 * r["test_accuracy"], m.group(6), 0.5e-2),
                 (r["lr"], m.group(3), 1e-3 * r["lr"])]
        if any(abs(v - float(printed)) > tol + 1e-9 for v, printed, tol in pairs):
            fail("epoch %d: %r against the printed %r" % (r["epoch"], r, m.group(0)))
    steps = sum(r["kind"] == "step" for r in rows)
    want = len(epochs) * (STEPS // LOG_EVERY + 1)
    if steps != want:
        fail("%d step lines, expected %d" % (steps, want))
    return rows


def png_size_and_colours(path):
    """The width, height and number of distinct filtered bytes of an 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s is not a PNG" % path)
    pos, idat, size = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    return size, len(set(zlib.decompress(idat)))


def check_plot(path, epochs, tmp):
    """5. The SVG's parts, its accuracy axis, and rsvg-convert's rendering."""
    ns = {"s": "http://www.w3.org/2000/svg"}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s is not well-formed XML: %s" % (path, e))
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        fail("the root is %s" % root.tag)
    for chart, series in (("loss", ["train-loss-points", "train-loss-smoothed",
                                    "train-loss-epoch", "test-loss-epoch"]),
                          ("accuracy", ["test-accuracy-epoch"])):
        g = root.find("s:g[@id='%s']" % chart, ns)
        if g is None:
            fail("no %s chart" % chart)
        for sid in series:
            line = g.find(".//s:polyline[@id='%s']" % sid, ns)
            points = line.get("points").split() if line is not None else []
            want = EPOCHS * (STEPS // LOG_EVERY + 1) if "points" in sid or "smoothed" in sid \
                else EPOCHS
            if len(points) != want:
                fail("%s: %d points, expected %d" % (sid, len(points), want))
        grid = g.findall("s:g[@class='grid']/s:line", ns)
        yticks = [t.text for t in g.findall("s:g[@class='yticks']/s:text", ns)]
        xticks = [t.text for t in g.findall("s:g[@class='xticks']/s:text", ns)]
        legend = [t.text for t in g.findall("s:g[@class='legend']/s:text", ns)]
        if len(grid) < 6 or len(yticks) < 3 or xticks != [str(i) for i in range(EPOCHS + 1)]:
            fail("%s: %d gridlines, y ticks %r, x ticks %r" % (chart, len(grid), yticks, xticks))
        if len(legend) != len(series):
            fail("%s: legend %r for %d series" % (chart, legend, len(series)))
        values = [float(t.rstrip("%")) for t in yticks]
        if values != sorted(values):
            fail("%s: y ticks %r" % (chart, yticks))
        if chart == "accuracy":
            acc = [float(m.group(6)) for m in epochs]
            if not (values[0] <= min(acc) and max(acc) <= values[-1]):
                fail("accuracy ticks %r do not cover %r" % (yticks, acc))
            if values[-1] - values[0] > 3 * max(max(acc) - min(acc), 5):
                fail("accuracy ticks %r are not fitted to %r" % (yticks, acc))
    png = os.path.join(tmp, "plot.png")
    rsvg = shutil.which("rsvg-convert")
    if not rsvg:
        fail("rsvg-convert not found: install librsvg2-bin (tools/install-deps does)")
    r = subprocess.run([rsvg, "-o", png, path], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail("rsvg-convert failed", r.stderr)
    size, colours = png_size_and_colours(png)
    if size != (int(float(root.get("width"))), int(float(root.get("height")))) or colours < 16:
        fail("the PNG is %r with %d distinct bytes" % (size, colours))
    print("5. plot: well-formed, rendered by rsvg-convert at %dx%d" % size)


def main():
    train = os.path.abspath(sys.argv[1])
    device = os.environ.get("CLRT_DEVICE", "pocl")
    tmp = tempfile.mkdtemp(prefix="clrt-train-report-")
    try:
        rng = random.Random(1)
        write_csv(os.path.join(tmp, "train.csv"), TRAIN_ROWS, rng)
        write_csv(os.path.join(tmp, "test.csv"), 200, rng)
        base = [train, "--device", device, "--train-csv", "train.csv", "--test-csv", "test.csv",
                "--layers", "16", "--batch", str(BATCH), "--log-every", str(LOG_EVERY)]

        r = run([train, "--version"], tmp)
        if r.returncode != 0 or not re.fullmatch(r"clrt-train \d+\.\d+\.\d+\n", r.stdout):
            fail("--version", r.stdout + r.stderr)
        print("1. %s" % r.stdout.strip())

        rc, out, wall = run_pty(base + ["--epochs", str(EPOCHS), "--save", "tty.safetensors"], tmp)
        if rc != 0 and "matches no device" in out:
            print("no device %r: skipped" % device)
            return 77
        if rc != 0:
            fail("the run on a terminal (exit %d)" % rc, out)
        check_bar(out, "tty.safetensors", wall)

        r = run(base + ["--epochs", str(EPOCHS), "--metrics", "m.jsonl", "--plot", "p.svg",
                        "--save", "F.safetensors"], tmp)
        if r.returncode != 0:
            fail("the piped run (exit %d)" % r.returncode, r.stdout + r.stderr)
        no_bar("the piped run", r.stdout + r.stderr)
        epochs = epoch_lines(r.stdout)
        rj = run(base + ["--epochs", "1", "--json"], tmp)
        no_bar("--json", rj.stdout + rj.stderr)
        try:
            doc = json.loads(rj.stdout)
        except ValueError:
            fail("--json's stdout is not one JSON document", rj.stdout)
        if rj.returncode != 0 or len(doc["epochs"]) != 1:
            fail("--json", rj.stdout + rj.stderr)
        print("3. no bar and no summary through pipes, with and without --json")

        rows = check_metrics(os.path.join(tmp, "m.jsonl"), epochs)
        shutil.copyfile(os.path.join(tmp, "F.safetensors"), os.path.join(tmp, "R.safetensors"))
        r = run(base + ["--epochs", str(EPOCHS + 1), "--resume", "R.safetensors", "--metrics",
                        "r.jsonl"], tmp)
        if r.returncode != 0:
            fail("the resumed run", r.stdout + r.stderr)
        check_metrics(os.path.join(tmp, "r.jsonl"), epoch_lines(r.stdout), first_epoch=EPOCHS)
        print("4. metrics: %d lines, steps 10..%d; after --resume from step %d on" %
              (len(rows), rows[-1]["step"], EPOCHS * STEPS + LOG_EVERY))

        check_plot(os.path.join(tmp, "p.svg"), epochs, tmp)

        empty = os.path.join(tmp, "no-vendors")
        os.mkdir(empty)
        env = dict(os.environ, OCL_ICD_VENDORS=empty)
        r = run(base + ["--epochs", "1"], tmp, env=env)
        want = ["no OpenCL platform or device found", empty, "apt-get install pocl-opencl-icd",
                "ocl-icd-libopencl1", "nvidia-opencl-icd"]
        if r.returncode != 1 or any(w not in r.stderr for w in want):
            fail("no platform: expected exit 1 and %r" % want, r.stderr)
        typo = device[:-2] + device[-1] + device[-2] if len(device) > 2 else device + "x"
        r = run([a if a != device else typo for a in base] + ["--epochs", "1"], tmp)
        want = ['device selector "%s" matches no device' % typo.lower(), "the closest match is",
                "devices:\n", "(select with"]
        if r.returncode != 1 or any(w not in r.stderr for w in want):
            fail("a selector with a typo: expected exit 1 and %r" % want, r.stderr)
        r = run([train, "--data-dir", os.path.join(tmp, "nowhere"), "--epochs", "1"], tmp)
        want = ["Fashion-MNIST is not in", "apt-get install dataset-fashion-mnist"]
        if r.returncode != 1 or any(w not in r.stderr for w in want):
            fail("no data set: expected exit 1 and %r" % want, r.stderr)
        print("6. errors name what to install and the closest device")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
