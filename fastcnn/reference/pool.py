"""Pooling oracles: max and average pooling over windows, and global pooling over whole
images, each with its gradient.

Windowed pooling loops over the taps (i, j) of the window, each tap an elementwise update on
the strided slice of the padded input that holds that tap's element of every window
(``_tap``). Global pooling reduces the pixels of each image: (N, H, W, C) -> (N, C).
"""
import numpy as np

from .._geometry import output_geometry, padding_mode, pair
from ._common import _check_dy, _compute_dtype, _image, _pad_hw, _tap, _taps


def _pool_args(x, pool_size, strides, padding):
    x = _image(x, "x")
    pool = pair(pool_size, "pool_size")
    strides = pool if strides is None else pair(strides, "strides")
    geo = output_geometry(x.shape[1:3], pool, strides, padding_mode(padding), "pool_size")
    return x, pool, strides, geo



# --------------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------------
def _max_pool_select(x, pool, strides, geo):
    """Value and row-major tap index of the selected element of every window.

    Walks the taps in row-major order and takes an element when it is real (not padding) and
    either nothing has been taken yet, it is strictly greater than the current pick (so ties
    keep the earliest), or it is NaN while the current pick is not (so the first NaN wins and
    is never replaced). Every "valid" or "same" window holds at least one real element, so
    every output gets a pick.
    """
    dtype = _compute_dtype(x)
    xp = _pad_hw(x.astype(dtype, copy=False), geo)
    # padding is marked by a mask, not by -inf, so a real -inf can never lose to a pad
    real = _pad_hw(np.ones((1,) + x.shape[1:3] + (1,), bool), geo, value=False)
    shape = (x.shape[0], geo.out_h, geo.out_w, x.shape[3])
    best = np.zeros(shape, dtype)
    best_tap = np.full(shape, -1, np.intp)
    for t, (i, j) in enumerate(_taps(pool)):
        v = _tap(xp, i, j, strides, geo)
        better = (best_tap < 0) | (v > best) | (np.isnan(v) & ~np.isnan(best))
        take = _tap(real, i, j, strides, geo) & better
        best = np.where(take, v, best)
        best_tap = np.where(take, t, best_tap)
    return best, best_tap, xp.shape


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling over ``pool_size`` windows; ``(N,H,W,C) -> (N,OH,OW,C)``.

    Padded positions are ignored (a "same" output is always the maximum of real elements).
    NaN wins: a window holding a NaN outputs NaN.
    """
    x, pool, strides, geo = _pool_args(x, pool_size, strides, padding)
    best, _, _ = _max_pool_select(x, pool, strides, geo)
    return best


def max_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid"):
    """Gradient of :func:`max_pool2d` with respect to ``x``, given ``dy = dL/dy``.

    Each ``dy`` element goes to the element its window selected: the first NaN of the window
    in row-major order if there is one, else the first maximal element in row-major order.
    Overlapping windows accumulate into ``dx``.
    """
    x, pool, strides, geo = _pool_args(x, pool_size, strides, padding)
    dy = _image(dy, "dy")
    dtype = _compute_dtype(dy, x)
    x, dy = x.astype(dtype, copy=False), dy.astype(dtype, copy=False)
    _check_dy(dy, (x.shape[0], geo.out_h, geo.out_w, x.shape[3]), x.shape)

    _, best_tap, padded_shape = _max_pool_select(x, pool, strides, geo)
    dxp = np.zeros(padded_shape, dtype)
    zero = dtype.type(0)
    for t, (i, j) in enumerate(_taps(pool)):
        _tap(dxp, i, j, strides, geo)[...] += np.where(best_tap == t, dy, zero)
    h, w = x.shape[1:3]
    return np.ascontiguousarray(
        dxp[:, geo.pad_top:geo.pad_top + h, geo.pad_left:geo.pad_left + w, :])


# --------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------
def _real_counts(in_hw, pool, strides, geo, dtype):
    """(1, OH, OW, 1) number of real (unpadded) elements in each window."""
    real = _pad_hw(np.ones((1,) + tuple(in_hw) + (1,), dtype), geo)
    count = np.zeros((1, geo.out_h, geo.out_w, 1), dtype)
    for i, j in _taps(pool):
        count += _tap(real, i, j, strides, geo)
    return count


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling; ``(N,H,W,C) -> (N,OH,OW,C)``.

    Each output is the sum of the window's real elements divided by their number: padding
    neither adds to the sum nor to the count.
    """
    x, pool, strides, geo = _pool_args(x, pool_size, strides, padding)
    dtype = _compute_dtype(x)
    xp = _pad_hw(x.astype(dtype, copy=False), geo)
    total = np.zeros((x.shape[0], geo.out_h, geo.out_w, x.shape[3]), dtype)
    for i, j in _taps(pool):
        total += _tap(xp, i, j, strides, geo)
    return total / _real_counts(x.shape[1:3], pool, strides, geo, dtype)


def avg_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid"):
    """Gradient of :func:`avg_pool2d` with respect to ``x``, given ``dy = dL/dy``.

    Every real element of a window receives ``dy / count`` (count = real elements in the
    window); overlapping windows accumulate. ``x`` supplies only the shape and dtype.
    """
    x, pool, strides, geo = _pool_args(x, pool_size, strides, padding)
    dy = _image(dy, "dy")
    dtype = _compute_dtype(dy, x)
    dy = dy.astype(dtype, copy=False)
    _check_dy(dy, (x.shape[0], geo.out_h, geo.out_w, x.shape[3]), x.shape)

    share = dy / _real_counts(x.shape[1:3], pool, strides, geo, dtype)
    n, h, w, c = x.shape
    dxp = np.zeros((n, h + geo.pad_top + geo.pad_bottom, w + geo.pad_left + geo.pad_right, c),
                   dtype)
    for i, j in _taps(pool):
        _tap(dxp, i, j, strides, geo)[...] += share
    return np.ascontiguousarray(dxp[:, geo.pad_top:geo.pad_top + h,
                                    geo.pad_left:geo.pad_left + w, :])


# --------------------------------------------------------------------------------------------
# global pooling
# --------------------------------------------------------------------------------------------
def _global_args(x):
    x = _image(x, "x")
    return x.astype(_compute_dtype(x), copy=False)


def _pixels(x):
    """The (N, H*W, C) view of images ``x``: pixels in row-major order."""
    n, h, w, c = x.shape
    return x.reshape(n, h * w, c)


def _global_dy(dy, x):
    dy = np.asarray(dy)
    expected = (x.shape[0], x.shape[3])
    if dy.shape != expected:
        raise ValueError(f"dy must have shape {expected} (the pooled output for x of shape "
                         f"{x.shape}), got {dy.shape}")
    return dy


def global_avg_pool2d(x):
    """The mean of every channel of every image: ``(N,H,W,C) -> (N,C)``."""
    x = _global_args(x)
    return x.sum(axis=(1, 2)) / (x.shape[1] * x.shape[2])


def global_avg_pool2d_backward(dy, x):
    """Gradient of :func:`global_avg_pool2d`: every pixel receives ``dy / (H*W)``.
    ``x`` supplies only the shape and dtype."""
    x = _global_args(x)
    dy = _global_dy(dy, x)
    dtype = _compute_dtype(dy, x)
    n, h, w, c = x.shape
    share = dy.astype(dtype, copy=False) / (h * w)
    return np.ascontiguousarray(np.broadcast_to(share[:, None, None, :], x.shape))


def _global_max_picks(x):
    """(N, C) row-major pixel number of the selected element of every channel: the first NaN
    when the channel holds one, else the first maximal element (ties go to the earliest)."""
    pixels = _pixels(x)
    is_nan = np.isnan(pixels)
    first_nan = np.argmax(is_nan, axis=1)
    # NaN set aside as -inf; np.argmax returns the first of equal maxima
    first_max = np.argmax(np.where(is_nan, -np.inf, pixels), axis=1)
    return np.where(is_nan.any(axis=1), first_nan, first_max)


def global_max_pool2d(x):
    """The maximum of every channel of every image: ``(N,H,W,C) -> (N,C)``. NaN wins: a
    channel holding a NaN gives its first NaN (row-major pixel order)."""
    x = _global_args(x)
    return np.take_along_axis(_pixels(x), _global_max_picks(x)[:, None, :], axis=1)[:, 0, :]


def global_max_pool2d_backward(dy, x):
    """Gradient of :func:`global_max_pool2d` with respect to ``x``: each ``dy[n, c]`` goes to
    the element the forward pass selected (the first NaN, else the first maximum, in
    row-major pixel order); every other element gets 0."""
    x = _global_args(x)
    dy = _global_dy(dy, x)
    dtype = _compute_dtype(dy, x)
    dx = np.zeros(_pixels(x).shape, dtype)
    np.put_along_axis(dx, _global_max_picks(x)[:, None, :],
                      dy.astype(dtype, copy=False)[:, None, :], axis=1)
    return dx.reshape(x.shape)
