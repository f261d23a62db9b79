"""Randomised and layout properties of fastcnn.ops.

* Hypothesis draws shapes, kernels, strides (int or pair), padding (any case), dtypes and batch
  sizes (including 0) and compares every op with fastcnn.reference. The default run is short;
  the ``slow`` variants run thousands of examples
  (``python -m pytest -m slow tests/test_ops_properties.py``; the count can be changed with the
  environment variable FASTCNN_HYPOTHESIS_EXAMPLES).
* Identities that do not depend on the reference: adjointness of forward and backward, and a
  1x1 convolution being a matrix product.
* Non-contiguous, negatively strided, sliced, broadcast and read-only inputs give exactly the
  result of a contiguous copy, and no input is ever modified.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcnn import ops, reference
from conftest import (FLOAT_DTYPES, FLOAT_DTYPE_IDS, LAYOUTS, assert_close, random_array,
                      widen, with_layout)
from strategies import CHANNEL_COUNTS, pool_geometry, window_geometry

DEFAULT_EXAMPLES = 60
LONG_EXAMPLES = int(os.environ.get("FASTCNN_HYPOTHESIS_EXAMPLES", "3000"))
default_run = settings(max_examples=DEFAULT_EXAMPLES, deadline=None)
long_run = settings(max_examples=LONG_EXAMPLES, deadline=None)


@st.composite
def conv_problems(draw, dtypes=("float32", "float64")):
    n, h, w, kh, kw, strides, padding = draw(window_geometry())
    c, f = draw(CHANNEL_COUNTS), draw(CHANNEL_COUNTS)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (n, h, w, c), dtype)
    wt = random_array(rng, (kh, kw, c, f), dtype)
    b = random_array(rng, (f,), dtype) if draw(st.booleans()) else None
    y_shape = reference.conv2d(widen(x), widen(wt), strides=strides, padding=padding).shape
    dy = random_array(rng, y_shape, dtype)
    return dict(x=x, w=wt, b=b, dy=dy, strides=strides, padding=padding)


@st.composite
def pool_problems(draw, dtypes=("float32", "float64")):
    n, h, w, c, pool_size, strides, padding = draw(pool_geometry())
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (n, h, w, c), dtype)
    y_shape = reference.max_pool2d(widen(x), pool_size, strides, padding).shape
    dy = random_array(rng, y_shape, dtype)
    return dict(x=x, dy=dy, pool_size=pool_size, strides=strides, padding=padding)


def _check_conv2d(p):
    kw = dict(strides=p["strides"], padding=p["padding"])
    dtype = p["x"].dtype
    expected = reference.conv2d(*widen(p["x"], p["w"], p["b"]), **kw)
    assert_close(ops.conv2d(p["x"], p["w"], p["b"], **kw), expected, dtype, "y")
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(*widen(p["dy"], p["x"], p["w"]), **kw)
    dx, dw, db = ops.conv2d_backward(p["dy"], p["x"], p["w"], **kw)
    assert_close(dx, dx_ref, dtype, "dx")
    assert_close(dw, dw_ref, dtype, "dw")
    assert_close(db, db_ref, dtype, "db")


def _check_pool(p, forward, backward, ref_forward, ref_backward):
    args = (p["pool_size"], p["strides"], p["padding"])
    dtype = p["x"].dtype
    assert_close(forward(p["x"], *args), ref_forward(widen(p["x"]), *args), dtype, "y")
    assert_close(backward(p["dy"], p["x"], *args),
                 ref_backward(*widen(p["dy"], p["x"]), *args), dtype, "dx")


def _check_max_pool2d(p):
    _check_pool(p, ops.max_pool2d, ops.max_pool2d_backward,
                reference.max_pool2d, reference.max_pool2d_backward)


def _check_avg_pool2d(p):
    _check_pool(p, ops.avg_pool2d, ops.avg_pool2d_backward,
                reference.avg_pool2d, reference.avg_pool2d_backward)


@default_run
@given(conv_problems())
def test_conv2d_and_backward_random_problems_match_reference(problem):
    _check_conv2d(problem)


@default_run
@given(pool_problems())
def test_max_pool2d_and_backward_random_problems_match_reference(problem):
    _check_max_pool2d(problem)


@default_run
@given(pool_problems())
def test_avg_pool2d_and_backward_random_problems_match_reference(problem):
    _check_avg_pool2d(problem)


@pytest.mark.slow
@long_run
@given(conv_problems())
def test_conv2d_and_backward_random_problems_match_reference_long(problem):
    _check_conv2d(problem)


@pytest.mark.slow
@long_run
@given(pool_problems())
def test_max_pool2d_and_backward_random_problems_match_reference_long(problem):
    _check_max_pool2d(problem)


@pytest.mark.slow
@long_run
@given(pool_problems())
def test_avg_pool2d_and_backward_random_problems_match_reference_long(problem):
    _check_avg_pool2d(problem)


# --- identities independent of the reference (float64) ------------------------------------------

def _assert_equal_inner_products(lhs, rhs, scale, what):
    tol = 1e-10
    err = abs(lhs - rhs) / max(scale, np.finfo(np.float64).tiny)
    assert err <= tol, f"{what}: {lhs!r} vs {rhs!r}, relative error {err:.3e} > {tol:.0e}"


def _check_conv2d_adjoint(p):
    kw = dict(strides=p["strides"], padding=p["padding"])
    x, w, dy = p["x"], p["w"], p["dy"]
    y = ops.conv2d(x, w, **kw)
    dx, dw, db = ops.conv2d_backward(dy, x, w, **kw)
    # <conv(x, w), dy> = <x, dx> = <w, dw>; scale: the same sum over absolute values.
    scale = float(np.sum(reference.conv2d(np.abs(x), np.abs(w), **kw) * np.abs(dy)))
    inner_y = float(np.sum(y * dy))
    _assert_equal_inner_products(inner_y, float(np.sum(x * dx)), scale, "<y, dy> vs <x, dx>")
    _assert_equal_inner_products(inner_y, float(np.sum(w * dw)), scale, "<y, dy> vs <w, dw>")
    assert_close(db, dy.sum(axis=(0, 1, 2)), np.float64, "db")


def _check_pool_adjoint(p, forward, backward):
    args = (p["pool_size"], p["strides"], p["padding"])
    x, dy = p["x"], p["dy"]
    y = forward(x, *args)
    dx = backward(dy, x, *args)
    # Average pooling is linear; max pooling is linear in dy with y equal to x at the argmax.
    scale = float(np.sum(forward(np.abs(x), *args) * np.abs(dy)))
    _assert_equal_inner_products(float(np.sum(y * dy)), float(np.sum(x * dx)), scale,
                                 "<pool(x), dy> vs <x, dx>")
    # Every output gradient lands on exactly one (max) or spreads over real inputs (avg).
    _assert_equal_inner_products(float(dx.sum()), float(dy.sum()), float(np.abs(dy).sum()),
                                 "sum(dx) vs sum(dy)")


@default_run
@given(conv_problems(dtypes=("float64",)))
def test_conv2d_backward_is_adjoint_of_forward(problem):
    _check_conv2d_adjoint(problem)


@default_run
@given(pool_problems(dtypes=("float64",)))
def test_max_pool2d_backward_is_adjoint_of_forward(problem):
    _check_pool_adjoint(problem, ops.max_pool2d, ops.max_pool2d_backward)


@default_run
@given(pool_problems(dtypes=("float64",)))
def test_avg_pool2d_backward_is_adjoint_of_forward(problem):
    _check_pool_adjoint(problem, ops.avg_pool2d, ops.avg_pool2d_backward)


@pytest.mark.slow
@long_run
@given(conv_problems(dtypes=("float64",)))
def test_conv2d_backward_is_adjoint_of_forward_long(problem):
    _check_conv2d_adjoint(problem)


@default_run
@given(n=st.integers(0, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=CHANNEL_COUNTS,
       f=CHANNEL_COUNTS, sh=st.integers(1, 3), sw=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_conv2d_1x1_valid_is_strided_matrix_product(n, h, w, c, f, sh, sw, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, (n, h, w, c), np.float64)
    wt = random_array(rng, (1, 1, c, f), np.float64)
    expected = x[:, ::sh, ::sw, :] @ wt[0, 0]
    assert_close(ops.conv2d(x, wt, strides=(sh, sw), padding="valid"), expected, np.float64, "y")


# --- memory layouts and input immutability -------------------------------------------------------

FUNCTION_ARGUMENTS = {
    "conv2d": ("x", "w", "b"),
    "conv2d_backward": ("dy", "x", "w"),
    "max_pool2d": ("x",),
    "max_pool2d_backward": ("dy", "x"),
    "avg_pool2d": ("x",),
    "avg_pool2d_backward": ("dy", "x"),
}
CONV_KW = dict(strides=(2, 1), padding="same")
POOL_KW = dict(pool_size=3, strides=2, padding="same")


def _layout_problem(dtype, rng, shape=(3, 9, 8, 5)):
    x = random_array(rng, shape, dtype)
    w = random_array(rng, (3, 2, shape[3], 7), dtype)
    b = random_array(rng, (7,), dtype)
    x1 = np.zeros((1,) + shape[1:])
    conv_hw = reference.conv2d(x1, np.zeros(w.shape), **CONV_KW).shape[1:3]
    pool_hw = reference.max_pool2d(x1, **POOL_KW).shape[1:3]
    dy_conv = random_array(rng, (shape[0],) + conv_hw + (7,), dtype)
    dy_pool = random_array(rng, (shape[0],) + pool_hw + (shape[3],), dtype)
    return dict(x=x, w=w, b=b, dy_conv=dy_conv, dy_pool=dy_pool)


def _arguments(name, problem):
    dy = problem["dy_conv"] if name.startswith("conv") else problem["dy_pool"]
    values = dict(problem, dy=dy)
    return {arg: values[arg] for arg in FUNCTION_ARGUMENTS[name]}


def _call(name, args):
    kw = CONV_KW if name.startswith("conv") else POOL_KW
    result = getattr(ops, name)(*args.values(), **kw)
    return tuple(result) if isinstance(result, tuple) else (result,)


def _snapshot(arrays):
    """Copies of every array and of the buffer it views, to detect writes."""
    return {k: (a.copy(), None if a.base is None else np.array(a.base, copy=True))
            for k, a in arrays.items()}


def _assert_unchanged(arrays, snapshot):
    for k, a in arrays.items():
        before, base_before = snapshot[k]
        assert np.array_equal(a, before), f"{k} was modified"
        if base_before is not None:
            assert np.array_equal(np.asarray(a.base), base_before, equal_nan=True), (
                f"the buffer under {k} was modified")


def _assert_same_results(results, expected):
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)
        assert got.tobytes() == want.tobytes()


def _single_argument_layout_params():
    params = []
    for name, arg_names in FUNCTION_ARGUMENTS.items():
        for arg in arg_names:
            for layout in LAYOUTS:
                if arg == "b" and layout in ("fortran_order", "channels_first_memory"):
                    continue                     # the same as contiguous for a 1-D array
                params.append(pytest.param(name, arg, layout, id=f"{name}-{arg}-{layout}"))
    return params


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name,arg,layout", _single_argument_layout_params())
def test_one_non_contiguous_argument_gives_the_contiguous_result(name, arg, layout, dtype,
                                                                  rng):
    args = _arguments(name, _layout_problem(dtype, rng))
    expected = _call(name, args)
    variant = dict(args)
    variant[arg] = with_layout(args[arg], layout)
    if layout not in ("read_only", "unaligned"):
        assert not variant[arg].flags.c_contiguous
    snapshot = _snapshot(variant)
    _assert_same_results(_call(name, variant), expected)
    _assert_unchanged(variant, snapshot)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(FUNCTION_ARGUMENTS))
def test_all_arguments_in_one_layout_give_the_contiguous_result(name, layout, dtype, rng):
    args = _arguments(name, _layout_problem(dtype, rng))
    expected = _call(name, args)
    variant = {k: with_layout(a, layout) for k, a in args.items()}
    snapshot = _snapshot(variant)
    _assert_same_results(_call(name, variant), expected)
    _assert_unchanged(variant, snapshot)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("slicing", ["reverse_rows", "every_other_inner_row"])
@pytest.mark.parametrize("name", list(FUNCTION_ARGUMENTS))
def test_sliced_view_of_input_gives_the_result_of_its_contiguous_copy(name, slicing, dtype,
                                                                      rng):
    big = random_array(rng, (3, 19, 8, 5), dtype)
    # The x[:, ::-1] and x[:, 1:-1:2] patterns: a new image height, viewed in place.
    view = big[:, ::-1] if slicing == "reverse_rows" else big[:, 1:-1:2]
    problem = _layout_problem(dtype, rng, shape=view.shape)
    problem["x"] = view
    args = _arguments(name, problem)
    expected = _call(name, dict(args, x=np.ascontiguousarray(view)))
    big_before = big.copy()
    _assert_same_results(_call(name, args), expected)
    assert np.array_equal(big, big_before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(FUNCTION_ARGUMENTS))
def test_broadcast_zero_stride_inputs_give_the_result_of_contiguous_copies(name, dtype, rng):
    # Every argument repeats its first batch item / filter through a zero stride (read-only).
    args = _arguments(name, _layout_problem(dtype, rng))
    broadcast = {}
    for k, a in args.items():
        axis_len = a.shape[0]
        broadcast[k] = np.broadcast_to(a[:1], (axis_len,) + a.shape[1:])
        assert broadcast[k].strides[0] == 0 or axis_len == 1
    expected = _call(name, {k: np.ascontiguousarray(a) for k, a in broadcast.items()})
    _assert_same_results(_call(name, broadcast), expected)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(FUNCTION_ARGUMENTS))
def test_contiguous_inputs_are_not_modified(name, dtype, rng):
    args = _arguments(name, _layout_problem(dtype, rng))
    snapshot = _snapshot(args)
    results = _call(name, args)
    _assert_unchanged(args, snapshot)
    for result in results:                       # results never alias an input
        for k, a in args.items():
            assert not np.shares_memory(result, a), f"a result shares memory with {k}"
