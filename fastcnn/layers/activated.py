"""Layers that end in an activation: ``activation(linear(inputs))``.

Conv2D and Dense compute a linear map with their kernel and bias, Activation and ReLU the
identity. Splitting the two lets a model's execution plan use the linear part on its own
(the logits of a softmax output for its cross-entropy loss; a ReLU whose backward pass a
max pooling after it has already done) without the layer knowing of any other layer.
"""
import numpy as np

from .. import _config, _elementwise, _norm_ops, activations
from .base import Layer

__all__ = ["ActivatedLayer", "activation_forward", "activation_backward"]


def activation_forward(activation, z, state, training, owned):
    """``activation(z)``; computed in place when the layer ``owned`` z (its own buffer),
    else into a buffer of ``state``."""
    if activation.name == "linear":
        return z
    if not owned:
        out = state.buffer("activation", z.shape, z.dtype)
        if activation.name == "relu":
            return _norm_ops.relu(z, out=out)
        np.copyto(out, z)
        z = out
    return activation.forward(z, inplace=True)


def activation_backward(activation, dy, y, state):
    """The gradient with respect to the activation's input, from its output ``y`` (a new
    array or a buffer of ``state``; ``dy`` itself is never written)."""
    if activation.name == "linear":
        return dy
    if (activation.name == "relu" and dy.shape == y.shape and dy.dtype == y.dtype
            and dy.flags.c_contiguous and y.flags.c_contiguous):
        out = state.buffer("activation_grad", dy.shape, dy.dtype)
        _elementwise.relu_backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1),
                                   _config.get_num_threads())
        return out
    return activation.backward(dy, y)


class ActivatedLayer(Layer):
    """``activation(linear(inputs))``. Subclasses implement :meth:`linear` and
    :meth:`linear_backward`; ``activation`` is the :class:`fastcnn.activations.Activation`
    the layer applies."""

    # Whether linear() returns its input itself (then the activation must not overwrite it).
    _linear_is_identity = False
    # Whether linear_backward() can mask dy with a ReLU's output while reading it
    # (relu_output=), which spares a pass when no input gradient is needed.
    _folds_relu_mask = False

    def _init_activation(self, activation):
        self.activation = activations.get(activation)

    def linear(self, inputs, state, training, relu=False):
        """The output before the activation (with a ReLU applied in the same pass when
        ``relu`` and the layer can)."""
        raise NotImplementedError

    def linear_backward(self, dz, state, need_input_grad, grads, relu_output=None):
        """The backward pass of :meth:`linear` for the gradient ``dz`` of its output."""
        raise NotImplementedError

    @property
    def takes_relu(self):
        # a ReLU can follow in the linear part's pass when there is no activation in between
        return self.activation.name == "linear" and not self._linear_is_identity

    def forward(self, inputs, state, training, relu=False):
        act = self.activation
        if relu and not self.takes_relu:
            raise ValueError(f"layer {self.name!r} cannot apply a ReLU after its activation "
                             f"{act.name!r} in one pass")
        if relu:
            act = activations.get("relu")
        relu_inside = act.name == "relu" and not self._linear_is_identity
        z = self.linear(inputs, state, training, relu=relu_inside)
        y = z if relu_inside else activation_forward(act, z, state, training,
                                                     owned=not self._linear_is_identity)
        state.y = y if training else None
        return y

    def backward(self, dy, state, need_input_grad, grads, relu_output=None):
        act, y = self.activation, state.y
        if relu_output is not None:
            act, y = activations.get("relu"), relu_output
        if act.name == "relu" and not need_input_grad and self._folds_relu_mask:
            return self.linear_backward(dy, state, False, grads, relu_output=y)
        dz = activation_backward(act, dy, y, state)
        return self.linear_backward(dz, state, need_input_grad, grads)
