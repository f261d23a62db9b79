"""Two builds of fastcnn training the seed model in turn: the A/B of a change to the engine.

Usage (each ROOT is a checkout with its extensions built in place, e.g. ``git worktree add
/tmp/base <commit>`` then ``python setup.py build_ext --inplace`` there):

    OMP_NUM_THREADS=2 python bench/paired_model_builds.py /tmp/base . --rounds 10

Each build runs in a worker process of its own (``bench/whole_models.py worker``, the
``fastcnn`` contender with PYTHONPATH at its ROOT), holding the seed model and Fashion-MNIST;
after a warm-up epoch each, the two train one epoch (``--train-images`` images, batch 128)
in turn, the order swapped every round, so that a slow minute of the machine falls on both.
Prints each build's median epoch and the median of the per-round ratios A/B (above 1: B is
faster); giving the same ROOT twice shows how far the ratio moves by chance.
"""
import argparse
import os
import statistics
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import compare_frameworks  # noqa: E402  (bench/ is not a package)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root_a")
    parser.add_argument("root_b")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.malloc_setting = False
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "fashion_mnist.npz")
        compare_frameworks.load_data(data)
        workers = [compare_frameworks.Worker("fastcnn", sys.executable, args, data, tmp,
                                             root=os.path.abspath(root), name=name)
                   for root, name in ((args.root_a, "A"), (args.root_b, "B"))]
        try:
            for w in workers:
                w.wait_ready()
                if not w.ok:
                    raise SystemExit(f"{w.log_path}: {w.error}")
                w.ask("epoch")                                   # warm-up
            times = [[], []]
            for r in range(args.rounds):
                order = (0, 1) if r % 2 == 0 else (1, 0)
                for i in order:
                    times[i].append(workers[i].ask("epoch")["seconds"])
                print(f"round {r}: A {times[0][-1]:.3f} s, B {times[1][-1]:.3f} s, "
                      f"A/B {times[0][-1] / times[1][-1]:.3f}", flush=True)
        finally:
            for w in workers:
                w.close()
    ratios = [a / b for a, b in zip(*times)]
    print(f"A {args.root_a}: median {statistics.median(times[0]):.3f} s per epoch")
    print(f"B {args.root_b}: median {statistics.median(times[1]):.3f} s per epoch")
    print(f"median of per-round A/B: {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}, {args.rounds} rounds, "
          f"{args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
