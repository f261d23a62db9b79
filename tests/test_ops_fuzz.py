"""Differential fuzzing: every fastcnn.ops function, and the kernels of the CIFAR-class layers
(fastcnn._norm_ops: batch normalization, global pooling, add/relu/rescale), against
fastcnn.reference.

Hypothesis draws, per example: the geometry (batch 0-4, images up to 17x17, kernel and pool
sizes 1-7, strides as an int or a pair, some larger than the image, "valid"/"same" in any
case), channel counts around the SIMD widths (1-9, 15-17, 31-33, 63-65), the dtype, the thread
count (1-3), and for every array argument a memory layout (C or Fortran order, negative
strides, strided slices, channels-first memory, zero-stride broadcasts, unaligned, read-only)
and a value pattern:

- ``normal``: standard normal values;
- ``ties``: small integers, so windows hold equal maxima and sums are exact;
- ``zeros``: +0 and -0 only;
- ``mixed``: every element scaled by its own power of two, up to 2^+-(L/4);
- ``nonfinite``: normal values with NaN, +inf and -inf sprinkled in (a fiftieth, or a fifth);
- ``isolated``: normal values with one to three of them NaN, +inf or -inf: a special value
  that reaches some results and not others (a flood of them makes nearly everything NaN, which
  cannot tell a kernel that adds a term too many from one that does not);
- ``subnormal`` (max pooling only, where no arithmetic rounds them): denormal magnitudes.

Every array is also scaled by a power of two: huge (2^(L/2)), tiny (2^-(L/2)) or 1, with L =
100 for float32 and 900 for float64; for convolutions the scales of the two factors of every
product are paired so that no finite product or sum can overflow or underflow the dtype's normal
range (the float64 reference could not follow a float32 overflow).

Comparison (``assert_matches_reference``, conftest): NaN at exactly the reference's positions,
+inf and -inf at exactly its positions, and the finite elements within the suite's tolerance
rule, for convolutions with the scale of their terms (the reference on the inputs' absolute
values) as well: terms that cancel to exactly zero in float64 leave a float32 rounding behind
(found by the long profile: dw of two images whose dy are opposite); max pooling's forward pass
must be bitwise equal (it only selects). ``out=``
destinations start filled with NaN, so an element left unwritten fails.

NaN and inf propagate as the reference defines (see fastcnn.reference and fastcnn.ops):
IEEE arithmetic over exactly the terms of each definition, "NaN wins" in max pooling, a fused
ReLU that keeps NaN, and a ReLU mask (``relu_output``) that is a select on ``output > 0``.

The weights get a test of their own (``conv2d_backward_nonfinite_weights``, and the forward
pass likewise): w always ``isolated`` or ``nonfinite``. dx has no term for a dy position
outside the output, while the kernels' stride-phase GEMMs multiply w by zeros standing for
them; an inf or NaN weight must not meet those zeros (0 * inf is NaN), and only a weight that
is not finite tells whether it does.

Profiles: the quick one runs in the default test run (QUICK_EXAMPLES per test); the long one
(``python -m pytest -m slow tests/test_ops_fuzz.py``) runs FASTCNN_FUZZ_EXAMPLES (default 5000)
per test, seven tests.
"""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastcnn
from fastcnn import _norm_ops as norm_ops, ops, reference
from conftest import assert_matches_reference, widen, with_layout
from strategies import CHANNEL_COUNTS, pool_geometry, window_geometry

QUICK_EXAMPLES = 40
LONG_EXAMPLES = int(os.environ.get("FASTCNN_FUZZ_EXAMPLES", "5000"))
_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
quick = settings(max_examples=QUICK_EXAMPLES, **_SETTINGS)
long = settings(max_examples=LONG_EXAMPLES, **_SETTINGS)

DTYPES = ("float32", "float64")
EXPONENT_RANGE = {np.dtype(np.float32): 100, np.dtype(np.float64): 900}   # L above
PATTERNS = ("normal", "ties", "zeros", "mixed", "nonfinite", "isolated")
NONFINITE_PATTERNS = ("isolated", "nonfinite")
MAX_POOL_PATTERNS = PATTERNS + ("subnormal",)
LAYOUTS = ("c_order", "fortran_order", "negative_strides", "reversed_axis1", "strided_slice",
           "read_only", "channels_first_memory", "unaligned", "broadcast")


# --- values and layouts --------------------------------------------------------------------------

def _values(rng, shape, dtype, pattern, exponent):
    """An array of ``pattern`` values scaled by 2**exponent, rounded once to ``dtype``."""
    limit = EXPONENT_RANGE[dtype]
    if pattern == "ties":
        v = rng.integers(-2, 3, shape).astype(np.float64)
    elif pattern == "zeros":
        v = np.where(rng.random(shape) < 0.5, -0.0, 0.0)
    elif pattern == "subnormal":
        tiny = np.finfo(dtype).smallest_subnormal
        v = rng.integers(-2**20, 2**20, shape) * float(tiny)
        return v.astype(dtype)                     # no scaling: denormals as they are
    else:
        v = rng.standard_normal(shape)
        if pattern == "mixed":
            v *= np.exp2(rng.integers(-limit // 4, limit // 4 + 1, shape))
        elif pattern == "nonfinite":
            share = rng.choice([0.02, 0.2])
            hit = rng.random(shape) < share
            v[hit] = rng.choice([np.nan, np.inf, -np.inf], size=int(hit.sum()))
        elif pattern == "isolated" and v.size:
            hit = rng.choice(v.size, size=min(v.size, int(rng.integers(1, 4))), replace=False)
            v.flat[hit] = rng.choice([np.nan, np.inf, -np.inf], size=len(hit))
    return (v * 2.0**exponent).astype(dtype)


def _layout(a, layout):
    if layout == "c_order":
        return a
    if layout == "broadcast":
        # the first item along axis 0 repeated through a zero stride (read-only)
        return np.broadcast_to(a[:1], a.shape) if a.shape[0] > 0 else a
    if layout in ("fortran_order", "channels_first_memory") and a.ndim < 2:
        return a
    return with_layout(a, layout)


@st.composite
def arrays(draw, shape, dtype, exponent=0, patterns=PATTERNS):
    """One argument: values from a drawn pattern, in a drawn memory layout."""
    pattern = draw(st.sampled_from(patterns))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return _layout(_values(rng, shape, dtype, pattern, exponent), layout)


def _exponents(draw, dtype, count):
    """Power-of-two scales for ``count`` arrays that are multiplied pairwise (x*w, dy*w,
    x*dy): each 0 or +-L/2, and no two of them both huge or both tiny."""
    half = EXPONENT_RANGE[dtype] // 2
    out = []
    for _ in range(count):
        allowed = [e for e in (0, half, -half) if all(abs(e + o) <= half for o in out)]
        out.append(draw(st.sampled_from(allowed)))
    return out


# --- problems ------------------------------------------------------------------------------------

@st.composite
def conv_problems(draw, w_patterns=PATTERNS):
    n, h, wd, kh, kw, strides, padding = draw(window_geometry())
    c, f = draw(CHANNEL_COUNTS), draw(CHANNEL_COUNTS)
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ex, ew, edy = _exponents(draw, dtype, 3)
    x = draw(arrays((n, h, wd, c), dtype, ex))
    w = draw(arrays((kh, kw, c, f), dtype, ew, w_patterns))
    b = draw(st.one_of(st.none(), arrays((f,), dtype, ex + ew)))
    out_shape = reference.conv2d(np.zeros((n, h, wd, c)), np.zeros((kh, kw, c, f)),
                                 strides=strides, padding=padding).shape
    dy = draw(arrays(out_shape, dtype, edy))
    relu_output = draw(arrays(out_shape, dtype, 0))
    if draw(st.booleans()):
        relu_output = np.maximum(relu_output, 0)      # a ReLU's output: >= 0 or NaN
    return dict(x=x, w=w, b=b, dy=dy, relu_output=relu_output, strides=strides,
                padding=padding, dtype=dtype, threads=draw(st.integers(1, 3)),
                activation=draw(st.sampled_from([None, "linear", "relu"])),
                use_out=draw(st.booleans()))


@st.composite
def pool_problems(draw, patterns):
    n, h, wd, c, pool_size, strides, padding = draw(pool_geometry())
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    half = EXPONENT_RANGE[dtype] // 2
    x = draw(arrays((n, h, wd, c), dtype, draw(st.sampled_from([0, half, -half])), patterns))
    out_shape = reference.max_pool2d(np.zeros((n, h, wd, c)), pool_size, strides,
                                     padding).shape
    dy = draw(arrays(out_shape, dtype, draw(st.sampled_from([0, half, -half]))))
    return dict(x=x, dy=dy, pool_size=pool_size, strides=strides, padding=padding,
                dtype=dtype, threads=draw(st.integers(1, 3)), use_out=draw(st.booleans()))


@st.composite
def batch_norm_problems(draw):
    """Batch normalization over rank 2-4 arrays: x scaled by 2**(0 or +-L/4) (with the mixed
    pattern's own 2**(+-L/4), squares stay in range), gamma/beta present or None. gamma is
    finite: dx is gamma times a difference that cancels to 0 in some cases (one row per
    channel and the like), where an infinite gamma would make it NaN or an infinity of either
    sign by rounding alone."""
    c = draw(CHANNEL_COUNTS)
    n = draw(st.sampled_from([1, 2, 3, 5, 1, 2, 0]))
    shape = (n,) + tuple(draw(st.lists(st.integers(1, 9), max_size=2))) + (c,)
    if len(shape) == 2:
        shape = (n * draw(st.integers(1, 12)), c)           # Dense outputs: more rows
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    quarter = EXPONENT_RANGE[dtype] // 4
    scales = st.sampled_from([0, quarter, -quarter])
    finite = ("normal", "ties", "zeros")
    return dict(x=draw(arrays(shape, dtype, draw(scales))),
                dy=draw(arrays(shape, dtype, draw(scales))),
                gamma=draw(st.one_of(st.none(), arrays((c,), dtype, 0, finite))),
                beta=draw(st.one_of(st.none(), arrays((c,), dtype))), moving_mean=draw(arrays((c,), dtype)),
                moving_var=np.abs(draw(arrays((c,), dtype))),
                epsilon=draw(st.sampled_from([1e-3, 1e-5, 0.5])), dtype=dtype,
                threads=draw(st.integers(1, 3)), use_out=draw(st.booleans()))


@st.composite
def global_pool_problems(draw):
    n, h, w = draw(st.sampled_from([1, 2, 3, 4, 0])), draw(st.integers(1, 17)), draw(
        st.integers(1, 17))
    c = draw(CHANNEL_COUNTS)
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    half = EXPONENT_RANGE[dtype] // 2
    scales = st.sampled_from([0, half, -half])
    # subnormal values for max pooling only, which selects: an average rounds them
    return dict(x=draw(arrays((n, h, w, c), dtype, draw(scales), MAX_POOL_PATTERNS)),
                x_avg=draw(arrays((n, h, w, c), dtype, draw(scales))),
                dy=draw(arrays((n, c), dtype, draw(scales))), dtype=dtype,
                threads=draw(st.integers(1, 3)), use_out=draw(st.booleans()))


@st.composite
def elementwise_problems(draw):
    shape = tuple(draw(st.lists(st.integers(0, 40), min_size=1, max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    half = EXPONENT_RANGE[dtype] // 2
    inputs = [draw(arrays(shape, dtype, draw(st.sampled_from([0, half, -half]))))
              for _ in range(draw(st.integers(2, 4)))]
    # 0, or +-[0.5, 2] * 2**(-8..8): products stay in the dtype's normal range
    scale, offset = (draw(st.sampled_from([0, 1, -1])) * draw(st.floats(0.5, 2))
                     * 2.0 ** draw(st.integers(-8, 8)) for _ in "so")
    return dict(inputs=inputs, relu=draw(st.booleans()), scale=scale, offset=offset,
                dtype=dtype, threads=draw(st.integers(1, 3)), use_out=draw(st.booleans()))


# --- destinations and threads --------------------------------------------------------------------

def _destination(use_out, shape, dtype):
    return np.full(shape, np.nan, dtype) if use_out else None


class _Threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = fastcnn.get_num_threads()
        fastcnn.set_num_threads(self.n)

    def __exit__(self, *exc_info):
        fastcnn.set_num_threads(self.before)


def _reference(fn, *args, **kwargs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # inf - inf, 0 * inf: NaN is the point here; and the mean of no rows
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _magnitudes(fn, *arrays, **kwargs):
    """``fn`` (a sum of products) on the arrays' absolute values: each result's sum of the
    magnitudes of its terms."""
    return _reference(fn, *(None if a is None else np.abs(a) for a in arrays), **kwargs)


# --- checks --------------------------------------------------------------------------------------

def check_conv2d(p):
    geo = dict(strides=p["strides"], padding=p["padding"])
    expected = _reference(reference.conv2d, *widen(p["x"], p["w"], p["b"]), **geo)
    magnitudes = _magnitudes(reference.conv2d, *widen(p["x"], p["w"], p["b"]), **geo)
    if p["activation"] == "relu":
        expected = np.maximum(expected, 0)           # NaN stays NaN
    out = _destination(p["use_out"], expected.shape, p["dtype"])
    with _Threads(p["threads"]):
        y = ops.conv2d(p["x"], p["w"], p["b"], activation=p["activation"], out=out, **geo)
    assert out is None or y is out
    assert_matches_reference(y, expected, p["dtype"], "y", magnitudes)


def check_conv2d_backward(p):
    geo = dict(strides=p["strides"], padding=p["padding"])
    expected = _reference(reference.conv2d_backward, *widen(p["dy"], p["x"], p["w"]), **geo)
    magnitudes = _magnitudes(reference.conv2d_backward, *widen(p["dy"], p["x"], p["w"]), **geo)
    out = tuple(_destination(p["use_out"], e.shape, p["dtype"]) for e in expected)
    with _Threads(p["threads"]):
        got = ops.conv2d_backward(p["dy"], p["x"], p["w"], out=out if p["use_out"] else None,
                                  **geo)
    for name, g, e, m, o in zip(("dx", "dw", "db"), got, expected, magnitudes, out):
        assert o is None or g is o
        assert_matches_reference(g, e, p["dtype"], name, m)


def check_conv2d_backward_weight(p):
    geo = dict(strides=p["strides"], padding=p["padding"])
    mask = p["relu_output"] if p["activation"] == "relu" else None
    dy = widen(p["dy"]) if mask is None else np.where(widen(mask) > 0, widen(p["dy"]), 0.0)
    _, dw_ref, db_ref = _reference(reference.conv2d_backward, dy, *widen(p["x"], p["w"]), **geo)
    _, dw_mag, db_mag = _magnitudes(reference.conv2d_backward, dy, *widen(p["x"], p["w"]), **geo)
    out = tuple(_destination(p["use_out"], e.shape, p["dtype"]) for e in (dw_ref, db_ref))
    with _Threads(p["threads"]):
        dw, db = ops.conv2d_backward_weight(p["dy"], p["x"], p["w"], relu_output=mask,
                                            out=out if p["use_out"] else None, **geo)
    assert_matches_reference(dw, dw_ref, p["dtype"], "dw", dw_mag)
    assert_matches_reference(db, db_ref, p["dtype"], "db", db_mag)


def _check_pool(p, kind):
    args = (p["pool_size"], p["strides"], p["padding"])
    forward, backward = getattr(ops, f"{kind}_pool2d"), getattr(ops, f"{kind}_pool2d_backward")
    y_ref = _reference(getattr(reference, f"{kind}_pool2d"), widen(p["x"]), *args)
    dx_ref = _reference(getattr(reference, f"{kind}_pool2d_backward"), *widen(p["dy"], p["x"]),
                        *args)
    y_out = _destination(p["use_out"], y_ref.shape, p["dtype"])
    dx_out = _destination(p["use_out"], dx_ref.shape, p["dtype"])
    with _Threads(p["threads"]):
        y = forward(p["x"], *args, out=y_out)
        dx = backward(p["dy"], p["x"], *args, out=dx_out)
    assert y_out is None or (y is y_out and dx is dx_out)
    if kind == "max":
        # a selection: the very element of x, sign of zero included
        assert y.dtype == p["dtype"] and y.shape == y_ref.shape
        assert np.array_equal(y, y_ref, equal_nan=True), "y differs from the reference"
        assert np.array_equal(np.signbit(y), np.signbit(y_ref)), "y: sign of a zero differs"
    else:
        assert_matches_reference(y, y_ref, p["dtype"], "y")
    assert_matches_reference(dx, dx_ref, p["dtype"], "dx")


def check_max_pool2d(p):
    _check_pool(p, "max")


def check_avg_pool2d(p):
    _check_pool(p, "avg")


def check_batch_norm(p):
    x64, dy64, g64, b64, mm64, mv64 = widen(p["x"], p["dy"], p["gamma"], p["beta"],
                                            p["moving_mean"], p["moving_var"])
    eps, c = p["epsilon"], (p["x"].shape[-1],)
    mean_ref, var_ref = _reference(reference.batch_norm_moments, x64)
    expected = dict(
        y=_reference(reference.batch_norm_forward, x64, g64, b64, eps), mean=mean_ref,
        var=var_ref, inv_std=_reference(lambda: 1 / np.sqrt(var_ref + eps)),
        train_backward=_reference(reference.batch_norm_backward, dy64, x64, g64, eps),
        inference=_reference(reference.batch_norm_forward, x64, g64, b64, eps, mm64, mv64),
        inference_dx=_reference(lambda: dy64 * ((1.0 if g64 is None else g64)
                                                / np.sqrt(mv64 + eps))))
    outs = [_destination(p["use_out"], s, p["dtype"]) for s in (p["x"].shape, c, c, c)]
    with _Threads(p["threads"]):
        y, mean, var, inv_std = norm_ops.batch_norm_train(
            p["x"], p["gamma"], p["beta"], eps, out=tuple(outs) if p["use_out"] else None)
        train_backward = norm_ops.batch_norm_train_backward(p["dy"], p["x"], p["gamma"], mean,
                                                            inv_std)
        inference = norm_ops.batch_norm_inference(p["x"], p["gamma"], p["beta"],
                                                  p["moving_mean"], p["moving_var"], eps)
        inference_dx = norm_ops.batch_norm_inference_backward(p["dy"], p["gamma"],
                                                              p["moving_var"], eps)
    assert not p["use_out"] or y is outs[0] and inv_std is outs[3]
    for name, got in (("y", y), ("mean", mean), ("var", var), ("inv_std", inv_std),
                      ("inference", inference), ("inference_dx", inference_dx)):
        assert_matches_reference(got, expected[name], p["dtype"], name)
    terms = _reference(_batch_norm_backward_terms, dy64, x64, g64, eps)
    for name, got, e in zip(("dx", "dgamma", "dbeta"), train_backward,
                            expected["train_backward"]):
        assert_matches_reference(got, e, p["dtype"], name, terms.get(name, 0.0))


def _batch_norm_backward_terms(dy, x, gamma, eps):
    """The largest finite magnitudes of the terms dx and dgamma are sums of (dx is dy's share
    less its projection on 1 and xhat, near 0 when dy nearly lies in their span, as for
    dy = y), with x's rounding to the data's dtype in: a float32 mean is known to about
    eps * |x| only."""
    rows = tuple(range(x.ndim - 1))
    m = max(int(np.prod(x.shape[:-1])), 1)
    mean, var = reference.batch_norm_moments(x)
    inv = 1 / np.sqrt(var + eps)
    spread = (np.abs(x) + np.abs(mean)) * inv                 # bounds |xhat| and its error
    dgamma = (np.abs(dy) * spread).sum(axis=rows)
    k = np.abs(1.0 if gamma is None else gamma) * inv / m
    dx = k * (m * np.abs(dy) + np.abs(dy).sum(axis=rows) + spread * dgamma)

    def largest(a):
        a = a[np.isfinite(a)]
        return float(a.max()) if a.size else 0.0
    return {"dx": largest(dx), "dgamma": largest(dgamma)}


def check_global_pools(p):
    x64, dy64 = widen(p["x_avg"], p["dy"])
    pooled = (p["x"].shape[0], p["x"].shape[3])
    outs = [_destination(p["use_out"], s, p["dtype"]) for s in (pooled, pooled)]
    picks = np.full(pooled, -1, np.intp)
    with _Threads(p["threads"]):
        avg = norm_ops.global_avg_pool2d(p["x_avg"], out=outs[0])
        top = norm_ops.global_max_pool2d(p["x"], out=outs[1], picks=picks)
        avg_dx = norm_ops.global_avg_pool2d_backward(p["dy"], p["x"].shape)
        max_dx = norm_ops.global_max_pool2d_backward(p["dy"], p["x"])
        picks_dx = norm_ops.global_max_pool2d_backward(p["dy"], picks=picks,
                                                       x_shape=p["x"].shape)
    assert outs[0] is None or (avg is outs[0] and top is outs[1])
    assert_matches_reference(avg, _reference(reference.global_avg_pool2d, x64), p["dtype"], "y")
    assert_matches_reference(avg_dx, _reference(reference.global_avg_pool2d_backward, dy64,
                                                x64), p["dtype"], "dx")
    y_ref = reference.global_max_pool2d(p["x"])          # a selection: in x's own dtype
    assert top.dtype == p["dtype"] and np.array_equal(top, y_ref, equal_nan=True)
    assert np.array_equal(np.signbit(top), np.signbit(y_ref)), "y: sign of a zero differs"
    dx_ref = reference.global_max_pool2d_backward(p["dy"], p["x"])
    for name, got in (("dx", max_dx), ("dx from picks", picks_dx)):
        assert got.dtype == p["dtype"] and np.array_equal(got, dx_ref, equal_nan=True), name


def check_elementwise(p):
    inputs, dtype = p["inputs"], p["dtype"]
    with np.errstate(all="ignore"):                   # inf - inf is NaN here too
        total = inputs[0] + inputs[1]                 # the order add() promises, in dtype
        for a in inputs[2:]:
            total = total + a
    if p["relu"]:
        total = np.where(total < 0, dtype.type(0), total)
    scale, offset = (float(dtype.type(v)) for v in (p["scale"], p["offset"]))
    out = _destination(p["use_out"], total.shape, dtype)
    with _Threads(p["threads"]), np.errstate(all="ignore"):
        got = norm_ops.add(inputs, relu=p["relu"], out=out)
        relu = norm_ops.relu(inputs[0])
        rescaled = norm_ops.rescale(inputs[1], p["scale"], p["offset"])
        rescale_ref = widen(inputs[1]) * scale + offset
    assert out is None or got is out
    for name, g, e in (("add", got, total), ("relu", relu,
                                             np.where(inputs[0] < 0, dtype.type(0), inputs[0]))):
        assert g.dtype == dtype and np.array_equal(g, e, equal_nan=True), name
        assert np.array_equal(np.signbit(g[~np.isnan(g)]), np.signbit(e[~np.isnan(e)])), name
    assert_matches_reference(rescaled, rescale_ref, dtype, "rescale")


FUZZ_TESTS = {
    "conv2d": (conv_problems(), check_conv2d),
    "conv2d_backward": (conv_problems(), check_conv2d_backward),
    "conv2d_nonfinite_weights": (conv_problems(NONFINITE_PATTERNS), check_conv2d),
    "conv2d_backward_nonfinite_weights": (conv_problems(NONFINITE_PATTERNS),
                                          check_conv2d_backward),
    "conv2d_backward_weight": (conv_problems(), check_conv2d_backward_weight),
    "max_pool2d_and_backward": (pool_problems(MAX_POOL_PATTERNS), check_max_pool2d),
    "avg_pool2d_and_backward": (pool_problems(PATTERNS), check_avg_pool2d),
    "batch_norm": (batch_norm_problems(), check_batch_norm),
    "global_pools": (global_pool_problems(), check_global_pools),
    "add_relu_rescale": (elementwise_problems(), check_elementwise),
}


def _fuzz(name, profile):
    strategy, check = FUZZ_TESTS[name]
    return profile(given(strategy)(check))


# Quick profile (default run) and long profile (-m slow) of each check. Both share hypothesis'
# example database, so a failure the long run finds is replayed by the quick one.
test_conv2d_fuzz_matches_reference = _fuzz("conv2d", quick)
test_conv2d_backward_fuzz_matches_reference = _fuzz("conv2d_backward", quick)
test_conv2d_nonfinite_weights_fuzz_matches_reference = _fuzz("conv2d_nonfinite_weights", quick)
test_conv2d_backward_nonfinite_weights_fuzz_matches_reference = _fuzz(
    "conv2d_backward_nonfinite_weights", quick)
test_conv2d_backward_weight_fuzz_matches_reference = _fuzz("conv2d_backward_weight", quick)
test_max_pool2d_fuzz_matches_reference = _fuzz("max_pool2d_and_backward", quick)
test_avg_pool2d_fuzz_matches_reference = _fuzz("avg_pool2d_and_backward", quick)
test_batch_norm_fuzz_matches_reference = _fuzz("batch_norm", quick)
test_global_pools_fuzz_matches_reference = _fuzz("global_pools", quick)
test_add_relu_rescale_fuzz_matches_reference = _fuzz("add_relu_rescale", quick)

test_conv2d_fuzz_matches_reference_long = pytest.mark.slow(_fuzz("conv2d", long))
test_conv2d_backward_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("conv2d_backward", long))
test_conv2d_nonfinite_weights_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("conv2d_nonfinite_weights", long))
test_conv2d_backward_nonfinite_weights_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("conv2d_backward_nonfinite_weights", long))
test_conv2d_backward_weight_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("conv2d_backward_weight", long))
test_max_pool2d_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("max_pool2d_and_backward", long))
test_avg_pool2d_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("avg_pool2d_and_backward", long))
test_batch_norm_fuzz_matches_reference_long = pytest.mark.slow(_fuzz("batch_norm", long))
test_global_pools_fuzz_matches_reference_long = pytest.mark.slow(_fuzz("global_pools", long))
test_add_relu_rescale_fuzz_matches_reference_long = pytest.mark.slow(
    _fuzz("add_relu_rescale", long))


# --- the comparison itself can fail --------------------------------------------------------------

@pytest.mark.parametrize("actual,expected", [
    ([1.0, np.nan], [1.0, 2.0]),                 # NaN where the reference is finite
    ([1.0, 2.0], [1.0, np.nan]),                 # finite where the reference is NaN
    ([np.inf, 2.0], [-np.inf, 2.0]),             # an infinity of the wrong sign
    ([np.inf, 2.0], [1e300, 2.0]),               # inf where the reference is finite
    ([1.0, 2.0 + 1e-6], [1.0, 2.0]),             # a finite value out of tolerance
], ids=["nan-extra", "nan-missing", "inf-sign", "inf-extra", "finite-off"])
def test_assert_matches_reference_rejects(actual, expected):
    with pytest.raises(AssertionError):
        assert_matches_reference(np.array(actual), np.array(expected), np.float64, "r")


def test_assert_matches_reference_holds_values_to_the_scale_of_their_terms():
    # terms of magnitude ~3 that cancel to exactly 0 in float64 and to one float32 rounding
    cancelled, exact, terms = np.array([5.96e-8, 0.0]), np.array([0.0, 0.0]), np.array([3.1, 2.0])
    assert_matches_reference(cancelled.astype(np.float32), exact, np.float32, "r", terms)
    with pytest.raises(AssertionError):
        assert_matches_reference(cancelled.astype(np.float32), exact, np.float32, "r")
    with pytest.raises(AssertionError):     # an error at the scale of the terms still fails
        assert_matches_reference(np.array([1e-3, 0.0], np.float32), exact, np.float32, "r",
                                 terms)


def test_assert_matches_reference_accepts_matching_specials():
    a = np.array([np.nan, np.inf, -np.inf, 1.0 + 1e-12, 0.0])
    e = np.array([np.nan, np.inf, -np.inf, 1.0, -0.0])
    assert_matches_reference(a, e, np.float64, "r")


@pytest.mark.parametrize("pattern", PATTERNS + ("subnormal",))
@pytest.mark.parametrize("dtype", DTYPES)
def test_value_patterns_have_their_property(pattern, dtype):
    dtype = np.dtype(dtype)
    v = _values(np.random.default_rng(3), (4000,), dtype, pattern, EXPONENT_RANGE[dtype] // 2)
    assert v.dtype == dtype
    finite = v[np.isfinite(v)]
    if pattern == "ties":
        assert len(np.unique(finite)) == 5
    elif pattern == "zeros":
        assert np.all(v == 0) and np.any(np.signbit(v)) and not np.all(np.signbit(v))
    elif pattern == "nonfinite":
        assert np.isnan(v).any() and np.isposinf(v).any() and np.isneginf(v).any()
    elif pattern == "isolated":
        assert 1 <= np.count_nonzero(~np.isfinite(v)) <= 3
    elif pattern == "subnormal":
        nonzero = np.abs(finite[finite != 0])
        assert np.all(nonzero < np.finfo(dtype).tiny)
    else:
        assert np.all(np.isfinite(v))
        assert np.max(np.abs(v)) < np.finfo(dtype).max / 2**20
        assert np.min(np.abs(v[v != 0])) > np.finfo(dtype).tiny
