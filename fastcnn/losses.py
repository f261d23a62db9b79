"""Losses with Keras' numerics, each with its gradient.

Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` before the logarithm, as Keras does, and
categorical probabilities are first renormalised to sum to one. A loss object reduces the
per-sample losses to their mean over the batch (Keras' ``"sum_over_batch_size"``).

Fusion with the output activation: when a model ends in ``softmax`` and is trained with
(sparse) categorical cross-entropy, or ends in ``sigmoid`` with binary cross-entropy, the model
hands the loss the logits instead of the probabilities, as Keras' TensorFlow backend does. The
loss is then ``logsumexp(z) - z[label]`` and its gradient ``softmax(z) - onehot`` (resp.
``sigmoid(z) - y``): exact and finite for any logits, including +-1e4, where the clipped form
has a zero gradient.
"""
import numpy as np

from . import _elementwise, _registry, activations

__all__ = ["Loss", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "BinaryCrossentropy", "MeanSquaredError", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
           "mse", "get", "EPSILON"]

EPSILON = 1e-7


def _log_softmax(z):
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _one_hot(labels, num_classes, dtype):
    out = np.zeros(labels.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _pair(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float64)
    return np.asarray(y_true, dtype=y_pred.dtype), y_pred


def _same_shape(y_true, y_pred, loss_name):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{loss_name}: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; they must match")


# ---- categorical --------------------------------------------------------------------------------
def _categorical(y_true, y_pred, from_logits, grad):
    """Per-sample loss and (optionally) its gradient with respect to ``y_pred``."""
    if from_logits:
        log_p = _log_softmax(y_pred)
        per_sample = -np.sum(y_true * log_p, axis=-1)
        if not grad:
            return per_sample, None
        return per_sample, np.exp(log_p) * np.sum(y_true, axis=-1, keepdims=True) - y_true
    total = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / total
    clipped = np.clip(q, EPSILON, 1 - EPSILON)
    per_sample = -np.sum(y_true * np.log(clipped), axis=-1)
    if not grad:
        return per_sample, None
    g = -y_true / clipped * ((q >= EPSILON) & (q <= 1 - EPSILON))
    return per_sample, (g - np.sum(g * q, axis=-1, keepdims=True)) / total


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy of one-hot (or soft) targets ``y_true`` and ``y_pred``."""
    y_true, y_pred = _pair(y_true, y_pred)
    _same_shape(y_true, y_pred, "categorical_crossentropy")
    return _categorical(y_true, y_pred, from_logits, grad=False)[0]


def _sparse_labels(y_true, y_pred, loss_name):
    labels = np.asarray(y_true)
    if labels.shape == y_pred.shape[:-1] + (1,) and y_pred.ndim > 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"{loss_name}: y_true has shape {np.shape(y_true)}; expected integer "
                         f"labels of shape {y_pred.shape[:-1]} for y_pred of shape "
                         f"{y_pred.shape}")
    return _class_indices(labels, y_pred.shape[-1], "y_true")


def _class_indices(labels, num_classes, name):
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype}")
    if np.issubdtype(labels.dtype, np.floating) and np.any(labels != np.round(labels)):
        raise ValueError(f"{name} must hold integer class indices, got non-integer values")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} holds class indices in [{int(labels.min())}, "
                         f"{int(labels.max())}], outside [0, {num_classes - 1}] for "
                         f"{num_classes} outputs")
    return labels.astype(np.int64)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy of integer labels ``y_true`` and ``y_pred``."""
    y_pred = _pair(0, y_pred)[1]
    labels = _sparse_labels(y_true, y_pred, "sparse_categorical_crossentropy")
    one_hot = _one_hot(labels, y_pred.shape[-1], y_pred.dtype)
    return _categorical(one_hot, y_pred, from_logits, grad=False)[0]


# ---- binary and squared error -------------------------------------------------------------------
def _binary(y_true, y_pred, from_logits, grad):
    """Per-element loss and (optionally) its gradient with respect to ``y_pred``."""
    if from_logits:
        per_element = (np.maximum(y_pred, 0) - y_pred * y_true
                       + np.log1p(np.exp(-np.abs(y_pred))))
        return per_element, (activations.sigmoid(y_pred) - y_true) if grad else None
    clipped = np.clip(y_pred, EPSILON, 1 - EPSILON)
    per_element = -(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))
    if not grad:
        return per_element, None
    inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
    return per_element, -(y_true / clipped - (1 - y_true) / (1 - clipped)) * inside


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy averaged over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    _same_shape(y_true, y_pred, "binary_crossentropy")
    return np.mean(_binary(y_true, y_pred, from_logits, grad=False)[0], axis=-1)


def mean_squared_error(y_true, y_pred):
    """Squared error averaged over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    _same_shape(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(y_pred - y_true), axis=-1)


mse = mean_squared_error


def _smoothing(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"label_smoothing must be a number, got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {value!r}")
    return float(value)


def _smoothed(y_true, label_smoothing, classes):
    """Keras' label smoothing: ``y * (1 - ls) + ls / classes`` (2 classes for a binary
    target: ``+ 0.5 * ls``, the same number)."""
    if not label_smoothing:
        return y_true
    return y_true * (1 - label_smoothing) + label_smoothing / classes


def _weights(sample_weight, n, dtype):
    """``sample_weight`` as a (n,) array of ``dtype`` (a (n, 1) array too)."""
    w = np.asarray(sample_weight, dtype=dtype)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.reshape(-1)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have one weight per sample, shape ({n},), got "
                         f"shape {w.shape}")
    return w


def _compiled_pair(y_true, y_pred):
    """Whether targets and logits can go to the compiled softmax cross-entropy: 2-D float
    arrays of one dtype, the logits C-contiguous and non-empty."""
    return (isinstance(y_pred, np.ndarray) and isinstance(y_true, np.ndarray)
            and y_pred.ndim == 2 and y_pred.shape == y_true.shape and y_pred.size > 0
            and y_pred.dtype in (np.float32, np.float64) and y_true.dtype == y_pred.dtype
            and y_pred.flags.c_contiguous)


# ---- loss objects -------------------------------------------------------------------------------
class Loss:
    """A loss reduced to the mean over the batch; the model uses the gradient methods.

    ``fused_activation`` names the output activation whose logits the model may pass instead
    of probabilities (see the module docstring); ``None`` when there is none.
    """

    name = None
    fused_activation = None

    def __init__(self, from_logits=False):
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be a bool, got {from_logits!r}")
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch's loss as a Python float: the mean of the per-sample losses, each times
        its ``sample_weight`` when given (Keras' "sum_over_batch_size": the weighted sum over
        the batch size)."""
        y_pred = _pair(0, y_pred)[1]
        per_sample = self._per_sample_fn(y_true, y_pred)
        if sample_weight is not None:
            per_sample = per_sample * _weights(sample_weight, len(per_sample), per_sample.dtype)
        return float(np.mean(per_sample))

    def _per_sample_fn(self, y_true, y_pred):
        raise NotImplementedError

    def prepare_targets(self, y, output_shape, dtype, name="y"):
        """Validate targets ``y`` once for a model output ``(None, *output_shape[1:])``; return
        them as the array the gradient methods take. Errors name ``name`` and the shapes."""
        y = np.asarray(y)
        if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {y.dtype}")
        expected = tuple(output_shape[1:])
        if y.shape[1:] == expected:
            return y.astype(dtype, copy=False)
        if expected and expected[-1] == 1 and y.shape[1:] == expected[:-1]:
            return y.reshape(y.shape + (1,)).astype(dtype, copy=False)
        raise ValueError(f"{name} has shape {y.shape}, but the model outputs "
                         f"{(None,) + expected} and {self.name} needs targets of shape "
                         f"{(len(y),) + expected}" + self._shape_hint(y, expected))

    def _shape_hint(self, y, expected):
        return ""

    def value_and_grad(self, y_true, y_pred, logits=False, sample_weight=None):
        """(mean loss, gradient of the mean loss with respect to ``y_pred``), for targets from
        :meth:`prepare_targets`. ``logits=True``: ``y_pred`` holds the logits of
        ``fused_activation``. ``sample_weight``: None or one weight per sample (an array of
        y_pred's dtype), which multiplies that sample's loss (and gradient)."""
        return self._compute(y_true, y_pred, logits, True, sample_weight)

    def value(self, y_true, y_pred, logits=False, sample_weight=None):
        """The mean loss alone (same arguments as :meth:`value_and_grad`)."""
        return self._compute(y_true, y_pred, logits, False, sample_weight)[0]

    def _compute(self, y_true, y_pred, logits, grad, sample_weight):
        raise NotImplementedError

    def get_config(self):
        return {"from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class CategoricalCrossentropy(Loss):
    """Cross-entropy of one-hot targets; fuses with a ``softmax`` output.
    ``label_smoothing``: the targets become ``y * (1 - label_smoothing) + label_smoothing /
    classes`` (Keras' smoothing)."""

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0):
        super().__init__(from_logits)
        self.label_smoothing = _smoothing(label_smoothing)

    def _smooth(self, y_true):
        return _smoothed(y_true, self.label_smoothing, y_true.shape[-1])

    def _per_sample_fn(self, y_true, y_pred):
        y_true = self._smooth(_pair(y_true, y_pred)[0])
        return categorical_crossentropy(y_true, y_pred, self.from_logits)

    def _shape_hint(self, y, expected):
        if y.shape[1:] in ((), (1,)) and len(expected) == 1:
            return (" (integer labels need sparse_categorical_crossentropy, or one-hot encode "
                    "them with fastcnn.utils.to_categorical)")
        return ""

    def _compute(self, y_true, y_pred, logits, grad, sample_weight):
        # the loss and its gradient are linear in the targets: weighting a sample's targets
        # weights its loss and gradient
        y_true = self._smooth(y_true)
        if sample_weight is not None:
            y_true = y_true * sample_weight[:, None]
        if (self.from_logits or logits) and _compiled_pair(y_true, y_pred):
            # one compiled pass: log-sum-exp, loss and gradient together
            n = y_pred.shape[0]
            g = np.empty_like(y_pred) if grad else None
            total = _elementwise.softmax_crossentropy(
                y_pred, np.ascontiguousarray(y_true), g if grad else np.empty_like(y_pred),
                1.0 / n)
            return total / n, g
        per_sample, g = _categorical(y_true, y_pred, self.from_logits or logits, grad)
        if g is not None:
            g /= per_sample.size
        return float(np.mean(per_sample)), g

    def get_config(self):
        return dict(super().get_config(), label_smoothing=self.label_smoothing)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Cross-entropy of integer class labels; fuses with a ``softmax`` output."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False):
        super().__init__(from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits}

    def _per_sample_fn(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def prepare_targets(self, y, output_shape, dtype, name="y"):
        y = np.asarray(y)
        expected = tuple(output_shape[1:-1])
        if y.shape[1:] == expected + (1,):
            y = y.reshape(y.shape[:-1])
        if y.shape[1:] != expected:
            raise ValueError(f"{name} has shape {y.shape}, but the model outputs "
                             f"{(None,) + tuple(output_shape[1:])} and {self.name} needs "
                             f"integer labels of shape {(len(y),) + expected}")
        return _class_indices(y, output_shape[-1], name)

    def _compute(self, y_true, y_pred, logits, grad, sample_weight):
        one_hot = _one_hot(y_true, y_pred.shape[-1], y_pred.dtype)
        return super()._compute(one_hot, y_pred, logits, grad, sample_weight)


def _per_sample_weighted(per_element, g, sample_weight):
    """The mean loss and ``g`` (the gradient of the unweighted mean), with each sample's
    elements times its weight."""
    if sample_weight is not None:
        w = sample_weight.reshape((-1,) + (1,) * (per_element.ndim - 1))
        per_element = per_element * w
        if g is not None:
            g *= w
    return float(np.mean(per_element)), g


class BinaryCrossentropy(Loss):
    """Binary cross-entropy averaged over the last axis; fuses with a ``sigmoid`` output.
    ``label_smoothing``: the targets become ``y * (1 - label_smoothing) + 0.5 *
    label_smoothing`` (Keras' smoothing)."""

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0):
        super().__init__(from_logits)
        self.label_smoothing = _smoothing(label_smoothing)

    def _smooth(self, y_true):
        return _smoothed(y_true, self.label_smoothing, 2)

    def _per_sample_fn(self, y_true, y_pred):
        y_true = self._smooth(_pair(y_true, y_pred)[0])
        return binary_crossentropy(y_true, y_pred, self.from_logits)

    def _compute(self, y_true, y_pred, logits, grad, sample_weight):
        per_element, g = _binary(self._smooth(y_true), y_pred, self.from_logits or logits,
                                 grad)
        if g is not None:
            g /= per_element.size
        return _per_sample_weighted(per_element, g, sample_weight)

    def get_config(self):
        return dict(super().get_config(), label_smoothing=self.label_smoothing)


class MeanSquaredError(Loss):
    """Squared error averaged over the last axis."""

    name = "mean_squared_error"

    def __init__(self):
        super().__init__(from_logits=False)

    def _per_sample_fn(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)

    def _compute(self, y_true, y_pred, logits, grad, sample_weight):
        diff = y_pred - y_true
        return _per_sample_weighted(np.square(diff), diff * (2.0 / diff.size) if grad else None,
                                    sample_weight)

    def get_config(self):
        return {}


_BY_NAME = {"categorical_crossentropy": CategoricalCrossentropy,
            "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
            "binary_crossentropy": BinaryCrossentropy,
            "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """A :class:`Loss` from a name, a Loss, one of this module's functions, or a
    ``{"class_name", "config"}`` dict; ``ValueError`` lists the names otherwise."""
    functions = {categorical_crossentropy: "categorical_crossentropy",
                 sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
                 binary_crossentropy: "binary_crossentropy", mean_squared_error: "mse"}
    for function, name in functions.items():
        if identifier is function:
            identifier = name
    return _registry.get(identifier, Loss, _BY_NAME, _BY_CLASS, "loss",
                         "a fastcnn.losses.Loss")


def serialize(loss):
    """JSON-able identifier that :func:`get` maps back to ``loss``."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
