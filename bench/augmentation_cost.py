"""What augmentation costs per image, next to the convolution that follows it.

Usage (from the repository root):

    OMP_NUM_THREADS=2 python bench/augmentation_cost.py

For (128, 28, 28, 1) and (128, 32, 32, 3) float32 batches: RandomFlip and
RandomTranslation(0.1, 0.1) (default reflect fill, bilinear) in training, their sum, the
translation's backward pass, and ``fastcnn.ops.conv2d`` of the first convolution of a
ResNet-20 (3x3, 16 filters, same padding) on the same batch. Results go to buffers reused
from call to call, as in a training loop; each time is the median (and minimum) of
``--repeats`` calls after a warm-up, in microseconds per image.
"""
import argparse
import os
import sys
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH_DIR))      # this checkout's fastcnn

import fastcnn  # noqa: E402
from fastcnn import ops  # noqa: E402
from fastcnn.layers import CallState, RandomFlip, RandomTranslation  # noqa: E402

SHAPES = [(128, 28, 28, 1), (128, 32, 32, 3)]


def timings(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.median(times), np.min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"threads {fastcnn.get_num_threads()}; us per image, median (min)")
    for shape in SHAPES:
        n = shape[0]
        x = rng.standard_normal(shape).astype(np.float32)
        kernel = (rng.standard_normal((3, 3, shape[3], 16)) * 0.1).astype(np.float32)
        bias = np.zeros(16, np.float32)
        conv_out = np.empty(shape[:3] + (16,), np.float32)
        flip, shift = RandomFlip(seed=1), RandomTranslation(0.1, 0.1, seed=2)
        for layer in (flip, shift):
            layer.build_for(shape)
        flip_state, shift_state = CallState(keep=True), CallState(keep=True)
        dy = rng.standard_normal(shape).astype(np.float32)
        calls = {
            "conv2d 3x3x16 same": lambda: ops.conv2d(x, kernel, bias, padding="same",
                                                     out=conv_out),
            "RandomFlip": lambda: flip.forward(x, flip_state, True),
            "RandomTranslation": lambda: shift.forward(x, shift_state, True),
            "flip + translation": lambda: shift.forward(flip.forward(x, flip_state, True),
                                                        shift_state, True),
            "translation backward": lambda: shift.backward(dy, shift_state, True, None),
        }
        print(shape)
        for name, fn in calls.items():
            median, best = timings(fn, args.repeats)
            print(f"  {name:22s} {median * 1e6 / n:8.2f} ({best * 1e6 / n:.2f})")


if __name__ == "__main__":
    main()
