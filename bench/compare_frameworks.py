"""fastcnn against PyTorch, Keras on TensorFlow and Keras on JAX on whole models, in one run.

Usage (from the repository root):

    python bench/compare_frameworks.py --keras-python /tmp/tfenv/bin/python \\
        --jax-python /tmp/jaxenv/bin/python --models tf-cnn,k-cnn,resnet20
    python bench/compare_frameworks.py --keras-python /tmp/tfenv/bin/python   # the seed model
    python bench/compare_frameworks.py --steps 20 --rounds 3        # quick: 20 steps an epoch
    python bench/compare_frameworks.py --epochs 5                   # seed: accuracy after 5
    python bench/compare_frameworks.py --contenders fastcnn,keras --threads 1

Models (``--models``, comma-separated, run one after the other; see ``bench/whole_models.py``):
``seed`` on Fashion-MNIST (the default), ``tf-cnn``, ``k-cnn``, ``resnet20`` on synthetic data
of CIFAR-10's form (uint8 32x32x3 images and random labels from a fixed seed: throughput
figures only, no accuracy). Batch 128, Adam; predict in batches of 1000.

Each contender (fastcnn, PyTorch in NCHW and channels_last, Keras on TensorFlow, Keras on JAX)
runs in a subprocess of its own (``bench/whole_models.py worker``) under its own interpreter
(``--keras-python``, ``--jax-python``, ``--torch-python``, ``--fastcnn-python``), so no
library's threads or allocator state touch another's. Every worker gets the same
``OMP_NUM_THREADS`` and sets its framework's own thread count to the same number
(``fastcnn.set_num_threads``, ``torch.set_num_threads``, TensorFlow's intra- and inter-op
parallelism; XLA has no such setting, so the JAX worker is kept on that many CPUs when there
are more). ``KERAS_BACKEND`` is set per worker (``tensorflow``, ``jax``). For the seed model
this process loads Fashion-MNIST once and hands it to the workers as a ``.npz``; the others
draw the same synthetic arrays from the seed.

Protocol, per model: round 0 is a warm-up (first calls trace, allocate, tune) and is not
counted; then ``--rounds`` rounds, in each of which every contender trains one epoch
(``fit`` over the training images: the seed model's 60,000, or ``--steps`` batches; the
CIFAR-size models ``--steps`` batches, default 50) and predicts ``--test-images`` images
(the seed: its 10,000 test images), contenders taking turns in an order that rotates every
round, so drift on this shared machine hits all alike. Whole-model figures are taken as a
user runs them: no GLIBC_TUNABLES setting unless ``--malloc-setting``.

Reported (``bench/compare_report.py``): images per second of fit and of predict, medians and
quartiles over the rounds, and the ratios fastcnn/x of images per second, paired per round
(median and quartiles of each round's ratio; > 1 means fastcnn is faster); for the seed model
also the epoch seconds and the test accuracy after ``--epochs`` epochs. The header names the
CPU (/proc/cpuinfo) and fastcnn's kernel set (``fastcnn.show_config``).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import compare_report  # noqa: E402
import whole_models  # noqa: E402

DEFAULT_JSON = os.path.join(ROOT, ".benchmarks", "compare-latest.json")
MALLOC_SETTING = ("glibc.malloc.mmap_threshold=4294967296:"
                  "glibc.malloc.trim_threshold=4294967296")
CIFAR_STEPS = 50            # default training steps per timed fit of the CIFAR-size models


class Worker:
    """One contender's subprocess, spoken to over stdin/stdout (see whole_models.worker).
    ``data_path`` None: the worker draws ``model``'s synthetic data (``args.test_images``)."""

    def __init__(self, contender, python, args, data_path, log_dir, root=ROOT, name=None,
                 model="seed"):
        self.contender = contender
        self.python = python
        self.status = "starting"
        self.error = None
        self.info = {}
        self.fits = {}          # round -> timed fit (epoch) seconds
        self.predicts = {}      # round -> timed predict seconds
        self.trained = 0        # epochs trained in all (warm-up and untimed included)
        self.accuracy = None
        env = dict(os.environ)
        env["OMP_NUM_THREADS"] = str(args.threads)
        if args.malloc_setting:
            env["GLIBC_TUNABLES"] = MALLOC_SETTING
        if contender in whole_models.KERAS_BACKENDS:
            env["KERAS_BACKEND"] = whole_models.KERAS_BACKENDS[contender]
        if contender == "fastcnn":
            # this checkout's fastcnn (or root's), as `python` run from there would import
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.log_path = os.path.join(log_dir, f"{name or contender}-{model}.log")
        self._log = open(self.log_path, "w")
        command = [python, os.path.join(BENCH_DIR, "whole_models.py"), "worker",
                   "--contender", contender, "--model", model,
                   "--threads", str(args.threads), "--train-images", str(args.train_images),
                   "--seed", str(args.seed)]
        command += (["--data", data_path] if data_path
                    else ["--test-images", str(args.test_images)])
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self._log,
                                            text=True, cwd=ROOT, env=env)
        except OSError as exc:
            self.process = None
            self.status, self.error = "missing", f"cannot run {python}: {exc}"

    @property
    def ok(self):
        return self.status == "ready"

    def _read(self):
        """The next reply; None when the worker died (its status then says why)."""
        for line in self.process.stdout:
            if line.startswith(whole_models.REPLY_PREFIX):
                return json.loads(line[len(whole_models.REPLY_PREFIX):])
            # anything else a framework printed on stdout goes to the log
            self._log.write(line)
        self.process.wait()
        self._log.flush()
        self.status = "failed"
        self.error = f"worker exited with status {self.process.returncode}: " + self._log_tail()
        return None

    def _log_tail(self, lines=3):
        try:
            with open(self.log_path) as f:
                tail = [t.strip() for t in f.read().splitlines() if t.strip()][-lines:]
        except OSError:
            tail = []
        return " | ".join(tail) or f"(see {self.log_path})"

    def wait_ready(self):
        if self.process is None:
            return
        reply = self._read()
        if reply is None:
            return
        self.status = reply.get("status", "failed")
        self.error = reply.get("error")
        self.info = reply

    def ask(self, command):
        """Send a command and return its reply (None, and status "failed", if it died)."""
        if not self.ok:
            return None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass            # _read reports the exit status
        return self._read()

    def close(self):
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def load_data(path):
    """Fashion-MNIST as uint8 arrays, written once to ``path`` for the workers."""
    sys.path.insert(0, ROOT)
    from fastcnn.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return len(x_train), len(x_test)


def run_model(model, args, log_dir):
    """Start one model's workers, run its rounds; returns the workers with their
    measurements and the numbers of training and test images."""
    data_path = None
    if model == "seed":
        data_path = os.path.join(log_dir, "fashion_mnist.npz")
        n_train, args.test_images = load_data(data_path)
        steps = args.steps
    else:
        steps = args.steps or CIFAR_STEPS
        n_train, args.test_images = steps * whole_models.BATCH_SIZE, args.cifar_test_images
    args.train_images = min(steps * whole_models.BATCH_SIZE if steps else n_train, n_train)
    pythons = {"fastcnn": args.fastcnn_python, "keras": args.keras_python,
               "keras-jax": args.jax_python, "torch-nchw": args.torch_python,
               "torch-cl": args.torch_python}
    # started together (their start-up is not timed), then waited for one by one
    workers = [Worker(c, pythons[c], args, data_path, log_dir, model=model)
               for c in args.contenders]
    for w in workers:
        w.wait_ready()
        state = w.status if w.ok else f"{w.status}: {w.error}"
        print(f"[{model} {w.contender}] {state}", file=sys.stderr, flush=True)

    live = [w for w in workers if w.ok]
    for round_index in range(args.rounds + 1):
        label = "warm-up" if round_index == 0 else f"round {round_index}/{args.rounds}"
        shift = round_index % max(len(live), 1)
        for w in live[shift:] + live[:shift]:
            epoch = w.ask("epoch")
            predict = w.ask("predict") if epoch is not None else None
            if predict is None:
                print(f"[{model} {w.contender}] {w.status}: {w.error}", file=sys.stderr,
                      flush=True)
                continue
            w.trained += 1
            if round_index > 0:
                w.fits[round_index] = epoch["seconds"]
                w.predicts[round_index] = predict["seconds"]
            print(f"[{model} {w.contender}] {label}: fit {epoch['seconds']:.2f} s, "
                  f"predict {predict['seconds']:.3f} s", file=sys.stderr, flush=True)
        live = [w for w in live if w.ok]

    if model == "seed":         # synthetic data has no accuracy worth reporting
        for w in live:
            while w.ok and w.trained < args.epochs:
                if w.ask("epoch") is not None:
                    w.trained += 1
            reply = w.ask("accuracy")
            if reply is not None:
                w.accuracy = reply["accuracy"]
    for w in workers:
        w.close()
    return workers, n_train, args.test_images


def _names(choices, what):
    def parse(text):
        names = [c.strip() for c in text.split(",") if c.strip()]
        unknown = [c for c in names if c not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what}(s) {unknown}; choose from {','.join(choices)}")
        return names
    return parse


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Whole models: fastcnn vs PyTorch vs Keras (TensorFlow, JAX), fit and "
                    "predict each, interleaved rounds, one table per model.")
    parser.add_argument("--models", type=_names(whole_models.MODELS, "model"),
                        default=["seed"], help="comma-separated, from "
                        f"{','.join(whole_models.MODELS)} (default: seed)")
    parser.add_argument("--threads", type=_positive, default=2,
                        help="threads for every framework (default: %(default)s)")
    parser.add_argument("--rounds", type=_positive, default=5,
                        help="timed rounds after the warm-up round (default: %(default)s)")
    parser.add_argument("--steps", type=_positive, default=None,
                        help="train only STEPS batches per timed fit (default: the seed "
                             f"model's whole epoch, {CIFAR_STEPS} for the others)")
    parser.add_argument("--test-images", dest="cifar_test_images", type=_positive,
                        default=whole_models.TEST_IMAGES,
                        help="images predicted per round by the CIFAR-size models "
                             "(default: %(default)s; the seed model predicts its test set)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="seed model: epochs each model trains in all before its test "
                             "accuracy is taken (default: the 1 + ROUNDS of the timing)")
    parser.add_argument("--contenders", type=_names(whole_models.CONTENDERS, "contender"),
                        default=list(whole_models.CONTENDERS),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--keras-python", default=sys.executable,
                        help="interpreter with Keras and TensorFlow (default: this one)")
    parser.add_argument("--jax-python", default=sys.executable,
                        help="interpreter with Keras and JAX (default: this one)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="interpreter with PyTorch (default: this one)")
    parser.add_argument("--fastcnn-python", default=sys.executable,
                        help="interpreter that runs this checkout's fastcnn (default: this one)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--malloc-setting", action="store_true",
                        help="run the workers with BENCHMARKS.md's GLIBC_TUNABLES setting")
    parser.add_argument("--json", metavar="FILE", default=DEFAULT_JSON,
                        help="where to write the results (default: %(default)s)")
    args = parser.parse_args(argv)
    args.epochs = max(args.epochs or 0, args.rounds + 1)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    load_start = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix="fastcnn-compare-") as log_dir:
        for model in args.models:
            workers, n_train, n_test = run_model(model, args, log_dir)
            results[model] = compare_report.summarize(workers, model, n_train, n_test, args)
    args.load = (load_start, os.getloadavg()[0])
    print()
    print("\n".join(compare_report.run_header(args, results)))
    for model, result in results.items():
        print()
        print("\n".join(compare_report.model_lines(model, result, args)))
    print(f"(whole run {time.perf_counter() - start:.0f} s)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"cpu": compare_report.cpu_name(), "threads": args.threads,
                       "rounds": args.rounds, "steps": args.steps, "epochs": args.epochs,
                       "malloc_setting": args.malloc_setting, "load_average": args.load,
                       "models": results}, f, indent=1)
    return 0 if any(r.get("fit_median") for result in results.values()
                    for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
