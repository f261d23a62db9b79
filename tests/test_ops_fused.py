"""The extensions of fastcnn.ops beyond API.md's six functions, used by the layers:
``conv2d(..., activation="relu")``, ``conv2d_backward_weight(..., relu_output=)`` and the
``out=`` destinations. Each against the reference (or the plain call) beside it."""
import numpy as np
import pytest

import fastcnn
from fastcnn import _fused_ops as fused_ops, ops, reference
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, random_array, widen

# (x shape, w shape, strides, padding): few channels (strided kernel, direct dx), many
# channels (pointer tables), a strided "same" case.
PROBLEMS = {
    "c1_f32_k3_valid": ((3, 12, 14, 1), (3, 3, 1, 32), 1, "valid"),
    "c3_f16_k5_same": ((2, 11, 20, 3), (5, 5, 3, 16), 1, "same"),
    "c20_f24_k3_stride2_same": ((2, 9, 13, 20), (3, 3, 20, 24), 2, "same"),
    "c24_f40_k1_pointwise": ((2, 5, 7, 24), (1, 1, 24, 40), 1, "valid"),
}


def _problem(rng, name, dtype):
    xs, ws, strides, padding = PROBLEMS[name]
    x, w = random_array(rng, xs, dtype), random_array(rng, ws, dtype)
    b = random_array(rng, ws[3:], dtype)
    return x, w, b, dict(strides=strides, padding=padding)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_conv2d_relu_is_relu_of_conv2d(name, dtype, rng):
    x, w, b, kw = _problem(rng, name, dtype)
    y = ops.conv2d(x, w, b, activation="relu", **kw)
    assert_close(y, np.maximum(reference.conv2d(*widen(x, w, b), **kw), 0), dtype, "y")
    assert np.all(y >= 0)
    linear = ops.conv2d(x, w, b, activation="linear", **kw)
    assert np.array_equal(linear, ops.conv2d(x, w, b, **kw))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_conv2d_backward_weight_with_relu_output_masks_dy(name, dtype, rng):
    x, w, b, kw = _problem(rng, name, dtype)
    y = ops.conv2d(x, w, b, activation="relu", **kw)
    dy = random_array(rng, y.shape, dtype)
    dw, db = ops.conv2d_backward_weight(dy, x, w, relu_output=y, **kw)
    masked = np.where(y > 0, dy, 0)
    _, dw_ref, db_ref = reference.conv2d_backward(*widen(masked, x, w), **kw)
    assert_close(dw, dw_ref, dtype, "dw")
    assert_close(db, db_ref, dtype, "db")
    # the same as masking first
    dw2, db2 = ops.conv2d_backward_weight(masked, x, w, **kw)
    assert np.array_equal(dw, dw2) and np.array_equal(db, db2)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_out_arrays_receive_the_results_bitwise(name, dtype, rng):
    x, w, b, kw = _problem(rng, name, dtype)
    y = ops.conv2d(x, w, b, **kw)
    out = np.full_like(y, np.nan)
    assert ops.conv2d(x, w, b, out=out, **kw) is out
    assert np.array_equal(out, y)

    dy = random_array(rng, y.shape, dtype)
    expected = ops.conv2d_backward(dy, x, w, **kw)
    outs = tuple(np.full_like(a, np.nan) for a in expected)
    got = ops.conv2d_backward(dy, x, w, out=outs, **kw)
    for name_, o, g, e in zip(("dx", "dw", "db"), outs, got, expected):
        assert g is o, name_
        assert np.array_equal(o, e), name_
    # a partial tuple: None entries are allocated
    got = ops.conv2d_backward(dy, x, w, out=(None, outs[1], None), **kw)
    assert got[1] is outs[1] and np.array_equal(got[0], expected[0])

    dw_out, db_out = np.empty_like(w), np.empty_like(b)
    dw, db = ops.conv2d_backward_weight(dy, x, w, out=(dw_out, db_out), **kw)
    assert dw is dw_out and db is db_out
    assert np.array_equal(dw, expected[1]) and np.array_equal(db, expected[2])


def test_bad_out_and_activation_are_clear_errors(rng):
    x, w, b, kw = _problem(rng, "c1_f32_k3_valid", np.float32)
    y = ops.conv2d(x, w, b, **kw)
    with pytest.raises(ValueError, match="out has shape"):
        ops.conv2d(x, w, b, out=np.empty((1,) + y.shape[1:], np.float32), **kw)
    with pytest.raises(TypeError, match="out has dtype float64"):
        ops.conv2d(x, w, b, out=np.empty(y.shape, np.float64), **kw)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.conv2d(x, w, b, out=np.empty(y.shape[::-1], np.float32).T, **kw)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        ops.conv2d(x, w, b, out=[0.0], **kw)
    with pytest.raises(ValueError, match="activation"):
        ops.conv2d(x, w, b, activation="tanh", **kw)
    dy = np.ones(y.shape, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        ops.conv2d_backward(dy, x, w, out=(None, None, dy[0, 0, 0]), **kw)
    with pytest.raises(TypeError, match="tuple of 3"):
        ops.conv2d_backward(dy, x, w, out=np.empty_like(x), **kw)
    with pytest.raises(ValueError, match="relu_output must have shape"):
        ops.conv2d_backward_weight(dy, x, w, relu_output=y[:1], **kw)
    with pytest.raises(TypeError, match="relu_output has dtype"):
        ops.conv2d_backward_weight(dy, x, w, relu_output=y.astype(np.float64), **kw)
    # nothing was written into the inputs
    assert np.all(dy == 1)


def test_out_that_overlaps_an_input_is_rejected(rng):
    x, w, b, kw = _problem(rng, "c20_f24_k3_stride2_same", np.float32)
    y = ops.conv2d(x, w, b, **kw)
    big = np.zeros(x.size + y.size, np.float32)
    x_view = big[:x.size].reshape(x.shape)
    x_view[...] = x
    overlapping = big[x.size // 2: x.size // 2 + y.size].reshape(y.shape)
    with pytest.raises(ValueError, match="overlaps"):
        ops.conv2d(x_view, w, b, out=overlapping, **kw)


# --- convolution with ReLU and max pooling in one pass (a training step's Conv2D + MaxPool2D) ---

# (x shape, w shape, conv strides, conv padding, pool size, pool strides, pool padding)
CONV_POOL_PROBLEMS = {
    "seed_c1_f32_k3_pool2": ((16, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 2, None, "valid"),
    "c3_f7_k3_s2_same_pool3_s2_same": ((16, 27, 25, 3), (3, 3, 3, 7), 2, "same", 3, 2, "same"),
    "c2_f17_k5_same_pool2x3_s1x2": ((12, 14, 16, 2), (5, 5, 2, 17), 1, "same", (2, 3), (1, 2),
                                    "valid"),
    # rows narrower than a tile: the images are all padded first
    "c1_f9_k3_rows_of_5": ((16, 9, 7, 1), (3, 3, 1, 9), 1, "valid", 2, None, "valid"),
    # fewer images than threads
    "n2_c1_f5_k3": ((2, 10, 12, 1), (3, 3, 1, 5), 1, "valid", 2, None, "valid"),
    # many channels: the GEMM image by image (K-CNN's second layer, smaller; an image's
    # rows past one block of FCNN_MC = 144; filters past a tile; strided, padded, overlapping)
    "gemm_c17_f8_k3": ((8, 10, 10, 17), (3, 3, 17, 8), 1, "valid", 2, None, "valid"),
    "gemm_c32_f32_k3_225_rows": ((6, 17, 17, 32), (3, 3, 32, 32), 1, "valid", 2, None,
                                 "valid"),
    "gemm_c24_f33_k3_s2_same_pool3_s2_same": ((5, 21, 19, 24), (3, 3, 24, 33), 2, "same", 3, 2,
                                              "same"),
    "n1_gemm_c20_f16_k2x3": ((1, 9, 11, 20), (2, 3, 20, 16), 1, "same", 2, None, "valid"),
}


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(CONV_POOL_PROBLEMS))
def test_fused_conv_relu_max_pool_is_bitwise_the_two_calls(name, dtype, threads, rng):
    xs, ws, strides, padding, pool, pool_strides, pool_padding = CONV_POOL_PROBLEMS[name]
    x = np.round(random_array(rng, xs, dtype), 1).astype(dtype)    # ReLU zeros and ties
    w, b = random_array(rng, ws, dtype), random_array(rng, ws[3:], dtype)
    before = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(threads)
        z = ops.conv2d(x, w, b, strides, padding, activation="relu")
        want = ops.max_pool2d(z, pool, pool_strides, pool_padding)
        want_picks = np.empty_like(want)
        fused_ops.max_pool2d_picking(z, pool, pool_strides, pool_padding, None, want_picks, True)
        y, picks = np.full_like(want, 7.0), np.full_like(want, 9.0)
        got = fused_ops.conv2d_relu_max_pool2d_picking(x, w, b, strides, padding, pool,
                                                  pool_strides, pool_padding, y, picks)
    finally:
        fastcnn.set_num_threads(before)
    assert got is y
    assert y.tobytes() == want.tobytes()
    assert picks.tobytes() == want_picks.tobytes()
    assert (z == 0).any() and (want > 0).any()


def test_fused_conv_relu_max_pool_declines_what_it_does_not_cover(rng):
    # a 1x1 kernel (a pointwise product), an image's output over the buffer's 1 MiB (few
    # channels and GEMM): None, outputs untouched
    for xs, ws in [((8, 10, 10, 2), (1, 1, 2, 8)), ((8, 202, 202, 1), (3, 3, 1, 8)),
                   ((8, 202, 202, 17), (3, 3, 17, 8))]:
        x, w = random_array(rng, xs, np.float32), random_array(rng, ws, np.float32)
        oh = xs[1] - ws[0] + 1
        y = np.full((8, oh // 2, oh // 2, 8), 5.0, np.float32)
        picks = y.copy()
        assert fused_ops.conv2d_relu_max_pool2d_picking(x, w, None, 1, "valid", 2, None, "valid",
                                                   y, picks) is None
        assert (y == 5.0).all() and (picks == 5.0).all()
    x, w = random_array(rng, (8, 10, 10, 1), np.float32), random_array(rng, (3, 3, 1, 4),
                                                                      np.float32)
    with pytest.raises(ValueError, match="picks has shape"):
        fused_ops.conv2d_relu_max_pool2d_picking(x, w, None, 1, "valid", 2, None, "valid", None,
                                            np.empty((8, 4, 4, 5), np.float32))


# --- a first convolution's weight gradients straight from the max pooling's gradient -----------

# (x shape, w shape, conv strides, conv padding, pool size, pool strides, pool padding):
# windows that do not overlap, with gaps, clipped by "same" padding, odd sizes left over
UNPOOL_PROBLEMS = {
    "seed_c1_f32_k3_pool2": ((16, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 2, None, "valid"),
    "c3_f7_k3_s2_same_pool3_same": ((6, 27, 25, 3), (3, 3, 3, 7), 2, "same", 3, 3, "same"),
    "c2_f17_k5_same_pool2x3_gaps": ((5, 13, 16, 2), (5, 5, 2, 17), 1, "same", (2, 3), (3, 4),
                                    "valid"),
    "c1_f9_k3_odd_pool2_same": ((4, 10, 9, 1), (3, 3, 1, 9), 1, "valid", 2, (2, 3), "same"),
}


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(UNPOOL_PROBLEMS))
def test_weight_gradients_through_the_pooling_picks_are_bitwise_the_two_calls(name, dtype,
                                                                             threads, rng):
    xs, ws, strides, padding, pool, pool_strides, pool_padding = UNPOOL_PROBLEMS[name]
    x = np.round(random_array(rng, xs, dtype), 1).astype(dtype)
    w, b = random_array(rng, ws, dtype), random_array(rng, ws[3:], dtype)
    before = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(threads)
        z = ops.conv2d(x, w, b, strides, padding, activation="relu")
        picks = np.empty_like(ops.max_pool2d(z, pool, pool_strides, pool_padding))
        fused_ops.max_pool2d_picking(z, pool, pool_strides, pool_padding, None, picks, True)
        pool_dy = random_array(rng, picks.shape, dtype)
        pool_dy.ravel()[::5] = -0.0
        pool_dy.ravel()[1::9] = np.inf
        pool_dy.ravel()[2::11] = np.nan       # where not picked, they must not reach dw
        dz = fused_ops.max_pool2d_backward_picks(pool_dy, picks, z.shape, pool, pool_strides,
                                            pool_padding, None)
        want = ops.conv2d_backward_weight(dz, x, w, strides, padding)
        dw, db = np.full_like(w, 3.0), np.full_like(b, 3.0)
        got = fused_ops.conv2d_backward_weight_unpool(pool_dy, picks, x, w, strides, padding, pool,
                                                 pool_strides, pool_padding, out=(dw, db))
    finally:
        fastcnn.set_num_threads(before)
    assert got is not None and got[0] is dw and got[1] is db
    assert dw.tobytes() == want[0].tobytes() and db.tobytes() == want[1].tobytes()
    assert (picks == -1).any() and (picks >= 0).any()


def test_weight_gradients_through_the_pooling_decline_what_they_do_not_cover(rng):
    # overlapping windows, many channels (the transposed dW), a 1x1 kernel: None, out untouched
    for xs, ws, pool, pool_strides in [((4, 10, 10, 1), (3, 3, 1, 8), 3, 2),
                                       ((4, 10, 10, 129), (3, 3, 129, 8), 2, None),
                                       ((4, 10, 10, 2), (1, 1, 2, 8), 2, None)]:
        x, w = random_array(rng, xs, np.float32), random_array(rng, ws, np.float32)
        z = ops.conv2d(x, w, None, 1, "valid", activation="relu")
        picks = np.empty_like(ops.max_pool2d(z, pool, pool_strides))
        fused_ops.max_pool2d_picking(z, pool, pool_strides, "valid", None, picks, True)
        dw, db = np.full_like(w, 3.0), np.full(ws[3], 3.0, np.float32)
        assert fused_ops.conv2d_backward_weight_unpool(np.ones_like(picks), picks, x, w, 1, "valid",
                                                  pool, pool_strides, "valid",
                                                  out=(dw, db)) is None
        assert (dw == 3.0).all() and (db == 3.0).all()
    with pytest.raises(ValueError, match="pool_dy must have shape"):
        fused_ops.conv2d_backward_weight_unpool(np.ones((4, 4, 5, 8), np.float32), picks, x, w, 1,
                                           "valid", 2, None, "valid")
    with pytest.raises(ValueError, match="picks must have shape"):
        fused_ops.conv2d_backward_weight_unpool(np.ones_like(picks), picks[:, :4], x, w, 1, "valid",
                                           2, None, "valid")


# --- convolution and a residual sum in one pass (an inference step's Conv2D + Add [+ ReLU]) ---

# (x shape, w shape, strides, padding)
CONV_ADD_PROBLEMS = {
    # few channels: the row kernel image by image (ResNet-20's first stage, smaller), the
    # strided kernel's tiles row by row (rows narrower than a tile, fewer images than threads)
    "c16_f16_k3_same": ((12, 11, 13, 16), (3, 3, 16, 16), 1, "same"),
    "c3_f8_k3_rows_of_5": ((2, 7, 5, 3), (3, 3, 3, 8), 1, "valid"),
    # the GEMM: the reduction in one run and in several (576 < 3 * 3 * 80), filters past a
    # tile, rows past one block, strided and padded
    "gemm_c32_f32_k3_same": ((3, 14, 14, 32), (3, 3, 32, 32), 1, "same"),
    "gemm_c80_f40_k3_s2_same": ((3, 17, 15, 80), (3, 3, 80, 40), 2, "same"),
    # a 1x1 kernel at stride 2 (the GEMM), at stride 1 (a pointwise product, summed after)
    "c16_f32_k1_s2": ((4, 8, 8, 16), (1, 1, 16, 32), 2, "valid"),
    "c24_f40_k1_pointwise": ((2, 5, 7, 24), (1, 1, 24, 40), 1, "valid"),
}


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("name", list(CONV_ADD_PROBLEMS))
def test_conv2d_add_is_bitwise_the_add_of_the_convolution(name, dtype, threads, rng):
    xs, ws, strides, padding = CONV_ADD_PROBLEMS[name]
    x = np.round(random_array(rng, xs, dtype), 1).astype(dtype)
    w, b = random_array(rng, ws, dtype), random_array(rng, ws[3:], dtype)
    before = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(threads)
        z = ops.conv2d(x, w, b, strides, padding)
        r = random_array(rng, z.shape, dtype)
        kept = r.copy()
        for relu in (False, True):
            want = z + r
            if relu:
                want = np.where(want < 0, 0, want).astype(dtype)
            out = np.full_like(z, np.nan)
            got = fused_ops.conv2d_add(x, w, b, strides, padding, r, relu=relu, out=out)
            assert got is out and got.tobytes() == want.tobytes()
            assert fused_ops.conv2d_add(x, w, b, strides, padding, r,
                                        relu=relu).tobytes() == want.tobytes()
    finally:
        fastcnn.set_num_threads(before)
    assert r.tobytes() == kept.tobytes()
    assert (want == 0).any() and (want > 0).any()


def test_conv2d_add_checks_the_residual(rng):
    x, w = random_array(rng, (2, 6, 6, 16), np.float32), random_array(rng, (3, 3, 16, 8),
                                                                        np.float32)
    r = np.zeros((2, 6, 6, 8), np.float32)
    with pytest.raises(ValueError, match="residual must have shape"):
        fused_ops.conv2d_add(x, w, None, 1, "valid", r)
    with pytest.raises(TypeError, match="residual"):
        fused_ops.conv2d_add(x, w, None, 1, "same", r.astype(np.float64))
    with pytest.raises(ValueError, match="overlaps residual"):
        fused_ops.conv2d_add(x, w, None, 1, "same", r, out=r)
    # a residual that is not C-contiguous is read as its values
    wide = random_array(rng, (2, 6, 6, 16), np.float32)
    got = fused_ops.conv2d_add(x, w, None, 1, "same", wide[..., ::2], relu=True)
    want = np.maximum(ops.conv2d(x, w, None, 1, "same") + wide[..., ::2], 0)
    assert got.tobytes() == want.tobytes()
