"""Callbacks that watch a logged quantity: EarlyStopping, ModelCheckpoint and
ReduceLROnPlateau (Keras' semantics)."""
import math
import os
import warnings

import numpy as np

from .base import Callback, monitor_direction, monitored_value

__all__ = ["EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"]


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
        self.direction = monitor_direction(monitor, mode)
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
        current = monitored_value(logs, self.monitor, "EarlyStopping")
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
    leaves the previous file in place. Under :mod:`fastcnn.distributed`, rank 0 alone saves."""

    rank_zero_only = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {monitor!r}")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.direction = monitor_direction(monitor, mode)
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
        current = monitored_value(logs, self.monitor, "ModelCheckpoint")
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


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by ``factor`` (0 < factor < 1) when ``monitor``
    has not improved by more than ``min_delta`` for ``patience`` epochs, down to ``min_lr``;
    then wait ``cooldown`` epochs before counting again (Keras 3's semantics; ``mode="auto"``
    as EarlyStopping decides it). Adds ``learning_rate`` to each epoch's logs (so to
    ``history.history``), the rate the epoch trained with."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {monitor!r}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"factor must be a number in (0, 1): ReduceLROnPlateau does not "
                             f"support a factor >= 1.0, got factor={factor!r}")
        self.maximise = monitor_direction(monitor, mode) > 0
        self.monitor, self.factor, self.mode, self.verbose = monitor, float(factor), mode, verbose
        self.patience = _count(patience, "patience")
        self.cooldown = _count(cooldown, "cooldown")
        self.min_delta = _non_negative(min_delta, "min_delta")
        self.min_lr = _non_negative(min_lr, "min_lr")
        self._reset()

    def _reset(self):
        self.best = -math.inf if self.maximise else math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _improves(self, current):
        if self.maximise:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = monitored_value(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best = current
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old = float(optimizer.learning_rate)
        if old > np.float32(self.min_lr):
            new = max(old * self.factor, self.min_lr)
            optimizer.learning_rate = new
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0
