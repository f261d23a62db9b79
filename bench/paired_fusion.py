"""The execution plan's fusion rules on and off (``compile(fuse=...)``), one model each way in
one process, timed in turn: the gain of the rules on whole models.

    OMP_NUM_THREADS=2 python bench/paired_fusion.py --models kcnn resnet20 --rounds 7

For each model: ``--steps`` training steps (batch 128, Adam, synthetic 32x32x3 data, the
order of the two swapped every round) and a ``predict`` of ``--images`` images (batch 1000);
prints the medians and the median of the per-round ratios unfused/fused (above 1: the rules
make it faster).
"""
import argparse
import statistics
import time

import numpy as np

import fastcnn
from fastcnn.models import zoo
from fastcnn.utils import set_random_seed, to_categorical


def _pair(name):
    set_random_seed(0)
    models = []
    for fuse in (True, False):
        model = getattr(zoo, name)()
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                      fuse=fuse)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["tf_cnn", "kcnn", "resnet20"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n = 128 * args.steps
    x = rng.random((max(n, args.images), 32, 32, 3), dtype=np.float32)
    y = to_categorical(rng.integers(0, 10, len(x)), 10)
    print(f"{fastcnn.get_num_threads()} threads; medians of {args.rounds} rounds")
    for name in args.models:
        models = _pair(name)
        fits = lambda m: m.fit(x[:n], y[:n], batch_size=128, epochs=1, verbose=0,  # noqa: E731
                               shuffle=False)
        predicts = lambda m: m.predict(x[:args.images], batch_size=1000)  # noqa: E731
        for m in models:                                   # warm-up: plans and buffers
            fits(m)
            predicts(m)
        times = {"fit": ([], []), "predict": ([], [])}
        for r in range(args.rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for i in order:
                times["fit"][i].append(_timed(lambda: fits(models[i])))
                times["predict"][i].append(_timed(lambda: predicts(models[i])))
        for what, (fused, plain) in times.items():
            count = n if what == "fit" else args.images
            ratio = statistics.median(p / f for f, p in zip(fused, plain))
            print(f"{name:9s} {what:8s} fused {count / statistics.median(fused):8.0f} img/s  "
                  f"unfused {count / statistics.median(plain):8.0f} img/s  "
                  f"unfused/fused time {ratio:.3f}")


if __name__ == "__main__":
    main()
