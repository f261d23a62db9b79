"""The plan sums the gradients of a tensor read by several layers (models/plan.py, with the
compiled elementwise sum): bitwise NumPy's sums of the same gradients in the order the plan
adds them, for two and three readers (the third added in place), at 1 and 2 threads."""
import numpy as np
import pytest

import fastcnn
from fastcnn.layers import Add, Input
from fastcnn.models import Model
from fastcnn.models.plan import Plan
from conftest import FLOAT_DTYPE_IDS, FLOAT_DTYPES


@pytest.fixture(autouse=True)
def restore_thread_count():
    before = fastcnn.get_num_threads()
    yield
    fastcnn.set_num_threads(before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("readers", [2, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_gradients_of_a_tensor_read_several_times_are_numpy_sums(readers, threads, dtype):
    """x read ``readers`` times by one Add (whose backward hands each reader the output's
    gradient r): x's gradient is r added to itself readers times, left to right."""
    fastcnn.set_num_threads(threads)
    name = np.dtype(dtype).name
    x_in = Input((32, 32, 16), dtype=name)
    model = Model(x_in, Add(dtype=name)([x_in] * readers))
    plan = Plan(model._graph, backward=True, input_gradients=True)
    gen = np.random.default_rng(readers)
    x = gen.standard_normal((8, 32, 32, 16)).astype(dtype)
    r = gen.standard_normal(x.shape).astype(dtype)
    r.reshape(-1)[:3] = [np.inf, -0.0, np.nan]
    plan.forward([x], training=True)
    plan.backward([r])
    expected = r + r
    for _ in range(readers - 2):
        expected = expected + r
    got = plan.input_gradients[0]
    assert got is not None and got.dtype == dtype
    assert got.tobytes() == expected.tobytes()
