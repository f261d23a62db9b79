"""Two builds of fastcnn's convolution kernels in one process, called in turn: an A/B check
that a noisy machine cannot fool as easily as two separate runs.

Usage (from the repository root; each DIR is a copy of a built ``fastcnn`` package, e.g.
``cp -r fastcnn /tmp/base`` before a change and ``cp -r fastcnn /tmp/new`` after rebuilding):

    OMP_NUM_THREADS=2 python bench/paired_builds.py /tmp/base /tmp/new S6 forward
    OMP_NUM_THREADS=1 taskset -c 1 python bench/paired_builds.py /tmp/base /tmp/new S6 backward

Each DIR's ``_kernels`` extension (``_conv`` in older builds) is loaded as a module of its
own (the extensions keep their symbols to themselves, so each runs its own kernels), the
shape's inputs are those of bench/workloads.py (S1-S8, or a convolution given by its
numbers: N,H,W,C,F,KH,KW,STRIDE,PADDING), and the two builds are called alternately,
``--calls`` times each, the order swapped every call; a slow second of the machine then
falls on both. Prints each build's median and minimum and the median of the per-pair ratios
A/B (above 1: B is faster). Swapping A and B, or giving the same DIR twice, shows how far
the ratio moves by chance. Passes: forward, backward (dx, dW, db), weight-backward (dW, db).
"""
import argparse
import glob
import importlib.machinery
import importlib.util
import os
import sys
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(BENCH_DIR), BENCH_DIR]
import workloads  # noqa: E402  (bench/ is not a package)

from fastcnn import _config  # noqa: E402


def load_conv(package_dir):
    """The kernels extension (``_kernels``; ``_conv`` in builds before it held the whole C
    core) of the fastcnn package copy in package_dir, with the ISA chosen as fastcnn's import
    chooses it."""
    for name in ("_kernels", "_conv"):
        paths = glob.glob(os.path.join(package_dir, name + ".*.so")) + glob.glob(
            os.path.join(package_dir, name + ".*.pyd"))
        if paths:
            break
    else:
        raise SystemExit(f"{package_dir}: no built _kernels (or _conv) extension in it")
    loader = importlib.machinery.ExtensionFileLoader("fastcnn." + name, paths[0])
    spec = importlib.util.spec_from_file_location("fastcnn." + name, paths[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    module.select_isa(os.environ.get("FASTCNN_ISA") or None)
    return module


def conv_call(module, shape_id, pass_name, threads):
    n, h, w, c, f, kh, kw, s, padding = workloads.CONV_SHAPES[shape_id]
    x, wt, b, dy = workloads.conv_inputs(shape_id)
    geo = workloads.conv_geometry(shape_id)
    pt, pl = geo.pad_top, geo.pad_left
    if pass_name == "forward":
        y = np.empty_like(dy)
        return lambda: module.conv2d_forward(x, wt, b, s, s, pt, pl, geo.out_h, geo.out_w,
                                             False, threads, y)
    if pass_name not in ("backward", "weight-backward"):
        raise SystemExit(f"{pass_name}: pass must be forward, backward or weight-backward")
    need_dx = pass_name == "backward"
    dx = np.empty_like(x) if need_dx else None
    dw, db = np.empty_like(wt), np.empty_like(b)
    return lambda: module.conv2d_backward(dy, x, wt, s, s, pt, pl, need_dx, threads, dx, dw, db)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="directory of build A's fastcnn package")
    parser.add_argument("b", help="directory of build B's fastcnn package")
    parser.add_argument("shape", help="S1-S8, or another convolution as "
                        "N,H,W,C,F,KH,KW,STRIDE,PADDING (e.g. ResNet-20's "
                        "128,28,28,16,16,3,3,1,same)")
    parser.add_argument("pass_name", metavar="pass", help="forward, backward, weight-backward")
    parser.add_argument("--calls", type=int, default=30, help="calls of each build (30)")
    args = parser.parse_args(argv)
    if args.shape not in workloads.CONV_SHAPES:
        fields = args.shape.split(",")
        try:
            if len(fields) != 9 or fields[8] not in ("same", "valid"):
                raise ValueError
            workloads.CONV_SHAPES[args.shape] = tuple(int(v) for v in fields[:8]) + (fields[8],)
        except ValueError:
            parser.error(f"unknown shape {args.shape!r}: S1-S8 or N,H,W,C,F,KH,KW,STRIDE,PADDING")
    threads = _config.get_num_threads()
    calls = [conv_call(load_conv(d), args.shape, args.pass_name, threads)
             for d in (args.a, args.b)]
    for call in calls:
        call()                                  # warm-up
    times = ([], [])
    for i in range(args.calls):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            calls[which]()
            times[which].append(time.perf_counter() - t0)
    ta, tb = np.array(times[0]), np.array(times[1])
    print(f"{args.shape} {args.pass_name}, {threads} thread(s), {args.calls} calls each")
    for name, t in (("A", ta), ("B", tb)):
        print(f"  {name} {np.median(t) * 1e3:8.2f} ms median, {t.min() * 1e3:8.2f} ms min")
    print(f"  A/B median of the pairs: {np.median(ta / tb):.3f}")


if __name__ == "__main__":
    main()
