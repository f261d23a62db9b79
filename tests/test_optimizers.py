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


def test_keras_defaults():
    assert optimizers.get("adam").get_config() == {
        "name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-7, "amsgrad": False}
    assert optimizers.get("SGD").get_config() == {
        "name": "sgd", "learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
    assert optimizers.get("rmsprop").get_config() == {
        "name": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
        "epsilon": 1e-7, "centered": False}


def test_updates_float32_in_place_and_counts_iterations():
    w = W0.astype(np.float32)
    before = w.copy()
    opt = optimizers.Adam()
    opt.apply([G1.astype(np.float32)], [w])
    opt.apply([G2.astype(np.float32)], [w])
    assert w.dtype == np.float32 and opt.iterations == 2
    np.testing.assert_allclose(w, adam_reference([G1, G2])[1], rtol=1e-6)
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
