"""BatchNormalization over the last (channels) axis."""
import numbers

import numpy as np

from .. import _norm_ops, initializers
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

    takes_relu = True

    def forward(self, inputs, state, training, relu=False, residual=None):
        """``residual`` (the execution plan's BatchNormalization + Add + ReLU step, with the
        batch's statistics only): an array like ``inputs`` added to the output before the
        ReLU, in the normalizing pass."""
        out = state.buffer("y", inputs.shape, self.dtype)
        state.batch_stats = training and self.trainable
        if residual is not None and not state.batch_stats:
            raise ValueError(f'layer "{self.name}": residual needs training with the '
                             f"batch's statistics")
        if not state.batch_stats:
            return _norm_ops.batch_norm_inference(inputs, self.gamma, self.beta,
                                                  self.moving_mean, self.moving_variance,
                                                  self.epsilon, relu=relu, out=out)
        c = (inputs.shape[-1],)
        stats = [state.buffer(key, c, self.dtype) for key in ("mean", "var", "inv_std")]
        # with the ReLU, its mask is found again from x in the backward pass (one array
        # fewer to read there) from the coefficients of the normalizing pass
        state.coefficients = (state.buffer("coefficients", (2,) + c, self.dtype)
                              if relu and residual is None else None)
        y, mean, var, inv_std = _norm_ops.batch_norm_train(inputs, self.gamma, self.beta,
                                                           self.epsilon, relu=relu,
                                                           out=(out, *stats),
                                                           coefficients=state.coefficients,
                                                           residual=residual)
        if inputs.size:                   # an empty batch has no statistics to move towards
            m = self.momentum
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                np.add(moving * m, batch * (1 - m), out=moving)
        state.x, state.mean, state.inv_std = inputs, mean, inv_std
        return y

    def backward(self, dy, state, need_input_grad, grads, relu_output=None, masked=None):
        """``masked`` (the plan's BatchNormalization + Add + ReLU step, with relu_output and the
        batch's statistics only): an array like dy that receives dy masked by the ReLU."""
        dx = state.buffer("dx", dy.shape, self.dtype) if need_input_grad else None
        if masked is not None and not (state.batch_stats and relu_output is not None
                                       and state.coefficients is None):
            raise ValueError(f'layer "{self.name}": masked needs relu_output and the '
                             f"batch's statistics")
        if not state.batch_stats:
            if dx is None:
                return None
            return _norm_ops.batch_norm_inference_backward(dy, self.gamma, self.moving_variance,
                                                           self.epsilon,
                                                           relu_output=relu_output, out=dx)
        grads = list(grads) if grads is not None else []
        c = (dy.shape[-1],)
        dgamma = grads.pop(0) if grads and self.gamma is not None else state.buffer(
            "dgamma", c, self.dtype)
        dbeta = grads.pop(0) if grads and self.beta is not None else state.buffer(
            "dbeta", c, self.dtype)
        if dx is None:
            dx = state.buffer("dx_unused", dy.shape, self.dtype)
        relu = {}
        if relu_output is not None:
            relu = ({"relu_coefficients": state.coefficients}
                    if state.coefficients is not None else {"relu_output": relu_output})
        if masked is not None:
            relu["masked"] = masked
        _norm_ops.batch_norm_train_backward(dy, state.x, self.gamma, state.mean, state.inv_std,
                                            out=(dx, dgamma, dbeta), **relu)
        return dx if need_input_grad else None

    def get_config(self):
        return dict(super().get_config(), axis=self.axis, momentum=self.momentum,
                    epsilon=self.epsilon, center=self.center, scale=self.scale,
                    beta_initializer=initializers.serialize(self.beta_initializer),
                    gamma_initializer=initializers.serialize(self.gamma_initializer),
                    moving_mean_initializer=initializers.serialize(
                        self.moving_mean_initializer),
                    moving_variance_initializer=initializers.serialize(
                        self.moving_variance_initializer))
