"""Models: the functional :class:`Model`, :class:`Sequential`, and :func:`load_model`.

Both run on one engine: a graph of layer calls (:mod:`.graph`), made into execution plans
(:mod:`.plan`, with the fusion rules of :mod:`.fusion`) that the training loop
(:mod:`.trainer`) runs.
"""
from .. import keras_format, saving
from .functional import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]


def load_model(filepath, compile=True):
    """Load a model written by ``model.save``, or a Keras 3 ``.keras`` file of layers fastcnn
    has (see :mod:`fastcnn.keras_format`; needs the extra ``fastcnn[keras]``), told apart by
    their content. Never unpickles, never imports or runs anything the file names."""
    if keras_format.is_keras_file(filepath):
        return keras_format.load_model(filepath, compile=compile)
    return saving.load_model(filepath, compile=compile)
