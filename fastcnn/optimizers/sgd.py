"""Stochastic gradient descent, as Keras 3's ``SGD``."""
from .. import _optim
from ._args import flag, number
from .base import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, in Keras 3's operations.

    With momentum: ``m = m*momentum - g*lr``, then ``var += m``, or with Nesterov
    ``var += m*momentum - g*lr``. Without: ``var -= g*lr``. ``weight_decay``, ``clipnorm``,
    ``clipvalue`` and ``global_clipnorm`` as in :class:`Optimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         name)
        self.momentum = number(momentum, "momentum", 0.0, 1.0)
        self.nesterov = flag(nesterov, "nesterov")

    def _active_slots(self):
        return ("momentums",) if self.momentum != 0 else ()

    def _step(self, dt):
        if self.momentum == 0:
            return _optim.SGD, ()
        return (_optim.SGD_NESTEROV if self.nesterov else _optim.SGD_MOMENTUM,
                (self.momentum,))

    def get_config(self):
        return dict(super().get_config(), momentum=self.momentum, nesterov=self.nesterov)
