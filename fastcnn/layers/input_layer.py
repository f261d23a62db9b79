"""Input: where a functional model's data comes in."""
from .base import Layer, float_dtype, shape_tuple
from .node import Node

__all__ = ["InputLayer", "Input"]


class InputLayer(Layer):
    """The layer behind :func:`Input`: no weights, no computation; its one node's output is
    the symbolic tensor that stands for a model input of ``batch_shape`` (batch axis first,
    ``None``) and ``dtype``."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if (shape is None) == (batch_shape is None):
            raise ValueError("InputLayer needs exactly one of shape (without the batch axis) "
                             f"and batch_shape, got shape={shape!r}, batch_shape={batch_shape!r}")
        if batch_shape is not None:
            if not isinstance(batch_shape, (list, tuple)) or not batch_shape:
                raise TypeError(f"batch_shape must be a tuple, got {batch_shape!r}")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        shape = shape_tuple(shape, "shape")
        if batch_size is not None:
            batch_size = shape_tuple(batch_size, "batch_size")[0]
        self.batch_shape = (batch_size,) + shape
        self.built = True
        self.input_shape = self.output_shape = (None,) + shape
        Node(self, [], False, [self.output_shape], self.dtype)

    def forward(self, inputs, state, training):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A symbolic tensor for a model input: ``shape`` is one sample's shape (without the
    batch axis), e.g. ``Input((32, 32, 3))`` for NHWC images; ``dtype`` float32 by default."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=float_dtype(dtype),
                       batch_shape=batch_shape, name=name)
    return layer.output
