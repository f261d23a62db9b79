"""Every registered layer class through the layer harness (tests/layer_harness.py): build,
shapes and dtypes, weight counts, config round trip, float64 gradients against finite
differences, and a short fit with save/load inside a model."""
import numpy as np
import pytest

from fastcnn import layers
from fastcnn.layers import (Activation, Add, AveragePooling2D, BatchNormalization,
                            Concatenate, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, InputLayer,
                            MaxPooling2D, RandomCrop, RandomFlip, RandomTranslation, ReLU,
                            Rescaling, ZeroPadding2D)
from layer_harness import (LayerCase, check_build_and_shapes, check_config_round_trip,
                           check_fit_save_load, check_gradients, check_output_shape_and_dtype)


def _away_from_zero(shape):
    """Values whose magnitude is at least 0.1, so that no finite difference crosses a kink
    of ReLU (at 0) by accident."""
    def make(gen):
        x = gen.uniform(0.1, 2.0, (3,) + shape)
        return x * np.where(gen.random(x.shape) < 0.5, -1, 1)
    return make


_RANDOM = ("new random parameters per call: tests/test_augmentation.py checks the backward "
           "pass with them fixed")

CASES = [
    LayerCase(Conv2D, dict(filters=4, kernel_size=3), (6, 6, 3), (4, 4, 4), trainable=2),
    LayerCase(Conv2D, dict(filters=3, kernel_size=(3, 2), strides=2, padding="same",
                           activation="relu"), (7, 5, 2), (4, 3, 3), trainable=2,
              data=_away_from_zero((7, 5, 2))),
    LayerCase(Conv2D, dict(filters=2, kernel_size=(2, 3), strides=(2, 1), activation="tanh",
                           use_bias=False), (5, 6, 3), (2, 4, 2), trainable=1),
    LayerCase(Conv2D, dict(filters=3, kernel_size=1, padding="same", activation="sigmoid"),
              (4, 4, 1), (4, 4, 3), trainable=2),
    LayerCase(Conv2D, dict(filters=3, kernel_size=3, padding="same"), (5, 5, 17), (5, 5, 3),
              trainable=2),
    LayerCase(Conv2D, dict(filters=2, kernel_size=(2, 3), strides=(2, 3)), (6, 5, 16),
              (3, 1, 2), trainable=2),
    LayerCase(Conv2D, dict(filters=4, kernel_size=1, activation="relu"), (3, 3, 9), (3, 3, 4),
              trainable=2, data=_away_from_zero((3, 3, 9))),
    LayerCase(Dense, dict(units=5), (7,), (5,), trainable=2),
    LayerCase(Dense, dict(units=5, activation="relu"), (7,), (5,), trainable=2,
              data=_away_from_zero((7,))),
    LayerCase(Dense, dict(units=5, activation="softmax"), (7,), (5,), trainable=2),
    LayerCase(Dense, dict(units=3, activation="tanh", use_bias=False), (4, 5), (4, 3),
              trainable=1),
    LayerCase(MaxPooling2D, dict(), (7, 6, 3), (3, 3, 3)),
    LayerCase(MaxPooling2D, dict(pool_size=3, strides=2, padding="same"), (7, 6, 3),
              (4, 3, 3)),
    LayerCase(AveragePooling2D, dict(pool_size=(2, 3), strides=(1, 2)), (7, 6, 3),
              (6, 2, 3)),
    LayerCase(AveragePooling2D, dict(pool_size=3, strides=2, padding="same"), (7, 6, 3),
              (4, 3, 3)),
    LayerCase(Flatten, dict(), (2, 4, 2), (16,)),
    LayerCase(Dropout, dict(rate=0.4, seed=3), (6,), (6,), gradient_check=False,
              why_not="a random mask per call: test_dropout_backward_uses_the_forward_mask"),
    LayerCase(Activation, dict(activation="relu"), (6,), (6,), data=_away_from_zero((6,))),
    LayerCase(Activation, dict(activation="softmax"), (6,), (6,)),
    LayerCase(Activation, dict(activation="sigmoid"), (6,), (6,)),
    LayerCase(Activation, dict(activation="tanh"), (6,), (6,)),
    LayerCase(Activation, dict(activation="linear"), (6,), (6,)),
    LayerCase(ReLU, dict(), (4, 4, 3), (4, 4, 3), data=_away_from_zero((4, 4, 3))),
    LayerCase(ReLU, dict(max_value=1.5, negative_slope=0.1, threshold=0.5), (6, 5), (6, 5),
              data=lambda gen: gen.choice([-1.7, -0.9, -0.2, 0.3, 0.7, 1.4, 2.5], (3, 6, 5))),
    LayerCase(BatchNormalization, dict(), (4, 4, 3), (4, 4, 3), trainable=2, non_trainable=2),
    LayerCase(BatchNormalization, dict(momentum=0.5, epsilon=0.01, center=False), (5,), (5,),
              trainable=1, non_trainable=2),
    LayerCase(BatchNormalization, dict(scale=False), (3, 2, 4), (3, 2, 4), trainable=1,
              non_trainable=2),
    LayerCase(BatchNormalization, dict(trainable=False), (3, 3, 2), (3, 3, 2),
              non_trainable=4),
    LayerCase(GlobalAveragePooling2D, dict(), (5, 4, 3), (3,)),
    LayerCase(GlobalAveragePooling2D, dict(keepdims=True), (5, 4, 3), (1, 1, 3)),
    LayerCase(GlobalMaxPooling2D, dict(), (5, 4, 3), (3,)),
    LayerCase(GlobalMaxPooling2D, dict(keepdims=True), (3, 4, 2), (1, 1, 2)),
    LayerCase(Add, dict(), [(4, 3, 2), (4, 3, 2)], (4, 3, 2)),
    LayerCase(Add, dict(), [(5,), (5,), (5,)], (5,)),
    LayerCase(Concatenate, dict(), [(3, 3, 2), (3, 3, 4)], (3, 3, 6)),
    LayerCase(Concatenate, dict(axis=1), [(2, 3), (4, 3), (1, 3)], (7, 3)),
    LayerCase(ZeroPadding2D, dict(), (3, 4, 2), (5, 6, 2)),
    LayerCase(ZeroPadding2D, dict(padding=((1, 2), (0, 3))), (3, 4, 2), (6, 7, 2)),
    LayerCase(Rescaling, dict(scale=1 / 255), (3, 3, 2), (3, 3, 2)),
    LayerCase(Rescaling, dict(scale=[0.5, 2.0], offset=-1.0), (3, 3, 2), (3, 3, 2)),
    LayerCase(RandomFlip, dict(seed=1), (5, 4, 3), (5, 4, 3), gradient_check=False,
              why_not=_RANDOM),
    LayerCase(RandomFlip, dict(mode="horizontal"), (3, 5, 2), (3, 5, 2), gradient_check=False,
              why_not=_RANDOM),
    LayerCase(RandomTranslation, dict(height_factor=0.3, width_factor=(-0.2, 0.5), seed=2),
              (6, 5, 2), (6, 5, 2), gradient_check=False, why_not=_RANDOM),
    LayerCase(RandomTranslation, dict(height_factor=1.0, width_factor=0.4, fill_mode="constant",
                                      interpolation="nearest", fill_value=-1.5),
              (4, 7, 3), (4, 7, 3), gradient_check=False, why_not=_RANDOM),
    # factors of 0: no randomness left, so the harness checks the gradient
    LayerCase(RandomTranslation, dict(height_factor=0, width_factor=0.0, fill_mode="wrap"),
              (4, 5, 2), (4, 5, 2)),
    LayerCase(RandomCrop, dict(height=4, width=3, seed=3), (6, 5, 2), (4, 3, 2),
              gradient_check=False, why_not=_RANDOM),
    # larger than the image: resized in training too (Keras), no randomness
    LayerCase(RandomCrop, dict(height=7, width=3), (6, 5, 2), (7, 3, 2)),
]
IDS = [case.id for case in CASES]


def test_every_registered_layer_class_goes_through_the_harness():
    from fastcnn import _registry
    registered = {layers.get(name) for name in _registry.registered_names("layer")}
    fastcnns = {cls for cls in registered if cls.__module__.startswith("fastcnn.")}
    assert fastcnns - {InputLayer} == {case.cls for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_build_shapes_and_weight_counts(case):
    check_build_and_shapes(case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_shape_and_dtype(case):
    check_output_shape_and_dtype(case, np.random.default_rng(0))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip(case):
    check_config_round_trip(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.gradient_check],
                         ids=[c.id for c in CASES if c.gradient_check])
def test_float64_gradients_match_finite_differences(case):
    check_gradients(case, np.random.default_rng(1))


@pytest.mark.parametrize("case", [c for c in CASES if c.fit], ids=[c.id for c in CASES if c.fit])
def test_short_fit_then_save_and_load(case, tmp_path):
    check_fit_save_load(case, np.random.default_rng(2), tmp_path)
