"""fastcnn against Keras 3, layer by layer and model by model: same models, same weights, same
data; outputs, moving statistics, losses and trained weights compared in one table.

Usage (with the Python that has fastcnn's dependencies; the fastcnn tested is this checkout's,
built in place with ``python setup.py build_ext --inplace``):

    python tools/compare_keras.py                           # every case
    python tools/compare_keras.py --only existing           # layers fastcnn has today
    python tools/compare_keras.py --only recipes            # optimizers' options, schedules,
                                                            # losses, weights, callbacks,
                                                            # augmentation (issue 13)
    python tools/compare_keras.py --skip relu-options,slow  # by tag or by case name
    python tools/compare_keras.py --self-test               # Keras on both sides: harness check
    python tools/compare_keras.py --list                    # the cases and their tags

Keras runs in a subprocess under ``--keras-python`` (default ``$FASTCNN_KERAS_PYTHON``, else
/tmp/tfenv/bin/python, a venv made with ``python -m venv /tmp/tfenv &&
/tmp/tfenv/bin/pip install tensorflow-cpu``): this process never imports TensorFlow and the
Keras side (tools/compare_keras_side.py) never imports fastcnn. The cases are data
(tools/compare_keras_cases.py, the training recipes' in tools/compare_keras_recipes.py) that
shared modules (tools/compare_keras_run.py, compare_keras_fit.py for ``fit``) turn into
either library's calls, so both sides build and train the same model. fastcnn builds first,
draws the data from a fixed NumPy seed and the weights its initialisers leave at 0/1
(BatchNormalization's four, biases), and hands data and weights to Keras through ``.npz``
files in a temporary directory; Keras copies the weights in by layer name and runs the same
checks. Keras is the reference (float32, or float64 with ``--keras-floatx float64``).
Tolerances: see compare_keras_cases.TOLERANCES (and a case's ``tol``).

A case that fails on the fastcnn side (a layer or feature not there yet) prints its error and
shows as ERROR rows; the other cases still run. Exit status 0 only when every row passed.
"""
import argparse
import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS_DIR)
sys.path[:0] = [ROOT, TOOLS_DIR]        # this checkout's fastcnn, and the helpers beside us

import compare_keras_cases as cases_module  # noqa: E402
import compare_keras_report as report  # noqa: E402
import compare_keras_run as run  # noqa: E402

DEFAULT_KERAS_PYTHON = os.environ.get("FASTCNN_KERAS_PYTHON", "/tmp/tfenv/bin/python")
SIDE_SCRIPT = os.path.join(TOOLS_DIR, "compare_keras_side.py")
# TensorFlow's C++ log lines (glog/absl style), which TF_CPP_MIN_LOG_LEVEL no longer silences
TF_NOISE = re.compile(r"^([IWE]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl)")


class FastcnnLibrary:
    """The adapter compare_keras_run.py builds and trains fastcnn through, written against
    API.md: ``fastcnn.layers`` by Keras class name, ``Input`` and ``Model`` for graphs."""

    name = "fastcnn"

    def __init__(self):
        from fastcnn import callbacks
        self.callback_base = callbacks.Callback

    def layer(self, class_name, name, args):
        from fastcnn import layers
        return getattr(layers, class_name)(name=name, **args)

    def input(self, shape, name):
        from fastcnn.layers import Input
        return Input(tuple(shape), name=name)

    def model(self, inputs, output, name):
        from fastcnn.models import Model
        return Model(inputs=inputs if len(inputs) > 1 else inputs[0], outputs=output,
                     name=name)

    def sequential(self, input_spec, layers, name):
        from fastcnn.models import Sequential
        model = Sequential(layers, name=name)
        model.build((None,) + tuple(input_spec["shape"]))
        return model

    def optimizer(self, class_name, args):
        from fastcnn import optimizers
        return getattr(optimizers, class_name)(**args)

    def obj(self, path, args):
        module, class_name = path.rsplit(".", 1)
        return getattr(importlib.import_module("fastcnn." + module), class_name)(**args)

    def fix_flips(self, layer, flips):
        """RandomFlip flips image n of a training batch when ``generator.random(N)[n] <=
        0.5``: its generator (a private hook, ``_generator``) is replaced by one whose
        ``random(N)`` is 0 where ``flips`` and 1 elsewhere (the first N of them)."""
        draws = np.where(np.asarray(flips, bool), 0.0, 1.0)

        class FixedDraws:
            @staticmethod
            def random(n):
                if n > len(draws):
                    raise ValueError(f"fixed_flips has {len(draws)} flips for a batch of {n} "
                                     "images")
                return draws[:n]
        layer._generator = lambda: FixedDraws

    def seed(self, n):
        from fastcnn import utils
        utils.set_random_seed(n)

    def numpy(self, tensor):
        return np.asarray(tensor)


def select_cases(only, skip):
    """Cases whose name or a tag is in ``only`` (all when empty), less those in ``skip``."""
    def hit(case, words):
        return bool(words & ({case["name"]} | set(case["tags"])))
    return [case for case in cases_module.all_cases()
            if (not only or hit(case, only)) and not hit(case, skip)]


def run_keras(args, job, role):
    """Run the Keras side over the job directory; its progress lines pass through stderr.
    ``--keras-floatx`` applies to the reference (``load``) only: the tested side is float32."""
    command = [args.keras_python, SIDE_SCRIPT, "--job", job, "--role", role,
               "--seed", str(args.seed),
               "--floatx", args.keras_floatx if role == "load" else "float32"]
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    except FileNotFoundError:
        raise SystemExit(f"no Python at {args.keras_python}; make the venv (see --help) or "
                         "pass --keras-python / set FASTCNN_KERAS_PYTHON") from None
    with proc:
        for line in proc.stdout:
            if args.verbose or not TF_NOISE.match(line):
                print(line, end="", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        print(f"the Keras side exited with status {proc.returncode}", file=sys.stderr)


def run_fastcnn(args, job, cases):
    """The fastcnn side, in this process, as the ``init`` role."""
    import fastcnn
    lib = FastcnnLibrary()
    with open(os.path.join(job, "versions.init.json"), "w") as f:
        json.dump({"fastcnn": fastcnn.__version__, "from": os.path.dirname(fastcnn.__file__),
                   "numpy": np.__version__, "python": sys.version.split()[0]}, f)
    for case in cases:
        outcome = run.run_role(lib, case, "init", job, args.seed)
        run.print_progress(case, outcome)
        if args.verbose:
            for text in outcome["errors"].values():
                print(text, file=sys.stderr)


def compare(job, cases, names):
    rows = []
    for case in cases:
        rows += report.compare_case(case, run.read_role(job, case["name"], "init"),
                                    run.read_role(job, case["name"], "load"), names)
    return rows


def versions(job):
    out = {}
    for role in ("init", "load"):
        path = os.path.join(job, f"versions.{role}.json")
        if os.path.exists(path):
            with open(path) as f:
                out[role] = json.load(f)
    return out


def run_job(args, job, cases):
    """Both sides over ``job``; returns the rows of the table."""
    with open(os.path.join(job, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    if args.self_test:
        run_keras(args, job, "init")
    else:
        run_fastcnn(args, job, cases)
    run_keras(args, job, "load")
    names = ("keras (as tested side)", "keras") if args.self_test else ("fastcnn", "keras")
    return compare(job, cases, names)


def print_result(args, rows, found_versions):
    title = "SELF-TEST: Keras on both sides" if args.self_test else "fastcnn vs Keras 3"
    print(f"\n{title}; tested side {found_versions.get('init')}, "
          f"reference {found_versions.get('load')}")
    print("tolerances (rtol, atol): " + ", ".join(
        f"{kind} {tol}" for kind, tol in cases_module.TOLERANCES.items())
        + "; per case overrides in compare_keras_cases.py")
    print(report.format_table(rows))
    print(report.summary(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": found_versions, "self_test": args.self_test,
                       "rows": [dataclasses.asdict(r) for r in rows]}, f, indent=1)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    words = lambda text: {w for w in text.split(",") if w}   # noqa: E731
    parser.add_argument("--keras-python", default=DEFAULT_KERAS_PYTHON,
                        help="Python with Keras 3 (default %(default)s)")
    parser.add_argument("--self-test", action="store_true",
                        help="run Keras on both sides: every difference should be ~0")
    parser.add_argument("--only", type=words, default=set(),
                        help="case names or tags, comma-separated")
    parser.add_argument("--skip", type=words, default=set(),
                        help="case names or tags, comma-separated")
    parser.add_argument("--keras-floatx", choices=("float32", "float64"), default="float32",
                        help="the reference's float type: float64 tells which side's float32 "
                             "rounding a difference comes from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR",
                        help="work in DIR and keep its files (whole tracebacks in *.json)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="whole tracebacks of fastcnn's errors, TensorFlow's log lines")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cases = select_cases(args.only, args.skip)
    if args.list:
        for case in cases:
            print(f"{case['name']:24} {','.join(case['tags'])}")
        return 0
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        rows, found = run_job(args, args.keep, cases), versions(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="compare_keras_") as job:
            rows, found = run_job(args, job, cases), versions(job)
    print_result(args, rows, found)
    return 0 if rows and all(r.status == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
