"""Numerical robustness: softmax / cross-entropy with logits of +-1e4 in float32 and float64
(through the compiled loss, the NumPy loss and whole models), and float64 training end to end:
every array stays float64 and the model computes what a float64 NumPy forward pass computes,
to float64 precision. (Gradient checks of every layer in float64 are in test_layers.py.)
"""
import math
import warnings

import numpy as np
import pytest

from fastcnn import activations, losses, reference, utils
from fastcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Flatten, MaxPool2D
from fastcnn.models import Sequential, load_model

DTYPES = (np.float32, np.float64)
DTYPE_IDS = ("float32", "float64")
# Logits of +-1e4 with their exact per-sample cross-entropy for the label in LABELS.
LOGITS = np.array([[1e4, -1e4, 0.0],        # label 1: lse = 1e4 -> 2e4
                   [-1e4, 1e4, 1e4],        # label 2: lse = 1e4 + log 2 -> log 2
                   [-1e4, -1e4, -1e4],      # label 0: lse = -1e4 + log 3 -> log 3
                   [1e4, 0.0, -1e4]])       # label 0: -> 0
LABELS = np.array([1, 2, 0, 0])
EXACT = np.array([2e4, math.log(2), math.log(3), 0.0])


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # no overflow, no invalid value
        yield


def _softmax_exact(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_crossentropy_of_logits_1e4_is_exact_and_finite(name, dtype):
    loss = losses.get(name)
    z = LOGITS.astype(dtype)
    y = LABELS if name.startswith("sparse") else np.eye(3)[LABELS]
    targets = loss.prepare_targets(y, (None, 3), dtype)
    value, grad = loss.value_and_grad(targets, z, logits=True)
    assert value == pytest.approx(EXACT.mean(), rel=1e-6 if dtype == np.float32 else 1e-15)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    expected = (_softmax_exact(z) - np.eye(3)[LABELS]) / len(z)
    np.testing.assert_allclose(grad, expected, atol=1e-7 if dtype == np.float32 else 1e-16)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_of_logits_1e4_is_exact_in_both_forms(dtype):
    z = LOGITS.astype(dtype)
    expected = _softmax_exact(z)
    for got in (activations.softmax(z), activations.get("softmax").forward(z.copy(), True)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_probability_crossentropy_of_saturated_softmax_is_clipped_not_infinite(dtype):
    # softmax(+-1e4) has exact zeros: the probability form clips them to 1e-7 (Keras)
    p = _softmax_exact(LOGITS).astype(dtype)
    per_sample = losses.categorical_crossentropy(np.eye(3)[LABELS], p)
    assert np.all(np.isfinite(per_sample))
    assert per_sample[0] == pytest.approx(-math.log(1e-7), rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("loss,output", [("sparse_categorical_crossentropy", "softmax"),
                                         ("categorical_crossentropy", "softmax"),
                                         ("binary_crossentropy", "sigmoid"),
                                         ("mse", "softmax")])
def test_model_with_logits_of_1e4_trains_evaluates_and_predicts_finite_values(loss, output,
                                                                             dtype):
    utils.set_random_seed(2)
    units = 1 if output == "sigmoid" else 3
    name = np.dtype(dtype).name
    model = Sequential([Dense(units, input_shape=(3,), dtype=name),
                        Activation(output, dtype=name)])
    model.compile(optimizer="sgd", loss=loss)
    # the logits are the inputs themselves: kernel = identity (or a sum), bias 0
    kernel = np.eye(3, units) if units == 3 else np.ones((3, 1))
    model.set_weights([kernel, np.zeros(units)])
    x = LOGITS.astype(dtype)
    if loss.startswith("sparse"):
        y = LABELS
    elif output == "sigmoid":
        y = (LABELS == 0).astype(dtype)[:, None]
    else:
        y = np.eye(3)[LABELS]
    prediction = model.predict(x)
    assert prediction.dtype == dtype and np.all(np.isfinite(prediction))
    if output == "softmax":
        np.testing.assert_allclose(prediction, _softmax_exact(x), atol=1e-7)
    value = model.evaluate(x, y, verbose=0)
    assert np.isfinite(value)
    if loss.endswith("categorical_crossentropy"):       # fused with the softmax: exact
        assert value == pytest.approx(EXACT.mean(), rel=1e-6)
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert all(np.isfinite(v) for v in history.history["loss"])
    assert all(np.all(np.isfinite(w)) and w.dtype == dtype for w in model.get_weights())


# --- float64 end to end --------------------------------------------------------------------------

def _float64_model():
    kw = dict(dtype="float64")
    return Sequential([
        Conv2D(16, 3, activation="relu", padding="same", input_shape=(10, 10, 1), **kw),
        MaxPool2D(**kw),
        Conv2D(20, 3, activation="tanh", **kw),        # many channels: the GEMM paths
        AveragePooling2D(**kw),
        Flatten(**kw),
        Dense(12, activation="relu", **kw),
        Dense(3, activation="softmax", **kw),
    ])


def _numpy_forward(model, x):
    """The model's forward pass in plain float64 NumPy (fastcnn.reference for the kernels)."""
    a = np.asarray(x, np.float64)
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            a = reference.conv2d(a, layer.kernel, layer.bias, layer.strides, layer.padding)
        elif isinstance(layer, Dense):
            a = a @ layer.kernel + layer.bias
        elif isinstance(layer, MaxPool2D):
            a = reference.max_pool2d(a, layer.pool_size, layer.strides, layer.padding)
        elif isinstance(layer, AveragePooling2D):
            a = reference.avg_pool2d(a, layer.pool_size, layer.strides, layer.padding)
        elif isinstance(layer, Flatten):
            a = a.reshape(len(a), -1)
        name = getattr(getattr(layer, "activation", None), "name", "linear")
        a = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "softmax": _softmax_exact,
             "linear": lambda v: v}[name](a)
    return a


def test_float64_training_end_to_end(tmp_path):
    gen = np.random.default_rng(6)
    labels = gen.integers(0, 3, 240)
    x = gen.standard_normal((240, 10, 10, 1)) * 0.5
    x[..., 0] += labels[:, None, None]                 # learnable: brightness is the class
    utils.set_random_seed(6)
    model = _float64_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    # float64 all the way: this matches a float64 NumPy forward pass far beyond float32
    prediction = model.predict(x[:16])
    assert prediction.dtype == np.float64
    expected = _numpy_forward(model, x[:16])
    assert np.max(np.abs(prediction - expected)) < 1e-13

    history = model.fit(x, labels, batch_size=24, epochs=6, verbose=0, validation_split=0.2)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    assert all(w.dtype == np.float64 for w in model.weights)
    assert all(v.dtype in (np.float64, np.int64) for v in model.optimizer.variables)
    gradients = model._plan(model._graph, "train").gradients
    assert len(gradients) == len(model.trainable_weights)
    assert all(g.dtype == np.float64 for g in gradients)
    np.testing.assert_allclose(model.predict(x[:16]), _numpy_forward(model, x[:16]),
                               rtol=0, atol=1e-13)

    model.save(tmp_path / "m64.fcnn")
    loaded = load_model(tmp_path / "m64.fcnn")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == np.float64 and a.tobytes() == b.tobytes()
    assert loaded.evaluate(x, labels, verbose=0) == model.evaluate(x, labels, verbose=0)


def test_float64_model_keeps_precision_that_float32_would_lose():
    # inputs that differ by 1e-12 give different float64 outputs (float32 would merge them)
    utils.set_random_seed(0)
    model = _float64_model()
    x = np.random.default_rng(0).standard_normal((2, 10, 10, 1))
    x[1] = x[0] + 1e-12
    out = model.predict(x)
    assert not np.array_equal(out[0], out[1])
    assert np.max(np.abs(out[0] - out[1])) < 1e-9


def test_relu_backward_is_a_select_in_the_compiled_and_the_numpy_pass():
    y = np.array([[0.0, 1.0, np.nan, 2.0]])
    dy = np.array([[np.nan, np.inf, 3.0, -1.0]])
    relu = activations.get("relu")
    compiled = relu.backward(dy, y)                           # contiguous, one dtype
    fallback = relu.backward(dy[:, ::-1][:, ::-1].astype(np.float32), y)   # mixed dtypes
    expected = [[0.0, np.inf, 0.0, -1.0]]                     # dy where y > 0, else 0
    np.testing.assert_array_equal(compiled, expected)
    np.testing.assert_array_equal(fallback, expected)
