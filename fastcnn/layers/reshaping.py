"""ZeroPadding2D."""
import numbers

import numpy as np

from .base import Layer
from .conv import check_channels_last

__all__ = ["ZeroPadding2D"]


def _padding_pairs(padding):
    """An int, a pair (rows, columns) or a pair of pairs ((top, bottom), (left, right)) ->
    ((top, bottom), (left, right))."""
    def count(p):
        if isinstance(p, bool) or not isinstance(p, (numbers.Integral, np.integer)) or p < 0:
            raise ValueError(f"padding must hold ints >= 0, got {padding!r}")
        return int(p)

    if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, bool):
        p = count(padding)
        return ((p, p), (p, p))
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(isinstance(p, (tuple, list)) and len(p) == 2 for p in padding):
            return tuple((count(a), count(b)) for a, b in padding)
        h, w = count(padding[0]), count(padding[1])
        return ((h, h), (w, w))
    raise ValueError(f"padding must be an int, a pair of ints or a pair of pairs of ints, got "
                     f"{padding!r}")


class ZeroPadding2D(Layer):
    """Rows and columns of zeros around each image: ``padding`` an int (all sides), a pair
    (rows top and bottom, columns left and right) or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)
        self.padding = _padding_pairs(padding)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        return (n, h + top + bottom, w + left + right, c)

    def _interior(self, shape):
        (top, _), (left, _) = self.padding
        return (slice(None), slice(top, top + shape[1]), slice(left, left + shape[2]))

    def forward(self, inputs, state, training):
        out = state.buffer("y", (inputs.shape[0],) + self.output_shape[1:], self.dtype)
        out.fill(0)
        out[self._interior(inputs.shape)] = inputs
        return out

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        return dy[self._interior((dy.shape[0],) + self.input_shape[1:])]

    def get_config(self):
        return dict(super().get_config(), padding=[list(p) for p in self.padding])
