"""One table from the fastcnn benchmark suite: per shape and pass, fastcnn against the others.

Usage (from the repository root):

    OMP_NUM_THREADS=2 python bench/report.py              # run the suite, then print the tables
    python bench/report.py --threads 1                    # same, with OMP_NUM_THREADS=1
    python bench/report.py -k "S4 or P1"                  # extra arguments go to pytest
    python bench/report.py -k seed                        # the seed model's rows only
    python bench/report.py -k "tf-cnn or k-cnn or resnet20"   # the CIFAR-size models only
    python bench/report.py --repeats 3                    # three runs: medians, paired ratios
    python bench/report.py --json results.json            # only print the tables of a saved run
    python bench/report.py --scaling                      # 1 vs 2 threads: S4-S6 and the epoch

Running the suite means ``python -m pytest bench --benchmark-enable --benchmark-json=FILE``,
in two processes: the kernel benchmarks and the whole-model ones (``test_bench_model.py``).
The merged JSON is kept in ``.benchmarks/report-latest.json`` (``--save FILE`` to choose).
Unless GLIBC_TUNABLES is already set or ``--no-malloc-setting`` is given, the kernel process
keeps freed memory mapped (BENCHMARKS.md's allocator setting), so no contender pays page faults
that another avoids by chance; the whole-model process runs as a user would, without it
(``--model-malloc-setting`` to give it the setting too).

Kernel table: the median time in ms of each contender; fastcnn's GFLOP/s (convolution and
dense) and ``% peak``, that figure over the cores' FMA peak measured just before and after
fastcnn's rounds of the same benchmark (``fastcnn._kernels.fma_peak``: 12 independent chains of
vector FMAs per thread; the clock of a shared VM moves too much for one figure per machine);
``ref/fastcnn`` and ``torch/fastcnn``, the reference's and PyTorch's best (faster of NCHW
and channels_last) median over fastcnn's: above 1 means fastcnn is faster. "-" marks a
contender that did not run (PyTorch not installed, or not selected) or has no such pass (the
reference has no weight-only backward).

Whole-model table (the seed model, TF-CNN, K-CNN and ResNet-20, see ``test_bench_model.py``):
what one timed call did (N training steps of batch 128, or predicting M images), fastcnn's and
PyTorch's best median as seconds per epoch (the seed model's training: N steps' seconds *
468.75 / N) or images per second (``fit`` of the CIFAR-size models, and ``predict``), and
``torch/fastcnn`` as above. Keras runs in ``bench/compare_frameworks.py``, not here.

``--repeats N`` (or several ``--json`` files of the same selection) reports each contender's
median over the runs, and as ratios the median over the runs of the ratio within each run:
on a shared machine a slow minute then weighs on both sides of a ratio instead of on whichever
contender it happened to hit.

``--scaling`` runs fastcnn's S4-S6 convolutions and the seed model's training steps once per
thread count (``--scaling-threads``, default 1,2; ``--scaling-repeats`` alternates the order and
takes the median) and prints each thread count's median and the speedup over the first;
BENCHMARKS.md's target is >= 1.8x from 1 to 2 threads. ``-k`` replaces the default selection.

Only the standard library is used, so a saved JSON can be read anywhere.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
DEFAULT_JSON = os.path.join(ROOT, ".benchmarks", "report-latest.json")
# BENCHMARKS.md: keep freed memory mapped so repeated calls do not fault fresh pages in
MALLOC_SETTING = ("glibc.malloc.mmap_threshold=4294967296:"
                  "glibc.malloc.trim_threshold=4294967296")

PASS_ORDER = ["forward", "backward", "weight-backward",
              "max-forward", "max-backward", "avg-forward", "avg-backward"]
KIND_ORDER = {"S": 0, "P": 1, "D": 2}
TORCH_LAYOUTS = {"torch-nchw": "nchw", "torch-cl": "cl", "torch": ""}
MODEL_ORDER = ["seed", "tf-cnn", "k-cnn", "resnet20"]


MODEL_FILE = "bench/test_bench_model.py"


def _pytest(json_path, env, targets, pytest_args):
    command = [sys.executable, "-m", "pytest", *targets, "--benchmark-enable",
               f"--benchmark-json={json_path}", "--benchmark-quiet", "-q",
               "-p", "no:cacheprovider", *pytest_args]
    print("running:", " ".join(command), flush=True)
    status = subprocess.call(command, cwd=ROOT, env=env)
    # 5: nothing selected in this part (e.g. -k picked only kernels); not a failure
    return 0 if status == 5 else status


def run_suite(json_path, threads, malloc_setting, pytest_args, model_malloc_setting=False):
    """Run the kernel and the whole-model benchmarks (two pytest processes) into one JSON at
    ``json_path``; returns the first non-zero pytest exit code, or 0."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    user_tunables = "GLIBC_TUNABLES" in env
    kernel_env, model_env = dict(env), dict(env)
    if malloc_setting and not user_tunables:
        kernel_env["GLIBC_TUNABLES"] = MALLOC_SETTING
        if model_malloc_setting:
            model_env["GLIBC_TUNABLES"] = MALLOC_SETTING
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    parts = [("kernels", kernel_env, ["bench", f"--ignore={MODEL_FILE}"]),
             ("model", model_env, [MODEL_FILE])]
    status, merged = 0, None
    for part, part_env, targets in parts:
        part_json = f"{json_path}.{part}.tmp"
        if os.path.exists(part_json):
            os.remove(part_json)
        part_status = _pytest(part_json, part_env, targets, pytest_args)
        status = status or part_status
        if not os.path.exists(part_json):
            continue
        with open(part_json) as f:
            text = f.read()
        os.remove(part_json)
        if not text.strip():
            continue            # nothing selected: pytest-benchmark leaves an empty file
        data = json.loads(text)
        if not data.get("benchmarks"):
            continue
        if merged is None:
            merged = dict(data, benchmarks=[], parts={})
        merged["benchmarks"] += data["benchmarks"]
        merged["parts"][part] = data.get("machine_info", {})
    if merged is not None:
        with open(json_path, "w") as f:
            json.dump(merged, f, indent=1)
    elif os.path.exists(json_path):
        os.remove(json_path)        # no stale table from an earlier run
    return status


def _shape_key(shape):
    return KIND_ORDER.get(shape[:1], 9), int(shape[1:]) if shape[1:].isdigit() else 0, shape


def _pass_key(pass_name):
    return PASS_ORDER.index(pass_name) if pass_name in PASS_ORDER else len(PASS_ORDER)


def _is_model(info):
    return info.get("kind") == "model"


def collect(data, model=False):
    """{(shape, pass): {"times": {contender: median s}, "gflop": float or None, "info": {}}}
    of the kernel benchmarks (``model=False``) or of the whole-model ones."""
    rows = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "shape" not in info or "contender" not in info or _is_model(info) != model:
            continue
        row = rows.setdefault((info["shape"], info["pass_name"]),
                              {"times": {}, "gflop": None, "info": info})
        row["times"][info["contender"]] = bench["stats"]["median"]
        if info.get("peak_gflops"):
            row["peak"] = info["peak_gflops"]
        if info.get("gflop"):
            row["gflop"] = info["gflop"]
    return rows


def combine(datas, model=False):
    """``collect`` over several runs of the same selection: each contender's median over the
    runs, and in "ratios" each other contender's median over the runs of its time over
    fastcnn's in the same run (a paired ratio, so a slow phase of a noisy machine that hits
    one run hits both sides of its ratios). PyTorch's entry ("torch") is its faster layout.
    """
    per_run = [collect(data, model) for data in datas]
    rows = {}
    for run in per_run:
        for key, row in run.items():
            merged = rows.setdefault(key, {"times": {}, "gflop": row["gflop"],
                                           "info": row["info"], "ratios": {}})
            times = row["times"]
            for contender, seconds in times.items():
                merged["times"].setdefault(contender, []).append(seconds)
            fast = times.get("fastcnn")
            torch_best, _ = _best_torch(times)
            for name, other in (("reference", times.get("reference")), ("torch", torch_best)):
                if fast and other:
                    merged["ratios"].setdefault(name, []).append(other / fast)
            if fast and row["gflop"] and row.get("peak"):
                merged["ratios"].setdefault("peak", []).append(row["gflop"] / fast / row["peak"])
    for row in rows.values():
        row["runs"] = {c: len(v) for c, v in row["times"].items()}
        row["times"] = {c: statistics.median(v) for c, v in row["times"].items()}
        row["ratios"] = {c: statistics.median(v) for c, v in row["ratios"].items()}
    return rows


def _ms(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3g}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def _ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.2f}"


def _paired(ratios, name, other, fast):
    """The median paired ratio when the rows come from several runs, else other / fast."""
    return f"{ratios[name]:.2f}" if name in ratios else _ratio(other, fast)


def table(rows):
    """The kernel table as a list of text lines."""
    header = ["shape", "pass", "fastcnn ms", "reference ms", "torch ms", "fastcnn GFLOP/s",
              "% peak", "ref/fastcnn", "torch/fastcnn"]
    lines = []
    for shape, pass_name in sorted(rows, key=lambda k: (_shape_key(k[0]), _pass_key(k[1]))):
        row = rows[(shape, pass_name)]
        times = row["times"]
        fast = times.get("fastcnn")
        ref = times.get("reference")
        torch_best, torch_layout = _best_torch(times)
        torch_text = _ms(torch_best) + (f" ({torch_layout})" if torch_layout else "")
        gflops = "-" if fast is None or not row["gflop"] else f"{row['gflop'] / fast:.1f}"
        ratios = row.get("ratios", {})
        peak = ratios.get("peak")
        if peak is None and fast and row["gflop"] and row.get("peak"):
            peak = row["gflop"] / fast / row["peak"]
        lines.append([shape, pass_name, _ms(fast), _ms(ref), torch_text, gflops,
                      "-" if peak is None else f"{100 * peak:.0f}%",
                      _paired(ratios, "reference", ref, fast),
                      _paired(ratios, "torch", torch_best, fast)])
    return _format(header, lines)


def _best_torch(times):
    """(median, layout) of PyTorch's faster memory format, or (None, None)."""
    torch_times = {c: t for c, t in times.items() if c in TORCH_LAYOUTS}
    if not torch_times:
        return None, None
    best = min(torch_times, key=torch_times.get)
    return torch_times[best], TORCH_LAYOUTS[best]


def _model_figure(seconds, pass_name, info):
    """A whole-model median as users quote it: seconds per epoch (the seed model's training),
    or images per second (``fit`` of the others, ``predict``)."""
    if seconds is None:
        return "-"
    if pass_name == "train-epoch":
        return f"{seconds / info['steps'] * info['epoch_steps']:.1f} s/epoch"
    return f"{info['images'] / seconds:,.0f} img/s"


def _model_timed(pass_name, info):
    if pass_name in ("train-epoch", "fit"):
        return f"{info['steps']} steps x {info['images'] // info['steps']} img"
    return f"predict {info['images']} img"


def _model_key(key):
    model, pass_name = key
    order = MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)
    return order, model, pass_name == "predict"


def model_table(rows):
    """The whole-model table as a list of text lines."""
    header = ["model", "pass", "one call", "fastcnn s", "fastcnn", "torch", "torch/fastcnn"]
    lines = []
    for shape, pass_name in sorted(rows, key=_model_key):
        row = rows[(shape, pass_name)]
        info = row["info"]
        fast = row["times"].get("fastcnn")
        torch_best, layout = _best_torch(row["times"])
        torch_text = _model_figure(torch_best, pass_name, info)
        if layout:
            torch_text += f" ({layout})"
        lines.append([shape, pass_name, _model_timed(pass_name, info),
                      "-" if fast is None else f"{fast:.3f}",
                      _model_figure(fast, pass_name, info), torch_text,
                      _paired(row.get("ratios", {}), "torch", torch_best, fast)])
    return _format(header, lines, left=3)


def _format(header, lines, left=2):
    """Columns padded to width; the first ``left`` columns left-aligned."""
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return [fmt(header), "-" * len(fmt(header))] + [fmt(r) for r in lines]


def describe(data):
    """One line on the conditions of the run (threads, versions, allocator setting)."""
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {}).get("brand_raw", m.get("processor", "?"))
    parts = data.get("parts") or {"": m}
    tunables = ", ".join(f"{part + ' ' if part else ''}"
                         f"{'set' if info.get('GLIBC_TUNABLES') else 'unset'}"
                         for part, info in parts.items())
    fields = [f"threads={m.get('fastcnn_threads', '?')}",
              f"OMP_NUM_THREADS={m.get('OMP_NUM_THREADS')}",
              f"fastcnn {m.get('fastcnn_version', '?')} ({m.get('fastcnn_simd', '?')})",
              f"numpy {m.get('numpy_version', '?')}",
              f"torch {m.get('torch_version') or 'not installed'}",
              f"GLIBC_TUNABLES: {tunables}",
              f"cpu: {cpu}"]
    return "; ".join(fields)


def print_tables(datas, json_path):
    kernel_rows, model_rows = combine(datas), combine(datas, model=True)
    print()
    print(f"fastcnn benchmarks ({json_path}): ratios > 1 mean fastcnn is faster")
    print(describe(datas[0]))
    if len(datas) > 1:
        print(f"{len(datas)} runs: times are medians over the runs, ratios the median of each "
              "run's ratio")
    if kernel_rows:
        print("kernels, median ms:")
        print("\n".join(table(kernel_rows)))
    if model_rows:
        print("whole models (seed: Fashion-MNIST; tf-cnn, k-cnn, resnet20: synthetic 32x32x3 "
              "data), batch 128, medians; 'fastcnn s' is one call, the other columns per epoch "
              "(seed training: x 468.75 / steps) or images per second:")
        print("\n".join(model_table(model_rows)))
    if not kernel_rows and not model_rows:
        print("no benchmark results in this file (was it run with --benchmark-enable?)")


# --------------------------------------------------------------------------------------------
# thread scaling
# --------------------------------------------------------------------------------------------
SCALING_SELECTION = "fastcnn and (S4 or S5 or S6 or train-epoch)"
SCALING_TARGET = 1.8        # BENCHMARKS.md: 2 threads >= 1.8x faster than 1 on S4-S6 and epoch


def run_scaling(args, pytest_args):
    """Run the selection once per thread count (times repeats); {threads: [json paths]}."""
    if not any(a == "-k" or a.startswith("-k") for a in pytest_args):
        pytest_args = ["-k", SCALING_SELECTION, *pytest_args]
    stem = os.path.splitext(args.save)[0]
    paths = {t: [] for t in args.scaling_threads}
    status = 0
    for repeat in range(args.scaling_repeats):
        order = args.scaling_threads if repeat % 2 == 0 else args.scaling_threads[::-1]
        for threads in order:
            path = f"{stem}-scaling-t{threads}-r{repeat}.json"
            status = run_suite(path, threads, not args.no_malloc_setting, pytest_args,
                               args.model_malloc_setting) or status
            if os.path.exists(path):
                paths[threads].append(path)
    return paths, status


def scaling_rows(paths):
    """{(shape, pass): {threads: fastcnn median s (median over repeats)}}, and model infos."""
    per_threads, infos = {}, {}
    for threads, files in paths.items():
        for path in files:
            with open(path) as f:
                data = json.load(f)
            for model in (False, True):
                for key, row in collect(data, model).items():
                    if "fastcnn" in row["times"]:
                        per_threads.setdefault(key, {}).setdefault(threads, []).append(
                            row["times"]["fastcnn"])
                        if model:
                            infos[key] = row["info"]
    medians = {key: {t: statistics.median(v) for t, v in by_t.items()}
               for key, by_t in per_threads.items()}
    return medians, infos


def scaling_table(medians, infos, thread_counts):
    base = thread_counts[0]
    header = ["shape", "pass"] + [f"{t} thr" for t in thread_counts]
    header += [f"speedup {t}/{base}" for t in thread_counts[1:]]
    header += [f"target {SCALING_TARGET}x"]
    lines = []
    ordered = sorted(medians, key=lambda k: (k[0] == "seed", _shape_key(k[0]), _pass_key(k[1])))
    for key in ordered:
        by_t = medians[key]
        shape, pass_name = key
        cells = [shape, pass_name]
        for t in thread_counts:
            value = by_t.get(t)
            if value is None:
                cells.append("-")
            elif key in infos:
                cells.append(_model_figure(value, pass_name, infos[key]))
            else:
                cells.append(f"{_ms(value)} ms")
        speedups = [by_t[base] / by_t[t] if base in by_t and t in by_t else None
                    for t in thread_counts[1:]]
        cells += ["-" if x is None else f"{x:.2f}" for x in speedups]
        two = (by_t[base] / by_t[2] if base == 1 and 1 in by_t and 2 in by_t else None)
        cells.append("-" if two is None else ("met" if two >= SCALING_TARGET else "not met"))
        lines.append(cells)
    return _format(header, lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run (or read) the fastcnn benchmarks and print one comparison table.",
        epilog="Any other argument is passed to pytest, e.g. -k S4.")
    parser.add_argument("--json", metavar="FILE", action="append",
                        help="read this pytest-benchmark JSON instead of running the suite "
                             "(repeat to merge several runs)")
    parser.add_argument("--save", metavar="FILE", default=DEFAULT_JSON,
                        help="where a run writes its JSON (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the run (default: inherited)")
    parser.add_argument("--no-malloc-setting", action="store_true",
                        help="do not set GLIBC_TUNABLES for the kernel benchmarks")
    parser.add_argument("--model-malloc-setting", action="store_true",
                        help="set GLIBC_TUNABLES for the whole-model benchmarks too")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the suite this many times, one after the other, and report "
                             "medians over the runs and paired ratios (default: %(default)s)")
    parser.add_argument("--scaling", action="store_true",
                        help="thread scaling of fastcnn: S4-S6 and the seed model's epoch")
    parser.add_argument("--scaling-threads", default="1,2",
                        help="thread counts for --scaling (default: %(default)s)")
    parser.add_argument("--scaling-repeats", type=int, default=1,
                        help="sweeps over the thread counts, alternating their order "
                             "(default: %(default)s)")
    args, pytest_args = parser.parse_known_args(argv)

    if args.scaling:
        args.scaling_threads = [int(t) for t in args.scaling_threads.split(",")]
        if args.json:
            paths = {}
            for path in args.json:
                with open(path) as f:
                    threads = json.load(f).get("machine_info", {}).get("fastcnn_threads")
                paths.setdefault(threads, []).append(path)
            args.scaling_threads = sorted(paths)
            args.scaling_repeats = max(len(files) for files in paths.values())
            status = 0
        else:
            load = os.getloadavg()[0]
            paths, status = run_scaling(args, pytest_args)
            print(f"\nload average (1 min) at start {load:.1f}, at end {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} CPUs (other processes make 2 threads wait for each other)")
        medians, infos = scaling_rows(paths)
        print()
        print("fastcnn thread scaling: median ms (kernels, GLIBC_TUNABLES "
              f"{'unset' if args.no_malloc_setting else 'set'}) or per epoch / per image "
              f"(seed model, GLIBC_TUNABLES {'set' if args.model_malloc_setting else 'unset'}); "
              f"speedup = time at {args.scaling_threads[0]} thread(s) / time at n; "
              f"{args.scaling_repeats} sweep(s)")
        print("runs: " + ", ".join(p for files in paths.values() for p in files))
        if medians:
            print("\n".join(scaling_table(medians, infos, args.scaling_threads)))
        else:
            print("no fastcnn results (is fastcnn built?)")
        return status

    status = 0
    json_paths = args.json
    if not json_paths:
        stem, ext = os.path.splitext(args.save)
        json_paths = [args.save] if args.repeats == 1 else [
            f"{stem}-r{repeat}{ext}" for repeat in range(args.repeats)]
        for path in json_paths:
            status = run_suite(path, args.threads, not args.no_malloc_setting, pytest_args,
                               args.model_malloc_setting) or status
            if not os.path.exists(path):
                print(f"pytest exited with status {status} and wrote no {path}",
                      file=sys.stderr)
                return status or 1
    datas = []
    for path in json_paths:
        with open(path) as f:
            datas.append(json.load(f))
    print_tables(datas, ", ".join(json_paths))
    return status


if __name__ == "__main__":
    sys.exit(main())
