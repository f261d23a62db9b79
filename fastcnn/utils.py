"""Utilities: one-hot labels and the random generator that layers and training draw from.

fastcnn keeps a single module-level ``numpy.random.Generator``. Weight initialisation, the
shuffling in ``Model.fit`` and ``Dropout`` masks all draw from it (through :func:`rng`), so
``set_random_seed(seed)`` makes a whole run reproducible, as ``keras.utils.set_random_seed`` does.
"""
import numbers
import random

import numpy as np

__all__ = ["to_categorical", "set_random_seed", "rng"]

_generator = np.random.default_rng()


def rng():
    """The generator fastcnn draws from; replaced by :func:`set_random_seed`."""
    return _generator


def set_random_seed(seed):
    """Seed fastcnn's generator, NumPy's global generator and Python's ``random`` module.

    After ``set_random_seed(s)``, building the same model, fitting it on the same data and
    predicting give the same numbers (for a fixed thread count).
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _generator = np.random.default_rng(seed)


def to_categorical(y, num_classes=None):
    """Class indices -> one-hot float64 array, like ``keras.utils.to_categorical``.

    ``y`` holds integer class indices (any shape; a trailing axis of size 1 is dropped). The
    result has shape ``y.shape + (num_classes,)``. ``num_classes`` defaults to ``max(y) + 1``.
    """
    labels = np.asarray(y)
    if labels.dtype == object or not (np.issubdtype(labels.dtype, np.integer)
                                      or np.issubdtype(labels.dtype, np.floating)
                                      or labels.dtype == bool):
        raise TypeError(f"y must hold integer class indices, got dtype {labels.dtype}")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("y must hold integer class indices, got non-integer values")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if flat.size and flat.min() < 0:
        raise ValueError(f"y must hold class indices >= 0, got {int(flat.min())}")
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("y is empty: pass num_classes to one-hot encode an empty array")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes,
                                                         (numbers.Integral, np.integer)):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    elif num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    elif flat.size and flat.max() >= num_classes:
        raise ValueError(f"y holds class index {int(flat.max())}, which is out of range for "
                         f"num_classes={num_classes}")
    try:
        out = np.zeros((flat.size, int(num_classes)))
    except (MemoryError, ValueError):
        raise MemoryError(f"to_categorical: {flat.size} labels x {int(num_classes)} classes "
                          "of float64 cannot be allocated (is a label far too large?)") from None
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(shape + (int(num_classes),))
