"""The ``out=`` parameter of the pooling functions of fastcnn.ops: the result is written into
``out`` (every element, whatever it held before) and ``out`` is returned; an ``out`` of the
wrong kind, shape or dtype, not C-contiguous, read-only, or overlapping an input raises."""
import numpy as np
import pytest

from fastcnn import ops, reference
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, random_array, widen

dtypes = pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)

FUNCTIONS = ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward")
functions = pytest.mark.parametrize("name", FUNCTIONS)

# id: (x shape, pool_size, strides, padding)
GEOMETRIES = {
    "pool2_valid": ((3, 8, 8, 16), 2, None, "valid"),
    "pool3_stride2_same_overlapping": ((2, 9, 7, 9), 3, 2, "same"),
    "pool2_stride3_valid_gaps": ((2, 8, 10, 5), 2, 3, "valid"),
    "empty_batch": ((0, 6, 6, 4), 2, None, "valid"),
}


def _inputs(rng, dtype, geometry):
    shape, pool, strides, padding = GEOMETRIES[geometry]
    x = random_array(rng, shape, dtype)
    args = (pool, strides, padding)
    dy = random_array(rng, reference.max_pool2d(widen(x), *args).shape, dtype)
    return x, dy, args


def _call(name, x, dy, args, **kw):
    fn = getattr(ops, name)
    return fn(dy, x, *args, **kw) if name.endswith("backward") else fn(x, *args, **kw)


def _result_shape(name, x, dy):
    return x.shape if name.endswith("backward") else dy.shape


@dtypes
@functions
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_pool_out_receives_every_element_of_the_result_and_is_returned(geometry, name, dtype,
                                                                       rng):
    x, dy, args = _inputs(rng, dtype, geometry)
    expected = _call(name, x, dy, args)
    ref = getattr(reference, name)
    ref_result = ref(*widen(dy, x), *args) if name.endswith("backward") else ref(widen(x), *args)
    assert_close(expected, ref_result, dtype, name)
    out = np.full(expected.shape, np.nan, dtype)          # garbage that must all be replaced
    result = _call(name, x, dy, args, out=out)
    assert result is out
    assert out.tobytes() == expected.tobytes()


@dtypes
@functions
def test_pool_out_reused_across_calls_gives_each_call_its_own_result(name, dtype, rng):
    x1, dy1, args = _inputs(rng, dtype, "pool3_stride2_same_overlapping")
    x2, dy2, _ = _inputs(rng, dtype, "pool3_stride2_same_overlapping")
    out = np.empty(_result_shape(name, x1, dy1), dtype)
    _call(name, x1, dy1, args, out=out)
    _call(name, x2, dy2, args, out=out)
    assert out.tobytes() == _call(name, x2, dy2, args).tobytes()


def _bad_outs(shape, dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    wider = shape[:-1] + (shape[-1] + 1,)
    fortran = np.asfortranarray(np.zeros(shape, dtype))
    read_only = np.zeros(shape, dtype)
    read_only.flags.writeable = False
    return {
        "list": (np.zeros(shape, dtype).tolist(), TypeError),
        "other_dtype": (np.zeros(shape, other), TypeError),
        "int_dtype": (np.zeros(shape, np.int32), TypeError),
        "wrong_shape": (np.zeros(wider, dtype), ValueError),
        "flattened": (np.zeros(int(np.prod(shape)), dtype), ValueError),
        "fortran_order": (fortran, ValueError),
        "strided_view": (np.zeros(shape[:-1] + (2 * shape[-1],), dtype)[..., ::2], ValueError),
        "read_only": (read_only, ValueError),
    }


BAD_OUT_CASES = list(_bad_outs((3, 4, 4, 16), np.float32))


@dtypes
@functions
@pytest.mark.parametrize("case", BAD_OUT_CASES)
def test_pool_bad_out_raises_naming_out(case, name, dtype, rng):
    x, dy, args = _inputs(rng, dtype, "pool2_valid")
    shape = _result_shape(name, x, dy)
    out, exc = _bad_outs(shape, dtype)[case]
    with pytest.raises(exc, match="out"):
        _call(name, x, dy, args, out=out)


@dtypes
@functions
def test_pool_wrong_out_shape_message_names_both_shapes(name, dtype, rng):
    x, dy, args = _inputs(rng, dtype, "pool2_valid")
    shape = _result_shape(name, x, dy)
    wrong = shape[:-1] + (shape[-1] + 1,)
    with pytest.raises(ValueError) as info:
        _call(name, x, dy, args, out=np.zeros(wrong, dtype))
    assert str(shape) in str(info.value) and str(wrong) in str(info.value)


def _overlapping(rng, dtype, name, target):
    """(x, dy, out) where out overlaps ``target`` ("x" or "dy"): all three are views of one
    buffer, out starting a few elements inside the target."""
    x, dy, args = _inputs(rng, dtype, "pool2_valid")
    out_shape = _result_shape(name, x, dy)
    sizes = {"x": x.size, "dy": dy.size}
    first, second = ("x", "dy") if target == "x" else ("dy", "x")
    buf = np.zeros(sizes[first] + sizes[second] + int(np.prod(out_shape)), dtype)
    views = {first: buf[:sizes[first]], second: buf[sizes[first]:sizes[first] + sizes[second]]}
    views["x"][...] = x.ravel()
    views["dy"][...] = dy.ravel()
    out = buf[3:3 + int(np.prod(out_shape))].reshape(out_shape)
    return views["x"].reshape(x.shape), views["dy"].reshape(dy.shape), out, args


OVERLAP_CASES = [pytest.param(name, target, id=f"{name}-{target}") for name in FUNCTIONS
                 for target in (("x", "dy") if name.endswith("backward") else ("x",))]


@dtypes
@pytest.mark.parametrize("name, target", OVERLAP_CASES)
def test_pool_out_overlapping_an_input_raises_and_leaves_the_input_alone(name, target, dtype,
                                                                         rng):
    x, dy, out, args = _overlapping(rng, dtype, name, target)
    before = (x.copy(), dy.copy())
    with pytest.raises(ValueError, match="overlaps"):
        _call(name, x, dy, args, out=out)
    assert np.array_equal(x, before[0]) and np.array_equal(dy, before[1])


@dtypes
def test_pool_backward_out_that_is_x_itself_raises(dtype, rng):
    x, dy, args = _inputs(rng, dtype, "pool2_valid")
    for name in ("max_pool2d_backward", "avg_pool2d_backward"):
        with pytest.raises(ValueError, match="out .* overlaps x"):
            _call(name, x, dy, args, out=x)


@functions
def test_pool_out_is_keyword_only(name, rng):
    x, dy, args = _inputs(rng, np.float32, "pool2_valid")
    out = np.empty(_result_shape(name, x, dy), np.float32)
    fn = getattr(ops, name)
    with pytest.raises(TypeError):
        if name.endswith("backward"):
            fn(dy, x, *args, out)
        else:
            fn(x, *args, out)
