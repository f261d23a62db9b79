"""bench/compare_report.py's arithmetic on the rounds of bench/compare_frameworks.py (no
framework runs): images per second, quartiles, ratios paired per round, targets."""
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import compare_report  # noqa: E402

IMAGES = 1280


def worker(contender, fits=None, predicts=None, status="ready", params=1000, steps=10,
           accuracy=None):
    return SimpleNamespace(contender=contender, python="python", status=status,
                           error=None if status == "ready" else "ImportError: no keras",
                           info={"version": "1", "params": params, "steps": steps},
                           fits=fits or {}, predicts=predicts or {}, trained=3,
                           accuracy=accuracy)


def summarize(workers, model="resnet20"):
    args = SimpleNamespace(train_images=IMAGES)
    return compare_report.summarize(workers, model, IMAGES, 2000, args)


def _row(result, contender):
    return next(r for r in result["rows"] if r["contender"] == contender)


def test_ratios_pair_the_rounds_not_the_medians():
    # fastcnn 1.5x faster in rounds 1 and 2, 1.1x in round 3: the paired median is 1.5,
    # while the medians' ratio (2 s against 2.2 s) would be 1.1
    result = summarize([worker("fastcnn", {1: 1.0, 2: 4.0, 3: 2.0}),
                        worker("torch-cl", {1: 1.5, 2: 6.0, 3: 2.2})])
    fast, torch = _row(result, "fastcnn"), _row(result, "torch-cl")
    assert torch["fit_ratio"] == pytest.approx(tuple(np.percentile([1.5, 1.5, 1.1],
                                                                    [25, 50, 75])))
    assert fast["fit_ratio"] == (1.0, 1.0, 1.0)
    rates = [IMAGES / s for s in (1.0, 4.0, 2.0)]
    assert (fast["fit_q1"], fast["fit_median"], fast["fit_q3"]) == pytest.approx(
        tuple(np.percentile(rates, [25, 50, 75])))


def test_a_round_one_side_missed_is_left_out_of_its_ratios():
    result = summarize([worker("fastcnn", {1: 1.0, 2: 1.0}, {1: 0.5, 2: 0.5}),
                        worker("keras", {2: 3.0}, {2: 0.25})])
    keras = _row(result, "keras")
    assert keras["fit_ratio"] == pytest.approx((3.0, 3.0, 3.0))
    assert keras["predict_ratio"] == pytest.approx((0.5, 0.5, 0.5))
    assert keras["predict_median"] == pytest.approx(2000 / 0.25)


def test_targets_take_pytorchs_faster_layout_and_keras_on_both_backends():
    result = summarize([
        worker("fastcnn", {1: 1.0}, {1: 1.0}),
        worker("torch-nchw", {1: 3.0}, {1: 1.0}),
        worker("torch-cl", {1: 1.5}, {1: 1.0}),          # the faster layout: 1.5x
        worker("keras", {1: 2.0}, {1: 2.0}),
        worker("keras-jax", {1: 9.0}, {1: 1.4})])
    assert compare_report.best_torch(result["rows"], "fit")["contender"] == "torch-cl"
    assert compare_report.targets(result["rows"]) == [
        "  fit: fastcnn / PyTorch's best (torch-cl): 1.50 (target >= 2: not met)",
        "  fit: fastcnn / Keras (TensorFlow): 2.00 (target >= 2: met)",
        "  predict: fastcnn / Keras (TensorFlow): 2.00 (target >= 2: met)",
        "  predict: fastcnn / Keras (JAX): 1.40 (target >= 1.5: not met)"]


def test_table_shows_a_missing_framework_and_the_seed_models_epoch_and_accuracy():
    result = summarize([worker("fastcnn", {1: 2.0}, {1: 1.0}, steps=10, accuracy=0.8912),
                        worker("keras-jax", status="missing")], model="seed")
    lines = compare_report.table(result)
    assert lines[0].split()[-3:] == ["s", "test", "acc"]
    # 2 s for 10 steps: 93.75 s per 468.75-step epoch
    assert lines[2].split()[-2:] == ["93.75", "0.8912"]
    assert lines[3].split()[:4] == ["keras-jax", "not", "installed:", "ImportError:"]


def test_model_lines_flag_parameter_counts_that_differ():
    same = summarize([worker("fastcnn", {1: 1.0}), worker("keras", {1: 1.0})])
    differ = summarize([worker("fastcnn", {1: 1.0}), worker("keras", {1: 1.0}, params=999)])
    assert "differ" not in compare_report.model_lines("resnet20", same, None)[1]
    line = compare_report.model_lines("resnet20", differ, None)[1]
    assert "fastcnn 1,000, keras 999" in line and "counts differ" in line


def test_quartiles_of_one_round_are_that_round():
    assert compare_report.quartiles([4.0]) == (4.0, 4.0, 4.0)
