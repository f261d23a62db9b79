"""fastcnn.set_flush_denormal: subnormal numbers flushed to zero in the calling thread and in
every worker thread of the kernels, off by default, results still bitwise the same at any
thread count."""
import numpy as np
import pytest

import fastcnn
from fastcnn import _kernels, ops
from fastcnn.layers import Dense
from fastcnn.models import Sequential
from fastcnn.utils import set_random_seed

TINY = np.float32(1e-40)                       # subnormal in float32


@pytest.fixture
def flushing():
    """Flushing on for the test, off (the default) after it, at the thread count before."""
    threads = fastcnn.get_num_threads()
    assert not _kernels.flush_denormal(), "flushing must be off by default"
    assert fastcnn.set_flush_denormal(True)
    yield
    fastcnn.set_flush_denormal(False)
    fastcnn.set_num_threads(threads)


def _subnormal_results():
    """Results that are subnormal unless the kernels (on every thread) flush them: a
    convolution large enough for several threads, and NumPy in this thread."""
    x = np.full((12, 16, 16, 8), TINY, np.float32)
    w = np.ones((3, 3, 8, 16), np.float32)
    return ops.conv2d(x, w, padding="same"), np.float32(TINY) * np.float32(1.5)


def test_off_by_default_subnormals_are_computed():
    y, scalar = _subnormal_results()
    assert np.all(y > 0) and scalar > 0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_flushing_reaches_every_worker_thread(flushing, threads):
    fastcnn.set_num_threads(threads)
    y, scalar = _subnormal_results()
    assert np.all(y == 0) and scalar == 0
    assert fastcnn.set_flush_denormal(False)
    y, scalar = _subnormal_results()
    assert np.all(y > 0) and scalar > 0


def test_flushed_training_is_bitwise_the_same_at_any_thread_count(flushing):
    gen = np.random.default_rng(0)
    x, y = gen.standard_normal((64, 20)).astype(np.float32), gen.integers(0, 3, 64)
    weights = []
    for threads in (1, 2, 3):
        fastcnn.set_num_threads(threads)
        set_random_seed(1)
        model = Sequential([Dense(300, activation="relu", input_shape=(20,)), Dense(3)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x * 1e-30, y, batch_size=16, epochs=2, verbose=0)   # subnormal products
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            assert a.tobytes() == b.tobytes()


def test_the_mode_must_be_a_bool():
    with pytest.raises(TypeError, match="mode must be a bool"):
        fastcnn.set_flush_denormal(1)
    assert not _kernels.flush_denormal()
