"""Training callbacks: the Callback base class, History, EarlyStopping, ModelCheckpoint and the
progress logger, with Keras' hooks and semantics.

``fit`` calls ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_train_batch_begin``/
``on_train_batch_end`` per step and ``on_epoch_end(epoch, logs)`` with the epoch's ``loss``,
metrics and ``val_*`` values, then ``on_train_end``. Setting ``model.stop_training = True``
ends training after the current step.
"""
import math
import os
import warnings

import numpy as np

from ._progress import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint"]


class Callback:
    """Base class: override the hooks you need. ``self.model`` and ``self.params``
    (``epochs``, ``steps``, ``verbose``) are set before training starts."""

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


def _monitor_direction(monitor, mode):
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


def _monitored_value(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who} is conditioned on {monitor!r}, which is not available; available "
                      f"keys: {sorted(logs or {})}", RuntimeWarning, stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras' semantics).

    An epoch improves when the value beats the best so far by more than ``min_delta``;
    training stops once ``patience`` epochs pass without improvement. With
    ``restore_best_weights`` the model ends with the weights of the best epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {monitor!r}")
        self.monitor = monitor
        self.direction = _monitor_direction(monitor, mode)
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch

    def _improves(self, value, reference):
        if reference is None:
            return True
        return self.direction * (value - reference) > self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored_value(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when ``monitor`` improves with
    ``save_best_only``. ``filepath`` may hold ``{epoch}`` and log keys as format fields,
    e.g. ``"model-{epoch:02d}-{val_loss:.2f}.fcnn"``.

    The last good checkpoint is kept: an epoch whose loss (or monitored value) is NaN or
    infinite is not saved (a warning says so), and saving is atomic, so an interrupted save
    leaves the previous file in place."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {monitor!r}")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.direction = _monitor_direction(monitor, mode)
        self.best = (initial_value_threshold if initial_value_threshold is not None
                     else -self.direction * math.inf)

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} could not be "
                             f"formatted with epoch and {sorted(logs or {})}: {exc}") from None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            warnings.warn(f"ModelCheckpoint: the loss of epoch {epoch + 1} is {loss}; the model "
                          "is not saved, the last checkpoint is kept", RuntimeWarning,
                          stacklevel=2)
            return
        path = self._path(epoch, logs)
        if not self.save_best_only:
            self.model.save(path)
            return
        current = _monitored_value(logs, self.monitor, "ModelCheckpoint")
        if current is None or np.ndim(current) != 0:
            return
        if not np.isfinite(current):
            warnings.warn(f"ModelCheckpoint: {self.monitor} of epoch {epoch + 1} is {current}; "
                          "the model is not saved", RuntimeWarning, stacklevel=2)
            return
        if self.direction * (current - self.best) > 0:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
            self.model.save(path)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
