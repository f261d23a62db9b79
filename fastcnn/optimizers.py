"""SGD, Adam and RMSprop with Keras 3's defaults and update formulas.

Variables are NumPy arrays updated in place; each optimizer keeps its slot arrays (moments,
velocities) in the variables' dtype and one shared scratch buffer, so a step allocates nothing.
``iterations`` counts the steps applied so far (Keras' ``optimizer.iterations``).
"""
import math
import numbers

import numpy as np

from . import _config, _elementwise, _registry

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get", "serialize"]


def _number(value, name, low=0.0, high=None, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (
            high is not None and (value >= high if high_open else value > high)):
        bound = "" if high is None else (f" and {'<' if high_open else '<='} {high}")
        raise ValueError(f"{name} must be >= {low}{bound}, got {value!r}")
    return value


def _describe(a):
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype}{'' if a.flags.writeable else ' (read-only)'}"
    return type(a).__name__


def _flat(a):
    """A 1-D view of a C-contiguous float32/float64 array (what the compiled updates take),
    or None."""
    if a.flags.c_contiguous and a.dtype in (np.float32, np.float64):
        return a.reshape(-1)
    return None


class Optimizer:
    """Base class: :meth:`apply` runs ``update_step`` on each (gradient, variable) pair."""

    _slot_names = ()

    def __init__(self, learning_rate, name=None):
        self.learning_rate = _number(learning_rate, "learning_rate")
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._variables = None
        self._index = {}
        self._slots = {}
        self._scratch = {}

    # -- state -------------------------------------------------------------------------------
    def build(self, variables):
        """Create the slot arrays for ``variables`` (called by the first :meth:`apply`)."""
        self._variables = []
        self._index = {}
        self._slots = {slot: [] for slot in self._active_slots()}
        self._scratch = {}
        self._add_variables(variables)

    def _add_variables(self, variables):
        """Slots (zeros) for variables not seen before, appended in the order given."""
        for v in variables:
            if id(v) in self._index:
                continue
            self._index[id(v)] = len(self._variables)
            self._variables.append(v)
            for slot in self._slots.values():
                slot.append(np.zeros_like(v))
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

    def apply(self, grads, variables):
        """Update each array of ``variables`` in place from the matching gradient."""
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"got {len(grads)} gradients for {len(variables)} variables")
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
            checked.append(g if g.dtype == v.dtype else g.astype(v.dtype))
        if self._variables is None:
            self.build(variables)
        else:
            self._add_variables(variables)
        for g, v in zip(checked, variables):
            tmp = self._scratch[v.dtype][:v.size].reshape(v.shape)
            self.update_step(g, v, self._index[id(v)], tmp)
        self.iterations += 1

    def update_step(self, gradient, variable, index, tmp):
        """Update ``variable`` in place; ``tmp`` is scratch of the same shape and dtype."""
        raise NotImplementedError

    # -- config ------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    With momentum: ``m = momentum*m - lr*g``; then ``var += m``, or with Nesterov
    ``var += momentum*m - lr*g``. Without: ``var -= lr*g``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        self.momentum = _number(momentum, "momentum", 0.0, 1.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        self.nesterov = nesterov

    def _active_slots(self):
        return ("momentums",) if self.momentum != 0 else ()

    def update_step(self, g, var, i, tmp):
        lr = self.learning_rate
        np.multiply(g, lr, out=tmp)
        if self.momentum == 0:
            var -= tmp
            return
        m = self._slots["momentums"][i]
        m *= self.momentum
        m -= tmp
        if self.nesterov:
            var -= tmp
            np.multiply(m, self.momentum, out=tmp)
            var += tmp
        else:
            var += m

    def get_config(self):
        return dict(super().get_config(), momentum=self.momentum, nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam as in Keras 3.

    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; ``m += (g - m) * (1 - beta_1)``;
    ``v += (g**2 - v) * (1 - beta_2)``; ``var -= alpha * m / (sqrt(v) + epsilon)``, with
    ``v`` replaced by its running maximum when ``amsgrad``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None):
        super().__init__(learning_rate, name)
        self.beta_1 = _number(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = _number(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = _number(epsilon, "epsilon")
        if not isinstance(amsgrad, bool):
            raise TypeError(f"amsgrad must be a bool, got {amsgrad!r}")
        self.amsgrad = amsgrad

    def _active_slots(self):
        return ("momentums", "velocities") + (("velocity_hats",) if self.amsgrad else ())

    def update_step(self, g, var, i, tmp):
        t = self.iterations + 1
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = self._slots["momentums"][i], self._slots["velocities"][i]
        if not self.amsgrad and _flat(var) is not None and _flat(g) is not None:
            # one compiled pass, the same operations as below
            _elementwise.adam_update(_flat(var), _flat(g), _flat(m), _flat(v), alpha,
                                     self.beta_1, self.beta_2, self.epsilon,
                                     _config.get_num_threads())
            return
        np.subtract(g, m, out=tmp)
        tmp *= 1 - self.beta_1
        m += tmp
        np.square(g, out=tmp)
        tmp -= v
        tmp *= 1 - self.beta_2
        v += tmp
        if self.amsgrad:
            v_hat = self._slots["velocity_hats"][i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        var -= tmp

    def get_config(self):
        return dict(super().get_config(), beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon, amsgrad=self.amsgrad)


class RMSprop(Optimizer):
    """RMSprop as in Keras 3.

    ``v = rho*v + (1 - rho)*g**2``; ``increment = lr*g / sqrt(v + epsilon)`` (centered:
    ``a = rho*a + (1 - rho)*g`` and ``sqrt(v - a**2 + epsilon)``); with momentum
    ``mom = momentum*mom + increment`` and ``var -= mom``, else ``var -= increment``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None):
        super().__init__(learning_rate, name)
        self.rho = _number(rho, "rho", 0.0, 1.0)
        self.momentum = _number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _number(epsilon, "epsilon")
        if not isinstance(centered, bool):
            raise TypeError(f"centered must be a bool, got {centered!r}")
        self.centered = centered

    def _active_slots(self):
        return (("velocities",) + (("momentums",) if self.momentum > 0 else ())
                + (("average_gradients",) if self.centered else ()))

    def update_step(self, g, var, i, tmp):
        v = self._slots["velocities"][i]
        v *= self.rho
        np.square(g, out=tmp)
        tmp *= 1 - self.rho
        v += tmp
        if self.centered:
            a = self._slots["average_gradients"][i]
            a *= self.rho
            np.multiply(g, 1 - self.rho, out=tmp)
            a += tmp
            np.square(a, out=tmp)
            np.subtract(v, tmp, out=tmp)
        else:
            tmp[...] = v
        tmp += self.epsilon
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= self.learning_rate
        if self.momentum > 0:
            mom = self._slots["momentums"][i]
            mom *= self.momentum
            mom += tmp
            var -= mom
        else:
            var -= tmp

    def get_config(self):
        return dict(super().get_config(), rho=self.rho, momentum=self.momentum,
                    epsilon=self.epsilon, centered=self.centered)


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """An optimizer from a name (``"sgd"``, ``"adam"``, ``"rmsprop"``), an :class:`Optimizer`,
    or a ``{"class_name", "config"}`` dict; ``ValueError`` lists the names otherwise."""
    if isinstance(identifier, Optimizer):
        return identifier
    found = _registry.lookup(identifier, _BY_NAME, _BY_CLASS, "optimizer")
    if found is not None:
        return found
    raise ValueError(f"optimizer must be one of {sorted(_BY_NAME)} or a "
                     f"fastcnn.optimizers.Optimizer, got {identifier!r}")


def serialize(optimizer):
    """``{"class_name", "config"}`` that :func:`get` maps back to ``optimizer``."""
    if type(optimizer).__name__ not in _BY_CLASS:
        raise ValueError(f"cannot serialize the custom optimizer {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
