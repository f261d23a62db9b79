"""Image augmentation layers, active in training only (Keras 3's RandomFlip, RandomTranslation
and RandomCrop, channels_last).

Each training call draws the parameters of every image of the batch at once (one vectorised
draw) from the layer's own generator when it was given a ``seed``, else from
:func:`fastcnn.utils.rng` (so :func:`fastcnn.utils.set_random_seed` makes a run
reproducible); the transform itself runs compiled (:mod:`fastcnn._augment_ops`), bitwise the
same on any number of threads. In inference RandomFlip and RandomTranslation return their
input; RandomCrop resizes it (below). Their backward passes give the exact gradient of the
transform the forward pass applied, for a model where trainable weights come before them.
"""
import numbers

import numpy as np

from .. import _augment_ops, utils
from .base import Layer
from .conv import check_channels_last
from .core import _positive_int

__all__ = ["RandomFlip", "RandomTranslation", "RandomCrop"]

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _check_images(layer, input_shape):
    if not isinstance(input_shape, tuple) or len(input_shape) != 4:
        raise ValueError(f'layer "{layer.name}" needs NHWC inputs of rank 4 '
                         f"(batch, height, width, channels), got shape {input_shape}")


class _RandomLayer(Layer):
    """A layer that draws from its own generator (``seed``) or from fastcnn's."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, (numbers.Integral, np.integer))):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own_generator = None if seed is None else np.random.default_rng(self.seed)

    def _generator(self):
        return self._own_generator if self._own_generator is not None else utils.rng()

    def compute_output_shape(self, input_shape):
        _check_images(self, input_shape)
        return input_shape

    def get_config(self):
        return dict(super().get_config(), seed=self.seed)


class RandomFlip(_RandomLayer):
    """In training, flip each image with probability 1/2: ``mode`` "horizontal" (left-right),
    "vertical" (upside down) or "horizontal_and_vertical" (both at once, one draw per image,
    as Keras 3 does: the image turned by 180 degrees)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = _augment_ops._choice(mode, "mode", FLIP_MODES)

    def forward(self, inputs, state, training):
        state.flips = None
        if not training:
            return inputs
        flips = self._generator().random(inputs.shape[0]) <= 0.5
        none = np.zeros_like(flips)
        state.flips = (flips if self.mode != "horizontal" else none,
                       flips if self.mode != "vertical" else none)
        return _augment_ops.flip(inputs, *state.flips,
                                 out=state.buffer("y", inputs.shape, self.dtype))

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        if state.flips is None:
            return dy
        return _augment_ops.flip(dy, *state.flips, out=state.buffer("dx", dy.shape, self.dtype))

    def get_config(self):
        return dict(super().get_config(), mode=self.mode)


def _factor_range(factor, name):
    """Keras' (lower, upper) of a translation factor: a number f in [-1, 1] (-|f|, |f|), or
    two such numbers in either order."""
    def number(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a number in [-1, 1] or a pair of them, got "
                            f"{factor!r}")
        if not -1.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [-1, 1] (a fraction of the image's size), "
                             f"got {factor!r}")
        return float(v)
    if isinstance(factor, (tuple, list, np.ndarray)):
        if len(factor) != 2:
            raise ValueError(f"{name} must be a number in [-1, 1] or a pair of them, got "
                             f"{factor!r}")
        lower, upper = sorted(number(v) for v in factor)
        return [lower, upper], (lower, upper)
    f = number(factor)
    return f, (-abs(f), abs(f))


class RandomTranslation(_RandomLayer):
    """In training, move each image by a random fraction of its size: rows by
    ``height_factor`` (positive moves it down), columns by ``width_factor`` (positive: right),
    each a number f (uniform in [-|f|, |f|]) or a (lower, upper) pair, in [-1, 1]. The image is
    resampled (``interpolation`` "bilinear" or "nearest") at sub-pixel shifts, and the pixels
    that come from outside it are filled by ``fill_mode``: "reflect" (d c b a | a b c d |
    d c b a), "wrap" (a b c d | a b c d | a b c d), "nearest" (a a a a | a b c d | d d d d) or
    "constant" (``fill_value``)."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height_factor, self._height_range = _factor_range(height_factor, "height_factor")
        self.width_factor, self._width_range = _factor_range(width_factor, "width_factor")
        self.fill_mode = _augment_ops._choice(fill_mode, "fill_mode", _augment_ops.FILL_MODES)
        self.interpolation = _augment_ops._choice(interpolation, "interpolation",
                                                  _augment_ops.INTERPOLATIONS)
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise TypeError(f"fill_value must be a real number, got {fill_value!r}")
        self.fill_value = float(fill_value)

    def forward(self, inputs, state, training):
        state.shifts = None
        if not training:
            return inputs
        n, h, w, _ = inputs.shape
        (h_low, h_high), (w_low, w_high) = self._height_range, self._width_range
        # Keras: uniform(lower, upper) times the image's size, rows then columns
        state.shifts = self._generator().uniform((h_low, w_low), (h_high, w_high),
                                                 size=(n, 2)) * (h, w)
        return _augment_ops.translate(inputs, state.shifts, self.fill_mode, self.interpolation,
                                      self.fill_value,
                                      out=state.buffer("y", inputs.shape, self.dtype))

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        if state.shifts is None:
            return dy
        return _augment_ops.translate_backward(dy, state.shifts, self.fill_mode,
                                               self.interpolation,
                                               out=state.buffer("dx", dy.shape, self.dtype))

    def get_config(self):
        return dict(super().get_config(), height_factor=self.height_factor,
                    width_factor=self.width_factor, fill_mode=self.fill_mode,
                    interpolation=self.interpolation, fill_value=self.fill_value)


class RandomCrop(_RandomLayer):
    """In training, crop each image to ``height`` x ``width`` at a random position (drawn per
    image). In inference, and in training when the image is smaller than the crop either
    way, resize it to ``height`` x ``width`` without distorting it (Keras'
    ``crop_to_aspect_ratio``): the largest centred box of the crop's aspect ratio, resized
    bilinearly (copied when it already has the crop's size)."""

    def __init__(self, height, width, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = _positive_int(height, "height")
        self.width = _positive_int(width, "width")

    def compute_output_shape(self, input_shape):
        _check_images(self, input_shape)
        return (input_shape[0], self.height, self.width, input_shape[3])

    def forward(self, inputs, state, training):
        state.x_shape = inputs.shape
        n, h, w, c = inputs.shape
        out = state.buffer("y", (n, self.height, self.width, c), self.dtype)
        if training and h >= self.height and w >= self.width:
            state.offsets = self._generator().integers(
                0, (h - self.height + 1, w - self.width + 1), size=(n, 2))
            state.box = None
            return _augment_ops.crop(inputs, state.offsets, (self.height, self.width), out=out)
        state.offsets = None
        state.box = _augment_ops.center_box((h, w), (self.height, self.width))
        return _augment_ops.resize(inputs, state.box, (self.height, self.width), out=out)

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        dx = state.buffer("dx", state.x_shape, self.dtype)
        if state.offsets is not None:
            return _augment_ops.crop_backward(dy, state.offsets, state.x_shape, out=dx)
        return _augment_ops.resize_backward(dy, state.box, state.x_shape, out=dx)

    def get_config(self):
        return dict(super().get_config(), height=self.height, width=self.width)
