"""Command line: ``python -m fastcnn train`` and ``python -m fastcnn get-data``.

``train`` builds the seed model (Conv2D(32, 3x3, relu) -> MaxPool2D -> Flatten -> Dense(256,
relu) -> Dense(10, softmax)), trains it with Adam on Fashion-MNIST (or MNIST) scaled to [0, 1],
shows progress, prints each epoch's accuracy and time, then the test loss and accuracy.
``get-data`` installs Debian's ``dataset-fashion-mnist`` when it can and fails when the data is
still unavailable.
"""
import argparse
import sys
import time

import numpy as np

from .callbacks import Callback

__all__ = ["main", "build_seed_model"]


def build_seed_model():
    """The model of the Keras tutorial that fastcnn is measured on."""
    from .models import zoo
    return zoo.seed_cnn()


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="python -m fastcnn",
                                     description="fastcnn: CPU CNN kernels, Keras-style API")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    train = sub.add_parser("train", help="train the seed CNN and report its test accuracy")
    train.add_argument("--dataset", choices=("fashion_mnist", "mnist"), default="fashion_mnist",
                       help="dataset to train on (default: fashion_mnist)")
    train.add_argument("--epochs", type=_non_negative, default=5, help="epochs (default: 5)")
    train.add_argument("--batch-size", type=_positive, default=128,
                       help="batch size (default: 128)")
    train.add_argument("--threads", type=_positive, default=None,
                       help="threads for the kernels (default: fastcnn's setting)")
    train.add_argument("--seed", type=_non_negative, default=None,
                       help="random seed for initialisation and shuffling")
    train.add_argument("--limit", type=_positive, default=None,
                       help="train on the first N training images only (a quick check)")
    train.add_argument("--save", metavar="PATH", default=None,
                       help="save the trained model to PATH")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar (one line per epoch when not a "
                            "terminal), 2 one line per epoch (default: 1)")
    sub.add_parser("get-data", help="install Fashion-MNIST from the system packages if needed")
    return parser


def _load(dataset):
    from . import datasets
    module = datasets.fashion_mnist if dataset == "fashion_mnist" else datasets.mnist
    return module.load_data()


def _prepare(images, labels):
    from .utils import to_categorical
    x = images.reshape((-1, 28, 28, 1)).astype(np.float32) / np.float32(255)
    return x, to_categorical(labels, 10)


class _EpochTimer(Callback):
    """Records each epoch's wall time and logs."""

    def __init__(self):
        super().__init__()
        self.rows = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append((epoch + 1, time.perf_counter() - self._start, dict(logs or {})))


def _train(args, out):
    import fastcnn
    from . import utils
    if args.threads is not None:
        if hasattr(fastcnn, "set_num_threads"):
            fastcnn.set_num_threads(args.threads)
        else:
            print("warning: this fastcnn build cannot set the thread count; --threads ignored",
                  file=sys.stderr)
    if args.seed is not None:
        utils.set_random_seed(args.seed)
    try:
        (x_train, y_train), (x_test, y_test) = _load(args.dataset)
    except (OSError, ValueError) as exc:
        print(f"error: cannot load {args.dataset}: {exc}", file=sys.stderr)
        if args.dataset == "fashion_mnist":
            print("hint: python -m fastcnn get-data", file=sys.stderr)
        return 1
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    x_train, y_train = _prepare(x_train, y_train)
    x_test, y_test = _prepare(x_test, y_test)

    model = build_seed_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    threads = fastcnn.get_num_threads() if hasattr(fastcnn, "get_num_threads") else "?"
    print(f"Training the seed model on {args.dataset}: {len(x_train)} images, "
          f"{args.epochs} epochs, batch size {args.batch_size}, {threads} threads", file=out)
    timer = _EpochTimer()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              verbose=args.verbose, callbacks=[timer])
    for epoch, seconds, logs in timer.rows:
        print(f"epoch {epoch}: accuracy {logs['accuracy']:.4f}, loss {logs['loss']:.4f}, "
              f"{seconds:.1f} s", file=out)
    start = time.perf_counter()
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    print(f"Test loss: {test_loss:.4f}", file=out)
    print(f"Test accuracy: {test_acc:.4f} ({len(x_test)} images, "
          f"{time.perf_counter() - start:.1f} s)", file=out)
    if args.save:
        model.save(args.save)
        print(f"Saved the model to {args.save}", file=out)
    return 0


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    if args.command == "get-data":
        from . import datasets
        return 0 if datasets.ensure_system_fashion_mnist(install=True) else 1
    return _train(args, out)


if __name__ == "__main__":
    sys.exit(main())
