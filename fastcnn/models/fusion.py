"""Every cross-layer optimisation of fastcnn, as rules matched on a model's graph.

A rule looks at a node and the graph around it and either leaves it alone or returns a step
that runs that node together with the next one(s) it owns. Rules only match where no other
layer can notice: the tensor passed between the fused calls must be read by the second call
alone and must not be a model output. Every fused step gives bitwise the results of its
layers run one by one (tests train models both ways, ``Model.compile(fuse=False)``).

Rules (``fuse=True``, training steps):

- **ReLU into max pooling** (:class:`ReluMaxPoolStep`): a layer ending in ReLU (Conv2D or
  Dense with ``activation="relu"``, ``Activation("relu")``, ``ReLU()``) whose output only a
  MaxPooling2D reads. The pooling records where each maximum was found and does the ReLU's
  backward pass on its own gradient (a maximum > 0 passes it, which is exactly where the
  ReLU would), so the ReLU layer's backward pass is skipped.
- **Conv2D + ReLU + max pooling in one pass** (:class:`ConvReluMaxPoolStep`, the same rule
  when the layer is a Conv2D): where the few-channel convolution kernel applies, each
  image's convolution is pooled while still in cache and never written out; and where the
  convolution needs no input gradient (a first layer) and the windows do not overlap, its
  weight gradients are computed straight from the pooling's gradient and picks, without the
  convolution output's gradient being written either.

Not switchable, because it is how the loss is defined rather than an optimisation (as in
Keras' TensorFlow backend): an output layer ending in the activation the loss pairs with
(softmax for categorical cross-entropy, sigmoid for binary) hands the loss its logits
(:class:`LogitsStep`).
"""
from .. import _fused_ops as fused_ops, ops
from ..layers.activated import ActivatedLayer
from ..layers.conv import Conv2D, weight_grad_arrays
from ..layers.pooling import MaxPooling2D
from .steps import LayerStep

__all__ = ["plan_steps", "ReluMaxPoolStep", "ConvReluMaxPoolStep", "LogitsStep"]


class _Graph:
    """What the rules ask of the graph."""

    def __init__(self, graph):
        self.consumers = graph.consumers
        self.output_ids = {id(t) for t in graph.outputs}

    def sole_consumer(self, node):
        """The one node that reads ``node``'s output, or None (several, or a model output)."""
        out = node.outputs[0]
        readers = self.consumers.get(id(out), [])
        if len(readers) != 1 or id(out) in self.output_ids:
            return None
        return readers[0]


def _ends_in_relu(layer):
    return isinstance(layer, ActivatedLayer) and layer.activation.name == "relu"


def _relu_max_pool(node, graph):
    """The ReLU-into-max-pooling rule: (producer, pooling) nodes, or None."""
    if not _ends_in_relu(node.layer) or node.is_list:
        return None
    reader = graph.sole_consumer(node)
    if (reader is None or not isinstance(reader.layer, MaxPooling2D)
            or not reader.layer.records_picks):
        return None
    return node, reader


def plan_steps(graph, slot, states, *, backward, fuse, loss_activations):
    """The steps that run ``graph``'s nodes in order, and the ids of the output tensors
    given as logits."""
    view = _Graph(graph)
    logits_for = {id(t): act for t, act in zip(graph.outputs, loss_activations)
                  if act is not None}
    steps, logits_ids, taken = [], set(), set()
    for node in graph.nodes:
        if node.is_input or id(node) in taken:
            continue
        out = node.outputs[0]
        act = logits_for.get(id(out))
        if (act is not None and isinstance(node.layer, ActivatedLayer)
                and node.layer.activation.name == act and not graph.consumers.get(id(out))):
            steps.append(LogitsStep(node, slot, states))
            logits_ids.add(id(out))
            continue
        pair = _relu_max_pool(node, view) if fuse and backward else None
        if pair is not None:
            cls = ConvReluMaxPoolStep if isinstance(node.layer, Conv2D) else ReluMaxPoolStep
            steps.append(cls(pair[0], pair[1], slot, states))
            taken.add(id(pair[1]))
            continue
        steps.append(LayerStep(node, slot, states))
    return steps, logits_ids


class LogitsStep(LayerStep):
    """An output layer's call without its final activation: the loss takes the logits."""

    def forward(self, values, training):
        values[self.output] = self.layer.linear(self.gather(values), self.state, training)

    def backward(self, dy, need_input_grad, grads):
        return [self.layer.linear_backward(dy, self.state, need_input_grad, grads[0])]


class ReluMaxPoolStep:
    """A layer ending in ReLU and the MaxPooling2D that alone reads its output (see the
    module docstring)."""

    def __init__(self, node, pool_node, slot, states):
        self.layer, self.pool = node.layer, pool_node.layer
        self.layers = [node.layer, pool_node.layer]
        self.inputs = [slot(node.inputs[0])]
        self.output = slot(pool_node.outputs[0])
        self.state, self.pool_state = states(node), states(pool_node)

    def _pool_picking(self, z):
        """The pooling of the ReLU's output ``z``, recording picks with the ReLU folded in."""
        st = self.pool_state
        shape = (z.shape[0],) + self.pool.output_shape[1:]
        st.picks, st.z_shape = st.buffer("picks", shape, z.dtype), z.shape
        return fused_ops.max_pool2d_picking(z, self.pool.pool_size, self.pool.strides,
                                       self.pool.padding, st.buffer("y", shape, z.dtype),
                                       st.picks, True)

    def forward(self, values, training):
        z = self.layer.forward(values[self.inputs[0]], self.state, training)
        values[self.output] = self._pool_picking(z)

    def _pool_backward(self, dy):
        """The gradient with respect to the ReLU's input, from the pooling's gradient."""
        st = self.pool_state
        return fused_ops.max_pool2d_backward_picks(dy, st.picks, st.z_shape, self.pool.pool_size,
                                              self.pool.strides, self.pool.padding,
                                              st.buffer("dz", st.z_shape, dy.dtype))

    def backward(self, dy, need_input_grad, grads):
        dz = self._pool_backward(dy)
        return [self.layer.linear_backward(dz, self.state, need_input_grad, grads[0])]


class ConvReluMaxPoolStep(ReluMaxPoolStep):
    """The rule for a Conv2D: the same step, with the convolution's passes fused with the
    pooling's where the kernels allow (see the module docstring). It runs the convolution
    through ``fastcnn.ops`` with the layer's weights and arguments."""

    def forward(self, values, training):
        conv, pool, st = self.layer, self.pool, self.state
        x = values[self.inputs[0]]
        st.x = x
        shape = (x.shape[0],) + pool.output_shape[1:]
        picks = self.pool_state.buffer("picks", shape, x.dtype)
        y = fused_ops.conv2d_relu_max_pool2d_picking(
            x, conv.kernel, conv.bias, conv.strides, conv.padding, pool.pool_size,
            pool.strides, pool.padding, self.pool_state.buffer("y", shape, x.dtype), picks)
        if y is None:       # the kernel declined: the convolution, then the pooling
            z = ops.conv2d(x, conv.kernel, conv.bias, strides=conv.strides,
                           padding=conv.padding, activation="relu",
                           out=st.buffer("z", (x.shape[0],) + conv.output_shape[1:], x.dtype))
            y = self._pool_picking(z)
        else:
            self.pool_state.picks = picks
            self.pool_state.z_shape = (x.shape[0],) + conv.output_shape[1:]
        values[self.output] = y

    def backward(self, dy, need_input_grad, grads):
        conv, pool, st = self.layer, self.pool, self.state
        dw, db = weight_grad_arrays(conv, grads[0], st)
        if not need_input_grad:
            done = fused_ops.conv2d_backward_weight_unpool(
                dy, self.pool_state.picks, st.x, conv.kernel, conv.strides, conv.padding,
                pool.pool_size, pool.strides, pool.padding, out=(dw, db))
            if done is not None:
                return [None]
        dz = self._pool_backward(dy)
        if not need_input_grad:
            ops.conv2d_backward_weight(dz, st.x, conv.kernel, conv.strides, conv.padding,
                                       out=(dw, db))
            return [None]
        dx = st.buffer("dx", st.x.shape, st.x.dtype)
        ops.conv2d_backward(dz, st.x, conv.kernel, conv.strides, conv.padding,
                            out=(dx, dw, db))
        return [dx]
