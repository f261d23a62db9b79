"""End to end on real Fashion-MNIST: the Keras tutorial verbatim, and accuracy after training.

The data comes from ``fashion_mnist.load_data()`` (Debian's ``dataset-fashion-mnist`` or the
cache). These tests run by default; set FASTCNN_SKIP_REAL_DATA=1 to skip them where the data
cannot be had. The full 5-epoch run is marked slow.
"""
import os

import numpy as np
import pytest

from fastcnn import utils
from fastcnn.datasets import fashion_mnist
from fastcnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from fastcnn.models import Sequential
from fastcnn.utils import to_categorical

pytestmark = pytest.mark.skipif(os.environ.get("FASTCNN_SKIP_REAL_DATA") == "1",
                                reason="FASTCNN_SKIP_REAL_DATA=1")


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    return (x_train.reshape(-1, 28, 28, 1) / 255.0, to_categorical(y_train),
            x_test.reshape(-1, 28, 28, 1) / 255.0, to_categorical(y_test))


def test_the_keras_tutorial_runs_verbatim(data):
    x_all, y_all, x_test_all, y_test_all = data
    x_train, y_train = x_all[:2048], y_all[:2048]
    x_test, y_test = x_test_all[:2000], y_test_all[:2000]

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=[28, 28, 1]))
    model.add(MaxPool2D())
    model.add(Flatten())
    model.add(Dense(256, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)

    assert sorted(history.history) == ["accuracy", "loss"]
    assert model.optimizer.iterations == 16
    assert np.isfinite(test_loss) and test_loss < 1.5       # ln(10) = 2.30 at chance
    assert test_acc > 0.5                                    # chance is 0.1


def test_one_epoch_on_10k_images_reaches_80_percent(data):
    x_train, y_train, x_test, y_test = data
    utils.set_random_seed(0)
    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=[28, 28, 1]),
        MaxPool2D(),
        Flatten(),
        Dense(256, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train[:10000], y_train[:10000], batch_size=32, epochs=1, verbose=0)
    _, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    assert test_acc >= 0.80


@pytest.mark.slow
def test_five_epochs_on_60k_images_reach_keras_accuracy(data):
    x_train, y_train, x_test, y_test = data
    utils.set_random_seed(0)
    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=[28, 28, 1]),
        MaxPool2D(),
        Flatten(),
        Dense(256, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=5, verbose=0)
    _, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    assert test_acc >= 0.905
