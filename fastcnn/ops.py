"""Convolution and pooling kernels on NumPy arrays (NHWC images, HWIO kernels).

Every argument is checked here, once; the compiled drivers behind these functions then run
to the end with the GIL released. The functions are strict: ``x``, ``w``, ``b`` and ``dy``
must share one float dtype (float32 or float64). Non-contiguous or read-only inputs are
copied when needed and never modified.
"""
import numpy as np

from fastcnn import _config, _conv, _pool
from fastcnn._geometry import output_geometry, padding_mode, pair

__all__ = ["conv2d", "conv2d_backward", "conv2d_backward_weight", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
           "avg_pool2d_backward"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _float_array(a, name, dtype=None):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64, "
                        f"got {type(a).__name__}")
    if a.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but x has dtype {dtype}; "
                        f"fastcnn.ops needs one float dtype for all arguments")
    return a


def _images(x, name="x"):
    x = _float_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (batch, height, width, channels), "
                         f"got shape {x.shape}")
    if min(x.shape[1:]) < 1:
        raise ValueError(f"{name} must have positive height, width and channels, "
                         f"got shape {x.shape}")
    return x


def _contiguous(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _conv_args(x, w, strides, padding):
    x = _images(x)
    w = _float_array(w, "w", x.dtype)
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (kernel_h, kernel_w, in_channels, filters), "
                         f"got shape {w.shape}")
    if min(w.shape) < 1:
        raise ValueError(f"w must have positive sizes, got shape {w.shape}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"w expects {w.shape[2]} input channels (w shape {w.shape}) but x "
                         f"has {x.shape[3]} (x shape {x.shape})")
    sh, sw = pair(strides, "strides")
    geom = output_geometry(x.shape[1:3], w.shape[:2], (sh, sw), padding_mode(padding),
                           kernel_name=f"kernel of w shape {w.shape}")
    return x, w, (sh, sw), geom


def _check_dy(dy, expected, dtype):
    dy = _float_array(dy, "dy", dtype)
    if dy.shape != expected:
        raise ValueError(f"dy must have shape {expected} (the output's), got {dy.shape}")
    return dy


def conv2d(x, w, b=None, strides=1, padding="valid"):
    """2-D convolution (cross-correlation, as in Keras) of NHWC ``x`` with HWIO ``w``.

    x: (N, H, W, C); w: (KH, KW, C, F); b: None or (F,). Returns (N, OH, OW, F) in x's dtype.
    ``padding`` "valid" or "same" with TensorFlow's rule (the smaller half of the padding on
    top/left).
    """
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    if b is not None:
        b = _float_array(b, "b", x.dtype)
        if b.shape != (w.shape[3],):
            raise ValueError(f"b must have shape ({w.shape[3]},) (one per filter of w shape "
                             f"{w.shape}), got {b.shape}")
        b = _contiguous(b)
    return _conv.conv2d_forward(_contiguous(x), _contiguous(w), b, sh, sw, g.pad_top,
                                g.pad_left, g.out_h, g.out_w, False, _config.get_num_threads())


def conv2d_backward(dy, x, w, strides=1, padding="valid"):
    """Gradients of ``conv2d`` for the output gradient ``dy``: (dx, dw, db).

    dx is shaped like x, dw like w, db is (F,) (returned also when the layer has no bias).
    """
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, w.shape[3]), x.dtype)
    return _conv.conv2d_backward(_contiguous(dy), _contiguous(x), _contiguous(w), sh, sw,
                                 g.pad_top, g.pad_left, True, _config.get_num_threads())


def conv2d_backward_weight(dy, x, w, strides=1, padding="valid"):
    """Weight gradients of ``conv2d`` only: (dw, db). What a first layer needs, which has no
    use for the gradient of the model input."""
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, w.shape[3]), x.dtype)
    _, dw, db = _conv.conv2d_backward(_contiguous(dy), _contiguous(x), _contiguous(w), sh, sw,
                                      g.pad_top, g.pad_left, False, _config.get_num_threads())
    return dw, db


def _pool_args(x, pool_size, strides, padding):
    x = _images(x)
    kh, kw = pair(pool_size, "pool_size")
    sh, sw = (kh, kw) if strides is None else pair(strides, "strides")
    g = output_geometry(x.shape[1:3], (kh, kw), (sh, sw), padding_mode(padding),
                        kernel_name="pool_size")
    return x, (kh, kw), (sh, sw), g


def _pool_output(out, shape, dtype, inputs):
    """``out`` checked as the destination of a result of ``shape`` and ``dtype``, or a new array
    when it is None. ``inputs`` are the (name, array) pairs it must not overlap."""
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray of shape {shape} and dtype {dtype}, "
                        f"got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype} but the result has dtype {dtype} "
                        f"(shape {shape})")
    if out.shape != shape:
        raise ValueError(f"out must have the result's shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous (shape {out.shape}, strides {out.strides})")
    if not out.flags.writeable:
        raise ValueError(f"out must be writeable (shape {out.shape})")
    for name, a in inputs:
        if np.shares_memory(out, a):
            raise ValueError(f"out (shape {out.shape}) overlaps {name} (shape {a.shape}); "
                             f"it must be a separate array")
    return out


def max_pool2d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Max pooling of NHWC ``x``; ``strides=None`` means ``pool_size``. Padded positions never
    win; a window holding a NaN gives NaN.

    ``out``: optional C-contiguous, writeable array of the result's shape and dtype, not
    overlapping ``x``, that receives the result and is returned (lets a caller reuse a buffer).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    y = _pool_output(out, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype, [("x", x)])
    _pool.max_pool2d_forward(_contiguous(x), y, kh, kw, sh, sw, g.pad_top, g.pad_left,
                             _config.get_num_threads())
    return y


def max_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of ``max_pool2d``: each output gradient goes to the first maximal element of
    its window (row-major order; the first NaN when there is one); overlaps accumulate.

    ``out``: optional array shaped like ``x`` that receives dx (see ``max_pool2d``).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype)
    dx = _pool_output(out, x.shape, x.dtype, [("dy", dy), ("x", x)])
    _pool.max_pool2d_backward(_contiguous(dy), _contiguous(x), dx, kh, kw, sh, sw, g.pad_top,
                              g.pad_left, _config.get_num_threads())
    return dx


def avg_pool2d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Average pooling of NHWC ``x``, dividing by the number of real (unpadded) inputs.

    ``out``: optional array of the result's shape that receives it (see ``max_pool2d``).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    y = _pool_output(out, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype, [("x", x)])
    _pool.avg_pool2d_forward(_contiguous(x), y, kh, kw, sh, sw, g.pad_top, g.pad_left,
                             _config.get_num_threads())
    return y


def avg_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of ``avg_pool2d`` (``x`` gives only the shape and dtype).

    ``out``: optional array shaped like ``x`` that receives dx (see ``max_pool2d``).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype)
    dx = _pool_output(out, x.shape, x.dtype, [("dy", dy), ("x", x)])
    _pool.avg_pool2d_backward(_contiguous(dy), dx, kh, kw, sh, sw, g.pad_top, g.pad_left,
                              _config.get_num_threads())
    return dx
