"""Optimizers: each update against the step computed here from Keras 3's formulas."""
import math

import numpy as np
import pytest

from fastcnn import optimizers

W0 = np.array([[0.5, -1.25], [2.0, 0.0]])
G1 = np.array([[0.1, -0.4], [1.5, -2.0]])
G2 = np.array([[-0.3, 0.2], [0.5, 1.0]])


def run(optimizer, grads, w0=W0):
    """Apply ``grads`` one step at a time to a copy of ``w0``; return the weights after each."""
    w = w0.copy()
    history = []
    for g in grads:
        optimizer.apply([g], [w])
        history.append(w.copy())
    return history


def test_sgd_plain_step():
    (w1,) = run(optimizers.SGD(learning_rate=0.1), [G1])
    np.testing.assert_allclose(w1, W0 - 0.1 * G1, rtol=1e-15)


def test_sgd_momentum_two_steps():
    lr, mu = 0.05, 0.9
    w1, w2 = run(optimizers.SGD(learning_rate=lr, momentum=mu), [G1, G2])
    m1 = -lr * G1
    m2 = mu * m1 - lr * G2
    np.testing.assert_allclose(w1, W0 + m1, rtol=1e-14)
    np.testing.assert_allclose(w2, W0 + m1 + m2, rtol=1e-14)


def test_sgd_nesterov_two_steps():
    lr, mu = 0.05, 0.9
    w1, w2 = run(optimizers.SGD(learning_rate=lr, momentum=mu, nesterov=True), [G1, G2])
    m1 = -lr * G1
    e1 = W0 + mu * m1 - lr * G1
    m2 = mu * m1 - lr * G2
    e2 = e1 + mu * m2 - lr * G2
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)


def adam_reference(grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    w, m, v, v_hat = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0)
    out = []
    for t, g in enumerate(grads, start=1):
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        v_hat = np.maximum(v_hat, v)
        w = w - alpha * m / (np.sqrt(v_hat if amsgrad else v) + eps)
        out.append(w)
    return out


def test_adam_steps_one_and_two_include_bias_correction():
    w1, w2 = run(optimizers.Adam(), [G1, G2])
    e1, e2 = adam_reference([G1, G2])
    np.testing.assert_allclose(w1, e1, rtol=1e-13)
    np.testing.assert_allclose(w2, e2, rtol=1e-13)
    # Step 1 by hand: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so each weight
    # moves by lr * g / (|g| + eps / sqrt(0.001)): about lr * sign(g) for |g| >> 3e-6.
    step1 = 0.001 * G1 / (np.abs(G1) + 1e-7 / math.sqrt(0.001))
    np.testing.assert_allclose(w1, W0 - step1, rtol=1e-12)


def test_adam_with_custom_hyperparameters_and_amsgrad():
    grads = [G1, G2, 0.1 * G1]
    got = run(optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3,
                              amsgrad=True), grads)
    expected = adam_reference(grads, 0.01, 0.8, 0.99, 1e-3, amsgrad=True)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True),
                                               (0.9, True)])
def test_rmsprop_two_steps(momentum, centered):
    lr, rho, eps = 0.01, 0.9, 1e-7
    got = run(optimizers.RMSprop(learning_rate=lr, rho=rho, momentum=momentum,
                                 centered=centered), [G1, G2])
    w, v, a, mom = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0)
    for g, actual in zip([G1, G2], got):
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            increment = lr * g / np.sqrt(v - a * a + eps)
        else:
            increment = lr * g / np.sqrt(v + eps)
        if momentum > 0:
            mom = momentum * mom + increment
            w = w - mom
        else:
            w = w - increment
        np.testing.assert_allclose(actual, w, rtol=1e-13)


BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                 "clipvalue": None}


def test_keras_defaults():
    assert optimizers.get("adam").get_config() == dict(
        BASE_DEFAULTS, name="adam", learning_rate=0.001, beta_1=0.9, beta_2=0.999,
        epsilon=1e-7, amsgrad=False)
    assert optimizers.get("SGD").get_config() == dict(
        BASE_DEFAULTS, name="sgd", learning_rate=0.01, momentum=0.0, nesterov=False)
    assert optimizers.get("rmsprop").get_config() == dict(
        BASE_DEFAULTS, name="rmsprop", learning_rate=0.001, rho=0.9, momentum=0.0,
        epsilon=1e-7, centered=False)
    assert optimizers.get("adamw").get_config() == dict(
        BASE_DEFAULTS, name="adamw", learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
        beta_2=0.999, epsilon=1e-7, amsgrad=False)


def test_updates_float32_in_place_and_counts_iterations():
    w = W0.astype(np.float32)
    before = w.copy()
    opt = optimizers.Adam()
    opt.apply([G1.astype(np.float32)], [w])
    opt.apply([G2.astype(np.float32)], [w])
    assert w.dtype == np.float32 and opt.iterations == 2
    # alpha is computed in float32 as Keras does (beta_2 = 0.999 rounded to float32 moves
    # sqrt(1 - beta_2**t) by about 6e-6 relative), so the float64 reference is near, not exact
    np.testing.assert_allclose(w, adam_reference([G1, G2])[1], rtol=1e-6, atol=1e-8)
    assert not np.array_equal(w, before)


def test_config_round_trip_and_state():
    opt = optimizers.SGD(learning_rate=0.2, momentum=0.5, nesterov=True)
    clone = optimizers.get(optimizers.serialize(opt))
    assert type(clone) is optimizers.SGD and clone.get_config() == opt.get_config()
    w = W0.copy()
    opt.apply([G1], [w])
    state = [a.copy() for a in opt.variables]
    assert int(state[0]) == 1 and len(state) == 2
    w2 = w.copy()
    clone.set_state(state, [w2])
    opt.apply([G2], [w])
    clone.apply([G2], [w2])
    np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("make,error,match", [
    (lambda: optimizers.get("adagrad9"), ValueError, "adam"),
    (lambda: optimizers.Adam(learning_rate=-1), ValueError, "learning_rate"),
    (lambda: optimizers.Adam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: optimizers.SGD(momentum=1.5), ValueError, "momentum"),
    (lambda: optimizers.SGD(learning_rate="fast"), TypeError, "learning_rate"),
    (lambda: optimizers.RMSprop(rho=-0.1), ValueError, "rho"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_gradient_shape_mismatch_is_a_value_error():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\)"):
        opt.apply([np.zeros(3)], [W0.copy()])
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        opt.apply([G1, G2], [W0.copy()])


# ---- every optimizer with every option, bitwise against Keras 3's formulas ---------------------
# tests/optimizer_reference.py renders Keras' arithmetic in NumPy in the variables' dtype; the
# compiled pass must give the same bits (float32 and float64).

import json  # noqa: E402

import fastcnn  # noqa: E402
from fastcnn import _optim  # noqa: E402
from fastcnn.optimizers import schedules  # noqa: E402

from optimizer_reference import ReferenceOptimizer, sum_of_squares  # noqa: E402

CONFIGS = {
    "sgd": ("SGD", {}),
    "sgd-momentum": ("SGD", {"momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {}),
    "adam-amsgrad": ("Adam", {"amsgrad": True, "beta_1": 0.8, "epsilon": 1e-3}),
    "adamw": ("AdamW", {}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop-centered": ("RMSprop", {"centered": True}),
    "rmsprop-momentum": ("RMSprop", {"momentum": 0.5}),
    "rmsprop-centered-momentum": ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.8}),
}
OPTIONS = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.05},
    "clipnorm": {"clipnorm": 1.0},
    "global_clipnorm": {"global_clipnorm": 2.0},
    "clipvalue": {"clipvalue": 0.3},
}
# more values than a tile (1024) with a remainder, a vector, a conv kernel; gradient scales
# put the first and last above clipnorm, the middle one below
SHAPES = [(37, 29), (5,), (3, 3, 2, 4)]
SCALES = [3.0, 0.01, 0.5]
configs = pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
dtypes = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


@pytest.fixture(autouse=True)
def restore_thread_count():
    before = fastcnn.get_num_threads()
    yield
    fastcnn.set_num_threads(before)


def _problem(rng, dtype, steps=3, shapes=SHAPES, scales=SCALES):
    weights = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[(c * rng.standard_normal(s)).astype(dtype) for s, c in zip(shapes, scales)]
             for _ in range(steps)]
    return weights, grads


def _train(optimizer, weights, grads, **apply_kwargs):
    weights = [w.copy() for w in weights]
    for step in grads:
        optimizer.apply(step, weights, **apply_kwargs)
    return weights


def _reference(class_name, config, weights, grads, excluded=()):
    ref = ReferenceOptimizer(class_name, **config)
    for step in grads:
        weights = ref.apply(step, weights, excluded)
    return weights


def assert_same_bits(actual, expected):
    for i, (a, b) in enumerate(zip(actual, expected)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b, err_msg=f"variable {i}", strict=True)


@configs
@pytest.mark.parametrize("option", list(OPTIONS.values()), ids=list(OPTIONS))
@dtypes
def test_three_steps_match_keras_formulas_bitwise(rng, config, option, dtype):
    class_name, hyper = config
    config = dict(hyper, learning_rate=0.05, **option)
    weights, grads = _problem(rng, dtype)
    got = _train(getattr(optimizers, class_name)(**config), weights, grads)
    assert_same_bits(got, _reference(class_name, config, weights, grads))
    assert not any(np.array_equal(a, b) for a, b in zip(got, weights))


@dtypes
def test_clipping_changes_what_it_should(rng, dtype):
    """The options are not no-ops on this problem: each clip gives other weights than none."""
    weights, grads = _problem(rng, dtype)
    plain = _train(optimizers.SGD(0.05), weights, grads)
    for option in ({"clipnorm": 1.0}, {"global_clipnorm": 2.0}, {"clipvalue": 0.3}):
        clipped = _train(optimizers.SGD(0.05, **option), weights, grads)
        assert not np.array_equal(clipped[0], plain[0]), option
    # clipnorm leaves a gradient below the norm as it is (to Keras' g*c/c rounding)
    below = _train(optimizers.SGD(0.05, clipnorm=1.0), weights, grads)[1]
    np.testing.assert_allclose(below, plain[1], rtol=1e-6 if dtype == np.float32 else 1e-15)


@configs
@dtypes
def test_schedule_rate_drives_step_and_weight_decay(rng, config, dtype):
    """A schedule is evaluated at ``iterations`` (0 for the first step) and the same rate
    enters the weight decay and the step; 6 steps cross the warm-up's end."""
    class_name, hyper = config
    schedule = schedules.CosineDecay(0.01, decay_steps=4, alpha=0.1, warmup_target=0.1,
                                     warmup_steps=2)
    config = dict(hyper, learning_rate=schedule, weight_decay=0.3)
    weights, grads = _problem(rng, dtype, steps=6)
    opt = getattr(optimizers, class_name)(**config)
    got = _train(opt, weights, grads)
    assert opt.iterations == 6 and opt.learning_rate == schedule(6)
    assert_same_bits(got, _reference(class_name, config, weights, grads))


@dtypes
def test_nan_and_inf_gradients_follow_keras(dtype):
    """clipvalue keeps NaN; global_clipnorm turns every gradient into NaN when the norm is
    not finite (Keras' ``scale + (norm - norm)``); clipnorm with an infinite norm gives
    g*c/inf."""
    w = [np.ones(4, dtype), np.ones(3, dtype)]
    g = [np.array([np.nan, 2.0, -2.0, 0.1], dtype), np.array([np.inf, 1.0, 0.0], dtype)]
    for option in ({"clipvalue": 1.0}, {"global_clipnorm": 1.0}, {"clipnorm": 1.0}):
        got = _train(optimizers.SGD(0.1, **option), w, [g])
        assert_same_bits(got, _reference("SGD", dict(learning_rate=0.1, **option), w, [g]))
    got = _train(optimizers.SGD(0.1, global_clipnorm=1.0), w, [g])
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all()


def test_zero_gradients_and_empty_variables(rng):
    for option in OPTIONS.values():
        w = [np.ones((2, 3)), np.zeros((0, 4))]
        g = [np.zeros((2, 3)), np.zeros((0, 4))]
        got = _train(optimizers.Adam(**option), w, [g, g])
        assert_same_bits(got, _reference("Adam", option, w, [g, g]))


@dtypes
def test_non_contiguous_variable_updates_like_a_contiguous_one(rng, dtype):
    weights, grads = _problem(rng, dtype, shapes=[(37, 29)], scales=[1.0])
    contiguous = _train(optimizers.RMSprop(momentum=0.5, weight_decay=0.1), weights, grads)
    w = np.asfortranarray(weights[0])
    opt = optimizers.RMSprop(momentum=0.5, weight_decay=0.1)
    for step in grads:
        opt.apply([step[0].T.copy().T], [w])          # an F-ordered gradient too
    assert w.flags.f_contiguous
    assert_same_bits([np.ascontiguousarray(w)], contiguous)


def test_gradient_that_is_the_variable_is_read_before_the_decay():
    w = np.array([1.0, -2.0, 3.0])
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.apply([w], [w])
    ref = _reference("SGD", dict(learning_rate=0.1, weight_decay=0.5),
                     [np.array([1.0, -2.0, 3.0])], [[np.array([1.0, -2.0, 3.0])]])
    assert_same_bits([w], ref)


# ---- thread-count determinism -----------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 8191, 8192, 8193, 3 * 8192 + 5, 300_007])
@dtypes
def test_sum_of_squares_is_the_reference_order_at_any_thread_count(rng, size, dtype):
    x = (rng.standard_normal(size) * 10 ** rng.uniform(-3, 3, size)).astype(dtype)
    expected = sum_of_squares(x)
    for threads in (1, 2, 3):
        assert _optim.sum_of_squares(x, threads) == expected
    assert expected == pytest.approx(math.fsum(float(v) ** 2 for v in x), rel=1e-13)


@configs
@pytest.mark.parametrize("option", [{"weight_decay": 0.1, "clipnorm": 5.0},
                                    {"global_clipnorm": 5.0}, {"clipvalue": 0.3}],
                         ids=["decay-clipnorm", "global_clipnorm", "clipvalue"])
@dtypes
def test_updates_are_bitwise_the_same_on_1_2_and_3_threads(rng, config, option, dtype):
    class_name, hyper = config
    weights, grads = _problem(rng, dtype, steps=2, shapes=[(300_007,), (17,)],
                              scales=[0.1, 1.0])
    results = []
    for threads in (1, 2, 3):
        fastcnn.set_num_threads(threads)
        results.append(_train(getattr(optimizers, class_name)(**hyper, **option), weights,
                              grads))
    assert_same_bits(results[1], results[0])
    assert_same_bits(results[2], results[0])
    # and they are Keras' formulas
    assert_same_bits(results[0], _reference(class_name, dict(hyper, **option), weights,
                                            grads))


# ---- learning_rate, weight decay exclusions ----------------------------------------------

def test_learning_rate_reads_and_sets_like_keras():
    opt = optimizers.Adam(learning_rate=0.01)
    assert opt.learning_rate == 0.01 and isinstance(opt.learning_rate, float)
    opt.learning_rate = 0.002                     # what ReduceLROnPlateau does
    w = W0.copy()
    opt.apply([G1], [w])
    ref = _reference("Adam", {"learning_rate": 0.002}, [W0.copy()], [[G1]])
    assert_same_bits([w], ref)
    assert opt.get_config()["learning_rate"] == 0.002
    opt.learning_rate = np.float32(0.5)
    assert opt.learning_rate == 0.5 and type(opt.learning_rate) is float
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -0.1
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "0.1"

    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule)
    assert opt.learning_rate == 0.1
    opt.apply([G1], [W0.copy()])
    assert opt.learning_rate == schedule(1) == 0.1 * 0.5 ** 0.5
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.01
    opt.learning_rate = schedules.PiecewiseConstantDecay([5], [0.3, 0.2])   # as Keras allows
    assert opt.learning_rate == 0.3


def test_exclude_from_weight_decay_by_variable_and_by_path():
    kernel, bias, gamma = W0.copy(), np.array([0.5, -0.5]), np.array([2.0, 1.0])
    grads = [G1, np.array([0.1, 0.2]), np.array([0.3, -0.3])]
    variables = [kernel, bias, gamma]
    paths = ["dense/kernel", "dense/bias", "batch_normalization/gamma"]
    start = [v.copy() for v in variables]
    opt = optimizers.AdamW(weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[gamma], var_names=["bias"])
    opt.apply(grads, variables, paths=paths)
    expected = _reference("AdamW", {"weight_decay": 0.5}, start, [grads], excluded={1, 2})
    assert_same_bits(variables, expected)

    # without paths only var_list applies; a path given later is honoured from then on
    variables = [v.copy() for v in start]
    opt = optimizers.AdamW(weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply(grads, variables)
    assert_same_bits(variables, _reference("AdamW", {"weight_decay": 0.5}, start, [grads]))
    opt.exclude_from_weight_decay(var_names=["kernel$", "gam+a"])
    ref = ReferenceOptimizer("AdamW", weight_decay=0.5)
    expected = ref.apply(grads, [v.copy() for v in start])
    opt.apply(grads, variables, paths=paths)
    expected = ref.apply(grads, expected, excluded={0, 2})
    assert_same_bits(variables, expected)


@pytest.mark.parametrize("call,error,match", [
    (lambda o: o.exclude_from_weight_decay(var_names="bias"), TypeError, "var_names"),
    (lambda o: o.exclude_from_weight_decay(var_names=[1]), TypeError, "var_names"),
    (lambda o: o.exclude_from_weight_decay(var_names=["(bias"]), ValueError, "var_names"),
    (lambda o: o.apply([G1], [W0.copy()], paths=["a", "b"]), ValueError, "2 paths"),
    (lambda o: o.apply([G1], [W0.copy()], paths=[3]), TypeError, "paths"),
])
def test_bad_weight_decay_exclusions_and_paths(call, error, match):
    opt = optimizers.AdamW()
    with pytest.raises(error, match=match):
        call(opt)
    assert opt.iterations == 0


# ---- configs ------------------------------------------------------------------------------

@configs
@pytest.mark.parametrize("option", list(OPTIONS.values())[1:] + [
    {"learning_rate": schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5)},
    {"learning_rate": schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])},
    {"learning_rate": schedules.ExponentialDecay(0.1, 50, 0.9, staircase=True)}],
    ids=list(OPTIONS)[1:] + ["cosine", "piecewise", "exponential"])
def test_config_round_trips_through_json(config, option):
    class_name, hyper = config
    opt = getattr(optimizers, class_name)(**hyper, **option, name="mine")
    text = json.dumps(optimizers.serialize(opt), allow_nan=False)
    clone = optimizers.get(json.loads(text))
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    assert clone.learning_rate == opt.learning_rate
    if "learning_rate" in option:
        assert type(clone._learning_rate) is type(option["learning_rate"])


@pytest.mark.parametrize("make,error,match", [
    (lambda: optimizers.SGD(weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: optimizers.Adam(clipnorm=-1.0), ValueError, "clipnorm"),
    (lambda: optimizers.RMSprop(clipvalue=-1.0), ValueError, "clipvalue"),
    (lambda: optimizers.AdamW(global_clipnorm=float("nan")), ValueError, "global_clipnorm"),
    (lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0), ValueError, "global_clipnorm"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "clipvalue"),
    (lambda: optimizers.AdamW(weight_decay=None), ValueError, "weight_decay"),
    (lambda: optimizers.AdamW(weight_decay="0.1"), TypeError, "weight_decay"),
    (lambda: optimizers.Adam(clipnorm=True), TypeError, "clipnorm"),
    (lambda: optimizers.SGD(nesterov=1), TypeError, "nesterov"),
    (lambda: optimizers.SGD(learning_rate=lambda: 0.1), TypeError, "learning_rate"),
    (lambda: optimizers.SGD(name=3), TypeError, "name"),
    (lambda: optimizers.get({"class_name": "SGD", "config": {"learning_rate": {
        "class_name": "os.system", "config": {}}}}), ValueError, "schedule"),
    (lambda: optimizers.get({"class_name": "SGD", "config": {"learning_rate": {
        "class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1,
                                                "decay_steps": 0}}}}),
     ValueError, "decay_steps"),
    (lambda: optimizers.get({"class_name": "SGD", "config": {"momentum": 0.5,
                                                             "global_clipnorm": -2}}),
     ValueError, "global_clipnorm"),
])
def test_bad_option_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_kernel_rejects_mismatched_arguments():
    w = np.zeros(4)
    with pytest.raises(ValueError, match="slots"):
        _optim.update(w, np.zeros(4), [], _optim.ADAM, 0.1, (), _optim.CLIP_NONE, 0.0, 0.0,
                      None, 1)
    with pytest.raises(ValueError, match="slot 0 has 3 values"):
        _optim.update(w, np.zeros(4), [np.zeros(3)], _optim.SGD_MOMENTUM, 0.1, (0.9,),
                      _optim.CLIP_NONE, 0.0, 0.0, None, 1)
    with pytest.raises(ValueError, match="grad has 5 values"):
        _optim.update(w, np.zeros(5), [], _optim.SGD, 0.1, (), _optim.CLIP_NONE, 0.0, 0.0,
                      None, 1)
    with pytest.raises(ValueError, match="kind"):
        _optim.update(w, np.zeros(4), [], 99, 0.1, (), _optim.CLIP_NONE, 0.0, 0.0, None, 1)
    with pytest.raises(ValueError, match="clip"):
        _optim.update(w, np.zeros(4), [], _optim.SGD, 0.1, (), 9, 0.0, 0.0, None, 1)
    with pytest.raises((TypeError, ValueError)):
        _optim.update(w, np.zeros(4, np.float32), [], _optim.SGD, 0.1, (), 0, 0.0, 0.0,
                      None, 1)
