"""Keras 3 files: fixtures written by real Keras (tools/make_keras_fixtures.py, tests/data/keras/)
load and predict what Keras predicted, train on, and their weights load into a model fastcnn
builds; hostile files are refused with a ValueError naming the problem, without running code
or allocating what the file claims."""
import base64
import io
import json
import marshal
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from fastcnn import keras_format, utils
from fastcnn.layers import (Activation, Add, BatchNormalization, Conv2D, Dense, Flatten,
                            GlobalAveragePooling2D, Input, MaxPool2D, ReLU, Rescaling)
from fastcnn.models import Model, Sequential, load_model
from fastcnn.regularizers import L2
from audit_loading import load_under_audit

DATA = Path(__file__).parent / "data" / "keras"
SHAPES = {"seed": (28, 28, 1), "residual": (16, 16, 3), "layers": (8, 8, 2), "adam": (6,),
          "adamw": (6,), "rmsprop": (6,)}
CLASSES = {"residual": 5, "adam": 3, "adamw": 3, "rmsprop": 3}
TOLERANCE = 2e-4
PEAK_BYTES = 32 * 2**20


def fixture_input(name, count=8):
    """The input Keras predicted on (tools/make_keras_fixtures.py: fixture_input)."""
    x = np.random.default_rng(0).random((count,) + SHAPES[name], dtype=np.float32)
    return x * np.float32(255.0) if name == "residual" else x


def fit_on_data(name):
    """What <name>.after_fit.npy was trained on (tools/make_keras_fixtures.py: fit_on_data)."""
    gen = np.random.default_rng(2)
    x = gen.random((16,) + SHAPES[name], dtype=np.float32)
    if name == "residual":
        x = x * np.float32(255.0)
    return x, gen.integers(0, CLASSES[name], 16)


def keras_document(name):
    with zipfile.ZipFile(DATA / f"{name}.keras") as archive:
        return json.loads(archive.read("config.json"))


def keras_file(tmp_path, name="residual", config=None, h5=None, out="hostile.keras",
               compression=zipfile.ZIP_STORED, pad=0):
    """A copy of fixture ``name`` whose config.json ``config(doc)`` and whose weights
    ``h5(h5py.File)`` change; ``pad`` bytes of zeros after the weights."""
    with zipfile.ZipFile(DATA / f"{name}.keras") as src:
        doc = json.loads(src.read("config.json"))
        weights, meta = src.read("model.weights.h5"), src.read("metadata.json")
    if config is not None:
        config(doc)
    if h5 is not None:
        buffer = io.BytesIO(weights)
        with h5py.File(buffer, "a") as f:
            h5(f)
        weights = buffer.getvalue()
    path = tmp_path / out
    with zipfile.ZipFile(path, "w", compression) as dst:
        dst.writestr("metadata.json", meta)
        dst.writestr("config.json", json.dumps(doc))
        dst.writestr("model.weights.h5", weights + bytes(pad))
    return path


def load_quietly(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(path, **kwargs)


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
def residual_model(units=5, filters=16, stem_bias=False):
    """The residual model of tools/make_keras_fixtures.py, built with fastcnn."""
    def conv_bn(t, f, strides=1, kernel=3, use_bias=False, **kwargs):
        t = Conv2D(f, kernel, strides=strides, padding="same", use_bias=use_bias, **kwargs)(t)
        return BatchNormalization(momentum=0.5)(t)

    inp = Input(SHAPES["residual"])
    x = Rescaling(1.0 / 255)(inp)
    x = Activation("relu")(conv_bn(x, 8, use_bias=stem_bias, kernel_regularizer=L2(1e-4)))
    y = conv_bn(ReLU()(conv_bn(x, 8)), 8)
    x = Activation("relu")(Add()([x, y]))
    y = conv_bn(ReLU()(conv_bn(x, filters, strides=2)), 16)
    shortcut = conv_bn(x, 16, strides=2, kernel=1)
    x = Activation("relu")(Add()([shortcut, y]))
    return Model(inp, Dense(units, activation="softmax")(GlobalAveragePooling2D()(x)))


def seed_model():
    """The seed model of the README, as tools/make_keras_fixtures.py builds it in Keras."""
    return Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=SHAPES["seed"]),
                       MaxPool2D(), Flatten(), Dense(256, activation="relu"),
                       Dense(10, activation="softmax")])


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


# ---- hostile files ------------------------------------------------------------------------------
def layer(doc, cls, index=0):
    return [e for e in doc["config"]["layers"] if e["class_name"] == cls][index]


def lambda_entry(entry, marker):
    """``entry`` made a Keras Lambda layer whose marshalled function would create ``marker``."""
    code = compile(f"lambda x: open({str(marker)!r}, 'w').close() or x", "<hostile>", "eval")
    entry.update(class_name="Lambda", module="keras.layers")
    entry["config"] = {"name": entry["config"]["name"], "trainable": True, "function": {
        "class_name": "__lambda__", "config": {
            "code": base64.encodebytes(marshal.dumps(code.co_consts[0])).decode("ascii"),
            "defaults": None, "closure": None}}, "arguments": {}}


def replace_dataset(group_path, make):
    def edit(f):
        group = f[group_path.rsplit("/", 1)[0]]
        del group[group_path.rsplit("/", 1)[1]]
        make(group, group_path.rsplit("/", 1)[1])
    return edit


def _set(path, value):
    """An edit of config.json setting ``path`` (keys, ``("Class", i)`` for a layer) to value."""
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = layer(doc, *key) if isinstance(key, tuple) else node[key]
        node[path[-1]] = value
    return edit


_FOREIGN = {"module": "os", "class_name": "system", "config": {}, "registered_name": None}
_CONV = ("Conv2D", 0)
_DENSE_KERNEL = "layers/dense/vars/0"
HOSTILE = {
    "unknown_layer_class": (dict(config=_set([_CONV, "class_name"], "Conv3D")), r"'Conv3D'"),
    "lambda_layer": (dict(config=lambda d: lambda_entry(layer(d, "Rescaling"), MARKER[0])),
                     r"lambda \(marshalled code\)"),
    "module_os_initializer": (dict(config=_set([_CONV, "config", "kernel_initializer"],
                                               _FOREIGN)), r"module 'os'"),
    "builtins_function_activation": (
        dict(config=_set([_CONV, "config", "activation"], {
            "module": "builtins", "class_name": "function", "config": "exec",
            "registered_name": "function"})), r"function 'exec' of module 'builtins'"),
    "builtins_function_loss": (
        dict(config=_set(["compile_config", "loss"], {
            "module": "builtins", "class_name": "function", "config": "eval",
            "registered_name": "function"})), r"function 'eval'"),
    "custom_package_object": (
        dict(config=_set([_CONV, "registered_name"], "evil>MyLayer")), r"'evil>MyLayer'"),
    "custom_model_class": (dict(config=lambda d: d.update(class_name="MyModel",
                                                         module="my_package.models")),
                           r"'my_package.models'"),
    "dilation_rate": (dict(config=_set([_CONV, "config", "dilation_rate"], [2, 2])),
                      r"dilation_rate=\[2, 2\]"),
    "channels_first": (dict(config=_set([_CONV, "config", "data_format"], "channels_first")),
                       r"data_format='channels_first'"),
    "groups": (dict(config=_set([_CONV, "config", "groups"], 2)), r"groups=2"),
    "unknown_argument": (dict(config=_set([_CONV, "config", "new_option"], 1)),
                         r"'new_option'"),
    "mixed_precision": (dict(config=_set([_CONV, "config", "dtype", "config", "name"],
                                         "mixed_float16")), r"'mixed_float16'"),
    "huge_dense": (dict(config=_set([("Dense", 0), "config", "units"], 10**12)),
                   r"would create a weight of shape \(16, 1000000000000\)"),
    "huge_conv_kernel": (dict(config=_set([_CONV, "config", "kernel_size"], [40000, 40000])),
                         r"would create a weight of shape \(40000, 40000, 3, 8\)"),
    "dataset_wrong_shape": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((5, 16), np.float32)))), r"shape \(5, 16\), expected \(16, 5\)"),
    "dataset_int_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((16, 5), np.int32)))), r"int32 values"),
    "dataset_object_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), dtype=h5py.string_dtype()))), r"object values"),
    "dataset_compound_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), dtype=[("a", "<f4"), ("b", "<f4")]))), r"values, expected float"),
    "dataset_soft_link": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.__setitem__(
        n, h5py.SoftLink("/layers/dense/vars/1")))), r"SoftLink"),
    "dataset_external_link": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.__setitem__(
        n, h5py.ExternalLink("/etc/passwd", "/x")))), r"ExternalLink"),
    "dataset_external_storage": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), np.float32, external=[("/etc/passwd", 0, 320)]))), r"stored outside"),
    "dataset_compressed": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((16, 5), np.float32), compression="gzip"))), r"filtered"),
    "extra_dataset": (dict(h5=lambda f: f["layers/dense/vars"].create_dataset(
        "2", data=np.zeros(3, np.float32))), r"has 2 weights, but model.weights.h5 holds 3"),
    "missing_layer_group": (dict(h5=lambda f: f["layers"].__delitem__("conv2d_5")),
                            r"layer 'conv2d_5' has 1 weights, but .* holds 0"),
    "declared_larger_than_the_model_needs": (dict(pad=2 * 2**20), r"more than the \d+ the "
                                                                  r"model's weights can take"),
    "deflate_bomb": (dict(pad=16 * 2**20, compression=zipfile.ZIP_DEFLATED),
                     r"decompression bomb"),
}
MARKER = [None]       # set per test: the file a hostile Lambda would create


def _not_hdf5(tmp_path):
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(DATA / "residual.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for name in ("metadata.json", "config.json"):
            dst.writestr(name, src.read(name))
        size = src.getinfo("model.weights.h5").file_size
        dst.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(size - 8))
    return path


def _truncated(keep):
    def make(tmp_path):
        path = tmp_path / "hostile.keras"
        data = (DATA / "residual.keras").read_bytes()
        path.write_bytes(data[:keep(len(data))])
        return path
    return make


def _weights_truncated(tmp_path):
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(DATA / "residual.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for name in ("metadata.json", "config.json"):
            dst.writestr(name, src.read(name))
        weights = src.read("model.weights.h5")
        dst.writestr("model.weights.h5", weights[:len(weights) // 2])
    return path


def _forged_size(tmp_path):
    """The central directory claims model.weights.h5 holds 2**32 - 16 bytes."""
    path = keras_file(tmp_path)
    data = bytearray(path.read_bytes())
    at = data.rindex(b"PK\x01\x02", 0, data.rindex(b"model.weights.h5"))
    data[at + 24:at + 28] = (2**32 - 16).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


MADE_WHOLE = {"weights_not_hdf5": (_not_hdf5, r"model.weights.h5 is not a valid HDF5 file"),
              "truncated_zip_start": (_truncated(lambda n: 100),
                                      r"truncated, corrupted or not a zip"),
              "truncated_zip_half": (_truncated(lambda n: n // 2),
                                     r"truncated, corrupted or not a zip"),
              "truncated_zip_end": (_truncated(lambda n: n - 1),
                                    r"truncated, corrupted or not a zip"),
              "weights_truncated": (_weights_truncated,
                                    r"model.weights.h5 is not a valid HDF5 file, or is trunc"),
              "forged_declared_size": (_forged_size, r"decompression bomb")}
CASES = sorted(HOSTILE) + sorted(MADE_WHOLE)


def make_hostile(case, tmp_path):
    """(path, what the error must match) of hostile file ``case``."""
    if case in MADE_WHOLE:
        make, match = MADE_WHOLE[case]
        return make(tmp_path), match
    kwargs, match = HOSTILE[case]
    return keras_file(tmp_path, out=f"{case}.keras", **kwargs), match


@pytest.mark.parametrize("case", CASES)
def test_hostile_keras_file_is_refused_naming_the_problem(tmp_path, case):
    MARKER[0] = tmp_path / "marker"
    path, match = make_hostile(case, tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            load_quietly(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < PEAK_BYTES, f"loading allocated {peak} bytes"
    assert not MARKER[0].exists()


@pytest.mark.parametrize("case", ["dataset_wrong_shape", "dataset_object_dtype",
                                  "dataset_soft_link", "weights_not_hdf5"])
def test_hostile_weights_file_is_refused_by_load_weights(tmp_path, case):
    path, match = make_hostile(case, tmp_path)
    with zipfile.ZipFile(path) as archive:
        weights = tmp_path / "hostile.weights.h5"
        weights.write_bytes(archive.read("model.weights.h5"))
    model = residual_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match.replace("model.weights.h5", "the weights file")):
        model.load_weights(weights)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model.get_weights(), before))


def test_weights_file_larger_than_the_model_needs_is_refused_unread(tmp_path):
    path = tmp_path / "big.weights.h5"
    path.write_bytes((DATA / "residual.weights.h5").read_bytes() + bytes(2 * 2**20))
    model = residual_model()
    assert path.stat().st_size > keras_format.weights_size_limit(model)
    with pytest.raises(ValueError, match=r"more than the \d+ that weights of model"):
        model.load_weights(path)


def test_loading_hostile_keras_files_runs_no_code(tmp_path):
    MARKER[0] = tmp_path / "marker"
    paths = []
    for i, case in enumerate(CASES):
        folder = tmp_path / str(i)
        folder.mkdir()
        paths.append(make_hostile(case, folder)[0])
    results, events = load_under_audit(DATA / "layers.keras", [DATA / "residual.keras"] + paths)
    assert results == ["loaded"] + ["ValueError"] * len(CASES)
    assert events == "[]"
    assert not MARKER[0].exists()
