"""Command line: ``python -m fastcnn train`` and ``python -m fastcnn get-data``.

``train`` builds a model (``--model seed``, the default: Conv2D(32, 3x3, relu) -> MaxPool2D ->
Flatten -> Dense(256, relu) -> Dense(10, softmax); or ``resnet20``), trains it with Adam on a
dataset scaled to [0, 1] (``--dataset``: Fashion-MNIST, the default, MNIST or CIFAR-10), shows
each epoch's progress line (with its time), then prints the test loss and the line
``Test accuracy: 0.xxxx (N images, T s)`` that other tools parse. ``--save PATH`` and
``--plots DIR`` (pictures, see :mod:`fastcnn.plot`) are checked before anything else is done.
``get-data`` installs Debian's ``dataset-fashion-mnist`` when it can and fails when the data
is still unavailable.

Under ``mpiexec -n K python -m fastcnn train`` the ranks train data-parallel
(:mod:`fastcnn.distributed`: ``--batch-size`` is the global batch) and rank 0 alone prints.
"""
import argparse
import io
import sys
import time

import numpy as np

__all__ = ["main", "build_seed_model", "build_model", "DATASETS", "MODELS"]

# Dataset -> the shape of one image as the models take it (NHWC without the batch axis).
DATASETS = {
    "fashion_mnist": (28, 28, 1),
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
}
# Model -> how the header line names it.
MODELS = {"seed": "the seed model", "resnet20": "ResNet-20"}
NUM_CLASSES = 10


def build_seed_model():
    """The model of the Keras tutorial that fastcnn is measured on."""
    from .models import zoo
    return zoo.seed_cnn()


def build_model(name, input_shape, augment=False):
    """The model ``name`` (a key of :data:`MODELS`) for images of ``input_shape``; with
    ``augment``, RandomFlip("horizontal") and RandomTranslation(0.1, 0.1) come first."""
    from .layers import RandomFlip, RandomTranslation
    from .models import zoo
    augmentation = [RandomFlip("horizontal"), RandomTranslation(0.1, 0.1)] if augment else []
    build = zoo.resnet20 if name == "resnet20" else zoo.seed_cnn
    return build(input_shape=input_shape, classes=NUM_CLASSES, augmentation=augmentation)


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


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _fraction(text):
    value = _rate(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _recipe_arguments(train):
    recipe = train.add_argument_group("training recipe")
    recipe.add_argument("--optimizer", choices=("adam", "adamw", "sgd", "rmsprop"),
                        default="adam", help="optimizer (default: adam)")
    recipe.add_argument("--learning-rate", type=_rate, default=None,
                        help="learning rate (default: the optimizer's, 0.001; 0.01 for sgd)")
    recipe.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                        help="cosine: CosineDecay from the learning rate to 0 over all the "
                             "training steps (default: constant)")
    recipe.add_argument("--warmup-epochs", type=_non_negative, default=0,
                        help="with --schedule cosine: epochs of linear warm-up from 0 to the "
                             "learning rate first (default: 0)")
    recipe.add_argument("--weight-decay", type=_rate, default=None,
                        help="decoupled weight decay (default: none; adamw: 0.004)")
    recipe.add_argument("--label-smoothing", type=_fraction, default=0.0,
                        help="label smoothing of the categorical cross-entropy (default: 0)")
    recipe.add_argument("--augment", action="store_true",
                        help='RandomFlip("horizontal") and RandomTranslation(0.1, 0.1) at '
                             "the model's input (active in training only)")


def _parsers():
    """The command line's parser and its ``train`` subparser."""
    parser = argparse.ArgumentParser(prog="python -m fastcnn",
                                     description="fastcnn: CPU CNN kernels, Keras-style API")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    train = sub.add_parser("train", help="train a CNN and report its test accuracy")
    train.add_argument("--dataset", choices=tuple(DATASETS), default="fashion_mnist",
                       help="dataset to train on (default: fashion_mnist)")
    train.add_argument("--model", choices=tuple(MODELS), default="seed",
                       help="seed: the Keras tutorial's CNN; resnet20: ResNet-20 v1 "
                            "(default: seed)")
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
                       help="save the trained model to PATH (checked before training)")
    train.add_argument("--plots", metavar="DIR", default=None,
                       help="write the training curves, the first Conv2D's filters and the "
                            "test confusion matrix as PNG files in DIR (created if needed, "
                            "checked before training; needs fastcnn[plot])")
    train.add_argument("--flush-denormal", action="store_true",
                       help="flush subnormal numbers to zero (fastcnn.set_flush_denormal: "
                            "faster on CPUs that are slow on them; changes results)")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar (one line per epoch when not a "
                            "terminal), 2 one line per epoch (default: 1)")
    _recipe_arguments(train)
    sub.add_parser("get-data", help="install Fashion-MNIST from the system packages if needed")
    return parser, train


def _load(dataset):
    from . import datasets
    return getattr(datasets, dataset).load_data()


def _prepare(images, labels, input_shape):
    """uint8 images -> float32 NHWC in [0, 1]; labels -> one-hot."""
    from .utils import to_categorical
    x = images.reshape((-1,) + input_shape).astype(np.float32)
    x /= np.float32(255)
    return x, to_categorical(labels, NUM_CLASSES)


def _recipe(args, train_images):
    """How the model is trained: ``(compile keyword arguments, fit keyword arguments)``
    from the recipe options (the augmentation is part of the model, see build_model)."""
    from . import losses, optimizers
    from .optimizers import schedules
    cls = {"adam": optimizers.Adam, "adamw": optimizers.AdamW, "sgd": optimizers.SGD,
           "rmsprop": optimizers.RMSprop}[args.optimizer]
    options = {}
    rate = args.learning_rate
    if args.schedule == "cosine":
        if rate is None:
            rate = 0.01 if cls is optimizers.SGD else 0.001
        steps_per_epoch = -(-train_images // args.batch_size)
        steps, warmup = steps_per_epoch * args.epochs, steps_per_epoch * args.warmup_epochs
        rate = (schedules.CosineDecay(0.0, max(steps - warmup, 1), warmup_target=rate,
                                      warmup_steps=warmup) if warmup
                else schedules.CosineDecay(rate, max(steps, 1)))
    if rate is not None:
        options["learning_rate"] = rate
    if args.weight_decay is not None:
        options["weight_decay"] = args.weight_decay
    loss = losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing)
    compile_args = dict(optimizer=cls(**options), loss=loss, metrics=["accuracy"])
    fit_args = dict(batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose)
    return compile_args, fit_args


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
    if not args.flush_denormal:
        return _run(args, out)
    if not fastcnn.set_flush_denormal(True):
        print("warning: this CPU cannot flush subnormal numbers; --flush-denormal ignored",
              file=sys.stderr)
    try:
        return _run(args, out)
    finally:
        fastcnn.set_flush_denormal(False)        # main() may run inside a larger program


def _run(args, out):
    import fastcnn
    from . import distributed
    try:
        (x_train, y_train), (x_test, y_test) = _load(args.dataset)
    except (OSError, ValueError) as exc:
        print(f"error: cannot load {args.dataset}: {exc}", file=sys.stderr)
        if args.dataset == "fashion_mnist":
            print("hint: python -m fastcnn get-data", file=sys.stderr)
        return 1
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    input_shape = DATASETS[args.dataset]
    x_train, y_train = _prepare(x_train, y_train, input_shape)
    x_test, y_test = _prepare(x_test, y_test, input_shape)

    model = build_model(args.model, input_shape, augment=args.augment)
    compile_args, fit_args = _recipe(args, len(x_train))
    model.compile(**compile_args)
    threads = fastcnn.get_num_threads() if hasattr(fastcnn, "get_num_threads") else "?"
    ranks = distributed.size()
    print(f"Training {MODELS[args.model]} on {args.dataset}: {len(x_train)} images, "
          f"{args.epochs} epochs, batch size {args.batch_size}, "
          f"{f'{ranks} ranks x ' if ranks > 1 else ''}{threads} threads", file=out)
    history = model.fit(x_train, y_train, **fit_args)
    start = time.perf_counter()
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    print(f"Test loss: {test_loss:.4f}", file=out)
    print(f"Test accuracy: {test_acc:.4f} ({len(x_test)} images, "
          f"{time.perf_counter() - start:.1f} s)", file=out)
    if args.save:
        model.save(args.save)
        print(f"Saved the model to {args.save}", file=out)
    if args.plots is not None:
        from . import datasets
        from .plot import _report
        names = getattr(getattr(datasets, args.dataset), "CLASS_NAMES", None)
        y_pred = model.predict(x_test, batch_size=1000)     # on every rank (MPI)
        if distributed.rank() == 0:
            paths = _report.write_training_plots(args.plots, model, history, y_test, y_pred,
                                                 names)
            print(f"Wrote the pictures {', '.join(paths)}", file=out)
    return 0


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser, train_parser = _parsers()
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "get-data":
        from . import datasets
        return 0 if datasets.ensure_system_fashion_mnist(install=True) else 1
    if args.warmup_epochs and args.schedule != "cosine":
        train_parser.error("argument --warmup-epochs: needs --schedule cosine")
    from . import distributed
    if distributed.launched_by_mpiexec():        # mpiexec -n K python -m fastcnn train
        try:
            distributed.init()
        except ImportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if distributed.rank() != 0:
            out = io.StringIO()                  # rank 0 alone prints
    if args.save is not None:
        from . import saving
        try:                    # refuse a destination it cannot write before hours of training
            saving.check_destination(args.save)
        except OSError as exc:
            train_parser.error(f"argument --save: {exc}")
    if args.plots is not None:
        from .plot import _report
        try:
            _report.check_destination(args.plots)
        except (ImportError, OSError) as exc:
            train_parser.error(f"argument --plots: {exc}")
    return _train(args, out)


if __name__ == "__main__":
    sys.exit(main())
