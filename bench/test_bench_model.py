"""Whole-model benchmarks: the seed model's training epoch and predict (BENCHMARKS.md).

Groups "seed-train-epoch" and "seed-predict", each with fastcnn and PyTorch in NCHW and
channels_last (``bench/seed_model.py`` holds the models; PyTorch is skipped when not installed;
Keras cannot share this interpreter, see ``bench/compare_frameworks.py``).

- train-epoch: one call trains the first FASTCNN_BENCH_MODEL_STEPS batches of 128 Fashion-MNIST
  training images (default 20; 0 means the whole epoch of 60,000 images), as one ``fit`` epoch
  (shuffling included). A full epoch is 468.75 such steps; ``bench/report.py`` prints the
  timed seconds and that estimate.
- predict: class probabilities of the 10,000 test images in batches of 1000.

The models persist across rounds and tests (predict runs on the trained model). Whole-model
figures are meant to be taken as a user runs them, without GLIBC_TUNABLES (report.py runs this
file in a pytest process of its own for that). With benchmarks disabled (the default) each body
runs once, on 2 training steps and 1000 test images.
"""
import os

import numpy as np
import pytest

import seed_model
from workloads import skip_if_unavailable, thread_count

MODEL_CONTENDERS = ("fastcnn", "torch-nchw", "torch-cl")
MODEL_STEPS = int(os.environ.get("FASTCNN_BENCH_MODEL_STEPS", "20"))
SMOKE_STEPS = 2
SMOKE_TEST_IMAGES = 1000

_runners = {}


@pytest.fixture(scope="module")
def fashion_mnist():
    """Fashion-MNIST as uint8 arrays (skips when it is not available)."""
    from fastcnn.datasets import fashion_mnist as dataset
    try:
        (x_train, y_train), (x_test, y_test) = dataset.load_data()
    except Exception as exc:        # not found and no download: not this suite's failure
        pytest.skip(f"Fashion-MNIST unavailable ({exc}); python -m fastcnn get-data")
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _runner(contender, data, threads, smoke):
    """One runner per contender and step count, shared by the train and predict tests."""
    skip_if_unavailable(contender)
    steps = SMOKE_STEPS if smoke else MODEL_STEPS
    images = steps * seed_model.BATCH_SIZE if steps > 0 else seed_model.EPOCH_IMAGES
    if smoke:
        data = dict(data, x_test=data["x_test"][:SMOKE_TEST_IMAGES],
                    y_test=data["y_test"][:SMOKE_TEST_IMAGES])
    key = (contender, images, smoke)
    if key not in _runners:
        _runners[key] = seed_model.make_runner(contender, data, threads, train_images=images)
    return _runners[key]


def _cases(pass_name):
    return [pytest.param(c, id=f"seed-{pass_name}-{c}") for c in MODEL_CONTENDERS]


@pytest.mark.parametrize("contender", _cases("train-epoch"))
def test_seed_model_train_epoch(measure, benchmark, fashion_mnist, contender):
    runner = _runner(contender, fashion_mnist, thread_count(), benchmark.disabled)
    measure(runner.fit_epoch, shape="seed", pass_name="train-epoch", contender=contender,
            gflop=None, kind="model", steps=runner.steps, images=runner.train_images,
            epoch_steps=seed_model.STEPS_PER_EPOCH)


@pytest.mark.parametrize("contender", _cases("predict"))
def test_seed_model_predict(measure, benchmark, fashion_mnist, contender):
    runner = _runner(contender, fashion_mnist, thread_count(), benchmark.disabled)
    scores = measure(runner.predict_scores, shape="seed", pass_name="predict",
                     contender=contender, gflop=None, kind="model", images=runner.test_images)
    scores = np.asarray(scores)
    assert scores.shape == (runner.test_images, seed_model.CLASSES)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)
