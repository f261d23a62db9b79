"""Training recipes against NumPy expectations written from Keras 3's definitions: label
smoothing, sample and class weights (the batch loss is the weighted sum over the batch size),
regularizers (the penalty in the reported loss, its gradient in the update), initial_epoch."""
import math

import numpy as np
import pytest

from fastcnn import losses, optimizers, regularizers, utils
from fastcnn.layers import Conv2D, Dense, Flatten
from fastcnn.models import Sequential, load_model


@pytest.fixture
def gen():
    return np.random.default_rng(5)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---- label smoothing ----------------------------------------------------------------------------
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_label_smoothing_is_keras_smoothing(gen, from_logits):
    y = np.eye(4)[gen.integers(0, 4, 6)]
    z = gen.standard_normal((6, 4))
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.2)
    smoothed = y * 0.8 + 0.2 / 4
    p = _softmax(z)
    expected = np.mean(-np.sum(smoothed * np.log(p), axis=-1))
    got = loss(y, z if from_logits else p)
    assert got == pytest.approx(expected, rel=1e-12)
    value, grad = loss.value_and_grad(y, z, logits=True)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, (p - smoothed) / 6, rtol=1e-12, atol=1e-15)


def test_binary_label_smoothing_is_keras_smoothing(gen):
    y = gen.integers(0, 2, (5, 3)).astype(np.float64)
    p = gen.uniform(0.05, 0.95, (5, 3))
    loss = losses.BinaryCrossentropy(label_smoothing=0.1)
    t = y * 0.9 + 0.05
    expected = np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))
    assert loss(y, p) == pytest.approx(expected, rel=1e-12)
    assert loss.get_config() == {"from_logits": False, "label_smoothing": 0.1}
    assert losses.get(losses.serialize(loss)).label_smoothing == 0.1


@pytest.mark.parametrize("make,error,match", [
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=-0.1), ValueError, "label_smoothing"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing="0.1"), TypeError,
     "label_smoothing"),
    (lambda: losses.SparseCategoricalCrossentropy(label_smoothing=0.1), TypeError,
     "label_smoothing"),
])
def test_bad_label_smoothing_is_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---- sample and class weights -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["categorical_crossentropy", "binary_crossentropy", "mse"])
def test_sample_weights_weight_each_samples_loss_and_gradient(gen, name):
    loss = losses.get(name)
    n = 5
    y = (np.eye(3)[gen.integers(0, 3, n)] if name != "binary_crossentropy"
         else gen.integers(0, 2, (n, 3)).astype(np.float64))
    p = _softmax(gen.standard_normal((n, 3)))
    w = np.array([0.0, 1.0, 2.5, 0.5, 1.0])
    value, grad = loss.value_and_grad(y, p, sample_weight=w)
    per_sample = {"categorical_crossentropy": -np.sum(y * np.log(p), axis=-1),
                  "binary_crossentropy": np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)),
                                                 axis=-1),
                  "mse": np.mean((p - y) ** 2, axis=-1)}[name]
    assert value == pytest.approx(np.sum(w * per_sample) / n, rel=1e-12)
    _, unweighted = loss.value_and_grad(y, p)
    np.testing.assert_allclose(grad, unweighted * w[:, None], rtol=1e-12, atol=1e-15)
    assert loss(y, p, sample_weight=w) == pytest.approx(value, rel=1e-12)


def _linear_model(units=1, seed=0, **kwargs):
    utils.set_random_seed(seed)
    model = Sequential([Dense(units, input_shape=(3,), dtype="float64", **kwargs)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


def test_fit_with_sample_weights_takes_the_weighted_gradient(gen):
    x, y = gen.standard_normal((6, 3)), gen.standard_normal((6, 1))
    w = np.array([1.0, 0.0, 2.0, 0.5, 3.0, 1.0])
    model = _linear_model()
    kernel, bias = model.get_weights()
    history = model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0,
                        sample_weight=w)
    residual = x @ kernel + bias - y
    grad_k = 2 / 6 * x.T @ (w[:, None] * residual)
    grad_b = 2 / 6 * np.sum(w[:, None] * residual, axis=0)
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * grad_k, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], bias - 0.1 * grad_b, rtol=1e-12)
    assert history.history["loss"][0] == pytest.approx(np.sum(w * residual[:, 0] ** 2) / 6,
                                                       rel=1e-12)
    after = x @ model.get_weights()[0] + model.get_weights()[1] - y
    assert model.evaluate(x, y, verbose=0, sample_weight=w) == pytest.approx(
        np.sum(w * after[:, 0] ** 2) / 6, rel=1e-12)


def test_class_weights_are_sample_weights_by_label(gen):
    x = gen.standard_normal((8, 3))
    labels = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    y = np.eye(3)[labels]
    class_weight = {0: 2.0, 2: 0.5}                        # class 1: weight 1
    per_class = np.array([2.0, 1.0, 0.5])[labels]
    models = []
    for kwargs in ({"class_weight": class_weight}, {"sample_weight": per_class}):
        utils.set_random_seed(3)
        model = Sequential([Dense(3, activation="softmax", input_shape=(3,), dtype="float64")])
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, **kwargs)
        models.append(model)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        assert a.tobytes() == b.tobytes()
    sparse = Sequential([Dense(3, activation="softmax", input_shape=(3,))])
    sparse.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    sparse.fit(x, labels, epochs=1, verbose=0, class_weight={1: 3.0})


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(sample_weight=np.ones(5)), ValueError, r"sample_weight must hold one weight per "
                                                 r"sample, shape \(6,\), got shape \(5,\)"),
    (dict(sample_weight=-np.ones(6)), ValueError, "sample_weight must hold finite weights >= 0"),
    (dict(sample_weight=np.full(6, np.nan)), ValueError, "sample_weight must hold finite"),
    (dict(class_weight={0: 1.0, 3: 2.0}), ValueError, r"class_weight has a weight for class 3.*"
                                                      r"classes 0 to 2"),
    (dict(class_weight={0: -1.0}), ValueError, r"class_weight\[0\] must be a finite number"),
    (dict(class_weight=[1.0, 2.0]), TypeError, "class_weight must be a dict"),
    (dict(class_weight={0: 1.0}, sample_weight=np.ones(6)), ValueError, "not both"),
    (dict(initial_epoch=-1), ValueError, "initial_epoch must be >= 0"),
])
def test_bad_weights_and_epochs_name_the_argument(gen, kwargs, error, match):
    model = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(error, match=match):
        model.fit(gen.standard_normal((6, 2)), np.eye(3)[[0, 1, 2, 0, 1, 2]], verbose=0,
                  **kwargs)


def test_initial_epoch_numbers_the_epochs_and_trains_the_rest(gen):
    model = _linear_model()
    seen = []
    from fastcnn.callbacks import Callback

    class Epochs(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    history = model.fit(gen.standard_normal((8, 3)), gen.standard_normal((8, 1)),
                        batch_size=4, epochs=5, initial_epoch=3, verbose=0,
                        callbacks=[Epochs()])
    assert seen == [3, 4] and history.epoch == [3, 4]
    assert model.optimizer.iterations == 4


# ---- regularizers -------------------------------------------------------------------------------
def test_regularizer_penalties_and_names(gen):
    w = gen.standard_normal((4, 3))
    assert regularizers.L1(0.3).penalty(w) == pytest.approx(0.3 * np.sum(np.abs(w)))
    assert regularizers.L2(0.2).penalty(w) == pytest.approx(0.2 * np.sum(w ** 2))
    both = regularizers.L1L2(l1=0.1, l2=0.05)
    assert both(w) == pytest.approx(0.1 * np.sum(np.abs(w)) + 0.05 * np.sum(w ** 2))
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get("l1").l1 == 0.01
    assert regularizers.get(regularizers.serialize(both)).get_config() == both.get_config()
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="regularizer must be one of"):
        regularizers.get("l3")


def test_the_penalty_is_in_the_loss_and_its_gradient_in_the_update(gen):
    x, y = gen.standard_normal((6, 3)), gen.standard_normal((6, 1))
    model = _linear_model(kernel_regularizer=regularizers.L2(0.05),
                          bias_regularizer=regularizers.L1(0.02),
                          bias_initializer="glorot_uniform")
    kernel, bias = model.get_weights()
    penalty = 0.05 * np.sum(kernel ** 2) + 0.02 * np.sum(np.abs(bias))
    residual = x @ kernel + bias - y
    assert model.evaluate(x, y, verbose=0) == pytest.approx(np.mean(residual ** 2) + penalty,
                                                            rel=1e-12)
    history = model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(np.mean(residual ** 2) + penalty,
                                                       rel=1e-12)
    grad_k = 2 / 6 * x.T @ residual + 2 * 0.05 * kernel
    grad_b = 2 / 6 * np.sum(residual, axis=0) + 0.02 * np.sign(bias)
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * grad_k, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], bias - 0.1 * grad_b, rtol=1e-12)


def test_regularizers_are_saved_with_the_model(tmp_path, gen):
    model = Sequential([Conv2D(2, 3, input_shape=(5, 5, 1), kernel_regularizer="l2"), Flatten(),
                        Dense(2, bias_regularizer=regularizers.L1L2(0.1, 0.2))])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.fcnn")
    loaded = load_model(tmp_path / "m.fcnn")
    assert loaded.get_config() == model.get_config()
    assert [type(r).__name__ for l in loaded.layers for _, r in l.regularized_weights] == [
        "L2", "L1L2"]
    x = gen.standard_normal((3, 5, 5, 1))
    assert loaded.evaluate(x, np.zeros((3, 2)), verbose=0) == model.evaluate(
        x, np.zeros((3, 2)), verbose=0)
    assert math.isfinite(loaded.fit(x, np.zeros((3, 2)), verbose=0).history["loss"][0])


def test_weight_decay_skips_the_weights_excluded_by_name(gen):
    """An optimizer's weight decay moves every trained weight but those whose
    "<layer>/<weight>" path matches exclude_from_weight_decay(var_names=...); with a zero
    gradient (the targets are the outputs) only the decay moves a weight."""
    utils.set_random_seed(1)
    model = Sequential([Dense(2, input_shape=(3,), name="d", bias_initializer="ones",
                              dtype="float64")])
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    model.compile(optimizer=opt, loss="mse")
    x = np.zeros((4, 3))
    kernel, bias = model.get_weights()
    model.fit(x, x[:, :2] + bias, epochs=1, batch_size=4, verbose=0)   # residual 0
    np.testing.assert_array_equal(model.get_weights()[1], bias)          # excluded
    np.testing.assert_allclose(model.get_weights()[0], kernel - kernel * 0.5 * 0.1, rtol=1e-15)
