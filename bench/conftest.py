"""pytest-benchmark harness for fastcnn (BENCHMARKS.md).

Not part of the default test run (``testpaths`` is ``tests``). Run it explicitly:

    OMP_NUM_THREADS=2 python -m pytest bench --benchmark-enable        # all groups
    OMP_NUM_THREADS=2 python -m pytest bench --benchmark-enable -k S4  # one shape
    OMP_NUM_THREADS=2 python bench/report.py                           # run + one summary table

``--benchmark-enable`` is needed because pyproject's addopts disables benchmarks; without it
every benchmark body still runs once, so ``python -m pytest bench`` is a quick smoke test.

Environment:
    FASTCNN_BENCH_SECONDS  time budget per benchmark (default 1.0): rounds are chosen so the
                           timed calls take about this long, with at least MIN_ROUNDS rounds.
    FASTCNN_BENCH_MODEL_STEPS  training steps per timed call of the whole-model "train-epoch"
                           and "fit" groups (default 20; 0 for the seed model's whole epoch
                           and 50 steps of the others), see test_bench_model.py.
    FASTCNN_BENCH_PREDICT_IMAGES  images per timed predict of TF-CNN, K-CNN and ResNet-20
                           (default 5000; the seed model predicts its 10,000 test images).

The whole-model benchmarks (test_bench_model.py) are meant to run without GLIBC_TUNABLES, as
users run; report.py runs them in a pytest process of their own. Keras is compared in
compare_frameworks.py (it needs another interpreter here).
"""
import math
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # so the bench modules can import workloads

import workloads  # noqa: E402

THREADS = workloads.thread_count()
if workloads.torch is not None:
    # same thread count for every contender, so ratios compare kernels, not core counts
    workloads.torch.set_num_threads(THREADS)

MIN_ROUNDS = 5          # BENCHMARKS.md: medians of at least 5 runs after warm-up
MAX_ROUNDS = 200
SECONDS = float(os.environ.get("FASTCNN_BENCH_SECONDS", "1.0"))
# The NumPy reference is 3-30x slower and only there for orientation: give it half the budget
# (it still gets MIN_ROUNDS rounds).
REFERENCE_SHARE = 0.5
# Seconds of the FMA peak loop before and after each fastcnn benchmark that counts FLOPs.
PEAK_SECONDS = 0.1


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record what the ratios depend on, for report.py's header."""
    import fastcnn
    import numpy
    machine_info["fastcnn_threads"] = THREADS
    machine_info["fastcnn_simd"] = fastcnn._config.config()["simd"]
    machine_info["numpy_version"] = numpy.__version__
    machine_info["torch_version"] = (workloads.torch.__version__
                                     if workloads.torch is not None else None)
    machine_info["fastcnn_version"] = fastcnn.__version__
    machine_info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    machine_info["GLIBC_TUNABLES"] = os.environ.get("GLIBC_TUNABLES")


@pytest.fixture
def measure(benchmark):
    """``measure(fn, shape=, pass_name=, contender=, gflop=, **info)`` -> the last result of
    ``fn()``.

    Puts the run in group "<shape>-<pass>" with the contender, the GFLOP count and ``info`` in
    extra_info, then times ``fn`` after a first call and one warm-up round (none when the first
    call alone took the whole budget), with enough rounds to fill the budget.
    """
    def run(fn, *, shape, pass_name, contender, gflop, **info):
        benchmark.group = f"{shape}-{pass_name}"
        benchmark.extra_info.update(shape=shape, pass_name=pass_name, contender=contender,
                                    gflop=gflop, threads=THREADS,
                                    malloc_setting=bool(os.environ.get("GLIBC_TUNABLES")),
                                    **info)
        if benchmark.disabled:
            # benchmarks off (the pyproject default): one plain call, no timing
            return benchmark.pedantic(fn, rounds=1)
        peak = _peak(contender, gflop)
        start = time.perf_counter()
        fn()            # first call: pays one-time costs, and sizes the number of rounds
        elapsed = time.perf_counter() - start
        budget = SECONDS * (REFERENCE_SHARE if contender == "reference" else 1.0)
        rounds = min(max(math.ceil(budget / max(elapsed, 1e-6)), MIN_ROUNDS), MAX_ROUNDS)
        # a call longer than the budget (whole-model runs) was warm-up enough by itself
        warmup = 0 if elapsed >= budget else 1
        result = benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup, iterations=1)
        if peak is not None:
            # the cores' FMA peak just before and just after the timed rounds (report.py
            # states fastcnn's GFLOP/s as a share of it)
            benchmark.extra_info["peak_gflops"] = (peak + _peak(contender, gflop)) / 2
        return result
    return run


def _peak(contender, gflop):
    """GFLOP/s of fastcnn's FMA loop on THREADS threads now, for fastcnn's runs that count
    FLOPs; None for the others."""
    if contender != "fastcnn" or not gflop:
        return None
    from fastcnn import _kernels
    return _kernels.fma_peak(PEAK_SECONDS, THREADS)
