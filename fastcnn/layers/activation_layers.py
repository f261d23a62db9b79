"""Activation and ReLU: an activation as a layer of its own."""
import numbers

import numpy as np

from .. import activations
from .activated import ActivatedLayer

__all__ = ["Activation", "ReLU"]


class _ActivationOnly(ActivatedLayer):
    """An ActivatedLayer whose linear part is the identity."""

    _linear_is_identity = True

    def linear(self, inputs, state, training, relu=False):
        return inputs

    def linear_backward(self, dz, state, need_input_grad, grads, relu_output=None):
        return dz if need_input_grad else None


class Activation(_ActivationOnly):
    """Apply an activation by name: ``"relu"``, ``"softmax"``, ``"sigmoid"``, ``"tanh"``,
    ``"linear"``."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._init_activation(activation)

    def get_config(self):
        return dict(super().get_config(), activation=activations.serialize(self.activation))


def _non_negative(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0{' or None' if allow_none else ''}, "
                         f"got {value!r}")
    return float(value)


class ReLU(_ActivationOnly):
    """Rectified linear unit, as Keras' ``ReLU(max_value=None, negative_slope=0.0,
    threshold=0.0)``: ``x`` where ``x > threshold``, capped at ``max_value``;
    ``negative_slope * (x - threshold)`` below the threshold (all three >= 0). With the
    defaults it is ``max(x, 0)``, the same as ``Activation("relu")``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(max_value, "max_value", allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope")
        self.threshold = _non_negative(threshold, "threshold")
        plain = self.max_value is None and self.negative_slope == 0 and self.threshold == 0
        # the plain ReLU is the relu activation (and takes part in what the model's plan
        # does with one); the general one is computed here
        self._init_activation("relu" if plain else "linear")
        self._plain = plain

    def forward(self, inputs, state, training):
        if self._plain:
            return super().forward(inputs, state, training)
        state.x = inputs if training else None
        x, thr = inputs, self.threshold
        y = x * (x > thr) if thr != 0 else np.maximum(x, 0)
        if self.max_value is not None:
            y = np.clip(y, 0, self.max_value)
        if self.negative_slope != 0:
            y = y - self.negative_slope * np.maximum(thr - x, 0)
        return y.astype(x.dtype, copy=False)

    def backward(self, dy, state, need_input_grad, grads):
        if self._plain:
            return super().backward(dy, state, need_input_grad, grads)
        if not need_input_grad:
            return None
        x, thr = state.x, self.threshold
        passes = x > thr
        if self.max_value is not None:
            passes &= (x < self.max_value) & (x > 0)
        slope = np.where(x < thr, self.negative_slope, 0.0).astype(x.dtype)
        return (dy * passes + dy * slope).astype(dy.dtype, copy=False)

    def get_config(self):
        return dict(super().get_config(), max_value=self.max_value,
                    negative_slope=self.negative_slope, threshold=self.threshold)
