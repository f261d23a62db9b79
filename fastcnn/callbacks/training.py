"""LearningRateScheduler, CSVLogger and TerminateOnNaN (Keras 3's semantics)."""
import collections.abc
import csv
import io
import math
import os
import tempfile

import numpy as np

from .base import Callback

__all__ = ["LearningRateScheduler", "CSVLogger", "TerminateOnNaN"]


class LearningRateScheduler(Callback):
    """At the start of each epoch set the optimizer's learning rate to ``schedule(epoch,
    lr)`` (or ``schedule(epoch)``), a float; adds ``learning_rate`` to each epoch's logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of the epoch (and the current rate), "
                            f"got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:           # a schedule of the epoch alone, as Keras allows
            rate = self.schedule(epoch)
        if not isinstance(rate, (float, np.float32, np.float64)) or not math.isfinite(rate):
            raise ValueError(f"the output of the schedule function must be a finite float, got "
                             f"{rate!r} for epoch {epoch}")
        optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _cell(value):
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
            isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write each epoch's logs as a row of ``filename``: ``epoch`` and the log keys (sorted;
    ``val_*`` columns too when there is no validation, holding "NA"), a header first, as Keras
    writes it; ``append=True`` continues an existing file.

    After every epoch the whole file is written to a temporary file and renamed over
    ``filename``, so a crash (even a kill) never leaves half a line in it. Under
    :mod:`fastcnn.distributed`, rank 0 alone writes it."""

    rank_zero_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character, got {separator!r}")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._text = ""

    def on_train_begin(self, logs=None):
        self._text, self.keys, self._header = "", None, True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._text = f.read()
            self._header = not self._text
            if self._text and not self._text.endswith("\n"):
                self._text += "\n"
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"CSVLogger cannot write {self.filename!r}: the folder "
                                    f"{folder!r} does not exist")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.sep, lineterminator="\n")
        if self._header:
            writer.writerow(["epoch"] + self.keys)
            self._header = False
        writer.writerow([epoch] + [_cell(logs.get(k, "NA")) for k in self.keys])
        self._text += out.getvalue()
        self._write()

    def _write(self):
        folder = os.path.dirname(os.path.abspath(self.filename))
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.filename) + ".",
                                   suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", newline="") as f:
                f.write(self._text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.filename)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
