"""Every entry of the table of kernels (fastcnn._kernels.kernel_table(), csrc/registry.c) that
this CPU can run, run on its own (fastcnn._kernels.run_with) against NumPy and
fastcnn.reference, on shapes below, at and above its tile and blocking sizes.

The table drives the tests: a kernel set added to it is tested here with no test to write,
and an entry this CPU cannot run is not run but listed in
test_entries_not_run_are_exactly_those_whose_isa_the_cpu_lacks, which checks that list
against /proc/cpuinfo, so that a kernel set missing from the build cannot pass unseen.
"""
import numpy as np
import pytest

from fastcnn import _fused_ops as fused_ops, _kernels, ops, reference
from conftest import assert_close, random_array, widen
from test_threads import ISA_LEVELS, _best_isa_by_cpuinfo

TABLE = _kernels.kernel_table()
GEMM_ENTRIES = [e for e in TABLE if e["op"] == "gemm"]
POOL_ENTRIES = [e for e in TABLE if e["op"] == "pool"]


def _entries(entries):
    return pytest.mark.parametrize("entry", entries, ids=[e["name"] for e in entries])


def _runnable(entry):
    if not entry["runnable"]:
        pytest.skip(f"{entry['name']}: this CPU cannot run it (listed by "
                    "test_entries_not_run_are_exactly_those_whose_isa_the_cpu_lacks)")
    return entry


def test_entries_not_run_are_exactly_those_whose_isa_the_cpu_lacks():
    best = _best_isa_by_cpuinfo()
    if best is None:
        pytest.skip("no /proc/cpuinfo to say what this CPU has")
    not_run = [e["name"] for e in TABLE if not e["runnable"]]
    lacked = [e["name"] for e in TABLE if ISA_LEVELS.index(e["isa"]) > ISA_LEVELS.index(best)]
    assert not_run == lacked


def test_table_has_gemm_and_pool_entries_for_each_isa_and_dtype():
    for isa in ISA_LEVELS:
        for op in ("gemm", "pool"):
            for dtype in ("float32", "float64"):
                assert any(e["isa"] == isa and e["op"] == op and e["dtype"] == dtype
                           for e in TABLE), (isa, op, dtype)
    assert len({e["name"] for e in TABLE}) == len(TABLE), "names must be unique"


@_entries(TABLE)
def test_entry_name_says_dtype_operation_tile_and_isa(entry):
    prefix = {"float32": "f32", "float64": "f64"}[entry["dtype"]]
    head, _, isa = entry["name"].partition("__")
    assert isa == entry["isa"]
    assert head.startswith(f"{prefix}_{entry['op']}_")
    if not entry["compiled"]:
        return
    tile = head[len(f"{prefix}_{entry['op']}_"):]
    if entry["op"] == "gemm":
        assert tile == f"{entry['mr']}x{entry['nr']}"
        assert min(entry["kc"], entry["mc"], entry["nc"], entry["conv_kc"], entry["conv_mc"]) > 0
    else:
        assert tile == f"c{entry['channels']}"


@_entries(TABLE)
def test_run_with_puts_the_entry_in_use_and_restores_the_selection(entry):
    _runnable(entry)
    before = (_kernels.current_isa(), _kernels.pool_isa(), _kernels.tile_sizes())
    if entry["op"] == "gemm":
        got = _kernels.run_with(entry["name"], _kernels.tile_sizes)[entry["dtype"]]
        assert got == (entry["mr"], entry["nr"])
    else:
        assert _kernels.run_with(entry["name"], _kernels.pool_isa) == entry["isa"]
    assert (_kernels.current_isa(), _kernels.pool_isa(), _kernels.tile_sizes()) == before


def test_run_with_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="no kernel"):
        _kernels.run_with("f32_gemm_1x1__nothing", _kernels.tile_sizes)


# --- GEMM micro-kernels, through the GEMM driver of Dense -----------------------------------------

def _gemm_shapes(e):
    mr, nr, kc = e["mr"], e["nr"], e["kc"]
    around = lambda t: (t - 1, t, t + 1)  # noqa: E731
    shapes = [(m, n, 5) for m in around(mr) for n in around(nr)]
    shapes += [(mr + 1, nr + 1, k) for k in around(kc)]
    # past the cache blocks: MC rows, NC columns
    shapes += [(e["mc"] + 1, 2 * nr + 1, 9), (mr + 1, e["nc"] + 1, 3)]
    return shapes


def _gemm_cases(e):
    for m, n, k in _gemm_shapes(e):
        for trans_a in (False, True):       # A read in place (indirect kernel) or packed
            for variant in ("plain", "bias_relu", "accumulate"):
                yield m, n, k, trans_a, variant


@_entries(GEMM_ENTRIES)
def test_gemm_entry_matches_numpy_below_at_and_above_its_tile(entry, rng):
    e = _runnable(entry)
    dtype = np.dtype(e["dtype"])

    def run():
        for m, n, k, trans_a, variant in _gemm_cases(e):
            a = random_array(rng, (k, m) if trans_a else (m, k), dtype)
            b = random_array(rng, (k, n), dtype)
            bias = random_array(rng, (n,), dtype) if variant == "bias_relu" else None
            c = random_array(rng, (m, n), dtype)
            want = widen(a).T @ widen(b) if trans_a else widen(a) @ widen(b)
            if variant == "accumulate":
                want = want + widen(c)
            elif variant == "bias_relu":
                want = np.maximum(want + widen(bias), 0)
            _kernels.gemm(a, b, c, trans_a, False, bias, variant == "accumulate",
                          variant == "bias_relu", 2)
            assert_close(c, want, dtype, f"{e['name']} {m}x{n}x{k} {variant} "
                                         f"trans_a={trans_a}")

    _kernels.run_with(e["name"], run)


# --- convolutions on the set's kernels -----------------------------------------------------------

def _conv_cases(e):
    """(channels, output width, filters, strides): output rows below, at and above MR pixels,
    filters below, at and above NR; channel counts on both sides of the few-channel
    thresholds of csrc/fastcnn_kernels.h (3: every few-channel kernel; 16 | 17: the forward on
    a padded copy or as a GEMM; 33: dW transposed but on avx512), a reduction past conv_kc
    (65 channels x 3 x 3 taps) and 129 channels (dW transposed on avx512 too)."""
    mr, nr = e["mr"], e["nr"]
    cases = [(c, ow, f, 1) for c in (3, 16, 17, 33) for ow in (mr - 1, mr, mr + 1)
             for f in (nr - 1, nr, nr + 1)]
    assert 65 * 9 > e["conv_kc"]
    return cases + [(65, mr + 1, nr + 1, 1), (129, mr + 1, nr + 1, 1), (17, mr + 1, nr + 1, 2)]


@_entries(GEMM_ENTRIES)
def test_conv2d_on_gemm_entry_matches_reference_below_at_and_above_its_tile(entry, rng):
    e = _runnable(entry)
    dtype = np.dtype(e["dtype"])

    def run():
        for c, ow, f, s in _conv_cases(e):
            x = random_array(rng, (2, 3 * s, (ow - 1) * s + 3, c), dtype)
            w = random_array(rng, (3, 3, c, f), dtype)
            b = random_array(rng, (f,), dtype)
            y = ops.conv2d(x, w, b, s, "same")
            dy = random_array(rng, y.shape, dtype)
            dx, dw, db = ops.conv2d_backward(dy, x, w, s, "same")
            name = f"{e['name']} c={c} ow={ow} f={f} s={s}"
            assert_close(y, reference.conv2d(*widen(x, w, b), s, "same"), dtype, name + " y")
            want = reference.conv2d_backward(*widen(dy, x, w), s, "same")
            for got, ref, what in zip((dx, dw, db), want, ("dx", "dw", "db")):
                assert_close(got, ref, dtype, f"{name} {what}")

    _kernels.run_with(e["name"], run)


@_entries(GEMM_ENTRIES)
def test_winograd_on_gemm_entry_matches_reference_and_runs(entry, rng):
    """The Winograd passes on the set's kernels (its transforms, and its GEMM tiles for the
    products): forward and dx over 5x5 tiles of 33 channels, dW also over 16 channels and
    filters (8x8 outputs); 33 filters (the last panel of every tile one column wide). Against the
    reference, and not the direct convolution's bits (the Winograd pass did run)."""
    e = _runnable(entry)
    dtype = np.dtype(e["dtype"])

    def run():
        for n, hw, c, f in ((3, 10, 33, 33), (4, 8, 16, 16)):
            x = random_array(rng, (n, hw, hw, c), dtype)
            w = random_array(rng, (3, 3, c, f), dtype)
            b = random_array(rng, (f,), dtype)
            y = ops.conv2d(x, w, b, 1, "same")
            dy = random_array(rng, y.shape, dtype)
            got = (y,) + ops.conv2d_backward(dy, x, w, 1, "same")
            want = ((reference.conv2d(*widen(x, w, b), 1, "same"),)
                    + reference.conv2d_backward(*widen(dy, x, w), 1, "same"))
            before = _kernels.set_winograd(False)
            try:
                direct = (ops.conv2d(x, w, b, 1, "same"),) + ops.conv2d_backward(dy, x, w, 1,
                                                                                  "same")
            finally:
                _kernels.set_winograd(before)
            name = f"{e['name']} c={c} f={f}"
            for a, ref, what in zip(got, want, ("y", "dx", "dw", "db")):
                assert_close(a, ref, dtype, f"{name} {what}")
            # Winograd: forward and dx from 32 channels, dW from 16
            taken = ("y", "dx", "dw") if c >= 32 else ("dw",)
            for a, d, what in zip(got, direct, ("y", "dx", "dw")):
                assert (a.tobytes() != d.tobytes()) == (what in taken), f"{name} {what}"

    _kernels.run_with(e["name"], run)


# --- pooling ------------------------------------------------------------------------------------

# (pool, strides, padding): windows with gaps between them, and overlapping padded ones
POOL_GEOMETRIES = ((2, None, "valid"), (3, 2, "same"))


@_entries(POOL_ENTRIES)
def test_pool_entry_matches_reference_below_at_and_above_its_channel_block(entry, rng):
    e = _runnable(entry)
    dtype = np.dtype(e["dtype"])
    cb = e["channels"]

    def run():
        for c in (cb - 1, cb, cb + 1, 2 * cb + 3):
            for args in POOL_GEOMETRIES:
                x = random_array(rng, (2, 7, 6, c), dtype)
                name = f"{e['name']} c={c} {args}"
                y = ops.max_pool2d(x, *args)
                assert np.array_equal(y, reference.max_pool2d(widen(x), *args).astype(dtype))
                dy = random_array(rng, y.shape, dtype)
                assert_close(ops.max_pool2d_backward(dy, x, *args),
                             reference.max_pool2d_backward(*widen(dy, x), *args), dtype,
                             name + " max dx")
                picks = np.empty_like(y)
                y_picked = fused_ops.max_pool2d_picking(x, *args, None, picks, False)
                assert y_picked.tobytes() == y.tobytes(), name
                dx = fused_ops.max_pool2d_backward_picks(dy, picks, x.shape, *args, None)
                assert dx.tobytes() == ops.max_pool2d_backward(dy, x, *args).tobytes(), name
                assert_close(ops.avg_pool2d(x, *args),
                             reference.avg_pool2d(widen(x), *args), dtype, name + " avg y")
                assert_close(ops.avg_pool2d_backward(dy, x, *args),
                             reference.avg_pool2d_backward(*widen(dy, x), *args), dtype,
                             name + " avg dx")

    _kernels.run_with(e["name"], run)
