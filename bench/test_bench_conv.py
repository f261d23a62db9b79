"""Convolution benchmarks S1-S8: forward, backward (dx + dw + db), weight backward (dw + db).

One pytest-benchmark group per shape and pass ("S4-forward", ...), holding fastcnn, the NumPy
reference and PyTorch in both memory formats. Inputs are built and converted to each library's
layout before timing; only the kernel call is timed (``workloads.conv_call``). Each result is
checked against the reference after timing (see ``workloads.check_results``).
"""
import pytest

from workloads import (CONV_CONTENDERS, CONV_SHAPES, FIRST_LAYER_SHAPES,
                       WEIGHT_BACKWARD_CONTENDERS, check_results, conv_call, conv_expected,
                       conv_gflop, skip_if_unavailable)


def _cases(shapes, contenders=CONV_CONTENDERS):
    # contender varies fastest, so the contenders of one shape share the cached inputs
    return [pytest.param(s, c, id=f"{s}-{c}") for s in shapes for c in contenders]


def _run(measure, shape_id, pass_name, contender):
    skip_if_unavailable(contender)
    fn, to_numpy, exact = conv_call(shape_id, pass_name, contender)
    result = measure(fn, shape=shape_id, pass_name=pass_name, contender=contender,
                     gflop=conv_gflop(shape_id, pass_name))
    check_results(to_numpy(result), conv_expected(shape_id, pass_name), exact)


@pytest.mark.parametrize("shape_id, contender", _cases(CONV_SHAPES))
def test_conv2d_forward(measure, shape_id, contender):
    _run(measure, shape_id, "forward", contender)


@pytest.mark.parametrize("shape_id, contender", _cases(CONV_SHAPES))
def test_conv2d_backward(measure, shape_id, contender):
    _run(measure, shape_id, "backward", contender)


@pytest.mark.parametrize("shape_id, contender",
                         _cases(FIRST_LAYER_SHAPES, WEIGHT_BACKWARD_CONTENDERS))
def test_conv2d_weight_backward(measure, shape_id, contender):
    """dw + db only (ops.conv2d_backward_weight): what a network's first layer runs (it needs
    no dx). The NumPy reference has no such pass (see WEIGHT_BACKWARD_CONTENDERS)."""
    _run(measure, shape_id, "weight-backward", contender)
