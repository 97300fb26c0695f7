"""The device matrix of tests/device_matrix.txt, for the python test drivers.

entries() gives (name, selector, env) for each name in CLRT_TEST_DEVICES
(comma-separated entry names; a name the file does not list is its own
selector, with no environment), where env is the process environment with
that entry's variables added.
"""
import os

MATRIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device_matrix.txt")


def table(path=MATRIX):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            rows[words[0]] = (words[1], dict(w.split("=", 1) for w in words[2:]))
    return rows


def entries(default="pocl,oclgrind"):
    rows = table()
    out = []
    for name in os.environ.get("CLRT_TEST_DEVICES", default).split(","):
        name = name.strip()
        if not name:
            continue
        selector, extra = rows.get(name, (name, {}))
        out.append((name, selector, dict(os.environ, **extra)))
    return out
