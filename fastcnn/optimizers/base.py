"""The optimizers' base class: what Keras 3's ``BaseOptimizer`` does around ``update_step``.

One :meth:`Optimizer.apply` is Keras' order of operations: the gradients are clipped
(``clipnorm``, ``global_clipnorm`` or ``clipvalue``), the variables decayed
(``var -= var * weight_decay * learning_rate``, unless excluded), then each optimizer's step
runs; all three are one compiled pass per variable (fastcnn/_optim.pyx), after a compiled,
deterministic sum of squares when a norm is needed. Variables are NumPy arrays updated in
place; slots (moments, velocities) are C-contiguous arrays in the variables' dtype, kept by
variable identity, so a step may update a subset of the variables. ``iterations`` counts the
steps applied so far and is the step a learning-rate schedule is evaluated at.
"""
import math
import re

import numpy as np

from .. import _config, _optim
from . import schedules
from ._args import number, optional
from .schedules import LearningRateSchedule

__all__ = ["Optimizer"]


def _describe(a):
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype}{'' if a.flags.writeable else ' (read-only)'}"
    return type(a).__name__


def _learning_rate(value):
    if isinstance(value, LearningRateSchedule):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return number(value, "learning_rate")


class Optimizer:
    """Base class: :meth:`apply` clips, decays and runs the subclass's step on each
    (gradient, variable) pair. A subclass names its slots (``_active_slots``) and gives the
    compiled step's kind and hyperparameters for a dtype (``_step``)."""

    _slot_names = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        self._learning_rate = _learning_rate(learning_rate)
        self.weight_decay = optional(weight_decay, "weight_decay")
        self.clipnorm = optional(clipnorm, "clipnorm")
        self.clipvalue = optional(clipvalue, "clipvalue")
        self.global_clipnorm = optional(global_clipnorm, "global_clipnorm")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set, "
                             f"got clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                             f"global_clipnorm={global_clipnorm!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._variables = None
        self._index = {}
        self._slots = {}
        self._scratch = {}
        self._paths = {}
        self._excluded = []
        self._exclude_pattern = None
        self._decays = {}
        self._this_step = {}

    # -- learning rate -----------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate of the next step: the float given, or the schedule's value at
        :attr:`iterations`. Settable to a float (or a new schedule); setting a float when
        the optimizer was made with a schedule is a TypeError, as in Keras."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if (isinstance(self._learning_rate, LearningRateSchedule)
                and not isinstance(value, LearningRateSchedule)):
            raise TypeError("this optimizer was created with a LearningRateSchedule as its "
                            "learning_rate, so its learning rate cannot be set to a number; "
                            "create the optimizer with a float learning_rate to set it")
        self._learning_rate = _learning_rate(value)

    # -- weight decay ------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """No weight decay for the variables of ``var_list`` (by identity), nor for those
        whose path ("<layer name>/<weight name>", see :meth:`apply`) contains a match of
        one of the regular expressions of ``var_names`` (e.g. ``["bias", "gamma"]``).
        Replaces an earlier exclusion, as in Keras."""
        excluded = [] if var_list is None else list(var_list)
        if var_names is not None and (isinstance(var_names, str) or not all(
                isinstance(n, str) for n in var_names)):
            raise TypeError(f"var_names must be a list of strings, got {var_names!r}")
        pattern = None
        if var_names:
            try:
                pattern = re.compile("|".join(var_names))
            except re.error as exc:
                raise ValueError(f"var_names {var_names!r} is not a list of regular "
                                 f"expressions: {exc}") from None
        self._excluded, self._exclude_pattern, self._decays = excluded, pattern, {}

    def _use_weight_decay(self, variable):
        key = id(variable)
        use = self._decays.get(key)
        if use is None:
            path = self._paths.get(key)
            use = not (any(v is variable for v in self._excluded)
                       or (self._exclude_pattern is not None and path is not None
                           and self._exclude_pattern.search(path) is not None))
            self._decays[key] = use
        return use

    # -- state -------------------------------------------------------------------------------
    def build(self, variables):
        """Create the slot arrays for ``variables`` (called by the first :meth:`apply`)."""
        self._variables = []
        self._index = {}
        self._slots = {slot: [] for slot in self._active_slots()}
        self._scratch = {}
        self._paths = {}
        self._decays = {}
        self._add_variables(variables)

    def _add_variables(self, variables):
        """Slots (zeros) for variables not seen before, appended in the order given."""
        for v in variables:
            if id(v) in self._index:
                continue
            self._index[id(v)] = len(self._variables)
            self._variables.append(v)
            for slot in self._slots.values():
                slot.append(np.zeros(v.shape, dtype=v.dtype))
            scratch = self._scratch.get(v.dtype)
            if scratch is None or scratch.size < v.size:
                self._scratch[v.dtype] = np.empty(v.size, dtype=v.dtype)

    def _active_slots(self):
        return self._slot_names

    @property
    def variables(self):
        """``[iterations, *slot arrays]``: everything needed to resume training."""
        out = [np.array(self.iterations, dtype=np.int64)]
        for slot in self._active_slots():
            out.extend(self._slots.get(slot, []))
        return out

    def state_for(self, variables):
        """:attr:`variables` restricted to ``variables`` (in their order): ``[iterations,
        *slot arrays]``; None when the optimizer has not updated all of them."""
        if self._variables is None or any(id(v) not in self._index for v in variables):
            return None
        rows = [self._index[id(v)] for v in variables]
        out = [np.array(self.iterations, dtype=np.int64)]
        for slot in self._active_slots():
            out.extend(self._slots[slot][i] for i in rows)
        return out

    def set_state(self, arrays, variables):
        """Restore :meth:`state_for` ``(variables)`` saved from an optimizer that updated
        variables of the same shapes."""
        self.build(variables)
        expected = self.variables
        if len(arrays) != len(expected):
            raise ValueError(f"optimizer state has {len(arrays)} arrays, expected "
                             f"{len(expected)} for {type(self).__name__}")
        for i, (new, old) in enumerate(zip(arrays, expected)):
            if np.shape(new) != old.shape:
                raise ValueError(f"optimizer state array {i} has shape {np.shape(new)}, "
                                 f"expected {old.shape}")
        self.iterations = int(arrays[0])
        for new, old in zip(arrays[1:], expected[1:]):
            np.copyto(old, new, casting="same_kind")

    # -- updates -----------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Keras' form: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, variables, paths=None):
        """Update each array of ``variables`` in place from the matching gradient.

        ``paths``: optional strings, one per variable ("<layer name>/<weight name>"), that
        the ``var_names`` of :meth:`exclude_from_weight_decay` are matched against; a
        variable keeps the last path it was given."""
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"got {len(grads)} gradients for {len(variables)} variables")
        if paths is not None:
            paths = list(paths)
            if not all(isinstance(p, str) for p in paths):
                raise TypeError(f"paths must be strings, got {paths!r}")
            if len(paths) != len(variables):
                raise ValueError(f"got {len(paths)} paths for {len(variables)} variables")
        for i, v in enumerate(variables):
            if (not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float64)
                    or not v.flags.writeable):
                raise TypeError(f"variable {i} must be a writeable float32 or float64 "
                                f"numpy.ndarray, got {_describe(v)}")
        # every gradient is checked before any variable changes: an update is all or nothing
        checked = []
        for i, (g, v) in enumerate(zip(grads, variables)):
            g = np.asarray(g)
            if g.dtype == object or not (np.issubdtype(g.dtype, np.floating)
                                         or np.issubdtype(g.dtype, np.integer)):
                raise TypeError(f"gradient {i} must hold real numbers, got dtype {g.dtype}")
            if g.shape != v.shape:
                raise ValueError(f"gradient {i} has shape {g.shape} but its variable has "
                                 f"shape {v.shape}")
            if np.may_share_memory(g, v):
                g = g.copy()      # the decay writes the variable before the step reads g
            checked.append(np.ascontiguousarray(g, dtype=v.dtype))
        if self._variables is None:
            self.build(variables)
        else:
            self._add_variables(variables)
        for v, path in zip(variables, paths or ()):
            if self._paths.get(id(v)) != path:
                self._paths[id(v)] = path
                self._decays.pop(id(v), None)
        self._this_step = {"learning_rate": self.learning_rate}
        if self.global_clipnorm:
            self._this_step["global_norm"] = math.sqrt(math.fsum(
                _optim.sum_of_squares(g.reshape(-1), _config.get_num_threads())
                for g in checked))
        for g, v in zip(checked, variables):
            tmp = self._scratch[v.dtype][:v.size].reshape(v.shape)
            self.update_step(g, v, self._index[id(v)], tmp)
        self.iterations += 1

    def update_step(self, gradient, variable, index, tmp):
        """Clip ``gradient``, decay ``variable`` and run this optimizer's step on it, in
        place, in one compiled pass; ``tmp`` is scratch of the variable's shape and dtype
        (the pass runs there when the variable is not C-contiguous)."""
        kind, hyper = self._hyperparameters(variable.dtype)
        clip, a, b = self._clip(gradient, variable.dtype)
        wd = self.weight_decay if (self.weight_decay is not None
                                   and self._use_weight_decay(variable)) else None
        target = variable if variable.flags.c_contiguous else tmp
        if target is tmp:
            tmp[...] = variable
        _optim.update(target.reshape(-1), gradient.reshape(-1),
                      [self._slots[s][index].reshape(-1) for s in self._active_slots()],
                      kind, self._this_step["learning_rate"], hyper, clip, a, b, wd,
                      _config.get_num_threads())
        if target is tmp:
            variable[...] = tmp

    def _hyperparameters(self, dtype):
        """``(kind, hyper)`` of :func:`fastcnn._optim.update` for variables of ``dtype``,
        computed once a step."""
        key = ("hyper", dtype)
        if key not in self._this_step:
            self._this_step[key] = self._step(np.dtype(dtype).type)
        return self._this_step[key]

    def _step(self, dt):
        """The compiled step's ``(kind, hyper)`` for the scalar type ``dt`` (np.float32 or
        np.float64), at this step's learning rate and iterations."""
        raise NotImplementedError

    def _clip(self, g, dtype):
        """``(mode, a, b)`` of :func:`fastcnn._optim.update` for gradient ``g``, with
        Keras' arithmetic in the variable's dtype ``dt`` on a norm summed in double."""
        dt = np.dtype(dtype).type
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.clipnorm:
                # clip_by_norm: g * clipnorm / maximum(l2norm, clipnorm)
                c = dt(self.clipnorm)
                l2sum = _optim.sum_of_squares(g.reshape(-1), _config.get_num_threads())
                norm = dt(math.sqrt(l2sum) if l2sum > 0 else l2sum)
                return _optim.CLIP_NORM, float(c), float(c if norm <= c else norm)  # NaN kept
            if self.global_clipnorm:
                # clip_by_global_norm: scale = clip * minimum(1/norm, 1/clip) + (norm - norm)
                norm = dt(self._this_step["global_norm"])
                c = dt(self.global_clipnorm)
                scale = c * np.minimum(dt(1) / norm, dt(1.0 / self.global_clipnorm))
                return _optim.CLIP_SCALE, float(scale + (norm - norm)), 0.0
            if self.clipvalue:
                return _optim.CLIP_VALUE, float(dt(self.clipvalue)), 0.0
        return _optim.CLIP_NONE, 0.0, 0.0

    # -- config ------------------------------------------------------------------------------
    def get_config(self):
        rate = self._learning_rate
        return {"name": self.name,
                "learning_rate": (schedules.serialize(rate)
                                  if isinstance(rate, LearningRateSchedule) else rate),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

