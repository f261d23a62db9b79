"""The steps that run several layer calls as one (the rules that choose them are in
:mod:`fastcnn.models.fusion`). Each gives bitwise the results of its calls run one by one,
except :class:`FoldedBatchNormStep`, which rounds differently (see there)."""
import numpy as np

from .. import _fused_ops as fused_ops, ops
from ..layers.conv import weight_grad_arrays
from ..layers.normalization import BatchNormalization
from .steps import LayerStep

__all__ = ["LogitsStep", "ReluStep", "ReluMaxPoolStep", "ConvReluMaxPoolStep",
           "FoldedBatchNormStep", "BatchNormAddReluStep", "ConvAddStep"]


class LogitsStep(LayerStep):
    """An output layer's call without its final activation: the loss takes the logits."""

    def forward(self, values, training):
        values[self.output] = self.layer.linear(self.gather(values), self.state, training)

    def backward(self, dy, need_input_grad, grads):
        return [self.layer.linear_backward(dy, self.state, need_input_grad, grads[0])]


class _Chain(LayerStep):
    """A call of a layer and the calls that alone read its output, one after the other;
    the step's input is the first call's, its output the last call's."""

    def __init__(self, nodes, slot, states):
        super().__init__(nodes[0], slot, states)
        self.layers = [n.layer for n in nodes]
        self.output = slot(nodes[-1].outputs[0])
        self.states = [states(n) for n in nodes]


class ReluStep(_Chain):
    """A layer that can apply a ReLU in its own pass (``takes_relu``: Conv2D and Dense
    without activation, BatchNormalization, Add) and the ``Activation("relu")``/``ReLU()``
    layer that alone reads its output: the ReLU in the layer's forward pass, the ReLU's mask
    in its backward pass."""

    def forward(self, values, training):
        y = self.layer.forward(self.gather(values), self.state, training, relu=True)
        self.state.relu_output = y if training else None
        values[self.output] = y

    def backward(self, dy, need_input_grad, grads):
        dx = self.layer.backward(dy, self.state, need_input_grad, grads[0],
                                 relu_output=self.state.relu_output)
        if not need_input_grad:
            return [None] * len(self.inputs)
        return list(dx) if self.is_list else [dx]


class ReluMaxPoolStep(_Chain):
    """A layer ending in ReLU (its activation, or a ReLU layer after it that it applies in
    its own pass) and the MaxPooling2D that alone reads the ReLU's output: the pooling
    records where each maximum was found and does the ReLU's backward pass on its own
    gradient (a maximum > 0 passes it, exactly where the ReLU would)."""

    def __init__(self, nodes, slot, states):
        super().__init__(nodes, slot, states)
        self.pool, self.pool_state = self.layers[-1], self.states[-1]
        self.relu_layer = len(nodes) == 3     # the ReLU is a layer of its own

    def _pool_picking(self, z):
        """The pooling of the ReLU's output ``z``, recording picks with the ReLU folded in."""
        st = self.pool_state
        shape = (z.shape[0],) + self.pool.output_shape[1:]
        st.picks, st.z_shape = st.buffer("picks", shape, z.dtype), z.shape
        return fused_ops.max_pool2d_picking(z, self.pool.pool_size, self.pool.strides,
                                            self.pool.padding, st.buffer("y", shape, z.dtype),
                                            st.picks, True)

    def forward(self, values, training):
        x = values[self.inputs[0]]
        if self.relu_layer:
            z = self.layer.forward(x, self.state, training, relu=True)
        else:
            z = self.layer.forward(x, self.state, training)
        values[self.output] = self._pool_picking(z)

    def _pool_backward(self, dy):
        """The gradient with respect to the ReLU's input, from the pooling's gradient."""
        st = self.pool_state
        return fused_ops.max_pool2d_backward_picks(dy, st.picks, st.z_shape,
                                                   self.pool.pool_size, self.pool.strides,
                                                   self.pool.padding,
                                                   st.buffer("dz", st.z_shape, dy.dtype))

    def backward(self, dy, need_input_grad, grads):
        dz = self._pool_backward(dy)
        if self.relu_layer:      # the layer's own backward pass, its activation being linear
            return [self.layer.backward(dz, self.state, need_input_grad, grads[0])]
        return [self.layer.linear_backward(dz, self.state, need_input_grad, grads[0])]


class ConvReluMaxPoolStep(ReluMaxPoolStep):
    """The step for a Conv2D: the convolution's passes fused with the pooling's where the
    kernels allow (see :mod:`fastcnn.models.fusion`). It runs the convolution through
    ``fastcnn.ops`` with the layer's weights and arguments."""

    def forward(self, values, training):
        conv, pool, st = self.layer, self.pool, self.state
        x = values[self.inputs[0]]
        st.x = x if training else None
        shape = (x.shape[0],) + pool.output_shape[1:]
        # (in inference: no picks, as the pooling layer's own inference pass records none)
        picks = self.pool_state.buffer("picks", shape, x.dtype) if training else None
        y = fused_ops.conv2d_relu_max_pool2d_picking(
            x, conv.kernel, conv.bias, conv.strides, conv.padding, pool.pool_size,
            pool.strides, pool.padding, self.pool_state.buffer("y", shape, x.dtype), picks)
        if y is None:       # the kernel declined: the convolution, then the pooling
            z = ops.conv2d(x, conv.kernel, conv.bias, strides=conv.strides,
                           padding=conv.padding, activation="relu",
                           out=st.buffer("z", (x.shape[0],) + conv.output_shape[1:], x.dtype))
            y = (self._pool_picking(z) if training
                 else pool.forward(z, self.pool_state, training))
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


def _folded(conv, bn, state):
    """The kernel and bias of Conv2D ``conv`` with BatchNormalization ``bn`` (in inference)
    folded in, in buffers of ``state`` (see :class:`FoldedBatchNormStep`)."""
    c = conv.filters
    gamma = np.ones(c) if bn.gamma is None else bn.gamma.astype(np.float64)
    beta = np.zeros(c) if bn.beta is None else bn.beta.astype(np.float64)
    scale = gamma / np.sqrt(bn.moving_variance.astype(np.float64) + bn.epsilon)
    bias = np.zeros(c) if conv.bias is None else conv.bias.astype(np.float64)
    kernel = state.buffer("folded_kernel", conv.kernel.shape, conv.dtype)
    np.multiply(conv.kernel, scale, out=kernel, casting="same_kind")
    folded_bias = state.buffer("folded_bias", (c,), conv.dtype)
    np.copyto(folded_bias, (bias - bn.moving_mean) * scale + beta, casting="same_kind")
    return kernel, folded_bias


class FoldedBatchNormStep(_Chain):
    """In inference, a Conv2D without activation, the BatchNormalization that alone reads
    its output, and optionally a ReLU layer after that: one convolution whose kernel and bias
    have the normalization folded in (per filter f, with s = gamma / sqrt(moving_variance +
    epsilon): kernel * s and (bias - moving_mean) * s + beta, computed in float64 and rounded
    once), the ReLU in its pass. The results differ from the unfolded layers' by rounding
    only. In training mode (``model(x, training=True)``) the layers run one by one."""

    def __init__(self, nodes, slot, states):
        super().__init__(nodes, slot, states)
        self.conv, self.bn = self.layers[0], self.layers[1]
        self.relu = len(nodes) == 3

    def forward(self, values, training):
        x = values[self.inputs[0]]
        if training:
            y = self.conv.forward(x, self.state, training)
            y = self.bn.forward(y, self.states[1], training, relu=self.relu)
        else:
            kernel, bias = _folded(self.conv, self.bn, self.state)
            conv = self.conv
            out = self.state.buffer("y", (x.shape[0],) + conv.output_shape[1:], conv.dtype)
            y = ops.conv2d(x, kernel, bias, strides=conv.strides, padding=conv.padding,
                           activation="relu" if self.relu else None, out=out)
        values[self.output] = y


class BatchNormAddReluStep(_Chain):
    """A BatchNormalization whose output only an Add of two inputs reads, and the ReLU layer
    that alone reads the sum (a residual block's end): in training with the batch's
    statistics, the sum and the ReLU in the normalizing pass, so the normalized values are
    never written out nor read back. Its inputs are the normalization's input and the Add's
    other input; it runs where the Add runs (the other input may be computed after the
    normalization). Backward, the normalization's first pass masks the gradient by the
    ReLU's output as it reads it and writes the masked gradient out (the other input's
    gradient, read again by the second pass): the values of the Add's ReLU mask, then the
    normalization's gradients of it, one pass fewer. Otherwise (inference, a frozen layer)
    the calls run one after the other."""

    def __init__(self, nodes, slot, states):
        super().__init__(nodes, slot, states)
        bn_node, add_node = nodes[0], nodes[1]
        self.bn, self.add = self.layers[0], self.layers[1]
        self.bn_first = add_node.inputs[0] is bn_node.outputs[0]
        other = add_node.inputs[1] if self.bn_first else add_node.inputs[0]
        self.inputs = [slot(bn_node.inputs[0]), slot(other)]
        self.is_list = False

    def forward(self, values, training):
        x, r = values[self.inputs[0]], values[self.inputs[1]]
        bn_state, add_state = self.states[0], self.states[1]
        if training and self.bn.trainable:
            y = self.bn.forward(x, bn_state, training, relu=True, residual=r)
        else:
            z = self.bn.forward(x, bn_state, training)
            y = self.add.forward([z, r] if self.bn_first else [r, z], add_state, training,
                                 relu=True)
        add_state.relu_output = y if training else None
        values[self.output] = y

    def backward(self, dy, need_input_grad, grads):
        add_state, y = self.states[1], self.states[1].relu_output
        if self.state.batch_stats:
            dz = add_state.buffer("dz", dy.shape, dy.dtype)
            dx = self.bn.backward(dy, self.state, need_input_grad, grads[0], relu_output=y,
                                  masked=dz)
        else:
            dz = self.add.backward(dy, add_state, True, None, relu_output=y)[0]
            dx = self.bn.backward(dz, self.state, need_input_grad, grads[0])
        return [dx, dz]


class ConvAddStep(_Chain):
    """In inference, a Conv2D without activation (and the BatchNormalization that alone reads
    its output, folded in as in :class:`FoldedBatchNormStep`), the Add of two inputs that
    alone reads the result, and optionally the ReLU layer that alone reads the sum (a
    residual block's end): one convolution that adds the Add's other input to each tile of
    its output while the tile is in cache, and applies the ReLU there; its output is never
    read back. Bitwise the (folded) convolution followed by the Add and the ReLU. Its inputs
    are the convolution's input and the Add's other input; it runs where the Add runs. In
    training mode (``model(x, training=True)``) the layers run one by one."""

    def __init__(self, nodes, slot, states):
        super().__init__(nodes, slot, states)
        self.conv = self.layers[0]
        self.bn = self.layers[1] if isinstance(self.layers[1], BatchNormalization) else None
        add_at = 2 if self.bn is not None else 1
        add_node = nodes[add_at]
        self.add, self.add_state = add_node.layer, self.states[add_at]
        self.relu = len(nodes) > add_at + 1
        mine = nodes[add_at - 1].outputs[0]
        self.conv_first = add_node.inputs[0] is mine
        other = add_node.inputs[1] if self.conv_first else add_node.inputs[0]
        self.inputs = [slot(nodes[0].inputs[0]), slot(other)]
        self.is_list = False

    def forward(self, values, training):
        x, r = values[self.inputs[0]], values[self.inputs[1]]
        conv = self.conv
        if training:
            z = conv.forward(x, self.state, training)
            if self.bn is not None:
                z = self.bn.forward(z, self.states[1], training)
            y = self.add.forward([z, r] if self.conv_first else [r, z], self.add_state,
                                 training, relu=self.relu)
        else:
            kernel, bias = ((conv.kernel, conv.bias) if self.bn is None
                            else _folded(conv, self.bn, self.state))
            out = self.add_state.buffer("y", r.shape, conv.dtype)
            y = fused_ops.conv2d_add(x, kernel, bias, conv.strides, conv.padding, r,
                                     relu=self.relu, out=out)
        values[self.output] = y
