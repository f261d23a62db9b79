"""Activation functions by name, with the backward pass each layer needs.

The public functions (``relu``, ``softmax``, ...) compute like ``keras.activations``. Layers use
:func:`get`, which returns an :class:`Activation`: ``forward(z, inplace)`` and
``backward(dy, y)``, where every backward needs only the activation's output ``y`` (so a layer
can apply the activation in place and keep one array).
"""
import numpy as np

from . import _config, _elementwise

__all__ = ["relu", "softmax", "sigmoid", "tanh", "linear", "get", "serialize", "Activation"]


def relu(x):
    """max(x, 0)."""
    return np.maximum(x, 0)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum so no exp overflows."""
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def linear(x):
    """The identity."""
    return x


class Activation:
    """An activation with its backward pass (internal; layers use it through :func:`get`)."""

    def __init__(self, name, forward, backward):
        self.name = name
        self._forward = forward
        self._backward = backward

    def forward(self, z, inplace=False):
        """Activation of ``z``; overwrites ``z`` when ``inplace`` (the caller owns it)."""
        return self._forward(z, inplace)

    def backward(self, dy, y):
        """Gradient with respect to the input, from the output gradient ``dy`` and output ``y``."""
        return self._backward(dy, y)

    def __repr__(self):
        return f"<activation {self.name}>"


def _relu_forward(z, inplace):
    return np.maximum(z, 0, out=z if inplace else None)


def _softmax_forward(z, inplace):
    out = np.subtract(z, np.max(z, axis=-1, keepdims=True), out=z if inplace else None)
    np.exp(out, out=out)
    out /= np.sum(out, axis=-1, keepdims=True)
    return out


def _softmax_backward(dy, y):
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _sigmoid_forward(z, inplace):
    y = sigmoid(z)
    if inplace:
        z[...] = y
        return z
    return y


def _tanh_forward(z, inplace):
    return np.tanh(z, out=z if inplace else None)


def _relu_backward(dy, y):
    if (dy.dtype == y.dtype and dy.dtype in (np.float32, np.float64) and dy.shape == y.shape
            and dy.flags.c_contiguous and y.flags.c_contiguous):
        out = np.empty_like(dy)
        _elementwise.relu_backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1),
                                   _config.get_num_threads())
        return out
    return np.where(y > 0, dy, 0)      # a select, like the compiled pass (NaN dy -> 0 too)


_REGISTRY = {
    "relu": Activation("relu", _relu_forward, _relu_backward),
    "softmax": Activation("softmax", _softmax_forward, _softmax_backward),
    "sigmoid": Activation("sigmoid", _sigmoid_forward, lambda dy, y: dy * y * (1 - y)),
    "tanh": Activation("tanh", _tanh_forward, lambda dy, y: dy * (1 - y * y)),
    "linear": Activation("linear", lambda z, inplace: z, lambda dy, y: dy),
}
_FUNCTIONS = {relu: "relu", softmax: "softmax", sigmoid: "sigmoid", tanh: "tanh",
              linear: "linear"}


def get(identifier):
    """An :class:`Activation` from a name (``None`` is ``"linear"``) or one of this module's
    functions; anything else is a ``ValueError`` listing the names."""
    if identifier is None:
        return _REGISTRY["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _REGISTRY:
            return _REGISTRY[key]
    elif callable(identifier) and identifier in _FUNCTIONS:
        return _REGISTRY[_FUNCTIONS[identifier]]
    raise ValueError(f"activation must be one of {sorted(_REGISTRY)} or None, "
                     f"got {identifier!r}")


def serialize(activation):
    """The name that :func:`get` maps back to ``activation``."""
    return get(activation).name
