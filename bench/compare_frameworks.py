"""fastcnn against PyTorch and TensorFlow/Keras on the seed model, in one run.

Usage (from the repository root):

    python bench/compare_frameworks.py --keras-python /tmp/tfenv/bin/python
    python bench/compare_frameworks.py --steps 20 --rounds 3        # quick: 20 steps an epoch
    python bench/compare_frameworks.py --epochs 5                   # accuracy after 5 epochs
    python bench/compare_frameworks.py --contenders fastcnn,keras --threads 1

Each contender (fastcnn, PyTorch in NCHW and channels_last, Keras) runs in a subprocess of its
own (``bench/seed_model.py worker``), so Keras can live in another venv (``--keras-python``)
and no library's threads or allocator state touch another's. Every worker gets the same
``OMP_NUM_THREADS`` and sets its framework's own thread count to the same number
(``fastcnn.set_num_threads``, ``torch.set_num_threads``, TensorFlow's intra- and inter-op
parallelism). This process loads Fashion-MNIST once and hands it to the workers as a temporary
``.npz`` of uint8 arrays; each worker scales it as its users do (workers under other
interpreters need NumPy and their framework, not fastcnn).

Protocol: round 0 is a warm-up (first calls trace, allocate, tune) and is not counted; then
``--rounds`` rounds, in each of which every contender trains one epoch and predicts the test set,
contenders taking turns in a rotating order so drift on this shared machine hits all alike.
Figures are medians over the rounds. ``--steps N`` shortens each epoch to its first N batches
(the table then shows the seconds of those N steps and the full-epoch estimate
``seconds / N * 468.75``). After the timed rounds each model trains untimed up to ``--epochs``
epochs in all, then its test accuracy is taken. Whole-model figures are taken as a user runs
them: no GLIBC_TUNABLES setting unless ``--malloc-setting``.

Columns: epoch seconds (median, and min-max over the rounds), test accuracy, predict images per
second (10,000 test images, batch 1000), and two ratios where > 1 means fastcnn is faster:
``epoch x/fastcnn`` (the contender's epoch seconds over fastcnn's) and ``predict fastcnn/x``
(fastcnn's images/s over the contender's). BENCHMARKS.md's targets: both ratios >= 2 against
Keras and against PyTorch's best.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import seed_model  # noqa: E402

DEFAULT_JSON = os.path.join(ROOT, ".benchmarks", "compare-latest.json")
MALLOC_SETTING = ("glibc.malloc.mmap_threshold=4294967296:"
                  "glibc.malloc.trim_threshold=4294967296")
TARGET_RATIO = 2.0          # BENCHMARKS.md: half Keras' and PyTorch's epoch, twice Keras' predict


class Worker:
    """One contender's subprocess, spoken to over stdin/stdout (see seed_model.worker)."""

    def __init__(self, contender, python, args, data_path, log_dir, root=ROOT, name=None):
        self.contender = contender
        self.python = python
        self.status = "starting"
        self.error = None
        self.info = {}
        self.epochs = []        # timed epoch seconds
        self.predicts = []      # timed predict seconds
        self.trained = 0        # epochs trained in all (warm-up and untimed included)
        self.accuracy = None
        env = dict(os.environ)
        env["OMP_NUM_THREADS"] = str(args.threads)
        if args.malloc_setting:
            env["GLIBC_TUNABLES"] = MALLOC_SETTING
        if contender == "fastcnn":
            # this checkout's fastcnn (or root's), as `python` run from there would import
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.log_path = os.path.join(log_dir, f"{name or contender}.log")
        self._log = open(self.log_path, "w")
        command = [python, os.path.join(BENCH_DIR, "seed_model.py"), "worker",
                   "--contender", contender, "--data", data_path,
                   "--threads", str(args.threads), "--train-images", str(args.train_images),
                   "--seed", str(args.seed)]
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
            if line.startswith(seed_model.REPLY_PREFIX):
                return json.loads(line[len(seed_model.REPLY_PREFIX):])
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


def run(args, log_dir):
    """Start the workers, run the rounds, return the workers with their measurements."""
    data_path = os.path.join(log_dir, "fashion_mnist.npz")
    n_train, n_test = load_data(data_path)
    args.train_images = min(args.steps * seed_model.BATCH_SIZE if args.steps else n_train,
                            n_train)
    pythons = {"fastcnn": args.fastcnn_python, "keras": args.keras_python,
               "torch-nchw": args.torch_python, "torch-cl": args.torch_python}
    # started together (their start-up is not timed), then waited for one by one
    workers = [Worker(c, pythons[c], args, data_path, log_dir) for c in args.contenders]
    for w in workers:
        w.wait_ready()
        state = w.status if w.ok else f"{w.status}: {w.error}"
        print(f"[{w.contender}] {state}", file=sys.stderr, flush=True)

    live = [w for w in workers if w.ok]
    for round_index in range(args.rounds + 1):
        label = "warm-up" if round_index == 0 else f"round {round_index}/{args.rounds}"
        shift = round_index % max(len(live), 1)
        for w in live[shift:] + live[:shift]:
            epoch = w.ask("epoch")
            predict = w.ask("predict") if epoch is not None else None
            if predict is None:
                print(f"[{w.contender}] {w.status}: {w.error}", file=sys.stderr, flush=True)
                continue
            w.trained += 1
            if round_index > 0:
                w.epochs.append(epoch["seconds"])
                w.predicts.append(predict["seconds"])
            print(f"[{w.contender}] {label}: epoch {epoch['seconds']:.2f} s, "
                  f"predict {predict['seconds']:.3f} s", file=sys.stderr, flush=True)
        live = [w for w in live if w.ok]

    for w in live:
        while w.ok and w.trained < args.epochs:
            if w.ask("epoch") is not None:
                w.trained += 1
        reply = w.ask("accuracy")
        if reply is not None:
            w.accuracy = reply["accuracy"]
    for w in workers:
        w.close()
    return workers, n_train, n_test


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def summarize(workers, args, n_test):
    """One dict per contender: medians, spreads, accuracy, status."""
    rows = []
    for w in workers:
        row = {"contender": w.contender, "python": w.python, "status": w.status,
               "error": w.error, "version": w.info.get("version"),
               "epochs_trained": w.trained, "accuracy": w.accuracy,
               "epoch_seconds": w.epochs, "predict_seconds": w.predicts}
        if w.epochs:
            steps = w.info["steps"]
            timed = statistics.median(w.epochs)
            row.update(steps=steps, timed_median=timed,
                       epoch_median=seed_model.epoch_seconds(timed, steps),
                       epoch_min=seed_model.epoch_seconds(min(w.epochs), steps),
                       epoch_max=seed_model.epoch_seconds(max(w.epochs), steps))
        if w.predicts:
            row.update(predict_images_per_s=n_test / statistics.median(w.predicts),
                       predict_min=n_test / max(w.predicts),
                       predict_max=n_test / min(w.predicts))
        rows.append(row)
    fast = next((r for r in rows if r["contender"] == "fastcnn"), None)
    for r in rows:
        if fast is not None and "epoch_median" in fast and "epoch_median" in r:
            r["epoch_ratio"] = r["epoch_median"] / fast["epoch_median"]
        if fast is not None and "predict_images_per_s" in fast and "predict_images_per_s" in r:
            r["predict_ratio"] = fast["predict_images_per_s"] / r["predict_images_per_s"]
    return rows


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def table(rows, args):
    """The comparison table as text lines."""
    limited = args.train_images < seed_model.EPOCH_IMAGES
    header = ["contender", "epoch s", "min-max", "test acc", "predict img/s", "min-max",
              "epoch x/fastcnn", "predict fastcnn/x"]
    if limited:
        header.insert(1, f"timed s ({rows[0].get('steps', args.steps)} steps)")
    lines = []
    for r in rows:
        if "epoch_median" not in r:
            why = "not installed" if r["status"] == "missing" else r["status"]
            lines.append([r["contender"], f"{why}: {r['error']}"])
            continue
        cells = [r["contender"], f"{r['epoch_median']:.2f}",
                 f"{r['epoch_min']:.2f}-{r['epoch_max']:.2f}",
                 _cell(r["accuracy"], ".4f"),
                 _cell(r.get("predict_images_per_s"), ",.0f"),
                 (f"{r['predict_min']:,.0f}-{r['predict_max']:,.0f}"
                  if "predict_min" in r else "-"),
                 _cell(r.get("epoch_ratio"), ".2f"), _cell(r.get("predict_ratio"), ".2f")]
        if limited:
            cells.insert(1, f"{r['timed_median']:.2f}")
        lines.append(cells)
    full = [c for c in lines if len(c) == len(header)]
    widths = [max(len(c[i]) for c in [header] + full) for i in range(len(header))]

    def fmt(cells):
        if len(cells) != len(header):
            return "  ".join([cells[0].ljust(widths[0])] + cells[1:])
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    text = [fmt(header), "-" * len(fmt(header))] + [fmt(c) for c in lines]
    return text


def targets(rows):
    """BENCHMARKS.md's whole-model targets, as lines 'met'/'not met'."""
    by_name = {r["contender"]: r for r in rows}
    torch_rows = [r for r in rows if r["contender"].startswith("torch") and "epoch_ratio" in r]
    checks = []
    if "epoch_ratio" in by_name.get("keras", {}):
        checks.append(("epoch: Keras' seconds / fastcnn's", by_name["keras"]["epoch_ratio"]))
    if torch_rows:
        best = min(torch_rows, key=lambda r: r["epoch_median"])
        checks.append((f"epoch: PyTorch's best ({best['contender']}) / fastcnn's",
                       best["epoch_ratio"]))
    if "predict_ratio" in by_name.get("keras", {}):
        checks.append(("predict: fastcnn's images/s / Keras'", by_name["keras"]["predict_ratio"]))
    return [f"  {name}: {ratio:.2f} (target >= {TARGET_RATIO:g}: "
            f"{'met' if ratio >= TARGET_RATIO else 'not met'})" for name, ratio in checks]


def header_lines(args, rows, n_train):
    if args.train_images < n_train:
        what = (f"each epoch timed over its first {args.train_images // seed_model.BATCH_SIZE} "
                f"steps ({args.train_images} images); 'epoch s' = timed s / steps * "
                f"{seed_model.STEPS_PER_EPOCH} (a full epoch's estimate)")
    else:
        what = f"full epochs ({n_train} images, {int(np.ceil(seed_model.STEPS_PER_EPOCH))} steps)"
    trained = sorted({r["epochs_trained"] for r in rows if r["accuracy"] is not None})
    lines = [
        f"Seed model on Fashion-MNIST, batch {seed_model.BATCH_SIZE}, Adam, "
        f"{args.threads} thread(s) each (OMP_NUM_THREADS and the framework's own setting); "
        f"GLIBC_TUNABLES {'set' if args.malloc_setting else 'unset'}",
        f"medians of {args.rounds} interleaved rounds after 1 warm-up round; {what}; "
        f"predict: 10,000 test images, batch {seed_model.PREDICT_BATCH_SIZE}; test accuracy "
        f"after {'/'.join(map(str, trained)) or '-'} "
        f"{'shortened ' if args.train_images < n_train else ''}epoch(s); "
        f"ratios > 1: fastcnn is faster",
        f"load average (1 min) at start {args.load[0]:.1f}, at end {args.load[1]:.1f} "
        f"on {os.cpu_count()} CPUs: figures are only comparable within this run",
    ]
    for r in rows:
        if r["version"]:
            lines.append(f"  {r['contender']}: {r['version']} ({r['python']})")
    return lines


def _contenders(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in seed_model.CONTENDERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown contender(s) {unknown}; choose from {','.join(seed_model.CONTENDERS)}")
    return names


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Seed model: fastcnn vs PyTorch vs Keras, one epoch and predict each, "
                    "interleaved rounds, one table.")
    parser.add_argument("--threads", type=_positive, default=2,
                        help="threads for every framework (default: %(default)s)")
    parser.add_argument("--rounds", type=_positive, default=5,
                        help="timed rounds after the warm-up round (default: %(default)s)")
    parser.add_argument("--steps", type=_positive, default=None,
                        help="train only the first STEPS batches of each epoch (quick runs)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs each model trains in all before its test accuracy is "
                             "taken (default: the 1 + ROUNDS of the timing)")
    parser.add_argument("--contenders", type=_contenders, default=list(seed_model.CONTENDERS),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--keras-python", default=sys.executable,
                        help="interpreter with Keras/TensorFlow (default: this one)")
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

    start = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fastcnn-compare-") as log_dir:
        workers, n_train, n_test = run(args, log_dir)
    args.load = (load_start, os.getloadavg()[0])
    rows = summarize(workers, args, n_test)
    print()
    print("\n".join(header_lines(args, rows, n_train)))
    print("\n".join(table(rows, args)))
    lines = targets(rows)
    if lines:
        print("targets (BENCHMARKS.md):")
        print("\n".join(lines))
    print(f"(whole run {time.perf_counter() - start:.0f} s)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rounds": args.rounds, "steps": args.steps,
                       "train_images": args.train_images, "epochs": args.epochs,
                       "malloc_setting": args.malloc_setting, "load_average": args.load,
                       "rows": rows}, f, indent=1)
    return 0 if any(r.get("epoch_median") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
