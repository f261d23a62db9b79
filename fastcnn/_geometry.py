"""Argument normalisation and output geometry shared by ``ops`` and ``reference``.

Keras/TensorFlow semantics (see API.md):
  valid: out = (in - k) // s + 1, and the window must fit;
  same:  out = ceil(in / s), total padding max((out - 1) * s + k - in, 0), the smaller half
         on top/left.
"""
import numbers

import numpy as np

__all__ = ["pair", "padding_mode", "output_geometry", "Geometry"]


# Window sizes and strides up to TensorFlow's int32 limit; far beyond any image, and small
# enough that no index computed from them can overflow 64 bits.
MAX_WINDOW = 2**31 - 1


def pair(value, name):
    """An int or a pair of ints -> (int, int), each in [1, MAX_WINDOW]; errors name ``name``."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        items = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        items = tuple(value)
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (numbers.Integral, np.integer)):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if item < 1:
            raise ValueError(f"{name} must be positive, got {value!r}")
        if item > MAX_WINDOW:
            raise ValueError(f"{name} must be at most {MAX_WINDOW}, got {value!r}")
        out.append(int(item))
    return out[0], out[1]


def padding_mode(padding):
    """'valid' or 'same' (case-insensitive) -> lower-case string."""
    if not isinstance(padding, str):
        raise TypeError(f"padding must be 'valid' or 'same', got {padding!r}")
    mode = padding.lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return mode


class Geometry:
    """Output size and padding of a sliding window over an (H, W) image."""

    __slots__ = ("out_h", "out_w", "pad_top", "pad_left", "pad_bottom", "pad_right")

    def __init__(self, out_h, out_w, pad_top, pad_left, pad_bottom, pad_right):
        self.out_h, self.out_w = out_h, out_w
        self.pad_top, self.pad_left = pad_top, pad_left
        self.pad_bottom, self.pad_right = pad_bottom, pad_right

    def __repr__(self):
        return ("Geometry(out=(%d, %d), pad_top=%d, pad_left=%d, pad_bottom=%d, pad_right=%d)"
                % (self.out_h, self.out_w, self.pad_top, self.pad_left,
                   self.pad_bottom, self.pad_right))


def _axis(size, k, s, mode):
    if mode == "valid":
        if size < k:
            return None
        return (size - k) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def output_geometry(in_hw, kernel_hw, strides_hw, mode, kernel_name="kernel"):
    """Geometry of a window ``kernel_hw`` sliding with ``strides_hw`` over ``in_hw``.

    ``mode`` must already be normalised by :func:`padding_mode`. Raises ValueError when the
    window does not fit a "valid" input; the message names ``kernel_name`` and the shapes.
    """
    h = _axis(in_hw[0], kernel_hw[0], strides_hw[0], mode)
    w = _axis(in_hw[1], kernel_hw[1], strides_hw[1], mode)
    if h is None or w is None:
        raise ValueError(
            f"{kernel_name} {tuple(kernel_hw)} does not fit the input of spatial size "
            f"{tuple(in_hw)} with padding='valid'")
    return Geometry(h[0], w[0], h[1], w[1], h[2], w[2])
