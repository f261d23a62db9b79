"""Weight initializers with Keras' definitions.

Fans follow Keras: for a kernel of shape ``(..., fan_in_axis, fan_out_axis)`` the receptive
field is the product of the leading axes, so a Conv2D kernel ``(kh, kw, in, filters)`` has
``fan_in = kh*kw*in`` and ``fan_out = kh*kw*filters``, and a Dense kernel ``(in, units)`` has
``fan_in = in`` and ``fan_out = units``.

- ``glorot_uniform``: uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.
- ``he_normal``: a normal truncated at two standard deviations, scaled so that the result has
  standard deviation ``sqrt(2 / fan_in)`` (Keras draws with ``stddev / 0.8796...``).
- ``zeros`` / ``ones``: constants.

Unseeded initializers draw from :func:`fastcnn.utils.rng`.
"""
import math
import numbers

import numpy as np

from . import _registry, utils

__all__ = ["Initializer", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
           "HeUniform", "Zeros", "Ones", "get", "serialize"]

# Standard deviation of a unit normal truncated to [-2, 2]; Keras divides by it so the
# truncated draw keeps the requested variance.
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of ``shape``, as Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``initializer(shape, dtype)`` returns a new array."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _generator(self):
        return utils.rng() if self.seed is None else np.random.default_rng(self.seed)


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool)
                             or not isinstance(seed, (numbers.Integral, np.integer))):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    return None if seed is None else int(seed)


def _truncated_normal(gen, stddev, shape):
    """Normal draws with ``stddev``; values beyond two standard deviations are redrawn."""
    out = gen.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance ``scale / n`` with ``n`` the fan ``mode`` names."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("distribution must be 'truncated_normal', 'untruncated_normal' or "
                             f"'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        gen = self._generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            values = gen.uniform(-limit, limit, size=shape)
        elif self.distribution == "truncated_normal":
            values = _truncated_normal(gen, math.sqrt(variance) / _TRUNCATED_NORMAL_STD, shape)
        else:
            values = gen.standard_normal(shape) * math.sqrt(variance)
        return np.asarray(values, dtype=dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class GlorotUniform(VarianceScaling):
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in + fan_out))``."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    """Truncated normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    """Truncated normal with standard deviation ``sqrt(2 / fan_in)``."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / fan_in)``."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype=dtype)


_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_normal": HeNormal, "he_uniform": HeUniform, "zeros": Zeros, "ones": Ones,
            "variance_scaling": VarianceScaling}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """An initializer from a name, an :class:`Initializer`, or a ``{"class_name", "config"}``
    dict (as :func:`serialize` writes); ``ValueError`` lists the names otherwise."""
    return _registry.get(identifier, Initializer, _BY_NAME, _BY_CLASS, "initializer",
                         "an Initializer")


def serialize(initializer):
    """A JSON-able identifier: the name for a default built-in, else class name and config."""
    init = get(initializer)
    config = init.get_config()
    for name, cls in _BY_NAME.items():
        if type(init) is cls and config == cls().get_config():
            return name
    if type(init).__name__ not in _BY_CLASS:
        raise ValueError(f"cannot serialize the custom initializer {initializer!r}")
    return {"class_name": type(init).__name__, "config": config}
