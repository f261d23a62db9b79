"""The GEMM core behind Dense (fastcnn._kernels.gemm) against float64 NumPy matmul.

Shapes sit below, at and above the micro-tile (6x16 with AVX2, 12x32 with AVX-512, 4x16
portable) and the cache blocks (KC = 256, MC = 144), every transpose combination, with bias,
ReLU and accumulation; results must be bitwise identical at 1, 2 and 3 threads.
"""
import itertools

import numpy as np
import pytest

from fastcnn import _kernels
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close

SHAPES = [(1, 1, 1), (5, 7, 3), (6, 16, 4), (7, 17, 5), (12, 32, 9), (13, 33, 255),
          (128, 256, 257), (145, 31, 513), (300, 5, 64), (3, 300, 70), (128, 10, 256),
          (301, 20, 515), (40, 40, 0)]


def _operands(rng, m, n, k, trans_a, trans_b, dtype):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def _expected(a, b, trans_a, trans_b, c0=None, bias=None, relu=False):
    out = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    if c0 is not None:
        out += c0
    elif bias is not None:
        out += bias
    return np.maximum(out, 0) if relu else out


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("trans_a, trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("m, n, k", SHAPES)
def test_gemm_matches_matmul_with_bias_relu_and_accumulation(m, n, k, trans_a, trans_b, dtype,
                                                             rng):
    a, b = _operands(rng, m, n, k, trans_a, trans_b, dtype)
    bias = rng.standard_normal(n).astype(dtype)
    c = np.full((m, n), np.nan, dtype)
    assert _kernels.gemm(a, b, c, trans_a, trans_b, None, False, False, 2) is c
    assert_close(c, _expected(a, b, trans_a, trans_b), dtype, "C")

    _kernels.gemm(a, b, c, trans_a, trans_b, bias, False, True, 2)
    assert_close(c, _expected(a, b, trans_a, trans_b, bias=bias, relu=True), dtype, "relu(C+b)")

    c0 = rng.standard_normal((m, n)).astype(dtype)
    c = c0.copy()
    _kernels.gemm(a, b, c, trans_a, trans_b, None, True, False, 2)
    assert_close(c, _expected(a, b, trans_a, trans_b, c0=c0), dtype, "C0 + AB")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("trans_a, trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("m, n, k", [(128, 256, 700), (300, 40, 129), (37, 530, 300)])
def test_gemm_is_bitwise_identical_at_1_2_3_threads(m, n, k, trans_a, trans_b, dtype, rng):
    a, b = _operands(rng, m, n, k, trans_a, trans_b, dtype)
    results = []
    for threads in (1, 2, 3):
        c = np.empty((m, n), dtype)
        _kernels.gemm(a, b, c, trans_a, trans_b, None, False, False, threads)
        results.append(c)
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


def test_gemm_leaves_its_operands_alone(rng):
    a, b = _operands(rng, 50, 60, 70, False, True, np.float32)
    a0, b0 = a.copy(), b.copy()
    _kernels.gemm(a, b, np.empty((50, 60), np.float32), False, True, None, False, False, 2)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_fma_peak_reports_a_rate_and_checks_its_arguments():
    # the benchmarks' yardstick (bench/report.py's "% peak"): a finite positive rate on
    # every kernel set, since each unit brings its own loop
    for threads in (1, 2):
        rate = _kernels.fma_peak(0.002, threads)
        assert np.isfinite(rate) and rate > 0
    for seconds, threads, word in ((0.01, 0, "threads"), (0.0, 1, "seconds"),
                                   (float("nan"), 1, "seconds"), (float("inf"), 1, "seconds")):
        with pytest.raises(ValueError, match=word):
            _kernels.fma_peak(seconds, threads)
