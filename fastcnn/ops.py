"""Convolution and pooling kernels on NumPy arrays (NHWC images, HWIO kernels).

Every argument is checked here, once; the compiled drivers behind these functions then run
to the end with the GIL released. The functions are strict: ``x``, ``w``, ``b`` and ``dy``
must share one float dtype (float32 or float64). Non-contiguous, unaligned, zero-stride
(broadcast) or read-only inputs are copied when needed and never modified; every result is
allocated here, so a result or copy too large for memory is a MemoryError naming it.

NaN and infinities propagate as in :mod:`fastcnn.reference`, which defines them:
convolution, average pooling and their gradients follow IEEE arithmetic over exactly the
terms of their definition (zero padding included: ``0 * inf`` is NaN in a padded window;
``dx`` has no terms for positions outside ``dy``), max pooling returns the window's first
NaN if it holds one, and its gradient goes to that NaN. A fused ReLU keeps NaN
(``max(NaN, 0)`` is NaN), and ``relu_output`` masks dy where the output is not > 0 (NaN
included).
"""
import math

import numpy as np

from fastcnn import _config, _elementwise, _kernels
from fastcnn._geometry import output_geometry, padding_mode, pair

__all__ = ["conv2d", "conv2d_backward", "conv2d_backward_weight", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
           "avg_pool2d_backward"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _float_array(a, name, dtype=None):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64, "
                        f"got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array, whose mask fastcnn.ops would ignore; pass "
                        f"{name}.filled(value) or {name}.data")
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


def _contiguous(a, name):
    """``a`` itself when it is C-contiguous and aligned (what the kernels read), else a copy
    that is (zero-stride broadcast views are copied too)."""
    if a.flags.c_contiguous and a.flags.aligned:
        return a
    try:
        return np.require(a, requirements=("C", "A"))
    except (MemoryError, ValueError) as exc:
        raise MemoryError(f"{name} (shape {a.shape}, strides {a.strides}) must be copied into "
                          f"C order, and {a.size} elements of {a.dtype} cannot be allocated "
                          f"({exc})") from None


def _new_array(shape, dtype, what):
    """An uninitialised result array; a failure names the result and its shape."""
    try:
        return np.empty(shape, dtype)
    except (MemoryError, ValueError) as exc:
        count = math.prod(shape)
        raise MemoryError(f"{what} would have shape {tuple(shape)} ({count} elements of "
                          f"{np.dtype(dtype)}), which cannot be allocated ({exc})") from None


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


def _bias(b, x, w):
    """None, or b checked as the (F,) bias of w's filters, contiguous."""
    if b is None:
        return None
    b = _float_array(b, "b", x.dtype)
    if b.shape != (w.shape[3],):
        raise ValueError(f"b must have shape ({w.shape[3]},) (one per filter of w shape "
                         f"{w.shape}), got {b.shape}")
    return _contiguous(b, "b")


def _out_array(out, shape, dtype, inputs, name="out", result="the result"):
    """``out`` checked as the destination of ``result`` of ``shape`` and ``dtype`` (a
    writeable, aligned, C-contiguous ndarray sharing no memory with the (name, array) pairs
    ``inputs``), or a new array when it is None."""
    shape = tuple(shape)
    if out is None:
        return _new_array(shape, dtype, result)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of shape {shape} and dtype {dtype}, "
                        f"got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype} but the result has dtype {dtype} "
                        f"(shape {shape})")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape}, the result has shape {shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (shape {out.shape}, strides "
                         f"{out.strides})")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable (shape {out.shape})")
    if not out.flags.aligned:
        raise ValueError(f"{name} must be aligned to its dtype {dtype} (shape {out.shape})")
    for input_name, a in inputs:
        if a is not None and _overlap(out, a):
            raise ValueError(f"{name} (shape {out.shape}) overlaps {input_name} (shape "
                             f"{a.shape}): they must not share memory")
    return out


def _overlap(a, b):
    """Whether a and b share memory; an overlap too costly to rule out counts as one."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return np.shares_memory(a, b, max_work=100_000)
    except np.exceptions.TooHardError:
        return True


def _out_tuple(out, results, dtype, inputs):
    """``out`` for a function of several results, given as (name, shape) pairs: None, or a
    tuple with one array (or None) per result, each checked by :func:`_out_array`; the
    results without an array get new ones."""
    if out is None:
        out = (None,) * len(results)
    if not isinstance(out, tuple) or len(out) != len(results):
        raise TypeError(f"out must be a tuple of {len(results)} arrays (or None), got {out!r}")
    checked = []
    for i, (o, (result, shape)) in enumerate(zip(out, results)):
        others = tuple(inputs) + tuple((f"out[{j}]", c) for j, c in enumerate(checked))
        checked.append(_out_array(o, shape, dtype, others, f"out[{i}]", result))
    return tuple(checked)


def _check_dy(dy, expected, dtype, name="dy", whose="the output's"):
    """dy (or another array shaped like a result, ``name``) checked: a float array of
    ``dtype`` (any float dtype when None) and shape ``expected``."""
    dy = _float_array(dy, name, dtype)
    if dy.shape != expected:
        raise ValueError(f"{name} must have shape {expected} ({whose}), got {dy.shape}")
    return dy


def conv2d(x, w, b=None, strides=1, padding="valid", *, activation=None, out=None):
    """2-D convolution (cross-correlation, as in Keras) of NHWC ``x`` with HWIO ``w``.

    x: (N, H, W, C); w: (KH, KW, C, F); b: None or (F,). Returns (N, OH, OW, F) in x's dtype.
    ``padding`` "valid" or "same" with TensorFlow's rule (the smaller half of the padding on
    top/left). ``activation``: None/"linear", or "relu" applied in the same pass.
    ``out``: an array of the result's shape and dtype to write the result into.
    """
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    relu = _fused_activation(activation)
    b = _bias(b, x, w)
    y = _out_array(out, (x.shape[0], g.out_h, g.out_w, w.shape[3]), x.dtype,
                   (("x", x), ("w", w), ("b", b)), result="the result of conv2d")
    if _pointwise(w, sh, sw):
        x2 = _contiguous(x, "x").reshape(-1, w.shape[2])
        w2 = _contiguous(w, "w").reshape(w.shape[2:])
        _kernels.gemm(x2, w2, y.reshape(-1, w.shape[3]), False, False, b, False, relu,
                   _config.get_num_threads())
        return y
    return _kernels.conv2d_forward(_contiguous(x, "x"), _contiguous(w, "w"), b, sh, sw, g.pad_top,
                                g.pad_left, g.out_h, g.out_w, relu, _config.get_num_threads(), y)


def _pointwise(w, sh, sw):
    """A 1x1 kernel at stride 1 (no padding either way) is a plain product over pixels:
    (N*H*W, C) @ (C, F), run on the GEMM core."""
    return w.shape[0] == 1 and w.shape[1] == 1 and sh == 1 and sw == 1


def _pointwise_backward(dy, x, w, need_dx, relu_output, dx, dw, db):
    """conv2d_backward of a pointwise convolution as matrix products (dw = X^T dY,
    dx = dY W^T) on the GEMM core."""
    c, f = w.shape[2], w.shape[3]
    threads = _config.get_num_threads()
    dy2 = _contiguous(dy, "dy").reshape(-1, f)
    if relu_output is not None:
        masked = _new_array(dy2.shape, dy2.dtype, "the masked copy of dy")
        _elementwise.relu_backward(dy2.reshape(-1), relu_output.reshape(-1), masked.reshape(-1),
                                   threads)
        dy2 = masked
    _kernels.gemm(_contiguous(x, "x").reshape(-1, c), dy2, dw.reshape(c, f), True, False, None,
               False, False, threads)
    np.sum(dy2, axis=0, out=db)
    if need_dx:
        _kernels.gemm(dy2, _contiguous(w, "w").reshape(c, f), dx.reshape(-1, c), False, True, None,
                   False, False, threads)
    return dx, dw, db


def _fused_activation(activation):
    if activation is None or activation == "linear":
        return False
    if activation == "relu":
        return True
    raise ValueError(f"activation must be None, 'linear' or 'relu', got {activation!r}")


def conv2d_backward(dy, x, w, strides=1, padding="valid", *, out=None):
    """Gradients of ``conv2d`` for the output gradient ``dy``: (dx, dw, db).

    dx is shaped like x, dw like w, db is (F,) (returned also when the layer has no bias).
    ``out``: a tuple (dx, dw, db) of arrays (or None) to write the results into.
    """
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, w.shape[3]), x.dtype)
    dx, dw, db = _out_tuple(out, (("dx", x.shape), ("dw", w.shape), ("db", (w.shape[3],))),
                            x.dtype, (("dy", dy), ("x", x), ("w", w)))
    if _pointwise(w, sh, sw):
        return _pointwise_backward(dy, x, w, True, None, dx, dw, db)
    # dx's stride-phase GEMMs multiply w by zeros standing for dy outside the output, and
    # 0 * inf is NaN where dx has no term: with an inf or NaN in w the driver redoes the pixels
    # that read such a zero over the real dy positions only.
    _kernels.conv2d_backward(_contiguous(dy, "dy"), _contiguous(x, "x"), _contiguous(w, "w"), sh,
                          sw, g.pad_top, g.pad_left, True, _config.get_num_threads(), dx, dw, db,
                          w_finite=_all_finite(w))
    return dx, dw, db


def _all_finite(a):
    """Whether every element of ``a`` is finite (a sum is finite unless an element is inf or
    NaN, or the sum overflows, which the exact test then tells apart)."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.sum(a))) or bool(np.isfinite(a).all())


def conv2d_backward_weight(dy, x, w, strides=1, padding="valid", *, relu_output=None,
                           out=None):
    """Weight gradients of ``conv2d`` only: (dw, db). What a first layer needs, which has no
    use for the gradient of the model input.

    ``relu_output``: when the forward pass was ``conv2d(..., activation="relu")`` and ``dy`` is
    the gradient of its output, that output; the ReLU's backward pass is then applied on the
    fly (dy counts as 0 where the output is 0). ``out``: a tuple (dw, db) to write into.
    """
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    shape = (x.shape[0], g.out_h, g.out_w, w.shape[3])
    dy = _check_dy(dy, shape, x.dtype)
    if relu_output is not None:
        relu_output = _float_array(relu_output, "relu_output", x.dtype)
        if relu_output.shape != shape:
            raise ValueError(f"relu_output must have shape {shape} (the output's), got "
                             f"{relu_output.shape}")
        relu_output = _contiguous(relu_output, "relu_output")
    dw, db = _out_tuple(out, (("dw", w.shape), ("db", (w.shape[3],))), x.dtype,
                        (("dy", dy), ("x", x), ("w", w), ("relu_output", relu_output)))
    if _pointwise(w, sh, sw):
        return _pointwise_backward(dy, x, w, False, relu_output, None, dw, db)[1:]
    _kernels.conv2d_backward(_contiguous(dy, "dy"), _contiguous(x, "x"), _contiguous(w, "w"), sh,
                          sw, g.pad_top, g.pad_left, False, _config.get_num_threads(), None, dw,
                          db, relu_output)
    return dw, db


def _pool_geometry(hw, pool_size, strides, padding, strides_name="strides"):
    """(kh, kw), (sh, sw) and the output geometry of pooling an image of hw (height, width);
    strides None means pool_size."""
    kh, kw = pair(pool_size, "pool_size")
    sh, sw = (kh, kw) if strides is None else pair(strides, strides_name)
    g = output_geometry(hw, (kh, kw), (sh, sw), padding_mode(padding), kernel_name="pool_size")
    return (kh, kw), (sh, sw), g


def _pool_args(x, pool_size, strides, padding):
    x = _images(x)
    return (x,) + _pool_geometry(x.shape[1:3], pool_size, strides, padding)


def max_pool2d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Max pooling of NHWC ``x``; ``strides=None`` means ``pool_size``. Padded positions never
    win; a window holding a NaN gives NaN.

    ``out``: optional C-contiguous, writeable array of the result's shape and dtype, not
    overlapping ``x``, that receives the result and is returned (lets a caller reuse a buffer).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    y = _out_array(out, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype, [("x", x)],
                   result="the result of max_pool2d")
    _kernels.max_pool2d_forward(_contiguous(x, "x"), y, kh, kw, sh, sw, g.pad_top, g.pad_left,
                             _config.get_num_threads())
    return y


def max_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of ``max_pool2d``: each output gradient goes to the first maximal element of
    its window (row-major order; the first NaN when there is one); overlaps accumulate.

    ``out``: optional array shaped like ``x`` that receives dx (see ``max_pool2d``).
    """
    return _max_pool2d_backward(dy, x, pool_size, strides, padding, out, relu_input=False)


def _max_pool2d_backward(dy, x, pool_size, strides, padding, out, relu_input):
    """max_pool2d_backward; with ``relu_input`` (x is a ReLU's output, as in a MaxPool2D
    after a Conv2D with activation="relu") that ReLU's backward pass folded in: the gradient
    with respect to the ReLU's input, in one pass (used by the MaxPooling2D layer)."""
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype)
    dx = _out_array(out, x.shape, x.dtype, [("dy", dy), ("x", x)], result="dx")
    _kernels.max_pool2d_backward(_contiguous(dy, "dy"), _contiguous(x, "x"), dx, kh, kw, sh, sw,
                              g.pad_top, g.pad_left, _config.get_num_threads(), relu_input)
    return dx


def avg_pool2d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Average pooling of NHWC ``x``, dividing by the number of real (unpadded) inputs.

    ``out``: optional array of the result's shape that receives it (see ``max_pool2d``).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    y = _out_array(out, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype, [("x", x)],
                   result="the result of avg_pool2d")
    _kernels.avg_pool2d_forward(_contiguous(x, "x"), y, kh, kw, sh, sw, g.pad_top, g.pad_left,
                             _config.get_num_threads())
    return y


def avg_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of ``avg_pool2d`` (``x`` gives only the shape and dtype).

    ``out``: optional array shaped like ``x`` that receives dx (see ``max_pool2d``).
    """
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    dy = _check_dy(dy, (x.shape[0], g.out_h, g.out_w, x.shape[3]), x.dtype)
    dx = _out_array(out, x.shape, x.dtype, [("dy", dy), ("x", x)], result="dx")
    _kernels.avg_pool2d_backward(_contiguous(dy, "dy"), dx, kh, kw, sh, sw, g.pad_top, g.pad_left,
                              _config.get_num_threads())
    return dx
