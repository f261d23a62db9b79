"""Batch normalization oracles, over the last axis of an array of rank >= 2 (every other axis
counts as rows: NHWC images and Dense outputs (N, C) alike).

Training mode normalizes with the batch's own statistics, the mean and the biased variance
over the M rows; inference mode with given (moving) statistics. ``gamma`` None means 1
(Keras' scale=False) and ``beta`` None means 0 (center=False).
"""
import numpy as np

from ._common import _compute_dtype


def _channels_last(x, name):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have rank >= 2 (rows..., channels), got shape "
                         f"{x.shape}")
    return x


def _per_channel(a, name, c, default, dtype):
    """(C,) array of ``a``, or ``default`` everywhere when ``a`` is None."""
    if a is None:
        return np.full(c, default, dtype)
    a = np.asarray(a)
    if a.shape != (c,):
        raise ValueError(f"{name} must have shape ({c},), one value per channel, got {a.shape}")
    return a.astype(dtype, copy=False)


def batch_norm_moments(x):
    """Per-channel ``(mean, variance)`` of ``x`` over all axes but the last; the variance is
    the biased one (divided by the number of rows M), as batch normalization uses."""
    x = _channels_last(x, "x")
    x = x.astype(_compute_dtype(x), copy=False)
    rows = tuple(range(x.ndim - 1))
    mean = x.mean(axis=rows)
    variance = ((x - mean) ** 2).mean(axis=rows)
    return mean, variance


def batch_norm_forward(x, gamma, beta, epsilon, mean=None, variance=None):
    """Batch normalization of ``x`` over its last axis.

    Training mode (``mean`` and ``variance`` None): the batch's statistics
    (:func:`batch_norm_moments`), ``y = (x - mean) / sqrt(variance + epsilon) * gamma + beta``.
    Inference mode (both given, e.g. the moving statistics):
    ``y = (x - mean) * (gamma / sqrt(variance + epsilon)) + beta``.
    """
    x = _channels_last(x, "x")
    if (mean is None) != (variance is None):
        raise ValueError("give both mean and variance (inference) or neither (training)")
    c = x.shape[-1]
    dtype = _compute_dtype(*(a for a in (x, gamma, beta, mean, variance) if a is not None))
    x = x.astype(dtype, copy=False)
    gamma = _per_channel(gamma, "gamma", c, 1, dtype)
    beta = _per_channel(beta, "beta", c, 0, dtype)
    if mean is None:
        mean, variance = batch_norm_moments(x)
        return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta
    mean = _per_channel(mean, "mean", c, 0, dtype)
    variance = _per_channel(variance, "variance", c, 1, dtype)
    return (x - mean) * (gamma / np.sqrt(variance + epsilon)) + beta


def batch_norm_backward(dy, x, gamma, epsilon):
    """Gradients of training-mode :func:`batch_norm_forward`: ``(dx, dgamma, dbeta)``.

    With ``xhat = (x - mean) / sqrt(variance + epsilon)`` and M rows:
    ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)`` (sums over the rows) and
    ``dx = gamma / sqrt(variance + epsilon) / M * (M * dy - dbeta - xhat * dgamma)``: the
    batch statistics depend on x, so dx is dy's share once its mean and its projection on
    xhat are taken out. dgamma and dbeta are returned also when gamma or beta is None.
    """
    x = _channels_last(x, "x")
    dy = np.asarray(dy)
    if dy.shape != x.shape:
        raise ValueError(f"dy must have x's shape {x.shape}, got {dy.shape}")
    dtype = _compute_dtype(dy, x) if gamma is None else _compute_dtype(dy, x, gamma)
    x, dy = x.astype(dtype, copy=False), dy.astype(dtype, copy=False)
    gamma = _per_channel(gamma, "gamma", x.shape[-1], 1, dtype)
    mean, variance = batch_norm_moments(x)
    inv_std = 1 / np.sqrt(variance + epsilon)
    xhat = (x - mean) * inv_std
    rows = tuple(range(x.ndim - 1))
    m = int(np.prod(x.shape[:-1]))
    dbeta = dy.sum(axis=rows)
    dgamma = (dy * xhat).sum(axis=rows)
    dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
