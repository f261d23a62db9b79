"""Resource safety: memory stays flat over thousands of calls, the kernels (and a shared model)
can be used from several Python threads at once with the serial results, and a child made by
os.fork() after the parent ran multithreaded kernels can still run them (GNU OpenMP's thread
pool does not survive a fork; fastcnn ends it before the fork).

Memory is measured as the bytes malloc has handed out and not taken back (glibc's
mallinfo2, or AddressSanitizer's count under tools/sanitize) plus CPython's count of object
blocks, before and after thousands of calls. The fork tests run in a subprocess with a
timeout, so a hang fails the test instead of hanging the run.
"""
import ctypes
import gc
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastcnn
from fastcnn import ops, utils
from fastcnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from fastcnn.models import Sequential
from conftest import random_array

@pytest.fixture(autouse=True)
def two_threads():
    before = fastcnn.get_num_threads()
    fastcnn.set_num_threads(2)
    yield
    fastcnn.set_num_threads(before)


def _problem(rng, dtype=np.float32, n=4, c=8, f=16):
    x = random_array(rng, (n, 16, 16, c), dtype)
    w = random_array(rng, (3, 3, c, f), dtype)
    b = random_array(rng, (f,), dtype)
    dy = random_array(rng, (n, 16, 16, f), dtype)
    relu_output = np.maximum(random_array(rng, (n, 16, 16, f), dtype), 0)
    dy_pool = random_array(rng, (n, 8, 8, c), dtype)
    return dict(x=x, w=w, b=b, dy=dy, relu_output=relu_output, dy_pool=dy_pool)


# Each call allocates its results (and the kernels their workspaces) afresh.
CALLS = {
    "conv2d": lambda p: ops.conv2d(p["x"], p["w"], p["b"], padding="same", activation="relu"),
    "conv2d_backward": lambda p: ops.conv2d_backward(p["dy"], p["x"], p["w"], padding="same"),
    "conv2d_backward_weight": lambda p: ops.conv2d_backward_weight(
        p["dy"], p["x"], p["w"], padding="same", relu_output=p["relu_output"]),
    "conv2d_1x1": lambda p: ops.conv2d(p["x"], p["w"][1:2, 1:2], p["b"]),
    "max_pool2d": lambda p: ops.max_pool2d(p["x"]),
    "max_pool2d_backward": lambda p: ops.max_pool2d_backward(p["dy_pool"], p["x"]),
    "avg_pool2d": lambda p: ops.avg_pool2d(p["x"]),
    "avg_pool2d_backward": lambda p: ops.avg_pool2d_backward(p["dy_pool"], p["x"]),
    "conv2d_non_contiguous_inputs": lambda p: ops.conv2d(p["x"][:, ::-1], p["w"][::-1]),
}


# --- memory --------------------------------------------------------------------------------------

class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_counter():
    """A function returning the bytes malloc has handed out and not yet taken back (NumPy's
    arrays, the kernels' workspaces): AddressSanitizer's count when it replaces malloc, else
    glibc's mallinfo2; None elsewhere. Unlike the resident set size, freed memory that the
    process keeps for reuse does not hide a leak."""
    try:
        process = ctypes.CDLL(None)
    except OSError:
        return None
    if hasattr(process, "__sanitizer_get_current_allocated_bytes"):
        asan = process.__sanitizer_get_current_allocated_bytes
        asan.restype = ctypes.c_size_t
        return asan
    if hasattr(process, "mallinfo2"):
        mallinfo2 = process.mallinfo2
        mallinfo2.restype = _Mallinfo2

        def in_use():
            info = mallinfo2()
            return info.uordblks + info.hblkhd
        return in_use
    return None


HEAP_IN_USE = _heap_counter()
WARM_UP_CALLS = 300
CALLS_MEASURED = 3000
# A leak of 1 KiB per call (less than any result or workspace here) would add 3 MiB; Python
# objects leaking would add blocks.
HEAP_GROWTH_LIMIT = 2**20
BLOCK_GROWTH_LIMIT = 1000


def _growth(fn):
    """(heap bytes, Python object blocks) still allocated after CALLS_MEASURED calls of fn
    that were not before them."""
    for _ in range(WARM_UP_CALLS):
        fn()
    gc.collect()
    heap, blocks = HEAP_IN_USE(), sys.getallocatedblocks()
    for _ in range(CALLS_MEASURED):
        fn()
    gc.collect()
    return HEAP_IN_USE() - heap, sys.getallocatedblocks() - blocks


def _assert_flat(fn, what):
    heap, blocks = _growth(fn)
    assert heap < HEAP_GROWTH_LIMIT, (
        f"{what}: {heap / 2**20:.2f} MiB more allocated after {CALLS_MEASURED} calls")
    assert blocks < BLOCK_GROWTH_LIMIT, (
        f"{what}: {blocks} more Python object blocks after {CALLS_MEASURED} calls")


needs_heap_counter = pytest.mark.skipif(HEAP_IN_USE is None,
                                        reason="needs glibc's mallinfo2 or AddressSanitizer")


@needs_heap_counter
@pytest.mark.parametrize("name", list(CALLS))
def test_thousands_of_calls_keep_memory_flat(name, rng):
    problem = _problem(rng)
    _assert_flat(lambda: CALLS[name](problem), name)


@needs_heap_counter
def test_thousands_of_training_steps_and_errors_keep_memory_flat(rng):
    utils.set_random_seed(0)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)), MaxPool2D(),
                        Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.random((8, 10, 10, 1), dtype=np.float32)
    y = rng.integers(0, 3, 8)
    bad = np.zeros((8, 10, 10, 2), np.float32)

    def step():
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        with pytest.raises(ValueError):          # an error path each time too
            model.predict(bad)

    _assert_flat(step, "fit and predict")


@needs_heap_counter
@pytest.mark.parametrize("leak", ["array_of_1KiB", "object"])
def test_the_memory_measure_sees_a_small_leak(leak):
    kept = []
    make = (lambda: np.ones(256, np.float32)) if leak == "array_of_1KiB" else object
    with pytest.raises(AssertionError, match="more"):
        _assert_flat(lambda: kept.append(make()), leak)


# --- threads -------------------------------------------------------------------------------------

THREADS = 4


@pytest.mark.parametrize("name", list(CALLS))
def test_kernels_called_from_several_threads_give_the_serial_results(name, rng):
    problems = [_problem(np.random.default_rng(seed), dtype)
                for seed in range(6) for dtype in (np.float32, np.float64)]
    serial = [CALLS[name](p) for p in problems]
    with ThreadPoolExecutor(THREADS) as pool:
        concurrent = list(pool.map(lambda p: CALLS[name](p), problems * 3))
    for i, got in enumerate(concurrent):
        want = serial[i % len(problems)]
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for g, e in zip(got, want):
            assert g.dtype == e.dtype and g.tobytes() == e.tobytes(), f"{name}, call {i}"


def _small_model():
    return Sequential([Conv2D(8, 3, activation="relu", input_shape=(12, 12, 1)), MaxPool2D(),
                       Flatten(), Dense(10, activation="softmax")])


def test_one_model_predicting_in_several_threads_gives_the_serial_results(rng):
    utils.set_random_seed(1)
    model = _small_model()
    batches = [rng.random((48, 12, 12, 1), dtype=np.float32) for _ in range(6)]
    serial = [model.predict(x, batch_size=16) for x in batches]
    with ThreadPoolExecutor(THREADS) as pool:
        concurrent = list(pool.map(lambda x: model.predict(x, batch_size=16), batches * 4))
    for i, got in enumerate(concurrent):
        assert np.array_equal(got, serial[i % len(batches)]), f"call {i}"


def test_models_training_in_several_threads_end_with_the_serial_weights(rng):
    x = rng.random((40, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 10, 40)

    def train(seed):
        model = _built_model(seed)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return model.get_weights()

    def _built_model(seed):
        utils.set_random_seed(seed)
        model = _small_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    models = [_built_model(seed) for seed in range(4)]
    serial = []
    for m in models:
        start = m.get_weights()
        m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        serial.append((start, m.get_weights()))

    def train_from(start):
        model = _built_model(0)
        model.set_weights(start)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return model.get_weights()

    with ThreadPoolExecutor(THREADS) as pool:
        concurrent = list(pool.map(train_from, [s for s, _ in serial]))
    for (_, want), got in zip(serial, concurrent):
        for g, e in zip(got, want):
            assert g.tobytes() == e.tobytes()


# --- fork ----------------------------------------------------------------------------------------

FORK_TIMEOUT = 120

_FORK_PRELUDE = """
import os, sys
import numpy as np
import fastcnn
from fastcnn import ops
fastcnn.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 32, 32, 16)).astype(np.float32)
w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)

def work():
    y = ops.conv2d(x, w, padding="same")
    dx, dw, db = ops.conv2d_backward(y, x, w, padding="same")
    return [y, dx, dw, db, ops.max_pool2d(y), ops.avg_pool2d_backward(ops.avg_pool2d(y), y)]

def same(a, b):
    return all(u.tobytes() == v.tobytes() for u, v in zip(a, b))

def os_threads():
    return len(os.listdir("/proc/self/task"))

expected = work()              # the parent has run multithreaded kernels
"""


def _run(script):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_parent] + [p for p in [env.get("PYTHONPATH")]
                                                            if p])
    # a session of its own, so that a hang can be ended with every process it forked
    proc = subprocess.Popen([sys.executable, "-c", _FORK_PRELUDE + textwrap.dedent(script)],
                            env=env, cwd=package_parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=FORK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        pytest.fail(f"hung for {FORK_TIMEOUT} s after fork (stdout: {stdout!r})")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _assert_ok(proc, expected_stdout):
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected_stdout, (proc.stdout, proc.stderr)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_runs_kernels_on_several_threads():
    proc = _run("""
        pid = os.fork()
        if pid == 0:
            ok = same(work(), expected) and fastcnn.get_num_threads() == 2
            threads = os_threads() if sys.platform.startswith("linux") else 2
            os._exit(0 if ok and threads >= 2 else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), same(work(), expected))
    """)
    _assert_ok(proc, ["0", "True"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_multiprocessing_fork_pool_runs_kernels():
    proc = _run("""
        import multiprocessing as mp

        def job(i):
            return same(work(), expected)

        with mp.get_context("fork").Pool(2) as pool:
            print(*pool.map(job, range(4)))
        print(same(work(), expected))
    """)
    _assert_ok(proc, ["True"] * 5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_fork_from_another_thread_after_the_main_thread_ran_kernels():
    proc = _run("""
        import threading
        codes = []

        def fork_and_wait():
            pid = os.fork()
            if pid == 0:
                os._exit(0 if same(work(), expected) else 3)
            codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))

        t = threading.Thread(target=fork_and_wait)
        t.start()
        t.join()
        print(*codes)
    """)
    _assert_ok(proc, ["0"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_runs_on_one_thread_when_the_openmp_threads_cannot_be_ended():
    proc = _run("""
        fastcnn._config._kernels.release_openmp_threads = lambda: False
        pid = os.fork()
        if pid == 0:
            os._exit(0 if same(work(), expected) and fastcnn.get_num_threads() == 1 else 3)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), fastcnn.get_num_threads())
    """)
    _assert_ok(proc, ["0", "2"])


def test_a_model_with_its_lock_can_be_deep_copied_and_pickled(rng):
    import copy
    import pickle
    utils.set_random_seed(2)
    model = _small_model()
    x = rng.random((4, 12, 12, 1), dtype=np.float32)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone._lock is not model._lock
        np.testing.assert_array_equal(clone.predict(x), model.predict(x))
