"""ONNX export: ``model.export(path, format="onnx")`` (optional extra ``fastcnn[onnx]``).

The ONNX graph takes the model's inputs as they are given to ``predict`` (NHWC float32, the
names of the model's ``Input`` layers, in the order of ``model.inputs``, with a dynamic batch
axis ``"batch"``) and gives ``predict``'s outputs (named after the layers that make them, in
the order of ``model.outputs``). It computes inference: BatchNormalization with its moving
statistics, Dropout, RandomFlip and RandomTranslation left out; RandomCrop resizes the centred
box as ``predict`` does. Weights are float32 initializers (a float64 model's too: the ONNX
graph computes in float32). Opset 18, which onnxruntime runs.

Convolutions and poolings run in ONNX's NCHW layout: a tensor is transposed when a node needs
the other layout (once per tensor and layout), so chains of convolutions, normalisations and
activations stay in NCHW, and Flatten and Dense see NHWC, whose order fastcnn flattens in.
"""
import numpy as np

from . import __version__, _augment_ops, _extras, _geometry, saving
from . import layers as L

__all__ = ["export_onnx", "to_onnx", "OPSET"]

OPSET = 18
_IR_VERSION = 8          # the IR version of opset 18; newer ones not every runtime reads
_FEATURE = "model.export(format='onnx')"
_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class _Value:
    """An ONNX tensor standing for a symbolic tensor of the model: its name, rank and, for
    images (rank 4), the layout it is in ("NHWC" or "NCHW"; None for other ranks)."""

    __slots__ = ("name", "rank", "layout")

    def __init__(self, name, rank, layout=None):
        self.name, self.rank = name, rank
        self.layout = layout if rank == 4 else None

    @property
    def channel_axis(self):
        return 1 if self.layout == "NCHW" else self.rank - 1

    def axis(self, keras_axis):
        """The axis of this tensor that is ``keras_axis`` of the NHWC tensor it stands for."""
        axis = keras_axis % self.rank
        return {1: 2, 2: 3, 3: 1}[axis] if self.layout == "NCHW" else axis

    def like(self, name):
        """A new value of this one's rank and layout."""
        return _Value(name, self.rank, self.layout)


class _Builder:
    """The nodes and initializers of the graph being built, with unique names."""

    def __init__(self, onnx, reserved):
        self.onnx = onnx
        self.nodes, self.initializers = [], []
        self.used = set(reserved)
        self._transposed = {}
        self._constants = {}

    def fresh(self, base):
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def const(self, base, array, dtype=np.float32):
        """An initializer holding ``array`` (one per layer weight, however often it is used)."""
        data = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        key = (base, data.dtype.str, data.shape)
        if key not in self._constants:
            name = self.fresh(base)
            self.initializers.append(self.onnx.numpy_helper.from_array(data, name))
            self._constants[key] = name
        return self._constants[key]

    def node(self, op, inputs, base, output=None, **attributes):
        """Append an ``op`` node reading ``inputs`` ("" for an omitted optional input); its
        output's name (``output``, or a fresh one from ``base``)."""
        out = output or self.fresh(base)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out],
                                                     name=self.fresh(f"{base}/{op}"),
                                                     **attributes))
        return out

    def layout(self, value, layout):
        """``value`` in ``layout`` (values that are not images are returned as they are)."""
        if value.rank != 4 or value.layout == layout:
            return value
        key = (value.name, layout)
        if key not in self._transposed:
            perm = _TO_NCHW if layout == "NCHW" else _TO_NHWC
            name = self.node("Transpose", [value.name], f"{value.name}_{layout.lower()}",
                             perm=perm)
            self._transposed[key] = _Value(name, 4, layout)
        return self._transposed[key]

    def same_layout(self, values):
        """``values`` all in the first one's layout."""
        return [self.layout(v, values[0].layout) for v in values]


# ---- layers -------------------------------------------------------------------------------------
def _activation(b, name, x, base):
    """The fastcnn activation ``name`` applied to ``x``."""
    if name == "linear":
        return x
    ops = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}
    if name not in ops:
        raise ValueError(f"cannot export the activation {name!r} to ONNX")
    attributes = {"axis": x.channel_axis} if name == "softmax" else {}
    return x.like(b.node(ops[name], [x.name], base, **attributes))


def _window_attributes(layer, size_name, shape):
    """kernel_shape, strides and the explicit pads of TensorFlow's padding for a window layer
    over inputs of ``shape`` (NHWC)."""
    size = getattr(layer, size_name)
    geo = _geometry.output_geometry(shape[1:3], size, layer.strides, layer.padding, size_name)
    return dict(kernel_shape=list(size), strides=list(layer.strides),
                pads=[geo.pad_top, geo.pad_left, geo.pad_bottom, geo.pad_right])


def _conv2d(b, layer, xs, shapes):
    x = b.layout(xs[0], "NCHW")
    inputs = [x.name, b.const(f"{layer.name}/kernel", layer.kernel.transpose(3, 2, 0, 1))]
    if layer.use_bias:
        inputs.append(b.const(f"{layer.name}/bias", layer.bias))
    y = x.like(b.node("Conv", inputs, layer.name,
                      **_window_attributes(layer, "kernel_size", shapes[0])))
    return _activation(b, layer.activation.name, y, layer.name)


def _dense(b, layer, xs, shapes):
    x = b.layout(xs[0], "NHWC")
    y = b.node("MatMul", [x.name, b.const(f"{layer.name}/kernel", layer.kernel)], layer.name)
    if layer.use_bias:
        y = b.node("Add", [y, b.const(f"{layer.name}/bias", layer.bias)], layer.name)
    return _activation(b, layer.activation.name, x.like(y), layer.name)


def _activation_layer(b, layer, xs, shapes):
    return _activation(b, layer.activation.name, xs[0], layer.name)


def _relu_layer(b, layer, xs, shapes):
    """ReLU(max_value, negative_slope, threshold), computed in the steps fastcnn takes."""
    x, name = xs[0], layer.name
    if layer._plain:
        return x.like(b.node("Relu", [x.name], name))
    thr = layer.threshold
    if thr != 0:
        above = b.node("Greater", [x.name, b.const(f"{name}/threshold", thr)], name)
        y = b.node("Where", [above, x.name, b.const(f"{name}/zero", 0.0)], name)
    else:
        y = b.node("Relu", [x.name], name)
    if layer.max_value is not None:
        y = b.node("Clip", [y, b.const(f"{name}/zero", 0.0),
                            b.const(f"{name}/max_value", layer.max_value)], name)
    if layer.negative_slope != 0:
        below = b.node("Relu", [b.node("Sub", [b.const(f"{name}/threshold", thr), x.name],
                                       name)], name)
        leak = b.node("Mul", [below, b.const(f"{name}/negative_slope", layer.negative_slope)],
                      name)
        y = b.node("Sub", [y, leak], name)
    return x.like(y)


def _flatten(b, layer, xs, shapes):
    x = b.layout(xs[0], "NHWC")
    return _Value(b.node("Flatten", [x.name], layer.name, axis=1), 2)


def _pooling(op, **extra):
    def convert(b, layer, xs, shapes):
        x = b.layout(xs[0], "NCHW")
        return x.like(b.node(op, [x.name], layer.name, **extra,
                             **_window_attributes(layer, "pool_size", shapes[0])))
    return convert


def _global_pooling(op):
    def convert(b, layer, xs, shapes):
        x = xs[0]
        axes = b.const(f"{layer.name}/axes", [x.axis(1), x.axis(2)], np.int64)
        y = b.node(op, [x.name, axes], layer.name, keepdims=int(layer.keepdims))
        return x.like(y) if layer.keepdims else _Value(y, 2)
    return convert


def _per_channel(x, vector):
    """A per-channel vector shaped to broadcast along ``x``'s channel axis."""
    return np.reshape(vector, (-1, 1, 1)) if x.layout == "NCHW" else vector


def _batch_norm(b, layer, xs, shapes):
    """gamma * (x - mean) / sqrt(var + epsilon) + beta as one multiply and one add."""
    x = xs[0]
    variance = np.asarray(layer.moving_variance, np.float64)
    scale = 1 / np.sqrt(variance + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * layer.gamma
    shift = -np.asarray(layer.moving_mean, np.float64) * scale
    if layer.beta is not None:
        shift = shift + layer.beta
    y = b.node("Mul", [x.name, b.const(f"{layer.name}/scale", _per_channel(x, scale))],
               layer.name)
    y = b.node("Add", [y, b.const(f"{layer.name}/shift", _per_channel(x, shift))], layer.name)
    return x.like(y)


def _add(b, layer, xs, shapes):
    xs = b.same_layout(xs)
    return xs[0].like(b.node("Sum", [x.name for x in xs], layer.name))


def _concatenate(b, layer, xs, shapes):
    xs = b.same_layout(xs)
    return xs[0].like(b.node("Concat", [x.name for x in xs], layer.name,
                             axis=xs[0].axis(layer.axis)))


def _zero_padding(b, layer, xs, shapes):
    x = xs[0]
    (top, bottom), (left, right) = layer.padding
    begin, end = [0] * 4, [0] * 4
    begin[x.axis(1)], begin[x.axis(2)], end[x.axis(1)], end[x.axis(2)] = top, left, bottom, right
    pads = b.const(f"{layer.name}/pads_{x.layout}", begin + end, np.int64)
    return x.like(b.node("Pad", [x.name, pads], layer.name))


def _rescaling(b, layer, xs, shapes):
    x = xs[0]
    if not (isinstance(layer.scale, float) and isinstance(layer.offset, float)):
        x = b.layout(x, "NHWC")      # arrays broadcast against NHWC samples, as in numpy
    y = b.node("Mul", [x.name, b.const(f"{layer.name}/scale", layer.scale)], layer.name)
    y = b.node("Add", [y, b.const(f"{layer.name}/offset", layer.offset)], layer.name)
    return x.like(y)


def _random_crop(b, layer, xs, shapes):
    """Inference: the centred box of the crop's aspect ratio, resized bilinearly with
    half-pixel centres (TensorFlow's resize), or only cut out when it has the crop's size."""
    x = b.layout(xs[0], "NCHW")
    name, size = layer.name, [layer.height, layer.width]
    top, left, box_h, box_w = _augment_ops.center_box(shapes[0][1:3], size)
    y = b.node("Slice", [x.name, b.const(f"{name}/starts", [top, left], np.int64),
                         b.const(f"{name}/ends", [top + box_h, left + box_w], np.int64),
                         b.const(f"{name}/axes", [2, 3], np.int64)], name)
    if [box_h, box_w] != size:
        # sizes of all four axes: onnxruntime's layout optimizer mishandles Resize's axes
        batch_channels = b.node("Shape", [y], name, start=0, end=2)
        sizes = b.node("Concat", [batch_channels, b.const(f"{name}/size", size, np.int64)],
                       name, axis=0)
        y = b.node("Resize", [y, "", "", sizes], name, mode="linear",
                   coordinate_transformation_mode="half_pixel")
    return x.like(y)


def _identity(b, layer, xs, shapes):
    return xs[0]


_CONVERTERS = {
    L.Conv2D: _conv2d, L.Dense: _dense, L.Activation: _activation_layer, L.ReLU: _relu_layer,
    L.Flatten: _flatten, L.MaxPooling2D: _pooling("MaxPool"),
    L.AveragePooling2D: _pooling("AveragePool", count_include_pad=0),
    L.GlobalAveragePooling2D: _global_pooling("ReduceMean"),
    L.GlobalMaxPooling2D: _global_pooling("ReduceMax"),
    L.BatchNormalization: _batch_norm, L.Add: _add, L.Concatenate: _concatenate,
    L.ZeroPadding2D: _zero_padding, L.Rescaling: _rescaling, L.Dropout: _identity,
    L.RandomFlip: _identity, L.RandomTranslation: _identity, L.RandomCrop: _random_crop,
}


# ---- the model ----------------------------------------------------------------------------------
def _graph(model):
    graph = getattr(model, "_graph", None)
    if graph is None:
        raise ValueError(f"model {model.name!r} is not built, so its input shape is unknown: "
                         "give the first layer input_shape, start it with an Input, or call "
                         "build(input_shape) or predict first")
    return graph


def _converter(layer):
    # the exact class: a subclass may compute something else
    convert = _CONVERTERS.get(type(layer))
    if convert is None:
        known = sorted(cls.__name__ for cls in _CONVERTERS)
        raise ValueError(f"cannot export layer {layer.name!r} ({type(layer).__name__}) to "
                         f"ONNX: only fastcnn's own layers can be exported ({', '.join(known)}, "
                         "InputLayer)")
    return convert


def _output_names(graph, taken):
    """The output layers' names, with a suffix where one is taken (by an input, or an
    earlier output: a model may give one tensor twice)."""
    names, taken = [], set(taken)
    for t in graph.outputs:
        name, base, i = t.node.layer.name, t.node.layer.name, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        names.append(name)
    return names


def _value_info(onnx, tensor, name):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                              ["batch"] + list(tensor.shape[1:]))


def to_onnx(model):
    """The ONNX ``ModelProto`` of ``model`` (see the module docstring); a layer without an
    ONNX form is a ValueError naming it. Nothing is written, and the model is not changed."""
    onnx = _extras.require("onnx", _FEATURE)
    _extras.require("onnx.numpy_helper", _FEATURE)
    graph = _graph(model)
    for node in graph.nodes:
        if not node.is_input:
            _converter(node.layer)
    input_names = [t.node.layer.name for t in graph.inputs]
    output_names = _output_names(graph, input_names)
    b = _Builder(onnx, input_names + output_names)
    values = {id(t): _Value(name, len(t.shape), "NHWC")
              for t, name in zip(graph.inputs, input_names)}
    for node in graph.nodes:
        if node.is_input:
            continue
        xs = [values[id(t)] for t in node.inputs]
        out = _converter(node.layer)(b, node.layer, xs, [t.shape for t in node.inputs])
        values[id(node.outputs[0])] = out
    for t, name in zip(graph.outputs, output_names):
        value = values[id(t)]
        if value.layout == "NCHW":
            b.node("Transpose", [value.name], name, output=name, perm=_TO_NHWC)
        else:
            b.node("Identity", [value.name], name, output=name)
    helper = onnx.helper
    onnx_graph = helper.make_graph(
        b.nodes, model.name,
        [_value_info(onnx, t, n) for t, n in zip(graph.inputs, input_names)],
        [_value_info(onnx, t, n) for t, n in zip(graph.outputs, output_names)],
        initializer=b.initializers)
    proto = helper.make_model(onnx_graph, producer_name="fastcnn", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = _IR_VERSION
    return proto


def export_onnx(model, filepath):
    """Write ``model`` to ``filepath`` as an ONNX file (see the module docstring), atomically:
    a failure to write is an ``OSError`` naming ``filepath`` (as ``model.save``'s) that leaves
    any previous file there intact."""
    data = to_onnx(model).SerializeToString()
    saving.write_file(filepath, lambda stream: stream.write(data),
                      action="export the model")
