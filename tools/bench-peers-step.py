#!/usr/bin/env python3
"""One peer's training step of the Fashion-MNIST MLP, for tools/bench-peers.

    bench-peers-step.py torch|jax|tinygrad|sgemm-torch|sgemm-jax --batch N --steps N [--threads N]

The model is clrt-bench train's: 784-512-512-10, relu, softmax cross
entropy, SGD with momentum 0.9 and lr 0.05, on fixed random data of its
shape (labels i*7 % 10). It prints one JSON line: "first_step_done", the
CLOCK_MONOTONIC time at which the first training step had finished (the
caller knows when it started the process), and "samples_per_s" of --steps
timed steps after 5 warm-up steps, each framework made to finish its work
before the clock stops. sgemm-*: GFLOP/s of a 1024^3 float32 matrix product,
best of 10 after a warm-up. It runs under the interpreter of the virtual
environment (or Debian's python3 for Debian's torch) it is started with.
"""
import argparse
import json
import time

WIDTHS = (784, 512, 512, 10)
LR, MOMENTUM, WARMUP = 0.05, 0.9, 5


def data(np, batch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((batch, WIDTHS[0]), dtype=np.float32)
    y = (np.arange(batch) * 7 % 10).astype(np.int32)
    return x, y


def run_torch(args):
    import numpy as np
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = data(np, args.batch)
    x, y = torch.from_numpy(x), torch.from_numpy(y).long()
    layers = []
    for i in range(3):
        layers.append(torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1]))
        if i < 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    first = step().item()  # CPU torch runs eagerly; item() waits all the same
    done = time.monotonic()
    for _ in range(WARMUP - 1):
        step()
    t0 = time.monotonic()
    for _ in range(args.steps):
        loss = step()
    loss.item()
    return done, args.batch * args.steps / (time.monotonic() - t0), first, torch.__version__


def run_jax(args):
    import numpy as np
    import jax
    import jax.numpy as jnp
    x, y = data(np, args.batch)
    x, y = jnp.asarray(x), jnp.asarray(y)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = []
    for i in range(3):
        bound = 1.0 / np.sqrt(WIDTHS[i])
        w = jax.random.uniform(keys[i], (WIDTHS[i], WIDTHS[i + 1]), jnp.float32, -bound, bound)
        params.append((w, jnp.zeros(WIDTHS[i + 1], jnp.float32)))
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_fn(p, x, y):
        h = x
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            if i < 2:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, v, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        v = jax.tree_util.tree_map(lambda v, g: MOMENTUM * v + g, v, g)
        p = jax.tree_util.tree_map(lambda p, v: p - LR * v, p, v)
        return p, v, loss

    params, velocity, loss = step(params, velocity, x, y)
    first = float(loss.block_until_ready())
    done = time.monotonic()
    for _ in range(WARMUP - 1):
        params, velocity, loss = step(params, velocity, x, y)
    loss.block_until_ready()
    t0 = time.monotonic()
    for _ in range(args.steps):
        params, velocity, loss = step(params, velocity, x, y)
    loss.block_until_ready()
    return done, args.batch * args.steps / (time.monotonic() - t0), first, jax.__version__


def run_tinygrad(args):
    import numpy as np
    from tinygrad import Context, Device, Tensor, TinyJit, nn
    dev = Device[Device.DEFAULT]
    name = getattr(dev, "device_name", Device.DEFAULT)
    x, y = data(np, args.batch)
    x, y = Tensor(x).realize(), Tensor(y).realize()
    layers = [nn.Linear(WIDTHS[i], WIDTHS[i + 1]) for i in range(3)]

    def model(h):
        for i, layer in enumerate(layers):
            h = layer(h)
            if i < 2:
                h = h.relu()
        return h

    opt = nn.optim.SGD(nn.state.get_parameters(layers), lr=LR, momentum=MOMENTUM)

    @TinyJit
    def step(x, y):
        with Context(TRAINING=1):  # the optimizer refuses to step otherwise
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y)
            loss.backward()
            opt.step()
            return loss.realize()

    first = step(x, y).item()
    done = time.monotonic()
    for _ in range(WARMUP - 1):
        step(x, y)
    step(x, y).item()
    t0 = time.monotonic()
    for _ in range(args.steps):
        loss = step(x, y)
    loss.item()
    from importlib.metadata import version as dist_version
    version = dist_version("tinygrad")
    return done, args.batch * args.steps / (time.monotonic() - t0), first, f"{version} on {name}"


def run_sgemm(args, which):
    n, flop = 1024, 2.0 * 1024 ** 3
    if which == "torch":
        import torch
        a, b = torch.rand(n, n), torch.rand(n, n)
        mm, sync, version = (lambda: a @ b), (lambda r: r), torch.__version__
    else:
        import jax
        import jax.numpy as jnp
        a = jax.random.uniform(jax.random.PRNGKey(0), (n, n), jnp.float32)
        b = jax.random.uniform(jax.random.PRNGKey(1), (n, n), jnp.float32)
        f = jax.jit(lambda a, b: a @ b)
        mm, sync, version = (lambda: f(a, b)), (lambda r: r.block_until_ready()), jax.__version__
    sync(mm())
    best = float("inf")
    for _ in range(10):
        t0 = time.monotonic()
        sync(mm())
        best = min(best, time.monotonic() - t0)
    return flop / best / 1e9, version


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peer", choices=["torch", "jax", "tinygrad", "sgemm-torch", "sgemm-jax"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch: set_num_threads")
    args = ap.parse_args()
    if args.peer.startswith("sgemm-"):
        gflops, version = run_sgemm(args, args.peer[len("sgemm-"):])
        print(json.dumps({"peer": args.peer, "gflops": gflops, "version": version}), flush=True)
        return
    run = {"torch": run_torch, "jax": run_jax, "tinygrad": run_tinygrad}[args.peer]
    done, sps, first_loss, version = run(args)
    print(json.dumps({"peer": args.peer, "batch": args.batch, "steps": args.steps,
                      "first_step_done": done, "samples_per_s": sps,
                      "first_loss": first_loss, "version": version}), flush=True)


if __name__ == "__main__":
    main()
