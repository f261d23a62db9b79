"""The Callback base class, the list that calls them, History and the progress logger, with
Keras' hooks and semantics.

``fit`` calls ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_train_batch_begin``/
``on_train_batch_end`` per step and ``on_epoch_end(epoch, logs)`` with the epoch's ``loss``,
metrics and ``val_*`` values, then ``on_train_end``. Setting ``model.stop_training = True``
ends training after the current step.
"""
import warnings

from .. import distributed
from .._progress import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "monitor_direction",
           "monitored_value"]


class Callback:
    """Base class: override the hooks you need. ``self.model`` and ``self.params``
    (``epochs``, ``steps``, ``verbose``) are set before training starts.

    ``rank_zero_only = True`` on a class: under :mod:`fastcnn.distributed`, its callbacks run
    on rank 0 only (those that print or write files)."""

    rank_zero_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Calls each hook on every callback in order (internal)."""

    def __init__(self, callbacks, model, params):
        callbacks = [] if callbacks is None else list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be fastcnn.callbacks.Callback instances, got "
                                f"{cb!r}")
        if distributed.rank() != 0:
            callbacks = [cb for cb in callbacks if not cb.rank_zero_only]
        self.callbacks = callbacks
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if hook not in _HOOKS:
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call


class History(Callback):
    """Records the logs of every epoch: ``history.history["loss"][epoch]`` and so on;
    ``history.epoch`` lists the epoch indices. ``fit`` returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Prints progress for ``verbose=1`` (a live bar on a terminal, else one line per epoch)
    and ``verbose=2`` (one line per epoch). ``fit``, ``evaluate`` and ``predict`` add it."""

    rank_zero_only = True

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._bar = None
        self._in_fit = False

    def _new_bar(self, steps, prefix="", unit="step"):
        self._bar = Progbar(steps, verbose=self.params.get("verbose", 1), stream=self.stream,
                            prefix=prefix, unit=unit)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        self._new_bar(self.params.get("steps", 0), prefix=f"Epoch {epoch + 1}/{epochs} - ")
        if self._bar.dynamic:
            self._bar.stream.write(f"Epoch {epoch + 1}/{epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(batch + 1, list((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        self._bar.update(self.params.get("steps", 0), list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar(self.params.get("steps", 0))

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._bar.update(batch + 1, list((logs or {}).items()))

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._bar.update(self.params.get("steps", 0), list((logs or {}).items()),
                             finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar(self.params.get("steps", 0))

    def on_predict_batch_end(self, batch, logs=None):
        self._bar.update(batch + 1)

    def on_predict_end(self, logs=None):
        self._bar.update(self.params.get("steps", 0), finalize=True)


def monitor_direction(monitor, mode):
    """+1 to maximise ``monitor``, -1 to minimise it, following Keras' ``mode="auto"``."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return 1 if mode == "max" else -1
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("loss") or name.endswith("error"):
        return -1
    if "acc" in name:
        return 1
    raise ValueError(f"cannot tell whether monitor={monitor!r} should be maximised or minimised; "
                     "pass mode='max' or mode='min'")


def monitored_value(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who} is conditioned on {monitor!r}, which is not available; available "
                      f"keys: {sorted(logs or {})}", RuntimeWarning, stacklevel=3)
    return value
