"""Checked entry points to the kernels of the CIFAR-class layers: batch normalization, global
average and max pooling, the sum of several arrays, ReLU and rescaling.

Private (the layers call them); they follow :mod:`fastcnn.ops`: every argument is checked
here, once, then the compiled code (fastcnn/_norm.pyx, fastcnn/_elementwise.pyx) runs to the
end with the GIL released on ``fastcnn.get_num_threads()`` threads, with results bitwise the
same at any thread count. Arrays must share one float dtype (float32 or float64), else
TypeError naming the argument; shapes are checked (ValueError naming the argument and the
shapes); non-contiguous or read-only inputs are copied, never modified. ``out`` takes a
preallocated result (a tuple of them, entries may be None, for a function of several
results), checked like ``ops``' ``out``. Empty batches are allowed.

Batch normalization works on the last axis of an array of rank >= 2 (every other axis counts
as rows: NHWC images and Dense outputs (N, C) alike); ``gamma`` None means 1 (scale=False),
``beta`` None means 0 (center=False). Formulas (the kernels' docstrings give the roundings):

- training: mean and biased var of the batch (one pass over memory, sums in double), inv_std =
  1/sqrt(var + epsilon), y = (x - mean) * (gamma * inv_std) + beta; with no rows the
  statistics are NaN.
- inference: y = (x - moving_mean) * (gamma / sqrt(moving_var + epsilon)) + beta, the scale
  computed in double and rounded once; its backward (a frozen layer) dx = dy * that scale.
- training backward: dbeta = sum(dy), dgamma = sum(dy * xhat) with xhat = (x - mean) *
  inv_std, dx = gamma * inv_std / M * (M*dy - dbeta - xhat*dgamma), M the number of rows.

Global pooling reduces (N, H, W, C) to (N, C). Average: the pixels summed in row-major order
(in double), times 1/(H*W); backward dx = dy / (H*W) at every pixel. Max: the first maximal
element in row-major pixel order, or the first NaN when a channel holds one ("NaN wins", as
max pooling); its backward sends dy there (dx is 0 elsewhere), from x or from the picks that
the forward pass recorded: pixel numbers h*W + w, an (N, C) array of numpy.intp.

Elementwise: ``add`` sums two or more arrays of one shape in the order given, with an
optional ReLU after; ``relu`` is ``0 if x < 0 else x`` (NaN stays NaN, -0.0 stays -0.0,
like the convolution's fused ReLU); ``rescale`` is ``x * scale + offset`` with the scalars
rounded to the data's dtype.
"""
import numbers
import operator

import numpy as np

from fastcnn import _config, _elementwise, _norm
from fastcnn.ops import (_check_dy, _contiguous, _float_array, _images, _out_array,
                         _out_tuple)

__all__ = ["batch_norm_train", "batch_norm_inference", "batch_norm_train_backward",
           "batch_norm_inference_backward", "global_avg_pool2d", "global_avg_pool2d_backward",
           "global_max_pool2d", "global_max_pool2d_backward", "add", "relu", "rescale",
           "dropout", "uniform"]

_PICKS_DTYPE = np.dtype(np.intp)


# --- arguments ------------------------------------------------------------------------------

def _like(a, name, first, dtype):
    """``a`` checked as a float array of ``dtype``, the dtype of the argument ``first``."""
    a = _float_array(a, name)
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {first} has dtype {dtype}; "
                        f"fastcnn needs one float dtype for all arguments")
    return a


def _channels_last(x, name="x"):
    """``x`` checked as an array of rank >= 2 with channels on its last axis."""
    x = _float_array(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name} must have rank >= 2 (rows..., channels), got shape "
                         f"{x.shape}")
    if x.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one channel (last axis), got shape "
                         f"{x.shape}")
    return x


def _rows(a, name):
    """The (rows, C) view of a contiguous copy (if needed) of channels-last ``a``."""
    return _contiguous(a, name).reshape(-1, a.shape[-1])


def _channel_vector(a, name, x, x_name="x", optional=False):
    """None (when ``optional``) or ``a`` checked as a (C,) vector of x's dtype, contiguous."""
    if a is None and optional:
        return None
    a = _like(a, name, x_name, x.dtype)
    c = x.shape[-1]
    if a.shape != (c,):
        raise ValueError(f"{name} must have shape ({c},) (one value per channel of {x_name} "
                         f"shape {x.shape}), got {a.shape}")
    return _contiguous(a, name)


def _epsilon(epsilon):
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise TypeError(f"epsilon must be a real number >= 0, got {epsilon!r}")
    value = float(epsilon)
    if not 0 <= value < float("inf"):
        raise ValueError(f"epsilon must be finite and >= 0, got {epsilon!r}")
    return value


def _scalar(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _x_shape(x_shape):
    """``x_shape`` checked as the shape (N, H, W, C) of a batch of images."""
    try:
        shape = tuple(operator.index(s) for s in x_shape)
    except TypeError:
        raise TypeError(f"x_shape must be a tuple of 4 ints (N, H, W, C), got "
                        f"{x_shape!r}") from None
    if len(shape) != 4 or shape[0] < 0 or min(shape[1:]) < 1:
        raise ValueError(f"x_shape must be (N, H, W, C) with N >= 0 and positive H, W, C, "
                         f"got {x_shape!r}")
    return shape


def _threads():
    return _config.get_num_threads()


# --- batch normalization --------------------------------------------------------------------

def _relu_output(relu_output, like, name="dy"):
    """The ReLU output whose positive entries pass a gradient (None: no ReLU), checked to
    be an array like ``like``."""
    if relu_output is None:
        return None
    y = _like(relu_output, "relu_output", name, like.dtype)
    if y.shape != like.shape:
        raise ValueError(f"relu_output must have {name}'s shape {like.shape}, got {y.shape}")
    return _rows(y, "relu_output")


def batch_norm_train(x, gamma, beta, epsilon, *, relu=False, out=None, coefficients=None,
                     residual=None):
    """Batch normalization with the batch's statistics, over the last axis of ``x``.

    Returns ``(y, mean, var, inv_std)``: y like x; mean, var (biased) and inv_std =
    1/sqrt(var + epsilon) of shape (C,), what ``batch_norm_train_backward`` and the moving
    averages need. ``relu``: y is then max(y, 0) (as :func:`relu`), in the same pass.
    ``out``: None or a tuple of 4 arrays (or None) to write them into. ``coefficients``:
    None or a (2, C) array of x's dtype that receives the per-channel scale and shift of
    the normalizing pass, y = (x - mean) * scale + shift before the ReLU (scale = gamma *
    inv_std rounded once, shift = beta), for ``batch_norm_train_backward``'s
    ``relu_coefficients``. ``residual``: None or an array like x added to the normalized
    values before the ReLU, in the same pass (y = relu(bn(x) + residual), rounded as the two
    layers round it; the coefficients are then not those of the ReLU's input).
    """
    x = _channels_last(x)
    gamma = _channel_vector(gamma, "gamma", x, optional=True)
    beta = _channel_vector(beta, "beta", x, optional=True)
    epsilon = _epsilon(epsilon)
    c = (x.shape[-1],)
    inputs = (("x", x), ("gamma", gamma), ("beta", beta))
    if residual is not None:
        residual = _check_dy(residual, x.shape, x.dtype, name="residual", whose="x's")
        inputs += (("residual", residual),)
    y, mean, var, inv_std = _out_tuple(
        out, (("y", x.shape), ("mean", c), ("var", c), ("inv_std", c)), x.dtype, inputs)
    if coefficients is not None:
        coefficients = _out_array(coefficients, (2,) + c, x.dtype,
                                  (("x", x), ("gamma", gamma), ("beta", beta), ("y", y),
                                   ("mean", mean), ("var", var), ("inv_std", inv_std)),
                                  name="coefficients",
                                  result="the coefficients of batch_norm_train")
    _norm.batch_norm_train(_rows(x, "x"), gamma, beta, epsilon, y.reshape(-1, c[0]), mean,
                           var, inv_std, _threads(), bool(relu), coefficients,
                           None if residual is None else _rows(residual, "residual"))
    return y, mean, var, inv_std


def batch_norm_inference(x, gamma, beta, moving_mean, moving_var, epsilon, *, relu=False,
                         out=None):
    """Batch normalization with given (moving) statistics:
    y = (x - moving_mean) * (gamma / sqrt(moving_var + epsilon)) + beta, over the last axis;
    then max(y, 0) with ``relu``. ``out``: an array like x to write y into."""
    x = _channels_last(x)
    gamma = _channel_vector(gamma, "gamma", x, optional=True)
    beta = _channel_vector(beta, "beta", x, optional=True)
    moving_mean = _channel_vector(moving_mean, "moving_mean", x)
    moving_var = _channel_vector(moving_var, "moving_var", x)
    epsilon = _epsilon(epsilon)
    y = _out_array(out, x.shape, x.dtype, (("x", x), ("gamma", gamma), ("beta", beta),
                                           ("moving_mean", moving_mean),
                                           ("moving_var", moving_var)),
                   result="the result of batch_norm_inference")
    _norm.batch_norm_inference(_rows(x, "x"), gamma, beta, moving_mean, moving_var, epsilon,
                               y.reshape(-1, x.shape[-1]), _threads(), bool(relu))
    return y


def batch_norm_train_backward(dy, x, gamma, mean, inv_std, *, relu_output=None,
                              relu_coefficients=None, out=None, masked=None):
    """Gradients of ``batch_norm_train`` for ``dy`` (like x), from the mean and inv_std it
    returned. Returns ``(dx, dgamma, dbeta)`` (dgamma and dbeta (C,), returned also when the
    layer has no gamma or beta). ``relu_output``: the forward pass was run with ``relu`` and
    this is its output; dy is the gradient of that output (masked here where it is not > 0,
    as the ReLU's backward pass would). ``relu_coefficients``: instead of relu_output, the
    (2, C) ``coefficients`` that forward pass wrote; the same mask, bitwise, is then found
    again from x, so that only dy and x are read. ``out``: None or a tuple of 3 arrays (or
    None). ``masked`` (with relu_output only): an array like dy that receives dy masked (what
    the ReLU's backward pass gives), written by the first pass and read by the second."""
    x = _channels_last(x)
    dy = _check_dy(dy, x.shape, x.dtype, whose="x's")
    gamma = _channel_vector(gamma, "gamma", x, optional=True)
    mean = _channel_vector(mean, "mean", x)
    inv_std = _channel_vector(inv_std, "inv_std", x)
    c = (x.shape[-1],)
    relu_output = _relu_output(relu_output, dy)
    if relu_coefficients is not None:
        if relu_output is not None:
            raise ValueError("give relu_output or relu_coefficients, not both")
        relu_coefficients = _like(relu_coefficients, "relu_coefficients", "x", x.dtype)
        if relu_coefficients.shape != (2,) + c:
            raise ValueError(f"relu_coefficients must have shape {(2,) + c} (the scale and "
                             f"shift of each channel of x shape {x.shape}), got "
                             f"{relu_coefficients.shape}")
        relu_coefficients = _contiguous(relu_coefficients, "relu_coefficients")
    dx, dgamma, dbeta = _out_tuple(
        out, (("dx", x.shape), ("dgamma", c), ("dbeta", c)), x.dtype,
        (("dy", dy), ("x", x), ("gamma", gamma), ("mean", mean), ("inv_std", inv_std),
         ("relu_output", relu_output), ("relu_coefficients", relu_coefficients)))
    if masked is not None:
        if relu_output is None:
            raise ValueError("masked is only written with relu_output")
        masked = _out_array(masked, x.shape, x.dtype,
                            (("dy", dy), ("x", x), ("gamma", gamma), ("mean", mean),
                             ("inv_std", inv_std), ("relu_output", relu_output), ("dx", dx),
                             ("dgamma", dgamma), ("dbeta", dbeta)),
                            name="masked", result="the masked gradient")
    _norm.batch_norm_train_backward(_rows(dy, "dy"), _rows(x, "x"), gamma, mean, inv_std,
                                    dx.reshape(-1, c[0]), dgamma, dbeta, _threads(),
                                    relu_output, relu_coefficients,
                                    None if masked is None else masked.reshape(-1, c[0]))
    return dx, dgamma, dbeta


def batch_norm_inference_backward(dy, gamma, moving_var, epsilon, *, relu_output=None,
                                  out=None):
    """Gradient of ``batch_norm_inference`` with respect to x (a frozen layer):
    dx = dy * (gamma / sqrt(moving_var + epsilon)), the scale rounded as in the forward pass.
    ``relu_output``: as in :func:`batch_norm_train_backward`. ``out``: an array like dy to
    write dx into."""
    dy = _channels_last(dy, "dy")
    gamma = _channel_vector(gamma, "gamma", dy, "dy", optional=True)
    moving_var = _channel_vector(moving_var, "moving_var", dy, "dy")
    epsilon = _epsilon(epsilon)
    relu_output = _relu_output(relu_output, dy)
    dx = _out_array(out, dy.shape, dy.dtype, (("dy", dy), ("gamma", gamma),
                                              ("moving_var", moving_var),
                                              ("relu_output", relu_output)), result="dx")
    _norm.batch_norm_inference_backward(_rows(dy, "dy"), gamma, moving_var, epsilon,
                                        dx.reshape(-1, dy.shape[-1]), _threads(),
                                        relu_output)
    return dx


# --- global pooling -------------------------------------------------------------------------

def _pixels(a, name):
    """The (N, H*W, C) view of a contiguous copy (if needed) of images ``a``."""
    n, h, w, c = a.shape
    return _contiguous(a, name).reshape(n, h * w, c)


def _pooled_dy(dy, x_shape):
    """dy (a float array) checked as the (N, C) gradient of global pooling of images of
    ``x_shape``."""
    expected = (x_shape[0], x_shape[3])
    if dy.shape != expected:
        raise ValueError(f"dy must have shape {expected} (the pooled output of x shape "
                         f"{tuple(x_shape)}), got {dy.shape}")
    return dy


def global_avg_pool2d(x, *, out=None):
    """The mean of every channel of every image: (N, H, W, C) -> (N, C)."""
    x = _images(x)
    y = _out_array(out, (x.shape[0], x.shape[3]), x.dtype, [("x", x)],
                   result="the result of global_avg_pool2d")
    _norm.global_avg_pool2d(_pixels(x, "x"), y, _threads())
    return y


def global_avg_pool2d_backward(dy, x_shape, *, out=None):
    """dx of shape ``x_shape`` (N, H, W, C) with dy[n, c] / (H*W) at every pixel."""
    x_shape = _x_shape(x_shape)
    dy = _pooled_dy(_float_array(dy, "dy"), x_shape)
    dx = _out_array(out, x_shape, dy.dtype, [("dy", dy)], result="dx")
    n, h, w, c = x_shape
    _norm.global_avg_pool2d_backward(_contiguous(dy, "dy"), dx.reshape(n, h * w, c),
                                     _threads())
    return dx


def global_max_pool2d(x, *, out=None, picks=None):
    """The maximum of every channel of every image: (N, H, W, C) -> (N, C); the first NaN
    of a channel that holds one. ``picks``: None, or an (N, C) array of numpy.intp that
    receives the pixel number (h*W + w) of each maximum, for global_max_pool2d_backward."""
    x = _images(x)
    shape = (x.shape[0], x.shape[3])
    y = _out_array(out, shape, x.dtype, [("x", x)], result="the result of global_max_pool2d")
    if picks is not None:
        picks = _out_array(picks, shape, _PICKS_DTYPE, [("x", x), ("out", y)], name="picks",
                           result="the picks of global_max_pool2d")
    _norm.global_max_pool2d(_pixels(x, "x"), y, picks, _threads())
    return y


def global_max_pool2d_backward(dy, x=None, picks=None, x_shape=None, *, out=None):
    """dx (like the images) with dy[n, c] at the maximum of channel c of image n (the
    element global_max_pool2d picked) and 0 elsewhere. Give either ``x`` (the maxima are
    found again), or ``picks`` (as global_max_pool2d wrote them) with ``x_shape``."""
    if (x is None) == (picks is None):
        raise ValueError("global_max_pool2d_backward needs either x, or picks with x_shape "
                         "(not both)")
    if x is not None:
        if x_shape is not None:
            raise ValueError("x_shape goes with picks; with x it is x.shape")
        x = _images(x)
        dy = _pooled_dy(_like(dy, "dy", "x", x.dtype), x.shape)
        dx = _out_array(out, x.shape, x.dtype, [("dy", dy), ("x", x)], result="dx")
        _norm.global_max_pool2d_backward_from_x(_contiguous(dy, "dy"), _pixels(x, "x"),
                                                _pixels(dx, "out"), _threads())
        return dx
    if x_shape is None:
        raise ValueError("picks needs x_shape, the shape (N, H, W, C) of the pooled images")
    x_shape = _x_shape(x_shape)
    dy = _pooled_dy(_float_array(dy, "dy"), x_shape)
    picks = _picks(picks, x_shape)
    dx = _out_array(out, x_shape, dy.dtype, [("dy", dy), ("picks", picks)], result="dx")
    n, h, w, c = x_shape
    _norm.global_max_pool2d_backward(_contiguous(dy, "dy"), _contiguous(picks, "picks"),
                                     dx.reshape(n, h * w, c), _threads())
    return dx


def _picks(picks, x_shape):
    """``picks`` checked as global_max_pool2d's picks for images of ``x_shape``: (N, C)
    pixel numbers of dtype numpy.intp in [0, H*W)."""
    if not isinstance(picks, np.ndarray) or picks.dtype != _PICKS_DTYPE:
        raise TypeError(f"picks must be a numpy.ndarray of dtype {_PICKS_DTYPE} (as "
                        f"global_max_pool2d writes them), got "
                        f"{getattr(picks, 'dtype', type(picks).__name__)}")
    n, h, w, c = x_shape
    if picks.shape != (n, c):
        raise ValueError(f"picks must have shape {(n, c)} (one per channel of each image of "
                         f"x_shape {x_shape}), got {picks.shape}")
    if picks.size and (picks.min() < 0 or picks.max() >= h * w):
        raise ValueError(f"picks must hold pixel numbers from 0 to {h * w - 1} (images of "
                         f"x_shape {x_shape}), got values from {picks.min()} to "
                         f"{picks.max()}")
    return picks


# --- elementwise ----------------------------------------------------------------------------

def _flat(a, name):
    return _contiguous(a, name).reshape(-1)


def add(inputs, *, relu=False, out=None):
    """inputs[0] + inputs[1] + ... (two or more arrays of one shape and dtype; added in that
    order, no broadcasting), then with ``relu`` the ReLU of :func:`relu` (NaN stays NaN)."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs must be a list or tuple of arrays, got "
                        f"{type(inputs).__name__}")
    if len(inputs) < 2:
        raise ValueError(f"inputs must hold at least 2 arrays, got {len(inputs)}")
    first = _float_array(inputs[0], "inputs[0]")
    arrays = [first]
    for i, a in enumerate(inputs[1:], 1):
        a = _like(a, f"inputs[{i}]", "inputs[0]", first.dtype)
        if a.shape != first.shape:
            raise ValueError(f"inputs[{i}] has shape {a.shape} but inputs[0] has shape "
                             f"{first.shape}; add needs arrays of one shape")
        arrays.append(a)
    y = _out_array(out, first.shape, first.dtype,
                   [(f"inputs[{i}]", a) for i, a in enumerate(arrays)],
                   result="the result of add")
    _elementwise.add([_flat(a, f"inputs[{i}]") for i, a in enumerate(arrays)], y.reshape(-1),
                     bool(relu), _threads())
    return y


def relu(x, *, out=None):
    """0 where x < 0, else x: NaN stays NaN and -0.0 stays -0.0 (np.maximum(x, 0) gives
    +0.0 there, which compares equal)."""
    x = _float_array(x, "x")
    y = _out_array(out, x.shape, x.dtype, [("x", x)], result="the result of relu")
    _elementwise.relu(_flat(x, "x"), y.reshape(-1), _threads())
    return y


def dropout(x, u, rate, *, out=None):
    """x * (1 / (1 - rate)) where u >= rate, else 0 (x * 0, so NaN stays NaN); u (like x)
    holds uniform draws in [0, 1); rate in [0, 1) and the scale are rounded to x's dtype once.
    Dropout's forward pass on its input and backward pass on its gradient, in one pass each."""
    x = _float_array(x, "x")
    u = _like(u, "u", "x", x.dtype)
    if u.shape != x.shape:
        raise ValueError(f"u must have x's shape {x.shape}, got {u.shape}")
    rate = _scalar(rate, "rate")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    scale = float(x.dtype.type(1 / (1 - rate)))
    y = _out_array(out, x.shape, x.dtype, [("x", x), ("u", u)],
                   result="the result of dropout")
    _elementwise.dropout(_flat(x, "x"), _flat(u, "u"), y.reshape(-1), rate, scale, _threads())
    return y


def uniform(out, generator):
    """Fills the float array ``out`` (C-contiguous, written in place and returned) with
    uniform draws in [0, 1) of a counter-based generator (SplitMix64, fastcnn/_elementwise.pyx)
    whose key is one 64-bit draw of the NumPy ``generator``: reproducible from the generator's
    state, the same at any thread count, computed in parallel."""
    if not isinstance(out, np.ndarray) or out.dtype not in (np.float32, np.float64):
        raise TypeError("out must be a float32 or float64 array")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    key = int(generator.integers(0, 2**64, dtype=np.uint64))
    _elementwise.uniform(out.reshape(-1), key, _threads())
    return out


def rescale(x, scale, offset, *, out=None):
    """x * scale + offset, with the real numbers ``scale`` and ``offset`` rounded to x's
    dtype and the arithmetic in it."""
    x = _float_array(x, "x")
    scale, offset = _scalar(scale, "scale"), _scalar(offset, "offset")
    y = _out_array(out, x.shape, x.dtype, [("x", x)], result="the result of rescale")
    _elementwise.rescale(_flat(x, "x"), y.reshape(-1), scale, offset, _threads())
    return y
