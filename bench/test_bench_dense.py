"""Dense benchmark D1 (the seed model's Dense(5408 -> 256) at batch 128): forward and backward.

BENCHMARKS.md's target is "within 10% of NumPy's matmul", so the "reference" contender here is
NumPy's matmul itself. fastcnn's contender runs the products the Dense layer runs, on
fastcnn's GEMM core (``fastcnn._kernels.gemm``) and fastcnn's threads.
"""
import numpy as np
import pytest

import fastcnn
from fastcnn import _kernels
from workloads import (DENSE_CONTENDERS, DENSE_PASSES, DENSE_SHAPES, check_results,
                       dense_gflop, dense_inputs, skip_if_unavailable, torch)


def fastcnn_dense_forward(x, w):
    """``x @ w`` as Dense.call computes it (a fresh result, like NumPy's)."""
    y = np.empty((x.shape[0], w.shape[1]), x.dtype)
    return _kernels.gemm(x, w, y, False, False, None, False, False, fastcnn.get_num_threads())


def fastcnn_dense_backward(dy, x, w):
    """``(dx, dw, db)`` as Dense.backward computes them: dx = dy @ w.T, dw = x.T @ dy."""
    threads = fastcnn.get_num_threads()
    dx = _kernels.gemm(dy, w, np.empty((dy.shape[0], w.shape[0]), x.dtype), False, True, None,
                    False, False, threads)
    dw = _kernels.gemm(x, dy, np.empty(w.shape, x.dtype), True, False, None, False, False,
                    threads)
    return dx, dw, dy.sum(axis=0)


def numpy_dense_forward(x, w):
    """NumPy's matmul: the yardstick of the D1 target."""
    return x @ w


def numpy_dense_backward(dy, x, w):
    """``(dx, dw, db)`` with NumPy's matmul."""
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def _cases():
    return [pytest.param(s, p, c, id=f"{s}-{p}-{c}")
            for s in DENSE_SHAPES for p in DENSE_PASSES for c in DENSE_CONTENDERS]


@pytest.mark.parametrize("shape_id, pass_name, contender", _cases())
def test_dense(measure, shape_id, pass_name, contender):
    skip_if_unavailable(contender)
    x, w, dy = dense_inputs(shape_id)
    if contender == "torch":
        # same operations as the NumPy versions, on tensors sharing the arrays' memory
        xt, wt, dyt = (torch.from_numpy(a) for a in (x, w, dy))
        if pass_name == "forward":
            def fn():
                return (torch.mm(xt, wt),)
        else:
            def fn():
                return torch.mm(dyt, wt.t()), torch.mm(xt.t(), dyt), dyt.sum(dim=0)
    else:
        forward, backward = ((fastcnn_dense_forward, fastcnn_dense_backward)
                             if contender == "fastcnn"
                             else (numpy_dense_forward, numpy_dense_backward))
        if pass_name == "forward":
            def fn():
                return (forward(x, w),)
        else:
            def fn():
                return backward(dy, x, w)
    result = measure(fn, shape=shape_id, pass_name=pass_name, contender=contender,
                     gflop=dense_gflop(shape_id, pass_name))
    result = tuple(np.asarray(r) for r in result)
    # the expected values, in float64 so the check does not compare NumPy with itself
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    expected = ((x64 @ w64,) if pass_name == "forward"
                else (dy64 @ w64.T, x64.T @ dy64, dy64.sum(axis=0)))
    check_results(result, expected)
