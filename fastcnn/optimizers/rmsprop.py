"""RMSprop, as Keras 3's."""
from .. import _optim
from ._args import flag, number
from .base import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop as in Keras 3, every operation in the variable's dtype:

    ``v = rho*v + (1 - rho)*(g*g)``; ``increment = (lr*g) / sqrt(v + epsilon)`` (centered:
    ``a = rho*a + (1 - rho)*g`` and ``sqrt((v - a*a) + epsilon)``); with momentum
    ``mom = momentum*mom + increment`` and ``var -= mom``, else ``var -= increment``.
    ``weight_decay``, ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` as in
    :class:`Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         name)
        self.rho = number(rho, "rho", 0.0, 1.0)
        self.momentum = number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = number(epsilon, "epsilon")
        self.centered = flag(centered, "centered")

    def _active_slots(self):
        return (("velocities",) + (("momentums",) if self.momentum > 0 else ())
                + (("average_gradients",) if self.centered else ()))

    def _step(self, dt):
        kind = ((_optim.RMSPROP_CENTERED_MOMENTUM if self.momentum > 0
                 else _optim.RMSPROP_CENTERED) if self.centered
                else (_optim.RMSPROP_MOMENTUM if self.momentum > 0 else _optim.RMSPROP))
        return kind, (self.rho, 1.0 - self.rho, self.epsilon, self.momentum)

    def get_config(self):
        return dict(super().get_config(), rho=self.rho, momentum=self.momentum,
                    epsilon=self.epsilon, centered=self.centered)
