"""What the training loop does to the data: argument checks, batches gathered into reused
memory, and the running means of the loss and metrics."""
import numbers

import numpy as np

from ..layers.base import numeric_array

__all__ = ["check_int", "check_verbose", "as_array", "sample_weights", "class_weights",
           "weights_for", "Batches", "Mean", "batch_slices"]


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


def sample_weights(sample_weight, n, dtype, name="sample_weight"):
    """``sample_weight`` checked as one finite weight >= 0 per sample (shape (n,) or (n, 1)),
    as an array of ``dtype``; None stays None."""
    if sample_weight is None:
        return None
    w = as_array(sample_weight, name)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.reshape(-1)
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{name} must hold one weight per sample, shape ({n},), got shape "
                         f"{w.shape}")
    w = w.astype(dtype)
    bad = ~np.isfinite(w)
    bad[~bad] = w[~bad] < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must hold finite weights >= 0, got {float(w[i])} for sample "
                         f"{i}")
    return w


def class_weights(class_weight, y, output_shape, dtype):
    """Keras' class_weight: each sample weighted by its class's weight (the label, the
    arg-max of a one-hot target, or 0/1 for a single binary output), classes not listed by
    1. Keys must be classes the output has; weights finite and >= 0."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                        f"{type(class_weight).__name__}")
    classes = output_shape[-1] if output_shape[-1] > 1 else 2
    table = np.ones(classes, dtype=np.float64)
    for key, weight in class_weight.items():
        if (isinstance(key, bool) or not isinstance(key, (numbers.Integral, np.integer))
                or not 0 <= key < classes):
            raise ValueError(f"class_weight has a weight for class {key!r}, but the model's "
                             f"output has classes 0 to {classes - 1}")
        if (isinstance(weight, bool) or not isinstance(weight, numbers.Real)
                or not np.isfinite(weight) or weight < 0):
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0, got "
                             f"{weight!r}")
        table[int(key)] = weight
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    labels = np.round(labels.reshape(len(labels), -1)[:, 0]).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"class_weight: the targets hold classes outside 0 to {classes - 1}")
    return table[labels].astype(dtype)


def weights_for(graph, ys, sample_weight, class_weight, name="sample_weight"):
    """The per-sample weights of fit/evaluate for targets ``ys`` of ``graph``'s outputs:
    sample_weight, or those class_weight gives (never both, as in Keras), in the first
    output's dtype; None without either."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError("give fit sample_weight or class_weight, not both (as in Keras)")
    dtype = graph.outputs[0].dtype
    if class_weight is not None:
        if len(graph.outputs) > 1:
            raise ValueError("class_weight is supported for models with one output")
        return class_weights(class_weight, ys[0], graph.outputs[0].shape, dtype)
    return sample_weights(sample_weight, len(ys[0]), dtype, name)


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
