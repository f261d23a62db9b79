"""Checked entry points to the image transforms of the augmentation layers
(fastcnn/_augment.pyx): flips, crops, translations and the bilinear resize of a box, each with
its backward pass.

Private (the layers call them); they follow :mod:`fastcnn.ops`: every argument is checked
here, once, then the compiled code runs to the end with the GIL released on
``fastcnn.get_num_threads()`` threads (one image per thread at a time), with results bitwise
the same at any thread count. Images are NHWC float32 or float64; ``dy`` has the dtype of the
result it is the gradient of. The per-image parameters (flags, offsets, shifts) are drawn by
the caller and given as arrays with one row per image. ``out`` takes a preallocated result,
checked like ``ops``' ``out``. Empty batches are allowed.

Definitions (Keras 3's, see fastcnn/layers/augmentation.py):

- ``flip``: image n upside down where ``flip_rows[n]``, mirrored left-right where
  ``flip_cols[n]``. A flip is its own inverse and its own backward pass.
- ``crop``: ``x[n, top:top + height, left:left + width]`` with (top, left) = ``offsets[n]``;
  backward: dy at the offsets of a zero dx.
- ``translate``: output pixel (i, j) of image n samples the image at
  ``(i - shifts[n, 0], j - shifts[n, 1])`` (a positive shift moves the content down/right).
  A coordinate y = o + d + f (d = floor(-shift), 0 <= f < 1, computed once per image and
  axis): bilinear interpolation reads pixels o + d and o + d + 1 with weights 1 - f and f
  (the weights rounded to the data's dtype; the value is ``wr0 * (wc0 * x00 + wc1 * x01) +
  wr1 * (wc0 * x10 + wc1 * x11)``, every tap included even at weight 0); nearest reads the
  pixel y rounds to (halves away from zero). A tap outside the image reads, by
  ``fill_mode``: "reflect" (d c b a | a b c d | d c b a), "wrap" (a b c d | a b c d |
  a b c d), "nearest" (a a a a | a b c d | d d d d), or "constant" (``fill_value``, rounded to
  the dtype). Backward: the transpose, each output's gradient times each tap's weight added
  to the pixel the tap read; the constant fill receives nothing.
- ``resize``: the box (top, left, box_height, box_width) of every image resized to
  (height, width) by TensorFlow's bilinear resize with half-pixel centres (output o samples
  p = (o + 0.5) * box / size - 0.5, taps floor(p) and ceil(p) clamped to the box, lerp
  t = p - floor(p) rounded to the dtype, values ``top + (bottom - top) * t_row`` with
  ``top = x00 + (x01 - x00) * t_col``, TensorFlow's arithmetic); a box of the output's size
  is copied. Backward: the transpose.
"""
import numbers
import operator

import numpy as np

from fastcnn import _augment, _config
from fastcnn._norm_ops import _x_shape
from fastcnn.ops import _contiguous, _images, _out_array

__all__ = ["FILL_MODES", "INTERPOLATIONS", "flip", "crop", "crop_backward", "translate",
           "translate_backward", "resize", "resize_backward", "center_box"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")
# Shifts beyond this many pixels would lose the integer part of their coordinates.
_MAX_SHIFT = 2.0 ** 52


def _threads():
    return _config.get_num_threads()


# --- arguments ------------------------------------------------------------------------------

def _per_image(a, name, n, columns=None):
    """``a`` as an ndarray with one entry (``columns`` entries) per image of a batch of n."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except ValueError as exc:
            raise ValueError(f"{name} cannot be made into an array: {exc}") from None
    shape = (n,) if columns is None else (n, columns)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one {'row' if columns else 'entry'}"
                         f" per image of a batch of {n}), got {a.shape}")
    return a


def _flags(a, name, n):
    a = _per_image(a, name, n)
    if a.dtype != bool:
        raise TypeError(f"{name} must hold booleans, got an array of dtype {a.dtype}")
    return np.ascontiguousarray(a).view(np.uint8)


def _offsets(offsets, n, x_shape, size):
    """``offsets`` checked as (N, 2) integer (top, left) positions of size-sized windows of
    images of ``x_shape``; returned as contiguous numpy.intp."""
    if size[0] > x_shape[1] or size[1] > x_shape[2]:
        raise ValueError(f"windows of size {tuple(size)} do not fit in images of shape "
                         f"{tuple(x_shape)}")
    offsets = _per_image(offsets, "offsets", n, 2)
    if not np.issubdtype(offsets.dtype, np.integer):
        raise TypeError(f"offsets must hold integers, got an array of dtype {offsets.dtype}")
    limit = (x_shape[1] - size[0], x_shape[2] - size[1])
    if offsets.size and ((offsets < 0).any() or (offsets[:, 0] > limit[0]).any()
                         or (offsets[:, 1] > limit[1]).any()):
        raise ValueError(f"offsets must be in [0, {limit[0]}] x [0, {limit[1]}] (windows of "
                         f"size {tuple(size)} in images of shape {tuple(x_shape)}), got values "
                         f"from {offsets.min(axis=0).tolist()} to {offsets.max(axis=0).tolist()}")
    return np.ascontiguousarray(offsets, dtype=np.intp)


def _size(size, name="size"):
    """A (height, width) pair of positive ints."""
    try:
        h, w = (operator.index(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of ints (height, width), got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"{name} must hold positive ints, got {size!r}")
    return h, w


def _choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got "
                         f"{value!r}")
    return value


def _shifts(shifts, n):
    shifts = _per_image(shifts, "shifts", n, 2)
    if not (np.issubdtype(shifts.dtype, np.floating) or np.issubdtype(shifts.dtype, np.integer)):
        raise TypeError(f"shifts must hold real numbers, got an array of dtype {shifts.dtype}")
    shifts = np.ascontiguousarray(shifts, dtype=np.float64)
    if not (np.abs(shifts) <= _MAX_SHIFT).all():
        raise ValueError(f"shifts must be finite numbers of pixels of magnitude at most 2**52, "
                         f"got {shifts[~(np.abs(shifts) <= _MAX_SHIFT)][0]!r}")
    return shifts


def _box(box, x_shape):
    """(top, left, height, width) of a box inside images of ``x_shape``."""
    try:
        top, left, h, w = (operator.index(v) for v in box)
    except (TypeError, ValueError):
        raise TypeError(f"box must be 4 ints (top, left, height, width), got {box!r}") from None
    if not (0 <= top and 0 <= left and h >= 1 and w >= 1 and top + h <= x_shape[1]
            and left + w <= x_shape[2]):
        raise ValueError(f"box {tuple(box)!r} (top, left, height, width) must lie inside "
                         f"images of shape {tuple(x_shape)} and be non-empty")
    return top, left, h, w


def _check_done(done, what):
    if not done:
        raise MemoryError(f"{what}: the per-image interpolation tables could not be allocated")


# --- flips ----------------------------------------------------------------------------------

def flip(x, flip_rows, flip_cols, *, out=None):
    """Image n of ``x`` upside down where ``flip_rows[n]`` and mirrored left-right where
    ``flip_cols[n]`` (boolean arrays of N entries). Its own backward pass: flip dy alike."""
    x = _images(x)
    n = x.shape[0]
    rows, cols = _flags(flip_rows, "flip_rows", n), _flags(flip_cols, "flip_cols", n)
    y = _out_array(out, x.shape, x.dtype, [("x", x)], result="the result of flip")
    _augment.flip_images(_contiguous(x, "x"), rows, cols, y, _threads())
    return y


# --- crops ----------------------------------------------------------------------------------

def crop(x, offsets, size, *, out=None):
    """``x[n, top:top + height, left:left + width]`` for every image n, (top, left) =
    ``offsets[n]`` (an (N, 2) integer array), (height, width) = ``size``."""
    x = _images(x)
    size = _size(size)
    offsets = _offsets(offsets, x.shape[0], x.shape, size)
    y = _out_array(out, (x.shape[0],) + size + (x.shape[3],), x.dtype, [("x", x)],
                   result="the result of crop")
    _augment.crop_images(_contiguous(x, "x"), offsets, y, _threads())
    return y


def crop_backward(dy, offsets, x_shape, *, out=None):
    """dx of shape ``x_shape``: zero, with dy[n] at the window ``offsets[n]`` of image n."""
    x_shape = _x_shape(x_shape)
    dy = _images(dy, "dy")
    if dy.shape[0] != x_shape[0] or dy.shape[3] != x_shape[3]:
        raise ValueError(f"dy (shape {dy.shape}) must have the batch and channels of x_shape "
                         f"{x_shape}")
    offsets = _offsets(offsets, x_shape[0], x_shape, dy.shape[1:3])
    dx = _out_array(out, x_shape, dy.dtype, [("dy", dy)], result="dx")
    _augment.crop_images_backward(_contiguous(dy, "dy"), offsets, dx, _threads())
    return dx


# --- translations ---------------------------------------------------------------------------

def translate(x, shifts, fill_mode="reflect", interpolation="bilinear", fill_value=0.0, *,
              out=None):
    """Image n of ``x`` moved by ``shifts[n]`` = (rows, columns) pixels (real numbers; positive
    moves the content down and right), interpolated and filled as the module docstring
    says."""
    x = _images(x)
    shifts = _shifts(shifts, x.shape[0])
    mode = _augment.FILL_MODES.index(_choice(fill_mode, "fill_mode", FILL_MODES))
    bilinear = _choice(interpolation, "interpolation", INTERPOLATIONS) == "bilinear"
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
        raise TypeError(f"fill_value must be a real number, got {fill_value!r}")
    fill = np.full(x.shape[2] * x.shape[3], fill_value, x.dtype)
    y = _out_array(out, x.shape, x.dtype, [("x", x)], result="the result of translate")
    _check_done(_augment.translate_images(_contiguous(x, "x"), shifts, mode, bilinear, fill, y,
                                          _threads()), "translate")
    return y


def translate_backward(dy, shifts, fill_mode="reflect", interpolation="bilinear", *, out=None):
    """The gradient of :func:`translate` with respect to x, for the gradient ``dy`` of its
    output (the same shifts, fill mode and interpolation)."""
    dy = _images(dy, "dy")
    shifts = _shifts(shifts, dy.shape[0])
    mode = _augment.FILL_MODES.index(_choice(fill_mode, "fill_mode", FILL_MODES))
    bilinear = _choice(interpolation, "interpolation", INTERPOLATIONS) == "bilinear"
    dx = _out_array(out, dy.shape, dy.dtype, [("dy", dy)], result="dx")
    _check_done(_augment.translate_images_backward(_contiguous(dy, "dy"), shifts, mode,
                                                   bilinear, dx, _threads()),
                "translate_backward")
    return dx


# --- resize of a box ------------------------------------------------------------------------

def center_box(image_size, size):
    """The box (top, left, height, width) that Keras' ``crop_to_aspect_ratio`` takes from
    images of ``image_size`` (height, width) before resizing them to ``size``: the largest
    centred box of the target's aspect ratio (at least one pixel each way)."""
    (ih, iw), (h, w) = _size(image_size, "image_size"), _size(size)
    box_h = max(min(ih, int(float(iw * h) / w)), 1)
    box_w = max(min(iw, int(float(ih * w) / h)), 1)
    return int(float(ih - box_h) / 2), int(float(iw - box_w) / 2), box_h, box_w


def resize(x, box, size, *, out=None):
    """The ``box`` (top, left, height, width) of every image of ``x`` resized to ``size``
    (height, width), bilinear with half-pixel centres; a box of that size is copied."""
    x = _images(x)
    top, left, box_h, box_w = _box(box, x.shape)
    size = _size(size)
    y = _out_array(out, (x.shape[0],) + size + (x.shape[3],), x.dtype, [("x", x)],
                   result="the result of resize")
    x = _contiguous(x, "x")
    if (box_h, box_w) == size:
        _augment.crop_images(x, np.tile(np.array([top, left], np.intp), (x.shape[0], 1)), y,
                             _threads())
    else:
        _augment.resize_images(x, top, left, box_h, box_w, y, _threads())
    return y


def resize_backward(dy, box, x_shape, *, out=None):
    """The gradient of :func:`resize` with respect to x (of shape ``x_shape``) for the
    gradient ``dy`` of its output."""
    x_shape = _x_shape(x_shape)
    dy = _images(dy, "dy")
    if dy.shape[0] != x_shape[0] or dy.shape[3] != x_shape[3]:
        raise ValueError(f"dy (shape {dy.shape}) must have the batch and channels of x_shape "
                         f"{x_shape}")
    top, left, box_h, box_w = _box(box, x_shape)
    dx = _out_array(out, x_shape, dy.dtype, [("dy", dy)], result="dx")
    dy = _contiguous(dy, "dy")
    if (box_h, box_w) == dy.shape[1:3]:
        _augment.crop_images_backward(
            dy, np.tile(np.array([top, left], np.intp), (x_shape[0], 1)), dx, _threads())
    else:
        _augment.resize_images_backward(dy, top, left, box_h, box_w, dx, _threads())
    return dx
