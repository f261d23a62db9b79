"""Learning-rate schedules with Keras 3's formulas: a schedule maps the optimizer's step (its
``iterations``, the number of updates applied so far) to a learning rate.

Rates are computed in double with Keras' operations in Keras' order; the optimizer rounds a
rate to each variable's dtype where Keras casts it. A schedule given as an optimizer's
``learning_rate`` is saved inside the optimizer's config as ``{"class_name", "config"}``
and rebuilt from the fixed table of this module's classes, never from a module path.
"""
import math

from ._args import flag, number, steps

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "CosineDecay", "serialize", "deserialize"]


def _name(value):
    if not isinstance(value, str):
        raise TypeError(f"name must be a string, got {value!r}")
    return value


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is the learning rate (a float) at ``step``."""

    def __call__(self, step):
        raise NotImplementedError(f"learning rate schedule {type(self).__name__} must "
                                  "override __call__(self, step)")

    def get_config(self):
        raise NotImplementedError(f"learning rate schedule {type(self).__name__} must "
                                  "override get_config() to be saved")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``, the exponent rounded
    down to an integer when ``staircase``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = steps(decay_steps, "decay_steps")
        self.decay_rate = number(decay_rate, "decay_rate")
        self.staircase = flag(staircase, "staircase")
        self.name = _name(name)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        try:
            return self.initial_learning_rate * self.decay_rate ** p
        except OverflowError:      # decay_rate > 1 far enough: Keras' float power gives inf
            return math.inf if self.initial_learning_rate else 0.0

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after
    ``boundaries[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, (list, tuple)):
            raise TypeError(f"boundaries must be a list of steps, got {boundaries!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
            raise TypeError(f"values must be a list of learning rates, got {values!r}")
        boundaries = [steps(b, f"boundaries[{i}]", positive=False)
                      for i, b in enumerate(boundaries)]
        if not boundaries:
            raise ValueError("boundaries must hold at least one step")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {boundaries!r}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values must hold one more learning rate than boundaries "
                             f"({len(boundaries) + 1}), got {len(values)}: {values!r}")
        self.boundaries = boundaries
        self.values = [number(v, f"values[{i}]") for i, v in enumerate(values)]
        self.name = _name(name)

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Without ``warmup_target``: ``initial_learning_rate * ((1 - alpha) * cosine + alpha)``
    with ``cosine = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))``. With it: a
    linear warm-up from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``
    steps, then the same cosine decay from ``warmup_target`` over ``decay_steps`` steps.
    (``warmup_steps`` without ``warmup_target`` is ignored, as in Keras.)"""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
                 warmup_steps=0, name="CosineDecay"):
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = steps(decay_steps, "decay_steps")
        self.alpha = number(alpha, "alpha", 0.0, 1.0)
        self.warmup_target = (None if warmup_target is None
                              else number(warmup_target, "warmup_target"))
        self.warmup_steps = steps(warmup_steps, "warmup_steps", positive=False)
        self.name = _name(name)

    def _decay(self, step, decay_from):
        completed = step / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * completed))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps,
                "name": self.name}


_BY_CLASS = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                           CosineDecay)}


def serialize(schedule):
    """``{"class_name", "config"}`` that :func:`deserialize` maps back to ``schedule``."""
    if type(schedule) not in _BY_CLASS.values():
        raise ValueError(f"cannot serialize the learning rate schedule {schedule!r}: only "
                         f"{sorted(_BY_CLASS)} can be saved")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule a :func:`serialize` dict describes; its ``class_name`` must be one of
    this module's schedules (a ValueError listing them otherwise)."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"a learning rate schedule must be given as {{'class_name': ..., "
                         f"'config': {{...}}}}, got {config!r}")
    cls = _BY_CLASS.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"unknown learning rate schedule {config.get('class_name')!r}; "
                         f"fastcnn knows {sorted(_BY_CLASS)}")
    return cls.from_config(config["config"])
