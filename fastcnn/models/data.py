"""What the training loop does to the data: argument checks, batches gathered into reused
memory, and the running means of the loss and metrics."""
import numbers

import numpy as np

from ..layers.base import numeric_array

__all__ = ["check_int", "check_verbose", "as_array", "Batches", "Mean", "batch_slices"]


def check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def check_verbose(verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, numbers.Integral)) and 0 <= int(verbose) <= 2:
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")


def as_array(data, name):
    if data is None:
        raise ValueError(f"{name} is required")
    arr = numeric_array(data, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a batch of samples, got a scalar")
    return arr


class Mean:
    """Sample-weighted running mean of the loss and each metric over one pass."""

    def __init__(self, names):
        self.names = names
        self.sums = dict.fromkeys(names, 0.0)
        self.count = 0

    def add(self, n, values):
        self.count += n
        for name, value in values.items():
            self.sums[name] += value

    def result(self):
        return {name: self.sums[name] / max(self.count, 1) for name in self.names}


class Batches:
    """The rows ``index`` (a slice, or an array of positions) of ``x`` as an array of the
    model's dtype, in memory reused from one batch to the next (fresh memory costs a page
    fault per 4 KiB). The array is overwritten by the next call."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._raw = self._cast = None

    @staticmethod
    def _reuse(buf, shape, dtype):
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] or len(buf) < shape[0]:
            return np.empty(shape, dtype=dtype)
        return buf

    def __call__(self, x, index):
        if isinstance(index, slice):
            part = x[index]
        else:
            shape = (len(index),) + x.shape[1:]
            self._raw = self._reuse(self._raw, shape, x.dtype)
            # positions come from a permutation, always in range; "clip" spares the
            # temporary copy that mode="raise" makes of out
            part = np.take(x, index, axis=0, out=self._raw[:len(index)], mode="clip")
        if part.dtype == self.dtype:
            return part
        if part.dtype == object or not (np.issubdtype(part.dtype, np.number)
                                        or part.dtype == bool):
            raise TypeError(f"x must be numeric, got an array of dtype {part.dtype}")
        self._cast = self._reuse(self._cast, part.shape, self.dtype)
        out = self._cast[:len(part)]
        np.copyto(out, part, casting="unsafe")
        return out




def batch_slices(n, batch_size, order=None):
    """The batches of ``n`` samples: slices, or parts of the permutation ``order``."""
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        yield slice(start, stop) if order is None else order[start:stop]
