#!/usr/bin/env python3
"""clrt-embed under valgrind: no leak on its error paths or its success path.

    embed_no_leak.py CLRT_EMBED TEST_DATA_DIR KERNEL_DIR

Runs the embedder through valgrind's memcheck (--leak-check=full, definite
and indirect leaks counted as errors) on a source whose #include is missing,
on a source that does not exist (both must exit with status 1 exactly, not
valgrind's 99, and leave no output file) and on two real kernels (status 0).
Exit 77 when valgrind is not installed, so meson reports a skip. A
clrt-embed built with AddressSanitizer (tools/run-sanitizers) cannot run
under valgrind: it is run directly instead, and its LeakSanitizer does the
counting (exit status LEAK_STATUS on a leak).
"""
import os
import shutil
import subprocess
import sys
import tempfile

LEAK_STATUS = 99


def built_with_asan(path):
    """Whether the executable at path links AddressSanitizer's runtime."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def main():
    embed, data_dir, kernel_dir = sys.argv[1:4]
    asan = built_with_asan(embed)
    valgrind = shutil.which("valgrind")
    if not valgrind and not asan:
        print("valgrind is not installed: skipped")
        return 77
    env = dict(os.environ)
    if asan:
        env["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=%d" % LEAK_STATUS
        env["LSAN_OPTIONS"] = "exitcode=%d" % LEAK_STATUS
    cases = [
        ("missing include", data_dir, [os.path.join(data_dir, "missing_include.cl")], 1),
        ("missing source", data_dir, [os.path.join(data_dir, "no_such_source.cl")], 1),
        ("two kernels", kernel_dir,
         [os.path.join(kernel_dir, "tensor.cl"), os.path.join(kernel_dir, "optim.cl")], 0),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for what, kdir, sources, want in cases:
            output = os.path.join(tmp, "embedded.c")
            under = [] if asan else [valgrind, "--quiet", "--leak-check=full",
                                     "--errors-for-leak-kinds=definite,indirect",
                                     "--error-exitcode=%d" % LEAK_STATUS]
            cmd = under + [embed, output, kdir] + sources
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
            problems = []
            if run.returncode != want:
                problems.append("exit status %d, expected %d%s" % (
                    run.returncode, want,
                    " (%s found errors)" % ("LeakSanitizer" if asan else "valgrind")
                    if run.returncode == LEAK_STATUS else ""))
            if want != 0 and os.path.exists(output):
                problems.append("left the output file behind")
            if want == 0 and not os.path.exists(output):
                problems.append("wrote no output file")
            failures += bool(problems)
            print("%s: %s" % (what, "; ".join(problems) if problems else "ok"))
            if problems:
                print(run.stderr)
            if os.path.exists(output):
                os.remove(output)
    print("%d passed, %d failed" % (len(cases) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
