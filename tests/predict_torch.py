#!/usr/bin/python3
"""clrt-predict on models PyTorch made: outputs, probabilities and classes
against torch's own forward pass, and the tool's error exits.

  predict_torch.py CLRT_PREDICT

For each of two nn.Sequential models (ReLU between the Linear layers, the
default of clrt_model_load, and Tanh given with --act tanh), torch's
state_dict goes to a safetensors file: through safetensors.torch.save_file
when the `safetensors` package is importable, else through the writer
below, which lays the file out as that function does (tensors sorted by
dtype alignment then name, the JSON header padded with spaces to 8 bytes);
the tensor bytes are torch's either way. 37 rows of features (a header
line, a last batch of 5 rows with --batch 8) go through clrt-predict.

Tolerances: outputs 1e-4 of 1 + |torch| (float32 sums of at most 19 terms
in another order, through tanh); probabilities 1e-5 absolute (printed with
6 significant digits); classes equal to torch.argmax wherever torch's top
two outputs are more than 1e-3 apart (closer rows may round either way),
and at least 30 of the 37 rows must be such rows, so the check cannot pass
empty.

Exit status 0 pass, 1 fail, 77 torch is not importable (Debian's
python3-torch is importable from /usr/bin/python3).
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError as e:
    print(f"predict_torch: {e} under {sys.executable}", file=sys.stderr)
    sys.exit(77)

ROWS, IN = 37, 7
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def save_safetensors(tensors, path):
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file:
        save_file(tensors, path)
        return "safetensors.torch.save_file"
    dtypes = {torch.float32: ("F32", 4), torch.float64: ("F64", 8), torch.int64: ("I64", 8)}
    order = sorted(tensors.items(), key=lambda kv: (-dtypes[kv[1].dtype][1], kv[0]))
    header, blobs, at = {}, [], 0
    for name, t in order:
        data = t.detach().contiguous().cpu().numpy().tobytes()  # little-endian on x86/arm
        header[name] = {"dtype": dtypes[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return "the test's writer"


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=300)


def rows_of(text):
    return [[float(v) for v in line.split(",")] for line in text.strip().splitlines()]


def main():
    tool = sys.argv[1]
    torch.manual_seed(3)
    work = tempfile.mkdtemp(prefix="clrt-predict-")
    x = torch.randn(ROWS, IN) * 2
    csv = os.path.join(work, "x.csv")
    with open(csv, "w") as f:
        f.write(",".join(f"f{j}" for j in range(IN)) + "\n")
        for row in x.tolist():
            f.write(",".join(repr(v) for v in row) + "\n")
    x = torch.tensor(rows_of(open(csv).read().split("\n", 1)[1]), dtype=torch.float32)

    for act_name, act in (("relu", torch.nn.ReLU()), ("tanh", torch.nn.Tanh())):
        model = torch.nn.Sequential(torch.nn.Linear(IN, 19), act, torch.nn.Linear(19, 11), act,
                                    torch.nn.Linear(11, 4)).eval()
        path = os.path.join(work, f"{act_name}.safetensors")
        writer = save_safetensors(model.state_dict(), path)
        with torch.no_grad():
            want = model(x)
        extra = [] if act_name == "relu" else ["--act", act_name]
        base = ["--model", path, "--csv", csv, "--batch", "8"] + extra

        r = run(tool, *base, "--outputs")
        check(r.returncode == 0, f"{act_name}: --outputs exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            got = torch.tensor(rows_of(r.stdout))
            check(got.shape == want.shape, f"{act_name}: outputs {tuple(got.shape)}")
            if got.shape == want.shape:
                err = ((got - want).abs() / (1 + want.abs())).max().item()
                check(err <= 1e-4, f"{act_name}: outputs differ from torch by {err:.3g}")
                print(f"{act_name} ({writer}): max |clrt - torch| / (1 + |torch|) = {err:.3g}")

        r = run(tool, *base, "--probabilities")
        check(r.returncode == 0, f"{act_name}: --probabilities exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            got = torch.tensor(rows_of(r.stdout))
            p = torch.softmax(want.double(), dim=1)
            check(got.shape == p.shape and (got - p).abs().max().item() <= 1e-5,
                  f"{act_name}: probabilities differ from torch.softmax")

        r = run(tool, *base)
        check(r.returncode == 0, f"{act_name}: classes exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            classes = [int(line) for line in r.stdout.split()]
            top2 = want.topk(2, dim=1).values
            clear = (top2[:, 0] - top2[:, 1]) > 1e-3
            check(len(classes) == ROWS, f"{act_name}: {len(classes)} classes for {ROWS} rows")
            check(int(clear.sum()) >= 30, f"{act_name}: only {int(clear.sum())} clear rows")
            want_cls = want.argmax(dim=1).tolist()
            wrong = [i for i in range(min(ROWS, len(classes)))
                     if clear[i] and classes[i] != want_cls[i]]
            check(not wrong, f"{act_name}: classes differ from torch.argmax at rows {wrong}")

    # Error exits: a CSV of the wrong width, a missing CSV, a missing model,
    # a bad command line. Each says what is wrong.
    model = os.path.join(work, "relu.safetensors")
    wide = os.path.join(work, "wide.csv")
    with open(wide, "w") as f:
        f.write(",".join(["1"] * (IN + 1)) + "\n")
    cases = [
        (["--model", model, "--csv", wide], 1, f"has {IN + 1} columns, the model"),
        (["--model", model, "--csv", os.path.join(work, "none.csv")], 1, "cannot open"),
        (["--model", os.path.join(work, "none.safetensors"), "--csv", csv], 1, "cannot open"),
        (["--model", csv, "--csv", csv], 1, "clrt_model_load"),
        (["--model", model], 2, "--model and --csv are needed"),
        (["--model", model, "--csv", csv, "--batch", "0"], 2, "--batch"),
        (["--model", model, "--csv", csv, "--act", "nope"], 2, "is not an activation"),
    ]
    for args, code, text in cases:
        r = run(tool, *args)
        check(r.returncode == code and text in r.stderr,
              f"{args}: exit {r.returncode} (want {code}), stderr {r.stderr.strip()!r} "
              f"(want {text!r})")
    r = run(tool, "--version")
    check(r.returncode == 0 and r.stdout.startswith("clrt-predict "), "--version")

    for name in os.listdir(work):
        os.remove(os.path.join(work, name))
    os.rmdir(work)
    if failures:
        return 1
    print("predict_torch: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
