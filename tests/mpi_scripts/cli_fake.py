"""python cli_fake.py ARGS...: ``python -m fastcnn ARGS...`` on random images of
Fashion-MNIST's format (64 to train, 32 to test) instead of the real data."""
import sys

import numpy as np

from fastcnn import cli


def load(dataset):
    gen = np.random.default_rng(0)
    return ((gen.integers(0, 256, (64, 28, 28), dtype=np.uint8),
             gen.integers(0, 10, 64, dtype=np.uint8)),
            (gen.integers(0, 256, (32, 28, 28), dtype=np.uint8),
             gen.integers(0, 10, 32, dtype=np.uint8)))


cli._load = load
sys.exit(cli.main(sys.argv[1:]))
