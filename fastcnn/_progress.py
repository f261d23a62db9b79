"""The progress bar that ``fit``/``evaluate``/``predict`` show with ``verbose=1``.

On a terminal (``stream.isatty()``) the bar is redrawn in place (carriage return) at most every
``interval`` seconds, with the step count, ETA and running metrics, and finishes with the time
taken and the time per step. On anything else (a log file, a CI pipe) nothing is written until
the end, and then a single line, so logs stay readable; ``verbose=2`` always writes that line.
"""
import sys
import time

__all__ = ["Progbar", "REFRESH_INTERVAL"]

REFRESH_INTERVAL = 0.05     # seconds between redraws of a live bar


def format_duration(seconds):
    """Seconds as Keras prints an ETA: ``7s``, ``1:05``, ``1:00:05``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds >= 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def format_per_step(seconds, unit="step"):
    if seconds >= 1:
        return "%.0fs/%s" % (seconds, unit)
    if seconds >= 1e-3:
        return "%.0fms/%s" % (seconds * 1e3, unit)
    return "%.0fus/%s" % (seconds * 1e6, unit)


def format_values(values):
    parts = []
    for name, value in values:
        value = float(value)
        parts.append(f" - {name}: " + ("%.4f" % value if abs(value) > 1e-3 or value == 0
                                       else "%.4e" % value))
    return "".join(parts)


def is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):          # a closed or detached stream
        return False


class Progbar:
    """Progress of ``target`` steps written to ``stream`` (``sys.stdout`` at creation).

    ``interval`` defaults to :data:`REFRESH_INTERVAL`. ``update(current, values)`` reports ``current`` steps done and the running ``values``
    (``(name, number)`` pairs); ``finalize=True`` ends the line. ``prefix`` starts the single
    line written off a terminal (e.g. ``"Epoch 3/5 - "``).
    """

    def __init__(self, target, verbose=1, stream=None, interval=None, width=30, prefix="",
                 unit="step"):
        self.target = int(target)
        self.verbose = verbose
        self.stream = sys.stdout if stream is None else stream
        self.dynamic = verbose == 1 and is_terminal(self.stream)
        self.interval = REFRESH_INTERVAL if interval is None else interval
        self.width = width
        self.prefix = prefix
        self.unit = unit
        self.start = time.perf_counter()
        self._last_render = None
        self._last_length = 0
        self.finished = False

    def _bar(self, current):
        if self.target <= 0:
            return ""
        done = int(self.width * min(current, self.target) / self.target)
        if current >= self.target:
            inner = "=" * self.width
        else:
            inner = "=" * max(done - 1, 0) + ">" + "." * (self.width - max(done, 1))
        return f" [{inner}]"

    def update(self, current, values=(), finalize=False):
        if self.verbose == 0 or self.finished:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / current if current > 0 else 0.0
        count = f"{current}/{self.target}"
        if finalize:
            self.finished = True
            if self.dynamic:
                line = (f"{count}{self._bar(current)} - {format_duration(elapsed)} "
                        f"{format_per_step(per_step, self.unit)}{format_values(values)}")
                pad = " " * max(self._last_length - len(line), 0)
                self.stream.write("\r" + line + pad + "\n")
            else:
                self.stream.write(f"{self.prefix}{count} - {format_duration(elapsed)} - "
                                  f"{format_per_step(per_step, self.unit)}"
                                  f"{format_values(values)}\n")
            self.stream.flush()
            return
        if not self.dynamic or current >= self.target:      # the final line comes next
            return
        if self._last_render is not None and now - self._last_render < self.interval:
            return
        self._last_render = now
        eta = per_step * max(self.target - current, 0)
        line = (f"{count}{self._bar(current)} - ETA: {format_duration(eta)} - "
                f"{format_per_step(per_step, self.unit)}{format_values(values)}")
        pad = " " * max(self._last_length - len(line), 0)
        self._last_length = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()
