"""The Winograd F(2x2, 3x3) forward pass of 3x3 convolutions at stride 1 over 32 or more
channels and filters (fastcnn/_conv.pxi: _conv2d_forward_wino), dx as that forward pass
over dy with the kernel turned and transposed, and dW from transformed tiles of x and dy
(_conv2d_dw_wino): against the reference and the direct convolution
(``_kernels.set_winograd(False)``), the same bits at any thread count, and the fallback to
the direct convolution wherever an output is not finite (an inf or NaN input, weight or
bias; per image forward, the whole dW), which the transforms would otherwise turn into NaN
where the definition gives inf, or spread over a whole image."""
import numpy as np
import pytest

import fastcnn
from fastcnn import _fused_ops as fused_ops, _kernels, ops, reference
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, random_array, widen

# (x shape, F, padding): odd and even outputs (partial tiles), blocks of tiles past one and a
# last partial block, filters past a tile and not a multiple of it, 600 channels (the
# reduction in two runs), the smallest image taken (25 tiles)
PROBLEMS = {
    "c32_f32_same_12x12": ((3, 12, 12, 32), 32, "same"),
    "c40_f33_valid_11x13": ((2, 11, 13, 40), 33, "valid"),
    "c64_f64_same_15x15": ((2, 15, 15, 64), 64, "same"),
    "c32_f48_valid_30x30": ((2, 30, 30, 32), 48, "valid"),
    "c600_f32_same_9x9": ((1, 9, 9, 600), 32, "same"),
    "c32_f32_same_9x10_25_tiles": ((4, 9, 10, 32), 32, "same"),
    # 16 whole tiles (taken), in groups of 12 images: 13 images, the last group of one
    "c64_f64_same_8x8_groups": ((13, 8, 8, 64), 64, "same"),
    "c32_f40_valid_10x10_groups": ((7, 10, 10, 32), 40, "valid"),
}


@pytest.fixture
def direct():
    """A function that runs its arguments with the direct convolution."""
    def run(f, *args, **kwargs):
        before = _kernels.set_winograd(False)
        try:
            return f(*args, **kwargs)
        finally:
            _kernels.set_winograd(before)
    return run


def _problem(rng, name, dtype):
    xs, f, padding = PROBLEMS[name]
    x = random_array(rng, xs, dtype)
    w, b = random_array(rng, (3, 3, xs[3], f), dtype), random_array(rng, (f,), dtype)
    return x, w, b, padding


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_winograd_forward_matches_the_reference_and_the_direct_convolution(name, dtype, rng,
                                                                           direct):
    x, w, b, padding = _problem(rng, name, dtype)
    for bias in (b, None):
        for activation in (None, "relu"):
            y = ops.conv2d(x, w, bias, 1, padding, activation=activation)
            want = reference.conv2d(*widen(x, w), None if bias is None else widen(bias), 1,
                                    padding)
            if activation:
                want = np.maximum(want, 0)
            assert_close(y, want, dtype, "y")
            plain = direct(ops.conv2d, x, w, bias, 1, padding, activation=activation)
            assert_close(y, widen(plain), dtype, "y against the direct convolution")
    # not the direct convolution's bits: the Winograd pass did run
    assert y.tobytes() != plain.tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
def test_winograd_forward_is_the_same_at_any_thread_count(dtype, rng):
    x, w, b, padding = _problem(rng, "c32_f48_valid_30x30", dtype)
    x = np.concatenate([x] * 3)
    before = fastcnn.get_num_threads()
    outs = []
    try:
        for threads in (1, 2, 3):
            fastcnn.set_num_threads(threads)
            outs.append(ops.conv2d(x, w, b, 1, padding, activation="relu").tobytes())
    finally:
        fastcnn.set_num_threads(before)
    assert outs[0] == outs[1] == outs[2]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_a_group_with_a_value_that_is_not_finite_is_convolved_directly(special, dtype, rng,
                                                                        direct):
    """Images of 36 tiles, in groups of _kernels.winograd_group (6) per call: the group of
    the image with the inf or NaN recomputed directly, the other group by Winograd."""
    x, w, b, padding = _problem(rng, "c32_f32_same_12x12", dtype)
    group = _kernels.winograd_group(12, 12)
    assert 1 < group < 12
    x = np.concatenate([x] * (2 * group // 3 + 1))[:2 * group]
    x[1, 5, 7, 3] = special
    y = ops.conv2d(x, w, b, 1, padding)
    plain = direct(ops.conv2d, x, w, b, 1, padding)
    assert y[:group].tobytes() == plain[:group].tobytes()    # inf where the definition has it
    assert not np.isfinite(y[1]).all() and np.isfinite(y[1]).any()
    assert np.isfinite(y[group:]).all() and y[group:].tobytes() != plain[group:].tobytes()
    # fused: the relu after the check, the residual added after the fallback too
    r = random_array(rng, y.shape, dtype)
    got = fused_ops.conv2d_add(x, w, b, 1, padding, r, relu=True)
    want = direct(fused_ops.conv2d_add, x, w, b, 1, padding, r, relu=True)
    assert got[:group].tobytes() == want[:group].tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
def test_weights_or_a_bias_that_are_not_finite_take_the_direct_convolution(dtype, rng, direct):
    x, w, b, padding = _problem(rng, "c40_f33_valid_11x13", dtype)
    w_nan, b_inf = w.copy(), b.copy()
    w_nan[0, 2, 5, 7] = np.nan
    b_inf[3] = np.inf
    for weights, bias in ((w_nan, b), (w, b_inf)):
        y = ops.conv2d(x, weights, bias, 1, padding)
        assert y.tobytes() == direct(ops.conv2d, x, weights, bias, 1, padding).tobytes()


def test_winograd_is_taken_only_where_it_applies(rng, direct):
    """Strided, 5x5, few channels or filters, an image of fewer than 25 tiles not all whole
    (5x5 outputs, 7x7 for dx; dW: less than 80% of the tiles' outputs used): the direct
    convolution's bits (forward, dx and dW)."""
    for xs, ws, strides in [((2, 12, 12, 32), (3, 3, 32, 32), 2),
                            ((2, 12, 12, 32), (5, 5, 32, 32), 1),
                            ((2, 12, 12, 8), (3, 3, 8, 32), 1),
                            ((2, 12, 12, 32), (3, 3, 32, 8), 1),
                            ((2, 7, 7, 64), (3, 3, 64, 64), 1)]:
        x, w = random_array(rng, xs, np.float32), random_array(rng, ws, np.float32)
        y = ops.conv2d(x, w, None, strides, "valid")
        assert y.tobytes() == direct(ops.conv2d, x, w, None, strides, "valid").tobytes()
        dy = random_array(rng, y.shape, np.float32)
        got = ops.conv2d_backward(dy, x, w, strides, "valid")
        plain = direct(ops.conv2d_backward, dy, x, w, strides, "valid")
        assert [a.tobytes() for a in got] == [a.tobytes() for a in plain]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_winograd_dx_matches_the_reference_and_the_direct_convolution(name, dtype, rng,
                                                                      direct):
    x, w, _, padding = _problem(rng, name, dtype)
    dy = random_array(rng, ops.conv2d(x, w, None, 1, padding).shape, dtype)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, padding)
    want = reference.conv2d_backward(*widen(dy, x, w), 1, padding)
    for got, ref, what in zip((dx, dw, db), want, ("dx", "dw", "db")):
        assert_close(got, ref, dtype, what)
    plain = direct(ops.conv2d_backward, dy, x, w, 1, padding)
    assert_close(dx, widen(plain[0]), dtype, "dx against the direct convolution")
    assert_close(dw, widen(plain[1]), dtype, "dw against the direct convolution")
    assert_close(db, widen(plain[2]), dtype, "db against the direct convolution")
    # the Winograd passes did run
    assert dx.tobytes() != plain[0].tobytes() and dw.tobytes() != plain[1].tobytes()
    before = fastcnn.get_num_threads()
    try:
        for threads in (1, 3):
            fastcnn.set_num_threads(threads)
            again = ops.conv2d_backward(dy, x, w, 1, padding)
            assert [a.tobytes() for a in again] == [dx.tobytes(), dw.tobytes(), db.tobytes()]
    finally:
        fastcnn.set_num_threads(before)


# (x shape, F, padding) for dW, whose tiles run across images: images of fewer than 25 tiles
# (one tile, an odd output side), more images than parts (8) and not a multiple of them,
# blocks of tiles that end inside an image, a 128-channel reduction, F past a panel of the
# tile; each with at least 80% of its tiles' outputs used (WINO_DW_MIN_FILL) and 16 or more
# channels and filters (WINO_DW_MIN_C)
DW_PROBLEMS = {
    "n11_4x4_c32_f32_same": ((11, 4, 4, 32), 32, "same"),
    "n9_10x9_c64_f40_same": ((9, 10, 9, 64), 40, "same"),
    "n3_6x7_c33_f64_valid": ((3, 6, 7, 33), 64, "valid"),
    "n2_4x4_c32_f32_valid": ((2, 4, 4, 32), 32, "valid"),
    "n17_9x9_c128_f32_same": ((17, 9, 9, 128), 32, "same"),
    # 16 channels and filters (AVX-512's narrow tile), 16 filters after 40 channels
    "n5_12x12_c16_f16_same": ((5, 12, 12, 16), 16, "same"),
    "n4_9x8_c40_f16_valid": ((4, 9, 8, 40), 16, "valid"),
}


def _masked_reference(x, dy, relu_output, padding):
    """dW, db of the reference with dy counted as 0 where relu_output is not > 0."""
    kept = np.where(relu_output > 0, dy, 0)
    _, dw, db = reference.conv2d_backward(*widen(kept, x), np.zeros(
        (3, 3, x.shape[3], dy.shape[3])), 1, padding)
    return dw, db


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(DW_PROBLEMS))
def test_winograd_dw_matches_the_reference_at_any_thread_count(name, dtype, rng, direct):
    """With and without a fused ReLU's output as the mask of dy (dy where it is > 0, else
    0: the weight-gradient pass of a Conv2D with activation="relu")."""
    xs, f, padding = DW_PROBLEMS[name]
    x, w = random_array(rng, xs, dtype), random_array(rng, (3, 3, xs[3], f), dtype)
    dy = random_array(rng, ops.conv2d(x, w, None, 1, padding).shape, dtype)
    relu_output = random_array(rng, dy.shape, dtype)
    relu_output[0, 0, 0, :3] = (0.0, -0.0, np.nan)     # not > 0: all three mask dy out
    before = fastcnn.get_num_threads()
    try:
        for mask in (None, relu_output):
            want = (reference.conv2d_backward(*widen(dy, x, w), 1, padding)[1:] if mask is None
                    else _masked_reference(x, dy, mask, padding))
            runs = []
            for threads in (1, 2, 3):
                fastcnn.set_num_threads(threads)
                dw, db = ops.conv2d_backward_weight(dy, x, w, 1, padding, relu_output=mask)
                assert_close(dw, want[0], dtype, "dw")
                assert_close(db, want[1], dtype, "db")
                runs.append(dw.tobytes() + db.tobytes())
            assert runs[0] == runs[1] == runs[2]
            plain = direct(ops.conv2d_backward_weight, dy, x, w, 1, padding, relu_output=mask)
            assert dw.tobytes() != plain[0].tobytes()            # the Winograd pass did run
    finally:
        fastcnn.set_num_threads(before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_dw_of_an_input_or_gradient_that_is_not_finite_is_the_direct_one(special, dtype, rng,
                                                                         direct):
    """A value of x or dy that is not finite: dW and db computed directly (the same bits:
    inf where the definition has it, not the NaN of a transform's inf - inf)."""
    x, w, _, padding = _problem(rng, "c32_f32_same_12x12", dtype)
    dy = random_array(rng, ops.conv2d(x, w, None, 1, padding).shape, dtype)
    for a, at in ((x, (1, 5, 7, 3)), (dy, (2, 0, 11, 30))):
        keep = a[at]
        a[at] = special
        got = ops.conv2d_backward_weight(dy, x, w, 1, padding)
        plain = direct(ops.conv2d_backward_weight, dy, x, w, 1, padding)
        assert got[0].tobytes() == plain[0].tobytes() and got[1].tobytes() == plain[1].tobytes()
        assert not np.isfinite(got[0]).all() and np.isfinite(got[0]).any()
        a[at] = keep


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_dx_of_a_gradient_or_weight_that_is_not_finite_is_the_direct_one(special, rng,
                                                                         direct):
    """An image of dy with an inf or NaN: that image's dx recomputed directly (the same
    bits); a weight that is not finite: dx by the direct path (whose zeros for dy outside
    the output must not meet it), all of it."""
    x, w, _, padding = _problem(rng, "c32_f48_valid_30x30", np.float32)
    dy = random_array(rng, ops.conv2d(x, w, None, 1, padding).shape, np.float32)
    dy[1, 4, 9, 7] = special
    dx = ops.conv2d_backward(dy, x, w, 1, padding)[0]
    plain = direct(ops.conv2d_backward, dy, x, w, 1, padding)[0]
    assert dx[1].tobytes() == plain[1].tobytes() and not np.isfinite(dx[1]).all()
    assert dx[0].tobytes() != plain[0].tobytes()
    w[2, 0, 5, 3] = special
    dy[1, 4, 9, 7] = 1.0
    dx = ops.conv2d_backward(dy, x, w, 1, padding)[0]
    assert dx.tobytes() == direct(ops.conv2d_backward, dy, x, w, 1, padding)[0].tobytes()
    assert np.isfinite(dx).any() and not np.isfinite(dx).all()
