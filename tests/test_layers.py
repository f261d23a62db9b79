"""Layers: forward values, shapes, initializers, activations, casting and argument errors, and
backward details; every layer's gradients and config go through tests/test_layer_harness.py."""
import math
import warnings

import numpy as np
import pytest

from fastcnn import activations, initializers, reference, utils
from fastcnn.layers import (Activation, AveragePooling2D, AvgPool2D, CallState, Conv2D, Dense,
                            Dropout, Flatten, MaxPool2D, MaxPooling2D)


@pytest.fixture
def gen():
    return np.random.default_rng(1234)


# ---- backward details the harness (test_layer_harness.py) does not cover --------------------
def _train_call(layer, x):
    """The layer's training forward with a state of its own, as a model's plan runs it."""
    state = CallState()
    return layer.forward(layer.prepare_input(x), state, True), state


def test_dropout_backward_uses_the_forward_mask(gen):
    layer = Dropout(0.4, seed=7, dtype="float64")
    x = gen.uniform(0.5, 1.5, size=(50, 20))
    y, state = _train_call(layer, x)
    mask = y / x                                   # 0 or 1/(1 - rate), fixed for this step
    assert set(np.unique(np.round(mask, 12))) == {0.0, round(1 / 0.6, 12)}
    dy = gen.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dy, state, True, None), dy * mask, rtol=1e-15)


@pytest.mark.parametrize("shape,filters,kernel,padding", [
    ((2, 6, 6, 1), 3, 3, "same"), ((1, 5, 5, 17), 2, 3, "valid"), ((2, 3, 3, 9), 4, 1, "valid")])
def test_first_layer_relu_weight_gradients_equal_those_computed_with_dx(gen, shape, filters,
                                                                       kernel, padding):
    """need_input_grad=False: the ReLU's mask is applied while dy is packed (relu_output);
    the weight gradients are bitwise those of the pass that also computes dx."""
    layer = Conv2D(filters, kernel, padding=padding, activation="relu",
                   bias_initializer="glorot_uniform", dtype="float64")
    x = gen.standard_normal(shape)
    y, state = _train_call(layer, x)
    dy = gen.standard_normal(y.shape)
    without = [np.empty_like(w) for w in layer.trainable_weights]
    assert layer.backward(dy, state, False, without) is None
    with_dx = [np.empty_like(w) for w in layer.trainable_weights]
    assert layer.backward(dy, state, True, with_dx).shape == x.shape
    for a, b in zip(without, with_dx):
        assert a.tobytes() == b.tobytes()


# ---- forward values -----------------------------------------------------------------------------
def test_conv2d_forward_is_conv_plus_bias_then_activation(gen):
    layer = Conv2D(4, (3, 3), strides=2, padding="same", activation="relu",
                   bias_initializer="glorot_uniform")
    x = gen.standard_normal((2, 9, 8, 3)).astype(np.float32)
    y = layer(x)
    expected = np.maximum(reference.conv2d(x.astype(np.float64), layer.kernel.astype(np.float64),
                                           layer.bias.astype(np.float64), 2, "same"), 0)
    assert y.dtype == np.float32 and y.shape == (2, 5, 4, 4) == (2,) + layer.output_shape[1:]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_dense_forward_is_matmul_plus_bias(gen):
    layer = Dense(3, bias_initializer="glorot_uniform", dtype="float64")
    x = gen.standard_normal((4, 6))
    np.testing.assert_allclose(layer(x), x @ layer.kernel + layer.bias, rtol=1e-14)
    assert layer.kernel.shape == (6, 3) and layer.bias.shape == (3,)


def test_pooling_layers_forward_match_reference(gen):
    x = gen.standard_normal((2, 6, 7, 3))
    np.testing.assert_array_equal(MaxPool2D(dtype="float64")(x), reference.max_pool2d(x, 2))
    np.testing.assert_allclose(AvgPool2D(3, 2, "same", dtype="float64")(x),
                               reference.avg_pool2d(x, 3, 2, "same"), rtol=1e-14)


def test_flatten_keeps_row_major_hwc_order(gen):
    x = gen.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, 60))


def test_dropout_is_identity_outside_training_and_scales_in_training(gen):
    x = np.ones((200, 100), np.float32)
    layer = Dropout(0.25)
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(y == 0) - 0.25) < 0.02


def test_dropout_masks_follow_set_random_seed():
    x = np.ones((10, 10), np.float32)
    utils.set_random_seed(3)
    first = Dropout(0.5)(x, training=True)
    utils.set_random_seed(3)
    second = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, Dropout(0.5)(x, training=True))


def test_dropout_noise_shape_shares_the_mask_along_none_free_axes():
    x = np.ones((4, 3, 3, 8), np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 1, None), seed=1)(x, training=True)
    assert np.all(y == y[:, :1, :1, :])


# ---- shapes, dtypes, casting --------------------------------------------------------------------
@pytest.mark.parametrize("layer,in_shape,out_shape", [
    (Conv2D(32, (3, 3)), (None, 28, 28, 1), (None, 26, 26, 32)),
    (Conv2D(8, 5, strides=2, padding="same"), (None, 28, 27, 3), (None, 14, 14, 8)),
    (MaxPool2D(), (None, 26, 26, 32), (None, 13, 13, 32)),
    (MaxPool2D(3, 2, "same"), (None, 7, 7, 2), (None, 4, 4, 2)),
    (AveragePooling2D((2, 3)), (None, 7, 7, 2), (None, 3, 2, 2)),
    (Flatten(), (None, 13, 13, 32), (None, 5408)),
    (Dense(256), (None, 5408), (None, 256)),
    (Dropout(0.5), (None, 7), (None, 7)),
    (Activation("softmax"), (None, 7), (None, 7)),
])
def test_output_shape_inference(layer, in_shape, out_shape):
    layer.build_for(in_shape)
    assert layer.output_shape == out_shape


def test_layers_cast_inputs_to_their_dtype_and_never_modify_them(gen):
    images = gen.integers(0, 256, size=(2, 5, 5, 1)).astype(np.uint8)
    kept = images.copy()
    conv = Conv2D(2, 3, activation="relu")
    out = conv(images)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(images, kept)
    assert Dense(2)(np.ones((1, 3))).dtype == np.float32          # float64 in
    assert Dense(2)([[1, 2, 3]]).dtype == np.float32              # nested lists
    assert Dense(2, dtype="float64")(np.ones((1, 3), np.float32)).dtype == np.float64
    x = gen.standard_normal((2, 4))
    x_kept = x.copy()
    Activation("relu")(x)                                          # not applied in place
    np.testing.assert_array_equal(x, x_kept)


def test_incompatible_input_shape_after_build_is_a_value_error():
    layer = Dense(3)
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\).*\(2, 5\)"):
        layer(np.ones((2, 5)))


@pytest.mark.parametrize("make,error,match", [
    (lambda: Conv2D(0, 3), ValueError, "filters"),
    (lambda: Conv2D(2.5, 3), TypeError, "filters"),
    (lambda: Conv2D(4, (3, 0)), ValueError, "kernel_size"),
    (lambda: Conv2D(4, 3, padding="full"), ValueError, "padding"),
    (lambda: Conv2D(4, 3, strides=0), ValueError, "strides"),
    (lambda: Conv2D(4, 3, activation="swish2"), ValueError, "activation"),
    (lambda: Conv2D(4, 3, kernel_initializer="magic"), ValueError, "initializer"),
    (lambda: Conv2D(4, 3, data_format="channels_first"), ValueError, "channels_last"),
    (lambda: Dense(-1), ValueError, "units"),
    (lambda: Dense(3, use_bias="yes"), TypeError, "use_bias"),
    (lambda: Dense(3, dtype="int32"), ValueError, "dtype"),
    (lambda: Dense(3, input_shape=(0,)), ValueError, "input_shape"),
    (lambda: Dropout(1.0), ValueError, "rate"),
    (lambda: Dropout("half"), TypeError, "rate"),
    (lambda: MaxPool2D(pool_size=(2, 2, 2)), TypeError, "pool_size"),
    (lambda: Activation("gelu9"), ValueError, "activation"),
])
def test_bad_arguments_raise_errors_naming_them(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("layer,shape,match", [
    (Conv2D(4, 3), (None, 28, 28), "rank 4"),
    (Conv2D(4, 5), (None, 3, 3, 1), "kernel_size"),
    (MaxPool2D(), (None, 10), "rank 4"),
    (MaxPool2D(4), (None, 3, 8, 1), "pool_size"),
    (Dense(3), (None,), "rank >= 2"),
])
def test_inputs_a_layer_cannot_take_raise_value_errors(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer.build_for(shape)


# ---- names and configs --------------------------------------------------------------------------
def test_default_names_follow_keras():
    names = [Conv2D(1, 1).name, MaxPool2D().name, AvgPool2D().name, Dense(1).name,
             Flatten().name]
    bases = ["conv2d", "max_pooling2d", "average_pooling2d", "dense", "flatten"]
    for name, base in zip(names, bases):
        assert name == base or (name.startswith(base + "_") and name[len(base) + 1:].isdigit())
    first, second = Dense(1), Dense(1)
    assert first.name != second.name
    assert MaxPool2D is MaxPooling2D and AvgPool2D is AveragePooling2D


# ---- initializers and activations ---------------------------------------------------------------
def test_glorot_uniform_uses_keras_conv_fans():
    utils.set_random_seed(0)
    kernel = initializers.get("glorot_uniform")((3, 3, 16, 32), "float32")
    limit = math.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 32))
    assert kernel.dtype == np.float32
    assert np.max(np.abs(kernel)) <= limit
    assert np.max(np.abs(kernel)) > 0.99 * limit            # the whole range is used
    assert abs(np.std(kernel) - limit / math.sqrt(3)) < 0.02 * limit


def test_he_normal_is_truncated_with_keras_standard_deviation():
    utils.set_random_seed(0)
    kernel = initializers.get("he_normal")((200, 300), "float64")
    std = math.sqrt(2 / 200)
    draw_std = std / 0.87962566103423978
    assert np.max(np.abs(kernel)) <= 2 * draw_std
    assert np.max(np.abs(kernel)) > 1.9 * draw_std
    assert abs(np.std(kernel) - std) < 0.01 * std


def test_dense_weights_start_glorot_uniform_with_zero_bias():
    layer = Dense(256)
    layer.build_for((None, 5408))
    assert np.max(np.abs(layer.kernel)) <= math.sqrt(6 / (5408 + 256))
    assert np.all(layer.bias == 0)


def test_initialisation_follows_set_random_seed():
    utils.set_random_seed(11)
    a = Conv2D(4, 3, input_shape=(8, 8, 2))
    a.build_for((None, 8, 8, 2))
    utils.set_random_seed(11)
    b = Conv2D(4, 3)
    b.build_for((None, 8, 8, 2))
    np.testing.assert_array_equal(a.kernel, b.kernel)


def test_softmax_and_sigmoid_are_stable_for_huge_inputs():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = activations.softmax(z)
        s = activations.sigmoid(z)
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    np.testing.assert_allclose(s, [[1, 0, 0.5], [0, 0, 0]], rtol=1e-15)


def test_activations_by_name():
    z = np.array([-2.0, 0.5])
    np.testing.assert_array_equal(activations.get("relu").forward(z), [0, 0.5])
    np.testing.assert_allclose(activations.get("tanh").forward(z), np.tanh(z))
    assert activations.get(None).name == activations.get("linear").name == "linear"
