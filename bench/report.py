"""One table from the fastcnn benchmark suite: per shape and pass, fastcnn against the others.

Usage (from the repository root):

    OMP_NUM_THREADS=2 python bench/report.py              # run the suite, then print the table
    python bench/report.py --threads 1                    # same, with OMP_NUM_THREADS=1
    python bench/report.py -k "S4 or P1"                  # extra arguments go to pytest
    python bench/report.py --json results.json            # only print the table of a saved run

Running the suite means ``python -m pytest bench --benchmark-enable --benchmark-json=FILE``;
the JSON is kept in ``.benchmarks/report-latest.json`` (``--save FILE`` to choose). Unless
GLIBC_TUNABLES is already set or ``--no-malloc-setting`` is given, the run keeps freed memory
mapped (BENCHMARKS.md's allocator setting), so no contender pays page faults that another
avoids by chance.

Columns: the median time in ms of each contender; fastcnn's GFLOP/s (convolution and dense);
``ref/fastcnn`` and ``torch/fastcnn``, the reference's and PyTorch's best (faster of NCHW and
channels_last) median over fastcnn's: above 1 means fastcnn is faster. "-" marks a contender
that did not run (not built or not installed; see pytest's skip reasons).

Only the standard library is used, so a saved JSON can be read anywhere.
"""
import argparse
import json
import os
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


def run_suite(json_path, threads, malloc_setting, pytest_args):
    """Run the benchmark suite into ``json_path``; returns pytest's exit code."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    if malloc_setting and "GLIBC_TUNABLES" not in env:
        env["GLIBC_TUNABLES"] = MALLOC_SETTING
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    command = [sys.executable, "-m", "pytest", "bench", "--benchmark-enable",
               f"--benchmark-json={json_path}", "--benchmark-quiet", "-q",
               "-p", "no:cacheprovider", *pytest_args]
    print("running:", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def _shape_key(shape):
    return KIND_ORDER.get(shape[:1], 9), int(shape[1:]) if shape[1:].isdigit() else 0, shape


def _pass_key(pass_name):
    return PASS_ORDER.index(pass_name) if pass_name in PASS_ORDER else len(PASS_ORDER)


def collect(data):
    """{(shape, pass): {"times": {contender: median s}, "gflop": float or None}}."""
    rows = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "shape" not in info or "contender" not in info:
            continue
        row = rows.setdefault((info["shape"], info["pass_name"]), {"times": {}, "gflop": None})
        row["times"][info["contender"]] = bench["stats"]["median"]
        if info.get("gflop"):
            row["gflop"] = info["gflop"]
    return rows


def _ms(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3g}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def _ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.2f}"


def table(rows):
    """The report table as a list of text lines."""
    header = ["shape", "pass", "fastcnn ms", "reference ms", "torch ms", "fastcnn GFLOP/s",
              "ref/fastcnn", "torch/fastcnn"]
    lines = []
    for shape, pass_name in sorted(rows, key=lambda k: (_shape_key(k[0]), _pass_key(k[1]))):
        row = rows[(shape, pass_name)]
        times = row["times"]
        fast = times.get("fastcnn")
        ref = times.get("reference")
        torch_times = {c: t for c, t in times.items() if c in TORCH_LAYOUTS}
        torch_best = torch_layout = None
        if torch_times:
            best = min(torch_times, key=torch_times.get)
            torch_best, torch_layout = torch_times[best], TORCH_LAYOUTS[best]
        torch_text = _ms(torch_best) + (f" ({torch_layout})" if torch_layout else "")
        gflops = "-" if fast is None or not row["gflop"] else f"{row['gflop'] / fast:.1f}"
        lines.append([shape, pass_name, _ms(fast), _ms(ref), torch_text, gflops,
                      _ratio(ref, fast), _ratio(torch_best, fast)])
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    rule = "-" * len(fmt(header))
    return [fmt(header), rule] + [fmt(r) for r in lines]


def describe(data):
    """One line on the conditions of the run (threads, versions, allocator setting)."""
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {}).get("brand_raw", m.get("processor", "?"))
    parts = [f"threads={m.get('fastcnn_threads', '?')}",
             f"OMP_NUM_THREADS={m.get('OMP_NUM_THREADS')}",
             f"fastcnn.ops built={m.get('fastcnn_ops_built', '?')}",
             f"numpy {m.get('numpy_version', '?')}",
             f"torch {m.get('torch_version') or 'not installed'}",
             f"GLIBC_TUNABLES={'set' if m.get('GLIBC_TUNABLES') else 'unset'}",
             f"cpu: {cpu}"]
    return "; ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run (or read) the fastcnn benchmarks and print one comparison table.",
        epilog="Any other argument is passed to pytest, e.g. -k S4.")
    parser.add_argument("--json", metavar="FILE",
                        help="read this pytest-benchmark JSON instead of running the suite")
    parser.add_argument("--save", metavar="FILE", default=DEFAULT_JSON,
                        help="where a run writes its JSON (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the run (default: inherited)")
    parser.add_argument("--no-malloc-setting", action="store_true",
                        help="do not set GLIBC_TUNABLES for the run")
    args, pytest_args = parser.parse_known_args(argv)

    status = 0
    json_path = args.json
    if json_path is None:
        json_path = args.save
        status = run_suite(json_path, args.threads, not args.no_malloc_setting, pytest_args)
        if not os.path.exists(json_path):
            print(f"pytest exited with status {status} and wrote no {json_path}",
                  file=sys.stderr)
            return status or 1
    with open(json_path) as f:
        data = json.load(f)
    rows = collect(data)
    print()
    print(f"fastcnn benchmarks ({json_path}): median ms; ratios > 1 mean fastcnn is faster")
    print(describe(data))
    if rows:
        print("\n".join(table(rows)))
    else:
        print("no benchmark results in this file (was it run with --benchmark-enable?)")
    return status


if __name__ == "__main__":
    sys.exit(main())
