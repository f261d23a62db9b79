"""Learning-rate schedules: Keras 3's formulas at chosen steps (warm-up ends, staircase
steps, piecewise boundaries), values Keras itself gave, configs, bad arguments, and a saved
model resuming its schedule where it stopped."""
import json
import math

import numpy as np
import pytest

from fastcnn import optimizers, utils
from fastcnn.layers import Conv2D, Dense, Flatten
from fastcnn.models import Sequential, load_model
from fastcnn.optimizers import schedules

pi = math.pi


def test_exponential_decay_continuous_and_staircase():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == 0.1
    assert s(1) == pytest.approx(0.1 * 0.5 ** 0.1, rel=1e-15)
    assert s(10) == 0.05 and s(25) == pytest.approx(0.1 * 0.5 ** 2.5, rel=1e-15)
    stairs = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert [stairs(t) for t in (0, 9, 10, 19, 20, 25)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert schedules.ExponentialDecay(0.1, 2.5, 0.5, staircase=True)(5) == 0.025
    growing = schedules.ExponentialDecay(1.0, 1, 10.0)        # allowed, as in Keras
    assert growing(2) == 100.0 and growing(400) == math.inf


def test_piecewise_constant_boundaries_belong_to_the_interval_below():
    s = schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1])
    assert [s(t) for t in (0, 3, 4, 7, 8, 10**9)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    one = schedules.PiecewiseConstantDecay([0], [0.2, 0.1])
    assert one(0) == 0.2 and one(1) == 0.1


def test_cosine_decay_without_warmup():
    s = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.2)
    assert s(0) == 0.1
    assert s(50) == pytest.approx(0.1 * (0.8 * 0.5 + 0.2), rel=1e-15)
    assert s(25) == pytest.approx(0.1 * (0.8 * 0.5 * (1 + math.cos(pi / 4)) + 0.2), rel=1e-15)
    assert s(100) == pytest.approx(0.02, rel=1e-15) and s(150) == s(100)
    # warmup_steps alone is ignored, as in Keras
    assert schedules.CosineDecay(0.1, 100, alpha=0.2, warmup_steps=10)(50) == s(50)


def test_cosine_decay_with_warmup_boundaries():
    s = schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=1.0, warmup_steps=10)
    assert s(0) == 0.0 and s(1) == 0.1 and s(5) == 0.5 and s(9) == 0.9
    assert s(10) == 1.0                                          # the end of the warm-up
    assert s(11) == pytest.approx(0.9 * 0.5 * (1 + math.cos(pi / 100)) + 0.1, rel=1e-15)
    assert s(60) == pytest.approx(0.55, rel=1e-15)
    assert s(110) == pytest.approx(0.1, rel=1e-15) and s(10**6) == s(110)
    start = schedules.CosineDecay(0.2, 50, warmup_target=0.6, warmup_steps=4)
    assert start(2) == pytest.approx(0.4, rel=1e-15) and start(4) == 0.6
    assert start(54) == 0.0
    no_warmup = schedules.CosineDecay(0.2, 50, warmup_target=0.6)   # decays from the target
    assert no_warmup(0) == 0.6


# What Keras 3.15.1 (TensorFlow 2.21 backend, float32) returned for the same schedules; the
# float64 values here are within 1 float32 ulp of them (Keras computes in float32).
KERAS_VALUES = [
    (schedules.ExponentialDecay(0.1, 10, 0.5), [0, 1, 9, 10, 25],
     [0.10000000149011612, 0.09330330044031143, 0.05358867719769478, 0.05000000074505806,
      0.01767767034471035]),
    (schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1]), [0, 3, 4, 7, 8],
     [1.0, 1.0, 0.5, 0.5, 0.10000000149011612]),
    (schedules.CosineDecay(0.1, 100, alpha=0.2), [0, 1, 50, 99, 100],
     [0.10000000149011612, 0.09998025745153427, 0.05999999865889549, 0.020019738003611565,
      0.020000001415610313]),
    (schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=1.0, warmup_steps=10),
     [1, 9, 10, 11, 60, 110],
     [0.10000000149011612, 0.8999999761581421, 1.0, 0.9997779130935669, 0.5499999523162842,
      0.10000000149011612]),
]


@pytest.mark.parametrize("schedule,steps,keras", KERAS_VALUES,
                         ids=["exponential", "piecewise", "cosine", "cosine-warmup"])
def test_values_are_within_one_float32_ulp_of_keras(schedule, steps, keras):
    ours = np.array([schedule(t) for t in steps], dtype=np.float32)
    ulps = np.abs(ours.view(np.int32).astype(np.int64)
                  - np.array(keras, dtype=np.float32).view(np.int32).astype(np.int64))
    assert ulps.max() <= 1


SCHEDULES = [schedules.ExponentialDecay(0.1, 1000, 0.96, staircase=True, name="e"),
             schedules.PiecewiseConstantDecay([100, 200.5], [0.1, 0.01, 0.001]),
             schedules.CosineDecay(0.1, 1000, alpha=0.05, warmup_target=0.5, warmup_steps=20)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    text = json.dumps(schedules.serialize(schedule), allow_nan=False)
    clone = schedules.deserialize(json.loads(text))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert [clone(t) for t in (0, 15, 150, 5000)] == [schedule(t) for t in (0, 15, 150, 5000)]
    assert type(schedule).from_config(schedule.get_config()).get_config() == \
        schedule.get_config()


@pytest.mark.parametrize("make,error,match", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps"),
    (lambda: schedules.ExponentialDecay(0.1, -5, 0.5), ValueError, "decay_steps"),
    (lambda: schedules.ExponentialDecay(-0.1, 5, 0.5), ValueError, "initial_learning_rate"),
    (lambda: schedules.ExponentialDecay(0.1, 5, -0.5), ValueError, "decay_rate"),
    (lambda: schedules.ExponentialDecay(0.1, 5, 0.5, staircase="yes"), TypeError, "staircase"),
    (lambda: schedules.ExponentialDecay("0.1", 5, 0.5), TypeError, "initial_learning_rate"),
    (lambda: schedules.PiecewiseConstantDecay([5, 5], [1, 2, 3]), ValueError, "increasing"),
    (lambda: schedules.PiecewiseConstantDecay([5, 3], [1, 2, 3]), ValueError, "increasing"),
    (lambda: schedules.PiecewiseConstantDecay([5], [1, 2, 3]), ValueError, "values"),
    (lambda: schedules.PiecewiseConstantDecay([], [1]), ValueError, "boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([-1], [1, 2]), ValueError, r"boundaries\[0\]"),
    (lambda: schedules.PiecewiseConstantDecay([1], [1, -2]), ValueError, r"values\[1\]"),
    (lambda: schedules.PiecewiseConstantDecay([1], [1, "a"]), TypeError, r"values\[1\]"),
    (lambda: schedules.PiecewiseConstantDecay(5, [1, 2]), TypeError, "boundaries"),
    (lambda: schedules.CosineDecay(0.1, 0), ValueError, "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=1.5), ValueError, "alpha"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_steps=-1), ValueError, "warmup_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=-1.0), ValueError, "warmup_target"),
    (lambda: schedules.CosineDecay(0.1, float("inf")), ValueError, "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, name=5), TypeError, "name"),
    (lambda: schedules.deserialize({"class_name": "builtins.eval", "config": {}}), ValueError,
     "unknown learning rate schedule"),
    (lambda: schedules.deserialize("CosineDecay"), ValueError, "class_name"),
    (lambda: schedules.serialize(lambda step: 0.1), ValueError, "cannot serialize"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _model():
    utils.set_random_seed(3)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2)), Flatten(),
                        Dense(3, activation="softmax")])
    schedule = schedules.CosineDecay(0.001, decay_steps=6, alpha=0.1, warmup_target=0.01,
                                     warmup_steps=3)
    model.compile(optimizer=optimizers.AdamW(learning_rate=schedule, weight_decay=0.1,
                                             global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model


def test_saved_model_resumes_its_schedule_bitwise(tmp_path):
    """Trained 2 epochs of 4 steps in one go, or 1 epoch, saved, loaded and 1 more: the same
    bits (the second epoch crosses the end of the warm-up and decays)."""
    gen = np.random.default_rng(5)
    x, y = gen.random((16, 6, 6, 2)).astype(np.float32), gen.integers(0, 3, 16)
    straight = _model()
    resumed = _model()
    for model in (straight, resumed):
        utils.set_random_seed(11)
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    resumed.save(tmp_path / "m.fcnn")
    resumed, restarted = load_model(tmp_path / "m.fcnn"), load_model(tmp_path / "m.fcnn")
    opt = resumed.optimizer
    assert opt.iterations == 4 and isinstance(opt._learning_rate, schedules.CosineDecay)
    assert opt.learning_rate == straight.optimizer.learning_rate == opt._learning_rate(4)
    restarted.optimizer.iterations = 0            # a file without the step would do this
    for model in (straight, resumed, restarted):
        utils.set_random_seed(12)
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert straight.optimizer.iterations == resumed.optimizer.iterations == 8
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b, strict=True)
    assert not np.array_equal(restarted.get_weights()[0], straight.get_weights()[0])
