#!/usr/bin/env python3
"""What users of an installed or bundled clrt get (issue 14, packaging).

  packaging_test.py cmake BUILD_ROOT SOURCE_ROOT
      `meson install --destdir` of the build into a temporary folder; the
      docs and man pages where Debian keeps them (share/doc/clrt,
      share/man/man1); then tests/packaging/cmake, a CMake project that
      finds clrt with find_package(clrt 0.1 CONFIG) through
      CMAKE_PREFIX_PATH alone and links clrt::clrt, builds
      examples/tensor_basics.c, which runs against the installed library.
  packaging_test.py subproject SOURCE_ROOT
      tests/packaging/subproject, a meson project whose subprojects/clrt.wrap
      provides clrt, with clrt's source as subprojects/clrt: the dependency
      fallback builds clrt inside it and tensor_basics.c with it, and runs.
  packaging_test.py man MANDIR TOOL...
      every page of MANDIR/<tool>.1 formats with `groff -man -ww` without a
      warning, `man -l` shows it, and every --option of `TOOL --help`
      appears in it.
  packaging_test.py version VERSION TOOL...
      `TOOL --version` prints "<name> VERSION" and exits 0.

The example runs where an OpenCL device exists; with none, clrt_ctx_create
reaching its "no device" refusal still shows the program linked and loaded
the installed library, and that is reported. Exit status 0 pass, 1 fail.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], sep="\n")
    return r


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def run_example(exe, env=None):
    r = run([exe], env=env, timeout=300)
    if r.returncode == 0 and "written then read" in r.stdout:
        print(r.stdout.splitlines()[0])
        return
    if "CLRT_ERR_NO_DEVICE" in r.stderr:
        print("no OpenCL device: the example linked and loaded clrt, clrt_ctx_create "
              "refused as it should")
        return
    fail(f"{exe} exited {r.returncode}: {r.stderr.strip()}")


def find_prefix(root):
    """The install prefix under a destdir: the folder holding include/clrt.h."""
    for here, dirs, files in os.walk(root):
        if "clrt.h" in files and os.path.basename(here) == "include":
            return os.path.dirname(here)
    fail(f"no include/clrt.h under {root}")


def cmake(build_root, source_root):
    work = tempfile.mkdtemp(prefix="clrt-cmake-")
    try:
        stage = os.path.join(work, "stage")
        r = run(["meson", "install", "-C", build_root, "--destdir", stage, "--no-rebuild",
                 "--quiet"])
        if r.returncode != 0:
            fail("meson install failed")
        prefix = find_prefix(stage)
        for path in ["share/doc/clrt/README.md", "share/doc/clrt/training.md",
                     "share/man/man1/clrt-predict.1", "share/man/man1/clrt-train.1"]:
            if not os.path.isfile(os.path.join(prefix, path)):
                fail(f"meson install put no {path} under the prefix")
        configs = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs
                   if f == "clrtConfig.cmake"]
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs if f == "clrt.pc"]
        if len(configs) != 1 or len(pcs) != 1:
            fail(f"clrtConfig.cmake {configs}, clrt.pc {pcs}")
        cmake_dir, pc_dir = os.path.dirname(configs[0]), os.path.dirname(pcs[0])
        if os.path.dirname(cmake_dir) != os.path.join(os.path.dirname(pc_dir), "cmake"):
            fail(f"the CMake package {cmake_dir} is not beside the pkg-config file {pc_dir}")
        build = os.path.join(work, "build")
        r = run(["cmake", "-S", os.path.join(source_root, "tests/packaging/cmake"), "-B", build,
                 "-DCMAKE_PREFIX_PATH=" + prefix,
                 "-DCLRT_EXAMPLE=" + os.path.join(source_root, "examples/tensor_basics.c")])
        if r.returncode != 0:
            fail("cmake could not configure the consumer")
        if prefix not in r.stdout:
            fail("cmake found a clrt other than the staged one:\n" + r.stdout)
        r = run(["cmake", "--build", build])
        if r.returncode != 0:
            fail("the consumer did not build")
        # The version file's rule: 0.1 and 0.1.0 EXACT taken, 0.2 and 1.0 refused.
        vproj = os.path.join(work, "versions")
        os.mkdir(vproj)
        write(vproj, "CMakeLists.txt",
              "cmake_minimum_required(VERSION 3.16)\nproject(versions C)\n"
              "find_package(clrt 0.1.0 EXACT CONFIG REQUIRED)\n"
              "foreach(v 0.2 1.0)\n"
              "  unset(clrt_FOUND)\n  find_package(clrt ${v} CONFIG QUIET)\n"
              "  if(clrt_FOUND)\n    message(FATAL_ERROR \"clrt ${v} accepted\")\n  endif()\n"
              "endforeach()\n")
        r = run(["cmake", "-S", vproj, "-B", os.path.join(work, "build-v"),
                 "-DCMAKE_PREFIX_PATH=" + prefix])
        if r.returncode != 0:
            fail("the version checks of the CMake package failed")
        exe = os.path.join(build, "tensor_basics")
        out = run(["ldd", exe]).stdout
        if os.path.realpath(prefix) not in out and prefix not in out:
            fail("tensor_basics does not load the staged libclrt:\n" + out)
        run_example(exe)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def subproject(source_root):
    work = tempfile.mkdtemp(prefix="clrt-subproject-")
    try:
        project = os.path.join(work, "consumer")
        shutil.copytree(os.path.join(source_root, "tests/packaging/subproject"), project)
        shutil.copy(os.path.join(source_root, "examples/tensor_basics.c"), project)
        # clrt's source as the wrap's directory: the wrap then fetches nothing.
        # Only the files a checkout has: no build folders of this tree.
        dest = os.path.join(project, "subprojects", "clrt")
        shutil.copytree(source_root, dest, symlinks=True,
                        ignore=lambda d, names: [n for n in names
                                                 if n.startswith(("build", ".git"))
                                                 and d == source_root])
        build = os.path.join(work, "build")
        env = dict(os.environ, PKG_CONFIG_PATH="")
        # The fallback is what is under test: forced, even if a clrt is installed.
        r = run(["meson", "setup", build, project, "--force-fallback-for=clrt"], env=env)
        if r.returncode != 0:
            fail("meson setup of the consumer failed")
        if "Subproject clrt" not in r.stdout and "subproject clrt" not in r.stdout.lower():
            fail("clrt was not built as a subproject:\n" + r.stdout[-2000:])
        r = run(["meson", "compile", "-C", build, "consumer"], env=env)
        if r.returncode != 0:
            fail("the consumer did not build")
        run_example(os.path.join(build, "consumer"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def man(mandir, tools):
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80", LC_ALL="C.UTF-8")
    for tool in tools:
        name = os.path.basename(tool)
        page = os.path.join(mandir, name + ".1")
        if not os.path.isfile(page):
            fail(f"no man page {page}")
        r = run(["groff", "-man", "-Tutf8", "-ww", "-z", page])
        if r.returncode != 0 or r.stderr.strip():
            fail(f"{page}: groff warns: {r.stderr.strip()}")
        r = run(["man", "-l", page], env=env)
        if r.returncode != 0 or "NAME" not in r.stdout or name not in r.stdout:
            fail(f"man -l {page}: exit {r.returncode}")
        text = open(page).read().replace("\\-", "-")
        if "@CLRT_VERSION@" in text:
            fail(f"{page}: the version was not filled in")
        r = run([tool, "--help"])
        options = set(re.findall(r"--[a-z][a-z-]*", r.stdout + r.stderr))
        if not options:
            fail(f"{tool} --help lists no option")
        missing = sorted(o for o in options if o not in text)
        if missing:
            fail(f"{page} does not document {', '.join(missing)}")
        print(f"{name}.1: formats cleanly, documents {len(options)} options")


def version(want, tools):
    for tool in tools:
        name = os.path.basename(tool)
        r = run([tool, "--version"])
        if r.returncode != 0 or r.stdout.strip() != f"{name} {want}":
            fail(f"{tool} --version: exit {r.returncode}, {r.stdout.strip()!r}, want "
                 f"'{name} {want}'")
        print(r.stdout.strip())


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what in ("cmake", "subproject"):
        args = [os.path.abspath(a) for a in args]
    if what == "cmake":
        cmake(*args)
    elif what == "subproject":
        subproject(*args)
    elif what == "man":
        man(args[0], args[1:])
    elif what == "version":
        version(args[0], args[1:])
    else:
        fail(f"unknown check {what}")
    print("ok")


if __name__ == "__main__":
    main()
