"""fastcnn's optimizers against Keras 3's, step by step: the same weights and gradients, every
optimizer with every option (weight decay, the three clips, a schedule), a few steps; prints
per case the largest difference of the weights in float32 ulps and relative to the weights.

    python tools/compare_keras_optimizers.py                  # float32
    python tools/compare_keras_optimizers.py --dtype float64

Keras runs in a subprocess under ``--keras-python`` (default ``$FASTCNN_KERAS_PYTHON``, else
/tmp/tfenv/bin/python), which runs this file with ``--keras-side DIR``: that side never
imports fastcnn, this side never imports TensorFlow; data goes through ``.npz`` files.
Not part of the test suite (it needs TensorFlow); the suite checks the same formulas against
tests/optimizer_reference.py.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CASES = {
    "sgd": ("SGD", {"learning_rate": 0.05}),
    "sgd-momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {}),
    "adam-amsgrad": ("Adam", {"amsgrad": True}),
    "adamw": ("AdamW", {}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop-centered-momentum": ("RMSprop", {"centered": True, "momentum": 0.5}),
}
OPTIONS = {
    "": {},
    "+wd": {"weight_decay": 0.05},
    "+clipnorm": {"clipnorm": 1.0},
    "+global_clipnorm": {"global_clipnorm": 2.0},
    "+clipvalue": {"clipvalue": 0.3},
    "+cosine": {"learning_rate": {"class_name": "CosineDecay", "config": {
        "initial_learning_rate": 0.001, "decay_steps": 3, "alpha": 0.1,
        "warmup_target": 0.05, "warmup_steps": 2}}},
}
SHAPES, SCALES, STEPS = [(37, 29), (5,), (3, 3, 2, 4)], [3.0, 0.01, 0.5], 6


def problem(dtype):
    rng = np.random.default_rng(7)
    weights = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(c * rng.standard_normal(s)).astype(dtype) for s, c in zip(SHAPES, SCALES)]
             for _ in range(STEPS)]
    return weights, grads


def cases():
    for name, (cls, config) in CASES.items():
        for suffix, option in OPTIONS.items():
            yield name + suffix, cls, dict(config, **option)


def keras_side(job):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    with open(os.path.join(job, "job.json")) as fh:
        dtype = json.load(fh)["dtype"]
    weights, grads = problem(dtype)
    out = {}
    for name, cls, config in cases():
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = keras.optimizers.schedules.deserialize(
                config["learning_rate"])
        opt = getattr(keras.optimizers, cls)(**config)
        variables = [keras.Variable(w, dtype=dtype) for w in weights]
        for step in grads:
            opt.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
        for i, v in enumerate(variables):
            out[f"{name}/{i}"] = keras.ops.convert_to_numpy(v)
    np.savez(os.path.join(job, "keras.npz"), **out)


def ulps(a, b):
    """|a - b| in units in the last place of float32 (the values rounded to float32)."""
    ia = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
    ib = np.asarray(b, np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--keras-python", default=os.environ.get("FASTCNN_KERAS_PYTHON",
                                                                 "/tmp/tfenv/bin/python"))
    parser.add_argument("--keras-side", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_side:
        return keras_side(args.keras_side)

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from fastcnn import optimizers
    with tempfile.TemporaryDirectory(prefix="fastcnn-optim-") as job:
        with open(os.path.join(job, "job.json"), "w") as fh:
            json.dump({"dtype": args.dtype}, fh)
        subprocess.run([args.keras_python, os.path.abspath(__file__), "--keras-side", job],
                       check=True)
        theirs = dict(np.load(os.path.join(job, "keras.npz")))
    weights, grads = problem(args.dtype)
    print(f"{'case':38} {'max ulps (f32)':>14} {'max |diff|/max|w|':>18}")
    worst = 0.0
    for name, cls, config in cases():
        opt = optimizers.get({"class_name": cls, "config": config})
        ours = [w.copy() for w in weights]
        for step in grads:
            opt.apply(step, ours)
        keras_w = [theirs[f"{name}/{i}"] for i in range(len(ours))]
        u = max(int(ulps(a, b).max()) for a, b in zip(ours, keras_w))
        rel = max(float(np.abs(a.astype(np.float64) - b).max() / np.abs(b).max())
                  for a, b in zip(ours, keras_w))
        worst = max(worst, rel)
        print(f"{name:38} {u:14d} {rel:18.3g}")
    print(f"largest relative difference: {worst:.3g}")


if __name__ == "__main__":
    main()
