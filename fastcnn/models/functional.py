"""Model: a graph of layer calls from ``inputs`` to ``outputs`` (the functional API), with
the training loop of :class:`fastcnn.models.trainer.Trainer`.

::

    inp = Input((32, 32, 3))
    t = Activation("relu")(BatchNormalization()(Conv2D(16, 3, padding="same")(inp)))
    model = Model(inp, Dense(10, activation="softmax")(GlobalAveragePooling2D()(t)))

``model.layers`` lists the layers in Keras' order (see :mod:`fastcnn.models.graph`);
weights are listed layer by layer in that order. :class:`fastcnn.models.Sequential` is a
front of this class for a stack of layers.
"""
import numpy as np

from .. import _registry, keras_format, onnx_export, saving
from ..layers import base as layers_base
from . import config as config_module, summary as summary_module
from .graph import Graph
from .trainer import Trainer

__all__ = ["Model"]


class Model(Trainer):
    """A functional model: ``Model(inputs, outputs, name=None)``, where ``inputs`` are
    tensors from :func:`fastcnn.layers.Input` (one, or a list) and ``outputs`` tensors made
    by calling layers on them (one, or a list). Malformed graphs (an output that needs a
    tensor that is not an input, an unused input, repeated layer names) are ValueErrors."""

    def __init__(self, inputs, outputs, name=None):
        self._init_container(name, "functional")
        self._set_graph(Graph(inputs, outputs))
        self._inputs_as_list = isinstance(inputs, (list, tuple))
        self._outputs_as_list = isinstance(outputs, (list, tuple))

    def _init_container(self, name, default_name):
        if name is None:
            name = layers_base.unique_name(default_name)
        elif not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self._graph = None
        self._trainable = True
        self._init_trainer()

    def _set_graph(self, graph):
        self._graph = graph
        self._plans = {}
        self._states = {}

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._graph.layers)

    @property
    def inputs(self):
        return list(self._graph.inputs)

    @property
    def outputs(self):
        return list(self._graph.outputs)

    @property
    def built(self):
        return self._graph is not None

    def _graph_for(self, xs):
        return self._graph

    def _input_count(self):
        return len(self._graph.inputs)

    def _structured(self, values, as_list):
        return values if as_list or len(values) > 1 else values[0]

    @property
    def input_shape(self):
        return self._structured([t.shape for t in self._graph.inputs], self._inputs_as_list)

    @property
    def output_shape(self):
        return self._structured([t.shape for t in self._graph.outputs], self._outputs_as_list)

    @property
    def dtype(self):
        layers = self.layers
        return layers[0].dtype if layers else "float32"

    def get_layer(self, name=None, index=None):
        """The layer named ``name``, or at position ``index`` of :attr:`layers`."""
        layers = self.layers
        if index is not None:
            if name is not None:
                raise ValueError("give get_layer a name or an index, not both")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"index {index} is out of range for a model of {len(layers)} "
                                 "layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[l.name for l in layers]}")

    # -- weights -----------------------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze (False) or unfreeze every layer, as Keras' ``model.trainable``."""
        self._trainable = layers_base.check_bool(value, "trainable")
        for layer in self.layers:
            layer.trainable = value

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Copies of every weight array, layer by layer (Keras' order)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set every weight from a list like :meth:`get_weights`'s; the count and each shape
        are checked before anything changes (``ValueError`` naming the layer)."""
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        layers = self.layers
        owners = [(layer, i) for layer in layers for i in range(len(layer.weights))]
        if len(weights) != len(owners):
            raise ValueError(f"model {self.name!r} has {len(owners)} weight arrays, got "
                             f"{len(weights)}")
        for (layer, i), new in zip(owners, weights):
            old = layer.weights[i]
            if np.shape(new) != old.shape:
                raise ValueError(f"weight {i} of layer {layer.name!r} has shape {old.shape}, "
                                 f"got an array of shape {np.shape(new)}")
        start = 0
        for layer in layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # -- summary, config, saving -------------------------------------------------------------
    def summary(self, line_length=None, print_fn=None):
        """Print each layer's name, type, output shape, parameter count and the layers it is
        connected to, then the totals, as Keras does. ``print_fn`` receives each line."""
        summary_module.print_summary(self, line_length, print_fn, connections=True)

    def get_config(self):
        return config_module.functional_config(self)

    @classmethod
    def from_config(cls, config):
        """A new (untrained) model from :meth:`get_config`'s output."""
        inputs, outputs, name, trainable = config_module.functional_from_config(config)
        model = cls(inputs, outputs, name=name)
        if not trainable:
            model.trainable = False
        return model

    def save(self, filepath):
        """Write the architecture, weights, compile settings and optimizer state to one file
        (see :mod:`fastcnn.saving`); the write is atomic."""
        saving.save_model(self, filepath)

    def export(self, filepath, format="onnx"):
        """Write the model for inference in another runtime: ``format="onnx"`` (the only one)
        writes an ONNX file taking the NHWC float32 inputs ``predict`` takes, with a dynamic
        batch axis, and giving its outputs (optional extra ``fastcnn[onnx]``; see
        :mod:`fastcnn.onnx_export`). The write is atomic."""
        if not isinstance(format, str) or format != "onnx":
            raise ValueError(f"format must be 'onnx' (the only export format), got {format!r}")
        onnx_export.export_onnx(self, filepath)

    def load_weights(self, filepath):
        """Read the weights of a Keras ``.weights.h5`` (or ``.keras``) file saved by a model of
        the same architecture (see :func:`fastcnn.keras_format.load_weights`); on any
        mismatch a ValueError naming the layer and the shapes, and no weight changes."""
        keras_format.load_weights(self, filepath)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, layers={len(self.layers)}>"

    def _output_structure(self, outs):
        return self._structured(outs, self._outputs_as_list)


_registry.register_class("model", Model, "Functional")
