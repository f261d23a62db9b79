"""Thread-count control and determinism: results are bitwise identical at any thread count."""
import json
import os
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

import fastcnn
from fastcnn import ops, reference
from conftest import FLOAT_DTYPES, FLOAT_DTYPE_IDS, assert_close, random_array, widen

THREAD_COUNTS = (1, 2, 3)


@pytest.fixture(autouse=True)
def restore_thread_count():
    before = fastcnn.get_num_threads()
    yield
    fastcnn.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 1])
def test_set_num_threads_round_trips_through_get_num_threads(n):
    fastcnn.set_num_threads(n)
    assert fastcnn.get_num_threads() == n


def test_set_num_threads_accepts_numpy_integer():
    fastcnn.set_num_threads(np.int64(2))
    assert fastcnn.get_num_threads() == 2


@pytest.mark.parametrize("n,exc", [
    (0, ValueError), (-1, ValueError), (-8, ValueError),
    (1.5, (TypeError, ValueError)), (2.0, (TypeError, ValueError)),
    ("2", (TypeError, ValueError)), (None, (TypeError, ValueError)),
], ids=["zero", "minus_one", "minus_eight", "float_1.5", "float_2.0", "string_2", "None"])
def test_set_num_threads_rejects_invalid_count_and_keeps_the_old_one(n, exc):
    fastcnn.set_num_threads(2)
    with pytest.raises(exc):
        fastcnn.set_num_threads(n)
    assert fastcnn.get_num_threads() == 2


# --- bitwise determinism across thread counts ----------------------------------------------------
# Shapes large enough that the work is split between threads: batch, rows and filters, and a
# weight-gradient reduction over a large batch.

PROBLEMS = {
    "n8_24x24_c16_f32_k3x3_same": dict(x=(8, 24, 24, 16), w=(3, 3, 16, 32), strides=1,
                                       padding="same"),
    "n64_12x12_c16_f32_k3x3_valid": dict(x=(64, 12, 12, 16), w=(3, 3, 16, 32), strides=1,
                                         padding="valid"),
    "n5_23x21_c17_f33_k5x3_stride2_same": dict(x=(5, 23, 21, 17), w=(5, 3, 17, 33),
                                               strides=(2, 1), padding="same"),
    "n16_28x28_c1_f32_k3x3_valid": dict(x=(16, 28, 28, 1), w=(3, 3, 1, 32), strides=1,
                                        padding="valid"),
    "n8_20x30_c3_f16_k5x5_same": dict(x=(8, 20, 30, 3), w=(5, 5, 3, 16), strides=1,
                                      padding="same"),
    # few channels, enough images for the one-loop path (each thread pads its images and runs
    # their rows) at 2 and 3 threads, with rows that end in a part of a tile
    "n13_15x17_c2_f20_k3x3_stride2_valid": dict(x=(13, 15, 17, 2), w=(3, 3, 2, 20),
                                                strides=2, padding="valid"),
    # dW's blocks of K: all of K in one (the direct tile over 128 channels on avx512), and a
    # batch too small for more than one part, whose K is cut by the thread count
    "n4_24x24_c128_f64_k3x3_same": dict(x=(4, 24, 24, 128), w=(3, 3, 128, 64), strides=1,
                                        padding="same"),
    "n1_7x6_c64_f64_k3x3_stride2_same": dict(x=(1, 7, 6, 64), w=(3, 3, 64, 64), strides=2,
                                             padding="same"),
}
POOLS = {
    "n8_24x24_c16_pool3_stride2_same": dict(x=(8, 24, 24, 16), pool_size=3, strides=2,
                                            padding="same"),
    "n64_12x12_c32_pool2_valid": dict(x=(64, 12, 12, 32), pool_size=2, strides=None,
                                      padding="valid"),
    "n3_25x23_c65_pool3x2_stride1_valid": dict(x=(3, 25, 23, 65), pool_size=(3, 2),
                                               strides=1, padding="valid"),
}


def _at_each_thread_count(fn):
    results = {}
    for n in THREAD_COUNTS:
        fastcnn.set_num_threads(n)
        assert fastcnn.get_num_threads() == n
        out = fn()
        results[n] = out if isinstance(out, tuple) else (out,)
    return results


def _assert_bitwise_identical(results, names):
    first = results[THREAD_COUNTS[0]]
    for n in THREAD_COUNTS[1:]:
        for name, a, b in zip(names, first, results[n]):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert np.array_equal(a, b), (
                f"{name} at {n} threads differs from 1 thread: max |diff| "
                f"{np.max(np.abs(a.astype(np.float64) - b)):.3e}")
            assert a.tobytes() == b.tobytes(), f"{name} at {n} threads: bytes differ"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_conv2d_forward_and_backward_bitwise_identical_at_1_2_3_threads(problem, dtype, rng):
    p = PROBLEMS[problem]
    x, w = random_array(rng, p["x"], dtype), random_array(rng, p["w"], dtype)
    b = random_array(rng, p["w"][3:], dtype)
    kw = dict(strides=p["strides"], padding=p["padding"])
    y_ref = reference.conv2d(*widen(x, w, b), **kw)
    dy = random_array(rng, y_ref.shape, dtype)

    forward = _at_each_thread_count(lambda: ops.conv2d(x, w, b, **kw))
    _assert_bitwise_identical(forward, ["y"])
    assert_close(forward[1][0], y_ref, dtype, "y")

    backward = _at_each_thread_count(lambda: ops.conv2d_backward(dy, x, w, **kw))
    _assert_bitwise_identical(backward, ["dx", "dw", "db"])
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(*widen(dy, x, w), **kw)
    assert_close(backward[1][0], dx_ref, dtype, "dx")
    assert_close(backward[1][1], dw_ref, dtype, "dw")
    assert_close(backward[1][2], db_ref, dtype, "db")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("problem", list(POOLS))
def test_pool2d_forward_and_backward_bitwise_identical_at_1_2_3_threads(problem, kind, dtype,
                                                                        rng):
    p = POOLS[problem]
    args = (p["pool_size"], p["strides"], p["padding"])
    forward_op = getattr(ops, f"{kind}_pool2d")
    backward_op = getattr(ops, f"{kind}_pool2d_backward")
    x = random_array(rng, p["x"], dtype)
    y_ref = getattr(reference, f"{kind}_pool2d")(widen(x), *args)
    dy = random_array(rng, y_ref.shape, dtype)

    forward = _at_each_thread_count(lambda: forward_op(x, *args))
    _assert_bitwise_identical(forward, ["y"])
    assert_close(forward[1][0], y_ref, dtype, "y")

    backward = _at_each_thread_count(lambda: backward_op(dy, x, *args))
    _assert_bitwise_identical(backward, ["dx"])
    dx_ref = getattr(reference, f"{kind}_pool2d_backward")(*widen(dy, x), *args)
    assert_close(backward[1][0], dx_ref, dtype, "dx")


# --- environment and configuration ---------------------------------------------------------------

def _run_python(code, **env_overrides):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env.update(env_overrides)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    # Run from the package's parent so that the same fastcnn is imported (not another copy).
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=package_parent,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("value", ["1", "3"])
def test_omp_num_threads_is_honoured_at_import(value):
    proc = _run_python("import fastcnn; print(fastcnn.get_num_threads())",
                       OMP_NUM_THREADS=value)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == value, (proc.stdout, proc.stderr)


@pytest.mark.parametrize("value", ["0", "abc", ""])
def test_invalid_omp_num_threads_does_not_break_import(value):
    proc = _run_python("import fastcnn; n = fastcnn.get_num_threads(); "
                       "assert isinstance(n, int) and n >= 1, n; print(n)",
                       OMP_NUM_THREADS=value)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 1


# Kernel sets from lowest to highest (FASTCNN_ISA caps the choice at one of them).
ISA_LEVELS = ("generic", "avx2", "avx512")
_SHOW_CONFIG = re.compile(
    r"fastcnn (?P<version>\S+) \(Python (?P<python>\S+), (?P<platform>.+)\)\n"
    r"  compiler:   (?P<compiler>.+)\n"
    r"  OpenMP:     (?P<openmp>on|off \(serial build\))\n"
    r"  threads:    (?P<threads>\d+)\n"
    r"  SIMD:       (?P<simd>\w+) \(best on this CPU: (?P<best>\w+)"
    r"(?:, capped by FASTCNN_ISA=(?P<cap>\w+))?\)\n"
    r"  GEMM tiles: float32 (?P<f32>\d+x\d+), float64 (?P<f64>\d+x\d+)\n"
    r"  kernels:    (?P<kernels>[\w ]+)\n")


def _show_config_values(text):
    """show_config's report as a dict of the values it states (and nothing else in it)."""
    m = _SHOW_CONFIG.fullmatch(text)
    assert m, f"show_config's report is not in its format:\n{text}"
    return m.groupdict()


def _best_isa_by_cpuinfo():
    """The best kernel set /proc/cpuinfo allows (Linux clears the flags of register state
    the OS does not save): avx512 needs AVX-512 F, VL, DQ and BW (the AVX-512 units are
    compiled with all four) with AVX2 and FMA, avx2 needs AVX2 and FMA. None where there is
    no /proc/cpuinfo or the machine is not x86."""
    if not sys.platform.startswith("linux") or platform.machine().lower() not in (
            "x86_64", "amd64", "i386", "i686"):
        return None
    with open("/proc/cpuinfo") as f:
        line = next((ln for ln in f if ln.startswith("flags")), None)
    if line is None:
        return None
    flags = set(line.split(":", 1)[1].split())
    if {"avx512f", "avx512vl", "avx512dq", "avx512bw", "avx2", "fma"} <= flags:
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= flags else "generic"


def _expected_in_use(best, cap):
    """The kernel set in use: the best one, or the cap when that is lower."""
    if not cap:
        return best
    return ISA_LEVELS[min(ISA_LEVELS.index(best), ISA_LEVELS.index(cap))]


def _pyproject_version():
    """The version in the source tree's pyproject.toml, None when tests run without it."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__))),
                        "pyproject.toml")
    if not os.path.exists(path):
        return None
    with open(path) as f:      # (tomllib is Python 3.11+; the [project] table's version line)
        m = re.search(r'^\[project\]$.*?^version = "([^"]+)"$', f.read(), re.M | re.S)
    assert m, f"no [project] version in {path}"
    return m.group(1)


@pytest.mark.parametrize("threads", [1, 3])
def test_show_config_states_the_values_in_use(threads, capfd):
    fastcnn.set_num_threads(threads)
    fastcnn.show_config()
    got = _show_config_values(capfd.readouterr().out)
    from fastcnn import _kernels
    assert got["version"] == fastcnn.__version__
    if _pyproject_version() is not None:
        assert got["version"] == _pyproject_version()
    assert got["python"] == platform.python_version()
    assert got["platform"] == f"{platform.system()} {platform.machine()}"
    assert got["openmp"] == ("on" if _kernels.openmp_enabled() else "off (serial build)")
    assert int(got["threads"]) == fastcnn.get_num_threads() == threads
    cap = os.environ.get("FASTCNN_ISA") or None
    assert got["cap"] == cap
    assert got["best"] == _kernels.best_isa()
    assert got["simd"] == _kernels.current_isa() == _expected_in_use(got["best"], cap)
    assert _kernels.pool_isa() == got["simd"]          # pooling runs the same kernel set
    tiles = _kernels.tile_sizes()
    assert got["f32"] == "{}x{}".format(*tiles["float32"])
    assert got["f64"] == "{}x{}".format(*tiles["float64"])
    # the table's entries in use: the GEMM tiles above and the pooling set, of the set in use
    in_use = [e for e in _kernels.kernel_table() if e["in_use"]]
    assert got["kernels"].split() == [e["name"] for e in in_use]
    assert {e["isa"] for e in in_use} == {got["simd"]}
    assert {(e["dtype"], e["op"]) for e in in_use} == {
        (d, op) for d in ("float32", "float64") for op in ("gemm", "pool")}
    for dtype in ("float32", "float64"):
        assert tiles[dtype] in [(e["mr"], e["nr"]) for e in in_use
                                if e["op"] == "gemm" and e["dtype"] == dtype]


@pytest.mark.skipif(_best_isa_by_cpuinfo() is None, reason="needs /proc/cpuinfo on x86")
def test_show_config_best_kernel_set_is_what_cpuinfo_allows():
    from fastcnn import _kernels
    assert _kernels.best_isa() == _best_isa_by_cpuinfo()
    assert fastcnn._config.config()["simd_best"] == _best_isa_by_cpuinfo()


@pytest.mark.parametrize("cap", ISA_LEVELS)
def test_show_config_of_a_capped_import_states_the_cap_and_the_set_in_use(cap):
    code = ("import fastcnn, json; from fastcnn import _kernels; fastcnn.show_config(); "
            "print(json.dumps([_kernels.tile_sizes(), _kernels.pool_isa()]))")
    proc = _run_python(code, FASTCNN_ISA=cap, OMP_NUM_THREADS="2")
    assert proc.returncode == 0, proc.stderr
    report, _, tail = proc.stdout.rpartition("\n[")
    got = _show_config_values(report + "\n")
    tiles, pool_isa = json.loads("[" + tail)
    best = _best_isa_by_cpuinfo() or got["best"]
    assert got["best"] == best
    assert got["cap"] == cap
    assert got["simd"] == pool_isa == _expected_in_use(best, cap)
    assert got["threads"] == ("2" if got["openmp"] == "on" else "1")
    assert got["f32"] == "{}x{}".format(*tiles["float32"])
    assert got["f64"] == "{}x{}".format(*tiles["float64"])
