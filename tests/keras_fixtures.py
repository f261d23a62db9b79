"""Shared by the Keras-file tests: the fixtures of tests/data/keras/ (made by
tools/make_keras_fixtures.py with real Keras 3), the inputs they were run on, copies of them
with changes, and the same models built with fastcnn."""
import io
import json
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np

from fastcnn.layers import (Activation, Add, BatchNormalization, Conv2D, Dense, Flatten,
                            GlobalAveragePooling2D, Input, MaxPool2D, ReLU, Rescaling)
from fastcnn.models import Model, Sequential, load_model
from fastcnn.regularizers import L2

DATA = Path(__file__).parent / "data" / "keras"
SHAPES = {"seed": (28, 28, 1), "residual": (16, 16, 3), "layers": (8, 8, 2), "adam": (6,),
          "adamw": (6,), "rmsprop": (6,)}
CLASSES = {"residual": 5, "adam": 3, "adamw": 3, "rmsprop": 3}
TOLERANCE = 2e-4


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
