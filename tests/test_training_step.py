"""What a model's plan does to a training step beyond calling its layers one by one: it keeps
their buffers, so a step after the first allocates no new large arrays (fresh memory costs a
page fault per 4 KiB; NumPy reports its allocations to tracemalloc, so the largest block
allocated during later steps is measured directly), and max pooling keeps picks instead of its
input. None of this may change a result. (The fusion rules: tests/test_fusion.py.)"""
import tracemalloc

import numpy as np
import pytest

from fastcnn import _fused_ops as fused_ops, ops
from fastcnn.layers import CallState, Conv2D, Dense, Flatten, MaxPool2D
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


# The CIFAR-class models at batch 32 on 32x32x3 images: every activation or gradient buffer is
# at least 0.5 MB (ResNet-20's last stage 32x8x8x64 floats; Dense(512) in K-CNN 64 kB is the
# exception), and a step's few small Python and NumPy objects (kept by the allocator's free
# lists for a while, so they add up over a deep model) stay well below this.
LARGE_CIFAR = 256 * 1024


def _zoo_model(name):
    from fastcnn.layers import RandomFlip, RandomTranslation
    from fastcnn.models import zoo
    if name == "kcnn":                       # dropout, Activation("relu") layers
        return zoo.kcnn()
    if name == "resnet20_augmented":         # batch normalization, Add, augmentation
        return zoo.resnet20(augmentation=[RandomFlip("horizontal"),
                                          RandomTranslation(0.1, 0.1)])
    return zoo.tf_cnn()


@pytest.mark.parametrize("name, fuse", [("kcnn", True), ("tf_cnn", True),
                                        ("resnet20_augmented", True),
                                        ("resnet20_augmented", False)])
def test_cifar_models_allocate_no_large_arrays_after_the_first_step(name, fuse):
    """Every layer of the CIFAR-class models keeps its buffers too, fused or not."""
    set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((64, 32, 32, 3), dtype=np.float32)
    y = to_categorical(rng.integers(0, 10, 64), 10)
    model = _zoo_model(name)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  fuse=fuse)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    grown = _largest_allocation(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0))
    assert grown < LARGE_CIFAR, f"later steps allocated {grown} bytes at their peak"


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
    fresh = []
    monkeypatch.setattr(CallState, "buffer",
                        lambda self, key, shape, dtype: fresh.append(key) or
                        np.empty(shape, dtype=dtype))
    fresh_weights, fresh_pred = train()
    assert fresh, "the patched buffer was never used: the test tests nothing"
    for a, b in zip(kept_weights, fresh_weights):
        assert np.array_equal(a, b)
    assert np.array_equal(kept_pred, fresh_pred)


def test_a_layer_or_model_called_directly_returns_arrays_the_caller_owns():
    rng = np.random.default_rng(1)
    layer = Dense(8, activation="relu", input_shape=[4])
    first = layer(rng.random((3, 4), dtype=np.float32))
    kept = first.copy()
    layer(rng.random((3, 4), dtype=np.float32))
    assert np.array_equal(first, kept)
    model = _seed_model()
    out = model(rng.random((2, 28, 28, 1), dtype=np.float32))
    kept = out.copy()
    model(rng.random((2, 28, 28, 1), dtype=np.float32))
    model.predict(rng.random((2, 28, 28, 1), dtype=np.float32))
    assert np.array_equal(out, kept)


@pytest.mark.parametrize("relu", [False, True], ids=["max", "max_after_relu"])
def test_max_pooling_backward_from_its_picks_equals_the_backward_from_x(relu):
    """In training the MaxPooling2D layer records where each maximum was found and its
    backward pass reads those picks instead of the input: the same dx, bit for bit, as the
    backward from x (ties, NaN); with the ReLU folded in (what the fusion rule asks of the
    kernels), the dx of the ReLU's input."""
    rng = np.random.default_rng(5)
    x = np.round(rng.standard_normal((5, 9, 8, 19)), 1).astype(np.float32)   # ties
    x.ravel()[::23] = np.nan
    if relu:
        x = np.where(np.isnan(x), x, np.maximum(x, 0)).astype(np.float32)
    dy = rng.standard_normal((5, 5, 4, 19)).astype(np.float32)
    want = ops._max_pool2d_backward(dy, x, 3, 2, "same", None, relu_input=relu)
    if relu:
        picks = np.empty_like(dy)
        y = fused_ops.max_pool2d_picking(x, 3, 2, "same", None, picks, True)
        got = fused_ops.max_pool2d_backward_picks(dy, picks, x.shape, 3, 2, "same", None)
    else:
        layer = MaxPool2D(pool_size=3, strides=2, padding="same")
        state = CallState()
        y = layer.forward(layer.prepare_input(x), state, True)
        assert state.picks is not None and state.x is None      # it keeps picks, not x
        got = layer.backward(dy, state, True, None)
    assert y.tobytes() == ops.max_pool2d(x, 3, 2, "same").tobytes()
    assert got.tobytes() == want.tobytes()
