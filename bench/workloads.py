"""Benchmark workloads of BENCHMARKS.md: shapes, FLOP counts, inputs, and the contenders.

Everything here is shared by the ``bench/test_bench_*.py`` modules, so a shape or contender
is declared once. (``bench/report.py`` reads only the JSON they produce.)

Contenders:
- ``fastcnn``    the compiled kernels, ``fastcnn.ops``;
- ``reference``  the NumPy oracles, ``fastcnn.reference`` (for dense: NumPy's matmul);
- ``torch-nchw`` / ``torch-cl``  PyTorch in its default and its ``channels_last`` memory
  format (the report takes the faster of the two, as BENCHMARKS.md asks); ``torch`` for dense,
  where there is no layout choice. Skipped when ``import torch`` fails.
"""
import functools

import numpy as np
import pytest

from fastcnn import _config, ops, reference
from fastcnn._geometry import output_geometry, pair, padding_mode

try:
    import torch
    import torch.nn.functional as F
except ImportError:                    # PyTorch is an optional extra (pip install .[bench])
    torch = None
    F = None

DTYPE = np.float32

# id: (N, H, W, C, F, KH, KW, stride, padding)
CONV_SHAPES = {
    "S1": (128, 28, 28, 1, 32, 3, 3, 1, "valid"),
    "S2": (128, 13, 13, 32, 64, 3, 3, 1, "valid"),
    "S3": (64, 32, 32, 3, 32, 3, 3, 1, "same"),
    "S4": (64, 32, 32, 64, 64, 3, 3, 1, "same"),
    "S5": (16, 56, 56, 64, 64, 3, 3, 1, "same"),
    "S6": (64, 16, 16, 128, 128, 3, 3, 1, "same"),
    "S7": (128, 28, 28, 1, 32, 5, 5, 1, "same"),
    "S8": (64, 32, 32, 64, 128, 3, 3, 2, "same"),
}
# Shapes whose layer is a network's first (C = 1 or 3): they need no dx, so their "weight
# backward" (dw + db only) is what training runs; for the others it is not a pass of its own.
FIRST_LAYER_SHAPES = ("S1", "S3", "S7")

# id: (N, H, W, C, pool_size, strides, padding)
POOL_SHAPES = {
    "P1": (128, 26, 26, 32, 2, 2, "valid"),
    "P2": (64, 32, 32, 64, 2, 2, "valid"),
    "P3": (64, 32, 32, 64, 3, 2, "valid"),      # overlapping windows
}

# id: (N, in_features, units)
DENSE_SHAPES = {
    "D1": (128, 5408, 256),
}

POOL_PASSES = ("max-forward", "max-backward", "avg-forward", "avg-backward")
DENSE_PASSES = ("forward", "backward")

CONV_CONTENDERS = ("fastcnn", "reference", "torch-nchw", "torch-cl")
# The weight-only backward (dw + db): fastcnn.reference has none (timing its conv2d_backward
# would label dx + dw + db as dw + db), so the NumPy reference is not a contender there.
WEIGHT_BACKWARD_CONTENDERS = ("fastcnn", "torch-nchw", "torch-cl")
POOL_CONTENDERS = CONV_CONTENDERS
DENSE_CONTENDERS = ("fastcnn", "reference", "torch")


# --------------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------------
def thread_count():
    """The thread count every contender should use: fastcnn's own (it honours
    OMP_NUM_THREADS at import)."""
    return _config.get_num_threads()


# --------------------------------------------------------------------------------------------
# geometry and FLOPs
# --------------------------------------------------------------------------------------------
def conv_geometry(shape_id):
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    return output_geometry((h, w), (kh, kw), pair(s, "strides"), padding_mode(padding))


def conv_gflop(shape_id, pass_name):
    """GFLOP of one pass. Forward 2*N*OH*OW*F*KH*KW*C; dx and dw each cost as much again."""
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    geo = conv_geometry(shape_id)
    forward = 2.0 * n * geo.out_h * geo.out_w * f * kh * kw * c / 1e9
    return {"forward": forward, "backward": 2 * forward, "weight-backward": forward}[pass_name]


def dense_gflop(shape_id, pass_name):
    """Forward 2*N*In*Units; backward (dx + dw) twice that."""
    n, k, m = DENSE_SHAPES[shape_id]
    forward = 2.0 * n * k * m / 1e9
    return forward if pass_name == "forward" else 2 * forward


# --------------------------------------------------------------------------------------------
# inputs (cached: the contenders of one shape run back to back and share them)
# --------------------------------------------------------------------------------------------
def _normal(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape, dtype=DTYPE)


@functools.lru_cache(maxsize=2)
def conv_inputs(shape_id):
    """x (N,H,W,C), w (KH,KW,C,F), b (F,), dy (N,OH,OW,F), all float32."""
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    geo = conv_geometry(shape_id)
    # scale w so y stays O(1) whatever KH*KW*C is (keeps the float32 check meaningful)
    scale = DTYPE(1.0 / np.sqrt(kh * kw * c))
    return (_normal(1, (n, h, w, c)), _normal(2, (kh, kw, c, f)) * scale, _normal(3, (f,)),
            _normal(4, (n, geo.out_h, geo.out_w, f)))


@functools.lru_cache(maxsize=2)
def pool_inputs(shape_id):
    """x (N,H,W,C) and dy (N,OH,OW,C), float32."""
    n, h, w, c, pool, s, padding = POOL_SHAPES[shape_id]
    geo = output_geometry((h, w), pair(pool, "pool_size"), pair(s, "strides"),
                          padding_mode(padding))
    return _normal(5, (n, h, w, c)), _normal(6, (n, geo.out_h, geo.out_w, c))


@functools.lru_cache(maxsize=1)
def dense_inputs(shape_id):
    """x (N,In), w (In,Units), dy (N,Units), float32."""
    n, k, m = DENSE_SHAPES[shape_id]
    return (_normal(7, (n, k)), _normal(8, (k, m)) * DTYPE(1.0 / np.sqrt(k)),
            _normal(9, (n, m)))


# --------------------------------------------------------------------------------------------
# expected results, from the reference, for the sanity check after each benchmark
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def conv_expected(shape_id, pass_name):
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, dy = conv_inputs(shape_id)
    if pass_name == "forward":
        return (reference.conv2d(x, wt, b, s, padding),)
    dx, dw, db = reference.conv2d_backward(dy, x, wt, s, padding)
    return (dx, dw, db) if pass_name == "backward" else (dw, db)


@functools.lru_cache(maxsize=2)
def pool_expected(shape_id, pass_name):
    n, h, w, c, pool, s, padding = POOL_SHAPES[shape_id]
    x, dy = pool_inputs(shape_id)
    kind, direction = pass_name.split("-")
    forward = reference.max_pool2d if kind == "max" else reference.avg_pool2d
    backward = reference.max_pool2d_backward if kind == "max" else reference.avg_pool2d_backward
    if direction == "forward":
        return (forward(x, pool, s, padding),)
    return (backward(dy, x, pool, s, padding),)


def relative_error(actual, expected):
    """max|actual - expected| / max|expected|, the norm-based rule of tests/conftest.py."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"shape {actual.shape} != expected {expected.shape}")
    scale = max(np.max(np.abs(expected), initial=0.0), np.finfo(np.float64).tiny)
    return np.max(np.abs(actual - expected), initial=0.0) / scale


# float32 results of different summation orders; the kernel tests' float32 bound
CHECK_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------
# torch layout conversions (done outside the timed region)
# --------------------------------------------------------------------------------------------
def torch_image(a, layout):
    """NHWC numpy -> NCHW torch tensor, laid out contiguous NCHW or channels_last."""
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)
    if layout == "torch-cl":
        return t.contiguous(memory_format=torch.channels_last)
    return t.contiguous()


def torch_kernel(w, layout):
    """HWIO numpy -> OIHW torch tensor, in the same memory format as the images."""
    t = torch.from_numpy(np.ascontiguousarray(w)).permute(3, 2, 0, 1)
    if layout == "torch-cl":
        return t.contiguous(memory_format=torch.channels_last)
    return t.contiguous()


def numpy_image(t):
    """NCHW torch tensor -> NHWC numpy array."""
    return t.detach().permute(0, 2, 3, 1).numpy()


def numpy_kernel(t):
    """OIHW torch tensor -> HWIO numpy array."""
    return t.detach().permute(2, 3, 1, 0).numpy()


def torch_conv_padding(shape_id):
    """Padding argument for F.conv2d, and whether it reproduces fastcnn's geometry exactly.

    PyTorch pads symmetrically. When "same" needs an odd total (S8: stride 2, one extra row and
    column at the bottom/right), it gets the larger half on both sides instead: the output has
    the same size and the same work, only the windows sit one row/column earlier, so the
    timing is a fair comparison but the values are not comparable.
    """
    geo = conv_geometry(shape_id)
    exact = geo.pad_top == geo.pad_bottom and geo.pad_left == geo.pad_right
    return (max(geo.pad_top, geo.pad_bottom), max(geo.pad_left, geo.pad_right)), exact


# --------------------------------------------------------------------------------------------
# the timed calls
# --------------------------------------------------------------------------------------------
def conv_call(shape_id, pass_name, contender):
    """``(fn, to_numpy, exact)``: the zero-argument call that one contender times for one
    convolution pass, a function turning its result into a tuple of NHWC/HWIO NumPy arrays
    like ``conv_expected``'s, and whether its values are comparable (see
    ``torch_conv_padding``). Inputs are converted to the contender's layout here, outside the
    call; torch's forward graph of a backward pass is built here too, and the call runs
    ``torch.autograd.grad(..., retain_graph=True)``, which returns fresh gradients (no
    accumulation into ``.grad``) of only the tensors asked for.
    """
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, dy = conv_inputs(shape_id)
    if pass_name not in ("forward", "backward", "weight-backward"):
        raise ValueError(f"pass_name must be forward, backward or weight-backward, "
                         f"got {pass_name!r}")
    if contender in ("fastcnn", "reference"):
        lib = ops if contender == "fastcnn" else reference
        if pass_name == "forward":
            def fn():
                return lib.conv2d(x, wt, b, s, padding)
        elif pass_name == "backward":
            def fn():
                return lib.conv2d_backward(dy, x, wt, s, padding)
        elif contender == "fastcnn":
            def fn():
                return ops.conv2d_backward_weight(dy, x, wt, s, padding)
        else:
            raise ValueError("fastcnn.reference has no weight-only backward")
        return fn, lambda r: tuple(r) if isinstance(r, tuple) else (r,), True
    pad, exact = torch_conv_padding(shape_id)
    grad_x = pass_name == "backward"
    grad_w = pass_name != "forward"
    xt = torch_image(x, contender).requires_grad_(grad_x)
    wtt = torch_kernel(wt, contender).requires_grad_(grad_w)
    bt = torch.from_numpy(b).requires_grad_(grad_w)
    if pass_name == "forward":
        def fn():
            return F.conv2d(xt, wtt, bt, s, pad)
        return fn, lambda y: (numpy_image(y),), exact
    dyt = torch_image(dy, contender)
    y = F.conv2d(xt, wtt, bt, s, pad)
    wanted = (xt, wtt, bt) if grad_x else (wtt, bt)

    def fn():
        return torch.autograd.grad(y, wanted, dyt, retain_graph=True)

    def to_numpy(grads):
        dw, db = numpy_kernel(grads[-2]), grads[-1].numpy()
        return (numpy_image(grads[0]), dw, db) if grad_x else (dw, db)
    return fn, to_numpy, exact


# --------------------------------------------------------------------------------------------
# helpers for the benchmark modules
# --------------------------------------------------------------------------------------------
def skip_if_unavailable(contender):
    """Skip (with the reason) a contender whose library is not there (PyTorch, an optional
    extra)."""
    if contender.startswith("torch") and torch is None:
        pytest.skip("torch is not installed (pip install torch==2.13.0)")


def check_results(actual, expected, exact=True):
    """Sanity check of a benchmarked result: right shapes and, when ``exact``, right values.

    A benchmark of a kernel that computes the wrong thing is worthless, so each run is compared
    with the reference (float32 tolerance of the kernel tests). ``exact=False`` is for runs whose
    geometry deliberately differs (see ``torch_conv_padding``): shapes only.
    """
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape, (got.shape, want.shape)
        if exact:
            error = relative_error(got, want)
            assert error <= CHECK_TOLERANCE, f"relative error {error:.3g}"
