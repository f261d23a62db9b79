"""Training steps of the seed model and ResNet-20 on 2 MPI ranks x 1 thread against 1 rank x
2 threads, with the bytes and time of the gradient averaging per step (issue 15).

Usage (from the repository root; needs the mpi extra: mpi4py and mpich's mpiexec):

    python bench/mpi_epoch.py                          # both models, 20 timed steps each
    python bench/mpi_epoch.py --steps 3 --models seed  # a quick check that it runs
    python bench/mpi_epoch.py --json results.json

Each configuration runs in fresh processes, one after the other:

    2 ranks x 1 thread:   OMP_NUM_THREADS=1 mpiexec -n 2 python bench/mpi_epoch.py worker ...
    1 rank x 2 threads:   OMP_NUM_THREADS=2 python bench/mpi_epoch.py worker ...

A worker builds the model (``fastcnn.cli.build_model``: the command line's seed model on
28x28x1 images, ResNet-20 on 32x32x3), compiles it with Adam and categorical cross-entropy,
makes random images in [0, 1) and one-hot labels (timing does not depend on the pixels' values
much; the real datasets are not needed), fits 2 steps to warm up (plans, buffers, optimizer
slots), then times one ``fit`` of ``--steps`` steps of the global batch (128, shared by the
ranks). It reports seconds per step, the epoch that implies (60,000 images for the seed model,
50,000 for ResNet-20), and from :func:`fastcnn.distributed.reduction_stats` the bytes each rank
sent and the seconds spent averaging the gradients, per step. Then the scaling model of
docs/scaling.md (bench/scaling_model.py) is printed with the measured 1-rank step times as T1.

The timings are only meaningful on a machine nothing else is using.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BATCH = 128
INPUTS = {"seed": (28, 28, 1), "resnet20": (32, 32, 3)}
EPOCH_IMAGES = {"seed": 60000, "resnet20": 50000}
CONFIGS = {"2 ranks x 1 thread": (2, 1), "1 rank x 2 threads": (1, 2)}
REPLY = "@@ "


def worker(model_name, steps):
    """Run in each rank: time ``steps`` training steps; rank 0 prints one JSON line."""
    import fastcnn
    import fastcnn.distributed as dist
    from fastcnn import cli, optimizers, utils
    dist.init()
    utils.set_random_seed(0)
    shape = INPUTS[model_name]
    model = cli.build_model(model_name, shape)
    model.compile(optimizers.Adam(), "categorical_crossentropy")
    gen = np.random.default_rng(0)
    n = BATCH * steps
    x = gen.random((n,) + shape, dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[gen.integers(0, 10, n)]
    model.fit(x[:2 * BATCH], y[:2 * BATCH], batch_size=BATCH, epochs=1, verbose=0)
    before = dist.reduction_stats()
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    after = dist.reduction_stats()
    done = after["steps"] - before["steps"]
    per_step = seconds / steps
    report = {
        "model": model_name, "ranks": dist.size(), "threads": fastcnn.get_num_threads(),
        "steps": steps, "params": int(sum(w.size for w in model.trainable_weights)),
        "step_ms": 1e3 * per_step,
        "epoch_s": per_step * EPOCH_IMAGES[model_name] / BATCH,
        "reduce_bytes_sent_per_step": (after["bytes_sent"] - before["bytes_sent"]) / max(done, 1),
        "reduce_payload_bytes_per_step": ((after["payload_bytes"] - before["payload_bytes"])
                                          / max(done, 1)),
        "reduce_ms_per_step": 1e3 * (after["seconds"] - before["seconds"]) / max(done, 1),
    }
    if dist.rank() == 0:
        print(REPLY + json.dumps(report), flush=True)


def mpiexec():
    """The mpiexec the mpich wheel installed, else one beside this Python or on PATH."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from fastcnn.distributed import mpiexec_path
    found = mpiexec_path()
    if found is None:
        sys.exit("bench/mpi_epoch.py: no mpiexec (pip install 'fastcnn[mpi]')")
    return found


def measure(model_name, steps, ranks, threads):
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, str(Path(__file__).resolve()), "worker", model_name, str(steps)]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks)] + command
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(REPLY)]
    if done.returncode != 0 or len(lines) != 1:
        sys.exit(f"bench/mpi_epoch.py: {' '.join(command)} failed ({done.returncode}):\n"
                 f"{done.stdout}\n{done.stderr}")
    return json.loads(lines[0][len(REPLY):])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker(argv[1], int(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--models", nargs="+", choices=tuple(INPUTS), default=list(INPUTS))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    results = []
    print(f"{'model':9} {'config':19} {'step ms':>8} {'epoch s':>8} {'reduce ms/step':>15} "
          f"{'sent MB/step':>13} {'vector MB':>10}")
    for model_name in args.models:
        for config, (ranks, threads) in CONFIGS.items():
            r = measure(model_name, args.steps, ranks, threads)
            r["config"] = config
            results.append(r)
            print(f"{model_name:9} {config:19} {r['step_ms']:8.2f} {r['epoch_s']:8.1f} "
                  f"{r['reduce_ms_per_step']:15.3f} {r['reduce_bytes_sent_per_step'] / 1e6:13.3f} "
                  f"{r['reduce_payload_bytes_per_step'] / 1e6:10.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scaling_model
    print()
    scaling_model.print_tables({r["model"]: r["step_ms"] for r in results if r["ranks"] == 1})
    return 0


if __name__ == "__main__":
    sys.exit(main())
