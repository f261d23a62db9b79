"""Helpers shared by the oracles: the compute dtype, argument checks, padding and taps."""
import numpy as np


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


def _taps(kernel_hw):
    """Window positions (i, j) in row-major order: the order that breaks max-pool ties."""
    return [(i, j) for i in range(kernel_hw[0]) for j in range(kernel_hw[1])]


