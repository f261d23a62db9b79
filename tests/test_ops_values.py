"""fastcnn.ops against the fastcnn.reference oracle on a table of shapes.

The table picks channel and filter counts below, at and above the likely SIMD tile widths
(8, 16, 32 floats), every kernel size from 1x1 to 7x7 including non-square ones, strides 1-3
including unequal pairs, both paddings (in mixed case too), odd spatial sizes and batches 0-9.
Every case runs conv2d, conv2d_backward, max/avg pooling forward and backward in float32 and
float64; float32 results are compared with the float64 reference on the same input values.
"""
from collections import namedtuple

import numpy as np
import pytest

from fastcnn import ops, reference
from conftest import (FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, assert_matches_reference,
                      random_array, widen)

Case = namedtuple("Case", "n h w c f kh kw strides padding")


def _case_id(case):
    s = case.strides
    if s is None:
        stride = "sdefault"
    elif isinstance(s, tuple):
        stride = f"s{s[0]}x{s[1]}"
    else:
        stride = f"s{s}"
    return (f"n{case.n}_{case.h}x{case.w}_c{case.c}_f{case.f}_k{case.kh}x{case.kw}_"
            f"{stride}_{case.padding}")


def _build_table():
    cases = []
    # Every kernel shape, both paddings, stride 1; channel pairs rotate through tile edges.
    kernels = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7),
               (1, 3), (3, 1), (5, 2), (2, 5), (1, 7), (7, 1)]
    channel_pairs = [(3, 8), (1, 16), (7, 17), (16, 1), (2, 33), (17, 7), (8, 9)]
    for i, (kh, kw) in enumerate(kernels):
        c, f = channel_pairs[i % len(channel_pairs)]
        for padding in ("valid", "same"):
            cases.append(Case(2, 9, 11, c, f, kh, kw, 1, padding))
    # Strides 2, 3 and unequal pairs against a few kernel shapes; odd spatial sizes.
    strides = [2, 3, (1, 2), (3, 1), (2, 3), (2, 1)]
    stride_kernels = [(2, 2), (3, 3), (5, 2), (1, 3)]
    sizes = [(11, 9), (13, 7), (9, 12)]
    for i, s in enumerate(strides):
        for j, (kh, kw) in enumerate(stride_kernels):
            h, w = sizes[(i + j) % len(sizes)]
            n = 1 + (i + j) % 3
            for padding in ("valid", "same"):
                cases.append(Case(n, h, w, 5, 6, kh, kw, s, padding))
    # Channel / filter counts around the tile widths, kernel 3x3 same stride 1.
    cf_pairs = [(1, 1), (1, 65), (2, 3), (3, 7), (7, 1), (7, 16), (8, 8), (9, 15), (15, 9),
                (16, 16), (16, 17), (17, 31), (31, 32), (32, 32), (32, 33), (33, 64), (63, 2),
                (64, 64), (64, 65), (65, 65), (65, 3), (2, 24), (3, 48)]
    for c, f in cf_pairs:
        cases.append(Case(2, 7, 5, c, f, 3, 3, 1, "same"))
    # ... and with a strided, valid, non-square kernel.
    for c, f in [(3, 32), (17, 17), (33, 33), (5, 31), (31, 5), (64, 1)]:
        cases.append(Case(2, 9, 11, c, f, 5, 3, 2, "valid"))
    # Few input channels on wide rows: tiles of consecutive output pixels inside the image go
    # through the strided kernel, the others (row ends, padding) through pointer tables; dx
    # through the direct few-channel kernel, except for kernels of more than 256 taps.
    for c, f, kh, kw, s, padding in [(1, 32, 3, 3, 1, "valid"), (1, 32, 5, 5, 1, "same"),
                                     (3, 32, 3, 3, 1, "same"), (2, 17, 3, 3, 2, "same"),
                                     (7, 9, 3, 2, (1, 3), "valid"), (15, 16, 3, 3, 1, "same"),
                                     (1, 5, 17, 16, 1, "same"), (2, 3, 16, 17, 2, "valid")]:
        cases.append(Case(2, 19, 41, c, f, kh, kw, s, padding))
    # Pointwise (1x1, stride 1) convolutions run as plain matrix products.
    cases += [Case(3, 7, 9, 33, 17, 1, 1, 1, "same"), Case(2, 5, 6, 64, 65, 1, 1, 1, "valid"),
              Case(0, 4, 4, 8, 8, 1, 1, 1, "valid"), Case(1, 1, 1, 1, 1, 1, 1, 1, "same")]
    # Batch sizes 0 to 9.
    for n in range(10):
        padding = "same" if n % 2 else "valid"
        cases.append(Case(n, 7, 9, 3 + n, 9 - n % 4, 3, 3, 1 + n % 2, padding))
    # Padding strings in mixed case, and the default strides (omitted argument).
    for padding in ("SAME", "Same", "VALID", "Valid"):
        cases.append(Case(2, 9, 7, 4, 5, 3, 2, 2, padding))
    for padding in ("valid", "same", "SAME"):
        cases.append(Case(3, 8, 9, 6, 4, 2, 3, None, padding))
    # Edges of the geometry.
    cases += [
        Case(2, 5, 5, 3, 4, 5, 5, 1, "valid"),          # kernel covers the input: 1x1 output
        Case(2, 2, 3, 3, 4, 7, 7, 1, "same"),           # kernel larger than the input
        Case(3, 1, 1, 2, 3, 3, 3, 2, "same"),           # 1x1 input
        Case(2, 10, 8, 3, 5, 1, 1, 3, "valid"),         # stride larger than the kernel: gaps
        Case(2, 7, 7, 4, 3, 2, 2, 3, "valid"),          # stride larger than the kernel: gaps
        Case(2, 2, 2, 3, 2, 2, 2, 3, "same"),           # stride larger than the input
        Case(2, 1, 13, 5, 3, 1, 3, 1, "same"),          # single row
        Case(2, 13, 1, 5, 3, 3, 1, 1, "valid"),         # single column
        Case(2, 5, 5, 3, 3, 3, 3, 3, "valid"),          # one window per axis, rest unused
        Case(1, 6, 6, 2, 2, 4, 4, 2, "same"),           # even input, even kernel, same
        Case(2, 8, 7, 3, 2, 6, 5, (3, 2), "same"),      # even/odd kernel, unequal strides
        Case(4, 3, 3, 1, 1, 3, 3, 1, "same"),           # single channel, single filter
    ]
    return cases


CASES = _build_table()
CASE_PARAMS = [pytest.param(c, id=_case_id(c)) for c in CASES]


def _pool_cases():
    # Pooling uses (kh, kw) as pool_size and the channel count c; f does not matter.
    seen, params = set(), []
    for case in CASES:
        key = case._replace(f=0)
        if key not in seen:
            seen.add(key)
            params.append(pytest.param(case, id=_case_id(key).replace("_f0", "")))
    return params


POOL_CASE_PARAMS = _pool_cases()
dtypes = pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)


def _stride_kwargs(case):
    return {} if case.strides is None else {"strides": case.strides}


def _conv_out_shape(case):
    out = reference.conv2d(np.zeros((1, case.h, case.w, case.c)),
                           np.zeros((case.kh, case.kw, case.c, case.f)),
                           padding=case.padding, **_stride_kwargs(case))
    return (case.n,) + out.shape[1:]


def _pool_out_shape(case):
    out = reference.max_pool2d(np.zeros((1, case.h, case.w, case.c)), (case.kh, case.kw),
                               padding=case.padding, **_stride_kwargs(case))
    return (case.n,) + out.shape[1:]


def test_shape_table_size_and_coverage():
    assert 100 <= len(CASES) <= 200
    kernels = {(c.kh, c.kw) for c in CASES}
    assert {(k, k) for k in range(1, 8)} <= kernels and {(1, 3), (5, 2)} <= kernels
    assert {1, 2, 3, 7, 16, 17, 31, 32, 33, 64, 65} <= {c.c for c in CASES}
    assert {1, 2, 3, 7, 16, 17, 31, 32, 33, 64, 65} <= {c.f for c in CASES}
    assert set(range(10)) <= {c.n for c in CASES}
    assert {1, 2, 3, (1, 2), (3, 1), None} <= {c.strides for c in CASES}
    assert {"valid", "same", "SAME", "Valid"} <= {c.padding for c in CASES}


@dtypes
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_conv2d_forward_with_bias_matches_reference(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    w = random_array(rng, (case.kh, case.kw, case.c, case.f), dtype)
    b = random_array(rng, (case.f,), dtype)
    kwargs = dict(padding=case.padding, **_stride_kwargs(case))
    expected = reference.conv2d(*widen(x, w, b), **kwargs)
    assert expected.shape == _conv_out_shape(case)
    assert_close(ops.conv2d(x, w, b, **kwargs), expected, dtype, "y")


@dtypes
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_conv2d_backward_matches_reference(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    w = random_array(rng, (case.kh, case.kw, case.c, case.f), dtype)
    dy = random_array(rng, _conv_out_shape(case), dtype)
    kwargs = dict(padding=case.padding, **_stride_kwargs(case))
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(*widen(dy, x, w), **kwargs)
    result = ops.conv2d_backward(dy, x, w, **kwargs)
    assert len(result) == 3
    dx, dw, db = result
    assert_close(dx, dx_ref, dtype, "dx")
    assert_close(dw, dw_ref, dtype, "dw")
    assert_close(db, db_ref, dtype, "db")
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (case.f,)


@dtypes
@pytest.mark.parametrize("case", POOL_CASE_PARAMS)
def test_max_pool2d_forward_and_backward_match_reference(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    dy = random_array(rng, _pool_out_shape(case), dtype)
    kwargs = dict(padding=case.padding, **_stride_kwargs(case))
    pool = (case.kh, case.kw)
    assert_close(ops.max_pool2d(x, pool, **kwargs),
                 reference.max_pool2d(widen(x), pool, **kwargs), dtype, "y")
    assert_close(ops.max_pool2d_backward(dy, x, pool, **kwargs),
                 reference.max_pool2d_backward(*widen(dy, x), pool, **kwargs), dtype, "dx")


@dtypes
@pytest.mark.parametrize("case", POOL_CASE_PARAMS)
def test_avg_pool2d_forward_and_backward_match_reference(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    dy = random_array(rng, _pool_out_shape(case), dtype)
    kwargs = dict(padding=case.padding, **_stride_kwargs(case))
    pool = (case.kh, case.kw)
    assert_close(ops.avg_pool2d(x, pool, **kwargs),
                 reference.avg_pool2d(widen(x), pool, **kwargs), dtype, "y")
    assert_close(ops.avg_pool2d_backward(dy, x, pool, **kwargs),
                 reference.avg_pool2d_backward(*widen(dy, x), pool, **kwargs), dtype, "dx")


# --- bias ----------------------------------------------------------------------------------------

BIAS_CASES = [Case(2, 9, 7, 3, 8, 3, 3, 1, "same"), Case(3, 8, 8, 17, 33, 2, 2, 2, "valid"),
              Case(1, 7, 9, 16, 16, 5, 2, (1, 2), "same"), Case(0, 5, 5, 4, 5, 3, 3, 1, "same")]


@dtypes
@pytest.mark.parametrize("case", [pytest.param(c, id=_case_id(c)) for c in BIAS_CASES])
def test_conv2d_without_bias_matches_reference_and_differs_from_biased_by_b(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    w = random_array(rng, (case.kh, case.kw, case.c, case.f), dtype)
    b = random_array(rng, (case.f,), dtype)
    kwargs = dict(strides=case.strides, padding=case.padding)
    y_default = ops.conv2d(x, w, **kwargs)
    y_none = ops.conv2d(x, w, None, **kwargs)
    y_bias = ops.conv2d(x, w, b, **kwargs)
    assert_close(y_default, reference.conv2d(*widen(x, w), **kwargs), dtype, "y without bias")
    assert np.array_equal(y_none, y_default)
    assert_close(y_bias, reference.conv2d(*widen(x, w, b), **kwargs), dtype, "y with bias")
    assert_close(y_bias - y_default, np.broadcast_to(widen(b), y_bias.shape), dtype,
                 "y_bias - y_no_bias")


# --- dtypes and empty batches --------------------------------------------------------------------

def _call_all_six(n, dtype, rng, padding="same"):
    """Results of all six ops on a small problem with batch ``n``, keyed by function name."""
    x = random_array(rng, (n, 7, 6, 3), dtype)
    w = random_array(rng, (3, 2, 3, 5), dtype)
    b = random_array(rng, (5,), dtype)
    x1 = np.zeros((1,) + x.shape[1:])
    y_shape = reference.conv2d(x1, np.zeros(w.shape), strides=2, padding=padding).shape[1:]
    p_shape = reference.max_pool2d(x1, 3, 2, padding).shape[1:]
    dy_conv = random_array(rng, (n,) + y_shape, dtype)
    dy_pool = random_array(rng, (n,) + p_shape, dtype)
    dx, dw, db = ops.conv2d_backward(dy_conv, x, w, strides=2, padding=padding)
    return x, w, {
        "conv2d": ops.conv2d(x, w, b, strides=2, padding=padding),
        "conv2d_backward.dx": dx, "conv2d_backward.dw": dw, "conv2d_backward.db": db,
        "max_pool2d": ops.max_pool2d(x, 3, 2, padding),
        "max_pool2d_backward": ops.max_pool2d_backward(dy_pool, x, 3, 2, padding),
        "avg_pool2d": ops.avg_pool2d(x, 3, 2, padding),
        "avg_pool2d_backward": ops.avg_pool2d_backward(dy_pool, x, 3, 2, padding),
    }


@dtypes
def test_all_six_functions_return_the_input_dtype(dtype, rng):
    _, _, results = _call_all_six(2, dtype, rng)
    assert len(results) == 8
    for name, result in results.items():
        assert isinstance(result, np.ndarray), name
        assert result.dtype == np.dtype(dtype), f"{name}: {result.dtype}"


@dtypes
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_empty_batch_returns_empty_results_of_the_right_shapes(padding, dtype, rng):
    x, w, results = _call_all_six(0, dtype, rng, padding)
    x1 = np.zeros((1,) + x.shape[1:])
    conv_hw = reference.conv2d(x1, np.zeros(w.shape), strides=2, padding=padding).shape[1:3]
    pool_hw = reference.max_pool2d(x1, 3, 2, padding).shape[1:3]
    expected_shapes = {
        "conv2d": (0,) + conv_hw + (5,),
        "conv2d_backward.dx": x.shape, "conv2d_backward.dw": w.shape,
        "conv2d_backward.db": (5,),
        "max_pool2d": (0,) + pool_hw + (3,), "max_pool2d_backward": x.shape,
        "avg_pool2d": (0,) + pool_hw + (3,), "avg_pool2d_backward": x.shape,
    }
    for name, shape in expected_shapes.items():
        result = results[name]
        assert result.shape == shape, f"{name}: {result.shape} != {shape}"
        assert result.dtype == np.dtype(dtype), name
    # With no examples there is nothing to accumulate: the weight and bias gradients are zero.
    assert np.array_equal(results["conv2d_backward.dw"], np.zeros(w.shape))
    assert np.array_equal(results["conv2d_backward.db"], np.zeros(5))


# --- max-pool ties and overlapping windows -------------------------------------------------------

def _max_pool_backward_first_max(dy, x, pool, strides, padding):
    """Loop-by-loop statement of the API rule: each output gradient goes to the first maximal
    real (unpadded) element of its window in row-major order; overlapping windows add up."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + ph - h, 0) // 2
        left = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, top, left = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    dx = np.zeros(x.shape)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    best = None
                    for a in range(ph):
                        for e in range(pw):
                            r, s = i * sh - top + a, j * sw - left + e
                            if 0 <= r < h and 0 <= s < w and (best is None
                                                              or x[b, r, s, ch] > x[best]):
                                best = (b, r, s, ch)
                    dx[best] += dy[b, i, j, ch]
    return dx


def test_max_pool2d_backward_all_equal_window_sends_gradient_to_top_left():
    x = np.ones((1, 4, 4, 1))
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    expected = np.zeros((1, 4, 4, 1))
    expected[0, 0, 0, 0], expected[0, 0, 2, 0] = 1.0, 2.0
    expected[0, 2, 0, 0], expected[0, 2, 2, 0] = 3.0, 4.0
    assert np.array_equal(ops.max_pool2d_backward(dy, x, 2), expected)
    assert np.array_equal(reference.max_pool2d_backward(dy, x, 2), expected)


def test_max_pool2d_backward_tie_in_first_row_beats_later_rows():
    # Window [[0, 5], [5, 5]]: the first maximum in row-major order is at (0, 1).
    x = np.array([[0.0, 5.0], [5.0, 5.0]]).reshape(1, 2, 2, 1)
    dy = np.full((1, 1, 1, 1), 7.0)
    expected = np.array([[0.0, 7.0], [0.0, 0.0]]).reshape(1, 2, 2, 1)
    assert np.array_equal(ops.max_pool2d_backward(dy, x, 2), expected)
    assert np.array_equal(reference.max_pool2d_backward(dy, x, 2), expected)


def test_max_pool2d_backward_overlapping_windows_accumulate_at_shared_max():
    # A 3x3 input with its maximum in the centre: all four 2x2 stride-1 windows pick it.
    x = np.array([[1.0, 2.0, 1.0], [2.0, 9.0, 2.0], [1.0, 2.0, 1.0]]).reshape(1, 3, 3, 1)
    dy = np.array([1.0, 10.0, 100.0, 1000.0]).reshape(1, 2, 2, 1)
    expected = np.zeros((1, 3, 3, 1))
    expected[0, 1, 1, 0] = 1111.0
    assert np.array_equal(ops.max_pool2d_backward(dy, x, 2, 1), expected)
    assert np.array_equal(reference.max_pool2d_backward(dy, x, 2, 1), expected)


@dtypes
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("shape", [(2, 9, 11, 3), (3, 8, 7, 17), (1, 12, 12, 33)],
                         ids=lambda s: "x" + "x".join(map(str, s)))
def test_max_pool2d_backward_pool3_stride2_many_ties_matches_first_max_rule(
        shape, padding, dtype, rng):
    # Integers in {0, 1, 2} make most windows contain several maxima; windows overlap.
    x = rng.integers(0, 3, size=shape).astype(dtype)
    y = ops.max_pool2d(x, 3, 2, padding)
    dy = rng.integers(1, 5, size=y.shape).astype(dtype)   # small integers: every sum is exact
    expected = _max_pool_backward_first_max(dy, x, (3, 3), (2, 2), padding)
    dx = ops.max_pool2d_backward(dy, x, 3, 2, padding)
    assert dx.dtype == np.dtype(dtype)
    assert np.array_equal(dx, expected), (
        f"{int(np.sum(dx != expected))} of {dx.size} elements differ from the first-max rule")
    assert np.array_equal(reference.max_pool2d_backward(*widen(dy, x), 3, 2, padding), expected)
    assert np.array_equal(y, reference.max_pool2d(widen(x), 3, 2, padding))


@dtypes
def test_max_pool2d_same_padding_never_returns_pad_value(dtype, rng):
    # All inputs negative: a pad value of 0 would win every border window if it were used.
    x = (-1.0 - rng.random((2, 7, 5, 4))).astype(dtype)
    y = ops.max_pool2d(x, 3, 2, "same")
    assert np.all(y < 0)
    assert_close(y, reference.max_pool2d(widen(x), 3, 2, "same"), dtype, "y")
    dy = np.ones(y.shape, dtype)
    dx = ops.max_pool2d_backward(dy, x, 3, 2, "same")
    assert float(dx.sum()) == float(dy.sum())   # every gradient reached a real input


@dtypes
def test_avg_pool2d_same_padding_divides_by_number_of_real_inputs(dtype):
    # A constant input averages to itself only if padded positions are left out of the count.
    x = np.full((2, 7, 5, 3), 2.5, dtype)
    y = ops.avg_pool2d(x, (3, 4), (2, 3), "same")
    assert_close(y, np.full(y.shape, 2.5), dtype, "y")
    dy = np.ones(y.shape, dtype)
    dx = ops.avg_pool2d_backward(dy, x, (3, 4), (2, 3), "same")
    assert_close(np.array([dx.sum()], dtype), np.array([float(dy.sum())]), dtype, "sum(dx)")


# --- weights that are not finite -----------------------------------------------------------------
# dx has no term for a dy position outside the output (fastcnn.reference), while dx's stride-phase
# GEMMs read a zero for each of them: with an inf or NaN weight, 0 * inf would make NaN of the
# border pixels the reference leaves finite (and so would the zero-padded dy that dx of few filters
# reads). One case per way dx is computed.
NONFINITE_W_CASES = {
    "gemm_s1_valid": Case(2, 9, 8, 16, 33, 3, 3, 1, "valid"),
    "gemm_s1_same": Case(2, 9, 8, 17, 17, 3, 3, 1, "same"),
    # few filters at stride 1: dx as the few-channel forward over a zero-padded dy
    "few_filters_s1_same": Case(2, 9, 30, 17, 16, 3, 3, 1, "same"),
    "few_filters_s1_valid": Case(1, 7, 12, 24, 9, 3, 2, 1, "valid"),
    "gemm_s2_same": Case(2, 10, 9, 32, 8, 3, 3, 2, "same"),   # S8's geometry, smaller
    "gemm_s3_unreached_phases": Case(2, 11, 10, 9, 5, 2, 2, 3, "valid"),
    "gemm_s1x2_nonsquare": Case(1, 8, 11, 8, 12, 2, 5, (1, 2), "same"),
    "gemm_few_channels_many_taps": Case(1, 18, 19, 3, 4, 17, 16, 1, "same"),
    "direct_few_channels": Case(2, 9, 8, 3, 16, 3, 3, 2, "same"),
    "pointwise_gemm": Case(2, 5, 6, 16, 9, 1, 1, 1, "same"),
}


@dtypes
@pytest.mark.parametrize("case", NONFINITE_W_CASES.values(), ids=NONFINITE_W_CASES.keys())
def test_conv2d_backward_with_inf_and_nan_weights_matches_reference(case, dtype, rng):
    x = random_array(rng, (case.n, case.h, case.w, case.c), dtype)
    w = random_array(rng, (case.kh, case.kw, case.c, case.f), dtype)
    w[0, 0, 0, 0] = np.inf                      # a corner tap: most border pixels miss it
    w[-1, -1, -1, -1] = -np.inf
    w[case.kh // 2, 0, case.c // 2, 0] = np.nan
    dy = random_array(rng, _conv_out_shape(case), dtype)
    kwargs = dict(padding=case.padding, **_stride_kwargs(case))
    with np.errstate(all="ignore"):
        dx_ref, dw_ref, db_ref = reference.conv2d_backward(*widen(dy, x, w), **kwargs)
    # the case means something: the reference has finite dx values among the special ones
    assert np.isfinite(dx_ref).any() and not np.isfinite(dx_ref).all()
    dx, dw, db = ops.conv2d_backward(dy, x, w, **kwargs)
    assert_matches_reference(dx, dx_ref, dtype, "dx")
    assert_matches_reference(dw, dw_ref, dtype, "dw")
    assert_matches_reference(db, db_ref, dtype, "db")
