"""The pooling kernels of csrc/pool_*.c against fastcnn.reference, case by case.

The kernels work on a pixel's channels in blocks of vectors (8/32/32 floats, 4/16/16
doubles for generic/AVX2/AVX-512), then a vector at a time (4/8/16 floats, 2/4/8 doubles),
then one channel at a time, so channel counts are picked below, at and above those widths
and to need all three steps. Backward passes write dx band by band without a zeroed
buffer: windows with gaps between them, overlapping windows, and bands that split an image
(few images, several threads) each get cases of their own. Every kernel set the CPU can run
is compared with the others bitwise.
"""
import numpy as np
import pytest

import fastcnn
from fastcnn import _config, _fused_ops as fused_ops, _kernels, ops, reference
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, random_array, widen

dtypes = pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
kinds = pytest.mark.parametrize("kind", ["max", "avg"])

CHANNELS = (1, 7, 8, 9, 15, 16, 17, 31, 33, 41, 57, 65)

# id: (x shape without channels, pool_size, strides, padding)
GEOMETRIES = {
    "7x9_pool2_valid": ((2, 7, 9), 2, None, "valid"),                 # last row/column unused
    "7x9_pool3_stride2_same": ((2, 7, 9), 3, 2, "same"),              # overlapping, padded
    "6x8_pool2_stride3_valid": ((2, 6, 8), 2, 3, "valid"),            # gaps between windows
    "5x7_pool3x2_stride1x2_valid": ((2, 5, 7), (3, 2), (1, 2), "valid"),  # rows overlap only
    "5x7_pool2x3_stride2x1_same": ((2, 5, 7), (2, 3), (2, 1), "same"),    # columns overlap only
}


def _ops(kind):
    return getattr(ops, f"{kind}_pool2d"), getattr(ops, f"{kind}_pool2d_backward")


def _reference(kind):
    return getattr(reference, f"{kind}_pool2d"), getattr(reference, f"{kind}_pool2d_backward")


def _problem(rng, dtype, geometry, c):
    nhw, pool, strides, padding = GEOMETRIES[geometry]
    x = random_array(rng, nhw + (c,), dtype)
    args = (pool, strides, padding)
    dy = random_array(rng, reference.max_pool2d(widen(x), *args).shape, dtype)
    return x, dy, args


@dtypes
@kinds
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
@pytest.mark.parametrize("c", CHANNELS, ids=[f"c{c}" for c in CHANNELS])
def test_pool2d_channel_counts_around_vector_width_match_reference(c, geometry, kind, dtype,
                                                                   rng):
    x, dy, args = _problem(rng, dtype, geometry, c)
    forward, backward = _ops(kind)
    ref_forward, ref_backward = _reference(kind)
    assert_close(forward(x, *args), ref_forward(widen(x), *args), dtype, "y")
    assert_close(backward(dy, x, *args), ref_backward(*widen(dy, x), *args), dtype, "dx")


@dtypes
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
@pytest.mark.parametrize("c", [7, 9, 17, 33], ids=lambda c: f"c{c}")
def test_max_pool2d_nan_in_any_lane_wins_and_takes_the_gradient_like_reference(c, geometry,
                                                                              dtype, rng):
    # NaNs scattered over vector lanes and scalar tail channels, several per window at times;
    # integer gradients keep every sum exact, so dx must match exactly.
    x, _, args = _problem(rng, dtype, geometry, c)
    x[rng.random(x.shape) < 0.15] = np.nan
    y_ref = reference.max_pool2d(widen(x), *args)
    dy = rng.integers(1, 5, size=y_ref.shape).astype(dtype)
    y = ops.max_pool2d(x, *args)
    assert np.isnan(y_ref).any() and not np.isnan(y_ref).all()
    assert np.array_equal(y, y_ref.astype(dtype), equal_nan=True)
    assert np.array_equal(ops.max_pool2d_backward(dy, x, *args),
                          reference.max_pool2d_backward(*widen(dy, x), *args).astype(dtype))


@dtypes
@pytest.mark.parametrize("c", [1, 9, 17], ids=lambda c: f"c{c}")
def test_max_pool2d_ties_go_to_the_first_maximum_in_every_lane(c, dtype, rng):
    # Values in {0, 1}: most windows hold several maxima; overlapping windows add up.
    x = rng.integers(0, 2, size=(2, 7, 9, c)).astype(dtype)
    args = (3, 2, "same")
    y_ref = reference.max_pool2d(widen(x), *args)
    dy = rng.integers(1, 5, size=y_ref.shape).astype(dtype)
    assert np.array_equal(ops.max_pool2d(x, *args), y_ref)
    assert np.array_equal(ops.max_pool2d_backward(dy, x, *args),
                          reference.max_pool2d_backward(*widen(dy, x), *args))


@dtypes
@kinds
def test_pool2d_backward_of_negative_zero_gradients_is_positive_zero_like_reference(kind,
                                                                                   dtype, rng):
    # dx is 0 + (sum of gradients), as when adding into a zeroed buffer: never -0.0.
    x = random_array(rng, (1, 6, 6, 9), dtype)
    dy = np.full((1, 3, 3, 9), -0.0, dtype)
    _, backward = _ops(kind)
    _, ref_backward = _reference(kind)
    dx = backward(dy, x, 2)
    assert np.array_equal(np.signbit(dx), np.signbit(ref_backward(dy, x, 2)))
    assert not np.signbit(dx).any()


# --- bitwise determinism when dx bands split images -------------------------------------------
# With fewer images than 4 per thread, overlapping windows are computed in bands of rows of an
# image; a dx element's sum must not depend on where the bands start.

OVERLAP_PROBLEMS = {
    "n1_19x17_c9_pool3_stride2_valid": ((1, 19, 17, 9), 3, 2, "valid"),
    "n1_16x16_c16_pool3_stride2_same": ((1, 16, 16, 16), 3, 2, "same"),
    "n2_13x11_c33_pool4_stride1_same": ((2, 13, 11, 33), 4, 1, "same"),
    "n3_12x10_c8_pool5x2_stride2x3_valid": ((3, 12, 10, 8), (5, 2), (2, 3), "valid"),
    "n1_25x9_c5_pool7_stride3_same": ((1, 25, 9, 5), 7, 3, "same"),
}


@dtypes
@kinds
@pytest.mark.parametrize("problem", list(OVERLAP_PROBLEMS))
def test_pool2d_backward_overlapping_windows_bitwise_identical_at_1_to_4_threads(problem, kind,
                                                                                  dtype, rng):
    shape, pool, strides, padding = OVERLAP_PROBLEMS[problem]
    args = (pool, strides, padding)
    x = random_array(rng, shape, dtype)
    dy = random_array(rng, reference.max_pool2d(widen(x), *args).shape, dtype)
    _, backward = _ops(kind)
    _, ref_backward = _reference(kind)
    before = fastcnn.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3, 4):
            fastcnn.set_num_threads(n)
            results.append(backward(dy, x, *args))
    finally:
        fastcnn.set_num_threads(before)
    for n, dx in zip((2, 3, 4), results[1:]):
        assert dx.tobytes() == results[0].tobytes(), f"dx at {n} threads differs from 1 thread"
    assert_close(results[0], ref_backward(*widen(dy, x), *args), dtype, "dx")


# --- every kernel set the CPU can run gives the same bits ---------------------------------------

ISA_LEVELS = ("generic", "avx2", "avx512")


def _runnable_isas():
    return ISA_LEVELS[:ISA_LEVELS.index(_kernels.best_isa()) + 1]


@pytest.fixture
def restore_pool_isa():
    yield
    _kernels.select_isa(_config._isa)


def test_pool_kernels_follow_the_isa_chosen_for_the_convolutions():
    assert _kernels.pool_isa() == _kernels.current_isa()


@dtypes
@kinds
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_pool2d_kernel_sets_of_every_runnable_isa_agree_bitwise(geometry, kind, dtype, rng,
                                                                restore_pool_isa):
    x, dy, args = _problem(rng, dtype, geometry, 37)
    if kind == "max":
        x.ravel()[::11] = np.nan
    forward, backward = _ops(kind)
    results = {}
    for isa in _runnable_isas():
        assert _kernels.select_isa(isa) == _kernels.pool_isa() == isa
        results[isa] = (forward(x, *args).tobytes(), backward(dy, x, *args).tobytes())
    first = results["generic"]
    for isa, got in results.items():
        assert got[0] == first[0], f"y of the {isa} kernels differs from generic"
        assert got[1] == first[1], f"dx of the {isa} kernels differs from generic"


# --- max pooling backward with the ReLU before it folded in ----------------------------------------

@dtypes
@pytest.mark.parametrize("c", [1, 7, 37, 45])
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_max_pool2d_relu_backward_equals_masking_dy_by_the_pooled_output_first(
        c, geometry, dtype, rng, restore_pool_isa):
    # What the MaxPooling2D layer runs after a ReLU: dy passes only where the window's
    # maximum is > 0. Against masking dy by y > 0 and then the plain backward, bit for bit on
    # every kernel set: ReLU outputs (zeros and ties), negative and NaN maxima, -0.0 in dy.
    x, dy, args = _problem(rng, dtype, geometry, c)
    x = np.maximum(np.round(x, 1), 0).astype(dtype)
    x.ravel()[::13] = -1.0
    x.ravel()[5::17] = np.nan
    x[0, :3, :3] = 0.0          # windows whose maximum is 0 and
    x[1, :3, :3] = -2.0         # negative (the first window of each image)
    x[1, 3, 3] = np.nan         # a pixel inside a window in every geometry
    dy.ravel()[::7] = -0.0
    y = ops.max_pool2d(x, *args)
    assert (y <= 0).any() and (y > 0).any() and np.isnan(y).any()
    masked = np.where(y > 0, dy, np.zeros_like(dy))
    for isa in _runnable_isas():
        assert _kernels.select_isa(isa) == _kernels.pool_isa() == isa
        want = ops.max_pool2d_backward(masked, x, *args)
        got = ops._max_pool2d_backward(dy, x, *args, None, relu_input=True)
        assert got.tobytes() == want.tobytes(), isa
        assert_close(got, reference.max_pool2d_backward(*widen(masked, x), *args), dtype, "dx")


# --- max pooling that records its picks (the MaxPooling2D layer in training) ---------------------

def _picks_problem(rng, dtype, shape_args, c):
    nhw, pool, strides, padding = shape_args
    x = random_array(rng, nhw + (c,), dtype)
    x = np.round(x, 1).astype(dtype)       # ties
    x.ravel()[::13] = -1.0
    x.ravel()[5::17] = np.nan
    x[0, :3, :3] = 0.0                     # a window whose maximum is 0,
    x[-1, :3, :3] = -2.0                   # one whose maximum is negative
    args = (pool, strides, padding)
    dy = random_array(rng, reference.max_pool2d(widen(x), *args).shape, dtype)
    dy.ravel()[::7] = -0.0
    return x, dy, args


PICKS_PROBLEMS = dict(GEOMETRIES, **OVERLAP_PROBLEMS)


@dtypes
@pytest.mark.parametrize("relu_input", [False, True], ids=["max", "max_relu"])
@pytest.mark.parametrize("c", [1, 7, 37, 45])
@pytest.mark.parametrize("problem", list(PICKS_PROBLEMS))
def test_max_pool2d_backward_from_picks_is_bitwise_the_backward_from_x(
        problem, c, relu_input, dtype, rng, restore_pool_isa):
    # The forward that records where each maximum was found gives the plain forward's y, and
    # the backward from those picks (without x) the backward from x, bit for bit, on every
    # kernel set and at 1 to 3 threads: ties, NaN, maxima <= 0 with the ReLU folded in,
    # -0.0 in dy, overlapping windows in bands.
    nhw, pool, strides, padding = PICKS_PROBLEMS[problem]
    if len(nhw) == 4:                      # OVERLAP_PROBLEMS give the channels too
        nhw = nhw[:3]
    x, dy, args = _picks_problem(rng, dtype, (nhw, pool, strides, padding), c)
    before = fastcnn.get_num_threads()
    try:
        for isa in _runnable_isas():
            assert _kernels.select_isa(isa) == _kernels.pool_isa() == isa
            want_y = ops.max_pool2d(x, *args)
            want_dx = ops._max_pool2d_backward(dy, x, *args, None, relu_input=relu_input)
            for threads in (1, 2, 3):
                fastcnn.set_num_threads(threads)
                picks = np.full_like(want_y, 123.0)
                y = fused_ops.max_pool2d_picking(x, *args, None, picks, relu_input)
                dx = fused_ops.max_pool2d_backward_picks(dy, picks, x.shape, *args, None)
                assert y.tobytes() == want_y.tobytes(), (isa, threads)
                assert dx.tobytes() == want_dx.tobytes(), (isa, threads)
    finally:
        fastcnn.set_num_threads(before)
    if relu_input:
        masked = np.where(want_y > 0, dy, np.zeros_like(dy))
        assert_close(dx, reference.max_pool2d_backward(*widen(masked, x), *args), dtype, "dx")
    else:
        assert_close(dx, reference.max_pool2d_backward(*widen(dy, x), *args), dtype, "dx")


def test_max_pool2d_picks_arguments_are_checked(rng):
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    y = np.empty((2, 3, 3, 3), np.float32)
    dy = np.ones_like(y)
    with pytest.raises(ValueError, match="picks has shape"):
        fused_ops.max_pool2d_picking(x, 2, None, "valid", None, np.empty((2, 3, 3, 4), np.float32),
                                False)
    with pytest.raises(TypeError, match="picks has dtype"):
        fused_ops.max_pool2d_picking(x, 2, None, "valid", None, np.empty_like(y, np.float64), False)
    with pytest.raises(ValueError, match="picks .* overlaps out"):
        fused_ops.max_pool2d_picking(x, 2, None, "valid", y, y, False)
    with pytest.raises(ValueError, match="too many taps"):
        fused_ops.max_pool2d_picking(x, (4096, 4096), None, "same", None, None, False)
    picks = np.zeros_like(y)
    with pytest.raises(ValueError, match="picks must have shape"):
        fused_ops.max_pool2d_backward_picks(dy, picks, (2, 8, 6, 3), 2, None, "valid", None)
    with pytest.raises(ValueError, match="dy must have shape"):
        fused_ops.max_pool2d_backward_picks(dy[:1], picks, x.shape, 2, None, "valid", None)
    with pytest.raises(TypeError, match="picks must be a numpy.ndarray"):
        fused_ops.max_pool2d_backward_picks(dy, picks.tolist(), x.shape, 2, None, "valid", None)


# --- windows too large for a float tap number -----------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("size", [4096, 4097], ids=["2_24_taps", "above_2_24_taps"])
def test_max_pool2d_backward_global_window_of_2_24_taps_picks_the_exact_first_maximum(size, rng):
    # Tap numbers are compared as float32 below 2^24 taps (all exact); larger windows keep
    # them as integers. The maximum sits at one of the last taps, where past 2^24 a float32
    # tap number would round; a second copy of it after that must not win.
    x = rng.standard_normal((1, size, size, 1)).astype(np.float32)
    first, later = size * size - 4, size * size - 2
    x.ravel()[[first, later]] = 10.0
    dy = np.full((1, 1, 1, 1), 3.0, np.float32)
    assert np.array_equal(ops.max_pool2d(x, size), np.full((1, 1, 1, 1), 10.0, np.float32))
    dx = ops.max_pool2d_backward(dy, x, size)
    assert np.flatnonzero(dx).tolist() == [first]
    assert dx.ravel()[first] == 3.0
