"""Symbolic tensors and nodes: how a functional model records which layer call made which
tensor.

Calling a layer on :class:`SymbolicTensor` objects (from :func:`fastcnn.layers.Input` or
from other layer calls) computes nothing: the layer is built for the input shapes, a
:class:`Node` records the call (the layer and its input tensors), and new symbolic tensors
stand for its outputs. A layer called twice has two nodes and shares its weights between
them. ``fastcnn.models.Model(inputs, outputs)`` walks the nodes back from the outputs.
"""

__all__ = ["SymbolicTensor", "Node", "is_symbolic", "flatten_tensors"]


class SymbolicTensor:
    """The placeholder for an array in a functional model: its ``shape`` (batch axis
    ``None``) and ``dtype``, and the node (layer call) that makes it. It holds no data; it
    can be passed to layers and to ``Model``."""

    __slots__ = ("shape", "dtype", "node", "index")

    def __init__(self, shape, dtype, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def layer(self):
        """The layer whose call made this tensor."""
        return self.node.layer

    @property
    def history(self):
        """(layer name, node index, tensor index): how configs refer to this tensor."""
        return (self.node.layer.name, self.node.index, self.index)

    @property
    def name(self):
        layer_name, node_index, tensor_index = self.history
        return f"{layer_name}[{node_index}][{tensor_index}]"

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic: it stands for the output of a layer in a "
                        "functional model and holds no values; build a Model from it and "
                        "call the model on data")

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic and has no truth value")


class Node:
    """One call of ``layer`` on ``inputs`` (a list of symbolic tensors; ``is_list`` says
    whether the layer was given a list, e.g. ``Add()([a, b])``, or a single tensor), making
    ``outputs``. ``index`` is the call's position among the layer's calls."""

    __slots__ = ("layer", "inputs", "is_list", "outputs", "index")

    def __init__(self, layer, inputs, is_list, output_shapes, dtype):
        self.layer = layer
        self.inputs = list(inputs)
        self.is_list = is_list
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        self.outputs = [SymbolicTensor(shape, dtype, self, i)
                        for i, shape in enumerate(output_shapes)]

    @property
    def is_input(self):
        return not self.inputs

    @property
    def parents(self):
        return [t.node for t in self.inputs]

    def __repr__(self):
        return f"<Node {self.layer.name}[{self.index}]>"


def is_symbolic(inputs):
    """Whether ``inputs`` (an array, a tensor, or a list of them) is symbolic; a list that
    mixes symbolic tensors and arrays is a TypeError."""
    if isinstance(inputs, SymbolicTensor):
        return True
    if isinstance(inputs, (list, tuple)):
        kinds = {isinstance(t, SymbolicTensor) for t in inputs}
        if kinds == {True, False}:
            raise TypeError("a layer cannot be called on a list that mixes symbolic tensors "
                            "(from Input or other layers) and arrays")
        return kinds == {True}
    return False


def flatten_tensors(tensors, what):
    """``tensors`` (a SymbolicTensor or a list/tuple of them) as a list; anything else is a
    TypeError naming ``what``."""
    items = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    for t in items:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"{what} must be symbolic tensors (from fastcnn.layers.Input or "
                            f"from calling layers on them), got {type(t).__name__}: {t!r}")
    if not items:
        raise ValueError(f"{what} must hold at least one tensor")
    return items
