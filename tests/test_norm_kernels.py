"""The kernels of the CIFAR-class layers (fastcnn._norm_ops over fastcnn/_norm.pyx and
fastcnn/_elementwise.pyx) against fastcnn.reference, case by case.

Shape tables put channel counts below, at and above the SIMD widths, odd spatial sizes,
batches of 0, 1, 2 and 5 and rank-2 (Dense) input for batch normalization; values are
compared with the suite's tolerance rule (conftest), selections (max pooling, ReLU, the order
of a sum) bitwise. Then: bitwise the same results at 1, 2 and 3 threads on shapes that give
every thread work, every memory layout of the inputs, inputs never modified, ``out=``, and
the error contract (TypeError / ValueError naming the argument and the shapes).
"""
import warnings

import numpy as np
import pytest

import fastcnn
from fastcnn import _elementwise, _norm, _norm_ops as nops, reference
from conftest import (FLOAT_DTYPE_IDS, FLOAT_DTYPES, LAYOUTS, assert_close, random_array,
                      widen, with_layout)

dtypes = pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
CHANNELS = (1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64)
EPSILON = 1e-3
MIN_VALUES_PER_THREAD = 1 << 15          # fastcnn/_parallel.pxd

BN_SHAPES = {f"n2_5x3_c{c}": (2, 5, 3, c) for c in CHANNELS}
BN_SHAPES.update({f"dense_n5_c{c}": (5, c) for c in CHANNELS})
BN_SHAPES.update({"n1_7x7_c16": (1, 7, 7, 16), "n5_3x5_c17": (5, 3, 5, 17),
                  "n1_1x1_c9": (1, 1, 1, 9), "dense_n1_c8": (1, 8), "rank3_n2_9_c33": (2, 9, 33),
                  "n2_33x31_c64_four_blocks": (2, 33, 31, 64)})
IMAGE_SHAPES = {f"n2_5x3_c{c}": (2, 5, 3, c) for c in CHANNELS}
IMAGE_SHAPES.update({"n1_7x7_c16": (1, 7, 7, 16), "n5_3x5_c17": (5, 3, 5, 17),
                     "n1_1x1_c9": (1, 1, 1, 9), "n2_1x9_c33": (2, 1, 9, 33),
                     "n5_11x13_c64": (5, 11, 13, 64)})

bn_shapes = pytest.mark.parametrize("shape", list(BN_SHAPES.values()), ids=list(BN_SHAPES))
image_shapes = pytest.mark.parametrize("shape", list(IMAGE_SHAPES.values()),
                                       ids=list(IMAGE_SHAPES))


@pytest.fixture(autouse=True)
def restore_thread_count():
    before = fastcnn.get_num_threads()
    yield
    fastcnn.set_num_threads(before)


def _affine(a, affine):
    """(gamma, beta) of the arrays ``a``, or (None, None) for a layer without them."""
    return (a["gamma"], a["beta"]) if affine else (None, None)


def _bn_arrays(rng, shape, dtype):
    """x (off-centre, so the mean matters), dy, gamma, beta, moving statistics."""
    c = shape[-1]
    x = (rng.standard_normal(shape) * 1.5 + 0.75).astype(dtype)
    return dict(x=x, dy=random_array(rng, shape, dtype), gamma=random_array(rng, (c,), dtype),
                beta=random_array(rng, (c,), dtype),
                moving_mean=random_array(rng, (c,), dtype),
                moving_var=(rng.random(c) * 2 + 0.05).astype(dtype))


# --- batch normalization against the reference ---------------------------------------------

@dtypes
@bn_shapes
@pytest.mark.parametrize("affine", [True, False], ids=["gamma_beta", "no_gamma_beta"])
def test_batch_norm_train_forward_and_backward_match_reference(shape, dtype, affine, rng):
    a = _bn_arrays(rng, shape, dtype)
    gamma, beta = _affine(a, affine)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], gamma, beta, EPSILON)
    x64, dy64, g64, b64 = widen(a["x"], a["dy"], gamma, beta)
    mean_ref, var_ref = reference.batch_norm_moments(x64)
    assert_close(y, reference.batch_norm_forward(x64, g64, b64, EPSILON), dtype, "y")
    assert_close(mean, mean_ref, dtype, "mean")
    assert_close(var, var_ref, dtype, "var")
    assert_close(inv_std, 1 / np.sqrt(var_ref + EPSILON), dtype, "inv_std")

    dx, dgamma, dbeta = nops.batch_norm_train_backward(a["dy"], a["x"], gamma, mean, inv_std)
    dx_ref, dgamma_ref, dbeta_ref = reference.batch_norm_backward(dy64, x64, g64, EPSILON)
    assert_close(dx, dx_ref, dtype, "dx")
    assert_close(dgamma, dgamma_ref, dtype, "dgamma")
    assert_close(dbeta, dbeta_ref, dtype, "dbeta")


# (offset, spread): the statistics come from one pass over memory; these offsets would
# cancel a plain sum of squares (E[x**2] - E[x]**2) away, in double too at 1e5 / 1e-2.
OFFSETS = {"mean_1e3_std_1": (1e3, 1.0), "mean_1e5_std_1e-2": (1e5, 1e-2),
           "mean_minus_1e5_std_1e-2": (-1e5, 1e-2)}


@dtypes
@pytest.mark.parametrize("offset, spread", list(OFFSETS.values()), ids=list(OFFSETS))
def test_batch_norm_train_statistics_of_offset_data_match_reference(offset, spread, dtype,
                                                                    rng):
    shape = (9, 17, 15, 16)             # 2295 rows: two blocks of rows, the second short
    x = (rng.standard_normal(shape) * spread + offset).astype(dtype)
    y, mean, var, inv_std = nops.batch_norm_train(x, None, None, EPSILON)
    mean_ref, var_ref = reference.batch_norm_moments(widen(x))
    assert_close(mean, mean_ref, dtype, "mean")
    assert_close(var, var_ref, dtype, "var")
    assert_close(inv_std, 1 / np.sqrt(var_ref + EPSILON), dtype, "inv_std")
    if spread == 1:          # float32 x itself holds the deviations to ~1e-4 relative only
        assert_close(y, reference.batch_norm_forward(widen(x), None, None, EPSILON), dtype,
                     "y")


@dtypes
@bn_shapes
@pytest.mark.parametrize("affine", [True, False], ids=["gamma_beta", "no_gamma_beta"])
def test_batch_norm_inference_forward_and_backward_match_reference(shape, dtype, affine, rng):
    a = _bn_arrays(rng, shape, dtype)
    gamma, beta = _affine(a, affine)
    x64, dy64, g64, b64, mm64, mv64 = widen(a["x"], a["dy"], gamma, beta, a["moving_mean"],
                                            a["moving_var"])
    y = nops.batch_norm_inference(a["x"], gamma, beta, a["moving_mean"], a["moving_var"],
                                  EPSILON)
    assert_close(y, reference.batch_norm_forward(x64, g64, b64, EPSILON, mm64, mv64), dtype,
                 "y")
    dx = nops.batch_norm_inference_backward(a["dy"], gamma, a["moving_var"], EPSILON)
    # the gradient test_norm_reference checks by finite differences
    scale = (1.0 if g64 is None else g64) / np.sqrt(mv64 + EPSILON)
    assert_close(dx, dy64 * scale, dtype, "dx")


@dtypes
@bn_shapes
@pytest.mark.parametrize("affine", [True, False], ids=["gamma_beta", "no_gamma_beta"])
def test_batch_norm_with_relu_is_bitwise_batch_norm_then_relu(shape, dtype, affine, rng):
    """The ReLU in the normalizing pass (relu=True) and the ReLU's mask in the backward pass
    (relu_output=) give bitwise what the separate ReLU kernels give."""
    a = _bn_arrays(rng, shape, dtype)
    gamma, beta = _affine(a, affine)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], gamma, beta, EPSILON)
    y_relu, *stats = nops.batch_norm_train(a["x"], gamma, beta, EPSILON, relu=True)
    relu_y = nops.relu(y)
    if np.prod(shape[:-1]) > 1:        # (one row normalizes to beta, 0 without beta)
        assert (relu_y == 0).any() and (relu_y > 0).any()      # the mask does something
    np.testing.assert_array_equal(y_relu, relu_y)
    for got, want in zip(stats, (mean, var, inv_std)):
        np.testing.assert_array_equal(got, want)
    masked = np.empty_like(a["dy"])
    _elementwise.relu_backward(a["dy"].reshape(-1), relu_y.reshape(-1), masked.reshape(-1))
    want = nops.batch_norm_train_backward(masked, a["x"], gamma, mean, inv_std)
    got = nops.batch_norm_train_backward(a["dy"], a["x"], gamma, mean, inv_std,
                                         relu_output=y_relu)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # the mask found again from x and the normalizing pass's coefficients
    coefficients = np.full((2, shape[-1]), np.nan, dtype)
    y_coef, *stats = nops.batch_norm_train(a["x"], gamma, beta, EPSILON, relu=True,
                                           coefficients=coefficients)
    np.testing.assert_array_equal(y_coef, y_relu)
    np.testing.assert_array_equal(coefficients[1], 0 if beta is None else beta)
    got = nops.batch_norm_train_backward(a["dy"], a["x"], gamma, mean, inv_std,
                                         relu_coefficients=coefficients)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)

    stats = (gamma, beta, a["moving_mean"], a["moving_var"], EPSILON)
    y_inf = nops.batch_norm_inference(a["x"], *stats, relu=True)
    np.testing.assert_array_equal(y_inf, nops.relu(nops.batch_norm_inference(a["x"], *stats)))
    _elementwise.relu_backward(a["dy"].reshape(-1), y_inf.reshape(-1), masked.reshape(-1))
    np.testing.assert_array_equal(
        nops.batch_norm_inference_backward(a["dy"], gamma, a["moving_var"], EPSILON,
                                           relu_output=y_inf),
        nops.batch_norm_inference_backward(masked, gamma, a["moving_var"], EPSILON))


@dtypes
@bn_shapes
@pytest.mark.parametrize("relu", [True, False], ids=["relu", "no_relu"])
def test_batch_norm_with_residual_is_bitwise_batch_norm_then_add(shape, dtype, relu, rng):
    """residual= (the plan's BatchNormalization + Add + ReLU step) gives bitwise the
    normalization, then the compiled sum (with its ReLU), in either order of the two
    operands; the statistics are the plain call's, and the residual is left alone."""
    a = _bn_arrays(rng, shape, dtype)
    gamma, beta = _affine(a, True)
    residual = random_array(rng, shape, dtype)
    kept = residual.copy()
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], gamma, beta, EPSILON)
    got, *stats = nops.batch_norm_train(a["x"], gamma, beta, EPSILON, relu=relu,
                                        residual=residual)
    np.testing.assert_array_equal(residual, kept)
    for first, second in ((y, residual), (residual, y)):
        want = np.empty_like(y)
        _elementwise.add([first.reshape(-1), second.reshape(-1)], want.reshape(-1), relu)
        np.testing.assert_array_equal(got, want)
    if relu and np.prod(shape[:-1]) > 1:
        assert (got == 0).any() and (got > 0).any()       # the ReLU does something
    for g, w in zip(stats, (mean, var, inv_std)):
        np.testing.assert_array_equal(g, w)
    x64, g64, b64, r64 = widen(a["x"], gamma, beta, residual)
    total = reference.batch_norm_forward(x64, g64, b64, EPSILON) + r64
    assert_close(got, np.maximum(total, 0) if relu else total, dtype, "bn(x) + residual")


@dtypes
@bn_shapes
def test_batch_norm_backward_writes_the_masked_gradient_bitwise(shape, dtype, rng):
    """masked= receives what the ReLU's backward pass gives, and the gradients are bitwise
    those of the masked gradient without a mask (the second pass reads it back)."""
    a = _bn_arrays(rng, shape, dtype)
    gamma, beta = _affine(a, True)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], gamma, beta, EPSILON, relu=True,
                                                  residual=random_array(rng, shape, dtype))
    want_masked = np.empty_like(a["dy"])
    _elementwise.relu_backward(a["dy"].reshape(-1), y.reshape(-1), want_masked.reshape(-1))
    want = nops.batch_norm_train_backward(want_masked, a["x"], gamma, mean, inv_std)
    masked = np.full_like(a["dy"], np.nan)
    got = nops.batch_norm_train_backward(a["dy"], a["x"], gamma, mean, inv_std,
                                         relu_output=y, masked=masked)
    np.testing.assert_array_equal(masked, want_masked)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@dtypes
def test_batch_norm_masked_without_relu_output_or_overlapping_is_refused(dtype, rng):
    a = _bn_arrays(rng, (2, 3, 3, 4), dtype)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], None, None, EPSILON, relu=True)
    with pytest.raises(ValueError, match="masked is only written with relu_output"):
        nops.batch_norm_train_backward(a["dy"], a["x"], None, mean, inv_std,
                                       masked=np.empty_like(a["dy"]))
    with pytest.raises(ValueError, match="masked .* overlaps dy"):
        nops.batch_norm_train_backward(a["dy"], a["x"], None, mean, inv_std, relu_output=y,
                                       masked=a["dy"])
    with pytest.raises(ValueError, match="masked has shape"):
        nops.batch_norm_train_backward(a["dy"], a["x"], None, mean, inv_std, relu_output=y,
                                       masked=np.empty_like(a["dy"][:1]))


@dtypes
def test_batch_norm_residual_of_the_wrong_shape_or_dtype_is_refused(dtype, rng):
    a = _bn_arrays(rng, (2, 3, 3, 4), dtype)
    with pytest.raises(ValueError, match="residual must have shape"):
        nops.batch_norm_train(a["x"], None, None, EPSILON, residual=a["x"][:1])
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match="residual"):
        nops.batch_norm_train(a["x"], None, None, EPSILON, residual=a["x"].astype(other))
    with pytest.raises(ValueError, match="out"):      # the result may not overwrite it
        residual = a["x"].copy()
        nops.batch_norm_train(a["x"], None, None, EPSILON, residual=residual,
                              out=(residual, None, None, None))


@dtypes
def test_batch_norm_relu_output_of_the_wrong_shape_or_dtype_is_refused(dtype, rng):
    a = _bn_arrays(rng, (2, 3, 3, 4), dtype)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], None, None, EPSILON, relu=True)
    with pytest.raises(ValueError, match="relu_output must have dy's shape"):
        nops.batch_norm_train_backward(a["dy"], a["x"], None, mean, inv_std,
                                       relu_output=y[:1])
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match="relu_output"):
        nops.batch_norm_inference_backward(a["dy"], None, a["moving_var"], EPSILON,
                                           relu_output=y.astype(other))


@dtypes
def test_batch_norm_without_gamma_and_beta_is_bitwise_the_one_with_ones_and_zeros(dtype, rng):
    a = _bn_arrays(rng, (3, 5, 7, 17), dtype)
    ones, zeros = np.ones(17, dtype), np.zeros(17, dtype)
    for got, expected in [
        (nops.batch_norm_train(a["x"], None, None, EPSILON),
         nops.batch_norm_train(a["x"], ones, zeros, EPSILON)),
        (nops.batch_norm_inference(a["x"], None, None, a["moving_mean"], a["moving_var"],
                                   EPSILON),
         nops.batch_norm_inference(a["x"], ones, zeros, a["moving_mean"], a["moving_var"],
                                   EPSILON)),
        (nops.batch_norm_inference_backward(a["dy"], None, a["moving_var"], EPSILON),
         nops.batch_norm_inference_backward(a["dy"], ones, a["moving_var"], EPSILON)),
    ]:
        for g, e in zip(got if isinstance(got, tuple) else (got,),
                        expected if isinstance(expected, tuple) else (expected,)):
            assert g.tobytes() == e.tobytes()


@dtypes
def test_batch_norm_of_one_row_gives_beta_and_exactly_zero_dx(dtype, rng):
    a = _bn_arrays(rng, (1, 1, 1, 9), dtype)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON)
    np.testing.assert_array_equal(y.reshape(-1), a["beta"])
    np.testing.assert_array_equal(var, 0)
    dx, _, dbeta = nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean, inv_std)
    np.testing.assert_array_equal(dx, 0)
    np.testing.assert_array_equal(dbeta, a["dy"].reshape(-1))


@dtypes
def test_batch_norm_constant_dy_gives_exactly_zero_dx(dtype, rng):
    a = _bn_arrays(rng, (4, 3, 5, 16), dtype)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON)
    dy = np.broadcast_to(a["dy"][0, 0, 0], a["x"].shape)
    dx, _, _ = nops.batch_norm_train_backward(dy, a["x"], a["gamma"], mean, inv_std)
    assert np.max(np.abs(dx)) <= 1e-5 * np.max(np.abs(dy * a["gamma"] * inv_std))


@dtypes
@pytest.mark.parametrize("shape", [(0, 3, 3, 8), (0, 5)], ids=["images", "dense"])
def test_batch_norm_empty_batch_gives_nan_statistics_and_zero_parameter_gradients(shape, dtype,
                                                                                 rng):
    a = _bn_arrays(rng, shape, dtype)
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON)
    assert y.shape == shape and y.dtype == dtype
    assert np.isnan(mean).all() and np.isnan(var).all() and np.isnan(inv_std).all()
    dx, dgamma, dbeta = nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean,
                                                       inv_std)
    assert dx.shape == shape and not dgamma.any() and not dbeta.any()
    assert nops.batch_norm_inference(a["x"], None, None, a["moving_mean"], a["moving_var"],
                                     EPSILON).shape == shape


# --- global pooling against the reference ---------------------------------------------------

@dtypes
@image_shapes
def test_global_avg_pool2d_and_backward_match_reference(shape, dtype, rng):
    x = random_array(rng, shape, dtype)
    dy = random_array(rng, (shape[0], shape[3]), dtype)
    assert_close(nops.global_avg_pool2d(x), reference.global_avg_pool2d(widen(x)), dtype, "y")
    assert_close(nops.global_avg_pool2d_backward(dy, x.shape),
                 reference.global_avg_pool2d_backward(*widen(dy, x)), dtype, "dx")


@dtypes
@image_shapes
@pytest.mark.parametrize("values", ["normal", "ties"])
def test_global_max_pool2d_and_backward_match_reference_bitwise(shape, dtype, values, rng):
    x = random_array(rng, shape, dtype)
    if values == "ties":
        x = np.round(x).astype(dtype)              # many equal maxima: the first must win
    dy = random_array(rng, (shape[0], shape[3]), dtype)
    picks = np.empty((shape[0], shape[3]), np.intp)
    y = nops.global_max_pool2d(x, picks=picks)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, reference.global_max_pool2d(x))
    expected = reference.global_max_pool2d_backward(dy, x)
    np.testing.assert_array_equal(nops.global_max_pool2d_backward(dy, x), expected)
    np.testing.assert_array_equal(
        nops.global_max_pool2d_backward(dy, picks=picks, x_shape=shape), expected)
    np.testing.assert_array_equal(nops.global_max_pool2d(x), y)


SPECIAL_CHANNELS = {
    "ties_first": [1, 5, 2, 5, 0, 5],
    "first_nan": [1, np.nan, 9, np.nan, 0, 2],
    "nan_at_start": [np.nan, 3, 4, 1, 0, 2],
    "nan_at_end": [1, 3, 4, 1, 0, np.nan],
    "all_minus_inf": [-np.inf] * 6,
    "all_negative": [-1, -2, -3, -4, -5, -0.5],
    "inf": [-1, 9, np.inf, 9, np.inf, 2],
    "minus_zero_first": [-0.0, 0.0, -1, -2, -3, -4],
    "plus_zero_first": [0.0, -0.0, -1, -2, -3, -4],
}


@dtypes
def test_global_max_pool2d_nan_wins_and_ties_go_to_the_first(dtype):
    # each special case in a channel of its own, 6 pixels in row-major order
    x = np.array(list(SPECIAL_CHANNELS.values()), dtype).T.reshape(1, 2, 3, -1)
    dy = np.arange(1, x.shape[3] + 1, dtype=dtype).reshape(1, -1)
    y = nops.global_max_pool2d(x)
    expected = reference.global_max_pool2d(x)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(expected))
    np.testing.assert_array_equal(nops.global_max_pool2d_backward(dy, x),
                                  reference.global_max_pool2d_backward(dy, x))


@dtypes
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7])
def test_global_max_pool2d_chunks_merge_to_the_first_maximum(chunk, dtype, rng):
    # The scan with picks runs in chunks of 2**24 rows; small chunks check the merge on ties
    # and NaN that straddle chunk boundaries.
    x = np.round(random_array(rng, (3, 4, 5, 9), dtype))
    x[1, 2, 1:3, :4] = np.nan
    x[2, 3, 4, 4:] = np.nan
    x[0, 0, 0, 0] = x[0, 3, 4, 0] = 10
    pixels = x.reshape(3, 20, 9)
    y, picks = np.empty((3, 9), dtype), np.empty((3, 9), np.intp)
    _norm.global_max_pool2d(pixels, y, picks, 2, chunk)
    np.testing.assert_array_equal(y, reference.global_max_pool2d(x))
    dy = random_array(rng, (3, 9), dtype)
    expected = reference.global_max_pool2d_backward(dy, x)
    np.testing.assert_array_equal(nops.global_max_pool2d_backward(dy, picks=picks,
                                                                  x_shape=x.shape), expected)
    dx = np.empty_like(pixels)
    _norm.global_max_pool2d_backward_from_x(dy, pixels, dx, 2, chunk)
    np.testing.assert_array_equal(dx.reshape(x.shape), expected)


@dtypes
def test_global_pools_take_empty_batches(dtype):
    x = np.zeros((0, 3, 5, 7), dtype)
    dy = np.zeros((0, 7), dtype)
    picks = np.zeros((0, 7), np.intp)
    for got, shape in [(nops.global_avg_pool2d(x), (0, 7)),
                       (nops.global_max_pool2d(x, picks=picks), (0, 7)),
                       (nops.global_avg_pool2d_backward(dy, x.shape), x.shape),
                       (nops.global_max_pool2d_backward(dy, x), x.shape),
                       (nops.global_max_pool2d_backward(dy, picks=picks, x_shape=x.shape),
                        x.shape)]:
        assert got.shape == shape and got.dtype == dtype


# --- elementwise ----------------------------------------------------------------------------

ELEMENTWISE_SIZES = {"one": (1,), "tile_minus_1": (2047,), "tile": (2048,),
                     "tile_plus_1": (2049,), "images_n3_7x9_c33": (3, 7, 9, 33), "empty": (0, 4)}
elementwise_sizes = pytest.mark.parametrize("shape", list(ELEMENTWISE_SIZES.values()),
                                            ids=list(ELEMENTWISE_SIZES))


def _with_specials(rng, shape, dtype):
    """Normal values with NaN, +-inf, -0.0 and +0.0 sprinkled in."""
    v = random_array(rng, shape, dtype)
    flat = v.reshape(-1)
    if flat.size >= 10:
        at = rng.choice(flat.size, 5, replace=False)
        flat[at] = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], dtype)
    return v


def _relu_reference(v):
    return np.where(v < 0, v.dtype.type(0), v)        # keeps NaN and -0.0


def _assert_bitwise(got, expected):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


@dtypes
@elementwise_sizes
@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("relu", [False, True], ids=["sum", "sum_relu"])
def test_add_sums_in_input_order_bitwise(count, relu, shape, dtype, rng):
    inputs = [_with_specials(rng, shape, dtype) for _ in range(count)]
    expected = inputs[0] + inputs[1]
    for a in inputs[2:]:
        expected = expected + a
    if relu:
        expected = _relu_reference(expected)
    with np.errstate(invalid="ignore"):
        _assert_bitwise(nops.add(inputs, relu=relu), expected)


@dtypes
@elementwise_sizes
def test_relu_keeps_nan_and_minus_zero_bitwise(shape, dtype, rng):
    x = _with_specials(rng, shape, dtype)
    _assert_bitwise(nops.relu(x), _relu_reference(x))


@dtypes
@elementwise_sizes
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.9])
def test_dropout_is_bitwise_the_numpy_mask_and_scale(rate, shape, dtype, rng):
    """x * (where u >= rate: 1/(1-rate) rounded to the dtype, else 0), the rate compared in
    the dtype as NumPy compares an array with a Python float; NaN stays NaN (NaN * 0)."""
    x = random_array(rng, shape, dtype)
    x.reshape(-1)[:1] = np.nan
    u = rng.random(shape, dtype=dtype)
    mask = (u >= rate).astype(dtype) * dtype(1 / (1 - rate))
    np.testing.assert_array_equal(nops.dropout(x, u, rate), x * mask)
    if 0 < rate and x.size > 100:
        kept = (nops.dropout(np.ones_like(x), u, rate) != 0).mean()
        assert abs(kept - (1 - rate)) < 0.1


def _splitmix64(key, i):
    """Output i + 1 of SplitMix64 from the state key, in Python integers (the oracle)."""
    m = (1 << 64) - 1
    z = (key + (i + 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


@dtypes
def test_uniform_draws_are_splitmix64_fractions_at_any_thread_count(dtype):
    """Draw i is SplitMix64's output i + 1 from a key the generator gives, its top 24 or 53
    bits as a fraction (so in [0, 1) exactly); the same at 1, 2 and 3 threads; the generator
    moves on, so the next fill differs; the values look uniform."""
    bits = 24 if dtype == np.float32 else 53
    n = 3 * 200_003
    fills = []
    before = fastcnn.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastcnn.set_num_threads(threads)
            gen = np.random.default_rng(11)
            fills.append(nops.uniform(np.empty((n // 3, 3), dtype), gen))
    finally:
        fastcnn.set_num_threads(before)
    assert fills[0].tobytes() == fills[1].tobytes() == fills[2].tobytes()
    key = int(np.random.default_rng(11).integers(0, 2**64, dtype=np.uint64))
    flat = fills[0].reshape(-1)
    for i in (0, 1, 2, 12_345, n - 1):
        assert flat[i] == (_splitmix64(key, i) >> (64 - bits)) / 2.0**bits
    assert 0 <= flat.min() and flat.max() < 1
    assert abs(flat.mean() - 0.5) < 0.003 and abs((flat < 0.1).mean() - 0.1) < 0.003
    gen = np.random.default_rng(11)
    first = nops.uniform(np.empty(1000, dtype), gen)
    assert not np.array_equal(first, nops.uniform(np.empty(1000, dtype), gen))
    with pytest.raises(TypeError, match="out"):
        nops.uniform(np.empty(4, np.int32), gen)
    with pytest.raises(ValueError, match="out"):
        nops.uniform(np.empty((4, 4), dtype)[:, :2], gen)


@dtypes
@elementwise_sizes
@pytest.mark.parametrize("scale, offset", [(1 / 255, 0.0), (2.0, -1.0), (-0.5, 3)])
def test_rescale_matches_reference(scale, offset, shape, dtype, rng):
    x = random_array(rng, shape, dtype)
    expected = widen(x) * float(dtype(scale)) + float(dtype(offset))
    assert_close(nops.rescale(x, scale, offset), expected, dtype, "rescale")


# --- bitwise the same at any thread count ---------------------------------------------------
# Shapes where team_size gives three threads work: at least 3 * MIN_VALUES_PER_THREAD values
# and at least three units (blocks of rows of BLOCK_VALUES = MIN_VALUES_PER_THREAD values for
# batch normalization, images for global pooling).

BIG_BN = {"images_n128_8x8_c17": (128, 8, 8, 17), "dense_n4000_c33": (4000, 33),
          "images_n16_16x16_c64": (16, 16, 16, 64)}
BIG_IMAGES = {"n6_33x33_c17": (6, 33, 33, 17), "n3_32x32_c64": (3, 32, 32, 64)}


def _bn_blocks(shape):
    c = shape[-1]
    rows = max(1, MIN_VALUES_PER_THREAD // c)
    return -(-int(np.prod(shape[:-1])) // rows)


def _all_results(name, a, dtype):
    """Every result of the kernels of ``name`` on the arrays ``a``."""
    if name == "batch_norm":
        y, mean, var, inv_std = nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON)
        coefficients = np.empty((2, a["x"].shape[-1]), dtype)
        return (y, mean, var, inv_std,
                *nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean, inv_std),
                nops.batch_norm_inference(a["x"], a["gamma"], a["beta"], a["moving_mean"],
                                          a["moving_var"], EPSILON),
                nops.batch_norm_inference_backward(a["dy"], a["gamma"], a["moving_var"],
                                                   EPSILON),
                *nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean, inv_std,
                                                relu_output=nops.relu(y)),
                nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON, relu=True,
                                      coefficients=coefficients)[0], coefficients,
                *nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean, inv_std,
                                                relu_coefficients=coefficients))
    picks = np.empty(a["pooled"].shape, np.intp)
    return (nops.global_avg_pool2d(a["x"]), nops.global_max_pool2d(a["x"], picks=picks), picks,
            nops.global_avg_pool2d_backward(a["pooled"], a["x"].shape),
            nops.global_max_pool2d_backward(a["pooled"], a["x"]),
            nops.global_max_pool2d_backward(a["pooled"], picks=picks, x_shape=a["x"].shape),
            nops.add([a["x"], a["dy"], a["x"]], relu=True), nops.relu(a["dy"]),
            nops.dropout(a["x"], np.abs(a["dy"]) % 1, 0.3),
            nops.rescale(a["x"], 1 / 255, -0.5))


THREAD_CASES = ([pytest.param("batch_norm", s, id=f"batch_norm-{k}") for k, s in BIG_BN.items()]
                + [pytest.param("pool_and_elementwise", s, id=f"pool_and_elementwise-{k}")
                   for k, s in BIG_IMAGES.items()])


@dtypes
@pytest.mark.parametrize("name, shape", THREAD_CASES)
def test_results_are_bitwise_the_same_at_1_2_3_threads(name, shape, dtype, rng):
    values = int(np.prod(shape))
    units = _bn_blocks(shape) if name == "batch_norm" else shape[0]
    assert values >= 3 * MIN_VALUES_PER_THREAD and units >= 3, "a shape too small for 3 threads"
    a = _bn_arrays(rng, shape, dtype)
    a["pooled"] = random_array(rng, (shape[0], shape[-1]), dtype)
    runs = []
    for threads in (1, 2, 3):
        fastcnn.set_num_threads(threads)
        runs.append(_all_results(name, a, dtype))
    for k, (r1, r2, r3) in enumerate(zip(*runs)):
        assert r1.tobytes() == r2.tobytes() == r3.tobytes(), f"result {k} depends on threads"


# --- layouts, inputs left alone, out= -------------------------------------------------------

def _call_table(a):
    """name -> (call taking the arrays of ``a``, the names of the arrays it reads)."""
    return {
        "batch_norm_train": (lambda a, **kw: nops.batch_norm_train(
            a["x"], a["gamma"], a["beta"], EPSILON, **kw), ("x", "gamma", "beta")),
        "batch_norm_inference": (lambda a, **kw: nops.batch_norm_inference(
            a["x"], a["gamma"], a["beta"], a["moving_mean"], a["moving_var"], EPSILON, **kw),
            ("x", "gamma", "beta", "moving_mean", "moving_var")),
        "batch_norm_train_backward": (lambda a, **kw: nops.batch_norm_train_backward(
            a["dy"], a["x"], a["gamma"], a["mean"], a["inv_std"], **kw),
            ("dy", "x", "gamma", "mean", "inv_std")),
        "batch_norm_inference_backward": (lambda a, **kw: nops.batch_norm_inference_backward(
            a["dy"], a["gamma"], a["moving_var"], EPSILON, **kw), ("dy", "gamma", "moving_var")),
        "global_avg_pool2d": (lambda a, **kw: nops.global_avg_pool2d(a["x"], **kw), ("x",)),
        "global_avg_pool2d_backward": (lambda a, **kw: nops.global_avg_pool2d_backward(
            a["pooled"], a["x"].shape, **kw), ("pooled",)),
        "global_max_pool2d": (lambda a, **kw: nops.global_max_pool2d(a["x"], **kw), ("x",)),
        "global_max_pool2d_backward": (lambda a, **kw: nops.global_max_pool2d_backward(
            a["pooled"], a["x"], **kw), ("pooled", "x")),
        "global_max_pool2d_backward_picks": (lambda a, **kw: nops.global_max_pool2d_backward(
            a["pooled"], picks=a["picks"], x_shape=a["x"].shape, **kw), ("pooled", "picks")),
        "add": (lambda a, **kw: nops.add([a["x"], a["dy"], a["x"]], **kw), ("x", "dy")),
        "relu": (lambda a, **kw: nops.relu(a["dy"], **kw), ("dy",)),
        "rescale": (lambda a, **kw: nops.rescale(a["x"], 0.25, 1.0, **kw), ("x",)),
    }


CALLS = list(_call_table(None))


def _arrays(rng, dtype, shape=(3, 5, 3, 9)):
    a = _bn_arrays(rng, shape, dtype)
    a["mean"], var = (v.astype(dtype) for v in reference.batch_norm_moments(widen(a["x"])))
    a["inv_std"] = (1 / np.sqrt(var + EPSILON)).astype(dtype)
    a["pooled"] = random_array(rng, (shape[0], shape[3]), dtype)
    a["picks"] = rng.integers(0, shape[1] * shape[2], (shape[0], shape[3])).astype(np.intp)
    return a


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


@dtypes
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", CALLS)
def test_any_input_layout_gives_the_same_result_and_is_left_alone(name, layout, dtype, rng):
    a = _arrays(rng, dtype)
    call, reads = _call_table(a)[name]
    expected = _as_tuple(call(a))
    laid = dict(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # NaN margins around integer picks
        for k in reads:
            laid[k] = with_layout(a[k], layout)
    before = {k: laid[k].copy() for k in reads}
    for got, e in zip(_as_tuple(call(laid)), expected):
        assert got.tobytes() == e.tobytes()
    for k in reads:
        np.testing.assert_array_equal(laid[k], before[k])


def _results_of(name, a):
    return _as_tuple(_call_table(a)[name][0](a))


@dtypes
@pytest.mark.parametrize("name", CALLS)
def test_out_receives_every_element_of_the_result_and_is_returned(name, dtype, rng):
    a = _arrays(rng, dtype)
    expected = _results_of(name, a)
    out = tuple(np.full_like(e, np.nan) for e in expected)
    got = _as_tuple(_call_table(a)[name][0](a, out=out if len(out) > 1 else out[0]))
    for g, o, e in zip(got, out, expected):
        assert g is o and g.tobytes() == e.tobytes()


@dtypes
@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("case", ["other_dtype", "wrong_shape", "fortran_order", "read_only",
                                  "overlaps_input"])
def test_bad_out_raises_naming_out(name, case, dtype, rng):
    a = _arrays(rng, dtype)
    call, reads = _call_table(a)[name]
    expected = _results_of(name, a)
    e = expected[0]
    other = np.float64 if dtype == np.float32 else np.float32
    bad = {"other_dtype": (np.zeros(e.shape, other), TypeError),
           "wrong_shape": (np.zeros(e.shape[:-1] + (e.shape[-1] + 1,), dtype), ValueError),
           "fortran_order": (np.asfortranarray(np.zeros(e.shape + (2,), dtype))[..., 0],
                             ValueError),
           "read_only": (np.zeros(e.shape, dtype), ValueError),
           "overlaps_input": (None, ValueError)}
    out, exc = bad[case]
    if case == "read_only":
        out.setflags(write=False)
    if case == "overlaps_input":
        source = a[reads[0]]
        assert source.dtype == dtype
        if source.size >= e.size:           # out inside the input
            out = source.reshape(-1)[:e.size].reshape(e.shape)
        else:                               # the input inside out (a backward's small dy)
            out = np.zeros(e.shape, dtype)
            inside = out.reshape(-1)[:source.size].reshape(source.shape)
            inside[...] = source
            a[reads[0]] = inside
    before = {k: a[k].copy() for k in reads}
    outs = (out,) + (None,) * (len(expected) - 1)
    with pytest.raises(exc, match="out"):
        call(a, out=outs if len(expected) > 1 else out)
    for k in reads:
        np.testing.assert_array_equal(a[k], before[k])


@dtypes
def test_global_max_pool2d_bad_picks_raise_naming_picks(dtype, rng):
    x = random_array(rng, (2, 3, 4, 5), dtype)
    for picks, exc in [(np.zeros((2, 5), np.int32), TypeError),
                       (np.zeros((2, 6), np.intp), ValueError),
                       (np.zeros((5, 2), np.intp).T, ValueError)]:
        with pytest.raises(exc, match="picks"):
            nops.global_max_pool2d(x, picks=picks)


@dtypes
def test_batch_norm_nan_or_inf_in_a_channel_makes_that_channel_nan_only(dtype, rng):
    a = _bn_arrays(rng, (3, 4, 5, 9), dtype)
    a["x"][1, 2, 3, 2] = np.nan
    a["x"][0, 0, 1, 5] = np.inf
    y, mean, var, inv_std = nops.batch_norm_train(a["x"], a["gamma"], a["beta"], EPSILON)
    dx, dgamma, dbeta = nops.batch_norm_train_backward(a["dy"], a["x"], a["gamma"], mean,
                                                       inv_std)
    bad = np.isin(np.arange(9), [2, 5])
    for r in (y, dx, var, inv_std, dgamma):
        assert np.isnan(r[..., bad]).all() and np.isfinite(r[..., ~bad]).all()
    assert np.isnan(mean[2]) and mean[5] == np.inf and np.isfinite(dbeta).all()


# --- the error contract ---------------------------------------------------------------------
# One row per case: the call on a valid problem (images (2, 4, 3, 5), float32) with one
# argument spoiled, the exception and what its message must name.

_X = np.arange(120, dtype=np.float32).reshape(2, 4, 3, 5) / 7
_C = np.linspace(0.5, 1.5, 5, dtype=np.float32)
_P = np.zeros((2, 5), np.float32)
_I = np.zeros((2, 5), np.intp)
E = EPSILON

ERROR_CASES = {
    # batch_norm_train
    "train_x_int": (lambda: nops.batch_norm_train(_X.astype(int), None, None, E), TypeError,
                    "x must have dtype"),
    "train_x_list": (lambda: nops.batch_norm_train(_X.tolist(), None, None, E), TypeError,
                     "x must be a numpy.ndarray"),
    "train_x_rank1": (lambda: nops.batch_norm_train(_C, None, None, E), ValueError,
                      r"x must have rank >= 2.*\(5,\)"),
    "train_x_no_channels": (lambda: nops.batch_norm_train(_X[..., :0], None, None, E),
                            ValueError, r"x must have at least one channel.*\(2, 4, 3, 0\)"),
    "train_gamma_float64": (lambda: nops.batch_norm_train(_X, _C.astype(np.float64), None, E),
                            TypeError, "gamma has dtype float64 but x has dtype float32"),
    "train_gamma_shape": (lambda: nops.batch_norm_train(_X, _C[:4], None, E), ValueError,
                          r"gamma must have shape \(5,\).*\(2, 4, 3, 5\)\), got \(4,\)"),
    "train_beta_shape": (lambda: nops.batch_norm_train(_X, None, _C[None], E), ValueError,
                         r"beta must have shape \(5,\).*got \(1, 5\)"),
    "train_epsilon_negative": (lambda: nops.batch_norm_train(_X, None, None, -1e-3),
                               ValueError, "epsilon"),
    "train_epsilon_nan": (lambda: nops.batch_norm_train(_X, None, None, float("nan")),
                          ValueError, "epsilon"),
    "train_epsilon_string": (lambda: nops.batch_norm_train(_X, None, None, "1e-3"), TypeError,
                             "epsilon"),
    "train_out_not_tuple": (lambda: nops.batch_norm_train(_X, None, None, E, out=_X.copy()),
                            TypeError, "out must be a tuple of 4"),
    # batch_norm_inference
    "inference_moving_mean_shape": (lambda: nops.batch_norm_inference(
        _X, None, None, _C[:3], _C, E), ValueError, r"moving_mean must have shape \(5,\)"),
    "inference_moving_var_missing": (lambda: nops.batch_norm_inference(
        _X, None, None, _C, None, E), TypeError, "moving_var must be a numpy.ndarray"),
    "inference_moving_var_float64": (lambda: nops.batch_norm_inference(
        _X, None, None, _C, _C.astype(np.float64), E), TypeError, "moving_var has dtype"),
    # batch_norm_train_backward
    "train_backward_dy_shape": (lambda: nops.batch_norm_train_backward(
        _X[:1], _X, None, _C, _C), ValueError, r"dy must have shape \(2, 4, 3, 5\)"),
    "train_backward_dy_float64": (lambda: nops.batch_norm_train_backward(
        _X.astype(np.float64), _X, None, _C, _C), TypeError, "dy has dtype float64"),
    "train_backward_inv_std_shape": (lambda: nops.batch_norm_train_backward(
        _X, _X, None, _C, _C[:2]), ValueError, r"inv_std must have shape \(5,\)"),
    "train_coefficients_shape": (lambda: nops.batch_norm_train(
        _X, None, None, E, coefficients=np.zeros((5,), np.float32)), ValueError,
        r"coefficients has shape \(5,\), the result has shape \(2, 5\)"),
    "train_coefficients_float64": (lambda: nops.batch_norm_train(
        _X, None, None, E, coefficients=np.zeros((2, 5))), TypeError, "coefficients has dtype"),
    "train_backward_relu_output_and_coefficients": (lambda: nops.batch_norm_train_backward(
        _X, _X, None, _C, _C, relu_output=_X, relu_coefficients=np.zeros((2, 5), np.float32)),
        ValueError, "relu_output or relu_coefficients, not both"),
    "train_backward_relu_coefficients_shape": (lambda: nops.batch_norm_train_backward(
        _X, _X, None, _C, _C, relu_coefficients=_C), ValueError,
        r"relu_coefficients must have shape \(2, 5\).*got \(5,\)"),
    "train_backward_relu_coefficients_float64": (lambda: nops.batch_norm_train_backward(
        _X, _X, None, _C, _C, relu_coefficients=np.zeros((2, 5))), TypeError,
        "relu_coefficients has dtype float64 but x has"),
    "train_backward_mean_missing": (lambda: nops.batch_norm_train_backward(
        _X, _X, None, None, _C), TypeError, "mean must be a numpy.ndarray"),
    # batch_norm_inference_backward
    "inference_backward_gamma_float64": (lambda: nops.batch_norm_inference_backward(
        _X, _C.astype(np.float64), _C, E), TypeError, "gamma has dtype float64 but dy has"),
    "inference_backward_dy_rank1": (lambda: nops.batch_norm_inference_backward(
        _C, None, _C, E), ValueError, "dy must have rank >= 2"),
    # global pooling
    "avg_x_rank3": (lambda: nops.global_avg_pool2d(_X[0]), ValueError,
                    r"x must be 4-D.*\(4, 3, 5\)"),
    "max_x_empty_image": (lambda: nops.global_max_pool2d(_X[:, :0]), ValueError,
                          r"x must have positive height.*\(2, 0, 3, 5\)"),
    "avg_backward_dy_shape": (lambda: nops.global_avg_pool2d_backward(_P[:, :4], _X.shape),
                              ValueError, r"dy must have shape \(2, 5\).*\(2, 4, 3, 5\)"),
    "avg_backward_x_shape_rank3": (lambda: nops.global_avg_pool2d_backward(_P, (2, 4, 5)),
                                   ValueError, "x_shape must be"),
    "avg_backward_x_shape_floats": (lambda: nops.global_avg_pool2d_backward(
        _P, (2.0, 4, 3, 5)), TypeError, "x_shape must be a tuple of 4 ints"),
    "max_backward_dy_float64": (lambda: nops.global_max_pool2d_backward(
        _P.astype(np.float64), _X), TypeError, "dy has dtype float64 but x has"),
    "max_backward_dy_shape": (lambda: nops.global_max_pool2d_backward(_P.T, _X), ValueError,
                              r"dy must have shape \(2, 5\).*got \(5, 2\)"),
    "max_backward_x_and_picks": (lambda: nops.global_max_pool2d_backward(
        _P, _X, _I, _X.shape), ValueError, "either x, or picks"),
    "max_backward_neither": (lambda: nops.global_max_pool2d_backward(_P), ValueError,
                             "either x, or picks"),
    "max_backward_picks_without_x_shape": (lambda: nops.global_max_pool2d_backward(
        _P, picks=_I), ValueError, "picks needs x_shape"),
    "max_backward_picks_out_of_range": (lambda: nops.global_max_pool2d_backward(
        _P, picks=_I + 12, x_shape=_X.shape), ValueError, "picks must hold pixel numbers"),
    "max_backward_picks_negative": (lambda: nops.global_max_pool2d_backward(
        _P, picks=_I - 1, x_shape=_X.shape), ValueError, "picks must hold pixel numbers"),
    "max_backward_picks_float": (lambda: nops.global_max_pool2d_backward(
        _P, picks=_P, x_shape=_X.shape), TypeError, "picks must be a numpy.ndarray of dtype"),
    "max_backward_picks_shape": (lambda: nops.global_max_pool2d_backward(
        _P, picks=_I[:1], x_shape=_X.shape), ValueError, r"picks must have shape \(2, 5\)"),
    # elementwise
    "add_one_input": (lambda: nops.add([_X]), ValueError, "at least 2"),
    "add_not_a_list": (lambda: nops.add(_X), TypeError, "inputs must be a list or tuple"),
    "add_shape_mismatch": (lambda: nops.add([_X, _X[:1]]), ValueError,
                           r"inputs\[1\] has shape \(1, 4, 3, 5\) but inputs\[0\]"),
    "add_dtype_mismatch": (lambda: nops.add([_X, _X, _X.astype(np.float64)]), TypeError,
                           r"inputs\[2\] has dtype float64 but inputs\[0\]"),
    "add_int_input": (lambda: nops.add([_X.astype(int), _X]), TypeError, r"inputs\[0\]"),
    "relu_int": (lambda: nops.relu(_X.astype(np.int32)), TypeError, "x must have dtype"),
    "rescale_scale_string": (lambda: nops.rescale(_X, "2", 0.0), TypeError, "scale"),
    "rescale_offset_array": (lambda: nops.rescale(_X, 2.0, _C), TypeError, "offset"),
    "dropout_u_shape": (lambda: nops.dropout(_X, _X[:1], 0.5), ValueError,
                        r"u must have x's shape \(2, 4, 3, 5\)"),
    "dropout_u_float64": (lambda: nops.dropout(_X, _X.astype(np.float64), 0.5), TypeError,
                          "u has dtype float64 but x has"),
    "dropout_rate_one": (lambda: nops.dropout(_X, _X, 1.0), ValueError,
                         r"rate must be in \[0, 1\)"),
    "dropout_rate_string": (lambda: nops.dropout(_X, _X, "0.5"), TypeError, "rate"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_argument_raises_naming_it(case):
    call, exc, match = ERROR_CASES[case]
    before = _X.copy()
    with pytest.raises(exc, match=match):
        call()
    np.testing.assert_array_equal(_X, before)
