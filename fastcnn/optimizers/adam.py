"""Adam and AdamW, as Keras 3's."""
import math

import numpy as np

from .. import _optim
from ._args import flag, number
from .base import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam as in Keras 3, every operation in the variable's dtype:

    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` at step ``t = iterations + 1``;
    ``m += (g - m) * (1 - beta_1)``; ``v += (g*g - v) * (1 - beta_2)``;
    ``var -= (m * alpha) / (sqrt(v) + epsilon)``, with ``v`` replaced by its running
    maximum when ``amsgrad``. ``weight_decay``, ``clipnorm``, ``clipvalue`` and
    ``global_clipnorm`` as in :class:`Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         name)
        self.beta_1 = number(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = number(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = number(epsilon, "epsilon")
        self.amsgrad = flag(amsgrad, "amsgrad")

    def _active_slots(self):
        return ("momentums", "velocities") + (("velocity_hats",) if self.amsgrad else ())

    def _step(self, dt):
        # Keras casts lr, beta_1, beta_2 and the step to the variable's dtype and computes
        # alpha there. The powers are taken in double and rounded once: the correctly
        # rounded power, which TensorFlow's float32 pow gives where NumPy's powf can be
        # 1 ulp off (0.9f**4)
        t = float(dt(self.iterations + 1))
        lr = dt(self._this_step["learning_rate"])
        beta_1_power = dt(math.pow(float(dt(self.beta_1)), t))
        beta_2_power = dt(math.pow(float(dt(self.beta_2)), t))
        alpha = lr * np.sqrt(dt(1) - beta_2_power) / (dt(1) - beta_1_power)
        return (_optim.ADAM_AMSGRAD if self.amsgrad else _optim.ADAM,
                (float(alpha), 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon))

    def get_config(self):
        return dict(super().get_config(), beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon, amsgrad=self.amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as Keras 3's ``AdamW``:
    :class:`Adam` whose ``weight_decay`` (``var -= var * weight_decay * lr`` before each
    step) is required and 0.004 by default."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        if weight_decay is None:
            raise ValueError("weight_decay must be a float for AdamW, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)
