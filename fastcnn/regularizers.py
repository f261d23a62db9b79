"""Weight penalties as Keras 3 defines them: ``L1(l1=0.01)`` adds ``l1 * sum(|w|)``, ``L2(l2=0.01)``
adds ``l2 * sum(w**2)``, ``L1L2(l1=0.0, l2=0.0)`` both; also by name (``"l1"``, ``"l2"``,
``"l1_l2"``). On ``Conv2D``/``Dense`` (``kernel_regularizer=``, ``bias_regularizer=``) the
penalty is part of the loss a model reports in ``fit`` and ``evaluate``, and its gradient
(``l1 * sign(w)``, ``2 * l2 * w``) is added to the weight's gradient before the optimizer's
update."""
import math
import numbers

import numpy as np

from . import _registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize"]


def _factor(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class Regularizer:
    """Base class: ``penalty(w)`` (a float) and ``add_gradient(w, grad)`` (in place)."""

    def __call__(self, w):
        return self.penalty(w)

    def penalty(self, w):
        raise NotImplementedError

    def add_gradient(self, w, grad):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def penalty(self, w):
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.sum(np.abs(w)))
        if self.l2:
            total += self.l2 * float(np.sum(np.square(w)))
        return total

    def add_gradient(self, w, grad):
        dtype = grad.dtype.type
        if self.l1:
            grad += dtype(self.l1) * np.sign(w)
        if self.l2:
            grad += dtype(2 * self.l2) * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)``."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_BY_CLASS = {cls.__name__: cls for cls in (L1, L2, L1L2)}


def get(identifier):
    """None, a :class:`Regularizer`, a name, or a ``{"class_name", "config"}`` dict."""
    if identifier is None:
        return None
    return _registry.get(identifier, Regularizer, _BY_NAME, _BY_CLASS, "regularizer",
                         "a fastcnn.regularizers.Regularizer or None")


def serialize(regularizer):
    """``None`` or ``{"class_name", "config"}`` that :func:`get` maps back."""
    if regularizer is None:
        return None
    if type(regularizer).__name__ not in _BY_CLASS:
        raise ValueError(f"cannot serialize the custom regularizer {regularizer!r}")
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
