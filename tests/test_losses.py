"""Losses and metrics: Keras' values (clipping at 1e-7), gradients vs finite differences, the
fused softmax/sigmoid + cross-entropy form, target validation, and how "accuracy" is matched."""
import math
import warnings

import numpy as np
import pytest

from conftest import numeric_gradient
from fastcnn import activations, losses, metrics

EPS = 1e-7


@pytest.fixture
def gen():
    return np.random.default_rng(99)


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---- values -------------------------------------------------------------------------------------
def test_categorical_crossentropy_values_follow_keras_clipping():
    y = np.array([[0, 1, 0], [1, 0, 0]], np.float64)
    p = np.array([[0.2, 0.7, 0.1], [0.0, 0.5, 0.5]])
    per_sample = losses.categorical_crossentropy(y, p)
    np.testing.assert_allclose(per_sample, [-math.log(0.7), -math.log(EPS)], rtol=1e-12)
    assert losses.get("categorical_crossentropy")(y, p) == pytest.approx(np.mean(per_sample))


def test_categorical_crossentropy_renormalises_probabilities():
    y = np.array([[0, 1]], np.float64)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, [[1.0, 3.0]]),
                               [-math.log(0.75)], rtol=1e-12)


def test_sparse_matches_categorical_on_one_hot(gen):
    p = activations.softmax(gen.standard_normal((6, 4)))
    labels = np.array([0, 3, 1, 1, 2, 0])
    one_hot = np.eye(4)[labels]
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p),
                               losses.categorical_crossentropy(one_hot, p), rtol=1e-14)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels[:, None], p),
                               losses.categorical_crossentropy(one_hot, p), rtol=1e-14)


def test_binary_crossentropy_and_mse_values():
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.9, 0.2], [1.0, 0.6]])
    expected_bce = [-(math.log(0.9) + math.log(0.8)) / 2,
                    -(math.log(EPS) + math.log(0.6)) / 2]       # 1 - p clipped to 1e-7
    np.testing.assert_allclose(losses.binary_crossentropy(y, p), expected_bce, rtol=1e-6)
    np.testing.assert_allclose(losses.mean_squared_error(y, p),
                               [(0.01 + 0.04) / 2, (1 + 0.16) / 2], rtol=1e-12)
    assert losses.get("mse") is not losses.get("mean_squared_error")      # fresh objects
    assert losses.get("mse").name == losses.get("mean_squared_error").name


def test_from_logits_equals_probabilities_of_softmax(gen):
    z = gen.standard_normal((5, 4))
    y = np.eye(4)[[0, 1, 2, 3, 0]]
    np.testing.assert_allclose(losses.categorical_crossentropy(y, z, from_logits=True),
                               losses.categorical_crossentropy(y, activations.softmax(z)),
                               rtol=1e-12)
    b = (gen.random((5, 3)) > 0.5).astype(float)
    np.testing.assert_allclose(losses.binary_crossentropy(b, z[:, :3], from_logits=True),
                               losses.binary_crossentropy(b, activations.sigmoid(z[:, :3])),
                               rtol=1e-12)


# ---- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,logits", [
    ("categorical_crossentropy", False), ("categorical_crossentropy", True),
    ("sparse_categorical_crossentropy", False), ("sparse_categorical_crossentropy", True),
    ("binary_crossentropy", False), ("binary_crossentropy", True), ("mse", False)])
def test_gradient_matches_finite_differences(gen, name, logits):
    loss = losses.get(name)
    n, k = 4, 3
    if loss.fused_activation == "sigmoid":
        y = (gen.random((n, k)) > 0.5).astype(np.float64)
        raw = gen.standard_normal((n, k))
        pred = raw if logits else activations.sigmoid(raw)
    elif name == "mse":
        y, pred = gen.standard_normal((n, k)), gen.standard_normal((n, k))
    else:
        labels = gen.integers(0, k, n)
        y = labels if name.startswith("sparse") else np.eye(k)[labels]
        raw = gen.standard_normal((n, k))
        pred = raw if logits else gen.uniform(0.1, 1.0, (n, k))    # unnormalised on purpose
    targets = loss.prepare_targets(y, (None, k), np.float64)
    value, grad = loss.value_and_grad(targets, pred, logits=logits)
    numeric = numeric_gradient(lambda: loss.value(targets, pred, logits=logits), pred)
    assert rel(grad, numeric) < 1e-6
    assert value == pytest.approx(loss.value(targets, pred, logits=logits), rel=1e-15)


def test_fused_softmax_crossentropy_is_exact_for_huge_logits():
    loss = losses.get("categorical_crossentropy")
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value_and_grad(y, z, logits=True)
    # sample 1: logsumexp = 1e4, loss = 1e4 - (-1e4); sample 2: logsumexp = 1e4 + log 2
    assert value == pytest.approx((2e4 + math.log(2)) / 2, rel=1e-15)
    np.testing.assert_allclose(grad, np.array([[1, -1, 0], [0, 0.5, -0.5]]) / 2, atol=1e-15)


def test_fused_sigmoid_binary_crossentropy_is_exact_for_huge_logits():
    loss = losses.get("binary_crossentropy")
    z = np.array([[1e4, -1e4]])
    y = np.array([[0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value_and_grad(y, z, logits=True)
    assert value == pytest.approx(1e4 / 2, rel=1e-15)
    np.testing.assert_allclose(grad, [[0.5, 0.0]], atol=1e-15)


def test_clipped_probabilities_get_no_gradient():
    loss = losses.get("categorical_crossentropy")
    _, grad = loss.value_and_grad(np.array([[1.0, 0.0]]), np.array([[1e-9, 1.0]]))
    assert np.all(np.isfinite(grad))


# ---- targets ------------------------------------------------------------------------------------
def test_integer_labels_with_categorical_crossentropy_suggest_the_fix():
    with pytest.raises(ValueError, match=r"y has shape \(5,\).*sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy").prepare_targets(np.arange(5), (None, 10),
                                                               np.float32)


@pytest.mark.parametrize("labels,match", [
    (np.array([0, 10]), "outside"),
    (np.array([-1, 2]), "outside"),
    (np.array([0.5, 1.0]), "integer"),
    (np.zeros((2, 10)), "shape"),
])
def test_bad_sparse_labels_raise_value_errors(labels, match):
    with pytest.raises(ValueError, match=match):
        losses.get("sparse_categorical_crossentropy").prepare_targets(labels, (None, 10),
                                                                      np.float32)


def test_binary_targets_without_the_unit_axis_are_accepted():
    targets = losses.get("binary_crossentropy").prepare_targets([0, 1, 1], (None, 1), np.float32)
    assert targets.shape == (3, 1) and targets.dtype == np.float32


def test_unknown_loss_is_a_value_error_listing_names():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        losses.get("hinge")


# ---- metrics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss,output,expected", [
    ("categorical_crossentropy", (None, 10), metrics.categorical_accuracy),
    ("sparse_categorical_crossentropy", (None, 10), metrics.sparse_categorical_accuracy),
    ("binary_crossentropy", (None, 1), metrics.binary_accuracy),
    ("mean_squared_error", (None, 1), metrics.binary_accuracy),
    ("mean_squared_error", (None, 4), metrics.categorical_accuracy),
])
def test_accuracy_is_matched_to_the_loss_like_keras(loss, output, expected):
    assert metrics.get("accuracy", loss, output) is expected
    assert metrics.get("acc", loss, output) is expected


def test_accuracy_values():
    p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(2)[[1, 1, 1]], p),
                                  [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 0, 0], p), [1, 1, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy([[1.0], [0.0]], [[0.6], [0.7]]),
                                  [1.0, 0.0])
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.get("f1")
