"""Convolution benchmarks S1-S8: forward, backward (dx + dw + db), weight backward (dw + db).

One pytest-benchmark group per shape and pass ("S4-forward", ...), holding fastcnn, the NumPy
reference and PyTorch in both memory formats. Inputs are built and converted to each library's
layout before timing; only the kernel call is timed. Each result is checked against the
reference after timing (see ``workloads.check_results``).
"""
import pytest

from workloads import (CONV_CONTENDERS, CONV_SHAPES, FASTCNN_WEIGHT_BACKWARD,
                       FIRST_LAYER_SHAPES, F, check_results, conv_expected, conv_gflop,
                       conv_inputs, numpy_image, numpy_kernel, ops, reference,
                       skip_if_unavailable, torch, torch_conv_padding, torch_image, torch_kernel)


def _cases(shapes):
    # contender varies fastest, so the contenders of one shape share the cached inputs
    return [pytest.param(s, c, id=f"{s}-{c}") for s in shapes for c in CONV_CONTENDERS]


def _as_tuple(result):
    """fastcnn and reference results as a tuple of arrays, like the expected results."""
    return tuple(result) if isinstance(result, tuple) else (result,)


def _torch_setup(shape_id, contender, grad_x, grad_w):
    """Torch tensors for ``shape_id`` in the contender's memory format, and the forward output.

    The forward graph is built here, outside timing; backward runs are timed with
    ``torch.autograd.grad(..., retain_graph=True)``, which returns fresh gradients (no
    accumulation into ``.grad``) and computes only those of the tensors asked for.
    """
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, dy = conv_inputs(shape_id)
    pad, exact = torch_conv_padding(shape_id)
    xt = torch_image(x, contender).requires_grad_(grad_x)
    wtt = torch_kernel(wt, contender).requires_grad_(grad_w)
    bt = torch.from_numpy(b).requires_grad_(grad_w)
    dyt = torch_image(dy, contender)
    return xt, wtt, bt, dyt, s, pad, exact


@pytest.mark.parametrize("shape_id, contender", _cases(CONV_SHAPES))
def test_conv2d_forward(measure, shape_id, contender):
    skip_if_unavailable(contender)
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, _ = conv_inputs(shape_id)
    exact = True
    if contender == "fastcnn":
        def fn():
            return ops.conv2d(x, wt, b, s, padding)
        to_numpy = _as_tuple
    elif contender == "reference":
        def fn():
            return reference.conv2d(x, wt, b, s, padding)
        to_numpy = _as_tuple
    else:
        xt, wtt, bt, _, s, pad, exact = _torch_setup(shape_id, contender, False, False)

        def fn():
            return F.conv2d(xt, wtt, bt, s, pad)

        def to_numpy(y):
            return (numpy_image(y),)
    result = measure(fn, shape=shape_id, pass_name="forward", contender=contender,
                     gflop=conv_gflop(shape_id, "forward"))
    check_results(to_numpy(result), conv_expected(shape_id, "forward"), exact)


@pytest.mark.parametrize("shape_id, contender", _cases(CONV_SHAPES))
def test_conv2d_backward(measure, shape_id, contender):
    skip_if_unavailable(contender)
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, dy = conv_inputs(shape_id)
    exact = True
    if contender == "fastcnn":
        def fn():
            return ops.conv2d_backward(dy, x, wt, s, padding)
        to_numpy = _as_tuple
    elif contender == "reference":
        def fn():
            return reference.conv2d_backward(dy, x, wt, s, padding)
        to_numpy = _as_tuple
    else:
        xt, wtt, bt, dyt, s, pad, exact = _torch_setup(shape_id, contender, True, True)
        y = F.conv2d(xt, wtt, bt, s, pad)

        def fn():
            return torch.autograd.grad(y, (xt, wtt, bt), dyt, retain_graph=True)

        def to_numpy(grads):
            return numpy_image(grads[0]), numpy_kernel(grads[1]), grads[2].numpy()
    result = measure(fn, shape=shape_id, pass_name="backward", contender=contender,
                     gflop=conv_gflop(shape_id, "backward"))
    check_results(to_numpy(result), conv_expected(shape_id, "backward"), exact)


@pytest.mark.parametrize("shape_id, contender", _cases(FIRST_LAYER_SHAPES))
def test_conv2d_weight_backward(measure, shape_id, contender):
    """dw + db only: what a network's first layer runs (it needs no dx)."""
    skip_if_unavailable(contender)
    n, h, w, c, f, kh, kw, s, padding = CONV_SHAPES[shape_id]
    x, wt, b, dy = conv_inputs(shape_id)
    exact = True
    if contender == "fastcnn":
        weight_backward = getattr(ops, FASTCNN_WEIGHT_BACKWARD, None)
        if weight_backward is None:
            pytest.skip(f"fastcnn.ops has no {FASTCNN_WEIGHT_BACKWARD} yet")

        def fn():
            return weight_backward(dy, x, wt, s, padding)
        to_numpy = _as_tuple
    elif contender == "reference":
        # timing the full conv2d_backward here would mislabel dx + dw + db as dw + db
        pytest.skip("fastcnn.reference has no weight-only backward (API.md's six functions)")
    else:
        xt, wtt, bt, dyt, s, pad, exact = _torch_setup(shape_id, contender, False, True)
        y = F.conv2d(xt, wtt, bt, s, pad)

        def fn():
            return torch.autograd.grad(y, (wtt, bt), dyt, retain_graph=True)

        def to_numpy(grads):
            return numpy_kernel(grads[0]), grads[1].numpy()
    result = measure(fn, shape=shape_id, pass_name="weight-backward", contender=contender,
                     gflop=conv_gflop(shape_id, "weight-backward"))
    check_results(to_numpy(result), conv_expected(shape_id, "weight-backward"), exact)
