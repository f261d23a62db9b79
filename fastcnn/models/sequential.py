"""Sequential: a linear stack of layers, as a front of the functional :class:`Model`.

Once the input shape is known (``input_shape`` on the first layer, an ``Input`` added first,
:meth:`Sequential.build`, or the first data the model sees), the layers are called one after
the other on an ``Input`` and the model runs that graph like any functional model. Its
configuration stays the plain list of layers (model files of every fastcnn release load).
"""
from .. import _registry
from .. import layers as layers_module
from ..layers import Input, InputLayer, Layer, SymbolicTensor
from ..layers.base import shape_tuple
from . import config as config_module, summary as summary_module
from .functional import Model
from .graph import Graph

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers.

    ``Sequential([Conv2D(...), ...])`` or ``Sequential()`` and :meth:`add`. When the first
    layer has ``input_shape`` the model is built at once (weights created, shapes inferred);
    otherwise it is built from the first data it sees.
    """

    def __init__(self, layers=None, name=None):
        self._init_container(name, "sequential")
        self._layers = []
        self._input = None           # the symbolic input, once the input shape is known
        self._tensors = []           # each layer's symbolic output
        self._inputs_as_list = self._outputs_as_list = False
        for layer in [] if layers is None else list(layers):
            self.add(layer)

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        """Append ``layer`` (an ``Input(...)`` tensor first sets the input shape); it is built
        at once when the model's input shape is known."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            if self._layers or self._input is not None:
                raise ValueError("an Input can only be the first thing added to a Sequential")
            self._input = layer
            return
        if not isinstance(layer, Layer) or isinstance(layer, InputLayer):
            raise TypeError(f"Sequential.add expects a fastcnn layer, got {layer!r}")
        if any(layer.name == other.name for other in self._layers):
            raise ValueError(f"a layer named {layer.name!r} is already in the model; layer "
                             "names must be unique")
        if not self._layers and self._input is None and layer.input_shape_arg is not None:
            self._input = Input(layer.input_shape_arg, dtype=layer.dtype)
        self._layers.append(layer)
        if self._input is not None:
            self._connect(len(self._layers) - 1)

    def _connect(self, start):
        """Call layers ``start:`` on the output of the one before (or the input)."""
        tensor = self._tensors[start - 1] if start else self._input
        for layer in self._layers[start:]:
            tensor = layer(tensor)
            self._tensors.append(tensor)
        self._set_graph(Graph(self._input, tensor))

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("the model has no layers to pop")
        layer = self._layers.pop()
        if self._tensors:
            self._tensors.pop()
            self._set_graph(Graph(self._input, self._tensors[-1]) if self._tensors else None)
        return layer

    @property
    def built(self):
        return self._graph is not None

    def build(self, input_shape):
        """Build every layer for inputs of ``input_shape`` (batch axis first, may be None)."""
        if not self._layers:
            raise ValueError("cannot build a Sequential model with no layers; add layers first")
        shape = shape_tuple(tuple(input_shape)[1:], "input_shape")
        if self.built:
            if (None,) + shape != self._input.shape:
                raise ValueError(f'Input of model "{self.name}" is incompatible: expected shape '
                                 f"{self._input.shape}, got {(None,) + shape}")
            return
        if self._input is None:
            self._input = Input(shape, dtype=self._layers[0].dtype)
        self._connect(0)

    def _graph_for(self, xs):
        if not self._layers:
            raise ValueError("the model has no layers")
        if not self.built:
            self.build(xs[0].shape)
        return self._graph

    def _input_count(self):
        return 1

    @property
    def input_shape(self):
        return self._input.shape if self.built else None

    @property
    def output_shape(self):
        return self._tensors[-1].shape if self.built else None

    @property
    def inputs(self):
        return [self._input] if self.built else []

    @property
    def outputs(self):
        return [self._tensors[-1]] if self.built else []

    # -- summary, config ---------------------------------------------------------------------
    def summary(self, line_length=None, print_fn=None):
        """Print each layer's name, type, output shape and parameter count, then the totals,
        as Keras does. ``print_fn`` receives each line (default: ``print``)."""
        summary_module.print_summary(self, line_length, print_fn, connections=False)

    def get_config(self):
        config = {"name": self.name,
                  "layers": [{"class_name": config_module.class_name(layer),
                              "config": layer.get_config()} for layer in self._layers]}
        if self.built:
            config["build_input_shape"] = list(self._input.shape)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config):
        """A new (untrained) model from :meth:`get_config`'s output."""
        model = cls(name=config.get("name"))
        for entry in config.get("layers", []):
            model.add(layers_module.get(entry["class_name"]).from_config(entry["config"]))
        shape = config.get("build_input_shape")
        if shape is not None:
            model.build(tuple(shape))         # checks it when the layers gave the shape
        if config.get("trainable", True) is False:
            model.trainable = False
        return model

    def __repr__(self):
        return f"<Sequential name={self.name!r}, layers={len(self._layers)}>"


_registry.register_class("model", Sequential, "Sequential")
