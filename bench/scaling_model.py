"""The scaling model of docs/scaling.md: data-parallel training of the seed model and ResNet-20
on K machines, predicted from one machine's measured step time.

Usage (from the repository root):

    python bench/scaling_model.py                              # the communication side only
    python bench/scaling_model.py --step-ms seed=8.5 resnet20=250   # with measured step times

``--step-ms MODEL=T``: the measured time of one training step of the global batch (128) on ONE
machine using all its cores (e.g. ``bench/mpi_epoch.py``'s "1 rank x N threads" row), in
milliseconds. Nothing here is measured: every number is computed from the inputs.

Per step on K machines (no overlap of communication with the backward pass: fastcnn averages
the gradients after the whole backward pass):

    T_comm(K)  = alpha(K) + 2 (K - 1) / K * bytes / bandwidth      (ring allreduce)
    alpha(K)   = 2 (K - 1) * latency                               (2 (K - 1) messages in turn)
    same global batch (batch_size fixed, each machine takes 1/K):   T(K) = T1 / K + T_comm(K)
        speedup  S(K) = T1 / T(K)
    same batch per machine (batch_size = K x 128):                  T(K) = T1 + T_comm(K)
        throughput gain  G(K) = K * T1 / T(K)

The fixed-global-batch speedup assumes a machine computes 1/K of the batch in T1 / K; small
per-machine batches run below the GEMM's efficiency, so it is an upper bound. It exceeds 1 only
while T1 > T_comm(K) * K / (K - 1) (break-even), and reaches K / 2 (50 % efficiency) when
T1 = K * T_comm(K).
"""
import argparse
import sys
from pathlib import Path

# trainable parameters (what is averaged each step; BatchNormalization's moving statistics are
# broadcast once per epoch, not per step), float32
PARAMS = {"seed": 1_387_594, "resnet20": 273_066}
BYTES_PER_PARAM = 4
BANDWIDTHS = {"10 Gb/s": 10e9 / 8, "25 Gb/s": 25e9 / 8}      # bytes per second
LATENCY = 20e-6          # seconds per message: MPI over TCP on Ethernet (RDMA: about 2e-6)
MACHINES = (4, 16, 64)
BATCH = 128


def training_gflop_per_step(model_name, batch=BATCH):
    """Floating-point operations of one training step (forward, input and weight gradients:
    3 x 2 x the multiply-adds of the Conv2D and Dense layers), in GFLOP; imports fastcnn."""
    import numpy as np
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)             # this checkout's fastcnn
    from fastcnn import cli
    shape = {"seed": (28, 28, 1), "resnet20": (32, 32, 3)}[model_name]
    macs = 0
    for layer in cli.build_model(model_name, shape).layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            macs += int(np.prod(layer.output.shape[1:-1])) * layer.weights[0].size
        elif kind == "Dense":
            macs += layer.weights[0].size
    return 3 * 2 * macs * batch / 1e9


def allreduce_seconds(machines, nbytes, bandwidth, latency=LATENCY):
    """Ring allreduce of ``nbytes`` over ``machines``: alpha + 2 (K - 1) / K * bytes / bw."""
    k = machines
    if k == 1:
        return 0.0
    return 2 * (k - 1) * latency + 2 * (k - 1) / k * nbytes / bandwidth


def speedup_same_global_batch(step, machines, comm):
    """One machine's step time ``step`` (s) over the step time on ``machines``."""
    return step / (step / machines + comm)


def gain_same_batch_per_machine(step, machines, comm):
    """Samples per second on ``machines`` over one machine's, each machine keeping its batch."""
    return machines * step / (step + comm)


def break_even_ms(machines, comm):
    """The one-machine step time (ms) above which ``machines`` beat one at the same global
    batch: T1 / K + T_comm < T1."""
    return 1e3 * comm * machines / (machines - 1)


def half_efficiency_ms(machines, comm):
    """The one-machine step time (ms) at which the speedup is K / 2: T1 / K = T_comm."""
    return 1e3 * comm * machines


def communication_table(latency=LATENCY):
    """Rows (model, MB, bandwidth, K, T_comm ms, break-even ms, 50 % ms)."""
    rows = []
    for model, params in PARAMS.items():
        nbytes = params * BYTES_PER_PARAM
        for name, bandwidth in BANDWIDTHS.items():
            for k in MACHINES:
                comm = allreduce_seconds(k, nbytes, bandwidth, latency)
                rows.append((model, nbytes / 1e6, name, k, 1e3 * comm, break_even_ms(k, comm),
                             half_efficiency_ms(k, comm)))
    return rows


def prediction_table(step_ms, latency=LATENCY):
    """Rows (model, T1 ms, bandwidth, K, speedup same global batch, gain same batch per
    machine) for the measured one-machine step times ``step_ms`` ({model: ms})."""
    rows = []
    for model, ms in step_ms.items():
        nbytes = PARAMS[model] * BYTES_PER_PARAM
        for name, bandwidth in BANDWIDTHS.items():
            for k in MACHINES:
                comm = allreduce_seconds(k, nbytes, bandwidth, latency)
                rows.append((model, ms, name, k,
                             speedup_same_global_batch(ms / 1e3, k, comm),
                             gain_same_batch_per_machine(ms / 1e3, k, comm)))
    return rows


def print_tables(step_ms, latency=LATENCY):
    try:
        flops = {m: f"{training_gflop_per_step(m):.2f}" for m in PARAMS}
    except ImportError:                     # fastcnn not importable: the counts are in the doc
        flops = {m: "?" for m in PARAMS}
    print("GFLOP per training step of 128: " + ", ".join(f"{m} {f}" for m, f in flops.items()))
    print(f"Gradient allreduce per step (float32, ring, latency {latency * 1e6:g} us/message)")
    print(f"{'model':9} {'MB':>6} {'network':>8} {'K':>3} {'T_comm ms':>10} "
          f"{'break-even T1 ms':>17} {'50% eff. T1 ms':>15}")
    for model, mb, net, k, comm, even, half in communication_table(latency):
        print(f"{model:9} {mb:6.2f} {net:>8} {k:3d} {comm:10.2f} {even:17.2f} {half:15.1f}")
    if not step_ms:
        print("\n(no --step-ms given: speedups need the measured one-machine step times)")
        return
    print("\nPredicted, from the measured one-machine step times T1")
    print(f"{'model':9} {'T1 ms':>8} {'network':>8} {'K':>3} {'speedup (same batch)':>21} "
          f"{'gain (batch x K)':>17}")
    for model, ms, net, k, speedup, gain in prediction_table(step_ms, latency):
        print(f"{model:9} {ms:8.2f} {net:>8} {k:3d} {speedup:21.2f} {gain:17.2f}")


def _step(text):
    model, _, value = text.partition("=")
    if model not in PARAMS:
        raise argparse.ArgumentTypeError(f"expected MODEL=MS with MODEL in {sorted(PARAMS)}, "
                                         f"got {text!r}")
    try:
        ms = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL=MS, got {text!r}") from None
    if not ms > 0:
        raise argparse.ArgumentTypeError(f"the step time must be > 0 ms, got {text!r}")
    return model, ms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step-ms", nargs="*", type=_step, default=[], metavar="MODEL=MS",
                        help="measured one-machine step time of the global batch, per model")
    parser.add_argument("--latency-us", type=float, default=LATENCY * 1e6,
                        help=f"per-message latency (default {LATENCY * 1e6:g} us)")
    args = parser.parse_args(argv)
    print_tables(dict(args.step_ms), args.latency_us * 1e-6)


if __name__ == "__main__":
    main()
