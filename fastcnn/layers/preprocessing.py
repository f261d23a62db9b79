"""Rescaling."""
import numbers

import numpy as np

from .. import _norm_ops
from .base import Layer

__all__ = ["Rescaling"]


def _factor(value, name):
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a list of numbers, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a list of numbers, got {value!r}") from None
    if arr.ndim == 0:
        return float(arr)
    return arr


class Rescaling(Layer):
    """``inputs * scale + offset`` (e.g. ``Rescaling(1 / 255)`` for 8-bit images, or
    ``Rescaling(1 / 127.5, offset=-1)`` for [-1, 1]); ``scale`` and ``offset`` are numbers,
    or arrays that broadcast against one sample (one per channel, say)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor(scale, "scale")
        self.offset = _factor(offset, "offset")

    def compute_output_shape(self, input_shape):
        for value, name in ((self.scale, "scale"), (self.offset, "offset")):
            try:
                np.broadcast_shapes(np.shape(value), tuple(input_shape[1:]))
            except ValueError:
                raise ValueError(f'layer "{self.name}": {name} of shape {np.shape(value)} does '
                                 f"not broadcast against inputs of shape {input_shape}") from None
        return input_shape

    def forward(self, inputs, state, training):
        out = state.buffer("y", inputs.shape, self.dtype)
        if isinstance(self.scale, float) and isinstance(self.offset, float):
            return _norm_ops.rescale(inputs, self.scale, self.offset, out=out)
        np.multiply(inputs, np.asarray(self.scale, self.dtype), out=out)
        out += np.asarray(self.offset, self.dtype)
        return out

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        return dy * np.asarray(self.scale, self.dtype)

    def get_config(self):
        def plain(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return dict(super().get_config(), scale=plain(self.scale), offset=plain(self.offset))
