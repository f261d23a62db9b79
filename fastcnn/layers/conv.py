"""Conv2D over NHWC images with an HWIO kernel, through ``fastcnn.ops``."""
import numbers

import numpy as np

from .. import _geometry, activations, initializers, ops, regularizers
from .activated import ActivatedLayer

__all__ = ["Conv2D", "KernelBiasMixin", "check_channels_last", "weight_grad_arrays"]


def check_channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"fastcnn is channels_last (NHWC) only, got data_format={data_format!r}")


def weight_grad_arrays(layer, grads, state):
    """(dw, db) for a kernel-and-bias layer's backward pass: the plan's arrays ``grads``, or
    scratch of ``state`` for what the convolution kernels compute but nobody reads (a frozen
    layer's gradients, the bias gradient of a layer without bias)."""
    dw = grads[0] if grads is not None else state.buffer("dw", layer.kernel.shape,
                                                          layer.kernel.dtype)
    if grads is not None and layer.use_bias:
        return dw, grads[1]
    return dw, state.buffer("db", (layer.kernel.shape[-1],), layer.kernel.dtype)


class KernelBiasMixin:
    """The arguments and weights of a layer with a kernel, an optional bias and an
    activation (Conv2D, Dense); ``weight_shapes(input_shape)`` gives the shapes."""

    def _init_kernel_bias(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer):
        self._init_activation(activation)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        shapes = self.weight_shapes(input_shape)
        self.kernel = self.add_weight(shapes[0], self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight(shapes[1], self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer)

    def _kernel_bias_config(self):
        config = dict(activation=activations.serialize(self.activation), use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        for name in ("kernel_regularizer", "bias_regularizer"):
            if getattr(self, name) is not None:        # configs of earlier files stay alike
                config[name] = regularizers.serialize(getattr(self, name))
        return config


class Conv2D(KernelBiasMixin, ActivatedLayer):
    """2-D convolution: ``activation(conv2d(inputs, kernel) + bias)``.

    ``kernel_size`` and ``strides`` take an int or a pair; ``padding`` is ``"valid"`` or
    ``"same"`` (TensorFlow's split of the padding). The kernel has shape
    ``(kh, kw, in_channels, filters)`` and starts from ``kernel_initializer`` (Glorot uniform
    with fans ``kh*kw*in`` and ``kh*kw*filters``); the bias starts at zero.
    """

    _folds_relu_mask = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, *, kernel_regularizer=None, bias_regularizer=None,
                 data_format=None, **kwargs):
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
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer)

    def weight_shapes(self, input_shape):
        self.compute_output_shape(input_shape)
        kernel = self.kernel_size + (input_shape[-1], self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")
        geo = _geometry.output_geometry(input_shape[1:3], self.kernel_size, self.strides,
                                        self.padding, "kernel_size")
        return (input_shape[0], geo.out_h, geo.out_w, self.filters)

    def linear(self, inputs, state, training, relu=False):
        state.x = inputs if training else None
        out = state.buffer("z", (inputs.shape[0],) + self.output_shape[1:], self.dtype)
        return ops.conv2d(inputs, self.kernel, self.bias, strides=self.strides,
                          padding=self.padding, activation="relu" if relu else None, out=out)

    def linear_backward(self, dz, state, need_input_grad, grads, relu_output=None):
        dw, db = weight_grad_arrays(self, grads, state)
        if not need_input_grad:
            ops.conv2d_backward_weight(dz, state.x, self.kernel, self.strides, self.padding,
                                       relu_output=relu_output, out=(dw, db))
            return None
        dx = state.buffer("dx", state.x.shape, self.dtype)
        ops.conv2d_backward(dz, state.x, self.kernel, self.strides, self.padding,
                            out=(dx, dw, db))
        return dx

    def get_config(self):
        return dict(super().get_config(), filters=self.filters,
                    kernel_size=list(self.kernel_size), strides=list(self.strides),
                    padding=self.padding, **self._kernel_bias_config())
