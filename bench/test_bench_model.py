"""Whole-model benchmarks (BENCHMARKS.md): the seed model's training epoch and predict, and
``fit`` and ``predict`` of TF-CNN, K-CNN and ResNet-20.

Groups "<model>-<pass>" (``seed-train-epoch``, ``seed-predict``, ``tf-cnn-fit``,
``tf-cnn-predict``, ``k-cnn-...``, ``resnet20-...``), each with fastcnn and PyTorch in NCHW and
channels_last (``bench/whole_models.py`` holds the runners, ``bench/model_specs.py`` the
architectures; PyTorch is skipped when not installed; Keras cannot share this interpreter, see
``bench/compare_frameworks.py``).

- seed train-epoch: one call trains the first FASTCNN_BENCH_MODEL_STEPS batches of 128
  Fashion-MNIST training images (default 20; 0 means the whole epoch of 60,000 images), as one
  ``fit`` epoch (shuffling included). A full epoch is 468.75 such steps; ``bench/report.py``
  prints the timed seconds and that estimate.
- seed predict: class probabilities of the 10,000 test images in batches of 1000.
- tf-cnn / k-cnn / resnet20 fit: one call is one ``fit`` epoch of FASTCNN_BENCH_MODEL_STEPS
  batches of 128 synthetic 32x32x3 images (``whole_models.synthetic_data``; 0 means 50 steps);
  the report gives images per second. The first call is the warm-up fit.
- tf-cnn / k-cnn / resnet20 predict: FASTCNN_BENCH_PREDICT_IMAGES synthetic images (default
  5000) in batches of 1000.

The models persist across rounds and tests (predict runs on the trained model). Whole-model
figures are meant to be taken as a user runs them, without GLIBC_TUNABLES (report.py runs this
file in a pytest process of its own for that). With benchmarks disabled (the default) each body
runs once, on 2 training steps and 1000 images to predict.
"""
import os

import numpy as np
import pytest

import whole_models
from workloads import skip_if_unavailable, thread_count

MODEL_CONTENDERS = ("fastcnn", "torch-nchw", "torch-cl")
CIFAR_MODELS = ("tf-cnn", "k-cnn", "resnet20")
MODEL_STEPS = int(os.environ.get("FASTCNN_BENCH_MODEL_STEPS", "20"))
CIFAR_DEFAULT_STEPS = 50            # FASTCNN_BENCH_MODEL_STEPS=0 for the CIFAR-size models
PREDICT_IMAGES = int(os.environ.get("FASTCNN_BENCH_PREDICT_IMAGES", "5000"))
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


def _seed_runner(contender, data, smoke):
    """One runner per contender and step count, shared by the train and predict tests."""
    skip_if_unavailable(contender)
    steps = SMOKE_STEPS if smoke else MODEL_STEPS
    images = steps * whole_models.BATCH_SIZE if steps > 0 else whole_models.EPOCH_IMAGES
    if smoke:
        data = dict(data, x_test=data["x_test"][:SMOKE_TEST_IMAGES],
                    y_test=data["y_test"][:SMOKE_TEST_IMAGES])
    key = (contender, "seed", images, smoke)
    if key not in _runners:
        _runners[key] = whole_models.make_runner(contender, data, thread_count(),
                                                 train_images=images)
    return _runners[key]


def _cifar_runner(contender, model, smoke):
    skip_if_unavailable(contender)
    steps = SMOKE_STEPS if smoke else (MODEL_STEPS or CIFAR_DEFAULT_STEPS)
    images = steps * whole_models.BATCH_SIZE
    test_images = SMOKE_TEST_IMAGES if smoke else PREDICT_IMAGES
    key = (contender, model, images, test_images)
    if key not in _runners:
        data = whole_models.synthetic_data(model, images, test_images)
        _runners[key] = whole_models.make_runner(contender, data, thread_count(),
                                                 train_images=images, model=model)
    return _runners[key]


def _check_scores(scores, runner):
    scores = np.asarray(scores)
    assert scores.shape == (runner.test_images, whole_models.CLASSES)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)


def _cases(model, pass_name):
    return [pytest.param(c, id=f"{model}-{pass_name}-{c}") for c in MODEL_CONTENDERS]


@pytest.mark.parametrize("contender", _cases("seed", "train-epoch"))
def test_seed_model_train_epoch(measure, benchmark, fashion_mnist, contender):
    runner = _seed_runner(contender, fashion_mnist, benchmark.disabled)
    measure(runner.fit_epoch, shape="seed", pass_name="train-epoch", contender=contender,
            gflop=None, kind="model", steps=runner.steps, images=runner.train_images,
            epoch_steps=whole_models.STEPS_PER_EPOCH)


@pytest.mark.parametrize("contender", _cases("seed", "predict"))
def test_seed_model_predict(measure, benchmark, fashion_mnist, contender):
    runner = _seed_runner(contender, fashion_mnist, benchmark.disabled)
    scores = measure(runner.predict_scores, shape="seed", pass_name="predict",
                     contender=contender, gflop=None, kind="model", images=runner.test_images)
    _check_scores(scores, runner)


def _cifar_cases(pass_name):
    return [pytest.param(m, c, id=f"{m}-{pass_name}-{c}")
            for m in CIFAR_MODELS for c in MODEL_CONTENDERS]


@pytest.mark.parametrize("model, contender", _cifar_cases("fit"))
def test_cifar_model_fit(measure, benchmark, model, contender):
    runner = _cifar_runner(contender, model, benchmark.disabled)
    measure(runner.fit_epoch, shape=model, pass_name="fit", contender=contender, gflop=None,
            kind="model", steps=runner.steps, images=runner.train_images)


@pytest.mark.parametrize("model, contender", _cifar_cases("predict"))
def test_cifar_model_predict(measure, benchmark, model, contender):
    runner = _cifar_runner(contender, model, benchmark.disabled)
    scores = measure(runner.predict_scores, shape=model, pass_name="predict",
                     contender=contender, gflop=None, kind="model", images=runner.test_images)
    _check_scores(scores, runner)


@pytest.mark.parametrize("model, layout", [
    pytest.param(m, c, id=f"{m}-parameters-{c}")
    for m in ("seed",) + CIFAR_MODELS for c in MODEL_CONTENDERS[1:]])
def test_torch_model_has_fastcnns_parameter_count(model, layout):
    """PyTorch's model, built from bench/model_specs.py, against fastcnn's zoo model: the
    same number of parameters (as Keras counts them) in every layout."""
    skip_if_unavailable(layout)
    data = whole_models.synthetic_data(model, whole_models.BATCH_SIZE, 1)
    counts = [whole_models.make_runner(c, data, thread_count(), whole_models.BATCH_SIZE,
                                       model=model).params for c in ("fastcnn", layout)]
    assert counts[0] == counts[1]
