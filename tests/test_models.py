"""Sequential: whole-model backprop vs finite differences, the training loop's Keras semantics
(shuffling, last partial batch, validation, History), evaluate/predict, weights, summary,
reproducibility, and errors for bad data."""
import numpy as np
import pytest

from fastcnn import losses, optimizers, utils
from fastcnn.callbacks import Callback
from fastcnn.layers import (Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten,
                            MaxPool2D)
from fastcnn.models import Sequential


@pytest.fixture
def gen():
    return np.random.default_rng(7)


def tiny_model(dtype="float64", output="softmax"):
    return Sequential([
        Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1), dtype=dtype,
               bias_initializer="glorot_uniform"),
        MaxPool2D(dtype=dtype),
        Flatten(dtype=dtype),
        Dense(4, activation="tanh", dtype=dtype, bias_initializer="glorot_uniform"),
        Dense(3, activation=output, dtype=dtype, bias_initializer="glorot_uniform"),
    ])


def seed_model():
    return Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=[28, 28, 1]),
        MaxPool2D(),
        Flatten(),
        Dense(256, activation="relu"),
        Dense(10, activation="softmax"),
    ])


def toy_data(gen, n=24, shape=(6, 6, 1), classes=3):
    labels = gen.integers(0, classes, n)
    x = gen.standard_normal((n,) + shape)
    x[..., 0] += labels[:, None, None]               # learnable: brightness encodes the class
    return x, labels


# ---- backprop of a whole model ------------------------------------------------------------------
@pytest.mark.parametrize("loss,output", [("categorical_crossentropy", "softmax"),
                                         ("sparse_categorical_crossentropy", "softmax"),
                                         ("mse", "softmax"),
                                         ("binary_crossentropy", "sigmoid")])
def test_whole_model_gradients_match_finite_differences(gen, loss, output):
    """One SGD step with learning rate 1 moves every weight by minus its gradient; that
    gradient must match central differences of the loss that ``evaluate`` reports."""
    utils.set_random_seed(5)
    model = tiny_model(output=output)
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss=loss)
    x, labels = toy_data(gen, n=5)
    y = labels if loss.startswith("sparse") else np.eye(3)[labels]
    before = model.get_weights()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    analytic = [b - a for b, a in zip(before, model.get_weights())]

    weights = [w.copy() for w in before]
    step = 1e-6
    for w, g in zip(weights, analytic):
        numeric = np.zeros_like(w)
        for i in range(w.size):
            saved = w.flat[i]
            w.flat[i] = saved + step
            model.set_weights(weights)
            up = model.evaluate(x, y, batch_size=len(x), verbose=0)
            w.flat[i] = saved - step
            model.set_weights(weights)
            down = model.evaluate(x, y, batch_size=len(x), verbose=0)
            w.flat[i] = saved
            numeric.flat[i] = (up - down) / (2 * step)
        err = np.max(np.abs(g - numeric)) / np.max(np.abs(numeric))
        assert err < 1e-6, f"{w.shape}: relative error {err:.2e}"


def test_fused_and_probability_losses_agree(gen):
    utils.set_random_seed(1)
    model = tiny_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, labels = toy_data(gen, n=10)
    y = np.eye(3)[labels]
    expected = np.mean(losses.categorical_crossentropy(y, model.predict(x)))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-12)


def test_a_softmax_output_hands_the_loss_its_logits():
    """With saturated logits the two formulations differ: the probabilities clipped at 1e-7
    give -log(1e-7) = 16.1 for a wrong class, the logits give the exact 60 (and a gradient
    that is not zero). evaluate and fit must use the logits."""
    model = Sequential([Dense(3, activation="softmax", input_shape=(2,), dtype="float64")])
    model.set_weights([np.array([[30.0, -30.0, 0.0], [0.0, 0.0, 0.0]]), np.zeros(3)])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, y = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    exact = 60.0 + np.log1p(np.exp(-30.0) + np.exp(-60.0))
    clipped = float(np.mean(losses.categorical_crossentropy(y, model.predict(x))))
    assert clipped == pytest.approx(-np.log(1e-7), rel=1e-6)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(exact, rel=1e-12)
    assert type(model._plan(model._graph, "train").steps[-1]).__name__ == "LogitsStep"
    kernel = model.get_weights()[0].copy()
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(exact, rel=1e-12)
    assert not np.array_equal(model.get_weights()[0], kernel)     # a non-zero gradient


# ---- training loop ------------------------------------------------------------------------------
def test_training_learns_a_separable_problem(gen):
    utils.set_random_seed(0)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)), MaxPool2D(),
                        Flatten(), Dense(16, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, labels = toy_data(gen, n=300)
    history = model.fit(x, labels, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    loss, acc = model.evaluate(x, labels, verbose=0)
    assert acc > 0.9


def test_last_partial_batch_is_used_and_epochs_count_steps(gen):
    model = tiny_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, labels = toy_data(gen, n=10)
    seen = []

    class Sizes(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    model.fit(x, np.eye(3)[labels], batch_size=4, epochs=2, verbose=0, callbacks=[Sizes()])
    assert model.optimizer.iterations == 6
    assert seen == [0, 1, 2, 0, 1, 2]


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses(gen):
    model = tiny_model()
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x, labels = toy_data(gen, n=10)
    y = np.eye(3)[labels]
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # with a zero learning rate the weights never change, so the epoch mean equals evaluate's
    loss, acc = model.evaluate(x, y, batch_size=3, verbose=0)
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-12)
    assert history.history["accuracy"][0] == pytest.approx(acc, rel=1e-12)


def test_shuffling_each_epoch_changes_the_result_and_follows_the_seed(gen):
    x, labels = toy_data(gen, n=40)

    def train(shuffle):
        utils.set_random_seed(2)
        model = tiny_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, batch_size=8, epochs=2, shuffle=shuffle, verbose=0)
        return model.get_weights()

    first, again, unshuffled = train(True), train(True), train(False)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(first, unshuffled))


def test_validation_split_takes_the_last_samples_before_shuffling(gen):
    utils.set_random_seed(3)
    model = tiny_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, labels = toy_data(gen, n=20)
    y = np.eye(3)[labels]
    history = model.fit(x, y, batch_size=4, epochs=2, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in history.history.values())
    assert model.optimizer.iterations == 2 * 4                   # 15 training samples
    val_loss, val_acc = model.evaluate(x[15:], y[15:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-12)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc, rel=1e-12)


def test_validation_data(gen):
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    x, labels = toy_data(gen, n=12)
    history = model.fit(x[:8], labels[:8], epochs=1, verbose=0,
                        validation_data=(x[8:], labels[8:]))
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[8:], labels[8:], verbose=0)[0], rel=1e-12)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}


def test_evaluate_returns_loss_alone_or_with_metrics(gen):
    x, labels = toy_data(gen, n=6)
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, labels, verbose=0), float)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x, labels, verbose=0)
    assert isinstance(result, list) and len(result) == 2 and 0 <= result[1] <= 1
    as_dict = model.evaluate(x, labels, verbose=0, return_dict=True)
    assert as_dict == {"loss": result[0], "accuracy": result[1]}


def test_predict_matches_a_direct_call_and_ignores_batch_size(gen):
    model = tiny_model()
    x, _ = toy_data(gen, n=11)
    full = model(x)
    assert full.shape == (11, 3) and full.dtype == np.float64
    np.testing.assert_allclose(model.predict(x, batch_size=4), full, rtol=1e-13)
    np.testing.assert_allclose(full.sum(axis=1), 1.0, rtol=1e-13)


def test_inputs_are_cast_and_never_modified(gen):
    utils.set_random_seed(0)
    model = Sequential([Flatten(input_shape=(4, 4, 1)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = gen.integers(0, 256, (8, 4, 4, 1)).astype(np.uint8)
    y = np.eye(3)[gen.integers(0, 3, 8)]
    x_kept, y_kept = x.copy(), y.copy()
    model.fit(x, y, batch_size=3, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(x, x_kept)
    np.testing.assert_array_equal(y, y_kept)
    assert model.predict(x.tolist()).dtype == np.float32


def test_deferred_build_from_the_first_data(gen):
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(2)])
    assert not model.built
    out = model.predict(gen.standard_normal((3, 5, 5, 1)))
    assert out.shape == (3, 2) and model.input_shape == (None, 5, 5, 1)


def test_dropout_only_acts_in_training(gen):
    utils.set_random_seed(4)
    model = Sequential([Dense(8, input_shape=(5,)), Dropout(0.5), Dense(2)])
    x = gen.standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert not np.array_equal(model(x, training=True), model(x, training=True))


def test_activation_layer_output_is_fused_with_the_loss(gen):
    utils.set_random_seed(0)
    model = Sequential([Dense(3, input_shape=(4,), dtype="float64"),
                        Activation("softmax", dtype="float64")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = gen.standard_normal((5, 4)) * 1e4                       # saturated softmax
    y = np.eye(3)[[0, 1, 2, 0, 1]]
    model.fit(x, y, epochs=1, verbose=0)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert np.isfinite(model.evaluate(x, y, verbose=0))


# ---- weights and summary ------------------------------------------------------------------------
def test_get_and_set_weights_round_trip_and_validate(gen):
    model = tiny_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 3, 1, 2), (2,), (8, 4), (4,), (4, 3), (3,)]
    new = [gen.standard_normal(w.shape) for w in weights]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="6 weight arrays, got 5"):
        model.set_weights(new[:5])
    bad = list(new)
    bad[2] = np.zeros((4, 8))
    with pytest.raises(ValueError, match=r"layer 'dense.*\(8, 4\).*\(4, 8\)"):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), new):                  # nothing changed
        np.testing.assert_array_equal(a, b)


def test_summary_of_the_seed_model_prints_keras_param_counts():
    lines = []
    seed_model().summary(print_fn=lines.append)
    text = "\n".join(lines)
    rows = {line.split()[1]: line for line in lines if "(None," in line}
    assert rows["(Conv2D)"].split()[-1] == "320"
    assert "(None, 26, 26, 32)" in rows["(Conv2D)"]
    assert rows["(MaxPooling2D)"].split()[-1] == "0"
    assert "(None, 5408)" in rows["(Flatten)"]
    dense = [line for line in lines if "(Dense)" in line]
    assert [d.split()[-1] for d in dense] == ["1,384,704", "2,570"]
    assert "Total params: 1,387,594 (5.29 MB)" in text
    assert "Trainable params: 1,387,594" in text
    assert "Non-trainable params: 0" in text
    assert text.startswith('Model: "sequential')
    assert seed_model().count_params() == 1387594


def test_summary_of_an_unbuilt_model_marks_layers_unbuilt():
    lines = []
    Sequential([Dense(3)]).summary(print_fn=lines.append)
    assert any("0 (unbuilt)" in line for line in lines)


# ---- errors -------------------------------------------------------------------------------------
def test_fit_and_evaluate_before_compile_are_errors(gen):
    model = tiny_model()
    x, labels = toy_data(gen, n=4)
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, np.eye(3)[labels], verbose=0)
    with pytest.raises(ValueError, match="compile"):
        model.evaluate(x, np.eye(3)[labels], verbose=0)


def test_images_without_the_channel_axis_are_rejected_like_keras():
    model = seed_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(ValueError, match=r"expected shape \(None, 28, 28, 1\).*\(4, 28, 28\)"):
        model.fit(x, np.eye(10)[[0, 1, 2, 3]], verbose=0)
    with pytest.raises(ValueError, match=r"\(None, 28, 28, 1\)"):
        model.predict(x)


def test_x_and_y_of_different_lengths(gen):
    model = tiny_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, labels = toy_data(gen, n=6)
    with pytest.raises(ValueError, match=r"x has 6 .* y has 5"):
        model.fit(x, np.eye(3)[labels[:5]], verbose=0)


def test_labels_of_the_wrong_shape(gen):
    model = tiny_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, labels = toy_data(gen, n=6)
    with pytest.raises(ValueError, match=r"y has shape \(6,\).*to_categorical"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match=r"y has shape \(6, 4\)"):
        model.fit(x, np.zeros((6, 4)), verbose=0)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"validation_split": 1.5}, ValueError, "validation_split"),
    ({"validation_data": ([1, 2],)}, ValueError, "validation_data"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"callbacks": [print]}, TypeError, "callbacks"),
])
def test_bad_fit_arguments(gen, kwargs, error, match):
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, labels = toy_data(gen, n=6)
    with pytest.raises(error, match=match):
        model.fit(x, labels, **kwargs)


def test_bad_model_construction_and_compile():
    with pytest.raises(TypeError, match="fastcnn layer"):
        Sequential([lambda x: x])
    with pytest.raises(ValueError, match="already in the model"):
        Sequential([Dense(2, name="same", input_shape=(3,)), Dense(2, name="same")])
    with pytest.raises(ValueError, match="kernel_size"):
        Sequential([AveragePooling2D(input_shape=(8, 8, 1)), Conv2D(1, 5)])
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam")
    with pytest.raises(TypeError, match="metrics"):
        model.compile(optimizer="adam", loss="mse", metrics="accuracy")
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["f1"])
