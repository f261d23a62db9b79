"""Datasets: MNIST, Fashion-MNIST and CIFAR-10 loaders and the IDX file reader.

``mnist.load_data()`` and ``fashion_mnist.load_data()`` return
``(x_train, y_train), (x_test, y_test)`` as uint8 arrays of shapes ``(N, 28, 28)`` and ``(N,)``;
``cifar10.load_data()`` as uint8 arrays of shapes ``(N, 32, 32, 3)`` and ``(N, 1)``.
"""
from . import cifar10, fashion_mnist, mnist
from ._loader import DatasetNotFoundError
from .fashion_mnist import ensure_system_fashion_mnist
from .idx import read_idx

__all__ = ["mnist", "fashion_mnist", "cifar10", "read_idx", "ensure_system_fashion_mnist",
           "DatasetNotFoundError"]
