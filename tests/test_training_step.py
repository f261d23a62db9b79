"""What the model does to a training step beyond calling its layers one by one: it keeps
their buffers, so a step after the first allocates no new large arrays (fresh memory costs a
page fault per 4 KiB; NumPy reports its allocations to tracemalloc, so the largest block
allocated during later steps is measured directly), and it lets a max pooling do the
backward pass of the ReLU before it, from the picks it recorded in the forward pass. None of
this may change a result."""
import tracemalloc

import numpy as np
import pytest

import fastcnn

from fastcnn import ops
from fastcnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from fastcnn.layers.base import Layer
from fastcnn.models import Sequential
from fastcnn.utils import set_random_seed, to_categorical

# Arrays of the seed model at batch 64 are 0.1-5 MB; the few allocations left in a step (the
# loss gradient, tap tables, metric temporaries) are far below this.
LARGE = 64 * 1024


def _seed_model():
    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=[28, 28, 1]),
                        MaxPool2D(), Flatten(), Dense(256, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _largest_allocation(fn):
    """The size of the largest block allocated (and still alive or not) while fn runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before


def test_training_steps_after_the_first_allocate_no_large_arrays():
    set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((320, 28, 28, 1), dtype=np.float32)
    y = to_categorical(rng.integers(0, 10, 320), 10)
    model = _seed_model()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=True)   # first steps allocate
    grown = _largest_allocation(
        lambda: model.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=True))
    assert grown < LARGE, f"later steps allocated {grown} bytes at their peak"


def test_the_buffers_make_no_difference_to_the_results(monkeypatch):
    """Training with the kept buffers and with a fresh array for every result gives the same
    weights, bit for bit (no buffer is overwritten while it is still needed)."""
    rng = np.random.default_rng(5)
    x = rng.random((96, 28, 28, 1), dtype=np.float32)
    y = to_categorical(rng.integers(0, 10, 96), 10)

    def train():
        set_random_seed(7)
        model = _seed_model()
        model.fit(x, y, batch_size=40, epochs=2, verbose=0)   # 40, 40, 16: a partial batch
        return model.get_weights(), model.predict(x, batch_size=30)

    kept_weights, kept_pred = train()
    monkeypatch.setattr(Layer, "_buffer",
                        lambda self, key, shape: np.empty(shape, dtype=self.dtype))
    fresh_weights, fresh_pred = train()
    for a, b in zip(kept_weights, fresh_weights):
        assert np.array_equal(a, b)
    assert np.array_equal(kept_pred, fresh_pred)


def test_a_layer_called_directly_returns_arrays_the_caller_owns():
    rng = np.random.default_rng(1)
    layer = Dense(8, activation="relu", input_shape=[4])
    first = layer(rng.random((3, 4), dtype=np.float32))
    kept = first.copy()
    layer(rng.random((3, 4), dtype=np.float32))
    assert np.array_equal(first, kept)


def test_relu_backward_moved_into_max_pooling_changes_no_gradient():
    """The model's step (ReLU's backward pass done by the max pooling on its pooled gradient)
    against the layers run one by one, each doing its own backward pass: the same gradients,
    bit for bit, also with ties and zeros (many ReLU outputs are 0)."""
    rng = np.random.default_rng(11)
    set_random_seed(2)
    model = Sequential([Conv2D(8, (3, 3), activation="relu", input_shape=[9, 10, 2]),
                        MaxPool2D(pool_size=(2, 3), strides=(1, 2)),   # overlapping windows
                        Flatten(), Dense(5, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.round(rng.standard_normal((6, 9, 10, 2)), 1).astype(np.float32)   # ties
    y = to_categorical(rng.integers(0, 3, 6), 3)

    # the layers one by one, outside the model: no buffers kept, no moved ReLU pass
    out = x
    for layer in model.layers[:-1]:
        out = layer(out, training=True)
    logits = model.layers[-1].pre_activation(out, training=True)
    _, grad = model.loss.value_and_grad(y.astype(np.float32), logits, logits=True)
    for i in range(len(model.layers) - 1, -1, -1):
        grad = model.layers[i].backward(grad, need_input_grad=i > 0)
    expected = [g.copy() for layer in model.layers for g in layer.grads]

    with model._kept_buffers():
        assert model.layers[1].masks_relu_input and model.layers[0].relu_backward_done
        model._train_step(x, y.astype(np.float32), True, [])
    got = [g for layer in model.layers for g in layer.grads]
    # _train_step applied the update; the gradients it used are still in layer.grads
    assert not model.layers[1].masks_relu_input and not model.layers[0].relu_backward_done
    for a, b in zip(got, expected):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("relu", [False, True], ids=["max", "max_after_relu"])
def test_max_pooling_layer_backward_from_its_picks_equals_the_backward_from_x(relu):
    """In training the MaxPooling2D layer records where each maximum was found and its
    backward pass reads those picks instead of the input: the same dx, bit for bit, as the
    backward from x; a masks_relu_input flag changed in between falls back to x."""
    rng = np.random.default_rng(5)
    x = np.round(rng.standard_normal((5, 9, 8, 19)), 1).astype(np.float32)   # ties
    x.ravel()[::23] = np.nan
    if relu:
        x = np.where(np.isnan(x), x, np.maximum(x, 0)).astype(np.float32)
    layer = MaxPool2D(pool_size=3, strides=2, padding="same")
    layer.masks_relu_input = relu
    y = layer(x, training=True)
    assert layer._picks is not None and layer._picks[1] == relu
    dy = rng.standard_normal(y.shape).astype(np.float32)
    want = ops._max_pool2d_backward(dy, x, 3, 2, "same", None, relu_input=relu)
    assert layer.backward(dy).tobytes() == want.tobytes()
    layer.masks_relu_input = not relu
    other = ops._max_pool2d_backward(dy, x, 3, 2, "same", None, relu_input=not relu)
    assert layer.backward(dy).tobytes() == other.tobytes()
    layer(x, training=False)
    assert layer._picks is None


def _train_fused_and_plain(build, x, y, batch_size):
    """The model ``build()`` makes, trained at 2 threads for 2 epochs with the fused conv +
    pooling passes (as fit runs them) and without (the layers one by one): (fused, plain),
    after checking that their weights are bitwise equal."""
    models = []
    before = fastcnn.get_num_threads()
    fastcnn.set_num_threads(2)
    try:
        for fuse in (True, False):
            set_random_seed(4)
            model = build()
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            if not fuse:
                model._fused_conv_pool = lambda i, x: None
                model._weight_grads_through_pool = lambda first, grad: False
            model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
            models.append(model)
    finally:
        fastcnn.set_num_threads(before)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        assert a.tobytes() == b.tobytes()
    return models


def test_conv_and_max_pooling_fused_in_the_step_train_bitwise_like_the_two_layers():
    """In a training step a Conv2D with ReLU and the MaxPooling2D after it run as one pass
    (the convolution's output pooled image by image, never written out), and the first
    layer's weight gradients come straight from the pooling's gradient and picks: the
    trained weights are bitwise those of the two layers run one after the other."""
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal((64, 16, 16, 2)), 1).astype(np.float32)
    y = to_categorical(rng.integers(0, 4, 64), 4)
    fused, plain = _train_fused_and_plain(
        lambda: Sequential([Conv2D(8, (3, 3), activation="relu", input_shape=[16, 16, 2]),
                            MaxPool2D(), Flatten(), Dense(4, activation="softmax")]), x, y, 16)
    # forward fused (no input kept), backward straight to the weights (no dx buffer made)
    assert fused.layers[1]._x is None and fused.layers[1]._picks is not None
    assert "dx" not in fused.layers[1]._buffers
    assert plain.layers[1]._x is not None and "dx" in plain.layers[1]._buffers


def test_fused_conv_and_pooling_that_is_not_the_first_layer_trains_bitwise_like_the_layers():
    """A Conv2D with ReLU on few channels after another layer, then MaxPooling2D: the forward
    pass is fused, the backward pass goes through the picks and the Conv2D's dx (no weight
    gradients straight from the pooling, which only a first layer gets): the same weights."""
    rng = np.random.default_rng(8)
    x = np.round(rng.standard_normal((32, 12, 12, 1)), 1).astype(np.float32)
    y = to_categorical(rng.integers(0, 3, 32), 3)
    fused, plain = _train_fused_and_plain(
        lambda: Sequential([Conv2D(4, (3, 3), input_shape=[12, 12, 1]),
                            Conv2D(6, (3, 3), activation="relu"), MaxPool2D(), Flatten(),
                            Dense(3, activation="softmax")]), x, y, 8)
    assert fused.layers[2]._x is None and plain.layers[2]._x is not None
