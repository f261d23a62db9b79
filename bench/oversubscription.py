"""Does fastcnn oversubscribe the CPU when NumPy (OpenBLAS) and PyTorch share its process?

Usage (from the repository root):

    python bench/oversubscription.py                    # 5 rounds of 20 training steps each
    python bench/oversubscription.py --steps 10 --rounds 3 --threads 2

fastcnn's kernels, its Dense layers included, run on OpenMP (libgomp); NumPy brings OpenBLAS
with its own pthreads (idle unless something calls NumPy's matmul, as fastcnn's Dense layers
did before they moved to fastcnn's GEMM core); PyTorch brings another OpenMP runtime (its
bundled libgomp) and its own thread pools. Threads of one library that spin while another's
run would slow both.
Each scenario below runs in a fresh process (``python bench/oversubscription.py scenario
NAME``), the scenarios interleaved over rounds, and reports medians of:

- wall seconds of the timed training steps (the seed model, batch 128, Fashion-MNIST);
- CPU seconds per step: what all threads burnt; other processes on a shared machine stretch
  the wall time but hardly this, so it is the steadier sign of threads spinning for nothing;
- CPU/wall: process CPU seconds (user + system, all threads) over wall seconds during those
  steps. With T threads, T is the ceiling of useful work; spinning or yielding threads that
  wait for work show up as CPU time without speed, and waiting for a CPU held by another
  thread shows up as wall time without CPU;
- threads in the process after the steps (``/proc/self/task``), and which libgomp and OpenBLAS
  the process mapped (``/proc/self/maps``).

Scenarios (fastcnn steps unless named torch):
  fastcnn                      NumPy and fastcnn only
  fastcnn-openblas-1           the same with OPENBLAS_NUM_THREADS=1: NumPy's matmul on one
                               thread, so no OpenBLAS thread waits beside OpenMP's (a control:
                               the Dense layers no longer call it)
  fastcnn-omp-passive          the same with OMP_WAIT_POLICY=passive: idle OpenMP threads sleep
                               at once instead of spinning (libgomp reads it when it loads)
  torch-imported-first         ``import torch`` before fastcnn, torch idle
  torch-imported-after         ``import torch`` after fastcnn, torch idle
  torch-used-before            PyTorch trains first (its thread pools are up), then fastcnn
  alternating                  each fastcnn step is followed by one PyTorch step (both timed)
  torch                        PyTorch (channels_last) steps alone, the reverse check
  torch-after-fastcnn          fastcnn trains first, then the timed PyTorch steps
"""
import argparse
import importlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)

SCENARIOS = ("fastcnn", "fastcnn-openblas-1", "fastcnn-omp-passive", "torch-imported-first",
             "torch-imported-after", "torch-used-before", "alternating", "torch",
             "torch-after-fastcnn")
# scenario -> environment it runs with, on top of OMP_NUM_THREADS
SCENARIO_ENV = {"fastcnn-openblas-1": {"OPENBLAS_NUM_THREADS": "1"},
                "fastcnn-omp-passive": {"OMP_WAIT_POLICY": "passive"}}
NEEDS_TORCH = set(SCENARIOS) - {"fastcnn"} - set(SCENARIO_ENV)


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _libraries():
    """Paths of the OpenMP and BLAS runtimes mapped into this process."""
    names = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(path).lower()
            if "gomp" in base or "iomp" in base or "openblas" in base or "mkl" in base:
                names.add(path)
    return sorted(names)


def run_scenario(name, data_path, threads, steps):
    """Run one scenario in this process; returns its measurements."""
    sys.path.insert(0, BENCH_DIR)
    # the import order decides which libgomp the process maps (the first one loaded serves all)
    if name in ("torch-imported-first", "torch-used-before", "torch"):
        importlib.import_module("torch")
    import whole_models
    if name != "torch":
        importlib.import_module("fastcnn")
    if name == "torch-imported-after":
        importlib.import_module("torch")
    data = whole_models.load_npz(data_path)
    images = steps * whole_models.BATCH_SIZE

    def runner(contender):
        r = whole_models.make_runner(contender, data, threads, train_images=images)
        r.fit_epoch()               # warm-up: first calls allocate and set up
        return r

    if name in ("torch-used-before", "torch-after-fastcnn"):
        runner("torch-cl" if name == "torch-used-before" else "fastcnn").fit_epoch()
    if name == "alternating":
        # one step of each in turn (a one-batch fit, a one-batch loop): the two runtimes hand
        # the CPUs back and forth every step
        one_batch = dict(data, x_train=data["x_train"][:whole_models.BATCH_SIZE],
                         y_train=data["y_train"][:whole_models.BATCH_SIZE])
        pair = [whole_models.make_runner(c, one_batch, threads, whole_models.BATCH_SIZE)
                for c in ("fastcnn", "torch-cl")]
        for r in pair:
            r.fit_epoch()
        cpu, start = _cpu_seconds(), time.perf_counter()
        for _ in range(steps):
            for r in pair:
                r.fit_epoch()
    else:
        timed = runner("torch-cl" if name in ("torch", "torch-after-fastcnn") else "fastcnn")
        cpu, start = _cpu_seconds(), time.perf_counter()
        timed.fit_epoch()
    wall = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    return {"scenario": name, "wall": wall, "cpu": cpu,
            "threads": len(os.listdir("/proc/self/task")), "libraries": _libraries()}


def _child(name, data_path, threads, steps):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env.update(SCENARIO_ENV.get(name, {}))
    command = [sys.executable, os.path.abspath(__file__), "scenario", name,
               "--data", data_path, "--steps", str(steps)]
    if threads is not None:
        command += ["--threads", str(threads)]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("@@ "):
            return json.loads(line[3:])
    return {"scenario": name, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="compare", choices=("compare", "scenario"))
    parser.add_argument("name", nargs="?", help="scenario to run (with 'scenario')")
    parser.add_argument("--data", help="(scenario) the Fashion-MNIST .npz")
    parser.add_argument("--threads", type=int, default=2,
                        help="OMP_NUM_THREADS and every library's thread count (default: 2)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the scenarios")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of %(default)s")
    args = parser.parse_args(argv)

    if args.command == "scenario":
        result = run_scenario(args.name, args.data, args.threads, args.steps)
        print("@@ " + json.dumps(result), flush=True)
        return 0

    sys.path.insert(0, ROOT)
    sys.path.insert(0, BENCH_DIR)
    import numpy as np
    from fastcnn.datasets import fashion_mnist
    have_torch = importlib.util.find_spec("torch") is not None
    names = [s for s in args.scenarios.split(",") if s]
    skipped = [s for s in names if s in NEEDS_TORCH and not have_torch]
    names = [s for s in names if s not in skipped]
    results = {s: [] for s in names}
    with tempfile.TemporaryDirectory(prefix="fastcnn-oversub-") as tmp:
        data_path = os.path.join(tmp, "fashion_mnist.npz")
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
        np.savez(data_path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                r = _child(name, data_path, args.threads, args.steps)
                results[name].append(r)
                state = (f"{r['wall']:.2f} s, CPU/wall {r['cpu'] / r['wall']:.2f}, "
                         f"{r['threads']} threads" if "wall" in r else r["error"])
                print(f"[round {round_index + 1}] {name}: {state}", file=sys.stderr, flush=True)

    print()
    print(f"Seed model training, {args.steps} steps of batch 128 per run, "
          f"OMP_NUM_THREADS={args.threads} and every library set to {args.threads} thread(s); "
          f"medians of {args.rounds} rounds, each run a fresh process; "
          f"load average now {os.getloadavg()[0]:.1f}")
    header = (f"{'scenario':<22} {'timed':<8} {'wall s':>7} {'s/step':>7} {'CPU s/step':>10} "
              f"{'CPU/wall':>8} {'threads':>7}")
    print(header)
    print("-" * len(header))
    libraries = {}
    for name in names:
        ok = [r for r in results[name] if "wall" in r]
        if not ok:
            print(f"{name:<22} failed: {results[name][-1].get('error')}")
            continue
        wall = statistics.median(r["wall"] for r in ok)
        ratio = statistics.median(r["cpu"] / r["wall"] for r in ok)
        cpu = statistics.median(r["cpu"] for r in ok)
        threads = statistics.median(r["threads"] for r in ok)
        timed = {"torch": "torch", "torch-after-fastcnn": "torch",
                 "alternating": "both"}.get(name, "fastcnn")
        print(f"{name:<22} {timed:<8} {wall:7.2f} {wall / args.steps:7.3f} "
              f"{cpu / args.steps:10.3f} {ratio:8.2f} {threads:7.0f}")
        libraries[name] = ok[-1]["libraries"]
    for name in skipped:
        print(f"{name:<22} skipped: torch is not installed")
    print("runtimes mapped:")
    for name, libs in libraries.items():
        print(f"  {name}: " + ", ".join(os.path.relpath(p, sys.prefix) if p.startswith(sys.prefix)
                                        else p for p in libs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
