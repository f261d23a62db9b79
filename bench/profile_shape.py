"""Run one benchmark shape's fastcnn pass in a loop, for a profiler to look at.

Usage (from the repository root):

    OMP_NUM_THREADS=2 perf record -o s2.data python bench/profile_shape.py S2 forward
    perf report -i s2.data --stdio

Shapes and inputs are those of bench/workloads.py (BENCHMARKS.md): S1-S8 with ``forward``,
``backward`` or ``weight-backward``, P1-P3 with ``max-forward``, ``max-backward``,
``avg-forward`` or ``avg-backward``, D1 with ``forward`` or ``backward`` (the Dense layer's
products on fastcnn's GEMM core). Results go to buffers allocated once, as in a training loop.
The loop runs for ``--seconds`` after one warm-up call, so start-up is a small share of a
profile; it prints the median time of a call.
"""
import argparse
import os
import sys
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# this checkout's fastcnn (as the other bench scripts run it), and bench/ for workloads
sys.path[:0] = [os.path.dirname(BENCH_DIR), BENCH_DIR]
import workloads  # noqa: E402  (bench/ is not a package)

from fastcnn import _config, _kernels, ops  # noqa: E402


def conv_call(shape_id, pass_name):
    n, h, w, c, f, kh, kw, s, padding = workloads.CONV_SHAPES[shape_id]
    x, wt, b, dy = workloads.conv_inputs(shape_id)
    if pass_name == "forward":
        y = np.empty_like(dy)
        return lambda: ops.conv2d(x, wt, b, s, padding, out=y)
    dw, db = np.empty_like(wt), np.empty_like(b)
    if pass_name == "backward":
        dx = np.empty_like(x)
        return lambda: ops.conv2d_backward(dy, x, wt, s, padding, out=(dx, dw, db))
    if pass_name == "weight-backward":
        return lambda: ops.conv2d_backward_weight(dy, x, wt, s, padding, out=(dw, db))
    raise SystemExit(f"{shape_id}: pass must be forward, backward or weight-backward")


def pool_call(shape_id, pass_name):
    n, h, w, c, pool, s, padding = workloads.POOL_SHAPES[shape_id]
    x, dy = workloads.pool_inputs(shape_id)
    kind, _, direction = pass_name.partition("-")
    if kind not in ("max", "avg") or direction not in ("forward", "backward"):
        raise SystemExit(f"{shape_id}: pass must be max-forward, max-backward, avg-forward or "
                         f"avg-backward")
    if direction == "forward":
        y, forward = np.empty_like(dy), getattr(ops, f"{kind}_pool2d")
        return lambda: forward(x, pool, s, padding, out=y)
    dx, backward = np.empty_like(x), getattr(ops, f"{kind}_pool2d_backward")
    return lambda: backward(dy, x, pool, s, padding, out=dx)


def dense_call(shape_id, pass_name):
    x, w, dz = workloads.dense_inputs(shape_id)
    threads = _config.get_num_threads()
    if pass_name == "forward":
        z, b = np.empty_like(dz), np.zeros(w.shape[1], w.dtype)
        return lambda: _kernels.gemm(x, w, z, False, False, b, False, False, threads)
    if pass_name == "backward":
        dw, dx = np.empty_like(w), np.empty_like(x)

        def backward():
            _kernels.gemm(x, dz, dw, True, False, None, False, False, threads)
            _kernels.gemm(dz, w, dx, False, True, None, False, False, threads)
        return backward
    raise SystemExit(f"{shape_id}: pass must be forward or backward")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", help="S1-S8, P1-P3 or D1")
    parser.add_argument("pass_name", metavar="pass", help="e.g. forward, backward, max-forward")
    parser.add_argument("--seconds", type=float, default=4.0, help="loop time (default 4)")
    args = parser.parse_args(argv)
    if args.shape in workloads.CONV_SHAPES:
        call = conv_call(args.shape, args.pass_name)
    elif args.shape in workloads.POOL_SHAPES:
        call = pool_call(args.shape, args.pass_name)
    elif args.shape in workloads.DENSE_SHAPES:
        call = dense_call(args.shape, args.pass_name)
    else:
        parser.error(f"unknown shape {args.shape!r}")
    call()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    print(f"{args.shape} {args.pass_name}: median {np.median(times) * 1e3:.3f} ms over "
          f"{len(times)} calls, {_config.get_num_threads()} thread(s)")


if __name__ == "__main__":
    main()
