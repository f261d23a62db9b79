"""Make the Keras 3 fixture files of tests/test_keras_import.py with real Keras.

Run with a Python that has Keras 3 (and a backend, e.g. a venv made with ``python -m venv
/tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu``); only NumPy and Keras are used:

    /tmp/tfenv/bin/python tools/make_keras_fixtures.py [--out tests/data/keras]

It writes, into ``--out``:

- ``seed.keras``: the seed model (Conv2D(32, 3, relu), MaxPooling2D, Flatten, Dense(256,
  relu), Dense(10, softmax) on 28x28x1), compiled with Adam, categorical cross-entropy and
  accuracy, trained two epochs on synthetic data, then compiled again with a fresh Adam
  before saving so that the file holds no Adam moments (it stays near the 5.6 MB of its
  weights);
- ``residual.keras``: a small functional ResNet (16x16x3 input, Rescaling, a Conv-BN-ReLU stem,
  a residual block with Add + ReLU, a strided block with a 1x1 projection,
  GlobalAveragePooling2D, Dense softmax) compiled with SGD (Nesterov momentum, a
  CosineDecay learning rate) and sparse categorical cross-entropy, trained a few steps so that
  the BatchNormalization moving statistics and the optimizer's momentums are not trivial,
  saved with them; and ``residual.weights.h5``, its weights alone (``save_weights``);
- ``layers.keras``: a tiny functional model with the other layers fastcnn maps (ZeroPadding2D,
  AveragePooling2D, Concatenate, ReLU with options, Activation tanh/sigmoid, augmentation
  layers, GlobalMaxPooling2D, BatchNormalization without scale, Dropout), uncompiled, with a
  RandomNormal bias initializer (Keras' own, not fastcnn's);
- ``adam.keras``, ``adamw.keras``, ``rmsprop.keras``: tiny models trained a few steps with
  those optimizers and saved with their state (:func:`optimizer_model`);
- ``<name>.predictions.npy``: what Keras' ``predict`` gave on :func:`fixture_input` (which
  the tests draw again), and for the compiled models but the seed model
  ``<name>.after_fit.npy``: the predictions after training the saved model on for one epoch
  (:func:`fit_on_data`).
"""
import argparse
import os

import numpy as np

SHAPES = {"seed": (28, 28, 1), "residual": (16, 16, 3), "layers": (8, 8, 2), "adam": (6,),
          "adamw": (6,), "rmsprop": (6,)}
CLASSES = {"residual": 5, "adam": 3, "adamw": 3, "rmsprop": 3}


def fixture_input(name, count=8):
    """The input the predictions were made on (tests/test_keras_import.py draws the same)."""
    gen = np.random.default_rng(0)
    x = gen.random((count,) + SHAPES[name], dtype=np.float32)
    return x * np.float32(255.0) if name == "residual" else x


def seed_model(keras):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(SHAPES["seed"]),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def residual_model(keras):
    layers = keras.layers

    def conv_bn(t, filters, strides=1, kernel=3, name=None, **kwargs):
        t = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                          kernel_initializer="he_normal", name=name, **kwargs)(t)
        return layers.BatchNormalization(momentum=0.5)(t)

    inp = keras.Input(SHAPES["residual"])
    x = layers.Rescaling(1.0 / 255)(inp)
    x = layers.Activation("relu")(conv_bn(x, 8, kernel_regularizer=keras.regularizers.L2(1e-4)))
    y = layers.ReLU()(conv_bn(x, 8))
    y = conv_bn(y, 8)
    x = layers.Activation("relu")(layers.Add()([x, y]))
    y = layers.ReLU()(conv_bn(x, 16, strides=2))
    y = conv_bn(y, 16)
    shortcut = conv_bn(x, 16, strides=2, kernel=1, name="projection")
    x = layers.Activation("relu")(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(5, activation="softmax", bias_initializer="glorot_uniform")(x)
    return keras.Model(inp, out, name="residual")


def layers_model(keras):
    layers = keras.layers
    inp = keras.Input(SHAPES["layers"], name="pixels")
    x = layers.RandomFlip("horizontal", seed=1)(inp)
    x = layers.RandomTranslation(0.1, 0.1, seed=2)(x)
    x = layers.ZeroPadding2D(((1, 0), (2, 1)))(x)
    a = layers.Conv2D(3, 2, strides=(1, 2), activation="tanh",
                      bias_initializer="random_normal")(x)
    a = layers.AveragePooling2D(2, strides=1, padding="same")(a)
    b = layers.Conv2D(2, (2, 3), strides=(1, 2), activation="sigmoid")(x)
    b = layers.MaxPooling2D((2, 1), strides=1, padding="same")(b)
    x = layers.Concatenate()([a, b])
    x = layers.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.05)(x)
    x = layers.BatchNormalization(scale=False, epsilon=1e-2)(x)
    x = layers.GlobalMaxPooling2D()(x)
    out = layers.Dense(4)(layers.Dropout(0.5)(x))
    return keras.Model(inp, out, name="layers")


def fit_on_data(name):
    """What ``<name>.after_fit.npy`` comes from: ``model.fit(x, y, batch_size=8, epochs=1,
    shuffle=False)`` on the saved model (the tests draw the same)."""
    gen = np.random.default_rng(2)
    x = gen.random((16,) + SHAPES[name], dtype=np.float32)
    if name == "residual":
        x = x * np.float32(255.0)
    return x, gen.integers(0, CLASSES[name], 16)


def optimizer_model(keras, name):
    """A tiny model compiled with the optimizer ``name``, to train on from its saved state:
    Adam with amsgrad, AdamW with an exponential decay (in float64), RMSprop centered with
    momentum."""
    dtype = "float64" if name == "adamw" else "float32"
    layers = keras.layers
    model = keras.Sequential([keras.Input(SHAPES[name], dtype=dtype),
                              # no bias before BatchNormalization: its gradient would be
                              # rounding noise, which Adam's step normalises to full size
                              layers.Dense(5, use_bias=False, dtype=dtype),
                              layers.BatchNormalization(dtype=dtype),
                              layers.Activation("relu", dtype=dtype),
                              layers.Dense(CLASSES[name], activation="softmax", dtype=dtype)],
                             name=name)
    optimizer = {
        "adam": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
        "adamw": lambda: keras.optimizers.AdamW(
            keras.optimizers.schedules.ExponentialDecay(0.02, 2, 0.5), weight_decay=0.05),
        "rmsprop": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    }[name]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def save_training_state(model, name, out, weights_file=False):
    """Train a few steps, save (also as ``<name>.weights.h5``), then train on and keep the
    predictions."""
    x, y = train_data(name, 24, CLASSES[name], one_hot=False)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    save_with_predictions(model, name, out)
    if weights_file:
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
    x, y = fit_on_data(name)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.save(os.path.join(out, f"{name}.after_fit.npy"),
            model.predict(fixture_input(name), verbose=0))


def train_data(name, count, classes, one_hot):
    gen = np.random.default_rng(1)
    x = gen.random((count,) + SHAPES[name], dtype=np.float32)
    if name == "residual":
        x = x * np.float32(255.0)
    y = gen.integers(0, classes, count)
    return x, (np.eye(classes, dtype=np.float32)[y] if one_hot else y)


def save_with_predictions(model, name, out):
    np.save(os.path.join(out, f"{name}.predictions.npy"),
            model.predict(fixture_input(name), verbose=0))
    model.save(os.path.join(out, f"{name}.keras"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "data", "keras"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import keras
    keras.utils.set_random_seed(0)

    model = seed_model(keras)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = train_data("seed", 64, 10, one_hot=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    # a fresh, unbuilt Adam: the file then holds no moments (2 x 5.6 MB)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=5e-4),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    save_with_predictions(model, "seed", args.out)

    model = residual_model(keras)
    schedule = keras.optimizers.schedules.CosineDecay(0.05, decay_steps=100, alpha=0.1)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    save_training_state(model, "residual", args.out, weights_file=True)
    for name in ("adam", "adamw", "rmsprop"):
        save_training_state(optimizer_model(keras, name), name, args.out)

    model = layers_model(keras)
    save_with_predictions(model, "layers", args.out)
    for name in sorted(os.listdir(args.out)):
        print(f"{os.path.getsize(os.path.join(args.out, name)):>10}  {name}")


if __name__ == "__main__":
    main()
