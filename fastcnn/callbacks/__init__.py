"""Training callbacks with Keras' hooks and semantics.

``fit`` calls ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_train_batch_begin``/
``on_train_batch_end`` per step and ``on_epoch_end(epoch, logs)`` with the epoch's ``loss``,
metrics and ``val_*`` values, then ``on_train_end``. Setting ``model.stop_training = True``
ends training after the current step. Your callbacks run before the History and the progress
logger that ``fit`` adds (as in Keras), so what they add to the logs (``learning_rate``) is
recorded.
"""
from .base import Callback, CallbackList, History, ProgbarLogger
from .monitoring import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from .training import CSVLogger, LearningRateScheduler, TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
           "TerminateOnNaN"]
