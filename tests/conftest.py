"""Shared helpers for the kernel tests: seeded data, the tolerance rule, memory layouts, central
finite differences.

Tolerance rule (one place, used by every value test): the compiled result is compared with the
float64 reference run on the same input values (float32 inputs are widened exactly), using the
norm-based relative error ``max|actual - expected| / max(max|expected|, tiny)``; it must not exceed
1e-10 for float64 results and 1e-4 for float32 results.
"""
import numpy as np
import pytest

FLOAT_DTYPES = (np.float32, np.float64)
FLOAT_DTYPE_IDS = ("float32", "float64")

RELATIVE_TOLERANCE = {
    np.dtype(np.float64): 1e-10,
    np.dtype(np.float32): 1e-4,
}
_TINY = np.finfo(np.float64).tiny


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, so every test sees reproducible data."""
    return np.random.default_rng(20240611)


def random_array(rng, shape, dtype):
    """Standard-normal values of ``dtype`` (drawn in float64, then rounded once)."""
    return rng.standard_normal(shape).astype(dtype)


def widen(*arrays):
    """float64 copies of the arrays (exact for float32 inputs), ``None`` passed through."""
    out = tuple(None if a is None else np.asarray(a, dtype=np.float64) for a in arrays)
    return out[0] if len(out) == 1 else out


def relative_error(actual, expected):
    """max|actual - expected| / max(max|expected|, tiny), computed in float64."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(expected))), _TINY)
    return float(np.max(np.abs(actual - expected))) / scale


def assert_close(actual, expected, dtype, name="result"):
    """``actual`` is an ndarray of ``dtype`` and ``expected``'s shape, within the tolerance rule."""
    dtype = np.dtype(dtype)
    assert isinstance(actual, np.ndarray), f"{name}: expected an ndarray, got {type(actual)}"
    assert actual.dtype == dtype, f"{name}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, (
        f"{name}: shape {actual.shape}, expected {expected.shape}")
    if actual.size == 0:
        return
    assert np.all(np.isfinite(actual)), f"{name}: non-finite values in shape {actual.shape}"
    err = relative_error(actual, expected)
    tol = RELATIVE_TOLERANCE[dtype]
    assert err <= tol, (
        f"{name}: relative error {err:.3e} > {tol:.0e} for {dtype} "
        f"(shape {actual.shape}, max|expected| {np.max(np.abs(expected)):.3e})")


def _first(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


def assert_matches_reference(actual, expected, dtype, name, magnitudes=None):
    """NaN and +-inf exactly where the reference has them, finite values within the tolerance
    rule: the comparison for results that may hold special values (tested in
    test_ops_fuzz.py to reject each kind of mismatch).

    ``magnitudes``: for results that are sums, the reference run on the inputs' absolute
    values (each result's sum of its terms' magnitudes), or one number, the largest magnitude
    of the terms. The rule's scale is then the largest of those and of the reference's
    values, so that results whose terms cancel to (nearly) zero everywhere are held to the
    rounding of their terms, not to zero."""
    dtype = np.dtype(dtype)
    assert isinstance(actual, np.ndarray), f"{name}: got {type(actual).__name__}"
    assert actual.dtype == dtype, f"{name}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} vs {expected.shape}"
    a = actual.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        i = _first(nan_a != nan_e)
        raise AssertionError(f"{name}: NaN where the reference has none or the reverse, first "
                             f"at {i}: {a[i]!r} vs reference {e[i]!r} "
                             f"({int(nan_a.sum())} NaN vs {int(nan_e.sum())})")
    inf_e = np.isinf(e)
    wrong_inf = (np.isinf(a) != inf_e) | (inf_e & (a != e))
    if wrong_inf.any():
        i = _first(wrong_inf)
        raise AssertionError(f"{name}: infinities differ from the reference, first at {i}: "
                             f"{a[i]!r} vs reference {e[i]!r}")
    finite = ~(nan_e | inf_e)
    if finite.any():
        scale = np.max(np.abs(e[finite]))
        if magnitudes is not None:
            m = np.asarray(magnitudes, np.float64)
            scale = max(scale, float(np.max(m[finite]) if m.ndim else m))
        err = np.max(np.abs(a[finite] - e[finite])) / max(scale, _TINY)
        tol = RELATIVE_TOLERANCE[dtype]
        assert err <= tol, (f"{name}: relative error {err:.3e} > {tol:.0e} for {dtype} "
                            f"(shape {actual.shape})")


# --- memory layouts ------------------------------------------------------------------------------
# Each layout returns an array with the same values and dtype as its argument but a different
# memory layout. The kernels must give exactly the result they give on a contiguous copy.

LAYOUTS = (
    "fortran_order",
    "negative_strides",
    "reversed_axis1",
    "strided_slice",
    "read_only",
    "read_only_strided_slice",
    "channels_first_memory",
    "unaligned",
)


def _strided_slice(a):
    # Embed ``a`` every other element of a larger buffer with a margin of one (x[1:-1:2]-style).
    buf = np.full(tuple(2 * s + 2 for s in a.shape), np.nan, dtype=a.dtype)
    index = tuple(slice(1, 1 + 2 * s, 2) for s in a.shape)
    buf[index] = a
    return buf[index]


def _unaligned(a):
    # C order, but one byte past an aligned address (as from a packed file or buffer).
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    v = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    v[...] = a
    assert not v.flags.aligned or a.dtype.alignment == 1 or a.size == 0
    return v


def with_layout(a, layout):
    """A view with the values of ``a`` laid out in memory as ``layout`` describes."""
    a = np.asarray(a)
    if layout == "fortran_order":
        v = np.asfortranarray(a)
    elif layout == "negative_strides":
        v = np.flip(np.flip(a).copy())            # every axis has a negative stride
    elif layout == "reversed_axis1":
        axis = 1 if a.ndim > 1 else 0             # the x[:, ::-1] pattern
        v = np.flip(np.flip(a, axis).copy(), axis)
    elif layout == "strided_slice":
        v = _strided_slice(a)
    elif layout == "read_only":
        v = a.copy()
        v.setflags(write=False)
    elif layout == "read_only_strided_slice":
        v = _strided_slice(a)
        v.setflags(write=False)
    elif layout == "channels_first_memory":
        # NHWC values stored as NCHW (channels-first) memory: the last axis is the slow one.
        v = np.moveaxis(np.ascontiguousarray(np.moveaxis(a, -1, 0)), 0, -1)
    elif layout == "unaligned":
        v = _unaligned(a)
    else:
        raise AssertionError(f"unknown layout {layout!r}")
    assert v.dtype == a.dtype and v.shape == a.shape
    assert np.array_equal(v, a, equal_nan=True)
    if layout.startswith("read_only"):
        assert not v.flags.writeable
    return v


# --- finite differences ---------------------------------------------------------------------------

FD_STEP = 1e-6


def numeric_gradient(loss, a):
    """Central-difference gradient of scalar ``loss()`` with respect to every element of ``a``.

    ``a`` is perturbed in place and restored, so ``loss`` must read it at call time.
    """
    grad = np.zeros_like(a)
    flat, gflat = a.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + FD_STEP
        plus = loss()
        flat[k] = saved - FD_STEP
        minus = loss()
        flat[k] = saved
        gflat[k] = (plus - minus) / (2 * FD_STEP)
    return grad


def distinct_values(rng, shape, spacing=0.01):
    """Array of distinct values spaced ``spacing`` apart, centred on zero, in random order.

    Max pooling is differentiable at such points and a step of FD_STEP << spacing never
    changes which element of a window is the maximum.
    """
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * spacing).reshape(shape)
