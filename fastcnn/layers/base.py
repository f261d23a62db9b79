"""The Layer base class, in Keras' shape: ``__init__`` validates, ``build`` makes the weights,
``call`` computes, ``get_config`` round-trips.

A layer knows its inputs and its own weights, nothing else. Calling it on arrays computes
(``layer(x, training=False)``); calling it on symbolic tensors records a node of a functional
model (:mod:`fastcnn.layers.node`). Models run layers through two methods that keep what one
call needs in a :class:`CallState` of that call, not in the layer, so that a layer may be
called more than once in a model:

- ``forward(inputs, state, training)``: the output; keeps in ``state`` what ``backward``
  needs and takes its result arrays from ``state.buffer``;
- ``backward(dy, state, need_input_grad, grads)``: writes the gradients of the layer's
  trainable weights into the arrays ``grads`` (aligned with ``trainable_weights``; ``None``
  when there are none) and returns the gradient with respect to the input (a list, one per
  input, for layers called on a list), or ``None`` when ``need_input_grad`` is false.

A layer whose output a ReLU can follow in the same pass sets ``takes_relu``: then
``forward(inputs, state, training, relu=True)`` gives ``relu(output)`` and
``backward(dy, state, need_input_grad, grads, relu_output=y)`` takes the gradient ``dy`` of
that ReLU's output ``y`` (a model's plan uses it, :mod:`fastcnn.models.fusion`; the layer
never learns which layer the ReLU was).

A layer of your own implements ``call(inputs, training)`` (enough for inference) or the two
methods above (to train); :func:`fastcnn.layers.register` makes it loadable from model files.
"""
import collections
import contextlib
import math
import numbers
import re
import threading

import numpy as np

from .. import initializers, regularizers
from .node import Node, is_symbolic

__all__ = ["Layer", "CallState", "weight_budget"]

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


def numeric_array(x, what):
    """``x`` (array, list, uint8 images...) as an ndarray of real numbers (itself when it is
    one); errors name ``what``."""
    try:
        arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    except ValueError as exc:
        raise ValueError(f"{what} cannot be made into an array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what} must be numeric, got an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr


def as_input(x, dtype, what):
    """``x`` (array, list, uint8 images...) as an ndarray of ``dtype``; never modifies ``x``."""
    if isinstance(x, np.ndarray) and x.dtype == dtype:
        return x
    return numeric_array(x, what).astype(dtype)


def check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def batch_shape(shape):
    """``shape`` with its batch axis replaced by None (a list of shapes: each of them)."""
    if isinstance(shape, list):
        return [batch_shape(s) for s in shape]
    return (None,) + tuple(shape[1:])


class CallState:
    """What one call of a layer keeps from its forward to its backward pass (attributes the
    layer sets), and the arrays its results are written to.

    With ``keep`` (a model's plan, step after step) :meth:`buffer` returns the same memory
    every time, made for the largest batch seen and sliced for smaller ones: writing to
    fresh memory costs a page fault per 4 KiB, more than many kernels themselves. Without
    it (a layer or model called directly) every result is a new array the caller owns."""

    def __init__(self, keep=False):
        self.keep = keep
        self._buffers = {}

    def buffer(self, key, shape, dtype):
        """An uninitialised array of ``shape`` and ``dtype`` for the result ``key``."""
        shape = tuple(shape)
        if not self.keep:
            return np.empty(shape, dtype=dtype)
        buf = self._buffers.get(key)
        if (buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:]
                or buf.shape[0] < shape[0]):
            buf = np.empty(shape, dtype=dtype)
            self._buffers[key] = buf
        return buf[:shape[0]]

    def has_buffer(self, key):
        return key in self._buffers


# ---- weights allocated while a model file is read -------------------------------------------
_budget = threading.local()


@contextlib.contextmanager
def weight_budget(max_bytes):
    """While active, weights created in this thread may total at most ``max_bytes``; one that
    would exceed it is a ValueError raised before any memory is allocated (a model file
    cannot make its loader allocate more than the file holds)."""
    previous = getattr(_budget, "left", None), getattr(_budget, "total", None)
    _budget.left = _budget.total = max_bytes
    try:
        yield
    finally:
        _budget.left, _budget.total = previous


def _charge(nbytes, layer_name, shape):
    left = getattr(_budget, "left", None)
    if left is None:
        return
    if nbytes > left:
        raise ValueError(f"layer {layer_name!r} would create a weight of shape {shape} "
                         f"({nbytes} bytes), more than the {_budget.total} bytes the file's "
                         "weights hold")
    _budget.left = left - nbytes


class Layer:
    """Base class of fastcnn's layers.

    Keyword arguments every layer takes: ``name`` (unique names such as ``dense_1`` by
    default), ``dtype`` (``"float32"`` by default, or ``"float64"``; inputs are cast to it),
    ``trainable`` and ``input_shape`` (the shape of one sample, without the batch axis, for the
    first layer of a ``Sequential``).
    """

    # forward(..., relu=True) and backward(..., relu_output=) exist (module docstring)
    takes_relu = False

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None):
        if name is None:
            name = unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self.dtype = float_dtype(dtype)
        self.trainable = trainable
        self.input_shape_arg = (None if input_shape is None
                                else shape_tuple(input_shape, "input_shape"))
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self._trainable_list = []
        self._non_trainable_list = []
        self._weight_names = {}
        self._regularizers = {}
        self._inbound_nodes = []

    # -- weights -----------------------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = check_bool(value, "trainable")

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, name=None,
                   regularizer=None):
        """A new weight array of ``shape`` (in the layer's dtype unless ``dtype``), drawn from
        ``initializer``. ``trainable=False`` makes a weight the optimizer never changes (a
        BatchNormalization's moving statistics); ``regularizer`` (see
        :mod:`fastcnn.regularizers`) adds a penalty on it to the model's loss."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = self.dtype if dtype is None else float_dtype(dtype)
        check_bool(trainable, "trainable")
        count = math.prod(shape)
        nbytes = count * np.dtype(dtype).itemsize
        _charge(nbytes, self.name, shape)
        if nbytes > np.iinfo(np.intp).max:
            raise ValueError(f"layer {self.name!r}: a weight of shape {shape} would have "
                             f"{count} elements, more than memory can address")
        init = initializers.get("zeros" if initializer is None else initializer)
        try:
            value = np.ascontiguousarray(init(shape, dtype))
        except MemoryError:
            raise MemoryError(f"layer {self.name!r}: a weight of shape {shape} ({count} "
                              f"elements of {dtype}) cannot be allocated") from None
        (self._trainable_list if trainable else self._non_trainable_list).append(value)
        self._weight_names[id(value)] = name or f"variable_{len(self._weight_names)}"
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularizers[id(value)] = regularizer
        return value

    @property
    def regularized_weights(self):
        """(weight, regularizer) for each weight that has a regularizer."""
        return [(w, self._regularizers[id(w)]) for w in self.weights
                if id(w) in self._regularizers]

    @property
    def weights(self):
        """The layer's weight arrays (the live arrays, not copies): the trainable ones, then
        the others, each in the order they were made (Keras' order)."""
        return self._trainable_list + self._non_trainable_list

    @property
    def trainable_weights(self):
        return list(self._trainable_list) if self.trainable else []

    @property
    def non_trainable_weights(self):
        return list(self._non_trainable_list) if self.trainable else self.weights

    def weight_name(self, weight):
        """The name ``weight`` (one of :attr:`weights`) was made with (``kernel``, ...)."""
        return self._weight_names[id(weight)]

    def get_weights(self):
        """Copies of the weight arrays."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (same count and shapes as :meth:`get_weights`) into the layer."""
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"layer {self.name!r} expects {len(own)} weight arrays, "
                             f"got {len(weights)}")
        arrays = []
        for i, (new, old) in enumerate(zip(weights, own)):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(f"layer {self.name!r} weight {i} has shape {old.shape}, got "
                                 f"an array of shape {new.shape}")
            if not (np.issubdtype(new.dtype, np.number) or new.dtype == bool):
                raise TypeError(f"layer {self.name!r} weight {i} must be numeric, got dtype "
                                f"{new.dtype}")
            arrays.append(new)
        for new, old in zip(arrays, own):
            np.copyto(old, new, casting="unsafe")

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # -- build -------------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis first, ``None``; a
        list of shapes for a layer called on a list)."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build_for(self, input_shape):
        """Build once for ``input_shape`` (batch axis included); later calls check it."""
        input_shape = batch_shape(input_shape)
        if self.built:
            if input_shape != self.input_shape:
                raise ValueError(f'Input of layer "{self.name}" is incompatible with the layer: '
                                 f"expected shape {self.input_shape}, got {input_shape}")
            return
        output_shape = self.compute_output_shape(input_shape)
        self.build(input_shape)
        self.output_shape = tuple(output_shape)
        self.input_shape = input_shape
        self.built = True

    # -- calls -------------------------------------------------------------------------------
    def __call__(self, inputs, training=False):
        """On arrays: the layer's output (arrays the caller owns). On symbolic tensors: the
        symbolic output of this call in a functional model."""
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        return self.call(self.prepare_input(inputs), training=training)

    def _call_symbolic(self, inputs):
        is_list = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if is_list else [inputs]
        shapes = [t.shape for t in tensors]
        self.build_for(shapes if is_list else shapes[0])
        return Node(self, tensors, is_list, [self.output_shape], self.dtype).outputs[0]

    def prepare_input(self, x):
        """Cast ``x`` (an array, or a list of them for a layer called on a list) to the
        layer's dtype and build on (or check) its shape."""
        if isinstance(x, (list, tuple)) and not isinstance(x, np.ndarray) and self._takes_list:
            xs = [self._prepare_one(a, f'input {i} of layer "{self.name}"')
                  for i, a in enumerate(x)]
            self._check_shape([a.shape for a in xs])
            return xs
        x = self._prepare_one(x, f'the input of layer "{self.name}"')
        self._check_shape(x.shape)
        return x

    # layers called on a list of tensors (Add, Concatenate) set this
    _takes_list = False

    def _prepare_one(self, x, what):
        x = as_input(x, self.dtype, what)
        if x.ndim == 0:
            raise ValueError(f'layer "{self.name}" needs a batch of inputs, got a scalar')
        return x

    def _check_shape(self, shape):
        if self.built and batch_shape(shape) != self.input_shape:
            raise ValueError(f'Input of layer "{self.name}" is incompatible with the layer: '
                             f"expected shape {self.input_shape}, got an input of shape "
                             f"{shape}")
        self.build_for(shape)

    def call(self, inputs, training=False):
        """The output for ``inputs`` (already cast and checked), as new arrays."""
        return self.forward(inputs, CallState(), training)

    def forward(self, inputs, state, training):
        """The output for ``inputs``; see the module docstring."""
        if type(self).call is Layer.call:
            raise NotImplementedError(f"layer class {type(self).__name__} must implement "
                                      "call() or forward()")
        return self.call(inputs, training=training)

    def backward(self, dy, state, need_input_grad, grads):
        """Gradients of the call ``state`` records; see the module docstring."""
        raise NotImplementedError(f"layer {self.name!r} ({type(self).__name__}) has no "
                                  "backward pass, so a model holding it cannot be trained")

    # -- graph -------------------------------------------------------------------------------
    @property
    def input(self):
        """The symbolic input (a list for a layer called on a list) of the layer's first call
        in a functional model."""
        node = self._first_node()
        return list(node.inputs) if node.is_list else node.inputs[0]

    @property
    def output(self):
        """The symbolic output of the layer's first call in a functional model."""
        return self._first_node().outputs[0]

    def _first_node(self):
        if not self._inbound_nodes:
            raise AttributeError(f"layer {self.name!r} has not been called on symbolic "
                                 "tensors, so it has no symbolic input or output")
        return self._inbound_nodes[0]

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
