#!/usr/bin/env python3
"""Run an example program on each device and check that its loss curves agree.

    examples_agree.py TOLERANCE EXAMPLE [ARGS...]

The devices come from CLRT_TEST_DEVICES (comma-separated selectors, default
"pocl,oclgrind"). Every line of the example's output that holds
"epoch N" and "loss X" or "mse X" is one point of its curve. The curves must
have the same epochs and agree to TOLERANCE relative to the larger value
(plus 1e-7 absolute, for losses that go to zero). Exit 77 when no device of
the list exists, so meson reports a skip rather than a pass.
"""
import os
import re
import subprocess
import sys

POINT = re.compile(r"epoch\s+(\d+).*?(?:loss|mse)\s+([-+0-9.eE]+|nan|inf)")


def curve(example, args, device):
    env = dict(os.environ, CLRT_DEVICE=device)
    run = subprocess.run([example] + args, env=env, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        sys.exit("%s on %s exited %d:\n%s%s" % (example, device, run.returncode, run.stdout,
                                                run.stderr))
    points = [(int(m.group(1)), float(m.group(2))) for m in POINT.finditer(run.stdout)]
    if not points:
        sys.exit("%s on %s printed no loss curve:\n%s" % (example, device, run.stdout))
    return points


def main():
    tol = float(sys.argv[1])
    example, args = sys.argv[2], sys.argv[3:]
    devices = os.environ.get("CLRT_TEST_DEVICES", "pocl,oclgrind").split(",")
    curves = {d: curve(example, args, d) for d in devices}
    if len(curves) < 2:
        print("only one device: nothing to compare")
        return 77
    base_dev, base = devices[0], curves[devices[0]]
    failures = 0
    for dev in devices[1:]:
        other = curves[dev]
        if [e for e, _ in other] != [e for e, _ in base]:
            print("epochs differ: %s %s, %s %s" % (base_dev, base, dev, other))
            failures += 1
            continue
        for (epoch, a), (_, b) in zip(base, other):
            limit = tol * max(abs(a), abs(b)) + 1e-7
            ok = abs(a - b) <= limit
            failures += not ok
            print("epoch %5d  %s %.6e  %s %.6e  %s" % (epoch, base_dev, a, dev, b,
                                                     "ok" if ok else "DIFFERS"))
    print("%d passed, %d failed" % (sum(len(c) for c in curves.values()) // len(curves) - failures,
                                    failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
