"""Add and Concatenate: layers called on a list of tensors."""
import numbers

import numpy as np

from .. import _norm_ops, activations
from .activated import activation_backward
from .base import Layer

__all__ = ["Add", "Concatenate"]


class _Merge(Layer):
    """A layer called on a list of at least two tensors."""

    _takes_list = True

    def _shapes(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f'layer "{self.name}" ({type(self).__name__}) must be called on a '
                             f"list of at least 2 inputs, got input shape {input_shape}")
        return input_shape


class Add(_Merge):
    """The elementwise sum of its inputs, which must all have the same shape."""

    def compute_output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        if any(s != shapes[0] for s in shapes[1:]):
            raise ValueError(f'layer "{self.name}" (Add) needs inputs of one shape, got shapes '
                             f"{', '.join(str(s) for s in shapes)}")
        return shapes[0]

    takes_relu = True

    def forward(self, inputs, state, training, relu=False):
        return _norm_ops.add(inputs, relu=relu,
                             out=state.buffer("y", inputs[0].shape, self.dtype))

    def backward(self, dy, state, need_input_grad, grads, relu_output=None):
        if not need_input_grad:
            return None
        if relu_output is not None:
            dy = activation_backward(activations.get("relu"), dy, relu_output, state)
        return [dy] * len(self.input_shape)


class Concatenate(_Merge):
    """Its inputs joined along ``axis`` (by default the last, the channels); every other
    axis must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (numbers.Integral, np.integer)):
            raise TypeError(f"axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(f'layer "{self.name}" (Concatenate): axis {self.axis} is not a '
                             f"non-batch axis of inputs of rank {rank}")
        return axis

    def compute_output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        if any(len(s) != len(shapes[0]) for s in shapes):
            raise ValueError(f'layer "{self.name}" (Concatenate) needs inputs of one rank, got '
                             f"shapes {', '.join(str(s) for s in shapes)}")
        axis = self._axis(len(shapes[0]))
        rest = [s[:axis] + s[axis + 1:] for s in shapes]
        if any(r != rest[0] for r in rest):
            raise ValueError(f'layer "{self.name}" (Concatenate) needs inputs whose shapes match '
                             f"except on axis {self.axis}, got shapes "
                             f"{', '.join(str(s) for s in shapes)}")
        total = sum(s[axis] for s in shapes)
        return shapes[0][:axis] + (total,) + shapes[0][axis + 1:]

    def forward(self, inputs, state, training):
        axis = self._axis(inputs[0].ndim)
        shape = list(inputs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in inputs)
        return np.concatenate(inputs, axis=axis, out=state.buffer("y", shape, self.dtype))

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        axis = self._axis(dy.ndim)
        bounds = np.cumsum([s[axis] for s in self.input_shape])[:-1]
        return np.split(dy, bounds, axis=axis)

    def get_config(self):
        return dict(super().get_config(), axis=self.axis)
