"""The error contract of fastcnn.ops (API.md): bad shapes and arguments raise ValueError, bad
dtypes raise TypeError, and every message names the offending argument (and, for shape errors,
the offending shape). Table-driven: one row per case, for every function it applies to.
"""
import re

import numpy as np
import pytest

from fastcnn import ops

F32, F64 = np.float32, np.float64

# A valid problem: x (2, 6, 5, 3), w 3x3 3->4, valid stride 1 -> y (2, 4, 3, 4);
# pool 2 (stride 2, valid) -> (2, 3, 2, 3).
X_SHAPE, W_SHAPE, Y_SHAPE, P_SHAPE = (2, 6, 5, 3), (3, 3, 3, 4), (2, 4, 3, 4), (2, 3, 2, 3)


def _arr(shape, dtype=F32):
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) / 7
    return np.asarray(values).astype(dtype)   # stays an ndarray for shape ()


def conv2d(x=None, w=None, b="default", **kw):
    x = _arr(X_SHAPE) if x is None else x
    w = _arr(W_SHAPE) if w is None else w
    b = _arr((4,)) if isinstance(b, str) else b
    return lambda: ops.conv2d(x, w, b, **kw)


def conv2d_backward(dy=None, x=None, w=None, **kw):
    dy = _arr(Y_SHAPE) if dy is None else dy
    x = _arr(X_SHAPE) if x is None else x
    w = _arr(W_SHAPE) if w is None else w
    return lambda: ops.conv2d_backward(dy, x, w, **kw)


def _pool_forward(fn):
    def build(x=None, **kw):
        x = _arr(X_SHAPE) if x is None else x
        return lambda: fn(x, **kw)
    return build


def _pool_backward(fn):
    def build(dy=None, x=None, **kw):
        dy = _arr(P_SHAPE) if dy is None else dy
        x = _arr(X_SHAPE) if x is None else x
        return lambda: fn(dy, x, **kw)
    return build


max_pool2d = _pool_forward(ops.max_pool2d)
avg_pool2d = _pool_forward(ops.avg_pool2d)
max_pool2d_backward = _pool_backward(ops.max_pool2d_backward)
avg_pool2d_backward = _pool_backward(ops.avg_pool2d_backward)

POOL_FORWARD = {"max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d}
POOL_BACKWARD = {"max_pool2d_backward": max_pool2d_backward,
                 "avg_pool2d_backward": avg_pool2d_backward}
ALL_SIX = {"conv2d": conv2d, "conv2d_backward": conv2d_backward, **POOL_FORWARD,
           **POOL_BACKWARD}


def names(*args, shape=None):
    """A regex that requires every name in ``args`` as a word (and ``shape`` verbatim)."""
    parts = [rf"(?=.*\b{re.escape(a)}\b)" for a in args]
    if shape is not None:
        parts.append(f"(?=.*{re.escape(str(tuple(shape)))})")
    return "(?s)" + "".join(parts)


def either(*args):
    """A regex that requires at least one of the names in ``args`` as a word."""
    return r"\b(" + "|".join(re.escape(a) for a in args) + r")\b"


CASES = []


def case(case_id, thunk, exc, match):
    CASES.append(pytest.param(thunk, exc, match, id=case_id))


# --- wrong rank -> ValueError naming the argument and its shape ---------------------------------
for bad in [(6, 5, 3), (1, 2, 6, 5, 3)]:
    for fn_name, build in ALL_SIX.items():
        case(f"{fn_name}-x-rank{len(bad)}", build(x=_arr(bad)), ValueError,
             names("x", shape=bad))
for bad in [(3, 3, 3), (1, 3, 3, 3, 4)]:
    case(f"conv2d-w-rank{len(bad)}", conv2d(w=_arr(bad)), ValueError, names("w", shape=bad))
    case(f"conv2d_backward-w-rank{len(bad)}", conv2d_backward(w=_arr(bad)), ValueError,
         names("w", shape=bad))
for bad in [(4, 3, 4), (1, 2, 4, 3, 4)]:
    case(f"conv2d_backward-dy-rank{len(bad)}", conv2d_backward(dy=_arr(bad)), ValueError,
         names("dy", shape=bad))
for bad in [(3, 2, 3), (1, 2, 3, 2, 3)]:
    for fn_name, build in POOL_BACKWARD.items():
        case(f"{fn_name}-dy-rank{len(bad)}", build(dy=_arr(bad)), ValueError,
             names("dy", shape=bad))

# --- channel mismatch between x and w -> ValueError naming both ----------------------------------
for c_w in (2, 4):
    w_bad = _arr((3, 3, c_w, 4))
    case(f"conv2d-w-in_channels{c_w}-x-channels3", conv2d(w=w_bad), ValueError, names("x", "w"))
    case(f"conv2d_backward-w-in_channels{c_w}-x-channels3", conv2d_backward(w=w_bad),
         ValueError, names("x", "w"))

# --- dy of the wrong shape -> ValueError naming dy and its shape ---------------------------------
for what, bad in [("height", (2, 3, 3, 4)), ("width", (2, 4, 4, 4)), ("filters", (2, 4, 3, 5)),
                  ("batch", (3, 4, 3, 4))]:
    case(f"conv2d_backward-dy-wrong-{what}", conv2d_backward(dy=_arr(bad)), ValueError,
         names("dy", shape=bad))
for what, bad in [("height", (2, 2, 2, 3)), ("width", (2, 3, 3, 3)), ("channels", (2, 3, 2, 4)),
                  ("batch", (1, 3, 2, 3))]:
    for fn_name, build in POOL_BACKWARD.items():
        case(f"{fn_name}-dy-wrong-{what}", build(dy=_arr(bad)), ValueError,
             names("dy", shape=bad))

# --- window that does not fit with "valid" -> ValueError -----------------------------------------
for kh, kw in [(7, 3), (3, 6), (7, 7)]:
    case(f"conv2d-kernel{kh}x{kw}-on-6x5-valid", conv2d(w=_arr((kh, kw, 3, 4))), ValueError,
         either("w", "x"))
    case(f"conv2d_backward-kernel{kh}x{kw}-on-6x5-valid",
         conv2d_backward(w=_arr((kh, kw, 3, 4)), dy=_arr((2, 1, 1, 4))), ValueError,
         either("w", "x"))
for pool in [7, (1, 6)]:
    for fn_name, build in POOL_FORWARD.items():
        case(f"{fn_name}-pool{pool}-on-6x5-valid", build(pool_size=pool), ValueError,
             either("pool_size", "x"))
    for fn_name, build in POOL_BACKWARD.items():
        case(f"{fn_name}-pool{pool}-on-6x5-valid",
             build(pool_size=pool, dy=_arr((2, 1, 1, 3))), ValueError,
             either("pool_size", "x"))
case("conv2d-empty-height-valid", conv2d(x=_arr((2, 0, 5, 3))), ValueError, either("w", "x"))

# --- non-positive sizes and strides -> ValueError naming the argument ----------------------------
for s in (0, -1, (0, 1), (1, -1), (-2, -2)):
    case(f"conv2d-strides{s}", conv2d(strides=s), ValueError, names("strides"))
    case(f"conv2d_backward-strides{s}", conv2d_backward(strides=s), ValueError, names("strides"))
for s in (0, -1, (0, 2), (2, -1)):
    for fn_name, build in {**POOL_FORWARD, **POOL_BACKWARD}.items():
        case(f"{fn_name}-pool_size{s}", build(pool_size=s), ValueError, names("pool_size"))
for s in (0, -1, (2, 0)):
    for fn_name, build in {**POOL_FORWARD, **POOL_BACKWARD}.items():
        case(f"{fn_name}-strides{s}", build(strides=s), ValueError, names("strides"))
for bad in [(0, 3, 3, 4), (3, 0, 3, 4)]:
    case(f"conv2d-w-kernel-size-zero-{bad[:2]}", conv2d(w=_arr(bad)), ValueError, names("w"))
    case(f"conv2d_backward-w-kernel-size-zero-{bad[:2]}", conv2d_backward(w=_arr(bad)),
         ValueError, names("w"))

# --- strides / pool_size of the wrong type -> TypeError or ValueError naming the argument -------
for s in (1.5, "2", (1, 2, 3), (1,), None):
    if s is not None:
        case(f"conv2d-strides-{s!r}", conv2d(strides=s), (TypeError, ValueError),
             names("strides"))
    case(f"max_pool2d-pool_size-{s!r}", max_pool2d(pool_size=s), (TypeError, ValueError),
         names("pool_size"))
for s in (2.0, "2", (2, 2, 2)):
    case(f"avg_pool2d_backward-strides-{s!r}", avg_pool2d_backward(strides=s),
         (TypeError, ValueError), names("strides"))

# --- padding: unknown strings -> ValueError; other types -> TypeError or ValueError -------------
for fn_name, build in ALL_SIX.items():
    for p in ("full", "", "causal"):
        case(f"{fn_name}-padding-{p!r}", build(padding=p), ValueError, names("padding"))
    for p in (None, 3):
        case(f"{fn_name}-padding-{p!r}", build(padding=p), (TypeError, ValueError),
             names("padding"))

# --- mixed float dtypes -> TypeError naming the offending argument -------------------------------
case("conv2d-x-float32-w-float64", conv2d(w=_arr(W_SHAPE, F64)), TypeError, names("w"))
case("conv2d-x-float64-w-float32",
     conv2d(x=_arr(X_SHAPE, F64), b=_arr((4,), F64)), TypeError, names("w"))
case("conv2d-b-float64-with-float32", conv2d(b=_arr((4,), F64)), TypeError, names("b"))
case("conv2d-b-float32-with-float64",
     conv2d(x=_arr(X_SHAPE, F64), w=_arr(W_SHAPE, F64)), TypeError, names("b"))
case("conv2d_backward-dy-float64-with-float32", conv2d_backward(dy=_arr(Y_SHAPE, F64)),
     TypeError, names("dy"))
case("conv2d_backward-dy-float32-with-float64",
     conv2d_backward(x=_arr(X_SHAPE, F64), w=_arr(W_SHAPE, F64)), TypeError, names("dy"))
case("conv2d_backward-w-float64-with-float32", conv2d_backward(w=_arr(W_SHAPE, F64)),
     TypeError, names("w"))
case("conv2d_backward-w-float32-with-float64",
     conv2d_backward(dy=_arr(Y_SHAPE, F64), x=_arr(X_SHAPE, F64)), TypeError, names("w"))
for fn_name, build in POOL_BACKWARD.items():
    case(f"{fn_name}-dy-float64-with-float32", build(dy=_arr(P_SHAPE, F64)), TypeError,
         names("dy"))
    case(f"{fn_name}-dy-float32-with-float64", build(x=_arr(X_SHAPE, F64)), TypeError,
         names("dy"))

# --- non-float arrays -> TypeError naming the argument -------------------------------------------
NON_FLOAT = {"int32": np.int32, "int64": np.int64, "uint8": np.uint8, "bool": np.bool_,
             "object": object, "complex128": np.complex128, "float16": np.float16}
for dt_name, dt in NON_FLOAT.items():
    for fn_name, build in ALL_SIX.items():
        case(f"{fn_name}-x-{dt_name}", build(x=_arr(X_SHAPE).astype(dt)), TypeError, names("x"))
for dt_name in ("int64", "bool", "complex128", "float16"):
    dt = NON_FLOAT[dt_name]
    case(f"conv2d-w-{dt_name}", conv2d(w=_arr(W_SHAPE).astype(dt)), TypeError, names("w"))
    case(f"conv2d-b-{dt_name}", conv2d(b=_arr((4,)).astype(dt)), TypeError, names("b"))
    case(f"conv2d_backward-w-{dt_name}", conv2d_backward(w=_arr(W_SHAPE).astype(dt)),
         TypeError, names("w"))
    case(f"conv2d_backward-dy-{dt_name}", conv2d_backward(dy=_arr(Y_SHAPE).astype(dt)),
         TypeError, names("dy"))
    for fn_name, build in POOL_BACKWARD.items():
        case(f"{fn_name}-dy-{dt_name}", build(dy=_arr(P_SHAPE).astype(dt)), TypeError,
             names("dy"))

# --- bias of the wrong shape -> ValueError naming b ----------------------------------------------
for bad in [(5,), (3,), (1, 4), (4, 1), ()]:
    case(f"conv2d-b-shape{bad}", conv2d(b=_arr(bad)), ValueError, names("b"))


@pytest.mark.parametrize("thunk,exc,match", CASES)
def test_invalid_argument_raises_error_naming_it(thunk, exc, match):
    with pytest.raises(exc, match=match):
        thunk()


def test_error_table_covers_every_function():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) >= 60
    for fn_name in ALL_SIX:
        assert sum(i.startswith(fn_name + "-") for i in ids) >= 20, fn_name


@pytest.mark.parametrize("fn_name", list(ALL_SIX))
def test_valid_base_problem_of_the_error_table_runs(fn_name):
    # Each error row changes one argument of this call; the unchanged call must succeed.
    result = ALL_SIX[fn_name]()()
    results = result if isinstance(result, tuple) else (result,)
    assert all(r.dtype == np.float32 for r in results)
