"""Checks of the optimizers' and schedules' arguments: a TypeError for a wrong type, a
ValueError for a value out of range, each naming the argument."""
import math
import numbers

__all__ = ["number", "optional", "flag", "steps"]


def number(value, name, low=0.0, high=None, high_open=False):
    """``value`` as a float: a finite real number (not a bool) in ``[low, high]`` (``high``
    excluded when ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (
            high is not None and (value >= high if high_open else value > high)):
        bound = "" if high is None else (f" and {'<' if high_open else '<='} {high}")
        raise ValueError(f"{name} must be >= {low}{bound}, got {value!r}")
    return value


def optional(value, name):
    """None, or ``value`` as a finite number >= 0."""
    return None if value is None else number(value, name)


def flag(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def steps(value, name, positive=True):
    """A number of steps: a finite real number > 0 (>= 0 unless ``positive``), kept as
    given (an int stays an int, so a config reads as it was written)."""
    number(value, name)
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)
