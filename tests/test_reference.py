"""Tests of the NumPy oracles in ``fastcnn.reference``.

The reference is what the compiled kernels are checked against, so it is checked here by means
that do not share its code: central finite differences for every gradient, a direct loop
implementation of the convolution, and small cases computed by hand.
"""
import numpy as np
import pytest

from fastcnn import reference as ref
from conftest import distinct_values, numeric_gradient

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
# The losses below are linear in each argument on the neighbourhood probed, so the central
# difference has no truncation error; what is left is rounding, about eps * |L| / FD_STEP
# ~ 1e-9 for these sizes. The tolerances leave a margin over that and nothing more.
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def naive_conv2d(x, w, b, strides, padding):
    """Direct convolution: explicit loops over every output element and every window element.

    Computes the "same" padding from the formula of API.md itself rather than through
    ``fastcnn._geometry``, so it is an independent check of that too.
    """
    sh, sw = strides
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    if padding == "valid":
        oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
        top = left = bottom = right = 0
    else:
        oh, ow = -(-h // sh), -(-wd // sw)
        pad_h, pad_w = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - wd, 0)
        top, left = pad_h // 2, pad_w // 2
        bottom, right = pad_h - top, pad_w - left
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    y = np.zeros((n, oh, ow, f))
    for b_ in range(n):
        for p in range(oh):
            for q in range(ow):
                for o in range(f):
                    acc = b[o]
                    for i in range(kh):
                        for j in range(kw):
                            for ch in range(c):
                                acc += xp[b_, p * sh + i, q * sw + j, ch] * w[i, j, ch, o]
                    y[b_, p, q, o] = acc
    return y


def image(values):
    """A single-image, single-channel NHWC array from a 2-D list of numbers."""
    return np.asarray(values, dtype=np.float64)[None, :, :, None]


def plane(a):
    """The (H, W) plane of a single-image, single-channel NHWC array."""
    assert a.shape[0] == 1 and a.shape[3] == 1
    return a[0, :, :, 0]


# --------------------------------------------------------------------------------------------
# shape tables
# --------------------------------------------------------------------------------------------
# (N, H, W, C, F, KH, KW, strides, padding); small odd sizes, every stride pattern, both paddings
CONV_CASES = [
    (2, 5, 5, 2, 3, 3, 3, 1, "valid"),
    (2, 5, 5, 2, 3, 3, 3, 1, "same"),
    (1, 7, 6, 3, 2, 3, 3, 2, "valid"),
    (1, 7, 6, 3, 2, 3, 3, 2, "same"),
    (1, 8, 7, 2, 2, 2, 3, 3, "valid"),       # stride 3 leaves input rows/cols unused
    (1, 8, 7, 2, 2, 2, 3, 3, "same"),
    (2, 6, 5, 2, 3, 3, 2, (1, 2), "valid"),
    (2, 6, 5, 2, 3, 3, 2, (1, 2), "same"),
    (1, 5, 7, 1, 4, 2, 4, (2, 1), "valid"),
    (1, 5, 7, 1, 4, 2, 4, (2, 1), "same"),
    (1, 4, 4, 3, 2, 1, 1, 1, "valid"),       # 1x1 kernel
    (1, 3, 3, 2, 2, 5, 5, 1, "same"),        # kernel larger than the image
]

# (N, H, W, C, pool_size, strides, padding)
POOL_CASES = [
    (2, 6, 6, 2, 2, None, "valid"),
    (2, 5, 5, 2, 2, None, "same"),            # odd size: the last window is half padding
    (1, 7, 7, 2, 3, 2, "valid"),              # overlapping windows
    (1, 7, 6, 2, 3, 2, "same"),
    (1, 6, 7, 3, 3, 1, "same"),
    (1, 8, 7, 1, 2, 3, "valid"),              # gaps between windows
    (1, 8, 7, 1, 2, 3, "same"),
    (2, 5, 6, 2, (2, 3), (1, 2), "valid"),
    (2, 5, 6, 2, (2, 3), (1, 2), "same"),
    (1, 7, 5, 2, (3, 1), (2, 1), "valid"),
    (1, 7, 5, 2, (3, 1), (2, 1), "same"),
]


def _case_id(case):
    return "-".join(str(v).replace(" ", "") for v in case)


# --------------------------------------------------------------------------------------------
# convolution: finite differences and the direct loop implementation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv2d_backward_matches_finite_differences(case):
    n, h, w_, c, f, kh, kw, strides, padding = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w_, c))
    w = rng.standard_normal((kh, kw, c, f))
    b = rng.standard_normal(f)
    y = ref.conv2d(x, w, b, strides, padding)
    r = rng.standard_normal(y.shape)   # L = sum(y * r), so dL/dy = r

    def loss():
        return np.sum(ref.conv2d(x, w, b, strides, padding) * r)

    dx, dw, db = ref.conv2d_backward(r, x, w, strides, padding)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (f,)
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dw, numeric_gradient(loss, w), rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(db, numeric_gradient(loss, b), rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv2d_matches_direct_loops(case):
    n, h, w_, c, f, kh, kw, strides, padding = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, h, w_, c))
    w = rng.standard_normal((kh, kw, c, f))
    b = rng.standard_normal(f)
    expected = naive_conv2d(x, w, b, np.broadcast_to(strides, 2), padding)
    np.testing.assert_allclose(ref.conv2d(x, w, b, strides, padding), expected,
                               rtol=1e-12, atol=1e-12)


def test_conv2d_stride3_unused_input_rows_get_zero_gradient():
    # valid, H=W=7, 2x2 kernel, stride 3: windows cover rows 0-1 and 3-4 (out = 2);
    # rows 2, 5 and 6 (and the same columns) are never read, so get exactly zero gradient
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 7, 7, 1))
    w = rng.standard_normal((2, 2, 1, 1))
    dy = rng.standard_normal((1, 2, 2, 1))
    dx, _, _ = ref.conv2d_backward(dy, x, w, 3, "valid")
    unused, used = [2, 5, 6], [0, 1, 3, 4]
    assert np.all(dx[:, unused, :, :] == 0)
    assert np.all(dx[:, :, unused, :] == 0)
    assert np.all(dx[:, used, :, :][:, :, used, :] != 0)


# --------------------------------------------------------------------------------------------
# convolution: cases computed by hand
# --------------------------------------------------------------------------------------------
def test_conv2d_one_channel_hand_computed():
    x = image([[1, 2, 3],
               [4, 5, 6],
               [7, 8, 9]])
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    y = ref.conv2d(x, w, np.array([0.5]))
    # y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, then + bias 0.5, and so on
    np.testing.assert_array_equal(plane(y), [[37.5, 47.5], [67.5, 77.5]])


def test_conv2d_backward_one_channel_hand_computed():
    x = image([[1, 2, 3],
               [4, 5, 6],
               [7, 8, 9]])
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    dy = image([[1, 0],
                [0, 2]])
    dx, dw, db = ref.conv2d_backward(dy, x, w)
    # dx: w scattered at the top-left window times 1, at the bottom-right window times 2
    np.testing.assert_array_equal(plane(dx), [[1, 2, 0], [3, 4 + 2, 4], [0, 6, 8]])
    # dw[i,j] = 1 * x[i,j] + 2 * x[i+1,j+1]
    np.testing.assert_array_equal(dw[:, :, 0, 0], [[1 + 10, 2 + 12], [4 + 16, 5 + 18]])
    np.testing.assert_array_equal(db, [3.0])


def test_conv2d_same_odd_total_padding_goes_bottom_right():
    # H = W = 4, kernel 2, stride 1: total padding 1 per axis, all of it on bottom/right
    x = image(np.arange(1, 17).reshape(4, 4))
    w = np.ones((2, 2, 1, 1))
    y = ref.conv2d(x, w, padding="same")
    np.testing.assert_array_equal(plane(y), [[14, 18, 22, 12],
                                             [30, 34, 38, 20],
                                             [46, 50, 54, 28],
                                             [27, 29, 31, 16]])


def test_conv2d_same_stride2_odd_total_padding_goes_right():
    # W = 6, kernel width 3, stride 2: out 3, total padding (3-1)*2 + 3 - 6 = 1, on the right
    x = image([[1, 2, 3, 4, 5, 6]])
    w = np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1, 1)
    y = ref.conv2d(x, w, strides=(1, 2), padding="same")
    # windows [1,2,3], [3,4,5], [5,6,pad]; left padding would have given [pad,1,2] = 210 first
    np.testing.assert_array_equal(plane(y), [[321, 543, 65]])


def test_conv2d_same_padding_is_case_insensitive():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 5, 5, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    np.testing.assert_array_equal(ref.conv2d(x, w, padding="SAME"),
                                  ref.conv2d(x, w, padding="same"))


def test_conv2d_nan_propagates_only_to_windows_that_read_it():
    x = np.zeros((1, 5, 5, 1))
    x[0, 0, 0, 0] = np.nan
    w = np.ones((3, 3, 1, 1))
    y = plane(ref.conv2d(x, w, padding="valid"))
    assert np.isnan(y[0, 0])
    assert not np.isnan(y).ravel()[1:].any()


# --------------------------------------------------------------------------------------------
# pooling: finite differences
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", POOL_CASES, ids=_case_id)
def test_max_pool2d_backward_matches_finite_differences(case):
    n, h, w, c, pool, strides, padding = case
    rng = np.random.default_rng(4)
    x = distinct_values(rng, (n, h, w, c))
    y = ref.max_pool2d(x, pool, strides, padding)
    r = rng.standard_normal(y.shape)

    def loss():
        return np.sum(ref.max_pool2d(x, pool, strides, padding) * r)

    dx = ref.max_pool2d_backward(r, x, pool, strides, padding)
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("case", POOL_CASES, ids=_case_id)
def test_avg_pool2d_backward_matches_finite_differences(case):
    n, h, w, c, pool, strides, padding = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, h, w, c))
    y = ref.avg_pool2d(x, pool, strides, padding)
    r = rng.standard_normal(y.shape)

    def loss():
        return np.sum(ref.avg_pool2d(x, pool, strides, padding) * r)

    dx = ref.avg_pool2d_backward(r, x, pool, strides, padding)
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("case", POOL_CASES, ids=_case_id)
def test_pool2d_forward_matches_direct_window_loops(case):
    """Max and mean over each window's real elements, found by slicing the unpadded input."""
    n, h, w, c, pool, strides, padding = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, h, w, c))
    ph, pw = np.broadcast_to(pool, 2)
    sh, sw = (ph, pw) if strides is None else np.broadcast_to(strides, 2)
    if padding == "valid":
        oh, ow, top, left = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    else:
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + ph - h, 0) // 2
        left = max((ow - 1) * sw + pw - w, 0) // 2
    want_max = np.empty((n, oh, ow, c))
    want_avg = np.empty((n, oh, ow, c))
    for p in range(oh):
        for q in range(ow):
            r0, c0 = p * sh - top, q * sw - left
            win = x[:, max(r0, 0):r0 + ph, max(c0, 0):c0 + pw, :]
            want_max[:, p, q, :] = win.max(axis=(1, 2))
            want_avg[:, p, q, :] = win.mean(axis=(1, 2))
    np.testing.assert_array_equal(ref.max_pool2d(x, pool, strides, padding), want_max)
    np.testing.assert_allclose(ref.avg_pool2d(x, pool, strides, padding), want_avg,
                               rtol=1e-14, atol=1e-15)


# --------------------------------------------------------------------------------------------
# pooling: cases computed by hand
# --------------------------------------------------------------------------------------------
def test_max_pool2d_same_all_negative_never_returns_pad_value():
    x = -image(np.arange(1, 10).reshape(3, 3))
    # 2x2 stride 2 "same" on 3x3: padding on bottom/right; the right/bottom windows are
    # half padding and must still return their real maximum, not 0
    np.testing.assert_array_equal(plane(ref.max_pool2d(x, 2, padding="same")),
                                  [[-1, -3], [-7, -9]])
    # 3x3 stride 1 "same": padding all around
    np.testing.assert_array_equal(plane(ref.max_pool2d(x, 3, 1, padding="same")),
                                  [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])


def test_max_pool2d_same_all_minus_inf_routes_gradient_to_real_element():
    # padding is masked rather than filled with -inf, so even a real -inf beats a pad
    x = image(np.full((3, 3), -np.inf))
    y = ref.max_pool2d(x, 3, 1, padding="same")
    assert np.all(plane(y) == -np.inf)
    dy = image(np.arange(1, 10).reshape(3, 3))
    dx = ref.max_pool2d_backward(dy, x, 3, 1, padding="same")
    # every window's first real element in row-major order is its top-left real element:
    # windows of output rows 0-1 / cols 0-1 start at input (0, 0); the rest one further on
    np.testing.assert_array_equal(plane(dx), [[1 + 2 + 4 + 5, 3 + 6, 0],
                                              [7 + 8, 9, 0],
                                              [0, 0, 0]])
    assert dx.sum() == dy.sum()


@pytest.mark.parametrize(
    "window, expected_dx",
    [
        ([[5, 5], [5, 5]], [[1, 0], [0, 0]]),      # all equal: the first one
        ([[0, 7], [7, 0]], [[0, 1], [0, 0]]),      # row-major, not column-major, order
        ([[1, 2], [3, 3]], [[0, 0], [1, 0]]),      # tie on the last row
        ([[4, 1], [2, 4]], [[1, 0], [0, 0]]),      # tie between first and last
    ],
    ids=["all-equal", "row-major-not-column-major", "tie-last-row", "tie-first-last"],
)
def test_max_pool2d_backward_tie_goes_to_first_max_in_row_major_order(window, expected_dx):
    x = image(window)
    dx = ref.max_pool2d_backward(image([[2.5]]), x, 2)
    np.testing.assert_array_equal(plane(dx), 2.5 * np.asarray(expected_dx))
    assert plane(ref.max_pool2d(x, 2))[0, 0] == np.max(window)


def test_max_pool2d_backward_overlapping_windows_accumulate():
    # 2x2 stride 1 on 3x3: all four windows share the centre, which is the maximum of each
    x = image([[1, 2, 3],
               [4, 9, 5],
               [6, 7, 8]])
    dy = image([[1, 2],
                [3, 4]])
    np.testing.assert_array_equal(plane(ref.max_pool2d(x, 2, 1)), [[9, 9], [9, 9]])
    np.testing.assert_array_equal(plane(ref.max_pool2d_backward(dy, x, 2, 1)),
                                  [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_max_pool2d_backward_overlap_3x3_stride2_shared_edge():
    # 3x3 stride 2 on 5x5: windows overlap on row 2 and column 2
    x = np.zeros((5, 5))
    x[2, 2] = 10          # maximum of all four windows
    x[0, 4] = 20          # maximum of the top-right window only
    x = image(x)
    dy = image([[1, 2],
                [3, 4]])
    np.testing.assert_array_equal(plane(ref.max_pool2d(x, 3, 2)), [[10, 20], [10, 10]])
    expected = np.zeros((5, 5))
    expected[2, 2] = 1 + 3 + 4
    expected[0, 4] = 2
    np.testing.assert_array_equal(plane(ref.max_pool2d_backward(dy, x, 3, 2)), expected)


def test_avg_pool2d_same_divides_by_real_element_count():
    x = image(np.arange(1, 10).reshape(3, 3))
    # 2x2 stride 2: windows {1,2,4,5}, {3,6}, {7,8}, {9}
    np.testing.assert_array_equal(plane(ref.avg_pool2d(x, 2, padding="same")),
                                  [[3, 4.5], [7.5, 9]])
    # 3x3 stride 1: corners average 4 elements, edges 6, the centre 9
    np.testing.assert_array_equal(plane(ref.avg_pool2d(x, 3, 1, padding="same")),
                                  [[3, 3.5, 4], [4.5, 5, 5.5], [6, 6.5, 7]])


def test_avg_pool2d_backward_same_shares_by_real_element_count():
    x = image(np.zeros((3, 3)))
    dy = image([[4, 6], [2, 1]])
    # windows {(0,0),(0,1),(1,0),(1,1)} get 4/4; {(0,2),(1,2)} get 6/2; {(2,0),(2,1)} 2/2
    np.testing.assert_array_equal(plane(ref.avg_pool2d_backward(dy, x, 2, padding="same")),
                                  [[1, 1, 3], [1, 1, 3], [1, 1, 1]])


def test_pool2d_strides_none_means_pool_size():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 7, 3))
    y = ref.max_pool2d(x, (3, 2))
    assert y.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(y, ref.max_pool2d(x, (3, 2), strides=(3, 2)))
    np.testing.assert_array_equal(ref.avg_pool2d(x, (3, 2)),
                                  ref.avg_pool2d(x, (3, 2), strides=(3, 2)))


# --------------------------------------------------------------------------------------------
# NaN rule of max pooling ("NaN wins", see the reference's docstring)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "window, expected_dx",
    [
        ([[1, np.nan], [9, 3]], [[0, 1], [0, 0]]),            # NaN beats a larger number
        ([[9, 1], [3, np.nan]], [[0, 0], [0, 1]]),            # NaN found after the maximum
        ([[np.nan, 1], [np.nan, 9]], [[1, 0], [0, 0]]),       # two NaNs: the first one
        ([[2, np.nan], [np.nan, np.nan]], [[0, 1], [0, 0]]),  # three NaNs: the first one
    ],
    ids=["nan-beats-larger", "nan-after-max", "two-nans-first", "three-nans-first"],
)
def test_max_pool2d_nan_wins_and_gets_the_gradient(window, expected_dx):
    x = image(window)
    assert np.isnan(plane(ref.max_pool2d(x, 2))[0, 0])
    dx = ref.max_pool2d_backward(image([[3.0]]), x, 2)
    np.testing.assert_array_equal(plane(dx), 3.0 * np.asarray(expected_dx))


def test_max_pool2d_nan_stays_in_its_window():
    x = image([[np.nan, 1, 2, 3],
               [4, 5, 6, 7]])
    np.testing.assert_array_equal(plane(ref.max_pool2d(x, 2)), [[np.nan, 7]])


def test_avg_pool2d_nan_propagates_to_its_window_only():
    x = image([[np.nan, 1, 2, 3],
               [4, 5, 6, 7]])
    np.testing.assert_array_equal(plane(ref.avg_pool2d(x, 2)), [[np.nan, 4.5]])


# --------------------------------------------------------------------------------------------
# dtypes, empty batches, inputs left alone
# --------------------------------------------------------------------------------------------
def _all_six(dtype, n=2):
    """Run every reference function once on inputs of ``dtype``; returns {name: outputs}."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, 6, 5, 3)).astype(dtype)
    w = rng.standard_normal((3, 2, 3, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    dy_conv = rng.standard_normal((n, 3, 3, 4)).astype(dtype)
    dy_pool = rng.standard_normal((n, 3, 3, 3)).astype(dtype)
    return {
        "conv2d": (ref.conv2d(x, w, b, 2, "same"),),
        "conv2d_backward": ref.conv2d_backward(dy_conv, x, w, 2, "same"),
        "max_pool2d": (ref.max_pool2d(x, 2, padding="same"),),
        "max_pool2d_backward": (ref.max_pool2d_backward(dy_pool, x, 2, padding="same"),),
        "avg_pool2d": (ref.avg_pool2d(x, 2, padding="same"),),
        "avg_pool2d_backward": (ref.avg_pool2d_backward(dy_pool, x, 2, padding="same"),),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_have_the_input_dtype(dtype):
    for name, outputs in _all_six(dtype).items():
        for out in outputs:
            assert out.dtype == dtype, name


def test_float32_results_agree_with_float64_results():
    # computing in float32 must still give the float64 answer to float32 accuracy
    single, double = _all_six(np.float32), _all_six(np.float64)
    for name in single:
        for a, b in zip(single[name], double[name]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_empty_batch_returns_empty_results_of_the_right_shape():
    results = _all_six(np.float32, n=0)
    expected = {
        "conv2d": [(0, 3, 3, 4)],
        "conv2d_backward": [(0, 6, 5, 3), (3, 2, 3, 4), (4,)],
        "max_pool2d": [(0, 3, 3, 3)],
        "max_pool2d_backward": [(0, 6, 5, 3)],
        "avg_pool2d": [(0, 3, 3, 3)],
        "avg_pool2d_backward": [(0, 6, 5, 3)],
    }
    for name, shapes in expected.items():
        assert [out.shape for out in results[name]] == shapes, name
    _, dw, db = results["conv2d_backward"]
    assert not dw.any() and not db.any()    # an empty sum is zero


def test_inputs_are_not_modified_and_non_contiguous_inputs_work():
    rng = np.random.default_rng(9)
    x_big = rng.standard_normal((2, 10, 7, 3))
    x = x_big[:, ::2]                                 # non-contiguous view, (2, 5, 7, 3)
    w = np.asfortranarray(rng.standard_normal((3, 3, 3, 2)))
    dy = rng.standard_normal((2, 5, 7, 2))
    saved = [a.copy() for a in (x_big, w, dy)]
    y = ref.conv2d(x, w, padding="same")
    ref.conv2d_backward(dy, x, w, padding="same")
    ref.max_pool2d_backward(rng.standard_normal((2, 3, 4, 3)), x, 2, padding="same")
    ref.avg_pool2d_backward(rng.standard_normal((2, 3, 4, 3)), x, 2, padding="same")
    for before, after in zip(saved, (x_big, w, dy)):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(y, ref.conv2d(np.ascontiguousarray(x),
                                                np.ascontiguousarray(w), padding="same"))


# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------
X = np.zeros((1, 5, 5, 3))
W = np.zeros((3, 3, 3, 4))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ref.conv2d(np.zeros((5, 5, 3)), W), r"x must have rank 4.*\(5, 5, 3\)"),
        (lambda: ref.conv2d(X, np.zeros((3, 3, 3))), r"w must have rank 4.*\(3, 3, 3\)"),
        (lambda: ref.conv2d(X, np.zeros((3, 3, 2, 4))),
         r"w has 2 input channels.*\(3, 3, 2, 4\).*x has 3.*\(1, 5, 5, 3\)"),
        (lambda: ref.conv2d(X, W, np.zeros(3)), r"b must have shape \(4,\).*got \(3,\)"),
        (lambda: ref.conv2d(X, np.zeros((6, 3, 3, 4))), r"kernel \(6, 3\) does not fit.*\(5, 5\)"),
        (lambda: ref.conv2d(X, W, padding="full"), r"padding"),
        (lambda: ref.conv2d(X, W, strides=0), r"strides must be positive"),
        (lambda: ref.conv2d_backward(np.zeros((1, 3, 3, 3)), X, W),
         r"dy must have shape \(1, 3, 3, 4\).*got \(1, 3, 3, 3\)"),
        (lambda: ref.conv2d_backward(np.zeros((1, 3, 3)), X, W), r"dy must have rank 4"),
        (lambda: ref.max_pool2d(np.zeros((5, 5)), 2), r"x must have rank 4.*\(5, 5\)"),
        (lambda: ref.max_pool2d(X, 6), r"pool_size \(6, 6\) does not fit.*\(5, 5\)"),
        (lambda: ref.avg_pool2d(X, 2, padding="full"), r"padding"),
        (lambda: ref.max_pool2d(X, 0), r"pool_size must be positive"),
        (lambda: ref.max_pool2d_backward(np.zeros((1, 2, 2, 4)), X, 2),
         r"dy must have shape \(1, 2, 2, 3\).*got \(1, 2, 2, 4\)"),
        (lambda: ref.avg_pool2d_backward(np.zeros((1, 3, 3, 3)), X, 2),
         r"dy must have shape \(1, 2, 2, 3\).*got \(1, 3, 3, 3\)"),
    ],
    ids=["conv-x-rank", "conv-w-rank", "conv-channel-mismatch", "conv-bias-shape",
         "conv-kernel-too-big", "conv-bad-padding", "conv-zero-stride", "conv-dy-shape",
         "conv-dy-rank", "maxpool-x-rank", "maxpool-window-too-big", "avgpool-bad-padding",
         "maxpool-zero-pool", "maxpool-dy-shape", "avgpool-dy-shape"],
)
def test_bad_arguments_raise_value_error_naming_argument_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
