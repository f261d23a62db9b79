"""BatchNormalization over the last (channels) axis."""
import numbers

import numpy as np

from .. import initializers
from .base import Layer

__all__ = ["BatchNormalization"]


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


class BatchNormalization(Layer):
    """Normalise each channel, as Keras' ``BatchNormalization``.

    In training (``fit``, or ``model(x, training=True)``) each channel is normalised with
    the batch's mean and biased variance over every other axis, ``gamma * (x - mean) /
    sqrt(var + epsilon) + beta``, and the moving statistics move towards them:
    ``moving = moving * momentum + batch * (1 - momentum)``. In inference, and in training
    when the layer is frozen (``trainable = False``), the moving statistics are used instead.
    Weights: ``[gamma, beta, moving_mean, moving_variance]`` (gamma without ``scale``, beta
    without ``center``); the moving statistics are not trainable.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (numbers.Integral, np.integer)):
            raise TypeError(f"axis must be an int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = _fraction(momentum, "momentum")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or epsilon <= 0:
            raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        for flag, name in ((center, "center"), (scale, "scale")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise ValueError(f'layer "{self.name}" needs inputs of rank >= 2, got shape '
                             f"{input_shape}")
        if self.axis not in (-1, len(input_shape) - 1):
            raise ValueError(f'layer "{self.name}": fastcnn normalises the last (channels) axis '
                             f"only, got axis={self.axis} for inputs of shape {input_shape}")
        return input_shape

    def build(self, input_shape):
        shape = (input_shape[-1],)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta")
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def _scale_shift(self, mean, variance):
        """Per channel (inv, shift) with y = x * inv + shift, as Keras computes it."""
        inv = 1.0 / np.sqrt(variance + self.dtype_type(self.epsilon))
        if self.gamma is not None:
            inv = inv * self.gamma
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + self.beta
        return inv.astype(self.dtype), shift.astype(self.dtype)

    @property
    def dtype_type(self):
        return np.dtype(self.dtype).type

    def forward(self, inputs, state, training):
        batch_stats = training and self.trainable
        state.batch_stats = batch_stats
        if batch_stats:
            axes = tuple(range(inputs.ndim - 1))
            mean = inputs.mean(axis=axes, dtype=np.float64)
            var = np.square(inputs - mean).mean(axis=axes)
            m = self.momentum
            self.moving_mean[...] = self.moving_mean * m + mean * (1 - m)
            self.moving_variance[...] = self.moving_variance * m + var * (1 - m)
            state.x = inputs
            state.mean = mean.astype(self.dtype)
            state.inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(self.dtype)
            inv, shift = self._scale_shift(state.mean, var.astype(self.dtype))
        else:
            inv, shift = self._scale_shift(self.moving_mean, self.moving_variance)
            state.inv = inv
        out = state.buffer("y", inputs.shape, self.dtype)
        np.multiply(inputs, inv, out=out)
        out += shift
        return out

    def backward(self, dy, state, need_input_grad, grads):
        if not state.batch_stats:
            return dy * state.inv if need_input_grad else None
        axes = tuple(range(dy.ndim - 1))
        xhat = (state.x - state.mean) * state.inv_std
        dbeta = dy.sum(axis=axes)
        dgamma = (dy * xhat).sum(axis=axes)
        if grads is not None:
            i = 0
            if self.gamma is not None:
                grads[0][...] = dgamma
                i = 1
            if self.beta is not None:
                grads[i][...] = dbeta
        if not need_input_grad:
            return None
        m = dy.size // dy.shape[-1]
        gamma = self.gamma if self.gamma is not None else 1.0
        return (gamma * state.inv_std / m * (m * dy - dbeta - xhat * dgamma)).astype(self.dtype)

    def get_config(self):
        return dict(super().get_config(), axis=self.axis, momentum=self.momentum,
                    epsilon=self.epsilon, center=self.center, scale=self.scale,
                    beta_initializer=initializers.serialize(self.beta_initializer),
                    gamma_initializer=initializers.serialize(self.gamma_initializer),
                    moving_mean_initializer=initializers.serialize(
                        self.moving_mean_initializer),
                    moving_variance_initializer=initializers.serialize(
                        self.moving_variance_initializer))
