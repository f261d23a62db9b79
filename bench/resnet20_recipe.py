"""ResNet-20 on the real Fashion-MNIST with the recipe of BENCHMARKS.md: test accuracy per
epoch and epoch times, one seed per run, in fastcnn or in Keras 3 (for the same CPU).

    OMP_NUM_THREADS=2 python bench/resnet20_recipe.py --seed 0 [--epochs 15] [--json FILE]
    python bench/resnet20_recipe.py --dump-data /tmp/fmnist.npz        # once, for Keras
    /path/to/tf-venv/bin/python bench/resnet20_recipe.py --keras --data /tmp/fmnist.npz --seed 0

28x28x1 images / 255, batch 128, RandomFlip("horizontal") + RandomTranslation(0.1, 0.1) in the
model, AdamW(learning_rate=CosineDecay(2e-3, decay_steps=epochs * 469), weight_decay=5e-4),
categorical cross-entropy; the test set is evaluated after every epoch (its time is not in
the epoch time). The Keras side builds the same ResNet-20 v1 (Keras' cifar10_resnet example,
from bench/model_specs.py) with 2 TensorFlow threads. This module imports only NumPy at the
top (and bench/'s standard-library modules), so the Keras run works
in a venv without fastcnn. Keras 3's figures for this recipe on a Zen 5 are in BENCHMARKS.md
(test accuracy 0.9327 and 0.9305 for seeds 0 and 1, ~70 s per epoch).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_specs  # noqa: E402  (bench/ is not a package)
from compare_report import cpu_name  # noqa: E402

BATCH = 128
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the checkout's root


def load(args):
    """(x_train, y_train, x_test, y_test): float32 NHWC / 255 and one-hot labels."""
    if args.data:
        with np.load(args.data) as f:
            raw = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    else:
        sys.path.insert(0, REPO)
        from fastcnn.datasets import fashion_mnist
        (xa, ya), (xb, yb) = fashion_mnist.load_data()
        raw = [xa, ya, xb, yb]
    prep = lambda x: x.reshape(-1, 28, 28, 1).astype(np.float32) / np.float32(255)  # noqa
    onehot = lambda y: np.eye(10, dtype=np.float32)[y.reshape(-1).astype(np.int64)]  # noqa
    return prep(raw[0]), onehot(raw[1]), prep(raw[2]), onehot(raw[3])


def report(rows, epoch, seconds, logs, test_acc):
    rows.append(dict(epoch=epoch + 1, seconds=seconds, loss=float(logs["loss"]),
                     accuracy=float(logs["accuracy"]), test_accuracy=float(test_acc)))
    print(f"epoch {epoch + 1}: {seconds:.1f} s, loss {logs['loss']:.4f}, accuracy "
          f"{logs['accuracy']:.4f}, test accuracy {test_acc:.4f}", flush=True)


def epoch_reporter(base, x_test, y_test, rows):
    """A callback (of the framework's ``base`` class) that times each epoch's training, then
    evaluates the test set, untimed, and reports both."""
    class Epochs(base):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            acc = self.model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            report(rows, epoch, seconds, logs, acc)

    return Epochs()


def run_fastcnn(args, data, rows):
    sys.path.insert(0, REPO)      # this checkout's fastcnn (also with --data)
    import fastcnn
    from fastcnn import callbacks, losses, optimizers, utils
    from fastcnn.layers import RandomFlip, RandomTranslation
    from fastcnn.models import zoo
    from fastcnn.optimizers.schedules import CosineDecay
    x, y, x_test, y_test = data
    utils.set_random_seed(args.seed)
    model = zoo.resnet20((28, 28, 1), 10, augmentation=[RandomFlip("horizontal"),
                                                        RandomTranslation(0.1, 0.1)])
    steps = args.epochs * -(-len(x) // BATCH)
    model.compile(optimizer=optimizers.AdamW(CosineDecay(2e-3, decay_steps=steps),
                                             weight_decay=5e-4),
                  loss=losses.CategoricalCrossentropy(), metrics=["accuracy"])

    print(f"fastcnn {fastcnn.__version__}: ResNet-20 ({model.count_params():,} parameters), "
          f"seed {args.seed}, {fastcnn.get_num_threads()} threads, {cpu_name()}", flush=True)
    model.fit(x, y, batch_size=BATCH, epochs=args.epochs, verbose=0,
              callbacks=[epoch_reporter(callbacks.Callback, x_test, y_test, rows)])


# the model's augmentation, as layers of Keras' API (bench/model_specs.py's form)
AUGMENTATION = [("RandomFlip", {"mode": "horizontal"}),
                ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1})]


def run_keras(args, data, rows):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    x, y, x_test, y_test = data
    keras.utils.set_random_seed(args.seed)
    model = model_specs.keras_model(model_specs.resnet20((28, 28, 1), front=AUGMENTATION),
                                    keras)
    steps = args.epochs * -(-len(x) // BATCH)
    model.compile(optimizer=keras.optimizers.AdamW(
        keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps), weight_decay=5e-4),
        loss="categorical_crossentropy", metrics=["accuracy"])

    print(f"keras {keras.__version__} ({keras.backend.backend()}): ResNet-20 "
          f"({model.count_params():,} parameters), seed {args.seed}, {args.threads} threads, "
          f"{cpu_name()}", flush=True)
    model.fit(x, y, batch_size=BATCH, epochs=args.epochs, verbose=0,
              callbacks=[epoch_reporter(keras.callbacks.Callback, x_test, y_test, rows)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--keras", action="store_true", help="train with Keras 3 instead")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow's threads (Keras)")
    parser.add_argument("--data", default=None, help=".npz with uint8 x_train, y_train, x_test, "
                                                     "y_test (default: fastcnn's loader)")
    parser.add_argument("--dump-data", default=None, help="write that .npz and stop")
    parser.add_argument("--json", default=None, help="write the per-epoch rows here")
    args = parser.parse_args(argv)
    if args.dump_data:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from fastcnn.datasets import fashion_mnist
        (xa, ya), (xb, yb) = fashion_mnist.load_data()
        np.savez(args.dump_data, x_train=xa, y_train=ya, x_test=xb, y_test=yb)
        return 0
    rows = []
    (run_keras if args.keras else run_fastcnn)(args, load(args), rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"framework": "keras" if args.keras else "fastcnn", "seed": args.seed,
                       "cpu": cpu_name(), "epochs": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
