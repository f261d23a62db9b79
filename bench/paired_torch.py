"""fastcnn and PyTorch called in turn on the BENCHMARKS.md convolutions: the ratio of each
pair of calls, so a slow second of a shared machine falls on both sides of it.

Usage (from the repository root; needs torch, ``pip install .[bench]``):

    OMP_NUM_THREADS=2 python bench/paired_torch.py                 # S1-S8, every pass
    OMP_NUM_THREADS=2 python bench/paired_torch.py S5 S8 --passes forward --rounds 60

Each round calls fastcnn, PyTorch channels_last and PyTorch NCHW once each, the order rotated
every round, on the inputs of bench/workloads.py (the calls of the pytest-benchmark suite,
``workloads.conv_call``). A round's ratio is PyTorch's faster format over fastcnn (above 1:
fastcnn is faster); the table gives each contender's median, fastcnn's GFLOP/s, the median
and quartiles of the rounds' ratios, and ``% peak``: the median over rounds of fastcnn's
GFLOP/s over the cores' FMA peak measured in the same round (``fastcnn._kernels.fma_peak``, run
for as long as fastcnn's call took). The process keeps freed memory mapped
(BENCHMARKS.md's allocator setting; it re-runs itself with GLIBC_TUNABLES set unless it is set
already), and every library uses OMP_NUM_THREADS threads.

Calls of a few milliseconds or less are not measured well this way: each library's OpenMP
threads keep spinning for a while after its call and slow the other's next call (S1 and S3
forward here: fastcnn 1.3 ms in a loop of its own, 1.7-2.2 ms between PyTorch's calls). For
those, the pytest-benchmark suite's back-to-back rounds (bench/report.py) are the measure.
"""
import argparse
import os
import sys
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(BENCH_DIR), BENCH_DIR]
import workloads  # noqa: E402  (bench/ is not a package)
from report import MALLOC_SETTING  # noqa: E402

from fastcnn import _kernels  # noqa: E402

CONTENDERS = ("fastcnn", "torch-cl", "torch-nchw")


def passes_of(shape_id, wanted):
    shape_passes = ["forward", "backward"]
    if shape_id in workloads.FIRST_LAYER_SHAPES:
        shape_passes.append("weight-backward")
    return [p for p in shape_passes if p in wanted]


def run_pair(shape_id, pass_name, rounds, threads):
    """Per-round times (rounds x contenders, seconds) of one shape and pass, and each round's
    FMA peak (GFLOP/s)."""
    calls = [workloads.conv_call(shape_id, pass_name, c)[0] for c in CONTENDERS]
    for call in calls:
        call()
        call()                                  # warm-up
    times = np.empty((rounds, len(calls)))
    peaks = np.empty(rounds)
    for r in range(rounds):
        for k in range(len(calls)):
            which = (r + k) % len(calls)
            t0 = time.perf_counter()
            calls[which]()
            times[r, which] = time.perf_counter() - t0
        peaks[r] = _kernels.fma_peak(max(times[r, 0], 0.002), threads)
    return times, peaks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", nargs="*", default=list(workloads.CONV_SHAPES),
                        help="shape ids (default: S1-S8)")
    parser.add_argument("--passes", default="forward,backward,weight-backward",
                        help="comma-separated passes (default: all of a shape's)")
    parser.add_argument("--rounds", type=int, default=30, help="rounds per shape/pass (30)")
    args = parser.parse_args(argv)
    if workloads.torch is None:
        raise SystemExit("torch is not installed (pip install torch==2.13.0)")
    unknown = [s for s in args.shapes if s not in workloads.CONV_SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {unknown}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if "GLIBC_TUNABLES" not in os.environ:
        env = dict(os.environ, GLIBC_TUNABLES=MALLOC_SETTING)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)]
                  + (argv if argv is not None else sys.argv[1:]), env)
    threads = workloads.thread_count()
    workloads.torch.set_num_threads(threads)
    wanted = args.passes.split(",")
    print(f"{threads} thread(s), {args.rounds} rounds; ratio = torch best / fastcnn per round")
    print(f"{'shape':5} {'pass':15} {'fastcnn ms':>10} {'GFLOP/s':>8} {'% peak':>6} "
          f"{'torch-cl':>9} {'nchw':>9} {'ratio':>6} {'q1-q3':>11}")
    for shape_id in args.shapes:
        for pass_name in passes_of(shape_id, wanted):
            t, peaks = run_pair(shape_id, pass_name, args.rounds, threads)
            ratio = t[:, 1:].min(axis=1) / t[:, 0]
            med = np.median(t, axis=0) * 1e3
            q1, q3 = np.percentile(ratio, [25, 75])
            gflop = workloads.conv_gflop(shape_id, pass_name)
            share = 100 * np.median(gflop / t[:, 0] / peaks)
            print(f"{shape_id:5} {pass_name:15} {med[0]:10.2f} {gflop / med[0] * 1e3:8.1f} "
                  f"{share:5.0f}% {med[1]:9.2f} "
                  f"{med[2]:9.2f} {np.median(ratio):6.2f} {q1:5.2f}-{q3:5.2f}", flush=True)


if __name__ == "__main__":
    main()
