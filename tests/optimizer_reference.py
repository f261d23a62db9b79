"""Keras 3's optimizer arithmetic rendered in NumPy, in the variables' dtype: the oracle the
compiled updates (fastcnn/_optim.pyx) are compared with, bitwise.

Each function follows the Keras 3 source line by line (keras/src/optimizers/base_optimizer.py
``_clip_gradients``, ``_clip_by_norm``, ``clip_by_global_norm``, ``_apply_weight_decay``;
sgd.py, adam.py, rmsprop.py ``update_step``): every hyperparameter cast to the dtype where
Keras casts it, the operations in Keras' order, one NumPy operation per Keras operation (NumPy
rounds each one, as TensorFlow does; no FMA).

The one place where fastcnn chooses its own arithmetic is the sum of squares under a norm
(Keras: a float32 ``reduce_sum``, in whatever order the backend takes): fastcnn adds in
double, in blocks of 8192 values with eight running sums each; :func:`sum_of_squares`
reproduces that order exactly, so the clipped gradients can be compared bitwise too.
"""
import math

import numpy as np

BLOCK = 8192


def sum_of_squares(x):
    """fastcnn's order: per block of BLOCK values, eight running double sums (value k goes to
    sum k % 8, added in order), combined as ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)); the blocks'
    sums added in block order. np.cumsum adds sequentially, so this is exact."""
    sq = np.asarray(x, dtype=np.float64).reshape(-1) ** 2
    total = 0.0
    for start in range(0, sq.size, BLOCK):
        block = sq[start:start + BLOCK]
        lanes = np.zeros(8)
        body = block[:block.size // 8 * 8].reshape(-1, 8)
        if body.size:
            lanes = np.cumsum(body, axis=0)[-1]
        for k, v in enumerate(block[body.size:]):
            lanes[k] += v
        total += (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
                  + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])))
    return total


def clip_gradients(grads, dtype, clipnorm=None, global_clipnorm=None, clipvalue=None):
    """Keras' ``_clip_gradients``, the norms from :func:`sum_of_squares`."""
    dt = np.dtype(dtype).type
    with np.errstate(divide="ignore", invalid="ignore"):
        if clipnorm:
            out = []
            for g in grads:
                c = dt(clipnorm)
                l2sum = sum_of_squares(g)
                norm = dt(math.sqrt(l2sum)) if l2sum > 0 else dt(l2sum)
                out.append((g * c) / np.maximum(norm, c))
            return out
        if global_clipnorm:
            norm = dt(math.sqrt(math.fsum(sum_of_squares(g) for g in grads)))
            scale = dt(global_clipnorm) * np.minimum(dt(1) / norm, dt(1.0 / global_clipnorm))
            scale = scale + (norm - norm)
            return [g * scale for g in grads]
        if clipvalue:
            v = dt(clipvalue)
            return [np.clip(g, -v, v) for g in grads]
    return list(grads)


def decay(w, weight_decay, lr):
    """Keras' ``_apply_weight_decay``: ``variable - variable * wd * lr``."""
    dt = w.dtype.type
    return w - w * dt(weight_decay) * dt(lr)


def sgd(w, g, state, lr, t, momentum=0.0, nesterov=False):
    dt = w.dtype.type
    lr = dt(lr)
    if momentum == 0:
        return w - g * lr
    mu = dt(momentum)
    m = state.setdefault("m", np.zeros_like(w))
    m[...] = m * mu - g * lr
    if nesterov:
        return w + (m * mu - g * lr)
    return w + m


def adam(w, g, state, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    dt = w.dtype.type
    lr, step = dt(lr), float(dt(t))
    # the correctly rounded power (TensorFlow's float32 pow gives it; np.power's powf may not)
    beta_1_power = dt(math.pow(float(dt(beta_1)), step))
    beta_2_power = dt(math.pow(float(dt(beta_2)), step))
    alpha = lr * np.sqrt(dt(1) - beta_2_power) / (dt(1) - beta_1_power)
    m = state.setdefault("m", np.zeros_like(w))
    v = state.setdefault("v", np.zeros_like(w))
    m += (g - m) * dt(1 - beta_1)
    v += (g * g - v) * dt(1 - beta_2)
    if amsgrad:
        v_hat = state.setdefault("v_hat", np.zeros_like(w))
        v_hat[...] = np.maximum(v_hat, v)
        v = v_hat
    return w - (m * alpha) / (np.sqrt(v) + dt(epsilon))


def rmsprop(w, g, state, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    dt = w.dtype.type
    lr = dt(lr)
    v = state.setdefault("v", np.zeros_like(w))
    v[...] = dt(rho) * v + dt(1 - rho) * (g * g)
    if centered:
        a = state.setdefault("a", np.zeros_like(w))
        a[...] = dt(rho) * a + dt(1 - rho) * g
        denominator = v - a * a + dt(epsilon)
    else:
        denominator = v + dt(epsilon)
    increment = (lr * g) / np.sqrt(denominator)
    if momentum > 0:
        mom = state.setdefault("mom", np.zeros_like(w))
        mom[...] = dt(momentum) * mom + increment
        return w - mom
    return w - increment


STEPS = {"SGD": sgd, "Adam": adam, "AdamW": adam, "RMSprop": rmsprop}
BASE_OPTIONS = ("learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                "name")


class ReferenceOptimizer:
    """Keras' ``apply`` on lists of NumPy arrays: clip, decay with the current rate, step;
    ``learning_rate`` a float or a callable of the step (a schedule)."""

    def __init__(self, class_name, **config):
        self.step_fn = STEPS[class_name]
        self.learning_rate = config.get("learning_rate",
                                        {"SGD": 0.01}.get(class_name, 0.001))
        self.weight_decay = config.get("weight_decay",
                                       0.004 if class_name == "AdamW" else None)
        self.clip = {k: config.get(k) for k in ("clipnorm", "global_clipnorm", "clipvalue")}
        self.hyper = {k: v for k, v in config.items() if k not in BASE_OPTIONS}
        self.iterations = 0
        self.states = {}

    def apply(self, grads, variables, excluded=()):
        lr = self.learning_rate
        if callable(lr):
            lr = lr(self.iterations)
        dtype = variables[0].dtype
        grads = clip_gradients([np.asarray(g, dtype) for g in grads], dtype, **self.clip)
        out = []
        for i, (g, w) in enumerate(zip(grads, variables)):
            if self.weight_decay is not None and i not in excluded:
                w = decay(w, self.weight_decay, lr)
            out.append(self.step_fn(w, g, self.states.setdefault(i, {}), lr,
                                    self.iterations + 1, **self.hyper))
        self.iterations += 1
        return out
