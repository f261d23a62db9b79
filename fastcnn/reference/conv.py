"""Convolution oracles: ``conv2d`` and ``conv2d_backward``.

One GEMM per kernel row: its KW taps sit side by side (``_kernel_row_patches``), so BLAS sees
K = KW*C even when C is 1 or 3, and no whole-kernel im2col matrix is built.
"""
import numpy as np

from .._geometry import output_geometry, padding_mode, pair
from ._common import _check_dy, _compute_dtype, _image, _pad_hw, _tap


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


