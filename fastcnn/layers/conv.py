"""Conv2D over NHWC images with an HWIO kernel, through ``fastcnn.ops``."""
import numbers

import numpy as np

from .. import _geometry, activations, initializers, ops
from .base import Layer

__all__ = ["Conv2D"]


def check_channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"fastcnn is channels_last (NHWC) only, got data_format={data_format!r}")


class Conv2D(Layer):
    """2-D convolution: ``activation(conv2d(inputs, kernel) + bias)``.

    ``kernel_size`` and ``strides`` take an int or a pair; ``padding`` is ``"valid"`` or
    ``"same"`` (TensorFlow's split of the padding). The kernel has shape
    ``(kh, kw, in_channels, filters)`` and starts from ``kernel_initializer`` (Glorot uniform
    with fans ``kh*kw*in`` and ``kh*kw*filters``); the bias starts at zero.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, *, data_format=None, **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (numbers.Integral, np.integer)):
            raise TypeError(f"filters must be a positive int, got {filters!r}")
        if filters < 1:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        check_channels_last(data_format)
        self.filters = int(filters)
        self.kernel_size = _geometry.pair(kernel_size, "kernel_size")
        self.strides = _geometry.pair(strides, "strides")
        self.padding = _geometry.padding_mode(padding)
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer)

    def build(self, input_shape):
        self._build_kernel_bias(input_shape)

    def weight_shapes(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")
        self.compute_output_shape(input_shape)
        kernel = self.kernel_size + (input_shape[-1], self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def compute_output_shape(self, input_shape):
        geo = _geometry.output_geometry(input_shape[1:3], self.kernel_size, self.strides,
                                        self.padding, "kernel_size")
        return (input_shape[0], geo.out_h, geo.out_w, self.filters)

    def call(self, inputs, training=False):
        return self._activated(inputs, training)

    def _linear(self, inputs, training, relu=False):
        self._x = inputs if training else None
        bias = self.bias if self.use_bias else None
        out = self._buffer("z", (inputs.shape[0],) + self.output_shape[1:])
        return ops.conv2d(inputs, self.kernel, bias, strides=self.strides, padding=self.padding,
                          activation="relu" if relu else None, out=out)

    def _backward(self, dy, need_input_grad):
        if not self.grads:
            self.grads = [np.empty_like(w) for w in self._weights]
        dw = self.grads[0]
        db = self.grads[1] if self.use_bias else np.empty(self.filters, self.dtype)
        if not need_input_grad:
            # a first layer: only the weight gradients, with a ReLU's backward pass applied
            # while dy is packed instead of in a pass of its own
            relu = (not self._fused and self.activation.name == "relu"
                    and not self.relu_backward_done)
            dz = dy if relu else self._activation_backward(dy)
            ops.conv2d_backward_weight(dz, self._x, self.kernel, self.strides, self.padding,
                                       relu_output=self._output if relu else None,
                                       out=(dw, db))
            dx = None
        else:
            dz = self._activation_backward(dy)
            dx = self._buffer("dx", self._x.shape)
            ops.conv2d_backward(dz, self._x, self.kernel, self.strides, self.padding,
                                out=(dx, dw, db))
        if not self.trainable:
            self.grads = []
        return dx

    def _weight_grads_through_pool(self, pool, dy):
        """This layer's weight gradients when it needs no input gradient and the MaxPooling2D
        after it recorded picks with this layer's ReLU folded in (in a model's training
        step), ``dy`` that pooling's output gradient: straight from dy and the picks, without
        the pooling's gradient (this layer's output's size) being written out. The same
        gradients, bit for bit, as pool.backward then self.backward. Returns False, having
        done nothing, where that does not apply."""
        picks = pool._picks
        if picks is None or not picks[1] or not self.relu_backward_done:
            return False
        dy = np.asarray(dy, dtype=self.dtype)
        if dy.shape[1:] != pool.output_shape[1:]:
            raise ValueError(f'layer "{pool.name}": dy has shape {dy.shape}, expected '
                             f"{pool.output_shape}")
        if not self.grads:
            self.grads = [np.empty_like(w) for w in self._weights]
        db = self.grads[1] if self.use_bias else np.empty(self.filters, self.dtype)
        return ops._conv2d_backward_weight_unpool(
            dy, picks[0], self._x, self.kernel, self.strides, self.padding, pool.pool_size,
            pool.strides, pool.padding, out=(self.grads[0], db)) is not None

    def get_config(self):
        return dict(super().get_config(), filters=self.filters,
                    kernel_size=list(self.kernel_size), strides=list(self.strides),
                    padding=self.padding, activation=activations.serialize(self.activation),
                    use_bias=self.use_bias,
                    kernel_initializer=initializers.serialize(self.kernel_initializer),
                    bias_initializer=initializers.serialize(self.bias_initializer))
