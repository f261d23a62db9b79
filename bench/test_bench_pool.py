"""Pooling benchmarks P1-P3: max and average pooling, forward and backward.

Groups "<shape>-max-forward", "<shape>-max-backward", "<shape>-avg-forward",
"<shape>-avg-backward", each with fastcnn, the NumPy reference and PyTorch in both memory
formats. PyTorch's backward is timed on a forward graph built beforehand (for max pooling it
reuses the argmax indices that forward saved, as a training step does).
"""
import pytest

from workloads import (POOL_CONTENDERS, POOL_PASSES, POOL_SHAPES, F, check_results, numpy_image,
                       ops, pool_expected, pool_inputs, reference,
                       skip_if_unavailable, torch, torch_image)


def _cases():
    # contender varies fastest, so the contenders of one shape share the cached inputs
    return [pytest.param(s, p, c, id=f"{s}-{p}-{c}")
            for s in POOL_SHAPES for p in POOL_PASSES for c in POOL_CONTENDERS]


def _fastcnn_or_reference(module, kind, direction, shape_id):
    """The call to time for fastcnn.ops or fastcnn.reference."""
    n, h, w, c, pool, s, padding = POOL_SHAPES[shape_id]
    x, dy = pool_inputs(shape_id)
    if direction == "forward":
        forward = getattr(module, f"{kind}_pool2d")
        return lambda: (forward(x, pool, s, padding),)
    backward = getattr(module, f"{kind}_pool2d_backward")
    return lambda: (backward(dy, x, pool, s, padding),)


def _torch(contender, kind, direction, shape_id):
    """The call to time for PyTorch, in the contender's memory format, and its conversion."""
    n, h, w, c, pool, s, padding = POOL_SHAPES[shape_id]
    if padding != "valid":
        # PyTorch pads pooling symmetrically with -inf/zeros counted in the mean, not like Keras
        pytest.skip("PyTorch has no Keras 'same' pooling")
    x, dy = pool_inputs(shape_id)
    pool_fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    xt = torch_image(x, contender).requires_grad_(direction == "backward")
    if direction == "forward":
        return lambda: pool_fn(xt, pool, s)
    y = pool_fn(xt, pool, s)
    dyt = torch_image(dy, contender)
    # autograd.grad returns a fresh gradient instead of accumulating into xt.grad
    return lambda: torch.autograd.grad(y, xt, dyt, retain_graph=True)[0]


@pytest.mark.parametrize("shape_id, pass_name, contender", _cases())
def test_pool2d(measure, shape_id, pass_name, contender):
    skip_if_unavailable(contender)
    kind, direction = pass_name.split("-")
    # no FLOP count: pooling is bound by memory traffic, and compares are not FLOPs
    if contender in ("fastcnn", "reference"):
        module = ops if contender == "fastcnn" else reference
        fn = _fastcnn_or_reference(module, kind, direction, shape_id)
        result = measure(fn, shape=shape_id, pass_name=pass_name, contender=contender,
                         gflop=None)
    else:
        fn = _torch(contender, kind, direction, shape_id)
        result = (numpy_image(measure(fn, shape=shape_id, pass_name=pass_name,
                                      contender=contender,
                                      gflop=None)),)
    check_results(result, pool_expected(shape_id, pass_name))
