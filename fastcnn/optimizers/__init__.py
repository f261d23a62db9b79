"""Optimizers with Keras 3's defaults, options and update formulas: SGD, Adam, AdamW and
RMSprop, each taking ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm`` and a
float or a :mod:`schedules` learning rate; :func:`get` and :func:`serialize` for configs.
"""
from .. import _registry
from . import schedules
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get", "serialize", "schedules"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """An optimizer from a name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``), an
    :class:`Optimizer`, or a ``{"class_name", "config"}`` dict; ``ValueError`` lists the
    names otherwise."""
    return _registry.get(identifier, Optimizer, _BY_NAME, _BY_CLASS, "optimizer",
                         "a fastcnn.optimizers.Optimizer")


def serialize(optimizer):
    """``{"class_name", "config"}`` that :func:`get` maps back to ``optimizer``."""
    if type(optimizer) not in _BY_CLASS.values():
        raise ValueError(f"cannot serialize the custom optimizer {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
