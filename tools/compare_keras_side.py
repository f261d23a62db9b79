"""The Keras 3 side of tools/compare_keras.py; run by the Python that has TensorFlow and Keras.

    /tmp/tfenv/bin/python tools/compare_keras_side.py --job DIR --role load

It reads ``DIR/cases.json`` (written by compare_keras.py), builds each case with Keras through
the shared code of compare_keras_run.py and writes the results next to it. ``--role load``
copies in the weights and data the fastcnn side wrote; ``--role init`` makes them itself (the
``--self-test`` of compare_keras.py runs Keras in both roles); ``--floatx float64`` builds the
models in float64 (the data and weights handed over are float32 values, exact in float64). It
never imports fastcnn, so the
environment needs only NumPy and Keras with a backend (TensorFlow here).
"""
import argparse
import json
import logging
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # before TensorFlow is imported
# every case is a new model, so predict's tf.function retraces: TensorFlow warns each time
logging.getLogger("tensorflow").setLevel(logging.ERROR)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_keras_run as run  # noqa: E402


class KerasLibrary:
    """The adapter compare_keras_run.py builds and trains through (see its docstring)."""

    def __init__(self, floatx="float32"):
        import keras
        if not keras.__version__.startswith("3."):
            raise SystemExit(f"Keras 3 is needed, this Python has Keras {keras.__version__}")
        keras.config.set_floatx(floatx)
        self.keras = keras
        self.name = "keras"
        self.callback_base = keras.callbacks.Callback

    def layer(self, class_name, name, args):
        return getattr(self.keras.layers, class_name)(name=name, **args)

    def input(self, shape, name):
        return self.keras.Input(shape=tuple(shape), name=name)

    def model(self, inputs, output, name):
        return self.keras.Model(inputs=inputs if len(inputs) > 1 else inputs[0],
                                outputs=output, name=name)

    def sequential(self, input_spec, layers, name):
        return self.keras.Sequential([self.keras.Input(shape=tuple(input_spec["shape"]))]
                                     + layers, name=name)

    def optimizer(self, class_name, args):
        return getattr(self.keras.optimizers, class_name)(**args)

    def obj(self, path, args):
        target = self.keras
        for part in path.split("."):
            target = getattr(target, part)
        return target(**args)

    def fix_flips(self, layer, flips):
        """RandomFlip flips where ``get_random_transformation``'s ``"flips"`` (shape (N, 1, 1,
        1)) is true: that method of this layer is replaced by one returning the first N of
        ``flips`` (a constant in fit's traced graph too)."""
        ops, pattern = self.keras.ops, np.asarray(flips, bool)

        def fixed(data, training=True, seed=None):
            if not training:
                return None
            shape = ops.shape(data)
            flips = ops.reshape(ops.convert_to_tensor(pattern)[:shape[0]], (-1, 1, 1, 1))
            return {"flips": flips, "input_shape": shape}
        layer.get_random_transformation = fixed

    def seed(self, n):
        self.keras.utils.set_random_seed(n)

    def numpy(self, tensor):
        return self.keras.ops.convert_to_numpy(tensor)


def versions():
    """The versions the results come from, for the report."""
    import keras
    out = {"keras": keras.__version__, "backend": keras.backend.backend(),
           "floatx": keras.config.floatx(), "python": sys.version.split()[0]}
    try:
        import tensorflow as tf
        out["tensorflow"] = tf.__version__
    except ImportError:
        pass
    out["numpy"] = np.__version__
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="directory holding cases.json")
    parser.add_argument("--role", choices=("init", "load"), default="load")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--floatx", choices=("float32", "float64"), default="float32",
                        help="Keras' float type (float64: a more accurate reference)")
    args = parser.parse_args(argv)
    with open(os.path.join(args.job, "cases.json")) as f:
        cases = json.load(f)
    lib = KerasLibrary(args.floatx)
    with open(os.path.join(args.job, f"versions.{args.role}.json"), "w") as f:
        json.dump(versions(), f)
    for case in cases:
        if args.role == "load" and not os.path.exists(
                os.path.join(args.job, case["name"] + ".inputs.npz")):
            continue                            # the init side could not build it
        run.print_progress(case, run.run_role(lib, case, args.role, args.job, args.seed))


if __name__ == "__main__":
    main()
