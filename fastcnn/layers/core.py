"""Dense, Flatten and Dropout."""
import math
import numbers

import numpy as np

from .. import _config, _kernels, _norm_ops, utils
from .activated import ActivatedLayer
from .base import Layer
from .conv import KernelBiasMixin, check_channels_last

__all__ = ["Dense", "Flatten", "Dropout"]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class Dense(KernelBiasMixin, ActivatedLayer):
    """``activation(inputs @ kernel + bias)`` over the last axis.

    The kernel has shape ``(input_dim, units)`` and starts from ``kernel_initializer``
    (Glorot uniform); the bias starts at zero. Inputs of rank > 2 are transformed along their
    last axis, as in Keras.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, *, kernel_regularizer=None,
                 bias_regularizer=None, input_dim=None, **kwargs):
        if input_dim is not None:
            input_shape = (_positive_int(input_dim, "input_dim"),)
        super().__init__(input_shape=input_shape, **kwargs)
        self.units = _positive_int(units, "units")
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer)

    def weight_shapes(self, input_shape):
        self.compute_output_shape(input_shape)
        kernel = (input_shape[-1], self.units)
        return [kernel, (self.units,)] if self.use_bias else [kernel]

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise ValueError(f'layer "{self.name}" needs inputs of rank >= 2 (batch, features), '
                             f"got shape {input_shape}")
        return tuple(input_shape[:-1]) + (self.units,)

    def linear(self, inputs, state, training, relu=False):
        x = np.ascontiguousarray(inputs.reshape(-1, inputs.shape[-1]))
        z = state.buffer("z", (x.shape[0], self.units), self.dtype)
        _kernels.gemm(x, self.kernel, z, False, False, self.bias, False, relu,
                   _config.get_num_threads())
        state.x = x if training else None
        return z.reshape(inputs.shape[:-1] + (self.units,))

    def linear_backward(self, dz, state, need_input_grad, grads, relu_output=None):
        lead = dz.shape[:-1]
        dz = np.ascontiguousarray(dz.reshape(-1, self.units))
        threads = _config.get_num_threads()
        if grads is not None:
            _kernels.gemm(state.x, dz, grads[0], True, False, None, False, False, threads)
            if self.use_bias:
                np.sum(dz, axis=0, out=grads[1])
        if not need_input_grad:
            return None
        dx = state.buffer("dx", (dz.shape[0], self.kernel.shape[0]), self.dtype)
        _kernels.gemm(dz, self.kernel, dx, False, True, None, False, False, threads)
        return dx.reshape(lead + (self.kernel.shape[0],))

    def get_config(self):
        return dict(super().get_config(), units=self.units, **self._kernel_bias_config())


class Flatten(Layer):
    """Collapse every axis but the batch axis, in row-major (H, W, C) order."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], math.prod(input_shape[1:]))

    def forward(self, inputs, state, training):
        return inputs.reshape(inputs.shape[0], -1)

    def backward(self, dy, state, need_input_grad, grads):
        return dy.reshape((dy.shape[0],) + self.input_shape[1:]) if need_input_grad else None


class Dropout(Layer):
    """In training, zero each input with probability ``rate`` and scale the others by
    ``1 / (1 - rate)``; the identity otherwise. ``noise_shape`` (``None`` entries take the input's
    size) lets a mask be shared along axes. Masks come from :func:`fastcnn.utils.rng`, or from
    a generator of the layer's own when ``seed`` is given."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"rate must be a number in [0, 1), got {rate!r}")
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = (None if noise_shape is None
                            else tuple(None if d is None else int(d) for d in noise_shape))
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, (numbers.Integral, np.integer))):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def build(self, input_shape):
        if self.noise_shape is not None and len(self.noise_shape) != len(input_shape):
            raise ValueError(f'layer "{self.name}": noise_shape {self.noise_shape} must have the '
                             f"rank of the input shape {input_shape}")

    def forward(self, inputs, state, training):
        state.mask = state.draws = None
        if not training or self.rate == 0:
            return inputs
        gen = self._generator if self._generator is not None else utils.rng()
        if self.noise_shape is None:          # a draw per value: compiled passes, in parallel
            state.draws = _norm_ops.uniform(state.buffer("draws", inputs.shape, inputs.dtype),
                                            gen)
            return _norm_ops.dropout(inputs, state.draws, self.rate,
                                     out=state.buffer("y", inputs.shape, inputs.dtype))
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, inputs.shape))
        keep = gen.random(shape, dtype=inputs.dtype) >= self.rate
        state.mask = keep.astype(inputs.dtype) * inputs.dtype.type(1 / (1 - self.rate))
        return inputs * state.mask

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        if state.draws is not None:
            return _norm_ops.dropout(dy, state.draws, self.rate,
                                     out=state.buffer("dx", dy.shape, dy.dtype))
        return dy if state.mask is None else dy * state.mask

    def get_config(self):
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return dict(super().get_config(), rate=self.rate, noise_shape=noise, seed=self.seed)
