"""Tests of the batch normalization and global pooling oracles in ``fastcnn.reference``.

Checked by means that share no code with them: central finite differences of float64 losses
for every gradient, NumPy's own reductions (np.mean, np.var, np.max), and small cases
computed by hand.
"""
import numpy as np
import pytest

from fastcnn import reference as ref
from conftest import distinct_values, numeric_gradient, relative_error

# Batch normalization is not linear in x, so the central difference has a truncation error,
# about FD_STEP**2 * |L'''| (~1e-12 here), on top of the rounding (~eps * |L| / FD_STEP ~1e-9).
FD_TOLERANCE = 1e-6
EPSILON = 1e-3

BN_SHAPES = {
    "images_n3_2x3_c4": (3, 2, 3, 4),
    "dense_n6_c5": (6, 5),
    "rank3_n2_4_c3": (2, 4, 3),
}


def _bn_problem(rng, shape):
    c = shape[-1]
    x = rng.standard_normal(shape) * 2 + 0.5
    return x, rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)


def _assert_gradient(analytic, numeric, name):
    err = relative_error(analytic, numeric)
    assert err <= FD_TOLERANCE, f"{name}: relative error {err:.2e} against finite differences"


# --- batch normalization --------------------------------------------------------------------

@pytest.mark.parametrize("shape", list(BN_SHAPES.values()), ids=list(BN_SHAPES))
def test_batch_norm_backward_matches_finite_differences(shape, rng):
    x, r, gamma, beta = _bn_problem(rng, shape)

    def loss():
        return float(np.sum(ref.batch_norm_forward(x, gamma, beta, EPSILON) * r))

    dx, dgamma, dbeta = ref.batch_norm_backward(r, x, gamma, EPSILON)
    _assert_gradient(dx, numeric_gradient(loss, x), "dx")
    _assert_gradient(dgamma, numeric_gradient(loss, gamma), "dgamma")
    _assert_gradient(dbeta, numeric_gradient(loss, beta), "dbeta")


def test_batch_norm_backward_without_gamma_is_the_one_with_gamma_ones(rng):
    x, dy, _, _ = _bn_problem(rng, (4, 3, 2, 5))
    got = ref.batch_norm_backward(dy, x, None, EPSILON)
    expected = ref.batch_norm_backward(dy, x, np.ones(5), EPSILON)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("shape", list(BN_SHAPES.values()), ids=list(BN_SHAPES))
def test_batch_norm_inference_gradient_is_the_per_channel_scale(shape, rng):
    # What batch_norm_inference_backward computes: dx = dy * gamma / sqrt(var + epsilon).
    x, r, gamma, beta = _bn_problem(rng, shape)
    mean, var = rng.standard_normal(shape[-1]), rng.random(shape[-1]) + 0.1

    def loss():
        return float(np.sum(ref.batch_norm_forward(x, gamma, beta, EPSILON, mean, var) * r))

    _assert_gradient(r * gamma / np.sqrt(var + EPSILON), numeric_gradient(loss, x), "dx")


def test_batch_norm_moments_are_the_mean_and_biased_variance(rng):
    x = rng.standard_normal((3, 4, 5, 6)) * 3 + 1
    mean, var = ref.batch_norm_moments(x)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)), rtol=1e-13)
    np.testing.assert_allclose(var, x.var(axis=(0, 1, 2), ddof=0), rtol=1e-13)


def test_batch_norm_training_output_has_beta_mean_and_scaled_variance(rng):
    x, _, gamma, beta = _bn_problem(rng, (4, 5, 3, 6))
    y = ref.batch_norm_forward(x, gamma, beta, EPSILON)
    var = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), beta, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), gamma ** 2 * var / (var + EPSILON),
                               rtol=1e-12)


def test_batch_norm_by_hand():
    # one channel holding 1 and 3: mean 2, variance 1
    x = np.array([[1.0], [3.0]])
    y = ref.batch_norm_forward(x, np.array([2.0]), np.array([0.5]), 0.25)
    np.testing.assert_allclose(y, [[0.5 - 2 / np.sqrt(1.25)], [0.5 + 2 / np.sqrt(1.25)]])
    y = ref.batch_norm_forward(x, None, None, 0.0, np.array([1.0]), np.array([4.0]))
    np.testing.assert_allclose(y, [[0.0], [1.0]])


def test_batch_norm_inference_with_the_batch_statistics_is_training_mode(rng):
    x, _, gamma, beta = _bn_problem(rng, (5, 7))
    mean, var = ref.batch_norm_moments(x)
    np.testing.assert_allclose(ref.batch_norm_forward(x, gamma, beta, EPSILON, mean, var),
                               ref.batch_norm_forward(x, gamma, beta, EPSILON), rtol=1e-13)


def test_batch_norm_keeps_float32_and_leaves_inputs_alone(rng):
    x, dy, gamma, beta = (a.astype(np.float32) for a in _bn_problem(rng, (2, 3, 3, 4)))
    before = [a.copy() for a in (x, dy, gamma, beta)]
    assert ref.batch_norm_forward(x, gamma, beta, EPSILON).dtype == np.float32
    assert all(g.dtype == np.float32 for g in ref.batch_norm_backward(dy, x, gamma, EPSILON))
    for a, b in zip((x, dy, gamma, beta), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda x: ref.batch_norm_forward(x[0, 0, 0], None, None, EPSILON), "rank"),
    (lambda x: ref.batch_norm_forward(x, np.ones(3), None, EPSILON), "gamma"),
    (lambda x: ref.batch_norm_forward(x, None, np.ones(5), EPSILON), "beta"),
    (lambda x: ref.batch_norm_forward(x, None, None, EPSILON, mean=np.zeros(4)), "variance"),
    (lambda x: ref.batch_norm_backward(x[:1], x, None, EPSILON), "dy"),
], ids=["rank1", "gamma_shape", "beta_shape", "mean_without_variance", "dy_shape"])
def test_batch_norm_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.zeros((2, 3, 3, 4)))


# --- global pooling -------------------------------------------------------------------------

def test_global_avg_pool2d_is_the_mean_over_pixels_and_its_gradient_checks(rng):
    x = rng.standard_normal((3, 4, 5, 2))
    np.testing.assert_allclose(ref.global_avg_pool2d(x), x.mean(axis=(1, 2)), rtol=1e-13)
    r = rng.standard_normal((3, 2))
    dx = ref.global_avg_pool2d_backward(r, x)
    _assert_gradient(dx, numeric_gradient(lambda: float(np.sum(ref.global_avg_pool2d(x) * r)),
                                          x), "dx")
    np.testing.assert_array_equal(dx, np.broadcast_to(r[:, None, None, :] / 20, x.shape))


def test_global_max_pool2d_is_the_max_over_pixels_and_its_gradient_checks(rng):
    x = distinct_values(rng, (2, 3, 5, 4))
    np.testing.assert_array_equal(ref.global_max_pool2d(x), x.max(axis=(1, 2)))
    r = rng.standard_normal((2, 4))
    dx = ref.global_max_pool2d_backward(r, x)
    _assert_gradient(dx, numeric_gradient(lambda: float(np.sum(ref.global_max_pool2d(x) * r)),
                                          x), "dx")
    assert np.count_nonzero(dx) == r.size


def _one_channel(values):
    """(1, 2, 3, 1) image holding the 6 values in row-major pixel order."""
    return np.array(values, dtype=np.float64).reshape(1, 2, 3, 1)


@pytest.mark.parametrize("values, expected, pick", [
    ([1, 5, 2, 5, 0, 5], 5.0, 1),                          # ties: the first maximum
    ([1, np.nan, 9, np.nan, 0, 2], np.nan, 1),             # NaN wins, the first NaN
    ([np.nan, 3, 4, 1, 0, 2], np.nan, 0),
    ([-np.inf] * 6, -np.inf, 0),
    ([-1, -2, -3, -4, -5, -0.5], -0.5, 5),
    ([-1, 9, np.inf, 9, np.inf, 2], np.inf, 2),
], ids=["ties_first", "first_nan", "nan_at_start", "all_minus_inf", "all_negative", "inf"])
def test_global_max_pool2d_selection_rule(values, expected, pick):
    x = _one_channel(values)
    y = ref.global_max_pool2d(x)
    np.testing.assert_array_equal(y, [[expected]])
    dx = ref.global_max_pool2d_backward(np.array([[7.0]]), x)
    assert dx.reshape(-1).tolist() == [7.0 if i == pick else 0.0 for i in range(6)]


def test_global_max_pool2d_keeps_the_sign_of_the_first_zero():
    y = ref.global_max_pool2d(_one_channel([-0.0, 0.0, -1, -2, -3, -4]))
    assert y[0, 0] == 0 and np.signbit(y[0, 0])
    y = ref.global_max_pool2d(_one_channel([0.0, -0.0, -1, -2, -3, -4]))
    assert not np.signbit(y[0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_pools_take_empty_batches_and_keep_the_dtype(dtype):
    x = np.zeros((0, 3, 4, 5), dtype)
    dy = np.zeros((0, 5), dtype)
    for result, shape in ((ref.global_avg_pool2d(x), (0, 5)), (ref.global_max_pool2d(x), (0, 5)),
                          (ref.global_avg_pool2d_backward(dy, x), x.shape),
                          (ref.global_max_pool2d_backward(dy, x), x.shape)):
        assert result.shape == shape and result.dtype == dtype


@pytest.mark.parametrize("fn", [ref.global_avg_pool2d_backward, ref.global_max_pool2d_backward])
def test_global_pool_backward_wrong_dy_shape_names_dy_and_the_shapes(fn):
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 4\).*\(2, 3, 3, 4\)"):
        fn(np.zeros((2, 3)), np.zeros((2, 3, 3, 4)))
