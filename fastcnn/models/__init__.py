"""Models: the functional :class:`Model`, :class:`Sequential`, and :func:`load_model`.

Both run on one engine: a graph of layer calls (:mod:`.graph`), made into execution plans
(:mod:`.plan`, with the fusion rules of :mod:`.fusion`) that the training loop
(:mod:`.trainer`) runs.
"""
from .. import saving
from .functional import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]


def load_model(filepath, compile=True):
    """Load a model written by ``model.save`` (never unpickles, never imports a module the
    file names)."""
    return saving.load_model(filepath, compile=compile)
