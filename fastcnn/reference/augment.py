"""Augmentation oracles: the transforms of Keras 3's RandomFlip, RandomCrop and
RandomTranslation with their random parameters given, and their gradients.

- ``flip``: ``numpy.flip`` of the chosen images along rows and/or columns.
- ``crop``: slices ``x[n, top:top + h, left:left + w]``.
- ``translate``: Keras' ``affine_transform`` of a translation as its NumPy backend computes
  it: the image is extended beyond its edges by the fill mode (``numpy.pad`` modes
  "symmetric" for reflect, "wrap", "edge" for nearest, "constant"), and output pixel (i, j)
  interpolates the extended image at (i - shift_rows, j - shift_cols), bilinearly (weights
  1 - f and f of the coordinates' fractions f, every tap included) or at the nearest pixel
  (halves rounded away from zero). Here the extension is done on pixel indices (which pixel
  each extended position shows, -1 for the fill value), so that the gradient can follow them
  back.
- ``resize``: TensorFlow's bilinear resize with half-pixel centres of a box of every image,
  in its own arithmetic (``top + (bottom - top) * y_lerp`` of ``left + (right - left) *
  x_lerp``); a box of the output's size is returned as it is.

Gradients are the transposes, accumulated with ``numpy.add.at``. Values are computed in the
inputs' dtype (float64 for the oracle comparisons of the tests).
"""
import numpy as np

from ._common import _compute_dtype, _image

_PAD_MODES = {"reflect": "symmetric", "wrap": "wrap", "nearest": "edge", "constant": "constant"}


def flip(x, flip_rows, flip_cols):
    """Image n upside down where flip_rows[n], mirrored left-right where flip_cols[n]."""
    x = _image(x, "x")
    out = x.astype(_compute_dtype(x), copy=True)
    rows, cols = np.asarray(flip_rows, bool), np.asarray(flip_cols, bool)
    out[rows] = np.flip(out[rows], axis=1)
    out[cols] = np.flip(out[cols], axis=2)
    return out


def crop(x, offsets, size):
    """x[n, top:top + h, left:left + w] for every image n, (top, left) = offsets[n]."""
    x = _image(x, "x")
    h, w = size
    out = np.empty((len(x), h, w, x.shape[3]), _compute_dtype(x))
    for n, (top, left) in enumerate(offsets):
        out[n] = x[n, top:top + h, left:left + w]
    return out


def crop_backward(dy, offsets, x_shape):
    """Zero, with dy[n] at the window offsets[n] of image n."""
    dx = np.zeros(x_shape, _compute_dtype(dy))
    h, w = dy.shape[1:3]
    for n, (top, left) in enumerate(offsets):
        dx[n, top:top + h, left:left + w] = dy[n]
    return dx


def _source_index(positions, size, fill_mode):
    """Which pixel of an axis of ``size`` pixels the extended image shows at integer
    ``positions`` (any integers), -1 for the constant fill."""
    pad = int(np.max(np.abs(positions))) + 1 if positions.size else 0
    if fill_mode == "constant":
        extended = np.pad(np.arange(size), pad, constant_values=-1)
    else:
        extended = np.pad(np.arange(size), pad, mode=_PAD_MODES[fill_mode])
    return extended[positions + pad]


def _taps(size, shift, fill_mode, interpolation):
    """Per output position of one axis: the taps' source indices (k, size) and weights."""
    coords = np.arange(size) - shift
    if interpolation == "nearest":
        nearest = np.where(coords >= 0, np.floor(coords + 0.5), np.ceil(coords - 0.5))
        return _source_index(nearest.astype(np.intp)[None], size, fill_mode), np.ones((1, size))
    low = np.floor(coords)
    frac = coords - low
    positions = np.stack([low, low + 1]).astype(np.intp)
    return _source_index(positions, size, fill_mode), np.stack([1 - frac, frac])


def _translation_terms(shape, shifts, fill_mode, interpolation):
    """For image n: a list of (row index, column index, weight) arrays of shape (H, W), one
    per tap pair (the rows' taps outer, columns' inner)."""
    _, h, w, _ = shape
    for n, (shift_rows, shift_cols) in enumerate(np.asarray(shifts, np.float64)):
        rows, row_w = _taps(h, shift_rows, fill_mode, interpolation)
        cols, col_w = _taps(w, shift_cols, fill_mode, interpolation)
        yield n, [(rows[a][:, None], cols[b][None, :], row_w[a][:, None], col_w[b][None, :])
                  for a in range(len(rows)) for b in range(len(cols))]


def translate(x, shifts, fill_mode="reflect", interpolation="bilinear", fill_value=0.0):
    """Image n moved by shifts[n] = (rows, columns) pixels; see the module docstring."""
    x = _image(x, "x")
    dtype = _compute_dtype(x)
    out = np.empty(x.shape, dtype)
    for n, terms in _translation_terms(x.shape, shifts, fill_mode, interpolation):
        values = []
        for r, c, wr, wc in terms:
            inside = (r >= 0) & (c >= 0)
            v = np.where(inside[..., None], x[n][np.maximum(r, 0), np.maximum(c, 0)],
                         fill_value).astype(dtype)
            values.append((v, wr[..., None].astype(dtype), wc[..., None].astype(dtype)))
        if len(values) == 1:
            out[n] = values[0][0]
            continue
        (v00, r0, c0), (v01, _, c1), (v10, r1, _), (v11, _, _) = values
        out[n] = r0 * (c0 * v00 + c1 * v01) + r1 * (c0 * v10 + c1 * v11)
    return out


def translate_backward(dy, shifts, fill_mode="reflect", interpolation="bilinear"):
    """The gradient of ``translate`` with respect to x for the gradient dy of its output."""
    dy = _image(dy, "dy")
    dx = np.zeros(dy.shape, _compute_dtype(dy))
    for n, terms in _translation_terms(dy.shape, shifts, fill_mode, interpolation):
        for r, c, wr, wc in terms:
            r, c = np.broadcast_arrays(r, c)
            inside = (r >= 0) & (c >= 0)
            np.add.at(dx[n], (r[inside], c[inside]), (dy[n] * (wr * wc)[..., None])[inside])
    return dx


def _resize_axis(box_size, size):
    """TensorFlow's half-pixel bilinear taps (low, high) and lerp of one axis."""
    p = (np.arange(size) + 0.5) * (box_size / size) - 0.5
    low = np.floor(p)
    return (np.maximum(low, 0).astype(np.intp),
            np.minimum(np.ceil(p), box_size - 1).astype(np.intp), p - low)


def resize(x, box, size):
    """The box (top, left, height, width) of every image resized to size (height, width)."""
    x = _image(x, "x")
    top, left, bh, bw = box
    b = x[:, top:top + bh, left:left + bw].astype(_compute_dtype(x))
    if (bh, bw) == tuple(size):
        return b.copy()
    (r0, r1, ry), (c0, c1, cx) = _resize_axis(bh, size[0]), _resize_axis(bw, size[1])
    ry, cx = ry[None, :, None, None], cx[None, None, :, None]
    upper = b[:, r0][:, :, c0] + (b[:, r0][:, :, c1] - b[:, r0][:, :, c0]) * cx
    lower = b[:, r1][:, :, c0] + (b[:, r1][:, :, c1] - b[:, r1][:, :, c0]) * cx
    return upper + (lower - upper) * ry


def resize_backward(dy, box, x_shape):
    """The gradient of ``resize`` with respect to x (of x_shape) for the gradient dy."""
    dy = _image(dy, "dy")
    top, left, bh, bw = box
    dx = np.zeros(x_shape, _compute_dtype(dy))
    if (bh, bw) == dy.shape[1:3]:
        dx[:, top:top + bh, left:left + bw] = dy
        return dx
    (r0, r1, ry), (c0, c1, cx) = _resize_axis(bh, dy.shape[1]), _resize_axis(bw, dy.shape[2])
    for rows, wr in ((r0, 1 - ry), (r1, ry)):
        for cols, wc in ((c0, 1 - cx), (c1, cx)):
            grad = dy * (wr[:, None] * wc[None, :])[None, :, :, None]
            for i, r in enumerate(rows):
                for j, c in enumerate(cols):
                    dx[:, top + r, left + c] += grad[:, i, j]
    return dx
