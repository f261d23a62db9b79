"""Private entry points of the fused and pick-recording kernels, for the execution plan's
fusion rules (:mod:`fastcnn.models.fusion`) and MaxPooling2D's training pass. Arguments are
checked as in :mod:`fastcnn.ops` (whose helpers they use); each function documents the calls
whose results it gives bitwise."""

from fastcnn import _config, _elementwise, _kernels
from fastcnn.ops import (_bias, _check_dy, _contiguous, _conv_args, _out_array, _out_tuple,
                         _pointwise, _pool_args, _pool_geometry, conv2d)

__all__ = ["PICKS_MAX_TAPS", "max_pool2d_picking", "max_pool2d_backward_picks",
           "conv2d_relu_max_pool2d_picking", "conv2d_backward_weight_unpool", "conv2d_add"]


def conv2d_add(x, w, b, strides, padding, residual, *, relu=False, out=None):
    """The sum of conv2d(x, w, b, strides, padding) and ``residual`` (an array of the
    convolution output's shape and x's dtype), then its ReLU with ``relu``: each tile of the
    convolution's output gets the residual added while still in cache, the convolution's
    output itself never written out and read back (an inference step of a convolution, the
    Add that alone reads it, and a ReLU layer). Bitwise the Add layer's sum (and ReLU) of the
    two, in either order. A pointwise convolution (1x1, stride 1: a plain product) is
    followed by a separate sum."""
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    b = _bias(b, x, w)
    shape = (x.shape[0], g.out_h, g.out_w, w.shape[3])
    residual = _check_dy(residual, shape, x.dtype, "residual", "the convolution's output")
    y = _out_array(out, shape, x.dtype, [("x", x), ("w", w), ("b", b), ("residual", residual)],
                   result="the result of conv2d_add")
    residual = _contiguous(residual, "residual")
    if _pointwise(w, sh, sw):
        conv2d(x, w, b, strides, padding, out=y)
        flat = y.reshape(-1)
        _elementwise.add([flat, residual.reshape(-1)], flat, relu, _config.get_num_threads())
        return y
    return _kernels.conv2d_forward(_contiguous(x, "x"), _contiguous(w, "w"), b, sh, sw,
                                   g.pad_top, g.pad_left, g.out_h, g.out_w, relu,
                                   _config.get_num_threads(), y, residual)


def conv2d_backward_weight_unpool(pool_dy, picks, x, w, strides, padding, pool_size,
                                   pool_strides, pool_padding, *, out=None):
    """conv2d_backward_weight(dy, x, w, strides, padding, out=out) where dy is
    max_pool2d_backward_picks(pool_dy, picks, ...) over the convolution's output with the
    pooling arguments given, without writing dy out: each block of it is made from pool_dy and
    picks as the weight gradient needs it (a first Conv2D followed by a MaxPooling2D in a
    training step; the ReLU between them is in the picks). Bitwise the two calls' (dw, db).
    Returns None (nothing done) where it does not apply: few channels and pooling windows that
    do not overlap only."""
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    (kh, kw), (psh, psw), pg = _pool_geometry((g.out_h, g.out_w), pool_size, pool_strides,
                                              pool_padding, "pool_strides")
    shape = (x.shape[0], pg.out_h, pg.out_w, w.shape[3])
    picks = _check_dy(picks, shape, x.dtype, "picks", "the pooling's output")
    pool_dy = _check_dy(pool_dy, shape, x.dtype, "pool_dy", "the pooling's output")
    if _pointwise(w, sh, sw):
        return None
    dw, db = _out_tuple(out, (("dw", w.shape), ("db", (w.shape[3],))), x.dtype,
                        (("pool_dy", pool_dy), ("picks", picks), ("x", x), ("w", w)))
    done = _kernels.conv2d_backward_weight_unpool(
        _contiguous(pool_dy, "pool_dy"), _contiguous(picks, "picks"), _contiguous(x, "x"),
        w.shape[0], w.shape[1], sh, sw, g.pad_top, g.pad_left, g.out_h, g.out_w, kh, kw, psh,
        psw, pg.pad_top, pg.pad_left, _config.get_num_threads(), dw, db)
    return (dw, db) if done else None


# Picks are tap numbers held in the data's dtype: exact below 2**24 taps in float32.
PICKS_MAX_TAPS = 1 << 24


def max_pool2d_picking(x, pool_size, strides, padding, out, picks, relu_input):
    """max_pool2d into ``out`` that also writes into ``picks`` (an array shaped like the
    result) where each maximum was found, for max_pool2d_backward_picks, which then gives
    ops._max_pool2d_backward's dx (with the same ``relu_input``) without reading x. The
    MaxPooling2D layer's training forward (its backward then reads dy and the picks, a
    quarter of x's size for 2x2 windows). Windows must have fewer than 2**24 taps."""
    x, (kh, kw), (sh, sw), g = _pool_args(x, pool_size, strides, padding)
    if kh * kw >= PICKS_MAX_TAPS:
        raise ValueError(f"pool_size {(kh, kw)} has too many taps to record picks "
                         f"(at most {PICKS_MAX_TAPS - 1})")
    shape = (x.shape[0], g.out_h, g.out_w, x.shape[3])
    y = _out_array(out, shape, x.dtype, [("x", x)], result="the result of max_pool2d")
    picks = _out_array(picks, shape, x.dtype, [("x", x), ("out", y)], name="picks",
                       result="the picks of max_pool2d")
    _kernels.max_pool2d_forward_picks(_contiguous(x, "x"), y, picks, kh, kw, sh, sw, g.pad_top,
                                   g.pad_left, _config.get_num_threads(), relu_input)
    return y


def conv2d_relu_max_pool2d_picking(x, w, b, strides, padding, pool_size, pool_strides,
                                    pool_padding, out, picks):
    """max_pool2d_picking(conv2d(x, w, b, strides, padding, activation="relu"), pool_size,
    pool_strides, pool_padding, out, picks, relu_input=True) without writing the convolution's
    output: each image's is pooled while still in cache (a Conv2D with ReLU followed by a
    MaxPooling2D). Bitwise the two calls' y and picks; ``picks`` None: none are recorded (an
    inference step), y still bitwise that of max_pool2d. Returns y, or None
    (nothing done) where the fused kernels do not apply (a 1x1 kernel; an image's output over
    1 MiB: fastcnn._kernels.conv2d_relu_max_pool_picks)."""
    x, w, (sh, sw), g = _conv_args(x, w, strides, padding)
    b = _bias(b, x, w)
    (kh, kw), (psh, psw), pg = _pool_geometry((g.out_h, g.out_w), pool_size, pool_strides,
                                              pool_padding, "pool_strides")
    if kh * kw >= PICKS_MAX_TAPS or _pointwise(w, sh, sw):
        return None
    shape = (x.shape[0], pg.out_h, pg.out_w, w.shape[3])
    y = _out_array(out, shape, x.dtype, [("x", x), ("w", w), ("b", b)],
                   result="the pooled result")
    if picks is not None:
        picks = _out_array(picks, shape, x.dtype, [("x", x), ("w", w), ("b", b), ("out", y)],
                           name="picks", result="the picks of the pooling")
    done = _kernels.conv2d_relu_max_pool_picks(
        _contiguous(x, "x"), _contiguous(w, "w"), b, sh, sw, g.pad_top, g.pad_left, g.out_h,
        g.out_w, kh, kw, psh, psw,
        pg.pad_top, pg.pad_left, y, picks, _config.get_num_threads())
    return y if done else None


def max_pool2d_backward_picks(dy, picks, x_shape, pool_size, strides, padding, out):
    """dx (of ``x_shape``) for dy from the picks of max_pool2d_picking over an input of that
    shape and the same pooling arguments."""
    x_shape = tuple(x_shape)
    (kh, kw), (sh, sw), g = _pool_geometry(x_shape[1:3], pool_size, strides, padding)
    expected = (x_shape[0], g.out_h, g.out_w, x_shape[3])
    picks = _check_dy(picks, expected, None, "picks")
    dy = _check_dy(dy, expected, picks.dtype)
    dx = _out_array(out, x_shape, picks.dtype, [("dy", dy), ("picks", picks)], result="dx")
    _kernels.max_pool2d_backward_picks(_contiguous(dy, "dy"), _contiguous(picks, "picks"), dx, kh,
                                    kw, sh, sw, g.pad_top, g.pad_left,
                                    _config.get_num_threads())
    return dx
