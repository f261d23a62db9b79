"""The whole models of BENCHMARKS.md as each framework's user runs them, for the benchmarks.

Models (``bench/model_specs.py`` describes each once; Keras and PyTorch build from that):

- ``seed``: the seed model (Conv2D(32, 3x3, relu) -> MaxPool2D -> Flatten -> Dense(256, relu)
  -> Dense(10, softmax)) on Fashion-MNIST: an epoch is the 60,000 training images, ``predict``
  the 10,000 test images;
- ``tf-cnn``, ``k-cnn``, ``resnet20``: the CIFAR-size models on synthetic data of CIFAR-10's
  form (:func:`synthetic_data`: uint8 32x32x3 images and labels 0-9 from a fixed NumPy seed,
  the same arrays in every framework). The figures are throughput only: what a step costs
  does not depend on the pixel values (BENCHMARKS.md: images per second of ``fit`` after a
  warm-up fit, and of ``predict``).

Every model: images / 255 as float32 NHWC, one-hot labels, Adam (learning rate 1e-3, epsilon
1e-7), categorical cross-entropy, batch 128; ``predict`` in batches of 1000.

One runner per contender, each holding a model and its data in the framework's own form:

- ``fastcnn``     the zoo's model (``fastcnn.models.zoo``), ``fit`` / ``predict`` /
  ``evaluate`` (public API only);
- ``torch-nchw``, ``torch-cl``  the same layers in PyTorch (NCHW / ``channels_last``), Adam with
  ``eps=1e-7``, cross-entropy on logits (softmax and loss fused, as ``fit`` fuses them), a plain
  loop: shuffle, ``zero_grad``, forward, ``backward``, ``step``;
- ``keras``, ``keras-jax``  Keras 3 ``fit`` / ``predict`` / ``evaluate`` on the backend that
  ``KERAS_BACKEND`` names (TensorFlow, JAX; ``compare_frameworks.py`` sets it per contender).

Every runner times one training epoch (shuffling and batch gathering included, as a user's
``fit`` pays them) and one ``predict`` pass, with the framework's own timer-free code in between.

The module imports only NumPy at the top, so ``bench/compare_frameworks.py`` can run it as a
worker under another interpreter (``python bench/whole_models.py worker ...``, e.g. in a venv with
TensorFlow) that cannot import fastcnn. The worker reads commands on stdin and answers one JSON
line per command on stdout, prefixed with ``@@``.
"""
import argparse
import contextlib
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_specs  # noqa: E402

MODELS = model_specs.MODELS
BATCH_SIZE = 128
PREDICT_BATCH_SIZE = 1000
EPOCH_IMAGES = 60000                            # the seed model's epoch (Fashion-MNIST)
STEPS_PER_EPOCH = EPOCH_IMAGES / BATCH_SIZE     # 468.75: 468 full batches and one of 96
TEST_IMAGES = 10000                             # images predicted (Fashion-MNIST's test set)
LEARNING_RATE = 1e-3
EPSILON = 1e-7                                  # Keras' Adam default (PyTorch's is 1e-8)
CLASSES = model_specs.CLASSES
# fastcnn's models, by zoo function
ZOO = {"seed": "seed_cnn", "tf-cnn": "tf_cnn", "k-cnn": "kcnn", "resnet20": "resnet20"}

CONTENDERS = ("fastcnn", "torch-nchw", "torch-cl", "keras", "keras-jax")
KERAS_BACKENDS = {"keras": "tensorflow", "keras-jax": "jax"}
REPLY_PREFIX = "@@ "


def epoch_seconds(seconds, steps):
    """Seconds per full seed-model epoch estimated from ``seconds`` for ``steps`` steps."""
    return seconds / steps * STEPS_PER_EPOCH


def input_shape(model):
    return model_specs.spec(model)["input_shape"]


def scaled_images(images, shape=(28, 28, 1)):
    """uint8 (N, ...) -> float32 (N, *shape) in [0, 1], as the Keras tutorials do."""
    return images.reshape((len(images),) + tuple(shape)).astype(np.float32) / np.float32(255)


def synthetic_data(model, train_images, test_images=TEST_IMAGES, seed=0):
    """uint8 images of ``model``'s input shape and uint8 labels 0-9, as a dataset dict."""
    rng = np.random.default_rng(seed)
    shape = input_shape(model)

    def draw(n):
        return (rng.integers(0, 256, (n,) + shape, dtype=np.uint8),
                rng.integers(0, CLASSES, n, dtype=np.uint8))
    x_train, y_train = draw(train_images)
    x_test, y_test = draw(test_images)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# ------------------------------------------------------------------------------------------
# runners
# ------------------------------------------------------------------------------------------
class Runner:
    """A contender's model and data. Subclasses set up in ``__init__`` (``model``, and
    ``params``, its parameter count as Keras counts them) and implement ``fit_epoch()`` (one
    epoch), ``predict_scores()`` (class probabilities of the test images, an (N, 10) array)
    and ``accuracy()``; ``train_epoch()`` and ``predict()`` time the first two."""

    name = None

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0, model="seed"):
        """``data``: dict of uint8 ``x_train, y_train, x_test, y_test``; the first
        ``train_images`` training images make up the (possibly shortened) epoch."""
        self.model_name = model
        self.shape = input_shape(model)
        self.threads = threads
        self.train_images = min(int(train_images), len(data["x_train"]))
        self.steps = -(-self.train_images // BATCH_SIZE)
        self.test_images = len(data["x_test"])
        self.seed = seed

    def images(self, x):
        return scaled_images(x, self.shape)

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
        return {"contender": self.name, "model": self.model_name, "threads": self.threads,
                "steps": self.steps, "train_images": self.train_images,
                "test_images": self.test_images, "params": self.params}


class KerasAPIRunner(Runner):
    """A runner whose ``model`` has Keras' fit/predict/evaluate (fastcnn and Keras itself);
    ``set_up`` gives it its data and compiles it."""

    def set_up(self, data, optimizer):
        eye = np.eye(CLASSES, dtype=np.float32)
        self.x_train = self.images(data["x_train"][:self.train_images])
        self.y_train = eye[data["y_train"][:self.train_images]]
        self.x_test = self.images(data["x_test"])
        self.y_test = eye[data["y_test"]]
        self.model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                           metrics=["accuracy"])
        self.params = int(self.model.count_params())

    def fit_epoch(self):
        self.model.fit(self.x_train, self.y_train, batch_size=BATCH_SIZE, epochs=1, verbose=0)

    def predict_scores(self):
        return self.model.predict(self.x_test, batch_size=PREDICT_BATCH_SIZE, verbose=0)

    def accuracy(self):
        return float(self.model.evaluate(self.x_test, self.y_test,
                                         batch_size=PREDICT_BATCH_SIZE, verbose=0)[1])


class FastcnnRunner(KerasAPIRunner):
    name = "fastcnn"

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0, model="seed"):
        super().__init__(data, threads, train_images, seed, model)
        import fastcnn
        from fastcnn import utils
        from fastcnn.models import zoo
        from fastcnn.optimizers import Adam
        fastcnn.set_num_threads(threads)
        utils.set_random_seed(seed)
        self.model = getattr(zoo, ZOO[model])()
        self.set_up(data, Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON))
        self.version = fastcnn.__version__
        config = io.StringIO()
        with contextlib.redirect_stdout(config):
            fastcnn.show_config()
        self.kernels = next((line.split(":", 1)[1].strip() for line in
                             config.getvalue().splitlines() if "SIMD:" in line), None)

    def info(self):
        return dict(super().info(), kernels=self.kernels)


class TorchRunner(Runner):
    """The model in PyTorch, in NCHW (``torch-nchw``) or channels_last (``torch-cl``)."""

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0, model="seed",
                 layout="torch-cl"):
        super().__init__(data, threads, train_images, seed, model)
        import torch
        self.torch = torch
        self.name = layout
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.format = (torch.channels_last if layout == "torch-cl"
                       else torch.contiguous_format)

        # NCHW images; each batch is put in the model's memory format as it is drawn
        def nchw(x):
            return torch.from_numpy(self.images(x).transpose(0, 3, 1, 2).copy())
        self.x_train = nchw(data["x_train"][:self.train_images])
        self.y_train = torch.from_numpy(data["y_train"][:self.train_images].astype(np.int64))
        self.x_test = nchw(data["x_test"])
        self.y_test = data["y_test"].astype(np.int64)
        self.model = model_specs.torch_model(model_specs.spec(model), torch).to(
            memory_format=self.format)
        self.params = model_specs.torch_parameter_count(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE,
                                          eps=EPSILON)
        self.loss = torch.nn.CrossEntropyLoss()    # log-softmax + NLL on the logits
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


def limit_cpus(threads):
    """Keep this process on ``threads`` of the CPUs it may use. XLA (JAX) has no thread-count
    setting; it sizes its pool by the CPUs the process may run on."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])


class KerasRunner(KerasAPIRunner):
    """Keras 3 on the backend KERAS_BACKEND names (its default, TensorFlow, when unset)."""

    def __init__(self, data, threads, train_images=EPOCH_IMAGES, seed=0, model="seed"):
        super().__init__(data, threads, train_images, seed, model)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if os.environ.get("KERAS_BACKEND") == "jax":
            limit_cpus(threads)         # before JAX starts its thread pool
        import keras
        backend = keras.backend.backend()
        self.name = "keras-jax" if backend == "jax" else "keras"
        if backend == "tensorflow":
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            self.version = f"keras {keras.__version__}, tensorflow {tf.__version__}"
        elif backend == "jax":
            import jax
            self.version = (f"keras {keras.__version__}, jax {jax.__version__} (on "
                            f"{len(os.sched_getaffinity(0))} CPUs)")
        else:
            self.version = f"keras {keras.__version__}, backend {backend}"
        keras.utils.set_random_seed(seed)
        self.model = model_specs.keras_model(model_specs.spec(model), keras)
        self.set_up(data, keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON))


def make_runner(contender, data, threads, train_images=EPOCH_IMAGES, seed=0, model="seed"):
    """The runner of ``contender`` (one of CONTENDERS) for ``model`` (one of MODELS);
    ImportError when its library is absent. ``keras`` and ``keras-jax`` both run Keras on
    the backend KERAS_BACKEND names."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    if contender == "fastcnn":
        return FastcnnRunner(data, threads, train_images, seed, model)
    if contender in ("torch-nchw", "torch-cl"):
        return TorchRunner(data, threads, train_images, seed, model, layout=contender)
    if contender in KERAS_BACKENDS:
        return KerasRunner(data, threads, train_images, seed, model)
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
    if args.data:
        data = load_npz(args.data)
    else:
        data = synthetic_data(args.model, args.train_images, args.test_images, args.seed)
    try:
        runner = make_runner(args.contender, data, args.threads, args.train_images, args.seed,
                             args.model)
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
    w.add_argument("--model", default="seed", choices=MODELS)
    w.add_argument("--data", help=".npz with uint8 x_train, y_train, x_test, y_test "
                                   "(default: synthetic data of the model's input shape)")
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--train-images", type=int, default=EPOCH_IMAGES)
    w.add_argument("--test-images", type=int, default=TEST_IMAGES,
                   help="synthetic test images (without --data)")
    w.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
