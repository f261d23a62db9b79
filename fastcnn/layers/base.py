"""The Layer base class: Keras' shape (``__init__`` validates, ``build`` makes weights,
``call`` computes, ``get_config`` round-trips), plus the backward pass a layer needs here.

Training protocol (used by ``Sequential``): ``layer(x, training=True)`` keeps what the backward
pass needs; ``layer.backward(dy, need_input_grad)`` then stores the weight gradients in
``layer.grads`` (aligned with ``layer.trainable_weights``) and returns the gradient with respect
to the input, or ``None`` when ``need_input_grad`` is false (the first trainable layer has no
one to pass it to). ``layer.grads`` may be buffers that the next backward pass overwrites.
"""
import collections
import math
import numbers
import re

import numpy as np

from .. import _config, _elementwise, activations, initializers

__all__ = ["Layer"]

_name_counts = collections.Counter()


def _snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """``base``, then ``base_1``, ``base_2``... as Keras names layers."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def float_dtype(dtype):
    """``None`` -> float32; float32/float64 in any spelling -> their name; else an error."""
    if dtype is None:
        return "float32"
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved.name


def shape_tuple(shape, name, allow_none=False):
    """A shape given as an int or a sequence of positive ints -> tuple (errors name ``name``)."""
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}")
    out = []
    for dim in shape:
        if dim is None and allow_none:
            out.append(None)
        elif (isinstance(dim, bool) or not isinstance(dim, (numbers.Integral, np.integer))
              or dim < 1):
            raise ValueError(f"{name} must hold positive ints, got {tuple(shape)!r}")
        else:
            out.append(int(dim))
    return tuple(out)


def as_input(x, dtype, what):
    """``x`` (array, list, uint8 images...) as an ndarray of ``dtype``; never modifies ``x``."""
    if isinstance(x, np.ndarray) and x.dtype == dtype:
        return x
    try:
        arr = np.asarray(x)
    except ValueError as exc:
        raise ValueError(f"{what} cannot be made into an array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what} must be numeric, got an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(dtype)


class Layer:
    """Base class of fastcnn's layers.

    Keyword arguments every layer takes: ``name`` (unique names such as ``dense_1`` by
    default), ``dtype`` (``"float32"`` by default, or ``"float64"``; inputs are cast to it),
    ``trainable`` and ``input_shape`` (the shape of one sample, without the batch axis, for the
    first layer of a ``Sequential``).
    """

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None):
        if name is None:
            name = unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if not isinstance(trainable, bool):
            raise TypeError(f"trainable must be a bool, got {trainable!r}")
        self.name = name
        self.dtype = float_dtype(dtype)
        self.trainable = trainable
        self.input_shape_arg = (None if input_shape is None
                                else shape_tuple(input_shape, "input_shape"))
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self._weights = []
        self.grads = []
        self.keep_buffers = False
        self._buffers = {}
        # Set by the model while it runs the layer: the gradient this layer receives already
        # went through its ReLU's backward pass (done by the max pooling that follows it).
        self.relu_backward_done = False

    # -- result buffers ----------------------------------------------------------------------
    def _buffer(self, key, shape):
        """An uninitialised array of ``shape`` in the layer's dtype for a result.

        With ``keep_buffers`` set (the model sets it while it runs the layer step after step)
        it is the same memory every time, made for the largest batch seen and sliced for
        smaller ones: writing to freshly allocated memory costs a page fault per 4 KiB, more
        than many kernels themselves. Otherwise a new array, which the caller may keep.
        """
        shape = tuple(shape)
        if not self.keep_buffers:
            return np.empty(shape, dtype=self.dtype)
        buf = self._buffers.get(key)
        if buf is None or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0]:
            buf = np.empty(shape, dtype=self.dtype)
            self._buffers[key] = buf
        return buf[:shape[0]]

    def release_buffers(self):
        """Drop the kept result buffers (they are made again when needed)."""
        self._buffers = {}

    # -- weights -----------------------------------------------------------------------------
    def add_weight(self, shape, initializer):
        """A new weight array of ``shape`` in the layer's dtype, drawn from ``initializer``."""
        shape = tuple(shape)
        count = math.prod(shape)
        if count * np.dtype(self.dtype).itemsize > np.iinfo(np.intp).max:
            raise ValueError(f"layer {self.name!r}: a weight of shape {shape} would have "
                             f"{count} elements, more than memory can address")
        try:
            value = np.ascontiguousarray(initializers.get(initializer)(shape, self.dtype))
        except MemoryError:
            raise MemoryError(f"layer {self.name!r}: a weight of shape {shape} ({count} "
                              f"elements of {self.dtype}) cannot be allocated") from None
        self._weights.append(value)
        return value

    @property
    def weights(self):
        """The layer's weight arrays (the live arrays, not copies)."""
        return list(self._weights)

    @property
    def trainable_weights(self):
        return list(self._weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else list(self._weights)

    def get_weights(self):
        """Copies of the weight arrays."""
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        """Copy ``weights`` (same count and shapes as :meth:`get_weights`) into the layer."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"layer {self.name!r} expects {len(self._weights)} weight arrays, "
                             f"got {len(weights)}")
        arrays = []
        for i, (new, old) in enumerate(zip(weights, self._weights)):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(f"layer {self.name!r} weight {i} has shape {old.shape}, got "
                                 f"an array of shape {new.shape}")
            if not (np.issubdtype(new.dtype, np.number) or new.dtype == bool):
                raise TypeError(f"layer {self.name!r} weight {i} must be numeric, got dtype "
                                f"{new.dtype}")
            arrays.append(new)
        for new, old in zip(arrays, self._weights):
            np.copyto(old, new, casting="unsafe")

    def count_params(self):
        return int(sum(w.size for w in self._weights))

    # -- build and call ----------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis first, ``None``)."""

    def weight_shapes(self, input_shape):
        """The shapes of the weights :meth:`build` creates for ``input_shape``, without
        creating them (what loading a model file checks against the file's size)."""
        return []

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build_for(self, input_shape):
        """Build once for ``input_shape`` (batch axis included); later calls check it."""
        input_shape = (None,) + tuple(input_shape[1:])
        if self.built:
            if input_shape != self.input_shape:
                raise ValueError(f'Input of layer "{self.name}" is incompatible with the layer: '
                                 f"expected shape {self.input_shape}, got {input_shape}")
            return
        self.build(input_shape)
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.input_shape = input_shape
        self.built = True

    def prepare_input(self, x):
        """Cast ``x`` to the layer dtype and build on (or check) its shape."""
        x = as_input(x, self.dtype, f'the input of layer "{self.name}"')
        if x.ndim == 0:
            raise ValueError(f'layer "{self.name}" needs a batch of inputs, got a scalar')
        if self.built and x.shape[1:] != self.input_shape[1:]:
            raise ValueError(f'Input of layer "{self.name}" is incompatible with the layer: '
                             f"expected shape {self.input_shape}, got an input of shape "
                             f"{x.shape}")
        self.build_for(x.shape)
        return x

    def __call__(self, inputs, training=False):
        return self.call(self.prepare_input(inputs), training=training)

    def call(self, inputs, training=False):
        raise NotImplementedError

    def backward(self, dy, need_input_grad=True):
        """Gradient with respect to the input of the last ``call(..., training=True)``;
        stores the weight gradients in :attr:`grads`."""
        dy = np.asarray(dy, dtype=self.dtype)
        if dy.shape[1:] != self.output_shape[1:]:
            raise ValueError(f'layer "{self.name}": dy has shape {dy.shape}, expected '
                             f"{self.output_shape}")
        return self._backward(dy, need_input_grad)

    def _backward(self, dy, need_input_grad):
        raise NotImplementedError

    # -- kernel and bias (Conv2D, Dense) -----------------------------------------------------
    def _init_kernel_bias(self, activation, use_bias, kernel_initializer, bias_initializer):
        """The arguments a layer with a kernel, an optional bias and an activation shares;
        its ``weight_shapes`` gives the shapes ``build`` creates."""
        self._init_activation(activation)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self._x = None

    def _build_kernel_bias(self, input_shape):
        shapes = self.weight_shapes(input_shape)
        self.kernel = self.add_weight(shapes[0], self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight(shapes[1], self.bias_initializer)

    # -- activation (for layers that have one) -----------------------------------------------
    def _init_activation(self, activation):
        self.activation = activations.get(activation)
        self._fused = False
        self._output = None

    def _activated(self, inputs, training):
        """activation(_linear(inputs)), with a ReLU computed inside the linear pass."""
        if self.activation.name != "relu":
            return self._apply_activation(self._linear(inputs, training), training)
        y = self._linear(inputs, training, relu=True)
        self._fused = False
        self._output = y if training else None
        return y

    def _apply_activation(self, z, training, inplace=True):
        self._fused = False
        y = self.activation.forward(z, inplace=inplace)
        self._output = y if training else None
        return y

    def pre_activation(self, inputs, training=False):
        """The output before the activation (the logits); the model uses it to fuse a softmax
        or sigmoid output with its cross-entropy loss. The next backward starts from there."""
        z = self._linear(self.prepare_input(inputs), training)
        self._fused = True
        self._output = None
        return z

    def _activation_backward(self, dy):
        if self._fused or (self.relu_backward_done and self.activation.name == "relu"):
            return dy
        y = self._output
        if (self.activation.name == "relu" and dy.shape == y.shape and dy.flags.c_contiguous
                and y.flags.c_contiguous and dy.dtype == y.dtype):
            out = self._buffer("activation_grad", dy.shape)
            _elementwise.relu_backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1),
                                       _config.get_num_threads())
            return out
        return self.activation.backward(dy, y)

    # -- config ------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"
