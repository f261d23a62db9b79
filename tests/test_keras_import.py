"""Keras 3 files: fixtures written by real Keras (tools/make_keras_fixtures.py, tests/data/keras/)
load and predict what Keras predicted, train on from their optimizer state as Keras did, and
their weights load into the same models built with fastcnn; compile settings map to fastcnn's
or leave the model uncompiled with a warning. Hostile files: tests/test_keras_hostile.py."""
import warnings

import numpy as np
import pytest

from fastcnn import utils
from fastcnn.layers import Dense
from fastcnn.models import Model, Sequential, load_model
from keras_fixtures import (DATA, SHAPES, TOLERANCE, fit_on_data, fixture_input, keras_document,
                            keras_file, load_quietly, residual_model, seed_model)


# ---- the fixtures -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [("seed", Sequential), ("residual", Model),
                                       ("layers", Model), ("adamw", Sequential)])
def test_keras_fixture_predicts_what_keras_predicted(name, cls):
    model = load_quietly(DATA / f"{name}.keras")
    assert type(model) is cls
    names = [layer["config"]["name"] for layer in keras_document(name)["config"]["layers"]
             if layer["class_name"] != "InputLayer" or cls is Model]
    assert [layer.name for layer in model.layers] == names
    expected = np.load(DATA / f"{name}.predictions.npy")
    got = model.predict(fixture_input(name), verbose=0)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_seed_model_is_compiled_as_keras_saved_it():
    model = load_model(DATA / "seed.keras")
    saved = keras_document("seed")["compile_config"]
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    config = model.optimizer.get_config()
    for key in ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"):
        assert config[key] == saved["optimizer"]["config"][key]
    assert model.loss.name == saved["loss"] == "categorical_crossentropy"
    assert model.metrics_names == ["loss"] + saved["metrics"]
    assert model.optimizer.iterations == 0


def test_loaded_seed_model_trains_on_with_fit():
    model = load_model(DATA / "seed.keras")
    gen = np.random.default_rng(5)
    x = gen.random((48,) + SHAPES["seed"], dtype=np.float32)
    y = utils.to_categorical(gen.integers(0, 10, 48), 10)
    history = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.9 * losses[0], losses
    assert model.optimizer.iterations == 12


@pytest.mark.parametrize("name, optimizer", [
    ("residual", "SGD"),      # Nesterov momentum, cosine decay
    ("adam", "Adam"),         # amsgrad: moments interleaved per variable, then maxima
    ("adamw", "AdamW"),       # exponential decay, float64
    ("rmsprop", "RMSprop"),   # centered, with momentum: three slot lists
])
def test_model_trains_on_from_its_optimizer_state_as_keras_did(name, optimizer):
    """The slots and the step count come from the file (started afresh, the predictions
    after training on differ from Keras' by 2e-2 to 7e-2)."""
    model = load_model(DATA / f"{name}.keras")
    assert type(model.optimizer).__name__ == optimizer and model.optimizer.iterations == 3
    x, y = fit_on_data(name)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    expected = np.load(DATA / f"{name}.after_fit.npy")
    got = model.predict(fixture_input(name), verbose=0)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_load_without_compile_leaves_the_model_uncompiled():
    model = load_model(DATA / "residual.keras", compile=False)
    assert not model.compiled


def test_keras_only_initializer_is_named_in_a_warning():
    with pytest.warns(UserWarning, match=r"bias_initializer=RandomNormal"):
        load_model(DATA / "layers.keras")


# ---- load_weights -------------------------------------------------------------------------------
@pytest.mark.parametrize("build, file", [(residual_model, "residual.weights.h5"),
                                         (residual_model, "residual.keras"),
                                         (seed_model, "seed.keras")])
def test_load_weights_into_a_model_fastcnn_built(build, file):
    model = build()
    model.load_weights(DATA / file)
    name = file.split(".")[0]
    np.testing.assert_allclose(model.predict(fixture_input(name), verbose=0),
                               np.load(DATA / f"{name}.predictions.npy"), rtol=0,
                               atol=TOLERANCE)


@pytest.mark.parametrize("build, match", [
    (lambda: residual_model(units=6), r"layer 'dense\w*'.*shape \(16, 5\), expected \(16, 6\)"),
    (lambda: residual_model(filters=12),
     r"layer 'conv2d\w*'.*shape \(3, 3, 8, 16\), expected \(3, 3, 8, 12\)"),
    (lambda: residual_model(stem_bias=True),
     r"layer 'conv2d\w*' has 2 weights, but the weights file holds 1"),
])
def test_load_weights_mismatch_names_the_layer_and_changes_nothing(build, match):
    model = build()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.load_weights(DATA / "residual.weights.h5")
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model.get_weights(), before))


# ---- compile settings ---------------------------------------------------------------------------
def _with_compile(compile_config):
    def edit(doc):
        doc["compile_config"] = compile_config
    return edit


# compile configs as Keras 3.15 writes them (get_compile_config of compiled models)
_ADAMW = {"module": "keras.optimizers", "class_name": "AdamW", "config": {
    "name": "adam_w", "learning_rate": {
        "module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9,
                   "staircase": False, "name": "ExponentialDecay"}, "registered_name": None},
    "weight_decay": 0.004, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9,
    "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}, "registered_name": None}
_RMSPROP = {"module": "keras.optimizers", "class_name": "RMSprop", "config": {
    "name": "rm_sprop", "learning_rate": 0.0010000000474974513, "weight_decay": None,
    "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
    "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-07,
    "centered": True}, "registered_name": None}
_SMOOTHED = {"module": "keras.losses", "class_name": "CategoricalCrossentropy", "config": {
    "name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
    "from_logits": False, "label_smoothing": 0.1, "axis": -1}, "registered_name": None}
_LOSS_FUNCTION = {"module": "builtins", "class_name": "function",
                  "config": "categorical_crossentropy", "registered_name": "function"}
_ACCURACY_OBJECT = {"module": "keras.metrics", "class_name": "CategoricalAccuracy",
                    "config": {"name": "categorical_accuracy", "dtype": "float32"},
                    "registered_name": None}


def _compile(optimizer, loss, metrics):
    return {"optimizer": optimizer, "loss": loss, "loss_weights": None, "metrics": metrics,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


@pytest.mark.parametrize("compile_config, check", [
    (_compile(_ADAMW, _LOSS_FUNCTION, [_ACCURACY_OBJECT, "acc"]),
     lambda m: (type(m.optimizer).__name__ == "AdamW" and m.optimizer.weight_decay == 0.004
                and m.optimizer.get_config()["learning_rate"]["config"]["decay_rate"] == 0.9
                and m.loss.name == "categorical_crossentropy"
                and m.metrics_names == ["loss", "categorical_accuracy", "acc"])),
    (_compile(_RMSPROP, _SMOOTHED, ["accuracy"]),
     lambda m: (m.optimizer.centered and m.optimizer.momentum == 0.5
                and m.loss.label_smoothing == 0.1)),
])
def test_keras_compile_configs_map_to_fastcnn(tmp_path, compile_config, check):
    path = keras_file(tmp_path, config=_with_compile(compile_config),
                      h5=lambda f: f.__delitem__("optimizer"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_model(path)
    assert model.compiled and check(model)


def test_optimizer_state_of_another_optimizer_is_left_with_a_warning(tmp_path):
    path = keras_file(tmp_path, config=_with_compile(_compile(_ADAMW, "mse", [])))
    with pytest.warns(UserWarning, match=r"optimizer state was not restored: the file holds 21 "
                                         r"optimizer variables, AdamW here has 41"):
        model = load_model(path)
    assert model.compiled and model.optimizer.iterations == 0


@pytest.mark.parametrize("change, named", [
    (lambda c: c.update(optimizer={"module": "keras.optimizers", "class_name": "Adagrad",
                                   "config": {}, "registered_name": None}), "Adagrad"),
    (lambda c: c["optimizer"]["config"].update(use_ema=True), "use_ema=True"),
    (lambda c: c.update(loss="huber"), "huber"),
    (lambda c: c.update(metrics=["mae"]), "mae"),
    (lambda c: c.update(loss_weights=[0.5]), "loss_weights"),
])
def test_compile_settings_fastcnn_lacks_load_uncompiled_with_a_warning(tmp_path, change, named):
    def edit(doc):
        change(doc["compile_config"])
    with pytest.warns(UserWarning, match=rf"uncompiled.*{named}"):
        model = load_model(keras_file(tmp_path, config=edit))
    assert not model.compiled
    np.testing.assert_allclose(model.predict(fixture_input("residual"), verbose=0),
                               np.load(DATA / "residual.predictions.npy"), rtol=0,
                               atol=TOLERANCE)


def test_a_fastcnn_file_named_keras_still_loads(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))])
    model.save(tmp_path / "mine.keras")
    loaded = load_model(tmp_path / "mine.keras")
    assert [a.tobytes() for a in loaded.get_weights()] == [a.tobytes()
                                                           for a in model.get_weights()]


def test_integer_input_dtype_is_read_as_keras_computes_it(tmp_path):
    """Keras' layers cast an Input(dtype="uint8") to their float dtype, as fastcnn's do."""
    def edit(doc):
        doc["config"]["layers"][0]["config"]["dtype"] = "uint8"
    model = load_quietly(keras_file(tmp_path, config=edit))
    pixels = np.round(fixture_input("residual")).astype(np.uint8)
    np.testing.assert_array_equal(model.predict(pixels, verbose=0),
                                  load_quietly(DATA / "residual.keras").predict(
                                      pixels.astype(np.float32), verbose=0))
