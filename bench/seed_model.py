"""The seed model as each framework's user writes it, for the whole-model benchmarks.

BENCHMARKS.md's whole-model workload: the seed model (``fastcnn.cli.build_seed_model``:
Conv2D(32, 3x3, relu) -> MaxPool2D -> Flatten -> Dense(256, relu) -> Dense(10, softmax)),
Adam (learning rate 1e-3, epsilon 1e-7), categorical cross-entropy, batch 128, trained on the
60,000 Fashion-MNIST training images; ``predict`` on the 10,000 test images in batches of 1000.

One runner per contender, each holding a model and its data in the framework's own form:

- ``fastcnn``     ``Sequential.fit`` / ``predict`` / ``evaluate`` (public API only);
- ``torch-nchw``, ``torch-cl``  the same layers in PyTorch (NCHW / ``channels_last``), Adam with
  ``eps=1e-7``, cross-entropy on logits (softmax and loss fused, as ``fit`` fuses them), a plain
  loop: shuffle, ``zero_grad``, forward, ``backward``, ``step``;
- ``keras``       Keras 3 ``Sequential.fit`` / ``predict`` / ``evaluate``.

Every runner times one training epoch (shuffling and batch gathering included, as a user's
``fit`` pays them) and one ``predict`` pass, with the framework's own timer-free code in between.

The module imports only NumPy at the top, so ``bench/compare_frameworks.py`` can run it as a
worker under another interpreter (``python bench/seed_model.py worker ...``, e.g. in a venv with
TensorFlow) that cannot import fastcnn. The worker reads commands on stdin and answers one JSON
line per command on stdout, prefixed with ``@@``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

BATCH_SIZE = 128
PREDICT_BATCH_SIZE = 1000
EPOCH_IMAGES = 60000
STEPS_PER_EPOCH = EPOCH_IMAGES / BATCH_SIZE     # 468.75: 468 full batches and one of 96
LEARNING_RATE = 1e-3
EPSILON = 1e-7                                  # Keras' Adam default (PyTorch's is 1e-8)
CLASSES = 10

CONTENDERS = ("fastcnn", "torch-nchw", "torch-cl", "keras")
REPLY_PREFIX = "@@ "


def epoch_seconds(seconds, steps):
    """Seconds per full epoch estimated from ``seconds`` for ``steps`` training steps."""
    return seconds / steps * STEPS_PER_EPOCH


def scaled_images(images):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], as the Keras tutorial does."""
    return (images.reshape(len(images), 28, 28, 1).astype(np.float32) / np.float32(255))


# ------------------------------------------------------------------------------------------
# runners
# ------------------------------------------------------------------------------------------
class Runner:
    """A contender's model and data. Subclasses set up in ``__init__`` and implement
    ``fit_epoch()`` (one epoch), ``predict_scores()`` (class probabilities of the test images,
    an (N, 10) array) and ``accuracy()``; ``train_epoch()`` and ``predict()`` time the first
    two."""

    name = None

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0):
        """``data``: dict of uint8 ``x_train, y_train, x_test, y_test``; the first
        ``train_images`` training images make up the (possibly shortened) epoch."""
        self.threads = threads
        self.train_images = min(int(train_images), len(data["x_train"]))
        self.steps = -(-self.train_images // BATCH_SIZE)
        self.test_images = len(data["x_test"])
        self.seed = seed

    def train_epoch(self):
        """Train one epoch over the first ``train_images`` images; returns its seconds."""
        start = time.perf_counter()
        self.fit_epoch()
        return time.perf_counter() - start

    def predict(self):
        """Predict the test images in batches of 1000; returns the seconds."""
        start = time.perf_counter()
        self.predict_scores()
        return time.perf_counter() - start

    def info(self):
        """What this runner is, for reports."""
        return {"contender": self.name, "threads": self.threads, "steps": self.steps,
                "train_images": self.train_images, "test_images": self.test_images}


class KerasAPIRunner(Runner):
    """A runner whose ``model`` has Keras' fit/predict/evaluate (fastcnn and Keras itself);
    subclasses set ``model``, ``x_train``, ``y_train``, ``x_test`` and ``y_test``."""

    def fit_epoch(self):
        self.model.fit(self.x_train, self.y_train, batch_size=BATCH_SIZE, epochs=1, verbose=0)

    def predict_scores(self):
        return self.model.predict(self.x_test, batch_size=PREDICT_BATCH_SIZE, verbose=0)

    def accuracy(self):
        return float(self.model.evaluate(self.x_test, self.y_test,
                                         batch_size=PREDICT_BATCH_SIZE, verbose=0)[1])


class FastcnnRunner(KerasAPIRunner):
    name = "fastcnn"

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0):
        super().__init__(data, threads, train_images, seed)
        import fastcnn
        from fastcnn import utils
        from fastcnn.cli import build_seed_model
        from fastcnn.optimizers import Adam
        fastcnn.set_num_threads(threads)
        utils.set_random_seed(seed)
        self.x_train = scaled_images(data["x_train"][:self.train_images])
        self.y_train = utils.to_categorical(data["y_train"][:self.train_images], CLASSES)
        self.x_test = scaled_images(data["x_test"])
        self.y_test = utils.to_categorical(data["y_test"], CLASSES)
        self.model = build_seed_model()
        self.model.compile(optimizer=Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
                           loss="categorical_crossentropy", metrics=["accuracy"])
        self.version = fastcnn.__version__

class TorchRunner(Runner):
    """The seed model in PyTorch, in NCHW (``torch-nchw``) or channels_last (``torch-cl``)."""

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0, layout="torch-cl"):
        super().__init__(data, threads, train_images, seed)
        import torch
        from torch import nn
        self.torch = torch
        self.name = layout
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.format = (torch.channels_last if layout == "torch-cl"
                       else torch.contiguous_format)
        # NCHW images (C = 1); each batch is put in the model's memory format as it is drawn
        self.x_train = torch.from_numpy(
            scaled_images(data["x_train"][:self.train_images]).transpose(0, 3, 1, 2).copy())
        self.y_train = torch.from_numpy(data["y_train"][:self.train_images].astype(np.int64))
        self.x_test = torch.from_numpy(scaled_images(data["x_test"]).transpose(0, 3, 1, 2).copy())
        self.y_test = data["y_test"].astype(np.int64)
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 13 * 13, 256), nn.ReLU(), nn.Linear(256, CLASSES),
        ).to(memory_format=self.format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE,
                                          eps=EPSILON)
        self.loss = nn.CrossEntropyLoss()          # log-softmax + NLL on the logits
        self.version = torch.__version__

    def fit_epoch(self):
        torch = self.torch
        self.model.train()
        order = torch.randperm(self.train_images)
        for start in range(0, self.train_images, BATCH_SIZE):
            index = order[start:start + BATCH_SIZE]
            xb = self.x_train[index].contiguous(memory_format=self.format)
            self.optimizer.zero_grad()
            loss = self.loss(self.model(xb), self.y_train[index])
            loss.backward()
            self.optimizer.step()

    def predict_scores(self):
        torch = self.torch
        self.model.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, len(self.x_test), PREDICT_BATCH_SIZE):
                xb = self.x_test[start:start + PREDICT_BATCH_SIZE]
                outputs.append(torch.softmax(
                    self.model(xb.contiguous(memory_format=self.format)), dim=1))
        return torch.cat(outputs).numpy()

    def accuracy(self):
        return float(np.mean(np.argmax(self.predict_scores(), axis=1) == self.y_test))


class KerasRunner(KerasAPIRunner):
    name = "keras"

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0):
        super().__init__(data, threads, train_images, seed)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            self.version = f"keras {keras.__version__}, tensorflow {tf.__version__}"
        else:
            self.version = f"keras {keras.__version__}, backend {backend}"
        keras.utils.set_random_seed(seed)
        eye = np.eye(CLASSES, dtype=np.float32)
        self.x_train = scaled_images(data["x_train"][:self.train_images])
        self.y_train = eye[data["y_train"][:self.train_images]]
        self.x_test = scaled_images(data["x_test"])
        self.y_test = eye[data["y_test"]]
        self.model = keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPool2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ])
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE,
                                                           epsilon=EPSILON),
                           loss="categorical_crossentropy", metrics=["accuracy"])


def make_runner(contender, data, threads, train_images=EPOCH_IMAGES, seed=0):
    """The runner of ``contender`` (one of CONTENDERS); ImportError when its library is absent."""
    if contender == "fastcnn":
        return FastcnnRunner(data, threads, train_images, seed)
    if contender in ("torch-nchw", "torch-cl"):
        return TorchRunner(data, threads, train_images, seed, layout=contender)
    if contender == "keras":
        return KerasRunner(data, threads, train_images, seed)
    raise ValueError(f"unknown contender {contender!r}; expected one of {CONTENDERS}")


def load_npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}


# ------------------------------------------------------------------------------------------
# worker: one runner in this process, driven over stdin/stdout by compare_frameworks.py
# ------------------------------------------------------------------------------------------
def _reply(**values):
    sys.stdout.write(REPLY_PREFIX + json.dumps(values) + "\n")
    sys.stdout.flush()


def worker(args):
    """Build the runner, then answer ``epoch``, ``predict``, ``accuracy``, ``quit`` commands."""
    try:
        runner = make_runner(args.contender, load_npz(args.data), args.threads,
                             args.train_images, args.seed)
    except ImportError as exc:
        _reply(status="missing", error=f"{type(exc).__name__}: {exc}",
               python=sys.executable)
        return 0
    _reply(status="ready", version=getattr(runner, "version", None), python=sys.executable,
           **runner.info())
    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            _reply(seconds=runner.train_epoch())
        elif command == "predict":
            _reply(seconds=runner.predict())
        elif command == "accuracy":
            _reply(accuracy=runner.accuracy())
        elif command == "quit":
            break
        elif command:
            _reply(status="error", error=f"unknown command {command!r}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run one contender, driven over stdin/stdout")
    w.add_argument("--contender", required=True, choices=CONTENDERS)
    w.add_argument("--data", required=True, help=".npz with uint8 x_train, y_train, x_test, "
                                                 "y_test")
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--train-images", type=int, default=EPOCH_IMAGES)
    w.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
