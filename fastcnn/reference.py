"""Pure NumPy oracles for the six kernels of ``fastcnn.ops``.

These functions define what the compiled kernels must compute. They are written to be read:
every one is a loop over the taps (i, j) of the window, and each tap works on one strided slice
of the padded input holding that tap's element of every window (``_tap``). Pooling does an
elementwise update per tap; convolution does one GEMM per kernel row, whose KW taps sit side by
side (``_kernel_row_patches``), so BLAS sees K = KW*C even when C is 1 or 3. No whole-kernel
im2col matrix is built, so memory stays within a few times input + output.

Conventions (API.md):
- Images are NHWC ``(N, H, W, C)``; convolution kernels are HWIO ``(KH, KW, C, F)``; bias ``(F,)``.
- ``strides`` / ``pool_size`` are an int or a pair; ``padding`` is "valid" or "same"
  (case-insensitive), with the geometry of :mod:`fastcnn._geometry`, shared with ``ops``.
- Pooling ``strides=None`` means ``strides = pool_size``.
- Computation happens in the dtype NumPy's promotion gives the float inputs, which is the input
  dtype when all inputs share one (float32 in gives float32 out, float64 gives float64). Unlike
  ``ops``, mixed dtypes are accepted; integer or boolean inputs are computed in float64.
- N == 0 is allowed and returns empty arrays of the right shape.
- Inputs are never modified.

NaN and infinities (``fastcnn.ops`` follows these rules; tests/test_ops_fuzz.py checks it):
- Convolution and average pooling apply plain IEEE arithmetic: a NaN (or an inf times zero)
  anywhere in a window makes that output NaN, and gradients follow the same arithmetic over
  exactly the terms of their definition. Zero padding is part of the window: with "same"
  padding, an infinite weight times a padded zero makes a border output (and the matching
  ``dw`` terms) NaN. ``dx`` sums only over real outputs: a position of ``dy`` outside the
  output is not a zero term, so an infinite weight never meets one.
- Max pooling, rule "NaN wins": if any real (unpadded) element of a window is NaN, the output is
  NaN and the backward pass sends that output's gradient to the FIRST NaN of the window in
  row-major order. Otherwise the output is the window's maximum and the gradient goes to the
  first maximal element in row-major order (ties go to the earliest). Padded positions never
  take part: with "same" padding an all-negative (or all ``-inf``) window returns its real
  maximum, never a pad value, and never routes a gradient to a pad.
"""
import numpy as np

from ._geometry import output_geometry, padding_mode, pair

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _compute_dtype(*arrays):
    """Float dtype in which to compute: NumPy promotion of the inputs, float64 if not float."""
    dtype = np.result_type(*arrays)
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"complex inputs are not supported, got {dtype}")
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return dtype


def _image(x, name, dtype=None):
    """``x`` as an ndarray of rank 4 (NHWC); the error names ``name`` and the shape."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name} must have rank 4 (N, H, W, C), got shape {x.shape}")
    return x if dtype is None else x.astype(dtype, copy=False)


def _check_dy(dy, expected_shape, x_shape):
    if dy.shape != tuple(expected_shape):
        raise ValueError(
            f"dy must have shape {tuple(expected_shape)} (the forward output for x of shape "
            f"{x_shape}), got {dy.shape}")


def _pad_hw(a, geo, value=0):
    """Pad the H and W axes of an NHWC array with the padding of ``geo``."""
    return np.pad(a, ((0, 0), (geo.pad_top, geo.pad_bottom), (geo.pad_left, geo.pad_right),
                      (0, 0)), constant_values=value)


def _tap(a, i, j, strides, geo):
    """View of padded NHWC ``a`` holding, for every output pixel, the window element at (i, j).

    The stop ``i + sh * out_h`` (rather than the last index + 1) keeps the slice empty, not
    wrapped around, when out_h == 0.
    """
    sh, sw = strides
    return a[:, i:i + sh * geo.out_h:sh, j:j + sw * geo.out_w:sw, :]


def _kernel_row_patches(xp, i, kw, strides, geo):
    """The (N*OH*OW, KW*C) matrix of what kernel row ``i`` reads: its KW taps side by side.

    Column ``j*C + c`` holds tap (i, j), channel c, matching ``w[i].reshape(KW*C, F)``.
    """
    taps = [_tap(xp, i, j, strides, geo) for j in range(kw)]
    return np.concatenate(taps, axis=3).reshape(-1, kw * xp.shape[3])


def _conv_args(x, w, strides, padding):
    x = _image(x, "x")
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"w must have rank 4 (KH, KW, C, F), got shape {w.shape}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(
            f"w has {w.shape[2]} input channels (shape {w.shape}) but x has {x.shape[3]} "
            f"(shape {x.shape})")
    strides = pair(strides, "strides")
    geo = output_geometry(x.shape[1:3], w.shape[:2], strides, padding_mode(padding), "kernel")
    return x, w, strides, geo


def _pool_args(x, pool_size, strides, padding):
    x = _image(x, "x")
    pool = pair(pool_size, "pool_size")
    strides = pool if strides is None else pair(strides, "strides")
    geo = output_geometry(x.shape[1:3], pool, strides, padding_mode(padding), "pool_size")
    return x, pool, strides, geo


def _taps(kernel_hw):
    """Window positions (i, j) in row-major order: the order that breaks max-pool ties."""
    return [(i, j) for i in range(kernel_hw[0]) for j in range(kernel_hw[1])]


# --------------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------------
def conv2d(x, w, b=None, strides=1, padding="valid"):
    """2-D convolution (cross-correlation, as in Keras): (N,H,W,C) * (KH,KW,C,F) -> (N,OH,OW,F).

    ``y[n, oh, ow, f] = b[f] + sum_{i,j,c} xpad[n, oh*sh + i, ow*sw + j, c] * w[i, j, c, f]``
    where ``xpad`` is ``x`` zero-padded as ``padding`` requires.
    """
    x, w, strides, geo = _conv_args(x, w, strides, padding)
    n, f = x.shape[0], w.shape[3]
    if b is not None:
        b = np.asarray(b)
        if b.shape != (f,):
            raise ValueError(f"b must have shape ({f},) to match w of shape {w.shape}, "
                             f"got {b.shape}")
    dtype = _compute_dtype(x, w) if b is None else _compute_dtype(x, w, b)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)

    xp = _pad_hw(x, geo)
    kh, kw, c, _ = w.shape
    y = np.zeros((n, geo.out_h, geo.out_w, f), dtype)
    y_rows = y.reshape(-1, f)                   # (N*OH*OW, F) view of y
    product = np.empty_like(y_rows)             # reused: fresh memory is slow to touch
    for i in range(kh):
        # one GEMM per kernel row, (N*OH*OW, KW*C) @ (KW*C, F): K = KW*C rather than C
        # keeps BLAS efficient when C is 1 or 3
        np.matmul(_kernel_row_patches(xp, i, kw, strides, geo), w[i].reshape(kw * c, f),
                  out=product)
        y_rows += product
    if b is not None:
        y += b.astype(dtype, copy=False)
    return y


def conv2d_backward(dy, x, w, strides=1, padding="valid"):
    """Gradients of :func:`conv2d`: returns ``(dx, dw, db)`` given ``dy = dL/dy``.

    ``dx`` has the shape of ``x``, ``dw`` the shape of ``w``, ``db`` shape ``(F,)``
    (``db = dy.sum over N, OH, OW``; returned whether or not the forward pass used a bias).
    Per tap (i, j), with ``slice`` the padded input it reads (as in :func:`conv2d`):
    ``dw[i, j] = slice^T @ dy`` and ``dxpad[slice] += dy @ w[i, j]^T``; the padded rows and
    columns of ``dxpad`` are then cropped away. The taps of one kernel row share one GEMM.
    """
    x, w, strides, geo = _conv_args(x, w, strides, padding)
    dy = _image(dy, "dy")
    dtype = _compute_dtype(dy, x, w)
    x, w, dy = (a.astype(dtype, copy=False) for a in (x, w, dy))
    n, h, wd, _ = x.shape
    _check_dy(dy, (n, geo.out_h, geo.out_w, w.shape[3]), x.shape)

    xp = _pad_hw(x, geo)
    kh, kw, c, f = w.shape
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape, dtype)
    dy_rows = np.ascontiguousarray(dy).reshape(-1, f)                 # (N*OH*OW, F)
    dx_row = np.empty((n, geo.out_h, geo.out_w, kw, c), dtype)        # reused per kernel row
    for i in range(kh):
        # (KW*C, N*OH*OW) @ (N*OH*OW, F): kernel row i's weight gradient
        patches = _kernel_row_patches(xp, i, kw, strides, geo)
        dw[i] = (patches.T @ dy_rows).reshape(kw, c, f)
        # (N*OH*OW, F) @ (F, KW*C), then each tap's share is added where that tap read x;
        # windows overlap, so accumulate
        np.matmul(dy_rows, w[i].reshape(kw * c, f).T, out=dx_row.reshape(-1, kw * c))
        for j in range(kw):
            _tap(dxp, i, j, strides, geo)[...] += dx_row[:, :, :, j, :]
    dx = dxp[:, geo.pad_top:geo.pad_top + h, geo.pad_left:geo.pad_left + wd, :]
    db = dy.sum(axis=(0, 1, 2))
    return np.ascontiguousarray(dx), dw, db


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
