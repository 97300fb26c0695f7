#!/usr/bin/env python3
"""clrt-info against clinfo on the real drivers, Mesa's included.

    info_devices.py CLRT_INFO

Run with every ICD installed (tools/install-deps) and RUSTICL_ENABLE=llvmpipe:
Mesa then registers two platforms, rusticl (with the llvmpipe device) and
Clover (with none, on a machine without a supported GPU). Checks that

  - clrt-info lists exactly the devices clinfo lists, platform by platform:
    a platform with no device (Clover) adds nothing and hides nothing;
  - each device's selector picks that device (clrt-info --device SEL);
  - the default is one device, and a PoCL one when PoCL is there (never
    llvmpipe, never the simulator), with CLRT_DEVICE unset and with
    CLRT_DEVICE=cpu alike;
  - no device of these four lacks anything clrt's kernels want;
  - the default is still PoCL when the loader lists rusticl first;
  - with no driver registered, clrt-info says which package to install.

Exit 77 (skip) when clinfo is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

POCL = "Portable Computing Language"


def clinfo_devices():
    """{platform name: [device names]} from clinfo -l."""
    out = subprocess.run(["clinfo", "-l"], capture_output=True, text=True, check=True).stdout
    platforms, current = {}, None
    for line in out.splitlines():
        m = re.match(r"Platform #\d+: (.*)$", line)
        if m:
            current = m.group(1).strip()
            platforms.setdefault(current, [])
            continue
        m = re.match(r"\s*[`+|]-- Device #\d+: (.*)$", line)
        if m and current is not None:
            platforms[current].append(m.group(1).strip())
    return platforms


def info(clrt_info, *args, env=None):
    p = subprocess.run([clrt_info, "--json"] + list(args), capture_output=True, text=True,
                       env=env)
    if p.returncode != 0:
        sys.exit("clrt-info %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)["devices"]


def rusticl_listed_first(clrt_info, env):
    """The default is PoCL also when the ICD loader lists rusticl first. The
    loader reads its vendors folder (OCL_ICD_VENDORS) in directory order,
    which on most file systems follows a hash of the names: try a few
    names for rusticl's file until it comes first. Returns failures."""
    vendors = "/etc/OpenCL/vendors"
    try:
        pocl = open(os.path.join(vendors, "pocl.icd"), encoding="utf-8").read()
        rusticl = open(os.path.join(vendors, "rusticl.icd"), encoding="utf-8").read()
    except OSError as e:
        print("not checked with rusticl listed first: %s" % e)
        return []
    with tempfile.TemporaryDirectory(prefix="clrt-vendors-") as tmp:
        for i in range(32):
            folder = os.path.join(tmp, str(i))
            os.mkdir(folder)
            with open(os.path.join(folder, "pocl.icd"), "w", encoding="utf-8") as f:
                f.write(pocl)
            with open(os.path.join(folder, "rusticl-%d.icd" % i), "w", encoding="utf-8") as f:
                f.write(rusticl)
            run_env = dict(env, OCL_ICD_VENDORS=folder)
            devices = info(clrt_info, env=run_env)
            if [d["platform"] for d in devices][:1] != ["rusticl"]:
                continue
            failures = []
            for label, e in (("no CLRT_DEVICE", run_env),
                             ("CLRT_DEVICE=cpu", dict(run_env, CLRT_DEVICE="cpu"))):
                chosen = [d for d in info(clrt_info, env=e) if d["default"]]
                names = [d["name"] for d in chosen]
                print("rusticl listed first, %s: the default is %s" % (label, names))
                if len(chosen) != 1 or chosen[0]["platform"] != POCL:
                    failures.append("rusticl listed first, %s: the default is %s, not PoCL" %
                                    (label, names))
            return failures
    print("not checked with rusticl listed first: no folder listed it first")
    return []


def no_driver(clrt_info, env):
    """With an empty vendor folder the text output names the package to
    install and the folder the loader searched. Returns failures."""
    with tempfile.TemporaryDirectory() as empty:
        r = subprocess.run([clrt_info], capture_output=True, text=True,
                           env=dict(env, OCL_ICD_VENDORS=empty))
        if r.returncode != 0:
            return ["no driver: clrt-info exit %d, %r" % (r.returncode, r.stderr)]
        missing = [w for w in ("0 OpenCL devices", "pocl-opencl-icd", empty)
                   if w not in r.stdout]
        if missing:
            return ["no driver: clrt-info's output lacks %s: %r" % (missing, r.stdout)]
    return []


def main():
    clrt_info = sys.argv[1]
    if not shutil.which("clinfo"):
        print("clinfo is not installed (tools/install-deps installs it)")
        return 77
    failures = []
    env = {k: v for k, v in os.environ.items() if k != "CLRT_DEVICE"}
    expected = clinfo_devices()
    devices = info(clrt_info, env=env)
    print("clinfo: %s" % expected)
    for d in devices:
        print("clrt-info: [%d] %s / %s  select with %s%s" % (
            d["index"], d["platform"], d["name"], d["selector"],
            "  (default)" if d["default"] else ""))

    listed = {}
    for d in devices:
        listed.setdefault(d["platform"], []).append(d["name"])
    for platform, names in expected.items():
        if listed.get(platform, []) != names:
            failures.append("platform %s: clinfo lists %s, clrt-info %s" %
                            (platform, names, listed.get(platform, [])))
    for platform in listed:
        if platform not in expected:
            failures.append("clrt-info lists platform %s, clinfo does not" % platform)
    if "rusticl" in expected and not expected["rusticl"]:
        failures.append("rusticl has no device: is RUSTICL_ENABLE=llvmpipe set?")

    for d in devices:
        picked = info(clrt_info, "--device", d["selector"], env=env)
        if [p["index"] for p in picked] != [d["index"]]:
            failures.append("selector %r picks %s, not device %d" %
                            (d["selector"], [p["index"] for p in picked], d["index"]))
        if d["lacks"] is not None:
            failures.append("%s lacks %s" % (d["name"], d["lacks"]))

    for label, run_env in (("no CLRT_DEVICE", env),
                           ("CLRT_DEVICE=cpu", dict(env, CLRT_DEVICE="cpu"))):
        chosen = [d for d in info(clrt_info, env=run_env) if d["default"]]
        if len(chosen) != 1:
            failures.append("%s: %d default devices" % (label, len(chosen)))
        elif any(d["platform"] == POCL for d in devices) and chosen[0]["platform"] != POCL:
            failures.append("%s: the default is %s / %s, not PoCL" %
                            (label, chosen[0]["platform"], chosen[0]["name"]))
        elif chosen[0]["simulator"]:
            failures.append("%s: the default is the simulator %s" % (label, chosen[0]["name"]))

    failures += rusticl_listed_first(clrt_info, env)
    failures += no_driver(clrt_info, env)
    for f in failures:
        print("FAIL: " + f)
    print("%d devices, %d failures" % (len(devices), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
