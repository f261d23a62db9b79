"""The augmentation layers (RandomFlip, RandomTranslation, RandomCrop) and their compiled
transforms (fastcnn/_augment_ops.py) against the NumPy oracles of fastcnn/reference/augment.py
and against Keras' definitions written out by hand.

Comparisons: flips, crops and nearest-neighbour translations copy values, so they are
bitwise the oracle's; bilinear translations, resizes and every backward pass (sums) are held
to the suite's tolerance rule (tests/conftest.py) against the float64 oracle.
"""
import numpy as np
import pytest

import fastcnn
from conftest import (FLOAT_DTYPE_IDS, FLOAT_DTYPES, assert_close, assert_matches_reference,
                      numeric_gradient, random_array, with_layout)
from fastcnn import _augment_ops as aug
from fastcnn import utils
from fastcnn.layers import (CallState, Conv2D, Dense, Flatten, Input, RandomCrop, RandomFlip,
                            RandomTranslation)
from fastcnn.models import Model, load_model
from fastcnn.models.plan import Plan
from fastcnn.reference import augment as ref

# (N, H, W, C): batches of 0, 1 and 5, odd and prime sizes, 1 to many channels
SHAPES = [(0, 4, 5, 2), (1, 1, 1, 1), (1, 7, 9, 3), (5, 6, 5, 1), (5, 28, 28, 1),
          (2, 5, 11, 17), (3, 4, 3, 64)]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]
FACTORS = [0.0, 0.1, 0.5, 1.0]


@pytest.fixture
def restore_threads():
    before = fastcnn.get_num_threads()
    yield
    fastcnn.set_num_threads(before)


def _flags(rng, n):
    return rng.random(n) < 0.5, rng.random(n) < 0.5


def _shifts(rng, shape, factor):
    return rng.uniform(-factor, factor, (shape[0], 2)) * shape[1:3]


def _offsets(rng, shape, size):
    return rng.integers(0, (shape[1] - size[0] + 1, shape[2] - size[1] + 1), (shape[0], 2))


def _bitwise(actual, expected, dtype):
    assert actual.dtype == np.dtype(dtype) and actual.shape == expected.shape
    assert actual.tobytes() == expected.astype(dtype).tobytes()


# --- flips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_flip_matches_reference_bitwise(rng, shape, dtype):
    x = random_array(rng, shape, dtype)
    rows, cols = _flags(rng, shape[0])
    _bitwise(aug.flip(x, rows, cols), ref.flip(x, rows, cols), dtype)


def test_flip_is_its_own_backward_pass(rng):
    x = random_array(rng, (6, 5, 4, 3), np.float64)
    rows, cols = np.array([0, 1, 0, 1, 1, 0], bool), np.array([0, 0, 1, 1, 0, 1], bool)
    _bitwise(aug.flip(aug.flip(x, rows, cols), rows, cols), x, np.float64)


@pytest.mark.parametrize("layout", ["fortran_order", "negative_strides", "read_only", "unaligned"])
def test_flip_reads_any_memory_layout(rng, layout):
    x = random_array(rng, (3, 5, 4, 2), np.float32)
    rows, cols = _flags(rng, 3)
    _bitwise(aug.flip(with_layout(x, layout), rows, cols), ref.flip(x, rows, cols), np.float32)


# --- crops ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_crop_and_backward_match_reference_bitwise(rng, shape, dtype):
    x = random_array(rng, shape, dtype)
    for size in {(1, 1), (shape[1], shape[2]), ((shape[1] + 1) // 2, max(shape[2] - 2, 1))}:
        offsets = _offsets(rng, shape, size)
        _bitwise(aug.crop(x, offsets, size), ref.crop(x, offsets, size), dtype)
        dy = random_array(rng, (shape[0],) + size + (shape[3],), dtype)
        _bitwise(aug.crop_backward(dy, offsets, shape), ref.crop_backward(dy, offsets, shape),
                 dtype)


# --- translations -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("interpolation", aug.INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_translate_and_backward_match_reference(rng, shape, fill_mode, interpolation, dtype):
    x = random_array(rng, shape, dtype)
    fill = 1.25                                   # exact in float32 and float64
    for factor in FACTORS:
        shifts = _shifts(rng, shape, factor)
        y = aug.translate(x, shifts, fill_mode, interpolation, fill)
        expected = ref.translate(x.astype(np.float64), shifts, fill_mode, interpolation, fill)
        if interpolation == "nearest":
            _bitwise(y, expected, dtype)
        else:
            assert_close(y, expected, dtype, f"translate, factor {factor}")
        dy = random_array(rng, shape, dtype)
        assert_close(aug.translate_backward(dy, shifts, fill_mode, interpolation),
                     ref.translate_backward(dy.astype(np.float64), shifts, fill_mode,
                                            interpolation), dtype, f"dx, factor {factor}")


@pytest.mark.parametrize("shifts", [[[0.5, -0.5]], [[2.5, 1.5]], [[-3.0, 4.0]], [[7.0, -9.0]],
                                    [[0.25, 0.75]]])
@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
def test_translate_at_exact_and_half_pixel_shifts(rng, shifts, fill_mode):
    """Ties of nearest rounding, integral shifts and shifts of a whole image (7 x 9)."""
    x = random_array(rng, (1, 7, 9, 2), np.float64)
    for interpolation in aug.INTERPOLATIONS:
        y = aug.translate(x, shifts, fill_mode, interpolation, -2.0)
        assert_close(y, ref.translate(x, shifts, fill_mode, interpolation, -2.0), np.float64)


@pytest.mark.parametrize("interpolation", aug.INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
def test_translate_and_resize_propagate_nan_and_inf_as_the_reference(rng, fill_mode,
                                                                     interpolation):
    """Every tap is part of the sum, even at weight 0 (an inf there makes NaN), as in
    TensorFlow's interpolation."""
    x = random_array(rng, (4, 6, 7, 2), np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.05] = np.inf
    x[rng.random(x.shape) < 0.05] = -np.inf
    shifts = np.array([[1.0, -2.0], [0.5, 0.25], [-3.7, 2.2], [0.0, 0.0]])
    with np.errstate(invalid="ignore"):
        expected = ref.translate(x.astype(np.float64), shifts, fill_mode, interpolation)
        expected_resize = ref.resize(x.astype(np.float64), (1, 0, 5, 6), (9, 4))
    assert_matches_reference(aug.translate(x, shifts, fill_mode, interpolation), expected,
                             np.float32, "translate")
    assert_matches_reference(aug.resize(x, (1, 0, 5, 6), (9, 4)), expected_resize, np.float32,
                             "resize")


# Keras' fill modes on the row (a b c d) = (1 2 3 4), moved right by whole pixels: output j
# reads the extended row at j - shift.
KERAS_FILL_ROWS = {
    "reflect": {3: [3, 2, 1, 1], -2: [3, 4, 4, 3], 6: [3, 4, 4, 3], 9: [1, 1, 2, 3]},
    "wrap": {3: [2, 3, 4, 1], -2: [3, 4, 1, 2], 6: [3, 4, 1, 2], 9: [4, 1, 2, 3]},
    "nearest": {3: [1, 1, 1, 1], -2: [3, 4, 4, 4], 6: [1, 1, 1, 1], 9: [1, 1, 1, 1]},
    "constant": {3: [7, 7, 7, 1], -2: [3, 4, 7, 7], 6: [7, 7, 7, 7], 9: [7, 7, 7, 7]},
}


@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
def test_translate_fill_modes_follow_keras_patterns(fill_mode):
    """reflect (d c b a | a b c d | d c b a), wrap (a b c d | a b c d | a b c d), nearest
    (a a a a | a b c d | d d d d), constant (k k k k | a b c d | k k k k)."""
    x = np.array([1.0, 2, 3, 4]).reshape(1, 1, 4, 1)
    for shift, row in KERAS_FILL_ROWS[fill_mode].items():
        for interpolation in aug.INTERPOLATIONS:
            y = aug.translate(x, [[0.0, shift]], fill_mode, interpolation, 7.0)
            assert y.ravel().tolist() == row, (shift, interpolation)


def test_translate_moves_content_down_and_right_for_positive_shifts():
    x = np.zeros((1, 5, 6, 1))
    x[0, 1, 2, 0] = 1.0
    y = aug.translate(x, [[2.0, 3.0]], "constant")
    assert np.argwhere(y[0, :, :, 0] == 1).tolist() == [[3, 5]]


def test_translate_bilinear_interpolates_between_pixels():
    x = np.array([0.0, 10, 20, 30]).reshape(1, 1, 4, 1)
    y = aug.translate(x, [[0.0, 0.25]], "nearest")       # samples 0 - 0.25, 1 - 0.25, ...
    np.testing.assert_allclose(y.ravel(), [0.0, 7.5, 17.5, 27.5])


@pytest.mark.parametrize("interpolation", aug.INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
def test_translate_backward_matches_finite_differences(rng, fill_mode, interpolation):
    x = random_array(rng, (2, 5, 6, 3), np.float64)
    shifts = np.array([[1.3, -2.6], [-4.5, 5.2]])
    dy = random_array(rng, x.shape, np.float64)
    dx = aug.translate_backward(dy, shifts, fill_mode, interpolation)
    numeric = numeric_gradient(
        lambda: float(np.sum(aug.translate(x, shifts, fill_mode, interpolation, 0.5) * dy)), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_crop_and_resize_backward_match_finite_differences(rng):
    x = random_array(rng, (2, 6, 7, 2), np.float64)
    offsets = np.array([[0, 3], [2, 1]])
    for forward, backward, out_shape in [
            (lambda: aug.crop(x, offsets, (4, 4)),
             lambda dy: aug.crop_backward(dy, offsets, x.shape), (2, 4, 4, 2)),
            (lambda: aug.resize(x, (1, 1, 5, 4), (3, 7)),
             lambda dy: aug.resize_backward(dy, (1, 1, 5, 4), x.shape), (2, 3, 7, 2))]:
        dy = random_array(rng, out_shape, np.float64)
        numeric = numeric_gradient(lambda: float(np.sum(forward() * dy)), x)
        np.testing.assert_allclose(backward(dy), numeric, rtol=1e-6, atol=1e-8)


# --- resize (RandomCrop's inference transform) ------------------------------------------------

RESIZES = [  # (H, W, height, width)
    (32, 32, 28, 28), (32, 30, 20, 24), (7, 9, 9, 4), (5, 5, 11, 3), (28, 28, 28, 28),
    (32, 36, 32, 32), (1, 7, 3, 3), (10, 3, 2, 9), (6, 6, 1, 1)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=FLOAT_DTYPE_IDS)
@pytest.mark.parametrize("sizes", RESIZES, ids=["x".join(map(str, s)) for s in RESIZES])
@pytest.mark.parametrize("n, c", [(0, 2), (1, 1), (5, 3), (2, 17)])
def test_center_box_resize_and_backward_match_reference(rng, sizes, n, c, dtype):
    h, w, th, tw = sizes
    x = random_array(rng, (n, h, w, c), dtype)
    box = aug.center_box((h, w), (th, tw))
    assert_close(aug.resize(x, box, (th, tw)), ref.resize(x.astype(np.float64), box, (th, tw)),
                 dtype)
    dy = random_array(rng, (n, th, tw, c), dtype)
    assert_close(aug.resize_backward(dy, box, x.shape),
                 ref.resize_backward(dy.astype(np.float64), box, x.shape), dtype)


# Keras' crop_to_aspect_ratio boxes (top, left, height, width), computed with
# keras.ops.image.resize(..., crop_to_aspect_ratio=True)'s formula by hand.
@pytest.mark.parametrize("image, size, box", [
    ((32, 32), (28, 28), (0, 0, 32, 32)), ((32, 30), (20, 24), (3, 0, 25, 30)),
    ((7, 9), (9, 4), (0, 3, 7, 3)), ((5, 5), (11, 3), (0, 2, 5, 1)),
    ((32, 36), (32, 32), (0, 2, 32, 32)), ((1, 7), (3, 3), (0, 3, 1, 1)),
    ((10, 3), (2, 9), (4, 0, 1, 3))])
def test_center_box_is_keras_crop_to_aspect_ratio(image, size, box):
    assert aug.center_box(image, size) == box


def test_resize_of_a_box_of_the_output_size_is_a_copy(rng):
    x = random_array(rng, (3, 6, 8, 2), np.float32)
    _bitwise(aug.resize(x, (1, 2, 4, 5), (4, 5)), x[:, 1:5, 2:7], np.float32)


# --- thread counts ------------------------------------------------------------------------------

def test_results_are_bitwise_the_same_at_1_2_and_3_threads(rng, restore_threads):
    x = random_array(rng, (32, 32, 32, 3), np.float32)     # enough work for 3 threads
    rows, cols = _flags(rng, 32)
    shifts = _shifts(rng, x.shape, 0.3)
    offsets = _offsets(rng, x.shape, (24, 20))
    dy = random_array(rng, x.shape, np.float32)
    dy_crop = random_array(rng, (32, 24, 20, 3), np.float32)
    dy_resize = random_array(rng, (32, 28, 28, 3), np.float32)
    runs = []
    for threads in (1, 2, 3):
        fastcnn.set_num_threads(threads)
        runs.append([aug.flip(x, rows, cols), aug.crop(x, offsets, (24, 20)),
                     aug.crop_backward(dy_crop, offsets, x.shape)]
                    + [f(x, shifts, mode, interp) for mode in aug.FILL_MODES
                       for interp in aug.INTERPOLATIONS
                       for f in (aug.translate, lambda _, s, m, i: aug.translate_backward(
                           dy, s, m, i))]
                    + [aug.resize(x, (2, 1, 29, 30), (28, 28)),
                       aug.resize_backward(dy_resize, (2, 1, 29, 30), x.shape)])
    for results in runs[1:]:
        for a, b in zip(runs[0], results):
            assert a.tobytes() == b.tobytes()


# --- the layers ---------------------------------------------------------------------------------

LAYERS = [
    lambda **k: RandomFlip(**k),
    lambda **k: RandomFlip("vertical", **k),
    lambda **k: RandomTranslation(0.2, (-0.3, 0.1), **k),
    lambda **k: RandomTranslation(0.5, 0.5, fill_mode="constant", interpolation="nearest",
                                  fill_value=2.0, **k),
    lambda **k: RandomCrop(5, 4, **k),
]
LAYER_IDS = ["flip", "flip-vertical", "translate", "translate-constant-nearest", "crop"]


@pytest.mark.parametrize("make", LAYERS[:4], ids=LAYER_IDS[:4])
def test_flip_and_translation_are_the_identity_in_inference(rng, make):
    x = random_array(rng, (4, 7, 6, 3), np.float32)
    layer = make(seed=1)
    assert layer(x).tobytes() == x.tobytes()
    assert layer(x, training=True).tobytes() != x.tobytes()


def test_random_crop_in_inference_resizes_the_centre_box(rng):
    x = random_array(rng, (3, 32, 30, 2), np.float64)
    y = RandomCrop(20, 24, dtype="float64")(x)
    assert_close(y, ref.resize(x, (3, 0, 25, 30), (20, 24)), np.float64)
    same = random_array(rng, (2, 32, 36, 1), np.float32)
    _bitwise(RandomCrop(32, 32)(same), same[:, :, 2:34], np.float32)


def test_random_crop_larger_than_the_image_resizes_in_training_too(rng):
    x = random_array(rng, (3, 6, 5, 2), np.float32)
    layer = RandomCrop(7, 3, seed=0)
    assert layer(x, training=True).tobytes() == layer(x).tobytes()


def test_random_crop_in_training_crops_each_image_at_its_own_offset(rng):
    x = random_array(rng, (64, 9, 8, 1), np.float64)
    layer = RandomCrop(5, 4, seed=2, dtype="float64")
    state = CallState()
    y = layer.forward(x, state, training=True)
    _bitwise(y, ref.crop(x, state.offsets, (5, 4)), np.float64)
    assert len({tuple(o) for o in state.offsets}) > 1       # per image, not per batch
    assert state.offsets.min() == 0 and (state.offsets.max(axis=0) == (4, 4)).all()


def test_random_flip_modes_and_probability(rng):
    x = random_array(rng, (400, 3, 4, 1), np.float64)
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        y = RandomFlip(mode, seed=5, dtype="float64")(x, training=True)
        unchanged = np.all(y == x, axis=(1, 2, 3))
        h = np.all(y == x[:, :, ::-1], axis=(1, 2, 3))
        v = np.all(y == x[:, ::-1], axis=(1, 2, 3))
        hv = np.all(y == x[:, ::-1, ::-1], axis=(1, 2, 3))
        flipped = {"horizontal": h, "vertical": v, "horizontal_and_vertical": hv}[mode]
        assert np.all(unchanged ^ flipped) and 150 < flipped.sum() < 250


def test_random_translation_shifts_are_the_factors_times_the_size():
    layer = RandomTranslation((0.1, 0.3), -0.2, seed=3)
    state = CallState()
    layer.forward(np.zeros((500, 10, 20, 1), np.float32), state, training=True)
    rows, cols = state.shifts.T
    assert 1.0 <= rows.min() and rows.max() < 3.0 and rows.max() - rows.min() > 1.8
    assert -4.0 <= cols.min() and cols.max() < 4.0 and cols.max() - cols.min() > 7.5


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_a_seed_makes_the_draws_reproducible(rng, make):
    x = random_array(rng, (6, 9, 8, 2), np.float32)
    a, b = make(seed=11), make(seed=11)
    first = [a(x, training=True) for _ in range(3)]
    assert [y.tobytes() for y in first] == [b(x, training=True).tobytes() for _ in range(3)]
    assert len({y.tobytes() for y in first}) > 1               # every call draws anew


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_set_random_seed_makes_unseeded_layers_reproducible(rng, make):
    x = random_array(rng, (6, 9, 8, 2), np.float32)
    layer = make()
    utils.set_random_seed(4)
    first = layer(x, training=True)
    utils.set_random_seed(4)
    assert make()(x, training=True).tobytes() == first.tobytes()


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_layer_backward_applies_the_transpose_of_its_forward_draws(rng, make):
    x = random_array(rng, (3, 9, 8, 2), np.float64)
    layer = make(seed=7, dtype="float64")
    state = CallState()
    y = layer.forward(x, state, training=True)
    # the transform T of this call is affine (a constant fill): T x = A x + T 0
    y0 = make(seed=7, dtype="float64")(np.zeros_like(x), training=True)
    dy = random_array(rng, y.shape, np.float64)
    dx = layer.backward(dy, state, True, None)
    # <dy, A x> == <A' dy, x>
    np.testing.assert_allclose(np.sum(dy * (y - y0)), np.sum(dx * x), rtol=1e-12)
    assert layer.backward(dy, state, False, None) is None


def _model_with_augmentation(layer):
    """Input -> Conv2D (trainable, before the layer) -> layer -> Flatten -> Dense, float64."""
    inputs = Input((9, 8, 2), dtype="float64")
    h = Conv2D(3, 3, padding="same", dtype="float64")(inputs)
    return Model(inputs, Dense(2, dtype="float64")(Flatten(dtype="float64")(layer(h))))


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_gradients_through_a_layer_after_a_trainable_one_match_finite_differences(rng, make):
    """The draws are fixed by reseeding fastcnn's generator before every forward pass."""
    utils.set_random_seed(0)
    model = _model_with_augmentation(make(dtype="float64"))
    x = random_array(rng, (2, 9, 8, 2), np.float64)
    plan = Plan(model._graph, backward=True, input_gradients=True)
    r = random_array(rng, (2, 2), np.float64)

    def loss():
        utils.set_random_seed(1)
        return float(np.sum(plan.forward([x], training=True)[0] * r))

    loss()
    weight_grads = [g.copy() for g in plan.backward([r])]
    np.testing.assert_allclose(plan.input_gradients[0], numeric_gradient(loss, x), rtol=1e-6,
                               atol=1e-9)
    kernel = model.trainable_weights[0]
    np.testing.assert_allclose(weight_grads[0], numeric_gradient(loss, kernel), rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_models_holding_augmentation_layers_save_and_load(rng, make, tmp_path):
    layer = make(seed=3)
    inputs = Input((9, 8, 2))
    model = Model(inputs, Dense(2)(Flatten()(layer(inputs))))
    model.save(tmp_path / "m.fcnn")
    loaded = load_model(tmp_path / "m.fcnn")
    assert loaded.layers[1].get_config() == layer.get_config()
    x = random_array(rng, (4, 9, 8, 2), np.float32)
    assert loaded.predict(x, verbose=0).tobytes() == model.predict(x, verbose=0).tobytes()


# --- argument errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(height_factor=1.5, width_factor=0.1), ValueError, "height_factor"),
    (dict(height_factor=0.1, width_factor=-1.01), ValueError, "width_factor"),
    (dict(height_factor=(-1.2, 0.1), width_factor=0.1), ValueError, "height_factor"),
    (dict(height_factor=(0.1,), width_factor=0.1), ValueError, "height_factor"),
    (dict(height_factor=(0.1, 0.2, 0.3), width_factor=0.1), ValueError, "height_factor"),
    (dict(height_factor="0.1", width_factor=0.1), TypeError, "height_factor"),
    (dict(height_factor=0.1, width_factor=True), TypeError, "width_factor"),
    (dict(height_factor=0.1, width_factor=0.1, fill_mode="mirror"), ValueError, "fill_mode"),
    (dict(height_factor=0.1, width_factor=0.1, interpolation="bicubic"), ValueError,
     "interpolation"),
    (dict(height_factor=0.1, width_factor=0.1, fill_value="0"), TypeError, "fill_value"),
    (dict(height_factor=0.1, width_factor=0.1, seed=1.5), TypeError, "seed"),
    (dict(height_factor=0.1, width_factor=0.1, data_format="channels_first"), ValueError,
     "channels_last"),
])
def test_random_translation_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        RandomTranslation(**kwargs)


def test_random_translation_factors_as_keras_reads_them():
    layer = RandomTranslation(-0.3, (0.4, -0.1))
    assert layer._height_range == (-0.3, 0.3) and layer._width_range == (-0.1, 0.4)
    assert layer.get_config()["height_factor"] == -0.3
    assert layer.get_config()["width_factor"] == [-0.1, 0.4]


@pytest.mark.parametrize("cls, kwargs, error, match", [
    (RandomFlip, dict(mode="diagonal"), ValueError, "mode"),
    (RandomFlip, dict(mode="HORIZONTAL"), ValueError, "mode"),
    (RandomFlip, dict(seed="1"), TypeError, "seed"),
    (RandomCrop, dict(height=0, width=3), ValueError, "height"),
    (RandomCrop, dict(height=3, width=-1), ValueError, "width"),
    (RandomCrop, dict(height=2.0, width=3), TypeError, "height"),
    (RandomCrop, dict(height=2, width=True), TypeError, "width"),
])
def test_flip_and_crop_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("layer", [RandomFlip(), RandomTranslation(0.1, 0.1), RandomCrop(2, 2)])
def test_layers_need_images_of_rank_4(layer):
    with pytest.raises(ValueError, match="rank 4"):
        layer(np.zeros((2, 5, 5)))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: aug.flip(x, [True], [False, True]), ValueError, "flip_rows"),
    (lambda x: aug.flip(x, [1, 0], [0, 1]), TypeError, "flip_rows"),
    (lambda x: aug.translate(x, [[0.0, 1.0]], "reflect"), ValueError, "shifts"),
    (lambda x: aug.translate(x, [[0.0, np.nan], [1, 1]]), ValueError, "shifts"),
    (lambda x: aug.translate(x, [[0.0, 0], [1, 1]], "edge"), ValueError, "fill_mode"),
    (lambda x: aug.translate(x, [[0.0, 0], [1, 1]], interpolation="area"), ValueError,
     "interpolation"),
    (lambda x: aug.crop(x, [[0, 0], [3, 0]], (3, 3)), ValueError, "offsets"),
    (lambda x: aug.crop(x, [[0, 0], [0, 0]], (6, 3)), ValueError, "do not fit"),
    (lambda x: aug.crop(x, [[0.0, 0], [0, 0]], (2, 2)), TypeError, "offsets"),
    (lambda x: aug.crop(x, [[0, 0], [0, 0]], (0, 2)), ValueError, "size"),
    (lambda x: aug.resize(x, (1, 0, 5, 3), (4, 4)), ValueError, "box"),
    (lambda x: aug.translate(x.astype(np.int32), [[0, 0], [0, 0]]), TypeError, "dtype"),
])
def test_op_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(np.zeros((2, 5, 4, 3), np.float32))
